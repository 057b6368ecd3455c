/*
 * test_pool - analysis/pool.c: the pooled release rules on the cases the
 * issue names (rare types spread thinly over many nodes), and the pooled R4
 * cut of a survival table against a direct count of the risk set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <sodium.h>

#include "analysis/disclose.h"
#include "analysis/pool.h"

/* Pool per-node counts of one cell the way the release service sees them. */
static struct pool_position
pool_of(const uint64_t *c, size_t nodes, uint32_t node_min_cell)
{
    struct pool_position x = {0};
    for (size_t i = 0; i < nodes; i++) {
        x.value += c[i];
        x.contributing += c[i] > 0;
        x.small += c[i] > 0 && c[i] < node_min_cell;
    }
    assert_int_equal(pool_position_check(&x, (uint32_t)nodes), 0);
    return x;
}

static const struct pool_policy defaults = {
    DISCLOSE_DEFAULT_MIN_CELL, POOL_DEFAULT_MIN_SITES, DISCLOSE_DEFAULT_GRID_DAYS,
    DISCLOSE_DEFAULT_EVENTS_PER_PARAM,
};

static void
thin_rare_types_are_released(void **state)
{
    (void)state;
    /* Five countries with 2 patients each: every node suppresses, the pool of 10 shows. */
    uint64_t five_twos[5] = {2, 2, 2, 2, 2};
    struct pool_position x = pool_of(five_twos, 5, defaults.min_cell);
    assert_int_equal(pool_decide(&defaults, &x), POOL_RELEASED);
    /* Two nodes of 3: pooled 6 >= min_cell, but each knows the other's exactly. */
    uint64_t two_threes[3] = {3, 3, 0};
    x = pool_of(two_threes, 3, defaults.min_cell);
    assert_int_equal(pool_decide(&defaults, &x), POOL_FEW_SITES);
    /* One node of 7 and nobody else: it would have released 7 itself. */
    uint64_t one_seven[4] = {0, 7, 0, 0};
    x = pool_of(one_seven, 4, defaults.min_cell);
    assert_int_equal(pool_decide(&defaults, &x), POOL_RELEASED);
    /* 1 .. min_cell-1 pooled stays hidden, however many nodes. */
    for (uint64_t v = 1; v < defaults.min_cell; v++) {
        uint64_t spread[8] = {0};
        for (uint64_t k = 0; k < v; k++)
            spread[k] = 1;
        x = pool_of(spread, 8, defaults.min_cell);
        assert_int_equal(pool_decide(&defaults, &x), POOL_SMALL);
    }
    /* Zero is zero. */
    uint64_t none[3] = {0, 0, 0};
    x = pool_of(none, 3, defaults.min_cell);
    assert_int_equal(pool_decide(&defaults, &x), POOL_RELEASED);
    /* A node's auditor withheld it: the pool keeps it withheld. */
    x = pool_of(five_twos, 5, defaults.min_cell);
    x.withheld = 1;
    assert_int_equal(pool_decide(&defaults, &x), POOL_WITHHELD);
    assert_string_equal(pool_verdict_name(POOL_FEW_SITES), "sites");
}

static void
inconsistent_positions_are_refused(void **state)
{
    (void)state;
    struct pool_position bad[] = {
        {5, 4, 0, 0},       /* roster of 3 */
        {5, 2, 3, 0},       /* more small than contributing */
        {5, 2, 0, 3},       /* more withheld than contributing */
        {0, 1, 0, 0},       /* a contributor that added nothing */
        {3, 0, 0, 0},       /* a value nobody contributed */
        {2, 3, 0, 0},       /* three contributors cannot add up to 2 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pool_position_check(&bad[i], 3), -1);
}

static void
policies_merge_to_the_strictest(void **state)
{
    (void)state;
    struct pool_policy acc = {0};
    struct pool_policy a = {5, 3, 30, 3}, b = {10, 2, 90, 1};
    pool_policy_merge(&acc, &a);
    pool_policy_merge(&acc, &b);
    assert_int_equal(acc.min_cell, b.min_cell);
    assert_int_equal(acc.min_sites, a.min_sites);
    assert_int_equal(acc.grid_days, b.grid_days);
    assert_int_equal(acc.min_events_per_param, a.min_events_per_param);
}

/* The cut keeps exactly the bins whose risk set, counted directly, is >= min_cell. */
static void
survival_cut_matches_the_risk_set(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    for (int trial = 0; trial < 200; trial++) {
        size_t nb = 1 + randombytes_uniform(40);
        uint64_t d[40], c[40];
        for (size_t b = 0; b < nb; b++) {
            d[b] = randombytes_uniform(3);
            c[b] = randombytes_uniform(3);
        }
        struct pool_policy p = defaults;
        size_t cut = 99;
        uint64_t n = pool_survival_cut(&p, d, c, nb, &cut);
        uint64_t total = 0;
        for (size_t b = 0; b < nb; b++)
            total += d[b] + c[b];
        assert_int_equal(n, total);
        for (size_t b = 0; b < nb; b++) {
            uint64_t risk = 0;
            for (size_t j = b; j < nb; j++)
                risk += d[j] + c[j];
            if (b < cut)
                assert_true(risk >= p.min_cell);
            else if (b == cut)
                assert_true(risk < p.min_cell);
        }
        assert_true(cut <= nb);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thin_rare_types_are_released),
        cmocka_unit_test(inconsistent_positions_are_refused),
        cmocka_unit_test(policies_merge_to_the_strictest),
        cmocka_unit_test(survival_cut_matches_the_risk_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
