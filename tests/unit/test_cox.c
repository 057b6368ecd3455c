/*
 * test_cox - the node-stratified Cox model against hand-computed values and
 * against coxph (survival 3.5-3) on the golden files written by
 * scripts/golden-cox.R (tests/data/golden/cox_*.tsv; tests run from the
 * repository root).  Coefficients and standard errors must agree to 1e-9
 * relative, iteration counts, warnings and flagged variables exactly.
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

#include "analysis/cox.h"
#include "tests/unit/golden.h"

#define GOLDEN "tests/data/golden/"
#define TOL_COEF 1e-9           /* coef, se, z: relative */
#define TOL_COEF_INF 1e-7       /* the same where R flags an infinite coefficient
                                   (se ~ 1e3: the last digits are rounding) */
#define TOL_LOGLIK 1e-11        /* loglik, score test: relative */
#define MAX_LINE 4096
#define MAX_CASES 64

/* ---------- hand-checkable values ---------- */

/* times 1,2,2,3,5; events 1,1,0,1,0; x 0,1,0,1,0; at beta = 0:
   t=1 risk 5 (2 with x=1), t=2 risk 4 (2), t=3 risk 2 (1)
   loglik = -log 5 - log 4 - log 2, U = (0-2/5) + (1-1/2) + (1-1/2) = 0.6,
   I = .4*.6 + .5*.5 + .5*.5 = 0.74 */
static void
cox_stratum_hand_values_at_zero(void **state)
{
    (void)state;
    int64_t t[] = { 1, 2, 2, 3, 5 };
    int s[] = { 1, 1, 0, 1, 0 };
    double x[] = { 0, 1, 0, 1, 0 }, b = 0, lk, u, im;

    for (int ties = 0; ties < 2; ties++) {  /* no tied deaths: both equal */
        assert_int_equal(cox_stratum_eval(t, s, x, 5, 1, &b, ties, &lk, &u, &im), 0);
        assert_close_unit(lk, -log(40.0), 1e-15);
        assert_close_unit(u, 0.6, 1e-15);
        assert_close_unit(im, 0.74, 1e-15);
    }
}

/* times 1,1,2 all events, x 0,1,0, beta 0.  At t=1 (d=2, risk 3, S1=1):
   Breslow: loglik -= 2 log 3, U = 1 - 2/3, I = 2 * (1/3)(2/3)
   Efron:   loglik -= log 3 + log 2 (s0 = 3 - 2/2),
            U = 1 - 1/3 - (1 - 1/2)/2 = 5/12,
            I = (1/3 - 1/9) + (0.5/2 - 1/16) = 2/9 + 3/16
   at t=2 risk {x=0}: nothing more */
static void
cox_stratum_tied_deaths_breslow_efron(void **state)
{
    (void)state;
    int64_t t[] = { 1, 1, 2 };
    int s[] = { 1, 1, 1 };
    double x[] = { 0, 1, 0 }, b = 0, lk, u, im;

    assert_int_equal(cox_stratum_eval(t, s, x, 3, 1, &b, COX_BRESLOW, &lk, &u, &im), 0);
    assert_close_unit(lk, -2 * log(3.0), 1e-15);
    assert_close_unit(u, 1.0 / 3, 1e-15);
    assert_close_unit(im, 4.0 / 9, 1e-15);
    assert_int_equal(cox_stratum_eval(t, s, x, 3, 1, &b, COX_EFRON, &lk, &u, &im), 0);
    assert_close_unit(lk, -log(6.0), 1e-15);
    assert_close_unit(u, 5.0 / 12, 1e-15);
    assert_close_unit(im, 2.0 / 9 + 3.0 / 16, 1e-15);
}

