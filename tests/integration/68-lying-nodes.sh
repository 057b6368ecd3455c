# 68-lying-nodes - a node that lies with a valid signature (issue 12): a real
# node's answers altered and signed again with its own key by
# tests/tools/fakenode.c, in a federation of honest nodes.  Each lie is
# caught by the coordinator's checks of the numbers alone, named in fedra's
# node list, and the node is left out; the honest nodes' result is exact
# against R (models.R for the models, survfit and table() on the honest
# nodes' records for km and count).  A model that leaves the liar out is a
# partial fit: refused (exit 3, the liar named) without --allow-partial.
# Fresh random data every run (FEDRA_TEST_SEED=N reruns one draw).
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
command -v Rscript >/dev/null || { fail "Rscript not found: run scripts/install-deps"; done_checks; }
FAKE="$FEDRA_BIN/tests/fedra-fakenode"
[ -x "$FAKE" ] || { fail "$FAKE missing: run make"; done_checks; }

seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}
echo "  data seed $seed"
i=0
for n in AA BB CC LL; do
    i=$((i + 1))
    fedra-gendata --country "$n" --rows $(( 300 + (seed * i) % 300 )) --seed "$((seed + i))" >"$n.csv"
done
{ cat AA.csv; tail -n +2 BB.csv; tail -n +2 CC.csv; } >honest.csv
# min_cell 3 (a lie of 2 is inside 1 .. 2; rare levels stay above it), the
# default 30-day grid; the auditor is off so that the same queries can be
# asked of every liar.
check "federation up (AA BB CC honest, LL to be replaced by a liar)" \
    "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv CC=CC.csv LL=LL.csv --set query_audit=off \
    --set min_cell=3
. fed/env
cp fed/federation fed/federation.real
grep -v '^node = ' fed/federation.real >up.fed; grep '^node = LL ' fed/federation.real >>up.fed

# liar MODE: LL's answers go through fedra-fakenode MODE from now on.
fpid=
liar() {
    [ -n "$fpid" ] && { kill "$fpid"; wait "$fpid" 2>/dev/null; }
    "$FAKE" "$1" fed/nodes/LL/node.conf up.fed 2>"fake-$1.log" & fpid=$!
    for _ in $(seq 1 100); do grep -q ': ready' "fake-$1.log" && break; sleep 0.1; done
    fep=$(sed -n 's/.* serving on \(tcp:[^ ]*\): ready/\1/p' "fake-$1.log")
    sed "s|^node = LL .*|node = LL $fep $WORK/fed/nodes/LL/LL.crt|" fed/federation.real >fed/federation
}

# model KIND COVS OUTCOME fedra-args...: the liar is named with RULE, the fit is over AA BB CC.
model() {
    kind=$1 covs=$2 outc=$3 rule=$4; shift 4
    fedra --format json "$kind" "$@" --allow-partial >f.json 2>f.err; s1=$?
    fedra --format csv "$kind" "$@" --allow-partial >f.csv 2>>f.err; s2=$?
    [ "$s1" = 3 ] && [ "$s2" = 3 ] && ok "$kind with a liar: exit 3" || fail "$kind with a liar: exit $s1/$s2, wanted 3"
    if tr -d '\n' <f.json | sed 's/  */ /g' | grep -Eq "\"name\": \"LL\", \"status\": \"error\", \"reason\": \"answer rejected: node $rule"; then
        ok "$kind: LL named as error: $rule"
    else fail "$kind: LL not named with '$rule'"; sed 's/^/       | /' f.err | head -8; fi
    grep -q '"partial": true' f.json && ok "$kind: JSON says partial" || fail "$kind: JSON not partial"
    Rscript -e 'd <- read.csv("f.csv"); quit(status = !(all(d$partial) && grepl("LL=error", d$nodes[1])))' \
        && ok "$kind: CSV says partial, LL=error in nodes" || fail "$kind: CSV partial/nodes columns"
    grep -Eq "^fedra: partial fit: 3 of 4 nodes, n = [0-9]+ of [0-9]+ selected patients" f.err \
        && ok "$kind: stderr says partial fit, n of the selected" || { fail "$kind: no partial line"; sed 's/^/       | /' f.err | head -5; }
    if Rscript "$ROOT/tests/integration/models.R" all.csv f.csv f.json "$kind" os 30 efron \
        "$covs" "$outc" TRUE >r.out 2>&1; then
        ok "$kind over the honest nodes equals R: $(tail -n 1 r.out)"
    else fail "$kind over the honest nodes differs from R"; sed 's/^/       | /' r.out | head -8; fi
    # Without --allow-partial: no coefficients, the liar named on stderr.
    expect_status 3 "$kind without --allow-partial: the fit on a subset is refused" fedra "$kind" "$@"
    grep -Eq '^(term|age_years|stage[a-z]+) ' "$WORK/last.out" && fail "$kind: coefficients printed" \
        || ok "$kind: no coefficients on stdout"
    expect_grep "^  LL: left out \\(error: answer rejected: node $rule.*\\); selected patients it holds: [0-9]+$" \
        "$WORK/last.err" "$kind: stderr names LL, the rule, and the patients it holds"
}
{ cat AA.csv; tail -n +2 BB.csv; tail -n +2 CC.csv; tail -n +2 LL.csv; } >all.csv

