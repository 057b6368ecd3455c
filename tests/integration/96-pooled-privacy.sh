# 96-pooled-privacy - what a hub sees of pooled release, and what one node
# colluding with it can learn (docs/disclosure.md §8.3).  A recording hub
# (fedra-tamperhub --record: the real relay, writing down every pooled share
# it receives) serves the federation; tests/tools/poolpeek.c reads the shares
# as the hub and a colluding node could.
#   - control off: a roster of two (both the hub's roster_min and the nodes'
#     pool_min_participants lowered to 2, for this test only).  The colluding
#     node removes its pair mask from the other node's share and reads that
#     node's count exactly: the number of its records, which no pooled answer
#     releases.
#   - control on: a roster of three.  The same attack leaves the masks the
#     victim shares with the third node: what is left is uniformly random, as
#     the share itself is to the hub (chi-square of its bytes).
# Targets come from this run's random data: the victim's true count is its
# CSV's row count.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
CHISQ_CRIT=377.1        # chi-square, 255 df: qchisq(1 - 1e-6, 255), so a fair draw fails 1 run in 10^6

seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}    # FEDRA_TEST_SEED=N reruns one draw
echo "  data seed $seed"
for i in 0 1 2; do
    n=$(echo AA BB CC | cut -d' ' -f$((i + 1)))
    fedra-gendata --country $n --rows $((30 + (seed + 11 * i) % 60)) --seed "$((seed + i))" >$n.csv
done
rows() { echo $(( $(wc -l <"$1.csv") - 1 )); }

# recording_hub DIR REC: replace DIR's hub by a recording one on the same port.
recording_hub() {
    "$ROOT/scripts/federation" hub-stop "$1" >/dev/null 2>&1
    mkdir -p "$2"
    "$FEDRA_BIN/tests/fedra-tamperhub" --record "$2" --config "$1/hub/hub.conf" >>"$1/hub/hub.log" 2>&1 &
    echo $! >"$1/hub/hub.pid"
    # The nodes dial the same port again (their backoff): wait until all answer.
    for _ in $(seq 1 150); do
        FEDRA_FEDERATION=$1/federation FEDRA_CERT=$1/analyst.crt FEDRA_KEY=$1/analyst.key \
            fedra ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# --- Control off: a roster of two --------------------------------------------
check "federation of two behind a hub (pool_min_participants 2)" \
    "$ROOT/scripts/federation" up two AA=AA.csv CC=CC.csv --hub --set pool_min_participants=2
printf 'roster = AA,CC\nroster_min = 2\n' >>two/hub/hub.conf
check "a recording hub takes over" recording_hub two rec2
expect_status 0 "pooled count over the two" \
    env FEDRA_FEDERATION=two/federation FEDRA_CERT=two/analyst.crt FEDRA_KEY=two/analyst.key \
    fedra count --pooled
share=$(ls rec2/AA.*.share 2>/dev/null | head -n 1)
check "the hub recorded AA's share" test -n "$share"
"$FEDRA_BIN/tests/fedra-poolpeek" "$share" --colluder two/nodes/CC/CC.key >peek2.out 2>&1
want=$(rows AA)
if grep -q "^values $want\$" peek2.out; then
    ok "control off: CC and the hub read AA's count ($want records) out of its share"
else fail "control off: the attack did not recover AA's count $want"; sed 's/^/       | /' peek2.out; fi
"$ROOT/scripts/federation" down two >/dev/null 2>&1

# --- Control on: a roster of three --------------------------------------------
check "federation of three behind a hub" \
    "$ROOT/scripts/federation" up three AA=AA.csv BB=BB.csv CC=CC.csv --hub
check "a recording hub takes over" recording_hub three rec3
export FEDRA_FEDERATION=three/federation FEDRA_CERT=three/analyst.crt FEDRA_KEY=three/analyst.key
expect_status 0 "pooled km over the three (thousands of positions)" fedra km --pooled
expect_status 0 "pooled count over the three" fedra count --pooled
for share in rec3/AA.*.share; do
    "$FEDRA_BIN/tests/fedra-poolpeek" "$share" --colluder three/nodes/CC/CC.key >peek3.out 2>&1
    u=$(sed -n 's/^uniform \([0-9.]*\) .*/\1/p' peek3.out)
    m=$(sed -n 's/^masked \([0-9.]*\)$/\1/p' peek3.out)
    pos=$(sed -n 's/^node AA positions \([0-9]*\)$/\1/p' peek3.out)
    if [ -z "$m" ]; then fail "control on: CC and the hub read AA's share ($pos positions)"
        sed 's/^/       | /' peek3.out
    elif [ "$pos" -gt 100 ]; then
        if awk -v u="$u" -v m="$m" -v c=$CHISQ_CRIT 'BEGIN { exit !(u < c && m < c) }'; then
            ok "control on: AA's share is uniform to the hub (chi-square $u) and stays so with CC's keys ($m), $pos positions"
        else fail "control on: not uniform: share $u, after CC's mask $m (critical $CHISQ_CRIT)"; fi
    else
        ok "control on: AA's one-position share stays masked with CC's keys"
    fi
done
"$ROOT/scripts/federation" down three >/dev/null 2>&1
done_checks
