/*
 * fit - the hub driving a pooled model fit; see fit.h.
 */
#include "hub/fit.h"

#include <stdlib.h>
#include <string.h>

#include "analysis/disclose.h"
#include "analysis/pool.h"
#include "hub/audit.h"
#include "hub/pool.h"
#include "lib/mask.h"
#include "proto/evidence.h"
#include "proto/modelsum.h"
#include "proto/poolmodel.h"

struct hubfit {
    Fedra__QueryBody *q;
    struct buf query;               /* the analyst's envelope, for every PoolRound */
    uint8_t qhash[WIRE_HASH_LEN];
    struct poolmodel L;
    size_t n;
    uint32_t round;                 /* being collected */
    struct buf *answer;             /* n: PoolAnswers of the current round */
    size_t have;
    mask_elem *sum;
    struct buf *resp;               /* n x WIRE_MAX_POOL_ROUNDS: signed responses, round-major */
    uint8_t (*commit)[WIRE_HASH_LEN];
    struct modelsum *sums;          /* per round done: the pooled sums */
    size_t nsums;
    struct pool_policy policy;
    struct modelpath path;
    struct pki_cert **cert;         /* n: each node's certificate as verified in this fit */
    struct buf *der;                /* n: its DER, to know it again */
    struct hubaudit *audit;         /* the pooled auditor, NULL: off (hubfit_audit) */
    int audit_passed;               /* round 1 passed it, not yet reported (hubfit_audit_passed) */
};

int
hubfit_is_model(const uint8_t *query, size_t len)
{
    Fedra__Envelope *e = wire_envelope_decode(query, len, WIRE_MAX_QUERY, NULL);
    Fedra__QueryBody *q = e ? wire_query_decode(e->body.data, e->body.len, NULL) : NULL;
    int model = q != NULL && q->spec != NULL && (q->spec->kind == FEDRA__KIND__KIND_COX ||
        q->spec->kind == FEDRA__KIND__KIND_GLM);
    wire_query_free(q);
    wire_envelope_free(e);
    return model;
}

int
hubfit_open(struct hubfit **out, const uint8_t *query, size_t len,
    const struct pki_cert *analyst, char *const *nodes, size_t n, char *err)
{
    char why[FEDRA_ERRLEN];
    *out = NULL;
    struct hubfit *f = xcalloc(1, sizeof *f);
    if (hubpool_read_query(query, len, analyst, nodes, n, &f->q, err) != 0)
        goto bad;
    const Fedra__QuerySpec *spec = f->q->spec;
    if (poolmodel_make(spec, &f->L, why) != 0) {
        errf(err, "pooled model: %s", why);
        goto bad;
    }
    if (spec->n_beta != 0 || spec->n_prev_answers != 0) {
        errf(err, "a pooled fit's query names no coefficients: the nodes compute them");
        goto bad;
    }
    if (spec->max_iter > MODELSUM_REPLAY_MAX_ITER) {
        errf(err, "a pooled fit of at most %u iterations (above %d)", spec->max_iter,
            MODELSUM_REPLAY_MAX_ITER);
        goto bad;
    }
    if (modelpath_init(&f->path, f->L.glm, f->L.p, (int)spec->max_iter) != 0) {
        errf(err, "cannot start the fit of %zu coefficients", f->L.p);
        goto bad;
    }
    buf_append(&f->query, query, len);
    wire_query_hash(query, len, f->qhash);
    f->n = n;
    f->round = 1;
    f->answer = xcalloc(n, sizeof *f->answer);
    f->sum = xcalloc(f->L.npos + 1, sizeof *f->sum);
    f->resp = xcalloc(n * WIRE_MAX_POOL_ROUNDS, sizeof *f->resp);
    f->commit = xcalloc(n * WIRE_MAX_POOL_ROUNDS, sizeof *f->commit);
    f->sums = xcalloc(WIRE_MAX_POOL_ROUNDS, sizeof *f->sums);
    f->cert = xcalloc(n, sizeof *f->cert);
    f->der = xcalloc(n, sizeof *f->der);
    *out = f;
    return 0;
bad:
    hubfit_free(f);
    return -1;
}

