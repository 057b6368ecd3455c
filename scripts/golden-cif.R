# golden-cif.R - reference outputs of R for the pooled cumulative incidence
# module (analysis/cif.c): multi-state survfit() (survival) and Gray's test
# (cmprsk::cuminc).
#
# Rerun from the repository root (needs r-base-core, r-cran-survival and
# r-cran-cmprsk; the files were produced with R 4.2.2, survival 3.5-3 and
# cmprsk 2.2-11, Debian 12):
#
#     Rscript scripts/golden-cif.R tests/data/golden
#
# It is deterministic: survival's mgus2 (progression, with death before
# progression competing) split into nodes by arithmetic rules, seeded random
# data (set.seed), and small hand-made edge cases.  Status is 0 censored,
# 1 the first cause (relapse), 2 the competing cause (death).  It writes,
# with %.17g precision:
#
#   cif_cases.tsv     case, grid (0 = exact times), ngroups
#   cif_input.tsv     case, node, group (1..ngroups), time, status
#   cif_expected.tsv  per case and group, survfit(Surv(time, factor(status,
#                     0:2, c("censor", "relapse", "death")))) on the group's
#                     pooled (grid-rounded) records: one row per distinct time,
#                     n.risk, n.event and pstate, std.err, lower, upper for the
#                     states (s0), relapse, death (suffixes 0, 1, 2)
#   cif_times.tsv     summary(fit, times =) per case and group: the requested
#                     times (sorted; kept = 0 where R drops them)
#   cif_gray.tsv      cuminc(time, status, group)$Tests per case and cause:
#                     stat, pv, df (stat -1 where cuminc finds V singular)
#
# Missing values are written NA.
suppressPackageStartupMessages({ library(survival); library(cmprsk) })

args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else "tests/data/golden"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

# Numbers to text with every digit (%.17g), R's NA as "NA"; then the table as TSV.
full_digits <- function(v) replace(sprintf("%.17g", v), is.na(v) & !is.nan(v), "NA")
write_golden <- function(df, file)
  write.table(rapply(df, full_digits, classes = c("numeric", "integer"), how = "replace"),
              file.path(out, file), sep = "\t", quote = FALSE, row.names = FALSE)
on_grid <- function(t, g) if (g > 0) g * ceiling(t / g) else t       # 0 stays 0; 1..g -> g
round_robin <- function(n, k) (seq_len(n) - 1L) %% k + 1L

cases <- list()
add <- function(name, time, status, group, node, grid = 0, times = c(0, 1, 30, 365)) {
  cases[[name]] <<- list(time = time, status = status, group = as.integer(group),
                         node = as.integer(node), grid = grid, times = times)
}
m <- mgus2
etime <- ifelse(m$pstat == 0, m$futime, m$ptime)
event <- ifelse(m$pstat == 0, 2 * m$death, 1)
add("mgus2_sex_3rr", etime, event, as.integer(m$sex), round_robin(nrow(m), 3),
    times = c(0, 12, 60, 120, 240, 400))
add("mgus2_30d_all", etime * 30, event, rep(1L, nrow(m)), round_robin(nrow(m), 4), grid = 90,
    times = c(0, 89, 90, 3600, 7200, 1e6))
set.seed(20261203)
n <- 600
rt <- sample(0:2000, n, TRUE)
rs <- sample(0:2, n, TRUE, prob = c(.5, .3, .2))
rg <- sample(1:3, n, TRUE)
add("random_3groups_grid30", rt, rs, rg, sample(1:3, n, TRUE), grid = 30,
    times = c(0, 15, 30, 365, 730, 1999, 2010, 5000))
add("random_3groups_exact", rt, rs, rg, sample(1:5, n, TRUE), times = c(0, 100, 100, 1000))
n2 <- 200
add("random_ties_2groups", sample(0:20, n2, TRUE), sample(0:2, n2, TRUE), sample(1:2, n2, TRUE),
    sample(1:2, n2, TRUE), times = c(0, 5, 10, 20))
add("edge_no_competing", c(1, 2, 2, 3, 4, 4, 6, 8), c(1, 0, 1, 1, 0, 1, 0, 1),
    c(1, 1, 2, 2, 1, 2, 1, 2), c(1, 2, 1, 2, 1, 2, 1, 2), times = c(2, 4))
