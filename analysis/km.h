/*
 * km - pooled Kaplan-Meier estimate, equal to R's survfit() (survival 3.5-3)
 * on the pooled records.  Pure: no I/O, no globals, links with -lm only.
 *
 * The split (statistics.md §2):
 *   node         km_life_table: its records -> N and one row (t, d, c) per
 *                distinct time, ascending, optionally after rounding every
 *                time up to a grid (binned mode, §2.7);
 *   coordinator  km_pool: sum the nodes' rows time by time (N = sum N_k);
 *                km_fit: every survfit column from the pooled table;
 *                km_at_times: summary(fit, times =, extend =).
 * Since rounding is per record and the merge is a sum, the coordinator's
 * result is survfit() on the pooled (rounded) records, whatever the split.
 *
 * R conventions copied (and tested against R output, tests/unit/test_km.c):
 *   - risk set at t is {i : t_i >= t}: at a tied time events come before
 *     censorings;  n.risk is counted in integers, N minus earlier leavers;
 *   - one row per distinct time, censor-only times included;
 *   - S is the running product of (n - d)/n, Greenwood G the running sum of
 *     d/(n(n - d)); G = +Inf once S = 0 (n == d), as R keeps it;
 *   - std_err is the standard error of S, S*sqrt(G), as summary.survfit
 *     prints it (NaN where S = 0 and G = Inf, as in R);
 *   - confidence limits (survfit_confint, 3.5-3), z = qnorm(1-(1-level)/2):
 *       log      exp(log S -/+ z sqrt G), upper capped at 1; NaN where S = 0
 *       log-log  exp(-exp(log(-log S) -/+ z sqrt G / log S)); NaN where S = 0
 *                or S = 1 (3.5-3; 3.8-4 and later give [1, 1] at S = 1)
 *       plain    S -/+ z S sqrt G clipped to [0, 1]; NaN where S = 0 (R's
 *                pmax(NaN, 0) is NaN, C's fmax is not: handled explicitly);
 *   - median and its limits as print.survfit (survmean's minmin, Rule A of
 *     §2.5), applied to S, lower and upper.
 * NaN stands for R's NA throughout.  Do not build with -ffast-math.
 */
#ifndef KM_H
#define KM_H

#include <stddef.h>
#include <stdint.h>

/* Error codes: every function returns 0 or one of these. */
#define KM_EINVAL (-1)      /* bad argument: negative time, status not 0/1, rows not ascending, counts inconsistent */
#define KM_ENOMEM (-2)
#define KM_ERANGE (-3)      /* a time rounded up to the grid would exceed KM_MAX_TIME */
#define KM_EEMPTY (-4)      /* km_fit on a table with N = 0: R has no curve either */

#define KM_MAX_TIME INT32_MAX           /* times are days, int32 on the wire */
#define KM_MAX_N ((int64_t)1 << 40)     /* records in one table: sums stay exact in int64 and double */
#define KM_MAX_TABLES 4096              /* tables pooled in one km_pool call */
#define KM_MAX_TIMES 10000              /* requested times in one km_at_times call */
#define KM_DENSE_SLACK 4096             /* life table by counting while max time / grid + 1 <= 2n + this */
#define KM_MEDIAN_TOL 1.4901161193847656e-08    /* sqrt(DBL_EPSILON), survmean's tolerance */

enum km_conf_type {
    KM_CONF_LOG = 0,                /* R's default */
    KM_CONF_LOGLOG,
    KM_CONF_PLAIN
};

/* One distinct time of a life table: events d and censorings c at time t. */
struct km_row {
    int32_t time;
    int64_t d;
    int64_t c;
};

/*
 * A life table: what a node sends and what km_pool returns.  Invariants
 * (checked by km_pool and km_fit): rows strictly ascending in time, d and c
 * non-negative with d + c > 0, and sum(d + c) == n.
 */
struct km_table {
    int64_t n;                      /* records */
    struct km_row *rows;
    size_t nrows;
};

/* One row of the fitted curve, named as R's survfit columns. */
struct km_point {
    int32_t time;
    int64_t n_risk, n_event, n_censor;
    double surv;
    double std_err;                 /* of surv: summary.survfit's std.err = surv * se_log */
    double se_log;                  /* sqrt(Greenwood) = survfit()$std.err (se of log S) */
    double cumhaz, std_chaz;        /* Nelson-Aalen and its standard error */
    double lower, upper;            /* NaN where R gives NA */
};

struct km_curve {
    int64_t n, events;
    enum km_conf_type conf_type;
    double conf_int;                /* e.g. 0.95 */
    struct km_point *pts;
    size_t npts;
    double median, median_lower, median_upper;  /* print.survfit; NaN = NA */
};

/*
 * Node side.  From n records (time[i] >= 0, event[i] 0 = censored,
 * 1 = event) build the life table in *out (caller releases it with
 * km_table_release).  grid > 0 first rounds every time up to the next
 * multiple of grid: 0 stays 0, 1..grid -> grid, grid+1..2*grid -> 2*grid; a
 * time already on the grid stays.  grid == 0 keeps exact times.  n == 0 gives
 * an empty table (n = 0, no rows): a node with nobody in a stratum still
 * answers.  Time[] and event[] may be NULL when n == 0.
 */
