/*
 * share - a node's masked share of a pooled answer; see share.h.
 */
#include "node/share.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/pool.h"
#include "certs/pki.h"
#include "lib/util.h"
#include "node/certcache.h"
#include "node/kind.h"
#include "node/patoms.h"

/* Put value x at position i, with its flags if it has them (see share.h). */
static void
put(uint64_t *out, const struct layout *L, size_t i, uint64_t x,
    const struct disclose_policy *pol)
{
    out[i] += x;
    if (i >= L->nflag)
        return;
    uint64_t v = out[i];
    out[layout_vector_off(L, LAYOUT_CONTRIB) + i] = v > 0;
    out[layout_vector_off(L, LAYOUT_SMALL) + i] = disclose_suppress(pol, v);
}

/* The layout cell of a result's level texts; -1 with err if one is not in the catalogue. */
static long
cell_of(const struct layout *L, char *const *levels, size_t n, char *err)
{
    uint32_t idx[WIRE_MAX_GROUP_BY];
    if (n != L->nvars)
        return errf(err, "a cell has %zu levels for %zu grouping variables", n, L->nvars);
    for (size_t k = 0; k < n; k++) {
        int x = layout_level(L, k, levels[k]);
        if (x < 0)
            return errf(err, "level '%s' of '%s' is not in the catalogue", levels[k],
                L->var[k]->name);
        idx[k] = (uint32_t)x;
    }
    return (long)layout_cell(L, idx);
}

int
share_fill_count(const struct layout *L, const Fedra__CountResult *count,
    const struct disclose_policy *pol, uint64_t *out, char *err)
{
    memset(out, 0, layout_elems(L) * sizeof *out);
    for (size_t i = 0; i < count->n_cells; i++) {
        const Fedra__Cell *c = count->cells[i];
        long at = cell_of(L, c->levels, c->n_levels, err);
        if (at < 0)
            return -1;
        put(out, L, (size_t)at, c->count, pol);
    }
    return 0;
}

int
share_fill_km(const struct layout *L, const Fedra__KmResult *km,
    const struct disclose_policy *pol, uint64_t *out, char *err)
{
    memset(out, 0, layout_elems(L) * sizeof *out);
    for (size_t s = 0; s < km->n_strata; s++) {
        const Fedra__LifeTable *t = km->strata[s];
        long at = cell_of(L, t->levels, t->n_levels, err);
        if (at < 0)
            return -1;
        put(out, L, layout_surv_n(L, (size_t)at), t->n, pol);
        for (size_t r = 0; r < t->n_time; r++) {
            long b = layout_bin(L, t->time[r]);
            if (b < 0)
                return errf(err, "time %d is not on the %u-day grid within the pooled "
                    "horizon of %d days", t->time[r], L->grid, LAYOUT_HORIZON_DAYS);
            if (t->events[r] > LAYOUT_LANE_MAX || t->censored[r] > LAYOUT_LANE_MAX)
                return errf(err, "more than %llu events or censorings at one time",
                    (unsigned long long)LAYOUT_LANE_MAX);
            put(out, L, layout_surv_bin(L, (size_t)at, (size_t)b),
                layout_bin_pack(t->events[r], t->censored[r]), pol);
            if (L->competing && r < t->n_competing)
                put(out, L, layout_surv_competing(L, (size_t)at, (size_t)b),
                    t->competing[r], pol);
        }
    }
    return 0;
}

int
share_roster(const struct pki_trust *trust, struct certcache *cc, struct mask_cache *mc,
    const Fedra__QueryBody *q, uint32_t min,
    const uint8_t sk[MASK_KEY_LEN], const uint8_t pk[MASK_KEY_LEN],
    const uint8_t qhash[WIRE_HASH_LEN], int64_t now, struct mask_node **out, char *err)
{
    const Fedra__QuerySpec *spec = q->spec;
    *out = NULL;
    if (q->n_audience < min)
        return errf(err, "a pooled result needs at least %u participants, not %zu", min,
            q->n_audience);
    if (spec->n_roster != q->n_audience)
        return errf(err, "the roster has %zu certificates for %zu participants",
            spec->n_roster, q->n_audience);
    uint8_t (*keys)[MASK_KEY_LEN] = xcalloc(spec->n_roster + 1, sizeof *keys);
    int rc = -1;
    for (size_t i = 0; i < spec->n_roster; i++) {
        const struct pki_cert *c = NULL;
        struct pki_cert *own = NULL;
        char why[FEDRA_ERRLEN], claimed[PKI_MAX_NAME + 1];
        /* The node's cache of verified node certificates: a roster costs its checks once. */
        int bad = cc != NULL
            ? certcache_verify(cc, trust, spec->roster[i].data, spec->roster[i].len, NULL, NULL,
                  0, PKI_ROLE_NODE, now, &c, claimed, why) != PKI_OK
            : pki_cert_from_der(spec->roster[i].data, spec->roster[i].len, &own, why) != 0 ||
                  pki_verify(trust, (c = own), PKI_ROLE_NODE, now, why) != PKI_OK;
        if (!bad && pki_cert_curve_key(c, keys[i]) != 0) {
            bad = 1;
            snprintf(why, sizeof why, "it binds no transport key");
        }
        if (bad) {
            errf(err, "roster certificate of '%s' is not usable: %s", q->audience[i], why);
            pki_cert_free(own);
            goto done;
        }
        int named = strcmp(pki_cert_name(c), q->audience[i]) == 0;
        pki_cert_free(own);
        if (!named) {
            errf(err, "roster certificate %zu is not the certificate of '%s'", i + 1,
                q->audience[i]);
            goto done;
        }
    }
    rc = mask_node_new_kept(out, mc, sk, pk, (const uint8_t (*)[MASK_KEY_LEN])keys,
        spec->n_roster, qhash, err);
done:
    free(keys);
    return rc;
}

