/*
 * wire - bounded protobuf-c decoding and packing; see wire.h.
 *
 * protobuf-c 1.4 has no size limit, no allocation budget and no recursion
 * limit (security.md §4).  Our schema has no recursive types, the length is
 * checked before unpacking, and every unpack runs on a budget allocator.
 */
#include "proto/wire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certs/pki.h"

struct budget {
    size_t used;                    /* bytes handed out and not yet freed */
    size_t limit;                   /* refuse allocations past this */
};

static void *
budget_alloc(void *ud, size_t n)
{
    struct budget *b = ud;
    if (n > b->limit - b->used || n > SIZE_MAX - sizeof(size_t))
        return NULL;
    size_t *p = malloc(n + sizeof(size_t));
    if (p == NULL)
        return NULL;
    *p = n;
    b->used += n;
    return p + 1;
}

static void
budget_free(void *ud, void *ptr)
{
    struct budget *b = ud;
    if (ptr == NULL)
        return;
    size_t *p = (size_t *)ptr - 1;
    b->used -= *p;
    free(p);
}

static int
string_ok(const char *s, size_t max)
{
    return s != NULL && strnlen(s, max + 1) <= max;
}

/*
 * Walk a decoded message tree: refuse unknown fields anywhere, and bound
 * every repeated count and string length.  Limits per field come from
 * field_limit(); the schema has no recursion, so the depth is bounded by it.
 */
static size_t
field_limit(const ProtobufCFieldDescriptor *f)
{
    const char *n = f->name;
    if (strcmp(n, "group_by") == 0)
        return WIRE_MAX_GROUP_BY;
    if (strcmp(n, "where") == 0)
        return WIRE_MAX_FILTERS;
    if (strcmp(n, "values") == 0 || strcmp(n, "levels") == 0)
        return WIRE_MAX_VALUES;
    if (strcmp(n, "audience") == 0)
        return WIRE_MAX_AUDIENCE;
    if (strcmp(n, "chain") == 0)
        return PKI_MAX_CHAIN;
    if (strcmp(n, "cells") == 0)
        return WIRE_MAX_CELLS;
    if (strcmp(n, "strata") == 0)
        return WIRE_MAX_STRATA;
    if (strcmp(n, "time") == 0 || strcmp(n, "events") == 0 || strcmp(n, "censored") == 0 ||
        strcmp(n, "competing") == 0)
        return WIRE_MAX_ROWS;
    if (strcmp(n, "groups") == 0 || strcmp(n, "n") == 0 || strcmp(n, "observed") == 0 ||
        strcmp(n, "expected") == 0)
        return WIRE_MAX_STRATA;
    if (strcmp(n, "variance") == 0)
        return (size_t)WIRE_MAX_STRATA * WIRE_MAX_STRATA;
    if (strcmp(n, "terms") == 0)
        return WIRE_MAX_TERMS;
    if (strcmp(n, "beta") == 0 || strcmp(n, "score") == 0)
        return WIRE_MAX_COEF;
    if (strcmp(n, "info") == 0)
        return (size_t)WIRE_MAX_COEF * WIRE_MAX_COEF;
    if (strcmp(n, "prev_answers") == 0)
        return WIRE_MAX_PREV_ANSWERS;
    if (strcmp(n, "pool_history") == 0)
        return WIRE_MAX_POOL_HISTORY;
    if (strcmp(n, "queries") == 0 || strcmp(n, "roster") == 0 || strcmp(n, "nodes") == 0 ||
        strcmp(n, "answers") == 0)
        return WIRE_MAX_AUDIENCE;
    if (strcmp(n, "commitments") == 0 || strcmp(n, "responses") == 0)
        return (size_t)WIRE_MAX_AUDIENCE * WIRE_MAX_POOL_ROUNDS;  /* a model fit's rounds */
    if (strcmp(n, "rounds") == 0)
        return WIRE_MAX_POOL_ROUNDS;
    return 0;
}

