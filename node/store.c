/*
 * store - see store.h.
 *
 * The whole on-disk schema lives in schema_sql below: the patient table and
 * meta are this module's; audit and seen belong to other node modules but are
 * created here so that one place says what a store file contains.  The file
 * is opened in WAL mode so that `serve` can keep reading while an import
 * writes; an import is one transaction, so readers see the old dataset or the
 * new one, never a mix.
 *
 * Values in `patient` are the validated CSV text (integers for the age).
 * store_scan() converts them to codes again and treats anything it cannot
 * convert as an error naming the row and column: the file may have been
 * edited by hand, and a node must not compute on values import would have
 * refused.
 */
#include "node/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "lib/util.h"
#include "proto/vars.h"

#define STORE_BUSY_TIMEOUT_MS 5000  /* wait this long for another writer */
#define STORE_MAX_AGE_DAYS 36500    /* data-model.md: age_at_diagnosis_days */

struct store {
    sqlite3 *db;
    char *path;
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS patient("
    "patient_id TEXT PRIMARY KEY, eupid TEXT, sex TEXT NOT NULL, "
    "age_at_diagnosis_days INTEGER NOT NULL, diagnosis_date TEXT NOT NULL, "
    "tumour_type TEXT NOT NULL, icdo3_morphology TEXT, icdo3_topography TEXT, "
    "stage TEXT NOT NULL, surgery TEXT NOT NULL, chemotherapy TEXT NOT NULL, "
    "radiotherapy TEXT NOT NULL, vital_status TEXT NOT NULL, "
    "last_contact_date TEXT NOT NULL, event_date TEXT) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, "
    "ts_ms INTEGER NOT NULL, event TEXT NOT NULL, query_id TEXT NOT NULL, "
    "signer TEXT NOT NULL, reason TEXT NOT NULL, query BLOB, response_hash BLOB, "
    "prev_hash BLOB NOT NULL CHECK(length(prev_hash)=32), "
    "entry_hash BLOB NOT NULL CHECK(length(entry_hash)=32));"
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit "
    "BEGIN SELECT RAISE(ABORT,'audit is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit "
    "BEGIN SELECT RAISE(ABORT,'audit is append-only'); END;"
    "CREATE TABLE IF NOT EXISTS seen(signer_fp BLOB NOT NULL, "
    "query_id BLOB NOT NULL, expires_ms INTEGER NOT NULL, "
    "PRIMARY KEY(signer_fp, query_id)) WITHOUT ROWID;"
    /* replay.c drops expired entries on every query: by range, not by scan */
    "CREATE INDEX IF NOT EXISTS seen_expiry ON seen(expires_ms);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES"
    "('schema_version', '1'), ('rows', '0'), ('hash', ''), ('imported_at_ms', '0');";

/* The message for a failed call on db, naming the store when the file itself is bad. */
static int
db_err(sqlite3 *db, const char *path, const char *what, char *err)
{
    int rc = sqlite3_errcode(db);
    if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
        return errf(err, "'%s' is not a fedra store (%s)", path, sqlite3_errmsg(db));
    return errf(err, "%s '%s': %s", what, path, sqlite3_errmsg(db));
}

/* 1 if the database holds a table called name, 0 if not, -1 on error. */
static int
has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    int found = -1;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1",
            -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        found = 1;
    else if (rc == SQLITE_DONE)
        found = 0;
    sqlite3_finalize(st);
    return found;
}

/* -1 if the database has no schema objects at all (a new file), 0 if it has, -2 on error. */
static int
is_empty_db(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int out = -2;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) != SQLITE_OK)
        return -2;
    if (sqlite3_step(st) == SQLITE_ROW)
        out = sqlite3_column_int64(st, 0) == 0 ? -1 : 0;
    sqlite3_finalize(st);
    return out;
}

/* Read meta.key as text into out (size n); "" if absent.  -1 on SQLite error. */
static int
meta_text(sqlite3 *db, const char *key, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    out[0] = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(out, n, "%s", v ? (const char *)v : "");
        ret = 0;
    } else if (rc == SQLITE_DONE) {
        ret = 0;
    }
    sqlite3_finalize(st);
    return ret;
}

