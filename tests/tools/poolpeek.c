/*
 * poolpeek - what a hub, alone or with one colluding node, can read from a
 * pooled share it saw (tests only, never installed; docs/disclosure.md §8.3).
 * The shares come from a recording hub (fedra-tamperhub --record DIR).
 *
 *   fedra-poolpeek SHARE
 *   fedra-poolpeek SHARE --colluder KEY
 *
 * It prints, one line each:
 *   node NAME positions N          whose share it is, from its signed response
 *   uniform CHISQ BYTES            chi-square of the masked bytes against the
 *                                  uniform distribution (255 df)
 * and with --colluder (the key file of another node of the roster, whose pair
 * seed with this node the colluder knows), after removing that pair's mask
 * from the share's value vector:
 *   values V1,V2,...               if every position is a count below 2^40
 *   masked CHISQ                   otherwise, with the chi-square of what is left
 * With a roster of two, the colluder's pair mask is the only mask: the node's
 * values come out.  With three or more, the masks it shares with the others
 * stay in, and what is left is as uniform as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs/pki.h"
#include "lib/mask.h"
#include "lib/util.h"
#include "proto/evidence.h"
#include "proto/layout.h"
#include "proto/wire.h"

#define POOLPEEK_MAX_FILE (WIRE_MAX_POOL_ANSWER + 1)
#define POOLPEEK_COUNT_MAX ((uint64_t)1 << 40)

static double
chisq(const uint8_t *b, size_t n)
{
    double cnt[256] = {0}, x2 = 0, e = (double)n / 256;
    for (size_t i = 0; i < n; i++)
        cnt[b[i]]++;
    for (int k = 0; k < 256; k++)
        x2 += (cnt[k] - e) * (cnt[k] - e) / e;
    return x2;
}

static int
die(const char *what, const char *err)
{
    fprintf(stderr, "poolpeek: %s: %s\n", what, err);
    return 1;
}

int
main(int argc, char **argv)
{
    char err[FEDRA_ERRLEN];
    if (argc != 2 && !(argc == 4 && strcmp(argv[2], "--colluder") == 0)) {
        fputs("usage: fedra-poolpeek SHARE [--colluder KEY]\n", stderr);
        return 2;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    if (util_read_file(argv[1], POOLPEEK_MAX_FILE, &data, &len, err) != 0)
        return die(argv[1], err);
    Fedra__PoolAnswer *a = wire_poolanswer_decode(data, len, err);
    if (a == NULL)
        return die("share", err);
    Fedra__Envelope *e = wire_envelope_decode(a->response.data, a->response.len,
        WIRE_MAX_RESPONSE, err);
    struct pki_cert *node = NULL;
    Fedra__ResponseBody *b = NULL;
    uint8_t vpk[MASK_KEY_LEN];
    if (e == NULL || evidence_signer(e, &node, err) != 0 ||
        (b = wire_response_decode(e->body.data, e->body.len, err)) == NULL)
        return die("response", err);
    if (b->pool == NULL || pki_cert_curve_key(node, vpk) != 0)
        return die("response", "no share, or a certificate without a transport key");
    size_t npos = b->pool->positions;
    /* The values come first: npos of them, then the flags of the flagged positions,
     * then the pooled auditor's atom counts (PoolShare.atoms). */
    size_t elems = a->masked.len / MASK_COUNT_LEN;     /* the count ring (lib/mask.h) */
    if (a->masked.len % MASK_COUNT_LEN != 0 || elems < npos + b->pool->atoms)
        return die("share", "the masked bytes do not fit the positions");
    elems -= b->pool->atoms;
    if ((elems - npos) % (LAYOUT_VECTORS - 1) != 0 || (elems - npos) / (LAYOUT_VECTORS - 1) > npos)
        return die("share", "the masked bytes do not fit the positions");
    printf("node %s positions %zu\n", b->node, npos);
    printf("uniform %.1f %zu\n", chisq(a->masked.data, a->masked.len), a->masked.len);
    if (argc == 4) {
        struct pki_key *k = NULL;
        uint8_t sk[MASK_KEY_LEN], pk[MASK_KEY_LEN], roster[2][MASK_KEY_LEN];
        struct mask_node *m = NULL;
        if (pki_key_load(argv[3], &k, err) != 0)
            return die(argv[3], err);
        if (pki_key_curve_secret(k, sk) != 0 || pki_curve_public(sk, pk) != 0)
            return die(argv[3], "no transport key");
        memcpy(roster[0], pk, MASK_KEY_LEN);
        memcpy(roster[1], vpk, MASK_KEY_LEN);
        /* The colluder's masks with this node alone: a roster of the two of them. */
        if (mask_node_new(&m, sk, pk, (const uint8_t (*)[MASK_KEY_LEN])roster, 2,
                b->query_hash.data, err) != 0)
            return die("key agreement", err);
        uint64_t *v = xcalloc(npos, sizeof *v), *c = xcalloc(npos, sizeof *c);
        mask_unpack_counts(a->masked.data, npos, v);
        if (mask_apply_counts(m, layout_vector_label(LAYOUT_VALUE), c, npos, err) != 0)
            return die("mask", err);
        int counts = 1;
        for (size_t i = 0; i < npos; i++) {
            v[i] += c[i];           /* the node's mask with the colluder has the other sign */
            counts &= v[i] < POOLPEEK_COUNT_MAX;
        }
        if (counts) {
            printf("values ");
            for (size_t i = 0; i < npos; i++)
                printf("%s%llu", i ? "," : "", (unsigned long long)v[i]);
            putchar('\n');
        } else {
            uint8_t *bytes = xmalloc(npos * MASK_COUNT_LEN);
            mask_pack_counts(v, npos, bytes);
            printf("masked %.1f\n", chisq(bytes, npos * MASK_COUNT_LEN));
            free(bytes);
        }
        free(v);
        free(c);
        mask_node_free(m);
        pki_key_free(k);
    }
    wire_response_free(b);
    pki_cert_free(node);
    wire_envelope_free(e);
    wire_poolanswer_free(a);
    free(data);
    return 0;
}
