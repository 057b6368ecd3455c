/*
 * fuzz_envelope - the node's query path on bytes from the network.
 *
 * As node/serve.c does, in order: hash the envelope, decode it with the
 * query cap, parse the signer certificate (DER, before anything is trusted),
 * read its name, verify it against a federation CA and check the signature.
 * The node decodes the body only once the signature verifies; a fuzzer
 * cannot forge one, so the body decoder is run on every decoded envelope's
 * body regardless, and on the whole input when it is not an envelope, which
 * lets the mutator work on bare QueryBody bytes too.
 *
 * A body that decodes is then run, as serve.c dispatches it by kind, through
 * exec_count / exec_km on a small snapshot (80 synthetic patients imported
 * at start) under two policies (the default, and min_cell 1 with exact
 * times).  The node's answer is packed into a ResponseBody and must decode
 * with the coordinator's wire_response_decode: an answer the coordinator
 * would refuse is reported as a crash (abort).  Each answered spec also goes
 * through the query-set auditor (node/qaudit.c) with an in-memory history
 * kept across inputs; it must admit or refuse, never fail.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "certs/pki.h"
#include "node/exec.h"
#include "node/import.h"
#include "node/qaudit.h"
#include "node/snapshot.h"
#include "node/store.h"
#include "proto/vars.h"
#include "proto/wire.h"
#include "tests/fuzz/fuzz_common.h"

#define FUZZ_PATIENTS 80

static struct pki_trust *trust;
static struct snapshot *snap;
static sqlite3 *qdb;                    /* the query-set auditor's history, in memory */

static const char csv_header[] = "patient_id,eupid,sex,age_at_diagnosis_days,diagnosis_date,"
    "tumour_type,icdo3_morphology,icdo3_topography,stage,surgery,chemotherapy,radiotherapy,"
    "vital_status,last_contact_date,event_date\n";

static const char *
level(enum var_id v, size_t i)
{
    const struct var_def *d = vars_get(v);
    return d->levels[i % d->nlevels];
}

/* FUZZ_PATIENTS rows cycling through every level, imported and snapshotted. */
static void
make_snapshot(void)
{
    static const char *const morph[] = {"8370/3", "", "9370/3", "8023/3"};
    static const char *const topo[] = {"C74.0", "C41.2", "", "C22"};
    char csv[FUZZ_PATH_MAX], db[FUZZ_PATH_MAX], err[FEDRA_ERRLEN];
    struct buf b = {0}, errors = {0};
    struct store *st = NULL;
    struct import_stats stats;
    struct import_opts opts = {0, NULL, NULL, 20089};   /* today = 2025-01-01 */

    buf_puts(&b, csv_header);
    for (size_t i = 0; i < FUZZ_PATIENTS; i++) {
        int year = 2000 + (int)(i % 20), month = 1 + (int)(i % 12), day = 1 + (int)(i % 28);
        const char *vital = level(VAR_VITAL_STATUS, i / 3);
        int dead = strcmp(vital, "dead") == 0;
        buf_printf(&b, "P%03zu,%s%zu,%s,%zu,%04d-%02d-%02d,%s,%s,%s,%s,%s,%s,%s,%s,"
            "%04d-%02d-%02d,", i, i % 2 ? "EU-" : "", i % 2 ? i : 0, level(VAR_SEX, i),
            (i * 397) % 6000, year, month, day, level(VAR_TUMOUR_TYPE, i), morph[i % 4],
            topo[i / 4 % 4], level(VAR_STAGE, i), level(VAR_SURGERY, i),
            level(VAR_CHEMOTHERAPY, i / 2), level(VAR_RADIOTHERAPY, i / 5), vital,
            year + 1 + (int)(i % 4), month, day);
        if (dead || i % 7 == 0)
            buf_printf(&b, "%04d-%02d-%02d", year + 1 + (int)(i % 4), month, day);
        buf_puts(&b, "\n");
    }
    fuzz_path(csv, "snapshot.csv");
    fuzz_path(db, "snapshot.db");
    fuzz_write(csv, b.p, b.len);
    const char *paths[] = {csv};
    fuzz_check(store_open(db, 0, &st, err), "store_open", err);
    if (import_csv(st, paths, 1, &opts, &stats, &errors, err) != 0) {
        fprintf(stderr, "%.*s", (int)errors.len, (const char *)errors.p);
        fuzz_check(-1, "import_csv", err);
    }
    fuzz_check(snapshot_load(st, &snap, err), "snapshot_load", err);
    store_free(st);
    buf_release(&b);
    buf_release(&errors);
}

