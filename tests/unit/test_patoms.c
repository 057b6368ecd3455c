/*
 * test_patoms - a node's rows per atom of the pooled auditor
 * (node/patoms.c): the counts it sends for a history and a new query equal
 * the atoms counted directly from its records (random records, fresh seed
 * each run), a query whose roster lacks the node puts none of its rows in a
 * set (the roster guard), and the history is taken only from queries an
 * analyst really signed: one signed by a node's key, one altered after
 * signing, and one that is not pooled are refused, naming the entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certs/ca.h"
#include "lib/util.h"
#include "node/certcache.h"
#include "node/import.h"
#include "node/patoms.h"
#include "node/snapshot.h"
#include "node/store.h"
#include "proto/atoms.h"
#include "proto/evidence.h"
#include "tests/unit/fixture.h"

#define NROWS 300
#define SELF "AA"

struct rec {
    int age, sex;                       /* age_years; sex 0 F, 1 M, 2 U */
};

struct fx {
    char dir[64];
    struct store *store;
    struct snapshot *snap;
    struct pki_trust *trust;
    struct pki_cert *ana, *node;
    struct pki_key *ana_key, *node_key;
    struct certcache *cc;
    struct rec r[NROWS];
};

static uint64_t rng_state;

static int
rnd(int n)                              /* xorshift64*, the run's seed */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (int)((rng_state * 0x2545F4914F6CDD1DULL >> 33) % (uint64_t)n);
}

