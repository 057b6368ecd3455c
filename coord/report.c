/*
 * report - see report.h.
 *
 * Level order in the output is the catalogue's: categorical levels in
 * data-model order, integers numerically, ICD-O-3 codes alphabetically.  The
 * merge itself is analysis/counts.h, on codes that follow that order.
 */
#include "coord/report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "analysis/chisq.h"
#include "analysis/counts.h"
#include "analysis/km.h"
#include "analysis/logrank.h"
#include "coord/plot.h"
#include "lib/util.h"
#include "proto/vars.h"

/* Distinct level texts of one variable across all answers, in output order. */
struct levels {
    const struct var_def *var;      /* NULL if the name is not in the catalogue */
    char **text;
    size_t n, cap;
};

static int
level_cmp(const struct var_def *v, const char *a, const char *b)
{
    if (v != NULL && v->kind == VAR_INTEGER) {
        long x = strtol(a, NULL, 10), y = strtol(b, NULL, 10);
        if (x != y)
            return x < y ? -1 : 1;
    } else if (v != NULL && v->nlevels > 0) {
        int x = vars_level_index(v, a), y = vars_level_index(v, b);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return strcmp(a, b);
}

static void
levels_add(struct levels *l, const char *t)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->text[i], t) == 0)
            return;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->text = xreallocarray(l->text, l->cap, sizeof *l->text);
    }
    l->text[l->n++] = (char *)t;
}

static void
levels_sort(struct levels *l)
{
    for (size_t i = 1; i < l->n; i++) {         /* insertion sort: few levels */
        char *t = l->text[i];
        size_t j = i;
        while (j > 0 && level_cmp(l->var, l->text[j - 1], t) > 0) {
            l->text[j] = l->text[j - 1];
            j--;
        }
        l->text[j] = t;
    }
}

static int64_t
levels_code(const struct levels *l, const char *t)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->text[i], t) == 0)
            return (int64_t)i;
    return -1;
}

