/*
 * test_hub_serve - the hub daemon (hub/hubserve.c) on real sockets.
 *
 * The hub runs in a thread of this test, on loopback, with a test CA; a node
 * (CURVE client with the transport key its certificate binds) and an analyst
 * (ephemeral CURVE key) are DEALER sockets here.  What this adds to
 * test_hub_relay: the ZAP handler tags a connection with its client key (so
 * a node's hello is accepted only on its own key), frames cross the ROUTER
 * both ways, a client without CURVE gets nowhere, junk is counted in the
 * state file, the relay log's chain holds after a run, and the hub refuses
 * to start with a certificate that is not a usable hub certificate.
 *
 * The hub stops on SIGTERM through its signalfd: the test blocks the signals
 * in every thread first, so the signal waits for the hub's signalfd.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "certs/ca.h"
#include "certs/pki.h"
#include "hub/hubserve.h"
#include "hub/relaylog.h"
#include "lib/util.h"
#include "proto/wire.h"
#include "tests/unit/fixture.h"

#define WAIT_MS 5000                    /* for the hub to start, and for any frame */

struct fx {
    char dir[64];
    char conf[128], state[128], log[128];
    struct pki_cert *de, *alice, *hubc;
    struct pki_key *de_key, *alice_key;
    pthread_t thread;
    const char *run_conf;
    int rc, running;
    void *ctx;
    int open;                       /* sockets not yet closed: a failed test leaves some */
};

static void *
hub_thread(void *arg)
{
    struct fx *f = arg;
    f->rc = hubserve_main(f->run_conf, NULL, NULL);
    return NULL;
}

/* A config for the hub holding certificate NAME, with the CRL file crl (in dir). */
static int
write_conf_crl(const char *path, const char *dir, const char *name, const char *crl)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        return -1;
    fprintf(fp, "listen = tcp://127.0.0.1:*\ncert = %s/out/%s.crt\nkey = %s/out/%s.key\n"
        "ca_cert = %s/ca/ca.crt\ncrl = %s/%s\nlog = %s/%s-relay.db\n"
        "timeout_max_ms = 2000\n", dir, name, dir, name, dir, dir, crl, dir, name);
    return fclose(fp);
}

static int
write_conf(const char *path, const char *dir, const char *name)
{
    return write_conf_crl(path, dir, name, "crl.pem");
}

