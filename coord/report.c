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

#include "coord/kind.h"
#include "lib/util.h"
#include "proto/vars.h"

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

void
report_levels_add(struct report_levels *l, const char *t)
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

void
report_levels_sort(struct report_levels *l)
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

int64_t
report_levels_code(const struct report_levels *l, const char *t)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->text[i], t) == 0)
            return (int64_t)i;
    return -1;
}

static int
cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
report_all_distinct(char **keys, size_t n)
{
    qsort(keys, n, sizeof *keys, cmp_cstr);
    for (size_t i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return 0;
    return 1;
}

int
report_level_ok(const Fedra__QuerySpec *spec, size_t k, const char *level)
{
    const struct var_def *v = vars_find(spec->group_by[k]);
    return v != NULL && vars_valid_value(v, level);
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
        const struct coord_kind *k = coord_kind_get(spec->kind);
        if (k == NULL)
            rc = errf(why, "answered a query of kind %d, which this coordinator does not know "
                "how to check", (int)spec->kind);
        else if (b->data_rows > REPORT_MAX_ROWS)
            rc = errf(why, "claims %" PRIu64 " rows", b->data_rows);
        else
            rc = k->check(spec, b, why);
        if (rc != 0) {
            rep[i].status = NODE_ERROR;
            snprintf(rep[i].reason, sizeof rep[i].reason, "answer rejected: node %.400s", why);
        }
    }
}

int
report_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return -1;
    return 0;
}

/* Pivot k of w is zero: the column below it must be (near) zero too; then drop it. */
static int
psd_zero_pivot(double *w, const double *a, size_t p, size_t k, double thr, double floor_)
{
    for (size_t j = k + 1; j < p; j++) {
        double ajj = a[j * p + j] > 0 ? a[j * p + j] : 0;
        if (fabs(w[j * p + k]) > 2 * sqrt(thr * (ajj + floor_)))
            return -1;
        w[j * p + k] = w[k * p + j] = 0;
    }
    return 0;
}

int
report_psd(const double *a, size_t p, char *why)
{
    double m = 0;
    for (size_t k = 0; k < p; k++)
        m = fabs(a[k * p + k]) > m ? fabs(a[k * p + k]) : m;
    double floor_ = REPORT_PSD_FLOOR * m;
    double *w = xcalloc(p * p, sizeof *w);
    memcpy(w, a, p * p * sizeof *w);
    int rc = 0;
    for (size_t k = 0; k < p && rc == 0; k++) {
        double akk = a[k * p + k] > 0 ? a[k * p + k] : 0;
        double thr = REPORT_PSD_TOL * akk + floor_, d = w[k * p + k];
        if (d < -thr || (d <= thr && psd_zero_pivot(w, a, p, k, thr, floor_) != 0)) {
            rc = errf(why, "is not positive semi-definite (column %zu)", k + 1);
        } else if (d > thr) {
            for (size_t j = k + 1; j < p; j++) {    /* the Schur complement of pivot k */
                double l = w[j * p + k] / d;
                for (size_t i = k + 1; i < p; i++)
                    w[j * p + i] -= l * w[k * p + i];
            }
        }
    }
    free(w);
    return rc;
}

