/*
 * bundle - see bundle.h.
 */
#include "coord/bundle.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "proto/evidence.h"
#include "proto/wire.h"

static json_t *
hex_json(const uint8_t *p, size_t n)
{
    char *h = xcalloc(2 * n + 1, 1);
    util_hex(p, n, h);
    json_t *s = json_string(h);
    free(h);
    return s;
}

void
bundle_init(struct bundle *b, int argc, char *const *argv, const struct federation *fed)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    memset(b, 0, sizeof *b);
    b->root = json_object();
    json_object_set_new(b->root, "fedra_bundle", json_integer(BUNDLE_VERSION));
    json_object_set_new(b->root, "created", json_string(when));
    json_t *cmd = json_array(), *nodes = json_array();
    for (int i = 0; i < argc; i++)
        json_array_append_new(cmd, json_string(argv[i]));
    for (size_t i = 0; i < fed->nnodes; i++)
        json_array_append_new(nodes, json_string(fed->nodes[i].name));
    json_object_set_new(b->root, "command", cmd);
    json_object_set_new(b->root, "nodes", nodes);
    json_object_set_new(b->root, "rounds", json_array());
}

void
bundle_add_round(struct bundle *b, const struct federation *fed, const uint8_t *query,
    size_t len, const struct node_reply *rep)
{
    json_t *r = json_object(), *resp = json_array();
    json_object_set_new(r, "query", hex_json(query, len));
    for (size_t i = 0; i < fed->nnodes; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "node", json_string(fed->nodes[i].name));
        /* What came back signed is re-verified on replay; the rest is a status. */
        if (rep[i].raw.len > 0 && rep[i].body != NULL)
            json_object_set_new(o, "envelope", hex_json(rep[i].raw.p, rep[i].raw.len));
        else {
            json_object_set_new(o, "status", json_string(client_status_name(rep[i].status)));
            json_object_set_new(o, "reason", json_string(rep[i].reason));
        }
        json_array_append_new(resp, o);
    }
    json_object_set_new(r, "responses", resp);
    json_array_append_new(json_object_get(b->root, "rounds"), r);
}

void
bundle_add_pooled(struct bundle *b, const char *hub, const uint8_t *query, size_t len,
    const struct buf *reply)
{
    json_t *r = json_object();
    json_object_set_new(r, "query", hex_json(query, len));
    json_object_set_new(r, "hub", json_string(hub));
    json_object_set_new(r, "pooled", hex_json(reply->p, reply->len));
    json_array_append_new(json_object_get(b->root, "rounds"), r);
}

int
bundle_write(const struct bundle *b, const char *path, char *err)
{
    char *s = json_dumps(b->root, JSON_INDENT(1));
    if (s == NULL)
        return errf(err, "cannot serialise the bundle");
    int rc = util_write_file(path, s, strlen(s), 0644, err);
    free(s);
    return rc;
}

void
bundle_release(struct bundle *b)
{
    json_decref(b->root);
    buf_release(&b->query);
    memset(b, 0, sizeof *b);
}

int
bundle_load(const char *path, struct bundle *b, size_t *argc, const char ***argv, char *err)
{
    memset(b, 0, sizeof *b);
    if (evidence_load(path, &b->root, err) != 0)
        return -1;
    json_t *cmd = json_object_get(b->root, "command");
    *argc = json_array_size(cmd);
    *argv = xcalloc(*argc + 1, sizeof **argv);
    for (size_t i = 0; i < *argc; i++)
        if (((*argv)[i] = json_string_value(json_array_get(cmd, i))) == NULL)
            return errf(err, "%s: command word %zu is not a string", path, i + 1);
    return 0;
}

int
bundle_federation(const struct bundle *b, struct pki_trust *trust, struct federation *fed,
    char *err)
{
    json_t *nodes = json_object_get(b->root, "nodes");
    memset(fed, 0, sizeof *fed);
    fed->path = xstrdup("(bundle)");
    fed->trust = trust;
    fed->nodes = xcalloc(json_array_size(nodes), sizeof *fed->nodes);
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        const char *n = json_string_value(json_array_get(nodes, i));
        if (n == NULL || !pki_name_valid(n))
            return errf(err, "bundle node %zu has no valid name", i + 1);
        fed->nodes[i].name = xstrdup(n);
        fed->nodes[i].endpoint = xstrdup("");
        fed->nnodes++;
    }
    return 0;
}

