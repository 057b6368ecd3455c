/*
 * audit - see audit.h.
 */
#include "node/audit.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "lib/util.h"

#define AUDIT_CONTEXT "fedra-audit-v1"

static void
put_be(EVP_MD_CTX *m, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    EVP_DigestUpdate(m, b, (size_t)bytes);
}

static void
put_lp(EVP_MD_CTX *m, const void *p, size_t n)
{
    put_be(m, n, 4);
    if (n)
        EVP_DigestUpdate(m, p, n);
}

static void
entry_hash(const uint8_t prev[32], int64_t seq, int64_t ts, const char *event,
    const char *qid, const char *signer, const char *reason, const void *query,
    size_t qlen, const void *rhash, size_t rlen, uint8_t out[32])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int len = 32;
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    EVP_DigestUpdate(m, AUDIT_CONTEXT, sizeof AUDIT_CONTEXT); /* includes the NUL */
    EVP_DigestUpdate(m, prev, 32);
    put_be(m, (uint64_t)seq, 8);
    put_be(m, (uint64_t)ts, 8);
    put_lp(m, event, strlen(event));
    put_lp(m, qid, strlen(qid));
    put_lp(m, signer, strlen(signer));
    put_lp(m, reason, strlen(reason));
    put_lp(m, query, qlen);
    put_lp(m, rhash, rlen);
    EVP_DigestFinal_ex(m, out, &len);
    EVP_MD_CTX_free(m);
}

#define HEAD_SQL "SELECT seq, entry_hash FROM audit ORDER BY seq DESC LIMIT 1"

/* The last entry in h (seq 0 and zero hash if the log is empty), by st (HEAD_SQL), reset after. */
static int
head_of(sqlite3_stmt *st, struct audit_head *h)
{
    memset(h, 0, sizeof *h);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        h->seq = sqlite3_column_int64(st, 0);
        if (sqlite3_column_bytes(st, 1) == 32)
            memcpy(h->hash, sqlite3_column_blob(st, 1), 32);
    }
    sqlite3_reset(st);
    return s == SQLITE_ROW || s == SQLITE_DONE ? 0 : -1;
}

static int
read_head(sqlite3 *db, struct audit_head *h)
{
    sqlite3_stmt *st = NULL;
    memset(h, 0, sizeof *h);
    if (sqlite3_prepare_v2(db, HEAD_SQL, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = head_of(st, h);
    sqlite3_finalize(st);
    return rc;
}

struct audit_stmts {
    sqlite3 *db;
    sqlite3_stmt *begin, *head, *ins, *commit;
};

struct audit_stmts *
audit_stmts_new(sqlite3 *db, char *err)
{
    struct audit_stmts *a = xcalloc(1, sizeof *a);
    a->db = db;
    if (sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &a->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, HEAD_SQL, -1, &a->head, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO audit(seq, ts_ms, event, query_id, signer, reason, "
            "query, response_hash, prev_hash, entry_hash) VALUES(?,?,?,?,?,?,?,?,?,?)", -1,
            &a->ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "COMMIT", -1, &a->commit, NULL) != SQLITE_OK) {
        errf(err, "audit: cannot prepare the append: %s", sqlite3_errmsg(db));
        audit_stmts_free(a);
        return NULL;
    }
    return a;
}

void
audit_stmts_free(struct audit_stmts *a)
{
    if (a == NULL)
        return;
    sqlite3_finalize(a->begin);
    sqlite3_finalize(a->head);
    sqlite3_finalize(a->ins);
    sqlite3_finalize(a->commit);
    free(a);
}

/* Step a statement without results (BEGIN, COMMIT) and reset it: SQLITE_DONE or the error. */
static int
run(sqlite3_stmt *st)
{
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    return s;
}

int
audit_head(sqlite3 *db, struct audit_head *head, char *err)
{
    if (read_head(db, head) != 0)
        return errf(err, "cannot read the audit table: %s", sqlite3_errmsg(db));
    return 0;
}

int
audit_append(sqlite3 *db, const struct audit_entry *e, struct audit_head *head, int witness,
    char *err)
{
    struct audit_stmts *a = audit_stmts_new(db, err);
    if (a == NULL)
        return -1;
    int rc = audit_append_kept(a, e, head, witness, err);
    audit_stmts_free(a);
    return rc;
}

int
audit_append_kept(struct audit_stmts *a, const struct audit_entry *e, struct audit_head *head,
    int witness, char *err)
{
    sqlite3 *db = a->db;
    sqlite3_stmt *st = a->ins;
    struct audit_head last;
    uint8_t h[32];
    if (run(a->begin) != SQLITE_DONE)
        return errf(err, "audit: cannot begin: %s", sqlite3_errmsg(db));
    if (head_of(a->head, &last) != 0)
        goto fail;
    if (witness && head != NULL && (head->seq != last.seq || memcmp(head->hash, last.hash, 32))) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        *head = last;
        return AUDIT_MOVED;
    }
    int64_t seq = last.seq + 1;
    size_t rlen = e->response_hash ? 32 : 0;
    entry_hash(last.hash, seq, e->ts_ms, e->event, e->query_id, e->signer, e->reason, e->query,
        e->query_len, e->response_hash, rlen, h);
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, e->ts_ms);
    sqlite3_bind_text(st, 3, e->event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e->query_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, e->signer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, e->reason, -1, SQLITE_STATIC);
    if (e->query)
        sqlite3_bind_blob(st, 7, e->query, (int)e->query_len, SQLITE_STATIC);
    if (e->response_hash)
        sqlite3_bind_blob(st, 8, e->response_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, last.hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 10, h, 32, SQLITE_STATIC);
    int done = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);     /* bound SQLITE_STATIC: the caller's bytes */
    if (!done || run(a->commit) != SQLITE_DONE)
        goto fail;
    if (head != NULL) {
        head->seq = seq;
        memcpy(head->hash, h, 32);
    }
    return 0;
