/*
 * test_cif - pooled cumulative incidence (analysis/cif.c) against R.
 *
 * The golden files in tests/data/golden/cif_*.tsv were written by
 *     Rscript scripts/golden-cif.R tests/data/golden
 * (R 4.2.2, survival 3.5-3, cmprsk 2.2-11): per-node records of mgus2, of
 * seeded random data and of edge cases, multi-state survfit() and
 * summary(fit, times =) per group on the pooled records, and
 * cmprsk::cuminc()'s Gray test.  This program builds each node's table per
 * group with cif_life_table, pools them with cif_pool, fits with cif_fit
 * and compares every column: counts and times exactly, doubles to a
 * relative CIF_TEST_REL (the 1e-12), NA as NaN.  Run from the
 * repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/golden.h"

#include "analysis/cif.h"

#define CIF_TEST_REL 1e-12
/*
 * Standard errors are compared relative to max(|se|, CIF_TEST_SE_FLOOR): where
 * the exact value is 0 (a curve at 1: every patient had the cause) R's
 * subject-by-subject sums leave rounding noise (7e-18 in edge_no_competing)
 * and cif.c's grouped sums another; the limits follow se / p.
 */
#define CIF_TEST_SE_FLOOR 1e-4
#define MAX_GROUPS 8

struct golden {
    struct tsv *cases, *input, *expected, *times, *gray;
};

static int
golden_setup(void **state)
{
    struct golden *g = calloc(1, sizeof *g);
    g->cases = tsv_load("cif_cases.tsv");
    g->input = tsv_load("cif_input.tsv");
    g->expected = tsv_load("cif_expected.tsv");
    g->times = tsv_load("cif_times.tsv");
    g->gray = tsv_load("cif_gray.tsv");
    *state = g;
    return 0;
}

static int
golden_teardown(void **state)
{
    struct golden *g = *state;
    tsv_free(g->cases);
    tsv_free(g->input);
    tsv_free(g->expected);
    tsv_free(g->times);
    tsv_free(g->gray);
    free(g);
    return 0;
}

/* The pooled table of one group of a case: each node's records through cif_life_table. */
static void
pooled_group(const struct tsv *in, const char *name, int64_t group, int32_t grid,
    struct cif_table *out)
{
    size_t nnodes = 0;
    for (size_t r = 0; r < in->nrows; r++)
        if (strcmp(tsv_str(in, r, "case"), name) == 0 && (size_t)tsv_int(in, r, "node") > nnodes)
            nnodes = (size_t)tsv_int(in, r, "node");
    struct cif_table *tabs = calloc(nnodes, sizeof *tabs);
    int32_t *t = malloc(in->nrows * sizeof *t);
    uint8_t *s = malloc(in->nrows);
    assert_true(tabs && t && s);
    for (size_t k = 0; k < nnodes; k++) {
        size_t m = 0;
        for (size_t r = 0; r < in->nrows; r++) {
            if (strcmp(tsv_str(in, r, "case"), name) != 0 || tsv_int(in, r, "group") != group ||
                (size_t)tsv_int(in, r, "node") != k + 1)
                continue;
            t[m] = (int32_t)tsv_int(in, r, "time");
            s[m++] = (uint8_t)tsv_int(in, r, "status");
        }
        assert_int_equal(cif_life_table(t, s, m, grid, &tabs[k]), 0);
        assert_int_equal(tabs[k].n, (int64_t)m);
    }
    assert_int_equal(cif_pool(tabs, nnodes, out), 0);
    for (size_t k = 0; k < nnodes; k++)
        cif_table_release(&tabs[k]);
    free(tabs);
    free(t);
    free(s);
}

static void
check_se(double got, double want, double *worst, const char *col, const char *ctx, double at)
{
    double d = golden_diff(got, want, CIF_TEST_SE_FLOOR);
    if (d > CIF_TEST_REL)
        assert_close_at(got, want, CIF_TEST_REL, worst, col, ctx, at);     /* fails, says why */
    if (worst != NULL && d > *worst)
        *worst = d;
}

