/*
 * test_km - pooled Kaplan-Meier (analysis/km.c) against R survival 3.5-3.
 *
 * The golden files in tests/data/golden/ were written by
 *     Rscript scripts/golden-km.R tests/data/golden
 * (R 4.2.2, survival 3.5-3): per-node records of survival's data sets split
 * into nodes, and survfit()/summary() on the pooled records.  This program
 * builds each node's life table with km_life_table, merges them with
 * km_merge and compares every column with R: counts and times exactly,
 * doubles to a relative KM_TEST_REL (statistics.md §9 asks 1e-12; the issue
 * 1e-9), NA as NaN, medians exactly.  Run from the repository root.
 * The hand-made cases below are worked in their comments.
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
#include <jansson.h>

#include "tests/unit/golden.h"

#include "analysis/km.h"
#include "coord/kind.h"
#include "node/kind.h"
#include "node/snapshot.h"

#define KM_TEST_REL 1e-12

/* ------------------------------------------------------------- golden */

static const char *const conf_names[] = {"log", "log-log", "plain"};
static const char *const lower_cols[] = {"lower_log", "lower_loglog", "lower_plain"};
static const char *const upper_cols[] = {"upper_log", "upper_loglog", "upper_plain"};

struct golden {
    struct tsv *cases, *input, *expected, *median, *times;
};

/* Node tables of one case: records grouped by node, each through km_life_table. */
static size_t
node_tables(const struct tsv *in, const char *name, int32_t grid, struct km_table **out)
{
    size_t nnodes = 0;
    for (size_t r = 0; r < in->nrows; r++)
        if (strcmp(tsv_str(in, r, "case"), name) == 0 && (size_t)tsv_int(in, r, "node") > nnodes)
            nnodes = (size_t)tsv_int(in, r, "node");
    assert_true(nnodes > 0);
    struct km_table *tables = calloc(nnodes, sizeof *tables);
    int32_t *t = malloc(in->nrows * sizeof *t);
    uint8_t *e = malloc(in->nrows * sizeof *e);
    assert_true(tables && t && e);
    for (size_t k = 0; k < nnodes; k++) {
        size_t m = 0;
        for (size_t r = 0; r < in->nrows; r++) {
            if (strcmp(tsv_str(in, r, "case"), name) != 0 || (size_t)tsv_int(in, r, "node") != k + 1)
                continue;
            t[m] = (int32_t)tsv_int(in, r, "time");
            e[m++] = (uint8_t)tsv_int(in, r, "status");
        }
        assert_int_equal(km_life_table(t, e, m, grid, &tables[k]), 0);
        assert_int_equal(tables[k].n, (int64_t)m);
    }
    free(t);
    free(e);
    *out = tables;
    return nnodes;
}

static void
check_curve(const struct golden *g, const char *name, int ct, const struct km_curve *c, double *worst)
{
    const struct tsv *x = g->expected;
    size_t i = 0;
    int64_t events = 0;
    for (size_t r = 0; r < x->nrows; r++) {
        if (strcmp(tsv_str(x, r, "case"), name) != 0)
            continue;
        assert_true(i < c->npts);
        const struct km_point *p = &c->pts[i++];
        char ctx[160];
        snprintf(ctx, sizeof ctx, "%s/%s", name, conf_names[ct]);
        assert_int_equal(p->time, tsv_int(x, r, "time"));
        assert_int_equal(p->n_risk, tsv_int(x, r, "n.risk"));
        assert_int_equal(p->n_event, tsv_int(x, r, "n.event"));
        assert_int_equal(p->n_censor, tsv_int(x, r, "n.censor"));
        events += p->n_event;
        assert_close_at(p->surv, tsv_num(x, r, "surv"), KM_TEST_REL, worst, "surv", ctx, p->time);
        assert_close_at(p->std_err, tsv_num(x, r, "std.err"), KM_TEST_REL, worst, "std.err", ctx, p->time);
        assert_close_at(p->se_log, tsv_num(x, r, "se_log"), KM_TEST_REL, worst, "se_log", ctx, p->time);
        assert_close_at(p->cumhaz, tsv_num(x, r, "cumhaz"), KM_TEST_REL, worst, "cumhaz", ctx, p->time);
        assert_close_at(p->std_chaz, tsv_num(x, r, "std.chaz"), KM_TEST_REL, worst, "std.chaz", ctx, p->time);
        assert_close_at(p->lower, tsv_num(x, r, lower_cols[ct]), KM_TEST_REL, worst, "lower", ctx, p->time);
        assert_close_at(p->upper, tsv_num(x, r, upper_cols[ct]), KM_TEST_REL, worst, "upper", ctx, p->time);
    }
    assert_int_equal(i, c->npts);
    assert_int_equal(events, c->events);

    /* median and limits: times (or means of two), so exactly equal */
    const struct tsv *m = g->median;
    size_t hits = 0;
    for (size_t r = 0; r < m->nrows; r++) {
        if (strcmp(tsv_str(m, r, "case"), name) != 0 || strcmp(tsv_str(m, r, "conf_type"), conf_names[ct]) != 0)
            continue;
        hits++;
        assert_close_at(c->median, tsv_num(m, r, "median"), 0, NULL, "median", name, 0);
        assert_close_at(c->median_lower, tsv_num(m, r, "lcl"), 0, NULL, "median LCL", name, 0);
        assert_close_at(c->median_upper, tsv_num(m, r, "ucl"), 0, NULL, "median UCL", name, 0);
    }
    assert_int_equal(hits, 1);
}

