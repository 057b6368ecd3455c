/*
 * import - see import.h.
 *
 * Two phases, so that a bad extract never touches the store:
 *
 *  1. Read.  Every file is parsed as strict RFC 4180 (libcsv; a plain line,
 *     without quotes or CR, is split in place by split_line, which yields
 *     exactly what libcsv would) and every rule of data-model.md is checked,
 *     row by row, reporting each rejected value.  Accepted rows are copied
 *     into arena blocks (the 15 columns of a row, in schema order,
 *     NUL-terminated) plus a small fixed-size record per row: no per-row
 *     allocation.  patient_id uniqueness across all the files is checked
 *     against sorted runs (or a hash set once the ids are out of order, see
 *     struct ictx) and duplicate eupids are found with an open-addressing
 *     hash set whose slots point at rows.
 *
 *  2. Write, only if phase 1 found nothing wrong: one BEGIN IMMEDIATE
 *     transaction that upserts the rows in patient_id order (plain INSERT
 *     into an empty store), deletes the rows --replace drops, recomputes
 *     meta, and commits.  Any SQLite failure (disk full, say) rolls it all
 *     back.
 *
 *     Into an empty store the two overlap (struct writer): the transaction
 *     is opened first and a second thread inserts the rows phase 1 accepts
 *     while it goes on reading; a bad value anywhere still rolls it all
 *     back, as nothing commits before every file has been read.
 *
 * Line numbers.  libcsv does not count lines, so the input is fed to it one
 * physical line at a time: a record that starts while no record is open
 * starts on the line being fed, and a record can only end at a line feed
 * (CR is not a terminator here, see is_cr/is_lf), so the count stays exact
 * across quoted fields that span lines.
 */
#include "node/import.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <csv.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "node/store.h"
#include "proto/vars.h"

#define IMPORT_MAX_ID_CHARS 64      /* data-model.md: patient_id 1-64 characters */
#define IMPORT_MAX_EUPID_CHARS 128  /* data-model.md: eupid at most 128 characters */
#define IMPORT_MAX_AGE_DAYS 36500   /* data-model.md: age_at_diagnosis_days 0-36500 */
#define IMPORT_FIRST_DIAGNOSIS "1950-01-01"
#define IMPORT_SHOWN_CHARS 64       /* a reported value is cut after this many characters */
#define IMPORT_PROGRESS_EVERY 100000
#define IMPORT_READ_CHUNK (1 << 20)
/*
 * libcsv buffers a whole field before handing it over; its buffer is capped
 * here.  A field up to this size is reported like any other bad value; a
 * longer one (typically an unclosed quote swallowing the file) stops the
 * parse of that file.
 */
#define IMPORT_PARSE_BUFFER (2 * IMPORT_MAX_FIELD + 16)
#define IMPORT_HASH_FLUSH 65536     /* bytes of canonical rows hashed at a time */
#define IMPORT_CACHE_KIB (-262144)  /* page cache while writing (negative: KiB, as SQLite takes it) */

#define IMPORT_PUBLISH_EVERY 4096    /* rows handed to the writer thread at a time */
#define IMPORT_MAX_RUNS 16           /* sorted runs of patient_ids before a hash set is used */
#define IMPORT_ROW_BLOCK 65536       /* rows per block of struct row */
#define IMPORT_ROW_BLOCKS 65536      /* blocks: at most 2^32 rows in one import */
#define IMPORT_ARENA_BLOCK (8u << 20) /* bytes per arena block (a row never straddles two) */

/* A block of the arena; rows point into data[] and never move. */
struct ablock {
    struct ablock *next;            /* the block filled before this one */
    size_t used, cap;
    char data[];
};

/* The registry columns, in schema (and hash) order. */
enum col {
    COL_PATIENT_ID, COL_EUPID, COL_SEX, COL_AGE, COL_DIAGNOSIS, COL_TUMOUR,
    COL_MORPHOLOGY, COL_TOPOGRAPHY, COL_STAGE, COL_SURGERY, COL_CHEMO,
    COL_RADIO, COL_VITAL, COL_LAST_CONTACT, COL_EVENT, NCOL
};

static const struct column {
    const char *name;
    int required;
    int var;                        /* closed categorical: its vars.h variable, else -1 */
} columns[NCOL] = {
    {"patient_id", 1, -1},
    {"eupid", 0, -1},
    {"sex", 1, VAR_SEX},
    {"age_at_diagnosis_days", 1, -1},
    {"diagnosis_date", 1, -1},
    {"tumour_type", 1, VAR_TUMOUR_TYPE},
    {"icdo3_morphology", 0, -1},
    {"icdo3_topography", 0, -1},
    {"stage", 1, VAR_STAGE},
    {"surgery", 1, VAR_SURGERY},
    {"chemotherapy", 1, VAR_CHEMOTHERAPY},
    {"radiotherapy", 1, VAR_RADIOTHERAPY},
    {"vital_status", 1, VAR_VITAL_STATUS},
    {"last_contact_date", 1, -1},
    {"event_date", 0, -1},
};

/*
 * One accepted row: its columns live in an arena block at p, in schema
 * order, each followed by a NUL.
 */
struct row {
    const char *p;
    uint64_t line;                  /* physical line where the record starts */
    uint32_t file;                  /* index into the paths */
    int32_t age;
    uint16_t len[NCOL];             /* fields are at most IMPORT_PARSE_BUFFER bytes */
};

/*
 * Open-addressing set of rows keyed by one column.  A slot keeps the key's
 * hash next to the row index, so a probe touches the row (and the arena)
 * only when the hashes match.
 */
struct slot {
    uint64_t hash;
    size_t row;                     /* row index + 1; 0 = empty */
};

struct rowset {
    struct slot *slot;
    size_t cap;                     /* power of two, at least twice n */
    size_t n;
    enum col key;
};

struct writer;

struct ictx {
    const struct import_opts *opts;
    const char *const *paths;
    int32_t today;
    struct buf *errors;
    uint64_t nerrors;
    uint64_t nwarnings;
    uint64_t read;

    /* the file being read */
    uint32_t file;
    uint64_t line;                  /* physical line being fed, 1-based */
    uint64_t row_line;              /* line where the open record started */
    int row_open;
    int header_done;
    int header_ok;
    size_t ncols;                   /* fields in the header */
    int colidx[NCOL];               /* header field of each column, -1 if absent */
    struct buf hdr;                 /* header names, NUL-terminated, at hoff[] */
    size_t hoff[IMPORT_MAX_COLUMNS];

    /*
     * The record being read: field i is fval[i] (flen[i] bytes, then a NUL).
     * A line split in place (split_line) points into the read chunk; a
     * record parsed by libcsv is copied into rec first (at foff[]) and fval[]
     * is set once the record is complete, as rec may move while it grows.
     */
    struct buf rec;
    size_t foff[IMPORT_MAX_COLUMNS];
    const char *fval[IMPORT_MAX_COLUMNS];
    size_t flen[IMPORT_MAX_COLUMNS];
    int ascii;                      /* the record is known to be all ASCII (so valid UTF-8) */
    size_t nfields;                 /* fields seen, possibly more than stored */
    long rule[IMPORT_MAX_COLUMNS];  /* offset in rules of each field's broken rule, or -1 */
    struct buf rules;

    /*
     * Everything accepted so far, in blocks that never move once written
     * (no realloc), so that the writer thread can read rows while more are
     * added: row i is rowblk[i / IMPORT_ROW_BLOCK][i % IMPORT_ROW_BLOCK].
     */
    struct ablock *arena;           /* the block being filled, linked to the older ones */
    struct row **rowblk;            /* IMPORT_ROW_BLOCKS entries */
    size_t nrows;
    /*
     * patient_id uniqueness.  The usual extract comes in increasing
     * patient_id order, or nearly (IM-999999 sorts after IM-1000000): the
     * kept rows are then a few runs in strictly increasing order, starting
     * at rows run[0..nruns), and a duplicate is either the row just before or
     * found by binary search in an earlier run; ids stays empty.  Past
     * IMPORT_MAX_RUNS runs, ids is built from the rows kept so far
     * (ids_index) and the hash set takes over (ids_unsorted).
     */
    size_t run[IMPORT_MAX_RUNS];
    size_t nruns;
    int ids_unsorted;
    struct rowset ids, eupids;
    int32_t first_day;              /* IMPORT_FIRST_DIAGNOSIS in days */

    struct writer *writer;          /* writing while reading (an empty store), else NULL */
    size_t published;               /* rows handed to the writer */
};

/* ---- small helpers ---- */

