/*
 * derive-bench - the time and memory of the derivation auditor
 * (analysis/derive.h) on a synthetic node and a realistic query stream.
 * Not part of `make check` (it measures; it asserts nothing).
 *
 *   make build/bench/derive-bench
 *   build/bench/derive-bench ROWS QUERIES [K [SEED]]
 *   e.g. nice build/bench/derive-bench 1000000 10000 5
 *
 * The data: ROWS patients with sex (2 levels), stage (4), tumour type (17,
 * Zipf-like frequencies), vital status (2), treatment (5), age 0..24 and
 * diagnosis year 1990..2025.  The stream, each query as the node's auditor
 * models it (docs/query-set-auditor.md, "What is remembered"):
 *   55%  count --by one or two of the five categorical variables: the cells
 *        with >= K rows (smaller ones are suppressed and never candidates),
 *        then the margins (each level of each variable, and the total) as
 *        unions of the released cells;
 *   25%  a cohort count: one set;
 *   20%  km by stage: the strata with >= K rows, then their union;
 *   each with no filter (half), or an age or year range (a quarter each);
 *   30% of the queries repeat an earlier one exactly.
 * Every query is one derive_admit() (its candidates in that order) and a
 * derive_commit(), timed together on CLOCK_MONOTONIC; building the row sets
 * is not timed (the node has them from its scan).
 *
 * Output: one line per figure: median, p99 and max time per query, the kept
 * and withheld sets, the final rank, atoms and derive_bytes().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/derive.h"

#define NVAR 5
#define MAX_CELLS 17 * 17            /* two variables' level combinations */
#define MAX_CAND (MAX_CELLS + 17 + 17 + 1)

static const int levels[NVAR] = {2, 4, 17, 2, 5};
static const char *const names[NVAR] = {"sex", "stage", "tumour", "vital", "treatment"};

struct query {
    int kind;                        /* 0 count, 1 cohort, 2 km */
    int v1, v2;                      /* count: variables (v2 -1: one) */
    int fvar, lo, hi;                /* filter: 0 none, 1 age, 2 year; range lo..hi */
};

static uint64_t
rng(uint64_t *s)                     /* xorshift64* */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static int
rnd(uint64_t *s, int n)
{
    return (int)(rng(s) % (uint64_t)n);
}

static int
weighted(uint64_t *s, const double *w, int n)
{
    double tot = 0, u;
    for (int i = 0; i < n; i++)
        tot += w[i];
    u = (double)(rng(s) >> 11) / 9007199254740992.0 * tot;
    for (int i = 0; i < n; i++) {
        if (u < w[i])
            return i;
        u -= w[i];
    }
    return n - 1;
}

static double
now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Candidate lists, filled by build(). */
struct cands {
    uint32_t *buf;                   /* backing store: 4 x ROWS */
    const uint32_t *rows[MAX_CAND];
    size_t n[MAX_CAND];
    size_t ncand;
};

/*
 * The sets of query ${q}: cells (groups of the filtered rows by the key)
 * with >= k rows, then the margins as unions of released cells.
 */
static void
build(const struct query *q, uint32_t nrows, uint8_t *const *var, const uint8_t *age,
    const uint16_t *year, uint32_t k, struct cands *c, uint32_t *key)
{
    int v1 = q->kind == 1 ? -1 : q->kind == 2 ? 1 : q->v1;
    int v2 = q->kind == 0 ? q->v2 : -1;
    int l1 = v1 < 0 ? 1 : levels[v1], l2 = v2 < 0 ? 1 : levels[v2];
    int ncell = l1 * l2;
    size_t cnt[MAX_CELLS] = {0};
    uint32_t nf = 0;
    for (uint32_t r = 0; r < nrows; r++) {
        int pass = q->fvar == 0 || (q->fvar == 1 && age[r] >= q->lo && age[r] <= q->hi) ||
            (q->fvar == 2 && year[r] >= q->lo && year[r] <= q->hi);
        if (!pass) {
            key[r] = UINT32_MAX;
            continue;
        }
        key[r] = (uint32_t)((v1 < 0 ? 0 : var[v1][r]) * l2 + (v2 < 0 ? 0 : var[v2][r]));
        cnt[key[r]]++;
        nf++;
    }
    /* Cells with >= k rows, laid out one after the other (rows ascending). */
    size_t off[MAX_CELLS], at = 0, fill[MAX_CELLS];
    int released[MAX_CELLS], nrel = 0;
    c->ncand = 0;
    for (int x = 0; x < ncell; x++) {
        released[x] = cnt[x] >= k;
        off[x] = at;
        fill[x] = 0;
        if (released[x]) {
            at += cnt[x];
            nrel++;
        }
    }
    for (uint32_t r = 0; r < nrows; r++)
        if (key[r] != UINT32_MAX && released[key[r]])
            c->buf[off[key[r]] + fill[key[r]]++] = r;
    for (int x = 0; x < ncell; x++)
        if (released[x]) {
            c->rows[c->ncand] = c->buf + off[x];
            c->n[c->ncand++] = cnt[x];
        }
    if (nrel < 2)
        return;
    /* Margins: per level of v1, of v2 (two variables), then the total. */
    int nm1 = v2 >= 0 ? l1 : 0, nm2 = v2 >= 0 ? l2 : 0;
    size_t moff[17 + 17 + 1], mcnt[17 + 17 + 1] = {0};
    for (uint32_t r = 0; r < nrows; r++)
        if (key[r] != UINT32_MAX && released[key[r]]) {
            if (v2 >= 0) {
                mcnt[key[r] / (uint32_t)l2]++;
                mcnt[nm1 + key[r] % (uint32_t)l2]++;
            }
            mcnt[nm1 + nm2]++;
        }
    for (int m = 0; m < nm1 + nm2 + 1; m++) {
        moff[m] = at;
        at += mcnt[m];
        mcnt[m] = 0;
    }
    for (uint32_t r = 0; r < nrows; r++)
        if (key[r] != UINT32_MAX && released[key[r]]) {
            if (v2 >= 0) {
                int a = (int)(key[r] / (uint32_t)l2), b = nm1 + (int)(key[r] % (uint32_t)l2);
                c->buf[moff[a] + mcnt[a]++] = r;
                c->buf[moff[b] + mcnt[b]++] = r;
            }
            c->buf[moff[nm1 + nm2] + mcnt[nm1 + nm2]++] = r;
        }
    for (int m = 0; m < nm1 + nm2 + 1; m++)
        if (mcnt[m] > 0) {
            c->rows[c->ncand] = c->buf + moff[m];
            c->n[c->ncand++] = mcnt[m];
        }
    (void)nf;
}

