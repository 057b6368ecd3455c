/*
 * cox - see cox.h.  cox_stratum_eval() is coxfit6_iter() for one stratum
 * without weights or offset: records sorted by time, walked from the last
 * time backwards so that the risk-set sums (denom, a, cmat) only grow; the
 * deaths of a time are collected in (denom2, a2, cmat2) and enter with
 * weight 1 (Breslow) or in ndead steps of 1/ndead (Efron).  The Newton-
 * Raphson state machine is the main loop of coxfit6() cut at every call of
 * coxfit6_iter(), in R's internal (scaled) coordinates.
 */
#include "analysis/cox.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/linalg.h"

enum { PH_START, PH_ITER, PH_FINAL, PH_DONE };

void
cox_opts_default(struct cox_opts *o)
{
    o->eps = COX_DEFAULT_EPS;
    o->toler_chol = pow(2.220446049250313e-16, 0.75);
    o->toler_inf = sqrt(COX_DEFAULT_EPS);
    o->iter_max = COX_DEFAULT_ITER_MAX;
    o->init = NULL;
    o->scale = NULL;
}

struct order_key {
    int64_t time;
    size_t idx;
};

static int
cmp_order(const void *pa, const void *pb)
{
    const struct order_key *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/*
 * Records in time order, ties in input order.  Times on a grid (or in days)
 * span few distinct values, so a counting sort over the range does it in
 * O(n + range); a wide range falls back to qsort.  Both give the one order
 * that (time, index) defines.
 */
#define COX_COUNTING_SORT_SLACK 4       /* range up to 4 n (+ 4096) is counted */
static int
order_by_time(const int64_t *time, size_t n, struct order_key *ord)
{
    int64_t lo = time[0], hi = time[0];
    for (size_t r = 1; r < n; r++) {
        lo = time[r] < lo ? time[r] : lo;
        hi = time[r] > hi ? time[r] : hi;
    }
    uint64_t range = (uint64_t)hi - (uint64_t)lo;
    if (range < COX_COUNTING_SORT_SLACK * (uint64_t)n + 4096) {
        size_t *start = calloc((size_t)range + 2, sizeof *start);
        if (start == NULL)
            return -1;
        for (size_t r = 0; r < n; r++)
            start[(uint64_t)time[r] - (uint64_t)lo + 1]++;
        for (size_t b = 1; b <= (size_t)range + 1; b++)
            start[b] += start[b - 1];
        for (size_t r = 0; r < n; r++) {
            size_t at = start[(uint64_t)time[r] - (uint64_t)lo]++;
            ord[at].time = time[r];
            ord[at].idx = r;
        }
        free(start);
        return 0;
    }
    for (size_t r = 0; r < n; r++) {
        ord[r].time = time[r];
        ord[r].idx = r;
    }
    qsort(ord, n, sizeof *ord, cmp_order);
    return 0;
}

int
cox_sorted_init(struct cox_sorted *s, const int64_t *time, const int *status, const double *x,
    size_t n, size_t p)
{
    struct order_key *ord = NULL;
    double *mean = NULL;

    memset(s, 0, sizeof *s);
    if (p == 0 || p > COX_MAX_P || n > COX_MAX_N)
        return COX_EINVAL;
    for (size_t r = 0; r < n; r++) {
        if (status[r] != 0 && status[r] != 1)
            return COX_EINVAL;
        for (size_t i = 0; i < p; i++)
            if (!isfinite(x[r * p + i]))
                return COX_EINVAL;
    }
    s->n = n;
    s->p = p;
    if (n == 0)
        return 0;
    ord = malloc(n * sizeof *ord);
    mean = calloc(p, sizeof *mean);
    s->time = malloc(n * sizeof *s->time);
    s->status = malloc(n);
    s->xc = malloc(n * p * sizeof *s->xc);
    if (ord == NULL || mean == NULL || s->time == NULL || s->status == NULL || s->xc == NULL) {
        free(ord);
        free(mean);
        cox_sorted_release(s);
        return COX_ENOMEM;
    }

    /* centre on the stratum's own means (any constant shift is allowed) */
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < p; i++)
            mean[i] += x[r * p + i];
    for (size_t i = 0; i < p; i++)
        mean[i] /= (double)n;
    if (order_by_time(time, n, ord) != 0) {
        free(ord);
        free(mean);
        cox_sorted_release(s);
        return COX_ENOMEM;
    }
    for (size_t r = 0; r < n; r++) {
        s->time[r] = ord[r].time;
        s->status[r] = (unsigned char)status[ord[r].idx];
        for (size_t i = 0; i < p; i++)
            s->xc[r * p + i] = x[ord[r].idx * p + i] - mean[i];
    }
    free(ord);
    free(mean);
    return 0;
}

