# golden-cox.R - reference inputs and coxph outputs for tests/unit/test_cox.c
#
# Rerun from the repository root (needs only r-base-core and r-cran-survival;
# the outputs below were made with R 4.2.2, survival 3.5-3):
#     Rscript scripts/golden-cox.R tests/data/golden
#
# For every data set it writes cox_<data>.in.tsv: one row per record, in
# the data set's row order, columns node (1..K, the stratum), time, status
# (0/1) and the covariates as R's model.matrix codes them (factor dummies
# and interaction columns named as coxph names them).  A data set stratified
# by a variable as well (cox --strata V) has a column stratum (1..L) after
# node, and its cases fit coxph(... + strata(stratum) + strata(node)).  For every case it writes cox_<case>.out.tsv,
# tab-separated lines "key<TAB>value..." with what
#     coxph(Surv(time, status) ~ <covariates> + strata(node), ties = ...)
# returned: iter, loglik (initial, final), score test, n, nevent, the
# coefficient table, warnings (status, infinite variables) and the internal
# scale coxfit6 applies to each column (n / sum |x - mean|, or 1 for a
# column whose values all lie in {-1, 0, 1}).  Numbers are printed with
# %.17g.  Tolerance checked by the C test: 1e-9 relative on coef and se
# (1e-11 for the cases of issue 15, which say so: key tol), iterations equal.  The list of cases goes to cox_index.tsv.
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/data/golden"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
g <- function(x) sprintf("%.17g", x)
gna <- function(x) ifelse(is.na(x), "NA", g(x))     # an aliased coefficient: R's NA
split_blocks <- function(n, props)
  findInterval(seq_len(n) - 1, floor(n * cumsum(props)[-length(props)])) + 1L

datasets <- list()
add_data <- function(name, time, status, node, df, rhs, stratum = NULL) {
  mm <- model.matrix(as.formula(paste("~", rhs)), df)[, -1, drop = FALSE]
  node <- as.integer(factor(node))
  if (!is.null(stratum)) stratum <- as.integer(factor(stratum))
  con <- file(file.path(out, sprintf("cox_%s.in.tsv", name)), "w")
  writeLines(paste(c("node", if (!is.null(stratum)) "stratum", "time", "status", colnames(mm)),
                   collapse = "\t"), con)
  for (i in seq_len(nrow(mm)))
    writeLines(paste(c(node[i], if (!is.null(stratum)) stratum[i], time[i], status[i], g(mm[i, ])),
                     collapse = "\t"), con)
  close(con)
  datasets[[name]] <<- list(time = time, status = status, node = node, df = df, rhs = rhs, mm = mm,
                            stratum = stratum)
}

