/*
 * derive - see derive.h for the rule.  The algorithm:
 *
 * Only large atoms are ever pivots or stored entries.  A vector of the row
 * space matters to the rule only through its values on large atoms and
 * whether its part on small atoms is zero (derive.h), so each basis row
 * keeps its small-atom part as one number, a fingerprint h = sum over small
 * atoms a of (value at a) * r_a, with r_a random in GF(p).  A nonzero small
 * part has h = 0 with probability 1/p (Schwartz-Zippel, degree 1); a small
 * atom that splits gives its parts r_in fresh and r_out = r_a - r_in (still
 * jointly uniform), so fingerprints need no update; a large atom that
 * becomes small draws a fresh r and its column folds into the rows' h.
 * Most atoms of a real node are small, so rows stay short.
 *
 * State.  atom_of[row]; per atom its size, r (small atoms), the basis row
 * pivoting on it (or NONE) and a column list: the basis rows that may hold
 * the (large) atom as an entry (a superset: entries go stale when a row
 * loses the atom and are dropped when the list is next read).  Basis rows:
 * e_pivot + ascending (large atom, value mod p) entries + h.
 *
 * One candidate S (admit_one):
 *   1. count S's rows per atom; an atom a only partly in S splits: its rows
 *      in S move to a new atom b (new ids ascending with the parents', so
 *      entries stay sorted when b's are appended).  The released vectors
 *      give b the value they give a.  For a large parent, every basis row
 *      holding a (or pivoting on it) is rebuilt once: a part that is large
 *      holds the value as an entry, a part that is small adds value * r to h.
 *   2. a row whose pivot became small moves its pivot to a large entry c
 *      (the one in the fewest rows, to limit fill): scaled by 1/v_c, c
 *      eliminated from the rows holding it.  A row with no large entry is
 *      itself supported on small atoms: unsafe.
 *   3. S as a 0/1 vector over the new atoms minus the basis rows pivoting on
 *      its atoms leaves a remainder: entries on large non-pivot atoms and a
 *      fingerprint.  Some large entry c: a new basis row pivoting on c,
 *      eliminated from the others.  No large entry and h = 0: S is a
 *      combination of released sets (kept, nothing stored).  No large entry
 *      and h != 0: a released combination on small atoms only: unsafe.
 * Unsafe undoes the candidate to its checkpoint in the undo log.
 *
 * Undo log (sequential, undone in reverse): REPLACE (a row's previous
 * arrays, pivot and h, kept rather than copied: a rebuild makes new arrays
 * anyway), SETH (a row's h), SETR (an atom's r), NEWROW, SPLITS (one
 * candidate's new atoms; the moved rows are kept in moved[]).  Column lists
 * need no undo: while an admit is pending, a list keeps the entries of rows
 * replaced in it (rtouch), so a restored row is still listed wherever it was.
 */
#include "analysis/derive.h"

#include <stdlib.h>
#include <string.h>

#include "analysis/gfp.h"

#define NONE UINT32_MAX
#define P GFP_P

/* ---- state ---- */

struct drow {                       /* e_piv + sum val[t] e_col[t] + small part */
    uint32_t piv;                   /* pivot atom (large while the system is safe) */
    uint32_t len, cap;              /* entries, allocated */
    uint32_t *col;                  /* ascending large non-pivot atoms */
    uint64_t *val;                  /* nonzero, < p */
    uint64_t h;                     /* fingerprint of the part on small atoms */
};

struct ulist {                      /* growable uint32 list */
    uint32_t *p;
    uint32_t len, cap;
};

enum { U_REPLACE, U_SETH, U_SETR, U_NEWROW, U_SPLITS };

struct undo {
    int kind;
    uint32_t id;                    /* REPLACE, SETH, NEWROW: the row; SETR: the atom;
                                     * SPLITS: the first new atom */
    uint32_t piv, len, cap;         /* REPLACE: the old row */
    uint32_t *col;                  /* REPLACE: the old arrays */
    uint64_t *val;
    uint64_t h;                     /* REPLACE, SETH: old h; SETR: old r */
    size_t off;                     /* SPLITS: start of its moved rows */
    int inter;                      /* REPLACE: the old arrays were made in this admit */
};