int km_life_table(const int32_t *time, const uint8_t *event, size_t n, int32_t grid,
                  struct km_table *out);

/* Round one time up to the grid as km_life_table does; KM_ERANGE past KM_MAX_TIME. */
int km_grid_ceil(int32_t time, int32_t grid, int32_t *out);

/* KM_EINVAL unless *t meets the invariants above (what km_pool checks of each input). */
int km_table_check(const struct km_table *t);

/*
 * Coordinator side.  Pool ntables life tables (ntables <= KM_MAX_TABLES) into
 * *out: union of times, d and c summed per time, n summed.  Each input is
 * checked against the invariants above (KM_EINVAL otherwise).
 */
int km_pool(const struct km_table *tables, size_t ntables, struct km_table *out);

/*
 * Every survfit column from a pooled table, with limits of the given type at
 * level conf_int (0 < conf_int < 1), and the median with its limits.
 * KM_EEMPTY if table->n == 0.  Release *out with km_curve_release.
 */
int km_fit(const struct km_table *table, enum km_conf_type conf_type, double conf_int,
           struct km_curve *out);

/* km_pool then km_fit: the coordinator's whole merge. */
int km_merge(const struct km_table *tables, size_t ntables, enum km_conf_type conf_type,
             double conf_int, struct km_curve *out);

/*
 * summary(fit, times = times, extend = extend), as survival 3.5-3 computes it:
 * the requested times are sorted (duplicates kept) and, unless extend, those
 * after the last time of the curve are dropped.  At each kept time tau:
 *   surv, std_err, se_log, lower, upper, cumhaz, std_chaz are those of the last
 *     row with time <= tau, or of survfit0's added start row (surv 1, std_err 0,
 *     limits 1, cumhaz 0) when there is none;
 *   n_risk = #{records with time >= tau} (0 past the end);
 *   n_event, n_censor = those in (previous kept tau, tau].
 * Negative times are rejected (KM_EINVAL).  *out gets a malloc'd array
 * (free() it; NULL when *nout == 0) of *nout <= ntimes points.
 */
int km_at_times(const struct km_curve *curve, const int32_t *times, size_t ntimes, int extend,
                struct km_point **out, size_t *nout);

/* Standard normal quantile (Wichura's AS 241, the algorithm of R's qnorm). */
double km_qnorm(double p);

/* Which column of a curve a median rule reads. */
enum km_column {
    KM_COL_SURV = 0,
    KM_COL_LOWER,
    KM_COL_UPPER
};

/*
 * print.survfit's median rule (survmean's minmin, Rule A of §2.5) on one
 * column: keep the points where it is not NaN and < 0.5 + KM_MEDIAN_TOL; NaN
 * if none; if the first kept value is within the tolerance of 0.5 and a later
 * kept value is lower, the mean of the two times, else the first kept time.
 */
double km_median_rule(const struct km_point *pts, size_t npts, enum km_column col);

/*
 * Restricted mean survival up to tau and its standard error, as survival
 * 3.5-3 gives them in print.survfit(fit, rmean = tau) and
 * summary(fit, rmean = tau)$table ("rmean", "se(rmean)"; survmean's pfun,
 * copied operation for operation, with R's long double sums):
 *   the curve's points t_1 < ... < t_k with t_j <= tau (censor-only ones
 *   included, as in the survfit object), rectangles r_1 = t_1 - 0,
 *   r_j = (t_j - t_(j-1)) S_(j-1), r_(k+1) = (tau - t_k) S_k (the last value
 *   carried to tau, also past the last follow-up, without a note);
 *   rmean = sum r_j (start time 0: times are never negative);
 *   se^2 = sum_j A_j^2 h_j, A_j = r_(j+1) + ... + r_(k+1) the area after t_j,
 *   h_j = d_j / (n_j (n_j - d_j)), 0 where n_j == d_j;
 *   no point at or before tau: rmean = tau, se = 0.
 * R stops when tau is below the smallest time of the whole fit (every
 * stratum): that check is the caller's, over its curves (km_rmean_first).
 * KM_EINVAL unless 0 < tau < Inf.
 */
struct km_rmean {
    double tau;
    double rmean, se;
};

int km_rmean(const struct km_curve *curve, double tau, struct km_rmean *out);

/*
 * The first time of the curves together (R's min(fit$time)), for the check
 * above; INFINITY when no curve has a point.
 */
double km_rmean_first(const struct km_curve *const *curves, size_t ncurves);

/*
 * The difference of two restricted means, b - a, for two independent
 * groups: se = sqrt(se_a^2 + se_b^2), a Wald interval diff -/+ z se with
 * z = qnorm(1 - (1 - conf_int)/2), and p = 2 pnorm(-|diff/se|) (as R's
 * 2 * pnorm(-abs(d / se)): NaN for 0/0, 0 for d/0).  KM_EINVAL unless
 * 0 < conf_int < 1 and both taus are equal.
 */
struct km_rmean_diff {
    double diff, se, lower, upper, p;
};

int km_rmean_diff(const struct km_rmean *a, const struct km_rmean *b, double conf_int,
                  struct km_rmean_diff *out);

void km_table_release(struct km_table *t);
void km_curve_release(struct km_curve *c);

#endif /* !KM_H */