fail:
    errf(err, "audit: cannot append: %s", sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

int
audit_verify(sqlite3 *db, uint64_t *entries, char *err)
{
    sqlite3_stmt *st = NULL;
    uint8_t prev[32] = {0};
    int64_t expect = 1;
    int rc = 0;
    *entries = 0;
    if (sqlite3_prepare_v2(db, "SELECT seq, ts_ms, event, query_id, signer, reason, query, "
            "response_hash, prev_hash, entry_hash FROM audit ORDER BY seq", -1, &st, NULL)
        != SQLITE_OK)
        return errf(err, "cannot read the audit table: %s", sqlite3_errmsg(db));
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        uint8_t h[32];
        if (seq != expect) {
            rc = 1;
            if (seq > expect)
                errf(err, "audit chain broken at seq %lld: entries %lld..%lld are missing "
                    "(deleted)", (long long)seq, (long long)expect, (long long)seq - 1);
            else
                errf(err, "audit chain broken at seq %lld: sequence goes backwards",
                    (long long)seq);
            break;
        }
        if (sqlite3_column_bytes(st, 8) != 32 || memcmp(sqlite3_column_blob(st, 8), prev, 32)) {
            rc = 1;
            errf(err, "audit chain broken at seq %lld: prev_hash does not match entry %lld "
                "(entries reordered, deleted or rewritten)", (long long)seq, (long long)seq - 1);
            break;
        }
        entry_hash(prev, seq, sqlite3_column_int64(st, 1), col_text(st, 2), col_text(st, 3),
            col_text(st, 4), col_text(st, 5), sqlite3_column_blob(st, 6),
            (size_t)sqlite3_column_bytes(st, 6), sqlite3_column_blob(st, 7),
            (size_t)sqlite3_column_bytes(st, 7), h);
        if (sqlite3_column_bytes(st, 9) != 32 || memcmp(sqlite3_column_blob(st, 9), h, 32)) {
            rc = 1;
            errf(err, "audit chain broken at seq %lld: entry does not match its hash "
                "(edited)", (long long)seq);
            break;
        }
        memcpy(prev, h, 32);
        expect++;
        (*entries)++;
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = errf(err, "cannot read the audit table: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

static char *
b64(const void *p, size_t n)
{
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

int
audit_export(sqlite3 *db, FILE *out, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT seq, ts_ms, event, query_id, signer, reason, query, "
            "response_hash, entry_hash FROM audit ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
        return errf(err, "cannot read the audit table: %s", sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_object();
        json_object_set_new(o, "seq", json_integer(sqlite3_column_int64(st, 0)));
        json_object_set_new(o, "ts_ms", json_integer(sqlite3_column_int64(st, 1)));
        json_object_set_new(o, "event", json_string(col_text(st, 2)));
        json_object_set_new(o, "query_id", json_string(col_text(st, 3)));
        json_object_set_new(o, "signer", json_string(col_text(st, 4)));
        json_object_set_new(o, "reason", json_string(col_text(st, 5)));
        char *q = b64(sqlite3_column_blob(st, 6), (size_t)sqlite3_column_bytes(st, 6));
        json_object_set_new(o, "query_b64", json_string(q));
        free(q);
        char hex[65];
        if (sqlite3_column_bytes(st, 7) == 32) {
            util_hex(sqlite3_column_blob(st, 7), 32, hex);
            json_object_set_new(o, "response_sha256", json_string(hex));
        }
        if (sqlite3_column_bytes(st, 8) == 32) {
            util_hex(sqlite3_column_blob(st, 8), 32, hex);
            json_object_set_new(o, "entry_hash", json_string(hex));
        }
        char *line = json_dumps(o, JSON_COMPACT);
        fprintf(out, "%s\n", line);
        free(line);
        json_decref(o);
    }
    sqlite3_finalize(st);
    return 0;
}

int
audit_counts(sqlite3 *db, int64_t since_ms, uint64_t *answered, uint64_t *refused, char *err)
{
    sqlite3_stmt *st;
    *answered = *refused = 0;
    if (sqlite3_prepare_v2(db, "SELECT event, count(*) FROM audit WHERE ts_ms >= ?1 "
            "AND event IN ('answered', 'refused') GROUP BY event", -1, &st, NULL) != SQLITE_OK)
        return errf(err, "cannot read the audit table: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, since_ms);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);
        if (strcmp(col_text(st, 0), "answered") == 0)
            *answered = n;
        else
            *refused = n;
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return errf(err, "cannot read the audit table: %s", sqlite3_errmsg(db));
    return 0;
}

int
audit_entry_get(sqlite3 *db, int64_t seq, struct audit_record *r, char *err)
{
    sqlite3_stmt *st = NULL;
    memset(r, 0, sizeof *r);
    if (sqlite3_prepare_v2(db, "SELECT event, query_id, ts_ms, entry_hash, response_hash "
            "FROM audit WHERE seq = ?1", -1, &st, NULL) != SQLITE_OK)
        return errf(err, "cannot read the audit table: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, seq);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        snprintf(r->event, sizeof r->event, "%s", col_text(st, 0));
        snprintf(r->query_id, sizeof r->query_id, "%s", col_text(st, 1));
        r->ts_ms = sqlite3_column_int64(st, 2);
        if (sqlite3_column_bytes(st, 3) == 32)
            memcpy(r->hash, sqlite3_column_blob(st, 3), 32);
        if ((r->has_rhash = sqlite3_column_bytes(st, 4) == 32))
            memcpy(r->response_hash, sqlite3_column_blob(st, 4), 32);
    }
    sqlite3_finalize(st);
    if (s == SQLITE_ROW)
        return 0;
    if (s == SQLITE_DONE)
        return 1;
    return errf(err, "cannot read the audit table: %s", sqlite3_errmsg(db));
}

int
audit_node_ids(sqlite3 *db, void (*cb)(const char *name, const uint8_t *der, size_t len,
    void *arg), void *arg, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT signer, query FROM audit WHERE event = 'started' "
            "AND signer <> '' ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
        return errf(err, "cannot read the audit table: %s", sqlite3_errmsg(db));
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        cb(col_text(st, 0), sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), arg);
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return errf(err, "cannot read the audit table: %s", sqlite3_errmsg(db));
    return 0;
}
