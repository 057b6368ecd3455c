# 75-disclosure - disclosure attacks by an analyst with a valid certificate;
# each check fails if the attack works.  Small cells; complementary
# suppression (a margin minus the released cells of a two-way table);
# differencing (two cohorts 2 patients apart), also across two analysts and
# with Kaplan-Meier; averaging by repetition; exact event times; attack 1,
# model probing at chosen coefficients, first against a node with
# model_path_check off, then refused on the default policy; the attack
# classes 2, 3 and 4 of docs/disclosure.md §4 (across kinds, refusals as an
# oracle, trackers), each first shown to work against a node with the
# disclosure auditor off (query_audit = off), then shown blocked; the
# refinement count --by stage then --by stage,age_group; survival tails
# (docs/disclosure.md §6, R1-R5).
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"

seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}    # FEDRA_TEST_SEED=N reruns one draw
echo "  data seed $seed"
fedra-gendata --country AA --rows 400 --seed "$seed" >raw.csv
# Exactly 2 patients aged 10 at AA: the others aged 10 become 11.
awk -F, -v OFS=, 'NR > 1 { a = int($4 / 365.25); if (a == 10 && ++n > 2) $4 += 366; else if (a == 10) $3 = "F" } {print}' raw.csv >AA.csv
# No patient aged 10 at BB, so that the age<10 / age<=10 pair is no small difference
# there whatever the draw (1..4 patients aged 10 at BB would be one, rightly refused).
fedra-gendata --country BB --rows 200 --seed "$((seed + 1))" \
    | awk -F, -v OFS=, 'NR > 1 && int($4 / 365.25) == 10 { $4 += 366 } {print}' >BB.csv
sqlite3 oracle.db ".import --csv AA.csv aa" \
    "CREATE VIEW a AS SELECT *, CAST(age_at_diagnosis_days / 365.25 AS INTEGER) AS age FROM aa"
n10=$(sqlite3 oracle.db "SELECT count(*) FROM a WHERE age = 10")
[ "$n10" = 2 ] && ok "AA holds exactly 2 patients aged 10 (sqlite3)" || fail "AA holds $n10 patients aged 10"

aa_count() { # total count AA released, from the table output ("" if refused)
    fedra --format json count "$@" 2>/dev/null | tr -d ' \n' | grep -o '"count":[0-9]*' | head -n 1 | cut -d: -f2
}

# 0. Without the auditor the differencing attack works: the control is what stops it.
check "federation up (AA alone, query_audit off)" "$ROOT/scripts/federation" up off AA=AA.csv --set query_audit=off
. off/env
lt=$(aa_count --where "age_years<10"); le=$(aa_count --where "age_years<=10")
if [ -n "$lt" ] && [ -n "$le" ] && [ $((le - lt)) = 2 ]; then
    ok "auditor off: age<=10 minus age<10 = $le - $lt reveals the 2 patients aged 10 (the attack is real)"
else fail "auditor off: expected the attack to work (got '$lt' and '$le')"; fi
"$ROOT/scripts/federation" down off >/dev/null

# 1. Small cells: no count 1..4 is released; the table really has such cells.
small=$(sqlite3 oracle.db "SELECT count(*) FROM (SELECT count(*) n FROM a GROUP BY tumour_type, stage) WHERE n BETWEEN 1 AND 4")
[ "$small" -gt 0 ] && ok "AA has $small tumour_type x stage cells of 1..4 patients (sqlite3)" || fail "no small cells in the data"
# Default policy from here on: min_cell 5, 30-day grid, auditor on.
check "federation up (AA alone, default policy)" "$ROOT/scripts/federation" up one AA=AA.csv
. one/env
fedra-cert issue --ca one/ca --role analyst --name bob --out one >/dev/null
expect_status 0 "count --by tumour_type,stage answered" fedra --format csv count --by tumour_type,stage
if awk -F, 'NR > 1 && $3 >= 1 && $3 <= 4 {bad = 1} END {exit bad}' "$WORK/last.out"; then
    ok "small cells: no released count is between 1 and 4"; else fail "small cells: a count of 1..4 was released"; fi
