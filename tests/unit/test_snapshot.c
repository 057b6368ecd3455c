/*
 * test_snapshot - the in-memory columns and the count engine (node/snapshot.c)
 * and the count and model kinds on top of it, answered through the registry
 * as the node answers them (node/kind.h: execute, then release).
 *
 * One group fixture imports the twelve hand-written rows below through
 * import_csv (so the store is built the way a node builds it) and loads the
 * snapshot once.  Every expected value was worked out by hand from this table
 * (times were re-checked with Python's datetime):
 *
 *  id  sex days  age grp   dx         tumour morph  topo  stage s/c/r vital os     efs
 *  p01 F   1461  4   0-4   2010-01-01 mel    8720/3 C44.5 loc   y/n/n alive 365/0  365/0
 *  p02 M   1460  3   0-4   2010-06-15 mel    8720/3 -     reg   y/y/n dead  731/1  365/1 ev
 *  p03 F   0     0   0-4   1950-01-01 acc    8370/3 C74.0 met   n/y/y dead  60/1   60/1
 *  p04 U   36500 99  20+   2020-02-29 other  -      -     unk   u/u/u alive 0/0    0/1 ev
 *  p05 M   365   0   0-4   2015-03-01 thy    8260/3 C73.9 loc   y/n/n alive 366/0  366/0
 *  p06 F   366   1   0-4   2015-07-01 thy    8260/3 C73.9 loc   y/n/n alive 1461/0 550/1 ev
 *  p07 F   7305  20  20+   2000-12-31 mel    8720/3 C44.5 reg   n/y/n dead  731/1  731/1
 *  p08 M   7304  19  15-19 2001-01-01 acc    8370/3 C74.0 reg   y/y/y alive 1585/0 1585/0
 *  p09 F   3652  9   5-9   2018-05-20 acc    8370/3 C74.0 loc   y/y/n alive 2192/0 2192/0
 *  p10 M   5479  15  15-19 2018-05-20 mel    8720/3 C44.5 reg   n/n/n dead  365/1  184/1 ev
 *  p11 F   1826  4   0-4   2022-08-08 mel    8721/3 C44.5 loc   y/n/y alive 877/0  877/0
 *  p12 M   4000  10  10-14 2010-01-01 acc    -      C74.0 met   y/y/y alive 1826/0 1826/0
 *
 * (s/c/r = surgery/chemotherapy/radiotherapy; os and efs are time/event in
 * days; "ev" marks rows with an event_date, which efs uses.)
 *
 * age_years = floor(days / 365.25): 1461 = 4 * 365.25 exactly -> 4, 1460 -> 3,
 * 7305 = 20 * 365.25 -> 20, 7304 -> 19, 3652 < 3652.5 -> 9, 5479 > 5478.75 -> 15,
 * 1826 < 1826.25 -> 4, 365 -> 0, 366 -> 1, 36500 -> 99.
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

#include "analysis/disclose.h"
#include "analysis/km.h"
#include "lib/util.h"
#include "node/kind.h"
#include "node/kind_model.h"
#include "node/import.h"
#include "node/snapshot.h"
#include "node/store.h"

#define TODAY 20269                 /* 2025-06-30 */
#define NROWS 12

static const char csv_text[] =
    "patient_id,eupid,sex,age_at_diagnosis_days,diagnosis_date,tumour_type,"
    "icdo3_morphology,icdo3_topography,stage,surgery,chemotherapy,radiotherapy,vital_status,"
    "last_contact_date,event_date\n"
    "p01,,F,1461,2010-01-01,melanoma,8720/3,C44.5,localized,yes,no,no,alive,2011-01-01,\n"
    "p02,,M,1460,2010-06-15,melanoma,8720/3,,regional,yes,yes,no,dead,2012-06-15,2011-06-15\n"
    "p03,,F,0,1950-01-01,adrenocortical_carcinoma,8370/3,C74.0,metastatic,no,yes,yes,dead,"
    "1950-03-02,\n"
    "p04,,U,36500,2020-02-29,other,,,unknown,unknown,unknown,unknown,alive,2020-02-29,"
    "2020-02-29\n"
    "p05,,M,365,2015-03-01,thyroid_carcinoma,8260/3,C73.9,localized,yes,no,no,alive,"
    "2016-03-01,\n"
    "p06,,F,366,2015-07-01,thyroid_carcinoma,8260/3,C73.9,localized,yes,no,no,alive,"
    "2019-07-01,2017-01-01\n"
    "p07,,F,7305,2000-12-31,melanoma,8720/3,C44.5,regional,no,yes,no,dead,2003-01-01,\n"
    "p08,,M,7304,2001-01-01,adrenocortical_carcinoma,8370/3,C74.0,regional,yes,yes,yes,alive,"
    "2005-05-05,\n"
    "p09,,F,3652,2018-05-20,adrenocortical_carcinoma,8370/3,C74.0,localized,yes,yes,no,alive,"
    "2024-05-20,\n"
    "p10,,M,5479,2018-05-20,melanoma,8720/3,C44.5,regional,no,no,no,dead,2019-05-20,"
    "2018-11-20\n"
    "p11,,F,1826,2022-08-08,melanoma,8721/3,C44.5,localized,yes,no,yes,alive,2025-01-01,\n"
    "p12,,M,4000,2010-01-01,adrenocortical_carcinoma,,C74.0,metastatic,yes,yes,yes,alive,"
    "2015-01-01,\n";

struct fx {
    char dir[64];
    char db[128], csv[128];
    struct store *store;
    struct snapshot *snap;
};

