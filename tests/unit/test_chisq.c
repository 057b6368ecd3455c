/*
 * test_chisq - the chi-squared test of independence against hand-computed
 * values and against R 4.2's chisq.test() and pchisq() on the golden files
 * written by scripts/golden-chisq.R (tests/data/golden/chisq_*.tsv; tests run
 * from the repository root).  Statistic, p, Yates' correction and expected
 * counts must agree to 1e-12 relative; df and R's flags exactly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/chisq.h"
#include "tests/unit/golden.h"

#define GOLDEN "tests/data/golden/"
#define TOL 1e-12
#define MAX_CELLS (CHISQ_MAX_DIM * CHISQ_MAX_DIM)

/* ---------- hand-checkable values ---------- */

/* 6 4 / 4 6: margins 10, 10, n 20, E = 5 everywhere, |x - E| = 1.
   Yates: Y = min(0.5, 1) = 0.5, X2 = 4 (0.5^2 / 5) = 0.2; without: 4 / 5 = 0.8.
   df 1: p = erfc(sqrt(X2 / 2)).  E = 5 is not < 5: no warning. */
static void
chisq_2x2_hand_values(void **state)
{
    (void)state;
    uint64_t x[] = { 6, 4, 4, 6 };
    double e[4];
    struct chisq_result r;

    assert_int_equal(chisq_test(x, 2, 2, 1, e, &r), 0);
    assert_close(r.statistic, 0.2, 1e-15);
    assert_int_equal(r.df, 1);
    assert_close(r.p, erfc(sqrt(0.1)), 1e-15);
    assert_close(r.yates, 0.5, 0);
    assert_int_equal(r.yates_applied, 1);
    assert_int_equal(r.small_expected, 0);
    assert_close(r.min_expected, 5, 0);
    for (int k = 0; k < 4; k++)
        assert_close(e[k], 5, 0);

    assert_int_equal(chisq_test(x, 2, 2, 0, NULL, &r), 0);
    assert_close(r.statistic, 0.8, 1e-15);
    assert_close(r.p, erfc(sqrt(0.4)), 1e-15);
    assert_close(r.yates, 0, 0);
    assert_int_equal(r.yates_applied, 0);
}

/* 2 4 / 3 6 is exactly independent: E = x, |x - E| = 0, so Y = 0 (R does not
   name Yates), X2 = 0, p = 1; E(1,1) = 5 * 6 / 15 = 2 < 5 warns. */
static void
chisq_2x2_independent_has_no_correction(void **state)
{
    (void)state;
    uint64_t x[] = { 2, 4, 3, 6 };
    struct chisq_result r;

    assert_int_equal(chisq_test(x, 2, 2, 1, NULL, &r), 0);
    assert_close(r.statistic, 0, 0);
    assert_close(r.p, 1, 0);
    assert_int_equal(r.yates_applied, 0);
    assert_int_equal(r.small_expected, 1);
    assert_close(r.min_expected, 2, 0);
}

/* 10 10 / 10 11: every |x - E| = 10 - 400/41 = 10/41 < 0.5, so Y = 10/41 and
   the corrected X2 is 0 (R's min(0.5, abs(x - E)) rule, not a flat 0.5). */
static void
chisq_2x2_yates_below_half(void **state)
{
    (void)state;
    uint64_t x[] = { 10, 10, 10, 11 };
    struct chisq_result r;

    assert_int_equal(chisq_test(x, 2, 2, 1, NULL, &r), 0);
    assert_close(r.yates, 10.0 / 41, 1e-14);
    assert_int_equal(r.yates_applied, 1);
    assert_true(fabs(r.statistic) < 1e-28);
    assert_close(r.p, 1, 1e-14);
}

/* diag(3): E = 1/3 everywhere; X2 = 3 (2/3)^2 / (1/3) + 6 (1/3)^2 / (1/3) = 6,
   df 4: p = e^-3 (1 + 3).  correct is ignored beyond 2 x 2. */
static void
chisq_3x3_hand_values(void **state)
{
    (void)state;
    uint64_t x[] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
    struct chisq_result r;

    for (int c = 0; c < 2; c++) {
        assert_int_equal(chisq_test(x, 3, 3, c, NULL, &r), 0);
        assert_close(r.statistic, 6, 1e-15);
        assert_int_equal(r.df, 4);
        assert_close(r.p, 4 * exp(-3.0), 1e-15);
        assert_close(r.yates, 0, 0);
        assert_int_equal(r.yates_applied, 0);
        assert_int_equal(r.small_expected, 1);
    }
}

