/*
 * cif - pooled cumulative incidence with competing risks (Aalen-Johansen),
 * equal to R's multi-state survfit() (survival 3.5-3) on the pooled
 * records, and Gray's test equal to cmprsk::cuminc() (cmprsk 2.2-11).
 * Pure: no I/O, no globals, links with -lm only.
 *
 * States: 0 event-free, 1 the first cause (relapse: the first event_date),
 * 2 the competing cause (death without an earlier relapse).  A record
 * leaves state 0 once, at its time, for state 1 or 2 (an event) or nowhere
 * (censored): R's Surv(time, factor(status, 0:2, c("censor", "relapse",
 * "death"))) with no id, no weights and no clustering.
 *
 * The split: a node sends, per stratum, one row (t, d1, d2, c) per distinct
 * time (KIND_CIF: LifeTable.events = d1, .competing = d2, .censored = c); the
 * coordinator sums the rows time by time (cif_pool) and computes everything
 * from the pooled table (cif_fit, cif_at_times, cif_gray).  So the result is
 * R's on the pooled records whatever the split, and a pooled table (issue
 * 14) can feed the same functions.
 *
 * The estimate (R survival's survfitci.c, which does this by subject): at
 * a time with n at risk and d = d1 + d2 > 0 events the transition matrix H
 * has row 0 (1 - d/n, d1/n, d2/n) and rows 1, 2 the identity (absorbing);
 * p <- p H from p = (1, 0, 0): p0 is the Kaplan-Meier of any event, p1 and
 * p2 the cumulative incidences, p_k += S(t-) d_k / n.
 *
 * The standard error: survfit's infinitesimal jackknife.  Each subject i
 * has an influence row U_i (3 states), 0 at the start; at each event time
 * every row becomes U_i H, and every subject at risk then gets
 * - (p0 / n) h0 + (p0 / n) e_s, with h0 = row 0 of H and s its state just
 * after the time (0 if it stays or is censored, 1 or 2 if it moves);
 * var p_k(t) = sum_i U_ik(t)^2.  Subjects are exchangeable: all those still
 * at risk carry the same row A, and a subject's row after it leaves only
 * goes on being multiplied by the same H as everyone's.  So with
 * M = sum over the subjects who left of U_i' U_i (3 x 3):
 *     at an event time   M <- H' M H, A <- A H; B_s = A - (p0/n) h0 + (p0/n) e_s;
 *                        the d1 movers to 1 (B_1), d2 to 2 (B_2) and c censored
 *                        (B_0) join M; A <- B_0;
 *     at a censor-only time   nothing changes (R's U does not); c rows A join M;
 *     var(t) = diag(M + (n - d - c) A' A), n - d - c the subjects still at risk.
 * Every step needs only (n, d1, d2, c) per time: O(times), and the pooled
 * table gives it exactly.  (The sums are grouped rather than subject by
 * subject, so the last bits may differ from R's: tests/unit/test_cif.c
 * checks 1e-12 relative.)
 *
 * Confidence limits: multi-state survfit's default, conf.type "log", on the
 * se of p (survfit_confint with logse = FALSE): se_log = se / p (0 if
 * se = 0), limits exp(log p -/+ z se_log), upper capped at 1; NaN (R's NA)
 * where p = 0.
 *
 * Gray's test (cmprsk's crstm/crst, rho = 0, one stratum): for the cause of
 * interest, per group g and distinct time, from the per-group risk sets and
 * counts of the two causes (cause of interest, other cause) only: the
 * score s (first G - 1 groups) and its variance V, statistic s' V^-1 s on
 * G - 1 degrees of freedom, p = 1 - pchisq(stat, G - 1) as cuminc computes
 * it.  Groups with no patients are left out (cuminc drops them).  cuminc
 * decides V singular by qr()'s rank test (tolerance 1e-7): here
 * linalg_chol_rel with CIF_GRAY_TOL, and CIF_ESINGULAR where cuminc would
 * report stat = -1.
 * NaN stands for R's NA throughout.  Do not build with -ffast-math.
 */
#ifndef CIF_H
#define CIF_H

#include <stddef.h>
#include <stdint.h>

/* Error codes: every function returns 0 or one of these. */
#define CIF_EINVAL (-1)         /* bad argument: rows not ascending, counts inconsistent */
#define CIF_ENOMEM (-2)
#define CIF_ERANGE (-3)         /* a time rounded up to the grid would not fit an int32 */
#define CIF_EEMPTY (-4)         /* cif_fit on a table with N = 0: R has no curve either */
#define CIF_ESINGULAR (-5)      /* Gray's test: V not of full rank (cuminc: stat -1) */
#define CIF_EGROUPS (-6)        /* Gray's test: fewer than 2 groups with patients */
#define CIF_ENOEVENTS (-7)      /* Gray's test: no event of the cause (cuminc has no test of it) */

