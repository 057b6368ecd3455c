# 68-model-faults - a node restarted again and again while Cox models are being
# fitted (so restarts fall between and during Newton-Raphson rounds): every fit
# is either the exact model of all nodes or the exact model of the nodes that
# took part, with the missing node named, each checked against R.  Never a
# wrong number.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
command -v Rscript >/dev/null || { fail "Rscript not found: run scripts/install-deps"; done_checks; }
fedra-gendata --country AA --rows 3000 --seed 21 >AA.csv
fedra-gendata --country BB --rows 3000 --seed 22 >BB.csv
{ cat AA.csv; tail -n +2 BB.csv; } >all.csv
check "federation up" "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv --set min_cell=1 \
    --set query_audit=off
. fed/env
# BB comes back on the same port after each restart, as a registry's node would.
port=$(sed -n 's/^node = BB tcp:\/\/127.0.0.1:\([0-9]*\) .*/\1/p' fed/federation)
sed -i "s|^listen = .*|listen = tcp://127.0.0.1:$port|" fed/nodes/BB/node.conf
restarter() {
    while [ -f restarting ]; do
        kill "$(cat fed/nodes/BB/node.pid)" 2>/dev/null; sleep 0.05
        fedra-node serve --config fed/nodes/BB/node.conf >>fed/nodes/BB/node.log 2>&1 &
        echo $! >fed/nodes/BB/node.pid
        sleep 0.25
    done
}
: >restarting
restarter &
full=0 partial=0 wrong=0 spanned=0
for i in $(seq 1 12); do
    r0=$(grep -c ' serving on ' fed/nodes/BB/node.log)
    # One fit, saved as a bundle; its CSV is recomputed from the bundle (the same rounds).
    # --allow-partial: a fit without BB is printed, marked partial (and named as such).
    fedra --timeout 2000 --bundle b.json --format json cox --covariates stage,age_years,sex \
        --allow-partial >f.json 2>f.err; s=$?
    [ "$(grep -c ' serving on ' fed/nodes/BB/node.log)" -gt "$r0" ] && spanned=$((spanned + 1))
    if [ "$s" != 0 ] && [ "$s" != 3 ]; then
        wrong=$((wrong + 1)); echo "       run $i: exit $s"; sed 's/^/       | /' f.err | head -5; continue; fi
    if ! fedra --format csv verify --ca-cert fed/ca/ca.crt b.json >f.csv 2>v.err; then
        wrong=$((wrong + 1)); echo "       run $i: its bundle does not verify"; sed 's/^/       | /' v.err | head -5
        continue; fi
    if Rscript "$ROOT/tests/integration/models.R" all.csv f.csv f.json cox os 30 efron \
        stage,age_years,sex - TRUE >r.out 2>&1; then
        [ "$s" = 0 ] && full=$((full + 1)) || partial=$((partial + 1))
    else wrong=$((wrong + 1)); echo "       run $i (exit $s):"; sed 's/^/       | /' r.out f.err | head -8; fi
    if [ "$s" = 3 ] && ! grep -Eq '"name": "BB", *"status": "(timeout|error|refused)"' \
        <(tr -d '\n' <f.json | sed 's/  */ /g'); then
        fail "run $i: exit 3 without naming BB"; fi
    if [ "$s" = 3 ] && ! grep -q '"partial": true' f.json; then fail "run $i: a fit without BB not marked partial"; fi
    if [ "$s" = 0 ] && ! grep -q '"partial": false' f.json; then fail "run $i: a fit of both nodes not marked pooled"; fi
done
rm -f restarting; wait
[ "$wrong" = 0 ] && ok "12 fits under restarts: $full exact over both nodes, $partial exact over AA with BB named, none wrong" \
    || fail "$wrong fits gave a wrong or unreadable result"
[ "$spanned" -ge 1 ] && ok "$spanned of the 12 fits had BB restarted while they ran" \
    || fail "no fit had BB restarted while it ran"
restarts=$(grep -c ' serving on ' fed/nodes/BB/node.log)
[ "$restarts" -gt 5 ] && ok "BB was restarted $restarts times during the fits" || fail "BB restarted only $restarts times"
"$ROOT/scripts/federation" down fed >/dev/null
done_checks
