/*
 * poolmodel - the fixed layout of a pooled model round; see poolmodel.h.
 */
#include "proto/poolmodel.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/paudit.h"
#include "lib/util.h"

/* Add v once if categorical; -1 with err if its levels are not a closed list. */
static int
add_var(struct poolmodel *L, const struct var_def *v, char *err)
{
    if (v == NULL || v->kind == VAR_INTEGER)
        return 0;
    for (size_t k = 0; k < L->nvars; k++)
        if (L->var[k] == v)
            return 0;
    if (v->levels == NULL || v->nlevels == 0)
        return errf(err, "'%s' has no fixed list of levels, so a model on it cannot be pooled",
            v->name);
    L->lev_at[L->nvars] = L->nlev;
    L->var[L->nvars++] = v;
    L->nlev += v->nlevels;
    return 0;
}

static int
add_named(struct poolmodel *L, const char *name, char *err)
{
    if (name == NULL || name[0] == 0)
        return 0;
    const struct var_def *v = vars_find(name);
    if (v == NULL)
        return errf(err, "unknown variable '%.32s'", name);
    return add_var(L, v, err);
}

int
poolmodel_make(const Fedra__QuerySpec *spec, struct poolmodel *L, char *err)
{
    memset(L, 0, sizeof *L);
    if (spec->kind != FEDRA__KIND__KIND_COX && spec->kind != FEDRA__KIND__KIND_GLM)
        return errf(err, "not a model");
    L->glm = spec->kind == FEDRA__KIND__KIND_GLM;
    if (spec->n_terms > WIRE_MAX_TERMS || (!L->glm && spec->n_terms == 0))
        return errf(err, "a model needs 1 to %d terms (%zu given)", WIRE_MAX_TERMS,
            spec->n_terms);
    L->p = spec->n_terms + (L->glm ? 1 : 0);
    for (size_t j = 0; j < spec->n_terms; j++) {
        if (spec->terms[j]->var[0] == 0)   /* (fuzz_atoms: var2 alone reached a NULL below) */
            return errf(err, "term %zu names no variable", j + 1);
        if (add_named(L, spec->terms[j]->var, err) != 0 ||
            add_named(L, spec->terms[j]->var2, err) != 0)
            return -1;
    }
    if (L->glm && (spec->outcome == NULL || add_named(L, spec->outcome->var, err) != 0))
        return spec->outcome == NULL ? errf(err, "a logistic model needs an outcome") : -1;
    if (!L->glm && add_named(L, spec->strata, err) != 0)
        return -1;
    for (size_t j = 0; j < spec->n_terms; j++) {
        const struct var_def *a = vars_find(spec->terms[j]->var);
        const struct var_def *b = spec->terms[j]->var2[0] ? vars_find(spec->terms[j]->var2) : NULL;
        if (b == NULL || a->kind == VAR_INTEGER || b->kind == VAR_INTEGER || a == b)
            continue;
        int dup = 0;
        for (size_t k = 0; k < L->npairs; k++)
            dup |= (L->pair[k][0] == a && L->pair[k][1] == b) ||
                (L->pair[k][0] == b && L->pair[k][1] == a);
        if (dup)
            continue;
        L->pair[L->npairs][0] = a;
        L->pair[L->npairs][1] = b;
        L->pair_at[L->npairs++] = L->nlev;
        L->nlev += a->nlevels * b->nlevels;
    }
    L->npos = POOLMODEL_SCORE + L->p + L->p * (L->p + 1) / 2 + L->nlev;
    return 0;
}

size_t
poolmodel_info(const struct poolmodel *L, size_t i, size_t j)
{
    if (i > j) {
        size_t t = i;
        i = j;
        j = t;
    }
    /* rows 0 .. i-1 of the upper triangle hold p + (p-1) + ... + (p-i+1) entries */
    return POOLMODEL_SCORE + L->p + i * L->p - i * (i - 1) / 2 + (j - i);
}

void
poolmodel_label(uint32_t round, char buf[POOLMODEL_LABEL_LEN])
{
    snprintf(buf, POOLMODEL_LABEL_LEN, "model/r%u", round);
}

static size_t
levels_at(const struct poolmodel *L)
{
    return POOLMODEL_SCORE + L->p + L->p * (L->p + 1) / 2;
}

