/*
 * test_federation - the statistician's federation file (coord/federation.c).
 *
 * A group fixture creates, in a temporary directory, a CA (ca/), a CRL, node
 * certificates DE and FR and an analyst certificate alice (out/), and
 * FED_MAX_NODES node certificates n000..n255 (many/) for the node limit;
 * issuing them takes well under a second with Ed25519 keys.  For the hub: a
 * hub certificate "relay" (out/), and one revoked before the CRL was written
 * (rev/relay).  Each test writes its own federation file DIR/fed.conf.  The
 * transport key the file yields is checked against libzmq's own derivation
 * from the holder's Curve secret.
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

#include <zmq.h>

#include "certs/ca.h"
#include "certs/pki.h"
#include "coord/federation.h"
#include "lib/util.h"

#define T_2019_01_01 1546300800LL

struct fx {
    char dir[64];
    char path[128];                 /* DIR/fed.conf */
    char err[FEDRA_ERRLEN];
    struct federation fed;
};

static int
group_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "", p[160], q[160];
    struct ca *ca = NULL;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_federation.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/fed.conf", f->dir);
    snprintf(p, sizeof p, "%s/ca", f->dir);
    snprintf(q, sizeof q, "%s/out", f->dir);
    if ((ca = fixture_ca(p, "fedra test CA", CA_MAX_DAYS, T_2019_01_01, err)) == NULL ||
        fixture_issue(ca, PKI_ROLE_NODE, "DE", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_NODE, "FR", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_ANALYST, "alice", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_HUB, "relay", q, NULL, err) != 0)
        goto fail;
    char serial[CA_SERIAL_LEN];
    struct ca_revoked rv;
    snprintf(p, sizeof p, "%s/rev", f->dir);
    if (fixture_issue(ca, PKI_ROLE_HUB, "relay", p, serial, err) != 0 ||
        ca_revoke(ca, NULL, serial, "keyCompromise", 0, &rv, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/many", f->dir);
    if (fixture_issue_numbered(ca, PKI_ROLE_NODE, "n", 3, FED_MAX_NODES, p, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/crl.pem", f->dir);
    if (fixture_crl(ca, p, err) != 0)
        goto fail;
    ca_free(ca);
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
    rm_rf(f->dir);
    free(f);
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    federation_release(&f->fed);
    unlink(f->path);
    return 0;
}

static int
load(struct fx *f, const char *text)
{
    char err[FEDRA_ERRLEN] = "";
    if (util_write_file(f->path, text, strlen(text), 0644, err) != 0)
        fail_msg("write: %s", err);
    federation_release(&f->fed);
    f->err[0] = 0;
    return federation_load(f->path, &f->fed, f->err);
}

/* err must be "DIR/fed.conf:" followed by want. */
static void
expect_err(const struct fx *f, const char *want)
{
    struct buf full = {0};
    buf_printf(&full, "%s:%s", f->path, want);
    assert_string_equal(f->err, (const char *)full.p);
    buf_release(&full);
}

static char *
in_dir(const struct fx *f, const char *rel)
{
    struct buf b = {0};
    buf_printf(&b, "%s/%s", f->dir, rel);
    return buf_detach(&b);
}

/* The Curve public key of NAME (node or hub) as libzmq derives it from its key file. */
static void
zmq_public_of(const struct fx *f, const char *name, uint8_t out[32])
{
    char err[FEDRA_ERRLEN] = "", rel[64], sec_z85[41], pub_z85[41];
    struct pki_key *k = NULL;
    uint8_t secret[32];
    snprintf(rel, sizeof rel, "out/%s.key", name);
    char *p = in_dir(f, rel);
    if (pki_key_load(p, &k, err) != 0)
        fail_msg("%s", err);
    free(p);
    assert_int_equal(pki_key_curve_secret(k, secret), 0);
    pki_key_free(k);
    assert_non_null(zmq_z85_encode(sec_z85, secret, 32));
    assert_int_equal(zmq_curve_public(pub_z85, sec_z85), 0);
    assert_non_null(zmq_z85_decode(out, pub_z85));
}

static void
test_good_file(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "# the federation\n"
        "ca_cert = ca/ca.crt\n"
        "crl = crl.pem\n"
        "\n"
        "node = DE tcp://127.0.0.1:7001 out/DE.crt\n"
        "node =   FR   ipc:///run/fr.sock   out/FR.crt  \n"), 0);
    assert_int_equal(f->fed.nnodes, 2);
    assert_non_null(f->fed.trust);
    assert_string_equal(f->fed.nodes[0].name, "DE");
    assert_string_equal(f->fed.nodes[0].endpoint, "tcp://127.0.0.1:7001");
    assert_string_equal(f->fed.nodes[1].name, "FR");
    assert_string_equal(f->fed.nodes[1].endpoint, "ipc:///run/fr.sock");
    char *de = in_dir(f, "out/DE.crt");
    assert_string_equal(f->fed.nodes[0].cert_path, de);
    free(de);
    assert_string_equal(pki_cert_name(f->fed.nodes[0].cert), "DE");
    assert_int_equal(pki_cert_role(f->fed.nodes[1].cert), PKI_ROLE_NODE);
    uint8_t want[32];
    zmq_public_of(f, "DE", want);
    assert_memory_equal(f->fed.nodes[0].curve_key, want, 32);
    zmq_public_of(f, "FR", want);
    assert_memory_equal(f->fed.nodes[1].curve_key, want, 32);
    assert_ptr_equal(federation_find(&f->fed, "FR"), &f->fed.nodes[1]);
    assert_ptr_equal(federation_find(&f->fed, "DE"), &f->fed.nodes[0]);
    assert_null(federation_find(&f->fed, "de"));
    assert_null(federation_find(&f->fed, "IT"));
    /* Trust works: DE's certificate verifies as a node. */
    char err[FEDRA_ERRLEN] = "";
    assert_int_equal(pki_verify(f->fed.trust, f->fed.nodes[0].cert, PKI_ROLE_NODE, 0, err),
        PKI_OK);
}

static void
test_without_ca(void **state)
{
    struct fx *f = *state;
    char *abs = in_dir(f, "out/FR.crt");
    char text[512];
    snprintf(text, sizeof text, "node = FR tcp://h:1 %s\n", abs);
    assert_int_equal(load(f, text), 0);
    assert_int_equal(f->fed.nnodes, 1);
    assert_null(f->fed.trust);
    assert_string_equal(f->fed.nodes[0].cert_path, abs);   /* absolute: unchanged */
    free(abs);
}

static void
test_bad_node_lines(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "node = DE tcp://127.0.0.1:7001\n"), -1);
    expect_err(f, "1: expected 'node = NAME ENDPOINT CERT'");
    assert_int_equal(load(f, "node = DE out/DE.crt\n"
        "node = DE tcp://127.0.0.1:7001 out/DE.crt extra\n"), -1);
    expect_err(f, "1: expected 'node = NAME ENDPOINT CERT'");
    assert_int_equal(load(f, "node = DE tcp://127.0.0.1:7001 out/DE.crt\n"
        "node = FR tcp://127.0.0.1:7002 out/FR.crt extra\n"), -1);
    expect_err(f, "2: expected 'node = NAME ENDPOINT CERT'");
    assert_int_equal(load(f, "node =\n"), -1);
    expect_err(f, "1: expected 'node = NAME ENDPOINT CERT'");
    assert_int_equal(load(f, "node DE tcp://127.0.0.1:7001 out/DE.crt\n"), -1);
    assert_non_null(strstr(f->err, ":1: expected 'key = value'"));
}

