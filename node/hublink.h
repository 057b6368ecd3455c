/*
 * hublink - the node's outgoing link to the federation's hub (proto/DESIGN.md
 * "Through a hub"), for a registry whose network allows no inbound
 * connection.
 *
 * The node dials the hub with one DEALER socket as a CURVE client: its own
 * transport key (the key its certificate binds) and the hub's key, pinned
 * from the hub's certificate (`hub_cert`), which is checked like any other
 * (chain to ca_cert, CRL, validity, role hub) at start, on SIGHUP, when a new
 * CRL is installed and every HUBLINK_RECHECK_MS.  A hub certificate that does
 * not verify means no link at all (fail closed): the node says why in its log
 * and its status, and still serves `listen` if it has one.
 *
 * libzmq reconnects by itself with a backoff from HUBLINK_RECONNECT_MS to
 * HUBLINK_RECONNECT_MAX_MS, and ZMTP heartbeats notice a dead link within
 * HUBLINK_HEARTBEAT_TIMEOUT_MS; a link without a connection for
 * HUBLINK_REDIAL_MS starts over with a new socket.  A socket monitor says when a CURVE handshake
 * succeeded, so the node says HUB_HELLO at once (and again every
 * WIRE_HUB_HELLO_INTERVAL_MS, its keepalive) and a restarted hub knows it
 * within a round trip.  The link is "up" while HUB_WELCOMEs arrive (none for
 * HUBLINK_WELCOME_LOST_MS: back to "connecting"), "refused" when the hub
 * refuses the hello (its reason is shown), "connecting" otherwise.
 *
 * The hub is not trusted.  A HUB_FORWARD's payload is a box (lib/seal.h, at
 * most WIRE_MAX_MODEL_QUERY) from an analyst's transport key to the node's:
 * opened under the pair key of the two (kept per analyst, HUBLINK_KEY_CACHE),
 * the envelope inside goes, through hublink_answer_fn, down exactly the path
 * of a direct query (node/serve.c: every check, the audit log, replay
 * protection), provided the box's sender is the transport key bound into
 * the certificate that signed the query (Envelope.signer_cert); the signed
 * response envelope goes back boxed under the same pair key, as HUB_ANSWER
 * with the hub's tag.  A box that does not open, one from another key than
 * the signer's, or a query with no certificate key, gets HUB_ANSWER with status
 * HUB_STATUS_UNREADABLE and a fixed reason: nothing in it depends on the
 * data.  Any other frame from the hub that does not decode, or that a hub
 * has no business sending, is dropped and counted.
 *
 * Single-threaded: the node's main loop polls hublink_socket() and
 * hublink_monitor() and calls hublink_run(); nothing here blocks.
 */
#ifndef HUBLINK_H
#define HUBLINK_H

#include <stddef.h>
#include <stdint.h>

#include "certs/pki.h"
#include "lib/util.h"
#include "proto/wire.h"

#define HUBLINK_RECONNECT_MS 200        /* ZMQ_RECONNECT_IVL: first retry after a cut */
#define HUBLINK_RECONNECT_MAX_MS 5000   /* ZMQ_RECONNECT_IVL_MAX: the backoff's ceiling */
#define HUBLINK_HEARTBEAT_MS 2000       /* ZMQ_HEARTBEAT_IVL: a ZMTP PING this often */
#define HUBLINK_HEARTBEAT_TIMEOUT_MS 6000   /* no traffic this long: the connection is dead */
#define HUBLINK_HANDSHAKE_MS 5000       /* ZMQ_HANDSHAKE_IVL */
#define HUBLINK_HWM 64                  /* frames queued either way; also frames per run */
#define HUBLINK_LINGER_MS 0             /* answers to a hub we leave are lost anyway */
/* No welcome for three hello intervals: the hub has forgotten the node (DESIGN.md). */
#define HUBLINK_WELCOME_LOST_MS (3 * WIRE_HUB_HELLO_INTERVAL_MS)
/*
 * libzmq reconnects after a cut, but not after a protocol error (a hub that
 * sends a frame over HUBLINK_MAX_FRAME, say): it ends that connection for
 * good.  So a link with no connection this long gets a new socket.  Longer
 * than a reconnect try at the backoff's ceiling plus a handshake, so that an
 * ordinary reconnect is never cut short.
 */
#define HUBLINK_REDIAL_MS (3 * HUBLINK_RECONNECT_MAX_MS)
#define HUBLINK_HELLO_RETRY_MS 100     /* a hello the socket could not take yet: again after */
#define HUBLINK_RECHECK_MS 60000        /* the hub certificate re-verified (expiry, CRL) */
#define HUBLINK_LOG_EVERY_MS 10000      /* at most one line per this about dropped frames */
/* The largest frame a hub may send a node: a FORWARD of the largest sealed query. */
#define HUBLINK_MAX_FRAME (WIRE_MAX_SEALED_QUERY + 4096)
#define HUBLINK_MAX_REASON 256          /* bytes of a hub's refusal kept and shown */
#define HUBLINK_KEY_CACHE 16            /* analysts whose transport key is kept parsed */

