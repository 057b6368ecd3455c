/*
 * test_logrank - pooled and node-stratified log-rank (analysis/logrank.c)
 * against R survival 3.5-3.
 *
 * The golden files in tests/data/golden/lr_*.tsv were written by
 *     Rscript scripts/golden-km.R tests/data/golden
 * (R 4.2.2, survival 3.5-3): per-node records (time, status, group) and, for
 * survdiff(Surv ~ g) ("pooled") and survdiff(Surv ~ g + strata(node))
 * ("stratified"), chisq, df, p, per-group n, observed, expected and var.
 * Pooled: every node's per-group life tables (km_life_table) go through
 * logrank_pooled.  Stratified: every node runs logrank_node_oev on its own
 * records and the sums go through logrank_test.  Counts and df exactly,
 * doubles to a relative LR_TEST_REL.  Run from the repository root.
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

#include "analysis/km.h"
#include "analysis/logrank.h"

#define LR_TEST_REL 1e-12

/* ------------------------------------------------------------- golden */

struct lr_golden {
    struct tsv *cases, *input, *expected, *groups, *var;
};

static void
check_oev(const struct lr_golden *g, const char *name, const char *mode, const struct logrank_oev *x,
          double *worst)
{
    char ctx[160];
    snprintf(ctx, sizeof ctx, "%s/%s", name, mode);
    size_t G = x->ngroups, hits = 0;
    for (size_t r = 0; r < g->groups->nrows; r++) {
        if (strcmp(tsv_str(g->groups, r, "case"), name) != 0 || strcmp(tsv_str(g->groups, r, "mode"), mode) != 0)
            continue;
        size_t k = (size_t)tsv_int(g->groups, r, "group") - 1;
        assert_true(k < G);
        hits++;
        assert_int_equal(x->n[k], tsv_int(g->groups, r, "n"));
        assert_true(x->o[k] == tsv_num(g->groups, r, "observed"));
        assert_close_at(x->e[k], tsv_num(g->groups, r, "expected"), LR_TEST_REL, worst, "expected", ctx, (double)k + 1);
    }
    assert_int_equal(hits, G);
    hits = 0;
    for (size_t r = 0; r < g->var->nrows; r++) {
        if (strcmp(tsv_str(g->var, r, "case"), name) != 0 || strcmp(tsv_str(g->var, r, "mode"), mode) != 0)
            continue;
        size_t i = (size_t)tsv_int(g->var, r, "i") - 1, j = (size_t)tsv_int(g->var, r, "j") - 1;
        assert_true(i < G && j < G);
        hits++;
        assert_close_at(x->v[i * G + j], tsv_num(g->var, r, "var"), LR_TEST_REL, worst, "var", ctx,
                        (double)(i * G + j));
    }
    assert_int_equal(hits, G * G);

    struct logrank_result res;
    assert_int_equal(logrank_test(x, &res), 0);
    hits = 0;
    for (size_t r = 0; r < g->expected->nrows; r++) {
        if (strcmp(tsv_str(g->expected, r, "case"), name) != 0 || strcmp(tsv_str(g->expected, r, "mode"), mode) != 0)
            continue;
        hits++;
        assert_int_equal(res.df, tsv_int(g->expected, r, "df"));
        assert_close_at(res.chisq, tsv_num(g->expected, r, "chisq"), LR_TEST_REL, worst, "chisq", ctx, 0);
        assert_close_at(res.p, tsv_num(g->expected, r, "p"), LR_TEST_REL, worst, "p", ctx, 0);
    }
    assert_int_equal(hits, 1);
}

