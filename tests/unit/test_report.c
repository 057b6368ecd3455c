/*
 * test_report - the coordinator refuses to merge answers that do not fit the
 * query (coord/report.c report_check_replies): each case is a verified but
 * lying or broken node, which must end up as "error" with a reason.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/disclose.h"
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
    uint64_t ev[2][1], ce[2][1], co[2][1];
    Fedra__QuerySpec spec;
    char *by[1];
    Fedra__ModelResult model;
    Fedra__Term terms[2], *termp[2];
    double score[3], info[9];
    Fedra__LogrankOev oev;
    char *groups[2];
    uint64_t gn[2];
    double obs[2], exp_[2], var[4];
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
    f->rep.status = NODE_OK;                /* each call checks the answer afresh */
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

/* cif --by stage: the km fixture's tables with a competing column (no death). */
static void
cif_fixture(struct fx *f)
{
    km_fixture(f);
    f->spec.kind = FEDRA__KIND__KIND_CIF;
    f->spec.endpoint = FEDRA__ENDPOINT__ENDPOINT_EFS;
    for (int i = 0; i < 2; i++) {
        f->co[i][0] = 0;
        f->lt[i].n_competing = 1;
        f->lt[i].competing = f->co[i];
    }
}

/* A cif answer: its split by cause, then km's checks on both causes' events. */
static void
cif_tables_are_checked(void **state)
{
    (void)state;
    struct fx f;
    cif_fixture(&f);
    assert_int_equal(check(&f), NODE_OK);
    cif_fixture(&f);
    f.ev[0][0] = 0;                          /* a death in place of the relapse */
    f.co[0][0] = 1;
    assert_int_equal(check(&f), NODE_OK);
    f.co[0][0] = 2;                          /* more events than patients */
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "do not add up"));
    cif_fixture(&f);
    f.lt[1].n_competing = 0;                 /* no split by cause */
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "by cause"));
    cif_fixture(&f);
    f.co[1][0] = REPORT_MAX_ROWS + 1;        /* a count above the row limit */
    assert_int_equal(check(&f), NODE_ERROR);
    cif_fixture(&f);
    f.ltlev[1][0] = (char *)"localized";     /* km's checks run: the same stratum twice */
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "same stratum twice"));
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

/* ---- the checks of issue 12: what an honest node cannot send ---- */

/* A released count is 0 or above max_hidden; max_hidden is within the protocol's ceiling. */
static void
count_inside_the_suppression_range_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    count_fixture(&f);
    f.cells[0].count = 5;                   /* max_hidden + 1: released */
    assert_int_equal(check(&f), NODE_OK);
    count_fixture(&f);
    f.cells[0].count = 2;
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "released a count of 2, inside its suppression range 1 .. 4"));
    count_fixture(&f);
    f.cells[0].count = 4;                   /* the boundary */
    assert_int_equal(check(&f), NODE_ERROR);
    count_fixture(&f);
    f.cells[0].count = 0;                   /* a zero is released as it is */
    assert_int_equal(check(&f), NODE_OK);
    count_fixture(&f);
    f.cells[1].suppressed = 0;              /* withheld: no count either */
    f.cells[1].withheld = 1;
    assert_int_equal(check(&f), NODE_OK);
    f.cells[1].count = 7;
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "withheld cell carries a count"));
}

static void
max_hidden_above_the_ceiling_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    count_fixture(&f);
    f.cells[0].count = DISCLOSE_MAX_MIN_CELL;
    f.count.max_hidden = DISCLOSE_MAX_MIN_CELL - 1;
    f.body.data_rows = 2 * DISCLOSE_MAX_MIN_CELL;
    assert_int_equal(check(&f), NODE_OK);
    count_fixture(&f);
    f.count.max_hidden = DISCLOSE_MAX_MIN_CELL;
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "max_hidden"));
}

/* km on a 30-day grid: times on the grid the node applied, and that grid the one asked. */
static void
km_grid_fixture(struct fx *f)
{
    km_fixture(f);
    f->spec.grid_days = 30;
    f->km.grid_days = 30;
    f->km.min_cell = 1;
    f->time[1][0] = 60;
}