static void
check_times(const struct golden *g, const char *name, int ct, const struct km_curve *c, double *worst)
{
    const struct tsv *x = g->times;
    for (int extend = 0; extend <= 1; extend++) {
        size_t rows[64], nrows = 0, nkept = 0;
        int32_t tau[64];
        for (size_t r = 0; r < x->nrows; r++) {
            if (strcmp(tsv_str(x, r, "case"), name) != 0 || strcmp(tsv_str(x, r, "conf_type"), conf_names[ct]) != 0
                || tsv_int(x, r, "extend") != extend)
                continue;
            assert_true(nrows < 64);
            rows[nrows] = r;
            tau[nrows++] = (int32_t)tsv_int(x, r, "tau");
            nkept += (size_t)tsv_int(x, r, "kept");
        }
        assert_true(nrows > 0);
        /* hand them over in reverse: km_at_times sorts as summary.survfit does */
        int32_t rev[64];
        for (size_t i = 0; i < nrows; i++)
            rev[i] = tau[nrows - 1 - i];
        struct km_point *pts;
        size_t npts;
        assert_int_equal(km_at_times(c, rev, nrows, extend, &pts, &npts), 0);
        assert_int_equal(npts, nkept);
        char ctx[160];
        snprintf(ctx, sizeof ctx, "%s/%s times extend=%d", name, conf_names[ct], extend);
        for (size_t i = 0; i < npts; i++) {
            size_t r = rows[i];
            assert_int_equal(tsv_int(x, r, "kept"), 1);
            assert_int_equal(pts[i].time, tau[i]);
            assert_int_equal(pts[i].n_risk, tsv_int(x, r, "n.risk"));
            assert_int_equal(pts[i].n_event, tsv_int(x, r, "n.event"));
            assert_int_equal(pts[i].n_censor, tsv_int(x, r, "n.censor"));
            assert_close_at(pts[i].surv, tsv_num(x, r, "surv"), KM_TEST_REL, worst, "surv", ctx, tau[i]);
            assert_close_at(pts[i].std_err, tsv_num(x, r, "std.err"), KM_TEST_REL, worst, "std.err", ctx, tau[i]);
            assert_close_at(pts[i].lower, tsv_num(x, r, "lower"), KM_TEST_REL, worst, "lower", ctx, tau[i]);
            assert_close_at(pts[i].upper, tsv_num(x, r, "upper"), KM_TEST_REL, worst, "upper", ctx, tau[i]);
        }
        free(pts);
    }
}

static void
km_equals_r_survfit_on_every_golden_case(void **state)
{
    (void)state;
    struct golden g = {
        tsv_load("km_cases.tsv"), tsv_load("km_input.tsv"), tsv_load("km_expected.tsv"),
        tsv_load("km_median.tsv"), tsv_load("km_times.tsv"),
    };
    double worst = 0;
    assert_true(g.cases->nrows >= 15);
    for (size_t r = 0; r < g.cases->nrows; r++) {
        const char *name = tsv_str(g.cases, r, "case");
        int32_t grid = (int32_t)tsv_int(g.cases, r, "grid");
        double level = tsv_num(g.cases, r, "conf_int");
        struct km_table *tables;
        size_t nnodes = node_tables(g.input, name, grid, &tables);
        for (int ct = 0; ct < 3; ct++) {
            struct km_curve c;
            assert_int_equal(km_merge(tables, nnodes, (enum km_conf_type)ct, level, &c), 0);
            check_curve(&g, name, ct, &c, &worst);
            check_times(&g, name, ct, &c, &worst);

            /* the merge is a sum of integers: node order cannot change a bit */
            struct km_table *rev = calloc(nnodes, sizeof *rev);
            assert_non_null(rev);
            for (size_t k = 0; k < nnodes; k++)
                rev[k] = tables[nnodes - 1 - k];
            struct km_curve c2;
            assert_int_equal(km_merge(rev, nnodes, (enum km_conf_type)ct, level, &c2), 0);
            assert_int_equal(c2.npts, c.npts);
            assert_memory_equal(c2.pts, c.pts, c.npts * sizeof *c.pts);
            km_curve_release(&c2);
            free(rev);
            km_curve_release(&c);
        }
        for (size_t k = 0; k < nnodes; k++)
            km_table_release(&tables[k]);
        free(tables);
    }
    print_message("km: %zu golden cases x 3 conf.types, max relative difference from R %.3g\n",
                  g.cases->nrows, worst);
    tsv_free(g.cases);
    tsv_free(g.input);
    tsv_free(g.expected);
    tsv_free(g.median);
    tsv_free(g.times);
}

/* ----------------------------------------------------- restricted mean */

/* The pooled curve (log limits) of one golden case. */
static void
golden_curve(const struct tsv *cases, const struct tsv *input, const char *name,
    struct km_curve *c)
{
    for (size_t r = 0; r < cases->nrows; r++) {
        if (strcmp(tsv_str(cases, r, "case"), name) != 0)
            continue;
        struct km_table *tables;
        size_t nnodes = node_tables(input, name, (int32_t)tsv_int(cases, r, "grid"), &tables);
        assert_int_equal(km_merge(tables, nnodes, KM_CONF_LOG, 0.95, c), 0);
        for (size_t k = 0; k < nnodes; k++)
            km_table_release(&tables[k]);
        free(tables);
        return;
    }
    fail_msg("no golden case '%s'", name);
}

/*
 * km_rmean against summary(fit, rmean = tau)$table (= print.survfit's) on
 * every golden case, at taus from the first time to past the last
 * follow-up; and km_rmean_diff against the same arithmetic in R on two
 * cases taken as independent groups (lung by sex; two all-censored groups,
 * where R's p is NaN).
 */
