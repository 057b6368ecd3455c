/*
 * gen_seeds - write seed inputs for fuzz_envelope and fuzz_response from a
 * running federation (scripts/federation up).  Not part of the fuzz build;
 * see docs/fuzzing.md for how the committed seeds were made.
 *
 *   gen_seeds FEDERATION ANALYST.crt ANALYST.key OUTDIR QUERY.bin ...
 *
 * For each query saved with `fedra --save-query`: its body alone
 * (OUTDIR/envelope/NAME.body); the signed replies of every node, sent twice
 * so the second is a real replay refusal (OUTDIR/response/NAME-NODE-N.env)
 * and their bodies (.body).  It also signs a Kaplan-Meier query that the
 * fedra CLI cannot yet send (envelope/km.env, km.body), sends it, and
 * writes a hand-made KM ResponseBody with two strata (response/km.body).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs/pki.h"
#include "coord/client.h"
#include "coord/federation.h"
#include "proto/wire.h"

static void
put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[1024], err[FEDRA_ERRLEN];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (util_write_file(path, p, n, 0644, err) != 0) {
        fprintf(stderr, "gen_seeds: %s\n", err);
        exit(1);
    }
}

static void
send_twice(const struct federation *f, const char *outdir, const char *name,
    const uint8_t *q, size_t n)
{
    char dir[1024], file[512], err[FEDRA_ERRLEN];
    snprintf(dir, sizeof dir, "%s/response", outdir);
    for (int round = 1; round <= 2; round++) {
        struct node_reply *rep = xcalloc(f->nnodes, sizeof *rep);
        if (client_fanout(f, q, n, 5000, rep, err) != 0) {
            fprintf(stderr, "gen_seeds: %s\n", err);
            exit(1);
        }
        for (size_t i = 0; i < f->nnodes; i++) {
            fprintf(stderr, "%s round %d %s: %s %s\n", name, round, f->nodes[i].name,
                client_status_name(rep[i].status), rep[i].reason);
            if (rep[i].raw.len == 0)
                continue;
            snprintf(file, sizeof file, "%s-%s-%d.env", name, f->nodes[i].name, round);
            put(dir, file, rep[i].raw.p, rep[i].raw.len);
            Fedra__Envelope *e = wire_envelope_decode(rep[i].raw.p, rep[i].raw.len,
                WIRE_MAX_RESPONSE, err);
            if (e != NULL) {
                snprintf(file, sizeof file, "%s-%s-%d.body", name, f->nodes[i].name, round);
                put(dir, file, e->body.data, e->body.len);
                wire_envelope_free(e);
            }
        }
        client_replies_release(rep, f->nnodes);
        free(rep);
    }
}

/* A signed KM query: stage strata, event-free survival, 30-day grid. */
static void
km_query(const char *cert_path, const char *key_path, struct buf *env, struct buf *body)
{
    char err[FEDRA_ERRLEN];
    struct pki_cert *cert = NULL;
    struct pki_key *key = NULL;
    if (pki_cert_load(cert_path, &cert, err) != 0 || pki_key_load(key_path, &key, err) != 0) {
        fprintf(stderr, "gen_seeds: %s\n", err);
        exit(1);
    }
    uint8_t id[WIRE_QUERY_ID_LEN] = "fuzz-seed-km-001", sig[PKI_SIG_LEN];
    char *by[] = {(char *)"stage"}, *aud[] = {(char *)"*"}, *vals[] = {(char *)"yes"};
    Fedra__Filter flt = FEDRA__FILTER__INIT, *fp[] = {&flt};
    flt.var = (char *)"surgery";
    flt.op = FEDRA__OP__OP_EQ;
    flt.n_values = 1;
    flt.values = vals;
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    spec.kind = FEDRA__KIND__KIND_KM;
    spec.n_group_by = 1;
    spec.group_by = by;
    spec.n_where = 1;
    spec.where = fp;
    spec.endpoint = FEDRA__ENDPOINT__ENDPOINT_EFS;
    spec.grid_days = 30;
    Fedra__QueryBody q = FEDRA__QUERY_BODY__INIT;
    q.context = (char *)WIRE_QUERY_CONTEXT;
    q.query_id.data = id;
    q.query_id.len = sizeof id;
    q.issued_at_ms = util_now_ms();
    q.expires_at_ms = q.issued_at_ms + 600000;
    q.n_audience = 1;
    q.audience = aud;
    q.analyst = (char *)pki_cert_name(cert);
    q.spec = &spec;
    wire_pack(&q.base, body);
    if (pki_sign(key, body->p, body->len, sig) != 0) {
        fprintf(stderr, "gen_seeds: cannot sign\n");
        exit(1);
    }
    Fedra__Envelope e = FEDRA__ENVELOPE__INIT;
    size_t derlen;
    const uint8_t *der = pki_cert_der(cert, &derlen);
    e.version = WIRE_VERSION;
    e.body.data = body->p;
    e.body.len = body->len;
    e.signature.data = sig;
    e.signature.len = sizeof sig;
    e.signer_cert.data = (uint8_t *)der;
    e.signer_cert.len = derlen;
    wire_pack(&e.base, env);
    pki_cert_free(cert);
    pki_key_free(key);
}