static const char *
plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static struct row *
row_at(const struct ictx *c, size_t i)
{
    return &c->rowblk[i / IMPORT_ROW_BLOCK][i % IMPORT_ROW_BLOCK];
}

static const char *
row_field(const struct ictx *c, const struct row *r, enum col k)
{
    (void)c;
    const char *p = r->p;
    for (int i = 0; i < (int)k; i++)
        p += r->len[i] + 1;
    return p;
}

/* Length of the UTF-8 sequence starting at s (n bytes left), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    size_t len;
    uint32_t cp, min;

    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2; cp = b & 0x1f; min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3; cp = b & 0x0f; min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4; cp = b & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/*
 * How far s[0..n) is valid UTF-8: n if all of it, else the offset of the
 * first byte that does not belong; *chars gets the characters before that.
 * An ASCII byte costs one comparison, only bytes >= 0x80 go to utf8_seq.
 */
static size_t
utf8_valid(const char *s, size_t n, long *chars)
{
    const unsigned char *u = (const unsigned char *)s;
    long ch = 0;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
        } else {
            size_t k = utf8_seq(u + i, n - i);
            if (k == 0)
                break;
            i += k;
        }
        ch++;
    }
    *chars = ch;
    return i;
}

/*
 * The rule broken by s[0..n) if it is not valid UTF-8 (into msg), naming the
 * offending byte and where it is; 0 if it is valid UTF-8.
 */
static int
utf8_rule(const char *s, size_t n, char msg[FEDRA_ERRLEN])
{
    long chars;
    size_t bad = utf8_valid(s, n, &chars);
    if (bad == n)
        return 0;
    snprintf(msg, FEDRA_ERRLEN, "not valid UTF-8: byte 0x%02x at character %ld "
        "(save the file as UTF-8)", (unsigned char)s[bad], chars + 1);
    return -1;
}

/* Whether s[0..n) is all ASCII, 8 bytes at a time. */
static int
is_ascii(const char *s, size_t n)
{
    uint64_t high = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        high |= w;
    }
    for (; i < n; i++)
        high |= (unsigned char)s[i];
    return (high & 0x8080808080808080ull) == 0;
}

static int
has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

/*
 * Append v as a report shows it: at most IMPORT_SHOWN_CHARS characters then
 * "...", control characters and bytes that are not UTF-8 escaped.
 */
static void
put_value(struct buf *b, const char *v, size_t n)
{
    const unsigned char *u = (const unsigned char *)v;
    size_t i = 0;
    for (int shown = 0; i < n && shown < IMPORT_SHOWN_CHARS; shown++) {
        size_t k = utf8_seq(u + i, n - i);
        if (k == 1 && u[i] >= 0x20 && u[i] != 0x7f) {
            buf_append(b, u + i, 1);
        } else if (k > 1) {
            buf_append(b, u + i, k);
        } else {
            k = 1;
            if (u[i] == '\n')
                buf_puts(b, "\\n");
            else if (u[i] == '\r')
                buf_puts(b, "\\r");
            else if (u[i] == '\t')
                buf_puts(b, "\\t");
            else
                buf_printf(b, "\\x%02x", u[i]);
        }
        i += k;
    }
    if (i < n)
        buf_puts(b, "...");
}

/* Start a report line "FILE:LINE: " (or "FILE: " for line 0); NULL once over the cap. */
static struct buf *
report_start(struct ictx *c, uint64_t line)
{
    c->nerrors++;
    if (c->nerrors > IMPORT_MAX_ERRORS)
        return NULL;
    if (line)
        buf_printf(c->errors, "%s:%llu: ", c->paths[c->file], (unsigned long long)line);
    else
        buf_printf(c->errors, "%s: ", c->paths[c->file]);
    return c->errors;
}

/* Report a problem that is not about one value: "FILE:LINE: MESSAGE". */
static void __attribute__((format(printf, 3, 4)))
report_line(struct ictx *c, uint64_t line, const char *fmt, ...)
{
    struct buf *b = report_start(c, line);
    if (b == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    char msg[FEDRA_ERRLEN];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    buf_printf(b, "%s\n", msg);
}

/*
 * put_value, in single quotes if v starts or ends with a space: a report
 * line shows " stage_4" as ' stage_4', so that the user sees the space.
 */
static void
put_quoted_if_spaced(struct buf *b, const char *v, size_t n)
{
    int quote = n > 0 && (v[0] == ' ' || v[n - 1] == ' ');
    if (quote)
        buf_puts(b, "'");
    put_value(b, v, n);
    if (quote)
        buf_puts(b, "'");
}

/* Report a rejected value: "FILE:LINE: COLUMN: VALUE: RULE". */
static void __attribute__((format(printf, 6, 7)))
report_value(struct ictx *c, uint64_t line, const char *column, const char *v, size_t n,
    const char *fmt, ...)
{
    struct buf *b = report_start(c, line);
    if (b == NULL)
        return;
    put_quoted_if_spaced(b, column, strlen(column));
    buf_puts(b, ": ");
    put_quoted_if_spaced(b, v, n);
    buf_puts(b, ": ");
    va_list ap;
    va_start(ap, fmt);
    char msg[FEDRA_ERRLEN];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    buf_printf(b, "%s\n", msg);
}

/* Warnings go to opts->warnings, capped like errors. */
static void __attribute__((format(printf, 2, 3)))
warn(struct ictx *c, const char *fmt, ...)
{
    c->nwarnings++;
    if (c->opts->warnings == NULL || c->nwarnings > IMPORT_MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->opts->warnings, fmt, ap);
    va_end(ap);
}

/* ---- row sets ---- */

/*
 * Multiply-xorshift over 8-byte words (the tail zero-padded, the length mixed
 * in): a serial byte-at-a-time hash cost as much as the probe on keys of
 * 40 bytes.  The final mix spreads every input bit into the low bits that
 * index the table.
 */
static uint64_t
hash_str(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, s + i, n - i);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Slot holding the row whose key is s (hash h), or the empty slot where it would go. */
static size_t
set_slot(const struct ictx *c, const struct rowset *t, const char *s, size_t n, uint64_t h)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)h & mask;
    while (t->slot[i].row != 0) {
        if (t->slot[i].hash == h) {
            const struct row *r = row_at(c, t->slot[i].row - 1);
            if (r->len[t->key] == n && memcmp(row_field(c, r, t->key), s, n) == 0)
                break;
        }
        i = (i + 1) & mask;
    }
    return i;
}

/* The row whose key is s, or NULL. */
static const struct row *
set_find(const struct ictx *c, const struct rowset *t, const char *s, size_t n)
{
    if (t->cap == 0)
        return NULL;
    size_t i = set_slot(c, t, s, n, hash_str(s, n));
    return t->slot[i].row ? row_at(c, t->slot[i].row - 1) : NULL;
}

/*
 * Add row index ri to t unless a row with the same key is there already;
 * return that row, or NULL if ri was added.  One probe does both.
 */
static const struct row *
set_put_hashed(struct ictx *c, struct rowset *t, size_t ri, uint64_t h);

static const struct row *
set_put(struct ictx *c, struct rowset *t, size_t ri)
{
    const struct row *r = row_at(c, ri);
    return set_put_hashed(c, t, ri, hash_str(row_field(c, r, t->key), r->len[t->key]));
}

/* set_put with the hash of the key (hash_str) already computed. */
static const struct row *
set_put_hashed(struct ictx *c, struct rowset *t, size_t ri, uint64_t h)
{
    if (2 * (t->n + 1) > t->cap) {
        size_t ncap = t->cap ? 2 * t->cap : 1024;
        struct slot *old = t->slot;
        size_t ocap = t->cap;
        t->slot = xcalloc(ncap, sizeof *t->slot);
        t->cap = ncap;
        for (size_t i = 0; i < ocap; i++) {
            if (old[i].row == 0)
                continue;
            size_t j = (size_t)old[i].hash & (ncap - 1);
            while (t->slot[j].row != 0)
                j = (j + 1) & (ncap - 1);
            t->slot[j] = old[i];
        }
        free(old);
    }
    const struct row *r = row_at(c, ri);
    const char *key = row_field(c, r, t->key);
    size_t i = set_slot(c, t, key, r->len[t->key], h);
    if (t->slot[i].row != 0)
        return row_at(c, t->slot[i].row - 1);
    t->slot[i].hash = h;
    t->slot[i].row = ri + 1;
    t->n++;
    return NULL;
}

/* Put rows [ids.n, upto) into c->ids (the rows kept while they came in order). */
static void
ids_index(struct ictx *c, size_t upto)
{
    for (size_t i = c->ids.n; i < upto; i++)
        set_put(c, &c->ids, i);
}

