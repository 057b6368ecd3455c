/*
 * test_wire - bounded decoding of untrusted bytes (proto/wire.c): every named
 * limit at its boundary and one past, unknown fields, bad contexts, truncation.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "certs/pki.h"
#include "proto/wire.h"

/* A valid query body with n_group_by variables, n_where filters, etc. */
struct qshape {
    size_t group_by, where, values, audience, strlen_;
    size_t terms, beta;             /* model rounds */
    double beta_value;              /* every coefficient */
    size_t model_id_len;
};

static void
pack_query(const struct qshape *s, struct buf *out)
{
    uint8_t id[WIRE_QUERY_ID_LEN] = {1, 2, 3};
    char *longstr = calloc(s->strlen_ + 1, 1);
    memset(longstr, 'a', s->strlen_);
    char **gb = calloc(s->group_by + 1, sizeof *gb);
    for (size_t i = 0; i < s->group_by; i++)
        gb[i] = (char *)"stage";
    char **vals = calloc(s->values + 1, sizeof *vals);
    for (size_t i = 0; i < s->values; i++)
        vals[i] = (char *)"melanoma";
    Fedra__Filter *f = calloc(s->where + 1, sizeof *f);
    Fedra__Filter **fp = calloc(s->where + 1, sizeof *fp);
    for (size_t i = 0; i < s->where; i++) {
        fedra__filter__init(&f[i]);
        f[i].var = (char *)"tumour_type";
        f[i].op = FEDRA__OP__OP_IN;
        f[i].n_values = s->values;
        f[i].values = vals;
        fp[i] = &f[i];
    }
    char **aud = calloc(s->audience + 1, sizeof *aud);
    for (size_t i = 0; i < s->audience; i++)
        aud[i] = (char *)"*";
    Fedra__Term *terms = calloc(s->terms + 1, sizeof *terms);
    Fedra__Term **tp = calloc(s->terms + 1, sizeof *tp);
    for (size_t i = 0; i < s->terms; i++) {
        fedra__term__init(&terms[i]);
        terms[i].var = (char *)"age_years";
        tp[i] = &terms[i];
    }
    double *beta = calloc(s->beta + 1, sizeof *beta);
    for (size_t i = 0; i < s->beta; i++)
        beta[i] = s->beta_value;
    uint8_t mid[WIRE_QUERY_ID_LEN + 1] = {7};
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    spec.kind = s->terms ? FEDRA__KIND__KIND_COX : FEDRA__KIND__KIND_COUNT;
    spec.n_terms = s->terms;
    spec.terms = tp;
    spec.n_beta = s->beta;
    spec.beta = beta;
    spec.model_id.data = mid;
    spec.model_id.len = s->model_id_len;
    spec.n_group_by = s->group_by;
    spec.group_by = gb;
    spec.n_where = s->where;
    spec.where = fp;
    Fedra__QueryBody q = FEDRA__QUERY_BODY__INIT;
    q.context = (char *)WIRE_QUERY_CONTEXT;
    q.query_id.data = id;
    q.query_id.len = sizeof id;
    q.issued_at_ms = 1000;
    q.expires_at_ms = 2000;
    q.n_audience = s->audience;
    q.audience = aud;
    q.analyst = longstr;
    q.spec = &spec;
    wire_pack(&q.base, out);
    free(longstr);
    free(gb);
    free(vals);
    free(f);
    free(fp);
    free(aud);
    free(terms);
    free(tp);
    free(beta);
}

static const struct qshape ok_shape = {2, 1, 2, 1, 5, 0, 0, 0, 0};

static int
decodes(const struct qshape *s)
{
    struct buf b = {0};
    char err[FEDRA_ERRLEN];
    pack_query(s, &b);
    Fedra__QueryBody *q = wire_query_decode(b.p, b.len, err);
    int ok = q != NULL;
    if (!ok)
        print_message("decode: %s\n", err);
    wire_query_free(q);
    buf_release(&b);
    return ok;
}

static void
query_round_trip(void **state)
{
    (void)state;
    struct buf b = {0};
    char err[FEDRA_ERRLEN];
    pack_query(&ok_shape, &b);
    Fedra__QueryBody *q = wire_query_decode(b.p, b.len, err);
    assert_non_null(q);
    assert_string_equal(q->spec->group_by[1], "stage");
    assert_int_equal(q->spec->where[0]->n_values, 2);
    assert_int_equal(q->expires_at_ms, 2000);
    wire_query_free(q);
    buf_release(&b);
}