# 1. Negative-definite information, in every model round.
liar lie-info
model cox stage,age_years - "sent an information matrix that is not positive semi-definite" \
    --covariates stage,age_years
model glm stage,age_years vital_status=dead "sent an information matrix that is not positive semi-definite" \
    --outcome vital_status=dead --covariates stage,age_years
grep -q 'altered, re-signed' fake-lie-info.log && ok "the liar did alter and re-sign its answers" \
    || fail "the liar never lied"

# 2. Times off the grid (every time + 1 day): km over the honest nodes equals survfit.
cat >km.R <<'R'
suppressMessages(library(survival))
d <- read.csv("honest.csv", stringsAsFactors = FALSE, na.strings = "")
t <- as.numeric(as.Date(d$last_contact_date) - as.Date(d$diagnosis_date))
t <- ceiling(t / 30) * 30; e <- as.integer(d$vital_status == "dead")
d$stage <- factor(d$stage, levels = c("localized", "regional", "metastatic", "unknown"))
fit <- survfit(Surv(t, e) ~ stage, data = d)
want <- data.frame(strata = rep(names(fit$strata), fit$strata), time = fit$time, n.risk = fit$n.risk,
  n.event = fit$n.event, surv = fit$surv)
got <- read.csv("km.csv", stringsAsFactors = FALSE)
if (nrow(got) != nrow(want) || !all(got$strata == want$strata)) { cat("rows/strata differ\n"); quit(status = 1) }
rel <- max(abs(c(got$time - want$time, got$n.risk - want$n.risk, got$n.event - want$n.event)),
  abs(got$surv - want$surv) / pmax(want$surv, 1e-300))
cat(sprintf("%d rows, max difference %.3g\n", nrow(want), rel)); quit(status = rel > 1e-9)
R
liar lie-grid
fedra --format csv km --by stage >km.csv 2>km.err; s=$?
[ "$s" = 3 ] && ok "km with a liar: exit 3" || fail "km with a liar: exit $s, wanted 3"
expect_grep "^  LL +error +answer rejected: node sent a time \\([0-9]+ days\\) off the 30-day grid it applied" \
    km.err "km: LL named as error: a time off the grid"
grep -q 'LL=error' km.csv && ok "km: the CSV's nodes column says LL=error" || fail "km: no LL=error in the CSV"
Rscript km.R >r.out 2>&1 && ok "km over the honest nodes equals survfit: $(tail -n 1 r.out)" \
    || { fail "km over the honest nodes differs from survfit"; sed 's/^/       | /' r.out | head -5; }
fedra --format json logrank --by stage >lr.json 2>/dev/null
tr -d '\n' <lr.json | sed 's/  */ /g' | grep -Eq '"name": "LL", "status": "error", "reason": "answer rejected: node sent a time' \
    && ok "logrank: LL named as error in the JSON nodes" || fail "logrank: LL not named"

# 3. A released count inside the node's own suppression range (1 .. min_cell-1).
liar lie-count
fedra --format csv count --by stage >count.csv 2>count.err; s=$?
[ "$s" = 3 ] && ok "count with a liar: exit 3" || fail "count with a liar: exit $s, wanted 3"
expect_grep "^  LL +error +answer rejected: node released a count of 2, inside its suppression range 1 \\.\\. 2" \
    count.err "count: LL named as error: a count inside its suppression range"
Rscript -e 'd <- read.csv("honest.csv"); w <- table(factor(d$stage, levels = c("localized", "regional", "metastatic", "unknown")))
    g <- read.csv("count.csv"); w <- w[w > 0]
    ok <- identical(as.character(g$stage), names(w)) && all(g$count == as.vector(w)) && all(g$nodes == g$nodes[1]) && grepl("LL=error", g$nodes[1])
    cat(paste(g$stage, g$count), "\n"); quit(status = !ok)' >r.out 2>&1 \
    && ok "count over the honest nodes equals table(): $(tail -n 1 r.out)" \
    || { fail "count over the honest nodes differs"; sed 's/^/       | /' r.out | head -5; }

kill "$fpid"; wait "$fpid" 2>/dev/null
cp fed/federation.real fed/federation
"$ROOT/scripts/federation" down fed >/dev/null
done_checks
