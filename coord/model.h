/*
 * model - fit a Cox model stratified by node, or a logistic regression,
 * across the federation: one signed round per Newton-Raphson or IRLS step
 * (statistics.md §4.3-4.5, §5.1), then print it as summary.coxph or
 * summary.glm would.
 *
 * The design is fixed before the first step, as R fixes it from the pooled
 * data: count rounds (one cross-table for up to four closed variables, one
 * round per variable where open ones are involved) tell which levels are
 * present among the complete cases of the answering nodes; the levels are
 * taken in data-model order (ICD-O-3 codes sorted), the first present one is
 * the reference, the absent ones are dropped, and each other level becomes
 * one indicator column named as R names it (stagemetastatic).  Integer
 * variables (age_years, diagnosis_year) are numeric columns.
 *
 * Interactions are R's formula terms: a:b is the product of a's and b's
 * columns, a*b is a + b + a:b.  Terms are ordered as terms.formula orders
 * them (by degree, then as given; a term's variables in the order they
 * first appear; a repeated term once), and a factor of a:b is coded by
 * contrasts when the other variable is in an earlier term (a main effect,
 * or another interaction), else by an indicator of every present level
 * (R's model.matrix rule for marginality, TermCode); its columns are named a's:b's (stagemetastatic:sexM), a's
 * varying fastest.  A combination that no patient holds gives a column of
 * zeros, which R reports as NA (aliased), and so does fedra.  cox --strata
 * V stratifies each node's sums by V as well (the node's business: the
 * coordinator only names V).
 *
 * A node that fails any round (refuses, times out, sends something that
 * does not check, or whose data changed since the fit began) is left out
 * and the fit starts again over the remaining nodes, from the design on: a
 * result is always the exact fit of the nodes it names as answering, never
 * a mixture.
 */
#ifndef MODEL_H
#define MODEL_H

#include <stddef.h>

#include "coord/client.h"
#include "coord/report.h"

#define MODEL_MAX_COVARIATES 16          /* terms named by --covariates (V, a:b or a*b) */
#define MODEL_MAX_VARS (2 * MODEL_MAX_COVARIATES)   /* distinct variables in them */
#define MODEL_MAX_MTERMS (3 * MODEL_MAX_COVARIATES) /* model terms once a*b is expanded */

struct model_request {
    int glm;                            /* 0: cox, 1: logistic */
    char *const *covariates;            /* terms as given: V, a:b or a*b (= a + b + a:b) */
    size_t ncov;
    Fedra__Filter **where;              /* --where, as wire filters */
    size_t nwhere;
    Fedra__Endpoint endpoint;           /* cox */
    uint32_t grid_days;                 /* cox */
    int exact_times;                    /* cox */
    Fedra__Ties ties;                   /* cox */
    const char *strata;                 /* cox --strata V, or NULL */
    const char *outcome_var, *outcome_level;    /* glm */
    int max_iter;                       /* 0: R's default (20 cox, 25 glm) */
    int allow_partial;                  /* print a fit that leaves out selected patients */
    int one_way;                        /* a pooled fit: its levels assumed, else asked alone */
    int ask_levels;                     /* a pooled fit: ask them first (verify: as recorded) */
};

/*
 * How model_run() reaches the nodes: sign ${spec} as a new query, send it to
 * the nodes with active[i] set (federation order), and fill rep[i] for each
 * of them, checked with report_check_replies().  Returns 0, or -1 with err
 * when nothing could be sent.
 */
typedef int (*model_send_fn)(void *ctx, Fedra__QuerySpec *spec, const unsigned char *active,
    struct node_reply *rep, char *err);

/*
 * Run the fit and print it through ${r} (format, streams, federation; its
 * replies are set by the fit).  A fit that leaves out selected patients (a
 * node that holds some was refused, failed, timed out or dropped out, or
 * took part with some excluded) is not the pooled fit: it is printed only
 * with req->allow_partial, and then marked partial in every format;
 * without it only the nodes are printed, and stderr names each node left
 * out, why, and how many patients it holds where its answers say.  Returns
 * 0 when every node took part with all its patients, 3 when not (printed
 * partial, refused, or the nodes left out hold none), 1 on failure with
 * err set.  The exit status's note goes to stderr from here.
 */
int model_run(const struct model_request *req, const struct report *r, model_send_fn send,
    void *ctx, char *err);

#endif /* !MODEL_H */
