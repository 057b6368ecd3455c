/*
 * exec - see exec.h.
 */
#include "node/exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/cox.h"
#include "analysis/glm.h"
#include "analysis/km.h"
#include "analysis/logrank.h"
#include "lib/util.h"

static enum snap_op
snap_op(Fedra__Op op)
{
    switch (op) {
    case FEDRA__OP__OP_NE: return SNAP_NE;
    case FEDRA__OP__OP_LT: return SNAP_LT;
    case FEDRA__OP__OP_LE: return SNAP_LE;
    case FEDRA__OP__OP_GT: return SNAP_GT;
    case FEDRA__OP__OP_GE: return SNAP_GE;
    case FEDRA__OP__OP_IN: return SNAP_IN;
    default: return SNAP_EQ;
    }
}

/* Compile the spec's filter; shared by every query kind that selects rows. */
static int
compile_where(const struct snapshot *snap, const Fedra__QuerySpec *spec, struct snap_filter *f,
    char *err)
{
    struct snap_term terms[SNAP_MAX_TERMS];
    if (spec->n_where > SNAP_MAX_TERMS)
        return errf(err, "%zu filter terms (limit %d)", spec->n_where, SNAP_MAX_TERMS);
    for (size_t i = 0; i < spec->n_where; i++) {
        terms[i].var = spec->where[i]->var;
        terms[i].op = snap_op(spec->where[i]->op);
        terms[i].values = (const char *const *)spec->where[i]->values;
        terms[i].nvalues = spec->where[i]->n_values;
    }
    return snapshot_filter_compile(snap, terms, spec->n_where, f, err);
}

int
exec_count(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_out *out, char *err)
{
    memset(out, 0, sizeof *out);
    fedra__count_result__init(&out->count);
    enum var_id by[SNAP_MAX_GROUP];
    size_t nby = spec->n_group_by;
    if (nby > SNAP_MAX_GROUP)
        return errf(err, "%zu group-by variables (limit %d)", nby, SNAP_MAX_GROUP);
    for (size_t k = 0; k < nby; k++) {
        const struct var_def *d = vars_find(spec->group_by[k]);
        if (d == NULL)
            return errf(err, "unknown variable '%.32s' (variables: %s)", spec->group_by[k],
                vars_names());
        for (size_t j = 0; j < k; j++)
            if (by[j] == d->id)
                return errf(err, "variable '%s' is named twice in the grouping", d->name);
        by[k] = d->id;
    }
    struct snap_filter f;
    if (compile_where(snap, spec, &f, err) != 0)
        return -1;
    struct snap_cell *cells;
    size_t n;
    int rc = snapshot_count(snap, &f, by, nby, &cells, &n, err);
    snapshot_filter_release(&f);
    if (rc != 0)
        return -1;
    if (n > WIRE_MAX_CELLS) {
        free(cells);
        return errf(err, "%zu cells, over the limit of %d; group by fewer variables", n,
            WIRE_MAX_CELLS);
    }
    out->cells = xcalloc(n, sizeof *out->cells);
    out->cellp = xcalloc(n, sizeof *out->cellp);
    out->levels = xcalloc(n * nby, sizeof *out->levels);
    out->numbers = xcalloc(n * nby, sizeof *out->numbers);
    for (size_t i = 0; i < n; i++) {
        Fedra__Cell *c = &out->cells[i];
        fedra__cell__init(c);
        for (size_t k = 0; k < nby; k++) {
            size_t at = i * nby + k;
            /* snapshot_level returns static, dictionary or numbers[at] storage. */
            out->levels[at] = (char *)snapshot_level(snap, by[k], cells[i].code[k],
                out->numbers[at]);
        }
        c->n_levels = nby;
        c->levels = nby ? &out->levels[i * nby] : NULL;
        if (disclose_suppress(policy, cells[i].n)) {
            c->suppressed = 1;
            c->count = 0;
            out->nsuppressed++;
        } else {
            c->count = cells[i].n;
        }
        out->cellp[i] = c;
    }
    free(cells);
    out->count.n_cells = n;
    out->count.cells = out->cellp;
    out->count.max_hidden = disclose_max_hidden(policy);
    return 0;
}