size_t
cox_sorted_bytes(const struct cox_sorted *s)
{
    return s->n * (sizeof *s->time + sizeof *s->status + s->p * sizeof *s->xc);
}

void
cox_sorted_release(struct cox_sorted *s)
{
    free(s->time);
    free(s->status);
    free(s->xc);
    memset(s, 0, sizeof *s);
}

/*
 * The loops below are coxfit6's with the same operations in the same order
 * on every element, written so that the compiler can vectorise them: the
 * sums live in restrict-qualified arrays that cannot alias the data, and
 * the information matrix is built in its lower triangle row by row (coxfit6
 * fills the upper one column by column) and mirrored at the end.
 */
int
cox_sorted_eval(const struct cox_sorted *s, const double *beta, enum cox_ties ties,
    double *loglik, double *score, double *imat)
{
    size_t n = s->n, p = s->p;
    double *work = NULL;
    double lk = 0;

    if (p == 0 || p > COX_MAX_P || (ties != COX_BRESLOW && ties != COX_EFRON))
        return COX_EINVAL;
    *loglik = 0;
    memset(score, 0, p * sizeof *score);
    memset(imat, 0, p * p * sizeof *imat);
    for (size_t i = 0; i < p; i++)
        if (!isfinite(beta[i]))
            return COX_EINVAL;
    if (n == 0)
        return 0;
    work = calloc(3 * p + 3 * p * p, sizeof *work);
    if (work == NULL)
        return COX_ENOMEM;
    double *restrict a = work, *restrict a2 = a + p, *restrict u = a2 + p;
    double *restrict cmat = u + p, *restrict cmat2 = cmat + p * p, *restrict info = cmat2 + p * p;
    const double *restrict xc = s->xc;

    double denom = 0;
    for (size_t person = n; person > 0;) {
        int64_t dtime = s->time[person - 1];
        int ndead = 0;
        double denom2 = 0;

        /* all records at this time: censored into the risk set, deaths aside */
        while (person > 0 && s->time[person - 1] == dtime) {
            person--;
            const double *restrict xr = &xc[person * p];
            double zbeta = 0;
            for (size_t i = 0; i < p; i++)
                zbeta += beta[i] * xr[i];
            double risk = exp(zbeta);
            double *restrict sa = a, *restrict sc = cmat;
            if (s->status[person] == 0) {
                denom += risk;
            } else {
                ndead++;
                denom2 += risk;
                lk += zbeta;
                for (size_t i = 0; i < p; i++)
                    u[i] += xr[i];
                sa = a2;
                sc = cmat2;
            }
            /* (risk * x[i]) * x[j], as coxfit6 evaluates risk * x[i] * x[j] */
            for (size_t i = 0; i < p; i++) {
                double rx = risk * xr[i];
                sa[i] += rx;
                double *restrict row = &sc[i * p];
                for (size_t j = 0; j <= i; j++)
                    row[j] += rx * xr[j];
            }
        }
        if (ndead == 0)
            continue;
        if (ties == COX_BRESLOW || ndead == 1) {
            double deadwt = ndead;
            denom += denom2;
            lk -= deadwt * log(denom);
            for (size_t i = 0; i < p; i++)
                a[i] += a2[i];
            for (size_t i = 0; i < p; i++) {
                double temp2 = a[i] / denom;
                u[i] -= deadwt * temp2;
                double *restrict crow = &cmat[i * p], *restrict c2 = &cmat2[i * p];
                double *restrict irow = &info[i * p];
                for (size_t j = 0; j <= i; j++) {
                    crow[j] += c2[j];
                    irow[j] += deadwt * (crow[j] - temp2 * a[j]) / denom;
                }
            }
        } else {
            /* Efron: the deaths enter the sums in ndead steps of 1/ndead.  coxfit6
               divides by ndead at every step; the quotient is the same each time,
               so it is taken once (the same value, without ndead - 1 divisions). */
            double d2 = denom2 / ndead;
            for (size_t i = 0; i < p; i++) {
                a2[i] /= ndead;
                for (size_t j = 0; j <= i; j++)
                    cmat2[i * p + j] /= ndead;
            }
            for (int k = 0; k < ndead; k++) {
                denom += d2;
                lk -= log(denom);
                for (size_t i = 0; i < p; i++)
                    a[i] += a2[i];
                for (size_t i = 0; i < p; i++) {
                    double temp2 = a[i] / denom;
                    u[i] -= temp2;
                    double *restrict crow = &cmat[i * p], *restrict c2 = &cmat2[i * p];
                    double *restrict irow = &info[i * p];
                    for (size_t j = 0; j <= i; j++) {
                        crow[j] += c2[j];
                        irow[j] += (crow[j] - temp2 * a[j]) / denom;
                    }
                }
            }
        }
        memset(a2, 0, p * sizeof *a2);
        memset(cmat2, 0, p * p * sizeof *cmat2);
    }
    for (size_t i = 0; i < p; i++) {
        score[i] = u[i];
        for (size_t j = 0; j <= i; j++)
            imat[i * p + j] = imat[j * p + i] = info[i * p + j];
    }
    *loglik = lk;
    free(work);
    return 0;
}

