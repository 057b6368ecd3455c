/*
 * atoms - the pooled auditor's atoms; see atoms.h.
 */
#include "proto/atoms.h"

#include <stdio.h>
#include <stdlib.h>
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

/* ---- The class layout (atoms.h) ---- */

/* How a query reads a variable, gathered over the plan. */
struct use {
    int used, identity;
    size_t nterm;                       /* filter terms on it, over the plan */
    const Fedra__Filter *term[PAUDIT_MAX_QUERIES * WIRE_MAX_FILTERS];
};

static struct atoms_dim *
var_dim(struct atoms_layout *X, enum var_id v)
{
    for (size_t d = 0; d < X->ndim; d++)
        if (X->dim[d].kind == ATOMS_VAR && X->dim[d].var->id == v)
            return &X->dim[d];
    return NULL;
}

const struct atoms_dim *
atoms_var_dim(const struct atoms_layout *X, enum var_id v)
{
    return var_dim((struct atoms_layout *)X, v);
}

const struct atoms_dim *
atoms_event_dim(const struct atoms_layout *X, int efs)
{
    for (size_t d = 0; d < X->ndim; d++)
        if (X->dim[d].kind == ATOMS_EVENT && X->dim[d].efs == efs)
            return &X->dim[d];
    return NULL;
}

long
atoms_roster_class(const struct atoms_layout *X, const char *name)
{
    for (size_t i = 0; i < X->nnames; i++)
        if (strcmp(X->names[i], name) == 0)
            return X->name_class[i];
    return -1;
}

static int
cmp_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

long
atoms_value(const struct atoms_layout *X, const struct atoms_dim *d, const char *text)
{
    const struct var_def *v = d->var;
    if (v->kind == VAR_INTEGER) {
        long long x;
        return util_parse_int(text, v->lo, v->hi, &x) == 0 ? (long)(x - v->lo) : -1;
    }
    if (v->nlevels > 0)
        return vars_level_index(v, text);
    char *const *hit = X->ntext[v->id] ? bsearch(&text, X->text[v->id], X->ntext[v->id],
        sizeof(char *), cmp_text) : NULL;
    return hit ? (long)(hit - X->text[v->id]) : (long)X->ntext[v->id];    /* "other" */
}

/* The text of value x of d's variable ("" for an open variable's "other"). */
static const char *
value_text(const struct atoms_layout *X, const struct atoms_dim *d, uint32_t x,
    char buf[LAYOUT_LEVEL_TEXT])
{
    const struct var_def *v = d->var;
    if (v->kind == VAR_INTEGER) {
        snprintf(buf, LAYOUT_LEVEL_TEXT, "%d", v->lo + (int)x);
        return buf;
    }
    if (v->nlevels > 0)
        return v->levels[x];
    return x < X->ntext[v->id] ? X->text[v->id][x] : "";
}

/*
 * allow[x] = 1 if value x (< ndom) of d's variable passes filter term f, as a
 * node's compiled filter has it (node/snapshot.c compile_term).  One lookup
 * per value the term names, then one flag per value of the domain.
 */
static void
term_allow(const struct atoms_layout *X, const struct atoms_dim *d, const Fedra__Filter *f,
    uint8_t *allow)
{
    const struct var_def *v = d->var;
    if (f->op == FEDRA__OP__OP_LT || f->op == FEDRA__OP__OP_LE || f->op == FEDRA__OP__OP_GT ||
        f->op == FEDRA__OP__OP_GE) {
        long long t;
        int ok = v->kind == VAR_INTEGER && f->n_values == 1 &&
            util_parse_int(f->values[0], -1000000, 1000000, &t) == 0;
        for (uint32_t x = 0; x < d->ndom; x++) {
            long long val = v->lo + (long long)x;
            allow[x] = (uint8_t)(ok && (f->op == FEDRA__OP__OP_LT ? val < t
                : f->op == FEDRA__OP__OP_LE ? val <= t : f->op == FEDRA__OP__OP_GT ? val > t
                : val >= t));            /* not ok: a node refuses such a query */
        }
        return;
    }
    int ne = f->op == FEDRA__OP__OP_NE;
    memset(allow, ne, d->ndom);
    for (size_t k = 0; k < f->n_values; k++) {
        long y = atoms_value(X, d, f->values[k]);
        if (y >= 0 && (uint32_t)y < d->ndom)
            allow[y] = (uint8_t)!ne;    /* (an open variable's "other" is no filter's text) */
    }
}

