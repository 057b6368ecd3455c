/*
 * test_hub_relay - the hub's relay rules (hub/relay.c) without sockets.
 *
 * A recording io stands in for the ROUTER socket: every frame the relay
 * sends is decoded and kept with the peer it went to, every relay-log event
 * and log line is kept, and a test can make a peer's sends fail (BUSY: the
 * high-water mark; GONE: disconnected).  Nodes and analysts are real
 * certificates of a test CA (tests/unit/fixture.h); routes are HubRoute
 * bodies signed by an analyst key, as fedra sends them; the relay never
 * opens a payload, so the "sealed" payloads here are any bytes.  Time is
 * the test's: every call gets an explicit clock.
 *
 * Every limit of relay.h has a test: queue_per_node, inflight_max,
 * timeout_max_ms, skew_ms, the hello silence (RELAY_SILENT_HELLOS), the node
 * table (max_nodes), the replay table (replay_max) and the drop-log rate
 * (RELAY_LOG_EVERY_MS).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certs/ca.h"
#include "certs/pki.h"
#include "hub/relay.h"
#include "lib/util.h"
#include "proto/wire.h"
#include "tests/unit/fixture.h"

#define MAX_SENT 1024
#define MAX_EVENTS 512
#define HUB "hub1"
#define T0_MONO 1000000LL

struct sent {
    struct relay_peer to;
    Fedra__HubFrame *f;
};

struct fx {
    char dir[64];
    struct pki_trust *trust, *trust_revoked;    /* CRL: none revoked; DE revoked */
    struct pki_cert *de, *fr, *it, *alice, *bob, *hubc;
    struct pki_key *alice_key, *bob_key;
    /* per test */
    struct relay *r;
    struct relay_now now;
    struct sent sent[MAX_SENT];
    size_t nsent;
    char events[MAX_EVENTS][16];
    size_t nevents;
    size_t nlog;
    char lastlog[1024];
    int busy_peer, gone_peer;       /* peer id byte whose sends fail, 0 none */
    int tamper_calls;
    int rid_counter;
};

/* ---- the recording io ---- */

static int
rec_send(void *arg, const struct relay_peer *to, const uint8_t *frame, size_t len)
{
    struct fx *f = arg;
    if (to->idlen > 0 && to->id[0] == f->busy_peer)
        return RELAY_SEND_BUSY;
    if (to->idlen > 0 && to->id[0] == f->gone_peer)
        return RELAY_SEND_GONE;
    char err[FEDRA_ERRLEN];
    Fedra__HubFrame *h = wire_hubframe_decode(frame, len, err);
    assert_non_null(h);             /* every frame the relay sends decodes */
    assert_true(f->nsent < MAX_SENT);
    f->sent[f->nsent].to = *to;
    f->sent[f->nsent++].f = h;
    return RELAY_SENT;
}

static void
rec_event(void *arg, const struct relay_event *e)
{
    struct fx *f = arg;
    assert_true(f->nevents < MAX_EVENTS);
    snprintf(f->events[f->nevents++], sizeof f->events[0], "%s", e->kind);
}

static void
rec_log(void *arg, const char *line)
{
    struct fx *f = arg;
    f->nlog++;
    snprintf(f->lastlog, sizeof f->lastlog, "%s", line);
}

static void
rec_tamper(void *arg, enum relay_tamper_point at, char *node, struct buf *payload)
{
    struct fx *f = arg;
    f->tamper_calls++;
    if (at == RELAY_TAMPER_FORWARD && payload->len > 0)
        payload->p[0] ^= 0xff;
    if (at == RELAY_TAMPER_REPLY && strcmp(node, "DE") == 0)
        snprintf(node, PKI_MAX_NAME + 1, "FR");
}

static void
clear_sent(struct fx *f)
{
    for (size_t i = 0; i < f->nsent; i++)
        wire_hubframe_free(f->sent[i].f);
    f->nsent = 0;
    f->nevents = 0;
}

/* ---- group setup: a CA, three nodes, two analysts (bob revoked later), a hub ---- */

