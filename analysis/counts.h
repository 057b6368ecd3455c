/*
 * counts - merge per-node count tables into the pooled table.
 *
 * A cell is keyed by one integer code per group-by variable (the caller maps
 * levels to codes whose order is the output order).  Each node contributes
 * either an exact count or, for a cell it suppressed, the largest value it
 * could have hidden.  The pooled cell then has
 *     count     = sum of exact counts released,
 *     count_max = count + sum of the hidden maxima,
 * so the true pooled count lies in [count, count_max] and the two are equal
 * where nothing was suppressed (interface.md).  A cell a node withheld
 * (complementary suppression: its count is unknown, not bounded) makes the
 * pooled cell's count_max unknown: nwithheld > 0.  Pure: no I/O.
 */
#ifndef COUNTS_H
#define COUNTS_H

#include <stddef.h>
#include <stdint.h>

#define COUNTS_MAX_VARS 4               /* group-by variables (WIRE_MAX_GROUP_BY) */
#define COUNTS_WITHHELD UINT64_MAX      /* hidden: the node withheld the cell, no bound */

struct counts_cell {
    int64_t key[COUNTS_MAX_VARS];   /* codes of the levels; unused slots are 0 */
    uint64_t count;                 /* sum of released counts */
    uint64_t count_max;             /* count + hidden maxima */
    uint32_t nsuppressed;           /* nodes that suppressed this cell */
    uint32_t nwithheld;             /* nodes that withheld it: count_max is unknown */
};

struct counts_table {
    size_t nvars;                   /* group-by variables, 0..COUNTS_MAX_VARS */
    struct counts_cell *cells;      /* after counts_finish: sorted by key, unique */
    size_t ncells;
    size_t cap;
};

/* -1 if nvars > COUNTS_MAX_VARS. */
int counts_init(struct counts_table *t, size_t nvars);
/*
 * Add one node's cell: hidden == 0 for an exact count, COUNTS_WITHHELD for a
 * withheld cell, else the node's maximum.  -1 on OOM.
 */
int counts_add(struct counts_table *t, const int64_t *key, uint64_t count, uint64_t hidden);
/* Sort by key and merge cells with equal keys. */
void counts_finish(struct counts_table *t);
void counts_release(struct counts_table *t);

#endif /* !COUNTS_H */
