/*
 * hublink - see hublink.h.
 */
#include "node/hublink.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <zmq.h>

#include "lib/seal.h"

/* The fixed reasons of an UNREADABLE answer: nothing in them depends on the query. */
#define HUBLINK_WHY_SEALED "the sealed query does not open with this node's transport key"
#define HUBLINK_WHY_NO_KEY "the query carries no signer certificate with a transport key to " \
    "seal the answer to"
#define HUBLINK_WHY_SEAL "the answer could not be sealed to the key of the query's signer"
#define HUBLINK_WHY_SENDER "the query was sealed by a transport key other than its signer's"

struct hublink {
    char *endpoint, *socks_proxy, *hub_cert;
    uint8_t secret[PKI_CURVE_KEY_LEN], public[PKI_CURVE_KEY_LEN];
    hublink_answer_fn *answer;
    hublink_round_fn *round;
    hublink_log_fn *log;
    void *arg;
    struct buf hello;               /* the packed HUB_HELLO */
    const struct pki_trust *trust;  /* the last one given to hublink_refresh */
    void *zctx;
    void *dealer, *monitor;
    unsigned generation;            /* of the socket: names its monitor endpoint */
    uint64_t nonce;                 /* random: a link at a freed link's address names others */
    int connected;                  /* a CURVE handshake succeeded, no disconnect since */
    int64_t down_ms;                /* since when not connected (socket opened, or lost) */
    uint8_t hub_key[PKI_CURVE_KEY_LEN];     /* pinned from the hub certificate */
    char hub_name[PKI_MAX_NAME + 1];
    int64_t hub_not_after;
    enum hublink_state state;
    char reason[FEDRA_ERRLEN];
    int64_t since_ms, welcome_ms, next_hello_ms, next_check_ms, next_drop_log_ms;
    uint64_t forwarded, unreadable, dropped, dropped_logged, changes;
    /* Analysts' transport keys by the SHA-256 of their certificate's DER: parsing a
       certificate costs as much as the rest of a count query (HUBLINK_KEY_CACHE). */
    struct {
        uint8_t fp[32];
        uint8_t key[PKI_CURVE_KEY_LEN];
    } keys[HUBLINK_KEY_CACHE];
    size_t nkeys, next_key;
    /* Pair keys (lib/seal.h) with the analysts' transport keys: one X25519 agreement per
       analyst, not one per query and two per answer (HUBLINK_KEY_CACHE of them). */
    struct {
        uint8_t peer[PKI_CURVE_KEY_LEN];
        uint8_t pair[SEAL_PAIR_LEN];
    } pairs[HUBLINK_KEY_CACHE];
    size_t npairs, next_pair;
    const Fedra__HubFrame *forwarding;  /* the FORWARD being answered (hublink_pool_history) */
};

static const char *const state_names[] = {"no link", "connecting", "up", "refused"};

const char *
hublink_state_name(enum hublink_state s)
{
    return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "?";
}

