/*
 * test_hub_phist - the hub's pooled history (hub/phist.c) and the atoms'
 * plan shared by hub and nodes (proto/atoms.c): what the pooled auditor
 * keeps across releases and restarts, and which queries share a digit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hub/phist.h"
#include "lib/util.h"
#include "proto/atoms.h"
#include "tests/unit/fixture.h"

struct fx {
    char dir[64];
    char path[128];
};

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_hub_phist.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/relay.db.pool-history", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* Entry i of h is query q with the cells c[0 .. n). */
static void
assert_entry(const struct phist *h, size_t i, const char *q, const uint32_t *c, size_t n)
{
    size_t len, m;
    const uint8_t *b = phist_query(h, i, &len);
    assert_int_equal(len, strlen(q));
    assert_memory_equal(b, q, len);
    const uint32_t *got = phist_cells(h, i, &m);
    assert_int_equal(m, n);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(got[k], c[k]);
}

static void
kept_across_restarts(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    struct phist *h;
    assert_int_equal(phist_open(f->path, &h, err), 0);
    assert_int_equal(phist_count(h), 0);
    uint32_t c1[] = {0, 3}, c2[] = {1}, c3[] = {3, 2};
    assert_int_equal(phist_append(h, (const uint8_t *)"query-one", 9, c1, 2, err), 0);
    assert_int_equal(phist_append(h, (const uint8_t *)"query-two", 9, c2, 1, err), 0);
    uint64_t v = phist_version(h);
    /* A later release of the first one's sets: the union of the cells, a new version
     * (a route audited before it must not be released after it: hub/relay.c). */
    assert_int_equal(phist_merge(h, 0, c3, 2, err), 0);
    assert_true(phist_version(h) > v);
    uint32_t u[] = {0, 3, 2};
    assert_entry(h, 0, "query-one", u, 3);
    /* Released again with cells it already has: nothing changes, not even the version. */
    v = phist_version(h);
    assert_int_equal(phist_merge(h, 0, c3, 2, err), 0);
    assert_true(phist_version(h) == v);
    assert_entry(h, 0, "query-one", u, 3);
    struct buf packed = {0};
    phist_pack(h, &packed);
    phist_free(h);
    /* The file holds it all, and its bytes are the packed form the relay log keeps. */
    assert_int_equal(phist_open(f->path, &h, err), 0);
    assert_int_equal(phist_count(h), 2);
    assert_entry(h, 0, "query-one", u, 3);
    assert_entry(h, 1, "query-two", c2, 1);
    struct phist *m;
    assert_int_equal(phist_unpack(packed.p, packed.len, &m, err), 0);
    assert_int_equal(phist_count(m), 2);
    assert_entry(m, 1, "query-two", c2, 1);
    phist_free(m);
    phist_free(h);
    /* A damaged file stops the hub (fail closed): cut short, or a foreign header. */
    assert_int_equal(util_write_file(f->path, packed.p, packed.len - 3, 0600, err), 0);
    assert_int_equal(phist_open(f->path, &h, err), -1);
    assert_non_null(strstr(err, "cut short"));
    assert_int_equal(phist_unpack((const uint8_t *)"XXXX\0\0\0\0", 8, &m, err), -1);
    assert_non_null(strstr(err, "not a pooled history"));
    buf_release(&packed);
}

static void
bounded_and_fail_closed(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN];
    struct phist *h;
    assert_int_equal(phist_open(NULL, &h, err), 0);
    uint32_t c = 0;
    for (int i = 0; i < PHIST_MAX; i++)
        assert_int_equal(phist_append(h, (const uint8_t *)"q", 1, &c, 1, err), 0);
    assert_int_equal(phist_append(h, (const uint8_t *)"q", 1, &c, 1, err), -1);
    assert_non_null(strstr(err, "PHIST_MAX"));
    assert_int_equal(phist_count(h), PHIST_MAX);
    assert_int_equal(phist_merge(h, PHIST_MAX, &c, 1, err), -1);
    phist_free(h);
    /* A file that cannot be written: the release is refused (the caller), and the entry
     * stays in memory, so the history errs towards more sets. */
    char bad[192];
    snprintf(bad, sizeof bad, "%s/no-such-dir/history", f->dir);
    assert_int_equal(phist_open(bad, &h, err), 0);
    assert_int_equal(phist_append(h, (const uint8_t *)"q", 1, &c, 1, err), -1);
    assert_non_null(strstr(err, "cannot keep the pooled history"));
    assert_int_equal(phist_count(h), 1);
    phist_free(h);
}

