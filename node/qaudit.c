/*
 * qaudit - see qaudit.h.
 *
 * Cost per query: one pass over the snapshot rows that pass the filter (twice
 * when the key sets differ from the full sets), a linear sort of (group key,
 * row) pairs, and derive_admit() on the candidates (analysis/derive.h: O(|S|)
 * a set plus sparse row operations).  Survival strata add one pass over the
 * rows per stratum for the tails (R4).  Storage: 4 bytes per row of each
 * distinct stored set; memory: derive_bytes() of the three systems.
 */
#include "node/qaudit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sqlite3.h>

#include "analysis/derive.h"
#include "analysis/km.h"
#include "certs/pki.h"
#include "lib/util.h"
#include "node/kind.h"
#include "node/select.h"

enum { SYS_KEY, SYS_FULL, SYS_SURV, SYS_N };

static const char qaudit_schema[] =
    "CREATE TABLE IF NOT EXISTS qaudit_release(id INTEGER PRIMARY KEY, data_hash TEXT NOT NULL, "
    "sys INTEGER NOT NULL, seq INTEGER NOT NULL, set_hash BLOB NOT NULL, n INTEGER NOT NULL, "
    "rows BLOB NOT NULL, analyst TEXT NOT NULL, query_id TEXT NOT NULL, at_ms INTEGER NOT NULL, "
    "UNIQUE(data_hash, sys, set_hash));"
    /* R4 cuts given to each life table (its rows and their times), so that a repeat never
     * extends a curve past where it was cut before (the atoms that cut it may have been
     * split since). */
    "CREATE TABLE IF NOT EXISTS qaudit_cut(data_hash TEXT NOT NULL, seq INTEGER NOT NULL, "
    "table_hash BLOB NOT NULL, cut INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS qaudit_cut_hash ON qaudit_cut(data_hash, table_hash);";

/* One candidate: an item of the answer and its sets (qaudit.h). */
struct cand {
    long item;
    uint32_t *key, *full;           /* owned; full NULL: the key set */
    size_t nkey, nfull;
    const int32_t *tcol;            /* survival stratum: its tail (NULL: none) */
    const uint8_t *ecol;
    int32_t grid;
    int32_t cut;                    /* R4: first time withheld (INT32_MAX: none) */
    uint8_t table_hash[32];         /* R4: of the rows and their times, for qaudit_cut */
    int keyonly;                    /* no full set: only the key set is admitted */
    size_t order;                   /* as the kind listed it */
};

struct qaudit_sets {
    struct cand *v;
    size_t n, cap;
};

/* A set admitted but not yet committed: stored under the pending seq. */
struct qaudit {
    struct derive *sys[SYS_N];
    char data_hash[2 * 32 + 1];
    size_t nrows;
    uint32_t k;
    uint64_t max_sets, stored;      /* stored: rows of qaudit_release for this snapshot */
    int64_t seq;                    /* last query sequence number used */
    uint8_t *in_surv;               /* rows in some released survival stratum (SURV) */
    /* pending */
    int pending;
    uint32_t **surv_rows;           /* SURV sets pending: marked in in_surv at commit */
    size_t *surv_n, nsurv;
    uint64_t pending_stored;
};

struct pair {
    uint64_t key;                   /* group codes, first variable most significant */
    uint32_t row;
    uint32_t cell;                  /* the same codes as one mixed-radix index (dense sort) */
};

/*
 * Groups with at most QAUDIT_DENSE_CELLS level combinations (count by stage
 * and sex: 12) are ordered by one stable counting pass over the cell index,
 * which orders as the key does (same codes, same significance); rows arrive
 * ascending and stay so.  Larger key spaces take the radix sort below.
 */
#define QAUDIT_DENSE_CELLS 4096
static void
sort_pairs_dense(struct pair *p, size_t n, uint32_t ncells)
{
    size_t *at = xcalloc((size_t)ncells + 1, sizeof *at);
    struct pair *tmp = xmalloc((n ? n : 1) * sizeof *tmp);
    for (size_t i = 0; i < n; i++)
        at[p[i].cell + 1]++;
    for (uint32_t c = 1; c <= ncells; c++)
        at[c] += at[c - 1];
    for (size_t i = 0; i < n; i++)
        tmp[at[p[i].cell]++] = p[i];
    memcpy(p, tmp, n * sizeof *p);
    free(tmp);
    free(at);
}

/* Cells of the key space of the variables in mask (bit k: by[k]), or 0 past QAUDIT_DENSE_CELLS. */
static uint32_t
dense_cells(const struct snapshot *snap, const enum var_id *by, int nby, unsigned mask)
{
    uint64_t cells = 1;
    for (int k = 0; k < nby; k++)
        if (mask & (1u << k)) {
            cells *= snap->ncodes[by[k]] ? snap->ncodes[by[k]] : 1;
            if (cells > QAUDIT_DENSE_CELLS)
                return 0;
        }
    return (uint32_t)cells;
}

#define QAUDIT_RADIX_BITS 11         /* digit of the pair sort: 2048 buckets stay in L1 */
/* One stable counting pass from p into tmp over the digit at bit `shift` of key (is_key) or row. */
static void
radix_pass(const struct pair *p, struct pair *tmp, size_t n, int is_key, unsigned shift)
{
    size_t count[(1u << QAUDIT_RADIX_BITS) + 1];
    const uint64_t mask = (1u << QAUDIT_RADIX_BITS) - 1;
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        count[((is_key ? p[i].key : p[i].row) >> shift & mask) + 1]++;
    for (size_t d = 1; d <= mask + 1; d++)
        count[d] += count[d - 1];
    for (size_t i = 0; i < n; i++)
        tmp[count[(is_key ? p[i].key : p[i].row) >> shift & mask]++] = p[i];
}

