/*
 * logrank - see logrank.h.  logrank_oev walks the pooled times from the last
 * to the first, as survdiff2.c walks its sorted records, accumulating the
 * number at risk per group; the floating-point expressions are survdiff2.c's,
 * in its order, so O, E and V agree with R to the last few bits.
 */
#include "analysis/logrank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOGRANK_DBL_EPSILON 2.220446049250313080847e-16     /* DBL_EPSILON: R's solve() tolerance */
#define LOGRANK_SQRT_2_PI 0.79788456080286535587989211986876    /* sqrt(2 / pi) */

int
logrank_oev_init(struct logrank_oev *x, size_t ngroups)
{
    memset(x, 0, sizeof *x);
    if (ngroups == 0 || ngroups > LOGRANK_MAX_GROUPS)
        return LOGRANK_EINVAL;
    x->n = calloc(ngroups, sizeof *x->n);
    x->o = calloc(ngroups, sizeof *x->o);
    x->e = calloc(ngroups, sizeof *x->e);
    x->v = calloc(ngroups * ngroups, sizeof *x->v);
    if (x->n == NULL || x->o == NULL || x->e == NULL || x->v == NULL) {
        logrank_oev_release(x);
        return LOGRANK_ENOMEM;
    }
    x->ngroups = ngroups;
    return 0;
}

void
logrank_oev_release(struct logrank_oev *x)
{
    if (x == NULL)
        return;
    free(x->n);
    free(x->o);
    free(x->e);
    free(x->v);
    memset(x, 0, sizeof *x);
}

int
logrank_oev(const struct km_table *groups, size_t ngroups, struct logrank_oev *out)
{
    int rc = logrank_oev_init(out, ngroups);
    if (rc != 0)
        return rc;
    if (groups == NULL) {
        logrank_oev_release(out);
        return LOGRANK_EINVAL;
    }
    for (size_t g = 0; g < ngroups; g++) {
        if (km_table_check(&groups[g]) != 0) {
            logrank_oev_release(out);
            return LOGRANK_EINVAL;
        }
        out->n[g] = groups[g].n;
    }

    size_t next[LOGRANK_MAX_GROUPS];        /* rows not yet visited: [0, next) */
    int64_t risk[LOGRANK_MAX_GROUPS] = {0};
    for (size_t g = 0; g < ngroups; g++)
        next[g] = groups[g].nrows;
    size_t G = ngroups;
    int64_t nrisk_i = 0;
    for (;;) {
        /* the latest time not yet visited in any group */
        int found = 0;
        int32_t t = 0;
        for (size_t g = 0; g < G; g++) {
            if (next[g] > 0 && (!found || groups[g].rows[next[g] - 1].time > t)) {
                t = groups[g].rows[next[g] - 1].time;
                found = 1;
            }
        }
        if (!found)
            break;
        int64_t deaths_i = 0;
        for (size_t g = 0; g < G; g++) {
            if (next[g] > 0 && groups[g].rows[next[g] - 1].time == t) {
                const struct km_row *r = &groups[g].rows[--next[g]];
                risk[g] += r->d + r->c;
                nrisk_i += r->d + r->c;
                deaths_i += r->d;
                out->o[g] += (double)r->d;
            }
        }
        if (deaths_i == 0)
            continue;
        double deaths = (double)deaths_i, nrisk = (double)nrisk_i;
        for (size_t k = 0; k < G; k++)
            out->e[k] += deaths * (double)risk[k] / nrisk;
        if (nrisk_i == 1)
            continue;                   /* only 1 subject, so no variance */
        for (size_t j = 0; j < G; j++) {
            double tmp = deaths * (double)risk[j] * (nrisk - deaths) / (nrisk * (nrisk - 1));
            out->v[j * G + j] += tmp;
            for (size_t k = 0; k < G; k++)
                out->v[k * G + j] -= tmp * (double)risk[k] / nrisk;
        }
    }
    return 0;
}

