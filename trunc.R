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
