/*
 * kind_model - one round of a model (statistics.md §4.3, §5.1) on the
 * node's records: the rows passing the filter with every model variable
 * present (complete cases), the design columns the query names (spec->terms;
 * glm adds an intercept first; a term with var2 is the product of two
 * factors, an interaction), evaluated at spec->beta.  Cox: the node's
 * stratum's log partial likelihood, score and information, with times on
 * the grid the policy allows (as km); with spec->strata V, one stratum per
 * level of V held here, summed (cox_strata_eval).  GLM: X'WX, X'W(z - eta),
 * deviance and AIC partials, from glm.fit's start when beta is empty.
 *
 *   admit    cox: the time grid (kind_time_grid)
 *   execute  the round, through the design cache (kind_model.h): find the
 *            fit's design, else build and keep it; with the path check on,
 *            refuse coefficients that are not the next step of the fit
 *            (below); evaluate at beta.  The design leaves out the complete
 *            cases at any level of a categorical model variable (outcome and
 *            strata variable included), or in a cell of two factors an
 *            interaction crosses, held by 1 .. min_cell-1 of them, until no
 *            such level or cell remains (docs/disclosure.md R2: `excluded`)
 *   release  the rules, each refusing the whole round: 1 .. min_cell-1
 *            records; events (glm: also non-events) neither 0 nor enough
 *            for the coefficients (disclose_model_events_short).  dropped,
 *            n_boundary and excluded of 1 .. min_cell-1 are sent as 0 with
 *            their suppressed flag (R2)
 *   sets     the cohort, its indicator columns (levels, cells) and their
 *            pairs, the strata, and the events, all for the whole answer
 *            (model_sets)
 *
 * The path check (docs/disclosure.md R1).  Round 1 is evaluated only where
 * the coordinator's Newton-Raphson / IRLS starts: beta 0 (cox), no beta
 * (glm: glm.fit's mustart); it starts the fit's replay (proto/modelsum.h)
 * in the design's cache entry.  Round k >= 2 must carry the signed answers
 * of round k-1 (QuerySpec.prev_answers, in the coordinator's summation
 * order): each a node's signed answer (chain, CRL, role node: the node's
 * certificate cache keeps the verdicts) to the query of round k-1 this node
 * answered (its hash is kept), with status OK and a result of the fit's
 * shape; this node's own among them; no node twice.  Their sum
 * (modelsum_add, the coordinator's own function) is fed to the replay, and
 * the query's beta must equal the replay's next coefficients bit for bit --
 * or, for cox, coxfit6's extra round at the last accepted coefficients
 * after a smaller iteration bound ran out (modelsum.h), which ends the fit.
 * Refusals: `model-path` (coefficients off the path, answers that do not
 * check, a finished fit; a wrong beta also ends the fit here, fail closed)
 * and `model-state` (no state kept for the fit at round >= 2).
 *
 * Cox and GLM share one skeleton (model_execute); struct model_way holds
 * what differs.  A design that cannot be evaluated (cox_sorted_init) or a
 * round that fails at its beta is refused late, after the rules, as the
 * node always has.
 */
#include "node/kind_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/glm.h"
#include "analysis/km.h"
#include "certs/pki.h"
#include "node/certcache.h"
#include "node/kind.h"
#include "node/qaudit.h"
#include "node/select.h"
#include "proto/poolmodel.h"

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

/*
 * One design column resolved against this node's snapshot: one factor (a
 * numeric variable's value or a level's 0/1 indicator), or the product of
 * two (an interaction a:b, Term.var2 / level2), as R's model.matrix
 * multiplies the columns of an interaction's factors.
 */
struct column {
    const struct var_def *var;
    long code;                      /* indicator of this code; -1: absent here; numeric: unused */
    const struct var_def *var2;     /* the interaction's second factor; NULL: a main effect */
    long code2;
};

/*
 * The model's variables, each once: what a complete case must have
 * (covariates, glm's outcome, cox's strata variable), and the pairs of
 * categorical variables an interaction column crosses, whose cells the
 * level rule (R2) reads as it reads levels.
 */
#define MODEL_NEED_MAX (2 * WIRE_MAX_TERMS + 2)
struct need {
    enum var_id var[MODEL_NEED_MAX];
    size_t n;
    enum var_id pair[WIRE_MAX_TERMS][2];
    size_t npair;
};

static void
need_add(struct need *nd, enum var_id v)
{
    for (size_t k = 0; k < nd->n; k++)
        if (nd->var[k] == v)
            return;
    nd->var[nd->n++] = v;
}

/* The need of nt columns (and glm's outcome, cox's strata variable: NULL if none). */
static void
need_build(const struct column *col, size_t nt, const struct var_def *outcome,
    const struct var_def *strata, struct need *nd)
{
    memset(nd, 0, sizeof *nd);
    for (size_t j = 0; j < nt; j++) {
        need_add(nd, col[j].var->id);
        if (col[j].var2 == NULL)
            continue;
        need_add(nd, col[j].var2->id);
        if (col[j].var->kind == VAR_INTEGER || col[j].var2->kind == VAR_INTEGER)
            continue;
        int dup = 0;
        for (size_t k = 0; k < nd->npair; k++)
            dup |= nd->pair[k][0] == col[j].var->id && nd->pair[k][1] == col[j].var2->id;
        if (!dup) {
            nd->pair[nd->npair][0] = col[j].var->id;
            nd->pair[nd->npair++][1] = col[j].var2->id;
        }
    }
    if (outcome != NULL)
        need_add(nd, outcome->id);
    if (strata != NULL)
        need_add(nd, strata->id);
}

