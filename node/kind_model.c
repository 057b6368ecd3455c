/*
 * kind_model - one round of a model (statistics.md §4.3, §5.1) on the
 * node's records: the rows passing the filter with every model variable
 * present (complete cases), the design columns the query names (spec->terms;
 * glm adds an intercept first), evaluated at spec->beta.  Cox: the node's
 * stratum's log partial likelihood, score and information, with times on
 * the grid the policy allows (as km).  GLM: X'WX, X'Wz, deviance and AIC
 * partials, from glm.fit's start when beta is empty.
 *
 *   admit    cox: the time grid (kind_time_grid)
 *   execute  the round, through the design cache (kind_model.h): find the
 *            fit's design, else build and keep it; evaluate at beta
 *   release  the rules, each refusing the whole round: 1 .. min_cell-1
 *            records; any level of a categorical model variable (outcome
 *            included) held by 1 .. min_cell-1 of them; events (glm: also
 *            non-events) neither 0 nor enough for the coefficients
 *            (disclose_model_events_short)
 *   sets     the cohort, its levels and level pairs, and the events, all for
 *            the whole answer (model_sets)
 *
 * Cox and GLM share one skeleton (model_execute); struct model_way holds
 * what differs.  A design that cannot be evaluated (cox_sorted_init) or a
 * round that fails at its beta is refused late, after the rules, as the
 * node always has.
 */
#include "node/kind_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/glm.h"
#include "analysis/km.h"
#include "node/kind.h"
#include "node/qaudit.h"
#include "node/select.h"

/* Memory behind a filled ModelResult, and the counts its rules read. */
struct model_answer {
    Fedra__ModelResult model;
    double *score, *info;
    int glm;
    const struct snapshot *snap;    /* for the level named in a refusal */
    size_t n, p;                    /* complete cases, coefficients */
    uint64_t events;                /* cox: events; glm: outcome events */
    struct kind_model_level *lev;   /* a copy of the design's level counts */
    size_t nlev;
};

/* ---- the design ---- */

/* One design column resolved against this node's snapshot. */
struct column {
    const struct var_def *var;
    long code;                      /* indicator of this code; -1: absent here; numeric: unused */
};

/* The rows and design matrix of one model round. */
struct design {
    size_t n, p, dropped;
    double *x;                      /* n x p, row-major */
    size_t *row;                    /* snapshot row of each design row */
    struct kind_model_level *lev;   /* patients per level of the categorical model variables */
    size_t nlev;
};

static void
design_release(struct design *d)
{
    free(d->x);
    free(d->row);
    free(d->lev);
    memset(d, 0, sizeof *d);
}

/* A spec's coefficient count fits p model columns (glm: or none, round 0). */
static int
beta_count_ok(int glm, size_t n_beta, size_t p)
{
    return n_beta == p || (glm && n_beta == 0);
}

/* Resolve one Term; the level must be valid for the variable whether or not present here. */
static int
resolve_term(const struct snapshot *snap, const Fedra__Term *t, const char *what,
    struct column *c, char *err)
{
    if (t == NULL || (c->var = vars_find(t->var)) == NULL)
        return errf(err, "%s: unknown variable '%.32s' (variables: %s)", what,
            t ? t->var : "", vars_names());
    if (c->var->kind == VAR_INTEGER) {
        if (t->level[0] != 0)
            return errf(err, "%s: %s is numeric and takes no level ('%.64s')", what,
                c->var->name, t->level);
        c->code = -1;
        return 0;
    }
    if (t->level[0] == 0 || !vars_valid_value(c->var, t->level))
        return errf(err, "%s: '%.64s' is not a level of %s", what, t->level, c->var->name);
    c->code = snapshot_code(snap, c->var, t->level);
    return 0;
}