static const char *
iso(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

#define REPORT_MAX_ROWS ((uint64_t)1 << 40)   /* rows a node may claim: sums stay exact */

static int
cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 if the n strings (joined keys) are all distinct. */
static int
all_distinct(char **keys, size_t n)
{
    qsort(keys, n, sizeof *keys, cmp_cstr);
    for (size_t i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return 0;
    return 1;
}

static int
level_ok(const Fedra__QuerySpec *spec, size_t k, const char *level)
{
    const struct var_def *v = vars_find(spec->group_by[k]);
    return v != NULL && vars_valid_value(v, level);
}

static int
check_count(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why)
{
    const Fedra__CountResult *c = b->count;
    if (c == NULL)
        return errf(why, "answered without a count result");
    char **keys = xcalloc(c->n_cells, sizeof *keys);
    int rc = 0;
    for (size_t j = 0; j < c->n_cells && rc == 0; j++) {
        const Fedra__Cell *cell = c->cells[j];
        struct buf key = {0};
        if (cell->n_levels != spec->n_group_by)
            rc = errf(why, "a cell has %zu levels for %zu grouping variables", cell->n_levels,
                spec->n_group_by);
        for (size_t k = 0; k < cell->n_levels && rc == 0; k++) {
            if (!level_ok(spec, k, cell->levels[k]))
                rc = errf(why, "sent an unknown level '%.64s' of %s", cell->levels[k],
                    spec->group_by[k]);
            buf_puts(&key, cell->levels[k]);
            buf_append(&key, "\x1f", 1);
        }
        if (rc == 0 && cell->suppressed && cell->count != 0)
            rc = errf(why, "a suppressed cell carries a count");
        if (rc == 0 && cell->count > b->data_rows)
            rc = errf(why, "a cell count exceeds the node's %" PRIu64 " rows", b->data_rows);
        keys[j] = buf_detach(&key);
    }
    if (rc == 0 && !all_distinct(keys, c->n_cells))
        rc = errf(why, "sent the same cell twice");
    for (size_t j = 0; j < c->n_cells; j++)
        free(keys[j]);
    free(keys);
    return rc;
}

static int
check_km(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why)
{
    const Fedra__KmResult *km = b->km;
    if (km == NULL)
        return errf(why, "answered without life tables");
    char **keys = xcalloc(km->n_strata, sizeof *keys);
    int rc = 0;
    for (size_t k = 0; k < km->n_strata && rc == 0; k++) {
        const Fedra__LifeTable *lt = km->strata[k];
        if (lt->n_levels != spec->n_group_by)
            rc = errf(why, "a life table has %zu levels for %zu grouping variables",
                lt->n_levels, spec->n_group_by);
        else if (lt->n_levels == 1 && !level_ok(spec, 0, lt->levels[0]))
            rc = errf(why, "sent an unknown level '%.64s'", lt->levels[0]);
        else if (lt->n_time != lt->n_events || lt->n_time != lt->n_censored || lt->n > b->data_rows)
            rc = errf(why, "sent an inconsistent life table");
        if (rc != 0)
            break;
        struct km_table t = {(int64_t)lt->n, xcalloc(lt->n_time, sizeof(struct km_row)), lt->n_time};
        for (size_t j = 0; j < lt->n_time; j++) {
            t.rows[j].time = lt->time[j];
            t.rows[j].d = lt->events[j] > REPORT_MAX_ROWS ? -1 : (int64_t)lt->events[j];
            t.rows[j].c = lt->censored[j] > REPORT_MAX_ROWS ? -1 : (int64_t)lt->censored[j];
        }
        if (km_table_check(&t) != 0)
            rc = errf(why, "sent a life table whose rows do not add up");
        km_table_release(&t);
        keys[k] = xstrdup(lt->n_levels ? lt->levels[0] : "");
    }
    if (rc == 0 && !all_distinct(keys, km->n_strata))
        rc = errf(why, "sent the same stratum twice");
    for (size_t k = 0; k < km->n_strata; k++)
        free(keys[k]);
    free(keys);
    return rc;
}

static int
check_oev(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why)
{
    const Fedra__LogrankOev *m = b->logrank;
    if (m == NULL)
        return errf(why, "answered without log-rank sums");
    size_t g = m->n_groups;
    if (g == 0 || g > LOGRANK_MAX_GROUPS || m->n_n != g || m->n_observed != g ||
        m->n_expected != g || m->n_variance != g * g)
        return errf(why, "sent inconsistent log-rank sums");
    char **keys = xcalloc(g, sizeof *keys);
    int rc = 0;
    for (size_t k = 0; k < g; k++) {
        if (rc == 0 && (!level_ok(spec, 0, m->groups[k]) || m->n[k] > b->data_rows))
            rc = errf(why, "sent log-rank sums for an unknown group or too many patients");
        keys[k] = xstrdup(m->groups[k]);
    }
    if (rc == 0 && !all_distinct(keys, g))
        rc = errf(why, "sent the same group twice");
    for (size_t k = 0; k < g; k++)
        free(keys[k]);
    free(keys);
    return rc;
}

/* A model round's share: p coefficients' worth of finite sums, sizes within the node's rows. */
static int
check_model(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why)
{
    const Fedra__ModelResult *m = b->model;
    size_t p = spec->n_terms + (spec->kind == FEDRA__KIND__KIND_GLM);
    if (m == NULL)
        return errf(why, "answered without model sums");
    if (m->n_score != p || m->n_info != p * p)
        return errf(why, "sent model sums for %zu coefficients, not %zu", m->n_score, p);
    if (m->n > b->data_rows || m->events > m->n || m->dropped > b->data_rows - m->n)
        return errf(why, "sent model sums for more patients than it holds");
    int finite = isfinite(m->loglik) && isfinite(m->deviance) && isfinite(m->aic);
    for (size_t i = 0; i < p; i++)
        finite &= isfinite(m->score[i]) != 0;
    for (size_t i = 0; i < p * p; i++)
        finite &= isfinite(m->info[i]) && m->info[i] == m->info[(i % p) * p + i / p];
    if (!finite)
        return errf(why, "sent model sums that are not finite or not symmetric");
    return 0;
}

void
report_check_replies(const struct federation *fed, struct node_reply *rep,
    const Fedra__QuerySpec *spec)
{
    for (size_t i = 0; spec != NULL && i < fed->nnodes; i++) {
        const Fedra__ResponseBody *b = rep[i].body;
        char why[FEDRA_ERRLEN];
        int rc = 0;
        if (rep[i].status != NODE_OK)
            continue;
        if (b->data_rows > REPORT_MAX_ROWS)
            rc = errf(why, "claims %" PRIu64 " rows", b->data_rows);
        else if (spec->kind == FEDRA__KIND__KIND_COUNT)
            rc = check_count(spec, b, why);
        else if (spec->kind == FEDRA__KIND__KIND_KM ||
                 (spec->kind == FEDRA__KIND__KIND_LOGRANK && !spec->stratify_by_node))
            rc = check_km(spec, b, why);
        else if (spec->kind == FEDRA__KIND__KIND_LOGRANK)
            rc = check_oev(spec, b, why);
        else if (spec->kind == FEDRA__KIND__KIND_COX || spec->kind == FEDRA__KIND__KIND_GLM)
            rc = check_model(spec, b, why);
        else if (spec->kind == FEDRA__KIND__KIND_PING && b->ping == NULL)
            rc = errf(why, "answered a ping without ping details");
        if (rc != 0) {
            rep[i].status = NODE_ERROR;
            snprintf(rep[i].reason, sizeof rep[i].reason, "answer rejected: node %.400s", why);
        }
    }
}

static json_t *
nodes_json(const struct report *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const struct node_reply *p = &r->replies[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(r->fed->nodes[i].name));
        json_object_set_new(o, "status", json_string(client_status_name(p->status)));
        if (p->status != NODE_OK)
            json_object_set_new(o, "reason", json_string(p->reason));
        if (p->status == NODE_REFUSED && p->code[0])
            json_object_set_new(o, "code", json_string(p->code));
        if (p->body != NULL) {
            char h[65];
            json_object_set_new(o, "rows", json_integer((json_int_t)p->body->data_rows));
            if (p->body->data_hash.len == 32) {
                util_hex(p->body->data_hash.data, 32, h);
                json_object_set_new(o, "data_hash", json_string(h));
            }
        }
        json_object_set_new(o, "ms", json_real(p->ms));
        json_array_append_new(a, o);
    }
    return a;
}

/* Node statuses as text: to out for tables, to diag for csv. */
void
report_nodes_text(const struct report *r, FILE *f)
{
    size_t ok = 0, w = 4;
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        ok += r->replies[i].status == NODE_OK;
        size_t l = strlen(r->fed->nodes[i].name);
        w = l > w ? l : w;
    }
    fprintf(f, "nodes: %zu of %zu answered\n", ok, r->fed->nnodes);
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const struct node_reply *p = &r->replies[i];
        fprintf(f, "  %-*s  %-8s", (int)w, r->fed->nodes[i].name, client_status_name(p->status));
        if (p->status == NODE_OK && p->body != NULL)
            fprintf(f, " %" PRIu64 " rows, %.1f ms", p->body->data_rows, p->ms);
        else
            fprintf(f, " %s", p->reason);
        fputc('\n', f);
    }
}

