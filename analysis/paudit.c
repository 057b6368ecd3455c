/*
 * paudit - the derivability auditor on pooled sizes; see paudit.h.
 */
#include "analysis/paudit.h"

#include <stdlib.h>
#include <string.h>

#include "analysis/derive.h"

/*
 * Error text without stdio (analysis/ does no I/O): each '#' of text takes the
 * next of num[], in decimal.  At most DERIVE_ERRLEN bytes with the NUL.
 */
static void
say(char *err, const char *text, uint64_t n0, uint64_t n1, uint64_t n2)
{
    uint64_t num[3] = {n0, n1, n2};
    size_t at = 0, k = 0;
    for (; *text && at < DERIVE_ERRLEN - 1; text++) {
        if (*text != '#' || k == 3) {
            err[at++] = *text;
            continue;
        }
        char dig[21];
        int d = 0;
        uint64_t v = num[k++];
        do
            dig[d++] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        while (d > 0 && at < DERIVE_ERRLEN - 1)
            err[at++] = dig[--d];
    }
    err[at] = 0;
}

int
paudit_layout_make(struct paudit_layout *A, const uint32_t *ncells, size_t nq, char *err)
{
    memset(A, 0, sizeof *A);
    if (nq == 0 || nq > PAUDIT_MAX_QUERIES) {
        say(err, "the pooled audit covers 1 to # queries, not #", PAUDIT_MAX_QUERIES, nq, 0);
        return -1;
    }
    size_t n = 1;
    for (size_t q = nq; q-- > 0;) {
        if (ncells[q] == 0 || ncells[q] >= PAUDIT_MAX_ATOMS) {
            say(err, "query # of the pooled audit has # cells", q + 1, ncells[q], 0);
            return -1;
        }
        A->radix[q] = ncells[q] + 1;
        A->stride[q] = n;
        n *= A->radix[q];
        if (n > PAUDIT_MAX_ATOMS) {
            say(err, "the pooled audit's # queries define more than # atoms (PAUDIT_MAX_ATOMS)",
                nq, PAUDIT_MAX_ATOMS, 0);
            return -1;
        }
    }
    A->nq = nq;
    A->natoms = n;
    return 0;
}

size_t
paudit_atom(const struct paudit_layout *A, const uint32_t *digit)
{
    size_t a = 0;
    for (size_t q = 0; q < A->nq; q++)
        a += digit[q] * A->stride[q];
    return a;
}

/* 1 if digit d (1 .. radix - 1) of s.q is in s. */
static int
set_has(const struct paudit_set *s, size_t d)
{
    return s->in != NULL ? s->in[d - 1] != 0 : d == (size_t)s->cell + 1;
}

size_t
paudit_set_atoms(const struct paudit_layout *A, struct paudit_set s, uint32_t *out)
{
    /* Atoms whose digit s.q is in s: ascending, as derive wants its rows. */
    size_t m = 0, st = A->stride[s.q], block = st * A->radix[s.q];
    for (size_t hi = 0; hi < A->natoms; hi += block)
        for (size_t d = 1; d < A->radix[s.q]; d++)
            if (set_has(&s, d))
                for (size_t lo = 0; lo < st; lo++)
                    out[m++] = (uint32_t)(hi + d * st + lo);
    return m;
}

/* The virtual rows of a set: every row of each of its atoms, ascending. */
static uint32_t *
set_rows(const struct paudit_layout *A, const uint64_t *off, const uint64_t *size,
    struct paudit_set s, uint32_t *atoms, size_t *n)
{
    size_t na = paudit_set_atoms(A, s, atoms), m = 0;
    for (size_t j = 0; j < na; j++)
        m += size[atoms[j]];
    uint32_t *r = malloc((m ? m : 1) * sizeof *r);
    if (r == NULL)
        return NULL;
    m = 0;
    for (size_t j = 0; j < na; j++)
        for (uint64_t x = 0; x < size[atoms[j]]; x++)
            r[m++] = (uint32_t)(off[atoms[j]] + x);
    *n = m;
    return r;
}