int
cox_strata_eval(const struct cox_sorted *s, size_t k, size_t p, const double *beta,
    enum cox_ties ties, double *loglik, double *score, double *imat)
{
    if (p == 0 || p > COX_MAX_P)
        return COX_EINVAL;
    for (size_t h = 0; h < k; h++)
        if (s[h].p != p)
            return COX_EINVAL;
    if (k == 1)
        return cox_sorted_eval(&s[0], beta, ties, loglik, score, imat);
    double *u = calloc(p + p * p, sizeof *u);
    if (u == NULL)
        return COX_ENOMEM;
    double *info = u + p;
    *loglik = 0;
    memset(score, 0, p * sizeof *score);
    memset(imat, 0, p * p * sizeof *imat);
    int rc = 0;
    for (size_t h = 0; h < k && rc == 0; h++) {
        double lk;
        if ((rc = cox_sorted_eval(&s[h], beta, ties, &lk, u, info)) != 0)
            break;
        *loglik += lk;
        for (size_t i = 0; i < p; i++)
            score[i] += u[i];
        for (size_t i = 0; i < p * p; i++)
            imat[i] += info[i];
    }
    free(u);
    return rc;
}

int
cox_stratum_eval(const int64_t *time, const int *status, const double *x,
    size_t n, size_t p, const double *beta, enum cox_ties ties,
    double *loglik, double *score, double *imat)
{
    struct cox_sorted s;

    /* ties and beta are checked by cox_sorted_eval, p and the data by init */
    if (ties != COX_BRESLOW && ties != COX_EFRON)
        return COX_EINVAL;
    int rc = cox_sorted_init(&s, time, status, x, n, p);
    if (rc == 0)
        rc = cox_sorted_eval(&s, beta, ties, loglik, score, imat);
    cox_sorted_release(&s);
    return rc;
}

int
cox_nr_init(struct cox_nr *s, size_t p, const struct cox_opts *opts)
{
    struct cox_opts def;

    memset(s, 0, sizeof *s);
    if (opts == NULL) {
        cox_opts_default(&def);
        opts = &def;
    }
    if (p == 0 || p > COX_MAX_P || opts->iter_max < 0 ||
        opts->iter_max > COX_MAX_ITER_MAX || !(opts->eps > 0) ||
        !(opts->toler_chol > 0) || !(opts->toler_inf >= 0))
        return COX_EINVAL;
    for (size_t i = 0; i < p; i++) {
        if (opts->init != NULL && !isfinite(opts->init[i]))
            return COX_EINVAL;
        if (opts->scale != NULL && !(isfinite(opts->scale[i]) && opts->scale[i] > 0))
            return COX_EINVAL;
    }
    s->p = p;
    s->beta = calloc(6 * p + p * p, sizeof *s->beta);
    if (s->beta == NULL)
        return COX_ENOMEM;
    s->newbeta = s->beta + p;
    s->scale = s->newbeta + p;
    s->ask = s->scale + p;
    s->u = s->ask + p;
    s->u0 = s->u + p;
    s->imat = s->u0 + p;
    s->eps = opts->eps;
    s->toler_chol = opts->toler_chol;
    s->toler_inf = opts->toler_inf;
    s->iter_max = opts->iter_max;
    for (size_t i = 0; i < p; i++) {
        s->scale[i] = opts->scale ? opts->scale[i] : 1.0;
        /* internal coordinates: x * scale, so beta / scale */
        s->beta[i] = (opts->init ? opts->init[i] : 0.0) / s->scale[i];
        s->ask[i] = s->beta[i] * s->scale[i];
    }
    s->phase = PH_START;
    return 0;
}

