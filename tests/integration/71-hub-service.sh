# 71-hub-service - fedra-hub as a program and a service, without nodes or analysts
# (the relay itself: tests/unit/test_hub_relay.c and test_hub_serve.c; whole
# federations behind a hub: the hub scenarios of scripts/federation --hub).
#   - help from its command table, usage errors exit 2;
#   - scripts/fedra-hub.service verifies and is hardened like the node's;
#   - a bad config is refused by line and column; a certificate that is not a
#     usable hub certificate (role node, revoked) stops the start;
#   - it serves, `status` says so (text and JSON), a junk flood on its port is
#     dropped, counted and logged at a bounded rate while it keeps serving;
#   - SIGHUP reloads; a CRL revoking the hub's own certificate makes it relay
#     nothing, loudly, and status exits 3 naming why;
#   - SIGTERM stops it cleanly, and its relay log's chain verifies;
#   - with crl_url it starts without a CRL, relays nothing until the first
#     fetch, then relays (tests/integration/crlserver.py as the CA's server).
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"

jqt() { jq -e "$@" >/dev/null; }     # jqt FILTER FILE: the filter holds
# eventually CMD...: CMD succeeds within FEDRA_START_TIMEOUT seconds (valgrind is slow).
eventually() {
    local t=0
    until "$@" >/dev/null 2>&1; do
        t=$((t + 1)); [ $t -gt $(( ${FEDRA_START_TIMEOUT:-10} * 10 )) ] && return 1; sleep 0.1
    done
}
# status_json: the hub's status as JSON, in $WORK/status.json.

# ---- help and usage ----
expect_status 0 "fedra-hub --help exits 0" fedra-hub --help
cp last.out list.txt
for c in serve status "log verify" "log export"; do expect_help fedra-hub "$c" list.txt; done
expect_status 2 "fedra-hub without a command exits 2" fedra-hub
expect_status 2 "an unknown command exits 2" fedra-hub nosuch
expect_grep "unknown command 'nosuch'" last.err "it names the unknown command"
expect_status 2 "serve without --config exits 2" fedra-hub serve
expect_status 2 "status with an unknown format exits 2" fedra-hub status --config x --format xml

# ---- the systemd unit ----
if command -v systemd-analyze >/dev/null; then
    sed "s|^ExecStart=/usr/local/bin/fedra-hub |ExecStart=$FEDRA_BIN/fedra-hub |" \
        "$ROOT/scripts/fedra-hub.service" >fedra-hub.service
    expect_status 0 "systemd-analyze verify accepts fedra-hub.service" \
        systemd-analyze verify "$WORK/fedra-hub.service"
    if [ -s last.err ]; then fail "systemd-analyze verify warned:"; sed 's/^/       | /' last.err
    else ok "systemd-analyze verify: no warning"; fi
    for kv in 'User=fedra' 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'CapabilityBoundingSet=' \
              'ReadWritePaths=/var/lib/fedra-hub' 'SystemCallFilter=@system-service' \
              'MemoryDenyWriteExecute=yes' 'ExecReload=/bin/kill -HUP [$]MAINPID'; do
        expect_grep "^$kv\$" fedra-hub.service "hub unit sets $kv"
    done
    systemd-analyze security --offline=yes "$WORK/fedra-hub.service" >security.out 2>&1
    score=$(sed -n 's/.*Overall exposure level for fedra-hub.service: \([0-9.]*\).*/\1/p' security.out)
    if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
        ok "systemd-analyze security: hub exposure $score (<= 2.0)"
    else
        fail "systemd-analyze security: hub exposure '$score' (> 2.0)"; tail -n 5 security.out
    fi
else
    fail "systemd-analyze missing (scripts/install-deps installs systemd)"
fi

# ---- a CA, the hub's certificate, a node's, a CRL ----
fedra-cert init --ca ca --name "hub test CA" >/dev/null
fedra-cert issue --ca ca --role hub --name hub1 --out hub >/dev/null
fedra-cert issue --ca ca --role node --name DE --out hub >/dev/null
fedra-cert crl --ca ca --out ca/crl.pem >/dev/null
conf() { # conf NAME [EXTRA LINE]: a hub config using certificate NAME
    printf 'listen = tcp://127.0.0.1:*\ncert = %s.crt\nkey = %s.key\nca_cert = ../ca/ca.crt\ncrl = ../ca/crl.pem\nlog = relay.db\n%s\n' \
        "$1" "$1" "${2:-}"
}
conf hub1 "queue_per_node = 5000" >hub/bad.conf
expect_status 1 "a bad value stops the start" fedra-hub serve --config hub/bad.conf
expect_grep "bad.conf:7:18: queue_per_node = '5000': must be an integer from 1 to 1024" last.err \
    "it is named by file, line and column"
conf DE >hub/node.conf
expect_status 1 "a node's certificate is not a hub's" fedra-hub serve --config hub/node.conf
expect_grep "wrong role" last.err "the start says why (role)"