static void
logrank_equals_r_survdiff_on_every_golden_case(void **state)
{
    (void)state;
    struct lr_golden g = {
        tsv_load("lr_cases.tsv"), tsv_load("lr_input.tsv"), tsv_load("lr_expected.tsv"),
        tsv_load("lr_groups.tsv"), tsv_load("lr_var.tsv"),
    };
    double worst = 0;
    const struct tsv *in = g.input;
    int32_t *t = malloc(in->nrows * sizeof *t);
    uint8_t *e = malloc(in->nrows * sizeof *e);
    uint32_t *grp = malloc(in->nrows * sizeof *grp);
    assert_true(t && e && grp);
    assert_true(g.cases->nrows >= 10);
    for (size_t c = 0; c < g.cases->nrows; c++) {
        const char *name = tsv_str(g.cases, c, "case");
        size_t G = (size_t)tsv_int(g.cases, c, "ngroups");
        int32_t grid = (int32_t)tsv_int(g.cases, c, "grid");
        size_t K = 0;
        for (size_t r = 0; r < in->nrows; r++)
            if (strcmp(tsv_str(in, r, "case"), name) == 0 && (size_t)tsv_int(in, r, "node") > K)
                K = (size_t)tsv_int(in, r, "node");
        assert_true(K > 0);

        struct km_table *tables = calloc(K * G, sizeof *tables);
        assert_non_null(tables);
        struct logrank_oev sum;
        assert_int_equal(logrank_oev_init(&sum, G), 0);
        for (size_t k = 0; k < K; k++) {
            size_t m = 0;
            for (size_t r = 0; r < in->nrows; r++) {
                if (strcmp(tsv_str(in, r, "case"), name) != 0 || (size_t)tsv_int(in, r, "node") != k + 1)
                    continue;
                t[m] = (int32_t)tsv_int(in, r, "time");
                e[m] = (uint8_t)tsv_int(in, r, "status");
                grp[m++] = (uint32_t)(tsv_int(in, r, "group") - 1);
            }
            /* pooled: the node's per-group life tables */
            for (size_t q = 0; q < G; q++) {
                int32_t *tq = malloc((m + 1) * sizeof *tq);
                uint8_t *eq = malloc(m + 1);
                assert_true(tq && eq);
                size_t mq = 0;
                for (size_t i = 0; i < m; i++)
                    if (grp[i] == q) {
                        tq[mq] = t[i];
                        eq[mq++] = e[i];
                    }
                assert_int_equal(km_life_table(tq, eq, mq, grid, &tables[k * G + q]), 0);
                free(tq);
                free(eq);
            }
            /* stratified: the node's own O, E, V */
            struct logrank_oev node;
            assert_int_equal(logrank_node_oev(t, e, grp, m, G, grid, &node), 0);
            assert_int_equal(logrank_oev_add(&sum, &node), 0);
            logrank_oev_release(&node);
        }
        struct logrank_oev pooled;
        assert_int_equal(logrank_pooled(tables, K, G, &pooled), 0);
        check_oev(&g, name, "pooled", &pooled, &worst);
        check_oev(&g, name, "stratified", &sum, &worst);
        logrank_oev_release(&pooled);
        logrank_oev_release(&sum);
        for (size_t i = 0; i < K * G; i++)
            km_table_release(&tables[i]);
        free(tables);
    }
    print_message("logrank: %zu golden cases, pooled and stratified, max relative difference from R %.3g\n",
                  g.cases->nrows, worst);
    free(t);
    free(e);
    free(grp);
    tsv_free(g.cases);
    tsv_free(g.input);
    tsv_free(g.expected);
    tsv_free(g.groups);
    tsv_free(g.var);
}

/* ----------------------------------------------------------- hand cases */

/*
 * Group A (0): (1, event) (3, event); group B (1): (2, event) (4, censored).
 *   t=1: n=4 (A2 B2) d=1: E_A += 2/4;  V_AA += 1*2*3/(4*3) * (1 - 2/4) = 1/4
 *   t=2: n=3 (A1 B2) d=1: E_A += 1/3;  V_AA += 1*1*2/(3*2) * (1 - 1/3) = 2/9
 *   t=3: n=2 (A1 B1) d=1: E_A += 1/2;  V_AA += 1*1*1/(2*1) * (1 - 1/2) = 1/4
 * O_A = 2, E_A = 4/3, O_B = 1, E_B = 5/3, V_AA = 13/18 = -V_AB;
 * chisq = (O_B - E_B)^2 / V_BB = (4/9) / (13/18) = 8/13 on 1 df (R 0.61538461538461509).
 */
static void
hand_two_groups(void **state)
{
    (void)state;
    int32_t t[] = {1, 3, 2, 4};
    uint8_t e[] = {1, 1, 1, 0};
    uint32_t g[] = {0, 0, 1, 1};
    struct logrank_oev x;
    assert_int_equal(logrank_node_oev(t, e, g, 4, 2, 0, &x), 0);
    assert_true(x.o[0] == 2 && x.o[1] == 1);
    assert_int_equal(x.n[0], 2);
    assert_close(x.e[0], 4.0 / 3, 1e-15);
    assert_close(x.e[1], 5.0 / 3, 1e-15);
    assert_close(x.v[0], 13.0 / 18, 1e-15);
    assert_close(x.v[1], -13.0 / 18, 1e-15);
    assert_close(x.v[3], 13.0 / 18, 1e-15);
    struct logrank_result r;
    assert_int_equal(logrank_test(&x, &r), 0);
    assert_close(r.chisq, 8.0 / 13, 1e-14);
    assert_close(r.chisq, 0.61538461538461509, 1e-15);
    assert_int_equal(r.df, 1);
    logrank_oev_release(&x);
    logrank_oev_release(NULL);
}

