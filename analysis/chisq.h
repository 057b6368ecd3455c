/*
 * chisq - Pearson's chi-squared test of independence on a pooled 2-D count
 * table, as R's chisq.test(x) for a matrix x (R 4.2, stats; default
 * correct = TRUE).  Pure: no I/O, no globals, no allocation, links with -lm only.
 *
 * With row sums r_i, column sums c_j and total n (all exact in doubles):
 *   E_ij = (r_i c_j) / n                     (R: outer(sr, sc) / n)
 *   Y    = min(0.5, min_ij |x_ij - E_ij|)    if correct and the table is 2 x 2,
 *          0 otherwise                       (R's YATES; note the min over cells)
 *   X2   = sum_ij (|x_ij - E_ij| - Y)^2 / E_ij,  df = (nrow - 1)(ncol - 1),
 *   p    = P(chi-square(df) > X2)            (R: pchisq(X2, df, lower.tail = FALSE)).
 * R says "Pearson's Chi-squared test with Yates' continuity correction" only
 * when Y > 0 (yates_applied), and warns "Chi-squared approximation may be
 * incorrect" when any E_ij < 5 (small_expected).
 *
 * Tables R treats differently, refused here with a distinct code:
 *   - fewer than 2 rows or columns (CHISQ_EDIM): R turns a 1 x k or k x 1
 *     matrix into a vector and runs a goodness-of-fit test against equal
 *     probabilities (df = k - 1), and stops on a 1 x 1 table.  That is a
 *     different test from independence; a caller wanting it must ask for it.
 *   - all counts zero (CHISQ_EEMPTY): R stops ("at least one entry of 'x'
 *     must be positive").
 *   - a row or column summing to zero (CHISQ_EMARGIN): R computes on it and
 *     returns X2 = NaN and p = NaN (0/0 in the empty row's cells), with df
 *     still counting the empty level.  No test exists there; the caller may
 *     drop the empty level and test the smaller table, which is what R gives
 *     for the table without that level.
 * Checks run in this order: EINVAL; ERANGE for a dimension; EDIM; ERANGE for
 * the total; EEMPTY; EMARGIN.
 *
 * The chi-square upper tail is computed here (chisq_upper) rather than with
 * logrank_chisq_upper: same closed forms (statistics.md §3.3), but the sum is
 * kept with a binary exponent so that exp(-x/2) never underflows before it
 * is applied.  The plain form returns 0 instead of ~0.5 for large df (a 64 x 64
 * table has df 3969 and typical X2 ~ 4000, where exp(-2000) underflows).
 */
#ifndef CHISQ_H
#define CHISQ_H

#include <stddef.h>
#include <stdint.h>

/* Error codes: chisq_test returns 0 or one of these. */
#define CHISQ_EINVAL (-1)       /* counts or out is NULL */
#define CHISQ_ERANGE (-3)       /* a dimension > CHISQ_MAX_DIM, or total > CHISQ_MAX_TOTAL */
#define CHISQ_EDIM (-4)         /* fewer than 2 rows or columns (R: goodness of fit, see above) */
#define CHISQ_EEMPTY (-5)       /* every count is zero (R stops) */
#define CHISQ_EMARGIN (-6)      /* a row or column sums to zero (R: X2 = NaN, p = NaN) */

/* Levels per variable.  Bounds df at (64 - 1)^2 = 3969, the range over which
   chisq_upper is checked against pchisq, and the expected table at 4096 cells. */
#define CHISQ_MAX_DIM 64
/* Total count: margins and n are then exact doubles, as R's are. */
#define CHISQ_MAX_TOTAL (UINT64_C(1) << 53)

struct chisq_result {
    double statistic;   /* X2 (R: $statistic) */
    int df;             /* (nrow - 1)(ncol - 1) (R: $parameter) */
    double p;           /* upper tail of chi-square(df) at X2 (R: $p.value) */
    double yates;       /* the continuity correction Y subtracted (0 unless 2 x 2 and correct) */
    int yates_applied;  /* Y > 0: R's method names Yates' correction */
    int small_expected; /* some E_ij < 5: R warns "Chi-squared approximation may be incorrect" */
    double min_expected;/* smallest E_ij, for the caller's message */
};

/*
 * Test independence in the nrow x ncol table counts (row-major:
 * counts[i * ncol + j] is row i, column j).  correct != 0 is R's default
 * correct = TRUE (it matters only for 2 x 2 tables).  expected, if not NULL,
 * receives E (nrow * ncol doubles, same layout; caller-owned).  On error *out
 * is zeroed and expected is not written.
 */
int chisq_test(const uint64_t *counts, size_t nrow, size_t ncol, int correct,
               double *expected, struct chisq_result *out);

/*
 * P(X > x) for X ~ chi-square(df), 0 <= df <= (CHISQ_MAX_DIM - 1)^2 (else NaN),
 * as pchisq(x, df, lower.tail = FALSE): 1 for x <= 0; df = 0 gives 0 for x > 0;
 * NaN for NaN x.  Error against pchisq below 1e-12 relative over that range
 * (tests/unit/test_chisq.c; measured 1.3e-13), and below 1e-12 * DBL_MIN
 * absolute where the result is subnormal.
 */
double chisq_upper(double x, int df);

/* A constant one-line description of a CHISQ_E* code ("unknown error" otherwise). */
const char *chisq_strerror(int rc);

#endif /* !CHISQ_H */
