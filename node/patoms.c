/*
 * patoms - a node's rows per pooled-audit atom; see patoms.h.
 */
#include "node/patoms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs/pki.h"
#include "lib/util.h"
#include "node/certcache.h"
#include "node/kind_model.h"
#include "node/select.h"
#include "node/snapshot.h"
#include "proto/atoms.h"
#include "proto/poolmodel.h"

struct patoms_cache {
    uint8_t sig[PATOMS_CACHE_SIGS][WIRE_HASH_LEN];  /* Envelopes whose signature verified */
    size_t nsig, next;
    char data[sizeof ((struct store_meta *)0)->hash];   /* the snapshot row[] is for */
    size_t nrows;
    uint8_t hist[PAUDIT_MAX_QUERIES][WIRE_HASH_LEN];    /* the history row[] is over */
    size_t nhist;
    uint32_t *row;                  /* per row: its atom over hist[0 .. nhist) */
};

struct patoms_cache *
patoms_cache_new(void)
{
    return xcalloc(1, sizeof(struct patoms_cache));
}

void
patoms_cache_free(struct patoms_cache *c)
{
    if (c == NULL)
        return;
    free(c->row);
    free(c);
}

static int
sig_known(const struct patoms_cache *c, const uint8_t h[WIRE_HASH_LEN])
{
    for (size_t i = 0; c != NULL && i < c->nsig; i++)
        if (memcmp(c->sig[i], h, WIRE_HASH_LEN) == 0)
            return 1;
    return 0;
}

static void
sig_keep(struct patoms_cache *c, const uint8_t h[WIRE_HASH_LEN])
{
    if (c == NULL || sig_known(c, h))
        return;
    size_t at = c->nsig < PATOMS_CACHE_SIGS ? c->nsig++ : c->next++ % PATOMS_CACHE_SIGS;
    memcpy(c->sig[at], h, WIRE_HASH_LEN);
}

/*
 * History query i: a pooled query some analyst really signed.  Its body into
 * *out; h is the SHA-256 of its bytes, whose signature pc may know verified.
 */
static int
verify_one(struct patoms_cache *pc, const struct pki_trust *trust, struct certcache *cc,
    const ProtobufCBinaryData *b, const uint8_t h[WIRE_HASH_LEN], size_t i,
    Fedra__QueryBody **out, char *err)
{
    char why[FEDRA_ERRLEN], claimed[PKI_MAX_NAME + 1];
    const struct pki_cert *sc = NULL;
    *out = NULL;
    Fedra__Envelope *e = wire_envelope_decode(b->data, b->len, WIRE_MAX_QUERY, why);
    if (e == NULL)
        return errf(err, "pooled history query %zu: %s", i + 1, why);
    Fedra__QueryBody *q = wire_query_decode(e->body.data, e->body.len, why);
    int rc = -1;
    if (q == NULL) {
        errf(err, "pooled history query %zu: %s", i + 1, why);
        goto done;
    }
    const uint8_t *cd[PKI_MAX_CHAIN];
    size_t cl[PKI_MAX_CHAIN];
    for (size_t k = 0; k < e->n_chain && k < PKI_MAX_CHAIN; k++) {
        cd[k] = e->chain[k].data;
        cl[k] = e->chain[k].len;
    }
    /* Valid when it was issued: an analyst certificate may have expired since. */
    if (certcache_verify(cc, trust, e->signer_cert.data, e->signer_cert.len, cd, cl,
            e->n_chain < PKI_MAX_CHAIN ? e->n_chain : PKI_MAX_CHAIN, PKI_ROLE_ANALYST,
            q->issued_at_ms / 1000, &sc, claimed, why) != PKI_OK) {
        errf(err, "pooled history query %zu: its signer: %s", i + 1, why);
        goto done;
    }
    if ((!sig_known(pc, h) && pki_check_sig(sc, e->body.data, e->body.len, e->signature.data,
             e->signature.len) != 0) || strcmp(q->analyst, pki_cert_name(sc)) != 0) {
        errf(err, "pooled history query %zu is not signed by the analyst it names", i + 1);
        goto done;
    }
    sig_keep(pc, h);
    if (q->spec == NULL || !q->spec->pooled) {
        errf(err, "pooled history query %zu is not a pooled query", i + 1);
        goto done;
    }
    *out = q;
    q = NULL;
    rc = 0;
done:
    wire_query_free(q);
    wire_envelope_free(e);
    return rc;
}

/* How one query's digits are read off a row. */
struct digitizer {
    int member;                         /* this node is in the query's roster */
    struct snap_filter f;
    struct layout L;                    /* the query's cells (proto/atoms.h) */
    int32_t *level[WIRE_MAX_GROUP_BY];  /* per grouping variable: code -> level index, -1 */
    uint32_t *cell;                     /* a fit: each row's cell (kind_model_audit_cells) */
};

