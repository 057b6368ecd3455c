/*
 * fuzz_hubframe - the hub's parsers and frame handler on bytes from the network.
 *
 * Every input goes through:
 *  1. wire_hubframe_decode and wire_hubroute_decode on the bytes after the
 *     first (every decoded field read back, fuzz_walk);
 *  2. the hub's frame handler (hub/relay.c, relay_input) on a relay with no
 *     sockets: an io that takes every frame, a real trust (fuzz_ca), a node
 *     N1 already joined and one forward to it waiting (a route signed by an
 *     analyst the harness issued), so that a fuzzed answer, hello or route
 *     meets a table with something in it.  The first byte picks the peer
 *     (bit 0: the node's connection or the analyst's) and the number of
 *     ZeroMQ frames the message claimed (bits 1-2); then time passes (every
 *     deadline and silence limit), and the relay is freed.  Every frame the
 *     relay sends must decode as a WELCOME, FORWARD or REPLY (else abort).
 * A fuzzer cannot sign, so a route's signature check is reached, never
 * passed, by the input; the harness's own route covers what lies beyond.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "certs/ca.h"
#include "certs/pki.h"
#include "hub/relay.h"
#include "lib/util.h"
#include "proto/wire.h"
#include "tests/fuzz/fuzz_common.h"

#define FUZZ_HUB_NAME "hub-fuzz"

struct harness {
    struct pki_trust *trust;
    struct pki_cert *n1, *an;
    struct pki_key *an_key;
    struct buf route;               /* a ROUTE frame naming N1, signed by the analyst */
    uint64_t frames;
};

/* Every frame the hub sends must decode as a hub frame of a type only the hub sends. */
static int
take(void *arg, const struct relay_peer *to, const uint8_t *frame, size_t len)
{
    struct harness *h = arg;
    char err[FEDRA_ERRLEN];
    (void)to;
    Fedra__HubFrame *f = wire_hubframe_decode(frame, len, err);
    if (f == NULL || (f->type != FEDRA__HUB_TYPE__HUB_WELCOME &&
                      f->type != FEDRA__HUB_TYPE__HUB_FORWARD &&
                      f->type != FEDRA__HUB_TYPE__HUB_REPLY)) {
        fprintf(stderr, "fuzz_hubframe: the hub sent a frame that is not one of its own: %s\n",
            f ? "wrong type" : err);
        abort();
    }
    h->frames += len;
    wire_hubframe_free(f);
    return RELAY_SENT;
}

static struct relay_peer
peer_of(uint8_t id, const struct pki_cert *c)
{
    struct relay_peer p;
    uint8_t key[PKI_CURVE_KEY_LEN] = {0};
    memset(&p, 0, sizeof p);
    p.id[0] = id;
    p.idlen = 5;
    if (c != NULL)
        pki_cert_curve_key(c, key);
    util_hex(key, sizeof key, p.key);
    return p;
}

static void
pack_frame(Fedra__HubFrame *f, struct buf *out)
{
    f->version = WIRE_VERSION;
    wire_pack(&f->base, out);
}

static void
sign_route(struct harness *h)
{
    Fedra__HubRoute b = FEDRA__HUB_ROUTE__INIT;
    Fedra__SealedQuery q = FEDRA__SEALED_QUERY__INIT, *qp = &q;
    uint8_t rid[WIRE_QUERY_ID_LEN] = {1}, qh[WIRE_HASH_LEN] = {2}, sealed[64] = {3};
    b.context = (char *)WIRE_HUB_ROUTE_CONTEXT;
    b.route_id.data = rid;
    b.route_id.len = sizeof rid;
    b.issued_at_ms = util_now_ms();
    b.expires_at_ms = b.issued_at_ms + WIRE_MAX_LIFETIME_MS;
    b.hub = (char *)FUZZ_HUB_NAME;
    b.timeout_ms = 1000;
    b.query_hash.data = qh;
    b.query_hash.len = sizeof qh;
    q.node = (char *)"N1";
    q.sealed.data = sealed;
    q.sealed.len = sizeof sealed;
    b.queries = &qp;
    b.n_queries = 1;
    struct buf body = {0}, env = {0};
    wire_pack(&b.base, &body);
    uint8_t sig[PKI_SIG_LEN];
    char err[FEDRA_ERRLEN] = "";
    fuzz_check(pki_sign(h->an_key, body.p, body.len, sig), "pki_sign", err);
    Fedra__Envelope e = FEDRA__ENVELOPE__INIT;
    e.version = WIRE_VERSION;
    e.body.data = body.p;
    e.body.len = body.len;
    e.signature.data = sig;
    e.signature.len = sizeof sig;
    e.signer_cert.data = (uint8_t *)pki_cert_der(h->an, &e.signer_cert.len);
    wire_pack(&e.base, &env);
    Fedra__HubFrame f = FEDRA__HUB_FRAME__INIT;
    f.type = FEDRA__HUB_TYPE__HUB_ROUTE;
    f.payload.data = env.p;
    f.payload.len = env.len;
    pack_frame(&f, &h->route);
    buf_release(&body);
    buf_release(&env);
}

