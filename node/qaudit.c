/*
 * qaudit - see qaudit.h.
 *
 * Cost per query: one pass over the snapshot rows that pass the filter, a
 * (linear, radix) sort of (group key, row) pairs, and per new set one indexed lookup of the
 * remembered sets of nearly the same size, each compared by a merge walk
 * that stops at min_cell differences.  Storage: 4 bytes per row of each
 * distinct released set.
 */
#include "node/qaudit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "certs/pki.h"
#include "lib/util.h"
#include "node/kind.h"
#include "node/select.h"

static const char qaudit_schema[] =
    "CREATE TABLE IF NOT EXISTS qaudit_set(id INTEGER PRIMARY KEY, data_hash TEXT NOT NULL, "
    "set_hash BLOB NOT NULL, n INTEGER NOT NULL, rows BLOB NOT NULL, analyst TEXT NOT NULL, "
    "query_id TEXT NOT NULL, at_ms INTEGER NOT NULL, UNIQUE(data_hash, set_hash));"
    "CREATE INDEX IF NOT EXISTS qaudit_set_n ON qaudit_set(data_hash, n);";

struct qset {
    uint32_t *rows;                 /* ascending snapshot row indices */
    size_t n;
    uint8_t hash[32];
    int stored;                     /* already remembered (a repeat) */
    char label[QAUDIT_MAX_LABEL];
};

struct qaudit_sets {
    struct qset *v;
    size_t n, cap;
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

static struct qset *
sets_add(struct qaudit_sets *s, uint32_t *rows, size_t n)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
    }
    struct qset *q = &s->v[s->n++];
    memset(q, 0, sizeof *q);
    q->rows = rows;
    q->n = n;
    pki_sha256(rows, n * sizeof *rows, q->hash);
    return q;
}

static void
sets_release(struct qaudit_sets *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].rows);
    free(s->v);
}

/*
 * The spec's grouping variables.  Returns their number, or -1 if the spec
 * is one the executor refuses anyway (then there is nothing to audit).
 */
static int
group_vars(const Fedra__QuerySpec *spec, enum var_id by[SNAP_MAX_GROUP])
{
    size_t nby = spec->n_group_by;
    if (nby > SNAP_MAX_GROUP)
        return -1;
    for (size_t k = 0; k < nby; k++) {
        const struct var_def *d = vars_find(spec->group_by[k]);
        if (d == NULL)
            return -1;
        by[k] = d->id;
    }
    return (int)nby;
}

/*
 * Sums of released groups are released too, and a margin of a table minus
 * the released cells of its row is the row's suppressed part.  So for every
 * proper subset of the grouping variables (the empty one being the total)
 * the union of the released cells that share those levels is a set as well:
 * at most 2^SNAP_MAX_GROUP - 1 more sets.  Arbitrary other unions of cells
 * are not enumerated (docs/query-set-auditor.md).
 */
static void
add_margins(const struct snapshot *snap, const enum var_id *by, int nby, struct qaudit_sets *out,
    size_t ngroups)
{
    size_t total = 0;
    for (size_t g = 0; g < ngroups; g++)
        total += out->v[g].n;
    struct pair *p = xmalloc((total ? total : 1) * sizeof *p);
    /* The released rows in ascending order, each with its group: then every
     * margin's pairs come out row-ascending and sort on their key alone. */
    uint32_t *group_of = xcalloc(snap->n ? snap->n : 1, sizeof *group_of);   /* g + 1; 0: none */
    for (size_t g = 0; g < ngroups; g++)
        for (size_t j = 0; j < out->v[g].n; j++)
            group_of[out->v[g].rows[j]] = (uint32_t)g + 1;
    uint32_t *row_g = xmalloc((total ? 2 * total : 1) * sizeof *row_g);
    size_t nr = 0;
    for (size_t r = 0; r < snap->n; r++)
        if (group_of[r]) {
            row_g[2 * nr] = (uint32_t)r;
            row_g[2 * nr + 1] = group_of[r] - 1;
            nr++;
        }
    free(group_of);
    /* Each group's key and cell for the margin's variables, worked out once a group. */
    uint64_t *gkey = xcalloc(ngroups, sizeof *gkey);
    uint32_t *gcell = xcalloc(ngroups, sizeof *gcell);
    for (unsigned mask = 0; mask + 1 < (1u << nby); mask++) {
        size_t np = 0;
        uint32_t ncells = dense_cells(snap, by, nby, mask);
        for (size_t g = 0; g < ngroups; g++) {
            uint32_t r0 = out->v[g].rows[0];
            gkey[g] = 0;
            gcell[g] = 0;
            for (int k = 0; k < nby; k++)
                if (mask & (1u << k)) {
                    uint16_t c = snap->code[by[k]][r0];
                    ncells = c < snap->ncodes[by[k]] ? ncells : 0;
                    gkey[g] = gkey[g] << 16 | c;
                    gcell[g] = gcell[g] * (snap->ncodes[by[k]] ? snap->ncodes[by[k]] : 1) + c;
                }
        }
        for (size_t j = 0; j < nr; j++) {
            uint32_t g = row_g[2 * j + 1];
            p[np++] = (struct pair){gkey[g], row_g[2 * j], gcell[g]};
        }
        if (ncells)
            sort_pairs_dense(p, np, ncells);
        else
            sort_pairs(p, np);
        for (size_t a = 0, b; a < np; a = b) {
            for (b = a; b < np && p[b].key == p[a].key; b++)
                ;
            uint32_t *rows = xcalloc(b - a, sizeof *rows);
            for (size_t j = a; j < b; j++)
                rows[j - a] = p[j].row;
            struct qset *q = sets_add(out, rows, b - a);
            int len = 0;
            for (int k = 0; k < nby && len < (int)sizeof q->label; k++) {
                if (!(mask & (1u << k)))
                    continue;
                char tmp[16];
                uint16_t c = snap->code[by[k]][rows[0]];
                len += snprintf(q->label + len, sizeof q->label - (size_t)len, "%s%s=%s",
                    len ? ", " : "", vars_get(by[k])->name, snapshot_level(snap, by[k], c, tmp));
            }
            if (len >= (int)sizeof q->label)
                len = (int)sizeof q->label - 1;
            snprintf(q->label + len, sizeof q->label - (size_t)len, "%s",
                len ? ": its released cells together" : "all released groups together");
        }
    }
    free(gkey);
    free(gcell);
    free(row_g);
    free(p);
}