/* memcmp order of the patient_ids of rows a and b (SQLite's BINARY collation). */
static int
cmp_ids(const struct ictx *c, const struct row *a, const struct row *b)
{
    size_t n = a->len[0] < b->len[0] ? a->len[0] : b->len[0];
    (void)c;
    int d = memcmp(a->p, b->p, n);
    if (d != 0)
        return d;
    return (a->len[0] > b->len[0]) - (a->len[0] < b->len[0]);
}

/* The row of run j (rows [run[j], end)) with the patient_id of row r, or NULL. */
static const struct row *
run_find(const struct ictx *c, size_t j, size_t end, const struct row *r)
{
    size_t lo = c->run[j], hi = end;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = cmp_ids(c, row_at(c, mid), r);
        if (d == 0)
            return row_at(c, mid);
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/*
 * The kept row with the same patient_id as the just-kept row ri, or NULL
 * (and ri is then part of the sorted runs or of the set).
 */
static const struct row *
find_duplicate_id(struct ictx *c, size_t ri)
{
    if (!c->ids_unsorted) {
        if (ri == 0) {
            c->run[0] = 0;
            c->nruns = 1;
            return NULL;
        }
        const struct row *r = row_at(c, ri);
        int d = cmp_ids(c, row_at(c, ri - 1), r);
        if (d == 0)
            return row_at(c, ri - 1);
        if (d < 0 || c->nruns < IMPORT_MAX_RUNS) {
            /* ri continues the last run (d < 0) or starts the next one: look in the others. */
            size_t done = d < 0 ? c->nruns - 1 : c->nruns;
            for (size_t j = 0; j < done; j++) {
                const struct row *dup = run_find(c, j, j + 1 < c->nruns ? c->run[j + 1] : ri, r);
                if (dup != NULL)
                    return dup;
            }
            if (d > 0)
                c->run[c->nruns++] = ri;
            return NULL;
        }
        c->ids_unsorted = 1;
        ids_index(c, ri);
    }
    return set_put(c, &c->ids, ri);
}

/* ---- validation ---- */

/* Today's local date in days since the epoch. */
static int32_t
local_today(void)
{
    time_t now = time(NULL);
    struct tm tm;
    char s[16];
    int32_t day = 0;
    if (localtime_r(&now, &tm) != NULL &&
        strftime(s, sizeof s, "%Y-%m-%d", &tm) == 10 && store_parse_date(s, &day) == 0)
        return day;
    return (int32_t)(now / 86400);
}

/* The header field index of column k, the column's name as the file spells it. */
static const char *
col_label(const struct ictx *c, size_t field)
{
    return (const char *)c->hdr.p + c->hoff[field];
}

static void
process_header(struct ictx *c)
{
    uint64_t line = c->row_line;
    uint64_t before = c->nerrors;

    c->header_done = 1;
    c->ncols = c->nfields;
    for (int k = 0; k < NCOL; k++)
        c->colidx[k] = -1;
    if (c->nfields > IMPORT_MAX_COLUMNS) {
        report_line(c, line, "the header has %zu columns, more than the limit of %d",
            c->nfields, IMPORT_MAX_COLUMNS);
        return;
    }
    c->hdr.len = 0;
    for (size_t i = 0; i < c->nfields; i++) {
        c->hoff[i] = c->hdr.len;
        buf_append(&c->hdr, c->fval[i], c->flen[i] + 1);
    }
    for (size_t i = 0; i < c->nfields; i++) {
        const char *name = col_label(c, i);
        size_t n = c->flen[i];
        char rule[FEDRA_ERRLEN];
        if (utf8_rule(name, n, rule) != 0) {
            report_value(c, line, "header", name, n, "%s", rule);
            continue;
        }
        size_t j;
        for (j = 0; j < i; j++)
            if (c->flen[j] == n && memcmp(col_label(c, j), name, n) == 0)
                break;
        if (j < i) {
            struct buf q = {0};
            put_value(&q, name, n);
            report_line(c, line, "column '%s' appears twice in the header (columns %zu and %zu)",
                (const char *)q.p, j + 1, i + 1);
            buf_release(&q);
            continue;
        }
        int k;
        for (k = 0; k < NCOL; k++)
            if (strcmp(columns[k].name, name) == 0 && strlen(name) == n)
                break;
        if (k < NCOL) {
            c->colidx[k] = (int)i;
        } else if (c->opts->warnings != NULL) {
            struct buf q = {0};
            put_value(&q, name, n);
            warn(c, "%s:%llu: warning: unknown column '%s' is ignored\n",
                c->paths[c->file], (unsigned long long)line, (const char *)q.p);
            buf_release(&q);
        }
    }
    for (int k = 0; k < NCOL; k++)
        if (columns[k].required && c->colidx[k] < 0)
            report_line(c, line, "required column '%s' is missing from the header",
                columns[k].name);
    c->header_ok = c->nerrors == before;
}

/*
 * A record's problems are collected first, at most one rule per field (the
 * first broken), and reported in the file's column order.
 */
static void __attribute__((format(printf, 3, 4)))
fail_field(struct ictx *c, size_t field, const char *fmt, ...)
{
    if (c->rule[field] >= 0)
        return;
    char msg[FEDRA_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->rule[field] = (long)c->rules.len;
    buf_append(&c->rules, msg, strlen(msg) + 1);
}

#define fail(c, k, ...) fail_field((c), (size_t)(c)->colidx[(k)], __VA_ARGS__)

/* Whether column k is present in this file and has already broken a rule. */
static int
is_bad(const struct ictx *c, enum col k)
{
    return c->colidx[k] >= 0 && c->rule[c->colidx[k]] >= 0;
}

/* Whole number of days, digits only; -1 if not one or out of range. */
static int
parse_age(const char *v, size_t n, int32_t *age)
{
    long x = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
        if (x > IMPORT_MAX_AGE_DAYS)
            return -1;
    }
    *age = (int32_t)x;
    return 0;
}

static void
fail_levels(struct ictx *c, enum col k)
{
    const struct var_def *d = vars_get((enum var_id)columns[k].var);
    if (k == COL_TUMOUR) {
        fail(c, k, "unknown tumour_type code (see 'fedra-node import --help' for the %zu codes)",
            d->nlevels);
        return;
    }
    struct buf list = {0};
    for (size_t i = 0; i < d->nlevels; i++)
        buf_printf(&list, "%s%s", i ? ", " : "", d->levels[i]);
    fail(c, k, "must be one of %s", (const char *)list.p);
    buf_release(&list);
}

/* Parse date column k (present, not empty, not yet bad); 0 if valid. */
static int
date_value(struct ictx *c, enum col k, const char *v, size_t n, int32_t *day)
{
    if (n != 10 || store_parse_date(v, day) != 0) {
        fail(c, k, "not a valid date (YYYY-MM-DD)");
        return -1;
    }
    return 0;
}

/* A date out of order: "WHAT (the date it is compared with)". */
static void
fail_date(struct ictx *c, enum col k, const char *what, int32_t day)
{
    char d[11];
    store_format_date(day, d);
    fail(c, k, "%s (%s)", what, d);
}

/*
 * Whether v is a level of the closed categorical d: vars_level_index()
 * without a strcmp call per level that cannot match (first bytes differ).
 */
static int
is_level(const struct var_def *d, const char *v)
{
    for (size_t i = 0; i < d->nlevels; i++)
        if (d->levels[i][0] == v[0] && strcmp(d->levels[i], v) == 0)
            return 1;
    return 0;
}

/* Remember an accepted row: copy its columns into the arena in schema order. */
static size_t
keep_row(struct ictx *c, const char *const *val, const size_t *len, int32_t age)
{
    size_t b = c->nrows / IMPORT_ROW_BLOCK;
    if (b == IMPORT_ROW_BLOCKS)
        return SIZE_MAX;
    if (c->rowblk[b] == NULL)
        c->rowblk[b] = xreallocarray(NULL, IMPORT_ROW_BLOCK, sizeof **c->rowblk);
    struct row *r = row_at(c, c->nrows);
    size_t total = NCOL;
    for (int k = 0; k < NCOL; k++)
        total += len[k];
    struct ablock *a = c->arena;
    if (a == NULL || a->cap - a->used < total) {
        size_t cap = total > IMPORT_ARENA_BLOCK ? total : IMPORT_ARENA_BLOCK;
        a = xmalloc(sizeof *a + cap);
        a->next = c->arena;
        a->used = 0;
        a->cap = cap;
        c->arena = a;
    }
    char *p = a->data + a->used;
    a->used += total;
    r->p = p;
    r->line = c->row_line;
    r->file = c->file;
    r->age = age;
    for (int k = 0; k < NCOL; k++) {
        r->len[k] = (uint16_t)len[k];
        memcpy(p, val[k], len[k]);
        p[len[k]] = 0;
        p += len[k] + 1;
    }
    return c->nrows++;
}

/* Forget the row kept last (a duplicate): it is the last one in the newest arena block. */
static void
unkeep_row(struct ictx *c)
{
    const struct row *r = row_at(c, c->nrows - 1);
    c->arena->used = (size_t)(r->p - c->arena->data);
    c->nrows--;
}

/* Check the values of one record against data-model.md, filling c->rule[]. */
static void
check_record(struct ictx *c, const char *const *val, const size_t *len, int32_t *age)
{
    /* Every field, known column or not: bounded and UTF-8 (ASCII is). */
    char rule[FEDRA_ERRLEN];
    for (size_t i = 0; i < c->nfields; i++) {
        if (c->flen[i] > IMPORT_MAX_FIELD)
            fail_field(c, i, "longer than %d bytes", IMPORT_MAX_FIELD);
        else if (!c->ascii && utf8_rule(c->fval[i], c->flen[i], rule) != 0)
            fail_field(c, i, "%s", rule);
    }
    for (int k = 0; k < NCOL; k++)
        if (c->colidx[k] >= 0 && columns[k].required && len[k] == 0)
            fail(c, k, "required value is missing");

    /* Free text: length in characters, and no control characters (the hash separators are). */
    static const struct { enum col k; long max; } texts[] = {
        {COL_PATIENT_ID, IMPORT_MAX_ID_CHARS}, {COL_EUPID, IMPORT_MAX_EUPID_CHARS},
    };
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        enum col k = texts[t].k;
        if (len[k] == 0 || is_bad(c, k))
            continue;
        long chars = (long)len[k];
        if (!c->ascii)
            utf8_valid(val[k], len[k], &chars);     /* valid: not bad (is_bad) */
        if (chars > texts[t].max)
            fail(c, k, "longer than %ld characters", texts[t].max);
        else if (has_control(val[k], len[k]))
            fail(c, k, "contains a control character");
    }

    for (int k = 0; k < NCOL; k++)
        if (columns[k].var >= 0 && !is_bad(c, (enum col)k) &&
            !is_level(vars_get((enum var_id)columns[k].var), val[k]))
            fail_levels(c, (enum col)k);
    if (!is_bad(c, COL_AGE) && parse_age(val[COL_AGE], len[COL_AGE], age) != 0)
        fail(c, COL_AGE, "must be a whole number of days from 0 to %d", IMPORT_MAX_AGE_DAYS);
    if (len[COL_MORPHOLOGY] && !is_bad(c, COL_MORPHOLOGY) &&
        !vars_valid_morphology(val[COL_MORPHOLOGY]))
        fail(c, COL_MORPHOLOGY, "must be NNNN/B with behaviour B in 0-3, 6 or 9 (e.g. 8370/3)");
    if (len[COL_TOPOGRAPHY] && !is_bad(c, COL_TOPOGRAPHY) &&
        !vars_valid_topography(val[COL_TOPOGRAPHY]))
        fail(c, COL_TOPOGRAPHY, "must be CNN or CNN.N (e.g. C74.0)");

    /* Dates, then the order between them (only between dates that are valid). */
    int32_t first = c->first_day, dx, last, ev;
    int dx_ok = !is_bad(c, COL_DIAGNOSIS) &&
        date_value(c, COL_DIAGNOSIS, val[COL_DIAGNOSIS], len[COL_DIAGNOSIS], &dx) == 0;
    if (dx_ok && dx < first) {
        fail(c, COL_DIAGNOSIS, "before %s", IMPORT_FIRST_DIAGNOSIS);
        dx_ok = 0;
    } else if (dx_ok && dx > c->today) {
        fail_date(c, COL_DIAGNOSIS, "after today", c->today);
        dx_ok = 0;
    }
    int last_ok = !is_bad(c, COL_LAST_CONTACT) &&
        date_value(c, COL_LAST_CONTACT, val[COL_LAST_CONTACT], len[COL_LAST_CONTACT], &last) == 0;
    if (last_ok && dx_ok && last < dx) {
        fail_date(c, COL_LAST_CONTACT, "before diagnosis_date", dx);
        last_ok = 0;
    } else if (last_ok && last > c->today) {
        fail_date(c, COL_LAST_CONTACT, "after today", c->today);
        last_ok = 0;
    }
    if (len[COL_EVENT] && !is_bad(c, COL_EVENT) &&
        date_value(c, COL_EVENT, val[COL_EVENT], len[COL_EVENT], &ev) == 0) {
        if (dx_ok && ev < dx)
            fail_date(c, COL_EVENT, "before diagnosis_date", dx);
        else if (last_ok && ev > last)
            fail_date(c, COL_EVENT, "after last_contact_date", last);
    }
}

