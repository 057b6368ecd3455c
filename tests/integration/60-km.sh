# 60-km - pooled Kaplan-Meier and log-rank across real nodes, checked live
# against R's survfit and survdiff on the pooled records (fresh random data
# every run), exact and binned; the node's time-resolution rule refuses the
# rest; under the default policy (min_cell 5) small strata are withheld (R5)
# and curves stop where fewer than 5 remain at risk (R4): the pooled curve
# equals R's up to the released time, and the log-rank test equals survdiff
# on the records censored there (docs/disclosure.md §6).
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
command -v Rscript >/dev/null || { fail "Rscript not found: run scripts/install-deps"; done_checks; }

seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}    # FEDRA_TEST_SEED=N reruns one draw
echo "  data seed $seed"
fedra-gendata --country AA --rows 500 --seed "$seed" >AA.csv
fedra-gendata --country BB --rows 240 --seed "$((seed + 1))" >BB.csv
fedra-gendata --country CC --rows 90 --seed "$((seed + 2))" >CC.csv
{ cat AA.csv; tail -n +2 BB.csv; tail -n +2 CC.csv; } >all.csv

# The oracle: survfit on the pooled CSV, compared column by column with fedra's CSV.
cat >oracle.R <<'R'
suppressMessages(library(survival))
a <- commandArgs(TRUE); fedra <- a[1]; endpoint <- a[2]; grid <- as.numeric(a[3]); ct <- a[4]
d <- read.csv("all.csv", stringsAsFactors = FALSE, na.strings = "")
dx <- as.Date(d$diagnosis_date); lc <- as.Date(d$last_contact_date); ev <- as.Date(d$event_date)
dead <- as.integer(d$vital_status == "dead")
if (endpoint == "os") { t <- as.numeric(lc - dx); e <- dead } else {
  t <- ifelse(is.na(ev), as.numeric(lc - dx), as.numeric(ev - dx))
  e <- ifelse(is.na(ev), dead, 1L) }
if (grid > 0) t <- ceiling(t / grid) * grid
d$stage <- factor(d$stage, levels = c("localized", "regional", "metastatic", "unknown"))
fit <- survfit(Surv(t, e) ~ stage, data = d, conf.type = ct)
strata <- rep(names(fit$strata), fit$strata)
want <- data.frame(strata, time = fit$time, n.risk = fit$n.risk, n.event = fit$n.event,
  n.censor = fit$n.censor, surv = fit$surv, std.err = fit$surv * fit$std.err,
  lower = fit$lower, upper = fit$upper)
got <- read.csv(fedra, stringsAsFactors = FALSE)
if (nrow(got) != nrow(want)) { cat("rows: fedra", nrow(got), "R", nrow(want), "\n"); quit(status = 1) }
if (!all(got$strata == want$strata)) { cat("strata differ\n"); quit(status = 1) }
worst <- 0
for (col in names(want)[-1]) {
  g <- got[[col]]; w <- want[[col]]
  if (!all(is.na(g) == is.na(w))) { cat("NA pattern differs in", col, "\n"); quit(status = 1) }
  ok <- !is.na(w)
  rel <- abs(g[ok] - w[ok]) / pmax(abs(w[ok]), 1e-300)
  rel[g[ok] == w[ok]] <- 0
  worst <- max(worst, rel)
}
tab <- summary(fit)$table
js <- readLines(sub("csv$", "med", fedra))
med <- matrix(suppressWarnings(as.numeric(strsplit(paste(js, collapse = " "), " +")[[1]])), ncol = 3, byrow = TRUE)
m <- tab[, c("median", "0.95LCL", "0.95UCL"), drop = FALSE]
if (!all(is.na(med) == is.na(m)) || any(abs(med[!is.na(m)] - m[!is.na(m)]) > 1e-9 * abs(m[!is.na(m)]))) {
  cat("median differs\n"); print(med); print(m); quit(status = 1) }
cat(sprintf("max relative difference %.3g over %d rows\n", worst, nrow(want)))
quit(status = if (worst <= 1e-9) 0 else 1)
R

# The log-rank oracle: survdiff on the pooled CSV, pooled and stratified by node.
cat >lr.R <<'R'
suppressMessages(library(survival))
a <- commandArgs(TRUE); endpoint <- a[1]; grid <- as.numeric(a[2]); strat <- a[3] == "1"
got <- as.numeric(strsplit(a[4], ",")[[1]])
d <- read.csv("all.csv", stringsAsFactors = FALSE, na.strings = "")
d$node <- sub("-.*", "", d$patient_id)
dx <- as.Date(d$diagnosis_date); lc <- as.Date(d$last_contact_date); ev <- as.Date(d$event_date)
dead <- as.integer(d$vital_status == "dead")
if (endpoint == "os") { t <- as.numeric(lc - dx); e <- dead } else {
  t <- ifelse(is.na(ev), as.numeric(lc - dx), as.numeric(ev - dx)); e <- ifelse(is.na(ev), dead, 1L) }
