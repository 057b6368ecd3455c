/*
 * witness - see witness.h.
 */
#include "node/witness.h"

#include <stdlib.h>
#include <string.h>

#include "certs/pki.h"
#include "lib/util.h"
#include "node/audit.h"
#include "proto/evidence.h"
#include "proto/wire.h"

/* One verified answer of a bundle and what it witnesses. */
struct item {
    const char *bundle;             /* its path (borrowed) */
    size_t round;                   /* 1-based */
    char node[PKI_MAX_NAME + 1];
    char qid[2 * WIRE_QUERY_ID_LEN + 1];
    int64_t at_ms;                  /* answered_at_ms */
    int witnessed;                  /* it carries a head */
    int64_t seq;                    /* audit_seq */
    uint8_t head[32];               /* audit_head */
    uint8_t rhash[32];              /* SHA-256 of the response envelope */
    uint8_t fp[32];                 /* SHA-256 of its signer certificate (DER) */
};

struct items {
    struct item *v;
    size_t n, cap;
};

/* The node's identities: names, and the certificates (fingerprints) the log records. */
struct ids {
    struct {
        char name[PKI_MAX_NAME + 1];
        uint8_t fp[32];
        int has_fp;
    } v[WITNESS_MAX_IDS];
    size_t n;
};

static void
id_add(struct ids *ids, const char *name, const uint8_t *fp)
{
    for (size_t i = 0; i < ids->n; i++)
        if (strcmp(ids->v[i].name, name) == 0 && (fp == NULL ? !ids->v[i].has_fp :
                ids->v[i].has_fp && memcmp(ids->v[i].fp, fp, 32) == 0))
            return;
    if (ids->n == WITNESS_MAX_IDS)
        return;
    snprintf(ids->v[ids->n].name, sizeof ids->v[0].name, "%s", name);
    if ((ids->v[ids->n].has_fp = fp != NULL))
        memcpy(ids->v[ids->n].fp, fp, 32);
    ids->n++;
}

/* audit_node_ids()'s callback: a name and the certificate a started entry records. */
static void
id_add_logged(const char *name, const uint8_t *der, size_t len, void *arg)
{
    uint8_t fp[32];
    if (len > 0)
        pki_sha256(der, len, fp);
    id_add(arg, name, len > 0 ? fp : NULL);
}

static int
id_has_name(const struct ids *ids, const char *name)
{
    for (size_t i = 0; i < ids->n; i++)
        if (strcmp(ids->v[i].name, name) == 0)
            return 1;
    return 0;
}

static int
id_vouches(const struct ids *ids, const char *name, const uint8_t fp[32])
{
    for (size_t i = 0; i < ids->n; i++)
        if (strcmp(ids->v[i].name, name) == 0 && ids->v[i].has_fp &&
            memcmp(ids->v[i].fp, fp, 32) == 0)
            return 1;
    return 0;
}

/* Verify one response envelope of node name to the query of qhash, into it. */
static int
verify_one(const struct pki_trust *trust, const char *name, const uint8_t qhash[WIRE_HASH_LEN],
    const struct buf *e, struct item *it, char *err)
{
    char why[FEDRA_ERRLEN];
    struct pki_cert *cert = NULL;
    Fedra__ResponseBody *body = NULL;
    int rc = -1;
    Fedra__Envelope *env = wire_envelope_decode(e->p, e->len, WIRE_MAX_RESPONSE, why);
    if (env == NULL) {
        errf(err, "unreadable response: %s", why);
        goto out;
    }
    if (evidence_signer(env, &cert, why) != 0) {
        errf(err, "response signer certificate unreadable: %s", why);
        goto out;
    }
    const char *nm = pki_cert_name(cert);
    if (nm == NULL || strcmp(nm, name) != 0) {
        errf(err, "response signed by node '%s', not '%s'", nm ? nm : "?", name);
        goto out;
    }
    if (evidence_response(env, cert, name, qhash, &body, err) != 0)
        goto out;
    if (trust != NULL &&
        pki_verify(trust, cert, PKI_ROLE_NODE, body->answered_at_ms / 1000, why) != PKI_OK) {
        errf(err, "response signer certificate rejected: %s", why);
        goto out;
    }
    snprintf(it->node, sizeof it->node, "%s", name);
    it->qid[0] = 0;
    if (body->query_id.len <= WIRE_QUERY_ID_LEN)
        util_hex(body->query_id.data, body->query_id.len, it->qid);
    it->at_ms = body->answered_at_ms;
    it->witnessed = body->audit_head.len == 32;
    it->seq = (int64_t)body->audit_seq;
    if (it->witnessed)
        memcpy(it->head, body->audit_head.data, 32);
    if (body->audit_seq > (uint64_t)INT64_MAX - 1) {
        errf(err, "response witnesses entry %llu, past any log",
            (unsigned long long)body->audit_seq);
        goto out;
    }
    pki_sha256(e->p, e->len, it->rhash);
    pki_cert_fingerprint(cert, it->fp);
    rc = 0;
out:
    wire_response_free(body);
    pki_cert_free(cert);
    wire_envelope_free(env);
    return rc;
}

