/*
 * kind_count - the count kind and the count command: pooled counts of the
 * combinations of up to four variables, optionally with Pearson's
 * chi-square test of a two-way table.
 *
 * Level order in the output is the catalogue's (report_levels_sort); the
 * merge itself is analysis/counts.h, on codes that follow that order.  A
 * node's suppressed cell (1 .. min_cell-1) adds 0 to count and the largest
 * value it could hide to count_max.  A node's withheld cell (complementary
 * suppression, docs/disclosure.md §6) adds 0 to count and makes count_max
 * unknown: empty in CSV, null in JSON, "withheld" in the table.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analysis/chisq.h"
#include "analysis/counts.h"
#include "analysis/disclose.h"
#include "coord/kind.h"
#include "lib/util.h"
#include "proto/vars.h"

/* ---- checking one answer ---- */

/*
 * One cell's count against the node's own suppression rule: a suppressed
 * or withheld cell carries no count, and a released one is 0 or above
 * max_hidden (a count in 1 .. max_hidden is one the node should have
 * suppressed, so it is not what the node's rule gives).
 */
static int
check_cell_count(const Fedra__CountResult *c, const Fedra__Cell *cell, char *why)
{
    if (cell->suppressed && cell->count != 0)
        return errf(why, "a suppressed cell carries a count");
    if (cell->withheld && cell->count != 0)
        return errf(why, "a withheld cell carries a count");
    if (!cell->suppressed && !cell->withheld && cell->count >= 1 && cell->count <= c->max_hidden)
        return errf(why, "released a count of %" PRIu64 ", inside its suppression range 1 .. %u",
            cell->count, c->max_hidden);
    return 0;
}

static int
check_count(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why)
{
    const Fedra__CountResult *c = b->count;
    if (c == NULL)
        return errf(why, "answered without a count result");
    /* max_hidden is min_cell - 1, and no node's min_cell exceeds the protocol's ceiling. */
    if (c->max_hidden > DISCLOSE_MAX_MIN_CELL - 1)
        return errf(why, "claims max_hidden %u, above min_cell - 1 for the largest min_cell "
            "(%d) a node may have", c->max_hidden, DISCLOSE_MAX_MIN_CELL);
    char **keys = xcalloc(c->n_cells, sizeof *keys);
    int rc = 0;
    for (size_t j = 0; j < c->n_cells && rc == 0; j++) {
        const Fedra__Cell *cell = c->cells[j];
        struct buf key = {0};
        if (cell->n_levels != spec->n_group_by)
            rc = errf(why, "a cell has %zu levels for %zu grouping variables", cell->n_levels,
                spec->n_group_by);
        for (size_t k = 0; k < cell->n_levels && rc == 0; k++) {
            if (!report_level_ok(spec, k, cell->levels[k]))
                rc = errf(why, "sent an unknown level '%.64s' of %s", cell->levels[k],
                    spec->group_by[k]);
            buf_puts(&key, cell->levels[k]);
            buf_append(&key, "\x1f", 1);
        }
        if (rc == 0)
            rc = check_cell_count(c, cell, why);
        if (rc == 0 && cell->count > b->data_rows)
            rc = errf(why, "a cell count exceeds the node's %" PRIu64 " rows", b->data_rows);
        keys[j] = buf_detach(&key);
    }
    if (rc == 0 && !report_all_distinct(keys, c->n_cells))
        rc = errf(why, "sent the same cell twice");
    for (size_t j = 0; j < c->n_cells; j++)
        free(keys[j]);
    free(keys);
    return rc;
}

/*
 * The chi-square test needs exact cells: with any cell suppressed at a node
 * it is refused rather than computed on a bound.  Levels are those present
 * in the pooled data, as table() makes them from character columns.
 */
