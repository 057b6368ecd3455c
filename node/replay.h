/*
 * replay - the node's replay cache (table `seen`), which survives restarts.
 *
 * A query is identified by (SHA-256 of the signer's certificate, query_id).
 * It is remembered until its expiry plus the tolerated clock skew; after
 * that the time-window check refuses it anyway, so the entry can go.  When
 * the cache holds `max` unexpired entries the node refuses new queries (fails
 * closed) rather than forgetting live ones.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;

enum replay_result {
    REPLAY_FRESH = 0,               /* recorded now; first time seen */
    REPLAY_SEEN = 1,                /* already answered or refused once */
    REPLAY_FULL = 2,                /* cache full of live entries: refuse */
    REPLAY_ERROR = -1
};

/* Record (signer_fp, query_id) until keep_until_ms; purge expired entries first. */
int replay_check(struct sqlite3 *db, const uint8_t signer_fp[32], const uint8_t *query_id,
    size_t idlen, int64_t keep_until_ms, int64_t now_ms, uint64_t max, char *err);

#endif /* !REPLAY_H */
