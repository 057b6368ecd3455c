/*
 * relaylog - see relaylog.h.
 */
#include "hub/relaylog.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "certs/pki.h"
#include "lib/util.h"

#define RELAYLOG_CONTEXT "fedra-relay-v1"

static const char relaylog_schema[] =
    "CREATE TABLE IF NOT EXISTS relay("
    " seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL,"
    " analyst TEXT NOT NULL, route_id BLOB, query_hash BLOB, node TEXT NOT NULL,"
    " answer_hash BLOB, size INTEGER NOT NULL, note TEXT NOT NULL,"
    " prev_hash BLOB NOT NULL, entry_hash BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS relay_ts ON relay(ts_ms);"
    "CREATE TRIGGER IF NOT EXISTS relay_no_update BEFORE UPDATE ON relay"
    " BEGIN SELECT RAISE(ABORT, 'the relay log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS relay_no_delete BEFORE DELETE ON relay"
    " BEGIN SELECT RAISE(ABORT, 'the relay log is append-only'); END;"
    /* Pooled release: what the hub kept to recompute a release (relay_event.blob). */
    "CREATE TABLE IF NOT EXISTS relay_blob(seq INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS relay_blob_no_update BEFORE UPDATE ON relay_blob"
    " BEGIN SELECT RAISE(ABORT, 'the relay log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS relay_blob_no_delete BEFORE DELETE ON relay_blob"
    " BEGIN SELECT RAISE(ABORT, 'the relay log is append-only'); END;";

struct relaylog {
    sqlite3 *db;
    sqlite3_stmt *ins;
    sqlite3_stmt *head_st;          /* the last entry: prepared once (a route appends many) */
    sqlite3_stmt *blob_ins;         /* a pooled blob: prepared once (a fit keeps one a share) */
    int in_txn;
    int64_t seq;                    /* the head, read when a transaction opens */
    uint8_t head[32];
};

/* The fields an entry's hash covers, as stored (a blob absent is length 0). */
struct entry {
    int64_t seq, ts_ms;
    const char *kind, *analyst, *node, *note;
    const uint8_t *rid, *qh, *ah;
    size_t rid_len, qh_len, ah_len;
    uint64_t size;
};

