/*
 * layout - the fixed positions of a pooled answer (issue 14, pooled release).
 *
 * Masked shares add up only if position i means the same thing at every
 * node and at the hub, and no node may choose its positions from its data
 * (the set of levels a node holds is itself a per-node value).  So the
 * layout is a function of the query spec alone:
 *
 *   count  one position per combination of the grouping variables' levels,
 *          every level of the catalogue (proto/vars.h): a closed level list,
 *          or an integer variable's whole range; the first variable varies
 *          slowest (mixed radix).  Open variables (ICD-O-3 codes) have no
 *          level list and cannot be pooled.  No grouping: one position.
 *   km     first every stratum's size n (the strata: the combinations as
 *          for count), then per stratum nbins time bins, each ONE element
 *          holding two counts in lanes of LAYOUT_LANE_BITS: the events,
 *          plus the censorings times 2^32 (cif: then nbins of competing
 *          events, one count each; logrank not stratified by node is km's
 *          layout).  The lanes add without carrying while the pooled
 *          stratum holds fewer than 2^32 patients (both counts are at most
 *          its size), which the hub checks before it decodes; the element
 *          is masked in Z_2^64 as a whole, so it is as uniform as any, and a
 *          pooled km sends half the elements of a bin per count.
 *          Bin k holds times k x grid (times are rounded up to the grid at
 *          the node, as in direct mode); the bins reach LAYOUT_HORIZON_DAYS.
 *          Pooled survival needs a grid: exact times would make the layout
 *          depend on the data.
 */
#ifndef LAYOUT_H
#define LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/vars.h"
#include "proto/wire.h"

#define LAYOUT_HORIZON_DAYS 36525       /* 100 years of follow-up */
#define LAYOUT_MAX_POSITIONS (1u << 17) /* a pooled answer's positions: 4 x 8 bytes each, 4 MiB */
#define LAYOUT_LEVEL_TEXT 16            /* an integer level as text */
/*
 * A share is LAYOUT_VECTORS vectors, in this order (node/share.h says what
 * each holds): the values of all npos positions, then for each of the
 * first nflag positions whether the node contributed, was small, withheld.
 * The flagged positions are what the release rules read: a count's cells,
 * a survival stratum's size.  A time bin has no flags: the pooled curve is
 * cut by its pooled risk set (R4), and the hub has no use for the number of
 * nodes with an event in each bin, so it does not learn it; the shares are
 * also a quarter of the size they would be.  Each vector is masked under its
 * own label, in the count ring Z_2^64 (lib/mask.h mask_apply_counts).
 */
#define LAYOUT_VECTORS 4
#define LAYOUT_VALUE 0
#define LAYOUT_CONTRIB 1
#define LAYOUT_SMALL 2
#define LAYOUT_WITHHELD 3

enum layout_kind { LAYOUT_COUNT, LAYOUT_SURV };

struct layout {
    enum layout_kind kind;
    size_t nvars;
    const struct var_def *var[WIRE_MAX_GROUP_BY];
    uint32_t nlevels[WIRE_MAX_GROUP_BY];
    size_t ncells;                  /* combinations (count: cells; km: strata) */
    uint32_t grid;                  /* km: the grid in days */
    size_t nbins;                   /* km: time bins per stratum */
    int competing;                  /* cif: a third row of bins, the competing events */
    size_t npos;                    /* positions in all */
    size_t nflag;                   /* the first nflag positions carry flags */
};

/* The layout of a pooled spec of kind count or km at the given grid (km only). */
int layout_make(const Fedra__QuerySpec *spec, uint32_t grid, struct layout *L, char *err);
/* Index of level text of grouping variable k, or -1 if the catalogue has no such level. */
int layout_level(const struct layout *L, size_t k, const char *level);
/* The text of level idx of variable k (buf holds integer levels). */
const char *layout_level_text(const struct layout *L, size_t k, uint32_t idx,
    char buf[LAYOUT_LEVEL_TEXT]);
/* Combination <-> its level indices (nvars of them). */
size_t layout_cell(const struct layout *L, const uint32_t *idx);
void layout_cell_levels(const struct layout *L, size_t cell, uint32_t *idx);
/* km: position of stratum s's n, and of its events and censorings at bin k (one element). */
size_t layout_surv_n(const struct layout *L, size_t s);
size_t layout_surv_bin(const struct layout *L, size_t s, size_t k);
/* A bin's element: events in the low lane, censorings in the high one; and back. */
#define LAYOUT_LANE_BITS 32
#define LAYOUT_LANE_MAX (((uint64_t)1 << LAYOUT_LANE_BITS) - 1)    /* a lane's largest count */
uint64_t layout_bin_pack(uint64_t events, uint64_t censored);
void layout_bin_unpack(uint64_t x, uint64_t *events, uint64_t *censored);
/* cif only: position of stratum s's competing events at bin k. */
size_t layout_surv_competing(const struct layout *L, size_t s, size_t k);
/* The mask label of vector k ("value", "contrib", "small", "withheld"). */
const char *layout_vector_label(int k);
/* Ring elements of a share in all; where vector k starts in it, and its length. */
size_t layout_elems(const struct layout *L);
size_t layout_vector_off(const struct layout *L, int k);
size_t layout_vector_len(const struct layout *L, int k);
/* km: the bin of a time on the grid; -1 if it is not on the grid or past the horizon. */
long layout_bin(const struct layout *L, int32_t time);

#endif /* !LAYOUT_H */