/*
 * Two subjects, one per group, both die at t=5: n = d = 2, so V = 0 while
 * E = (1, 1).  R: solve() stops, "Lapack routine dgesv: system is exactly
 * singular: U[1,1] = 0".
 */
static void
singular_variance_refused_as_r(void **state)
{
    (void)state;
    int32_t t[] = {5, 5};
    uint8_t e[] = {1, 1};
    uint32_t g[] = {0, 1};
    struct logrank_oev x;
    assert_int_equal(logrank_node_oev(t, e, g, 2, 2, 0, &x), 0);
    assert_true(x.e[0] == 1 && x.e[1] == 1 && x.v[3] == 0);
    struct logrank_result r;
    assert_int_equal(logrank_test(&x, &r), LOGRANK_ESINGULAR);
    logrank_oev_release(&x);
}

/* No events at all: no group has E > 0, so chisq 0 on df 0, p 1. */
static void
no_events_gives_zero(void **state)
{
    (void)state;
    int32_t t[] = {5, 6, 7};
    uint8_t e[] = {0, 0, 0};
    uint32_t g[] = {0, 1, 2};
    struct logrank_oev x;
    assert_int_equal(logrank_node_oev(t, e, g, 3, 3, 0, &x), 0);
    struct logrank_result r;
    assert_int_equal(logrank_test(&x, &r), 0);
    assert_true(r.chisq == 0 && r.df == 0 && r.p == 1);
    logrank_oev_release(&x);
}

static void
limits_and_bad_input(void **state)
{
    (void)state;
    struct logrank_oev x, y;
    assert_int_equal(logrank_oev_init(&x, 0), LOGRANK_EINVAL);
    assert_int_equal(logrank_oev_init(&x, LOGRANK_MAX_GROUPS + 1), LOGRANK_EINVAL);
    assert_int_equal(logrank_oev_init(&x, LOGRANK_MAX_GROUPS), 0);
    assert_int_equal(logrank_oev_init(&y, 2), 0);
    assert_int_equal(logrank_oev_add(&x, &y), LOGRANK_EINVAL);     /* G differs */
    logrank_oev_release(&x);
    logrank_oev_release(&y);

    int32_t t[] = {1, 2};
    uint8_t e[] = {1, 0};
    uint32_t g[] = {0, 2};
    assert_int_equal(logrank_node_oev(t, e, g, 2, 2, 0, &x), LOGRANK_EINVAL);   /* group 2 of 2 */
    int32_t tn[] = {1, -2};
    uint32_t g2[] = {0, 1};
    assert_int_equal(logrank_node_oev(tn, e, g2, 2, 2, 0, &x), LOGRANK_EINVAL); /* negative time */
    int32_t tbig[] = {1, KM_MAX_TIME};
    assert_int_equal(logrank_node_oev(tbig, e, g2, 2, 2, 30, &x), LOGRANK_ERANGE);
    /* LOGRANK_MAX_GROUPS groups, all of them with records */
    int32_t tm[LOGRANK_MAX_GROUPS];
    uint8_t em[LOGRANK_MAX_GROUPS];
    uint32_t gm[LOGRANK_MAX_GROUPS];
    for (uint32_t i = 0; i < LOGRANK_MAX_GROUPS; i++) {
        tm[i] = (int32_t)(i + 1);
        em[i] = 1;
        gm[i] = i;
    }
    assert_int_equal(logrank_node_oev(tm, em, gm, LOGRANK_MAX_GROUPS, LOGRANK_MAX_GROUPS, 0, &x), 0);
    struct logrank_result r;
    /* R: survdiff(Surv(1:64, rep(1, 64)) ~ factor(1:64))$chisq */
    assert_int_equal(logrank_test(&x, &r), 0);
    assert_int_equal(r.df, LOGRANK_MAX_GROUPS - 1);
    assert_close(r.chisq, 262.82398847134476, LR_TEST_REL);
    logrank_oev_release(&x);
    assert_int_equal(logrank_node_oev(tm, em, gm, LOGRANK_MAX_GROUPS, LOGRANK_MAX_GROUPS + 1, 0, &x),
                     LOGRANK_EINVAL);
    /* inconsistent table refused by the pooled path */
    struct km_row bad = {3, 2, 0};
    struct km_table tb[2] = {{1, &bad, 1}, {0, NULL, 0}};
    assert_int_equal(logrank_pooled(tb, 1, 2, &x), LOGRANK_EINVAL);
}

