/*
 * test_qaudit - the disclosure auditor (node/qaudit.c: rules R3-R5 of
 * docs/disclosure.md §6) on a real store and snapshot built by import_csv,
 * each query answered by its kind's row (node/kind.h) as the node does.
 *
 * The data: 30 patients p00..p29, patient i aged i years (age_at_diagnosis_days
 * = 366 i, and floor(366 i / 365.25) = i for i < 30), sex F for even i and M
 * for odd i; dead for i divisible by 3; last contact in month i of 2011 on
 * (the 15th), so follow-up grows by about a month with i; everything else
 * equal.  So "age_years < a"
 * selects exactly a patients, and every difference below is counted from
 * that.
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
#include "node/kind.h"
#include "node/qaudit.h"
#include "node/snapshot.h"
#include "node/store.h"

#define TODAY 20269                 /* 2025-06-30 */
#define NPAT 30

struct fx {
    char dir[64], db[128], csv[128];
    struct store *store;
    struct snapshot *snap;
    struct qaudit *qa;              /* opened by admit() for its min_cell and max_sets */
    uint32_t qa_k;
    uint64_t qa_max;
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
            "20%02d-%02d-15,\n", i, i % 2 ? "M" : "F", 366 * i, i % 3 ? "alive" : "dead",
            11 + i / 12, 1 + i % 12);
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
    qaudit_close(f->qa);
    snapshot_free(f->snap);
    store_free(f->store);
    unlink_db(f->db);
    unlink(f->csv);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A query spec: kind, up to two "var op value" filters, up to two group-by variables. */
struct spec {
    Fedra__QuerySpec q;
    Fedra__Filter w[3], *wp[3];
    char *vals[3][1];
    char *by[4];
    Fedra__Term term, *termp;
};

static void
mkspec(struct spec *s, Fedra__Kind kind, const char *var, Fedra__Op op, const char *value,
    const char *by1, const char *by2)
{
    memset(s, 0, sizeof *s);
    fedra__query_spec__init(&s->q);
    s->q.kind = kind;
    s->q.grid_days = 30;
    s->q.endpoint = FEDRA__ENDPOINT__ENDPOINT_OS;
    s->q.where = s->wp;
    if (var != NULL) {
        fedra__filter__init(&s->w[0]);
        s->w[0].var = (char *)var;
        s->w[0].op = op;
        s->vals[0][0] = (char *)value;
        s->w[0].values = s->vals[0];
        s->w[0].n_values = 1;
        s->wp[s->q.n_where++] = &s->w[0];
    }
    if (by1 != NULL)
        s->by[s->q.n_group_by++] = (char *)by1;
    if (by2 != NULL)
        s->by[s->q.n_group_by++] = (char *)by2;
    s->q.group_by = s->by;
}

/* A second filter term. */
static void
and_filter(struct spec *s, const char *var, Fedra__Op op, const char *value)
{
    Fedra__Filter *w = &s->w[s->q.n_where];
    fedra__filter__init(w);
    w->var = (char *)var;
    w->op = op;
    s->vals[s->q.n_where][0] = (char *)value;
    w->values = s->vals[s->q.n_where];
    w->n_values = 1;
    s->wp[s->q.n_where] = w;
    s->q.n_where++;
}

/* What the answer released, read back from its ResponseBody. */
struct seen {
    size_t cells, withheld, suppressed;     /* count */
    size_t strata, held;                    /* km: strata with patients, those suppressed */
    int32_t trunc[8];                       /* km: truncated_at per stratum */
    int lowrisk;                            /* km: a released row with n.risk < min_cell */
};