static int
group_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "", p[160], q[160];
    struct ca *ca = NULL;
    struct ca_revoked rv;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_hub_serve.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(p, sizeof p, "%s/ca", f->dir);
    snprintf(q, sizeof q, "%s/out", f->dir);
    if ((ca = fixture_ca(p, "hub serve CA", 3650, 0, err)) == NULL ||
        fixture_issue(ca, PKI_ROLE_NODE, "DE", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_ANALYST, "alice", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_HUB, "hub1", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_HUB, "revokedhub", q, NULL, err) != 0 ||
        ca_revoke(ca, "revokedhub", NULL, "keyCompromise", 0, &rv, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/crl.pem", f->dir);
    int64_t number;
    if (fixture_crl(ca, p, err) != 0)
        goto fail;
    /* A CRL whose nextUpdate passed a day ago. */
    snprintf(p, sizeof p, "%s/crl-expired.pem", f->dir);
    if (ca_crl(ca, p, 1, (int64_t)time(NULL) - 2 * 86400, &number, err) != 0)
        goto fail;
    ca_free(ca);
    ca = NULL;
    if ((f->de = fixture_cert(q, "DE", err)) == NULL ||
        (f->alice = fixture_cert(q, "alice", err)) == NULL ||
        (f->hubc = fixture_cert(q, "hub1", err)) == NULL ||
        (f->de_key = fixture_key(q, "DE", err)) == NULL ||
        (f->alice_key = fixture_key(q, "alice", err)) == NULL)
        goto fail;
    snprintf(f->conf, sizeof f->conf, "%s/hub.conf", f->dir);
    snprintf(f->log, sizeof f->log, "%s/hub1-relay.db", f->dir);
    snprintf(f->state, sizeof f->state, "%s/hub1-relay.db.status", f->dir);
    if (write_conf(f->conf, f->dir, "hub1") != 0)
        goto fail;
    /* Blocked in every thread, so SIGTERM waits for the hub's signalfd. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    f->ctx = zmq_ctx_new();
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
    if (f->running) {               /* a test failed with the hub running */
        kill(getpid(), SIGTERM);
        pthread_join(f->thread, NULL);
    }
    if (f->open == 0)
        zmq_ctx_term(f->ctx);
    else
        zmq_ctx_shutdown(f->ctx);   /* zmq_ctx_term would wait for them forever */
    pki_cert_free(f->de);
    pki_cert_free(f->alice);
    pki_cert_free(f->hubc);
    pki_key_free(f->de_key);
    pki_key_free(f->alice_key);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* The running hub's state file (NULL until it is written). */
static json_t *
read_state(const struct fx *f)
{
    uint8_t *raw = NULL;
    size_t n = 0;
    if (util_read_file(f->state, 1 << 20, &raw, &n, NULL) != 0)
        return NULL;
    json_t *j = json_loadb((const char *)raw, n, 0, NULL);
    free(raw);
    return j;
}

/* Start the hub; endpoint receives where it listens. */
static void
hub_start(struct fx *f, char *endpoint, size_t len)
{
    unlink(f->state);
    f->run_conf = f->conf;
    assert_int_equal(pthread_create(&f->thread, NULL, hub_thread, f), 0);
    f->running = 1;
    for (int t = 0; t < WAIT_MS / 10; t++) {
        json_t *j = read_state(f);
        const char *ep = j ? json_string_value(json_object_get(j, "endpoint")) : NULL;
        if (ep != NULL) {
            snprintf(endpoint, len, "%s", ep);
            json_decref(j);
            return;
        }
        json_decref(j);
        usleep(10000);
    }
    fail_msg("the hub did not start within %d ms", WAIT_MS);
}

static void
hub_stop(struct fx *f)
{
    kill(getpid(), SIGTERM);
    pthread_join(f->thread, NULL);
    f->running = 0;
    assert_int_equal(f->rc, 0);
}

/* A DEALER to the hub: with the node's transport key if k, else an ephemeral one. */
static void *
dial(struct fx *f, const char *endpoint, const struct pki_key *k, int curve)
{
    void *s = zmq_socket(f->ctx, ZMQ_DEALER);
    f->open++;
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (curve) {
        uint8_t sec[32], pub[32], hubkey[32];
        char zpub[41], zsec[41];
        if (k != NULL) {
            assert_int_equal(pki_key_curve_secret(k, sec), 0);
            assert_int_equal(pki_curve_public(sec, pub), 0);
        } else {
            assert_int_equal(zmq_curve_keypair(zpub, zsec), 0);
            zmq_z85_decode(pub, zpub);
            zmq_z85_decode(sec, zsec);
        }
        assert_int_equal(pki_cert_curve_key(f->hubc, hubkey), 0);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, hubkey, 32);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 32);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 32);
    }
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

static void
hangup(struct fx *f, void *s)
{
    zmq_close(s);
    f->open--;
}

static void
send_frame(void *s, Fedra__HubFrame *h)
{
    struct buf b = {0};
    h->version = WIRE_VERSION;
    wire_pack(&h->base, &b);
    assert_int_equal(zmq_send(s, b.p, b.len, 0), (int)b.len);
    buf_release(&b);
}

/* The next frame on s within WAIT_MS (NULL if none). */
static Fedra__HubFrame *
recv_frame(void *s, int wait_ms)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, wait_ms) != 1)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, s, 0) >= 0);
    char err[FEDRA_ERRLEN];
    Fedra__HubFrame *h = wire_hubframe_decode(zmq_msg_data(&m), zmq_msg_size(&m), err);
    zmq_msg_close(&m);
    assert_non_null(h);
    return h;
}

static void
send_hello(void *s, const struct pki_cert *c)
{
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
    h.type = FEDRA__HUB_TYPE__HUB_HELLO;
    h.cert.data = (uint8_t *)pki_cert_der(c, &h.cert.len);
    send_frame(s, &h);
}