int
main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: derive-bench ROWS QUERIES [K [SEED]]\n");
        return 2;
    }
    uint32_t nrows = (uint32_t)strtoul(argv[1], NULL, 10);
    int nq = (int)strtol(argv[2], NULL, 10);
    uint32_t k = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 5;
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    if (nrows == 0 || nrows > DERIVE_MAX_ROWS || nq <= 0 || k == 0) {
        fprintf(stderr, "derive-bench: bad arguments\n");
        return 2;
    }
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 7;
    uint8_t *var[NVAR];
    uint8_t *age = malloc(nrows);
    uint16_t *year = malloc((size_t)nrows * 2);
    uint32_t *key = malloc((size_t)nrows * 4);
    struct cands c;
    c.buf = malloc((size_t)nrows * 4 * 4);
    double w[17];
    for (int v = 0; v < NVAR; v++) {
        var[v] = malloc(nrows);
        for (int l = 0; l < levels[v]; l++)
            w[l] = v == 2 ? 1.0 / (l + 1) : v == 1 ? 4 - l : v == 3 ? (l ? 3 : 7) : 1;
        for (uint32_t r = 0; r < nrows; r++)
            var[v][r] = (uint8_t)weighted(&s, w, levels[v]);
    }
    for (uint32_t r = 0; r < nrows; r++) {
        age[r] = (uint8_t)(rnd(&s, 2) ? rnd(&s, 25) : rnd(&s, 8));
        year[r] = (uint16_t)(1990 + rnd(&s, 36));
    }
    struct derive *d = derive_new(nrows, k, 0, seed);
    struct query *hist = malloc((size_t)nq * sizeof *hist);
    double *ms = malloc((size_t)nq * sizeof *ms);
    unsigned char kept[MAX_CAND];
    char err[DERIVE_ERRLEN];
    long nkept = 0, nwith = 0, ncands = 0;
    double t0 = now_ms();
    for (int i = 0; i < nq; i++) {
        struct query q;
        if (i > 0 && rnd(&s, 10) < 3) {
            q = hist[rnd(&s, i)];
        } else {
            int u = rnd(&s, 20);
            q.kind = u < 11 ? 0 : u < 16 ? 1 : 2;
            q.v1 = rnd(&s, NVAR);
            q.v2 = rnd(&s, 2) ? -1 : (q.v1 + 1 + rnd(&s, NVAR - 1)) % NVAR;
            int f = rnd(&s, 4);
            q.fvar = f < 2 ? 0 : f - 1;
            int span = q.fvar == 1 ? 25 : 36, base = q.fvar == 2 ? 1990 : 0;
            int a = rnd(&s, span), b = rnd(&s, span);
            q.lo = base + (a < b ? a : b);
            q.hi = base + (a < b ? b : a);
        }
        hist[i] = q;
        build(&q, nrows, var, age, year, k, &c, key);
        double t = now_ms();
        int rc = derive_admit(d, c.rows, c.n, c.ncand, kept, err);
        derive_commit(d);
        ms[i] = now_ms() - t;
        if (rc < 0) {
            fprintf(stderr, "derive-bench: query %d: %s\n", i, err);
            return 1;
        }
        if (getenv("DERIVE_BENCH_TRACE") && i % 10 == 0)
            fprintf(stderr, "q %d: sets %zu atoms %u bytes %.1f MB last %.2f ms\n", i,
                derive_nsets(d), derive_natoms(d), derive_bytes(d) / 1e6, ms[i]);
        nkept += rc;
        nwith += (long)c.ncand - rc;
        ncands += (long)c.ncand;
    }
    double total = now_ms() - t0;
    qsort(ms, (size_t)nq, sizeof *ms, cmp_double);
    double sum = 0;
    for (int i = 0; i < nq; i++)
        sum += ms[i];
    printf("rows %u queries %d k %u seed %llu\n", nrows, nq, k, (unsigned long long)seed);
    printf("admit+commit per query: median %.3f ms  p99 %.3f ms  max %.3f ms  mean %.3f ms\n",
        ms[nq / 2], ms[(size_t)((nq - 1) * 0.99)], ms[nq - 1], sum / nq);
    printf("candidate sets %ld: kept %ld, withheld %ld\n", ncands, nkept, nwith);
    printf("final: independent sets %zu, atoms %u, derive_bytes %.1f MB (%.1f bytes/row)\n",
        derive_nsets(d), derive_natoms(d), derive_bytes(d) / 1e6,
        (double)derive_bytes(d) / nrows);
    printf("wall (with building the sets) %.1f s\n", total / 1e3);
    (void)names;
    derive_free(d);
    for (int v = 0; v < NVAR; v++)
        free(var[v]);
    free(age), free(year), free(key), free(c.buf), free(hist), free(ms);
    return 0;
}
