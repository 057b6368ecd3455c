/*
 * test_analysis - disclosure rules and the pooled count merge (analysis/).
 * Expected values are worked by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "analysis/counts.h"
#include "analysis/disclose.h"

static void
disclose_suppresses_exactly_one_to_min_cell_minus_one(void **state)
{
    (void)state;
    struct disclose_policy p = {5, 30, 3};
    assert_false(disclose_suppress(&p, 0));     /* zero is released */
    for (uint64_t n = 1; n <= 4; n++)
        assert_true(disclose_suppress(&p, n));
    assert_false(disclose_suppress(&p, 5));     /* boundary: min_cell itself is released */
    assert_false(disclose_suppress(&p, 6));
    assert_int_equal(disclose_max_hidden(&p), 4);
}

static void
disclose_min_cell_one_releases_everything(void **state)
{
    (void)state;
    struct disclose_policy p = {1, 0, 3};
    assert_false(disclose_suppress(&p, 1));
    assert_int_equal(disclose_max_hidden(&p), 0);
}

static void
disclose_policy_limits(void **state)
{
    (void)state;
    struct disclose_policy p = {0, 30, 3};
    assert_false(disclose_policy_valid(&p));    /* min_cell 0 would hide nothing but is nonsense */
    p.min_cell = DISCLOSE_MAX_MIN_CELL;
    assert_true(disclose_policy_valid(&p));
    p.min_cell = DISCLOSE_MAX_MIN_CELL + 1;
    assert_false(disclose_policy_valid(&p));
    p.min_cell = 5;
    p.time_grid_days = DISCLOSE_MAX_GRID_DAYS;
    assert_true(disclose_policy_valid(&p));
    p.time_grid_days = DISCLOSE_MAX_GRID_DAYS + 1;
    assert_false(disclose_policy_valid(&p));
    p.time_grid_days = 30;
    p.min_events_per_param = 0;
    assert_false(disclose_policy_valid(&p));
    p.min_events_per_param = DISCLOSE_MAX_EVENTS_PER_PARAM;
    assert_true(disclose_policy_valid(&p));
    p.min_events_per_param = DISCLOSE_MAX_EVENTS_PER_PARAM + 1;
    assert_false(disclose_policy_valid(&p));
}

/* Events per coefficient: 0 or >= max(min_cell, epp x p); the shortfall names the need. */
static void
disclose_model_needs_events_per_parameter(void **state)
{
    (void)state;
    struct disclose_policy p = {5, 30, 3};
    assert_int_equal(disclose_model_events_short(&p, 0, 4), 0);     /* no events: nothing to hide */
    assert_int_equal(disclose_model_events_short(&p, 11, 4), 12);   /* one short of 3 x 4 */
    assert_int_equal(disclose_model_events_short(&p, 12, 4), 0);    /* boundary */
    assert_int_equal(disclose_model_events_short(&p, 4, 1), 5);     /* min_cell rules when larger */
    assert_int_equal(disclose_model_events_short(&p, 5, 1), 0);
    p.min_events_per_param = 1;
    p.min_cell = 1;
    assert_int_equal(disclose_model_events_short(&p, 1, 1), 0);
}

/*
 * Three nodes, grouped by one variable with codes 0..2:
 *   node A: code 0 -> 10, code 1 -> suppressed (max 4)
 *   node B: code 0 -> 7,  code 2 -> 5
 *   node C: code 1 -> 20, code 2 -> suppressed (max 2)
 * pooled: code 0: count 17, max 17; code 1: 20, 24; code 2: 5, 7.
 */
static void
counts_merge_sums_released_and_bounds_suppressed(void **state)
{
    (void)state;
    struct counts_table t;
    assert_int_equal(counts_init(&t, 1), 0);
    int64_t k0[] = {0}, k1[] = {1}, k2[] = {2};
    assert_int_equal(counts_add(&t, k1, 0, 4), 0);
    assert_int_equal(counts_add(&t, k0, 10, 0), 0);
    assert_int_equal(counts_add(&t, k2, 5, 0), 0);
    assert_int_equal(counts_add(&t, k0, 7, 0), 0);
    assert_int_equal(counts_add(&t, k2, 0, 2), 0);
    assert_int_equal(counts_add(&t, k1, 20, 0), 0);
    counts_finish(&t);
    assert_int_equal(t.ncells, 3);
    assert_int_equal(t.cells[0].key[0], 0);
    assert_int_equal(t.cells[0].count, 17);
    assert_int_equal(t.cells[0].count_max, 17);
    assert_int_equal(t.cells[0].nsuppressed, 0);
    assert_int_equal(t.cells[1].count, 20);
    assert_int_equal(t.cells[1].count_max, 24);
    assert_int_equal(t.cells[1].nsuppressed, 1);
    assert_int_equal(t.cells[2].count, 5);
    assert_int_equal(t.cells[2].count_max, 7);
    counts_release(&t);
}

/* Keys order lexicographically, first variable most significant. */
static void
counts_sorts_by_first_variable_first(void **state)
{
    (void)state;
    struct counts_table t;
    assert_int_equal(counts_init(&t, 2), 0);
    int64_t a[] = {1, 0}, b[] = {0, 5}, c[] = {0, 2};
    counts_add(&t, a, 1, 0);
    counts_add(&t, b, 1, 0);
    counts_add(&t, c, 1, 0);
    counts_finish(&t);
    assert_int_equal(t.cells[0].key[0], 0);
    assert_int_equal(t.cells[0].key[1], 2);
    assert_int_equal(t.cells[1].key[1], 5);
    assert_int_equal(t.cells[2].key[0], 1);
    counts_release(&t);
}

static void
counts_limit_on_variables(void **state)
{
    (void)state;
    struct counts_table t;
    assert_int_equal(counts_init(&t, COUNTS_MAX_VARS), 0);
    counts_release(&t);
    assert_int_equal(counts_init(&t, COUNTS_MAX_VARS + 1), -1);
}

static void
counts_empty_table(void **state)
{
    (void)state;
    struct counts_table t;
    assert_int_equal(counts_init(&t, 0), 0);
    counts_finish(&t);
    assert_int_equal(t.ncells, 0);
    counts_release(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(disclose_suppresses_exactly_one_to_min_cell_minus_one),
        cmocka_unit_test(disclose_min_cell_one_releases_everything),
        cmocka_unit_test(disclose_policy_limits),
        cmocka_unit_test(disclose_model_needs_events_per_parameter),
        cmocka_unit_test(counts_merge_sums_released_and_bounds_suppressed),
        cmocka_unit_test(counts_sorts_by_first_variable_first),
        cmocka_unit_test(counts_limit_on_variables),
        cmocka_unit_test(counts_empty_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
