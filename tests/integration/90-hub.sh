# 90-hub - a federation through a hub (issue 13, proto/DESIGN.md "Through a
# hub"): three nodes behind fedra-hub that listen on nothing, and one direct
# node, in one federation file.  On fresh random data every run: count, km,
# logrank, cox and glm equal R on the pooled records; a bundle made through
# the hub verifies; saved queries go through it.  Then the faults, each with
# a clear error and nothing lost: a node the hub does not know, a node
# stopped and resumed, the hub killed and restarted mid-stream (every answer
# exact or its node named; the nodes' reconnection time bounded), a junk
# flood on the hub's port, revoked node, analyst and hub certificates, and a
# hub that tampers with what it relays (tests/tools/tamperhub.c).
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
command -v Rscript >/dev/null || { fail "Rscript not found: run scripts/install-deps"; done_checks; }
command -v python3 >/dev/null || { fail "python3 not found"; done_checks; }
command -v ss >/dev/null || { fail "ss not found (iproute2)"; done_checks; }
RECONNECT_BOUND_S=15    # hub restarted: every node answers again within this (backoff + hello)

seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}    # FEDRA_TEST_SEED=N reruns one draw
echo "  data seed $seed"
fedra-gendata --country AA --rows 420 --seed "$seed" >AA.csv
fedra-gendata --country BB --rows 260 --seed "$((seed + 1))" >BB.csv
fedra-gendata --country CC --rows 150 --seed "$((seed + 2))" >CC.csv
fedra-gendata --country DD --rows 200 --seed "$((seed + 3))" >DD.csv
{ cat AA.csv; for n in BB CC DD; do tail -n +2 $n.csv; done; } >all.csv
rows() { echo $(( $(wc -l <"$1.csv") - 1 )); }

check "federation up (AA BB CC behind the hub, DD direct)" \
    "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv CC=CC.csv DD=DD.csv --hub --direct DD \
    --set time_grid_days=0 --set min_cell=1 --set min_events_per_parameter=1
. fed/env
expect_grep '^hub = tcp://127\.0\.0\.1:[0-9]+ ' fed/federation "the federation file names the hub"
expect_grep '^node = BB hub ' fed/federation "and the nodes behind it"
expect_grep '^node = DD tcp://' fed/federation "and the direct node with its endpoint"

# Behind the hub a node listens on nothing; the direct node and the hub do listen.
ss -ltnpH >ss.txt 2>&1
listens() { grep -q "pid=$(cat "$1"),"  ss.txt; }
for n in AA BB CC; do
    if listens fed/nodes/$n/node.pid; then fail "$n listens on a port:"; grep "pid=$(cat fed/nodes/$n/node.pid)," ss.txt
    else ok "$n listens on nothing (ss -ltnp)"; fi
    check "$n has no listen line" sh -c "! grep -q '^listen' fed/nodes/$n/node.conf"
done
check "ss sees the direct node listening (the check above can see)" listens fed/nodes/DD/node.pid
check "ss sees the hub listening" listens fed/hub/hub.pid

expect_status 0 "ping: every node, through the hub or not" fedra ping
for n in AA BB CC DD; do expect_grep "^$n +ok " "$WORK/last.out" "ping: $n ok"; done

# --- Results equal R on the pooled records ----------------------------------
expect_status 0 "count --by stage,sex" fedra --format csv count --by stage,sex
cut -d, -f1-3 "$WORK/last.out" >got.csv
Rscript -e 'd <- read.csv("all.csv", stringsAsFactors = FALSE)
    d$stage <- factor(d$stage, levels = c("localized", "regional", "metastatic", "unknown"))
    d$sex <- factor(d$sex, levels = c("F", "M", "U"))
    t <- as.data.frame(table(stage = d$stage, sex = d$sex), responseName = "count")
    t <- t[t$count > 0, ]; t <- t[order(t$stage, t$sex), ]
    write.csv(t, "want.csv", row.names = FALSE, quote = FALSE)' >/dev/null 2>&1
if cmp -s got.csv want.csv; then ok "stage x sex equals R's table of the pooled records"
else fail "stage x sex differs from R"; diff got.csv want.csv | head; fi