static int
group_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "";
    snprintf(f->dir, sizeof f->dir, "/tmp/test_snapshot.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->db, sizeof f->db, "%s/store.db", f->dir);
    snprintf(f->csv, sizeof f->csv, "%s/rows.csv", f->dir);
    if (util_write_file(f->csv, csv_text, strlen(csv_text), 0644, err) != 0 ||
        store_open(f->db, 0, &f->store, err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    struct import_opts o = {0};
    struct import_stats st;
    struct buf rep = {0};
    const char *paths[1] = {f->csv};
    o.today = TODAY;
    if (import_csv(f->store, paths, 1, &o, &st, &rep, err) != 0) {
        fprintf(stderr, "setup: import: %s\n%.*s", err, (int)rep.len, (const char *)rep.p);
        buf_release(&rep);
        return -1;
    }
    buf_release(&rep);
    if (snapshot_load(f->store, &f->snap, err) != 0) {
        fprintf(stderr, "setup: snapshot: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int
group_teardown(void **state)
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

static const struct snapshot *
snap_of(void **state)
{
    return ((struct fx *)*state)->snap;
}

/* ---- columns ---- */

static void
test_load_meta(void **state)
{
    const struct snapshot *s = snap_of(state);
    assert_int_equal(s->n, NROWS);
    assert_int_equal(s->meta.rows, NROWS);
    assert_int_equal(strlen(s->meta.hash), 64);
    /* Closed categoricals: ncodes is the level count. */
    assert_int_equal(s->ncodes[VAR_SEX], 3);
    assert_int_equal(s->ncodes[VAR_TUMOUR_TYPE], 17);
    assert_int_equal(s->ncodes[VAR_STAGE], 4);
    assert_int_equal(s->ncodes[VAR_AGE_GROUP], 5);
    /* Integers: age 0..99, diagnosis_year 1950..2199. */
    assert_int_equal(s->ncodes[VAR_AGE_YEARS], 100);
    assert_int_equal(s->ncodes[VAR_DIAGNOSIS_YEAR], 250);
    /* Open: distinct codes present on this node. */
    assert_int_equal(s->ncodes[VAR_MORPHOLOGY], 4);
    assert_int_equal(s->ncodes[VAR_TOPOGRAPHY], 3);
}

static void
test_categorical_codes(void **state)
{
    const struct snapshot *s = snap_of(state);
    /* Rows are in patient_id order p01..p12. */
    static const uint16_t sex[NROWS] = {0, 1, 0, 2, 1, 0, 0, 1, 0, 1, 0, 1};
    static const uint16_t tum[NROWS] = {3, 3, 0, 16, 4, 4, 3, 0, 0, 3, 3, 0};
    static const uint16_t stage[NROWS] = {0, 1, 2, 3, 0, 0, 1, 1, 0, 1, 0, 2};
    static const uint16_t surg[NROWS] = {0, 0, 1, 2, 0, 0, 1, 0, 0, 1, 0, 0};
    static const uint16_t chemo[NROWS] = {1, 0, 0, 2, 1, 1, 0, 0, 0, 1, 1, 0};
    static const uint16_t radio[NROWS] = {1, 1, 0, 2, 1, 1, 1, 0, 1, 1, 0, 0};
    static const uint16_t vital[NROWS] = {0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0};
    for (size_t i = 0; i < NROWS; i++) {
        assert_int_equal(s->code[VAR_SEX][i], sex[i]);
        assert_int_equal(s->code[VAR_TUMOUR_TYPE][i], tum[i]);
        assert_int_equal(s->code[VAR_STAGE][i], stage[i]);
        assert_int_equal(s->code[VAR_SURGERY][i], surg[i]);
        assert_int_equal(s->code[VAR_CHEMOTHERAPY][i], chemo[i]);
        assert_int_equal(s->code[VAR_RADIOTHERAPY][i], radio[i]);
        assert_int_equal(s->code[VAR_VITAL_STATUS][i], vital[i]);
    }
    char tmp[16];
    assert_string_equal(snapshot_level(s, VAR_SEX, 2, tmp), "U");
    assert_string_equal(snapshot_level(s, VAR_TUMOUR_TYPE, 16, tmp), "other");
    assert_string_equal(snapshot_level(s, VAR_STAGE, 0, tmp), "localized");
    assert_string_equal(snapshot_level(s, VAR_VITAL_STATUS, 1, tmp), "dead");
    assert_string_equal(snapshot_level(s, VAR_AGE_GROUP, 4, tmp), "20+");
    assert_string_equal(snapshot_level(s, VAR_SEX, SNAP_MISSING, tmp), "");
}

static void
test_age_codes(void **state)
{
    const struct snapshot *s = snap_of(state);
    static const uint16_t age[NROWS] = {4, 3, 0, 99, 0, 1, 20, 19, 9, 15, 4, 10};
    static const uint16_t grp[NROWS] = {0, 0, 0, 4, 0, 0, 4, 3, 1, 3, 0, 2};
    for (size_t i = 0; i < NROWS; i++) {
        assert_int_equal(s->code[VAR_AGE_YEARS][i], age[i]);
        assert_int_equal(s->code[VAR_AGE_GROUP][i], grp[i]);
    }
    char tmp[16];
    assert_string_equal(snapshot_level(s, VAR_AGE_YEARS, 4, tmp), "4");
    assert_string_equal(snapshot_level(s, VAR_AGE_YEARS, 99, tmp), "99");
    assert_string_equal(snapshot_level(s, VAR_AGE_YEARS, 0, tmp), "0");
}

static void
test_diagnosis_year(void **state)
{
    const struct snapshot *s = snap_of(state);
    static const int year[NROWS] = {2010, 2010, 1950, 2020, 2015, 2015, 2000, 2001, 2018, 2018,
        2022, 2010};
    char tmp[16], want[16];
    for (size_t i = 0; i < NROWS; i++) {
        assert_int_equal(s->code[VAR_DIAGNOSIS_YEAR][i], year[i] - 1950);
        snprintf(want, sizeof want, "%d", year[i]);
        assert_string_equal(snapshot_level(s, VAR_DIAGNOSIS_YEAR,
            s->code[VAR_DIAGNOSIS_YEAR][i], tmp), want);
    }
}

static void
test_open_dictionaries(void **state)
{
    const struct snapshot *s = snap_of(state);
    char tmp[16];
    /* First seen order is 8720/3, 8370/3, 8260/3, 8721/3; codes follow sorted text. */
    assert_string_equal(snapshot_level(s, VAR_MORPHOLOGY, 0, tmp), "8260/3");
    assert_string_equal(snapshot_level(s, VAR_MORPHOLOGY, 1, tmp), "8370/3");
    assert_string_equal(snapshot_level(s, VAR_MORPHOLOGY, 2, tmp), "8720/3");
    assert_string_equal(snapshot_level(s, VAR_MORPHOLOGY, 3, tmp), "8721/3");
    assert_string_equal(snapshot_level(s, VAR_TOPOGRAPHY, 0, tmp), "C44.5");
    assert_string_equal(snapshot_level(s, VAR_TOPOGRAPHY, 1, tmp), "C73.9");
    assert_string_equal(snapshot_level(s, VAR_TOPOGRAPHY, 2, tmp), "C74.0");
    const uint16_t M = SNAP_MISSING;
    const uint16_t morph[NROWS] = {2, 2, 1, M, 0, 0, 2, 1, 1, 2, 3, M};
    const uint16_t topo[NROWS] = {0, M, 2, M, 1, 1, 0, 2, 2, 0, 0, 2};
    for (size_t i = 0; i < NROWS; i++) {
        assert_int_equal(s->code[VAR_MORPHOLOGY][i], morph[i]);
        assert_int_equal(s->code[VAR_TOPOGRAPHY][i], topo[i]);
    }
}

static void
test_endpoints(void **state)
{
    const struct snapshot *s = snap_of(state);
    static const int32_t os_t[NROWS] = {365, 731, 60, 0, 366, 1461, 731, 1585, 2192, 365,
        877, 1826};
    static const uint8_t os_e[NROWS] = {0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0};
    /* efs: event_date where present (p02, p04, p06, p10), else as os. */
    static const int32_t efs_t[NROWS] = {365, 365, 60, 0, 366, 550, 731, 1585, 2192, 184,
        877, 1826};
    static const uint8_t efs_e[NROWS] = {0, 1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0};
    for (size_t i = 0; i < NROWS; i++) {
        assert_int_equal(s->os_time[i], os_t[i]);
        assert_int_equal(s->os_event[i], os_e[i]);
        assert_int_equal(s->efs_time[i], efs_t[i]);
        assert_int_equal(s->efs_event[i], efs_e[i]);
    }
}

/* ---- filters ---- */

/* Rows passing one term; -1 (and err) if it does not compile. */
static long
count1(const struct snapshot *s, const char *var, enum snap_op op, const char *const *vals,
    size_t nvals, char *err)
{
    struct snap_term t = {var, op, vals, nvals};
    struct snap_filter f;
    err[0] = 0;
    if (snapshot_filter_compile(s, &t, 1, &f, err) != 0)
        return -1;
    long n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += snapshot_row_passes(s, &f, i);
    snapshot_filter_release(&f);
    return n;
}

static long
count_v(const struct snapshot *s, const char *var, enum snap_op op, const char *v, char *err)
{
    const char *vals[1] = {v};
    return count1(s, var, op, vals, 1, err);
}

static void
test_filter_integer_ops(void **state)
{
    const struct snapshot *s = snap_of(state);
    char err[FEDRA_ERRLEN];
    /* age_years: 4 3 0 99 0 1 20 19 9 15 4 10 */
    assert_int_equal(count_v(s, "age_years", SNAP_EQ, "4", err), 2);
    assert_int_equal(count_v(s, "age_years", SNAP_NE, "4", err), 10);
    assert_int_equal(count_v(s, "age_years", SNAP_LT, "4", err), 4);
    assert_int_equal(count_v(s, "age_years", SNAP_LE, "4", err), 6);
    assert_int_equal(count_v(s, "age_years", SNAP_GT, "19", err), 2);
    assert_int_equal(count_v(s, "age_years", SNAP_GE, "19", err), 3);
    assert_int_equal(count_v(s, "age_years", SNAP_GE, "0", err), 12);
    assert_int_equal(count_v(s, "age_years", SNAP_LE, "99", err), 12);
    assert_int_equal(count_v(s, "age_years", SNAP_GT, "99", err), 0);
    const char *in[3] = {"0", "99", "50"};
    assert_int_equal(count1(s, "age_years", SNAP_IN, in, 3, err), 3);
    /* diagnosis_year: 2010 2010 1950 2020 2015 2015 2000 2001 2018 2018 2022 2010 */
    assert_int_equal(count_v(s, "diagnosis_year", SNAP_GE, "2015", err), 6);
    assert_int_equal(count_v(s, "diagnosis_year", SNAP_EQ, "1950", err), 1);
    assert_int_equal(count_v(s, "diagnosis_year", SNAP_LT, "1950", err), 0);
    assert_int_equal(count_v(s, "diagnosis_year", SNAP_LE, "2001", err), 3);
    assert_int_equal(count_v(s, "diagnosis_year", SNAP_NE, "2010", err), 9);
}

static void
test_filter_out_of_range_integer(void **state)
{
    const struct snapshot *s = snap_of(state);
    char err[FEDRA_ERRLEN];
    /* Outside the variable's range: valid query, = matches nothing, order still works. */
    assert_int_equal(count_v(s, "age_years", SNAP_EQ, "200", err), 0);
    assert_int_equal(count_v(s, "age_years", SNAP_EQ, "-1", err), 0);
    assert_int_equal(count_v(s, "age_years", SNAP_LT, "200", err), 12);
    assert_int_equal(count_v(s, "age_years", SNAP_GT, "-5", err), 12);
    assert_int_equal(count_v(s, "age_years", SNAP_NE, "200", err), 12);
    assert_int_equal(count_v(s, "diagnosis_year", SNAP_GT, "1900", err), 12);
    assert_int_equal(count_v(s, "diagnosis_year", SNAP_EQ, "1900", err), 0);
    /* Not a number at all. */
    assert_int_equal(count_v(s, "age_years", SNAP_EQ, "four", err), -1);
    assert_non_null(strstr(err, "'four' is not an integer (variable age_years)"));
    assert_int_equal(count_v(s, "age_years", SNAP_LT, "4.5", err), -1);
    assert_non_null(strstr(err, "not an integer"));
}

static void
test_filter_categorical(void **state)
{
    const struct snapshot *s = snap_of(state);
    char err[FEDRA_ERRLEN];
    assert_int_equal(count_v(s, "sex", SNAP_EQ, "F", err), 6);
    assert_int_equal(count_v(s, "sex", SNAP_NE, "F", err), 6);
    assert_int_equal(count_v(s, "sex", SNAP_EQ, "U", err), 1);
    const char *in[2] = {"metastatic", "unknown"};
    assert_int_equal(count1(s, "stage", SNAP_IN, in, 2, err), 3);
    assert_int_equal(count_v(s, "age_group", SNAP_EQ, "0-4", err), 6);
    assert_int_equal(count_v(s, "age_group", SNAP_EQ, "15-19", err), 2);
    assert_int_equal(count_v(s, "tumour_type", SNAP_EQ, "chordoma", err), 0);
    assert_int_equal(count_v(s, "tumour_type", SNAP_EQ, "melanoma", err), 5);
}

static void
test_filter_open_variable(void **state)
{
    const struct snapshot *s = snap_of(state);
    char err[FEDRA_ERRLEN];
    assert_int_equal(count_v(s, "topography", SNAP_EQ, "C44.5", err), 4);
    /* != excludes the two rows with a missing topography: 12 - 4 - 2 = 6. */
    assert_int_equal(count_v(s, "topography", SNAP_NE, "C44.5", err), 6);
    assert_int_equal(count_v(s, "morphology", SNAP_NE, "8720/3", err), 6);
    assert_int_equal(count_v(s, "morphology", SNAP_EQ, "8721/3", err), 1);
    /* Valid syntax, absent on this node: matches nothing, != matches all non-missing. */
    assert_int_equal(count_v(s, "morphology", SNAP_EQ, "9999/3", err), 0);
    assert_int_equal(count_v(s, "morphology", SNAP_NE, "9999/3", err), 10);
    const char *in[3] = {"C73.9", "C74.0", "C80.9"};
    assert_int_equal(count1(s, "topography", SNAP_IN, in, 3, err), 6);
    assert_int_equal(count_v(s, "morphology", SNAP_EQ, "8720", err), -1);
    assert_non_null(strstr(err, "'8720' is not a valid morphology code"));
}

static void
test_filter_refusals(void **state)
{
    const struct snapshot *s = snap_of(state);
    char err[FEDRA_ERRLEN];
    assert_int_equal(count_v(s, "stage", SNAP_LT, "regional", err), -1);
    assert_string_equal(err, "operator '<' needs an integer variable; stage is categorical");
    assert_int_equal(count_v(s, "sex", SNAP_GE, "F", err), -1);
    assert_string_equal(err, "operator '>=' needs an integer variable; sex is categorical");
    assert_int_equal(count_v(s, "topography", SNAP_GT, "C44.5", err), -1);
    assert_non_null(strstr(err, "operator '>'"));
    assert_int_equal(count_v(s, "age", SNAP_EQ, "4", err), -1);
    assert_non_null(strstr(err, "unknown variable 'age'"));
    assert_non_null(strstr(err, "age_years"));
    assert_int_equal(count_v(s, "sex", SNAP_EQ, "X", err), -1);
    assert_string_equal(err, "'X' is not a level of sex (F, M, U)");
    assert_int_equal(count_v(s, "stage", SNAP_NE, "local", err), -1);
    assert_string_equal(err,
        "'local' is not a level of stage (localized, regional, metastatic, unknown)");
    /* The longest level list (17 tumour types) is given in full. */
    assert_int_equal(count_v(s, "tumour_type", SNAP_EQ, "sarcoma", err), -1);
    assert_non_null(strstr(err, "'sarcoma' is not a level of tumour_type "
        "(adrenocortical_carcinoma, pleuropulmonary_blastoma, "));
    assert_non_null(strstr(err, ", germ_cell_tumour_other, other)"));
    /* An unknown level is refused even among good ones. */
    const char *in[2] = {"F", "female"};
    assert_int_equal(count1(s, "sex", SNAP_IN, in, 2, err), -1);
    assert_non_null(strstr(err, "'female' is not a level of sex"));
    /* = takes exactly one value; in at least one. */
    const char *two[2] = {"F", "M"};
    assert_int_equal(count1(s, "sex", SNAP_EQ, two, 2, err), -1);
    assert_string_equal(err, "filter on sex has 2 values");
    assert_int_equal(count1(s, "sex", SNAP_IN, two, 0, err), -1);
    assert_string_equal(err, "filter on sex has 0 values");
}

static void
test_filter_conjunction(void **state)
{
    const struct snapshot *s = snap_of(state);
    char err[FEDRA_ERRLEN] = "";
    const char *f[1] = {"F"}, *loc[1] = {"localized"}, *age[1] = {"4"};
    struct snap_term t[3] = {
        {"sex", SNAP_EQ, f, 1}, {"stage", SNAP_EQ, loc, 1}, {"age_years", SNAP_LE, age, 1},
    };
    struct snap_filter fl;
    assert_int_equal(snapshot_filter_compile(s, t, 2, &fl, err), 0);
    long n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += snapshot_row_passes(s, &fl, i);
    snapshot_filter_release(&fl);
    assert_int_equal(n, 4);         /* p01 p06 p09 p11 */
    assert_int_equal(snapshot_filter_compile(s, t, 3, &fl, err), 0);
    n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += snapshot_row_passes(s, &fl, i);
    snapshot_filter_release(&fl);
    assert_int_equal(n, 3);         /* p01 p06 p11 */
    /* Two terms on one variable: a range, 5 <= age_years <= 10 (p09 9, p12 10). */
    const char *lo[1] = {"5"}, *hi[1] = {"10"};
    struct snap_term r[2] = {{"age_years", SNAP_GE, lo, 1}, {"age_years", SNAP_LE, hi, 1}};
    assert_int_equal(snapshot_filter_compile(s, r, 2, &fl, err), 0);
    n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += snapshot_row_passes(s, &fl, i);
    snapshot_filter_release(&fl);
    assert_int_equal(n, 2);
}

static void
test_filter_max_terms(void **state)
{
    const struct snapshot *s = snap_of(state);
    char err[FEDRA_ERRLEN] = "";
    const char *v[1] = {"1"};
    struct snap_term t[SNAP_MAX_TERMS + 1];
    for (size_t i = 0; i < SNAP_MAX_TERMS + 1; i++)
        t[i] = (struct snap_term){"age_years", SNAP_GE, v, 1};
    struct snap_filter fl;
    assert_int_equal(snapshot_filter_compile(s, t, SNAP_MAX_TERMS, &fl, err), 0);
    assert_int_equal(fl.nterms, SNAP_MAX_TERMS);
    long n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += snapshot_row_passes(s, &fl, i);
    assert_int_equal(n, 10);        /* everyone but the two age-0 rows */
    snapshot_filter_release(&fl);
    assert_int_equal(snapshot_filter_compile(s, t, SNAP_MAX_TERMS + 1, &fl, err), -1);
    assert_string_equal(err, "17 filter terms (limit 16)");
}

/* ---- grouped counts ---- */

struct want_cell {
    uint16_t code[SNAP_MAX_GROUP];
    uint64_t n;
};

static void
check_count(const struct snapshot *s, const struct snap_filter *f, const enum var_id *by,
    size_t nby, const struct want_cell *want, size_t nwant)
{
    char err[FEDRA_ERRLEN] = "";
    struct snap_cell *cells = NULL;
    size_t n = 0;
    if (snapshot_count(s, f, by, nby, &cells, &n, err) != 0)
        fail_msg("snapshot_count: %s", err);
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < nby; k++)
            assert_int_equal(cells[i].code[k], want[i].code[k]);
        assert_int_equal(cells[i].n, want[i].n);
    }
    free(cells);
}

static void
test_count_ungrouped(void **state)
{
    const struct snapshot *s = snap_of(state);
    struct snap_filter none = {0};
    const struct want_cell all[1] = {{{0}, 12}};
    check_count(s, &none, NULL, 0, all, 1);
    /* A filter nobody passes: no cell at all (only n >= 1 cells are listed). */
    char err[FEDRA_ERRLEN];
    const char *v[1] = {"chordoma"};
    struct snap_term t = {"tumour_type", SNAP_EQ, v, 1};
    struct snap_filter f;
    assert_int_equal(snapshot_filter_compile(s, &t, 1, &f, err), 0);
    check_count(s, &f, NULL, 0, NULL, 0);
    snapshot_filter_release(&f);
}

static void
test_count_by_one(void **state)
{
    const struct snapshot *s = snap_of(state);
    struct snap_filter none = {0};
    const enum var_id sex[1] = {VAR_SEX};
    const struct want_cell w_sex[3] = {{{0}, 6}, {{1}, 5}, {{2}, 1}};
    check_count(s, &none, sex, 1, w_sex, 3);
    /* Missing topography (p02, p04) left out. */
    const enum var_id topo[1] = {VAR_TOPOGRAPHY};
    const struct want_cell w_topo[3] = {{{0}, 4}, {{1}, 2}, {{2}, 4}};
    check_count(s, &none, topo, 1, w_topo, 3);
    /* Integers in numeric order. */
    const enum var_id age[1] = {VAR_AGE_YEARS};
    const struct want_cell w_age[10] = {{{0}, 2}, {{1}, 1}, {{3}, 1}, {{4}, 2}, {{9}, 1},
        {{10}, 1}, {{15}, 1}, {{19}, 1}, {{20}, 1}, {{99}, 1}};
    check_count(s, &none, age, 1, w_age, 10);
    const enum var_id yr[1] = {VAR_DIAGNOSIS_YEAR};
    const struct want_cell w_yr[8] = {{{0}, 1}, {{50}, 1}, {{51}, 1}, {{60}, 3}, {{65}, 2},
        {{68}, 2}, {{70}, 1}, {{72}, 1}};
    check_count(s, &none, yr, 1, w_yr, 8);
    /* Only present levels of a 17-level variable. */
    const enum var_id tum[1] = {VAR_TUMOUR_TYPE};
    const struct want_cell w_tum[4] = {{{0}, 4}, {{3}, 5}, {{4}, 2}, {{16}, 1}};
    check_count(s, &none, tum, 1, w_tum, 4);
}

static void
test_count_by_two(void **state)
{
    const struct snapshot *s = snap_of(state);
    struct snap_filter none = {0};
    const enum var_id ss[2] = {VAR_SEX, VAR_STAGE};
    const struct want_cell w_ss[7] = {{{0, 0}, 4}, {{0, 1}, 1}, {{0, 2}, 1}, {{1, 0}, 1},
        {{1, 1}, 3}, {{1, 2}, 1}, {{2, 3}, 1}};
    check_count(s, &none, ss, 2, w_ss, 7);
    /* Same cells, the other variable most significant. */
    const enum var_id st[2] = {VAR_STAGE, VAR_SEX};
    const struct want_cell w_st[7] = {{{0, 0}, 4}, {{0, 1}, 1}, {{1, 0}, 1}, {{1, 1}, 3},
        {{2, 0}, 1}, {{2, 1}, 1}, {{3, 2}, 1}};
    check_count(s, &none, st, 2, w_st, 7);
    /* With a filter: women only, by topography (p02 is a man; p04 is U). */
    char err[FEDRA_ERRLEN];
    const char *v[1] = {"F"};
    struct snap_term t = {"sex", SNAP_EQ, v, 1};
    struct snap_filter f;
    assert_int_equal(snapshot_filter_compile(s, &t, 1, &f, err), 0);
    const enum var_id ts[2] = {VAR_TOPOGRAPHY, VAR_VITAL_STATUS};
    /* F: p01 C44.5 alive, p03 C74.0 dead, p06 C73.9 alive, p07 C44.5 dead,
     * p09 C74.0 alive, p11 C44.5 alive */
    const struct want_cell w_ts[5] = {{{0, 0}, 2}, {{0, 1}, 1}, {{1, 0}, 1}, {{2, 0}, 1},
        {{2, 1}, 1}};
    check_count(s, &f, ts, 2, w_ts, 5);
    snapshot_filter_release(&f);
}

static void
test_count_by_three(void **state)
{
    const struct snapshot *s = snap_of(state);
    struct snap_filter none = {0};
    const enum var_id by[3] = {VAR_SEX, VAR_VITAL_STATUS, VAR_AGE_GROUP};
    const struct want_cell w[10] = {
        {{0, 0, 0}, 3}, {{0, 0, 1}, 1}, {{0, 1, 0}, 1}, {{0, 1, 4}, 1},
        {{1, 0, 0}, 1}, {{1, 0, 2}, 1}, {{1, 0, 3}, 1}, {{1, 1, 0}, 1}, {{1, 1, 3}, 1},
        {{2, 0, 4}, 1},
    };
    check_count(s, &none, by, 3, w, 10);
}

/*
 * Key spaces up to SNAP_DENSE_CELLS are counted in an array, larger ones in a
 * hash table: both must agree with a brute-force count over the columns.
 */
static void
check_brute_force(const struct snapshot *s, const enum var_id *by, size_t nby)
{
    char err[FEDRA_ERRLEN] = "";
    struct snap_filter none = {0};
    struct snap_cell *cells = NULL;
    size_t n = 0;
    assert_int_equal(snapshot_count(s, &none, by, nby, &cells, &n, err), 0);
    uint64_t total = 0, complete = 0;
    for (size_t i = 0; i < s->n; i++) {
        int ok = 1;
        for (size_t k = 0; k < nby; k++)
            ok &= s->code[by[k]][i] != SNAP_MISSING;
        complete += ok;
    }
    for (size_t j = 0; j < n; j++) {
        if (j > 0)
            assert_true(memcmp(cells[j - 1].code, cells[j].code, sizeof cells[j].code) != 0);
        uint64_t want = 0;
        for (size_t i = 0; i < s->n; i++) {
            int same = 1;
            for (size_t k = 0; k < nby; k++)
                same &= s->code[by[k]][i] == cells[j].code[k];
            want += same;
        }
        assert_int_equal(cells[j].n, want);
        assert_true(want > 0);
        total += cells[j].n;
    }
    assert_int_equal(total, complete);
    free(cells);
}

static void
test_count_dense_and_hashed_agree(void **state)
{
    const struct snapshot *s = snap_of(state);
    const enum var_id small[2] = {VAR_AGE_YEARS, VAR_DIAGNOSIS_YEAR};
    const enum var_id big[4] = {VAR_AGE_YEARS, VAR_DIAGNOSIS_YEAR, VAR_TUMOUR_TYPE, VAR_SEX};
    uint64_t space = 1;
    for (size_t k = 0; k < 4; k++)
        space *= s->ncodes[big[k]];
    assert_true((uint64_t)s->ncodes[small[0]] * s->ncodes[small[1]] <= SNAP_DENSE_CELLS);
    assert_true(space > SNAP_DENSE_CELLS);
    check_brute_force(s, small, 2);
    check_brute_force(s, big, 4);
    check_brute_force(s, big + 2, 2);
}

static void
test_count_by_max_group(void **state)
{
    const struct snapshot *s = snap_of(state);
    struct snap_filter none = {0};
    const enum var_id by[SNAP_MAX_GROUP + 1] = {VAR_VITAL_STATUS, VAR_SURGERY, VAR_CHEMOTHERAPY,
        VAR_RADIOTHERAPY, VAR_SEX};
    const struct want_cell w[9] = {
        {{0, 0, 0, 0}, 2}, {{0, 0, 0, 1}, 1}, {{0, 0, 1, 0}, 1}, {{0, 0, 1, 1}, 3},
        {{0, 2, 2, 2}, 1}, {{1, 0, 0, 1}, 1}, {{1, 1, 0, 0}, 1}, {{1, 1, 0, 1}, 1},
        {{1, 1, 1, 1}, 1},
    };
    check_count(s, &none, by, SNAP_MAX_GROUP, w, 9);
    char err[FEDRA_ERRLEN] = "";
    struct snap_cell *cells = (struct snap_cell *)1;
    size_t n = 99;
    assert_int_equal(snapshot_count(s, &none, by, SNAP_MAX_GROUP + 1, &cells, &n, err), -1);
    assert_string_equal(err, "5 group-by variables (limit 4)");
    assert_null(cells);
    assert_int_equal(n, 0);
}

/* ---- snapshot_km_count ---- */

/*
 * snapshot_km_count against km_life_table on the same rows, by brute force:
 * every stratum's counters hold its life table, bin b at time b * grid.
 */
static void
check_km_count(const struct snapshot *s, const struct snap_filter *f, const struct var_def *by,
    int efs, int32_t grid)
{
    uint32_t *cnt;
    size_t nbins;
    assert_int_equal(snapshot_km_count(s, f, by, efs, grid, &cnt, &nbins), 0);
    uint32_t ncodes = by ? s->ncodes[by->id] : 1;
    const int32_t *tcol = efs ? s->efs_time : s->os_time;
    const uint8_t *ecol = efs ? s->efs_event : s->os_event;
    int32_t *t = xcalloc(s->n, sizeof *t), g = grid > 0 ? grid : 1;
    uint8_t *e = xcalloc(s->n, 1);
    for (uint32_t c = 0; c < ncodes; c++) {
        size_t n = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (snapshot_row_passes(s, f, i) && (by ? s->code[by->id][i] : 0) == c) {
                t[n] = tcol[i];
                e[n++] = ecol[i];
            }
        }
        struct km_table lt;
        assert_int_equal(km_life_table(t, e, n, grid, &lt), 0);
        const uint32_t *k = cnt + (size_t)c * nbins * 2;
        size_t r = 0;
        for (size_t b = 0; b < nbins; b++) {
            if (k[2 * b] + k[2 * b + 1] == 0)
                continue;
            assert_true(r < lt.nrows);
            assert_int_equal(lt.rows[r].time, (int32_t)b * g);
            assert_int_equal(lt.rows[r].d, k[2 * b + 1]);
            assert_int_equal(lt.rows[r].c, k[2 * b]);
            r++;
        }
        assert_int_equal(r, lt.nrows);
        km_table_release(&lt);
    }
    free(t);
    free(e);
    free(cnt);
}

static void
test_km_count(void **state)
{
    const struct snapshot *s = snap_of(state);
    assert_int_equal(s->os_tmax, 2192);                 /* p09 */
    assert_int_equal(s->efs_tmax, 2192);
    char err[FEDRA_ERRLEN] = "";
    const char *female[1] = {"F"};
    struct snap_term term = {"sex", SNAP_EQ, female, 1};
    struct snap_filter f[2] = {{0}};
    assert_int_equal(snapshot_filter_compile(s, &term, 1, &f[1], err), 0);
    const struct var_def *by[4] = {NULL, vars_get(VAR_STAGE), vars_get(VAR_SEX),
        vars_get(VAR_MORPHOLOGY)};      /* morphology: p04 and p12 missing, left out */
    const int32_t grid[6] = {0, 1, 7, 30, 365, 3660};
    for (size_t k = 0; k < 2; k++)
        for (size_t b = 0; b < 4; b++)
            for (int efs = 0; efs < 2; efs++)
                for (size_t g = 0; g < 6; g++)
                    check_km_count(s, &f[k], by[b], efs, grid[g]);
    /* 101 strata x 2193 exact times is no small table: the caller's general path. */
    uint32_t *cnt = (uint32_t *)1;
    size_t nbins = 99;
    assert_int_equal(snapshot_km_count(s, &f[0], vars_get(VAR_AGE_YEARS), 0, 0, &cnt, &nbins), 1);
    assert_null(cnt);
    assert_int_equal(nbins, 0);
    check_km_count(s, &f[0], vars_get(VAR_AGE_YEARS), 0, 30);
    snapshot_filter_release(&f[1]);
}

/* ---- the count kind: disclosure ---- */

/* A count answer as the node gives it: through its registry row. */
struct count_out {
    struct node_answer ans;
    const Fedra__CountResult *count;    /* the released result */
    char summary[64];                   /* "count: N cells, M suppressed" */
};

static int
count_answer(const struct snapshot *s, const struct disclose_policy *pol,
    const Fedra__QuerySpec *spec, struct count_out *out, char *err)
{
    const struct node_kind *k = node_kind_get(FEDRA__KIND__KIND_COUNT);
    struct node_kind_ctx ctx = {s, NULL, 0, NULL, NULL, NULL};
    Fedra__ResponseBody rb = FEDRA__RESPONSE_BODY__INIT;
    out->count = NULL;
    out->summary[0] = 0;
    if (node_kind_answer(k, &ctx, pol, spec, &out->ans, err) != 0)
        return -1;
    k->result(&out->ans, &rb);
    k->summary(&out->ans, spec, out->summary, sizeof out->summary);
    out->count = rb.count;
    return 0;
}

static void
count_out_release(struct count_out *out)
{
    node_kind_count.free_answer(&out->ans);
}

struct spec_fx {
    Fedra__QuerySpec spec;
    Fedra__Filter filt[2];
    Fedra__Filter *filtp[2];
};

static void
spec_init(struct spec_fx *q, char **group_by, size_t nby)
{
    fedra__query_spec__init(&q->spec);
    q->spec.kind = FEDRA__KIND__KIND_COUNT;
    q->spec.group_by = group_by;
    q->spec.n_group_by = nby;
}

static void
check_cell(const Fedra__Cell *c, const char *level, uint64_t count, int suppressed)
{
    assert_int_equal(c->n_levels, 1);
    assert_string_equal(c->levels[0], level);
    assert_int_equal(c->count, count);
    assert_int_equal(c->suppressed, suppressed);
}

static void
test_exec_min_cell(void **state)
{
    const struct snapshot *s = snap_of(state);
    const struct disclose_policy pol = {5, 30, 3};
    char err[FEDRA_ERRLEN] = "";
    struct count_out out;
    struct spec_fx q;
    char *stage[1] = {(char *)"stage"};
    spec_init(&q, stage, 1);
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), 0);
    assert_int_equal(out.count->n_cells, 4);
    assert_int_equal(out.count->max_hidden, 4);
    check_cell(out.count->cells[0], "localized", 5, 0);     /* exactly min_cell: released */
    check_cell(out.count->cells[1], "regional", 0, 1);      /* 4 */
    check_cell(out.count->cells[2], "metastatic", 0, 1);    /* 2 */
    check_cell(out.count->cells[3], "unknown", 0, 1);       /* 1 */
    assert_string_equal(out.summary, "count: 4 cells, 3 suppressed");
    count_out_release(&out);

    char *sex[1] = {(char *)"sex"};
    spec_init(&q, sex, 1);
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), 0);
    assert_int_equal(out.count->n_cells, 3);
    check_cell(out.count->cells[0], "F", 6, 0);
    check_cell(out.count->cells[1], "M", 5, 0);
    check_cell(out.count->cells[2], "U", 0, 1);
    assert_string_equal(out.summary, "count: 3 cells, 1 suppressed");
    count_out_release(&out);

    /* Zero cells are absent, not suppressed: 4 of 17 tumour types present. */
    char *tum[1] = {(char *)"tumour_type"};
    spec_init(&q, tum, 1);
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), 0);
    assert_int_equal(out.count->n_cells, 4);
    check_cell(out.count->cells[0], "adrenocortical_carcinoma", 0, 1);  /* 4 */
    check_cell(out.count->cells[1], "melanoma", 5, 0);
    check_cell(out.count->cells[2], "thyroid_carcinoma", 0, 1);         /* 2 */
    check_cell(out.count->cells[3], "other", 0, 1);                     /* 1 */
    count_out_release(&out);
}