static void
process_record(struct ictx *c)
{
    const char *val[NCOL];
    size_t len[NCOL];
    int32_t age = 0;
    uint64_t line = c->row_line;

    c->read++;
    if (c->opts->progress != NULL && c->read % IMPORT_PROGRESS_EVERY == 0) {
        fprintf(c->opts->progress, "\rimport: %llu rows read", (unsigned long long)c->read);
        fflush(c->opts->progress);
    }
    if (!c->header_ok)
        return;
    if (c->nfields != c->ncols) {
        report_line(c, line, "the row has %zu %s but the header has %zu", c->nfields,
            plural(c->nfields, "field", "fields"), c->ncols);
        return;
    }
    for (size_t i = 0; i < c->nfields; i++)
        c->rule[i] = -1;
    c->rules.len = 0;
    for (int k = 0; k < NCOL; k++) {
        int i = c->colidx[k];
        val[k] = i < 0 ? "" : c->fval[i];
        len[k] = i < 0 ? 0 : c->flen[i];
    }
    /*
     * The eupid set is far bigger than the caches and its slot is a random
     * one: start loading it now, so that the miss overlaps the checks.
     */
    uint64_t eh = 0;
    if (len[COL_EUPID] > 0) {
        eh = hash_str(val[COL_EUPID], len[COL_EUPID]);
        if (c->eupids.cap > 0)
            __builtin_prefetch(&c->eupids.slot[(size_t)eh & (c->eupids.cap - 1)]);
    }
    check_record(c, val, len, &age);

    /*
     * patient_id is unique across every file of the import.  The row is
     * kept if its patient_id is usable, even when another value is bad, so
     * that a later duplicate is still found; nothing is written anyway once
     * any error was reported.
     */
    size_t ri = SIZE_MAX;
    if (len[COL_PATIENT_ID] > 0 && !is_bad(c, COL_PATIENT_ID)) {
        ri = keep_row(c, val, len, age);
        const struct row *dup = ri == SIZE_MAX ? NULL : find_duplicate_id(c, ri);
        if (ri == SIZE_MAX) {
            fail(c, COL_PATIENT_ID, "more than %llu rows in one import",
                (unsigned long long)IMPORT_ROW_BLOCK * IMPORT_ROW_BLOCKS);
        } else if (dup != NULL) {
            if (dup->file == c->file)
                fail(c, COL_PATIENT_ID, "duplicate patient_id (first on line %llu)",
                    (unsigned long long)dup->line);
            else
                fail(c, COL_PATIENT_ID, "duplicate patient_id (first in %s line %llu)",
                    c->paths[dup->file], (unsigned long long)dup->line);
            unkeep_row(c);
            ri = SIZE_MAX;
        }
    }
    for (size_t i = 0; i < c->nfields; i++)
        if (c->rule[i] >= 0)
            report_value(c, line, col_label(c, i), c->fval[i],
                c->flen[i], "%s", (const char *)c->rules.p + c->rule[i]);
    if (ri == SIZE_MAX || len[COL_EUPID] == 0 || is_bad(c, COL_EUPID))
        return;
    const struct row *other = set_put_hashed(c, &c->eupids, ri, eh);
    if (other != NULL && c->opts->warnings != NULL) {
        struct buf q = {0}, o = {0};
        put_value(&q, val[COL_EUPID], len[COL_EUPID]);
        put_value(&o, row_field(c, other, COL_PATIENT_ID), other->len[COL_PATIENT_ID]);
        warn(c, "%s:%llu: warning: eupid '%s' is also the eupid of patient_id '%s' (%s line %llu): "
            "possible duplicate registration\n", c->paths[c->file], (unsigned long long)line,
            (const char *)q.p, (const char *)o.p, c->paths[other->file],
            (unsigned long long)other->line);
        buf_release(&q);
        buf_release(&o);
    }
}

