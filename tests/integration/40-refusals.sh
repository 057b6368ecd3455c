# 40-refusals - every query the node must refuse gets a signed refusal that
# says why, and the node keeps serving: a tampered query, a replay (also
# after a restart), an expired, a revoked and a wrong-role certificate, an
# unknown variable, random bytes (small and 100 MB), and a wrong audience.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"

fedra-gendata --country AA --rows 120 >AA.csv
fedra-gendata --country BB --rows 80 >BB.csv
check "federation up" "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv --set query_audit=off
. fed/env

alive() { fedra --timeout 3000 ping >/dev/null 2>&1; }
# refused_with CODE-PATTERN NAME: the last command's output says every node refused with it.
refused_with() {
    if grep -Eq "AA +refused +.*$1" "$WORK/last.out" && grep -Eq "BB +refused +.*$1" "$WORK/last.out"; then
        ok "$2"; else fail "$2 (no '$1')"; sed 's/^/       | /' "$WORK/last.out" | head; fi
}

# Tampered: flip one byte inside the signed body (the analyst name is in it).
expect_status 0 "save a signed query" fedra --save-query q1.bin count --by stage
cp q1.bin tampered.bin
off=$(grep -abo 'analyst' tampered.bin | head -n 1 | cut -d: -f1)
printf 'A' | dd of=tampered.bin bs=1 seek="$off" conv=notrunc status=none
expect_status 3 "a tampered query is refused" fedra send tampered.bin
refused_with 'signature does not verify' "tampered: reason names the signature"
check "node still serving after tampered query" alive

# Replay: the same signed query twice.
expect_status 0 "send a saved query once" fedra send q1.bin
expect_status 3 "the same query again is refused" fedra send q1.bin
refused_with 'already received once; replays are refused' "replay: reason says replay"
# ... and after a restart of the node (the cache is on disk).
# (Same shape as q1: a plain total after the stage table could be refused as differencing.)
expect_status 0 "save another query" fedra --save-query q2.bin count --by stage
expect_status 0 "send it" fedra send q2.bin
"$ROOT/scripts/federation" down fed >/dev/null
for n in AA BB; do
    fedra-node serve --config fed/nodes/$n/node.conf >>fed/nodes/$n/node.log 2>&1 &
    echo $! >fed/nodes/$n/node.pid
done
sleep 1
# The nodes came back on new ports: rewrite the federation file from their logs.
sed -i '/^node = /d' fed/federation
for n in AA BB; do
    ep=$(sed -n 's/.* serving on \(tcp:[^ :]*:[0-9]*\):.*/\1/p' fed/nodes/$n/node.log | tail -n 1)
    echo "node = $n $ep $WORK/fed/nodes/$n/$n.crt" >>fed/federation
done
expect_status 3 "a replay after a restart is still refused" fedra send q2.bin
refused_with 'replays are refused' "replay cache survives a restart"

# Expired analyst certificate.
fedra-cert issue --ca fed/ca --role analyst --name old --out . --start 2020-01-01 --days 30 >/dev/null
expect_status 3 "an expired analyst certificate is refused" fedra --cert old.crt --key old.key count
refused_with "certificate 'old'.*expired" "expired: reason names the certificate and the expiry"
check "node still serving" alive

# Node certificate used as an analyst.
expect_status 3 "a node certificate cannot sign a query" \
    fedra --cert fed/nodes/AA/AA.crt --key fed/nodes/AA/AA.key count
refused_with "role node.*analyst" "wrong role: reason says node is not analyst"

# Unknown variable, unknown level.
expect_status 3 "an unknown variable is refused" fedra count --by favourite_colour
refused_with "unknown variable 'favourite_colour'" "unknown variable named in the refusal"
expect_status 3 "an unknown level is refused" fedra count --where "stage=galactic"
refused_with "'galactic' is not a level of stage" "unknown level named in the refusal"

# Random bytes under the size limit: a signed refusal saying it is not an envelope.
head -c 60000 /dev/urandom >random.bin
expect_status 3 "60 kB of random bytes are refused" fedra send random.bin
refused_with "not a fedra query envelope" "random bytes: reason says malformed"
# 100 MB of random bytes: refused before sending (over the transport limit) ...
head -c 100000000 /dev/urandom >big.bin
expect_status 1 "100 MB query file is refused with the limit" fedra send big.bin
expect_grep "larger than 65536 bytes" "$WORK/last.err" "100 MB: the error names the limit"
# ... and thrown raw at the node's TCP port, the node drops the peer and keeps serving.
ep=$(sed -n 's/^node = AA tcp:\/\/\([^ ]*\) .*/\1/p' fed/federation)
( exec 3<>"/dev/tcp/${ep%:*}/${ep##*:}" && cat big.bin >&3 ) 2>/dev/null || true
check "node still serving after 100 MB of raw bytes" alive

# Revoked analyst: revoke, publish the CRL, reload, refused with the reason.
fedra-cert issue --ca fed/ca --role analyst --name mallory --out . >/dev/null
expect_status 0 "a fresh analyst is answered" fedra --cert mallory.crt --key mallory.key count --by stage
fedra-cert revoke --ca fed/ca --name mallory >/dev/null
fedra-cert crl --ca fed/ca --out fed/ca/crl.pem >/dev/null
"$ROOT/scripts/federation" reload fed >/dev/null
sleep 0.5
expect_status 3 "a revoked analyst is refused after the CRL reload" \
    fedra --cert mallory.crt --key mallory.key count --by stage
refused_with "certificate 'mallory'.*revoked" "revoked: reason names the revocation"
check "node still serving" alive

# Every one of these is in the audit log, and the chain is intact.
"$ROOT/scripts/federation" down fed >/dev/null
expect_status 0 "audit log intact" fedra-node audit verify --db fed/nodes/AA/store.db
n=$(sqlite3 fed/nodes/AA/store.db "SELECT count(*) FROM audit WHERE event='refused'")
[ "$n" -ge 9 ] && ok "audit holds $n refusals with reasons" || fail "only $n refusals audited"
sqlite3 fed/nodes/AA/store.db "SELECT reason FROM audit WHERE event='refused'" | grep -q replay \
    && ok "audit records the replay reason" || fail "no replay reason in the audit"
# An edit made behind the triggers' back is found, at its sequence number.
seq=$(sqlite3 fed/nodes/AA/store.db "SELECT seq FROM audit WHERE event='refused' LIMIT 1")
sqlite3 fed/nodes/AA/store.db "DROP TRIGGER audit_no_update; UPDATE audit SET reason='nothing' WHERE seq=$seq"
expect_status 1 "audit verify finds an edited entry" fedra-node audit verify --db fed/nodes/AA/store.db
expect_grep "seq $seq" "$WORK/last.err" "audit verify names the edited entry ($seq)"
done_checks
