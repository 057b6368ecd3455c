/*
 * linalg - the small dense symmetric solvers the regressions need.
 *
 * Matrices are n x n, row-major, a[i*n + j].  The factorisation is R's
 * survival cholesky2/chsolve2/chinv2 (Therneau) transcribed: an LDL' with
 * unit lower triangle L, D on the diagonal, and a column whose pivot falls
 * below the tolerance set to 0 (declared redundant) instead of failing.  Cox
 * uses it verbatim so that its aliasing decisions and rounding follow
 * coxph; glm uses the same factorisation with a per-column relative test
 * (linalg_chol_rel) that plays the role of the rank test of R's pivoted QR.
 *
 * Pure computation: no I/O, no allocation, no global state.
 */
#ifndef LINALG_H
#define LINALG_H

#include <stddef.h>

#define LINALG_MAX_N 256                /* largest matrix order accepted */

/*
 * cholesky2: factor the symmetric a (upper triangle and diagonal read) in
 * place into L D L'.  L (unit diagonal, implicit) goes below the diagonal,
 * D on it; the upper triangle is left as it was.  A pivot that is NaN,
 * infinite or below toler * (largest diagonal) is set to 0.  Returns the
 * rank, negated if the matrix is not non-negative definite (a pivot below
 * -8 times the threshold); 0 if no diagonal is positive or n is out of
 * range (0 or > LINALG_MAX_N).
 */
int linalg_chol2(double *a, size_t n, double toler);

/*
 * The same factorisation for glm's normal equations X'WX: column j is
 * declared aliased when its pivot is below rtol * (its original diagonal),
 * i.e. when the squared norm of weighted column j left after projecting
 * out the earlier kept columns is below rtol of its own squared norm, the
 * test R's dqrdc2 applies to norms in column order.  The sub-diagonal part
 * of an aliased column is zeroed so that it drops out of later solves
 * exactly.  Returns the rank, or -1 if n is out of range or a diagonal is
 * not finite.
 */
int linalg_chol_rel(double *a, size_t n, double rtol);

/*
 * chsolve2: solve (L D L') b = y in place given a factor from either
 * function above; components whose pivot is 0 come out as 0.
 */
void linalg_chsolve2(const double *a, size_t n, double *y);

/*
 * chinv2 followed by symmetrisation: turn the factor in a into the inverse
 * of the factored matrix (a generalised inverse with zero rows and columns
 * for dropped pivots), full and symmetric.
 */
void linalg_chinv2(double *a, size_t n);

#endif /* !LINALG_H */