/* What the node would send back must be what the coordinator accepts. */
static void
answer_decodes(Fedra__ResponseBody *rb)
{
    static uint8_t hash[WIRE_HASH_LEN];
    char err[FEDRA_ERRLEN];
    struct buf body = {0};
    rb->context = (char *)WIRE_RESPONSE_CONTEXT;
    rb->query_hash.data = hash;
    rb->query_hash.len = sizeof hash;
    rb->node = (char *)"N1";
    rb->status = FEDRA__STATUS__STATUS_OK;
    wire_pack(&rb->base, &body);
    Fedra__ResponseBody *r = wire_response_decode(body.p, body.len, err);
    if (r == NULL) {
        fprintf(stderr, "node answer of %zu bytes refused by the coordinator: %s\n", body.len,
            err);
        abort();
    }
    wire_response_free(r);
    buf_release(&body);
}

/*
 * The query-set auditor on every answered spec, with a history kept across
 * inputs (bounded by its capacity): it may admit or refuse, never fail.
 */
static void
audit(const Fedra__QuerySpec *spec, const struct disclose_policy *policy)
{
    char err[FEDRA_ERRLEN] = "";
    const char *code = qaudit_admit(qdb, snap, policy, spec, "fuzz", "0", 1, 100000, err);
    if (code != NULL && strcmp(code, "differencing") != 0 && strcmp(code, "capacity") != 0) {
        fprintf(stderr, "qaudit_admit failed (%s): %s\n", code, err);
        abort();
    }
}

