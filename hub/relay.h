/*
 * relay - the hub's routing table and relay rules (proto/DESIGN.md "Through a
 * hub"), with no sockets: every input is one message from a peer, every
 * output goes through the caller's struct relay_io.  So the same code runs
 * in fedra-hub (hub/hubserve.c puts a ZeroMQ ROUTER behind the io), in the
 * unit tests and the fuzzer (a recording io), and in the test-only tampering
 * hub (tests/tools/tamperhub.c: an io whose tamper hook alters payloads).
 *
 * What it decides, and what it never does:
 *  - A node joins with HUB_HELLO {cert, chain}: the certificate must verify
 *    (chain to the federation CA, validity, CRL of every CA: fail closed,
 *    role node) and bind exactly the CURVE key the connection authenticated
 *    with (relay_peer.key, from the ZAP handler's User-Id).  HUB_WELCOME
 *    answers, reason empty = accepted.  The hello repeats as a keepalive; a
 *    node silent for RELAY_SILENT_HELLOS intervals is forgotten (offline).  A
 *    node that joins again (a new connection, the same name) replaces its old
 *    entry; forwards still waiting on the old connection are answered
 *    OFFLINE at once, and an answer arriving for them is dropped.
 *  - An analyst sends HUB_ROUTE: an Envelope signed by a certificate of role
 *    analyst (chain, CRL), whose body is a HubRoute: context, times within
 *    skew, hub == this hub's name, (signer fingerprint, route_id) never seen
 *    (bounded table, RELAY_REPLAY_MAX; full: refused, fail closed).  A route
 *    refused as a whole gets one HUB_REPLY REFUSED per node it names (one with
 *    an empty node if it cannot be read).
 *  - Each sealed query goes to the node of that name only, under a fresh
 *    relay tag, if the node is live and both its queue (queue_per_node) and
 *    the hub's (inflight_max) have room; otherwise at once a HUB_REPLY
 *    UNKNOWN / OFFLINE / BUSY.  A send the socket cannot take now (high-water
 *    mark) is BUSY for that node only: nothing is queued beyond the socket's
 *    own bounded buffer.  Each forward has its own deadline, the route's
 *    timeout_ms capped by timeout_max_ms: a node that does not answer in time
 *    gets HUB_REPLY TIMEOUT, and costs no other node anything.
 *  - HUB_ANSWER {tag} from the connection the query went to becomes HUB_REPLY
 *    {route_id, node, status OK or UNREADABLE, payload as sent}.  An answer
 *    with an unknown tag, or from another connection, is dropped and counted.
 *  - Anything else (undecodable bytes, several frames, a frame of a type this
 *    peer may not send) is junk: dropped, counted, logged at most once per
 *    RELAY_LOG_EVERY_MS per kind with the number dropped meanwhile.  Refused
 *    hellos and routes whose signature did not verify (anyone can send them)
 *    reach the relay log at the same rate, one entry then one summing the
 *    rest, so that a flood can neither fill the log nor the disk; a refused
 *    route that an analyst did sign is always recorded.
 * The hub opens no payload: it cannot read a query or an answer, and whatever
 * it altered would be caught by the node (box, signature) or by fedra (box,
 * signature, query hash).
 */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/pool.h"
#include "certs/pki.h"
#include "lib/util.h"
#include "proto/wire.h"

#define RELAY_SILENT_HELLOS 3               /* hello intervals of silence: offline */
#define RELAY_DEFAULT_QUEUE_PER_NODE 16     /* forwards awaiting one node's answers */
#define RELAY_MAX_QUEUE_PER_NODE 1024
#define RELAY_DEFAULT_INFLIGHT 1024         /* forwards awaiting an answer, all nodes */
#define RELAY_MAX_INFLIGHT 65536
#define RELAY_DEFAULT_TIMEOUT_MAX_MS 60000  /* cap on a route's per-node timeout */
#define RELAY_MIN_TIMEOUT_MS 100
#define RELAY_MAX_TIMEOUT_MS WIRE_MAX_LIFETIME_MS
#define RELAY_DEFAULT_SKEW_MS 120000        /* clock skew tolerated on route times */
#define RELAY_MAX_SKEW_MS 3600000
#define RELAY_MAX_NODES 4096                /* node entries, live or remembered offline */
#define RELAY_REPLAY_MAX 100000             /* (analyst, route_id) pairs held until they expire */
#define RELAY_MAX_ANALYSTS 256              /* analyst names listed by status (all are counted) */
#define RELAY_MAX_ID 255                    /* a ZeroMQ routing id's bytes */
#define RELAY_KEY_HEX (2 * PKI_CURVE_KEY_LEN + 1)
#define RELAY_LOG_EVERY_MS 1000             /* one log line per kind of drop, at most */
#define RELAY_MAX_POOLED 64                 /* pooled routes collecting shares at once */
/*
 * A pooled result is computed over the whole roster or not at all: two
 * results over participant sets that differ by one node would give that
 * node's values away (docs/disclosure.md "Pooled release").  The roster is
 * the hub's (config `roster`), never the analyst's choice, and has at least
 * RELAY_MIN_ROSTER nodes: with 3, one node colluding with the analyst still
 * learns only the sum of the two others.
 */
