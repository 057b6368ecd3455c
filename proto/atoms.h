/*
 * atoms - the pooled auditor's atoms of a pooled history (issue 14,
 * docs/disclosure.md §8.7), shared by the node that counts its rows per atom
 * and the hub that audits the pooled sizes (analysis/paudit.h).
 *
 * Query q of the history (or the new query, last) releases one set per cell
 * (count) or stratum (km, logrank, cif): the rows of a node IN q's roster
 * that pass q's filters and whose grouping levels are the cell's.  A count
 * cell and a km stratum over the same filters and grouping are the same
 * set, so both kinds share one view: the cells of the spec's grouping
 * variables, every catalogue level (proto/layout.h).  A row's digit against
 * q is 0 when its node is not in q's audience, it fails q's filters or it
 * misses a grouping value; else its cell + 1.  The roster is part of the set
 * because the analyst knows which nodes a released result summed: a result
 * released before a node joined, and the same question after, differ by
 * that node's rows, which the atoms then tell apart (the roster guard).
 */
#ifndef ATOMS_H
#define ATOMS_H

#include <stddef.h>

#include "analysis/paudit.h"
#include "proto/layout.h"
#include "proto/wire.h"

/* The cells of a pooled table spec as sets: the count view of its grouping. */
int atoms_cells(const Fedra__QuerySpec *spec, struct layout *L, char *err);
/* 1 if spec is a model (cox, glm): its cells are proto/poolmodel.h's audit cells. */
int atoms_is_model(const Fedra__QuerySpec *spec);
/* The number of cells of a pooled spec, table or model. */
int atoms_ncells(const Fedra__QuerySpec *spec, size_t *n, char *err);
/* The atoms of queries q[0 .. nq) (the history in release order, then the new query). */
int atoms_layout(const Fedra__QueryBody *const *q, size_t nq, struct paudit_layout *A,
    char *err);
/*
 * 1 if a and b release the same sets: the same filters, grouping variables
 * and roster (kinds may differ: a count cell and a km stratum over the same
 * filters are the same rows).  A fit does only with a fit of the same
 * design (terms in order, strata, event or outcome), filters and roster: a
 * repeat, whose cells and sets are the same.  A query with the sets of a history entry
 * adds no atom: it is audited on that entry's digit (atoms_plan), and the
 * hub merges its released cells into that entry (hub/phist.h).
 */
int atoms_same_sets(const Fedra__QueryBody *a, const Fedra__QueryBody *b);
/*
 * The auditor's queries for hist[0 .. nhist) and cur, into q (room for
 * nhist + 1): the history, then cur unless a history entry has its sets.
 * Returns their number; *at = the query whose cells are cur's.
 */
size_t atoms_plan(const Fedra__QueryBody *const *hist, size_t nhist,
    const Fedra__QueryBody *cur, const Fedra__QueryBody **q, size_t *at);
/* 1 if name is in q's audience (its roster). */
int atoms_in_roster(const Fedra__QueryBody *q, const char *name);

#endif /* !ATOMS_H */