static void
hlog(const struct hublink *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
hlog(const struct hublink *l, const char *fmt, ...)
{
    if (l->log == NULL)
        return;
    char line[FEDRA_ERRLEN + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    l->log(l->arg, line);
}

/* A new state (and why), logged and shown once per change. */
static void
set_state(struct hublink *l, enum hublink_state s, int64_t now, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
set_state(struct hublink *l, enum hublink_state s, int64_t now, const char *fmt, ...)
{
    char why[sizeof l->reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (s == l->state && strcmp(why, l->reason) == 0)
        return;
    if (s != l->state)
        l->since_ms = now;
    l->state = s;
    snprintf(l->reason, sizeof l->reason, "%s", why);
    l->changes++;
    hlog(l, "hub link %s: %s%s%s", l->endpoint, hublink_state_name(s), why[0] ? ": " : "", why);
}

struct hublink *
hublink_new(const struct hublink_config *cfg)
{
    struct hublink *l = xcalloc(1, sizeof *l);
    l->endpoint = xstrdup(cfg->endpoint);
    l->socks_proxy = cfg->socks_proxy ? xstrdup(cfg->socks_proxy) : NULL;
    l->hub_cert = xstrdup(cfg->hub_cert);
    memcpy(l->secret, cfg->curve_secret, sizeof l->secret);
    if (pki_curve_public(l->secret, l->public) != 0)
        memset(l->public, 0, sizeof l->public);     /* no box opens: every FORWARD unreadable */
    l->answer = cfg->answer;
    l->round = cfg->round;
    l->log = cfg->log;
    l->arg = cfg->arg;
    l->state = HUBLINK_NO_HUB;
    /* The monitor's inproc name must be new in the context: a closed socket's name can
       linger a moment, and a new link may be allocated at the old one's address. */
    if (RAND_bytes((unsigned char *)&l->nonce, sizeof l->nonce) != 1)
        l->nonce = (uint64_t)util_mono_us() ^ (uint64_t)(uintptr_t)l;
    snprintf(l->reason, sizeof l->reason, "the hub certificate is not loaded yet");
    return l;
}

static void
close_socket(struct hublink *l)
{
    if (l->monitor != NULL) {
        zmq_socket_monitor(l->dealer, NULL, 0);
        zmq_close(l->monitor);
    }
    if (l->dealer != NULL)
        zmq_close(l->dealer);
    l->dealer = l->monitor = NULL;
    l->connected = 0;
}

void
hublink_free(struct hublink *l)
{
    if (l == NULL)
        return;
    close_socket(l);
    OPENSSL_cleanse(l->secret, sizeof l->secret);
    OPENSSL_cleanse(l->pairs, sizeof l->pairs);
    buf_release(&l->hello);
    free(l->endpoint);
    free(l->socks_proxy);
    free(l->hub_cert);
    free(l);
}

void
hublink_set_identity(struct hublink *l, const struct pki_cert *cert)
{
    Fedra__HubFrame f = FEDRA__HUB_FRAME__INIT;
    ProtobufCBinaryData chain[PKI_MAX_CHAIN];
    f.version = WIRE_VERSION;
    f.type = FEDRA__HUB_TYPE__HUB_HELLO;
    f.cert.data = (uint8_t *)pki_cert_der(cert, &f.cert.len);
    f.n_chain = pki_cert_chain_count(cert);
    for (size_t i = 0; i < f.n_chain && i < PKI_MAX_CHAIN; i++)
        chain[i].data = (uint8_t *)pki_cert_chain_der(cert, i, &chain[i].len);
    f.chain = chain;
    l->hello.len = 0;
    wire_pack(&f.base, &l->hello);
}

static int
setopt_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v);
}

/* The DEALER to the hub with its monitor; 0, or -1 with err. */
static int
open_socket(struct hublink *l, char *err)
{
    char mon[64];
    int64_t maxmsg = (int64_t)HUBLINK_MAX_FRAME + WIRE_CURVE_OVERHEAD;
    void *d = zmq_socket(l->zctx, ZMQ_DEALER);
    if (d == NULL)
        return errf(err, "zmq_socket: %s", zmq_strerror(errno));
    l->dealer = d;
    /*
     * Heartbeats here, unlike on the node's ROUTER (serve.c): the libzmq
     * 4.3.4 assertion they can trigger needs a flood of reconnecting peers on
     * one socket, and this socket has one peer, the hub; without them a hub
     * that vanished without a FIN (a cut cable, a dead VM) would go unnoticed
     * until TCP gave up, many minutes later.
     */
    if (zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, l->hub_key, PKI_CURVE_KEY_LEN) != 0 ||
        zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, l->public, PKI_CURVE_KEY_LEN) != 0 ||
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, l->secret, PKI_CURVE_KEY_LEN) != 0 ||
        zmq_setsockopt(d, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        setopt_int(d, ZMQ_RECONNECT_IVL, HUBLINK_RECONNECT_MS) != 0 ||
        setopt_int(d, ZMQ_RECONNECT_IVL_MAX, HUBLINK_RECONNECT_MAX_MS) != 0 ||
        setopt_int(d, ZMQ_HEARTBEAT_IVL, HUBLINK_HEARTBEAT_MS) != 0 ||
        setopt_int(d, ZMQ_HEARTBEAT_TIMEOUT, HUBLINK_HEARTBEAT_TIMEOUT_MS) != 0 ||
        setopt_int(d, ZMQ_HEARTBEAT_TTL, HUBLINK_HEARTBEAT_TIMEOUT_MS) != 0 ||
        setopt_int(d, ZMQ_HANDSHAKE_IVL, HUBLINK_HANDSHAKE_MS) != 0 ||
        setopt_int(d, ZMQ_SNDHWM, HUBLINK_HWM) != 0 ||
        setopt_int(d, ZMQ_RCVHWM, HUBLINK_HWM) != 0 ||
        /* Nothing queues for a connection that is not up: a hello then is stale. */
        setopt_int(d, ZMQ_IMMEDIATE, 1) != 0 ||
        setopt_int(d, ZMQ_LINGER, HUBLINK_LINGER_MS) != 0)
        return errf(err, "cannot configure the hub socket: %s", zmq_strerror(errno));
    if (l->socks_proxy != NULL &&
        zmq_setsockopt(d, ZMQ_SOCKS_PROXY, l->socks_proxy, strlen(l->socks_proxy)) != 0)
        return errf(err, "cannot use socks_proxy '%s': %s", l->socks_proxy, zmq_strerror(errno));
    snprintf(mon, sizeof mon, "inproc://fedra-hublink-%016llx-%u", (unsigned long long)l->nonce,
        ++l->generation);
    if (zmq_socket_monitor(d, mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
            ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        (l->monitor = zmq_socket(l->zctx, ZMQ_PAIR)) == NULL || zmq_connect(l->monitor, mon) != 0)
        return errf(err, "cannot monitor the hub socket: %s", zmq_strerror(errno));
    if (zmq_connect(d, l->endpoint) != 0)
        return errf(err, "cannot dial the hub at '%s': %s", l->endpoint, zmq_strerror(errno));
    return 0;
}

/* Load hub_cert and verify it as a hub's; 0 with its key, or -1 with why. */
static int
load_hub(struct hublink *l, const struct pki_trust *t, uint8_t key[PKI_CURVE_KEY_LEN],
    char *why)
{
    struct pki_cert *c = NULL;
    char err[FEDRA_ERRLEN];
    if (pki_cert_load(l->hub_cert, &c, err) != 0)
        return errf(why, "hub_cert: %s", err);
    int rc = -1;
    if (pki_verify(t, c, PKI_ROLE_HUB, 0, err) != PKI_OK)
        errf(why, "the hub certificate '%s' is not usable: %s", l->hub_cert, err);
    else if (pki_cert_name(c) == NULL || pki_cert_curve_key(c, key) != 0)
        errf(why, "the hub certificate '%s' names no hub or binds no transport key",
            l->hub_cert);
    else {
        snprintf(l->hub_name, sizeof l->hub_name, "%s", pki_cert_name(c));
        l->hub_not_after = pki_cert_not_after(c);
        rc = 0;
    }
    pki_cert_free(c);
    return rc;
}

void
hublink_refresh(struct hublink *l, void *zctx, const struct pki_trust *t, int64_t now_ms)
{
    char why[FEDRA_ERRLEN];
    uint8_t key[PKI_CURVE_KEY_LEN];
    l->trust = t;
    l->zctx = zctx;
    l->next_check_ms = now_ms + HUBLINK_RECHECK_MS;
    if (load_hub(l, t, key, why) != 0) {
        close_socket(l);
        set_state(l, HUBLINK_NO_HUB, now_ms, "%s", why);
        return;
    }
    if (l->dealer != NULL && CRYPTO_memcmp(key, l->hub_key, sizeof key) == 0)
        return;                     /* the same hub: the link stays as it is */
    if (l->dealer != NULL)
        hlog(l, "hub link %s: the hub certificate binds a new key; dialling again", l->endpoint);
    close_socket(l);
    memcpy(l->hub_key, key, sizeof key);
    if (open_socket(l, why) != 0) {
        close_socket(l);
        set_state(l, HUBLINK_NO_HUB, now_ms, "%s", why);
        return;
    }
    l->welcome_ms = 0;
    l->down_ms = now_ms;
    l->next_hello_ms = now_ms;
    set_state(l, HUBLINK_CONNECTING, now_ms, "dialling hub '%s'%s%s", l->hub_name,
        l->socks_proxy ? " through SOCKS5 proxy " : "", l->socks_proxy ? l->socks_proxy : "");
}

void *
hublink_socket(const struct hublink *l)
{
    return l->dealer;
}

void *
hublink_monitor(const struct hublink *l)
{
    return l->monitor;
}

uint64_t
hublink_changes(const struct hublink *l)
{
    return l->changes;
}

void
hublink_info(const struct hublink *l, struct hublink_info *out)
{
    memset(out, 0, sizeof *out);
    out->endpoint = l->endpoint;
    out->socks_proxy = l->socks_proxy;
    out->state = l->state;
    out->state_name = hublink_state_name(l->state);
    out->reason = l->reason;
    out->since_ms = l->since_ms;
    out->welcome_ms = l->welcome_ms;
    out->hub_name = l->hub_name[0] ? l->hub_name : NULL;
    out->hub_not_after = l->hub_not_after;
    out->forwarded = l->forwarded;
    out->unreadable = l->unreadable;
    out->dropped = l->dropped;
}

/* ---- frames from the hub ---- */

static void
drop(struct hublink *l, int64_t now, const char *why)
{
    l->dropped++;
    if (now < l->next_drop_log_ms)
        return;
    hlog(l, "hub link %s: dropped a frame from the hub (%llu dropped in all, %llu since the "
        "last line): %s", l->endpoint, (unsigned long long)l->dropped,
        (unsigned long long)(l->dropped - l->dropped_logged), why);
    l->dropped_logged = l->dropped;
    l->next_drop_log_ms = now + HUBLINK_LOG_EVERY_MS;
}

static void
welcome(struct hublink *l, const Fedra__HubFrame *f, int64_t now)
{
    if (f->reason[0] == 0) {
        l->welcome_ms = now;
        l->changes++;
        set_state(l, HUBLINK_UP, now, "%s", "");
        return;
    }
    /* The hub's words: bounded, and node_log turns control characters into spaces. */
    set_state(l, HUBLINK_REFUSED, now, "the hub refused this node: %.*s", HUBLINK_MAX_REASON,
        f->reason);
}

/* The transport key bound into the certificate that signed the query envelope. */
static int
signer_key(struct hublink *l, const uint8_t *query, size_t len, uint8_t key[PKI_CURVE_KEY_LEN])
{
    char err[FEDRA_ERRLEN];
    struct pki_cert *c = NULL;
    uint8_t fp[32];
    Fedra__Envelope *e = wire_envelope_decode(query, len, WIRE_MAX_MODEL_QUERY, err);
    if (e == NULL)
        return -1;
    pki_sha256(e->signer_cert.data, e->signer_cert.len, fp);
    for (size_t i = 0; i < l->nkeys; i++)
        if (memcmp(l->keys[i].fp, fp, sizeof fp) == 0) {
            memcpy(key, l->keys[i].key, PKI_CURVE_KEY_LEN);
            wire_envelope_free(e);
            return 0;
        }
    int rc = pki_cert_from_der(e->signer_cert.data, e->signer_cert.len, &c, err) == 0 &&
        pki_cert_curve_key(c, key) == 0 ? 0 : -1;
    if (rc == 0) {                  /* kept round-robin: a few analysts at most */
        size_t at = l->nkeys < HUBLINK_KEY_CACHE ? l->nkeys++
                                                  : l->next_key++ % HUBLINK_KEY_CACHE;
        memcpy(l->keys[at].fp, fp, sizeof fp);
        memcpy(l->keys[at].key, key, PKI_CURVE_KEY_LEN);
    }
    pki_cert_free(c);
    wire_envelope_free(e);
    return rc;
}

/* The pair key with the sender of a box; NULL if the key agreement fails. */
static const uint8_t *
pair_key(struct hublink *l, const uint8_t peer[PKI_CURVE_KEY_LEN])
{
    char err[FEDRA_ERRLEN];
    for (size_t i = 0; i < l->npairs; i++)
        if (memcmp(l->pairs[i].peer, peer, PKI_CURVE_KEY_LEN) == 0)
            return l->pairs[i].pair;
    uint8_t pair[SEAL_PAIR_LEN];
    if (seal_pair_key(l->secret, peer, pair, err) != 0)
        return NULL;                /* kept only once it is a key */
    size_t at = l->npairs < HUBLINK_KEY_CACHE ? l->npairs++ : l->next_pair++ % HUBLINK_KEY_CACHE;
    memcpy(l->pairs[at].peer, peer, PKI_CURVE_KEY_LEN);
    memcpy(l->pairs[at].pair, pair, SEAL_PAIR_LEN);
    OPENSSL_cleanse(pair, sizeof pair);
    return l->pairs[at].pair;
}

static void
answer_frame(uint64_t tag, Fedra__HubStatus status, const char *reason, const struct buf *payload,
    struct buf *out)
{
    Fedra__HubFrame a = FEDRA__HUB_FRAME__INIT;
    a.version = WIRE_VERSION;
    a.type = FEDRA__HUB_TYPE__HUB_ANSWER;
    a.tag = tag;
    a.status = status;
    a.reason = (char *)reason;
    if (payload != NULL) {
        a.payload.data = payload->p;
        a.payload.len = payload->len;
    }
    wire_pack(&a.base, out);
}

static void
forward(struct hublink *l, const Fedra__HubFrame *f, struct buf *out)
{
    char err[FEDRA_ERRLEN];
    uint8_t key[PKI_CURVE_KEY_LEN], from[SEAL_KEY_LEN];
    const uint8_t *pair = NULL;
    struct buf query = {0}, reply = {0}, sealed = {0};
    const char *why = NULL;
    l->forwarded++;
    if (seal_sender(f->payload.data, f->payload.len, from, err) != 0 ||
        (pair = pair_key(l, from)) == NULL ||
        seal_open(pair, f->payload.data, f->payload.len, WIRE_MAX_MODEL_QUERY, &query, err) != 0)
        why = HUBLINK_WHY_SEALED;
    else if (signer_key(l, query.p, query.len, key) != 0)
        why = HUBLINK_WHY_NO_KEY;
    else if (memcmp(key, from, sizeof key) != 0)
        why = HUBLINK_WHY_SENDER;   /* the answer goes under the pair key: the signer's */
    else {
        int to_hub = 0;
        l->forwarding = f;
        l->answer(l->arg, query.p, query.len, &reply, &to_hub);
        l->forwarding = NULL;
        if (to_hub)
            buf_append(&sealed, reply.p, reply.len);
        else if (seal_box(l->public, pair, reply.p, reply.len, &sealed, err) != 0)
            why = HUBLINK_WHY_SEAL;
    }
    if (why != NULL) {
        l->unreadable++;
        hlog(l, "hub link %s: forwarded query (tag %llu) unreadable: %s", l->endpoint,
            (unsigned long long)f->tag, why);
        answer_frame(f->tag, FEDRA__HUB_STATUS__HUB_STATUS_UNREADABLE, why, NULL, out);
    } else {
        answer_frame(f->tag, FEDRA__HUB_STATUS__HUB_STATUS_OK, "", &sealed, out);
    }
    if (query.p != NULL)
        OPENSSL_cleanse(query.p, query.len);
    buf_release(&query);
    buf_release(&reply);
    buf_release(&sealed);
}

/* A pooled fit's round: the hop is CURVE-encrypted, the shares in it masked. */
static void
pool_round(struct hublink *l, const Fedra__HubFrame *f, struct buf *out)
{
    struct buf reply = {0};
    l->forwarded++;
    if (l->round == NULL) {
        answer_frame(f->tag, FEDRA__HUB_STATUS__HUB_STATUS_UNREADABLE, "this node takes no "
            "pooled rounds", NULL, out);
        return;
    }
    l->round(l->arg, f->payload.data, f->payload.len, &reply);
    answer_frame(f->tag, FEDRA__HUB_STATUS__HUB_STATUS_OK, "", &reply, out);
    buf_release(&reply);
}

const ProtobufCBinaryData *
hublink_pool_history(const struct hublink *l, size_t *n)
{
    *n = l != NULL && l->forwarding != NULL ? l->forwarding->n_pool_history : 0;
    return *n > 0 ? l->forwarding->pool_history : NULL;
}

void
hublink_frame(struct hublink *l, const uint8_t *msg, size_t len, int64_t now_ms,
    struct buf *out)
{
    char err[FEDRA_ERRLEN];
    Fedra__HubFrame *f = wire_hubframe_decode(msg, len, err);
    if (f == NULL) {
        drop(l, now_ms, err);
        return;
    }
    if (f->type == FEDRA__HUB_TYPE__HUB_WELCOME)
        welcome(l, f, now_ms);
    else if (f->type == FEDRA__HUB_TYPE__HUB_FORWARD)
        forward(l, f, out);
    else if (f->type == FEDRA__HUB_TYPE__HUB_ROUND)
        pool_round(l, f, out);
    else
        drop(l, now_ms, "a frame type a hub does not send to a node");
    wire_hubframe_free(f);
}

/* ---- the socket ---- */

/* The hello; if the socket cannot take it yet (its pipe not attached), again shortly. */
static void
send_hello(struct hublink *l, int64_t now)
{
    int sent = l->hello.len > 0 &&
        zmq_send(l->dealer, l->hello.p, l->hello.len, ZMQ_DONTWAIT) >= 0;
    l->next_hello_ms = now + (sent ? WIRE_HUB_HELLO_INTERVAL_MS : HUBLINK_HELLO_RETRY_MS);
}

/* Monitor events (ZMQ v1: a 6-byte event/value frame, then the endpoint). */
static void
read_monitor(struct hublink *l, int64_t now)
{
    for (;;) {
        uint8_t ev[6];
        char ep[256];
        int n = zmq_recv(l->monitor, ev, sizeof ev, ZMQ_DONTWAIT);
        if (n < 0)
            return;
        if (zmq_recv(l->monitor, ep, sizeof ep, ZMQ_DONTWAIT) < 0 || n != (int)sizeof ev)
            continue;
        uint16_t event;
        uint32_t value;
        memcpy(&event, ev, 2);
        memcpy(&value, ev + 2, 4);
        switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            l->connected = 1;
            send_hello(l, now);
            if (l->state != HUBLINK_UP)
                set_state(l, l->state == HUBLINK_REFUSED ? HUBLINK_REFUSED : HUBLINK_CONNECTING,
                    now, "%s", l->state == HUBLINK_REFUSED ? l->reason :
                    "connected; waiting for the hub's welcome");
            break;
        case ZMQ_EVENT_DISCONNECTED:
            l->connected = 0;
            l->down_ms = now;
            set_state(l, HUBLINK_CONNECTING, now, "the connection to the hub was lost; "
                "reconnecting");
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            set_state(l, HUBLINK_CONNECTING, now, "the hub refused the connection (ZAP status "
                "%u); retrying", value);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            set_state(l, HUBLINK_CONNECTING, now, "CURVE handshake with the hub failed "
                "(protocol error 0x%x): is the peer the hub that hub_cert names?", value);
            break;
        default:
            set_state(l, HUBLINK_CONNECTING, now, "CURVE handshake with the hub failed (%s): "
                "is the peer the hub that hub_cert names?", zmq_strerror((int)value));
            break;
        }
    }
}

