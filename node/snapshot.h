/*
 * snapshot - the node's data as in-memory columns, and the count engine.
 *
 * At start (and on reload) the node reads every patient from the store once
 * and keeps one small integer column per query variable: the level code of
 * each row (SNAP_MISSING where the value is missing), plus the survival
 * endpoints.  Queries never touch SQLite: a count is one pass over these
 * columns, with filters compiled to per-variable bitsets of allowed codes.
 *
 * Codes: closed categoricals use the vars.h level index; age_years its value;
 * diagnosis_year year - 1950; morphology/topography an index into a sorted
 * per-node dictionary.  Code order is therefore output order.
 */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "node/store.h"
#include "proto/vars.h"

#define SNAP_MISSING UINT16_MAX
#define SNAP_MAX_ROWS 50000000u         /* rows a node holds in memory */
#define SNAP_MAX_GROUP 4                /* group-by variables */
#define SNAP_MAX_TERMS 16               /* filter terms */
#define SNAP_DENSE_CELLS 65536u         /* group key spaces up to this are counted in an array */
#define SNAP_KM_TIMES 65536             /* Kaplan-Meier counting: times 0 .. this - 1 (179 years) */

/* Competing risks (cif_state): how the event-free time ends. */
#define SNAP_CIF_CENSORED 0             /* alive, no relapse */
#define SNAP_CIF_RELAPSE 1              /* event_date: the first relapse or progression */
#define SNAP_CIF_DEATH 2                /* dead with no event_date: death without relapse */

/* What snapshot_km_count counts: an endpoint's events, or (cif) its states. */
#define SNAP_KM_OS 0                    /* os_time, os_event */
#define SNAP_KM_EFS 1                   /* efs_time, efs_event */
#define SNAP_KM_CIF 2                   /* efs_time, cif_state */
#define SNAP_KM_STATES(outcome) ((outcome) == SNAP_KM_CIF ? 3 : 2)

struct snapshot {
    size_t n;                           /* rows */
    uint16_t *code[VAR_COUNT];          /* per variable: one code per row */
    uint32_t ncodes[VAR_COUNT];         /* codes per variable (level count) */
    char **dict[VAR_COUNT];             /* open variables: level text by code */
    int32_t *os_time, *efs_time;        /* days from diagnosis */
    uint8_t *os_event, *efs_event;      /* 1 = event, 0 = censored */
    uint8_t *cif_state;                 /* at efs_time: SNAP_CIF_* (relapse, or death before one) */
    int32_t os_tmax, efs_tmax;          /* largest time of the column; -1 if one is negative */
    struct store_meta meta;             /* rows, content hash, import time */
};

/* One filter term as the query states it (ops as in where.h / the wire). */
enum snap_op { SNAP_EQ, SNAP_NE, SNAP_LT, SNAP_LE, SNAP_GT, SNAP_GE, SNAP_IN };
struct snap_term {
    const char *var;
    enum snap_op op;
    const char *const *values;
    size_t nvalues;
};

/*
 * Compiled filter: rows pass if every term's variable code is allowed.
 * allow[t] has nallow[t] + 1 flags; the last is 0 and stands for every code
 * >= nallow[t] (SNAP_MISSING), so a row is tested without a branch.
 */
struct snap_filter {
    size_t nterms;
    enum var_id var[SNAP_MAX_TERMS];
    uint8_t *allow[SNAP_MAX_TERMS];     /* ncodes[var] + 1 flags */
    uint32_t nallow[SNAP_MAX_TERMS];    /* ncodes[var] */
};

/* One group of a count: the codes of its levels and its true count. */
struct snap_cell {
    uint16_t code[SNAP_MAX_GROUP];
    uint64_t n;
};

int snapshot_load(struct store *s, struct snapshot **out, char *err);
void snapshot_free(struct snapshot *snap);

/* Text of a level (open variables: the dictionary; integers: decimal into tmp). */
const char *snapshot_level(const struct snapshot *snap, enum var_id v, uint16_t code,
    char tmp[16]);

/* Code of a level text; -1 if invalid, or (open variables) absent at this node. */
long snapshot_code(const struct snapshot *snap, const struct var_def *d, const char *text);
/* The number an integer variable's code stands for (age in years, calendar year). */
double snapshot_value(enum var_id v, uint16_t code);

/*
 * Compile terms against the catalogue: unknown variables, unknown levels,
 * ordering on categoricals and non-integers are refused with a message.
 */
int snapshot_filter_compile(const struct snapshot *snap, const struct snap_term *terms,
    size_t nterms, struct snap_filter *f, char *err);
void snapshot_filter_release(struct snap_filter *f);
/* 1 if row i passes f (inline: it runs once per row in every scan). */
static inline int
snapshot_row_passes(const struct snapshot *snap, const struct snap_filter *f, size_t i)
{
    int ok = 1;
    for (size_t t = 0; t < f->nterms; t++) {
        uint32_t c = snap->code[f->var[t]][i], n = f->nallow[t];
        ok &= f->allow[t][c < n ? c : n];
    }
    return ok;
}

/*
 * Count the rows passing f, grouped by the variables by[0..nby).  Cells with
 * n >= 1 only, sorted by codes (first variable most significant).  Rows with
 * a missing value in a group-by variable are left out.  *cells is malloc'd.
 */
int snapshot_count(const struct snapshot *snap, const struct snap_filter *f,
    const enum var_id *by, size_t nby, struct snap_cell **cells, size_t *ncells, char *err);

/*
 * Kaplan-Meier counts in one pass over the columns: the rows passing f, by
 * the code of by (NULL: one stratum of every row; rows missing by are left
 * out), the time of ${outcome} (SNAP_KM_OS: overall survival, SNAP_KM_EFS and
 * SNAP_KM_CIF: event-free) rounded up to grid as km_grid_ceil does (grid 0:
 * exact times), and its state: the event (0, 1) or, for SNAP_KM_CIF,
 * cif_state (0, 1, 2).  With S = SNAP_KM_STATES(outcome), *cnt (malloc'd)
 * gets ncodes(by) * *nbins * S counters, counter [(code * *nbins + b) * S +
 * state] for the rows at time b * max(grid, 1).
 *
 * The table is dense, so this only answers where it is small: every time of
 * the column in 0 .. SNAP_KM_TIMES - 1 and strata x bins at most half the
 * rows plus SNAP_DENSE_CELLS.  Otherwise it returns 1 with nothing allocated and
 * the caller takes its general path (which also reports negative times).
 */
int snapshot_km_count(const struct snapshot *snap, const struct snap_filter *f,
    const struct var_def *by, int outcome, int32_t grid, uint32_t **cnt, size_t *nbins);

#endif /* !SNAPSHOT_H */
