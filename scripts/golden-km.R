# golden-km.R - reference outputs of R survival for the pooled Kaplan-Meier
# and log-rank modules (analysis/km.c, analysis/logrank.c).
#
# Rerun from the repository root (needs only r-base-core and r-cran-survival;
# the files were produced with R 4.2.2 and survival 3.5-3, Debian 12):
#
#     Rscript scripts/golden-km.R tests/data/golden
#
# It is deterministic (no random numbers): the inputs are survival's own data
# sets split into nodes by arithmetic rules (statistics.md §7), plus small
# hand-made edge cases.  It writes, with %.17g precision:
#
#   km_cases.tsv     case, grid (0 = exact times), conf_int
#   km_input.tsv     case, node, time, status         per-node records
#   km_expected.tsv  survfit() on the pooled (grid-rounded) records: one row per
#                    distinct time, std.err as summary.survfit (se of S),
#                    se_log = survfit()$std.err, and lower/upper for the
#                    conf.types log, log-log, plain
#   km_median.tsv    summary(fit)$table median, LCL, UCL (= print.survfit) per conf.type
#   km_times.tsv     summary(fit, times =, extend =) per conf.type; every
#                    requested time is listed (sorted), kept = 0 where R drops it
#   km_rmean.tsv     case, tau, rmean, se: summary(fit, rmean = tau)$table's
#                    "rmean" and "se(rmean)" (checked equal to print.survfit's,
#                    survmean on the fit without survfit0's start row), at taus
#                    from the first time to past the last follow-up; R stops for a
#                    tau below the first time, so none is written
#   km_rmean_diff.tsv  case_a, case_b, tau, diff, se, lower, upper, p: the
#                    difference b - a of two cases' restricted means as two
#                    independent groups (Wald, 95%), cases_b being the second
#                    stratum of survfit(~ group) on both (checked)
#   km_by2_input.tsv node, stage, surgery, time, status: lung's records with ph.ecog
#                    as a stage (0..3: localized .. unknown) and sex as surgery (yes, no)
#   km_by2.tsv       survfit(Surv ~ stage + surgery) on them, factors with the catalogue's
#                    levels less the absent ones: strata as R names them (the second
#                    variable padded by strata()), time, n.risk, n.event, n.censor, surv,
#                    std.err, lower, upper, and rmean, se_rmean at tau = 500
#   lr_cases.tsv     case, ngroups, grid
#   lr_input.tsv     case, node, time, status, group (1..ngroups)
#   lr_expected.tsv  case, mode (pooled | stratified), chisq, df, p
#   lr_groups.tsv    case, mode, group, n, observed, expected
#   lr_var.tsv       case, mode, i, j, var
#
# "pooled" is survdiff(Surv ~ g); "stratified" is survdiff(Surv ~ g + strata(node)).
# Missing values are written NA (R NA), NaN or Inf as R has them.
suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else "tests/data/golden"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

g17 <- function(x) ifelse(is.na(x) & !is.nan(x), "NA", sprintf("%.17g", x))
wtsv <- function(df, file) {
  for (j in seq_along(df)) if (is.numeric(df[[j]])) df[[j]] <- g17(df[[j]])
  write.table(df, file.path(out, file), sep = "\t", quote = FALSE, row.names = FALSE)
}
split_nodes <- function(n, k) 1L + (seq_len(n) - 1L) %% k            # round robin, row order
split_blocks <- function(n, props)                                    # contiguous blocks
  findInterval(seq_len(n) - 1, floor(n * cumsum(props)[-length(props)])) + 1L
ceil_grid <- function(t, g) if (g > 0) ceiling(t / g) * g else t      # 0 stays 0; 1..g -> g

