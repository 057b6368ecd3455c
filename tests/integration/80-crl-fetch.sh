# 80-crl-fetch - the node keeps its CRL current from crl_url (docs/node-config.md)
# against a local web server (tests/integration/crlserver.py) that misbehaves
# on demand.  A newly revoked analyst is refused within the refresh interval,
# without a reload; a huge body, a slow drip, a redirect to file://, a redirect
# loop, a CRL signed by another CA and a CRL with a lower number are all
# refused with the reason logged, and the node keeps the CRL it holds and keeps
# answering; a CRL past its nextUpdate makes the node refuse every query with
# the reason (fail closed) until a current CRL arrives.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"

command -v python3 >/dev/null || { fail "python3 missing (scripts/install-deps installs it)"; done_checks; }
mkdir www
python3 "$ROOT/tests/integration/crlserver.py" "$WORK/www" 2>www.log &
srv=$!
trap 'kill $srv 2>/dev/null; "$ROOT/scripts/federation" down "$WORK/fed" >/dev/null 2>&1' EXIT
for _ in $(seq 50); do [ -s www/port ] && break; sleep 0.1; done
port=$(cat www/port)
url="http://127.0.0.1:$port/crl"
REFRESH=10
TIMEOUT=8

fedra-gendata --country AA --rows 100 >AA.csv
check "federation up with crl_url" "$ROOT/scripts/federation" up fed AA=AA.csv \
    --set crl_url="$url" --set crl_refresh_seconds=$REFRESH --set crl_fetch_timeout_seconds=$TIMEOUT
. fed/env
log=fed/nodes/AA/node.log
pid=$(cat fed/nodes/AA/node.pid)
crlnum() { openssl crl -in "$1" -noout -crlnumber | sed 's/crlNumber=0x//'; }
cp fed/ca/crl.pem crl-1.pem
# The coordinator keeps its own copy of the first CRL: what the node refuses below is
# refused by the node, not by a coordinator that already knows of the revocation.
cp crl-1.pem coord-crl.pem
sed -i "s|^crl = .*|crl = $WORK/coord-crl.pem|" fed/federation

# mark: remember where the log is; wait_log PATTERN SECONDS NAME: a line after the mark matches.
mark() { mark_at=$(wc -l <"$log"); mark_t=$(date +%s.%N); }
wait_log() {
    local end=$(( $(date +%s) + $2 ))
    while [ "$(date +%s)" -le "$end" ]; do
        if tail -n +"$((mark_at + 1))" "$log" | grep -Eq -- "$1"; then ok "$3"; return 0; fi
        sleep 0.2
    done
    fail "$3 (no /$1/ in the log within $2 s)"; tail -n 5 "$log" | sed 's/^/       | /'; return 1
}
hup() { kill -HUP "$pid"; }
up() { kill -0 "$pid" 2>/dev/null && fedra --timeout 5000 ping >/dev/null 2>&1; }
publish() { cp "$1" www/crl.tmp && mv www/crl.tmp www/crl; }

check "node started and logs the fetch schedule" grep -q "fetching the CRL from $url every $REFRESH s" "$log"
# The server had no CRL yet: the first fetch failed (404) and the node kept its file.
mark_at=0
wait_log "crl fetch: failed .*keeping CRL number 1: .*404" 15 "a 404 is logged, the CRL held is kept"
check "node answers after a failed fetch" up

# Normal: the same CRL as the file, then a new one with an analyst revoked.
echo normal >www/mode
publish fed/ca/crl.pem
mark; hup
wait_log "crl fetch: CRL number 1 unchanged" 15 "the same CRL again: unchanged"
fedra-cert issue --ca fed/ca --role analyst --name mallory --out . >/dev/null
expect_status 0 "mallory is answered before the revocation" fedra --cert mallory.crt --key mallory.key count
fedra-cert revoke --ca fed/ca --name mallory >/dev/null
fedra-cert crl --ca fed/ca --out crl-2.pem >/dev/null
mark; publish crl-2.pem                 # no SIGHUP: the schedule must pick it up
wait_log "crl fetch: installed CRL number 2 \(was 1\) from $url" $((REFRESH + TIMEOUT + 10)) \
    "the new CRL is installed within the refresh interval, without a reload"
