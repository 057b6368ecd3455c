# 76-hublink - a node configured to dial out to a hub, without the hub: it opens
# no listening socket, says what its link is doing in its log and in
# `fedra-node status` (text and JSON, exit 3 while the link is not up), drops the
# link when the hub's certificate is revoked (SIGHUP with a new CRL), and refuses
# to start on a bad hub configuration, naming the key; with listen too, it answers
# direct queries while its hub link is down.  The node behind a real hub is 90-hub's.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"

fedra-gendata --country AA --rows 120 >AA.csv
check "federation up" "$ROOT/scripts/federation" up fed AA=AA.csv
"$ROOT/scripts/federation" down fed >/dev/null 2>&1
check "a hub certificate" sh -c "fedra-cert issue --ca fed/ca --role hub --name hub --out hubcert >/dev/null"
conf=fed/nodes/AA/node.conf
db=fed/nodes/AA/store.db
# A port nobody listens on: bind one, note it, let it go.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i '/^listen/d' "$conf"
printf 'hub = tcp://127.0.0.1:%s\nhub_cert = %s\n' "$port" "$WORK/hubcert/hub.crt" >>"$conf"
cp "$conf" good.conf

fedra-node serve --config "$conf" >node.log 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '"state":"connecting"' "$db.status" 2>/dev/null && break; sleep 0.1; done
expect_grep "serving on no listening socket, through the hub at tcp://127.0.0.1:$port" node.log \
    "the log says the node listens on nothing and dials the hub"
expect_grep "hub link tcp://127.0.0.1:$port: connecting: dialling hub 'hub'" node.log \
    "the log says the link is dialling"
if command -v ss >/dev/null; then
    check "ss: the node has no listening socket" sh -c "! ss -ltnp | grep -q 'pid=$pid,'"
fi

expect_status 3 "status while the hub is unreachable: exit 3" fedra-node status --config "$conf"
cp last.out status.txt
expect_grep "^node: +AA running, pid $pid, .* on no listening socket" status.txt "text: no listening socket"
expect_grep "^hub: +tcp://127.0.0.1:$port$" status.txt "text: the hub's endpoint"
expect_grep "^ +hub 'hub', certificate .*hub.crt expires " status.txt "text: the hub certificate"
expect_grep "^hub link: +connecting since .*, last welcome never: dialling hub 'hub'" status.txt \
    "text: the link is connecting, never welcomed"
expect_grep "^problem: +the hub link is not up \(connecting\)" status.txt "text: named as a problem"
expect_status 3 "status --format json" fedra-node status --config "$conf" --format json
cp last.out status.json
j() { python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' status.json "$1"; }
check "json: hub.endpoint" [ "$(j hub.endpoint)" = "tcp://127.0.0.1:$port" ]
check "json: hub.state connecting" [ "$(j hub.state)" = connecting ]
check "json: hub.hub_name" [ "$(j hub.hub_name)" = hub ]
check "json: hub.last_welcome none" [ "$(j hub.last_welcome)" = None ]
check "json: hub.socks_proxy none" [ "$(j hub.socks_proxy)" = None ]
na=$(openssl x509 -in hubcert/hub.crt -noout -enddate | sed 's/^notAfter=//')
check "json: hub_cert_not_after is the certificate's notAfter" \
    [ "$(date -u -d "$(j hub.hub_cert_not_after)" +%s)" = "$(date -u -d "$na" +%s)" ]

# The hub's certificate revoked: a new CRL and SIGHUP, and the link is gone.
fedra-cert revoke --ca fed/ca --name hub >/dev/null
fedra-cert crl --ca fed/ca --out fed/ca/crl.pem >/dev/null
kill -HUP $pid
for _ in $(seq 100); do grep -q '"state":"no link"' "$db.status" 2>/dev/null && break; sleep 0.1; done
expect_grep "hub link tcp://127.0.0.1:$port: no link: the hub certificate .* is not usable: .*was revoked" \
    node.log "the log says the revoked hub gets no link"
expect_status 3 "status with a revoked hub: exit 3" fedra-node status --config "$conf"
expect_grep "^hub link: +no link since .*revoked" last.out "text: no link, because revoked"
check "the node still runs" kill -0 $pid
kill $pid; wait $pid 2>/dev/null
expect_grep "stopped: " node.log "the node stops on SIGTERM"

# With listen as well, a node whose hub link is down (here: its hub revoked) still
# answers direct queries.
cp good.conf "$conf"; echo "listen = tcp://127.0.0.1:*" >>"$conf"
: >"$db.status"
fedra-node serve --config "$conf" >node2.log 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '"state":"no link"' "$db.status" 2>/dev/null && break; sleep 0.1; done
ep=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint"])' "$db.status")
sed -i "s|^node = AA [^ ]* |node = AA $ep |" fed/federation
. fed/env
expect_status 0 "listen and hub: a direct count is answered while the hub link is down" \
    fedra count --by sex
expect_status 3 "status: the hub link is the problem" fedra-node status --config "$conf"
expect_grep "^node: +AA running, pid $pid, .* on $ep" last.out "text: the endpoint it listens on"
expect_grep "^problem: +the hub link is not up \(no link\)" last.out "text: the link named as the problem"
kill $pid; wait $pid 2>/dev/null

# A bad hub configuration stops the node at start, naming what is wrong.
start_fails() { # start_fails NAME PATTERN
    expect_status 1 "$1" timeout 20 fedra-node serve --config "$conf"
    expect_grep "$2" last.err "$1: the message says /$2/"
}
sed '/^hub_cert/d' good.conf >"$conf"
start_fails "hub without hub_cert refused" "hub needs hub_cert"
cp good.conf "$conf"; echo "socks_proxy = proxy.example.org" >>"$conf"
start_fails "socks_proxy without a port refused" "node.conf:[0-9]+: socks_proxy = 'proxy.example.org': must be HOST:PORT"
sed '/^hub/d' good.conf >"$conf"
start_fails "neither listen nor hub refused" "missing required key 'listen' \(.*hub = ENDPOINT"
done_checks