/* E = 5 exactly is not small; 4.9... is (R: any(E < 5)). */
static void
chisq_small_expected_boundary(void **state)
{
    (void)state;
    uint64_t at5[] = { 5, 5, 5, 5 };           /* E = 5 */
    uint64_t below[] = { 5, 5, 5, 4 };         /* E(2,2) = 9 * 9 / 19 = 4.26 */
    struct chisq_result r;

    assert_int_equal(chisq_test(at5, 2, 2, 1, NULL, &r), 0);
    assert_int_equal(r.small_expected, 0);
    assert_int_equal(chisq_test(below, 2, 2, 1, NULL, &r), 0);
    assert_int_equal(r.small_expected, 1);
    assert_close(r.min_expected, 81.0 / 19, 1e-15);
}

/* ---------- refusals and limits ---------- */

static void
chisq_refuses_bad_arguments(void **state)
{
    (void)state;
    uint64_t x[4] = { 1, 2, 3, 4 };
    double e[4] = { -7, -7, -7, -7 };
    struct chisq_result r;

    memset(&r, 0xff, sizeof r);
    assert_int_equal(chisq_test(NULL, 2, 2, 1, e, &r), CHISQ_EINVAL);
    assert_int_equal(r.df, 0);          /* zeroed on error */
    assert_int_equal(chisq_test(x, 2, 2, 1, e, NULL), CHISQ_EINVAL);
    assert_int_equal(chisq_test(x, 0, 0, 1, e, &r), CHISQ_EDIM);
    assert_int_equal(chisq_test(x, 1, 4, 1, e, &r), CHISQ_EDIM);
    assert_int_equal(chisq_test(x, 4, 1, 1, e, &r), CHISQ_EDIM);
    assert_int_equal(chisq_test(x, 1, 1, 1, e, &r), CHISQ_EDIM);
    uint64_t z[4] = { 0, 0, 0, 0 };
    assert_int_equal(chisq_test(z, 2, 2, 1, e, &r), CHISQ_EEMPTY);
    uint64_t zr[4] = { 3, 5, 0, 0 }, zc[4] = { 3, 0, 5, 0 };
    assert_int_equal(chisq_test(zr, 2, 2, 1, e, &r), CHISQ_EMARGIN);
    assert_int_equal(chisq_test(zc, 2, 2, 1, e, &r), CHISQ_EMARGIN);
    assert_int_equal(r.df, 0);
    assert_close(r.statistic, 0, 0);
    for (int k = 0; k < 4; k++)
        assert_close(e[k], -7, 0);        /* expected untouched on error */

    const int codes[] = { CHISQ_EINVAL, CHISQ_ERANGE, CHISQ_EDIM, CHISQ_EEMPTY, CHISQ_EMARGIN };
    for (size_t a = 0; a < sizeof codes / sizeof codes[0]; a++) {
        assert_string_not_equal(chisq_strerror(codes[a]), "unknown error");
        for (size_t b = 0; b < a; b++)
            assert_string_not_equal(chisq_strerror(codes[a]), chisq_strerror(codes[b]));
    }
    assert_string_equal(chisq_strerror(0), "unknown error");
}

/* CHISQ_MAX_DIM rows or columns pass, one more is refused. */
static void
chisq_dimension_limit(void **state)
{
    (void)state;
    size_t n = (CHISQ_MAX_DIM + 1) * (CHISQ_MAX_DIM + 1);
    uint64_t *x = malloc(n * sizeof *x);
    double *e = malloc(n * sizeof *e);
    struct chisq_result r;

    assert_non_null(x);
    assert_non_null(e);
    for (size_t k = 0; k < n; k++)
        x[k] = 1 + k % 7;
    assert_int_equal(chisq_test(x, CHISQ_MAX_DIM, CHISQ_MAX_DIM, 1, e, &r), 0);
    assert_int_equal(r.df, (CHISQ_MAX_DIM - 1) * (CHISQ_MAX_DIM - 1));
    assert_true(r.p >= 0 && r.p <= 1);
    assert_int_equal(chisq_test(x, CHISQ_MAX_DIM, 2, 1, e, &r), 0);
    assert_int_equal(chisq_test(x, 2, CHISQ_MAX_DIM, 1, e, &r), 0);
    assert_int_equal(chisq_test(x, CHISQ_MAX_DIM + 1, 2, 1, e, &r), CHISQ_ERANGE);
    assert_int_equal(chisq_test(x, 2, CHISQ_MAX_DIM + 1, 1, e, &r), CHISQ_ERANGE);
    assert_int_equal(chisq_test(x, CHISQ_MAX_DIM + 1, CHISQ_MAX_DIM + 1, 1, e, &r), CHISQ_ERANGE);
    assert_int_equal(chisq_test(x, CHISQ_MAX_DIM + 1, 1, 1, e, &r), CHISQ_ERANGE);
    free(x);
    free(e);
}