static void
test_exec_integer_levels_and_filter(void **state)
{
    const struct snapshot *s = snap_of(state);
    const struct disclose_policy pol = {1, 0, 3};
    char err[FEDRA_ERRLEN] = "";
    struct count_out out;
    struct spec_fx q;
    char *yr[1] = {(char *)"diagnosis_year"};
    spec_init(&q, yr, 1);
    char *v[1] = {(char *)"2010"};
    fedra__filter__init(&q.filt[0]);
    q.filt[0].var = (char *)"diagnosis_year";
    q.filt[0].op = FEDRA__OP__OP_GE;
    q.filt[0].values = v;
    q.filt[0].n_values = 1;
    q.filtp[0] = &q.filt[0];
    q.spec.where = q.filtp;
    q.spec.n_where = 1;
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), 0);
    /* min_cell 1: nothing hidden. 2010:3 2015:2 2018:2 2020:1 2022:1 */
    assert_int_equal(out.count->max_hidden, 0);
    assert_int_equal(out.count->n_cells, 5);
    check_cell(out.count->cells[0], "2010", 3, 0);
    check_cell(out.count->cells[1], "2015", 2, 0);
    check_cell(out.count->cells[2], "2018", 2, 0);
    check_cell(out.count->cells[3], "2020", 1, 0);
    check_cell(out.count->cells[4], "2022", 1, 0);
    assert_string_equal(out.summary, "count: 5 cells, 0 suppressed");
    count_out_release(&out);

    /* No grouping: one cell with no levels. */
    spec_init(&q, NULL, 0);
    q.spec.where = q.filtp;
    q.spec.n_where = 1;
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), 0);
    assert_int_equal(out.count->n_cells, 1);
    assert_int_equal(out.count->cells[0]->n_levels, 0);
    assert_int_equal(out.count->cells[0]->count, 9);
    count_out_release(&out);
}

