# 95-pooled - pooled release through the hub (issue 14, docs/disclosure.md
# "Pooled release"): four registries behind a hub, each holding only a few
# patients of the rare tumour types.  On fresh random data every run:
#   - utility: per-node small-cell rules hide most rare types; pooled, every
#     type whose pooled count is at least min_cell (and that at least
#     min_sites nodes hold, or no node holds a small number of) is released
#     exactly, and every other one stays hidden: the expected cells come from
#     R on each node's own records, never from fedra;
#   - exactness: pooled km equals survfit on the pooled records (times on
#     the 30-day grid) to 1e-12, row for row, up to where fewer than min_cell
#     remain at risk in the pooled stratum, and not one row further;
#   - faults: a participant list that is not the hub's roster is refused; a
#     node that is down makes the whole result fail, naming the node, never a
#     result over fewer nodes.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
command -v Rscript >/dev/null || { fail "Rscript not found: run scripts/install-deps"; done_checks; }

seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}    # FEDRA_TEST_SEED=N reruns one draw
echo "  data seed $seed"
for i in 0 1 2 3; do
    n=$(echo AA BB CC DD | cut -d' ' -f$((i + 1)))
    fedra-gendata --country $n --rows $((40 + (seed + 7 * i) % 50)) --seed "$((seed + i))" >$n.csv
done
{ cat AA.csv; for n in BB CC DD; do tail -n +2 $n.csv; done; } >all.csv

check "federation up (AA BB CC DD behind the hub, roster of four)" \
    "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv CC=CC.csv DD=DD.csv --hub
. fed/env
expect_grep '^roster = AA,BB,CC,DD$' fed/hub/hub.conf "the hub's roster is every node"
# This scenario checks the pooled release rules and exactness query by query.  The
# pooled auditor withholds by what earlier pooled results released (a km by stage
# after a count by tumour type splits the released rare types into small atoms:
# docs/disclosure.md §8.7), so here it is off (a test-only switch); 97-pooled-audit
# checks it, attack by attack.
"$ROOT/scripts/federation" hub-stop fed >/dev/null 2>&1
echo "pool_audit = off" >>fed/hub/hub.conf
check "the hub again, its pooled auditor off" "$ROOT/scripts/federation" hub-start fed
for _ in $(seq 1 150); do fedra ping >/dev/null 2>&1 && break; sleep 0.1; done

# --- Utility: counts by tumour type, direct and pooled ------------------------
expect_status 0 "count --by tumour_type (each node's own rules)" \
    fedra --format csv count --by tumour_type
cp "$WORK/last.out" direct.csv
expect_status 0 "count --by tumour_type --pooled" fedra --format csv count --by tumour_type --pooled
cp "$WORK/last.out" pooled.csv
expect_grep '^tumour_type,count,count_max,nodes' pooled.csv "pooled CSV has the count columns"
expect_grep 'AA=ok;BB=ok;CC=ok;DD=ok' pooled.csv "and names every participant"
cat >want.R <<'R'
# Expected pooled cells from each node's own records: released iff the pooled
# count is 0 or >= 5, and >= 3 nodes hold the type or none holds 1..4.
n <- c("AA", "BB", "CC", "DD")
per <- sapply(n, function(x) table(factor(read.csv(paste0(x, ".csv"))$tumour_type)))
types <- unique(unlist(lapply(per, names)))
pooled <- read.csv("pooled.csv", stringsAsFactors = FALSE)
direct <- read.csv("direct.csv", stringsAsFactors = FALSE)
bad <- 0; shown <- 0; shown_direct <- 0; hidden <- 0
for (t in types) {
  k <- sapply(per, function(p) if (t %in% names(p)) as.integer(p[[t]]) else 0L)
  total <- sum(k); sites <- sum(k > 0); small <- sum(k > 0 & k < 5)
  release <- total >= 5 && (sites >= 3 || small == 0)
  row <- pooled[pooled$tumour_type == t, ]
  if (nrow(row) != 1) { cat("type", t, "missing from the pooled result\n"); bad <- bad + 1; next }
  if (release) {
    if (row$count != total || row$count_max != total) {
      cat(t, ": pooled", row$count, "want", total, "\n"); bad <- bad + 1 }
    shown <- shown + 1
  } else {
    # held back: no count for it (count 0, no upper bound shown as a number above it)
    if (row$count != 0) { cat(t, ": held back but shows", row$count, "\n"); bad <- bad + 1 }
    hidden <- hidden + 1
  }
  d <- direct[direct$tumour_type == t, ]
  if (nrow(d) == 1 && d$count == d$count_max) shown_direct <- shown_direct + 1
}
# Nothing pooled shows a count of 1..4.
if (any(pooled$count > 0 & pooled$count < 5)) { cat("a pooled count of 1..4 is shown\n"); bad <- bad + 1 }
cat(sprintf("%d types: %d released pooled (%d by each node alone), %d held back\n",
  length(types), shown, shown_direct, hidden))