static void
test_long_name_and_endpoint(void **state)
{
    struct fx *f = *state;
    struct buf b = {0};
    buf_puts(&b, "node = ");
    for (int i = 0; i < PKI_MAX_NAME + 1; i++)
        buf_puts(&b, "N");
    buf_puts(&b, " tcp://h:1 out/DE.crt\n");
    assert_int_equal(load(f, (const char *)b.p), -1);
    expect_err(f, "1: node name or endpoint too long");
    buf_release(&b);

    /* Endpoint of exactly FED_MAX_ENDPOINT: passes the length check (then the cert). */
    buf_puts(&b, "node = DE tcp://");
    for (int i = 6; i < FED_MAX_ENDPOINT; i++)
        buf_puts(&b, "h");
    buf_puts(&b, " out/DE.crt\n");
    assert_int_equal(load(f, (const char *)b.p), 0);
    assert_int_equal(strlen(f->fed.nodes[0].endpoint), FED_MAX_ENDPOINT);
    buf_release(&b);
    buf_puts(&b, "node = DE tcp://");
    for (int i = 6; i < FED_MAX_ENDPOINT + 1; i++)
        buf_puts(&b, "h");
    buf_puts(&b, " out/DE.crt\n");
    assert_int_equal(load(f, (const char *)b.p), -1);
    expect_err(f, "1: node name or endpoint too long");
    buf_release(&b);
}

