/*
 * disclose - see disclose.h.
 */
#include "analysis/disclose.h"

int
disclose_policy_valid(const struct disclose_policy *p)
{
    return p->min_cell >= 1 && p->min_cell <= DISCLOSE_MAX_MIN_CELL &&
           p->time_grid_days <= DISCLOSE_MAX_GRID_DAYS;
}

int
disclose_suppress(const struct disclose_policy *p, uint64_t n)
{
    return n >= 1 && n < p->min_cell;
}

uint32_t
disclose_max_hidden(const struct disclose_policy *p)
{
    return p->min_cell > 0 ? p->min_cell - 1 : 0;
}