void
hubfit_free(struct hubfit *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; f->answer != NULL && i < f->n; i++) {
        buf_release(&f->answer[i]);
        pki_cert_free(f->cert[i]);
        buf_release(&f->der[i]);
    }
    free(f->cert);
    free(f->der);
    for (size_t i = 0; f->resp != NULL && i < f->n * WIRE_MAX_POOL_ROUNDS; i++)
        buf_release(&f->resp[i]);
    for (size_t r = 0; r < f->nsums; r++)
        modelsum_release(&f->sums[r]);
    if (f->L.p > 0)
        modelpath_release(&f->path);
    hubaudit_free(f->audit);
    wire_query_free(f->q);
    buf_release(&f->query);
    free(f->answer);
    free(f->sum);
    free(f->resp);
    free(f->commit);
    free(f->sums);
    free(f);
}

const uint8_t *
hubfit_query_hash(const struct hubfit *f)
{
    return f->qhash;
}

size_t
hubfit_nodes(const struct hubfit *f)
{
    return f->n;
}

const char *
hubfit_node(const struct hubfit *f, size_t i)
{
    return f->q->audience[i];
}

uint32_t
hubfit_round(const struct hubfit *f)
{
    return f->round;
}

int
hubfit_audit(struct hubfit *f, const uint8_t *hist, size_t len, char *err)
{
    return hubaudit_open(&f->audit, hist, len, f->q, err);
}

int
hubfit_audit_passed(struct hubfit *f)
{
    int p = f->audit_passed;
    f->audit_passed = 0;
    return p;
}

int
hubfit_audit_repeat(const struct hubfit *f, size_t nhistory)
{
    return f->audit != NULL && hubaudit_at(f->audit) < nhistory;
}

const uint8_t *
hubfit_query(const struct hubfit *f, size_t *len)
{
    *len = f->query.len;
    return f->query.p;
}

int
hubfit_complete(const struct hubfit *f)
{
    return f->have == f->n;
}

/*
 * A node's response signer, verified against the hub's trust (role node)
 * the first time in this fit; in later rounds the same certificate (byte for
 * byte) is taken as verified then: a fit lasts well under a second, and a
 * chain and CRL check per answer and round was most of the hub's time.
 */
struct signer_arg {
    const struct pki_trust *trust;
    const struct pki_cert *known;   /* the node's link's, verified at hello; or NULL */
    int64_t now_s;
    struct pki_cert **cert;         /* the fit's slot for this node */
    struct buf *der;
};

static int
hub_signer(void *arg, const Fedra__Envelope *env, const struct pki_cert **cert, char *err)
{
    struct signer_arg *s = arg;
    size_t kl = 0;
    const uint8_t *kd = s->known != NULL ? pki_cert_der(s->known, &kl) : NULL;
    if (kd != NULL && kl == env->signer_cert.len && memcmp(kd, env->signer_cert.data, kl) == 0) {
        *cert = s->known;
        return 0;
    }
    if (*s->cert != NULL && s->der->len == env->signer_cert.len &&
        memcmp(s->der->p, env->signer_cert.data, s->der->len) == 0) {
        *cert = *s->cert;
        return 0;
    }
    struct pki_cert *c = NULL;
    if (evidence_signer(env, &c, err) != 0 ||
        pki_verify(s->trust, c, PKI_ROLE_NODE, s->now_s, err) != PKI_OK) {
        pki_cert_free(c);
        return -1;
    }
    pki_cert_free(*s->cert);
    *s->cert = c;
    s->der->len = 0;
    buf_append(s->der, env->signer_cert.data, env->signer_cert.len);
    *cert = c;
    return 0;
}

