/*
 * paudit - the derivability auditor on pooled sizes; see paudit.h.
 */
#include "analysis/paudit.h"

#include <stdlib.h>
#include <string.h>

#include "analysis/gfp.h"

/*
 * Error text without stdio (analysis/ does no I/O): each '#' of text takes the
 * next of num[], in decimal.  At most PAUDIT_ERRLEN bytes with the NUL.
 */
static void
say(char *err, const char *text, uint64_t n0, uint64_t n1, uint64_t n2)
{
    uint64_t num[3] = {n0, n1, n2};
    size_t at = 0, k = 0;
    for (; *text && at < PAUDIT_ERRLEN - 1; text++) {
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
        while (d > 0 && at < PAUDIT_ERRLEN - 1)
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
    /* Atoms whose digit s.q is in s: ascending. */
    size_t m = 0, st = A->stride[s.q], block = st * A->radix[s.q];
    if (A->digit != NULL) {
        const uint32_t *d = A->digit + s.q * A->natoms;
        for (size_t a = 0; a < A->natoms; a++)
            if (d[a] != 0 && set_has(&s, d[a]))
                out[m++] = (uint32_t)a;
        return m;
    }
    for (size_t hi = 0; hi < A->natoms; hi += block)
        for (size_t d = 1; d < A->radix[s.q]; d++)
            if (set_has(&s, d))
                for (size_t lo = 0; lo < st; lo++)
                    out[m++] = (uint32_t)(hi + d * st + lo);
    return m;
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


/*
 * ---- The released system over the pooled atoms (paudit.h, "The decision") ----
 *
 * Columns are the nonempty atoms of the layout (an empty atom holds nothing
 * to learn; treating it as known-empty only helps the analyst, so the rule
 * is checked against that stronger analyst).  A set is the 0/1 vector of
 * its columns.  The layout's atoms are finer than what the released sets
 * tell apart (the new query's cells split them before any is released), so
 * whether a column is SMALL is decided on its released class: the columns
 * in exactly the same admitted sets, together.  Each column carries two
 * random fingerprints of the sets it is in (a fresh weight per admitted
 * set, summed); columns with equal fingerprints are one class, of the sum
 * of their sizes.  A set of M takes one value on a whole class, so this is
 * exactly the rule on the merged atoms.  Admitting a set only splits
 * classes: a column can turn from large to small, never back.
 *
 * The basis of the row space M is kept in reduced echelon form with two
 * kinds of rows:
 *   L rows pivot on a large column;
 *   S rows have no entry on any large column (they pivot on a small one);
 * and no row has an entry in another row's pivot column.  Then every v in M
 * that is zero on the large columns has coefficient v[pivot] = 0 on each L
 * row, so W = {v in M : v zero on large columns} is exactly the span of the
 * S rows.  A new set splits classes first; an L row whose pivot turned
 * small moves its pivot to a large entry (scaled, eliminated from the other
 * rows), or becomes an S row if it has none.  Then the set is reduced
 * against the pivots (its value at a pivot is its original 1: no other row
 * touches that column); a nonzero remainder becomes an L row if it has a
 * large entry, else an S row.  Then W is tested.  A candidate is tried on a
 * copy of the system, kept only if W passes: a withheld set leaves no trace.
 *
 * The test on W.  Call two columns of W's support equivalent when every
 * vector of W takes the same value on both (equivalently every S row: the
 * relation does not depend on the basis).  The classes G are the groups of
 * patients that W cannot tell apart, so W lies in the span of their 0/1
 * vectors and dim W <= the number of classes.  When dim W equals it, W is
 * spanned by disjoint groups whose counts are all derivable: safe iff each
 * holds >= k pooled rows (a class of 1 .. k-1 is a pair one patient apart,
 * a tracker, a margin minus its cells).  When the classes are more, W also
 * holds combinations that are no group's count, and the bounds test
 * (bounds_safe) decides whether a small group's count follows from them and
 * 1 .. k-1 per small class.
 *
 * Exactness.  Arithmetic is in GF(p), p = 2^61 - 1, exact for these 0/1
 * systems as derive.h argues.  Classes (released and of W) are found by two
 * random fingerprints per column: distinct columns collide with probability
 * about 2^-122 (Schwartz-Zippel), which merges two groups (towards keeping).
 * The weights come from the caller's seed, so a recompute decides the same.
 */
#define NONE UINT32_MAX

struct svec {                       /* sparse, ascending columns, values nonzero < p */
    uint32_t *col;
    uint64_t *val;
    size_t n;
};

/* The released system: what a candidate is tried on a copy of. */
struct sys {
    size_t m;                       /* columns: the nonempty atoms */
    struct svec *row;
    uint32_t *pivot;
    unsigned char *small;           /* 1: an S row (no large entry) */
    size_t nrow, caprow, entries;
    uint32_t *piv_row;              /* column -> the row pivoting on it, or NONE */
    unsigned char *large;           /* column -> its released class holds >= k */
    uint64_t *sig1, *sig2;          /* column -> fingerprints of the sets it is in */
};

struct fp {                         /* a column and its fingerprints */
    uint64_t f1, f2;
    uint32_t col;
};

static int
cmp_fp(const void *a, const void *b)
{
    const struct fp *x = a, *y = b;
    if (x->f1 != y->f1)
        return x->f1 < y->f1 ? -1 : 1;
    return (x->f2 > y->f2) - (x->f2 < y->f2);
}

/* What every system of one decision shares: sizes, threshold, scratch. */
struct ctx {
    size_t m;
    const uint64_t *size;           /* pooled rows of each column */
    uint64_t k;
    uint64_t seed;                  /* fingerprint weights */
    uint64_t *acc;                  /* dense scratch, zero between uses */
    unsigned char *on;
    uint32_t *touched;
    size_t ntouched;
    uint64_t *f1, *f2;
    struct fp *fps;
    uint32_t *turned;               /* columns that turned small in one split */
    uint64_t size_of_class[PAUDIT_MAX_CLASSES];     /* W's classes, in w_safe */
};

static void
svec_free(struct svec *v)
{
    free(v->col);
    free(v->val);
    v->col = NULL;
    v->val = NULL;
    v->n = 0;
}

static void
sys_free(struct sys *S)
{
    for (size_t r = 0; r < S->nrow; r++)
        svec_free(&S->row[r]);
    free(S->row);
    free(S->pivot);
    free(S->small);
    free(S->piv_row);
    free(S->large);
    free(S->sig1);
    free(S->sig2);
    memset(S, 0, sizeof *S);
}

static int
sys_init(struct sys *S, size_t m)
{
    memset(S, 0, sizeof *S);
    size_t n = m ? m : 1;
    S->m = m;
    S->piv_row = malloc(n * sizeof *S->piv_row);
    S->large = malloc(n);
    S->sig1 = calloc(n, sizeof *S->sig1);
    S->sig2 = calloc(n, sizeof *S->sig2);
    if (S->piv_row == NULL || S->large == NULL || S->sig1 == NULL || S->sig2 == NULL) {
        sys_free(S);
        return -1;
    }
    for (size_t c = 0; c < m; c++)
        S->piv_row[c] = NONE;
    memset(S->large, 1, n);         /* one class of everything, until sets split it */
    return 0;
}

static int
svec_copy(struct svec *d, const struct svec *v)
{
    d->n = v->n;
    d->col = malloc((v->n ? v->n : 1) * sizeof *d->col);
    d->val = malloc((v->n ? v->n : 1) * sizeof *d->val);
    if (d->col == NULL || d->val == NULL) {
        svec_free(d);
        return -1;
    }
    memcpy(d->col, v->col, v->n * sizeof *d->col);
    memcpy(d->val, v->val, v->n * sizeof *d->val);
    return 0;
}

/* *d = a deep copy of S. */
static int
sys_copy(struct sys *d, const struct sys *S)
{
    if (sys_init(d, S->m) != 0)
        return -1;
    size_t cap = S->caprow ? S->caprow : 1, n = S->m ? S->m : 1;
    d->row = calloc(cap, sizeof *d->row);
    d->pivot = malloc(cap * sizeof *d->pivot);
    d->small = malloc(cap);
    if (d->row == NULL || d->pivot == NULL || d->small == NULL)
        goto oom;
    d->caprow = S->caprow;
    for (; d->nrow < S->nrow; d->nrow++)
        if (svec_copy(&d->row[d->nrow], &S->row[d->nrow]) != 0)
            goto oom;
    if (S->nrow > 0) {
        memcpy(d->pivot, S->pivot, S->nrow * sizeof *d->pivot);
        memcpy(d->small, S->small, S->nrow);
    }
    memcpy(d->piv_row, S->piv_row, n * sizeof *d->piv_row);
    memcpy(d->large, S->large, n);
    memcpy(d->sig1, S->sig1, n * sizeof *d->sig1);
    memcpy(d->sig2, S->sig2, n * sizeof *d->sig2);
    d->entries = S->entries;
    return 0;
oom:
    sys_free(d);
    return -1;
}

static uint64_t
weight(struct ctx *C)
{
    uint64_t z = (C->seed += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return ((z ^ (z >> 31)) >> 3) % GFP_P;
}

static void
touch(struct ctx *C, uint32_t c)
{
    if (!C->on[c]) {
        C->on[c] = 1;
        C->touched[C->ntouched++] = c;
    }
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The dense scratch's nonzero entries as a sparse vector; the scratch is cleared. */
static int
gather(struct ctx *C, struct svec *out)
{
    qsort(C->touched, C->ntouched, sizeof *C->touched, cmp_u32);
    size_t n = 0;
    for (size_t i = 0; i < C->ntouched; i++)
        n += C->acc[C->touched[i]] != 0;
    out->col = malloc((n ? n : 1) * sizeof *out->col);
    out->val = malloc((n ? n : 1) * sizeof *out->val);
    out->n = 0;
    int ok = out->col != NULL && out->val != NULL;
    for (size_t i = 0; i < C->ntouched; i++) {
        uint32_t c = C->touched[i];
        if (ok && C->acc[c] != 0) {
            out->col[out->n] = c;
            out->val[out->n++] = C->acc[c];
        }
        C->acc[c] = 0;
        C->on[c] = 0;
    }
    C->ntouched = 0;
    if (!ok)
        svec_free(out);
    return ok ? 0 : -1;
}

/* v's value at column c (0 if none). */
static uint64_t
value_at(const struct svec *v, uint32_t c)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->col[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n && v->col[lo] == c ? v->val[lo] : 0;
}

/* *a -= x * b, into new arrays. */
static int
sub_scaled(struct ctx *C, struct sys *S, struct svec *a, uint64_t x, const struct svec *b)
{
    for (size_t i = 0; i < a->n; i++) {
        touch(C, a->col[i]);
        C->acc[a->col[i]] = a->val[i];
    }
    for (size_t i = 0; i < b->n; i++) {
        touch(C, b->col[i]);
        C->acc[b->col[i]] = gfp_sub(C->acc[b->col[i]], gfp_mul(x, b->val[i]));
    }
    struct svec out;
    if (gather(C, &out) != 0)
        return -1;
    S->entries = S->entries - a->n + out.n;
    svec_free(a);
    *a = out;
    return 0;
}

/* Row r pivots on its entry at column p: scaled to 1 there, p eliminated from the others. */
static int
pivot_on(struct ctx *C, struct sys *S, size_t r, uint32_t p)
{
    struct svec *v = &S->row[r];
    uint64_t inv = gfp_inv(value_at(v, p));
    for (size_t i = 0; i < v->n; i++)
        v->val[i] = gfp_mul(v->val[i], inv);
    for (size_t o = 0; o < S->nrow; o++) {
        uint64_t x = o != r ? value_at(&S->row[o], p) : 0;
        if (x != 0 && sub_scaled(C, S, &S->row[o], x, v) != 0)
            return -1;
    }
    S->pivot[r] = p;
    S->piv_row[p] = (uint32_t)r;
    return 0;
}

/* The first large column of v, or NONE. */
static uint32_t
first_large(const struct sys *S, const struct svec *v)
{
    for (size_t i = 0; i < v->n; i++)
        if (S->large[v->col[i]])
            return v->col[i];
    return NONE;
}

/* v (a nonzero remainder, owned by the system from here) becomes a basis row. */
static int
add_row(struct ctx *C, struct sys *S, struct svec *v)
{
    if (S->nrow == S->caprow) {
        size_t cap = S->caprow ? 2 * S->caprow : 64;
        struct svec *row = realloc(S->row, cap * sizeof *row);
        if (row != NULL)
            S->row = row;
        uint32_t *pivot = realloc(S->pivot, cap * sizeof *pivot);
        if (pivot != NULL)
            S->pivot = pivot;
        unsigned char *sm = realloc(S->small, cap);
        if (sm != NULL)
            S->small = sm;
        if (row == NULL || pivot == NULL || sm == NULL) {
            svec_free(v);
            return -1;
        }
        S->caprow = cap;
    }
    uint32_t p = first_large(S, v);
    S->small[S->nrow] = p == NONE;
    if (p == NONE)
        p = v->col[0];
    S->row[S->nrow] = *v;
    S->entries += v->n;
    return pivot_on(C, S, S->nrow++, p);
}

/* Put sets[0 .. n) (ascending columns) into the fingerprints of their columns. */
static void
mark_sets(struct ctx *C, struct sys *S, uint32_t *const *cols, const size_t *len, size_t n)
{
    for (size_t s = 0; s < n; s++) {
        uint64_t w1 = weight(C), w2 = weight(C);
        for (size_t i = 0; i < len[s]; i++) {
            S->sig1[cols[s][i]] = gfp_add(S->sig1[cols[s][i]], w1);
            S->sig2[cols[s][i]] = gfp_add(S->sig2[cols[s][i]], w2);
        }
    }
}

/*
 * The released classes from the fingerprints: a column whose class holds
 * fewer than k pooled rows turns small, and a row pivoting on it moves its
 * pivot to a large entry, or becomes an S row if it has none.
 */
static int
split_classes(struct ctx *C, struct sys *S)
{
    for (size_t c = 0; c < S->m; c++)
        C->fps[c] = (struct fp){S->sig1[c], S->sig2[c], (uint32_t)c};
    qsort(C->fps, S->m, sizeof *C->fps, cmp_fp);
    size_t nturned = 0;
    for (size_t i = 0; i < S->m;) {
        uint64_t rows = 0;
        size_t j = i;
        for (; j < S->m && C->fps[j].f1 == C->fps[i].f1 && C->fps[j].f2 == C->fps[i].f2; j++)
            rows += C->size[C->fps[j].col];
        for (; i < j; i++)
            if (S->large[C->fps[i].col] && rows < C->k) {
                S->large[C->fps[i].col] = 0;
                C->turned[nturned++] = C->fps[i].col;
            }
    }
    for (size_t t = 0; t < nturned; t++) {
        uint32_t c = C->turned[t], r = S->piv_row[c];
        if (r == NONE || S->small[r])
            continue;
        uint32_t p = first_large(S, &S->row[r]);
        if (p == NONE)
            S->small[r] = 1;                /* the row now lies in W */
        else {
            S->piv_row[c] = NONE;
            if (pivot_on(C, S, r, p) != 0)
                return -1;
        }
    }
    return 0;
}

/* Reduce the set cols[0 .. n) against the pivots; keep a nonzero remainder as a row. */
static int
add_set(struct ctx *C, struct sys *S, const uint32_t *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        touch(C, cols[i]);
        C->acc[cols[i]] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t r = S->piv_row[cols[i]];
        if (r == NONE)
            continue;
        const struct svec *v = &S->row[r];
        for (size_t j = 0; j < v->n; j++) {
            touch(C, v->col[j]);
            C->acc[v->col[j]] = gfp_sub(C->acc[v->col[j]], v->val[j]);
        }
    }
    struct svec rem;
    if (gather(C, &rem) != 0)
        return -1;
    if (rem.n == 0) {
        svec_free(&rem);
        return 0;
    }
    return add_row(C, S, &rem);
}

static void
fingerprint(struct ctx *C, const struct svec *v)
{
    uint64_t w1 = weight(C), w2 = weight(C);
    for (size_t j = 0; j < v->n; j++) {
        uint32_t c = v->col[j];
        if (!C->on[c]) {
            C->f1[c] = C->f2[c] = 0;
            touch(C, c);
        }
        C->f1[c] = gfp_add(C->f1[c], gfp_mul(w1, v->val[j]));
        C->f2[c] = gfp_add(C->f2[c], gfp_mul(w2, v->val[j]));
    }
}

/*
 * Reduced echelon form of rows 0 .. n-1 of m on the columns j < nc with
 * use[j] (use NULL: every column), in column order: each pivot scaled to 1
 * and cleared from every other row.  The pivot columns go to piv (unless
 * NULL); returns how many, the rows that hold them coming first.
 */
static size_t
rref(uint64_t (*m)[PAUDIT_MAX_CLASSES], size_t n, size_t nc, const unsigned char *use,
    size_t *piv)
{
    size_t rk = 0;
    for (size_t j = 0; j < nc && rk < n; j++) {
        if (use != NULL && !use[j])
            continue;
        size_t p = rk;
        while (p < n && m[p][j] == 0)
            p++;
        if (p == n)
            continue;
        for (size_t x = 0; x < nc; x++) {
            uint64_t v = m[p][x];
            m[p][x] = m[rk][x];
            m[rk][x] = v;
        }
        uint64_t inv = gfp_inv(m[rk][j]);
        for (size_t x = 0; x < nc; x++)
            m[rk][x] = gfp_mul(m[rk][x], inv);
        for (size_t r = 0; r < n; r++) {
            uint64_t f = r != rk ? m[r][j] : 0;
            for (size_t x = 0; f != 0 && x < nc; x++)
                m[r][x] = gfp_sub(m[r][x], gfp_mul(f, m[rk][x]));
        }
        if (piv != NULL)
            piv[rk] = j;
        rk++;
    }
    return rk;
}

/* U: the span of the differences y - s of the points found, in reduced form. */
struct uspan {
    size_t n, ns;
    uint64_t u[PAUDIT_BOX_CLASSES][PAUDIT_BOX_CLASSES];
    size_t piv[PAUDIT_BOX_CLASSES];
};

/* Add y - s to U; returns U's dimension. */
static size_t
uspan_add(struct uspan *U, const uint64_t *y, const uint64_t *s)
{
    uint64_t dv[PAUDIT_BOX_CLASSES];
    size_t ns = U->ns;
    for (size_t j = 0; j < ns; j++)
        dv[j] = gfp_sub(y[j], s[j]);
    for (size_t i = 0; i < U->n; i++) {
        uint64_t f = dv[U->piv[i]];
        for (size_t j = 0; f != 0 && j < ns; j++)
            dv[j] = gfp_sub(dv[j], gfp_mul(f, U->u[i][j]));
    }
    size_t p = 0;
    while (p < ns && dv[p] == 0)
        p++;
    if (p == ns)
        return U->n;
    uint64_t inv = gfp_inv(dv[p]);
    for (size_t j = 0; j < ns; j++)
        dv[j] = gfp_mul(dv[j], inv);
    for (size_t i = 0; i < U->n; i++) {
        uint64_t f = U->u[i][p];
        for (size_t j = 0; f != 0 && j < ns; j++)
            U->u[i][j] = gfp_sub(U->u[i][j], gfp_mul(f, dv[j]));
    }
    memcpy(U->u[U->n], dv, sizeof dv);
    U->piv[U->n++] = p;
    return U->n;
}

/*
 * The point s + step on the free classes (step: elements of GF(p), zero on the
 * pivots), the pivots following from W0 (rows a[0 .. rk), pivot piv[i]); added
 * to U if every class lies in 1 .. k-1.
 */
static void
probe(const struct ctx *C, struct uspan *U, const uint64_t (*a)[PAUDIT_MAX_CLASSES],
    size_t rk, const size_t *piv, const uint64_t *s, const uint64_t *step, uint64_t *y)
{
    for (size_t j = 0; j < U->ns; j++) {
        y[j] = gfp_add(s[j], step[j]);
        if (y[j] < 1 || y[j] >= C->k)
            return;
    }
    for (size_t i = 0; i < rk; i++) {
        uint64_t v = s[piv[i]];
        for (size_t j = 0; j < U->ns; j++)
            v = gfp_sub(v, gfp_mul(a[i][j], step[j]));
        if (v < 1 || v >= C->k)
            return;
        y[piv[i]] = v;
    }
    uspan_add(U, y, s);
}

/*
 * 1 if some group of small classes, of true size below k in all (so at most
 * k - 1 classes), has its 0/1 vector orthogonal to U (its sum is the same at
 * every point found); 0 if none; -1 past PAUDIT_MAX_GROUPS groups.
 */
static int
group_known(const struct ctx *C, const struct uspan *U, const uint64_t *sz)
{
    size_t ns = U->ns, stack[PAUDIT_BOX_CLASSES], depth = 0, next = 0, tried = 0;
    uint64_t total = 0, dot[PAUDIT_BOX_CLASSES + 1][PAUDIT_BOX_CLASSES];
    memset(dot[0], 0, sizeof dot[0]);
    for (;;) {
        if (next < ns && total + sz[next] < C->k) {
            if (++tried > PAUDIT_MAX_GROUPS)
                return -1;
            size_t j = next;
            stack[depth] = j;
            for (size_t i = 0; i < U->n; i++)
                dot[depth + 1][i] = gfp_add(dot[depth][i], U->u[i][j]);
            depth++;
            total += sz[j];
            int known = 1;
            for (size_t i = 0; i < U->n && known; i++)
                known = dot[depth][i] == 0;
            if (known)
                return 1;
            next = j + 1;
            continue;
        }
        if (next < ns) {
            next++;
            continue;
        }
        if (depth == 0)
            return 0;
        depth--;
        total -= sz[stack[depth]];
        next = stack[depth] + 1;
    }
}

/*
 * The bounds test, for a W whose classes outnumber its dimension (it holds
 * combinations that are no group's count).  The analyst is granted that each
 * small class holds 1 .. k-1 (a withheld cell is never empty, and may be
 * known to be small) and is given nothing on a class of k or more: its count
 * is a free unknown, so only the combinations of W that are zero on the
 * large classes (W0) bind the small ones.  The small class counts y he
 * cannot rule out are the points of the box [1, k-1]^ns with w.y = w.s for
 * every w of W0 (s the true sizes).  Unsafe iff some group of small classes
 * has the same sum, below k, at every such point: then its count is known.
 * Why a large class may go free: its true count is k or more, while the
 * analyst can bound it below by 1 only, so a lower bound on it leaves k - 1
 * of slack, more than the k - 2 a small class ranges over; this holds for
 * the shapes that arise (withheld cells of several tables, each against its
 * margin), not as a theorem for every combination.
 *
 * How: W0 in reduced echelon form on the small classes fixes each pivot
 * class from the free ones.  A probe first tries steps of one or two free
 * classes from the truth; if the points it finds move every small group,
 * the candidate is safe (each point is checked, so this errs never).  Else
 * the free classes are enumerated, one component of linked classes at a
 * time ((k-1)^free <= PAUDIT_MAX_BOX points each); a point stands if every pivot class
 * comes out in 1 .. k-1.  A group's sum is the same at every standing point
 * iff its 0/1 vector is orthogonal to U, the span of the points' differences
 * from the truth; the groups of true size below k are searched (at most
 * PAUDIT_MAX_GROUPS), and the search stops early once U is everything.
 *
 * cls[j]: column of class j, nc classes (<= PAUDIT_MAX_CLASSES), sizes in
 * C->size_of_class.
 */
static int
bounds_safe(const struct ctx *C, const struct sys *S, const struct fp *cls, size_t nc)
{
    static const size_t maxr = PAUDIT_MAX_CLASSES;
    uint64_t m[PAUDIT_MAX_CLASSES][PAUDIT_MAX_CLASSES];
    size_t d = 0, ns = 0;
    /* W in class coordinates (a basis of at most nc rows: its dimension < nc). */
    for (size_t r = 0; r < S->nrow && d < maxr; r++)
        if (S->small[r]) {
            for (size_t j = 0; j < nc; j++)
                m[d][j] = value_at(&S->row[r], cls[j].col);
            d++;
        }
    /* Eliminate the large classes: what is left on the small ones is W0. */
    unsigned char large[PAUDIT_MAX_CLASSES] = {0};
    for (size_t j = 0; j < nc; j++)
        large[j] = C->size_of_class[j] >= C->k;
    size_t top = rref(m, d, nc, large, NULL);
    /* Rows top .. d-1 are zero on every large class: W0, on the small classes. */
    size_t idx[PAUDIT_BOX_CLASSES];
    uint64_t sz[PAUDIT_BOX_CLASSES];
    for (size_t j = 0; j < nc; j++)
        if (!large[j]) {
            if (ns == PAUDIT_BOX_CLASSES)
                return 0;                   /* too many to decide: fail closed */
            sz[ns] = C->size_of_class[j];
            idx[ns++] = j;
        }
    /* W0 in reduced echelon form on the small classes: y[piv[i]] + sum over the free
     * classes f of a[i][f] y[f] = rhs[i], rhs = the same of the true sizes. */
    uint64_t a[PAUDIT_MAX_CLASSES][PAUDIT_MAX_CLASSES];
    size_t na = 0, piv[PAUDIT_MAX_CLASSES];
    unsigned char is_piv[PAUDIT_BOX_CLASSES] = {0};
    for (size_t r = top; r < d; r++, na++)
        for (size_t j = 0; j < ns; j++)
            a[na][j] = m[r][idx[j]];
    size_t rk = rref(a, na, ns, NULL, piv);
    for (size_t i = 0; i < rk; i++)
        is_piv[piv[i]] = 1;
    uint64_t rhs[PAUDIT_BOX_CLASSES];
    size_t fr[PAUDIT_BOX_CLASSES], nfree = 0;
    for (size_t i = 0; i < rk; i++) {
        rhs[i] = 0;
        for (size_t j = 0; j < ns; j++)
            rhs[i] = gfp_add(rhs[i], gfp_mul(a[i][j], sz[j]));
    }
    for (size_t j = 0; j < ns; j++)
        if (!is_piv[j])
            fr[nfree++] = j;
    /*
     * The points the analyst cannot rule out: the free classes in 1 .. k-1, each
     * pivot class then follows and must lie in 1 .. k-1 too (an element of GF(p)
     * below k: a fraction or a negative number is a huge one).  Their differences
     * from the truth span U; a group's sum is the same at every point iff its
     * 0/1 vector is orthogonal to U.  First a probe: steps of one or two free
     * classes from the truth (every point found is a real one, so a group they
     * move is not known); only if some small group stays put are all points
     * enumerated, each component of linked classes alone (the others held at
     * the truth: U is the sum of theirs), at most PAUDIT_MAX_BOX points each.
     */
    struct uspan U;
    U.n = 0;
    U.ns = ns;
    uint64_t y[PAUDIT_BOX_CLASSES];
    for (size_t f = 0; f < nfree && U.n < ns; f++)
        for (uint64_t t = 1; t < C->k - 1 && U.n < ns; t++)
            for (int sign = 0; sign < 2; sign++) {
                uint64_t step[PAUDIT_BOX_CLASSES] = {0};
                step[fr[f]] = sign ? GFP_P - t : t;
                probe(C, &U, (const uint64_t(*)[PAUDIT_MAX_CLASSES])a, rk, piv, sz, step, y);
            }
    for (size_t f = 0; f < nfree && U.n < ns; f++)
        for (size_t g = f + 1; g < nfree && U.n < ns; g++)
            for (int sg = 0; sg < 4; sg++) {
                uint64_t step[PAUDIT_BOX_CLASSES] = {0};
                step[fr[f]] = sg & 1 ? GFP_P - 1 : 1;
                step[fr[g]] = sg & 2 ? GFP_P - 1 : 1;
                probe(C, &U, (const uint64_t(*)[PAUDIT_MAX_CLASSES])a, rk, piv, sz, step, y);
            }
    int known = group_known(C, &U, sz);
    if (known <= 0)
        return known == 0;                  /* every small group moves; or fail closed */
    size_t comp[PAUDIT_BOX_CLASSES];
    for (size_t j = 0; j < ns; j++)
        comp[j] = j;
    for (size_t i = 0; i < rk; i++)
        for (size_t j = 0; j < ns; j++)
            if (a[i][j] != 0) {
                size_t x = piv[i], z = j;
                while (comp[x] != x)
                    x = comp[x] = comp[comp[x]];
                while (comp[z] != z)
                    z = comp[z] = comp[comp[z]];
                comp[x] = z;
            }
    for (size_t j = 0; j < ns; j++)
        while (comp[j] != comp[comp[j]])
            comp[j] = comp[comp[j]];
    memcpy(y, sz, ns * sizeof *y);
    for (size_t root = 0; root < ns && U.n < ns; root++) {
        if (comp[root] != root)
            continue;
        size_t cf[PAUDIT_BOX_CLASSES], ncf = 0, cr[PAUDIT_BOX_CLASSES], ncr = 0;
        for (size_t f = 0; f < nfree; f++)
            if (comp[fr[f]] == root)
                cf[ncf++] = fr[f];
        for (size_t i = 0; i < rk; i++)
            if (comp[piv[i]] == root)
                cr[ncr++] = i;
        uint64_t box = 1;
        for (size_t f = 0; f < ncf && box <= PAUDIT_MAX_BOX; f++)
            box *= C->k - 1;
        if (box > PAUDIT_MAX_BOX)
            return 0;                       /* fail closed */
        for (size_t f = 0; f < ncf; f++)
            y[cf[f]] = 1;
        for (;;) {
            int in = 1;
            for (size_t t = 0; t < ncr && in; t++) {
                size_t i = cr[t];
                uint64_t v = rhs[i];
                for (size_t f = 0; f < ncf; f++)
                    v = gfp_sub(v, gfp_mul(a[i][cf[f]], y[cf[f]]));
                y[piv[i]] = v;
                in = v >= 1 && v < C->k;
            }
            if (in && uspan_add(&U, y, sz) == ns)
                return 1;                   /* every direction is open: no sum is known */
            size_t f = 0;
            while (f < ncf && y[cf[f]] == C->k - 1)
                y[cf[f++]] = 1;
            if (f == ncf)
                break;
            y[cf[f]]++;
        }
        for (size_t j = 0; j < ns; j++)
            if (comp[j] == root)
                y[j] = sz[j];
    }
    known = group_known(C, &U, sz);
    return known == 0;
}

/* 1 if W (the S rows of S) passes the test above, 0 if not. */
static int
w_safe(struct ctx *C, const struct sys *S)
{
    size_t dim = 0;
    for (size_t r = 0; r < S->nrow; r++)
        if (S->small[r]) {
            fingerprint(C, &S->row[r]);
            dim++;
        }
    size_t n = C->ntouched;
    for (size_t i = 0; i < n; i++) {
        uint32_t col = C->touched[i];
        C->fps[i] = (struct fp){C->f1[col], C->f2[col], col};
        C->on[col] = 0;
    }
    C->ntouched = 0;
    qsort(C->fps, n, sizeof *C->fps, cmp_fp);
    /* The classes, each as its first column (moved to the front of fps) and size. */
    size_t classes = 0, nsmall = 0;
    for (size_t i = 0; i < n;) {
        uint64_t rows = 0;
        size_t j = i;
        for (; j < n && C->fps[j].f1 == C->fps[i].f1 && C->fps[j].f2 == C->fps[i].f2; j++)
            rows += C->size[C->fps[j].col];
        nsmall += rows < C->k;
        if (classes < PAUDIT_MAX_CLASSES)
            C->size_of_class[classes] = rows;
        C->fps[classes++] = C->fps[i];
        i = j;
    }
    /* W spanned by its classes: each class's count is known, none may be small. */
    if (classes == dim)
        return nsmall == 0;
    /* Combinations that are no group's count: the bounds decide. */
    if (classes > PAUDIT_MAX_CLASSES)
        return 0;                           /* fail closed */
    return bounds_safe(C, S, C->fps, classes);
}

/* A set's columns (its nonempty atoms, ascending) into a new array. */
static uint32_t *
set_cols(const struct paudit_layout *A, const uint32_t *colof, struct paudit_set s,
    uint32_t *atoms, size_t *n)
{
    size_t na = paudit_set_atoms(A, s, atoms);
    uint32_t *cols = malloc((na ? na : 1) * sizeof *cols);
    *n = 0;
    for (size_t j = 0; cols != NULL && j < na; j++)
        if (colof[atoms[j]] != NONE)
            cols[(*n)++] = colof[atoms[j]];
    return cols;
}

static void
free_cols(uint32_t **cols, size_t n)
{
    for (size_t i = 0; cols != NULL && i < n; i++)
        free(cols[i]);
    free(cols);
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
    size_t N = A->natoms ? A->natoms : 1;
    struct ctx C = {.k = k, .seed = seed};
    struct sys S = {0}, T = {0};
    uint32_t *colof = malloc(N * sizeof *colof), *atoms = malloc(N * sizeof *atoms);
    uint64_t *csz = malloc(N * sizeof *csz), *candsize = malloc((ncand + 1) * sizeof *candsize);
    size_t *order = malloc((ncand + 1) * sizeof *order);
    size_t *hlen = calloc(nhist + 1, sizeof *hlen), *clen = calloc(ncand + 1, sizeof *clen);
    uint32_t **hcols = calloc(nhist + 1, sizeof *hcols), **ccols = calloc(ncand + 1, sizeof *ccols);
    C.acc = calloc(N, sizeof *C.acc);
    C.on = calloc(N, 1);
    C.touched = malloc(N * sizeof *C.touched);
    C.turned = malloc(N * sizeof *C.turned);
    C.f1 = malloc(N * sizeof *C.f1);
    C.f2 = malloc(N * sizeof *C.f2);
    C.fps = malloc(N * sizeof *C.fps);
    int rc = -1;
    if (colof == NULL || atoms == NULL || csz == NULL || candsize == NULL || order == NULL ||
        hlen == NULL || clen == NULL || hcols == NULL || ccols == NULL || C.acc == NULL ||
        C.on == NULL || C.touched == NULL || C.turned == NULL || C.f1 == NULL ||
        C.f2 == NULL || C.fps == NULL)
        goto oom;
    uint64_t total = 0;
    for (size_t a = 0; a < A->natoms; a++) {
        total += size[a];
        if (size[a] > PAUDIT_MAX_POOLED_ROWS || total > PAUDIT_MAX_POOLED_ROWS) {
            say(err, "more than # pooled rows (PAUDIT_MAX_POOLED_ROWS)", PAUDIT_MAX_POOLED_ROWS,
                0, 0);
            goto done;
        }
        colof[a] = size[a] ? (uint32_t)C.m : NONE;
        if (size[a])
            csz[C.m++] = size[a];
    }
    C.size = csz;
    for (size_t i = 0; i < nhist; i++)
        if ((hcols[i] = set_cols(A, colof, hist[i], atoms, &hlen[i])) == NULL)
            goto oom;
    for (size_t i = 0; i < ncand; i++)
        if ((ccols[i] = set_cols(A, colof, cand[i], atoms, &clen[i])) == NULL)
            goto oom;
    if (sys_init(&S, C.m) != 0)
        goto oom;
    /* The history, whole: what the analyst already knows.  Tested once, at the end
     * (the test is not monotone: a set may make W unsafe that a later one repairs,
     * as A - B becomes A and B). */
    mark_sets(&C, &S, hcols, hlen, nhist);
    if (split_classes(&C, &S) != 0)
        goto oom;
    for (size_t i = 0; i < nhist; i++)
        if (add_set(&C, &S, hcols[i], hlen[i]) != 0)
            goto oom;
    if (S.entries > PAUDIT_MAX_ENTRIES) {
        say(err, "the pooled audit's system would hold more than # entries "
            "(PAUDIT_MAX_ENTRIES)", PAUDIT_MAX_ENTRIES, 0, 0);
        goto done;
    }
    if (!w_safe(&C, &S)) {
        *stale = 1;
        rc = 0;
        goto done;
    }
    /* The candidates, largest pooled set first (stable): complementary suppression
     * then withholds the smallest cells, as R3 does at a node.  Each is tried on a
     * copy of the system. */
    for (size_t i = 0; i < ncand; i++) {
        candsize[i] = 0;                /* its pooled size, from the columns already found */
        for (size_t j = 0; j < clen[i]; j++)
            candsize[i] += csz[ccols[i][j]];
        size_t j = i;
        for (; j > 0 && candsize[order[j - 1]] < candsize[i]; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    for (size_t i = 0; i < ncand; i++) {
        size_t c = order[i];
        if (sys_copy(&T, &S) != 0)
            goto oom;
        mark_sets(&C, &T, &ccols[c], &clen[c], 1);
        if (split_classes(&C, &T) != 0 || add_set(&C, &T, ccols[c], clen[c]) != 0)
            goto oom;
        if (T.entries > PAUDIT_MAX_ENTRIES) {
            say(err, "the pooled audit's system would hold more than # entries "
                "(PAUDIT_MAX_ENTRIES)", PAUDIT_MAX_ENTRIES, 0, 0);
            goto done;
        }
        kept[c] = (unsigned char)w_safe(&C, &T);
        if (kept[c]) {
            sys_free(&S);
            S = T;
            memset(&T, 0, sizeof T);
        } else
            sys_free(&T);
    }
    rc = 0;
    for (size_t i = 0; i < ncand; i++)
        rc += kept[i];
    goto done;
oom:
    say(err, "out of memory", 0, 0, 0);
done:
    if (rc < 0)
        memset(kept, 0, ncand);
    sys_free(&S);
    sys_free(&T);
    free_cols(hcols, nhist);
    free_cols(ccols, ncand);
    free(hlen);
    free(clen);
    free(colof);
    free(atoms);
    free(csz);
    free(candsize);
    free(order);
    free(C.acc);
    free(C.on);
    free(C.touched);
    free(C.turned);
    free(C.f1);
    free(C.f2);
    free(C.fps);
    return rc;
}