static int
group_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "", p[160], q[160];
    struct ca *ca = NULL;
    struct ca_revoked rv;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_hub_relay.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(p, sizeof p, "%s/ca", f->dir);
    snprintf(q, sizeof q, "%s/out", f->dir);
    if ((ca = fixture_ca(p, "hub test CA", 3650, 0, err)) == NULL ||
        fixture_issue(ca, PKI_ROLE_NODE, "DE", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_NODE, "FR", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_NODE, "IT", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_ANALYST, "alice", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_ANALYST, "bob", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_HUB, HUB, q, NULL, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/crl1.pem", f->dir);
    if (fixture_crl(ca, p, err) != 0 ||
        ca_revoke(ca, "DE", NULL, "keyCompromise", 0, &rv, err) != 0 ||
        ca_revoke(ca, "bob", NULL, "keyCompromise", 0, &rv, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/crl2.pem", f->dir);
    if (fixture_crl(ca, p, err) != 0)
        goto fail;
    ca_free(ca);
    ca = NULL;
    snprintf(p, sizeof p, "%s/ca/ca.crt", f->dir);
    snprintf(q, sizeof q, "%s/crl1.pem", f->dir);
    if (pki_trust_load(p, q, 1, &f->trust, err) != 0)
        goto fail;
    snprintf(q, sizeof q, "%s/crl2.pem", f->dir);
    if (pki_trust_load(p, q, 1, &f->trust_revoked, err) != 0)
        goto fail;
    snprintf(q, sizeof q, "%s/out", f->dir);
    if ((f->de = fixture_cert(q, "DE", err)) == NULL ||
        (f->fr = fixture_cert(q, "FR", err)) == NULL ||
        (f->it = fixture_cert(q, "IT", err)) == NULL ||
        (f->alice = fixture_cert(q, "alice", err)) == NULL ||
        (f->bob = fixture_cert(q, "bob", err)) == NULL ||
        (f->hubc = fixture_cert(q, HUB, err)) == NULL ||
        (f->alice_key = fixture_key(q, "alice", err)) == NULL ||
        (f->bob_key = fixture_key(q, "bob", err)) == NULL)
        goto fail;
    *state = f;
    return 0;
fail:
    fprintf(stderr, "setup: %s\n", err);
    ca_free(ca);
    return -1;
}

static int
group_teardown(void **state)
{
    struct fx *f = *state;
    pki_cert_free(f->de);
    pki_cert_free(f->fr);
    pki_cert_free(f->it);
    pki_cert_free(f->alice);
    pki_cert_free(f->bob);
    pki_cert_free(f->hubc);
    pki_key_free(f->alice_key);
    pki_key_free(f->bob_key);
    pki_trust_free(f->trust);
    pki_trust_free(f->trust_revoked);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static const struct relay_limits default_limits = {
    RELAY_DEFAULT_QUEUE_PER_NODE, RELAY_DEFAULT_INFLIGHT, RELAY_DEFAULT_TIMEOUT_MAX_MS,
    RELAY_DEFAULT_SKEW_MS, 0, 0, 0,
};

static void
start(struct fx *f, const struct relay_limits *lim, int tamper)
{
    f->nsent = f->nevents = f->nlog = 0;
    f->busy_peer = f->gone_peer = 0;
    f->tamper_calls = 0;
    f->now.wall_ms = util_now_ms(); /* certificates and CRL are valid from now */
    f->now.mono_ms = T0_MONO;
    struct relay_io io = {rec_send, rec_event, rec_log, tamper ? rec_tamper : NULL, f, f};
    f->r = relay_new(lim ? lim : &default_limits, HUB, &io);
    relay_set_trust(f->r, f->trust, &f->now);
}

static int
setup(void **state)
{
    (void)state;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    clear_sent(f);
    relay_free(f->r);
    f->r = NULL;
    return 0;
}

static void
advance(struct fx *f, int64_t ms)
{
    f->now.wall_ms += ms;
    f->now.mono_ms += ms;
    relay_tick(f->r, &f->now);
}

/* ---- peers and frames ---- */

/* A peer with routing id byte id, authenticated with c's transport key (c NULL: a random one). */
static struct relay_peer
peer(uint8_t id, const struct pki_cert *c)
{
    struct relay_peer p;
    memset(&p, 0, sizeof p);
    p.id[0] = id;                   /* the recording io keys its failures on this byte */
    p.idlen = 5;
    uint8_t key[PKI_CURVE_KEY_LEN];
    memset(key, id, sizeof key);
    if (c != NULL)
        assert_int_equal(pki_cert_curve_key(c, key), 0);
    util_hex(key, sizeof key, p.key);
    return p;
}

static void
input_frame(struct fx *f, const struct relay_peer *from, Fedra__HubFrame *h)
{
    struct buf b = {0};
    h->version = WIRE_VERSION;
    wire_pack(&h->base, &b);
    relay_input(f->r, from, b.p, b.len, 1, &f->now);
    buf_release(&b);
}

static void
hello(struct fx *f, const struct relay_peer *from, const struct pki_cert *c)
{
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
    h.type = FEDRA__HUB_TYPE__HUB_HELLO;
    h.cert.data = (uint8_t *)pki_cert_der(c, &h.cert.len);
    input_frame(f, from, &h);
}

struct route_opts {
    const char *hub;
    int64_t issued_off_ms, life_ms;     /* relative to the test clock */
    uint32_t timeout_ms;
    int corrupt_sig;
    int same_id;                        /* reuse the last route_id */
    const struct pki_cert *signer;
    const struct pki_key *key;
};

static uint8_t last_rid[WIRE_QUERY_ID_LEN];

/* A signed route from alice (or o->signer) naming nodes[0..n). */
static void
route(struct fx *f, const struct relay_peer *from, const char *const *nodes, size_t n,
    const struct route_opts *o)
{
    struct route_opts d = {HUB, 0, 60000, 5000, 0, 0, f->alice, f->alice_key};
    if (o == NULL)
        o = &d;
    Fedra__HubRoute b = FEDRA__HUB_ROUTE__INIT;
    uint8_t qh[WIRE_HASH_LEN];
    memset(qh, 0x5a, sizeof qh);
    if (!o->same_id) {
        memset(last_rid, 0, sizeof last_rid);
        f->rid_counter++;
        memcpy(last_rid, &f->rid_counter, sizeof f->rid_counter);
    }
    b.context = (char *)WIRE_HUB_ROUTE_CONTEXT;
    b.route_id.data = last_rid;
    b.route_id.len = sizeof last_rid;
    b.issued_at_ms = f->now.wall_ms + o->issued_off_ms;
    b.expires_at_ms = b.issued_at_ms + o->life_ms;
    b.hub = (char *)o->hub;
    b.timeout_ms = o->timeout_ms;
    b.query_hash.data = qh;
    b.query_hash.len = sizeof qh;
    Fedra__SealedQuery q[8], *qp[8];
    uint8_t sealed[8][64];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        fedra__sealed_query__init(&q[i]);
        q[i].node = (char *)nodes[i];
        memset(sealed[i], (int)i + 1, sizeof sealed[i]);
        q[i].sealed.data = sealed[i];
        q[i].sealed.len = sizeof sealed[i];
        qp[i] = &q[i];
    }
    b.queries = qp;
    b.n_queries = n;
    struct buf body = {0}, env = {0};
    wire_pack(&b.base, &body);
    uint8_t sig[PKI_SIG_LEN];
    assert_int_equal(pki_sign(o->key, body.p, body.len, sig), 0);
    if (o->corrupt_sig)
        sig[0] ^= 1;
    Fedra__Envelope e = FEDRA__ENVELOPE__INIT;
    e.version = WIRE_VERSION;
    e.body.data = body.p;
    e.body.len = body.len;
    e.signature.data = sig;
    e.signature.len = sizeof sig;
    e.signer_cert.data = (uint8_t *)pki_cert_der(o->signer, &e.signer_cert.len);
    wire_pack(&e.base, &env);
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
    h.type = FEDRA__HUB_TYPE__HUB_ROUTE;
    h.payload.data = env.p;
    h.payload.len = env.len;
    input_frame(f, from, &h);
    buf_release(&body);
    buf_release(&env);
}

static void
answer(struct fx *f, const struct relay_peer *from, uint64_t tag, const char *payload,
    int unreadable)
{
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
    h.type = FEDRA__HUB_TYPE__HUB_ANSWER;
    h.tag = tag;
    if (unreadable) {
        h.status = FEDRA__HUB_STATUS__HUB_STATUS_UNREADABLE;
        h.reason = (char *)payload;
    } else {
        h.payload.data = (uint8_t *)payload;
        h.payload.len = strlen(payload);
    }
    input_frame(f, from, &h);
}

/* The i-th frame sent, of type t, to peer p. */
static Fedra__HubFrame *
sent_to(struct fx *f, size_t i, Fedra__HubType t, const struct relay_peer *p)
{
    assert_true(i < f->nsent);
    assert_int_equal(f->sent[i].f->type, t);
    assert_memory_equal(f->sent[i].to.id, p->id, p->idlen);
    return f->sent[i].f;
}

/* The reply sent i-th: to the analyst, about node, with status st. */
static Fedra__HubFrame *
reply_is(struct fx *f, size_t i, const struct relay_peer *an, const char *node,
    Fedra__HubStatus st)
{
    Fedra__HubFrame *h = sent_to(f, i, FEDRA__HUB_TYPE__HUB_REPLY, an);
    assert_string_equal(h->node, node);
    if (h->status != st)
        fail_msg("reply about '%s' has status %d (reason '%s'), expected %d", node,
            (int)h->status, h->reason, (int)st);
    return h;
}

static int
has_event(const struct fx *f, const char *kind)
{
    for (size_t i = 0; i < f->nevents; i++)
        if (strcmp(f->events[i], kind) == 0)
            return 1;
    return 0;
}

/* Join DE (peer 1), FR (peer 2), IT (peer 3); analyst alice is peer 9. */
static void
join_all(struct fx *f, struct relay_peer *de, struct relay_peer *fr, struct relay_peer *it)
{
    *de = peer(1, f->de);
    *fr = peer(2, f->fr);
    *it = peer(3, f->it);
    hello(f, de, f->de);
    hello(f, fr, f->fr);
    hello(f, it, f->it);
    assert_int_equal(f->nsent, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(f->sent[i].f->reason, "");
    clear_sent(f);
}

/* ---- nodes joining ---- */

static void
test_hello_welcomes_a_node_whose_certificate_binds_its_key(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 0);
    struct relay_peer de = peer(1, f->de);
    hello(f, &de, f->de);
    Fedra__HubFrame *w = sent_to(f, 0, FEDRA__HUB_TYPE__HUB_WELCOME, &de);
    assert_string_equal(w->reason, "");
    assert_true(has_event(f, "hello"));
    assert_int_equal(relay_node_count(f->r), 1);
    struct relay_node_info ni;
    relay_node_get(f->r, 0, &ni);
    assert_string_equal(ni.name, "DE");
    assert_true(ni.live);
    /* The keepalive is welcomed again, and is not a new join. */
    clear_sent(f);
    hello(f, &de, f->de);
    assert_string_equal(sent_to(f, 0, FEDRA__HUB_TYPE__HUB_WELCOME, &de)->reason, "");
    assert_false(has_event(f, "hello"));
}

static void
test_hello_refused_when_the_key_differs_or_the_role_is_wrong(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 0);
    /* DE's certificate, presented on a connection with another key. */
    struct relay_peer thief = peer(7, NULL);
    hello(f, &thief, f->de);
    Fedra__HubFrame *w = sent_to(f, 0, FEDRA__HUB_TYPE__HUB_WELCOME, &thief);
    assert_non_null(strstr(w->reason, "binds transport key"));
    /* An analyst's certificate is not a node's. */
    struct relay_peer an = peer(8, f->alice);
    hello(f, &an, f->alice);
    w = sent_to(f, 1, FEDRA__HUB_TYPE__HUB_WELCOME, &an);
    assert_non_null(strstr(w->reason, "role"));
    /* No certificate at all. */
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
    h.type = FEDRA__HUB_TYPE__HUB_HELLO;
    input_frame(f, &an, &h);
    assert_non_null(strstr(sent_to(f, 2, FEDRA__HUB_TYPE__HUB_WELCOME, &an)->reason,
        "no certificate"));
    assert_int_equal(relay_counters(f->r)->hellos_refused, 3);
    assert_int_equal(relay_node_count(f->r), 0);
}

static void
test_revoked_node_is_refused_and_dropped_on_a_new_crl(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 0);
    struct relay_peer de = peer(1, f->de);
    hello(f, &de, f->de);
    clear_sent(f);
    /* A new CRL revokes DE: it is dropped at once and told why. */
    relay_set_trust(f->r, f->trust_revoked, &f->now);
    Fedra__HubFrame *w = sent_to(f, 0, FEDRA__HUB_TYPE__HUB_WELCOME, &de);
    assert_non_null(strstr(w->reason, "revoked"));
    struct relay_node_info ni;
    relay_node_get(f->r, 0, &ni);
    assert_false(ni.live);
    clear_sent(f);
    hello(f, &de, f->de);
    assert_non_null(strstr(sent_to(f, 0, FEDRA__HUB_TYPE__HUB_WELCOME, &de)->reason,
        "revoked"));
    /* Without any trust the hub refuses everything. */
    relay_set_trust(f->r, NULL, &f->now);
    clear_sent(f);
    struct relay_peer fr = peer(2, f->fr);
    hello(f, &fr, f->fr);
    assert_non_null(strstr(sent_to(f, 0, FEDRA__HUB_TYPE__HUB_WELCOME, &fr)->reason,
        "no CA"));
}

static void
test_silent_node_goes_offline_after_three_hello_intervals(void **state)
{
    struct fx *f = *state;
    struct relay_limits lim = default_limits;
    lim.hello_interval_ms = 1000;
    start(f, &lim, 0);
    struct relay_peer de = peer(1, f->de), an = peer(9, NULL);
    hello(f, &de, f->de);
    advance(f, RELAY_SILENT_HELLOS * 1000);     /* exactly the limit: still live */
    struct relay_node_info ni;
    relay_node_get(f->r, 0, &ni);
    assert_true(ni.live);
    advance(f, 1);
    relay_node_get(f->r, 0, &ni);
    assert_false(ni.live);
    clear_sent(f);
    const char *nodes[] = {"DE"};
    route(f, &an, nodes, 1, NULL);
    reply_is(f, 0, &an, "DE", FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE);
}

static void
test_node_table_limit_evicts_offline_entries_only(void **state)
{
    struct fx *f = *state;
    struct relay_limits lim = default_limits;
    lim.max_nodes = 2;
    lim.hello_interval_ms = 1000;
    start(f, &lim, 0);
    struct relay_peer de = peer(1, f->de), fr = peer(2, f->fr), it = peer(3, f->it);
    hello(f, &de, f->de);
    hello(f, &fr, f->fr);
    hello(f, &it, f->it);           /* both entries live: no room */
    assert_non_null(strstr(sent_to(f, 2, FEDRA__HUB_TYPE__HUB_WELCOME, &it)->reason,
        "full"));
    assert_int_equal(relay_node_count(f->r), 2);
    /* FR keeps saying hello, DE falls silent: IT takes DE's entry. */
    advance(f, 2000);
    hello(f, &fr, f->fr);
    advance(f, 1500);
    clear_sent(f);
    hello(f, &it, f->it);
    assert_string_equal(sent_to(f, 0, FEDRA__HUB_TYPE__HUB_WELCOME, &it)->reason, "");
    assert_int_equal(relay_node_count(f->r), 2);
}

static void
test_reconnected_node_replaces_its_entry(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 0);
    struct relay_peer de = peer(1, f->de), de2 = peer(4, f->de), an = peer(9, NULL);
    hello(f, &de, f->de);
    const char *nodes[] = {"DE"};
    route(f, &an, nodes, 1, NULL);
    uint64_t tag = f->sent[1].f->tag;
    clear_sent(f);
    /* DE comes back on a new connection: the forward waiting on the old one is answered. */
    hello(f, &de2, f->de);
    reply_is(f, 0, &an, "DE", FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE);
    assert_string_equal(sent_to(f, 1, FEDRA__HUB_TYPE__HUB_WELCOME, &de2)->reason, "");
    assert_int_equal(relay_node_count(f->r), 1);
    clear_sent(f);
    /* A late answer from the old connection is stray. */
    answer(f, &de, tag, "late", 0);
    assert_int_equal(f->nsent, 0);
    assert_int_equal(relay_counters(f->r)->stray, 1);
    /* New routes go to the new connection. */
    route(f, &an, nodes, 1, NULL);
    sent_to(f, 0, FEDRA__HUB_TYPE__HUB_FORWARD, &de2);
}

