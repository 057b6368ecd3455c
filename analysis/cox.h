/*
 * cox - Cox proportional hazards model stratified by node, fitted by a
 * coordinator-driven Newton-Raphson that follows coxph (survival 3.5-3,
 * coxfit6.c) step for step.
 *
 * Node side: cox_stratum_eval() gives, for the node's own records (one
 * stratum) at a coefficient vector beta, the log partial likelihood, the
 * score vector and the information matrix (statistics.md §4.2).  Summed over
 * nodes these are exactly what coxph(Surv(t, s) ~ x + strata(node)) works
 * with, because the partial likelihood of a stratified model is the product
 * over strata.
 *
 * Coordinator side: struct cox_nr is a re-entrant state machine, one node
 * round per step, because each evaluation is one signed network round:
 *
 *     cox_nr_init(&s, p, &opts);
 *     while (!cox_nr_done(&s)) {
 *         beta = cox_nr_next_beta(&s);          ask every node at beta
 *         cox_nr_feed(&s, sum loglik, sum score, sum imat);
 *     }
 *     cox_nr_result(&s, &res);  ...  cox_result_release(&res);
 *     cox_nr_release(&s);
 *
 * The path is coxfit6's: start at opts.init (0), score test at the start,
 * convergence when |1 - lbest/l| <= eps with everything finite (the
 * coefficients reported are the ones just evaluated, no further step),
 * step-halving (newbeta = (newbeta + h*beta)/(h + 1), h counting up) when
 * the log-likelihood falls or is not finite, at most iter_max iterations,
 * and after non-convergence one more round at the last accepted beta.
 * Iteration counts therefore equal coxph's fit$iter, and the number of
 * node rounds is iterations + 1 (+ 1 when not converged).  coxph also
 * centres and scales every covariate internally; Newton-Raphson is
 * invariant to that, except for the Cholesky tolerance and rounding, so
 * opts.scale lets the coordinator reproduce R's internal scale exactly
 * when it knows it (R: n / sum |x - mean| over the pooled data, 1 for a
 * column whose values all lie in {-1, 0, 1}); NULL means all 1.
 *
 * Times are integers (statistics.md §1): ties are decided by exact ==.
 * Pure computation: no I/O, no global state; memory is allocated only by
 * the functions below and released by their _release.
 */
#ifndef COX_H
#define COX_H

#include <stddef.h>
#include <stdint.h>

#define COX_MAX_P 64                    /* covariates (columns of X) */
#define COX_MAX_N 100000000             /* records in one stratum */
#define COX_DEFAULT_EPS 1e-9            /* coxph.control eps */
#define COX_DEFAULT_ITER_MAX 20         /* coxph.control iter.max */
#define COX_MAX_ITER_MAX 1000           /* iteration bound a query may ask for */

/* Error codes (every function returns 0 or one of these). */
#define COX_EINVAL (-1)                 /* bad argument: sizes, NaN, status */
#define COX_ENOMEM (-2)                 /* allocation failed */
#define COX_ESTATE (-3)                 /* call not valid in this state */

enum cox_ties { COX_BRESLOW = 0, COX_EFRON = 1 };

/* How the fit ended (struct cox_result.status). */
enum cox_status {
    COX_CONVERGED = 0,          /* converged, no warning */
    COX_INFINITE = 1,           /* converged, but R would warn "Loglik converged
                                   before variable j; coefficient may be
                                   infinite": see infinite[] and inf_var */
    COX_NOT_CONVERGED = 2,      /* ran out of iterations (R: flag 1000,
                                   "Ran out of iterations and did not converge") */
    COX_START_NOT_FINITE = 3    /* log-likelihood not finite at the start:
                                   R returns the start unchanged */
};

struct cox_opts {
    double eps;                 /* COX_DEFAULT_EPS */
    double toler_chol;          /* .Machine$double.eps^0.75 */
    double toler_inf;           /* sqrt(eps) */
    int iter_max;               /* COX_DEFAULT_ITER_MAX, 0..COX_MAX_ITER_MAX */
    const double *init;         /* p start values, NULL = 0 (copied by init) */
    const double *scale;        /* p internal scales, NULL = 1 (copied) */
};

/* Fill ${o} with coxph.control()'s defaults. */
void cox_opts_default(struct cox_opts *o);

/*
 * Node side.  One stratum of ${n} records: time[i] (integer), status[i]
 * (0 censored, 1 event), x row-major n x p (row i = record i; raw, not
 * centred: the function subtracts the stratum's own column means before
 * exponentiating, a constant shift that leaves all three outputs unchanged
 * and keeps exp() from overflowing).  At ${beta} store the log partial
 * likelihood in *loglik, the score in score[p] and the information matrix
 * in imat[p*p] (row-major, symmetric).  Risk set of t: {time >= t}; with
 * tied event times Breslow or Efron as coxfit6.  n = 0 or no event gives
 * zeros.  Returns 0, COX_EINVAL (p out of 1..COX_MAX_P, n > COX_MAX_N,
 * status not 0/1, non-finite x or beta) or COX_ENOMEM.
 */
int cox_stratum_eval(const int64_t *time, const int *status, const double *x,
    size_t n, size_t p, const double *beta, enum cox_ties ties,
    double *loglik, double *score, double *imat);

/*
 * The same evaluation split in two, for a node that is asked at a new beta
 * every round over the same records: cox_sorted_init() checks, centres and
 * orders the records by time once (the O(n log n) part); cox_sorted_eval()
 * is then one O(n p^2) pass per beta.  cox_stratum_eval() is init, eval,
 * release; both give bit-for-bit the same results.  Return codes as
 * cox_stratum_eval(); on error ${s} is left released.
 */
