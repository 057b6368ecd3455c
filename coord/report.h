/*
 * report - turn verified node answers into the pooled result and print it
 * as a table, CSV or JSON (interface.md, "Machine-readable output").
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "coord/client.h"
#include "coord/federation.h"

enum report_format { REPORT_TABLE, REPORT_CSV, REPORT_JSON };

struct report {
    enum report_format format;
    FILE *out;                      /* results */
    FILE *diag;                     /* node statuses for csv (stderr) */
    const struct federation *fed;
    const struct node_reply *replies;   /* fed->nnodes */
    const char *query_id;           /* hex, may be "" */
};

/*
 * Check every verified answer against the query before anything is merged:
 * the result kind, the number of levels, known and unique levels, counts
 * within the node's row count, suppressed cells without a count, consistent
 * life tables and sums.  A node whose answer fails becomes NODE_ERROR with
 * the reason, so a lying or broken node is named and never merged.
 */
void report_check_replies(const struct federation *fed, struct node_reply *rep,
    const Fedra__QuerySpec *spec);

/*
 * Pooled counts grouped by by[0..nby) (nby <= 4).  With chisq (nby == 2),
 * also Pearson's chi-square test of the pooled two-way table as R's
 * chisq.test(table(a, b)) computes it (Yates' correction for 2 x 2).
 */
int report_count(const struct report *r, char *const *by, size_t nby, int chisq, char *err);
/*
 * Pooled Kaplan-Meier per stratum (by: the grouping variable or NULL), with
 * limits of conf_type (KM_CONF_*) at 95%; with ntimes > 0 the curve is
 * reported at those times only, as summary(fit, times=) does.  With plot,
 * the curves are also drawn to that SVG file (coord/plot.h).
 */
int report_km(const struct report *r, const char *by, int conf_type, const int32_t *times,
    size_t ntimes, const char *plot, char *err);
/*
 * Log-rank test of the groups of `by`: pooled from the nodes' life tables
 * (survdiff(Surv ~ g)), or, with stratified, from the nodes' own O, E, V
 * (survdiff(Surv ~ g + strata(node))).
 */
int report_logrank(const struct report *r, const char *by, int stratified, char *err);
/* Per-node answers to a ping. */
int report_ping(const struct report *r, char *err);
/* Node statuses only (a query whose result cannot be merged). */
int report_nodes(const struct report *r, char *err);

/* Building blocks for other printers (coord/model.c). */
/* "nodes: k of n answered" and one line per node, to f. */
void report_nodes_text(const struct report *r, FILE *f);
/* {"query_id", "nodes", "result": result} to r->out; takes result's reference. */
int report_emit_json(const struct report *r, json_t *result);
/* One CSV field, quoted only when needed (RFC 4180). */
void report_csv_field(FILE *f, const char *s);
/* %.17g, nothing for R's NA (NaN); JSON: a real, or null for NaN. */
void report_put_num(FILE *f, double x);
json_t *report_json_num(double x);

#endif /* !REPORT_H */
