/*
 * test_qaudit - the query-set auditor (node/qaudit.c) on a real store and
 * snapshot built by import_csv.
 *
 * The data: 30 patients p00..p29, patient i aged i years (age_at_diagnosis_days
 * = 366 i, and floor(366 i / 365.25) = i for i < 30), sex F for even i and M
 * for odd i; everything else equal.  So "age_years < a" selects exactly a
 * patients, and every difference below is counted by hand from that.
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

#include "lib/util.h"
#include "node/import.h"
#include "node/qaudit.h"
#include "node/snapshot.h"
#include "node/store.h"

#define TODAY 20269                 /* 2025-06-30 */
#define NPAT 30

struct fx {
    char dir[64], db[128], csv[128];
    struct store *store;
    struct snapshot *snap;
};

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "";
    snprintf(f->dir, sizeof f->dir, "/tmp/test_qaudit.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->db, sizeof f->db, "%s/store.db", f->dir);
    snprintf(f->csv, sizeof f->csv, "%s/rows.csv", f->dir);
    struct buf csv = {0};
    buf_puts(&csv, "patient_id,eupid,sex,age_at_diagnosis_days,diagnosis_date,tumour_type,"
        "icdo3_morphology,icdo3_topography,stage,surgery,chemotherapy,radiotherapy,"
        "vital_status,last_contact_date,event_date\n");
    for (int i = 0; i < NPAT; i++)
        buf_printf(&csv, "p%02d,,%s,%d,2010-01-01,melanoma,,,localized,no,no,no,%s,"
            "2012-01-%02d,\n", i, i % 2 ? "M" : "F", 366 * i, i % 3 ? "alive" : "dead", 1 + i);
    int rc = util_write_file(f->csv, csv.p, csv.len, 0644, err);
    buf_release(&csv);
    if (rc != 0 || store_open(f->db, 0, &f->store, err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    struct import_opts o = {0};
    struct import_stats st;
    struct buf rep = {0};
    const char *paths[1] = {f->csv};
    o.today = TODAY;
    rc = import_csv(f->store, paths, 1, &o, &st, &rep, err);
    buf_release(&rep);
    if (rc != 0 || snapshot_load(f->store, &f->snap, err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    snapshot_free(f->snap);
    store_free(f->store);
    unlink_db(f->db);
    unlink(f->csv);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A query spec: kind, optional "var op value" filter, optional group-by list. */
struct spec {
    Fedra__QuerySpec q;
    Fedra__Filter w, *wp;
    char *vals[1];
    char *by[4];
};

static void
mkspec(struct spec *s, Fedra__Kind kind, const char *var, Fedra__Op op, const char *value,
    const char *by1, const char *by2)
{
    memset(s, 0, sizeof *s);
    fedra__query_spec__init(&s->q);
    fedra__filter__init(&s->w);
    s->q.kind = kind;
    s->q.grid_days = 30;
    s->q.endpoint = FEDRA__ENDPOINT__ENDPOINT_OS;
    if (var != NULL) {
        s->w.var = (char *)var;
        s->w.op = op;
        s->vals[0] = (char *)value;
        s->w.values = s->vals;
        s->w.n_values = 1;
        s->wp = &s->w;
        s->q.where = &s->wp;
        s->q.n_where = 1;
    }
    if (by1 != NULL)
        s->by[s->q.n_group_by++] = (char *)by1;
    if (by2 != NULL)
        s->by[s->q.n_group_by++] = (char *)by2;
    s->q.group_by = s->by;
}

static const char *
admit(void **state, const struct spec *s, uint32_t min_cell, const char *analyst,
    uint64_t max_sets, char *err)
{
    struct fx *f = *state;
    struct disclose_policy p = {min_cell, 30, DISCLOSE_DEFAULT_EVENTS_PER_PARAM};
    return qaudit_admit(store_db(f->store), f->snap, &p, &s->q, analyst, "0123456789abcdef",
        1700000000000, max_sets, err);
}

static const char *
count_age_lt(void **state, const char *value, uint32_t min_cell, const char *analyst, char *err)
{
    struct spec s;
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LT, value, NULL, NULL);
    return admit(state, &s, min_cell, analyst, QAUDIT_DEFAULT_MAX_SETS, err);
}

/* Differences of 1 .. min_cell-1 are refused; min_cell (the boundary) passes. */
static void
test_difference_boundary(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    assert_null(count_age_lt(state, "10", 5, "alice", err));           /* 10 patients */
    assert_string_equal(count_age_lt(state, "11", 5, "alice", err), "differencing"); /* 1 */
    assert_non_null(strstr(err, "differ by 1 to 4 patients"));
    assert_non_null(strstr(err, "to you"));
    assert_string_equal(count_age_lt(state, "14", 5, "alice", err), "differencing"); /* 4 */
    assert_string_equal(count_age_lt(state, "6", 5, "alice", err), "differencing");  /* 4 */
    assert_null(count_age_lt(state, "15", 5, "alice", err));           /* 5: released */
    assert_null(count_age_lt(state, "5", 5, "alice", err));            /* 5 from 10 */
}

/* A repeat, or another filter selecting the same rows, reveals nothing new. */
static void
test_repeat_and_same_set_pass(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    assert_null(count_age_lt(state, "10", 5, "alice", err));
    assert_null(count_age_lt(state, "10", 5, "alice", err));
    struct spec s;
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LE, "9", NULL, NULL);
    assert_null(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err));
}

/* The history is shared: two analysts cannot split the pair between them. */
static void
test_across_analysts(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    assert_null(count_age_lt(state, "10", 5, "alice", err));
    assert_string_equal(count_age_lt(state, "12", 5, "bob", err), "differencing");
    assert_non_null(strstr(err, "to another analyst"));
}

/* min_cell 1 releases every count anyway: nothing to guard. */
static void
test_min_cell_one(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    assert_null(count_age_lt(state, "10", 1, "alice", err));
    assert_null(count_age_lt(state, "11", 1, "alice", err));
}

/*
 * Margins: by sex x age_group with min_cell 3, age group 0-4 (p00..p04) has
 * F = 3 (released) and M = 2 (suppressed).  The one-way margin
 * age_group=0-4 (5) minus the released (F, 0-4) cell (3) would give the
 * suppressed cell: refused, whichever query comes first.
 */
static void
test_margin_after_table(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec two, one;
    mkspec(&two, FEDRA__KIND__KIND_COUNT, NULL, 0, NULL, "sex", "age_group");
    mkspec(&one, FEDRA__KIND__KIND_COUNT, NULL, 0, NULL, "age_group", NULL);
    assert_null(admit(state, &two, 3, "alice", QAUDIT_DEFAULT_MAX_SETS, err));
    assert_string_equal(admit(state, &one, 3, "alice", QAUDIT_DEFAULT_MAX_SETS, err),
        "differencing");
    assert_non_null(strstr(err, "age_group=0-4"));
}

static void
test_table_after_margin(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec two, one;
    mkspec(&two, FEDRA__KIND__KIND_COUNT, NULL, 0, NULL, "sex", "age_group");
    mkspec(&one, FEDRA__KIND__KIND_COUNT, NULL, 0, NULL, "age_group", NULL);
    assert_null(admit(state, &one, 3, "alice", QAUDIT_DEFAULT_MAX_SETS, err));
    assert_string_equal(admit(state, &two, 3, "alice", QAUDIT_DEFAULT_MAX_SETS, err),
        "differencing");
}

/* Survival strata: km on age>=10 (20) then age>=9 (21) would give p09's time. */
static void
test_km_strata(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec a, b, c;
    mkspec(&a, FEDRA__KIND__KIND_KM, "age_years", FEDRA__OP__OP_GE, "10", NULL, NULL);
    mkspec(&b, FEDRA__KIND__KIND_KM, "age_years", FEDRA__OP__OP_GE, "9", NULL, NULL);
    mkspec(&c, FEDRA__KIND__KIND_LOGRANK, "age_years", FEDRA__OP__OP_GE, "9", "sex", NULL);
    assert_null(admit(state, &a, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err));
    assert_string_equal(admit(state, &b, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err),
        "differencing");
    /* log-rank by sex: its strata together are the same 21 patients. */
    assert_string_equal(admit(state, &c, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err),
        "differencing");
}

/* Capacity: exactly max_sets remembered sets is allowed, one more is refused. */
static void
test_capacity_boundary(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec s;
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LT, "10", NULL, NULL);
    assert_null(admit(state, &s, 5, "alice", 1, err));                  /* 1 of 1 */
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LT, "20", NULL, NULL);
    assert_string_equal(admit(state, &s, 5, "alice", 1, err), "capacity");      /* 2 of 1 */
    assert_non_null(strstr(err, "full"));
    assert_null(admit(state, &s, 5, "alice", 2, err));                  /* 2 of 2 */
    /* A repeat adds nothing and passes even when full. */
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LT, "10", NULL, NULL);
    assert_null(admit(state, &s, 5, "alice", 2, err));
}

