/*
 * cif - see cif.h.  cif_fit follows the order of operations of survival's
 * survfitci.c (3.5-3) for p and for each subject's influence row, grouped
 * as cif.h derives; cif_gray that of cmprsk's crst (2.2-11) on counts per
 * time and group, so that results agree with R to the last bits or nearly.
 */
#include "analysis/cif.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/chisq.h"
#include "analysis/km.h"
#include "analysis/linalg.h"

static int64_t
row_total(const struct cif_row *r)
{
    return r->d[0] + r->d[1] + r->c;
}

int
cif_life_table(const int32_t *time, const uint8_t *state, size_t n, int32_t grid,
    struct cif_table *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *ev = malloc(2 * (n ? n : 1));
    if (ev == NULL)
        return CIF_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (state[i] > 2)
            rc = CIF_EINVAL;
        ev[i] = state[i] == 1;
        ev[n + i] = state[i] == 2;
    }
    struct km_table k1 = {0}, k2 = {0};
    int r1 = rc == 0 ? km_life_table(time, ev, n, grid, &k1) : 0;
    int r2 = rc == 0 && r1 == 0 ? km_life_table(time, ev + n, n, grid, &k2) : 0;
    free(ev);
    if (rc == 0 && (r1 != 0 || r2 != 0))
        rc = r1 == KM_ERANGE || r2 == KM_ERANGE ? CIF_ERANGE
             : r1 == KM_ENOMEM || r2 == KM_ENOMEM ? CIF_ENOMEM : CIF_EINVAL;
    if (rc == 0 && (out->rows = malloc((k1.nrows ? k1.nrows : 1) * sizeof *out->rows)) == NULL)
        rc = CIF_ENOMEM;
    for (size_t r = 0; rc == 0 && r < k1.nrows; r++)
        out->rows[r] = (struct cif_row){k1.rows[r].time, {k1.rows[r].d, k2.rows[r].d},
            k1.rows[r].c - k2.rows[r].d};
    if (rc == 0) {
        out->n = k1.n;
        out->nrows = k1.nrows;
    }
    km_table_release(&k1);
    km_table_release(&k2);
    return rc;
}

int
cif_table_check(const struct cif_table *t)
{
    if (t->n < 0 || t->n > CIF_MAX_N || (t->nrows > 0 && t->rows == NULL))
        return CIF_EINVAL;
    int64_t left = t->n;
    for (size_t i = 0; i < t->nrows; i++) {
        const struct cif_row *r = &t->rows[i];
        if (r->time < 0 || r->d[0] < 0 || r->d[1] < 0 || r->c < 0)
            return CIF_EINVAL;
        if (r->d[0] > left || r->d[1] > left - r->d[0] || r->c > left - r->d[0] - r->d[1])
            return CIF_EINVAL;
        if (row_total(r) == 0 || (i > 0 && r->time <= t->rows[i - 1].time))
            return CIF_EINVAL;
        left -= row_total(r);
    }
    return left == 0 ? 0 : CIF_EINVAL;
}

/*
 * The tables merged by repeated selection of the smallest next time (a
 * k-way merge over cursors): counts are integers, so the order of summation
 * cannot matter.
 */
