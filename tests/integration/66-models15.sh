# 66-models15 - issue 15's models: cox --strata V, and interaction terms a:b
# and a*b in cox and glm, checked live against R (coxph with strata(V) +
# strata(node); glm) on the pooled records of fresh random data over 3
# nodes: coefficients and standard errors to 1e-11 relative (models.R: a
# coefficient below 1e-3 of its SE relative to that), the same iterations; then the edge cases (a stratum with one level, an interaction
# with an empty cell), the errors, and the node's level rule (R2) on a small
# stratum and a small cell.  Every fit runs with the node's path check (R1)
# on, its default: equal iterations mean each node's replay of the
# Newton-Raphson / IRLS accepted every round.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
command -v Rscript >/dev/null || { fail "Rscript not found: run scripts/install-deps"; done_checks; }

seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}    # FEDRA_TEST_SEED=N reruns one draw
echo "  data seed $seed, 3 nodes"
. "$ROOT/tests/integration/models-lib.sh"
model_nodes 3 300 400
set -- $node_args
compare() { models_compare "$@"; }     # KIND ENDPOINT GRID TIES TERMS OUTCOME R-WHERE STRATA TOL args

check "federation up (3 nodes, time_grid_days=0, min_cell=1, min_events_per_parameter=1)" \
    "$ROOT/scripts/federation" up fed "$@" --set time_grid_days=0 --set min_cell=1 \
    --set min_events_per_parameter=1
. fed/env
# cox --strata V: coxph(... + strata(V) + strata(node))
compare cox os 30 efron stage,age_years - TRUE surgery 1e-11 \
    --covariates stage,age_years --strata surgery
compare cox efs 0 breslow age_years,sex - TRUE stage 1e-11 \
    --covariates age_years,sex --strata stage --endpoint efs --grid 0 --ties breslow
# interactions, as R codes and names them: factor*factor, factor:numeric with and
# without the main effect, numeric:numeric, and with strata.  Without surgery=unknown:
# its handful of patients often have no event, the fit separates, and as a coefficient
# runs off to infinity fedra's aliasing test and R's can part (fedra calls the column
# collinear where R warns that it may be infinite; seed 14570).
compare cox os 0 efron 'stage*surgery,age_years' - 'surgery != "unknown"' - 1e-11 \
    --covariates 'stage*surgery,age_years' --grid 0 --where 'surgery!=unknown'
compare cox os 0 efron 'age_years*chemotherapy' - TRUE - 1e-11 \
    --covariates 'age_years*chemotherapy' --grid 0
compare cox os 0 efron 'stage,age_years:chemotherapy' - TRUE - 1e-11 \
    --covariates 'stage,age_years:chemotherapy' --grid 0
compare cox os 30 efron 'surgery,age_years:diagnosis_year' - 'surgery != "unknown"' sex 1e-11 \
    --covariates 'surgery,age_years:diagnosis_year' --strata sex --where 'surgery!=unknown'
compare cox os 0 efron 'sex:surgery,age_years' - 'sex != "U" & surgery != "unknown"' stage 1e-11 \
    --covariates 'sex:surgery,age_years' --where 'sex!=U and surgery!=unknown' --strata stage --grid 0
# (glm without surgery=unknown: its few patients per stage make the fit nearly
# separated, where the normal equations keep fewer digits than R's QR)
compare glm os 0 efron 'stage*surgery,age_years' vital_status=dead 'surgery != "unknown"' - 1e-11 \
    --outcome vital_status=dead --covariates 'stage*surgery,age_years' --where 'surgery!=unknown'
compare glm os 0 efron 'age_years*chemotherapy,stage' vital_status=dead TRUE - 1e-11 \
    --outcome vital_status=dead --covariates 'age_years*chemotherapy,stage'
compare glm os 0 efron 'stage,age_years:diagnosis_year' vital_status=dead TRUE - 1e-11 \
    --outcome vital_status=dead --covariates 'stage,age_years:diagnosis_year'
# a:b without its main effects codes every cell, which with the intercept is
# collinear by construction (R: the last cell NA).  (Cells of one or two
# patients, all alive, are left out: there R's own QR misses the collinearity
# and glm.fit does not converge.)
compare glm os 0 efron 'stage,sex:chemotherapy' vital_status=dead \
    'sex != "U" & chemotherapy != "unknown"' - 1e-11 --outcome vital_status=dead \
    --covariates 'stage,sex:chemotherapy' --where 'sex!=U and chemotherapy!=unknown'
