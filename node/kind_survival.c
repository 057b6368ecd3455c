/*
 * kind_survival - Kaplan-Meier life tables (km) and the node-stratified
 * log-rank test (logrank), which select their rows alike: the endpoint's
 * time and event columns, at most two grouping variables (the strata: every
 * combination of their levels, the first varying slowest), the filter, on
 * the time grid the policy allows.
 *
 *   admit    the time grid (kind_time_grid); logrank first wants its one
 *            grouping variable
 *   execute  km: every stratum's life table (all levels of a closed
 *            categorical variable, the present levels of others), from one
 *            pass over the columns where the times fit a dense table;
 *            logrank: the node's own O, E and V per group, for closed
 *            categorical variables only, so that every node reports the
 *            same groups in the same order
 *   release  the small-stratum rule (R5): a km stratum of 1 .. min_cell-1
 *            patients is sent `suppressed`, with no n and no table, and the
 *            other strata are answered; the node-stratified log-rank
 *            message has no per-group flag, so there a small group still
 *            refuses the query
 *   sets     per released stratum its key set, its rows and its tail (the
 *            times and events: the auditor cuts the table where fewer than
 *            min_cell remain at risk, R4); log-rank O, E, V: each group and its events, all items
 *            of the whole answer
 *   withhold a stratum is sent `suppressed`, or its table stops at a time
 *            (`truncated_at`)
 *
 * A logrank query without stratify_by_node is answered as km: the pooled
 * test at the coordinator needs each group's life table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/km.h"
#include "analysis/logrank.h"
#include "node/kind.h"
#include "node/qaudit.h"
#include "node/select.h"

/*
 * Strata codes (c1 * n2 + c2) one survival query counts in an array: two
 * open variables (morphology by topography at a large node) could have
 * 65535^2.  A node refuses more, naming the variables.
 */
#define SURV_MAX_CODES (1u << 20)

/*
 * What every survival query selects: the grid, the endpoint columns, the
 * grouping variable, the filter, and the stratum sizes.  Free with
 * surv_sel_free().
 */
struct surv_sel {
    int32_t grid;                   /* 0: exact times */
    const struct var_def *by;       /* NULL: one stratum of everybody */
    const struct var_def *by2;      /* km --by V1,V2: the second variable, else NULL */
    uint32_t n2;                    /* codes of by2 (1 without it): code = c1 * n2 + c2 */
    struct snap_filter f;
    int efs;                        /* endpoint: event-free (else overall) survival */
    const int32_t *tcol;
    const uint8_t *ecol;
    uint32_t ncodes;                /* codes of the strata (1 without by) */
    size_t *size;                   /* patients per code */
    int closed;                     /* every level listed (closed categorical variables or none) */
};

/* A survival answer: km tables or logrank sums, and the stratum sizes release looks at. */
struct surv_answer {
    int logrank;                    /* node-stratified O, E, V (else km tables) */
    const struct snapshot *snap;    /* for the level named in a refusal */
    const struct var_def *by, *by2;
    uint32_t ncodes, n2;
    size_t *size;                   /* patients per stratum code */
    /* km */
    Fedra__KmResult km;
    Fedra__LifeTable *tabs;         /* one per stratum */
    Fedra__LifeTable **tabp;
    char *(*levels)[WIRE_MAX_KM_BY];    /* one per stratum and variable (with by) */
    char (*numbers)[WIRE_MAX_KM_BY][16];
    uint32_t *scode;                /* each stratum's code (c1 * n2 + c2) */
    size_t nstrata;
    /* logrank */
    Fedra__LogrankOev msg;
    struct logrank_oev oev;
    uint64_t *n;
};

static void
surv_sel_free(struct surv_sel *s)
{
    free(s->size);
    snapshot_filter_release(&s->f);
}