int
cif_pool(const struct cif_table *tables, size_t ntables, struct cif_table *out)
{
    memset(out, 0, sizeof *out);
    if (ntables > CIF_MAX_TABLES || (ntables > 0 && tables == NULL))
        return CIF_EINVAL;
    size_t total = 0;
    int64_t n = 0;
    for (size_t k = 0; k < ntables; k++) {
        if (cif_table_check(&tables[k]) != 0)
            return CIF_EINVAL;
        total += tables[k].nrows;
        n += tables[k].n;
    }
    if (n > CIF_MAX_N)
        return CIF_EINVAL;
    out->n = n;
    if (total == 0)
        return 0;
    size_t *at = calloc(ntables, sizeof *at);
    out->rows = malloc(total * sizeof *out->rows);
    if (at == NULL || out->rows == NULL) {
        free(at);
        cif_table_release(out);
        return CIF_ENOMEM;
    }
    for (;;) {
        int64_t next = INT64_MAX;
        for (size_t k = 0; k < ntables; k++)
            if (at[k] < tables[k].nrows && tables[k].rows[at[k]].time < next)
                next = tables[k].rows[at[k]].time;
        if (next == INT64_MAX)
            break;
        struct cif_row *w = &out->rows[out->nrows++];
        memset(w, 0, sizeof *w);
        w->time = (int32_t)next;
        for (size_t k = 0; k < ntables; k++) {
            const struct cif_row *r = at[k] < tables[k].nrows ? &tables[k].rows[at[k]] : NULL;
            if (r == NULL || r->time != next)
                continue;
            w->d[0] += r->d[0];
            w->d[1] += r->d[1];
            w->c += r->c;
            at[k]++;
        }
    }
    free(at);
    return 0;
}

/* survfit_confint(p, se, logse = FALSE, "log"): NaN where p = 0 (R's NA). */
static void
log_limits(double z, double p, double se, double *lo, double *hi)
{
    if (p == 0) {
        *lo = *hi = NAN;
        return;
    }
    double se_log = se == 0 ? 0 : se / p, se2 = z * se_log;
    *lo = exp(log(p) - se2);
    double up = exp(log(p) + se2);
    *hi = up < 1 ? up : 1;
}

/* m += k * b' b for a row b of CIF_STATES (k subjects with that row). */
static void
add_outer(double m[CIF_STATES][CIF_STATES], double k, const double b[CIF_STATES])
{
    for (int i = 0; i < CIF_STATES; i++)
        for (int j = 0; j < CIF_STATES; j++)
            m[i][j] += k * (b[i] * b[j]);
}

/*
 * The influence rows through one time with events, as cif.h derives: the
 * leavers' sum of squares M and the at-risk row A are multiplied by H
 * (rows 1, 2 the identity: only column 0 and row 0 of H differ), then the
 * at-risk subjects get their step.  M takes the subjects leaving now; the
 * total for the variance is returned in tot.
 */
static void
influence_step(double m[CIF_STATES][CIF_STATES], double a[CIF_STATES], const double h[CIF_STATES],
    double p0, double nrisk, const struct cif_row *r, int64_t stay,
    double tot[CIF_STATES][CIF_STATES])
{
    /* U H for a row u: (u0 h0, u0 h1 + u1, u0 h2 + u2), as survfitci sums it. */
    double mh[CIF_STATES][CIF_STATES];
    for (int i = 0; i < CIF_STATES; i++) {
        mh[i][0] = m[i][0] * h[0];
        mh[i][1] = m[i][0] * h[1] + m[i][1];
        mh[i][2] = m[i][0] * h[2] + m[i][2];
    }
    for (int j = 0; j < CIF_STATES; j++) {
        m[0][j] = h[0] * mh[0][j];
        m[1][j] = h[1] * mh[0][j] + mh[1][j];
        m[2][j] = h[2] * mh[0][j] + mh[2][j];
    }
    double ah[CIF_STATES] = {a[0] * h[0], a[0] * h[1] + a[1], a[0] * h[2] + a[2]};
    double q = p0 / nrisk, b[CIF_STATES][CIF_STATES];
    for (int s = 0; s < CIF_STATES; s++) {
        for (int k = 0; k < CIF_STATES; k++)
            b[s][k] = ah[k] - h[k] * p0 / nrisk;
        b[s][s] += q;
    }
    add_outer(m, (double)r->c, b[0]);
    add_outer(m, (double)r->d[0], b[1]);
    add_outer(m, (double)r->d[1], b[2]);
    memcpy(a, b[0], sizeof b[0]);
    memcpy(tot, m, sizeof *m * CIF_STATES);
    add_outer(tot, (double)stay, a);
}

