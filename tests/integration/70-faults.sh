# 70-faults - what the statistician gets when nodes fail: a correct merge of
# the nodes that answered (checked against sqlite3 and R on exactly those
# nodes' CSVs), a named status for each node that did not, exit 3, and never
# a wrong number.  Faults: a node stopped (hangs), a node killed with
# queries outstanding, a node answering garbage, a node answering with a
# valid signature to a different query (replay), a full disk during import,
# a damaged SQLite store, and an analyst clock skewed past the window.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
FAKE="$FEDRA_BIN/tests/fedra-fakenode"
[ -x "$FAKE" ] || { fail "$FAKE missing: run make"; done_checks; }

seed=$(( $(date +%s) % 100000 ))
echo "  data seed $seed"
fedra-gendata --country AA --rows 300 --seed "$seed" >AA.csv
fedra-gendata --country BB --rows 200 --seed "$((seed + 1))" >BB.csv
fedra-gendata --country CC --rows 150 --seed "$((seed + 2))" >CC.csv
# min_cell 1: every count is released exactly, so a merge can be checked to the unit.
check "federation up (AA BB CC, min_cell 1)" \
    "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv CC=CC.csv --set min_cell=1
. fed/env
pid() { cat "fed/nodes/$1/node.pid"; }
# Per-query timeout; tests/valgrind/run raises it (a node under valgrind is slow).
T=${FEDRA_TEST_TIMEOUT:-3000}
# restart_node FEDDIR NAME [PREFIX...]: start the node again (optionally under a
# wrapper such as faketime), wait for its new "serving on" line, and point the
# federation file at the port it chose.
restart_node() {
    fd=$1 nm=$2; shift 2
    log=$fd/nodes/$nm/node.log
    n0=$(grep -c ' serving on ' "$log")
    "$@" fedra-node serve --config "$fd/nodes/$nm/node.conf" >>"$log" 2>&1 &
    echo $! >"$fd/nodes/$nm/node.pid"
    for _ in $(seq 1 600); do [ "$(grep -c ' serving on ' "$log")" -gt "$n0" ] && break; sleep 0.1; done
    # Under a wrapper $! is the wrapper's shell: record the node itself, so that
    # `federation down` stops it.
    p=$(pgrep -n -f "fedra-node serve --config $fd/nodes/$nm/node.conf" || true)
    [ -n "$p" ] && echo "$p" >"$fd/nodes/$nm/node.pid"
    ep=$(sed -n 's/.* serving on \(tcp:[^ :]*:[0-9]*\):.*/\1/p' "$log" | tail -n 1)
    sed -i "s|^node = $nm .*|node = $nm $ep $WORK/$fd/nodes/$nm/$nm.crt|" "$fd/federation"
}

# Oracle for count --by stage: sqlite3 on the given nodes' CSVs.
oracle_count() {
    rm -f oracle.db
    for n in "$@"; do sqlite3 oracle.db ".import --csv $n.csv p_$n"; done
    q=$(for n in "$@"; do echo "SELECT stage FROM p_$n"; done | paste -sd'|' | sed 's/|/ UNION ALL /g')
    sqlite3 -csv oracle.db "SELECT stage, count(*) FROM ($q) GROUP BY stage" | sort
}
# fedra's count (stage,count where count = count_max), sorted.
fedra_count() { fedra --timeout "$T" --format csv count --by stage "$@" 2>fedra.err \
    | awk -F, 'NR > 1 && $2 == $3 {print $1 "," $2}' | sort; }
# merged_is NAME NODES...: the last fedra_count output ($WORK/got) equals the oracle.
merged_is() {
    name=$1; shift
    oracle_count "$@" >want
    if [ -s want ] && cmp -s want got; then ok "$name: merge equals sqlite3 on $* ($(paste -sd' ' got))"
    else fail "$name: merge differs from sqlite3 on $*"; diff want got | sed 's/^/       | /' | head; fi
}

