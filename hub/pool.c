/*
 * pool - the hub's release of one pooled result; see pool.h.
 */
#include "hub/pool.h"

#include <stdlib.h>
#include <string.h>

#include "analysis/paudit.h"
#include "hub/audit.h"
#include "hub/fit.h"
#include "analysis/pool.h"
#include "hub/phist.h"
#include "hub/relaylog.h"
#include "lib/mask.h"
#include "proto/atoms.h"
#include "proto/evidence.h"
#include "proto/layout.h"
#include "proto/release.h"

struct hubpool {
    Fedra__QueryBody *q;            /* the analyst's query, decoded */
    uint8_t qhash[WIRE_HASH_LEN];
    struct layout L;
    size_t n;                       /* nodes of the roster */
    uint64_t *sum;                  /* layout_elems(&L): the sum of the shares (Z_2^64) */
    struct buf *answer;             /* per node: its PoolAnswer as received */
    struct buf *response;           /* per node: its signed response (the PoolReply's) */
    uint8_t (*commit)[WIRE_HASH_LEN];   /* per node: SHA-256 of its response envelope */
    struct pool_policy policy;      /* the strictest of the nodes' */
    size_t have;                    /* nodes whose share is in */
    struct hubaudit *audit;         /* the pooled auditor, NULL: off (hubpool_audit) */
    uint32_t *released;             /* audited: this query's cells released with a count */
    size_t nreleased;
    struct buf query;               /* the pooled query Envelope as the analyst signed it */
};

int
hubpool_read_query(const uint8_t *query, size_t len, const struct pki_cert *analyst,
    char *const *nodes, size_t n, Fedra__QueryBody **out, char *err)
{
    char why[FEDRA_ERRLEN];
    *out = NULL;
    Fedra__Envelope *e = wire_envelope_decode(query, len, WIRE_MAX_QUERY, why);
    if (e == NULL)
        return errf(err, "pooled query: %s", why);
    Fedra__QueryBody *q = NULL;
    size_t dlen;
    const uint8_t *der = pki_cert_der(analyst, &dlen);
    if (e->signer_cert.len != dlen || memcmp(e->signer_cert.data, der, dlen) != 0) {
        errf(err, "the pooled query is not signed by the route's analyst");
        goto bad;
    }
    if (pki_check_sig(analyst, e->body.data, e->body.len, e->signature.data,
            e->signature.len) != 0) {
        errf(err, "the pooled query's signature is invalid");
        goto bad;
    }
    if ((q = wire_query_decode(e->body.data, e->body.len, why)) == NULL) {
        errf(err, "pooled query: %s", why);
        goto bad;
    }
    const Fedra__QuerySpec *spec = q->spec;
    if (spec == NULL || !spec->pooled) {
        errf(err, "the route's query for the hub is not a pooled query");
        goto bad;
    }
    if (q->n_audience != n) {
        errf(err, "the pooled query names %zu participants, the route %zu nodes",
            q->n_audience, n);
        goto bad;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(q->audience[i], nodes[i]) != 0) {
            errf(err, "participant %zu of the pooled query is '%s', the route's node is "
                "'%s'", i + 1, q->audience[i], nodes[i]);
            goto bad;
        }
    if (n < 2) {
        errf(err, "a pooled result needs at least 2 participants");
        goto bad;
    }
    wire_envelope_free(e);
    *out = q;
    return 0;
bad:
    wire_envelope_free(e);
    wire_query_free(q);
    return -1;
}

int
hubpool_open(struct hubpool **out, const uint8_t *query, size_t len,
    const struct pki_cert *analyst, char *const *nodes, size_t n, char *err)
{
    char why[FEDRA_ERRLEN];
    *out = NULL;
    struct hubpool *p = xcalloc(1, sizeof *p);
    if (hubpool_read_query(query, len, analyst, nodes, n, &p->q, err) != 0)
        goto bad;
    const Fedra__QuerySpec *spec = p->q->spec;
    if (layout_make(spec, spec->grid_days, &p->L, why) != 0) {
        errf(err, "pooled query: %s", why);
        goto bad;
    }
    wire_query_hash(query, len, p->qhash);
    buf_append(&p->query, query, len);
    p->n = n;
    p->sum = xcalloc(layout_elems(&p->L), sizeof *p->sum);
    p->answer = xcalloc(n, sizeof *p->answer);
    p->response = xcalloc(n, sizeof *p->response);
    p->commit = xcalloc(n, sizeof *p->commit);
    *out = p;
    return 0;
bad:
    hubpool_free(p);
    return -1;
}

