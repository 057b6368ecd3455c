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
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certs/ca.h"
#include "certs/pki.h"
#include "coord/client.h"
#include "coord/federation.h"
#include "lib/util.h"
#include "proto/wire.h"

#define T_2019_01_01 1546300800LL

/* Signers, by their key and certificate files under DIR. */
enum signer { S_DE, S_FR, S_ALICE, S_DE_RENEWED, S_DE_REVOKED, S_DE_ROGUE, S_DE_ISSUED,
    S_COUNT };
static const char *const signer_file[S_COUNT] = {
    "out/DE", "out/FR", "out/alice", "out2/DE", "out3/DE", "rogue-out/DE", "out4/DE",
};

struct fx {
    char dir[64];
    struct pki_key *key[S_COUNT];
    struct pki_cert *cert[S_COUNT];
    struct federation with_ca, pinned;
    struct federation root_only;    /* ca_cert only: the chain must come with the answer */
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
        fixture_issue(ca, PKI_ROLE_ANALYST, "alice", p, NULL, err) != 0)
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
    /* Envelope version 2. */
    r.version = 2;
    refuse(f, "DE", &r, "unreadable response: unsupported envelope version 2", NULL);
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
        cmocka_unit_test(test_revoked_and_foreign_certificates),
        cmocka_unit_test(test_wrong_context),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