static void
check_curve(const struct tsv *x, const char *name, int64_t group, const struct cif_curve *c,
    double *worst)
{
    size_t i = 0;
    char ctx[160];
    snprintf(ctx, sizeof ctx, "%s/group %lld", name, (long long)group);
    for (size_t r = 0; r < x->nrows; r++) {
        if (strcmp(tsv_str(x, r, "case"), name) != 0 || tsv_int(x, r, "group") != group)
            continue;
        assert_true(i < c->npts);
        const struct cif_point *p = &c->pts[i++];
        assert_int_equal(p->time, tsv_int(x, r, "time"));
        assert_int_equal(p->n_risk, tsv_int(x, r, "n.risk"));
        assert_int_equal(p->n_event[1], tsv_int(x, r, "n.event1"));
        assert_int_equal(p->n_event[2], tsv_int(x, r, "n.event2"));
        assert_int_equal(p->n_censor, tsv_int(x, r, "n.censor"));
        for (int s = 0; s < CIF_STATES; s++) {
            char col[16];
            snprintf(col, sizeof col, "p%d", s);
            assert_close_at(p->p[s], tsv_num(x, r, col), CIF_TEST_REL, worst, col, ctx, p->time);
            snprintf(col, sizeof col, "se%d", s);
            check_se(p->std_err[s], tsv_num(x, r, col), worst, col, ctx, p->time);
            snprintf(col, sizeof col, "lower%d", s);
            assert_close_at(p->lower[s], tsv_num(x, r, col), CIF_TEST_REL, worst, col, ctx,
                p->time);
            snprintf(col, sizeof col, "upper%d", s);
            assert_close_at(p->upper[s], tsv_num(x, r, col), CIF_TEST_REL, worst, col, ctx,
                p->time);
        }
    }
    assert_int_equal(i, c->npts);
}

static void
check_times(const struct tsv *x, const char *name, int64_t group, const struct cif_curve *c,
    double *worst)
{
    size_t rows[64], n = 0, kept = 0;
    int32_t rev[64];
    for (size_t r = 0; r < x->nrows; r++) {
        if (strcmp(tsv_str(x, r, "case"), name) != 0 || tsv_int(x, r, "group") != group)
            continue;
        assert_true(n < 64);
        rows[n++] = r;
        kept += (size_t)tsv_int(x, r, "kept");
    }
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {    /* reversed: cif_at_times sorts as summary does */
        double t = tsv_num(x, rows[n - 1 - i], "time");
        rev[i] = t > INT32_MAX ? INT32_MAX : (int32_t)t;
    }
    struct cif_point *pts;
    size_t npts;
    assert_int_equal(cif_at_times(c, rev, n, &pts, &npts), 0);
    assert_int_equal(npts, kept);
    char ctx[160];
    snprintf(ctx, sizeof ctx, "%s/group %lld times", name, (long long)group);
    for (size_t i = 0; i < npts; i++) {
        size_t r = rows[i];
        assert_int_equal(tsv_int(x, r, "kept"), 1);
        assert_int_equal(pts[i].time, tsv_int(x, r, "time"));
        assert_int_equal(pts[i].n_risk, tsv_int(x, r, "n.risk"));
        assert_int_equal(pts[i].n_event[1], tsv_int(x, r, "n.event1"));
        assert_int_equal(pts[i].n_event[2], tsv_int(x, r, "n.event2"));
        for (int s = 1; s < CIF_STATES; s++) {
            char col[16];
            snprintf(col, sizeof col, "p%d", s);
            assert_close_at(pts[i].p[s], tsv_num(x, r, col), CIF_TEST_REL, worst, col, ctx,
                pts[i].time);
            snprintf(col, sizeof col, "se%d", s);
            check_se(pts[i].std_err[s], tsv_num(x, r, col), worst, col, ctx, pts[i].time);
            snprintf(col, sizeof col, "lower%d", s);
            assert_close_at(pts[i].lower[s], tsv_num(x, r, col), CIF_TEST_REL, worst, col, ctx,
                pts[i].time);
            snprintf(col, sizeof col, "upper%d", s);
            assert_close_at(pts[i].upper[s], tsv_num(x, r, col), CIF_TEST_REL, worst, col, ctx,
                pts[i].time);
        }
    }
    free(pts);
}