static void
rmean_equals_r_on_every_golden_case(void **state)
{
    (void)state;
    struct tsv *cases = tsv_load("km_cases.tsv"), *input = tsv_load("km_input.tsv");
    struct tsv *rm = tsv_load("km_rmean.tsv"), *rd = tsv_load("km_rmean_diff.tsv");
    double worst = 0;
    size_t checked = 0;
    for (size_t r = 0; r < cases->nrows; r++) {
        const char *name = tsv_str(cases, r, "case");
        struct km_curve c;
        golden_curve(cases, input, name, &c);
        for (size_t j = 0; j < rm->nrows; j++) {
            if (strcmp(tsv_str(rm, j, "case"), name) != 0)
                continue;
            double tau = tsv_num(rm, j, "tau");
            struct km_rmean m;
            assert_int_equal(km_rmean(&c, tau, &m), 0);
            assert_true(m.tau == tau);
            assert_close_at(m.rmean, tsv_num(rm, j, "rmean"), KM_TEST_REL, &worst, "rmean", name, tau);
            assert_close_at(m.se, tsv_num(rm, j, "se"), KM_TEST_REL, &worst, "se(rmean)", name, tau);
            checked++;
        }
        km_curve_release(&c);
    }
    assert_true(checked >= 6 * cases->nrows);
    for (size_t j = 0; j < rd->nrows; j++) {
        struct km_curve a, b;
        struct km_rmean ra, rb;
        struct km_rmean_diff d;
        double tau = tsv_num(rd, j, "tau");
        golden_curve(cases, input, tsv_str(rd, j, "case_a"), &a);
        golden_curve(cases, input, tsv_str(rd, j, "case_b"), &b);
        assert_int_equal(km_rmean(&a, tau, &ra), 0);
        assert_int_equal(km_rmean(&b, tau, &rb), 0);
        assert_int_equal(km_rmean_diff(&ra, &rb, 0.95, &d), 0);
        const char *ctx = tsv_str(rd, j, "case_b");
        assert_close_at(d.diff, tsv_num(rd, j, "diff"), KM_TEST_REL, &worst, "diff", ctx, tau);
        assert_close_at(d.se, tsv_num(rd, j, "se"), KM_TEST_REL, &worst, "se", ctx, tau);
        assert_close_at(d.lower, tsv_num(rd, j, "lower"), KM_TEST_REL, &worst, "lower", ctx, tau);
        assert_close_at(d.upper, tsv_num(rd, j, "upper"), KM_TEST_REL, &worst, "upper", ctx, tau);
        assert_close_at(d.p, tsv_num(rd, j, "p"), KM_TEST_REL, &worst, "p", ctx, tau);
        km_curve_release(&a);
        km_curve_release(&b);
    }
    print_message("rmean: %zu values and %zu differences, max relative difference from R %.3g\n",
        checked, rd->nrows, worst);
    tsv_free(cases);
    tsv_free(input);
    tsv_free(rm);
    tsv_free(rd);
}

/*
 * Records (time, event) (2,1) (4,0) (6,1) (10,0): points t=2 S=3/4,
 * t=4 S=3/4, t=6 S=3/8, t=10 S=3/8.  tau = 1, before every point: tau
 * itself, se 0.  tau <= 0, NaN or Inf is refused; differences need one tau
 * and a level in (0, 1); km_rmean_first is the earliest point of any curve.
 */
static void
rmean_limits(void **state)
{
    (void)state;
    int32_t t[] = {2, 4, 6, 10};
    uint8_t e[] = {1, 0, 1, 0};
    struct km_table tb;
    struct km_curve c, none = {0};
    struct km_rmean m, m2;
    struct km_rmean_diff d;
    assert_int_equal(km_life_table(t, e, 4, 0, &tb), 0);
    assert_int_equal(km_fit(&tb, KM_CONF_LOG, 0.95, &c), 0);
    assert_int_equal(km_rmean(&c, 1, &m), 0);
    assert_true(m.rmean == 1 && m.se == 0);
    /* 2 * 1 + (4 - 2) * 3/4 + (6 - 4) * 3/4 + (8 - 6) * 3/8 = 2 + 1.5 + 1.5 + 0.75 */
    assert_int_equal(km_rmean(&c, 8, &m), 0);
    assert_true(m.rmean == 5.75);
    assert_int_equal(km_rmean(&c, 0, &m2), KM_EINVAL);
    assert_int_equal(km_rmean(&c, -3, &m2), KM_EINVAL);
    assert_int_equal(km_rmean(&c, NAN, &m2), KM_EINVAL);
    assert_int_equal(km_rmean(&c, INFINITY, &m2), KM_EINVAL);
    assert_int_equal(km_rmean(&c, 9, &m2), 0);
    assert_int_equal(km_rmean_diff(&m, &m2, 0.95, &d), KM_EINVAL);     /* taus differ */
    assert_int_equal(km_rmean_diff(&m, &m, 1.0, &d), KM_EINVAL);
    assert_int_equal(km_rmean_diff(&m, &m, 0.95, &d), 0);
    assert_true(d.diff == 0 && d.lower == -d.upper);
    assert_close(d.se, sqrt(2) * m.se, 1e-15);
    const struct km_curve *both[] = {&none, &c};
    assert_true(km_rmean_first(both, 2) == 2);
    assert_true(isinf(km_rmean_first(both, 1)));
    km_curve_release(&c);
    km_table_release(&tb);
}

/* ----------------------------------------------------------- hand cases */