/* ---- routes and answers ---- */

static void
test_route_forwards_to_named_nodes_only_and_relays_answers(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 0);
    struct relay_peer de, fr, it, an = peer(9, NULL);
    join_all(f, &de, &fr, &it);
    const char *nodes[] = {"DE", "FR"};
    route(f, &an, nodes, 2, NULL);
    assert_int_equal(f->nsent, 2);  /* IT, not named, gets nothing */
    Fedra__HubFrame *fd = sent_to(f, 0, FEDRA__HUB_TYPE__HUB_FORWARD, &de);
    Fedra__HubFrame *ff = sent_to(f, 1, FEDRA__HUB_TYPE__HUB_FORWARD, &fr);
    assert_int_equal(fd->payload.len, 64);
    assert_int_equal(fd->payload.data[0], 1);   /* DE's own sealed query */
    assert_int_equal(ff->payload.data[0], 2);
    assert_int_not_equal(fd->tag, ff->tag);
    assert_int_equal(relay_inflight(f->r), 2);
    uint64_t tde = fd->tag, tfr = ff->tag;
    answer(f, &fr, tfr, "sealed answer of FR", 0);
    Fedra__HubFrame *rp = reply_is(f, 2, &an, "FR", FEDRA__HUB_STATUS__HUB_STATUS_OK);
    assert_int_equal(rp->route_id.len, WIRE_QUERY_ID_LEN);
    assert_memory_equal(rp->route_id.data, last_rid, WIRE_QUERY_ID_LEN);
    assert_memory_equal(rp->payload.data, "sealed answer of FR", rp->payload.len);
    answer(f, &de, tde, "cannot open", 1);
    rp = reply_is(f, 3, &an, "DE", FEDRA__HUB_STATUS__HUB_STATUS_UNREADABLE);
    assert_non_null(strstr(rp->reason, "cannot open"));
    assert_int_equal(rp->payload.len, 0);
    const struct relay_counters *c = relay_counters(f->r);
    assert_int_equal(c->routes, 1);
    assert_int_equal(c->forwards, 2);
    assert_int_equal(c->answers, 2);
    assert_int_equal(c->unreadable, 1);
    assert_int_equal(c->analysts, 1);
    assert_string_equal(relay_analyst_name(f->r, 0), "alice");
    assert_int_equal(relay_inflight(f->r), 0);
    assert_true(has_event(f, "route") && has_event(f, "forward") && has_event(f, "answer") &&
        has_event(f, "unreadable"));
    /* An answer to a tag already answered is stray. */
    answer(f, &fr, tfr, "again", 0);
    assert_int_equal(f->nsent, 4);
    assert_int_equal(c->stray, 1);
}

