# cif.R - the oracle of the cif scenarios (62-cif, 95-pooled): R on all.csv in the current
# directory (less the node strata in HELD, censored at CUT for the test), compared with
# fedra's CSV row by row and with the Gray test of fedra's JSON.
#   Rscript cif.R FEDRA.csv GRID CAUSE BY TIMES GRAY [CUTS HELD GRAYCUT]
# BY: a variable or "-"; TIMES: "t1,t2" or "-"; GRAY: "chisq,df,p" or "none".
suppressMessages({ library(survival); library(cmprsk) })
a <- commandArgs(TRUE)
fedra <- a[1]; grid <- as.numeric(a[2]); cause <- a[3]; by <- a[4]; times <- a[5]; gray <- a[6]
cuts <- if (length(a) >= 7) a[7] else ""; held <- if (length(a) >= 8) a[8] else ""
graycut <- if (length(a) >= 9) as.numeric(a[9]) else 0
d <- read.csv("all.csv", stringsAsFactors = FALSE, na.strings = "")
d$node <- sub("-.*", "", d$patient_id)
if (held != "" && file.size(held) > 0) {
  h <- read.table(held, col.names = c("level", "node"), colClasses = "character")
  d <- d[!paste(d[[by]], d$node) %in% paste(h$level, h$node), ] }
dx <- as.Date(d$diagnosis_date); lc <- as.Date(d$last_contact_date); ev <- as.Date(d$event_date)
t <- ifelse(is.na(ev), as.numeric(lc - dx), as.numeric(ev - dx))
s <- ifelse(!is.na(ev), 1L, ifelse(d$vital_status == "dead", 2L, 0L))
if (grid > 0) t <- ceiling(t / grid) * grid
lv <- list(stage = c("localized", "regional", "metastatic", "unknown"), sex = c("F", "M", "U"))
if (by != "-") d[[by]] <- factor(d[[by]], levels = lv[[by]])
d$t <- t; d$st <- factor(s, 0:2, c("censor", "relapse", "death"))
fit <- if (by == "-") survfit(Surv(t, st) ~ 1, data = d) else
  survfit(as.formula(paste("Surv(t, st) ~", by)), data = d)
ci <- if (cause == "relapse") 2 else 3
nst <- if (is.null(fit$strata)) length(fit$time) else fit$strata
sname <- if (is.null(fit$strata)) "" else names(fit$strata)
if (times == "-") {
  want <- data.frame(strata = rep(sname, nst), time = fit$time, n.risk = fit$n.risk[, 1],
    n.event = fit$n.event[, ci], cif = fit$pstate[, ci], std.err = fit$std.err[, ci],
    lower = fit$lower[, ci], upper = fit$upper[, ci], stringsAsFactors = FALSE)
} else {
  sm <- summary(fit, times = as.numeric(strsplit(times, ",")[[1]]))
  want <- data.frame(strata = if (is.null(sm$strata)) "" else as.character(sm$strata),
    time = sm$time, n.risk = sm$n.risk[, 1], n.event = sm$n.event[, ci], cif = sm$pstate[, ci],
    std.err = sm$std.err[, ci], lower = sm$lower[, ci], upper = sm$upper[, ci],
    stringsAsFactors = FALSE)
}
if (cuts != "") {            # each curve up to the day a node stopped it (R4)
  cu <- read.table(cuts, col.names = c("strata", "cut"), stringsAsFactors = FALSE)
  cut <- cu$cut[match(want$strata, cu$strata)]
  want <- want[!is.na(cut) & (cut == 0 | want$time < cut), ]
}
got <- read.csv(fedra, stringsAsFactors = FALSE)
got$strata[is.na(got$strata)] <- ""
if (nrow(got) != nrow(want) || !all(got$strata == want$strata)) {
  cat("rows: fedra", nrow(got), "R", nrow(want), "\n"); quit(status = 1) }
if (!all(got$cause == cause)) { cat("cause column differs\n"); quit(status = 1) }
worst <- 0
for (col in names(want)[-1]) {
  g <- got[[col]]; w <- want[[col]]
  if (!all(is.na(g) == is.na(w))) { cat("NA pattern differs in", col, "\n"); quit(status = 1) }
  ok <- !is.na(w)
  # std.err relative to max(|se|, 1e-4): an exact 0 is rounding noise in R (analysis/cif.h)
  fl <- if (col == "std.err") 1e-4 else 1e-300
  rel <- abs(g[ok] - w[ok]) / pmax(abs(w[ok]), fl); rel[g[ok] == w[ok]] <- 0
  worst <- max(worst, rel)
}
grel <- 0
if (gray != "-") {
  if (graycut > 0) { s[t >= graycut] <- 0L; t[t >= graycut] <- graycut }
  keep <- !is.na(d[[by]])
  tests <- tryCatch(cuminc(t[keep], s[keep], droplevels(d[[by]][keep]))$Tests, error = function(e) NULL)
  row <- if (is.null(tests)) NA else match(if (cause == "relapse") "1" else "2", rownames(tests))
  if (is.na(row) || tests[row, "stat"] < 0) {
    if (gray != "none") { cat("fedra gives a Gray test where cuminc has none\n"); quit(status = 1) }
  } else {
    if (gray == "none") { cat("cuminc has a test, fedra none\n"); quit(status = 1) }
    gw <- tests[row, c("stat", "df", "pv")]; gg <- as.numeric(strsplit(gray, ",")[[1]])
    grel <- max(abs(gg - gw) / pmax(abs(gw), 1e-300))
  }
}
cat(sprintf("max relative difference %.3g over %d rows; Gray %.3g\n", worst, nrow(want), grel))
quit(status = if (worst <= 1e-12 && grel <= 1e-12) 0 else 1)