# ---- serve, status ----
conf hub1 >hub/hub.conf
: >hub/hub.log
fedra-hub serve --config hub/hub.conf 2>>hub/hub.log &
pid=$!
eventually grep -q " serving on tcp:" hub/hub.log
ep=$(sed -n 's/.* serving on \(tcp:[^ :]*:[0-9]*\):.*/\1/p' hub/hub.log | tail -n 1)
if [ -n "$ep" ]; then ok "the hub serves on $ep"; else fail "the hub did not start"; cat hub/hub.log; fi
expect_status 0 "status: running and relaying" fedra-hub status --config hub/hub.conf
expect_grep "^ok: +the hub is running and relaying" last.out "status says ok"
expect_status 0 "status --format json" fedra-hub status --config hub/hub.conf --format json
check "json: running, relaying, endpoint" \
    jqt --arg ep "$ep" '.hub.running and .hub.relaying and .hub.endpoint == $ep and .ok' last.out

# ---- a junk flood on its port ----
"$FEDRA_BIN/tests/fedra-fakenode" flood hub/hub1.crt "$ep" 3 8 >flood.out 2>&1
expect_grep "junk messages" flood.out "the flood ran"
check "the hub survived the flood" kill -0 "$pid"
# The state file is rewritten within a second of a change.
check "junk was dropped and counted" eventually sh -c \
    'fedra-hub status --config hub/hub.conf --format json | jq -e ".counters.junk_dropped > 100"'
expect_status 0 "status after the flood: still relaying" fedra-hub status --config hub/hub.conf
# At most one line per second, plus the summary of the second before (RELAY_LOG_EVERY_MS).
n=$(grep 'junk\|not a hub frame' hub/hub.log | cut -c1-19 | uniq -c | awk '$1 > m { m = $1 } END { print m + 0 }')
check "junk is logged at a bounded rate (at most $n lines in any second)" test "$n" -le 2

# ---- SIGHUP, then a CRL that revokes the hub ----
kill -HUP "$pid"
check "SIGHUP reloads the CA and CRL" eventually grep -q "reload: CA and CRL loaded" hub/hub.log
fedra-cert revoke --ca ca --name hub1 >/dev/null
fedra-cert crl --ca ca --out ca/crl.pem >/dev/null
kill -HUP "$pid"
check "a revoked hub certificate stops the relaying, loudly" eventually \
    grep -q "relaying NOTHING: the hub's own certificate is not usable (revoked)" hub/hub.log
eventually sh -c 'fedra-hub status --config hub/hub.conf | grep -q "relays nothing"'
check "the hub still runs (it recovers with a new certificate and SIGHUP)" kill -0 "$pid"
expect_status 3 "status: exit 3 while it relays nothing" fedra-hub status --config hub/hub.conf
expect_grep "^problem: +the hub relays nothing: .*revoked" last.out "status names the problem"

# ---- stop ----
kill -TERM "$pid"
wait "$pid"
check "SIGTERM stops it cleanly (exit 0)" test $? = 0
expect_status 0 "fedra-hub log verify: the relay log's chain holds" fedra-hub log verify --config hub/hub.conf
expect_grep "^relay log intact: [0-9]+ entries" last.out "log verify counts the entries"
expect_status 0 "fedra-hub log export" fedra-hub log export --db hub/relay.db
check "the export is JSON lines with started and stopped" \
    jqt -s 'map(.kind) | index("started") != null and index("stopped") != null' last.out
expect_status 3 "status after the stop: exit 3, not running" fedra-hub status --config hub/hub.conf

# ---- crl_url: a hub that starts without a CRL relays nothing until it fetches one ----
mkdir -p www
cp ca/crl.pem www/crl
python3 "$ROOT/tests/integration/crlserver.py" "$WORK/www" 2>www.log &
srv=$!
trap 'kill $srv 2>/dev/null' EXIT
eventually test -s www/port
fedra-cert issue --ca ca --role hub --name hub2 --out hub >/dev/null
{
    echo "listen = tcp://127.0.0.1:*"
    echo "cert = hub2.crt"
    echo "key = hub2.key"
    echo "ca_cert = ../ca/ca.crt"
    echo "crl = fetched-crl.pem"
    echo "crl_url = http://127.0.0.1:$(cat www/port)/crl"
    echo "log = relay2.db"
} >hub/hub2.conf
: >hub/hub2.log
fedra-hub serve --config hub/hub2.conf 2>>hub/hub2.log &
pid2=$!
check "with crl_url the hub starts without a CRL file" eventually grep -q " serving on tcp:" hub/hub2.log
check "and it fetches one" eventually grep -q "crl fetch from .*: installed CRL number" hub/hub2.log
check "then it relays" eventually grep -q "relaying again" hub/hub2.log
check "the fetched CRL is saved where crl names it" test -s hub/fetched-crl.pem
eventually fedra-hub status --config hub/hub2.conf
expect_status 0 "status: running and relaying" fedra-hub status --config hub/hub2.conf
expect_grep "CRL fetch: +http://127.0.0.1:[0-9]+/crl every 3600 s; last .*: installed CRL number" \
    last.out "status shows the fetch"
kill -TERM "$pid2"
wait "$pid2"
check "it stops cleanly" test $? = 0
done_checks