/* One factor's value in a row: a numeric variable's value, or a level's indicator. */
static double
factor_value(const struct snapshot *snap, const struct var_def *v, long code, size_t row)
{
    uint16_t c = snap->code[v->id][row];
    return v->kind == VAR_INTEGER ? snapshot_value(v->id, c) : (double)(code == (long)c);
}

static double
column_value(const struct snapshot *snap, const struct column *c, size_t row)
{
    double x = factor_value(snap, c->var, c->code, row);
    return c->var2 == NULL ? x : x * factor_value(snap, c->var2, c->code2, row);
}

/* A column of 0/1 indicators only (a level, or a cell of two categorical factors). */
static int
column_indicator(const struct column *c)
{
    return c->var->kind != VAR_INTEGER && (c->var2 == NULL || c->var2->kind != VAR_INTEGER);
}

/* An indicator column's rows: 1 where the row is in it. */
static int
column_has(const struct snapshot *snap, const struct column *c, uint32_t row)
{
    return snap->code[c->var->id][row] == c->code &&
        (c->var2 == NULL || snap->code[c->var2->id][row] == c->code2);
}

/* The rows and design matrix of one model round. */
struct design {
    size_t n, p, dropped, excluded;
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

/* Resolve one factor; the level must be valid for the variable whether or not present here. */
static int
resolve_factor(const struct snapshot *snap, const char *name, const char *level,
    const char *what, const struct var_def **var, long *code, char *err)
{
    if ((*var = vars_find(name)) == NULL)
        return errf(err, "%s: unknown variable '%.32s' (variables: %s)", what, name,
            vars_names());
    if ((*var)->kind == VAR_INTEGER) {
        if (level[0] != 0)
            return errf(err, "%s: %s is numeric and takes no level ('%.64s')", what,
                (*var)->name, level);
        *code = -1;
        return 0;
    }
    if (level[0] == 0 || !vars_valid_value(*var, level))
        return errf(err, "%s: '%.64s' is not a level of %s", what, level, (*var)->name);
    *code = snapshot_code(snap, *var, level);
    return 0;
}

/* Resolve one Term: a factor, or (var2 set) the product of two factors of two variables. */
static int
resolve_term(const struct snapshot *snap, const Fedra__Term *t, const char *what,
    struct column *c, char *err)
{
    c->var2 = NULL;
    c->code2 = -1;
    if (t == NULL)
        return errf(err, "%s: no term", what);
    if (resolve_factor(snap, t->var, t->level, what, &c->var, &c->code, err) != 0)
        return -1;
    if (t->var2[0] == 0) {
        if (t->level2[0] != 0)
            return errf(err, "%s: a level of a second factor ('%.64s') without its variable",
                what, t->level2);
        return 0;
    }
    char what2[48];
    snprintf(what2, sizeof what2, "%s, second factor", what);
    if (resolve_factor(snap, t->var2, t->level2, what2, &c->var2, &c->code2, err) != 0)
        return -1;
    if (c->var2 == c->var)
        return errf(err, "%s: an interaction of %s with itself", what, c->var->name);
    return 0;
}

/* Two resolved columns are the same column (a:b and b:a alike). */
static int
column_same(const struct column *a, const Fedra__Term *ta, const struct column *b,
    const Fedra__Term *tb)
{
    if (a->var == b->var && a->var2 == b->var2)
        return strcmp(ta->level, tb->level) == 0 && strcmp(ta->level2, tb->level2) == 0;
    if (a->var2 != NULL && a->var == b->var2 && a->var2 == b->var)
        return strcmp(ta->level, tb->level2) == 0 && strcmp(ta->level2, tb->level) == 0;
    return 0;
}

/* cox --strata V: V must be a categorical variable and no main effect of the model. */
static int
resolve_strata(const Fedra__QuerySpec *spec, int glm, const struct column *col,
    const struct var_def **out, char *err)
{
    *out = NULL;
    if (spec->strata[0] == 0)
        return 0;
    if (glm)
        return errf(err, "strata ('%.32s') apply to a Cox model only", spec->strata);
    const struct var_def *v = vars_find(spec->strata);
    if (v == NULL)
        return errf(err, "strata: unknown variable '%.32s' (variables: %s)", spec->strata,
            vars_names());
    if (v->kind == VAR_INTEGER)
        return errf(err, "strata: %s is numeric; strata take a categorical variable", v->name);
    for (size_t j = 0; j < spec->n_terms; j++)
        if (col[j].var == v && col[j].var2 == NULL)
            return errf(err, "%s is both a covariate and the strata variable", v->name);
    *out = v;
    return 0;
}

/* The terms (glm's outcome, cox's strata variable) resolved and checked against each other. */
static int
design_columns(const struct snapshot *snap, const Fedra__QuerySpec *spec, int glm,
    struct column *col, struct column *outcome, const struct var_def **strata, char *err)
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
            if (column_same(&col[k], spec->terms[k], &col[j], spec->terms[j]))
                return errf(err, "term %zu repeats term %zu (%s%s%s%s%s)", j + 1, k + 1,
                    col[j].var->name, spec->terms[j]->level[0] ? "=" : "", spec->terms[j]->level,
                    col[j].var2 ? ":" : "", col[j].var2 ? col[j].var2->name : "");
    }
    if (resolve_strata(spec, glm, col, strata, err) != 0)
        return -1;
    if (!glm)
        return 0;
    if (resolve_term(snap, spec->outcome, "outcome", outcome, err) != 0)
        return -1;
    if (outcome->var->kind == VAR_INTEGER || outcome->var2 != NULL)
        return errf(err, "outcome: name one categorical variable and level");
    for (size_t j = 0; j < nt; j++)
        if (col[j].var == outcome->var || col[j].var2 == outcome->var)
            return errf(err, "%s is both the outcome and a covariate", outcome->var->name);
    return 0;
}