static void
execute(const Fedra__QuerySpec *spec)
{
    static const struct disclose_policy policies[] = {
        {DISCLOSE_DEFAULT_MIN_CELL, DISCLOSE_DEFAULT_GRID_DAYS, DISCLOSE_DEFAULT_EVENTS_PER_PARAM},
        {1, 0, 1}};
    char err[FEDRA_ERRLEN];
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        Fedra__ResponseBody rb = FEDRA__RESPONSE_BODY__INIT;
        if (spec->kind == FEDRA__KIND__KIND_COUNT) {
            struct exec_out eo = {0};
            if (exec_count(snap, &policies[i], spec, &eo, err) == 0) {
                rb.count = &eo.count;
                answer_decodes(&rb);
                audit(spec, &policies[i]);
            }
            exec_out_release(&eo);
        } else if (spec->kind == FEDRA__KIND__KIND_KM) {
            struct exec_km_out ek = {0};
            if (exec_km(snap, &policies[i], spec, &ek, err) == 0) {
                rb.km = &ek.km;
                answer_decodes(&rb);
                audit(spec, &policies[i]);
            }
            exec_km_release(&ek);
        } else if (spec->kind == FEDRA__KIND__KIND_COX || spec->kind == FEDRA__KIND__KIND_GLM) {
            /* Uncached, then twice through a cache (a miss, then a hit): all three the same. */
            struct exec_model_out em = {0}, ec = {0};
            struct exec_model_cache mc = {0};
            int cox = spec->kind == FEDRA__KIND__KIND_COX;
            int (*run)(const struct snapshot *, const struct disclose_policy *,
                const Fedra__QuerySpec *, struct exec_model_cache *, struct exec_model_out *,
                char *) = cox ? exec_cox : exec_glm;
            int rc = run(snap, &policies[i], spec, NULL, &em, err);
            if (rc == 0) {
                rb.model = &em.model;
                answer_decodes(&rb);
            }
            for (int pass = 0; pass < 2; pass++) {
                if ((run(snap, &policies[i], spec, &mc, &ec, err) == 0) != (rc == 0))
                    abort();
                if (rc == 0 && (ec.model.n != em.model.n || ec.model.events != em.model.events ||
                        ec.model.n_score != em.model.n_score ||
                        memcmp(ec.score, em.score, em.model.n_score * sizeof *em.score) != 0 ||
                        memcmp(ec.info, em.info, em.model.n_info * sizeof *em.info) != 0 ||
                        memcmp(&ec.model.loglik, &em.model.loglik, sizeof em.model.loglik) != 0))
                    abort();
                exec_model_release(&ec);
            }
            exec_model_cache_clear(&mc);
            exec_model_release(&em);
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char ca[FUZZ_PATH_MAX], crl[FUZZ_PATH_MAX], err[FEDRA_ERRLEN];
    (void)argc;
    (void)argv;
    fuzz_ca();
    fuzz_path(ca, "ca/ca.crt");
    fuzz_path(crl, "ca/crl.pem");
    fuzz_check(pki_trust_load(ca, crl, 1, &trust, err), "pki_trust_load", err);
    make_snapshot();
    if (sqlite3_open(":memory:", &qdb) != SQLITE_OK)
        fuzz_check(-1, "sqlite3_open", "in-memory database");
    return 0;
}

static void
query_body(const uint8_t *data, size_t size)
{
    char err[FEDRA_ERRLEN];
    Fedra__QueryBody *q = wire_query_decode(data, size, err);
    if (q == NULL)
        return;
    volatile uint64_t sink = fuzz_walk(&q->base);
    for (size_t i = 0; i < q->spec->n_where; i++)
        sink += strlen(wire_op_text(q->spec->where[i]->op));
    (void)sink;
    execute(q->spec);
    wire_query_free(q);
}

static void
signer(const Fedra__Envelope *e)
{
    char err[FEDRA_ERRLEN], name[PKI_MAX_NAME + 16];
    uint8_t fp[32], key[PKI_CURVE_KEY_LEN];
    struct pki_cert *sc = NULL;
    if (pki_cert_from_der(e->signer_cert.data, e->signer_cert.len, &sc, err) != 0)
        return;
    const char *claimed = pki_cert_name(sc) ? pki_cert_name(sc) : pki_cert_subject_cn(sc);
    snprintf(name, sizeof name, "unverified:%.64s", claimed);
    volatile uint64_t sink = strlen(name) + strlen(pki_cert_serial_hex(sc))
        + (uint64_t)pki_cert_role(sc) + (uint64_t)pki_cert_not_before(sc)
        + (uint64_t)pki_cert_not_after(sc);
    if (pki_cert_curve_key(sc, key) == 0)
        sink += key[0];
    pki_cert_fingerprint(sc, fp);
    sink += fp[0];
    sink += (uint64_t)pki_verify(trust, sc, PKI_ROLE_ANALYST, 0, err);
    sink += (uint64_t)pki_check_sig(sc, e->body.data, e->body.len, e->signature.data,
        e->signature.len);
    (void)sink;
    pki_cert_free(sc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[FEDRA_ERRLEN];
    uint8_t qhash[WIRE_HASH_LEN];
    wire_query_hash(data, size, qhash);
    Fedra__Envelope *e = wire_envelope_decode(data, size, WIRE_MAX_QUERY, err);
    if (e == NULL) {
        query_body(data, size);
        return 0;
    }
    volatile uint64_t sink = fuzz_walk(&e->base);
    (void)sink;
    signer(e);
    query_body(e->body.data, e->body.len);
    wire_envelope_free(e);
    return 0;
}