static void
test_exec_refusals(void **state)
{
    const struct snapshot *s = snap_of(state);
    const struct disclose_policy pol = {5, 30, 3};
    char err[FEDRA_ERRLEN] = "";
    struct count_out out;
    struct spec_fx q;
    char *dup[2] = {(char *)"sex", (char *)"sex"};
    spec_init(&q, dup, 2);
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), -1);
    assert_string_equal(err, "variable 'sex' is named twice in the grouping");
    count_out_release(&out);

    char *dup2[3] = {(char *)"stage", (char *)"sex", (char *)"stage"};
    spec_init(&q, dup2, 3);
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), -1);
    assert_string_equal(err, "variable 'stage' is named twice in the grouping");
    count_out_release(&out);

    char *unk[1] = {(char *)"country"};
    spec_init(&q, unk, 1);
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), -1);
    assert_non_null(strstr(err, "unknown variable 'country'"));
    count_out_release(&out);

    char *five[5] = {(char *)"sex", (char *)"stage", (char *)"surgery", (char *)"chemotherapy",
        (char *)"radiotherapy"};
    spec_init(&q, five, 5);
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), -1);
    assert_string_equal(err, "5 group-by variables (limit 4)");
    count_out_release(&out);

    spec_init(&q, five, 4);
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), 0);
    count_out_release(&out);

    /* A bad filter is refused through the count kind too. */
    char *v[1] = {(char *)"regional"};
    spec_init(&q, NULL, 0);
    fedra__filter__init(&q.filt[0]);
    q.filt[0].var = (char *)"stage";
    q.filt[0].op = FEDRA__OP__OP_LT;
    q.filt[0].values = v;
    q.filt[0].n_values = 1;
    q.filtp[0] = &q.filt[0];
    q.spec.where = q.filtp;
    q.spec.n_where = 1;
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), -1);
    assert_string_equal(err, "operator '<' needs an integer variable; stage is categorical");
    count_out_release(&out);
}

