/*
 * derive - see derive.h for the rule.  The algorithm:
 *
 * State.  atom_of[row]; per atom its size, the basis row pivoting on it (or
 * NONE) and a column list: the basis rows that may hold the atom as a
 * non-pivot entry (a superset: entries go stale when a row loses the atom
 * and are dropped when the list is next read).  Basis rows are sparse
 * (ascending atom, value mod p) with the pivot implicit (coefficient 1).
 *
 * One candidate S (admit_one):
 *   1. count S's rows per atom; an atom a only partly in S splits: its rows
 *      in S move to a new atom a' (ids grow, so rows stay sorted when a' is
 *      appended).  Every basis row holding a gets the same value at a'
 *      (a pivot row gets 1): the released vectors do not distinguish a
 *      from a'.
 *   2. a pivot atom that became small is replaced by a large atom c of its
 *      row (the one in the fewest rows, to limit fill): the row is scaled
 *      by 1/v_c and c eliminated from the rows holding it.  A row with no
 *      large atom left is itself supported on small atoms: unsafe.
 *   3. S as a 0/1 vector over the new atoms minus the basis rows pivoting
 *      on its atoms leaves a remainder on non-pivot atoms.  Zero: S is a
 *      combination of released sets (kept, nothing stored).  Some large
 *      atom c: a new basis row pivoting on c, eliminated from the others.
 *      Only small atoms: the remainder is a released combination on small
 *      atoms: unsafe.
 * Unsafe undoes the candidate to its checkpoint in the undo log.
 *
 * Undo log (sequential, undone in reverse): APPEND (a row's length before
 * an entry was appended), REPLACE (a row's previous arrays and pivot, kept
 * rather than copied: a row operation builds new arrays anyway), NEWROW,
 * SPLITS (one candidate's new atoms; the moved rows are kept in moved[]).
 * Column lists need no undo: while an admit is pending, a list keeps the
 * entries of rows replaced in it (rtouch), so a restored row is still
 * listed wherever it was.
 */
#include "analysis/derive.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define P ((uint64_t)0x1FFFFFFFFFFFFFFF)   /* 2^61 - 1 */

/* ---- GF(p) ---- */

static inline uint64_t
addm(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    return s >= P ? s - P : s;
}

static inline uint64_t
subm(uint64_t a, uint64_t b)
{
    return a >= b ? a - b : a + P - b;
}

static inline uint64_t
mulm(uint64_t a, uint64_t b)
{
    /* a, b < p: the product < 2^122; 2^61 = 1 (mod p) folds the high part. */
    unsigned __int128 t = (unsigned __int128)a * b;
    return addm((uint64_t)t & P, (uint64_t)(t >> 61));
}

static uint64_t
invm(uint64_t a)                    /* a != 0: a^(p-2) */
{
    uint64_t r = 1, e = P - 2;
    while (e) {
        if (e & 1)
            r = mulm(r, a);
        a = mulm(a, a);
        e >>= 1;
    }
    return r;
}

/* ---- state ---- */

struct drow {                       /* e_piv + sum val[t] e_col[t] */
    uint32_t piv;                   /* pivot atom (large while the system is safe) */
    uint32_t len, cap;              /* entries, allocated */
    uint32_t *col;                  /* ascending non-pivot atoms */
    uint64_t *val;                  /* nonzero, < p */
};

struct ulist {                      /* growable uint32 list */
    uint32_t *p;
    uint32_t len, cap;
};

enum { U_APPEND, U_REPLACE, U_NEWROW, U_SPLITS };

struct undo {
    int kind;
    uint32_t row;                   /* APPEND, REPLACE: the row; SPLITS: first new atom */
    uint32_t piv, len, cap;         /* REPLACE: the old row; APPEND: old len */
    uint32_t *col;                  /* REPLACE: the old arrays */
    uint64_t *val;
    size_t off;                     /* SPLITS: start of its moved rows */
};