int
poolmodel_encode(const struct poolmodel *L, const Fedra__ModelResult *m,
    const uint64_t *levels, mask_elem *v, char *err)
{
    size_t p = L->p;
    if (m->n_score != p || m->n_info != p * p)
        return errf(err, "a model answer of %zu scores for %zu coefficients", m->n_score, p);
    memset(v, 0, L->npos * sizeof *v);
    v[POOLMODEL_N] = mask_count(m->n);
    v[POOLMODEL_EVENTS] = mask_count(m->events);
    v[POOLMODEL_DROPPED] = mask_count(m->dropped);
    v[POOLMODEL_BOUNDARY] = mask_count(m->n_boundary);
    int bad = mask_real(m->loglik, &v[POOLMODEL_LOGLIK], err) != 0 ||
        mask_real(m->deviance, &v[POOLMODEL_DEVIANCE], err) != 0 ||
        mask_real(m->aic, &v[POOLMODEL_AIC], err) != 0;
    for (size_t k = 0; k < p && !bad; k++)
        bad = mask_real(m->score[k], &v[POOLMODEL_SCORE + k], err) != 0;
    for (size_t i = 0; i < p && !bad; i++)
        for (size_t j = i; j < p && !bad; j++)
            bad = mask_real(m->info[i * p + j], &v[poolmodel_info(L, i, j)], err) != 0;
    if (bad)
        return -1;
    for (size_t k = 0; levels != NULL && k < L->nlev; k++)
        v[levels_at(L) + k] = mask_count(levels[k]);
    return 0;
}

int
poolmodel_decode(const struct poolmodel *L, const mask_elem *sum, struct modelsum *s,
    uint64_t *levels, char *err)
{
    size_t p = L->p;
    uint64_t c[POOLMODEL_LOGLIK];
    for (int k = 0; k < POOLMODEL_LOGLIK; k++)
        if (mask_sum_count(sum[k], &c[k]) != 0)
            return errf(err, "the pooled shares do not unmask: a count is not a count");
    s->n = c[POOLMODEL_N];
    s->events = c[POOLMODEL_EVENTS];
    s->dropped = c[POOLMODEL_DROPPED];
    s->loglik = mask_sum_real(sum[POOLMODEL_LOGLIK]);
    for (size_t k = 0; k < p; k++)
        s->score[k] = mask_sum_real(sum[POOLMODEL_SCORE + k]);
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++)
            s->info[i * p + j] = mask_sum_real(sum[poolmodel_info(L, i, j)]);
    s->glm = (struct glm_node_stats){mask_sum_real(sum[POOLMODEL_DEVIANCE]),
        mask_sum_real(sum[POOLMODEL_AIC]), (double)s->events, (int64_t)s->n,
        (int64_t)c[POOLMODEL_BOUNDARY]};
    s->nodes = 1;
    for (size_t k = 0; levels != NULL && k < L->nlev; k++)
        if (mask_sum_count(sum[levels_at(L) + k], &levels[k]) != 0)
            return errf(err, "the pooled shares do not unmask: a level count is not a count");
    return 0;
}

void
poolmodel_result(const struct modelsum *s, Fedra__ModelResult *m)
{
    fedra__model_result__init(m);
    m->n = s->n;
    m->events = s->events;
    m->dropped = s->dropped;
    m->loglik = s->loglik;
    m->n_score = s->p;
    m->score = s->score;
    m->n_info = s->p * s->p;
    m->info = s->info;
    m->deviance = s->glm.deviance;
    m->aic = s->glm.aic;
    m->n_boundary = (uint64_t)s->glm.n_boundary;
}

void
poolmodel_level_name(const struct poolmodel *L, size_t k, char *buf, size_t len)
{
    for (size_t i = L->npairs; i-- > 0;)
        if (k >= L->pair_at[i]) {
            const struct var_def *a = L->pair[i][0], *b = L->pair[i][1];
            size_t c = k - L->pair_at[i];
            snprintf(buf, len, "%s=%s:%s=%s", a->name, a->levels[c / b->nlevels], b->name,
                b->levels[c % b->nlevels]);
            return;
        }
    for (size_t i = L->nvars; i-- > 0;)
        if (k >= L->lev_at[i]) {
            snprintf(buf, len, "%s=%s", L->var[i]->name, L->var[i]->levels[k - L->lev_at[i]]);
            return;
        }
    snprintf(buf, len, "?");
}

