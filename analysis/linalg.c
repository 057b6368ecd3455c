/*
 * linalg - see linalg.h.  The loops keep the order of operations of
 * survival's cholesky2.c, chsolve2.c and chinv2.c so that results agree
 * with coxph to the last bits where the inputs do; matrix[i][j] there is
 * a[i*n + j] here (all inputs are symmetric, so R's column-major storage
 * does not matter).
 */
#include "analysis/linalg.h"

#include <math.h>

int
linalg_chol2(double *a, size_t n, double toler)
{
    double eps = 0;
    int rank = 0, nonneg = 1;

    if (n == 0 || n > LINALG_MAX_N)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i * n + i] > eps)
            eps = a[i * n + i];
        for (size_t j = i + 1; j < n; j++)
            a[j * n + i] = a[i * n + j];
    }
    if (eps == 0)
        return 0;               /* no positive diagonal: every column constant */
    eps *= toler;

    for (size_t i = 0; i < n; i++) {
        double pivot = a[i * n + i];
        if (isnan(pivot) || isinf(pivot) || pivot < eps) {
            a[i * n + i] = 0;
            if (pivot < -8 * eps)
                nonneg = -1;
        } else {
            rank++;
            for (size_t j = i + 1; j < n; j++) {
                double temp = a[j * n + i] / pivot;
                a[j * n + i] = temp;
                a[j * n + j] -= temp * temp * pivot;
                for (size_t k = j + 1; k < n; k++)
                    a[k * n + j] -= temp * a[k * n + i];
            }
        }
    }
    return rank * nonneg;
}

int
linalg_chol_rel(double *a, size_t n, double rtol)
{
    double diag[LINALG_MAX_N];
    int rank = 0;

    if (n == 0 || n > LINALG_MAX_N)
        return -1;
    for (size_t i = 0; i < n; i++) {
        diag[i] = a[i * n + i];
        if (!isfinite(diag[i]))
            return -1;
        for (size_t j = i + 1; j < n; j++)
            a[j * n + i] = a[i * n + j];
    }
    for (size_t i = 0; i < n; i++) {
        double pivot = a[i * n + i];
        if (!(diag[i] > 0) || !isfinite(pivot) || pivot < rtol * diag[i]) {
            a[i * n + i] = 0;
            for (size_t j = i + 1; j < n; j++)
                a[j * n + i] = 0;
        } else {
            rank++;
            for (size_t j = i + 1; j < n; j++) {
                double temp = a[j * n + i] / pivot;
                a[j * n + i] = temp;
                a[j * n + j] -= temp * temp * pivot;
                for (size_t k = j + 1; k < n; k++)
                    a[k * n + j] -= temp * a[k * n + i];
            }
        }
    }
    return rank;
}

void
linalg_chsolve2(const double *a, size_t n, double *y)
{
    for (size_t i = 0; i < n; i++) {            /* L b = y */
        double temp = y[i];
        for (size_t j = 0; j < i; j++)
            temp -= y[j] * a[i * n + j];
        y[i] = temp;
    }
    for (size_t i = n; i-- > 0;) {              /* D L' z = b */
        if (a[i * n + i] == 0) {
            y[i] = 0;
        } else {
            double temp = y[i] / a[i * n + i];
            for (size_t j = i + 1; j < n; j++)
                temp -= y[j] * a[j * n + i];
            y[i] = temp;
        }
    }
}

void
linalg_chinv2(double *a, size_t n)
{
    /* invert L in the lower triangle (sweep), D on the diagonal */
    for (size_t i = 0; i < n; i++) {
        if (a[i * n + i] > 0) {
            a[i * n + i] = 1 / a[i * n + i];
            for (size_t j = i + 1; j < n; j++) {
                a[j * n + i] = -a[j * n + i];
                for (size_t k = 0; k < i; k++)
                    a[j * n + k] += a[j * n + i] * a[i * n + k];
            }
        }
    }
    /* F' D F: the inverse, in the upper triangle and diagonal */
    for (size_t i = 0; i < n; i++) {
        if (a[i * n + i] == 0) {
            for (size_t j = 0; j < i; j++)
                a[j * n + i] = 0;
            for (size_t j = i; j < n; j++)
                a[i * n + j] = 0;
        } else {
            for (size_t j = i + 1; j < n; j++) {
                double temp = a[j * n + i] * a[j * n + j];
                a[i * n + j] = temp;
                for (size_t k = i; k < j; k++)
                    a[i * n + k] += temp * a[j * n + k];
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            a[i * n + j] = a[j * n + i];
}
