/*
 * fuzz_atoms - the pooled auditor's class layout (proto/atoms.h) over the
 * pooled queries an analyst may sign: the hub lays out its history and a
 * new pooled query, a node the history the hub sends (each verified as an
 * analyst's, so its spec is the analyst's choice, within the wire's caps).
 *
 * The input is up to PAUDIT_MAX_QUERIES queries, each one byte of audience
 * (bit i names node "Ni", 8 nodes), a 2-byte big-endian length and that
 * many bytes of QuerySpec.  Each spec is put into a QueryBody with a valid
 * context, id, times and analyst, packed and decoded with the node's
 * wire_query_decode, so that only what the wire accepts reaches the layout,
 * as in the real path.  The queries that decode and are pooled are laid
 * out (atoms_plan, then atoms_layout); if the layout is made, every atom's
 * digit in every query must be below that query's radix, every variable
 * dimension's classes must cover its values, and every roster name's class
 * must exist (abort = reported crash).  A layout past PAUDIT_MAX_ATOMS is
 * refused, never made.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/atoms.h"
#include "proto/wire.h"
#include "tests/fuzz/fuzz_common.h"

#define FUZZ_ATOMS_NODES 8

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_atoms: %s\n", what);
    abort();
}

/* Spec bytes with audience bits into a decoded QueryBody, or NULL. */
static Fedra__QueryBody *
body(uint8_t bits, const uint8_t *spec, size_t len)
{
    static char names[FUZZ_ATOMS_NODES][4];
    static char *aud[FUZZ_ATOMS_NODES];
    static uint8_t id[WIRE_QUERY_ID_LEN];
    Fedra__QuerySpec *s = fedra__query_spec__unpack(NULL, len, spec);
    if (s == NULL)
        return NULL;
    Fedra__QueryBody b = FEDRA__QUERY_BODY__INIT;
    size_t n = 0;
    for (int i = 0; i < FUZZ_ATOMS_NODES; i++)
        if (bits >> i & 1) {
            snprintf(names[i], sizeof names[i], "N%d", i + 1);
            aud[n++] = names[i];
        }
    b.context = (char *)WIRE_QUERY_CONTEXT;
    b.query_id.data = id;
    b.query_id.len = sizeof id;
    b.issued_at_ms = 1790000000000;
    b.expires_at_ms = b.issued_at_ms + 60000;
    b.audience = aud;
    b.n_audience = n;
    b.analyst = (char *)"analyst";
    b.spec = s;
    struct buf p = {0};
    wire_pack(&b.base, &p);
    fedra__query_spec__free_unpacked(s, NULL);
    char err[FEDRA_ERRLEN];
    Fedra__QueryBody *q = wire_query_decode(p.p, p.len, err);
    buf_release(&p);
    if (q != NULL && (q->spec == NULL || !q->spec->pooled)) {
        wire_query_free(q);
        q = NULL;
    }
    return q;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Fedra__QueryBody *q[PAUDIT_MAX_QUERIES];
    size_t nq = 0, at = 0;
    while (nq < PAUDIT_MAX_QUERIES && at + 3 <= size) {
        uint8_t bits = data[at];
        size_t len = (size_t)data[at + 1] << 8 | data[at + 2];
        at += 3;
        if (len > size - at)
            len = size - at;
        if ((q[nq] = body(bits, data + at, len)) != NULL)
            nq++;
        at += len;
    }
    if (nq == 0)
        return 0;
    const Fedra__QueryBody *plan[PAUDIT_MAX_QUERIES];
    size_t where, np = atoms_plan((const Fedra__QueryBody *const *)q, nq - 1, q[nq - 1], plan,
        &where);
    struct atoms_layout X;
    char err[FEDRA_ERRLEN];
    if (atoms_layout(plan, np, &X, err) == 0) {
        if (X.A.natoms == 0 || X.A.natoms > PAUDIT_MAX_ATOMS || X.A.nq != np)
            fail("a layout outside its bounds");
        for (size_t k = 0; k < np; k++)
            for (size_t a = 0; a < X.A.natoms; a++)
                if (X.digit[k * X.A.natoms + a] >= X.A.radix[k])
                    fail("a digit past its query's radix");
        for (size_t d = 0; d < X.ndim; d++) {
            const struct atoms_dim *D = &X.dim[d];
            for (uint32_t x = 0; D->kind != ATOMS_ROSTER && x < D->ndom; x++)
                if (D->class_of[x] >= D->nclass)
                    fail("a value without a class");
        }
        for (size_t i = 0; i < X.nnames; i++)
            if (atoms_roster_class(&X, X.names[i]) < 0 ||
                (uint32_t)atoms_roster_class(&X, X.names[i]) >= X.dim[0].nclass)
                fail("a roster name without a class");
        atoms_layout_release(&X);
    }
    for (size_t k = 0; k < nq; k++)
        wire_query_free(q[k]);
    return 0;
}