static void
check_gray(const struct tsv *x, const char *name, const struct cif_table *groups, size_t ng,
    double *worst)
{
    size_t with = 0;
    for (size_t k = 0; k < ng; k++)
        with += groups[k].n > 0;
    for (int cause = 1; cause <= 2; cause++) {
        struct cif_gray t;
        int rc = cif_gray(groups, ng, cause, &t), hits = 0;
        for (size_t r = 0; r < x->nrows; r++) {
            if (strcmp(tsv_str(x, r, "case"), name) != 0 || tsv_int(x, r, "cause") != cause)
                continue;
            hits++;
            if (tsv_num(x, r, "stat") == -1) {
                assert_int_equal(rc, CIF_ESINGULAR);
                continue;
            }
            assert_int_equal(rc, 0);
            assert_int_equal(t.df, tsv_int(x, r, "df"));
            assert_close_at(t.chisq, tsv_num(x, r, "stat"), CIF_TEST_REL, worst, "gray stat",
                name, cause);
            assert_close_at(t.p, tsv_num(x, r, "pv"), CIF_TEST_REL, worst, "gray p", name, cause);
        }
        if (with < 2)
            assert_int_equal(rc, CIF_EGROUPS);
        else if (hits == 0)             /* no row: cuminc has no events of that cause */
            assert_int_equal(rc, CIF_ENOEVENTS);
    }
}

static void
test_golden(void **state)
{
    struct golden *g = *state;
    double worst = 0;
    size_t curves = 0;
    for (size_t c = 0; c < g->cases->nrows; c++) {
        const char *name = tsv_str(g->cases, c, "case");
        int32_t grid = (int32_t)tsv_int(g->cases, c, "grid");
        size_t ng = (size_t)tsv_int(g->cases, c, "ngroups");
        assert_true(ng <= MAX_GROUPS);
        struct cif_table groups[MAX_GROUPS];
        for (size_t k = 0; k < ng; k++) {
            pooled_group(g->input, name, (int64_t)k + 1, grid, &groups[k]);
            struct cif_curve cv;
            int rc = cif_fit(&groups[k], 0.95, &cv);
            if (groups[k].n == 0) {
                assert_int_equal(rc, CIF_EEMPTY);
                continue;
            }
            assert_int_equal(rc, 0);
            check_curve(g->expected, name, (int64_t)k + 1, &cv, &worst);
            check_times(g->times, name, (int64_t)k + 1, &cv, &worst);
            cif_curve_release(&cv);
            curves++;
        }
        check_gray(g->gray, name, groups, ng, &worst);
        for (size_t k = 0; k < ng; k++)
            cif_table_release(&groups[k]);
    }
    assert_true(curves >= 10);
    printf("cif: %zu curves, worst relative error %.3g\n", curves, worst);
}

/* ------------------------------------------------------------- by hand */

/*
 * No competing events: the incidence of the cause is 1 - KM of the event
 * (R's answer).  Four records: times 1 (cause), 2 (censored), 3 (cause),
 * 4 (cause): S = 3/4, 3/4, 3/8, 0, so p1 = 1/4, 1/4, 5/8, 1.
 */
static void
test_no_competing(void **state)
{
    (void)state;
    int32_t t[] = {4, 1, 3, 2};
    uint8_t s[] = {1, 1, 1, 0};
    struct cif_table tb;
    struct cif_curve c;
    assert_int_equal(cif_life_table(t, s, 4, 0, &tb), 0);
    assert_int_equal(cif_fit(&tb, 0.95, &c), 0);
    double want[] = {0.25, 0.25, 0.625, 1};
    for (size_t i = 0; i < 4; i++) {
        assert_close(c.pts[i].p[1], want[i], 1e-15);
        assert_close(c.pts[i].p[0], 1 - want[i], 1e-15);
        assert_true(c.pts[i].p[2] == 0 && isnan(c.pts[i].lower[2]));
    }
    cif_curve_release(&c);
    cif_table_release(&tb);
}