static void
limits_at_boundary_and_one_past(void **state)
{
    (void)state;
    struct qshape s = ok_shape;
    s.group_by = WIRE_MAX_GROUP_BY;
    assert_true(decodes(&s));
    s.group_by = WIRE_MAX_GROUP_BY + 1;
    assert_false(decodes(&s));
    s = ok_shape;
    s.where = WIRE_MAX_FILTERS;
    assert_true(decodes(&s));
    s.where = WIRE_MAX_FILTERS + 1;
    assert_false(decodes(&s));
    s = ok_shape;
    s.values = WIRE_MAX_VALUES;
    assert_true(decodes(&s));
    s.values = WIRE_MAX_VALUES + 1;
    assert_false(decodes(&s));
    s = ok_shape;
    s.audience = WIRE_MAX_AUDIENCE;
    assert_true(decodes(&s));
    s.audience = WIRE_MAX_AUDIENCE + 1;
    assert_false(decodes(&s));
    s = ok_shape;
    s.strlen_ = WIRE_MAX_STRING;
    assert_true(decodes(&s));
    s.strlen_ = WIRE_MAX_STRING + 1;
    assert_false(decodes(&s));
}

/* Model rounds: design columns, coefficients (finite only) and the model id. */
static void
query_model_limits(void **state)
{
    (void)state;
    struct qshape s = ok_shape;
    s.terms = WIRE_MAX_TERMS;
    s.beta = WIRE_MAX_COEF;
    s.model_id_len = WIRE_QUERY_ID_LEN;
    assert_true(decodes(&s));
    s.terms = WIRE_MAX_TERMS + 1;
    assert_false(decodes(&s));
    s.terms = 1;
    s.beta = WIRE_MAX_COEF + 1;
    assert_false(decodes(&s));
    s.beta = 1;
    s.beta_value = INFINITY;
    assert_false(decodes(&s));
    s.beta_value = NAN;
    assert_false(decodes(&s));
    s.beta_value = 0;
    s.model_id_len = WIRE_QUERY_ID_LEN + 1;
    assert_false(decodes(&s));
    s.model_id_len = 0;
    assert_true(decodes(&s));
}

/*
 * A query with n prev_answers of len bytes each and aud audience names of
 * WIRE_MAX_STRING bytes; returns 1 if wire_query_decode accepts it.
 */
static int
model_round_decodes(size_t n, size_t len, size_t aud, size_t *packed)
{
    char err[FEDRA_ERRLEN];
    uint8_t id[WIRE_QUERY_ID_LEN] = {0};
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    spec.kind = FEDRA__KIND__KIND_COX;
    ProtobufCBinaryData *pa = calloc(n + 1, sizeof *pa);
    uint8_t *bytes = calloc(len + 1, 1);
    for (size_t i = 0; i < n; i++) {
        pa[i].data = bytes;
        pa[i].len = len;
    }
    spec.n_prev_answers = n;
    spec.prev_answers = pa;
    char *name = malloc(WIRE_MAX_STRING + 1);
    memset(name, 'a', WIRE_MAX_STRING);
    name[WIRE_MAX_STRING] = 0;
    char **names = calloc(aud + 1, sizeof *names);
    for (size_t i = 0; i < aud; i++)
        names[i] = name;
    Fedra__QueryBody q = FEDRA__QUERY_BODY__INIT;
    q.context = (char *)WIRE_QUERY_CONTEXT;
    q.query_id.data = id;
    q.query_id.len = sizeof id;
    q.analyst = (char *)"alice";
    q.n_audience = aud;
    q.audience = names;
    q.spec = &spec;
    struct buf b = {0};
    wire_pack(&q.base, &b);
    *packed = b.len;
    Fedra__QueryBody *d = wire_query_decode(b.p, b.len, err);
    int ok = d != NULL;
    wire_query_free(d);
    buf_release(&b);
    free(names);
    free(name);
    free(bytes);
    free(pa);
    return ok;
}

/*
 * WIRE_MAX_PREV_ANSWERS answers are read, one more is refused; a model round
 * may be up to WIRE_MAX_MODEL_QUERY bytes, but a query without answers stays
 * within WIRE_MAX_QUERY.
 */