void
exec_out_release(struct exec_out *out)
{
    free(out->cells);
    free(out->cellp);
    free(out->levels);
    free(out->numbers);
    memset(out, 0, sizeof *out);
}

/* The node's time-resolution rule; 0 and the grid to use, or -1 with err. */
static int
km_grid(const struct disclose_policy *policy, const Fedra__QuerySpec *spec, int32_t *grid,
    char *err)
{
    uint32_t pol = policy->time_grid_days;
    if (spec->exact_times) {
        if (pol > 0)
            return errf(err, "exact event times are not released by this node: its policy "
                "allows a time grid of %u days or coarser (use --grid %u)", pol, pol);
        *grid = 0;
        return 0;
    }
    if (spec->grid_days == 0 || spec->grid_days > DISCLOSE_MAX_GRID_DAYS)
        return errf(err, "time grid must be 1 to %d days", DISCLOSE_MAX_GRID_DAYS);
    if (pol > 0 && spec->grid_days % pol != 0)
        return errf(err, "a time grid of %u days is not released by this node: its policy "
            "allows multiples of %u days", spec->grid_days, pol);
    *grid = (int32_t)spec->grid_days;
    return 0;
}

/*
 * What every survival query shares: the grid the policy allows, the endpoint
 * columns, the grouping variable, the filter, and the stratum sizes, with the
 * small-stratum rule applied.  Release with surv_release().
 */
struct surv_sel {
    int32_t grid;
    const struct var_def *by;       /* NULL: one stratum of everybody */
    struct snap_filter f;
    int efs;                        /* endpoint: event-free (else overall) survival */
    const int32_t *tcol;
    const uint8_t *ecol;
    uint32_t ncodes;                /* codes of by (1 without by) */
    size_t *size;                   /* patients per code */
    int closed;                     /* by lists every level (closed categorical or none) */
};

static void
surv_release(struct surv_sel *s)
{
    free(s->size);
    snapshot_filter_release(&s->f);
}

/* surv_select's checks and set-up, before any row is read; s->size all 0. */
static int
surv_prepare(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct surv_sel *s, char *err)
{
    memset(s, 0, sizeof *s);
    if (km_grid(policy, spec, &s->grid, err) != 0)
        return -1;
    if (spec->endpoint != FEDRA__ENDPOINT__ENDPOINT_OS &&
        spec->endpoint != FEDRA__ENDPOINT__ENDPOINT_EFS)
        return errf(err, "unknown endpoint %d (os or efs)", (int)spec->endpoint);
    if (spec->n_group_by > WIRE_MAX_KM_BY)
        return errf(err, "survival queries take at most %d grouping variable", WIRE_MAX_KM_BY);
    if (spec->n_group_by == 1 && (s->by = vars_find(spec->group_by[0])) == NULL)
        return errf(err, "unknown variable '%.32s' (variables: %s)", spec->group_by[0],
            vars_names());
    if (compile_where(snap, spec, &s->f, err) != 0)
        return -1;
    s->efs = spec->endpoint == FEDRA__ENDPOINT__ENDPOINT_EFS;
    s->tcol = s->efs ? snap->efs_time : snap->os_time;
    s->ecol = s->efs ? snap->efs_event : snap->os_event;
    s->ncodes = s->by ? snap->ncodes[s->by->id] : 1;
    s->closed = s->by == NULL || s->by->nlevels > 0;
    s->size = xcalloc(s->ncodes, sizeof *s->size);
    return 0;
}

/* The small-stratum rule on s->size: -1 with err (and s released) if a stratum refuses. */
static int
surv_refuse(const struct snapshot *snap, const struct disclose_policy *policy,
    struct surv_sel *s, char *err)
{
    for (uint32_t c = 0; c < s->ncodes; c++)
        if (s->size[c] > 0 && disclose_suppress(policy, s->size[c])) {
            char tmp[16];
            errf(err, "a stratum (%s%s%s) has fewer than %u patients at this node; "
                "its curve is not released", s->by ? s->by->name : "all patients",
                s->by ? "=" : "", s->by ? snapshot_level(snap, s->by->id, (uint16_t)c, tmp) : "",
                policy->min_cell);
            surv_release(s);
            return -1;
        }
    return 0;
}