/* Frames from the hub, each one message of one part; the reply (if any) goes back. */
static void
read_frames(struct hublink *l, int64_t now)
{
    for (int k = 0; k < HUBLINK_HWM; k++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, l->dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        if (zmq_msg_more(&m)) {
            while (zmq_msg_more(&m)) {
                zmq_msg_close(&m);
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, l->dealer, 0) < 0)
                    break;
            }
            zmq_msg_close(&m);
            drop(l, now, "a message of more than one part");
            continue;
        }
        struct buf out = {0};
        hublink_frame(l, zmq_msg_data(&m), zmq_msg_size(&m), now, &out);
        zmq_msg_close(&m);
        if (out.len > 0 && zmq_send(l->dealer, out.p, out.len, ZMQ_DONTWAIT) < 0)
            hlog(l, "hub link %s: an answer could not be sent back (%s)", l->endpoint,
                zmq_strerror(errno));
        buf_release(&out);
    }
}

/* No connection for HUBLINK_REDIAL_MS: a new socket (libzmq gave up, or never got through). */
static void
redial(struct hublink *l, int64_t now)
{
    char why[FEDRA_ERRLEN];
    close_socket(l);
    if (open_socket(l, why) != 0) {
        close_socket(l);
        set_state(l, HUBLINK_NO_HUB, now, "%s", why);
        return;
    }
    l->down_ms = now;
    l->next_hello_ms = now;
    set_state(l, HUBLINK_CONNECTING, now, "no connection to the hub for %d s or more; "
        "dialling again", HUBLINK_REDIAL_MS / 1000);
}

