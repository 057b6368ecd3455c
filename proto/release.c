/*
 * release - the pooled result from the sums of the shares; see release.h.
 */
#include "proto/release.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct release {
    enum layout_kind kind;
    Fedra__CountResult count;
    Fedra__KmResult km;
    Fedra__Cell *cells;             /* count: storage behind count.cells */
    Fedra__Cell **cellp;
    Fedra__LifeTable *tables;       /* km: storage behind km.strata */
    Fedra__LifeTable **tablep;
    char **levels;                  /* every level pointer handed out (static texts or owned) */
    char *texts;                    /* integer level texts, LAYOUT_LEVEL_TEXT each */
    size_t shown, hidden;
};

/*
 * Position i of the summed vectors, checked: a flagged position's value and
 * flags, or (past L->nflag: a time bin) its value with no flags.
 */
static int
position(const struct layout *L, const uint64_t *sums, size_t i, uint32_t nodes,
    struct pool_position *x, char *err)
{
    uint64_t v[LAYOUT_VECTORS] = {0};
    int nv = i < L->nflag ? LAYOUT_VECTORS : 1;
    for (int k = 0; k < nv; k++)
        if (mask_count_sum(sums[layout_vector_off(L, k) + i], &v[k]) != 0)
            return errf(err, "the pooled shares do not add up at position %zu: a node sent a "
                "wrong share; nothing is released", i);
    if (nv == 1) {
        *x = (struct pool_position){v[0], 0, 0, 0};
        return 0;                   /* a bin: its stratum's total checks it (build_km) */
    }
    *x = (struct pool_position){v[0], (uint32_t)(v[1] > nodes ? nodes + 1 : v[1]),
        (uint32_t)(v[2] > nodes ? nodes + 1 : v[2]), (uint32_t)(v[3] > nodes ? nodes + 1 : v[3])};
    if (pool_position_check(x, nodes) != 0)
        return errf(err, "the pooled shares do not add up at position %zu: a node sent a "
            "wrong share; nothing is released", i);
    return 0;
}

/* The level texts of combination cell, as pointers that live as long as r. */
static char **
levels_of(struct release *r, const struct layout *L, size_t cell, size_t slot)
{
    uint32_t idx[WIRE_MAX_GROUP_BY];
    layout_cell_levels(L, cell, idx);
    char **lv = r->levels + slot * L->nvars;
    for (size_t k = 0; k < L->nvars; k++) {
        char *buf = r->texts + (slot * L->nvars + k) * LAYOUT_LEVEL_TEXT;
        lv[k] = (char *)layout_level_text(L, k, idx[k], buf);
    }
    return lv;
}

static size_t
count_present(const struct layout *L, const uint64_t *sums, size_t (*pos)(const struct layout *, size_t))
{
    size_t n = 0;
    for (size_t c = 0; c < L->ncells; c++)
        n += sums[pos(L, c)] != 0;
    return n;
}

static size_t
count_pos(const struct layout *L, size_t c)
{
    (void)L;
    return c;
}

static int
build_count(struct release *r, const struct layout *L, const uint64_t *sums, uint32_t nodes,
    const struct pool_policy *pol, char *err)
{
    fedra__count_result__init(&r->count);
    size_t n = count_present(L, sums, count_pos);
    r->cells = xcalloc(n + 1, sizeof *r->cells);
    r->cellp = xcalloc(n + 1, sizeof *r->cellp);
    r->levels = xcalloc((n + 1) * (L->nvars + 1), sizeof *r->levels);
    r->texts = xcalloc((n + 1) * (L->nvars + 1), LAYOUT_LEVEL_TEXT);
    size_t at = 0;
    for (size_t c = 0; c < L->ncells; c++) {
        struct pool_position x;
        if (position(L, sums, c, nodes, &x, err) != 0)
            return -1;
        if (x.value == 0)
            continue;
        Fedra__Cell *cell = &r->cells[at];
        fedra__cell__init(cell);
        cell->n_levels = L->nvars;
        cell->levels = levels_of(r, L, c, at);
        enum pool_verdict v = pool_decide(pol, &x);
        if (v == POOL_RELEASED) {
            cell->count = x.value;
            r->shown++;
        } else {
            /*
             * Held back, whichever rule: `withheld`, which promises no upper
             * bound.  A cell held for too few sites may hold more than
             * min_cell - 1, and telling the two rules apart would say so.
             */
            cell->withheld = 1;
            r->hidden++;
        }
        r->cellp[at++] = cell;
    }
    r->count.n_cells = at;
    r->count.cells = r->cellp;
    r->count.max_hidden = pol->min_cell > 0 ? pol->min_cell - 1 : 0;
    return 0;
}

