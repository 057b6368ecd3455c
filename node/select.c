/*
 * select - see select.h.
 */
#include "node/select.h"

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

int
select_compile(const struct snapshot *snap, const Fedra__QuerySpec *spec, struct snap_filter *f,
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