static void
look(const struct node_kind *k, const struct node_answer *ans, uint32_t min_cell,
    struct seen *out)
{
    Fedra__ResponseBody rb = FEDRA__RESPONSE_BODY__INIT;
    memset(out, 0, sizeof *out);
    k->result(ans, &rb);
    for (size_t i = 0; rb.count != NULL && i < rb.count->n_cells; i++) {
        out->cells++;
        out->withheld += rb.count->cells[i]->withheld;
        out->suppressed += rb.count->cells[i]->suppressed;
    }
    for (size_t i = 0; rb.km != NULL && i < rb.km->n_strata; i++) {
        const Fedra__LifeTable *lt = rb.km->strata[i];
        out->strata += lt->n > 0 || lt->suppressed;
        out->held += lt->suppressed;
        if (i < 8)
            out->trunc[i] = lt->truncated_at;
        uint64_t risk = lt->n;
        for (size_t j = 0; j < lt->n_time; j++) {
            out->lowrisk |= risk < min_cell;
            risk -= lt->events[j] + lt->censored[j];
        }
    }
}

/*
 * Answer spec as the node does (the kind's row, then the auditor), and
 * commit what the auditor kept, as after a signed, audited answer.  The
 * auditor is (re)opened from the store when min_cell or max_sets change.
 * Returns the refusal class, "query" if the executor refused, or NULL.
 */
static const char *
admit_seen(void **state, const struct spec *s, uint32_t min_cell, const char *analyst,
    uint64_t max_sets, char *err, struct seen *seen)
{
    struct fx *f = *state;
    struct disclose_policy p = {min_cell, 30, 1};
    if (f->qa == NULL || f->qa_k != min_cell || f->qa_max != max_sets) {
        qaudit_close(f->qa);
        f->qa = qaudit_open(store_db(f->store), f->snap, min_cell, max_sets, NULL, err);
        assert_non_null(f->qa);
        f->qa_k = min_cell;
        f->qa_max = max_sets;
    }
    const struct node_kind *k = node_kind_get(s->q.kind);
    assert_non_null(k);
    struct node_kind_ctx ctx = {.snap = f->snap, .software = "test"};
    struct node_answer ans;
    const char *code = "query";
    if (node_kind_answer(k, &ctx, &p, &s->q, &ans, err) == 0) {
        code = qaudit_admit(f->qa, store_db(f->store), f->snap, k, &p, &s->q, &ans, analyst,
            "0123456789abcdef", 1700000000000, err);
        if (code == NULL) {
            if (seen != NULL)
                look(k, &ans, min_cell, seen);
            qaudit_commit(f->qa);
        }
    }
    k->free_answer(&ans);
    return code;
}

static const char *
admit(void **state, const struct spec *s, uint32_t min_cell, const char *analyst,
    uint64_t max_sets, char *err)
{
    return admit_seen(state, s, min_cell, analyst, max_sets, err, NULL);
}

static const char *
count_age_lt(void **state, const char *value, uint32_t min_cell, const char *analyst, char *err)
{
    struct spec s;
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LT, value, NULL, NULL);
    return admit(state, &s, min_cell, analyst, QAUDIT_DEFAULT_MAX_SETS, err);
}

/*
 * Differences of 1 .. min_cell-1 are refused; min_cell (the boundary) passes.
 * The refusal says only "1 to min_cell-1 patients" (it used to name the
 * earlier query and who asked it: no longer, a refusal tells no more than a
 * suppressed cell).
 */