int
cif_fit(const struct cif_table *table, double conf_int, struct cif_curve *out)
{
    memset(out, 0, sizeof *out);
    if (cif_table_check(table) != 0 || !(conf_int > 0 && conf_int < 1))
        return CIF_EINVAL;
    if (table->n == 0)
        return CIF_EEMPTY;
    out->pts = calloc(table->nrows, sizeof *out->pts);
    if (out->pts == NULL)
        return CIF_ENOMEM;
    out->npts = table->nrows;
    out->n = table->n;
    out->conf_int = conf_int;

    double z = km_qnorm(1 - (1 - conf_int) / 2);
    double p[CIF_STATES] = {1, 0, 0}, se[CIF_STATES] = {0, 0, 0};
    double m[CIF_STATES][CIF_STATES] = {{0}}, a[CIF_STATES] = {0, 0, 0};
    int64_t left = table->n;
    for (size_t i = 0; i < table->nrows; i++) {
        const struct cif_row *r = &table->rows[i];
        struct cif_point *pt = &out->pts[i];
        int64_t d = r->d[0] + r->d[1], stay = left - row_total(r);
        pt->time = r->time;
        pt->n_risk = left;
        pt->n_event[1] = r->d[0];
        pt->n_event[2] = r->d[1];
        pt->n_censor = r->c;
        out->events[1] += r->d[0];
        out->events[2] += r->d[1];
        if (d > 0) {
            double nrisk = (double)left;
            double h[CIF_STATES] = {1 - (double)d / nrisk, (double)r->d[0] / nrisk,
                (double)r->d[1] / nrisk};
            double tot[CIF_STATES][CIF_STATES];
            influence_step(m, a, h, p[0], nrisk, r, stay, tot);
            double np[CIF_STATES] = {p[0] * h[0], p[0] * h[1] + p[1], p[0] * h[2] + p[2]};
            memcpy(p, np, sizeof p);
            for (int k = 0; k < CIF_STATES; k++)
                se[k] = sqrt(tot[k][k]);
        } else {
            add_outer(m, (double)r->c, a);      /* they leave with the row they had */
        }
        for (int k = 0; k < CIF_STATES; k++) {
            pt->p[k] = p[k];
            pt->std_err[k] = se[k];
            log_limits(z, p[k], se[k], &pt->lower[k], &pt->upper[k]);
        }
        left = stay;
    }
    return 0;
}

/* The number of curve points with time <= tau (binary search). */
static size_t
points_upto(const struct cif_curve *c, int32_t tau)
{
    size_t lo = 0, hi = c->npts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->pts[mid].time <= tau)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int
