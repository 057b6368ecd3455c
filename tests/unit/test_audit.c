/*
 * test_audit - the hash-chained audit log (node/audit.c).
 *
 * Each test opens a fresh store (store_open creates the `audit` table and its
 * append-only triggers) in a temporary directory and appends N entries.
 * Tampering is done the way an intruder would: with the sqlite3 API,
 * dropping the triggers first.  The first entry's hash is recomputed here
 * from the formula in audit.h with OpenSSL directly, and the export is
 * parsed back with jansson and compared with the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "lib/util.h"
#include "node/audit.h"
#include "node/store.h"

#define N 6
#define TS0 1750000000000LL

struct fx {
    char dir[64];
    char db[128];
    struct store *s;
    sqlite3 *h;
};

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "";
    snprintf(f->dir, sizeof f->dir, "/tmp/test_audit.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->db, sizeof f->db, "%s/store.db", f->dir);
    if (store_open(f->db, 0, &f->s, err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    f->h = store_db(f->s);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    store_free(f->s);
    unlink_db(f->db);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Query bytes of entry i (1-based): i bytes 0xA0+i, with a NUL inside; entry 3 has none. */
static size_t
query_of(int i, uint8_t q[16])
{
    for (int k = 0; k < i; k++)
        q[k] = (uint8_t)(k == 1 ? 0 : 0xA0 + i);
    return (size_t)i;
}

/* Append entries 1..n with distinct, predictable contents (through a's statements if a). */
static void
append_with(sqlite3 *h, struct audit_stmts *a, int n)
{
    char err[FEDRA_ERRLEN] = "";
    for (int i = 1; i <= n; i++) {
        uint8_t q[16], rh[32];
        char qid[33], reason[64];
        memset(rh, 0x10 + i, sizeof rh);
        snprintf(qid, sizeof qid, "%032x", i);
        snprintf(reason, sizeof reason, "reason %d", i);
        size_t qlen = query_of(i, q);
        struct audit_entry e = {
            .ts_ms = TS0 + i * 1000,
            .event = i % 2 ? "answered" : "refused",
            .query_id = qid,
            .signer = i == 4 ? "" : "alice",
            .reason = reason,
            .query = i == 3 ? NULL : q,
            .query_len = i == 3 ? 0 : qlen,
            .response_hash = i == 5 ? NULL : rh,
        };
        if ((a != NULL ? audit_append_kept(a, &e, NULL, 0, err) : audit_append(h, &e, NULL, 0,
                err)) != 0)
            fail_msg("audit_append %d: %s", i, err);
    }
}

static void
append_n(sqlite3 *h, int n)
{
    append_with(h, NULL, n);
}

static void
exec_ok(sqlite3 *h, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        print_error("%s: %s\n", sql, msg);
        sqlite3_free(msg);
        fail();
    }
}