/* ---- libcsv plumbing ---- */

static void
on_field(void *s, size_t n, void *arg)
{
    struct ictx *c = arg;
    size_t i = c->nfields++;
    size_t max = c->header_done ? c->ncols : IMPORT_MAX_COLUMNS;
    if (i >= max || i >= IMPORT_MAX_COLUMNS)
        return;                     /* counted, not kept: the row is rejected for its width */
    c->foff[i] = c->rec.len;
    c->flen[i] = n;
    buf_append(&c->rec, s, n + 1);
}

static void writer_publish(struct ictx *c, int force);

/* A complete record is in fval[]/flen[]: the header, or a data row. */
static void
end_record(struct ictx *c)
{
    if (!c->header_done) {
        process_header(c);
    } else {
        process_record(c);
        writer_publish(c, 0);
    }
    c->nfields = 0;
    c->rec.len = 0;
    c->row_open = 0;
}

static void
on_row(int term, void *arg)
{
    struct ictx *c = arg;
    (void)term;
    size_t max = c->header_done ? c->ncols : IMPORT_MAX_COLUMNS;
    if (max > IMPORT_MAX_COLUMNS)
        max = IMPORT_MAX_COLUMNS;
    for (size_t i = 0; i < c->nfields && i < max; i++)
        c->fval[i] = (const char *)c->rec.p + c->foff[i];
    c->ascii = is_ascii((const char *)c->rec.p, c->rec.len);
    end_record(c);
}

/* CR only ever appears before LF or inside quotes in a valid file: trim it like a space. */
static int
is_cr(unsigned char ch)
{
    return ch == '\r';
}

static int
is_lf(unsigned char ch)
{
    return ch == '\n';
}

static void *
capped_realloc(void *p, size_t n)
{
    return n > IMPORT_PARSE_BUFFER ? NULL : realloc(p, n);
}

/* Report why libcsv stopped; the rest of the file is not read. */
static void
report_parse_error(struct ictx *c, struct csv_parser *p)
{
    if (csv_error(p) == CSV_ENOMEM || csv_error(p) == CSV_ETOOBIG) {
        const char *label = "header";
        if (c->header_done)
            label = c->nfields < c->ncols ? col_label(c, c->nfields) : "(extra field)";
        report_value(c, c->row_line, label, (const char *)p->entry_buf, p->entry_pos,
            "longer than %d bytes (an unclosed quote?); the rest of the file was not checked",
            IMPORT_MAX_FIELD);
        return;
    }
    report_line(c, c->line, "malformed CSV: a quote inside an unquoted field or text after "
        "a closing quote; the rest of the file was not checked");
}

/*
 * The fast path, for the usual line: complete (s[n] is its LF), no quote, no
 * CR, at most IMPORT_MAX_COLUMNS fields of at most IMPORT_MAX_FIELD bytes,
 * and no record open.  libcsv, set up as in read_file, would hand over
 * exactly its comma-separated pieces (an empty line: no record at all), so
 * the line is split in place instead, each separator becoming the NUL after
 * its field, and the record goes to the same end_record.  Any other line is
 * left untouched (-1) for libcsv, which then also reports what is wrong.
 */
static int
split_line(struct ictx *c, char *s, size_t n)
{
    static const unsigned char special[256] = {[','] = 1, ['\n'] = 1, ['"'] = 1, ['\r'] = 1};
    size_t cut[IMPORT_MAX_COLUMNS];  /* where each field ends */
    size_t nf = 0, start = 0, i = 0;

    if (n == 0)
        return 0;
    for (;;) {
        while (!special[(unsigned char)s[i]])
            i++;
        if (s[i] == '"' || s[i] == '\r')
            return -1;
        if (i - start > IMPORT_MAX_FIELD || nf == IMPORT_MAX_COLUMNS)
            return -1;
        cut[nf++] = i;
        if (i == n)
            break;                  /* s[n] is the LF: the only one in the line */
        start = ++i;
    }
    size_t max = c->header_done ? c->ncols : IMPORT_MAX_COLUMNS;
    start = 0;
    for (size_t f = 0; f < nf; f++) {
        s[cut[f]] = 0;
        if (f < max) {
            c->fval[f] = s + start;
            c->flen[f] = cut[f] - start;
        }
        start = cut[f] + 1;
    }
    c->nfields = nf;
    c->ascii = is_ascii(s, n);
    c->row_open = 1;
    c->row_line = c->line;
    end_record(c);
    return 0;
}

/*
 * Whether the header line s[0..n) (without its LF) is separated by
 * semicolons, as spreadsheet programs export "CSV" where the decimal
 * separator is a comma: it has no comma, and one of its semicolon-separated
 * pieces (spaces, CR and a pair of quotes around it aside) is a column name.
 */
static int
semicolon_header(const char *s, size_t n)
{
    if (memchr(s, ',', n) != NULL || memchr(s, ';', n) == NULL)
        return 0;
    for (size_t i = 0; i <= n; ) {
        const char *semi = memchr(s + i, ';', n - i);
        size_t end = semi != NULL ? (size_t)(semi - s) : n, a = i, b = end;
        while (a < b && (s[a] == ' ' || s[a] == '\r'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\r'))
            b--;
        if (b - a >= 2 && s[a] == '"' && s[b - 1] == '"') {
            a++;
            b--;
        }
        for (int k = 0; k < NCOL; k++)
            if (strlen(columns[k].name) == b - a && memcmp(columns[k].name, s + a, b - a) == 0)
                return 1;
        i = end + 1;
    }
    return 0;
}

/*
 * Refuse a file whose header line s[0..n) is separated by semicolons with one
 * clear report (rather than a missing column per name); -1 if refused.
 */
static int
check_separator(struct ictx *c, const char *s, size_t n)
{
    if (!semicolon_header(s, n))
        return 0;
    while (n > 0 && s[n - 1] == '\r')
        n--;
    report_value(c, c->line, "header", s, n,
        "the separator must be a comma, not a semicolon (export the file as comma-separated CSV)");
    return -1;
}

/* Feed one piece of a physical line; -1 once the parser has given up. */
static int
feed(struct ictx *c, struct csv_parser *p, const unsigned char *s, size_t n)
{
    if (!c->row_open) {
        for (size_t i = 0; i < n; i++) {
            if (s[i] != '\r' && s[i] != '\n') {
                c->row_open = 1;
                c->row_line = c->line;
                break;
            }
        }
    }
    if (csv_parse(p, s, n, on_field, on_row, c) < n) {
        report_parse_error(c, p);
        return -1;
    }
    return 0;
}

static void
read_file(struct ictx *c, unsigned char *chunk)
{
    const char *path = c->paths[c->file];
    struct csv_parser p;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        report_line(c, 0, "cannot open: %s", strerror(errno));
        return;
    }
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
    csv_set_space_func(&p, is_cr);
    csv_set_term_func(&p, is_lf);
    csv_set_realloc_func(&p, capped_realloc);
    csv_set_blk_size(&p, 256);

    c->line = 1;
    c->row_open = 0;
    c->header_done = c->header_ok = 0;
    c->nfields = 0;
    c->rec.len = 0;
    int first = 1, stopped = 0;
    size_t got;
    while (!stopped && (got = fread(chunk, 1, IMPORT_READ_CHUNK, f)) > 0) {
        size_t i = 0;
        if (first && got >= 3 && memcmp(chunk, "\xef\xbb\xbf", 3) == 0)
            i = 3;                  /* UTF-8 byte order mark */
        first = 0;
        while (i < got) {
            unsigned char *nl = memchr(chunk + i, '\n', got - i);
            size_t end = nl ? (size_t)(nl - chunk) + 1 : got;
            if (!c->header_done && !c->row_open && nl != NULL &&
                check_separator(c, (char *)chunk + i, end - 1 - i) != 0) {
                stopped = 1;
                break;
            }
            if ((nl == NULL || c->row_open || split_line(c, (char *)chunk + i, end - 1 - i) != 0) &&
                feed(c, &p, chunk + i, end - i) != 0) {
                stopped = 1;
                break;
            }
            if (nl)
                c->line++;
            i = end;
        }
    }
    if (!stopped && ferror(f)) {
        report_line(c, 0, "cannot read: %s", strerror(errno));
        stopped = 1;
    }
    if (!stopped) {
        if (csv_fini(&p, on_field, on_row, c) != 0)
            report_line(c, c->row_line, "malformed CSV: a quoted field is not closed "
                "before the end of the file");
        else if (!c->header_done)
            report_line(c, 1, "the file is empty: expected a header row naming the columns");
    }
    csv_free(&p);
    fclose(f);
}

/* ---- writing ---- */

static int
sql_fail(sqlite3 *db, char *err)
{
    return errf(err, "cannot write the store '%s': %s; nothing was imported",
        sqlite3_db_filename(db, "main"), sqlite3_errmsg(db));
}

/* 1 if the patient table has no row, 0 if it has, -1 if it cannot be read. */
static int
no_rows(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM patient LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        ret = rc == SQLITE_DONE ? 1 : rc == SQLITE_ROW ? 0 : -1;
    }
    sqlite3_finalize(st);
    return ret;
}