cmp_time(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

int
cif_at_times(const struct cif_curve *curve, const int32_t *times, size_t ntimes,
    struct cif_point **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (ntimes > CIF_MAX_TIMES || (ntimes > 0 && times == NULL) || curve->npts == 0)
        return CIF_EINVAL;
    for (size_t i = 0; i < ntimes; i++)
        if (times[i] < 0)
            return CIF_EINVAL;
    if (ntimes == 0)
        return 0;
    int32_t *tau = malloc(ntimes * sizeof *tau);
    struct cif_point *res = calloc(ntimes, sizeof *res);
    if (tau == NULL || res == NULL) {
        free(tau);
        free(res);
        return CIF_ENOMEM;
    }
    memcpy(tau, times, ntimes * sizeof *tau);
    qsort(tau, ntimes, sizeof *tau, cmp_time);
    int32_t last = curve->pts[curve->npts - 1].time;
    size_t kept = 0, prev = 0;
    for (size_t k = 0; k < ntimes && tau[k] <= last; k++, kept++) {
        size_t upto = points_upto(curve, tau[k]);
        struct cif_point *o = &res[k];
        if (upto > 0) {
            *o = curve->pts[upto - 1];
        } else {                        /* survfit0's start row */
            memset(o, 0, sizeof *o);
            o->p[0] = 1;
        }
        memset(o->n_event, 0, sizeof o->n_event);
        o->n_censor = 0;
        for (size_t j = prev; j < upto; j++) {
            for (int s = 1; s < CIF_STATES; s++)
                o->n_event[s] += curve->pts[j].n_event[s];
            o->n_censor += curve->pts[j].n_censor;
        }
        prev = upto > prev ? upto : prev;
        o->time = tau[k];
        /* the first point with time >= tau holds #{records with time >= tau} */
        size_t first = upto > 0 && curve->pts[upto - 1].time == tau[k] ? upto - 1 : upto;
        o->n_risk = first < curve->npts ? curve->pts[first].n_risk : 0;
    }
    free(tau);
    if (kept == 0) {
        free(res);
        return 0;
    }
    *out = res;
    *nout = kept;
    return 0;
}

/* ---- Gray's test ---- */

/* crst's state for ng groups (the arrays of its argument list). */
struct gray {
    size_t ng, ng1;
    double *f1m, *f1, *skmm, *skm, *v3;
    double *c, *a, *v2;             /* ng x ng, ng x ng, ng1 x ng */
    double *s, *v;                  /* ng1, ng1 x ng1 (lower triangle used) */
    int64_t *rs, *d;                /* ng; 3 x ng: censored, cause, other cause */
    double fm, f, tr;
};

static int
gray_alloc(struct gray *g, size_t ng)
{
    memset(g, 0, sizeof *g);
    g->ng = ng;
    g->ng1 = ng - 1;
    double *x = calloc(5 * ng + 2 * ng * ng + g->ng1 * ng + g->ng1 + g->ng1 * g->ng1,
        sizeof *x);
    g->rs = calloc(4 * ng, sizeof *g->rs);
    if (x == NULL || g->rs == NULL) {
        free(x);
        free(g->rs);
        return CIF_ENOMEM;
    }
    g->f1m = x;
    g->f1 = g->f1m + ng;
    g->skmm = g->f1 + ng;
    g->skm = g->skmm + ng;
    g->v3 = g->skm + ng;
    g->c = g->v3 + ng;
    g->a = g->c + ng * ng;
    g->v2 = g->a + ng * ng;
    g->s = g->v2 + g->ng1 * ng;
    g->v = g->s + g->ng1;
    g->d = g->rs + ng;
    for (size_t i = 0; i < ng; i++)
        g->skmm[i] = g->skm[i] = 1;
    return 0;
}

static void
gray_free(struct gray *g)
{
    free(g->f1m);
    free(g->rs);
}

#define GD(g, k, i) ((g)->d[(size_t)(k) * (g)->ng + (i)])
#define GA(g, i, j) ((g)->a[(i) * (g)->ng + (j)])
#define GC(g, i, j) ((g)->c[(i) * (g)->ng + (j)])
#define GV2(g, i, k) ((g)->v2[(i) * (g)->ng + (k)])
#define GV(g, i, j) ((g)->v[(i) * (g)->ng1 + (j)])

/* The estimates, a, c and the score at one time with events (crst 60 to 74). */
static void
gray_score(struct gray *g, int64_t nd1)
{
    size_t ng = g->ng;
    double tr = 0, tq = 0;
    for (size_t i = 0; i < ng; i++) {
        if (g->rs[i] <= 0)
            continue;
        double rs = (double)g->rs[i], td = (double)(GD(g, 1, i) + GD(g, 2, i));
        g->skm[i] = g->skmm[i] * (rs - td) / rs;
        g->f1[i] = g->f1m[i] + (g->skmm[i] * (double)GD(g, 1, i)) / rs;
        tr += rs / g->skmm[i];
        tq += rs * (1 - g->f1m[i]) / g->skmm[i];
    }
    g->tr = tr;
    g->f = g->fm + (double)nd1 / tr;
    for (size_t i = 0; i < ng; i++) {
        for (size_t j = i; j < ng; j++)
            GA(g, i, j) = 0;
        if (g->rs[i] <= 0)
            continue;
        double t1 = (double)g->rs[i] / g->skmm[i];
        GA(g, i, i) = t1 * (1 - t1 / tr);
        GC(g, i, i) += GA(g, i, i) * (double)nd1 / (tr * (1 - g->fm));
        for (size_t j = i + 1; j < ng; j++) {
            if (g->rs[j] <= 0)
                continue;
            GA(g, i, j) = -(t1 * (double)g->rs[j] / (g->skmm[j] * tr));
            GC(g, i, j) += GA(g, i, j) * (double)nd1 / (tr * (1 - g->fm));
        }
    }
    for (size_t i = 1; i < ng; i++)
        for (size_t j = 0; j < i; j++) {
            GA(g, i, j) = GA(g, j, i);
            GC(g, i, j) = GC(g, j, i);
        }
    for (size_t i = 0; i < g->ng1; i++)
        if (g->rs[i] > 0)
            g->s[i] += (double)GD(g, 1, i) - (double)(nd1 * g->rs[i]) * (1 - g->f1m[i]) /
                (g->skmm[i] * tq);
}

/* The variance terms of the events of the cause (crst 72) and of the other cause (82). */
static void
gray_variance(struct gray *g, int64_t nd1, int64_t nd2)
{
    for (size_t k = 0; nd1 > 0 && k < g->ng; k++) {
        if (g->rs[k] <= 0)
            continue;
        double t4 = g->skm[k] > 0 ? 1 - (1 - g->f) / g->skm[k] : 1;
        double t5 = nd1 > 1 ? 1 - (double)(nd1 - 1) / (g->tr * g->skmm[k] - 1) : 1;
        double t3 = t5 * g->skmm[k] * (double)nd1 / (g->tr * (double)g->rs[k]);
        g->v3[k] += t4 * t4 * t3;
        for (size_t i = 0; i < g->ng1; i++) {
            double t1 = GA(g, i, k) - t4 * GC(g, i, k);
            GV2(g, i, k) += t1 * t4 * t3;
            for (size_t j = 0; j <= i; j++)
                GV(g, i, j) += t1 * (GA(g, j, k) - t4 * GC(g, j, k)) * t3;
        }
    }
    for (size_t k = 0; nd2 > 0 && k < g->ng; k++) {
        if (g->skm[k] <= 0 || GD(g, 2, k) <= 0)
            continue;
        double t4 = (1 - g->f) / g->skm[k], d2 = (double)GD(g, 2, k), rs = (double)g->rs[k];
        double t5 = GD(g, 2, k) > 1 ? 1 - (d2 - 1) / (rs - 1) : 1;
        /* crst squares rs as an integer, which overflows past 46,340 at risk; here exact */
        double t3 = t5 * ((g->skmm[k] * g->skmm[k]) * d2) / (rs * rs);
        g->v3[k] += t4 * t4 * t3;
        for (size_t i = 0; i < g->ng1; i++) {
            double t1 = t4 * GC(g, i, k);
            GV2(g, i, k) -= t1 * t4 * t3;
            for (size_t j = 0; j <= i; j++)
                GV(g, i, j) += t1 * (t4 * GC(g, j, k)) * t3;
        }
    }
}

/* The counts of every group at the next time after *at (cursors), into g->d; its time. */
static int32_t
gray_next(struct gray *g, const struct cif_table *const *tab, size_t *at, int cause)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < g->ng; i++)
        if (at[i] < tab[i]->nrows && tab[i]->rows[at[i]].time < next)
            next = tab[i]->rows[at[i]].time;
    for (size_t i = 0; i < g->ng; i++) {
        const struct cif_row *r = at[i] < tab[i]->nrows ? &tab[i]->rows[at[i]] : NULL;
        int hit = r != NULL && r->time == next;
        GD(g, 0, i) = hit ? r->c : 0;
        GD(g, 1, i) = hit ? r->d[cause - 1] : 0;
        GD(g, 2, i) = hit ? r->d[2 - cause] : 0;
        at[i] += hit;
    }
    return next == INT64_MAX ? -1 : (int32_t)next;
}