/* One node: its stratified O, E, V are the pooled ones, bit for bit. */
static void
one_node_stratified_equals_pooled(void **state)
{
    (void)state;
    int32_t t[] = {3, 5, 5, 8, 2, 9, 5, 1, 12, 7};
    uint8_t e[] = {1, 0, 1, 1, 1, 0, 1, 0, 1, 1};
    uint32_t g[] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 2};
    struct logrank_oev a, b;
    assert_int_equal(logrank_node_oev(t, e, g, 10, 3, 0, &a), 0);
    struct km_table tabs[3];
    for (uint32_t q = 0; q < 3; q++) {
        int32_t tq[10];
        uint8_t eq[10];
        size_t m = 0;
        for (size_t i = 0; i < 10; i++)
            if (g[i] == q) {
                tq[m] = t[i];
                eq[m++] = e[i];
            }
        assert_int_equal(km_life_table(tq, eq, m, 0, &tabs[q]), 0);
    }
    assert_int_equal(logrank_pooled(tabs, 1, 3, &b), 0);
    assert_memory_equal(a.e, b.e, 3 * sizeof *a.e);
    assert_memory_equal(a.v, b.v, 9 * sizeof *a.v);
    assert_memory_equal(a.o, b.o, 3 * sizeof *a.o);
    for (int q = 0; q < 3; q++)
        km_table_release(&tabs[q]);
    logrank_oev_release(&a);
    logrank_oev_release(&b);
}

/* pchisq(x, df, lower.tail = FALSE) printed by R 4.2.2 with %.17g. */
static void
chisq_upper_tail_equals_r(void **state)
{
    (void)state;
    static const double x[5] = {0.5, 3.84, 10, 121.2, 467.3};
    static const int df[7] = {1, 2, 3, 4, 5, 8, 11};
    static const double want[7][5] = {
        {0.47950012218695348, 0.050043521248705224, 0.0015654022580025519, 3.4548637903834427e-28, 1.2396869367970489e-103},
        {0.77880078307140488, 0.14660696213035015, 0.006737946999085467, 4.8056749981504218e-27, 3.3658464789756205e-102},
        {0.91889141165467592, 0.27926761711861031, 0.018566135463043233, 4.2558442669098635e-26, 5.8177982958461641e-101},
        {0.97350097883925613, 0.42809232942062247, 0.040427681994512805, 2.9602957988606605e-25, 7.8979587629162957e-100},
        {0.9921232932326296, 0.57267445983208876, 0.075235246146512197, 1.7479618767875344e-24, 9.1010582716026606e-99},
        {0.99986663034948597, 0.8712628916824271, 0.26502591529736175, 1.8736661712368753e-22, 7.2481714526453227e-96},
        {0.99999862652930627, 0.97436566306308692, 0.53038715100104061, 1.03976744619142e-20, 2.9867068960821141e-93},
    };
    double worst = 0;
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 5; j++)
            assert_close_at(logrank_chisq_upper(x[j], df[i]), want[i][j], LR_TEST_REL, &worst, "p", "pchisq", x[j]);
    print_message("chisq upper tail: max relative difference from pchisq %.3g\n", worst);
    assert_true(logrank_chisq_upper(0, 0) == 1);       /* pchisq(0, 0, lower.tail = FALSE) */
    assert_true(logrank_chisq_upper(0, 3) == 1);
    assert_true(isnan(logrank_chisq_upper(1, -1)));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_two_groups),
        cmocka_unit_test(singular_variance_refused_as_r),
        cmocka_unit_test(no_events_gives_zero),
        cmocka_unit_test(limits_and_bad_input),
        cmocka_unit_test(one_node_stratified_equals_pooled),
        cmocka_unit_test(chisq_upper_tail_equals_r),
        cmocka_unit_test(logrank_equals_r_survdiff_on_every_golden_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
