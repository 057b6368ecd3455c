/*
 * kind_survival - the survival kinds and commands: pooled Kaplan-Meier (km)
 * and the log-rank test (logrank), both from the nodes' life tables (one
 * per stratum: distinct times with events and censorings), or, for
 * logrank --stratify-by-node, from each node's own O, E and V.
 *
 * A life table becomes analysis/km.h's km_table in one place
 * (life_table_to_km), for the check and for both merges alike.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analysis/disclose.h"
#include "analysis/km.h"
#include "analysis/logrank.h"
#include "coord/kind.h"
#include "coord/plot.h"
#include "lib/util.h"
#include "proto/vars.h"

/* "V1=level, V2=level" (R's strata names), or "var=level" */
#define SURV_LABEL (WIRE_MAX_KM_BY * (VARS_MAX_NAME + VARS_MAX_LEVEL + 3))

/*
 * A node's life table as a km_table.  A count above REPORT_MAX_ROWS becomes
 * -1, which km_table_check() and km_merge() refuse (sums of such counts
 * would not stay exact).  A table the node truncated (truncated_at > 0,
 * docs/disclosure.md R4) gets one more row: the patients left at risk,
 * censored at truncated_at, which is what the released rows say of them;
 * pooled, the curve is then exact before that time (km_cut_curve stops it
 * there) and the log-rank test is that of the records censored there.
 * Returns -1, t empty, if the columns differ in length, n exceeds KM_MAX_N,
 * or the truncation time is not after the table's last time.
 */
static int
life_table_to_km(const Fedra__LifeTable *lt, struct km_table *t)
{
    memset(t, 0, sizeof *t);
    if (lt->n_time != lt->n_events || lt->n_time != lt->n_censored || lt->n > (uint64_t)KM_MAX_N)
        return -1;
    if (lt->truncated_at > 0 && lt->n_time > 0 && lt->truncated_at <= lt->time[lt->n_time - 1])
        return -1;
    t->n = (int64_t)lt->n;
    t->nrows = lt->n_time;
    t->rows = xcalloc(lt->n_time + 1, sizeof *t->rows);
    int64_t left = t->n;
    for (size_t j = 0; j < lt->n_time; j++) {
        t->rows[j].time = lt->time[j];
        t->rows[j].d = lt->events[j] > REPORT_MAX_ROWS ? -1 : (int64_t)lt->events[j];
        t->rows[j].c = lt->censored[j] > REPORT_MAX_ROWS ? -1 : (int64_t)lt->censored[j];
        left -= t->rows[j].d + t->rows[j].c;
    }
    if (lt->truncated_at > 0 && left > 0)
        t->rows[t->nrows++] = (struct km_row){.time = lt->truncated_at, .d = 0, .c = left};
    return 0;
}

/*
 * Cut t at ${cut}: rows from that time on become one censoring row at it
 * (the records censored at cut).  For the log-rank test over the released
 * period, when some node truncated a table.
 */
static void
km_table_cut(struct km_table *t, int32_t cut)
{
    int64_t left = t->n;
    size_t keep = 0;
    while (keep < t->nrows && t->rows[keep].time < cut) {
        left -= t->rows[keep].d + t->rows[keep].c;
        keep++;
    }
    t->nrows = keep;
    if (left > 0) {
        t->rows = xreallocarray(t->rows, keep + 1, sizeof *t->rows);
        t->rows[t->nrows++] = (struct km_row){.time = cut, .d = 0, .c = left};
    }
}

/*
 * Stop a pooled curve before ${cut} (the earliest truncation of any node's
 * table of the stratum): later points would count the truncated node's
 * patients as censored there.  The events and the median (with its limits)
 * are those of the released period; a median at or after cut is NA.
 */
static void
km_cut_curve(struct km_curve *c, int32_t cut)
{
    size_t keep = 0;
    int64_t events = 0;
    while (keep < c->npts && c->pts[keep].time < cut)
        events += c->pts[keep++].n_event;
    c->npts = keep;
    c->events = events;
    double *m[3] = {&c->median, &c->median_lower, &c->median_upper};
    for (int j = 0; j < 3; j++)
        if (*m[j] == *m[j] && *m[j] >= cut)
            *m[j] = NAN;
}

/* The stratum's level of grouping variable v, "" without it. */
static const char *
lt_level_of(const Fedra__LifeTable *lt, size_t v)
{
    return v < lt->n_levels ? lt->levels[v] : "";
}

/* The stratum's level, "" without grouping. */
static const char *
lt_level(const Fedra__LifeTable *lt)
{
    return lt_level_of(lt, 0);
}

/* The stratum's levels as one key, "a\x1fb" (a level holds no control character). */
static char *
lt_key(const Fedra__LifeTable *lt)
{
    size_t len = 1, at = 0;
    for (size_t v = 0; v < lt->n_levels; v++)
        len += strlen(lt->levels[v]) + 1;
    char *key = xcalloc(len, 1);
    for (size_t v = 0; v < lt->n_levels; v++)
        at += (size_t)snprintf(key + at, len - at, "%s%s", v ? "\x1f" : "", lt->levels[v]);
    return key;
}

/* ---- checking one answer ---- */

/*
 * The grid a node applies is the one asked: the query's grid_days, or 0
 * with exact times.  A node checks that the asked grid is a multiple of its
 * policy's (kind_time_grid) and then bins on the asked grid itself; it
 * refuses what its policy does not allow and never substitutes a coarser
 * grid, so any other grid is a lie or a fault.
 */
static uint32_t
asked_grid(const Fedra__QuerySpec *spec)
{
    return spec->exact_times ? 0 : spec->grid_days;
}

/*
 * One table's times on the grid the node applied: every time (and the time
 * a truncated table stops at) is a multiple of it, and no time lies at or
 * past the truncation.
 */
static int
check_grid_times(const Fedra__LifeTable *lt, uint32_t grid, char *why)
{
    for (size_t j = 0; j < lt->n_time; j++) {
        if (grid > 0 && (lt->time[j] < 0 || (int64_t)lt->time[j] % (int64_t)grid != 0))
            return errf(why, "sent a time (%d days) off the %u-day grid it applied",
                (int)lt->time[j], grid);
        if (lt->truncated_at > 0 && lt->time[j] >= lt->truncated_at)
            return errf(why, "sent a time (%d days) past where its table stops (%d)",
                (int)lt->time[j], (int)lt->truncated_at);
    }
    if (grid > 0 && (lt->truncated_at < 0 || (int64_t)lt->truncated_at % (int64_t)grid != 0))
        return errf(why, "sent a truncation time (%d days) off the %u-day grid it applied",
            (int)lt->truncated_at, grid);
    return 0;
}

/*
 * One stratum's size against the node's own min_cell (KmResult.min_cell):
 * a withheld stratum carries nothing, a released one has 0 or at least
 * min_cell patients.
 */
