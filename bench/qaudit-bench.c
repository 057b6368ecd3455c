/*
 * qaudit-bench - the node's disclosure auditor (node/qaudit.h) alone: its
 * cost per query and its memory after many queries, on a real store.
 *
 *   qaudit-bench DB QUERIES [SEED]
 *
 * DB is a store made by `fedra-node import` (its qaudit tables are written
 * to: use a copy).  Runs QUERIES distinct queries, answered by the kinds'
 * rows (node/kind.h) as the node answers them, then audited and committed:
 * nine in ten are counts on a random age band (and, one in two, a random
 * diagnosis-year band) grouped by nothing, stage, sex, stage and sex, or
 * tumour type; one in ten is a km by stage on such a band.  Prints, as
 * RESULT lines read by bench/run:
 *   the auditor's time per query (qaudit_admit + qaudit_commit; median, p99),
 *   its memory at the end (three derive systems, bytes -> MiB),
 *   stored sets at the end,
 *   the rebuild time (qaudit_open replaying the stored history, ms),
 * and the refused / withheld tallies on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "node/kind.h"
#include "node/qaudit.h"
#include "node/snapshot.h"
#include "node/store.h"

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: qaudit-bench DB QUERIES [SEED]\n");
        return 2;
    }
    long nq = atol(argv[2]);
    srand(argc > 3 ? (unsigned)atoi(argv[3]) : 1u);
    char err[FEDRA_ERRLEN];
    struct store *st;
    struct snapshot *snap;
    if (nq < 1 || store_open(argv[1], 0, &st, err) != 0 || snapshot_load(st, &snap, err) != 0) {
        fprintf(stderr, "qaudit-bench: %s\n", nq < 1 ? "QUERIES must be >= 1" : err);
        return 1;
    }
    struct disclose_policy pol = {DISCLOSE_DEFAULT_MIN_CELL, DISCLOSE_DEFAULT_GRID_DAYS,
        DISCLOSE_DEFAULT_EVENTS_PER_PARAM};
    struct qaudit *qa = qaudit_open(store_db(st), snap, pol.min_cell, 0, NULL, err);
    if (qa == NULL) {
        fprintf(stderr, "qaudit-bench: %s\n", err);
        return 1;
    }
    static const char *const bys[][2] = {{NULL, NULL}, {"stage", NULL}, {"sex", NULL},
        {"stage", "sex"}, {"tumour_type", NULL}};
    double *ms = xcalloc((size_t)nq, sizeof *ms);
    long refused = 0, withheld_q = 0;
    struct node_kind_ctx ctx = {.snap = snap, .software = "bench"};
    for (long i = 0; i < nq; i++) {
        Fedra__QuerySpec q = FEDRA__QUERY_SPEC__INIT;
        Fedra__Filter w[4], *wp[4];
        char lo[16], hi[16], ylo[16], yhi[16], *v[4][1];
        char *by[2];
        int a = rand() % 20, b = a + 1 + rand() % 10, y = 2000 + rand() % 22, z = y + 1 + rand() % 8;
        snprintf(lo, sizeof lo, "%d", a);
        snprintf(hi, sizeof hi, "%d", b);
        snprintf(ylo, sizeof ylo, "%d", y);
        snprintf(yhi, sizeof yhi, "%d", z);
        const char *vars[4] = {"age_years", "age_years", "diagnosis_year", "diagnosis_year"};
        Fedra__Op ops[4] = {FEDRA__OP__OP_GE, FEDRA__OP__OP_LT, FEDRA__OP__OP_GE,
            FEDRA__OP__OP_LT};
        char *vals[4] = {lo, hi, ylo, yhi};
        size_t nw = rand() % 2 ? 4 : 2;
        for (size_t k = 0; k < nw; k++) {
            fedra__filter__init(&w[k]);
            w[k].var = (char *)vars[k];
            w[k].op = ops[k];
            v[k][0] = vals[k];
            w[k].values = v[k];
            w[k].n_values = 1;
            wp[k] = &w[k];
        }
        q.where = wp;
        q.n_where = nw;
        q.grid_days = 30;
        int km = i % 10 == 9;
        q.kind = km ? FEDRA__KIND__KIND_KM : FEDRA__KIND__KIND_COUNT;
        size_t pick = km ? 1 : (size_t)rand() % 5;
        for (size_t k = 0; k < 2 && bys[pick][k]; k++)
            by[q.n_group_by++] = (char *)bys[pick][k];
        q.group_by = by;
        const struct node_kind *kd = node_kind_get(q.kind);
        struct node_answer ans;
        if (node_kind_answer(kd, &ctx, &pol, &q, &ans, err) == 0) {
            char sum[256];
            double t0 = now_ms();
            const char *code = qaudit_admit(qa, store_db(st), snap, kd, &pol, &q, &ans, "bench",
                "0", 1, err);
            if (code == NULL)
                qaudit_commit(qa);
            ms[i] = now_ms() - t0;
            refused += code != NULL;
            if (code != NULL && strcmp(code, "differencing") != 0) {
                fprintf(stderr, "qaudit-bench: %s: %s\n", code, err);
                return 1;
            }
            kd->summary(&ans, &q, sum, sizeof sum);
            withheld_q += strstr(sum, "withheld") != NULL;
        }
        kd->free_answer(&ans);
    }
    uint64_t stored;
    size_t nsets[3], bytes;
    qaudit_stats(qa, &stored, nsets, &bytes);
    qsort(ms, (size_t)nq, sizeof *ms, cmp_double);
    printf("RESULT %.4g %.4g %ld ms\n", ms[nq / 2], ms[(size_t)((double)nq * 0.99)], nq);
    printf("RESULT %.4g %.4g 1 MiB\n", (double)bytes / 1048576.0, (double)bytes / 1048576.0);
    printf("RESULT %llu %llu 1 sets\n", (unsigned long long)stored, (unsigned long long)stored);
    qaudit_close(qa);
    double t0 = now_ms();
    int64_t rebuild = 0;
    qa = qaudit_open(store_db(st), snap, pol.min_cell, 0, &rebuild, err);
    double t1 = now_ms() - t0;
    printf("RESULT %.4g %.4g 1 ms\n", t1, t1);
    fprintf(stderr, "qaudit-bench: %zu rows, %ld queries: %ld refused, %ld with items "
        "withheld; independent sets key %zu full %zu surv %zu\n", snap->n, nq, refused,
        withheld_q, nsets[0], nsets[1], nsets[2]);
    qaudit_close(qa);
    free(ms);
    snapshot_free(snap);
    store_free(st);
    return 0;
}
