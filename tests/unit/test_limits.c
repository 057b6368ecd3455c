/*
 * test_limits - the named limits that test_wire, test_config and
 * test_snapshot do not already take to their boundary and one past:
 *   WIRE_CURVE_OVERHEAD   over a real CURVE connection: a WIRE_MAX_MODEL_QUERY-
 *                         byte message (the node's frame limit) arrives, one
 *                         byte more costs the connection;
 *   WIRE_MAX_RESPONSE     the size check before unpacking a response;
 *   WIRE_MAX_CELLS        cells in a count answer (the largest honest answer,
 *                         4 levels a cell, also fits the decode budget);
 *   WIRE_MAX_STRATA       strata in a KM answer;
 *   WIRE_MAX_REASON, WIRE_MAX_STRING  on the response side;
 *   WIRE_BUDGET_FACTOR    the heaviest honest query (every repeated field at
 *                         its limit, empty strings: the most allocations per
 *                         byte) decodes within the budget;
 *   clock_skew_seconds, replay_cache_max, time_grid_days, query_audit in the
 *                         node config.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "lib/util.h"
#include "node/config.h"
#include "proto/wire.h"

/* ---- CURVE framing: ZMQ_MAXMSGSIZE counts 33 bytes more than the plaintext ---- */

/* Send n bytes from a fresh CURVE client; 1 if the server received them. */
static int
curve_delivers(void *ctx, void *server, const char *ep, const char *spub, size_t n)
{
    char pub[41], sec[41];
    zmq_curve_keypair(pub, sec);
    void *c = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, spub, 40);
    zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, pub, 40);
    zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, sec, 40);
    zmq_setsockopt(c, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(c, ep);
    uint8_t *m = calloc(n, 1);
    zmq_send(c, m, n, 0);
    free(m);
    zmq_pollitem_t it = {server, 0, ZMQ_POLLIN, 0};
    int got = 0;
    if (zmq_poll(&it, 1, 3000) > 0) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        zmq_msg_recv(&id, server, 0);
        zmq_msg_recv(&body, server, 0);
        got = zmq_msg_size(&body) == n;
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    zmq_close(c);
    return got;
}

static void
curve_overhead_boundary(void **state)
{
    (void)state;
    char spub[41], ssec[41], ep[64];
    zmq_curve_keypair(spub, ssec);
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1;
    int64_t max = (int64_t)WIRE_MAX_MODEL_QUERY + WIRE_CURVE_OVERHEAD;  /* as node/serve.c */
    zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, ssec, 40);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    assert_int_equal(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    size_t el = sizeof ep;
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &el);
    assert_true(curve_delivers(ctx, s, ep, spub, WIRE_MAX_MODEL_QUERY));
    assert_false(curve_delivers(ctx, s, ep, spub, WIRE_MAX_MODEL_QUERY + 1));
    assert_true(curve_delivers(ctx, s, ep, spub, 1));     /* and the server goes on */
    zmq_close(s);
    zmq_ctx_term(ctx);
}

/* ---- response side ---- */

static void
response_size_checked_before_unpacking(void **state)
{
    (void)state;
    char err[FEDRA_ERRLEN] = "";
    uint8_t *junk = calloc(WIRE_MAX_RESPONSE + 1, 1);
    memset(junk, 0xff, WIRE_MAX_RESPONSE + 1);
    assert_null(wire_envelope_decode(junk, WIRE_MAX_RESPONSE + 1, WIRE_MAX_RESPONSE, err));
    assert_non_null(strstr(err, "larger than"));
    assert_null(wire_envelope_decode(junk, WIRE_MAX_RESPONSE, WIRE_MAX_RESPONSE, err));
    assert_null(strstr(err, "larger than"));           /* refused as malformed, not for size */
    free(junk);
}

/* A response body around one result part; returns 1 if it decodes. */
static int
response_decodes(Fedra__CountResult *count, Fedra__KmResult *km, const char *node,
    const char *reason, size_t *packed)
{
    uint8_t h[WIRE_HASH_LEN] = {0};
    Fedra__ResponseBody r = FEDRA__RESPONSE_BODY__INIT;
    r.context = (char *)WIRE_RESPONSE_CONTEXT;
    r.query_hash.data = h;
    r.query_hash.len = sizeof h;
    r.node = (char *)node;
    r.reason = (char *)reason;
    r.status = reason[0] ? FEDRA__STATUS__STATUS_REFUSED : FEDRA__STATUS__STATUS_OK;
    r.count = count;
    r.km = km;
    struct buf b = {0};
    char err[FEDRA_ERRLEN];
    wire_pack(&r.base, &b);
    if (packed)
        *packed = b.len;
    Fedra__ResponseBody *d = wire_response_decode(b.p, b.len, err);
    int ok = d != NULL;
    if (!ok)
        print_message("decode: %s\n", err);
    wire_response_free(d);
    buf_release(&b);
    return ok;
}

