/*
 * derive - decides whether the counts a node has released, taken together,
 * let an analyst derive the count of a small group of rows (trackers,
 * complementary suppression).  Pure computation: no I/O, no globals.
 *
 * The rule (Chin and Ozsoyoglu, IEEE TSE 1982: elementary sets).  The
 * released row sets partition the rows into atoms: maximal groups of rows
 * that belong to exactly the same released sets.  Every released set is a
 * union of atoms, i.e. a 0/1 vector over atoms; its released count is v.x,
 * x the atom sizes.  By adding and subtracting released numbers an analyst
 * learns v.x for every v in the row space M of the released vectors, and
 * nothing else that is linear.  An atom is small if it holds 1 .. k-1 rows
 * (k = min_cell; atoms are never empty).  The system is UNSAFE when some
 * nonzero v in M is supported on small atoms only: a combination of
 * released numbers then speaks of small groups alone (one patient, or two
 * suppressed cells together).  Equivalently rank(M) != rank(M restricted to
 * the columns of the large atoms).
 *
 * Why this covers trackers of any length: a tracker is a combination of
 * released sets (P - Q - R, or any signed sum of any number of them) that
 * counts a small group; that combination is a vector of M supported on small
 * atoms, whatever its length, so it is found, while the pairwise rule of
 * node/qaudit.c only sees |S xor T| for two sets at a time.  Why it covers
 * complementary suppression: a margin minus the released cells of its row
 * is a vector of M on the atom(s) of the suppressed cells; if they form one
 * small atom, the next cell is withheld until what remains is large (or
 * spans several atoms none of which can be isolated).
 *
 * What it does not cover: it models only the sets it is given.  A released
 * number that is not a count or sum over a row set (a mean, a model, a
 * survival curve's shape), knowledge the analyst has from outside, values
 * released by another node, and non-linear reasoning (bounds: a count known
 * to be >= 0 and <= 4) are outside it.  A sum of an outcome over a set is
 * the same algebra on an outcome-refined set, which the caller must pass.
 *
 * Use.  derive_admit() takes a query's candidate sets in priority order and
 * adds them one at a time, keeping a candidate only if the system stays
 * safe; the caller releases the kept ones and withholds the others.  A
 * candidate equal to a released set, or a linear combination of them, adds
 * nothing and is kept.  The result is pending until derive_commit() (after
 * the answer is signed and sent) or derive_rollback() (the query failed):
 * nothing changes the released system unless the caller commits.  The
 * decision depends only on which rows the sets hold, never on outcomes
 * (simulatable auditing: a withheld cell tells only what a suppressed cell
 * tells).
 *
 * The state (derive.c: the algorithm).  A basis of M in reduced echelon form
 * whose pivots are all large atoms: each basis row is e_pivot plus entries on
 * non-pivot atoms, and no other row has an entry in a pivot column.  "Every
 * pivot is large" is exactly "safe": any nonzero combination of basis rows
 * has its coefficients on the pivots, which are large; and when the system
 * is safe such a basis exists.  A candidate splits atoms (the split
 * coefficient is copied into both parts), a pivot atom that became small is
 * replaced by another large atom of its row (none: unsafe), then the
 * candidate is reduced against the basis; a zero remainder is dependent
 * (kept), a remainder with a large atom becomes a new basis row, one on
 * small atoms only is the witness of unsafety (withheld).  A withheld
 * candidate is undone through an undo log.
 *
 * Arithmetic is exact in GF(p), p = 2^61 - 1.  The decisions are those over
 * the rationals unless p divides a nonzero minor of the 0/1 matrices
 * involved (the rank over GF(p) can only drop where p divides every r x r
 * minor of a matrix of rational rank r, and the witness test is a rank
 * test).  A 0/1 minor of order r is at most (r+1)^((r+1)/2) / 2^r in
 * absolute value (Hadamard, via the +-1 embedding), below p for r <= 36, so
 * systems of up to 36 independent sets are decided exactly.  Beyond that, a
 * disagreement needs the released sets to form a 0/1 matrix with a minor
 * that is a nonzero multiple of the Mersenne prime 2^61 - 1; the analyst
 * chooses filters, not rows, and does not see the rows, so cannot aim for
 * one; for sets that are not chosen against p, a given minor is a multiple
 * of p with probability about 1/p = 4e-19.  (An auditor facing an adversary
 * that knows the data exactly should draw a random 61-bit prime per
 * snapshot; that is not done here.)
 *
 * Cost (measured: bench/derive-bench.c, docs in its header).  Each
 * candidate costs O(|S|) to find its atoms, plus the sparse row operations:
 * copying a split atom's entry into the rows that hold it, re-pivoting rows
 * whose pivot became small, reducing the candidate (the basis rows pivoting
 * on its atoms) and eliminating a new pivot from the rows that hold it.
 * Memory: 4 bytes a data row, about 60 bytes an atom, 12 bytes a basis
 * entry; derive_bytes() reports it.
 */