/*
 * Regression: with no code at all for an open variable (empty store, or every
 * row's morphology/topography missing) finish_dict once called
 * memcpy(sorted, NULL, 0), undefined behaviour caught by UBSan.
 */
static void
test_empty_store(void **state)
{
    struct fx *f = *state;
    char path[160], err[FEDRA_ERRLEN] = "";
    struct store *st = NULL;
    struct snapshot *s = NULL;
    snprintf(path, sizeof path, "%s/empty.db", f->dir);
    assert_int_equal(store_open(path, 0, &st, err), 0);
    assert_int_equal(snapshot_load(st, &s, err), 0);
    assert_int_equal(s->n, 0);
    assert_int_equal(s->ncodes[VAR_MORPHOLOGY], 0);
    struct snap_filter none = {0};
    const enum var_id by[1] = {VAR_MORPHOLOGY};
    check_count(s, &none, by, 1, NULL, 0);
    /* Any valid morphology is simply absent; a bad one is still refused. */
    assert_int_equal(count_v(s, "morphology", SNAP_EQ, "8720/3", err), 0);
    assert_int_equal(count_v(s, "morphology", SNAP_EQ, "x", err), -1);
    /* The count kind on no data: no cells, nothing suppressed. */
    const struct disclose_policy pol = {5, 30, 3};
    struct count_out out;
    struct spec_fx q;
    char *sex[1] = {(char *)"sex"};
    spec_init(&q, sex, 1);
    assert_int_equal(count_answer(s, &pol, &q.spec, &out, err), 0);
    assert_int_equal(out.count->n_cells, 0);
    assert_int_equal(out.count->max_hidden, 4);
    count_out_release(&out);
    snapshot_free(s);
    snapshot_free(NULL);
    store_free(st);
    unlink_db(path);
}