cat >km.R <<'R'
suppressMessages(library(survival))
a <- commandArgs(TRUE)
d <- read.csv("all.csv", stringsAsFactors = FALSE, na.strings = "")
t <- as.numeric(as.Date(d$last_contact_date) - as.Date(d$diagnosis_date))
e <- as.integer(d$vital_status == "dead")
d$stage <- factor(d$stage, levels = c("localized", "regional", "metastatic", "unknown"))
if (a[1] == "km") {
  fit <- survfit(Surv(t, e) ~ stage, data = d)
  got <- read.csv(a[2], stringsAsFactors = FALSE)
  want <- cbind(fit$time, fit$n.risk, fit$n.event, fit$n.censor, fit$surv)
  g <- cbind(got$time, got$n.risk, got$n.event, got$n.censor, got$surv)
  ok <- nrow(g) == nrow(want) && all(got$strata == rep(names(fit$strata), fit$strata)) &&
    all(abs(g - want) <= 1e-9 * pmax(abs(want), 1))
  cat(sprintf("%d rows\n", nrow(want)))
} else {
  s <- survdiff(Surv(t, e) ~ stage, data = d)
  g <- as.numeric(a[2])
  ok <- abs(g - s$chisq) <= 1e-9 * s$chisq
  cat(sprintf("chisq %.10g\n", s$chisq))
}
quit(status = if (ok) 0 else 1)
R
expect_status 0 "km --by stage --grid 0" fedra --format csv km --by stage --grid 0
cp "$WORK/last.out" km.csv
if Rscript km.R km km.csv >r.out 2>&1; then ok "km equals survfit on the pooled records ($(tail -n 1 r.out))"
else fail "km differs from survfit"; sed 's/^/       | /' r.out | head -5; fi
expect_status 0 "logrank --by stage --grid 0" fedra --format json logrank --by stage --grid 0
chisq=$(tr -d ' \n' <"$WORK/last.out" | grep -o '"chisq":[^,]*' | cut -d: -f2)
if Rscript km.R logrank "$chisq" >r.out 2>&1; then ok "logrank equals survdiff ($(tail -n 1 r.out))"
else fail "logrank chisq '$chisq' differs from survdiff"; sed 's/^/       | /' r.out | head -5; fi

# cox and glm: the live oracle of 65-models (tests/integration/models.R).
model_check() {
    kind=$1 covs=$2 outc=$3; shift 3
    if fedra --format csv "$kind" "$@" >f.csv 2>f.err && fedra --format json "$kind" "$@" >f.json 2>>f.err &&
        Rscript "$ROOT/tests/integration/models.R" all.csv f.csv f.json "$kind" os 0 efron "$covs" \
            "$outc" TRUE >r.out 2>&1; then
        ok "$kind $* equals R: $(tail -n 1 r.out)"
    else fail "$kind $* differs from R"; sed 's/^/       | /' f.err r.out | head -12; fi
}
model_check cox stage,age_years,sex - --covariates stage,age_years,sex --grid 0
model_check glm stage,age_years,chemotherapy vital_status=dead \
    --outcome vital_status=dead --covariates stage,age_years,chemotherapy

# --- Bundles and saved queries through the hub ------------------------------
expect_status 0 "cox with --bundle through the hub" \
    fedra --bundle cox.json cox --covariates stage,age_years --grid 0
expect_status 0 "fedra verify accepts the bundle" fedra verify --ca-cert fed/ca/ca.crt cox.json
expect_grep "every signature checks" "$WORK/last.err" "verify: every signature checks"
expect_status 0 "km with --bundle through the hub" fedra --bundle km.json km --by stage --grid 0
expect_status 0 "fedra verify accepts it too" fedra verify --ca-cert fed/ca/ca.crt km.json
expect_status 0 "--save-query" fedra --save-query q.bin count --by sex
expect_status 0 "fedra send: a saved query through the hub" fedra send q.bin
expect_grep "^nodes: 4 of 4 answered" "$WORK/last.out" "send: every node answered"
expect_status 1 "send needs the analyst's key for the nodes behind the hub" \
    env -u FEDRA_CERT -u FEDRA_KEY fedra send q.bin
expect_grep "no analyst certificate" "$WORK/last.err" "saying so"

