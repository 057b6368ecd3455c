/*
 * test_witness - the audit log checked against the heads bundles witness
 * (node/witness.c), and the head kept by audit_append (node/audit.c).
 *
 * The fixture plays a node: a test CA (tests/unit/fixture.h) issues node
 * certificates DE and FR, and a rogue CA another DE.  Each test opens a store
 * whose log starts with DE's `started` entry (its name and certificate), then
 * answers N_ANSWERS queries as serve.c does: the signed response carries the
 * log's head, and the answer's own entry records the response's SHA-256.  FR
 * answers the same queries in the bundle (another node: skipped).  Logs are
 * cut as an intruder would, with the triggers dropped.
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

#include <jansson.h>
#include <sqlite3.h>

#include "certs/ca.h"
#include "lib/util.h"
#include "node/audit.h"
#include "node/store.h"
#include "node/witness.h"
#include "proto/wire.h"

#define N_ANSWERS (WITNESS_MAX_PROBLEMS + 3)   /* enough to pass the printed-problem cap */
#define T_2019_01_01 1546300800LL

enum signer { S_DE, S_FR, S_ROGUE, S_COUNT };
static const char *const signer_file[S_COUNT] = {"out/DE", "out/FR", "rogue-out/DE"};

struct fx {
    char dir[64];
    char db[128];
    char bundle[128];
    struct pki_key *key[S_COUNT];
    struct pki_cert *cert[S_COUNT];
    struct pki_trust *trust;
    struct store *s;
    sqlite3 *h;
    char problems[8192];
    struct witness_report rep;
    char err[FEDRA_ERRLEN];
};

static int
group_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "", p[160], q[160];
    struct ca *ca = NULL, *rogue = NULL;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_witness.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(p, sizeof p, "%s/ca", f->dir);
    snprintf(q, sizeof q, "%s/rogue", f->dir);
    if ((ca = fixture_ca(p, "witness test CA", CA_MAX_DAYS, T_2019_01_01, err)) == NULL ||
        (rogue = fixture_ca(q, "rogue CA", CA_MAX_DAYS, T_2019_01_01, err)) == NULL)
        goto fail;
    snprintf(p, sizeof p, "%s/out", f->dir);
    snprintf(q, sizeof q, "%s/rogue-out", f->dir);
    if (fixture_issue(ca, PKI_ROLE_NODE, "DE", p, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_NODE, "FR", p, NULL, err) != 0 ||
        fixture_issue(rogue, PKI_ROLE_NODE, "DE", q, NULL, err) != 0)
        goto fail;
    for (int i = 0; i < S_COUNT; i++)
        if ((f->key[i] = fixture_key(f->dir, signer_file[i], err)) == NULL ||
            (f->cert[i] = fixture_cert(f->dir, signer_file[i], err)) == NULL)
            goto fail;
    snprintf(p, sizeof p, "%s/ca/ca.crt", f->dir);
    if (pki_trust_load(p, NULL, 0, &f->trust, err) != 0)
        goto fail;
    ca_free(ca);
    ca_free(rogue);
    *state = f;
    return 0;
fail:
    fprintf(stderr, "setup: %s\n", err);
    ca_free(ca);
    ca_free(rogue);
    return -1;
}

static int
group_teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < S_COUNT; i++) {
        pki_key_free(f->key[i]);
        pki_cert_free(f->cert[i]);
    }
    pki_trust_free(f->trust);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* A signed response of signer's certificate and key, naming node, witnessing head. */
static void
seal_response(const struct fx *f, enum signer who, const char *node, const uint8_t qhash[32],
    int q, const struct audit_head *head, struct buf *out)
{
    Fedra__ResponseBody body;
    uint8_t qid[WIRE_QUERY_ID_LEN];
    fedra__response_body__init(&body);
    memset(qid, q, sizeof qid);
    body.context = (char *)WIRE_RESPONSE_CONTEXT;
    body.query_hash.data = (uint8_t *)qhash;
    body.query_hash.len = WIRE_HASH_LEN;
    body.query_id.data = qid;
    body.query_id.len = sizeof qid;
    body.node = (char *)node;
    body.answered_at_ms = util_now_ms();
    body.status = FEDRA__STATUS__STATUS_OK;
    body.audit_seq = (uint64_t)head->seq;
    body.audit_head.data = (uint8_t *)head->hash;
    body.audit_head.len = sizeof head->hash;
    struct buf b = {0};
    wire_pack(&body.base, &b);
    uint8_t sig[PKI_SIG_LEN];
    assert_int_equal(pki_sign(f->key[who], b.p, b.len, sig), 0);
    Fedra__Envelope env;
    fedra__envelope__init(&env);
    env.version = WIRE_VERSION;
    env.body.data = b.p;
    env.body.len = b.len;
    env.signature.data = sig;
    env.signature.len = sizeof sig;
    size_t dlen;
    env.signer_cert.data = (uint8_t *)pki_cert_der(f->cert[who], &dlen);
    env.signer_cert.len = dlen;
    out->len = 0;
    wire_pack(&env.base, out);
    buf_release(&b);
}

