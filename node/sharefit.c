/*
 * sharefit - a node's part in a pooled model fit; see sharefit.h.
 */
#include "node/sharefit.h"

#include <stdlib.h>
#include <string.h>

#include "certs/pki.h"
#include "node/kind.h"
#include "node/kind_model.h"

static void
fit_drop(struct sharefit_fit *f)
{
    if (!f->used)
        return;
    modelpath_release(&f->path);
    mask_node_free(f->mask);
    buf_release(&f->tags);
    memset(f, 0, sizeof *f);
}

void
sharefit_clear(struct sharefit_table *t)
{
    for (size_t i = 0; i < SHAREFIT_MAX_FITS; i++)
        fit_drop(&t->f[i]);
}

void
sharefit_expire(struct sharefit_table *t, int64_t now_ms)
{
    for (size_t i = 0; i < SHAREFIT_MAX_FITS; i++)
        if (t->f[i].used && now_ms - t->f[i].last_ms > SHAREFIT_IDLE_MS)
            fit_drop(&t->f[i]);
}

/* The slot of the fit of qhash, or SHAREFIT_MAX_FITS. */
static size_t
fit_at(const struct sharefit_table *t, const uint8_t qhash[WIRE_HASH_LEN])
{
    size_t i = 0;
    while (i < SHAREFIT_MAX_FITS &&
        !(t->f[i].used && memcmp(t->f[i].qhash, qhash, WIRE_HASH_LEN) == 0))
        i++;
    return i;
}

static struct sharefit_fit *
fit_find(struct sharefit_table *t, const uint8_t qhash[WIRE_HASH_LEN])
{
    size_t i = fit_at(t, qhash);
    return i < SHAREFIT_MAX_FITS ? &t->f[i] : NULL;
}

int
sharefit_follows(const struct sharefit_table *t, const uint8_t qhash[WIRE_HASH_LEN])
{
    return fit_at(t, qhash) < SHAREFIT_MAX_FITS;
}

/* A free slot, else the fit idle longest (it will be refused as model-state). */
static struct sharefit_fit *
fit_new(struct sharefit_table *t)
{
    struct sharefit_fit *old = &t->f[0];
    for (size_t i = 0; i < SHAREFIT_MAX_FITS; i++) {
        if (!t->f[i].used)
            return &t->f[i];
        if (t->f[i].last_ms < old->last_ms)
            old = &t->f[i];
    }
    fit_drop(old);
    return old;
}

/*
 * Evaluate the round at the replay's next coefficients with no release rule
 * (no policy: no level left out), and put it with its level counts on the
 * layout, masked under the round's label.
 */
static int
evaluate(const struct sharefit_fit *f, const struct node_kind_ctx *ctx,
    const Fedra__QuerySpec *spec, uint32_t round, mask_elem *v, char *err)
{
    const struct node_kind *k = node_kind_get(spec->kind);
    const double *b = modelpath_next_beta(&f->path);
    Fedra__QuerySpec s = *spec;
    s.n_beta = b != NULL ? f->L.p : 0;
    s.beta = (double *)b;
    s.round = round;
    struct node_kind_ctx c = *ctx;
    c.policy = NULL;
    c.path = NULL;
    struct node_answer ans;
    memset(&ans, 0, sizeof ans);
    uint64_t *lev = xcalloc(f->L.nlev + 1, sizeof *lev);
    int rc = -1;
    if (k->execute(&c, &s, &ans, err) != 0)
        goto done;
    if (ans.late[0] != 0) {
        errf(err, "%s", ans.late);
        goto done;
    }
    for (size_t i = 0; i < f->L.nvars; i++)
        for (size_t l = 0; l < f->L.var[i]->nlevels; l++)
            lev[f->L.lev_at[i] + l] = kind_model_level(&ans, f->L.var[i],
                f->L.var[i]->levels[l]);
    for (size_t i = 0; i < f->L.npairs; i++) {
        const struct var_def *va = f->L.pair[i][0], *vb = f->L.pair[i][1];
        for (size_t x = 0; x < va->nlevels * vb->nlevels; x++)
            lev[f->L.pair_at[i] + x] = kind_model_cell(&ans, va, va->levels[x / vb->nlevels], vb,
                vb->levels[x % vb->nlevels]);
    }
    char label[POOLMODEL_LABEL_LEN];
    poolmodel_label(round, label);
    rc = poolmodel_encode(&f->L, kind_model_result(&ans), lev, v, err) != 0 ||
        mask_apply(f->mask, label, v, f->L.npos, err) != 0 ? -1 : 0;
done:
    k->free_answer(&ans);
    free(lev);
    return rc;
}

