/*
 * fuzz_csv - registry CSV import (node/import.h) end to end.
 *
 * import.c exposes only import_csv(paths), so each input is written to a
 * file in a tmpfs scratch directory and imported into one SQLite store
 * opened once per process.  The store is emptied after every input so that
 * runs do not depend on each other: an input that imports is imported a
 * second time with replace (exercising the unchanged/replace paths and the
 * snapshot hash over the same rows), then the patients are deleted.
 *
 * Properties asserted (abort = reported crash): a failed import reports at
 * least one line and writes nothing; a successful one has read = inserted
 * and leaves exactly that many rows, and the re-import finds them all
 * unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "node/import.h"
#include "node/store.h"
#include "tests/fuzz/fuzz_common.h"

#define FUZZ_TODAY 20089            /* 2025-01-01: imports must not depend on the date */

static struct store *st;
static char csv_path[FUZZ_PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char db[FUZZ_PATH_MAX], err[FEDRA_ERRLEN];
    (void)argc;
    (void)argv;
    fuzz_path(db, "store.db");
    fuzz_path(csv_path, "in.csv");
    fuzz_check(store_open(db, 0, &st, err), "store_open", err);
    return 0;
}

/* Patients in the store, counted in SQL (independently of meta). */
static uint64_t
rows(void)
{
    sqlite3_stmt *q = NULL;
    uint64_t n = UINT64_MAX;
    if (sqlite3_prepare_v2(store_db(st), "SELECT count(*) FROM patient", -1, &q, NULL) ==
            SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_csv: %s\n", what);
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[FEDRA_ERRLEN];
    struct buf errors = {0};
    struct import_stats s;
    struct import_opts opts = {0, NULL, NULL, FUZZ_TODAY};
    const char *paths[] = {csv_path};

    fuzz_write(csv_path, data, size);
    if (import_csv(st, paths, 1, &opts, &s, &errors, err) != 0) {
        if (errors.len == 0 && strstr(err, "nothing was imported") == NULL)
            fail("import failed without a report");
        if (rows() != 0)
            fail("failed import wrote rows");
        buf_release(&errors);
        return 0;
    }
    struct store_meta m;
    fuzz_check(store_meta_get(st, &m, err), "store_meta_get", err);
    if (s.inserted != s.read || rows() != s.read || m.rows != s.read)
        fail("rows read, inserted, stored and in meta differ");
    opts.replace = 1;
    if (import_csv(st, paths, 1, &opts, &s, &errors, err) != 0)
        fail("re-import of an accepted file failed");
    if (s.unchanged != s.read || s.inserted != 0 || s.updated != 0 || s.deleted != 0)
        fail("re-import changed rows");
    if (sqlite3_exec(store_db(st), "DELETE FROM patient", NULL, NULL, NULL) != SQLITE_OK)
        fail("cannot empty the store");
    buf_release(&errors);
    return 0;
}