#define RELAY_MIN_ROSTER POOL_MIN_PARTICIPANTS

/* Outcomes of relay_io.send. */
#define RELAY_SENT 0
#define RELAY_SEND_BUSY 1                   /* the peer's queue is full (EAGAIN) */
#define RELAY_SEND_GONE 2                   /* no such peer connected (EHOSTUNREACH) */

/* A connection: the socket's routing id, and the CURVE key it authenticated with (hex, or ""). */
struct relay_peer {
    uint8_t id[RELAY_MAX_ID];
    size_t idlen;
    char key[RELAY_KEY_HEX];
};

/* One relay log entry (hub/relaylog.h); pointers may be NULL, valid during the call. */
struct relay_event {
    int64_t ts_ms;
    const char *kind;               /* hello, route, forward, answer, timeout, busy, offline,
                                       unknown, unreadable, refused, gone */
    const char *analyst;            /* the route's verified signer, or "" */
    const uint8_t *route_id;        /* WIRE_QUERY_ID_LEN bytes */
    const uint8_t *query_hash;      /* WIRE_HASH_LEN bytes, as the route states it */
    const char *node;
    const uint8_t *answer_hash;     /* SHA-256 of the sealed answer as relayed */
    uint64_t size;                  /* bytes relayed (sealed query or answer) */
    const char *note;               /* the hub's own reason (refusals), or "" */
    /* Pooled release only: what the hub itself must keep to recompute a release
       (the pooled query, each masked share, the release); answer_hash is its
       SHA-256.  NULL for every relayed payload: those are never kept. */
    const uint8_t *blob;
    size_t bloblen;
};

/* Where tamperhub may alter a payload (tests only; fedra-hub installs no hook). */
enum relay_tamper_point {
    RELAY_TAMPER_FORWARD,           /* a sealed query about to go to node */
    RELAY_TAMPER_REPLY,             /* a sealed answer of node about to go to the analyst */
    RELAY_TAMPER_SHARE,             /* a node's pooled share (PoolAnswer) about to be added */
    RELAY_TAMPER_ROUND              /* a pooled fit's round message (PoolRound) about to go to node */
};

struct relay_io {
    /* Send one frame to peer; RELAY_SENT, RELAY_SEND_BUSY or RELAY_SEND_GONE. */
    int (*send)(void *arg, const struct relay_peer *to, const uint8_t *frame, size_t len);
    void (*event)(void *arg, const struct relay_event *e);     /* may be NULL */
    void (*log)(void *arg, const char *line);                  /* may be NULL */
    /* May replace payload, and rename node (PKI_MAX_NAME + 1 bytes); NULL: none. */
    void (*tamper)(void *tamper_arg, enum relay_tamper_point at, char *node, struct buf *payload);
    void *arg;                      /* for send, event and log */
    void *tamper_arg;
};

struct relay_limits {
    uint32_t queue_per_node;        /* 1 .. RELAY_MAX_QUEUE_PER_NODE */
    uint32_t inflight_max;          /* 1 .. RELAY_MAX_INFLIGHT */
    uint32_t timeout_max_ms;        /* RELAY_MIN_TIMEOUT_MS .. RELAY_MAX_TIMEOUT_MS */
    uint32_t skew_ms;               /* 0 .. RELAY_MAX_SKEW_MS */
    uint32_t hello_interval_ms;     /* 0: WIRE_HUB_HELLO_INTERVAL_MS; tests shorten it */
    uint32_t max_nodes;             /* 0: RELAY_MAX_NODES; tests lower it */
    uint32_t replay_max;            /* 0: RELAY_REPLAY_MAX; tests lower it */
};

