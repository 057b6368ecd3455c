# golden-glm.R - reference inputs and glm(family = binomial) outputs for
# tests/unit/test_glm.c
#
# Rerun from the repository root (needs only r-base-core and r-cran-survival
# for the data sets; made with R 4.2.2, survival 3.5-3):
#     Rscript scripts/golden-glm.R tests/data/golden
#
# For every case it writes glm_<case>.in.tsv: one row per record, columns
# node (1..K), y (0/1) and the columns of model.matrix(fit) (intercept and
# factor dummies named as glm names them), and glm_<case>.out.tsv,
# tab-separated "key<TAB>value..." lines: iter, deviance, null deviance,
# AIC, rank, df, whether glm warned (did not converge / fitted
# probabilities numerically 0 or 1) and the coefficient table (estimate,
# se, z, p; NA for an aliased column).  Numbers are printed with %.17g.
# Tolerance checked by the C test: 1e-9 relative on estimates and se
# (or the case's own, key tol: issue 15's interaction cases), iterations
# equal.  The list of cases goes to glm_index.tsv.
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/data/golden"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
g <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

cases <- character()
run_case <- function(case, formula, data, node, tol = NULL) {
  warns <- character()
  fit <- withCallingHandlers(glm(formula, family = binomial, data = data),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  X <- model.matrix(fit); y <- fit$y
  node <- as.integer(factor(node[match(rownames(X), rownames(data))]))
  stopifnot(!anyNA(node))
  con <- file(file.path(out, sprintf("glm_%s.in.tsv", case)), "w")
  writeLines(paste(c("node", "y", colnames(X)), collapse = "\t"), con)
  for (i in seq_len(nrow(X))) writeLines(paste(c(node[i], y[i], g(X[i, ])), collapse = "\t"), con)
  close(con)
  s <- summary(fit)
  cf <- matrix(NA, ncol(X), 4, dimnames = list(colnames(X), NULL))
  cf[rownames(s$coefficients), ] <- s$coefficients
  con <- file(file.path(out, sprintf("glm_%s.out.tsv", case)), "w")
  kv <- function(...) writeLines(paste(c(...), collapse = "\t"), con)
  kv("input", sprintf("glm_%s.in.tsv", case))
  if (!is.null(tol)) kv("tol", tol)
  kv("n", nrow(X))
  kv("iter", fit$iter)
  kv("converged", as.integer(fit$converged))
  kv("fitted_01", as.integer(any(grepl("fitted probabilities numerically 0 or 1", warns))))
  kv("rank", fit$rank)
  kv("df_residual", fit$df.residual); kv("df_null", fit$df.null)
  kv("deviance", g(fit$deviance)); kv("null_deviance", g(fit$null.deviance))
  kv("aic", g(fit$aic))
  for (j in seq_len(ncol(X))) kv("coef", colnames(X)[j], g(cf[j, 1]), g(cf[j, 2]), g(cf[j, 3]), g(cf[j, 4]))
  close(con)
  cases <<- c(cases, case)
}

## nwtco: relapse ~ histology + stage + age + study, 4 nodes (1 + seqno mod 4)
nw <- nwtco
nw$histol <- factor(nw$histol, 1:2, c("favourable", "unfavourable"))
nw$stage <- factor(nw$stage); nw$study <- factor(nw$study)
run_case("nwtco", rel ~ histol + stage + age + study, nw, 1 + nw$seqno %% 4)

## gbsg: recurrence ~ ..., 3 nodes (1 + pid mod 3)
gb <- gbsg; gb$grade <- factor(gb$grade)
run_case("gbsg", status ~ age + meno + size + grade + nodes + hormon, gb, 1 + gb$pid %% 3)

## lung: death ~ ..., 4 institution groups
lu <- na.omit(lung[, c("time", "status", "age", "sex", "ph.ecog", "wt.loss", "inst")])
lu$dead <- as.numeric(lu$status == 2)
lnode <- as.integer(cut(lu$inst, c(0, 3, 11, 22, 40)))
run_case("lung", dead ~ age + sex + ph.ecog + wt.loss, lu, lnode)

## lung: quasi-separation (no deaths among those censored beyond day 300)
lu$late_censored <- as.numeric(lu$status == 1 & lu$time > 300)
run_case("lung_sep", dead ~ age + late_censored, lu, lnode)

## lung: an aliased column (female = 2 - sex is the intercept minus sex + 1)
lu$female <- as.numeric(lu$sex == 2)
lu$male <- as.numeric(lu$sex == 1)
run_case("lung_aliased", dead ~ age + male + ph.ecog + female, lu, lnode)

## complete separation (synthetic, deterministic): y = 1 exactly when x > 20;
## glm runs out of iterations and warns about fitted probabilities 0 or 1
sep <- data.frame(x = 1:40, z = (1:40 * 7) %% 5)
sep$y <- as.numeric(sep$x > 20)
run_case("complete_sep", y ~ x + z, sep, 1 + sep$x %% 3)

## issue 15: interactions, as glm codes and names them (lung, 4 institution groups)
lu$sexf <- factor(lu$sex, 1:2, c("male", "female"))
lu$ecog <- factor(pmin(lu$ph.ecog, 2), 0:2, c("0", "1", "2+"))
run_case("lung_inter", dead ~ age * sexf + ecog, lu, lnode, tol = "1e-11")
run_case("lung_num", dead ~ sexf + age:wt.loss + sexf:age, lu, lnode, tol = "1e-11")
## a:b without main effects: every cell coded, the last aliased (NA) with the intercept
run_case("lung_cells", dead ~ sexf:ecog + age, lu, lnode, tol = "1e-11")
## an empty cell: no woman of ecog 2+ (her column is 0: NA)
lu3 <- lu[!(lu$sexf == "female" & lu$ecog == "2+"), ]
run_case("lung_empty", dead ~ sexf * ecog + age, lu3, lnode[match(rownames(lu3), rownames(lu))],
         tol = "1e-11")

writeLines(cases, file.path(out, "glm_index.tsv"))