/*
 * Add the groups that the rows selected by spec's filter form over
 * by[0..nby-1] (rows missing any of them belong to none), leaving out
 * groups of fewer than `least` rows; with two or more groups, their
 * margins too (add_margins).
 */
static void
collect(const struct snapshot *snap, const Fedra__QuerySpec *spec, const enum var_id *by,
    int nby, uint32_t least, struct qaudit_sets *out)
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
    size_t ngroups = 0;
    for (size_t a = 0, b; a < np; a = b) {
        for (b = a; b < np && p[b].key == p[a].key; b++)
            ;
        if (b - a < least)
            continue;
        uint32_t *rows = xcalloc(b - a, sizeof *rows);
        for (size_t j = a; j < b; j++)
            rows[j - a] = p[j].row;
        struct qset *q = sets_add(out, rows, b - a);
        int len = 0;
        for (int k = 0; k < nby && len < (int)sizeof q->label; k++) {
            char tmp[16];
            uint16_t c = (uint16_t)(p[a].key >> (16 * (nby - 1 - k)));
            len += snprintf(q->label + len, sizeof q->label - (size_t)len, "%s%s=%s",
                k ? ", " : "", vars_get(by[k])->name, snapshot_level(snap, by[k], c, tmp));
        }
        if (nby == 0)
            snprintf(q->label, sizeof q->label, "all selected patients");
        ngroups++;
    }
    free(p);
    if (ngroups >= 2)
        add_margins(snap, by, nby, out, ngroups);
}

void
qaudit_sets_groups(struct qaudit_sets *out, const struct snapshot *snap,
    const Fedra__QuerySpec *spec, uint32_t least)
{
    enum var_id by[SNAP_MAX_GROUP];
    int nby = group_vars(spec, by);
    if (nby >= 0)
        collect(snap, spec, by, nby, least, out);
}

void
qaudit_sets_cohort(struct qaudit_sets *out, const struct snapshot *snap,
    const Fedra__QuerySpec *spec)
{
    collect(snap, spec, NULL, 0, 1, out);
}

/* |a xor b|, counting no further than cap. */
static size_t
symdiff(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t cap)
{
    size_t i = 0, j = 0, d = 0;
    while (d < cap && (i < na || j < nb)) {
        if (j == nb || (i < na && a[i] < b[j])) {
            d++;
            i++;
        } else if (i == na || b[j] < a[i]) {
            d++;
            j++;
        } else {
            i++;
            j++;
        }
    }
    return d;
}

static const char *
db_fail(sqlite3 *db, char *err)
{
    errf(err, "query-set auditor: %s", sqlite3_errmsg(db));
    return "internal";
}

/* Compare one new set with the remembered sets of nearly its size. */
static const char *
compare(sqlite3 *db, sqlite3_stmt *st, const char *data_hash, const struct qset *q, uint32_t k,
    const char *analyst, char *err)
{
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, data_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)q->n - (int64_t)(k - 1));
    sqlite3_bind_int64(st, 3, (int64_t)q->n + (int64_t)(k - 1));
    const char *code = NULL;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        /* The blob may sit at any address in SQLite's page: copy to aligned memory. */
        size_t nr = (size_t)sqlite3_column_bytes(st, 0) / sizeof(uint32_t);
        uint32_t *rows = xcalloc(nr ? nr : 1, sizeof *rows);
        if (nr > 0)
            memcpy(rows, sqlite3_column_blob(st, 0), nr * sizeof *rows);
        size_t d = symdiff(q->rows, q->n, rows, nr, k);
        free(rows);
        if (d >= 1 && d < k) {
            const char *who = (const char *)sqlite3_column_text(st, 1);
            char when[32];
            time_t t = (time_t)(sqlite3_column_int64(st, 3) / 1000);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
            errf(err, "differencing: the group (%s) of this query and a group released "
                "earlier (%s, query %.8s at %s) differ by 1 to %u patients; releasing both "
                "would reveal those patients by subtraction (query-set auditor, "
                "docs/query-set-auditor.md)", q->label,
                who && strcmp(who, analyst) == 0 ? "to you" : "to another analyst",
                (const char *)sqlite3_column_text(st, 2), when, k - 1);
            code = "differencing";
            break;
        }
    }
    if (code == NULL && s != SQLITE_DONE)
        code = db_fail(db, err);
    sqlite3_reset(st);
    return code;
}

