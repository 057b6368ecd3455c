/*
 * kind - see kind.h.  The two tables, the help printed from them, and the
 * argument helpers the command parsers share.
 */
#include "coord/kind.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/km.h"
#include "lib/util.h"

/* One row per wire kind but KIND_UNSPECIFIED; the order is the protocol's. */
static const struct coord_kind *const kinds[] = {
    &kind_count, &kind_ping, &kind_km, &kind_logrank, &kind_cox, &kind_glm,
    &kind_cif,
};

const struct coord_kind *
coord_kind_get(int kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if ((int)kinds[i]->kind == kind)
            return kinds[i];
    return NULL;
}

/* send and verify carry no query of their own: fedra.c runs them. */
static const struct coord_cmd cmd_send = {
    "send", "send FILE",
    "send a query saved with --save-query (signed earlier, possibly elsewhere)",
    NULL,
    "fedra --save-query q.bin count --by stage && fedra send q.bin",
    COORD_FLOW_SEND, {0}, NULL,
};

static const struct coord_cmd cmd_verify = {
    "verify", "verify --ca-cert FILE [--crl FILE] BUNDLE",
    "re-check a bundle offline: every signature, and the merged result recomputed and printed",
    "  --ca-cert FILE      the federation's CA certificate (all that is needed)\n"
    "  --crl FILE          also refuse certificates this CRL revokes\n",
    "fedra verify --ca-cert ca.crt cox.json",
    COORD_FLOW_VERIFY, {0}, NULL,
};

/* The commands, in the order help lists them. */
static const struct coord_cmd *const cmds[] = {
    &cmd_count, &cmd_km, &cmd_logrank, &cmd_cif, &cmd_cox, &cmd_glm, &cmd_ping, &cmd_send,
    &cmd_verify,
};

const struct coord_cmd *
coord_cmd_at(size_t i)
{
    return i < sizeof cmds / sizeof cmds[0] ? cmds[i] : NULL;
}

const struct coord_cmd *
coord_cmd_find(const char *name)
{
    const struct coord_cmd *c;
    for (size_t i = 0; (c = coord_cmd_at(i)) != NULL; i++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* Every line of text, each behind indent. */
static void
put_indented(FILE *f, const char *indent, const char *text)
{
    while (text != NULL && *text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        fprintf(f, "%s%.*s\n", indent, (int)n, text);
        text += n + (nl != NULL);
    }
}

void
coord_cmd_list(FILE *f)
{
    const struct coord_cmd *c;
    fputs("commands (fedra COMMAND --help: one command's options and an example):\n", f);
    for (size_t i = 0; (c = coord_cmd_at(i)) != NULL; i++) {
        put_indented(f, "  ", c->synopsis);
        put_indented(f, "      ", c->summary);
        put_indented(f, "    ", c->options);
    }
}

void
coord_cmd_help(FILE *f, const struct coord_cmd *c)
{
    size_t first = strcspn(c->synopsis, "\n");
    fprintf(f, "usage: fedra [global options] %.*s\n", (int)first, c->synopsis);
    put_indented(f, "                             ", c->synopsis + first + (c->synopsis[first] != 0));
    fputc('\n', f);
    put_indented(f, "", c->summary);
    if (c->options != NULL) {
        fputs("\noptions:\n", f);
        put_indented(f, "", c->options);
    }
    fprintf(f, "\nexample:\n  %s\n\nglobal options (--federation, --cert, --key, --format, ...): "
        "fedra --help\n", c->example);
}

void
coord_query_init(struct coord_query *q)
{
    memset(q, 0, sizeof *q);
    fedra__query_spec__init(&q->spec);
    q->show.conf_type = KM_CONF_LOG;
}

void
coord_query_release(struct coord_query *q)
{
    while (q->nby > 0)
        free(q->by[--q->nby]);
    while (q->ncov > 0)
        free(q->cov[--q->ncov]);
    free(q->filterp);
    free(q->filters);
    where_release(&q->where);
    free(q->times);
    free(q->outcome);
}

int
coord_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fedra: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nrun 'fedra --help' for usage\n", stderr);
    return 2;
}

int
coord_split_list(const char *s, char **out, size_t max, size_t *n)
{
    *n = 0;
    char *copy = xstrdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t == 0)
            continue;
        if (*n == max) {
            while (*n > 0)
                free(out[--*n]);
            free(copy);
            return -1;
        }
        out[(*n)++] = xstrdup(t);
    }
    free(copy);
    return 0;
}

static Fedra__Op
wire_op(enum where_op op)
{
    switch (op) {
    case WHERE_NE: return FEDRA__OP__OP_NE;
    case WHERE_LT: return FEDRA__OP__OP_LT;
    case WHERE_LE: return FEDRA__OP__OP_LE;
    case WHERE_GT: return FEDRA__OP__OP_GT;
    case WHERE_GE: return FEDRA__OP__OP_GE;
    case WHERE_IN: return FEDRA__OP__OP_IN;
    default: return FEDRA__OP__OP_EQ;
    }
}

int
coord_parse_where(const char *expr, struct coord_query *q)
{
    char err[FEDRA_ERRLEN];
    struct where *w = &q->where;
    if (expr != NULL && where_parse(expr, w, err) != 0) {
        fprintf(stderr, "fedra: --where: %s\n  %s\n", err, expr);
        return 2;
    }
    q->filters = xcalloc(w->nterms, sizeof *q->filters);
    q->filterp = xcalloc(w->nterms, sizeof *q->filterp);
    for (size_t i = 0; i < w->nterms; i++) {
        fedra__filter__init(&q->filters[i]);
        q->filters[i].var = w->terms[i].var;
        q->filters[i].op = wire_op(w->terms[i].op);
        q->filters[i].n_values = w->terms[i].nvalues;
        q->filters[i].values = w->terms[i].values;
        q->filterp[i] = &q->filters[i];
    }
    q->spec.n_where = w->nterms;
    q->spec.where = q->filterp;
    return 0;
}

int
coord_parse_endpoint(const char *v, Fedra__Endpoint *out)
{
    if (strcmp(v, "os") == 0)
        *out = FEDRA__ENDPOINT__ENDPOINT_OS;
    else if (strcmp(v, "efs") == 0)
        *out = FEDRA__ENDPOINT__ENDPOINT_EFS;
    else
        return coord_usage_error("--endpoint takes os or efs, got '%s'", v);
    return 0;
}

int
coord_parse_times(const char *v, struct coord_query *q)
{
    char *parts[COORD_MAX_TIMES];
    size_t n;
    if (coord_split_list(v, parts, COORD_MAX_TIMES, &n) != 0)
        return coord_usage_error("--times takes at most %d values", COORD_MAX_TIMES);
    free(q->times);
    q->times = xcalloc(n, sizeof *q->times);
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        long long t;
        bad |= util_parse_int(parts[k], 0, INT32_MAX, &t) != 0;
        q->times[k] = bad ? 0 : (int32_t)t;
        free(parts[k]);
    }
    q->show.times = q->times;
    q->show.ntimes = n;
    if (bad || n == 0)
        return coord_usage_error("--times takes days (whole numbers >= 0) separated by commas, "
            "got '%s'", v);
    return 0;
}

int
coord_parse_grid(const char *v, uint32_t *days)
{
    long long g;
    if (util_parse_int(v, 0, COORD_MAX_GRID, &g) != 0)
        return coord_usage_error("--grid takes days from 0 (exact times) to %d, got '%s'",
            COORD_MAX_GRID, v);
    *days = (uint32_t)g;
    return 0;
}
