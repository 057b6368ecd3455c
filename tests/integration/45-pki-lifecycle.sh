#!/bin/bash
# 45-pki-lifecycle - certificates over years: an offline root with two issuing
# CAs (nodes, analysts), nodes and fedra that trust only the root, both CRLs
# honoured; expiry warnings (node log, fedra, fedra ping); node and analyst
# certificates renewed for the same key and SIGHUP'd while queries run, with
# no query failing; a new node key refused on reload; the node's own
# certificate revoked (it refuses to serve) and the issuing CA revoked at the
# root (queries refused, naming the issuing CA).  openssl verify agrees.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK" || exit 1
command -v openssl >/dev/null || { echo "  openssl CLI missing"; exit 1; }

fedra-gendata --country AA --rows 120 >AA.csv
fedra-gendata --country BB --rows 80 >BB.csv
mkdir -p nodes/AA nodes/BB

echo "-- root, issuing CAs, certificates"
expect_status 0 "root CA" fedra-cert init --ca root --name "Root CA"
expect_status 0 "issuing CA for nodes under the root" fedra-cert init --ca iss --name "Node CA" --parent root
expect_status 0 "issuing CA for analysts under the root" fedra-cert init --ca ana --name "Analyst CA" --parent root
expect_status 1 "an issuing CA cannot certify another CA" fedra-cert init --ca sub --name "Sub CA" --parent iss
expect_grep "is an issuing CA itself" "$WORK/last.err" "refusal says why"
for n in AA BB; do
    fedra-cert issue --ca iss --role node --name $n --out nodes/$n >/dev/null || fail "issue $n"
done
fedra-cert issue --ca ana --role analyst --name alice --out . >/dev/null || fail "issue alice"
check "alice.crt holds the leaf and the issuing CA" [ "$(grep -c 'BEGIN CERTIFICATE' alice.crt)" = 2 ]

# crls: every CA's CRL in one file, installed atomically.
crls() {
    fedra-cert crl --ca root --out root.crl >/dev/null &&
    fedra-cert crl --ca iss --out iss.crl >/dev/null &&
    fedra-cert crl --ca ana --out ana.crl >/dev/null &&
    cat root.crl iss.crl ana.crl >crl.tmp && mv crl.tmp crl.pem
}
check "CRLs of the root and both issuing CAs" crls
check "openssl verifies alice through the issuing CA with every CRL" sh -c \
    'openssl verify -x509_strict -crl_check_all -CAfile root/ca.crt -untrusted alice.crt -CRLfile crl.pem alice.crt | grep -q ": OK"'
expect_status 0 "fedra-cert verify agrees" fedra-cert verify --ca-cert root/ca.crt --crl crl.pem --role analyst alice.crt
expect_status 1 "without the issuing CA's CRL: refused, naming it" fedra-cert verify --ca-cert root/ca.crt --crl root.crl alice.crt
expect_grep "no CRL from 'Analyst CA'" "$WORK/last.err" "missing CRL names the issuing CA"

