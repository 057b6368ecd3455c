/*
 * test_report - the coordinator refuses to merge answers that do not fit the
 * query (coord/report.c report_check_replies): each case is a verified but
 * lying or broken node, which must end up as "error" with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coord/report.h"

struct fx {
    struct federation fed;
    struct fed_node node;
    struct node_reply rep;
    Fedra__ResponseBody body;
    Fedra__CountResult count;
    Fedra__Cell cells[2], *cellp[2];
    char *levels[2][1];
    Fedra__KmResult km;
    Fedra__LifeTable lt[2], *ltp[2];
    char *ltlev[2][1];
    int32_t time[2][1];
    uint64_t ev[2][1], ce[2][1];
    Fedra__QuerySpec spec;
    char *by[1];
};

/* A node that answered `count --by stage` with localized=10, regional=3 (suppressed). */
static void
count_fixture(struct fx *f)
{
    memset(f, 0, sizeof *f);
    f->node.name = (char *)"AA";
    f->fed.nodes = &f->node;
    f->fed.nnodes = 1;
    f->rep.status = NODE_OK;
    f->rep.body = &f->body;
    fedra__response_body__init(&f->body);
    f->body.data_rows = 100;
    fedra__count_result__init(&f->count);
    f->body.count = &f->count;
    const char *lv[2] = {"localized", "regional"};
    for (int i = 0; i < 2; i++) {
        fedra__cell__init(&f->cells[i]);
        f->levels[i][0] = (char *)lv[i];
        f->cells[i].n_levels = 1;
        f->cells[i].levels = f->levels[i];
        f->cellp[i] = &f->cells[i];
    }
    f->cells[0].count = 10;
    f->cells[1].suppressed = 1;
    f->count.n_cells = 2;
    f->count.cells = f->cellp;
    f->count.max_hidden = 4;
    fedra__query_spec__init(&f->spec);
    f->spec.kind = FEDRA__KIND__KIND_COUNT;
    f->by[0] = (char *)"stage";
    f->spec.n_group_by = 1;
    f->spec.group_by = f->by;
}

static enum node_status
check(struct fx *f)
{
    report_check_replies(&f->fed, &f->rep, &f->spec);
    return f->rep.status;
}

static void
honest_count_is_kept(void **state)
{
    (void)state;
    struct fx f;
    count_fixture(&f);
    assert_int_equal(check(&f), NODE_OK);
}

static void
duplicate_cell_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    count_fixture(&f);
    f.levels[1][0] = (char *)"localized";
    f.cells[1].suppressed = 0;
    f.cells[1].count = 7;
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "same cell twice"));
}

static void
unknown_level_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    count_fixture(&f);
    f.levels[0][0] = (char *)"bogus";
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "unknown level 'bogus'"));
}

static void
suppressed_cell_with_a_count_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    count_fixture(&f);
    f.cells[1].count = 3;
    assert_int_equal(check(&f), NODE_ERROR);
}

static void
count_above_the_node_rows_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    count_fixture(&f);
    f.cells[0].count = UINT64_MAX - 5;      /* would wrap the pooled sum */
    assert_int_equal(check(&f), NODE_ERROR);
    count_fixture(&f);
    f.cells[0].count = 100;                 /* boundary: all of its rows */
    assert_int_equal(check(&f), NODE_OK);
    f.cells[0].count = 101;
    assert_int_equal(check(&f), NODE_ERROR);
}

static void
wrong_number_of_levels_or_missing_result_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    count_fixture(&f);
    f.cells[0].n_levels = 0;
    assert_int_equal(check(&f), NODE_ERROR);
    count_fixture(&f);
    f.body.count = NULL;
    assert_int_equal(check(&f), NODE_ERROR);
}