nsup=$(awk -F, 'NR > 1 && $3 == 0 && $4 == 4' "$WORK/last.out" | wc -l)
[ "$nsup" = "$small" ] && ok "small cells: all $small shown as suppressed (count 0, count_max 4)" \
    || fail "small cells: $nsup suppressed rows, sqlite3 says $small"

# 2. Complementary suppression: the one-way margin minus the released cells of the
#    two-way table would give the suppressed cells.  Which rows it would reveal:
rows=$(sqlite3 oracle.db "SELECT count(*) FROM (SELECT tumour_type, sum(CASE WHEN n < 5 THEN n ELSE 0 END) s FROM (SELECT tumour_type, count(*) n FROM a GROUP BY tumour_type, stage) GROUP BY tumour_type) WHERE s BETWEEN 1 AND 4")
[ "$rows" -gt 0 ] && ok "margins: $rows tumour types whose suppressed cells sum to 1..4 (sqlite3)" || fail "margins: no revealing row in the data"
cp "$WORK/last.out" two.csv
# The margin query is answered now (the pairwise auditor refused it): the
# margins that would give a suppressed cell away are withheld instead.
margins_ok() { # margins_ok TWO.csv ONE.csv: no released margin minus its released cells is 1..4
    awk -F, 'FNR == 1 { next }
        NR == FNR { if ($4 != "" && $3 == $4) rel[$1] += $3; next }
        $3 != "" && $2 == $3 { d = $2 - rel[$1]; if (d >= 1 && d <= 4) { print $1, d; bad = 1 } }
        END { exit bad }' "$1" "$2"
}
expect_status 0 "the one-way margin after the two-way table is answered" fedra --format csv count --by tumour_type
cp "$WORK/last.out" one.csv
if margins_ok two.csv one.csv; then ok "margins: no released margin minus its released cells is 1..4"
else fail "margins: a margin minus released cells gives a small group"; fi
awk -F, 'NR > 1 && $3 == "" {n++} END {exit !n}' one.csv && ok "margins: the revealing margins are withheld (count_max empty)" \
    || fail "margins: nothing withheld"
expect_status 0 "... also when asked by another analyst (the history is shared)" \
    fedra --format csv --cert one/bob.crt --key one/bob.key count --by tumour_type
if margins_ok two.csv "$WORK/last.out"; then ok "margins: the same for the other analyst"
else fail "margins: the other analyst gets a small group"; fi
"$ROOT/scripts/federation" down one >/dev/null

# 3. Differencing by a filter: age<10 then age<=10 (2 patients apart).  Each
#    pair runs on a fresh federation, so that no earlier answer is involved.
n=0
fresh() { # fresh: stop the current federation, start a new one, issue bob
    [ -n "${fd:-}" ] && "$ROOT/scripts/federation" down "$fd" >/dev/null
    n=$((n + 1)); fd=f$n
    check "federation $fd up" "$ROOT/scripts/federation" up $fd AA=AA.csv BB=BB.csv
    . $fd/env
    fedra-cert issue --ca $fd/ca --role analyst --name bob --out $fd >/dev/null
}
fresh
expect_status 0 "count --where age_years<10 answered" fedra count --where "age_years<10"
expect_status 3 "count --where age_years<=10 is refused by AA" fedra count --where "age_years<=10"
expect_grep "AA +refused +differencing: .*1 to 4 patients" "$WORK/last.out" "differencing: refusal says why"
expect_grep "BB +ok" "$WORK/last.out" "differencing: BB (no such small difference) still answers"
# The pair split over two analysts: by sex, the cohort's cells are answered (the
# pairwise auditor refused the query) but one is withheld, so that the two
# patients aged 10 (both F) are not the difference of released counts.
expect_status 0 "the same pair split over two analysts is answered" \
    fedra --format csv --cert $fd/bob.crt --key $fd/bob.key count --by sex --where "age_years<=10"
awk -F, 'NR > 1 && $3 == "" {n++} END {exit !n}' "$WORK/last.out" \
    && ok "differencing across analysts: a sex cell is withheld" || fail "differencing across analysts: nothing withheld"