/* The stratum sizes, one pass over the rows. */
static void
surv_count(const struct snapshot *snap, struct surv_sel *s)
{
    for (size_t i = 0; i < snap->n; i++) {
        if (!snapshot_row_passes(snap, &s->f, i))
            continue;
        uint16_t c = s->by ? snap->code[s->by->id][i] : 0;
        if (c != SNAP_MISSING)
            s->size[c]++;
    }
}

static int
surv_select(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct surv_sel *s, char *err)
{
    if (surv_prepare(snap, policy, spec, s, err) != 0)
        return -1;
    surv_count(snap, s);
    return surv_refuse(snap, policy, s, err);
}

/*
 * The general path to the life tables, for times a dense table cannot hold
 * (snapshot_km_count): a counting sort by stratum code, using the stratum
 * sizes already counted, so that each stratum's records are one slice of *t
 * and *e (malloc'd), starting at (*start)[c].
 */
static void
km_slices(const struct snapshot *snap, const struct surv_sel *sel, int32_t **t, uint8_t **e,
    size_t **start)
{
    uint32_t ncodes = sel->ncodes;
    size_t *st = xcalloc((size_t)ncodes + 1, sizeof *st);
    for (uint32_t c = 0; c < ncodes; c++)
        st[c + 1] = st[c] + sel->size[c];
    size_t *fill = xcalloc(ncodes, sizeof *fill);
    *t = xcalloc(st[ncodes], sizeof **t);
    *e = xcalloc(st[ncodes], 1);
    for (size_t i = 0; i < snap->n; i++) {
        uint16_t c = sel->by ? snap->code[sel->by->id][i] : 0;
        if (c == SNAP_MISSING || !snapshot_row_passes(snap, &sel->f, i))
            continue;
        size_t at = st[c] + fill[c]++;
        (*t)[at] = sel->tcol[i];
        (*e)[at] = sel->ecol[i];
    }
    free(fill);
    *start = st;
}

/* A stratum's life table from its nbins x 2 counters (snapshot_km_count): km_life_table's rows. */
static void
km_tab_dense(const uint32_t *cnt, size_t nbins, int32_t grid, size_t n, Fedra__LifeTable *tab)
{
    size_t nrows = 0;
    for (size_t b = 0; b < nbins; b++)
        nrows += (cnt[2 * b] | cnt[2 * b + 1]) != 0;
    tab->n = (uint64_t)n;
    tab->n_time = tab->n_events = tab->n_censored = nrows;
    tab->time = xcalloc(nrows, sizeof *tab->time);
    tab->events = xcalloc(nrows, sizeof *tab->events);
    tab->censored = xcalloc(nrows, sizeof *tab->censored);
    int32_t g = grid > 0 ? grid : 1;
    for (size_t b = 0, r = 0; b < nbins; b++) {
        if ((cnt[2 * b] | cnt[2 * b + 1]) == 0)
            continue;
        tab->time[r] = (int32_t)b * g;          /* b * g <= tmax + g - 1 < 2^31 */
        tab->censored[r] = cnt[2 * b];
        tab->events[r] = cnt[2 * b + 1];
        r++;
    }
}

/* A stratum's life table by km_life_table from its records; -1 on a bad time. */
static int
km_tab_general(const int32_t *t, const uint8_t *e, size_t n, int32_t grid,
    Fedra__LifeTable *tab)
{
    struct km_table lt;
    if (km_life_table(t, e, n, grid, &lt) != 0)
        return -1;
    tab->n = (uint64_t)lt.n;
    tab->n_time = tab->n_events = tab->n_censored = lt.nrows;
    tab->time = xcalloc(lt.nrows, sizeof *tab->time);
    tab->events = xcalloc(lt.nrows, sizeof *tab->events);
    tab->censored = xcalloc(lt.nrows, sizeof *tab->censored);
    for (size_t r = 0; r < lt.nrows; r++) {
        tab->time[r] = lt.rows[r].time;
        tab->events[r] = (uint64_t)lt.rows[r].d;
        tab->censored[r] = (uint64_t)lt.rows[r].c;
    }
    km_table_release(&lt);
    return 0;
}