static void
query_prev_answers_limits(void **state)
{
    (void)state;
    size_t len;
    assert_true(model_round_decodes(WIRE_MAX_PREV_ANSWERS, 16, 0, &len));
    assert_false(model_round_decodes(WIRE_MAX_PREV_ANSWERS + 1, 16, 0, &len));
    /* 256 audience names of 256 bytes: over WIRE_MAX_QUERY without answers ... */
    assert_false(model_round_decodes(0, 0, WIRE_MAX_AUDIENCE, &len));
    assert_true(len > WIRE_MAX_QUERY);
    /* ... and read with them */
    assert_true(model_round_decodes(1, 16, WIRE_MAX_AUDIENCE, &len));
    /* a model round up to WIRE_MAX_MODEL_QUERY, not one past it */
    size_t each = (WIRE_MAX_MODEL_QUERY - 256) / WIRE_MAX_PREV_ANSWERS;
    assert_true(model_round_decodes(WIRE_MAX_PREV_ANSWERS, each - 8, 0, &len));
    assert_true(len <= WIRE_MAX_MODEL_QUERY);
    assert_false(model_round_decodes(WIRE_MAX_PREV_ANSWERS, each + 64, 0, &len));
    assert_true(len > WIRE_MAX_MODEL_QUERY);
}

static void
size_cap_checked_before_unpacking(void **state)
{
    (void)state;
    char err[FEDRA_ERRLEN];
    size_t n = WIRE_MAX_QUERY + 1;
    uint8_t *junk = calloc(n, 1);
    assert_null(wire_envelope_decode(junk, n, WIRE_MAX_QUERY, err));
    assert_non_null(strstr(err, "limit"));
    /* At the cap the bytes are parsed (and here refused as malformed, not as too big). */
    assert_null(wire_envelope_decode(junk, WIRE_MAX_QUERY, WIRE_MAX_QUERY, err));
    assert_null(strstr(err, "limit"));
    free(junk);
}

static void
unknown_field_is_refused(void **state)
{
    (void)state;
    struct buf b = {0};
    char err[FEDRA_ERRLEN];
    pack_query(&ok_shape, &b);
    const uint8_t extra[] = {0x78, 0x05};      /* field 15, varint 5: not in QueryBody */
    buf_append(&b, extra, sizeof extra);
    assert_null(wire_query_decode(b.p, b.len, err));
    assert_non_null(strstr(err, "unknown field"));
    buf_release(&b);
}

static void
truncated_message_is_refused(void **state)
{
    (void)state;
    struct buf b = {0};
    char err[FEDRA_ERRLEN];
    pack_query(&ok_shape, &b);
    for (size_t cut = 1; cut < 8; cut++)
        assert_null(wire_query_decode(b.p, b.len - cut, err));
    buf_release(&b);
}

static void
wrong_context_is_refused(void **state)
{
    (void)state;
    /* A response body offered as a query body (domain separation). */
    Fedra__ResponseBody r = FEDRA__RESPONSE_BODY__INIT;
    uint8_t h[WIRE_HASH_LEN] = {0};
    r.context = (char *)WIRE_RESPONSE_CONTEXT;
    r.query_hash.data = h;
    r.query_hash.len = sizeof h;
    r.status = FEDRA__STATUS__STATUS_OK;
    r.node = (char *)"DE";
    struct buf b = {0};
    char err[FEDRA_ERRLEN];
    wire_pack(&r.base, &b);
    assert_null(wire_query_decode(b.p, b.len, err));
    Fedra__ResponseBody *d = wire_response_decode(b.p, b.len, err);
    assert_non_null(d);
    wire_response_free(d);
    buf_release(&b);
}