# R's TermCode: a factor of a:b is coded by contrasts when the rest of the term
# lies in an earlier term, a main effect or another interaction
compare cox os 0 efron 'surgery,age_years:diagnosis_year,surgery:age_years' - \
    'surgery != "unknown"' - 1e-11 \
    --covariates 'surgery,age_years:diagnosis_year,surgery:age_years' --grid 0 --where 'surgery!=unknown'
w3='stage!=unknown and surgery!=unknown and chemotherapy!=unknown'
rw3='stage != "unknown" & surgery != "unknown" & chemotherapy != "unknown"'
compare cox os 0 efron 'stage:surgery,stage:chemotherapy' - "$rw3" - 1e-11 \
    --covariates 'stage:surgery,stage:chemotherapy' --where "$w3" --grid 0
# Edge: a stratum with one level is the fit without it, as in R
compare cox os 0 efron age_years,surgery - 'stage == "metastatic"' stage 1e-11 \
    --covariates age_years,surgery --where stage=metastatic --strata stage --grid 0
expect_status 0 "names the strata in the table" fedra cox --covariates age_years*sex --strata stage
expect_grep "^Cox model stratified by node and by stage:" "$WORK/last.out" "the header says by stage"
expect_grep "^age_years:sexM +[-0-9.e]+ " "$WORK/last.out" "an interaction is named as R names it"
# Errors
expect_status 1 "the strata variable as a covariate is refused" fedra cox --covariates stage --strata stage
expect_grep "stage is both a covariate and the strata variable" "$WORK/last.err" "naming it"
expect_status 1 "a numeric strata variable is refused" fedra cox --covariates stage --strata age_years
expect_grep "age_years is numeric" "$WORK/last.err" "saying why"
expect_status 2 "glm takes no --strata" fedra glm --outcome vital_status=dead --covariates stage --strata sex
expect_status 1 "a three-way interaction is refused" fedra cox --covariates stage:sex:surgery
expect_grep "more than two variables" "$WORK/last.err" "saying why"
expect_status 1 "an interaction of a variable with itself is refused" fedra glm --outcome vital_status=dead --covariates stage:stage
expect_status 1 "a term named twice (b:a after a:b) is refused" fedra cox --covariates stage:sex,sex:stage
expect_grep "named twice" "$WORK/last.err" "saying so"
"$ROOT/scripts/federation" down fed >/dev/null

# Edge: an interaction with an empty cell.  No patient is metastatic without
# surgery at any node: R gives stagemetastatic:surgeryno NA (aliased), and so
# does fedra, for cox and glm.
empty() { awk -F, -v OFS=, 'NR > 1 && $9 == "metastatic" && $10 == "no" { $10 = "yes" } { print }' "$1"; }
set --
: >all.csv
for i in 1 2 3; do
    empty "N$i.csv" >"E$i.csv"
    if [ "$i" = 1 ]; then cat "E$i.csv" >all.csv; else tail -n +2 "E$i.csv" >>all.csv; fi
    set -- "$@" "N$i=E$i.csv"
done
"$ROOT/scripts/federation" up fede "$@" --set time_grid_days=0 --set min_cell=1 \
    --set min_events_per_parameter=1 >/dev/null 2>&1 || fail "empty cell: federation up"
. fede/env
compare cox os 0 efron 'stage*surgery' - TRUE - 1e-11 --covariates 'stage*surgery' --grid 0
if grep -q "Ran out of iterations" r.out; then
    # Some draws separate (a cell of all events): R runs out of iterations, and
    # coxph.fit then marks nothing NA (flag 1000 is never < nvar); nor does fedra.
    jq -e '.result.coefficients[] | select(.term == "stagemetastatic:surgeryno") | .coef != null' \
        f.json >/dev/null && ok "cox did not converge on this draw, as R: the empty cell is not NA, as in R" ||
        fail "cox did not converge, yet the empty cell is NA (R marks nothing NA then)"
