/*
 * client - see client.h.
 *
 * One DEALER socket per node, each a CURVE client pinned to the server key
 * in that node's certificate, with a transient client key pair.  All sends
 * go out first; then one poll loop collects answers until every node has
 * answered or the deadline passes, so a dead node costs at most the timeout.
 * Sockets live in a session (client.h) so that they can outlive one query.
 */
#include "coord/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <zmq.h>

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

static void *
open_socket(void *ctx, const struct fed_node *nd, char *err)
{
    char server[41], pub[41], sec[41];
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    if (s == NULL) {
        errf(err, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int zero = 0;
    int64_t maxmsg = (int64_t)WIRE_MAX_RESPONSE + WIRE_CURVE_OVERHEAD;
    zmq_z85_encode(server, nd->curve_key, 32);
    if (zmq_curve_keypair(pub, sec) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0) {
        errf(err, "cannot configure the socket for '%s': %s", nd->name, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    if (zmq_connect(s, nd->endpoint) != 0) {
        errf(err, "cannot connect to '%s' at '%s': %s", nd->name, nd->endpoint,
            zmq_strerror(errno));
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

int
client_session_fanout(struct client_session *sess, const uint8_t *query, size_t len,
    int timeout_ms, struct node_reply *rep, char *err)
{
    const struct federation *f = sess->f;
    size_t n = f->nnodes;
    uint8_t qhash[WIRE_HASH_LEN];
    wire_query_hash(query, len, qhash);
    memset(rep, 0, n * sizeof *rep);
    if (sess->ctx == NULL && (sess->ctx = zmq_ctx_new()) == NULL)
        return errf(err, "zmq_ctx_new: %s", zmq_strerror(errno));
    void *ctx = sess->ctx;
    void **socks = sess->socks;
    int64_t t0 = util_mono_us(), deadline = util_mono_ms() + timeout_ms;
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        rep[i].status = NODE_TIMEOUT;
        if (socks[i] == NULL)
            socks[i] = open_socket(ctx, &f->nodes[i], rep[i].reason);
        if (socks[i] == NULL) {
            rep[i].status = NODE_ERROR;
            continue;
        }
        if (zmq_send(socks[i], query, len, ZMQ_DONTWAIT) < 0) {
            rep[i].status = NODE_ERROR;
            errf(rep[i].reason, "cannot send: %s", zmq_strerror(errno));
            continue;
        }
        pending++;
    }
    zmq_pollitem_t *items = xcalloc(n, sizeof *items);
    while (pending > 0) {
        int64_t left = deadline - util_mono_ms();
        if (left <= 0)
            break;
        size_t m = 0;
        size_t *map = xcalloc(n, sizeof *map);
        for (size_t i = 0; i < n; i++) {
            if (socks[i] != NULL && rep[i].status == NODE_TIMEOUT) {
                items[m] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
                map[m++] = i;
            }
        }
        int rc = zmq_poll(items, (int)m, (long)left);
        if (rc < 0 && errno != EINTR) {
            free(map);
            break;
        }
        for (size_t k = 0; rc > 0 && k < m; k++) {
            if (!(items[k].revents & ZMQ_POLLIN))
                continue;
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
            pending--;
            if (more) {
                rep[i].status = NODE_ERROR;
                errf(rep[i].reason, "answered with a multi-frame message");
                continue;
            }
            if (verify_reply(f, &f->nodes[i], &sess->verdicts[i], qhash, rep[i].raw.p,
                    rep[i].raw.len, &rep[i].body, rep[i].reason) != 0) {
                rep[i].status = NODE_ERROR;
                continue;
            }
            if (rep[i].body->status == FEDRA__STATUS__STATUS_OK) {
                rep[i].status = NODE_OK;
                rep[i].reason[0] = 0;
            } else {
                rep[i].status = NODE_REFUSED;
                snprintf(rep[i].reason, sizeof rep[i].reason, "%s", rep[i].body->reason);
                /* Node text goes to a terminal: no control characters. */
                for (char *c = rep[i].reason; *c; c++)
                    if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        *c = '?';
                snprintf(rep[i].code, sizeof rep[i].code, "%s", rep[i].body->code);
            }
        }
        free(map);
    }
    for (size_t i = 0; i < n; i++) {
        if (rep[i].status == NODE_TIMEOUT)
            errf(rep[i].reason, "no answer within %d ms from %s (node down, unreachable, or "
                "its transport key differs from its certificate)", timeout_ms,
                f->nodes[i].endpoint);
        /* A socket that may still deliver an old answer is not reused. */
        if (socks[i] != NULL && rep[i].status != NODE_OK && rep[i].status != NODE_REFUSED) {
            zmq_close(socks[i]);
            socks[i] = NULL;
        }
    }
    free(items);
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
    uint8_t id[WIRE_QUERY_ID_LEN], sig[PKI_SIG_LEN];
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
    if (pki_sign(key, body.p, body.len, sig) != 0) {
        buf_release(&body);
        return errf(err, "signing failed");
    }
    size_t derlen;
    const uint8_t *der = pki_cert_der(cert, &derlen);
    Fedra__Envelope e = FEDRA__ENVELOPE__INIT;
    e.version = WIRE_VERSION;
    e.body.data = body.p;
    e.body.len = body.len;
    e.signature.data = sig;
    e.signature.len = sizeof sig;
    e.signer_cert.data = (uint8_t *)der;
    e.signer_cert.len = derlen;
    ProtobufCBinaryData chain[PKI_MAX_CHAIN];
    client_envelope_chain(cert, &e, chain);
    env->len = 0;
    wire_pack(&e.base, env);
    buf_release(&body);
    return 0;
}
