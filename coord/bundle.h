/*
 * bundle - a published analysis that anyone holding the federation CA
 * certificate can check offline: the command line, and for every round the
 * signed query envelope and every node's signed response envelope, byte for
 * byte as they crossed the network (or the node's status where nothing
 * signed came back).
 *
 * File format: one JSON object (bundle_write() writes it atomically)
 *     {"fedra_bundle": 1, "created": "...", "command": ["km", "--by", "stage"],
 *      "nodes": ["AA", "BB"],
 *      "rounds": [{"query": HEX, "responses": [{"node": "AA", "status": "ok",
 *                  "reason": "...", "envelope": HEX}, ...]}, ...]}
 * A pooled release (coord/pooled.h) is one round {"query": HEX, "hub": NAME,
 * "pooled": HEX}: the hub's PoolReply (its signed release and every node's
 * signed response, which commits to its masked share; never the shares).
 * `fedra verify` re-runs the command over the recorded rounds: it checks each
 * query's analyst signature and that it asks what the command asks, each
 * response's node signature and binding to that query, then merges and
 * prints exactly as the live command did (coord/fedra.c).
 */
#ifndef BUNDLE_H
#define BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "coord/client.h"
#include "coord/federation.h"
#include "lib/util.h"
#include "proto/evidence.h"

/* The file's shape is checked in proto/evidence.h, which `fedra-node audit verify` shares. */
#define BUNDLE_VERSION EVIDENCE_BUNDLE_VERSION
#define BUNDLE_MAX_BYTES EVIDENCE_MAX_BUNDLE_BYTES
#define BUNDLE_MAX_ROUNDS EVIDENCE_MAX_ROUNDS

struct bundle {
    json_t *root;
    size_t next;                    /* replay: the next round to hand out */
    struct buf query;               /* replay: that round's query envelope */
};

/* Recording: the command's own arguments and the federation's node names. */
void bundle_init(struct bundle *b, int argc, char *const *argv, const struct federation *fed);
/* One round: the query envelope and the replies of fed's nodes (fed: who it went to). */
void bundle_add_round(struct bundle *b, const struct federation *fed, const uint8_t *query,
    size_t len, const struct node_reply *rep);
/* A pooled round: the query envelope and the hub's PoolReply as received. */
void bundle_add_pooled(struct bundle *b, const char *hub, const uint8_t *query, size_t len,
    const struct buf *reply);
int bundle_write(const struct bundle *b, const char *path, char *err);
void bundle_release(struct bundle *b);

/* Reading: load and check the shape; argv (borrowed) is the recorded command. */
int bundle_load(const char *path, struct bundle *b, size_t *argc, const char ***argv,
    char *err);
/* 1 if the bundle records a pooled release (its first round is one). */
int bundle_is_pooled(const struct bundle *b);
/* The rounds it records. */
size_t bundle_nrounds(const struct bundle *b);
/* A federation of the recorded node names, no endpoints, trusting only ${trust}. */
int bundle_federation(const struct bundle *b, struct pki_trust *trust, struct federation *fed,
    char *err);

/*
 * Replay the next round for the nodes of ${fed} (the ones the live command
 * sent it to): the query envelope (borrowed, in *query and *len) and, for each
 * node, its recorded status or its verified response, as client_fanout()
 * would have filled rep.  *query stays valid until the next call.  A signature, certificate or binding that does not
 * verify fails the whole bundle (-1 with err): it was altered.
 */
int bundle_replay(struct bundle *b, const struct federation *fed, const uint8_t **query,
    size_t *len, struct node_reply *rep, char *err);
/*
 * The next round as a pooled one: its query (as bundle_replay), the hub's
 * name (borrowed) and its PoolReply, copied to reply; nothing verified yet.
 */
int bundle_replay_pooled(struct bundle *b, const uint8_t **query, size_t *len,
    const char **hub, struct buf *reply, char *err);

#endif /* !BUNDLE_H */