/* A node whose registry gives no ICD-O-3 codes at all (both columns empty); see above. */
static void
test_open_variable_all_missing(void **state)
{
    struct fx *f = *state;
    static const char rows[] =
        "patient_id,sex,age_at_diagnosis_days,diagnosis_date,tumour_type,stage,surgery,"
        "chemotherapy,radiotherapy,vital_status,last_contact_date\n"
        "a,F,100,2020-01-01,melanoma,localized,yes,no,no,alive,2021-01-01\n"
        "b,M,200,2021-01-01,chordoma,regional,no,no,no,dead,2021-06-01\n";
    char db[160], csv[160], err[FEDRA_ERRLEN] = "";
    snprintf(db, sizeof db, "%s/nocodes.db", f->dir);
    snprintf(csv, sizeof csv, "%s/nocodes.csv", f->dir);
    assert_int_equal(util_write_file(csv, rows, sizeof rows - 1, 0644, err), 0);
    struct store *st = NULL;
    struct snapshot *s = NULL;
    assert_int_equal(store_open(db, 0, &st, err), 0);
    struct import_opts o = {0};
    struct import_stats stats;
    struct buf rep = {0};
    const char *paths[1] = {csv};
    o.today = TODAY;
    if (import_csv(st, paths, 1, &o, &stats, &rep, err) != 0)
        fail_msg("import: %s %.*s", err, (int)rep.len, (const char *)rep.p);
    buf_release(&rep);
    assert_int_equal(snapshot_load(st, &s, err), 0);
    assert_int_equal(s->n, 2);
    assert_int_equal(s->ncodes[VAR_MORPHOLOGY], 0);
    assert_int_equal(s->ncodes[VAR_TOPOGRAPHY], 0);
    assert_int_equal(s->code[VAR_TOPOGRAPHY][0], SNAP_MISSING);
    /* Missing is excluded by = and != alike. */
    assert_int_equal(count_v(s, "topography", SNAP_EQ, "C44.5", err), 0);
    assert_int_equal(count_v(s, "topography", SNAP_NE, "C44.5", err), 0);
    struct snap_filter none = {0};
    const enum var_id by[1] = {VAR_TOPOGRAPHY};
    check_count(s, &none, by, 1, NULL, 0);
    snapshot_free(s);
    store_free(st);
    unlink_db(db);
    unlink(csv);
}