# --- Faults -----------------------------------------------------------------
# stream_check TAG JSON ERR STATUS: one count (no --by) is exact or its missing nodes are named:
# the total is the sum of the rows of the nodes that answered, each answering node's rows are
# its CSV's, every other node is listed with its status (and on stderr).
cat >stream.py <<'PY'
import json, sys
tag, path, errpath, status = sys.argv[1:5]
want = {n: int(v) for n, v in (a.split("=") for a in sys.argv[5:])}
err = open(errpath).read()
try:
    d = json.load(open(path))
except Exception as e:
    print("%s: no JSON (%s), exit %s: %s" % (tag, e, status, err.strip()[:300])); sys.exit(1)
ok = [n for n in d["nodes"] if n["status"] == "ok"]
total = sum(c["count"] for c in d["result"]["cells"]) if ok else 0
bad = [n for n in d["nodes"] if n["status"] != "ok"]
problems = []
if sum(want[n["name"]] for n in ok) != total:
    problems.append("total %d is not the sum of the answering nodes" % total)
for n in ok:
    if n["rows"] != want[n["name"]]:
        problems.append("%s says %d rows" % (n["name"], n["rows"]))
for n in bad:
    if not n.get("reason"):
        problems.append("%s is %s without a reason" % (n["name"], n["status"]))
if (status == "0") != (not bad) or status not in ("0", "3"):
    problems.append("exit %s with %d missing" % (status, len(bad)))
if problems:
    print("%s: %s" % (tag, "; ".join(problems))); sys.exit(1)
print("%s: %d answered%s" % (tag, len(ok), "".join("; %s %s: %s" % (n["name"], n["status"], n["reason"]) for n in bad)))
PY
want_rows="AA=$(rows AA) BB=$(rows BB) CC=$(rows CC) DD=$(rows DD)"
# one_count TAG [fedra options]: one count, checked by stream.py; prints its verdict line.
one_count() {
    tag=$1; shift
    fedra --format json "$@" count >"c-$tag.json" 2>"c-$tag.err"; s=$?
    python3 stream.py "$tag" "c-$tag.json" "c-$tag.err" "$s" $want_rows
}

# A node the hub does not know: EE's certificate is valid, EE never connected.
fedra-cert issue --ca fed/ca --role node --name EE --out . >/dev/null
cp fed/federation fed.plus-ee
echo "node = EE hub $WORK/EE.crt" >>fed.plus-ee
expect_status 3 "a node the hub does not know" fedra --federation fed.plus-ee --timeout 3000 count
expect_grep "^  EE +error +node 'EE' is not known to hub 'hub'" "$WORK/last.out" \
    "it is named, with the hub"
expect_grep "^nodes: 4 of 5 answered" "$WORK/last.out" "the others are merged"

# A node stopped (its link hangs) and resumed.
kill -STOP "$(cat fed/nodes/BB/node.pid)"
start=$(date +%s%N)
expect_status 3 "BB stopped: exit 3 within the timeout" fedra --timeout 1500 count --by sex
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 4000 ] && ok "the stopped node cost ${ms} ms (timeout 1500 ms)" || fail "took ${ms} ms"
expect_grep "^  BB +timeout " "$WORK/last.out" "BB named as timed out"
kill -CONT "$(cat fed/nodes/BB/node.pid)"
if one_count resumed >v.txt; then ok "$(cat v.txt)"; else fail "$(cat v.txt)"; fi
grep -q "4 answered" v.txt && ok "BB answers again once resumed" || fail "BB did not come back: $(cat v.txt)"

# The hub killed and restarted mid-stream: counts run back to back (each a fresh fedra
# process) while the hub is killed, stays down, and is started again on its port.  Every
# answer is exact or its node is named; the time from the restart to the first query
# that all four nodes answer bounds the nodes' reconnection.
hub_pid=$(cat fed/hub/hub.pid)
: >stream.txt; : >stream.bad; rm -f stream.stop
(
    i=0
    while [ ! -f stream.stop ] && [ $i -lt 400 ]; do
        i=$((i + 1))
        one_count "s$i" --timeout 2000 >>stream.txt || echo "s$i" >>stream.bad
    done
) &
spid=$!
sleep 1
kill -9 "$hub_pid"
rm -f fed/hub/hub.pid
echo "hub killed" >>stream.txt
sleep 3         # longer than a query's timeout: some query sees the hub down throughout
check "hub restarted on the same port" "$ROOT/scripts/federation" hub-start fed
echo "hub restarted" >>stream.txt
t0=$(date +%s%N); back=""
while [ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt $((RECONNECT_BOUND_S + 5)) ]; do
    if awk '/^hub restarted/ {f = 1} f && /: 4 answered/ {found = 1} END {exit !found}' stream.txt; then
        back=$(( ($(date +%s%N) - t0) / 1000000 )); break
    fi
    sleep 0.05
