/*
 * audit - the node's append-only, hash-chained audit log (table `audit`).
 *
 * Every query the node receives, answered or refused, becomes one entry with
 * the reason, the signed query bytes as received (once the analyst's
 * signature on them verified) and the SHA-256 of the signed response.  Entry k carries
 *   entry_hash = SHA-256("fedra-audit-v1\0" || prev_hash || be64(seq) || be64(ts_ms)
 *                        || lp(event) || lp(query_id) || lp(signer) || lp(reason)
 *                        || lp(query) || lp(response_hash))
 * where lp(x) = be32(length) || x and prev_hash is entry k-1's hash (32 zero
 * bytes for the first).  SQLite triggers forbid UPDATE and DELETE; anyone who
 * bypasses them (drops the trigger, edits the file) breaks the chain, and
 * audit_verify() says at which entry.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sqlite3;

struct audit_entry {
    int64_t ts_ms;
    const char *event;              /* "answered", "refused", "started", ... */
    const char *query_id;           /* hex, or "" */
    const char *signer;             /* analyst name, or "" / "unverified:NAME" */
    const char *reason;             /* refusal reason or a summary of the answer */
    const uint8_t *query;           /* signed query bytes as received (may be NULL) */
    size_t query_len;
    const uint8_t *response_hash;   /* 32 bytes, or NULL */
};

/* Append one entry in its own transaction. */
int audit_append(struct sqlite3 *db, const struct audit_entry *e, char *err);

/*
 * Check the whole chain.  Returns 0 if intact (count in *entries), 1 if broken
 * (err names the first bad sequence number and what is wrong), -1 on error.
 */
int audit_verify(struct sqlite3 *db, uint64_t *entries, char *err);

/* Write every entry as one JSON object per line (query bytes base64). */
int audit_export(struct sqlite3 *db, FILE *out, char *err);

/* Queries answered and refused at or after since_ms (0: all), for `fedra-node status`. */
int audit_counts(struct sqlite3 *db, int64_t since_ms, uint64_t *answered, uint64_t *refused,
    char *err);

#endif /* !AUDIT_H */