/* A total of CHISQ_MAX_TOTAL passes (its values against R are the golden case
   t22_max_total); one more, or a cell that would wrap uint64, is refused. */
static void
chisq_total_limit(void **state)
{
    (void)state;
    uint64_t at[] = { CHISQ_MAX_TOTAL - 3, 1, 1, 1 };
    uint64_t past[] = { CHISQ_MAX_TOTAL - 2, 1, 1, 1 };
    uint64_t cell[] = { CHISQ_MAX_TOTAL + 1, 1, 1, 1 };
    uint64_t wrap[] = { UINT64_MAX, UINT64_MAX, 1, 1 };
    struct chisq_result r;

    assert_int_equal(chisq_test(at, 2, 2, 1, NULL, &r), 0);
    assert_int_equal(chisq_test(past, 2, 2, 1, NULL, &r), CHISQ_ERANGE);
    assert_int_equal(chisq_test(cell, 2, 2, 1, NULL, &r), CHISQ_ERANGE);
    assert_int_equal(chisq_test(wrap, 2, 2, 1, NULL, &r), CHISQ_ERANGE);
}

static void
chisq_upper_special_values(void **state)
{
    (void)state;
    int maxdf = (CHISQ_MAX_DIM - 1) * (CHISQ_MAX_DIM - 1);

    assert_close(chisq_upper(0, 1), 1, 0);
    assert_close(chisq_upper(-1, 5), 1, 0);
    assert_close(chisq_upper(0, 0), 1, 0);
    assert_close(chisq_upper(1, 0), 0, 0);
    assert_close(chisq_upper(INFINITY, 3), 0, 0);
    assert_close(chisq_upper(2e5, maxdf), 0, 0);
    assert_true(isnan(chisq_upper(NAN, 1)));
    assert_true(isnan(chisq_upper(1, -1)));
    assert_true(isnan(chisq_upper(1, maxdf + 1)));
    assert_false(isnan(chisq_upper(1, maxdf)));
    /* df 2: e^(-x/2); df 1: erfc(sqrt(x/2)) */
    assert_close(chisq_upper(3, 2), exp(-1.5), 1e-15);
    assert_close(chisq_upper(3, 1), erfc(sqrt(1.5)), 1e-15);
}

/* ---------- golden files from R ---------- */

static size_t
parse_u64_list(char *s, uint64_t *v, size_t max)
{
    size_t n = 0;
    char *tok;
    while ((tok = strsep(&s, ",")) != NULL) {
        assert_true(n < max);
        char *end;
        double d = strtod(tok, &end);   /* R writes 9.0071992547409900e+15 style */
        assert_true(end != tok && *end == '\0');
        assert_true(d >= 0 && d <= 18446744073709549568.0);
        v[n++] = (uint64_t)d;
    }
    return n;
}

static size_t
parse_dbl_list(char *s, double *v, size_t max)
{
    size_t n = 0;
    char *tok;
    while ((tok = strsep(&s, ",")) != NULL) {
        assert_true(n < max);
        char *end;
        v[n++] = strtod(tok, &end);
        assert_true(end != tok && *end == '\0');
    }
    return n;
}

static double
num(const char *s)
{
    char *end;
    double d = strtod(s, &end);
    assert_true(end != s && *end == '\0');
    return d;
}

enum { F_CASE, F_STATUS, F_CORRECT, F_NROW, F_NCOL, F_COUNTS, F_STAT, F_DF, F_P, F_YATES,
       F_YATES_APPLIED, F_SMALL, F_EXPECTED, F_NOTE, F_N };