done
sleep 0.5
touch stream.stop
wait "$spid"
if [ ! -s stream.bad ]; then
    ok "every answer of the stream exact or its node named ($(grep -c answered stream.txt) queries)"
else fail "stream:"; grep -F -f stream.bad stream.txt | sed 's/^/       | /' | head -10; fi
awk '/^hub killed/ {f = 1} f && /: 1 answered; AA timeout: no answer within 2000 ms through hub/ {found = 1}
     END {exit !found}' stream.txt \
    && ok "hub down: the direct node still answers, the nodes behind the hub are named" \
    || { fail "no query while the hub was down named its nodes"; cat stream.txt | head -20; }
if [ -n "$back" ] && [ "$back" -le $((RECONNECT_BOUND_S * 1000)) ]; then
    ok "every node answers again ${back} ms after the hub restarted (bound ${RECONNECT_BOUND_S} s)"
else fail "the nodes did not reconnect within ${RECONNECT_BOUND_S} s (${back:-never})"; tail -n 3 stream.txt; fi

# A junk flood on the hub's port: random bytes on many connections; the hub keeps relaying.
hep=$(cat fed/hub/endpoint); hep=${hep#tcp://}
head -c 1000000 /dev/urandom >junk.bin
for i in $(seq 1 50); do
    ( exec 3<>"/dev/tcp/${hep%:*}/${hep##*:}" && head -c $(( (i * 7919) % 20000 + 10 )) junk.bin >&3 ) 2>/dev/null &
done
( exec 3<>"/dev/tcp/${hep%:*}/${hep##*:}" && cat junk.bin >&3 ) 2>/dev/null || true
wait
if one_count "after-flood" >v.txt && grep -q "4 answered" v.txt; then ok "after a junk flood on its port the hub relays: $(cat v.txt)"
else fail "after the flood: $(cat v.txt)"; fi
check "the hub survived the flood" kill -0 "$(cat fed/hub/hub.pid)"

# A hub that tampers with what it relays (tests/tools/tamperhub.c, the real relay with a
# hook), in place of the hub on its port: every alteration is caught and named, the
# direct node's answer is unaffected.
TAMPER="$FEDRA_BIN/tests/fedra-tamperhub"
"$ROOT/scripts/federation" hub-stop fed >/dev/null
# tamper NAME OPTION...: run the tamperhub until the nodes behind it are linked again
tamper() {
    name=$1; shift
    "$TAMPER" "$@" --config fed/hub/hub.conf >"tamper-$name.log" 2>&1 &
    tpid=$!
    for i in $(seq 1 $((RECONNECT_BOUND_S * 5))); do
        fedra --format json --timeout 2000 count >t.json 2>/dev/null
        grep -q '"reason": "node .AA. is not \(known to\|connected to\)' t.json || return 0
        sleep 0.2
    done
}
untamper() { kill "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null; }
tamper flip-query --flip-query
expect_status 3 "tampering hub altering queries" fedra --timeout 3000 count
for n in AA BB CC; do
    expect_grep "^  $n +error +node '$n' could not read the query relayed by hub 'hub'" "$WORK/last.out" \
        "altered query: $n could not open it, and says so"
done
expect_grep "^  DD +ok +$(rows DD) rows" "$WORK/last.out" "the direct node's answer is merged"
expect_grep "tamperhub: flipped byte .* sealed query" tamper-flip-query.log "(the hub did alter the queries)"
expect_grep "forwarded query .*unreadable" fed/nodes/AA/node.log "AA's log names the unreadable query"
untamper
tamper flip-answer --flip-answer
expect_status 3 "tampering hub altering answers" fedra --timeout 3000 count
expect_grep "^  AA +error +answer altered in transit" "$WORK/last.out" "altered answer: named as altered in transit"
expect_grep "tamperhub: flipped byte .* sealed answer" tamper-flip-answer.log "(the hub did alter the answers)"
untamper
tamper replay --replay-answer
expect_status 3 "tampering hub replaying an earlier answer" fedra --timeout 3000 count --by sex
expect_grep "^  BB +error +response answers a different query \(query hash mismatch\)" "$WORK/last.out" \
    "replayed answer: named as answering another query"
expect_grep "tamperhub: replayed node BB" tamper-replay.log "(the hub did replay)"
untamper
tamper swap --swap AA,BB
expect_status 3 "tampering hub swapping two nodes' answers" fedra --timeout 3000 count
# Answers are boxed between the analyst and each node (lib/seal.h): BB's box passed on as
# AA's does not open under AA's pair key (were it to, the signature would name BB:
# test_client).
expect_grep "^  AA +error +answer altered in transit: .* not a box between node 'AA' and you" \
    "$WORK/last.out" "swapped answers: AA's box is not AA's"
expect_grep "^  BB +error +answer altered in transit: .* not a box between node 'BB' and you" \
    "$WORK/last.out" "and BB's is not BB's"
expect_grep "^  CC +ok +$(rows CC) rows" "$WORK/last.out" "CC is untouched"
untamper
check "the real hub back" "$ROOT/scripts/federation" hub-start fed
for i in $(seq 1 $((RECONNECT_BOUND_S * 5))); do one_count back >v.txt && grep -q "4 answered" v.txt && break; sleep 0.2; done
grep -q "4 answered" v.txt && ok "through the real hub again: $(cat v.txt)" || fail "not back: $(cat v.txt)"

# The hub's own certificate signs no query: the hub refuses its route (role hub, not
# analyst) and the direct node refuses the query itself.
expect_status 3 "a query signed with the hub's certificate" \
    fedra --cert fed/hub/hub.crt --key fed/hub/hub.key --timeout 3000 count
expect_grep "^  AA +error +hub 'hub' refused the route .*role hub, but analyst is required" \
    "$WORK/last.out" "the hub refuses a route signed by a hub certificate"
expect_grep "^  DD +refused .*role hub, but analyst is required" "$WORK/last.out" \
    "and the direct node refuses the query"

# Revoked certificates: node (the hub refuses its hello), analyst (the hub refuses the
# route), hub (fedra refuses to use it, the nodes drop their link).
fedra-cert issue --ca fed/ca --role analyst --name mallory --out . >/dev/null
expect_status 0 "a fresh analyst is answered through the hub" fedra --cert mallory.crt --key mallory.key count
fedra-cert revoke --ca fed/ca --name mallory >/dev/null
fedra-cert revoke --ca fed/ca --name CC >/dev/null
fedra-cert crl --ca fed/ca --out fed/ca/crl.pem >/dev/null
"$ROOT/scripts/federation" reload fed >/dev/null
sleep 1
expect_status 3 "a revoked analyst" fedra --cert mallory.crt --key mallory.key --timeout 3000 count
expect_grep "^  AA +error +hub 'hub' refused the route to node 'AA'.*'mallory'.*revoked" "$WORK/last.out" \
    "the hub refuses the route of a revoked analyst, saying why"
expect_grep "^  DD +refused .*'mallory'.*revoked" "$WORK/last.out" "and the direct node refuses the query"
expect_status 3 "a revoked node" fedra --timeout 3000 count
expect_grep "^  CC +error +node 'CC' is not connected to hub 'hub'" "$WORK/last.out" \
    "CC (revoked, its hello refused by the hub) is named"
expect_grep "hub link .*: refused: .*'CC'.*revoked" fed/nodes/CC/node.log "CC's log says the hub refused it, and why"
fedra-cert revoke --ca fed/ca --name hub >/dev/null
fedra-cert crl --ca fed/ca --out fed/ca/crl.pem >/dev/null
expect_status 1 "a revoked hub: fedra refuses to route through it" fedra count
expect_grep "hub certificate refused: certificate 'hub'.*revoked" "$WORK/last.err" "saying why"

hub_pid=$(cat fed/hub/hub.pid)
"$ROOT/scripts/federation" down fed >/dev/null
check "down stops the hub too" sh -c "! kill -0 $hub_pid 2>/dev/null"
done_checks