static void
digitizer_release(struct digitizer *d)
{
    if (d->member)
        snapshot_filter_release(&d->f);
    for (size_t k = 0; k < WIRE_MAX_GROUP_BY; k++)
        free(d->level[k]);
    free(d->cell);
}

static int
digitizer_make(const struct snapshot *snap, const char *self, const Fedra__QueryBody *q,
    struct digitizer *d, char *err)
{
    memset(d, 0, sizeof *d);
    int model = atoms_is_model(q->spec);
    if (!model && atoms_cells(q->spec, &d->L, err) != 0)
        return -1;
    if (!atoms_in_roster(q, self))
        return 0;                       /* its rows are in none of q's sets */
    if (select_compile(snap, q->spec, &d->f, err) != 0)
        return -1;
    d->member = 1;
    if (model) {                        /* a fit: its cells (proto/poolmodel.h) */
        struct poolmodel L;
        struct poolmodel_cells C;
        d->cell = xcalloc(snap->n + 1, sizeof *d->cell);
        if (poolmodel_make(q->spec, &L, err) != 0 ||
            poolmodel_cells_make(&L, q->spec, &C, err) != 0 ||
            kind_model_audit_cells(snap, q->spec, &C, d->cell, err) != 0) {
            digitizer_release(d);
            return -1;
        }
        return 0;
    }
    for (size_t k = 0; k < d->L.nvars; k++) {
        enum var_id v = d->L.var[k]->id;
        d->level[k] = xcalloc(snap->ncodes[v] + 1, sizeof *d->level[k]);
        for (uint32_t c = 0; c < snap->ncodes[v]; c++) {
            char tmp[16];
            d->level[k][c] = layout_level(&d->L, k, snapshot_level(snap, v, (uint16_t)c, tmp));
        }
    }
    return 0;
}

/* The error of a row whose level of a grouping variable of query q is unknown. */
static int
unknown_level(char *err, size_t q)
{
    return errf(err, "a level of a grouping variable of pooled query %zu is not in the "
        "catalogue", q + 1);
}

/* Row i's digit: 0, or its cell + 1; -1 if a level is not in the catalogue. */
static long
digit(const struct snapshot *snap, const struct digitizer *d, size_t i)
{
    if (!d->member || !snapshot_row_passes(snap, &d->f, i))
        return 0;
    if (d->cell != NULL)
        return (long)d->cell[i] + 1;
    uint32_t idx[WIRE_MAX_GROUP_BY];
    for (size_t k = 0; k < d->L.nvars; k++) {
        enum var_id v = d->L.var[k]->id;
        uint16_t c = snap->code[v][i];
        if (c == SNAP_MISSING)
            return 0;                   /* left out of every cell, as count and km do */
        if (c >= snap->ncodes[v] || d->level[k][c] < 0)
            return -1;
        idx[k] = (uint32_t)d->level[k][c];
    }
    return (long)layout_cell(&d->L, idx) + 1;
}

/* How many history entries pc's rows already cover (0: none, or another history). */
static size_t
rows_have(const struct patoms_cache *pc, const struct snapshot *snap,
    const uint8_t (*hh)[WIRE_HASH_LEN], size_t nhist)
{
    size_t have = 0;
    if (pc == NULL || pc->row == NULL || pc->nrows != snap->n ||
        strcmp(pc->data, snap->meta.hash) != 0 || pc->nhist > nhist)
        return 0;
    while (have < pc->nhist && memcmp(pc->hist[have], hh[have], WIRE_HASH_LEN) == 0)
        have++;
    return have < pc->nhist ? 0 : have;     /* another history: start again */
}

/*
 * pc's atoms per row brought to the history h[0 .. nhist) (Envelope hashes
 * hh, radices A->radix): the kept rows, which cover its first `have` entries
 * (rows_have), extended by the entries they lack with digitizers dz[have ..
 * nhist), or made afresh when have is 0.  -1 with err on a level not in the
 * catalogue (pc is then emptied).
 */
static int
rows_bring(struct patoms_cache *pc, const struct snapshot *snap, const struct digitizer *dz,
    const uint8_t (*hh)[WIRE_HASH_LEN], size_t nhist, size_t have, const struct paudit_layout *A,
    char *err)
{
    if (pc->row == NULL || have == 0) {
        free(pc->row);
        pc->row = xcalloc(snap->n + 1, sizeof *pc->row);
        pc->nrows = snap->n;
        snprintf(pc->data, sizeof pc->data, "%s", snap->meta.hash);
        pc->nhist = 0;
        have = 0;
    }
    for (size_t k = have; k < nhist; k++) {
        for (size_t i = 0; i < snap->n; i++) {
            long x = digit(snap, &dz[k], i);
            if (x < 0) {
                free(pc->row);
                pc->row = NULL;
                pc->nhist = 0;
                return unknown_level(err, k);
            }
            /* Below PAUDIT_MAX_ATOMS: atoms_layout bounded the history's atoms. */
            pc->row[i] = (uint32_t)(pc->row[i] * A->radix[k] + (uint32_t)x);
        }
        memcpy(pc->hist[k], hh[k], WIRE_HASH_LEN);
        pc->nhist = k + 1;
    }
    return 0;
}

