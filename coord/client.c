/*
 * client - see client.h.
 *
 * One DEALER socket per node, each a CURVE client pinned to the server key
 * in that node's certificate, with a transient client key pair.  All sends
 * go out first; then one poll loop collects answers until every node has
 * answered or the deadline passes, so a dead node costs at most the timeout.
 * Sockets live in a session (client.h) so that they can outlive one query.
 *
 * Nodes behind the hub share one more DEALER, to the hub (CURVE client with a
 * transient key, pinned to the hub's key from its certificate): one HUB_ROUTE
 * goes out with the direct sends, and the same poll loop collects the hub's
 * HUB_REPLY frames, one per node, keeping only those of this route_id (a late
 * reply to an earlier route is dropped).  Every node keeps its own deadline.
 */
#include "coord/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <sodium.h>
#include <zmq.h>

#include "lib/seal.h"
#include "proto/evidence.h"

/*
 * A node's signer certificate as last verified in this session: the SHA-256
 * of its DER and chain, the parsed certificate, and the window in which the
 * verdict holds (its notBefore; the earlier of its notAfter and the CRL's
 * nextUpdate).  The federation's trust does not change during a session.
 */
struct verdict {
    uint8_t key[32];
    struct pki_cert *cert;          /* NULL: nothing cached */
    int64_t from, until;
};

struct client_session {
    const struct federation *f;
    void *ctx;
    void **socks;                   /* per node; NULL until (re)opened */
    struct verdict *verdicts;       /* per node */
    void *hub;                      /* to f->hub; NULL until (re)opened */
    /* The analyst (client_session_analyst), for the nodes behind the hub; keys.cert is
       NULL without one.  Its pair keys are kept for the session. */
    struct client_keys keys;
};

const char *
client_status_name(enum node_status s)
{
    switch (s) {
    case NODE_OK: return "ok";
    case NODE_REFUSED: return "refused";
    case NODE_TIMEOUT: return "timeout";
    default: return "error";
    }
}

/* vc (may be NULL): this node's cached verdict, used and refreshed when checking now. */
static int
verify_reply(const struct federation *f, const struct fed_node *nd, struct verdict *vc,
    const uint8_t qhash[WIRE_HASH_LEN], const uint8_t *msg, size_t len,
    Fedra__ResponseBody **out, char *err)
{
    char why[FEDRA_ERRLEN];
    struct pki_cert *sc = NULL;
    const struct pki_cert *signer = NULL;
    Fedra__ResponseBody *r = NULL;
    *out = NULL;
    Fedra__Envelope *env = wire_envelope_decode(msg, len, WIRE_MAX_RESPONSE, why);
    if (env == NULL)
        return errf(err, "unreadable response: %s", why);
    size_t pinlen = 0;
    const uint8_t *pin = nd->cert ? pki_cert_der(nd->cert, &pinlen) : NULL;
    int pinned = pin != NULL && env->signer_cert.len == pinlen &&
        memcmp(env->signer_cert.data, pin, pinlen) == 0;
    if (!pinned && f->trust == NULL) {
        errf(err, "response signed with a certificate other than the one in the "
            "federation file (add ca_cert to accept renewed node certificates)");
        goto fail;
    }
    /* The chain to the root: as the node sent it, else as the federation file holds it. */
    const struct pki_cert *from = env->n_chain > 0 || nd->cert == NULL ? NULL : nd->cert;
    size_t nc = from ? pki_cert_chain_count(from) : env->n_chain;
    const uint8_t *cd[PKI_MAX_CHAIN];
    size_t cl[PKI_MAX_CHAIN];
    for (size_t i = 0; i < nc && i < PKI_MAX_CHAIN; i++) {
        if (from != NULL) {
            cd[i] = pki_cert_chain_der(from, i, &cl[i]);
        } else {
            cd[i] = env->chain[i].data;
            cl[i] = env->chain[i].len;
        }
    }
    uint8_t key[32] = {0};
    int64_t now = util_now_ms() / 1000;
    if (vc != NULL && f->verify_at == 0) {
        pki_sha256(env->signer_cert.data, env->signer_cert.len, key);
        for (size_t i = 0; i < nc && i < PKI_MAX_CHAIN; i++)
            pki_sha256_2(key, sizeof key, cd[i], cl[i], key);
        if (vc->cert != NULL && memcmp(vc->key, key, sizeof key) == 0 && now >= vc->from &&
            now < vc->until)
            signer = vc->cert;      /* verified before in this session: same bytes, in time */
    }
    if (signer == NULL) {
        if (pki_cert_from_der(env->signer_cert.data, env->signer_cert.len, &sc, why) != 0)
            goto bad_cert;
        if (nc > 0 && pki_cert_set_chain(sc, cd, cl, nc, why) != 0)
            goto bad_cert;
        if (f->trust != NULL &&
            pki_verify(f->trust, sc, PKI_ROLE_NODE, f->verify_at, why) != PKI_OK)
            goto bad_cert;
        signer = sc;
    }
    if (!pinned) {
        const char *nm = pki_cert_name(signer);
        if (nm == NULL || strcmp(nm, nd->name) != 0) {
            errf(err, "response signed by node '%s', not '%s'", nm ? nm : "?", nd->name);
            goto fail;
        }
    }
    if (evidence_response(env, signer, nd->name, qhash, &r, err) != 0)
        goto fail;
    if (vc != NULL && f->verify_at == 0 && signer == sc) {
        /* Keep the verdict for the next answer of this node in this session. */
        pki_cert_free(vc->cert);
        memcpy(vc->key, key, sizeof key);
        vc->cert = sc;
        vc->from = pki_cert_not_before(sc);
        vc->until = pki_cert_not_after(sc);
        int64_t next = f->trust ? pki_trust_crl_next_update(f->trust) : -1;
        if (next >= 0 && next < vc->until)
            vc->until = next;
        sc = NULL;
    }
    pki_cert_free(sc);
    wire_envelope_free(env);
    *out = r;
    return 0;
bad_cert:
    errf(err, "response signer certificate rejected: %s", why);
fail:
    wire_response_free(r);
    pki_cert_free(sc);
    wire_envelope_free(env);
    return -1;
}