# The survival oracle: survfit / survdiff on the given nodes' CSVs (OS, 30-day grid).
cat >surv.R <<'R'
suppressMessages(library(survival))
a <- commandArgs(TRUE); what <- a[1]; got <- a[2]; files <- a[-(1:2)]
d <- do.call(rbind, lapply(files, read.csv, stringsAsFactors = FALSE, na.strings = ""))
t <- as.numeric(as.Date(d$last_contact_date) - as.Date(d$diagnosis_date))
t <- ceiling(t / 30) * 30; e <- as.integer(d$vital_status == "dead")
d$stage <- factor(d$stage, levels = c("localized", "regional", "metastatic", "unknown"))
if (what == "km") {
  fit <- survfit(Surv(t, e) ~ 1)
  g <- read.csv(got)
  w <- data.frame(time = fit$time, n.risk = fit$n.risk, n.event = fit$n.event, surv = fit$surv)
  if (nrow(g) != nrow(w)) { cat("rows differ\n"); quit(status = 1) }
  rel <- max(abs(as.matrix(g[, names(w)]) - as.matrix(w)) / pmax(abs(as.matrix(w)), 1e-300))
  cat(sprintf("%d rows, max rel diff %.2g\n", nrow(w), rel)); quit(status = rel > 1e-9)
} else {
  s <- survdiff(Surv(t, e) ~ stage, data = d); chisq <- as.numeric(got)
  cat(sprintf("chisq %.10g vs R %.10g\n", chisq, s$chisq))
  quit(status = abs(chisq - s$chisq) > 1e-9 * s$chisq)
}
R
surv_is() { # surv_is NAME NODES...: km (got.km) and logrank (got.lr) equal R on those nodes
    name=$1; shift
    files=$(for n in "$@"; do echo "$n.csv"; done)
    if Rscript surv.R km got.km $files >r.out 2>&1; then ok "$name: km equals survfit on $* ($(cat r.out))"
    else fail "$name: km differs from survfit on $*"; sed 's/^/       | /' r.out | head -5; fi
    if Rscript surv.R lr "$(cat got.lr)" $files >r.out 2>&1; then ok "$name: logrank equals survdiff on $* ($(cat r.out))"
    else fail "$name: logrank differs from survdiff on $*"; sed 's/^/       | /' r.out | head -5; fi
}
fedra_surv() { # km and logrank into got.km, got.lr; statuses into surv.err
    fedra --timeout "$T" --format csv km 2>surv.err | cut -d, -f2,3,4,6 \
        | sed '1s/.*/time,n.risk,n.event,surv/' >got.km
    fedra --timeout "$T" --format json logrank --by stage 2>>surv.err | tr -d ' \n' \
        | grep -o '"chisq":[^,]*' | cut -d: -f2 >got.lr
}
status_is() { # status_is NODE STATUS FILE NAME
    if grep -Eq "^ *$1 +$2" "$3"; then ok "$4"; else fail "$4 (no '$1 $2' in $3)"; sed 's/^/       | /' "$3" | head; fi
}

# 0. Every node answers.
fedra_count >got; merged_is "all nodes" AA BB CC

# 1. A node that hangs (SIGSTOP): timeout named, the others merged, exit 3.
kill -STOP "$(pid AA)"
fedra_count >got; rc=${PIPESTATUS[0]}
fedra --timeout "$T" count >/dev/null 2>&1; rc=$?
[ "$rc" = 3 ] && ok "hung node: exit 3" || fail "hung node: exit $rc, wanted 3"
status_is AA timeout fedra.err "hung node: AA named as timeout"
merged_is "hung node" BB CC
fedra_surv
status_is AA timeout surv.err "hung node: km/logrank name AA as timeout"
surv_is "hung node" BB CC
kill -CONT "$(pid AA)"
expect_status 0 "the node answers again after SIGCONT" fedra --timeout $((T + 2000)) ping

# 2. A node killed (SIGKILL) while queries are outstanding: 6 analysts query in a
#    loop; AA is killed at a random moment.  Each answer is a merge of exactly
#    the nodes it names as ok.
oracle_count AA BB CC >want.all; oracle_count BB CC >want.bc
for i in 1 2 3 4 5 6; do
    ( miss=0
      for j in $(seq 1 40); do
        fedra --timeout "$T" --format csv count --by stage >run$i.$j.out 2>run$i.$j.err
        grep -Eq '^ *AA +ok' run$i.$j.err || miss=$((miss + 1))
        [ "$miss" -ge 2 ] && break
      done ) &