int
logrank_node_oev(const int32_t *time, const uint8_t *event, const uint32_t *group,
                 size_t n, size_t ngroups, int32_t grid, struct logrank_oev *out)
{
    memset(out, 0, sizeof *out);
    if (ngroups == 0 || ngroups > LOGRANK_MAX_GROUPS || (n > 0 && (time == NULL || event == NULL || group == NULL)))
        return LOGRANK_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (group[i] >= ngroups)
            return LOGRANK_EINVAL;

    int rc = 0;
    struct km_table tables[LOGRANK_MAX_GROUPS];
    memset(tables, 0, sizeof tables);
    int32_t *t = n ? malloc(n * sizeof *t) : NULL;
    uint8_t *e = n ? malloc(n * sizeof *e) : NULL;
    if (n > 0 && (t == NULL || e == NULL)) {
        rc = LOGRANK_ENOMEM;
        goto done;
    }
    for (size_t g = 0; g < ngroups; g++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (group[i] == g) {
                t[m] = time[i];
                e[m++] = event[i];
            }
        }
        rc = km_life_table(t, e, m, grid, &tables[g]);
        if (rc != 0) {
            rc = rc == KM_ENOMEM ? LOGRANK_ENOMEM : rc == KM_ERANGE ? LOGRANK_ERANGE : LOGRANK_EINVAL;
            goto done;
        }
    }
    rc = logrank_oev(tables, ngroups, out);
done:
    for (size_t g = 0; g < ngroups; g++)
        km_table_release(&tables[g]);
    free(t);
    free(e);
    return rc;
}

int
logrank_pooled(const struct km_table *tables, size_t nnodes, size_t ngroups,
               struct logrank_oev *out)
{
    memset(out, 0, sizeof *out);
    if (ngroups == 0 || ngroups > LOGRANK_MAX_GROUPS || nnodes > KM_MAX_TABLES
        || (nnodes > 0 && tables == NULL))
        return LOGRANK_EINVAL;

    int rc = 0;
    struct km_table pooled[LOGRANK_MAX_GROUPS];
    memset(pooled, 0, sizeof pooled);
    struct km_table *col = nnodes ? malloc(nnodes * sizeof *col) : NULL;
    if (nnodes > 0 && col == NULL) {
        rc = LOGRANK_ENOMEM;
        goto done;
    }
    for (size_t g = 0; g < ngroups; g++) {
        for (size_t k = 0; k < nnodes; k++)
            col[k] = tables[k * ngroups + g];      /* shallow: km_pool only reads */
        rc = km_pool(col, nnodes, &pooled[g]);
        if (rc != 0) {
            rc = rc == KM_ENOMEM ? LOGRANK_ENOMEM : LOGRANK_EINVAL;
            goto done;
        }
    }
    rc = logrank_oev(pooled, ngroups, out);
done:
    for (size_t g = 0; g < ngroups; g++)
        km_table_release(&pooled[g]);
    free(col);
    return rc;
}

int
logrank_oev_add(struct logrank_oev *sum, const struct logrank_oev *x)
{
    if (sum->ngroups == 0 || sum->ngroups != x->ngroups)
        return LOGRANK_EINVAL;
    size_t G = sum->ngroups;
    for (size_t g = 0; g < G; g++) {
        if (x->n[g] < 0 || sum->n[g] > INT64_MAX - x->n[g])
            return LOGRANK_EINVAL;
    }
    for (size_t g = 0; g < G; g++) {
        sum->n[g] += x->n[g];
        sum->o[g] += x->o[g];
        sum->e[g] += x->e[g];
    }
    for (size_t i = 0; i < G * G; i++)
        sum->v[i] += x->v[i];
    return 0;
}

/*
 * LU with partial pivoting (as LAPACK dgetrf) of the m x m row-major a, in
 * place; piv[] records the row interchanges.  -1 on an exactly zero pivot.
 */
static int
lu_factor(double *a, size_t m, size_t *piv)
{
    for (size_t c = 0; c < m; c++) {
        size_t p = c;
        for (size_t r = c + 1; r < m; r++)
            if (fabs(a[r * m + c]) > fabs(a[p * m + c]))
                p = r;
        piv[c] = p;
        if (a[p * m + c] == 0)
            return -1;
        if (p != c)
            for (size_t k = 0; k < m; k++) {
                double tmp = a[c * m + k];
                a[c * m + k] = a[p * m + k];
                a[p * m + k] = tmp;
            }
        for (size_t r = c + 1; r < m; r++) {
            double f = a[r * m + c] / a[c * m + c];
            a[r * m + c] = f;
            for (size_t k = c + 1; k < m; k++)
                a[r * m + k] -= f * a[c * m + k];
        }
    }
    return 0;
}

