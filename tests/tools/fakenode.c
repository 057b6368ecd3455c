/*
 * fedra-fakenode - a lying node and a flooder, for fault and load tests only
 * (tests/integration/70-faults.sh, tests/load/run).  Never installed.
 *
 *   fedra-fakenode garbage CONFIG
 *       serve on the node's transport key (from its config: cert, key,
 *       listen) and answer every query with random bytes;
 *   fedra-fakenode replay CONFIG UPSTREAM-FEDERATION
 *       serve the same way, but forward the first query to the real node
 *       named in UPSTREAM-FEDERATION and answer it, and every later query,
 *       with the real node's signed answer to that first query: a valid
 *       signature on an answer to a different query;
 *   fedra-fakenode lie-info|lie-grid|lie-count CONFIG UPSTREAM-FEDERATION
 *       a lying node: forward every query to the real node named in
 *       UPSTREAM-FEDERATION, alter its answer and sign the altered body
 *       with the node's own key (from CONFIG), so that only the numbers
 *       give the lie away: lie-info negates a model round's information
 *       matrix (negative definite), lie-grid adds 1 day to every time of a
 *       life table (off the grid), lie-count sets a released count above
 *       max_hidden to 2 (inside the node's own suppression range); other
 *       answers pass unchanged;
 *   fedra-fakenode flood NODE-CERT ENDPOINT SECONDS CONNECTIONS
 *       open CONNECTIONS CURVE connections (transient client keys, so the
 *       handshake succeeds but nothing is signed) and send junk messages
 *       (random bytes, 1 byte .. 64 KiB) for SECONDS, reading the refusals;
 *       reconnects each socket every 100 messages; prints what it sent.
 *
 * The listening modes print "serving on ENDPOINT:" to stderr, as fedra-node
 * does, so scripts/federation's way of finding the port works for them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <zmq.h>

#include "certs/pki.h"
#include "coord/client.h"
#include "coord/federation.h"
#include "lib/util.h"
#include "node/config.h"
#include "proto/wire.h"

#define FAKE_MAX_JUNK 65536
#define FAKE_RECONNECT_EVERY 100

static int
die(const char *msg, const char *err)
{
    fprintf(stderr, "fedra-fakenode: %s%s%s\n", msg, err ? ": " : "", err ? err : "");
    return 1;
}

/* Bind a ROUTER as CURVE server with the node's transport key. */
static void *
bind_as_node(void *ctx, const char *config, char *endpoint, size_t eplen, char *err)
{
    struct node_config cfg;
    struct pki_key *k = NULL;
    uint8_t sec[PKI_CURVE_KEY_LEN];
    if (config_load(config, &cfg, err) != 0)
        return NULL;
    if (pki_key_load(cfg.key, &k, err) != 0 || pki_key_curve_secret(k, sec) != 0) {
        config_release(&cfg);
        pki_key_free(k);
        return NULL;
    }
    pki_key_free(k);
    void *r = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1;
    if (zmq_setsockopt(r, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, sec, 32) != 0 ||
        zmq_bind(r, cfg.listen) != 0) {
        errf(err, "cannot listen on '%s': %s", cfg.listen, zmq_strerror(errno));
        config_release(&cfg);
        zmq_close(r);
        return NULL;
    }
    zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, endpoint, &eplen);
    config_release(&cfg);
    return r;
}

/* The lie of mode on body; 1 if something was altered. */
static int
lie(const char *mode, Fedra__ResponseBody *b)
{
    int n = 0;
    if (strcmp(mode, "lie-info") == 0 && b->model != NULL)
        for (size_t k = 0; k < b->model->n_info; k++, n = 1)
            b->model->info[k] = -b->model->info[k];
    if (strcmp(mode, "lie-grid") == 0 && b->km != NULL)
        for (size_t s = 0; s < b->km->n_strata; s++)
            for (size_t j = 0; j < b->km->strata[s]->n_time; j++, n = 1)
                b->km->strata[s]->time[j] += 1;
    if (strcmp(mode, "lie-count") == 0 && b->count != NULL)
        for (size_t j = 0; j < b->count->n_cells && n == 0; j++) {
            Fedra__Cell *c = b->count->cells[j];
            if (!c->suppressed && !c->withheld && c->count > b->count->max_hidden &&
                b->count->max_hidden >= 2) {
                c->count = 2;
                n = 1;
            }
        }
    return n;
}