/*
 * Sort by key, then row: an LSD radix sort (stable, linear), in place of
 * qsort's n log n, which cost ~3 ms a query at 10k rows and most of a second
 * at 1M.  Only digits that vary are sorted on, and rows not at all when they
 * already ascend (as collect() produces them): stability keeps that order.
 */
static void
sort_pairs(struct pair *p, size_t n)
{
    uint64_t kor = 0, kand = UINT64_MAX;
    uint32_t ror = 0, rowand = UINT32_MAX;
    int ascending = 1;
    for (size_t i = 0; i < n; i++) {
        kor |= p[i].key;
        kand &= p[i].key;
        ror |= p[i].row;
        rowand &= p[i].row;
        ascending &= i == 0 || p[i - 1].row < p[i].row;
    }
    if (n < 2)
        return;
    struct pair *tmp = xmalloc(n * sizeof *tmp), *from = p, *to = tmp;
    uint64_t kvary = kor ^ kand;
    uint32_t rvary = ror ^ rowand;
    for (unsigned pass = 0; pass < 2; pass++) {     /* rows first, then keys: LSD order */
        for (unsigned sh = 0; sh < (pass ? 64u : 32u); sh += QAUDIT_RADIX_BITS) {
            uint64_t digit = (pass ? kvary : (ascending ? 0 : rvary)) >> sh;
            if ((digit & ((1u << QAUDIT_RADIX_BITS) - 1)) == 0)
                continue;
            radix_pass(from, to, n, (int)pass, sh);
            struct pair *t = from;
            from = to;
            to = t;
        }
    }
    if (from != p)
        memcpy(p, from, n * sizeof *p);
    free(tmp);
}

/* ---- groups ---- */

/* spec without its outcome conditions: vital_status filters and grouping dropped. */
struct blind_spec {
    Fedra__QuerySpec spec;
    Fedra__Filter *where[SNAP_MAX_TERMS];
    char *group_by[SNAP_MAX_GROUP];
};

static int
is_outcome(const char *name)
{
    const struct var_def *d = vars_find(name);
    return d != NULL && d->id == VAR_VITAL_STATUS;
}

/* The outcome-blind spec of ${spec} into b (pointing into spec); -1: more terms than allowed. */
static int
blind_spec(const Fedra__QuerySpec *spec, struct blind_spec *b)
{
    b->spec = *spec;
    size_t nw = 0, ng = 0;
    if (spec->n_where > SNAP_MAX_TERMS || spec->n_group_by > SNAP_MAX_GROUP)
        return -1;
    for (size_t i = 0; i < spec->n_where; i++)
        if (!is_outcome(spec->where[i]->var))
            b->where[nw++] = spec->where[i];
    for (size_t i = 0; i < spec->n_group_by; i++)
        if (!is_outcome(spec->group_by[i]))
            b->group_by[ng++] = spec->group_by[i];
    b->spec.n_where = nw;
    b->spec.where = b->where;
    b->spec.n_group_by = ng;
    b->spec.group_by = b->group_by;
    return 0;
}

int
qaudit_keyed(const Fedra__QuerySpec *spec)
{
    for (size_t i = 0; i < spec->n_group_by; i++)
        if (!is_outcome(spec->group_by[i]))
            return 1;
    return 0;
}

uint64_t
qaudit_blind_key(const Fedra__QuerySpec *spec, const uint16_t *code)
{
    uint64_t key = 0;
    for (size_t i = 0; i < spec->n_group_by && i < SNAP_MAX_GROUP; i++)
        if (!is_outcome(spec->group_by[i]))
            key = key << 16 | code[i];
    return key;
}

/*
 * The groups that the rows selected by spec's filter form over
 * by[0..nby-1] (rows missing any of them belong to none), ascending by key.
 */
static void
collect(const struct snapshot *snap, const Fedra__QuerySpec *spec, const enum var_id *by,
    int nby, struct qaudit_groups *out)
{
    struct snap_filter f;
    char ignored[FEDRA_ERRLEN];
    if (select_compile(snap, spec, &f, ignored) != 0)
        return;
    struct pair *p = xmalloc((snap->n ? snap->n : 1) * sizeof *p);     /* filled before read */
    size_t np = 0;
    uint32_t ncells = dense_cells(snap, by, nby, (1u << nby) - 1);
    for (size_t i = 0; i < snap->n; i++) {
        if (!snapshot_row_passes(snap, &f, i))
            continue;
        uint64_t key = 0;
        uint32_t cell = 0;
        int missing = 0;
        for (int k = 0; k < nby; k++) {
            uint16_t c = snap->code[by[k]][i];
            missing |= c == SNAP_MISSING;
            ncells = c < snap->ncodes[by[k]] || c == SNAP_MISSING ? ncells : 0;
            key = key << 16 | c;
            cell = cell * (snap->ncodes[by[k]] ? snap->ncodes[by[k]] : 1) + c;
        }
        if (!missing)
            p[np++] = (struct pair){key, (uint32_t)i, cell};
    }
    snapshot_filter_release(&f);
    if (ncells)     /* every code within its variable's range: the cell index is exact */
        sort_pairs_dense(p, np, ncells);
    else
        sort_pairs(p, np);
    size_t ng = 0;
    for (size_t a = 0, b; a < np; a = b) {
        for (b = a; b < np && p[b].key == p[a].key; b++)
            ;
        ng++;
    }
    out->v = xcalloc(ng ? ng : 1, sizeof *out->v);
    out->n = 0;
    for (size_t a = 0, b; a < np; a = b) {
        for (b = a; b < np && p[b].key == p[a].key; b++)
            ;
        struct qaudit_group *g = &out->v[out->n++];
        g->key = p[a].key;
        g->n = b - a;
        g->rows = xmalloc(g->n * sizeof *g->rows);
        for (size_t j = a; j < b; j++)
            g->rows[j - a] = p[j].row;
    }
    free(p);
}