/* ceil to a multiple of the grid: 0 stays 0, 1..7 -> 7, 7 stays, 8 -> 14. */
static void
grid_rounds_up_and_stops_at_int32(void **state)
{
    (void)state;
    int32_t t;
    assert_int_equal(km_grid_ceil(0, 7, &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(km_grid_ceil(1, 7, &t), 0);
    assert_int_equal(t, 7);
    assert_int_equal(km_grid_ceil(7, 7, &t), 0);
    assert_int_equal(t, 7);
    assert_int_equal(km_grid_ceil(8, 7, &t), 0);
    assert_int_equal(t, 14);
    assert_int_equal(km_grid_ceil(123, 0, &t), 0);      /* exact times */
    assert_int_equal(t, 123);
    assert_int_equal(km_grid_ceil(-1, 7, &t), KM_EINVAL);
    assert_int_equal(km_grid_ceil(5, -7, &t), KM_EINVAL);
    /* KM_MAX_TIME boundary: on the grid stays, one grid step past it overflows */
    assert_int_equal(km_grid_ceil(KM_MAX_TIME, 1, &t), 0);
    assert_int_equal(t, KM_MAX_TIME);
    assert_int_equal(km_grid_ceil(KM_MAX_TIME - 1, 2, &t), 0);  /* 2147483646 is even */
    assert_int_equal(t, KM_MAX_TIME - 1);
    assert_int_equal(km_grid_ceil(KM_MAX_TIME, 2, &t), KM_ERANGE);
    int32_t time[] = {KM_MAX_TIME};
    uint8_t ev[] = {1};
    struct km_table tb;
    assert_int_equal(km_life_table(time, ev, 1, 2, &tb), KM_ERANGE);
    assert_null(tb.rows);
}

/*
 * Records (time, event): (5,0) (2,1) (5,1) (2,1) (0,0) (9,0) ->
 * rows t=0: d0 c1; t=2: d2 c0; t=5: d1 c1; t=9: d0 c1.  With grid 4:
 * 0 -> 0, 2 -> 4, 5 -> 8, 9 -> 12: t=0: 0/1, t=4: 2/0, t=8: 1/1, t=12: 0/1.
 */
static void
life_table_groups_sorts_and_bins(void **state)
{
    (void)state;
    int32_t t[] = {5, 2, 5, 2, 0, 9};
    uint8_t e[] = {0, 1, 1, 1, 0, 0};
    struct km_table tb;
    assert_int_equal(km_life_table(t, e, 6, 0, &tb), 0);
    assert_int_equal(tb.n, 6);
    assert_int_equal(tb.nrows, 4);
    const int64_t want[4][3] = {{0, 0, 1}, {2, 2, 0}, {5, 1, 1}, {9, 0, 1}};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(tb.rows[i].time, want[i][0]);
        assert_int_equal(tb.rows[i].d, want[i][1]);
        assert_int_equal(tb.rows[i].c, want[i][2]);
    }
    km_table_release(&tb);
    assert_int_equal(km_life_table(t, e, 6, 4, &tb), 0);
    const int64_t want4[4][3] = {{0, 0, 1}, {4, 2, 0}, {8, 1, 1}, {12, 0, 1}};
    assert_int_equal(tb.nrows, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(tb.rows[i].time, want4[i][0]);
        assert_int_equal(tb.rows[i].d, want4[i][1]);
        assert_int_equal(tb.rows[i].c, want4[i][2]);
    }
    km_table_release(&tb);
    km_table_release(NULL);                         /* no-op */
}

/* The life table by brute force: one pass over the records per distinct rounded time. */
static void
check_against_brute_force(const int32_t *t, const uint8_t *e, size_t n, int32_t grid)
{
    struct km_table tb;
    assert_int_equal(km_life_table(t, e, n, grid, &tb), 0);
    assert_int_equal(tb.n, (int64_t)n);
    int64_t prev = -1, total = 0;
    for (size_t r = 0; r < tb.nrows; r++) {
        int32_t at = tb.rows[r].time;
        assert_true(at > prev);
        prev = at;
        int64_t d = 0, c = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t up = grid == 0 || t[i] % grid == 0 ? t[i] : (t[i] / grid + 1) * grid;
            if (up == at) {
                d += e[i];
                c += !e[i];
            }
        }
        assert_int_equal(tb.rows[r].d, d);
        assert_int_equal(tb.rows[r].c, c);
        assert_true(d + c > 0);
        total += d + c;
    }
    assert_int_equal(total, (int64_t)n);            /* every record is in some row */
    km_table_release(&tb);
}

/*
 * km_life_table counts in a dense table while max time / grid + 1 <= 2n +
 * KM_DENSE_SLACK (grid 0 counts as 1) and sorts otherwise; both must give the brute-force table,
 * on each side of the boundary and on random data in either regime.
 */
static void
life_table_dense_and_sorted_agree_with_brute_force(void **state)
{
    (void)state;
    int32_t t[2] = {0, 0};
    uint8_t e[2] = {1, 0};
    t[1] = KM_DENSE_SLACK + 1;                      /* n = 1, tmax = 2n + slack - 1: dense */
    check_against_brute_force(t, e, 1, 0);
    check_against_brute_force(t + 1, e, 1, 0);
    check_against_brute_force(t + 1, e, 1, 30);
    t[0] = KM_DENSE_SLACK + 2;                      /* tmax = 2n + slack: sorted */
    check_against_brute_force(t, e, 1, 0);
    check_against_brute_force(t, e, 1, 30);
    check_against_brute_force(t, e, 2, 0);          /* n = 2: dense again */
    enum { N = 1000 };
    static int32_t rt[N];
    static uint8_t re[N];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < N; i++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        uint64_t y = x * 0x2545F4914F6CDD1Dull;
        rt[i] = (int32_t)(y % 20000);
        re[i] = (uint8_t)((y >> 40) & 1);
    }
    check_against_brute_force(rt, re, N, 0);        /* tmax ~ 20000 > 2n + slack: sorted */
    check_against_brute_force(rt, re, N, 30);
    for (size_t i = 0; i < N; i++)
        rt[i] %= 6000;                              /* tmax < 6096: dense */
    check_against_brute_force(rt, re, N, 0);
    check_against_brute_force(rt, re, N, 7);
    check_against_brute_force(rt, re, N, 3660);
}

static void
life_table_rejects_bad_records_and_accepts_empty(void **state)
{
    (void)state;
    struct km_table tb;
    int32_t t[] = {3, -1};
    uint8_t e[] = {1, 0};
    assert_int_equal(km_life_table(t, e, 2, 0, &tb), KM_EINVAL);     /* negative time */
    int32_t t2[] = {3, 4};
    uint8_t e2[] = {1, 2};
    assert_int_equal(km_life_table(t2, e2, 2, 0, &tb), KM_EINVAL);   /* status 2 */
    assert_int_equal(km_life_table(t2, e, 2, -30, &tb), KM_EINVAL);  /* negative grid */
    /* a node with nobody in the stratum answers with an empty table */
    assert_int_equal(km_life_table(NULL, NULL, 0, 30, &tb), 0);
    assert_int_equal(tb.n, 0);
    assert_int_equal(tb.nrows, 0);
    km_table_release(&tb);
}

/* Pooling nobody: R has no curve for an empty stratum, nor does km_fit. */
static void
empty_stratum_and_zero_n_are_rejected(void **state)
{
    (void)state;
    struct km_table empty[2] = {{0, NULL, 0}, {0, NULL, 0}};
    struct km_curve c;
    assert_int_equal(km_merge(empty, 2, KM_CONF_LOG, 0.95, &c), KM_EEMPTY);
    assert_null(c.pts);
    km_curve_release(&c);
    km_curve_release(NULL);
    assert_int_equal(km_merge(NULL, 0, KM_CONF_LOG, 0.95, &c), KM_EEMPTY);
    /* an empty node next to a non-empty one changes nothing */
    struct km_row r = {4, 1, 0};
    struct km_table two[2] = {{1, &r, 1}, {0, NULL, 0}};
    assert_int_equal(km_merge(two, 2, KM_CONF_LOG, 0.95, &c), 0);
    assert_int_equal(c.npts, 1);
    assert_int_equal(c.n, 1);
    km_curve_release(&c);
}

