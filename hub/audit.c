/*
 * audit - the pooled auditor of one route at the hub; see audit.h.
 */
#include "hub/audit.h"

#include <stdlib.h>
#include <string.h>

#include "proto/atoms.h"
#include "proto/poolmodel.h"

struct hubaudit {
    struct phist *hist;             /* the history it audits against (a copy) */
    Fedra__QueryBody *q[PAUDIT_MAX_QUERIES];    /* the history's queries, decoded */
    size_t nq;
    struct atoms_layout X;          /* the atoms of the history and this query */
    int laid;
    uint64_t *atoms;                /* sum of the nodes' rows per atom (the count ring) */
    size_t at;                      /* the auditor's query with this one's sets (atoms_plan) */
};

void
hubaudit_free(struct hubaudit *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->nq; i++)
        wire_query_free(a->q[i]);
    phist_free(a->hist);
    if (a->laid)
        atoms_layout_release(&a->X);
    free(a->atoms);
    free(a);
}

int
hubaudit_open(struct hubaudit **out, const uint8_t *hist, size_t len,
    const Fedra__QueryBody *cur, char *err)
{
    char why[FEDRA_ERRLEN];
    struct hubaudit *a = xcalloc(1, sizeof *a);
    *out = NULL;
    if (phist_unpack(hist, len, &a->hist, why) != 0) {
        errf(err, "pooled audit: %s", why);
        goto bad;
    }
    for (; a->nq < phist_count(a->hist) && a->nq < PAUDIT_MAX_QUERIES; a->nq++) {
        size_t ql;
        const uint8_t *qb = phist_query(a->hist, a->nq, &ql);
        Fedra__Envelope *e = wire_envelope_decode(qb, ql, WIRE_MAX_QUERY, why);
        a->q[a->nq] = e ? wire_query_decode(e->body.data, e->body.len, why) : NULL;
        wire_envelope_free(e);
        if (a->q[a->nq] == NULL) {
            errf(err, "pooled history entry %zu: %s", a->nq + 1, why);
            goto bad;
        }
    }
    const Fedra__QueryBody *plan[PAUDIT_MAX_QUERIES];
    size_t nq = a->nq;
    size_t np = atoms_plan((const Fedra__QueryBody *const *)a->q, nq, cur, plan, &a->at);
    if (phist_count(a->hist) > nq || np > PHIST_MAX + (size_t)1 ||
        (a->at == nq && nq >= PHIST_MAX)) {
        errf(err, "the pooled history is full (%d released pooled results, PHIST_MAX): this "
            "hub releases no new pooled question (fail closed; docs/disclosure.md §8.7)",
            PHIST_MAX);
        goto bad;
    }
    if (atoms_layout(plan, np, &a->X, why) != 0) {
        errf(err, "this pooled query cannot be audited: %s; it is refused (fail closed)", why);
        goto bad;
    }
    a->laid = 1;
    a->atoms = xcalloc(a->X.A.natoms, sizeof *a->atoms);
    *out = a;
    return 0;
bad:
    hubaudit_free(a);
    return -1;
}

size_t
hubaudit_natoms(const struct hubaudit *a)
{
    return a->X.A.natoms;
}

size_t
hubaudit_at(const struct hubaudit *a)
{
    return a->at;
}

void
hubaudit_add(struct hubaudit *a, const uint8_t *masked)
{
    mask_add_packed_counts(a->atoms, masked, a->X.A.natoms);
}

int
hubaudit_fit_sets(const Fedra__QuerySpec *spec, uint32_t q, struct paudit_set **sets,
    size_t *n, unsigned char **in, char *err)
{
    struct poolmodel L;
    struct poolmodel_cells C;
    *sets = NULL;
    *in = NULL;
    *n = 0;
    if (poolmodel_make(spec, &L, err) != 0 || poolmodel_cells_make(&L, spec, &C, err) != 0)
        return -1;
    *in = xcalloc(C.nsets * C.ncells + 1, 1);
    *sets = xcalloc(C.nsets + 1, sizeof **sets);
    poolmodel_cells_sets(&C, *in);
    for (size_t j = 0; j < C.nsets; j++)
        (*sets)[j] = (struct paudit_set){q, 0, *in + j * C.ncells};
    *n = C.nsets;
    return 0;
}

int
hubaudit_decide(const struct hubaudit *a, const struct paudit_set *cand, size_t n,
    uint32_t min_cell, const uint8_t qhash[WIRE_HASH_LEN], unsigned char *kept, char *err)
{
    char why[FEDRA_ERRLEN];
    size_t nh = phist_count(a->hist), nhs = 0;
    struct paudit_set **fs = xcalloc(nh + 1, sizeof *fs);
    unsigned char **fin = xcalloc(nh + 1, sizeof *fin);
    size_t *fn = xcalloc(nh + 1, sizeof *fn);
    struct paudit_set *hs = NULL;
    uint64_t *size = xcalloc(a->X.A.natoms, sizeof *size);
    int rc = -1;
    /* The history's sets: a table's released cells, a fit's unions. */
    for (size_t i = 0; i < nh; i++) {
        size_t c;
        phist_cells(a->hist, i, &c);
        if (atoms_is_model(a->q[i]->spec) &&
            hubaudit_fit_sets(a->q[i]->spec, (uint32_t)i, &fs[i], &c, &fin[i], why) != 0) {
            errf(err, "pooled history entry %zu: %s", i + 1, why);
            goto done;
        }
        fn[i] = c;
        nhs += c;
    }
    hs = xcalloc(nhs + 1, sizeof *hs);
    nhs = 0;
    for (size_t i = 0; i < nh; i++) {
        size_t c;
        const uint32_t *cells = phist_cells(a->hist, i, &c);
        for (size_t j = 0; j < fn[i]; j++)
            hs[nhs++] = fs[i] != NULL ? fs[i][j] : (struct paudit_set){(uint32_t)i, cells[j], NULL};
    }
    for (size_t i = 0; i < a->X.A.natoms; i++) {
        if (a->atoms[i] > PAUDIT_MAX_POOLED_ROWS) {
            errf(err, "the pooled atom sizes are not counts: a node sent a wrong share; "
                "nothing is released");
            goto done;
        }
        size[i] = a->atoms[i];
    }
    uint64_t seed;
    memcpy(&seed, qhash, sizeof seed);
    int stale = 0;
    if (paudit_decide(&a->X.A, size, min_cell > 0 ? min_cell : 1, hs, nhs, cand, n, kept,
            &stale, seed, why) < 0) {
        errf(err, "the pooled auditor cannot decide (%s); nothing is released", why);
        goto done;
    }
    rc = 0;
done:
    for (size_t i = 0; i < nh; i++) {
        free(fs[i]);
        free(fin[i]);
    }
    free(fs);
    free(fin);
    free(fn);
    free(hs);
    free(size);
    return rc;
}