void
qaudit_groups(const struct snapshot *snap, const Fedra__QuerySpec *spec, int blind,
    struct qaudit_groups *out)
{
    memset(out, 0, sizeof *out);
    struct blind_spec b;
    if (blind) {
        if (blind_spec(spec, &b) != 0)
            return;
        spec = &b.spec;
    }
    enum var_id by[SNAP_MAX_GROUP];
    if (spec->n_group_by > SNAP_MAX_GROUP)
        return;
    for (size_t k = 0; k < spec->n_group_by; k++) {
        const struct var_def *d = vars_find(spec->group_by[k]);
        if (d == NULL)
            return;
        by[k] = d->id;
    }
    collect(snap, spec, by, (int)spec->n_group_by, out);
}

void
qaudit_groups_free(struct qaudit_groups *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i].rows);
    free(g->v);
    memset(g, 0, sizeof *g);
}

/* ---- candidates ---- */

static uint32_t *
dup_rows(const uint32_t *rows, size_t n)
{
    uint32_t *r = xmalloc((n ? n : 1) * sizeof *r);
    if (n)
        memcpy(r, rows, n * sizeof *r);
    return r;
}

static struct cand *
cand_new(struct qaudit_sets *out, long item, const uint32_t *key, size_t nkey,
    const uint32_t *full, size_t nfull)
{
    if (out->n == out->cap) {
        out->cap = out->cap ? 2 * out->cap : 8;
        out->v = xreallocarray(out->v, out->cap, sizeof *out->v);
    }
    struct cand *c = &out->v[out->n++];
    memset(c, 0, sizeof *c);
    c->item = item;
    c->cut = INT32_MAX;
    if (key != NULL) {
        c->key = dup_rows(key, nkey);
        c->nkey = nkey;
    }
    if (full != NULL) {
        c->full = dup_rows(full, nfull);
        c->nfull = nfull;
    }
    return c;
}

void
qaudit_add(struct qaudit_sets *out, long item, const uint32_t *key, size_t nkey,
    const uint32_t *full, size_t nfull)
{
    cand_new(out, item, key, nkey, full, nfull);
}

void
qaudit_add_key(struct qaudit_sets *out, long item, const uint32_t *key, size_t nkey)
{
    cand_new(out, item, key, nkey, NULL, 0)->keyonly = 1;
}

void
qaudit_add_stratum(struct qaudit_sets *out, long item, const uint32_t *key, size_t nkey,
    const uint32_t *full, size_t nfull, const int32_t *tcol, const uint8_t *ecol, int32_t grid)
{
    struct cand *c = cand_new(out, item, key, nkey, full, nfull);
    c->tcol = tcol;
    c->ecol = ecol;
    c->grid = grid;
}

static void
sets_release(struct qaudit_sets *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].key);
        free(s->v[i].full);
    }
    free(s->v);
}

/* The full set of c (its key set when the kind gave none). */
static const uint32_t *
cand_full(const struct cand *c, size_t *n)
{
    *n = c->full ? c->nfull : c->nkey;
    return c->full ? c->full : c->key;
}

static int
cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    size_t nx = x->key ? x->nkey : x->nfull, ny = y->key ? y->nkey : y->nfull;
    if (nx != ny)
        return nx > ny ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Larger key sets first (complementary suppression withholds the smallest); stable. */
static void
sort_cands(struct qaudit_sets *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->v[i].order = i;
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, cand_cmp);
}

/* ---- the systems, and their history in SQLite ---- */

static const char *
db_fail(sqlite3 *db, char *err)
{
    errf(err, "disclosure auditor: %s", sqlite3_errmsg(db));
    return "internal";
}

/* Admit ${n} sets into ${d} and commit; kept[] may be NULL.  -1 with err (capacity). */
static int
admit_commit(struct derive *d, const uint32_t *const *rows, const size_t *n, size_t ncand,
    char *err)
{
    unsigned char *kept = xmalloc(ncand ? ncand : 1);
    int rc = derive_admit(d, rows, n, ncand, kept, err);
    free(kept);
    if (rc < 0)
        return -1;
    derive_commit(d);
    return 0;
}

void
qaudit_close(struct qaudit *qa)
{
    if (qa == NULL)
        return;
    for (int s = 0; s < SYS_N; s++)
        derive_free(qa->sys[s]);
    for (size_t i = 0; i < qa->nsurv; i++)
        free(qa->surv_rows[i]);
    free(qa->surv_rows);
    free(qa->surv_n);
    free(qa->in_surv);
    free(qa);
}

int
qaudit_matches(const struct qaudit *qa, const struct snapshot *snap, uint32_t min_cell)
{
    return qa != NULL && qa->nrows == snap->n && qa->k == (min_cell ? min_cell : 1) &&
        strcmp(qa->data_hash, snap->meta.hash) == 0;
}

