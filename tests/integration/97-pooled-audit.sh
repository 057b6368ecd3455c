# 97-pooled-audit - the pooled auditor (docs/disclosure.md §8.7): the attacks
# of §4 run against --pooled, each first WORKING with the control off, then
# BLOCKED with it on.  Three registries behind a hub, fresh random data every
# run; every target (a patient alone in a group) is picked from this run's
# records, never fixed.
#   - control off: the hub's pooled auditor off (hub config pool_audit = off,
#     for tests only) and, for the release rules, a second federation whose
#     nodes lower min_cell and min_sites to 1;
#   - differencing: age <= A and age < A, A an age one patient has;
#   - across kinds: a pooled count and a pooled km stratum differing by one;
#   - a tracker of three: P - Q - R is one patient;
#   - two pooled fits (glm) over cohorts one patient apart: their n and
#     events give that patient's vital status;
#   - refusals as an oracle: a cell the auditor withholds and one the
#     min_cell rule withholds look the same, byte for byte;
#   - the auditor's history survives a hub restart, and `fedra-hub recompute`
#     audits the release again against the history kept with it;
#   - the pooled rules: min_cell, min_sites and the pooled R4 cut each hide
#     what the lowered rule shows.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"

seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}    # FEDRA_TEST_SEED=N reruns one draw
echo "  data seed $seed"
for i in 0 1 2; do
    n=$(echo AA BB CC | cut -d' ' -f$((i + 1)))
    fedra-gendata --country $n --rows $((90 + (seed + 17 * i) % 60)) --seed "$((seed + i))" >$n.csv
done

# The targets, from the records (age_years = floor(age_at_diagnosis_days / 365.25),
# docs/data-model): groups G (everyone, or one sex, or one stage) and ages A with
# exactly one patient of G aged A, at least 5 of G younger and 5 older, and every
# node holding some of each (so that the pooled rules release both sides).  For
# min_sites: a tumour type that CC is made not to hold and that AA and BB hold
# 5 or more together, one of them 1 .. 4.
cat >targets.py <<'PY'
import csv, sys
rows = {}
for n in ("AA", "BB", "CC"):
    rows[n] = list(csv.DictReader(open(n + ".csv")))
def age(r):
    return int(r["age_at_diagnosis_days"]) * 4 // 1461
count = lambda n, f: sum(1 for r in rows[n] if f(r))
site_t = None
for t in sorted({r["tumour_type"] for n in rows for r in rows[n]}):
    a, b = count("AA", lambda r: r["tumour_type"] == t), count("BB", lambda r: r["tumour_type"] == t)
    if a >= 1 and b >= 1 and a + b >= 5 and min(a, b) <= 4:
        site_t = t
        break
if site_t is None:
    sys.exit("no tumour type for the min_sites check in this draw")