int
report_emit_json(const struct report *r, json_t *result)
{
    json_t *o = json_object();
    if (r->query_id && r->query_id[0])
        json_object_set_new(o, "query_id", json_string(r->query_id));
    json_object_set_new(o, "nodes", nodes_json(r));
    json_object_set_new(o, "result", result ? result : json_null());
    /* JSON_REAL_PRECISION(17): full double precision for every number */
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    fprintf(r->out, "%s\n", s);
    free(s);
    json_decref(o);
    return 0;
}

/* CSV field: quoted only when needed (RFC 4180). */
void
report_csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/*
 * The chi-square test needs exact cells: with any cell suppressed at a node
 * it is refused rather than computed on a bound.  Levels are those present
 * in the pooled data, as table() makes them from character columns.
 */
static json_t *
count_chisq(const struct counts_table *t, const struct levels *lv, char *err)
{
    size_t nr = lv[0].n, nc = lv[1].n;
    for (size_t j = 0; j < t->ncells; j++)
        if (t->cells[j].nsuppressed) {
            errf(err, "the chi-square test needs exact counts, and some cells were suppressed "
                "by a node's min_cell");
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

int
report_count(const struct report *r, char *const *by, size_t nby, int chisq, char *err)
{
    struct levels lv[COUNTS_MAX_VARS] = {{0}};
    struct counts_table t;
    if (counts_init(&t, nby) != 0)
        return errf(err, "at most %d grouping variables", COUNTS_MAX_VARS);
    for (size_t k = 0; k < nby; k++)
        lv[k].var = vars_find(by[k]);
    /* Pass 1: collect the level texts of every answer, then fix their order. */
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status != NODE_OK || b->count == NULL)
            continue;
        for (size_t c = 0; c < b->count->n_cells; c++) {
            const Fedra__Cell *cell = b->count->cells[c];
            if (cell->n_levels != nby)
                continue;
            for (size_t k = 0; k < nby; k++)
                levels_add(&lv[k], cell->levels[k]);
        }
    }
    for (size_t k = 0; k < nby; k++)
        levels_sort(&lv[k]);
    /* Pass 2: merge. */
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status != NODE_OK || b->count == NULL)
            continue;
        for (size_t c = 0; c < b->count->n_cells; c++) {
            const Fedra__Cell *cell = b->count->cells[c];
            if (cell->n_levels != nby)
                continue;
            int64_t key[COUNTS_MAX_VARS] = {0};
            for (size_t k = 0; k < nby; k++)
                key[k] = levels_code(&lv[k], cell->levels[k]);
            uint64_t hidden = cell->suppressed ? (b->count->max_hidden ? b->count->max_hidden : 1)
                                               : 0;
            if (counts_add(&t, key, cell->count, hidden) != 0) {
                counts_release(&t);
                return errf(err, "out of memory merging counts");
            }
        }
    }
    counts_finish(&t);
    /* Without grouping there is always exactly one row, even if nobody matched. */
    struct counts_cell zero = {{0}, 0, 0, 0};
    size_t nrows = t.ncells;
    const struct counts_cell *rows = t.cells;
    if (nby == 0 && nrows == 0) {
        rows = &zero;
        nrows = 1;
    }
    json_t *cj = NULL;
    if (chisq && (cj = count_chisq(&t, lv, err)) == NULL) {
        for (size_t k = 0; k < nby; k++)
            free(lv[k].text);
        counts_release(&t);
        return -1;
    }
    if (r->format == REPORT_JSON) {
        json_t *cells = json_array();
        for (size_t j = 0; j < nrows; j++) {
            json_t *o = json_object();
            for (size_t k = 0; k < nby; k++)
                json_object_set_new(o, by[k], json_string(lv[k].text[rows[j].key[k]]));
            json_object_set_new(o, "count", json_integer((json_int_t)rows[j].count));
            json_object_set_new(o, "count_max", json_integer((json_int_t)rows[j].count_max));
            json_array_append_new(cells, o);
        }
        json_t *res = json_object();
        json_object_set_new(res, "cells", cells);
        if (cj != NULL)
            json_object_set(res, "chisq", cj);
        report_emit_json(r, res);
    } else if (r->format == REPORT_CSV) {
        for (size_t k = 0; k < nby; k++) {
            report_csv_field(r->out, by[k]);
            fputc(',', r->out);
        }
        fputs("count,count_max\n", r->out);
        for (size_t j = 0; j < nrows; j++) {
            for (size_t k = 0; k < nby; k++) {
                report_csv_field(r->out, lv[k].text[rows[j].key[k]]);
                fputc(',', r->out);
            }
            fprintf(r->out, "%" PRIu64 ",%" PRIu64 "\n", rows[j].count, rows[j].count_max);
        }
        if (cj != NULL)
            print_chisq(r->diag, cj);
        report_nodes_text(r, r->diag);
    } else {
        size_t w[COUNTS_MAX_VARS];
        for (size_t k = 0; k < nby; k++) {
            w[k] = strlen(by[k]);
            for (size_t i = 0; i < lv[k].n; i++)
                w[k] = strlen(lv[k].text[i]) > w[k] ? strlen(lv[k].text[i]) : w[k];
        }
        for (size_t k = 0; k < nby; k++)
            fprintf(r->out, "%-*s  ", (int)w[k], by[k]);
        fprintf(r->out, "%8s  %9s\n", "count", "count_max");
        size_t supp = 0;
        for (size_t j = 0; j < nrows; j++) {
            for (size_t k = 0; k < nby; k++)
                fprintf(r->out, "%-*s  ", (int)w[k], lv[k].text[rows[j].key[k]]);
            fprintf(r->out, "%8" PRIu64 "  %9" PRIu64 "%s\n", rows[j].count, rows[j].count_max,
                rows[j].nsuppressed ? "  *" : "");
            supp += rows[j].nsuppressed > 0;
        }
        if (supp)
            fprintf(r->out, "* %zu row(s) include cells suppressed by a node's min_cell: the "
                "pooled count lies between count and count_max\n", supp);
        if (cj != NULL) {
            fputc('\n', r->out);
            print_chisq(r->out, cj);
        }
        fputc('\n', r->out);
        report_nodes_text(r, r->out);
    }
    json_decref(cj);
    for (size_t k = 0; k < nby; k++)
        free(lv[k].text);
    counts_release(&t);
    return 0;
}

