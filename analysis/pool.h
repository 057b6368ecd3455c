/*
 * pool - the release rules applied to a pooled table (issue 14, pooled
 * release; docs/disclosure.md).  Pure: no I/O, no globals.
 *
 * Under pooled release every node sends, masked (lib/mask.h), its value at
 * each position of a layout fixed by the query (a count cell; a stratum's
 * size; a time bin's events and censorings) and three flags per position:
 * whether it contributed (its value there is not 0), whether its own value
 * there is small (1 .. its min_cell - 1), and whether its own auditor
 * withheld it.  The release service unmasks only sums, so per position it
 * learns the pooled value and how many nodes contributed, were small or
 * withheld: never which ones, never one node's value.
 *
 * A pooled position is released exactly iff
 *   - its pooled value is 0 (nobody: zero is not hidden, as at a node), or
 *   - it is at least min_cell, no node withheld it, and either at least
 *     min_sites nodes contributed or none of them was small (each could
 *     have released its own value: pooling then shows nothing new);
 * otherwise it is suppressed (reason: small, sites or withheld).  The policy
 * is the strictest of the participants' (pool_policy_merge: the largest
 * min_cell, min_sites, grid and events per parameter).
 */
#ifndef POOL_H
#define POOL_H

#include <stddef.h>
#include <stdint.h>

#define POOL_DEFAULT_MIN_SITES 3
/*
 * Participants a pooled result needs: with 3, a node colluding with the
 * analyst or the hub learns from the pool only the sum of at least two
 * others (docs/disclosure.md "Pooled release").
 */
#define POOL_MIN_PARTICIPANTS 3
#define POOL_MAX_MIN_SITES 256          /* WIRE_MAX_AUDIENCE */

struct pool_policy {
    uint32_t min_cell;              /* smallest pooled non-zero value released */
    uint32_t min_sites;             /* contributing nodes a position needs (see above) */
    uint32_t grid_days;             /* time grid of pooled survival tables */
    uint32_t min_events_per_param;  /* models: pooled events per coefficient */
};

/* The strictest of acc and p, into acc (start from a zeroed acc). */
void pool_policy_merge(struct pool_policy *acc, const struct pool_policy *p);

/* One unmasked position. */
struct pool_position {
    uint64_t value;                 /* pooled value */
    uint32_t contributing;          /* nodes whose value there is not 0 */
    uint32_t small;                 /* nodes whose value there is 1 .. own min_cell - 1 */
    uint32_t withheld;              /* nodes whose auditor withheld it */
};

enum pool_verdict {
    POOL_RELEASED = 0,
    POOL_SMALL,                     /* pooled value 1 .. min_cell - 1 */
    POOL_FEW_SITES,                 /* fewer than min_sites nodes, one of them small */
    POOL_WITHHELD                   /* a node's auditor withheld it */
};

/* Is x consistent (counts no larger than the roster, small and withheld within
 * contributing, contributing iff value)?  0 if so, -1 if not. */
int pool_position_check(const struct pool_position *x, uint32_t nodes);
enum pool_verdict pool_decide(const struct pool_policy *p, const struct pool_position *x);
const char *pool_verdict_name(enum pool_verdict v);    /* "released", "small", ... */

/*
 * A pooled survival stratum on the time grid: bins[b] holds the events and
 * censorings of time (b + 1) * grid (times rounded up to the grid, as at a
 * node).  The curve is cut where fewer than min_cell remain at risk (R4
 * applied to the pooled table): *cut receives the number of bins kept, and
 * the first time not shown is (*cut + 1) * grid (0 kept: the stratum shows
 * no time).  Returns the stratum size.
 */
uint64_t pool_survival_cut(const struct pool_policy *p, const uint64_t *events,
    const uint64_t *censored, size_t nbins, size_t *cut);

#endif /* !POOL_H */