void
poolmodel_tag_msg(const Fedra__PoolShare *sh, uint8_t msg[POOLMODEL_TAG_MSG_LEN])
{
    uint32_t r = htole32(sh->round);
    uint64_t n = htole64(sh->positions);
    memcpy(msg, POOLMODEL_TAG_CONTEXT, sizeof POOLMODEL_TAG_CONTEXT);
    uint8_t *at = msg + sizeof POOLMODEL_TAG_CONTEXT;
    memcpy(at, &r, sizeof r);
    memcpy(at + sizeof r, &n, sizeof n);
    memset(at + sizeof r + sizeof n, 0, WIRE_HASH_LEN);
    if (sh->masked_hash.len == WIRE_HASH_LEN)
        memcpy(at + sizeof r + sizeof n, sh->masked_hash.data, WIRE_HASH_LEN);
}

/*
 * The answer's response decoded and its sender vouched for: by the
 * envelope's signature (au->signer), or by the share's pair tag (au->tag).
 * 0 with *e and *rb set; -1 with err naming the node and the round.
 */
static int
authentic(const struct poolmodel_auth *au, const char *name, uint32_t round,
    const Fedra__PoolAnswer *a, Fedra__Envelope **e, Fedra__ResponseBody **rb, char *err)
{
    char why[FEDRA_ERRLEN];
    const struct pki_cert *cert = NULL;
    *rb = NULL;
    if ((*e = wire_envelope_decode(a->response.data, a->response.len, WIRE_MAX_RESPONSE,
             why)) == NULL)
        return errf(err, "node '%s', round %u: %s", name, round, why);
    if (au->signer != NULL) {
        if (au->signer(au->arg, *e, &cert, why) != 0)
            return errf(err, "node '%s', round %u: %s", name, round, why);
        if (strcmp(pki_cert_name(cert), name) != 0)
            return errf(err, "node '%s', round %u: answered with the certificate of '%s'", name,
                round, pki_cert_name(cert));
        if (pki_check_sig(cert, (*e)->body.data, (*e)->body.len, (*e)->signature.data,
                (*e)->signature.len) != 0)
            return errf(err, "node '%s', round %u: the signature does not verify (altered)",
                name, round);
    }
    if ((*rb = wire_response_decode((*e)->body.data, (*e)->body.len, why)) == NULL)
        return errf(err, "node '%s', round %u: not a response: %s", name, round, why);
    if (au->tag != NULL && (*rb)->pool != NULL && au->tag(au->arg, (*rb)->pool, why) != 0)
        return errf(err, "node '%s', round %u: %s", name, round, why);
    return 0;
}

int
poolmodel_check_answer(const struct poolmodel *L, const uint8_t *answer, size_t len,
    const char *name, const uint8_t qhash[WIRE_HASH_LEN], uint32_t round,
    poolmodel_signer_fn *signer, void *arg, mask_elem *sum, uint8_t commit[WIRE_HASH_LEN],
    Fedra__PoolAnswer **out, Fedra__ResponseBody **body, char *err)
{
    struct poolmodel_auth au = {signer, NULL, arg};
    return poolmodel_check(L, answer, len, name, qhash, round, &au, sum, commit, out, body, err);
}

