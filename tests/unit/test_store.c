/*
 * Unit tests for node/store: civil dates (day numbers checked against
 * `date -d D +%s` / 86400 and Python's datetime), the schema store_open
 * creates, scan order and conversion, a value edited by hand, and the
 * messages for a missing, foreign or corrupted file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/util.h"
#include "node/store.h"
#include "proto/vars.h"

/* A fresh directory per test; path is DIR/store.db. */
struct tmp {
    char dir[64];
    char path[128];
};

static int
setup(void **state)
{
    struct tmp *t = xcalloc(1, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/fedra-test-store-XXXXXX");
    if (mkdtemp(t->dir) == NULL)
        return -1;
    snprintf(t->path, sizeof t->path, "%s/store.db", t->dir);
    *state = t;
    return 0;
}

static int
teardown(void **state)
{
    struct tmp *t = *state;
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[160];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", t->path, sfx[i]);
        unlink(p);
    }
    rmdir(t->dir);
    free(t);
    return 0;
}

static void
exec_sql(struct store *s, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(store_db(s), sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        print_error("sql failed: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
}

static struct store *
open_ok(const char *path, int readonly)
{
    struct store *s = NULL;
    char err[FEDRA_ERRLEN] = "";
    int rc = store_open(path, readonly, &s, err);
    if (rc != 0)
        print_error("store_open: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

static void
test_parse_date_known_days(void **state)
{
    static const struct { const char *s; int32_t day; } cases[] = {
        {"1970-01-01", 0}, {"1969-12-31", -1}, {"1950-01-01", -7305},
        {"2000-02-29", 11016}, {"2024-03-01", 19783}, {"2025-06-30", 20269},
        {"2100-03-01", 47541}, {"1600-02-29", -135081}, {"1600-03-01", -135080},
        {"0001-01-01", -719162}, {"9999-12-31", 2932896},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t d = 12345;
        assert_int_equal(store_parse_date(cases[i].s, &d), 0);
        assert_int_equal(d, cases[i].day);
        char out[11];
        store_format_date(cases[i].day, out);
        assert_string_equal(out, cases[i].s);
    }
}

static void
test_parse_date_leap_years(void **state)
{
    int32_t d;
    (void)state;
    assert_int_equal(store_parse_date("2024-02-29", &d), 0);    /* divisible by 4 */
    assert_int_equal(store_parse_date("2000-02-29", &d), 0);    /* divisible by 400 */
    assert_int_equal(store_parse_date("2023-02-29", &d), -1);   /* not a leap year */
    assert_int_equal(store_parse_date("1900-02-29", &d), -1);   /* century, not by 400 */
    assert_int_equal(store_parse_date("2100-02-29", &d), -1);
    assert_int_equal(store_parse_date("2024-02-30", &d), -1);
}

static void
test_parse_date_rejects(void **state)
{
    static const char *const bad[] = {
        "", "2020", "2020-1-01", "2020-01-1", "20200101", " 2020-01-01", "2020-01-01 ",
        "2020/01/01", "2020-01-01x", "2020-00-10", "2020-13-01", "2020-01-00", "2020-01-32",
        "2020-04-31", "2020-06-31", "2020-09-31", "2020-11-31", "+020-01-01", "2020-0a-01",
        "2020--1-01",
    };
    int32_t d = 777;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (store_parse_date(bad[i], &d) != -1)
            print_error("accepted '%s'\n", bad[i]);
        assert_int_equal(store_parse_date(bad[i], &d), -1);
    }
    assert_int_equal(d, 777);                                   /* untouched on failure */
    assert_int_equal(store_parse_date(NULL, &d), -1);
}

static void
test_format_parse_round_trip(void **state)
{
    (void)state;
    for (int32_t day = -800000; day <= 3000000; day += 7) {
        char out[11];
        int32_t back;
        store_format_date(day, out);
        if (day < -719528 || day > 2932896) {                   /* years outside 0000-9999 */
            assert_string_equal(out, "");
            continue;
        }
        assert_int_equal(store_parse_date(out, &back), 0);
        assert_int_equal(back, day);
    }
    char out[11] = "x";
    store_format_date(STORE_MISSING_DAY, out);
    assert_string_equal(out, "");
}

/* Count rows of a query returning one integer. */
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

static void
test_schema_created(void **state)
{
    struct tmp *t = *state;
    struct store *s = open_ok(t->path, 0);
    struct store_meta m;
    char err[FEDRA_ERRLEN] = "";

    assert_int_equal(query_int(s, "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
        "name IN ('patient','meta','audit','seen')"), 4);
    assert_int_equal(query_int(s, "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND "
        "name IN ('audit_no_update','audit_no_delete')"), 2);
    assert_int_equal(query_int(s, "SELECT count(*) FROM pragma_table_info('patient')"), 15);
    assert_int_equal(query_int(s, "SELECT pk FROM pragma_table_info('patient') "
        "WHERE name='patient_id'"), 1);
    assert_int_equal(query_int(s, "SELECT value FROM meta WHERE key='schema_version'"), 1);
    assert_int_equal(query_int(s, "SELECT count(*) FROM pragma_journal_mode "
        "WHERE journal_mode='wal'"), 1);
    assert_int_equal(store_meta_get(s, &m, err), 0);
    assert_int_equal(m.rows, 0);
    assert_string_equal(m.hash, "");
    assert_int_equal(m.imported_at_ms, 0);

    /* The audit table is append-only and checks its hash lengths. */
    exec_sql(s, "INSERT INTO audit(ts_ms, event, query_id, signer, reason, prev_hash, entry_hash) "
        "VALUES(1, 'e', 'q', 's', 'r', zeroblob(32), zeroblob(32))");
    sqlite3 *db = store_db(s);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE audit SET reason='x'", NULL, NULL, NULL), SQLITE_OK);
    assert_string_equal(sqlite3_errmsg(db), "audit is append-only");
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit", NULL, NULL, NULL), SQLITE_OK);
    assert_string_equal(sqlite3_errmsg(db), "audit is append-only");
    assert_int_not_equal(sqlite3_exec(db, "INSERT INTO audit(ts_ms, event, query_id, signer, "
        "reason, prev_hash, entry_hash) VALUES(1, 'e', 'q', 's', 'r', zeroblob(31), zeroblob(32))",
        NULL, NULL, NULL), SQLITE_OK);
    store_free(s);

    /* Opening again keeps what is there (CREATE IF NOT EXISTS, INSERT OR IGNORE). */
    s = open_ok(t->path, 0);
    exec_sql(s, "UPDATE meta SET value='7' WHERE key='rows'");
    store_free(s);
    s = open_ok(t->path, 1);
    assert_int_equal(store_meta_get(s, &m, err), 0);
    assert_int_equal(m.rows, 7);
    assert_int_equal(query_int(s, "SELECT count(*) FROM audit"), 1);
    store_free(s);
    store_free(NULL);
}

static const char insert_rows_sql[] =
    "INSERT INTO patient VALUES"
    "('P3', NULL, 'U', 36500, '2024-02-29', 'other', NULL, NULL, 'unknown', 'unknown', "
    "'unknown', 'unknown', 'dead', '2024-03-01', NULL),"
    "('P1', 'EU1', 'F', 1200, '1970-01-01', 'adrenocortical_carcinoma', '8370/3', 'C74.0', "
    "'localized', 'yes', 'no', 'no', 'alive', '1970-01-02', '1970-01-02'),"
    "('P10', NULL, 'M', 0, '1950-01-01', 'germ_cell_tumour_other', NULL, 'C62', 'metastatic', "
    "'no', 'yes', 'unknown', 'alive', '1950-01-01', '1950-01-01');";

struct seen {
    int n;
    int stop_after;
    char ids[4][16];
    struct store_record r[4];
    char morph[4][8], topo[4][8];
};

static int
collect(const struct store_record *r, void *arg)
{
    struct seen *sn = arg;
    if (sn->n < 4) {
        sn->r[sn->n] = *r;
        snprintf(sn->morph[sn->n], 8, "%s", r->morphology);
        snprintf(sn->topo[sn->n], 8, "%s", r->topography);
    }
    sn->n++;
    return sn->stop_after && sn->n >= sn->stop_after;
}

static void
test_scan_order_and_conversion(void **state)
{
    struct tmp *t = *state;
    struct store *s = open_ok(t->path, 0);
    char err[FEDRA_ERRLEN] = "";
    struct seen sn;

    exec_sql(s, insert_rows_sql);
    memset(&sn, 0, sizeof sn);
    assert_int_equal(store_scan(s, collect, &sn, err), 0);
    assert_int_equal(sn.n, 3);
    /* patient_id order is byte order: P1 < P10 < P3. */
    const struct store_record *a = &sn.r[0], *b = &sn.r[1], *c = &sn.r[2];
    assert_int_equal(a->sex, 0);                                /* F */
    assert_int_equal(a->tumour_type, 0);                        /* adrenocortical_carcinoma */
    assert_int_equal(a->stage, 0);
    assert_int_equal(a->surgery, 0);
    assert_int_equal(a->chemotherapy, 1);
    assert_int_equal(a->radiotherapy, 1);
    assert_int_equal(a->vital_status, 0);
    assert_int_equal(a->age_days, 1200);
    assert_int_equal(a->diagnosis_day, 0);
    assert_int_equal(a->last_contact_day, 1);
    assert_int_equal(a->event_day, 1);
    assert_string_equal(sn.morph[0], "8370/3");
    assert_string_equal(sn.topo[0], "C74.0");

    assert_int_equal(b->sex, 1);                                /* M */
    assert_int_equal(b->tumour_type, 15);                       /* germ_cell_tumour_other */
    assert_int_equal(b->stage, 2);                              /* metastatic */
    assert_int_equal(b->surgery, 1);
    assert_int_equal(b->chemotherapy, 0);
    assert_int_equal(b->radiotherapy, 2);
    assert_int_equal(b->age_days, 0);
    assert_int_equal(b->diagnosis_day, -7305);
    assert_int_equal(b->event_day, -7305);
    assert_string_equal(sn.morph[1], "");
    assert_string_equal(sn.topo[1], "C62");

    assert_int_equal(c->sex, 2);                                /* U */
    assert_int_equal(c->tumour_type, 16);                       /* other */
    assert_int_equal(c->stage, 3);
    assert_int_equal(c->vital_status, 1);                       /* dead */
    assert_int_equal(c->age_days, 36500);
    assert_int_equal(c->diagnosis_day, 19782);
    assert_int_equal(c->last_contact_day, 19783);
    assert_int_equal(c->event_day, STORE_MISSING_DAY);
    assert_string_equal(sn.morph[2], "");
    assert_string_equal(sn.topo[2], "");

    /* The callback stops the scan. */
    memset(&sn, 0, sizeof sn);
    sn.stop_after = 2;
    assert_int_equal(store_scan(s, collect, &sn, err), 0);
    assert_int_equal(sn.n, 2);
    store_free(s);
}

/* A value import would have refused, written by hand, stops the scan with a message. */
static void
scan_bad(struct tmp *t, const char *update, const char *want_suffix)
{
    struct store *s = open_ok(t->path, 0);
    char err[FEDRA_ERRLEN] = "";
    char want[FEDRA_ERRLEN];
    struct seen sn;

    exec_sql(s, "DELETE FROM patient");
    exec_sql(s, insert_rows_sql);
    exec_sql(s, update);
    memset(&sn, 0, sizeof sn);
    assert_int_equal(store_scan(s, collect, &sn, err), -1);
    snprintf(want, sizeof want, "store '%s': %s (was the store edited by hand? re-import the "
        "registry extract)", t->path, want_suffix);
    assert_string_equal(err, want);
    store_free(s);
}

static void
test_scan_rejects_hand_edits(void **state)
{
    struct tmp *t = *state;
    scan_bad(t, "UPDATE patient SET sex='X' WHERE patient_id='P10'",
        "patient_id 'P10': sex has an invalid value 'X'");
    scan_bad(t, "UPDATE patient SET tumour_type='Melanoma' WHERE patient_id='P1'",
        "patient_id 'P1': tumour_type has an invalid value 'Melanoma'");
    scan_bad(t, "UPDATE patient SET age_at_diagnosis_days='ten' WHERE patient_id='P3'",
        "patient_id 'P3': age_at_diagnosis_days has an invalid value 'ten'");
    scan_bad(t, "UPDATE patient SET age_at_diagnosis_days=36501 WHERE patient_id='P3'",
        "patient_id 'P3': age_at_diagnosis_days has an invalid value '36501'");
    scan_bad(t, "UPDATE patient SET diagnosis_date='2023-02-29' WHERE patient_id='P1'",
        "patient_id 'P1': diagnosis_date has an invalid value '2023-02-29'");
    scan_bad(t, "UPDATE patient SET last_contact_date='1969-12-31' WHERE patient_id='P1'",
        "patient_id 'P1': last_contact_date has an invalid value '1969-12-31'");
    scan_bad(t, "UPDATE patient SET event_date='1970-01-03' WHERE patient_id='P1'",
        "patient_id 'P1': event_date has an invalid value '1970-01-03'");
    scan_bad(t, "UPDATE patient SET icdo3_morphology='8370' WHERE patient_id='P1'",
        "patient_id 'P1': icdo3_morphology has an invalid value '8370'");
    scan_bad(t, "UPDATE patient SET icdo3_topography='X1' WHERE patient_id='P10'",
        "patient_id 'P10': icdo3_topography has an invalid value 'X1'");
}

static void
test_readonly_missing_file(void **state)
{
    struct tmp *t = *state;
    struct store *s = (struct store *)1;
    char err[FEDRA_ERRLEN] = "";
    char want[FEDRA_ERRLEN];

    assert_int_equal(store_open(t->path, 1, &s, err), -1);
    assert_null(s);
    snprintf(want, sizeof want, "cannot open store '%s': No such file or directory "
        "(create it with 'fedra-node import --db FILE CSV...')", t->path);
    assert_string_equal(err, want);
    assert_int_equal(access(t->path, F_OK), -1);                /* not created */
}

static void
test_readonly_cannot_write(void **state)
{
    struct tmp *t = *state;
    store_free(open_ok(t->path, 0));
    struct store *s = open_ok(t->path, 1);
    assert_int_not_equal(sqlite3_exec(store_db(s), "DELETE FROM meta", NULL, NULL, NULL),
        SQLITE_OK);
    store_free(s);
}

static void
write_bytes(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void
test_corrupted_file(void **state)
{
    struct tmp *t = *state;
    char junk[4096];
    char err[FEDRA_ERRLEN] = "";
    char want[FEDRA_ERRLEN];
    struct store *s = NULL;

    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)('a' + i % 26);
    write_bytes(t->path, junk, sizeof junk);
    snprintf(want, sizeof want, "'%s' is not a fedra store (file is not a database)", t->path);
    assert_int_equal(store_open(t->path, 0, &s, err), -1);
    assert_string_equal(err, want);
    assert_null(s);
    err[0] = 0;
    assert_int_equal(store_open(t->path, 1, &s, err), -1);
    assert_string_equal(err, want);
}

static void
test_foreign_database(void **state)
{
    struct tmp *t = *state;
    sqlite3 *db = NULL;
    struct store *s = NULL;
    char err[FEDRA_ERRLEN] = "";
    char want[FEDRA_ERRLEN];

    assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE invoices(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(t->path, 0, &s, err), -1);
    snprintf(want, sizeof want, "'%s' is not a fedra store (it has no meta table)", t->path);
    assert_string_equal(err, want);
    assert_int_equal(store_open(t->path, 1, &s, err), -1);
    assert_string_equal(err, want);
}

static void
test_schema_version_mismatch(void **state)
{
    struct tmp *t = *state;
    struct store *s = open_ok(t->path, 0);
    char err[FEDRA_ERRLEN] = "";
    char want[FEDRA_ERRLEN];
    exec_sql(s, "UPDATE meta SET value='2' WHERE key='schema_version'");
    store_free(s);
    s = NULL;
    assert_int_equal(store_open(t->path, 1, &s, err), -1);
    snprintf(want, sizeof want, "store '%s' has schema version 2 but this fedra reads version 1",
        t->path);
    assert_string_equal(err, want);
    assert_int_equal(store_open(t->path, 0, &s, err), -1);
    assert_string_equal(err, want);
}

static void
test_empty_file_readonly(void **state)
{
    struct tmp *t = *state;
    struct store *s = NULL;
    char err[FEDRA_ERRLEN] = "";
    char want[FEDRA_ERRLEN];
    write_bytes(t->path, "", 0);
    assert_int_equal(store_open(t->path, 1, &s, err), -1);
    snprintf(want, sizeof want, "'%s' is not a fedra store (it is empty)", t->path);
    assert_string_equal(err, want);
    store_free(open_ok(t->path, 0));                            /* read-write creates the schema */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_date_known_days),
        cmocka_unit_test(test_parse_date_leap_years),
        cmocka_unit_test(test_parse_date_rejects),
        cmocka_unit_test(test_format_parse_round_trip),
        T(test_schema_created),
        T(test_scan_order_and_conversion),
        T(test_scan_rejects_hand_edits),
        T(test_readonly_missing_file),
        T(test_readonly_cannot_write),
        T(test_corrupted_file),
        T(test_foreign_database),
        T(test_schema_version_mismatch),
        T(test_empty_file_readonly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