cases <- character()
run_case <- function(case, data, ties, iter.max = 20, init = NULL, tol = NULL) {
  d <- datasets[[data]]
  df <- d$df; df$.time <- d$time; df$.status <- d$status; df$.node <- d$node
  df$.stratum <- if (is.null(d$stratum)) 1L else d$stratum
  f <- as.formula(paste("Surv(.time, .status) ~", d$rhs,
                        if (!is.null(d$stratum)) "+ strata(.stratum)", "+ strata(.node)"))
  warns <- character()
  ctl <- coxph.control(iter.max = iter.max)
  fit <- withCallingHandlers(
    if (is.null(init)) coxph(f, data = df, ties = ties, control = ctl)
    else coxph(f, data = df, ties = ties, init = init, control = ctl),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  stopifnot(identical(names(coef(fit)), colnames(d$mm)))
  status <- "converged"; infv <- "-"
  # coxph warns only when iter.max > 1; fit$iter is iter.max + 1 whenever
  # the loop ran out, which is what "not_converged" records
  if (any(grepl("Ran out of iterations", warns)) || fit$iter > iter.max) status <- "not_converged"
  w <- grep("Loglik converged before variable", warns, value = TRUE)
  if (length(w)) {
    status <- "infinite"
    infv <- gsub(" ", "", sub(".*variable *([0-9, ]+) *;.*", "\\1", w[1]))
  }
  mm <- d$mm
  zero.one <- apply(mm, 2, function(z) all(z %in% c(-1, 0, 1)))
  scale <- ifelse(zero.one, 1, apply(mm, 2, function(z) length(z) / sum(abs(z - mean(z)))))
  s <- summary(fit)$coefficients
  con <- file(file.path(out, sprintf("cox_%s.out.tsv", case)), "w")
  kv <- function(...) writeLines(paste(c(...), collapse = "\t"), con)
  kv("input", sprintf("cox_%s.in.tsv", data))
  kv("ties", ties)
  kv("iter_max", iter.max)
  if (!is.null(tol)) kv("tol", tol)     # the C test's tolerance on coef and se (default 1e-9)
  kv("init", if (is.null(init)) rep("0", ncol(mm)) else g(init))
  kv("n", fit$n); kv("nevent", fit$nevent)
  kv("iter", fit$iter)
  kv("loglik", g(fit$loglik))
  kv("sctest", g(fit$score))
  kv("status", status)
  kv("infinite", infv)
  for (j in seq_len(ncol(mm))) {
    se <- sqrt(fit$var[j, j])
    kv("coef", colnames(mm)[j], gna(coef(fit)[j]), gna(se), gna(coef(fit)[j] / se),
       gna(2 * pnorm(-abs(coef(fit)[j] / se))))
  }
  for (j in seq_len(ncol(mm))) kv("scale", colnames(mm)[j], g(scale[j]))
  close(con)
  cases <<- c(cases, case)
}

## nwtco: histology and age, node = study (statistics.md §8 reference values)
nw <- nwtco
add_data("nwtco_study", nw$edrel, nw$rel, nw$study, nw, "histol + age")
run_case("nwtco_study_efron", "nwtco_study", "efron")
run_case("nwtco_study_breslow", "nwtco_study", "breslow")
run_case("nwtco_study_iter2", "nwtco_study", "efron", iter.max = 2)
run_case("nwtco_study_iter1", "nwtco_study", "efron", iter.max = 1)

## nwtco: factors, unbalanced 5-block split ("big and tiny registries")
nw2 <- data.frame(histol = factor(nw$histol, 1:2, c("favourable", "unfavourable")),
                  stage = factor(nw$stage), age = nw$age)
add_data("nwtco_blocks", nw$edrel, nw$rel, split_blocks(nrow(nw), c(.45, .25, .15, .10, .05)),
         nw2, "histol + stage + age")
run_case("nwtco_blocks_efron", "nwtco_blocks", "efron")
run_case("nwtco_blocks_breslow", "nwtco_blocks", "breslow")

## lung: 4 institution groups
lu <- na.omit(lung[, c("time", "status", "age", "sex", "ph.ecog", "inst")])
lnode <- cut(lu$inst, c(0, 3, 11, 22, 40))
add_data("lung", lu$time, lu$status - 1, lnode, lu, "age + sex + ph.ecog")
run_case("lung_efron", "lung", "efron")
run_case("lung_breslow", "lung", "breslow")
## the same from a poor start: exercises step-halving
run_case("lung_halving", "lung", "efron", init = c(0.5, 3, 3))

## lung: separation, a group (censored beyond day 300) without events
lu$late_censored <- as.numeric(lu$status == 1 & lu$time > 300)
add_data("lung_sep", lu$time, lu$status - 1, lnode, lu, "age + late_censored")
run_case("lung_sep_efron", "lung_sep", "efron")

## veteran: node = cell type (very different baselines)
ve <- veteran
ve$trt <- factor(ve$trt)
add_data("veteran", ve$time, ve$status, ve$celltype, ve, "trt + karno + diagtime + age + prior")
run_case("veteran_efron", "veteran", "efron")
run_case("veteran_breslow", "veteran", "breslow")

## colon (death records): node = 1 + id mod 5
co <- na.omit(subset(colon, etype == 2)[, c("id", "time", "status", "rx", "sex", "age", "nodes", "differ")])
co$differ <- factor(co$differ)
add_data("colon", co$time, co$status, 1 + co$id %% 5, co, "rx + sex + age + nodes + differ")
run_case("colon_efron", "colon", "efron")
run_case("colon_breslow", "colon", "breslow")

## issue 15: interactions, as coxph codes and names them (lung, 4 institution groups)
lu2 <- lu
lu2$sexf <- factor(lu2$sex, 1:2, c("male", "female"))
lu2$ecog <- factor(pmin(lu2$ph.ecog, 2), 0:2, c("0", "1", "2+"))
add_data("lung_inter", lu2$time, lu2$status - 1, lnode, lu2, "age * sexf + ecog")
run_case("lung_inter_efron", "lung_inter", "efron", tol = "1e-11")
## a:b without main effects: every cell coded, the last one aliased (NA)
add_data("lung_cells", lu2$time, lu2$status - 1, lnode, lu2, "sexf:ecog + age")
run_case("lung_cells_efron", "lung_cells", "efron", tol = "1e-11")
## numeric:numeric and factor:numeric without the numeric's main effect
add_data("lung_num", lu2$time, lu2$status - 1, lnode, lu2, "sexf + age:ph.ecog + sexf:age")
run_case("lung_num_efron", "lung_num", "efron", tol = "1e-11")
## an empty cell: no woman of ecog 2+ (her column is 0: NA, as R)
lu3 <- lu2[!(lu2$sexf == "female" & lu2$ecog == "2+"), ]
add_data("lung_empty", lu3$time, lu3$status - 1, cut(lu3$inst, c(0, 3, 11, 22, 40)), lu3,
         "sexf * ecog")
run_case("lung_empty_breslow", "lung_empty", "breslow", tol = "1e-11")

## issue 15: cox --strata V, coxph(... + strata(V) + strata(node))
add_data("lung_strata", lu2$time, lu2$status - 1, lnode, lu2, "age + ecog", stratum = lu2$sexf)
run_case("lung_strata_efron", "lung_strata", "efron", tol = "1e-11")
run_case("lung_strata_breslow", "lung_strata", "breslow", tol = "1e-11")
add_data("colon_strata", co$time, co$status, 1 + co$id %% 5, co, "rx + age + nodes",
         stratum = co$differ)
run_case("colon_strata_efron", "colon_strata", "efron", tol = "1e-11")
## with an interaction, and a stratum level held by one node only
ve2 <- ve
ve2$big <- factor(ve2$karno >= 60, c(FALSE, TRUE), c("low", "high"))
vnode <- 1 + seq_len(nrow(ve2)) %% 3
ve2$lvl <- ifelse(ve2$prior == 10 & vnode == 1, "p10n1", as.character(ve2$celltype))
add_data("veteran_strata", ve2$time, ve2$status, vnode, ve2, "trt * big + age", stratum = ve2$lvl)
run_case("veteran_strata_efron", "veteran_strata", "efron", tol = "1e-11")

writeLines(cases, file.path(out, "cox_index.tsv"))
