/*
 * test_share - pooled release without the network: nodes' statistics on the
 * query's layout (proto/layout.c), masked (node/share.c, lib/mask.c), summed
 * as the hub sums them, released (proto/release.c).  The release must equal
 * the pooled table of every node's records under the pooled rules, on
 * fresh random data each run, with rare types spread thinly (1-4 patients
 * per node); and a wrong share must refuse the release.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "analysis/pool.h"
#include "lib/mask.h"
#include "node/share.h"
#include "proto/layout.h"
#include "proto/release.h"

#define NODES 5
#define MAXREC 40
#define GRID 30
#define TYPES 4                     /* the rare types used: the first of the catalogue */

struct rec { uint32_t type, sex, stage; int32_t time; int event; };
struct node { struct rec r[MAXREC]; size_t n; };

static const struct disclose_policy policy = {DISCLOSE_DEFAULT_MIN_CELL,
    DISCLOSE_DEFAULT_GRID_DAYS, DISCLOSE_DEFAULT_EVENTS_PER_PARAM};
static const struct pool_policy ppol = {DISCLOSE_DEFAULT_MIN_CELL, POOL_DEFAULT_MIN_SITES,
    GRID, DISCLOSE_DEFAULT_EVENTS_PER_PARAM};

static void
make_nodes(struct node *nd)
{
    for (int i = 0; i < NODES; i++) {
        nd[i].n = 2 + randombytes_uniform(MAXREC - 1);
        for (size_t k = 0; k < nd[i].n; k++) {
            struct rec *r = &nd[i].r[k];
            /* Two common types, and rare ones a node holds 0-2 patients of. */
            r->type = k < 2 * TYPES ? randombytes_uniform(TYPES) : randombytes_uniform(2);
            r->sex = randombytes_uniform(2);
            r->stage = randombytes_uniform(VARS_NSTAGE);
            int32_t t = (int32_t)randombytes_uniform(4000);
            r->time = (t + GRID - 1) / GRID * GRID;
            r->event = (int)randombytes_uniform(2);
        }
    }
}

/* Mask every node's share, sum them, and release. */
static int
pool_and_release(const struct layout *L, uint64_t *const *share, struct release **rel,
    char *err)
{
    uint8_t pk[NODES][MASK_KEY_LEN], sk[NODES][MASK_KEY_LEN], qhash[MASK_HASH_LEN];
    for (int i = 0; i < NODES; i++)
        crypto_box_keypair(pk[i], sk[i]);
    randombytes_buf(qhash, sizeof qhash);
    size_t n = layout_elems(L);
    uint64_t *sum = calloc(n, sizeof *sum);
    for (int i = 0; i < NODES; i++) {
        struct mask_node *m = NULL;
        assert_int_equal(mask_node_new(&m, sk[i], pk[i], pk, NODES, qhash, err), 0);
        assert_int_equal(share_mask(m, L, share[i], err), 0);
        mask_node_free(m);
        mask_add_counts(sum, share[i], n);
    }
    int rc = release_build(L, sum, NODES, &ppol, rel, err);
    free(sum);
    return rc;
}

static void
count_of(const struct node *nd, Fedra__CountResult *cr, Fedra__Cell *cells, Fedra__Cell **cp,
    char *(*lv)[2])
{
    fedra__count_result__init(cr);
    size_t m = 0;
    for (uint32_t t = 0; t < TYPES; t++)
        for (uint32_t s = 0; s < 2; s++) {
            uint64_t c = 0;
            for (size_t k = 0; k < nd->n; k++)
                c += nd->r[k].type == t && nd->r[k].sex == s;
            if (c == 0)
                continue;
            fedra__cell__init(&cells[m]);
            lv[m][0] = (char *)vars_tumour_levels[t];
            lv[m][1] = (char *)vars_sex_levels[s];
            cells[m].levels = lv[m];
            cells[m].n_levels = 2;
            cells[m].count = c;
            cp[m] = &cells[m];
            m++;
        }
    cr->cells = cp;
    cr->n_cells = m;
}