/* The terms (and glm's outcome) resolved and checked against each other. */
static int
design_columns(const struct snapshot *snap, const Fedra__QuerySpec *spec, int glm,
    struct column *col, struct column *outcome, char *err)
{
    size_t nt = spec->n_terms;
    if (nt > WIRE_MAX_TERMS || (!glm && nt == 0))
        return errf(err, "a model needs 1 to %d terms (%zu given)", WIRE_MAX_TERMS, nt);
    for (size_t j = 0; j < nt; j++) {
        char what[32];
        snprintf(what, sizeof what, "term %zu", j + 1);
        if (resolve_term(snap, spec->terms[j], what, &col[j], err) != 0)
            return -1;
        for (size_t k = 0; k < j; k++)
            if (col[k].var == col[j].var &&
                (col[j].var->kind == VAR_INTEGER ||
                    strcmp(spec->terms[k]->level, spec->terms[j]->level) == 0))
                return errf(err, "term %zu repeats term %zu (%s%s%s)", j + 1, k + 1,
                    col[j].var->name, spec->terms[j]->level[0] ? "=" : "", spec->terms[j]->level);
    }
    if (!glm)
        return 0;
    if (resolve_term(snap, spec->outcome, "outcome", outcome, err) != 0)
        return -1;
    if (outcome->var->kind == VAR_INTEGER)
        return errf(err, "outcome: %s is numeric; name a categorical variable and level",
            outcome->var->name);
    for (size_t j = 0; j < nt; j++)
        if (col[j].var == outcome->var)
            return errf(err, "%s is both the outcome and a covariate", outcome->var->name);
    return 0;
}

/*
 * Patients per level of every categorical model variable (outcome
 * included), in the order of need[]; levels without patients are left out
 * (the level rule never refuses 0).
 */
static void
design_levels(const struct snapshot *snap, const enum var_id *need, size_t nneed,
    struct design *d)
{
    size_t cap = 0;
    for (size_t k = 0; k < nneed; k++)
        cap += vars_get(need[k])->kind == VAR_INTEGER ? 0 : snap->ncodes[need[k]];
    d->lev = xcalloc(cap + 1, sizeof *d->lev);
    uint32_t *per = NULL;
    for (size_t k = 0; k < nneed; k++) {
        const struct var_def *v = vars_get(need[k]);
        if (v->kind == VAR_INTEGER)
            continue;
        per = xrealloc(per, snap->ncodes[v->id] * sizeof *per + 1);
        memset(per, 0, snap->ncodes[v->id] * sizeof *per);
        for (size_t r = 0; r < d->n; r++)
            per[snap->code[v->id][d->row[r]]]++;
        for (uint32_t c = 0; c < snap->ncodes[v->id]; c++)
            if (per[c] > 0)
                d->lev[d->nlev++] = (struct kind_model_level){v->id, (uint16_t)c, per[c]};
    }
    free(per);
}

/*
 * Build the design of a round: resolve and check the terms, select the
 * complete cases, count the levels, fill the matrix.  glm puts an
 * intercept column first.  *outcome (glm) receives the outcome column.
 * No disclosure rule here: release applies them to what this counts.
 */
static int
design_build(const struct snapshot *snap, const Fedra__QuerySpec *spec, int glm,
    struct column *outcome, struct design *d, char *err)
{
    memset(d, 0, sizeof *d);
    struct column col[WIRE_MAX_TERMS];
    if (design_columns(snap, spec, glm, col, outcome, err) != 0)
        return -1;
    size_t nt = spec->n_terms;
    d->p = nt + (glm ? 1 : 0);
    if (!beta_count_ok(glm, spec->n_beta, d->p))
        return errf(err, "%zu coefficients for %zu model columns", spec->n_beta, d->p);
    struct snap_filter f;
    if (select_compile(snap, spec, &f, err) != 0)
        return -1;

    /* Complete cases: every model variable (and the outcome) present. */
    enum var_id need[WIRE_MAX_TERMS + 1];
    size_t nneed = 0;
    for (size_t j = 0; j < nt; j++)
        need[nneed++] = col[j].var->id;
    if (glm)
        need[nneed++] = outcome->var->id;
    d->row = xcalloc(snap->n ? snap->n : 1, sizeof *d->row);
    for (size_t i = 0; i < snap->n; i++) {
        if (!snapshot_row_passes(snap, &f, i))
            continue;
        int complete = 1;
        for (size_t k = 0; k < nneed && complete; k++)
            complete = snap->code[need[k]][i] != SNAP_MISSING;
        if (complete)
            d->row[d->n++] = i;
        else
            d->dropped++;
    }
    snapshot_filter_release(&f);
    design_levels(snap, need, nneed, d);

