/*
 * qaudit - the node's query-set auditor: it refuses a query whose released
 * groups would, together with a group released earlier (to any analyst),
 * reveal a group of 1 .. min_cell-1 patients by subtraction (differencing).
 *
 * What a query releases is modelled as row sets of this node's snapshot.
 * Which sets, is the query kind's to say (the `sets` member of its row in
 * node/kind.h); the kinds build them with the two functions below:
 *   count      one set per released cell (n >= min_cell), plus the union of
 *              the released cells (their sum is released too);
 *   km/logrank one set per stratum (the life table starts with its size);
 *   cox, glm   the whole selected cohort;
 *   ping       none.
 * Suppressed cells release no count and are not sets.  A kind without a row
 * is refused ("internal"): nothing is audited by default.
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

/* The row sets one query releases, being collected (private to qaudit.c). */
struct qaudit_sets;

/*
 * Add the groups into which the spec's group_by variables split the rows its
 * filter selects (rows missing a grouping variable are in none), except
 * groups of fewer than `least` rows, which release nothing; with two or more
 * groups also every margin of them (unions of the groups sharing the levels
 * of a proper subset of the variables, the total included).  A spec the
 * executor refuses (unknown variable, bad filter) adds nothing.
 */
void qaudit_sets_groups(struct qaudit_sets *out, const struct snapshot *snap,
    const Fedra__QuerySpec *spec, uint32_t least);
/* Add the one set of all rows the spec's filter selects. */
void qaudit_sets_cohort(struct qaudit_sets *out, const struct snapshot *snap,
    const Fedra__QuerySpec *spec);

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
