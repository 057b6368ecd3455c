/*
 * replay - see replay.h.
 */
#include "node/replay.h"

#include <stdio.h>

#include <sqlite3.h>

#include "lib/util.h"

static int
exec_int(sqlite3 *db, const char *sql, int64_t arg, int64_t *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, arg);
    int s = sqlite3_step(st);
    if (out != NULL && s == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return s == SQLITE_ROW || s == SQLITE_DONE ? 0 : -1;
}

/* The connection's PRAGMA synchronous level (2 = FULL if unreadable). */
static int
sync_level(sqlite3 *db)
{
    int64_t v = 2;
    if (exec_int(db, "PRAGMA synchronous", 0, &v) != 0)
        v = 2;
    return (int)v;
}

static void
set_sync(sqlite3 *db, int level)
{
    char q[32];
    snprintf(q, sizeof q, "PRAGMA synchronous=%d", level);
    sqlite3_exec(db, q, NULL, NULL, NULL);
}

/*
 * The insert is committed without its own fsync (synchronous=NORMAL for this
 * one transaction): every outcome is followed by an audit append, whose
 * durable commit fsyncs the write-ahead log and with it this earlier commit,
 * before any answer leaves the node.  A power loss in between loses only the
 * record of a query that was never answered.  One fsync per query, not two.
 */
static int
replay_txn(sqlite3 *db, const uint8_t signer_fp[32], const uint8_t *query_id, size_t idlen,
    int64_t keep_until_ms, int64_t now_ms, uint64_t max, char *err);

int
replay_check(sqlite3 *db, const uint8_t signer_fp[32], const uint8_t *query_id, size_t idlen,
    int64_t keep_until_ms, int64_t now_ms, uint64_t max, char *err)
{
    int level = sync_level(db);
    if (level > 1)
        set_sync(db, 1);
    int r = replay_txn(db, signer_fp, query_id, idlen, keep_until_ms, now_ms, max, err);
    if (level > 1)
        set_sync(db, level);
    return r;
}

static int
replay_txn(sqlite3 *db, const uint8_t signer_fp[32], const uint8_t *query_id, size_t idlen,
    int64_t keep_until_ms, int64_t now_ms, uint64_t max, char *err)
{
    int64_t live = 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        errf(err, "replay cache: %s", sqlite3_errmsg(db));
        return REPLAY_ERROR;
    }
    /* After the delete every entry is live: count the table (a b-tree count of
       the small expiry index), not the entries past now (a range walk). */
    if (exec_int(db, "DELETE FROM seen WHERE expires_ms < ?", now_ms, NULL) != 0 ||
        exec_int(db, "SELECT count(*) FROM seen", 0, &live) != 0)
        goto fail;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO seen(signer_fp, query_id, expires_ms) VALUES(?,?,?)",
            -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_blob(st, 1, signer_fp, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, query_id, (int)idlen, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, keep_until_ms);
    int result;
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s == SQLITE_CONSTRAINT)
        result = REPLAY_SEEN;
    else if (s != SQLITE_DONE)
        goto fail;
    else if ((uint64_t)live >= max)
        result = REPLAY_FULL;
    else
        result = REPLAY_FRESH;
    if (sqlite3_exec(db, result == REPLAY_FULL ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL)
        != SQLITE_OK)
        goto fail;
    return result;
fail:
    errf(err, "replay cache: %s", sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return REPLAY_ERROR;
}