/* The selection's checks and set-up, before any row is read; s->size all 0. */
static int
surv_prepare(const struct snapshot *snap, const Fedra__QuerySpec *spec, struct surv_sel *s,
    char *err)
{
    memset(s, 0, sizeof *s);
    if (kind_spec_grid(spec, &s->grid, err) != 0 ||
        kind_endpoint(snap, spec, &s->tcol, &s->ecol, err) != 0)
        return -1;
    if (spec->n_group_by > WIRE_MAX_KM_BY)
        return errf(err, "survival queries take at most %d grouping variables", WIRE_MAX_KM_BY);
    const struct var_def *by[WIRE_MAX_KM_BY] = {NULL, NULL};
    for (size_t k = 0; k < spec->n_group_by; k++)
        if ((by[k] = vars_find(spec->group_by[k])) == NULL)
            return errf(err, "unknown variable '%.32s' (variables: %s)", spec->group_by[k],
                vars_names());
    if (spec->n_group_by == 2 && by[0] == by[1])
        return errf(err, "the grouping variables must differ ('%s' twice)", by[0]->name);
    if (select_compile(snap, spec, &s->f, err) != 0)
        return -1;
    s->by = by[0];
    s->by2 = by[1];
    s->efs = spec->endpoint == FEDRA__ENDPOINT__ENDPOINT_EFS;
    s->n2 = s->by2 ? snap->ncodes[s->by2->id] : 1;
    if (s->by && (uint64_t)snap->ncodes[s->by->id] * s->n2 > SURV_MAX_CODES) {
        snapshot_filter_release(&s->f);
        return errf(err, "too many combinations of the levels of %s and %s at this node "
            "(more than %u): group by fewer levels", s->by->name, s->by2->name, SURV_MAX_CODES);
    }
    s->ncodes = s->by ? snap->ncodes[s->by->id] * s->n2 : 1;
    s->closed = (s->by == NULL || s->by->nlevels > 0) && (s->by2 == NULL || s->by2->nlevels > 0);
    s->size = xcalloc(s->ncodes, sizeof *s->size);
    return 0;
}

/* Row i's stratum code (c1 * n2 + c2), or UINT32_MAX if it misses a grouping variable. */
static uint32_t
surv_code(const struct snapshot *snap, const struct surv_sel *s, size_t i)
{
    uint16_t c1 = s->by ? snap->code[s->by->id][i] : 0;
    uint16_t c2 = s->by2 ? snap->code[s->by2->id][i] : 0;
    return c1 == SNAP_MISSING || c2 == SNAP_MISSING ? UINT32_MAX : (uint32_t)c1 * s->n2 + c2;
}

/* The stratum sizes, one pass over the rows. */
static void
surv_count(const struct snapshot *snap, struct surv_sel *s)
{
    for (size_t i = 0; i < snap->n; i++) {
        if (!snapshot_row_passes(snap, &s->f, i))
            continue;
        uint32_t c = surv_code(snap, s, i);
        if (c != UINT32_MAX)
            s->size[c]++;
    }
}

/* A new, empty answer in ans. */
static struct surv_answer *
surv_answer_new(struct node_answer *ans, const struct snapshot *snap, int logrank)
{
    struct surv_answer *a = xcalloc(1, sizeof *a);
    ans->stat = a;
    a->logrank = logrank;
    a->snap = snap;
    fedra__km_result__init(&a->km);
    fedra__logrank_oev__init(&a->msg);
    return a;
}

/* The strata and their sizes pass from the selection to the answer (for release). */
static void
surv_keep_strata(struct surv_answer *a, struct surv_sel *s)
{
    a->by = s->by;
    a->by2 = s->by2;
    a->n2 = s->n2;
    a->ncodes = s->ncodes;
    a->size = s->size;
    s->size = NULL;
}

/*
 * The general path to the life tables, for times a dense table cannot hold
 * (snapshot_km_count): a counting sort by stratum code, using the stratum
 * sizes already counted, so that each stratum's records are one slice of *t
 * and *e (malloc'd), starting at (*start)[c].
 */
static void
km_slices(const struct snapshot *snap, const struct surv_sel *sel, int32_t **t, uint8_t **e,
    size_t **start)
{
    uint32_t ncodes = sel->ncodes;
    size_t *st = xcalloc((size_t)ncodes + 1, sizeof *st);
    for (uint32_t c = 0; c < ncodes; c++)
        st[c + 1] = st[c] + sel->size[c];
    size_t *fill = xcalloc(ncodes, sizeof *fill);
    *t = xcalloc(st[ncodes], sizeof **t);
    *e = xcalloc(st[ncodes], 1);
    for (size_t i = 0; i < snap->n; i++) {
        uint32_t c = surv_code(snap, sel, i);
        if (c == UINT32_MAX || !snapshot_row_passes(snap, &sel->f, i))
            continue;
        size_t at = st[c] + fill[c]++;
        (*t)[at] = sel->tcol[i];
        (*e)[at] = sel->ecol[i];
    }
    free(fill);
    *start = st;
}

