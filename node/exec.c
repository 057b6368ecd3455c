/*
 * exec - see exec.h.
 */
#include "node/exec.h"

#include <stdlib.h>
#include <string.h>

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

static int
surv_select(const struct snapshot *snap, const struct disclose_policy *policy,
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
    int efs = spec->endpoint == FEDRA__ENDPOINT__ENDPOINT_EFS;
    s->tcol = efs ? snap->efs_time : snap->os_time;
    s->ecol = efs ? snap->efs_event : snap->os_event;
    s->ncodes = s->by ? snap->ncodes[s->by->id] : 1;
    s->closed = s->by == NULL || s->by->nlevels > 0;
    s->size = xcalloc(s->ncodes, sizeof *s->size);
    for (size_t i = 0; i < snap->n; i++) {
        if (!snapshot_row_passes(snap, &s->f, i))
            continue;
        uint16_t c = s->by ? snap->code[s->by->id][i] : 0;
        if (c != SNAP_MISSING)
            s->size[c]++;
    }
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

int
exec_km(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_km_out *out, char *err)
{
    memset(out, 0, sizeof *out);
    fedra__km_result__init(&out->km);
    struct surv_sel sel;
    if (surv_select(snap, policy, spec, &sel, err) != 0)
        return -1;
    const struct var_def *by = sel.by;
    uint32_t ncodes = sel.ncodes;
    int closed = sel.closed, rc = 0;
    int32_t grid = sel.grid;
    size_t want = 0;
    for (uint32_t c = 0; c < ncodes; c++)
        want += closed || sel.size[c] > 0;
    if (want > WIRE_MAX_STRATA) {
        errf(err, "%zu strata (limit %d)", want, WIRE_MAX_STRATA);
        surv_release(&sel);
        return -1;
    }
    out->tabs = xcalloc(want, sizeof *out->tabs);
    out->tabp = xcalloc(want, sizeof *out->tabp);
    out->levels = xcalloc(want, sizeof *out->levels);
    out->numbers = xcalloc(want, sizeof *out->numbers);
    /*
     * One pass over the rows: a counting sort by stratum code, using the
     * stratum sizes surv_select() already counted, so that each stratum's
     * records are one slice of t and e.
     */
    size_t *start = xcalloc((size_t)ncodes + 1, sizeof *start);
    for (uint32_t c = 0; c < ncodes; c++)
        start[c + 1] = start[c] + sel.size[c];
    size_t *fill = xcalloc(ncodes, sizeof *fill);
    int32_t *t = xcalloc(start[ncodes], sizeof *t);
    uint8_t *e = xcalloc(start[ncodes], 1);
    for (size_t i = 0; i < snap->n; i++) {
        uint16_t c = by ? snap->code[by->id][i] : 0;
        if (c == SNAP_MISSING || !snapshot_row_passes(snap, &sel.f, i))
            continue;
        size_t at = start[c] + fill[c]++;
        t[at] = sel.tcol[i];
        e[at] = sel.ecol[i];
    }
    for (uint32_t c = 0; c < ncodes && rc == 0; c++) {
        if (!closed && sel.size[c] == 0)
            continue;
        struct km_table lt;
        if (km_life_table(t + start[c], e + start[c], sel.size[c], grid, &lt) != 0) {
            rc = errf(err, "cannot build the life table (time out of range)");
            break;
        }
        size_t k = out->nstrata++;
        Fedra__LifeTable *tab = &out->tabs[k];
        fedra__life_table__init(tab);
        if (by) {
            out->levels[k] = (char *)snapshot_level(snap, by->id, (uint16_t)c, out->numbers[k]);
            tab->n_levels = 1;
            tab->levels = &out->levels[k];
        }
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
        out->tabp[k] = tab;
    }
    free(t);
    free(e);
    free(start);
    free(fill);
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