static void
test_duplicate_node(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "node = DE tcp://127.0.0.1:7001 out/DE.crt\n"
        "# again\n"
        "node = DE tcp://127.0.0.1:7009 out/DE.crt\n"), -1);
    expect_err(f, "3: node 'DE' is listed twice");
}

static void
test_cert_for_other_node(void **state)
{
    struct fx *f = *state;
    char want[FEDRA_ERRLEN];
    char *p = in_dir(f, "out/DE.crt");
    assert_int_equal(load(f, "node = DE tcp://127.0.0.1:7001 out/DE.crt\n"
        "node = FR tcp://127.0.0.1:7002 out/DE.crt\n"), -1);
    snprintf(want, sizeof want, "2: certificate '%s' is not a node certificate for 'FR' "
        "(it names 'DE', role node)", p);
    expect_err(f, want);
    free(p);
}

static void
test_analyst_cert_as_node(void **state)
{
    struct fx *f = *state;
    char want[FEDRA_ERRLEN];
    char *p = in_dir(f, "out/alice.crt");
    assert_int_equal(load(f, "node = alice tcp://127.0.0.1:7001 out/alice.crt\n"), -1);
    snprintf(want, sizeof want, "1: certificate '%s' is not a node certificate for 'alice' "
        "(it names 'alice', role analyst)", p);
    expect_err(f, want);
    free(p);
}

static void
test_missing_cert_file(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "\nnode = DE tcp://127.0.0.1:7001 out/nope.crt\n"), -1);
    char prefix[FEDRA_ERRLEN];
    snprintf(prefix, sizeof prefix, "%s:2: node 'DE': ", f->path);
    assert_int_equal(strncmp(f->err, prefix, strlen(prefix)), 0);
    assert_non_null(strstr(f->err, "nope.crt"));
    /* A key file is not a certificate. */
    assert_int_equal(load(f, "node = DE tcp://127.0.0.1:7001 out/DE.key\n"), -1);
    snprintf(prefix, sizeof prefix, "%s:1: node 'DE': ", f->path);
    assert_int_equal(strncmp(f->err, prefix, strlen(prefix)), 0);
}

static void
test_unknown_key(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "node = DE tcp://127.0.0.1:7001 out/DE.crt\nnodes = FR\n"), -1);
    expect_err(f, "2: unknown key 'nodes' (keys: ca_cert, crl, hub, node, pooled)");
}

/* pooled = yes makes --pooled the default (coord/pooled.h); only yes or no. */
static void
test_pooled_default(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "node = DE tcp://127.0.0.1:7001 out/DE.crt\n"), 0);
    assert_int_equal(f->fed.pooled, 0);
    assert_int_equal(load(f, "node = DE tcp://127.0.0.1:7001 out/DE.crt\npooled = yes\n"), 0);
    assert_int_equal(f->fed.pooled, 1);
    assert_int_equal(load(f, "pooled = no\nnode = DE tcp://127.0.0.1:7001 out/DE.crt\n"), 0);
    assert_int_equal(f->fed.pooled, 0);
    assert_int_equal(load(f, "node = DE tcp://127.0.0.1:7001 out/DE.crt\npooled = maybe\n"), -1);
    expect_err(f, "2: pooled is 'yes' or 'no', not 'maybe'");
}

