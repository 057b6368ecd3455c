# golden-chisq.R - reference outputs of R's chisq.test() and pchisq() for the
# chi-squared module (analysis/chisq.c).
#
# Rerun from the repository root (base R plus r-cran-survival for its data
# sets; the files were produced with R 4.2.2 and survival 3.5-3, Debian 12):
#
#     Rscript scripts/golden-chisq.R tests/data/golden
#
# It is deterministic (no random numbers): cross-tables of survival's data
# sets, tables built by arithmetic rules, and hand-made edge cases.  It writes,
# with %.17g precision:
#
#   chisq_cases.tsv   one row per table:
#     case, status, correct, nrow, ncol, counts (row-major, comma-separated),
#     statistic, df, p, yates (R's YATES), yates_applied (R's method names
#     Yates' correction), small_expected (R warned "Chi-squared approximation
#     may be incorrect"), expected (row-major, comma-separated), note.
#     status: ok     chisq.test(matrix) ran as a test of independence;
#             nan    it ran but a row or column is empty: statistic and p NaN
#                    (chisq_test refuses: CHISQ_EMARGIN);
#             gof    1 x k or k x 1: R ran a goodness-of-fit test (the values
#                    written are that test's; chisq_test refuses: CHISQ_EDIM);
#             error  R stopped (note holds its message; fields NA).
#   chisq_pchisq.tsv  x, df, p = pchisq(x, df, lower.tail = FALSE) on a grid of
#                     df up to 63^2 and x from 1e-10 to far in the tail.
suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else "tests/data/golden"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

g17 <- function(x) ifelse(is.na(x) & !is.nan(x), "NA", sprintf("%.17g", x))
lst <- function(x) paste(g17(x), collapse = ",")
rowmajor <- function(m) as.vector(t(m))
m22 <- function(...) matrix(c(...), 2, byrow = TRUE)
unt <- function(t) { m <- unclass(t); matrix(as.numeric(m), nrow(m), ncol(m)) }

cases <- list()
add <- function(name, m, correct = TRUE) {
  m <- as.matrix(m)
  warned <- FALSE
  res <- tryCatch(withCallingHandlers(chisq.test(m, correct = correct),
                    warning = function(w) {
                      if (grepl("approximation may be incorrect", conditionMessage(w))) warned <<- TRUE
                      invokeRestart("muffleWarning")
                    }),
                  error = function(e) e)
  if (inherits(res, "error")) {
    status <- "error"; st <- NA; df <- NA; p <- NA; yates <- NA; ya <- NA; ex <- NA
    note <- conditionMessage(res)
  } else {
    st <- unname(res$statistic); df <- unname(res$parameter); p <- res$p.value
    ya <- as.integer(grepl("Yates", res$method)); note <- res$method
    if (min(dim(m)) == 1) {
      status <- "gof"; yates <- 0; ex <- res$expected
    } else {
      status <- if (is.nan(st)) "nan" else "ok"
      E <- res$expected
      yates <- if (correct && all(dim(m) == 2)) min(0.5, abs(m - E)) else 0
      ex <- rowmajor(E)
    }
  }
  cases[[length(cases) + 1]] <<- data.frame(
    case = name, status = status, correct = as.integer(correct), nrow = nrow(m), ncol = ncol(m),
    counts = lst(rowmajor(m)), statistic = g17(st), df = g17(df), p = g17(p), yates = g17(yates),
    yates_applied = ya, small_expected = as.integer(warned), expected = lst(ex), note = note)
}

nw <- nwtco
# statistics.md §6 / script 07: pooled histol x stage and histol x relapse
add("nwtco_histol_stage", unt(table(nw$histol, nw$stage)))
add("nwtco_stage_histol", unt(table(nw$stage, nw$histol)))
add("nwtco_histol_rel", unt(table(nw$histol, nw$rel)))
add("nwtco_histol_rel_uncorrected", unt(table(nw$histol, nw$rel)), correct = FALSE)
add("nwtco_instit_histol", unt(table(nw$instit, nw$histol)))
add("nwtco_study_stage", unt(table(nw$study, nw$stage)))
rare <- subset(nw, histol == 2 & age < 24)
add("nwtco_rare_stage_rel", unt(table(rare$stage, rare$rel)))
add("nwtco_rare_stage_rel_uncorrected", unt(table(rare$stage, rare$rel)), correct = FALSE)
add("lung_ecog_sex", unt(table(lung$ph.ecog, lung$sex)))
add("lung_sex_status", unt(table(lung$sex, lung$status)))
add("veteran_celltype_trt", unt(table(veteran$celltype, veteran$trt)))
add("veteran_celltype_prior", unt(table(veteran$celltype, veteran$prior)))
add("veteran_trt_prior", unt(table(veteran$trt, veteran$prior)))
add("pbc_stage_edema", unt(table(pbc$stage, pbc$edema)))
add("pbc_trt_stage", unt(table(pbc$trt, pbc$stage)))
col2 <- subset(colon, etype == 2)
add("colon_differ_extent", unt(table(col2$differ, col2$extent)))