/* Since start. */
struct relay_counters {
    uint64_t routes;                /* routes accepted */
    uint64_t forwards;              /* sealed queries forwarded */
    uint64_t answers;               /* answers relayed (ok or unreadable) */
    uint64_t timeouts, busy, offline, unknown, unreadable;
    uint64_t refused;               /* routes refused as a whole */
    uint64_t hellos_refused;        /* node hellos refused */
    uint64_t junk;                  /* undecodable or misplaced messages dropped */
    uint64_t stray;                 /* answers with an unknown tag or from another connection */
    uint64_t undelivered;           /* replies and welcomes the peer could not take */
    uint64_t analysts;              /* distinct analysts whose routes verified */
    uint64_t releases;              /* pooled results released (hub/pool.h) */
};

/* One node entry, for status. */
struct relay_node_info {
    const char *name;
    int live;                       /* 1: welcomed and heard from within the silence limit */
    int64_t since_ms;               /* this connection's first welcome */
    int64_t last_hello_ms;
    uint32_t inflight;
    uint64_t answered;
};

/* Both clocks of one moment: wall (Unix ms) for signed times, monotonic for deadlines. */
struct relay_now {
    int64_t wall_ms;
    int64_t mono_ms;
};

struct relay;

/* A relay for the hub named hub_name (its certificate's name); the io is copied. */
struct relay *relay_new(const struct relay_limits *lim, const char *hub_name,
    const struct relay_io *io);
void relay_free(struct relay *r);

/*
 * The trust (CA + CRL) every certificate is verified against; not owned,
 * must outlive its use.  NULL refuses everything.  A new trust re-verifies
 * every live node's certificate at once: a revoked node is dropped.
 */
void relay_set_trust(struct relay *r, const struct pki_trust *t, const struct relay_now *now);
/* Why a roster value (comma-separated node names, at least min) is bad, or NULL. */
const char *relay_roster_problem(const char *roster, uint32_t min, char *why, size_t whylen);
/* The pooled roster (copied; NULL: no pooled release) of at least min nodes. */
void relay_set_roster(struct relay *r, const char *roster, uint32_t min);
/*
 * The pooled auditor's history (hub/phist.h; held, not owned), NULL: off
 * (hub config pool_audit = off, for tests only; docs/disclosure.md §8.7).
 */
struct phist;
void relay_set_pool_audit(struct relay *r, struct phist *h);
/* The hub's certificate and key, which sign pooled releases (not owned; NULL: none). */
void relay_set_signer(struct relay *r, const struct pki_cert *cert, const struct pki_key *key);

/*
 * Why the hub must not relay now (its own certificate is unusable), or NULL
 * when it may: while set, every route and hello is refused with this reason.
 */
void relay_set_closed(struct relay *r, const char *why);

/* Limits that SIGHUP may change (queue_per_node, inflight_max, timeout_max_ms, skew_ms). */
void relay_set_limits(struct relay *r, const struct relay_limits *lim);

/* One message from peer: nparts ZeroMQ frames after the routing id, the first of them msg. */
void relay_input(struct relay *r, const struct relay_peer *from, const uint8_t *msg,
    size_t len, int nparts, const struct relay_now *now);

/* Time passes: deadlines, silent nodes, and the rate-limited drop summaries. */
void relay_tick(struct relay *r, const struct relay_now *now);

/* Milliseconds (monotonic) until relay_tick has something to do; -1: nothing pending. */
int64_t relay_next_ms(const struct relay *r, const struct relay_now *now);

const struct relay_counters *relay_counters(const struct relay *r);
/* 1 if something status shows changed since the last call (which clears it). */
int relay_changed(struct relay *r);
size_t relay_node_count(const struct relay *r);
void relay_node_get(const struct relay *r, size_t i, struct relay_node_info *out);
size_t relay_analyst_count(const struct relay *r);
const char *relay_analyst_name(const struct relay *r, size_t i);
/* Forwards awaiting an answer now, and replay-table entries held. */
size_t relay_inflight(const struct relay *r);
size_t relay_replay_held(const struct relay *r);

#endif /* !RELAY_H */