/* km --by stage: two strata of one patient each, event at day 30. */
static void
km_fixture(struct fx *f)
{
    count_fixture(f);
    f->spec.kind = FEDRA__KIND__KIND_KM;
    f->body.count = NULL;
    fedra__km_result__init(&f->km);
    const char *lv[2] = {"localized", "regional"};
    for (int i = 0; i < 2; i++) {
        fedra__life_table__init(&f->lt[i]);
        f->ltlev[i][0] = (char *)lv[i];
        f->lt[i].n_levels = 1;
        f->lt[i].levels = f->ltlev[i];
        f->lt[i].n = 1;
        f->time[i][0] = 30;
        f->ev[i][0] = 1;
        f->ce[i][0] = 0;
        f->lt[i].n_time = f->lt[i].n_events = f->lt[i].n_censored = 1;
        f->lt[i].time = f->time[i];
        f->lt[i].events = f->ev[i];
        f->lt[i].censored = f->ce[i];
        f->ltp[i] = &f->lt[i];
    }
    f->km.n_strata = 2;
    f->km.strata = f->ltp;
    f->body.km = &f->km;
}

static void
km_tables_are_checked(void **state)
{
    (void)state;
    struct fx f;
    km_fixture(&f);
    assert_int_equal(check(&f), NODE_OK);
    km_fixture(&f);
    f.ltlev[1][0] = (char *)"localized";     /* the same stratum twice */
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "same stratum twice"));
    km_fixture(&f);
    f.lt[0].n = 2;                           /* rows do not add up to n */
    assert_int_equal(check(&f), NODE_ERROR);
    km_fixture(&f);
    f.lt[0].n_censored = 0;                  /* column lengths differ */
    assert_int_equal(check(&f), NODE_ERROR);
}

/*
 * A count above REPORT_MAX_ROWS in a life table is refused, never cast to a
 * negative int64 (life_table_to_km): here it would be -1, and -1 events + 2
 * censored would add up to the table's n = 1.
 */
static void
km_count_above_the_row_limit_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    km_fixture(&f);
    f.ev[0][0] = UINT64_MAX;
    f.ce[0][0] = 2;
    assert_int_equal(check(&f), NODE_ERROR);
    km_fixture(&f);
    f.ev[0][0] = REPORT_MAX_ROWS + 1;
    assert_int_equal(check(&f), NODE_ERROR);
}

/* An answer to a kind the coordinator has no row for is refused, never merged unchecked. */
static void
unknown_kind_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    count_fixture(&f);
    f.spec.kind = (Fedra__Kind)99;
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "kind 99"));
}

/* JSON reals: the shortest of %.15g..%.17g that reads back to the same double. */
static void
json_reals_are_shortest(void **state)
{
    (void)state;
    struct federation fed = {0};
    FILE *out = tmpfile();
    assert_non_null(out);
    struct report r = {REPORT_JSON, out, stderr, &fed, NULL, ""};
    const double x[] = {6.873, 0.1 + 0.2, 1.0, -2.5e-300, 1.0 / 3};
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        json_array_append_new(a, json_real(x[i]));
    json_array_append_new(a, json_string("6.8730000000000002"));    /* a string stays */
    json_array_append_new(a, json_integer(7));
    report_emit_json(&r, a);
    char text[1024] = {0};
    rewind(out);
    assert_true(fread(text, 1, sizeof text - 1, out) > 0);
    fclose(out);
    assert_non_null(strstr(text, "    6.873,\n"));
    assert_non_null(strstr(text, "    0.30000000000000004,\n"));   /* needs all 17 digits */
    assert_non_null(strstr(text, "    1.0,\n"));                    /* still a real */
    assert_non_null(strstr(text, "    -2.5e-300,\n"));
    assert_non_null(strstr(text, "\"6.8730000000000002\""));
    assert_non_null(strstr(text, "    7\n"));
    /* Each real reads back to the very double it was. */
    json_t *back = json_loads(text, 0, NULL);
    assert_non_null(back);
    json_t *res = json_object_get(back, "result");
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        assert_true(json_real_value(json_array_get(res, i)) == x[i]);
    json_decref(back);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(honest_count_is_kept),
        cmocka_unit_test(duplicate_cell_is_rejected),
        cmocka_unit_test(unknown_level_is_rejected),
        cmocka_unit_test(suppressed_cell_with_a_count_is_rejected),
        cmocka_unit_test(count_above_the_node_rows_is_rejected),
        cmocka_unit_test(wrong_number_of_levels_or_missing_result_is_rejected),
        cmocka_unit_test(km_tables_are_checked),
        cmocka_unit_test(km_count_above_the_row_limit_is_rejected),
        cmocka_unit_test(unknown_kind_is_rejected),
        cmocka_unit_test(json_reals_are_shortest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
