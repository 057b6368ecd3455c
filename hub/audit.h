/*
 * audit - the pooled auditor of one pooled route at the hub (issue 14,
 * "Differencing at the pooled level"; docs/disclosure.md §8.7), shared by a
 * pooled table (hub/pool.h) and a pooled fit (hub/fit.h).
 *
 * Opened with the history the route is audited against (hub/phist.h,
 * packed) and the route's query: the atoms of the history and the query
 * (proto/atoms.h) are laid out, every node adds its masked rows per atom
 * (hubaudit_add), the masks cancel in the sum, and hubaudit_decide runs the
 * derivability test (analysis/paudit.h) on the pooled atom sizes with the
 * history's released sets, then the route's candidate sets.
 *
 * The history's sets: a table's released cells (phist_cells); a fit's
 * unions of its cells, all of them (proto/poolmodel.h: a fit is released
 * whole or not at all, so its history entry keeps no cells).
 */
#ifndef HUBAUDIT_H
#define HUBAUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/paudit.h"
#include "hub/phist.h"
#include "lib/mask.h"
#include "proto/wire.h"

struct hubaudit;

/*
 * The auditor of query cur against the packed history hist.  -1 with err
 * (naming the cause, ending "refused (fail closed)" when the query cannot be
 * audited: history full, too many atoms).
 */
int hubaudit_open(struct hubaudit **out, const uint8_t *hist, size_t len,
    const Fedra__QueryBody *cur, char *err);
void hubaudit_free(struct hubaudit *a);
/* The atoms every node must send, and the auditor's query whose cells are cur's. */
size_t hubaudit_natoms(const struct hubaudit *a);
size_t hubaudit_at(const struct hubaudit *a);
/* Add one node's masked rows per atom (count ring: MASK_COUNT_LEN bytes each, natoms). */
void hubaudit_add(struct hubaudit *a, const uint8_t *masked);
/*
 * Decide cand[0 .. n) (sets of query hubaudit_at, largest pooled first) with
 * k = min_cell and the fingerprint seed from qhash (recompute reaches the
 * same verdicts): kept[i] 1 or 0.  A stale history (a set today's sizes no
 * longer admit) keeps nothing.  -1 with err when the pooled atom sizes are
 * not counts or the auditor cannot decide.
 */
int hubaudit_decide(const struct hubaudit *a, const struct paudit_set *cand, size_t n,
    uint32_t min_cell, const uint8_t qhash[WIRE_HASH_LEN], unsigned char *kept, char *err);
/*
 * The sets a fit releases, as unions of the cells of its auditor query q
 * (proto/poolmodel.h): *sets (and the bitmaps they point into, *in) malloc'd.
 * -1 with err if spec is not a fit that can be audited.
 */
int hubaudit_fit_sets(const Fedra__QuerySpec *spec, uint32_t q, struct paudit_set **sets,
    size_t *n, unsigned char **in, char *err);

#endif /* !HUBAUDIT_H */