/* Check that an existing file is a fedra store of a version we understand. */
static int
check_schema(sqlite3 *db, const char *path, char *err)
{
    char v[32];
    int t = has_table(db, "meta");
    if (t < 0)
        return db_err(db, path, "cannot read store", err);
    if (t == 0)
        return errf(err, "'%s' is not a fedra store (it has no meta table)", path);
    if (has_table(db, "patient") != 1)
        return errf(err, "'%s' is not a fedra store (it has no patient table)", path);
    if (meta_text(db, "schema_version", v, sizeof v) != 0)
        return db_err(db, path, "cannot read store", err);
    long long ver;
    if (util_parse_int(v, 1, 1000000, &ver) != 0)
        return errf(err, "'%s' is not a fedra store (bad schema_version '%s')", path, v);
    if (ver != STORE_SCHEMA_VERSION)
        return errf(err, "store '%s' has schema version %lld but this fedra reads version %d",
            path, ver, STORE_SCHEMA_VERSION);
    return 0;
}

/*
 * SQLite's quick_check (b-tree structure, page and record formats; O(size)):
 * a store damaged on disk is refused with what SQLite found, instead of
 * serving from it until a query reaches the damaged page.
 */
static int
quick_check(sqlite3 *db, const char *path, char *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK)
        return errf(err, "store '%s' is damaged (%s); restore it from a backup or re-import "
            "the registry extract", path, sqlite3_errmsg(db));
    int s = sqlite3_step(st);
    const char *r = s == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int ok = r != NULL && strcmp(r, "ok") == 0;
    if (!ok) {
        char what[201];
        snprintf(what, sizeof what, "%s", r ? r : sqlite3_errmsg(db));
        for (char *c = what; *c; c++)
            if (*c == '\n')
                *c = ' ';
        errf(err, "store '%s' is damaged (SQLite quick_check: %s); restore it from a "
            "backup or re-import the registry extract", path, what);
    }
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

int
store_open(const char *path, int readonly, struct store **out, char *err)
{
    struct store *s = NULL;
    sqlite3 *db = NULL;
    struct stat sb;
    int ret = -1;

    *out = NULL;
    if (stat(path, &sb) != 0) {
        if (readonly || errno != ENOENT) {
            errf(err, "cannot open store '%s': %s%s", path, strerror(errno),
                errno == ENOENT ? " (create it with 'fedra-node import --db FILE CSV...')" : "");
            goto done;
        }
    } else if (!S_ISREG(sb.st_mode)) {
        errf(err, "cannot open store '%s': not a regular file", path);
        goto done;
    }
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        if (db == NULL)
            errf(err, "cannot open store '%s': out of memory", path);
        else
            db_err(db, path, "cannot open store", err);
        goto done;
    }
    sqlite3_extended_result_codes(db, 0);
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);

    /* The first read of the header is where a non-database file shows itself. */
    int empty = is_empty_db(db);
    if (empty == -2) {
        db_err(db, path, "cannot read store", err);
        goto done;
    }
    /* A damaged file is refused whole, before anything is read from or added to it. */
    if (empty == 0 && quick_check(db, path, err) != 0)
        goto done;
    if (readonly) {
        if (empty == -1) {
            errf(err, "'%s' is not a fedra store (it is empty)", path);
            goto done;
        }
        if (check_schema(db, path, err) != 0)
            goto done;
    } else {
        /* Refuse to add our tables to some other application's database. */
        if (empty == 0 && check_schema(db, path, err) != 0)
            goto done;
        if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            db_err(db, path, "cannot open store", err);
            goto done;
        }
        if (sqlite3_exec(db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            db_err(db, path, "cannot create the schema in store", err);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            goto done;
        }
        if (empty == -1 && check_schema(db, path, err) != 0)
            goto done;
    }
    s = xcalloc(1, sizeof *s);
    s->db = db;
    s->path = xstrdup(path);
    db = NULL;
    *out = s;
    ret = 0;
