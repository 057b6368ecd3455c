/*
 * kind_model - the model kinds and commands: a Cox model stratified by node
 * (and by --strata V) (cox) and a logistic regression (glm), both with R's
 * interaction terms a:b and a*b.  One query of these kinds is one
 * Newton-Raphson or IRLS round; coord/model.c drives the rounds and prints
 * the fit.  Here: the check of one node's share of a round, the parsing of
 * the commands into a model_request, and their rows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/cox.h"
#include "analysis/glm.h"
#include "coord/kind.h"
#include "lib/util.h"

/*
 * A round's share: p coefficients' worth of sums, sizes within the node's
 * rows, and nothing an honest node cannot send: a glm number that is not
 * finite, information (cox: I; glm: X'WX) that is not symmetric or not
 * positive semi-definite (report_psd), a time grid other than the one
 * asked (cox), a suppressed count that carries a value.  One node's
 * indefinite information would push the next coefficients to where the
 * honest nodes' sums overflow; refused here, the node is left out at the
 * round where it lied and the fit restarts over the others.
 *
 * A Cox round that is not finite is what an honest node sends when a
 * coefficient runs off towards infinity (an empty or all-event cell: exp of
 * the linear predictor overflows), as R's coxfit6 computes it too: the sum
 * is then not finite and the Newton-Raphson halves its step (analysis/cox.h),
 * as coxfit6 does.  Such an answer is taken; its other checks need finite
 * numbers and are left to the rounds that have them.
 */
static int
check_model(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why)
{
    const Fedra__ModelResult *m = b->model;
    size_t p = spec->n_terms + (spec->kind == FEDRA__KIND__KIND_GLM);
    if (m == NULL)
        return errf(why, "answered without model sums");
    if (m->n_score != p || m->n_info != p * p)
        return errf(why, "sent model sums of the wrong shape (%zu scores and %zu information "
            "entries for %zu coefficients, not %zu and %zu)", m->n_score, m->n_info, p, p, p * p);
    if (m->n > b->data_rows || m->events > m->n || m->dropped > b->data_rows - m->n ||
        m->excluded > b->data_rows - m->n)
        return errf(why, "sent model sums for more patients than it holds");
    double head[3] = {m->loglik, m->deviance, m->aic};
    int finite = report_finite(head, 3) == 0 && report_finite(m->score, p) == 0 &&
        report_finite(m->info, p * p) == 0;
    if (!finite && spec->kind != FEDRA__KIND__KIND_COX)
        return errf(why, "sent a model sum that is not a finite number (NaN or Inf)");
    for (size_t i = 0; finite && i < p * p; i++)
        if (m->info[i] != m->info[(i % p) * p + i / p])
            return errf(why, "sent an information matrix that is not symmetric");
    char psd[FEDRA_ERRLEN];
    if (finite && report_psd(m->info, p, psd) != 0)
        return errf(why, "sent an information matrix that %s", psd);
    if ((m->dropped_suppressed && m->dropped != 0) ||
        (m->n_boundary_suppressed && m->n_boundary != 0) ||
        (m->excluded_suppressed && m->excluded != 0))
        return errf(why, "sent a suppressed count that carries a value");
    uint32_t grid = spec->exact_times ? 0 : spec->grid_days;
    if (spec->kind == FEDRA__KIND__KIND_COX && m->grid_days != grid)
        return errf(why, "applied a time grid of %u days where %u was asked (0: exact times)",
            m->grid_days, grid);
    return 0;
}

/*
 * One round on its own (a saved round sent with 'fedra send') is no fit:
 * only the node statuses.  The fit is model_run's (coord/model.h).
 */
static int
round_report(const struct report *r, const Fedra__QuerySpec *spec, const struct coord_show *show,
    char *err)
{
    (void)spec;
    (void)show;
    return report_nodes(r, err);
}

const struct coord_kind kind_cox = {
    FEDRA__KIND__KIND_COX, "cox", check_model, round_report, 0,
};