int
cox_nr_done(const struct cox_nr *s)
{
    return s->phase == PH_DONE;
}

const double *
cox_nr_next_beta(const struct cox_nr *s)
{
    return s->phase == PH_DONE ? NULL : s->ask;
}

static void
set_ask(struct cox_nr *s, const double *b)
{
    for (size_t i = 0; i < s->p; i++)
        s->ask[i] = b[i] * s->scale[i];
}

/* The p x p information is finished: invert it (imat holds the factor). */
static void
finish(struct cox_nr *s)
{
    linalg_chinv2(s->imat, s->p);
    s->phase = PH_DONE;
}

int
cox_nr_feed(struct cox_nr *s, double loglik, const double *score,
    const double *imat)
{
    size_t p = s->p;

    if (s->phase == PH_DONE)
        return COX_ESTATE;
    for (size_t i = 0; i < p; i++) {
        s->u[i] = score[i] * s->scale[i];
        for (size_t j = 0; j < p; j++)
            s->imat[i * p + j] = imat[i * p + j] * s->scale[i] * s->scale[j];
    }

    if (s->phase == PH_START) {
        double *a = s->newbeta, temp = 0;
        s->loglik0 = s->lbest = s->lfinal = loglik;
        s->start_finite = isfinite(loglik);
        memcpy(s->u0, s->u, p * sizeof *a);
        memcpy(a, s->u, p * sizeof *a);
        s->rank = linalg_chol2(s->imat, p, s->toler_chol);
        linalg_chsolve2(s->imat, p, a);
        for (size_t i = 0; i < p; i++)
            temp += s->u[i] * a[i];
        s->sctest = temp;
        if (s->iter_max == 0 || !s->start_finite) {
            s->iter = 0;
            finish(s);
            return 0;
        }
        for (size_t i = 0; i < p; i++)
            s->newbeta[i] = s->beta[i] + a[i];
        s->halving = 0;
        s->iter = 1;
        s->phase = PH_ITER;
        set_ask(s, s->newbeta);
        return 0;
    }

    if (s->phase == PH_FINAL) {
        /* coxfit6 re-evaluates at the last accepted beta and calls chinv2 on
           the unfactored matrix (upper triangle filled, lower zero): the
           variance it reports is diag(1 / diag(I)).  Copy that. */
        s->lfinal = loglik;
        for (size_t i = 0; i < p; i++)
            for (size_t j = 0; j < i; j++)
                s->imat[i * p + j] = 0;
        finish(s);
        return 0;
    }

    /* PH_ITER: (loglik, u, imat) at newbeta */
    s->rank = linalg_chol2(s->imat, p, s->toler_chol);
    int notfinite = !isfinite(loglik);
    for (size_t i = 0; i < p; i++) {
        if (!isfinite(s->u[i]))
            notfinite = 1;
        for (size_t j = 0; j < p; j++)
            if (!isfinite(s->imat[i * p + j]))
                notfinite = 1;
    }
    if (!notfinite && fabs(1 - (s->lbest / loglik)) <= s->eps) {
        s->lfinal = loglik;
        memcpy(s->beta, s->newbeta, p * sizeof *s->beta);
        finish(s);
        return 0;
    }
    if (notfinite || loglik < s->lbest) {
        s->halving++;           /* more aggressive each time it fails */
        for (size_t i = 0; i < p; i++)
            s->newbeta[i] = (s->newbeta[i] + s->halving * s->beta[i]) /
                (s->halving + 1.0);
    } else {
        s->halving = 0;
        s->lbest = loglik;
        linalg_chsolve2(s->imat, p, s->u);
        for (size_t i = 0; i < p; i++) {
            s->beta[i] = s->newbeta[i];
            s->newbeta[i] = s->newbeta[i] + s->u[i];
        }
    }
    s->iter++;
    if (s->iter <= s->iter_max) {
        set_ask(s, s->newbeta);
        return 0;
    }
    /* out of iterations: coxfit6 leaves iter at iter_max + 1 */
    s->lfinal = s->lbest;
    if (s->iter_max > 1) {
        s->phase = PH_FINAL;
        set_ask(s, s->beta);
        return 0;
    }
    finish(s);
    return 0;
}