int
client_verify_reply(const struct federation *f, const struct fed_node *nd,
    const uint8_t qhash[WIRE_HASH_LEN], const uint8_t *msg, size_t len,
    Fedra__ResponseBody **out, char *err)
{
    return verify_reply(f, nd, NULL, qhash, msg, len, out, err);
}

void *
client_open_dealer(void *ctx, const char *name, const char *endpoint, const uint8_t key[32],
    int64_t maxmsg, char *err)
{
    char server[41], pub[41], sec[41];
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    if (s == NULL) {
        errf(err, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int zero = 0;
    zmq_z85_encode(server, key, 32);
    if (zmq_curve_keypair(pub, sec) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0) {
        errf(err, "cannot configure the socket for '%s': %s", name, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    if (zmq_connect(s, endpoint) != 0) {
        errf(err, "cannot connect to '%s' at '%s': %s", name, endpoint, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

struct client_session *
client_session_open(const struct federation *f)
{
    struct client_session *s = xcalloc(1, sizeof *s);
    s->f = f;
    s->socks = xcalloc(f->nnodes ? f->nnodes : 1, sizeof *s->socks);
    s->verdicts = xcalloc(f->nnodes ? f->nnodes : 1, sizeof *s->verdicts);
    return s;
}

void
client_session_close(struct client_session *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->f->nnodes; i++) {
        if (s->socks[i] != NULL)
            zmq_close(s->socks[i]);
        pki_cert_free(s->verdicts[i].cert);
    }
    if (s->hub != NULL)
        zmq_close(s->hub);
    client_keys_release(&s->keys);
    if (s->ctx != NULL)
        zmq_ctx_term(s->ctx);
    free(s->socks);
    free(s->verdicts);
    free(s);
}

int
client_session_verify(struct client_session *s, size_t i, const uint8_t qhash[WIRE_HASH_LEN],
    const uint8_t *msg, size_t len, Fedra__ResponseBody **body, char *err)
{
    return verify_reply(s->f, &s->f->nodes[i], &s->verdicts[i], qhash, msg, len, body, err);
}

int
client_fanout(const struct federation *f, const uint8_t *query, size_t len, int timeout_ms,
    struct node_reply *rep, char *err)
{
    struct client_session *s = client_session_open(f);
    int rc = client_session_fanout(s, query, len, timeout_ms, rep, err);
    client_session_close(s);
    return rc;
}

/* Node and hub text goes to a terminal: no control characters. */
static void
printable(char *s)
{
    for (char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
}

/* rep->raw holds node i's signed answer: verify it and set rep's status. */
static void
accept_reply(struct client_session *sess, size_t i, const uint8_t qhash[WIRE_HASH_LEN],
    struct node_reply *rep)
{
    if (client_session_verify(sess, i, qhash, rep->raw.p, rep->raw.len, &rep->body,
            rep->reason) != 0) {
        rep->status = NODE_ERROR;
        return;
    }
    if (rep->body->status == FEDRA__STATUS__STATUS_OK) {
        rep->status = NODE_OK;
        rep->reason[0] = 0;
    } else {
        rep->status = NODE_REFUSED;
        snprintf(rep->reason, sizeof rep->reason, "%s", rep->body->reason);
        printable(rep->reason);
        snprintf(rep->code, sizeof rep->code, "%s", rep->body->code);
    }
}

int
client_keys_init(struct client_keys *k, const struct federation *f, const struct pki_cert *cert,
    const struct pki_key *key, char *err)
{
    uint8_t bound[PKI_CURVE_KEY_LEN];
    memset(k, 0, sizeof *k);
    if (pki_key_curve_secret(key, k->sec) != 0 || pki_curve_public(k->sec, k->pub) != 0) {
        sodium_memzero(k->sec, sizeof k->sec);
        return errf(err, "cannot derive the transport key of the analyst key");
    }
    int unbound = pki_cert_curve_key(cert, bound) != 0;
    if (unbound || memcmp(bound, k->pub, sizeof bound) != 0) {
        sodium_memzero(k->sec, sizeof k->sec);
        return unbound
            ? errf(err, "certificate '%s' binds no transport key, which nodes behind a hub "
                  "seal their answers to (ask the federation admin for a new one)",
                  pki_cert_subject_cn(cert))
            : errf(err, "certificate '%s' binds a transport key other than its key's",
                  pki_cert_subject_cn(cert));
    }
    k->f = f;
    k->cert = cert;
    k->key = key;
    k->pair = xcalloc(f->nnodes + 1, sizeof *k->pair);
    k->have = xcalloc(f->nnodes + 1, 1);
    return 0;
}

void
client_keys_release(struct client_keys *k)
{
    if (k->pair != NULL)
        sodium_memzero(k->pair, (k->f->nnodes + 1) * sizeof *k->pair);
    sodium_memzero(k->sec, sizeof k->sec);
    free(k->pair);
    free(k->have);
    memset(k, 0, sizeof *k);
}

const uint8_t *
client_keys_pair(struct client_keys *k, size_t i, char *err)
{
    if (!k->have[i]) {
        char why[FEDRA_ERRLEN];
        if (seal_pair_key(k->sec, k->f->nodes[i].curve_key, k->pair[i], why) != 0) {
            errf(err, "no key agreement with node '%s': %s", k->f->nodes[i].name, why);
            return NULL;
        }
        k->have[i] = 1;
    }
    return k->pair[i];
}

struct client_keys *
client_session_keys(struct client_session *s)
{
    return s->keys.cert != NULL ? &s->keys : NULL;
}

void *
client_session_hub(struct client_session *s, char *err)
{
    const struct federation *f = s->f;
    if (f->hub == NULL) {
        errf(err, "the federation file names no hub");
        return NULL;
    }
    if (s->hub == NULL) {
        if (s->ctx == NULL)
            s->ctx = zmq_ctx_new();
        s->hub = client_open_dealer(s->ctx, f->hub->name, f->hub->endpoint, f->hub->curve_key,
            (int64_t)WIRE_MAX_HUB_FRAME + WIRE_CURVE_OVERHEAD, err);
    }
    return s->hub;
}

void *
client_session_ctx(struct client_session *s)
{
    return s->ctx;
}

int
client_session_analyst(struct client_session *s, const struct pki_cert *cert,
    const struct pki_key *key, char *err)
{
    client_keys_release(&s->keys);
    return client_keys_init(&s->keys, s->f, cert, key, err);
}

/* Sign body with key as the holder of cert; the Envelope (with cert's chain) goes to out. */
static int
sign_envelope(const struct pki_cert *cert, const struct pki_key *key, const struct buf *body,
    struct buf *out, char *err)
{
    out->len = 0;
    if (evidence_sign(cert, key, body->p, body->len, out) != 0)
        return errf(err, "signing failed");
    return 0;
}

int
client_hub_route(struct client_keys *ks, const uint8_t *query, size_t len, const size_t *idx,
    size_t n, int timeout_ms, int pooled, uint8_t route_id[WIRE_QUERY_ID_LEN], struct buf *out,
    char *err)
{
    const struct federation *f = ks->f;
    if (f->hub == NULL)
        return errf(err, "the federation file names no hub");
    if (n == 0 || n > WIRE_MAX_AUDIENCE)
        return errf(err, "a route names 1..%d nodes, not %zu", WIRE_MAX_AUDIENCE, n);
    if (RAND_bytes(route_id, WIRE_QUERY_ID_LEN) != 1)
        return errf(err, "no randomness for the route id");
    uint8_t qhash[WIRE_HASH_LEN];
    wire_query_hash(query, len, qhash);
    struct buf *sealed = xcalloc(n, sizeof *sealed);
    Fedra__SealedQuery *sq = xcalloc(n, sizeof *sq), **sqp = xcalloc(n, sizeof *sqp);
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const struct fed_node *nd = &f->nodes[idx[k]];
        char why[FEDRA_ERRLEN];
        const uint8_t *pair = client_keys_pair(ks, idx[k], why);
        if (pair == NULL || seal_box(ks->pub, pair, query, len, &sealed[k], why) != 0) {
            rc = errf(err, "cannot seal the query to node '%s': %s", nd->name, why);
            break;
        }
        fedra__sealed_query__init(&sq[k]);
        sq[k].node = nd->name;
        sq[k].sealed.data = sealed[k].p;
        sq[k].sealed.len = sealed[k].len;
        sqp[k] = &sq[k];
    }
    if (rc == 0) {
        Fedra__HubRoute r = FEDRA__HUB_ROUTE__INIT;
        r.context = (char *)WIRE_HUB_ROUTE_CONTEXT;
        r.route_id.data = route_id;
        r.route_id.len = WIRE_QUERY_ID_LEN;
        r.issued_at_ms = util_now_ms();
        /* The hub caps the per-node wait itself; the route's life stays within the wire's. */
        int64_t life = (int64_t)timeout_ms + CLIENT_ROUTE_TTL_SLACK_MS;
        r.expires_at_ms = r.issued_at_ms +
            (life < WIRE_MAX_LIFETIME_MS ? life : WIRE_MAX_LIFETIME_MS);
        r.hub = f->hub->name;
        r.timeout_ms = (uint32_t)timeout_ms;
        r.query_hash.data = qhash;
        r.query_hash.len = sizeof qhash;
        r.n_queries = n;
        r.queries = sqp;
        if (pooled) {               /* the release service reads the query itself */
            r.pooled_query.data = (uint8_t *)query;
            r.pooled_query.len = len;
        }
        struct buf body = {0};
        wire_pack(&r.base, &body);
        rc = sign_envelope(ks->cert, ks->key, &body, out, err);
        buf_release(&body);
    }
    if (rc == 0 && out->len > WIRE_MAX_HUB_ROUTE)
        rc = errf(err, "the route to hub '%s' is %zu bytes, more than WIRE_MAX_HUB_ROUTE (%u)",
            f->hub->name, out->len, WIRE_MAX_HUB_ROUTE);
    for (size_t k = 0; k < n; k++)
        buf_release(&sealed[k]);
    free(sealed);
    free(sq);
    free(sqp);
    return rc;
}

void
client_session_hub_reply(struct client_session *s, size_t i, const uint8_t qhash[WIRE_HASH_LEN],
    const Fedra__HubFrame *h, struct node_reply *rep)
{
    const char *node = s->f->nodes[i].name, *hub = s->f->hub ? s->f->hub->name : "?";
    char why[FEDRA_ERRLEN];
    snprintf(why, sizeof why, "%s", h->reason ? h->reason : "");
    printable(why);
    const char *sep = why[0] ? ": " : "";
    rep->status = NODE_ERROR;
    rep->raw.len = 0;
    switch (h->status) {
    case FEDRA__HUB_STATUS__HUB_STATUS_OK:
        const uint8_t *pair = s->keys.cert == NULL ? NULL : client_keys_pair(&s->keys, i, why);
        if (s->keys.cert == NULL) {
            errf(rep->reason, "no analyst key to open the answer relayed by hub '%s'", hub);
        } else if (pair == NULL) {
            errf(rep->reason, "cannot open the answer relayed by hub '%s': %s", hub, why);
        } else if (seal_open(pair, h->payload.data, h->payload.len, WIRE_MAX_RESPONSE,
                       &rep->raw, why) != 0) {
            rep->raw.len = 0;
            errf(rep->reason, "answer altered in transit: the sealed answer relayed by hub '%s' "
                "is not a box between node '%s' and you: altered, another node's, or not the "
                "node's (%s)", hub, node, why);
        } else {
            accept_reply(s, i, qhash, rep);
        }
        return;
    case FEDRA__HUB_STATUS__HUB_STATUS_TIMEOUT:
        rep->status = NODE_TIMEOUT;
        errf(rep->reason, "node '%s' did not answer hub '%s' within the timeout%s%s", node, hub,
            sep, why);
        return;
    case FEDRA__HUB_STATUS__HUB_STATUS_UNKNOWN:
        errf(rep->reason, "node '%s' is not known to hub '%s'%s%s", node, hub, sep,
            why[0] ? why : " (it never connected, or the hub refused its certificate)");
        return;
    case FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE:
        errf(rep->reason, "node '%s' is not connected to hub '%s'%s%s", node, hub, sep, why);
        return;
    case FEDRA__HUB_STATUS__HUB_STATUS_BUSY:
        errf(rep->reason, "node '%s' is busy at hub '%s'%s%s", node, hub, sep,
            why[0] ? why : " (its queue is full)");
        return;
    case FEDRA__HUB_STATUS__HUB_STATUS_REFUSED:
        errf(rep->reason, "hub '%s' refused the route to node '%s'%s%s", hub, node, sep, why);
        return;
    case FEDRA__HUB_STATUS__HUB_STATUS_UNREADABLE:
        errf(rep->reason, "node '%s' could not read the query relayed by hub '%s'%s%s", node,
            hub, sep, why[0] ? why : " (altered in transit, or sealed to a key it does not hold)");
        return;
    default:
        errf(rep->reason, "hub '%s' sent an unknown status %d for node '%s'", hub,
            (int)h->status, node);
        return;
    }
}

/* 1 if query is a readable envelope signed with a certificate other than cert. */
static int
signed_by_other(const struct pki_cert *cert, const uint8_t *query, size_t len)
{
    Fedra__Envelope *e = wire_envelope_decode(query, len, WIRE_MAX_MODEL_QUERY, NULL);
    if (e == NULL)
        return 0;                   /* unreadable: the nodes say why */
    size_t dl;
    const uint8_t *der = pki_cert_der(cert, &dl);
    int other = e->signer_cert.len != dl || memcmp(e->signer_cert.data, der, dl) != 0;
    wire_envelope_free(e);
    return other;
}

/*
 * Send one HUB_ROUTE for the nodes behind the hub and mark them waiting;
 * returns how many wait.  If it cannot go, each of them gets the error.
 */
static size_t
send_route(struct client_session *sess, const uint8_t *query, size_t len, int timeout_ms,
    struct node_reply *rep, unsigned char *waiting, uint8_t route_id[WIRE_QUERY_ID_LEN])
{
    const struct federation *f = sess->f;
    size_t nh = 0, *idx = xcalloc(f->nnodes + 1, sizeof *idx);
    for (size_t i = 0; i < f->nnodes; i++)
        if (f->nodes[i].via_hub)
            idx[nh++] = i;
    char why[FEDRA_ERRLEN] = "";
    struct buf route = {0}, frame = {0};
    if (nh == 0 || f->hub == NULL) {
        free(idx);
        return 0;
    }
    if (sess->keys.cert == NULL) {
        errf(why, "no analyst certificate and key to reach it through hub '%s' (pass --cert and "
            "--key)", f->hub->name);
    } else if (signed_by_other(sess->keys.cert, query, len)) {
        errf(why, "the query is signed by another analyst: answers through hub '%s' are sealed "
            "to the query's signer, so only that analyst can send it", f->hub->name);
    } else if (client_hub_route(&sess->keys, query, len, idx, nh, timeout_ms, 0, route_id,
                   &route, why) == 0) {
        Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
        h.version = WIRE_VERSION;
        h.type = FEDRA__HUB_TYPE__HUB_ROUTE;
        h.payload.data = route.p;
        h.payload.len = route.len;
        wire_pack(&h.base, &frame);
        if (client_session_hub(sess, why) != NULL &&
            zmq_send(sess->hub, frame.p, frame.len, ZMQ_DONTWAIT) < 0)
            errf(why, "cannot send to hub '%s': %s", f->hub->name, zmq_strerror(errno));
    }
    for (size_t k = 0; k < nh; k++) {
        if (why[0] != 0) {
            rep[idx[k]].status = NODE_ERROR;
            snprintf(rep[idx[k]].reason, sizeof rep[idx[k]].reason, "%s", why);
        } else {
            waiting[idx[k]] = 1;
        }
    }
    buf_release(&route);
    buf_release(&frame);
    free(idx);
    return why[0] != 0 ? 0 : nh;
}

/* One HUB_REPLY of this route: settle the node(s) it is about; returns how many. */
static size_t
settle(struct client_session *sess, const Fedra__HubFrame *h, const uint8_t qhash[WIRE_HASH_LEN],
    struct node_reply *rep, unsigned char *waiting, int64_t t0)
{
    const struct federation *f = sess->f;
    size_t n = 0;
    for (size_t i = 0; i < f->nnodes; i++) {
        /* An empty node: the hub refused the route unread, for every node in it. */
        int about = h->node[0] == 0 ? h->status == FEDRA__HUB_STATUS__HUB_STATUS_REFUSED
                                    : strcmp(h->node, f->nodes[i].name) == 0;
        if (!about || !f->nodes[i].via_hub || !waiting[i])
            continue;               /* first reply wins; a node not routed is not ours */
        waiting[i] = 0;
        rep[i].ms = (double)(util_mono_us() - t0) / 1000.0;
        client_session_hub_reply(sess, i, qhash, h, &rep[i]);
        n++;
    }
    return n;
}

/* Read every frame waiting at the hub socket; returns how many nodes they settled. */
static size_t
hub_receive(struct client_session *sess, const uint8_t route_id[WIRE_QUERY_ID_LEN],
    const uint8_t qhash[WIRE_HASH_LEN], struct node_reply *rep, unsigned char *waiting,
    int64_t t0)
{
    size_t settled = 0;
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sess->hub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        Fedra__HubFrame *h = zmq_msg_more(&msg) ? NULL
            : wire_hubframe_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), NULL);
        zmq_msg_close(&msg);
        /* Not ours (a late reply to an earlier route, or junk): dropped. */
        if (h != NULL && h->type == FEDRA__HUB_TYPE__HUB_REPLY &&
            h->route_id.len == WIRE_QUERY_ID_LEN &&
            memcmp(h->route_id.data, route_id, WIRE_QUERY_ID_LEN) == 0)
            settled += settle(sess, h, qhash, rep, waiting, t0);
        wire_hubframe_free(h);
    }
    return settled;
}

int
client_session_fanout(struct client_session *sess, const uint8_t *query, size_t len,
    int timeout_ms, struct node_reply *rep, char *err)
{
    const struct federation *f = sess->f;
    size_t n = f->nnodes;
    uint8_t qhash[WIRE_HASH_LEN], route_id[WIRE_QUERY_ID_LEN];
    wire_query_hash(query, len, qhash);
    memset(rep, 0, n * sizeof *rep);
    if (sess->ctx == NULL && (sess->ctx = zmq_ctx_new()) == NULL)
        return errf(err, "zmq_ctx_new: %s", zmq_strerror(errno));
    void *ctx = sess->ctx;
    void **socks = sess->socks;
    unsigned char *waiting = xcalloc(n + 1, 1);
    int64_t t0 = util_mono_us(), deadline = util_mono_ms() + timeout_ms;
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        rep[i].status = NODE_TIMEOUT;
        if (f->nodes[i].via_hub)
            continue;
        if (socks[i] == NULL)
            socks[i] = client_open_dealer(ctx, f->nodes[i].name, f->nodes[i].endpoint,
                f->nodes[i].curve_key, (int64_t)WIRE_MAX_RESPONSE + WIRE_CURVE_OVERHEAD,
                rep[i].reason);
        if (socks[i] == NULL) {
            rep[i].status = NODE_ERROR;
            continue;
        }
        if (zmq_send(socks[i], query, len, ZMQ_DONTWAIT) < 0) {
            rep[i].status = NODE_ERROR;
            errf(rep[i].reason, "cannot send: %s", zmq_strerror(errno));
            continue;
        }
        waiting[i] = 1;
        pending++;
    }
    size_t hub_pending = send_route(sess, query, len, timeout_ms, rep, waiting, route_id);
    pending += hub_pending;
    zmq_pollitem_t *items = xcalloc(n + 1, sizeof *items);
    size_t *map = xcalloc(n + 1, sizeof *map);
    while (pending > 0) {
        int64_t left = deadline - util_mono_ms();
        if (left <= 0)
            break;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (waiting[i] && !f->nodes[i].via_hub) {
                items[m] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
                map[m++] = i;
            }
        }
        size_t hub_item = n + 1;    /* none */
        if (hub_pending > 0) {
            items[m] = (zmq_pollitem_t){sess->hub, 0, ZMQ_POLLIN, 0};
            hub_item = m++;
        }
        int rc = zmq_poll(items, (int)m, (long)left);
        if (rc < 0 && errno != EINTR)
            break;
        for (size_t k = 0; rc > 0 && k < m; k++) {
            if (!(items[k].revents & ZMQ_POLLIN))
                continue;
            if (k == hub_item) {
                size_t got = hub_receive(sess, route_id, qhash, rep, waiting, t0);
                hub_pending -= got;
                pending -= got;
                continue;
            }
            size_t i = map[k];
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, socks[i], ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&msg);
                continue;
            }
            int more = zmq_msg_more(&msg);
            buf_append(&rep[i].raw, zmq_msg_data(&msg), zmq_msg_size(&msg));
            zmq_msg_close(&msg);
            rep[i].ms = (double)(util_mono_us() - t0) / 1000.0;
            waiting[i] = 0;
            pending--;
            if (more) {
                rep[i].status = NODE_ERROR;
                errf(rep[i].reason, "answered with a multi-frame message");
                continue;
            }
            accept_reply(sess, i, qhash, &rep[i]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (waiting[i] && f->nodes[i].via_hub)
            errf(rep[i].reason, "no answer within %d ms through hub '%s' at %s (hub down or "
                "unreachable, or the node slow)", timeout_ms, f->hub->name, f->hub->endpoint);
        else if (waiting[i])
            errf(rep[i].reason, "no answer within %d ms from %s (node down, unreachable, or "
                "its transport key differs from its certificate)", timeout_ms,
                f->nodes[i].endpoint);
        /* A socket that may still deliver an old answer is not reused. */
        if (socks[i] != NULL && rep[i].status != NODE_OK && rep[i].status != NODE_REFUSED) {
            zmq_close(socks[i]);
            socks[i] = NULL;
        }
    }
    /* A hub that did not answer in time may hold the route queued: start afresh. */
    if (hub_pending > 0 && sess->hub != NULL) {
        zmq_close(sess->hub);
        sess->hub = NULL;
    }
    free(items);
    free(map);
    free(waiting);
    return 0;
}

void
client_replies_release(struct node_reply *rep, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        wire_response_free(rep[i].body);
        buf_release(&rep[i].raw);
    }
}