static void
pool_rejects_inconsistent_tables(void **state)
{
    (void)state;
    struct km_table out;
    struct km_row desc[2] = {{5, 1, 0}, {3, 1, 0}};
    struct km_table t1 = {2, desc, 2};
    assert_int_equal(km_pool(&t1, 1, &out), KM_EINVAL);           /* not ascending */
    struct km_row dup[2] = {{3, 1, 0}, {3, 1, 0}};
    struct km_table t2 = {2, dup, 2};
    assert_int_equal(km_pool(&t2, 1, &out), KM_EINVAL);           /* repeated time */
    struct km_row ok[2] = {{3, 1, 0}, {5, 0, 2}};
    struct km_table t3 = {4, ok, 2};
    assert_int_equal(km_pool(&t3, 1, &out), KM_EINVAL);           /* n != sum(d + c) */
    struct km_row neg[1] = {{3, -1, 2}};
    struct km_table t4 = {1, neg, 1};
    assert_int_equal(km_pool(&t4, 1, &out), KM_EINVAL);           /* negative count */
    struct km_row zero[1] = {{3, 0, 0}};
    struct km_table t5 = {0, zero, 1};
    assert_int_equal(km_pool(&t5, 1, &out), KM_EINVAL);           /* empty row */
    struct km_row negt[1] = {{-3, 1, 0}};
    struct km_table t6 = {1, negt, 1};
    assert_int_equal(km_pool(&t6, 1, &out), KM_EINVAL);           /* negative time */
    struct km_curve c;
    assert_int_equal(km_fit(&t3, KM_CONF_LOG, 0.95, &c), KM_EINVAL);
    /* KM_MAX_N records in one table is fine, one more is not */
    struct km_row big[1] = {{1, KM_MAX_N, 0}};
    struct km_table tb = {KM_MAX_N, big, 1};
    assert_int_equal(km_pool(&tb, 1, &out), 0);
    assert_int_equal(out.n, KM_MAX_N);
    km_table_release(&out);
    struct km_row big1[1] = {{1, KM_MAX_N + 1, 0}};
    struct km_table tb1 = {KM_MAX_N + 1, big1, 1};
    assert_int_equal(km_pool(&tb1, 1, &out), KM_EINVAL);
    struct km_table pair[2] = {tb, tb};
    assert_int_equal(km_pool(pair, 2, &out), KM_ERANGE);          /* pooled over KM_MAX_N */
}

static void
pool_limits_number_of_tables(void **state)
{
    (void)state;
    struct km_table *many = calloc(KM_MAX_TABLES + 1, sizeof *many);
    assert_non_null(many);
    struct km_row r = {10, 1, 0};
    for (size_t k = 0; k <= KM_MAX_TABLES; k++)
        many[k] = (struct km_table){1, &r, 1};
    struct km_table out;
    assert_int_equal(km_pool(many, KM_MAX_TABLES, &out), 0);
    assert_int_equal(out.n, KM_MAX_TABLES);
    assert_int_equal(out.nrows, 1);
    assert_int_equal(out.rows[0].d, KM_MAX_TABLES);
    km_table_release(&out);
    assert_int_equal(km_pool(many, KM_MAX_TABLES + 1, &out), KM_EINVAL);
    free(many);
}

/*
 * Node A (1,1) (2,0) (4,1); node B (2,1) (3,1) (4,1).  Pooled rows:
 *   t=1 n=6 d=1 c=0: S = 5/6,        G = 1/30
 *   t=2 n=5 d=1 c=1: S = 5/6*4/5=2/3, G = 1/30 + 1/20 = 1/12
 *   t=3 n=3 d=1:     S = 2/3*2/3=4/9, G = 1/12 + 1/6 = 1/4
 *   t=4 n=2 d=2:     S = 0, G = Inf: std.err = 0*Inf = NaN, every limit NaN (R NA/NaN)
 * std.err at t=3: 4/9 * 1/2 = 2/9.  Median: first S < 0.5 is at t=3.
 */
static void
s_reaching_zero_as_r(void **state)
{
    (void)state;
    struct km_row a[] = {{1, 1, 0}, {2, 0, 1}, {4, 1, 0}};
    struct km_row b[] = {{2, 1, 0}, {3, 1, 0}, {4, 1, 0}};
    struct km_table nodes[2] = {{3, a, 3}, {3, b, 3}};
    for (int ct = 0; ct < 3; ct++) {
        struct km_curve c;
        assert_int_equal(km_merge(nodes, 2, (enum km_conf_type)ct, 0.95, &c), 0);
        assert_int_equal(c.npts, 4);
        assert_int_equal(c.events, 5);
        assert_close(c.pts[0].surv, 5.0 / 6, 1e-15);
        assert_close(c.pts[1].surv, 2.0 / 3, 1e-15);
        assert_close(c.pts[2].surv, 4.0 / 9, 1e-15);
        assert_close(c.pts[1].se_log, sqrt(1.0 / 12), 1e-15);
        assert_close(c.pts[2].std_err, 2.0 / 9, 1e-15);
        assert_int_equal(c.pts[3].n_risk, 2);
        assert_true(c.pts[3].surv == 0);
        assert_true(isinf(c.pts[3].se_log));
        assert_true(isnan(c.pts[3].std_err));
        assert_true(isnan(c.pts[3].lower));
        assert_true(isnan(c.pts[3].upper));
        assert_true(c.median == 3);
        km_curve_release(&c);
    }
}

/* Everyone censored: S stays 1, std.err 0; log gives [1, 1], log-log NA (3.5-3); median NA. */
static void
all_censored_as_r(void **state)
{
    (void)state;
    int32_t t[] = {5, 3, 8};
    uint8_t e[] = {0, 0, 0};
    struct km_table tb;
    assert_int_equal(km_life_table(t, e, 3, 0, &tb), 0);
    for (int ct = 0; ct < 3; ct++) {
        struct km_curve c;
        assert_int_equal(km_fit(&tb, (enum km_conf_type)ct, 0.95, &c), 0);
        for (size_t i = 0; i < c.npts; i++) {
            assert_true(c.pts[i].surv == 1 && c.pts[i].std_err == 0);
            if (ct == KM_CONF_LOGLOG)
                assert_true(isnan(c.pts[i].lower) && isnan(c.pts[i].upper));
            else
                assert_true(c.pts[i].lower == 1 && c.pts[i].upper == 1);
        }
        assert_true(isnan(c.median) && isnan(c.median_lower) && isnan(c.median_upper));
        assert_int_equal(c.events, 0);
        km_curve_release(&c);
    }
    km_table_release(&tb);
}

