/*
 * pool - release rules on a pooled table; see pool.h.
 */
#include "analysis/pool.h"

static uint32_t
max32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

void
pool_policy_merge(struct pool_policy *acc, const struct pool_policy *p)
{
    acc->min_cell = max32(acc->min_cell, p->min_cell);
    acc->min_sites = max32(acc->min_sites, p->min_sites);
    acc->grid_days = max32(acc->grid_days, p->grid_days);
    acc->min_events_per_param = max32(acc->min_events_per_param, p->min_events_per_param);
}

int
pool_position_check(const struct pool_position *x, uint32_t nodes)
{
    if (x->contributing > nodes || x->small > x->contributing ||
        x->withheld > x->contributing)
        return -1;
    /* Each contributing node adds at least 1; a value without contributors is a lie. */
    if ((x->value == 0) != (x->contributing == 0) || x->value < x->contributing)
        return -1;
    return 0;
}

enum pool_verdict
pool_decide(const struct pool_policy *p, const struct pool_position *x)
{
    if (x->value == 0)
        return POOL_RELEASED;
    if (x->value < p->min_cell)
        return POOL_SMALL;
    if (x->withheld > 0)
        return POOL_WITHHELD;
    if (x->contributing < p->min_sites && x->small > 0)
        return POOL_FEW_SITES;
    return POOL_RELEASED;
}

const char *
pool_verdict_name(enum pool_verdict v)
{
    switch (v) {
    case POOL_RELEASED: return "released";
    case POOL_SMALL: return "small";
    case POOL_FEW_SITES: return "sites";
    case POOL_WITHHELD: return "withheld";
    }
    return "?";
}

uint64_t
pool_survival_cut(const struct pool_policy *p, const uint64_t *events,
    const uint64_t *censored, size_t nbins, size_t *cut)
{
    uint64_t n = 0;
    for (size_t b = 0; b < nbins; b++)
        n += events[b] + censored[b];
    uint64_t at_risk = n;
    size_t b = 0;
    for (; b < nbins && at_risk >= p->min_cell; b++)
        at_risk -= events[b] + censored[b];
    /* Bin b is the first whose risk set (those still in at its time) is below min_cell. */
    *cut = b;
    return n;
}
