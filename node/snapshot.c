/*
 * snapshot - see snapshot.h.
 */
#include "node/snapshot.h"

#include "node/import.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define DIAG_YEAR_BASE 1950
#define SNAP_MAX_DICT 65000             /* distinct ICD-O-3 codes per variable */

/* Open-variable dictionary under construction: text -> provisional code. */
struct dict_build {
    char **text;                        /* by provisional code */
    size_t n, cap;
};

struct load_state {
    struct snapshot *snap;
    struct dict_build dict[2];          /* morphology, topography */
    size_t cap;
    char *err;
};

/* Civil year of a day count since 1970-01-01 (H. Hinnant's days_from_civil, inverted). */
static int32_t
year_of_day(int32_t day)
{
    int64_t z = (int64_t)day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    return (int32_t)(yoe + era * 400 + (m <= 2));
}

/* Linear probe over a small dictionary: ICD-O-3 codes per node are few. */
static int
dict_code(struct dict_build *d, const char *text, uint16_t *code)
{
    if (*text == 0) {
        *code = SNAP_MISSING;
        return 0;
    }
    for (size_t i = d->n; i-- > 0;) {
        if (strcmp(d->text[i], text) == 0) {
            *code = (uint16_t)i;
            return 0;
        }
    }
    if (d->n >= SNAP_MAX_DICT)
        return -1;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->text = xreallocarray(d->text, d->cap, sizeof *d->text);
    }
    d->text[d->n] = xstrdup(text);
    *code = (uint16_t)d->n++;
    return 0;
}

/* Every column to cap rows. */
static void
resize(struct load_state *st, size_t cap)
{
    struct snapshot *s = st->snap;
    for (int v = 0; v < VAR_COUNT; v++)
        s->code[v] = xreallocarray(s->code[v], cap, sizeof(uint16_t));
    s->os_time = xreallocarray(s->os_time, cap, sizeof(int32_t));
    s->efs_time = xreallocarray(s->efs_time, cap, sizeof(int32_t));
    s->os_event = xreallocarray(s->os_event, cap, 1);
    s->efs_event = xreallocarray(s->efs_event, cap, 1);
    s->cif_state = xreallocarray(s->cif_state, cap, 1);
    st->cap = cap;
}

static void
grow(struct load_state *st)
{
    resize(st, st->cap ? st->cap * 2 : 1024);
}

/*
 * Shrink the columns from the doubling capacity of the scan to the rows held:
 * up to half of each column was slack (10k rows: 16384 allocated, ~220 kB
 * resident for nothing); the freed tails go back with the malloc_trim below.
 */
static void
fit(struct load_state *st)
{
    size_t n = st->snap->n ? st->snap->n : 1;
    if (n < st->cap)
        resize(st, n);
}

static int
on_record(const struct store_record *r, void *arg)
{
    struct load_state *st = arg;
    struct snapshot *s = st->snap;
    if (s->n >= SNAP_MAX_ROWS) {
        errf(st->err, "store holds more than %u rows (SNAP_MAX_ROWS)", SNAP_MAX_ROWS);
        return 1;
    }
    if (s->n == st->cap)
        grow(st);
    size_t i = s->n;
    int age = (int)(r->age_days / 365.25);
    int year = year_of_day(r->diagnosis_day);
    const struct var_def *ay = vars_get(VAR_AGE_YEARS), *dy = vars_get(VAR_DIAGNOSIS_YEAR);
    s->code[VAR_SEX][i] = r->sex;
    s->code[VAR_TUMOUR_TYPE][i] = r->tumour_type;
    s->code[VAR_STAGE][i] = r->stage;
    s->code[VAR_SURGERY][i] = r->surgery;
    s->code[VAR_CHEMOTHERAPY][i] = r->chemotherapy;
    s->code[VAR_RADIOTHERAPY][i] = r->radiotherapy;
    s->code[VAR_VITAL_STATUS][i] = r->vital_status;
    /* A store edited by hand can hold values import refuses: outside the code range is missing. */
    s->code[VAR_AGE_YEARS][i] = age >= ay->lo && age <= ay->hi ? (uint16_t)age : SNAP_MISSING;
    s->code[VAR_AGE_GROUP][i] = (uint16_t)vars_age_group(age < 0 ? 0 : age);
    s->code[VAR_DIAGNOSIS_YEAR][i] = year >= DIAG_YEAR_BASE && year <= dy->hi
                                         ? (uint16_t)(year - DIAG_YEAR_BASE) : SNAP_MISSING;
    uint16_t m, t;
    if (dict_code(&st->dict[0], r->morphology, &m) != 0 ||
        dict_code(&st->dict[1], r->topography, &t) != 0) {
        errf(st->err, "more than %d distinct ICD-O-3 codes", SNAP_MAX_DICT);
        return 1;
    }
    s->code[VAR_MORPHOLOGY][i] = m;
    s->code[VAR_TOPOGRAPHY][i] = t;
    int dead = r->vital_status == 1;
    s->os_time[i] = r->last_contact_day - r->diagnosis_day;
    s->os_event[i] = (uint8_t)dead;
    if (r->event_day != STORE_MISSING_DAY) {
        s->efs_time[i] = r->event_day - r->diagnosis_day;
        s->efs_event[i] = 1;
        s->cif_state[i] = SNAP_CIF_RELAPSE;
    } else {
        s->efs_time[i] = s->os_time[i];
        s->efs_event[i] = (uint8_t)dead;
        s->cif_state[i] = dead ? SNAP_CIF_DEATH : SNAP_CIF_CENSORED;
    }
    s->n++;
    return 0;
}