static void
send_route(struct fx *f, void *s, const char *const *nodes, size_t n)
{
    Fedra__HubRoute b = FEDRA__HUB_ROUTE__INIT;
    uint8_t rid[WIRE_QUERY_ID_LEN], qh[WIRE_HASH_LEN], sealed[100];
    static uint8_t serial;          /* a fresh route_id per route */
    memset(rid, 0, sizeof rid);
    rid[0] = ++serial;
    memcpy(rid + 1, &(int64_t){util_mono_us()}, sizeof(int64_t));
    memset(qh, 7, sizeof qh);
    memset(sealed, 0x42, sizeof sealed);
    b.context = (char *)WIRE_HUB_ROUTE_CONTEXT;
    b.route_id.data = rid;
    b.route_id.len = sizeof rid;
    b.issued_at_ms = util_now_ms();
    b.expires_at_ms = b.issued_at_ms + 60000;
    b.hub = (char *)"hub1";
    b.timeout_ms = 1000;
    b.query_hash.data = qh;
    b.query_hash.len = sizeof qh;
    Fedra__SealedQuery q[4], *qp[4];
    for (size_t i = 0; i < n; i++) {
        fedra__sealed_query__init(&q[i]);
        q[i].node = (char *)nodes[i];
        q[i].sealed.data = sealed;
        q[i].sealed.len = sizeof sealed;
        qp[i] = &q[i];
    }
    b.queries = qp;
    b.n_queries = n;
    struct buf body = {0}, env = {0};
    wire_pack(&b.base, &body);
    uint8_t sig[PKI_SIG_LEN];
    assert_int_equal(pki_sign(f->alice_key, body.p, body.len, sig), 0);
    Fedra__Envelope e = FEDRA__ENVELOPE__INIT;
    e.version = WIRE_VERSION;
    e.body.data = body.p;
    e.body.len = body.len;
    e.signature.data = sig;
    e.signature.len = sizeof sig;
    e.signer_cert.data = (uint8_t *)pki_cert_der(f->alice, &e.signer_cert.len);
    wire_pack(&e.base, &env);
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
    h.type = FEDRA__HUB_TYPE__HUB_ROUTE;
    h.payload.data = env.p;
    h.payload.len = env.len;
    send_frame(s, &h);
    buf_release(&body);
    buf_release(&env);
}

static int64_t
counter(const struct fx *f, const char *k)
{
    json_t *j = read_state(f);
    int64_t v = json_integer_value(json_object_get(json_object_get(j, "counters"), k));
    json_decref(j);
    return v;
}

static void
test_node_and_analyst_through_the_hub(void **state)
{
    struct fx *f = *state;
    char ep[256];
    hub_start(f, ep, sizeof ep);
    /* A node whose key is not the one its certificate binds is refused. */
    void *thief = dial(f, ep, NULL, 1);
    send_hello(thief, f->de);
    Fedra__HubFrame *w = recv_frame(thief, WAIT_MS);
    assert_non_null(w);
    assert_non_null(strstr(w->reason, "binds transport key"));
    wire_hubframe_free(w);
    hangup(f, thief);
    void *node = dial(f, ep, f->de_key, 1);
    send_hello(node, f->de);
    w = recv_frame(node, WAIT_MS);
    assert_non_null(w);
    assert_int_equal(w->type, FEDRA__HUB_TYPE__HUB_WELCOME);
    assert_string_equal(w->reason, "");
    wire_hubframe_free(w);
    void *an = dial(f, ep, NULL, 1);
    const char *nodes[] = {"DE", "XX"};
    send_route(f, an, nodes, 2);
    Fedra__HubFrame *r = recv_frame(an, WAIT_MS);
    assert_non_null(r);
    assert_string_equal(r->node, "XX");
    assert_int_equal(r->status, FEDRA__HUB_STATUS__HUB_STATUS_UNKNOWN);
    wire_hubframe_free(r);
    Fedra__HubFrame *fw = recv_frame(node, WAIT_MS);
    assert_non_null(fw);
    assert_int_equal(fw->type, FEDRA__HUB_TYPE__HUB_FORWARD);
    assert_int_equal(fw->payload.len, 100);
    Fedra__HubFrame a = FEDRA__HUB_FRAME__INIT;
    a.type = FEDRA__HUB_TYPE__HUB_ANSWER;
    a.tag = fw->tag;
    a.payload.data = (uint8_t *)"the sealed answer";
    a.payload.len = 17;
    send_frame(node, &a);
    wire_hubframe_free(fw);
    r = recv_frame(an, WAIT_MS);
    assert_non_null(r);
    assert_string_equal(r->node, "DE");
    assert_int_equal(r->status, FEDRA__HUB_STATUS__HUB_STATUS_OK);
    assert_memory_equal(r->payload.data, "the sealed answer", 17);
    wire_hubframe_free(r);
    /* A second route that DE does not answer: its own timeout (timeout_max_ms 2000 caps 1000). */
    const char *de[] = {"DE"};
    send_route(f, an, de, 1);
    fw = recv_frame(node, WAIT_MS);
    assert_non_null(fw);
    wire_hubframe_free(fw);
    int64_t t0 = util_mono_ms();
    r = recv_frame(an, WAIT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, FEDRA__HUB_STATUS__HUB_STATUS_TIMEOUT);
    assert_true(util_mono_ms() - t0 < 1500);
    wire_hubframe_free(r);
    /* Junk: garbage from a CURVE client is counted; a client without CURVE gets no hearing. */
    void *plain = dial(f, ep, NULL, 0);
    zmq_send(plain, "hello?", 6, ZMQ_DONTWAIT);
    zmq_send(an, "garbage", 7, 0);
    zmq_send(an, "two", 3, ZMQ_SNDMORE);
    zmq_send(an, "frames", 6, 0);
    assert_null(recv_frame(an, 1200));      /* no answer to junk; the state file is rewritten */
    assert_int_equal(counter(f, "junk_dropped"), 2);
    assert_int_equal(counter(f, "routes"), 2);
    assert_int_equal(counter(f, "answers"), 1);
    assert_int_equal(counter(f, "timeouts"), 1);
    assert_int_equal(counter(f, "unknown"), 1);
    hangup(f, plain);
    hangup(f, an);
    hangup(f, node);
    hub_stop(f);
    /* The relay log holds the run, chained. */
    struct relaylog *l;
    char err[FEDRA_ERRLEN];
    uint64_t n;
    assert_int_equal(relaylog_open(f->log, 1, &l, err), 0);
    assert_int_equal(relaylog_verify(l, &n, err), 0);
    /* started, hello refused, hello, route, unknown, forward, answer, route, forward,
     * timeout, stopped */
    assert_int_equal(n, 11);
    relaylog_close(l);
    json_t *j = read_state(f);
    assert_true(json_integer_value(json_object_get(j, "stopped_at_ms")) > 0);
    json_decref(j);
}