static int
check_stratum_size(const Fedra__KmResult *km, const Fedra__LifeTable *lt, char *why)
{
    if (lt->suppressed && (lt->n != 0 || lt->n_time != 0))
        return errf(why, "a suppressed stratum carries a life table");
    if (!lt->suppressed && lt->n >= 1 && lt->n < km->min_cell)
        return errf(why, "released a stratum of %" PRIu64 " patients, inside its suppression "
            "range 1 .. %u", lt->n, km->min_cell - 1);
    return 0;
}

/* One life table: its levels, its size within the node's rows, rows that add up. */
static int
check_life_table(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b,
    const Fedra__LifeTable *lt, char *why)
{
    struct km_table t;
    if (lt->n_levels != spec->n_group_by)
        return errf(why, "a life table has %zu levels for %zu grouping variables",
            lt->n_levels, spec->n_group_by);
    for (size_t v = 0; v < lt->n_levels; v++)
        if (!report_level_ok(spec, v, lt->levels[v]))
            return errf(why, "sent an unknown level '%.64s'", lt->levels[v]);
    if (lt->n > b->data_rows || life_table_to_km(lt, &t) != 0)
        return errf(why, "sent an inconsistent life table");
    int rc = km_table_check(&t) != 0 ? errf(why, "sent a life table whose rows do not add up")
                                     : 0;
    km_table_release(&t);
    if (rc == 0)
        rc = check_stratum_size(b->km, lt, why);
    if (rc == 0)
        rc = check_grid_times(lt, b->km->grid_days, why);
    return rc;
}

static int
check_km(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why)
{
    const Fedra__KmResult *km = b->km;
    if (km == NULL)
        return errf(why, "answered without life tables");
    if (km->grid_days != asked_grid(spec))
        return errf(why, "applied a time grid of %u days where %u was asked (0: exact times)",
            km->grid_days, asked_grid(spec));
    if (km->min_cell > DISCLOSE_MAX_MIN_CELL)
        return errf(why, "claims a min_cell of %u, above the largest a node may have (%d)",
            km->min_cell, DISCLOSE_MAX_MIN_CELL);
    char **keys = xcalloc(km->n_strata, sizeof *keys);
    int rc = 0;
    for (size_t k = 0; k < km->n_strata && rc == 0; k++) {
        rc = check_life_table(spec, b, km->strata[k], why);
        keys[k] = lt_key(km->strata[k]);
    }
    if (rc == 0 && !report_all_distinct(keys, km->n_strata))
        rc = errf(why, "sent the same stratum twice");
    for (size_t k = 0; k < km->n_strata; k++)
        free(keys[k]);
    free(keys);
    return rc;
}

/* O, E and V: finite, O and E not negative, V symmetric and positive semi-definite. */
static int
check_oev_numbers(const Fedra__LogrankOev *m, char *why)
{
    size_t g = m->n_groups;
    if (report_finite(m->observed, g) != 0 || report_finite(m->expected, g) != 0 ||
        report_finite(m->variance, g * g) != 0)
        return errf(why, "sent a log-rank sum that is not a finite number (NaN or Inf)");
    for (size_t k = 0; k < g; k++)
        if (m->observed[k] < 0 || m->expected[k] < 0 || m->observed[k] > (double)m->n[k])
            return errf(why, "sent log-rank sums with negative or too many events");
    /*
     * A node computes V[a][b] and V[b][a] apart, so they may differ in the
     * last bits: symmetric within REPORT_PSD_TOL, and its symmetric part
     * positive semi-definite.
     */
    double *v = xcalloc(g * g, sizeof *v), dmax = 0;
    for (size_t k = 0; k < g; k++)
        dmax = fabs(m->variance[k * g + k]) > dmax ? fabs(m->variance[k * g + k]) : dmax;
    int rc = 0;
    for (size_t k = 0; k < g * g && rc == 0; k++) {
        double a = m->variance[k], b = m->variance[(k % g) * g + k / g];
        v[k] = (a + b) / 2;
        if (fabs(a - b) > REPORT_PSD_TOL * (fabs(a) + fabs(b)) + REPORT_PSD_FLOOR * dmax)
            rc = errf(why, "sent a log-rank variance matrix that is not symmetric");
    }
    char psd[FEDRA_ERRLEN];
    if (rc == 0 && report_psd(v, g, psd) != 0)
        rc = errf(why, "sent a log-rank variance matrix that %s", psd);
    free(v);
    return rc;
}

static int
check_oev(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why)
{
    const Fedra__LogrankOev *m = b->logrank;
    if (m == NULL)
        return errf(why, "answered without log-rank sums");
    size_t g = m->n_groups;
    if (g == 0 || g > LOGRANK_MAX_GROUPS || m->n_n != g || m->n_observed != g ||
        m->n_expected != g || m->n_variance != g * g)
        return errf(why, "sent inconsistent log-rank sums");
    char **keys = xcalloc(g, sizeof *keys);
    int rc = 0;
    for (size_t k = 0; k < g; k++) {
        if (rc == 0 && (!report_level_ok(spec, 0, m->groups[k]) || m->n[k] > b->data_rows))
            rc = errf(why, "sent log-rank sums for an unknown group or too many patients");
        keys[k] = xstrdup(m->groups[k]);
    }
    if (rc == 0 && !report_all_distinct(keys, g))
        rc = errf(why, "sent the same group twice");
    for (size_t k = 0; k < g; k++)
        free(keys[k]);
    free(keys);
    return rc == 0 ? check_oev_numbers(m, why) : rc;
}

/* logrank: life tables per group, or (stratified by node) O, E and V. */
static int
check_logrank(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why)
{
    return spec->stratify_by_node ? check_oev(spec, b, why) : check_km(spec, b, why);
}

/* ---- km: merging ---- */

/* One pooled stratum: its levels and the merged curve. */
struct km_stratum {
    const char *level[WIRE_MAX_KM_BY];  /* per --by variable ("" without --by) */
    struct km_curve curve;
    int empty;                      /* pooled N = 0: R has no curve either */
    struct km_point *rows;          /* what is printed: the curve, or the curve at --times */
    size_t nrows;
    int32_t cut;                    /* > 0: the curve stops before it (a node truncated) */
    char withheld[256];             /* nodes that withheld the stratum (R5, auditor) */
    struct km_rmean rmean;          /* --rmean */
};

/*
 * The pooled result: the strata the nodes sent, in R's order of
 * survfit(Surv ~ V1 + V2)'s strata: by the first variable's level (in
 * catalogue order), then by the second's.
 */
struct km_pooled {
    const char *by[WIRE_MAX_KM_BY]; /* the --by variables */
    size_t nby;
    struct report_levels lv[WIRE_MAX_KM_BY];    /* each variable's levels, sorted */
    struct km_stratum *st;
    size_t n;
    int w2;                         /* width of "V2=level" in the strata names (km_pad) */
    double tau;                     /* --rmean TAU, or 0 */
    int has_diff;                   /* --rmean with exactly two curves */
    struct km_rmean_diff diff;      /* curve 2 - curve 1 */
    const struct km_stratum *diff_st[2];
};

/* 1 if the life table is stratum st's. */
static int
km_same_stratum(const struct km_pooled *k, const struct km_stratum *st, const Fedra__LifeTable *lt)
{
    for (size_t v = 0; v < (k->nby ? k->nby : 1); v++)
        if (strcmp(lt_level_of(lt, v), st->level[v]) != 0)
            return 0;
    return 1;
}

