/*
 * test_hublink - the node's link to the hub (node/hublink.c).
 *
 * A group fixture makes a real CA with fedra-cert's code: node NL (the
 * node), hubs H and Hrev (Hrev revoked in crl2.pem), node DE (a certificate
 * of the wrong role to be a hub) and analyst alice, whose certificate binds
 * the key answers are sealed to.
 *
 * The frame handler is driven directly with frames as a hub would send them,
 * honest and not: a FORWARD whose box opens must reach the answer function
 * with exactly the envelope sealed, and its answer must open with alice's
 * secret key and nothing else; every other case must give an UNREADABLE
 * answer with no payload, or nothing at all and a count.  Then a loopback
 * ROUTER plays the hub (CURVE server with H's key): hello with the node's
 * certificate, welcome, a forwarded query and its answer, a refusal, the hub
 * gone and back on the same port (the node dials again and says hello); an
 * impostor without the hub's key; and the same through a SOCKS5 proxy (a
 * minimal one in a thread here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zmq.h>

#include "certs/ca.h"
#include "certs/pki.h"
#include "lib/seal.h"
#include "lib/util.h"
#include "node/hublink.h"
#include "proto/wire.h"

#define PUMP_MS 8000                /* longest wait for the link to do one thing */
/* A hello as soon as a connection is up: well before the keepalive would send one. */
#define WRONG_KEY_WATCH_MS 1500      /* how long an impostor hub is watched getting nothing */
#define HELLO_PROMPT_MS (WIRE_HUB_HELLO_INTERVAL_MS / 2)

struct fx {
    char dir[64], out[96], hub_crt[128], hubrev_crt[128], de_crt[128];
    struct pki_trust *t1, *t2;      /* crl1 (none revoked), crl2 (Hrev revoked) */
    struct pki_cert *nl, *alice;
    struct pki_key *alice_key, *hub_key;
    uint8_t nl_secret[32], alice_secret[32], alice_public[32], hub_secret[32];
    /* what the answer and log functions saw */
    int answered, logged;
    struct buf last_query;
};

