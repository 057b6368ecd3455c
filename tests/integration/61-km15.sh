# 61-km15 - issue 15's km options across three real nodes, on fresh random data,
# checked against R on the pooled records:
#   km --by V1,V2   every curve, strata named and ordered as survfit(Surv ~ V1 + V2),
#                   to 1e-12; more than two variables is a usage error; logrank --by
#                   V1,V2 (pooled) as survdiff(Surv ~ V1 + V2);
#   km --rmean TAU  each curve's rmean and se(rmean) as summary(fit, rmean = TAU)$table
#                   (= print.survfit's), to 1e-12: exact times, the 30-day grid, TAU past
#                   the last follow-up, a cohort censored before TAU; the difference of
#                   two curves with its Wald CI; TAU <= 0 and TAU before every time are
#                   errors, as a curve cut by R4 before TAU is;
#   disclosure      under the default policy the two-way strata are released sets of
#                   the auditor: no released stratum of 1..4 patients (R5), and no
#                   stage's patients outside its released stage x sex strata number
#                   1..4 after km --by stage was answered (R3).
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
command -v Rscript >/dev/null || { fail "Rscript not found: run scripts/install-deps"; done_checks; }
command -v jq >/dev/null || { fail "jq not found: run scripts/install-deps"; done_checks; }

seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}    # FEDRA_TEST_SEED=N reruns one draw
echo "  data seed $seed"
fedra-gendata --country AA --rows 500 --seed "$seed" >AA.csv
fedra-gendata --country BB --rows 240 --seed "$((seed + 1))" >BB.csv
fedra-gendata --country CC --rows 90 --seed "$((seed + 2))" >CC.csv
{ cat AA.csv; tail -n +2 BB.csv; tail -n +2 CC.csv; } >all.csv

# The oracle.  km15.R MODE FILE BY GRID TAU SUBSET [CONF-TYPE]
#   MODE curve: FILE is fedra's km CSV; every column of survfit(Surv ~ BY) and the strata names
#   MODE rmean: FILE is "strata rmean se" lines from fedra's JSON, then optionally one line
#               "diff se lower upper p"; compared with summary(fit, rmean = TAU)$table
#   MODE first: prints the first time of the fit (R's min(fit$time))
#   MODE logrank: FILE is "chisq X" then "group n observed expected" lines from fedra's
#               JSON; compared with survdiff(Surv ~ BY), group names included
# BY is "V1,V2", "V" or "" (one curve); SUBSET an R expression over the records, or "".
# Factors have the catalogue's levels, less those absent from the records (README), which
# is also what R's strata names are padded to ("stage=regional, surgery=no     ").
cat >km15.R <<'R'
suppressMessages(library(survival))
a <- commandArgs(TRUE); mode <- a[1]; file <- a[2]; by <- strsplit(a[3], ",")[[1]]
grid <- as.numeric(a[4]); tau <- as.numeric(a[5]); subset <- a[6]
ct <- if (length(a) >= 7) a[7] else "log"
d <- read.csv("all.csv", stringsAsFactors = FALSE, na.strings = "")
d$t <- as.numeric(as.Date(d$last_contact_date) - as.Date(d$diagnosis_date))
d$e <- as.integer(d$vital_status == "dead")
if (grid > 0) d$t <- ceiling(d$t / grid) * grid
lev <- list(stage = c("localized", "regional", "metastatic", "unknown"), sex = c("F", "M", "U"),
            surgery = c("yes", "no", "unknown"), vital_status = c("alive", "dead"))
