/*
 * fuzz_hublink - the node's handler of frames from the hub (node/hublink.c,
 * hublink_frame): the hub is not trusted, so every byte it sends is input.
 *
 * The first input byte picks what the rest is:
 *   even  a frame exactly as it arrives from the hub's socket (decode,
 *         welcome or refusal, forward, or dropped);
 *   odd   the plaintext of a forwarded query: the harness seals it to the
 *         node's transport key (as an analyst does) and wraps it in a
 *         HUB_FORWARD, so the fuzzer reaches what lies behind the box,
 *         which it could never forge: the bounded envelope decode, the
 *         signer certificate's key, the node's answer and the sealing of
 *         the answer to the analyst.
 * The node's answer function is a stand-in (the query path itself is
 * fuzz_envelope's); it checks that it receives exactly the sealed plaintext.
 *
 * Checks (abort on failure): whatever the link sends back decodes as a
 * HUB_ANSWER with the forward's tag; an UNREADABLE answer carries no
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
    struct buf frame = {0}, out = {0}, box = {0};
    size_t before = answered;
    uint64_t tag = data[0] >> 1;
    int forward = 0;
    expect_query = NULL;
    if (data[0] & 1) {
        expect_query = data + 1;
        expect_len = size - 1;
        fuzz_check(seal_box(node_public, data + 1, size - 1, &box, err), "seal_box", err);
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
        if (h != NULL && h->type == FEDRA__HUB_TYPE__HUB_FORWARD) {
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
    return 0;
}
