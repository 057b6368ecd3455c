/*
 * fedra-probe - an attacker's tool, for the disclosure tests only
 * (tests/integration/75-disclosure.sh).  Never installed.
 *
 * It signs, with a valid analyst certificate, one model round at
 * coefficients the attacker chooses -- something `fedra` never does, since
 * it only sends the rounds of its own Newton-Raphson or IRLS path -- and
 * prints what each node answered:
 *
 *   fedra-probe FEDERATION CERT KEY glm|cox OUTCOME TERMS BETA [VAR=VALUE ...]
 *
 *   OUTCOME   glm: VAR=LEVEL (y = 1 there); cox: "-"
 *   TERMS     design columns, comma-separated: VAR for an integer variable,
 *             VAR:LEVEL for one level's indicator
 *   BETA      the coefficients, comma-separated (glm: intercept first)
 *   VAR=VALUE equality filters (the cohort)
 *
 * Output, one line per node:
 *   NAME ok n=N events=E info00=X loglik=L      (the answer's numbers)
 *   NAME refused CODE: REASON
 *
 * With the weights of a logistic model, mu(1 - mu), info00 = sum of the
 * weights over the cohort: a linear predictor that is 0 on the target's
 * (diagnosis_year, age_years) and huge elsewhere makes info00 / 0.25 the
 * number of patients with that pair (attack 1 of docs/disclosure.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "certs/pki.h"
#include "coord/client.h"
#include "coord/federation.h"
#include "lib/util.h"
#include "proto/wire.h"

#define PROBE_MAX_TERMS 16
#define PROBE_MAX_FILTERS 8
#define PROBE_TIMEOUT_MS 10000
#define PROBE_TTL_MS 600000

static int
die(const char *msg, const char *err)
{
    fprintf(stderr, "fedra-probe: %s%s%s\n", msg, err ? ": " : "", err ? err : "");
    return 1;
}

/* "VAR:LEVEL" or "VAR" into t (pointers into s, which is modified). */
static void
term_parse(char *s, Fedra__Term *t)
{
    fedra__term__init(t);
    char *colon = strchr(s, ':');
    if (colon != NULL)
        *colon++ = 0;
    t->var = s;
    t->level = colon ? colon : (char *)"";
}

int
main(int argc, char **argv)
{
    char err[FEDRA_ERRLEN];
    if (argc < 8)
        return die("usage: fedra-probe FEDERATION CERT KEY glm|cox OUTCOME TERMS BETA "
            "[VAR=VALUE ...]", NULL);
    int glm = strcmp(argv[4], "glm") == 0;
    struct federation fed;
    struct pki_cert *cert = NULL;
    struct pki_key *key = NULL;
    if (federation_load(argv[1], &fed, err) != 0 || pki_cert_load(argv[2], &cert, err) != 0 ||
        pki_key_load(argv[3], &key, err) != 0)
        return die("cannot load the analyst's credentials", err);

    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    spec.kind = glm ? FEDRA__KIND__KIND_GLM : FEDRA__KIND__KIND_COX;
    Fedra__Term terms[PROBE_MAX_TERMS], *tp[PROBE_MAX_TERMS], outcome;
    for (char *s = strtok(argv[6], ","); s && spec.n_terms < PROBE_MAX_TERMS; s = strtok(NULL, ",")) {
        term_parse(s, &terms[spec.n_terms]);
        tp[spec.n_terms] = &terms[spec.n_terms];
        spec.n_terms++;
    }
    spec.terms = tp;
    double beta[PROBE_MAX_TERMS + 1];
    for (char *s = strtok(argv[7], ","); s && spec.n_beta <= PROBE_MAX_TERMS; s = strtok(NULL, ","))
        beta[spec.n_beta++] = strtod(s, NULL);
    spec.beta = beta;
    if (glm) {
        char *eq = strchr(argv[5], '=');
        if (eq == NULL)
            return die("glm needs OUTCOME as VAR=LEVEL", NULL);
        *eq = 0;
        fedra__term__init(&outcome);
        outcome.var = argv[5];
        outcome.level = eq + 1;
        spec.outcome = &outcome;
    }
    Fedra__Filter filters[PROBE_MAX_FILTERS], *fp[PROBE_MAX_FILTERS];
    char *values[PROBE_MAX_FILTERS];
    for (int i = 8; i < argc && spec.n_where < PROBE_MAX_FILTERS; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL)
            return die("a filter is VAR=VALUE", argv[i]);
        *eq = 0;
        Fedra__Filter *f = &filters[spec.n_where];
        fedra__filter__init(f);
        f->var = argv[i];
        f->op = FEDRA__OP__OP_EQ;
        values[spec.n_where] = eq + 1;
        f->values = &values[spec.n_where];
        f->n_values = 1;
        fp[spec.n_where++] = f;
    }
    spec.where = fp;
    uint8_t model_id[WIRE_QUERY_ID_LEN];
    RAND_bytes(model_id, sizeof model_id);
    spec.model_id.data = model_id;
    spec.model_id.len = sizeof model_id;
    spec.round = 1;
    spec.grid_days = 30;

    struct buf env = {0};
    if (client_sign_query(&fed, cert, key, &spec, PROBE_TTL_MS, &env, NULL, err) != 0)
        return die("cannot sign the probe", err);
    struct node_reply *rep = xcalloc(fed.nnodes, sizeof *rep);
    if (client_fanout(&fed, env.p, env.len, PROBE_TIMEOUT_MS, rep, err) != 0)
        return die("cannot send the probe", err);
    for (size_t i = 0; i < fed.nnodes; i++) {
        const Fedra__ResponseBody *b = rep[i].body;
        if (rep[i].status == NODE_OK && b != NULL && b->model != NULL)
            printf("%s ok n=%llu events=%llu info00=%.17g loglik=%.17g\n", fed.nodes[i].name,
                (unsigned long long)b->model->n, (unsigned long long)b->model->events,
                b->model->n_info ? b->model->info[0] : 0.0, b->model->loglik);
        else
            printf("%s %s %s: %s\n", fed.nodes[i].name, client_status_name(rep[i].status),
                rep[i].code[0] ? rep[i].code : "-", rep[i].reason);
    }
    client_replies_release(rep, fed.nnodes);
    free(rep);
    buf_release(&env);
    pki_cert_free(cert);
    pki_key_free(key);
    federation_release(&fed);
    return 0;
}