/*
 * Normally one pass over the columns (snapshot_km_count) gives every
 * stratum's counts by time bin, and the stratum sizes are their sums: no
 * per-record temporaries.  Where the times do not fit a dense table the
 * general path counts the sizes, slices the records by stratum and builds
 * each table with km_life_table.  Both give km_life_table's tables, and the
 * small-stratum rule sees the same sizes before anything is built.
 */
int
exec_km(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_km_out *out, char *err)
{
    memset(out, 0, sizeof *out);
    fedra__km_result__init(&out->km);
    struct surv_sel sel;
    if (surv_prepare(snap, policy, spec, &sel, err) != 0)
        return -1;
    const struct var_def *by = sel.by;
    uint32_t ncodes = sel.ncodes;
    int closed = sel.closed, rc = 0;
    int32_t grid = sel.grid;
    uint32_t *cnt;
    size_t nbins;
    int dense = snapshot_km_count(snap, &sel.f, by, sel.efs, grid, &cnt, &nbins) == 0;
    if (dense) {
        for (uint32_t c = 0; c < ncodes; c++)
            for (size_t b = 0; b < 2 * nbins; b++)
                sel.size[c] += cnt[(size_t)c * nbins * 2 + b];
    } else {
        surv_count(snap, &sel);
    }
    if (surv_refuse(snap, policy, &sel, err) != 0) {
        free(cnt);
        return -1;
    }
    size_t want = 0;
    for (uint32_t c = 0; c < ncodes; c++)
        want += closed || sel.size[c] > 0;
    if (want > WIRE_MAX_STRATA) {
        errf(err, "%zu strata (limit %d)", want, WIRE_MAX_STRATA);
        free(cnt);
        surv_release(&sel);
        return -1;
    }
    out->tabs = xcalloc(want, sizeof *out->tabs);
    out->tabp = xcalloc(want, sizeof *out->tabp);
    out->levels = xcalloc(want, sizeof *out->levels);
    out->numbers = xcalloc(want, sizeof *out->numbers);
    int32_t *t = NULL;
    uint8_t *e = NULL;
    size_t *start = NULL;
    if (!dense)
        km_slices(snap, &sel, &t, &e, &start);
    for (uint32_t c = 0; c < ncodes; c++) {
        if (!closed && sel.size[c] == 0)
            continue;
        size_t k = out->nstrata;
        Fedra__LifeTable *tab = &out->tabs[k];
        fedra__life_table__init(tab);
        if (dense) {
            km_tab_dense(cnt + (size_t)c * nbins * 2, nbins, grid, sel.size[c], tab);
        } else if (km_tab_general(t + start[c], e + start[c], sel.size[c], grid, tab) != 0) {
            rc = errf(err, "cannot build the life table (time out of range)");
            break;
        }
        out->nstrata++;
        if (by) {
            out->levels[k] = (char *)snapshot_level(snap, by->id, (uint16_t)c, out->numbers[k]);
            tab->n_levels = 1;
            tab->levels = &out->levels[k];
        }
        out->tabp[k] = tab;
    }
    free(cnt);
    free(t);
    free(e);
    free(start);
    surv_release(&sel);
    out->km.n_strata = out->nstrata;
    out->km.strata = out->tabp;
    out->km.grid_days = (uint32_t)grid;
    out->km.min_cell = policy->min_cell;
    if (rc != 0) {
        exec_km_release(out);
        return -1;
    }
    return 0;
}

void
exec_km_release(struct exec_km_out *out)
{
    for (size_t k = 0; k < out->nstrata; k++) {
        free(out->tabs[k].time);
        free(out->tabs[k].events);
        free(out->tabs[k].censored);
    }
    free(out->tabs);
    free(out->tabp);
    free(out->levels);
    free(out->numbers);
    memset(out, 0, sizeof *out);
}