/* A pooled fit's round message: rounds 2 .. WIRE_MAX_POOL_ROUNDS, 1 .. WIRE_MAX_AUDIENCE answers. */
static void
pool_round_limits(void **state)
{
    (void)state;
    char err[FEDRA_ERRLEN];
    uint8_t q[8] = "query", ans[64] = "a PoolAnswer"; /* the memory budget is 4 x the bytes */
    ProtobufCBinaryData *a = calloc(WIRE_MAX_AUDIENCE + 1, sizeof *a);
    for (size_t i = 0; i <= WIRE_MAX_AUDIENCE; i++)
        a[i] = (ProtobufCBinaryData){sizeof ans, ans};
    Fedra__PoolRound r = FEDRA__POOL_ROUND__INIT;
    r.query = (ProtobufCBinaryData){sizeof q, q};
    r.answers = a;
    const struct { uint32_t round; size_t n; int ok; } cases[] = {
        {2, 1, 1}, {WIRE_MAX_POOL_ROUNDS, WIRE_MAX_AUDIENCE, 1}, {1, 1, 0},
        {WIRE_MAX_POOL_ROUNDS + 1, 1, 0}, {2, 0, 0}, {2, WIRE_MAX_AUDIENCE + 1, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct buf b = {0};
        r.round = cases[k].round;
        r.n_answers = cases[k].n;
        wire_pack(&r.base, &b);
        Fedra__PoolRound *d = wire_poolround_decode(b.p, b.len, err);
        if ((d != NULL) != cases[k].ok)
            print_message("case %zu: %s\n", k, err);
        assert_int_equal(d != NULL, cases[k].ok);
        wire_poolround_free(d);
        buf_release(&b);
    }
    /* A release of a fit: nodes x rounds commitments, at most WIRE_MAX_POOL_ROUNDS rounds. */
    uint8_t h[WIRE_HASH_LEN] = {0};
    char *nodes[2] = {(char *)"AA", (char *)"BB"};
    Fedra__ModelResult m = FEDRA__MODEL_RESULT__INIT, *mp[WIRE_MAX_POOL_ROUNDS + 1];
    ProtobufCBinaryData c[2 * (WIRE_MAX_POOL_ROUNDS + 1)];
    for (size_t k = 0; k <= WIRE_MAX_POOL_ROUNDS; k++)
        mp[k] = &m;
    for (size_t k = 0; k < 2 * (WIRE_MAX_POOL_ROUNDS + 1); k++)
        c[k] = (ProtobufCBinaryData){sizeof h, h};
    Fedra__PoolRelease rel = FEDRA__POOL_RELEASE__INIT;
    rel.context = (char *)WIRE_POOL_RELEASE_CONTEXT;
    rel.query_hash = (ProtobufCBinaryData){sizeof h, h};
    rel.hub = (char *)"hub";
    rel.nodes = nodes;
    rel.n_nodes = 2;
    rel.commitments = c;
    rel.rounds = mp;
    for (size_t n = WIRE_MAX_POOL_ROUNDS; n <= WIRE_MAX_POOL_ROUNDS + 1; n++) {
        struct buf b = {0};
        rel.n_rounds = n;
        rel.n_commitments = 2 * n;
        wire_pack(&rel.base, &b);
        Fedra__PoolRelease *d = wire_poolrelease_decode(b.p, b.len, err);
        assert_int_equal(d != NULL, n == WIRE_MAX_POOL_ROUNDS);
        wire_poolrelease_free(d);
        /* commitments must be nodes x rounds */
        rel.n_commitments = 2 * n - 1;
        b.len = 0;
        wire_pack(&rel.base, &b);
        assert_null(wire_poolrelease_decode(b.p, b.len, err));
        buf_release(&b);
    }
    free(a);
}

/* security.md §4: 1 MiB of empty sub-messages took 52 MiB; here it must stop early. */
static void
allocation_bomb_stops_at_the_budget_or_count_limit(void **state)
{
    (void)state;
    size_t n = 1u << 19;
    uint8_t *p = malloc(2 * n);
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = 0x0a;                      /* field 1 (cells), length-delimited */
        p[2 * i + 1] = 0x00;                  /* empty Cell */
    }
    char err[FEDRA_ERRLEN];
    Fedra__CountResult *m = (Fedra__CountResult *)protobuf_c_message_unpack(
        &fedra__count_result__descriptor, NULL, 16, p);   /* sanity: small prefix parses */
    assert_non_null(m);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    /* Wrapped as a response's count result, the whole thing must be refused. */
    struct buf b = {0};
    const uint8_t ctx[] = {0x0a, 17};
    buf_append(&b, ctx, sizeof ctx);
    buf_puts(&b, WIRE_RESPONSE_CONTEXT);
    const uint8_t qh[] = {0x12, 32};
    buf_append(&b, qh, sizeof qh);
    for (int i = 0; i < 32; i++)
        buf_append(&b, "", 1);
    const uint8_t st[] = {0x30, 0x01};
    buf_append(&b, st, sizeof st);
    /* field 11 (count), length = 2n as a varint */
    uint8_t hdr[8] = {0x5a};
    size_t len = 2 * n, k = 1;
    while (len >= 0x80) {
        hdr[k++] = (uint8_t)(len | 0x80);
        len >>= 7;
    }
    hdr[k++] = (uint8_t)len;
    buf_append(&b, hdr, k);
    buf_append(&b, p, 2 * n);
    Fedra__ResponseBody *r = wire_response_decode(b.p, b.len, err);
    assert_null(r);
    buf_release(&b);
    free(p);
}