static void
test_unknown_and_offline_nodes_are_named_at_once(void **state)
{
    struct fx *f = *state;
    struct relay_limits lim = default_limits;
    lim.hello_interval_ms = 100;
    start(f, &lim, 0);
    struct relay_peer de = peer(1, f->de), an = peer(9, NULL);
    hello(f, &de, f->de);
    advance(f, 1000);               /* DE silent: offline, but known */
    clear_sent(f);
    const char *nodes[] = {"DE", "XX"};
    route(f, &an, nodes, 2, NULL);
    assert_int_equal(f->nsent, 2);
    reply_is(f, 0, &an, "DE", FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE);
    Fedra__HubFrame *h = reply_is(f, 1, &an, "XX", FEDRA__HUB_STATUS__HUB_STATUS_UNKNOWN);
    assert_non_null(strstr(h->reason, "knows no node 'XX'"));
    assert_int_equal(relay_counters(f->r)->unknown, 1);
    assert_int_equal(relay_counters(f->r)->offline, 1);
}

static void
test_answer_from_another_connection_is_dropped(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 0);
    struct relay_peer de, fr, it, an = peer(9, NULL);
    join_all(f, &de, &fr, &it);
    const char *nodes[] = {"DE"};
    route(f, &an, nodes, 1, NULL);
    uint64_t tag = f->sent[0].f->tag;
    answer(f, &fr, tag, "FR pretending to be DE", 0);
    answer(f, &de, tag + 1, "a tag never given", 0);
    answer(f, &de, tag ^ (1ull << 40), "a forged serial", 0);
    assert_int_equal(f->nsent, 1);
    assert_int_equal(relay_counters(f->r)->stray, 3);
    answer(f, &de, tag, "DE", 0);
    reply_is(f, 1, &an, "DE", FEDRA__HUB_STATUS__HUB_STATUS_OK);
}