/* a constant shift of x within a stratum changes nothing (node-local centring) */
static void
cox_stratum_shift_invariant(void **state)
{
    (void)state;
    int64_t t[] = { 5, 3, 3, 9, 1, 7, 3, 2 };
    int s[] = { 1, 1, 1, 0, 1, 1, 0, 1 };
    double x[16], y[16], b[2] = { 0.7, -1.3 };
    double l1, l2, u1[2], u2[2], i1[4], i2[4];

    for (int r = 0; r < 8; r++) {
        x[2 * r] = (r * 37 % 11) / 3.0;
        x[2 * r + 1] = r % 2;
        y[2 * r] = x[2 * r] + 1000;
        y[2 * r + 1] = x[2 * r + 1] - 250;
    }
    assert_int_equal(cox_stratum_eval(t, s, x, 8, 2, b, COX_EFRON, &l1, u1, i1), 0);
    assert_int_equal(cox_stratum_eval(t, s, y, 8, 2, b, COX_EFRON, &l2, u2, i2), 0);
    assert_close_unit(l1, l2, 1e-12);
    for (int i = 0; i < 2; i++)
        assert_close_unit(u1[i], u2[i], 1e-12);
    for (int i = 0; i < 4; i++)
        assert_close_unit(i1[i], i2[i], 1e-12);
    assert_close_unit(i1[1], i1[2], 0);  /* symmetric */
}

/*
 * The two ways of ordering records by time (counting sort over a narrow
 * range, qsort over a wide one) must give the same order, ties kept in
 * input order, hence bit-identical sums; and one cox_sorted evaluated at
 * several betas must equal a fresh evaluation at each.
 */
static void
cox_sorted_orders_and_reuse_agree(void **state)
{
    (void)state;
    enum { N = 400, P = 3 };
    int64_t narrow[N], wide[N];
    int st[N];
    double x[N * P];
    for (int r = 0; r < N; r++) {
        narrow[r] = (r * 7919) % 37;            /* 37 distinct times, many ties */
        wide[r] = narrow[r] * 1000000000000LL;  /* same order, range too wide to count */
        st[r] = (r * 31) % 3 != 0;
        for (int i = 0; i < P; i++)
            x[r * P + i] = ((r * (i + 3)) % 17) / 4.0 - (i == 2 ? r % 2 : 0);
    }
    struct cox_sorted a, b;
    assert_int_equal(cox_sorted_init(&a, narrow, st, x, N, P), 0);
    assert_int_equal(cox_sorted_init(&b, wide, st, x, N, P), 0);
    assert_true(cox_sorted_bytes(&a) >= N * P * sizeof(double));
    for (int r = 0; r < N; r++)
        assert_int_equal(a.status[r], b.status[r]);
    assert_memory_equal(a.xc, b.xc, sizeof(double) * N * P);
    const double betas[3][P] = { { 0, 0, 0 }, { 0.3, -0.2, 0.1 }, { -1.1, 0.4, 2.0 } };
    for (int k = 0; k < 3; k++)
        for (int ties = COX_BRESLOW; ties <= COX_EFRON; ties++) {
            double la, lb, lf, ua[P], ub[P], uf[P], ia[P * P], ib[P * P], inf[P * P];
            assert_int_equal(cox_sorted_eval(&a, betas[k], ties, &la, ua, ia), 0);
            assert_int_equal(cox_sorted_eval(&b, betas[k], ties, &lb, ub, ib), 0);
            assert_int_equal(cox_stratum_eval(narrow, st, x, N, P, betas[k], ties, &lf, uf, inf),
                0);
            assert_memory_equal(&la, &lb, sizeof la);
            assert_memory_equal(&la, &lf, sizeof la);
            assert_memory_equal(ua, ub, sizeof ua);
            assert_memory_equal(ua, uf, sizeof ua);
            assert_memory_equal(ia, ib, sizeof ia);
            assert_memory_equal(ia, inf, sizeof ia);
        }
    cox_sorted_release(&a);
    cox_sorted_release(&b);
    assert_null(a.xc);
}

/*
 * A node holding several strata (cox --strata V): cox_strata_eval() of one
 * stratum is cox_sorted_eval() bit for bit; of two, the sum of each in
 * order; of none, zeros; strata of another width are refused.
 */