done
sleep "0.$(( RANDOM % 5 + 3 ))"; kill -KILL "$(pid AA)"
wait
wrong=0; nok=0; nto=0
for f in run*.out; do
    b=${f%.out}; awk -F, 'NR > 1 {print $1 "," $2}' "$f" | sort >"$b.got"
    if grep -Eq '^ *AA +ok' "$b.err"; then want=want.all; nok=$((nok + 1)); else want=want.bc; nto=$((nto + 1))
        grep -Eq '^ *AA +(timeout|error)' "$b.err" || wrong=$((wrong + 1)); fi
    cmp -s "$want" "$b.got" || wrong=$((wrong + 1))
done
[ "$wrong" = 0 ] && [ "$nto" -gt 0 ] && ok "node killed mid-stream: $((nok + nto)) answers, $nok with AA, $nto without, none wrong" \
    || fail "node killed mid-stream: $wrong wrong answers ($nok with AA, $nto without)"
restart_node fed AA
fedra_count >got; merged_is "killed node restarted" AA BB CC
check "killed node's audit chain is intact" fedra-node audit verify --db fed/nodes/AA/store.db

# 3. A node that answers garbage: error named, never merged.
cp fed/federation fed/federation.real
"$FAKE" garbage fed/nodes/AA/node.conf 2>fake.log & fpid=$!
for _ in $(seq 1 100); do grep -q ': ready' fake.log && break; sleep 0.1; done
fep=$(sed -n 's/.* serving on \(tcp:[^ ]*\): ready/\1/p' fake.log)
sed -i "s|^node = AA .*|node = AA $fep $WORK/fed/nodes/AA/AA.crt|" fed/federation
fedra_count >got
fedra --timeout "$T" count >/dev/null 2>&1; rc=$?
[ "$rc" = 3 ] && ok "garbage node: exit 3" || fail "garbage node: exit $rc, wanted 3"
status_is AA 'error +unreadable response' fedra.err "garbage node: AA named as error (unreadable response)"
merged_is "garbage node" BB CC
kill "$fpid"; wait "$fpid" 2>/dev/null

# 4. A node answering with a valid signature to a different query: the fake
#    forwards the first query to the real AA, then replays AA's signed answer.
grep -v '^node = ' fed/federation.real >up.fed; grep '^node = AA ' fed/federation.real >>up.fed
"$FAKE" replay fed/nodes/AA/node.conf up.fed 2>fake2.log & fpid=$!
for _ in $(seq 1 100); do grep -q ': ready' fake2.log && break; sleep 0.1; done
fep=$(sed -n 's/.* serving on \(tcp:[^ ]*\): ready/\1/p' fake2.log)
sed -i "s|^node = AA .*|node = AA $fep $WORK/fed/nodes/AA/AA.crt|" fed/federation
fedra_count >got; merged_is "replaying node, first query (proxied honestly)" AA BB CC
fedra_count --where "sex=F" >got
status_is AA 'error +response answers a different query' fedra.err \
    "replayed signed answer: AA named as error (query hash mismatch)"
fedra --timeout "$T" count >/dev/null 2>&1; rc=$?
[ "$rc" = 3 ] && ok "replaying node: exit 3" || fail "replaying node: exit $rc, wanted 3"
rm -f oracle.db
for n in BB CC; do sqlite3 oracle.db ".import --csv $n.csv p_$n"; done
sqlite3 -csv oracle.db "SELECT stage, count(*) FROM (SELECT stage, sex FROM p_BB UNION ALL SELECT stage, sex FROM p_CC) WHERE sex='F' GROUP BY stage" | sort >want
cmp -s want got && ok "replaying node: merge of BB CC only ($(paste -sd' ' got))" || { fail "replaying node: wrong merge"; diff want got | head; }
kill "$fpid"; wait "$fpid" 2>/dev/null
cp fed/federation.real fed/federation

# 5. Disk full during import: the import fails naming the cause, the store is unchanged.
"$ROOT/scripts/federation" down fed >/dev/null
fedra-gendata --country ZZ --rows 20000 --seed "$seed" >big.csv
mkdir -p small
before() { sqlite3 "$1" "SELECT count(*) FROM patient; SELECT value FROM meta ORDER BY key" | md5sum; }
if mount -t tmpfs -o size=1m tmpfs small 2>/dev/null; then
    trap 'mountpoint -q "$WORK/small" && umount "$WORK/small"' EXIT
    how="a 1 MB tmpfs"; cp fed/nodes/AA/store.db small/store.db
    b=$(before small/store.db)
    expect_status 1 "import onto a full disk ($how) fails" fedra-node import --db small/store.db big.csv
    expect_grep "disk is full; nothing was imported" "$WORK/last.err" "full disk: the error names the cause"