/* A stratum's life table from its nbins x 2 counters (snapshot_km_count): km_life_table's rows. */
static void
km_tab_dense(const uint32_t *cnt, size_t nbins, int32_t grid, size_t n, Fedra__LifeTable *tab)
{
    size_t nrows = 0;
    for (size_t b = 0; b < nbins; b++)
        nrows += (cnt[2 * b] | cnt[2 * b + 1]) != 0;
    tab->n = (uint64_t)n;
    tab->n_time = tab->n_events = tab->n_censored = nrows;
    tab->time = xcalloc(nrows, sizeof *tab->time);
    tab->events = xcalloc(nrows, sizeof *tab->events);
    tab->censored = xcalloc(nrows, sizeof *tab->censored);
    int32_t g = grid > 0 ? grid : 1;
    for (size_t b = 0, r = 0; b < nbins; b++) {
        if ((cnt[2 * b] | cnt[2 * b + 1]) == 0)
            continue;
        tab->time[r] = (int32_t)b * g;          /* b * g <= tmax + g - 1 < 2^31 */
        tab->censored[r] = cnt[2 * b];
        tab->events[r] = cnt[2 * b + 1];
        r++;
    }
}

/* A stratum's life table by km_life_table from its records; -1 on a bad time. */
static int
km_tab_general(const int32_t *t, const uint8_t *e, size_t n, int32_t grid,
    Fedra__LifeTable *tab)
{
    struct km_table lt;
    if (km_life_table(t, e, n, grid, &lt) != 0)
        return -1;
    tab->n = (uint64_t)lt.n;
    tab->n_time = tab->n_events = tab->n_censored = lt.nrows;
    tab->time = xcalloc(lt.nrows, sizeof *tab->time);
    tab->events = xcalloc(lt.nrows, sizeof *tab->events);
    tab->censored = xcalloc(lt.nrows, sizeof *tab->censored);
    for (size_t r = 0; r < lt.nrows; r++) {
        tab->time[r] = lt.rows[r].time;
        tab->events[r] = (uint64_t)lt.rows[r].d;
        tab->censored[r] = (uint64_t)lt.rows[r].c;
    }
    km_table_release(&lt);
    return 0;
}

/*
 * Every stratum's life table into a: from the dense counters when the
 * column pass gave them (cnt), else by slicing the records by stratum.  A
 * stratum is listed if by is closed or it has patients.  More strata than
 * a KmResult holds, or a time the grid cannot hold, is kept as a late
 * refusal: the node has always checked both after the small-stratum rule.
 */
static void
km_tables(const struct snapshot *snap, const struct surv_sel *sel, const uint32_t *cnt,
    size_t nbins, struct surv_answer *a, char *late)
{
    int closed = sel->closed;
    size_t want = 0;
    for (uint32_t c = 0; c < sel->ncodes; c++)
        want += closed || sel->size[c] > 0;
    if (want > WIRE_MAX_STRATA) {
        kind_late(late, "%zu strata (limit %d)", want, WIRE_MAX_STRATA);
        return;
    }
    a->tabs = xcalloc(want, sizeof *a->tabs);
    a->tabp = xcalloc(want, sizeof *a->tabp);
    a->levels = xcalloc(want, sizeof *a->levels);
    a->numbers = xcalloc(want, sizeof *a->numbers);
    a->scode = xcalloc(want, sizeof *a->scode);
    int32_t *t = NULL;
    uint8_t *e = NULL;
    size_t *start = NULL;
    if (cnt == NULL)
        km_slices(snap, sel, &t, &e, &start);
    for (uint32_t c = 0; c < sel->ncodes; c++) {
        if (!closed && sel->size[c] == 0)
            continue;
        size_t k = a->nstrata;
        Fedra__LifeTable *tab = &a->tabs[k];
        fedra__life_table__init(tab);
        if (cnt != NULL) {
            km_tab_dense(cnt + (size_t)c * nbins * 2, nbins, sel->grid, sel->size[c], tab);
        } else if (km_tab_general(t + start[c], e + start[c], sel->size[c], sel->grid,
                       tab) != 0) {
            kind_late(late, "cannot build the life table (time out of range)");
            break;
        }
        a->scode[k] = c;
        a->nstrata++;
        const struct var_def *by[WIRE_MAX_KM_BY] = {sel->by, sel->by2};
        uint16_t code[WIRE_MAX_KM_BY] = {(uint16_t)(c / sel->n2), (uint16_t)(c % sel->n2)};
        for (size_t v = 0; v < WIRE_MAX_KM_BY && by[v] != NULL; v++)
            a->levels[k][tab->n_levels++] =
                (char *)snapshot_level(snap, by[v]->id, code[v], a->numbers[k][v]);
        tab->levels = tab->n_levels ? a->levels[k] : NULL;
        a->tabp[k] = tab;
    }
    free(t);
    free(e);
    free(start);
}