static void
cox_strata_eval_sums_the_strata(void **state)
{
    (void)state;
    enum { N = 120, P = 2 };
    int64_t t[N];
    int st[N];
    double x[N * P];
    for (int r = 0; r < N; r++) {
        t[r] = (r * 13) % 29;
        st[r] = (r * 7) % 4 != 0;
        x[r * P] = (r % 11) / 3.0;
        x[r * P + 1] = r % 2;
    }
    struct cox_sorted s[2], w;
    assert_int_equal(cox_sorted_init(&s[0], t, st, x, 70, P), 0);
    assert_int_equal(cox_sorted_init(&s[1], t + 70, st + 70, x + 70 * P, N - 70, P), 0);
    assert_int_equal(cox_sorted_init(&w, t, st, x, N, 1), 0);
    const double beta[P] = { 0.25, -0.5 };
    for (int ties = COX_BRESLOW; ties <= COX_EFRON; ties++) {
        double l0, l1, l, u0[P], u1[P], u[P], i0[P * P], i1[P * P], im[P * P];
        assert_int_equal(cox_sorted_eval(&s[0], beta, ties, &l0, u0, i0), 0);
        assert_int_equal(cox_sorted_eval(&s[1], beta, ties, &l1, u1, i1), 0);
        assert_int_equal(cox_strata_eval(s, 1, P, beta, ties, &l, u, im), 0);
        assert_memory_equal(&l, &l0, sizeof l);
        assert_memory_equal(u, u0, sizeof u);
        assert_memory_equal(im, i0, sizeof im);
        assert_int_equal(cox_strata_eval(s, 2, P, beta, ties, &l, u, im), 0);
        double sum = l0 + l1;
        assert_memory_equal(&l, &sum, sizeof l);
        for (int i = 0; i < P; i++) {
            sum = u0[i] + u1[i];
            assert_memory_equal(&u[i], &sum, sizeof sum);
        }
        for (int i = 0; i < P * P; i++) {
            sum = i0[i] + i1[i];
            assert_memory_equal(&im[i], &sum, sizeof sum);
        }
        assert_int_equal(cox_strata_eval(s, 0, P, beta, ties, &l, u, im), 0);
        assert_true(l == 0 && u[0] == 0 && u[1] == 0 && im[0] == 0 && im[3] == 0);
    }
    struct cox_sorted mixed[2] = { s[0], w };
    double l, u[P], im[P * P];
    assert_int_equal(cox_strata_eval(mixed, 2, P, beta, COX_EFRON, &l, u, im), COX_EINVAL);
    assert_int_equal(cox_strata_eval(s, 2, COX_MAX_P + 1, beta, COX_EFRON, &l, u, im),
        COX_EINVAL);
    cox_sorted_release(&s[0]);
    cox_sorted_release(&s[1]);
    cox_sorted_release(&w);
}

static void
cox_stratum_rejects_bad_input(void **state)
{
    (void)state;
    int64_t t[] = { 1, 2 };
    int s[] = { 1, 0 }, bad[] = { 1, 2 };
    double x[] = { 0, 1 }, nanx[] = { 0, NAN }, b = 0, lk, u, im;

    assert_int_equal(cox_stratum_eval(t, s, x, 2, 0, &b, COX_EFRON, &lk, &u, &im), COX_EINVAL);
    assert_int_equal(cox_stratum_eval(t, bad, x, 2, 1, &b, COX_EFRON, &lk, &u, &im), COX_EINVAL);
    assert_int_equal(cox_stratum_eval(t, s, nanx, 2, 1, &b, COX_EFRON, &lk, &u, &im), COX_EINVAL);
    assert_int_equal(cox_stratum_eval(t, s, x, 2, 1, &b, (enum cox_ties)7, &lk, &u, &im), COX_EINVAL);
    double inf = INFINITY;
    assert_int_equal(cox_stratum_eval(t, s, x, 2, 1, &inf, COX_EFRON, &lk, &u, &im), COX_EINVAL);
    /* n = 0 and no events: all zero */
    lk = u = im = 9;
    assert_int_equal(cox_stratum_eval(t, s, x, 0, 1, &b, COX_EFRON, &lk, &u, &im), 0);
    assert_true(lk == 0 && u == 0 && im == 0);
    int cens[] = { 0, 0 };
    assert_int_equal(cox_stratum_eval(t, cens, x, 2, 1, &b, COX_EFRON, &lk, &u, &im), 0);
    assert_true(lk == 0 && u == 0 && im == 0);
}