int
patoms_count(const struct snapshot *snap, const char *self, const struct pki_trust *trust,
    struct certcache *cc, const ProtobufCBinaryData *hist, size_t nhist,
    const Fedra__QueryBody *cur, uint64_t **out, size_t *natoms, char *err)
{
    return patoms_count_kept(NULL, snap, self, trust, cc, hist, nhist, cur, out, natoms, err);
}

int
patoms_count_kept(struct patoms_cache *pc, const struct snapshot *snap, const char *self,
    const struct pki_trust *trust, struct certcache *cc, const ProtobufCBinaryData *hist,
    size_t nhist, const Fedra__QueryBody *cur, uint64_t **out, size_t *natoms, char *err)
{
    *out = NULL;
    *natoms = 0;
    if (nhist + 1 > PAUDIT_MAX_QUERIES)
        return errf(err, "the pooled history holds %zu queries (at most %d)", nhist,
            PAUDIT_MAX_QUERIES - 1);
    if (pc != NULL && snap->n > PATOMS_CACHE_ROWS)
        pc = NULL;                      /* too large to keep: counted afresh */
    Fedra__QueryBody *h[PAUDIT_MAX_QUERIES];
    uint8_t hh[PAUDIT_MAX_QUERIES][WIRE_HASH_LEN];
    const Fedra__QueryBody *q[PAUDIT_MAX_QUERIES];
    struct digitizer *dz = xcalloc(nhist + 1, sizeof *dz);
    size_t nv = 0, nq = 0, first = 0, made = 0, at;
    int rc = -1;
    for (; nv < nhist; nv++) {
        pki_sha256(hist[nv].data, hist[nv].len, hh[nv]);
        if (verify_one(pc, trust, cc, &hist[nv], hh[nv], nv, &h[nv], err) != 0)
            goto done;
    }
    /* The same sets as a history entry: no digit of its own (proto/atoms.h). */
    nq = atoms_plan((const Fedra__QueryBody *const *)h, nhist, cur, q, &at);
    struct paudit_layout A;
    if (atoms_layout(q, nq, &A, err) != 0)
        goto done;
    /* With the rows' atoms kept over the first `first` history queries, their digits
     * are not read again: only the queries after them need a digitizer. */
    first = made = rows_have(pc, snap, (const uint8_t (*)[WIRE_HASH_LEN])hh, nhist);
    for (; made < nq; made++)
        if (digitizer_make(snap, self, q[made], &dz[made], err) != 0) {
            if (made < nhist) {
                char why[FEDRA_ERRLEN];
                snprintf(why, sizeof why, "%s", err);
                errf(err, "pooled history query %zu: %s", made + 1, why);
            }
            goto done;
        }
    uint64_t *v = xcalloc(A.natoms, sizeof *v);
    if (pc != NULL) {
        if (rows_bring(pc, snap, dz, (const uint8_t (*)[WIRE_HASH_LEN])hh, nhist, first, &A,
                err) != 0) {
            free(v);
            goto done;
        }
        /* The history's atom of each row, then the new query's digit if it has one. */
        for (size_t i = 0; i < snap->n; i++) {
            size_t a = pc->row[i];
            if (nq > nhist) {
                long x = digit(snap, &dz[nhist], i);
                if (x < 0) {
                    free(v);
                    unknown_level(err, nhist);
                    goto done;
                }
                a = a * A.radix[nhist] + (size_t)x;
            }
            v[a] += 1;
        }
    } else {
        for (size_t i = 0; i < snap->n; i++) {
            uint32_t d[PAUDIT_MAX_QUERIES];
            for (size_t k = 0; k < nq; k++) {
                long x = digit(snap, &dz[k], i);
                if (x < 0) {
                    free(v);
                    unknown_level(err, k);
                    goto done;
                }
                d[k] = (uint32_t)x;
            }
            v[paudit_atom(&A, d)] += 1;
        }
    }
    v[0] = 0;                           /* rows in no set: not sent (patoms.h) */
    *out = v;
    *natoms = A.natoms;
    rc = 0;
done:
    for (size_t k = first; k < made; k++)
        digitizer_release(&dz[k]);
    free(dz);
    for (size_t k = 0; k < nv; k++)
        wire_query_free(h[k]);
    return rc;
}