static json_t *
hex_json(const uint8_t *p, size_t n)
{
    char *h = xcalloc(2 * n + 1, 1);
    util_hex(p, n, h);
    json_t *s = json_string(h);
    free(h);
    return s;
}

/*
 * A fresh store whose log DE started (name, certificate) and answered
 * N_ANSWERS queries, each witnessing the head before its own entry; the
 * bundle holds them with FR's answers.  who signs DE's answers.
 */
static void
node_answers(struct fx *f, enum signer who)
{
    char err[FEDRA_ERRLEN] = "";
    struct audit_head head;
    snprintf(f->db, sizeof f->db, "%s/store.db", f->dir);
    snprintf(f->bundle, sizeof f->bundle, "%s/b.json", f->dir);
    unlink_db(f->db);
    assert_int_equal(store_open(f->db, 0, &f->s, err), 0);
    f->h = store_db(f->s);
    size_t dl;
    const uint8_t *der = pki_cert_der(f->cert[S_DE], &dl);
    struct audit_entry start = {util_now_ms(), "started", "", "DE", "fedra-node test", der, dl,
        NULL};
    assert_int_equal(audit_append(f->h, &start, &head, 0, err), 0);
    json_t *root = json_object(), *rounds = json_array(), *nodes = json_array(),
           *cmd = json_array();
    json_array_append_new(cmd, json_string("count"));
    json_array_append_new(nodes, json_string("DE"));
    json_array_append_new(nodes, json_string("FR"));
    struct buf env = {0};
    for (int q = 1; q <= N_ANSWERS; q++) {
        uint8_t query[8], qhash[32], rhash[32];
        char qid[2 * WIRE_QUERY_ID_LEN + 1];
        memset(query, q, sizeof query);
        wire_query_hash(query, sizeof query, qhash);
        json_t *r = json_object(), *resp = json_array(), *o = json_object();
        json_object_set_new(r, "query", hex_json(query, sizeof query));
        seal_response(f, who, "DE", qhash, q, &head, &env);
        json_object_set_new(o, "node", json_string("DE"));
        json_object_set_new(o, "envelope", hex_json(env.p, env.len));
        json_array_append_new(resp, o);
        pki_sha256(env.p, env.len, rhash);
        memset(qid, 0, sizeof qid);
        uint8_t qidb[WIRE_QUERY_ID_LEN];
        memset(qidb, q, sizeof qidb);
        util_hex(qidb, sizeof qidb, qid);
        struct audit_entry ae = {util_now_ms(), "answered", qid, "alice", "count", query,
            sizeof query, rhash};
        assert_int_equal(audit_append(f->h, &ae, &head, 1, err), 0);
        /* FR witnesses its own log, which is not this one. */
        struct audit_head fr = {q, {0}};
        memset(fr.hash, 0xfe, sizeof fr.hash);
        seal_response(f, S_FR, "FR", qhash, q, &fr, &env);
        o = json_object();
        json_object_set_new(o, "node", json_string("FR"));
        json_object_set_new(o, "envelope", hex_json(env.p, env.len));
        json_array_append_new(resp, o);
        json_object_set_new(r, "responses", resp);
        json_array_append_new(rounds, r);
    }
    buf_release(&env);
    json_object_set_new(root, "fedra_bundle", json_integer(1));
    json_object_set_new(root, "command", cmd);
    json_object_set_new(root, "nodes", nodes);
    json_object_set_new(root, "rounds", rounds);
    assert_int_equal(json_dump_file(root, f->bundle, 0), 0);
    json_decref(root);
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    store_free(f->s);
    f->s = NULL;
    unlink_db(f->db);
    return 0;
}

/* witness_check of the fixture's bundle; problems captured in f->problems. */
static int
check(struct fx *f, const struct pki_trust *trust, const char *node)
{
    char *paths[] = {f->bundle};
    memset(f->problems, 0, sizeof f->problems);
    FILE *pf = fmemopen(f->problems, sizeof f->problems - 1, "w");
    assert_non_null(pf);
    f->err[0] = 0;
    int rc = witness_check(f->h, trust, node, paths, 1, pf, &f->rep, f->err);
    fclose(pf);
    return rc;
}