static void
test_refuses_to_start_without_a_usable_hub_certificate(void **state)
{
    struct fx *f = *state;
    char conf[160];
    /* Revoked. */
    snprintf(conf, sizeof conf, "%s/revoked.conf", f->dir);
    assert_int_equal(write_conf(conf, f->dir, "revokedhub"), 0);
    assert_int_equal(hubserve_main(conf, NULL, NULL), 1);
    /* A node's certificate is not a hub's. */
    snprintf(conf, sizeof conf, "%s/node.conf", f->dir);
    assert_int_equal(write_conf(conf, f->dir, "DE"), 0);
    assert_int_equal(hubserve_main(conf, NULL, NULL), 1);
}

static void
test_fails_closed_without_a_current_crl(void **state)
{
    struct fx *f = *state;
    char conf[160], ep[256];
    /* No CRL file at all (and no crl_url to fetch one): no start. */
    snprintf(conf, sizeof conf, "%s/nocrl.conf", f->dir);
    assert_int_equal(write_conf_crl(conf, f->dir, "hub1", "no-such-crl.pem"), 0);
    assert_int_equal(hubserve_main(conf, NULL, NULL), 1);
    /* An expired CRL: the hub runs, says why, and relays nothing. */
    assert_int_equal(write_conf_crl(f->conf, f->dir, "hub1", "crl-expired.pem"), 0);
    hub_start(f, ep, sizeof ep);
    void *node = dial(f, ep, f->de_key, 1);
    send_hello(node, f->de);
    Fedra__HubFrame *w = recv_frame(node, WAIT_MS);
    assert_non_null(w);
    assert_non_null(strstr(w->reason, "not relaying: no current CRL"));
    wire_hubframe_free(w);
    json_t *j = read_state(f);
    assert_non_null(strstr(json_string_value(json_object_get(j, "closed")), "no current CRL"));
    json_decref(j);
    hangup(f, node);
    hub_stop(f);
    assert_int_equal(write_conf(f->conf, f->dir, "hub1"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_and_analyst_through_the_hub),
        cmocka_unit_test(test_refuses_to_start_without_a_usable_hub_certificate),
        cmocka_unit_test(test_fails_closed_without_a_current_crl),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