void
client_envelope_chain(const struct pki_cert *c, Fedra__Envelope *e,
    ProtobufCBinaryData storage[PKI_MAX_CHAIN])
{
    e->n_chain = pki_cert_chain_count(c);
    for (size_t i = 0; i < e->n_chain; i++)
        storage[i].data = (uint8_t *)pki_cert_chain_der(c, i, &storage[i].len);
    e->chain = e->n_chain > 0 ? storage : NULL;
}

static void
warn_line(FILE *out, const char *who, int64_t not_after, int64_t now, const char *advice)
{
    char ts[PKI_TIME_LEN];
    pki_format_time(not_after, ts);
    if (not_after <= now)
        fprintf(out, "fedra: warning: %s expired at %s; %s\n", who, ts, advice);
    else
        fprintf(out, "fedra: warning: %s expires at %s, in %lld day%s; %s\n", who, ts,
            (long long)((not_after - now) / 86400), (not_after - now) / 86400 == 1 ? "" : "s",
            advice);
}

size_t
client_warn_expiry(const struct federation *f, const struct pki_cert *mine, FILE *out)
{
    struct pki_expiry ex[1 + PKI_MAX_CHAIN + 4];
    int64_t now = util_now_ms() / 1000;
    size_t n = pki_expiring(f->trust, mine, now, (int64_t)CLIENT_CERT_WARN_DAYS * 86400, ex,
        sizeof ex / sizeof ex[0]);
    for (size_t i = 0; i < n; i++) {
        int ca = strncmp(ex[i].label, "CA ", 3) == 0;
        char who[PKI_LABEL_LEN + 16];
        snprintf(who, sizeof who, "%s%s", ca ? "" : "your ", ex[i].label);
        warn_line(out, who, ex[i].not_after, now, ca ? "the federation admin must renew it"
            : "ask the federation admin for a new one (fedra-cert issue --key)");
    }
    return n;
}