/* COX_MAX_P covariates are accepted, one more is not */
static void
cox_max_p_boundary(void **state)
{
    (void)state;
    enum { N = 80 };
    size_t p = COX_MAX_P;
    int64_t t[N];
    int s[N];
    double *x = calloc(N * (p + 1), sizeof *x), *b = calloc(p + 1, sizeof *b);
    double *u = calloc(p + 1, sizeof *u), *im = calloc((p + 1) * (p + 1), sizeof *im), lk;
    struct cox_nr nr;

    assert_non_null(x);
    assert_non_null(b);
    assert_non_null(u);
    assert_non_null(im);
    for (int r = 0; r < N; r++) {
        t[r] = r % 17;
        s[r] = r % 3 != 0;
        for (size_t i = 0; i < p + 1; i++)
            x[r * (p + 1) + i] = (double)((r * (i + 3)) % 7);
    }
    assert_int_equal(cox_stratum_eval(t, s, x, N, p, b, COX_EFRON, &lk, u, im), 0);
    assert_int_equal(cox_stratum_eval(t, s, x, N, p + 1, b, COX_EFRON, &lk, u, im), COX_EINVAL);
    assert_int_equal(cox_nr_init(&nr, p, NULL), 0);
    cox_nr_release(&nr);
    assert_int_equal(cox_nr_init(&nr, p + 1, NULL), COX_EINVAL);
    cox_nr_release(&nr);
    free(x);
    free(b);
    free(u);
    free(im);
}

static void
cox_nr_state_errors(void **state)
{
    (void)state;
    struct cox_nr nr;
    struct cox_result res;
    struct cox_opts o;
    double u = 0, im = 1;

    cox_opts_default(&o);
    o.iter_max = COX_MAX_ITER_MAX;
    assert_int_equal(cox_nr_init(&nr, 1, &o), 0);
    assert_int_equal(cox_nr_result(&nr, &res), COX_ESTATE);
    cox_nr_release(&nr);
    o.iter_max = COX_MAX_ITER_MAX + 1;
    assert_int_equal(cox_nr_init(&nr, 1, &o), COX_EINVAL);
    cox_nr_release(NULL);
    cox_result_release(NULL);
    /* iter_max 0: one round, then done; feeding again is a state error */
    o.iter_max = 0;
    assert_int_equal(cox_nr_init(&nr, 1, &o), 0);
    assert_non_null(cox_nr_next_beta(&nr));
    assert_int_equal(cox_nr_feed(&nr, -10, &u, &im), 0);
    assert_true(cox_nr_done(&nr));
    assert_null(cox_nr_next_beta(&nr));
    assert_int_equal(cox_nr_feed(&nr, -10, &u, &im), COX_ESTATE);
    assert_int_equal(cox_nr_result(&nr, &res), 0);
    assert_int_equal(res.iter, 0);
    assert_true(res.coef[0] == 0);
    cox_result_release(&res);
    cox_nr_release(&nr);
}

/* ---------- golden files from R ---------- */

struct input {
    size_t n, p, k;
    size_t nstratum;                /* levels of the stratum column (cox --strata); 0: none */
    int *node, *status, *stratum;
    int64_t *time;
    double *x;
    char term[16][64];
};

static void
input_free(struct input *in)
{
    free(in->node);
    free(in->stratum);
    free(in->status);
    free(in->time);
    free(in->x);
    memset(in, 0, sizeof *in);
}

static size_t
split_tabs(char *line, char **f, size_t max)
{
    size_t nf = 0;
    char *save = NULL;
    line[strcspn(line, "\r\n")] = 0;
    for (char *tok = strtok_r(line, "\t", &save); tok && nf < max; tok = strtok_r(NULL, "\t", &save))
        f[nf++] = tok;
    return nf;
}

