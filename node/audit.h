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
 *
 * The chain alone cannot show that entries were cut from its end, nor a log
 * rewritten from some entry on with fresh hashes.  So every signed answer to
 * a verified analyst carries the head of the log as it stood just before the
 * answer's own entry was appended (ResponseBody.audit_seq, audit_head): the
 * analyst's bundle then witnesses entry audit_seq's hash, and entry
 * audit_seq + 1 must record that response's SHA-256 (node/witness.h checks
 * both).  A `started` entry records the node's name in `signer` and its
 * certificate (DER) in `query`, so that the log says whose answers witness
 * it, and with which certificate they are signed.
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
    const char *signer;             /* analyst name, or "" / "unverified:NAME"; started: the node */
    const char *reason;             /* refusal reason or a summary of the answer */
    const uint8_t *query;           /* signed query bytes as received (may be NULL);
                                       started: the node's certificate (DER) */
    size_t query_len;
    const uint8_t *response_hash;   /* 32 bytes, or NULL */
};

/* The last entry of the log: its sequence number and entry hash (0 and 32 zero bytes if empty). */
struct audit_head {
    int64_t seq;
    uint8_t hash[32];
};

#define AUDIT_MOVED 1               /* audit_append: the log's head is not the one witnessed */

/*
 * Append one entry in its own transaction.  head (may be NULL) is in and out:
 * with witness set, the append is refused with AUDIT_MOVED (nothing written)
 * unless *head is still the log's last entry, so an answer never witnesses a
 * head other than its own entry's predecessor (another writer appended in
 * between); either way *head receives the head after the call.  Returns 0,
 * AUDIT_MOVED, or -1 with err.
 */
int audit_append(struct sqlite3 *db, const struct audit_entry *e, struct audit_head *head,
    int witness, char *err);
/*
 * The same append with its statements prepared once (audit_stmts_new; free
 * them before the database is closed): a daemon appends one entry per query
 * -- a pooled fit one per node and round -- and preparing them every time was
 * a fifth of an append's CPU.  The entries are the same.
 */
struct audit_stmts;
struct audit_stmts *audit_stmts_new(struct sqlite3 *db, char *err);
void audit_stmts_free(struct audit_stmts *a);
int audit_append_kept(struct audit_stmts *a, const struct audit_entry *e,
    struct audit_head *head, int witness, char *err);

/* The log's head now (one indexed read). */
int audit_head(struct sqlite3 *db, struct audit_head *head, char *err);

/*
 * Entry seq as recorded: its event, entry hash, response hash (has_rhash 0
 * when the entry records none), time and query id (qid: 33 bytes).  Returns
 * 0, 1 if there is no entry seq, -1 with err.
 */
struct audit_record {
    char event[16];
    char query_id[33];
    int64_t ts_ms;
    uint8_t hash[32];
    uint8_t response_hash[32];
    int has_rhash;
};
int audit_entry_get(struct sqlite3 *db, int64_t seq, struct audit_record *r, char *err);

/*
 * The node's identities its `started` entries record: cb gets each entry's
 * name (signer) and certificate (DER, kept in the entry's query column).
 */
int audit_node_ids(struct sqlite3 *db, void (*cb)(const char *name, const uint8_t *der,
    size_t len, void *arg), void *arg, char *err);

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
