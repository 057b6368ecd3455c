/*
 * qaudit - the node's query-set auditor: it refuses a query whose released
 * groups would, together with a group released earlier (to any analyst),
 * reveal a group of 1 .. min_cell-1 patients by subtraction (differencing).
 *
 * What a query releases is modelled as row sets of this node's snapshot:
 *   count      one set per released cell (n >= min_cell), plus the union of
 *              the released cells (their sum is released too);
 *   km/logrank one set per stratum (the life table starts with its size);
 *   other kinds (cox, glm, ...) the whole selected cohort.
 * Suppressed cells release no count and are not sets.
 *
 * A new set S is refused when some remembered set T has
 * 1 <= |S xor T| <= min_cell-1: count(S) - count(T) would then be a count
 * of the few patients in the difference, which the small-cell rule exists
 * to hide.  Identical sets (difference 0) are allowed: a repeated query
 * gives the same answer and reveals nothing new.  Only sets with
 * | |S| - |T| | <= min_cell-1 can be that close, so the candidates come from
 * an index on the set size, and each comparison stops after min_cell
 * differences.
 *
 * Sets are sorted lists of snapshot row indices (4 bytes a row), kept in the
 * node's SQLite store (table qaudit_set), deduplicated by their SHA-256 and
 * scoped to the data snapshot they were computed on: after a new import the
 * history of the old data is dropped (docs/query-set-auditor.md says what
 * that leaves open).  The history is global across analysts, because two
 * analysts can pool their answers.  It is bounded (max_sets); when full,
 * queries that would add sets are refused (fail closed), repeats still pass.
 *
 * The decision depends only on which rows the query selects, never on the
 * outcome columns; a refusal says only "1 .. min_cell-1 patients", which a
 * suppressed cell says anyway.
 */
#ifndef QAUDIT_H
#define QAUDIT_H

#include <stdint.h>

#include "analysis/disclose.h"
#include "node/snapshot.h"
#include "proto/wire.h"

struct sqlite3;

#define QAUDIT_DEFAULT_MAX_SETS 1000000u    /* remembered row sets before failing closed */
#define QAUDIT_MAX_LABEL 160                /* text naming a group in a refusal */

/*
 * Decide on an executed, about to be released query and, if it passes,
 * remember its sets.  Returns NULL if the query may be answered; otherwise
 * the refusal class ("differencing", "capacity" or "internal") with the
 * reason in err.  A query the executor would refuse anyway (unknown
 * variable, ...) passes here.
 */
const char *qaudit_admit(struct sqlite3 *db, const struct snapshot *snap,
    const struct disclose_policy *policy, const Fedra__QuerySpec *spec, const char *analyst,
    const char *query_id, int64_t now_ms, uint64_t max_sets, char *err);

#endif /* !QAUDIT_H */
