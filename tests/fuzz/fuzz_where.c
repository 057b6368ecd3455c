/*
 * fuzz_where - the --where expression parser and its catalogue check.
 *
 * The input (cut at the first NUL, as a command-line argument would be) is
 * parsed with where_parse and, if it parses, checked with where_check.  Two
 * properties are asserted (abort = reported crash):
 *  - every accepted term is well formed: a variable, 1 value for a
 *    comparison or 1..WHERE_MAX_VALUES for "in", at most WHERE_MAX_TERMS;
 *  - whatever the parser accepts, the wire accepts: the terms put into a
 *    QueryBody as coord/fedra.c does, packed and decoded with the node's
 *    wire_query_decode, come back unchanged.  A --where that the coordinator
 *    signs but every node refuses as malformed would be a bug.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/where.h"
#include "proto/wire.h"
#include "tests/fuzz/fuzz_common.h"

static Fedra__Op
to_wire(enum where_op op)
{
    static const Fedra__Op ops[] = {FEDRA__OP__OP_EQ, FEDRA__OP__OP_NE, FEDRA__OP__OP_LT,
        FEDRA__OP__OP_LE, FEDRA__OP__OP_GT, FEDRA__OP__OP_GE, FEDRA__OP__OP_IN};
    return ops[op];
}

static void
fail(const char *what, const char *expr)
{
    fprintf(stderr, "fuzz_where: %s for expression '%s'\n", what, expr);
    abort();
}

static void
round_trip(const struct where *w, const char *expr)
{
    static uint8_t id[WIRE_QUERY_ID_LEN];
    char err[FEDRA_ERRLEN];
    Fedra__Filter *filters = xcalloc(w->nterms, sizeof *filters);
    Fedra__Filter **fp = xcalloc(w->nterms, sizeof *fp);
    for (size_t i = 0; i < w->nterms; i++) {
        fedra__filter__init(&filters[i]);
        filters[i].var = w->terms[i].var;
        filters[i].op = to_wire(w->terms[i].op);
        filters[i].n_values = w->terms[i].nvalues;
        filters[i].values = w->terms[i].values;
        fp[i] = &filters[i];
    }
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    Fedra__QueryBody q = FEDRA__QUERY_BODY__INIT;
    spec.kind = FEDRA__KIND__KIND_COUNT;
    spec.n_where = w->nterms;
    spec.where = fp;
    q.context = (char *)WIRE_QUERY_CONTEXT;
    q.query_id.data = id;
    q.query_id.len = sizeof id;
    q.analyst = (char *)"fuzz";
    q.spec = &spec;
    struct buf b = {0};
    wire_pack(&q.base, &b);
    Fedra__QueryBody *d = wire_query_decode(b.p, b.len, err);
    if (d == NULL) {
        fprintf(stderr, "fuzz_where: node refuses the packed query: %s\n", err);
        fail("parse/wire limits disagree", expr);
    }
    if (d->spec->n_where != w->nterms)
        fail("term count changed on the wire", expr);
    for (size_t i = 0; i < w->nterms; i++) {
        const Fedra__Filter *f = d->spec->where[i];
        if (strcmp(f->var, w->terms[i].var) != 0 || f->op != to_wire(w->terms[i].op) ||
            f->n_values != w->terms[i].nvalues)
            fail("term changed on the wire", expr);
        for (size_t j = 0; j < f->n_values; j++)
            if (strcmp(f->values[j], w->terms[i].values[j]) != 0)
                fail("value changed on the wire", expr);
    }
    wire_query_free(d);
    buf_release(&b);
    free(fp);
    free(filters);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[FEDRA_ERRLEN];
    char *expr = xmalloc(size + 1);
    memcpy(expr, data, size);
    expr[size] = 0;
    struct where w;
    memset(&w, 0, sizeof w);
    if (where_parse(expr, &w, err) == 0) {
        if (w.nterms > WHERE_MAX_TERMS)
            fail("too many terms accepted", expr);
        for (size_t i = 0; i < w.nterms; i++) {
            const struct where_term *t = &w.terms[i];
            if (t->var == NULL || t->var[0] == 0 || strlen(where_op_text(t->op)) == 0)
                fail("empty variable or operator", expr);
            if (t->nvalues == 0 || t->nvalues > WHERE_MAX_VALUES ||
                (t->op != WHERE_IN && t->nvalues != 1))
                fail("bad value count", expr);
            for (size_t j = 0; j < t->nvalues; j++)
                if (t->values[j] == NULL)
                    fail("NULL value", expr);
        }
        (void)where_check(&w, err);
        round_trip(&w, expr);
    } else if (strncmp(err, "column ", 7) != 0) {
        fail("syntax error without a column", expr);
    }
    where_release(&w);
    free(expr);
    return 0;
}
