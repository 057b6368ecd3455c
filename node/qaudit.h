/*
 * qaudit - the node's disclosure auditor (docs/disclosure.md §6, rules R3
 * and R4): it decides, for every number an answer is about to release,
 * whether the numbers released so far (to any analyst, of any kind) and
 * this one, taken together, would let a combination of them count a group
 * of 1 .. min_cell-1 patients; such numbers are withheld within the answer
 * (complementary suppression), and a query whose whole cohort fails is
 * refused (`differencing`).
 *
 * The algebra is analysis/derive.h (elementary sets, a rank test): a pair
 * of cohorts two patients apart, a tracker P - Q - R, a margin minus the
 * released cells of its row, a km stratum minus a count of a cohort one
 * patient larger: each is a vector of released row sets supported on small
 * atoms.
 *
 * What a query releases is described by its kind (the `sets` member of its
 * row in node/kind.h) as candidates, each one item of the answer (a count
 * cell, a survival stratum, or the whole answer) with
 *   a key set   the rows the number counts over with every outcome
 *               condition dropped: filters on vital_status ignored, cells
 *               grouped by vital_status merged (outcome-blind);
 *   a full set  the rows it really counts (NULL: the same as the key set);
 *   a tail      survival strata: the time column and grid, so that the
 *               auditor can cut the life table (R4).  A curve's events are
 *               not a set: its steps count 1 or 2 patients by nature, and
 *               what protects them is the number at risk.
 *
 * Three derive systems per data snapshot, each starting with the set of
 * all rows (data_rows is in every answer):
 *   KEY   the key sets; decided first and only from key attributes, so a
 *         refusal or a withheld cell never depends on any patient's outcome
 *         (simulatable auditing: the refusal oracle, attack 3, learns
 *         nothing);
 *   FULL  the full sets of the items the key system kept;
 *   SURV  the key sets of released survival strata only (not the set of
 *         all rows: no life table of all rows is released unless asked):
 *         its atoms are the subgroups whose curves a difference of two
 *         released curves gives; their tails obey R4 too.
 * Candidates are admitted largest key set first, so complementary
 * suppression withholds the smallest cells.  A key set kept by KEY stays in
 * KEY even if the item is then withheld by FULL: KEY's state stays
 * outcome-blind.
 *
 * Life cycle of one query: qaudit_admit() decides (and calls the kind's
 * withhold for what is not released), storing the new sets in SQLite
 * (table qaudit_release) before the answer leaves; qaudit_commit() after
 * the answer was signed and audited makes them part of the in-memory
 * systems, qaudit_rollback() forgets them (memory and SQLite).  A crash in
 * between leaves sets stored that may not have been released: the history
 * only errs on the side of more sets (fail closed).  At node start (and
 * when the data or min_cell changes) qaudit_open() rebuilds the systems by
 * replaying the stored sets of the snapshot in order.  The history is
 * global across analysts (they can pool answers) and bounded (max_sets
 * stored sets, and derive's own limits): full, queries that add sets are
 * refused `capacity` (fail closed).
 */
#ifndef QAUDIT_H
#define QAUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/disclose.h"
#include "node/snapshot.h"
#include "proto/wire.h"

struct sqlite3;
struct node_kind;
struct node_answer;

#define QAUDIT_DEFAULT_MAX_SETS 1000000u    /* stored sets before failing closed */
#define QAUDIT_WHOLE (-1L)                  /* item: the whole answer */
#define QAUDIT_ALL INT32_MIN                /* withhold: the whole item, not a tail */

/* The auditor of one data snapshot (private to qaudit.c). */
struct qaudit;
/* The candidates one query releases, being collected (private to qaudit.c). */
struct qaudit_sets;

/*
 * The auditor of ${snap} under threshold ${min_cell}: the history of this
 * snapshot replayed from ${db} (older snapshots' history deleted), the
 * fingerprints seeded from getrandom().  ${max_sets} bounds the stored
 * sets (0: QAUDIT_DEFAULT_MAX_SETS).  NULL with err on a database error or
 * a snapshot derive cannot hold.  ${ms} (may be NULL) gets the rebuild time.
 */