/*
 * A peer's answer is vouched for by its pair tag for this node (lib/mask.h,
 * proto/poolmodel.h), not by its signature: the hub checked that, and the
 * tag is one the hub cannot make.  This node's own answer is the one it
 * signed (round_feed compares the hash); it carries no tag for itself.
 */
struct tag_arg {
    const struct mask_node *mask;
    size_t from, self, n;           /* the sender's roster index, this node's, the roster's size */
};

static int
peer_tag(void *arg, const Fedra__PoolShare *sh, char *err)
{
    const struct tag_arg *t = arg;
    if (t->from == t->self)
        return 0;
    uint8_t msg[POOLMODEL_TAG_MSG_LEN];
    poolmodel_tag_msg(sh, msg);
    if (sh->peer_tags.len != t->n * MASK_TAG_LEN ||
        mask_tag_check(t->mask, t->from, msg, sizeof msg,
            sh->peer_tags.data + t->self * MASK_TAG_LEN) != 0)
        return errf(err, "the share is not the one it sent: its tag for this node does not "
            "verify");
    return 0;
}

/* This node's tags for every roster node over its share, in f->tags (own slot zeros). */
static void
own_tags(struct sharefit_fit *f, const Fedra__PoolShare *sh, size_t n, size_t self)
{
    uint8_t msg[POOLMODEL_TAG_MSG_LEN];
    poolmodel_tag_msg(sh, msg);
    f->tags.len = 0;
    uint8_t *t = buf_extend(&f->tags, n * MASK_TAG_LEN);
    memset(t, 0, n * MASK_TAG_LEN);
    for (size_t i = 0; i < n; i++)
        if (i != self)
            mask_tag(f->mask, i, msg, sizeof msg, t + i * MASK_TAG_LEN);
}

/* The roster index of this node (q->audience), or n. */
static size_t
roster_self(const Fedra__QueryBody *q, const char *self)
{
    size_t i = 0;
    while (self != NULL && i < q->n_audience && strcmp(q->audience[i], self) != 0)
        i++;
    return self != NULL ? i : q->n_audience;
}

/*
 * Round k's message: every roster node's answer to round k-1, checked and
 * added; this node's own must be the one it signed.  The pooled sums fed
 * to the replay.  -1 with err (the round is refused, code model-path).
 */
static int
round_feed(struct sharefit_fit *f, const Fedra__QueryBody *q, const Fedra__PoolRound *round,
    const char *self, char *err)
{
    char why[FEDRA_ERRLEN];
    if (round->n_answers != q->n_audience)
        return errf(err, "round %u carries %zu answers for a roster of %zu nodes", round->round,
            round->n_answers, q->n_audience);
    struct tag_arg ta = {f->mask, 0, roster_self(q, self), q->n_audience};
    struct poolmodel_auth au = {NULL, peer_tag, &ta};
    mask_elem *sum = xcalloc(f->L.npos + 1, sizeof *sum);
    int rc = 0, own = 0;
    for (size_t i = 0; i < round->n_answers && rc == 0; i++) {
        uint8_t commit[WIRE_HASH_LEN];
        Fedra__PoolAnswer *a;
        Fedra__ResponseBody *rb;
        ta.from = i;
        rc = poolmodel_check(&f->L, round->answers[i].data, round->answers[i].len,
            q->audience[i], f->qhash, f->round, &au, sum, commit, &a, &rb, err);
        if (rc == 0 && i == ta.self) {
            own = 1;
            if (!f->committed || memcmp(commit, f->own, WIRE_HASH_LEN) != 0)
                rc = errf(err, "round %u carries an answer of this node ('%s') that it did not "
                    "send", f->round, self);
        }
        wire_poolanswer_free(a);
        wire_response_free(rb);
    }
    if (rc == 0 && !own)
        rc = errf(err, "the answers of round %u do not include this node's own ('%s')", f->round,
            self);
    struct modelsum s;
    modelsum_init(&s, f->L.p);
    if (rc == 0 && poolmodel_decode(&f->L, sum, &s, NULL, why) != 0)
        rc = errf(err, "round %u: %s", f->round, why);
    if (rc == 0 && modelpath_feed(&f->path, &s, why) != 0)
        rc = errf(err, "the fit cannot go on from round %u: %s", f->round, why);
    if (rc == 0 && modelpath_done(&f->path))
        rc = errf(err, "the fit is finished: round %u was its last", f->round);
    modelsum_release(&s);
    free(sum);
    return rc;
}