## ------------------------------------------------------------ Kaplan-Meier
km_cases <- list()
add_km <- function(name, time, status, node, grid = 0, conf_int = 0.95) {
  ok <- !is.na(time) & !is.na(status) & !is.na(node)
  km_cases[[name]] <<- list(time = time[ok], status = status[ok], node = as.integer(factor(node[ok])),
                            grid = grid, conf_int = conf_int)
}
nw <- nwtco
h2 <- nw$histol == 2
add_km("nwtco_h2_exact_3rr", nw$edrel[h2], nw$rel[h2], split_nodes(sum(h2), 3))
add_km("nwtco_90d_6rr", nw$edrel, nw$rel, split_nodes(nrow(nw), 6), grid = 90)
add_km("nwtco_365d_5blocks", nw$edrel, nw$rel, split_blocks(nrow(nw), c(.45, .25, .15, .10, .05)), grid = 365)
add_km("nwtco_30d_study", nw$edrel, nw$rel, nw$study, grid = 30)
lu <- lung
add_km("lung_inst4", lu$time, lu$status - 1, cut(lu$inst, c(0, 3, 11, 22, 40)))
add_km("lung_5rr_ci90", lu$time, lu$status - 1, split_nodes(nrow(lu), 5), conf_int = 0.90)
add_km("veteran_celltype", veteran$time, veteran$status, veteran$celltype)
add_km("aml_x", aml$time, aml$status, aml$x)
add_km("ovarian_rx", ovarian$futime, ovarian$fustat, ovarian$rx)
add_km("gbsg_30d_3mod", gbsg$rfstime, gbsg$status, 1 + gbsg$pid %% 3, grid = 30)
add_km("edge_s0_ties", c(1, 2, 2, 3, 4, 4), c(1, 0, 1, 1, 1, 1), c(1, 2, 1, 2, 1, 2))
add_km("edge_all_censored", c(5, 3, 8, 8, 1), c(0, 0, 0, 0, 0), c(1, 2, 1, 2, 3))
add_km("edge_single_event", 7, 1, 1)
add_km("edge_single_censored", 7, 0, 1)
add_km("edge_ties_zero", c(0, 0, 0, 2, 2, 2, 2, 2, 5, 5, 5, 9, 9, 9, 12),
       c(1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0), c(1, 2, 3, 1, 2, 3, 1, 2, 1, 2, 3, 3, 1, 2, 1))
add_km("edge_median_half", c(1, 2, 3, 4), c(1, 1, 1, 1), c(1, 2, 1, 2))
add_km("edge_grid7", c(0, 1, 6, 7, 8, 14, 15, 15, 21, 22), c(1, 0, 1, 1, 0, 1, 1, 0, 0, 1),
       c(1, 1, 2, 2, 1, 2, 1, 2, 1, 2), grid = 7)
# two groups for the restricted-mean difference: lung by sex, and a group
# whose patients are all censored before the tau (rmean = tau, se = 0)
add_km("lung_sex1", lu$time[lu$sex == 1], lu$status[lu$sex == 1] - 1, split_nodes(sum(lu$sex == 1), 3))
add_km("lung_sex2", lu$time[lu$sex == 2], lu$status[lu$sex == 2] - 1, split_nodes(sum(lu$sex == 2), 3))
add_km("edge_censored_early", c(3, 5, 8, 20, 40), c(0, 0, 0, 0, 0), c(1, 2, 1, 2, 1))