static void
test_difference_boundary(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    assert_null(count_age_lt(state, "10", 5, "alice", err));           /* 10 patients */
    assert_string_equal(count_age_lt(state, "11", 5, "alice", err), "differencing"); /* 1 */
    assert_non_null(strstr(err, "1 to 4 patients"));
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

/*
 * The history is shared: two analysts cannot split the pair between them.
 * (The refusal no longer says "to another analyst": it names nothing.)
 */
static void
test_across_analysts(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    assert_null(count_age_lt(state, "10", 5, "alice", err));
    assert_string_equal(count_age_lt(state, "12", 5, "bob", err), "differencing");
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
 * suppressed cell.  The pairwise rule refused the whole margin query; now
 * it is answered and that margin cell alone is withheld (complementary
 * suppression).  Age groups 0-4, 5-9, 10-14, 15-19 each have one sex of 2
 * (suppressed) and the other of 3; 20+ has 5 and 5.
 */
static void
test_margin_after_table(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec two, one;
    struct seen a, b;
    mkspec(&two, FEDRA__KIND__KIND_COUNT, NULL, 0, NULL, "sex", "age_group");
    mkspec(&one, FEDRA__KIND__KIND_COUNT, NULL, 0, NULL, "age_group", NULL);
    assert_null(admit_seen(state, &two, 3, "alice", QAUDIT_DEFAULT_MAX_SETS, err, &a));
    assert_int_equal(a.suppressed, 4);
    assert_int_equal(a.withheld, 0);
    assert_null(admit_seen(state, &one, 3, "alice", QAUDIT_DEFAULT_MAX_SETS, err, &b));
    assert_int_equal(b.cells, 5);
    assert_int_equal(b.withheld, 4);        /* every margin with a suppressed cell */
}

/*
 * The refinement (count --by age_group, then --by sex,age_group) is
 * answered (it was refused): the cell next to each suppressed one is
 * withheld, so that no margin minus released cells gives it away.
 */
static void
test_table_after_margin(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec two, one;
    struct seen a;
    mkspec(&two, FEDRA__KIND__KIND_COUNT, NULL, 0, NULL, "sex", "age_group");
    mkspec(&one, FEDRA__KIND__KIND_COUNT, NULL, 0, NULL, "age_group", NULL);
    assert_null(admit(state, &one, 3, "alice", QAUDIT_DEFAULT_MAX_SETS, err));
    assert_null(admit_seen(state, &two, 3, "alice", QAUDIT_DEFAULT_MAX_SETS, err, &a));
    assert_int_equal(a.cells, 10);
    assert_int_equal(a.suppressed, 4);
    assert_int_equal(a.withheld, 4);
}

/*
 * Survival strata: km on age>=10 (20) then age>=9 (21) would give p09's
 * time: refused (the whole cohort fails).  Then the log-rank test by sex
 * on age>=9 (answered as km tables), with min_cell 3: its F stratum (even
 * ages 10..28, 3 of them dead) is fine, its M stratum (p09 and the odd ages
 * from 11) would give p09 away with age>=10's table; the pairwise rule
 * refused the query, now it is answered with the M stratum withheld (key
 * system).  The F stratum is released: its 3 events subtracted from the 5
 * of age>=10 give 2 events among the other patients of age>=10, a key
 * group of more than min_cell; a curve's events are not small counts to
 * hide (its steps are counts of 1 and 2 by nature), what protects them is
 * the number at risk (R4; docs/disclosure.md §6.4).
 */
static void
test_km_strata(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec a, b, c;
    struct seen sc;
    mkspec(&a, FEDRA__KIND__KIND_KM, "age_years", FEDRA__OP__OP_GE, "10", NULL, NULL);
    mkspec(&b, FEDRA__KIND__KIND_KM, "age_years", FEDRA__OP__OP_GE, "9", NULL, NULL);
    mkspec(&c, FEDRA__KIND__KIND_LOGRANK, "age_years", FEDRA__OP__OP_GE, "9", "sex", NULL);
    assert_null(admit(state, &a, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err));
    assert_string_equal(admit(state, &b, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err),
        "differencing");
    assert_null(admit_seen(state, &c, 3, "alice", QAUDIT_DEFAULT_MAX_SETS, err, &sc));
    assert_int_equal(sc.strata, 2);
    assert_int_equal(sc.held, 1);
}

/*
 * Capacity: the bound is on stored sets (a count cell stores its key set
 * and its full set, deduplicated).  Exactly max_sets is allowed, one more
 * is refused; a repeat stores nothing and passes even when full.
 */
static void
test_capacity_boundary(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec s;
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LT, "10", NULL, NULL);
    assert_null(admit(state, &s, 5, "alice", 2, err));                  /* 2 of 2 */
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LT, "20", NULL, NULL);
    assert_string_equal(admit(state, &s, 5, "alice", 2, err), "capacity");      /* 4 of 2 */
    assert_non_null(strstr(err, "full"));
    assert_null(admit(state, &s, 5, "alice", 4, err));                  /* 4 of 4 */
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LT, "10", NULL, NULL);
    assert_null(admit(state, &s, 5, "alice", 4, err));
}