/* Every signed answer of the bundle at path, verified, appended to items. */
static int
read_bundle(const char *path, const struct pki_trust *trust, struct items *items, char *err)
{
    json_t *root;
    if (evidence_load(path, &root, err) != 0)
        return -1;
    struct buf q = {0}, e = {0};
    char why[FEDRA_ERRLEN];
    int rc = 0;
    json_t *rounds = json_object_get(root, "rounds");
    for (size_t k = 0; rc == 0 && k < json_array_size(rounds); k++) {
        json_t *r = json_array_get(rounds, k), *resp = json_object_get(r, "responses");
        uint8_t qhash[WIRE_HASH_LEN];
        if (evidence_hex(r, "query", WIRE_MAX_QUERY, &q) != 0) {
            rc = errf(err, "%s: round %zu: the query is missing or not hex", path, k + 1);
            break;
        }
        wire_query_hash(q.p, q.len, qhash);
        for (size_t m = 0; rc == 0 && m < json_array_size(resp); m++) {
            json_t *o = json_array_get(resp, m);
            const char *name = json_string_value(json_object_get(o, "node"));
            if (name == NULL || !pki_name_valid(name)) {
                rc = errf(err, "%s: round %zu: response %zu names no valid node", path, k + 1,
                    m + 1);
                break;
            }
            if (json_object_get(o, "envelope") == NULL)
                continue;           /* a timeout or an error: nothing signed came back */
            if (items->n == items->cap) {
                items->cap = items->cap ? 2 * items->cap : 64;
                items->v = xreallocarray(items->v, items->cap, sizeof *items->v);
            }
            struct item *it = &items->v[items->n];
            memset(it, 0, sizeof *it);
            it->bundle = path;
            it->round = k + 1;
            if (evidence_hex(o, "envelope", WIRE_MAX_RESPONSE, &e) != 0)
                rc = errf(why, "the response is not hex");
            else
                rc = verify_one(trust, name, qhash, &e, it, why);
            if (rc != 0)
                errf(err, "%s: round %zu: node %s: %s: the bundle is altered or not genuine, "
                    "and no entry was checked against it", path, k + 1, name, why);
            else
                items->n++;
        }
    }
    buf_release(&q);
    buf_release(&e);
    json_decref(root);
    return rc;
}

/* "the answer to query QID at TIME" */
static void
describe(const struct item *it, char *out, size_t n)
{
    char t[PKI_TIME_LEN];
    pki_format_time(it->at_ms / 1000, t);
    snprintf(out, n, "the answer to query %s at %s", it->qid[0] ? it->qid : "(unreadable)", t);
}