if (grid > 0) t <- ceiling(t / grid) * grid
d$stage <- factor(d$stage, levels = c("localized", "regional", "metastatic", "unknown"))
s <- if (strat) survdiff(Surv(t, e) ~ stage + strata(node), data = d) else survdiff(Surv(t, e) ~ stage, data = d)
want <- c(s$chisq, s$obs, s$exp)
if (strat) want <- c(s$chisq, rowSums(s$obs), rowSums(s$exp))
rel <- max(abs(got - want) / pmax(abs(want), 1e-300))
cat(sprintf("chisq %.10g, max relative difference %.3g\n", s$chisq, rel))
quit(status = if (length(got) == length(want) && rel <= 1e-9) 0 else 1)
R
# chisq, observed..., expected... from fedra's JSON
lr_numbers() {
    j=$(fedra --format json logrank "$@" | tr -d ' \n')
    c=$(echo "$j" | grep -o '"chisq":[^,]*' | cut -d: -f2)
    o=$(echo "$j" | grep -o '"observed":[^,]*' | cut -d: -f2 | paste -sd,)
    e=$(echo "$j" | grep -o '"expected":[^,}]*' | cut -d: -f2 | paste -sd,)
    echo "$c,$o,$e"
}
lr_check() { # lr_check ENDPOINT GRID STRATIFY(0/1) fedra-args...
    ep=$1 g=$2 st=$3; shift 3
    nums=$(lr_numbers --endpoint "$ep" "$@")
    if Rscript lr.R "$ep" "$g" "$st" "$nums" >r.out 2>&1; then
        ok "logrank $* equals survdiff: $(tail -n 1 r.out)"
    else fail "logrank $* differs from survdiff ($nums)"; sed 's/^/       | /' r.out | head -5; fi
}

# medians from fedra's JSON as "m lo hi" lines (NA for null)
medians() {
    fedra --format json km "$@" | tr -d ' \n' | grep -o '"median":[^,]*,"median_lower":[^,]*,"median_upper":[^,]*' \
        | sed 's/"median[a-z_]*"://g; s/null/NA/g; s/,/ /g'
}

# 1. Exact times where every node's policy allows them.
check "federation up (time_grid_days=0, min_cell=1)" \
    "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv CC=CC.csv --set time_grid_days=0 --set min_cell=1
. fed/env
for ep in os efs; do
    for ct in log log-log plain; do
        expect_status 0 "km --endpoint $ep --grid 0 --conf-type $ct" \
            fedra --format csv km --by stage --endpoint $ep --grid 0 --conf-type $ct
        cp "$WORK/last.out" km.csv
        medians --by stage --endpoint $ep --grid 0 --conf-type $ct >km.med
        if Rscript oracle.R km.csv $ep 0 $ct >r.out 2>&1; then ok "equals survfit ($ep, exact, $ct): $(tail -n 1 r.out)"
        else fail "differs from survfit ($ep, exact, $ct)"; sed 's/^/       | /' r.out | head; fi
    done
done
lr_check os 0 0 --by stage --grid 0
lr_check efs 0 1 --by stage --grid 0 --stratify-by-node
expect_status 3 "stratified log-rank needs a fixed-level variable" \
    fedra logrank --by age_years --grid 0 --stratify-by-node
expect_grep "needs a categorical variable with fixed levels" "$WORK/last.out" "refusal says why"
"$ROOT/scripts/federation" down fed >/dev/null

# 2. Default policy: 30-day grid.  Binned results equal survfit on times rounded up.
check "federation up (default 30-day grid, min_cell=1)" \
    "$ROOT/scripts/federation" up fed2 AA=AA.csv BB=BB.csv CC=CC.csv --set min_cell=1
. fed2/env
for ep in os efs; do
    expect_status 0 "km --endpoint $ep --grid 30" fedra --format csv km --by stage --endpoint $ep
    cp "$WORK/last.out" km.csv
    medians --by stage --endpoint $ep >km.med
    if Rscript oracle.R km.csv $ep 30 log >r.out 2>&1; then ok "equals survfit on 30-day-rounded times ($ep): $(tail -n 1 r.out)"
    else fail "binned differs from survfit ($ep)"; sed 's/^/       | /' r.out | head; fi