add("edge_all_censored", c(5, 3, 8, 8, 1), c(0, 0, 0, 0, 0), c(1, 1, 1, 1, 1), c(1, 2, 1, 2, 1),
    times = c(0, 4, 8))
add("edge_single_event", 7, 2, 1, 1, times = c(0, 7))
add("edge_time_zero", c(0, 0, 0, 2, 2, 5, 5, 9), c(1, 2, 0, 1, 2, 0, 1, 2), c(1, 2, 1, 2, 1, 2, 1, 2),
    c(1, 1, 2, 2, 1, 1, 2, 2), times = c(0, 1, 9))
add("edge_group_all_censored", c(1, 2, 3, 4, 5, 6, 7, 8), c(0, 0, 0, 1, 2, 1, 2, 1),
    c(1, 1, 1, 2, 2, 2, 2, 2), c(1, 1, 2, 2, 1, 1, 2, 2), times = c(3))

states <- c("censor", "relapse", "death")
cdf <- idf <- edf <- tdf <- gdf <- NULL
for (nm in names(cases)) {
  cs <- cases[[nm]]
  tt <- on_grid(cs$time, cs$grid)
  ng <- max(cs$group)
  cdf <- rbind(cdf, data.frame(case = nm, grid = cs$grid, ngroups = ng))
  idf <- rbind(idf, data.frame(case = nm, node = cs$node, group = cs$group, time = cs$time,
                               status = cs$status))
  for (g in seq_len(ng)) {
    k <- cs$group == g
    if (!any(k)) next
    fit <- survfit(Surv(tt[k], factor(cs$status[k], 0:2, states)) ~ 1)
    e <- data.frame(case = nm, group = g, time = fit$time, n.risk = fit$n.risk[, 1],
                    n.event1 = fit$n.event[, 2], n.event2 = fit$n.event[, 3],
                    n.censor = fit$n.censor)
    for (s in 1:3) {
      e[[paste0("p", s - 1)]] <- fit$pstate[, s]
      e[[paste0("se", s - 1)]] <- fit$std.err[, s]
      e[[paste0("lower", s - 1)]] <- fit$lower[, s]
      e[[paste0("upper", s - 1)]] <- fit$upper[, s]
    }
    edf <- rbind(edf, e)
    req <- sort(cs$times)
    sm <- summary(fit, times = req)
    kept <- as.integer(req <= max(fit$time))
    t <- data.frame(case = nm, group = g, time = req, kept = kept, n.risk = NA, n.event1 = NA,
                    n.event2 = NA, p1 = NA, p2 = NA, se1 = NA, se2 = NA, lower1 = NA,
                    upper1 = NA, lower2 = NA, upper2 = NA)
    r <- which(kept == 1)
    t$n.risk[r] <- sm$n.risk[, 1]
    t$n.event1[r] <- sm$n.event[, 2]
    t$n.event2[r] <- sm$n.event[, 3]
    for (s in 1:2) {
      t[[paste0("p", s)]][r] <- sm$pstate[, s + 1]
      t[[paste0("se", s)]][r] <- sm$std.err[, s + 1]
      t[[paste0("lower", s)]][r] <- sm$lower[, s + 1]
      t[[paste0("upper", s)]][r] <- sm$upper[, s + 1]
    }
    tdf <- rbind(tdf, t)
  }
  if (length(unique(cs$group)) > 1) {
    ci <- cuminc(tt, cs$status, factor(cs$group))
    ts <- ci$Tests
    for (cause in 1:2) {
      row <- match(as.character(cause), rownames(ts))
      if (is.na(row)) next
      gdf <- rbind(gdf, data.frame(case = nm, cause = cause, stat = ts[row, "stat"],
                                   pv = ts[row, "pv"], df = ts[row, "df"]))
    }
  }
}
write_golden(cdf, "cif_cases.tsv")
write_golden(idf, "cif_input.tsv")
write_golden(edf, "cif_expected.tsv")
write_golden(tdf, "cif_times.tsv")
write_golden(gdf, "cif_gray.tsv")