/* A pooled release's participants: each one's share, never a number of its own. */
static json_t *
pooled_nodes_json(const struct report_pooled *pl)
{
    json_t *a = json_array();
    for (size_t i = 0; i < pl->fed->nnodes; i++) {
        const struct node_reply *p = &pl->replies[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(pl->fed->nodes[i].name));
        json_object_set_new(o, "status", json_string(client_status_name(p->status)));
        if (p->status != NODE_OK)
            json_object_set_new(o, "reason", json_string(p->reason));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *
report_nodes_json(const struct report *r)
{
    if (r->pooled != NULL)
        return pooled_nodes_json(r->pooled);
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
        /* A node tells its rows and data hash only to a verified analyst (disclosure.md §2.1). */
        if (p->body != NULL && p->body->data_hash.len == 32) {
            char h[65];
            json_object_set_new(o, "rows", json_integer((json_int_t)p->body->data_rows));
            util_hex(p->body->data_hash.data, 32, h);
            json_object_set_new(o, "data_hash", json_string(h));
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
    if (r->pooled != NULL) {
        const struct report_pooled *pl = r->pooled;
        fprintf(f, "pooled release by hub '%s' (min_cell %u, min_sites %u", pl->hub, pl->min_cell,
            pl->min_sites);
        if (pl->grid_days > 0)
            fprintf(f, ", grid %u days", pl->grid_days);
        fprintf(f, ") over %zu nodes:", pl->fed->nnodes);
        for (size_t i = 0; i < pl->fed->nnodes; i++)
            fprintf(f, " %s", pl->fed->nodes[i].name);
        fputc('\n', f);
        return;
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

/*
 * One real as the shortest of %.15g, %.16g and %.17g that strtod() reads
 * back to the same double (6.873, not 6.8730000000000002), still a real to a
 * JSON reader (1.0, not 1, as jansson prints it).
 */
static void
put_real(FILE *f, const char *tok, size_t n)
{
    char in[64], out[40];
    if (n >= sizeof in) {
        fwrite(tok, 1, n, f);
        return;
    }
    memcpy(in, tok, n);
    in[n] = 0;
    double x = strtod(in, NULL);
    for (int p = 15; p <= 17; p++) {
        snprintf(out, sizeof out, "%.*g", p, x);
        if (strtod(out, NULL) == x)
            break;
    }
    fputs(out, f);
    if (strpbrk(out, ".eE") == NULL)
        fputs(".0", f);
}

/*
 * jansson's text with every real shortened by put_real: reals are the number
 * tokens outside strings that carry a '.' or an exponent (jansson always
 * gives a real one of them; integers have neither and stay as they are).
 */
static void
put_json_shortest(FILE *f, const char *s)
{
    int in_string = 0;
    while (*s) {
        if (in_string && *s == '\\' && s[1] != 0) {
            fputc(*s++, f);
        } else if (*s == '"') {
            in_string = !in_string;
        } else if (!in_string && (*s == '-' || (*s >= '0' && *s <= '9'))) {
            size_t n = strspn(s, "+-.0123456789eE");
            if (strcspn(s, ".eE") < n)
                put_real(f, s, n);
            else
                fwrite(s, 1, n, f);
            s += n;
            continue;
        }
        fputc(*s++, f);
    }
}

int
report_emit_json(const struct report *r, json_t *result)
{
    return report_emit_json_nodes(r, report_nodes_json(r), -1, result);
}

int
report_emit_json_nodes(const struct report *r, json_t *nodes, int partial, json_t *result)
{
    json_t *o = json_object();
    if (r->query_id && r->query_id[0])
        json_object_set_new(o, "query_id", json_string(r->query_id));
    json_object_set_new(o, "nodes", nodes);
    if (r->pooled != NULL) {
        json_t *rel = json_object();
        json_object_set_new(rel, "hub", json_string(r->pooled->hub));
        json_object_set_new(rel, "min_cell", json_integer(r->pooled->min_cell));
        json_object_set_new(rel, "min_sites", json_integer(r->pooled->min_sites));
        json_object_set_new(rel, "grid_days", json_integer(r->pooled->grid_days));
        json_object_set_new(o, "release", rel);
    }
    if (partial >= 0)
        json_object_set_new(o, "partial", json_boolean(partial));
    json_object_set_new(o, "result", result ? result : json_null());
    /* JSON_REAL_PRECISION(17): full double precision, then each real as its shortest form */
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    put_json_shortest(r->out, s);
    fputc('\n', r->out);
    free(s);
    json_decref(o);
    return 0;
}

/* CSV field: quoted only when needed (RFC 4180). */
static void
csv_field(struct buf *b, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        buf_puts(b, s);
        return;
    }
    buf_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"')
            buf_puts(b, "\"");
        buf_append(b, s, 1);
    }
    buf_puts(b, "\"");
}

void
report_csv_field(FILE *f, const char *s)
{
    struct buf b = {0};
    csv_field(&b, s);
    fwrite(b.p, 1, b.len, f);
    buf_release(&b);
}

void
report_tail_num(struct buf *t, double x)
{
    buf_puts(t, ",");
    if (x == x)
        buf_printf(t, "%.17g", x);
}

void
report_tail_int(struct buf *t, long long v)
{
    buf_printf(t, ",%lld", v);
}

void
report_tail_str(struct buf *t, const char *s)
{
    buf_puts(t, ",");
    csv_field(t, s);
}

void
report_tail_bool(struct buf *t, int v)
{
    buf_puts(t, v ? ",TRUE" : ",FALSE");
}

void
report_tail_nodes(struct buf *t, const struct report *r)
{
    struct buf v = {0};
    /* A pooled release: the participants, not the hub that stands in as the one answer. */
    const struct federation *f = r->pooled ? r->pooled->fed : r->fed;
    const struct node_reply *rep = r->pooled ? r->pooled->replies : r->replies;
    for (size_t i = 0; i < f->nnodes; i++)
        buf_printf(&v, "%s%s=%s", i ? ";" : "", f->nodes[i].name,
            client_status_name(rep[i].status));
    report_tail_str(t, v.len ? (const char *)v.p : "");
    buf_release(&v);
}

const char *
report_tail_text(const struct buf *t)
{
    return t->len ? (const char *)t->p : "";
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