static void
km_times_off_the_grid_are_rejected(void **state)
{
    (void)state;
    struct fx f;
    km_grid_fixture(&f);
    assert_int_equal(check(&f), NODE_OK);
    f.time[1][0] = 61;
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "sent a time (61 days) off the 30-day grid it applied"));
    km_grid_fixture(&f);
    f.time[0][0] = -30;                     /* a multiple, but no time is negative */
    assert_int_equal(check(&f), NODE_ERROR);
    km_grid_fixture(&f);
    f.lt[0].truncated_at = 60;              /* stops after its last time, on the grid */
    assert_int_equal(check(&f), NODE_OK);
    f.lt[0].truncated_at = 45;
    assert_int_equal(check(&f), NODE_ERROR);
    f.lt[0].truncated_at = 30;              /* a time at the truncation */
    assert_int_equal(check(&f), NODE_ERROR);
}

static void
km_other_grid_than_asked_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    km_grid_fixture(&f);
    f.km.grid_days = 15;                    /* finer: its times are multiples of 15 too */
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "applied a time grid of 15 days where 30 was asked"));
    km_grid_fixture(&f);
    f.km.grid_days = 60;                    /* coarser: never what a node does */
    f.time[0][0] = 60;
    f.time[1][0] = 120;
    assert_int_equal(check(&f), NODE_ERROR);
    km_grid_fixture(&f);
    f.spec.exact_times = 1;                 /* exact times asked: grid 0 */
    assert_int_equal(check(&f), NODE_ERROR);
    f.km.grid_days = 0;
    f.time[1][0] = 61;
    assert_int_equal(check(&f), NODE_OK);
}

static void
km_stratum_inside_the_suppression_range_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    km_grid_fixture(&f);
    f.km.min_cell = 2;                      /* strata of 1 patient: 1 .. min_cell-1 */
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "released a stratum of 1 patients, inside its "
        "suppression range 1 .. 1"));
    km_grid_fixture(&f);
    f.km.min_cell = 2;
    f.lt[0].suppressed = 1;                 /* withheld, with nothing in it */
    f.lt[0].n = 0;
    f.lt[0].n_time = f.lt[0].n_events = f.lt[0].n_censored = 0;
    f.lt[1].suppressed = 1;
    assert_int_equal(check(&f), NODE_ERROR);    /* stratum 1: withheld but carries a table */
    assert_non_null(strstr(f.rep.reason, "suppressed stratum carries a life table"));
    f.lt[1] = f.lt[0];
    f.ltlev[1][0] = (char *)"regional";
    f.lt[1].levels = f.ltlev[1];
    assert_int_equal(check(&f), NODE_OK);
    km_grid_fixture(&f);
    f.km.min_cell = DISCLOSE_MAX_MIN_CELL + 1;
    assert_int_equal(check(&f), NODE_ERROR);
}

/*
 * A Cox round with terms age_years and stage=regional; its information is
 * X'X of the rows given (PSD by construction, never typed).
 */
static void
model_fixture(struct fx *f, const double (*x)[2], size_t nrows)
{
    count_fixture(f);
    f->body.count = NULL;
    f->spec.kind = FEDRA__KIND__KIND_COX;
    f->spec.grid_days = 30;
    const char *var[2] = {"age_years", "stage"}, *lev[2] = {"", "regional"};
    for (int k = 0; k < 2; k++) {
        fedra__term__init(&f->terms[k]);
        f->terms[k].var = (char *)var[k];
        f->terms[k].level = (char *)lev[k];
        f->termp[k] = &f->terms[k];
    }
    f->spec.n_terms = 2;
    f->spec.terms = f->termp;
    fedra__model_result__init(&f->model);
    f->model.n = 40;
    f->model.events = 10;
    f->model.loglik = -30.5;
    f->model.grid_days = 30;
    memset(f->info, 0, sizeof f->info);
    for (size_t r = 0; r < nrows; r++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
                f->info[a * 2 + b] += x[r][a] * x[r][b];
    f->score[0] = 0.25;
    f->score[1] = -1.5;
    f->model.n_score = 2;
    f->model.score = f->score;
    f->model.n_info = 4;
    f->model.info = f->info;
    f->body.model = &f->model;
}

static const double rows_full[][2] = {{1.5, 1}, {-2.25, 0}, {0.75, 1}, {3.5, 0}, {-1, 1}};
static const double rows_absent[][2] = {{1.5, 0}, {-2.25, 0}, {0.75, 0}};   /* no regional */
static const double rows_aliased[][2] = {{0.1, 0.3}, {-0.7, -2.1}, {1.3, 3.9}};   /* col 2 = 3 x col 1 */

static void
model_information_not_psd_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    model_fixture(&f, rows_full, 5);
    assert_int_equal(check(&f), NODE_OK);
    for (int k = 0; k < 4; k++)
        f.info[k] = -f.info[k];             /* the lie: negative definite */
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "information matrix that is not positive semi-definite"));
    /* Honest singular matrices pass: a level the node does not hold, aliased columns. */
    model_fixture(&f, rows_absent, 3);
    assert_true(f.info[3] == 0 && f.info[1] == 0);
    assert_int_equal(check(&f), NODE_OK);
    model_fixture(&f, rows_aliased, 3);
    assert_int_equal(check(&f), NODE_OK);
    /* A zero diagonal beside a non-zero entry is indefinite ([[0, c], [c, d]]). */
    model_fixture(&f, rows_absent, 3);
    f.info[1] = f.info[2] = 1;
    assert_int_equal(check(&f), NODE_ERROR);
    /* Negative only in its own small column, next to a large one: still found. */
    model_fixture(&f, rows_full, 5);
    f.info[0] = 1e6;
    f.info[1] = f.info[2] = 0;
    f.info[3] = -1e-2;
    assert_int_equal(check(&f), NODE_ERROR);
    f.info[3] = 1e-2;
    assert_int_equal(check(&f), NODE_OK);
}