struct derive {
    uint32_t nrows, k;
    size_t max_bytes;               /* cap on bytes */
    size_t bytes;                   /* held, kept up to date by mem() */
    uint32_t *atom_of;              /* [nrows] */
    uint32_t natoms, acap;
    uint32_t *size;                 /* [acap] rows in the atom */
    uint32_t *pivot_row;            /* [acap] basis row pivoting on the atom, or NONE */
    uint32_t *parent;               /* [acap] atom split from (pending splits only) */
    struct ulist *cols;             /* [acap] rows that may hold the atom (superset) */
    uint64_t *acc;                  /* [acap] scratch: remainder */
    uint32_t *mark, *cnt, *part;    /* [acap] scratch: stamp, rows of S, part in S */
    uint32_t epoch;                 /* stamp for mark[] */
    struct drow *row;               /* [rcap] the basis */
    uint32_t nbasis, rcap;
    uint32_t *rtouch;               /* [rcap] = admit_epoch if replaced while pending */
    uint32_t *rmark;                /* [rcap] scratch stamp (dedup) */
    uint32_t admit_epoch, repoch;
    struct undo *log;
    size_t nlog, logcap;
    uint32_t *moved;                /* rows moved by pending splits */
    size_t nmoved, movedcap;
    struct ulist touched, work, res;  /* scratch */
    int pending;
    int nomem;                      /* an allocation failed in this candidate */
};

/*
 * realloc from ${old} to ${n} elements of ${sz} bytes, keeping d->bytes; a
 * growth past max_bytes fails (nomem = 2) as running out of memory does
 * (nomem = 1), so the memory held never passes the cap.
 */
static void *
mem(struct derive *d, void *p, size_t old, size_t n, size_t sz)
{
    if (n == 0) {
        free(p);
        d->bytes -= old * sz;
        return NULL;
    }
    if (n > SIZE_MAX / sz) {
        d->nomem = 1;
        return NULL;
    }
    if (n > old && (n - old) * sz > d->max_bytes - d->bytes) {
        d->nomem = 2;
        return NULL;
    }
    void *q = realloc(p, n * sz);
    if (q == NULL) {
        d->nomem = 1;
        return NULL;
    }
    d->bytes = d->bytes - old * sz + n * sz;
    return q;
}

static int
ulist_push(struct derive *d, struct ulist *l, uint32_t v)
{
    if (l->len == l->cap) {
        uint32_t nc = l->cap ? l->cap * 2 : 4;
        uint32_t *q = mem(d, l->p, l->cap, nc, sizeof *q);
        if (q == NULL)
            return -1;
        l->p = q;
        l->cap = nc;
    }
    l->p[l->len++] = v;
    return 0;
}

static int
log_push(struct derive *d, const struct undo *u)
{
    if (d->nlog == d->logcap) {
        size_t nc = d->logcap ? d->logcap * 2 : 64;
        struct undo *q = mem(d, d->log, d->logcap, nc, sizeof *q);
        if (q == NULL)
            return -1;
        d->log = q;
        d->logcap = nc;
    }
    d->log[d->nlog++] = *u;
    return 0;
}

/* Room for ${n} atoms. */
static int
atoms_reserve(struct derive *d, uint32_t n)
{
    if (n <= d->acap)
        return 0;
    uint32_t nc = d->acap ? d->acap : 16;
    while (nc < n)
        nc = nc > UINT32_MAX / 2 ? n : nc * 2;
    size_t o = d->acap;
    uint32_t *s = mem(d, d->size, o, nc, 4);
    if (s) d->size = s;
    uint32_t *pr = s ? mem(d, d->pivot_row, o, nc, 4) : NULL;
    if (pr) d->pivot_row = pr;
    uint32_t *pa = pr ? mem(d, d->parent, o, nc, 4) : NULL;
    if (pa) d->parent = pa;
    struct ulist *cl = pa ? mem(d, d->cols, o, nc, sizeof *cl) : NULL;
    if (cl) d->cols = cl;
    uint64_t *ac = cl ? mem(d, d->acc, o, nc, 8) : NULL;
    if (ac) d->acc = ac;
    uint32_t *mk = ac ? mem(d, d->mark, o, nc, 4) : NULL;
    if (mk) d->mark = mk;
    uint32_t *cn = mk ? mem(d, d->cnt, o, nc, 4) : NULL;
    if (cn) d->cnt = cn;
    uint32_t *pt = cn ? mem(d, d->part, o, nc, 4) : NULL;
    if (pt) d->part = pt;
    if (pt == NULL) {
        /* Arrays grown so far keep their larger size; acap stays: harmless. */
        return -1;
    }
    memset(d->mark + o, 0, (nc - o) * 4);
    memset(d->cols + o, 0, (nc - o) * sizeof *d->cols);
    d->acap = nc;
    return 0;
}

