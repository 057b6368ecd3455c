/*
 * exec - see exec.h.
 */
#include "node/exec.h"

#include <stdlib.h>
#include <string.h>

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