int
hubfit_add(struct hubfit *f, const struct pki_trust *trust, const struct pki_cert *known,
    int64_t now_ms, size_t i, const uint8_t *answer, size_t len, char *err)
{
    if (i >= f->n || f->answer[i].len > 0)
        return errf(err, "a second answer for one node of a pooled fit's round");
    if (f->round > WIRE_MAX_POOL_ROUNDS)
        return errf(err, "the fit ran past %d rounds", WIRE_MAX_POOL_ROUNDS);
    struct signer_arg sa = {trust, known, now_ms / 1000, &f->cert[i], &f->der[i]};
    Fedra__PoolAnswer *a = NULL;
    Fedra__ResponseBody *rb = NULL;
    size_t at = (size_t)(f->round - 1) * f->n + i;
    int rc = poolmodel_check_answer(&f->L, answer, len, f->q->audience[i], f->qhash, f->round,
        hub_signer, &sa, f->sum, f->commit[at], &a, &rb, err);
    if (rc == 0 && f->round == 1 && f->audit != NULL &&
        (rb->pool->atoms != hubaudit_natoms(f->audit) || a->atoms.len == 0))
        rc = errf(err, "node '%s', round 1: its share has %llu atoms of the pooled audit, not "
            "%zu (another history?)", f->q->audience[i], (unsigned long long)rb->pool->atoms,
            hubaudit_natoms(f->audit));
    if (rc == 0) {
        if (f->round == 1) {
            const Fedra__PoolShare *sh = rb->pool;
            struct pool_policy np = {sh->min_cell, sh->min_sites, sh->grid_days,
                sh->min_events_per_param};
            pool_policy_merge(&f->policy, &np);
            if (f->audit != NULL)
                hubaudit_add(f->audit, a->atoms.data);
        }
        /* Passed on to every node next round without the atoms: only the hub
           learns pooled atom sizes (PoolShare.atoms_hash). */
        a->atoms.len = 0;
        wire_pack(&a->base, &f->answer[i]);
        buf_append(&f->resp[at], a->response.data, a->response.len);
        f->have++;
    }
    wire_poolanswer_free(a);
    wire_response_free(rb);
    return rc;
}

/*
 * The pooled rules on round 1's sums (the strictest policy): enough patients
 * and no small level (rules); enough events (glm: and non-events) for p
 * coefficients (rules_events).  The events rule runs after the auditor and
 * the levels check: a fit that named catalogue levels without patients has
 * more coefficients than its refit will, and must be refused for its levels
 * (which the client repairs), not for too few events per coefficient.
 */
static struct disclose_policy
fit_policy(const struct hubfit *f)
{
    return (struct disclose_policy){f->policy.min_cell ? f->policy.min_cell : 1, 0,
        f->policy.min_events_per_param ? f->policy.min_events_per_param : 1};
}

static int
rules(const struct hubfit *f, const struct modelsum *s, const uint64_t *lev, char *err)
{
    struct disclose_policy dp = fit_policy(f);
    if (disclose_suppress(&dp, s->n))
        return errf(err, "fewer than %u patients in the pool (the strictest node's min_cell); "
            "the model is not fitted", dp.min_cell);
    for (size_t k = 0; k < f->L.nlev; k++)
        if (disclose_suppress(&dp, lev[k])) {
            char name[96];
            poolmodel_level_name(&f->L, k, name, sizeof name);
            return errf(err, "%s has fewer than %u patients in the pool; the model is not "
                "fitted (leave the level out with --where, or merge it)", name, dp.min_cell);
        }
    return 0;
}

static int
rules_events(const struct hubfit *f, const struct modelsum *s, char *err)
{
    struct disclose_policy dp = fit_policy(f);
    size_t p = f->L.p;
    const char *what[2] = {f->L.glm ? "outcome events" : "events", "outcome non-events"};
    uint64_t count[2] = {s->events, s->n - s->events};
    for (int w = 0; w < (f->L.glm ? 2 : 1); w++) {
        uint64_t need = disclose_model_events_short(&dp, count[w], p);
        if (need > 0)
            return errf(err, "too few %s in the pool for %zu coefficients: the strictest "
                "policy needs none or at least %llu (min_events_per_parameter %u)", what[w], p,
                (unsigned long long)need, dp.min_events_per_param);
    }
    return 0;
}

/*
 * The pooled auditor on round 1: every count the fit releases (its cells'
 * unions, proto/poolmodel.h) must be kept, or the fit is refused whole.
 */
static int
audit(struct hubfit *f, char *err)
{
    struct paudit_set *sets;
    unsigned char *in;
    size_t n;
    char why[FEDRA_ERRLEN];
    if (hubaudit_fit_sets(f->q->spec, (uint32_t)hubaudit_at(f->audit), &sets, &n, &in, why) != 0)
        return errf(err, "this fit cannot be audited: %s; it is refused (fail closed)", why);
    unsigned char *kept = xcalloc(n + 1, 1);
    int rc = hubaudit_decide(f->audit, sets, n, f->policy.min_cell, f->qhash, kept, err);
    size_t held = 0;
    for (size_t j = 0; rc == 0 && j < n; j++)
        held += !kept[j];
    if (rc == 0 && held > 0)
        rc = errf(err, "differencing: the counts this fit gives (its patients, events and "
            "levels), with the pooled results released before, would let 1 to %u patients be "
            "counted; the model is not fitted", f->policy.min_cell > 1 ? f->policy.min_cell - 1
            : 1);
    if (rc == 0)
        f->audit_passed = 1;
    free(kept);
    free(sets);
    free(in);
    return rc;
}