#ifndef DERIVE_H
#define DERIVE_H

#include <stddef.h>
#include <stdint.h>

#define DERIVE_MAX_ROWS (1u << 26)      /* rows of one data snapshot */
#define DERIVE_MAX_SETS (1u << 20)      /* independent released sets (basis rows) */
#define DERIVE_DEFAULT_MAX_BYTES ((size_t)1 << 31)  /* memory held, by default (2 GiB) */
#define DERIVE_ERRLEN 160               /* size of the caller's error buffer */

struct derive;                          /* the released system of one data snapshot */

/*
 * An empty system over ${nrows} rows (0 .. DERIVE_MAX_ROWS) with threshold
 * ${k} >= 1 (min_cell: atoms of 1 .. k-1 rows are small).  ${max_bytes}
 * caps the memory held (0: DERIVE_DEFAULT_MAX_BYTES).  ${seed} draws the
 * fingerprint weights of small atoms (derive.c): the node should pass a
 * secret random value (getrandom), so that no analyst can aim at the 1/p
 * chance of a fingerprint hiding a small combination.  NULL if an argument
 * is out of range or memory runs out.
 */
struct derive *derive_new(uint32_t nrows, uint32_t k, size_t max_bytes, uint64_t seed);
/* Free ${d} (NULL is a no-op); a pending admit is dropped. */
void derive_free(struct derive *d);

/*
 * Candidate i (0 <= i < ncand) is the row set rows[i][0 .. n[i]-1], strictly
 * ascending row indices below nrows (rows[i] may be NULL when n[i] == 0).
 * Adds the candidates in order, each only if the system stays safe;
 * kept[i] = 1 (released) or 0 (withheld).  Returns the number kept, the
 * changes pending until derive_commit() or derive_rollback().  Returns -1
 * with a message in ${err} (DERIVE_ERRLEN bytes) and nothing changed on bad
 * input (naming the candidate and row), when an admit is already pending,
 * or when DERIVE_MAX_SETS basis rows or the memory cap would be exceeded
 * (capacity: the caller should refuse the query).
 */
int derive_admit(struct derive *d, const uint32_t *const *rows, const size_t *n,
    size_t ncand, unsigned char *kept, char *err);
/* Make the pending admit's kept sets part of the released system. */
void derive_commit(struct derive *d);
/* Forget the pending admit: the system is as before it. */
void derive_rollback(struct derive *d);
/* 1 if an admit is pending. */
int derive_pending(const struct derive *d);

/* The atom of ${row} (< nrows), as of the last admit (pending or not). */
uint32_t derive_atom_of(const struct derive *d, uint32_t row);
/* The rows in ${atom} (< derive_natoms()); 0 if out of range. */
uint32_t derive_atom_size(const struct derive *d, uint32_t atom);
uint32_t derive_natoms(const struct derive *d);
/* Independent released sets: the rank of M. */
size_t derive_nsets(const struct derive *d);
/* Bytes of memory held by ${d}. */
size_t derive_bytes(const struct derive *d);

#endif /* !DERIVE_H */
