/*
 * disclose - the node's disclosure rules as pure functions of the policy and
 * the true numbers.  Every number a node releases passes through here.
 *
 * Small-cell rule: a count n with 1 <= n < min_cell is suppressed (released
 * as "between 1 and min_cell-1"); 0 and n >= min_cell are released exactly.
 * Zero is not hidden: it says nobody has the combination, which the
 * suppression of 1..min_cell-1 does not protect anyway.
 */
#ifndef DISCLOSE_H
#define DISCLOSE_H

#include <stdint.h>

#define DISCLOSE_DEFAULT_MIN_CELL 5
#define DISCLOSE_MAX_MIN_CELL 1000      /* larger thresholds are a configuration error */
#define DISCLOSE_DEFAULT_GRID_DAYS 30
#define DISCLOSE_MAX_GRID_DAYS 3660
/*
 * Models (Cox, logistic): a node answers a round only if its events (and,
 * for a logistic model, its non-events) number 0 or at least
 * min_events_per_parameter x the coefficients, and at least min_cell.  With
 * the default 3 a model can never have one free parameter per patient (as
 * DataSHIELD's nfilter.glm, p <= 0.33 n, but counted in events).
 */
#define DISCLOSE_DEFAULT_EVENTS_PER_PARAM 3
#define DISCLOSE_MAX_EVENTS_PER_PARAM 1000

struct disclose_policy {
    uint32_t min_cell;              /* smallest non-zero count released (>= 1) */
    uint32_t time_grid_days;        /* finest time resolution released; 0 = exact */
    uint32_t min_events_per_param;  /* models: events needed per coefficient (>= 1) */
};

/* 1 if the policy is usable (min_cell in 1..DISCLOSE_MAX_MIN_CELL, grid in range). */
int disclose_policy_valid(const struct disclose_policy *p);
/* 1 if a true count n must be suppressed. */
int disclose_suppress(const struct disclose_policy *p, uint64_t n);
/*
 * 0 if a node may answer a model round with ${events} events (or
 * non-events) for ${p} coefficients; otherwise the number it would need.
 */
uint64_t disclose_model_events_short(const struct disclose_policy *pol, uint64_t events,
    uint64_t p);
/* The largest count a suppressed cell can hide (min_cell - 1). */
uint32_t disclose_max_hidden(const struct disclose_policy *p);

#endif /* !DISCLOSE_H */