void
qaudit_stats(const struct qaudit *qa, uint64_t *stored, size_t nsets[3], size_t *bytes)
{
    *stored = qa->stored;
    *bytes = sizeof *qa + qa->nrows;
    for (int s = 0; s < SYS_N; s++) {
        nsets[s] = derive_nsets(qa->sys[s]);
        *bytes += derive_bytes(qa->sys[s]);
    }
}

/*
 * Replay one query's stored sets of one system (rows[0..n) read from the
 * database) and commit them.
 */
static int
replay_batch(struct qaudit *qa, int sys, uint32_t **rows, size_t *n, size_t cnt, char *err)
{
    if (cnt == 0)
        return 0;
    if (admit_commit(qa->sys[sys], (const uint32_t *const *)rows, n, cnt, err) != 0)
        return -1;
    if (sys == SYS_SURV)
        for (size_t i = 0; i < cnt; i++)
            for (size_t j = 0; j < n[i]; j++)
                qa->in_surv[rows[i][j]] = 1;
    return 0;
}

/* Replay the stored history of the snapshot, query by query, system by system. */
static int
replay(struct qaudit *qa, sqlite3 *db, char *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT sys, seq, rows FROM qaudit_release WHERE data_hash = ? "
            "ORDER BY sys, seq, id", -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, err);
        return -1;
    }
    sqlite3_bind_text(st, 1, qa->data_hash, -1, SQLITE_STATIC);
    uint32_t **rows = NULL;
    size_t *n = NULL, cnt = 0, cap = 0;
    int64_t cur_sys = -1, cur_seq = -1;
    int s, rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t sys = sqlite3_column_int64(st, 0), seq = sqlite3_column_int64(st, 1);
        size_t nr = (size_t)sqlite3_column_bytes(st, 2) / sizeof(uint32_t);
        if (sys < 0 || sys >= SYS_N) {
            rc = errf(err, "disclosure auditor: stored set of unknown system %lld",
                (long long)sys);
            break;
        }
        if ((sys != cur_sys || seq != cur_seq) && cnt > 0) {
            rc = replay_batch(qa, (int)cur_sys, rows, n, cnt, err);
            for (size_t i = 0; i < cnt; i++)
                free(rows[i]);
            cnt = 0;
        }
        cur_sys = sys;
        cur_seq = seq;
        qa->seq = seq > qa->seq ? seq : qa->seq;
        if (cnt == cap) {
            cap = cap ? 2 * cap : 16;
            rows = xreallocarray(rows, cap, sizeof *rows);
            n = xreallocarray(n, cap, sizeof *n);
        }
        /* The blob may sit at any address in SQLite's page: copy to aligned memory. */
        rows[cnt] = xmalloc((nr ? nr : 1) * sizeof **rows);
        if (nr)
            memcpy(rows[cnt], sqlite3_column_blob(st, 2), nr * sizeof **rows);
        n[cnt] = nr;
        for (size_t j = 0; j < nr && rc == 0; j++)
            if (rows[cnt][j] >= qa->nrows || (j > 0 && rows[cnt][j] <= rows[cnt][j - 1]))
                rc = errf(err, "disclosure auditor: a stored set does not fit the data "
                    "snapshot (row %u)", rows[cnt][j]);
        cnt++;
        qa->stored++;
    }
    if (rc == 0 && s != SQLITE_DONE) {
        db_fail(db, err);
        rc = -1;
    }
    if (rc == 0 && cnt > 0)
        rc = replay_batch(qa, (int)cur_sys, rows, n, cnt, err);
    for (size_t i = 0; i < cnt; i++)
        free(rows[i]);
    free(rows);
    free(n);
    sqlite3_finalize(st);
    return rc;
}

struct qaudit *
qaudit_open(sqlite3 *db, const struct snapshot *snap, uint32_t min_cell, uint64_t max_sets,
    int64_t *ms, char *err)
{
    int64_t t0 = util_mono_ms();
    if (sqlite3_exec(db, qaudit_schema, NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(db, err);
        return NULL;
    }
    struct qaudit *qa = xcalloc(1, sizeof *qa);
    snprintf(qa->data_hash, sizeof qa->data_hash, "%s", snap->meta.hash);
    qa->nrows = snap->n;
    qa->k = min_cell ? min_cell : 1;
    qa->max_sets = max_sets ? max_sets : QAUDIT_DEFAULT_MAX_SETS;
    qa->in_surv = xcalloc(snap->n ? snap->n : 1, 1);
    if (snap->n > DERIVE_MAX_ROWS) {
        errf(err, "disclosure auditor: %zu rows, over its limit of %u", snap->n,
            DERIVE_MAX_ROWS);
        qaudit_close(qa);
        return NULL;
    }
    for (int s = 0; s < SYS_N; s++) {
        uint64_t seed;
        if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed ||
            (qa->sys[s] = derive_new((uint32_t)snap->n, qa->k, 0, seed)) == NULL) {
            errf(err, "disclosure auditor: cannot set up (no randomness or memory)");
            qaudit_close(qa);
            return NULL;
        }
    }
    /* Row indices mean nothing once the data changed: drop the old history. */
    sqlite3_stmt *st;
    int s = SQLITE_DONE;
    for (int t = 0; t < 2 && s == SQLITE_DONE; t++) {
        if (sqlite3_prepare_v2(db, t ? "DELETE FROM qaudit_cut WHERE data_hash <> ?1"
                                     : "DELETE FROM qaudit_release WHERE data_hash <> ?1",
                -1, &st, NULL) != SQLITE_OK) {
            db_fail(db, err);
            qaudit_close(qa);
            return NULL;
        }
        sqlite3_bind_text(st, 1, qa->data_hash, -1, SQLITE_STATIC);
        s = sqlite3_step(st);
        sqlite3_finalize(st);
    }
    if (s != SQLITE_DONE) {
        db_fail(db, err);
        qaudit_close(qa);
        return NULL;
    }
    /* Every answer carries data_rows: the set of all rows is released from the start. */
    uint32_t *all = xmalloc((snap->n ? snap->n : 1) * sizeof *all);
    for (size_t i = 0; i < snap->n; i++)
        all[i] = (uint32_t)i;
    const uint32_t *allp = all;
    size_t nall = snap->n;
    int rc = admit_commit(qa->sys[SYS_KEY], &allp, &nall, 1, err) |
        admit_commit(qa->sys[SYS_FULL], &allp, &nall, 1, err);
    free(all);
    if (rc != 0 || replay(qa, db, err) != 0) {
        qaudit_close(qa);
        return NULL;
    }
    if (ms != NULL)
        *ms = util_mono_ms() - t0;
    return qa;
}

