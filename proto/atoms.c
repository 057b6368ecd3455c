/*
 * atoms - the pooled auditor's atoms; see atoms.h.
 */
#include "proto/atoms.h"

#include <string.h>

#include "lib/util.h"
#include "proto/poolmodel.h"

int
atoms_cells(const Fedra__QuerySpec *spec, struct layout *L, char *err)
{
    if (spec == NULL || !spec->pooled)
        return errf(err, "not a pooled query");
    /* The same grouping as the query, counted: strata and cells are the same sets. */
    Fedra__QuerySpec view = *spec;
    view.kind = FEDRA__KIND__KIND_COUNT;
    return layout_make(&view, 0, L, err);
}

int
atoms_is_model(const Fedra__QuerySpec *spec)
{
    return spec != NULL &&
        (spec->kind == FEDRA__KIND__KIND_COX || spec->kind == FEDRA__KIND__KIND_GLM);
}

int
atoms_ncells(const Fedra__QuerySpec *spec, size_t *n, char *err)
{
    if (spec == NULL || !spec->pooled)
        return errf(err, "not a pooled query");
    if (atoms_is_model(spec)) {
        struct poolmodel L;
        struct poolmodel_cells C;
        if (poolmodel_make(spec, &L, err) != 0 || poolmodel_cells_make(&L, spec, &C, err) != 0)
            return -1;
        *n = C.ncells;
        return 0;
    }
    struct layout L;
    if (atoms_cells(spec, &L, err) != 0)
        return -1;
    *n = L.ncells;
    return 0;
}

int
atoms_layout(const Fedra__QueryBody *const *q, size_t nq, struct paudit_layout *A, char *err)
{
    uint32_t ncells[PAUDIT_MAX_QUERIES];
    char why[FEDRA_ERRLEN];
    if (nq > PAUDIT_MAX_QUERIES)
        return errf(err, "the pooled audit covers at most %d queries, not %zu "
            "(PAUDIT_MAX_QUERIES)", PAUDIT_MAX_QUERIES, nq);
    for (size_t i = 0; i < nq; i++) {
        size_t n;
        if (atoms_ncells(q[i]->spec, &n, why) != 0)
            return errf(err, "pooled history query %zu: %s", i + 1, why);
        if (n >= PAUDIT_MAX_ATOMS)
            return errf(err, "pooled history query %zu has %zu cells (more than the pooled "
                "audit's %u atoms)", i + 1, n, PAUDIT_MAX_ATOMS);
        ncells[i] = (uint32_t)n;
    }
    if (paudit_layout_make(A, ncells, nq, why) != 0)
        return errf(err, "%s", why);
    return 0;
}

int
atoms_in_roster(const Fedra__QueryBody *q, const char *name)
{
    for (size_t i = 0; i < q->n_audience; i++)
        if (strcmp(q->audience[i], name) == 0)
            return 1;
    return 0;
}

static int
same_strings(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return 1;
}

static int
same_term(const Fedra__Term *s, const Fedra__Term *t)
{
    return s != NULL && t != NULL && strcmp(s->var, t->var) == 0 &&
        strcmp(s->level, t->level) == 0 && strcmp(s->var2, t->var2) == 0 &&
        strcmp(s->level2, t->level2) == 0;
}

/* Two fits with the same design, event and strata: the same cells and sets. */
static int
same_fit(const Fedra__QuerySpec *x, const Fedra__QuerySpec *y)
{
    if (x->kind != y->kind || x->n_terms != y->n_terms || strcmp(x->strata, y->strata) != 0 ||
        (x->kind == FEDRA__KIND__KIND_COX ? x->endpoint != y->endpoint
                                          : !same_term(x->outcome, y->outcome)))
        return 0;
    for (size_t i = 0; i < x->n_terms; i++)
        if (!same_term(x->terms[i], y->terms[i]))
            return 0;
    return 1;
}

int
atoms_same_sets(const Fedra__QueryBody *a, const Fedra__QueryBody *b)
{
    const Fedra__QuerySpec *x = a->spec, *y = b->spec;
    if (x == NULL || y == NULL || atoms_is_model(x) != atoms_is_model(y) ||
        (atoms_is_model(x) && !same_fit(x, y)) || x->n_where != y->n_where ||
        !same_strings(x->group_by, x->n_group_by, y->group_by, y->n_group_by) ||
        !same_strings(a->audience, a->n_audience, b->audience, b->n_audience))
        return 0;
    for (size_t i = 0; i < x->n_where; i++) {
        const Fedra__Filter *f = x->where[i], *g = y->where[i];
        if (strcmp(f->var, g->var) != 0 || f->op != g->op ||
            !same_strings(f->values, f->n_values, g->values, g->n_values))
            return 0;
    }
    return 1;
}

size_t
atoms_plan(const Fedra__QueryBody *const *hist, size_t nhist, const Fedra__QueryBody *cur,
    const Fedra__QueryBody **q, size_t *at)
{
    *at = nhist;
    for (size_t i = 0; i < nhist; i++) {
        q[i] = hist[i];
        if (*at == nhist && atoms_same_sets(hist[i], cur))
            *at = i;
    }
    if (*at < nhist)
        return nhist;
    q[nhist] = cur;
    return nhist + 1;
}