/* A pooled query body of the given kind, filter value, grouping and roster. */
static Fedra__QueryBody *
body(Fedra__Kind kind, const char *age, const char *by, char **aud, size_t naud)
{
    Fedra__QueryBody *q = xcalloc(1, sizeof *q);
    fedra__query_body__init(q);
    Fedra__QuerySpec *s = xcalloc(1, sizeof *s);
    fedra__query_spec__init(s);
    s->kind = kind;
    s->pooled = 1;
    Fedra__Filter *w = xcalloc(1, sizeof *w);
    fedra__filter__init(w);
    w->var = (char *)"age_years";
    w->op = FEDRA__OP__OP_LE;
    w->values = xcalloc(1, sizeof *w->values);
    w->values[0] = (char *)age;
    w->n_values = 1;
    s->where = xcalloc(1, sizeof *s->where);
    s->where[0] = w;
    s->n_where = 1;
    if (by != NULL) {
        s->group_by = xcalloc(1, sizeof *s->group_by);
        s->group_by[0] = (char *)by;
        s->n_group_by = 1;
    }
    q->spec = s;
    q->audience = aud;
    q->n_audience = naud;
    return q;
}

static void
body_free(Fedra__QueryBody *q)
{
    free(q->spec->where[0]->values);
    free(q->spec->where[0]);
    free(q->spec->where);
    free(q->spec->group_by);
    free(q->spec);
    free(q);
}

static void
same_sets_share_a_digit(void **state)
{
    (void)state;
    char a[] = "AA", b[] = "BB", c[] = "CC", d[] = "DD";
    char *abc[] = {a, b, c}, *abcd[] = {a, b, c, d};
    Fedra__QueryBody *count = body(FEDRA__KIND__KIND_COUNT, "40", "sex", abc, 3);
    Fedra__QueryBody *km = body(FEDRA__KIND__KIND_KM, "40", "sex", abc, 3);
    Fedra__QueryBody *other = body(FEDRA__KIND__KIND_COUNT, "39", "sex", abc, 3);
    Fedra__QueryBody *joined = body(FEDRA__KIND__KIND_COUNT, "40", "sex", abcd, 4);
    Fedra__QueryBody *ungrouped = body(FEDRA__KIND__KIND_COUNT, "40", NULL, abc, 3);
    /* A km stratum and a count cell over the same filters and grouping: the same set. */
    assert_true(atoms_same_sets(count, km));
    assert_false(atoms_same_sets(count, other));
    assert_false(atoms_same_sets(count, ungrouped));
    /* The roster is part of the set: after a node joined, the question is a new set. */
    assert_false(atoms_same_sets(count, joined));
    assert_true(atoms_in_roster(joined, "DD"));
    assert_false(atoms_in_roster(count, "DD"));
    const Fedra__QueryBody *hist[2] = {other, count}, *q[3];
    size_t at;
    assert_int_equal(atoms_plan(hist, 2, km, q, &at), 2);
    assert_int_equal(at, 1);
    assert_int_equal(atoms_plan(hist, 2, joined, q, &at), 3);
    assert_int_equal(at, 2);
    assert_ptr_equal(q[2], joined);
    /* The layout (proto/atoms.h): two roster classes (AA, BB, CC; DD, named only by the
     * last query), sex's 3 levels, age's classes <= 39, 40, > 40 (both are required
     * columns: no class for a missing value). */
    struct atoms_layout X;
    char err[FEDRA_ERRLEN];
    assert_int_equal(atoms_layout(q, 3, &X, err), 0);
    assert_int_equal(X.A.natoms, 2 * 3 * 3);
    assert_int_equal(X.A.radix[0], 4);
    /* Every atom's digit is the one its classes give: DD is in the third query only, a
     * woman aged 40 is in the cell F of the second and third but not of the first. */
    long dd = atoms_roster_class(&X, "DD"), aa = atoms_roster_class(&X, "AA");
    assert_true(dd >= 0 && aa >= 0 && dd != aa);
    const struct atoms_dim *sex = atoms_var_dim(&X, VAR_SEX), *age = atoms_var_dim(&X,
        VAR_AGE_YEARS);
    for (size_t t = 0; t < X.A.natoms; t++) {
        uint32_t r = (uint32_t)(t / X.dim[0].stride % X.dim[0].nclass);
        uint32_t sx = (uint32_t)(t / sex->stride % sex->nclass);
        uint32_t ag = (uint32_t)(t / age->stride % age->nclass);
        int years = (int)age->rep[ag] + age->var->lo;
        for (size_t k = 0; k < 3; k++) {
            int limit = k == 0 ? 39 : 40, in = (k == 2 || r == (uint32_t)aa) && years <= limit;
            assert_int_equal(X.digit[k * X.A.natoms + t], in ? sex->rep[sx] + 1 : 0);
        }
    }
    atoms_layout_release(&X);
    body_free(count);
    body_free(km);
    body_free(other);
    body_free(joined);
    body_free(ungrouped);
}

/*
 * Atoms grow with the variables asked about, not with the questions: twelve
 * tables by sex under age limits from the run's seed stay within one class
 * per limit and level, where one digit per question (radix 4 each: 4^12)
 * would pass PAUDIT_MAX_ATOMS; a question by the same variables adds no atom.
 */