done
lr_check os 30 0 --by stage
lr_check os 30 1 --by stage --stratify-by-node
expect_status 0 "a coarser multiple of the node grid is released (--grid 90)" fedra km --grid 90
expect_status 3 "exact times are refused where the policy forbids them" fedra km --grid 0
expect_grep "AA +refused +exact event times are not released" "$WORK/last.out" "refusal names the exact-time rule"
expect_status 3 "a grid that is not a multiple of the node's is refused" fedra km --grid 45
expect_grep "not released by this node: its policy allows multiples of 30" "$WORK/last.out" "refusal names the grid rule"
"$ROOT/scripts/federation" down fed2 >/dev/null

# 2b. Edge cases on crafted data, exact times: nobody dies; everybody dies (S reaches 0);
# an empty stratum (no patient of stage unknown anywhere); one patient per node.
edge_km() { # edge_km NAME AWK-PROGRAM [HEAD-ROWS]
    name=$1 prog=$2 rows=${3:-}
    for c in AA BB; do
        if [ -n "$rows" ]; then head -n "$((rows + 1))" "$c.csv"; else cat "$c.csv"; fi |
            awk -F, -v OFS=, "NR == 1 { print; next } { $prog; print }" >"E$c.csv"
    done
    { cat EAA.csv; tail -n +2 EBB.csv; } >all.csv
    "$ROOT/scripts/federation" up "fe-$name" AA=EAA.csv BB=EBB.csv --set time_grid_days=0 \
        --set min_cell=1 >/dev/null 2>&1 || { fail "$name: federation up"; return; }
    . "fe-$name/env"
    if fedra --format csv km --by stage --grid 0 >km.csv 2>km.err; then
        medians --by stage --grid 0 >km.med
        if Rscript oracle.R km.csv os 0 log >r.out 2>&1; then ok "km, $name: equals survfit: $(tail -n 1 r.out)"
        else fail "km, $name: differs from survfit"; sed 's/^/       | /' r.out | head; fi
    else fail "km, $name: fedra failed"; sed 's/^/       | /' km.err | head -5; fi
    case $name in everybody-dies|empty-stratum) lr_check os 0 0 --by stage --grid 0 ;; esac
    "$ROOT/scripts/federation" down "fe-$name" >/dev/null
}
edge_km nobody-dies '$13 = "alive"; $15 = ""'
edge_km everybody-dies '$13 = "dead"'
edge_km empty-stratum 'if ($9 == "unknown") $9 = "localized"'
edge_km one-patient-per-stratum-per-node '$9 = (NR % 2) ? "metastatic" : "localized"' 2

# 3. Default min_cell 5: a node holding 3 patients withholds its stratum (R5: it used
#    to refuse the whole query); the others are merged.
head -n 4 CC.csv >DD.csv
check "federation up (default policy, one node of 3 patients)" \
    "$ROOT/scripts/federation" up fed3 AA=AA.csv DD=DD.csv
. fed3/env
expect_status 0 "a stratum below min_cell is withheld by the node that holds it" fedra km
expect_grep "note: all withheld by DD" "$WORK/last.out" "the note names the node, not how small"
expect_grep "DD +ok" "$WORK/last.out" "the node still answers"
expect_grep "AA +ok" "$WORK/last.out" "the other node's curve is merged"
# The plot: a well-formed SVG whose number-at-risk table shows no number below min_cell.
expect_status 0 "km --plot draws the merged curve" fedra km --plot km.svg
check "the plot is well-formed SVG" xmllint --noout km.svg
if awk '/Number at risk/ {risk = 1} risk && />[1-4]<\/text>/ {bad = 1} END {exit bad}' km.svg; then
    ok "no number at risk from 1 to 4 is drawn (min_cell 5)"
else fail "the plot shows a number at risk below min_cell"; fi
"$ROOT/scripts/federation" down fed3 >/dev/null