static void
test_queue_per_node_limit_makes_that_node_busy_only(void **state)
{
    struct fx *f = *state;
    struct relay_limits lim = default_limits;
    lim.queue_per_node = 2;
    start(f, &lim, 0);
    struct relay_peer de, fr, it, an = peer(9, NULL);
    join_all(f, &de, &fr, &it);
    const char *one[] = {"DE"}, *two[] = {"DE", "FR"};
    route(f, &an, one, 1, NULL);
    route(f, &an, one, 1, NULL);
    clear_sent(f);
    route(f, &an, two, 2, NULL);    /* DE has 2 waiting: busy; FR is not */
    reply_is(f, 0, &an, "DE", FEDRA__HUB_STATUS__HUB_STATUS_BUSY);
    sent_to(f, 1, FEDRA__HUB_TYPE__HUB_FORWARD, &fr);
    assert_int_equal(relay_counters(f->r)->busy, 1);
}

static void
test_inflight_max_limits_the_whole_hub(void **state)
{
    struct fx *f = *state;
    struct relay_limits lim = default_limits;
    lim.inflight_max = 3;
    start(f, &lim, 0);
    struct relay_peer de, fr, it, an = peer(9, NULL);
    join_all(f, &de, &fr, &it);
    const char *two[] = {"DE", "FR"}, *three[] = {"DE", "FR", "IT"};
    route(f, &an, two, 2, NULL);
    clear_sent(f);
    route(f, &an, three, 3, NULL);  /* one slot left: DE gets it, FR and IT are busy */
    sent_to(f, 0, FEDRA__HUB_TYPE__HUB_FORWARD, &de);
    Fedra__HubFrame *h = reply_is(f, 1, &an, "FR", FEDRA__HUB_STATUS__HUB_STATUS_BUSY);
    assert_non_null(strstr(h->reason, "inflight_max"));
    reply_is(f, 2, &an, "IT", FEDRA__HUB_STATUS__HUB_STATUS_BUSY);
    assert_int_equal(relay_inflight(f->r), 3);
    /* An answer frees a slot. */
    answer(f, &de, f->sent[0].f->tag, "x", 0);
    clear_sent(f);
    const char *it1[] = {"IT"};
    route(f, &an, it1, 1, NULL);
    sent_to(f, 0, FEDRA__HUB_TYPE__HUB_FORWARD, &it);
}

