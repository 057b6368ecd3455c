/*
 * model - see model.h.
 */
#include "coord/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "analysis/chisq.h"
#include "analysis/cox.h"
#include "analysis/glm.h"
#include "analysis/km.h"
#include "proto/modelsum.h"
#include "proto/poolmodel.h"
#include "proto/vars.h"

#define MODEL_MAX_LEVELS 4096           /* distinct levels of one open covariate */
#define MODEL_DISCOVER_MAX_CELLS 1024   /* cells of one level-discovery cross-table */

/* One covariate: its variable and, if categorical, its levels and who holds them. */
struct covariate {
    const struct var_def *var;
    char **level;                   /* categorical: levels in model order */
    size_t nlevel;
    unsigned char *held;            /* nnodes x nlevel: node i has level k */
};

/* A design column of the current fit: one factor, or the product of two (a:b). */
struct column {
    const char *var, *level;        /* level "" for a numeric column */
    const char *var2, *level2;      /* the second factor of an interaction; var2 "": none */
    char name[2 * (VARS_MAX_NAME + VARS_MAX_LEVEL) + 2];
};

/* A model term: one variable, or an interaction of two (indices into fit.cov). */
struct mterm {
    size_t v[2];                    /* in the order the variables first appear */
    size_t nv;                      /* 1 or 2 */
};

struct fit {
    const struct model_request *req;
    const struct report *r;
    model_send_fn send;
    void *ctx;
    size_t nnodes;
    struct covariate cov[MODEL_MAX_VARS];   /* the model's variables, each once */
    size_t nvar;
    struct mterm term[MODEL_MAX_MTERMS];    /* R's terms, in R's order */
    size_t nmterm;
    const struct var_def *strata;   /* cox --strata V, or NULL */
    unsigned char *active;          /* nnodes: still in the fit */
    struct node_reply *final;       /* nnodes: last answer, or why the node is out */
    struct holds *holds;            /* nnodes: what its answers say it holds (note_holds) */
    struct column col[WIRE_MAX_COEF];
    size_t p;                       /* coefficients (glm: intercept included) */
    Fedra__Term terms[WIRE_MAX_TERMS], *termp[WIRE_MAX_TERMS];
    size_t nterms;
    uint64_t n, events, dropped;    /* complete cases over the fit's nodes */
    uint64_t excluded;              /* complete cases the nodes left out (R2) */
    /* nodes that sent dropped, n_boundary, excluded only as 1 .. min_cell-1 (R2) */
    size_t dropped_supp, boundary_supp, excluded_supp;
    uint32_t *hidden;               /* nnodes: max_hidden of the node's count answers; 0 unknown */
    int restarted;                  /* the fit was started again after a model-state refusal */
    int rounds;
    uint32_t grid;
};

/*
 * How many selected patients (complete cases) a node holds, as far as its
 * answers in this fit say, to name what a fit leaves out: a model round's n
 * and excluded (exact), else a count round's cells (a suppressed cell 1 ..
 * max_hidden, a withheld one at least 1).  Kept across rounds, as a node
 * that fails later says nothing more.
 */
struct holds {
    int known;                      /* some answer said */
    int from_model;                 /* a model round said (exact n) */
    uint64_t lo, hi;                /* complete cases, a range when suppressed */
    int hi_unknown;                 /* no upper bound (withheld, or no max_hidden known) */
    uint64_t events;                /* from_model: its events */
    uint32_t max_hidden;            /* from a count round: its min_cell - 1 */
    int have_max_hidden;
};

static void note_holds(struct fit *f, size_t i, const struct node_reply *rep);

/* Keep rep as node i's final word, releasing what it had. */
static void
keep_reply(struct fit *f, size_t i, struct node_reply *rep)
{
    note_holds(f, i, rep);
    client_replies_release(&f->final[i], 1);
    f->final[i] = *rep;
    memset(rep, 0, sizeof *rep);
}