/*
 * The real node's signed answer in rep, altered by mode's lie and signed
 * again with key, into out; unaltered (a refusal, nothing to lie about) it
 * is passed on as it came.
 */
static void
lie_and_sign(const char *mode, const struct pki_key *key, struct node_reply *rep, struct buf *out)
{
    Fedra__Envelope *env = NULL;
    if (rep->body == NULL || rep->status != NODE_OK || !lie(mode, rep->body) ||
        (env = fedra__envelope__unpack(NULL, rep->raw.len, rep->raw.p)) == NULL) {
        buf_append(out, rep->raw.p, rep->raw.len);
        return;
    }
    struct buf body = {0};
    uint8_t sig[PKI_SIG_LEN];
    wire_pack(&rep->body->base, &body);
    pki_sign(key, body.p, body.len, sig);
    ProtobufCBinaryData ob = env->body, os = env->signature;
    env->body.data = body.p;
    env->body.len = body.len;
    env->signature.data = sig;
    env->signature.len = sizeof sig;
    wire_pack(&env->base, out);
    env->body = ob;
    env->signature = os;
    fedra__envelope__free_unpacked(env, NULL);
    buf_release(&body);
    fprintf(stderr, "fedra-fakenode: %s: answered with an altered, re-signed answer\n", mode);
}

static int
serve_fake(const char *mode, const char *config, const char *upstream)
{
    char err[FEDRA_ERRLEN], ep[256] = "";
    struct federation up;
    int have_up = 0;
    if (upstream != NULL) {
        if (federation_load(upstream, &up, err) != 0)
            return die("upstream federation", err);
        have_up = 1;
    }
    struct pki_key *key = NULL;
    int lying = strncmp(mode, "lie-", 4) == 0;
    if (lying) {
        struct node_config cfg;
        if (config_load(config, &cfg, err) != 0)
            return die("config", err);
        int kr = pki_key_load(cfg.key, &key, err);
        config_release(&cfg);
        if (kr != 0)
            return die("node key", err);
    }
    void *ctx = zmq_ctx_new();
    void *r = bind_as_node(ctx, config, ep, sizeof ep, err);
    if (r == NULL)
        return die("bind", err);
    fprintf(stderr, "fedra-fakenode %s serving on %s: ready\n", mode, ep);
    struct buf recorded = {0};
    uint8_t *junk = xmalloc(FAKE_MAX_JUNK);
    for (;;) {
        zmq_msg_t id, q;
        zmq_msg_init(&id);
        zmq_msg_init(&q);
        if (zmq_msg_recv(&id, r, 0) < 0 || zmq_msg_recv(&q, r, 0) < 0)
            break;
        while (zmq_msg_more(&q)) {      /* one frame is a query; drop the rest */
            zmq_msg_close(&q);
            zmq_msg_init(&q);
            zmq_msg_recv(&q, r, 0);
        }
        zmq_msg_send(&id, r, ZMQ_SNDMORE);
        if (strcmp(mode, "garbage") == 0) {
            uint8_t lenb[2];
            RAND_bytes(lenb, 2);
            size_t n = 1 + ((size_t)lenb[0] << 8 | lenb[1]) % 4096;
            RAND_bytes(junk, (int)n);
            zmq_send(r, junk, n, 0);
            fprintf(stderr, "fedra-fakenode: answered %zu random bytes\n", n);
        } else if (lying) {
            struct node_reply rep[1];
            struct buf out = {0};
            memset(rep, 0, sizeof rep);
            client_fanout(&up, zmq_msg_data(&q), zmq_msg_size(&q), 10000, rep, err);
            lie_and_sign(mode, key, &rep[0], &out);
            zmq_send(r, out.p, out.len, 0);
            buf_release(&out);
            client_replies_release(rep, 1);
        } else {
            if (recorded.len == 0 && have_up) {
                struct node_reply rep[1];
                client_fanout(&up, zmq_msg_data(&q), zmq_msg_size(&q), 10000, rep, err);
                buf_append(&recorded, rep[0].raw.p, rep[0].raw.len);
                fprintf(stderr, "fedra-fakenode: recorded the real node's answer (%s, %zu "
                    "bytes)\n", client_status_name(rep[0].status), recorded.len);
                client_replies_release(rep, 1);
            } else {
                fprintf(stderr, "fedra-fakenode: replayed the recorded answer\n");
            }
            zmq_send(r, recorded.p, recorded.len, 0);
        }
        zmq_msg_close(&id);
        zmq_msg_close(&q);
    }
    free(junk);
    pki_key_free(key);
    buf_release(&recorded);
    zmq_close(r);
    zmq_ctx_term(ctx);
    if (have_up)
        federation_release(&up);
    return 0;
}

