# 62-cif - pooled cumulative incidence (competing risks) across real nodes,
# checked live against R on the pooled records (fresh random data every
# run): multi-state survfit(Surv(time, factor(status, 0:2, c("censor",
# "relapse", "death")))) for every row of the curves (and summary(fit,
# times =) with --times), cmprsk::cuminc's Gray test with --by, both causes,
# exact and binned, to 1e-12 relative; the edge cases of issue 15; and under
# the default policy (min_cell 5) withheld strata (R5), curves stopped where
# fewer than 5 remain at risk (R4, Gray's test over the released period)
# and a plot that shows no number at risk below min_cell.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
command -v Rscript >/dev/null || { fail "Rscript not found: run scripts/install-deps"; done_checks; }
Rscript -e 'library(cmprsk)' >/dev/null 2>&1 || { fail "R package cmprsk missing: run scripts/install-deps"; done_checks; }

# pool_csv A.csv B.csv ...: the nodes' records as one CSV (all.csv), what R reads
pool_csv() { { cat "$1"; shift; for f in "$@"; do tail -n +2 "$f"; done; } >all.csv; }
# Three nodes of fresh random data, 500, 240 and 90 patients.
seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}    # FEDRA_TEST_SEED=N reruns one draw
echo "  data seed $seed"
k=0
for node in AA:500 BB:240 CC:90; do
    fedra-gendata --country "${node%:*}" --rows "${node#*:}" --seed "$((seed + k))" >"${node%:*}.csv"
    k=$((k + 1))
done
pool_csv AA.csv BB.csv CC.csv

# The oracle: R on all.csv (less the node strata in HELD, censored at CUT for the test),
# compared with fedra's CSV row by row and with the Gray test of fedra's JSON.
#   Rscript cif.R FEDRA.csv GRID CAUSE BY TIMES GRAY [CUTS HELD GRAYCUT]
# BY: a variable or "-"; TIMES: "t1,t2" or "-"; GRAY: "chisq,df,p" or "none".
cp "$ROOT/tests/integration/cif.R" cif.R

# fedra's Gray test from its JSON: "chisq,df,p", or "none".
gray_of() {
    jq -r 'if .result.gray == null then "none" else "\(.result.gray.chisq),\(.result.gray.df),\(.result.gray.p)" end' "$1"
}
# cif_check NAME GRID CAUSE BY TIMES [fedra args]: fedra's CSV and JSON against R
cif_check() {
    local name=$1 g=$2 cause=$3 by=$4 times=$5 args gr; shift 5
    args="--grid $g --cause $cause"
    [ "$by" = - ] || args="$args --by $by"
    [ "$times" = - ] || args="$args --times $times"
    # shellcheck disable=SC2086
    if ! fedra --format csv cif $args "$@" >cif.csv 2>cif.err ||
       ! fedra --format json cif $args "$@" >cif.json 2>>cif.err; then
        fail "$name: fedra failed"; sed 's/^/       | /' cif.err | head -5; return
    fi
    gr=-; [ "$by" = - ] || gr=$(gray_of cif.json)
    if Rscript cif.R cif.csv "$g" "$cause" "$by" "$times" "$gr" >r.out 2>&1; then
        ok "$name equals survfit${by:+ and cuminc}: $(tail -n 1 r.out)"
    else fail "$name differs from R"; sed 's/^/       | /' r.out | head -5; fi
}

# 1. Exact times where every node's policy allows them.  Sections 1 to 3 check the
#    statistic, on several groupings of the same patients: with the auditor on, the
#    strata of one grouping would cut the curves of the next (R4 on the subgroups a
#    difference of curves gives), so it is off there; sections 4 and 5 run the default
#    policy, cuts included.
check "federation up (time_grid_days=0, min_cell=1, auditor off)" \
    "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv CC=CC.csv --set time_grid_days=0 \
    --set min_cell=1 --set query_audit=off
. fed/env
expect_status 0 "fedra cif --help" fedra cif --help
expect_grep "^usage: fedra .*cif \[--cause relapse\|death\]" "$WORK/last.out" "'cif --help' gives its usage"
expect_status 0 "fedra --help" fedra --help
expect_grep "^  cif " "$WORK/last.out" "'fedra --help' lists cif"
cif_check "cif --by stage (exact, relapse)" 0 relapse stage -
cif_check "cif --by stage (exact, death)" 0 death stage -
cif_check "cif (exact, no --by)" 0 relapse - -
cif_check "cif --by sex --times (exact)" 0 relapse sex 0,30,365,730,1000,5000,100000
expect_status 0 "cif --by stage (table)" fedra cif --by stage --grid 0
expect_grep "Gray's test \(relapse\): Chisq = " "$WORK/last.out" "the table shows Gray's test"
expect_status 2 "cif --cause other is a usage error" fedra cif --cause other
expect_grep "cause takes relapse or death" "$WORK/last.err" "the usage error says which causes"
expect_status 2 "cif --by with two variables is a usage error" fedra cif --by stage,sex
"$ROOT/scripts/federation" down fed >/dev/null

# 2. Default 30-day grid: equal to R on the times rounded up.
check "federation up (default 30-day grid, min_cell=1, auditor off)" \
    "$ROOT/scripts/federation" up fed2 AA=AA.csv BB=BB.csv CC=CC.csv --set min_cell=1 \
    --set query_audit=off