static int
read_input(const char *name, struct input *in)
{
    char path[512], line[MAX_LINE], *f[32];
    size_t cap = 0;
    FILE *fp;

    memset(in, 0, sizeof *in);
    snprintf(path, sizeof path, GOLDEN "%s", name);
    if ((fp = fopen(path, "r")) == NULL)
        return -1;
    if (!fgets(line, sizeof line, fp)) {
        fclose(fp);
        return -1;
    }
    size_t nf = split_tabs(line, f, 32);
    /* node, [stratum,] time, status, the covariates */
    size_t at = nf > 1 && strcmp(f[1], "stratum") == 0 ? 1 : 0;
    in->p = nf - 3 - at;
    for (size_t j = 0; j < in->p; j++)
        snprintf(in->term[j], sizeof in->term[j], "%s", f[3 + at + j]);
    while (fgets(line, sizeof line, fp)) {
        if (split_tabs(line, f, 32) != in->p + 3 + at)
            continue;
        if (in->n == cap) {
            cap = cap ? 2 * cap : 1024;
            in->stratum = realloc(in->stratum, cap * sizeof *in->stratum);
            assert_non_null(in->stratum);
            in->node = realloc(in->node, cap * sizeof *in->node);
            in->status = realloc(in->status, cap * sizeof *in->status);
            in->time = realloc(in->time, cap * sizeof *in->time);
            in->x = realloc(in->x, cap * in->p * sizeof *in->x);
            assert_non_null(in->node);
            assert_non_null(in->status);
            assert_non_null(in->time);
            assert_non_null(in->x);
        }
        in->node[in->n] = (int)strtol(f[0], NULL, 10);
        in->stratum[in->n] = at ? (int)strtol(f[1], NULL, 10) : 1;
        if (at && (size_t)in->stratum[in->n] > in->nstratum)
            in->nstratum = (size_t)in->stratum[in->n];
        in->time[in->n] = strtoll(f[1 + at], NULL, 10);
        in->status[in->n] = (int)strtol(f[2 + at], NULL, 10);
        for (size_t j = 0; j < in->p; j++)
            in->x[in->n * in->p + j] = strtod(f[3 + at + j], NULL);
        if ((size_t)in->node[in->n] > in->k)
            in->k = (size_t)in->node[in->n];
        in->n++;
    }
    fclose(fp);
    return 0;
}

struct expected {
    char input[128], ties[16], status[32], infinite[64];
    int iter_max, iter, n, nevent;
    double init[16], loglik[2], sctest, coef[16], se[16], z[16], pval[16], scale[16];
    double tol;                     /* coef and se tolerance if the case sets one, else TOL_COEF */
    char term[16][64];
    size_t p;
};

static int
read_expected(const char *cname, struct expected *e)
{
    char path[512], line[MAX_LINE], *f[32];
    FILE *fp;
    size_t nscale = 0;

    memset(e, 0, sizeof *e);
    snprintf(path, sizeof path, GOLDEN "cox_%s.out.tsv", cname);
    if ((fp = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof line, fp)) {
        size_t nf = split_tabs(line, f, 32);
        if (nf < 2)
            continue;
        if (!strcmp(f[0], "input"))
            snprintf(e->input, sizeof e->input, "%s", f[1]);
        else if (!strcmp(f[0], "ties"))
            snprintf(e->ties, sizeof e->ties, "%s", f[1]);
        else if (!strcmp(f[0], "status"))
            snprintf(e->status, sizeof e->status, "%s", f[1]);
        else if (!strcmp(f[0], "infinite"))
            snprintf(e->infinite, sizeof e->infinite, "%s", f[1]);
        else if (!strcmp(f[0], "iter_max"))
            e->iter_max = (int)strtol(f[1], NULL, 10);
        else if (!strcmp(f[0], "iter"))
            e->iter = (int)strtol(f[1], NULL, 10);
        else if (!strcmp(f[0], "n"))
            e->n = (int)strtol(f[1], NULL, 10);
        else if (!strcmp(f[0], "nevent"))
            e->nevent = (int)strtol(f[1], NULL, 10);
        else if (!strcmp(f[0], "init"))
            for (size_t j = 1; j < nf && j <= 16; j++)
                e->init[j - 1] = strtod(f[j], NULL);
        else if (!strcmp(f[0], "loglik") && nf == 3) {
            e->loglik[0] = strtod(f[1], NULL);
            e->loglik[1] = strtod(f[2], NULL);
        } else if (!strcmp(f[0], "sctest"))
            e->sctest = strtod(f[1], NULL);
        else if (!strcmp(f[0], "coef") && nf == 6 && e->p < 16) {
            snprintf(e->term[e->p], sizeof e->term[0], "%s", f[1]);
            /* strtod reads "NA" (an aliased coefficient) as 0: map it to NaN */
            e->coef[e->p] = strcmp(f[2], "NA") ? strtod(f[2], NULL) : NAN;
            e->se[e->p] = strcmp(f[3], "NA") ? strtod(f[3], NULL) : NAN;
            e->z[e->p] = strcmp(f[4], "NA") ? strtod(f[4], NULL) : NAN;
            e->pval[e->p] = strcmp(f[5], "NA") ? strtod(f[5], NULL) : NAN;
            e->p++;
        } else if (!strcmp(f[0], "scale") && nf == 3 && nscale < 16)
            e->scale[nscale++] = strtod(f[2], NULL);
        else if (!strcmp(f[0], "tol"))
            e->tol = strtod(f[1], NULL);
    }
    fclose(fp);
    return 0;
}