/*
 * Normally one pass over the columns (snapshot_km_count) gives every
 * stratum's counts by time bin, and the stratum sizes are their sums: no
 * per-record temporaries.  Where the times do not fit a dense table the
 * general path counts the sizes, slices the records by stratum and builds
 * each table with km_life_table.  Both give km_life_table's tables.
 */
static int
km_execute(const struct node_kind_ctx *ctx, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err)
{
    const struct snapshot *snap = ctx->snap;
    struct surv_answer *a = surv_answer_new(ans, snap, 0);
    struct surv_sel sel;
    if (surv_prepare(snap, spec, &sel, err) != 0)
        return -1;
    uint32_t *cnt = NULL;
    size_t nbins = 0;
    int dense = sel.by2 == NULL &&      /* two variables: the general path */
        snapshot_km_count(snap, &sel.f, sel.by, sel.efs, sel.grid, &cnt, &nbins) == 0;
    if (dense) {
        for (uint32_t c = 0; c < sel.ncodes; c++)
            for (size_t b = 0; b < 2 * nbins; b++)
                sel.size[c] += cnt[(size_t)c * nbins * 2 + b];
    } else {
        surv_count(snap, &sel);
    }
    km_tables(snap, &sel, dense ? cnt : NULL, nbins, a, ans->late);
    free(cnt);
    surv_keep_strata(a, &sel);
    surv_sel_free(&sel);
    a->km.n_strata = a->nstrata;
    a->km.strata = a->tabp;
    a->km.grid_days = (uint32_t)sel.grid;
    return 0;
}

/* The small-stratum rule on the sizes execute counted. */
static int
surv_refuse(const struct disclose_policy *policy, const struct surv_answer *a, char *err)
{
    for (uint32_t c = 0; c < a->ncodes; c++)
        if (a->size[c] > 0 && disclose_suppress(policy, a->size[c])) {
            char tmp[16];
            return errf(err, "a stratum (%s%s%s) has fewer than %u patients at this node; "
                "its curve is not released", a->by ? a->by->name : "all patients",
                a->by ? "=" : "", a->by ? snapshot_level(a->snap, a->by->id, (uint16_t)c, tmp)
                                        : "", policy->min_cell);
        }
    return 0;
}

/* Send ${tab} withheld: no n, no table (R5, or the auditor's verdict). */
static void
surv_suppress(Fedra__LifeTable *tab)
{
    tab->suppressed = 1;
    tab->n = 0;
    tab->n_time = tab->n_events = tab->n_censored = 0;
    tab->truncated_at = 0;
}

static int
surv_release(const struct disclose_policy *policy, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err)
{
    struct surv_answer *a = ans->stat;
    (void)spec;
    if (a->logrank && surv_refuse(policy, a, err) != 0)
        return -1;
    for (size_t k = 0; k < a->nstrata; k++)
        if (a->tabs[k].n > 0 && disclose_suppress(policy, a->tabs[k].n))
            surv_suppress(&a->tabs[k]);
    a->km.min_cell = policy->min_cell;
    return 0;
}

static int
km_admit(const struct disclose_policy *policy, const Fedra__QuerySpec *spec, char *err)
{
    int32_t grid;
    return kind_time_grid(policy, spec, &grid, err);
}