static int
level_index(const struct covariate *c, const char *t)
{
    for (size_t k = 0; k < c->nlevel; k++)
        if (strcmp(c->level[k], t) == 0)
            return (int)k;
    return -1;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Base spec shared by every query of the fit: the selection. */
static void
base_spec(const struct fit *f, Fedra__QuerySpec *s)
{
    fedra__query_spec__init(s);
    s->n_where = f->req->nwhere;
    s->where = f->req->where;
}

/*
 * Which levels of categorical covariates js[0..nj) the nodes with ask[i]
 * hold among their complete cases: one count grouped by them and by every
 * open model variable (the only ones that can be missing).  A level is held
 * where a cell that has it counts at least one patient (count > 0 or
 * suppressed, which only ever hides 1 .. min_cell-1).  Closed variables are
 * never missing, so asking several in one cross-table selects the same
 * patients as asking each alone, and gives the same answer in one round
 * instead of nj.  An open covariate is asked alone (its levels are not known
 * in advance).  With refuse (nj > 1), a node that refuses the cross-table
 * (its query-set auditor may find a cell too close to an earlier answer) is
 * marked there to be asked each variable alone; else it leaves the fit.
 */
static int
discover(struct fit *f, const size_t *js, size_t nj, const unsigned char *ask,
    unsigned char *refuse, char *err)
{
    const struct model_request *q = f->req;
    char *by[WIRE_MAX_GROUP_BY];
    size_t nby = 0;
    for (size_t m = 0; m < nj; m++)
        by[nby++] = (char *)f->cov[js[m]].var->name;
    const struct var_def *outcome = q->glm ? vars_find(q->outcome_var) : NULL;
    for (size_t k = 0; k <= f->nvar + 1; k++) {
        const struct var_def *v = k < f->nvar ? f->cov[k].var : k == f->nvar ? outcome :
            f->strata;
        if (v == NULL || v->kind == VAR_INTEGER || v->nlevels > 0)
            continue;
        int dup = 0;
        for (size_t m = 0; m < nby; m++)
            dup |= strcmp(by[m], v->name) == 0;
        if (!dup && nby < WIRE_MAX_GROUP_BY)
            by[nby++] = (char *)v->name;
    }
    Fedra__QuerySpec s;
    base_spec(f, &s);
    s.kind = FEDRA__KIND__KIND_COUNT;
    s.n_group_by = nby;
    s.group_by = by;
    struct node_reply *rep = xcalloc(f->nnodes, sizeof *rep);
    if (f->send(f->ctx, &s, ask, rep, err) != 0) {
        free(rep);
        return -1;
    }
    struct covariate *c0 = &f->cov[js[0]];
    if (c0->var->nlevels == 0) {
        /* Open variable: the union of the levels the nodes report, sorted. */
        for (size_t i = 0; i < f->nnodes; i++) {
            if (!ask[i] || rep[i].status != NODE_OK)
                continue;
            const Fedra__CountResult *cr = rep[i].body->count;
            for (size_t m = 0; m < cr->n_cells; m++) {
                const char *t = cr->cells[m]->levels[0];
                if ((cr->cells[m]->count == 0 && !cr->cells[m]->suppressed) ||
                    level_index(c0, t) >= 0)
                    continue;
                if (c0->nlevel == MODEL_MAX_LEVELS) {
                    client_replies_release(rep, f->nnodes);
                    free(rep);
                    return errf(err, "%s has more than %d levels", c0->var->name,
                        MODEL_MAX_LEVELS);
                }
                c0->level = xreallocarray(c0->level, c0->nlevel + 1, sizeof *c0->level);
                c0->level[c0->nlevel++] = xstrdup(t);
            }
        }
        if (c0->nlevel > 1)
            qsort(c0->level, c0->nlevel, sizeof *c0->level, cmp_str);
        c0->held = xcalloc(f->nnodes * (c0->nlevel ? c0->nlevel : 1), 1);
    }
    for (size_t i = 0; i < f->nnodes; i++) {
        if (!ask[i])
            continue;
        if (rep[i].status == NODE_REFUSED && refuse != NULL) {
            refuse[i] = 1;
            continue;
        }
        if (rep[i].status != NODE_OK) {
            f->active[i] = 0;
            keep_reply(f, i, &rep[i]);
            continue;
        }
        const Fedra__CountResult *cr = rep[i].body->count;
        if (cr->max_hidden > f->hidden[i])
            f->hidden[i] = cr->max_hidden;
        for (size_t m = 0; m < cr->n_cells; m++) {
            if (cr->cells[m]->count == 0 && !cr->cells[m]->suppressed)
                continue;
            for (size_t b = 0; b < nj; b++) {
                struct covariate *c = &f->cov[js[b]];
                int k = level_index(c, cr->cells[m]->levels[b]);
                if (k >= 0)
                    c->held[i * c->nlevel + (size_t)k] = 1;
            }
        }
        keep_reply(f, i, &rep[i]);      /* its data hash must hold for the whole fit */
    }
    client_replies_release(rep, f->nnodes);
    free(rep);
    return 0;
}

/*
 * Every categorical covariate's levels and who holds them: closed variables
 * in cross-tables of up to WIRE_MAX_GROUP_BY variables and
 * MODEL_DISCOVER_MAX_CELLS cells, open ones (and all, when the model has an
 * open variable or the fit is pooled: req->one_way) one by one.
 */
static int
discover_all(struct fit *f, char *err)
{
    const struct model_request *q = f->req;
    size_t nopen = 0;
    for (size_t j = 0; j < f->nvar; j++)
        nopen += f->cov[j].var->kind != VAR_INTEGER && f->cov[j].var->nlevels == 0;
    if (q->glm && q->outcome_var != NULL) {
        const struct var_def *v = vars_find(q->outcome_var);
        nopen += v != NULL && v->kind != VAR_INTEGER && v->nlevels == 0;
    }
    nopen += f->strata != NULL && f->strata->nlevels == 0;
    /* With open variables in every query, cross-tables could grow past the node's
       cell limit: then ask each variable alone, as the open variables are. */
    /* A pooled fit asks one-way tables too: its first round releases each level's
       count, the margins of a cross-table, which would give back the cross-table's
       withheld cells, and the hub's auditor would refuse the fit (docs/disclosure.md
       §8.6).  One-way tables are those margins, so the fit adds nothing to them. */
    size_t batch[WIRE_MAX_GROUP_BY], nb = 0, cells = 1,
           maxb = nopen || q->one_way ? 1 : WIRE_MAX_GROUP_BY;
    unsigned char *refuse = xcalloc(f->nnodes, 1);
    int rc = 0;
    for (size_t j = 0; j <= f->nvar && rc == 0; j++) {
        struct covariate *c = j < f->nvar ? &f->cov[j] : NULL;
        int closed = c != NULL && c->var->kind != VAR_INTEGER && c->var->nlevels > 0;
        if (closed) {
            c->nlevel = c->var->nlevels;
            c->level = xcalloc(c->nlevel, sizeof *c->level);
            for (size_t k = 0; k < c->nlevel; k++)
                c->level[k] = xstrdup(c->var->levels[k]);
            c->held = xcalloc(f->nnodes * c->nlevel, 1);
        }
        /* Ask the batch at the end, before an open variable, or when this one cannot join. */
        int open = c != NULL && c->var->kind != VAR_INTEGER && !closed;
        if (nb > 0 && (c == NULL || open ||
                (closed && (nb == maxb || cells * c->nlevel > MODEL_DISCOVER_MAX_CELLS)))) {
            memset(refuse, 0, f->nnodes);
            rc = discover(f, batch, nb, f->active, nb > 1 ? refuse : NULL, err);
            for (size_t b = 0; b < nb && rc == 0 && nb > 1; b++) {
                size_t any = 0;
                for (size_t i = 0; i < f->nnodes; i++)
                    any += refuse[i] &= f->active[i];
                if (any)
                    rc = discover(f, &batch[b], 1, refuse, NULL, err);
            }
            nb = 0;
            cells = 1;
        }
        if (rc != 0 || c == NULL || c->var->kind == VAR_INTEGER)
            continue;
        if (closed) {
            batch[nb++] = j;
            cells *= c->nlevel;
        } else {
            rc = discover(f, &j, 1, f->active, NULL, err);
        }
    }
    free(refuse);
    return rc;
}

/* 1 unless a --where term on v leaves out its level (v != level, v = other, v in (...)). */
static int
where_allows(const struct model_request *q, const struct var_def *v, const char *level)
{
    for (size_t t = 0; t < q->nwhere; t++) {
        const Fedra__Filter *w = q->where[t];
        if (strcmp(w->var, v->name) != 0 || (w->op != FEDRA__OP__OP_EQ &&
                w->op != FEDRA__OP__OP_NE && w->op != FEDRA__OP__OP_IN))
            continue;
        int hit = 0;
        for (size_t k = 0; k < w->n_values; k++)
            hit |= strcmp(w->values[k], level) == 0;
        if (w->op == FEDRA__OP__OP_NE ? hit : !hit)
            return 0;
    }
    return 1;
}

/*
 * A pooled fit of main effects of closed factors need not ask its levels:
 * each factor gets every catalogue level its --where lets in, held
 * everywhere, and the hub checks on round 1's level counts, after its
 * auditor, that these are the levels the fit's patients hold
 * (proto/poolmodel.h poolmodel_levels_check); if not, it refuses, and
 * model_run asks the levels (discover_all) and fits again.  Usually they
 * are held, and the fit saves a pooled round trip per factor.  1 if f was
 * given the catalogue's levels.
 */
static int
assume_levels(struct fit *f)
{
    if (!f->req->one_way || f->req->ask_levels)
        return 0;
    for (size_t t = 0; t < f->nmterm; t++)
        if (f->term[t].nv > 1)
            return 0;
    for (size_t j = 0; j < f->nvar; j++)
        if (f->cov[j].var->kind != VAR_INTEGER && f->cov[j].var->nlevels == 0)
            return 0;
    for (size_t j = 0; j < f->nvar; j++) {
        struct covariate *c = &f->cov[j];
        if (c->var->kind == VAR_INTEGER)
            continue;
        c->level = xcalloc(c->var->nlevels, sizeof *c->level);
        for (size_t k = 0; k < c->var->nlevels; k++)
            if (where_allows(f->req, c->var, c->var->levels[k]))
                c->level[c->nlevel++] = xstrdup(c->var->levels[k]);
        c->held = xcalloc(f->nnodes * c->nlevel + 1, 1);
        memset(c->held, 1, f->nnodes * c->nlevel);
    }
    return 1;
}

static void
levels_release(struct fit *f)
{
    for (size_t j = 0; j < f->nvar; j++) {
        for (size_t k = 0; k < f->cov[j].nlevel; k++)
            free(f->cov[j].level[k]);
        free(f->cov[j].level);
        free(f->cov[j].held);
        f->cov[j].level = NULL;
        f->cov[j].held = NULL;
        f->cov[j].nlevel = 0;
    }
}

/* One factor's coding in a term: its columns' levels ("" for a numeric variable) and names. */
struct coding {
    const char *level[MODEL_MAX_LEVELS + 1];
    size_t n;
};

/*
 * Variable j's coding over the active nodes: a numeric variable's one
 * column; a factor's present levels, all of them (full) or but the first
 * (R's treatment contrasts: the first present level is the reference).
 */
static void
coding_of(const struct fit *f, size_t j, int full, struct coding *c)
{
    const struct covariate *cv = &f->cov[j];
    c->n = 0;
    if (cv->var->kind == VAR_INTEGER) {
        c->level[c->n++] = "";
        return;
    }
    size_t present = 0;
    for (size_t k = 0; k < cv->nlevel; k++) {
        int held = 0;
        for (size_t i = 0; i < f->nnodes; i++)
            held |= f->active[i] && cv->held[i * cv->nlevel + k];
        if (held && (present++ > 0 || full))
            c->level[c->n++] = cv->level[k];
    }
}

/*
 * Variable j is in a term before term t.  R's TermCode: a factor of a term
 * is coded by contrasts when the rest of the term lies within a term that
 * precedes it (for a:b, b in an earlier term: b itself, or b:c), else by
 * indicators of all its levels.
 */
static int
in_earlier_term(const struct fit *f, size_t t, size_t j)
{
    for (size_t u = 0; u < t; u++)
        if (f->term[u].v[0] == j || (f->term[u].nv == 2 && f->term[u].v[1] == j))
            return 1;
    return 0;
}

/* One column's name as R's model.matrix names it: var then level, "" for a numeric one. */
static void
factor_name(const struct fit *f, size_t j, const char *level, char *out, size_t len)
{
    snprintf(out, len, "%s%s", f->cov[j].var->name, level);
}

/* Append one column (var2 NULL: a main effect). */
static int
add_column(struct fit *f, size_t ja, const char *la, const size_t *jb, const char *lb,
    char *err)
{
    if (f->p == WIRE_MAX_COEF)
        return errf(err, "the model has more than %d coefficients", WIRE_MAX_COEF);
    struct column *c = &f->col[f->p++];
    char na[VARS_MAX_NAME + VARS_MAX_LEVEL + 1], nb[VARS_MAX_NAME + VARS_MAX_LEVEL + 1] = "";
    c->var = f->cov[ja].var->name;
    c->level = la;
    c->var2 = jb ? f->cov[*jb].var->name : "";
    c->level2 = jb ? lb : "";
    factor_name(f, ja, la, na, sizeof na);
    if (jb != NULL)
        factor_name(f, *jb, lb, nb, sizeof nb);
    snprintf(c->name, sizeof c->name, "%s%s%s", na, jb ? ":" : "", nb);
    return 0;
}

/*
 * The columns over the active nodes: R's model.matrix of the terms.  A
 * main-effect factor: treatment contrasts of its present levels.  In a:b, a
 * factor is coded by contrasts when the other variable is in an earlier
 * term (in_earlier_term), else by all its present levels; the columns run
 * over b's coding, a's varying fastest.  Every factor needs two present levels (R's contrasts()
 * refuses one, wherever the factor is used).
 */
static int
design(struct fit *f, char *err)
{
    const struct model_request *q = f->req;
    f->p = f->nterms = 0;
    if (q->glm) {
        struct column *c = &f->col[f->p++];
        c->var = c->level = c->var2 = c->level2 = "";
        snprintf(c->name, sizeof c->name, "(Intercept)");
    }
    for (size_t j = 0; j < f->nvar; j++) {
        struct coding all;
        if (f->cov[j].var->kind == VAR_INTEGER)
            continue;
        coding_of(f, j, 1, &all);
        if (all.n < 2)
            return errf(err, "covariate %s has %s among the selected patients of the answering "
                "nodes; a factor needs at least two levels (R: contrasts can be applied only "
                "to factors with 2 or more levels)", f->cov[j].var->name,
                all.n ? "only one level" : "no level");
    }
    for (size_t t = 0; t < f->nmterm; t++) {
        const struct mterm *mt = &f->term[t];
        struct coding ca, cb;
        coding_of(f, mt->v[0], mt->nv == 2 && !in_earlier_term(f, t, mt->v[1]), &ca);
        if (mt->nv == 1) {
            for (size_t k = 0; k < ca.n; k++)
                if (add_column(f, mt->v[0], ca.level[k], NULL, NULL, err) != 0)
                    return -1;
            continue;
        }
        coding_of(f, mt->v[1], !in_earlier_term(f, t, mt->v[0]), &cb);
        for (size_t kb = 0; kb < cb.n; kb++)
            for (size_t ka = 0; ka < ca.n; ka++)
                if (add_column(f, mt->v[0], ca.level[ka], &mt->v[1], cb.level[kb], err) != 0)
                    return -1;
    }
    for (size_t k = q->glm ? 1 : 0; k < f->p; k++) {
        Fedra__Term *t = &f->terms[f->nterms];
        fedra__term__init(t);
        t->var = (char *)f->col[k].var;
        t->level = (char *)f->col[k].level;
        t->var2 = (char *)f->col[k].var2;
        t->level2 = (char *)f->col[k].level2;
        f->termp[f->nterms++] = t;
    }
    return 0;
}

/*
 * One signed round at beta (NULL: glm's start).  Returns 1 if a node dropped
 * out, or if a node keeps no state for the fit (code model-state: it
 * restarted, or evicted the fit) and the fit has not been started again yet:
 * then every node stays in and the fit starts again from round 1, once.
 */
static int
round_trip(struct fit *f, Fedra__QuerySpec *s, struct node_reply *rep, char *err)
{
    f->rounds++;
    s->round = (uint32_t)f->rounds;
    memset(rep, 0, f->nnodes * sizeof *rep);
    if (f->send(f->ctx, s, f->active, rep, err) != 0)
        return -1;
    int dropped = 0, again = 0;
    for (size_t i = 0; i < f->nnodes && !f->restarted; i++)
        again |= f->active[i] && rep[i].status == NODE_REFUSED &&
            strcmp(rep[i].code, "model-state") == 0;
    if (again) {
        for (size_t i = 0; i < f->nnodes; i++)
            if (f->active[i] && rep[i].status == NODE_REFUSED &&
                strcmp(rep[i].code, "model-state") == 0)
                fprintf(stderr, "fedra: node %s keeps no state for the fit (%s); starting the "
                    "fit again\n", rep[i].body ? rep[i].body->node : "?", rep[i].reason);
        f->restarted = 1;
        client_replies_release(rep, f->nnodes);
        return 1;
    }
    for (size_t i = 0; i < f->nnodes; i++) {
        if (!f->active[i])
            continue;
        /* A node whose data changed since its first answer of this fit would mix two fits. */
        const struct node_reply *was = &f->final[i];
        if (rep[i].status == NODE_OK && was->body != NULL && was->status == NODE_OK &&
            (was->body->data_hash.len != rep[i].body->data_hash.len ||
                memcmp(was->body->data_hash.data, rep[i].body->data_hash.data,
                    rep[i].body->data_hash.len) != 0)) {
            rep[i].status = NODE_ERROR;
            snprintf(rep[i].reason, sizeof rep[i].reason,
                "its data changed during the fit (a new import); left out");
        }
        if (rep[i].status != NODE_OK) {
            f->active[i] = 0;
            dropped = 1;
        }
        keep_reply(f, i, &rep[i]);
    }
    return dropped;
}

/*
 * Sum the active nodes' answers of the last round in federation order
 * (modelsum_add: the function the nodes run on the same answers, R1) into
 * *sum, and point prev[0 .. *nprev) at those answers' signed envelopes, in
 * the same order, for the next round to carry.
 */
static int
sum_shares(struct fit *f, struct modelsum *sum, ProtobufCBinaryData *prev, size_t *nprev,
    char *err)
{
    *nprev = 0;
    for (size_t i = 0; i < f->nnodes; i++) {
        if (!f->active[i])
            continue;
        if (modelsum_add(sum, f->final[i].body->model, err) != 0)
            return -1;
        prev[*nprev].data = f->final[i].raw.p;
        prev[(*nprev)++].len = f->final[i].raw.len;
    }
    f->n = sum->n;
    f->events = sum->events;
    f->dropped = sum->dropped;
    f->excluded = sum->excluded;
    f->dropped_supp = sum->dropped_suppressed;
    f->boundary_supp = sum->boundary_suppressed;
    f->excluded_supp = sum->excluded_suppressed;
    f->grid = sum->grid;
    return 0;
}

struct outcome {
    struct cox_result cox;
    struct glm_result glm;
};

/*
 * The Newton-Raphson or IRLS loop over the active nodes (proto/modelsum.h:
 * the path every node replays).  Round k >= 2 carries the signed answers of
 * round k-1 in the order they were summed.  Returns 0 when done, 1 when a
 * node dropped out or the fit must start again (start again), -1 on error.
 */
static int
fit_once(struct fit *f, struct outcome *o, char *err)
{
    const struct model_request *q = f->req;
    size_t p = f->p;
    int rc = 0;
    struct modelpath mp;
    if (modelpath_init(&mp, q->glm, p, q->max_iter) != 0)
        return errf(err, "cannot start the %s (%zu coefficients)",
            q->glm ? "IRLS" : "Newton-Raphson", p);
    uint8_t model_id[WIRE_QUERY_ID_LEN];
    if (RAND_bytes(model_id, sizeof model_id) != 1)
        rc = errf(err, "no randomness for the model id");
    double *beta = xcalloc(p, sizeof *beta);
    struct node_reply *rep = xcalloc(f->nnodes, sizeof *rep);
    ProtobufCBinaryData *prev = xcalloc(f->nnodes + 1, sizeof *prev);
    size_t nprev = 0;
    while (rc == 0 && !modelpath_done(&mp)) {
        const double *b = modelpath_next_beta(&mp);
        Fedra__QuerySpec s;
        base_spec(f, &s);
        s.kind = q->glm ? FEDRA__KIND__KIND_GLM : FEDRA__KIND__KIND_COX;
        s.n_terms = f->nterms;
        s.terms = f->termp;
        s.max_iter = (uint32_t)q->max_iter;
        if (b != NULL)
            memcpy(beta, b, p * sizeof *beta);
        s.n_beta = b != NULL ? p : 0;
        s.beta = beta;
        s.model_id.data = model_id;
        s.model_id.len = sizeof model_id;
        s.n_prev_answers = nprev;
        s.prev_answers = prev;
        if (q->glm) {
            static const Fedra__Term init = FEDRA__TERM__INIT;
            Fedra__Term *ot = xcalloc(1, sizeof *ot);
            *ot = init;
            ot->var = (char *)q->outcome_var;
            ot->level = (char *)q->outcome_level;
            s.outcome = ot;
        } else {
            s.endpoint = q->endpoint;
            s.grid_days = q->grid_days;
            s.exact_times = q->exact_times;
            s.ties = q->ties;
            s.strata = (char *)(q->strata ? q->strata : "");
        }
        rc = round_trip(f, &s, rep, err);
        free(s.outcome);
        if (rc != 0)
            break;
        struct modelsum sum;
        modelsum_init(&sum, p);
        rc = sum_shares(f, &sum, prev, &nprev, err);
        if (rc == 0)
            rc = modelpath_feed(&mp, &sum, err);
        modelsum_release(&sum);
        if (rc == 0 && mp.no_events) {
            /* coxph does not iterate without an event: R's NA result, 0 iterations. */
            rc = cox_result_no_events(p, &o->cox) != 0 ? errf(err, "out of memory") : 2;
            break;
        }
    }
    if (rc == 0 && (q->glm ? glm_irls_result(&mp.irls, &o->glm)
                           : cox_nr_result(&mp.cox, &o->cox)) != 0)
        rc = errf(err, "out of memory");
    if (rc == 2)
        rc = 0;
    free(prev);
    free(rep);
    free(beta);
    modelpath_release(&mp);
    return rc;
}

/* ---- a fit that leaves patients out (issue 12: never mistaken for the pooled fit) ---- */

/* A suppressed count of 1 .. max_hidden into h's range (no bound if max_hidden is unknown). */
static void
holds_add_suppressed(struct holds *h, int have_mh, uint32_t mh)
{
    h->lo += 1;
    h->hi += have_mh ? mh : 1;
    h->hi_unknown |= !have_mh;
}

static void
note_holds(struct fit *f, size_t i, const struct node_reply *rep)
{
    struct holds *h = &f->holds[i];
    const Fedra__ResponseBody *b = rep->body;
    if (rep->status != NODE_OK || b == NULL)
        return;
    if (b->model != NULL) {
        const Fedra__ModelResult *m = b->model;
        h->lo = h->hi = m->n + m->excluded;
        h->hi_unknown = 0;
        if (m->excluded_suppressed)
            holds_add_suppressed(h, h->have_max_hidden, h->max_hidden);
        h->events = m->events;
        h->known = h->from_model = 1;
    } else if (b->count != NULL && !h->from_model) {
        const Fedra__CountResult *c = b->count;
        h->lo = h->hi = 0;
        h->hi_unknown = 0;
        h->max_hidden = c->max_hidden;
        h->have_max_hidden = h->known = 1;
        for (size_t k = 0; k < c->n_cells; k++) {
            if (c->cells[k]->suppressed)
                holds_add_suppressed(h, 1, c->max_hidden);
            else if (c->cells[k]->withheld)
                h->lo += 1, h->hi_unknown = 1;
            h->lo += c->cells[k]->count;
            h->hi += c->cells[k]->count;
        }
    }
}

/* The model answer of a node that took part to the end, or NULL. */
static const Fedra__ModelResult *
final_model(const struct fit *f, size_t i)
{
    const Fedra__ResponseBody *b = f->final[i].body;
    return f->active[i] && f->final[i].status == NODE_OK && b != NULL ? b->model : NULL;
}

/*
 * 1 if node i's selected patients are not all in the fit: it was left out
 * (refused, failed, timed out, dropped) and does not say it holds none, or
 * it took part with some of them excluded (a level held by fewer than its
 * min_cell).  A node that answered n = 0 holds nobody the fit needs.
 */
static int
left_out(const struct fit *f, size_t i)
{
    const struct holds *h = &f->holds[i];
    if (f->active[i]) {
        const Fedra__ModelResult *m = final_model(f, i);
        return m != NULL && (m->excluded > 0 || m->excluded_suppressed);
    }
    return !(h->known && h->hi == 0 && !h->hi_unknown);
}

static int
fit_partial(const struct fit *f)
{
    for (size_t i = 0; i < f->nnodes; i++)
        if (left_out(f, i))
            return 1;
    return 0;
}

/* A count of patients as far as it is known: "523", "1 to 4", "at least 3", "unknown". */
static void
range_text(uint64_t lo, uint64_t hi, int hi_unknown, int known, char *out, size_t len)
{
    if (!known)
        snprintf(out, len, "unknown");
    else if (hi_unknown)
        snprintf(out, len, "at least %llu", (unsigned long long)lo);
    else if (lo == hi)
        snprintf(out, len, "%llu", (unsigned long long)lo);
    else
        snprintf(out, len, "%llu to %llu", (unsigned long long)lo, (unsigned long long)hi);
}

/* The patients node i's answers leave out of the fit: all it holds, or its exclusions. */
static void
left_out_range(const struct fit *f, size_t i, uint64_t *lo, uint64_t *hi, int *hi_unknown,
    int *known)
{
    const struct holds *h = &f->holds[i];
    const Fedra__ModelResult *m = final_model(f, i);
    *known = 1;
    if (m != NULL) {
        struct holds x = {0};
        x.lo = x.hi = m->excluded;
        if (m->excluded_suppressed)
            holds_add_suppressed(&x, h->have_max_hidden, h->max_hidden);
        *lo = x.lo, *hi = x.hi, *hi_unknown = x.hi_unknown;
    } else {
        *lo = h->lo, *hi = h->hi, *hi_unknown = h->hi_unknown, *known = h->known;
    }
}

/* "partial fit: N of M nodes, n = X of Y" (Y as known: a range, at least, ...). */
static void
partial_line(const struct fit *f, char *out, size_t len)
{
    size_t took = 0, nunknown = 0;
    uint64_t lo = f->n, hi = f->n;
    int unknown = 0;
    for (size_t i = 0; i < f->nnodes; i++) {
        took += f->active[i];
        if (!left_out(f, i))
            continue;
        uint64_t a, b;
        int hu, known;
        left_out_range(f, i, &a, &b, &hu, &known);
        lo += a;
        hi += b;
        unknown |= hu || !known;
        nunknown += !known;
    }
    char total[64], note[64] = "";
    range_text(lo, hi, unknown, 1, total, sizeof total);
    if (nunknown > 0)
        snprintf(note, sizeof note, " (unknown at %zu node%s left out)", nunknown,
            nunknown > 1 ? "s" : "");
    snprintf(out, len, "partial fit: %zu of %zu nodes, n = %llu of %s selected patients%s", took,
        f->nnodes, (unsigned long long)f->n, total, note);
}

/* One line per node left out: why, and how many selected patients it holds where that is known. */
static void
print_left_out(const struct fit *f, FILE *out)
{
    for (size_t i = 0; i < f->nnodes; i++) {
        if (!left_out(f, i))
            continue;
        uint64_t lo, hi;
        int hu, known;
        char n[64];
        left_out_range(f, i, &lo, &hi, &hu, &known);
        range_text(lo, hi, hu, known, n, sizeof n);
        if (f->active[i])
            fprintf(out, "  %s: took part without %s of its selected patients (a level of a "
                "model variable held by fewer than its min_cell)\n", f->r->fed->nodes[i].name, n);
        else
            fprintf(out, "  %s: left out (%s: %s); selected patients it holds: %s\n",
                f->r->fed->nodes[i].name, client_status_name(f->final[i].status),
                f->final[i].reason, n);
    }
}

/*
 * The nodes for JSON: report_nodes_json's objects, with what the fit knows
 * of each: "n", "events", "excluded" (exact), or "n": null and "n_known"
 * ("1 to 4", "at least 3", "unknown") where only a range is known.
 */
static json_t *
fit_nodes_json(const struct fit *f, const struct report *rr)
{
    json_t *a = report_nodes_json(rr);
    /* pooled (coord/pooled.h): the nodes of the roster; the one answer is the pool's */
    for (size_t i = 0; rr->pooled == NULL && i < f->nnodes; i++) {
        json_t *o = json_array_get(a, i);
        const struct holds *h = &f->holds[i];
        const Fedra__ModelResult *m = final_model(f, i);
        char t[64];
        range_text(h->lo, h->hi, h->hi_unknown, h->known, t, sizeof t);
        if (m != NULL || (h->known && h->lo == h->hi && !h->hi_unknown))
            json_object_set_new(o, "n", json_integer((json_int_t)(m ? m->n : h->lo)));
        else
            json_object_set_new(o, "n", json_null());
        if (m == NULL && !(h->known && h->lo == h->hi && !h->hi_unknown))
            json_object_set_new(o, "n_known", json_string(t));
        if (h->from_model)
            json_object_set_new(o, "events", json_integer((json_int_t)(m ? m->events : h->events)));
        if (m != NULL && m->excluded_suppressed)
            json_object_set_new(o, "excluded", json_string("suppressed"));
        else if (m != NULL)
            json_object_set_new(o, "excluded", json_integer((json_int_t)m->excluded));
        json_object_set_new(o, "left_out", json_boolean(left_out(f, i)));
    }
    return a;
}

/*
 * A fit that leaves patients out, without --allow-partial: no coefficients;
 * the nodes on stdout (json: with "partial": true and "result": null), and
 * on stderr each node left out with why and what it holds.
 */
static void
refuse_partial(const struct fit *f)
{
    const struct report *r = f->r;
    struct report rr = *r;
    rr.replies = f->final;
    char line[256];
    partial_line(f, line, sizeof line);
    if (r->format == REPORT_JSON)
        report_emit_json_nodes(&rr, fit_nodes_json(f, &rr), 1, NULL);
    else
        report_nodes_text(&rr, r->format == REPORT_CSV ? r->diag : r->out);
    fprintf(stderr, "fedra: the fit is not printed: it would be a %s, not the pooled fit "
        "(--allow-partial prints it, marked partial).  Left out:\n", line);
    print_left_out(f, stderr);
}

/* The exit status's note on stderr: a printed partial fit, or nodes that hold nobody. */
static void
note_partial(const struct fit *f, int partial)
{
    char line[256];
    if (partial) {
        partial_line(f, line, sizeof line);
        fprintf(stderr, "fedra: %s: the model is the exact fit of the patients that took "
            "part, not the pooled fit.  Left out:\n", line);
        print_left_out(f, stderr);
    } else {
        fputs("fedra: not every node took part; those left out hold no selected patients, so "
            "the model is the pooled fit\n", stderr);
    }
}

/* ---- printing ---- */

static const char *
ties_name(Fedra__Ties t)
{
    return t == FEDRA__TIES__TIES_BRESLOW ? "breslow" : "efron";
}

static void
print_num_col(FILE *out, double x, int w)
{
    if (x == x)
        fprintf(out, " %*.*g", w, 6, x);
    else
        fprintf(out, " %*s", w, "NA");
}

static void
print_test(FILE *out, const char *name, double stat, int df)
{
    fprintf(out, "%-22s = %.6g on %d df, p = %.3g\n", name, stat, df, chisq_upper(stat, df));
}

/*
 * Collinear columns, all named in one warning (coxph gives them NA and
 * names none): "a, b and c are collinear with the other covariates (R: NA)".
 */
static void
aliased_warning(const struct fit *f, const struct outcome *o, json_t *w)
{
    struct buf b = {0};
    size_t n = 0, total = 0;
    for (size_t k = 0; k < f->p; k++)
        total += o->cox.aliased[k] != 0;
    for (size_t k = 0; k < f->p; k++)
        if (o->cox.aliased[k]) {
            n++;
            buf_printf(&b, "%s%s", n == 1 ? "" : n == total ? " and " : ", ", f->col[k].name);
        }
    if (n > 0) {
        buf_printf(&b, " %s collinear with the other covariates (R: NA)", n > 1 ? "are" : "is");
        json_array_append_new(w, json_string((const char *)b.p));
    }
    buf_release(&b);
}

/*
 * A count the fit's nodes released (R2) summed over them: dropped
 * (excluded = 0) or excluded (1).  A node that sent its count only as
 * 1 .. min_cell-1 adds 1 to *lo and its max_hidden (from its count answers)
 * to *hi; *hi is -1 when such a node's max_hidden is not known.
 */
static void
count_range(const struct fit *f, int excluded, uint64_t *lo, int64_t *hi)
{
    *lo = 0;
    *hi = 0;
    for (size_t i = 0; i < f->nnodes; i++) {
        if (!f->active[i] || f->final[i].body == NULL || f->final[i].body->model == NULL)
            continue;
        const Fedra__ModelResult *m = f->final[i].body->model;
        int supp = excluded ? m->excluded_suppressed : m->dropped_suppressed;
        uint64_t v = excluded ? m->excluded : m->dropped;
        *lo += supp ? 1 : v;
        if (*hi >= 0)
            *hi = supp && f->hidden[i] == 0 ? -1 : *hi + (int64_t)(supp ? f->hidden[i] : v);
    }
}

static void
range_json(json_t *res, const char *name, const char *max, uint64_t lo, int64_t hi)
{
    json_object_set_new(res, name, json_integer((json_int_t)lo));
    json_object_set_new(res, max, hi < 0 ? json_null() : json_integer((json_int_t)hi));
}

/*
 * The nodes that left patients out of their contribution (R2: a level of a
 * model variable held by 1 .. min_cell-1 of their patients), one warning
 * each: the fit is then not the pooled fit of the selected patients.
 */
static void
excluded_warnings(const struct fit *f, json_t *w)
{
    for (size_t i = 0; i < f->nnodes; i++) {
        if (!f->active[i] || f->final[i].body == NULL || f->final[i].body->model == NULL)
            continue;
        const Fedra__ModelResult *m = f->final[i].body->model;
        if (m->excluded == 0 && !m->excluded_suppressed)
            continue;
        char n[64], line[512];
        if (m->excluded_suppressed && f->hidden[i] > 0)
            snprintf(n, sizeof n, "1 to %u patients", f->hidden[i]);
        else if (m->excluded_suppressed)
            snprintf(n, sizeof n, "1 to min_cell-1 patients");
        else
            snprintf(n, sizeof n, "%llu patient%s", (unsigned long long)m->excluded,
                m->excluded == 1 ? "" : "s");
        snprintf(line, sizeof line, "node %s left %s out of the fit: their level of a model "
            "variable is held by fewer than its min_cell patients there; this is not the pooled "
            "fit of the selected patients", f->final[i].body->node, n);
        json_array_append_new(w, json_string(line));
    }
}

/* Per node: its patients in the fit, events, dropped and excluded (null where suppressed). */
static json_t *
per_node_json(const struct fit *f)
{
    json_t *a = json_array();
    for (size_t i = 0; i < f->nnodes; i++) {
        if (!f->active[i] || f->final[i].body == NULL || f->final[i].body->model == NULL)
            continue;
        const Fedra__ModelResult *m = f->final[i].body->model;
        json_t *o = json_object();
        json_object_set_new(o, "node", json_string(f->final[i].body->node));
        json_object_set_new(o, "n", json_integer((json_int_t)m->n));
        json_object_set_new(o, "events", json_integer((json_int_t)m->events));
        json_object_set_new(o, "dropped", m->dropped_suppressed ? json_null() :
            json_integer((json_int_t)m->dropped));
        json_object_set_new(o, "dropped_suppressed", json_boolean(m->dropped_suppressed));
        json_object_set_new(o, "excluded", m->excluded_suppressed ? json_null() :
            json_integer((json_int_t)m->excluded));
        json_object_set_new(o, "excluded_suppressed", json_boolean(m->excluded_suppressed));
        json_array_append_new(a, o);
    }
    return a;
}

/* The summary's dropped and excluded ranges, and per-node figures (R2). */
static void
counts_json(const struct fit *f, json_t *res)
{
    uint64_t lo;
    int64_t hi;
    count_range(f, 0, &lo, &hi);
    range_json(res, "dropped", "dropped_max", lo, hi);
    count_range(f, 1, &lo, &hi);
    range_json(res, "excluded", "excluded_max", lo, hi);
    json_object_set_new(res, "per_node", per_node_json(f));
}

/* " (N dropped for missing values)" after n and events, if any were. */
static void
print_dropped(const struct fit *f, FILE *out)
{
    uint64_t lo;
    int64_t hi;
    char t[64];
    count_range(f, 0, &lo, &hi);
    if (lo == 0)
        return;
    range_text(lo, hi < 0 ? 0 : (uint64_t)hi, hi < 0, 1, t, sizeof t);
    fprintf(out, " (%s dropped for missing values)", t);
}

/* R's warnings, one line each; then the nodes that left patients out. */
static json_t *
warnings(const struct fit *f, const struct outcome *o)
{
    json_t *w = json_array();
    excluded_warnings(f, w);
    char line[256];
    if (f->req->glm) {
        if (o->glm.status == GLM_NOT_CONVERGED)
            json_array_append_new(w, json_string("glm.fit: algorithm did not converge"));
        else if (o->glm.status != GLM_CONVERGED)
            json_array_append_new(w, json_string("glm.fit: no valid set of coefficients has "
                "been found"));
        /* A node that sent n_boundary only as 1 .. min_cell-1 had some (R2). */
        if (o->glm.fitted_01 || f->boundary_supp > 0)
            json_array_append_new(w, json_string("glm.fit: fitted probabilities numerically 0 "
                "or 1 occurred (complete or quasi-complete separation)"));
    } else if (f->events == 0) {
        json_array_append_new(w, json_string("no event among the selected patients: every "
            "coefficient is NA, as coxph reports it"));
    } else {
        if (o->cox.status == COX_NOT_CONVERGED)
            json_array_append_new(w, json_string("Ran out of iterations and did not converge"));
        else if (o->cox.status == COX_START_NOT_FINITE)
            json_array_append_new(w, json_string("the log-likelihood is not finite at the "
                "start; coefficients left at 0"));
        for (size_t k = 0; k < f->p; k++)
            if (o->cox.infinite[k]) {
                snprintf(line, sizeof line, "Loglik converged before variable %zu (%s); "
                    "coefficient may be infinite (separation: every event is on one side)",
                    k + 1, f->col[k].name);
                json_array_append_new(w, json_string(line));
            }
        aliased_warning(f, o, w);
    }
    return w;
}

static json_t *
cox_json(const struct fit *f, const struct outcome *o, double wald, int wdf, json_t *warn)
{
    const struct cox_result *c = &o->cox;
    double z = km_qnorm(0.975);
    json_t *res = json_object(), *coefs = json_array(), *ll = json_array();
    json_object_set_new(res, "model", json_string("cox"));
    json_object_set_new(res, "n", json_integer((json_int_t)f->n));
    json_object_set_new(res, "nevent", json_integer((json_int_t)f->events));
    counts_json(f, res);
    json_object_set_new(res, "ties", json_string(ties_name(f->req->ties)));
    json_object_set_new(res, "strata", f->strata ? json_string(f->strata->name) : json_null());
    json_object_set_new(res, "grid_days", json_integer(f->grid));
    json_object_set_new(res, "iterations", json_integer(c->iter));
    json_object_set_new(res, "rounds", json_integer(f->rounds));
    json_array_append_new(ll, report_json_num(c->loglik[0]));
    json_array_append_new(ll, report_json_num(c->loglik[1]));
    json_object_set_new(res, "loglik", ll);
    for (size_t k = 0; k < f->p; k++) {
        json_t *t = json_object();
        json_object_set_new(t, "term", json_string(f->col[k].name));
        json_object_set_new(t, "coef", report_json_num(c->coef[k]));
        json_object_set_new(t, "exp_coef", report_json_num(c->exp_coef[k]));
        json_object_set_new(t, "se", report_json_num(c->se[k]));
        json_object_set_new(t, "z", report_json_num(c->z[k]));
        json_object_set_new(t, "p", report_json_num(c->pval[k]));
        json_object_set_new(t, "lower_95", report_json_num(exp(c->coef[k] - z * c->se[k])));
        json_object_set_new(t, "upper_95", report_json_num(exp(c->coef[k] + z * c->se[k])));
        json_array_append_new(coefs, t);
    }
    json_object_set_new(res, "coefficients", coefs);
    int df = c->rank;
    double lr = 2 * (c->loglik[1] - c->loglik[0]);
    json_t *tests = json_object(), *x;
    const struct { const char *name; double stat; int df; } tt[] = {
        {"likelihood_ratio", lr, df}, {"wald", wald, wdf}, {"score", c->sctest, df}};
    for (size_t k = 0; k < 3; k++) {
        x = json_object();
        json_object_set_new(x, "statistic", report_json_num(tt[k].stat));
        json_object_set_new(x, "df", json_integer(tt[k].df));
        json_object_set_new(x, "p", report_json_num(chisq_upper(tt[k].stat, tt[k].df)));
        json_object_set_new(tests, tt[k].name, x);
    }
    json_object_set_new(res, "tests", tests);
    json_object_set_new(res, "converged", json_boolean(c->status == COX_CONVERGED ||
        c->status == COX_INFINITE));
    json_object_set_new(res, "warnings", json_incref(warn));
    return res;
}

static json_t *
glm_json(const struct fit *f, const struct outcome *o, json_t *warn)
{
    const struct glm_result *g = &o->glm;
    json_t *res = json_object(), *coefs = json_array();
    json_object_set_new(res, "model", json_string("glm"));
    json_object_set_new(res, "family", json_string("binomial"));
    json_object_set_new(res, "n", json_integer((json_int_t)f->n));
    json_object_set_new(res, "nevent", json_integer((json_int_t)f->events));
    counts_json(f, res);
    json_object_set_new(res, "iterations", json_integer(g->iter));
    json_object_set_new(res, "rounds", json_integer(f->rounds));
    json_object_set_new(res, "deviance", report_json_num(g->deviance));
    json_object_set_new(res, "null_deviance", report_json_num(g->null_deviance));
    json_object_set_new(res, "df_residual", json_integer((json_int_t)g->df_residual));
    json_object_set_new(res, "df_null", json_integer((json_int_t)g->df_null));
    json_object_set_new(res, "aic", report_json_num(g->aic));
    for (size_t k = 0; k < f->p; k++) {
        json_t *t = json_object();
        json_object_set_new(t, "term", json_string(f->col[k].name));
        json_object_set_new(t, "estimate", report_json_num(g->coef[k]));
        json_object_set_new(t, "se", report_json_num(g->se[k]));
        json_object_set_new(t, "z", report_json_num(g->z[k]));
        json_object_set_new(t, "p", report_json_num(g->pval[k]));
        json_array_append_new(coefs, t);
    }
    json_object_set_new(res, "coefficients", coefs);
    json_object_set_new(res, "converged", json_boolean(g->status == GLM_CONVERGED));
    json_object_set_new(res, "warnings", json_incref(warn));
    return res;
}

static void
print_table(const struct fit *f, const struct outcome *o, json_t *res, FILE *out)
{
    const struct model_request *q = f->req;
    size_t w = 4;
    if (fit_partial(f)) {
        char line[256];
        partial_line(f, line, sizeof line);
        fprintf(out, "*** %s: not the pooled fit (left out: see the nodes below) ***\n", line);
    }
    for (size_t k = 0; k < f->p; k++)
        w = strlen(f->col[k].name) > w ? strlen(f->col[k].name) : w;
    if (q->glm) {
        const struct glm_result *g = &o->glm;
        fprintf(out, "Logistic regression (binomial, logit link) of %s=%s, by federated IRLS\n",
            q->outcome_var, q->outcome_level);
        fprintf(out, "n = %llu, events = %llu", (unsigned long long)f->n,
            (unsigned long long)f->events);
        print_dropped(f, out);
        fprintf(out, "\n\n%-*s %12s %12s %10s %12s\n", (int)w, "term", "Estimate", "Std. Error",
            "z value", "Pr(>|z|)");
        for (size_t k = 0; k < f->p; k++) {
            fprintf(out, "%-*s", (int)w, f->col[k].name);
            print_num_col(out, g->coef[k], 12);
            print_num_col(out, g->se[k], 12);
            print_num_col(out, g->z[k], 10);
            print_num_col(out, g->pval[k], 12);
            fputc('\n', out);
        }
        fprintf(out, "\n    Null deviance: %.6g on %lld degrees of freedom\n", g->null_deviance,
            (long long)g->df_null);
        fprintf(out, "Residual deviance: %.6g on %lld degrees of freedom\n", g->deviance,
            (long long)g->df_residual);
        fprintf(out, "AIC: %.6g\nNumber of Fisher Scoring iterations: %d (%d node rounds)\n",
            g->aic, g->iter, f->rounds);
    } else {
        const struct cox_result *c = &o->cox;
        double z = km_qnorm(0.975);
        fprintf(out, "Cox model stratified by node%s%s: endpoint %s, ", q->strata ? " and by " : "",
            q->strata ? q->strata : "", q->endpoint == FEDRA__ENDPOINT__ENDPOINT_EFS ? "efs" : "os");
        if (f->grid)
            fprintf(out, "times on a %u-day grid, ", f->grid);
        else
            fprintf(out, "exact times, ");
        fprintf(out, "%s ties\n", ties_name(q->ties));
        fprintf(out, "n = %llu, number of events = %llu", (unsigned long long)f->n,
            (unsigned long long)f->events);
        print_dropped(f, out);
        fprintf(out, "\n\n%-*s %12s %12s %12s %10s %12s %12s %12s\n", (int)w, "term", "coef",
            "exp(coef)", "se(coef)", "z", "Pr(>|z|)", "lower .95", "upper .95");
        for (size_t k = 0; k < f->p; k++) {
            fprintf(out, "%-*s", (int)w, f->col[k].name);
            print_num_col(out, c->coef[k], 12);
            print_num_col(out, c->exp_coef[k], 12);
            print_num_col(out, c->se[k], 12);
            print_num_col(out, c->z[k], 10);
            print_num_col(out, c->pval[k], 12);
            print_num_col(out, exp(c->coef[k] - z * c->se[k]), 12);
            print_num_col(out, exp(c->coef[k] + z * c->se[k]), 12);
            fputc('\n', out);
        }
        json_t *t = json_object_get(res, "tests");
        fputc('\n', out);
        const char *names[] = {"likelihood_ratio", "wald", "score"};
        const char *label[] = {"Likelihood ratio test", "Wald test", "Score (logrank) test"};
        for (size_t k = 0; k < 3; k++) {
            json_t *x = json_object_get(t, names[k]);
            print_test(out, label[k], json_real_value(json_object_get(x, "statistic")),
                (int)json_integer_value(json_object_get(x, "df")));
        }
        fprintf(out, "Log-likelihood: initial %.10g, final %.10g\n", c->loglik[0], c->loglik[1]);
        fprintf(out, "Iterations: %d (%d node rounds)\n", c->iter, f->rounds);
    }
}

/* The CSV summary columns of a Cox fit (README, "Results"), from cox_json's object. */
static void
cox_tail(const struct fit *f, const struct outcome *o, json_t *res, struct buf *t)
{
    const struct cox_result *c = &o->cox;
    const char *names[] = {"likelihood_ratio", "wald", "score"};
    report_tail_int(t, (long long)f->n);
    report_tail_int(t, (long long)f->events);
    report_tail_int(t, (long long)f->dropped + (long long)f->dropped_supp);
    report_tail_int(t, (long long)f->excluded + (long long)f->excluded_supp);
    report_tail_str(t, f->req->endpoint == FEDRA__ENDPOINT__ENDPOINT_EFS ? "efs" : "os");
    report_tail_int(t, f->grid);
    report_tail_str(t, ties_name(f->req->ties));
    report_tail_num(t, c->loglik[0]);
    report_tail_num(t, c->loglik[1]);
    for (size_t k = 0; k < 3; k++) {
        json_t *x = json_object_get(json_object_get(res, "tests"), names[k]);
        report_tail_num(t, json_number_value(json_object_get(x, "statistic")));
        report_tail_int(t, json_integer_value(json_object_get(x, "df")));
        report_tail_num(t, json_number_value(json_object_get(x, "p")));
    }
    report_tail_int(t, c->iter);
    report_tail_int(t, f->rounds);
    report_tail_bool(t, json_is_true(json_object_get(res, "converged")));
    report_tail_bool(t, fit_partial(f));
}

#define COX_CSV_SUMMARY "n,nevent,dropped,excluded,endpoint,grid_days,ties,loglik_initial,loglik_final," \
    "lr,lr_df,lr_p,wald,wald_df,wald_p,score,score_df,score_p,iterations,rounds,converged," \
    "partial"

/* The CSV summary columns of a logistic fit. */
static void
glm_tail(const struct fit *f, const struct outcome *o, struct buf *t)
{
    const struct glm_result *g = &o->glm;
    char outcome[VARS_MAX_NAME + VARS_MAX_LEVEL + 2];
    snprintf(outcome, sizeof outcome, "%s=%s", f->req->outcome_var, f->req->outcome_level);
    report_tail_str(t, outcome);
    report_tail_int(t, (long long)f->n);
    report_tail_int(t, (long long)f->events);
    report_tail_int(t, (long long)f->dropped + (long long)f->dropped_supp);
    report_tail_int(t, (long long)f->excluded + (long long)f->excluded_supp);
    report_tail_num(t, g->null_deviance);
    report_tail_int(t, (long long)g->df_null);
    report_tail_num(t, g->deviance);
    report_tail_int(t, (long long)g->df_residual);
    report_tail_num(t, g->aic);
    report_tail_int(t, g->iter);
    report_tail_int(t, f->rounds);
    report_tail_bool(t, g->status == GLM_CONVERGED);
    report_tail_bool(t, fit_partial(f));
}

#define GLM_CSV_SUMMARY "outcome,n,nevent,dropped,excluded,null_deviance,df_null,deviance,df_residual," \
    "aic,iterations,rounds,converged,partial"

/* CSV: one row per coefficient, then the fit's summary and the nodes on every row. */
static void
print_csv(const struct fit *f, const struct outcome *o, json_t *res, const struct report *rr)
{
    FILE *out = rr->out;
    double z = km_qnorm(0.975);
    struct buf tail = {0};
    if (f->req->glm) {
        fputs("term,estimate,se,z,p," GLM_CSV_SUMMARY ",nodes\n", out);
        glm_tail(f, o, &tail);
    } else {
        fputs("term,coef,exp_coef,se,z,p,lower_95,upper_95," COX_CSV_SUMMARY ",nodes\n", out);
        cox_tail(f, o, res, &tail);
    }
    report_tail_nodes(&tail, rr);
    for (size_t k = 0; k < f->p; k++) {
        report_csv_field(out, f->col[k].name);
        if (f->req->glm) {
            const struct glm_result *g = &o->glm;
            const double *v[] = {g->coef, g->se, g->z, g->pval};
            for (size_t m = 0; m < 4; m++) {
                fputc(',', out);
                report_put_num(out, v[m][k]);
            }
        } else {
            const struct cox_result *c = &o->cox;
            const double *v[] = {c->coef, c->exp_coef, c->se, c->z, c->pval};
            for (size_t m = 0; m < 5; m++) {
                fputc(',', out);
                report_put_num(out, v[m][k]);
            }
            fputc(',', out);
            report_put_num(out, exp(c->coef[k] - z * c->se[k]));
            fputc(',', out);
            report_put_num(out, exp(c->coef[k] + z * c->se[k]));
        }
        fprintf(out, "%s\n", report_tail_text(&tail));
    }
    buf_release(&tail);
}

static int
print_fit(const struct fit *f, const struct outcome *o, char *err)
{
    const struct report *r = f->r;
    double wald = 0;
    int wdf = 0;
    if (!f->req->glm && cox_wald_test(&o->cox, pow(2.220446049250313e-16, 0.75), &wald, &wdf) != 0)
        return errf(err, "out of memory");
    json_t *warn = warnings(f, o);
    json_t *res = f->req->glm ? glm_json(f, o, warn) : cox_json(f, o, wald, wdf, warn);
    struct report rr = *r;
    rr.replies = f->final;
    if (r->format == REPORT_JSON) {
        report_emit_json_nodes(&rr, fit_nodes_json(f, &rr), fit_partial(f), res);
        res = NULL;
    } else if (r->format == REPORT_CSV) {
        print_csv(f, o, res, &rr);
        report_nodes_text(&rr, r->diag);
    } else {
        print_table(f, o, res, r->out);
        fputc('\n', r->out);
        report_nodes_text(&rr, r->out);
    }
    for (size_t k = 0; k < json_array_size(warn); k++)
        fprintf(stderr, "fedra: warning: %s\n", json_string_value(json_array_get(warn, k)));
    json_decref(res);
    json_decref(warn);
    return 0;
}

/*
 * The fit is done: print it, unless it leaves out patients of a node and
 * --allow-partial was not given (then only the nodes, and why).  Returns
 * the exit status: 0 every node took part with all its patients, 3 not
 * (printed as partial, refused, or nodes left out that hold nobody), 1 on
 * failure (*rc set).
 */
static int
finish_fit(const struct fit *f, const struct outcome *o, int *rc, char *err)
{
    int all = 1, partial = fit_partial(f);
    for (size_t i = 0; i < f->nnodes; i++)
        all &= f->active[i];
    if (partial && !f->req->allow_partial) {
        refuse_partial(f);
        return 3;
    }
    if ((*rc = print_fit(f, o, err)) != 0)
        return 1;
    if (!all || partial)
        note_partial(f, partial);
    return all && !partial ? 0 : 3;
}

/* ---- the fit ---- */

/* Variable name's index in f->cov, added on first appearance; -1 with err if unknown. */
static int
term_var(struct fit *f, const char *name, size_t *j, char *err)
{
    const struct var_def *v = vars_find(name);
    if (v == NULL)
        return errf(err, "unknown covariate '%s' (variables: %s)", name, vars_names());
    for (*j = 0; *j < f->nvar; (*j)++)
        if (f->cov[*j].var == v)
            return 0;
    f->cov[f->nvar++].var = v;
    return 0;
}

static int
mterm_same(const struct mterm *a, const struct mterm *b)
{
    return a->nv == b->nv && a->v[0] == b->v[0] && (a->nv == 1 || a->v[1] == b->v[1]);
}

/*
 * One --covariates item: V, a:b or a*b, into *t (its variables in the
 * order they first appear) and *star (a*b).
 */
static int
parse_item(struct fit *f, const char *item, struct mterm *t, int *star, char *err)
{
    char buf[2 * VARS_MAX_NAME + 8];
    if (strlen(item) >= sizeof buf)
        return errf(err, "covariate '%.40s...' is too long", item);
    snprintf(buf, sizeof buf, "%s", item);
    char *op = strpbrk(buf, ":*");
    *star = op != NULL && *op == '*';
    t->nv = op ? 2 : 1;
    if (op != NULL) {
        *op = 0;
        if (strpbrk(op + 1, ":*") != NULL)
            return errf(err, "'%s': an interaction of more than two variables is not "
                "available (at most a:b or a*b)", item);
    }
    if (term_var(f, buf, &t->v[0], err) != 0 || (op && term_var(f, op + 1, &t->v[1], err) != 0))
        return -1;
    if (op && t->v[0] == t->v[1])
        return errf(err, "'%s': an interaction of %s with itself", item, buf);
    if (op && t->v[1] < t->v[0]) {
        size_t x = t->v[0];
        t->v[0] = t->v[1];
        t->v[1] = x;
    }
    return 0;
}

/*
 * --covariates into R's terms: each item parsed, a*b expanded in place to
 * a, b, a:b, a repeated term kept once (an item given twice is refused),
 * then ordered by degree, main effects first (terms.formula's order).
 */
static int
parse_terms(const struct model_request *q, struct fit *f, char *err)
{
    struct mterm given[MODEL_MAX_COVARIATES], all[MODEL_MAX_MTERMS];
    int star[MODEL_MAX_COVARIATES];
    size_t nall = 0;
    for (size_t j = 0; j < q->ncov; j++) {
        if (parse_item(f, q->covariates[j], &given[j], &star[j], err) != 0)
            return -1;
        for (size_t k = 0; k < j; k++)
            if (mterm_same(&given[k], &given[j]) && star[k] == star[j])
                return errf(err, "covariate %s is named twice", q->covariates[j]);
        struct mterm ex[3];
        size_t nex = 0;
        if (star[j]) {
            ex[nex++] = (struct mterm){{given[j].v[0], 0}, 1};
            ex[nex++] = (struct mterm){{given[j].v[1], 0}, 1};
        }
        ex[nex++] = given[j];
        for (size_t m = 0; m < nex; m++) {
            int dup = 0;
            for (size_t k = 0; k < nall; k++)
                dup |= mterm_same(&all[k], &ex[m]);
            if (!dup)
                all[nall++] = ex[m];
        }
    }
    f->nmterm = 0;
    for (size_t deg = 1; deg <= 2; deg++)
        for (size_t k = 0; k < nall; k++)
            if (all[k].nv == deg)
                f->term[f->nmterm++] = all[k];
    return 0;
}

/* cox --strata V: a categorical variable, not a main effect of the model. */
static int
check_strata(const struct model_request *q, struct fit *f, char *err)
{
    if (q->strata == NULL)
        return 0;
    if (q->glm)
        return errf(err, "--strata applies to cox only");
    if ((f->strata = vars_find(q->strata)) == NULL)
        return errf(err, "--strata: unknown variable '%s' (variables: %s)", q->strata,
            vars_names());
    if (f->strata->kind == VAR_INTEGER)
        return errf(err, "--strata: %s is numeric; strata take a categorical variable (e.g. "
            "age_group for age)", f->strata->name);
    for (size_t t = 0; t < f->nmterm; t++)
        if (f->term[t].nv == 1 && f->cov[f->term[t].v[0]].var == f->strata)
            return errf(err, "%s is both a covariate and the strata variable (R: its "
                "coefficients would be NA within strata)", f->strata->name);
    return 0;
}

static int
check_request(const struct model_request *q, struct fit *f, char *err)
{
    if (q->ncov == 0 && !q->glm)
        return errf(err, "name at least one covariate (--covariates V,...)");
    if (q->ncov > MODEL_MAX_COVARIATES)
        return errf(err, "%zu covariates (limit %d)", q->ncov, MODEL_MAX_COVARIATES);
    if (parse_terms(q, f, err) != 0 || check_strata(q, f, err) != 0)
        return -1;
    if (q->glm) {
        const struct var_def *v = vars_find(q->outcome_var ? q->outcome_var : "");
        if (v == NULL || v->kind == VAR_INTEGER)
            return errf(err, "--outcome needs a categorical variable and level, e.g. "
                "vital_status=dead");
        if (!vars_valid_value(v, q->outcome_level))
            return errf(err, "--outcome: '%s' is not a level of %s", q->outcome_level, v->name);
        for (size_t j = 0; j < f->nvar; j++)
            if (f->cov[j].var == v)
                return errf(err, "%s is both the outcome and a covariate", v->name);
    }
    return 0;
}

int
model_run(const struct model_request *req, const struct report *r, model_send_fn send,
    void *ctx, char *err)
{
    struct fit f;
    memset(&f, 0, sizeof f);
    f.req = req;
    f.r = r;
    f.send = send;
    f.ctx = ctx;
    f.nnodes = r->fed->nnodes;
    if (check_request(req, &f, err) != 0)
        return 1;
    f.active = xcalloc(f.nnodes, 1);
    f.final = xcalloc(f.nnodes, sizeof *f.final);
    f.holds = xcalloc(f.nnodes, sizeof *f.holds);
    f.hidden = xcalloc(f.nnodes + 1, sizeof *f.hidden);
    memset(f.active, 1, f.nnodes);
    int rc = 0, status = 1, assumed = assume_levels(&f);
    if (!assumed)
        rc = discover_all(&f, err);
    struct outcome o;
    memset(&o, 0, sizeof o);
    /* Each pass either finishes or loses a node; a node never comes back. */
    /* ... and one start again after a node kept no state (round_trip), and one
       after the hub found the assumed levels wrong (assume_levels). */
    for (size_t pass = 0; rc == 0 && pass <= f.nnodes + 2; pass++) {
        size_t left = 0;
        for (size_t i = 0; i < f.nnodes; i++)
            left += f.active[i];
        if (left == 0) {
            rc = -1;
            struct report rr = *r;
            rr.replies = f.final;
            report_nodes(&rr, err);
            errf(err, "no node took part in the fit");
            break;
        }
        f.rounds = 0;
        if ((rc = design(&f, err)) != 0)
            break;
        rc = fit_once(&f, &o, err);
        if (rc < 0 && assumed && strstr(err, POOLMODEL_LEVELS_REFUSED) != NULL) {
            assumed = 0;
            levels_release(&f);
            err[0] = 0;
            if ((rc = discover_all(&f, err)) != 0)
                break;
            continue;
        }
        if (rc == 1) {
            rc = 0;             /* a node dropped out: fit again without it */
            continue;
        }
        if (rc == 0)
            status = finish_fit(&f, &o, &rc, err);
        break;
    }
    if (req->glm)
        glm_result_release(&o.glm);
    else
        cox_result_release(&o.cox);
    levels_release(&f);
    client_replies_release(f.final, f.nnodes);
    free(f.final);
    free(f.holds);
    free(f.active);
    free(f.hidden);
    return rc != 0 ? 1 : status;
}