/*
 * Patients per level of every categorical model variable (outcome and
 * strata variable included), in the order of need; levels without
 * patients are left out (the level rule never refuses 0).
 */
static void
design_levels(const struct snapshot *snap, const struct need *nd, struct design *d)
{
    size_t cap = 0;
    for (size_t k = 0; k < nd->n; k++)
        cap += vars_get(nd->var[k])->kind == VAR_INTEGER ? 0 : snap->ncodes[nd->var[k]];
    for (size_t k = 0; k < nd->npair; k++)
        cap += (size_t)snap->ncodes[nd->pair[k][0]] * snap->ncodes[nd->pair[k][1]];
    d->lev = xcalloc(cap + 1, sizeof *d->lev);
    uint32_t *per = NULL;
    for (size_t k = 0; k < nd->n; k++) {
        const struct var_def *v = vars_get(nd->var[k]);
        if (v->kind == VAR_INTEGER)
            continue;
        per = xrealloc(per, snap->ncodes[v->id] * sizeof *per + 1);
        memset(per, 0, snap->ncodes[v->id] * sizeof *per);
        for (size_t r = 0; r < d->n; r++)
            per[snap->code[v->id][d->row[r]]]++;
        for (uint32_t c = 0; c < snap->ncodes[v->id]; c++)
            if (per[c] > 0)
                d->lev[d->nlev++] = (struct kind_model_level){v->id, (uint16_t)c, per[c], 0,
                    v->id, 0};
    }
    /* the cells of the pairs an interaction crosses (after the levels: the rule reads those) */
    for (size_t k = 0; k < nd->npair; k++) {
        enum var_id va = nd->pair[k][0], vb = nd->pair[k][1];
        size_t nb = snap->ncodes[vb], cells = snap->ncodes[va] * nb;
        per = xrealloc(per, cells * sizeof *per + 1);
        memset(per, 0, cells * sizeof *per);
        for (size_t r = 0; r < d->n; r++)
            per[snap->code[va][d->row[r]] * nb + snap->code[vb][d->row[r]]]++;
        for (size_t c = 0; c < cells; c++)
            if (per[c] > 0)
                d->lev[d->nlev++] = (struct kind_model_level){va, (uint16_t)(c / nb), per[c], 1,
                    vb, (uint16_t)(c % nb)};
    }
    free(per);
}

/*
 * Leave out d's rows whose cell (cell[r], of ncells) holds 1 .. min_cell-1
 * of them; the rows keep their order.  1 if any was left out.
 */
static int
exclude_small_cells(const struct disclose_policy *policy, struct design *d,
    const uint32_t *cell, size_t ncells)
{
    uint32_t *per = xcalloc(ncells + 1, sizeof *per);
    for (size_t r = 0; r < d->n; r++)
        per[cell[r]]++;
    int any = 0;
    for (size_t c = 0; c < ncells; c++)
        any |= disclose_suppress(policy, per[c]);
    if (any) {
        size_t w = 0;
        for (size_t r = 0; r < d->n; r++)
            if (!disclose_suppress(policy, per[cell[r]]))
                d->row[w++] = d->row[r];
        d->excluded += d->n - w;
        d->n = w;
    }
    free(per);
    return any;
}

/*
 * R2: leave out the complete cases at a level of a categorical model
 * variable (the strata variable included), or in a cell of two crossed by
 * an interaction, held by 1 .. min_cell-1 of them, and again until no such
 * level or cell remains (leaving rows out can make another one small).  The
 * rows keep their order.  No policy: nothing left out.
 */
static void
design_exclude(const struct snapshot *snap, const struct need *nd,
    const struct disclose_policy *policy, struct design *d)
{
    if (policy == NULL)
        return;
    uint32_t *cell = xcalloc(d->n + 1, sizeof *cell);
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t k = 0; k < nd->n; k++) {
            const struct var_def *v = vars_get(nd->var[k]);
            if (v->kind == VAR_INTEGER)
                continue;
            for (size_t r = 0; r < d->n; r++)
                cell[r] = snap->code[v->id][d->row[r]];
            changed |= exclude_small_cells(policy, d, cell, snap->ncodes[v->id]);
        }
        for (size_t k = 0; k < nd->npair; k++) {
            enum var_id va = nd->pair[k][0], vb = nd->pair[k][1];
            for (size_t r = 0; r < d->n; r++)
                cell[r] = (uint32_t)snap->code[va][d->row[r]] * snap->ncodes[vb] +
                    snap->code[vb][d->row[r]];
            changed |= exclude_small_cells(policy, d, cell,
                (size_t)snap->ncodes[va] * snap->ncodes[vb]);
        }
    }
    free(cell);
}

/*
 * Build the design of a round: resolve and check the terms, select the
 * complete cases, leave out those of small levels and cells (policy),
 * count the levels, fill the matrix.  glm puts an intercept column first.
 * *outcome (glm) receives the outcome column, *strata (cox) the strata
 * variable or NULL.  The other disclosure rules are release's, on what
 * this counts.
 */