static double max_coef_err, max_se_err, max_ll_err, max_coef_err_unscaled;

/*
 * A case stratified by a variable as well as by node (cox --strata V): each
 * node holds one cox_sorted per stratum level it has, in level order, and
 * answers cox_strata_eval(); the nodes' answers are summed in node order
 * and fed to the Newton-Raphson, as a federation of k nodes does.
 */
static int
fit_node_strata(const struct input *in, enum cox_ties ties, const struct cox_opts *o,
    struct cox_result *res, int *rounds)
{
    size_t k = in->k, L = in->nstratum, p = in->p;
    struct cox_sorted *cs = calloc(k * L, sizeof *cs);
    size_t *held = calloc(k, sizeof *held);
    int64_t *tt = malloc(in->n * sizeof *tt);
    int *ss = malloc(in->n * sizeof *ss);
    double *xx = malloc(in->n * p * sizeof *xx), *buf = calloc(2 * p + 2 * p * p, sizeof *buf);
    assert_true(cs && held && tt && ss && xx && buf);
    for (size_t h = 0; h < k; h++)
        for (size_t l = 0; l < L; l++) {
            size_t m = 0;
            for (size_t r = 0; r < in->n; r++)
                if ((size_t)in->node[r] == h + 1 && (size_t)in->stratum[r] == l + 1) {
                    tt[m] = in->time[r];
                    ss[m] = in->status[r];
                    memcpy(&xx[m * p], &in->x[r * p], p * sizeof *xx);
                    m++;
                }
            if (m > 0)
                assert_int_equal(cox_sorted_init(&cs[h * L + held[h]++], tt, ss, xx, m, p), 0);
        }
    struct cox_nr s;
    double *score = buf, *ssum = buf + p, *imat = ssum + p, *isum = imat + p * p;
    assert_int_equal(cox_nr_init(&s, p, o), 0);
    *rounds = 0;
    while (!cox_nr_done(&s)) {
        const double *beta = cox_nr_next_beta(&s);
        double lsum = 0, lk;
        memset(ssum, 0, p * sizeof *ssum);
        memset(isum, 0, p * p * sizeof *isum);
        for (size_t h = 0; h < k; h++) {
            assert_int_equal(cox_strata_eval(&cs[h * L], held[h], p, beta, ties, &lk, score,
                imat), 0);
            lsum += lk;
            for (size_t i = 0; i < p; i++)
                ssum[i] += score[i];
            for (size_t i = 0; i < p * p; i++)
                isum[i] += imat[i];
        }
        (*rounds)++;
        assert_int_equal(cox_nr_feed(&s, lsum, ssum, isum), 0);
    }
    int rc = cox_nr_result(&s, res);
    cox_nr_release(&s);
    for (size_t i = 0; i < k * L; i++)
        cox_sorted_release(&cs[i]);
    free(cs);
    free(held);
    free(tt);
    free(ss);
    free(xx);
    free(buf);
    return rc;
}