/* One subject with an event at 7: S(7) = 0, median 7, limits NA. */
static void
single_subject_as_r(void **state)
{
    (void)state;
    int32_t t[] = {7};
    uint8_t e[] = {1};
    struct km_table tb;
    assert_int_equal(km_life_table(t, e, 1, 0, &tb), 0);
    struct km_curve c;
    assert_int_equal(km_fit(&tb, KM_CONF_LOG, 0.95, &c), 0);
    assert_int_equal(c.npts, 1);
    assert_true(c.pts[0].surv == 0 && c.median == 7);
    assert_true(isnan(c.median_lower) && isnan(c.median_upper));
    km_curve_release(&c);
    km_table_release(&tb);
}

/*
 * S = 3/4, 1/2, 1/4, 0 at 1..4: S hits 0.5 exactly at t=2, so the median is
 * the midpoint (2 + 3)/2 = 2.5 (print.survfit), as R.
 */
static void
median_midpoint_when_s_is_exactly_half(void **state)
{
    (void)state;
    int32_t t[] = {1, 2, 3, 4};
    uint8_t e[] = {1, 1, 1, 1};
    struct km_table tb;
    assert_int_equal(km_life_table(t, e, 4, 0, &tb), 0);
    struct km_curve c;
    assert_int_equal(km_fit(&tb, KM_CONF_LOG, 0.95, &c), 0);
    assert_true(c.median == 2.5);
    assert_true(km_median_rule(c.pts, c.npts, KM_COL_SURV) == 2.5);
    km_curve_release(&c);
    km_table_release(&tb);
}

static void
fit_rejects_bad_level_and_type(void **state)
{
    (void)state;
    struct km_row r = {4, 1, 1};
    struct km_table tb = {2, &r, 1};
    struct km_curve c;
    assert_int_equal(km_fit(&tb, KM_CONF_LOG, 0, &c), KM_EINVAL);
    assert_int_equal(km_fit(&tb, KM_CONF_LOG, 1, &c), KM_EINVAL);
    assert_int_equal(km_fit(&tb, KM_CONF_LOG, NAN, &c), KM_EINVAL);
    assert_int_equal(km_fit(&tb, (enum km_conf_type)7, 0.95, &c), KM_EINVAL);
    assert_int_equal(km_fit(&tb, KM_CONF_PLAIN, 0.5, &c), 0);
    km_curve_release(&c);
}

/* summary(times=): negative times and too many times are refused; none kept -> 0 points. */
static void
at_times_limits(void **state)
{
    (void)state;
    struct km_row r[] = {{4, 1, 0}, {6, 0, 1}};
    struct km_table tb = {2, r, 2};
    struct km_curve c;
    assert_int_equal(km_fit(&tb, KM_CONF_LOG, 0.95, &c), 0);
    struct km_point *p;
    size_t np;
    int32_t neg[] = {3, -1};
    assert_int_equal(km_at_times(&c, neg, 2, 0, &p, &np), KM_EINVAL);
    int32_t late[] = {7, 100};
    assert_int_equal(km_at_times(&c, late, 2, 0, &p, &np), 0);       /* R: "no points selected" */
    assert_int_equal(np, 0);
    assert_null(p);
    assert_int_equal(km_at_times(&c, late, 2, 1, &p, &np), 0);       /* extend: n.risk 0, last S */
    assert_int_equal(np, 2);
    assert_int_equal(p[0].n_risk, 0);
    assert_int_equal(p[0].n_event, 1);
    assert_int_equal(p[0].n_censor, 1);
    assert_true(p[0].surv == 0.5 && p[1].surv == 0.5 && p[1].n_event == 0);
    free(p);
    int32_t *many = calloc(KM_MAX_TIMES + 1, sizeof *many);
    assert_non_null(many);
    assert_int_equal(km_at_times(&c, many, KM_MAX_TIMES, 0, &p, &np), 0);
    assert_int_equal(np, KM_MAX_TIMES);
    assert_int_equal(p[KM_MAX_TIMES - 1].n_risk, 2);
    free(p);
    assert_int_equal(km_at_times(&c, many, KM_MAX_TIMES + 1, 0, &p, &np), KM_EINVAL);
    free(many);
    km_curve_release(&c);
}

/* qnorm values printed by R 4.2.2 with %.17g. */
static void
qnorm_equals_r(void **state)
{
    (void)state;
    assert_true(km_qnorm(0.975) == 1.9599639845400536);   /* statistics.md §2.4 */
    assert_close(km_qnorm(0.95), 1.6448536269514715, 1e-15);
    assert_close(km_qnorm(0.995), 2.5758293035488999, 1e-15);
    assert_true(km_qnorm(0.5) == 0);
    assert_close(km_qnorm(0.001), -3.0902323061678132, 1e-15);
    assert_close(km_qnorm(1e-20), -9.2623400897984052, 1e-15);
    assert_close(km_qnorm(0.9999), 3.7190164854557084, 1e-15);
    assert_true(isnan(km_qnorm(-0.1)));
}

/* ---------------------------------------- the node's two-way strata */

/* A snapshot of n rows held in memory: every code SNAP_MISSING, times i, no events (the
   node takes its general path, not snapshot_km_count). */
static struct snapshot *
mem_snapshot(size_t n)
{
    struct snapshot *snap = calloc(1, sizeof *snap);
    assert_non_null(snap);
    snap->n = n;
    for (int v = 0; v < VAR_COUNT; v++) {
        snap->code[v] = malloc((n ? n : 1) * sizeof *snap->code[v]);
        assert_non_null(snap->code[v]);
        for (size_t i = 0; i < n; i++)
            snap->code[v][i] = SNAP_MISSING;
    }
    snap->os_time = calloc(n ? n : 1, sizeof *snap->os_time);
    snap->efs_time = calloc(n ? n : 1, sizeof *snap->efs_time);
    snap->os_event = calloc(n ? n : 1, 1);
    snap->efs_event = calloc(n ? n : 1, 1);
    assert_true(snap->os_time && snap->efs_time && snap->os_event && snap->efs_event);
    for (size_t i = 0; i < n; i++)
        snap->os_time[i] = snap->efs_time[i] = (int32_t)i;
    snap->os_tmax = snap->efs_tmax = -1;          /* the general path: times arbitrary */
    return snap;
}