/*
 * The model cache (node/kind_model.h): a later round of a fit is answered from the kept
 * design, bit for bit as a rebuild answers it; a wrong coefficient count is
 * still refused; at most KIND_MODEL_CACHE_ENTRIES fits are kept, least
 * recently used out first; the byte bound keeps what does not fit out.
 */
static void
model_spec(Fedra__QuerySpec *q, Fedra__Term *t, Fedra__Term **tp, int glm, uint8_t *id,
    double *beta, size_t nbeta, Fedra__Term *outcome)
{
    fedra__query_spec__init(q);
    fedra__term__init(&t[0]);
    fedra__term__init(&t[1]);
    t[0].var = (char *)"age_years";
    t[0].level = (char *)"";
    t[1].var = (char *)"sex";
    t[1].level = (char *)"M";
    tp[0] = &t[0];
    tp[1] = &t[1];
    q->kind = glm ? FEDRA__KIND__KIND_GLM : FEDRA__KIND__KIND_COX;
    q->n_terms = 2;
    q->terms = tp;
    q->n_beta = nbeta;
    q->beta = beta;
    q->model_id.data = id;
    q->model_id.len = 16;
    q->endpoint = FEDRA__ENDPOINT__ENDPOINT_OS;
    q->grid_days = 30;
    q->ties = FEDRA__TIES__TIES_EFRON;
    if (glm) {
        fedra__term__init(outcome);
        outcome->var = (char *)"vital_status";
        outcome->level = (char *)"dead";
        q->outcome = outcome;
    }
}

/* A model round as the node answers it: its kind's registry row, with cache c. */
struct model_out {
    struct node_answer ans;
    const struct node_kind *kind;
    const Fedra__ModelResult *model;    /* the released result */
};

static int
model_round(const struct snapshot *s, const struct disclose_policy *pol,
    const Fedra__QuerySpec *q, struct kind_model_cache *c, struct model_out *o, char *err)
{
    struct node_kind_ctx ctx = {s, c, 0, NULL, NULL, NULL};
    Fedra__ResponseBody rb = FEDRA__RESPONSE_BODY__INIT;
    o->kind = node_kind_get(q->kind);
    o->model = NULL;
    if (node_kind_answer(o->kind, &ctx, pol, q, &o->ans, err) != 0) {
        o->kind->free_answer(&o->ans);
        return -1;
    }
    o->kind->result(&o->ans, &rb);
    o->model = rb.model;
    return 0;
}

static void
model_out_release(struct model_out *o)
{
    o->kind->free_answer(&o->ans);
}

static void
same_answer(const struct model_out *a, const struct model_out *b)
{
    assert_int_equal(a->model->n, b->model->n);
    assert_int_equal(a->model->events, b->model->events);
    assert_int_equal(a->model->n_score, b->model->n_score);
    assert_memory_equal(&a->model->loglik, &b->model->loglik, sizeof a->model->loglik);
    assert_memory_equal(&a->model->deviance, &b->model->deviance, sizeof a->model->deviance);
    assert_memory_equal(a->model->score, b->model->score,
        a->model->n_score * sizeof *a->model->score);
    assert_memory_equal(a->model->info, b->model->info,
        a->model->n_info * sizeof *a->model->info);
}

static void
test_exec_model_cache(void **state)
{
    const struct snapshot *s = snap_of(state);
    const struct disclose_policy pol = {1, 30, 1};
    char err[FEDRA_ERRLEN] = "";
    struct kind_model_cache c;
    memset(&c, 0, sizeof c);
    Fedra__QuerySpec q;
    Fedra__Term t[2], *tp[2], oc;
    uint8_t id[KIND_MODEL_CACHE_ENTRIES + 1][16];
    memset(id, 0, sizeof id);
    for (size_t k = 0; k <= KIND_MODEL_CACHE_ENTRIES; k++)
        id[k][0] = (uint8_t)(k + 1);
    double b0[3] = {0, 0, 0}, b1[3] = {0.05, -0.4, 0.2};

    for (int glm = 0; glm <= 1; glm++) {
        size_t p = glm ? 3 : 2;
        struct model_out fresh, kept;
        kind_model_cache_clear(&c);
        c.hits = c.misses = 0;
        /* round 1 at b0 fills the cache; round 2 at b1 is answered from it */
        model_spec(&q, t, tp, glm, id[0], b0, p, &oc);
        q.round = 1;
        assert_int_equal(model_round(s, &pol, &q, &c, &kept, err), 0);
        model_out_release(&kept);
        assert_int_equal(c.misses, 1);
        assert_true(c.bytes > 0);
        model_spec(&q, t, tp, glm, id[0], b1, p, &oc);
        q.round = 2;
        assert_int_equal(model_round(s, &pol, &q, NULL, &fresh, err), 0);
        assert_int_equal(model_round(s, &pol, &q, &c, &kept, err), 0);
        assert_int_equal(c.hits, 1);
        same_answer(&fresh, &kept);
        assert_int_equal(kept.model->n, NROWS);
        model_out_release(&fresh);
        model_out_release(&kept);
        /* a kept design still checks the coefficient count */
        q.n_beta = 1;
        assert_int_equal(model_round(s, &pol, &q, &c, &kept, err), -1);
        assert_non_null(strstr(err, "coefficients for"));
    }

    /* KIND_MODEL_CACHE_ENTRIES fits kept; one more evicts the least recently used */
    kind_model_cache_clear(&c);
    assert_int_equal(c.bytes, 0);
    struct model_out o;
    for (size_t k = 0; k <= KIND_MODEL_CACHE_ENTRIES; k++) {
        model_spec(&q, t, tp, 0, id[k], b0, 2, &oc);
        assert_int_equal(model_round(s, &pol, &q, &c, &o, err), 0);
        model_out_release(&o);
    }
    size_t held = 0;
    for (size_t k = 0; k < KIND_MODEL_CACHE_ENTRIES; k++)
        held += c.e[k].key != NULL;
    assert_int_equal(held, KIND_MODEL_CACHE_ENTRIES);
    uint64_t misses = c.misses;
    model_spec(&q, t, tp, 0, id[KIND_MODEL_CACHE_ENTRIES], b1, 2, &oc);
    assert_int_equal(model_round(s, &pol, &q, &c, &o, err), 0);       /* newest: kept */
    model_out_release(&o);
    assert_int_equal(c.misses, misses);
    model_spec(&q, t, tp, 0, id[0], b1, 2, &oc);
    assert_int_equal(model_round(s, &pol, &q, &c, &o, err), 0);       /* oldest: evicted */
    model_out_release(&o);
    assert_int_equal(c.misses, misses + 1);

    /* The byte bound: one design's worth keeps one fit; less keeps none. */
    size_t one = c.e[0].bytes;
    kind_model_cache_clear(&c);
    c.max_bytes = one + one / 2;
    for (size_t k = 0; k < 2; k++) {
        model_spec(&q, t, tp, 0, id[k], b0, 2, &oc);
        assert_int_equal(model_round(s, &pol, &q, &c, &o, err), 0);
        model_out_release(&o);
        assert_int_equal(c.bytes, one);
    }
    kind_model_cache_clear(&c);
    c.max_bytes = one - 1;
    misses = c.misses;
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(model_round(s, &pol, &q, &c, &o, err), 0);
        model_out_release(&o);
    }
    assert_int_equal(c.misses, misses + 2);
    assert_int_equal(c.bytes, 0);

    /* Expiry: stamped when used, released after KIND_MODEL_CACHE_IDLE_MS unused. */
    c.max_bytes = 0;
    model_spec(&q, t, tp, 0, id[0], b0, 2, &oc);
    assert_int_equal(model_round(s, &pol, &q, &c, &o, err), 0);
    model_out_release(&o);
    kind_model_cache_expire(&c, 1000, KIND_MODEL_CACHE_IDLE_MS);            /* stamped */
    kind_model_cache_expire(&c, 1000 + KIND_MODEL_CACHE_IDLE_MS - 1, KIND_MODEL_CACHE_IDLE_MS);
    assert_true(c.bytes > 0);
    assert_int_equal(model_round(s, &pol, &q, &c, &o, err), 0);                  /* used again */
    model_out_release(&o);
    kind_model_cache_expire(&c, 1000 + KIND_MODEL_CACHE_IDLE_MS, KIND_MODEL_CACHE_IDLE_MS);
    assert_true(c.bytes > 0);                       /* re-stamped, not dropped */
    kind_model_cache_expire(&c, 1000 + 2 * KIND_MODEL_CACHE_IDLE_MS, KIND_MODEL_CACHE_IDLE_MS);
    assert_int_equal(c.bytes, 0);
    assert_null(c.e[0].key);
    kind_model_cache_clear(&c);
}