expect_status 0 "a cohort 1 year wider (many patients apart) is answered" fedra count --where "age_years<=11"
#    ... with Kaplan-Meier curves (the difference would be 2 patients' times) ...
fresh
fedra km --where "age_years>=11" >"$WORK/last.out" 2>&1
expect_grep "AA +ok" "$WORK/last.out" "km --where age_years>=11 answered by AA"
expect_status 3 "km --where age_years>=10 is refused by AA" fedra km --where "age_years>=10"
expect_grep "AA +refused +differencing" "$WORK/last.out" "km differencing refused"
#    ... and with the log-rank test's O and E per group.
fresh
fedra logrank --by sex --where "age_years>=11 and sex in (F,M)" >"$WORK/last.out" 2>&1
expect_grep "AA +ok" "$WORK/last.out" "logrank --by sex --where age_years>=11 answered by AA"
# The strata are withheld one by one now (the pairwise auditor refused the node).
expect_status 0 "logrank --where age_years>=10 is answered" fedra logrank --by sex --where "age_years>=10 and sex in (F,M)"
expect_grep "groups withheld by a node.*F at AA" "$WORK/last.out" "logrank differencing: AA withholds the F group"

# 4. Averaging: results are deterministic (no noise to average away), and a repeat
#    is not a differencing attempt (0 patients apart).
for i in 1 2 3 4 5; do fedra --format csv count --by stage >rep$i.out 2>/dev/null; done
same=1; for i in 2 3 4 5; do cmp -s rep1.out rep$i.out || same=0; done
[ "$same" = 1 ] && [ -s rep1.out ] && ok "averaging: 5 repeats give identical answers (deterministic, nothing to average)" \
    || fail "averaging: repeats differ"
for i in 1 2 3; do fedra --format csv km --by stage >kmrep$i.out 2>/dev/null; done
cmp -s kmrep1.out kmrep2.out && cmp -s kmrep1.out kmrep3.out && ok "averaging: repeated km curves identical" \
    || fail "averaging: km repeats differ"

# 5. Exact event times where the policy forbids them (time_grid_days 30), on fresh
#    nodes: the auditor's history above must not decide whether the control is answered.
"$ROOT/scripts/federation" down "$fd" >/dev/null
fd=fed5
check "federation up (default policy, fresh history)" "$ROOT/scripts/federation" up "$fd" AA=AA.csv BB=BB.csv
. "$fd/env"
expect_status 3 "km --grid 0 is refused" fedra km --grid 0
expect_grep "AA +refused +exact event times are not released" "$WORK/last.out" "exact times: refusal names the rule"
expect_status 3 "logrank --grid 0 is refused" fedra logrank --by stage --grid 0
expect_status 3 "km --grid 45 (not a multiple of 30) is refused" fedra km --grid 45
expect_status 0 "km on the default grid is answered" fedra --format csv km
if awk -F, 'NR > 1 && $2 % 30 != 0 {bad = 1} END {exit bad}' "$WORK/last.out"; then
    ok "exact times: every released time is a multiple of 30 days"; else fail "a time off the 30-day grid was released"; fi
"$ROOT/scripts/federation" down "$fd" >/dev/null
# Attack 1: model probing (docs/disclosure.md §4.1, rule R1).  One glm round at
# coefficients the analyst signs (tests/tools/probe.c): intercept, diagnosis_year
# and age_years with beta = (-50 (1000 y + a), 50000, 50), so that the linear
# predictor 50 (1000 (year - y) + (age - a)) is 0 only at the target's pair and at
# least 50 in size elsewhere; with --where vital_status=dead, info[0][0] = 0.25 x the
# dead patients of that pair.  Targets: patients whose (diagnosis_year, age) pair
# is unique at AA (sqlite3) and whose surgery level is held by at least 6 dead
# patients (so that no exclusion, R2, can leave them out); one dead, one alive.
target() { # target STATUS: "YEAR AGE" of such a patient with that vital status
    sqlite3 -separator ' ' oracle.db "SELECT CAST(substr(t.diagnosis_date, 1, 4) AS INTEGER),
        t.age FROM a t WHERE t.vital_status = '$1' AND (SELECT count(*) FROM a u
        WHERE substr(u.diagnosis_date, 1, 4) = substr(t.diagnosis_date, 1, 4) AND u.age = t.age) = 1
        AND (SELECT count(*) FROM a d WHERE d.vital_status = 'dead' AND d.surgery = t.surgery) >= 6
        ORDER BY random() LIMIT 1"
}
probe() { # probe YEAR AGE: one glm round at the crafted beta, over the dead
    "$FEDRA_BIN/tests/fedra-probe" "$FEDRA_FEDERATION" "$FEDRA_CERT" "$FEDRA_KEY" glm surgery=yes \
        diagnosis_year,age_years "$(( -50 * (1000 * $1 + $2) )),50000,50" vital_status=dead 2>&1
}
# The control off is the path check; the auditor is off too, because it models a
# round's counts (cohort, levels, events: R3) but not sums at chosen coefficients, so
# it refuses this particular probe only when one of those counts happens to be small
# (the outcome's events among the target's cohort, say) -- a probe over a cohort whose
# counts are all large would pass it.  The blocked case below has every control on.
check "federation up (AA alone, model_path_check and query_audit off)" \
    "$ROOT/scripts/federation" up mp0 AA=AA.csv --set model_path_check=off --set query_audit=off