int
poolmodel_check(const struct poolmodel *L, const uint8_t *answer, size_t len, const char *name,
    const uint8_t qhash[WIRE_HASH_LEN], uint32_t round, const struct poolmodel_auth *au,
    mask_elem *sum, uint8_t commit[WIRE_HASH_LEN], Fedra__PoolAnswer **out,
    Fedra__ResponseBody **body, char *err)
{
    char why[FEDRA_ERRLEN];
    Fedra__Envelope *e = NULL;
    Fedra__ResponseBody *rb = NULL;
    Fedra__PoolAnswer *a = wire_poolanswer_decode(answer, len, why);
    int rc = -1;
    *out = NULL;
    *body = NULL;
    if (a == NULL) {
        errf(err, "node '%s', round %u: malformed pooled answer: %s", name, round, why);
        goto done;
    }
    if (authentic(au, name, round, a, &e, &rb, err) != 0)
        goto done;
    if (strcmp(rb->node, name) != 0 || rb->query_hash.len != WIRE_HASH_LEN ||
        memcmp(rb->query_hash.data, qhash, WIRE_HASH_LEN) != 0) {
        errf(err, "node '%s', round %u: the response answers another query or names another "
            "node", name, round);
        goto done;
    }
    if (rb->status != FEDRA__STATUS__STATUS_OK) {
        errf(err, "node '%s' refused round %u: %s", name, round, rb->reason);
        goto done;
    }
    const Fedra__PoolShare *sh = rb->pool;
    if (sh == NULL || sh->round != round || sh->positions != L->npos ||
        sh->masked_hash.len != WIRE_HASH_LEN) {
        errf(err, "node '%s' sent no share of round %u of %zu positions (its share is of round "
            "%u)", name, round, L->npos, sh ? sh->round : 0);
        goto done;
    }
    uint8_t h[WIRE_HASH_LEN];
    pki_sha256(a->masked.data, a->masked.len, h);
    if (a->masked.len != L->npos * MASK_ELEM_LEN ||
        memcmp(h, sh->masked_hash.data, WIRE_HASH_LEN) != 0) {
        errf(err, "node '%s', round %u: the share is not the one it signed", name, round);
        goto done;
    }
    /* Round 1's atoms (PoolShare.atoms_hash): checked where present; the hub
       passes the answers on to the nodes without them. */
    int atoms_bad = sh->atoms > PAUDIT_MAX_ATOMS ||
        (sh->atoms > 0 && sh->atoms_hash.len != WIRE_HASH_LEN) ||
        (a->atoms.len > 0 && a->atoms.len != sh->atoms * MASK_COUNT_LEN);
    if (!atoms_bad && a->atoms.len > 0) {
        pki_sha256(a->atoms.data, a->atoms.len, h);
        atoms_bad = memcmp(h, sh->atoms_hash.data, WIRE_HASH_LEN) != 0;
    }
    if (atoms_bad) {
        errf(err, "node '%s', round %u: the atoms are not the ones it signed", name, round);
        goto done;
    }
    if (sum != NULL) {
        mask_elem *v = xcalloc(L->npos + 1, sizeof *v);
        mask_unpack(a->masked.data, L->npos, v);
        mask_add(sum, v, L->npos);
        free(v);
    }
    pki_sha256(a->response.data, a->response.len, commit);
    rc = 0;
done:
    wire_envelope_free(e);
    if (rc == 0) {
        *out = a;
        *body = rb;
    } else {
        wire_poolanswer_free(a);
        wire_response_free(rb);
    }
    return rc;
}

int
poolmodel_cells_make(const struct poolmodel *L, const Fedra__QuerySpec *spec,
    struct poolmodel_cells *C, char *err)
{
    memset(C, 0, sizeof *C);
    C->glm = L->glm;
    const struct var_def *out = L->glm && spec->outcome != NULL ? vars_find(spec->outcome->var)
                                                                : NULL;
    C->k = 1;
    for (size_t v = 0; v < L->nvars; v++) {
        if (L->var[v] == out)
            continue;
        C->f[C->nf++] = L->var[v];
        C->k *= L->var[v]->nlevels;
        if (C->k > POOLMODEL_MAX_CELLS)
            break;
    }
    if (C->k > (POOLMODEL_MAX_CELLS - 1) / 2)
        return errf(err, "the pooled audit cannot follow this fit: its categorical variables "
            "make more than %d cells", POOLMODEL_MAX_CELLS);
    C->ncells = 1 + 2 * C->k;
    /* glm: every pair of categorical covariates (X'X); cox: an interaction's. */
    for (size_t a = 0; a < C->nf; a++)
        for (size_t b = a + 1; b < C->nf; b++) {
            int inter = 0;
            for (size_t q = 0; q < L->npairs; q++)
                inter |= (L->pair[q][0] == C->f[a] && L->pair[q][1] == C->f[b]) ||
                    (L->pair[q][0] == C->f[b] && L->pair[q][1] == C->f[a]);
            if (!C->glm && !inter)
                continue;
            C->pair[C->npair][0] = (uint8_t)a;
            C->pair[C->npair][1] = (uint8_t)b;
            C->pair_events[C->npair++] = (uint8_t)(C->glm && inter);
        }
    C->nsets = 3;                           /* dropped, events, non-events */
    for (size_t a = 0; a < C->nf; a++)
        C->nsets += C->f[a]->nlevels * (C->glm ? 2 : 1);
    for (size_t q = 0; q < C->npair; q++)
        C->nsets += C->f[C->pair[q][0]]->nlevels * C->f[C->pair[q][1]]->nlevels *
            (C->pair_events[q] ? 2u : 1u);
    return 0;
}

