/*
 * pooled - fedra's side of pooled release; see pooled.h.
 */
#include "coord/pooled.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "coord/bundle.h"
#include "proto/evidence.h"

/* The hub's signature over the release: its pinned certificate, or one of role hub and its name. */
static int
hub_signer_ok(const struct federation *f, const struct pki_cert *signer, char *err)
{
    size_t a = 0, b;
    const uint8_t *pinned = f->hub->cert ? pki_cert_der(f->hub->cert, &a) : NULL;
    const uint8_t *got = pki_cert_der(signer, &b);
    if (pinned != NULL && a == b && memcmp(pinned, got, a) == 0)
        return 0;
    char why[FEDRA_ERRLEN];
    if (f->trust == NULL)
        return errf(err, "the release is signed by a certificate other than that of hub '%s'",
            f->hub->name);
    if (pki_verify(f->trust, signer, PKI_ROLE_HUB, f->verify_at, why) != PKI_OK)
        return errf(err, "the release's signer is refused: %s", why);
    if (strcmp(pki_cert_name(signer), f->hub->name) != 0)
        return errf(err, "the release is signed by hub '%s', not by '%s'",
            pki_cert_name(signer), f->hub->name);
    return 0;
}

int
pooled_verify(const struct federation *f, struct client_session *s,
    const uint8_t qhash[WIRE_HASH_LEN], const uint8_t *reply, size_t len,
    struct pooled_result *out, char *err)
{
    char why[FEDRA_ERRLEN];
    struct pki_cert *signer = NULL;
    Fedra__Envelope *e = NULL;
    Fedra__PoolReply *pr = wire_poolreply_decode(reply, len, why);
    int rc = -1;
    if (pr == NULL)
        return errf(err, "hub '%s' sent an unreadable pooled reply: %s", f->hub->name, why);
    e = wire_envelope_decode(pr->release.data, pr->release.len, WIRE_MAX_RESPONSE, why);
    size_t pl = 0;
    const uint8_t *pinned = f->hub->cert ? pki_cert_der(f->hub->cert, &pl) : NULL;
    const struct pki_cert *who = f->hub->cert;  /* the pinned certificate: nothing to parse */
    if (e != NULL && (pinned == NULL || e->signer_cert.len != pl ||
                         memcmp(e->signer_cert.data, pinned, pl) != 0)) {
        if (evidence_signer(e, &signer, why) != 0) {
            errf(err, "the release is not a signed envelope: %s", why);
            goto done;
        }
        if (hub_signer_ok(f, signer, err) != 0)
            goto done;
        who = signer;
    } else if (e == NULL) {
        errf(err, "the release is not a signed envelope: %s", why);
        goto done;
    }
    if (pki_check_sig(who, e->body.data, e->body.len, e->signature.data,
            e->signature.len) != 0) {
        errf(err, "the release's signature is invalid (altered in transit or forged)");
        goto done;
    }
    Fedra__PoolRelease *rel = wire_poolrelease_decode(e->body.data, e->body.len, why);
    if (rel == NULL) {
        errf(err, "malformed release: %s", why);
        goto done;
    }
    out->release = rel;
    if (memcmp(rel->query_hash.data, qhash, WIRE_HASH_LEN) != 0 ||
        strcmp(rel->hub, f->hub->name) != 0) {
        errf(err, "the release answers another query, or names another hub");
        goto done;
    }
    /* A model fit's release: every node's response to every round, round-major. */
    size_t rounds = rel->n_rounds > 0 ? rel->n_rounds : 1;
    if (rel->n_nodes != f->nnodes || pr->n_responses != f->nnodes * rounds) {
        errf(err, "the release covers %zu nodes and carries %zu responses; the federation has "
            "%zu", rel->n_nodes, pr->n_responses, f->nnodes);
        goto done;
    }
    for (size_t k = 0; k < f->nnodes * rounds; k++) {
        size_t i = k % f->nnodes;
        uint32_t round = rel->n_rounds > 0 ? (uint32_t)(k / f->nnodes + 1) : 0;
        struct node_reply *p = &out->rep[i];
        uint8_t h[WIRE_HASH_LEN];
        if (strcmp(rel->nodes[i], f->nodes[i].name) != 0) {
            errf(err, "the release's participant %zu is '%s', not '%s'", i + 1, rel->nodes[i],
                f->nodes[i].name);
            goto done;
        }
        pki_sha256(pr->responses[k].data, pr->responses[k].len, h);
        if (memcmp(h, rel->commitments[k].data, WIRE_HASH_LEN) != 0) {
            errf(err, "the release does not commit to the response of node '%s'", f->nodes[i].name);
            goto done;
        }
        wire_response_free(p->body);
        p->body = NULL;
        if ((s != NULL ? client_session_verify(s, i, qhash, pr->responses[k].data,
                             pr->responses[k].len, &p->body, why)
                       : client_verify_reply(f, &f->nodes[i], qhash, pr->responses[k].data,
                             pr->responses[k].len, &p->body, why)) != 0) {
            errf(err, "the response of node '%s' in the release: %s", f->nodes[i].name, why);
            goto done;
        }
        if (p->body->status != FEDRA__STATUS__STATUS_OK || p->body->pool == NULL ||
            p->body->pool->round != round) {
            errf(err, "the response of node '%s' in the release is not a share%s", f->nodes[i].name,
                round ? " of its round" : "");
            goto done;
        }
        p->raw.len = 0;
        buf_append(&p->raw, pr->responses[k].data, pr->responses[k].len);
        p->status = NODE_OK;
    }
    rc = 0;
done:
    if (rc != 0) {
        wire_poolrelease_free(out->release);
        out->release = NULL;
    }
    pki_cert_free(signer);
    wire_envelope_free(e);
    wire_poolreply_free(pr);
    return rc;
}