static void
thin_counts_pool_exactly(void **state)
{
    (void)state;
    struct node nd[NODES];
    make_nodes(nd);
    size_t tries = 0, found = 0, shown = 0;
again:
    found = shown = 0;
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    char *by[2] = {(char *)"tumour_type", (char *)"sex"};
    spec.kind = FEDRA__KIND__KIND_COUNT;
    spec.group_by = by;
    spec.n_group_by = 2;
    struct layout L;
    char err[FEDRA_ERRLEN];
    assert_int_equal(layout_make(&spec, 0, &L, err), 0);
    assert_int_equal(L.npos, VARS_NTUMOUR * VARS_NSEX);
    uint64_t *share[NODES];
    for (int i = 0; i < NODES; i++) {
        Fedra__CountResult cr;
        Fedra__Cell cells[TYPES * 2];
        Fedra__Cell *cp[TYPES * 2];
        char *lv[TYPES * 2][2];
        count_of(&nd[i], &cr, cells, cp, lv);
        share[i] = calloc(layout_elems(&L), sizeof **share);
        assert_int_equal(share_fill_count(&L, &cr, &policy, share[i], err), 0);
    }
    struct release *rel = NULL;
    assert_int_equal(pool_and_release(&L, share, &rel, err), 0);
    Fedra__PoolRelease pr = FEDRA__POOL_RELEASE__INIT;
    release_attach(rel, &pr);
    assert_non_null(pr.count);
    /* Expected, straight from the records. */
    for (uint32_t t = 0; t < TYPES; t++)
        for (uint32_t s = 0; s < 2; s++) {
            struct pool_position x = {0};
            for (int i = 0; i < NODES; i++) {
                uint64_t c = 0;
                for (size_t k = 0; k < nd[i].n; k++)
                    c += nd[i].r[k].type == t && nd[i].r[k].sex == s;
                x.value += c;
                x.contributing += c > 0;
                x.small += c > 0 && c < policy.min_cell;
            }
            if (x.value == 0)
                continue;
            const Fedra__Cell *got = NULL;
            for (size_t j = 0; j < pr.count->n_cells; j++)
                if (strcmp(pr.count->cells[j]->levels[0], vars_tumour_levels[t]) == 0 &&
                    strcmp(pr.count->cells[j]->levels[1], vars_sex_levels[s]) == 0)
                    got = pr.count->cells[j];
            assert_non_null(got);
            found++;
            if (pool_decide(&ppol, &x) == POOL_RELEASED) {
                shown++;
                assert_false(got->suppressed);
                assert_int_equal(got->count, x.value);
            } else {
                /* Held back with no count and no bound, whichever rule held it. */
                assert_true(got->withheld);
                assert_false(got->suppressed);
                assert_int_equal(got->count, 0);
            }
        }
    assert_int_equal(pr.count->n_cells, found);
    assert_int_equal(release_shown(rel), shown);
    release_free(rel);
    for (int i = 0; i < NODES; i++)
        free(share[i]);
    /* The draw must have had both released and held-back cells to test anything. */
    if ((shown == 0 || shown == found) && ++tries < 100) {
        make_nodes(nd);
        goto again;
    }
    assert_true(shown > 0 && shown < found);
}