static int
count_rows(sqlite3 *db, uint64_t *n)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM patient", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *n = (uint64_t)sqlite3_column_int64(st, 0);
        ret = 0;
    }
    sqlite3_finalize(st);
    return ret;
}

/* --replace: delete the stored patients that the files do not contain. */
static int
delete_absent(struct ictx *c, sqlite3 *db, uint64_t *deleted)
{
    sqlite3_stmt *sel = NULL, *del = NULL;
    struct buf gone = {0};          /* patient_ids to delete, NUL-terminated */
    int ret = -1, rc;

    *deleted = 0;
    if (sqlite3_prepare_v2(db, "SELECT patient_id FROM patient", -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "DELETE FROM patient WHERE patient_id=?1", -1, &del, NULL) != SQLITE_OK)
        goto done;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(sel, 0);
        size_t n = (size_t)sqlite3_column_bytes(sel, 0);
        if (id != NULL && set_find(c, &c->ids, id, n) == NULL)
            buf_append(&gone, id, n + 1);
    }
    if (rc != SQLITE_DONE)
        goto done;
    for (size_t off = 0; off < gone.len; off += strlen((char *)gone.p + off) + 1) {
        sqlite3_bind_text(del, 1, (char *)gone.p + off, -1, SQLITE_STATIC);
        if (sqlite3_step(del) != SQLITE_DONE)
            goto done;
        sqlite3_reset(del);
        (*deleted)++;
    }
    ret = 0;
done:
    sqlite3_finalize(sel);
    sqlite3_finalize(del);
    buf_release(&gone);
    return ret;
}

/* INSERT, or with upsert an INSERT that updates a stored row only if a value differs. */
static void
insert_sql(struct buf *q, int upsert)
{
    buf_puts(q, "INSERT INTO patient(");
    for (int k = 0; k < NCOL; k++)
        buf_printf(q, "%s%s", k ? ", " : "", columns[k].name);
    buf_puts(q, ") VALUES(");
    for (int k = 0; k < NCOL; k++)
        buf_printf(q, "%s?%d", k ? ", " : "", k + 1);
    buf_puts(q, ")");
    if (!upsert)
        return;
    buf_puts(q, " ON CONFLICT(patient_id) DO UPDATE SET ");
    for (int k = 1; k < NCOL; k++)
        buf_printf(q, "%s%s=excluded.%s", k > 1 ? ", " : "", columns[k].name, columns[k].name);
    buf_puts(q, " WHERE ");
    for (int k = 1; k < NCOL; k++)
        buf_printf(q, "%s%s IS NOT excluded.%s", k > 1 ? " OR " : "", columns[k].name,
            columns[k].name);
}

static int
cmp_rows(const void *a, const void *b, void *arg)
{
    const struct ictx *c = arg;
    return cmp_ids(c, row_at(c, *(const size_t *)a), row_at(c, *(const size_t *)b));
}

/*
 * Rows in patient_id order (SQLite's BINARY collation, i.e. memcmp), so that
 * the B-tree is filled from left to right.  Usually the extract is one run
 * in order, or a few (find_duplicate_id), merged here pairwise; otherwise
 * the rows are sorted.
 */
static size_t *
row_order(struct ictx *c)
{
    size_t n = c->nrows;
    size_t *order = xreallocarray(NULL, n ? n : 1, sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (c->ids_unsorted) {
        qsort_r(order, n, sizeof *order, cmp_rows, c);
        return order;
    }
    size_t start[IMPORT_MAX_RUNS + 1], nruns = n ? c->nruns : 0;
    memcpy(start, c->run, nruns * sizeof *start);
    start[nruns] = n;
    size_t *tmp = nruns > 1 ? xreallocarray(NULL, n, sizeof *tmp) : NULL;
    while (nruns > 1) {
        size_t m = 0;
        for (size_t j = 0; j < nruns; j += 2) {
            size_t a = start[j], am = start[j + 1];
            size_t b = am, bm = j + 1 < nruns ? start[j + 2] : am;
            size_t o = a;
            while (a < am && b < bm)
                tmp[o++] = cmp_ids(c, row_at(c, order[a]), row_at(c, order[b])) < 0 ?
                    order[a++] : order[b++];
            while (a < am)
                tmp[o++] = order[a++];
            while (b < bm)
                tmp[o++] = order[b++];
            start[m++] = start[j];
        }
        start[m] = n;
        nruns = m;
        size_t *t = order;
        order = tmp;
        tmp = t;
    }
    free(tmp);
    return order;
}

/*
 * Write row r with st (insert_sql); 0 if done, -1 on an SQLite failure (the
 * statement is then left as it failed, for sqlite3_errmsg).  The age is
 * bound as an integer, the rest as the validated text, borrowed.
 */
static int
insert_row(sqlite3_stmt *st, const struct row *r)
{
    const char *v = r->p;
    for (int k = 0; k < NCOL; k++) {
        if (k == COL_AGE)
            sqlite3_bind_int(st, k + 1, r->age);
        else if (r->len[k] == 0)
            sqlite3_bind_null(st, k + 1);
        else
            sqlite3_bind_text(st, k + 1, v, r->len[k], SQLITE_STATIC);
        v += r->len[k] + 1;
    }
    if (sqlite3_step(st) != SQLITE_DONE)
        return -1;
    sqlite3_reset(st);
    return 0;
}

/* Write the rows in order, but for rows [0, streamed), which the writer thread wrote. */
static int
insert_rows(struct ictx *c, sqlite3 *db, const size_t *order, size_t streamed, int upsert,
    uint64_t *changed)
{
    sqlite3_stmt *st = NULL;
    struct buf q = {0};
    int ret = -1;

    *changed = streamed;
    insert_sql(&q, upsert);
    if (sqlite3_prepare_v2(db, (const char *)q.p, -1, &st, NULL) != SQLITE_OK)
        goto done;
    for (size_t i = 0; i < c->nrows; i++) {
        if (order[i] < streamed)
            continue;
        if (insert_row(st, row_at(c, order[i])) != 0)
            goto done;
        *changed += (uint64_t)sqlite3_changes(db);
    }
    ret = 0;
done:
    sqlite3_finalize(st);
    buf_release(&q);
    return ret;
}

/* hash_update: feed b to md once it is big enough (or at the end, with flush). */
static int
hash_update(EVP_MD_CTX *md, struct buf *b, int flush)
{
    if (b->len < IMPORT_HASH_FLUSH && !flush)
        return 0;
    if (b->len > 0 && EVP_DigestUpdate(md, b->p, b->len) != 1)
        return -1;
    b->len = 0;
    return 0;
}

/*
 * The snapshot hash computed from the rows in memory, for when they are
 * exactly what the store holds (an import into an empty store, or
 * --replace): the same bytes as snapshot() reads back, without the scan.
 */
static int
snapshot_rows(const struct ictx *c, const size_t *order, char hex[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    struct buf b = {0};
    unsigned char digest[32];
    unsigned int dlen = 0;
    int ret = -1;

    hex[0] = 0;
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto done;
    for (size_t i = 0; i < c->nrows; i++) {
        const struct row *r = row_at(c, order[i]);
        const char *v = r->p;
        size_t total = NCOL + 10;   /* separators, and room for the age's decimal digits */
        for (int k = 0; k < NCOL; k++)
            total += r->len[k];
        char *o = (char *)buf_extend(&b, total), *start = o;
        for (int k = 0; k < NCOL; k++) {
            if (k)
                *o++ = '\x1f';
            if (k == COL_AGE) {
                char num[12];       /* "%d" of 0..IMPORT_MAX_AGE_DAYS, without snprintf */
                int n = 0;
                uint32_t a = (uint32_t)r->age;
                do
                    num[n++] = (char)('0' + a % 10);
                while ((a /= 10) != 0);
                while (n > 0)
                    *o++ = num[--n];
            } else {
                memcpy(o, v, r->len[k]);
                o += r->len[k];
            }
            v += r->len[k] + 1;
        }
        *o++ = '\x1e';
        b.len -= total - (size_t)(o - start);
        if (hash_update(md, &b, 0) != 0)
            goto done;
    }
    if (hash_update(md, &b, 1) != 0 || EVP_DigestFinal_ex(md, digest, &dlen) != 1 ||
        dlen != sizeof digest)
        goto done;
    if (c->nrows > 0)
        util_hex(digest, sizeof digest, hex);
    ret = 0;
done:
    EVP_MD_CTX_free(md);
    buf_release(&b);
    return ret;
}

/*
 * The snapshot hash: SHA-256 over every row of `patient` in patient_id order
 * (BINARY collation), each row being its 15 columns in schema order as text
 * (the age in decimal, NULL as the empty string) joined by 0x1f (unit
 * separator) and terminated by 0x1e (record separator).  No value can hold
 * either byte (import refuses control characters), so the encoding is
 * unambiguous, and it depends only on the rows stored, never on how or in
 * how many imports they got there.  An empty store has the hash "".
 *
 * The same scan warns about a stored patient that shares an eupid with an
 * imported one (check_store_eupids).
 */
static int
snapshot(struct ictx *c, sqlite3 *db, int check_store_eupids, char hex[65], uint64_t *rows)
{
    sqlite3_stmt *st = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    struct buf b = {0};
    int ret = -1, rc;
    unsigned char digest[32];
    unsigned int dlen = 0;
    struct buf q = {0};

    *rows = 0;
    hex[0] = 0;
    buf_puts(&q, "SELECT ");
    for (int k = 0; k < NCOL; k++)
        buf_printf(&q, "%s%s", k ? ", " : "", columns[k].name);
    buf_puts(&q, " FROM patient ORDER BY patient_id");
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto done;
    if (sqlite3_prepare_v2(db, (const char *)q.p, -1, &st, NULL) != SQLITE_OK)
        goto done;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int k = 0; k < NCOL; k++) {
            const unsigned char *t = sqlite3_column_text(st, k);
            if (k)
                buf_append(&b, "\x1f", 1);
            if (t != NULL)
                buf_append(&b, t, (size_t)sqlite3_column_bytes(st, k));
        }
        buf_append(&b, "\x1e", 1);
        if (hash_update(md, &b, 0) != 0)
            goto done;
        (*rows)++;
        if (!check_store_eupids || sqlite3_column_type(st, COL_EUPID) == SQLITE_NULL)
            continue;
        const char *id = (const char *)sqlite3_column_text(st, COL_PATIENT_ID);
        const char *eu = (const char *)sqlite3_column_text(st, COL_EUPID);
        const struct row *r = set_find(c, &c->eupids, eu,
            (size_t)sqlite3_column_bytes(st, COL_EUPID));
        if (r == NULL || (r->len[COL_PATIENT_ID] == strlen(id) &&
                memcmp(row_field(c, r, COL_PATIENT_ID), id, strlen(id)) == 0) ||
            set_find(c, &c->ids, id, strlen(id)) != NULL)
            continue;               /* an imported patient, or one that shares nothing */
        struct buf a = {0}, e = {0}, s = {0};
        put_value(&a, row_field(c, r, COL_PATIENT_ID), r->len[COL_PATIENT_ID]);
        put_value(&e, eu, strlen(eu));
        put_value(&s, id, strlen(id));
        warn(c, "%s:%llu: warning: eupid '%s' of patient_id '%s' is also the eupid of "
            "patient_id '%s' already in the store: possible duplicate registration\n",
            c->paths[r->file], (unsigned long long)r->line, (const char *)e.p,
            (const char *)a.p, (const char *)s.p);
        buf_release(&a);
        buf_release(&e);
        buf_release(&s);
    }
    if (rc != SQLITE_DONE)
        goto done;
    if (hash_update(md, &b, 1) != 0 || EVP_DigestFinal_ex(md, digest, &dlen) != 1 ||
        dlen != sizeof digest)
        goto done;
    if (*rows > 0)
        util_hex(digest, sizeof digest, hex);
    ret = 0;
done:
    sqlite3_finalize(st);
    EVP_MD_CTX_free(md);
    buf_release(&b);
    buf_release(&q);
    return ret;
}

