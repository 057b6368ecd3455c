/*
 * logrank - the log-rank test of survdiff() (survival 3.5-3), pooled or
 * stratified by node.  Pure: no I/O, no globals, links with -lm only.
 *
 * Both tests are built from O (observed events), E (expected) and V (their
 * covariance), G of each for G groups, accumulated over event times exactly as
 * survival's src/survdiff2.c (rho = 0) does:
 *   at each time t with d = sum_g d_g(t) > 0, n = sum_g n_g(t),
 *     O_g += d_g;  E_g += d n_g / n;
 *     V_gh += d n_g (n - d) / (n (n - 1)) * (delta_gh - n_h / n), skipped when n == 1;
 *   where n_g(t) = #{records of group g with time >= t} (events before
 *   censorings at a tied time).
 *
 *   pooled (survdiff(Surv ~ g)): every node sends one km life table per group
 *     (km_life_table); the coordinator pools each group over nodes (km_pool)
 *     and calls logrank_oev on the pooled tables: the risk sets are the
 *     pooled ones, so the result is survdiff on the pooled records.
 *   stratified by node (survdiff(Surv ~ g + strata(node))): every node runs
 *     logrank_node_oev on its own records and sends only O, E, V; the
 *     coordinator sums them (logrank_oev_add).  A different test (§3.4).
 * In both cases logrank_test then gives chisq, df and p as survdiff does:
 *   keep the groups with E_g > 0, drop the first kept one, solve
 *   V[kept, kept] x = (O - E)[kept], chisq = sum x (O - E); df = kept - 1;
 *   fewer than two kept groups: chisq = 0, df = 0, p = 1 (pchisq(0, 0, lower.tail = FALSE)).
 * Groups are coded 0..G-1 and fixed by the query; a group with no records
 * has n = O = E = 0 and drops out exactly as survdiff drops an absent level.
 *
 * Singular V: survdiff calls solve(), which stops with an error ("system is
 * exactly singular", or "computationally singular" when LAPACK's reciprocal
 * condition estimate is below DBL_EPSILON); it does not use a generalized
 * inverse.  logrank_test returns LOGRANK_ESINGULAR in the same cases: an
 * exactly zero pivot of the LU factorisation with partial pivoting (dgesv's
 * test), or an exact 1-norm reciprocal condition number below DBL_EPSILON.
 * (LAPACK's dgecon estimates that number from above, so for a matrix with
 * rcond just under DBL_EPSILON R may still answer where this refuses; the
 * answer there is noise in either program.)  Example: two groups, one event
 * each, both at the same time as the only records: V = 0.
 */
#ifndef LOGRANK_H
#define LOGRANK_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/km.h"

/* Error codes: every function returns 0 or one of these (the first three as KM_*). */
#define LOGRANK_EINVAL (-1)
#define LOGRANK_ENOMEM (-2)
#define LOGRANK_ERANGE (-3)     /* from km_life_table: a time rounded to the grid overflows */
#define LOGRANK_ESINGULAR (-5)  /* V restricted to the tested groups is singular: R's solve() stops */

#define LOGRANK_MAX_GROUPS 64   /* G; a node sends 2G + G^2 numbers */

struct logrank_oev {
    size_t ngroups;
    int64_t *n;         /* records per group */
    double *o;          /* observed events, G */
    double *e;          /* expected events, G */
    double *v;          /* G x G row-major: v[i * G + j] is R's var[i, j] */
};

struct logrank_result {
    double chisq;
    int df;
    double p;           /* upper tail of chi-square(df) at chisq */
};

/* Zeroed O, E, V for 1 <= ngroups <= LOGRANK_MAX_GROUPS. */
int logrank_oev_init(struct logrank_oev *x, size_t ngroups);
void logrank_oev_release(struct logrank_oev *x);

/*
 * O, E, V from one life table per group (groups[g], g < ngroups; each table
 * valid as km.h defines; empty tables allowed), into *out, which is
 * initialised here (release it with logrank_oev_release).
 */
int logrank_oev(const struct km_table *groups, size_t ngroups, struct logrank_oev *out);

/*
 * Node side of the stratified test: O, E, V of this node's n records,
 * group[i] < ngroups, times rounded up to grid as km_life_table does
 * (grid 0 = exact).  Initialises *out.
 */
int logrank_node_oev(const int32_t *time, const uint8_t *event, const uint32_t *group,
                     size_t n, size_t ngroups, int32_t grid, struct logrank_oev *out);

/*
 * Coordinator side of the pooled test: tables[k * ngroups + g] is node k's
 * life table of group g (nnodes * ngroups of them; nnodes <= KM_MAX_TABLES).
 * Pools each group over the nodes, then logrank_oev.  Initialises *out.
 */
int logrank_pooled(const struct km_table *tables, size_t nnodes, size_t ngroups,
                   struct logrank_oev *out);

/* Coordinator side of the stratified test: sum += x (same ngroups). */
int logrank_oev_add(struct logrank_oev *sum, const struct logrank_oev *x);

/* chisq, df, p from O, E, V as survdiff does (see above). */
int logrank_test(const struct logrank_oev *x, struct logrank_result *r);

/*
 * P(X > x) for X ~ chi-square with integer df >= 0, by the closed forms of
 * statistics.md §3.3 (exp and erfc only).  df = 0: 1 if x <= 0, else 0.
 */
double logrank_chisq_upper(double x, int df);

#endif /* !LOGRANK_H */