    d->x = xcalloc(d->n * d->p + 1, sizeof *d->x);
    for (size_t r = 0; r < d->n; r++) {
        double *xr = d->x + r * d->p;
        size_t i = d->row[r];
        if (glm)
            *xr++ = 1.0;
        for (size_t j = 0; j < nt; j++) {
            uint16_t c = snap->code[col[j].var->id][i];
            xr[j] = col[j].var->kind == VAR_INTEGER ? snapshot_value(col[j].var->id, c)
                                                    : (double)(col[j].code == (long)c);
        }
    }
    return 0;
}

/* ---- the design cache (kind_model.h) ---- */

static void
entry_free(struct kind_model_entry *e)
{
    free(e->key);
    cox_sorted_release(&e->cox);
    free(e->x);
    free(e->y);
    free(e->lev);
    memset(e, 0, sizeof *e);
}

static void
entry_release(struct kind_model_cache *c, struct kind_model_entry *e)
{
    c->bytes -= e->bytes;
    entry_free(e);
}

void
kind_model_cache_clear(struct kind_model_cache *c)
{
    for (size_t k = 0; k < KIND_MODEL_CACHE_ENTRIES; k++)
        entry_release(c, &c->e[k]);
}

void
kind_model_cache_expire(struct kind_model_cache *c, int64_t now_ms, int64_t idle_ms)
{
    for (size_t k = 0; k < KIND_MODEL_CACHE_ENTRIES; k++) {
        struct kind_model_entry *e = &c->e[k];
        if (e->key == NULL)
            continue;
        if (e->stamped != e->used) {
            e->stamped = e->used;
            e->last_ms = now_ms;
        } else if (now_ms - e->last_ms >= idle_ms) {
            entry_release(c, e);
        }
    }
}

/* The spec as a cache key: packed, without what changes from round to round. */
static uint8_t *
model_key(const Fedra__QuerySpec *spec, size_t *len)
{
    Fedra__QuerySpec k = *spec;
    k.n_beta = 0;
    k.beta = NULL;
    k.round = 0;
    *len = fedra__query_spec__get_packed_size(&k);
    uint8_t *key = xmalloc(*len + 1);
    fedra__query_spec__pack(&k, key);
    return key;
}

static struct kind_model_entry *
cache_find(struct kind_model_cache *c, const uint8_t *key, size_t len)
{
    if (c == NULL)
        return NULL;
    for (size_t k = 0; k < KIND_MODEL_CACHE_ENTRIES; k++) {
        struct kind_model_entry *e = &c->e[k];
        if (e->key != NULL && e->keylen == len && memcmp(e->key, key, len) == 0) {
            e->used = ++c->tick;
            c->hits++;
            return e;
        }
    }
    c->misses++;
    return NULL;
}

/*
 * Keep *e (key included; ownership passes to the cache) if it fits,
 * evicting the least recently used entries; else release it.
 */
static void
cache_put(struct kind_model_cache *c, struct kind_model_entry *e)
{
    e->bytes = e->keylen + cox_sorted_bytes(&e->cox) + e->nlev * sizeof *e->lev +
        (e->x ? e->n * e->p * sizeof *e->x : 0) + (e->y ? e->n * sizeof *e->y : 0);
    size_t max = c == NULL ? 0 : c->max_bytes ? c->max_bytes : KIND_MODEL_CACHE_MAX_BYTES;
    if (e->bytes > max) {
        entry_free(e);
        return;
    }
    for (;;) {
        struct kind_model_entry *lru = NULL, *empty = NULL;
        for (size_t k = 0; k < KIND_MODEL_CACHE_ENTRIES; k++) {
            struct kind_model_entry *x = &c->e[k];
            if (x->key == NULL)
                empty = empty ? empty : x;
            else if (lru == NULL || x->used < lru->used)
                lru = x;
        }
        if (empty != NULL && c->bytes + e->bytes <= max) {
            e->used = ++c->tick;
            *empty = *e;
            c->bytes += e->bytes;
            return;
        }
        entry_release(c, lru);
    }
}