static void
drop_triggers(sqlite3 *h)
{
    exec_ok(h, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete");
}

static void
test_empty_verifies(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    uint64_t n = 99;
    assert_int_equal(audit_verify(f->h, &n, err), 0);
    assert_int_equal(n, 0);
}

static void
test_append_verify(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    uint64_t n = 0;
    append_n(f->h, N);
    assert_int_equal(audit_verify(f->h, &n, err), 0);
    assert_int_equal(n, N);
    /* Later appends continue the same chain. */
    append_n(f->h, 2);
    assert_int_equal(audit_verify(f->h, &n, err), 0);
    assert_int_equal(n, N + 2);
}

static void
be(uint8_t *out, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        out[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static void
lp(EVP_MD_CTX *m, const void *p, size_t n)
{
    uint8_t b[4];
    be(b, n, 4);
    EVP_DigestUpdate(m, b, 4);
    EVP_DigestUpdate(m, p, n);
}

/* Entry 1 and 2 hashes recomputed from the formula in audit.h. */
static void
test_hash_formula(void **state)
{
    struct fx *f = *state;
    append_n(f->h, 2);
    uint8_t prev[32] = {0};
    for (int i = 1; i <= 2; i++) {
        uint8_t b8[8], q[16], rh[32], h[32];
        char qid[33], reason[64];
        unsigned int len = 32;
        snprintf(qid, sizeof qid, "%032x", i);
        snprintf(reason, sizeof reason, "reason %d", i);
        memset(rh, 0x10 + i, sizeof rh);
        size_t qlen = query_of(i, q);
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        EVP_DigestInit_ex(m, EVP_sha256(), NULL);
        EVP_DigestUpdate(m, "fedra-audit-v1", 15);       /* with its NUL */
        EVP_DigestUpdate(m, prev, 32);
        be(b8, (uint64_t)i, 8);
        EVP_DigestUpdate(m, b8, 8);
        be(b8, (uint64_t)(TS0 + i * 1000), 8);
        EVP_DigestUpdate(m, b8, 8);
        lp(m, i % 2 ? "answered" : "refused", i % 2 ? 8 : 7);
        lp(m, qid, 32);
        lp(m, "alice", 5);
        lp(m, reason, strlen(reason));
        lp(m, q, qlen);
        lp(m, rh, 32);
        EVP_DigestFinal_ex(m, h, &len);
        EVP_MD_CTX_free(m);

        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(f->h, "SELECT prev_hash, entry_hash FROM audit "
            "WHERE seq = ?", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_int(st, 1, i);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_bytes(st, 0), 32);
        assert_memory_equal(sqlite3_column_blob(st, 0), prev, 32);
        assert_int_equal(sqlite3_column_bytes(st, 1), 32);
        assert_memory_equal(sqlite3_column_blob(st, 1), h, 32);
        sqlite3_finalize(st);
        memcpy(prev, h, 32);
    }
}

static void
test_triggers_forbid_changes(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    uint64_t n = 0;
    append_n(f->h, N);
    char *msg = NULL;
    assert_int_not_equal(sqlite3_exec(f->h, "UPDATE audit SET reason = 'x' WHERE seq = 2",
        NULL, NULL, &msg), SQLITE_OK);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    msg = NULL;
    assert_int_not_equal(sqlite3_exec(f->h, "DELETE FROM audit WHERE seq = 2", NULL, NULL, &msg),
        SQLITE_OK);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    msg = NULL;
    assert_int_not_equal(sqlite3_exec(f->h, "DELETE FROM audit", NULL, NULL, &msg), SQLITE_OK);
    sqlite3_free(msg);
    assert_int_equal(audit_verify(f->h, &n, err), 0);
    assert_int_equal(n, N);
}

/* Edit one column of entry k with the triggers gone; verify must name seq k. */
static void
edit_and_verify(void **state, const char *sql, const char *want)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    uint64_t n = 99;
    append_n(f->h, N);
    drop_triggers(f->h);
    exec_ok(f->h, sql);
    assert_int_equal(audit_verify(f->h, &n, err), 1);
    assert_string_equal(err, want);
}

static void
test_edit_reason(void **state)
{
    edit_and_verify(state, "UPDATE audit SET reason = 'nothing to see' WHERE seq = 3",
        "audit chain broken at seq 3: entry does not match its hash (edited)");
}

static void
test_edit_ts(void **state)
{
    edit_and_verify(state, "UPDATE audit SET ts_ms = ts_ms + 1 WHERE seq = 5",
        "audit chain broken at seq 5: entry does not match its hash (edited)");
}

static void
test_edit_signer(void **state)
{
    edit_and_verify(state, "UPDATE audit SET signer = 'bob' WHERE seq = 1",
        "audit chain broken at seq 1: entry does not match its hash (edited)");
}

static void
test_edit_query_bytes(void **state)
{
    edit_and_verify(state, "UPDATE audit SET query = x'A6' WHERE seq = 6",
        "audit chain broken at seq 6: entry does not match its hash (edited)");
}

static void
test_edit_response_hash(void **state)
{
    edit_and_verify(state, "UPDATE audit SET response_hash = NULL WHERE seq = 2",
        "audit chain broken at seq 2: entry does not match its hash (edited)");
}

static void
test_edit_entry_hash(void **state)
{
    /* Rewriting entry 4's hash to match its edit breaks the link from entry 5. */
    edit_and_verify(state, "UPDATE audit SET entry_hash = zeroblob(32) WHERE seq = 4",
        "audit chain broken at seq 4: entry does not match its hash (edited)");
}

static void
test_delete_middle(void **state)
{
    edit_and_verify(state, "DELETE FROM audit WHERE seq = 3",
        "audit chain broken at seq 4: entries 3..3 are missing (deleted)");
}

static void
test_delete_range(void **state)
{
    edit_and_verify(state, "DELETE FROM audit WHERE seq IN (2, 3, 4)",
        "audit chain broken at seq 5: entries 2..4 are missing (deleted)");
}

static void
test_delete_first(void **state)
{
    edit_and_verify(state, "DELETE FROM audit WHERE seq = 1",
        "audit chain broken at seq 2: entries 1..1 are missing (deleted)");
}

static void
test_delete_and_renumber(void **state)
{
    /* Hide the gap by renumbering: entry 4 now claims seq 3 and its prev_hash no longer fits. */
    edit_and_verify(state, "DELETE FROM audit WHERE seq = 3; "
        "UPDATE audit SET seq = seq - 1 WHERE seq > 3",
        "audit chain broken at seq 3: prev_hash does not match entry 2 "
        "(entries reordered, deleted or rewritten)");
}

static void
test_reorder(void **state)
{
    /* Swap the contents (everything but seq) of entries 2 and 5. */
    edit_and_verify(state,
        "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (2, 5);"
        "UPDATE audit SET (ts_ms, event, query_id, signer, reason, query, response_hash, "
        "prev_hash, entry_hash) = (SELECT ts_ms, event, query_id, signer, reason, query, "
        "response_hash, prev_hash, entry_hash FROM t WHERE t.seq = 7 - audit.seq) "
        "WHERE seq IN (2, 5);"
        "DROP TABLE t",
        "audit chain broken at seq 2: prev_hash does not match entry 1 "
        "(entries reordered, deleted or rewritten)");
}

static void
test_reorder_keep_links(void **state)
{
    /* Swap only the payload of 2 and 5, keeping each row's hashes: the hash check fires. */
    edit_and_verify(state,
        "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (2, 5);"
        "UPDATE audit SET (ts_ms, event, query_id, signer, reason, query, response_hash) = "
        "(SELECT ts_ms, event, query_id, signer, reason, query, response_hash FROM t "
        "WHERE t.seq = 7 - audit.seq) WHERE seq IN (2, 5);"
        "DROP TABLE t",
        "audit chain broken at seq 2: entry does not match its hash (edited)");
}

static void
test_export(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    char *text = NULL;
    size_t len = 0;
    append_n(f->h, N);
    FILE *out = open_memstream(&text, &len);
    assert_int_equal(audit_export(f->h, out, err), 0);
    fclose(out);
    int lines = 0;
    char *p = text;
    while (*p) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        *nl = 0;
        lines++;
        json_error_t je;
        json_t *o = json_loads(p, 0, &je);
        if (o == NULL)
            fail_msg("line %d: %s", lines, je.text);
        int i = lines;
        char qid[33], reason[64], want[65];
        snprintf(qid, sizeof qid, "%032x", i);
        snprintf(reason, sizeof reason, "reason %d", i);
        assert_int_equal(json_integer_value(json_object_get(o, "seq")), i);
        assert_int_equal(json_integer_value(json_object_get(o, "ts_ms")), TS0 + i * 1000);
        assert_string_equal(json_string_value(json_object_get(o, "event")),
            i % 2 ? "answered" : "refused");
        assert_string_equal(json_string_value(json_object_get(o, "query_id")), qid);
        assert_string_equal(json_string_value(json_object_get(o, "signer")),
            i == 4 ? "" : "alice");
        assert_string_equal(json_string_value(json_object_get(o, "reason")), reason);
        /* Query bytes: base64 decoded by OpenSSL's decoder and compared. */
        const char *b = json_string_value(json_object_get(o, "query_b64"));
        assert_non_null(b);
        uint8_t q[16], dec[32];
        size_t qlen = i == 3 ? 0 : query_of(i, q);
        if (qlen == 0) {
            assert_string_equal(b, "");
        } else {
            int dn = EVP_DecodeBlock(dec, (const unsigned char *)b, (int)strlen(b));
            /* EVP_DecodeBlock counts padding bytes as zeros: trim them. */
            size_t pad = strlen(b) >= 2 ? (b[strlen(b) - 1] == '=') + (b[strlen(b) - 2] == '=')
                                        : 0;
            assert_int_equal((size_t)dn - pad, qlen);
            assert_memory_equal(dec, q, qlen);
        }
        json_t *rh = json_object_get(o, "response_sha256");
        if (i == 5) {
            assert_null(rh);
        } else {
            uint8_t r[32];
            memset(r, 0x10 + i, sizeof r);
            util_hex(r, 32, want);
            assert_string_equal(json_string_value(rh), want);
        }
        /* entry_hash as stored. */
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(f->h, "SELECT lower(hex(entry_hash)) FROM audit "
            "WHERE seq = ?", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_int(st, 1, i);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal(json_string_value(json_object_get(o, "entry_hash")),
            (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        json_decref(o);
        p = nl + 1;
    }
    assert_int_equal(lines, N);
    free(text);
}

static void
test_export_empty(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_int_equal(audit_export(f->h, out, err), 0);
    fclose(out);
    assert_int_equal(len, 0);
    free(text);
}

/*
 * Statements prepared once (audit_append_kept, as the daemon appends) write
 * the same entries as audit_append, append after a refused witness (the
 * statements reset), and the chain verifies.
 */
static void
test_kept_statements(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", db2[160];
    struct store *s2 = NULL;
    snprintf(db2, sizeof db2, "%s/kept.db", f->dir);
    assert_int_equal(store_open(db2, 0, &s2, err), 0);
    struct audit_stmts *a = audit_stmts_new(store_db(s2), err);
    assert_non_null(a);
    append_n(f->h, N);
    append_with(store_db(s2), a, N);
    for (int64_t seq = 1; seq <= N; seq++) {
        struct audit_record r1, r2;
        assert_int_equal(audit_entry_get(f->h, seq, &r1, err), 0);
        assert_int_equal(audit_entry_get(store_db(s2), seq, &r2, err), 0);
        assert_memory_equal(r1.hash, r2.hash, sizeof r1.hash);
    }
    struct audit_head head, stale = {1, {0}};
    assert_int_equal(audit_head(store_db(s2), &head, err), 0);
    assert_int_equal(head.seq, N);
    struct audit_entry e = {TS0, "answered", "", "alice", "kept", NULL, 0, NULL};
    assert_int_equal(audit_append_kept(a, &e, &stale, 1, err), AUDIT_MOVED);
    assert_memory_equal(&stale, &head, sizeof head);
    assert_int_equal(audit_append_kept(a, &e, &stale, 1, err), 0);
    assert_int_equal(stale.seq, N + 1);
    uint64_t n = 0;
    assert_int_equal(audit_verify(store_db(s2), &n, err), 0);
    assert_int_equal(n, N + 1);
    audit_stmts_free(a);
    store_free(s2);
    unlink_db(db2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_formula, setup, teardown),
        cmocka_unit_test_setup_teardown(test_triggers_forbid_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_ts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_signer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_query_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_response_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_entry_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_and_renumber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reorder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reorder_keep_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_statements, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