static int
design_build(const struct snapshot *snap, const Fedra__QuerySpec *spec, int glm,
    const struct disclose_policy *policy, struct column *outcome,
    const struct var_def **strata, struct design *d, char *err)
{
    memset(d, 0, sizeof *d);
    struct column col[WIRE_MAX_TERMS];
    if (design_columns(snap, spec, glm, col, outcome, strata, err) != 0)
        return -1;
    size_t nt = spec->n_terms;
    d->p = nt + (glm ? 1 : 0);
    if (!beta_count_ok(glm, spec->n_beta, d->p))
        return errf(err, "%zu coefficients for %zu model columns", spec->n_beta, d->p);
    struct snap_filter f;
    if (select_compile(snap, spec, &f, err) != 0)
        return -1;

    /* Complete cases: every model variable (outcome, strata variable) present. */
    struct need nd;
    need_build(col, nt, glm ? outcome->var : NULL, *strata, &nd);
    d->row = xcalloc(snap->n ? snap->n : 1, sizeof *d->row);
    for (size_t i = 0; i < snap->n; i++) {
        if (!snapshot_row_passes(snap, &f, i))
            continue;
        int complete = 1;
        for (size_t k = 0; k < nd.n && complete; k++)
            complete = snap->code[nd.var[k]][i] != SNAP_MISSING;
        if (complete)
            d->row[d->n++] = i;
        else
            d->dropped++;
    }
    snapshot_filter_release(&f);
    design_exclude(snap, &nd, policy, d);
    design_levels(snap, &nd, d);

    d->x = xcalloc(d->n * d->p + 1, sizeof *d->x);
    for (size_t r = 0; r < d->n; r++) {
        double *xr = d->x + r * d->p;
        if (glm)
            *xr++ = 1.0;
        for (size_t j = 0; j < nt; j++)
            xr[j] = column_value(snap, &col[j], d->row[r]);
    }
    return 0;
}

/* ---- the design cache (kind_model.h) ---- */

static void
entry_free(struct kind_model_entry *e)
{
    free(e->key);
    for (size_t h = 0; h < e->ncox; h++)
        cox_sorted_release(&e->cox[h]);
    free(e->cox);
    free(e->x);
    free(e->y);
    free(e->lev);
    if (e->has_path)
        modelpath_release(&e->path);
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
    k.n_prev_answers = 0;
    k.prev_answers = NULL;
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
    e->bytes = e->keylen + e->ncox * sizeof *e->cox + e->nlev * sizeof *e->lev +
        (e->x ? e->n * e->p * sizeof *e->x : 0) + (e->y ? e->n * sizeof *e->y : 0) +
        (e->has_path ? (6 * e->p + 2 * e->p * e->p) * sizeof(double) : 0);
    for (size_t h = 0; h < e->ncox; h++)
        e->bytes += cox_sorted_bytes(&e->cox[h]);
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
        const struct column *outcome, const struct var_def *strata, struct kind_model_entry *e,
        char *late);
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
    m->excluded = e->excluded;
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
entry_build(const struct model_way *w, const struct node_kind_ctx *ctx,
    const Fedra__QuerySpec *spec, struct kind_model_entry *e, char *late, char *err)
{
    const struct snapshot *snap = ctx->snap;
    struct column oc;
    const struct var_def *strata;
    struct design d;
    if (design_build(snap, spec, w->glm, ctx->policy, &oc, &strata, &d, err) != 0)
        return -1;
    e->n = d.n;
    e->p = d.p;
    e->dropped = d.dropped;
    e->excluded = d.excluded;
    e->lev = d.lev;
    e->nlev = d.nlev;
    d.lev = NULL;
    int rc = w->finish(snap, spec, &d, &oc, strata, e, late);
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

/* ---- the path check (R1; see the top of this file) ---- */

#define KIND_MODEL_PATH "model-path"
#define KIND_MODEL_STATE "model-state"

static int
path_refuse(struct node_answer *ans, const char *code, char *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
path_refuse(struct node_answer *ans, const char *code, char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, FEDRA_ERRLEN, fmt, ap);
    va_end(ap);
    ans->code = code;
    return -1;
}

/* Round 1's coefficients are where the replay starts: cox 0 (bit for bit), glm none. */
static int
path_start_ok(int glm, const Fedra__QuerySpec *spec)
{
    static const double zero = 0.0;
    if (glm)
        return spec->n_beta == 0;
    for (size_t k = 0; k < spec->n_beta; k++)
        if (memcmp(&spec->beta[k], &zero, sizeof zero) != 0)
            return 0;
    return 1;
}

/*
 * Answer i of the previous round: a node's signed answer to the query this
 * node answered last in the fit, OK, of the fit's shape.  *out (free with
 * wire_response_free) and its signer's name in name; -1 with err.
 */
static int
prev_verify(const struct node_kind_path *pt, const struct kind_model_entry *e,
    const ProtobufCBinaryData *raw, size_t i, char name[PKI_MAX_NAME + 1],
    Fedra__ResponseBody **out, char *err)
{
    char why[FEDRA_ERRLEN];
    *out = NULL;
    Fedra__Envelope *env = wire_envelope_decode(raw->data, raw->len, WIRE_MAX_RESPONSE, why);
    if (env == NULL)
        return errf(err, "answer %zu of round %u is not a signed envelope: %s", i + 1, e->round,
            why);
    const uint8_t *cd[PKI_MAX_CHAIN];
    size_t cl[PKI_MAX_CHAIN], nc = env->n_chain < PKI_MAX_CHAIN ? env->n_chain : PKI_MAX_CHAIN;
    for (size_t k = 0; k < nc; k++) {
        cd[k] = env->chain[k].data;
        cl[k] = env->chain[k].len;
    }
    const struct pki_cert *cert = NULL;
    char claimed[PKI_MAX_NAME + 1];
    Fedra__ResponseBody *rb = NULL;
    int rc = -1;
    if (certcache_verify(pt->certs, pt->trust, env->signer_cert.data, env->signer_cert.len, cd,
            cl, nc, PKI_ROLE_NODE, pt->now_ms / 1000, &cert, claimed, why) != PKI_OK) {
        errf(err, "answer %zu of round %u is not signed by a node of this federation: %s",
            i + 1, e->round, why);
        goto out;
    }
    snprintf(name, PKI_MAX_NAME + 1, "%s", pki_cert_name(cert));
    if (pki_check_sig(cert, env->body.data, env->body.len, env->signature.data,
            env->signature.len) != 0)
        errf(err, "answer %zu of round %u: the signature of '%s' does not verify (altered)",
            i + 1, e->round, name);
    else if ((rb = wire_response_decode(env->body.data, env->body.len, why)) == NULL)
        errf(err, "answer %zu of round %u is not a response: %s", i + 1, e->round, why);
    else if (strcmp(rb->node, name) != 0)
        errf(err, "answer %zu of round %u names node '%.64s' but is signed by '%s'", i + 1,
            e->round, rb->node, name);
    else if (memcmp(rb->query_hash.data, e->qhash, WIRE_HASH_LEN) != 0)
        errf(err, "answer %zu (%s) does not answer round %u of this fit as this node answered "
            "it (another query)", i + 1, name, e->round);
    else if (rb->status != FEDRA__STATUS__STATUS_OK || rb->model == NULL)
        errf(err, "answer %zu (%s) of round %u is not a model answer (%s)", i + 1, name,
            e->round, rb->status == FEDRA__STATUS__STATUS_OK ? "no result" : "refused");
    else if (rb->model->n_score != e->p || rb->model->n_info != e->p * e->p)
        errf(err, "answer %zu (%s) of round %u has %zu scores for %zu coefficients", i + 1,
            name, e->round, rb->model->n_score, e->p);
    else
        rc = 0;
out:
    if (rc == 0)
        *out = rb;
    else
        wire_response_free(rb);
    wire_envelope_free(env);
    return rc;
}

/* The previous round's answers, verified and summed in the order given, into *sum. */
static int
prev_sum(const struct node_kind_path *pt, const Fedra__QuerySpec *spec,
    const struct kind_model_entry *e, struct modelsum *sum, char *err)
{
    size_t n = spec->n_prev_answers;
    char (*name)[PKI_MAX_NAME + 1] = xcalloc(n + 1, sizeof *name);
    int own = 0, rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        Fedra__ResponseBody *rb;
        if ((rc = prev_verify(pt, e, &spec->prev_answers[i], i, name[i], &rb, err)) != 0)
            break;
        for (size_t j = 0; j < i && rc == 0; j++)
            if (strcmp(name[j], name[i]) == 0)
                rc = errf(err, "answers %zu and %zu of round %u are both from node '%s'",
                    j + 1, i + 1, e->round, name[i]);
        own |= strcmp(name[i], pt->node) == 0;
        if (rc == 0)
            rc = modelsum_add(sum, rb->model, err);
        wire_response_free(rb);
    }
    if (rc == 0 && !own)
        rc = errf(err, "the answers of round %u do not include this node's own ('%s')",
            e->round, pt->node);
    free(name);
    return rc;
}