static void
chisq_matches_chisq_test_on_golden_cases(void **state)
{
    (void)state;
    FILE *f = fopen(GOLDEN "chisq_cases.tsv", "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    uint64_t *x = malloc(MAX_CELLS * sizeof *x);
    double *e = malloc(MAX_CELLS * sizeof *e), *re = malloc(MAX_CELLS * sizeof *re);
    double worst_stat = 0, worst_p = 0, worst_e = 0, worst_y = 0;
    int ncases = 0, nok = 0, nrefused = 0;

    assert_non_null(x);
    assert_non_null(e);
    assert_non_null(re);
    assert_true(getline(&line, &cap, f) > 0);  /* header */
    assert_int_equal(strncmp(line, "case\tstatus\t", 12), 0);
    while (getline(&line, &cap, f) > 0) {
        char *fld[F_N], *s = line;
        line[strcspn(line, "\n")] = '\0';
        for (int k = 0; k < F_N; k++) {
            fld[k] = strsep(&s, "\t");
            assert_non_null(fld[k]);
        }
        const char *name = fld[F_CASE], *status = fld[F_STATUS];
        int correct = (int)num(fld[F_CORRECT]);
        size_t nrow = (size_t)num(fld[F_NROW]), ncol = (size_t)num(fld[F_NCOL]);
        size_t ncell = parse_u64_list(fld[F_COUNTS], x, MAX_CELLS);
        struct chisq_result r;
        int rc = chisq_test(x, nrow, ncol, correct, e, &r);
        ncases++;

        assert_int_equal(ncell, nrow * ncol);
        if (strcmp(status, "ok") == 0) {
            if (rc != 0)
                fail_msg("%s: rc %d (%s)", name, rc, chisq_strerror(rc));
            double rs = num(fld[F_STAT]), rp = num(fld[F_P]), ry = num(fld[F_YATES]);
            assert_int_equal(r.df, (int)num(fld[F_DF]));
            assert_int_equal(r.yates_applied, (int)num(fld[F_YATES_APPLIED]));
            assert_int_equal(r.small_expected, (int)num(fld[F_SMALL]));
            assert_close_at(r.statistic, rs, TOL, &worst_stat, "statistic", name, 0);
            assert_close_at(r.p, rp, TOL, &worst_p, "p", name, 0);
            assert_close_at(r.yates, ry, TOL, &worst_y, "yates", name, 0);
            assert_int_equal(parse_dbl_list(fld[F_EXPECTED], re, MAX_CELLS), ncell);
            for (size_t k = 0; k < ncell; k++)
                assert_close_at(e[k], re[k], TOL, &worst_e, "expected", name, (double)k);
            nok++;
        } else {
            /* R: NaN for an empty margin, goodness of fit for one row or
               column, an error for 1 x 1 or an all-zero table */
            int want = strcmp(status, "nan") == 0 ? CHISQ_EMARGIN
                     : (strcmp(status, "gof") == 0 || nrow < 2 || ncol < 2) ? CHISQ_EDIM
                     : CHISQ_EEMPTY;
            assert_true(strcmp(status, "nan") == 0 || strcmp(status, "gof") == 0
                        || strcmp(status, "error") == 0);
            if (strcmp(status, "nan") == 0)
                assert_true(isnan(num(fld[F_STAT])) && isnan(num(fld[F_P])));
            if (rc != want)
                fail_msg("%s: rc %d, want %d", name, rc, want);
            nrefused++;
        }
    }
    printf("chisq: %d golden cases (%d tested, %d refused as documented); max rel err vs "
           "chisq.test: statistic %.2g, p %.2g, yates %.2g, expected %.2g\n",
           ncases, nok, nrefused, worst_stat, worst_p, worst_y, worst_e);
    assert_true(nok >= 30);
    assert_true(nrefused >= 8);
    free(line);
    free(x);
    free(e);
    free(re);
    fclose(f);
}

static void
chisq_upper_matches_pchisq(void **state)
{
    (void)state;
    FILE *f = fopen(GOLDEN "chisq_pchisq.tsv", "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    double worst = 0, wx = 0;
    int n = 0, wdf = 0;

    assert_true(getline(&line, &cap, f) > 0);
    assert_string_equal(line, "x\tdf\tp\n");
    while (getline(&line, &cap, f) > 0) {
        char *s = line, *fx, *fdf, *fp;
        line[strcspn(line, "\n")] = '\0';
        fx = strsep(&s, "\t");
        fdf = strsep(&s, "\t");
        fp = strsep(&s, "\t");
        assert_non_null(fp);
        double x = num(fx), p = num(fp);
        int df = (int)num(fdf);
        double got = chisq_upper(x, df), d = golden_relerr(got, p);
        if (d > TOL)
            fail_msg("pchisq(%.17g, %d, lower.tail = FALSE) = %.17g, got %.17g (rel %.3g)",
                     x, df, p, got, d);
        if (d > worst) {
            worst = d;
            wx = x;
            wdf = df;
        }
        n++;
    }
    printf("chisq_upper: %d points; max rel err vs pchisq %.2g (x %.6g, df %d)\n",
           n, worst, wx, wdf);
    assert_true(n > 500);
    free(line);
    fclose(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chisq_2x2_hand_values),
        cmocka_unit_test(chisq_2x2_independent_has_no_correction),
        cmocka_unit_test(chisq_2x2_yates_below_half),
        cmocka_unit_test(chisq_3x3_hand_values),
        cmocka_unit_test(chisq_small_expected_boundary),
        cmocka_unit_test(chisq_refuses_bad_arguments),
        cmocka_unit_test(chisq_dimension_limit),
        cmocka_unit_test(chisq_total_limit),
        cmocka_unit_test(chisq_upper_special_values),
        cmocka_unit_test(chisq_matches_chisq_test_on_golden_cases),
        cmocka_unit_test(chisq_upper_matches_pchisq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