echo "-- a federation that trusts only the root"
start_node() { # start_node NAME [extra config line]
    local n=$1 d="$WORK/nodes/$1"
    {
        echo "db = $d/store.db"; echo "listen = tcp://127.0.0.1:*"
        echo "cert = $d/$n.crt"; echo "key = $d/$n.key"
        echo "ca_cert = $WORK/root/ca.crt"; echo "crl = $WORK/crl.pem"
        echo "query_audit = off"    # certificates here, not differencing (75-disclosure)
        [ -n "${2:-}" ] && echo "$2"
    } >"$d/node.conf"
    [ -f "$d/store.db" ] || fedra-node import --db "$d/store.db" "$WORK/$n.csv" >"$d/import.log" 2>&1
    fedra-node serve --config "$d/node.conf" >>"$d/node.log" 2>&1 &
    echo $! >"$d/node.pid"
    local t=0 ep=""
    while [ -z "$ep" ] && [ $t -lt 200 ]; do
        sleep 0.1; t=$((t + 1))
        ep=$(sed -n 's/.* serving on \(tcp:[^ :]*:[0-9]*\):.*/\1/p' "$d/node.log" | tail -n 1)
    done
    echo "$ep" >"$d/endpoint"
    [ -n "$ep" ]
}
check "node AA starts (cert_warn_days = 400)" start_node AA "cert_warn_days = 400"
check "node BB starts" start_node BB
mkdir -p fedcerts && cp nodes/AA/AA.crt nodes/BB/BB.crt fedcerts/
{
    echo "ca_cert = $WORK/root/ca.crt"
    echo "crl = $WORK/crl.pem"
    # The coordinator's own copies: node renewals for the same key need no change here.
    for n in AA BB; do echo "node = $n $(cat nodes/$n/endpoint) $WORK/fedcerts/$n.crt"; done
} >federation
export FEDRA_FEDERATION=$WORK/federation FEDRA_CERT=$WORK/alice.crt FEDRA_KEY=$WORK/alice.key
hup() { kill -HUP "$(cat nodes/$1/node.pid)"; }

expect_status 0 "a query through issuing CAs is answered by every node" fedra count --by stage
expect_grep "warning: certificate 'AA' \(serial [0-9A-F]+\) expires at .*within cert_warn_days = 400" \
    nodes/AA/node.log "node warns at start when its certificate expires within cert_warn_days"
if grep -q "warning: certificate 'BB'" nodes/BB/node.log; then fail "BB warned with 365 days left and the default 30"; else
    ok "no warning with 365 days left and the default of 30 days"; fi

echo "-- expiry warnings on the statistician's side"
fedra-cert issue --ca ana --role analyst --name soon --out . --days 10 >/dev/null
expect_status 0 "an analyst certificate expiring in 10 days still works" fedra --cert soon.crt --key soon.key count
expect_grep "warning: your certificate 'soon' \(serial [0-9A-F]+\) expires at .*, in (9|10) days" \
    "$WORK/last.err" "fedra warns that the analyst's own certificate expires soon"
expect_status 0 "ping" fedra ping
if grep -q "warning: node" "$WORK/last.err"; then fail "ping warned with 365 days left"; else ok "ping: no warning with 365 days left"; fi
fedra-cert issue --ca iss --role node --name BB --key nodes/BB/BB.key --days 20 --out renew-bb >/dev/null
mv renew-bb/BB.crt nodes/BB/BB.crt && hup BB && sleep 0.5
expect_status 0 "ping after BB's renewal to 20 days" fedra ping
expect_grep "warning: node 'BB' certificate expires at .*, in (19|20) days" "$WORK/last.err" "fedra ping warns about BB's certificate"
end=$(date -u -d "$(openssl x509 -in nodes/BB/BB.crt -noout -enddate | sed 's/notAfter=//')" +%Y-%m-%dT%H:%M:%SZ)
expect_grep "^BB .*certificate valid until $end" "$WORK/last.out" "ping shows BB's new expiry ($end, as openssl reads it)"

echo "-- renewal during a stream of queries"
: >stream.err
(
    for i in $(seq 1 24); do
        fedra --timeout 20000 count >/dev/null 2>>stream.err || echo "query $i failed" >>stream.err
    done
    echo done >stream.done
) &
loop=$!
for r in 1 2 3; do
    sleep 0.3
    rm -rf renew-aa renew-alice
    fedra-cert issue --ca iss --role node --name AA --key nodes/AA/AA.key --out renew-aa >/dev/null
    mv renew-aa/AA.crt nodes/AA/AA.crt && hup AA
    sleep 0.3
    fedra-cert issue --ca ana --role analyst --name alice --key alice.key --out renew-alice >/dev/null
    mv renew-alice/alice.crt alice.crt