/* The fit's replay is gone at this node: every later round is refused. */
static void
path_drop(struct kind_model_entry *e)
{
    if (e->has_path)
        modelpath_release(&e->path);
    e->has_path = 0;
}

/*
 * Admit spec's coefficients, for the fit's entry e (NULL: none kept).  Round
 * 1: 0 if they are the start.  Round >= 2: the previous answers verified,
 * summed and fed to e's replay; 0 if beta is its next step (*final: the
 * cox extra round, after which the fit is done).  Otherwise -1 with err and
 * ans->code.
 */
static int
path_check(const struct model_way *w, const struct node_kind_path *pt,
    const Fedra__QuerySpec *spec, struct kind_model_entry *e, int *final,
    struct node_answer *ans, char *err)
{
    *final = 0;
    if (spec->n_prev_answers == 0) {
        if (spec->round != 1)
            return path_refuse(ans, KIND_MODEL_PATH, err, "round %u of a model fit carries no "
                "answers of the round before it; a fit starts at round 1", spec->round);
        if (!path_start_ok(w->glm, spec))
            return path_refuse(ans, KIND_MODEL_PATH, err, "coefficients are not the next step "
                "of this fit: round 1 is evaluated only where the %s starts (%s)",
                w->glm ? "IRLS" : "Newton-Raphson", w->glm ? "no coefficients: glm.fit's "
                "mustart" : "every coefficient 0");
        return 0;
    }
    if (e == NULL || !e->has_path)
        return path_refuse(ans, KIND_MODEL_STATE, err, "this node keeps no state for this "
            "model fit (it restarted, or the fit was evicted or too large to keep); start the "
            "fit again from round 1");
    if (spec->round != e->round + 1)
        return path_refuse(ans, KIND_MODEL_PATH, err, "round %u does not follow round %u, the "
            "last this node answered in this fit", spec->round, e->round);
    if (modelpath_done(&e->path))
        return path_refuse(ans, KIND_MODEL_PATH, err, "the fit is finished: round %u was its "
            "last", e->round);
    struct modelsum sum;
    modelsum_init(&sum, e->p);
    char why[FEDRA_ERRLEN];
    int rc = prev_sum(pt, spec, e, &sum, why);
    if (rc != 0) {
        modelsum_release(&sum);
        return path_refuse(ans, KIND_MODEL_PATH, err, "%s", why);
    }
    rc = modelpath_feed(&e->path, &sum, why);
    modelsum_release(&sum);
    if (rc != 0) {
        path_drop(e);
        return path_refuse(ans, KIND_MODEL_PATH, err, "the fit cannot go on from round %u: "
            "%s", e->round, why);
    }
    size_t bytes = e->p * sizeof(double);
    const double *next = modelpath_next_beta(&e->path);
    if (next != NULL && spec->n_beta == e->p && memcmp(spec->beta, next, bytes) == 0)
        return 0;
    double fb[WIRE_MAX_COEF];
    if (spec->n_beta == e->p && e->p <= WIRE_MAX_COEF && modelpath_final_beta(&e->path, fb) &&
        memcmp(spec->beta, fb, bytes) == 0) {
        *final = 1;
        return 0;
    }
    int done = modelpath_done(&e->path);
    path_drop(e);
    if (done)
        return path_refuse(ans, KIND_MODEL_PATH, err, "the fit is finished: round %u was its "
            "last", e->round);
    return path_refuse(ans, KIND_MODEL_PATH, err, "coefficients are not the next step of "
        "this fit: round %u is evaluated only at the coefficients the fit's own %s gives from "
        "the answers of round %u; the fit ends here", spec->round,
        w->glm ? "IRLS" : "Newton-Raphson", e->round);
}