/* The node's own O, E and V over the groups of a closed variable. */
static void
logrank_sums(const struct snapshot *snap, const struct surv_sel *sel, struct surv_answer *a,
    char *late)
{
    size_t n = 0, G = sel->ncodes;
    int32_t *t = xcalloc(snap->n, sizeof *t);
    uint8_t *e = xcalloc(snap->n, 1);
    uint32_t *g = xcalloc(snap->n, sizeof *g);
    for (size_t i = 0; i < snap->n; i++) {
        uint16_t c = snap->code[sel->by->id][i];
        if (c == SNAP_MISSING || !snapshot_row_passes(snap, &sel->f, i))
            continue;
        t[n] = sel->tcol[i];
        e[n] = sel->ecol[i];
        g[n++] = c;
    }
    int rc = logrank_node_oev(t, e, g, n, G, sel->grid, &a->oev);
    free(t);
    free(e);
    free(g);
    if (rc != 0) {
        kind_late(late, "cannot compute the log-rank sums (error %d)", rc);
        return;
    }
    a->msg.n_groups = a->msg.n_n = a->msg.n_observed = a->msg.n_expected = G;
    a->msg.groups = (char **)sel->by->levels;
    a->n = xcalloc(G, sizeof *a->n);
    for (size_t k = 0; k < G; k++)
        a->n[k] = (uint64_t)a->oev.n[k];
    a->msg.n = a->n;
    a->msg.observed = a->oev.o;
    a->msg.expected = a->oev.e;
    a->msg.n_variance = G * G;
    a->msg.variance = a->oev.v;
}

static int
logrank_admit(const struct disclose_policy *policy, const Fedra__QuerySpec *spec, char *err)
{
    if (spec->stratify_by_node && spec->n_group_by != 1)
        return errf(err, "the log-rank test needs one grouping variable");
    return km_admit(policy, spec, err);
}

/*
 * Every node must report the same groups, in the same order: closed levels
 * only.  Another variable is refused late, after the small-stratum rule.
 */
static int
logrank_execute(const struct node_kind_ctx *ctx, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err)
{
    if (!spec->stratify_by_node)
        return km_execute(ctx, spec, ans, err);
    const struct snapshot *snap = ctx->snap;
    struct surv_answer *a = surv_answer_new(ans, snap, 1);
    if (spec->n_group_by != 1)
        return errf(err, "the log-rank test needs one grouping variable");
    struct surv_sel sel;
    if (surv_prepare(snap, spec, &sel, err) != 0)
        return -1;
    surv_count(snap, &sel);
    if (!sel.closed)
        kind_late(ans->late, "the node-stratified log-rank test needs a categorical variable "
            "with fixed levels; %s is not one", sel.by->name);
    else
        logrank_sums(snap, &sel, a, ans->late);
    surv_keep_strata(a, &sel);
    surv_sel_free(&sel);
    return 0;
}

/* The rows of ${rows} with an event: a set of its own (malloc'd). */
static uint32_t *
surv_events(const uint8_t *ecol, const uint32_t *rows, size_t n, size_t *nev)
{
    uint32_t *ev = xmalloc((n ? n : 1) * sizeof *ev);
    *nev = 0;
    for (size_t j = 0; j < n; j++)
        if (ecol[rows[j]])
            ev[(*nev)++] = rows[j];
    return ev;
}

/*
 * km: each stratum released (not suppressed, not empty) with its key set,
 * its rows and its tail.  Strata split only by vital_status share one key
 * set, the cohort: it is a candidate for the whole answer (refused if it
 * fails).  logrank O, E, V: each group's rows and events, for the whole
 * answer (the message cannot withhold one group).
 */