/* Largest time of a column, or -1 if one is negative (snapshot.h, os_tmax). */
static int32_t
time_max(const int32_t *t, size_t n)
{
    int32_t max = 0, min = 0;
    for (size_t i = 0; i < n; i++) {
        max = t[i] > max ? t[i] : max;
        min = t[i] < min ? t[i] : min;
    }
    return min < 0 ? -1 : max;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Re-code an open variable so that code order is the sorted text order. */
static void
finish_dict(struct snapshot *s, enum var_id v, struct dict_build *d)
{
    size_t n = d->n;
    char **sorted = xcalloc(n, sizeof *sorted);
    if (n > 0)
        memcpy(sorted, d->text, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    uint16_t *remap = xcalloc(n, sizeof *remap);
    for (size_t i = 0; i < n; i++) {
        char **hit = bsearch(&d->text[i], sorted, n, sizeof *sorted, cmp_str);
        remap[i] = (uint16_t)(hit - sorted);
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->code[v][i] != SNAP_MISSING)
            s->code[v][i] = remap[s->code[v][i]];
    free(remap);
    free(d->text);
    s->dict[v] = sorted;
    s->ncodes[v] = (uint32_t)n;
}

int
snapshot_load(struct store *st, struct snapshot **out, char *err)
{
    *out = NULL;
    struct snapshot *s = xcalloc(1, sizeof *s);
    struct load_state ls = {.snap = s, .err = err};
    if (store_meta_get(st, &s->meta, err) != 0 || store_scan(st, on_record, &ls, err) != 0) {
        for (int k = 0; k < 2; k++) {
            for (size_t i = 0; i < ls.dict[k].n; i++)
                free(ls.dict[k].text[i]);
            free(ls.dict[k].text);
        }
        snapshot_free(s);
        return -1;
    }
    /* The rows read must be the rows imported: a damaged page that still
     * parses would otherwise be served as data. */
    char hex[65];
    uint64_t rows;
    int bad = import_store_hash(st, hex, &rows, err) != 0;
    if (!bad && (strcmp(hex, s->meta.hash) != 0 || rows != s->meta.rows)) {
        errf(err, "the store's rows do not match the hash recorded at import (%.16s, now "
            "%.16s): the file is damaged or was changed outside 'fedra-node import'",
            s->meta.hash, hex[0] ? hex : "empty");
        bad = 1;
    }
    if (bad) {
        for (int k = 0; k < 2; k++) {
            for (size_t i = 0; i < ls.dict[k].n; i++)
                free(ls.dict[k].text[i]);
            free(ls.dict[k].text);
        }
        snapshot_free(s);
        return -1;
    }
    if (s->n == 0)
        grow(&ls);
    for (int v = 0; v < VAR_COUNT; v++)
        s->ncodes[v] = (uint32_t)vars_get((enum var_id)v)->nlevels;
    s->ncodes[VAR_AGE_YEARS] = (uint32_t)vars_get(VAR_AGE_YEARS)->hi + 1;
    s->ncodes[VAR_DIAGNOSIS_YEAR] = (uint32_t)(vars_get(VAR_DIAGNOSIS_YEAR)->hi - DIAG_YEAR_BASE + 1);
    finish_dict(s, VAR_MORPHOLOGY, &ls.dict[0]);
    finish_dict(s, VAR_TOPOGRAPHY, &ls.dict[1]);
    fit(&ls);
    s->os_tmax = time_max(s->os_time, s->n);
    s->efs_tmax = time_max(s->efs_time, s->n);
    /*
     * The scan filled SQLite's page cache and left freed row buffers in the
     * heap; queries never read the table again, so give both back (a node
     * idles most of its life: performance target <= 10 MB resident).
     */
    store_release_memory(st);
    malloc_trim(0);
    *out = s;
    return 0;
}

void
snapshot_free(struct snapshot *s)
{
    if (s == NULL)
        return;
    for (int v = 0; v < VAR_COUNT; v++) {
        free(s->code[v]);
        if (s->dict[v] != NULL) {
            for (uint32_t i = 0; i < s->ncodes[v]; i++)
                free(s->dict[v][i]);
            free(s->dict[v]);
        }
    }
    free(s->os_time);
    free(s->efs_time);
    free(s->os_event);
    free(s->efs_event);
    free(s->cif_state);
    free(s);
}

const char *
snapshot_level(const struct snapshot *s, enum var_id v, uint16_t code, char tmp[16])
{
    const struct var_def *d = vars_get(v);
    if (code == SNAP_MISSING)
        return "";
    if (d->kind == VAR_INTEGER) {
        int base = v == VAR_DIAGNOSIS_YEAR ? DIAG_YEAR_BASE : 0;
        snprintf(tmp, 16, "%d", base + code);
        return tmp;
    }
    if (s->dict[v] != NULL)
        return code < s->ncodes[v] ? s->dict[v][code] : "";
    return code < d->nlevels ? d->levels[code] : "";
}

double
snapshot_value(enum var_id v, uint16_t code)
{
    return (double)code + (v == VAR_DIAGNOSIS_YEAR ? DIAG_YEAR_BASE : 0);
}

long
snapshot_code(const struct snapshot *s, const struct var_def *d, const char *text)
{
    if (d->kind == VAR_INTEGER) {
        long long x;
        if (util_parse_int(text, d->lo, d->hi, &x) != 0)
            return -1;
        return (long)(x - (d->id == VAR_DIAGNOSIS_YEAR ? DIAG_YEAR_BASE : 0));
    }
    if (s->dict[d->id] != NULL) {
        char *const *hit = bsearch(&text, s->dict[d->id], s->ncodes[d->id],
            sizeof(char *), cmp_str);
        return hit ? (long)(hit - s->dict[d->id]) : -1;
    }
    return vars_level_index(d, text);
}

static const char *
levels_list(const struct var_def *d, char *out, size_t outlen)
{
    size_t at = 0;
    out[0] = 0;
    for (size_t i = 0; i < d->nlevels && at + 2 < outlen; i++)
        at += (size_t)snprintf(out + at, outlen - at, "%s%s", i ? ", " : "", d->levels[i]);
    return out;
}

static int
compile_term(const struct snapshot *s, const struct snap_term *t, uint8_t *allow,
    const struct var_def *d, char *err)
{
    int ordering = t->op == SNAP_LT || t->op == SNAP_LE || t->op == SNAP_GT || t->op == SNAP_GE;
    if (ordering && d->kind != VAR_INTEGER)
        return errf(err, "operator '%s' needs an integer variable; %s is categorical",
            t->op == SNAP_LT ? "<" : t->op == SNAP_LE ? "<=" : t->op == SNAP_GT ? ">" : ">=",
            d->name);
    if (t->nvalues == 0 || (t->op != SNAP_IN && t->nvalues != 1))
        return errf(err, "filter on %s has %zu values", d->name, t->nvalues);
    /* Validate every value first: a bad value is refused even if no row has it. */
    for (size_t k = 0; k < t->nvalues; k++) {
        const char *v = t->values[k];
        if (d->kind == VAR_INTEGER) {
            long long x;
            if (util_parse_int(v, -1000000, 1000000, &x) != 0)
                return errf(err, "'%.64s' is not an integer (variable %s)", v, d->name);
        } else if (!vars_valid_value(d, v)) {
            char lv[512];
            if (d->nlevels)
                return errf(err, "'%.64s' is not a level of %s (%s)", v, d->name,
                    levels_list(d, lv, sizeof lv));
            return errf(err, "'%.64s' is not a valid %s code", v, d->name);
        }
    }
    uint32_t n = s->ncodes[d->id];
    if (ordering) {
        long long x;
        util_parse_int(t->values[0], -1000000, 1000000, &x);
        int base = d->id == VAR_DIAGNOSIS_YEAR ? DIAG_YEAR_BASE : 0;
        for (uint32_t c = 0; c < n; c++) {
            long long val = base + (long long)c;
            allow[c] = (uint8_t)(t->op == SNAP_LT ? val < x : t->op == SNAP_LE ? val <= x
                                 : t->op == SNAP_GT ? val > x : val >= x);
        }
        return 0;
    }
    int neg = t->op == SNAP_NE;
    memset(allow, neg, n);
    for (size_t k = 0; k < t->nvalues; k++) {
        long c = snapshot_code(s, d, t->values[k]);
        if (c >= 0 && (uint32_t)c < n)
            allow[c] = (uint8_t)!neg;
    }
    return 0;
}

int
snapshot_filter_compile(const struct snapshot *s, const struct snap_term *terms,
    size_t nterms, struct snap_filter *f, char *err)
{
    memset(f, 0, sizeof *f);
    if (nterms > SNAP_MAX_TERMS)
        return errf(err, "%zu filter terms (limit %d)", nterms, SNAP_MAX_TERMS);
    for (size_t i = 0; i < nterms; i++) {
        const struct var_def *d = vars_find(terms[i].var);
        if (d == NULL) {
            errf(err, "unknown variable '%.32s' (variables: %s)", terms[i].var, vars_names());
            snapshot_filter_release(f);
            return -1;
        }
        f->var[i] = d->id;
        f->allow[i] = xcalloc((size_t)s->ncodes[d->id] + 1, 1);
        f->nallow[i] = s->ncodes[d->id];
        f->nterms = i + 1;
        if (compile_term(s, &terms[i], f->allow[i], d, err) != 0) {
            snapshot_filter_release(f);
            return -1;
        }
    }
    return 0;
}

void
snapshot_filter_release(struct snap_filter *f)
{
    for (size_t i = 0; i < f->nterms; i++)
        free(f->allow[i]);
    memset(f, 0, sizeof *f);
}

/*
 * The dense count: key space <= SNAP_DENSE_CELLS, so one counter per key plus
 * one (cnt[space]) for the rows left out; no branch per row.  Inlined with a
 * constant nby so the key loop unrolls.
 */
static inline __attribute__((always_inline)) void
count_dense(const struct snapshot *s, const struct snap_filter *f, const uint16_t *const *col,
    const uint64_t *radix, size_t nby, uint64_t space, uint64_t *cnt)
{
    for (size_t i = 0; i < s->n; i++) {
        uint64_t key = 0;
        int ok = f->nterms == 0 || snapshot_row_passes(s, f, i);
        for (size_t k = 0; k < nby; k++) {
            uint16_t c = col[k][i];
            ok &= c != SNAP_MISSING;
            key = key * radix[k] + c;
        }
        cnt[ok ? key : space]++;
    }
}

/*
 * Group keys are mixed-radix numbers over the group-by codes; counts go into
 * an open-addressing table sized to the smaller of the row count and the key
 * space, so memory is bounded by the data, not by the query.
 */
struct slot {
    uint64_t key;                       /* key + 1; 0 marks an empty slot */
    uint64_t n;
};

static int
cmp_slot(const void *a, const void *b)
{
    const struct slot *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

int
snapshot_count(const struct snapshot *s, const struct snap_filter *f, const enum var_id *by,
    size_t nby, struct snap_cell **cells, size_t *ncells, char *err)
{
    *cells = NULL;
    *ncells = 0;
    if (nby > SNAP_MAX_GROUP)
        return errf(err, "%zu group-by variables (limit %d)", nby, SNAP_MAX_GROUP);
    uint64_t radix[SNAP_MAX_GROUP], space = 1;
    for (size_t k = 0; k < nby; k++) {
        radix[k] = s->ncodes[by[k]] ? s->ncodes[by[k]] : 1;
        space *= radix[k];          /* <= 65535^4 < 2^64 */
    }
    if (space <= SNAP_DENSE_CELLS) {
        const uint16_t *col[SNAP_MAX_GROUP];
        for (size_t k = 0; k < nby; k++)
            col[k] = s->code[by[k]];
        uint64_t *cnt = xcalloc(space + 1, sizeof *cnt);
        switch (nby) {
        case 0: count_dense(s, f, col, radix, 0, space, cnt); break;
        case 1: count_dense(s, f, col, radix, 1, space, cnt); break;
        case 2: count_dense(s, f, col, radix, 2, space, cnt); break;
        case 3: count_dense(s, f, col, radix, 3, space, cnt); break;
        default: count_dense(s, f, col, radix, 4, space, cnt); break;
        }
        size_t w = 0;
        for (uint64_t key = 0; key < space; key++)
            w += cnt[key] > 0;
        struct snap_cell *out = xcalloc(w ? w : 1, sizeof *out);
        w = 0;
        for (uint64_t key = 0; key < space; key++) {
            if (cnt[key] == 0)
                continue;
            uint64_t rest = key;
            for (size_t k = nby; k-- > 0;) {
                out[w].code[k] = (uint16_t)(rest % radix[k]);
                rest /= radix[k];
            }
            out[w++].n = cnt[key];
        }
        free(cnt);
        *cells = out;
        *ncells = w;
        return 0;
    }
    uint64_t want = space < s->n ? space : s->n;
    size_t cap = 16;
    while (cap < 2 * want)
        cap *= 2;
    struct slot *tab = xcalloc(cap, sizeof *tab);
    for (size_t i = 0; i < s->n; i++) {
        if (!snapshot_row_passes(s, f, i))
            continue;
        uint64_t key = 0;
        int missing = 0;
        for (size_t k = 0; k < nby; k++) {
            uint16_t c = s->code[by[k]][i];
            if (c == SNAP_MISSING) {
                missing = 1;
                break;
            }
            key = key * radix[k] + c;
        }
        if (missing)
            continue;
        size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
        while (tab[h].key != 0 && tab[h].key != key + 1)
            h = (h + 1) & (cap - 1);
        tab[h].key = key + 1;
        tab[h].n++;
    }
    size_t w = 0;
    for (size_t h = 0; h < cap; h++)
        if (tab[h].key != 0)
            tab[w++] = tab[h];
    qsort(tab, w, sizeof *tab, cmp_slot);
    struct snap_cell *out = xcalloc(w ? w : 1, sizeof *out);
    for (size_t j = 0; j < w; j++) {
        uint64_t key = tab[j].key - 1;
        for (size_t k = nby; k-- > 0;) {
            out[j].code[k] = (uint16_t)(key % radix[k]);
            key /= radix[k];
        }
        out[j].n = tab[j].n;
    }
    free(tab);
    *cells = out;
    *ncells = w;
    return 0;
}

/* What the Kaplan-Meier counting loop reads (snapshot_km_count). */
struct km_scan {
    const uint16_t *code;               /* by's codes; NULL: one stratum */
    uint32_t ncodes;                    /* strata; stratum ncodes takes the rows left out */
    const int32_t *time;
    const uint8_t *event;               /* 0 .. nstates - 1 */
    const uint16_t *bin;                /* time -> bin */
    size_t nbins;
};

/*
 * Count row i into cnt.  The row makes one counter index from its stratum,
 * time bin and event; rows left out (filter, missing or foreign code) count
 * in stratum ncodes, one past the last, which nobody reads: no branch and no
 * call per row.
 */
static inline __attribute__((always_inline)) void
km_count_row(const struct snapshot *s, const struct snap_filter *f, int filter,
    const struct km_scan *k, int by, size_t ns, size_t i, uint32_t *cnt)
{
    uint32_t c = by ? k->code[i] : 0;
    int ok = !filter || snapshot_row_passes(s, f, i);
    c = ok && c < k->ncodes ? c : k->ncodes;
    cnt[((size_t)c * k->nbins + k->bin[k->time[i]]) * ns + k->event[i]]++;
}

/*
 * The counting loop, inlined with constant filter, by (0 or 1) and ns (the
 * states: 2 for km, 3 for cif) so each case is its own tight loop.  Even and odd rows count into two copies of
 * the table (cnt and cnt + half), summed at the end: rows in a row that hit
 * the same counter (few strata, popular times) then do not wait on each
 * other's increment.
 */
static inline __attribute__((always_inline)) void
km_count_rows(const struct snapshot *s, const struct snap_filter *f, int filter,
    const struct km_scan *k, int by, size_t ns, uint32_t *cnt, size_t half)
{
    size_t i = 0;
    for (; i + 1 < s->n; i += 2) {
        km_count_row(s, f, filter, k, by, ns, i, cnt);
        km_count_row(s, f, filter, k, by, ns, i + 1, cnt + half);
    }
    if (i < s->n)
        km_count_row(s, f, filter, k, by, ns, i, cnt);
    for (size_t j = 0; j < half; j++)
        cnt[j] += cnt[half + j];
}

/* km_count_rows for each constant filter and by, with ns constant too. */
static inline __attribute__((always_inline)) void
km_count_cases(const struct snapshot *s, const struct snap_filter *f, const struct km_scan *k,
    int by, size_t ns, uint32_t *c, size_t half)
{
    if (by && f->nterms > 0)
        km_count_rows(s, f, 1, k, 1, ns, c, half);
    else if (by)
        km_count_rows(s, f, 0, k, 1, ns, c, half);
    else if (f->nterms > 0)
        km_count_rows(s, f, 1, k, 0, ns, c, half);
    else
        km_count_rows(s, f, 0, k, 0, ns, c, half);
}

/*
 * One pass over three or four columns into a table of strata x bins x
 * states counters (uint32: SNAP_MAX_ROWS < 2^32).  The time of a row goes to
 * its bin through a lookup table of every time 0 .. tmax of the column,
 * built once per query by runs of grid times, so the pass does no division.
 * The rows left out are counted too (in the extra stratum): cheaper than a
 * branch.
 */
int
snapshot_km_count(const struct snapshot *s, const struct snap_filter *f,
    const struct var_def *by, int outcome, int32_t grid, uint32_t **cnt, size_t *nbins)
{
    *cnt = NULL;
    *nbins = 0;
    int efs = outcome != SNAP_KM_OS;
    size_t ns = SNAP_KM_STATES(outcome);
    int32_t tmax = efs ? s->efs_tmax : s->os_tmax;
    uint32_t ncodes = by ? s->ncodes[by->id] : 1;
    if (tmax < 0 || tmax >= SNAP_KM_TIMES || grid < 0)
        return 1;
    size_t g = grid > 0 ? (size_t)grid : 1;
    size_t nb = ((size_t)tmax + g - 1) / g + 1;         /* bins 0 .. ceil(tmax / g) */
    if (((size_t)ncodes + 1) * nb > s->n / 2 + SNAP_DENSE_CELLS)
        return 1;
    uint16_t *bin = xcalloc((size_t)tmax + 1, sizeof *bin);
    for (size_t t = 1, b = 1; t <= (size_t)tmax; b++)   /* 1 .. g -> 1, g+1 .. 2g -> 2, ... */
        for (size_t j = 0; j < g && t <= (size_t)tmax; j++)
            bin[t++] = (uint16_t)b;
    struct km_scan k = {
        .code = by ? s->code[by->id] : NULL,
        .ncodes = ncodes,
        .time = efs ? s->efs_time : s->os_time,
        .event = outcome == SNAP_KM_CIF ? s->cif_state : efs ? s->efs_event : s->os_event,
        .bin = bin,
        .nbins = nb,
    };
    size_t half = ((size_t)ncodes + 1) * nb * ns;
    uint32_t *c = xcalloc(2 * half, sizeof *c);
    if (ns == 3)
        km_count_cases(s, f, &k, by != NULL, 3, c, half);
    else
        km_count_cases(s, f, &k, by != NULL, 2, c, half);
    free(bin);
    *cnt = c;
    *nbins = nb;
    return 0;
}