/* One HUB_REPLY of our route: a node's share (in, or why not), or the end. */
static int
on_reply(const struct federation *f, struct client_session *s, const Fedra__HubFrame *h,
    const uint8_t *qhash, struct pooled_result *out, unsigned char *heard, char *err)
{
    if (h->node[0] == 0) {          /* the end: the release, or the reason there is none */
        if (h->status == FEDRA__HUB_STATUS__HUB_STATUS_OK) {
            buf_append(&out->raw, h->payload.data, h->payload.len);
            return pooled_verify(f, s, qhash, h->payload.data, h->payload.len, out, err) == 0
                ? 1 : -1;
        }
        errf(err, "hub '%s': %.900s", f->hub->name, h->reason);
        return -1;
    }
    for (size_t i = 0; i < f->nnodes; i++) {
        if (strcmp(f->nodes[i].name, h->node) != 0 || heard[i])
            continue;
        heard[i] = 1;
        struct node_reply *p = &out->rep[i];
        if (h->status == FEDRA__HUB_STATUS__HUB_STATUS_OK) {
            p->status = NODE_OK;
        } else {
            p->status = h->status == FEDRA__HUB_STATUS__HUB_STATUS_TIMEOUT ? NODE_TIMEOUT
                                                                           : NODE_ERROR;
            snprintf(p->reason, sizeof p->reason, "%.400s", h->reason);
        }
    }
    return 0;
}

int
pooled_run(const struct federation *f, struct client_session *sess, const uint8_t *env,
    size_t len, int timeout_ms, struct pooled_result *out, char *err)
{
    return pooled_run_wait(f, sess, env, len, timeout_ms, timeout_ms, out, err);
}