int
hubfit_next(struct hubfit *f, struct buf *msg, char *err)
{
    char why[FEDRA_ERRLEN];
    if (!hubfit_complete(f))
        return errf(err, "%zu of %zu nodes have answered round %u", f->have, f->n, f->round);
    struct modelsum *s = &f->sums[f->nsums];
    modelsum_init(s, f->L.p);
    f->nsums++;
    uint64_t *lev = xcalloc(f->L.nlev + 1, sizeof *lev);
    int rc = poolmodel_decode(&f->L, f->sum, s, f->round == 1 ? lev : NULL, why);
    if (rc != 0)
        errf(err, "round %u: %s", f->round, why);
    else if (f->round == 1)
        rc = rules(f, s, lev, err);
    if (rc == 0 && f->round == 1 && f->audit != NULL)
        rc = audit(f, err);
    /* After the auditor: the level counts it admitted are what the check reads,
       and the fit joins the history even when refused here (relay.c). */
    if (rc == 0 && f->round == 1)
        rc = poolmodel_levels_check(&f->L, f->q->spec, lev, err);
    if (rc == 0 && f->round == 1)
        rc = rules_events(f, s, err);
    free(lev);
    if (rc == 0 && modelpath_feed(&f->path, s, why) != 0)
        rc = errf(err, "the fit cannot go on after round %u: %s", f->round, why);
    if (rc != 0)
        return -1;
    if (modelpath_done(&f->path))
        return 0;
    if (f->round >= WIRE_MAX_POOL_ROUNDS)
        return errf(err, "the fit did not end within %d rounds", WIRE_MAX_POOL_ROUNDS);
    Fedra__PoolRound pr = FEDRA__POOL_ROUND__INIT;
    pr.query.data = f->query.p;
    pr.query.len = f->query.len;
    pr.round = f->round + 1;
    ProtobufCBinaryData *ans = xcalloc(f->n, sizeof *ans);
    for (size_t i = 0; i < f->n; i++)
        ans[i] = (ProtobufCBinaryData){f->answer[i].len, f->answer[i].p};
    pr.answers = ans;
    pr.n_answers = f->n;
    wire_pack(&pr.base, msg);
    free(ans);
    for (size_t i = 0; i < f->n; i++)
        f->answer[i].len = 0;
    memset(f->sum, 0, f->L.npos * sizeof *f->sum);
    f->have = 0;
    f->round++;
    return 1;
}

int
hubfit_release_body(struct hubfit *f, const char *hub_name, int64_t released_at_ms,
    struct buf *body, char *err)
{
    size_t nr = f->nsums, total = f->n * nr;
    if (nr == 0 || !modelpath_done(&f->path))
        return errf(err, "the fit is not done");
    Fedra__PoolRelease rel = FEDRA__POOL_RELEASE__INIT;
    rel.context = (char *)WIRE_POOL_RELEASE_CONTEXT;
    rel.query_hash.data = f->qhash;
    rel.query_hash.len = WIRE_HASH_LEN;
    rel.hub = (char *)hub_name;
    rel.released_at_ms = released_at_ms;
    rel.nodes = f->q->audience;
    rel.n_nodes = f->n;
    ProtobufCBinaryData *c = xcalloc(total, sizeof *c);
    for (size_t k = 0; k < total; k++)
        c[k] = (ProtobufCBinaryData){WIRE_HASH_LEN, f->commit[k]};
    rel.commitments = c;
    rel.n_commitments = total;
    rel.min_cell = f->policy.min_cell;
    rel.min_sites = f->policy.min_sites;
    rel.grid_days = f->policy.grid_days;
    rel.min_events_per_param = f->policy.min_events_per_param;
    Fedra__ModelResult *m = xcalloc(nr, sizeof *m), **mp = xcalloc(nr, sizeof *mp);
    for (size_t r = 0; r < nr; r++) {
        poolmodel_result(&f->sums[r], &m[r]);
        mp[r] = &m[r];
    }
    rel.rounds = mp;
    rel.n_rounds = nr;
    wire_pack(&rel.base, body);
    free(c);
    free(m);
    free(mp);
    return 0;
}

