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
#include "lib/util.h"

#define REPORT_MAX_ROWS ((uint64_t)1 << 40)   /* rows a node may claim: sums stay exact */

enum report_format { REPORT_TABLE, REPORT_CSV, REPORT_JSON };

/*
 * A pooled release (coord/pooled.h): the report merges one answer, the
 * hub's released table, while the nodes listed are the participants.
 */
struct report_pooled {
    const struct federation *fed;   /* the participants */
    const struct node_reply *replies;   /* what became of each one's share */
    const char *hub;                /* who released the result */
    uint32_t min_cell, min_sites, grid_days;    /* the rules it applied */
};

struct report {
    enum report_format format;
    FILE *out;                      /* results */
    FILE *diag;                     /* node statuses for csv (stderr) */
    const struct federation *fed;
    const struct node_reply *replies;   /* fed->nnodes */
    const char *query_id;           /* hex, may be "" */
    const struct report_pooled *pooled;     /* a pooled release, or NULL */
};

/*
 * Check every verified answer against the query before anything is merged:
 * the result kind, the number of levels, known and unique levels, counts
 * within the node's row count, suppressed cells without a count, consistent
 * life tables and sums; and what an honest node cannot send (issue 12):
 * times off the grid asked or another grid, a released count or stratum
 * inside the node's own suppression range, max_hidden or min_cell above the
 * protocol's ceiling, a number that is not finite, information or a
 * variance that is not positive semi-definite.  A node whose answer fails
 * becomes NODE_ERROR with the reason naming the rule, so a lying or broken
 * node is named and never merged.
 */
void report_check_replies(const struct federation *fed, struct node_reply *rep,
    const Fedra__QuerySpec *spec);

/*
 * What every kind's check (coord/kind.h) tests on numbers an honest node
 * can only send one way.
 *
 * report_finite: 0 if the n doubles are all finite (no NaN, no Inf).
 *
 * report_psd: 0 if the symmetric p x p matrix a (row-major; symmetry is
 * checked by the caller) is positive semi-definite, -1 with why ("is not
 * positive semi-definite (column K)") otherwise.  An LDL' factorisation
 * without pivoting that admits zero pivots, as the sum of an honest node's
 * matrices can be singular (a column of zeros for a level the node does
 * not hold, two columns aliased at that node).  Pivot k is compared with
 * thr_k = REPORT_PSD_TOL x (column k's own diagonal) + REPORT_PSD_FLOOR x
 * (the largest diagonal): below -thr_k the matrix has a direction of
 * negative curvature and is refused; within +-thr_k the pivot is zero, and
 * then the column left below it must be zero too, |w_jk| <= 2 sqrt(thr_k
 * (a_jj + floor)) (a PSD matrix has |w_jk|^2 <= w_kk w_jj), else the matrix
 * is indefinite (e.g. [[0, 1], [1, 1]]); the column is then dropped.  The
 * tolerances are far above the rounding of honest sums (relative 1e-16 per
 * term: an aliased column's pivot comes out near 1e-15 of its diagonal) and
 * far below any lie that matters: what passes has no eigenvalue below about
 * -p x REPORT_PSD_TOL of the diagonal scale, which cannot turn the pooled
 * information of honest nodes indefinite.
 */
#define REPORT_PSD_TOL 1e-8             /* relative to the column's own diagonal */
#define REPORT_PSD_FLOOR 1e-10          /* relative to the largest diagonal */
int report_finite(const double *x, size_t n);
int report_psd(const double *a, size_t p, char *why);

/*
 * Each kind's merge and printer is in its module (coord/kind.h); what they
 * share is here.
 */
/* Node statuses only (a query whose result cannot be merged). */
int report_nodes(const struct report *r, char *err);

/* Building blocks for the printers (coord/kind_*.c, coord/model.c). */
/* Distinct level texts of one variable across all answers, in output order. */
struct report_levels {
    const struct var_def *var;      /* NULL if the name is not in the catalogue */
    char **text;                    /* borrowed from the answers */
    size_t n, cap;
};
void report_levels_add(struct report_levels *l, const char *t);
/* The catalogue's order: data-model order, integers numerically, codes alphabetically. */
void report_levels_sort(struct report_levels *l);
/* The index of t, or -1. */
int64_t report_levels_code(const struct report_levels *l, const char *t);
/* 1 if the n strings are all distinct (sorts keys). */
int report_all_distinct(char **keys, size_t n);
/* 1 if level is a value of the query's k-th grouping variable. */
int report_level_ok(const Fedra__QuerySpec *spec, size_t k, const char *level);

/* "nodes: k of n answered" and one line per node, to f. */
void report_nodes_text(const struct report *r, FILE *f);
/* {"query_id", "nodes", "result": result} to r->out; takes result's reference. */
int report_emit_json(const struct report *r, json_t *result);
/* The "nodes" array of report_emit_json: {"name", "status", "reason", ...} per node. */
json_t *report_nodes_json(const struct report *r);
/*
 * The same with nodes given (its reference taken) and, when partial >= 0,
 * a "partial": true/false member (a fit that may leave nodes out).
 */
int report_emit_json_nodes(const struct report *r, json_t *nodes, int partial, json_t *result);
/* One CSV field, quoted only when needed (RFC 4180). */
void report_csv_field(FILE *f, const char *s);
/*
 * The CSV convention (README, "Results"): the documented columns, then the
 * result's summary columns, the same on every row, then `nodes`.  The
 * summary is built once into a buf, one field a call, each with its leading
 * comma, and written after every row (report_tail_text).
 */
void report_tail_num(struct buf *t, double x);      /* %.17g; empty for NA */
void report_tail_int(struct buf *t, long long v);
void report_tail_str(struct buf *t, const char *s); /* quoted when needed */
void report_tail_bool(struct buf *t, int v);        /* TRUE/FALSE: read.csv makes a logical */
/* `nodes`: NAME=status;NAME=status in federation order (status as in the table). */
void report_tail_nodes(struct buf *t, const struct report *r);
const char *report_tail_text(const struct buf *t);
/* %.17g, nothing for R's NA (NaN); JSON: a real, or null for NaN. */
void report_put_num(FILE *f, double x);
json_t *report_json_num(double x);

#endif /* !REPORT_H */