static void
envelope_checks_version_and_signature_length(void **state)
{
    (void)state;
    uint8_t body[4] = {1, 2, 3, 4}, sig[PKI_SIG_LEN] = {0}, cert[10] = {0};
    Fedra__Envelope e = FEDRA__ENVELOPE__INIT;
    e.version = WIRE_VERSION;
    e.body.data = body;
    e.body.len = sizeof body;
    e.signature.data = sig;
    e.signature.len = sizeof sig;
    e.signer_cert.data = cert;
    e.signer_cert.len = sizeof cert;
    struct buf b = {0};
    char err[FEDRA_ERRLEN];
    wire_pack(&e.base, &b);
    Fedra__Envelope *d = wire_envelope_decode(b.p, b.len, WIRE_MAX_QUERY, err);
    assert_non_null(d);
    wire_envelope_free(d);
    buf_release(&b);
    e.version = WIRE_VERSION + 1;
    wire_pack(&e.base, &b);
    assert_null(wire_envelope_decode(b.p, b.len, WIRE_MAX_QUERY, err));
    assert_non_null(strstr(err, "version"));
    buf_release(&b);
    e.version = WIRE_VERSION;
    e.signature.len = PKI_SIG_LEN - 1;
    wire_pack(&e.base, &b);
    assert_null(wire_envelope_decode(b.p, b.len, WIRE_MAX_QUERY, err));
    buf_release(&b);
}

/* Envelope.chain: PKI_MAX_CHAIN certificates of 1..PKI_MAX_CERT_DER bytes; one more is refused. */
static int
envelope_with_chain(size_t n, size_t certlen, char *err)
{
    uint8_t body[4] = {1, 2, 3, 4}, sig[PKI_SIG_LEN] = {0}, cert[10] = {0};
    uint8_t *big = calloc(1, certlen + 1);
    ProtobufCBinaryData chain[PKI_MAX_CHAIN + 1];
    for (size_t i = 0; i < n; i++) {
        chain[i].data = big;
        chain[i].len = certlen;
    }
    Fedra__Envelope e = FEDRA__ENVELOPE__INIT;
    e.version = WIRE_VERSION;
    e.body.data = body;
    e.body.len = sizeof body;
    e.signature.data = sig;
    e.signature.len = sizeof sig;
    e.signer_cert.data = cert;
    e.signer_cert.len = sizeof cert;
    e.n_chain = n;
    e.chain = chain;
    struct buf b = {0};
    wire_pack(&e.base, &b);
    Fedra__Envelope *d = wire_envelope_decode(b.p, b.len, WIRE_MAX_QUERY, err);
    int ok = d != NULL && d->n_chain == n;
    wire_envelope_free(d);
    buf_release(&b);
    free(big);
    return ok;
}

static void
envelope_chain_at_limit_and_one_past(void **state)
{
    (void)state;
    char err[FEDRA_ERRLEN];
    assert_true(envelope_with_chain(0, 1, err));
    assert_true(envelope_with_chain(PKI_MAX_CHAIN, PKI_MAX_CERT_DER, err));
    assert_false(envelope_with_chain(PKI_MAX_CHAIN + 1, 100, err));
    char want[128];
    snprintf(want, sizeof want, "Envelope.chain has %d entries (limit %d)", PKI_MAX_CHAIN + 1,
        PKI_MAX_CHAIN);
    assert_non_null(strstr(err, want));
    assert_false(envelope_with_chain(1, PKI_MAX_CERT_DER + 1, err));
    snprintf(want, sizeof want, "chain certificate 1 is %d bytes", PKI_MAX_CERT_DER + 1);
    assert_non_null(strstr(err, want));
    assert_false(envelope_with_chain(1, 0, err));
    assert_non_null(strstr(err, "chain certificate 1 is 0 bytes"));
    /* A full chain of maximal certificates still fits a query. */
    assert_true((1 + PKI_MAX_CHAIN) * PKI_MAX_CERT_DER + PKI_SIG_LEN < WIRE_MAX_QUERY / 2);
}