void
hubpool_free(struct hubpool *p)
{
    if (p == NULL)
        return;
    wire_query_free(p->q);
    for (size_t i = 0; p->answer != NULL && i < p->n; i++) {
        buf_release(&p->answer[i]);
        buf_release(&p->response[i]);
    }
    free(p->answer);
    free(p->response);
    free(p->commit);
    free(p->sum);
    if (p->audit != NULL) {
        hubaudit_free(p->audit);
        free(p->released);
    }
    buf_release(&p->query);
    free(p);
}

const uint8_t *
hubpool_query_hash(const struct hubpool *p)
{
    return p->qhash;
}

int
hubpool_complete(const struct hubpool *p)
{
    return p->have == p->n;
}

const uint8_t *
hubpool_answer(const struct hubpool *p, size_t i, size_t *len)
{
    *len = i < p->n ? p->answer[i].len : 0;
    return *len > 0 ? p->answer[i].p : NULL;
}

/* ---- the pooled auditor (docs/disclosure.md §8.7) ---- */

int
hubpool_audit(struct hubpool *p, const uint8_t *hist, size_t len, char *err)
{
    if (hubaudit_open(&p->audit, hist, len, p->q, err) != 0)
        return -1;
    p->released = xcalloc(p->L.ncells + 1, sizeof *p->released);
    return 0;
}

/* The share's atom count: the layout's when auditing, and bounded in any case. */
static int
audit_atoms_problem(const struct hubpool *p, const Fedra__PoolShare *share, char *err)
{
    if (p->audit != NULL && share->atoms != hubaudit_natoms(p->audit))
        return errf(err, "its share has %llu atoms of the pooled audit, not %zu (another "
            "history?)", (unsigned long long)share->atoms, hubaudit_natoms(p->audit));
    if (share->atoms > PAUDIT_MAX_ATOMS)
        return errf(err, "its share has %llu atoms (at most %u)",
            (unsigned long long)share->atoms, PAUDIT_MAX_ATOMS);
    return 0;
}

/* The position of cell c's pooled size: a count cell, or a stratum's n. */
static size_t
audit_pos(const struct layout *L, size_t c)
{
    return L->kind == LAYOUT_COUNT ? c : layout_surv_n(L, c);
}

/*
 * Run the auditor on the pooled atom sizes: the cells the rules would release
 * are candidates; those it withholds are marked withheld in sums (as a
 * node's auditor would: the release then says `withheld`, whichever rule).
 * The kept cells are the released sets, for the history.
 */
static int
audit_apply(struct hubpool *p, uint64_t *sums, char *err)
{
    const struct layout *L = &p->L;
    struct paudit_set *cs = xcalloc(L->ncells + 1, sizeof *cs);
    unsigned char *kept = xcalloc(L->ncells + 1, 1);
    size_t nc = 0;
    for (size_t c = 0; c < L->ncells; c++) {
        struct pool_position x = {sums[audit_pos(L, c)],
            (uint32_t)sums[layout_vector_off(L, LAYOUT_CONTRIB) + audit_pos(L, c)],
            (uint32_t)sums[layout_vector_off(L, LAYOUT_SMALL) + audit_pos(L, c)],
            (uint32_t)sums[layout_vector_off(L, LAYOUT_WITHHELD) + audit_pos(L, c)]};
        if (x.value > 0 && pool_decide(&p->policy, &x) == POOL_RELEASED)
            cs[nc++] = (struct paudit_set){(uint32_t)hubaudit_at(p->audit), (uint32_t)c, NULL};
    }
    int rc = hubaudit_decide(p->audit, cs, nc, p->policy.min_cell, p->qhash, kept, err);
    p->nreleased = 0;
    for (size_t i = 0; rc == 0 && i < nc; i++) {
        if (kept[i])
            p->released[p->nreleased++] = cs[i].cell;
        else
            sums[layout_vector_off(L, LAYOUT_WITHHELD) + audit_pos(L, cs[i].cell)] += 1;
    }
    free(cs);
    free(kept);
    return rc;
}

const uint32_t *
hubpool_released(const struct hubpool *p, size_t *n, size_t *entry)
{
    *n = p->audit != NULL ? p->nreleased : 0;
    *entry = p->audit != NULL ? hubaudit_at(p->audit) : 0;
    return p->audit != NULL ? p->released : NULL;
}