static int
check_tree(const ProtobufCMessage *m, char *err)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (m->n_unknown_fields != 0)
        return errf(err, "%s has %u unknown field(s)", d->short_name, m->n_unknown_fields);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m + f->offset;
        size_t count = 1;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *)((const char *)m + f->quantifier_offset);
            size_t lim = field_limit(f);
            if (lim == 0 || count > lim)
                return errf(err, "%s.%s has %zu entries (limit %zu)", d->short_name,
                    f->name, count, lim);
        }
        /* Only strings and sub-messages are pointers to look into. */
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const void *const *items = f->label == PROTOBUF_C_LABEL_REPEATED
                                       ? *(const void *const *const *)base
                                       : (const void *const *)base;
        for (size_t k = 0; k < count; k++) {
            const void *v = items[k];
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                size_t lim = strcmp(f->name, "reason") == 0 ? WIRE_MAX_REASON : WIRE_MAX_STRING;
                if (!string_ok(v, lim))
                    return errf(err, "%s.%s is longer than %zu bytes", d->short_name,
                        f->name, lim);
            } else if (v != NULL && check_tree(v, err) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

/*
 * Bytes fields need no walk: protobuf-c stores them as (len, data) and we
 * check the ones we use by length where we use them.  Strings are checked for
 * length above; an embedded NUL in a string simply shortens it, which
 * string_ok() cannot see, so bytes-level identity checks never rely on
 * strings alone (names are compared against certificates).
 */
static void *
decode_budget(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
    size_t max, size_t factor, char *err)
{
    if (len > max) {
        errf(err, "%s of %zu bytes is larger than the %zu-byte limit", desc->short_name,
            len, max);
        return NULL;
    }
    struct budget b = {0, len * factor + WIRE_BUDGET_SLACK};
    ProtobufCAllocator a = {budget_alloc, budget_free, &b};
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &a, len, buf);
    if (m == NULL) {
        errf(err, "malformed %s (not valid protobuf, or over the %zu-byte memory budget)",
            desc->short_name, b.limit);
        return NULL;
    }
    if (check_tree(m, err) != 0) {
        protobuf_c_message_free_unpacked(m, &a);
        return NULL;
    }
    return m;
}

static void *
decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
    size_t max, char *err)
{
    return decode_budget(desc, buf, len, max, WIRE_BUDGET_FACTOR, err);
}

/*
 * Every block carries its size in front (budget_alloc), so freeing needs no
 * state from the decode: the accounting of this throw-away budget is unused.
 */
static void
free_msg(void *m)
{
    if (m == NULL)
        return;
    struct budget b = {SIZE_MAX / 2, SIZE_MAX};
    ProtobufCAllocator a = {budget_alloc, budget_free, &b};
    protobuf_c_message_free_unpacked(m, &a);
}

_Static_assert(WIRE_MAX_ENVELOPE_OVERHEAD >= (1 + PKI_MAX_CHAIN) * PKI_MAX_CERT_DER +
    PKI_SIG_LEN + 1024, "WIRE_MAX_ENVELOPE_OVERHEAD must hold the certificate and its chain");

Fedra__Envelope *
wire_envelope_decode(const uint8_t *buf, size_t len, size_t max, char *err)
{
    Fedra__Envelope *e = decode(&fedra__envelope__descriptor, buf, len, max, err);
    if (e == NULL)
        return NULL;
    if (e->version != WIRE_VERSION) {
        errf(err, "unsupported envelope version %u (this build speaks %d)", e->version,
            WIRE_VERSION);
        goto bad;
    }
    if (e->body.len == 0) {
        errf(err, "envelope has an empty body");
        goto bad;
    }
    if (e->signature.len != PKI_SIG_LEN) {
        errf(err, "envelope signature is %zu bytes, expected %d", e->signature.len,
            PKI_SIG_LEN);
        goto bad;
    }
    if (e->signer_cert.len == 0 || e->signer_cert.len > PKI_MAX_CERT_DER) {
        errf(err, "envelope signer certificate is %zu bytes (1..%d allowed)",
            e->signer_cert.len, PKI_MAX_CERT_DER);
        goto bad;
    }
    for (size_t i = 0; i < e->n_chain; i++) {
        if (e->chain[i].len == 0 || e->chain[i].len > PKI_MAX_CERT_DER) {
            errf(err, "envelope chain certificate %zu is %zu bytes (1..%d allowed)", i + 1,
                e->chain[i].len, PKI_MAX_CERT_DER);
            goto bad;
        }
    }
    return e;
bad:
    free_msg(e);
    return NULL;
}

