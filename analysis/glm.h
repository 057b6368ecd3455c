/*
 * glm - logistic regression (binomial family, logit link) by federated
 * IRLS, on the path stats::glm.fit takes (statistics.md §5.1), so that
 * coefficients, standard errors, deviance, AIC and the iteration count
 * equal glm(..., family = binomial).
 *
 * Node side: glm_node_eval() returns, for the node's own records, X'WX,
 * the score X'W(z - eta) and the deviance at beta; with beta NULL (round 0)
 * it starts where glm.fit starts, from mustart = (y + 1/2)/2, not from
 * beta = 0, and returns X'Wz there (eta is not X beta).
 *
 * Coordinator side: struct glm_irls is a re-entrant state machine, one node
 * round per step (the same shape as struct cox_nr):
 *
 *     glm_irls_init(&s, p, &opts);
 *     while (!glm_irls_done(&s)) {
 *         beta = glm_irls_next_beta(&s);        NULL in round 0
 *         glm_irls_feed(&s, sum X'WX, sum X'Wz, &summed stats);
 *     }
 *     glm_irls_result(&s, &res); ... glm_result_release(&res);
 *     glm_irls_release(&s);
 *
 * Round 1 solves (sum X'WX) b = sum X'Wz; round j > 1 finds the same
 * b = beta + d, where the nodes evaluated at beta and (sum X'WX) d = sum
 * X'W(z - eta).  It asks the nodes at b, and stops when |dev - devold| / (|dev| + 0.1) < eps (glm.control's
 * 1e-8): the coefficients reported are that b, and the covariance is the
 * inverse of the X'WX b was solved with (the previous round's: the QR that
 * summary.glm uses).  A non-finite deviance halves the step towards the
 * previous coefficients as glm.fit does.  fit$iter = the number of solves.
 *
 * glm.fit solves each step by a pivoted QR of sqrt(W) X; summing X'WX over
 * nodes gives the normal equations instead, solved here by an LDL'
 * (linalg_chol_rel).  Solved for b directly they lose cond(X'WX) * eps of
 * ||b|| in every component, so a coefficient much smaller than the others
 * (an age effect of 1e-4 next to an intercept of -3) came out 2e-11 from R
 * relative to itself; solved for the step d, which shrinks as the fit
 * converges, the loss is of ||d||, and the reported b is nearer the exact
 * iterate than R's QR is (10x on that case; test_glm checks it against a
 * quad-precision IRLS).  The one decision that can differ is which column
 * is aliased: R drops a column whose residual norm is below 1e-11 of its
 * norm, the normal equations cannot resolve that, so a column is dropped
 * when its squared residual norm is below GLM_ALIAS_TOL of its squared norm.
 *
 * Pure computation: no I/O, no global state.
 */
#ifndef GLM_H
#define GLM_H

#include <stddef.h>
#include <stdint.h>

#define GLM_MAX_P 64                    /* columns of X, intercept included */
#define GLM_MAX_N 100000000             /* records on one node */
#define GLM_DEFAULT_EPS 1e-8            /* glm.control epsilon */
#define GLM_DEFAULT_MAXIT 25            /* glm.control maxit */
#define GLM_MAX_MAXIT 1000              /* iteration bound a query may ask for */
#define GLM_ALIAS_TOL 1e-10             /* see above */

#define GLM_EINVAL (-1)                 /* bad argument */
#define GLM_ENOMEM (-2)                 /* allocation failed */
#define GLM_ESTATE (-3)                 /* call not valid in this state */

enum glm_status {
    GLM_CONVERGED = 0,
    GLM_NOT_CONVERGED = 1,      /* "glm.fit: algorithm did not converge" */
    GLM_NO_VALID_START = 2,     /* deviance not finite after the first step */
    GLM_STEP_FAILED = 3         /* step-halving could not make it finite */
};

/* What a node sends besides X'WX and X'Wz; summed over nodes by the
   coordinator with glm_node_stats_add(). */