const uint8_t *
hubpool_query(const struct hubpool *p, size_t *len)
{
    *len = p->query.len;
    return p->query.p;
}

/*
 * Node i's signed response: signer (role node, its name), binding, status,
 * share.  A signer certificate that is known (DER), the one the node's link
 * was verified with, is not verified again.
 */
static int
check_response(const struct hubpool *p, const struct pki_trust *trust,
    const struct pki_cert *known, int64_t now, size_t i, const Fedra__PoolAnswer *a,
    const Fedra__PoolShare **share, Fedra__ResponseBody **body, char *err)
{
    const char *name = p->q->audience[i];
    char why[FEDRA_ERRLEN];
    struct pki_cert *signer = NULL;
    Fedra__Envelope *e = wire_envelope_decode(a->response.data, a->response.len,
        WIRE_MAX_RESPONSE, why);
    int rc = -1;
    *body = NULL;
    size_t kl = 0;
    const uint8_t *kd = known != NULL ? pki_cert_der(known, &kl) : NULL;
    const struct pki_cert *who = known;
    if (e != NULL && (kd == NULL || kl != e->signer_cert.len ||
                         memcmp(kd, e->signer_cert.data, kl) != 0)) {
        if (evidence_signer(e, &signer, why) != 0 ||
            pki_verify(trust, signer, PKI_ROLE_NODE, now / 1000, why) != PKI_OK) {
            errf(err, "node '%s': %s", name, why);
            goto done;
        }
        who = signer;
    } else if (e == NULL) {
        errf(err, "node '%s': %s", name, why);
        goto done;
    }
    if (strcmp(pki_cert_name(who), name) != 0) {
        errf(err, "node '%s' answered with the certificate of '%s'", name, pki_cert_name(who));
        goto done;
    }
    if (evidence_response(e, who, name, p->qhash, body, why) != 0) {
        errf(err, "node '%s': %s", name, why);
        goto done;
    }
    if ((*body)->status != FEDRA__STATUS__STATUS_OK) {
        errf(err, "node '%s' refused: %s", name, (*body)->reason);
        goto done;
    }
    *share = (*body)->pool;
    if (*share == NULL || (*share)->masked_hash.len != WIRE_HASH_LEN ||
        (*share)->positions != p->L.npos) {
        errf(err, "node '%s' sent no share for this query's %zu positions", name, p->L.npos);
        goto done;
    }
    if (audit_atoms_problem(p, *share, err) != 0) {
        char why2[FEDRA_ERRLEN];
        snprintf(why2, sizeof why2, "%s", err);
        errf(err, "node '%s': %s", name, why2);
        goto done;
    }
    uint8_t h[WIRE_HASH_LEN];
    pki_sha256(a->masked.data, a->masked.len, h);
    if (a->masked.len != (layout_elems(&p->L) + (*share)->atoms) * MASK_COUNT_LEN ||
        memcmp(h, (*share)->masked_hash.data, WIRE_HASH_LEN) != 0) {
        errf(err, "node '%s' sent a share that is not the one it signed", name);
        goto done;
    }
    pki_sha256(a->response.data, a->response.len, (uint8_t *)p->commit[i]);
    rc = 0;
done:
    if (rc != 0) {
        wire_response_free(*body);
        *body = NULL;
    }
    pki_cert_free(signer);
    wire_envelope_free(e);
    return rc;
}

int
hubpool_add(struct hubpool *p, const struct pki_trust *trust, const struct pki_cert *known,
    int64_t now, size_t i, const uint8_t *answer, size_t len, char *err)
{
    char why[FEDRA_ERRLEN];
    if (i >= p->n || p->answer[i].len > 0)
        return errf(err, "a second answer for one node of a pooled route");
    Fedra__PoolAnswer *a = wire_poolanswer_decode(answer, len, why);
    if (a == NULL)
        return errf(err, "node '%s': malformed pooled answer: %s", p->q->audience[i], why);
    const Fedra__PoolShare *share = NULL;
    Fedra__ResponseBody *body = NULL;
    if (check_response(p, trust, known, now, i, a, &share, &body, err) != 0) {
        wire_poolanswer_free(a);
        return -1;
    }
    struct pool_policy np = {share->min_cell, share->min_sites, share->grid_days,
        share->min_events_per_param};
    pool_policy_merge(&p->policy, &np);
    size_t n = layout_elems(&p->L);
    mask_add_packed_counts(p->sum, a->masked.data, n);
    if (p->audit != NULL)           /* the atom counts after the values and flags */
        hubaudit_add(p->audit, a->masked.data + n * MASK_COUNT_LEN);
    buf_append(&p->answer[i], answer, len);
    buf_append(&p->response[i], a->response.data, a->response.len);
    p->have++;
    wire_response_free(body);
    wire_poolanswer_free(a);
    return 0;
}