with open("CC.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows["CC"][0].keys()))
    w.writeheader()
    keep = [r for r in rows["CC"] if r["tumour_type"] != site_t]
    w.writerows(keep)
rows["CC"] = keep
groups = [("", lambda r: True)]
for s in ("F", "M"):
    groups.append(("sex = %s" % s, lambda r, s=s: r["sex"] == s))
for st in ("localized", "regional", "metastatic", "unknown"):
    groups.append(("stage = %s" % st, lambda r, st=st: r["stage"] == st))
found = []
for g, f in groups:
    for a in range(1, 99):
        if sum(count(n, lambda r: f(r) and age(r) == a) for n in rows) != 1:
            continue
        if all(count(n, lambda r: f(r) and age(r) < a) >= 1 and
               count(n, lambda r: f(r) and age(r) > a) >= 1 for n in rows) and \
           sum(count(n, lambda r: f(r) and age(r) < a) for n in rows) >= 5 and \
           sum(count(n, lambda r: f(r) and age(r) > a) for n in rows) >= 5:
            found.append((g, a))
# Three targets, in different groups where the draw allows.
pick = []
for g, a in found:
    if all(g != h for h, _ in pick):
        pick.append((g, a))
for t in found:
    if len(pick) < 3 and t not in pick:
        pick.append(t)
if len(pick) < 3:
    sys.exit("only %d targets in this draw" % len(pick))
# The fits' target: one patient of G aged A, and 6 or more dead and alive younger
# (so that the events rule lets both fits run): its vital status is what they give.
fit = None
for g, f in groups:
    for a in range(1, 99):
        one = [r for n in rows for r in rows[n] if f(r) and age(r) == a]
        young = [r for n in rows for r in rows[n] if f(r) and age(r) < a]
        dead = sum(1 for r in young if r["vital_status"] == "dead")
        if len(one) == 1 and dead >= 6 and len(young) - dead >= 6:
            fit = (g, a, 1 if one[0]["vital_status"] == "dead" else 0)
            break
    if fit:
        break
if fit is None:
    sys.exit("no target for the fits in this draw")
print("GF='%s'" % (fit[0] + (" and " if fit[0] else "")))
print("AF=%d" % fit[1])
print("VF=%d" % fit[2])
for i, (g, a) in enumerate(pick[:3]):
    print("G%d='%s'" % (i + 1, g + (" and " if g else "")))
    print("P%d='%s'" % (i + 1, g))
    print("A%d=%d" % (i + 1, a))
print("T='%s'" % site_t)
PY
if python3 targets.py >targets.sh 2>targets.err; then . ./targets.sh
    ok "targets from this draw: ${G1}age $A1; ${G2}age $A2; ${G3}age $A3; $T only at AA and BB"
else fail "no targets in this draw (seed $seed): $(cat targets.err)"; done_checks; fi

check "federation up (AA BB CC behind the hub)" \
    "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv CC=CC.csv --hub
. fed/env
# hub_restart WORDS: restart the hub, its config first edited by sed WORDS.
hub_restart() {
    "$ROOT/scripts/federation" hub-stop fed >/dev/null 2>&1
    sed -i "$@" fed/hub/hub.conf
    "$ROOT/scripts/federation" hub-start fed >/dev/null 2>&1 || return 1
    for _ in $(seq 1 150); do fedra ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
# pc WHERE: the pooled count (empty WHERE: every record), or "held" if withheld.
pc() {
    if [ -n "$1" ]; then fedra --format csv count --pooled --where "$1"
    else fedra --format csv count --pooled; fi >pc.out 2>pc.err || { echo "refused"; return; }
    awk -F, 'NR == 2 { print ($2 == "" ? "held" : $1) }' pc.out
}
# pkm WHERE: the size of the pooled km stratum, or "held".
pkm() {
    fedra --format json km --pooled --where "$1" >pkm.out 2>pkm.err || { echo "refused"; return; }
    jq -r 'if (.result.curves | length) == 1 then .result.curves[0].n else "held" end' pkm.out
}
num() { case "$1" in ''|*[!0-9]*) return 1;; esac; }

# --- Control off: the auditor off, every attack works ------------------------------
check "the hub's pooled auditor off (pool_audit = off)" hub_restart '$a pool_audit = off'
a=$(pc "${G1}age_years <= $A1"); b=$(pc "${G1}age_years < $A1")
if num "$a" && num "$b" && [ $((a - b)) = 1 ]; then
    ok "control off: differencing: $a - $b = the one patient of ${G1}age $A1"
else fail "control off: differencing did not give 1 ($a, $b)"; fi
a=$(pc "${G2}age_years <= $A2"); b=$(pkm "${G2}age_years < $A2")
if num "$a" && num "$b" && [ $((a - b)) = 1 ]; then
    ok "control off: across kinds: count $a - km stratum $b = the one patient of ${G2}age $A2"
else fail "control off: count minus km stratum did not give 1 ($a, $b)"; fi
p=$(pc "$P3"); q=$(pc "${G3}age_years < $A3"); r=$(pc "${G3}age_years > $A3")
if num "$p" && num "$q" && num "$r" && [ $((p - q - r)) = 1 ]; then
    ok "control off: tracker: $p - $q - $r = the one patient of ${G3}age $A3"
else fail "control off: the tracker did not give 1 ($p, $q, $r)"; fi
# pfit WHERE: a pooled glm's "n events" (intercept and age), or "refused".
pfit() {
    fedra --format json glm --outcome vital_status=dead --covariates age_years --pooled \
        --where "$1" >pfit.out 2>pfit.err || { echo "refused"; return; }
    jq -r '.result | "\(.n) \(.nevent)"' pfit.out
}
f1=$(pfit "${GF}age_years <= $AF"); f2=$(pfit "${GF}age_years < $AF")
set -- $f1 $f2
if [ $# = 4 ] && num "$1" && num "$3" && [ $(($1 - $3)) = 1 ] && [ $(($2 - $4)) = "$VF" ]; then
    ok "control off: two pooled fits: n $1 - $3 = 1, events $2 - $4 = $VF, the vital status of the patient of ${GF}age $AF"
else fail "control off: the two fits did not give the patient ($f1 / $f2)"; fi
# The pooled rules with the auditor off: min_sites and the R4 cut (compared below).
expect_status 0 "count --by tumour_type --pooled" fedra --format csv count --by tumour_type --pooled
t_on=$(awk -F, -v t="$T" '$1 == t { print ($3 == "" ? "held" : $2) }' "$WORK/last.out")
expect_status 0 "km --pooled" fedra --format csv km --pooled
km_on_min=$(awk -F, 'NR > 1 { if (m == "" || $3 < m) m = $3 } END { print m }' "$WORK/last.out")

# --- Control on: the auditor on, every attack is blocked -------------------------
rm -f fed/hub/relay.db.pool-history
check "the hub's pooled auditor on (the default), a new history" hub_restart '/^pool_audit/d'
a=$(pc "${G1}age_years <= $A1"); b=$(pc "${G1}age_years < $A1")
if num "$a" && ! num "$b"; then ok "differencing blocked: $a released, the second count $b"
else fail "differencing not blocked ($a, $b)"; fi
a2=$(pc "${G1}age_years <= $A1")
check "a repeat is answered the same ($a2)" test "$a2" = "$a"
a=$(pc "${G2}age_years <= $A2"); b=$(pkm "${G2}age_years < $A2")
if num "$a" && num "$b"; then fail "across kinds not blocked: count $a, km stratum $b"
else ok "across kinds blocked: count $a, km stratum $b"; fi
p=$(pc "$P3"); q=$(pc "${G3}age_years < $A3"); r=$(pc "${G3}age_years > $A3")
if num "$p" && num "$q" && num "$r"; then fail "the tracker not blocked ($p, $q, $r)"
else ok "the tracker blocked: $p, $q, $r"; fi

# Refusals as an oracle: the auditor's withheld cell and min_cell's look the same.
fedra --format json count --pooled --where "${G1}age_years < $A1" | jq -c .result >audit.json
fedra --format json count --pooled --where "${G1}age_years = $A1" | jq -c .result >small.json
check "a cell the auditor withholds looks like one min_cell withholds: $(cat small.json)" \
    cmp -s audit.json small.json
expect_grep '"count_max":null' small.json "neither gives a count or a bound"

# The history survives a restart; recompute audits again against the kept history.
check "the hub restarted" hub_restart '$a # restarted'
b=$(pc "${G1}age_years < $A1")
check "after a restart the history still withholds the second count ($b)" test "$b" = "held"
route=$(last_release_route fed/hub/hub.conf)
expect_status 0 "fedra-hub recompute: the audited release from the kept shares and history" \
    fedra-hub recompute --config fed/hub/hub.conf --route "$route"
expect_grep "release recomputes from the 3 kept shares" "$WORK/last.out" "and it is the one signed"

# A pooled fit is audited too (proto/poolmodel.h: its counts are sets), before any
# node sees its first round's sums; on a new history, so that only the fits count.
rm -f fed/hub/relay.db.pool-history
check "the hub restarted with a new history" hub_restart '$a # new history'
f1=$(pfit "${GF}age_years <= $AF")
set -- $f1
check "a pooled fit over ${GF}age <= $AF is released (n $1, events ${2:-?})" num "$1"
f2=$(pfit "${GF}age_years < $AF")
check "the fit one patient apart is refused ($f2)" test "$f2" = refused
expect_grep "differencing: the counts this fit gives" pfit.err "naming differencing, not the patient"
f3=$(pfit "${GF}age_years <= $AF")
check "the first fit again is a repeat, answered the same ($f3)" test "$f3" = "$f1"
route=$(last_release_route fed/hub/hub.conf)
expect_status 0 "fedra-hub recompute of the audited fit (its rounds and its audit again)" \
    fedra-hub recompute --config fed/hub/hub.conf --route "$route"
expect_grep "the fit's release recomputes" "$WORK/last.out" "and it is the one signed"
# A fit of main effects names its levels without asking them (coord/model.c
# assume_levels). Where one holds no patient, the hub refuses it after the auditor,
# keeping it in the history (proto/poolmodel.h poolmodel_levels_check), and fedra asks
# the levels and fits again, audited against it; on a new history.
rm -f fed/hub/relay.db.pool-history
check "the hub restarted with a new history" hub_restart '$a # another new history'
r0=$(grep -c " route [0-9a-f]* from analyst" fed/hub/hub.log)
expect_status 0 "cox --pooled by age group over ages 5 .. 12 (0-4 and 15+ hold no patient)" \
    fedra --bundle ag.json cox --covariates age_group --where 'age_years>=5 and age_years<=12' \
    --pooled
expect_grep "age_group10-14" "$WORK/last.out" "fitted with 5-9 as the reference"
r1=$(grep -c " route [0-9a-f]* from analyst" fed/hub/hub.log)
check "refused for its levels, the levels asked, fitted again: 3 routes ($((r1 - r0)))" \
    test $((r1 - r0)) = 3
expect_status 0 "fedra verify accepts its bundle (the level table, then the fit)" \
    fedra verify --ca-cert fed/ca/ca.crt ag.json
"$ROOT/scripts/federation" down fed >/dev/null 2>&1

# --- The pooled rules, lowered: they show what the defaults hide -------------------
check "a federation whose nodes lower min_cell and min_sites to 1" \
    "$ROOT/scripts/federation" up low AA=AA.csv BB=BB.csv CC=CC.csv --hub \
    --set min_cell=1 --set min_sites=1
. low/env
hub_low() {
    "$ROOT/scripts/federation" hub-stop low >/dev/null 2>&1
    echo "pool_audit = off" >>low/hub/hub.conf
    "$ROOT/scripts/federation" hub-start low >/dev/null 2>&1 || return 1
    for _ in $(seq 1 150); do fedra ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
check "its hub's auditor off" hub_low
c=$(pc "${G1}age_years = $A1")
if [ "$c" = 1 ]; then ok "min_cell: lowered, the pooled cell of 1 shows; by default it is held (above)"
else fail "min_cell lowered: the cell of one shows $c"; fi
expect_status 0 "count --by tumour_type --pooled (rules lowered)" \
    fedra --format csv count --by tumour_type --pooled
t_low=$(awk -F, -v t="$T" '$1 == t { print ($3 == "" ? "held" : $2) }' "$WORK/last.out")
if [ "$t_on" = held ] && num "$t_low"; then
    ok "min_sites: $T (two nodes, one small) shows $t_low lowered, held by default"
else fail "min_sites: $T shows '$t_low' lowered, '$t_on' by default"; fi
expect_status 0 "km --pooled (rules lowered)" fedra --format csv km --pooled
km_low_min=$(awk -F, 'NR > 1 { if (m == "" || $3 < m) m = $3 } END { print m }' "$WORK/last.out")
if num "$km_on_min" && num "$km_low_min" && [ "$km_on_min" -ge 5 ] && [ "$km_low_min" -lt 5 ]; then
    ok "R4 on the pool: the curve stops at $km_on_min at risk by default, shows $km_low_min lowered"
else fail "R4 on the pool: least at risk $km_on_min by default, $km_low_min lowered"; fi
"$ROOT/scripts/federation" down low >/dev/null 2>&1
done_checks
