/*
 * import - validate registry CSV extracts (data-model.md) and load them into
 * the store, all or nothing.
 *
 * Every rule of data-model.md is checked before anything is written.  Each
 * rejected value is reported as one line
 *     FILE:LINE: COLUMN: VALUE: RULE
 * (VALUE in single quotes if it starts or ends with a space, bytes that are
 * not UTF-8 as \xNN) and if any row of any file is bad nothing is imported.  Re-importing is
 * idempotent, keyed by patient_id (a row whose values are unchanged counts as
 * unchanged, a changed one as updated); with replace the whole dataset is
 * swapped in one transaction.  The snapshot hash in `meta` is recomputed at
 * the end of a successful import.
 */
#ifndef IMPORT_H
#define IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/util.h"

#define IMPORT_MAX_ERRORS 100        /* rejected values listed before "... and N more" */
#define IMPORT_MAX_FIELD 1024        /* longest field accepted (bytes) */
#define IMPORT_MAX_COLUMNS 256       /* columns in a header */

struct store;

struct import_stats {
    uint64_t read;                  /* data rows read over all files */
    uint64_t inserted;
    uint64_t updated;
    uint64_t unchanged;
    uint64_t deleted;               /* rows removed by replace */
};

struct import_opts {
    int replace;                    /* swap the whole dataset */
    FILE *progress;                 /* progress lines (\r-updated) go here; NULL = none */
    FILE *warnings;                 /* unknown columns, duplicate eupid; NULL = none */
    int32_t today;                  /* days since epoch for the "<= today" rule; 0 = real today */
};

/*
 * Import paths[0..n) into s.  On validation failure return -1, append the
 * report lines (each ending in '\n') to errors, and write a summary into err.
 */
int import_csv(struct store *s, const char *const *paths, size_t n,
    const struct import_opts *opts, struct import_stats *st,
    struct buf *errors, char *err);

/*
 * The dataset hash recomputed from the rows the store holds now (the same
 * canonical encoding import writes to meta), to detect a store changed
 * behind import's back or damaged on disk.
 */
int import_store_hash(struct store *s, char hex[65], uint64_t *rows, char *err);

#endif /* !IMPORT_H */
