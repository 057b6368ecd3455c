/*
 * kind_count - the count query: patients per combination of up to
 * SNAP_MAX_GROUP grouping variables among the rows the filter selects.
 *
 *   execute  one scan (snapshot_count) into cells with their true counts
 *   release  the small-cell rule: a cell of 1 .. min_cell-1 patients is
 *            sent as suppressed, with no count (max_hidden says how many
 *            a suppressed cell may hide); the query itself is never refused
 *   sets     every released cell, and their unions by margin (qaudit.h)
 *
 * Nothing row-level leaves: only cells that went through release.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/kind.h"
#include "node/qaudit.h"
#include "node/select.h"

/* Memory behind a filled CountResult. */
struct count_answer {
    Fedra__CountResult count;
    Fedra__Cell *cells;
    Fedra__Cell **cellp;
    char **levels;                  /* ncells * nby pointers */
    char (*numbers)[16];            /* text of integer levels */
    size_t nsuppressed;             /* cells suppressed by release */
};

/* The grouping variables, each named once; -1 with err otherwise. */
static int
count_group(const Fedra__QuerySpec *spec, enum var_id by[SNAP_MAX_GROUP], char *err)
{
    size_t nby = spec->n_group_by;
    if (nby > SNAP_MAX_GROUP)
        return errf(err, "%zu group-by variables (limit %d)", nby, SNAP_MAX_GROUP);
    for (size_t k = 0; k < nby; k++) {
        const struct var_def *d = vars_find(spec->group_by[k]);
        if (d == NULL)
            return errf(err, "unknown variable '%.32s' (variables: %s)", spec->group_by[k],
                vars_names());
        for (size_t j = 0; j < k; j++)
            if (by[j] == d->id)
                return errf(err, "variable '%s' is named twice in the grouping", d->name);
        by[k] = d->id;
    }
    return 0;
}

/* The snapshot's cells as wire cells with their true counts and level texts. */
static void
count_fill(const struct snapshot *snap, const enum var_id *by, size_t nby,
    const struct snap_cell *cells, size_t n, struct count_answer *a)
{
    a->cells = xcalloc(n, sizeof *a->cells);
    a->cellp = xcalloc(n, sizeof *a->cellp);
    a->levels = xcalloc(n * nby, sizeof *a->levels);
    a->numbers = xcalloc(n * nby, sizeof *a->numbers);
    for (size_t i = 0; i < n; i++) {
        Fedra__Cell *c = &a->cells[i];
        fedra__cell__init(c);
        for (size_t k = 0; k < nby; k++) {
            size_t at = i * nby + k;
            /* snapshot_level returns static, dictionary or numbers[at] storage. */
            a->levels[at] = (char *)snapshot_level(snap, by[k], cells[i].code[k],
                a->numbers[at]);
        }
        c->n_levels = nby;
        c->levels = nby ? &a->levels[i * nby] : NULL;
        c->count = cells[i].n;
        a->cellp[i] = c;
    }
    a->count.n_cells = n;
    a->count.cells = a->cellp;
}

static int
count_execute(const struct node_kind_ctx *ctx, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err)
{
    struct count_answer *a = xcalloc(1, sizeof *a);
    ans->stat = a;
    fedra__count_result__init(&a->count);
    enum var_id by[SNAP_MAX_GROUP];
    if (count_group(spec, by, err) != 0)
        return -1;
    struct snap_filter f;
    if (select_compile(ctx->snap, spec, &f, err) != 0)
        return -1;
    struct snap_cell *cells;
    size_t n;
    int rc = snapshot_count(ctx->snap, &f, by, spec->n_group_by, &cells, &n, err);
    snapshot_filter_release(&f);
    if (rc != 0)
        return -1;
    if (n > WIRE_MAX_CELLS) {
        free(cells);
        return errf(err, "%zu cells, over the limit of %d; group by fewer variables", n,
            WIRE_MAX_CELLS);
    }
    count_fill(ctx->snap, by, spec->n_group_by, cells, n, a);
    free(cells);
    return 0;
}

static int
count_release(const struct disclose_policy *policy, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err)
{
    struct count_answer *a = ans->stat;
    (void)spec;
    (void)err;
    for (size_t i = 0; i < a->count.n_cells; i++) {
        Fedra__Cell *c = a->cellp[i];
        if (disclose_suppress(policy, c->count)) {
            c->suppressed = 1;
            c->count = 0;
            a->nsuppressed++;
        }
    }
    a->count.max_hidden = disclose_max_hidden(policy);
    return 0;
}

/* Released cells are those of min_cell or more patients. */
static void
count_sets(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct qaudit_sets *out)
{
    qaudit_sets_groups(out, snap, spec, policy->min_cell);
}

static void
count_result(const struct node_answer *ans, Fedra__ResponseBody *rb)
{
    rb->count = &((struct count_answer *)ans->stat)->count;
}

static void
count_summary(const struct node_answer *ans, const Fedra__QuerySpec *spec, char *buf,
    size_t len)
{
    const struct count_answer *a = ans->stat;
    (void)spec;
    snprintf(buf, len, "count: %zu cells, %zu suppressed", a->count.n_cells, a->nsuppressed);
}

static void
count_free(struct node_answer *ans)
{
    struct count_answer *a = ans->stat;
    if (a != NULL) {
        free(a->cells);
        free(a->cellp);
        free(a->levels);
        free(a->numbers);
        free(a);
    }
    memset(ans, 0, sizeof *ans);
}

const struct node_kind node_kind_count = {
    .kind = FEDRA__KIND__KIND_COUNT,
    .name = "count",
    .admit = NULL,
    .execute = count_execute,
    .release = count_release,
    .sets = count_sets,
    .result = count_result,
    .summary = count_summary,
    .free_answer = count_free,
};