static json_t *
count_chisq(const struct counts_table *t, const struct report_levels *lv, char *err)
{
    size_t nr = lv[0].n, nc = lv[1].n;
    for (size_t j = 0; j < t->ncells; j++)
        if (t->cells[j].nsuppressed || t->cells[j].nwithheld) {
            errf(err, "the chi-square test needs exact counts, and some cells were suppressed "
                "by a node's min_cell or withheld by its disclosure auditor");
            return NULL;
        }
    if (nr > CHISQ_MAX_DIM || nc > CHISQ_MAX_DIM) {
        errf(err, "the chi-square test takes at most %d levels per variable", CHISQ_MAX_DIM);
        return NULL;
    }
    uint64_t *m = xcalloc(nr * nc, sizeof *m);
    for (size_t j = 0; j < t->ncells; j++)
        m[(size_t)t->cells[j].key[0] * nc + (size_t)t->cells[j].key[1]] = t->cells[j].count;
    struct chisq_result cr;
    int rc = chisq_test(m, nr, nc, 1, NULL, &cr);
    free(m);
    if (rc != 0) {
        errf(err, "chi-square test: %s", chisq_strerror(rc));
        return NULL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "statistic", json_real(cr.statistic));
    json_object_set_new(o, "df", json_integer(cr.df));
    json_object_set_new(o, "p", json_real(cr.p));
    json_object_set_new(o, "yates", json_boolean(cr.yates_applied));
    json_object_set_new(o, "min_expected", json_real(cr.min_expected));
    return o;
}

/* The test as R prints it, from count_chisq's object. */
static void
print_chisq(FILE *f, const json_t *o)
{
    fprintf(f, "Pearson's Chi-squared test%s\nX-squared = %.17g, df = %d, p-value = %.17g\n",
        json_is_true(json_object_get(o, "yates")) ? " with Yates' continuity correction" : "",
        json_real_value(json_object_get(o, "statistic")),
        (int)json_integer_value(json_object_get(o, "df")),
        json_real_value(json_object_get(o, "p")));
    double me = json_real_value(json_object_get(o, "min_expected"));
    if (me < 5)
        fprintf(f, "warning: chi-squared approximation may be incorrect (smallest expected "
            "count %.3g)\n", me);
}


/* ---- merging ---- */

/* The pooled table: the levels of each variable and the merged cells. */
struct count_merged {
    char *const *by;
    size_t nby;
    struct report_levels lv[COUNTS_MAX_VARS];
    struct counts_table t;
    const struct counts_cell *rows;     /* t's cells, or one zero row without grouping */
    size_t nrows;
    struct counts_cell zero;
    json_t *chisq;                      /* count_chisq's object, or NULL */
};

/*
 * Every cell of every ok answer (one level per variable: checked): pass 0
 * collects the level texts, pass 1 merges the cells on the codes of the
 * sorted levels.
 */
static int
count_pass(const struct report *r, struct count_merged *m, int merge, char *err)
{
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__CountResult *cr = r->replies[i].body ? r->replies[i].body->count : NULL;
        if (r->replies[i].status != NODE_OK || cr == NULL)
            continue;
        for (size_t c = 0; c < cr->n_cells; c++) {
            const Fedra__Cell *cell = cr->cells[c];
            int64_t key[COUNTS_MAX_VARS] = {0};
            if (cell->n_levels != m->nby)
                continue;
            for (size_t k = 0; k < m->nby && !merge; k++)
                report_levels_add(&m->lv[k], cell->levels[k]);
            for (size_t k = 0; k < m->nby && merge; k++)
                key[k] = report_levels_code(&m->lv[k], cell->levels[k]);
            uint64_t hidden = cell->withheld ? COUNTS_WITHHELD
                : cell->suppressed ? (cr->max_hidden ? cr->max_hidden : 1) : 0;
            if (merge && counts_add(&m->t, key, cell->count, hidden) != 0)
                return errf(err, "out of memory merging counts");
        }
    }
    return 0;
}

/* The levels in catalogue order, then the merge. */
static int
count_merge(const struct report *r, struct count_merged *m, char *err)
{
    if (counts_init(&m->t, m->nby) != 0)
        return errf(err, "at most %d grouping variables", COUNTS_MAX_VARS);
    for (size_t k = 0; k < m->nby; k++)
        m->lv[k].var = vars_find(m->by[k]);
    count_pass(r, m, 0, err);
    for (size_t k = 0; k < m->nby; k++)
        report_levels_sort(&m->lv[k]);
    if (count_pass(r, m, 1, err) != 0)
        return -1;
    counts_finish(&m->t);
    /* Without grouping there is always exactly one row, even if nobody matched. */
    m->rows = m->t.cells;
    m->nrows = m->t.ncells;
    if (m->nby == 0 && m->nrows == 0) {
        m->rows = &m->zero;
        m->nrows = 1;
    }
    return 0;
}