static int
rows_reserve(struct derive *d, uint32_t n)
{
    if (n <= d->rcap)
        return 0;
    uint32_t nc = d->rcap ? d->rcap * 2 : 16;
    while (nc < n)
        nc *= 2;
    size_t o = d->rcap;
    struct drow *r = mem(d, d->row, o, nc, sizeof *r);
    if (r) d->row = r;
    uint32_t *t = r ? mem(d, d->rtouch, o, nc, 4) : NULL;
    if (t) d->rtouch = t;
    uint32_t *m = t ? mem(d, d->rmark, o, nc, 4) : NULL;
    if (m) d->rmark = m;
    if (m == NULL)
        return -1;
    memset(d->rtouch + o, 0, (nc - o) * 4);
    memset(d->rmark + o, 0, (nc - o) * 4);
    d->rcap = nc;
    return 0;
}

/* A fresh stamp for mark[] (all stamps reset when it wraps). */
static uint32_t
next_epoch(struct derive *d)
{
    if (++d->epoch == 0) {
        memset(d->mark, 0, (size_t)d->acap * 4);
        d->epoch = 1;
    }
    return d->epoch;
}

static int
is_small(const struct derive *d, uint32_t a)
{
    return d->size[a] < d->k;       /* atoms are never empty */
}

/* Index of atom ${a} in row ${r}'s entries, or -1. */
static long
row_find(const struct drow *r, uint32_t a)
{
    uint32_t lo = 0, hi = r->len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->col[mid] < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->len && r->col[lo] == a ? (long)lo : -1;
}

/*
 * The rows holding atom ${a} as an entry, into d->work; the column list is
 * compacted on the way (stale and repeated entries dropped, except rows
 * replaced while an admit is pending: an undo may give them the atom back).
 */
static void
col_rows(struct derive *d, uint32_t a)
{
    struct ulist *l = &d->cols[a];
    uint32_t w = 0;
    d->work.len = 0;
    if (++d->repoch == 0) {
        memset(d->rmark, 0, (size_t)d->rcap * 4);
        d->repoch = 1;
    }
    for (uint32_t t = 0; t < l->len; t++) {
        uint32_t j = l->p[t];
        if (j >= d->nbasis || d->rmark[j] == d->repoch)
            continue;
        int has = row_find(&d->row[j], a) >= 0;
        if (!has && d->rtouch[j] != d->admit_epoch)
            continue;
        d->rmark[j] = d->repoch;
        l->p[w++] = j;
        if (has)
            d->work.p[d->work.len++] = j;   /* work reserved by the caller */
    }
    l->len = w;
}

static int
work_reserve(struct derive *d, uint32_t n)
{
    if (n <= d->work.cap)
        return 0;
    uint32_t *q = mem(d, d->work.p, d->work.cap, n, 4);
    if (q == NULL)
        return -1;
    d->work.p = q;
    d->work.cap = n;
    return 0;
}

