/*
 * test_replay - the persistent replay cache (node/replay.c, table `seen`).
 *
 * Time is passed in (now_ms), so expiry is tested without sleeping.  An
 * entry is live while now_ms <= keep_until_ms and purged once now_ms passes
 * it.  Row counts are read back with sqlite3 directly.
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

#include <sqlite3.h>

#include "lib/util.h"
#include "node/replay.h"
#include "node/store.h"

#define BIG 1000000                 /* a capacity never reached */

struct fx {
    char dir[64];
    char db[128];
    struct store *s;
    uint8_t alice[32], bob[32];     /* signer fingerprints */
};

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "";
    snprintf(f->dir, sizeof f->dir, "/tmp/test_replay.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->db, sizeof f->db, "%s/store.db", f->dir);
    if (store_open(f->db, 0, &f->s, err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    memset(f->alice, 0xaa, 32);
    memset(f->bob, 0xbb, 32);
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

/* A 16-byte query id whose bytes are all k. */
static const uint8_t *
qid(uint8_t k, uint8_t out[16])
{
    memset(out, k, 16);
    return out;
}

static int
check(struct fx *f, const uint8_t *fp, uint8_t k, int64_t keep, int64_t now, uint64_t max)
{
    char err[FEDRA_ERRLEN] = "";
    uint8_t id[16];
    int r = replay_check(store_db(f->s), fp, qid(k, id), 16, keep, now, max, err);
    if (r == REPLAY_ERROR)
        fail_msg("replay_check: %s", err);
    return r;
}

static long long
rows(struct fx *f)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(store_db(f->s), "SELECT count(*) FROM seen", -1, &st,
        NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void
test_fresh_then_seen(void **state)
{
    struct fx *f = *state;
    assert_int_equal(check(f, f->alice, 1, 5000, 1000, BIG), REPLAY_FRESH);
    assert_int_equal(check(f, f->alice, 1, 5000, 1001, BIG), REPLAY_SEEN);
    /* A later keep_until does not make it fresh. */
    assert_int_equal(check(f, f->alice, 1, 9000, 1002, BIG), REPLAY_SEEN);
    /* Another id, or the same id from another signer, is fresh. */
    assert_int_equal(check(f, f->alice, 2, 5000, 1003, BIG), REPLAY_FRESH);
    assert_int_equal(check(f, f->bob, 1, 5000, 1004, BIG), REPLAY_FRESH);
    assert_int_equal(check(f, f->bob, 1, 5000, 1005, BIG), REPLAY_SEEN);
    assert_int_equal(rows(f), 3);
}

static void
test_id_length_matters(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    uint8_t id[16];
    memset(id, 7, sizeof id);
    sqlite3 *h = store_db(f->s);
    assert_int_equal(replay_check(h, f->alice, id, 16, 5000, 1000, BIG, err), REPLAY_FRESH);
    /* A prefix of a seen id is a different id. */
    assert_int_equal(replay_check(h, f->alice, id, 8, 5000, 1000, BIG, err), REPLAY_FRESH);
    assert_int_equal(replay_check(h, f->alice, id, 8, 5000, 1000, BIG, err), REPLAY_SEEN);
}

static void
test_expiry(void **state)
{
    struct fx *f = *state;
    assert_int_equal(check(f, f->alice, 1, 2000, 1000, BIG), REPLAY_FRESH);
    assert_int_equal(check(f, f->alice, 2, 3000, 1000, BIG), REPLAY_FRESH);
    /* At exactly keep_until the entry is still live. */
    assert_int_equal(check(f, f->alice, 1, 9000, 2000, BIG), REPLAY_SEEN);
    assert_int_equal(rows(f), 2);
    /* One past it: purged, so the same id is fresh again (with its new keep_until). */
    assert_int_equal(check(f, f->alice, 1, 9000, 2001, BIG), REPLAY_FRESH);
    assert_int_equal(rows(f), 2);
    /* Entry 2 (3000) is purged by any call after 3000, even for another id. */
    assert_int_equal(check(f, f->bob, 9, 9000, 3001, BIG), REPLAY_FRESH);
    assert_int_equal(rows(f), 2);       /* alice/1 (9000) and bob/9 */
    assert_int_equal(check(f, f->alice, 2, 9000, 3002, BIG), REPLAY_FRESH);
    /* The renewed alice/1 is remembered until 9000. */
    assert_int_equal(check(f, f->alice, 1, 9999, 9000, BIG), REPLAY_SEEN);
    assert_int_equal(check(f, f->alice, 1, 9999, 9001, BIG), REPLAY_FRESH);
}

static void
test_capacity(void **state)
{
    struct fx *f = *state;
    const uint64_t max = 4;
    for (uint8_t k = 1; k <= max; k++)
        assert_int_equal(check(f, f->alice, k, 10000, 1000 + k, max), REPLAY_FRESH);
    assert_int_equal(rows(f), 4);
    /* The (max+1)th live entry: refused and not stored. */
    assert_int_equal(check(f, f->alice, 5, 10000, 1100, max), REPLAY_FULL);
    assert_int_equal(rows(f), 4);
    assert_int_equal(check(f, f->bob, 5, 10000, 1101, max), REPLAY_FULL);
    /* A replay is still recognised as a replay when full. */
    assert_int_equal(check(f, f->alice, 2, 10000, 1102, max), REPLAY_SEEN);
    /* Not stored: once there is room, id 5 is fresh, not seen. */
    assert_int_equal(check(f, f->alice, 5, 10000, 1103, max + 1), REPLAY_FRESH);
    assert_int_equal(rows(f), 5);
    assert_int_equal(check(f, f->alice, 6, 10000, 1104, max + 1), REPLAY_FULL);
}

static void
test_capacity_counts_live_only(void **state)
{
    struct fx *f = *state;
    const uint64_t max = 2;
    assert_int_equal(check(f, f->alice, 1, 1500, 1000, max), REPLAY_FRESH);
    assert_int_equal(check(f, f->alice, 2, 5000, 1000, max), REPLAY_FRESH);
    assert_int_equal(check(f, f->alice, 3, 5000, 1000, max), REPLAY_FULL);
    /* Entry 1 expires at 1500; at 1501 there is room for one more. */
    assert_int_equal(check(f, f->alice, 3, 5000, 1501, max), REPLAY_FRESH);
    assert_int_equal(check(f, f->alice, 4, 5000, 1502, max), REPLAY_FULL);
    assert_int_equal(rows(f), 2);
}

static void
test_capacity_one(void **state)
{
    struct fx *f = *state;
    assert_int_equal(check(f, f->alice, 1, 5000, 1000, 1), REPLAY_FRESH);
    assert_int_equal(check(f, f->alice, 2, 5000, 1000, 1), REPLAY_FULL);
    assert_int_equal(check(f, f->alice, 1, 5000, 1000, 1), REPLAY_SEEN);
}

static void
test_survives_reopen(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    assert_int_equal(check(f, f->alice, 1, 5000, 1000, BIG), REPLAY_FRESH);
    assert_int_equal(check(f, f->bob, 2, 5000, 1000, BIG), REPLAY_FRESH);
    store_free(f->s);
    f->s = NULL;
    assert_int_equal(store_open(f->db, 0, &f->s, err), 0);
    assert_int_equal(rows(f), 2);
    assert_int_equal(check(f, f->alice, 1, 5000, 1200, BIG), REPLAY_SEEN);
    assert_int_equal(check(f, f->bob, 2, 5000, 1200, BIG), REPLAY_SEEN);
    assert_int_equal(check(f, f->bob, 1, 5000, 1200, BIG), REPLAY_FRESH);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_then_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_length_matters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity_counts_live_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