static void
exec_ok(sqlite3 *h, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        print_error("%s: %s\n", sql, msg);
        sqlite3_free(msg);
        fail();
    }
}

static size_t
lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* audit_append keeps the head; a head that moved under a witness is refused, nothing written. */
static void
test_head_tracking(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    struct audit_head h0, h, now;
    snprintf(f->db, sizeof f->db, "%s/store.db", f->dir);
    assert_int_equal(store_open(f->db, 0, &f->s, err), 0);
    f->h = store_db(f->s);
    static const uint8_t zero[32];
    assert_int_equal(audit_head(f->h, &h0, err), 0);
    assert_int_equal(h0.seq, 0);
    assert_memory_equal(h0.hash, zero, 32);
    struct audit_entry e = {1000, "answered", "q", "alice", "r", NULL, 0, NULL};
    h = h0;
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(audit_append(f->h, &e, &h, 1, err), 0);
        assert_int_equal(audit_head(f->h, &now, err), 0);
        assert_int_equal(h.seq, i);
        assert_int_equal(now.seq, i);
        assert_memory_equal(h.hash, now.hash, 32);
        struct audit_record r;
        assert_int_equal(audit_entry_get(f->h, i, &r, err), 0);
        assert_memory_equal(r.hash, now.hash, 32);
        assert_false(r.has_rhash);
    }
    /* Another writer appends; the stale head is refused and refreshed. */
    struct audit_head stale = h;
    assert_int_equal(audit_append(f->h, &e, NULL, 0, err), 0);
    assert_int_equal(audit_append(f->h, &e, &stale, 1, err), AUDIT_MOVED);
    assert_int_equal(audit_head(f->h, &now, err), 0);
    assert_int_equal(now.seq, 4);
    assert_int_equal(stale.seq, 4);
    assert_memory_equal(stale.hash, now.hash, 32);
    assert_int_equal(audit_append(f->h, &e, &stale, 1, err), 0);
    assert_int_equal(stale.seq, 5);
    uint64_t n;
    assert_int_equal(audit_verify(f->h, &n, err), 0);
    assert_int_equal(n, 5);
    struct audit_record r;
    assert_int_equal(audit_entry_get(f->h, 6, &r, err), 1);
}

static void
test_intact(void **state)
{
    struct fx *f = *state;
    node_answers(f, S_DE);
    assert_int_equal(check(f, f->trust, NULL), 0);
    assert_int_equal(f->rep.checked, N_ANSWERS);
    assert_int_equal(f->rep.others, N_ANSWERS);
    assert_int_equal(f->rep.problems, 0);
    assert_int_equal(f->rep.highest, N_ANSWERS + 1);
    assert_int_equal(f->rep.log_end, N_ANSWERS + 1);
    assert_string_equal(f->rep.node, "DE");
    /* Without the CA: the certificate the started entry records vouches. */
    assert_int_equal(check(f, NULL, NULL), 0);
    assert_int_equal(f->rep.checked, N_ANSWERS);
    assert_string_equal(f->problems, "");
}

/* The last two answers' entries cut: the chain holds, the bundle does not. */
static void
test_cut_tail(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", want[320];
    uint64_t n;
    node_answers(f, S_DE);
    exec_ok(f->h, "DROP TRIGGER audit_no_delete");
    snprintf(want, sizeof want, "DELETE FROM audit WHERE seq > %d", N_ANSWERS - 1);
    exec_ok(f->h, want);
    assert_int_equal(audit_verify(f->h, &n, err), 0);
    assert_int_equal(check(f, f->trust, NULL), 1);
    assert_int_equal(f->rep.problems, 2);
    snprintf(want, sizeof want, "the log ends at entry %d, but bundle %s witnesses entry %d "
        "(the answer to query ", N_ANSWERS - 1, f->bundle, N_ANSWERS);
    assert_non_null(strstr(f->problems, want));
    assert_non_null(strstr(f->problems, "entries were removed"));
    assert_int_equal(lines(f->problems), 2);
}