for (v in names(lev)) d[[v]] <- factor(d[[v]], levels = lev[[v]])
if (subset != "") d <- d[eval(parse(text = subset), d), ]
d <- droplevels(d)
rhs <- if (length(by) == 0) "1" else paste(by, collapse = " + ")
fit <- survfit(as.formula(paste("Surv(t, e) ~", rhs)), data = d, conf.type = ct)
rel <- function(g, w) { r <- abs(g - w) / pmax(abs(w), 1e-300); r[g == w] <- 0; r }
if (mode == "first") { cat(min(fit$time), "\n"); quit(status = 0) }
if (mode == "logrank") {
  sd <- survdiff(as.formula(paste("Surv(t, e) ~", rhs)), data = d)
  lines <- readLines(file)
  chisq <- as.numeric(sub("^chisq ", "", lines[1]))
  g <- read.table(text = lines[-1], sep = "\t", col.names = c("group", "n", "observed", "expected"),
    stringsAsFactors = FALSE)
  if (nrow(g) != length(sd$n) || !all(g$group == names(sd$n))) {
    cat("groups: fedra", g$group, "| R", names(sd$n), sep = "\n"); quit(status = 1) }
  worst <- max(rel(chisq, sd$chisq), rel(g$observed, sd$obs), rel(g$expected, sd$exp))
  if (!all(g$n == as.vector(sd$n))) worst <- Inf
  cat(sprintf("%d groups, chisq %.10g, max relative difference %.3g\n", nrow(g), sd$chisq, worst))
  quit(status = if (worst <= 1e-12) 0 else 1)
}
if (mode == "curve") {
  strata <- if (is.null(fit$strata)) rep("", length(fit$time)) else rep(names(fit$strata), fit$strata)
  want <- data.frame(strata, time = fit$time, n.risk = fit$n.risk, n.event = fit$n.event,
    n.censor = fit$n.censor, surv = fit$surv, std.err = fit$surv * fit$std.err,
    lower = fit$lower, upper = fit$upper, stringsAsFactors = FALSE)
  got <- read.csv(file, stringsAsFactors = FALSE)
  got$strata[is.na(got$strata)] <- ""
  if (nrow(got) != nrow(want)) { cat("rows: fedra", nrow(got), "R", nrow(want), "\n"); quit(status = 1) }
  if (!all(got$strata == want$strata)) {
    cat("strata differ: fedra", unique(got$strata), "| R", unique(want$strata), sep = "\n"); quit(status = 1) }
  worst <- 0
  for (col in names(want)[-1]) {
    g <- got[[col]]; w <- want[[col]]
    if (!all(is.na(g) == is.na(w))) { cat("NA pattern differs in", col, "\n"); quit(status = 1) }
    worst <- max(worst, rel(g[!is.na(w)], w[!is.na(w)]))
  }
  cat(sprintf("%d strata (%s ...), max relative difference %.3g over %d rows\n",
    length(unique(want$strata)), want$strata[1], worst, nrow(want)))
  quit(status = if (worst <= 1e-12) 0 else 1)
}
tab <- summary(fit, rmean = tau)$table
if (is.null(dim(tab))) tab <- matrix(tab, nrow = 1, dimnames = list("", names(tab)))
lines <- readLines(file)
cur <- read.table(text = lines[!grepl("^diff ", lines)], sep = "\t", col.names = c("strata", "rmean", "se"),
  stringsAsFactors = FALSE, na.strings = "")
cur$strata[is.na(cur$strata)] <- ""
if (nrow(cur) != nrow(tab) || !all(cur$strata == rownames(tab))) {
  cat("curves: fedra", cur$strata, "| R", rownames(tab), sep = "\n"); quit(status = 1) }
worst <- max(rel(cur$rmean, tab[, "rmean"]), rel(cur$se, tab[, "se(rmean)"]))
msg <- sprintf("%d curves, rmean %.10g..., max relative difference %.3g", nrow(cur), tab[1, "rmean"], worst)
dl <- lines[grepl("^diff ", lines)]
if (length(dl) > 0) {
  g <- as.numeric(strsplit(sub("^diff ", "", dl), " ")[[1]])
  r <- tab[, "rmean"]; s <- tab[, "se(rmean)"]
  dd <- r[2] - r[1]; se <- sqrt(s[1]^2 + s[2]^2)
  w <- c(dd, se, dd - qnorm(0.975) * se, dd + qnorm(0.975) * se, 2 * pnorm(-abs(dd / se)))
  dw <- max(rel(g, w))
  worst <- max(worst, dw)
  msg <- sprintf("%s; difference %.10g (se %.6g), max relative difference %.3g", msg, dd, se, dw)
}
cat(msg, "\n")
quit(status = if (worst <= 1e-12) 0 else 1)
R