/* Fit one golden case through the state machine, node by node. */
static void
run_case(const char *cname)
{
    struct input in;
    struct expected e;
    struct cox_stratum st[16];
    struct cox_opts o;
    struct cox_result res;
    int rounds;

    assert_int_equal(read_expected(cname, &e), 0);
    assert_int_equal(read_input(e.input, &in), 0);
    assert_int_equal(in.p, e.p);
    assert_true(in.k >= 1 && in.k <= 16);
    for (size_t j = 0; j < e.p; j++)
        assert_string_equal(in.term[j], e.term[j]);

    /* each node's records, in row order */
    int *count = calloc(in.k, sizeof *count);
    int64_t *tt = malloc(in.n * sizeof *tt);
    int *ss = malloc(in.n * sizeof *ss);
    double *xx = malloc(in.n * in.p * sizeof *xx);
    size_t pos = 0;
    int nevent = 0;
    assert_non_null(count);
    assert_non_null(tt);
    assert_non_null(ss);
    assert_non_null(xx);
    for (size_t h = 0; h < in.k; h++) {
        st[h].time = &tt[pos];
        st[h].status = &ss[pos];
        st[h].x = &xx[pos * in.p];
        st[h].n = 0;
        for (size_t r = 0; r < in.n; r++) {
            if ((size_t)in.node[r] != h + 1)
                continue;
            tt[pos] = in.time[r];
            ss[pos] = in.status[r];
            nevent += in.status[r];
            memcpy(&xx[pos * in.p], &in.x[r * in.p], in.p * sizeof *xx);
            pos++;
            st[h].n++;
        }
    }
    assert_int_equal(pos, (size_t)e.n);
    assert_int_equal(nevent, e.nevent);

    enum cox_ties ties = strcmp(e.ties, "breslow") ? COX_EFRON : COX_BRESLOW;
    cox_opts_default(&o);
    o.iter_max = e.iter_max;
    o.init = e.init;
    o.scale = e.scale;
    if (in.nstratum > 0)
        assert_int_equal(fit_node_strata(&in, ties, &o, &res, &rounds), 0);
    else
        assert_int_equal(cox_fit_local(st, in.k, in.p, ties, &o, &res, &rounds), 0);

    assert_int_equal(res.iter, e.iter);
    int conv = res.iter <= e.iter_max;
    /* rounds: the start, one per iteration, and after non-convergence the
       re-evaluation at the last accepted beta (iter is then iter_max + 1) */
    if (e.iter_max > 0)
        assert_int_equal(rounds, conv || e.iter_max > 1 ? res.iter + 1 : res.iter);
    const char *status = res.status == COX_CONVERGED ? "converged" :
        res.status == COX_INFINITE ? "infinite" :
        res.status == COX_NOT_CONVERGED ? "not_converged" : "start_not_finite";
    assert_string_equal(status, e.status);
    if (strcmp(e.infinite, "-") != 0) {
        assert_int_equal(res.inf_var + 1, (int)strtol(e.infinite, NULL, 10));
        assert_true(res.infinite[res.inf_var]);
    } else {
        assert_int_equal(res.inf_var, -1);
    }
    assert_close_unit(res.loglik[0], e.loglik[0], TOL_LOGLIK);
    assert_close_unit(res.loglik[1], e.loglik[1], TOL_LOGLIK);
    assert_close_unit(res.sctest, e.sctest, 1e-9);
    double tol = strcmp(e.status, "infinite") ? (e.tol > 0 ? e.tol : TOL_COEF) : TOL_COEF_INF;
    for (size_t j = 0; j < e.p; j++) {
        if (isnan(e.coef[j])) {     /* aliased: R's NA, fedra's NaN */
            assert_true(res.aliased[j]);
            assert_true(isnan(res.coef[j]) && isnan(res.se[j]));
            continue;
        }
        assert_false(res.aliased[j]);
        double ce = golden_relerr(res.coef[j], e.coef[j]);
        double se = golden_relerr(res.se[j], e.se[j]);
        if (ce > max_coef_err)
            max_coef_err = ce;
        if (se > max_se_err)
            max_se_err = se;
        if (!(ce <= tol && se <= tol))
            print_error("%s %s: coef %.17g vs %.17g, se %.17g vs %.17g\n", cname,
                e.term[j], res.coef[j], e.coef[j], res.se[j], e.se[j]);
        assert_true(ce <= tol);
        assert_true(se <= tol);
        assert_true(golden_relerr(res.z[j], e.z[j]) <= tol);
        assert_close_unit(res.exp_coef[j], exp(e.coef[j]), tol);
        /* p-values: compare on the log scale (tails) */
        assert_true(fabs(log(res.pval[j]) - log(e.pval[j])) <= 1e-8 * (1 + fabs(log(e.pval[j]))));
    }
    double cmax = 0, smax = 0;
    for (size_t j = 0; j < e.p; j++) {
        if (isnan(e.coef[j]))
            continue;
        double c1 = golden_relerr(res.coef[j], e.coef[j]);
        double s1 = golden_relerr(res.se[j], e.se[j]);
        cmax = c1 > cmax ? c1 : cmax;
        smax = s1 > smax ? s1 : smax;
    }
    printf("  %-24s iter %2d/%2d  rel err coef %.1e se %.1e\n", cname, res.iter, e.iter,
        cmax, smax);
    for (int i = 0; i < 2; i++) {
        double le = golden_relerr(res.loglik[i], e.loglik[i]);
        if (le > max_ll_err)
            max_ll_err = le;
    }
    cox_result_release(&res);

    /* the same fit without R's internal scaling (what a coordinator that
       does not ask for the pooled scale gets): same path, same answer */
    if (strcmp(e.status, "infinite") != 0 && strcmp(e.status, "not_converged") != 0) {
        o.scale = NULL;
        if (in.nstratum > 0)
            assert_int_equal(fit_node_strata(&in, ties, &o, &res, &rounds), 0);
        else
            assert_int_equal(cox_fit_local(st, in.k, in.p, ties, &o, &res, &rounds), 0);
        assert_int_equal(res.iter, e.iter);
        for (size_t j = 0; j < e.p; j++) {
            if (isnan(e.coef[j])) {
                assert_true(res.aliased[j]);
                continue;
            }
            double ce = golden_relerr(res.coef[j], e.coef[j]);
            if (ce > max_coef_err_unscaled)
                max_coef_err_unscaled = ce;
            assert_true(ce <= TOL_COEF);
            assert_true(golden_relerr(res.se[j], e.se[j]) <= TOL_COEF);
        }
        cox_result_release(&res);
    }
    free(count);
    free(tt);
    free(ss);
    free(xx);
    input_free(&in);
}