int
report_ping(const struct report *r, char *err)
{
    (void)err;
    if (r->format == REPORT_JSON) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->fed->nnodes; i++) {
            const Fedra__ResponseBody *b = r->replies[i].body;
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(r->fed->nodes[i].name));
            if (r->replies[i].status == NODE_OK && b->ping != NULL) {
                char t[32];
                json_object_set_new(o, "software", json_string(b->ping->software));
                json_object_set_new(o, "cert_not_after",
                    json_string(iso(b->ping->cert_not_after_ms, t)));
            }
            json_array_append_new(a, o);
        }
        return report_emit_json(r, a);
    }
    FILE *f = r->out;
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const struct node_reply *p = &r->replies[i];
        char t[32];
        if (r->format == REPORT_CSV) {
            if (i == 0)
                fputs("name,status,ms,rows,cert_not_after,reason\n", f);
            report_csv_field(f, r->fed->nodes[i].name);
            fprintf(f, ",%s,%.1f,", client_status_name(p->status), p->ms);
            if (p->status == NODE_OK && p->body->ping)
                fprintf(f, "%" PRIu64 ",%s,", p->body->data_rows,
                    iso(p->body->ping->cert_not_after_ms, t));
            else
                fputs(",,", f);
            report_csv_field(f, p->status == NODE_OK ? "" : p->reason);
            fputc('\n', f);
        } else if (p->status == NODE_OK && p->body->ping) {
            fprintf(f, "%-12s ok       %6.1f ms  %" PRIu64 " rows  %s  certificate valid until %s\n",
                r->fed->nodes[i].name, p->ms, p->body->data_rows, p->body->ping->software,
                iso(p->body->ping->cert_not_after_ms, t));
        } else {
            fprintf(f, "%-12s %-8s %s\n", r->fed->nodes[i].name, client_status_name(p->status),
                p->reason);
        }
    }
    return 0;
}