done
wait $loop
check "the query loop finished" [ -f stream.done ]
if grep -q failed stream.err; then fail "queries failed during renewal: $(grep -c failed stream.err)"; sed 's/^/       | /' stream.err | head
else ok "24 queries, 3 node and 3 analyst renewals: no query failed"; fi
aa_serial=$(openssl x509 -in nodes/AA/AA.crt -noout -serial | sed 's/serial=//')
expect_grep "reload: certificate 'AA' \(serial $aa_serial\) loaded" nodes/AA/node.log "AA reloaded its newest certificate"
expect_status 0 "a query with the renewed analyst certificate" fedra count
al_serial=$(openssl x509 -in alice.crt -noout -serial | sed 's/serial=//')
sqlite3 nodes/AA/store.db "SELECT signer FROM audit WHERE event='answered'" | grep -q alice &&
    ok "the node audited the renewed analyst's queries" || fail "no answered query from alice in the audit"

echo "-- a new node key needs a restart"
mkdir -p save && cp nodes/AA/AA.crt nodes/AA/AA.key save/
fedra-cert issue --ca iss --role node --name AA --out newkey >/dev/null
cp newkey/AA.crt nodes/AA/AA.crt && cp newkey/AA.key nodes/AA/AA.key && hup AA && sleep 0.5
expect_grep "is a new key, which changes the node's transport key; restart the node" nodes/AA/node.log \
    "reload refuses a new key and says why"
expect_status 0 "queries still answered with the old key" fedra count
cp save/AA.crt nodes/AA/AA.crt && cp save/AA.key nodes/AA/AA.key

echo "-- the node's own certificate revoked: it refuses to serve"
fedra-cert revoke --ca iss --name BB --reason keyCompromise >/dev/null
check "CRLs with BB revoked" crls
hup BB; hup AA; sleep 0.5
expect_grep "error: this node's certificate is not usable, so the node refuses every query .*certificate 'BB' \(serial [0-9A-F]+\) was revoked at .*keyCompromise" \
    nodes/BB/node.log "BB logs that its own certificate is revoked"
fedra count >last.out 2>last.err
cat last.out last.err >both.txt
expect_grep "BB +(refused|error) +.*certificate 'BB' \(serial [0-9A-F]+\) was revoked at" both.txt \
    "fedra reports BB's revocation as the reason"
expect_grep "AA +ok" both.txt "AA still answers"
echo "-- fresh start with a revoked certificate fails closed"
kill -TERM "$(cat nodes/BB/node.pid)"; sleep 0.5
expect_status 1 "BB does not start with its revoked certificate" fedra-node serve --config nodes/BB/node.conf
expect_grep "certificate 'BB' \(serial [0-9A-F]+\) was revoked at" "$WORK/last.err" "start refusal names the revocation"

echo "-- the analysts' issuing CA revoked at the root"
fedra-cert revoke --ca root --name "Analyst CA" --reason CACompromise >/dev/null
check "CRLs with the Analyst CA revoked" crls
hup AA; sleep 0.5
expect_status 3 "alice's query is refused" fedra count
expect_grep "AA +refused +.*certificate 'alice' \(serial [0-9A-F]+\): its CA 'Analyst CA' \(serial [0-9A-F]+\) was revoked at .*CACompromise" \
    "$WORK/last.out" "refusal names the revoked issuing CA, when and why"
openssl verify -x509_strict -crl_check_all -CAfile root/ca.crt -untrusted alice.crt -CRLfile crl.pem alice.crt >ossl.out 2>&1
expect_grep "error 23 at 1 depth lookup: certificate revoked" ossl.out "openssl agrees: the issuing CA (depth 1) is revoked"
expect_status 1 "fedra-cert verify agrees" fedra-cert verify --ca-cert root/ca.crt --crl crl.pem alice.crt
expect_grep "its CA 'Analyst CA' .* was revoked at" "$WORK/last.err" "fedra-cert verify names the issuing CA"

kill -TERM "$(cat nodes/AA/node.pid)" 2>/dev/null; sleep 0.5
done_checks