int
exec_logrank(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_lr_out *out, char *err)
{
    memset(out, 0, sizeof *out);
    fedra__logrank_oev__init(&out->msg);
    if (spec->n_group_by != 1)
        return errf(err, "the log-rank test needs one grouping variable");
    struct surv_sel sel;
    if (surv_select(snap, policy, spec, &sel, err) != 0)
        return -1;
    /* Every node must report the same groups, in the same order: closed levels only. */
    if (!sel.closed) {
        surv_release(&sel);
        return errf(err, "the node-stratified log-rank test needs a categorical variable with "
            "fixed levels; %s is not one", sel.by->name);
    }
    size_t n = 0, G = sel.ncodes;
    int32_t *t = xcalloc(snap->n, sizeof *t);
    uint8_t *e = xcalloc(snap->n, 1);
    uint32_t *g = xcalloc(snap->n, sizeof *g);
    for (size_t i = 0; i < snap->n; i++) {
        uint16_t c = snap->code[sel.by->id][i];
        if (c == SNAP_MISSING || !snapshot_row_passes(snap, &sel.f, i))
            continue;
        t[n] = sel.tcol[i];
        e[n] = sel.ecol[i];
        g[n++] = c;
    }
    int rc = logrank_node_oev(t, e, g, n, G, sel.grid, &out->oev);
    free(t);
    free(e);
    free(g);
    if (rc != 0) {
        surv_release(&sel);
        return errf(err, "cannot compute the log-rank sums (error %d)", rc);
    }
    out->msg.n_groups = out->msg.n_n = out->msg.n_observed = out->msg.n_expected = G;
    out->msg.groups = (char **)sel.by->levels;
    out->n = xcalloc(G, sizeof *out->n);
    for (size_t k = 0; k < G; k++)
        out->n[k] = (uint64_t)out->oev.n[k];
    out->msg.n = out->n;
    out->msg.observed = out->oev.o;
    out->msg.expected = out->oev.e;
    out->msg.n_variance = G * G;
    out->msg.variance = out->oev.v;
    surv_release(&sel);
    return 0;
}

void
exec_logrank_release(struct exec_lr_out *out)
{
    logrank_oev_release(&out->oev);
    free(out->n);
    memset(out, 0, sizeof *out);
}

/* ---- models ---- */

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
};