/*
 * Strata: each variable's levels the nodes sent, in catalogue order, and
 * the combinations the nodes sent, first variable slowest (R's strata()).
 */
static void
km_strata(const struct report *r, struct km_pooled *k)
{
    size_t nv = k->nby ? k->nby : 1;    /* without --by: one stratum, level "" */
    for (size_t v = 0; v < nv; v++)
        k->lv[v].var = vars_find(k->nby ? k->by[v] : "");
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status != NODE_OK || b->km == NULL)
            continue;
        for (size_t s = 0; s < b->km->n_strata; s++)
            for (size_t v = 0; v < nv; v++)
                report_levels_add(&k->lv[v], lt_level_of(b->km->strata[s], v));
    }
    for (size_t v = 0; v < nv; v++)
        report_levels_sort(&k->lv[v]);
    size_t n2 = nv == 2 ? k->lv[1].n : 1, ncomb = k->lv[0].n * n2;
    uint8_t *sent = xcalloc(ncomb ? ncomb : 1, 1);
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status != NODE_OK || b->km == NULL)
            continue;
        for (size_t s = 0; s < b->km->n_strata; s++) {
            const Fedra__LifeTable *lt = b->km->strata[s];
            int64_t c1 = report_levels_code(&k->lv[0], lt_level_of(lt, 0));
            int64_t c2 = nv == 2 ? report_levels_code(&k->lv[1], lt_level_of(lt, 1)) : 0;
            sent[(size_t)c1 * n2 + (size_t)c2] = 1;
        }
    }
    k->st = xcalloc(ncomb ? ncomb : 1, sizeof *k->st);
    for (size_t c = 0; c < ncomb; c++) {
        if (!sent[c])
            continue;
        struct km_stratum *st = &k->st[k->n++];
        st->level[0] = k->lv[0].text[c / n2];
        st->level[1] = nv == 2 ? k->lv[1].text[c % n2] : NULL;
    }
    free(sent);
}

/* Stratum s pooled over the nodes' tables of its levels. */
static int
km_pool_stratum(const struct report *r, struct km_pooled *k, size_t s, int conf_type, char *err)
{
    struct km_table *tabs = xcalloc(r->fed->nnodes, sizeof *tabs);
    struct km_stratum *st = &k->st[s];
    size_t nt = 0;
    int rc = 0;
    for (size_t i = 0; i < r->fed->nnodes && rc == 0; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status != NODE_OK || b->km == NULL)
            continue;
        for (size_t j = 0; j < b->km->n_strata && rc == 0; j++) {
            const Fedra__LifeTable *lt = b->km->strata[j];
            if (!km_same_stratum(k, st, lt))
                continue;
            if (lt->suppressed) {           /* named in a note, not merged */
                size_t w = strlen(st->withheld);
                snprintf(st->withheld + w, sizeof st->withheld - w, "%s%s",
                    w ? ", " : "", r->fed->nodes[i].name);
                continue;
            }
            if (lt->truncated_at > 0 && (st->cut == 0 || lt->truncated_at < st->cut))
                st->cut = lt->truncated_at;
            if (life_table_to_km(lt, &tabs[nt++]) != 0)
                rc = errf(err, "node '%s' sent an inconsistent life table", r->fed->nodes[i].name);
        }
    }
    int e = rc == 0 ? km_merge(tabs, nt, (enum km_conf_type)conf_type, 0.95, &st->curve) : 0;
    if (e == 0 && st->cut > 0)
        km_cut_curve(&st->curve, st->cut);
    if (e == KM_EEMPTY)
        st->empty = 1;
    else if (e != 0)
        rc = errf(err, "a node's life table for stratum '%s%s%s' is inconsistent (km error %d)",
            st->level[0], st->level[1] ? ", " : "", st->level[1] ? st->level[1] : "", e);
    for (size_t j = 0; j < nt; j++)
        km_table_release(&tabs[j]);
    free(tabs);
    return rc;
}

/* Rows to print: the whole curve, or the curve at the requested times. */
static int
km_rows(struct km_pooled *k, const struct coord_show *show, char *err)
{
    for (size_t s = 0; s < k->n; s++) {
        struct km_stratum *st = &k->st[s];
        if (st->empty)
            continue;
        if (show->ntimes == 0) {
            st->rows = st->curve.pts;
            st->nrows = st->curve.npts;
        } else if (km_at_times(&st->curve, show->times, show->ntimes, 0, &st->rows,
                       &st->nrows) != 0) {
            return errf(err, "cannot evaluate the curve at the requested times");
        }
    }
    return 0;
}

/*
 * R's strata() pads the second variable's "V2=level" to the width of the
 * longest among the factor's levels (format()), as in "stage=regional,
 * surgery=no     ".  The factor holds the levels present in the pooled
 * data (README: levels absent from the pooled data dropped): those of the
 * strata with patients, or withheld by a node (patients not pooled).
 */
static void
km_pad(struct km_pooled *k)
{
    k->w2 = 0;
    for (size_t s = 0; k->nby == 2 && s < k->n; s++) {
        int w = (int)(strlen(k->by[1]) + 1 + strlen(k->st[s].level[1]));
        if ((!k->st[s].empty || k->st[s].withheld[0]) && w > k->w2)
            k->w2 = w;
    }
}

/* "var=level" or "V1=a, V2=b" as R names strata; without --by, none (""), or "all". */
static const char *
km_label(const struct km_pooled *k, size_t s, const char *all, char out[SURV_LABEL])
{
    char second[VARS_MAX_NAME + VARS_MAX_LEVEL + 3];
    if (k->nby == 0) {
        snprintf(out, SURV_LABEL, "%s", all);
    } else if (k->nby == 1) {
        snprintf(out, SURV_LABEL, "%s=%s", k->by[0], k->st[s].level[0]);
    } else {
        int len = snprintf(second, sizeof second, "%s=%s", k->by[1], k->st[s].level[1]);
        size_t w = len < 0 ? 0 : (size_t)len < sizeof second ? (size_t)len : sizeof second - 1;
        while (w < (size_t)k->w2 && w + 1 < sizeof second)
            second[w++] = ' ';
        second[w] = '\0';
        snprintf(out, SURV_LABEL, "%s=%s, %s", k->by[0], k->st[s].level[0], second);
    }
    return out;
}

/*
 * --rmean TAU (show->rmean > 0): each curve's restricted mean (km_rmean),
 * and for exactly two curves their difference, curve 2 - curve 1.  As R:
 * a TAU before the first time of every curve is an error (print.survfit
 * stops: "Truncation point for the mean is < smallest survival").  A curve
 * a node cut before TAU (R4) has no restricted mean up to TAU: an error,
 * never a number computed on the cut curve.  At TAU == cut the curve is
 * known on [0, TAU), which is all the integral needs.
 */