struct cox_sorted {
    size_t n, p;
    int64_t *time;              /* n, ascending (ties in input order) */
    unsigned char *status;      /* n, in time order */
    double *xc;                 /* n x p, centred, in time order */
};
int cox_sorted_init(struct cox_sorted *s, const int64_t *time, const int *status,
    const double *x, size_t n, size_t p);
int cox_sorted_eval(const struct cox_sorted *s, const double *beta, enum cox_ties ties,
    double *loglik, double *score, double *imat);
size_t cox_sorted_bytes(const struct cox_sorted *s);    /* memory held */
void cox_sorted_release(struct cox_sorted *s);

/*
 * A node holding several strata (cox --strata V: one per level of V within
 * the node, as coxph(... + strata(V) + strata(node))): the partial
 * likelihood of a stratified model is the product over strata, so the
 * node's loglik, score and information are the sums of cox_sorted_eval()
 * over s[0 .. k), added in that order.  Each stratum has its own risk sets
 * and its own centring.  k = 1 is cox_sorted_eval() itself (bit for bit);
 * k = 0 gives zeros.  All strata must have p columns.  Return codes as
 * cox_sorted_eval().
 */
int cox_strata_eval(const struct cox_sorted *s, size_t k, size_t p, const double *beta,
    enum cox_ties ties, double *loglik, double *score, double *imat);

/* Coordinator state; the fields are private to cox.c. */
struct cox_nr {
    size_t p;
    int phase;
    int iter, iter_max, halving, rank, start_finite;
    double eps, toler_chol, toler_inf;
    double loglik0, lbest, lfinal, sctest;
    double *beta, *newbeta, *scale, *ask;   /* p each */
    double *u, *u0;                         /* p each */
    double *imat;                           /* p*p */
};

/*
 * Start a fit with ${p} covariates (1..COX_MAX_P) and ${opts} (NULL for the
 * defaults).  Returns 0, COX_EINVAL or COX_ENOMEM; on error ${s} is left
 * released.
 */
int cox_nr_init(struct cox_nr *s, size_t p, const struct cox_opts *opts);

/* 1 when no further node round is needed, else 0. */
int cox_nr_done(const struct cox_nr *s);

/*
 * The p coefficients (on the scale of the raw covariates) at which every
 * node must evaluate next.  Borrowed; valid until the next cox_nr_feed().
 * NULL when done.
 */
const double *cox_nr_next_beta(const struct cox_nr *s);

/*
 * Feed the sums over nodes of cox_stratum_eval() at cox_nr_next_beta():
 * loglik, score[p], imat[p*p] (read only).  Returns 0 or COX_ESTATE when
 * already done.
 */
int cox_nr_feed(struct cox_nr *s, double loglik, const double *score,
    const double *imat);

/*
 * For a replay of a fit whose iter_max is not known (a node checking the
 * coefficients it is asked at, proto/modelsum.h): 1 and the last accepted
 * coefficients in beta[p] (raw scale, as cox_nr_next_beta() gives them) when
 * a fit with iter_max equal to the iterations done so far (2 or more) would
 * now ask its extra round there (out of iterations, as coxfit6); else 0.
 */
int cox_nr_final_beta(const struct cox_nr *s, double *beta);

struct cox_result {
    size_t p;
    enum cox_status status;
    int iter;                   /* = coxph's fit$iter */
    int rank;                   /* rank of the information matrix */
    int inf_var;                /* first variable (0-based) flagged infinite, -1 */
    double loglik[2];           /* at the start, at the end (fit$loglik) */
    double sctest;              /* score test at the start (fit$score) */
    /* p each; aliased coefficients (rank deficient) are NaN in coef, se, z,
       pval, as R's NA */
    double *coef, *exp_coef, *se, *z, *pval;
    double *score;              /* score at the final beta (fit$u) */
    unsigned char *aliased;     /* 1 where R reports NA */
    unsigned char *infinite;    /* 1 where R warns "may be infinite" */
    double *var;                /* p*p, fit$var */
};

/*
 * Fill ${out} from a finished fit: coefficients, standard errors, Wald z,
 * two-sided normal p-values, as summary.coxph.  Returns 0, COX_ESTATE if
 * not done, COX_ENOMEM.  Release with cox_result_release().
 */
int cox_nr_result(const struct cox_nr *s, struct cox_result *out);

void cox_result_release(struct cox_result *r);

/*
 * What coxph returns when the data hold no event at all (it does not run
 * the Newton-Raphson): every coefficient NA, variance 0, log-likelihoods 0,
 * 0 iterations.  Returns 0 or COX_ENOMEM.
 */
int cox_result_no_events(size_t p, struct cox_result *out);

/*
 * The Wald test of summary.coxph (coxph.wtest): b' var^-1 b over the
 * coefficients that are not aliased, by cholesky2 of var with
 * ${toler_chol}; *df receives the rank.  Returns 0 or COX_ENOMEM.
 */
int cox_wald_test(const struct cox_result *r, double toler_chol, double *stat, int *df);
void cox_nr_release(struct cox_nr *s);

/* One stratum's data for cox_fit_local(). */
struct cox_stratum {
    const int64_t *time;
    const int *status;
    const double *x;            /* n x p row-major */
    size_t n;
};

/*
 * Run the whole protocol locally over ${k} strata (for tests and for the
 * coordinator's self-check of a bundle): every round calls
 * cox_stratum_eval() on each stratum in order and sums.  Returns 0 or a
 * COX_E* code; ${rounds} (may be NULL) receives the number of node rounds.
 */
int cox_fit_local(const struct cox_stratum *strata, size_t k, size_t p,
    enum cox_ties ties, const struct cox_opts *opts, struct cox_result *out,
    int *rounds);

#endif /* !COX_H */