static struct harness *
harness(void)
{
    static struct harness h;
    static int ready;
    if (ready)
        return &h;
    char p[FUZZ_PATH_MAX], q[FUZZ_PATH_MAX], err[FEDRA_ERRLEN] = "";
    char serial[CA_SERIAL_LEN];
    struct ca *ca;
    fuzz_ca();
    fuzz_path(p, "ca");
    fuzz_path(q, "analysts");
    fuzz_check(mkdir(q, 0700), "mkdir", "analysts");
    fuzz_check(ca_open(p, &ca, err), "ca_open", err);
    struct ca_issue_req req = {.role = PKI_ROLE_ANALYST, .name = "A1", .out_dir = q, .days = 10};
    fuzz_check(ca_issue(ca, &req, serial, err), "ca_issue", err);
    ca_free(ca);
    fuzz_path(p, "analysts/A1.crt");
    fuzz_check(pki_cert_load(p, &h.an, err), "analyst cert", err);
    fuzz_path(p, "analysts/A1.key");
    fuzz_check(pki_key_load(p, &h.an_key, err), "analyst key", err);
    fuzz_path(p, "nodes/N1.crt");
    fuzz_check(pki_cert_load(p, &h.n1, err), "node cert", err);
    fuzz_path(p, "ca/ca.crt");
    fuzz_path(q, "ca/crl.pem");
    fuzz_check(pki_trust_load(p, q, 1, &h.trust, err), "trust", err);
    sign_route(&h);
    ready = 1;
    return &h;
}

static void
decoders(const uint8_t *data, size_t size)
{
    char err[FEDRA_ERRLEN];
    volatile uint64_t sink = 0;
    Fedra__HubFrame *f = wire_hubframe_decode(data, size, err);
    if (f != NULL) {
        sink += fuzz_walk(&f->base);
        wire_hubframe_free(f);
    }
    Fedra__HubRoute *r = wire_hubroute_decode(data, size, err);
    if (r != NULL) {
        sink += fuzz_walk(&r->base);
        wire_hubroute_free(r);
    }
    (void)sink;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct harness *h = harness();
    decoders(data + 1, size - 1);
    struct relay_io io = {take, NULL, NULL, NULL, h, NULL};
    struct relay_limits lim = {2, 4, 1000, 1000, 0, 0, 0};
    struct relay_now now = {util_now_ms(), 1000000};
    struct relay *r = relay_new(&lim, FUZZ_HUB_NAME, &io);
    relay_set_trust(r, h->trust, &now);
    struct relay_peer node = peer_of(1, h->n1), an = peer_of(2, NULL);
    Fedra__HubFrame hello = FEDRA__HUB_FRAME__INIT;
    hello.type = FEDRA__HUB_TYPE__HUB_HELLO;
    hello.cert.data = (uint8_t *)pki_cert_der(h->n1, &hello.cert.len);
    struct buf hb = {0};
    pack_frame(&hello, &hb);
    relay_input(r, &node, hb.p, hb.len, 1, &now);
    buf_release(&hb);
    relay_input(r, &an, h->route.p, h->route.len, 1, &now);
    int nparts = 1 + ((data[0] >> 1) & 3);
    relay_input(r, data[0] & 1 ? &an : &node, data + 1, size - 1, nparts, &now);
    now.mono_ms += 24LL * 3600 * 1000;
    now.wall_ms += 24LL * 3600 * 1000;
    relay_tick(r, &now);
    relay_free(r);
    return 0;
}