/* ---- one round: the skeleton and what differs between cox and glm ---- */

/*
 * What differs between the model kinds; model_execute does the rest.
 *   check   spec checks before the cache is asked (NULL: none)
 *   finish  the kind's part of a new design: outcomes or sorted times, and
 *           the events; 1 with *late set if the design cannot be evaluated
 *   eval    the round at spec->beta into a; 1 with *late set on failure
 */
struct model_way {
    int glm;                        /* an intercept column and a binary outcome */
    int (*check)(const struct snapshot *snap, const Fedra__QuerySpec *spec, char *err);
    int (*finish)(const struct snapshot *snap, const Fedra__QuerySpec *spec, struct design *d,
        const struct column *outcome, struct kind_model_entry *e, char *late);
    int (*eval)(const struct kind_model_entry *e, const Fedra__QuerySpec *spec,
        struct model_answer *a, char *late);
};

/* The result's n, dropped, events, and the p-long score and p x p information. */
static void
model_fill(struct model_answer *a, const struct kind_model_entry *e)
{
    Fedra__ModelResult *m = &a->model;
    m->n = e->n;
    m->dropped = e->dropped;
    m->n_score = e->p;
    m->score = a->score;
    m->n_info = e->p * e->p;
    m->info = a->info;
    m->events = e->events;
}

/*
 * A new design into *e (its key already set): 0 ready to evaluate, 1 built
 * but not to be evaluated (late set), -1 on a query not answered (err).
 */
static int
entry_build(const struct model_way *w, const struct snapshot *snap,
    const Fedra__QuerySpec *spec, struct kind_model_entry *e, char *late, char *err)
{
    struct column oc;
    struct design d;
    if (design_build(snap, spec, w->glm, &oc, &d, err) != 0)
        return -1;
    e->n = d.n;
    e->p = d.p;
    e->dropped = d.dropped;
    e->lev = d.lev;
    e->nlev = d.nlev;
    d.lev = NULL;
    int rc = w->finish(snap, spec, &d, &oc, e, late);
    design_release(&d);
    return rc;
}

/* The counts release reads, copied from the design into the answer. */
static void
model_keep_counts(struct model_answer *a, const struct kind_model_entry *e)
{
    a->n = e->n;
    a->p = e->p;
    a->events = e->events;
    a->nlev = e->nlev;
    a->lev = xcalloc(e->nlev + 1, sizeof *a->lev);
    if (e->nlev > 0)
        memcpy(a->lev, e->lev, e->nlev * sizeof *a->lev);
}

/*
 * The skeleton of a round: the fit's design from the cache, else built (and
 * then kept, if it can be evaluated); the round evaluated at beta.
 */
static int
model_execute(const struct model_way *w, const struct node_kind_ctx *ctx,
    const Fedra__QuerySpec *spec, struct node_answer *ans, char *err)
{
    struct model_answer *a = xcalloc(1, sizeof *a);
    ans->stat = a;
    fedra__model_result__init(&a->model);
    a->glm = w->glm;
    a->snap = ctx->snap;
    if (w->check != NULL && w->check(ctx->snap, spec, err) != 0)
        return -1;
    struct kind_model_entry fresh, *e;
    memset(&fresh, 0, sizeof fresh);
    fresh.key = model_key(spec, &fresh.keylen);
    int built = 0;
    if ((e = cache_find(ctx->models, fresh.key, fresh.keylen)) != NULL) {
        free(fresh.key);
        if (!beta_count_ok(w->glm, spec->n_beta, e->p))
            return errf(err, "%zu coefficients for %zu model columns", spec->n_beta, e->p);
    } else {
        if ((built = entry_build(w, ctx->snap, spec, &fresh, ans->late, err)) < 0) {
            entry_free(&fresh);
            return -1;
        }
        e = &fresh;
    }
    model_keep_counts(a, e);
    if (built == 0) {
        a->score = xcalloc(e->p, sizeof *a->score);
        a->info = xcalloc(e->p * e->p, sizeof *a->info);
        w->eval(e, spec, a, ans->late);
    }
    if (e == &fresh && built == 0)
        cache_put(ctx->models, &fresh);
    else if (e == &fresh)
        entry_free(&fresh);
    return 0;
}