. mp0/env
grep -q "WARNING: model_path_check is off" mp0/nodes/AA/node.log \
    && ok "attack 1: a node with the control off says so loudly at start" \
    || fail "attack 1: no start warning with model_path_check off"
for tv in dead alive; do
    t=$(target $tv)
    [ -n "$t" ] || { fail "attack 1: no $tv patient with a unique (diagnosis_year, age) pair"; continue; }
    out=$(probe $t)
    i00=$(echo "$out" | sed -n 's/^AA ok .*info00=\([^ ]*\).*/\1/p')
    seen=$(awk -v x="${i00:-nan}" 'BEGIN { if (x == "nan") print "none"; else if (x > 0.2 && x < 0.3) print "dead";
        else if (x < 0.01) print "alive"; else print "unclear" }')
    if [ "$seen" = "$tv" ]; then
        ok "attack 1, control off: the only patient of ($t) at AA is $tv (sqlite3), and info00 = $i00 says so (the attack is real)"
    else fail "attack 1, control off: expected the probe to reveal '$tv' for ($t), got '$seen' ($out)"; fi
done
"$ROOT/scripts/federation" down mp0 >/dev/null
check "federation up (AA alone, default policy)" "$ROOT/scripts/federation" up mp1 AA=AA.csv
. mp1/env
out=$(probe $(target dead))
if echo "$out" | grep -q "^AA refused model-path: coefficients are not the next step of this fit"; then
    ok "attack 1, default policy: the probe is refused (model-path)"
else fail "attack 1, default policy: the probe was not refused as off the path: $out"; fi
expect_status 0 "attack 1: a normal glm fit still works" fedra glm --outcome vital_status=dead \
    --covariates diagnosis_year,age_years
expect_grep "^nodes: 1 of 1 answered" "$WORK/last.out" "attack 1: ... over AA"
expect_status 0 "attack 1: a normal cox fit still works" fedra cox --covariates age_years,diagnosis_year
"$ROOT/scripts/federation" down mp1 >/dev/null

