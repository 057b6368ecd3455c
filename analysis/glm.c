/*
 * glm - see glm.h.  The link functions copy R's C code for the binomial
 * logit (src/library/stats/src/family.c): the inverse link and its
 * derivative are clamped at |eta| > 30 so that mu stays inside (0, 1) and
 * the working weights stay positive.
 */
#include "analysis/glm.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/linalg.h"

#define LOGIT_THRESH 30.0               /* R family.c THRESH / MTHRESH */

enum { PH_ROUND0, PH_ITER, PH_DONE };

static double
logit_linkinv(double eta)
{
    double tmp = eta < -LOGIT_THRESH ? DBL_EPSILON :
        (eta > LOGIT_THRESH ? 1 / DBL_EPSILON : exp(eta));
    return tmp / (1 + tmp);
}

static double
logit_mu_eta(double eta)
{
    double opexp = 1 + exp(eta);
    return (eta > LOGIT_THRESH || eta < -LOGIT_THRESH) ? DBL_EPSILON :
        exp(eta) / (opexp * opexp);
}

static double
y_log_y(double y, double mu)
{
    return y != 0 ? y * log(y / mu) : 0;
}

int
glm_node_eval(const double *y, const double *x, size_t n, size_t p,
    const double *beta, double *xtwx, double *xtwz, struct glm_node_stats *st)
{
    if (p == 0 || p > GLM_MAX_P || n > GLM_MAX_N)
        return GLM_EINVAL;
    memset(xtwx, 0, p * p * sizeof *xtwx);
    memset(xtwz, 0, p * sizeof *xtwz);
    memset(st, 0, sizeof *st);
    if (beta != NULL)
        for (size_t j = 0; j < p; j++)
            if (!isfinite(beta[j]))
                return GLM_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1)
            return GLM_EINVAL;
        for (size_t j = 0; j < p; j++)
            if (!isfinite(x[i * p + j]))
                return GLM_EINVAL;
    }

    const double eps01 = 10 * DBL_EPSILON;
    for (size_t i = 0; i < n; i++) {
        const double *xr = &x[i * p];
        double eta;
        if (beta == NULL) {
            double mustart = (y[i] + 0.5) / 2;      /* binomial initialize */
            eta = log(mustart / (1 - mustart));
        } else {
            eta = 0;
            for (size_t j = 0; j < p; j++)
                eta += xr[j] * beta[j];
        }
        double mu = logit_linkinv(eta);
        double me = logit_mu_eta(eta);
        double w = me * me / (mu * (1 - mu));
        /* round 0: w z; later w (z - eta), the score, as the step's right side */
        double wz = beta == NULL ? w * (eta + (y[i] - mu) / me) : me * (y[i] - mu) / (mu * (1 - mu));
        for (size_t j = 0; j < p; j++) {
            double wx = w * xr[j];
            xtwz[j] += xr[j] * wz;
            for (size_t k = j; k < p; k++)
                xtwx[j * p + k] += wx * xr[k];
        }
        st->deviance += 2 * (y_log_y(y[i], mu) + y_log_y(1 - y[i], 1 - mu));
        st->aic += -2 * (y[i] != 0 ? log(mu) : log(1 - mu));
        st->sum_y += y[i];
        if (mu > 1 - eps01 || mu < eps01)
            st->n_boundary++;
    }
    st->n = (int64_t)n;
    for (size_t j = 0; j < p; j++)
        for (size_t k = 0; k < j; k++)
            xtwx[j * p + k] = xtwx[k * p + j];
    return 0;
}

void
glm_node_stats_add(struct glm_node_stats *acc, const struct glm_node_stats *add)
{
    acc->deviance += add->deviance;
    acc->aic += add->aic;
    acc->sum_y += add->sum_y;
    acc->n += add->n;
    acc->n_boundary += add->n_boundary;
}

void
glm_opts_default(struct glm_opts *o)
{
    o->eps = GLM_DEFAULT_EPS;
    o->maxit = GLM_DEFAULT_MAXIT;
    o->alias_tol = GLM_ALIAS_TOL;
    o->intercept = 1;
}

