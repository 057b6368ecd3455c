/*
 * kind_count - the count query: patients per combination of up to
 * SNAP_MAX_GROUP grouping variables among the rows the filter selects.
 *
 *   execute  one scan (snapshot_count) into cells with their true counts
 *   release  the small-cell rule: a cell of 1 .. min_cell-1 patients is
 *            sent as suppressed, with no count (max_hidden says how many
 *            a suppressed cell may hide); the query itself is never refused
 *   sets     every released cell: its key set (outcome conditions dropped)
 *            and its rows (node/qaudit.h); without a grouping variable other
 *            than vital_status the key set is the query's whole cohort
 *   withhold a cell the disclosure auditor does not admit is sent with
 *            count 0 and `withheld` (complementary suppression; its count
 *            is unknown, not bounded by max_hidden)
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
    struct snap_cell *snapcells;    /* the cells' codes, for the auditor's sets */
    size_t nsuppressed;             /* cells suppressed by release */
    size_t nwithheld;               /* cells withheld by the auditor */
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
    a->snapcells = cells;
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

/* The group of ${g} with ${key}, or NULL (groups ascend by key). */
static const struct qaudit_group *
group_find(const struct qaudit_groups *g, uint64_t key)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->v[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g->n && g->v[lo].key == key ? &g->v[lo] : NULL;
}

/*
 * Each released cell (not suppressed): its rows (full set) and its key set,
 * the cell with vital_status filters dropped and its vital_status level
 * merged.  Without another grouping variable every cell's key set is the
 * cohort: one key candidate for the whole answer (refused if it fails),
 * and the cells' full sets as items.
 */
static void
count_sets(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, const struct node_answer *ans, struct qaudit_sets *out)
{
    const struct count_answer *a = ans->stat;
    (void)policy;
    struct qaudit_groups full, key;
    qaudit_groups(snap, spec, 0, &full);
    qaudit_groups(snap, spec, 1, &key);
    int keyed = qaudit_keyed(spec);
    size_t nby = spec->n_group_by;
    int released = 0;
    for (size_t i = 0; i < a->count.n_cells; i++)
        released |= !a->cellp[i]->suppressed;
    if (!keyed && key.n == 1 && released)
        qaudit_add_key(out, QAUDIT_WHOLE, key.v[0].rows, key.v[0].n);
    for (size_t i = 0; i < a->count.n_cells; i++) {
        if (a->cellp[i]->suppressed)
            continue;
        uint64_t fk = 0;
        for (size_t k = 0; k < nby; k++)
            fk = fk << 16 | a->snapcells[i].code[k];
        const struct qaudit_group *fg = group_find(&full, fk);
        const struct qaudit_group *kg =
            group_find(&key, qaudit_blind_key(spec, a->snapcells[i].code));
        if (fg == NULL || kg == NULL) {     /* cannot be: the cell's rows are a group */
            qaudit_add_key(out, QAUDIT_WHOLE, NULL, 0);
            continue;
        }
        if (keyed)
            qaudit_add(out, (long)i, kg->rows, kg->n, fg->rows, fg->n);
        else
            qaudit_add(out, (long)i, NULL, 0, fg->rows, fg->n);
    }
    qaudit_groups_free(&full);
    qaudit_groups_free(&key);
}

static void
count_withhold(struct node_answer *ans, long item, int32_t from)
{
    struct count_answer *a = ans->stat;
    (void)from;
    if (item < 0 || (size_t)item >= a->count.n_cells || a->cellp[item]->withheld)
        return;
    a->cellp[item]->withheld = 1;
    a->cellp[item]->count = 0;
    a->nwithheld++;
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
    int w = snprintf(buf, len, "count: %zu cells, %zu suppressed", a->count.n_cells,
        a->nsuppressed);
    if (a->nwithheld > 0 && w > 0 && (size_t)w < len)
        snprintf(buf + w, len - (size_t)w, ", %zu withheld", a->nwithheld);
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
        free(a->snapcells);
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
    .withhold = count_withhold,
    .result = count_result,
    .summary = count_summary,
    .free_answer = count_free,
};