#define CIF_STATES 3                    /* event-free, cause 1, cause 2 */
#define CIF_MAX_N ((int64_t)1 << 40)    /* records in one table: sums stay exact */
#define CIF_MAX_TABLES 4096             /* tables pooled in one cif_pool call */
#define CIF_MAX_TIMES 10000             /* requested times in one cif_at_times call */
#define CIF_MAX_GROUPS 128              /* groups of Gray's test (WIRE_MAX_STRATA) */
#define CIF_GRAY_TOL 1e-7               /* qr()'s rank tolerance, as cuminc calls it */

/* One distinct time: d[0] events of cause 1, d[1] of cause 2, c censorings. */
struct cif_row {
    int32_t time;
    int64_t d[2];
    int64_t c;
};

/*
 * A life table by cause.  Invariants (cif_table_check): rows strictly
 * ascending in time, counts non-negative, d[0] + d[1] + c > 0 on every row,
 * and the sum of all counts == n.
 */
struct cif_table {
    int64_t n;
    struct cif_row *rows;
    size_t nrows;
};

/* One row of the fitted curves, by state (0 event-free, 1 and 2 the causes). */
struct cif_point {
    int32_t time;
    int64_t n_risk;                 /* at risk in state 0 */
    int64_t n_event[CIF_STATES];    /* arrivals in each state ([0] is 0) */
    int64_t n_censor;
    double p[CIF_STATES];           /* pstate: p[1], p[2] are the cumulative incidences */
    double std_err[CIF_STATES];     /* of p (survfit's std.err, logse = FALSE) */
    double lower[CIF_STATES], upper[CIF_STATES];    /* log limits; NaN where R gives NA */
};

struct cif_curve {
    int64_t n;
    int64_t events[CIF_STATES];     /* events per cause ([0] is 0) */
    double conf_int;
    struct cif_point *pts;
    size_t npts;
};

/* Gray's test of one cause among groups (cmprsk::cuminc()$Tests). */
struct cif_gray {
    double chisq;
    int df;
    double p;
};

/*
 * Node side.  From n records (time[i] >= 0, state[i] 0 censored, 1 or 2 the
 * cause) the table by cause in *out, times rounded up to grid as
 * km_life_table does (grid 0: exact).  It is km_life_table twice, on the
 * events of each cause (the same records, so the same rows): d[1] from the
 * second, c = the first's censorings less d[1].  CIF_EINVAL for a bad
 * record, CIF_ERANGE past the largest time.  Release with cif_table_release.
 */
int cif_life_table(const int32_t *time, const uint8_t *state, size_t n, int32_t grid,
    struct cif_table *out);

/* CIF_EINVAL unless *t meets the invariants above. */
int cif_table_check(const struct cif_table *t);

/*
 * Pool ntables (<= CIF_MAX_TABLES) tables into *out: union of times, counts
 * summed per time, n summed.  Each input is checked.  Release with
 * cif_table_release.
 */
int cif_pool(const struct cif_table *tables, size_t ntables, struct cif_table *out);

/*
 * survfit() on the records of the table: one point per row, limits at level
 * conf_int (0 < conf_int < 1).  CIF_EEMPTY if table->n == 0.  Release *out
 * with cif_curve_release.
 */
int cif_fit(const struct cif_table *table, double conf_int, struct cif_curve *out);

/*
 * summary(fit, times = times) (extend = FALSE), as summary.survfitms after
 * survfit0: the times sorted (duplicates kept), those after the curve's last
 * time dropped.  At each kept tau: p, std_err, lower, upper of the last row
 * with time <= tau, or survfit0's start row (p = (1, 0, 0), std_err 0,
 * lower = upper = 0: survfit0 adds lower and upper as 0 for multi-state
 * curves); n_risk = #{records with time >= tau}; n_event, n_censor those
 * in (previous kept tau, tau].  Negative times: CIF_EINVAL.  *out is
 * malloc'd (free() it; NULL when *nout == 0).
 */
int cif_at_times(const struct cif_curve *curve, const int32_t *times, size_t ntimes,
    struct cif_point **out, size_t *nout);

/*
 * Gray's test for cause (1 or 2) among ngroups (<= CIF_MAX_GROUPS) tables,
 * one per group, in the order of the groups; tables with n = 0 are left out.
 * CIF_EGROUPS if fewer than two groups have patients; CIF_ENOEVENTS if no
 * group has an event of the cause (cuminc lists no test for it, or stops
 * when there is no event at all); CIF_ESINGULAR if V is rank-deficient.
 */
int cif_gray(const struct cif_table *groups, size_t ngroups, int cause, struct cif_gray *out);

void cif_table_release(struct cif_table *t);
void cif_curve_release(struct cif_curve *c);

#endif /* !CIF_H */