/* Refuse unless the events (or non-events) suffice for p coefficients. */
static int
check_events(const struct disclose_policy *policy, uint64_t events, size_t p, const char *what,
    char *err)
{
    uint64_t need = disclose_model_events_short(policy, events, p);
    if (need == 0)
        return 0;
    return errf(err, "too few %s at this node for %zu coefficients: its policy needs none or at "
        "least %llu (min_events_per_parameter %u, min_cell %u)", what, p,
        (unsigned long long)need, policy->min_events_per_param, policy->min_cell);
}

/* The record, level and event rules, in the order the node has always applied them. */
static int
model_release(const struct disclose_policy *policy, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err)
{
    const struct model_answer *a = ans->stat;
    (void)spec;
    if (disclose_suppress(policy, a->n))
        return errf(err, "fewer than %u patients at this node match; the model is not fitted "
            "here", policy->min_cell);
    for (size_t k = 0; k < a->nlev; k++)
        if (disclose_suppress(policy, a->lev[k].n)) {
            char tmp[16];
            const struct kind_model_level *l = &a->lev[k];
            return errf(err, "%s=%s has fewer than %u patients at this node; the model is not "
                "fitted here", vars_get(l->var)->name, snapshot_level(a->snap, l->var, l->code,
                tmp), policy->min_cell);
        }
    if (!a->glm)
        return check_events(policy, a->events, a->p, "events", err);
    if (check_events(policy, a->events, a->p, "outcome events", err) != 0)
        return -1;
    return check_events(policy, a->n - a->events, a->p, "outcome non-events", err);
}

/* ---- cox ---- */

static int
cox_admit(const struct disclose_policy *policy, const Fedra__QuerySpec *spec, char *err)
{
    int32_t grid;
    return kind_time_grid(policy, spec, &grid, err);
}

static int
cox_check(const struct snapshot *snap, const Fedra__QuerySpec *spec, char *err)
{
    const int32_t *tcol;
    const uint8_t *ecol;
    if (kind_endpoint(snap, spec, &tcol, &ecol, err) != 0)
        return -1;
    if (spec->ties != FEDRA__TIES__TIES_EFRON && spec->ties != FEDRA__TIES__TIES_BRESLOW)
        return errf(err, "unknown ties method %d (efron or breslow)", (int)spec->ties);
    return 0;
}

/* The design's times on the grid, sorted with the design (cox_sorted_init). */
static int
cox_finish(const struct snapshot *snap, const Fedra__QuerySpec *spec, struct design *d,
    const struct column *outcome, struct kind_model_entry *e, char *late)
{
    const int32_t *tcol;
    const uint8_t *ecol;
    (void)outcome;
    if (kind_spec_grid(spec, &e->grid, late) != 0 ||
        kind_endpoint(snap, spec, &tcol, &ecol, late) != 0)
        return 1;
    int64_t *t = xcalloc(d->n + 1, sizeof *t);
    int *st = xcalloc(d->n + 1, sizeof *st);
    int rc = 0;
    for (size_t r = 0; r < d->n && rc == 0; r++) {
        int32_t tt = tcol[d->row[r]];
        if (e->grid > 0 && km_grid_ceil(tt, e->grid, &tt) != 0)
            rc = kind_late(late, "a time is out of range for the grid");
        t[r] = tt;
        st[r] = ecol[d->row[r]];
        e->events += (uint64_t)st[r];
    }
    if (rc == 0) {
        int cr = cox_sorted_init(&e->cox, t, st, d->x, d->n, d->p);
        if (cr != 0)
            rc = kind_late(late, "cannot evaluate the Cox model here (error %d)", cr);
    }
    free(t);
    free(st);
    return rc;
}