static void
test_no_nodes(void **state)
{
    struct fx *f = *state;
    char want[FEDRA_ERRLEN];
    snprintf(want, sizeof want, "%s: lists no nodes (add 'node = NAME ENDPOINT CERT' lines)",
        f->path);
    assert_int_equal(load(f, "ca_cert = ca/ca.crt\n# nothing else\n"), -1);
    assert_string_equal(f->err, want);
    assert_int_equal(load(f, ""), -1);
    assert_string_equal(f->err, want);
}

static void
test_bad_ca_file(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "ca_cert = ca/missing.crt\n"
        "node = DE tcp://127.0.0.1:7001 out/DE.crt\n"), -1);
    assert_non_null(strstr(f->err, "missing.crt"));
}

/* A mixed federation: one node direct, two behind the hub, the hub line anywhere. */
static void
test_hub_and_mixed_nodes(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "ca_cert = ca/ca.crt\n"
        "crl = crl.pem\n"
        "node = DE hub out/DE.crt\n"
        "node = FR tcp://127.0.0.1:7002 out/FR.crt\n"
        "hub = tcp://127.0.0.1:7100 out/relay.crt\n"
        "node = n000 hub many/n000.crt\n"), 0);
    assert_non_null(f->fed.hub);
    assert_string_equal(f->fed.hub->name, "relay");
    assert_string_equal(f->fed.hub->endpoint, "tcp://127.0.0.1:7100");
    char *rel = in_dir(f, "out/relay.crt");
    assert_string_equal(f->fed.hub->cert_path, rel);
    free(rel);
    uint8_t want[32];
    zmq_public_of(f, "relay", want);
    assert_memory_equal(f->fed.hub->curve_key, want, 32);
    assert_int_equal(f->fed.nnodes, 3);
    assert_true(f->fed.nodes[0].via_hub);
    assert_false(f->fed.nodes[1].via_hub);
    assert_true(f->fed.nodes[2].via_hub);
    assert_string_equal(f->fed.nodes[0].endpoint, FED_HUB_ENDPOINT);
    assert_int_equal(federation_hub_nodes(&f->fed), 2);
    /* A node behind the hub keeps its own transport key: the query is sealed to it. */
    zmq_public_of(f, "DE", want);
    assert_memory_equal(f->fed.nodes[0].curve_key, want, 32);
    /* Pinned (no ca_cert): the hub's role is still checked, its chain not. */
    assert_int_equal(load(f, "hub = tcp://127.0.0.1:7100 rev/relay.crt\n"
        "node = DE hub out/DE.crt\n"), 0);
    assert_null(f->fed.trust);
    assert_int_equal(federation_hub_nodes(&f->fed), 1);
    /* A hub line and only direct nodes: allowed (nothing goes through it). */
    assert_int_equal(load(f, "hub = tcp://127.0.0.1:7100 out/relay.crt\n"
        "node = DE tcp://127.0.0.1:7001 out/DE.crt\n"), 0);
    assert_int_equal(federation_hub_nodes(&f->fed), 0);
}