# curve_check NAME BY GRID SUBSET CONF-TYPE fedra-km-args...: fedra's CSV against survfit
curve_check() {
    name=$1 by=$2 grid=$3 sub=$4 ct=$5; shift 5
    if fedra --format csv km "$@" --conf-type "$ct" >c.csv 2>c.err &&
        Rscript km15.R curve c.csv "$by" "$grid" 0 "$sub" "$ct" >r.out 2>&1
    then ok "$name equals survfit: $(tail -n 1 r.out)"
    else fail "$name differs from survfit"; sed 's/^/       | /' c.err r.out | head -12; fi
}
# rmean_check NAME BY GRID TAU SUBSET fedra-km-args...: fedra's JSON rmean against R
rmean_check() {
    name=$1 by=$2 grid=$3 tau=$4 sub=$5; shift 5
    if fedra --format json km "$@" --rmean "$tau" >r.json 2>c.err; then
        jq -r '.result.curves[] | [.strata, .rmean, .rmean_se] | @tsv' r.json >r.tsv
        jq -r '.result.rmean_diff // empty | "diff \(.diff) \(.se) \(.lower) \(.upper) \(.p)"' r.json >>r.tsv
        if Rscript km15.R rmean r.tsv "$by" "$grid" "$tau" "$sub" >r.out 2>&1; then
            ok "$name equals summary(fit, rmean = $tau): $(tail -n 1 r.out)"
        else fail "$name differs from R"; sed 's/^/       | /' r.out | head -8; fi
    else fail "$name: fedra failed"; sed 's/^/       | /' c.err | head -5; fi
}

# 1. Exact times, nothing withheld (min_cell 1, the auditor off: the control).
check "federation up (time_grid_days=0, min_cell=1, query_audit=off)" \
    "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv CC=CC.csv --set time_grid_days=0 \
    --set min_cell=1 --set query_audit=off
. fed/env
curve_check "km --by stage,sex" stage,sex 0 "" log --by stage,sex --grid 0
curve_check "km --by sex,stage (the other order)" sex,stage 0 "" log --by sex,stage --grid 0
curve_check "km --by stage,surgery (padded names)" stage,surgery 0 "" plain --by stage,surgery --grid 0
curve_check "km --by surgery,stage --conf-type log-log, metastatic only" surgery,stage 0 \
    'd$stage == "metastatic"' log-log --by surgery,stage --grid 0 --where stage=metastatic
expect_status 0 "km --by stage,sex (table)" fedra km --by stage,sex --grid 0
expect_grep "^stage=localized, sex=F " "$WORK/last.out" "the table names strata as R"
expect_status 0 "km --by stage,sex --plot" fedra km --by stage,sex --grid 0 --plot two.svg
check "the plot is well-formed SVG" xmllint --noout two.svg
expect_grep ">stage=localized, sex=F *<" two.svg "the legend names the two-way strata as R"
expect_status 2 "km --by takes at most two variables (WIRE_MAX_KM_BY)" fedra km --by stage,sex,surgery
expect_grep "at most 2 --by variables" "$WORK/last.err" "the error says the limit"
expect_status 2 "km --by the same variable twice is a usage error" fedra km --by stage,stage

if fedra --format json logrank --by stage,surgery --grid 0 >l.json 2>c.err; then
    { jq -r '"chisq \(.result.chisq)"' l.json
      jq -r '.result.groups[] | [.group, .n, .observed, .expected] | @tsv' l.json; } >l.tsv
    if Rscript km15.R logrank l.tsv stage,surgery 0 0 "" >r.out 2>&1
    then ok "logrank --by stage,surgery equals survdiff(Surv ~ stage + surgery): $(tail -n 1 r.out)"
    else fail "logrank --by stage,surgery differs from survdiff"; sed 's/^/       | /' r.out | head -8; fi
else fail "logrank --by stage,surgery: fedra failed"; sed 's/^/       | /' c.err | head -5; fi
expect_status 2 "logrank --stratify-by-node takes one variable" \
    fedra logrank --by stage,sex --stratify-by-node

last=$(Rscript -e 'd <- read.csv("all.csv"); cat(max(as.numeric(as.Date(d$last_contact_date) - as.Date(d$diagnosis_date))))')
rmean_check "km --by stage --rmean (exact)" stage 0 730.5 "" --by stage --grid 0
rmean_check "km --rmean past the last follow-up" "" 0 "$((last + 400))" "" --grid 0
rmean_check "km --by stage,sex --rmean" stage,sex 0 1500 "" --by stage,sex --grid 0
rmean_check "two curves: their difference" sex 0 1000 'd$sex != "U"' --by sex --grid 0 --where "sex!=U"
rmean_check "a cohort censored before TAU (rmean = TAU, se 0)" "" 0 900 'd$vital_status == "alive"' \
    --grid 0 --where vital_status=alive
expect_status 0 "km --rmean (csv)" fedra --format csv km --by sex --grid 0 --where "sex!=U" --rmean 1000
cp "$WORK/last.out" r.csv
if Rscript -e 'x <- read.csv("r.csv"); d <- x[!duplicated(x$strata), ]
    stopifnot(nrow(d) == 2, all(x$rmean.tau == 1000), !anyNA(d$rmean), !anyNA(d$rmean.se),
      all(d$rmean.diff == d$rmean[2] - d$rmean[1]))' >r.out 2>&1