static void
test_send_busy_or_gone_concerns_that_node_only(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 0);
    struct relay_peer de, fr, it, an = peer(9, NULL);
    join_all(f, &de, &fr, &it);
    f->busy_peer = 1;               /* DE's link is full */
    f->gone_peer = 2;               /* FR disconnected */
    const char *three[] = {"DE", "FR", "IT"};
    route(f, &an, three, 3, NULL);
    reply_is(f, 0, &an, "DE", FEDRA__HUB_STATUS__HUB_STATUS_BUSY);
    reply_is(f, 1, &an, "FR", FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE);
    sent_to(f, 2, FEDRA__HUB_TYPE__HUB_FORWARD, &it);
    assert_int_equal(relay_inflight(f->r), 1);
    struct relay_node_info ni;
    relay_node_get(f->r, 1, &ni);
    assert_false(ni.live);          /* FR is gone */
    relay_node_get(f->r, 0, &ni);
    assert_true(ni.live);           /* DE is only busy */
    /* A reply the analyst cannot take is counted, not queued. */
    f->busy_peer = 9;
    answer(f, &it, f->sent[2].f->tag, "x", 0);
    assert_int_equal(relay_counters(f->r)->undelivered, 1);
}

static void
test_each_forward_times_out_on_its_own_deadline(void **state)
{
    struct fx *f = *state;
    struct relay_limits lim = default_limits;
    lim.timeout_max_ms = 2000;
    lim.hello_interval_ms = 100000;
    start(f, &lim, 0);
    struct relay_peer de, fr, it, an = peer(9, NULL);
    join_all(f, &de, &fr, &it);
    struct route_opts o = {HUB, 0, 60000, 500, 0, 0, f->alice, f->alice_key};
    const char *two[] = {"DE", "FR"};
    route(f, &an, two, 2, &o);
    uint64_t tfr = f->sent[1].f->tag;
    assert_int_equal(relay_next_ms(f->r, &f->now), 500);
    advance(f, 200);
    answer(f, &fr, tfr, "fast", 0);  /* FR answers; DE never does */
    advance(f, 299);
    assert_int_equal(f->nsent, 3);
    advance(f, 1);                  /* 500 ms: DE's own deadline */
    Fedra__HubFrame *h = reply_is(f, 3, &an, "DE", FEDRA__HUB_STATUS__HUB_STATUS_TIMEOUT);
    assert_non_null(strstr(h->reason, "500 ms"));
    assert_int_equal(relay_counters(f->r)->timeouts, 1);
    /* A route asking more than timeout_max_ms gets the cap, and 0 means the cap. */
    clear_sent(f);
    o.timeout_ms = 3600000;
    const char *one[] = {"IT"};
    route(f, &an, one, 1, &o);
    assert_int_equal(relay_next_ms(f->r, &f->now), 2000);
    advance(f, 2000);
    reply_is(f, 1, &an, "IT", FEDRA__HUB_STATUS__HUB_STATUS_TIMEOUT);
    clear_sent(f);
    o.timeout_ms = 0;
    route(f, &an, one, 1, &o);
    assert_int_equal(relay_next_ms(f->r, &f->now), 2000);
}

/* ---- routes refused as a whole ---- */

/* The route just sent was refused: one REFUSED reply per node, reason containing what. */
static void
refused_with(struct fx *f, const struct relay_peer *an, size_t nnodes, const char *what)
{
    assert_int_equal(f->nsent, nnodes);
    for (size_t i = 0; i < nnodes; i++) {
        Fedra__HubFrame *h = sent_to(f, i, FEDRA__HUB_TYPE__HUB_REPLY, an);
        assert_int_equal(h->status, FEDRA__HUB_STATUS__HUB_STATUS_REFUSED);
        if (strstr(h->reason, what) == NULL)
            fail_msg("refusal '%s' does not say '%s'", h->reason, what);
    }
    clear_sent(f);
}