. fed2/env
cif_check "cif --by stage (30-day grid)" 30 relapse stage -
cif_check "cif --by stage --cause death --times (30-day grid)" 30 death stage 0,15,365,1825
expect_status 3 "exact times are refused where the policy forbids them" fedra cif --grid 0
expect_grep "exact event times are not released" "$WORK/last.out" "refusal names the exact-time rule"
# --by with one level (R's cuminc has no test then): curves, and a note instead of a test
expect_status 0 "cif --by stage with one level present" fedra --format json cif --by stage --where "stage=localized"
check "one level: no Gray test (null), and why" \
    jq -e '.result.gray == null and (.result.gray_note | test("two groups"))' "$WORK/last.out" >/dev/null
"$ROOT/scripts/federation" down fed2 >/dev/null

# 3. Edge cases on crafted data, exact times: no competing events (no one dies before a
#    relapse: the incidence of relapse is 1 - KM of relapse-free survival); everybody censored.
edge_cif() { # edge_cif NAME AWK-PROGRAM
    name=$1 prog=$2
    for c in AA BB; do
        awk -F, -v OFS=, "NR == 1 { print; next } { $prog; print }" "$c.csv" >"E$c.csv"
    done
    pool_csv EAA.csv EBB.csv
    "$ROOT/scripts/federation" up "fe-$name" AA=EAA.csv BB=EBB.csv --set time_grid_days=0 \
        --set min_cell=1 --set query_audit=off >/dev/null 2>&1 || { fail "$name: federation up"; return; }
    . "fe-$name/env"
    cif_check "cif --by stage, $name" 0 relapse stage -
    cif_check "cif --by stage --cause death, $name" 0 death stage -
    "$ROOT/scripts/federation" down "fe-$name" >/dev/null
}
edge_cif no-competing 'if ($15 == "") $13 = "alive"'
edge_cif all-censored '$13 = "alive"; $15 = ""'
expect_grep "needs events of the cause" cif.json "all censored: no Gray test, and why"

# 4. Default min_cell 5: a node of 2 patients (a stratum of one patient per sex, say)
#    withholds its stratum (R5) and still answers; the others are merged; the plot
#    shows no number at risk below min_cell.
awk 'NR <= 3' BB.csv >DD.csv
if "$ROOT/scripts/federation" up fed3 AA=AA.csv DD=DD.csv >/dev/null 2>&1; then
    ok "federation up (default policy, a node of 2 patients)"
else fail "federation up (default policy, a node of 2 patients)"; fi
. fed3/env
if fedra cif >r5.out 2>&1 && grep -q "note: all withheld by DD" r5.out && grep -Eq "DD +ok" r5.out; then
    ok "a stratum of 2 patients is withheld (R5), named by node, and the node answers"
else fail "R5: the small stratum is not withheld as it should be"; sed 's/^/       | /' r5.out | head; fi
expect_status 0 "cif --plot draws the merged curve" fedra cif --by sex --plot cif.svg
check "the plot is well-formed SVG" xmllint --noout cif.svg
expect_grep "Cumulative incidence" cif.svg "the plot is of the cumulative incidence"
expect_status 0 "cif --plot without --by draws the causes stacked" fedra cif --plot stacked.svg
check "the stacked plot is well-formed SVG" xmllint --noout stacked.svg
expect_grep ">relapse or death \(stacked\)" stacked.svg "the stacked plot's upper layer is either cause"
if cat cif.svg stacked.svg | awk '/<svg/ {risk = 0} /Number at risk/ {risk = 1} risk && />[1-4]<\/text>/ {bad = 1} END {exit bad}'; then
    ok "no number at risk from 1 to 4 is drawn (min_cell 5)"
else fail "the plot shows a number at risk below min_cell"; fi
"$ROOT/scripts/federation" down fed3 >/dev/null

# 5. Default policy on three nodes: strata a node withheld are left out, curves stop
#    where fewer than 5 remain at risk (R4); R on the same records agrees up to each
#    curve's released time, and cuminc on the records censored at the earliest cut.
pool_csv AA.csv BB.csv CC.csv
if "$ROOT/scripts/federation" up fed4 AA=AA.csv BB=BB.csv CC=CC.csv >/dev/null 2>&1; then
    ok "federation up (default policy, three nodes)"
else fail "federation up (default policy, three nodes)"; fi
. fed4/env
fedra --format csv cif --by stage >ct.csv 2>/dev/null && fedra --format json cif --by stage >ct.json \
    && ok "cif --by stage (csv and json) under the default policy" \
    || fail "cif --by stage under the default policy"
# what R needs from the JSON: each curve's cut, the (level, node) pairs withheld, the test's cut
jq -r '.result.curves[] | [.strata, (.truncated_at // 0)] | @tsv' ct.json | tr '\t' ' ' >ct.cuts
jq -r '.result.withheld[] | (.strata | ltrimstr("stage=")) as $lv
       | (.nodes | split(", ")[]) | "\($lv) \(.)"' ct.json >ct.held
gc=$(jq -r '.result.gray.truncated_at // 0' ct.json)
ncut=$(awk '$2 > 0' ct.cuts | wc -l)
if [ "$ncut" -gt 0 ]; then ok "some curve is truncated ($ncut)"; else fail "no curve truncated"; fi
if Rscript cif.R ct.csv 30 relapse stage - "$(gray_of ct.json)" ct.cuts ct.held "$gc" >r.out 2>&1; then
    ok "truncated curves equal survfit up to the released time, Gray's test equals cuminc censored at $gc: $(tail -n 1 r.out)"
else fail "truncated curves or Gray's test differ from R"; sed 's/^/       | /' r.out | head; fi
"$ROOT/scripts/federation" down fed4 >/dev/null
done_checks
