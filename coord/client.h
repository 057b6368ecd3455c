/*
 * client - send one signed query to every node at once and collect their
 * verified answers within a deadline.
 *
 * A reply counts only after it passes, in order: envelope decode (bounded),
 * the signer certificate (the pinned one, or one of the federation CA with
 * role node and the node's name), the signature over the body bytes, body
 * decode, node name, and the query hash binding it to the query we sent.
 * Anything else leaves that node with status "error" and the reason.
 *
 * Nodes behind the federation's hub (proto/DESIGN.md "Through a hub") get the
 * same signed query, sealed to each node's transport key, in one HUB_ROUTE
 * signed by the analyst; their answers come back sealed to the analyst's
 * transport key, are opened with the analyst's key, and then verified exactly
 * as a direct answer.  The hub's own verdicts (a node it does not know, not
 * connected, busy, too slow, or a route it refused) name the node and the hub.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "coord/federation.h"
#include "lib/seal.h"
#include "lib/util.h"
#include "proto/wire.h"

#define CLIENT_DEFAULT_TIMEOUT_MS 10000
#define CLIENT_MAX_TIMEOUT_MS 3600000
#define CLIENT_ROUTE_TTL_SLACK_MS 60000 /* a hub route stays valid this long past its timeout
                                           (clock skew between analyst and hub), at most
                                           WIRE_MAX_LIFETIME_MS in all */

enum node_status { NODE_OK, NODE_REFUSED, NODE_TIMEOUT, NODE_ERROR };

struct node_reply {
    enum node_status status;
    char reason[FEDRA_ERRLEN];      /* why, where not ok */
    char code[32];                  /* the node's refusal class, if refused */
    Fedra__ResponseBody *body;      /* verified body (ok or refused), else NULL */
    struct buf raw;                 /* the signed response envelope as received */
    double ms;                      /* time to the answer */
};

const char *client_status_name(enum node_status s);     /* ok, refused, timeout, error */

/* replies has f->nnodes entries, filled in federation order. */
/* One query, one session: connects, fans out, disconnects. */
int client_fanout(const struct federation *f, const uint8_t *query, size_t len, int timeout_ms,
    struct node_reply *replies, char *err);
void client_replies_release(struct node_reply *replies, size_t n);

/*
 * A session keeps one connected socket per node, and the verdict on each
 * node's certificate, across queries, so a long-running coordinator (or a
 * model fit of many rounds) pays the CURVE handshake (~1.5 ms a node) and
 * the certificate chain check once per node, not once per query.  A node
 * that timed out or answered badly gets a fresh socket on the next query, so
 * a late answer to an old query is dropped with the old socket instead of
 * being read as the answer to the new one.  f must outlive the session.
 */
/*
 * The analyst's side of the boxes through the hub (lib/seal.h): cert and
 * key (they must outlive this), the transport key cert binds (derived from
 * key; refused if cert binds another), and its pair key with each node of f,
 * derived on first use and kept: one X25519 agreement per node for as long
 * as this lives, where anonymous sealed boxes cost two per node per query
 * and one more per answer.
 */
struct client_keys {
    const struct federation *f;
    const struct pki_cert *cert;        /* NULL: not initialised */
    const struct pki_key *key;
    uint8_t pub[SEAL_KEY_LEN], sec[SEAL_KEY_LEN];
    uint8_t (*pair)[SEAL_PAIR_LEN];     /* per node of f, valid where have[i] */
    unsigned char *have;
};
int client_keys_init(struct client_keys *k, const struct federation *f,
    const struct pki_cert *cert, const struct pki_key *key, char *err);
void client_keys_release(struct client_keys *k);
/* The pair key with node i of f; NULL with err if the key agreement fails. */
const uint8_t *client_keys_pair(struct client_keys *k, size_t i, char *err);