/* ---- R4: where a survival stratum's table stops ---- */

struct atom_time {
    uint32_t atom;
    int32_t time;
};

static int
atom_time_cmp(const void *a, const void *b)
{
    const struct atom_time *x = a, *y = b;
    if (x->atom != y->atom)
        return x->atom < y->atom ? -1 : 1;
    return x->time > y->time ? -1 : x->time < y->time;     /* latest first */
}

static int32_t
bin_time(int32_t t, int32_t grid)
{
    int32_t out;
    return km_grid_ceil(t, grid, &out) == 0 ? out : t;
}

/*
 * The first time of c's table to withhold: the first time at which fewer
 * than k remain at risk in the stratum (its full rows), or in a group whose
 * curve a difference of released curves may give.  Those groups come from
 * the atoms of SURV before this query (old[]): the stratum's part of each
 * (its rows of the stratum), and, for each atom inside an earlier survival
 * stratum that the stratum split, the part outside it (an earlier curve
 * minus this one).  Groups of fewer than k key rows are left out: they
 * are atoms of the new system (strata of one query are disjoint), which is
 * safe, so no combination of released curves isolates them.  (A larger
 * group's curve is not always derivable either: counting every one is the
 * conservative side.)  At risk at t: rows whose time on the grid is >= t;
 * fewer than k from the k-th latest time plus one step on.  INT32_MIN when
 * a group of k or more key rows has 1 .. k-1 rows of the stratum.  INT32_MAX:
 * nothing to withhold.
 */
static int32_t
stratum_cut(const struct qaudit *qa, const struct cand *c, const uint32_t *old,
    uint8_t *mark, size_t natoms_old)
{
    size_t nfull;
    const uint32_t *full = cand_full(c, &nfull);
    uint32_t *inside = xcalloc(natoms_old ? natoms_old : 1, sizeof *inside);  /* key rows */
    for (size_t j = 0; j < c->nkey; j++) {
        mark[c->key[j]] = 1;
        inside[old[c->key[j]]]++;
    }
    size_t cap = 2 * nfull + 2, np = 0;
    struct atom_time *p = xmalloc(cap * sizeof *p);
    const uint32_t self = UINT32_MAX;       /* the stratum itself */
    for (size_t j = 0; j < nfull; j++) {
        int32_t t = bin_time(c->tcol[full[j]], c->grid);
        p[np++] = (struct atom_time){self, t};
        if (inside[old[full[j]]] >= qa->k)
            p[np++] = (struct atom_time){2 * old[full[j]], t};
        if (np + 2 > cap)
            p = xreallocarray(p, cap *= 2, sizeof *p);
    }
    for (size_t r = 0; r < qa->nrows; r++)
        if (qa->in_surv[r] && !mark[r] && inside[old[r]] > 0) {
            p[np++] = (struct atom_time){2 * old[r] + 1, bin_time(c->tcol[r], c->grid)};
            if (np + 2 > cap)
                p = xreallocarray(p, cap *= 2, sizeof *p);
        }
    for (size_t j = 0; j < c->nkey; j++)
        mark[c->key[j]] = 0;
    free(inside);
    qsort(p, np, sizeof *p, atom_time_cmp);
    int32_t step = c->grid > 0 ? c->grid : 1, cut = INT32_MAX;
    for (size_t a = 0, b; a < np; a = b) {
        for (b = a; b < np && p[b].atom == p[a].atom; b++)
            ;
        if (b - a < qa->k) {
            if (p[a].atom == self || (p[a].atom & 1) == 0) {
                cut = INT32_MIN;        /* the stratum's part of a large group is small */
                break;
            }
            continue;                   /* a small outside part: an atom, not isolated */
        }
        int32_t t = p[a + qa->k - 1].time;     /* the k-th latest */
        int32_t at = t > INT32_MAX - step ? INT32_MAX : t + step;
        cut = at < cut ? at : cut;
    }
    free(p);
    /* A cut after the stratum's last time withholds nothing: no truncation. */
    int32_t last = INT32_MIN;
    for (size_t j = 0; j < nfull; j++) {
        int32_t t = bin_time(c->tcol[full[j]], c->grid);
        last = t > last ? t : last;
    }
    return cut != INT32_MIN && cut > last ? INT32_MAX : cut;
}

/* ---- one query ---- */

