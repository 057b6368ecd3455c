# 75-status - `fedra-node status` tells a service owner what the node is doing,
# every figure checked against an independent source (sqlite3, openssl, the
# pid file); and the node refuses to start on a bad config or a key file that
# others can read, naming the key or file and the reason.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"

fedra-gendata --country AA --rows 150 >AA.csv
check "federation up" "$ROOT/scripts/federation" up fed AA=AA.csv
. fed/env
conf=fed/nodes/AA/node.conf
db=fed/nodes/AA/store.db
t_up=$(date +%s)

expect_status 0 "a count is answered" fedra count --by sex
expect_status 0 "a second count is answered" fedra count
expect_status 3 "an unknown variable is refused" fedra count --by favourite_colour

expect_status 0 "status of a running node: exit 0" fedra-node status --config "$conf"
cp "$WORK/last.out" status.txt
expect_grep "^node: +AA running, pid $(cat fed/nodes/AA/node.pid), up " status.txt "text: running, with the pid"
expect_grep "^ok: " status.txt "text: ok line"

t_before=$(date +%s)
expect_status 0 "status --format json" fedra-node status --config "$conf" --format json
t_after=$(date +%s)
cp "$WORK/last.out" status.json
# j PATH: one value of the JSON, e.g. j data.rows
j() { python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(str(v).lower() if isinstance(v, bool) else v)' status.json "$1"; }
check "json: running" [ "$(j node.running)" = true ]
check "json: pid is the node's" [ "$(j node.pid)" = "$(cat fed/nodes/AA/node.pid)" ]
up=$(j node.uptime_s); lim=$(( $(date +%s) - t_up + 2 ))
check "json: uptime $up s is between 0 and $lim s" [ "$up" -ge 0 -a "$up" -le "$lim" ]
check "json: rows = meta.rows in the store" [ "$(j data.rows)" = "$(sqlite3 "$db" "SELECT value FROM meta WHERE key='rows'")" ]
check "json: rows = CSV records" [ "$(j data.rows)" = "$(( $(wc -l <AA.csv) - 1 ))" ]
check "json: hash = meta.hash" [ "$(j data.hash)" = "$(sqlite3 "$db" "SELECT value FROM meta WHERE key='hash'")" ]
imp=$(sqlite3 "$db" "SELECT value FROM meta WHERE key='imported_at_ms'")
check "json: import time = meta.imported_at_ms" \
    [ "$(j data.imported_at)" = "$(date -u -d "@$((imp / 1000))" +%Y-%m-%dT%H:%M:%SZ)" ]
na=$(date -u -d "$(openssl x509 -in fed/nodes/AA/AA.crt -noout -enddate | cut -d= -f2)" +%s)
check "json: certificate expiry = openssl x509 -enddate" \
    [ "$(j certificate.not_after)" = "$(date -u -d "@$na" +%Y-%m-%dT%H:%M:%SZ)" ]
dl=$(j certificate.days_left)
check "json: days left $dl = (notAfter - now) / 86400" \
    [ "$dl" -ge $(( (na - t_after) / 86400 )) -a "$dl" -le $(( (na - t_before) / 86400 )) ]
check "json: CRL number = openssl crl -crlnumber" \
    [ "$(j crl.number)" = "$(( $(openssl crl -in fed/ca/crl.pem -noout -crlnumber | cut -d= -f2) ))" ]
nu=$(date -u -d "$(openssl crl -in fed/ca/crl.pem -noout -nextupdate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
check "json: CRL nextUpdate = openssl crl -nextupdate" [ "$(j crl.next_update)" = "$nu" ]
lu=$(date -u -d "$(openssl crl -in fed/ca/crl.pem -noout -lastupdate | cut -d= -f2)" +%s)
age=$(j crl.age_s)
check "json: CRL age $age s = now - lastUpdate" [ "$age" -ge $((t_before - lu)) -a "$age" -le $((t_after - lu)) ]
check "json: the node holds that CRL" [ "$(j crl.held_by_node)" = "$(j crl.number)" ]
a=$(sqlite3 "$db" "SELECT count(*) FROM audit WHERE event='answered'")
r=$(sqlite3 "$db" "SELECT count(*) FROM audit WHERE event='refused'")
check "json: answered = audit ($a)" [ "$(j queries.answered)" = "$a" -a "$(j queries.answered_since_start)" = "$a" ]
check "json: refused = audit ($r)" [ "$(j queries.refused)" = "$r" -a "$(j queries.refused_since_start)" = "$r" ]
check "json: 2 answered, 1 refused, as sent" [ "$a" = 2 -a "$r" = 1 ]
check "json: ok, no problem" [ "$(j ok)" = true -a "$(j problems)" = "[]" ]
expect_status 2 "status --format yaml is a usage error" fedra-node status --config "$conf" --format yaml

# After a clean stop: not running, exit 3, counts still there.
"$ROOT/scripts/federation" down fed >/dev/null
expect_status 3 "status of a stopped node: exit 3" fedra-node status --config "$conf"
expect_grep "^node: +not running \(stopped at " "$WORK/last.out" "text: stopped, with the time"
expect_grep "^queries: +2 answered, 1 refused in all" "$WORK/last.out" "text: audit counts of a stopped node"
# After a crash (SIGKILL): the state file still names a pid, which is gone.
fedra-node serve --config "$conf" >>fed/nodes/AA/node.log 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q "\"pid\":$pid" "$db.status" 2>/dev/null && break; sleep 0.1; done
kill -9 $pid; wait $pid 2>/dev/null
expect_status 3 "status after SIGKILL: exit 3" fedra-node status --config "$conf" --format json
expect_grep '"running": false' "$WORK/last.out" "json: not running after a crash"
expect_grep 'did not stop cleanly' "$WORK/last.out" "json: the crash is named"
expect_status 1 "status with a missing config: exit 1" fedra-node status --config nope.conf

# Bad config at start: refused, naming the file, line, key and reason.
cp "$conf" good.conf
start_fails() { # start_fails NAME PATTERN: the node exits 1 at once and says PATTERN
    expect_status 1 "$1" timeout 20 fedra-node serve --config "$conf"
    expect_grep "$2" "$WORK/last.err" "$1: the message says /$2/"
}
echo "min_cell = 0" >>"$conf"
start_fails "min_cell = 0 refused" "node.conf:[0-9]+: min_cell = '0': must be an integer from 1 to 1000"
cp good.conf "$conf"; echo "crl_url = file:///etc/passwd" >>"$conf"
start_fails "crl_url = file:// refused" "crl_url = 'file:///etc/passwd': must be an http:// or https:// URL"
cp good.conf "$conf"; echo "min_cel = 5" >>"$conf"
start_fails "a misspelt key refused" "unknown key 'min_cel'"
cp good.conf "$conf"; echo "db = other.db" >>"$conf"
start_fails "a key given twice refused" "db is given twice"
cp good.conf "$conf"
# Key files readable by group or others are refused.
chmod 640 fed/nodes/AA/AA.key
start_fails "a group-readable key (0640) is refused" "key file '.*AA.key' is readable by its group \(mode 0640\); run chmod 600"
chmod 604 fed/nodes/AA/AA.key
start_fails "an other-readable key (0604) is refused" "mode 0604\); run chmod 600"
chmod 600 fed/nodes/AA/AA.key
"$ROOT/scripts/federation" down fed >/dev/null 2>&1
done_checks