/* crst over the distinct times of the groups' tables: the score and its variance. */
static void
gray_run(struct gray *g, const struct cif_table *const *tab, int cause)
{
    size_t ng = g->ng, *at = calloc(ng, sizeof *at);
    for (size_t i = 0; i < ng; i++)
        g->rs[i] = tab[i]->n;
    if (at == NULL)
        return;
    while (gray_next(g, tab, at, cause) >= 0) {
        int64_t nd1 = 0, nd2 = 0;
        for (size_t i = 0; i < ng; i++) {
            nd1 += GD(g, 1, i);
            nd2 += GD(g, 2, i);
        }
        if (nd1 > 0 || nd2 > 0) {
            gray_score(g, nd1);
            gray_variance(g, nd1, nd2);
        }
        for (size_t i = 0; i < ng; i++)
            g->rs[i] -= GD(g, 0, i) + GD(g, 1, i) + GD(g, 2, i);
        g->fm = g->f;
        memcpy(g->f1m, g->f1, ng * sizeof *g->f1m);
        memcpy(g->skmm, g->skm, ng * sizeof *g->skmm);
    }
    free(at);
    for (size_t i = 0; i < g->ng1; i++)
        for (size_t j = 0; j <= i; j++)
            for (size_t k = 0; k < ng; k++) {
                GV(g, i, j) += GC(g, i, k) * GC(g, j, k) * g->v3[k];
                GV(g, i, j) += GC(g, i, k) * GV2(g, j, k);
                GV(g, i, j) += GC(g, j, k) * GV2(g, i, k);
            }
}