struct glm_node_stats {
    double deviance;            /* sum of dev.resids at this beta */
    double aic;                 /* sum of -2 log dbinom(y; 1, mu) */
    double sum_y;               /* events (for the null deviance) */
    int64_t n;                  /* records */
    int64_t n_boundary;         /* mu within 10 DBL_EPSILON of 0 or 1 */
};

/*
 * Node side.  y[n] in {0, 1}; x row-major n x p, with the intercept column
 * (if any) included as the caller codes it; beta[p], or NULL for round 0.
 * Writes xtwx[p*p] (symmetric), xtwz[p] (X'Wz for round 0, X'W(z - eta) at
 * beta) and *st.  Returns 0 or GLM_EINVAL
 * (p out of 1..GLM_MAX_P, n > GLM_MAX_N, y not 0/1, x or beta not finite).
 */
int glm_node_eval(const double *y, const double *x, size_t n, size_t p,
    const double *beta, double *xtwx, double *xtwz, struct glm_node_stats *st);

/* acc += add, field by field. */
void glm_node_stats_add(struct glm_node_stats *acc, const struct glm_node_stats *add);

struct glm_opts {
    double eps;                 /* GLM_DEFAULT_EPS */
    int maxit;                  /* GLM_DEFAULT_MAXIT, 1..GLM_MAX_MAXIT */
    double alias_tol;           /* GLM_ALIAS_TOL */
    int intercept;              /* 1 if the model has an intercept (default):
                                   the null model is then mean(y), else 1/2 */
};

void glm_opts_default(struct glm_opts *o);

/* Coordinator state; the fields are private to glm.c. */
struct glm_irls {
    size_t p;
    int phase, iter, maxit, halvings, intercept, rank, status;
    double eps, alias_tol, devold, dev, aic, sum_y;
    int64_t n, n_boundary;
    double *start, *coefold;    /* p each */
    double *fact, *fact_prev;   /* p*p: LDL' factors of the last two X'WX */
};

/* Returns 0, GLM_EINVAL or GLM_ENOMEM; on error ${s} is left released. */
int glm_irls_init(struct glm_irls *s, size_t p, const struct glm_opts *opts);

int glm_irls_done(const struct glm_irls *s);

/*
 * The p coefficients at which the nodes evaluate next; NULL in round 0
 * (nodes start from mustart) and when done, so test glm_irls_done() first.
 * Borrowed; valid until the next glm_irls_feed().
 */
const double *glm_irls_next_beta(const struct glm_irls *s);

/*
 * Feed the sums over nodes of glm_node_eval() at glm_irls_next_beta().
 * Returns 0, GLM_ESTATE when done, GLM_EINVAL if the sums are not finite
 * or there are no records.
 */
int glm_irls_feed(struct glm_irls *s, const double *xtwx, const double *xtwz,
    const struct glm_node_stats *sum);

struct glm_result {
    size_t p;
    enum glm_status status;
    int iter;                   /* = glm's fit$iter */
    int rank;
    int fitted_01;              /* R's "fitted probabilities numerically 0 or 1" */
    int64_t n, df_residual, df_null;
    double deviance, null_deviance, aic;
    /* p each; aliased columns are NaN (R's NA) */
    double *coef, *se, *z, *pval;
    unsigned char *aliased;
    double *vcov;               /* p*p, zero rows/columns where aliased */
};

/* Returns 0, GLM_ESTATE if not done, GLM_ENOMEM. */
int glm_irls_result(const struct glm_irls *s, struct glm_result *out);
void glm_result_release(struct glm_result *r);
void glm_irls_release(struct glm_irls *s);

/* One node's data for glm_fit_local(). */
struct glm_node_data {
    const double *y;
    const double *x;            /* n x p row-major */
    size_t n;
};

/* Run the whole protocol locally over ${k} nodes (tests, bundle checks). */
int glm_fit_local(const struct glm_node_data *nodes, size_t k, size_t p,
    const struct glm_opts *opts, struct glm_result *out, int *rounds);

#endif /* !GLM_H */
