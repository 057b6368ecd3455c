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
    /* The last counts sent, and what they were counted over (patoms.h). */
    char data[sizeof ((struct store_meta *)0)->hash];
    size_t nrows;
    uint8_t key[WIRE_HASH_LEN];
    uint64_t *v;
    size_t natoms;
};

struct patoms_cache *
patoms_cache_new(void)
{
    return xcalloc(1, sizeof(struct patoms_cache));
}

void
patoms_cache_free(struct patoms_cache *c)
{
    if (c != NULL)
        free(c->v);
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

/*
 * What a node's counts are a function of, besides its snapshot: its name, the
 * history Envelopes, and the new query's sets when it has a digit of its own (its
 * spec and roster: not its id or times, so that a question asked again
 * that was not released is counted once).
 */
static void
plan_key(const char *self, const ProtobufCBinaryData *hist, size_t nhist,
    const Fedra__QueryBody *cur, uint8_t key[WIRE_HASH_LEN])
{
    struct buf b = {0};
    buf_append(&b, self, strlen(self) + 1);
    for (size_t i = 0; i < nhist; i++) {
        uint8_t h[WIRE_HASH_LEN];
        pki_sha256(hist[i].data, hist[i].len, h);
        buf_append(&b, h, sizeof h);
    }
    if (cur != NULL) {
        size_t n = fedra__query_spec__get_packed_size(cur->spec);
        fedra__query_spec__pack(cur->spec, buf_extend(&b, n));
        for (size_t i = 0; i < cur->n_audience; i++)
            buf_append(&b, cur->audience[i], strlen(cur->audience[i]) + 1);
    }
    pki_sha256(b.p != NULL ? b.p : (const uint8_t *)"", b.len, key);
    buf_release(&b);
}

/*
 * Each row's class in every dimension of X, as one atom number, into atom
 * (snap->n).  -1 with err on a value the catalogue lacks.
 */
static int
rows_atoms(const struct snapshot *snap, const char *self, const struct atoms_layout *X,
    uint32_t *atom, char *err)
{
    memset(atom, 0, snap->n * sizeof *atom);
    for (size_t d = 0; d < X->ndim; d++) {
        const struct atoms_dim *D = &X->dim[d];
        if (D->kind == ATOMS_ROSTER) {
            long c = atoms_roster_class(X, self);
            if (c < 0)
                return errf(err, "no pooled query's roster names this node");
            for (size_t i = 0; i < snap->n; i++)
                atom[i] += (uint32_t)((size_t)c * D->stride);
            continue;
        }
        if (D->kind == ATOMS_EVENT) {
            const uint8_t *e = D->efs ? snap->efs_event : snap->os_event;
            for (size_t i = 0; i < snap->n; i++)
                atom[i] += (uint32_t)((e[i] != 0) * D->stride);
            continue;
        }
        /* A variable: its codes here to classes; a missing value to the last class. */
        enum var_id v = D->var->id;
        uint32_t *cls = xcalloc(snap->ncodes[v] + 1, sizeof *cls);
        for (uint32_t c = 0; c < snap->ncodes[v]; c++) {
            char tmp[16];
            long x = atoms_value(X, D, snapshot_level(snap, v, (uint16_t)c, tmp));
            if (x < 0 || (uint32_t)x >= D->ndom) {
                free(cls);
                return errf(err, "a value of '%s' at this node is not in the catalogue",
                    D->var->name);
            }
            cls[c] = D->class_of[x];
        }
        /* A missing value: the last class, if the variable can miss one (atoms.h). */
        uint32_t miss = D->rep[D->nclass - 1] == D->ndom ? D->nclass - 1 : UINT32_MAX;
        for (size_t i = 0; i < snap->n; i++) {
            uint16_t c = snap->code[v][i];
            uint32_t k = c == SNAP_MISSING ? miss : c < snap->ncodes[v] ? cls[c] : UINT32_MAX;
            if (k == UINT32_MAX) {
                free(cls);
                return errf(err, "a value of '%s' at this node is missing or out of range, "
                    "which the pooled audit's layout has no class for", D->var->name);
            }
            atom[i] += (uint32_t)(k * D->stride);
        }
        free(cls);
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
    Fedra__QueryBody *h[PAUDIT_MAX_QUERIES] = {0};
    uint8_t hh[WIRE_HASH_LEN];
    const Fedra__QueryBody *q[PAUDIT_MAX_QUERIES];
    struct atoms_layout X;
    uint32_t *atom = NULL;
    uint64_t *v = NULL;
    size_t nv = 0, nq = 0, at;
    int rc = -1, laid = 0;
    for (; nv < nhist; nv++) {
        pki_sha256(hist[nv].data, hist[nv].len, hh);
        if (verify_one(pc, trust, cc, &hist[nv], hh, nv, &h[nv], err) != 0)
            goto done;
    }
    /* The same sets as a history entry: no digit of its own (proto/atoms.h). */
    nq = atoms_plan((const Fedra__QueryBody *const *)h, nhist, cur, q, &at);
    uint8_t key[WIRE_HASH_LEN];
    plan_key(self, hist, nhist, nq > nhist ? cur : NULL, key);
    if (pc != NULL && pc->v != NULL && pc->nrows == snap->n &&
        strcmp(pc->data, snap->meta.hash) == 0 && memcmp(pc->key, key, sizeof key) == 0) {
        *out = xcalloc(pc->natoms, sizeof **out);
        memcpy(*out, pc->v, pc->natoms * sizeof **out);
        *natoms = pc->natoms;
        rc = 0;
        goto done;
    }
    if (atoms_layout(q, nq, &X, err) != 0)
        goto done;
    laid = 1;
    atom = xcalloc(snap->n + 1, sizeof *atom);
    if (rows_atoms(snap, self, &X, atom, err) != 0)
        goto done;
    /* Every row's digits, read as a query reads them, must be its atom's (patoms.h). */
    for (size_t k = 0; k < nq; k++) {
        struct digitizer dz;
        char why[FEDRA_ERRLEN];
        if (digitizer_make(snap, self, q[k], &dz, why) != 0) {
            if (k < nhist)
                errf(err, "pooled history query %zu: %s", k + 1, why);
            else
                errf(err, "%s", why);
            goto done;
        }
        const uint32_t *want = X.digit + k * X.A.natoms;
        long bad = 0;
        for (size_t i = 0; i < snap->n && bad == 0; i++) {
            long x = digit(snap, &dz, i);
            bad = x < 0 ? -1 : (uint32_t)x != want[atom[i]] ? 1 : 0;
        }
        digitizer_release(&dz);
        if (bad < 0) {
            unknown_level(err, k);
            goto done;
        }
        if (bad > 0) {
            errf(err, "the pooled audit's atoms do not describe the sets of pooled query %zu "
                "at this node (a defect): refused (fail closed)", k + 1);
            goto done;
        }
    }
    /* Each row at its canonical atom: the hub sees only the sets' intersections. */
    uint32_t *canon = xcalloc(X.A.natoms, sizeof *canon);
    atoms_canonical(&X, canon);
    v = xcalloc(X.A.natoms, sizeof *v);
    for (size_t i = 0; i < snap->n; i++)
        v[canon[atom[i]]] += 1;
    free(canon);
    /* Rows in no set: not sent (patoms.h). */
    for (size_t a = 0; a < X.A.natoms; a++) {
        int any = 0;
        for (size_t k = 0; k < nq && !any; k++)
            any = X.digit[k * X.A.natoms + a] != 0;
        if (!any)
            v[a] = 0;
    }
    if (pc != NULL) {
        free(pc->v);
        pc->v = xcalloc(X.A.natoms, sizeof *pc->v);
        memcpy(pc->v, v, X.A.natoms * sizeof *v);
        pc->natoms = X.A.natoms;
        pc->nrows = snap->n;
        snprintf(pc->data, sizeof pc->data, "%s", snap->meta.hash);
        memcpy(pc->key, key, sizeof key);
    }
    *out = v;
    v = NULL;
    *natoms = X.A.natoms;
    rc = 0;
done:
    free(v);
    free(atom);
    if (laid)
        atoms_layout_release(&X);
    for (size_t k = 0; k < nv; k++)
        wire_query_free(h[k]);
    return rc;
}