static int
cox_eval(const struct kind_model_entry *e, const Fedra__QuerySpec *spec, struct model_answer *a,
    char *late)
{
    enum cox_ties ties = spec->ties == FEDRA__TIES__TIES_BRESLOW ? COX_BRESLOW : COX_EFRON;
    int cr = cox_sorted_eval(&e->cox, spec->beta, ties, &a->model.loglik, a->score, a->info);
    if (cr != 0)
        return kind_late(late, "cannot evaluate the Cox model here (error %d)", cr);
    model_fill(a, e);
    a->model.grid_days = (uint32_t)e->grid;
    return 0;
}

static const struct model_way cox_way = {0, cox_check, cox_finish, cox_eval};

static int
cox_execute(const struct node_kind_ctx *ctx, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err)
{
    return model_execute(&cox_way, ctx, spec, ans, err);
}

/* ---- glm (logistic) ---- */

/* The outcome column (1: the outcome's level) and its events. */
static int
glm_finish(const struct snapshot *snap, const Fedra__QuerySpec *spec, struct design *d,
    const struct column *oc, struct kind_model_entry *e, char *late)
{
    (void)spec;
    (void)late;
    e->y = xcalloc(d->n + 1, sizeof *e->y);
    for (size_t r = 0; r < d->n; r++) {
        e->y[r] = (double)(oc->code == (long)snap->code[oc->var->id][d->row[r]]);
        e->events += e->y[r] > 0;
    }
    e->x = d->x;
    d->x = NULL;
    return 0;
}

static int
glm_eval(const struct kind_model_entry *e, const Fedra__QuerySpec *spec, struct model_answer *a,
    char *late)
{
    struct glm_node_stats gs;
    int gr = glm_node_eval(e->y, e->x, e->n, e->p, spec->n_beta ? spec->beta : NULL, a->info,
        a->score, &gs);
    if (gr != 0)
        return kind_late(late, "cannot evaluate the logistic model here (error %d)", gr);
    a->model.deviance = gs.deviance;
    a->model.aic = gs.aic;
    a->model.n_boundary = (uint64_t)gs.n_boundary;
    model_fill(a, e);
    return 0;
}

static const struct model_way glm_way = {1, NULL, glm_finish, glm_eval};

static int
glm_execute(const struct node_kind_ctx *ctx, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err)
{
    return model_execute(&glm_way, ctx, spec, ans, err);
}

/* ---- what both rows share ---- */

/*
 * What a model round releases, as sets (docs/disclosure.md §2.5, §2.6),
 * all for the whole answer (a round cannot withhold a part):
 *   the cohort of complete cases (key: vital_status filters dropped);
 *   each indicator column's rows in it (key), and each pair of indicator
 *     columns' common rows (round 1 of glm releases (3/16) X'X: the counts
 *     of level pairs);
 *   the events (cox: the endpoint's events; glm: y = 1), overall and per
 *     indicator column (full).
 * An indicator of vital_status (an outcome) is a full set only.  The sets
 * of a fit are the same every round: later rounds are repeats (dependent
 * sets, kept).  A spec the executor refuses gives no sets.
 */
