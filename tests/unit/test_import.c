/*
 * Unit tests for node/import: one must-fail fixture per data-model.md rule
 * with its exact report, the CSV dialect (BOM, CRLF, quoted commas and
 * newlines), header problems, all-or-nothing across files, counts for
 * re-imports, updates and --replace, the snapshot hash, and every limit at
 * its boundary and one past it.
 *
 * Fixtures are the CSV files in tests/data/csv; tests run from the repository root.
 * "Today" is pinned to 2025-06-30 (day 20269).  The expected hash of
 * good.csv was computed independently with
 *   sqlite3 -separator $'\x1f' -newline $'\x1e' DB \
 *       'select * from patient order by patient_id' | sha256sum
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

#include <sqlite3.h>

#include "lib/util.h"
#include "node/import.h"
#include "node/store.h"

#define FIX(name) "tests/data/csv/" name
#define TODAY 20269                 /* 2025-06-30 */
#define GOOD_HASH "8aa78bf5fb88666635f85b8e502e98ba83e437a158529bcbc500b058ebd90c3d"
#define HEADER "patient_id,eupid,sex,age_at_diagnosis_days,diagnosis_date,tumour_type," \
    "icdo3_morphology,icdo3_topography,stage,surgery,chemotherapy,radiotherapy,vital_status," \
    "last_contact_date,event_date"
#define ROW_TAIL ",,F,1200,2015-03-01,melanoma,8720/3,C44.5,localized,yes,no,no,alive,2020-01-01,"

struct fx {
    char dir[64];
    char path[128];                 /* DIR/store.db */
    struct store *s;
    int nstores;                    /* extra stores DIR/sN.db */
    int nfiles;                     /* generated CSVs DIR/fN.csv */
};