int
hubpool_release_body(struct hubpool *p, const char *hub, int64_t released_at_ms,
    struct buf *body, size_t *shown, size_t *hidden, char *err)
{
    if (!hubpool_complete(p))
        return errf(err, "%zu of %zu nodes have answered", p->have, p->n);
    struct release *r = NULL;
    uint64_t *sums = p->sum, *audited = NULL;
    if (p->audit != NULL) {
        size_t n = layout_elems(&p->L);
        audited = xcalloc(n, sizeof *audited);
        memcpy(audited, p->sum, n * sizeof *audited);
        if (audit_apply(p, audited, err) != 0) {
            free(audited);
            return -1;
        }
        sums = audited;
    }
    int built = release_build(&p->L, sums, (uint32_t)p->n, &p->policy, &r, err);
    free(audited);
    if (built != 0)
        return -1;
    *shown = release_shown(r);
    *hidden = release_hidden(r);
    Fedra__PoolRelease rel = FEDRA__POOL_RELEASE__INIT;
    rel.context = (char *)WIRE_POOL_RELEASE_CONTEXT;
    rel.query_hash.data = p->qhash;
    rel.query_hash.len = WIRE_HASH_LEN;
    rel.hub = (char *)hub;
    rel.released_at_ms = released_at_ms;
    rel.nodes = p->q->audience;
    rel.n_nodes = p->n;
    ProtobufCBinaryData *c = xcalloc(p->n, sizeof *c);
    for (size_t i = 0; i < p->n; i++)
        c[i] = (ProtobufCBinaryData){WIRE_HASH_LEN, p->commit[i]};
    rel.commitments = c;
    rel.n_commitments = p->n;
    rel.min_cell = p->policy.min_cell;
    rel.min_sites = p->policy.min_sites;
    rel.grid_days = p->policy.grid_days;
    release_attach(r, &rel);
    wire_pack(&rel.base, body);
    free(c);
    release_free(r);
    return 0;
}

int
hubpool_finish(struct hubpool *p, const struct pki_cert *hub_cert,
    const struct pki_key *hub_key, int64_t now_ms, struct buf *reply, size_t *shown,
    size_t *hidden, char *err)
{
    struct buf body = {0}, env = {0};
    int rc = hubpool_release_body(p, pki_cert_name(hub_cert), now_ms, &body, shown, hidden,
        err);
    if (rc == 0 && (rc = evidence_sign(hub_cert, hub_key, body.p, body.len, &env)) != 0)
        errf(err, "cannot sign the release");
    if (rc == 0) {
        /* The reply: the release and each node's signed response (from its PoolAnswer). */
        Fedra__PoolReply pr = FEDRA__POOL_REPLY__INIT;
        pr.release.data = env.p;
        pr.release.len = env.len;
        ProtobufCBinaryData *resp = xcalloc(p->n, sizeof *resp);
        for (size_t i = 0; i < p->n; i++)
            resp[i] = (ProtobufCBinaryData){p->response[i].len, p->response[i].p};
        pr.responses = resp;
        pr.n_responses = p->n;
        wire_pack(&pr.base, reply);
        free(resp);
    }
    buf_release(&body);
    buf_release(&env);
    return rc;
}

/* ---- recompute from the relay log ---- */

static void
kept_add(const char *kind, const char *node, int64_t ts_ms, const uint8_t *data, size_t len,
    void *arg)
{
    struct hubpool_kept *k = arg;
    if (strcmp(kind, "pooled-query") == 0) {
        k->query.len = 0;
        buf_append(&k->query, data, len);
    } else if (strcmp(kind, "pool-history") == 0) {
        k->history.len = 0;
        buf_append(&k->history, data, len);
    } else if (strcmp(kind, "release") == 0) {
        k->release.len = 0;
        buf_append(&k->release, data, len);
    } else if (strcmp(kind, "share") == 0 && k->n < WIRE_MAX_AUDIENCE) {
        if (k->n == k->cap) {
            k->cap = k->cap ? 2 * k->cap : 8;
            k->node = xreallocarray(k->node, k->cap, sizeof *k->node);
            k->share = xreallocarray(k->share, k->cap, sizeof *k->share);
            k->ts = xreallocarray(k->ts, k->cap, sizeof *k->ts);
        }
        snprintf(k->node[k->n], sizeof k->node[0], "%s", node);
        memset(&k->share[k->n], 0, sizeof k->share[0]);
        buf_append(&k->share[k->n], data, len);
        k->ts[k->n++] = ts_ms;
    }
}