static void
design_release(struct design *d)
{
    free(d->x);
    free(d->row);
    memset(d, 0, sizeof *d);
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

/*
 * Build the design of a round: resolve and check the terms, select the
 * complete cases, and apply the record and level rules.  glm puts an
 * intercept column first.  *outcome (glm) receives the outcome column.
 */
static int
design_build(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, int glm, struct column *outcome, struct design *d, char *err)
{
    memset(d, 0, sizeof *d);
    size_t nt = spec->n_terms;
    if (nt > WIRE_MAX_TERMS || (!glm && nt == 0))
        return errf(err, "a model needs 1 to %d terms (%zu given)", WIRE_MAX_TERMS, nt);
    struct column col[WIRE_MAX_TERMS];
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
    if (glm) {
        if (resolve_term(snap, spec->outcome, "outcome", outcome, err) != 0)
            return -1;
        if (outcome->var->kind == VAR_INTEGER)
            return errf(err, "outcome: %s is numeric; name a categorical variable and level",
                outcome->var->name);
        for (size_t j = 0; j < nt; j++)
            if (col[j].var == outcome->var)
                return errf(err, "%s is both the outcome and a covariate", outcome->var->name);
    }
    d->p = nt + (glm ? 1 : 0);
    if (spec->n_beta != d->p && !(glm && spec->n_beta == 0))
        return errf(err, "%zu coefficients for %zu model columns", spec->n_beta, d->p);
    struct snap_filter f;
    if (compile_where(snap, spec, &f, err) != 0)
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
    if (disclose_suppress(policy, d->n)) {
        design_release(d);
        return errf(err, "fewer than %u patients at this node match; the model is not fitted "
            "here", policy->min_cell);
    }
    /* Every level of a categorical model variable: 0 or at least min_cell patients. */
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
            if (disclose_suppress(policy, per[c])) {
                char tmp[16];
                errf(err, "%s=%s has fewer than %u patients at this node; the model is not "
                    "fitted here", v->name, snapshot_level(snap, v->id, (uint16_t)c, tmp),
                    policy->min_cell);
                free(per);
                design_release(d);
                return -1;
            }
    }
    free(per);

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

static void
model_fill(struct exec_model_out *out, size_t n, size_t p, size_t dropped)
{
    Fedra__ModelResult *m = &out->model;
    m->n = n;
    m->dropped = dropped;
    m->n_score = p;
    m->score = out->score;
    m->n_info = p * p;
    m->info = out->info;
}

/* ---- the model cache (exec.h) ---- */

static void
entry_free(struct exec_model_entry *e)
{
    free(e->key);
    cox_sorted_release(&e->cox);
    free(e->x);
    free(e->y);
    memset(e, 0, sizeof *e);
}

static void
entry_release(struct exec_model_cache *c, struct exec_model_entry *e)
{
    c->bytes -= e->bytes;
    entry_free(e);
}

void
exec_model_cache_clear(struct exec_model_cache *c)
{
    for (size_t k = 0; k < EXEC_MODEL_CACHE_ENTRIES; k++)
        entry_release(c, &c->e[k]);
}

void
exec_model_cache_expire(struct exec_model_cache *c, int64_t now_ms, int64_t idle_ms)
{
    for (size_t k = 0; k < EXEC_MODEL_CACHE_ENTRIES; k++) {
        struct exec_model_entry *e = &c->e[k];
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

static struct exec_model_entry *
cache_find(struct exec_model_cache *c, const uint8_t *key, size_t len)
{
    if (c == NULL)
        return NULL;
    for (size_t k = 0; k < EXEC_MODEL_CACHE_ENTRIES; k++) {
        struct exec_model_entry *e = &c->e[k];
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
cache_put(struct exec_model_cache *c, struct exec_model_entry *e)
{
    e->bytes = e->keylen + cox_sorted_bytes(&e->cox) +
        (e->x ? e->n * e->p * sizeof *e->x : 0) + (e->y ? e->n * sizeof *e->y : 0);
    size_t max = c == NULL ? 0 : c->max_bytes ? c->max_bytes : EXEC_MODEL_CACHE_MAX_BYTES;
    if (e->bytes > max) {
        entry_free(e);
        return;
    }
    for (;;) {
        struct exec_model_entry *lru = NULL, *empty = NULL;
        for (size_t k = 0; k < EXEC_MODEL_CACHE_ENTRIES; k++) {
            struct exec_model_entry *x = &c->e[k];
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

int
exec_cox(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_model_cache *cache, struct exec_model_out *out,
    char *err)
{
    memset(out, 0, sizeof *out);
    fedra__model_result__init(&out->model);
    int32_t grid;
    if (km_grid(policy, spec, &grid, err) != 0)
        return -1;
    if (spec->endpoint != FEDRA__ENDPOINT__ENDPOINT_OS &&
        spec->endpoint != FEDRA__ENDPOINT__ENDPOINT_EFS)
        return errf(err, "unknown endpoint %d (os or efs)", (int)spec->endpoint);
    if (spec->ties != FEDRA__TIES__TIES_EFRON && spec->ties != FEDRA__TIES__TIES_BRESLOW)
        return errf(err, "unknown ties method %d (efron or breslow)", (int)spec->ties);

    struct exec_model_entry fresh, *e;
    memset(&fresh, 0, sizeof fresh);
    fresh.key = model_key(spec, &fresh.keylen);
    if ((e = cache_find(cache, fresh.key, fresh.keylen)) != NULL) {
        free(fresh.key);
        if (spec->n_beta != e->p)
            return errf(err, "%zu coefficients for %zu model columns", spec->n_beta, e->p);
    } else {
        struct design d;
        if (design_build(snap, policy, spec, 0, NULL, &d, err) != 0) {
            free(fresh.key);
            return -1;
        }
        int efs = spec->endpoint == FEDRA__ENDPOINT__ENDPOINT_EFS;
        const int32_t *tcol = efs ? snap->efs_time : snap->os_time;
        const uint8_t *ecol = efs ? snap->efs_event : snap->os_event;
        int64_t *t = xcalloc(d.n + 1, sizeof *t);
        int *st = xcalloc(d.n + 1, sizeof *st);
        int rc = 0;
        for (size_t r = 0; r < d.n && rc == 0; r++) {
            int32_t tt = tcol[d.row[r]];
            if (grid > 0 && km_grid_ceil(tt, grid, &tt) != 0)
                rc = errf(err, "a time is out of range for the grid");
            t[r] = tt;
            st[r] = ecol[d.row[r]];
            fresh.events += (uint64_t)st[r];
        }
        if (rc == 0)
            rc = check_events(policy, fresh.events, d.p, "events", err);
        if (rc == 0) {
            int cr = cox_sorted_init(&fresh.cox, t, st, d.x, d.n, d.p);
            if (cr != 0)
                rc = errf(err, "cannot evaluate the Cox model here (error %d)", cr);
        }
        free(t);
        free(st);
        fresh.n = d.n;
        fresh.p = d.p;
        fresh.dropped = d.dropped;
        fresh.grid = grid;
        design_release(&d);
        if (rc != 0) {
            entry_free(&fresh);
            return -1;
        }
        e = &fresh;
    }

    out->score = xcalloc(e->p, sizeof *out->score);
    out->info = xcalloc(e->p * e->p, sizeof *out->info);
    enum cox_ties ties = spec->ties == FEDRA__TIES__TIES_BRESLOW ? COX_BRESLOW : COX_EFRON;
    int cr = cox_sorted_eval(&e->cox, spec->beta, ties, &out->model.loglik, out->score,
        out->info);
    int rc = cr == 0 ? 0 : errf(err, "cannot evaluate the Cox model here (error %d)", cr);
    if (rc == 0) {
        model_fill(out, e->n, e->p, e->dropped);
        out->model.events = e->events;
        out->model.grid_days = (uint32_t)e->grid;
    }
    if (e == &fresh)
        cache_put(cache, &fresh);
    if (rc != 0)
        exec_model_release(out);
    return rc;
}

int
exec_glm(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_model_cache *cache, struct exec_model_out *out,
    char *err)
{
    memset(out, 0, sizeof *out);
    fedra__model_result__init(&out->model);

    struct exec_model_entry fresh, *e;
    memset(&fresh, 0, sizeof fresh);
    fresh.key = model_key(spec, &fresh.keylen);
    if ((e = cache_find(cache, fresh.key, fresh.keylen)) != NULL) {
        free(fresh.key);
        if (spec->n_beta != e->p && spec->n_beta != 0)
            return errf(err, "%zu coefficients for %zu model columns", spec->n_beta, e->p);
    } else {
        struct column oc;
        struct design d;
        if (design_build(snap, policy, spec, 1, &oc, &d, err) != 0) {
            free(fresh.key);
            return -1;
        }
        double *y = xcalloc(d.n + 1, sizeof *y);
        for (size_t r = 0; r < d.n; r++) {
            y[r] = (double)(oc.code == (long)snap->code[oc.var->id][d.row[r]]);
            fresh.events += y[r] > 0;
        }
        int rc = check_events(policy, fresh.events, d.p, "outcome events", err);
        if (rc == 0)
            rc = check_events(policy, d.n - fresh.events, d.p, "outcome non-events", err);
        fresh.n = d.n;
        fresh.p = d.p;
        fresh.dropped = d.dropped;
        fresh.x = d.x;
        fresh.y = y;
        d.x = NULL;
        design_release(&d);
        if (rc != 0) {
            entry_free(&fresh);
            return -1;
        }
        e = &fresh;
    }

    out->score = xcalloc(e->p, sizeof *out->score);
    out->info = xcalloc(e->p * e->p, sizeof *out->info);
    struct glm_node_stats gs;
    int rc = 0;
    int gr = glm_node_eval(e->y, e->x, e->n, e->p, spec->n_beta ? spec->beta : NULL, out->info,
        out->score, &gs);
    if (gr != 0) {
        rc = errf(err, "cannot evaluate the logistic model here (error %d)", gr);
    } else {
        out->model.deviance = gs.deviance;
        out->model.aic = gs.aic;
        out->model.n_boundary = (uint64_t)gs.n_boundary;
        model_fill(out, e->n, e->p, e->dropped);
        out->model.events = e->events;
    }
    if (e == &fresh)
        cache_put(cache, &fresh);
    if (rc != 0)
        exec_model_release(out);
    return rc;
}

void
exec_model_release(struct exec_model_out *out)
{
    free(out->score);
    free(out->info);
    memset(out, 0, sizeof *out);
}