static void
km_pools_exactly_and_stops_at_the_pooled_risk_set(void **state)
{
    (void)state;
    struct node nd[NODES];
    make_nodes(nd);
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    char *by[1] = {(char *)"stage"};
    spec.kind = FEDRA__KIND__KIND_KM;
    spec.group_by = by;
    spec.n_group_by = 1;
    struct layout L;
    char err[FEDRA_ERRLEN];
    assert_int_equal(layout_make(&spec, GRID, &L, err), 0);
    uint64_t *share[NODES];
    for (int i = 0; i < NODES; i++) {
        /* Each node's life tables, as its km kind executes them (unsuppressed). */
        Fedra__KmResult km = FEDRA__KM_RESULT__INIT;
        Fedra__LifeTable lt[VARS_NSTAGE], *ltp[VARS_NSTAGE];
        char *lv[VARS_NSTAGE][1];
        int32_t tm[VARS_NSTAGE][MAXREC];
        uint64_t ev[VARS_NSTAGE][MAXREC], ce[VARS_NSTAGE][MAXREC];
        for (uint32_t s = 0; s < VARS_NSTAGE; s++) {
            fedra__life_table__init(&lt[s]);
            lv[s][0] = (char *)vars_stage_levels[s];
            lt[s].levels = lv[s];
            lt[s].n_levels = 1;
            lt[s].time = tm[s];
            lt[s].events = ev[s];
            lt[s].censored = ce[s];
            for (int32_t t = 0; t <= 4000 + GRID; t += GRID) {
                uint64_t d = 0, c = 0;
                for (size_t k = 0; k < nd[i].n; k++)
                    if (nd[i].r[k].stage == s && nd[i].r[k].time == t)
                        nd[i].r[k].event ? d++ : c++;
                if (d + c == 0)
                    continue;
                tm[s][lt[s].n_time] = t;
                ev[s][lt[s].n_time] = d;
                ce[s][lt[s].n_time] = c;
                lt[s].n_time++;
                lt[s].n += d + c;
            }
            lt[s].n_events = lt[s].n_censored = lt[s].n_time;
            ltp[s] = &lt[s];
        }
        km.strata = ltp;
        km.n_strata = VARS_NSTAGE;
        share[i] = calloc(layout_elems(&L), sizeof **share);
        assert_int_equal(share_fill_km(&L, &km, &policy, share[i], err), 0);
    }
    struct release *rel = NULL;
    assert_int_equal(pool_and_release(&L, share, &rel, err), 0);
    Fedra__PoolRelease pr = FEDRA__POOL_RELEASE__INIT;
    release_attach(rel, &pr);
    assert_non_null(pr.km);
    for (size_t j = 0; j < pr.km->n_strata; j++) {
        const Fedra__LifeTable *t = pr.km->strata[j];
        int s = vars_level_index(vars_find("stage"), t->levels[0]);
        assert_true(s >= 0);
        uint64_t n = 0;
        int nodes_in = 0, small = 0;
        for (int i = 0; i < NODES; i++) {
            uint64_t c = 0;
            for (size_t k = 0; k < nd[i].n; k++)
                c += nd[i].r[k].stage == (uint32_t)s;
            n += c;
            nodes_in += c > 0;
            small += c > 0 && c < policy.min_cell;
        }
        if (t->suppressed) {
            assert_true(n < ppol.min_cell || (nodes_in < (int)ppol.min_sites && small > 0));
            continue;
        }
        assert_int_equal(t->n, n);
        /* Every released row equals the pooled count at that time, and is shown only
         * while at least min_cell of the stratum are at risk. */
        for (size_t r = 0; r < t->n_time; r++) {
            uint64_t d = 0, c = 0, risk = 0;
            for (int i = 0; i < NODES; i++)
                for (size_t k = 0; k < nd[i].n; k++)
                    if (nd[i].r[k].stage == (uint32_t)s) {
                        if (nd[i].r[k].time == t->time[r])
                            nd[i].r[k].event ? d++ : c++;
                        risk += nd[i].r[k].time >= t->time[r];
                    }
            assert_int_equal(t->events[r], d);
            assert_int_equal(t->censored[r], c);
            assert_true(risk >= ppol.min_cell);
        }
        if (t->truncated_at > 0) {
            uint64_t risk = 0;
            for (int i = 0; i < NODES; i++)
                for (size_t k = 0; k < nd[i].n; k++)
                    risk += nd[i].r[k].stage == (uint32_t)s && nd[i].r[k].time >= t->truncated_at;
            assert_true(risk < ppol.min_cell);
        }
    }
    release_free(rel);
    for (int i = 0; i < NODES; i++)
        free(share[i]);
}

/* One node adds 1 to a value without its flag: the sums betray it, nothing is released. */
static void
a_wrong_share_refuses_the_release(void **state)
{
    (void)state;
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    char *by[1] = {(char *)"sex"};
    spec.kind = FEDRA__KIND__KIND_COUNT;
    spec.group_by = by;
    spec.n_group_by = 1;
    struct layout L;
    char err[FEDRA_ERRLEN];
    assert_int_equal(layout_make(&spec, 0, &L, err), 0);
    uint64_t *share[NODES];
    for (int i = 0; i < NODES; i++)
        share[i] = calloc(layout_elems(&L), sizeof **share);
    share[2][layout_vector_off(&L, LAYOUT_VALUE) + 1] += 3;   /* a value with no contributed flag */
    struct release *rel = NULL;
    assert_int_equal(pool_and_release(&L, share, &rel, err), -1);
    assert_non_null(strstr(err, "do not add up"));
    assert_null(rel);
    for (int i = 0; i < NODES; i++)
        free(share[i]);
}

