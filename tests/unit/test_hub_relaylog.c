/*
 * test_hub_relaylog - the hub's hash-chained relay log (hub/relaylog.c).
 *
 * A log of a few entries is written, then altered behind the module's back
 * with plain SQL (the triggers dropped first, as someone editing the file
 * would): every edit of a hashed field, a deleted entry and reordered
 * entries are each caught by relaylog_verify, which names the entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hub/relaylog.h"
#include "lib/util.h"
#include "tests/unit/fixture.h"

#define NENTRIES 6

struct fx {
    char dir[64];
    char db[128];
};

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_hub_relaylog.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->db, sizeof f->db, "%s/relay.db", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* NENTRIES entries of every shape: with and without ids and hashes. */
static void
write_log(const struct fx *f)
{
    struct relaylog *l;
    char err[FEDRA_ERRLEN];
    uint8_t rid[WIRE_QUERY_ID_LEN], qh[WIRE_HASH_LEN], ah[32];
    memset(rid, 1, sizeof rid);
    memset(qh, 2, sizeof qh);
    memset(ah, 3, sizeof ah);
    assert_int_equal(relaylog_open(f->db, 0, &l, err), 0);
    const struct relay_event ev[NENTRIES] = {
        {1000, "started", "", NULL, NULL, "hub1", NULL, 0, "fedra-hub", NULL, 0},
        {1001, "hello", "", NULL, NULL, "DE", NULL, 0, "", NULL, 0},
        {1002, "route", "alice", rid, qh, "", NULL, 2048, "", NULL, 0},
        {1003, "forward", "alice", rid, qh, "DE", NULL, 1024, "", NULL, 0},
        {1004, "answer", "alice", rid, qh, "DE", ah, 1536, "", NULL, 0},
        {1005, "timeout", "alice", rid, qh, "FR", NULL, 0, "node 'FR' did not answer", NULL, 0},
    };
    for (size_t i = 0; i < NENTRIES; i++)
        assert_int_equal(relaylog_append(l, &ev[i], err), 0);
    assert_int_equal(relaylog_commit(l, err), 0);
    relaylog_close(l);
}

static int
verify(const struct fx *f, uint64_t *n, char *err)
{
    struct relaylog *l;
    assert_int_equal(relaylog_open(f->db, 1, &l, err), 0);
    int rc = relaylog_verify(l, n, err);
    relaylog_close(l);
    return rc;
}

/* Run SQL on the log as an editor of the file would (no triggers in the way). */
static void
edit(const struct fx *f, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, "DROP TRIGGER IF EXISTS relay_no_update; "
            "DROP TRIGGER IF EXISTS relay_no_delete;", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

static void
test_intact_log_verifies_and_continues_across_opens(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    uint64_t n;
    write_log(f);
    assert_int_equal(verify(f, &n, err), 0);
    assert_int_equal(n, NENTRIES);
    write_log(f);                   /* a restart appends to the same chain */
    assert_int_equal(verify(f, &n, err), 0);
    assert_int_equal(n, 2 * NENTRIES);
    /* The log is append-only while its triggers stand. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE relay SET size = 1", NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM relay WHERE seq = 3", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
}

static void
test_every_hashed_field_edit_is_caught(void **state)
{
    struct fx *f = *state;
    static const char *const edits[] = {
        "UPDATE relay SET ts_ms = ts_ms + 1 WHERE seq = 5",
        "UPDATE relay SET kind = 'timeout' WHERE seq = 5",
        "UPDATE relay SET analyst = 'bob' WHERE seq = 5",
        "UPDATE relay SET route_id = zeroblob(16) WHERE seq = 5",
        "UPDATE relay SET query_hash = zeroblob(32) WHERE seq = 5",
        "UPDATE relay SET node = 'FR' WHERE seq = 5",
        "UPDATE relay SET answer_hash = zeroblob(32) WHERE seq = 5",
        "UPDATE relay SET size = 99 WHERE seq = 5",
        "UPDATE relay SET note = 'x' WHERE seq = 5",
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char err[FEDRA_ERRLEN];
        uint64_t n;
        unlink_db(f->db);
        write_log(f);
        edit(f, edits[i]);
        if (verify(f, &n, err) != 1)
            fail_msg("'%s' was not caught", edits[i]);
        assert_string_equal(err, "relay log broken at seq 5: the entry does not match its "
            "hash (edited)");
        assert_int_equal(n, 4);     /* the entries before it hold */
    }
}

static void
test_deleted_reordered_and_rewritten_entries_are_caught(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    uint64_t n;
    write_log(f);
    edit(f, "DELETE FROM relay WHERE seq = 3");
    assert_int_equal(verify(f, &n, err), 1);
    assert_string_equal(err, "relay log broken at seq 4: expected entry 3 (entries deleted)");
    unlink_db(f->db);
    write_log(f);
    /* Entry 4 moved to seq 3's place with its hashes: its prev_hash is not entry 2's. */
    edit(f, "DELETE FROM relay WHERE seq = 3; UPDATE relay SET seq = 3 WHERE seq = 4; "
        "UPDATE relay SET seq = 4 WHERE seq = 5; UPDATE relay SET seq = 5 WHERE seq = 6");
    assert_int_equal(verify(f, &n, err), 1);
    assert_string_equal(err, "relay log broken at seq 3: prev_hash is not entry 2's hash "
        "(entries deleted, reordered or rewritten)");
    unlink_db(f->db);
    write_log(f);
    edit(f, "UPDATE relay SET entry_hash = zeroblob(32) WHERE seq = 6");
    assert_int_equal(verify(f, &n, err), 1);
    assert_non_null(strstr(err, "seq 6"));
}

static void
count_cb(const char *kind, uint64_t n, void *arg)
{
    struct buf *b = arg;
    buf_printf(b, "%s=%llu ", kind, (unsigned long long)n);
}

static void
test_export_and_counts_hold_no_payload(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN], path[160];
    write_log(f);
    struct relaylog *l;
    assert_int_equal(relaylog_open(f->db, 1, &l, err), 0);
    struct buf b = {0};
    assert_int_equal(relaylog_counts(l, 1003, count_cb, &b, err), 0);
    assert_string_equal((char *)b.p, "answer=1 forward=1 timeout=1 ");
    buf_release(&b);
    snprintf(path, sizeof path, "%s/export.jsonl", f->dir);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    assert_int_equal(relaylog_export(l, out, err), 0);
    fclose(out);
    relaylog_close(l);
    uint8_t *text;
    size_t len;
    assert_int_equal(util_read_file(path, 1 << 20, &text, &len, err), 0);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, NENTRIES);
    assert_non_null(strstr((char *)text, "\"kind\":\"answer\",\"analyst\":\"alice\",\"route_id\":"
        "\"01010101010101010101010101010101\""));
    assert_non_null(strstr((char *)text, "\"answer_sha256\":\"0303"));
    free(text);
    /* A read-only open of a missing log fails and creates nothing. */
    snprintf(path, sizeof path, "%s/missing.db", f->dir);
    assert_int_equal(relaylog_open(path, 1, &l, err), -1);
    assert_int_not_equal(access(path, F_OK), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_intact_log_verifies_and_continues_across_opens),
        T(test_every_hashed_field_edit_is_caught),
        T(test_deleted_reordered_and_rewritten_entries_are_caught),
        T(test_export_and_counts_hold_no_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