int
glm_irls_init(struct glm_irls *s, size_t p, const struct glm_opts *opts)
{
    struct glm_opts def;

    memset(s, 0, sizeof *s);
    if (opts == NULL) {
        glm_opts_default(&def);
        opts = &def;
    }
    if (p == 0 || p > GLM_MAX_P || opts->maxit < 1 || opts->maxit > GLM_MAX_MAXIT ||
        !(opts->eps > 0) || !(opts->alias_tol > 0 && opts->alias_tol < 1))
        return GLM_EINVAL;
    s->start = calloc(2 * p + 2 * p * p, sizeof *s->start);
    if (s->start == NULL)
        return GLM_ENOMEM;
    s->coefold = s->start + p;
    s->fact = s->coefold + p;
    s->fact_prev = s->fact + p * p;
    s->p = p;
    s->maxit = opts->maxit;
    s->eps = opts->eps;
    s->alias_tol = opts->alias_tol;
    s->intercept = opts->intercept != 0;
    s->phase = PH_ROUND0;
    return 0;
}

int
glm_irls_done(const struct glm_irls *s)
{
    return s->phase == PH_DONE;
}

const double *
glm_irls_next_beta(const struct glm_irls *s)
{
    return s->phase == PH_ITER ? s->start : NULL;
}

/* Round 0: start = (X'WX)^- X'Wz.  Later rounds: start += (X'WX)^- X'W(z -
   eta), the same point, found as a step from where the nodes evaluated
   (glm.h).  The factor is kept for the covariance. */
static void
solve_step(struct glm_irls *s, const double *xtwx, const double *xtwz, int step)
{
    size_t p = s->p;
    double *t = s->fact_prev;           /* swap: the current becomes previous */
    s->fact_prev = s->fact;
    s->fact = t;
    memcpy(s->fact, xtwx, p * p * sizeof *s->fact);
    s->rank = linalg_chol_rel(s->fact, p, s->alias_tol);
    double d[GLM_MAX_P];
    memcpy(d, xtwz, p * sizeof *d);
    /* A column aliased now but not where the nodes evaluated: its part of
       eta moves to the right side (X_K'W z = score_K + X_K'WX_A beta_A), and
       its coefficient becomes 0, as in glm.fit. */
    for (size_t j = 0; step && j < p; j++)
        if (s->fact[j * p + j] == 0 && s->start[j] != 0) {
            for (size_t i = 0; i < p; i++)
                d[i] += xtwx[i * p + j] * s->start[j];
            s->start[j] = 0;
        }
    linalg_chsolve2(s->fact, p, d);
    for (size_t j = 0; j < p; j++)
        s->start[j] = step ? s->start[j] + d[j] : d[j];
}

int
glm_irls_feed(struct glm_irls *s, const double *xtwx, const double *xtwz,
    const struct glm_node_stats *sum)
{
    size_t p = s->p;

    if (s->phase == PH_DONE)
        return GLM_ESTATE;
    for (size_t i = 0; i < p * p; i++)
        if (!isfinite(xtwx[i]))
            return GLM_EINVAL;
    for (size_t i = 0; i < p; i++)
        if (!isfinite(xtwz[i]))
            return GLM_EINVAL;

    if (s->phase == PH_ROUND0) {
        if (sum->n <= 0 || !isfinite(sum->deviance))
            return GLM_EINVAL;
        s->n = sum->n;
        s->sum_y = sum->sum_y;
        s->devold = sum->deviance;
        solve_step(s, xtwx, xtwz, 0);
        s->iter = 1;
        s->phase = PH_ITER;
        return 0;
    }

    /* PH_ITER: the nodes evaluated at start */
    s->dev = sum->deviance;
    s->aic = sum->aic;
    s->n_boundary = sum->n_boundary;
    if (!isfinite(s->dev)) {
        /* glm.fit "inner loop 1": halve towards the previous coefficients */
        if (s->iter == 1) {
            s->status = GLM_NO_VALID_START;
            s->phase = PH_DONE;
            return 0;
        }
        if (++s->halvings > s->maxit) {
            s->status = GLM_STEP_FAILED;
            s->phase = PH_DONE;
            return 0;
        }
        for (size_t j = 0; j < p; j++)
            s->start[j] = (s->start[j] + s->coefold[j]) / 2;
        return 0;
    }
    s->halvings = 0;
    if (fabs(s->dev - s->devold) / (fabs(s->dev) + 0.1) < s->eps) {
        s->status = GLM_CONVERGED;
        s->phase = PH_DONE;
        return 0;
    }
    if (s->iter == s->maxit) {
        s->status = GLM_NOT_CONVERGED;
        s->phase = PH_DONE;
        return 0;
    }
    s->devold = s->dev;
    memcpy(s->coefold, s->start, p * sizeof *s->start);
    solve_step(s, xtwx, xtwz, 1);
    s->iter++;
    return 0;
}