static void
problem(FILE *f, struct witness_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
problem(FILE *f, struct witness_report *rep, const char *fmt, ...)
{
    if (rep->problems++ < WITNESS_MAX_PROBLEMS && f != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
    }
}

/* Compare one witnessed answer with the log. */
static int
check_item(struct sqlite3 *db, const struct item *it, FILE *f, struct witness_report *rep,
    char *err)
{
    char what[160];
    struct audit_record prev, own;
    static const uint8_t zero[32];
    describe(it, what, sizeof what);
    if (it->seq + 1 > rep->highest)
        rep->highest = it->seq + 1;
    if (it->seq + 1 > rep->log_end) {
        problem(f, rep, "the log ends at entry %lld, but bundle %s witnesses entry %lld (%s): "
            "entries were removed", (long long)rep->log_end, it->bundle,
            (long long)it->seq + 1, what);
        return 0;
    }
    int g = it->seq > 0 ? audit_entry_get(db, it->seq, &prev, err) : 0;
    if (g < 0)
        return -1;
    const uint8_t *have = it->seq > 0 ? prev.hash : zero;
    if (g == 1 || memcmp(have, it->head, 32) != 0)
        problem(f, rep, "entry %lld is not the entry bundle %s witnesses as the log's head "
            "before %s: the log was rewritten", (long long)it->seq, it->bundle, what);
    if ((g = audit_entry_get(db, it->seq + 1, &own, err)) < 0)
        return -1;
    if (g == 1 || !own.has_rhash || memcmp(own.response_hash, it->rhash, 32) != 0)
        problem(f, rep, "entry %lld does not record %s of bundle %s (it is: %s, query %s): "
            "the answer's entry was removed or rewritten", (long long)it->seq + 1, what,
            it->bundle, g == 1 ? "missing" : own.event, own.query_id[0] ? own.query_id : "-");
    return 0;
}

/*
 * Without the CA, an answer of this node counts only if the log vouches for
 * its certificate (a started entry records it); else it could be forged.
 */
static int
check_signers(const struct items *items, const struct ids *ids, char *err)
{
    for (size_t i = 0; i < items->n; i++) {
        const struct item *it = &items->v[i];
        if (id_has_name(ids, it->node) && !id_vouches(ids, it->node, it->fp))
            return errf(err, "%s: round %zu: the answer of node %s is signed with a "
                "certificate this log does not record (renewed since the node last "
                "started?): check the bundles against the federation CA with --ca-cert FILE",
                it->bundle, it->round, it->node);
    }
    return 0;
}

int
witness_check(struct sqlite3 *db, const struct pki_trust *trust, const char *node,
    char *const *paths, size_t n, FILE *problems, struct witness_report *rep, char *err)
{
    struct items items = {0};
    struct ids *ids = xcalloc(1, sizeof *ids);
    struct audit_head end;
    int rc = -1;
    memset(rep, 0, sizeof *rep);
    for (size_t i = 0; i < n; i++)
        if (read_bundle(paths[i], trust, &items, err) != 0)
            goto out;
    if (audit_head(db, &end, err) != 0 || audit_node_ids(db, id_add_logged, ids, err) != 0)
        goto out;
    rep->log_end = end.seq;
    if (node != NULL && !id_has_name(ids, node))
        id_add(ids, node, NULL);
    for (size_t i = 0; i < items.n; i++) {
        /* An answer the log holds vouches for its node and certificate (older logs name none). */
        struct audit_record own;
        const struct item *it = &items.v[i];
        int g = it->witnessed ? audit_entry_get(db, it->seq + 1, &own, err) : 1;
        if (g < 0)
            goto out;
        if (g == 0 && own.has_rhash && memcmp(own.response_hash, it->rhash, 32) == 0 &&
            (node == NULL || strcmp(node, it->node) == 0) &&
            (id_has_name(ids, it->node) || ids->n == 0))
            id_add(ids, it->node, it->fp);
    }
    if (node != NULL) {
        /* --node: only that node's identities count. */
        for (size_t i = 0; i < ids->n; i++)
            if (strcmp(ids->v[i].name, node) != 0)
                ids->v[i--] = ids->v[--ids->n];
    }
    if (ids->n == 0) {
        errf(err, "the log records no node name (it has no 'started' entry of this version) "
            "and holds none of the bundles' %zu answers: say whose log it is with --node NAME",
            items.n);
        goto out;
    }
    if (trust == NULL && check_signers(&items, ids, err) != 0)
        goto out;
    for (size_t i = 0; i < ids->n; i++)
        if (strstr(rep->node, ids->v[i].name) == NULL)
            snprintf(rep->node + strlen(rep->node), sizeof rep->node - strlen(rep->node),
                "%s%s", i ? "," : "", ids->v[i].name);
    for (size_t i = 0; i < items.n; i++) {
        const struct item *it = &items.v[i];
        if (!id_has_name(ids, it->node))
            rep->others++;
        else if (!it->witnessed)
            rep->unwitnessed++;
        else if (rep->checked++, check_item(db, it, problems, rep, err) != 0)
            goto out;
    }
    if (rep->checked == 0)
        problem(problems, rep, "no answer of node %s in the bundles witnesses the log (%zu "
            "answers of other nodes, %zu without a head)", rep->node, rep->others,
            rep->unwitnessed);
    if (rep->problems > WITNESS_MAX_PROBLEMS && problems != NULL)
        fprintf(problems, "... and %zu more problems\n", rep->problems - WITNESS_MAX_PROBLEMS);
    rc = rep->problems ? 1 : 0;
out:
    free(ids);
    free(items.v);
    return rc;
}