/* Ping and specs the executor refuses anyway are not audited. */
static void
test_not_audited(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec s;
    mkspec(&s, FEDRA__KIND__KIND_PING, NULL, 0, NULL, NULL, NULL);
    assert_null(admit(state, &s, 5, "alice", 0, err));
    mkspec(&s, FEDRA__KIND__KIND_COUNT, NULL, 0, NULL, "favourite_colour", NULL);
    assert_null(admit(state, &s, 5, "alice", 0, err));
}

/*
 * What a kind releases is its registry row's to say (node/kind.h): a kind
 * without a row is refused, never audited as something else by default; a
 * Cox round releases its whole selected cohort, which a count one patient
 * larger would then reveal by subtraction.
 */
static void
test_kind_rows(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec s;
    mkspec(&s, (Fedra__Kind)99, NULL, 0, NULL, NULL, NULL);
    assert_string_equal(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err), "internal");
    assert_string_equal(err, "query-set auditor: query kind 99 has no row in the registry");
    mkspec(&s, FEDRA__KIND__KIND_COX, "age_years", FEDRA__OP__OP_LT, "10", NULL, NULL);
    assert_null(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err));   /* 10 patients */
    assert_string_equal(count_age_lt(state, "11", 5, "alice", err), "differencing"); /* 1 */
    assert_non_null(strstr(err, "differ by 1 to 4 patients"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_difference_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_and_same_set_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_across_analysts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_min_cell_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_margin_after_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_after_margin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_km_strata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_audited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kind_rows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