int64_t
hublink_run(struct hublink *l, int64_t now_ms)
{
    if (l->trust != NULL && now_ms >= l->next_check_ms)
        hublink_refresh(l, l->zctx, l->trust, now_ms);
    if (l->dealer == NULL)
        return l->trust != NULL ? l->next_check_ms - now_ms : HUBLINK_RECHECK_MS;
    int64_t t0 = util_mono_ms();
    read_monitor(l, now_ms);
    read_frames(l, now_ms);
    now_ms += util_mono_ms() - t0;  /* answers take time */
    if (l->state == HUBLINK_UP && now_ms - l->welcome_ms > HUBLINK_WELCOME_LOST_MS)
        set_state(l, HUBLINK_CONNECTING, now_ms, "no welcome from the hub for %d s",
            HUBLINK_WELCOME_LOST_MS / 1000);
    if (l->connected && now_ms >= l->next_hello_ms)
        send_hello(l, now_ms);
    if (!l->connected && now_ms - l->down_ms >= HUBLINK_REDIAL_MS)
        redial(l, now_ms);
    int64_t next = l->next_check_ms;
    if (!l->connected && l->down_ms + HUBLINK_REDIAL_MS < next)
        next = l->down_ms + HUBLINK_REDIAL_MS;
    if (l->connected && l->next_hello_ms < next)
        next = l->next_hello_ms;
    if (l->state == HUBLINK_UP && l->welcome_ms + HUBLINK_WELCOME_LOST_MS + 1 < next)
        next = l->welcome_ms + HUBLINK_WELCOME_LOST_MS + 1;
    return next > now_ms ? next - now_ms : 0;
}