static void
test_bad_hub_lines(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "hub = tcp://127.0.0.1:7100 out/relay.crt\n"
        "node = DE hub out/DE.crt\n"
        "hub = tcp://127.0.0.1:7101 out/relay.crt\n"), -1);
    expect_err(f, "3: a second hub line (the hub is named on line 1; a federation has at most "
        "one hub)");
    assert_int_equal(load(f, "node = FR tcp://127.0.0.1:7002 out/FR.crt\n"
        "node = DE hub out/DE.crt\n"), -1);
    expect_err(f, "2: node 'DE' is behind the hub, but no hub is named (add "
        "'hub = ENDPOINT CERT')");
    assert_int_equal(load(f, "hub = tcp://127.0.0.1:7100\nnode = DE hub out/DE.crt\n"), -1);
    expect_err(f, "1: expected 'hub = ENDPOINT CERT'");
    assert_int_equal(load(f, "hub = tcp://127.0.0.1:7100 out/relay.crt x\n"), -1);
    expect_err(f, "1: expected 'hub = ENDPOINT CERT'");
    /* A node certificate as the hub's. */
    char want[FEDRA_ERRLEN];
    char *p = in_dir(f, "out/DE.crt");
    assert_int_equal(load(f, "node = FR hub out/FR.crt\nhub = tcp://h:1 out/DE.crt\n"), -1);
    snprintf(want, sizeof want, "2: certificate '%s' is not a hub certificate (it names 'DE', "
        "role node)", p);
    expect_err(f, want);
    free(p);
    /* And the hub's certificate as a node's. */
    p = in_dir(f, "out/relay.crt");
    assert_int_equal(load(f, "node = relay hub out/relay.crt\n"), -1);
    snprintf(want, sizeof want, "1: certificate '%s' is not a node certificate for 'relay' "
        "(it names 'relay', role hub)", p);
    expect_err(f, want);
    free(p);
    assert_int_equal(load(f, "hub = tcp://h:1 out/nope.crt\nnode = DE hub out/DE.crt\n"), -1);
    assert_non_null(strstr(f->err, ":1: hub: "));
    assert_non_null(strstr(f->err, "nope.crt"));
}

/* With ca_cert and crl the hub's certificate is verified when the file is read. */
static void
test_revoked_hub(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "ca_cert = ca/ca.crt\ncrl = crl.pem\n"
        "hub = tcp://127.0.0.1:7100 rev/relay.crt\n"
        "node = DE hub out/DE.crt\n"), -1);
    assert_non_null(strstr(f->err, ":3: hub certificate refused: certificate 'relay'"));
    assert_non_null(strstr(f->err, "revoked"));
    /* Without the CRL the same certificate passes the chain check. */
    assert_int_equal(load(f, "ca_cert = ca/ca.crt\n"
        "hub = tcp://127.0.0.1:7100 rev/relay.crt\n"
        "node = DE hub out/DE.crt\n"), 0);
}

/* n000..n(count-1), then optionally one more line naming a certificate that exists. */
static char *
many_nodes(int count, const char *last)
{
    struct buf b = {0};
    buf_puts(&b, "ca_cert = ca/ca.crt\n");
    for (int i = 0; i < count; i++)
        buf_printf(&b, "node = n%03d tcp://127.0.0.1:%d many/n%03d.crt\n", i, 10000 + i, i);
    if (last != NULL)
        buf_puts(&b, last);
    return buf_detach(&b);
}

static void
test_max_nodes(void **state)
{
    struct fx *f = *state;
    char *text = many_nodes(FED_MAX_NODES, NULL);
    assert_int_equal(load(f, text), 0);
    free(text);
    assert_int_equal(f->fed.nnodes, FED_MAX_NODES);
    assert_string_equal(f->fed.nodes[FED_MAX_NODES - 1].name, "n255");
    assert_string_equal(f->fed.nodes[FED_MAX_NODES - 1].endpoint, "tcp://127.0.0.1:10255");
    /* One past: line 1 is ca_cert, so the 257th node is on line 258. */
    text = many_nodes(FED_MAX_NODES, "node = DE tcp://127.0.0.1:7001 out/DE.crt\n");
    assert_int_equal(load(f, text), -1);
    free(text);
    expect_err(f, "258: more than 256 nodes");
}

int
main(void)
{
#define T(fn) cmocka_unit_test_teardown(fn, teardown)
    const struct CMUnitTest tests[] = {
        T(test_good_file),
        T(test_without_ca),
        T(test_bad_node_lines),
        T(test_long_name_and_endpoint),
        T(test_duplicate_node),
        T(test_cert_for_other_node),
        T(test_analyst_cert_as_node),
        T(test_missing_cert_file),
        T(test_unknown_key),
        T(test_pooled_default),
        T(test_no_nodes),
        T(test_bad_ca_file),
        T(test_max_nodes),
        T(test_hub_and_mixed_nodes),
        T(test_bad_hub_lines),
        T(test_revoked_hub),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