size_t
poolmodel_cell(const struct poolmodel_cells *C, int event, const uint32_t *lev)
{
    size_t c = 0;
    for (size_t a = 0; a < C->nf; a++)
        c = c * C->f[a]->nlevels + lev[a];
    return 1 + (event ? C->k : 0) + c;
}

void
poolmodel_cells_sets(const struct poolmodel_cells *C, unsigned char *in)
{
    size_t n = C->ncells, j = 0, base[POOLMODEL_MAX_VARS];
    memset(in, 0, C->nsets * n);
    in[j++ * n + 0] = 1;                    /* dropped; then events, non-events */
    j += 2;
    for (size_t a = 0; a < C->nf; a++) {    /* each level, and glm's events per level */
        base[a] = j;
        j += C->f[a]->nlevels * (C->glm ? 2 : 1);
    }
    size_t pbase[POOLMODEL_MAX_PAIRS];
    for (size_t q = 0; q < C->npair; q++) {
        pbase[q] = j;
        j += C->f[C->pair[q][0]]->nlevels * C->f[C->pair[q][1]]->nlevels *
            (C->pair_events[q] ? 2u : 1u);
    }
    for (size_t c = 1; c < n; c++) {
        size_t e = (c - 1) / C->k, rest = (c - 1) % C->k;
        uint32_t lev[POOLMODEL_MAX_VARS];
        for (size_t a = C->nf; a-- > 0;) {
            lev[a] = (uint32_t)(rest % C->f[a]->nlevels);
            rest /= C->f[a]->nlevels;
        }
        in[(1 + (e ? 0 : 1)) * n + c] = 1;
        for (size_t a = 0; a < C->nf; a++) {
            size_t nl = C->f[a]->nlevels;
            in[(base[a] + lev[a]) * n + c] = 1;
            if (C->glm && e)
                in[(base[a] + nl + lev[a]) * n + c] = 1;
        }
        for (size_t q = 0; q < C->npair; q++) {
            size_t nb = C->f[C->pair[q][1]]->nlevels,
                   cell = lev[C->pair[q][0]] * nb + lev[C->pair[q][1]];
            in[(pbase[q] + cell) * n + c] = 1;
            if (C->pair_events[q] && e)
                in[(pbase[q] + C->f[C->pair[q][0]]->nlevels * nb + cell) * n + c] = 1;
        }
    }
}

int
poolmodel_levels_check(const struct poolmodel *L, const Fedra__QuerySpec *spec,
    const uint64_t *lev, char *err)
{
    for (size_t j = 0; j < spec->n_terms; j++)
        if (spec->terms[j]->var2[0] != 0)
            return 0;
    for (size_t k = 0; k < L->nvars; k++) {
        const struct var_def *v = L->var[k];
        size_t nt = 0, first = v->nlevels;
        int bad = 0;
        for (size_t l = 0; l < v->nlevels; l++) {
            int term = 0;
            for (size_t j = 0; j < spec->n_terms && !term; j++)
                term = strcmp(spec->terms[j]->var, v->name) == 0 &&
                    strcmp(spec->terms[j]->level, v->levels[l]) == 0;
            nt += (size_t)term;
            int held = lev[L->lev_at[k] + l] > 0;
            if (held && first == v->nlevels) {
                first = l;              /* the reference: held, not a column */
                bad |= term;
            } else {
                bad |= held != term;
            }
        }
        if (nt > 0 && (bad || first == v->nlevels))
            return errf(err, "%s (%s): the fit is asked again with the levels its patients "
                "hold", POOLMODEL_LEVELS_REFUSED, v->name);
    }
    return 0;
}