int
share_mask(const struct mask_node *m, const struct layout *L, uint64_t *v, char *err)
{
    for (int k = 0; k < LAYOUT_VECTORS; k++)
        if (mask_apply_counts(m, layout_vector_label(k), v + layout_vector_off(L, k),
                layout_vector_len(L, k), err) != 0)
            return -1;
    return 0;
}

int
share_atoms(const struct node_kind_ctx *ctx, const struct share_policy *sp,
    const Fedra__QueryBody *q, const struct pki_trust *trust, const struct mask_node *m,
    Fedra__PoolShare *share, struct buf *masked, char *err)
{
    uint64_t *a = NULL;
    size_t n = 0;
    if (patoms_count_kept(sp->atoms, ctx->snap, sp->self != NULL ? sp->self : "", trust,
            sp->certs, sp->history, sp->nhistory, q, &a, &n, err) != 0)
        return -1;
    int rc = mask_apply_counts(m, PATOMS_LABEL, a, n, err);
    if (rc == 0) {
        mask_pack_counts(a, n, buf_extend(masked, n * MASK_COUNT_LEN));
        share->atoms = n;
    }
    free(a);
    return rc;
}

int
share_answer(const struct node_kind_ctx *ctx, const struct share_policy *sp,
    const Fedra__QueryBody *q, const struct pki_trust *trust,
    const uint8_t sk[MASK_KEY_LEN], const uint8_t pk[MASK_KEY_LEN],
    const uint8_t qhash[WIRE_HASH_LEN], int64_t now, Fedra__PoolShare *share,
    uint8_t hash[WIRE_HASH_LEN], struct buf *masked, char *err)
{
    const Fedra__QuerySpec *spec = q->spec;
    const struct disclose_policy *pol = sp->pol;
    const struct node_kind *k = node_kind_get(spec->kind);
    int32_t grid = 0;
    if (k == NULL)
        return errf(err, "unknown kind of query");
    if (spec->kind == FEDRA__KIND__KIND_KM || spec->kind == FEDRA__KIND__KIND_LOGRANK ||
        spec->kind == FEDRA__KIND__KIND_CIF) {
        if (kind_time_grid(pol, spec, &grid, err) != 0)
            return -1;
        if (grid == 0)
            return errf(err, "pooled survival needs a time grid (exact times would make the "
                "pooled layout depend on the data)");
    }
    struct layout L;
    if (layout_make(spec, (uint32_t)grid, &L, err) != 0)
        return -1;
    struct mask_node *m = NULL;
    if (share_roster(trust, sp->certs, sp->masks, q, sp->min_participants, sk, pk, qhash, now,
            &m, err) != 0)
        return -1;
    struct node_answer ans = {0};
    struct node_kind_ctx c = *ctx;
    c.policy = pol;
    uint64_t *v = NULL;
    int rc = -1;
    if ((k->admit != NULL && k->admit(pol, spec, err) != 0) || k->execute(&c, spec, &ans, err) != 0)
        goto done;
    if (ans.late[0] != 0) {
        errf(err, "%s", ans.late);
        goto done;
    }
    Fedra__ResponseBody tmp = FEDRA__RESPONSE_BODY__INIT;
    k->result(&ans, &tmp);
    size_t elems = layout_elems(&L);
    v = xcalloc(elems, sizeof *v);
    if ((L.kind == LAYOUT_COUNT ? share_fill_count(&L, tmp.count, pol, v, err)
                                : share_fill_km(&L, tmp.km, pol, v, err)) != 0 ||
        share_mask(m, &L, v, err) != 0)
        goto done;
    size_t start = masked->len;
    fedra__pool_share__init(share);
    mask_pack_counts(v, elems, buf_extend(masked, elems * MASK_COUNT_LEN));
    if (share_atoms(&c, sp, q, trust, m, share, masked, err) != 0)
        goto done;
    pki_sha256(masked->p + start, masked->len - start, hash);
    share->masked_hash.data = hash;
    share->masked_hash.len = WIRE_HASH_LEN;
    share->positions = L.npos;
    share->min_cell = pol->min_cell;
    share->min_sites = sp->min_sites;
    share->grid_days = (uint32_t)grid;
    share->min_events_per_param = pol->min_events_per_param;
    rc = 0;
done:
    k->free_answer(&ans);
    mask_node_free(m);
    free(v);
    return rc;
}

void
share_pack_answer(const Fedra__PoolShare *sh, const uint8_t *response, size_t rlen,
    const uint8_t *masked, size_t mlen, struct buf *out)
{
    Fedra__PoolAnswer pa = FEDRA__POOL_ANSWER__INIT;
    pa.response.data = (uint8_t *)response;
    pa.response.len = rlen;
    pa.masked.data = (uint8_t *)masked;
    pa.masked.len = mlen;
    if (mlen > 0 && sh->round > 0 && sh->atoms > 0 && mlen > sh->positions * MASK_ELEM_LEN) {
        pa.masked.len = sh->positions * MASK_ELEM_LEN;
        pa.atoms.data = (uint8_t *)masked + pa.masked.len;
        pa.atoms.len = mlen - pa.masked.len;
    }
    wire_pack(&pa.base, out);
}