static void
test_routes_refused_whole_bad_signature_revoked_wrong_hub_times(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 0);
    struct relay_peer de, fr, it, an = peer(9, NULL);
    join_all(f, &de, &fr, &it);
    const char *two[] = {"DE", "FR"};
    struct route_opts o = {HUB, 0, 60000, 5000, 1, 0, f->alice, f->alice_key};
    route(f, &an, two, 2, &o);
    refused_with(f, &an, 2, "signature does not verify");
    o.corrupt_sig = 0;
    o.hub = "otherhub";
    route(f, &an, two, 2, &o);
    refused_with(f, &an, 2, "for hub 'otherhub'");
    o.hub = HUB;
    o.issued_off_ms = -120000 - RELAY_DEFAULT_SKEW_MS;  /* expired a skew ago and more */
    route(f, &an, two, 2, &o);
    refused_with(f, &an, 2, "route times");
    o.issued_off_ms = 0;
    o.signer = f->fr;               /* a node cannot send a route */
    o.key = f->alice_key;
    route(f, &an, two, 2, &o);
    refused_with(f, &an, 2, "certificate is refused");
    relay_set_trust(f->r, f->trust_revoked, &f->now);   /* bob revoked (and DE) */
    clear_sent(f);
    o.signer = f->bob;
    o.key = f->bob_key;
    route(f, &an, two, 2, &o);
    refused_with(f, &an, 2, "revoked");
    /* Bytes that are no route at all: one reply without a node. */
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
    h.type = FEDRA__HUB_TYPE__HUB_ROUTE;
    h.payload.data = (uint8_t *)"not an envelope";
    h.payload.len = 15;
    input_frame(f, &an, &h);
    Fedra__HubFrame *rp = reply_is(f, 0, &an, "", FEDRA__HUB_STATUS__HUB_STATUS_REFUSED);
    assert_int_equal(rp->route_id.len, 0);
    assert_int_equal(relay_counters(f->r)->refused, 6);
    assert_int_equal(relay_counters(f->r)->forwards, 0);
}

static void
test_skew_limit_on_route_times(void **state)
{
    struct fx *f = *state;
    struct relay_limits lim = default_limits;
    lim.skew_ms = 1000;
    start(f, &lim, 0);
    struct relay_peer de = peer(1, f->de), an = peer(9, NULL);
    hello(f, &de, f->de);
    clear_sent(f);
    const char *one[] = {"DE"};
    struct route_opts o = {HUB, 1000, 60000, 5000, 0, 0, f->alice, f->alice_key};
    route(f, &an, one, 1, &o);      /* issued exactly skew ahead: accepted */
    sent_to(f, 0, FEDRA__HUB_TYPE__HUB_FORWARD, &de);
    clear_sent(f);
    o.issued_off_ms = 1001;
    route(f, &an, one, 1, &o);
    refused_with(f, &an, 1, "route times");
}

static void
test_replayed_route_is_refused_and_replay_table_is_bounded(void **state)
{
    struct fx *f = *state;
    struct relay_limits lim = default_limits;
    lim.replay_max = 2;
    start(f, &lim, 0);
    struct relay_peer de = peer(1, f->de), an = peer(9, NULL);
    hello(f, &de, f->de);
    clear_sent(f);
    const char *one[] = {"DE"};
    struct route_opts o = {HUB, 0, 10000, 5000, 0, 0, f->alice, f->alice_key};
    route(f, &an, one, 1, &o);
    clear_sent(f);
    o.same_id = 1;
    route(f, &an, one, 1, &o);
    refused_with(f, &an, 1, "replayed");
    /* The same route_id from another analyst is another route. */
    o.signer = f->bob;
    o.key = f->bob_key;
    route(f, &an, one, 1, &o);
    sent_to(f, 0, FEDRA__HUB_TYPE__HUB_FORWARD, &de);
    clear_sent(f);
    assert_int_equal(relay_replay_held(f->r), 2);
    /* Table full of live routes: refused, fail closed. */
    o.same_id = 0;
    route(f, &an, one, 1, &o);
    refused_with(f, &an, 1, "replay table is full");
    /* Once they expire (lifetime + skew), room again. */
    f->now.wall_ms += 10000 + RELAY_DEFAULT_SKEW_MS + 1;
    route(f, &an, one, 1, &o);
    sent_to(f, 0, FEDRA__HUB_TYPE__HUB_FORWARD, &de);
    assert_int_equal(relay_replay_held(f->r), 1);
}

static void
test_closed_hub_relays_nothing(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 0);
    struct relay_peer de = peer(1, f->de), an = peer(9, NULL);
    hello(f, &de, f->de);
    clear_sent(f);
    relay_set_closed(f->r, "the hub's own certificate is revoked");
    hello(f, &de, f->de);
    assert_non_null(strstr(sent_to(f, 0, FEDRA__HUB_TYPE__HUB_WELCOME, &de)->reason,
        "own certificate is revoked"));
    clear_sent(f);
    const char *one[] = {"DE"};
    route(f, &an, one, 1, NULL);
    refused_with(f, &an, 1, "own certificate is revoked");
    relay_set_closed(f->r, NULL);
    hello(f, &de, f->de);
    route(f, &an, one, 1, NULL);
    assert_int_equal(f->sent[1].f->type, FEDRA__HUB_TYPE__HUB_FORWARD);
}