static int
is_stored(sqlite3_stmt *st, const char *data_hash, const struct qset *q)
{
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, data_hash, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, q->hash, sizeof q->hash, SQLITE_STATIC);
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    return s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
}

static const char *
remember(sqlite3 *db, const char *data_hash, const struct qaudit_sets *sets, const char *analyst,
    const char *query_id, int64_t now_ms, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, err);
    /* Row indices mean nothing once the data changed: drop the old history. */
    if (sqlite3_prepare_v2(db, "DELETE FROM qaudit_set WHERE data_hash < ?1 OR data_hash > ?1",
            -1, &st, NULL)
            != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, data_hash, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO qaudit_set(data_hash, set_hash, n, rows, "
            "analyst, query_id, at_ms) VALUES(?,?,?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < sets->n; i++) {
        const struct qset *q = &sets->v[i];
        if (q->stored)
            continue;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, data_hash, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, q->hash, sizeof q->hash, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)q->n);
        sqlite3_bind_blob(st, 4, q->rows, (int)(q->n * sizeof *q->rows), SQLITE_STATIC);
        sqlite3_bind_text(st, 5, analyst, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, query_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, now_ms);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return NULL;
fail:
    db_fail(db, err);
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return "internal";
}

const char *
qaudit_admit(sqlite3 *db, const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, const char *analyst, const char *query_id, int64_t now_ms,
    uint64_t max_sets, char *err)
{
    if (spec == NULL)
        return NULL;
    /* What the query releases, as the kind's registry row says (node/kind.h). */
    const struct node_kind *k = node_kind_get(spec->kind);
    if (k == NULL) {
        errf(err, "query-set auditor: query kind %d has no row in the registry", (int)spec->kind);
        return "internal";
    }
    struct qaudit_sets sets = {0};
    k->sets(snap, policy, spec, &sets);
    if (sets.n == 0)
        return NULL;                /* nothing released about any patient (ping) */
    /*
     * Two statements run once per released set: each is prepared once per
     * query.  The tables are created by the first query that finds them
     * missing, not re-declared by every one.
     */
    static const char seen_sql[] = "SELECT 1 FROM qaudit_set WHERE data_hash = ? AND "
        "set_hash = ?";
    static const char near_sql[] = "SELECT rows, analyst, query_id, at_ms FROM qaudit_set "
        "WHERE data_hash = ? AND n BETWEEN ? AND ?";
    sqlite3_stmt *seen = NULL, *near = NULL;
    if (sqlite3_prepare_v2(db, seen_sql, -1, &seen, NULL) != SQLITE_OK &&
        (sqlite3_exec(db, qaudit_schema, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, seen_sql, -1, &seen, NULL) != SQLITE_OK)) {
        sets_release(&sets);
        return db_fail(db, err);
    }
    const char *data_hash = snap->meta.hash;
    const char *code = NULL;
    size_t fresh = 0;
    for (size_t i = 0; i < sets.n && code == NULL; i++) {
        int s = is_stored(seen, data_hash, &sets.v[i]);
        if (s < 0)
            code = db_fail(db, err);
        else if (s == 1)
            sets.v[i].stored = 1;       /* a repeat: compared when it was first released */
        else {
            fresh++;
            if (policy->min_cell <= 1)
                continue;
            if (near == NULL && sqlite3_prepare_v2(db, near_sql, -1, &near, NULL) != SQLITE_OK)
                code = db_fail(db, err);
            else
                code = compare(db, near, data_hash, &sets.v[i], policy->min_cell, analyst, err);
        }
    }
    sqlite3_finalize(seen);
    sqlite3_finalize(near);
    if (code == NULL && fresh > 0) {
        sqlite3_stmt *st;
        int64_t have = 0;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM qaudit_set WHERE data_hash = ?", -1,
                &st, NULL) != SQLITE_OK)
            code = db_fail(db, err);
        else {
            sqlite3_bind_text(st, 1, data_hash, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                have = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
            if ((uint64_t)have + fresh > max_sets) {
                errf(err, "query-set auditor is full (%lld of %llu remembered groups); "
                    "new queries are refused until the node's data is re-imported or the "
                    "history is reviewed", (long long)have, (unsigned long long)max_sets);
                code = "capacity";
            }
        }
    }
    if (code == NULL && fresh > 0)
        code = remember(db, data_hash, &sets, analyst, query_id, now_ms, err);
    sets_release(&sets);
    return code;
}
