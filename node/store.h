/*
 * store - the node's SQLite store: the registry records, their import, and
 * the snapshot metadata (row count, content hash, import time).
 *
 * One file holds everything the node keeps: table `patient` (one row per
 * patient, the CSV columns as validated text/integers), `meta`, and the
 * tables owned by other node modules (`audit`, `seen`), which store_open()
 * creates so that the schema is in one place.
 *
 * Records leave this module only as `struct store_record` values handed to
 * a callback inside the node process; nothing here touches the network.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;
struct store;

#define STORE_SCHEMA_VERSION 1
#define STORE_MISSING_DAY INT32_MIN /* event_days when event_date is empty */

/* One patient as the node computes on it; codes index the vars.h level tables. */
struct store_record {
    uint8_t sex;                    /* vars_sex_levels */
    uint8_t tumour_type;            /* vars_tumour_levels */
    uint8_t stage;                  /* vars_stage_levels */
    uint8_t surgery, chemotherapy, radiotherapy;  /* vars_yesno_levels */
    uint8_t vital_status;           /* vars_vital_levels */
    int32_t age_days;               /* age_at_diagnosis_days */
    int32_t diagnosis_day;          /* days since 1970-01-01 */
    int32_t last_contact_day;       /* days since 1970-01-01 */
    int32_t event_day;              /* days since 1970-01-01, or STORE_MISSING_DAY */
    const char *morphology;         /* "" if missing (borrowed, valid during the callback) */
    const char *topography;         /* "" if missing (borrowed) */
};

struct store_meta {
    uint64_t rows;                  /* patients in the store */
    char hash[65];                  /* hex SHA-256 of the canonical dataset ("" if empty) */
    int64_t imported_at_ms;         /* last successful import, 0 if never */
};

/*
 * Process-wide SQLite settings for a long-lived server, before the first
 * connection is opened (SQLite accepts them only then; later it is a no-op):
 * no bulk page-cache allocation per connection.  By default each connection
 * allocates 20 pages (~87 kB) up front that stay resident for the life of
 * the process even after store_release_memory(); the serving node's few
 * pages per query are allocated one by one instead (~150 kB less when idle).
 */
void store_tune_for_server(void);

/* Open (creating if needed) the store; read-only opens refuse to create. */
int store_open(const char *path, int readonly, struct store **out, char *err);
void store_free(struct store *s);
struct sqlite3 *store_db(struct store *s);
/*
 * Durability of later commits on this connection: full = fsync at every commit
 * (SQLite synchronous=FULL, the default); otherwise synchronous=NORMAL, where
 * the write-ahead log stays consistent but the last commits may be lost to a
 * power failure (not to a crash of the process).
 */
int store_set_durability(struct store *s, int full, char *err);
/* Give back the connection's page cache (after a full scan that will not be repeated). */
void store_release_memory(struct store *s);

int store_meta_get(struct store *s, struct store_meta *m, char *err);

/* Call cb for every patient in patient_id order; stop early if cb returns non-zero. */
int store_scan(struct store *s, int (*cb)(const struct store_record *r, void *arg),
    void *arg, char *err);

/* Civil date <-> days since 1970-01-01 (proleptic Gregorian). */
int store_parse_date(const char *s, int32_t *day);   /* strict YYYY-MM-DD, calendar-valid */
void store_format_date(int32_t day, char out[11]);

#endif /* !STORE_H */
