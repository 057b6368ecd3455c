/*
 * kind - the coordinator's registry of query kinds and its table of commands.
 *
 * Everything the coordinator knows about one statistic is in one module,
 * named after its family (kind_count.c, kind_survival.c, kind_model.c,
 * kind_ping.c), and reached through two const tables here, as SQLite reaches
 * its built-in functions and git its commands:
 *
 *   - one struct coord_kind per wire kind (Fedra__Kind): how to check one
 *     node's answer before anything is merged, and how to merge the answers
 *     and print the result in every format;
 *   - one struct coord_cmd per command: its help (synopsis, options,
 *     example), how its arguments become a query, which kinds it sends, and
 *     which of fedra.c's generic flows runs it.
 *
 * A new statistic is its own functions plus one row in each table (kind.c).
 * An answer of a kind without a row is refused, never merged unchecked
 * (report_check_replies).
 */
#ifndef COORD_KIND_H
#define COORD_KIND_H

#include <stdint.h>
#include <stdio.h>

#include "coord/model.h"
#include "coord/report.h"
#include "proto/where.h"
#include "proto/wire.h"

#define COORD_CMD_MAX_KINDS 3           /* kinds one command sends */
#define COORD_MAX_TIMES 1000            /* km --times values */
#define COORD_DEFAULT_GRID 30           /* km, logrank, cox: --grid default (days) */
#define COORD_MAX_GRID 3660             /* --grid upper bound (days) */

/* How a result is shown, beyond the format: the command's output options. */
struct coord_show {
    int chisq;                      /* count: add the chi-square test */
    int conf_type;                  /* km: KM_CONF_* */
    const int32_t *times;           /* km: --times, or NULL */
    size_t ntimes;
    const char *plot;               /* km: SVG file to draw, or NULL */
    double rmean;                   /* km: --rmean TAU (days), or 0 */
};

/* One wire kind: every member is set, rows are const. */
struct coord_kind {
    Fedra__Kind kind;
    const char *name;               /* as in the protocol, lower case */
    /*
     * Check one verified answer (status ok, data_rows within REPORT_MAX_ROWS)
     * against the query: the result member, sizes, levels, sums.  Returns 0,
     * or -1 with why ("sent ...", completing "answer rejected: node ...").
     */
    int (*check)(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why);
    /*
     * Merge the ok answers in r->replies and print the result in r->format.
     * Called when at least one node answered, or always with always_report.
     * Returns 0, or -1 with err.
     */
    int (*report)(const struct report *r, const Fedra__QuerySpec *spec,
        const struct coord_show *show, char *err);
    int always_report;              /* report even when no node answered (ping lists them) */
};

/* The row of kind (a Fedra__Kind value), or NULL for a kind the coordinator does not know. */
const struct coord_kind *coord_kind_get(int kind);

/*
 * A command's arguments, parsed: the query to sign (or, for a model, the fit
 * to run) and how to show the answer.  The spec and the model request point
 * into the storage below; coord_query_release() frees it.
 */
struct coord_query {
    Fedra__QuerySpec spec;          /* one-round commands */
    struct model_request model;     /* COORD_FLOW_MODEL */
    struct coord_show show;
    /* storage */
    char *by[WIRE_MAX_GROUP_BY + 1];
    size_t nby;
    struct where where;
    Fedra__Filter *filters, **filterp;
    int32_t *times;
    char *cov[MODEL_MAX_COVARIATES];
    size_t ncov;
    char *outcome;
};

void coord_query_init(struct coord_query *q);
void coord_query_release(struct coord_query *q);

/* How fedra.c runs a command. */
enum coord_flow {
    COORD_FLOW_ONE_ROUND,           /* sign q->spec, send it once, report by its kind */
    COORD_FLOW_MODEL,               /* run q->model: one signed round per iteration */
    COORD_FLOW_SEND,                /* send a saved signed query */
    COORD_FLOW_VERIFY               /* re-check a bundle offline */
};

/* One command: its help text, its parser, the kinds it sends. */
struct coord_cmd {
    const char *name;
    const char *synopsis;           /* after "fedra ": the name and its options; lines after
                                       the first start with their indentation */
    const char *summary;            /* what it does, one or two lines */
    const char *options;            /* one "  --opt ARG  meaning" line per option, or NULL */
    const char *example;            /* a command line a statistician could type */
    enum coord_flow flow;
    Fedra__Kind kinds[COORD_CMD_MAX_KINDS];  /* kinds it sends; 0 (UNSPECIFIED) ends */
    /*
     * argv[0] is the name.  Fill q (initialized by the caller); return 0, or
     * print the usage error and return 2.  NULL for send and verify, which
     * fedra.c parses itself (they carry no query of their own).
     */
    int (*parse)(int argc, char **argv, struct coord_query *q);
};

/* The command called name, or NULL. */
const struct coord_cmd *coord_cmd_find(const char *name);
/* Every command, one after another: for (i = 0; (c = coord_cmd_at(i)); i++). */
const struct coord_cmd *coord_cmd_at(size_t i);
/* Help: the command list with options (fedra --help), and one command's page. */
void coord_cmd_list(FILE *f);
void coord_cmd_help(FILE *f, const struct coord_cmd *c);

/* Building blocks for the parsers (kind_*.c). */
/* "fedra: MESSAGE" and where to find the usage, to stderr; returns 2. */
int coord_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Split "a,b,c" into at most max new strings; -1 (nothing kept) if more. */
int coord_split_list(const char *s, char **out, size_t max, size_t *n);
/* --where EXPR (NULL: none) into q->spec.where; 0, or 2 after saying why. */
int coord_parse_where(const char *expr, struct coord_query *q);
/* --endpoint os|efs, --grid DAYS: 0, or 2 after saying why. */
int coord_parse_endpoint(const char *v, Fedra__Endpoint *out);
int coord_parse_grid(const char *v, uint32_t *days);

/* The rows, each defined in its family's module; kind.c lists them. */
extern const struct coord_kind kind_count, kind_ping, kind_km, kind_logrank, kind_cox, kind_glm;
extern const struct coord_cmd cmd_count, cmd_ping, cmd_km, cmd_logrank, cmd_cox, cmd_glm;

#endif /* !COORD_KIND_H */