int
cif_gray(const struct cif_table *groups, size_t ngroups, int cause, struct cif_gray *out)
{
    memset(out, 0, sizeof *out);
    out->chisq = out->p = NAN;
    if (ngroups > CIF_MAX_GROUPS || (ngroups > 0 && groups == NULL) || (cause != 1 && cause != 2))
        return CIF_EINVAL;
    const struct cif_table *tab[CIF_MAX_GROUPS];
    size_t ng = 0;
    for (size_t i = 0; i < ngroups; i++) {
        if (cif_table_check(&groups[i]) != 0)
            return CIF_EINVAL;
        if (groups[i].n > 0)
            tab[ng++] = &groups[i];     /* cuminc drops groups without patients */
    }
    if (ng < 2)
        return CIF_EGROUPS;
    int64_t events = 0;
    for (size_t i = 0; i < ng; i++)
        for (size_t r = 0; r < tab[i]->nrows; r++)
            events += tab[i]->rows[r].d[cause - 1];
    if (events == 0)
        return CIF_ENOEVENTS;
    struct gray g;
    if (gray_alloc(&g, ng) != 0)
        return CIF_ENOMEM;
    gray_run(&g, tab, cause);
    size_t n1 = g.ng1;
    double *full = malloc(n1 * n1 * sizeof *full), *y = malloc(n1 * sizeof *y);
    int rc = full == NULL || y == NULL ? CIF_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < n1; i++) {
        y[i] = g.s[i];
        for (size_t j = 0; j <= i; j++)
            full[i * n1 + j] = full[j * n1 + i] = GV(&g, i, j);
    }
    if (rc == 0 && linalg_chol_rel(full, n1, CIF_GRAY_TOL) != (int)n1)
        rc = CIF_ESINGULAR;
    if (rc == 0) {
        linalg_chsolve2(full, n1, y);
        double stat = 0;
        for (size_t i = 0; i < n1; i++)
            stat += g.s[i] * y[i];
        out->chisq = stat;
        out->df = (int)n1;
        out->p = 1 - (1 - chisq_upper(stat, (int)n1));    /* cuminc: 1 - pchisq(stat, df) */
    }
    free(full);
    free(y);
    gray_free(&g);
    return rc;
}

void
cif_table_release(struct cif_table *t)
{
    if (t == NULL)
        return;
    free(t->rows);
    memset(t, 0, sizeof *t);
}

void
cif_curve_release(struct cif_curve *c)
{
    if (c == NULL)
        return;
    free(c->pts);
    memset(c, 0, sizeof *c);
}