int
import_store_hash(struct store *s, char hex[65], uint64_t *rows, char *err)
{
    if (snapshot(NULL, store_db(s), 0, hex, rows) != 0)
        return errf(err, "cannot read the stored rows: %s", sqlite3_errmsg(store_db(s)));
    return 0;
}

static int
write_meta(sqlite3 *db, uint64_t rows, const char *hash)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES "
            "('rows', ?1), ('hash', ?2), ('imported_at_ms', ?3), ('schema_version', ?4)",
            -1, &st, NULL) != SQLITE_OK)
        goto done;
    char r[32], t[32], v[16];
    snprintf(r, sizeof r, "%llu", (unsigned long long)rows);
    snprintf(t, sizeof t, "%lld", (long long)util_now_ms());
    snprintf(v, sizeof v, "%d", STORE_SCHEMA_VERSION);
    sqlite3_bind_text(st, 1, r, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, t, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, v, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE)
        ret = 0;
done:
    sqlite3_finalize(st);
    return ret;
}

/* The integer value of PRAGMA name, or def if it cannot be read. */
static int
pragma_int(sqlite3 *db, const char *name, int def)
{
    sqlite3_stmt *st = NULL;
    char q[64];
    snprintf(q, sizeof q, "PRAGMA %s", name);
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        def = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return def;
}

static void
pragma_set(sqlite3 *db, const char *name, int value)
{
    char q[64];
    snprintf(q, sizeof q, "PRAGMA %s=%d", name, value);
    sqlite3_exec(db, q, NULL, NULL, NULL);
}

/*
 * The journal mode of db ("wal", "delete", ...) into out; "" if unreadable.
 * Setting it (mode != NULL) returns the mode in force afterwards: SQLite
 * keeps WAL while another connection (a serving node) has the store open.
 */
static void
journal_mode(sqlite3 *db, const char *mode, char out[16])
{
    sqlite3_stmt *st = NULL;
    char q[64];
    snprintf(q, sizeof q, "PRAGMA journal_mode%s%s", mode ? "=" : "", mode ? mode : "");
    out[0] = 0;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, 16, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/*
 * Phase 2: one transaction, or nothing.  For its duration the connection
 * uses synchronous=NORMAL (the store stays consistent; only this last commit
 * could be lost on power failure, and the import would be run again) and a
 * page cache large enough not to spill a big import to the journal.
 *
 * Into an empty store the transaction runs with a rollback journal instead
 * of the write-ahead log: the journal then holds only the few pages that
 * existed before, and the new pages are written once, into the store,
 * instead of into the WAL and again into the store at the checkpoint.  It is
 * just as atomic.  The store is back in WAL mode afterwards, whatever the
 * outcome (store_open() also sets WAL on every open).
 *
 * write_open starts the transaction, write_rows fills it and commits,
 * write_close rolls back what did not commit and restores the connection.
 */
struct wtx {
    int sync, cache;                /* the connection's settings before */
    char mode[16];                  /* "delete" while the rollback journal is in use */
    uint64_t before;                /* rows stored when the transaction began */
};

static int
write_open(sqlite3 *db, struct wtx *t)
{
    t->sync = pragma_int(db, "synchronous", 2);
    t->cache = pragma_int(db, "cache_size", -2000);
    t->mode[0] = 0;
    t->before = 0;
    pragma_set(db, "synchronous", 1);
    pragma_set(db, "cache_size", IMPORT_CACHE_KIB);
    if (count_rows(db, &t->before) == 0 && t->before == 0)
        journal_mode(db, "DELETE", t->mode);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        count_rows(db, &t->before) != 0)
        return -1;
    return 0;
}

static void
write_close(sqlite3 *db, struct wtx *t)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (strcmp(t->mode, "delete") == 0)
        journal_mode(db, "WAL", t->mode);
    pragma_set(db, "synchronous", t->sync);
    pragma_set(db, "cache_size", t->cache);
}

/*
 * Everything after write_open: rows [0, streamed) are in already (written by
 * the writer thread into the empty store), and hash, if not NULL, is the
 * snapshot hash of order computed meanwhile.
 */