/*
 * Issue 15 at the node: an interaction column (Term.var2 / level2) is the
 * product of its two factors; cox --strata V with V of one level here is the
 * unstratified round bit for bit, and with two levels it is another round;
 * a term or strata variable the node does not know, or that contradicts the
 * model, is refused naming it.
 */
static void
test_exec_model_terms(void **state)
{
    const struct snapshot *s = snap_of(state);
    const struct disclose_policy pol = {1, 30, 1};
    char err[FEDRA_ERRLEN] = "";
    Fedra__QuerySpec q;
    Fedra__Term t[3], *tp[3], oc;
    uint8_t id[16] = {7};
    double b[3] = {0.02, -0.3, 0.01};
    struct model_out a, c;

    /* glm round 0: info = (3/16) X'X, so the column age_years:sexM has the same
       cross-product with the intercept as with sexM, summed in the same order */
    model_spec(&q, t, tp, 1, id, NULL, 0, &oc);
    fedra__term__init(&t[2]);
    t[2].var = (char *)"age_years";
    t[2].level = (char *)"";
    t[2].var2 = (char *)"sex";
    t[2].level2 = (char *)"M";
    tp[2] = &t[2];
    q.n_terms = 3;
    assert_int_equal(model_round(s, &pol, &q, NULL, &a, err), 0);
    double info[16];
    assert_int_equal(a.model->n_info, 16);
    memcpy(info, a.model->info, sizeof info);
    assert_memory_equal(&info[3 * 4 + 0], &info[3 * 4 + 2], sizeof *info);
    assert_true(info[3 * 4 + 1] > 0);
    model_out_release(&a);
    /* the same column named the other way round (sex=M : age_years) */
    t[2].var = (char *)"sex";
    t[2].level = (char *)"M";
    t[2].var2 = (char *)"age_years";
    t[2].level2 = (char *)"";
    assert_int_equal(model_round(s, &pol, &q, NULL, &c, err), 0);
    assert_memory_equal(c.model->info, info, sizeof info);
    model_out_release(&c);

    /* refusals, each naming what is wrong */
    const struct { const char *var, *level, *var2, *level2, *says; } bad[] = {
        {"sex", "M", "colour", "", "unknown variable 'colour'"},
        {"sex", "M", "stage", "purple", "'purple' is not a level of stage"},
        {"sex", "M", "", "F", "without its variable"},
        {"sex", "M", "sex", "F", "an interaction of sex with itself"},
        {"sex", "M", "age_years", "3", "age_years is numeric and takes no level"},
        {"age_years", "", "sex", "M", "term 3 repeats term"},
    };
    t[1].var = (char *)"sex";
    t[1].level = (char *)"M";
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        t[2].var = (char *)bad[k].var;
        t[2].level = (char *)bad[k].level;
        t[2].var2 = (char *)bad[k].var2;
        t[2].level2 = (char *)bad[k].level2;
        if (k == 5) {           /* sex=M:age_years after age_years:sex=M */
            t[1] = t[2];
            t[2].var = (char *)"sex";
            t[2].level = (char *)"M";
            t[2].var2 = (char *)"age_years";
            t[2].level2 = (char *)"";
        }
        err[0] = 0;
        assert_int_equal(model_round(s, &pol, &q, NULL, &a, err), -1);
        if (strstr(err, bad[k].says) == NULL)
            print_error("case %zu: '%s' does not say '%s'\n", k, err, bad[k].says);
        assert_non_null(strstr(err, bad[k].says));
    }
    model_spec(&q, t, tp, 1, id, NULL, 0, &oc);
    q.strata = (char *)"stage";
    assert_int_equal(model_round(s, &pol, &q, NULL, &a, err), -1);
    assert_non_null(strstr(err, "apply to a Cox model only"));

    /* cox --strata: one level here (sex=M selected, strata sex) is the round
       without strata; two levels (strata stage) another */
    model_spec(&q, t, tp, 0, id, b, 2, &oc);
    t[1].var = (char *)"stage";
    t[1].level = (char *)"metastatic";
    Fedra__Filter fl = FEDRA__FILTER__INIT, *flp = &fl;
    char *male = (char *)"M";
    fl.var = (char *)"sex";
    fl.op = FEDRA__OP__OP_EQ;
    fl.n_values = 1;
    fl.values = &male;
    q.n_where = 1;
    q.where = &flp;
    assert_int_equal(model_round(s, &pol, &q, NULL, &a, err), 0);
    q.strata = (char *)"sex";
    assert_int_equal(model_round(s, &pol, &q, NULL, &c, err), 0);
    same_answer(&a, &c);
    model_out_release(&c);
    q.strata = (char *)"surgery";
    assert_int_equal(model_round(s, &pol, &q, NULL, &c, err), 0);
    assert_int_equal(c.model->n, a.model->n);
    assert_true(c.model->loglik != a.model->loglik);
    model_out_release(&c);
    model_out_release(&a);
    const struct { const char *strata, *says; } sbad[] = {
        {"colour", "unknown variable 'colour'"},
        {"age_years", "age_years is numeric"},
        {"stage", "stage is both a covariate and the strata variable"},
    };
    for (size_t k = 0; k < sizeof sbad / sizeof sbad[0]; k++) {
        q.strata = (char *)sbad[k].strata;
        assert_int_equal(model_round(s, &pol, &q, NULL, &a, err), -1);
        assert_non_null(strstr(err, sbad[k].says));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_meta),
        cmocka_unit_test(test_categorical_codes),
        cmocka_unit_test(test_age_codes),
        cmocka_unit_test(test_diagnosis_year),
        cmocka_unit_test(test_open_dictionaries),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_filter_integer_ops),
        cmocka_unit_test(test_filter_out_of_range_integer),
        cmocka_unit_test(test_filter_categorical),
        cmocka_unit_test(test_filter_open_variable),
        cmocka_unit_test(test_filter_refusals),
        cmocka_unit_test(test_filter_conjunction),
        cmocka_unit_test(test_filter_max_terms),
        cmocka_unit_test(test_count_ungrouped),
        cmocka_unit_test(test_count_by_one),
        cmocka_unit_test(test_count_by_two),
        cmocka_unit_test(test_count_by_three),
        cmocka_unit_test(test_count_dense_and_hashed_agree),
        cmocka_unit_test(test_count_by_max_group),
        cmocka_unit_test(test_km_count),
        cmocka_unit_test(test_exec_min_cell),
        cmocka_unit_test(test_exec_integer_levels_and_filter),
        cmocka_unit_test(test_exec_refusals),
        cmocka_unit_test(test_empty_store),
        cmocka_unit_test(test_open_variable_all_missing),
        cmocka_unit_test(test_exec_model_cache),
        cmocka_unit_test(test_exec_model_terms),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