/* The variables a fit needs present (node/kind_model.c need_build), and whose levels count. */
static size_t
fit_need(const Fedra__QuerySpec *s, const struct var_def **need)
{
    size_t n = 0;
    const char *name[2 * WIRE_MAX_TERMS + 2];
    for (size_t j = 0; j < s->n_terms; j++) {
        name[n++] = s->terms[j]->var;
        if (s->terms[j]->var2[0] != 0)
            name[n++] = s->terms[j]->var2;
    }
    if (s->kind == FEDRA__KIND__KIND_GLM && s->outcome != NULL)
        name[n++] = s->outcome->var;
    if (s->strata[0] != 0)
        name[n++] = s->strata;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const struct var_def *v = vars_find(name[i]);
        int dup = v == NULL;
        for (size_t k = 0; k < m && !dup; k++)
            dup = need[k] == v;
        if (!dup)
            need[m++] = v;
    }
    return m;
}

static struct use *
use_of(struct use *u, const char *name, int identity)
{
    const struct var_def *v = vars_find(name);
    if (v == NULL)
        return NULL;
    u[v->id].used = 1;
    u[v->id].identity |= identity;
    return &u[v->id];
}

/*
 * Whether a record can lack a value of v: only an open variable (ICD-O-3
 * codes) can; the closed ones and the integers are required columns
 * (data-model.md), so their dimension has no class for a missing value, and
 * a node holding one refuses the query (node/patoms.c).
 */
static int
may_be_missing(const struct var_def *v)
{
    return v->kind != VAR_INTEGER && v->nlevels == 0;
}

/* Values of one dimension, ordered by their signatures over its terms (var_classes). */
struct sig_order {
    const uint8_t *sig;
    size_t n;
};

static int
cmp_sig(const void *a, const void *b, void *arg)
{
    const struct sig_order *o = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int c = memcmp(o->sig + (size_t)x * o->n, o->sig + (size_t)y * o->n, o->n);
    return c != 0 ? c : x < y ? -1 : x > y;
}

/*
 * The classes of variable dimension d: values alike under every term
 * (atoms.h), numbered in the order of their signatures (a sort, so that
 * ATOMS_MAX_TEXTS values under a thousand terms stay fast); each class's
 * representative is its smallest value.
 */
static void
var_classes(struct atoms_dim *d, const struct use *u, const struct atoms_layout *X)
{
    d->class_of = xcalloc(d->ndom + 1, sizeof *d->class_of);
    d->rep = xcalloc(d->ndom + 2, sizeof *d->rep);
    size_t nt = u->identity ? 0 : u->nterm;
    uint8_t *sig = xcalloc((size_t)d->ndom * nt + 1, 1);
    uint32_t *order = xcalloc(d->ndom + 1, sizeof *order);
    uint8_t *allow = xcalloc(d->ndom + 1, 1);
    for (size_t t = 0; t < nt; t++) {
        term_allow(X, d, u->term[t], allow);
        for (uint32_t x = 0; x < d->ndom; x++)
            sig[(size_t)x * nt + t] = allow[x];
    }
    free(allow);
    for (uint32_t x = 0; x < d->ndom; x++)
        order[x] = x;
    struct sig_order o = {sig, nt};
    if (!u->identity)
        qsort_r(order, d->ndom, sizeof *order, cmp_sig, &o);
    d->nclass = 0;
    for (uint32_t i = 0; i < d->ndom; i++) {
        uint32_t x = order[i];
        if (u->identity || i == 0 ||
            memcmp(sig + (size_t)order[i - 1] * nt, sig + (size_t)x * nt, nt) != 0)
            d->rep[d->nclass++] = x;    /* the smallest of its class: sorted by value last */
        d->class_of[x] = d->nclass - 1;
    }
    if (may_be_missing(d->var))
        d->rep[d->nclass++] = d->ndom;  /* missing */
    free(order);
    free(sig);
}

static void
roster_classes(struct atoms_layout *X, const Fedra__QueryBody *const *q, size_t nq)
{
    size_t cap = 0;
    for (size_t i = 0; i < nq; i++)
        cap += q[i]->n_audience;
    X->names = xcalloc(cap + 1, sizeof *X->names);
    X->name_class = xcalloc(cap + 1, sizeof *X->name_class);
    X->roster = xcalloc(cap + 1, sizeof *X->roster);
    uint64_t *pat = xcalloc(cap + 1, sizeof *pat);
    for (size_t i = 0; i < nq; i++)
        for (size_t k = 0; k < q[i]->n_audience; k++) {
            size_t j = 0;
            while (j < X->nnames && strcmp(X->names[j], q[i]->audience[k]) != 0)
                j++;
            if (j == X->nnames)
                X->names[X->nnames++] = q[i]->audience[k];
            pat[j] |= (uint64_t)1 << i;
        }
    struct atoms_dim *d = &X->dim[X->ndim++];
    d->kind = ATOMS_ROSTER;
    for (size_t j = 0; j < X->nnames; j++) {
        uint32_t c = 0;
        while (c < d->nclass && X->roster[c] != pat[j])
            c++;
        if (c == d->nclass)
            X->roster[d->nclass++] = pat[j];
        X->name_class[j] = c;
    }
    if (d->nclass == 0)
        d->nclass = 1;                  /* no roster names a node: one empty class */
    d->ndom = d->nclass;
    free(pat);
}