took=$(awk -v a="$mark_t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "       (published -> installed: $took s; refresh every $REFRESH s)"
expect_status 3 "mallory is refused after the fetch" fedra --cert mallory.crt --key mallory.key count
expect_grep "AA +refused +.*certificate 'mallory'.*was revoked" "$WORK/last.out" \
    "the node's refusal names the revocation"
check "the fetched CRL replaced the crl file (a restart uses it)" [ "$(crlnum fed/ca/crl.pem)" = 02 ]
check "the crl file is byte-identical to the published one" cmp -s fed/ca/crl.pem crl-2.pem
check "no temporary left next to the crl file" sh -c '! ls fed/ca | grep -q "crl.pem.fetch\|crl.pem.tmp"'
expect_status 0 "other analysts are still answered" fedra count

# A redirect to another http path is followed ...
echo redirect-ok >www/mode
mark; hup
wait_log "crl fetch: CRL number 2 unchanged" 15 "a redirect to an http URL is followed"
# ... to file:// is not, and a loop stops after the limit.
echo redirect-file >www/mode
mark; hup
wait_log "crl fetch: failed .*refused a scheme other than http/https" 15 "a redirect to file:// is refused"
check "node answers after the file:// redirect" up
echo redirect-loop >www/mode
mark; hup
wait_log "crl fetch: failed .*more than 3 redirects" 15 "a redirect loop stops after 3 redirects"

# Body size: CRLFETCH_MAX_BODY (1 MiB) passes the size check, one byte more does not.
echo huge >www/mode
echo 1048577 >www/size
mark; hup
wait_log "crl fetch: failed .*larger than 1048576 bytes; refused" 15 "1 MiB + 1 (chunked) is refused by size"
echo huge-declared >www/mode
mark; hup
wait_log "crl fetch: failed .*larger than 1048576 bytes; refused" 15 "1 MiB + 1 (Content-Length) is refused by size"
echo huge >www/mode
echo 1048576 >www/size
mark; hup
wait_log "crl fetch: failed .*not usable: .*(not a PEM or DER CRL|cannot parse)" 15 \
    "exactly 1 MiB passes the size check (and is refused as not a CRL)"
check "node answers after huge bodies" up
check "the CRL held is still number 2" grep -q '"crl_number":2' fed/nodes/AA/store.db.status

# Slow drip: 2 bytes/s is under the low-speed limit; the fetch is cut, and queries
# are answered meanwhile (the fetch runs beside the query loop, not in it).
echo drip >www/mode
mark; hup
for _ in $(seq 50); do grep -q '^/crl drip' www/requests 2>/dev/null && break; sleep 0.1; done
t0=$(date +%s%N)
expect_status 0 "a query is answered during the slow drip" fedra --timeout 5000 count
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "       (count during the drip: $ms ms)"
wait_log "crl fetch: failed after [0-9]+ ms.*too slow|crl fetch: failed after [0-9]+ ms.*timed out" \
    $((TIMEOUT + 10)) "the slow drip is cut off"
dr=$(tail -n +"$((mark_at + 1))" "$log" | sed -n 's/.*crl fetch: failed after \([0-9]*\) ms.*/\1/p' | head -n 1)
check "the drip was cut within the fetch timeout ($dr ms <= $((TIMEOUT * 1000 + 1500)) ms)" \
    [ "${dr:-99999}" -le $((TIMEOUT * 1000 + 1500)) ]

# A CRL signed by another CA.
fedra-cert init --ca other --name "Other CA" >/dev/null
fedra-cert crl --ca other --out other.pem >/dev/null
echo normal >www/mode
publish other.pem
mark; hup
wait_log "crl fetch: failed .*not usable: .*not signed by any CA" 15 "a CRL signed by another CA is refused"
expect_status 3 "mallory is still refused" fedra --cert mallory.crt --key mallory.key count

# A lower CRL number (an old CRL replayed: it would un-revoke mallory).
publish crl-1.pem
mark; hup
wait_log "crl fetch: refused the CRL from .*its number 1 is lower than the number 2 held" 15 \
    "a lower CRL number is refused with the reason"
expect_status 3 "mallory is still refused after the replayed CRL" \
    fedra --cert mallory.crt --key mallory.key count
check "the crl file still holds number 2" [ "$(crlnum fed/ca/crl.pem)" = 02 ]

# A CRL that expires: nextUpdate 4 s ahead (openssl ca shares the CA directory).
openssl ca -config fed/ca/openssl.cnf -gencrl -crlsec 4 -out short.pem >/dev/null 2>&1
publish short.pem
mark; hup
wait_log "crl fetch: installed CRL number 3 \(was 2\)" 15 "a short-lived CRL (number 3) is installed"
sleep 5
expect_status 3 "past nextUpdate every query is refused (fail closed)" fedra count
expect_grep "AA +refused +.*CRL .*expired at" "$WORK/last.out" "the refusal says the CRL expired"
check "the node process is still up" kill -0 "$pid"
expect_status 3 "fedra-node status reports the expired CRL" fedra-node status --config fed/nodes/AA/node.conf
expect_grep "problem: +the CRL expired at" "$WORK/last.out" "status names the problem"
# Recovery: a current CRL is published and fetched; queries are answered again.
fedra-cert crl --ca fed/ca --out crl-4.pem >/dev/null
publish crl-4.pem
mark; hup
wait_log "crl fetch: installed CRL number 4 \(was 3\)" 15 "a current CRL is installed"
expect_status 0 "queries are answered again" fedra count
expect_status 0 "status is ok again" fedra-node status --config fed/nodes/AA/node.conf

# A restart with the CRL file gone starts fail-closed and recovers from the URL.
"$ROOT/scripts/federation" down fed >/dev/null
rm fed/ca/crl.pem
fedra-node serve --config fed/nodes/AA/node.conf >>"$log" 2>&1 &
pid=$!
echo $pid >fed/nodes/AA/node.pid
mark_at=$(wc -l <"$log")
wait_log "crl fetch: installed CRL number 4 \(was -1\)" 15 "without a CRL file the node starts and fetches one"
check "the CRL file is written again" [ "$(crlnum fed/ca/crl.pem 2>/dev/null)" = 04 ]
expect_grep "warning: no CRL held" "$log" "the node warned that it held no CRL"

"$ROOT/scripts/federation" down fed >/dev/null
expect_status 0 "audit log intact" fedra-node audit verify --db fed/nodes/AA/store.db
check "every fetch request reached the server over http" grep -q '^/crl normal' www/requests
done_checks