static int
build_km(struct release *r, const struct layout *L, const uint64_t *sums, uint32_t nodes,
    const struct pool_policy *pol, char *err)
{
    fedra__km_result__init(&r->km);
    size_t n = count_present(L, sums, layout_surv_n);
    r->tables = xcalloc(n + 1, sizeof *r->tables);
    r->tablep = xcalloc(n + 1, sizeof *r->tablep);
    r->levels = xcalloc((n + 1) * (L->nvars + 1), sizeof *r->levels);
    r->texts = xcalloc((n + 1) * (L->nvars + 1), LAYOUT_LEVEL_TEXT);
    uint64_t *d = xcalloc(L->nbins, sizeof *d), *c = xcalloc(L->nbins, sizeof *c);
    uint64_t *k2 = xcalloc(L->nbins, sizeof *k2), *out = xcalloc(L->nbins, sizeof *out);
    size_t at = 0;
    int rc = -1;
    for (size_t s = 0; s < L->ncells; s++) {
        struct pool_position x;
        if (position(L, sums, layout_surv_n(L, s), nodes, &x, err) != 0)
            goto done;
        if (x.value == 0)
            continue;
        /* A bin's two lanes add without carrying only below 2^32 patients (layout.h). */
        if (x.value > LAYOUT_LANE_MAX) {
            errf(err, "a pooled stratum of %llu patients is more than a time bin's lanes hold "
                "(%llu); nothing is released", (unsigned long long)x.value,
                (unsigned long long)LAYOUT_LANE_MAX);
            goto done;
        }
        uint64_t total = 0;
        for (size_t b = 0; b < L->nbins; b++) {
            struct pool_position m = {0, 0, 0, 0};
            if (L->competing && position(L, sums, layout_surv_competing(L, s, b), nodes, &m,
                    err) != 0)
                goto done;
            layout_bin_unpack(sums[layout_surv_bin(L, s, b)], &d[b], &c[b]);
            k2[b] = m.value;
            out[b] = d[b] + k2[b];  /* everyone who leaves the risk set by an event */
            total += d[b] + c[b] + k2[b];
        }
        if (total != x.value) {
            errf(err, "the pooled shares do not add up in stratum %zu (size %llu, rows %llu): "
                "a node sent a wrong share; nothing is released", s,
                (unsigned long long)x.value, (unsigned long long)total);
            goto done;
        }
        Fedra__LifeTable *t = &r->tables[at];
        fedra__life_table__init(t);
        t->n_levels = L->nvars;
        t->levels = levels_of(r, L, s, at);
        r->tablep[at++] = t;
        if (pool_decide(pol, &x) != POOL_RELEASED) {
            t->suppressed = 1;
            r->hidden++;
            continue;
        }
        r->shown++;
        t->n = x.value;
        size_t cut;
        pool_survival_cut(pol, out, c, L->nbins, &cut);
        size_t rows = 0, last = 0;
        for (size_t b = 0; b < L->nbins; b++)
            if (out[b] + c[b] > 0) {
                rows += b < cut;
                last = b;
            }
        t->time = xcalloc(rows + 1, sizeof *t->time);
        t->events = xcalloc(rows + 1, sizeof *t->events);
        t->censored = xcalloc(rows + 1, sizeof *t->censored);
        t->competing = L->competing ? xcalloc(rows + 1, sizeof *t->competing) : NULL;
        for (size_t b = 0; b < cut; b++)
            if (out[b] + c[b] > 0) {
                t->time[t->n_time] = (int32_t)(b * L->grid);
                t->events[t->n_time] = d[b];
                t->censored[t->n_time] = c[b];
                if (L->competing)
                    t->competing[t->n_time] = k2[b];
                t->n_time++;
            }
        t->n_events = t->n_censored = t->n_time;
        t->n_competing = L->competing ? t->n_time : 0;
        if (cut <= last)
            t->truncated_at = (int32_t)(cut * L->grid);
    }
    r->km.n_strata = at;
    r->km.strata = r->tablep;
    r->km.grid_days = L->grid;
    r->km.min_cell = pol->min_cell;
    rc = 0;
done:
    free(d);
    free(c);
    free(k2);
    free(out);
    return rc;
}

int
release_build(const struct layout *L, const uint64_t *sums, uint32_t nodes,
    const struct pool_policy *pol, struct release **out, char *err)
{
    struct release *r = xcalloc(1, sizeof *r);
    r->kind = L->kind;
    int rc = L->kind == LAYOUT_COUNT ? build_count(r, L, sums, nodes, pol, err)
                                     : build_km(r, L, sums, nodes, pol, err);
    if (rc != 0) {
        release_free(r);
        *out = NULL;
        return -1;
    }
    *out = r;
    return 0;
}

void
release_free(struct release *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; r->tables != NULL && i < r->km.n_strata; i++) {
        free(r->tables[i].time);
        free(r->tables[i].events);
        free(r->tables[i].censored);
        free(r->tables[i].competing);
    }
    free(r->tables);
    free(r->tablep);
    free(r->cells);
    free(r->cellp);
    free(r->levels);
    free(r->texts);
    free(r);
}

void
release_attach(const struct release *r, Fedra__PoolRelease *rel)
{
    if (r->kind == LAYOUT_COUNT)
        rel->count = (Fedra__CountResult *)&r->count;
    else
        rel->km = (Fedra__KmResult *)&r->km;
}

size_t
release_shown(const struct release *r)
{
    return r->shown;
}

size_t
release_hidden(const struct release *r)
{
    return r->hidden;
}