void
wire_envelope_free(Fedra__Envelope *e)
{
    free_msg(e);
}

Fedra__QueryBody *
wire_query_decode(const uint8_t *buf, size_t len, char *err)
{
    Fedra__QueryBody *q = decode(&fedra__query_body__descriptor, buf, len, WIRE_MAX_MODEL_QUERY,
        err);
    if (q == NULL)
        return NULL;
    if (len > WIRE_MAX_QUERY && (q->spec == NULL || q->spec->n_prev_answers == 0)) {
        errf(err, "QueryBody of %zu bytes is larger than the %u-byte limit of a query that "
            "carries no model answers", len, WIRE_MAX_QUERY);
        goto bad;
    }
    if (strcmp(q->context, WIRE_QUERY_CONTEXT) != 0) {
        errf(err, "query body has context '%.64s', expected '%s'", q->context,
            WIRE_QUERY_CONTEXT);
        goto bad;
    }
    if (q->query_id.len != WIRE_QUERY_ID_LEN) {
        errf(err, "query_id is %zu bytes, expected %d", q->query_id.len, WIRE_QUERY_ID_LEN);
        goto bad;
    }
    if (q->spec == NULL) {
        errf(err, "query has no spec");
        goto bad;
    }
    if (q->spec->model_id.len != 0 && q->spec->model_id.len != WIRE_QUERY_ID_LEN) {
        errf(err, "model_id is %zu bytes, expected %d", q->spec->model_id.len,
            WIRE_QUERY_ID_LEN);
        goto bad;
    }
    for (size_t i = 0; i < q->spec->n_beta; i++)
        if (!isfinite(q->spec->beta[i])) {
            errf(err, "coefficient %zu is not a finite number", i + 1);
            goto bad;
        }
    for (size_t i = 0; i < q->spec->n_where; i++) {
        Fedra__Filter *f = q->spec->where[i];
        if ((unsigned)f->op > FEDRA__OP__OP_IN) {
            errf(err, "filter %zu has unknown operator %d", i + 1, (int)f->op);
            goto bad;
        }
        if (f->n_values == 0 || (f->op != FEDRA__OP__OP_IN && f->n_values != 1)) {
            errf(err, "filter on '%.32s' has %zu values", f->var, f->n_values);
            goto bad;
        }
    }
    return q;
bad:
    free_msg(q);
    return NULL;
}

void
wire_query_free(Fedra__QueryBody *q)
{
    free_msg(q);
}

Fedra__ResponseBody *
wire_response_decode(const uint8_t *buf, size_t len, char *err)
{
    Fedra__ResponseBody *r = decode(&fedra__response_body__descriptor, buf, len,
        WIRE_MAX_RESPONSE, err);
    if (r == NULL)
        return NULL;
    if (strcmp(r->context, WIRE_RESPONSE_CONTEXT) != 0) {
        errf(err, "response body has context '%.64s', expected '%s'", r->context,
            WIRE_RESPONSE_CONTEXT);
        goto bad;
    }
    if (r->query_hash.len != WIRE_HASH_LEN) {
        errf(err, "response query_hash is %zu bytes, expected %d", r->query_hash.len,
            WIRE_HASH_LEN);
        goto bad;
    }
    if (r->status != FEDRA__STATUS__STATUS_OK && r->status != FEDRA__STATUS__STATUS_REFUSED) {
        errf(err, "response has unknown status %d", (int)r->status);
        goto bad;
    }
    return r;
bad:
    free_msg(r);
    return NULL;
}

