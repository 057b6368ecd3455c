/*
 * report - see report.h.
 *
 * Level order in the output is the catalogue's: categorical levels in
 * data-model order, integers numerically, ICD-O-3 codes alphabetically.  The
 * merge itself is analysis/counts.h, on codes that follow that order.
 */
#include "coord/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "analysis/counts.h"
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
static void
nodes_text(const struct report *r, FILE *f)
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

static int
emit_json(const struct report *r, json_t *result)
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
static void
csv_field(FILE *f, const char *s)
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

int
report_count(const struct report *r, char *const *by, size_t nby, char *err)
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
        emit_json(r, res);
    } else if (r->format == REPORT_CSV) {
        for (size_t k = 0; k < nby; k++) {
            csv_field(r->out, by[k]);
            fputc(',', r->out);
        }
        fputs("count,count_max\n", r->out);
        for (size_t j = 0; j < nrows; j++) {
            for (size_t k = 0; k < nby; k++) {
                csv_field(r->out, lv[k].text[rows[j].key[k]]);
                fputc(',', r->out);
            }
            fprintf(r->out, "%" PRIu64 ",%" PRIu64 "\n", rows[j].count, rows[j].count_max);
        }
        nodes_text(r, r->diag);
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
        fputc('\n', r->out);
        nodes_text(r, r->out);
    }
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
        return emit_json(r, a);
    }
    FILE *f = r->out;
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const struct node_reply *p = &r->replies[i];
        char t[32];
        if (r->format == REPORT_CSV) {
            if (i == 0)
                fputs("name,status,ms,rows,cert_not_after,reason\n", f);
            csv_field(f, r->fed->nodes[i].name);
            fprintf(f, ",%s,%.1f,", client_status_name(p->status), p->ms);
            if (p->status == NODE_OK && p->body->ping)
                fprintf(f, "%" PRIu64 ",%s,", p->body->data_rows,
                    iso(p->body->ping->cert_not_after_ms, t));
            else
                fputs(",,", f);
            csv_field(f, p->status == NODE_OK ? "" : p->reason);
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
        return emit_json(r, NULL);
    nodes_text(r, r->format == REPORT_CSV ? r->diag : r->out);
    return 0;
}
