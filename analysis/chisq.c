/*
 * chisq - Pearson's chi-squared test of independence (see chisq.h).
 */
#include "analysis/chisq.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CHISQ_STR_(x) #x
#define CHISQ_STR(x) CHISQ_STR_(x)
#define CHISQ_MAX_DF ((CHISQ_MAX_DIM - 1) * (CHISQ_MAX_DIM - 1))
#define CHISQ_SQRT_2_PI 0.79788456080286535588  /* sqrt(2/pi) */
/* ln 2 split as fdlibm does: LN2_HI has 21 trailing zero bits, so j * LN2_HI
   is exact for the j used here and y - j * LN2_HI loses nothing. */
#define CHISQ_LN2_HI 6.93147180369123816490e-01
#define CHISQ_LN2_LO 1.90821492927058770002e-10
#define CHISQ_RESCALE 512       /* the running sum is kept below 2^CHISQ_RESCALE */
/* Beyond this x the upper tail is below 1e-18000 for every df <= CHISQ_MAX_DF
   (so 0 in doubles), and j below stays under 2^21, where j * LN2_HI is exact. */
#define CHISQ_X_ZERO 1e5

int
chisq_test(const uint64_t *counts, size_t nrow, size_t ncol, int correct,
           double *expected, struct chisq_result *out)
{
    double sr[CHISQ_MAX_DIM], sc[CHISQ_MAX_DIM];
    uint64_t rsum[CHISQ_MAX_DIM], csum[CHISQ_MAX_DIM], n = 0;
    size_t i, j;

    if (out)
        memset(out, 0, sizeof *out);
    if (!counts || !out)
        return CHISQ_EINVAL;
    if (nrow > CHISQ_MAX_DIM || ncol > CHISQ_MAX_DIM)
        return CHISQ_ERANGE;
    if (nrow < 2 || ncol < 2)
        return CHISQ_EDIM;

    /* Exact integer margins; every partial sum stays <= 2 * CHISQ_MAX_TOTAL. */
    memset(rsum, 0, sizeof rsum);
    memset(csum, 0, sizeof csum);
    for (i = 0; i < nrow; i++)
        for (j = 0; j < ncol; j++) {
            uint64_t x = counts[i * ncol + j];
            if (x > CHISQ_MAX_TOTAL || n + x > CHISQ_MAX_TOTAL)
                return CHISQ_ERANGE;
            n += x;
            rsum[i] += x;
            csum[j] += x;
        }
    if (n == 0)
        return CHISQ_EEMPTY;
    for (i = 0; i < nrow; i++)
        if (rsum[i] == 0)
            return CHISQ_EMARGIN;
    for (j = 0; j < ncol; j++)
        if (csum[j] == 0)
            return CHISQ_EMARGIN;
    for (i = 0; i < nrow; i++)
        sr[i] = (double)rsum[i];
    for (j = 0; j < ncol; j++)
        sc[j] = (double)csum[j];

    /* E and the correction, with R's operations in R's order:
       (sr * sc) / n, and min(0.5, abs(x - E)) over all four cells. */
    double dn = (double)n, y = 0.5, emin = INFINITY;
    int is22 = correct && nrow == 2 && ncol == 2;
    for (i = 0; i < nrow; i++)
        for (j = 0; j < ncol; j++) {
            double e = (sr[i] * sc[j]) / dn;
            double d = fabs((double)counts[i * ncol + j] - e);
            if (d < y)
                y = d;
            if (e < emin)
                emin = e;
            if (expected)
                expected[i * ncol + j] = e;
        }
    if (!is22)
        y = 0;

    /* R's sum() accumulates in long double, over the matrix in column-major order. */
    long double s = 0;
    for (j = 0; j < ncol; j++)
        for (i = 0; i < nrow; i++) {
            double e = (sr[i] * sc[j]) / dn;
            double d = fabs((double)counts[i * ncol + j] - e) - y;
            s += d * d / e;
        }

    out->statistic = (double)s;
    out->df = (int)((nrow - 1) * (ncol - 1));
    out->p = chisq_upper(out->statistic, out->df);
    out->yates = y;
    out->yates_applied = y > 0;
    out->small_expected = emin < 5;
    out->min_expected = emin;
    return 0;
}

/*
 * Closed forms (statistics.md §3.3), with y = x/2:
 *   df = 2m:     Q = e^-y sum_{k=0}^{m-1} y^k / k!
 *   df = 2m + 1: Q = erfc(sqrt y) + e^-y sqrt(2/pi) sum_{k=1}^{m} x^(k-1/2) / (1*3*...*(2k-1))
 * All terms are positive, so there is no cancellation; the sum is carried as
 * s * 2^scale so that neither it overflows nor e^-y underflows before the
 * final product, which is formed as s * e^r * 2^(scale - j) with
 * y = j ln2 - r, 0 <= r < ln2 (one rounding into the subnormal range at most).
 */
double
chisq_upper(double x, int df)
{
    if (df < 0 || df > CHISQ_MAX_DF || isnan(x))
        return NAN;
    if (x <= 0)
        return 1;
    if (df == 0 || x > CHISQ_X_ZERO)
        return 0;

    double y = x / 2, s, t, head = 0;
    long scale = 0;
    int k, m;
    if (df % 2 == 0) {
        m = df / 2;
        s = t = 1;
        for (k = 1; k < m; k++) {
            t *= y / k;
            s += t;
            if (s > ldexp(1, CHISQ_RESCALE)) {
                s = ldexp(s, -CHISQ_RESCALE);
                t = ldexp(t, -CHISQ_RESCALE);
                scale += CHISQ_RESCALE;
            }
        }
    } else {
        m = (df - 1) / 2;
        head = erfc(sqrt(y));
        s = 0;
        t = CHISQ_SQRT_2_PI * sqrt(x);
        for (k = 1; k <= m; k++) {
            if (k > 1)
                t *= x / (2 * k - 1);
            s += t;
            if (s > ldexp(1, CHISQ_RESCALE)) {
                s = ldexp(s, -CHISQ_RESCALE);
                t = ldexp(t, -CHISQ_RESCALE);
                scale += CHISQ_RESCALE;
            }
        }
        if (m == 0)
            return head;
    }
    double j = floor(y / CHISQ_LN2_HI);
    double r = (j * CHISQ_LN2_HI - y) + j * CHISQ_LN2_LO;    /* = -y + j ln2, about (-ln2, 0] */
    return head + ldexp(s * exp(r), (int)(scale - (long)j));
}

const char *
chisq_strerror(int rc)
{
    switch (rc) {
    case CHISQ_EINVAL:
        return "invalid argument";
    case CHISQ_ERANGE:
        return "table too large (more than " CHISQ_STR(CHISQ_MAX_DIM)
               " levels, or total count above 2^53)";
    case CHISQ_EDIM:
        return "chi-squared test of independence needs at least 2 rows and 2 columns";
    case CHISQ_EEMPTY:
        return "every count in the table is zero";
    case CHISQ_EMARGIN:
        return "a row or column of the table is empty: chi-squared undefined (R gives NaN)";
    default:
        return "unknown error";
    }
}
