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
#include <stdint.h>

#include "analysis/paudit.h"
#include "proto/layout.h"
#include "proto/wire.h"

/* The cells of a pooled table spec as sets: the count view of its grouping. */
int atoms_cells(const Fedra__QuerySpec *spec, struct layout *L, char *err);
/* 1 if spec is a model (cox, glm): its cells are proto/poolmodel.h's audit cells. */
int atoms_is_model(const Fedra__QuerySpec *spec);
/* The number of cells of a pooled spec, table or model. */
int atoms_ncells(const Fedra__QuerySpec *spec, size_t *n, char *err);
/*
 * The layout: classes, not the product of the queries' cells.  A product
 * of digits, ncells(q) + 1 per query, grows with every question: seven
 * tables by tumour type, stage, sex and surgery passed PAUDIT_MAX_ATOMS.
 * Yet a row's digits depend only on its values of the variables the
 * queries name (and its node's roster, and for a Cox fit its event), and
 * two values that every query treats alike can share an atom.  So the
 * layout has one DIMENSION per thing a digit reads:
 *
 *   roster   the node: nodes named in exactly the same rosters are one class
 *   variable its values: a closed variable's levels, an integer's lo .. hi,
 *            an open variable's texts that filters name and one "other";
 *            values that pass and fail the same filter terms are one class,
 *            unless a query groups by the variable or a fit counts its
 *            levels (then every value is its own class); a missing value is
 *            a class of its own (it fails every filter and is in no cell),
 *            for an open variable only: the others are required columns
 *   event    a Cox fit's event at its endpoint (os_event, efs_event): 0, 1
 *
 * An atom is one class per dimension (mixed radix, the first dimension
 * slowest), and every atom's digit in every query is computed once, from a
 * value of each class, into A.digit (paudit.h).  A second question by the
 * same variables adds no atom.  Each node checks that its rows' digits,
 * read as before from its own filters, cells and fits (node/patoms.c),
 * equal their atoms' digits, and refuses the query if one does not: the
 * classes cannot silently describe other sets than the answers release.
 * The nodes count their rows at canonical atoms only (atoms_canonical), so
 * the hub learns the pooled sizes of the released sets' intersections, as
 * with one digit per question, and never a node's (docs/disclosure.md §8.7).
 */
#define ATOMS_MAX_DIMS (VAR_COUNT + 3)  /* the roster, each variable, two events */
#define ATOMS_MAX_TEXTS 1024            /* an open variable's values the filters name */

enum atoms_dim_kind { ATOMS_ROSTER, ATOMS_VAR, ATOMS_EVENT };

struct atoms_dim {
    enum atoms_dim_kind kind;
    const struct var_def *var;      /* ATOMS_VAR */
    int efs;                        /* ATOMS_EVENT: efs_event (1) or os_event (0) */
    uint32_t ndom;                  /* values (ATOMS_VAR), 2 (event), classes (roster) */
    uint32_t *class_of;             /* per value: its class */
    uint32_t *rep;                  /* per class: one of its values; ndom: missing */
    uint32_t nclass;                /* ATOMS_VAR, open: the last is the missing value's */
    size_t stride;                  /* in the atom number */
};

struct atoms_layout {
    struct paudit_layout A;         /* A.digit points at digit */
    uint32_t *digit;                /* nq x natoms */
    size_t ndim;
    struct atoms_dim dim[ATOMS_MAX_DIMS];
    size_t nnames;                  /* nodes named in a roster */
    char **names;
    uint32_t *name_class;           /* each one's roster class */
    uint64_t *roster;               /* per roster class: its queries, bit q */
    char **text[VAR_COUNT];         /* open variables: the texts filters name, sorted */
    size_t ntext[VAR_COUNT];
};

/*
 * The layout of queries q[0 .. nq) (the history in release order, then the
 * new query); -1 with err past PAUDIT_MAX_QUERIES or PAUDIT_MAX_ATOMS
 * (capacity: the caller refuses, fail closed).  atoms_layout_release after.
 */
int atoms_layout(const Fedra__QueryBody *const *q, size_t nq, struct atoms_layout *X,
    char *err);
void atoms_layout_release(struct atoms_layout *X);
/*
 * Each atom's canonical atom, into canon (natoms): the first atom with the
 * same digit in every query.  A node counts its rows there only, so the
 * pooled sizes the hub sees are those of the released sets' intersections
 * (the distinct digit columns), never of finer classes that no release
 * tells apart: with `count --by stage` and `count --by sex --where
 * diagnosis_year=2015` released, the classes cross stage with sex for every
 * year, the digits only for 2015.
 */
void atoms_canonical(const struct atoms_layout *X, uint32_t *canon);
/* The dimension of variable v (NULL if no query reads it); of an endpoint's event. */
const struct atoms_dim *atoms_var_dim(const struct atoms_layout *X, enum var_id v);
const struct atoms_dim *atoms_event_dim(const struct atoms_layout *X, int efs);
/* The value of a level text of d's variable: -1 if it is none (not a level, out of range). */
long atoms_value(const struct atoms_layout *X, const struct atoms_dim *d, const char *text);
/* The roster class of node `name`; -1 if no roster names it. */
long atoms_roster_class(const struct atoms_layout *X, const char *name);
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