/* ---- junk and the drop log ---- */

static void
test_junk_is_dropped_counted_and_logged_at_a_bounded_rate(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 0);
    struct relay_peer x = peer(5, NULL);
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    for (int i = 0; i < 100; i++)
        relay_input(f->r, &x, junk, sizeof junk - (size_t)i, 1, &f->now);
    relay_input(f->r, &x, junk, 10, 3, &f->now);    /* three frames */
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;     /* a frame only the hub sends */
    h.type = FEDRA__HUB_TYPE__HUB_FORWARD;
    input_frame(f, &x, &h);
    h.type = FEDRA__HUB_TYPE__HUB_REPLY;
    input_frame(f, &x, &h);
    assert_int_equal(relay_counters(f->r)->junk, 103);
    assert_int_equal(f->nsent, 0);
    assert_int_equal(f->nlog, 1);   /* one line for the first ... */
    advance(f, RELAY_LOG_EVERY_MS - 1);
    assert_int_equal(f->nlog, 1);
    advance(f, 1);                  /* ... and one summing the rest */
    assert_int_equal(f->nlog, 2);
    assert_non_null(strstr(f->lastlog, "102 more junk messages dropped"));
    advance(f, 10 * RELAY_LOG_EVERY_MS);
    assert_int_equal(f->nlog, 2);
}

static size_t
count_events(const struct fx *f, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nevents; i++)
        n += strcmp(f->events[i], kind) == 0;
    return n;
}

static void
test_unauthenticated_refusals_are_recorded_at_a_bounded_rate(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 0);
    struct relay_peer an = peer(9, NULL), thief = peer(7, NULL);
    const char *one[] = {"DE"};
    struct route_opts bad = {HUB, 0, 60000, 5000, 1, 0, f->alice, f->alice_key};
    for (int i = 0; i < 50; i++) {
        route(f, &an, one, 1, &bad);        /* a bad signature: anyone can send that */
        hello(f, &thief, f->de);            /* a certificate on another key */
    }
    assert_int_equal(relay_counters(f->r)->refused, 50);
    assert_int_equal(relay_counters(f->r)->hellos_refused, 50);
    assert_int_equal(count_events(f, "refused"), 2);    /* the first of each, one by one */
    advance(f, RELAY_LOG_EVERY_MS);
    assert_int_equal(count_events(f, "refused"), 4);    /* then one entry summing the rest */
    /* A route whose signature verifies is recorded whenever it is refused. */
    f->nevents = 0;
    struct route_opts wrong = {"otherhub", 0, 60000, 5000, 0, 0, f->alice, f->alice_key};
    for (int i = 0; i < 5; i++)
        route(f, &an, one, 1, &wrong);
    assert_int_equal(count_events(f, "refused"), 5);
}

static void
test_tamper_hook_sees_forwards_and_replies(void **state)
{
    struct fx *f = *state;
    start(f, NULL, 1);
    struct relay_peer de, fr, it, an = peer(9, NULL);
    join_all(f, &de, &fr, &it);
    const char *one[] = {"DE"};
    route(f, &an, one, 1, NULL);
    Fedra__HubFrame *fd = sent_to(f, 0, FEDRA__HUB_TYPE__HUB_FORWARD, &de);
    assert_int_equal(fd->payload.data[0], 1 ^ 0xff);
    answer(f, &de, fd->tag, "DE's answer", 0);
    reply_is(f, 1, &an, "FR", FEDRA__HUB_STATUS__HUB_STATUS_OK);    /* relabelled */
    assert_int_equal(f->tamper_calls, 2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_hello_welcomes_a_node_whose_certificate_binds_its_key),
        T(test_hello_refused_when_the_key_differs_or_the_role_is_wrong),
        T(test_revoked_node_is_refused_and_dropped_on_a_new_crl),
        T(test_silent_node_goes_offline_after_three_hello_intervals),
        T(test_node_table_limit_evicts_offline_entries_only),
        T(test_reconnected_node_replaces_its_entry),
        T(test_route_forwards_to_named_nodes_only_and_relays_answers),
        T(test_unknown_and_offline_nodes_are_named_at_once),
        T(test_answer_from_another_connection_is_dropped),
        T(test_queue_per_node_limit_makes_that_node_busy_only),
        T(test_inflight_max_limits_the_whole_hub),
        T(test_send_busy_or_gone_concerns_that_node_only),
        T(test_each_forward_times_out_on_its_own_deadline),
        T(test_routes_refused_whole_bad_signature_revoked_wrong_hub_times),
        T(test_skew_limit_on_route_times),
        T(test_replayed_route_is_refused_and_replay_table_is_bounded),
        T(test_closed_hub_relays_nothing),
        T(test_junk_is_dropped_counted_and_logged_at_a_bounded_rate),
        T(test_unauthenticated_refusals_are_recorded_at_a_bounded_rate),
        T(test_tamper_hook_sees_forwards_and_replies),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