ctypes <- c("log", "log-log", "plain")
cases_df <- inp <- expd <- medd <- timd <- NULL
for (nm in names(km_cases)) {
  cs <- km_cases[[nm]]
  tt <- ceil_grid(cs$time, cs$grid)                    # oracle: survfit on the pooled rounded data
  cases_df <- rbind(cases_df, data.frame(case = nm, grid = cs$grid, conf_int = cs$conf_int))
  inp <- rbind(inp, data.frame(case = nm, node = cs$node, time = cs$time, status = cs$status))
  fits <- lapply(ctypes, function(ct) survfit(Surv(tt, cs$status) ~ 1, conf.type = ct, conf.int = cs$conf_int))
  f <- fits[[1]]
  s <- summary(f, censored = TRUE)
  stopifnot(length(s$time) == length(f$time), all(s$time == f$time))
  expd <- rbind(expd, data.frame(case = nm, time = f$time, n.risk = f$n.risk, n.event = f$n.event,
    n.censor = f$n.censor, surv = f$surv, std.err = s$std.err, se_log = f$std.err,
    cumhaz = f$cumhaz, std.chaz = f$std.chaz,
    lower_log = fits[[1]]$lower, upper_log = fits[[1]]$upper,
    lower_loglog = fits[[2]]$lower, upper_loglog = fits[[2]]$upper,
    lower_plain = fits[[3]]$lower, upper_plain = fits[[3]]$upper))
  # requested times: before the first time, on and between times, a duplicate,
  # the last time and beyond it
  q <- unname(quantile(tt, c(.1, .25, .5, .75, .9), type = 1))
  taus <- sort(c(0, 1, q, q[3], q[3] + 1, max(tt), max(tt) + 1, max(tt) + 1000))
  for (k in seq_along(ctypes)) {
    tab <- summary(fits[[k]])$table
    medd <- rbind(medd, data.frame(case = nm, conf_type = ctypes[k], median = tab[["median"]],
      lcl = tab[[sprintf("%gLCL", cs$conf_int)]], ucl = tab[[sprintf("%gUCL", cs$conf_int)]]))
    for (ext in c(FALSE, TRUE)) {
      st <- summary(fits[[k]], times = taus, extend = ext)
      kept <- if (ext) rep(TRUE, length(taus)) else taus <= max(f$time)
      stopifnot(sum(kept) == length(st$time), all(st$time == taus[kept]))
      blank <- rep(NA_real_, length(taus))
      put <- function(v) { b <- blank; b[kept] <- v; b }
      timd <- rbind(timd, data.frame(case = nm, conf_type = ctypes[k], extend = as.integer(ext),
        tau = taus, kept = as.integer(kept), n.risk = put(st$n.risk), n.event = put(st$n.event),
        n.censor = put(st$n.censor), surv = put(st$surv), std.err = put(st$std.err),
        lower = put(st$lower), upper = put(st$upper)))
    }
  }
}
## ------------------------------------------------------------ restricted mean
rmean_of <- function(fit, tau) {
  tab <- summary(fit, rmean = tau)$table
  pr <- survival:::survmean(fit, rmean = tau)$matrix         # what print.survfit prints
  stopifnot(identical(unname(tab[c("rmean", "se(rmean)")]), unname(pr[c("rmean", "se(rmean)")])))
  c(tab[["rmean"]], tab[["se(rmean)"]])
}
rmd <- NULL
for (nm in names(km_cases)) {
  cs <- km_cases[[nm]]
  tt <- ceil_grid(cs$time, cs$grid)
  f <- survfit(Surv(tt, cs$status) ~ 1)
  # the first time (not 0: tau > 0), between times, a fraction, the last time, past it
  q <- unname(quantile(tt, c(.25, .5, .9), type = 1))
  taus <- unique(sort(c(min(tt[tt > 0]), q, q[2] + 0.5, max(tt), max(tt) + 1000)))
  taus <- taus[taus > 0 & taus >= min(tt)]
  for (tau in taus) {
    v <- rmean_of(f, tau)
    rmd <- rbind(rmd, data.frame(case = nm, tau = tau, rmean = v[1], se = v[2]))
  }
}
wtsv(rmd, "km_rmean.tsv")
rdd <- NULL
for (p in list(c("lung_sex1", "lung_sex2", 365), c("lung_sex1", "lung_sex2", 1000.5),
               c("edge_censored_early", "edge_all_censored", 30),
               c("aml_x", "edge_censored_early", 10))) {
  a <- km_cases[[p[1]]]; b <- km_cases[[p[2]]]; tau <- as.numeric(p[3])
  g <- rep(1:2, c(length(a$time), length(b$time)))
  fit <- survfit(Surv(c(a$time, b$time), c(a$status, b$status)) ~ g)
  tab <- summary(fit, rmean = tau)$table
  ra <- rmean_of(survfit(Surv(a$time, a$status) ~ 1), tau)
  rb <- rmean_of(survfit(Surv(b$time, b$status) ~ 1), tau)
  stopifnot(all(tab[, "rmean"] == c(ra[1], rb[1])), all(tab[, "se(rmean)"] == c(ra[2], rb[2])))
  d <- rb[1] - ra[1]; se <- sqrt(ra[2]^2 + rb[2]^2)
  rdd <- rbind(rdd, data.frame(case_a = p[1], case_b = p[2], tau = tau, diff = d, se = se,
    lower = d - qnorm(0.975) * se, upper = d + qnorm(0.975) * se, p = 2 * pnorm(-abs(d / se))))
}
wtsv(rdd, "km_rmean_diff.tsv")

wtsv(cases_df, "km_cases.tsv")
wtsv(inp, "km_input.tsv")
wtsv(expd, "km_expected.tsv")
wtsv(medd, "km_median.tsv")
wtsv(timd, "km_times.tsv")

## ------------------------------------------------------------ km by two variables
b2 <- lung[!is.na(lung$ph.ecog), ]
b2 <- data.frame(node = split_nodes(nrow(b2), 3),
  stage = c("localized", "regional", "metastatic", "unknown")[b2$ph.ecog + 1],
  surgery = c("yes", "no")[b2$sex], time = b2$time, status = b2$status - 1)
wtsv(b2, "km_by2_input.tsv")
d2 <- transform(b2, stage = factor(stage, levels = c("localized", "regional", "metastatic", "unknown")),
  surgery = factor(surgery, levels = c("yes", "no", "unknown")))
d2 <- droplevels(d2)
f2 <- survfit(Surv(time, status) ~ stage + surgery, data = d2)
rm2 <- summary(f2, rmean = 500)$table
stopifnot(any(grepl(" $", names(f2$strata))))          # the padding is exercised
wtsv(data.frame(strata = rep(names(f2$strata), f2$strata), time = f2$time, n.risk = f2$n.risk,
  n.event = f2$n.event, n.censor = f2$n.censor, surv = f2$surv, std.err = f2$surv * f2$std.err,
  lower = f2$lower, upper = f2$upper, rmean = rep(rm2[, "rmean"], f2$strata),
  se_rmean = rep(rm2[, "se(rmean)"], f2$strata)), "km_by2.tsv")