static void
count_merged_release(struct count_merged *m)
{
    json_decref(m->chisq);
    for (size_t k = 0; k < m->nby; k++)
        free(m->lv[k].text);
    counts_release(&m->t);
}

/* ---- printing ---- */

static const char *
row_level(const struct count_merged *m, size_t j, size_t k)
{
    return m->lv[k].text[m->rows[j].key[k]];
}

static void
count_json(const struct report *r, const struct count_merged *m)
{
    json_t *cells = json_array();
    for (size_t j = 0; j < m->nrows; j++) {
        json_t *o = json_object();
        for (size_t k = 0; k < m->nby; k++)
            json_object_set_new(o, m->by[k], json_string(row_level(m, j, k)));
        json_object_set_new(o, "count", json_integer((json_int_t)m->rows[j].count));
        json_object_set_new(o, "count_max", m->rows[j].nwithheld ? json_null()
            : json_integer((json_int_t)m->rows[j].count_max));
        json_array_append_new(cells, o);
    }
    json_t *res = json_object();
    json_object_set_new(res, "cells", cells);
    if (m->chisq != NULL)
        json_object_set(res, "chisq", m->chisq);
    report_emit_json(r, res);
}

/* CSV: by..., count, count_max, [chisq, df, p, yates, min_expected,] nodes. */
static void
count_csv(const struct report *r, const struct count_merged *m)
{
    struct buf tail = {0};
    const json_t *c = m->chisq;
    for (size_t k = 0; k < m->nby; k++) {
        report_csv_field(r->out, m->by[k]);
        fputc(',', r->out);
    }
    fprintf(r->out, "count,count_max%s,nodes\n", c ? ",chisq,df,p,yates,min_expected" : "");
    if (c != NULL) {
        report_tail_num(&tail, json_real_value(json_object_get(c, "statistic")));
        report_tail_int(&tail, json_integer_value(json_object_get(c, "df")));
        report_tail_num(&tail, json_real_value(json_object_get(c, "p")));
        report_tail_bool(&tail, json_is_true(json_object_get(c, "yates")));
        report_tail_num(&tail, json_real_value(json_object_get(c, "min_expected")));
    }
    report_tail_nodes(&tail, r);
    for (size_t j = 0; j < m->nrows; j++) {
        for (size_t k = 0; k < m->nby; k++) {
            report_csv_field(r->out, row_level(m, j, k));
            fputc(',', r->out);
        }
        if (m->rows[j].nwithheld)
            fprintf(r->out, "%" PRIu64 ",%s\n", m->rows[j].count, report_tail_text(&tail));
        else
            fprintf(r->out, "%" PRIu64 ",%" PRIu64 "%s\n", m->rows[j].count,
                m->rows[j].count_max, report_tail_text(&tail));
    }
    buf_release(&tail);
    if (c != NULL)
        print_chisq(r->diag, c);
    report_nodes_text(r, r->diag);
}

