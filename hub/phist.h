/*
 * phist - the hub's pooled history: the pooled results it released, for the
 * pooled auditor (issue 14, "Differencing at the pooled level";
 * docs/disclosure.md §8.7; analysis/paudit.h).
 *
 * Only the hub knows which pooled results were released (the whole roster
 * answered, the rules passed, the release was signed), so it keeps them:
 * per release, the analyst's signed query Envelope and the cells (count) or
 * strata (km, logrank, cif) it released with a count, i.e. the sets the
 * analyst now knows the pooled size of.  The queries go to the nodes with
 * every new pooled query (HubFrame.pool_history), which count their rows per
 * atom of them (node/patoms.h); the cells are the history's sets in the
 * auditor.  Withheld cells are not sets: nothing of them was released.
 *
 * Kept across rosters on purpose: a result released before a node joined is
 * a set over the old roster's rows (proto/atoms.h), so a later result over
 * the new roster is audited against it (the roster guard, §8.7).
 *
 * Bounded: PHIST_MAX entries (PAUDIT_MAX_QUERIES - 1: the new query is the
 * last of the auditor's queries).  A full history refuses every new pooled
 * query (fail closed) until the hub's administrator starts a new one, which
 * is safe only with new data (docs/disclosure.md §8.7).
 *
 * Persistence: the file is rewritten atomically (util_write_file) after each
 * release, before the release is sent; a file that cannot be read stops the
 * hub at start.  The packed form (phist_pack) is also what the relay log
 * keeps with each pooled route, so that `fedra-hub recompute` audits again
 * against the same history.
 */
#ifndef PHIST_H
#define PHIST_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/paudit.h"
#include "lib/util.h"

#define PHIST_MAX (PAUDIT_MAX_QUERIES - 1)
#define PHIST_MAX_FILE (PHIST_MAX * (70u * 1024) + 4096)    /* WIRE_MAX_QUERY + cells each */

struct phist;

/* An empty history kept in path (NULL: memory only), loading it if the file exists. */
int phist_open(const char *path, struct phist **out, char *err);
void phist_free(struct phist *h);
size_t phist_count(const struct phist *h);
/* Changes so far (appends and merges): a route audited at one version must not be
 * released at another (hub/relay.c). */
uint64_t phist_version(const struct phist *h);
/* Entry i's query Envelope and its released cells. */
const uint8_t *phist_query(const struct phist *h, size_t i, size_t *len);
const uint32_t *phist_cells(const struct phist *h, size_t i, size_t *n);
/* Append a release (and rewrite the file).  -1 when full or the file cannot be written. */
int phist_append(struct phist *h, const uint8_t *query, size_t len, const uint32_t *cells,
    size_t ncells, char *err);
/* Entry i's released cells become the union of its own and cells[0 .. n) (a later
 * release of the same sets: proto/atoms.h); the file is rewritten and the version
 * changes, unless the union is what the entry had (then nothing changes). */
int phist_merge(struct phist *h, size_t i, const uint32_t *cells, size_t n, char *err);
/* The packed form of the whole history, appended to out. */
void phist_pack(const struct phist *h, struct buf *out);
/* A memory-only history from a packed form. */
int phist_unpack(const uint8_t *p, size_t len, struct phist **out, char *err);

#endif /* !PHIST_H */