static int
group_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "", p[160], q[160];
    struct ca *ca = NULL;
    struct ca_revoked rv;
    struct pki_key *nlk = NULL;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_hublink.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(p, sizeof p, "%s/ca", f->dir);
    snprintf(f->out, sizeof f->out, "%s/out", f->dir);
    if ((ca = fixture_ca(p, "hublink test CA", 3650, 0, err)) == NULL ||
        fixture_issue(ca, PKI_ROLE_NODE, "NL", f->out, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_NODE, "DE", f->out, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_HUB, "H", f->out, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_HUB, "Hrev", f->out, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_ANALYST, "alice", f->out, NULL, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/crl1.pem", f->dir);
    if (fixture_crl(ca, p, err) != 0 ||
        ca_revoke(ca, "Hrev", NULL, "keyCompromise", 0, &rv, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/crl2.pem", f->dir);
    if (fixture_crl(ca, p, err) != 0)
        goto fail;
    ca_free(ca);
    ca = NULL;
    snprintf(p, sizeof p, "%s/ca/ca.crt", f->dir);
    snprintf(q, sizeof q, "%s/crl1.pem", f->dir);
    if (pki_trust_load(p, q, 1, &f->t1, err) != 0)
        goto fail;
    snprintf(q, sizeof q, "%s/crl2.pem", f->dir);
    if (pki_trust_load(p, q, 1, &f->t2, err) != 0)
        goto fail;
    snprintf(f->hub_crt, sizeof f->hub_crt, "%s/H.crt", f->out);
    snprintf(f->hubrev_crt, sizeof f->hubrev_crt, "%s/Hrev.crt", f->out);
    snprintf(f->de_crt, sizeof f->de_crt, "%s/DE.crt", f->out);
    if ((f->nl = fixture_cert(f->out, "NL", err)) == NULL ||
        (f->alice = fixture_cert(f->out, "alice", err)) == NULL ||
        (nlk = fixture_key(f->out, "NL", err)) == NULL ||
        (f->alice_key = fixture_key(f->out, "alice", err)) == NULL ||
        (f->hub_key = fixture_key(f->out, "H", err)) == NULL)
        goto fail;
    if (pki_key_curve_secret(nlk, f->nl_secret) != 0 ||
        pki_key_curve_secret(f->alice_key, f->alice_secret) != 0 ||
        pki_curve_public(f->alice_secret, f->alice_public) != 0 ||
        pki_key_curve_secret(f->hub_key, f->hub_secret) != 0) {
        errf(err, "cannot derive transport keys");
        goto fail;
    }
    pki_key_free(nlk);
    *state = f;
    return 0;
fail:
    fprintf(stderr, "group setup: %s\n", err);
    pki_key_free(nlk);
    if (ca != NULL)
        ca_free(ca);
    return -1;
}

static int
group_teardown(void **state)
{
    struct fx *f = *state;
    pki_trust_free(f->t1);
    pki_trust_free(f->t2);
    pki_cert_free(f->nl);
    pki_cert_free(f->alice);
    pki_key_free(f->alice_key);
    pki_key_free(f->hub_key);
    buf_release(&f->last_query);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* The node's answer function: records the query; its "signed response" is the query reversed. */
static void
answer(void *arg, const uint8_t *query, size_t len, struct buf *reply, int *to_hub)
{
    (void)to_hub;                   /* never a pooled query here: the reply is sealed */
    struct fx *f = arg;
    f->answered++;
    f->last_query.len = 0;
    buf_append(&f->last_query, query, len);
    uint8_t *p = buf_extend(reply, len);
    for (size_t i = 0; i < len; i++)
        p[i] = query[len - 1 - i];
}

static void
log_line(void *arg, const char *line)
{
    struct fx *f = arg;
    (void)line;
    f->logged++;
}

static struct hublink *
new_link(struct fx *f, const char *endpoint, const char *hub_crt)
{
    struct hublink_config hc = {endpoint, NULL, hub_crt, f->nl_secret, answer, log_line, f};
    struct hublink *l = hublink_new(&hc);
    hublink_set_identity(l, f->nl);
    f->answered = 0;
    return l;
}

/* A query envelope signed by alice (its body is not a query: the link never reads it). */
static void
signed_envelope(struct fx *f, const struct pki_cert *signer, struct buf *out)
{
    static const uint8_t body[] = "a query body, as the analyst signed it";
    uint8_t sig[PKI_SIG_LEN];
    Fedra__Envelope env = FEDRA__ENVELOPE__INIT;
    assert_int_equal(pki_sign(f->alice_key, body, sizeof body, sig), 0);
    env.version = WIRE_VERSION;
    env.body.data = (uint8_t *)body;
    env.body.len = sizeof body;
    env.signature.data = sig;
    env.signature.len = sizeof sig;
    env.signer_cert.data = (uint8_t *)pki_cert_der(signer, &env.signer_cert.len);
    wire_pack(&env.base, out);
}

static void
pack_frame(Fedra__HubType type, uint64_t tag, const char *reason, const struct buf *payload,
    struct buf *out)
{
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
    h.version = WIRE_VERSION;
    h.type = type;
    h.tag = tag;
    h.reason = (char *)(reason ? reason : "");
    if (payload != NULL) {
        h.payload.data = payload->p;
        h.payload.len = payload->len;
    }
    wire_pack(&h.base, out);
}

/* A FORWARD of box under tag, handled; the frame sent back decoded (NULL if none). */
static Fedra__HubFrame *
forward(struct hublink *l, uint64_t tag, const struct buf *box)
{
    char err[FEDRA_ERRLEN];
    struct buf in = {0}, out = {0};
    pack_frame(FEDRA__HUB_TYPE__HUB_FORWARD, tag, NULL, box, &in);
    hublink_frame(l, in.p, in.len, util_now_ms(), &out);
    Fedra__HubFrame *a = out.len ? wire_hubframe_decode(out.p, out.len, err) : NULL;
    if (out.len)
        assert_non_null(a);
    buf_release(&in);
    buf_release(&out);
    return a;
}

static void
assert_unreadable(Fedra__HubFrame *a, uint64_t tag)
{
    assert_non_null(a);
    assert_int_equal(a->type, FEDRA__HUB_TYPE__HUB_ANSWER);
    assert_int_equal(a->tag, tag);
    assert_int_equal(a->status, FEDRA__HUB_STATUS__HUB_STATUS_UNREADABLE);
    assert_true(strlen(a->reason) > 0);
    assert_int_equal(a->payload.len, 0);
    wire_hubframe_free(a);
}

/* A box of msg from the holder of secret sec to the transport key to (lib/seal.h). */
static void
box_to(const uint8_t sec[32], const uint8_t to[32], const uint8_t *msg, size_t len,
    struct buf *box)
{
    uint8_t pub[32], pair[SEAL_PAIR_LEN];
    char err[FEDRA_ERRLEN];
    assert_int_equal(pki_curve_public(sec, pub), 0);
    assert_int_equal(seal_pair_key(sec, to, pair, err), 0);
    box->len = 0;
    assert_int_equal(seal_box(pub, pair, msg, len, box, err), 0);
}

/* The node's answer box opened by the holder of sec, as fedra opens it; 0 or -1. */
static int
open_with(const uint8_t sec[32], const uint8_t *box, size_t len, struct buf *out, char *err)
{
    uint8_t from[32], pair[SEAL_PAIR_LEN];
    if (seal_sender(box, len, from, err) != 0 || seal_pair_key(sec, from, pair, err) != 0)
        return -1;
    return seal_open(pair, box, len, WIRE_MAX_RESPONSE, out, err);
}

/* An honest FORWARD: the envelope reaches the node as sealed; the answer opens for alice only. */
static void
test_forward(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    uint8_t nl_public[32], other_public[32], other_secret[32];
    struct buf env = {0}, box = {0}, opened = {0};
    struct hublink *l = new_link(f, "tcp://127.0.0.1:1", f->hub_crt);
    assert_int_equal(pki_curve_public(f->nl_secret, nl_public), 0);
    signed_envelope(f, f->alice, &env);
    box_to(f->alice_secret, nl_public, env.p, env.len, &box);
    Fedra__HubFrame *a = forward(l, 41, &box);
    assert_non_null(a);
    assert_int_equal(f->answered, 1);
    assert_int_equal(f->last_query.len, env.len);
    assert_memory_equal(f->last_query.p, env.p, env.len);
    assert_int_equal(a->type, FEDRA__HUB_TYPE__HUB_ANSWER);
    assert_int_equal(a->tag, 41);
    assert_int_equal(a->status, FEDRA__HUB_STATUS__HUB_STATUS_OK);
    assert_int_equal(a->payload.len, seal_class(env.len) + SEAL_OVERHEAD);
    assert_int_equal(open_with(f->alice_secret, a->payload.data, a->payload.len, &opened,
        err), 0);
    assert_int_equal(opened.len, env.len);
    for (size_t i = 0; i < env.len; i++)
        assert_int_equal(opened.p[i], env.p[env.len - 1 - i]);
    /* From the node's transport key; no third key opens it. */
    uint8_t from[32];
    assert_int_equal(seal_sender(a->payload.data, a->payload.len, from, err), 0);
    assert_memory_equal(from, nl_public, 32);
    for (size_t i = 0; i < sizeof other_secret; i++)
        other_secret[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(pki_curve_public(other_secret, other_public), 0);
    opened.len = 0;
    assert_int_not_equal(open_with(other_secret, a->payload.data, a->payload.len, &opened,
        err), 0);
    wire_hubframe_free(a);
    /* A box sealed to another key: unreadable, the node's answer function is not called. */
    box_to(f->alice_secret, other_public, env.p, env.len, &box);
    assert_unreadable(forward(l, 42, &box), 42);
    /* The right box, altered by the hub: unreadable. */
    box_to(f->alice_secret, nl_public, env.p, env.len, &box);
    box.p[box.len / 2] ^= 1;
    assert_unreadable(forward(l, 43, &box), 43);
    /* Opens, but is no envelope: no key to seal to. */
    box_to(f->alice_secret, nl_public, (const uint8_t *)"junk", 4, &box);
    assert_unreadable(forward(l, 44, &box), 44);
    /* An envelope whose signer certificate binds no key (here: none at all). */
    struct buf env2 = {0};
    Fedra__Envelope e2 = FEDRA__ENVELOPE__INIT;
    e2.version = WIRE_VERSION;
    e2.body.data = (uint8_t *)"b";
    e2.body.len = 1;
    wire_pack(&e2.base, &env2);
    box_to(f->alice_secret, nl_public, env2.p, env2.len, &box);
    assert_unreadable(forward(l, 45, &box), 45);
    /* An empty payload. */
    assert_unreadable(forward(l, 46, NULL), 46);
    /* alice's query boxed by another key (the hub's, say): the answer would go under that
       key's pair, so the node refuses it. */
    box_to(other_secret, nl_public, env.p, env.len, &box);
    a = forward(l, 47, &box);
    assert_non_null(a);
    assert_string_equal(a->reason, "the query was sealed by a transport key other than its "
        "signer's");
    assert_unreadable(a, 47);
    assert_int_equal(f->answered, 1);
    struct hublink_info hi;
    hublink_info(l, &hi);
    assert_int_equal(hi.forwarded, 7);
    assert_int_equal(hi.unreadable, 6);
    assert_int_equal(hi.dropped, 0);
    buf_release(&env);
    buf_release(&env2);
    buf_release(&box);
    buf_release(&opened);
    hublink_free(l);
}

/* Welcomes, refusals and frames a hub has no business sending. */
static void
test_frames(void **state)
{
    struct fx *f = *state;
    struct hublink_info hi;
    struct buf in = {0}, out = {0};
    struct hublink *l = new_link(f, "tcp://127.0.0.1:1", f->hub_crt);
    pack_frame(FEDRA__HUB_TYPE__HUB_WELCOME, 0, NULL, NULL, &in);
    hublink_frame(l, in.p, in.len, 1000, &out);
    assert_int_equal(out.len, 0);
    hublink_info(l, &hi);
    assert_int_equal(hi.state, HUBLINK_UP);
    assert_string_equal(hi.state_name, "up");
    assert_int_equal(hi.welcome_ms, 1000);
    in.len = 0;
    pack_frame(FEDRA__HUB_TYPE__HUB_WELCOME, 0, "certificate 'NL' was revoked\n(forged line)",
        NULL, &in);
    hublink_frame(l, in.p, in.len, 2000, &out);
    hublink_info(l, &hi);
    assert_int_equal(hi.state, HUBLINK_REFUSED);
    assert_non_null(strstr(hi.reason, "certificate 'NL' was revoked"));
    assert_int_equal(hi.since_ms, 2000);
    /* Drops are logged at most once per HUBLINK_LOG_EVERY_MS, with the count. */
    f->logged = 0;
    static const Fedra__HubType wrong[] = {FEDRA__HUB_TYPE__HUB_HELLO,
        FEDRA__HUB_TYPE__HUB_ROUTE, FEDRA__HUB_TYPE__HUB_ANSWER, FEDRA__HUB_TYPE__HUB_REPLY,
        FEDRA__HUB_TYPE__HUB_TYPE_UNSPECIFIED};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        in.len = 0;
        pack_frame(wrong[i], 1, NULL, NULL, &in);
        hublink_frame(l, in.p, in.len, 3000, &out);
    }
    static const char *const junk[] = {"", "\x08", "not a frame", "\xff\xff\xff\xff\x0f"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        hublink_frame(l, (const uint8_t *)junk[i], strlen(junk[i]), 3000, &out);
    /* A frame of another version. */
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
    h.version = WIRE_VERSION + 1;
    h.type = FEDRA__HUB_TYPE__HUB_WELCOME;
    in.len = 0;
    wire_pack(&h.base, &in);
    hublink_frame(l, in.p, in.len, 3000, &out);
    assert_int_equal(out.len, 0);
    assert_int_equal(f->logged, 1);
    hublink_frame(l, (const uint8_t *)"x", 1, 3000 + HUBLINK_LOG_EVERY_MS - 1, &out);
    assert_int_equal(f->logged, 1);
    hublink_frame(l, (const uint8_t *)"x", 1, 3000 + HUBLINK_LOG_EVERY_MS, &out);
    assert_int_equal(f->logged, 2);
    hublink_info(l, &hi);
    assert_int_equal(hi.dropped, sizeof wrong / sizeof wrong[0] + sizeof junk / sizeof junk[0]
        + 3);
    assert_int_equal(hi.state, HUBLINK_REFUSED);     /* junk changes nothing */
    assert_int_equal(f->answered, 0);
    buf_release(&in);
    buf_release(&out);
    hublink_free(l);
}

/* The hub certificate decides whether there is a link at all. */
static void
test_hub_cert(void **state)
{
    struct fx *f = *state;
    struct hublink_info hi;
    void *ctx = zmq_ctx_new();
    const struct {
        const char *crt;
        const struct pki_trust *t;
        enum hublink_state want;
        const char *why;
    } cases[] = {
        {f->hub_crt, f->t1, HUBLINK_CONNECTING, "dialling hub 'H'"},
        {f->hub_crt, f->t2, HUBLINK_CONNECTING, "dialling hub 'H'"},
        {f->hubrev_crt, f->t1, HUBLINK_CONNECTING, "dialling hub 'Hrev'"},
        {f->hubrev_crt, f->t2, HUBLINK_NO_HUB, "revoked"},
        {f->de_crt, f->t1, HUBLINK_NO_HUB, "has role node, but hub is required"},
        {"/nonexistent/hub.crt", f->t1, HUBLINK_NO_HUB, "hub_cert:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hublink *l = new_link(f, "tcp://127.0.0.1:1", cases[i].crt);
        hublink_refresh(l, ctx, cases[i].t, 5000);
        hublink_info(l, &hi);
        if (hi.state != cases[i].want || strstr(hi.reason, cases[i].why) == NULL)
            fail_msg("case %zu: state %s, reason '%s'; expected %s, '%s'", i, hi.state_name,
                hi.reason, hublink_state_name(cases[i].want), cases[i].why);
        assert_true((hublink_socket(l) != NULL) == (cases[i].want != HUBLINK_NO_HUB));
        hublink_free(l);
    }
    /* The certificate file is read every HUBLINK_RECHECK_MS: replaced by a node's, no link. */
    char copy[192], err[FEDRA_ERRLEN];
    uint8_t *der = NULL;
    size_t derlen = 0;
    snprintf(copy, sizeof copy, "%s/hub-copy.crt", f->dir);
    assert_int_equal(util_read_file(f->hub_crt, PKI_MAX_FILE, &der, &derlen, err), 0);
    assert_int_equal(util_write_file(copy, der, derlen, 0644, err), 0);
    free(der);
    struct hublink *r = new_link(f, "tcp://127.0.0.1:1", copy);
    hublink_refresh(r, ctx, f->t1, 5000);
    assert_int_equal(util_read_file(f->de_crt, PKI_MAX_FILE, &der, &derlen, err), 0);
    assert_int_equal(util_write_file(copy, der, derlen, 0644, err), 0);
    free(der);
    hublink_run(r, 5000 + HUBLINK_RECHECK_MS - 1);
    hublink_info(r, &hi);
    assert_int_equal(hi.state, HUBLINK_CONNECTING);
    hublink_run(r, 5000 + HUBLINK_RECHECK_MS);
    hublink_info(r, &hi);
    assert_int_equal(hi.state, HUBLINK_NO_HUB);
    assert_non_null(strstr(hi.reason, "but hub is required"));
    hublink_free(r);
    /* A link that loses its hub certificate (revoked by a new CRL) closes. */
    struct hublink *l = new_link(f, "tcp://127.0.0.1:1", f->hubrev_crt);
    hublink_refresh(l, ctx, f->t1, 5000);
    assert_non_null(hublink_socket(l));
    hublink_refresh(l, ctx, f->t2, 6000);
    assert_null(hublink_socket(l));
    hublink_info(l, &hi);
    assert_int_equal(hi.state, HUBLINK_NO_HUB);
    assert_int_equal(hi.since_ms, 6000);
    hublink_free(l);
    zmq_ctx_term(ctx);
}

/* ---- a loopback hub ---- */

struct hub {
    void *router;
    char endpoint[128];
    zmq_msg_t id;                   /* the node's routing id */
    int have_id;
    Fedra__HubFrame *got;           /* the last frame received */
};

static void
hub_start(struct fx *f, void *ctx, struct hub *h, const char *endpoint)
{
    int one = 1, linger = 0;
    h->router = zmq_socket(ctx, ZMQ_ROUTER);
    assert_non_null(h->router);
    assert_int_equal(zmq_setsockopt(h->router, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    assert_int_equal(zmq_setsockopt(h->router, ZMQ_CURVE_SECRETKEY, f->hub_secret, 32), 0);
    assert_int_equal(zmq_setsockopt(h->router, ZMQ_LINGER, &linger, sizeof linger), 0);
    /* The port just given up may take a moment to be free again. */
    int rc = -1;
    for (int i = 0; i < 100 && (rc = zmq_bind(h->router, endpoint)) != 0; i++)
        usleep(50000);
    assert_int_equal(rc, 0);
    size_t n = sizeof h->endpoint;
    assert_int_equal(zmq_getsockopt(h->router, ZMQ_LAST_ENDPOINT, h->endpoint, &n), 0);
    h->have_id = 0;
    h->got = NULL;
}

static void
hub_stop(struct hub *h)
{
    if (h->have_id)
        zmq_msg_close(&h->id);
    wire_hubframe_free(h->got);
    zmq_close(h->router);
    memset(h, 0, sizeof *h);
}

static void
hub_send(struct hub *h, Fedra__HubType type, uint64_t tag, const char *reason,
    const struct buf *payload)
{
    struct buf b = {0};
    zmq_msg_t id;
    pack_frame(type, tag, reason, payload, &b);
    zmq_msg_init(&id);
    zmq_msg_copy(&id, &h->id);
    assert_true(zmq_msg_send(&id, h->router, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(h->router, b.p, b.len, 0) >= 0);
    buf_release(&b);
}

/*
 * Run the link and the hub until want(): the link as the node's loop runs
 * it, the hub taking [id][frame] messages into h->got.  Fails after PUMP_MS.
 */
static void
pump(struct hublink *l, struct hub *h, int (*want)(struct hublink *, struct hub *, void *),
    void *arg)
{
    int64_t end = util_mono_ms() + PUMP_MS;
    while (!want(l, h, arg)) {
        if (util_mono_ms() > end) {
            struct hublink_info hi;
            hublink_info(l, &hi);
            fail_msg("the link did not get there in %d ms (it is %s: %s; last frame %d)",
                PUMP_MS, hi.state_name, hi.reason, h->got ? (int)h->got->type : -1);
        }
        int64_t wait = hublink_run(l, util_now_ms());
        zmq_pollitem_t it[3] = {{h->router, -1, ZMQ_POLLIN, 0},
            {hublink_socket(l), -1, ZMQ_POLLIN, 0}, {hublink_monitor(l), -1, ZMQ_POLLIN, 0}};
        zmq_poll(it, h->router ? 3 : 0, wait < 20 ? wait : 20);
        if (h->router == NULL || !(it[0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t id, m;
        char err[FEDRA_ERRLEN];
        zmq_msg_init(&id);
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&id, h->router, 0) >= 0);
        assert_true(zmq_msg_more(&id));
        assert_true(zmq_msg_recv(&m, h->router, 0) >= 0);
        assert_false(zmq_msg_more(&m));
        if (h->have_id)
            zmq_msg_close(&h->id);
        h->id = id;
        h->have_id = 1;
        wire_hubframe_free(h->got);
        h->got = wire_hubframe_decode(zmq_msg_data(&m), zmq_msg_size(&m), err);
        assert_non_null(h->got);
        zmq_msg_close(&m);
    }
}

static int
got(struct hublink *l, struct hub *h, void *type)
{
    (void)l;
    return h->got != NULL && h->got->type == *(Fedra__HubType *)type;
}

static int
in_state(struct hublink *l, struct hub *h, void *state)
{
    struct hublink_info hi;
    (void)h;
    hublink_info(l, &hi);
    return hi.state == *(enum hublink_state *)state;
}

static void
expect_hello(struct fx *f, struct hublink *l, struct hub *h)
{
    Fedra__HubType hello = FEDRA__HUB_TYPE__HUB_HELLO;
    size_t len;
    const uint8_t *der = pki_cert_der(f->nl, &len);
    pump(l, h, got, &hello);
    assert_int_equal(h->got->cert.len, len);
    assert_memory_equal(h->got->cert.data, der, len);
    wire_hubframe_free(h->got);
    h->got = NULL;
}

static void
test_loopback(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    void *ctx = zmq_ctx_new();
    struct hub h = {0};
    struct hublink_info hi;
    hub_start(f, ctx, &h, "tcp://127.0.0.1:*");
    struct hublink *l = new_link(f, h.endpoint, f->hub_crt);
    hublink_refresh(l, ctx, f->t1, util_now_ms());
    int64_t t_first = util_mono_ms();
    expect_hello(f, l, &h);
    assert_true(util_mono_ms() - t_first < HELLO_PROMPT_MS);
    /* Welcome: up. */
    enum hublink_state up = HUBLINK_UP, refused = HUBLINK_REFUSED, conn = HUBLINK_CONNECTING;
    hub_send(&h, FEDRA__HUB_TYPE__HUB_WELCOME, 0, "", NULL);
    pump(l, &h, in_state, &up);
    /* A forwarded query comes back answered, sealed to alice, under its tag. */
    uint8_t nl_public[32];
    struct buf env = {0}, box = {0}, opened = {0};
    assert_int_equal(pki_curve_public(f->nl_secret, nl_public), 0);
    signed_envelope(f, f->alice, &env);
    box_to(f->alice_secret, nl_public, env.p, env.len, &box);
    hub_send(&h, FEDRA__HUB_TYPE__HUB_FORWARD, 9001, NULL, &box);
    Fedra__HubType ans = FEDRA__HUB_TYPE__HUB_ANSWER;
    pump(l, &h, got, &ans);
    assert_int_equal(h.got->tag, 9001);
    assert_int_equal(h.got->status, FEDRA__HUB_STATUS__HUB_STATUS_OK);
    assert_int_equal(open_with(f->alice_secret, h.got->payload.data, h.got->payload.len,
        &opened, err), 0);
    assert_int_equal(opened.len, env.len);
    wire_hubframe_free(h.got);
    h.got = NULL;
    /* No welcome for HUBLINK_WELCOME_LOST_MS: back to connecting (the hub forgot us). */
    hublink_info(l, &hi);
    int64_t wel = hi.welcome_ms;
    hublink_run(l, wel + HUBLINK_WELCOME_LOST_MS);
    hublink_info(l, &hi);
    assert_int_equal(hi.state, HUBLINK_UP);
    hublink_run(l, wel + HUBLINK_WELCOME_LOST_MS + 1);
    hublink_info(l, &hi);
    assert_int_equal(hi.state, HUBLINK_CONNECTING);
    assert_non_null(strstr(hi.reason, "no welcome from the hub"));
    hub_send(&h, FEDRA__HUB_TYPE__HUB_WELCOME, 0, "", NULL);
    pump(l, &h, in_state, &up);
    /* Refused: the state says so, with the hub's reason. */
    hub_send(&h, FEDRA__HUB_TYPE__HUB_WELCOME, 0, "node certificate revoked", NULL);
    pump(l, &h, in_state, &refused);
    hublink_info(l, &hi);
    assert_non_null(strstr(hi.reason, "node certificate revoked"));
    /* A message over HUBLINK_MAX_FRAME: libzmq drops the connection, the link dials again. */
    size_t big = HUBLINK_MAX_FRAME + 1;
    uint8_t *junk = xcalloc(1, big);
    zmq_msg_t id;
    zmq_msg_init(&id);
    zmq_msg_copy(&id, &h.id);
    assert_true(zmq_msg_send(&id, h.router, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(h.router, junk, big, 0) >= 0);
    free(junk);
    pump(l, &h, in_state, &conn);
    /* libzmq does not dial again after a protocol error; the link does, after HUBLINK_REDIAL_MS. */
    hublink_run(l, util_now_ms() + HUBLINK_REDIAL_MS);
    hublink_info(l, &hi);
    assert_non_null(strstr(hi.reason, "dialling again"));
    expect_hello(f, l, &h);
    /* The hub goes away: connecting; it comes back on the same port: hello again. */
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "%s", h.endpoint);
    hub_stop(&h);
    pump(l, &h, in_state, &conn);
    hub_start(f, ctx, &h, endpoint);
    int64_t t_restart = util_mono_ms();
    expect_hello(f, l, &h);
    assert_true(util_mono_ms() - t_restart < HELLO_PROMPT_MS);
    hub_send(&h, FEDRA__HUB_TYPE__HUB_WELCOME, 0, "", NULL);
    pump(l, &h, in_state, &up);
    buf_release(&env);
    buf_release(&box);
    buf_release(&opened);
    hublink_free(l);
    hub_stop(&h);
    zmq_ctx_term(ctx);
}

/* ---- a SOCKS5 proxy (RFC 1928: no authentication, CONNECT) for socks_proxy ---- */

struct socks {
    int lfd, port;
    char target[300];               /* host:port of the last CONNECT */
    int connects;
    volatile int stop;
    pthread_t th;
};

static int
read_n(int fd, void *p, size_t n)
{
    return recv(fd, p, n, MSG_WAITALL) == (ssize_t)n ? 0 : -1;
}

/* One client: greeting, CONNECT, then bytes both ways until either side closes. */
static void
socks_client(struct socks *sx, int c)
{
    uint8_t b[300];
    int u = -1;
    if (read_n(c, b, 2) != 0 || b[0] != 5 || read_n(c, b + 2, b[1]) != 0 ||
        send(c, "\x05\x00", 2, 0) != 2 || read_n(c, b, 4) != 0 || b[1] != 1)
        goto out;
    char host[260] = "";
    if (b[3] == 1 && read_n(c, b, 4) == 0)
        inet_ntop(AF_INET, b, host, sizeof host);
    else if (b[3] == 3 && read_n(c, b, 1) == 0 && read_n(c, host, b[0]) == 0)
        host[b[0]] = 0;
    uint8_t pb[2];
    if (host[0] == 0 || read_n(c, pb, 2) != 0)
        goto out;
    int port = pb[0] << 8 | pb[1];
    snprintf(sx->target, sizeof sx->target, "%s:%d", host, port);
    sx->connects++;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if ((u = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(u, (struct sockaddr *)&a, sizeof a))
        goto out;
    static const uint8_t ok[10] = {5, 0, 0, 1};
    if (send(c, ok, sizeof ok, 0) != (ssize_t)sizeof ok)
        goto out;
    for (;;) {
        struct pollfd pf[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
        if (sx->stop)
            break;
        if (poll(pf, 2, 50) <= 0)
            continue;
        for (int i = 0; i < 2; i++)
            if (pf[i].revents) {
                ssize_t n = recv(pf[i].fd, b, sizeof b, 0);
                if (n <= 0 || send(pf[1 - i].fd, b, (size_t)n, MSG_NOSIGNAL) != n)
                    goto out;
            }
    }
out:
    if (u >= 0)
        close(u);
    close(c);
}

static void *
socks_main(void *arg)
{
    struct socks *sx = arg;
    while (!sx->stop) {
        struct pollfd pf = {sx->lfd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int c = accept(sx->lfd, NULL, NULL);
        if (c >= 0)
            socks_client(sx, c);
    }
    return NULL;
}

static void
socks_start(struct socks *sx)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    memset(sx, 0, sizeof *sx);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    sx->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(sx->lfd >= 0);
    assert_int_equal(bind(sx->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(sx->lfd, 4), 0);
    assert_int_equal(getsockname(sx->lfd, (struct sockaddr *)&a, &al), 0);
    sx->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&sx->th, NULL, socks_main, sx), 0);
}

static void
socks_stop(struct socks *sx)
{
    sx->stop = 1;
    pthread_join(sx->th, NULL);
    close(sx->lfd);
}

/* socks_proxy: the link reaches the hub through the proxy, CURVE end to end. */
static void
test_socks_proxy(void **state)
{
    struct fx *f = *state;
    char proxy[64];
    void *ctx = zmq_ctx_new();
    struct hub h = {0};
    struct socks sx;
    hub_start(f, ctx, &h, "tcp://127.0.0.1:*");
    socks_start(&sx);
    snprintf(proxy, sizeof proxy, "127.0.0.1:%d", sx.port);
    struct hublink_config hc = {h.endpoint, proxy, f->hub_crt, f->nl_secret, answer, NULL, f};
    struct hublink *l = hublink_new(&hc);
    hublink_set_identity(l, f->nl);
    hublink_refresh(l, ctx, f->t1, util_now_ms());
    expect_hello(f, l, &h);
    assert_int_equal(sx.connects, 1);
    assert_non_null(strstr(h.endpoint, strchr(sx.target, ':')));   /* the hub's port */
    enum hublink_state up = HUBLINK_UP;
    hub_send(&h, FEDRA__HUB_TYPE__HUB_WELCOME, 0, "", NULL);
    pump(l, &h, in_state, &up);
    /* A query through the proxy and back. */
    uint8_t nl_public[32];
    struct buf env = {0}, box = {0};
    assert_int_equal(pki_curve_public(f->nl_secret, nl_public), 0);
    signed_envelope(f, f->alice, &env);
    box_to(f->alice_secret, nl_public, env.p, env.len, &box);
    hub_send(&h, FEDRA__HUB_TYPE__HUB_FORWARD, 5, NULL, &box);
    Fedra__HubType ans = FEDRA__HUB_TYPE__HUB_ANSWER;
    pump(l, &h, got, &ans);
    assert_int_equal(h.got->status, FEDRA__HUB_STATUS__HUB_STATUS_OK);
    struct hublink_info hi;
    hublink_info(l, &hi);
    assert_string_equal(hi.socks_proxy, proxy);
    buf_release(&env);
    buf_release(&box);
    hublink_free(l);
    hub_stop(&h);
    socks_stop(&sx);
    zmq_ctx_term(ctx);
}

static int
never(struct hublink *l, struct hub *h, void *arg)
{
    (void)l;
    (void)arg;
    return h->got != NULL;          /* stops the pump only if a frame got through */
}

/* A peer that does not hold the key hub_cert binds gets no hello: the key is pinned. */
static void
test_wrong_hub_key(void **state)
{
    struct fx *f = *state;
    void *ctx = zmq_ctx_new();
    struct hub h = {0};
    uint8_t keep[32];
    memcpy(keep, f->hub_secret, sizeof keep);
    memcpy(f->hub_secret, f->alice_secret, sizeof keep);    /* an impostor's key */
    hub_start(f, ctx, &h, "tcp://127.0.0.1:*");
    memcpy(f->hub_secret, keep, sizeof keep);
    struct hublink *l = new_link(f, h.endpoint, f->hub_crt);
    hublink_refresh(l, ctx, f->t1, util_now_ms());
    int64_t until = util_mono_ms() + WRONG_KEY_WATCH_MS;
    while (util_mono_ms() < until && !never(l, &h, NULL)) {
        int64_t wait = hublink_run(l, util_now_ms());
        zmq_pollitem_t it[3] = {{h.router, -1, ZMQ_POLLIN, 0},
            {hublink_socket(l), -1, ZMQ_POLLIN, 0}, {hublink_monitor(l), -1, ZMQ_POLLIN, 0}};
        zmq_poll(it, 3, wait < 20 ? wait : 20);
        if (it[0].revents & ZMQ_POLLIN) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, h.router, 0);
            zmq_msg_close(&m);
            fail_msg("the impostor received a message");
        }
    }
    struct hublink_info hi;
    hublink_info(l, &hi);
    assert_int_equal(hi.state, HUBLINK_CONNECTING);
    assert_int_equal(hi.welcome_ms, 0);
    hublink_free(l);
    hub_stop(&h);
    zmq_ctx_term(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_hub_cert),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_wrong_hub_key),
        cmocka_unit_test(test_socks_proxy),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