static void
count_table(const struct report *r, const struct count_merged *m)
{
    size_t w[COUNTS_MAX_VARS];
    for (size_t k = 0; k < m->nby; k++) {
        w[k] = strlen(m->by[k]);
        for (size_t i = 0; i < m->lv[k].n; i++)
            w[k] = strlen(m->lv[k].text[i]) > w[k] ? strlen(m->lv[k].text[i]) : w[k];
    }
    for (size_t k = 0; k < m->nby; k++)
        fprintf(r->out, "%-*s  ", (int)w[k], m->by[k]);
    fprintf(r->out, "%8s  %9s\n", "count", "count_max");
    size_t supp = 0, held = 0;
    for (size_t j = 0; j < m->nrows; j++) {
        for (size_t k = 0; k < m->nby; k++)
            fprintf(r->out, "%-*s  ", (int)w[k], row_level(m, j, k));
        if (m->rows[j].nwithheld)
            fprintf(r->out, "%8" PRIu64 "  %9s  **\n", m->rows[j].count, "withheld");
        else
            fprintf(r->out, "%8" PRIu64 "  %9" PRIu64 "%s\n", m->rows[j].count,
                m->rows[j].count_max, m->rows[j].nsuppressed ? "  *" : "");
        supp += m->rows[j].nsuppressed > 0 && !m->rows[j].nwithheld;
        held += m->rows[j].nwithheld > 0;
    }
    if (held && r->pooled != NULL)
        fprintf(r->out, "** %zu row(s) held back by the pooled release rules (a pooled count of "
            "1 .. %u, or fewer than %u nodes with one of them small; which one is not said): "
            "count is a lower bound, the upper bound is not released\n", held,
            r->pooled->min_cell - 1, r->pooled->min_sites);
    if (supp)
        fprintf(r->out, "* %zu row(s) include cells suppressed by a node's min_cell: the "
            "pooled count lies between count and count_max\n", supp);
    if (held && r->pooled == NULL)
        fprintf(r->out, "** %zu row(s) include cells withheld by a node's disclosure auditor "
            "(complementary suppression): count is a lower bound, the upper bound is not "
            "released\n", held);
    if (m->chisq != NULL) {
        fputc('\n', r->out);
        print_chisq(r->out, m->chisq);
    }
    fputc('\n', r->out);
    report_nodes_text(r, r->out);
}

/*
 * Pooled counts grouped by the query's variables.  With --chisq (two
 * variables), also Pearson's chi-square test of the pooled two-way table as
 * R's chisq.test(table(a, b)) computes it (Yates' correction for 2 x 2).
 */
static int
count_report(const struct report *r, const Fedra__QuerySpec *spec, const struct coord_show *show,
    char *err)
{
    struct count_merged m;
    memset(&m, 0, sizeof m);
    m.by = spec->group_by;
    m.nby = spec->n_group_by;
    int rc = count_merge(r, &m, err);
    if (rc == 0 && show->chisq && (m.chisq = count_chisq(&m.t, m.lv, err)) == NULL)
        rc = -1;
    if (rc == 0 && r->format == REPORT_JSON)
        count_json(r, &m);
    else if (rc == 0 && r->format == REPORT_CSV)
        count_csv(r, &m);
    else if (rc == 0)
        count_table(r, &m);
    count_merged_release(&m);
    return rc;
}

const struct coord_kind kind_count = {
    FEDRA__KIND__KIND_COUNT, "count", check_count, count_report, 0,
};

/* ---- the command ---- */

static int
parse_count(int argc, char **argv, struct coord_query *q)
{
    const char *where_expr = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--by") == 0 && i + 1 < argc) {
            while (q->nby > 0)          /* a repeated --by replaces the earlier one */
                free(q->by[--q->nby]);
            if (coord_split_list(argv[++i], q->by, WIRE_MAX_GROUP_BY, &q->nby) != 0)
                return coord_usage_error("--by takes at most %d variables, got '%s'",
                    WIRE_MAX_GROUP_BY, argv[i]);
        } else if (strcmp(argv[i], "--where") == 0 && i + 1 < argc) {
            where_expr = argv[++i];
        } else if (strcmp(argv[i], "--chisq") == 0) {
            q->show.chisq = 1;
        } else {
            return coord_usage_error("count: unexpected argument '%s'", argv[i]);
        }
    }
    if (coord_parse_where(where_expr, q) != 0)
        return 2;
    q->spec.kind = FEDRA__KIND__KIND_COUNT;
    q->spec.n_group_by = q->nby;
    q->spec.group_by = q->by;
    if (q->show.chisq && q->nby != 2)
        return coord_usage_error("--chisq needs exactly two --by variables (a two-way table)");
    return 0;
}

const struct coord_cmd cmd_count = {
    "count", "count [--by V,...] [--where EXPR] [--chisq]",
    "pooled counts, one row per combination of levels",
    "  --by V,...          group by up to 4 variables (a repeated --by replaces the earlier)\n"
    "  --where EXPR        select patients, e.g. \"stage=metastatic and age_years<10\"\n"
    "  --chisq             with two --by variables: Pearson's chi-square test (chisq.test)\n",
    "fedra count --by surgery,vital_status --chisq",
    COORD_FLOW_ONE_ROUND, {FEDRA__KIND__KIND_COUNT}, parse_count,
};