/* The class of dimension d in atom a. */
static inline uint32_t
class_in(const struct atoms_dim *d, size_t a)
{
    return (uint32_t)(a / d->stride % d->nclass);
}

/*
 * Query qi's digit of every atom, into out (natoms).  pass[d][c]: class c
 * of dimension d passes the roster and every filter term of qi; then the
 * cell, from one value of each class, as node/patoms.c reads it off a row.
 */
static int
query_digits(const struct atoms_layout *X, const Fedra__QueryBody *q, size_t qi, uint32_t *out,
    char *err)
{
    const Fedra__QuerySpec *s = q->spec;
    size_t N = X->A.natoms;
    uint8_t *pass[ATOMS_MAX_DIMS];
    size_t nread = 0, nneed = 0;
    int32_t *lev[POOLMODEL_MAX_VARS + WIRE_MAX_GROUP_BY] = {0};
    int rc = -1;
    for (size_t d = 0; d < X->ndim; d++) {
        const struct atoms_dim *D = &X->dim[d];
        pass[d] = xcalloc(D->nclass, 1);
        for (uint32_t c = 0; c < D->nclass; c++)
            pass[d][c] = D->kind != ATOMS_ROSTER || (X->roster[c] >> qi & 1);
    }
    for (size_t t = 0; t < s->n_where; t++) {
        const struct var_def *v = vars_find(s->where[t]->var);
        const struct atoms_dim *D = v ? atoms_var_dim(X, v->id) : NULL;
        if (D == NULL) {
            errf(err, "filter on unknown variable '%.32s'", s->where[t]->var);
            goto done;
        }
        size_t d = (size_t)(D - X->dim);
        uint8_t *allow = xcalloc(D->ndom + 1, 1);
        term_allow(X, D, s->where[t], allow);
        for (uint32_t c = 0; c < D->nclass; c++)
            pass[d][c] &= D->rep[c] < D->ndom && allow[D->rep[c]];
        free(allow);
    }
    /* What the cell reads: the grouping's levels, or a fit's. */
    const struct atoms_dim *rd[POOLMODEL_MAX_VARS + WIRE_MAX_GROUP_BY], *nd[2 * WIRE_MAX_TERMS + 2];
    struct layout L;
    struct poolmodel P;
    struct poolmodel_cells C;
    const struct atoms_dim *ev = NULL, *outd = NULL;
    long outlev = -1;
    int model = atoms_is_model(s);
    char buf[LAYOUT_LEVEL_TEXT];
    if (model) {
        const struct var_def *need[2 * WIRE_MAX_TERMS + 2];
        if (poolmodel_make(s, &P, err) != 0 || poolmodel_cells_make(&P, s, &C, err) != 0)
            goto done;
        size_t n = fit_need(s, need);
        for (size_t k = 0; k < n; k++)
            nd[nneed++] = atoms_var_dim(X, need[k]->id);
        for (size_t a = 0; a < C.nf; a++)
            rd[nread++] = atoms_var_dim(X, C.f[a]->id);
        if (C.glm) {
            const struct var_def *o = vars_find(s->outcome->var);
            outd = o ? atoms_var_dim(X, o->id) : NULL;
            outlev = o ? vars_level_index(o, s->outcome->level) : -1;
        } else {
            ev = atoms_event_dim(X, s->endpoint == FEDRA__ENDPOINT__ENDPOINT_EFS);
        }
        if ((C.glm && outd == NULL) || (!C.glm && ev == NULL))
            goto nodim;
    } else {
        if (atoms_cells(s, &L, err) != 0)
            goto done;
        for (size_t k = 0; k < L.nvars; k++)
            rd[nread++] = atoms_var_dim(X, L.var[k]->id);
    }
    for (size_t k = 0; k < nneed; k++)
        if (nd[k] == NULL)
            goto nodim;
    for (size_t k = 0; k < nread; k++) {
        const struct atoms_dim *D = rd[k];
        if (D == NULL)
            goto nodim;
        lev[k] = xcalloc(D->nclass, sizeof *lev[k]);
        for (uint32_t c = 0; c < D->nclass; c++) {
            const char *text = D->rep[c] < D->ndom ? value_text(X, D, D->rep[c], buf) : NULL;
            lev[k][c] = text == NULL ? -1 : model ? vars_level_index(C.f[k], text)
                                                  : layout_level(&L, k, text);
        }
    }
    for (size_t a = 0; a < N; a++) {
        int ok = 1;
        for (size_t d = 0; d < X->ndim && ok; d++)
            ok = pass[d][class_in(&X->dim[d], a)];
        uint32_t idx[POOLMODEL_MAX_VARS + WIRE_MAX_GROUP_BY];
        int complete = 1;
        for (size_t k = 0; k < nread && ok && complete; k++) {
            int32_t l = lev[k][class_in(rd[k], a)];
            complete = l >= 0;
            idx[k] = (uint32_t)l;
        }
        if (!ok || (!model && !complete)) {
            out[a] = 0;
            continue;
        }
        for (size_t k = 0; k < nneed && complete; k++)
            complete = nd[k]->rep[class_in(nd[k], a)] < nd[k]->ndom;
        if (!model) {
            out[a] = (uint32_t)layout_cell(&L, idx) + 1;
            continue;
        }
        int event = C.glm ? (long)outd->rep[class_in(outd, a)] == outlev
                          : ev->rep[class_in(ev, a)] != 0;
        out[a] = complete ? (uint32_t)poolmodel_cell(&C, event, idx) + 1 : 1;
    }
    rc = 0;
    goto done;
nodim:
    errf(err, "a variable of query %zu has no dimension (a defect)", qi + 1);
done:
    for (size_t d = 0; d < X->ndim; d++)
        free(pass[d]);
    for (size_t k = 0; k < nread; k++)
        free(lev[k]);
    return rc;
}