void
wire_response_free(Fedra__ResponseBody *r)
{
    free_msg(r);
}

size_t
wire_query_max(const Fedra__QuerySpec *spec)
{
    return spec != NULL && spec->n_prev_answers > 0 ? WIRE_MAX_MODEL_QUERY : WIRE_MAX_QUERY;
}

void
wire_pack(const ProtobufCMessage *m, struct buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    protobuf_c_message_pack(m, buf_extend(out, n));
}

void
wire_query_hash(const uint8_t *env, size_t len, uint8_t out[WIRE_HASH_LEN])
{
    pki_sha256_2(WIRE_QUERY_HASH_CONTEXT, strlen(WIRE_QUERY_HASH_CONTEXT), env, len, out);
}

const char *
wire_op_text(Fedra__Op op)
{
    static const char *const t[] = {"=", "!=", "<", "<=", ">", ">=", "in"};
    return (unsigned)op <= FEDRA__OP__OP_IN ? t[op] : "?";
}

static void
iso_ms(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *
wire_check_times(int64_t issued, int64_t expires, int64_t now, int64_t skew, char *err)
{
    char a[32], b[32];
    if (issued < 0 || expires < 0 || issued > WIRE_MAX_TIME_MS || expires > WIRE_MAX_TIME_MS) {
        errf(err, "query times out of range (issued_at %lld, expires_at %lld)",
            (long long)issued, (long long)expires);
        return "clock";
    }
    if (expires <= issued || expires - issued > WIRE_MAX_LIFETIME_MS) {
        errf(err, "query lifetime must be 1 ms to %d s (expires_at - issued_at = %lld ms)",
            WIRE_MAX_LIFETIME_MS / 1000, (long long)(expires - issued));
        return "clock";
    }
    if (issued > now + skew) {
        iso_ms(issued, a);
        iso_ms(now, b);
        errf(err, "query issued at %s, %lld s ahead of this node's clock (%s); allowed skew "
            "is %lld s: check the clocks", a, (long long)((issued - now) / 1000), b,
            (long long)(skew / 1000));
        return "clock";
    }
    if (expires < now - skew) {
        iso_ms(expires, a);
        iso_ms(now, b);
        errf(err, "query expired at %s (node time %s); sign a new one", a, b);
        return "expired";
    }
    return NULL;
}

Fedra__HubFrame *
wire_hubframe_decode(const uint8_t *buf, size_t len, char *err)
{
    Fedra__HubFrame *h = decode_budget(&fedra__hub_frame__descriptor, buf, len,
        WIRE_MAX_HUB_FRAME, WIRE_HUB_BUDGET_FACTOR, err);
    if (h == NULL)
        return NULL;
    size_t max = 0;
    if (h->version != WIRE_VERSION) {
        errf(err, "unsupported hub frame version %u (this build speaks %d)", h->version,
            WIRE_VERSION);
        goto bad;
    }
    switch (h->type) {
    case FEDRA__HUB_TYPE__HUB_HELLO:
    case FEDRA__HUB_TYPE__HUB_WELCOME: max = 0; break;
    case FEDRA__HUB_TYPE__HUB_ROUTE: max = WIRE_MAX_HUB_ROUTE; break;
    case FEDRA__HUB_TYPE__HUB_FORWARD: max = WIRE_MAX_SEALED_QUERY; break;
    case FEDRA__HUB_TYPE__HUB_ANSWER:
    case FEDRA__HUB_TYPE__HUB_REPLY: max = WIRE_MAX_SEALED_RESPONSE; break;
    case FEDRA__HUB_TYPE__HUB_ROUND: max = WIRE_MAX_POOL_ROUND; break;
    default:
        errf(err, "hub frame of unknown type %d", (int)h->type);
        goto bad;
    }
    if (h->payload.len > max) {
        errf(err, "hub frame payload of %zu bytes is larger than the %zu-byte limit of its "
            "type", h->payload.len, max);
        goto bad;
    }
    if (h->cert.len > PKI_MAX_CERT_DER) {
        errf(err, "hub frame certificate of %zu bytes is larger than %d", h->cert.len,
            PKI_MAX_CERT_DER);
        goto bad;
    }
    for (size_t i = 0; i < h->n_chain; i++)
        if (h->chain[i].len == 0 || h->chain[i].len > PKI_MAX_CERT_DER) {
            errf(err, "hub frame chain certificate %zu is %zu bytes (1 .. %d)", i + 1,
                h->chain[i].len, PKI_MAX_CERT_DER);
            goto bad;
        }
    if (h->n_pool_history > WIRE_MAX_POOL_HISTORY) {
        errf(err, "hub frame carries %zu pooled history queries (limit %d)",
            h->n_pool_history, WIRE_MAX_POOL_HISTORY);
        goto bad;
    }
    for (size_t i = 0; i < h->n_pool_history; i++)
        if (h->pool_history[i].len == 0 || h->pool_history[i].len > WIRE_MAX_QUERY) {
            errf(err, "hub frame pooled history query %zu is %zu bytes (1 .. %u)", i + 1,
                h->pool_history[i].len, WIRE_MAX_QUERY);
            goto bad;
        }
    if (h->route_id.len != 0 && h->route_id.len != WIRE_QUERY_ID_LEN) {
        errf(err, "hub frame route_id is %zu bytes, expected %d", h->route_id.len,
            WIRE_QUERY_ID_LEN);
        goto bad;
    }
    return h;
bad:
    free_msg(h);
    return NULL;
}

void
wire_hubframe_free(Fedra__HubFrame *h)
{
    free_msg(h);
}

Fedra__HubRoute *
wire_hubroute_decode(const uint8_t *buf, size_t len, char *err)
{
    Fedra__HubRoute *r = decode_budget(&fedra__hub_route__descriptor, buf, len,
        WIRE_MAX_HUB_ROUTE, WIRE_HUB_BUDGET_FACTOR, err);
    if (r == NULL)
        return NULL;
    if (strcmp(r->context, WIRE_HUB_ROUTE_CONTEXT) != 0) {
        errf(err, "route body has context '%.64s', expected '%s'", r->context,
            WIRE_HUB_ROUTE_CONTEXT);
        goto bad;
    }
    if (r->route_id.len != WIRE_QUERY_ID_LEN || r->query_hash.len != WIRE_HASH_LEN) {
        errf(err, "route has a route_id of %zu bytes and a query_hash of %zu (expected %d "
            "and %d)", r->route_id.len, r->query_hash.len, WIRE_QUERY_ID_LEN, WIRE_HASH_LEN);
        goto bad;
    }
    if (r->issued_at_ms < 0 || r->issued_at_ms > WIRE_MAX_TIME_MS || r->expires_at_ms < 0 ||
        r->expires_at_ms > WIRE_MAX_TIME_MS) {
        errf(err, "route times out of range");
        goto bad;
    }
    if (r->n_queries == 0) {
        errf(err, "route names no node");
        goto bad;
    }
    for (size_t i = 0; i < r->n_queries; i++) {
        const Fedra__SealedQuery *q = r->queries[i];
        if (!pki_name_valid(q->node)) {
            errf(err, "route names an invalid node name '%.64s'", q->node);
            goto bad;
        }
        if (q->sealed.len == 0 || q->sealed.len > WIRE_MAX_SEALED_QUERY) {
            errf(err, "sealed query for node '%s' is %zu bytes (1 .. %u)", q->node,
                q->sealed.len, (unsigned)WIRE_MAX_SEALED_QUERY);
            goto bad;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->queries[j]->node, q->node) == 0) {
                errf(err, "route names node '%s' twice", q->node);
                goto bad;
            }
    }
    return r;
bad:
    free_msg(r);
    return NULL;
}