# 2 x 2: in a 2 x 2 table |x - E| is the same d in every cell, so Yates' Y = min(0.5, d)
add("t22_d_0.24", m22(10, 10, 10, 11))                      # d < 0.5: Y = d, X2 = 0
add("t22_d_0.24_uncorrected", m22(10, 10, 10, 11), correct = FALSE)
add("t22_d_0.5", m22(5, 6, 6, 5))                           # d = 0.5 exactly
add("t22_d_1", m22(6, 4, 4, 6))                             # Y = 0.5
add("t22_d_0.4_large", m22(1000, 1000, 1000, 1001))         # d < 0.5 with large counts
add("t22_independent", m22(2, 4, 3, 6))                     # d = 0: Y = 0, no Yates in method
add("t22_small", m22(1, 2, 3, 4))
add("t22_zero_cells", m22(0, 5, 5, 0))
add("t22_zero_cells_uncorrected", m22(0, 5, 5, 0), correct = FALSE)
add("t22_large", m22(1e9, 2e9, 3e9, 4e9))
add("t22_max_total", m22(2^53 - 3, 1, 1, 1))                # total = 2^53 = CHISQ_MAX_TOTAL
add("t33_diagonal", diag(3))
add("t33_uncorrected", matrix(c(5, 9, 2, 7, 3, 8, 4, 6, 11), 3, byrow = TRUE), correct = FALSE)
add("t33_corrected", matrix(c(5, 9, 2, 7, 3, 8, 4, 6, 11), 3, byrow = TRUE))

# the dimension limit CHISQ_MAX_DIM = 64, by arithmetic rules
i <- row(matrix(0, 64, 64)); j <- col(matrix(0, 64, 64))
add("t64x64_assoc", 1 + (i * 7 + j * 13) %% 11)                     # strong pattern: p tiny
add("t64x64_near_indep", 20 + (i * j) %% 3)                         # p moderate, df 3969
add("t64x2", cbind(10 + (1:64) %% 5, 12 + (1:64 * 3) %% 7))
add("t2x64", rbind(3 + (1:64) %% 4, 2 + (1:64 * 5) %% 9))

# tables R treats differently (see analysis/chisq.h)
add("zero_row_2x3", m22(3, 5, 2, 0, 0, 0))
add("zero_col_3x2", matrix(c(3, 0, 5, 0, 2, 0), 3, byrow = TRUE))
add("zero_row_2x2", m22(3, 5, 0, 0))
add("zero_row_3x3", matrix(c(4, 6, 2, 0, 0, 0, 7, 1, 9), 3, byrow = TRUE))
add("one_row_1x3", matrix(c(3, 5, 7), 1))
add("one_col_3x1", matrix(c(3, 5, 7), 3))
add("one_cell_1x1", matrix(3, 1, 1))
add("all_zero_2x2", matrix(0, 2, 2))

write.table(do.call(rbind, cases), file.path(out, "chisq_cases.tsv"), sep = "\t",
            quote = FALSE, row.names = FALSE)

# upper tail of chi-square on a grid (x > 0)
grid <- list()
for (df in c(1:12, 25, 50, 51, 100, 101, 225, 399, 400, 1000, 1001, 2000, 3968, 3969)) {
  s <- sqrt(2 * df)
  x <- c(1e-10, 1e-3, 0.5, 1, 5, 20, 100, 700, 1400, 1416, 1430, 1450, 1480, 2000, 5000,
         df / 2, df - 3 * s, df - s, df, df + s, df + 3 * s, df + 10 * s, 2 * df, 3 * df,
         qchisq(c(1e-300, 1e-200, 1e-100, 1e-20, 1e-8, 0.01, 0.5, 0.99), df, lower.tail = FALSE))
  x <- sort(unique(x[x > 0 & x <= 1e5]))
  grid[[length(grid) + 1]] <- data.frame(x = g17(x), df = df,
                                         p = g17(pchisq(x, df, lower.tail = FALSE)))
}
write.table(do.call(rbind, grid), file.path(out, "chisq_pchisq.tsv"), sep = "\t",
            quote = FALSE, row.names = FALSE)