static int
km_rmeans(struct km_pooled *k, const struct coord_show *show, char *err)
{
    double tau = k->tau = show->rmean;
    const struct km_curve **cv = xcalloc(k->n ? k->n : 1, sizeof *cv);
    size_t nc = 0;
    char label[SURV_LABEL];
    int rc = 0;
    for (size_t s = 0; s < k->n; s++)
        if (!k->st[s].empty)
            cv[nc++] = &k->st[s].curve;
    double first = km_rmean_first(cv, nc);
    free(cv);
    if (nc > 0 && tau < first)
        return errf(err, "--rmean %g is before the first time of the curves (day %g): there "
            "is no restricted mean (R's print.survfit stops too: \"Truncation point for the "
            "mean is < smallest survival\")", tau, first);
    for (size_t s = 0; s < k->n && rc == 0; s++) {
        struct km_stratum *st = &k->st[s];
        if (st->empty)
            continue;
        if (st->cut > 0 && tau > st->cut)
            return errf(err, "--rmean %g: the curve of %s is withheld from day %d (fewer than "
                "min_cell at risk there, docs/disclosure.md R4), so its restricted mean up to "
                "day %g is not known; choose TAU <= %d", tau, km_label(k, s, "all patients",
                label), st->cut, tau, st->cut);
        if (km_rmean(&st->curve, tau, &st->rmean) != 0)
            return errf(err, "cannot compute the restricted mean up to %g", tau);
        if (nc == 2)
            k->diff_st[k->diff_st[0] != NULL] = st;
    }
    if (nc == 2) {
        k->has_diff = 1;
        if (km_rmean_diff(&k->diff_st[0]->rmean, &k->diff_st[1]->rmean, 0.95, &k->diff) != 0)
            return errf(err, "cannot compute the difference of the restricted means");
    }
    return 0;
}

static void
km_pooled_release(struct km_pooled *k, const struct coord_show *show)
{
    for (size_t s = 0; s < k->n; s++) {
        if (show->ntimes > 0)
            free(k->st[s].rows);
        km_curve_release(&k->st[s].curve);
    }
    free(k->st);
    for (size_t v = 0; v < WIRE_MAX_KM_BY; v++)
        free(k->lv[v].text);
}

/* ---- km: printing ---- */

/* The notes of withheld strata and truncated curves, one line each, on f. */
static void
km_notes(FILE *f, const struct km_pooled *k)
{
    char label[SURV_LABEL];
    for (size_t s = 0; s < k->n; s++) {
        const struct km_stratum *st = &k->st[s];
        if (st->withheld[0])
            fprintf(f, "note: %s withheld by %s (fewer than min_cell patients there, or not "
                "releasable with earlier answers; not pooled)\n", km_label(k, s, "all", label),
                st->withheld);
        if (st->cut > 0 && !st->empty)
            fprintf(f, "note: %s: curve withheld from day %d: fewer than min_cell at risk\n",
                km_label(k, s, "all", label), st->cut);
    }
}

/* Draw the non-empty strata; numbers at risk below the largest node min_cell are hidden. */
static int
km_plot(const struct report *r, const char *path, const struct km_pooled *k, char *err)
{
    uint32_t min_cell = 1;
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status == NODE_OK && b->km != NULL && b->km->min_cell > min_cell)
            min_cell = b->km->min_cell;
    }
    struct plot_curve pc[PLOT_MAX_CURVES];
    char labels[PLOT_MAX_CURVES][SURV_LABEL];
    size_t n = 0;
    for (size_t s = 0; s < k->n; s++) {
        if (k->st[s].empty)
            continue;
        if (n == PLOT_MAX_CURVES)
            return errf(err, "more than %d curves to plot", PLOT_MAX_CURVES);
        pc[n].label = km_label(k, s, "all", labels[n]);
        pc[n].curve = &k->st[s].curve;
        pc[n].cut = k->st[s].cut;
        n++;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return errf(err, "cannot write '%s'", path);
    int rc = plot_km_svg(f, "Kaplan-Meier estimate (pooled over the federation)", pc, n,
        min_cell, err);
    if (fclose(f) != 0 && rc == 0)
        rc = errf(err, "cannot write '%s'", path);
    return rc;
}

static void
km_point_csv(FILE *f, const char *label, const struct km_point *p, const char *tail)
{
    report_csv_field(f, label);
    fprintf(f, ",%d,%lld,%lld,%lld,", p->time, (long long)p->n_risk, (long long)p->n_event,
        (long long)p->n_censor);
    report_put_num(f, p->surv);
    fputc(',', f);
    report_put_num(f, p->std_err);
    fputc(',', f);
    report_put_num(f, p->lower);
    fputc(',', f);
    report_put_num(f, p->upper);
    fprintf(f, "%s\n", tail);
}

/* --rmean's CSV summary: the stratum's rmean, then the difference of two curves. */
static void
km_rmean_tail(struct buf *tail, const struct km_pooled *k, const struct km_stratum *st)
{
    if (k->tau <= 0)
        return;
    report_tail_num(tail, k->tau);
    report_tail_num(tail, st->rmean.rmean);
    report_tail_num(tail, st->rmean.se);
    const double d[5] = {k->diff.diff, k->diff.se, k->diff.lower, k->diff.upper, k->diff.p};
    for (int j = 0; k->has_diff && j < 5; j++)
        report_tail_num(tail, d[j]);
}

/*
 * CSV: the curve's columns, then the stratum's n, events and median with
 * its CI, with --rmean its restricted mean (and the difference of two
 * curves), and nodes.
 */
static void
km_csv(const struct report *r, const struct km_pooled *k)
{
    char label[SURV_LABEL];
    fprintf(r->out, "strata,time,n.risk,n.event,n.censor,surv,std.err,lower,upper,"
        "n,events,median,median.lower,median.upper%s%s,nodes\n",
        k->tau > 0 ? ",rmean.tau,rmean,rmean.se" : "", k->has_diff ?
        ",rmean.diff,rmean.diff.se,rmean.diff.lower,rmean.diff.upper,rmean.diff.p" : "");
    for (size_t s = 0; s < k->n; s++) {
        const struct km_curve *c = &k->st[s].curve;
        struct buf tail = {0};
        report_tail_int(&tail, (long long)c->n);
        report_tail_int(&tail, (long long)c->events);
        report_tail_num(&tail, c->median);
        report_tail_num(&tail, c->median_lower);
        report_tail_num(&tail, c->median_upper);
        km_rmean_tail(&tail, k, &k->st[s]);
        report_tail_nodes(&tail, r);
        km_label(k, s, "", label);
        for (size_t j = 0; j < k->st[s].nrows; j++)
            km_point_csv(r->out, label, &k->st[s].rows[j], report_tail_text(&tail));
        buf_release(&tail);
    }
    km_notes(r->diag, k);
    report_nodes_text(r, r->diag);
}

static json_t *
km_point_json(const struct km_point *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "time", json_integer(p->time));
    json_object_set_new(o, "n.risk", json_integer(p->n_risk));
    json_object_set_new(o, "n.event", json_integer(p->n_event));
    json_object_set_new(o, "n.censor", json_integer(p->n_censor));
    json_object_set_new(o, "surv", report_json_num(p->surv));
    json_object_set_new(o, "std.err", report_json_num(p->std_err));
    json_object_set_new(o, "lower", report_json_num(p->lower));
    json_object_set_new(o, "upper", report_json_num(p->upper));
    return o;
}