else
    jq -e '.result.coefficients[] | select(.term == "stagemetastatic:surgeryno") | .coef == null' f.json >/dev/null &&
        ok "cox: the empty cell's coefficient is NA (null), as R's" || fail "cox: the empty cell is not NA"
    grep -q "stagemetastatic:surgeryno.* collinear with the other covariates (R: NA)" f.err &&
        ok "and a warning names it" || { fail "no warning names the empty cell"; sed 's/^/       | /' f.err | head -5; }
fi
compare glm os 0 efron 'stage*surgery' vital_status=dead 'surgery != "unknown"' - 1e-11 \
    --outcome vital_status=dead --covariates 'stage*surgery' --where 'surgery!=unknown'
jq -e '.result.coefficients[] | select(.term == "stagemetastatic:surgeryno") | .estimate == null' f.json >/dev/null &&
    ok "glm: the empty cell's coefficient is NA (null), as R's" || fail "glm: the empty cell is not NA"
"$ROOT/scripts/federation" down fede >/dev/null

# R2 at the node (min_cell 5): EB holds 2 patients of surgery=unknown (a small
# stratum of --strata surgery) and 2 metastatic without chemotherapy (a small
# cell of stage:chemotherapy).  EB leaves them out of its sums and says so as a
# suppressed count; the fit is partial, printed only with --allow-partial, and
# equals R on the records without them.  The auditor (R3) is off here, as in
# the attack tests' controls: with it on, an exclusion of 1 .. min_cell-1
# patients from a cohort that is otherwise every row is itself a difference
# of two released sets (the rows, the cohort) and EB refuses the round
# (differencing), whatever the level rule does; this checks the level rule.
fedra-gendata --country EA --rows 300 --seed "$seed" |
    awk -F, -v OFS=, 'NR > 1 { if ($10 == "unknown") $10 = "yes"; if ($9 == "metastatic" && $11 == "no") $11 = "yes" } { print }' >EA.csv
fedra-gendata --country EB --rows 250 --seed "$((seed + 7))" |
    awk -F, -v OFS=, 'NR > 1 { if ($10 == "unknown") $10 = "yes"; if (NR <= 3) $10 = "unknown";
        if ($9 == "metastatic" && $11 == "no" && ++k > 2) $11 = "yes" } { print }' >EB.csv
{ cat EA.csv; tail -n +2 EB.csv; } >all.csv
"$ROOT/scripts/federation" up fedr EA=EA.csv EB=EB.csv --set time_grid_days=0 \
    --set min_events_per_parameter=1 --set query_audit=off >/dev/null 2>&1 || fail "R2: federation up"
. fedr/env
expect_status 3 "a small stratum left out at EB: the fit is partial, not printed" \
    fedra cox --covariates age_years --strata surgery --grid 0
# (no count round: fedra does not know EB's min_cell, so "at least 1")
expect_grep "^  EB: took part without at least 1 of its selected patients" "$WORK/last.err" \
    "stderr says EB left some patients out"
compare cox os 0 efron age_years - '!(node == "EB" & surgery == "unknown")' surgery 1e-11 \
    --covariates age_years --strata surgery --grid 0
jq -e '.result.per_node[] | select(.node == "EB") | .excluded == null and .excluded_suppressed' f.json >/dev/null &&
    ok "EB's excluded is a suppressed count (R2)" || { fail "EB's excluded is not suppressed"; jq -c .result.per_node f.json; }
# (two stages and two chemotherapy levels, so that no other cell is small)
w='stage in (localized,metastatic) and chemotherapy in (yes,no)'
rw='stage %in% c("localized", "metastatic") & chemotherapy %in% c("yes", "no")'
expect_status 3 "a small cell of an interaction left out at EB: partial" \
    fedra glm --outcome vital_status=dead --covariates 'stage*chemotherapy' --where "$w"
expect_grep "^  EB: took part without 1 to 4 of its selected patients" "$WORK/last.err" \
    "stderr says EB left 1 to 4 patients out"
compare glm os 0 efron 'stage*chemotherapy' vital_status=dead \
    "$rw"' & !(node == "EB" & stage == "metastatic" & chemotherapy == "no")' - 1e-11 \
    --outcome vital_status=dead --covariates 'stage*chemotherapy' --where "$w"
"$ROOT/scripts/federation" down fedr >/dev/null
done_checks