if (shown < shown_direct) { cat("pooled shows fewer types than direct\n"); bad <- bad + 1 }
quit(status = if (bad == 0) 0 else 1)
R
if Rscript want.R >r.out 2>&1; then ok "pooled counts: exactly the cells the rules release ($(tail -n 1 r.out))"
else fail "pooled counts differ from the rules on each node's records"; sed 's/^/       | /' r.out | head; fi

# --- Exactness: pooled km against survfit -------------------------------------
expect_status 0 "km --by stage --pooled" fedra --format csv km --by stage --pooled
cut -d, -f1-9 "$WORK/last.out" >km.csv
cat >km.R <<'R'
suppressMessages(library(survival))
d <- read.csv("all.csv", stringsAsFactors = FALSE)
t <- ceiling(as.numeric(as.Date(d$last_contact_date) - as.Date(d$diagnosis_date)) / 30) * 30
e <- as.integer(d$vital_status == "dead")
d$stage <- factor(d$stage, levels = c("localized", "regional", "metastatic", "unknown"))
fit <- survfit(Surv(t, e) ~ stage, data = d)
want <- data.frame(strata = rep(names(fit$strata), fit$strata), time = fit$time,
  n.risk = fit$n.risk, n.event = fit$n.event, surv = fit$surv,
  std.err = fit$surv * fit$std.err)
# The pooled R4 cut: exactly the rows with at least min_cell at risk.
want <- want[want$n.risk >= 5, ]
got <- read.csv("km.csv", stringsAsFactors = FALSE)
got <- got[got$strata %in% want$strata, ]
want <- want[want$strata %in% got$strata, ]
if (nrow(got) != nrow(want)) { cat("rows: fedra", nrow(got), "R", nrow(want), "\n"); quit(status = 1) }
worst <- 0
for (col in c("time", "n.risk", "n.event", "surv", "std.err")) {
  g <- got[[col]]; w <- want[[col]]
  r <- ifelse(w == 0, abs(g), abs(g - w) / abs(w))
  worst <- max(worst, r, na.rm = TRUE)
  if (any(is.na(g) != is.na(w))) { cat(col, ": NA differs\n"); quit(status = 1) }
}
cat(sprintf("%d rows over %d strata, worst relative difference %.2g\n", nrow(got),
  length(unique(got$strata)), worst))
quit(status = if (worst <= 1e-12) 0 else 1)
R
if Rscript km.R >r.out 2>&1; then ok "pooled km equals survfit up to the pooled cut: $(tail -n 1 r.out)"
else fail "pooled km differs from survfit"; sed 's/^/       | /' r.out | head; fi
expect_status 0 "km --pooled --format json" fedra --format json km --by stage --pooled
expect_grep '"hub": "hub"' "$WORK/last.out" "JSON says who released the result"
expect_grep '"min_sites": 3' "$WORK/last.out" "and which rules it applied"
if grep -q '"rows": [0-9]' "$WORK/last.out" || grep -q '"data_hash"' "$WORK/last.out"; then
    fail "a pooled result tells a node's row count or data hash"
else ok "no node's row count or data hash in the pooled result"; fi