# ---- Attack classes 2, 3, 4 (docs/disclosure.md §4.2-4.4) on fresh data ----
# A target t: the only patient of tumour type X diagnosed in year y, in a
# country of 1500 patients drawn from the script's seed (a few draws are
# tried until one has such a patient with 5+ dead and 5+ alive on each
# side of y in X); sqlite3 is the oracle.
for try in 0 1 2 3 4 5 6 7 8 9; do
    fedra-gendata --country AT --rows 1500 --seed "$((seed + 7 + 100 * try))" >AT.csv
    rm -f at.db
    sqlite3 at.db ".import --csv AT.csv a" \
        "CREATE VIEW k AS SELECT patient_id id, tumour_type tt, CAST(substr(diagnosis_date, 1, 4) AS INTEGER) y, vital_status v FROM a"
    target=$(sqlite3 -separator ' ' at.db "SELECT t.id, t.tt, t.y, t.v FROM k t
        WHERE (SELECT count(*) FROM k WHERE tt = t.tt AND y = t.y) = 1
        AND (SELECT count(*) FROM k WHERE tt = t.tt AND y < t.y AND v = 'dead') >= 5
        AND (SELECT count(*) FROM k WHERE tt = t.tt AND y < t.y AND v = 'alive') >= 5
        AND (SELECT count(*) FROM k WHERE tt = t.tt AND y > t.y AND v = 'dead') >= 5
        AND (SELECT count(*) FROM k WHERE tt = t.tt AND y > t.y AND v = 'alive') >= 5
        ORDER BY id LIMIT 1")
    [ -n "$target" ] && break
done
set -- $target
tid=${1:-}; X=${2:-}; Y=${3:-}; tv=${4:-}
if [ -n "$tid" ]; then ok "attacks: target $tid, the only $X of $Y, $tv (sqlite3)"
else fail "attacks: no target in 10 draws"; fi
truth=$([ "$tv" = dead ] && echo 1 || echo 0)
# The same data with the target's vital status flipped (attack 3's other world).
awk -F, -v OFS=, -v id="$tid" '$1 == id { $13 = ($13 == "dead" ? "alive" : "dead") } {print}' AT.csv >AT-flip.csv

atfed() { # atfed NAME CSV [--set ...]: a fresh one-node federation (node AA) on CSV
    local fname=$1 csv=$2; shift 2     # (check sets $name)
    check "federation $fname up" "$ROOT/scripts/federation" up "$fname" AA="$csv" "$@"
    . "$fname/env"
}
dead_of() { # dead_of WHERE: AA's released count of dead by vital_status ("" if refused or not released)
    fedra --format csv count --by vital_status --where "$1" 2>/dev/null \
        | awk -F, '$1 == "dead" && $3 != "" && $2 == $3 {print $2}'
}
reveals() { # reveals LABEL EXPR VALUE...: the control off, every VALUE released and EXPR = t's status
    local label=$1 expr=$2 v; shift 2
    for v in "$@"; do
        [ -n "$v" ] || { fail "$label: expected the attack to work (released: '$*')"; return; }
    done
    if [ $(($expr)) = "$truth" ]; then ok "$label: $expr = $(($expr)) (of $*), t's status ($tv)"
    else fail "$label: $expr = $(($expr)) (of $*), not t's status ($tv)"; fi
}
events_of() { # events_of WHERE: the km's events column ("" if refused)
    fedra --format csv km --where "$1" 2>/dev/null | awk -F, 'NR == 2 {print $11}'
}

# Attack 2, across kinds: km on X without t, then the dead of X.
atfed a2off AT.csv --set query_audit=off
e=$(events_of "tumour_type=$X and diagnosis_year!=$Y"); d=$(dead_of "tumour_type=$X")
reveals "attack 2, auditor off: dead($X) - km events($X without $Y)" "d - e" "$d" "$e"
"$ROOT/scripts/federation" down a2off >/dev/null
atfed a2 AT.csv
fedra km --where "tumour_type=$X and diagnosis_year!=$Y" >"$WORK/last.out" 2>&1
expect_grep "AA +ok" "$WORK/last.out" "attack 2: the km without t is answered"
expect_status 3 "attack 2: the dead of $X are then refused" fedra count --where "tumour_type=$X and vital_status=dead"
expect_grep "AA +refused +differencing: .*1 to 4 patients" "$WORK/last.out" "attack 2: refused differencing"
"$ROOT/scripts/federation" down a2 >/dev/null

# Attack 4, a tracker: D(X) - D(X before y) - D(X after y).
atfed a4off AT.csv --set query_audit=off
d=$(dead_of "tumour_type=$X"); d1=$(dead_of "tumour_type=$X and diagnosis_year<$Y")
d2=$(dead_of "tumour_type=$X and diagnosis_year>$Y")
reveals "attack 4, auditor off: the tracker" "d - d1 - d2" "$d" "$d1" "$d2"
"$ROOT/scripts/federation" down a4off >/dev/null
atfed a4 AT.csv
d=$(dead_of "tumour_type=$X"); d1=$(dead_of "tumour_type=$X and diagnosis_year<$Y")
[ -n "$d" ] && [ -n "$d1" ] && ok "attack 4: the first two counts are answered" || fail "attack 4: first two counts ($d, $d1)"
expect_status 3 "attack 4: the third count is refused" fedra count --by vital_status --where "tumour_type=$X and diagnosis_year>$Y"
expect_grep "AA +refused +differencing" "$WORK/last.out" "attack 4: refused differencing"
"$ROOT/scripts/federation" down a4 >/dev/null

# Attack 3, refusals as an oracle: the dead of X without t, then the dead of X.
atfed a3off AT.csv --set query_audit=off
a=$(dead_of "tumour_type=$X and diagnosis_year!=$Y"); b=$(dead_of "tumour_type=$X")
reveals "attack 3, auditor off: the pair's answers" "b - a" "$a" "$b"
"$ROOT/scripts/federation" down a3off >/dev/null
oracle() { # oracle CSV OUT FED: the pair on a fresh federation; what the analyst sees, without timings
    atfed "$3" "$1"
    for w in "tumour_type=$X and vital_status=dead and diagnosis_year!=$Y" "tumour_type=$X and vital_status=dead"; do
        fedra count --where "$w" >"$WORK/o.out" 2>&1; echo "exit $?"
        sed -E 's/[0-9.]+ ms//' "$WORK/o.out"
    done >"$2"
    "$ROOT/scripts/federation" down "$3" >/dev/null
}
oracle AT.csv world1.txt o1
oracle AT-flip.csv world2.txt o2
if cmp -s world1.txt world2.txt; then ok "attack 3: the answers are identical whether t is dead or alive"
else fail "attack 3: the answers depend on t's status"; diff world1.txt world2.txt | head; fi
grep -Eq "AA +refused +differencing" world1.txt && ok "attack 3: the second query is refused in both worlds" \
    || fail "attack 3: the second query was answered"

# ---- The refinement, and survival tails (R3, R4) ----
atfed ref AA.csv
expect_status 0 "count --by stage answered" fedra --format csv count --by stage
cp "$WORK/last.out" stage.csv
expect_status 0 "count --by stage,age_group then answered" fedra --format csv count --by stage,age_group
cp "$WORK/last.out" stage_age.csv
if margins_ok stage_age.csv stage.csv; then ok "refinement: no stage margin minus released cells is 1..4"
else fail "refinement: a stage margin minus released cells gives a small group"; fi
expect_status 0 "km --by stage answered (csv)" fedra --format csv km --by stage
cp "$WORK/last.out" km.csv
expect_status 0 "km --by stage answered (json)" fedra --format json km --by stage
cp "$WORK/last.out" km.json
expect_status 0 "km --by stage answered (plot)" fedra km --by stage --plot km.svg
awk -F, 'NR > 1 && $3 < 5 {bad = 1} END {exit bad}' km.csv && ok "tails: no CSV row has n.risk below 5" \
    || fail "tails: a CSV row has n.risk below 5"
jq -e '[.result.curves[].rows[]."n.risk"] | all(. >= 5)' km.json >/dev/null \
    && ok "tails: no JSON row has n.risk below 5" || fail "tails: a JSON row has n.risk below 5"
ncut=$(jq '[.result.curves[] | select(.truncated_at != null)] | length' km.json)
[ "$ncut" -gt 0 ] && ok "tails: $ncut curve(s) truncated" || fail "tails: no curve truncated"
# CSV and JSON stop at the same time, before truncated_at; the SVG says the same day.
jq -r '.result.curves[] | "\(.strata) \(.rows[-1].time) \(.truncated_at)"' km.json | while read -r st last cut; do
    csvlast=$(awk -F, -v s="$st" '$1 == s {t = $2} END {print t}' km.csv)
    [ "$csvlast" = "$last" ] || echo "csv/json: $st $csvlast $last"
    [ "$cut" = null ] || [ "$last" -lt "$cut" ] || echo "json: $st row at $last >= $cut"
    [ "$cut" = null ] || grep -q "$st: curve withheld from day $cut:" km.svg || echo "svg: $st $cut"
done >tails.err
[ ! -s tails.err ] && ok "tails: CSV, JSON and SVG stop at the same time" || { fail "tails: formats disagree"; cat tails.err; }
"$ROOT/scripts/federation" down ref >/dev/null
done_checks