/* The difference of two restricted means: strata [first, second], second - first. */
static json_t *
km_diff_json(const struct km_pooled *k)
{
    char label[SURV_LABEL];
    json_t *d = json_object(), *names = json_array();
    for (size_t i = 0; i < 2; i++)
        json_array_append_new(names, json_string(km_label(k,
            (size_t)(k->diff_st[i] - k->st), "", label)));
    json_object_set_new(d, "strata", names);
    json_object_set_new(d, "diff", report_json_num(k->diff.diff));
    json_object_set_new(d, "se", report_json_num(k->diff.se));
    json_object_set_new(d, "lower", report_json_num(k->diff.lower));
    json_object_set_new(d, "upper", report_json_num(k->diff.upper));
    json_object_set_new(d, "p", report_json_num(k->diff.p));
    return d;
}

static void
km_json(const struct report *r, const struct km_pooled *k)
{
    char label[SURV_LABEL];
    json_t *curves = json_array();
    for (size_t s = 0; s < k->n; s++) {
        const struct km_stratum *st = &k->st[s];
        if (st->empty)
            continue;
        json_t *c = json_object(), *a = json_array();
        json_object_set_new(c, "strata", json_string(km_label(k, s, "", label)));
        json_object_set_new(c, "n", json_integer(st->curve.n));
        json_object_set_new(c, "events", json_integer(st->curve.events));
        json_object_set_new(c, "median", report_json_num(st->curve.median));
        json_object_set_new(c, "median_lower", report_json_num(st->curve.median_lower));
        json_object_set_new(c, "median_upper", report_json_num(st->curve.median_upper));
        json_object_set_new(c, "truncated_at", st->cut > 0 ? json_integer(st->cut)
                                                          : json_null());
        if (k->tau > 0) {
            json_object_set_new(c, "rmean", report_json_num(st->rmean.rmean));
            json_object_set_new(c, "rmean_se", report_json_num(st->rmean.se));
        }
        for (size_t j = 0; j < st->nrows; j++)
            json_array_append_new(a, km_point_json(&st->rows[j]));
        json_object_set_new(c, "rows", a);
        json_array_append_new(curves, c);
    }
    json_t *res = json_object(), *held = json_array();
    for (size_t s = 0; s < k->n; s++)
        if (k->st[s].withheld[0]) {
            json_t *h = json_object();
            json_object_set_new(h, "strata", json_string(km_label(k, s, "", label)));
            json_object_set_new(h, "nodes", json_string(k->st[s].withheld));
            json_array_append_new(held, h);
        }
    json_object_set_new(res, "curves", curves);
    json_object_set_new(res, "withheld", held);
    if (k->tau > 0) {
        json_object_set_new(res, "rmean_tau", json_real(k->tau));
        json_object_set_new(res, "rmean_diff", k->has_diff ? km_diff_json(k) : json_null());
    }
    report_emit_json(r, res);
}

/* The curve at --times, one block per stratum, as summary(fit, times=) prints it. */
static void
km_table_times(FILE *f, const struct km_pooled *k)
{
    char label[SURV_LABEL];
    for (size_t s = 0; s < k->n; s++) {
        if (k->st[s].empty)
            continue;
        fprintf(f, "\n%s\n%8s %7s %7s %10s %10s %10s %10s\n", km_label(k, s, "all", label),
            "time", "n.risk", "n.event", "survival", "std.err", "lower95", "upper95");
        for (size_t j = 0; j < k->st[s].nrows; j++) {
            const struct km_point *p = &k->st[s].rows[j];
            fprintf(f, "%8d %7lld %7lld %10.4f %10.4f %10.4f %10.4f\n", p->time,
                (long long)p->n_risk, (long long)p->n_event, p->surv, p->std_err, p->lower,
                p->upper);
        }
    }
}

/* The difference of two restricted means, after print.survfit's table. */
static void
km_table_diff(FILE *f, const struct km_pooled *k)
{
    char a[SURV_LABEL], b[SURV_LABEL];
    km_label(k, (size_t)(k->diff_st[0] - k->st), "all", a);
    km_label(k, (size_t)(k->diff_st[1] - k->st), "all", b);
    fprintf(f, "restricted mean difference (%s) - (%s): %g, se %g, 95%% CI %g to %g, p = %g\n"
        "    (Wald interval on independent groups: se = sqrt(se1^2 + se2^2))\n", b, a,
        k->diff.diff, k->diff.se, k->diff.lower, k->diff.upper, k->diff.p);
}

/*
 * n, events, with --rmean the restricted mean and its se, and the median
 * with its CI per stratum, as print.survfit (with rmean = TAU).
 */
static void
km_table(const struct report *r, const struct km_pooled *k, const struct coord_show *show)
{
    FILE *f = r->out;
    char label[SURV_LABEL];
    int w = 28;
    for (size_t s = 0; s < k->n; s++)
        if (!k->st[s].empty && (int)strlen(km_label(k, s, "all", label)) > w)
            w = (int)strlen(label);
    fprintf(f, "%-*s %7s %7s", w, "strata", "n", "events");
    if (k->tau > 0)
        fprintf(f, " %9s %9s", "rmean*", "se(rmean)");
    fprintf(f, " %9s %9s %9s\n", "median", "0.95LCL", "0.95UCL");
    for (size_t s = 0; s < k->n; s++) {
        const struct km_curve *c = &k->st[s].curve;
        if (k->st[s].empty)
            continue;
        fprintf(f, "%-*s %7lld %7lld", w, km_label(k, s, "all", label), (long long)c->n,
            (long long)c->events);
        if (k->tau > 0)
            fprintf(f, " %9g %9g", k->st[s].rmean.rmean, k->st[s].rmean.se);
        double m[3] = {c->median, c->median_lower, c->median_upper};
        for (int j = 0; j < 3; j++) {
            if (m[j] == m[j])
                fprintf(f, " %9g", m[j]);
            else
                fprintf(f, " %9s", "NA");
        }
        fputc('\n', f);
    }
    if (k->tau > 0)
        fprintf(f, "    * restricted mean with upper limit =  %g\n", k->tau);
    if (k->has_diff)
        km_table_diff(f, k);
    km_notes(f, k);
    if (show->ntimes > 0)
        km_table_times(f, k);
    fputc('\n', f);
    report_nodes_text(r, f);
}

/*
 * Pooled Kaplan-Meier per stratum (--by: one or two variables, or none),
 * with limits of show->conf_type at 95%; with --times the curve is reported
 * at those times only, as summary(fit, times=) does; with --rmean TAU each
 * curve's restricted mean (km_rmeans); with --plot it is also drawn to that
 * SVG file (coord/plot.h).
 */