/* The model fixture as a glm round (an intercept and one term: p stays 2). */
static void
glm_fixture(struct fx *f, const double (*x)[2], size_t nrows)
{
    model_fixture(f, x, nrows);
    f->spec.kind = FEDRA__KIND__KIND_GLM;
    f->spec.n_terms = 1;
}

/*
 * A glm sum that is not finite is refused; a Cox round's is taken (the step
 * is then halved, as R's coxfit6 halves it when a coefficient runs off and
 * exp of the linear predictor overflows at an honest node).
 */
static void
model_non_finite_or_misshapen_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        glm_fixture(&f, rows_full, 5);
        assert_int_equal(check(&f), NODE_OK);
        f.score[1] = bad[i];
        assert_int_equal(check(&f), NODE_ERROR);
        assert_non_null(strstr(f.rep.reason, "not a finite number"));
        glm_fixture(&f, rows_full, 5);
        f.model.deviance = bad[i];
        assert_int_equal(check(&f), NODE_ERROR);
        glm_fixture(&f, rows_full, 5);
        f.info[1] = f.info[2] = bad[i];
        assert_int_equal(check(&f), NODE_ERROR);
        model_fixture(&f, rows_full, 5);
        f.score[1] = bad[i];
        assert_int_equal(check(&f), NODE_OK);
        model_fixture(&f, rows_full, 5);
        f.model.loglik = bad[i];
        assert_int_equal(check(&f), NODE_OK);
        model_fixture(&f, rows_full, 5);
        f.info[1] = f.info[2] = bad[i];
        assert_int_equal(check(&f), NODE_OK);
    }
    model_fixture(&f, rows_full, 5);
    f.model.n_info = 3;                     /* not p x p */
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "wrong shape"));
    model_fixture(&f, rows_full, 5);
    f.model.n_score = 3;                    /* not p */
    assert_int_equal(check(&f), NODE_ERROR);
    model_fixture(&f, rows_full, 5);
    f.info[1] += 1;                         /* not symmetric */
    assert_int_equal(check(&f), NODE_ERROR);
}

static void
model_other_grid_or_suppressed_value_is_rejected(void **state)
{
    (void)state;
    struct fx f;
    model_fixture(&f, rows_full, 5);
    f.model.grid_days = 60;
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "time grid of 60 days where 30 was asked"));
    model_fixture(&f, rows_full, 5);
    f.spec.kind = FEDRA__KIND__KIND_GLM;    /* glm: an intercept and no grid */
    f.spec.n_terms = 1;
    f.model.grid_days = 0;
    assert_int_equal(check(&f), NODE_OK);
    model_fixture(&f, rows_full, 5);
    f.model.excluded_suppressed = 1;
    assert_int_equal(check(&f), NODE_OK);
    f.model.excluded = 3;
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "suppressed count that carries a value"));
}