/* The item of each withheld candidate, and whether the whole answer is. */
struct verdicts {
    uint8_t *held;                  /* per item: withheld */
    size_t nitems;
    int whole;
};

static void
hold(struct verdicts *v, long item)
{
    if (item < 0)
        v->whole = 1;
    else if ((size_t)item < v->nitems)
        v->held[item] = 1;
}

static int
held(const struct verdicts *v, long item)
{
    return item < 0 ? v->whole : v->held[item];
}

/* The sets one system is asked to admit, and what each stands for. */
struct batch {
    const uint32_t **rows;
    size_t *n;
    long *item;
    uint32_t **own;                 /* sets built here (events), freed with the batch */
    unsigned char *kept;
    size_t cnt, cap;
};

static void
batch_add(struct batch *b, const uint32_t *rows, size_t n, long item, uint32_t *own)
{
    if (b->cnt == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->rows = xreallocarray(b->rows, b->cap, sizeof *b->rows);
        b->n = xreallocarray(b->n, b->cap, sizeof *b->n);
        b->item = xreallocarray(b->item, b->cap, sizeof *b->item);
        b->own = xreallocarray(b->own, b->cap, sizeof *b->own);
    }
    b->rows[b->cnt] = rows;
    b->n[b->cnt] = n;
    b->item[b->cnt] = item;
    b->own[b->cnt] = own;
    b->cnt++;
}

static void
batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->cnt; i++)
        free(b->own[i]);
    free(b->rows);
    free(b->n);
    free(b->item);
    free(b->own);
    free(b->kept);
    memset(b, 0, sizeof *b);
}

/* Admit b into d (pending); withheld items into v.  -1 with err: capacity. */
static int
batch_admit(struct derive *d, struct batch *b, struct verdicts *v, char *err)
{
    b->kept = xcalloc(b->cnt ? b->cnt : 1, 1);
    if (b->cnt == 0)
        return 0;
    if (derive_admit(d, b->rows, b->n, b->cnt, b->kept, err) < 0)
        return -1;
    for (size_t i = 0; i < b->cnt; i++)
        if (!b->kept[i])
            hold(v, b->item[i]);
    return 0;
}

/* Store the kept sets of b in system sys under the pending seq. */
static int
batch_store(struct qaudit *qa, sqlite3_stmt *st, int sys, const struct batch *b)
{
    for (size_t i = 0; i < b->cnt; i++) {
        if (!b->kept[i] || b->n[i] == 0)
            continue;
        uint8_t hash[32];
        pki_sha256(b->rows[i], b->n[i] * sizeof *b->rows[i], hash);
        sqlite3_reset(st);
        sqlite3_bind_int(st, 2, sys);
        sqlite3_bind_blob(st, 4, hash, sizeof hash, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, (int64_t)b->n[i]);
        sqlite3_bind_blob(st, 6, b->rows[i], (int)(b->n[i] * sizeof *b->rows[i]),
            SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            return -1;
        qa->pending_stored += (uint64_t)sqlite3_changes(sqlite3_db_handle(st));
    }
    return 0;
}

static int
store_pending(struct qaudit *qa, sqlite3 *db, const struct batch *bk, const struct batch *bs,
    const struct batch *bf, const char *analyst, const char *query_id, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO qaudit_release(data_hash, sys, seq, "
            "set_hash, n, rows, analyst, query_id, at_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, qa->data_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, qa->seq + 1);
    sqlite3_bind_text(st, 7, analyst, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, query_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, now_ms);
    if (batch_store(qa, st, SYS_KEY, bk) != 0 || batch_store(qa, st, SYS_SURV, bs) != 0 ||
        batch_store(qa, st, SYS_FULL, bf) != 0)
        goto fail;
    sqlite3_finalize(st);
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        st = NULL;
        goto fail;
    }
    qa->seq++;
    return 0;
fail:
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    qa->pending_stored = 0;
    return -1;
}

static void
rollback_systems(struct qaudit *qa)
{
    for (int s = 0; s < SYS_N; s++)
        if (derive_pending(qa->sys[s]))
            derive_rollback(qa->sys[s]);
}

/* The hash of c's life table: its rows and their times on the grid. */
static void
table_hash(const struct cand *c, uint8_t out[32])
{
    size_t nfull;
    const uint32_t *full = cand_full(c, &nfull);
    uint32_t *buf = xmalloc((2 * nfull + 1) * sizeof *buf);
    for (size_t j = 0; j < nfull; j++) {
        buf[2 * j] = full[j];
        buf[2 * j + 1] = (uint32_t)bin_time(c->tcol[full[j]], c->grid);
    }
    pki_sha256(buf, 2 * nfull * sizeof *buf, out);
    free(buf);
}

/*
 * R4 for every stratum the key and SURV systems kept: its cut, into c->cut,
 * never later than a cut the same table was given before (qaudit_cut):
 * a repeat gives the same curve.  -1 on a database error.
 */
static int
cut_strata(struct qaudit *qa, sqlite3 *db, struct qaudit_sets *sets, const uint32_t *old,
    size_t natoms_old, struct verdicts *v)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT min(cut) FROM qaudit_cut WHERE data_hash = ? AND "
            "table_hash = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    uint8_t *mark = xcalloc(qa->nrows ? qa->nrows : 1, 1);
    int rc = 0;
    for (size_t i = 0; i < sets->n && rc == 0; i++) {
        struct cand *c = &sets->v[i];
        if (c->tcol == NULL || held(v, c->item))
            continue;
        c->cut = stratum_cut(qa, c, old, mark, natoms_old);
        table_hash(c, c->table_hash);
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, qa->data_hash, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, c->table_hash, 32, SQLITE_STATIC);
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            int64_t before = sqlite3_column_int64(st, 0);
            if (before < c->cut)
                c->cut = (int32_t)before;
        } else if (s != SQLITE_ROW && s != SQLITE_DONE) {
            rc = -1;
        }
        if (c->cut == INT32_MIN)
            hold(v, c->item);
    }
    sqlite3_finalize(st);
    free(mark);
    return rc;
}