/* Every answer's entry cut: one line per problem up to WITNESS_MAX_PROBLEMS, then a count. */
static void
test_problems_capped(void **state)
{
    struct fx *f = *state;
    char want[64];
    node_answers(f, S_DE);
    exec_ok(f->h, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq > 1");
    assert_int_equal(check(f, f->trust, NULL), 1);
    assert_int_equal(f->rep.problems, N_ANSWERS);
    assert_int_equal(lines(f->problems), WITNESS_MAX_PROBLEMS + 1);
    snprintf(want, sizeof want, "... and %d more problems\n", N_ANSWERS - WITNESS_MAX_PROBLEMS);
    assert_non_null(strstr(f->problems, want));
}

/* The last answer's own entry cut and the log written on: the chain holds, the bundle does not. */
static void
test_own_entry_replaced(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", want[320];
    uint64_t n;
    node_answers(f, S_DE);
    snprintf(want, sizeof want, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = %d",
        N_ANSWERS + 1);
    exec_ok(f->h, want);
    struct audit_entry e = {util_now_ms(), "refused", "", "mallory", "nothing to see", NULL, 0,
        NULL};
    assert_int_equal(audit_append(f->h, &e, NULL, 0, err), 0);
    assert_int_equal(audit_verify(f->h, &n, err), 0);
    assert_int_equal(check(f, f->trust, NULL), 1);
    assert_int_equal(f->rep.problems, 1);
    snprintf(want, sizeof want, "entry %d does not record the answer to query ", N_ANSWERS + 1);
    assert_non_null(strstr(f->problems, want));
    assert_non_null(strstr(f->problems, "(it is: refused, query -)"));
}

/* A rewritten head (entries re-hashed from some point on) no longer matches. */
static void
test_head_rewritten(void **state)
{
    struct fx *f = *state;
    char want[320];
    node_answers(f, S_DE);
    snprintf(want, sizeof want, "DROP TRIGGER audit_no_update; UPDATE audit SET entry_hash = "
        "zeroblob(32) WHERE seq = %d", N_ANSWERS);
    exec_ok(f->h, want);
    assert_int_equal(check(f, f->trust, NULL), 1);
    snprintf(want, sizeof want, "entry %d is not the entry bundle %s witnesses", N_ANSWERS,
        f->bundle);
    assert_non_null(strstr(f->problems, want));
}

/* A changed byte, or a certificate of another CA, fails before any entry is compared. */
static void
test_forged(void **state)
{
    struct fx *f = *state;
    node_answers(f, S_DE);
    json_error_t je;
    json_t *b = json_load_file(f->bundle, 0, &je);
    json_t *o = json_array_get(json_object_get(json_array_get(json_object_get(b, "rounds"), 0),
        "responses"), 0);
    char *e = xstrdup(json_string_value(json_object_get(o, "envelope")));
    size_t i = strlen(e) - 20;
    e[i] = e[i] == '0' ? '1' : '0';
    json_object_set_new(o, "envelope", json_string(e));
    free(e);
    assert_int_equal(json_dump_file(b, f->bundle, 0), 0);
    json_decref(b);
    assert_int_equal(check(f, f->trust, NULL), -1);
    assert_non_null(strstr(f->err, "round 1: node DE: "));
    assert_non_null(strstr(f->err, "the bundle is altered or not genuine"));
    assert_int_equal(check(f, NULL, NULL), -1);
}

static void
test_rogue_signer(void **state)
{
    struct fx *f = *state;
    node_answers(f, S_ROGUE);
    assert_int_equal(check(f, f->trust, NULL), -1);
    assert_non_null(strstr(f->err, "certificate rejected"));
    /*
     * Without the CA, answers the log holds vouch for themselves; others must
     * be signed with the certificate the started entry records.  A forger's
     * answers witnessing entries an honest log never had are refused.
     */
    assert_int_equal(check(f, NULL, NULL), 0);
    exec_ok(f->h, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq > 1");
    assert_int_equal(check(f, NULL, NULL), -1);
    assert_non_null(strstr(f->err, "a certificate this log does not record"));
}

/* --node names whose answers count: FR's do not witness DE's log. */
static void
test_other_node(void **state)
{
    struct fx *f = *state;
    node_answers(f, S_DE);
    assert_int_equal(check(f, f->trust, "FR"), 1);
    assert_int_equal(f->rep.checked, N_ANSWERS);
    assert_int_equal(f->rep.others, N_ANSWERS);
    assert_string_equal(f->rep.node, "FR");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_head_tracking, teardown),
        cmocka_unit_test_teardown(test_intact, teardown),
        cmocka_unit_test_teardown(test_cut_tail, teardown),
        cmocka_unit_test_teardown(test_problems_capped, teardown),
        cmocka_unit_test_teardown(test_own_entry_replaced, teardown),
        cmocka_unit_test_teardown(test_head_rewritten, teardown),
        cmocka_unit_test_teardown(test_forged, teardown),
        cmocka_unit_test_teardown(test_rogue_signer, teardown),
        cmocka_unit_test_teardown(test_other_node, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