/* Packed repeated scalars (life-table columns) decode intact; their count limit holds. */
static int
km_response_decodes(size_t rows)
{
    int32_t *t = calloc(rows + 1, sizeof *t);
    uint64_t *d = calloc(rows + 1, sizeof *d);
    for (size_t i = 0; i < rows; i++) {
        t[i] = (int32_t)(30 * i);
        d[i] = i % 7;
    }
    Fedra__LifeTable lt = FEDRA__LIFE_TABLE__INIT;
    lt.n = 1;
    lt.n_time = lt.n_events = lt.n_censored = rows;
    lt.time = t;
    lt.events = d;
    lt.censored = d;
    Fedra__LifeTable *ltp = &lt;
    Fedra__KmResult km = FEDRA__KM_RESULT__INIT;
    km.n_strata = 1;
    km.strata = &ltp;
    Fedra__ResponseBody r = FEDRA__RESPONSE_BODY__INIT;
    uint8_t h[WIRE_HASH_LEN] = {0};
    r.context = (char *)WIRE_RESPONSE_CONTEXT;
    r.query_hash.data = h;
    r.query_hash.len = sizeof h;
    r.status = FEDRA__STATUS__STATUS_OK;
    r.km = &km;
    struct buf b = {0};
    char err[FEDRA_ERRLEN];
    wire_pack(&r.base, &b);
    Fedra__ResponseBody *got = wire_response_decode(b.p, b.len, err);
    int ok = got != NULL && got->km->strata[0]->n_time == rows &&
             (rows == 0 || (got->km->strata[0]->time[rows - 1] == t[rows - 1] &&
                            got->km->strata[0]->events[rows - 1] == d[rows - 1]));
    wire_response_free(got);
    buf_release(&b);
    free(t);
    free(d);
    return ok;
}

static void
life_table_columns_round_trip_and_are_capped(void **state)
{
    (void)state;
    assert_true(km_response_decodes(1000));
    assert_true(km_response_decodes(WIRE_MAX_ROWS));
    assert_false(km_response_decodes(WIRE_MAX_ROWS + 1));
}

static void
time_window_edges_and_overflow(void **state)
{
    (void)state;
    char err[FEDRA_ERRLEN];
    const int64_t now = 1800000000000LL, skew = 120000;
    assert_null(wire_check_times(now, now + 600000, now, skew, err));
    assert_string_equal(wire_check_times(now, now + 600001, now, skew, err), "clock");
    assert_string_equal(wire_check_times(now, now, now, skew, err), "clock");
    assert_null(wire_check_times(now + skew, now + skew + 1, now, skew, err));      /* skew edge */
    assert_string_equal(wire_check_times(now + skew + 1, now + skew + 2, now, skew, err), "clock");
    assert_null(wire_check_times(now - skew - 10, now - skew, now, skew, err));
    assert_string_equal(wire_check_times(now - skew - 10, now - skew - 1, now, skew, err),
        "expired");
    /* Times chosen to overflow the arithmetic are refused before it (once let a replay live). */
    assert_string_equal(wire_check_times(-1, INT64_MAX, now, skew, err), "clock");
    assert_string_equal(wire_check_times(INT64_MIN, now, now, skew, err), "clock");
    assert_null(wire_check_times(WIRE_MAX_TIME_MS - 1, WIRE_MAX_TIME_MS, WIRE_MAX_TIME_MS, skew, err));
    assert_string_equal(wire_check_times(now, WIRE_MAX_TIME_MS + 1, now, skew, err), "clock");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_round_trip),
        cmocka_unit_test(limits_at_boundary_and_one_past),
        cmocka_unit_test(query_model_limits),
        cmocka_unit_test(query_prev_answers_limits),
        cmocka_unit_test(size_cap_checked_before_unpacking),
        cmocka_unit_test(unknown_field_is_refused),
        cmocka_unit_test(truncated_message_is_refused),
        cmocka_unit_test(wrong_context_is_refused),
        cmocka_unit_test(pool_round_limits),
        cmocka_unit_test(allocation_bomb_stops_at_the_budget_or_count_limit),
        cmocka_unit_test(envelope_checks_version_and_signature_length),
        cmocka_unit_test(envelope_chain_at_limit_and_one_past),
        cmocka_unit_test(life_table_columns_round_trip_and_are_capped),
        cmocka_unit_test(time_window_edges_and_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