int
cox_nr_final_beta(const struct cox_nr *s, double *beta)
{
    if (s->phase != PH_ITER || s->iter < 3)
        return 0;
    for (size_t i = 0; i < s->p; i++)
        beta[i] = s->beta[i] * s->scale[i];     /* as set_ask() would */
    return 1;
}

void
cox_result_release(struct cox_result *r)
{
    if (r == NULL)
        return;
    free(r->coef);
    free(r->aliased);
    memset(r, 0, sizeof *r);
}

static int result_alloc(size_t p, struct cox_result *out);

int
cox_nr_result(const struct cox_nr *s, struct cox_result *out)
{
    size_t p = s->p;

    memset(out, 0, sizeof *out);
    if (s->phase != PH_DONE)
        return COX_ESTATE;
    if (result_alloc(p, out) != 0)
        return COX_ENOMEM;
    out->iter = s->iter;
    out->rank = s->rank;
    out->loglik[0] = s->loglik0;
    out->loglik[1] = s->lfinal;
    out->sctest = s->sctest;

    /* back to the raw covariate scale */
    for (size_t i = 0; i < p; i++) {
        out->coef[i] = s->beta[i] * s->scale[i];
        out->score[i] = s->u[i] / s->scale[i];
        for (size_t j = 0; j < p; j++)
            out->var[i * p + j] = s->imat[i * p + j] * s->scale[i] * s->scale[j];
    }

    int converged = s->iter <= s->iter_max;
    if (!s->start_finite)
        out->status = COX_START_NOT_FINITE;
    else if (!converged)
        out->status = COX_NOT_CONVERGED;
    else
        out->status = COX_CONVERGED;

    /* coxph.fit: which.sing when the rank is short; "may be infinite" test
       on |u' var| (only when iter.max > 1, as coxph.fit) */
    for (size_t i = 0; i < p; i++) {
        /* coxph.fit: flag 1000 (not converged) is never "< nvar": nothing is NA then */
        if (converged && (s->rank < (int)p || s->halving) && out->var[i * p + i] == 0)
            out->aliased[i] = 1;
        double infs = 0;
        for (size_t j = 0; j < p; j++)
            infs += out->score[j] * out->var[j * p + i];
        infs = fabs(infs);
        int flag;
        if (converged)
            flag = !isfinite(out->score[i]) ||
                (infs > s->eps && infs > s->toler_inf * fabs(out->coef[i]));
        else
            flag = !isfinite(infs);
        if (s->iter_max > 1 && s->start_finite && flag) {
            out->infinite[i] = 1;
            if (out->inf_var < 0)
                out->inf_var = (int)i;
        }
    }
    if (out->status == COX_CONVERGED && out->inf_var >= 0)
        out->status = COX_INFINITE;

    for (size_t i = 0; i < p; i++) {
        if (out->aliased[i] && s->iter_max > 0) {
            out->coef[i] = out->exp_coef[i] = out->se[i] = NAN;
            out->z[i] = out->pval[i] = NAN;
            continue;
        }
        out->exp_coef[i] = exp(out->coef[i]);
        out->se[i] = sqrt(out->var[i * p + i]);
        out->z[i] = out->coef[i] / out->se[i];
        out->pval[i] = erfc(fabs(out->z[i]) / sqrt(2.0));
    }
    return 0;
}