const struct coord_kind kind_glm = {
    FEDRA__KIND__KIND_GLM, "glm", check_model, round_report, 0,
};

/* ---- the commands ---- */

static int
parse_ties(const char *v, Fedra__Ties *out)
{
    if (strcmp(v, "efron") == 0)
        *out = FEDRA__TIES__TIES_EFRON;
    else if (strcmp(v, "breslow") == 0)
        *out = FEDRA__TIES__TIES_BRESLOW;
    else
        return coord_usage_error("--ties takes efron or breslow, got '%s'", v);
    return 0;
}

/* An option with a value that only one of the two models takes; -1 if none. */
static int
parse_model_only(struct model_request *req, const char *a, const char *v, struct coord_query *q)
{
    if (!req->glm && strcmp(a, "--endpoint") == 0)
        return coord_parse_endpoint(v, &req->endpoint);
    if (!req->glm && strcmp(a, "--grid") == 0)
        return coord_parse_grid(v, &req->grid_days);
    if (!req->glm && strcmp(a, "--ties") == 0)
        return parse_ties(v, &req->ties);
    if (!req->glm && strcmp(a, "--strata") == 0) {
        req->strata = v;                /* argv outlives the query */
        return 0;
    }
    if (req->glm && strcmp(a, "--outcome") == 0) {
        free(q->outcome);
        q->outcome = xstrdup(v);
        return 0;
    }
    if (req->glm && strcmp(a, "--family") == 0 && strcmp(v, "binomial") != 0)
        return coord_usage_error("--family: only binomial (logistic regression) is available, "
            "got '%s'", v);
    return req->glm && strcmp(a, "--family") == 0 ? 0 : -1;
}

/* One option with its value; -1 if it is none of the model's. */
static int
parse_model_option(const char *a, const char *v, struct coord_query *q, const char **where_expr)
{
    struct model_request *req = &q->model;
    int maxit = req->glm ? GLM_MAX_MAXIT : COX_MAX_ITER_MAX;
    long long iter;
    if (strcmp(a, "--covariates") == 0) {
        while (q->ncov > 0)
            free(q->cov[--q->ncov]);
        if (coord_split_list(v, q->cov, MODEL_MAX_COVARIATES, &q->ncov) != 0)
            return coord_usage_error("--covariates takes at most %d terms",
                MODEL_MAX_COVARIATES);
        req->covariates = q->cov;       /* set: the list was given */
    } else if (strcmp(a, "--where") == 0) {
        *where_expr = v;
    } else if (strcmp(a, "--max-iter") == 0) {
        if (util_parse_int(v, 1, maxit, &iter) != 0)
            return coord_usage_error("--max-iter takes 1 to %d, got '%s'", maxit, v);
        req->max_iter = (int)iter;
    } else {
        return parse_model_only(req, a, v, q);
    }
    return 0;
}

/* glm --outcome V=LEVEL, split in place. */
static int
parse_outcome(struct coord_query *q)
{
    char *eq = q->outcome ? strchr(q->outcome, '=') : NULL;
    if (eq == NULL || eq == q->outcome || eq[1] == 0)
        return coord_usage_error("%s", "glm needs --outcome V=LEVEL (e.g. --outcome "
            "vital_status=dead)");
    *eq = 0;
    q->model.outcome_var = q->outcome;
    q->model.outcome_level = eq + 1;
    return 0;
}