else
    how="ulimit -f"; cp fed/nodes/AA/store.db small/store.db
    b=$(before small/store.db)
    expect_status 1 "import past the file size limit ($how) fails" \
        bash -c "trap '' XFSZ; ulimit -f 400; exec fedra-node import --db small/store.db big.csv"
    expect_grep "nothing was imported" "$WORK/last.err" "file size limit: the error says nothing was imported"
fi
[ "$b" = "$(before small/store.db)" ] && ok "full disk ($how): store rows and meta unchanged" \
    || fail "full disk ($how): the store changed"
check "full disk: store passes integrity_check" test "$(sqlite3 small/store.db 'PRAGMA integrity_check')" = ok
mountpoint -q small && umount small

# 6. A damaged store: the node refuses to start and says so.  (a) garbage over
#    the patient table's root page (SQLite's quick_check finds it); (b) one
#    digit of one stored patient_id changed, which SQLite cannot notice (the
#    rows no longer match the dataset hash recorded at import).
cp fed/nodes/AA/store.db damaged.db
dd if=/dev/urandom of=damaged.db bs=1 seek=4096 count=100 conv=notrunc status=none
sed "s|^db = .*|db = $WORK/damaged.db|" fed/nodes/AA/node.conf >damaged.conf
expect_status 1 "a node on a store with a damaged page does not start" timeout 20 fedra-node serve --config damaged.conf
expect_grep "is damaged \(SQLite quick_check" "$WORK/last.err" "damaged page: the error says the store is damaged"
cp fed/nodes/AA/store.db altered.db
off=$(grep -abo 'AA-000150' altered.db | head -n 1 | cut -d: -f1)
printf '9' | dd of=altered.db bs=1 seek=$((off + 8)) conv=notrunc status=none
check "the altered store still passes SQLite's quick_check" test "$(sqlite3 altered.db 'PRAGMA quick_check')" = ok
sed "s|^db = .*|db = $WORK/altered.db|" fed/nodes/AA/node.conf >altered.conf
expect_status 1 "a node on a silently altered store does not start" timeout 20 fedra-node serve --config altered.conf
expect_grep "rows do not match the hash recorded at import" "$WORK/last.err" "altered rows: the error names the hash mismatch"

# 7. Clock skew: a query issued 10 minutes ahead of the nodes' clocks is refused
#    by every node (class clock), one 60 s ahead is inside the 120 s window.
"$ROOT/scripts/federation" up fed2 AA=AA.csv BB=BB.csv --set min_cell=1 >/dev/null
. fed2/env
# libfaketime is an LD_PRELOAD library; an ASan build wants its runtime first.
ft() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" faketime "$@"; }
if command -v faketime >/dev/null; then
    expect_status 3 "a query issued 10 minutes in the future is refused" ft -f '+600s' fedra count
    if grep -Eq 'AA +refused +.*ahead' "$WORK/last.out" && grep -Eq 'BB +refused +.*ahead' "$WORK/last.out"; then
        ok "skew: both nodes refuse, saying the query is ahead of their clock"
    else fail "skew: refusal does not name the clock"; sed 's/^/       | /' "$WORK/last.out" | head; fi
    grep -Eq '^ *[0-9]' "$WORK/last.out" && fail "skew: a number was printed" || ok "skew: no number is printed"
    expect_status 0 "a query 60 s ahead is within the tolerated skew" ft -f '+60s' fedra count
    # A node whose own clock runs 15 minutes fast: to it the query has expired.
    kill "$(cat fed2/nodes/BB/node.pid)"; sleep 0.5
    restart_node fed2 BB ft -f '+900s'
    fedra --timeout "$T" --format csv count --by stage 2>fedra.err | awk -F, 'NR > 1 {print $1 "," $2}' | sort >got
    status_is BB 'refused +.*expired' fedra.err "node clock 15 min fast: BB refuses the query as expired"
    merged_is "node clock 15 min fast" AA
else
    fail "faketime not found: run scripts/install-deps"
fi
"$ROOT/scripts/federation" down fed2 >/dev/null
done_checks