static void
be(struct buf *b, uint64_t v, int bytes)
{
    uint8_t *p = buf_extend(b, (size_t)bytes);
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static void
lp(struct buf *b, const void *p, size_t n)
{
    be(b, n, 4);
    if (n > 0)
        buf_append(b, p, n);
}

static void
entry_hash(const uint8_t prev[32], const struct entry *e, uint8_t out[32])
{
    struct buf b = {0};
    buf_append(&b, RELAYLOG_CONTEXT, sizeof RELAYLOG_CONTEXT);     /* with its NUL */
    buf_append(&b, prev, 32);
    be(&b, (uint64_t)e->seq, 8);
    be(&b, (uint64_t)e->ts_ms, 8);
    lp(&b, e->kind, strlen(e->kind));
    lp(&b, e->analyst, strlen(e->analyst));
    lp(&b, e->rid, e->rid_len);
    lp(&b, e->qh, e->qh_len);
    lp(&b, e->node, strlen(e->node));
    lp(&b, e->ah, e->ah_len);
    be(&b, e->size, 8);
    lp(&b, e->note, strlen(e->note));
    pki_sha256(b.p, b.len, out);
    buf_release(&b);
}

int
relaylog_open(const char *path, int readonly, struct relaylog **out, char *err)
{
    sqlite3 *db = NULL;
    *out = NULL;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        errf(err, "cannot open the relay log '%s': %s", path, db ? sqlite3_errmsg(db)
            : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, RELAYLOG_BUSY_TIMEOUT_MS);
    if (!readonly && (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK
        || sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, relaylog_schema, NULL, NULL, NULL) != SQLITE_OK)) {
        errf(err, "cannot set up the relay log '%s': %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    struct relaylog *l = xcalloc(1, sizeof *l);
    l->db = db;
    if (!readonly && (sqlite3_prepare_v2(db, "INSERT INTO relay(seq, ts_ms, kind, analyst, "
            "route_id, query_hash, node, answer_hash, size, note, prev_hash, entry_hash) "
            "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", -1, &l->ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT seq, entry_hash FROM relay ORDER BY seq DESC LIMIT 1",
            -1, &l->head_st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO relay_blob(seq, data) VALUES(?,?)", -1,
            &l->blob_ins, NULL) != SQLITE_OK)) {
        errf(err, "cannot prepare the relay log '%s': %s", path, sqlite3_errmsg(db));
        relaylog_close(l);
        return -1;
    }
    *out = l;
    return 0;
}

void
relaylog_close(struct relaylog *l)
{
    if (l == NULL)
        return;
    char err[FEDRA_ERRLEN];
    relaylog_commit(l, err);
    sqlite3_finalize(l->ins);
    sqlite3_finalize(l->head_st);
    sqlite3_finalize(l->blob_ins);
    sqlite3_close(l->db);
    free(l);
}

/* Open a transaction and read the head inside it (another writer may have appended). */
static int
begin(struct relaylog *l, char *err)
{
    sqlite3_stmt *st = l->head_st;
    if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return errf(err, "relay log: cannot begin: %s", sqlite3_errmsg(l->db));
    l->in_txn = 1;
    l->seq = 0;
    memset(l->head, 0, sizeof l->head);
    sqlite3_reset(st);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        l->seq = sqlite3_column_int64(st, 0);
        if (sqlite3_column_bytes(st, 1) == 32)
            memcpy(l->head, sqlite3_column_blob(st, 1), 32);
    }
    sqlite3_reset(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return errf(err, "relay log: cannot read its head: %s", sqlite3_errmsg(l->db));
    return 0;
}

int
relaylog_append(struct relaylog *l, const struct relay_event *ev, char *err)
{
    if (l->ins == NULL)
        return errf(err, "the relay log is open read-only");
    if (!l->in_txn && begin(l, err) != 0)
        return -1;
    char analyst[RELAYLOG_MAX_TEXT + 1], node[RELAYLOG_MAX_TEXT + 1], note[RELAYLOG_MAX_TEXT + 1];
    snprintf(analyst, sizeof analyst, "%s", ev->analyst ? ev->analyst : "");
    snprintf(node, sizeof node, "%s", ev->node ? ev->node : "");
    snprintf(note, sizeof note, "%s", ev->note ? ev->note : "");
    struct entry e = {
        .seq = l->seq + 1, .ts_ms = ev->ts_ms, .kind = ev->kind, .analyst = analyst,
        .node = node, .note = note,
        .rid = ev->route_id, .rid_len = ev->route_id ? WIRE_QUERY_ID_LEN : 0,
        .qh = ev->query_hash, .qh_len = ev->query_hash ? WIRE_HASH_LEN : 0,
        .ah = ev->answer_hash, .ah_len = ev->answer_hash ? 32 : 0,
        .size = ev->size,
    };
    uint8_t h[32];
    entry_hash(l->head, &e, h);
    sqlite3_stmt *st = l->ins;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, e.seq);
    sqlite3_bind_int64(st, 2, e.ts_ms);
    sqlite3_bind_text(st, 3, e.kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e.analyst, -1, SQLITE_STATIC);
    if (e.rid)
        sqlite3_bind_blob(st, 5, e.rid, (int)e.rid_len, SQLITE_STATIC);
    if (e.qh)
        sqlite3_bind_blob(st, 6, e.qh, (int)e.qh_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, e.node, -1, SQLITE_STATIC);
    if (e.ah)
        sqlite3_bind_blob(st, 8, e.ah, (int)e.ah_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, (int64_t)e.size);
    sqlite3_bind_text(st, 10, e.note, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 11, l->head, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 12, h, 32, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        errf(err, "relay log: cannot append: %s", sqlite3_errmsg(l->db));
        sqlite3_reset(st);
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        l->in_txn = 0;
        return -1;
    }
    sqlite3_reset(st);
    if (ev->blob != NULL) {
        sqlite3_stmt *b = l->blob_ins;
        sqlite3_reset(b);
        sqlite3_bind_int64(b, 1, e.seq);
        sqlite3_bind_blob(b, 2, ev->bloblen ? ev->blob : (const uint8_t *)"", (int)ev->bloblen,
            SQLITE_STATIC);
        int ok = sqlite3_step(b) == SQLITE_DONE;
        sqlite3_reset(b);
        sqlite3_clear_bindings(b);
        if (!ok) {
            errf(err, "relay log: cannot keep a pooled blob: %s", sqlite3_errmsg(l->db));
            sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
            l->in_txn = 0;
            return -1;
        }
    }
    l->seq = e.seq;
    memcpy(l->head, h, 32);
    return 0;
}

int
relaylog_commit(struct relaylog *l, char *err)
{
    if (!l->in_txn)
        return 0;
    l->in_txn = 0;
    if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        errf(err, "relay log: cannot commit: %s", sqlite3_errmsg(l->db));
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* The entry of the row st is on (columns as relaylog_verify selects them). */
static void
row_entry(sqlite3_stmt *st, struct entry *e)
{
    e->seq = sqlite3_column_int64(st, 0);
    e->ts_ms = sqlite3_column_int64(st, 1);
    e->kind = col_text(st, 2);
    e->analyst = col_text(st, 3);
    e->rid = sqlite3_column_blob(st, 4);
    e->rid_len = (size_t)sqlite3_column_bytes(st, 4);
    e->qh = sqlite3_column_blob(st, 5);
    e->qh_len = (size_t)sqlite3_column_bytes(st, 5);
    e->node = col_text(st, 6);
    e->ah = sqlite3_column_blob(st, 7);
    e->ah_len = (size_t)sqlite3_column_bytes(st, 7);
    e->size = (uint64_t)sqlite3_column_int64(st, 8);
    e->note = col_text(st, 9);
}

#define RELAYLOG_SELECT "SELECT seq, ts_ms, kind, analyst, route_id, query_hash, node, " \
    "answer_hash, size, note, prev_hash, entry_hash, (SELECT data FROM relay_blob b " \
    "WHERE b.seq = relay.seq) FROM relay ORDER BY seq"

int
relaylog_verify(struct relaylog *l, uint64_t *entries, char *err)
{
    sqlite3_stmt *st = NULL;
    uint8_t prev[32] = {0}, h[32];
    int64_t expect = 1;
    int rc = 0, s;
    *entries = 0;
    if (sqlite3_prepare_v2(l->db, RELAYLOG_SELECT, -1, &st, NULL) != SQLITE_OK)
        return errf(err, "cannot read the relay log: %s", sqlite3_errmsg(l->db));
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        struct entry e;
        row_entry(st, &e);
        if (e.seq != expect) {
            rc = errf(err, "relay log broken at seq %lld: expected entry %lld (entries %s)",
                (long long)e.seq, (long long)expect, e.seq > expect ? "deleted" : "reordered");
            break;
        }
        if (sqlite3_column_bytes(st, 10) != 32 || memcmp(sqlite3_column_blob(st, 10), prev, 32)) {
            rc = errf(err, "relay log broken at seq %lld: prev_hash is not entry %lld's hash "
                "(entries deleted, reordered or rewritten)", (long long)e.seq,
                (long long)e.seq - 1);
            break;
        }
        entry_hash(prev, &e, h);
        if (sqlite3_column_bytes(st, 11) != 32 || memcmp(sqlite3_column_blob(st, 11), h, 32)) {
            rc = errf(err, "relay log broken at seq %lld: the entry does not match its hash "
                "(edited)", (long long)e.seq);
            break;
        }
        /* A kept blob is bound to the chain through its entry's answer_hash. */
        if (sqlite3_column_type(st, 12) != SQLITE_NULL) {
            uint8_t bh[32];
            pki_sha256(sqlite3_column_blob(st, 12), (size_t)sqlite3_column_bytes(st, 12), bh);
            if (e.ah_len != 32 || memcmp(bh, e.ah, 32) != 0) {
                rc = errf(err, "relay log broken at seq %lld: its kept data does not match the "
                    "hash the entry records (edited)", (long long)e.seq);
                break;
            }
        }
        memcpy(prev, h, 32);
        expect++;
        (*entries)++;
    }
    if (rc != 0)
        rc = 1;
    else if (s != SQLITE_DONE)
        rc = errf(err, "cannot read the relay log: %s", sqlite3_errmsg(l->db));
    sqlite3_finalize(st);
    return rc;
}

static void
set_hex(json_t *o, const char *k, const uint8_t *p, size_t n)
{
    if (p == NULL || n == 0)
        return;
    char *hex = xmalloc(2 * n + 1);
    util_hex(p, n, hex);
    json_object_set_new(o, k, json_string(hex));
    free(hex);
}

int
relaylog_export(struct relaylog *l, FILE *out, char *err)
{
    sqlite3_stmt *st = NULL;
    int s;
    if (sqlite3_prepare_v2(l->db, RELAYLOG_SELECT, -1, &st, NULL) != SQLITE_OK)
        return errf(err, "cannot read the relay log: %s", sqlite3_errmsg(l->db));
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        struct entry e;
        row_entry(st, &e);
        json_t *o = json_object();
        json_object_set_new(o, "seq", json_integer(e.seq));
        json_object_set_new(o, "ts_ms", json_integer(e.ts_ms));
        json_object_set_new(o, "kind", json_string(e.kind));
        json_object_set_new(o, "analyst", json_string(e.analyst));
        set_hex(o, "route_id", e.rid, e.rid_len);
        set_hex(o, "query_hash", e.qh, e.qh_len);
        json_object_set_new(o, "node", json_string(e.node));
        set_hex(o, "answer_sha256", e.ah, e.ah_len);
        json_object_set_new(o, "size", json_integer((json_int_t)e.size));
        json_object_set_new(o, "note", json_string(e.note));
        set_hex(o, "entry_hash", sqlite3_column_blob(st, 11),
            (size_t)sqlite3_column_bytes(st, 11));
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(out, "%s\n", line ? line : "{}");
        free(line);
        json_decref(o);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return errf(err, "cannot read the relay log: %s", sqlite3_errmsg(l->db));
    return 0;
}

int
relaylog_counts(struct relaylog *l, int64_t since_ms,
    void (*cb)(const char *kind, uint64_t n, void *arg), void *arg, char *err)
{
    sqlite3_stmt *st = NULL;
    int s;
    if (sqlite3_prepare_v2(l->db, "SELECT kind, count(*) FROM relay WHERE ts_ms >= ?1 "
            "GROUP BY kind ORDER BY kind", -1, &st, NULL) != SQLITE_OK)
        return errf(err, "cannot read the relay log: %s", sqlite3_errmsg(l->db));
    sqlite3_bind_int64(st, 1, since_ms);
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        cb(col_text(st, 0), (uint64_t)sqlite3_column_int64(st, 1), arg);
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return errf(err, "cannot read the relay log: %s", sqlite3_errmsg(l->db));
    return 0;
}

int
relaylog_pooled(struct relaylog *l, const uint8_t route_id[WIRE_QUERY_ID_LEN],
    void (*cb)(const char *kind, const char *node, int64_t ts_ms, const uint8_t *data,
        size_t len, void *arg), void *arg, char *err)
{
    sqlite3_stmt *st = NULL;
    int s;
    if (sqlite3_prepare_v2(l->db, "SELECT r.kind, r.node, r.ts_ms, b.data FROM relay r JOIN "
            "relay_blob b ON b.seq = r.seq WHERE r.route_id = ?1 ORDER BY r.seq", -1, &st,
            NULL) != SQLITE_OK)
        return errf(err, "cannot read the relay log: %s", sqlite3_errmsg(l->db));
    sqlite3_bind_blob(st, 1, route_id, WIRE_QUERY_ID_LEN, SQLITE_STATIC);
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        cb(col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2),
            sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3), arg);
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return errf(err, "cannot read the relay log: %s", sqlite3_errmsg(l->db));
    return 0;
}