static int
cells_decode(size_t n, size_t nlevels, size_t *packed)
{
    static char *levels[4] = {(char *)"desmoplastic_small_round_cell_tumour",
        (char *)"metastatic", (char *)"unknown", (char *)"15-19"};
    Fedra__Cell *c = calloc(n, sizeof *c);
    Fedra__Cell **cp = calloc(n, sizeof *cp);
    for (size_t i = 0; i < n; i++) {
        fedra__cell__init(&c[i]);
        c[i].n_levels = nlevels;
        c[i].levels = levels;
        c[i].count = 100000 + i;
        cp[i] = &c[i];
    }
    Fedra__CountResult cr = FEDRA__COUNT_RESULT__INIT;
    cr.n_cells = n;
    cr.cells = cp;
    int ok = response_decodes(&cr, NULL, "AA", "", packed);
    free(c);
    free(cp);
    return ok;
}

static void
count_cells_boundary(void **state)
{
    (void)state;
    size_t packed = 0;
    assert_true(cells_decode(WIRE_MAX_CELLS, 4, &packed));
    /* The largest count answer a node can send fits the response limit. */
    assert_true(packed < WIRE_MAX_RESPONSE - WIRE_MAX_ENVELOPE_OVERHEAD);
    print_message("largest count answer: %zu bytes\n", packed);
    assert_false(cells_decode(WIRE_MAX_CELLS + 1, 1, NULL));
}

static int
strata_decode(size_t n)
{
    int32_t t[2] = {30, 60};
    uint64_t e[2] = {1, 2};
    char *lv[1] = {(char *)"level"};
    Fedra__LifeTable *lt = calloc(n, sizeof *lt);
    Fedra__LifeTable **lp = calloc(n, sizeof *lp);
    for (size_t i = 0; i < n; i++) {
        fedra__life_table__init(&lt[i]);
        lt[i].n_levels = 1;
        lt[i].levels = lv;
        lt[i].n = 10;
        lt[i].n_time = lt[i].n_events = lt[i].n_censored = 2;
        lt[i].time = t;
        lt[i].events = e;
        lt[i].censored = e;
        lp[i] = &lt[i];
    }
    Fedra__KmResult km = FEDRA__KM_RESULT__INIT;
    km.n_strata = n;
    km.strata = lp;
    km.grid_days = 30;
    int ok = response_decodes(NULL, &km, "AA", "", NULL);
    free(lt);
    free(lp);
    return ok;
}

static void
km_strata_boundary(void **state)
{
    (void)state;
    assert_true(strata_decode(WIRE_MAX_STRATA));
    assert_false(strata_decode(WIRE_MAX_STRATA + 1));
}

static void
response_strings_boundary(void **state)
{
    (void)state;
    char reason[WIRE_MAX_REASON + 2], name[WIRE_MAX_STRING + 2];
    memset(reason, 'r', sizeof reason);
    memset(name, 'n', sizeof name);
    reason[WIRE_MAX_REASON] = 0;
    name[WIRE_MAX_STRING] = 0;
    assert_true(response_decodes(NULL, NULL, name, reason, NULL));
    reason[WIRE_MAX_REASON] = 'r';
    reason[WIRE_MAX_REASON + 1] = 0;
    assert_false(response_decodes(NULL, NULL, "AA", reason, NULL));
    name[WIRE_MAX_STRING] = 'n';
    name[WIRE_MAX_STRING + 1] = 0;
    assert_false(response_decodes(NULL, NULL, name, "x", NULL));
}

/* ---- the decode budget holds the heaviest honest query ---- */