static void
test_life_table(void **state)
{
    (void)state;
    int32_t t[] = {0, 1, 30, 31, 31, 60};
    uint8_t s[] = {2, 1, 0, 1, 2, 0};
    struct cif_table tb;
    assert_int_equal(cif_life_table(t, s, 6, 30, &tb), 0);
    assert_int_equal(tb.nrows, 3);      /* 0, 30 and 60 on the grid */
    assert_int_equal(tb.rows[0].d[1], 1);
    assert_int_equal(tb.rows[1].d[0], 1);
    assert_int_equal(tb.rows[1].c, 1);
    assert_int_equal(tb.rows[2].d[0], 1);
    assert_int_equal(tb.rows[2].d[1], 1);
    assert_int_equal(tb.rows[2].c, 1);
    assert_int_equal(cif_table_check(&tb), 0);
    cif_table_release(&tb);
    uint8_t bad[] = {3};
    assert_int_equal(cif_life_table(t, bad, 1, 0, &tb), CIF_EINVAL);
    int32_t neg[] = {-1};
    assert_int_equal(cif_life_table(neg, s, 1, 0, &tb), CIF_EINVAL);
    int32_t big[] = {INT32_MAX - 1};
    assert_int_equal(cif_life_table(big, s, 1, 10, &tb), CIF_ERANGE);
    assert_int_equal(cif_life_table(NULL, NULL, 0, 30, &tb), 0);
    assert_int_equal(tb.n, 0);
    struct cif_curve c;
    assert_int_equal(cif_fit(&tb, 0.95, &c), CIF_EEMPTY);
    cif_table_release(&tb);
}

static void
test_invalid(void **state)
{
    (void)state;
    struct cif_row rows[2] = {{5, {1, 0}, 0}, {3, {0, 1}, 0}};
    struct cif_table t = {2, rows, 2}, out;
    assert_int_equal(cif_table_check(&t), CIF_EINVAL);     /* not ascending */
    rows[1].time = 7;
    assert_int_equal(cif_table_check(&t), 0);
    t.n = 3;
    assert_int_equal(cif_table_check(&t), CIF_EINVAL);     /* counts short of n */
    t.n = 2;
    rows[0].d[0] = 0;
    rows[0].c = 0;
    t.n = 1;
    assert_int_equal(cif_table_check(&t), CIF_EINVAL);     /* an empty row */
    rows[0] = (struct cif_row){5, {1, 0}, 0};
    t.n = 2;
    rows[1].c = -1;
    rows[1].d[1] = 2;
    assert_int_equal(cif_table_check(&t), CIF_EINVAL);     /* a negative count */
    rows[1] = (struct cif_row){7, {0, 1}, 0};
    t.n = CIF_MAX_N + 1;
    assert_int_equal(cif_table_check(&t), CIF_EINVAL);     /* CIF_MAX_N */
    t.n = 2;
    struct cif_curve c;
    assert_int_equal(cif_fit(&t, 1.0, &c), CIF_EINVAL);
    assert_int_equal(cif_fit(&t, 0.95, &c), 0);
    int32_t neg = -1, many[1] = {0};
    struct cif_point *p;
    size_t np;
    assert_int_equal(cif_at_times(&c, &neg, 1, &p, &np), CIF_EINVAL);
    assert_int_equal(cif_at_times(&c, many, CIF_MAX_TIMES + 1, &p, &np), CIF_EINVAL);
    int32_t past = 100;
    assert_int_equal(cif_at_times(&c, &past, 1, &p, &np), 0);      /* after the last time */
    assert_int_equal(np, 0);
    assert_null(p);
    cif_curve_release(&c);
    assert_int_equal(cif_pool(&t, CIF_MAX_TABLES + 1, &out), CIF_EINVAL);
    assert_int_equal(cif_pool(NULL, 0, &out), 0);
    assert_int_equal(out.n, 0);
    struct cif_gray gr;
    assert_int_equal(cif_gray(&t, 1, 1, &gr), CIF_EGROUPS);        /* one group: no test */
    assert_true(isnan(gr.chisq));
    assert_int_equal(cif_gray(&t, 1, 3, &gr), CIF_EINVAL);
    assert_int_equal(cif_gray(&t, CIF_MAX_GROUPS + 1, 1, &gr), CIF_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_golden, golden_setup, golden_teardown),
        cmocka_unit_test(test_no_competing),
        cmocka_unit_test(test_life_table),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