struct qaudit *qaudit_open(struct sqlite3 *db, const struct snapshot *snap, uint32_t min_cell,
    uint64_t max_sets, int64_t *ms, char *err);
void qaudit_close(struct qaudit *qa);
/* 1 if ${qa} audits ${snap} under ${min_cell} (else reopen it). */
int qaudit_matches(const struct qaudit *qa, const struct snapshot *snap, uint32_t min_cell);
/* Sets held (stored), independent sets per system, bytes of memory. */
void qaudit_stats(const struct qaudit *qa, uint64_t *stored, size_t nsets[3], size_t *bytes);

/*
 * Decide on an executed, released answer of kind ${k}: collect its
 * candidates (k->sets), admit them, call k->withhold for every item (or
 * tail) not released, and store the new sets, pending.  Returns NULL if
 * the answer may be sent (possibly with items withheld); otherwise the
 * refusal class ("differencing", "capacity" or "internal") with the reason
 * in err, nothing pending.  Either way call qaudit_commit() or
 * qaudit_rollback() once the fate of the answer is known (both are no-ops
 * when nothing is pending).
 */
const char *qaudit_admit(struct qaudit *qa, struct sqlite3 *db, const struct snapshot *snap,
    const struct node_kind *k, const struct disclose_policy *policy, const Fedra__QuerySpec *spec, struct node_answer *ans,
    const char *analyst, const char *query_id, int64_t now_ms, char *err);
void qaudit_commit(struct qaudit *qa);
void qaudit_rollback(struct qaudit *qa, struct sqlite3 *db);

/* ---- for the kinds' sets functions ---- */

/* The groups of rows a spec selects, by its grouping variables. */
struct qaudit_group {
    uint64_t key;                   /* codes of the grouping variables, first most significant */
    uint32_t *rows;                 /* ascending row indices */
    size_t n;
};
struct qaudit_groups {
    struct qaudit_group *v;
    size_t n;
};

/*
 * The groups into which spec's group_by variables split the rows its filter
 * selects (rows missing a grouping variable in none), ascending by key,
 * which is snapshot_count()'s order of cells.  ${blind}: outcome-blind (the
 * key sets): filters on vital_status dropped, and vital_status left out of
 * the grouping.  A spec the executor refuses gives no groups.
 */
void qaudit_groups(const struct snapshot *snap, const Fedra__QuerySpec *spec, int blind,
    struct qaudit_groups *out);
void qaudit_groups_free(struct qaudit_groups *g);
/* The key of the same codes with vital_status left out (blind grouping's key). */
uint64_t qaudit_blind_key(const Fedra__QuerySpec *spec, const uint16_t *code);
/* 1 if spec groups by something other than vital_status (else one key group at most). */
int qaudit_keyed(const Fedra__QuerySpec *spec);

/*
 * Add a candidate for ${item} (QAUDIT_WHOLE: the whole answer).  The row
 * arrays are copied; ${full} NULL means the same as the key set; ${key}
 * NULL: a full set only.
 */
void qaudit_add(struct qaudit_sets *out, long item, const uint32_t *key, size_t nkey,
    const uint32_t *full, size_t nfull);
/* Add a key set only (its count is not itself released, e.g. cells grouped by outcome). */
void qaudit_add_key(struct qaudit_sets *out, long item, const uint32_t *key, size_t nkey);
/*
 * Add a survival stratum: key and full sets as qaudit_add, plus its tail:
 * the rows' times (tcol, rounded up to ${grid} as km_grid_ceil does) and
 * events (ecol), for R4.
 */
void qaudit_add_stratum(struct qaudit_sets *out, long item, const uint32_t *key, size_t nkey,
    const uint32_t *full, size_t nfull, const int32_t *tcol, const uint8_t *ecol, int32_t grid);

#endif /* !QAUDIT_H */