int
report_nodes(const struct report *r, char *err)
{
    (void)err;
    if (r->format == REPORT_JSON)
        return report_emit_json(r, NULL);
    report_nodes_text(r, r->format == REPORT_CSV ? r->diag : r->out);
    return 0;
}

/* %.17g, or "" / JSON null for R's NA (NaN). */
void
report_put_num(FILE *f, double x)
{
    if (x == x)
        fprintf(f, "%.17g", x);
}

json_t *
report_json_num(double x)
{
    return x == x ? json_real(x) : json_null();
}

/* One pooled stratum: its label and the merged curve. */
struct km_stratum {
    const char *level;              /* NULL without --by */
    struct km_curve curve;
    int empty;                      /* pooled N = 0: R has no curve either */
};

static void
km_point_csv(FILE *f, const char *label, const struct km_point *p)
{
    report_csv_field(f, label);
    fprintf(f, ",%d,%lld,%lld,%lld,", p->time, (long long)p->n_risk, (long long)p->n_event,
        (long long)p->n_censor);
    report_put_num(f, p->surv);
    fputc(',', f);
    report_put_num(f, p->std_err);
    fputc(',', f);
    report_put_num(f, p->lower);
    fputc(',', f);
    report_put_num(f, p->upper);
    fputc('\n', f);
}

static json_t *
km_point_json(const struct km_point *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "time", json_integer(p->time));
    json_object_set_new(o, "n.risk", json_integer(p->n_risk));
    json_object_set_new(o, "n.event", json_integer(p->n_event));
    json_object_set_new(o, "n.censor", json_integer(p->n_censor));
    json_object_set_new(o, "surv", report_json_num(p->surv));
    json_object_set_new(o, "std.err", report_json_num(p->std_err));
    json_object_set_new(o, "lower", report_json_num(p->lower));
    json_object_set_new(o, "upper", report_json_num(p->upper));
    return o;
}

/* Draw the non-empty strata; numbers at risk below the largest node min_cell are hidden. */
static int
km_plot(const struct report *r, const char *path, const char *by, const struct km_stratum *st,
    const struct levels *lv, char *err)
{
    uint32_t min_cell = 1;
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status == NODE_OK && b->km != NULL && b->km->min_cell > min_cell)
            min_cell = b->km->min_cell;
    }
    struct plot_curve pc[PLOT_MAX_CURVES];
    char labels[PLOT_MAX_CURVES][VARS_MAX_NAME + VARS_MAX_LEVEL + 2];
    size_t n = 0;
    for (size_t s = 0; s < lv->n; s++) {
        if (st[s].empty)
            continue;
        if (n == PLOT_MAX_CURVES)
            return errf(err, "more than %d curves to plot", PLOT_MAX_CURVES);
        snprintf(labels[n], sizeof labels[n], "%s%s%s", by ? by : "all", by ? "=" : "",
            by ? lv->text[s] : "");
        pc[n].label = labels[n];
        pc[n].curve = &st[s].curve;
        n++;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return errf(err, "cannot write '%s'", path);
    int rc = plot_km_svg(f, "Kaplan-Meier estimate (pooled over the federation)", pc, n,
        min_cell, err);
    if (fclose(f) != 0 && rc == 0)
        rc = errf(err, "cannot write '%s'", path);
    return rc;
}