static int
km_report(const struct report *r, const Fedra__QuerySpec *spec, const struct coord_show *show,
    char *err)
{
    struct km_pooled k;
    memset(&k, 0, sizeof k);
    k.nby = spec->n_group_by;
    for (size_t v = 0; v < k.nby && v < WIRE_MAX_KM_BY; v++)
        k.by[v] = spec->group_by[v];
    if (k.nby > WIRE_MAX_KM_BY)
        return errf(err, "km takes at most %d --by variables", WIRE_MAX_KM_BY);
    km_strata(r, &k);
    int rc = 0;
    for (size_t s = 0; s < k.n && rc == 0; s++)
        rc = km_pool_stratum(r, &k, s, show->conf_type, err);
    km_pad(&k);
    if (rc == 0 && show->rmean > 0)
        rc = km_rmeans(&k, show, err);
    if (rc == 0 && show->plot != NULL)
        rc = km_plot(r, show->plot, &k, err);
    if (rc == 0)
        rc = km_rows(&k, show, err);
    if (rc == 0 && r->format == REPORT_CSV)
        km_csv(r, &k);
    else if (rc == 0 && r->format == REPORT_JSON)
        km_json(r, &k);
    else if (rc == 0)
        km_table(r, &k, show);
    km_pooled_release(&k, show);
    return rc;
}

const struct coord_kind kind_km = {
    FEDRA__KIND__KIND_KM, "km", check_km, km_report, 0,
};

/* ---- logrank ---- */

/* Node's life table of group st, or an empty one if it sent none; -1 if inconsistent. */
static int
node_group_table(const Fedra__ResponseBody *b, const struct km_pooled *k,
    const struct km_stratum *st, struct km_table *t)
{
    memset(t, 0, sizeof *t);
    for (size_t j = 0; b->km != NULL && j < b->km->n_strata; j++) {
        const Fedra__LifeTable *lt = b->km->strata[j];
        if (lt->n_levels == k->nby && km_same_stratum(k, st, lt))
            return life_table_to_km(lt, t);
    }
    return 0;
}

/* The groups every answer names, in catalogue order (one variable: stratified by node). */
static void
lr_groups(const struct report *r, struct report_levels *lv)
{
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status != NODE_OK)
            continue;
        for (size_t k = 0; b->km != NULL && k < b->km->n_strata; k++)
            if (b->km->strata[k]->n_levels == 1)
                report_levels_add(lv, b->km->strata[k]->levels[0]);
        for (size_t k = 0; b->logrank != NULL && k < b->logrank->n_groups; k++)
            report_levels_add(lv, b->logrank->groups[k]);
    }
    report_levels_sort(lv);
}

/* Stratified by node: the nodes' own O, E, V, summed in the pooled group order. */
static int
lr_sum_oev(const struct report *r, const struct report_levels *lv, struct logrank_oev *sum,
    char *err)
{
    size_t G = lv->n;
    if (logrank_oev_init(sum, G) != 0)
        return errf(err, "out of memory");
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__LogrankOev *m = r->replies[i].body ? r->replies[i].body->logrank : NULL;
        if (r->replies[i].status != NODE_OK)
            continue;
        size_t g = m ? m->n_groups : 0;
        if (m == NULL || m->n_n != g || m->n_observed != g || m->n_expected != g ||
            m->n_variance != g * g)
            return errf(err, "node '%s' sent inconsistent log-rank sums", r->fed->nodes[i].name);
        size_t *map = xcalloc(g, sizeof *map);
        for (size_t a = 0; a < g; a++)
            map[a] = (size_t)report_levels_code(lv, m->groups[a]);
        for (size_t a = 0; a < g; a++) {
            sum->n[map[a]] += (int64_t)m->n[a];
            sum->o[map[a]] += m->observed[a];
            sum->e[map[a]] += m->expected[a];
            for (size_t c = 0; c < g; c++)
                sum->v[map[a] * G + map[c]] += m->variance[a * g + c];
        }
        free(map);
    }
    return 0;
}

/*
 * Pooled: every group's life tables over the nodes, then O, E, V of the
 * pooled curves.  The groups are km's strata (k, one or two variables).  A
 * stratum a node withheld counts as empty there (and is marked withheld in
 * k, for the names' padding).  When a node truncated a table (R4), every
 * table is cut at the earliest such time (*cut, else 0): the test is over
 * the released period, that of the records censored at *cut (survdiff on
 * them gives the same numbers).
 */
static int
lr_sum_pooled(const struct report *r, struct km_pooled *k, struct logrank_oev *sum,
    int32_t *cut, struct buf *held, char *err)
{
    size_t nn = r->fed->nnodes, G = k->n, used = 0;
    struct km_table *tabs = xcalloc(nn * G, sizeof *tabs);
    int rc = 0;
    *cut = 0;
    for (size_t i = 0; i < nn && rc == 0; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status != NODE_OK)
            continue;
        for (size_t g = 0; g < G && rc == 0; g++)
            if (node_group_table(b, k, &k->st[g], &tabs[used * G + g]) != 0)
                rc = errf(err, "node '%s' sent an inconsistent life table", r->fed->nodes[i].name);
        for (size_t j = 0; b->km != NULL && j < b->km->n_strata; j++) {
            const Fedra__LifeTable *lt = b->km->strata[j];
            for (size_t g = 0; lt->suppressed && g < G; g++)
                if (km_same_stratum(k, &k->st[g], lt))
                    k->st[g].withheld[0] = '*';
            if (lt->suppressed)
                buf_printf(held, "%s%s%s%s at %s", held->len ? ", " : "", lt_level(lt),
                    lt->n_levels > 1 ? ", " : "", lt_level_of(lt, 1), r->fed->nodes[i].name);
            int32_t t = lt->truncated_at;
            if (t > 0 && (*cut == 0 || t < *cut))
                *cut = t;
        }
        used++;
    }
    for (size_t j = 0; *cut > 0 && j < used * G; j++)
        km_table_cut(&tabs[j], *cut);
    if (rc == 0 && logrank_pooled(tabs, used, G, sum) != 0)
        rc = errf(err, "a node's life tables are inconsistent");
    for (size_t j = 0; j < nn * G; j++)
        km_table_release(&tabs[j]);
    free(tabs);
    return rc;
}

/* The test, once the sums are there. */
struct lr_out {
    char (*label)[SURV_LABEL];      /* each group's name, as survdiff names it */
    int stratified;
    size_t G;                       /* groups */
    const struct logrank_oev *sum;
    struct logrank_result res;
    int32_t cut;                    /* > 0: over the released period, before this day */
    struct buf held;                /* "level at node, ...": groups a node withheld */
};

static void
lr_json(const struct report *r, const struct lr_out *t)
{
    json_t *o = json_object(), *groups = json_array();
    json_object_set_new(o, "chisq", json_real(t->res.chisq));
    json_object_set_new(o, "df", json_integer(t->res.df));
    json_object_set_new(o, "p", json_real(t->res.p));
    json_object_set_new(o, "stratified_by_node", json_boolean(t->stratified));
    json_object_set_new(o, "truncated_at", t->cut > 0 ? json_integer(t->cut) : json_null());
    json_object_set_new(o, "withheld", t->held.len ? json_stringn((const char *)t->held.p,
        t->held.len) : json_null());
    for (size_t g = 0; g < t->G; g++) {
        if (t->sum->n[g] == 0)
            continue;           /* survdiff lists only groups with patients */
        json_t *x = json_object();
        json_object_set_new(x, "group", json_string(t->label[g]));
        json_object_set_new(x, "n", json_integer(t->sum->n[g]));
        json_object_set_new(x, "observed", json_real(t->sum->o[g]));
        json_object_set_new(x, "expected", json_real(t->sum->e[g]));
        json_array_append_new(groups, x);
    }
    json_object_set_new(o, "groups", groups);
    report_emit_json(r, o);
}

