/*
 * fuzz_hublink - the node's handler of frames from the hub (node/hublink.c,
 * hublink_frame): the hub is not trusted, so every byte it sends is input.
 *
 * The first input byte picks what the rest is:
 *   even  a frame exactly as it arrives from the hub's socket (decode,
 *         welcome or refusal, forward, or dropped);
 *   odd   the plaintext of a forwarded query: the harness boxes it from a
 *         sender's transport key to the node's (as an analyst does) and
 *         wraps it in a HUB_FORWARD, so the fuzzer reaches what lies behind
 *         the box, which it could never forge: the bounded envelope decode,
 *         the signer certificate's key, the node's answer and the sealing
 *         of the answer.  The sender is N2's key; a plaintext that decodes
 *         as an Envelope gets N2's certificate as its signer certificate
 *         (the fuzzer cannot know this run's certificates), so that the
 *         signer's key is the sender's and the answer path is reached.
 * The node's answer function is a stand-in (the query path itself is
 * fuzz_envelope's); it checks that it receives exactly the sealed plaintext.
 *
 * Checks (abort on failure): whatever the link sends back decodes as a
 * HUB_ANSWER with the forward's (or round's) tag; an UNREADABLE answer carries no
 * payload; an OK answer follows exactly one call of the answer function
 * and is a sealed box of the size class of its answer (the harness holds no
 * analyst's secret key to open it); a frame that is not a FORWARD gets no
 * answer at all.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "certs/pki.h"
#include "lib/seal.h"
#include "node/hublink.h"
#include "proto/wire.h"
#include "tests/fuzz/fuzz_common.h"

static struct hublink *link_;
static uint8_t node_public[PKI_CURVE_KEY_LEN];
static uint8_t sender_public[PKI_CURVE_KEY_LEN], sender_pair[SEAL_PAIR_LEN];
static struct buf sender_der;
static const uint8_t *expect_query;
static size_t expect_len, answered;

/* The node's stand-in: its "signed response" is 100 bytes plus the query's length. */
static void
answer(void *arg, const uint8_t *query, size_t len, struct buf *reply, int *to_hub)
{
    (void)to_hub;                   /* never a pooled query here: the reply is sealed */
    (void)arg;
    if (expect_query == NULL || len != expect_len || (len && memcmp(query, expect_query, len))) {
        fprintf(stderr, "the answer function got other bytes than the sealed query\n");
        abort();
    }
    answered++;
    memset(buf_extend(reply, 100 + len), 'r', 100 + len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char key[FUZZ_PATH_MAX], crt[FUZZ_PATH_MAX], err[FEDRA_ERRLEN];
    uint8_t secret[PKI_CURVE_KEY_LEN];
    struct pki_key *k = NULL;
    struct pki_cert *c = NULL;
    (void)argc;
    (void)argv;
    fuzz_ca();
    fuzz_path(key, "nodes/N1.key");
    fuzz_path(crt, "nodes/N1.crt");
    fuzz_check(pki_key_load(key, &k, err), "pki_key_load", err);
    fuzz_check(pki_cert_load(crt, &c, err), "pki_cert_load", err);
    fuzz_check(pki_key_curve_secret(k, secret) | pki_curve_public(secret, node_public),
        "transport key", "derivation failed");
    /* The sender: N2's transport key and certificate. */
    char skey[FUZZ_PATH_MAX], scrt[FUZZ_PATH_MAX];
    uint8_t ssecret[PKI_CURVE_KEY_LEN];
    struct pki_key *sk = NULL;
    struct pki_cert *sc = NULL;
    size_t dl;
    fuzz_path(skey, "nodes/N2.key");
    fuzz_path(scrt, "nodes/N2.crt");
    fuzz_check(pki_key_load(skey, &sk, err), "pki_key_load", err);
    fuzz_check(pki_cert_load(scrt, &sc, err), "pki_cert_load", err);
    fuzz_check(pki_key_curve_secret(sk, ssecret) | pki_curve_public(ssecret, sender_public),
        "sender's transport key", "derivation failed");
    fuzz_check(seal_pair_key(ssecret, node_public, sender_pair, err), "seal_pair_key", err);
    const uint8_t *der = pki_cert_der(sc, &dl);
    buf_append(&sender_der, der, dl);
    pki_key_free(sk);
    pki_cert_free(sc);
    struct hublink_config hc = {"tcp://127.0.0.1:1", NULL, crt, secret, answer, NULL, NULL, NULL};
    link_ = hublink_new(&hc);
    hublink_set_identity(link_, c);
    pki_key_free(k);
    pki_cert_free(c);
    return 0;
}

/* What the link sent back for frame in (a FORWARD under tag, or not: forward == 0). */
static void
check_reply(const struct buf *out, int forward, uint64_t tag, size_t answered_before)
{
    char err[FEDRA_ERRLEN];
    if (!forward) {
        if (out->len != 0 || answered != answered_before) {
            fprintf(stderr, "a frame that is no forward was answered\n");
            abort();
        }
        return;
    }
    if (out->len == 0)
        return;                     /* a forward that did not decode: dropped */
    Fedra__HubFrame *a = wire_hubframe_decode(out->p, out->len, err);
    if (a == NULL || a->type != FEDRA__HUB_TYPE__HUB_ANSWER || a->tag != tag) {
        fprintf(stderr, "the link's answer is not a HUB_ANSWER with tag %llu: %s\n",
            (unsigned long long)tag, a ? "wrong type or tag" : err);
        abort();
    }
    int ok = a->status == FEDRA__HUB_STATUS__HUB_STATUS_OK;
    if ((!ok && (a->status != FEDRA__HUB_STATUS__HUB_STATUS_UNREADABLE || a->payload.len != 0 ||
            a->reason[0] == 0 || answered != answered_before)) ||
        (ok && (answered != answered_before + 1 ||
            a->payload.len != seal_class(100 + expect_len) + SEAL_OVERHEAD))) {
        fprintf(stderr, "inconsistent answer: status %d, %zu payload bytes, answered %zu\n",
            (int)a->status, a->payload.len, answered - answered_before);
        abort();
    }
    wire_hubframe_free(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[FEDRA_ERRLEN];
    if (size == 0)
        return 0;
    struct buf frame = {0}, out = {0}, box = {0}, plain = {0};
    size_t before = answered;
    uint64_t tag = data[0] >> 1;
    int forward = 0;
    expect_query = NULL;
    if (data[0] & 1) {
        Fedra__Envelope *e = wire_envelope_decode(data + 1, size - 1, WIRE_MAX_MODEL_QUERY, err);
        if (e != NULL) {            /* signed, as far as the box is concerned, by the sender */
            ProtobufCBinaryData own = e->signer_cert;
            e->signer_cert.data = sender_der.p;
            e->signer_cert.len = sender_der.len;
            wire_pack(&e->base, &plain);
            e->signer_cert = own;   /* freed with the message */
            wire_envelope_free(e);
        } else {
            buf_append(&plain, data + 1, size - 1);
        }
        expect_query = plain.p;
        expect_len = plain.len;
        fuzz_check(seal_box(sender_public, sender_pair, plain.p, plain.len, &box, err),
            "seal_box", err);
        Fedra__HubFrame f = FEDRA__HUB_FRAME__INIT;
        f.version = WIRE_VERSION;
        f.type = FEDRA__HUB_TYPE__HUB_FORWARD;
        f.tag = tag;
        f.payload.data = box.p;
        f.payload.len = box.len;
        wire_pack(&f.base, &frame);
        forward = 1;
    } else {
        buf_append(&frame, data + 1, size - 1);
        /* Is it a forward?  Then its tag is what the answer must carry. */
        Fedra__HubFrame *h = wire_hubframe_decode(frame.p, frame.len, err);
        /* A HUB_ROUND (a pooled fit's round) is answered under its tag as a forward is:
           this link has no round function, so UNREADABLE ("takes no pooled rounds"). */
        if (h != NULL && (h->type == FEDRA__HUB_TYPE__HUB_FORWARD ||
                             h->type == FEDRA__HUB_TYPE__HUB_ROUND)) {
            forward = 1;
            tag = h->tag;
        }
        wire_hubframe_free(h);
    }
    hublink_frame(link_, frame.p, frame.len, 1, &out);
    check_reply(&out, forward, tag, before);
    buf_release(&frame);
    buf_release(&out);
    buf_release(&box);
    buf_release(&plain);
    return 0;
}