/* The result of one import_csv call. */
struct res {
    int rc;
    struct import_stats st;
    char err[FEDRA_ERRLEN];
    char *report;                   /* the error lines */
    char *warnings;
    char *progress;
};

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN];
    snprintf(f->dir, sizeof f->dir, "/tmp/fedra-test-import-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
    if (store_open(f->path, 0, &f->s, err) != 0) {
        print_error("%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    char p[200];
    store_free(f->s);
    unlink_db(f->path);
    for (int i = 0; i < f->nstores; i++) {
        snprintf(p, sizeof p, "%s/s%d.db", f->dir, i);
        unlink_db(p);
    }
    for (int i = 0; i < f->nfiles; i++) {
        snprintf(p, sizeof p, "%s/f%d.csv", f->dir, i);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void
res_free(struct res *r)
{
    free(r->report);
    free(r->warnings);
    free(r->progress);
}

/* Import paths into s with the pinned today; warnings and progress captured. */
static struct res
run(struct store *s, const char *const *paths, size_t n, int replace, int progress)
{
    struct res r;
    struct buf rep = {0};
    size_t wlen = 0, plen = 0;
    struct import_opts o = {0};

    memset(&r, 0, sizeof r);
    o.replace = replace;
    o.today = TODAY;
    o.warnings = open_memstream(&r.warnings, &wlen);
    o.progress = progress ? open_memstream(&r.progress, &plen) : NULL;
    r.rc = import_csv(s, paths, n, &o, &r.st, &rep, r.err);
    fclose(o.warnings);
    if (o.progress)
        fclose(o.progress);
    r.report = rep.len ? buf_detach(&rep) : xstrdup("");      /* buf_detach of {0} is not "" */
    buf_release(&rep);
    return r;
}

static struct res
run1(struct store *s, const char *path)
{
    const char *p[1] = {path};
    return run(s, p, 1, 0, 0);
}

static long long
query_int(struct store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Text of a one-value query into out ("NULL" for NULL). */
static void
query_text(struct store *s, const char *sql, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, n, "%s", t ? (const char *)t : "NULL");
    sqlite3_finalize(st);
}

static long long
nrows(struct store *s)
{
    return query_int(s, "SELECT count(*) FROM patient");
}

static void
assert_ok(const struct res *r)
{
    if (r->rc != 0)
        print_error("import failed: %s\n%s", r->err, r->report);
    assert_int_equal(r->rc, 0);
    assert_string_equal(r->report, "");
}

static void
assert_counts(const struct res *r, uint64_t read, uint64_t ins, uint64_t upd, uint64_t same,
    uint64_t del)
{
    assert_int_equal(r->st.read, read);
    assert_int_equal(r->st.inserted, ins);
    assert_int_equal(r->st.updated, upd);
    assert_int_equal(r->st.unchanged, same);
    assert_int_equal(r->st.deleted, del);
}

/* Import one fixture into the empty store: it must fail with exactly want, and write nothing. */
static void
expect_report(void **state, const char *path, const char *want, const char *want_err)
{
    struct fx *f = *state;
    struct res r = run1(f->s, path);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.report, want);
    assert_string_equal(r.err, want_err);
    assert_int_equal(nrows(f->s), 0);
    res_free(&r);
}

/* ---- one test per rule ---- */

#define RULE(name, file, want, err) \
    static void name(void **state) { expect_report(state, FIX(file), want, err); }

RULE(rule_required_value_is_missing, "bad_missing_value.csv",
    FIX("bad_missing_value.csv") ":2: sex: : required value is missing\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_patient_id_at_most_64_chars, "bad_patient_id_long.csv",
    FIX("bad_patient_id_long.csv") ":2: patient_id: "
    "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX...: "
    "longer than 64 characters\n",
    "1 error in 2 rows; nothing was imported")
RULE(rule_patient_id_no_control_characters, "bad_patient_id_control.csv",
    FIX("bad_patient_id_control.csv") ":2: patient_id: P\\t1: contains a control character\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_patient_id_unique_in_file, "bad_patient_id_duplicate.csv",
    FIX("bad_patient_id_duplicate.csv") ":4: patient_id: P1: duplicate patient_id "
    "(first on line 2)\n",
    "1 error in 3 rows; nothing was imported")
RULE(rule_eupid_at_most_128_chars, "bad_eupid_long.csv",
    FIX("bad_eupid_long.csv") ":2: eupid: "
    "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE...: "
    "longer than 128 characters\n",
    "1 error in 2 rows; nothing was imported")
RULE(rule_sex_code, "bad_sex.csv",
    FIX("bad_sex.csv") ":2: sex: X: must be one of F, M, U\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_age_whole_days_0_to_36500, "bad_age.csv",
    FIX("bad_age.csv") ":2: age_at_diagnosis_days: 12a: must be a whole number of days from 0 to 36500\n"
    FIX("bad_age.csv") ":3: age_at_diagnosis_days: -1: must be a whole number of days from 0 to 36500\n"
    FIX("bad_age.csv") ":4: age_at_diagnosis_days: ' 12': must be a whole number of days from 0 to 36500\n"
    FIX("bad_age.csv") ":5: age_at_diagnosis_days: 36501: must be a whole number of days from 0 to 36500\n"
    FIX("bad_age.csv") ":6: age_at_diagnosis_days: 12.0: must be a whole number of days from 0 to 36500\n"
    FIX("bad_age.csv") ":7: age_at_diagnosis_days: +5: must be a whole number of days from 0 to 36500\n",
    "6 errors in 8 rows; nothing was imported")
RULE(rule_diagnosis_date_valid_1950_to_today, "bad_diagnosis_date.csv",
    FIX("bad_diagnosis_date.csv") ":2: diagnosis_date: 2015-02-29: not a valid date (YYYY-MM-DD)\n"
    FIX("bad_diagnosis_date.csv") ":3: diagnosis_date: 1949-12-31: before 1950-01-01\n"
    FIX("bad_diagnosis_date.csv") ":4: diagnosis_date: 2025-07-01: after today (2025-06-30)\n"
    FIX("bad_diagnosis_date.csv") ":4: last_contact_date: 2025-07-01: after today (2025-06-30)\n"
    FIX("bad_diagnosis_date.csv") ":5: diagnosis_date: 2015-3-01: not a valid date (YYYY-MM-DD)\n",
    "5 errors in 6 rows; nothing was imported")
RULE(rule_tumour_type_code, "bad_tumour_type.csv",
    FIX("bad_tumour_type.csv") ":2: tumour_type: Melanoma: unknown tumour_type code "
    "(see 'fedra-node import --help' for the 17 codes)\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_morphology_nnnn_b, "bad_morphology.csv",
    FIX("bad_morphology.csv") ":2: icdo3_morphology: 8370/4: must be NNNN/B with behaviour B "
    "in 0-3, 6 or 9 (e.g. 8370/3)\n"
    FIX("bad_morphology.csv") ":3: icdo3_morphology: 837/3: must be NNNN/B with behaviour B "
    "in 0-3, 6 or 9 (e.g. 8370/3)\n",
    "2 errors in 2 rows; nothing was imported")
RULE(rule_topography_cnn, "bad_topography.csv",
    FIX("bad_topography.csv") ":2: icdo3_topography: C7: must be CNN or CNN.N (e.g. C74.0)\n"
    FIX("bad_topography.csv") ":3: icdo3_topography: D74.0: must be CNN or CNN.N (e.g. C74.0)\n"
    FIX("bad_topography.csv") ":4: icdo3_topography: C74.: must be CNN or CNN.N (e.g. C74.0)\n",
    "3 errors in 3 rows; nothing was imported")
RULE(rule_stage_code, "bad_stage.csv",
    FIX("bad_stage.csv") ":2: stage: early: must be one of localized, regional, metastatic, "
    "unknown\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_surgery_code, "bad_surgery.csv",
    FIX("bad_surgery.csv") ":2: surgery: Y: must be one of yes, no, unknown\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_chemotherapy_code, "bad_chemotherapy.csv",
    FIX("bad_chemotherapy.csv") ":2: chemotherapy: true: must be one of yes, no, unknown\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_radiotherapy_required, "bad_radiotherapy.csv",
    FIX("bad_radiotherapy.csv") ":2: radiotherapy: : required value is missing\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_vital_status_code, "bad_vital_status.csv",
    FIX("bad_vital_status.csv") ":2: vital_status: deceased: must be one of alive, dead\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_last_contact_from_diagnosis_to_today, "bad_last_contact_date.csv",
    FIX("bad_last_contact_date.csv") ":2: last_contact_date: 2015-02-28: before diagnosis_date "
    "(2015-03-01)\n"
    FIX("bad_last_contact_date.csv") ":3: last_contact_date: 2025-07-01: after today (2025-06-30)\n"
    FIX("bad_last_contact_date.csv") ":4: last_contact_date: 20200101: not a valid date "
    "(YYYY-MM-DD)\n",
    "3 errors in 3 rows; nothing was imported")
RULE(rule_event_between_diagnosis_and_last_contact, "bad_event_date.csv",
    FIX("bad_event_date.csv") ":2: event_date: 2015-02-28: before diagnosis_date (2015-03-01)\n"
    FIX("bad_event_date.csv") ":3: event_date: 2020-01-02: after last_contact_date (2020-01-01)\n"
    FIX("bad_event_date.csv") ":4: event_date: 2020-02-30: not a valid date (YYYY-MM-DD)\n",
    "3 errors in 3 rows; nothing was imported")
RULE(rule_utf8, "bad_utf8.csv",
    FIX("bad_utf8.csv") ":2: eupid: Ren\\xe9: not valid UTF-8: byte 0xe9 at character 4 "
    "(save the file as UTF-8)\n",
    "1 error in 1 row; nothing was imported")
/* Quoted fields go through libcsv (one spans lines 3-4), U4's line is split in place; Uç3 is valid. */
RULE(rule_utf8_quoted_and_plain, "bad_utf8_quoted.csv",
    FIX("bad_utf8_quoted.csv") ":2: eupid: Ren\\xe9, Paris: not valid UTF-8: byte 0xe9 at "
    "character 4 (save the file as UTF-8)\n"
    FIX("bad_utf8_quoted.csv") ":3: note: line one\\nline \\xc3(: not valid UTF-8: byte 0xc3 at "
    "character 15 (save the file as UTF-8)\n"
    FIX("bad_utf8_quoted.csv") ":6: patient_id: U4\\xf0\\x9f\\x98: not valid UTF-8: byte 0xf0 at "
    "character 3 (save the file as UTF-8)\n",
    "3 errors in 4 rows; nothing was imported")
/* A value with a leading or trailing space is shown in quotes, so that the space shows. */
RULE(rule_value_with_spaces_is_quoted, "bad_spaces.csv",
    FIX("bad_spaces.csv") ":2: stage: ' localized': must be one of localized, regional, "
    "metastatic, unknown\n"
    FIX("bad_spaces.csv") ":3: sex: 'F ': must be one of F, M, U\n"
    FIX("bad_spaces.csv") ":4: tumour_type: ' melanoma ': unknown tumour_type code "
    "(see 'fedra-node import --help' for the 17 codes)\n"
    FIX("bad_spaces.csv") ":5: stage: early stage: must be one of localized, regional, "
    "metastatic, unknown\n",
    "4 errors in 4 rows; nothing was imported")
/* As spreadsheet programs export "CSV" where the decimal separator is a comma. */
RULE(rule_separator_is_a_comma, "semicolon.csv",
    FIX("semicolon.csv") ":1: header: "
    "patient_id;eupid;sex;age_at_diagnosis_days;diagnosis_date;tumour...: "
    "the separator must be a comma, not a semicolon (export the file as comma-separated CSV)\n",
    "1 error in 0 rows; nothing was imported")
/* The same with a BOM, CRLF and every name quoted. */
RULE(rule_separator_is_a_comma_quoted_names, "semicolon_excel.csv",
    FIX("semicolon_excel.csv") ":1: header: "
    "\"patient_id\";\"eupid\";\"sex\";\"age_at_diagnosis_days\";\"diagnosis_da...: "
    "the separator must be a comma, not a semicolon (export the file as comma-separated CSV)\n",
    "1 error in 0 rows; nothing was imported")
RULE(rule_required_column, "missing_column.csv",
    FIX("missing_column.csv") ":1: required column 'sex' is missing from the header\n"
    FIX("missing_column.csv") ":1: required column 'stage' is missing from the header\n",
    "2 errors in 1 row; nothing was imported")
RULE(rule_duplicate_column, "duplicate_column.csv",
    FIX("duplicate_column.csv") ":1: column 'sex' appears twice in the header "
    "(columns 3 and 16)\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_field_count, "field_count.csv",
    FIX("field_count.csv") ":3: the row has 16 fields but the header has 15\n"
    FIX("field_count.csv") ":4: the row has 14 fields but the header has 15\n",
    "2 errors in 3 rows; nothing was imported")
RULE(rule_empty_file, "empty.csv",
    FIX("empty.csv") ":1: the file is empty: expected a header row naming the columns\n",
    "1 error in 0 rows; nothing was imported")
RULE(rule_stray_quote, "stray_quote.csv",
    FIX("stray_quote.csv") ":3: malformed CSV: a quote inside an unquoted field or text after "
    "a closing quote; the rest of the file was not checked\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_unclosed_quote, "unclosed_quote.csv",
    FIX("unclosed_quote.csv") ":3: malformed CSV: a quoted field is not closed before the end "
    "of the file\n",
    "1 error in 1 row; nothing was imported")
RULE(rule_missing_file, "no_such_file.csv",
    FIX("no_such_file.csv") ": cannot open: No such file or directory\n",
    "1 error in 0 rows; nothing was imported")

static void
rule_patient_id_unique_across_files(void **state)
{
    struct fx *f = *state;
    const char *p[2] = {FIX("good.csv"), FIX("good_part1.csv")};
    struct res r = run(f->s, p, 2, 0, 0);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.report,
        FIX("good_part1.csv") ":2: patient_id: P004: duplicate patient_id (first in "
        FIX("good.csv") " line 5)\n"
        FIX("good_part1.csv") ":3: patient_id: P002: duplicate patient_id (first in "
        FIX("good.csv") " line 3)\n");
    assert_int_equal(nrows(f->s), 0);
    res_free(&r);
}

/* ---- the CSV dialect ---- */

static void
csv_bom_and_crlf(void **state)
{
    struct fx *f = *state;
    char v[64];
    struct res r = run1(f->s, FIX("bom_crlf.csv"));
    assert_ok(&r);
    assert_counts(&r, 3, 3, 0, 0, 0);
    query_text(f->s, "SELECT eupid FROM patient WHERE patient_id='B2'", v, sizeof v);
    assert_string_equal(v, "quoted, eupid");
    query_text(f->s, "SELECT event_date FROM patient WHERE patient_id='B3'", v, sizeof v);
    assert_string_equal(v, "NULL");                             /* last line, no newline, no CR */
    query_text(f->s, "SELECT last_contact_date FROM patient WHERE patient_id='B1'", v, sizeof v);
    assert_string_equal(v, "2020-01-01");                       /* CR not kept */
    res_free(&r);
}

/* Write content to a new DIR/fN.csv; the path goes into out. */
static void
write_csv(struct fx *f, const char *content, size_t n, char *out, size_t outn)
{
    snprintf(out, outn, "%s/f%d.csv", f->dir, f->nfiles++);
    FILE *fp = fopen(out, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(content, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* Semicolons that do not split the header into column names are just part of a name. */
static void
csv_semicolons_without_column_names(void **state)
{
    struct fx *f = *state;
    char path[128], want[512];
    const char *csv = "id;name\n1;x\n";
    write_csv(f, csv, strlen(csv), path, sizeof path);
    struct res r = run1(f->s, path);
    assert_int_equal(r.rc, -1);
    snprintf(want, sizeof want, "%s:1: required column 'patient_id' is missing from the header\n",
        path);
    assert_memory_equal(r.report, want, strlen(want));
    assert_null(strstr(r.report, "semicolon"));
    snprintf(want, sizeof want, "%s:1: warning: unknown column 'id;name' is ignored\n", path);
    assert_string_equal(r.warnings, want);
    res_free(&r);
}

static void
csv_crlf_line_numbers(void **state)
{
    struct fx *f = *state;
    char path[128], want[512];
    struct buf b = {0};
    buf_puts(&b, HEADER "\r\n\r\nP1" ROW_TAIL "\r\n");         /* a blank line is skipped */
    buf_puts(&b, "\"P2\",\"two\r\nlines\",X,1200,2015-03-01,melanoma,,,localized,yes,no,no,"
        "alive,2020-01-01,\r\n");
    buf_puts(&b, "P3,,Q,1200,2015-03-01,melanoma,,,localized,yes,no,no,alive,2020-01-01,\r\n");
    write_csv(f, (const char *)b.p, b.len, path, sizeof path);
    buf_release(&b);
    struct res r = run1(f->s, path);
    assert_int_equal(r.rc, -1);
    snprintf(want, sizeof want,
        "%s:4: eupid: two\\r\\nlines: contains a control character\n"
        "%s:4: sex: X: must be one of F, M, U\n"
        "%s:6: sex: Q: must be one of F, M, U\n", path, path, path);
    assert_string_equal(r.report, want);
    res_free(&r);
}

static void
csv_quoted_fields_and_line_after_multiline(void **state)
{
    struct fx *f = *state;
    struct res r = run1(f->s, FIX("quoted.csv"));
    assert_int_equal(r.rc, -1);
    /* Q2's note spans lines 3-5, so Q3 is on line 6. */
    assert_string_equal(r.report, FIX("quoted.csv") ":6: sex: Z: must be one of F, M, U\n");
    assert_string_equal(r.warnings,
        FIX("quoted.csv") ":1: warning: unknown column 'note' is ignored\n");
    res_free(&r);

    /* Without the bad row the quoted values arrive unquoted. */
    char path[128], v[64];
    struct buf b = {0};
    buf_puts(&b, HEADER ",note\n\"Q1\",\"a,b \"\"c\"\"\",F,1200,2015-03-01,melanoma,,,localized,"
        "yes,no,no,alive,2020-01-01,,\"x\"\n");
    write_csv(f, (const char *)b.p, b.len, path, sizeof path);
    buf_release(&b);
    r = run1(f->s, path);
    assert_ok(&r);
    query_text(f->s, "SELECT eupid FROM patient WHERE patient_id='Q1'", v, sizeof v);
    assert_string_equal(v, "a,b \"c\"");
    res_free(&r);
}

static void
csv_header_any_order_unknown_column_warning(void **state)
{
    struct fx *f = *state;
    char v[64];
    struct res r = run1(f->s, FIX("reordered.csv"));
    assert_ok(&r);
    assert_counts(&r, 2, 2, 0, 0, 0);
    assert_string_equal(r.warnings,
        FIX("reordered.csv") ":1: warning: unknown column 'note' is ignored\n");
    query_text(f->s, "SELECT sex || ',' || vital_status || ',' || last_contact_date || ',' || "
        "ifnull(eupid, 'NULL') FROM patient WHERE patient_id='R2'", v, sizeof v);
    assert_string_equal(v, "M,alive,2020-01-01,NULL");
    res_free(&r);
}

static void
csv_header_only_is_an_empty_import(void **state)
{
    struct fx *f = *state;
    struct store_meta m;
    char err[FEDRA_ERRLEN];
    struct res r = run1(f->s, FIX("header_only.csv"));
    assert_ok(&r);
    assert_counts(&r, 0, 0, 0, 0, 0);
    assert_int_equal(store_meta_get(f->s, &m, err), 0);
    assert_int_equal(m.rows, 0);
    assert_string_equal(m.hash, "");
    assert_true(m.imported_at_ms > 0);
    res_free(&r);
}

/* ---- writing ---- */

static void
all_or_nothing_across_files(void **state)
{
    struct fx *f = *state;
    struct store_meta before, after;
    char err[FEDRA_ERRLEN], v[32];
    const char *p[2] = {FIX("good_update.csv"), FIX("second_bad.csv")};

    struct res r = run1(f->s, FIX("good.csv"));
    assert_ok(&r);
    res_free(&r);
    assert_int_equal(store_meta_get(f->s, &before, err), 0);
    r = run(f->s, p, 2, 0, 0);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.report, FIX("second_bad.csv") ":3: stage: stage IV: must be one of "
        "localized, regional, metastatic, unknown\n");
    assert_string_equal(r.err, "1 error in 9 rows; nothing was imported");
    assert_int_equal(r.st.read, 9);
    assert_int_equal(r.st.inserted + r.st.updated + r.st.unchanged + r.st.deleted, 0);
    /* good_update.csv's changes (P002 updated, P006 new) are not in the store. */
    assert_int_equal(nrows(f->s), 5);
    query_text(f->s, "SELECT last_contact_date FROM patient WHERE patient_id='P002'", v, sizeof v);
    assert_string_equal(v, "2017-02-01");
    assert_int_equal(store_meta_get(f->s, &after, err), 0);
    assert_string_equal(after.hash, before.hash);
    assert_int_equal(after.imported_at_ms, before.imported_at_ms);
    res_free(&r);
}

/*
 * An import into an empty store runs with a rollback journal (pages written
 * once); the store is in WAL mode again afterwards, and an import into a
 * non-empty store, or one that another connection holds open, stays in WAL.
 */
static void
journal_back_to_wal_after_import(void **state)
{
    struct fx *f = *state;
    char mode[16];
    query_text(f->s, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    struct res r = run1(f->s, FIX("good.csv"));          /* empty store */
    assert_ok(&r);
    res_free(&r);
    query_text(f->s, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    assert_int_equal(nrows(f->s), 5);
    r = run1(f->s, FIX("good_update.csv"));               /* non-empty store */
    assert_ok(&r);
    res_free(&r);
    query_text(f->s, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    /* A second store, empty, open twice (a node serving it): WAL is kept throughout. */
    char p2[160], err[FEDRA_ERRLEN];
    struct store *a, *b;
    snprintf(p2, sizeof p2, "%s/s%d.db", f->dir, f->nstores++);
    assert_int_equal(store_open(p2, 0, &a, err), 0);
    assert_int_equal(store_open(p2, 0, &b, err), 0);
    r = run1(a, FIX("good.csv"));
    assert_ok(&r);
    res_free(&r);
    query_text(a, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    assert_int_equal(nrows(b), 5);
    store_free(a);
    store_free(b);
}

static void
reimport_is_idempotent(void **state)
{
    struct fx *f = *state;
    struct store_meta m1, m2;
    char err[FEDRA_ERRLEN];

    struct res r = run1(f->s, FIX("good.csv"));
    assert_ok(&r);
    assert_counts(&r, 5, 5, 0, 0, 0);
    res_free(&r);
    assert_int_equal(store_meta_get(f->s, &m1, err), 0);
    r = run1(f->s, FIX("good.csv"));
    assert_ok(&r);
    assert_counts(&r, 5, 0, 0, 5, 0);
    res_free(&r);
    assert_int_equal(store_meta_get(f->s, &m2, err), 0);
    assert_int_equal(m2.rows, 5);
    assert_string_equal(m2.hash, m1.hash);
    assert_true(m2.imported_at_ms >= m1.imported_at_ms);
    assert_int_equal(nrows(f->s), 5);
}

static void
reimport_counts_updates(void **state)
{
    struct fx *f = *state;
    char v[64];
    struct res r = run1(f->s, FIX("good.csv"));
    assert_ok(&r);
    res_free(&r);
    r = run1(f->s, FIX("good_update.csv"));
    assert_ok(&r);
    assert_counts(&r, 6, 1, 1, 4, 0);
    query_text(f->s, "SELECT last_contact_date || ',' || event_date FROM patient "
        "WHERE patient_id='P002'", v, sizeof v);
    assert_string_equal(v, "2018-02-01,2017-12-01");
    assert_int_equal(nrows(f->s), 6);
    assert_int_equal(query_int(f->s, "SELECT value FROM meta WHERE key='rows'"), 6);
    res_free(&r);
}

static void
replace_swaps_the_dataset(void **state)
{
    struct fx *f = *state;
    const char *p[1] = {FIX("replace.csv")};
    char v[64];
    struct res r = run1(f->s, FIX("good.csv"));
    assert_ok(&r);
    res_free(&r);
    r = run(f->s, p, 1, 1, 0);
    assert_ok(&r);
    assert_counts(&r, 2, 1, 0, 1, 4);                           /* P007 new, P002 same */
    query_text(f->s, "SELECT group_concat(patient_id) FROM (SELECT patient_id FROM patient "
        "ORDER BY 1)", v, sizeof v);
    assert_string_equal(v, "P002,P007");
    assert_int_equal(query_int(f->s, "SELECT value FROM meta WHERE key='rows'"), 2);
    res_free(&r);

    /* The same hash as replace.csv imported into a fresh store. */
    char path[128], err[FEDRA_ERRLEN];
    struct store *s2 = NULL;
    struct store_meta a, b;
    snprintf(path, sizeof path, "%s/s%d.db", f->dir, f->nstores++);
    assert_int_equal(store_open(path, 0, &s2, err), 0);
    r = run1(s2, FIX("replace.csv"));
    assert_ok(&r);
    res_free(&r);
    assert_int_equal(store_meta_get(f->s, &a, err), 0);
    assert_int_equal(store_meta_get(s2, &b, err), 0);
    assert_string_equal(a.hash, b.hash);
    store_free(s2);
}

/* The hash of good.csv's rows in a new store after the given imports. */
static void
hash_after(struct fx *f, const char *const *const *steps, const int *replace, char hash[65])
{
    char path[128], err[FEDRA_ERRLEN];
    struct store *s = NULL;
    struct store_meta m;
    snprintf(path, sizeof path, "%s/s%d.db", f->dir, f->nstores++);
    assert_int_equal(store_open(path, 0, &s, err), 0);
    for (int i = 0; steps[i] != NULL; i++) {
        size_t n = 0;
        while (steps[i][n] != NULL)
            n++;
        struct res r = run(s, steps[i], n, replace[i], 0);
        assert_ok(&r);
        res_free(&r);
    }
    assert_int_equal(store_meta_get(s, &m, err), 0);
    assert_int_equal(m.rows, 5);
    memcpy(hash, m.hash, 65);
    store_free(s);
}

static void
hash_is_independent_of_import_history(void **state)
{
    struct fx *f = *state;
    char h[65];
    static const char *const good[] = {FIX("good.csv"), NULL};
    static const char *const p1[] = {FIX("good_part1.csv"), NULL};
    static const char *const p2[] = {FIX("good_part2.csv"), NULL};
    static const char *const both[] = {FIX("good_part2.csv"), FIX("good_part1.csv"), NULL};
    static const char *const other[] = {FIX("replace.csv"), NULL};
    static const char *const upd[] = {FIX("good_update.csv"), NULL};
    const int no[4] = {0, 0, 0, 0};
    const int rep2[4] = {0, 1, 0, 0};

    const char *const *once[] = {good, NULL};
    hash_after(f, once, no, h);
    assert_string_equal(h, GOOD_HASH);
    const char *const *split12[] = {p1, p2, NULL};
    hash_after(f, split12, no, h);
    assert_string_equal(h, GOOD_HASH);
    const char *const *split21[] = {p2, p1, NULL};
    hash_after(f, split21, no, h);
    assert_string_equal(h, GOOD_HASH);
    const char *const *together[] = {both, NULL};
    hash_after(f, together, no, h);
    assert_string_equal(h, GOOD_HASH);
    const char *const *replaced[] = {other, good, NULL};
    hash_after(f, replaced, rep2, h);
    assert_string_equal(h, GOOD_HASH);
    const char *const *restored[] = {upd, good, NULL};
    hash_after(f, restored, rep2, h);                               /* replace drops P006 */
    assert_string_equal(h, GOOD_HASH);
}

static void
write_failure_rolls_back(void **state)
{
    struct fx *f = *state;
    struct store_meta before, after;
    char err[FEDRA_ERRLEN], path[128], q[64];
    struct res r = run1(f->s, FIX("good.csv"));
    assert_ok(&r);
    res_free(&r);
    assert_int_equal(store_meta_get(f->s, &before, err), 0);

    /* A store that cannot grow: SQLite reports SQLITE_FULL, as on a full disk. */
    struct buf b = {0};
    buf_puts(&b, HEADER "\n");
    for (int i = 0; i < 5000; i++)
        buf_printf(&b, "N%05d" ROW_TAIL "\n", i);
    write_csv(f, (const char *)b.p, b.len, path, sizeof path);
    buf_release(&b);
    snprintf(q, sizeof q, "PRAGMA max_page_count=%lld",
        query_int(f->s, "PRAGMA page_count"));
    assert_int_equal(sqlite3_exec(store_db(f->s), q, NULL, NULL, NULL), SQLITE_OK);
    r = run1(f->s, path);
    assert_int_equal(r.rc, -1);
    char want[FEDRA_ERRLEN];
    snprintf(want, sizeof want, "cannot write the store '%s': database or disk is full; "
        "nothing was imported", sqlite3_db_filename(store_db(f->s), "main"));
    assert_string_equal(r.err, want);
    assert_string_equal(r.report, "");
    assert_int_equal(nrows(f->s), 5);
    assert_int_equal(store_meta_get(f->s, &after, err), 0);
    assert_string_equal(after.hash, before.hash);
    assert_int_equal(after.imported_at_ms, before.imported_at_ms);
    res_free(&r);
}

static void
duplicate_eupid_is_a_warning(void **state)
{
    struct fx *f = *state;
    struct res r = run1(f->s, FIX("good.csv"));
    assert_ok(&r);
    res_free(&r);
    r = run1(f->s, FIX("eupid_dup.csv"));
    assert_ok(&r);
    assert_counts(&r, 3, 3, 0, 0, 0);
    assert_string_equal(r.warnings,
        FIX("eupid_dup.csv") ":4: warning: eupid 'EU-X' is also the eupid of patient_id 'P102' ("
        FIX("eupid_dup.csv") " line 3): possible duplicate registration\n"
        FIX("eupid_dup.csv") ":2: warning: eupid 'EU-1' of patient_id 'P101' is also the eupid "
        "of patient_id 'P001' already in the store: possible duplicate registration\n");
    res_free(&r);
}

static void
no_files_is_an_error(void **state)
{
    struct fx *f = *state;
    struct res r = run(f->s, NULL, 0, 0, 0);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.err, "no CSV file given");
    res_free(&r);
}

/* ---- limits ---- */

/* A file with an unknown column "note" holding a value of n bytes. */
static struct res
import_note(struct fx *f, size_t n, char *path, size_t pathn)
{
    struct buf b = {0};
    char *v = xmalloc(n + 1);
    memset(v, 'n', n);
    v[n] = 0;
    buf_puts(&b, HEADER ",note\n");
    buf_printf(&b, "P1" ROW_TAIL ",%s\nP2" ROW_TAIL ",x\n", v);
    write_csv(f, (const char *)b.p, b.len, path, pathn);
    buf_release(&b);
    free(v);
    return run1(f->s, path);
}

static void
limit_field_bytes(void **state)
{
    struct fx *f = *state;
    char path[128], want[512];
    const char *shown = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...";

    struct res r = import_note(f, IMPORT_MAX_FIELD, path, sizeof path);
    assert_ok(&r);
    res_free(&r);

    r = import_note(f, IMPORT_MAX_FIELD + 1, path, sizeof path);
    assert_int_equal(r.rc, -1);
    snprintf(want, sizeof want, "%s:2: note: %s: longer than %d bytes\n", path, shown,
        IMPORT_MAX_FIELD);
    assert_string_equal(r.report, want);
    assert_string_equal(r.err, "1 error in 2 rows; nothing was imported");
    res_free(&r);

    /* Far longer (an unclosed quote, say): the parse of the file stops there. */
    r = import_note(f, 100 * IMPORT_MAX_FIELD, path, sizeof path);
    assert_int_equal(r.rc, -1);
    snprintf(want, sizeof want, "%s:2: note: %s: longer than %d bytes (an unclosed quote?); "
        "the rest of the file was not checked\n", path, shown, IMPORT_MAX_FIELD);
    assert_string_equal(r.report, want);
    res_free(&r);
}

static struct res
import_columns(struct fx *f, int ncols, char *path, size_t pathn)
{
    struct buf b = {0};
    buf_puts(&b, HEADER);
    for (int i = 15; i < ncols; i++)
        buf_printf(&b, ",x%d", i);
    buf_puts(&b, "\nP1" ROW_TAIL);
    for (int i = 15; i < ncols; i++)
        buf_puts(&b, ",");
    buf_puts(&b, "\n");
    write_csv(f, (const char *)b.p, b.len, path, pathn);
    buf_release(&b);
    return run1(f->s, path);
}

static void
limit_columns(void **state)
{
    struct fx *f = *state;
    char path[128], want[512];

    struct res r = import_columns(f, IMPORT_MAX_COLUMNS, path, sizeof path);
    assert_ok(&r);
    assert_counts(&r, 1, 1, 0, 0, 0);
    /* 241 unknown columns: the first IMPORT_MAX_ERRORS warnings, then a count. */
    snprintf(want, sizeof want, "%s:1: warning: unknown column 'x15' is ignored\n", path);
    assert_memory_equal(r.warnings, want, strlen(want));
    snprintf(want, sizeof want, "%s:1: warning: unknown column 'x114' is ignored\n"
        "... and %d more warnings\n", path, IMPORT_MAX_COLUMNS - 15 - IMPORT_MAX_ERRORS);
    assert_string_equal(r.warnings + strlen(r.warnings) - strlen(want), want);
    res_free(&r);

    r = import_columns(f, IMPORT_MAX_COLUMNS + 1, path, sizeof path);
    assert_int_equal(r.rc, -1);
    snprintf(want, sizeof want, "%s:1: the header has %d columns, more than the limit of %d\n",
        path, IMPORT_MAX_COLUMNS + 1, IMPORT_MAX_COLUMNS);
    assert_string_equal(r.report, want);
    res_free(&r);
}

static struct res
import_bad_rows(struct fx *f, int n, char *path, size_t pathn)
{
    struct buf b = {0};
    buf_puts(&b, HEADER "\n");
    for (int i = 0; i < n; i++)
        buf_printf(&b, "P%d,,X,1200,2015-03-01,melanoma,,,localized,yes,no,no,alive,"
            "2020-01-01,\n", i);
    write_csv(f, (const char *)b.p, b.len, path, pathn);
    buf_release(&b);
    return run1(f->s, path);
}

static void
limit_errors(void **state)
{
    struct fx *f = *state;
    char path[128], want[FEDRA_ERRLEN];
    struct buf exp = {0};

    struct res r = import_bad_rows(f, IMPORT_MAX_ERRORS, path, sizeof path);
    for (int i = 0; i < IMPORT_MAX_ERRORS; i++)
        buf_printf(&exp, "%s:%d: sex: X: must be one of F, M, U\n", path, i + 2);
    assert_string_equal(r.report, (const char *)exp.p);
    snprintf(want, sizeof want, "%d errors in %d rows; nothing was imported",
        IMPORT_MAX_ERRORS, IMPORT_MAX_ERRORS);
    assert_string_equal(r.err, want);
    res_free(&r);
    buf_release(&exp);

    r = import_bad_rows(f, IMPORT_MAX_ERRORS + 1, path, sizeof path);
    for (int i = 0; i < IMPORT_MAX_ERRORS; i++)
        buf_printf(&exp, "%s:%d: sex: X: must be one of F, M, U\n", path, i + 2);
    buf_puts(&exp, "... and 1 more errors\n");
    assert_string_equal(r.report, (const char *)exp.p);
    snprintf(want, sizeof want, "%d errors in %d rows; nothing was imported",
        IMPORT_MAX_ERRORS + 1, IMPORT_MAX_ERRORS + 1);
    assert_string_equal(r.err, want);
    res_free(&r);
    buf_release(&exp);
}

static void
progress_lines(void **state)
{
    struct fx *f = *state;
    char path[128];
    struct buf b = {0};
    buf_puts(&b, HEADER "\n");
    for (int i = 0; i < 100001; i++)
        buf_printf(&b, "P%06d" ROW_TAIL "\n", i);
    write_csv(f, (const char *)b.p, b.len, path, sizeof path);
    buf_release(&b);
    const char *p[1] = {path};
    struct res r = run(f->s, p, 1, 0, 1);
    assert_ok(&r);
    assert_counts(&r, 100001, 100001, 0, 0, 0);
    assert_string_equal(r.progress, "\rimport: 100000 rows read\rimport: 100001 rows read\n");
    res_free(&r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(journal_back_to_wal_after_import),
        T(rule_required_value_is_missing),
        T(rule_patient_id_at_most_64_chars),
        T(rule_patient_id_no_control_characters),
        T(rule_patient_id_unique_in_file),
        T(rule_patient_id_unique_across_files),
        T(rule_eupid_at_most_128_chars),
        T(rule_sex_code),
        T(rule_age_whole_days_0_to_36500),
        T(rule_diagnosis_date_valid_1950_to_today),
        T(rule_tumour_type_code),
        T(rule_morphology_nnnn_b),
        T(rule_topography_cnn),
        T(rule_stage_code),
        T(rule_surgery_code),
        T(rule_chemotherapy_code),
        T(rule_radiotherapy_required),
        T(rule_vital_status_code),
        T(rule_last_contact_from_diagnosis_to_today),
        T(rule_event_between_diagnosis_and_last_contact),
        T(rule_utf8),
        T(rule_utf8_quoted_and_plain),
        T(rule_value_with_spaces_is_quoted),
        T(rule_separator_is_a_comma),
        T(rule_separator_is_a_comma_quoted_names),
        T(rule_required_column),
        T(rule_duplicate_column),
        T(rule_field_count),
        T(rule_empty_file),
        T(rule_stray_quote),
        T(rule_unclosed_quote),
        T(rule_missing_file),
        T(csv_bom_and_crlf),
        T(csv_semicolons_without_column_names),
        T(csv_crlf_line_numbers),
        T(csv_quoted_fields_and_line_after_multiline),
        T(csv_header_any_order_unknown_column_warning),
        T(csv_header_only_is_an_empty_import),
        T(all_or_nothing_across_files),
        T(reimport_is_idempotent),
        T(reimport_counts_updates),
        T(replace_swaps_the_dataset),
        T(hash_is_independent_of_import_history),
        T(write_failure_rolls_back),
        T(duplicate_eupid_is_a_warning),
        T(no_files_is_an_error),
        T(limit_field_bytes),
        T(limit_columns),
        T(limit_errors),
        T(progress_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