# 4. Default policy on all three nodes: strata withheld by a node (R5, or the
#    auditor) are left out, curves stop where fewer than 5 remain at risk (R4).
#    R on the same records (less the withheld node strata) agrees up to each
#    curve's released time; survdiff on the records censored at the released
#    period gives the pooled log-rank test.
cat >trunc.R <<'R'
suppressMessages(library(survival))
a <- commandArgs(TRUE); fedra <- a[1]; cuts <- a[2]; held <- a[3]; lrnums <- a[4]; lrcut <- as.numeric(a[5])
d <- read.csv("all.csv", stringsAsFactors = FALSE, na.strings = "")
d$node <- sub("-.*", "", d$patient_id)
h <- if (file.size(held) > 0) read.table(held, col.names = c("stage", "node")) else data.frame(stage = character(), node = character())
d <- d[!paste(d$stage, d$node) %in% paste(h$stage, h$node), ]
dx <- as.Date(d$diagnosis_date); lc <- as.Date(d$last_contact_date)
t <- ceiling(as.numeric(lc - dx) / 30) * 30; e <- as.integer(d$vital_status == "dead")
d$stage <- factor(d$stage, levels = c("localized", "regional", "metastatic", "unknown"))
fit <- survfit(Surv(t, e) ~ stage, data = d)
strata <- rep(names(fit$strata), fit$strata)
want <- data.frame(strata, time = fit$time, n.risk = fit$n.risk, n.event = fit$n.event,
  n.censor = fit$n.censor, surv = fit$surv, std.err = fit$surv * fit$std.err,
  lower = fit$lower, upper = fit$upper, stringsAsFactors = FALSE)
cu <- read.table(cuts, col.names = c("strata", "cut"), stringsAsFactors = FALSE)
cut <- cu$cut[match(want$strata, cu$strata)]
want <- want[!is.na(cut) & (cut == 0 | want$time < cut), ]
got <- read.csv(fedra, stringsAsFactors = FALSE)
if (nrow(got) != nrow(want) || !all(got$strata == want$strata)) {
  cat("rows: fedra", nrow(got), "R", nrow(want), "\n"); quit(status = 1) }
worst <- 0
for (col in names(want)[-1]) {
  g <- got[[col]]; w <- want[[col]]
  if (!all(is.na(g) == is.na(w))) { cat("NA pattern differs in", col, "\n"); quit(status = 1) }
  ok <- !is.na(w); rel <- abs(g[ok] - w[ok]) / pmax(abs(w[ok]), 1e-300); rel[g[ok] == w[ok]] <- 0
  worst <- max(worst, rel)
}
# The log-rank test over the released period: records censored at lrcut.
if (lrcut > 0) { e[t >= lrcut] <- 0L; t[t >= lrcut] <- lrcut }
s <- survdiff(Surv(t, e) ~ stage, data = d)
lw <- c(s$chisq, s$obs, s$exp); lg <- as.numeric(strsplit(lrnums, ",")[[1]])
lrel <- if (length(lg) == length(lw)) max(abs(lg - lw) / pmax(abs(lw), 1e-300)) else Inf
cat(sprintf("curves: max relative difference %.3g over %d rows; log-rank (censored at %g): %.3g\n",
  worst, nrow(want), lrcut, lrel))
quit(status = if (worst <= 1e-9 && lrel <= 1e-9) 0 else 1)
R
{ cat AA.csv; tail -n +2 BB.csv; tail -n +2 CC.csv; } >all.csv
check "federation up (default policy, three nodes)" \
    "$ROOT/scripts/federation" up fed4 AA=AA.csv BB=BB.csv CC=CC.csv
. fed4/env
expect_status 0 "km --by stage (csv)" fedra --format csv km --by stage
cp "$WORK/last.out" kt.csv
expect_status 0 "km --by stage (json)" fedra --format json km --by stage
jq -r '.result.curves[] | "\(.strata) \(.truncated_at // 0)"' "$WORK/last.out" >kt.cuts
jq -r '.result.withheld[] | .strata as $s | .nodes | split(", ")[] | "\($s | sub("stage="; "")) \(.)"' \
    "$WORK/last.out" >kt.held
lj=$(fedra --format json logrank --by stage | tr -d ' \n')
lc=$(echo "$lj" | grep -o '"truncated_at":[^,]*' | cut -d: -f2); [ "$lc" = null ] && lc=0
lnums=$(echo "$lj" | grep -o '"chisq":[^,]*' | cut -d: -f2),$(echo "$lj" | grep -o '"observed":[^,]*' | cut -d: -f2 | paste -sd,),$(echo "$lj" | grep -o '"expected":[^,}]*' | cut -d: -f2 | paste -sd,)
awk '$2 > 0 {n++} END {exit !n}' kt.cuts && ok "some curve is truncated ($(awk '$2 > 0' kt.cuts | wc -l))" \
    || fail "no curve truncated"
if Rscript trunc.R kt.csv kt.cuts kt.held "$lnums" "$lc" >r.out 2>&1; then
    ok "truncated curves equal survfit up to the released time, log-rank equals survdiff censored at $lc: $(tail -n 1 r.out)"
else fail "truncated curves or log-rank differ from R"; sed 's/^/       | /' r.out | head; fi
"$ROOT/scripts/federation" down fed4 >/dev/null
done_checks