/* A KM answer as the node's km kind gives it: two stage strata, 30-day grid. */
static void
km_response(struct buf *out)
{
    static uint8_t hash[WIRE_HASH_LEN], data_hash[32];
    char *lv1[] = {(char *)"localized"}, *lv2[] = {(char *)"metastatic"};
    int32_t t1[] = {30, 60, 150, 390}, t2[] = {30, 90};
    uint64_t e1[] = {1, 0, 2, 0}, c1[] = {0, 1, 0, 3}, e2[] = {2, 1}, c2[] = {0, 2};
    Fedra__LifeTable a = FEDRA__LIFE_TABLE__INIT, b = FEDRA__LIFE_TABLE__INIT;
    a.n_levels = 1; a.levels = lv1; a.n = 7;
    a.n_time = a.n_events = a.n_censored = 4; a.time = t1; a.events = e1; a.censored = c1;
    b.n_levels = 1; b.levels = lv2; b.n = 5;
    b.n_time = b.n_events = b.n_censored = 2; b.time = t2; b.events = e2; b.censored = c2;
    Fedra__LifeTable *strata[] = {&a, &b};
    Fedra__KmResult km = FEDRA__KM_RESULT__INIT;
    km.n_strata = 2;
    km.strata = strata;
    km.grid_days = 30;
    Fedra__ResponseBody r = FEDRA__RESPONSE_BODY__INIT;
    r.context = (char *)WIRE_RESPONSE_CONTEXT;
    r.query_hash.data = hash;
    r.query_hash.len = sizeof hash;
    r.node = (char *)"IT";
    r.answered_at_ms = 1763900000000;
    r.status = FEDRA__STATUS__STATUS_OK;
    r.data_hash.data = data_hash;
    r.data_hash.len = sizeof data_hash;
    r.data_rows = 12;
    r.km = &km;
    wire_pack(&r.base, out);
}

int
main(int argc, char **argv)
{
    char err[FEDRA_ERRLEN], dir[1024], name[256];
    struct federation f;
    if (argc < 6) {
        fprintf(stderr, "usage: gen_seeds FEDERATION ANALYST.crt ANALYST.key OUTDIR "
            "QUERY.bin ...\n");
        return 2;
    }
    if (federation_load(argv[1], &f, err) != 0) {
        fprintf(stderr, "gen_seeds: %s\n", err);
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/envelope", argv[4]);
    for (int i = 5; i < argc; i++) {
        uint8_t *q;
        size_t n;
        if (util_read_file(argv[i], WIRE_MAX_QUERY, &q, &n, err) != 0) {
            fprintf(stderr, "gen_seeds: %s\n", err);
            return 1;
        }
        const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(base, "."), base);
        Fedra__Envelope *e = wire_envelope_decode(q, n, WIRE_MAX_QUERY, err);
        if (e == NULL) {
            fprintf(stderr, "gen_seeds: %s: %s\n", argv[i], err);
            return 1;
        }
        char file[300];
        snprintf(file, sizeof file, "%s.body", name);
        put(dir, file, e->body.data, e->body.len);
        wire_envelope_free(e);
        send_twice(&f, argv[4], name, q, n);
        free(q);
    }
    struct buf env = {0}, body = {0}, resp = {0};
    km_query(argv[2], argv[3], &env, &body);
    put(dir, "km.env", env.p, env.len);
    put(dir, "km.body", body.p, body.len);
    send_twice(&f, argv[4], "km", env.p, env.len);
    km_response(&resp);
    snprintf(dir, sizeof dir, "%s/response", argv[4]);
    put(dir, "km.body", resp.p, resp.len);
    buf_release(&env);
    buf_release(&body);
    buf_release(&resp);
    federation_release(&f);
    return 0;
}