# Pooled log-rank: survdiff on the pooled records, over the released period
# (every record censored where the earliest pooled curve stops: truncated_at),
# less a stage the hub held back (a pooled size of 1 .. 4 on some draws).
expect_status 0 "logrank --by stage --pooled" fedra --format json logrank --by stage --pooled
jq -r '.result.withheld // "" | split(", ")[] | sub(" at .*"; "")' "$WORK/last.out" >lr.held
tr -d ' \n' <"$WORK/last.out" >lr.json
chisq=$(grep -o '"chisq":[^,]*' lr.json | cut -d: -f2)
cut=$(grep -o '"truncated_at":[^,}]*' lr.json | cut -d: -f2)
cat >lr.R <<'R'
suppressMessages(library(survival))
a <- commandArgs(TRUE); g <- as.numeric(a[1]); cut <- suppressWarnings(as.numeric(a[2]))
d <- read.csv("all.csv", stringsAsFactors = FALSE)
if (file.size("lr.held") > 0) d <- d[!d$stage %in% readLines("lr.held"), ]
t <- ceiling(as.numeric(as.Date(d$last_contact_date) - as.Date(d$diagnosis_date)) / 30) * 30
e <- as.integer(d$vital_status == "dead")
if (!is.na(cut)) { e[t >= cut] <- 0L; t <- pmin(t, cut) }
s <- survdiff(Surv(t, e) ~ stage, data = d)
cat(sprintf("chisq %.12g (fedra %.12g), censored at %s\n", s$chisq, g, a[2]))
quit(status = if (abs(g - s$chisq) <= 1e-12 * s$chisq) 0 else 1)
R
if Rscript lr.R "$chisq" "$cut" >r.out 2>&1; then ok "pooled logrank equals survdiff: $(tail -n 1 r.out)"
else fail "pooled logrank differs from survdiff"; sed 's/^/       | /' r.out | head; fi

# Pooled cif: survfit's multi-state curves and cmprsk's Gray test on the pooled
# records (tests/integration/cif.R, the oracle of 62-cif), up to each pooled cut.
cp "$ROOT/tests/integration/cif.R" cif.R
expect_status 0 "cif --by stage --pooled (csv)" fedra --format csv cif --by stage --pooled
cp "$WORK/last.out" cif.csv
expect_status 0 "cif --by stage --pooled (json)" fedra --format json cif --by stage --pooled
cp "$WORK/last.out" cif.json
jq -r '.result.curves[] | [.strata, (.truncated_at // 0)] | @tsv' cif.json | tr '\t' ' ' >cif.cuts
# A stratum the hub held back (pooled size 1 .. 4 on some draws): every node's records
# of it leave R's data too (cif.R's HELD lists level and node).
: >cif.held
for lv in $(jq -r '.result.withheld[]?.strata | sub("^stage="; "")' cif.json); do
    for n in AA BB CC DD; do echo "$lv $n" >>cif.held; done
done
gray=$(jq -r 'if .result.gray == null then "none" else "\(.result.gray.chisq),\(.result.gray.df),\(.result.gray.p)" end' cif.json)
gc=$(jq -r '.result.gray.truncated_at // 0' cif.json)
if Rscript cif.R cif.csv 30 relapse stage - "$gray" cif.cuts cif.held "$gc" >r.out 2>&1; then
    ok "pooled cif equals survfit up to the pooled cut, Gray's test equals cuminc: $(tail -n 1 r.out)"
else fail "pooled cif differs from R"; sed 's/^/       | /' r.out | head; fi
expect_status 0 "km --pooled --rmean 3650" fedra --format json km --pooled --rmean 3650
rm_got=$(jq -r '"\(.result.curves[0].rmean) \(.result.curves[0].rmean_se)"' "$WORK/last.out")
cat >rmean.R <<'R'
suppressMessages(library(survival))
g <- as.numeric(strsplit(commandArgs(TRUE)[1], " ")[[1]])
d <- read.csv("all.csv", stringsAsFactors = FALSE)
t <- ceiling(as.numeric(as.Date(d$last_contact_date) - as.Date(d$diagnosis_date)) / 30) * 30
w <- summary(survfit(Surv(t, d$vital_status == "dead") ~ 1), rmean = 3650)$table[c("rmean", "se(rmean)")]
cat(sprintf("rmean %.10g se %.10g (R %.10g, %.10g)\n", g[1], g[2], w[1], w[2]))
quit(status = if (all(abs(g - w) <= 1e-12 * abs(w))) 0 else 1)
R
if Rscript rmean.R "$rm_got" >r.out 2>&1; then ok "pooled km's restricted mean equals R's: $(tail -n 1 r.out)"
else fail "pooled restricted mean differs from R"; sed 's/^/       | /' r.out | head -3; fi

