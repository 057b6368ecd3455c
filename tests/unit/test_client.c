/*
 * test_client - verification of one signed node response (client_verify_reply
 * in coord/client.c).
 *
 * A group fixture creates a CA with a current CRL, node certificates DE and
 * FR, an analyst alice, a renewed DE certificate (same name, new key, in
 * out2/), a revoked DE certificate (out3/) and a certificate "DE" from an
 * unrelated CA, then loads two federation files naming DE and FR: one with
 * ca_cert + crl (renewals accepted through the CA) and one without (only the
 * pinned certificate).  Every response is built here the way a node builds
 * it: ResponseBody packed with wire_pack, signed with pki_sign, wrapped in an
 * Envelope with the signer's DER certificate.
 *
 * The hub path: a hub certificate "relay" and a federation file naming it,
 * with DE and FR behind it.  Routes are built and taken apart here as the hub
 * and the nodes would (wire_hubroute_decode, seal_open with each node's key);
 * answers are sealed to alice's transport key and handed over as HUB_REPLY
 * frames; and one whole fanout runs against a stand-in hub in a thread (a
 * ROUTER, CURVE server with relay's key, on a loopback port).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "certs/ca.h"
#include "certs/pki.h"
#include "coord/client.h"
#include "coord/federation.h"
#include "lib/seal.h"
#include "lib/util.h"
#include "proto/wire.h"

#define T_2019_01_01 1546300800LL

/* Signers, by their key and certificate files under DIR. */
enum signer { S_DE, S_FR, S_ALICE, S_DE_RENEWED, S_DE_REVOKED, S_DE_ROGUE, S_DE_ISSUED,
    S_RELAY, S_COUNT };
static const char *const signer_file[S_COUNT] = {
    "out/DE", "out/FR", "out/alice", "out2/DE", "out3/DE", "rogue-out/DE", "out4/DE",
    "out/relay",
};

struct fx {
    char dir[64];
    struct pki_key *key[S_COUNT];
    struct pki_cert *cert[S_COUNT];
    struct federation with_ca, pinned;
    struct federation root_only;    /* ca_cert only: the chain must come with the answer */
    struct federation hubbed;       /* DE and FR behind the hub relay */
    uint8_t qhash[WIRE_HASH_LEN];   /* of the query we "sent" */
};