int
report_km(const struct report *r, const char *by, int conf_type, const int32_t *times,
    size_t ntimes, const char *plot, char *err)
{
    struct levels lv = {vars_find(by ? by : ""), NULL, 0, 0};
    /* Strata: the union of the levels the nodes sent, in catalogue order. */
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status != NODE_OK || b->km == NULL)
            continue;
        for (size_t k = 0; k < b->km->n_strata; k++)
            levels_add(&lv, b->km->strata[k]->n_levels ? b->km->strata[k]->levels[0] : "");
    }
    levels_sort(&lv);
    struct km_stratum *st = xcalloc(lv.n, sizeof *st);
    struct km_table *tabs = xcalloc(r->fed->nnodes, sizeof *tabs);
    int rc = 0;
    for (size_t s = 0; s < lv.n && rc == 0; s++) {
        size_t nt = 0;
        st[s].level = by ? lv.text[s] : NULL;
        for (size_t i = 0; i < r->fed->nnodes && rc == 0; i++) {
            const Fedra__ResponseBody *b = r->replies[i].body;
            if (r->replies[i].status != NODE_OK || b->km == NULL)
                continue;
            for (size_t k = 0; k < b->km->n_strata; k++) {
                const Fedra__LifeTable *lt = b->km->strata[k];
                const char *l = lt->n_levels ? lt->levels[0] : "";
                if (strcmp(l, lv.text[s]) != 0)
                    continue;
                if (lt->n_time != lt->n_events || lt->n_time != lt->n_censored ||
                    lt->n > (uint64_t)KM_MAX_N) {
                    rc = errf(err, "node '%s' sent an inconsistent life table",
                        r->fed->nodes[i].name);
                    break;
                }
                struct km_table *t = &tabs[nt++];
                t->n = (int64_t)lt->n;
                t->nrows = lt->n_time;
                t->rows = xcalloc(lt->n_time, sizeof *t->rows);
                for (size_t j = 0; j < lt->n_time; j++) {
                    t->rows[j].time = lt->time[j];
                    t->rows[j].d = (int64_t)lt->events[j];
                    t->rows[j].c = (int64_t)lt->censored[j];
                }
            }
        }
        if (rc == 0) {
            int k = km_merge(tabs, nt, (enum km_conf_type)conf_type, 0.95, &st[s].curve);
            if (k == KM_EEMPTY)
                st[s].empty = 1;
            else if (k != 0)
                rc = errf(err, "a node's life table for stratum '%s' is inconsistent (km error %d)",
                    lv.text[s], k);
        }
        for (size_t j = 0; j < nt; j++)
            km_table_release(&tabs[j]);
    }
    free(tabs);
    if (rc == 0 && plot != NULL)
        rc = km_plot(r, plot, by, st, &lv, err);
    /* Rows to print: the whole curve, or the curve at the requested times. */
    struct km_point **rows = xcalloc(lv.n, sizeof *rows);
    size_t *nrows = xcalloc(lv.n, sizeof *nrows);
    for (size_t s = 0; s < lv.n && rc == 0; s++) {
        if (st[s].empty)
            continue;
        if (ntimes > 0) {
            if (km_at_times(&st[s].curve, times, ntimes, 0, &rows[s], &nrows[s]) != 0)
                rc = errf(err, "cannot evaluate the curve at the requested times");
        } else {
            rows[s] = st[s].curve.pts;
            nrows[s] = st[s].curve.npts;
        }
    }
    char label[VARS_MAX_NAME + VARS_MAX_LEVEL + 2];
    for (size_t s = 0; s < lv.n && rc == 0 && r->format == REPORT_CSV; s++) {
        if (s == 0)
            fputs("strata,time,n.risk,n.event,n.censor,surv,std.err,lower,upper\n", r->out);
        snprintf(label, sizeof label, "%s%s%s", by ? by : "", by ? "=" : "", by ? lv.text[s] : "");
        for (size_t j = 0; j < nrows[s]; j++)
            km_point_csv(r->out, label, &rows[s][j]);
    }
    if (rc == 0 && r->format == REPORT_CSV) {
        if (lv.n == 0)
            fputs("strata,time,n.risk,n.event,n.censor,surv,std.err,lower,upper\n", r->out);
        report_nodes_text(r, r->diag);
    }
    if (rc == 0 && r->format == REPORT_JSON) {
        json_t *curves = json_array();
        for (size_t s = 0; s < lv.n; s++) {
            if (st[s].empty)
                continue;
            snprintf(label, sizeof label, "%s%s%s", by ? by : "", by ? "=" : "",
                by ? lv.text[s] : "");
            json_t *c = json_object(), *a = json_array();
            json_object_set_new(c, "strata", json_string(label));
            json_object_set_new(c, "n", json_integer(st[s].curve.n));
            json_object_set_new(c, "events", json_integer(st[s].curve.events));
            json_object_set_new(c, "median", report_json_num(st[s].curve.median));
            json_object_set_new(c, "median_lower", report_json_num(st[s].curve.median_lower));
            json_object_set_new(c, "median_upper", report_json_num(st[s].curve.median_upper));
            for (size_t j = 0; j < nrows[s]; j++)
                json_array_append_new(a, km_point_json(&rows[s][j]));
            json_object_set_new(c, "rows", a);
            json_array_append_new(curves, c);
        }
        json_t *res = json_object();
        json_object_set_new(res, "curves", curves);
        report_emit_json(r, res);
    }
    if (rc == 0 && r->format == REPORT_TABLE) {
        FILE *f = r->out;
        fprintf(f, "%-28s %7s %7s %9s %9s %9s\n", "strata", "n", "events", "median",
            "0.95LCL", "0.95UCL");
        for (size_t s = 0; s < lv.n; s++) {
            if (st[s].empty)
                continue;
            snprintf(label, sizeof label, "%s%s%s", by ? by : "all", by ? "=" : "",
                by ? lv.text[s] : "");
            fprintf(f, "%-28s %7lld %7lld", label, (long long)st[s].curve.n,
                (long long)st[s].curve.events);
            double m[3] = {st[s].curve.median, st[s].curve.median_lower,
                st[s].curve.median_upper};
            for (int k = 0; k < 3; k++) {
                if (m[k] == m[k])
                    fprintf(f, " %9g", m[k]);
                else
                    fprintf(f, " %9s", "NA");
            }
            fputc('\n', f);
        }
        if (ntimes > 0) {
            for (size_t s = 0; s < lv.n; s++) {
                if (st[s].empty)
                    continue;
                fprintf(f, "\n%s%s%s\n%8s %7s %7s %10s %10s %10s %10s\n", by ? by : "all",
                    by ? "=" : "", by ? lv.text[s] : "", "time", "n.risk", "n.event",
                    "survival", "std.err", "lower95", "upper95");
                for (size_t j = 0; j < nrows[s]; j++) {
                    const struct km_point *p = &rows[s][j];
                    fprintf(f, "%8d %7lld %7lld %10.4f %10.4f %10.4f %10.4f\n", p->time,
                        (long long)p->n_risk, (long long)p->n_event, p->surv, p->std_err,
                        p->lower, p->upper);
                }
            }
        }
        fputc('\n', f);
        report_nodes_text(r, f);
    }
    for (size_t s = 0; s < lv.n; s++) {
        if (ntimes > 0)
            free(rows[s]);
        km_curve_release(&st[s].curve);
    }
    free(rows);
    free(nrows);
    free(st);
    free(lv.text);
    return rc;
}