## ------------------------------------------------------------ log-rank
lr_cases <- list()
add_lr <- function(name, time, status, group, node, ngroups, grid = 0) {
  ok <- !is.na(time) & !is.na(status) & !is.na(group) & !is.na(node)
  lr_cases[[name]] <<- list(time = time[ok], status = status[ok], group = as.integer(group[ok]),
                            node = as.integer(factor(node[ok])), ngroups = ngroups, grid = grid)
}
add_lr("nwtco_stage_3rr", nw$edrel, nw$rel, nw$stage, split_nodes(nrow(nw), 3), 4)
add_lr("nwtco_stage_6rr", nw$edrel, nw$rel, nw$stage, split_nodes(nrow(nw), 6), 4)
add_lr("nwtco_stage_3rr_90d", nw$edrel, nw$rel, nw$stage, split_nodes(nrow(nw), 3), 4, grid = 90)
add_lr("nwtco_h2_stage_5blocks", nw$edrel[h2], nw$rel[h2], nw$stage[h2],
       split_blocks(sum(h2), c(.45, .25, .15, .10, .05)), 4)
add_lr("lung_sex_4rr", lu$time, lu$status - 1, lu$sex, split_nodes(nrow(lu), 4), 2)
add_lr("veteran_celltype_trt", veteran$time, veteran$status, as.integer(veteran$celltype), veteran$trt, 4)
add_lr("aml_x_2rr", aml$time, aml$status, as.integer(aml$x), split_nodes(nrow(aml), 2), 2)
add_lr("ovarian_rx_resid", ovarian$futime, ovarian$fustat, ovarian$rx, ovarian$resid.ds, 2)
# level 3 of 3 has no records anywhere: R drops it; df counts the other two
add_lr("edge_empty_group", c(1, 2, 3, 4, 5, 6, 7, 8), c(1, 1, 0, 1, 1, 0, 1, 1),
       c(1, 1, 2, 2, 1, 2, 1, 2), c(1, 2, 1, 2, 1, 2, 1, 2), 3)
# group 2 leaves before the first event: E = 0, so chisq = 0 on df 0
add_lr("edge_no_expected", c(1, 2, 5, 6, 7), c(0, 0, 1, 1, 0), c(2, 2, 1, 1, 1), c(1, 2, 1, 2, 1), 2)
# ties of events and censorings at one time across groups and nodes, n == d at the end
add_lr("edge_ties", c(2, 2, 2, 2, 3, 3, 5, 5, 5, 8, 8), c(1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1),
       c(1, 2, 3, 3, 1, 2, 3, 1, 2, 2, 3), c(1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1), 3, grid = 0)

lcase <- linp <- lexp <- lgrp <- lvar <- NULL
for (nm in names(lr_cases)) {
  cs <- lr_cases[[nm]]
  tt <- ceil_grid(cs$time, cs$grid)
  lcase <- rbind(lcase, data.frame(case = nm, ngroups = cs$ngroups, grid = cs$grid))
  linp <- rbind(linp, data.frame(case = nm, node = cs$node, time = cs$time, status = cs$status, group = cs$group))
  g <- factor(cs$group, levels = seq_len(cs$ngroups))
  node <- cs$node
  for (mode in c("pooled", "stratified")) {
    sd <- if (mode == "pooled") survdiff(Surv(tt, cs$status) ~ g) else survdiff(Surv(tt, cs$status) ~ g + strata(node))
    obs <- if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs
    ex <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
    present <- as.integer(sub("^g=", "", names(sd$n)))  # survdiff keeps only levels with records
    df <- sum(ex > 0) - 1
    lexp <- rbind(lexp, data.frame(case = nm, mode = mode, chisq = sd$chisq, df = max(df, 0),
                                   p = pchisq(sd$chisq, max(df, 0), lower.tail = FALSE)))
    n <- O <- E <- numeric(cs$ngroups)
    n[present] <- as.numeric(sd$n); O[present] <- obs; E[present] <- ex
    lgrp <- rbind(lgrp, data.frame(case = nm, mode = mode, group = seq_len(cs$ngroups), n = n, observed = O, expected = E))
    V <- matrix(0, cs$ngroups, cs$ngroups); V[present, present] <- sd$var
    ij <- expand.grid(i = seq_len(cs$ngroups), j = seq_len(cs$ngroups))
    lvar <- rbind(lvar, data.frame(case = nm, mode = mode, i = ij$i, j = ij$j, var = V[cbind(ij$i, ij$j)]))
  }
}
wtsv(lcase, "lr_cases.tsv")
wtsv(linp, "lr_input.tsv")
wtsv(lexp, "lr_expected.tsv")
wtsv(lgrp, "lr_groups.tsv")
wtsv(lvar, "lr_var.tsv")
cat("golden-km.R: wrote", out, "with survival", as.character(packageVersion("survival")), "\n")