/* Remember the cuts given (pending under the query's seq, as the sets). */
static int
store_cuts(struct qaudit *qa, sqlite3 *db, const struct qaudit_sets *sets,
    const struct verdicts *v)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO qaudit_cut(data_hash, seq, table_hash, cut) "
            "VALUES(?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < sets->n && rc == 0; i++) {
        const struct cand *c = &sets->v[i];
        if (c->tcol == NULL || held(v, c->item) || c->cut == INT32_MAX)
            continue;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, qa->data_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, qa->seq);
        sqlite3_bind_blob(st, 3, c->table_hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, c->cut);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(st);
    return rc;
}

/* One query's decision in the making (qaudit_admit's steps share it). */
struct admission {
    struct qaudit_sets sets;        /* the kind's candidates, largest key set first */
    struct verdicts v;              /* per item: withheld; or the whole answer */
    struct batch bk, bs, bf;        /* what each system was offered: KEY, SURV, FULL */
    int tails;                      /* survival strata among the candidates */
};

static void
admission_free(struct admission *ad)
{
    batch_free(&ad->bk);
    batch_free(&ad->bs);
    batch_free(&ad->bf);
    free(ad->v.held);
    sets_release(&ad->sets);
}

/* 1. KEY: outcome-blind, decided first.  A kind that could not give a set: fail closed. */
static int
decide_key(struct qaudit *qa, struct admission *ad, char *err)
{
    struct qaudit_sets *sets = &ad->sets;
    for (size_t i = 0; i < sets->n; i++)
        if (sets->v[i].keyonly && sets->v[i].key == NULL)
            hold(&ad->v, sets->v[i].item);
    for (size_t i = 0; i < sets->n; i++)
        if (sets->v[i].key != NULL)
            batch_add(&ad->bk, sets->v[i].key, sets->v[i].nkey, sets->v[i].item, NULL);
    return batch_admit(qa->sys[SYS_KEY], &ad->bk, &ad->v, err);
}

/*
 * 2. SURV: the strata the key system kept, and their tails (R4).  Returns 0,
 * -1 on capacity (err), -2 on a database error.
 */
static int
decide_surv(struct qaudit *qa, sqlite3 *db, struct admission *ad, char *err)
{
    struct qaudit_sets *sets = &ad->sets;
    for (size_t i = 0; i < sets->n; i++)
        if (sets->v[i].tcol != NULL && sets->v[i].key != NULL && !held(&ad->v, sets->v[i].item)) {
            batch_add(&ad->bs, sets->v[i].key, sets->v[i].nkey, sets->v[i].item, NULL);
            ad->tails = 1;
        }
    if (!ad->tails)
        return 0;
    size_t natoms_old = derive_natoms(qa->sys[SYS_SURV]);
    uint32_t *old = xmalloc((qa->nrows ? qa->nrows : 1) * sizeof *old);
    for (size_t r = 0; r < qa->nrows; r++)
        old[r] = derive_atom_of(qa->sys[SYS_SURV], (uint32_t)r);
    int rc = batch_admit(qa->sys[SYS_SURV], &ad->bs, &ad->v, err) != 0 ? -1
        : cut_strata(qa, db, sets, old, natoms_old, &ad->v) != 0 ? -2 : 0;
    free(old);
    return rc;
}

/* 3. FULL: what the released items really count. */
static int
decide_full(struct qaudit *qa, const struct node_kind *k, struct admission *ad, char *err)
{
    struct qaudit_sets *sets = &ad->sets;
    for (size_t i = 0; i < sets->n; i++) {
        const struct cand *c = &sets->v[i];
        if (c->keyonly || held(&ad->v, c->item))
            continue;
        size_t nfull;
        const uint32_t *full = cand_full(c, &nfull);
        batch_add(&ad->bf, full, nfull, c->item, NULL);
    }
    if (batch_admit(qa->sys[SYS_FULL], &ad->bf, &ad->v, err) != 0)
        return -1;
    /* A kind that cannot withhold a part: whatever is not released refuses it (fail closed). */
    for (size_t i = 0; i < ad->v.nitems && k->withhold == NULL; i++)
        ad->v.whole |= ad->v.held[i];
    for (size_t i = 0; i < sets->n && k->withhold == NULL; i++)
        ad->v.whole |= sets->v[i].tcol != NULL && sets->v[i].cut != INT32_MAX;
    return 0;
}

/*
 * Store the admitted sets, pending; then the capacity of the stored history
 * (fail closed).  NULL, or the refusal class with err (the systems and the
 * store rolled back).
 */