/* Storage for a result of p coefficients, laid out as cox_nr_result() fills it. */
static int
result_alloc(size_t p, struct cox_result *out)
{
    memset(out, 0, sizeof *out);
    out->coef = calloc(7 * p + p * p, sizeof *out->coef);
    out->aliased = calloc(2 * p, 1);
    if (out->coef == NULL || out->aliased == NULL) {
        cox_result_release(out);
        return COX_ENOMEM;
    }
    out->exp_coef = out->coef + p;
    out->se = out->exp_coef + p;
    out->z = out->se + p;
    out->pval = out->z + p;
    out->score = out->pval + p;
    out->var = out->score + p;
    out->infinite = out->aliased + p;
    out->p = p;
    out->inf_var = -1;
    return 0;
}

int
cox_result_no_events(size_t p, struct cox_result *out)
{
    if (result_alloc(p, out) != 0)
        return COX_ENOMEM;
    out->status = COX_CONVERGED;
    for (size_t i = 0; i < p; i++) {
        out->coef[i] = out->exp_coef[i] = out->z[i] = out->pval[i] = NAN;
        out->aliased[i] = 1;
    }
    return 0;
}

int
cox_wald_test(const struct cox_result *r, double toler_chol, double *stat, int *df)
{
    size_t p = r->p, k = 0;
    double *v = calloc(p * p + p + 1, sizeof *v);
    if (v == NULL)
        return COX_ENOMEM;
    double *b = v + p * p;
    size_t *at = calloc(p + 1, sizeof *at);
    if (at == NULL) {
        free(v);
        return COX_ENOMEM;
    }
    for (size_t i = 0; i < p; i++)
        if (!r->aliased[i])
            at[k++] = i;
    for (size_t i = 0; i < k; i++) {
        b[i] = r->coef[at[i]];
        for (size_t j = 0; j < k; j++)
            v[i * k + j] = r->var[at[i] * p + at[j]];
    }
    *stat = 0;
    *df = 0;
    if (k > 0) {
        double *y = calloc(k, sizeof *y);
        if (y == NULL) {
            free(v);
            free(at);
            return COX_ENOMEM;
        }
        memcpy(y, b, k * sizeof *y);
        int rank = linalg_chol2(v, k, toler_chol);
        linalg_chsolve2(v, k, y);
        for (size_t i = 0; i < k; i++)
            *stat += b[i] * y[i];
        *df = rank < 0 ? -rank : rank;
        free(y);
    }
    free(v);
    free(at);
    return 0;
}

void
cox_nr_release(struct cox_nr *s)
{
    if (s == NULL)
        return;
    free(s->beta);
    memset(s, 0, sizeof *s);
}

int
cox_fit_local(const struct cox_stratum *strata, size_t k, size_t p,
    enum cox_ties ties, const struct cox_opts *opts, struct cox_result *out,
    int *rounds)
{
    struct cox_nr s;
    double *score = NULL, *imat = NULL, *ssum = NULL, *isum = NULL;
    int rc, nround = 0;

    memset(out, 0, sizeof *out);
    if ((rc = cox_nr_init(&s, p, opts)) != 0)
        return rc;
    rc = COX_ENOMEM;
    score = calloc(2 * p + 2 * p * p, sizeof *score);
    if (score == NULL)
        goto done;
    ssum = score + p;
    imat = ssum + p;
    isum = imat + p * p;
    while (!cox_nr_done(&s)) {
        const double *beta = cox_nr_next_beta(&s);
        double lsum = 0;
        memset(ssum, 0, p * sizeof *ssum);
        memset(isum, 0, p * p * sizeof *isum);
        for (size_t h = 0; h < k; h++) {
            double lk;
            rc = cox_stratum_eval(strata[h].time, strata[h].status, strata[h].x,
                strata[h].n, p, beta, ties, &lk, score, imat);
            if (rc != 0)
                goto done;
            lsum += lk;
            for (size_t i = 0; i < p; i++)
                ssum[i] += score[i];
            for (size_t i = 0; i < p * p; i++)
                isum[i] += imat[i];
        }
        nround++;
        if ((rc = cox_nr_feed(&s, lsum, ssum, isum)) != 0)
            goto done;
    }
    rc = cox_nr_result(&s, out);

done:
    if (rounds != NULL)
        *rounds = nround;
    free(score);
    cox_nr_release(&s);
    return rc;
}