static void
cox_matches_coxph_on_golden_cases(void **state)
{
    (void)state;
    char line[256];
    int ncase = 0;
    FILE *fp = fopen(GOLDEN "cox_index.tsv", "r");

    assert_non_null(fp);
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        run_case(line);
        ncase++;
    }
    fclose(fp);
    assert_true(ncase >= 10);
    printf("cox: %d golden cases; max rel err vs coxph: coef %.2g, se %.2g, loglik %.2g; "
        "coef without R's scaling %.2g\n", ncase, max_coef_err, max_se_err, max_ll_err,
        max_coef_err_unscaled);
}

/* statistics.md §8: nwtco histol + age, strata(study), printed by R */
static void
cox_nwtco_reference_values(void **state)
{
    (void)state;
    struct expected e;
    assert_int_equal(read_expected("nwtco_study_efron", &e), 0);
    assert_close_unit(e.coef[0], 1.602951965717309e+00, 1e-15);
    assert_close_unit(e.se[1], 1.161482762534583e-03, 1e-15);
    assert_close_unit(e.loglik[1], -4117.039898078988, 1e-15);
    assert_int_equal(e.iter, 5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cox_stratum_hand_values_at_zero),
        cmocka_unit_test(cox_stratum_tied_deaths_breslow_efron),
        cmocka_unit_test(cox_stratum_shift_invariant),
        cmocka_unit_test(cox_sorted_orders_and_reuse_agree),
        cmocka_unit_test(cox_strata_eval_sums_the_strata),
        cmocka_unit_test(cox_stratum_rejects_bad_input),
        cmocka_unit_test(cox_max_p_boundary),
        cmocka_unit_test(cox_nr_state_errors),
        cmocka_unit_test(cox_nwtco_reference_values),
        cmocka_unit_test(cox_matches_coxph_on_golden_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