static void
mem_snapshot_free(struct snapshot *snap)
{
    for (int v = 0; v < VAR_COUNT; v++)
        free(snap->code[v]);
    free(snap->os_time);
    free(snap->efs_time);
    free(snap->os_event);
    free(snap->efs_event);
    free(snap);
}

/* km --by V1,V2 with exact times, as a node executes it (no release, no audit). */
static int
km_by_two(const struct snapshot *snap, const char *v1, const char *v2, struct node_answer *ans,
    char *err)
{
    Fedra__QuerySpec spec;
    fedra__query_spec__init(&spec);
    char *by[2] = {(char *)v1, (char *)v2};
    spec.kind = FEDRA__KIND__KIND_KM;
    spec.n_group_by = 2;
    spec.group_by = by;
    spec.exact_times = 1;
    struct node_kind_ctx ctx = {.snap = snap};
    memset(ans, 0, sizeof *ans);
    return node_kind_km.execute(&ctx, &spec, ans, err);
}

/*
 * stage x sex on 7 rows (stage, sex): (regional, F) (localized, M)
 * (localized, F) (regional, F) (unknown, U) (missing, F) (localized, F).
 * Both variables are closed, so every one of the 4 x 3 combinations is a
 * stratum, first variable slowest (R's strata() order), with its two levels;
 * the row missing stage is in none.  Two open variables with more than
 * SURV_MAX_CODES (2^20) combinations of codes are refused, naming them.
 */