done:
    sqlite3_close(db);
    return ret;
}

void
store_tune_for_server(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

void
store_free(struct store *s)
{
    if (s == NULL)
        return;
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

void
store_release_memory(struct store *s)
{
    sqlite3_db_release_memory(s->db);
}

int
store_set_durability(struct store *s, int full, char *err)
{
    if (sqlite3_exec(s->db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
            NULL, NULL, NULL) != SQLITE_OK)
        return db_err(s->db, s->path, "cannot set durability of store", err);
    return 0;
}

struct sqlite3 *
store_db(struct store *s)
{
    return s->db;
}

int
store_meta_get(struct store *s, struct store_meta *m, char *err)
{
    char v[80];
    long long x;

    memset(m, 0, sizeof *m);
    if (meta_text(s->db, "rows", v, sizeof v) != 0)
        return db_err(s->db, s->path, "cannot read store", err);
    if (v[0] != 0) {
        if (util_parse_int(v, 0, INT64_MAX, &x) != 0)
            return errf(err, "store '%s': meta rows is not a count ('%s')", s->path, v);
        m->rows = (uint64_t)x;
    }
    if (meta_text(s->db, "hash", v, sizeof v) != 0)
        return db_err(s->db, s->path, "cannot read store", err);
    if (v[0] != 0 && (strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64))
        return errf(err, "store '%s': meta hash is not a sha-256 hex digest", s->path);
    memcpy(m->hash, v, strlen(v) + 1);
    if (meta_text(s->db, "imported_at_ms", v, sizeof v) != 0)
        return db_err(s->db, s->path, "cannot read store", err);
    if (v[0] != 0) {
        if (util_parse_int(v, 0, INT64_MAX, &x) != 0)
            return errf(err, "store '%s': meta imported_at_ms is not a time ('%s')", s->path, v);
        m->imported_at_ms = x;
    }
    return 0;
}

/* Columns in schema order, as scan selects them. */
enum {
    SC_PATIENT_ID, SC_SEX, SC_AGE, SC_DIAGNOSIS, SC_TUMOUR, SC_MORPHOLOGY,
    SC_TOPOGRAPHY, SC_STAGE, SC_SURGERY, SC_CHEMO, SC_RADIO, SC_VITAL,
    SC_LAST_CONTACT, SC_EVENT
};

static const char scan_sql[] =
    "SELECT patient_id, sex, age_at_diagnosis_days, diagnosis_date, tumour_type, "
    "icdo3_morphology, icdo3_topography, stage, surgery, chemotherapy, radiotherapy, "
    "vital_status, last_contact_date, event_date FROM patient ORDER BY patient_id";

static const char *
col_name(int col)
{
    static const char *const names[] = {
        "patient_id", "sex", "age_at_diagnosis_days", "diagnosis_date", "tumour_type",
        "icdo3_morphology", "icdo3_topography", "stage", "surgery", "chemotherapy",
        "radiotherapy", "vital_status", "last_contact_date", "event_date",
    };
    return names[col];
}

/* Text of column col, or NULL if it is NULL. */
static const char *
col_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

static int
bad_value(sqlite3_stmt *st, const char *path, int col, char *err)
{
    const char *id = col_text(st, SC_PATIENT_ID);
    const char *v = col_text(st, col);
    return errf(err, "store '%s': patient_id '%.64s': %s has an invalid value '%.64s' "
        "(was the store edited by hand? re-import the registry extract)",
        path, id ? id : "", col_name(col), v ? v : "NULL");
}

/* Level index of a closed categorical column, or -1. */
static int
level(sqlite3_stmt *st, int col, enum var_id var)
{
    const char *v = col_text(st, col);
    return v ? vars_level_index(vars_get(var), v) : -1;
}

/* Convert the current row of st into r; -1 (with err) if a value is invalid. */
static int
scan_row(sqlite3_stmt *st, const char *path, struct store_record *r, char *err)
{
    static const struct { int col; enum var_id var; } cats[] = {
        {SC_SEX, VAR_SEX}, {SC_TUMOUR, VAR_TUMOUR_TYPE}, {SC_STAGE, VAR_STAGE},
        {SC_SURGERY, VAR_SURGERY}, {SC_CHEMO, VAR_CHEMOTHERAPY},
        {SC_RADIO, VAR_RADIOTHERAPY}, {SC_VITAL, VAR_VITAL_STATUS},
    };
    uint8_t code[sizeof cats / sizeof cats[0]];

    for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++) {
        int x = level(st, cats[i].col, cats[i].var);
        if (x < 0)
            return bad_value(st, path, cats[i].col, err);
        code[i] = (uint8_t)x;
    }
    r->sex = code[0];
    r->tumour_type = code[1];
    r->stage = code[2];
    r->surgery = code[3];
    r->chemotherapy = code[4];
    r->radiotherapy = code[5];
    r->vital_status = code[6];

    if (sqlite3_column_type(st, SC_AGE) != SQLITE_INTEGER)
        return bad_value(st, path, SC_AGE, err);
    sqlite3_int64 age = sqlite3_column_int64(st, SC_AGE);
    if (age < 0 || age > STORE_MAX_AGE_DAYS)
        return bad_value(st, path, SC_AGE, err);
    r->age_days = (int32_t)age;

    const char *t = col_text(st, SC_DIAGNOSIS);
    if (t == NULL || store_parse_date(t, &r->diagnosis_day) != 0)
        return bad_value(st, path, SC_DIAGNOSIS, err);
    t = col_text(st, SC_LAST_CONTACT);
    if (t == NULL || store_parse_date(t, &r->last_contact_day) != 0 ||
        r->last_contact_day < r->diagnosis_day)
        return bad_value(st, path, SC_LAST_CONTACT, err);
    r->event_day = STORE_MISSING_DAY;
    t = col_text(st, SC_EVENT);
    if (t != NULL && (store_parse_date(t, &r->event_day) != 0 ||
            r->event_day < r->diagnosis_day || r->event_day > r->last_contact_day))
        return bad_value(st, path, SC_EVENT, err);

    t = col_text(st, SC_MORPHOLOGY);
    if (t != NULL && !vars_valid_morphology(t))
        return bad_value(st, path, SC_MORPHOLOGY, err);
    r->morphology = t ? t : "";
    t = col_text(st, SC_TOPOGRAPHY);
    if (t != NULL && !vars_valid_topography(t))
        return bad_value(st, path, SC_TOPOGRAPHY, err);
    r->topography = t ? t : "";
    return 0;
}

int
store_scan(struct store *s, int (*cb)(const struct store_record *r, void *arg),
    void *arg, char *err)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    int rc;

    if (sqlite3_prepare_v2(s->db, scan_sql, -1, &st, NULL) != SQLITE_OK) {
        db_err(s->db, s->path, "cannot read store", err);
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_record r;
        if (scan_row(st, s->path, &r, err) != 0)
            goto done;
        if (cb(&r, arg) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_err(s->db, s->path, "cannot read store", err);
        goto done;
    }
    ret = 0;
done:
    sqlite3_finalize(st);
    return ret;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
two_digits(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

int
store_parse_date(const char *s, int32_t *day)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = two_digits(s) * 100 + two_digits(s + 2);
    int m = two_digits(s + 5);
    int d = two_digits(s + 8);
    if (m < 1 || m > 12 || d < 1)
        return -1;
    if (d > mdays[m - 1] + (m == 2 && is_leap(y)))
        return -1;
    *day = (int32_t)days_from_civil(y, m, d);
    return 0;
}

void
store_format_date(int32_t day, char out[11])
{
    int64_t z = (int64_t)day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    y += m <= 2;
    /* Only four-digit years have a YYYY-MM-DD form; STORE_MISSING_DAY lands here too. */
    if (y < 0 || y > 9999) {
        out[0] = 0;
        return;
    }
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
        (unsigned)d % 100u);
}