static void
atoms_grow_with_variables_not_questions(void **state)
{
    (void)state;
    char a[] = "AA", b[] = "BB", c[] = "CC";
    char *abc[] = {a, b, c};
    char age[12][8];
    Fedra__QueryBody *q[13];
    const char *env = getenv("FEDRA_TEST_SEED");
    unsigned seed = env != NULL ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
    printf("atoms_grow_with_variables_not_questions: seed %u (FEDRA_TEST_SEED)\n", seed);
    int base = 5 + (int)((seed * 2654435761u) >> 16) % 20;   /* Knuth's multiplicative hash */
    for (int i = 0; i < 12; i++) {
        snprintf(age[i], sizeof age[i], "%d", base + i);
        q[i] = body(i % 2 ? FEDRA__KIND__KIND_KM : FEDRA__KIND__KIND_COUNT, age[i], "sex", abc, 3);
    }
    q[12] = body(FEDRA__KIND__KIND_COUNT, age[3], NULL, abc, 3);
    struct atoms_layout X, Y;
    char err[FEDRA_ERRLEN];
    assert_int_equal(atoms_layout((const Fedra__QueryBody *const *)q, 12, &X, err), 0);
    /* one roster class; sex's 3 levels; age <= base, then one per limit, and > the last */
    assert_int_equal(X.A.natoms, 1 * 3 * (12 + 1));
    assert_int_equal(atoms_layout((const Fedra__QueryBody *const *)q, 13, &Y, err), 0);
    assert_int_equal(Y.A.natoms, X.A.natoms);
    atoms_layout_release(&X);
    atoms_layout_release(&Y);
    for (int i = 0; i < 13; i++)
        body_free(q[i]);
    /* Capacity, fail closed: 250 diagnosis years x 17 tumour types x 100 ages. */
    Fedra__QueryBody *big[3] = {body(FEDRA__KIND__KIND_COUNT, age[0], "diagnosis_year", abc, 3),
        body(FEDRA__KIND__KIND_COUNT, age[0], "tumour_type", abc, 3),
        body(FEDRA__KIND__KIND_COUNT, age[0], "age_years", abc, 3)};
    assert_int_equal(atoms_layout((const Fedra__QueryBody *const *)big, 2, &X, err), 0);
    atoms_layout_release(&X);
    assert_int_equal(atoms_layout((const Fedra__QueryBody *const *)big, 3, &X, err), -1);
    assert_non_null(strstr(err, "PAUDIT_MAX_ATOMS"));
    for (int i = 0; i < 3; i++)
        body_free(big[i]);
}

/*
 * ATOMS_MAX_TEXTS: the filters of a history may name 1,024 morphology codes
 * (16 terms of 64, each term's codes one class), and a 1,025th is refused.
 */
static void
open_variable_texts_are_bounded(void **state)
{
    (void)state;
    char a[] = "AA", *aud[] = {a};
    static char code[WIRE_MAX_FILTERS * WIRE_MAX_VALUES + 1][8];
    static char *vals[WIRE_MAX_FILTERS * WIRE_MAX_VALUES + 1];
    for (int i = 0; i < WIRE_MAX_FILTERS * WIRE_MAX_VALUES + 1; i++) {
        snprintf(code[i], sizeof code[i], "%04d/3", 8000 + i);
        vals[i] = code[i];
    }
    Fedra__Filter f[WIRE_MAX_FILTERS + 1], *fp[WIRE_MAX_FILTERS + 1];
    for (int t = 0; t <= WIRE_MAX_FILTERS; t++) {
        fedra__filter__init(&f[t]);
        f[t].var = (char *)"morphology";
        f[t].op = FEDRA__OP__OP_IN;
        f[t].values = vals + t * WIRE_MAX_VALUES;
        f[t].n_values = t < WIRE_MAX_FILTERS ? WIRE_MAX_VALUES : 1;
        fp[t] = &f[t];
    }
    Fedra__QuerySpec s[2];
    Fedra__QueryBody b[2];
    const Fedra__QueryBody *q[2] = {&b[0], &b[1]};
    for (int i = 0; i < 2; i++) {
        fedra__query_spec__init(&s[i]);
        s[i].kind = FEDRA__KIND__KIND_COUNT;
        s[i].pooled = 1;
        s[i].where = i == 0 ? fp : fp + WIRE_MAX_FILTERS;
        s[i].n_where = i == 0 ? WIRE_MAX_FILTERS : 1;
        fedra__query_body__init(&b[i]);
        b[i].spec = &s[i];
        b[i].audience = aud;
        b[i].n_audience = 1;
    }
    struct atoms_layout X;
    char err[FEDRA_ERRLEN];
    assert_int_equal(atoms_layout(q, 1, &X, err), 0);
    const struct atoms_dim *m = atoms_var_dim(&X, VAR_MORPHOLOGY);
    assert_non_null(m);
    assert_int_equal(m->ndom, ATOMS_MAX_TEXTS + 1);
    assert_int_equal(m->nclass, WIRE_MAX_FILTERS + 2);  /* each term's codes, other, missing */
    atoms_layout_release(&X);
    assert_int_equal(atoms_layout(q, 2, &X, err), -1);
    assert_non_null(strstr(err, "ATOMS_MAX_TEXTS"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(kept_across_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(bounded_and_fail_closed, setup, teardown),
        cmocka_unit_test(same_sets_share_a_digit),
        cmocka_unit_test(atoms_grow_with_variables_not_questions),
        cmocka_unit_test(open_variable_texts_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
