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
 * A body that decodes is then answered as serve.c answers it: through the
 * row of its kind in the node's registry (node/kind.h, node_kind_answer),
 * on a small snapshot (80 synthetic patients imported at start) under two
 * policies (the default, and min_cell 1 with exact times).  The node's
 * answer is packed into a ResponseBody and must decode with the
 * coordinator's wire_response_decode: an answer the coordinator would refuse
 * is reported as a crash (abort).  A kind that keeps designs between rounds
 * (it asked the model cache) must give the same bytes uncached, from a new
 * design and from the kept one.  Each answered spec also goes through the
 * query-set auditor (node/qaudit.c) with an in-memory history kept across
 * inputs; it must admit or refuse, never fail.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "certs/pki.h"
#include "node/kind.h"
#include "node/kind_model.h"
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
static sqlite3 *qdb;                    /* the disclosure auditor's history, in memory */
static struct qaudit *qas[2];           /* one auditor per policy of one_spec */

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

/* The released answer as a ResponseBody, packed into *body (empty if refused). */
static int
answer(const struct node_kind *k, const Fedra__QuerySpec *spec,
    const struct disclose_policy *policy, struct kind_model_cache *mc, struct buf *body)
{
    static uint8_t hash[WIRE_HASH_LEN];
    char err[FEDRA_ERRLEN];
    struct node_kind_ctx ctx = {snap, mc, 0, "fedra-node fuzz", NULL, NULL};
    struct node_answer ans;
    Fedra__ResponseBody rb = FEDRA__RESPONSE_BODY__INIT;
    int rc = node_kind_answer(k, &ctx, policy, spec, &ans, err);
    if (rc == 0) {
        k->result(&ans, &rb);
        rb.context = (char *)WIRE_RESPONSE_CONTEXT;
        rb.query_hash.data = hash;
        rb.query_hash.len = sizeof hash;
        rb.node = (char *)"N1";
        rb.status = FEDRA__STATUS__STATUS_OK;
        wire_pack(&rb.base, body);
    }
    k->free_answer(&ans);
    return rc;
}

/* What the node would send back must be what the coordinator accepts. */
static void
answer_decodes(const struct buf *body)
{
    char err[FEDRA_ERRLEN];
    Fedra__ResponseBody *r = wire_response_decode(body->p, body->len, err);
    if (r == NULL) {
        fprintf(stderr, "node answer of %zu bytes refused by the coordinator: %s\n", body->len,
            err);
        abort();
    }
    wire_response_free(r);
}

/*
 * The disclosure auditor on every answered spec, with a history kept across
 * inputs (bounded by its capacity): it may admit (withholding items) or
 * refuse, never fail; what it leaves must still be a valid answer.
 */
static void
audit(const struct node_kind *k, const Fedra__QuerySpec *spec,
    const struct disclose_policy *policy, size_t which)
{
    char err[FEDRA_ERRLEN] = "";
    if (qas[which] == NULL &&
        (qas[which] = qaudit_open(qdb, snap, policy->min_cell, 100000, NULL, err)) == NULL)
        fuzz_check(-1, "qaudit_open", err);
    struct node_kind_ctx ctx = {.snap = snap, .software = "fedra-node fuzz"};
    struct node_answer ans;
    if (node_kind_answer(k, &ctx, policy, spec, &ans, err) == 0) {
        const char *code = qaudit_admit(qas[which], qdb, snap, k, policy, spec, &ans, "fuzz",
            "0", 1, err);
        if (code != NULL && strcmp(code, "differencing") != 0 && strcmp(code, "capacity") != 0) {
            fprintf(stderr, "qaudit_admit failed (%s): %s\n", code, err);
            abort();
        }
        if (code == NULL) {
            Fedra__ResponseBody rb = FEDRA__RESPONSE_BODY__INIT;
            struct buf body = {0};
            k->result(&ans, &rb);
            rb.context = (char *)WIRE_RESPONSE_CONTEXT;
            rb.node = (char *)"N1";
            rb.status = FEDRA__STATUS__STATUS_OK;
            wire_pack(&rb.base, &body);
            buf_release(&body);
            qaudit_commit(qas[which]);
        }
    }
    k->free_answer(&ans);
}

/* Two answers (refused: rc != 0) must agree in outcome and bytes. */
static void
same(int rc1, const struct buf *a, int rc2, const struct buf *b)
{
    if ((rc1 == 0) != (rc2 == 0) || a->len != b->len || (a->len && memcmp(a->p, b->p, a->len)))
        abort();
}

static void
execute(const Fedra__QuerySpec *spec)
{
    static const struct disclose_policy policies[] = {
        {DISCLOSE_DEFAULT_MIN_CELL, DISCLOSE_DEFAULT_GRID_DAYS, DISCLOSE_DEFAULT_EVENTS_PER_PARAM},
        {1, 0, 1}};
    const struct node_kind *k = node_kind_get(spec->kind);
    if (k == NULL)
        return;                     /* refused "unsupported" by the node */
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        struct kind_model_cache mc = {0};
        struct buf body = {0}, kept = {0}, fresh = {0};
        int rc = answer(k, spec, &policies[i], &mc, &body);
        if (mc.misses > 0) {
            /* It built a design: the kept one and none at all must answer the same. */
            same(rc, &body, answer(k, spec, &policies[i], &mc, &kept), &kept);
            same(rc, &body, answer(k, spec, &policies[i], NULL, &fresh), &fresh);
        }
        if (rc == 0) {
            answer_decodes(&body);
            audit(k, spec, &policies[i], i);
        }
        kind_model_cache_clear(&mc);
        buf_release(&body);
        buf_release(&kept);
        buf_release(&fresh);
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