static void *
connect_client(void *ctx, const char *server, const char *endpoint)
{
    char pub[41], sec[41];
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, hwm = 16;
    zmq_curve_keypair(pub, sec);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 40);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_connect(s, endpoint);
    return s;
}

static int
flood(const char *certpath, const char *endpoint, int seconds, int conns)
{
    char err[FEDRA_ERRLEN], server[41];
    struct pki_cert *c;
    uint8_t key[PKI_CURVE_KEY_LEN];
    if (pki_cert_load(certpath, &c, err) != 0 || pki_cert_curve_key(c, key) != 0)
        return die("node certificate", err);
    pki_cert_free(c);
    zmq_z85_encode(server, key, 32);
    void *ctx = zmq_ctx_new();
    void **s = xcalloc((size_t)conns, sizeof *s);
    int *sent_on = xcalloc((size_t)conns, sizeof *sent_on);
    for (int i = 0; i < conns; i++)
        s[i] = connect_client(ctx, server, endpoint);
    uint8_t *junk = xmalloc(FAKE_MAX_JUNK);
    unsigned long long sent = 0, replies = 0, bytes = 0, reconnects = 0;
    int64_t end = util_mono_ms() + (int64_t)seconds * 1000;
    while (util_mono_ms() < end) {
        for (int i = 0; i < conns; i++) {
            uint8_t lenb[2];
            RAND_bytes(lenb, 2);
            size_t n = 1 + ((size_t)lenb[0] << 8 | lenb[1]) % FAKE_MAX_JUNK;
            RAND_bytes(junk, (int)(n < 256 ? n : 256));   /* content matters little */
            if (zmq_send(s[i], junk, n, ZMQ_DONTWAIT) >= 0) {
                sent++;
                bytes += n;
                if (++sent_on[i] % FAKE_RECONNECT_EVERY == 0) {
                    zmq_close(s[i]);
                    s[i] = connect_client(ctx, server, endpoint);
                    reconnects++;
                }
            }
            char rb[512];
            while (zmq_recv(s[i], rb, sizeof rb, ZMQ_DONTWAIT) >= 0)
                replies++;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    printf("flood: %d s, %d connections, %llu junk messages (%llu bytes) sent, %llu signed "
        "refusals read, %llu reconnects\n", seconds, conns, sent, bytes, replies, reconnects);
    for (int i = 0; i < conns; i++)
        zmq_close(s[i]);
    free(s);
    free(sent_on);
    free(junk);
    zmq_ctx_term(ctx);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "garbage") == 0)
        return serve_fake("garbage", argv[2], NULL);
    if (argc == 4 && strcmp(argv[1], "replay") == 0)
        return serve_fake("replay", argv[2], argv[3]);
    if (argc == 4 && (strcmp(argv[1], "lie-info") == 0 || strcmp(argv[1], "lie-grid") == 0 ||
                         strcmp(argv[1], "lie-count") == 0))
        return serve_fake(argv[1], argv[2], argv[3]);
    if (argc == 6 && strcmp(argv[1], "flood") == 0)
        return flood(argv[2], argv[3], (int)strtol(argv[4], NULL, 10), (int)strtol(argv[5], NULL, 10));
    fprintf(stderr, "usage: fedra-fakenode garbage CONFIG | replay CONFIG UPSTREAM-FEDERATION |"
        " lie-info|lie-grid|lie-count CONFIG UPSTREAM-FEDERATION |"
        " flood NODE-CERT ENDPOINT SECONDS CONNECTIONS\n");
    return 2;
}