static void
layouts_are_bounded(void **state)
{
    (void)state;
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    struct layout L;
    char err[FEDRA_ERRLEN];
    char *open_var[1] = {(char *)"morphology"};
    spec.kind = FEDRA__KIND__KIND_COUNT;
    spec.group_by = open_var;
    spec.n_group_by = 1;
    assert_int_equal(layout_make(&spec, 0, &L, err), -1);
    assert_non_null(strstr(err, "no fixed list of levels"));
    char *big[4] = {(char *)"diagnosis_year", (char *)"age_years", (char *)"tumour_type",
        (char *)"stage"};
    spec.group_by = big;
    spec.n_group_by = 4;
    assert_int_equal(layout_make(&spec, 0, &L, err), -1);
    assert_non_null(strstr(err, "more than"));
    spec.kind = FEDRA__KIND__KIND_KM;
    spec.n_group_by = 0;
    assert_int_equal(layout_make(&spec, 0, &L, err), -1);   /* survival needs a grid */
    assert_int_equal(layout_make(&spec, 1, &L, err), 0);
    assert_true(L.npos <= LAYOUT_MAX_POSITIONS);
    assert_int_equal(layout_bin(&L, LAYOUT_HORIZON_DAYS), (long)L.nbins - 1);
    assert_int_equal(layout_bin(&L, LAYOUT_HORIZON_DAYS + 1), -1);
    uint32_t idx[2] = {0, 0};
    spec.kind = FEDRA__KIND__KIND_COUNT;
    spec.group_by = big + 1;
    spec.n_group_by = 2;
    assert_int_equal(layout_make(&spec, 0, &L, err), 0);
    for (size_t c = 0; c < L.ncells; c += 37) {
        layout_cell_levels(&L, c, idx);
        assert_int_equal(layout_cell(&L, idx), c);
    }
    char buf[LAYOUT_LEVEL_TEXT];
    assert_int_equal(layout_level(&L, 0, layout_level_text(&L, 0, 42, buf)), 42);
}

/*
 * A time bin is one element with two lanes (proto/layout.h): events, and
 * censorings times 2^32.  Packed shares summed decode to the summed counts,
 * full lanes included; a pooled stratum of 2^32 patients or more, whose
 * lanes could carry into each other, is refused rather than decoded.
 */
static void
survival_bins_carry_two_lanes(void **state)
{
    (void)state;
    uint64_t e, c;
    layout_bin_unpack(layout_bin_pack(LAYOUT_LANE_MAX, LAYOUT_LANE_MAX), &e, &c);
    assert_true(e == LAYOUT_LANE_MAX && c == LAYOUT_LANE_MAX);
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    spec.kind = FEDRA__KIND__KIND_KM;
    struct layout L;
    char err[FEDRA_ERRLEN];
    assert_int_equal(layout_make(&spec, GRID, &L, err), 0);
    assert_int_equal(L.npos, 1 + L.nbins);     /* one stratum: its size, one element a bin */
    uint64_t *sum = calloc(layout_elems(&L), sizeof *sum);
    uint64_t ev[3] = {7, 0, 4}, ce[3] = {1, 9, 3}, n = 0;
    for (int i = 0; i < 3; i++) {
        sum[layout_surv_bin(&L, 0, 2)] += layout_bin_pack(ev[i], ce[i]);
        n += ev[i] + ce[i];
    }
    sum[layout_surv_n(&L, 0)] = n;
    sum[layout_vector_off(&L, LAYOUT_CONTRIB)] = 3;
    struct release *rel = NULL;
    assert_int_equal(release_build(&L, sum, 3, &ppol, &rel, err), 0);
    Fedra__PoolRelease pr = FEDRA__POOL_RELEASE__INIT;
    release_attach(rel, &pr);
    assert_non_null(pr.km);
    assert_int_equal(pr.km->n_strata, 1);
    const Fedra__LifeTable *t = pr.km->strata[0];
    assert_int_equal(t->n, n);
    assert_int_equal(t->n_time, 1);
    assert_int_equal(t->time[0], 2 * GRID);
    assert_int_equal(t->events[0], 11);
    assert_int_equal(t->censored[0], 13);
    release_free(rel);
    /* 2^32 patients in the stratum: the lanes could carry; nothing is released. */
    memset(sum, 0, layout_elems(&L) * sizeof *sum);
    sum[layout_surv_n(&L, 0)] = LAYOUT_LANE_MAX + 1;
    sum[layout_surv_bin(&L, 0, 0)] = LAYOUT_LANE_MAX + 1;    /* as one lane could not hold */
    sum[layout_vector_off(&L, LAYOUT_CONTRIB)] = 3;
    rel = NULL;
    assert_int_equal(release_build(&L, sum, 3, &ppol, &rel, err), -1);
    assert_non_null(strstr(err, "lanes"));
    assert_null(rel);
    free(sum);
}

int
main(void)
{
    assert_true(sodium_init() >= 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thin_counts_pool_exactly),
        cmocka_unit_test(km_pools_exactly_and_stops_at_the_pooled_risk_set),
        cmocka_unit_test(a_wrong_share_refuses_the_release),
        cmocka_unit_test(layouts_are_bounded),
        cmocka_unit_test(survival_bins_carry_two_lanes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