void
wire_hubroute_free(Fedra__HubRoute *r)
{
    free_msg(r);
}

Fedra__PoolAnswer *
wire_poolanswer_decode(const uint8_t *buf, size_t len, char *err)
{
    Fedra__PoolAnswer *a = decode_budget(&fedra__pool_answer__descriptor, buf, len,
        WIRE_MAX_POOL_ANSWER, WIRE_HUB_BUDGET_FACTOR, err);
    if (a == NULL)
        return NULL;
    if (a->response.len == 0 || a->response.len > WIRE_MAX_RESPONSE ||
        a->masked.len > WIRE_MAX_POOL_MASKED) {
        errf(err, "pooled answer with a response of %zu bytes and a share of %zu (limits %u "
            "and %u)", a->response.len, a->masked.len, (unsigned)WIRE_MAX_RESPONSE,
            (unsigned)WIRE_MAX_POOL_MASKED);
        free_msg(a);
        return NULL;
    }
    return a;
}

void
wire_poolanswer_free(Fedra__PoolAnswer *a)
{
    free_msg(a);
}

Fedra__PoolReply *
wire_poolreply_decode(const uint8_t *buf, size_t len, char *err)
{
    Fedra__PoolReply *r = decode_budget(&fedra__pool_reply__descriptor, buf, len,
        WIRE_MAX_POOL_REPLY, WIRE_HUB_BUDGET_FACTOR, err);
    if (r == NULL)
        return NULL;
    if (r->release.len == 0 || r->n_responses == 0) {
        errf(err, "pooled reply without a release or without responses");
        free_msg(r);
        return NULL;
    }
    return r;
}

