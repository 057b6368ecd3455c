/*
 * paudit - a derivability auditor (as R3, analysis/derive.h, at a node) for
 * POOLED releases (issue 14, "Differencing at the pooled level";
 * docs/disclosure.md §8.7).  Pure computation: no I/O, no globals.
 *
 * Why it is needed.  A node's own auditor (node/qaudit.h) sees the sets a
 * node releases itself; a pooled query releases nothing of one node, so it
 * never reaches that auditor, and two pooled counts over sets that differ
 * by one patient (age <= A and age < A) give that patient away at the pool.
 * Only the hub knows which pooled results were released (the whole roster
 * or nothing), and only the pool knows the pooled sizes, so the check runs
 * at the hub on pooled sizes.
 *
 * The atoms.  Every set a pooled query releases is a cell (count) or a
 * stratum (km, logrank, cif) of a spec: the rows passing its filters whose
 * grouping levels are the cell's.  The cells of one query are disjoint, so
 * against query q a row has one DIGIT: 0 (in no cell of q) or c + 1 (in
 * cell c).  Over the queries 0 .. nq-1 (the released history, then the new
 * query) a row's digits form its SIGNATURE, a mixed-radix number with radix
 * ncells(q) + 1 for query q: the ATOM of the row.  Rows of one atom belong
 * to exactly the same released sets, so these atoms refine the
 * elementary sets below.  Any finer partition serves as well, if each of
 * its atoms lies in one cell (or none) of every query: the hub and nodes
 * use the classes of the variables the queries name (proto/atoms.h), whose
 * number grows with the variables asked about, not with the questions; the
 * layout then carries each atom's digits (paudit_layout.digit).  The
 * layout of atoms is a function of the specs alone, never of the data, so
 * every node can put its count of rows per atom on the same fixed
 * positions, masked like any share; the hub sums them and sees the POOLED
 * size of every atom, never a node's.
 *
 * The decision (paudit_decide): elementary sets (Chin and Ozsoyoglu, IEEE
 * TSE 1982).  By adding and subtracting released pooled counts an analyst
 * learns v.x for every v in the row space M of the released sets (0/1
 * vectors over atoms, x the pooled atom sizes).  An atom is small if it
 * holds 1 .. k-1 pooled rows, k = the pool's min_cell.  Only combinations
 * on small atoms alone can speak of a small group, so the auditor looks at
 * W = {v in M : v is zero on every large atom} and asks that W be spanned
 * by the 0/1 vectors of DISJOINT groups of k or more pooled rows (its
 * elementary sets, the finest groups the released counts isolate, none of
 * 1 .. k-1), or else, where W also holds combinations that are no group's
 * count (|A| - |B| for small A and B, as two tables that each withhold one
 * small cell give), that no group's count follows from them with bounds:
 * granting the analyst that each small class holds 1 .. k-1, no group of
 * classes has the same sum below k at every point he cannot rule out (A - B
 * = 0 leaves A = B anywhere in 1 .. 4; A - B = 3 pins A = 4, B = 1).  That
 * blocks the pair one patient apart, a tracker of any length, a margin
 * minus its released cells (each derives a small group) and a difference
 * that bounds pin, across kinds, as a count cell and a km stratum over the
 * same rows are one set.  A class of k or more is a free unknown to the
 * bounds test (paudit.c says why).  The test runs on at most
 * PAUDIT_MAX_CLASSES classes, PAUDIT_BOX_CLASSES small ones, PAUDIT_MAX_BOX
 * points and PAUDIT_MAX_GROUPS groups; past them the candidate is withheld
 * (fail closed).
 * It lets through what node-level R3 (analysis/derive.h: W must be {0})
 * refuses for no disclosure: a rare type of 6, released, that a later
 * table by stage splits into atoms of 1 .. 4 only puts the type's own
 * count of 6 in W; the atoms stay hidden.  The history is admitted whole,
 * then the new query's candidate sets (the positions the pooled rules
 * would release), largest first, so that complementary suppression
 * withholds the smallest; each is kept only if W with it stays safe.
 * paudit.c has the algorithm and the rule's exactness.
 *
 * Bounds (fail closed).  At most PAUDIT_MAX_QUERIES queries (history and
 * the new one), PAUDIT_MAX_ATOMS atoms and PAUDIT_MAX_ENTRIES stored
 * entries in the system's basis: past them the caller must refuse
 * the pooled query (capacity), never answer it unaudited.  A history set
 * that the current pooled sizes no longer admit (the data changed since it
 * was released) leaves a system that does not hold everything the analyst
 * knows: paudit_decide then withholds every candidate (fail closed) and
 * says so in *stale.
 */
