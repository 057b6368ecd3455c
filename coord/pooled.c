/*
 * pooled - fedra's side of pooled release; see pooled.h.
 */
#include "coord/pooled.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

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
    if (rel->n_nodes != f->nnodes || pr->n_responses != f->nnodes) {
        errf(err, "the release covers %zu nodes and carries %zu responses; the federation has "
            "%zu", rel->n_nodes, pr->n_responses, f->nnodes);
        goto done;
    }
    for (size_t i = 0; i < f->nnodes; i++) {
        struct node_reply *p = &out->rep[i];
        uint8_t h[WIRE_HASH_LEN];
        if (strcmp(rel->nodes[i], f->nodes[i].name) != 0) {
            errf(err, "the release's participant %zu is '%s', not '%s'", i + 1, rel->nodes[i],
                f->nodes[i].name);
            goto done;
        }
        pki_sha256(pr->responses[i].data, pr->responses[i].len, h);
        if (memcmp(h, rel->commitments[i].data, WIRE_HASH_LEN) != 0) {
            errf(err, "the release does not commit to the response of node '%s'", f->nodes[i].name);
            goto done;
        }
        wire_response_free(p->body);
        p->body = NULL;
        if ((s != NULL ? client_session_verify(s, i, qhash, pr->responses[i].data,
                             pr->responses[i].len, &p->body, why)
                       : client_verify_reply(f, &f->nodes[i], qhash, pr->responses[i].data,
                             pr->responses[i].len, &p->body, why)) != 0) {
            errf(err, "the response of node '%s' in the release: %s", f->nodes[i].name, why);
            goto done;
        }
        if (p->body->status != FEDRA__STATUS__STATUS_OK || p->body->pool == NULL) {
            errf(err, "the response of node '%s' in the release is not a share", f->nodes[i].name);
            goto done;
        }
        p->raw.len = 0;
        buf_append(&p->raw, pr->responses[i].data, pr->responses[i].len);
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
    void *s = NULL;
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
    if (zmq_send(s, frame.p, frame.len, 0) < 0) {
        errf(err, "cannot send to hub '%s': %s", f->hub->name, zmq_strerror(errno));
        goto out;
    }
    rc = 0;
    int64_t deadline = util_mono_ms() + timeout_ms + POOLED_SLACK_MS;
    while (!done) {
        int64_t left = deadline - util_mono_ms();
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&it, 1, (long)left) <= 0) {
            errf(err, "no pooled result from hub '%s' at %s within %d ms", f->hub->name,
                f->hub->endpoint, timeout_ms);
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