int
atoms_layout(const Fedra__QueryBody *const *q, size_t nq, struct atoms_layout *X, char *err)
{
    char why[FEDRA_ERRLEN];
    memset(X, 0, sizeof *X);
    if (nq == 0 || nq > PAUDIT_MAX_QUERIES)
        return errf(err, "the pooled audit covers 1 to %d queries, not %zu "
            "(PAUDIT_MAX_QUERIES)", PAUDIT_MAX_QUERIES, nq);
    struct use *u = xcalloc(VAR_COUNT, sizeof *u);
    int rc = -1, event[2] = {0, 0};
    X->A.nq = nq;
    /* What each query reads, and its cells. */
    for (size_t i = 0; i < nq; i++) {
        const Fedra__QuerySpec *s = q[i]->spec;
        size_t n;
        if (atoms_ncells(s, &n, why) != 0) {
            errf(err, "pooled history query %zu: %s", i + 1, why);
            goto done;
        }
        if (n >= PAUDIT_MAX_ATOMS) {
            errf(err, "pooled history query %zu has %zu cells (more than the pooled "
                "audit's %u atoms)", i + 1, n, PAUDIT_MAX_ATOMS);
            goto done;
        }
        X->A.radix[i] = (uint32_t)n + 1;
        if (s->n_where > WIRE_MAX_FILTERS) {
            errf(err, "pooled history query %zu has %zu filter terms (at most %d)", i + 1,
                s->n_where, WIRE_MAX_FILTERS);
            goto done;
        }
        for (size_t t = 0; t < s->n_where; t++) {
            struct use *w = use_of(u, s->where[t]->var, 0);
            if (w != NULL)
                w->term[w->nterm++] = s->where[t];
        }
        if (!atoms_is_model(s)) {
            for (size_t k = 0; k < s->n_group_by; k++)
                use_of(u, s->group_by[k], 1);
            continue;
        }
        const struct var_def *need[2 * WIRE_MAX_TERMS + 2];
        size_t nn = fit_need(s, need);
        for (size_t k = 0; k < nn; k++)
            use_of(u, need[k]->name, need[k]->kind != VAR_INTEGER);
        if (s->kind == FEDRA__KIND__KIND_COX)
            event[s->endpoint == FEDRA__ENDPOINT__ENDPOINT_EFS] = 1;
    }
    /* Open variables: the texts their filters name, sorted and unique. */
    for (int v = 0; v < VAR_COUNT; v++) {
        const struct var_def *d = vars_get((enum var_id)v);
        if (!u[v].used || d->kind == VAR_INTEGER || d->nlevels > 0)
            continue;
        size_t cap = 0;
        for (size_t t = 0; t < u[v].nterm; t++)
            cap += u[v].term[t]->n_values;
        X->text[v] = xcalloc(cap + 1, sizeof *X->text[v]);
        for (size_t t = 0; t < u[v].nterm; t++)
            for (size_t k = 0; k < u[v].term[t]->n_values; k++)
                X->text[v][X->ntext[v]++] = u[v].term[t]->values[k];
        qsort(X->text[v], X->ntext[v], sizeof *X->text[v], cmp_text);
        size_t m = 0;
        for (size_t k = 0; k < X->ntext[v]; k++)
            if (m == 0 || strcmp(X->text[v][m - 1], X->text[v][k]) != 0)
                X->text[v][m++] = X->text[v][k];
        X->ntext[v] = m;
        if (m > ATOMS_MAX_TEXTS) {
            errf(err, "the pooled history's filters name %zu values of %s (at most %d, "
                "ATOMS_MAX_TEXTS)", m, d->name, ATOMS_MAX_TEXTS);
            goto done;
        }
    }
    /* The dimensions: the roster, each variable read, each endpoint's event. */
    roster_classes(X, q, nq);
    for (int v = 0; v < VAR_COUNT; v++) {
        if (!u[v].used)
            continue;
        struct atoms_dim *d = &X->dim[X->ndim++];
        d->kind = ATOMS_VAR;
        d->var = vars_get((enum var_id)v);
        d->ndom = d->var->kind == VAR_INTEGER ? (uint32_t)(d->var->hi - d->var->lo + 1)
                : d->var->nlevels > 0 ? (uint32_t)d->var->nlevels : (uint32_t)X->ntext[v] + 1;
        var_classes(d, &u[v], X);
    }
    for (int e = 0; e < 2; e++)
        if (event[e]) {
            struct atoms_dim *d = &X->dim[X->ndim++];
            d->kind = ATOMS_EVENT;
            d->efs = e;
            d->ndom = d->nclass = 2;
            d->class_of = xcalloc(2, sizeof *d->class_of);
            d->rep = xcalloc(2, sizeof *d->rep);
            d->class_of[1] = d->rep[1] = 1;
        }
    size_t n = 1;
    for (size_t d = X->ndim; d-- > 0;) {
        X->dim[d].stride = n;
        if (X->dim[d].nclass > PAUDIT_MAX_ATOMS / n) {
            errf(err, "the classes of the variables the pooled history's %zu queries read "
                "make more than %u atoms (PAUDIT_MAX_ATOMS)", nq, PAUDIT_MAX_ATOMS);
            goto done;
        }
        n *= X->dim[d].nclass;
    }
    X->A.natoms = n;
    X->digit = xcalloc(nq * n, sizeof *X->digit);
    X->A.digit = X->digit;
    for (size_t i = 0; i < nq; i++)
        if (query_digits(X, q[i], i, X->digit + i * n, why) != 0) {
            errf(err, "pooled history query %zu: %s", i + 1, why);
            goto done;
        }
    rc = 0;
done:
    free(u);
    if (rc != 0)
        atoms_layout_release(X);
    return rc;
}