/*
 * Ping releases nothing about a patient; a spec the executor refuses never
 * reaches the auditor (node_kind_answer refuses it first).
 */
static void
test_not_audited(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec s;
    mkspec(&s, FEDRA__KIND__KIND_PING, NULL, 0, NULL, NULL, NULL);
    assert_null(admit(state, &s, 5, "alice", 0, err));
    mkspec(&s, FEDRA__KIND__KIND_COUNT, NULL, 0, NULL, "favourite_colour", NULL);
    assert_string_equal(admit(state, &s, 5, "alice", 0, err), "query");
}

/*
 * What a kind releases is its registry row's to say (node/kind.h): a Cox
 * round releases its complete-case cohort (and its levels and events),
 * which a count one patient larger would then reveal by subtraction.  (An
 * unknown kind has no row: the node refuses it "unsupported" before the
 * auditor, node/serve.c.)
 */
static void
test_kind_rows(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec s;
    assert_null(node_kind_get(99));
    mkspec(&s, FEDRA__KIND__KIND_COX, "age_years", FEDRA__OP__OP_LT, "20", NULL, NULL);
    fedra__term__init(&s.term);
    s.term.var = (char *)"age_years";
    s.term.level = (char *)"";
    s.termp = &s.term;
    s.q.terms = &s.termp;
    s.q.n_terms = 1;
    double beta = 0;
    s.q.beta = &beta;
    s.q.n_beta = 1;
    assert_null(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err));   /* 20, 7 dead */
    assert_string_equal(count_age_lt(state, "21", 5, "alice", err), "differencing"); /* 1 */
    assert_non_null(strstr(err, "1 to 4 patients"));
}

/*
 * Attack 4, a tracker of three queries (docs/disclosure.md §4.4), which the
 * pairwise rule let through: count by vital_status of everybody, of age<10
 * and of age>10 give p10's status as D - D1 - D2.  The third query's cohort
 * (its key set) completes the tracker: refused.
 */
static void
test_tracker(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec s;
    mkspec(&s, FEDRA__KIND__KIND_COUNT, NULL, 0, NULL, "vital_status", NULL);
    assert_null(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err));
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LT, "10", "vital_status",
        NULL);
    assert_null(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err));
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_GT, "10", "vital_status",
        NULL);
    assert_string_equal(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err),
        "differencing");
}

/*
 * Attack 3, refusals as an oracle (§4.3), in the cohort K = age < 20: the
 * dead of K without the target, then the dead of K.  The decision comes
 * from the key sets, which ignore vital_status: the same refusal, word for
 * word, whether the target (p09 dead, p10 alive) died or not.  (The
 * pairwise rule answered when the target was alive.)
 */
static void
oracle_pair(void **state, const char *age, char *err)
{
    struct spec s;
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "vital_status", FEDRA__OP__OP_EQ, "dead", NULL, NULL);
    and_filter(&s, "age_years", FEDRA__OP__OP_LT, "20");
    and_filter(&s, "age_years", FEDRA__OP__OP_NE, age);
    assert_null(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err));
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "vital_status", FEDRA__OP__OP_EQ, "dead", NULL, NULL);
    and_filter(&s, "age_years", FEDRA__OP__OP_LT, "20");
    assert_string_equal(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err),
        "differencing");
}

static void
test_refusal_oracle(void **state)
{
    char err[FEDRA_ERRLEN] = "", err2[FEDRA_ERRLEN] = "";
    oracle_pair(state, "9", err);               /* p09: dead */
    teardown(state);
    assert_int_equal(setup(state), 0);
    oracle_pair(state, "10", err2);             /* p10: alive */
    assert_string_equal(err, err2);
}