static void
heaviest_honest_query_fits_the_budget(void **state)
{
    (void)state;
    static char nm[WIRE_MAX_STRING + 1];
    memset(nm, 'n', WIRE_MAX_STRING);
    char *vals[WIRE_MAX_VALUES], *aud[WIRE_MAX_AUDIENCE], *gb[WIRE_MAX_GROUP_BY];
    for (size_t i = 0; i < WIRE_MAX_VALUES; i++)
        vals[i] = (char *)"";               /* empty strings: most items per byte */
    for (size_t i = 0; i < WIRE_MAX_AUDIENCE; i++)
        aud[i] = (char *)"";                /* empty strings: most items per byte */
    for (size_t i = 0; i < WIRE_MAX_GROUP_BY; i++)
        gb[i] = (char *)"";
    Fedra__Filter f[WIRE_MAX_FILTERS], *fp[WIRE_MAX_FILTERS];
    for (size_t i = 0; i < WIRE_MAX_FILTERS; i++) {
        fedra__filter__init(&f[i]);
        f[i].var = (char *)"";
        f[i].op = FEDRA__OP__OP_IN;
        f[i].n_values = WIRE_MAX_VALUES;
        f[i].values = vals;
        fp[i] = &f[i];
    }
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    spec.n_group_by = WIRE_MAX_GROUP_BY;
    spec.group_by = gb;
    spec.n_where = WIRE_MAX_FILTERS;
    spec.where = fp;
    uint8_t id[WIRE_QUERY_ID_LEN] = {0};
    Fedra__QueryBody q = FEDRA__QUERY_BODY__INIT;
    q.context = (char *)WIRE_QUERY_CONTEXT;
    q.query_id.data = id;
    q.query_id.len = sizeof id;
    q.issued_at_ms = 1;
    q.expires_at_ms = 2;
    q.n_audience = WIRE_MAX_AUDIENCE;
    q.audience = aud;
    q.analyst = nm;
    q.spec = &spec;
    struct buf b = {0};
    char err[FEDRA_ERRLEN] = "";
    wire_pack(&q.base, &b);
    assert_true(b.len <= WIRE_MAX_QUERY - WIRE_MAX_ENVELOPE_OVERHEAD);
    print_message("heaviest honest query body: %zu bytes, %d items\n", b.len,
        WIRE_MAX_FILTERS * (WIRE_MAX_VALUES + 1) + WIRE_MAX_AUDIENCE + WIRE_MAX_GROUP_BY);
    Fedra__QueryBody *d = wire_query_decode(b.p, b.len, err);
    if (d == NULL)
        print_message("decode: %s\n", err);
    assert_non_null(d);
    assert_int_equal(d->spec->n_where, WIRE_MAX_FILTERS);
    wire_query_free(d);
    buf_release(&b);
}

/* ---- node config limits ---- */

static int
config_with(const char *line, struct node_config *c, char *err)
{
    char dir[] = "/tmp/test_limits.XXXXXX", path[64];
    if (mkdtemp(dir) == NULL)
        return -2;
    snprintf(path, sizeof path, "%s/node.conf", dir);
    struct buf b = {0};
    buf_printf(&b, "db = s.db\nlisten = tcp://127.0.0.1:*\ncert = n.crt\nkey = n.key\n"
        "ca_cert = ca.crt\ncrl = crl.pem\n%s\n", line);
    util_write_file(path, b.p, b.len, 0600, err);
    buf_release(&b);
    int rc = config_load(path, c, err);
    if (rc != 0)
        config_release(c);
    rm_rf(dir);
    return rc;
}

static void
config_bounds(void **state)
{
    (void)state;
    struct node_config c;
    char err[FEDRA_ERRLEN];
    char line[64];
    snprintf(line, sizeof line, "clock_skew_seconds = %d", CONFIG_MAX_SKEW_S);
    assert_int_equal(config_with(line, &c, err), 0);
    assert_int_equal(c.clock_skew_s, CONFIG_MAX_SKEW_S);
    config_release(&c);
    snprintf(line, sizeof line, "clock_skew_seconds = %d", CONFIG_MAX_SKEW_S + 1);
    assert_int_equal(config_with(line, &c, err), -1);
    assert_non_null(strstr(err, "from 0 to 3600"));
    assert_int_equal(config_with("replay_cache_max = 100", &c, err), 0);
    config_release(&c);
    assert_int_equal(config_with("replay_cache_max = 99", &c, err), -1);
    assert_int_equal(config_with("replay_cache_max = 100000000", &c, err), 0);
    config_release(&c);
    assert_int_equal(config_with("replay_cache_max = 100000001", &c, err), -1);
    snprintf(line, sizeof line, "time_grid_days = %d", DISCLOSE_MAX_GRID_DAYS);
    assert_int_equal(config_with(line, &c, err), 0);
    config_release(&c);
    snprintf(line, sizeof line, "time_grid_days = %d", DISCLOSE_MAX_GRID_DAYS + 1);
    assert_int_equal(config_with(line, &c, err), -1);
}

static void
config_query_audit(void **state)
{
    (void)state;
    struct node_config c;
    char err[FEDRA_ERRLEN];
    assert_int_equal(config_with("# default", &c, err), 0);
    assert_int_equal(c.query_audit, 1);               /* on unless switched off */
    config_release(&c);
    assert_int_equal(config_with("query_audit = off", &c, err), 0);
    assert_int_equal(c.query_audit, 0);
    config_release(&c);
    assert_int_equal(config_with("query_audit = on", &c, err), 0);
    assert_int_equal(c.query_audit, 1);
    config_release(&c);
    assert_int_equal(config_with("query_audit = no", &c, err), -1);
    assert_non_null(strstr(err, "query_audit = 'no': must be on or off"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(curve_overhead_boundary),
        cmocka_unit_test(response_size_checked_before_unpacking),
        cmocka_unit_test(count_cells_boundary),
        cmocka_unit_test(km_strata_boundary),
        cmocka_unit_test(response_strings_boundary),
        cmocka_unit_test(heaviest_honest_query_fits_the_budget),
        cmocka_unit_test(config_bounds),
        cmocka_unit_test(config_query_audit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
