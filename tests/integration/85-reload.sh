# 85-reload - SIGHUP reloads certificates, CRL, policy and data without
# dropping a connection or a query: a stream of queries runs while each node
# gets SIGHUP several times (with a new CRL and a new policy in between); no
# query fails.  Then SIGTERM stops the nodes cleanly.  The node logs one line
# per event, each query's line carrying its query id.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"

fedra-gendata --country AA --rows 200 >AA.csv
fedra-gendata --country BB --rows 150 >BB.csv
check "federation up" "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv --set query_audit=off
. fed/env
QUERIES=40
HUPS=6
expect_status 3 "before: a 7-day grid is finer than the policy allows" fedra km --grid 7

# The stream: back-to-back counts from before the first SIGHUP until after the last
# (at least QUERIES of them); each must be answered by both nodes (exit 0).
( i=0
  while [ ! -f stop ] || [ $i -lt $QUERIES ]; do
      i=$((i + 1))
      fedra --timeout 10000 count --by sex >"q$i.out" 2>&1; echo "$i $?"
  done >stream.status ) &
stream=$!
sleep 0.3
for h in $(seq $HUPS); do
    case $h in
        2) fedra-cert crl --ca fed/ca --out fed/ca/crl.pem >/dev/null ;;     # a new CRL number
        4) for n in AA BB; do echo "time_grid_days = 7" >>fed/nodes/$n/node.conf; done ;;
    esac
    "$ROOT/scripts/federation" reload fed >/dev/null
    sleep 0.3
done
touch stop
wait $stream
n=$(wc -l <stream.status)
bad=$(awk '$2 != 0' stream.status | wc -l)
check "$n queries ran across the reloads (at least $QUERIES)" [ "$n" -ge "$QUERIES" ]
if [ "$bad" = 0 ]; then ok "no query failed during $HUPS SIGHUPs"; else
    fail "$bad queries failed during the reloads"; awk '$2 != 0' stream.status | head -3
    f=$(awk '$2 != 0 { print $1; exit }' stream.status); sed 's/^/       | /' "q$f.out" | head; fi
for nd in AA BB; do
    log=fed/nodes/$nd/node.log
    r=$(grep -c "reload: data " "$log")
    check "$nd reloaded $HUPS times ($r)" [ "$r" = "$HUPS" ]
    expect_grep "reload: CA and CRL loaded \(CRL number 2\)" "$log" "$nd took the new CRL on reload"
    a=$(grep -cE "query [0-9a-f]{16,} from analyst: answered" "$log")
    check "$nd logged $n answered queries, each with its query id ($a)" [ "$a" -ge "$n" ]
    # Reloads happened while the stream ran: a query was answered after each one.
    last=$(grep -n "reload: data " "$log" | tail -n 1 | cut -d: -f1)
    check "$nd answered queries after its last reload" \
        sh -c "tail -n +$last '$log' | grep -q 'from analyst: answered count'"
    # One line per event: every line starts with the timestamp and the node name.
    other=$(grep -vcE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z fedra-node\[$nd\] " "$log")
    check "$nd: every log line is one timestamped event ($other others)" [ "$other" = 0 ]
done
expect_status 0 "after: the new policy is in force (a 7-day grid is accepted)" fedra km --grid 7
"$ROOT/scripts/federation" down fed >/dev/null
for nd in AA BB; do
    expect_grep "SIGTERM received: stopping" fed/nodes/$nd/node.log "$nd stopped on SIGTERM"
    expect_grep "stopped: [0-9]+ answered, 1 refused" fed/nodes/$nd/node.log \
        "$nd: only the 7-day grid before the reload was refused"
    expect_status 0 "$nd audit log intact" fedra-node audit verify --db fed/nodes/$nd/store.db
done
done_checks