/* cox and glm share --covariates, --where and --max-iter; each has its own others. */
static int
parse_model(int argc, char **argv, struct coord_query *q)
{
    struct model_request *req = &q->model;
    const char *where_expr = NULL;
    int rc;
    req->glm = strcmp(argv[0], "glm") == 0;
    req->endpoint = FEDRA__ENDPOINT__ENDPOINT_OS;
    req->ties = FEDRA__TIES__TIES_EFRON;
    req->grid_days = COORD_DEFAULT_GRID;
    for (int i = 1; i < argc; i++, i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--allow-partial") == 0) {
            req->allow_partial = 1;
            i--;                        /* a flag: no value */
            continue;
        }
        if (v == NULL || (rc = parse_model_option(argv[i], v, q, &where_expr)) < 0)
            return coord_usage_error("%s: unexpected argument '%s'", argv[0], argv[i]);
        if (rc != 0)
            return rc;
    }
    if (req->covariates == NULL || q->ncov == 0)
        return coord_usage_error("%s needs --covariates V,... (e.g. --covariates "
            "stage,age_years)", argv[0]);
    if (req->glm && parse_outcome(q) != 0)
        return 2;
    if (coord_parse_where(where_expr, q) != 0)
        return 2;
    req->ncov = q->ncov;
    req->where = q->filterp;
    req->nwhere = q->where.nterms;
    req->exact_times = req->grid_days == 0;
    return 0;
}

/*
 * A fit that leaves out selected patients (a node refused, failed or was
 * dropped, or excluded a small level) is not the pooled fit: it is printed
 * only on request, marked partial (coord/model.h).
 */
#define ALLOW_PARTIAL_HELP \
    "  --allow-partial     print the fit even when a node holding selected patients is left\n" \
    "                      out (refused, failed, dropped, or patients excluded), marked\n" \
    "                      partial; without it such a fit is not printed (exit 3)\n"

/* Both models take R's interaction terms. */
#define COVARIATES_HELP \
    "  --covariates V,...  the model's terms: V, a:b (interaction), a*b (= a + b + a:b);\n" \
    "                      factors coded and named as R codes them (stagemetastatic:sexM);\n" \
    "                      an empty combination gives NA, as in R\n"

const struct coord_cmd cmd_cox = {
    "cox", "cox --covariates V,... [--strata V] [--where EXPR] [--endpoint os|efs]\n"
        "    [--grid DAYS] [--ties efron|breslow] [--max-iter N] [--allow-partial]",
    "Cox model stratified by node, exact: coxph(Surv ~ V + ... + strata(node)),\n"
    "one signed round per Newton-Raphson step",
    COVARIATES_HELP
    "  --strata V          baseline hazards by V as well (categorical, not a covariate):\n"
    "                      coxph(... + strata(V) + strata(node))\n"
    "  --where EXPR        select patients, e.g. \"stage!=unknown\"\n"
    "  --endpoint os|efs   overall (default) or event-free survival\n"
    "  --grid DAYS         times rounded up to a grid of DAYS (default 30); 0: exact times\n"
    "  --ties T            efron (default) or breslow\n"
    "  --max-iter N        at most N iterations (default 20, as coxph)\n"
    ALLOW_PARTIAL_HELP,
    "fedra cox --covariates stage,age_years*sex --strata surgery",
    COORD_FLOW_MODEL, {FEDRA__KIND__KIND_COUNT, FEDRA__KIND__KIND_COX}, parse_model,
};

const struct coord_cmd cmd_glm = {
    "glm", "glm --outcome V=LEVEL --covariates V,... [--where EXPR]\n"
        "    [--family binomial] [--max-iter N] [--allow-partial]",
    "logistic regression, exact: glm(V == LEVEL ~ ..., family = binomial),\n"
    "one signed round per IRLS step",
    "  --outcome V=LEVEL   the event modelled, e.g. vital_status=dead\n"
    COVARIATES_HELP
    "  --where EXPR        select patients, e.g. \"tumour_type=melanoma\"\n"
    "  --family binomial   the only family (logit link)\n"
    "  --max-iter N        at most N iterations (default 25, as glm)\n"
    ALLOW_PARTIAL_HELP,
    "fedra glm --outcome vital_status=dead --covariates stage*sex,age_years",
    COORD_FLOW_MODEL, {FEDRA__KIND__KIND_COUNT, FEDRA__KIND__KIND_GLM}, parse_model,
};