#define MODEL_SET_COLS (WIRE_MAX_TERMS + 1)
static void
model_sets(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, const struct node_answer *ans, struct qaudit_sets *out)
{
    (void)policy;
    (void)ans;
    int glm = spec->kind == FEDRA__KIND__KIND_GLM;
    struct column col[MODEL_SET_COLS], outcome = {0};
    char ignored[FEDRA_ERRLEN];
    const int32_t *tcol = NULL;
    const uint8_t *ecol = NULL;
    if (design_columns(snap, spec, glm, col, &outcome, ignored) != 0 ||
        (!glm && kind_endpoint(snap, spec, &tcol, &ecol, ignored) != 0))
        return;
    size_t nt = spec->n_terms;
    struct qaudit_groups full, key;
    qaudit_groups(snap, spec, 0, &full);
    qaudit_groups(snap, spec, 1, &key);
    if (full.n == 1 && key.n == 1) {
        /* Complete cases of each: every model variable present. */
        struct qaudit_group *g[2] = {&full.v[0], &key.v[0]};
        for (int w = 0; w < 2; w++) {
            size_t m = 0;
            for (size_t j = 0; j < g[w]->n; j++) {
                uint32_t r = g[w]->rows[j];
                int complete = !glm || snap->code[outcome.var->id][r] != SNAP_MISSING;
                for (size_t t = 0; t < nt && complete; t++)
                    complete = snap->code[col[t].var->id][r] != SNAP_MISSING;
                if (complete)
                    g[w]->rows[m++] = r;
            }
            g[w]->n = m;
        }
        qaudit_add(out, QAUDIT_WHOLE, key.v[0].rows, key.v[0].n, full.v[0].rows, full.v[0].n);
        /* The indicator columns' rows (a, b: one column, or a pair), and events. */
        size_t cap = full.v[0].n + 1;
        uint32_t *kr = xmalloc(key.v[0].n * sizeof *kr + 4), *fr = xmalloc(cap * sizeof *fr);
        uint32_t *ev = xmalloc(cap * sizeof *ev);
        for (size_t a = 0; a <= nt; a++)
            for (size_t b = a; b <= nt; b++) {
                /* a == nt: no column (the overall events); b == nt: a alone. */
                if (a == nt && b != nt)
                    continue;
                if ((a < nt && col[a].var->kind == VAR_INTEGER) ||
                    (b < nt && b != a && col[b].var->kind == VAR_INTEGER) || (b == a && a < nt))
                    continue;
                int outc = 0;
                size_t nk = 0, nf = 0, ne = 0;
                for (int w = 0; w < 2; w++) {
                    const struct qaudit_group *grp = w ? &key.v[0] : &full.v[0];
                    for (size_t j = 0; j < grp->n; j++) {
                        uint32_t r = grp->rows[j];
                        int in = 1;
                        size_t cs[2] = {a, b};
                        for (int q = 0; q < 2; q++)
                            if (cs[q] < nt) {
                                in &= snap->code[col[cs[q]].var->id][r] == col[cs[q]].code;
                                outc |= col[cs[q]].var->id == VAR_VITAL_STATUS;
                            }
                        if (!in)
                            continue;
                        if (w) {
                            kr[nk++] = r;
                            continue;
                        }
                        fr[nf++] = r;
                        if (glm ? snap->code[outcome.var->id][r] == outcome.code : ecol[r])
                            ev[ne++] = r;
                    }
                }
                if (a < nt)
                    qaudit_add(out, QAUDIT_WHOLE, outc ? NULL : kr, nk, fr, nf);
                qaudit_add(out, QAUDIT_WHOLE, NULL, 0, ev, ne);
            }
        free(kr);
        free(fr);
        free(ev);
    }
    qaudit_groups_free(&full);
    qaudit_groups_free(&key);
}

static void
model_result(const struct node_answer *ans, Fedra__ResponseBody *rb)
{
    rb->model = &((struct model_answer *)ans->stat)->model;
}

static void
model_summary(const struct node_answer *ans, const Fedra__QuerySpec *spec, char *buf,
    size_t len)
{
    const struct model_answer *a = ans->stat;
    snprintf(buf, len, "%s round %u: %zu coefficients, n %llu", a->glm ? "glm" : "cox",
        spec->round, a->model.n_score, (unsigned long long)a->model.n);
}

static void
model_free(struct node_answer *ans)
{
    struct model_answer *a = ans->stat;
    if (a != NULL) {
        free(a->score);
        free(a->info);
        free(a->lev);
        free(a);
    }
    memset(ans, 0, sizeof *ans);
}

const struct node_kind node_kind_cox = {
    .kind = FEDRA__KIND__KIND_COX,
    .name = "cox",
    .admit = cox_admit,
    .execute = cox_execute,
    .release = model_release,
    .sets = model_sets,
    .withhold = NULL,
    .result = model_result,
    .summary = model_summary,
    .free_answer = model_free,
};

const struct node_kind node_kind_glm = {
    .kind = FEDRA__KIND__KIND_GLM,
    .name = "glm",
    .admit = NULL,
    .execute = glm_execute,
    .release = model_release,
    .sets = model_sets,
    .withhold = NULL,
    .result = model_result,
    .summary = model_summary,
    .free_answer = model_free,
};