struct client_session;
struct client_session *client_session_open(const struct federation *f);
/*
 * The analyst, for the nodes behind the hub: routes are signed with key as
 * the holder of cert, and answers open with the transport key cert binds
 * (derived from key; refused if cert binds another).  Both must outlive the
 * session.  Without it, every node behind the hub is an error saying so.
 */
int client_session_analyst(struct client_session *s, const struct pki_cert *cert,
    const struct pki_key *key, char *err);
int client_session_fanout(struct client_session *s, const uint8_t *query, size_t len,
    int timeout_ms, struct node_reply *replies, char *err);
void client_session_close(struct client_session *s);
/* The session's analyst keys (client_session_analyst), or NULL if none was given. */
struct client_keys *client_session_keys(struct client_session *s);
/* The session's DEALER to the federation's hub, connected on first use; NULL with err. */
void *client_session_hub(struct client_session *s, char *err);
/* client_verify_reply() for node i of the session's federation, with its cached verdict. */
int client_session_verify(struct client_session *s, size_t i, const uint8_t qhash[WIRE_HASH_LEN],
    const uint8_t *msg, size_t len, Fedra__ResponseBody **body, char *err);

/*
 * The hub path's two halves, for the fanout and its tests.  client_hub_route:
 * the signed route envelope (a HubRoute, WIRE_HUB_ROUTE_CONTEXT) carrying the
 * query sealed to each of the n nodes idx[] of f, to f's hub, with a fresh
 * route_id (written to route_id).  client_session_hub_reply: node i's
 * HUB_REPLY h (its route_id and node already matched) into rep: opened,
 * verified, its status mapped.
 */
/* A DEALER, CURVE client with a transient key, pinned to key, connected to endpoint. */
void *client_open_dealer(void *ctx, const char *name, const char *endpoint, const uint8_t key[32],
    int64_t maxmsg, char *err);

int client_hub_route(struct client_keys *ks, const uint8_t *query, size_t len, const size_t *idx,
    size_t n, int timeout_ms, int pooled, uint8_t route_id[WIRE_QUERY_ID_LEN], struct buf *out,
    char *err);
void client_session_hub_reply(struct client_session *s, size_t i,
    const uint8_t qhash[WIRE_HASH_LEN], const Fedra__HubFrame *h, struct node_reply *rep);

/* Verify one signed response for node nd against the query hash; used by fanout. */
int client_verify_reply(const struct federation *f, const struct fed_node *nd,
    const uint8_t qhash[WIRE_HASH_LEN], const uint8_t *msg, size_t len,
    Fedra__ResponseBody **body, char *err);

/*
 * Build a query of spec for every node of f, sign it with key as the holder of
 * cert (its issuing chain travels along), valid ttl_ms from now, and write the
 * envelope to env (replacing its contents).  qid (may be NULL; 2 *
 * WIRE_QUERY_ID_LEN + 1 bytes) receives the fresh query id in hex.
 */
int client_sign_query(const struct federation *f, const struct pki_cert *cert,
    const struct pki_key *key, const Fedra__QuerySpec *spec, int64_t ttl_ms, struct buf *env,
    char *qid, char *err);

/* Certificate life cycle on the statistician's side. */
#define CLIENT_CERT_WARN_DAYS 30

/* Point e->chain at c's chain (storage: PKI_MAX_CHAIN entries, alive while e is packed). */
void client_envelope_chain(const struct pki_cert *c, Fedra__Envelope *e,
    ProtobufCBinaryData storage[PKI_MAX_CHAIN]);
/* One warning line per certificate (the analyst's, its chain, the federation CA)
 * expiring within CLIENT_CERT_WARN_DAYS; returns how many. */
size_t client_warn_expiry(const struct federation *f, const struct pki_cert *mine, FILE *out);
/* After a ping: one warning line per node whose certificate expires within
 * CLIENT_CERT_WARN_DAYS (or has expired); returns how many. */
size_t client_warn_ping(const struct federation *f, const struct node_reply *replies, FILE *out);

#endif /* !CLIENT_H */
