/*
 * layout - fixed positions of a pooled answer; see layout.h.
 */
#include "proto/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/disclose.h"
#include "lib/util.h"

int
layout_make(const Fedra__QuerySpec *spec, uint32_t grid, struct layout *L, char *err)
{
    memset(L, 0, sizeof *L);
    if (spec->kind == FEDRA__KIND__KIND_COUNT)
        L->kind = LAYOUT_COUNT;
    else if (spec->kind == FEDRA__KIND__KIND_KM || spec->kind == FEDRA__KIND__KIND_CIF ||
             (spec->kind == FEDRA__KIND__KIND_LOGRANK && !spec->stratify_by_node))
        L->kind = LAYOUT_SURV;          /* the pooled log-rank test is on pooled life tables */
    else
        return errf(err, "this kind of query cannot be pooled yet");
    if (spec->n_group_by > WIRE_MAX_GROUP_BY)
        return errf(err, "at most %d grouping variables", WIRE_MAX_GROUP_BY);
    L->nvars = spec->n_group_by;
    L->ncells = 1;
    for (size_t k = 0; k < L->nvars; k++) {
        const struct var_def *v = vars_find(spec->group_by[k]);
        if (v == NULL)
            return errf(err, "unknown variable '%s'", spec->group_by[k]);
        if (v->kind == VAR_INTEGER)
            L->nlevels[k] = (uint32_t)(v->hi - v->lo + 1);
        else if (v->levels != NULL)
            L->nlevels[k] = (uint32_t)v->nlevels;
        else
            return errf(err, "'%s' has no fixed list of levels, so it cannot be pooled "
                "(filter it with 'in' and group by a variable that has one)", v->name);
        L->var[k] = v;
        if (L->ncells > LAYOUT_MAX_POSITIONS / L->nlevels[k])
            return errf(err, "grouping by these variables gives more than %u pooled cells",
                LAYOUT_MAX_POSITIONS);
        L->ncells *= L->nlevels[k];
    }
    if (L->kind == LAYOUT_COUNT) {
        L->npos = L->nflag = L->ncells;
        return 0;
    }
    if (grid == 0 || grid > DISCLOSE_MAX_GRID_DAYS)
        return errf(err, "pooled survival needs a time grid of 1 .. %d days",
            DISCLOSE_MAX_GRID_DAYS);
    L->grid = grid;
    L->nbins = LAYOUT_HORIZON_DAYS / grid + 1;
    L->competing = spec->kind == FEDRA__KIND__KIND_CIF;
    size_t per = 1 + (L->competing ? 2 : 1) * L->nbins;
    if (L->ncells > LAYOUT_MAX_POSITIONS / per)
        return errf(err, "%zu strata of %zu time bins are more than %u pooled positions; "
            "use a coarser grid or fewer strata", L->ncells, L->nbins, LAYOUT_MAX_POSITIONS);
    L->npos = L->ncells * per;
    L->nflag = L->ncells;
    return 0;
}

int
layout_level(const struct layout *L, size_t k, const char *level)
{
    const struct var_def *v = L->var[k];
    if (v->kind == VAR_INTEGER) {
        long long x;
        if (util_parse_int(level, v->lo, v->hi, &x) != 0)
            return -1;
        return (int)(x - v->lo);
    }
    return vars_level_index(v, level);
}

const char *
layout_level_text(const struct layout *L, size_t k, uint32_t idx, char buf[LAYOUT_LEVEL_TEXT])
{
    const struct var_def *v = L->var[k];
    if (v->kind == VAR_INTEGER) {
        snprintf(buf, LAYOUT_LEVEL_TEXT, "%d", v->lo + (int)idx);
        return buf;
    }
    return v->levels[idx];
}

size_t
layout_cell(const struct layout *L, const uint32_t *idx)
{
    size_t c = 0;
    for (size_t k = 0; k < L->nvars; k++)
        c = c * L->nlevels[k] + idx[k];
    return c;
}

void
layout_cell_levels(const struct layout *L, size_t cell, uint32_t *idx)
{
    for (size_t k = L->nvars; k-- > 0;) {
        idx[k] = (uint32_t)(cell % L->nlevels[k]);
        cell /= L->nlevels[k];
    }
}

size_t
layout_surv_n(const struct layout *L, size_t s)
{
    (void)L;
    return s;
}

/* Where stratum s's rows of bins start: after every stratum's size. */
static size_t
bins_of(const struct layout *L, size_t s)
{
    return L->ncells + s * (L->competing ? 2 : 1) * L->nbins;
}

size_t
layout_surv_bin(const struct layout *L, size_t s, size_t k)
{
    return bins_of(L, s) + k;
}

size_t
layout_surv_competing(const struct layout *L, size_t s, size_t k)
{
    return bins_of(L, s) + L->nbins + k;
}

uint64_t
layout_bin_pack(uint64_t events, uint64_t censored)
{
    return events + (censored << LAYOUT_LANE_BITS);
}

void
layout_bin_unpack(uint64_t x, uint64_t *events, uint64_t *censored)
{
    *events = x & LAYOUT_LANE_MAX;
    *censored = x >> LAYOUT_LANE_BITS;
}

long
layout_bin(const struct layout *L, int32_t time)
{
    if (time < 0 || (uint32_t)time % L->grid != 0)
        return -1;
    size_t k = (uint32_t)time / L->grid;
    return k < L->nbins ? (long)k : -1;
}

size_t
layout_elems(const struct layout *L)
{
    return L->npos + (LAYOUT_VECTORS - 1) * L->nflag;
}

size_t
layout_vector_off(const struct layout *L, int k)
{
    return k == LAYOUT_VALUE ? 0 : L->npos + (size_t)(k - 1) * L->nflag;
}

size_t
layout_vector_len(const struct layout *L, int k)
{
    return k == LAYOUT_VALUE ? L->npos : L->nflag;
}

const char *
layout_vector_label(int k)
{
    static const char *const labels[LAYOUT_VECTORS] = {"value", "contrib", "small",
        "withheld"};
    return k >= 0 && k < LAYOUT_VECTORS ? labels[k] : "?";
}