static const char *
store_admission(struct qaudit *qa, sqlite3 *db, struct admission *ad, const char *analyst,
    const char *query_id, int64_t now_ms, char *err)
{
    qa->pending_stored = 0;
    if (store_pending(qa, db, &ad->bk, &ad->bs, &ad->bf, analyst, query_id, now_ms) != 0) {
        const char *code = db_fail(db, err);
        rollback_systems(qa);
        return code;
    }
    const char *code = NULL;
    if (ad->tails && store_cuts(qa, db, &ad->sets, &ad->v) != 0)
        code = db_fail(db, err);
    else if (qa->stored + qa->pending_stored > qa->max_sets) {
        errf(err, "the disclosure auditor is full (%llu of %llu stored sets); new queries "
            "are refused until the node's data is re-imported or the history is reviewed",
            (unsigned long long)qa->stored, (unsigned long long)qa->max_sets);
        code = "capacity";
    }
    if (code != NULL) {
        qa->pending = 1;
        qaudit_rollback(qa, db);
    }
    return code;
}

/* The verdicts become the answer: withheld items and cut tables; the query is pending. */
static void
apply_verdicts(struct qaudit *qa, const struct node_kind *k, struct node_answer *ans,
    const struct admission *ad)
{
    for (size_t i = 0; i < ad->v.nitems; i++)
        if (ad->v.held[i])
            k->withhold(ans, (long)i, QAUDIT_ALL);
    for (size_t i = 0; i < ad->sets.n; i++)
        if (ad->sets.v[i].tcol != NULL && !held(&ad->v, ad->sets.v[i].item) &&
            ad->sets.v[i].cut != INT32_MAX)
            k->withhold(ans, ad->sets.v[i].item, ad->sets.v[i].cut);
    qa->pending = 1;
    for (size_t i = 0; i < ad->bs.cnt; i++)
        if (ad->bs.kept[i]) {
            qa->surv_rows = xreallocarray(qa->surv_rows, qa->nsurv + 1, sizeof *qa->surv_rows);
            qa->surv_n = xreallocarray(qa->surv_n, qa->nsurv + 1, sizeof *qa->surv_n);
            qa->surv_rows[qa->nsurv] = dup_rows(ad->bs.rows[i], ad->bs.n[i]);
            qa->surv_n[qa->nsurv++] = ad->bs.n[i];
        }
}

const char *
qaudit_admit(struct qaudit *qa, sqlite3 *db, const struct snapshot *snap,
    const struct node_kind *k, const struct disclose_policy *policy, const Fedra__QuerySpec *spec, struct node_answer *ans,
    const char *analyst, const char *query_id, int64_t now_ms, char *err)
{
    if (qa->pending) {
        errf(err, "disclosure auditor: a query is still pending");
        return "internal";
    }
    if (k->sets == NULL)
        return NULL;
    struct admission ad = {0};
    k->sets(snap, policy, spec, ans, &ad.sets);
    if (ad.sets.n == 0) {
        sets_release(&ad.sets);
        return NULL;                /* nothing released about any patient (ping) */
    }
    sort_cands(&ad.sets);
    for (size_t i = 0; i < ad.sets.n; i++)
        if (ad.sets.v[i].item >= 0 && (size_t)ad.sets.v[i].item + 1 > ad.v.nitems)
            ad.v.nitems = (size_t)ad.sets.v[i].item + 1;
    ad.v.held = xcalloc(ad.v.nitems ? ad.v.nitems : 1, 1);

    const char *code = NULL;
    int rc = decide_key(qa, &ad, err);
    if (rc == 0 && !ad.v.whole)
        rc = decide_surv(qa, db, &ad, err);
    if (rc == 0 && !ad.v.whole)
        rc = decide_full(qa, k, &ad, err);
    if (rc == -1)
        code = "capacity";
    else if (rc == -2)
        code = db_fail(db, err);
    else if (ad.v.whole) {
        errf(err, "differencing: together with answers released before (to any analyst, of "
            "any kind), this query would let 1 to %u patients be counted by adding and "
            "subtracting answers (disclosure auditor, docs/disclosure.md §6)", qa->k - 1);
        code = "differencing";
    }
    if (code != NULL)
        rollback_systems(qa);
    else if ((code = store_admission(qa, db, &ad, analyst, query_id, now_ms, err)) == NULL)
        apply_verdicts(qa, k, ans, &ad);
    admission_free(&ad);
    return code;
}

void
qaudit_commit(struct qaudit *qa)
{
    if (qa == NULL || !qa->pending)
        return;
    for (int s = 0; s < SYS_N; s++)
        if (derive_pending(qa->sys[s]))
            derive_commit(qa->sys[s]);
    for (size_t i = 0; i < qa->nsurv; i++) {
        for (size_t j = 0; j < qa->surv_n[i]; j++)
            qa->in_surv[qa->surv_rows[i][j]] = 1;
        free(qa->surv_rows[i]);
    }
    qa->nsurv = 0;
    qa->stored += qa->pending_stored;
    qa->pending_stored = 0;
    qa->pending = 0;
}

void
qaudit_rollback(struct qaudit *qa, sqlite3 *db)
{
    if (qa == NULL || !qa->pending)
        return;
    rollback_systems(qa);
    for (size_t i = 0; i < qa->nsurv; i++)
        free(qa->surv_rows[i]);
    qa->nsurv = 0;
    qa->pending_stored = 0;
    qa->pending = 0;
    /* The stored sets of the query not sent; if this fails they stay (fail closed). */
    static const char *const del[2] = {
        "DELETE FROM qaudit_release WHERE data_hash = ? AND seq = ?",
        "DELETE FROM qaudit_cut WHERE data_hash = ? AND seq = ?"};
    for (int t = 0; t < 2; t++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, del[t], -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, qa->data_hash, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, qa->seq);
            sqlite3_step(st);
            sqlite3_finalize(st);
        }
    }
}