void
atoms_canonical(const struct atoms_layout *X, uint32_t *canon)
{
    size_t N = X->A.natoms, nq = X->A.nq, cap = 2;
    while (cap < 2 * N)
        cap *= 2;
    uint32_t *slot = xcalloc(cap, sizeof *slot);    /* atom + 1; 0: empty */
    for (size_t a = 0; a < N; a++) {
        uint64_t h = 1469598103934665603ull;        /* FNV-1a over the digit column */
        for (size_t k = 0; k < nq; k++)
            h = (h ^ X->digit[k * N + a]) * 1099511628211ull;
        size_t i = (size_t)(h ^ h >> 29) & (cap - 1);
        for (;; i = (i + 1) & (cap - 1)) {
            if (slot[i] == 0) {
                slot[i] = (uint32_t)a + 1;
                canon[a] = (uint32_t)a;
                break;
            }
            size_t b = slot[i] - 1, k = 0;
            while (k < nq && X->digit[k * N + a] == X->digit[k * N + b])
                k++;
            if (k == nq) {
                canon[a] = (uint32_t)b;
                break;
            }
        }
    }
    free(slot);
}

void
atoms_layout_release(struct atoms_layout *X)
{
    for (size_t d = 0; d < X->ndim; d++) {
        free(X->dim[d].class_of);
        free(X->dim[d].rep);
    }
    free(X->names);
    free(X->name_class);
    free(X->roster);
    for (int v = 0; v < VAR_COUNT; v++)
        free(X->text[v]);
    free(X->digit);
    memset(X, 0, sizeof *X);
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