static void
lu_solve(const double *lu, size_t m, const size_t *piv, double *b)
{
    for (size_t c = 0; c < m; c++) {
        if (piv[c] != c) {
            double tmp = b[c];
            b[c] = b[piv[c]];
            b[piv[c]] = tmp;
        }
    }
    for (size_t r = 0; r < m; r++)
        for (size_t k = 0; k < r; k++)
            b[r] -= lu[r * m + k] * b[k];
    for (size_t r = m; r-- > 0;) {
        for (size_t k = r + 1; k < m; k++)
            b[r] -= lu[r * m + k] * b[k];
        b[r] /= lu[r * m + r];
    }
}

static double
norm1(const double *a, size_t m)
{
    double best = 0;
    for (size_t c = 0; c < m; c++) {
        double s = 0;
        for (size_t r = 0; r < m; r++)
            s += fabs(a[r * m + c]);
        if (s > best)
            best = s;
    }
    return best;
}

int
logrank_test(const struct logrank_oev *x, struct logrank_result *r)
{
    r->chisq = 0;
    r->df = 0;
    r->p = 1;
    size_t G = x->ngroups;
    if (G == 0 || G > LOGRANK_MAX_GROUPS)
        return LOGRANK_EINVAL;
    size_t idx[LOGRANK_MAX_GROUPS], kept = 0;
    for (size_t g = 0; g < G; g++)
        if (x->e[g] > 0)
            idx[kept++] = g;
    if (kept < 2)
        return 0;

    /* tested groups: the kept ones but the first */
    size_t m = kept - 1;
    int rc = 0;
    double *a = malloc(m * m * sizeof *a);
    double *lu = malloc(m * m * sizeof *lu);
    double *inv = malloc(m * m * sizeof *inv);
    double *b = malloc(m * sizeof *b);
    double *sol = malloc(m * sizeof *sol);
    double *col = malloc(m * sizeof *col);
    size_t *piv = malloc(m * sizeof *piv);
    if (!a || !lu || !inv || !b || !sol || !col || !piv) {
        rc = LOGRANK_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < m; i++) {
        b[i] = x->o[idx[i + 1]] - x->e[idx[i + 1]];
        for (size_t j = 0; j < m; j++)
            a[i * m + j] = x->v[idx[i + 1] * G + idx[j + 1]];
    }
    memcpy(lu, a, m * m * sizeof *lu);
    if (lu_factor(lu, m, piv) != 0) {
        rc = LOGRANK_ESINGULAR;
        goto done;
    }
    /* R's solve() also refuses when rcond < DBL_EPSILON (computationally singular). */
    for (size_t c = 0; c < m; c++) {
        memset(col, 0, m * sizeof *col);
        col[c] = 1;
        lu_solve(lu, m, piv, col);
        for (size_t i = 0; i < m; i++)
            inv[i * m + c] = col[i];
    }
    double rcond = 1 / (norm1(a, m) * norm1(inv, m));
    if (!(rcond >= LOGRANK_DBL_EPSILON)) {
        rc = LOGRANK_ESINGULAR;
        goto done;
    }
    memcpy(sol, b, m * sizeof *sol);
    lu_solve(lu, m, piv, sol);
    double chi = 0;
    for (size_t i = 0; i < m; i++)
        chi += sol[i] * b[i];
    r->chisq = chi;
    r->df = (int)m;
    r->p = logrank_chisq_upper(chi, r->df);
done:
    free(a);
    free(lu);
    free(inv);
    free(b);
    free(sol);
    free(col);
    free(piv);
    return rc;
}

double
logrank_chisq_upper(double x, int df)
{
    if (df < 0 || isnan(x))
        return NAN;
    if (x <= 0)
        return 1;
    if (df == 0)
        return 0;
    double s = 0, t;
    if (df % 2 == 0) {
        /* Q = exp(-x/2) sum_{k < df/2} (x/2)^k / k! */
        t = exp(-x / 2);
        s = t;
        for (int k = 1; k < df / 2; k++) {
            t *= (x / 2) / k;
            s += t;
        }
        return s;
    }
    /* Q = erfc(sqrt(x/2)) + sqrt(2/pi) exp(-x/2) sum_{k=1}^{(df-1)/2} x^(k-1/2) / (1*3*...*(2k-1)) */
    t = LOGRANK_SQRT_2_PI * exp(-x / 2) * sqrt(x);
    for (int k = 1; k <= (df - 1) / 2; k++) {
        if (k > 1)
            t *= x / (2 * k - 1);
        s += t;
    }
    return erfc(sqrt(x / 2)) + s;
}