/* Node k's life table of group text, or an empty one if it sent none. */
static int
node_group_table(const Fedra__ResponseBody *b, const char *group, struct km_table *t)
{
    memset(t, 0, sizeof *t);
    for (size_t k = 0; b->km != NULL && k < b->km->n_strata; k++) {
        const Fedra__LifeTable *lt = b->km->strata[k];
        if (lt->n_levels != 1 || strcmp(lt->levels[0], group) != 0)
            continue;
        if (lt->n_time != lt->n_events || lt->n_time != lt->n_censored || lt->n > (uint64_t)KM_MAX_N)
            return -1;
        t->n = (int64_t)lt->n;
        t->nrows = lt->n_time;
        t->rows = xcalloc(lt->n_time, sizeof *t->rows);
        for (size_t j = 0; j < lt->n_time; j++) {
            t->rows[j].time = lt->time[j];
            t->rows[j].d = (int64_t)lt->events[j];
            t->rows[j].c = (int64_t)lt->censored[j];
        }
        return 0;
    }
    return 0;
}

int
report_logrank(const struct report *r, const char *by, int stratified, char *err)
{
    struct levels lv = {vars_find(by), NULL, 0, 0};
    size_t nn = r->fed->nnodes;
    for (size_t i = 0; i < nn; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status != NODE_OK)
            continue;
        for (size_t k = 0; b->km != NULL && k < b->km->n_strata; k++)
            if (b->km->strata[k]->n_levels == 1)
                levels_add(&lv, b->km->strata[k]->levels[0]);
        for (size_t k = 0; b->logrank != NULL && k < b->logrank->n_groups; k++)
            levels_add(&lv, b->logrank->groups[k]);
    }
    levels_sort(&lv);
    size_t G = lv.n;
    struct logrank_oev sum = {0};
    int rc = 0;
    if (G == 0 || G > LOGRANK_MAX_GROUPS)
        rc = errf(err, "no groups to compare (or more than %d)", LOGRANK_MAX_GROUPS);
    else if (stratified) {
        rc = logrank_oev_init(&sum, G) == 0 ? 0 : errf(err, "out of memory");
        for (size_t i = 0; i < nn && rc == 0; i++) {
            const Fedra__ResponseBody *b = r->replies[i].body;
            if (r->replies[i].status != NODE_OK)
                continue;
            const Fedra__LogrankOev *m = b->logrank;
            size_t g = m ? m->n_groups : 0;
            if (m == NULL || m->n_n != g || m->n_observed != g || m->n_expected != g ||
                m->n_variance != g * g) {
                rc = errf(err, "node '%s' sent inconsistent log-rank sums", r->fed->nodes[i].name);
                break;
            }
            /* Map the node's groups onto the pooled order. */
            size_t *map = xcalloc(g, sizeof *map);
            for (size_t a = 0; a < g; a++)
                map[a] = (size_t)levels_code(&lv, m->groups[a]);
            for (size_t a = 0; a < g; a++) {
                sum.n[map[a]] += (int64_t)m->n[a];
                sum.o[map[a]] += m->observed[a];
                sum.e[map[a]] += m->expected[a];
                for (size_t c = 0; c < g; c++)
                    sum.v[map[a] * G + map[c]] += m->variance[a * g + c];
            }
            free(map);
        }
    } else {
        struct km_table *tabs = xcalloc(nn * G, sizeof *tabs);
        size_t used = 0;
        for (size_t i = 0; i < nn && rc == 0; i++) {
            if (r->replies[i].status != NODE_OK)
                continue;
            for (size_t g = 0; g < G && rc == 0; g++)
                if (node_group_table(r->replies[i].body, lv.text[g], &tabs[used * G + g]) != 0)
                    rc = errf(err, "node '%s' sent an inconsistent life table",
                        r->fed->nodes[i].name);
            used++;
        }
        if (rc == 0 && logrank_pooled(tabs, used, G, &sum) != 0)
            rc = errf(err, "a node's life tables are inconsistent");
        for (size_t j = 0; j < nn * G; j++)
            km_table_release(&tabs[j]);
        free(tabs);
    }
    struct logrank_result res = {0, 0, 1};
    if (rc == 0) {
        int k = logrank_test(&sum, &res);
        if (k == LOGRANK_ESINGULAR)
            rc = errf(err, "the variance matrix is singular (as R's survdiff, which stops here)");
        else if (k != 0)
            rc = errf(err, "log-rank test failed (error %d)", k);
    }
    if (rc == 0 && r->format == REPORT_JSON) {
        json_t *o = json_object(), *groups = json_array();
        json_object_set_new(o, "chisq", json_real(res.chisq));
        json_object_set_new(o, "df", json_integer(res.df));
        json_object_set_new(o, "p", json_real(res.p));
        json_object_set_new(o, "stratified_by_node", json_boolean(stratified));
        for (size_t g = 0; g < G; g++) {
            if (sum.n[g] == 0)
                continue;           /* survdiff lists only groups with patients */
            json_t *x = json_object();
            char lab[VARS_MAX_NAME + VARS_MAX_LEVEL + 2];
            snprintf(lab, sizeof lab, "%s=%s", by, lv.text[g]);
            json_object_set_new(x, "group", json_string(lab));
            json_object_set_new(x, "n", json_integer(sum.n[g]));
            json_object_set_new(x, "observed", json_real(sum.o[g]));
            json_object_set_new(x, "expected", json_real(sum.e[g]));
            json_array_append_new(groups, x);
        }
        json_object_set_new(o, "groups", groups);
        report_emit_json(r, o);
    } else if (rc == 0) {
        FILE *f = r->out;
        if (r->format == REPORT_CSV)
            fputs("group,n,observed,expected\n", f);
        else
            fprintf(f, "%-32s %8s %12s %12s %12s\n", "", "N", "Observed", "Expected",
                "(O-E)^2/E");
        for (size_t g = 0; g < G; g++) {
            char lab[VARS_MAX_NAME + VARS_MAX_LEVEL + 2];
            if (sum.n[g] == 0)
                continue;
            snprintf(lab, sizeof lab, "%s=%s", by, lv.text[g]);
            if (r->format == REPORT_CSV) {
                report_csv_field(f, lab);
                fprintf(f, ",%lld,%.17g,%.17g\n", (long long)sum.n[g], sum.o[g], sum.e[g]);
            } else {
                double oe = sum.e[g] > 0 ? (sum.o[g] - sum.e[g]) * (sum.o[g] - sum.e[g]) / sum.e[g]
                                         : 0;
                fprintf(f, "%-32s %8lld %12.6g %12.6g %12.6g\n", lab, (long long)sum.n[g],
                    sum.o[g], sum.e[g], oe);
            }
        }
        FILE *d = r->format == REPORT_CSV ? r->diag : f;
        fprintf(d, "\n%sChisq = %.17g on %d degrees of freedom, p = %.17g\n",
            stratified ? "stratified by node: " : "", res.chisq, res.df, res.p);
        if (r->format != REPORT_CSV)
            fputc('\n', f);
        report_nodes_text(r, d);
    }
    logrank_oev_release(&sum);
    free(lv.text);
    return rc;
}