static void
surv_sets(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, const struct node_answer *ans, struct qaudit_sets *out)
{
    const struct surv_answer *a = ans->stat;
    (void)policy;
    const int32_t *tcol;
    const uint8_t *ecol;
    int32_t grid;
    char ignored[FEDRA_ERRLEN];
    if (kind_endpoint(snap, spec, &tcol, &ecol, ignored) != 0 ||
        kind_spec_grid(spec, &grid, ignored) != 0) {
        qaudit_add_key(out, QAUDIT_WHOLE, NULL, 0);     /* cannot be: execute checked both */
        return;
    }
    struct qaudit_groups full, key;
    qaudit_groups(snap, spec, 0, &full);
    qaudit_groups(snap, spec, 1, &key);
    int keyed = qaudit_keyed(spec), released = a->logrank;
    for (size_t k = 0; !a->logrank && k < a->nstrata; k++)
        released |= !a->tabs[k].suppressed && a->tabs[k].n > 0;
    if (!keyed && key.n == 1 && released)
        qaudit_add_key(out, QAUDIT_WHOLE, key.v[0].rows, key.v[0].n);
    size_t ns = a->logrank ? a->ncodes : a->nstrata;
    for (size_t k = 0; k < ns; k++) {
        uint32_t c = a->logrank ? (uint32_t)k : a->scode[k];
        if (!a->logrank && (a->tabs[k].suppressed || a->tabs[k].n == 0))
            continue;
        /* the groups' keys: codes first variable most significant; blind: outcome left out */
        uint16_t code[WIRE_MAX_KM_BY] = {(uint16_t)(c / a->n2), (uint16_t)(c % a->n2)};
        uint64_t fkey = a->by2 ? (uint64_t)code[0] << 16 | code[1] : a->by ? code[0] : 0;
        uint64_t bkey = qaudit_blind_key(spec, code);
        const struct qaudit_group *fg = NULL, *kg = NULL;
        for (size_t g = 0; g < full.n && fg == NULL; g++)
            if (full.v[g].key == fkey)
                fg = &full.v[g];
        for (size_t g = 0; g < key.n && kg == NULL; g++)
            if (key.v[g].key == bkey)
                kg = &key.v[g];
        if (fg == NULL && a->logrank)
            continue;                   /* an empty group: n = 0, nothing counted */
        if (fg == NULL || kg == NULL) {
            qaudit_add_key(out, QAUDIT_WHOLE, NULL, 0);
            continue;
        }
        if (a->logrank) {
            size_t nev;
            uint32_t *ev = surv_events(ecol, fg->rows, fg->n, &nev);
            qaudit_add(out, QAUDIT_WHOLE, kg->rows, kg->n, fg->rows, fg->n);
            qaudit_add(out, QAUDIT_WHOLE, NULL, 0, ev, nev);
            free(ev);
        } else {
            qaudit_add_stratum(out, (long)k, kg->rows, kg->n, fg->rows, fg->n, tcol, ecol,
                grid);
        }
    }
    qaudit_groups_free(&full);
    qaudit_groups_free(&key);
}

/* The auditor's verdict: stratum ${item} withheld, or its table stopped at ${from}. */
static void
surv_withhold(struct node_answer *ans, long item, int32_t from)
{
    struct surv_answer *a = ans->stat;
    if (a->logrank || item < 0 || (size_t)item >= a->nstrata)
        return;
    Fedra__LifeTable *tab = &a->tabs[item];
    if (from == QAUDIT_ALL) {
        surv_suppress(tab);
        return;
    }
    size_t keep = 0;
    while (keep < tab->n_time && tab->time[keep] < from)
        keep++;
    if (keep < tab->n_time) {
        tab->n_time = tab->n_events = tab->n_censored = keep;
        tab->truncated_at = from;
    }
}

static void
surv_result(const struct node_answer *ans, Fedra__ResponseBody *rb)
{
    struct surv_answer *a = ans->stat;
    if (a->logrank)
        rb->logrank = &a->msg;
    else
        rb->km = &a->km;
}

static void
surv_summary(const struct node_answer *ans, const Fedra__QuerySpec *spec, char *buf, size_t len)
{
    const struct surv_answer *a = ans->stat;
    (void)spec;
    if (a->logrank)
        snprintf(buf, len, "logrank O, E, V: %zu groups", a->msg.n_groups);
    else
        snprintf(buf, len, "km: %zu strata, grid %u days", a->nstrata, a->km.grid_days);
}

static void
surv_free(struct node_answer *ans)
{
    struct surv_answer *a = ans->stat;
    if (a != NULL) {
        for (size_t k = 0; k < a->nstrata; k++) {
            free(a->tabs[k].time);
            free(a->tabs[k].events);
            free(a->tabs[k].censored);
        }
        free(a->tabs);
        free(a->tabp);
        free(a->levels);
        free(a->numbers);
        free(a->scode);
        logrank_oev_release(&a->oev);
        free(a->n);
        free(a->size);
        free(a);
    }
    memset(ans, 0, sizeof *ans);
}

const struct node_kind node_kind_km = {
    .kind = FEDRA__KIND__KIND_KM,
    .name = "km",
    .admit = km_admit,
    .execute = km_execute,
    .release = surv_release,
    .sets = surv_sets,
    .withhold = surv_withhold,
    .result = surv_result,
    .summary = surv_summary,
    .free_answer = surv_free,
};

const struct node_kind node_kind_logrank = {
    .kind = FEDRA__KIND__KIND_LOGRANK,
    .name = "logrank",
    .admit = logrank_admit,
    .execute = logrank_execute,
    .release = surv_release,
    .sets = surv_sets,
    .withhold = surv_withhold,
    .result = surv_result,
    .summary = surv_summary,
    .free_answer = surv_free,
};