static int
write_rows(struct ictx *c, sqlite3 *db, const struct wtx *t, const size_t *order,
    size_t streamed, const char *hash, struct import_stats *stt)
{
    uint64_t before = t->before, deleted = 0, changed = 0, after = 0, kept = 0;
    char h[65];

    if (before > 0)
        ids_index(c, c->nrows);     /* delete_absent and snapshot look patients up */
    if (c->opts->replace && before > 0 && delete_absent(c, db, &deleted) != 0)
        return -1;
    kept = before - deleted;
    if (insert_rows(c, db, order, streamed, kept > 0, &changed) != 0)
        return -1;
    /* After --replace the store holds exactly the rows read, as after an import into an empty one. */
    if (c->opts->replace || kept == 0) {
        after = c->nrows;
        if (hash == NULL && snapshot_rows(c, order, h) != 0)
            return -1;
    } else if (snapshot(c, db, c->eupids.n > 0, h, &after) != 0) {
        return -1;
    }
    if (write_meta(db, after, hash != NULL ? hash : h) != 0 ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    stt->deleted = deleted;
    stt->inserted = after - kept;
    stt->updated = changed - stt->inserted;
    stt->unchanged = c->nrows - changed;
    return 0;
}

/* Phase 2 on its own, once every file has been read and found valid. */
static int
write_store(struct ictx *c, sqlite3 *db, struct import_stats *stt, char *err)
{
    struct wtx t;
    size_t *order = row_order(c);
    int ret = 0;
    if (write_open(db, &t) != 0 || write_rows(c, db, &t, order, 0, NULL, stt) != 0)
        ret = sql_fail(db, err);
    write_close(db, &t);
    free(order);
    return ret;
}

/* ---- the writer thread ---- */

/*
 * The writer thread.  Into an empty store, the two phases overlap: the
 * transaction is opened before reading (write_open), and a second thread
 * inserts the rows as phase 1 accepts them, while phase 1 goes on reading
 * and checking.  All or nothing still holds, as nothing commits before
 * every file has been read: if any value is bad, or the writer fails (disk
 * full), the whole transaction is rolled back.
 *
 * The writer only ever reads rows [0, ready), which the reader publishes
 * under mu once they are final: kept, not a duplicate, no error reported
 * anywhere yet, and part of the first sorted run (rows out of patient_id
 * order are written after the read, sorted, by write_rows).  Rows never
 * move once written (row blocks, arena blocks), so the reader can keep
 * adding rows while the writer reads published ones.
 */
struct writer {
    struct ictx *c;
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t ready;                   /* rows [0, ready) may be written (under mu) */
    int closed;                     /* no more rows will be published (under mu) */
    int stop;                       /* closed, and nothing will be committed (under mu) */
    size_t written;                 /* rows written: the writer's, read after the join */
    int failed;                     /* an SQLite call failed: the writer's, read after the join */
};

static void *
writer_main(void *arg)
{
    struct writer *w = arg;
    sqlite3_stmt *st = NULL;
    struct buf q = {0};

    insert_sql(&q, 0);
    if (sqlite3_prepare_v2(w->db, (const char *)q.p, -1, &st, NULL) != SQLITE_OK)
        w->failed = 1;
    while (!w->failed) {
        pthread_mutex_lock(&w->mu);
        while (w->ready == w->written && !w->closed)
            pthread_cond_wait(&w->cv, &w->mu);
        size_t ready = w->ready;
        int closed = w->closed, stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        if ((ready == w->written && closed) || stop)
            break;
        for (; w->written < ready; w->written++) {
            if (insert_row(st, row_at(w->c, w->written)) != 0) {
                w->failed = 1;
                break;
            }
        }
    }
    sqlite3_finalize(st);
    buf_release(&q);
    return NULL;
}

/* Let the writer have the rows kept so far, if they are all it may write (see struct writer). */
static void
writer_publish(struct ictx *c, int force)
{
    struct writer *w = c->writer;
    size_t n = c->nrows;
    if (w == NULL || c->nerrors > 0 || c->ids_unsorted || c->nruns > 1 ||
        (!force && n - c->published < IMPORT_PUBLISH_EVERY))
        return;
    pthread_mutex_lock(&w->mu);
    w->ready = c->published = n;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int
writer_start(struct writer *w, struct ictx *c, sqlite3 *db)
{
    memset(w, 0, sizeof *w);
    w->c = c;
    w->db = db;
    if (pthread_mutex_init(&w->mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        return -1;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return -1;
    }
    c->writer = w;
    return 0;
}

/* Tell the writer nothing more is coming (and to stop now if stop). */
static void
writer_close(struct writer *w, int stop)
{
    pthread_mutex_lock(&w->mu);
    w->closed = 1;
    w->stop = stop;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void
writer_join(struct writer *w)
{
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->c->writer = NULL;
}

int
import_csv(struct store *s, const char *const *paths, size_t n,
    const struct import_opts *opts, struct import_stats *st,
    struct buf *errors, char *err)
{
    struct ictx c;
    unsigned char *chunk = NULL;
    int ret = -1, streaming = 0, hashed = 0;
    sqlite3 *db = store_db(s);
    struct writer w;
    struct wtx t;
    size_t *order = NULL;
    char hash[65];

    memset(st, 0, sizeof *st);
    memset(&c, 0, sizeof c);
    c.opts = opts;
    c.paths = paths;
    c.errors = errors;
    c.today = opts->today ? opts->today : local_today();
    c.rowblk = xcalloc(IMPORT_ROW_BLOCKS, sizeof *c.rowblk);
    c.ids.key = COL_PATIENT_ID;
    store_parse_date(IMPORT_FIRST_DIAGNOSIS, &c.first_day);
    c.eupids.key = COL_EUPID;
    if (n == 0) {
        errf(err, "no CSV file given");
        goto done;
    }
    if (n > UINT32_MAX) {
        errf(err, "too many CSV files");
        goto done;
    }
    /*
     * Into an empty store, write while reading (struct writer).  A store
     * with rows, or one that cannot be written now, takes the two phases in
     * turn, without holding the write lock while the files are read.
     */
    if (no_rows(db) == 1) {
        if (write_open(db, &t) == 0 && t.before == 0 && writer_start(&w, &c, db) == 0)
            streaming = 1;
        else
            write_close(db, &t);
    }
    chunk = xmalloc(IMPORT_READ_CHUNK);
    for (size_t i = 0; i < n; i++) {
        c.file = (uint32_t)i;
        read_file(&c, chunk);
    }
    if (streaming) {
        /* While the writer finishes, compute the snapshot hash of what it writes. */
        writer_publish(&c, 1);
        writer_close(&w, c.nerrors > 0);
        if (c.nerrors == 0) {
            order = row_order(&c);
            hashed = snapshot_rows(&c, order, hash) == 0;
        }
        writer_join(&w);
    }
    if (opts->progress != NULL) {
        fprintf(opts->progress, "\rimport: %llu rows read\n", (unsigned long long)c.read);
        fflush(opts->progress);
    }
    if (c.nwarnings > IMPORT_MAX_ERRORS && opts->warnings != NULL)
        fprintf(opts->warnings, "... and %llu more warnings\n",
            (unsigned long long)(c.nwarnings - IMPORT_MAX_ERRORS));
    st->read = c.read;
    if (c.nerrors > 0) {
        if (streaming)
            write_close(db, &t);
        if (c.nerrors > IMPORT_MAX_ERRORS)
            buf_printf(errors, "... and %llu more errors\n",
                (unsigned long long)(c.nerrors - IMPORT_MAX_ERRORS));
        errf(err, "%llu %s in %llu %s; nothing was imported",
            (unsigned long long)c.nerrors, plural(c.nerrors, "error", "errors"),
            (unsigned long long)c.read, plural(c.read, "row", "rows"));
        goto done;
    }
    c.nwarnings = 0;
    if (streaming) {
        int failed = w.failed ||
            write_rows(&c, db, &t, order, w.written, hashed ? hash : NULL, st) != 0;
        if (failed)
            sql_fail(db, err);
        write_close(db, &t);
        if (failed)
            goto done;
    } else if (write_store(&c, db, st, err) != 0) {
        goto done;
    }
    if (c.nwarnings > IMPORT_MAX_ERRORS && opts->warnings != NULL)
        fprintf(opts->warnings, "... and %llu more warnings\n",
            (unsigned long long)(c.nwarnings - IMPORT_MAX_ERRORS));
    ret = 0;
done:
    free(order);
    free(chunk);
    for (size_t b = 0; c.rowblk != NULL && b < IMPORT_ROW_BLOCKS && c.rowblk[b] != NULL; b++)
        free(c.rowblk[b]);
    free(c.rowblk);
    while (c.arena != NULL) {
        struct ablock *next = c.arena->next;
        free(c.arena);
        c.arena = next;
    }
    free(c.ids.slot);
    free(c.eupids.slot);
    buf_release(&c.rec);
    buf_release(&c.hdr);
    buf_release(&c.rules);
    return ret;
}