void
glm_result_release(struct glm_result *r)
{
    if (r == NULL)
        return;
    free(r->coef);
    free(r->aliased);
    memset(r, 0, sizeof *r);
}

int
glm_irls_result(const struct glm_irls *s, struct glm_result *out)
{
    size_t p = s->p;

    memset(out, 0, sizeof *out);
    if (s->phase != PH_DONE)
        return GLM_ESTATE;
    out->coef = calloc(4 * p + p * p, sizeof *out->coef);
    out->aliased = calloc(p, 1);
    if (out->coef == NULL || out->aliased == NULL) {
        glm_result_release(out);
        return GLM_ENOMEM;
    }
    out->se = out->coef + p;
    out->z = out->se + p;
    out->pval = out->z + p;
    out->vcov = out->pval + p;
    out->p = p;
    out->status = s->status;
    out->iter = s->iter;
    out->rank = s->rank;
    out->n = s->n;
    out->df_residual = s->n - s->rank;
    out->df_null = s->n - s->intercept;
    out->deviance = s->dev;
    out->aic = s->aic + 2 * s->rank;
    out->fitted_01 = s->n_boundary > 0;

    /* null deviance: the intercept-only fit is mean(y) (1/2 without one) */
    double n = (double)s->n, n1 = s->sum_y, n0 = n - n1;
    double mu0 = s->intercept ? n1 / n : 0.5;
    out->null_deviance = 2 * ((n1 > 0 ? n1 * log(1 / mu0) : 0) +
        (n0 > 0 ? n0 * log(1 / (1 - mu0)) : 0));

    /* covariance: the inverse of the X'WX the reported coefficients were
       solved with (s->fact), dispersion 1 for the binomial */
    memcpy(out->vcov, s->fact, p * p * sizeof *out->vcov);
    linalg_chinv2(out->vcov, p);
    for (size_t j = 0; j < p; j++) {
        if (s->fact[j * p + j] == 0) {
            out->aliased[j] = 1;
            out->coef[j] = out->se[j] = out->z[j] = out->pval[j] = NAN;
            continue;
        }
        out->coef[j] = s->start[j];
        out->se[j] = sqrt(out->vcov[j * p + j]);
        out->z[j] = out->coef[j] / out->se[j];
        out->pval[j] = erfc(fabs(out->z[j]) / sqrt(2.0));
    }
    return 0;
}

void
glm_irls_release(struct glm_irls *s)
{
    if (s == NULL)
        return;
    free(s->start);
    memset(s, 0, sizeof *s);
}

int
glm_fit_local(const struct glm_node_data *nodes, size_t k, size_t p,
    const struct glm_opts *opts, struct glm_result *out, int *rounds)
{
    struct glm_irls s;
    double *a = NULL, *b, *asum, *bsum;
    int rc, nround = 0;

    memset(out, 0, sizeof *out);
    if ((rc = glm_irls_init(&s, p, opts)) != 0)
        return rc;
    rc = GLM_ENOMEM;
    if ((a = calloc(2 * p * p + 2 * p, sizeof *a)) == NULL)
        goto done;
    asum = a + p * p;
    b = asum + p * p;
    bsum = b + p;
    while (!glm_irls_done(&s)) {
        const double *beta = glm_irls_next_beta(&s);
        struct glm_node_stats st, sum;
        memset(&sum, 0, sizeof sum);
        memset(asum, 0, p * p * sizeof *asum);
        memset(bsum, 0, p * sizeof *bsum);
        for (size_t h = 0; h < k; h++) {
            if ((rc = glm_node_eval(nodes[h].y, nodes[h].x, nodes[h].n, p, beta, a, b, &st)) != 0)
                goto done;
            for (size_t i = 0; i < p * p; i++)
                asum[i] += a[i];
            for (size_t i = 0; i < p; i++)
                bsum[i] += b[i];
            glm_node_stats_add(&sum, &st);
        }
        nround++;
        if ((rc = glm_irls_feed(&s, asum, bsum, &sum)) != 0)
            goto done;
    }
    rc = glm_irls_result(&s, out);

done:
    if (rounds != NULL)
        *rounds = nround;
    free(a);
    glm_irls_release(&s);
    return rc;
}