int
hubfit_finish(struct hubfit *f, const struct pki_cert *hub_cert,
    const struct pki_key *hub_key, int64_t now_ms, struct buf *reply, char *err)
{
    struct buf body = {0}, env = {0};
    int rc = hubfit_release_body(f, pki_cert_name(hub_cert), now_ms, &body, err);
    if (rc == 0 && (rc = evidence_sign(hub_cert, hub_key, body.p, body.len, &env)) != 0)
        errf(err, "cannot sign the release");
    if (rc == 0) {
        size_t total = f->n * f->nsums;
        ProtobufCBinaryData *resp = xcalloc(total, sizeof *resp);
        for (size_t k = 0; k < total; k++)
            resp[k] = (ProtobufCBinaryData){f->resp[k].len, f->resp[k].p};
        Fedra__PoolReply pr = FEDRA__POOL_REPLY__INIT;
        pr.release.data = env.p;
        pr.release.len = env.len;
        pr.responses = resp;
        pr.n_responses = total;
        wire_pack(&pr.base, reply);
        free(resp);
    }
    buf_release(&body);
    buf_release(&env);
    return rc;
}

int
hubfit_recompute(const struct hubpool_kept *k, const struct pki_trust *trust,
    const struct pki_cert *analyst, const Fedra__QueryBody *q, FILE *out, char *err)
{
    char why[FEDRA_ERRLEN];
    struct hubfit *f = NULL;
    Fedra__PoolReply *reply = NULL;
    Fedra__Envelope *re = NULL;
    Fedra__PoolRelease *logged = NULL;
    struct buf body = {0};
    int rc = -1, done = 0;
    if (hubfit_open(&f, k->query.p, k->query.len, analyst, q->audience, q->n_audience, err) != 0)
        return -1;
    /* Audited when it ran: against the history kept with the route. */
    if (k->history.len > 0 && hubfit_audit(f, k->history.p, k->history.len, err) != 0)
        goto out;
    for (size_t i = 0; i < k->n && !done; i++) {
        size_t at = f->n;
        for (size_t j = 0; j < f->n; j++)
            if (strcmp(f->q->audience[j], k->node[i]) == 0)
                at = j;
        if (at == f->n) {
            errf(err, "a kept share is from '%s', who is not a participant", k->node[i]);
            goto out;
        }
        if (hubfit_add(f, trust, NULL, k->ts[i], at, k->share[i].p, k->share[i].len, err) != 0)
            goto out;
        if (hubfit_complete(f)) {
            struct buf msg = {0};
            int nx = hubfit_next(f, &msg, err);
            buf_release(&msg);
            if (nx < 0)
                goto out;
            done = nx == 0;
        }
    }
    if (!done) {
        errf(err, "the kept shares end before the fit does (round %u)", f->round);
        goto out;
    }
    reply = wire_poolreply_decode(k->release.p, k->release.len, why);
    re = reply ? wire_envelope_decode(reply->release.data, reply->release.len,
        WIRE_MAX_RESPONSE, why) : NULL;
    logged = re ? wire_poolrelease_decode(re->body.data, re->body.len, why) : NULL;
    if (logged == NULL) {
        errf(err, "the kept release: %s", why);
        goto out;
    }
    if (hubfit_release_body(f, logged->hub, logged->released_at_ms, &body, err) != 0)
        goto out;
    if (body.len != re->body.len || memcmp(body.p, re->body.data, body.len) != 0) {
        errf(err, "the release the hub signed is NOT the one its kept shares give");
        goto out;
    }
    fprintf(out, "the fit's release recomputes from the %zu kept shares: %zu rounds of %zu "
        "nodes\n", k->n, f->nsums, f->n);
    rc = 0;
out:
    buf_release(&body);
    wire_poolrelease_free(logged);
    wire_envelope_free(re);
    wire_poolreply_free(reply);
    hubfit_free(f);
    return rc;
}
