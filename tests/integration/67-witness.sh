# 67-witness - bundles witness the node's audit log (issue 12).  Every signed
# answer to a verified analyst carries the log's head just before its own
# entry; `fedra-node audit verify --db STORE BUNDLE...` then finds a log cut
# short behind the answers, which the plain chain check cannot see: entries
# cut from the end of a stopped node's log, and the answer's own entry cut
# from a running node's log that then went on writing.  A forged bundle is
# refused before any entry is compared.  A refusal to a sender whose
# certificate did not verify carries no data_rows, data_hash or head.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
PB="$ROOT/tests/integration/pbfields.py"

fedra-gendata --country AA --rows 300 --seed 21 >AA.csv
fedra-gendata --country BB --rows 200 --seed 22 >BB.csv
check "federation up" "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv --set min_cell=1
. fed/env
expect_status 0 "count --bundle b1" fedra --bundle b1.json count --by stage
expect_status 0 "km --bundle b2" fedra --bundle b2.json km --by sex --times 365
expect_status 0 "count --bundle b3" fedra --bundle b3.json count --by sex

# What an answer to a verified analyst carries: the data facts and the log's head.
seq1=$("$PB" b1.json AA 1 16); head1=$("$PB" b1.json AA 1 17)
[ -n "$seq1" ] && [ ${#head1} = 64 ] && ok "an answer carries audit_seq ($seq1) and a 32-byte audit_head" \
    || fail "no audit head in AA's answer (seq '$seq1', head '$head1')"
"$PB" b1.json AA 1 9 >/dev/null && "$PB" b1.json AA 1 10 >/dev/null \
    && ok "an answer carries data_hash and data_rows" || fail "an answer lacks data_hash or data_rows"
db=fed/nodes/AA/store.db
want=$(sqlite3 "$db" "SELECT hex(entry_hash) FROM audit WHERE seq = $seq1" | tr 'A-F' 'a-f')
[ "$want" = "$head1" ] && ok "the head is entry $seq1 of the log, as it is" || fail "head $head1 is not entry $seq1 ($want)"
own=$(sqlite3 "$db" "SELECT event FROM audit WHERE seq = $((seq1 + 1))")
[ "$own" = answered ] && ok "entry $((seq1 + 1)) is the answer's own" || fail "entry $((seq1 + 1)) is '$own'"

# A sender of another CA gets a signed refusal that says why, and nothing about the data.
fedra-cert init --ca otherca --name "Other CA" >/dev/null 2>&1
fedra-cert issue --ca otherca --role analyst --name eve --out . >/dev/null 2>&1
expect_status 3 "a query signed under another CA is refused" \
    fedra --bundle stranger.json --cert eve.crt --key eve.key count
expect_grep "AA +refused +.*certificate|AA +refused .*CA" "$WORK/last.out" "the refusal says why"
for n in AA BB; do
    got=$("$PB" stranger.json $n 1 | tr '\n' ' ')
    case " $got" in
        *" 9 "*|*" 10 "*|*" 16 "*|*" 17 "*) fail "$n's refusal to a stranger carries fields: $got" ;;
        *" 4 "*" 8 "*) ok "$n's refusal to a stranger: node and code, no data_rows, data_hash or head ($got)" ;;
        *) fail "$n's refusal lacks its node or code: $got" ;;
    esac
done

expect_status 3 "... and fedra's JSON shows no rows or data hash for them" \
    fedra --format json --cert eve.crt --key eve.key count
if grep -q '"status": *"refused"' "$WORK/last.out" && ! grep -Eq '"rows"|"data_hash"' "$WORK/last.out"; then
    ok "the JSON node list has status and reason, no rows or data_hash"
else fail "the JSON node list for a stranger's refusal"; sed 's/^/       | /' "$WORK/last.out" | head; fi

# A running node's log cut behind b3's answer: it re-reads its head and goes on.
seq3=$("$PB" b3.json AA 1 16)
sqlite3 "$db" "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq > $seq3"
expect_status 0 "the node answers after its log was cut under it" fedra --bundle b4.json count --by stage
seq4=$("$PB" b4.json AA 1 16)
[ "$seq4" = "$seq3" ] && ok "the next answer witnesses the cut log's head ($seq4)" \
    || fail "the next answer witnesses $seq4, not $seq3"
"$ROOT/scripts/federation" down fed >/dev/null

# Both logs pass the chain check and every bundle that tells the truth about them.
for n in AA BB; do
    expect_status 0 "$n: the plain chain check passes" fedra-node audit verify --db fed/nodes/$n/store.db
done
expect_status 0 "BB: its log holds every answer the bundles witness" \
    fedra-node audit verify --db fed/nodes/BB/store.db b1.json b2.json b3.json b4.json stranger.json
expect_grep "answers of node BB witness the log up to entry" "$WORK/last.out" "naming the node from its log"
expect_grep "skipped [1-9][0-9]* answers of other nodes" "$WORK/last.out" "counting AA's answers as skipped"
expect_status 0 "AA: b1, b2, b4 are in its log" fedra-node audit verify --db "$db" b1.json b2.json b4.json
expect_status 0 "... also checked against the federation CA" \
    fedra-node audit verify --db "$db" --ca-cert fed/ca/ca.crt b1.json b2.json b4.json

# The answer's own entry was cut and the log went on: only b3 shows it.
expect_status 1 "AA: b3's answer is missing from its log" fedra-node audit verify --db "$db" b3.json
expect_grep "entry $((seq3 + 1)) does not record the answer to query [0-9a-f]{32} at [0-9T:-]+Z of bundle b3.json" \
    "$WORK/last.err" "naming the entry, the query and its time"

# A stopped node's log cut short at its end: the chain holds, the bundles do not.
seq2=$("$PB" b2.json AA 1 16)
sqlite3 "$db" ".backup cut.db"
sqlite3 cut.db "DROP TRIGGER IF EXISTS audit_no_delete; DELETE FROM audit WHERE seq > $seq2"
expect_status 0 "the plain chain check does not see a log cut at its end" fedra-node audit verify --db cut.db
expect_status 1 "the bundles do" fedra-node audit verify --db cut.db b1.json b2.json b4.json
expect_grep "the log ends at entry $seq2, but bundle b2.json witnesses entry $((seq2 + 1)) \(the answer to query [0-9a-f]{32} at .*\): entries were removed" \
    "$WORK/last.err" "naming where the log ends and the entry witnessed"
expect_grep "bundle b4.json witnesses entry $((seq4 + 1))" "$WORK/last.err" "and every later witness"

# A forged bundle cannot make an honest log look cut.
python3 - <<'PY'
import json
b = json.load(open("b2.json"))
for r in b["rounds"][0]["responses"]:
    if r["node"] == "AA":
        e = r["envelope"]; i = len(e) // 2
        r["envelope"] = e[:i] + ("0" if e[i] != "0" else "1") + e[i + 1:]
json.dump(b, open("forged.json", "w"))
PY
expect_status 1 "a bundle with a changed byte is refused" fedra-node audit verify --db fed/nodes/BB/store.db forged.json
expect_grep "forged.json: round 1: node AA: .*altered or not genuine" "$WORK/last.err" "naming the bundle, round and node"
expect_status 1 "a bundle checked against another CA is refused" \
    fedra-node audit verify --db fed/nodes/BB/store.db --ca-cert otherca/ca.crt b1.json
expect_status 2 "--ca-cert without bundles is a usage error" \
    fedra-node audit verify --db "$db" --ca-cert fed/ca/ca.crt
expect_help fedra-node "audit verify" <(fedra-node --help)
done_checks