static double
oe2_over_e(const struct logrank_oev *s, size_t g)
{
    return s->e[g] > 0 ? (s->o[g] - s->e[g]) * (s->o[g] - s->e[g]) / s->e[g] : 0;
}

/* CSV: group,n,observed,expected, then (O-E)^2/E, the test and the nodes. */
static void
lr_csv(const struct report *r, const struct lr_out *t)
{
    FILE *f = r->out;
    struct buf tail = {0};
    report_tail_num(&tail, t->res.chisq);
    report_tail_int(&tail, t->res.df);
    report_tail_num(&tail, t->res.p);
    report_tail_bool(&tail, t->stratified);
    report_tail_nodes(&tail, r);
    fputs("group,n,observed,expected,oe2_over_e,chisq,df,p,stratified_by_node,nodes\n", f);
    for (size_t g = 0; g < t->G; g++) {
        if (t->sum->n[g] == 0)
            continue;
        report_csv_field(f, t->label[g]);
        fprintf(f, ",%lld,%.17g,%.17g,%.17g%s\n", (long long)t->sum->n[g], t->sum->o[g],
            t->sum->e[g], oe2_over_e(t->sum, g), report_tail_text(&tail));
    }
    buf_release(&tail);
}

/* The table as survdiff prints it; for CSV, the test and nodes also go to r->diag. */
static void
lr_text(const struct report *r, const struct lr_out *t)
{
    FILE *f = r->out;
    if (r->format == REPORT_CSV) {
        lr_csv(r, t);
    } else {
        fprintf(f, "%-32s %8s %12s %12s %12s\n", "", "N", "Observed", "Expected", "(O-E)^2/E");
        for (size_t g = 0; g < t->G; g++) {
            if (t->sum->n[g] == 0)
                continue;
            fprintf(f, "%-32s %8lld %12.6g %12.6g %12.6g\n", t->label[g], (long long)t->sum->n[g],
                t->sum->o[g], t->sum->e[g], oe2_over_e(t->sum, g));
        }
    }
    FILE *d = r->format == REPORT_CSV ? r->diag : f;
    fprintf(d, "\n%sChisq = %.17g on %d degrees of freedom, p = %.17g\n",
        t->stratified ? "stratified by node: " : "", t->res.chisq, t->res.df, t->res.p);
    if (t->held.len)
        fprintf(d, "note: groups withheld by a node, not pooled (fewer than min_cell patients "
            "there, or not releasable with earlier answers): %.*s\n", (int)t->held.len,
            (const char *)t->held.p);
    if (t->cut > 0)
        fprintf(d, "note: over the released period only: records censored at day %d (a node "
            "withheld its curves from there: fewer than min_cell at risk)\n", t->cut);
    if (r->format != REPORT_CSV)
        fputc('\n', f);
    report_nodes_text(r, d);
}

/*
 * Log-rank test of the groups of --by: pooled from the nodes' life tables
 * (survdiff(Surv ~ g)), or, stratified by node, from the nodes' own O, E, V
 * (survdiff(Surv ~ g + strata(node))).
 */
static int
logrank_report(const struct report *r, const Fedra__QuerySpec *spec,
    const struct coord_show *show, char *err)
{
    if (spec->n_group_by == 0 || spec->n_group_by > WIRE_MAX_KM_BY ||
        (spec->stratify_by_node && spec->n_group_by != 1))
        return report_nodes(r, err);    /* a saved query without groups: nothing to test */
    struct report_levels lv = {vars_find(spec->group_by[0]), NULL, 0, 0};
    struct km_pooled k;
    memset(&k, 0, sizeof k);
    struct lr_out t = {NULL, spec->stratify_by_node, 0, NULL, {0, 0, 1}, 0, {0}};
    struct logrank_oev sum = {0};
    int rc = 0;
    if (t.stratified) {
        lr_groups(r, &lv);
        t.G = lv.n;
    } else {                            /* the groups are km's strata: one or two variables */
        k.nby = spec->n_group_by;
        for (size_t v = 0; v < k.nby; v++)
            k.by[v] = spec->group_by[v];
        km_strata(r, &k);
        t.G = k.n;
    }
    if (t.G == 0 || t.G > LOGRANK_MAX_GROUPS)
        rc = errf(err, "no groups to compare (or more than %d)", LOGRANK_MAX_GROUPS);
    else if (t.stratified)
        rc = lr_sum_oev(r, &lv, &sum, err);
    else
        rc = lr_sum_pooled(r, &k, &sum, &t.cut, &t.held, err);
    int e = rc == 0 ? logrank_test(&sum, &t.res) : 0;
    if (e == LOGRANK_ESINGULAR)
        rc = errf(err, "the variance matrix is singular (as R's survdiff, which stops here)");
    else if (e != 0)
        rc = errf(err, "log-rank test failed (error %d)", e);
    t.sum = &sum;
    t.label = xcalloc(t.G ? t.G : 1, sizeof *t.label);
    for (size_t g = 0; rc == 0 && !t.stratified && g < t.G; g++)
        k.st[g].empty = sum.n[g] == 0;
    km_pad(&k);
    for (size_t g = 0; rc == 0 && g < t.G; g++) {
        if (t.stratified)
            snprintf(t.label[g], SURV_LABEL, "%s=%s", spec->group_by[0], lv.text[g]);
        else
            km_label(&k, g, "", t.label[g]);
    }
    if (rc == 0 && r->format == REPORT_JSON)
        lr_json(r, &t);
    else if (rc == 0)
        lr_text(r, &t);
    logrank_oev_release(&sum);
    buf_release(&t.held);
    free(t.label);
    free(lv.text);
    km_pooled_release(&k, show);
    return rc;
}

const struct coord_kind kind_logrank = {
    FEDRA__KIND__KIND_LOGRANK, "logrank", check_logrank, logrank_report, 0,
};

/* ---- the commands ---- */

static int
parse_times(const char *v, struct coord_query *q)
{
    char *parts[COORD_MAX_TIMES];
    size_t n;
    if (coord_split_list(v, parts, COORD_MAX_TIMES, &n) != 0)
        return coord_usage_error("--times takes at most %d values", COORD_MAX_TIMES);
    free(q->times);
    q->times = xcalloc(n, sizeof *q->times);
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        long long t;
        bad |= util_parse_int(parts[k], 0, INT32_MAX, &t) != 0;
        q->times[k] = bad ? 0 : (int32_t)t;
        free(parts[k]);
    }
    q->show.times = q->times;
    q->show.ntimes = n;
    if (bad || n == 0)
        return coord_usage_error("--times takes days (whole numbers >= 0) separated by commas, "
            "got '%s'", v);
    return 0;
}