size_t
client_warn_ping(const struct federation *f, const struct node_reply *rep, FILE *out)
{
    int64_t now = util_now_ms() / 1000;
    size_t n = 0;
    for (size_t i = 0; i < f->nnodes; i++) {
        if (rep[i].status != NODE_OK || rep[i].body == NULL || rep[i].body->ping == NULL)
            continue;
        int64_t na = rep[i].body->ping->cert_not_after_ms / 1000;
        if (na - now > (int64_t)CLIENT_CERT_WARN_DAYS * 86400)
            continue;
        char who[PKI_MAX_NAME + 32];
        snprintf(who, sizeof who, "node '%s' certificate", f->nodes[i].name);
        warn_line(out, who, na, now, "its admin must renew it (fedra-cert issue --key, then "
            "SIGHUP)");
        n++;
    }
    return n;
}

int
client_sign_query(const struct federation *f, const struct pki_cert *cert,
    const struct pki_key *key, const Fedra__QuerySpec *spec, int64_t ttl_ms, struct buf *env,
    char *qid, char *err)
{
    uint8_t id[WIRE_QUERY_ID_LEN];
    if (RAND_bytes(id, sizeof id) != 1)
        return errf(err, "no randomness for the query id");
    if (qid != NULL)
        util_hex(id, sizeof id, qid);
    char **aud = xcalloc(f->nnodes + 1, sizeof *aud);
    for (size_t i = 0; i < f->nnodes; i++)
        aud[i] = f->nodes[i].name;
    Fedra__QueryBody q = FEDRA__QUERY_BODY__INIT;
    q.context = (char *)WIRE_QUERY_CONTEXT;
    q.query_id.data = id;
    q.query_id.len = sizeof id;
    q.issued_at_ms = util_now_ms();
    q.expires_at_ms = q.issued_at_ms + ttl_ms;
    q.n_audience = f->nnodes;
    q.audience = aud;
    q.analyst = (char *)(pki_cert_name(cert) ? pki_cert_name(cert) : pki_cert_subject_cn(cert));
    q.spec = (Fedra__QuerySpec *)spec;
    struct buf body = {0};
    wire_pack(&q.base, &body);
    free(aud);
    int rc = sign_envelope(cert, key, &body, env, err);
    buf_release(&body);
    return rc;
}