int
pooled_run_wait(const struct federation *f, struct client_session *sess,
    const uint8_t *env, size_t len, int timeout_ms, int wait_ms, struct pooled_result *out,
    char *err)
{
    memset(out, 0, sizeof *out);
    out->rep = xcalloc(f->nnodes + 1, sizeof *out->rep);
    if (f->hub == NULL)
        return errf(err, "pooled release needs a hub: the federation file names none");
    size_t *idx = xcalloc(f->nnodes + 1, sizeof *idx);
    for (size_t i = 0; i < f->nnodes; i++) {
        if (!f->nodes[i].via_hub) {
            free(idx);
            return errf(err, "pooled release needs every node behind the hub; '%s' is reached "
                "directly", f->nodes[i].name);
        }
        idx[i] = i;
        out->rep[i].status = NODE_TIMEOUT;
        snprintf(out->rep[i].reason, sizeof out->rep[i].reason, "no word of its share within "
            "%d ms", timeout_ms);
    }
    uint8_t qhash[WIRE_HASH_LEN], rid[WIRE_QUERY_ID_LEN];
    wire_query_hash(env, len, qhash);
    struct buf route = {0}, frame = {0};
    struct client_keys *ks = client_session_keys(sess);
    void *s = NULL, *mon = NULL;
    unsigned char *heard = xcalloc(f->nnodes + 1, 1);
    int rc = -1, done = 0;
    if (ks == NULL) {
        errf(err, "no analyst certificate and key to send a pooled query through hub '%s'",
            f->hub->name);
        goto out;
    }
    if (client_hub_route(ks, env, len, idx, f->nnodes, timeout_ms, 1, rid, &route, err) != 0)
        goto out;
    Fedra__HubFrame h = FEDRA__HUB_FRAME__INIT;
    h.version = WIRE_VERSION;
    h.type = FEDRA__HUB_TYPE__HUB_ROUTE;
    h.payload.data = route.p;
    h.payload.len = route.len;
    wire_pack(&h.base, &frame);
    if ((s = client_session_hub(sess, err)) == NULL)
        goto out;
    /*
     * Our own connection is watched: a hub that goes away (a restart mid-fit
     * loses the fit's state there) ends the wait at once, not at the deadline.
     */
    char monname[96];   /* a new name each time: a stopped monitor's may not be free yet */
    snprintf(monname, sizeof monname, "inproc://fedra-pooled-%p-%lld", s,
        (long long)util_mono_us());
    if (zmq_socket_monitor(s, monname, ZMQ_EVENT_DISCONNECTED) == 0 &&
        (mon = zmq_socket(client_session_ctx(sess), ZMQ_PAIR)) != NULL &&
        zmq_connect(mon, monname) != 0) {
        zmq_close(mon);
        mon = NULL;
    }
    if (zmq_send(s, frame.p, frame.len, 0) < 0) {
        errf(err, "cannot send to hub '%s': %s", f->hub->name, zmq_strerror(errno));
        goto out;
    }
    rc = 0;
    int64_t deadline = util_mono_ms() + wait_ms + POOLED_SLACK_MS;
    while (!done) {
        int64_t left = deadline - util_mono_ms();
        zmq_pollitem_t it[2] = {{s, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        if (left <= 0 || zmq_poll(it, mon ? 2 : 1, (long)left) <= 0) {
            errf(err, "no pooled result from hub '%s' at %s within %d ms (did the hub restart?)",
                f->hub->name, f->hub->endpoint, wait_ms + POOLED_SLACK_MS);
            break;
        }
        if (mon != NULL && (it[1].revents & ZMQ_POLLIN) && !(it[0].revents & ZMQ_POLLIN)) {
            errf(err, "the connection to hub '%s' at %s was lost before its release (did the "
                "hub stop or restart mid-fit?): nothing is released", f->hub->name,
                f->hub->endpoint);
            break;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        Fedra__HubFrame *r = zmq_msg_more(&m) ? NULL
            : wire_hubframe_decode(zmq_msg_data(&m), zmq_msg_size(&m), NULL);
        zmq_msg_close(&m);
        if (r != NULL && r->type == FEDRA__HUB_TYPE__HUB_REPLY &&
            r->route_id.len == WIRE_QUERY_ID_LEN &&
            memcmp(r->route_id.data, rid, WIRE_QUERY_ID_LEN) == 0) {
            int k = on_reply(f, sess, r, qhash, out, heard, err);
            done = k != 0;
        }
        wire_hubframe_free(r);
    }
out:
    if (mon != NULL) {
        zmq_socket_monitor(s, NULL, 0);
        zmq_close(mon);
    }
    buf_release(&route);
    buf_release(&frame);
    free(heard);
    free(idx);
    return rc;
}

void
pooled_result_release(struct pooled_result *r, size_t nnodes)
{
    if (r->rep != NULL)
        client_replies_release(r->rep, nnodes);
    wire_poolrelease_free(r->release);
    buf_release(&r->raw);
    free(r->rep);
    memset(r, 0, sizeof *r);
}

void
pooled_report(struct pooled_result *r, const struct federation *f,
    enum report_format format, const char *qid, struct report *out)
{
    const Fedra__PoolRelease *rel = r->release;
    fedra__response_body__init(&r->view_body);
    r->view_body.status = FEDRA__STATUS__STATUS_OK;
    r->view_body.node = rel->hub;
    r->view_body.data_rows = REPORT_MAX_ROWS;   /* the pool's size is not released */
    r->view_body.count = rel->count;
    r->view_body.km = rel->km;
    r->view_node.name = rel->hub;
    r->view_node.endpoint = f->hub->endpoint;
    r->view.nodes = &r->view_node;
    r->view.nnodes = 1;
    r->view.hub = f->hub;
    r->view.trust = f->trust;
    memset(&r->view_reply, 0, sizeof r->view_reply);
    r->view_reply.status = NODE_OK;
    r->view_reply.body = &r->view_body;
    r->info = (struct report_pooled){f, r->rep, rel->hub, rel->min_cell, rel->min_sites,
        rel->grid_days};
    *out = (struct report){format, stdout, stderr, &r->view, &r->view_reply, qid, &r->info};
}

/* ---- pooled models ---- */

void
pooled_model_init(struct pooled_model *m, const struct federation *fed,
    const struct pki_cert *cert, const struct pki_key *key, int64_t ttl_ms, int timeout_ms,
    struct client_session *sess, struct bundle *bundle)
{
    memset(m, 0, sizeof *m);
    m->fed = fed;
    m->cert = cert;
    m->key = key;
    m->ttl_ms = ttl_ms;
    m->timeout_ms = timeout_ms;
    m->sess = sess;
    m->bundle = bundle;
    m->pool.name = fed->hub->name;
    m->pool.endpoint = fed->hub->endpoint;
    m->view = *fed;
    m->view.nodes = &m->pool;
    m->view.nnodes = 1;
    m->rep = xcalloc(fed->nnodes + 1, sizeof *m->rep);
    m->info = (struct report_pooled){fed, m->rep, fed->hub->name, 0, 0, 0};
}

/* rep: a verified-shaped body carrying result (count or model) as the pool's answer. */
static void
pool_reply(const struct pooled_model *m, Fedra__CountResult *count, Fedra__ModelResult *model,
    struct node_reply *rep)
{
    Fedra__ResponseBody b = FEDRA__RESPONSE_BODY__INIT;
    struct buf raw = {0};
    b.context = (char *)WIRE_RESPONSE_CONTEXT;
    b.query_hash.data = (uint8_t *)m->qhash;
    b.query_hash.len = WIRE_HASH_LEN;
    b.status = FEDRA__STATUS__STATUS_OK;
    b.node = m->pool.name;
    b.data_rows = REPORT_MAX_ROWS;      /* the pool's size is not a row count */
    /* Nor has the pool a data hash (a per-node value); one constant stands in, so that
       model.c's check that the data did not change during the fit holds as it should. */
    static const uint8_t no_hash[WIRE_HASH_LEN];
    b.data_hash.data = (uint8_t *)no_hash;
    b.data_hash.len = sizeof no_hash;
    b.count = count;
    b.model = model;
    wire_pack(&b.base, &raw);
    memset(rep, 0, sizeof *rep);
    rep->body = wire_response_decode(raw.p, raw.len, NULL);
    rep->status = rep->body != NULL ? NODE_OK : NODE_ERROR;
    rep->raw = raw;
}

int
pooled_model_send(void *vctx, Fedra__QuerySpec *spec, const unsigned char *active,
    struct node_reply *rep, char *err)
{
    struct pooled_model *m = vctx;
    (void)active;
    int model = spec->kind == FEDRA__KIND__KIND_COX || spec->kind == FEDRA__KIND__KIND_GLM;
    if (model && spec->round > 1) {
        if (m->rel == NULL || m->next >= m->rel->n_rounds)
            return errf(err, "the hub's release has %zu rounds; the fit replayed from them asks "
                "for more", m->rel ? m->rel->n_rounds : 0);
        pool_reply(m, NULL, m->rel->rounds[m->next++], rep);
        return 0;
    }
    const struct federation *fed = m->fed;
    ProtobufCBinaryData *roster = xcalloc(fed->nnodes + 1, sizeof *roster);
    for (size_t i = 0; m->replay == NULL && i < fed->nnodes; i++)
        roster[i].data = (uint8_t *)pki_cert_der(fed->nodes[i].cert, &roster[i].len);
    spec->pooled = 1;
    spec->roster = roster;
    spec->n_roster = m->replay == NULL ? fed->nnodes : 0;  /* verify: the recorded one */
    size_t nbeta = spec->n_beta;
    spec->n_beta = 0;           /* the nodes start the fit themselves */
    struct buf env = {0}, reply = {0};
    struct pooled_result pr;
    memset(&pr, 0, sizeof pr);
    err[0] = 0;
    int rc;
    if (m->replay != NULL) {
        const uint8_t *q = NULL;
        size_t qlen = 0;
        rc = m->replay(m->replay_arg, spec, &q, &qlen, &reply, err);
        if (rc == 0) {
            buf_append(&env, q, qlen);
            wire_query_hash(q, qlen, m->qhash);
            pr.rep = xcalloc(fed->nnodes + 1, sizeof *pr.rep);
            rc = pooled_verify(fed, NULL, m->qhash, reply.p, reply.len, &pr, err);
        }
    } else {
        rc = client_sign_query(fed, m->cert, m->key, spec, m->ttl_ms, &env, NULL, err);
        if (rc == 0) {
            wire_query_hash(env.p, env.len, m->qhash);
            rc = pooled_run_wait(fed, m->sess, env.p, env.len, m->timeout_ms,
                model ? POOLED_FIT_WAIT_MS : m->timeout_ms, &pr, err);
        }
    }
    spec->n_beta = nbeta;
    spec->pooled = 0;
    spec->roster = NULL;
    spec->n_roster = 0;
    free(roster);
    buf_release(&reply);
    m->pool.name = fed->hub->name;      /* verify: the recorded hub's */
    m->info.hub = fed->hub->name;
    if (rc == 0 && pr.release == NULL) {
        /* the hub's reason (err), else the first node that failed */
        char why[FEDRA_ERRLEN];
        snprintf(why, sizeof why, "%s", err);
        for (size_t i = 0; i < fed->nnodes && why[0] == 0; i++)
            if (pr.rep[i].status != NODE_OK)
                snprintf(why, sizeof why, "%.100s: %.400s", fed->nodes[i].name,
                    pr.rep[i].reason);
        rc = errf(err, "pooled release failed: %s", why);
    } else if (rc == 0 && model != (pr.release->n_rounds > 0)) {
        rc = errf(err, "the hub's release is not the result asked for");
    }
    if (rc == 0 && m->bundle != NULL)
        bundle_add_pooled(m->bundle, fed->hub->name, env.p, env.len, &pr.raw);
    for (size_t i = 0; pr.rep != NULL && i < fed->nnodes; i++) {
        m->rep[i].status = pr.rep[i].status;
        snprintf(m->rep[i].reason, sizeof m->rep[i].reason, "%s", pr.rep[i].reason);
    }
    if (rc == 0) {
        m->info.min_cell = pr.release->min_cell;
        m->info.min_sites = pr.release->min_sites;
        m->info.grid_days = pr.release->grid_days;
    }
    if (rc == 0 && model) {
        wire_poolrelease_free(m->rel);
        m->rel = pr.release;
        pr.release = NULL;
        m->next = 1;
        pool_reply(m, NULL, m->rel->rounds[0], rep);
    } else if (rc == 0) {
        /* A cell the pooled rules held back holds at least one patient: the
           level is present (model.c reads suppressed cells as present). */
        Fedra__CountResult *cr = pr.release->count;
        for (size_t k = 0; cr != NULL && k < cr->n_cells; k++)
            cr->cells[k]->suppressed |= cr->cells[k]->withheld;
        if (cr != NULL && cr->max_hidden == 0 && pr.release->min_cell > 0)
            cr->max_hidden = pr.release->min_cell - 1;
        pool_reply(m, cr, NULL, rep);
    }
    pooled_result_release(&pr, fed->nnodes);
    buf_release(&env);
    return rc;
}

int
pooled_model_check(const struct pooled_model *m, char *err)
{
    if (m->rel == NULL || m->next != m->rel->n_rounds)
        return errf(err, "the fit replayed from the hub's release used %zu of its %zu rounds",
            m->next, m->rel ? m->rel->n_rounds : 0);
    return 0;
}

void
pooled_model_release(struct pooled_model *m)
{
    wire_poolrelease_free(m->rel);
    m->rel = NULL;
    free(m->rep);
    m->rep = NULL;
}
