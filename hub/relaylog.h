/*
 * relaylog - the hub's append-only, hash-chained log of what it relayed
 * (SQLite, table `relay`; config key `log`).
 *
 * One entry per relay event (hub/relay.h struct relay_event): seq, time,
 * kind, analyst, route_id, query hash, node, answer hash (SHA-256 of the
 * sealed answer as relayed), size, and the hub's own note (why it refused or
 * timed out).  Never a relayed payload: the hub cannot read one, and keeps
 * nothing it could be asked to hand over.  The one exception is pooled
 * release, where the hub is the release service: table `relay_blob` keeps,
 * under the entry's seq, the pooled query, each node's masked share and the
 * signed release (hub/pool.h), so that `fedra-hub recompute` can recompute a
 * release from them; each is bound to the chain by its entry's answer_hash
 * (its SHA-256), which relaylog_verify() checks.  Entry k carries
 *   entry_hash = SHA-256("fedra-relay-v1\0" || prev_hash || be64(seq) || be64(ts_ms)
 *                        || lp(kind) || lp(analyst) || lp(route_id) || lp(query_hash)
 *                        || lp(node) || lp(answer_hash) || be64(size) || lp(note))
 * with lp(x) = be32(length) || x and prev_hash the previous entry's hash (32
 * zero bytes for the first).  Triggers refuse UPDATE and DELETE; whoever edits
 * the file anyway breaks the chain, and relaylog_verify() names the entry.
 * The query hash lets a relay entry be matched with the node's audit log and
 * the analyst's bundle.
 *
 * Appends are grouped: relaylog_append() opens a transaction when none is
 * open, relaylog_commit() ends it (the hub commits once per turn of its main
 * loop), so a burst of events costs one commit.  The database runs in WAL
 * mode with synchronous=NORMAL: a power failure may lose the last commits,
 * never the chain's integrity.
 */
#ifndef RELAYLOG_H
#define RELAYLOG_H

#include <stdint.h>
#include <stdio.h>

#include "hub/relay.h"

#define RELAYLOG_BUSY_TIMEOUT_MS 5000
#define RELAYLOG_MAX_TEXT 1024              /* note, analyst and node are cut to this */

struct relaylog;

/* Open (creating it and its table unless readonly); err says why not. */
int relaylog_open(const char *path, int readonly, struct relaylog **out, char *err);
void relaylog_close(struct relaylog *l);    /* commits what is open; NULL is ignored */

int relaylog_append(struct relaylog *l, const struct relay_event *e, char *err);
int relaylog_commit(struct relaylog *l, char *err);

/* 0 intact (count in *entries), 1 broken (err names the first bad seq and what), -1 error. */
int relaylog_verify(struct relaylog *l, uint64_t *entries, char *err);

/* Every entry as one JSON object per line (hashes and ids in hex). */
int relaylog_export(struct relaylog *l, FILE *out, char *err);

/*
 * cb(kind, node, ts_ms, data, len, arg) for each blob kept for route_id, in
 * order: "pooled-query", then "share" per node, then "release".
 */
int relaylog_pooled(struct relaylog *l, const uint8_t route_id[WIRE_QUERY_ID_LEN],
    void (*cb)(const char *kind, const char *node, int64_t ts_ms, const uint8_t *data,
        size_t len, void *arg), void *arg, char *err);

/* cb(kind, count, arg) for each kind of entry at or after since_ms. */
int relaylog_counts(struct relaylog *l, int64_t since_ms,
    void (*cb)(const char *kind, uint64_t n, void *arg), void *arg, char *err);

#endif /* !RELAYLOG_H */