/* Install new arrays in row ${i} (pivot ${piv}), logging the old ones. */
static int
row_replace(struct derive *d, uint32_t i, uint32_t piv, uint32_t *col, uint64_t *val,
    uint32_t len, uint32_t cap)
{
    struct drow *r = &d->row[i];
    struct undo u = {U_REPLACE, i, r->piv, r->len, r->cap, r->col, r->val, 0};
    if (log_push(d, &u) != 0)
        return -1;
    /* List the row under every atom it newly holds (both arrays ascending). */
    uint32_t t = 0;
    for (uint32_t s = 0; s < len; s++) {
        while (t < r->len && r->col[t] < col[s])
            t++;
        if ((t >= r->len || r->col[t] != col[s]) && ulist_push(d, &d->cols[col[s]], i) != 0) {
            d->nlog--;
            return -1;
        }
    }
    if (d->pivot_row[r->piv] == i)
        d->pivot_row[r->piv] = NONE;
    d->pivot_row[piv] = i;
    r->piv = piv;
    r->col = col;
    r->val = val;
    r->len = len;
    r->cap = cap;
    d->rtouch[i] = d->admit_epoch;
    return 0;
}

/* Arrays for a row of ${cap} >= 1 entries. */
static int
row_alloc(struct derive *d, uint32_t cap, uint32_t **col, uint64_t **val)
{
    *col = mem(d, NULL, 0, cap, 4);
    *val = *col ? mem(d, NULL, 0, cap, 8) : NULL;
    if (*val == NULL) {
        if (*col)
            mem(d, *col, cap, 0, 4);
        return -1;
    }
    return 0;
}

static void
row_release(struct derive *d, uint32_t *col, uint64_t *val, uint32_t cap)
{
    if (col == NULL)
        return;
    mem(d, col, cap, 0, 4);
    mem(d, val, cap, 0, 8);
}

/* Append (a, v) to row ${i}; a is above every atom the row holds. */
static int
row_append(struct derive *d, uint32_t i, uint32_t a, uint64_t v)
{
    struct drow *r = &d->row[i];
    if (r->len == r->cap) {
        uint32_t nc = r->cap ? r->cap * 2 : 4;
        uint32_t *c = mem(d, r->col, r->cap, nc, 4);
        if (c == NULL)
            return -1;
        r->col = c;
        uint64_t *w = mem(d, r->val, r->cap, nc, 8);
        if (w == NULL) {
            /* give col back its old size (a shrink), so that cap describes both */
            c = mem(d, r->col, nc, r->cap, 4);
            if (c != NULL)
                r->col = c;
            return -1;
        }
        r->val = w;
        r->cap = nc;
    }
    struct undo u = {U_APPEND, i, 0, r->len, 0, NULL, NULL, 0};
    if (log_push(d, &u) != 0 || ulist_push(d, &d->cols[a], i) != 0)
        return -1;
    r->col[r->len] = a;
    r->val[r->len] = v;
    r->len++;
    return 0;
}

/*
 * Eliminate atom ${c}, the new pivot of row ${i}, from every other row
 * holding it: row_j -= row_j[c] * row_i.
 */
static int
eliminate(struct derive *d, uint32_t i, uint32_t c)
{
    if (work_reserve(d, d->cols[c].len) != 0)
        return -1;
    col_rows(d, c);
    /* d->work is reused below only through this copy of its length. */
    uint32_t nw = d->work.len;
    for (uint32_t w = 0; w < nw; w++) {
        uint32_t j = d->work.p[w];
        if (j == i)
            continue;
        const struct drow *ri = &d->row[i], *rj = &d->row[j];
        long at = row_find(rj, c);
        uint64_t f = rj->val[at];
        uint32_t cap = rj->len + ri->len, len = 0;
        uint32_t *col;
        uint64_t *val;
        if (row_alloc(d, cap, &col, &val) != 0)
            return -1;
        ri = &d->row[i];
        rj = &d->row[j];
        uint32_t s = 0, t = 0;
        while (s < rj->len || t < ri->len) {
            uint32_t a;
            uint64_t v;
            if (t >= ri->len || (s < rj->len && rj->col[s] < ri->col[t])) {
                a = rj->col[s];
                v = rj->val[s++];
                if (a == c)
                    continue;           /* cancels against the pivot */
            } else if (s >= rj->len || ri->col[t] < rj->col[s]) {
                a = ri->col[t];
                v = subm(0, mulm(f, ri->val[t++]));
            } else {
                a = rj->col[s];
                v = subm(rj->val[s++], mulm(f, ri->val[t++]));
            }
            if (v != 0) {
                col[len] = a;
                val[len++] = v;
            }
        }
        if (row_replace(d, j, rj->piv, col, val, len, cap) != 0) {
            row_release(d, col, val, cap);
            return -1;
        }
    }
    /* c is a pivot now: its list keeps only rows replaced while pending. */
    return 0;
}