then ok "the CSV carries rmean.tau, rmean, rmean.se and the difference on every row"
else fail "CSV rmean columns"; sed 's/^/       | /' r.out | head -5; fi
expect_status 0 "km --rmean (table)" fedra km --by sex --grid 0 --where "sex!=U" --rmean 1000
expect_grep "restricted mean with upper limit =  1000" "$WORK/last.out" "the table says the upper limit as R"
expect_grep "^restricted mean difference \(sex=M\) - \(sex=F\)" "$WORK/last.out" "the table gives the difference"
expect_status 2 "--rmean 0 is a usage error" fedra km --rmean 0
expect_grep "rmean takes the time" "$WORK/last.err" "the error says what --rmean takes"
expect_status 2 "--rmean -5 is a usage error" fedra km --rmean -5
"$ROOT/scripts/federation" down fed >/dev/null

# 2. The 30-day grid: the rmean of the gridded curve, as R's on the rounded times.
check "federation up (default 30-day grid, min_cell=1, query_audit=off)" \
    "$ROOT/scripts/federation" up fed2 AA=AA.csv BB=BB.csv CC=CC.csv --set min_cell=1 --set query_audit=off
. fed2/env
rmean_check "km --by stage,surgery --rmean (30-day grid)" stage,surgery 30 1000 "" --by stage,surgery
# TAU before the first time of every curve: R stops; so does fedra.  The first selection
# whose first time is not 0 (on the grid, a time of 0 days stays 0).
first=0
for w in metastatic regional unknown localized; do
    first=$(Rscript km15.R first none "" 30 0 "d\$stage == \"$w\"" | tr -d ' ')
    [ "$first" -gt 0 ] 2>/dev/null && break
done
if [ "$first" -gt 0 ] 2>/dev/null; then
    expect_status 1 "--rmean before the first time is an error, as in R (stage=$w, first $first)" \
        fedra km --where "stage=$w" --rmean "$((first - 1)).5"
    expect_grep "before the first time of the curves" "$WORK/last.err" "the error says why"
else ok "every selection has a time of 0: no TAU > 0 lies before it (nothing to check)"; fi
"$ROOT/scripts/federation" down fed2 >/dev/null

# 3. Default policy (min_cell 5, 30-day grid, the auditor on).
check "federation up (default policy)" "$ROOT/scripts/federation" up fed3 AA=AA.csv BB=BB.csv CC=CC.csv
. fed3/env
expect_status 0 "km --by stage" fedra --format json km --by stage
jq -r '.result.curves[] | "\(.strata | sub("stage="; "")) \(.n)"' "$WORK/last.out" >stage.n
expect_status 0 "km --by stage,sex" fedra --format json km --by stage,sex
cp "$WORK/last.out" two.json
if jq -e '[.result.curves[] | select(.n >= 1 and .n < 5)] | length == 0' two.json >/dev/null
then ok "no released two-way stratum holds 1 to 4 patients (R5)"
else fail "a two-way stratum of 1 to 4 patients was released"; fi
jq -r '.result.curves[] | "\(.strata | sub("stage="; "") | sub(", sex=.*"; "")) \(.n)"' two.json >two.n
if awk 'NR == FNR { s[$1] = $2; next } { got[$1] += $2 }
        END { for (k in s) { d = s[k] - got[k]; if (d >= 1 && d < 5) bad = 1 } exit bad }' stage.n two.n
then ok "no stage's patients outside its released sex strata number 1 to 4 (the auditor, R3)"
else fail "a stage minus its sex strata gives 1 to 4 patients"; paste stage.n two.n | sed 's/^/       | /'; fi
cut=$(jq '[.result.curves[].truncated_at | select(. != null)] | min // 0' two.json)
if [ "$cut" -gt 0 ]; then
    expect_status 1 "--rmean past a curve's R4 cut is an error" fedra km --by stage,sex --rmean "$((cut + 30))"
    expect_grep "withheld from day" "$WORK/last.err" "the error names the cut"
    expect_status 0 "--rmean up to the earliest cut is answered" fedra km --by stage,sex --rmean "$cut"
else ok "no curve was cut (nothing to check)"; fi
"$ROOT/scripts/federation" down fed3 >/dev/null
done_checks
