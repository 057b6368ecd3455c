# 67-bundle - fedra --bundle saves the signed query and every signed node
# response; fedra verify re-checks them offline, in another directory with
# only the CA certificate, and recomputes the merged result.  Any edit to a
# bundle (a response byte, the command, a dropped round, another CA) fails.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
fedra-gendata --country AA --rows 400 --seed 11 >AA.csv
fedra-gendata --country BB --rows 300 --seed 12 >BB.csv
check "federation up" "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv --set min_cell=1
. fed/env
expect_status 0 "count --bundle" fedra --bundle count.json count --by stage,sex
cp "$WORK/last.out" count.live
expect_status 0 "km --bundle" fedra --bundle km.json --format csv km --by stage --times 365,730
cp "$WORK/last.out" km.live
expect_status 0 "cox --bundle (one round per iteration)" fedra --bundle cox.json cox --covariates stage,age_years
cp "$WORK/last.out" cox.live
expect_status 0 "glm --bundle" fedra --bundle glm.json --format json glm --outcome vital_status=dead --covariates stage
cp "$WORK/last.out" glm.live
"$ROOT/scripts/federation" down fed >/dev/null

# Elsewhere, with nothing but the CA certificate and the bundles.
mkdir elsewhere && cp fed/ca/ca.crt count.json km.json cox.json glm.json elsewhere/
cd elsewhere
unset FEDRA_FEDERATION FEDRA_CERT FEDRA_KEY
same() { # same NAME LIVE: the verified output equals the live one (timings aside)
    if diff <(grep -Ev ' ms$|"ms"' "$2") <(grep -Ev ' ms$|"ms"' "$WORK/last.out") >/dev/null; then ok "$1"
    else fail "$1"; diff <(grep -Ev ' ms$|"ms"' "$2") <(grep -Ev ' ms$|"ms"' "$WORK/last.out") | head -10 | sed 's/^/       | /'; fi
}
expect_status 0 "verify count offline" fedra verify --ca-cert ca.crt count.json
same "the recomputed counts equal the live result" ../count.live
expect_status 0 "verify km offline" fedra --format csv verify --ca-cert ca.crt km.json
same "the recomputed curves equal the live result" ../km.live
expect_status 0 "verify cox offline (every round)" fedra verify --ca-cert ca.crt cox.json
same "the recomputed Cox model equals the live result" ../cox.live
expect_grep "every signature checks \([0-9]+ rounds\)" "$WORK/last.err" "verify says how many rounds it checked"
expect_status 0 "verify glm offline" fedra --format json verify --ca-cert ca.crt glm.json
same "the recomputed logistic model equals the live result" ../glm.live

# Tampering: one byte of one response, the command, a dropped round, another CA.
python3 - <<'PY'
import json
b = json.load(open("cox.json"))
e = b["rounds"][2]["responses"][1]["envelope"]
i = len(e) // 2
b["rounds"][2]["responses"][1]["envelope"] = e[:i] + ("0" if e[i] != "0" else "1") + e[i + 1:]
json.dump(b, open("t-byte.json", "w"))
b = json.load(open("cox.json")); b["command"] = ["cox", "--covariates", "stage,sex"]
json.dump(b, open("t-command.json", "w"))
b = json.load(open("cox.json")); del b["rounds"][-1]
json.dump(b, open("t-round.json", "w"))
b = json.load(open("count.json")); b["rounds"][0]["responses"][0]["envelope"] = b["rounds"][0]["responses"][1]["envelope"]
json.dump(b, open("t-swap.json", "w"))
PY
expect_status 1 "a changed response byte fails" fedra verify --ca-cert ca.crt t-byte.json
expect_grep "round 3: node BB: .*(signature|certificate|unreadable|malformed)" "$WORK/last.err" "naming the round and the node"
expect_status 1 "a changed command fails" fedra verify --ca-cert ca.crt t-command.json
expect_grep "does not ask what the bundle's command asks" "$WORK/last.err" "saying the query does not match"
expect_status 1 "a dropped round fails" fedra verify --ca-cert ca.crt t-round.json
expect_status 1 "one node's answer passed off as another's fails" fedra verify --ca-cert ca.crt t-swap.json
expect_grep "not 'AA'|claims to come from" "$WORK/last.err" "naming the impostor"
fedra-cert init --ca otherca --name "Other CA" >/dev/null 2>&1
expect_status 1 "a bundle checked against another CA fails" fedra verify --ca-cert otherca/ca.crt count.json
expect_grep "not issued by|unknown CA|issuer" "$WORK/last.err" "naming the CA problem"
done_checks