struct derive {
    uint32_t nrows, k;
    size_t max_bytes;               /* cap on bytes */
    size_t bytes;                   /* held, kept up to date by mem() */
    uint64_t seed;                  /* state of the generator of r */
    uint32_t *atom_of;              /* [nrows] */
    uint32_t natoms, acap;
    uint32_t *size;                 /* [acap] rows in the atom */
    uint64_t *r;                    /* [acap] fingerprint weight (small atoms) */
    uint32_t *pivot_row;            /* [acap] basis row pivoting on the atom, or NONE */
    uint32_t *parent;               /* [acap] atom split from (pending splits only) */
    struct ulist *cols;             /* [acap] rows that may hold the atom (superset) */
    uint64_t *acc;                  /* [acap] scratch: remainder */
    uint32_t *mark, *cnt, *part;    /* [acap] scratch: stamp, rows of S, part in S */
    uint32_t epoch;                 /* stamp for mark[] */
    struct drow *row;               /* [rcap] the basis */
    uint32_t nbasis, rcap;
    uint32_t *rtouch;               /* [rcap] = admit_epoch if replaced while pending */
    uint32_t *rmark;                /* [rcap] scratch stamp: compaction of a list */
    uint32_t *rsel;                 /* [rcap] scratch stamp: rows already selected */
    uint32_t *ctouch;               /* [rcap] = cand_epoch if its arrays were made in
                                     * the current candidate */
    uint32_t *amade;                /* [rcap] = admit_epoch if its arrays were made in
                                     * the pending admit */
    uint32_t admit_epoch, repoch, sepoch, cand_epoch;
    struct undo *log;
    size_t nlog, logcap;
    uint32_t *moved;                /* rows moved by pending splits */
    size_t nmoved, movedcap;
    struct ulist touched, work, res, aff;  /* scratch */
    uint64_t hkey[2];               /* keys of the set hash (drawn from the seed) */
    uint64_t *htab;                 /* [2 hcap] hashes of released and pending kept sets;
                                     * 0 empty, HDEAD a pending one rolled back */
    size_t hcap, hused;             /* slots, slots not empty */
    uint64_t *hpend;                /* [2 hpcap] hashes of sets the pending admit keeps */
    size_t hpn, hpcap;
    int pending;
    int nomem;                      /* 1 out of memory, 2 cap reached (this candidate) */
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
        if (l->cap > UINT32_MAX / 2) {
            d->nomem = 1;
            return -1;
        }
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
ulist_reserve(struct derive *d, struct ulist *l, size_t n)
{
    if (n <= l->cap)
        return 0;
    if (n > UINT32_MAX) {
        d->nomem = 1;
        return -1;
    }
    uint32_t *q = mem(d, l->p, l->cap, n, 4);
    if (q == NULL)
        return -1;
    l->p = q;
    l->cap = (uint32_t)n;
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

/* splitmix64's finaliser. */
static uint64_t
mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A fingerprint weight: uniform in GF(p) (splitmix64 of the seed). */
static uint64_t
fresh(struct derive *d)
{
    return (mix64(d->seed += 0x9E3779B97F4A7C15ULL) >> 3) % P;
}

/* Grow the array d->field to nc elements of sz bytes, or return -1 (in *_reserve). */
#define GROW(field, sz) do { \
        q = realloc(d->field, (size_t)nc * (sz)); \
        if (q == NULL) { d->nomem = 1; return -1; } \
        d->field = q; } while (0)

/* Room for ${n} atoms (every per-atom array grows together). */
static int
atoms_reserve(struct derive *d, uint32_t n)
{
    if (n <= d->acap)
        return 0;
    uint32_t nc = d->acap ? d->acap : 16;
    while (nc < n)
        nc = nc > UINT32_MAX / 2 ? n : nc * 2;
    /* bytes an atom takes in the arrays below */
    size_t per = 4 * 6 + 8 * 2 + sizeof(struct ulist);
    if ((size_t)(nc - d->acap) * per > d->max_bytes - d->bytes) {
        d->nomem = 2;
        return -1;
    }
    size_t o = d->acap;
    void *q;
    /* A failure leaves the grown arrays larger than acap says: harmless. */
    GROW(size, 4); GROW(pivot_row, 4); GROW(parent, 4); GROW(mark, 4); GROW(cnt, 4);
    GROW(part, 4); GROW(r, 8); GROW(acc, 8); GROW(cols, sizeof(struct ulist));
    memset(d->mark + o, 0, (nc - o) * 4);
    memset(d->cols + o, 0, (nc - o) * sizeof *d->cols);
    d->bytes += (nc - o) * per;
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
    size_t per = sizeof(struct drow) + 20;
    if ((size_t)(nc - d->rcap) * per > d->max_bytes - d->bytes) {
        d->nomem = 2;
        return -1;
    }
    size_t o = d->rcap;
    void *q;
    GROW(row, sizeof(struct drow)); GROW(rtouch, 4); GROW(rmark, 4); GROW(rsel, 4);
    GROW(ctouch, 4); GROW(amade, 4);
    memset(d->ctouch + o, 0, (nc - o) * 4);
    memset(d->amade + o, 0, (nc - o) * 4);
    memset(d->rtouch + o, 0, (nc - o) * 4);
    memset(d->rmark + o, 0, (nc - o) * 4);
    memset(d->rsel + o, 0, (nc - o) * 4);
    d->bytes += (nc - o) * per;
    d->rcap = nc;
    return 0;
}

/*
 * A fresh value of the stamp counter ${ctr} for the stamps ${arr}[0 .. n-1]
 * (which are cleared when the counter wraps, so that 1 is fresh again).
 */
static uint32_t
next_stamp(uint32_t *ctr, uint32_t *arr, size_t n)
{
    if (++*ctr == 0) {
        memset(arr, 0, n * 4);
        *ctr = 1;
    }
    return *ctr;
}

static uint32_t
next_epoch(struct derive *d)        /* for mark[] */
{
    return next_stamp(&d->epoch, d->mark, d->acap);
}

static uint32_t
next_repoch(struct derive *d)       /* for rmark[] */
{
    return next_stamp(&d->repoch, d->rmark, d->rcap);
}

static uint32_t
next_sepoch(struct derive *d)       /* for rsel[] */
{
    return next_stamp(&d->sepoch, d->rsel, d->rcap);
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
 * Append the rows holding atom ${a} as an entry to ${out}, skipping rows
 * whose rsel is ${e} and setting it (so that several calls select a row
 * once).  The column list is compacted on the way: stale and repeated
 * entries dropped, except rows replaced while an admit is pending (an undo
 * may give them the atom back).
 */
static int
col_rows(struct derive *d, uint32_t a, struct ulist *out, uint32_t e)
{
    struct ulist *l = &d->cols[a];
    if (ulist_reserve(d, out, (size_t)out->len + l->len) != 0)
        return -1;
    uint32_t le = next_repoch(d), w = 0;
    for (uint32_t t = 0; t < l->len; t++) {
        uint32_t j = l->p[t];
        if (j >= d->nbasis || d->rmark[j] == le)
            continue;
        int has = row_find(&d->row[j], a) >= 0;
        if (!has && d->rtouch[j] != d->admit_epoch)
            continue;
        d->rmark[j] = le;
        l->p[w++] = j;
        if (has && d->rsel[j] != e) {
            d->rsel[j] = e;
            out->p[out->len++] = j;
        }
    }
    l->len = w;
    return 0;
}

static int
log_seth(struct derive *d, uint32_t i, uint64_t h)
{
    struct undo u = {U_SETH, i, 0, 0, 0, NULL, NULL, d->row[i].h, 0, 0};
    if (log_push(d, &u) != 0)
        return -1;
    d->row[i].h = h;
    return 0;
}

static int
log_setr(struct derive *d, uint32_t a, uint64_t r)
{
    struct undo u = {U_SETR, a, 0, 0, 0, NULL, NULL, d->r[a], 0, 0};
    if (log_push(d, &u) != 0)
        return -1;
    d->r[a] = r;
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

/*
 * Install new arrays in row ${i} (pivot ${piv}, fingerprint ${h}).  The old
 * ones are logged, unless they were made in this candidate (the candidate's
 * first REPLACE of the row restores what came before): then they are freed.
 */
static int
row_replace(struct derive *d, uint32_t i, uint32_t piv, uint32_t *col, uint64_t *val,
    uint32_t len, uint32_t cap, uint64_t h)
{
    struct drow *r = &d->row[i];
    int fresh_here = d->ctouch[i] == d->cand_epoch;
    struct undo u = {U_REPLACE, i, r->piv, r->len, r->cap, r->col, r->val, r->h, 0,
        d->amade[i] == d->admit_epoch};
    if (!fresh_here && log_push(d, &u) != 0)
        return -1;
    /* List the row under every atom it newly holds (both arrays ascending). */
    uint32_t t = 0;
    for (uint32_t s = 0; s < len; s++) {
        while (t < r->len && r->col[t] < col[s])
            t++;
        if ((t >= r->len || r->col[t] != col[s]) && ulist_push(d, &d->cols[col[s]], i) != 0) {
            if (!fresh_here)
                d->nlog--;
            return -1;
        }
    }
    if (fresh_here)
        row_release(d, r->col, r->val, r->cap);
    if (d->pivot_row[r->piv] == i)
        d->pivot_row[r->piv] = NONE;
    d->pivot_row[piv] = i;
    *r = (struct drow){piv, len, cap, col, val, h};
    d->rtouch[i] = d->admit_epoch;
    d->ctouch[i] = d->cand_epoch;
    d->amade[i] = d->admit_epoch;
    return 0;
}

/*
 * A candidate from log entry ${from} on was kept: the arrays its REPLACEs
 * saved that an earlier candidate of this admit had made are needed by no
 * undo any more (a rollback of the admit restores each row from its first
 * REPLACE): free them, drop their entries.
 */
static void
log_settle(struct derive *d, size_t from)
{
    size_t w = from;
    for (size_t t = from; t < d->nlog; t++) {
        struct undo *u = &d->log[t];
        if (u->kind == U_REPLACE && u->inter)
            row_release(d, u->col, u->val, u->cap);
        else
            d->log[w++] = *u;
    }
    d->nlog = w;
}

/*
 * Eliminate atom ${c}, the new pivot of row ${i}, from every other row
 * holding it: row_j -= row_j[c] * row_i (entries and fingerprint).
 */
static int
eliminate(struct derive *d, uint32_t i, uint32_t c)
{
    d->work.len = 0;
    if (col_rows(d, c, &d->work, next_sepoch(d)) != 0)
        return -1;
    for (uint32_t w = 0; w < d->work.len; w++) {
        uint32_t j = d->work.p[w];
        if (j == i)
            continue;
        const struct drow *ri = &d->row[i], *rj = &d->row[j];
        uint64_t f = rj->val[row_find(rj, c)];
        uint32_t cap = rj->len + ri->len, len = 0;
        uint32_t *col;
        uint64_t *val;
        if (row_alloc(d, cap, &col, &val) != 0)
            return -1;
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
                v = gfp_sub(0, gfp_mul(f, ri->val[t++]));
            } else {
                a = rj->col[s];
                v = gfp_sub(rj->val[s++], gfp_mul(f, ri->val[t++]));
            }
            if (v != 0) {
                col[len] = a;
                val[len++] = v;
            }
        }
        uint64_t h = gfp_sub(rj->h, gfp_mul(f, ri->h));
        if (row_replace(d, j, rj->piv, col, val, len, cap, h) != 0) {
            row_release(d, col, val, cap);
            return -1;
        }
    }
    /* c is a pivot now: its list keeps only rows replaced while pending. */
    return 0;
}

/* The entry of ${col} in the fewest column lists (all are large), or NONE. */
static uint32_t
best_pivot(const struct derive *d, const uint32_t *col, uint32_t len)
{
    uint32_t best = NONE, bl = UINT32_MAX;
    for (uint32_t t = 0; t < len; t++)
        if (d->cols[col[t]].len < bl) {
            best = col[t];
            bl = d->cols[col[t]].len;
        }
    return best;
}

/*
 * Row ${i}'s pivot became small (its coefficient 1 already folded into h):
 * move the pivot to a large entry.  1 unsafe, -1 memory.
 */
static int
repivot(struct derive *d, uint32_t i)
{
    const struct drow *r = &d->row[i];
    uint32_t c = best_pivot(d, r->col, r->len);
    if (c == NONE)
        return 1;
    uint64_t inv = gfp_inv(r->val[row_find(r, c)]);
    uint32_t cap = r->len, len = 0;
    uint32_t *col;
    uint64_t *val;
    if (row_alloc(d, cap, &col, &val) != 0)
        return -1;
    for (uint32_t t = 0; t < r->len; t++)
        if (r->col[t] != c) {
            col[len] = r->col[t];
            val[len++] = gfp_mul(r->val[t], inv);
        }
    if (row_replace(d, i, c, col, val, len, cap, gfp_mul(r->h, inv)) != 0) {
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
        struct drow *r = u->kind == U_SPLITS || u->kind == U_SETR ? NULL : &d->row[u->id];
        switch (u->kind) {
        case U_REPLACE:
            row_release(d, r->col, r->val, r->cap);
            if (d->pivot_row[r->piv] == u->id)
                d->pivot_row[r->piv] = NONE;
            d->pivot_row[u->piv] = u->id;
            *r = (struct drow){u->piv, u->len, u->cap, u->col, u->val, u->h};
            d->amade[u->id] = u->inter ? d->admit_epoch : 0;
            break;
        case U_SETH:
            r->h = u->h;
            break;
        case U_SETR:
            d->r[u->id] = u->h;
            break;
        case U_NEWROW:
            row_release(d, r->col, r->val, r->cap);
            if (d->pivot_row[r->piv] == u->id)
                d->pivot_row[r->piv] = NONE;
            d->nbasis--;
            break;
        case U_SPLITS:
            for (size_t t = u->off; t < d->nmoved; t++) {
                uint32_t row = d->moved[t];
                d->atom_of[row] = d->parent[d->atom_of[row]];
            }
            d->nmoved = u->off;
            while (d->natoms > u->id) {
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

/*
 * Step 1 for one row ${j} holding (or pivoting on) split large atoms (those
 * with mark == ${e}): each part that is large holds the value, each part
 * that is small adds value * r to h.  *pivot_small = 1 if the row's pivot
 * became small (then its coefficient 1 is in h and the pivot must move).
 */
static int
rebuild(struct derive *d, uint32_t j, uint32_t e, int *pivot_small)
{
    const struct drow *r = &d->row[j];
    uint64_t h = r->h;
    int change = 0;
    uint32_t piv = r->piv, nb = 0;
    *pivot_small = 0;
    /* Pass 1: the fingerprint, and whether the entries change. */
    for (uint32_t t = 0; t <= r->len; t++) {
        uint32_t a = t < r->len ? r->col[t] : piv;
        uint64_t v = t < r->len ? r->val[t] : 1;
        if (d->mark[a] != e)
            continue;
        uint32_t b = d->part[a];
        if (is_small(d, a)) {
            h = gfp_add(h, gfp_mul(v, d->r[a]));
            change |= t < r->len;
            *pivot_small |= t == r->len;
        }
        if (is_small(d, b)) {
            h = gfp_add(h, gfp_mul(v, d->r[b]));
        } else {
            change = 1;
            nb++;
        }
    }
    if (!change)
        return h == r->h ? 0 : log_seth(d, j, h);
    /* Pass 2: the kept entries, then the large new parts (ascending with their parents). */
    uint32_t cap = r->len + nb > 0 ? r->len + nb : 1, len = 0;
    uint32_t *col;
    uint64_t *val;
    if (row_alloc(d, cap, &col, &val) != 0)
        return -1;
    for (uint32_t t = 0; t < r->len; t++) {
        uint32_t a = r->col[t];
        if (d->mark[a] != e || !is_small(d, a)) {
            col[len] = a;
            val[len++] = r->val[t];
        }
    }
    /* New parts: the pivot's among the entries' in parent order. */
    int pdone = d->mark[piv] != e || is_small(d, d->part[piv]);
    for (uint32_t t = 0; t <= r->len; t++) {
        uint32_t a = t < r->len ? r->col[t] : NONE;
        if (!pdone && piv < a) {
            col[len] = d->part[piv];
            val[len++] = 1;
            pdone = 1;
        }
        if (t < r->len && d->mark[a] == e && !is_small(d, d->part[a])) {
            col[len] = d->part[a];
            val[len++] = r->val[t];
        }
    }
    if (row_replace(d, j, piv, col, val, len, cap, h) != 0) {
        row_release(d, col, val, cap);
        return -1;
    }
    return 0;
}

/*
 * Step 3: the remainder of S (atoms in d->touched, mapped to their part in
 * S): its large entries into d->res (ascending, values in acc), its
 * fingerprint into *h.
 */
static int
reduce(struct derive *d, uint64_t *h)
{
    uint32_t e = next_epoch(d);
    struct ulist *res = &d->res;
    uint64_t hres = 0;
    res->len = 0;
    for (uint32_t t = 0; t < d->touched.len; t++) {
        uint32_t x = d->part[d->touched.p[t]];
        if (is_small(d, x)) {
            hres = gfp_add(hres, d->r[x]);
            continue;
        }
        uint32_t i = d->pivot_row[x];
        if (i == NONE) {
            if (d->mark[x] != e) {
                d->mark[x] = e;
                d->acc[x] = 0;
                if (ulist_push(d, res, x) != 0)
                    return -1;
            }
            d->acc[x] = gfp_add(d->acc[x], 1);
            continue;
        }
        const struct drow *r = &d->row[i];
        hres = gfp_sub(hres, r->h);
        for (uint32_t s = 0; s < r->len; s++) {
            uint32_t a = r->col[s];
            if (d->mark[a] != e) {
                d->mark[a] = e;
                d->acc[a] = 0;
                if (ulist_push(d, res, a) != 0)
                    return -1;
            }
            d->acc[a] = gfp_sub(d->acc[a], r->val[s]);
        }
    }
    uint32_t w = 0;
    for (uint32_t t = 0; t < res->len; t++)
        if (d->acc[res->p[t]] != 0)
            res->p[w++] = res->p[t];
    res->len = w;
    if (w > 1)
        qsort(res->p, w, 4, cmp_u32);
    *h = hres;
    return 0;
}

/* Step 1: split the atoms S holds in part; rebuild the rows they touch. */
static int
split(struct derive *d, const uint32_t *rows, size_t n, uint32_t nsplit, int *unsafe)
{
    uint32_t first = d->natoms;
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
    struct undo u = {U_SPLITS, first, 0, 0, 0, NULL, NULL, 0, d->nmoved, 0};
    if (log_push(d, &u) != 0)
        return -1;
    /* New ids in the parents' order, so that appended entries stay sorted. */
    qsort(d->touched.p, d->touched.len, 4, cmp_u32);
    uint32_t e = next_epoch(d);     /* mark == e: a split atom that was large */
    for (uint32_t t = 0; t < d->touched.len; t++) {
        uint32_t a = d->touched.p[t];
        if (d->cnt[a] == d->size[a])
            continue;
        int was_small = is_small(d, a);
        uint32_t b = d->natoms++;
        d->size[b] = d->cnt[a];
        d->size[a] -= d->cnt[a];
        d->pivot_row[b] = NONE;
        d->parent[b] = a;
        d->mark[b] = 0;
        d->part[a] = b;
        d->part[b] = b;
        d->r[b] = fresh(d);
        if (was_small) {
            /* r_a = r_a' + r_b: every fingerprint stays as it was. */
            if (log_setr(d, a, gfp_sub(d->r[a], d->r[b])) != 0)
                return -1;
        } else {
            d->mark[a] = e;
            if (is_small(d, a) && log_setr(d, a, fresh(d)) != 0)
                return -1;
        }
    }
    for (size_t t = 0; t < n; t++) {
        uint32_t a = d->atom_of[rows[t]];
        if (d->part[a] != a) {
            d->atom_of[rows[t]] = d->part[a];
            d->moved[d->nmoved++] = rows[t];
        }
    }
    /* The rows holding or pivoting on a split large atom, once each. */
    uint32_t re = next_sepoch(d);
    d->aff.len = 0;
    for (uint32_t t = 0; t < d->touched.len; t++) {
        uint32_t a = d->touched.p[t], i = d->pivot_row[a];
        if (d->mark[a] != e)
            continue;
        if (col_rows(d, a, &d->aff, re) != 0)
            return -1;
        if (i != NONE && d->rsel[i] != re) {
            d->rsel[i] = re;
            if (ulist_push(d, &d->aff, i) != 0)
                return -1;
        }
    }
    /* aff is scratch that repivot() does not use; pivot_small rows kept in place. */
    uint32_t nps = 0;
    for (uint32_t w = 0; w < d->aff.len; w++) {
        uint32_t j = d->aff.p[w];
        int ps;
        if (rebuild(d, j, e, &ps) != 0)
            return -1;
        if (ps)
            d->aff.p[nps++] = j;
    }
    /* Step 2: pivots that became small. */
    for (uint32_t w = 0; w < nps; w++) {
        int rc = repivot(d, d->aff.p[w]);
        if (rc != 0) {
            *unsafe = rc > 0;
            return rc > 0 ? 0 : -1;
        }
    }
    return 0;
}

/* One candidate: 0 kept, 1 withheld (undone), -1 out of memory or cap, -2 DERIVE_MAX_SETS. */
static int
admit_one(struct derive *d, const uint32_t *rows, size_t n)
{
    size_t mark = d->nlog;
    uint32_t e = next_epoch(d);
    next_stamp(&d->cand_epoch, d->ctouch, d->rcap);
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
    uint32_t nsplit = 0;
    for (uint32_t t = 0; t < d->touched.len; t++) {
        uint32_t a = d->touched.p[t];
        d->part[a] = a;
        nsplit += d->cnt[a] < d->size[a];
    }
    int unsafe = 0;
    if (nsplit > 0) {
        if (split(d, rows, n, nsplit, &unsafe) != 0)
            goto nomem;
        if (unsafe)
            goto unsafe;
    }
    uint64_t h;
    if (reduce(d, &h) != 0)
        goto nomem;
    uint32_t nres = d->res.len;
    if (nres == 0) {
        if (h == 0) {
            log_settle(d, mark);
            return 0;               /* a combination of released sets */
        }
        goto unsafe;                /* a released combination on small atoms */
    }
    uint32_t c = best_pivot(d, d->res.p, nres);
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
    uint64_t inv = gfp_inv(d->acc[c]);
    uint32_t len = 0;
    for (uint32_t t = 0; t < nres; t++)
        if (d->res.p[t] != c) {
            col[len] = d->res.p[t];
            val[len++] = gfp_mul(d->acc[d->res.p[t]], inv);
        }
    uint32_t i = d->nbasis;
    struct undo u = {U_NEWROW, i, 0, 0, 0, NULL, NULL, 0, 0, 0};
    if (log_push(d, &u) != 0) {
        row_release(d, col, val, nres);
        goto nomem;
    }
    d->row[i] = (struct drow){c, len, nres, col, val, gfp_mul(h, inv)};
    d->rtouch[i] = d->admit_epoch;
    d->ctouch[i] = d->cand_epoch;
    d->amade[i] = d->admit_epoch;
    d->nbasis++;
    d->pivot_row[c] = i;
    for (uint32_t t = 0; t < len; t++)
        if (ulist_push(d, &d->cols[col[t]], i) != 0)
            goto nomem;
    if (eliminate(d, i, c) != 0)
        goto nomem;
    log_settle(d, mark);
    return 0;
unsafe:
    undo_to(d, mark);
    return 1;
nomem:
    undo_to(d, mark);
    return -1;
}

/*
 * Released sets by hash: a candidate identical to a released set is kept at
 * the cost of hashing it (no atoms, no reduction).  The hash of a row set
 * is two sums over its rows of a keyed 64-bit mix (keys from the seed), so
 * two different sets collide with probability about 2^-127.
 */
static void
set_hash(const struct derive *d, const uint32_t *rows, size_t n, uint64_t out[2])
{
    uint64_t a = mix64(n ^ d->hkey[0]), b = mix64(n + d->hkey[1]);
    for (size_t t = 0; t < n; t++) {
        a += mix64(rows[t] ^ d->hkey[0]);
        b += mix64(rows[t] + d->hkey[1]);
    }
    out[0] = a | 1;                 /* never the empty slot */
    out[1] = b;
}

#define HDEAD 2                     /* even: no hash (they are odd) */

/* The slot of ${h}, or of the empty slot that ends its probe. */
static size_t
hash_slot(const uint64_t *tab, size_t cap, const uint64_t h[2])
{
    size_t s = h[0] & (cap - 1);
    while (tab[2 * s] != 0 && (tab[2 * s] != h[0] || tab[2 * s + 1] != h[1]))
        s = (s + 1) & (cap - 1);
    return s;
}

static int
hash_known(const struct derive *d, const uint64_t h[2])
{
    return d->hcap > 0 && d->htab[2 * hash_slot(d->htab, d->hcap, h)] != 0;
}

/*
 * Note ${h} as kept by the pending admit: in the table at once (so that a
 * repeat within the admit is found) and in hpend (so that a rollback can
 * mark it dead).
 */
static int
hash_pend(struct derive *d, const uint64_t h[2])
{
    if (2 * (d->hused + 1) > d->hcap) {
        size_t live = 0;
        for (size_t s = 0; s < d->hcap; s++)
            live += d->htab[2 * s] > HDEAD;
        size_t nc = 64;
        while (nc < 4 * (live + 1))
            nc *= 2;
        uint64_t *t = mem(d, NULL, 0, 2 * nc, 8);
        if (t == NULL)
            return -1;
        memset(t, 0, 2 * nc * 8);
        for (size_t s = 0; s < d->hcap; s++)
            if (d->htab[2 * s] > HDEAD) {
                size_t to = hash_slot(t, nc, &d->htab[2 * s]);
                t[2 * to] = d->htab[2 * s];
                t[2 * to + 1] = d->htab[2 * s + 1];
            }
        mem(d, d->htab, 2 * d->hcap, 0, 8);
        d->htab = t;
        d->hcap = nc;
        d->hused = live;
    }
    if (d->hpn == d->hpcap) {
        size_t nc = d->hpcap ? d->hpcap * 2 : 16;
        uint64_t *q = mem(d, d->hpend, 2 * d->hpcap, 2 * nc, 8);
        if (q == NULL)
            return -1;
        d->hpend = q;
        d->hpcap = nc;
    }
    size_t s = hash_slot(d->htab, d->hcap, h);
    d->htab[2 * s] = h[0];
    d->htab[2 * s + 1] = h[1];
    d->hused++;
    d->hpend[2 * d->hpn] = h[0];
    d->hpend[2 * d->hpn + 1] = h[1];
    d->hpn++;
    return 0;
}

/* ---- public ---- */

struct derive *
derive_new(uint32_t nrows, uint32_t k, size_t max_bytes, uint64_t seed)
{
    if (k == 0 || nrows > DERIVE_MAX_ROWS)
        return NULL;
    struct derive *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->nrows = nrows;
    d->k = k;
    d->max_bytes = max_bytes ? max_bytes : DERIVE_DEFAULT_MAX_BYTES;
    d->seed = seed;
    d->hkey[0] = fresh(d);
    d->hkey[1] = fresh(d);
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
        d->r[0] = fresh(d);
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
    free(d->row), free(d->rtouch), free(d->rmark), free(d->rsel), free(d->ctouch);
    free(d->amade), free(d->htab), free(d->hpend);
    free(d->atom_of), free(d->size), free(d->r), free(d->pivot_row), free(d->parent);
    free(d->cols), free(d->acc), free(d->mark), free(d->cnt), free(d->part);
    free(d->log), free(d->moved);
    free(d->touched.p), free(d->work.p), free(d->res.p), free(d->aff.p);
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
        uint64_t h[2];
        set_hash(d, rows[i], n[i], h);
        int known = hash_known(d, h);
        int rc = known ? 0 : admit_one(d, rows[i], n[i]);
        if (rc == 0 && !known && hash_pend(d, h) != 0)
            rc = -1;
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

/* After a commit or rollback: nothing pending, no row marked as replaced. */
static void
settle(struct derive *d)
{
    d->nlog = 0;
    d->nmoved = 0;
    d->hpn = 0;
    d->pending = 0;
    if (next_stamp(&d->admit_epoch, d->rtouch, d->rcap) == 1)
        memset(d->amade, 0, (size_t)d->rcap * 4);
}

void
derive_commit(struct derive *d)
{
    if (!d->pending)
        return;
    for (size_t t = 0; t < d->nlog; t++)
        if (d->log[t].kind == U_REPLACE)
            row_release(d, d->log[t].col, d->log[t].val, d->log[t].cap);
    settle(d);
}

void
derive_rollback(struct derive *d)
{
    if (!d->pending)
        return;
    undo_to(d, 0);
    for (size_t t = 0; t < d->hpn; t++)     /* probes keep passing a dead slot */
        d->htab[2 * hash_slot(d->htab, d->hcap, &d->hpend[2 * t])] = HDEAD;
    settle(d);
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