void
wire_poolreply_free(Fedra__PoolReply *r)
{
    free_msg(r);
}

Fedra__PoolRound *
wire_poolround_decode(const uint8_t *buf, size_t len, char *err)
{
    Fedra__PoolRound *r = decode_budget(&fedra__pool_round__descriptor, buf, len,
        WIRE_MAX_POOL_ROUND, WIRE_HUB_BUDGET_FACTOR, err);
    if (r == NULL)
        return NULL;
    if (r->query.len == 0 || r->query.len > WIRE_MAX_QUERY || r->round < 2 ||
        r->round > WIRE_MAX_POOL_ROUNDS || r->n_answers == 0) {
        errf(err, "pooled round %u with a query of %zu bytes and %zu answers", r->round,
            r->query.len, r->n_answers);
        free_msg(r);
        return NULL;
    }
    return r;
}

void
wire_poolround_free(Fedra__PoolRound *r)
{
    free_msg(r);
}

Fedra__PoolRelease *
wire_poolrelease_decode(const uint8_t *buf, size_t len, char *err)
{
    Fedra__PoolRelease *r = decode(&fedra__pool_release__descriptor, buf, len,
        WIRE_MAX_RESPONSE, err);
    if (r == NULL)
        return NULL;
    if (strcmp(r->context, WIRE_POOL_RELEASE_CONTEXT) != 0) {
        errf(err, "release body has context '%.64s', expected '%s'", r->context,
            WIRE_POOL_RELEASE_CONTEXT);
        goto bad;
    }
    size_t rounds = r->n_rounds > 0 ? r->n_rounds : 1;
    if (r->query_hash.len != WIRE_HASH_LEN || r->n_nodes == 0 ||
        r->n_commitments != r->n_nodes * rounds) {
        errf(err, "release with a query hash of %zu bytes, %zu nodes and %zu commitments",
            r->query_hash.len, r->n_nodes, r->n_commitments);
        goto bad;
    }
    for (size_t i = 0; i < r->n_commitments; i++)
        if (r->commitments[i].len != WIRE_HASH_LEN) {
            errf(err, "release commitment %zu is %zu bytes, expected %d", i + 1,
                r->commitments[i].len, WIRE_HASH_LEN);
            goto bad;
        }
    int results = (r->count != NULL) + (r->km != NULL) + (r->n_rounds > 0);
    if (results != 1) {
        errf(err, "release carries %s result", results > 1 ? "more than one" : "no");
        goto bad;
    }
    return r;
bad:
    free_msg(r);
    return NULL;
}

void
wire_poolrelease_free(Fedra__PoolRelease *r)
{
    free_msg(r);
}