static int
parse_conf_type(const char *v, int *out)
{
    if (strcmp(v, "log") == 0)
        *out = KM_CONF_LOG;
    else if (strcmp(v, "log-log") == 0)
        *out = KM_CONF_LOGLOG;
    else if (strcmp(v, "plain") == 0)
        *out = KM_CONF_PLAIN;
    else
        return coord_usage_error("--conf-type takes log, log-log or plain, got '%s'", v);
    return 0;
}

/* --rmean TAU: days after 0 (a real number, as R's rmean =). */
static int
parse_rmean(const char *v, struct coord_query *q)
{
    char *end;
    double tau = strtod(v, &end);
    if (end == v || *end != '\0' || !(tau > 0 && tau <= KM_MAX_TIME))
        return coord_usage_error("--rmean takes the time up to which to integrate, in days "
            "(a number > 0 and <= %d), got '%s'", KM_MAX_TIME, v);
    q->show.rmean = tau;
    return 0;
}

/*
 * --by V or --by V1,V2: up to WIRE_MAX_KM_BY variables, strata (log-rank
 * groups) named and ordered as survfit(Surv ~ V1 + V2) and survdiff name
 * and order them.
 */
static int
parse_surv_by(int logrank, const char *v, struct coord_query *q)
{
    char *parts[WIRE_MAX_KM_BY];
    size_t n;
    while (q->nby > 0)
        free(q->by[--q->nby]);
    if (coord_split_list(v, parts, WIRE_MAX_KM_BY, &n) != 0)
        return coord_usage_error("%s takes at most %d --by variables, got '%s'",
            logrank ? "logrank" : "km", WIRE_MAX_KM_BY, v);
    for (size_t k = 0; k < n; k++)
        q->by[q->nby++] = parts[k];
    if (n == 0 || (n == 2 && strcmp(q->by[0], q->by[1]) == 0))
        return coord_usage_error("--by takes one variable or two different ones, got '%s'", v);
    return 0;
}

/* One option with a value (argv[i], v), shared by km and logrank; -1 if not one of them. */
static int
parse_surv_option(int logrank, const char *a, const char *v, struct coord_query *q,
    const char **where_expr)
{
    if (strcmp(a, "--by") == 0) {
        return parse_surv_by(logrank, v, q);
    } else if (!logrank && strcmp(a, "--rmean") == 0) {
        return parse_rmean(v, q);
    } else if (strcmp(a, "--where") == 0) {
        *where_expr = v;
    } else if (strcmp(a, "--endpoint") == 0) {
        return coord_parse_endpoint(v, &q->spec.endpoint);
    } else if (strcmp(a, "--grid") == 0) {
        return coord_parse_grid(v, &q->spec.grid_days);
    } else if (strcmp(a, "--conf-type") == 0) {
        return parse_conf_type(v, &q->show.conf_type);
    } else if (strcmp(a, "--times") == 0) {
        return parse_times(v, q);
    } else if (!logrank && strcmp(a, "--plot") == 0) {
        q->show.plot = v;
    } else {
        return -1;
    }
    return 0;
}

/* km and logrank share their options; logrank adds --stratify-by-node and needs --by. */
static int
parse_surv(int argc, char **argv, struct coord_query *q)
{
    int logrank = strcmp(argv[0], "logrank") == 0, rc;
    const char *where_expr = NULL;
    q->spec.endpoint = FEDRA__ENDPOINT__ENDPOINT_OS;
    q->spec.grid_days = COORD_DEFAULT_GRID;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (logrank && strcmp(argv[i], "--stratify-by-node") == 0)
            q->spec.stratify_by_node = 1;
        else if (v == NULL || (rc = parse_surv_option(logrank, argv[i], v, q, &where_expr)) < 0)
            return coord_usage_error("%s: unexpected argument '%s'", argv[0], argv[i]);
        else if (rc != 0)
            return rc;
        else
            i++;
    }
    if (logrank && q->nby == 0)
        return coord_usage_error("%s", "logrank needs --by V (the groups to compare)");
    if (logrank && q->spec.stratify_by_node && q->nby > 1)
        return coord_usage_error("%s", "logrank --stratify-by-node takes one --by variable "
            "(nodes send O, E and V per level of one variable)");
    if (coord_parse_where(where_expr, q) != 0)
        return 2;
    q->spec.kind = logrank ? FEDRA__KIND__KIND_LOGRANK : FEDRA__KIND__KIND_KM;
    q->spec.n_group_by = q->nby;
    q->spec.group_by = q->by;
    q->spec.exact_times = q->spec.grid_days == 0;
    return 0;
}

#define SURV_OPTIONS \
    "  --where EXPR        select patients, e.g. \"stage=metastatic and age_years<10\"\n" \
    "  --endpoint os|efs   overall (default) or event-free survival\n" \
    "  --grid DAYS         times rounded up to a grid of DAYS (default 30); 0: exact times,\n" \
    "                      only where every node's policy allows them\n"

const struct coord_cmd cmd_km = {
    "km", "km [--by V[,V2]] [--where EXPR] [--endpoint os|efs] [--grid DAYS]\n"
        "   [--conf-type log|log-log|plain] [--times T,...] [--rmean TAU] [--plot FILE.svg]",
    "pooled Kaplan-Meier curves (survfit), per level of one variable or per combination\n"
        "of two; --rmean adds the restricted mean survival",
    "  --by V[,V2]         one curve per level of V, or per combination of levels of V and\n"
    "                      V2, named and ordered as survfit(Surv ~ V + V2): \"V=a, V2=b\"\n"
    SURV_OPTIONS
    "  --conf-type T       confidence limits: log (default), log-log or plain\n"
    "  --times T,...       the curve at these days only, as summary(fit, times=)\n"
    "  --rmean TAU         each curve's restricted mean survival up to day TAU and its se,\n"
    "                      as print.survfit(fit, rmean = TAU); with two curves also their\n"
    "                      difference (second - first) with a 95% Wald CI\n"
    "  --plot FILE.svg     also draw the curves, with CI bands and numbers at risk\n",
    "fedra km --by stage --endpoint efs --times 365,1825 --rmean 1825 --plot km.svg",
    COORD_FLOW_ONE_ROUND, {FEDRA__KIND__KIND_KM}, parse_surv,
};

const struct coord_cmd cmd_logrank = {
    "logrank", "logrank --by V[,V2] [--where EXPR] [--endpoint os|efs] [--grid DAYS] "
        "[--stratify-by-node]",
    "log-rank test of the levels of V, or of the combinations of levels of V and V2\n"
        "(survdiff), pooled or (one variable) stratified by node",
    "  --by V[,V2]         the groups to compare (required), named as survdiff names them\n"
    SURV_OPTIONS
    "  --stratify-by-node  survdiff(... + strata(node)): nodes send only O, E and V\n",
    "fedra logrank --by stage --stratify-by-node",
    COORD_FLOW_ONE_ROUND, {FEDRA__KIND__KIND_LOGRANK}, parse_surv,
};
