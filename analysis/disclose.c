/*
 * disclose - see disclose.h.
 */
#include "analysis/disclose.h"

int
disclose_policy_valid(const struct disclose_policy *p)
{
    return p->min_cell >= 1 && p->min_cell <= DISCLOSE_MAX_MIN_CELL &&
           p->time_grid_days <= DISCLOSE_MAX_GRID_DAYS && p->min_events_per_param >= 1 &&
           p->min_events_per_param <= DISCLOSE_MAX_EVENTS_PER_PARAM;
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

uint64_t
disclose_model_events_short(const struct disclose_policy *pol, uint64_t events, uint64_t p)
{
    uint64_t need = (uint64_t)pol->min_events_per_param * p;
    if (need < pol->min_cell)
        need = pol->min_cell;
    return events == 0 || events >= need ? 0 : need;
}