int
sharefit_answer(struct sharefit_table *t, const struct node_kind_ctx *ctx,
    const struct share_policy *sp, const Fedra__QueryBody *q, const Fedra__PoolRound *round,
    const struct pki_trust *trust, const uint8_t sk[MASK_KEY_LEN],
    const uint8_t pk[MASK_KEY_LEN], const uint8_t qhash[WIRE_HASH_LEN], int64_t now_ms,
    Fedra__PoolShare *share, uint8_t hash[WIRE_HASH_LEN], struct buf *masked,
    const char **code, char *err)
{
    const Fedra__QuerySpec *spec = q->spec;
    const struct node_kind *k = node_kind_get(spec->kind);
    struct sharefit_fit *f = fit_find(t, qhash);
    uint32_t r = round != NULL ? round->round : 1;
    *code = "pooled";
    if (k == NULL || (spec->kind != FEDRA__KIND__KIND_COX && spec->kind != FEDRA__KIND__KIND_GLM))
        return errf(err, "not a model query");
    if (round == NULL) {
        if (f != NULL)
            return errf(err, "this pooled fit has already started here");
        if (spec->n_beta != 0 || spec->n_prev_answers != 0 || spec->round > 1)
            return errf(err, "a pooled fit's query names no coefficients and no earlier round: "
                "the nodes compute every round's coefficients themselves");
        if (spec->max_iter > MODELSUM_REPLAY_MAX_ITER)
            return errf(err, "a pooled fit of at most %u iterations (above %d)", spec->max_iter,
                MODELSUM_REPLAY_MAX_ITER);
        if (k->admit != NULL && k->admit(sp->pol, spec, err) != 0)
            return -1;
        f = fit_new(t);
        if (poolmodel_make(spec, &f->L, err) != 0 ||
            share_roster(trust, sp->certs, sp->masks, q, sp->min_participants, sk, pk, qhash,
                now_ms / 1000, &f->mask, err) != 0 ||
            modelpath_init(&f->path, f->L.glm, f->L.p, (int)spec->max_iter) != 0) {
            mask_node_free(f->mask);
            memset(f, 0, sizeof *f);
            return -1;
        }
        f->used = 1;
        memcpy(f->qhash, qhash, WIRE_HASH_LEN);
    } else {
        *code = SHAREFIT_PATH;
        if (f == NULL) {
            *code = SHAREFIT_STATE;
            return errf(err, "this node keeps no state for this pooled fit (it restarted, or "
                "the fit was idle over %d s)", SHAREFIT_IDLE_MS / 1000);
        }
        if (r != f->round + 1) {
            errf(err, "round %u does not follow round %u, the last this node answered in this "
                "fit; the fit ends here", r, f->round);
            fit_drop(f);
            return -1;
        }
        const char *self = ctx->path != NULL ? ctx->path->node : NULL;
        int fed = self != NULL ? round_feed(f, q, round, self, err)
                               : errf(err, "the node has no name to find its own answer by");
        if (fed != 0) {
            fit_drop(f);
            return -1;
        }
    }
    f->last_ms = now_ms;
    mask_elem *v = xcalloc(f->L.npos + 1, sizeof *v);
    int rc = evaluate(f, ctx, spec, r, v, err);
    if (rc == 0) {
        size_t start = masked->len;
        mask_pack(v, f->L.npos, buf_extend(masked, f->L.npos * MASK_ELEM_LEN));
        pki_sha256(masked->p + start, masked->len - start, hash);
        fedra__pool_share__init(share);
        /* Round 1 also counts the rows per atom of the pooled auditor (the fit is
         * one query of it: proto/poolmodel.h), after the values, hashed apart so
         * that the hub can pass the values on without them (PoolShare.atoms_hash). */
        size_t vend = masked->len;
        if (r == 1 && (rc = share_atoms(ctx, sp, q, trust, f->mask, share, masked, err)) == 0) {
            pki_sha256(masked->p + vend, masked->len - vend, f->atoms_hash);
            share->atoms_hash.data = f->atoms_hash;
            share->atoms_hash.len = WIRE_HASH_LEN;
        }
    }
    if (rc == 0) {
        share->masked_hash.data = hash;
        share->masked_hash.len = WIRE_HASH_LEN;
        share->positions = f->L.npos;
        share->min_cell = sp->pol->min_cell;
        share->min_sites = sp->min_sites;
        share->grid_days = spec->grid_days;
        share->min_events_per_param = sp->pol->min_events_per_param;
        share->round = r;
        own_tags(f, share, q->n_audience,
            roster_self(q, ctx->path != NULL ? ctx->path->node : NULL));
        share->peer_tags.data = f->tags.p;
        share->peer_tags.len = f->tags.len;
        f->round = r;
        f->committed = 0;
    } else {
        fit_drop(f);
    }
    free(v);
    return rc;
}

void
sharefit_commit(struct sharefit_table *t, const uint8_t qhash[WIRE_HASH_LEN],
    const uint8_t *response, size_t len)
{
    struct sharefit_fit *f = fit_find(t, qhash);
    if (f == NULL)
        return;
    pki_sha256(response, len, f->own);
    f->committed = 1;
}