/* The large atom of row ${i}'s entries in the fewest column lists, or NONE. */
static uint32_t
best_large(const struct derive *d, const uint32_t *col, uint32_t len)
{
    uint32_t best = NONE, bl = UINT32_MAX;
    for (uint32_t t = 0; t < len; t++)
        if (!is_small(d, col[t]) && d->cols[col[t]].len < bl) {
            best = col[t];
            bl = d->cols[col[t]].len;
        }
    return best;
}

/* Row ${i}'s pivot became small: move it to a large atom.  1 unsafe, -1 memory. */
static int
repivot(struct derive *d, uint32_t i)
{
    const struct drow *r = &d->row[i];
    uint32_t c = best_large(d, r->col, r->len);
    if (c == NONE)
        return 1;
    uint64_t inv = invm(r->val[row_find(r, c)]);
    uint32_t cap = r->len, len = 0, old = r->piv;
    uint32_t *col;
    uint64_t *val;
    if (row_alloc(d, cap, &col, &val) != 0)
        return -1;
    r = &d->row[i];
    int put = 0;                    /* the old pivot goes in among the entries */
    for (uint32_t t = 0; t < r->len; t++) {
        if (!put && old < r->col[t]) {
            col[len] = old;
            val[len++] = inv;
            put = 1;
        }
        if (r->col[t] != c) {
            col[len] = r->col[t];
            val[len++] = mulm(r->val[t], inv);
        }
    }
    if (!put) {
        col[len] = old;
        val[len++] = inv;
    }
    if (row_replace(d, i, c, col, val, len, cap) != 0) {
        row_release(d, col, val, cap);
        return -1;
    }
    return eliminate(d, i, c) != 0 ? -1 : 0;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Undo the log down to ${to}. */
static void
undo_to(struct derive *d, size_t to)
{
    while (d->nlog > to) {
        struct undo *u = &d->log[--d->nlog];
        struct drow *r = u->kind == U_SPLITS ? NULL : &d->row[u->row];
        switch (u->kind) {
        case U_APPEND:
            r->len = u->len;
            break;
        case U_REPLACE:
            row_release(d, r->col, r->val, r->cap);
            if (d->pivot_row[r->piv] == u->row)
                d->pivot_row[r->piv] = NONE;
            d->pivot_row[u->piv] = u->row;
            r->piv = u->piv;
            r->col = u->col;
            r->val = u->val;
            r->len = u->len;
            r->cap = u->cap;
            break;
        case U_NEWROW:
            row_release(d, r->col, r->val, r->cap);
            if (d->pivot_row[r->piv] == u->row)
                d->pivot_row[r->piv] = NONE;
            d->nbasis--;
            break;
        case U_SPLITS:
            for (size_t t = u->off; t < d->nmoved; t++) {
                uint32_t row = d->moved[t];
                d->atom_of[row] = d->parent[d->atom_of[row]];
            }
            d->nmoved = u->off;
            while (d->natoms > u->row) {
                uint32_t a = --d->natoms;
                d->size[d->parent[a]] += d->size[a];
                struct ulist *l = &d->cols[a];
                mem(d, l->p, l->cap, 0, 4);
                memset(l, 0, sizeof *l);
            }
            break;
        }
    }
}

/* The remainder of S (atoms in d->touched, mapped to their part in S). */
static int
reduce(struct derive *d, uint32_t *nres)
{
    uint32_t e = next_epoch(d);
    struct ulist *res = &d->res;     /* reused: the remainder's atoms */
    res->len = 0;
    for (uint32_t t = 0; t < d->touched.len; t++) {
        uint32_t x = d->part[d->touched.p[t]];
        uint32_t i = d->pivot_row[x];
        if (i == NONE) {
            if (d->mark[x] != e) {
                d->mark[x] = e;
                d->acc[x] = 0;
                if (ulist_push(d, res, x) != 0)
                    return -1;
            }
            d->acc[x] = addm(d->acc[x], 1);
            continue;
        }
        const struct drow *r = &d->row[i];
        for (uint32_t s = 0; s < r->len; s++) {
            uint32_t a = r->col[s];
            if (d->mark[a] != e) {
                d->mark[a] = e;
                d->acc[a] = 0;
                if (ulist_push(d, res, a) != 0)
                    return -1;
            }
            d->acc[a] = subm(d->acc[a], r->val[s]);
        }
    }
    uint32_t w = 0;
    for (uint32_t t = 0; t < res->len; t++)
        if (d->acc[res->p[t]] != 0)
            res->p[w++] = res->p[t];
    res->len = w;
    if (w > 1)
        qsort(res->p, w, 4, cmp_u32);
    *nres = w;
    return 0;
}

/* One candidate: 0 kept, 1 withheld (undone), -1 out of memory or capacity. */
static int
admit_one(struct derive *d, const uint32_t *rows, size_t n)
{
    size_t mark = d->nlog;
    uint32_t e = next_epoch(d);
    d->touched.len = 0;
    for (size_t t = 0; t < n; t++) {
        uint32_t a = d->atom_of[rows[t]];
        if (d->mark[a] != e) {
            d->mark[a] = e;
            d->cnt[a] = 0;
            if (ulist_push(d, &d->touched, a) != 0)
                return -1;
        }
        d->cnt[a]++;
    }
    /* 1. splits */
    uint32_t first = d->natoms, nsplit = 0;
    for (uint32_t t = 0; t < d->touched.len; t++) {
        uint32_t a = d->touched.p[t];
        d->part[a] = a;
        nsplit += d->cnt[a] < d->size[a];
    }
    if (nsplit) {
        if (atoms_reserve(d, first + nsplit) != 0)
            return -1;
        if (d->nmoved + n > d->movedcap) {
            size_t nc = d->movedcap ? d->movedcap : 1024;
            while (nc < d->nmoved + n)
                nc *= 2;
            uint32_t *q = mem(d, d->moved, d->movedcap, nc, 4);
            if (q == NULL)
                return -1;
            d->moved = q;
            d->movedcap = nc;
        }
        struct undo u = {U_SPLITS, first, 0, 0, 0, NULL, NULL, d->nmoved};
        if (log_push(d, &u) != 0)
            return -1;
        for (uint32_t t = 0; t < d->touched.len; t++) {
            uint32_t a = d->touched.p[t];
            if (d->cnt[a] == d->size[a])
                continue;
            uint32_t b = d->natoms++;
            d->size[b] = d->cnt[a];
            d->size[a] -= d->cnt[a];
            d->pivot_row[b] = NONE;
            d->parent[b] = a;
            d->mark[b] = 0;
            d->part[a] = b;
        }
        for (size_t t = 0; t < n; t++) {
            uint32_t a = d->atom_of[rows[t]];
            if (d->part[a] != a) {
                d->atom_of[rows[t]] = d->part[a];
                d->moved[d->nmoved++] = rows[t];
            }
        }
        /* The released vectors give b the value they give its parent. */
        for (uint32_t b = first; b < d->natoms; b++) {
            uint32_t a = d->parent[b], i = d->pivot_row[a];
            if (i != NONE) {
                if (row_append(d, i, b, 1) != 0)
                    goto nomem;
                continue;
            }
            if (work_reserve(d, d->cols[a].len) != 0)
                goto nomem;
            col_rows(d, a);
            for (uint32_t w = 0; w < d->work.len; w++) {
                uint32_t j = d->work.p[w];
                const struct drow *r = &d->row[j];
                if (row_append(d, j, b, r->val[row_find(r, a)]) != 0)
                    goto nomem;
            }
        }
        /* 2. pivots that became small */
        for (uint32_t b = first; b < d->natoms; b++) {
            uint32_t a = d->parent[b], i = d->pivot_row[a];
            if (i == NONE || !is_small(d, a))
                continue;
            int rc = repivot(d, i);
            if (rc < 0)
                goto nomem;
            if (rc > 0)
                goto unsafe;
        }
    }
    /* 3. the remainder */
    uint32_t nres;
    if (reduce(d, &nres) != 0)
        goto nomem;
    if (nres == 0)
        return 0;
    const uint32_t *rc = d->res.p;
    uint32_t c = best_large(d, rc, nres);
    if (c == NONE)
        goto unsafe;
    if (d->nbasis >= DERIVE_MAX_SETS) {
        undo_to(d, mark);
        return -2;
    }
    if (rows_reserve(d, d->nbasis + 1) != 0)
        goto nomem;
    uint32_t *col;
    uint64_t *val;
    if (row_alloc(d, nres, &col, &val) != 0)
        goto nomem;
    uint64_t inv = invm(d->acc[c]);
    uint32_t len = 0;
    for (uint32_t t = 0; t < nres; t++)
        if (d->res.p[t] != c) {
            col[len] = d->res.p[t];
            val[len++] = mulm(d->acc[d->res.p[t]], inv);
        }
    uint32_t i = d->nbasis;
    struct undo u = {U_NEWROW, i, 0, 0, 0, NULL, NULL, 0};
    if (log_push(d, &u) != 0) {
        row_release(d, col, val, nres);
        goto nomem;
    }
    d->row[i] = (struct drow){c, len, nres, col, val};
    d->rtouch[i] = d->admit_epoch;
    d->nbasis++;
    d->pivot_row[c] = i;
    for (uint32_t t = 0; t < len; t++)
        if (ulist_push(d, &d->cols[col[t]], i) != 0)
            goto nomem;
    if (eliminate(d, i, c) != 0)
        goto nomem;
    return 0;
unsafe:
    undo_to(d, mark);
    return 1;
nomem:
    undo_to(d, mark);
    return -1;
}

/* ---- public ---- */

struct derive *
derive_new(uint32_t nrows, uint32_t k, size_t max_bytes)
{
    if (k == 0 || nrows > DERIVE_MAX_ROWS)
        return NULL;
    struct derive *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->nrows = nrows;
    d->k = k;
    d->max_bytes = max_bytes ? max_bytes : DERIVE_DEFAULT_MAX_BYTES;
    d->admit_epoch = 1;
    d->bytes = sizeof *d;
    if (d->bytes > d->max_bytes) {
        free(d);
        return NULL;
    }
    if (nrows > 0) {
        d->atom_of = mem(d, NULL, 0, nrows, 4);
        if (d->atom_of == NULL || atoms_reserve(d, 1) != 0) {
            derive_free(d);
            return NULL;
        }
        memset(d->atom_of, 0, (size_t)nrows * 4);
        d->natoms = 1;              /* every row in no released set */
        d->size[0] = nrows;
        d->pivot_row[0] = NONE;
    }
    return d;
}

void
derive_free(struct derive *d)
{
    if (d == NULL)
        return;
    derive_rollback(d);
    for (uint32_t i = 0; i < d->nbasis; i++)
        free(d->row[i].col), free(d->row[i].val);
    for (uint32_t a = 0; a < d->acap && d->cols; a++)
        free(d->cols[a].p);
    free(d->row), free(d->rtouch), free(d->rmark);
    free(d->atom_of), free(d->size), free(d->pivot_row), free(d->parent), free(d->cols);
    free(d->acc), free(d->mark), free(d->cnt), free(d->part);
    free(d->log), free(d->moved);
    free(d->touched.p), free(d->work.p), free(d->res.p);
    free(d);
}

/* Error text without stdio (analysis/ does no I/O). */
struct msg {
    char *p;
    size_t n;
};

static void
msg_str(struct msg *m, const char *s)
{
    while (*s && m->n < DERIVE_ERRLEN - 1)
        m->p[m->n++] = *s++;
    m->p[m->n] = 0;
}

static void
msg_num(struct msg *m, uint64_t v)
{
    char dig[21];
    int k = 0;
    do
        dig[k++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (k > 0 && m->n < DERIVE_ERRLEN - 1)
        m->p[m->n++] = dig[--k];
    m->p[m->n] = 0;
}

/* "candidate <i>: <what>[<num>]" */
static void
seterr(char *err, size_t i, const char *what, int has_num, uint64_t num)
{
    struct msg m = {err, 0};
    msg_str(&m, "candidate ");
    msg_num(&m, i);
    msg_str(&m, ": ");
    msg_str(&m, what);
    if (has_num)
        msg_num(&m, num);
}

int
derive_admit(struct derive *d, const uint32_t *const *rows, const size_t *n, size_t ncand,
    unsigned char *kept, char *err)
{
    if (d->pending) {
        struct msg m = {err, 0};
        msg_str(&m, "an admit is pending: commit or roll it back first");
        return -1;
    }
    for (size_t i = 0; i < ncand; i++) {
        if (n[i] > d->nrows) {
            seterr(err, i, "more rows than the data has: ", 1, n[i]);
            return -1;
        }
        if (n[i] > 0 && rows[i] == NULL) {
            seterr(err, i, "no row array", 0, 0);
            return -1;
        }
        for (size_t t = 0; t < n[i]; t++) {
            if (rows[i][t] >= d->nrows) {
                seterr(err, i, "row index out of range: ", 1, rows[i][t]);
                return -1;
            }
            if (t > 0 && rows[i][t] <= rows[i][t - 1]) {
                seterr(err, i, "rows not strictly ascending at row ", 1, rows[i][t]);
                return -1;
            }
        }
    }
    d->pending = 1;
    int nkept = 0;
    for (size_t i = 0; i < ncand; i++) {
        d->nomem = 0;
        int rc = admit_one(d, rows[i], n[i]);
        if (rc < 0) {
            derive_rollback(d);
            seterr(err, i, rc == -2 ? "too many independent released sets (DERIVE_MAX_SETS)"
                : d->nomem == 2 ? "memory cap reached (max_bytes)" : "out of memory", 0, 0);
            return -1;
        }
        kept[i] = rc == 0;
        nkept += rc == 0;
    }
    return nkept;
}

void
derive_commit(struct derive *d)
{
    if (!d->pending)
        return;
    for (size_t t = 0; t < d->nlog; t++)
        if (d->log[t].kind == U_REPLACE)
            row_release(d, d->log[t].col, d->log[t].val, d->log[t].cap);
    d->nlog = 0;
    d->nmoved = 0;
    d->pending = 0;
    if (++d->admit_epoch == 0) {
        memset(d->rtouch, 0, (size_t)d->rcap * 4);
        d->admit_epoch = 1;
    }
}

void
derive_rollback(struct derive *d)
{
    if (!d->pending)
        return;
    undo_to(d, 0);
    d->nmoved = 0;
    d->pending = 0;
    if (++d->admit_epoch == 0) {
        memset(d->rtouch, 0, (size_t)d->rcap * 4);
        d->admit_epoch = 1;
    }
}

int
derive_pending(const struct derive *d)
{
    return d->pending;
}

uint32_t
derive_atom_of(const struct derive *d, uint32_t row)
{
    return row < d->nrows ? d->atom_of[row] : NONE;
}

uint32_t
derive_atom_size(const struct derive *d, uint32_t atom)
{
    return atom < d->natoms ? d->size[atom] : 0;
}

uint32_t
derive_natoms(const struct derive *d)
{
    return d->natoms;
}

size_t
derive_nsets(const struct derive *d)
{
    return d->nbasis;
}

size_t
derive_bytes(const struct derive *d)
{
    return d->bytes;
}