static int
group_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "", serial[CA_SERIAL_LEN], p[160], q[160];
    struct ca *ca = NULL, *rogue = NULL, *iss = NULL;
    struct ca_revoked rv;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_client.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(p, sizeof p, "%s/ca", f->dir);
    snprintf(q, sizeof q, "%s/rogue", f->dir);
    if ((ca = fixture_ca(p, "fedra test CA", CA_MAX_DAYS, T_2019_01_01, err)) == NULL ||
        (rogue = fixture_ca(q, "rogue CA", CA_MAX_DAYS, T_2019_01_01, err)) == NULL)
        goto fail;
    snprintf(p, sizeof p, "%s/out", f->dir);
    if (fixture_issue(ca, PKI_ROLE_NODE, "DE", p, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_NODE, "FR", p, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_ANALYST, "alice", p, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_HUB, "relay", p, NULL, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/out2", f->dir);
    if (fixture_issue(ca, PKI_ROLE_NODE, "DE", p, NULL, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/out3", f->dir);
    if (fixture_issue(ca, PKI_ROLE_NODE, "DE", p, serial, err) != 0 ||
        ca_revoke(ca, NULL, serial, "keyCompromise", 0, &rv, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/rogue-out", f->dir);
    if (fixture_issue(rogue, PKI_ROLE_NODE, "DE", p, NULL, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/crl.pem", f->dir);
    if (fixture_crl(ca, p, err) != 0)
        goto fail;
    /* DE once more, from an issuing CA under the root. */
    snprintf(p, sizeof p, "%s/iss", f->dir);
    snprintf(q, sizeof q, "%s/out4", f->dir);
    if (ca_init_issuing(p, "issuing CA", 365, ca, 0, serial, err) != 0 ||
        ca_open(p, &iss, err) != 0 || fixture_issue(iss, PKI_ROLE_NODE, "DE", q, NULL, err) != 0)
        goto fail;
    ca_free(iss);
    ca_free(ca);
    ca_free(rogue);
    iss = ca = rogue = NULL;
    for (int i = 0; i < S_COUNT; i++) {
        if ((f->key[i] = fixture_key(f->dir, signer_file[i], err)) == NULL ||
            (f->cert[i] = fixture_cert(f->dir, signer_file[i], err)) == NULL)
            goto fail;
    }
    static const char with_ca[] = "ca_cert = ca/ca.crt\ncrl = crl.pem\n"
        "node = DE tcp://127.0.0.1:7001 out/DE.crt\nnode = FR tcp://127.0.0.1:7002 out/FR.crt\n";
    static const char pinned[] =
        "node = DE tcp://127.0.0.1:7001 out/DE.crt\nnode = FR tcp://127.0.0.1:7002 out/FR.crt\n";
    snprintf(p, sizeof p, "%s/with-ca.conf", f->dir);
    snprintf(q, sizeof q, "%s/pinned.conf", f->dir);
    if (util_write_file(p, with_ca, strlen(with_ca), 0644, err) != 0 ||
        util_write_file(q, pinned, strlen(pinned), 0644, err) != 0 ||
        federation_load(p, &f->with_ca, err) != 0 || federation_load(q, &f->pinned, err) != 0)
        goto fail;
    static const char root_only[] = "ca_cert = ca/ca.crt\nnode = DE tcp://127.0.0.1:7001 out/DE.crt\n";
    snprintf(p, sizeof p, "%s/root-only.conf", f->dir);
    if (util_write_file(p, root_only, strlen(root_only), 0644, err) != 0 ||
        federation_load(p, &f->root_only, err) != 0)
        goto fail;
    static const char hubbed[] = "ca_cert = ca/ca.crt\ncrl = crl.pem\n"
        "hub = tcp://127.0.0.1:1 out/relay.crt\nnode = DE hub out/DE.crt\n"
        "node = FR hub out/FR.crt\n";
    snprintf(p, sizeof p, "%s/hubbed.conf", f->dir);
    if (util_write_file(p, hubbed, strlen(hubbed), 0644, err) != 0 ||
        federation_load(p, &f->hubbed, err) != 0)
        goto fail;
    static const char query[] = "the signed query envelope as sent";
    wire_query_hash((const uint8_t *)query, sizeof query - 1, f->qhash);
    *state = f;
    return 0;
fail:
    fprintf(stderr, "setup: %s\n", err);
    ca_free(iss);
    ca_free(ca);
    ca_free(rogue);
    return -1;
}

static int
group_teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < S_COUNT; i++) {
        pki_key_free(f->key[i]);
        pki_cert_free(f->cert[i]);
    }
    federation_release(&f->with_ca);
    federation_release(&f->pinned);
    federation_release(&f->root_only);
    federation_release(&f->hubbed);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* How to build one response; zero/NULL fields take the honest defaults. */
struct resp {
    const char *node;               /* body.node (default "DE") */
    const char *context;            /* default WIRE_RESPONSE_CONTEXT */
    const uint8_t *qhash;           /* default the fixture's */
    size_t qhash_len;               /* default 32 */
    enum signer key, cert;          /* signing key and envelope certificate (default DE) */
    int refused;
    long flip;                      /* flip this body byte after signing (-1: none) */
    uint32_t version;               /* envelope version (default 1) */
    int no_chain;                   /* leave the certificate's chain out of the envelope */
};

static void
build(const struct fx *f, const struct resp *r, struct buf *out)
{
    Fedra__ResponseBody body;
    Fedra__CountResult count;
    Fedra__Cell cell[2], *cellp[2];
    char *lv[2] = {(char *)"F", (char *)"M"};
    uint8_t qid[16], dh[32];
    fedra__response_body__init(&body);
    fedra__count_result__init(&count);
    memset(qid, 0x51, sizeof qid);
    memset(dh, 0xd0, sizeof dh);
    body.context = (char *)(r->context ? r->context : WIRE_RESPONSE_CONTEXT);
    body.query_hash.data = (uint8_t *)(r->qhash ? r->qhash : f->qhash);
    body.query_hash.len = r->qhash_len ? r->qhash_len : WIRE_HASH_LEN;
    body.query_id.data = qid;
    body.query_id.len = sizeof qid;
    body.node = (char *)(r->node ? r->node : "DE");
    body.answered_at_ms = 1750000000000LL;
    body.data_hash.data = dh;
    body.data_hash.len = sizeof dh;
    body.data_rows = 12;
    if (r->refused) {
        body.status = FEDRA__STATUS__STATUS_REFUSED;
        body.reason = (char *)"query expired";
        body.code = (char *)"time";
    } else {
        body.status = FEDRA__STATUS__STATUS_OK;
        for (int i = 0; i < 2; i++) {
            fedra__cell__init(&cell[i]);
            cell[i].levels = &lv[i];
            cell[i].n_levels = 1;
            cellp[i] = &cell[i];
        }
        cell[0].count = 7;
        cell[1].suppressed = 1;
        count.cells = cellp;
        count.n_cells = 2;
        count.max_hidden = 4;
        body.count = &count;
    }
    struct buf b = {0};
    wire_pack(&body.base, &b);
    uint8_t sig[PKI_SIG_LEN];
    assert_int_equal(pki_sign(f->key[r->key], b.p, b.len, sig), 0);
    if (r->flip >= 0) {
        assert_true((size_t)r->flip < b.len);
        b.p[r->flip] ^= 0x01;
    }
    Fedra__Envelope env;
    fedra__envelope__init(&env);
    env.version = r->version ? r->version : WIRE_VERSION;
    env.body.data = b.p;
    env.body.len = b.len;
    env.signature.data = sig;
    env.signature.len = sizeof sig;
    size_t dlen;
    const uint8_t *der = pki_cert_der(f->cert[r->cert], &dlen);
    env.signer_cert.data = (uint8_t *)der;
    env.signer_cert.len = dlen;
    ProtobufCBinaryData chain[PKI_MAX_CHAIN];
    if (!r->no_chain)
        client_envelope_chain(f->cert[r->cert], &env, chain);
    wire_pack(&env.base, out);
    buf_release(&b);
}

static struct resp
honest(void)
{
    struct resp r = {0};
    r.key = r.cert = S_DE;
    r.flip = -1;
    return r;
}

/* Verify r for node `node` of fed; returns the rc, err and (on success) body. */
static int
verify(const struct fx *f, const struct federation *fed, const char *node, const struct resp *r,
    char *err, Fedra__ResponseBody **body)
{
    struct buf msg = {0};
    build(f, r, &msg);
    const struct fed_node *nd = federation_find(fed, node);
    assert_non_null(nd);
    err[0] = 0;
    int rc = client_verify_reply(fed, nd, f->qhash, msg.p, msg.len, body, err);
    buf_release(&msg);
    if (rc != 0)
        assert_null(*body);
    return rc;
}

/* Must fail for node with exactly want in both federations (want2 for the pinned one, if set). */
static void
refuse(const struct fx *f, const char *node, const struct resp *r, const char *want,
    const char *want_pinned)
{
    char err[FEDRA_ERRLEN];
    Fedra__ResponseBody *body = NULL;
    assert_int_equal(verify(f, &f->with_ca, node, r, err, &body), -1);
    if (strstr(err, want) == NULL)
        fail_msg("with ca_cert: got '%s', expected '%s'", err, want);
    assert_int_equal(verify(f, &f->pinned, node, r, err, &body), -1);
    const char *w = want_pinned ? want_pinned : want;
    if (strstr(err, w) == NULL)
        fail_msg("pinned: got '%s', expected '%s'", err, w);
}

#define NOT_PINNED "response signed with a certificate other than the one in the federation file"

static void
test_accepts_honest_response(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    struct resp r = honest();
    const struct federation *feds[2] = {&f->with_ca, &f->pinned};
    for (int i = 0; i < 2; i++) {
        Fedra__ResponseBody *body = NULL;
        if (verify(f, feds[i], "DE", &r, err, &body) != 0)
            fail_msg("federation %d: %s", i, err);
        assert_non_null(body);
        assert_string_equal(body->node, "DE");
        assert_int_equal(body->status, FEDRA__STATUS__STATUS_OK);
        assert_memory_equal(body->query_hash.data, f->qhash, WIRE_HASH_LEN);
        assert_int_equal(body->data_rows, 12);
        assert_non_null(body->count);
        assert_int_equal(body->count->n_cells, 2);
        assert_string_equal(body->count->cells[0]->levels[0], "F");
        assert_int_equal(body->count->cells[0]->count, 7);
        assert_int_equal(body->count->cells[1]->suppressed, 1);
        assert_int_equal(body->count->max_hidden, 4);
        wire_response_free(body);
    }
}

static void
test_accepts_refusal_and_other_node(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    Fedra__ResponseBody *body = NULL;
    struct resp r = honest();
    r.refused = 1;
    assert_int_equal(verify(f, &f->with_ca, "DE", &r, err, &body), 0);
    assert_int_equal(body->status, FEDRA__STATUS__STATUS_REFUSED);
    assert_string_equal(body->reason, "query expired");
    assert_string_equal(body->code, "time");
    wire_response_free(body);
    /* FR answering as FR. */
    r = honest();
    r.node = "FR";
    r.key = r.cert = S_FR;
    assert_int_equal(verify(f, &f->pinned, "FR", &r, err, &body), 0);
    assert_string_equal(body->node, "FR");
    wire_response_free(body);
}

static void
test_renewed_certificate(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    Fedra__ResponseBody *body = NULL;
    struct resp r = honest();
    r.key = r.cert = S_DE_RENEWED;
    /* Through the CA: accepted (same name, role node). */
    if (verify(f, &f->with_ca, "DE", &r, err, &body) != 0)
        fail_msg("%s", err);
    wire_response_free(body);
    body = NULL;
    /* Pinned only: refused. */
    assert_int_equal(verify(f, &f->pinned, "DE", &r, err, &body), -1);
    assert_non_null(strstr(err, NOT_PINNED));
}

/* A node certificate from an issuing CA: the chain travels in the envelope. */
static void
test_chain_from_issuing_ca(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    Fedra__ResponseBody *body = NULL;
    struct resp r = honest();
    r.key = r.cert = S_DE_ISSUED;
    assert_int_equal(pki_cert_chain_count(f->cert[S_DE_ISSUED]), 1);
    if (verify(f, &f->root_only, "DE", &r, err, &body) != 0)
        fail_msg("%s", err);
    wire_response_free(body);
    body = NULL;
    /* Without the chain the root alone cannot place the issuing CA. */
    r.no_chain = 1;
    assert_int_equal(verify(f, &f->root_only, "DE", &r, err, &body), -1);
    assert_non_null(strstr(err, "its issuer is 'issuing CA'"));
}

static void
test_flipped_body_byte(void **state)
{
    struct fx *f = *state;
    struct resp r = honest();
    /* Every position: first byte, one inside the query hash, the last. */
    const long at[3] = {0, 25, -2};
    for (int i = 0; i < 3; i++) {
        r.flip = at[i];
        if (at[i] == -2) {
            struct buf b = {0};
            struct resp h = honest();
            build(f, &h, &b);
            /* The body is most of the envelope; flipping its last byte needs its length. */
            Fedra__Envelope *e = wire_envelope_decode(b.p, b.len, WIRE_MAX_RESPONSE, NULL);
            assert_non_null(e);
            r.flip = (long)e->body.len - 1;
            wire_envelope_free(e);
            buf_release(&b);
        }
        refuse(f, "DE", &r, "response signature is invalid (altered in transit or forged)",
            NULL);
    }
}

static void
test_wrong_key_for_certificate(void **state)
{
    struct fx *f = *state;
    /* DE's certificate, FR's key: the signature does not verify. */
    struct resp r = honest();
    r.key = S_FR;
    refuse(f, "DE", &r, "response signature is invalid", NULL);
}

static void
test_query_hash_mismatch(void **state)
{
    struct fx *f = *state;
    uint8_t other[WIRE_HASH_LEN];
    static const char q2[] = "a different query envelope";
    wire_query_hash((const uint8_t *)q2, sizeof q2 - 1, other);
    struct resp r = honest();
    r.qhash = other;
    refuse(f, "DE", &r, "response answers a different query (query hash mismatch)", NULL);
    /* Short hash: refused at decode, never compared past its end. */
    r.qhash = f->qhash;
    r.qhash_len = 16;
    refuse(f, "DE", &r, "malformed signed response: response query_hash is 16 bytes, "
        "expected 32", NULL);
}

static void
test_body_names_other_node(void **state)
{
    struct fx *f = *state;
    struct resp r = honest();
    r.node = "FR";
    refuse(f, "DE", &r, "response claims to come from 'FR'", NULL);
}

static void
test_signed_by_other_node(void **state)
{
    struct fx *f = *state;
    /* FR's valid certificate and key, body claiming DE, checked as DE's reply. */
    struct resp r = honest();
    r.key = r.cert = S_FR;
    refuse(f, "DE", &r, "response signed by node 'FR', not 'DE'", NOT_PINNED);
    /* The same with the body honestly naming FR. */
    r.node = "FR";
    refuse(f, "DE", &r, "response signed by node 'FR', not 'DE'", NOT_PINNED);
}

static void
test_signed_by_analyst(void **state)
{
    struct fx *f = *state;
    struct resp r = honest();
    r.key = r.cert = S_ALICE;
    refuse(f, "DE", &r, "response signer certificate rejected: ", NOT_PINNED);
    char err[FEDRA_ERRLEN];
    Fedra__ResponseBody *body = NULL;
    assert_int_equal(verify(f, &f->with_ca, "DE", &r, err, &body), -1);
    assert_non_null(strstr(err, "analyst"));
}

/* A hub's certificate (role hub) signs no node answer (issue 13): refused like an analyst's. */
static void
test_signed_by_hub(void **state)
{
    struct fx *f = *state;
    struct resp r = honest();
    r.key = r.cert = S_RELAY;
    refuse(f, "DE", &r, "response signer certificate rejected: ", NOT_PINNED);
    char err[FEDRA_ERRLEN];
    Fedra__ResponseBody *body = NULL;
    assert_int_equal(verify(f, &f->with_ca, "DE", &r, err, &body), -1);
    assert_non_null(strstr(err, "role hub"));
}

static void
test_revoked_and_foreign_certificates(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    Fedra__ResponseBody *body = NULL;
    struct resp r = honest();
    r.key = r.cert = S_DE_REVOKED;
    refuse(f, "DE", &r, "response signer certificate rejected: ", NOT_PINNED);
    assert_int_equal(verify(f, &f->with_ca, "DE", &r, err, &body), -1);
    assert_non_null(strstr(err, "revoked"));
    r.key = r.cert = S_DE_ROGUE;
    refuse(f, "DE", &r, "response signer certificate rejected: ", NOT_PINNED);
    assert_int_equal(verify(f, &f->with_ca, "DE", &r, err, &body), -1);
    assert_non_null(strstr(err, "not issued by the federation CA"));
}

static void
test_wrong_context(void **state)
{
    struct fx *f = *state;
    struct resp r = honest();
    r.context = WIRE_QUERY_CONTEXT;
    refuse(f, "DE", &r, "malformed signed response: response body has context "
        "'fedra/query/v1', expected 'fedra/response/v1'", NULL);
    r.context = "";
    refuse(f, "DE", &r, "response body has context ''", NULL);
}

static void
test_garbage(void **state)
{
    struct fx *f = *state;
    const struct fed_node *nd = federation_find(&f->with_ca, "DE");
    char err[FEDRA_ERRLEN];
    Fedra__ResponseBody *body = (Fedra__ResponseBody *)1;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x13, 0x37};
    assert_int_equal(client_verify_reply(&f->with_ca, nd, f->qhash, junk, sizeof junk, &body,
        err), -1);
    assert_null(body);
    assert_non_null(strstr(err, "unreadable response: "));
    static const uint8_t text[] = "HTTP/1.1 200 OK\r\n\r\n";
    assert_int_equal(client_verify_reply(&f->pinned, nd, f->qhash, text, sizeof text - 1, &body,
        err), -1);
    assert_non_null(strstr(err, "unreadable response: "));
    assert_int_equal(client_verify_reply(&f->pinned, nd, f->qhash, text, 0, &body, err), -1);
    assert_non_null(strstr(err, "unreadable response: "));
    /* A truncated honest response. */
    struct buf b = {0};
    struct resp r = honest();
    build(f, &r, &b);
    assert_int_equal(client_verify_reply(&f->with_ca, nd, f->qhash, b.p, b.len - 10, &body,
        err), -1);
    assert_non_null(strstr(err, "unreadable response: "));
    buf_release(&b);
    /* An envelope of another version (an older node's). */
    r.version = WIRE_VERSION - 1;
    char want[80];
    snprintf(want, sizeof want, "unreadable response: unsupported envelope version %d",
        WIRE_VERSION - 1);
    refuse(f, "DE", &r, want, NULL);
}

/* ---- through a hub ---- */

/* The transport key pair of signer i, as its key file yields it. */
static void
curve_pair(const struct fx *f, enum signer i, uint8_t pub[SEAL_KEY_LEN], uint8_t sec[SEAL_KEY_LEN])
{
    assert_int_equal(pki_key_curve_secret(f->key[i], sec), 0);
    assert_int_equal(pki_curve_public(sec, pub), 0);
}

/* A box from signer a to signer b (lib/seal.h), as a node seals its answer. */
static void
box_from(const struct fx *f, enum signer a, enum signer b, const struct buf *msg, struct buf *box)
{
    uint8_t apub[SEAL_KEY_LEN], asec[SEAL_KEY_LEN], bpub[SEAL_KEY_LEN], bsec[SEAL_KEY_LEN];
    uint8_t pair[SEAL_PAIR_LEN];
    char err[FEDRA_ERRLEN];
    curve_pair(f, a, apub, asec);
    curve_pair(f, b, bpub, bsec);
    assert_int_equal(seal_pair_key(asec, bpub, pair, err), 0);
    box->len = 0;
    assert_int_equal(seal_box(apub, pair, msg->p, msg->len, box, err), 0);
}

/* Open a box as signer me does (node/hublink.c): the sender's key, the pair key, the box. */
static int
open_as(const struct fx *f, enum signer me, const uint8_t *box, size_t len, struct buf *out,
    char *err)
{
    uint8_t pub[SEAL_KEY_LEN], sec[SEAL_KEY_LEN], from[SEAL_KEY_LEN], pair[SEAL_PAIR_LEN];
    curve_pair(f, me, pub, sec);
    if (seal_sender(box, len, from, err) != 0 || seal_pair_key(sec, from, pair, err) != 0)
        return -1;
    return seal_open(pair, box, len, WIRE_MAX_MODEL_QUERY, out, err);
}

/* client_hub_route as a session makes it: alice's keys. */
static int
route(struct fx *f, struct federation *fed, const uint8_t *q, size_t qlen, const size_t *idx,
    size_t n, int timeout_ms, uint8_t rid[WIRE_QUERY_ID_LEN], struct buf *out, char *err)
{
    struct client_keys ks;
    assert_int_equal(client_keys_init(&ks, fed, f->cert[S_ALICE], f->key[S_ALICE], err), 0);
    int rc = client_hub_route(&ks, q, qlen, idx, n, timeout_ms, 0, rid, out, err);
    client_keys_release(&ks);
    return rc;
}

static const char hub_query[] = "the signed query envelope, sealed to each node";

static void
test_hub_route(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    const size_t idx[2] = {0, 1};
    uint8_t rid[WIRE_QUERY_ID_LEN], rid2[WIRE_QUERY_ID_LEN], qh[WIRE_HASH_LEN];
    struct buf out = {0};
    const uint8_t *q = (const uint8_t *)hub_query;
    size_t qlen = sizeof hub_query - 1;
    int64_t before = util_now_ms();
    if (route(f, &f->hubbed, q, qlen, idx, 2, 2500, rid, &out, err) != 0)
        fail_msg("%s", err);
    /* What the hub checks: an envelope signed by alice over a HubRoute. */
    Fedra__Envelope *e = wire_envelope_decode(out.p, out.len, WIRE_MAX_HUB_ROUTE, err);
    assert_non_null(e);
    assert_int_equal(pki_check_sig(f->cert[S_ALICE], e->body.data, e->body.len,
        e->signature.data, e->signature.len), 0);
    size_t dl;
    const uint8_t *der = pki_cert_der(f->cert[S_ALICE], &dl);
    assert_int_equal(e->signer_cert.len, dl);
    assert_memory_equal(e->signer_cert.data, der, dl);
    Fedra__HubRoute *r = wire_hubroute_decode(e->body.data, e->body.len, err);
    if (r == NULL)
        fail_msg("%s", err);
    assert_string_equal(r->context, WIRE_HUB_ROUTE_CONTEXT);
    assert_memory_equal(r->route_id.data, rid, WIRE_QUERY_ID_LEN);
    assert_string_equal(r->hub, "relay");
    assert_int_equal(r->timeout_ms, 2500);
    assert_true(r->issued_at_ms >= before && r->issued_at_ms <= util_now_ms());
    assert_int_equal(r->expires_at_ms, r->issued_at_ms + 2500 + CLIENT_ROUTE_TTL_SLACK_MS);
    wire_query_hash(q, qlen, qh);
    assert_memory_equal(r->query_hash.data, qh, WIRE_HASH_LEN);
    assert_int_equal(r->n_queries, 2);
    /* What each node does: open its own box, and only its own. */
    const enum signer who[2] = {S_DE, S_FR};
    for (size_t k = 0; k < 2; k++) {
        uint8_t apub[SEAL_KEY_LEN], asec[SEAL_KEY_LEN], from[SEAL_KEY_LEN];
        struct buf plain = {0};
        assert_string_equal(r->queries[k]->node, k == 0 ? "DE" : "FR");
        if (open_as(f, who[k], r->queries[k]->sealed.data, r->queries[k]->sealed.len, &plain,
                err) != 0)
            fail_msg("%s", err);
        assert_int_equal(plain.len, qlen);
        assert_memory_equal(plain.p, q, qlen);
        /* from alice's transport key, the one her certificate binds */
        curve_pair(f, S_ALICE, apub, asec);
        assert_int_equal(seal_sender(r->queries[k]->sealed.data, r->queries[k]->sealed.len,
            from, err), 0);
        assert_memory_equal(from, apub, SEAL_KEY_LEN);
        plain.len = 0;
        assert_int_equal(open_as(f, who[1 - k], r->queries[k]->sealed.data,
            r->queries[k]->sealed.len, &plain, err), -1);
        buf_release(&plain);
    }
    wire_hubroute_free(r);
    wire_envelope_free(e);
    /* A fresh route id every time. */
    assert_int_equal(route(f, &f->hubbed, q, qlen, idx, 1, 2500, rid2, &out, err), 0);
    assert_memory_not_equal(rid, rid2, WIRE_QUERY_ID_LEN);
    /* The longest timeout: the route lives at most WIRE_MAX_LIFETIME_MS (the hub caps the wait). */
    assert_int_equal(route(f, &f->hubbed, q, qlen, idx, 1, CLIENT_MAX_TIMEOUT_MS, rid2, &out,
        err), 0);
    e = wire_envelope_decode(out.p, out.len, WIRE_MAX_HUB_ROUTE, err);
    assert_non_null(e);
    r = wire_hubroute_decode(e->body.data, e->body.len, err);
    assert_non_null(r);
    assert_int_equal(r->timeout_ms, CLIENT_MAX_TIMEOUT_MS);
    assert_int_equal(r->expires_at_ms - r->issued_at_ms, WIRE_MAX_LIFETIME_MS);
    wire_hubroute_free(r);
    wire_envelope_free(e);
    /* Limits: no nodes, or a federation without a hub. */
    assert_int_equal(route(f, &f->hubbed, q, qlen, idx, 0, 2500, rid, &out, err), -1);
    assert_string_equal(err, "a route names 1..256 nodes, not 0");
    assert_int_equal(route(f, &f->pinned, q, qlen, idx, 1, 2500, rid, &out, err), -1);
    assert_string_equal(err, "the federation file names no hub");
    buf_release(&out);
}

static void
test_hub_analyst_key(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    struct client_session *s = client_session_open(&f->hubbed);
    /* alice's certificate with DE's key: the bound transport key is not the key's. */
    assert_int_equal(client_session_analyst(s, f->cert[S_ALICE], f->key[S_DE], err), -1);
    assert_string_equal(err, "certificate 'alice' binds a transport key other than its key's");
    assert_int_equal(client_session_analyst(s, f->cert[S_ALICE], f->key[S_ALICE], err), 0);
    client_session_close(s);
}

/* rep for DE (node 0 of hubbed) after the HUB_REPLY {status, reason, payload}. */
static void
hub_reply(const struct fx *f, struct client_session *s, Fedra__HubStatus st, const char *reason,
    const struct buf *payload, struct node_reply *rep)
{
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
    h.version = WIRE_VERSION;
    h.type = FEDRA__HUB_TYPE__HUB_REPLY;
    h.node = (char *)"DE";
    h.status = st;
    h.reason = (char *)(reason ? reason : "");
    if (payload != NULL) {
        h.payload.data = payload->p;
        h.payload.len = payload->len;
    }
    client_replies_release(rep, 1);
    memset(rep, 0, sizeof *rep);
    client_session_hub_reply(s, 0, f->qhash, &h, rep);
}

static void
test_hub_reply(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    struct client_session *s = client_session_open(&f->hubbed);
    assert_int_equal(client_session_analyst(s, f->cert[S_ALICE], f->key[S_ALICE], err), 0);
    struct node_reply rep;
    memset(&rep, 0, sizeof rep);
    struct buf env = {0}, box = {0};
    struct resp r = honest();
    build(f, &r, &env);
    /* Honest: opened, verified as a direct answer, and the opened envelope kept for bundles. */
    box_from(f, S_DE, S_ALICE, &env, &box);
    hub_reply(f, s, FEDRA__HUB_STATUS__HUB_STATUS_OK, NULL, &box, &rep);
    if (rep.status != NODE_OK)
        fail_msg("%s", rep.reason);
    assert_int_equal(rep.raw.len, env.len);
    assert_memory_equal(rep.raw.p, env.p, env.len);
    assert_int_equal(rep.body->count->cells[0]->count, 7);
    /* A byte of the box altered by the hub. */
    box.p[box.len / 2] ^= 0x20;
    hub_reply(f, s, FEDRA__HUB_STATUS__HUB_STATUS_OK, NULL, &box, &rep);
    assert_int_equal(rep.status, NODE_ERROR);
    assert_non_null(strstr(rep.reason, "answer altered in transit: the sealed answer relayed by "
        "hub 'relay' is not a box between node 'DE' and you"));
    assert_int_equal(rep.raw.len, 0);
    /* Sealed to someone else's key. */
    box_from(f, S_DE, S_FR, &env, &box);
    hub_reply(f, s, FEDRA__HUB_STATUS__HUB_STATUS_OK, NULL, &box, &rep);
    assert_int_equal(rep.status, NODE_ERROR);
    assert_non_null(strstr(rep.reason, "answer altered in transit"));
    /* FR's box passed on as DE's (a swap): it is not under alice's pair key with DE. */
    env.len = 0;
    r.node = "FR";
    r.key = r.cert = S_FR;
    build(f, &r, &env);
    box_from(f, S_FR, S_ALICE, &env, &box);
    hub_reply(f, s, FEDRA__HUB_STATUS__HUB_STATUS_OK, NULL, &box, &rep);
    assert_int_equal(rep.status, NODE_ERROR);
    assert_non_null(strstr(rep.reason, "answer altered in transit"));
    /* Were FR's answer inside DE's box, the signature would still name FR. */
    box_from(f, S_DE, S_ALICE, &env, &box);
    hub_reply(f, s, FEDRA__HUB_STATUS__HUB_STATUS_OK, NULL, &box, &rep);
    assert_int_equal(rep.status, NODE_ERROR);
    assert_string_equal(rep.reason, "response signed by node 'FR', not 'DE'");
    /* DE's answer to another query (a replay): the query hash. */
    uint8_t other[WIRE_HASH_LEN];
    wire_query_hash((const uint8_t *)"an earlier query", 16, other);
    env.len = box.len = 0;
    r = honest();
    r.qhash = other;
    build(f, &r, &env);
    box_from(f, S_DE, S_ALICE, &env, &box);
    hub_reply(f, s, FEDRA__HUB_STATUS__HUB_STATUS_OK, NULL, &box, &rep);
    assert_int_equal(rep.status, NODE_ERROR);
    assert_non_null(strstr(rep.reason, "query hash mismatch"));
    /* The hub's verdicts, each naming the node and the hub; its text made printable. */
    static const struct {
        Fedra__HubStatus st;
        enum node_status want;
        const char *reason;
    } v[] = {
        {FEDRA__HUB_STATUS__HUB_STATUS_TIMEOUT, NODE_TIMEOUT,
            "node 'DE' did not answer hub 'relay' within the timeout"},
        {FEDRA__HUB_STATUS__HUB_STATUS_UNKNOWN, NODE_ERROR,
            "node 'DE' is not known to hub 'relay' (it never connected, or the hub refused its "
            "certificate)"},
        {FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE, NODE_ERROR,
            "node 'DE' is not connected to hub 'relay'"},
        {FEDRA__HUB_STATUS__HUB_STATUS_BUSY, NODE_ERROR,
            "node 'DE' is busy at hub 'relay' (its queue is full)"},
        {FEDRA__HUB_STATUS__HUB_STATUS_REFUSED, NODE_ERROR,
            "hub 'relay' refused the route to node 'DE'"},
        {FEDRA__HUB_STATUS__HUB_STATUS_UNREADABLE, NODE_ERROR,
            "node 'DE' could not read the query relayed by hub 'relay' (altered in transit, or "
            "sealed to a key it does not hold)"},
        {(Fedra__HubStatus)42, NODE_ERROR, "hub 'relay' sent an unknown status 42 for node 'DE'"},
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        hub_reply(f, s, v[k].st, NULL, NULL, &rep);
        assert_int_equal(rep.status, v[k].want);
        assert_string_equal(rep.reason, v[k].reason);
        assert_null(rep.body);
    }
    hub_reply(f, s, FEDRA__HUB_STATUS__HUB_STATUS_REFUSED, "certificate 'alice' was\nrevoked",
        NULL, &rep);
    assert_string_equal(rep.reason, "hub 'relay' refused the route to node 'DE': certificate "
        "'alice' was?revoked");
    client_replies_release(&rep, 1);
    buf_release(&env);
    buf_release(&box);
    client_session_close(s);
}

/*
 * A stand-in hub for one route: it checks the route as the hub would, then
 * replies first with a stale route id (to be dropped), then DE's honest
 * answer sealed to alice, then FR as not connected.
 */
struct fake_hub {
    const struct fx *f;
    void *ctx, *sock;
    char endpoint[64];
    char err[FEDRA_ERRLEN];         /* empty: all went as expected */
};

static void
fake_send(struct fake_hub *h, const zmq_msg_t *id, const uint8_t rid[WIRE_QUERY_ID_LEN],
    const char *node, Fedra__HubStatus st, const struct buf *payload)
{
    Fedra__HubFrame fr = FEDRA__HUB_FRAME__INIT;
    fr.version = WIRE_VERSION;
    fr.type = FEDRA__HUB_TYPE__HUB_REPLY;
    fr.route_id.data = (uint8_t *)rid;
    fr.route_id.len = WIRE_QUERY_ID_LEN;
    fr.node = (char *)node;
    fr.status = st;
    if (payload != NULL) {
        fr.payload.data = payload->p;
        fr.payload.len = payload->len;
    }
    struct buf b = {0};
    wire_pack(&fr.base, &b);
    zmq_send(h->sock, zmq_msg_data((zmq_msg_t *)id), zmq_msg_size((zmq_msg_t *)id), ZMQ_SNDMORE);
    zmq_send(h->sock, b.p, b.len, 0);
    buf_release(&b);
}

static void *
fake_hub_run(void *arg)
{
    struct fake_hub *h = arg;
    const struct fx *f = h->f;
    zmq_msg_t id, m;
    zmq_msg_init(&id);
    zmq_msg_init(&m);
    Fedra__HubFrame *fr = NULL;
    Fedra__Envelope *e = NULL;
    Fedra__HubRoute *r = NULL;
    struct buf plain = {0}, env = {0}, box = {0};
    if (zmq_msg_recv(&id, h->sock, 0) < 0 || zmq_msg_recv(&m, h->sock, 0) < 0) {
        errf(h->err, "fake hub: no route came");
        goto out;
    }
    fr = wire_hubframe_decode(zmq_msg_data(&m), zmq_msg_size(&m), h->err);
    e = fr && fr->type == FEDRA__HUB_TYPE__HUB_ROUTE
        ? wire_envelope_decode(fr->payload.data, fr->payload.len, WIRE_MAX_HUB_ROUTE, h->err)
        : NULL;
    r = e ? wire_hubroute_decode(e->body.data, e->body.len, h->err) : NULL;
    if (r == NULL || r->n_queries != 2 || strcmp(r->queries[0]->node, "DE") != 0) {
        errf(h->err, "fake hub: not the route expected");
        goto out;
    }
    uint8_t stale[WIRE_QUERY_ID_LEN];
    if (open_as(f, S_DE, r->queries[0]->sealed.data, r->queries[0]->sealed.len, &plain,
            h->err) != 0) {
        errf(h->err, "fake hub: DE's box does not open");
        goto out;
    }
    /* DE answers the query it opened, sealed to alice. */
    uint8_t qh[WIRE_HASH_LEN];
    wire_query_hash(plain.p, plain.len, qh);
    struct resp a = honest();
    a.qhash = qh;
    build(f, &a, &env);
    box_from(f, S_DE, S_ALICE, &env, &box);
    memcpy(stale, r->route_id.data, sizeof stale);
    stale[0] ^= 0xff;
    fake_send(h, &id, stale, "DE", FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE, NULL);
    fake_send(h, &id, r->route_id.data, "DE", FEDRA__HUB_STATUS__HUB_STATUS_OK, &box);
    fake_send(h, &id, r->route_id.data, "FR", FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE, NULL);
out:
    buf_release(&plain);
    buf_release(&env);
    buf_release(&box);
    wire_hubroute_free(r);
    wire_envelope_free(e);
    wire_hubframe_free(fr);
    zmq_msg_close(&id);
    zmq_msg_close(&m);
    return NULL;
}

static void
test_hub_fanout(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", z85[41], p[160];
    uint8_t sec[SEAL_KEY_LEN];
    struct fake_hub h = {.f = f};
    h.ctx = zmq_ctx_new();
    h.sock = zmq_socket(h.ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    size_t el = sizeof h.endpoint;
    assert_int_equal(pki_key_curve_secret(f->key[S_RELAY], sec), 0);
    zmq_z85_encode(z85, sec, 32);
    assert_int_equal(zmq_setsockopt(h.sock, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    assert_int_equal(zmq_setsockopt(h.sock, ZMQ_CURVE_SECRETKEY, z85, 40), 0);
    assert_int_equal(zmq_setsockopt(h.sock, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_bind(h.sock, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(h.sock, ZMQ_LAST_ENDPOINT, h.endpoint, &el), 0);
    struct buf conf = {0};
    buf_printf(&conf, "ca_cert = ca/ca.crt\ncrl = crl.pem\nhub = %s out/relay.crt\n"
        "node = DE hub out/DE.crt\nnode = FR hub out/FR.crt\n", h.endpoint);
    snprintf(p, sizeof p, "%s/live.conf", f->dir);
    struct federation fed;
    assert_int_equal(util_write_file(p, conf.p, conf.len, 0644, err), 0);
    buf_release(&conf);
    if (federation_load(p, &fed, err) != 0)
        fail_msg("%s", err);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fake_hub_run, &h), 0);
    struct client_session *s = client_session_open(&fed);
    assert_int_equal(client_session_analyst(s, f->cert[S_ALICE], f->key[S_ALICE], err), 0);
    /* The query must be alice's own signed envelope: answers are sealed to its signer. */
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    spec.kind = FEDRA__KIND__KIND_COUNT;
    struct buf q = {0};
    assert_int_equal(client_sign_query(&fed, f->cert[S_ALICE], f->key[S_ALICE], &spec, 60000,
        &q, NULL, err), 0);
    struct node_reply rep[2];
    assert_int_equal(client_session_fanout(s, q.p, q.len, 5000, rep, err), 0);
    pthread_join(t, NULL);
    if (h.err[0] != 0)
        fail_msg("%s", h.err);
    if (rep[0].status != NODE_OK)
        fail_msg("DE: %s", rep[0].reason);
    assert_int_equal(rep[0].body->count->cells[0]->count, 7);
    assert_int_equal(rep[1].status, NODE_ERROR);
    assert_string_equal(rep[1].reason, "node 'FR' is not connected to hub 'relay'");
    client_replies_release(rep, 2);
    /* A query signed by someone else never leaves: its answers could not be opened. */
    assert_int_equal(client_sign_query(&fed, f->cert[S_DE], f->key[S_DE], &spec, 60000, &q,
        NULL, err), 0);
    assert_int_equal(client_session_fanout(s, q.p, q.len, 200, rep, err), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rep[i].status, NODE_ERROR);
        assert_non_null(strstr(rep[i].reason, "the query is signed by another analyst"));
    }
    client_replies_release(rep, 2);
    client_session_close(s);
    /* Without the analyst, nodes behind the hub are errors saying what is missing. */
    s = client_session_open(&fed);
    assert_int_equal(client_session_fanout(s, q.p, q.len, 200, rep, err), 0);
    assert_string_equal(rep[0].reason, "no analyst certificate and key to reach it through hub "
        "'relay' (pass --cert and --key)");
    client_replies_release(rep, 2);
    client_session_close(s);
    buf_release(&q);
    federation_release(&fed);
    zmq_close(h.sock);
    zmq_ctx_term(h.ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_honest_response),
        cmocka_unit_test(test_accepts_refusal_and_other_node),
        cmocka_unit_test(test_renewed_certificate),
        cmocka_unit_test(test_chain_from_issuing_ca),
        cmocka_unit_test(test_flipped_body_byte),
        cmocka_unit_test(test_wrong_key_for_certificate),
        cmocka_unit_test(test_query_hash_mismatch),
        cmocka_unit_test(test_body_names_other_node),
        cmocka_unit_test(test_signed_by_other_node),
        cmocka_unit_test(test_signed_by_analyst),
        cmocka_unit_test(test_signed_by_hub),
        cmocka_unit_test(test_revoked_and_foreign_certificates),
        cmocka_unit_test(test_wrong_context),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_hub_route),
        cmocka_unit_test(test_hub_analyst_key),
        cmocka_unit_test(test_hub_reply),
        cmocka_unit_test(test_hub_fanout),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