/* Admit sets[order[0..n)] into d; kept[order[i]] as derive decides.  -1 on failure. */
static int
admit(struct derive *d, const struct paudit_layout *A, const uint64_t *off,
    const uint64_t *size, const struct paudit_set *sets, const size_t *order, size_t n,
    unsigned char *kept, char *err)
{
    uint32_t **rows = calloc(n ? n : 1, sizeof *rows);
    size_t *len = calloc(n ? n : 1, sizeof *len);
    unsigned char *k = calloc(n ? n : 1, 1);
    uint32_t *atoms = malloc(A->natoms * sizeof *atoms);
    int rc = -1;
    if (rows == NULL || len == NULL || k == NULL || atoms == NULL) {
        say(err, "out of memory", 0, 0, 0);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if ((rows[i] = set_rows(A, off, size, sets[order[i]], atoms, &len[i])) == NULL) {
            say(err, "out of memory", 0, 0, 0);
            goto done;
        }
    if (derive_admit(d, (const uint32_t *const *)rows, len, n, k, err) < 0)
        goto done;
    derive_commit(d);
    for (size_t i = 0; i < n; i++)
        kept[order[i]] = k[i];
    rc = 0;
done:
    for (size_t i = 0; rows != NULL && i < n; i++)
        free(rows[i]);
    free(rows);
    free(len);
    free(k);
    free(atoms);
    return rc;
}

/* Pooled size of a set: the sum of its atoms'. */
static uint64_t
set_size(const struct paudit_layout *A, const uint64_t *size, struct paudit_set s)
{
    uint64_t n = 0;
    size_t st = A->stride[s.q], block = st * A->radix[s.q];
    for (size_t hi = 0; hi < A->natoms; hi += block)
        for (size_t d = 1; d < A->radix[s.q]; d++)
            if (set_has(&s, d))
                for (size_t lo = 0; lo < st; lo++)
                    n += size[hi + d * st + lo];
    return n;
}

static int
check_sets(const struct paudit_layout *A, const struct paudit_set *s, size_t n,
    const char *what, char *err)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].q >= A->nq || (s[i].in == NULL && s[i].cell + 1 >= A->radix[s[i].q])) {
            say(err, what, i + 1, s[i].q + 1, (uint64_t)s[i].cell + 1);
            return -1;
        }
    return 0;
}

int
paudit_decide(const struct paudit_layout *A, const uint64_t *size, uint32_t k,
    const struct paudit_set *hist, size_t nhist, const struct paudit_set *cand, size_t ncand,
    unsigned char *kept, int *stale, uint64_t seed, char *err)
{
    *stale = 0;
    memset(kept, 0, ncand);
    if (check_sets(A, hist, nhist, "history set # (query #, cell #) is not in the layout",
            err) != 0 ||
        check_sets(A, cand, ncand, "candidate set # (query #, cell #) is not in the layout",
            err) != 0)
        return -1;
    if (k == 0) {
        say(err, "the pooled audit needs min_cell >= 1", 0, 0, 0);
        return -1;
    }
    uint64_t *off = malloc(A->natoms * sizeof *off), *vsize = malloc(A->natoms * sizeof *vsize);
    size_t *order = calloc((nhist > ncand ? nhist : ncand) + 1, sizeof *order);
    uint64_t *csize = malloc(ncand * sizeof *csize + 1);
    unsigned char *hk = malloc(nhist + 1);
    struct derive *d = NULL;
    int rc = -1;
    if (off == NULL || vsize == NULL || order == NULL || csize == NULL || hk == NULL) {
        say(err, "out of memory", 0, 0, 0);
        goto done;
    }
    /*
     * The virtual rows: atom a gets min(size[a], k) of them, not size[a].  derive
     * reads a row set only through which atoms it covers (a pooled atom's rows are
     * always in the same sets, so they stay together in one of derive's atoms, with
     * the pooled atoms no set tells apart) and whether each of its atoms is small,
     * 1 .. k-1 rows.  A union of pooled atoms is small exactly when its capped size
     * is: both are its size when every part is below k, and both are >= k when one
     * part reaches k.  So the verdicts are those on every pooled row (test_paudit's
     * oracle), at a cost of natoms x k rows rather than the pool's size: a pooled
     * count of 100,000 patients cost 1.6 ms a query at the hub, hashing its rows.
     * The bound on pooled rows stays on the real sizes (what the history releases).
     */
    uint64_t total = 0, vtotal = 0;
    for (size_t a = 0; a < A->natoms; a++) {
        total += size[a];
        if (total > PAUDIT_MAX_POOLED_ROWS) {
            say(err, "more than # pooled rows (PAUDIT_MAX_POOLED_ROWS)", PAUDIT_MAX_POOLED_ROWS,
                0, 0);
            goto done;
        }
        off[a] = vtotal;
        vsize[a] = size[a] < k ? size[a] : k;
        vtotal += vsize[a];
    }
    if ((d = derive_new((uint32_t)vtotal, k, 0, seed)) == NULL) {
        say(err, "cannot start the derivation system (memory)", 0, 0, 0);
        goto done;
    }
    /* The history, in release order: what the analyst already knows. */
    for (size_t i = 0; i < nhist; i++)
        order[i] = i;
    if (admit(d, A, off, vsize, hist, order, nhist, hk, err) != 0)
        goto done;
    for (size_t i = 0; i < nhist; i++)
        if (!hk[i])
            *stale = 1;
    if (*stale) {
        rc = 0;
        goto done;
    }
    /* The candidates, largest pooled set first (stable): complementary suppression
     * then withholds the smallest cells, as R3 does at a node. */
    for (size_t i = 0; i < ncand; i++) {
        csize[i] = set_size(A, size, cand[i]);
        size_t j = i;
        for (; j > 0 && csize[order[j - 1]] < csize[i]; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    if (admit(d, A, off, vsize, cand, order, ncand, kept, err) != 0)
        goto done;
    rc = 0;
    for (size_t i = 0; i < ncand; i++)
        rc += kept[i];
done:
    derive_free(d);
    free(off);
    free(vsize);
    free(order);
    free(csize);
    free(hk);
    return rc;
}