int
bundle_is_pooled(const struct bundle *b)
{
    json_t *r = json_array_get(json_object_get(b->root, "rounds"), 0);
    return r != NULL && json_object_get(r, "pooled") != NULL;
}

size_t
bundle_nrounds(const struct bundle *b)
{
    return json_array_size(json_object_get(b->root, "rounds"));
}

static enum node_status
status_parse(const char *s)
{
    if (s != NULL && strcmp(s, "timeout") == 0)
        return NODE_TIMEOUT;
    if (s != NULL && strcmp(s, "refused") == 0)
        return NODE_REFUSED;
    return NODE_ERROR;
}

int
bundle_replay(struct bundle *b, const struct federation *fed, const uint8_t **query,
    size_t *len, struct node_reply *rep, char *err)
{
    json_t *rounds = json_object_get(b->root, "rounds");
    json_t *r = json_array_get(rounds, b->next);
    if (r == NULL)
        return errf(err, "the bundle holds %zu rounds; the command needs more (it was cut "
            "short or belongs to another command)", json_array_size(rounds));
    size_t k = ++b->next;
    if (evidence_hex(r, "query", WIRE_MAX_MODEL_QUERY, &b->query) != 0)
        return errf(err, "round %zu: the query is missing or not hex", k);
    *query = b->query.p;
    *len = b->query.len;
    uint8_t qhash[WIRE_HASH_LEN];
    wire_query_hash(*query, *len, qhash);
    json_t *resp = json_object_get(r, "responses");
    for (size_t i = 0; i < fed->nnodes; i++) {
        json_t *o = NULL;
        for (size_t m = 0; m < json_array_size(resp); m++) {
            json_t *c = json_array_get(resp, m);
            const char *n = json_string_value(json_object_get(c, "node"));
            if (n != NULL && strcmp(n, fed->nodes[i].name) == 0)
                o = c;
        }
        memset(&rep[i], 0, sizeof rep[i]);
        if (o == NULL)
            return errf(err, "round %zu: no entry for node %s", k, fed->nodes[i].name);
        if (json_object_get(o, "envelope") == NULL) {
            rep[i].status = status_parse(json_string_value(json_object_get(o, "status")));
            const char *why = json_string_value(json_object_get(o, "reason"));
            snprintf(rep[i].reason, sizeof rep[i].reason, "%s", why ? why : "");
            continue;
        }
        char why[FEDRA_ERRLEN];
        if (evidence_hex(o, "envelope", WIRE_MAX_RESPONSE, &rep[i].raw) != 0)
            return errf(err, "round %zu: node %s: the response is not hex", k,
                fed->nodes[i].name);
        if (client_verify_reply(fed, &fed->nodes[i], qhash, rep[i].raw.p, rep[i].raw.len,
                &rep[i].body, why) != 0)
            return errf(err, "round %zu: node %s: %s", k, fed->nodes[i].name, why);
        if (rep[i].body->status == FEDRA__STATUS__STATUS_OK) {
            rep[i].status = NODE_OK;
        } else {
            rep[i].status = NODE_REFUSED;
            snprintf(rep[i].reason, sizeof rep[i].reason, "%s", rep[i].body->reason);
            snprintf(rep[i].code, sizeof rep[i].code, "%s", rep[i].body->code);
        }
    }
    return 0;
}

int
bundle_replay_pooled(struct bundle *b, const uint8_t **query, size_t *len,
    const char **hub, struct buf *reply, char *err)
{
    json_t *r = json_array_get(json_object_get(b->root, "rounds"), b->next);
    if (r == NULL)
        return errf(err, "the bundle holds no pooled round (it belongs to another command)");
    size_t k = ++b->next;
    if (evidence_hex(r, "query", WIRE_MAX_QUERY, &b->query) != 0)
        return errf(err, "round %zu: the query is missing or not hex", k);
    *hub = json_string_value(json_object_get(r, "hub"));
    if (*hub == NULL || !pki_name_valid(*hub) ||
        evidence_hex(r, "pooled", WIRE_MAX_POOL_REPLY, reply) != 0)
        return errf(err, "round %zu: not a pooled round (no hub name or no hex release)", k);
    *query = b->query.p;
    *len = b->query.len;
    return 0;
}