static void
node_groups_by_two_variables(void **state)
{
    (void)state;
    struct snapshot *snap = mem_snapshot(7);
    const uint16_t stage[] = {1, 0, 0, 1, 3, SNAP_MISSING, 0}, sex[] = {0, 1, 0, 0, 2, 0, 0};
    memcpy(snap->code[VAR_STAGE], stage, sizeof stage);
    memcpy(snap->code[VAR_SEX], sex, sizeof sex);
    snap->ncodes[VAR_STAGE] = 4;
    snap->ncodes[VAR_SEX] = 3;
    struct node_answer ans;
    char err[FEDRA_ERRLEN];
    assert_int_equal(km_by_two(snap, "stage", "sex", &ans, err), 0);
    assert_string_equal(ans.late, "");
    Fedra__ResponseBody rb;
    fedra__response_body__init(&rb);
    node_kind_km.result(&ans, &rb);
    const Fedra__KmResult *km = rb.km;
    assert_non_null(km);
    assert_int_equal(km->n_strata, 12);
    const uint64_t want_n[12] = {2, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
    for (size_t k = 0; k < 12; k++) {
        const Fedra__LifeTable *lt = km->strata[k];
        assert_int_equal(lt->n_levels, 2);
        assert_string_equal(lt->levels[0], vars_get(VAR_STAGE)->levels[k / 3]);
        assert_string_equal(lt->levels[1], vars_get(VAR_SEX)->levels[k % 3]);
        assert_int_equal(lt->n, want_n[k]);
    }
    assert_int_equal(km->strata[0]->n_time, 2);         /* localized, F: times 2 and 6 */
    assert_int_equal(km->strata[0]->time[0], 2);
    assert_int_equal(km->strata[0]->time[1], 6);
    node_kind_km.free_answer(&ans);
    mem_snapshot_free(snap);

    size_t n = 1100;                    /* 1100 x 1000 codes > 2^20 */
    snap = mem_snapshot(n);
    for (size_t i = 0; i < n; i++) {
        snap->code[VAR_MORPHOLOGY][i] = (uint16_t)i;
        snap->code[VAR_TOPOGRAPHY][i] = (uint16_t)(i % 1000);
    }
    snap->ncodes[VAR_MORPHOLOGY] = 1100;
    snap->ncodes[VAR_TOPOGRAPHY] = 1000;
    assert_int_equal(km_by_two(snap, "morphology", "topography", &ans, err), -1);
    assert_non_null(strstr(err, "too many combinations of the levels of morphology and topography"));
    node_kind_km.free_answer(&ans);
    snap->ncodes[VAR_MORPHOLOGY] = 1048;    /* 1048 x 1000 <= 2^20: counted */
    for (size_t i = 0; i < n; i++)
        snap->code[VAR_MORPHOLOGY][i] = (uint16_t)(i % 1048);
    assert_int_equal(km_by_two(snap, "morphology", "topography", &ans, err), 0);
    node_kind_km.free_answer(&ans);
    mem_snapshot_free(snap);
}

/* --------------------------- the coordinator's two-way strata, against R */

#define BY2_NODES 3

/* One node's answer to km --by stage,surgery, exact times, from km_by2_input.tsv. */
struct by2_node {
    struct snapshot *snap;
    struct node_answer ans;
    Fedra__ResponseBody body;
};

/* Node k's records as a snapshot in memory, answered by the node's km row. */
static void
by2_node_answer(const struct tsv *in, int node, struct by2_node *a)
{
    size_t n = 0;
    for (size_t r = 0; r < in->nrows; r++)
        n += tsv_int(in, r, "node") == node;
    a->snap = mem_snapshot(n);
    a->snap->ncodes[VAR_STAGE] = vars_get(VAR_STAGE)->nlevels;
    a->snap->ncodes[VAR_SURGERY] = vars_get(VAR_SURGERY)->nlevels;
    for (size_t r = 0, i = 0; r < in->nrows; r++) {
        if (tsv_int(in, r, "node") != node)
            continue;
        a->snap->code[VAR_STAGE][i] = (uint16_t)vars_level_index(vars_get(VAR_STAGE),
            tsv_str(in, r, "stage"));
        a->snap->code[VAR_SURGERY][i] = (uint16_t)vars_level_index(vars_get(VAR_SURGERY),
            tsv_str(in, r, "surgery"));
        a->snap->os_time[i] = (int32_t)tsv_int(in, r, "time");
        a->snap->os_event[i++] = (uint8_t)tsv_int(in, r, "status");
    }
    char err[FEDRA_ERRLEN];
    assert_int_equal(km_by_two(a->snap, "stage", "surgery", &a->ans, err), 0);
    fedra__response_body__init(&a->body);
    node_kind_km.result(&a->ans, &a->body);
    a->body.data_rows = n;
    a->body.km->min_cell = 1;
}

/*
 * km --by stage,surgery --rmean 500 through the nodes' km row (each node's
 * records a snapshot in memory) and the coordinator's (the answers checked
 * as fedra checks them, then merged and printed as JSON),
 * against survfit(Surv ~ stage + surgery) and summary(fit, rmean = 500)
 * on the pooled records (scripts/golden-km.R, km_by2.tsv): the strata,
 * named and ordered as R names and orders them (the second variable padded
 * as strata() pads it), every row to 1e-12, and each rmean and its se.
 */
static void
coordinator_names_and_orders_two_way_strata_as_r(void **state)
{
    (void)state;
    struct tsv *in = tsv_load("km_by2_input.tsv"), *want = tsv_load("km_by2.tsv");
    struct by2_node *ans = calloc(BY2_NODES, sizeof *ans);
    struct fed_node nodes[BY2_NODES];
    struct node_reply rep[BY2_NODES];
    char names[BY2_NODES][8];
    assert_non_null(ans);
    memset(nodes, 0, sizeof nodes);
    memset(rep, 0, sizeof rep);
    for (int k = 0; k < BY2_NODES; k++) {
        by2_node_answer(in, k + 1, &ans[k]);
        snprintf(names[k], sizeof names[k], "N%d", k + 1);
        nodes[k].name = names[k];
        rep[k].status = NODE_OK;
        rep[k].body = &ans[k].body;
    }
    struct federation fed = {.nodes = nodes, .nnodes = BY2_NODES};
    Fedra__QuerySpec spec;
    fedra__query_spec__init(&spec);
    char *by[2] = {(char *)"stage", (char *)"surgery"};
    spec.kind = FEDRA__KIND__KIND_KM;
    spec.n_group_by = 2;
    spec.group_by = by;
    spec.exact_times = 1;
    report_check_replies(&fed, rep, &spec);
    for (int k = 0; k < BY2_NODES; k++)
        assert_int_equal(rep[k].status, NODE_OK);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    struct report r = {REPORT_JSON, out, stderr, &fed, rep, "", NULL};
    struct coord_show show = {0, KM_CONF_LOG, NULL, 0, NULL, 500, 0};
    char err[FEDRA_ERRLEN];
    assert_int_equal(kind_km.report(&r, &spec, &show, err), 0);
    fclose(out);
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    assert_non_null(root);
    json_t *curves = json_object_get(json_object_get(root, "result"), "curves");
    assert_true(json_is_array(curves));

    double worst = 0;
    size_t row = 0;
    for (size_t c = 0; c < json_array_size(curves); c++) {
        json_t *cv = json_array_get(curves, c), *rows = json_object_get(cv, "rows");
        const char *name = json_string_value(json_object_get(cv, "strata"));
        assert_true(row < want->nrows);
        assert_string_equal(name, tsv_str(want, row, "strata"));
        assert_close_at(json_number_value(json_object_get(cv, "rmean")), tsv_num(want, row, "rmean"),
            KM_TEST_REL, &worst, "rmean", name, 500);
        assert_close_at(json_number_value(json_object_get(cv, "rmean_se")),
            tsv_num(want, row, "se_rmean"), KM_TEST_REL, &worst, "se(rmean)", name, 500);
        for (size_t j = 0; j < json_array_size(rows); j++, row++) {
            json_t *p = json_array_get(rows, j);
            assert_true(row < want->nrows);
            assert_string_equal(name, tsv_str(want, row, "strata"));
            double at = tsv_num(want, row, "time");
            assert_int_equal(json_integer_value(json_object_get(p, "time")), tsv_int(want, row, "time"));
            assert_int_equal(json_integer_value(json_object_get(p, "n.risk")), tsv_int(want, row, "n.risk"));
            assert_int_equal(json_integer_value(json_object_get(p, "n.event")), tsv_int(want, row, "n.event"));
            assert_int_equal(json_integer_value(json_object_get(p, "n.censor")), tsv_int(want, row, "n.censor"));
            static const char *const col[] = {"surv", "std.err", "lower", "upper"};
            for (size_t q = 0; q < 4; q++) {
                json_t *v = json_object_get(p, col[q]);
                assert_close_at(json_is_null(v) ? NAN : json_number_value(v), tsv_num(want, row, col[q]),
                    KM_TEST_REL, &worst, col[q], name, at);
            }
        }
    }
    assert_int_equal(row, want->nrows);
    print_message("km --by stage,surgery: %zu curves, %zu rows, max relative difference from R %.3g\n",
        json_array_size(curves), row, worst);
    json_decref(root);
    free(text);
    for (int k = 0; k < BY2_NODES; k++) {
        node_kind_km.free_answer(&ans[k].ans);
        mem_snapshot_free(ans[k].snap);
    }
    free(ans);
    tsv_free(in);
    tsv_free(want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grid_rounds_up_and_stops_at_int32),
        cmocka_unit_test(life_table_groups_sorts_and_bins),
        cmocka_unit_test(life_table_rejects_bad_records_and_accepts_empty),
        cmocka_unit_test(empty_stratum_and_zero_n_are_rejected),
        cmocka_unit_test(pool_rejects_inconsistent_tables),
        cmocka_unit_test(pool_limits_number_of_tables),
        cmocka_unit_test(s_reaching_zero_as_r),
        cmocka_unit_test(all_censored_as_r),
        cmocka_unit_test(single_subject_as_r),
        cmocka_unit_test(median_midpoint_when_s_is_exactly_half),
        cmocka_unit_test(fit_rejects_bad_level_and_type),
        cmocka_unit_test(at_times_limits),
        cmocka_unit_test(life_table_dense_and_sorted_agree_with_brute_force),
        cmocka_unit_test(qnorm_equals_r),
        cmocka_unit_test(km_equals_r_survfit_on_every_golden_case),
        cmocka_unit_test(rmean_limits),
        cmocka_unit_test(node_groups_by_two_variables),
        cmocka_unit_test(coordinator_names_and_orders_two_way_strata_as_r),
        cmocka_unit_test(rmean_equals_r_on_every_golden_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
