/*
 * release - the pooled result a release service (the hub) may sign, from the
 * sum of every participant's masked share (issue 14; node/share.h,
 * analysis/pool.h).
 *
 * Given the unmasked sums of the LAYOUT_VECTORS vectors (in the count ring,
 * lib/mask.h: values, and per
 * flagged position the number of nodes that contributed, were small,
 * withheld: proto/layout.h) and
 * the strictest policy of the participants, it builds the wire result the
 * analyst receives, with the rules of analysis/pool.h applied:
 *   count  one cell per combination whose pooled count is not 0; a cell the
 *          rules do not release (1 .. min_cell-1 pooled, too few sites, or a
 *          node's auditor) is sent `withheld`, with no count and no bound:
 *          which rule held it back is not said;
 *   km     one stratum per combination with patients; a stratum whose size
 *          the rules do not release is sent `suppressed` with no table; the
 *          others' life tables stop where fewer than min_cell remain at risk
 *          in the pooled stratum (`truncated_at`, R4 on the pool).
 * A sum that no honest set of shares can give (analysis/pool.h
 * pool_position_check) refuses the whole release: some node sent a wrong
 * share, and which one the sums cannot say.
 */
#ifndef RELEASE_H
#define RELEASE_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/pool.h"
#include "lib/mask.h"
#include "proto/layout.h"
#include "proto/wire.h"

/* The released result; free with release_free(). */
struct release;
int release_build(const struct layout *L, const uint64_t *sums, uint32_t nodes,
    const struct pool_policy *pol, struct release **out, char *err);
void release_free(struct release *r);
/* Point rel's result field (count or km) at r's result (r must outlive rel's packing). */
void release_attach(const struct release *r, Fedra__PoolRelease *rel);
/* Positions released and withheld or suppressed (for logs and the utility measure). */
size_t release_shown(const struct release *r);
size_t release_hidden(const struct release *r);

#endif /* !RELEASE_H */