# Issue 15, pooled as direct: km by two variables (R's strata names) up to each
# pooled cut, and the restricted mean of two curves with their difference.
expect_status 0 "km --by stage,sex --pooled" fedra --format csv km --by stage,sex --pooled
cut -d, -f1-9 "$WORK/last.out" >km2.csv
cat >km2.R <<'R'
suppressMessages(library(survival))
d <- read.csv("all.csv", stringsAsFactors = FALSE)
d$t <- ceiling(as.numeric(as.Date(d$last_contact_date) - as.Date(d$diagnosis_date)) / 30) * 30
d$e <- as.integer(d$vital_status == "dead")
d$stage <- factor(d$stage, levels = c("localized", "regional", "metastatic", "unknown"))
d$sex <- factor(d$sex, levels = c("F", "M", "U"))
fit <- survfit(Surv(t, e) ~ stage + sex, data = droplevels(d))
want <- data.frame(strata = rep(names(fit$strata), fit$strata), time = fit$time,
  n.risk = fit$n.risk, n.event = fit$n.event, surv = fit$surv,
  std.err = fit$surv * fit$std.err, stringsAsFactors = FALSE)
size <- fit$n; names(size) <- names(fit$strata)
got <- read.csv("km2.csv", stringsAsFactors = FALSE)
if (!all(got$strata %in% want$strata)) {
  cat("strata not R's:", setdiff(got$strata, want$strata), "\n"); quit(status = 1) }
# no stratum of 1 .. 4 pooled patients is shown (which larger ones are is 95's count check)
if (any(size[unique(got$strata)] < 5)) { cat("a small stratum is shown\n"); quit(status = 1) }
want <- want[want$strata %in% got$strata & want$n.risk >= 5, ]
if (nrow(got) != nrow(want) || !all(got$strata == want$strata)) {
  cat("rows: fedra", nrow(got), "R", nrow(want), "\n"); quit(status = 1) }
worst <- 0
for (col in c("time", "n.risk", "n.event", "surv", "std.err")) {
  g <- got[[col]]; w <- want[[col]]
  worst <- max(worst, ifelse(w == 0, abs(g), abs(g - w) / abs(w)))
}
cat(sprintf("%d strata named as survfit's (%s ...), %d rows, worst relative difference %.2g\n",
  length(unique(got$strata)), got$strata[1], nrow(got), worst))
quit(status = if (worst <= 1e-12) 0 else 1)
R
if Rscript km2.R >r.out 2>&1; then ok "pooled km --by stage,sex equals survfit(Surv ~ stage + sex): $(tail -n 1 r.out)"
else fail "pooled km --by stage,sex differs from survfit"; sed 's/^/       | /' r.out | head; fi
expect_status 0 "km --by sex --where sex!=U --rmean 1095 --pooled" \
    fedra --format json km --by sex --where 'sex!=U' --rmean 1095 --pooled
jq -r '[.result.curves[] | .rmean, .rmean_se] + [.result.rmean_diff | .diff, .se, .lower, .upper, .p]
    | map(tostring) | join(" ")' "$WORK/last.out" >rm2.txt
cat >rm2.R <<'R'
suppressMessages(library(survival))
g <- scan("rm2.txt", quiet = TRUE)
d <- read.csv("all.csv", stringsAsFactors = FALSE)
d <- d[d$sex != "U", ]
t <- ceiling(as.numeric(as.Date(d$last_contact_date) - as.Date(d$diagnosis_date)) / 30) * 30
tab <- summary(survfit(Surv(t, d$vital_status == "dead") ~ d$sex), rmean = 1095)$table
r <- tab[, "rmean"]; s <- tab[, "se(rmean)"]; dd <- r[2] - r[1]; se <- sqrt(s[1]^2 + s[2]^2)
w <- c(r[1], s[1], r[2], s[2], dd, se, dd - qnorm(0.975) * se, dd + qnorm(0.975) * se,
  2 * pnorm(-abs(dd / se)))