static int
group_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "", p[160], q[160];
    struct ca *ca = NULL;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_patoms.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    /* Random records: age in days (age_years = floor(days / 365.25)) and sex. */
    struct buf csv = {0};
    buf_printf(&csv, "patient_id,eupid,sex,age_at_diagnosis_days,diagnosis_date,tumour_type,"
        "icdo3_morphology,icdo3_topography,stage,surgery,chemotherapy,radiotherapy,"
        "vital_status,last_contact_date,event_date\n");
    for (int i = 0; i < NROWS; i++) {
        int days = rnd(30 * 365);
        f->r[i].age = days * 4 / 1461;
        f->r[i].sex = rnd(3);
        buf_printf(&csv, "p%03d,,%c,%d,2010-01-01,melanoma,8720/3,C44.5,localized,yes,no,no,"
            "alive,2011-01-01,\n", i, "FMU"[f->r[i].sex], days);
    }
    snprintf(p, sizeof p, "%s/rows.csv", f->dir);
    snprintf(q, sizeof q, "%s/store.db", f->dir);
    struct import_opts o = {0};
    struct import_stats st;
    struct buf rep = {0};
    const char *paths[1] = {p};
    o.today = 20269;
    if (util_write_file(p, csv.p, csv.len, 0644, err) != 0 ||
        store_open(q, 0, &f->store, err) != 0 ||
        import_csv(f->store, paths, 1, &o, &st, &rep, err) != 0 ||
        snapshot_load(f->store, &f->snap, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/ca", f->dir);
    snprintf(q, sizeof q, "%s/out", f->dir);
    if ((ca = fixture_ca(p, "patoms test CA", 3650, 0, err)) == NULL ||
        fixture_issue(ca, PKI_ROLE_ANALYST, "ana", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_NODE, SELF, q, NULL, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/crl.pem", f->dir);
    if (fixture_crl(ca, p, err) != 0)
        goto fail;
    snprintf(q, sizeof q, "%s/ca/ca.crt", f->dir);
    if (pki_trust_load(q, p, 1, &f->trust, err) != 0)
        goto fail;
    snprintf(q, sizeof q, "%s/out", f->dir);
    if ((f->ana = fixture_cert(q, "ana", err)) == NULL ||
        (f->ana_key = fixture_key(q, "ana", err)) == NULL ||
        (f->node = fixture_cert(q, SELF, err)) == NULL ||
        (f->node_key = fixture_key(q, SELF, err)) == NULL)
        goto fail;
    f->cc = certcache_new();
    ca_free(ca);
    buf_release(&csv);
    buf_release(&rep);
    *state = f;
    return 0;
fail:
    fprintf(stderr, "setup: %s\n%.*s", err, (int)rep.len, rep.p ? (const char *)rep.p : "");
    ca_free(ca);
    buf_release(&csv);
    buf_release(&rep);
    return -1;
}

static int
group_teardown(void **state)
{
    struct fx *f = *state;
    snapshot_free(f->snap);
    store_free(f->store);
    pki_trust_free(f->trust);
    pki_cert_free(f->ana);
    pki_cert_free(f->node);
    pki_key_free(f->ana_key);
    pki_key_free(f->node_key);
    certcache_free(f->cc);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* A pooled query: age_years <= age (if age >= 0), sex = F (if f_only), by sex (if by). */
struct spec {
    int age, f_only, by, self_in;
};

static char s_var_age[] = "age_years", s_var_sex[] = "sex", s_f[] = "F", s_aa[] = SELF,
    s_bb[] = "BB", s_cc[] = "CC", s_ana[] = "ana", s_ctx[] = WIRE_QUERY_CONTEXT;

/* A query body of the analyst "ana" asking spec of the three nodes aud, packed into out. */
static void
pack_body(Fedra__QuerySpec *spec, char **aud, struct buf *out)
{
    uint8_t qid[WIRE_QUERY_ID_LEN] = {0};
    for (size_t k = 0; k < sizeof qid; k++)
        qid[k] = (uint8_t)rnd(256);
    Fedra__QueryBody b = FEDRA__QUERY_BODY__INIT;
    b.context = s_ctx;
    b.query_id.data = qid;
    b.query_id.len = sizeof qid;
    b.issued_at_ms = util_now_ms();
    b.expires_at_ms = b.issued_at_ms + 60000;
    b.audience = aud;
    b.n_audience = 3;
    b.analyst = s_ana;
    b.spec = spec;
    wire_pack(&b.base, out);
}

/* The body of spec s, packed into out; pooled unless not_pooled. */
static void
pack_query(const struct spec *s, int not_pooled, struct buf *out)
{
    char agebuf[16];
    snprintf(agebuf, sizeof agebuf, "%d", s->age);
    Fedra__Filter w[2] = {FEDRA__FILTER__INIT, FEDRA__FILTER__INIT};
    Fedra__Filter *wp[2];
    char *age_v[1] = {agebuf}, *sex_v[1] = {s_f};
    size_t nw = 0;
    if (s->age >= 0) {
        w[nw].var = s_var_age;
        w[nw].op = FEDRA__OP__OP_LE;
        w[nw].values = age_v;
        w[nw].n_values = 1;
        wp[nw] = &w[nw];
        nw++;
    }
    if (s->f_only) {
        w[nw].var = s_var_sex;
        w[nw].op = FEDRA__OP__OP_EQ;
        w[nw].values = sex_v;
        w[nw].n_values = 1;
        wp[nw] = &w[nw];
        nw++;
    }
    char *by[1] = {s_var_sex};
    char *aud_in[3] = {s_aa, s_bb, s_cc}, *aud_out[3] = {s_bb, s_cc, s_ana};
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    spec.kind = FEDRA__KIND__KIND_COUNT;
    spec.where = wp;
    spec.n_where = nw;
    spec.group_by = s->by ? by : NULL;
    spec.n_group_by = s->by ? 1 : 0;
    spec.pooled = !not_pooled;
    pack_body(&spec, s->self_in ? aud_in : aud_out, out);
}

/* The body of s, signed by cert/key: an Envelope, into out. */
static void
signed_query(const struct pki_cert *cert, const struct pki_key *key, const struct spec *s,
    int not_pooled, struct buf *out)
{
    struct buf body = {0};
    pack_query(s, not_pooled, &body);
    assert_int_equal(evidence_sign(cert, key, body.p, body.len, out), 0);
    buf_release(&body);
}

/* A record's digit against s (proto/atoms.h): 0, or its cell + 1 (sex levels F, M, U). */
static uint32_t
digit(const struct spec *s, const struct rec *r)
{
    if (!s->self_in || (s->age >= 0 && r->age > s->age) || (s->f_only && r->sex != 0))
        return 0;
    return s->by ? (uint32_t)r->sex + 1 : 1;
}

static void
counts_are_the_records_atoms(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    int a = 5 + rnd(20);
    /* History: by sex under an age; then one without this node (the roster guard); new:
     * the women. */
    struct spec s[3] = {{a, 0, 1, 1}, {a + 2, 0, 0, 0}, {-1, 1, 0, 1}};
    struct buf env[2] = {{0}, {0}};
    ProtobufCBinaryData hist[2];
    for (int i = 0; i < 2; i++) {
        signed_query(f->ana, f->ana_key, &s[i], 0, &env[i]);
        hist[i] = (ProtobufCBinaryData){env[i].len, env[i].p};
    }
    struct buf cur = {0};
    pack_query(&s[2], 0, &cur);
    Fedra__QueryBody *q = wire_query_decode(cur.p, cur.len, err);
    assert_non_null(q);
    uint64_t *v = NULL;
    size_t n = 0;
    assert_int_equal(patoms_count(f->snap, SELF, f->trust, f->cc, hist, 2, q, &v, &n, err), 0);
    /* The layout of the same three queries: each atom's digits (proto/atoms.h). */
    struct buf body[2] = {{0}, {0}};
    const Fedra__QueryBody *plan[3];
    Fedra__QueryBody *hb[2];
    for (int i = 0; i < 2; i++) {
        pack_query(&s[i], 0, &body[i]);
        plan[i] = hb[i] = wire_query_decode(body[i].p, body[i].len, err);
        assert_non_null(hb[i]);
    }
    plan[2] = q;
    struct atoms_layout X;
    assert_int_equal(atoms_layout(plan, 3, &X, err), 0);
    assert_int_equal(n, X.A.natoms);
    /* Summed over atoms by their digits, the counts are the records' own. */
    uint64_t want[16] = {0}, got[16] = {0};
    for (int i = 0; i < NROWS; i++)
        want[(digit(&s[0], &f->r[i]) * 2 + digit(&s[1], &f->r[i])) * 2 +
            digit(&s[2], &f->r[i])]++;
    want[0] = 0;                        /* rows in no set are not sent */
    uint64_t total = 0;
    for (size_t k = 0; k < n; k++) {
        const uint32_t *d = X.digit;
        size_t at = (d[k] * 2 + d[n + k]) * 2 + d[2 * n + k];
        assert_true(d[k] < 4 && d[n + k] < 2 && d[2 * n + k] < 2);
        got[at] += v[k];
        total += v[k];
        /* The node is not in query 2's roster: no atom with its rows has digit 1 there. */
        if (d[n + k] == 1)
            assert_true(v[k] == 0);
    }
    assert_memory_equal(got, want, sizeof want);
    assert_true(total > 0);
    /* Rows only at canonical atoms (the first with their digits): the hub learns the
     * sets' intersections, no finer classes (proto/atoms.h atoms_canonical). */
    uint32_t *canon = xcalloc(n, sizeof *canon);
    atoms_canonical(&X, canon);
    size_t nonzero = 0;
    for (size_t k = 0; k < n; k++) {
        for (size_t j = 0; j < 3; j++)
            assert_int_equal(X.digit[j * n + canon[k]], X.digit[j * n + k]);
        assert_true(canon[k] <= k);
        if (v[k] != 0) {
            assert_int_equal(canon[k], k);
            nonzero++;
        }
    }
    size_t distinct = 0;
    for (size_t c = 0; c < 16; c++)
        distinct += want[c] != 0;
    assert_int_equal(nonzero, distinct);
    /* Without it (each row at its own class atom) the hub would learn more: age
     * a+1 .. a+2 apart from older, which no released set tells apart. */
    const struct atoms_dim *sd = atoms_var_dim(&X, VAR_SEX), *ad = atoms_var_dim(&X,
        VAR_AGE_YEARS);
    uint64_t *raw = xcalloc(n, sizeof *raw);
    size_t rawnz = 0;
    int mid = 0, old = 0;
    for (int i = 0; i < NROWS; i++) {
        if (digit(&s[0], &f->r[i]) + digit(&s[1], &f->r[i]) + digit(&s[2], &f->r[i]) == 0)
            continue;                   /* in no set: not sent either way */
        size_t k = (size_t)atoms_roster_class(&X, SELF) * X.dim[0].stride +
            sd->class_of[f->r[i].sex] * sd->stride + ad->class_of[f->r[i].age] * ad->stride;
        rawnz += raw[k]++ == 0;
        mid |= f->r[i].sex == 0 && f->r[i].age > a && f->r[i].age <= a + 2;
        old |= f->r[i].sex == 0 && f->r[i].age > a + 2;
    }
    if (mid && old)                     /* women on both sides of a + 2 (nearly always) */
        assert_true(rawnz > nonzero);
    assert_true(rawnz >= nonzero);
    free(raw);
    free(canon);
    free(v);
    atoms_layout_release(&X);
    /* The new query with the sets of history entry 0 adds no digit (atoms_plan). */
    wire_query_free(q);
    cur.len = 0;
    pack_query(&s[0], 0, &cur);
    q = wire_query_decode(cur.p, cur.len, err);
    assert_int_equal(patoms_count(f->snap, SELF, f->trust, f->cc, hist, 2, q, &v, &n, err), 0);
    assert_int_equal(atoms_layout(plan, 2, &X, err), 0);
    assert_int_equal(n, X.A.natoms);
    atoms_layout_release(&X);
    free(v);
    wire_query_free(q);
    for (int i = 0; i < 2; i++) {
        wire_query_free(hb[i]);
        buf_release(&body[i]);
    }
    buf_release(&cur);
    buf_release(&env[0]);
    buf_release(&env[1]);
}

static void
history_only_from_analysts(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    struct spec s = {10, 0, 1, 1}, now = {-1, 1, 0, 1};
    struct buf good = {0}, by_node = {0}, altered = {0}, plain = {0}, cur = {0};
    signed_query(f->ana, f->ana_key, &s, 0, &good);
    signed_query(f->node, f->node_key, &s, 0, &by_node);
    signed_query(f->ana, f->ana_key, &s, 1, &plain);
    signed_query(f->ana, f->ana_key, &s, 0, &altered);
    /* One byte of the signed body changed: the filter's age. */
    uint8_t *var = memmem(altered.p, altered.len, "age_years", 9);
    assert_non_null(var);
    uint8_t *at = memmem(var, altered.len - (size_t)(var - altered.p), "10", 2);
    assert_non_null(at);
    at[1] = '1';
    pack_query(&now, 0, &cur);
    Fedra__QueryBody *q = wire_query_decode(cur.p, cur.len, err);
    uint64_t *v = NULL;
    size_t n;
    struct {
        struct buf *b;
        const char *why;
    } bad[] = {{&by_node, "its signer"}, {&altered, "not signed by the analyst"},
        {&plain, "not a pooled query"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ProtobufCBinaryData h[2] = {{good.len, good.p}, {bad[i].b->len, bad[i].b->p}};
        assert_int_equal(patoms_count(f->snap, SELF, f->trust, f->cc, h, 2, q, &v, &n, err),
            -1);
        assert_non_null(strstr(err, "pooled history query 2"));
        assert_non_null(strstr(err, bad[i].why));
        assert_null(v);
    }
    ProtobufCBinaryData h1[1] = {{good.len, good.p}};
    assert_int_equal(patoms_count(f->snap, SELF, f->trust, f->cc, h1, 1, q, &v, &n, err), 0);
    free(v);
    wire_query_free(q);
    buf_release(&good);
    buf_release(&by_node);
    buf_release(&altered);
    buf_release(&plain);
    buf_release(&cur);
}

/*
 * A kept cache (patoms_count_kept) counts exactly as patoms_count does, as
 * the history grows, for a question asked again (its sets a history entry's),
 * for a history that is not an extension of the kept one, and it never
 * takes an altered Envelope for the verified one it kept.
 */
static void
kept_history_counts_the_same(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    int a = 5 + rnd(20);
    struct spec s[4] = {{a, 0, 1, 1}, {a + 2, 0, 0, 0}, {-1, 1, 0, 1}, {a + 1, 1, 1, 1}};
    struct buf env[4] = {{0}, {0}, {0}, {0}}, body[4] = {{0}, {0}, {0}, {0}};
    ProtobufCBinaryData hist[4];
    Fedra__QueryBody *cur[4];
    for (int i = 0; i < 4; i++) {
        signed_query(f->ana, f->ana_key, &s[i], 0, &env[i]);
        hist[i] = (ProtobufCBinaryData){env[i].len, env[i].p};
        pack_query(&s[i], 0, &body[i]);
        cur[i] = wire_query_decode(body[i].p, body[i].len, err);
        assert_non_null(cur[i]);
    }
    /* (history length, new query): growing, a repeat, a shorter history, growing again;
     * the same plan twice in a row (kept counts: {2, 2}; {3, 1} and {3, 0}, both the
     * history alone), and a new one after each. */
    static const int steps[][2] = {{0, 0}, {1, 1}, {2, 2}, {2, 2}, {2, 0}, {3, 3}, {3, 1},
        {3, 0}, {1, 2}, {3, 0}, {3, 3}, {3, 3}};
    struct patoms_cache *pc = patoms_cache_new();
    for (size_t t = 0; t < sizeof steps / sizeof steps[0]; t++) {
        uint64_t *kept = NULL, *fresh = NULL;
        size_t nk = 0, nf = 0;
        size_t nh = (size_t)steps[t][0];
        assert_int_equal(patoms_count_kept(pc, f->snap, SELF, f->trust, f->cc, hist, nh,
            cur[steps[t][1]], &kept, &nk, err), 0);
        assert_int_equal(patoms_count(f->snap, SELF, f->trust, f->cc, hist, nh,
            cur[steps[t][1]], &fresh, &nf, err), 0);
        assert_int_equal(nk, nf);
        assert_memory_equal(kept, fresh, nk * sizeof *kept);
        free(kept);
        free(fresh);
    }
    /* One byte of a kept Envelope's signed body changed: refused, not taken as kept. */
    struct buf altered = {0};
    buf_append(&altered, env[0].p, env[0].len);
    uint8_t *var = memmem(altered.p, altered.len, "age_years", 9);
    assert_non_null(var);
    char agebuf[16];
    snprintf(agebuf, sizeof agebuf, "%d", a);
    uint8_t *at = memmem(var, altered.len - (size_t)(var - altered.p), agebuf, strlen(agebuf));
    assert_non_null(at);
    at[0] = at[0] == '9' ? '8' : (uint8_t)(at[0] + 1);
    ProtobufCBinaryData bad[1] = {{altered.len, altered.p}};
    uint64_t *v = NULL;
    size_t n = 0;
    assert_int_equal(patoms_count_kept(pc, f->snap, SELF, f->trust, f->cc, bad, 1, cur[2], &v,
        &n, err), -1);
    assert_non_null(strstr(err, "not signed by the analyst"));
    assert_null(v);
    patoms_cache_free(pc);
    buf_release(&altered);
    for (int i = 0; i < 4; i++) {
        wire_query_free(cur[i]);
        buf_release(&env[i]);
        buf_release(&body[i]);
    }
}

/* A random filter term of the run's seed: on age (every operator) or sex (=, !=, in). */
struct rterm {
    int age;                            /* 1: age_years, 0: sex */
    Fedra__Op op;
    int v[3];
    size_t nv;
};

static int
rterm_passes(const struct rterm *t, const struct rec *r)
{
    int x = t->age ? r->age : r->sex, hit = 0;
    for (size_t k = 0; k < t->nv; k++)
        hit |= x == t->v[k];
    switch (t->op) {
    case FEDRA__OP__OP_LT: return x < t->v[0];
    case FEDRA__OP__OP_LE: return x <= t->v[0];
    case FEDRA__OP__OP_GT: return x > t->v[0];
    case FEDRA__OP__OP_GE: return x >= t->v[0];
    case FEDRA__OP__OP_NE: return !hit;
    default: return hit;
    }
}

/*
 * The node's check against random plans: histories of 1 .. 5 tables with
 * random filter terms on age (<, <=, >, >=, =, !=, in; limits inside and
 * outside the data's range) and sex (=, !=, in), grouped by sex or not, and
 * a new query.  Every plan is laid out and counted without a refusal (each
 * row's digits, read by the node's own filters, are its atom's), and the
 * counts summed by digit columns are the records' own.
 */
static void
random_plans_pass_the_check(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    static const Fedra__Op ops[] = {FEDRA__OP__OP_LT, FEDRA__OP__OP_LE, FEDRA__OP__OP_GT,
        FEDRA__OP__OP_GE, FEDRA__OP__OP_EQ, FEDRA__OP__OP_NE, FEDRA__OP__OP_IN};
    static const char *const sexes[] = {"F", "M", "U"};
    for (int plan = 0; plan < 40; plan++) {
        size_t nq = 2 + (size_t)rnd(5);
        struct rterm t[6][2];
        size_t nt[6];
        int by[6];
        Fedra__QueryBody *q[6];
        struct buf env[6];
        ProtobufCBinaryData hist[6];
        char text[6][2][3][8];
        for (size_t i = 0; i < nq; i++) {
            nt[i] = (size_t)rnd(3);
            by[i] = rnd(2);
            Fedra__Filter w[2], *wp[2];
            char *vals[2][3];
            for (size_t j = 0; j < nt[i]; j++) {
                struct rterm *r = &t[i][j];
                r->age = rnd(2);
                r->op = r->age ? ops[rnd(7)] : ops[4 + rnd(3)];
                r->nv = r->op == FEDRA__OP__OP_IN ? 1 + (size_t)rnd(3) : 1;
                for (size_t k = 0; k < r->nv; k++) {
                    r->v[k] = r->age ? rnd(40) - 5 : rnd(3);
                    if (r->age)
                        snprintf(text[i][j][k], sizeof text[i][j][k], "%d", r->v[k]);
                    else
                        snprintf(text[i][j][k], sizeof text[i][j][k], "%s", sexes[r->v[k]]);
                    vals[j][k] = text[i][j][k];
                }
                fedra__filter__init(&w[j]);
                w[j].var = r->age ? s_var_age : s_var_sex;
                w[j].op = r->op;
                w[j].values = vals[j];
                w[j].n_values = r->nv;
                wp[j] = &w[j];
            }
            char *byv[1] = {s_var_sex}, *aud[3] = {s_aa, s_bb, s_cc};
            Fedra__QuerySpec sp = FEDRA__QUERY_SPEC__INIT;
            sp.kind = rnd(2) ? FEDRA__KIND__KIND_COUNT : FEDRA__KIND__KIND_KM;
            sp.grid_days = 30;
            sp.where = wp;
            sp.n_where = nt[i];
            sp.group_by = by[i] ? byv : NULL;
            sp.n_group_by = (size_t)by[i];
            sp.pooled = 1;
            struct buf body = {0};
            pack_body(&sp, aud, &body);
            env[i] = (struct buf){0};
            assert_int_equal(evidence_sign(f->ana, f->ana_key, body.p, body.len, &env[i]), 0);
            q[i] = wire_query_decode(body.p, body.len, err);
            assert_non_null(q[i]);
            hist[i] = (ProtobufCBinaryData){env[i].len, env[i].p};
            buf_release(&body);
        }
        uint64_t *v = NULL;
        size_t n = 0;
        assert_int_equal(patoms_count(f->snap, SELF, f->trust, f->cc, hist, nq - 1, q[nq - 1],
            &v, &n, err), 0);
        const Fedra__QueryBody *plan_q[6];
        size_t at, np = atoms_plan((const Fedra__QueryBody *const *)q, nq - 1, q[nq - 1],
            plan_q, &at);
        struct atoms_layout X;
        assert_int_equal(atoms_layout(plan_q, np, &X, err), 0);
        assert_int_equal(n, X.A.natoms);
        /* Each plan query's cells, summed from the atoms, against the records. */
        for (size_t k = 0; k < np; k++) {
            size_t i = 0;
            while (q[i] != plan_q[k])
                i++;
            uint64_t got[4] = {0}, want[4] = {0};
            for (size_t a = 0; a < n; a++)
                got[X.digit[k * n + a]] += v[a];
            for (int r = 0; r < NROWS; r++) {
                int in = 1;
                for (size_t j = 0; j < nt[i]; j++)
                    in &= rterm_passes(&t[i][j], &f->r[r]);
                if (in)
                    want[by[i] ? f->r[r].sex + 1 : 1]++;
            }
            assert_memory_equal(got + 1, want + 1, 3 * sizeof *got);
        }
        atoms_layout_release(&X);
        free(v);
        for (size_t i = 0; i < nq; i++) {
            wire_query_free(q[i]);
            buf_release(&env[i]);
        }
    }
}

int
main(void)
{
    const char *s = getenv("FEDRA_TEST_SEED");
    unsigned long long seed = s ? strtoull(s, NULL, 10) : (unsigned long long)time(NULL);
    printf("test_patoms: seed %llu (FEDRA_TEST_SEED)\n", seed);
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_are_the_records_atoms),
        cmocka_unit_test(history_only_from_analysts),
        cmocka_unit_test(kept_history_counts_the_same),
        cmocka_unit_test(random_plans_pass_the_check),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