enum hublink_state {
    HUBLINK_NO_HUB = 0,             /* the hub certificate does not verify: no link */
    HUBLINK_CONNECTING,             /* dialling, or connected and not (yet) welcomed */
    HUBLINK_UP,                     /* welcomes arrive */
    HUBLINK_REFUSED                 /* the hub refused the hello (reason) */
};

/* What `fedra-node status` shows about the link (strings borrowed from the link). */
struct hublink_info {
    const char *endpoint;           /* `hub` */
    const char *socks_proxy;        /* `socks_proxy`, or NULL */
    enum hublink_state state;
    const char *state_name;         /* "no link", "connecting", "up", "refused" */
    const char *reason;             /* why not up ("" when up) */
    int64_t since_ms;               /* wall clock of the last change of state */
    int64_t welcome_ms;             /* last welcome, 0 never */
    const char *hub_name;           /* from the hub certificate, or NULL */
    int64_t hub_not_after;          /* Unix seconds, 0 if no certificate loaded */
    uint64_t forwarded, unreadable, dropped;    /* since start */
};

struct hublink;

/*
 * Answer one query envelope (bytes as a direct client would send them):
 * reply gets the signed response envelope, sealed then to the analyst; or,
 * for a pooled query (issue 14), a PoolAnswer for the hub itself, the
 * release service, which the callback says by setting *to_hub (the link then
 * sends it as it is: the hop is CURVE-encrypted, and the share is masked).
 */
typedef void hublink_answer_fn(void *arg, const uint8_t *query, size_t len, struct buf *reply,
    int *to_hub);
/*
 * A pooled model fit's next round (HUB_ROUND, node/sharefit.h): reply gets
 * the PoolAnswer for the hub.
 */
typedef void hublink_round_fn(void *arg, const uint8_t *round, size_t len, struct buf *reply);
/* One line for the node's log (no newline). */
typedef void hublink_log_fn(void *arg, const char *line);

struct hublink_config {
    const char *endpoint;           /* ZeroMQ endpoint of the hub */
    const char *socks_proxy;        /* "host:port" or NULL */
    const char *hub_cert;           /* path of the hub's certificate (PEM or DER) */
    const uint8_t *curve_secret;    /* the node's transport secret key (PKI_CURVE_KEY_LEN) */
    hublink_answer_fn *answer;
    hublink_log_fn *log;            /* may be NULL */
    void *arg;                      /* passed to answer and log */
    hublink_round_fn *round;        /* may be NULL: rounds are then refused as unreadable */
};

/* A link in state "no link", with no socket yet; the strings are copied. */
struct hublink *hublink_new(const struct hublink_config *cfg);
void hublink_free(struct hublink *l);

/* The certificate (and chain) the hello presents: the node's own; again after a reload. */
void hublink_set_identity(struct hublink *l, const struct pki_cert *cert);

/*
 * Re-read and verify the hub certificate against t (kept: call again
 * whenever the trust object changes).  Usable: the socket is opened on zctx
 * (or re-opened, if the hub's key changed).  Not usable: the socket is
 * closed and the state is "no link" with the reason.
 */
void hublink_refresh(struct hublink *l, void *zctx, const struct pki_trust *t, int64_t now_ms);

/* For zmq_poll: the DEALER and its monitor (both NULL without a link). */
void *hublink_socket(const struct hublink *l);
void *hublink_monitor(const struct hublink *l);

/*
 * Everything due: monitor events, frames from the hub (each handled by
 * hublink_frame and its reply sent), the hello, the welcome deadline and the
 * certificate re-check.  Returns the milliseconds until it is due again.
 */
int64_t hublink_run(struct hublink *l, int64_t now_ms);

/*
 * One frame from the hub, without any socket: what the link does with it,
 * and in out the frame to send back (nothing appended if none).  Never fails:
 * what cannot be used is counted as dropped.
 */
void hublink_frame(struct hublink *l, const uint8_t *msg, size_t len, int64_t now_ms,
    struct buf *out);

/* Incremented at every change `fedra-node status` would show (state, welcome). */
uint64_t hublink_changes(const struct hublink *l);
void hublink_info(const struct hublink *l, struct hublink_info *out);
const char *hublink_state_name(enum hublink_state s);

/*
 * While the answer function runs for a FORWARD: the pooled auditor's history
 * the hub sent with it (HubFrame.pool_history, node/patoms.h); NULL, *n = 0
 * otherwise.
 */
const ProtobufCBinaryData *hublink_pool_history(const struct hublink *l, size_t *n);

#endif /* !HUBLINK_H */