#ifndef PAUDIT_H
#define PAUDIT_H

#include <stddef.h>
#include <stdint.h>

#define PAUDIT_MAX_QUERIES 64           /* queries whose sets define the atoms */
#define PAUDIT_MAX_ATOMS (1u << 17)     /* atoms (positions a node adds to its share) */
#define PAUDIT_MAX_POOLED_ROWS (1u << 26)   /* pooled rows a history may count */
#define PAUDIT_MAX_ENTRIES (1u << 24)   /* nonzero entries of the basis (12 bytes each) */
#define PAUDIT_MAX_CLASSES 64           /* W's classes the bounds test handles */
#define PAUDIT_BOX_CLASSES 32           /* small classes among them it decides on */
#define PAUDIT_MAX_BOX (1u << 16)       /* points (k-1)^free classes it enumerates */
#define PAUDIT_MAX_GROUPS (1u << 20)    /* groups of small classes it tries */
#define PAUDIT_ERRLEN 160               /* size of the caller's error buffer */

/* The atoms of queries 0 .. nq-1 (history in release order, then the new query). */
struct paudit_layout {
    size_t nq;
    uint32_t radix[PAUDIT_MAX_QUERIES];     /* ncells(q) + 1 */
    size_t stride[PAUDIT_MAX_QUERIES];      /* query 0 varies slowest */
    size_t natoms;                          /* product of the radices */
    /*
     * NULL: the product layout above.  Else any layout whose atoms the
     * caller chose (proto/atoms.h: classes of the variables): atom a's digit
     * in query q is digit[q * natoms + a], and stride is unused.
     */
    const uint32_t *digit;
};

/*
 * One released (or candidate) set: cell `cell` of query `q`; or, with `in`
 * set, the union of q's cells c with in[c] != 0 (radix[q] - 1 of them; cell
 * unused).  A table's sets are single cells; a pooled fit releases counts of
 * unions of its cells (a level's patients over every other variable:
 * proto/poolmodel.h).
 */
struct paudit_set {
    uint32_t q;
    uint32_t cell;
    const unsigned char *in;
};

/*
 * The layout of nq queries whose ncells[q] cells (>= 1 each) define sets.
 * -1 with err (PAUDIT_ERRLEN bytes, as every err here) if nq is 0 or above PAUDIT_MAX_QUERIES, a query has no cell, or the atoms
 * would be more than PAUDIT_MAX_ATOMS.
 */
int paudit_layout_make(struct paudit_layout *A, const uint32_t *ncells, size_t nq, char *err);

/* The atom of a row whose digits (0: in no cell of q; c + 1: in cell c) are given (product layout). */
size_t paudit_atom(const struct paudit_layout *A, const uint32_t *digit);

/* The atoms of set s, ascending, into out (room for natoms entries); returns how many. */
size_t paudit_set_atoms(const struct paudit_layout *A, struct paudit_set s, uint32_t *out);

/*
 * Decide which candidates may be released.  size[a]: the pooled rows of
 * atom a (natoms of them); k: the pool's min_cell (>= 1); hist: the sets
 * already released, in release order; cand: the new query's sets the pooled
 * rules would release, admitted largest pooled size first (ties: in the
 * given order).  kept[i] = 1 (release) or 0 (withhold) for cand[i].
 * *stale = 1 if a history set was not admitted again (see above; then every
 * kept[i] is 0).  Returns the number kept, or -1 with err on bad input
 * (a set out of range, more pooled rows than PAUDIT_MAX_POOLED_ROWS) or
 * past PAUDIT_MAX_ENTRIES (capacity).  seed draws the fingerprint weights
 * (paudit.c): the same seed gives the same verdicts (recompute).
 */
int paudit_decide(const struct paudit_layout *A, const uint64_t *size, uint32_t k,
    const struct paudit_set *hist, size_t nhist, const struct paudit_set *cand, size_t ncand,
    unsigned char *kept, int *stale, uint64_t seed, char *err);

#endif /* !PAUDIT_H */