/* A round answered: round 1 starts e's replay; every round keeps its query's hash. */
static void
path_commit(const struct model_way *w, const struct node_kind_path *pt,
    const Fedra__QuerySpec *spec, struct kind_model_entry *e, int final)
{
    if (spec->n_prev_answers == 0) {
        path_drop(e);
        e->has_path = modelpath_init(&e->path, w->glm, e->p, MODELSUM_REPLAY_MAX_ITER) == 0;
    }
    if (final)
        modelpath_finish(&e->path);
    e->round = spec->round;
    memcpy(e->qhash, pt->qhash, WIRE_HASH_LEN);
}

/*
 * The skeleton of a round: the fit's design from the cache, else built (and
 * then kept, if it can be evaluated); with the path check, its coefficients
 * admitted; the round evaluated at beta.
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
    int built = 0, final = 0;
    e = cache_find(ctx->models, fresh.key, fresh.keylen);
    if (ctx->path != NULL && path_check(w, ctx->path, spec, e, &final, ans, err) != 0) {
        free(fresh.key);
        return -1;
    }
    if (e != NULL) {
        free(fresh.key);
        if (!beta_count_ok(w->glm, spec->n_beta, e->p))
            return errf(err, "%zu coefficients for %zu model columns", spec->n_beta, e->p);
    } else {
        if ((built = entry_build(w, ctx, spec, &fresh, ans->late, err)) < 0) {
            entry_free(&fresh);
            return -1;
        }
        e = &fresh;
    }
    model_keep_counts(a, e);
    if (built == 0) {
        a->score = xcalloc(e->p, sizeof *a->score);
        a->info = xcalloc(e->p * e->p, sizeof *a->info);
        if (w->eval(e, spec, a, ans->late) == 0 && ctx->path != NULL)
            path_commit(w, ctx->path, spec, e, final);
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
    struct model_answer *a = ans->stat;
    Fedra__ModelResult *m = &a->model;
    (void)spec;
    /* R2: the counts a round releases besides n and events, as a count cell is. */
    if ((m->dropped_suppressed = disclose_suppress(policy, m->dropped)))
        m->dropped = 0;
    if ((m->n_boundary_suppressed = disclose_suppress(policy, m->n_boundary)))
        m->n_boundary = 0;
    if ((m->excluded_suppressed = disclose_suppress(policy, m->excluded)))
        m->excluded = 0;
    if (disclose_suppress(policy, a->n))
        return errf(err, "fewer than %u patients at this node match; the model is not fitted "
            "here", policy->min_cell);
    for (size_t k = 0; k < a->nlev; k++)
        if (!a->lev[k].pair && disclose_suppress(policy, a->lev[k].n)) {
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

/*
 * The design's times on the grid, and its rows split by stratum: one
 * stratum without --strata, else one per level of the strata variable held
 * here (in the level's code order), each sorted by time (cox_sorted_init).
 */
static int
cox_finish(const struct snapshot *snap, const Fedra__QuerySpec *spec, struct design *d,
    const struct column *outcome, const struct var_def *strata, struct kind_model_entry *e,
    char *late)
{
    const int32_t *tcol;
    const uint8_t *ecol;
    (void)outcome;
    if (kind_spec_grid(spec, &e->grid, late) != 0 ||
        kind_endpoint(snap, spec, &tcol, &ecol, late) != 0)
        return 1;
    size_t nlevel = strata ? snap->ncodes[strata->id] : 1;
    size_t *start = xcalloc(nlevel + 2, sizeof *start);  /* counting sort by stratum */
    for (size_t r = 0; r < d->n; r++)
        start[(strata ? snap->code[strata->id][d->row[r]] : 0) + 1]++;
    for (size_t h = 0; h < nlevel; h++) {
        e->ncox += start[h + 1] > 0;
        start[h + 1] += start[h];
    }
    int64_t *t = xcalloc(d->n + 1, sizeof *t);
    int *st = xcalloc(d->n + 1, sizeof *st);
    double *x = xcalloc(d->n * d->p + 1, sizeof *x);
    int rc = 0;
    for (size_t r = 0; r < d->n && rc == 0; r++) {
        size_t at = start[strata ? snap->code[strata->id][d->row[r]] : 0]++;
        int32_t tt = tcol[d->row[r]];
        if (e->grid > 0 && km_grid_ceil(tt, e->grid, &tt) != 0)
            rc = kind_late(late, "a time is out of range for the grid");
        t[at] = tt;
        st[at] = ecol[d->row[r]];
        memcpy(&x[at * d->p], &d->x[r * d->p], d->p * sizeof *x);
        e->events += (uint64_t)st[at];
    }
    e->cox = xcalloc(e->ncox + 1, sizeof *e->cox);
    /* start[h] is now the end of stratum h: each non-empty one is sorted on its own */
    for (size_t h = 0, from = 0, k = 0; h < nlevel && rc == 0; h++) {
        if (start[h] == from)
            continue;
        int cr = cox_sorted_init(&e->cox[k++], t + from, st + from, x + from * d->p,
            start[h] - from, d->p);
        if (cr != 0)
            rc = kind_late(late, "cannot evaluate the Cox model here (error %d)", cr);
        from = start[h];
    }
    free(start);
    free(t);
    free(st);
    free(x);
    return rc;
}

static int
cox_eval(const struct kind_model_entry *e, const Fedra__QuerySpec *spec, struct model_answer *a,
    char *late)
{
    enum cox_ties ties = spec->ties == FEDRA__TIES__TIES_BRESLOW ? COX_BRESLOW : COX_EFRON;
    int cr = cox_strata_eval(e->cox, e->ncox, e->p, spec->beta, ties, &a->model.loglik,
        a->score, a->info);
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
    const struct column *oc, const struct var_def *strata, struct kind_model_entry *e, char *late)
{
    (void)spec;
    (void)strata;
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
 *   the events (cox: the endpoint's events; glm: y = 1) overall, and for
 *     glm per indicator column, which its first round gives exactly (full).
 * An indicator of vital_status (an outcome) is a full set only.  The sets
 * of a fit are the same every round: later rounds are repeats (dependent
 * sets, kept).  A spec the executor refuses gives no sets.
 */
#define MODEL_SET_COLS (WIRE_MAX_TERMS + 1)

/*
 * The patients the round leaves out (R2: small levels, design_exclude, on
 * the real cohort g[0]) are in none of its sets: the key cohort g[1] loses
 * them too, so the sets are those of the patients the answer sums over.
 */
static void
model_sets_exclude(const struct snapshot *snap, const struct need *nd,
    const struct disclose_policy *policy, struct qaudit_group *g[2])
{
    struct design d = {0};
    d.row = xcalloc(g[0]->n + 1, sizeof *d.row);
    for (size_t j = 0; j < g[0]->n; j++)
        d.row[d.n++] = g[0]->rows[j];
    design_exclude(snap, nd, policy, &d);
    if (d.excluded > 0) {
        unsigned char *kept = xcalloc(snap->n + 1, 1);
        for (size_t r = 0; r < d.n; r++)
            kept[d.row[r]] = 1;
        unsigned char *out = xcalloc(snap->n + 1, 1);     /* left out of the real cohort */
        for (size_t j = 0; j < g[0]->n; j++)
            out[g[0]->rows[j]] = !kept[g[0]->rows[j]];
        for (int w = 0; w < 2; w++) {
            size_t m = 0;
            for (size_t j = 0; j < g[w]->n; j++)
                if (!out[g[w]->rows[j]])
                    g[w]->rows[m++] = g[w]->rows[j];
            g[w]->n = m;
        }
        free(out);
        free(kept);
    }
    free(d.row);
}

/*
 * cox --strata V: each stratum's rows (key; full only for vital_status),
 * as an indicator column's.  A stratified round sums over strata and
 * releases no stratum's count, but its risk sets are the stratum's; kept
 * as sets, the auditor holds them as it holds the columns'.  kr and fr are
 * scratch of the key and full cohorts' sizes.
 */
static void
strata_sets(const struct snapshot *snap, const struct var_def *strata,
    const struct qaudit_group *key, const struct qaudit_group *full, uint32_t *kr, uint32_t *fr,
    struct qaudit_sets *out)
{
    const uint16_t *code = snap->code[strata->id];
    for (uint32_t c = 0; c < snap->ncodes[strata->id]; c++) {
        size_t nk = 0, nf = 0;
        for (size_t j = 0; j < key->n; j++)
            if (code[key->rows[j]] == c)
                kr[nk++] = key->rows[j];
        for (size_t j = 0; j < full->n; j++)
            if (code[full->rows[j]] == c)
                fr[nf++] = full->rows[j];
        if (nf > 0)
            qaudit_add(out, QAUDIT_WHOLE, strata->id == VAR_VITAL_STATUS ? NULL : kr, nk, fr,
                nf);
    }
}

static void
model_sets(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, const struct node_answer *ans, struct qaudit_sets *out)
{
    (void)ans;
    int glm = spec->kind == FEDRA__KIND__KIND_GLM;
    struct column col[MODEL_SET_COLS], outcome = {0};
    const struct var_def *strata = NULL;
    char ignored[FEDRA_ERRLEN];
    const int32_t *tcol = NULL;
    const uint8_t *ecol = NULL;
    if (design_columns(snap, spec, glm, col, &outcome, &strata, ignored) != 0 ||
        (!glm && kind_endpoint(snap, spec, &tcol, &ecol, ignored) != 0))
        return;
    size_t nt = spec->n_terms;
    struct need nd;
    need_build(col, nt, glm ? outcome.var : NULL, strata, &nd);
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
                int complete = 1;
                for (size_t k = 0; k < nd.n && complete; k++)
                    complete = snap->code[nd.var[k]][r] != SNAP_MISSING;
                if (complete)
                    g[w]->rows[m++] = r;
            }
            g[w]->n = m;
        }
        model_sets_exclude(snap, &nd, policy, g);
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
                if ((a < nt && !column_indicator(&col[a])) ||
                    (b < nt && b != a && !column_indicator(&col[b])) || (b == a && a < nt))
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
                                const struct column *c = &col[cs[q]];
                                in &= column_has(snap, c, r);
                                outc |= c->var->id == VAR_VITAL_STATUS ||
                                    (c->var2 != NULL && c->var2->id == VAR_VITAL_STATUS);
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
                /* The events the answer counts: all of them (n events); per column
                 * only for glm, whose X'Wz at mustart gives each column's y = 1 count
                 * exactly.  Cox's score at 0 is O - E per column, E a sum over risk
                 * sets, not a count; no answer gives the events of a pair. */
                if (a == nt || (glm && b == nt))
                    qaudit_add(out, QAUDIT_WHOLE, NULL, 0, ev, ne);
            }
        if (strata != NULL)
            strata_sets(snap, strata, &key.v[0], &full.v[0], kr, fr, out);
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
    snprintf(buf, len, "%s round %u: %zu coefficients, n %llu%s", a->glm ? "glm" : "cox",
        spec->round, a->model.n_score, (unsigned long long)a->model.n,
        a->model.excluded || a->model.excluded_suppressed ? " (some excluded: small levels)" : "");
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

const Fedra__ModelResult *
kind_model_result(const struct node_answer *ans)
{
    return &((const struct model_answer *)ans->stat)->model;
}

uint64_t
kind_model_level(const struct node_answer *ans, const struct var_def *v, const char *level)
{
    const struct model_answer *a = ans->stat;
    char tmp[16];
    for (size_t k = 0; k < a->nlev; k++)
        if (!a->lev[k].pair && a->lev[k].var == v->id &&
            strcmp(snapshot_level(a->snap, v->id, a->lev[k].code, tmp), level) == 0)
            return a->lev[k].n;
    return 0;
}

uint64_t
kind_model_cell(const struct node_answer *ans, const struct var_def *va, const char *la,
    const struct var_def *vb, const char *lb)
{
    const struct model_answer *a = ans->stat;
    char t1[16], t2[16];
    for (size_t k = 0; k < a->nlev; k++) {
        const struct kind_model_level *l = &a->lev[k];
        if (!l->pair)
            continue;
        /* the node's pair is (a, b) or (b, a), as its terms first name it */
        int ab = l->var == va->id && l->var2 == vb->id, ba = l->var == vb->id && l->var2 == va->id;
        if (!ab && !ba)
            continue;
        const char *x = snapshot_level(a->snap, l->var, l->code, t1);
        const char *y = snapshot_level(a->snap, l->var2, l->code2, t2);
        if (strcmp(x, ab ? la : lb) == 0 && strcmp(y, ab ? lb : la) == 0)
            return l->n;
    }
    return 0;
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

int
kind_model_audit_cells(const struct snapshot *snap, const Fedra__QuerySpec *spec,
    const struct poolmodel_cells *C, uint32_t *cell, char *err)
{
    int glm = spec->kind == FEDRA__KIND__KIND_GLM;
    struct column col[MODEL_SET_COLS], outcome = {0};
    const struct var_def *strata = NULL;
    const int32_t *tcol = NULL;
    const uint8_t *ecol = NULL;
    if (design_columns(snap, spec, glm, col, &outcome, &strata, err) != 0 ||
        (!glm && kind_endpoint(snap, spec, &tcol, &ecol, err) != 0))
        return -1;
    struct need nd;
    need_build(col, spec->n_terms, glm ? outcome.var : NULL, strata, &nd);
    /* Per audit variable: the snapshot's codes to catalogue level indices. */
    int32_t *lev[POOLMODEL_MAX_VARS] = {0};
    int rc = 0;
    for (size_t a = 0; a < C->nf && rc == 0; a++) {
        enum var_id v = C->f[a]->id;
        lev[a] = xcalloc(snap->ncodes[v] + 1, sizeof *lev[a]);
        for (uint32_t c = 0; c < snap->ncodes[v] && rc == 0; c++) {
            char tmp[16];
            lev[a][c] = vars_level_index(C->f[a], snapshot_level(snap, v, (uint16_t)c, tmp));
            if (lev[a][c] < 0)
                rc = errf(err, "a level of '%s' is not in the catalogue", C->f[a]->name);
        }
    }
    for (size_t i = 0; i < snap->n && rc == 0; i++) {
        int complete = 1;
        for (size_t k = 0; k < nd.n && complete; k++)
            complete = snap->code[nd.var[k]][i] != SNAP_MISSING;
        uint32_t l[POOLMODEL_MAX_VARS];
        for (size_t a = 0; a < C->nf && complete; a++) {
            uint16_t c = snap->code[C->f[a]->id][i];
            complete = c != SNAP_MISSING && c < snap->ncodes[C->f[a]->id];
            if (complete)
                l[a] = (uint32_t)lev[a][c];
        }
        int event = glm ? snap->code[outcome.var->id][i] == outcome.code : ecol[i] != 0;
        cell[i] = complete ? (uint32_t)poolmodel_cell(C, event, l) : 0;
    }
    for (size_t a = 0; a < C->nf; a++)
        free(lev[a]);
    return rc;
}