/*
 * Attack 2, across kinds (§4.2): a km on K = age < 20 but p09 releases that
 * cohort and its events; the dead of K would then give p09's status.
 * Refused: its key set (K) minus the km's cohort is p09.  (And a cohort of
 * all rows but 1 .. 4 is refused at once: every answer carries data_rows.)
 */
static void
test_across_kinds(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec s;
    mkspec(&s, FEDRA__KIND__KIND_KM, "age_years", FEDRA__OP__OP_NE, "9", NULL, NULL);
    assert_string_equal(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err),
        "differencing");
    mkspec(&s, FEDRA__KIND__KIND_KM, "age_years", FEDRA__OP__OP_NE, "9", NULL, NULL);
    and_filter(&s, "age_years", FEDRA__OP__OP_LT, "20");
    assert_null(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err));
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LT, "20", NULL, NULL);
    and_filter(&s, "vital_status", FEDRA__OP__OP_EQ, "dead");
    assert_string_equal(admit(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err),
        "differencing");
}

/*
 * R4: a life table stops where fewer than min_cell remain at risk: no
 * released row has n.risk below it, and the table says where it stopped.
 * R5: a stratum of 1 .. min_cell-1 patients is withheld, the others are
 * answered (it used to refuse the node).  With min_cell 4 and age < 7 by
 * vital_status: 3 dead (p00, p03, p06), 4 alive (no events).
 */
static void
test_tails_and_small_strata(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct spec s;
    struct seen a;
    mkspec(&s, FEDRA__KIND__KIND_KM, NULL, 0, NULL, NULL, NULL);
    assert_null(admit_seen(state, &s, 5, "alice", QAUDIT_DEFAULT_MAX_SETS, err, &a));
    assert_int_equal(a.strata, 1);
    assert_true(a.trunc[0] > 0);
    assert_false(a.lowrisk);
    teardown(state);
    assert_int_equal(setup(state), 0);
    mkspec(&s, FEDRA__KIND__KIND_KM, "age_years", FEDRA__OP__OP_LT, "7", "vital_status", NULL);
    assert_null(admit_seen(state, &s, 4, "alice", QAUDIT_DEFAULT_MAX_SETS, err, &a));
    assert_int_equal(a.strata, 2);
    assert_int_equal(a.held, 1);
    assert_false(a.lowrisk);
}

/*
 * Persistence: the history is rebuilt from the store by replaying the
 * stored sets (a node restart), and a rolled-back query (an answer that was
 * not sent) leaves nothing behind.
 */
static void
test_replay_and_rollback(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    assert_null(count_age_lt(state, "10", 5, "alice", err));
    qaudit_close(f->qa);                        /* restart */
    f->qa = NULL;
    assert_string_equal(count_age_lt(state, "11", 5, "alice", err), "differencing");
    /* Admitted but not sent: rolled back, in memory and in the store. */
    struct spec s;
    mkspec(&s, FEDRA__KIND__KIND_COUNT, "age_years", FEDRA__OP__OP_LT, "20", NULL, NULL);
    const struct node_kind *k = node_kind_get(FEDRA__KIND__KIND_COUNT);
    struct disclose_policy p = {5, 30, 1};
    struct node_kind_ctx ctx = {.snap = f->snap, .software = "test"};
    struct node_answer ans;
    assert_int_equal(node_kind_answer(k, &ctx, &p, &s.q, &ans, err), 0);
    assert_null(qaudit_admit(f->qa, store_db(f->store), f->snap, k, &p, &s.q, &ans, "alice",
        "0", 1, err));
    qaudit_rollback(f->qa, store_db(f->store));
    k->free_answer(&ans);
    assert_null(count_age_lt(state, "21", 5, "alice", err));   /* 1 from age<20: not released */
    qaudit_close(f->qa);
    f->qa = NULL;
    assert_string_equal(count_age_lt(state, "20", 5, "alice", err), "differencing");
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
        cmocka_unit_test_setup_teardown(test_tracker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_oracle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_across_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tails_and_small_strata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_and_rollback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