worst <- max(abs(g - w) / abs(w))
cat(sprintf("rmean F %.8g M %.8g, difference %.8g (se %.6g), worst relative difference %.2g\n",
  r[1], r[2], dd, se, worst))
quit(status = if (length(g) == 9 && worst <= 1e-12) 0 else 1)
R
if Rscript rm2.R >r.out 2>&1; then ok "pooled rmean of two curves and their difference equal R's: $(tail -n 1 r.out)"
else fail "pooled rmean difference differs from R"; sed 's/^/       | /' r.out | head -4; fi

# --- A pooled bundle: the release and every node's commitment, checked offline --
expect_status 0 "count --pooled --bundle" fedra --bundle pooled.json count --by tumour_type --pooled
expect_status 0 "fedra verify accepts the pooled bundle" fedra verify --ca-cert fed/ca/ca.crt pooled.json
expect_grep "held back by the pooled release rules|pooled release by hub" "$WORK/last.out" \
    "verify prints the pooled result again"
python3 - <<'PY'
import json
b = json.load(open("pooled.json"))
r = b["rounds"][0]
p = bytearray.fromhex(r["pooled"]); p[len(p) // 2] ^= 1; r["pooled"] = p.hex()
json.dump(b, open("pooled-bad.json", "w"))
PY
expect_status 1 "a pooled bundle with one byte changed does not verify" \
    fedra verify --ca-cert fed/ca/ca.crt pooled-bad.json
expect_grep "does NOT verify" "$WORK/last.err" "saying so"

# --- The hub's log: a release recomputed from the masked shares it kept --------
fedra-hub log export --config fed/hub/hub.conf >relay.jsonl
route=$(grep '"kind":"release"' relay.jsonl | tail -n 1 | sed 's/.*"route_id":"\([0-9a-f]*\)".*/\1/')
check "the relay log has a release entry" test -n "$route"
expect_status 0 "fedra-hub recompute: the release from the kept shares" \
    fedra-hub recompute --config fed/hub/hub.conf --route "$route"
expect_grep "release recomputes from the 4 kept shares" "$WORK/last.out" "and it is the one signed"
expect_status 0 "the relay log's chain holds" fedra-hub log verify --config fed/hub/hub.conf
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("fed/hub/relay.db")
db.execute("DROP TRIGGER relay_blob_no_update")
seq = db.execute("SELECT b.seq FROM relay_blob b JOIN relay r ON r.seq = b.seq "
                 "WHERE r.kind = 'share' ORDER BY b.seq DESC LIMIT 1").fetchone()[0]
data = bytearray(db.execute("SELECT data FROM relay_blob WHERE seq = ?", (seq,)).fetchone()[0])
data[len(data) - 1] ^= 1
db.execute("UPDATE relay_blob SET data = ? WHERE seq = ?", (bytes(data), seq))
db.commit()
PY
expect_status 1 "a kept share edited in the log: recompute refuses" \
    fedra-hub recompute --config fed/hub/hub.conf --route "$route"
expect_grep "does not hold|kept data does not match" "$WORK/last.err" "naming the broken log"

# --- Faults -------------------------------------------------------------------
grep -v '^node = DD ' fed/federation >fed/three
expect_status 1 "a participant list that is not the roster is refused" \
    fedra --federation fed/three count --by sex --pooled
expect_grep "whole roster" "$WORK/last.err" "saying the result covers the whole roster"
expect_status 1 "pooled km with exact times is refused" fedra km --pooled --grid 0
kill "$(cat fed/nodes/CC/node.pid)"
sleep 0.5
expect_status 1 "a node down: the pooled result fails" fedra --timeout 3000 count --by sex --pooled
expect_grep "CC" "$WORK/last.err" "naming the node"
if grep -q '^sex' "$WORK/last.out"; then fail "a result over fewer nodes was printed"
else ok "no result over fewer nodes"; fi

"$ROOT/scripts/federation" down fed >/dev/null 2>&1
done_checks