/* logrank --stratify-by-node: two groups, V of a 2 x 2 hypergeometric (rows sum to 0). */
static void
oev_fixture(struct fx *f)
{
    count_fixture(f);
    f->body.count = NULL;
    f->spec.kind = FEDRA__KIND__KIND_LOGRANK;
    f->spec.stratify_by_node = 1;
    fedra__logrank_oev__init(&f->oev);
    f->groups[0] = (char *)"localized";
    f->groups[1] = (char *)"regional";
    f->gn[0] = 30;
    f->gn[1] = 20;
    f->obs[0] = 7;
    f->obs[1] = 9;
    f->exp_[0] = 9.6;
    f->exp_[1] = 6.4;
    double v = 16 * (30.0 / 50) * (20.0 / 50) * (50 - 16) / 49;
    f->var[0] = f->var[3] = v;
    f->var[1] = f->var[2] = -v;
    f->oev.n_groups = f->oev.n_n = f->oev.n_observed = f->oev.n_expected = 2;
    f->oev.n_variance = 4;
    f->oev.groups = f->groups;
    f->oev.n = f->gn;
    f->oev.observed = f->obs;
    f->oev.expected = f->exp_;
    f->oev.variance = f->var;
    f->body.logrank = &f->oev;
}

static void
logrank_sums_are_checked(void **state)
{
    (void)state;
    struct fx f;
    oev_fixture(&f);
    assert_int_equal(check(&f), NODE_OK);
    oev_fixture(&f);
    f.var[0] = -f.var[0];                   /* no longer PSD */
    f.var[3] = -f.var[3];
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "not positive semi-definite"));
    oev_fixture(&f);
    f.exp_[1] = NAN;
    assert_int_equal(check(&f), NODE_ERROR);
    assert_non_null(strstr(f.rep.reason, "not a finite number"));
    oev_fixture(&f);
    f.var[1] *= 1 + 1e-14;                  /* computed apart: the last bits may differ */
    assert_int_equal(check(&f), NODE_OK);
    f.var[1] *= 1.5;
    assert_int_equal(check(&f), NODE_ERROR);
    oev_fixture(&f);
    f.obs[0] = 31;                          /* more events than patients */
    assert_int_equal(check(&f), NODE_ERROR);
}

/* report_psd itself: a larger PSD matrix (X'X), a tiny rounding negative, a 3 x 3 indefinite. */
static void
psd_test_by_itself(void **state)
{
    (void)state;
    char why[FEDRA_ERRLEN];
    double a[9] = {0}, x[4][3] = {{1, 2, 3}, {0.5, -1, 0}, {2, 2, 4}, {-1, 0.25, -0.75}};
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                a[i * 3 + j] += x[r][i] * x[r][j];
    assert_int_equal(report_psd(a, 3, why), 0);
    double z[4] = {1, 1, 1, 1 - 1e-15};      /* singular, rounded just below */
    assert_int_equal(report_psd(z, 2, why), 0);
    double ind[9] = {2, 1, 1, 1, 2, 1, 1, 1, -1};
    assert_int_equal(report_psd(ind, 3, why), -1);
    assert_non_null(strstr(why, "column 3"));
    double zero[4] = {0, 0, 0, 0};
    assert_int_equal(report_psd(zero, 2, why), 0);
    const double v[] = {1, NAN};
    assert_int_equal(report_finite(v, 1), 0);
    assert_int_equal(report_finite(v, 2), -1);
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
    struct report r = {REPORT_JSON, out, stderr, &fed, NULL, "", NULL};
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
        cmocka_unit_test(cif_tables_are_checked),
        cmocka_unit_test(km_count_above_the_row_limit_is_rejected),
        cmocka_unit_test(count_inside_the_suppression_range_is_rejected),
        cmocka_unit_test(max_hidden_above_the_ceiling_is_rejected),
        cmocka_unit_test(km_times_off_the_grid_are_rejected),
        cmocka_unit_test(km_other_grid_than_asked_is_rejected),
        cmocka_unit_test(km_stratum_inside_the_suppression_range_is_rejected),
        cmocka_unit_test(model_information_not_psd_is_rejected),
        cmocka_unit_test(model_non_finite_or_misshapen_is_rejected),
        cmocka_unit_test(model_other_grid_or_suppressed_value_is_rejected),
        cmocka_unit_test(logrank_sums_are_checked),
        cmocka_unit_test(psd_test_by_itself),
        cmocka_unit_test(unknown_kind_is_rejected),
        cmocka_unit_test(json_reals_are_shortest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
