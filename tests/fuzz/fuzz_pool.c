/*
 * fuzz_pool - the pooled messages (issue 14) as they arrive from the side
 * that is not trusted, the first input byte picking which (mod 4):
 *   0  at a node: a PoolRound from the hub (wire_poolround_decode), then
 *      each PoolAnswer in it checked as a node checks a fit's round
 *      (proto/poolmodel.h poolmodel_check_answer, a Cox layout of two
 *      covariates, every signer resolved to one node certificate);
 *   1  at the hub: a node's PoolAnswer, checked the same way;
 *   2  at fedra: the hub's PoolReply, and the release envelope's body as a
 *      PoolRelease;
 *   3  a PoolRelease body alone (fedra verify reads it from a bundle).
 * Every decoded field is read back (fuzz_walk).  A fuzzer cannot sign, so a
 * signature is reached, never passed; the commitment, the size and the
 * round checks before it are what is fuzzed.
 */
#include <stdint.h>
#include <string.h>

#include "certs/pki.h"
#include "proto/poolmodel.h"
#include "proto/wire.h"
#include "tests/fuzz/fuzz_common.h"

static struct pki_cert *node_cert;
static struct poolmodel layout;

static int
signer(void *arg, const Fedra__Envelope *env, const struct pki_cert **cert, char *err)
{
    (void)arg;
    (void)env;
    (void)err;
    *cert = node_cert;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char crt[FUZZ_PATH_MAX], err[FEDRA_ERRLEN];
    (void)argc;
    (void)argv;
    fuzz_ca();
    fuzz_path(crt, "nodes/N1.crt");
    fuzz_check(pki_cert_load(crt, &node_cert, err), "pki_cert_load", err);
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    Fedra__Term t[2] = {FEDRA__TERM__INIT, FEDRA__TERM__INIT}, *tp[2] = {&t[0], &t[1]};
    t[0].var = (char *)"age_years";
    t[1].var = (char *)"diagnosis_year";
    spec.kind = FEDRA__KIND__KIND_COX;
    spec.pooled = 1;
    spec.terms = tp;
    spec.n_terms = 2;
    spec.grid_days = 30;
    fuzz_check(poolmodel_make(&spec, &layout, err), "poolmodel_make", err);
    return 0;
}

/* One PoolAnswer as the hub and the nodes check a round's (round from the input). */
static void
answer(const uint8_t *data, size_t size, uint32_t round)
{
    char err[FEDRA_ERRLEN];
    uint8_t qhash[WIRE_HASH_LEN] = {0}, commit[WIRE_HASH_LEN];
    Fedra__PoolAnswer *a = NULL;
    Fedra__ResponseBody *body = NULL;
    mask_elem *sum = xcalloc(layout.npos + 1, sizeof *sum);
    poolmodel_check_answer(&layout, data, size, "N1", qhash, round, signer, NULL, sum, commit,
        &a, &body, err);
    if (a != NULL) {
        volatile uint64_t sink = fuzz_walk(&a->base);
        (void)sink;
    }
    wire_response_free(body);
    wire_poolanswer_free(a);
    free(sum);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[FEDRA_ERRLEN];
    if (size == 0)
        return 0;
    const uint8_t *m = data + 1;
    size_t n = size - 1;
    volatile uint64_t sink = 0;
    switch (data[0] % 4) {
    case 0: {
        Fedra__PoolRound *r = wire_poolround_decode(m, n, err);
        if (r == NULL)
            break;
        sink += fuzz_walk(&r->base);
        for (size_t i = 0; i < r->n_answers; i++)
            answer(r->answers[i].data, r->answers[i].len, r->round > 0 ? r->round - 1 : 0);
        wire_poolround_free(r);
        break;
    }
    case 1:
        answer(m, n, 1);
        break;
    case 2: {
        Fedra__PoolReply *r = wire_poolreply_decode(m, n, err);
        if (r == NULL)
            break;
        sink += fuzz_walk(&r->base);
        Fedra__Envelope *e = wire_envelope_decode(r->release.data, r->release.len,
            WIRE_MAX_RESPONSE, err);
        if (e != NULL) {
            Fedra__PoolRelease *rel = wire_poolrelease_decode(e->body.data, e->body.len, err);
            if (rel != NULL)
                sink += fuzz_walk(&rel->base);
            wire_poolrelease_free(rel);
            wire_envelope_free(e);
        }
        wire_poolreply_free(r);
        break;
    }
    default: {
        Fedra__PoolRelease *rel = wire_poolrelease_decode(m, n, err);
        if (rel != NULL)
            sink += fuzz_walk(&rel->base);
        wire_poolrelease_free(rel);
        break;
    }
    }
    (void)sink;
    return 0;
}