int
hubpool_recompute(struct relaylog *l, const struct pki_trust *trust,
    const uint8_t route_id[WIRE_QUERY_ID_LEN], FILE *out, char *err)
{
    struct hubpool_kept k;
    memset(&k, 0, sizeof k);
    char why[FEDRA_ERRLEN];
    struct hubpool *p = NULL;
    struct pki_cert *analyst = NULL;
    Fedra__Envelope *qe = NULL, *re = NULL;
    Fedra__PoolReply *reply = NULL;
    struct buf body = {0};
    size_t shown = 0, hidden = 0;
    int rc = -1;
    if (relaylog_pooled(l, route_id, kept_add, &k, err) != 0)
        goto done;
    if (k.query.len == 0 || k.release.len == 0) {
        errf(err, "the relay log keeps no pooled query and release for this route (not a "
            "pooled route, or it was refused)");
        goto done;
    }
    qe = wire_envelope_decode(k.query.p, k.query.len, WIRE_MAX_QUERY, why);
    if (qe == NULL || evidence_signer(qe, &analyst, why) != 0) {
        errf(err, "the kept query: %s", why);
        goto done;
    }
    Fedra__QueryBody *qb = wire_query_decode(qe->body.data, qe->body.len, why);
    if (qb == NULL) {
        errf(err, "the kept query: %s", why);
        goto done;
    }
    if (atoms_is_model(qb->spec)) {                 /* a fit: its rounds */
        rc = hubfit_recompute(&k, trust, analyst, qb, out, err);
        wire_query_free(qb);
        goto done;
    }
    int opened = hubpool_open(&p, k.query.p, k.query.len, analyst, qb->audience, qb->n_audience,
        err);
    wire_query_free(qb);
    if (opened != 0)
        goto done;
    /* Audited when released: against the history kept with the route. */
    if (k.history.len > 0 && hubpool_audit(p, k.history.p, k.history.len, err) != 0)
        goto done;
    for (size_t i = 0; i < k.n; i++) {
        size_t at = p->n;
        for (size_t j = 0; j < p->n; j++)
            if (strcmp(p->q->audience[j], k.node[i]) == 0)
                at = j;
        if (at == p->n || hubpool_add(p, trust, NULL, k.ts[i], at, k.share[i].p,
                k.share[i].len, err) != 0) {
            if (at == p->n)
                errf(err, "a kept share is from '%s', who is not a participant", k.node[i]);
            goto done;
        }
    }
    reply = wire_poolreply_decode(k.release.p, k.release.len, why);
    re = reply ? wire_envelope_decode(reply->release.data, reply->release.len,
        WIRE_MAX_RESPONSE, why) : NULL;
    Fedra__PoolRelease *logged = re ? wire_poolrelease_decode(re->body.data, re->body.len, why)
        : NULL;
    if (logged == NULL) {
        errf(err, "the kept release: %s", why);
        goto done;
    }
    int built = hubpool_release_body(p, logged->hub, logged->released_at_ms, &body, &shown,
        &hidden, err);
    wire_poolrelease_free(logged);
    if (built != 0)
        goto done;
    if (body.len != re->body.len || memcmp(body.p, re->body.data, body.len) != 0) {
        errf(err, "the release the hub signed is NOT the one its kept shares give");
        goto done;
    }
    fprintf(out, "the release recomputes from the %zu kept shares: %zu positions released, "
        "%zu held back\n", p->n, shown, hidden);
    rc = 0;
done:
    for (size_t i = 0; i < k.n; i++)
        buf_release(&k.share[i]);
    free(k.share);
    free(k.node);
    free(k.ts);
    buf_release(&k.query);
    buf_release(&k.release);
    buf_release(&k.history);
    buf_release(&body);
    hubpool_free(p);
    pki_cert_free(analyst);
    wire_envelope_free(qe);
    wire_envelope_free(re);
    wire_poolreply_free(reply);
    return rc;
}
