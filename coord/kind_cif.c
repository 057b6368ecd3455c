/*
 * kind_cif - competing risks: the cif kind and command.  The nodes send,
 * per stratum, the life table of the event-free time with its events split
 * by cause (LifeTable.events relapses, .competing deaths without relapse);
 * the coordinator pools each stratum over the nodes (cif_pool), fits the
 * Aalen-Johansen curves (cif_fit: multi-state survfit on the pooled
 * records) and, with --by, Gray's test of the chosen cause (cif_gray:
 * cmprsk::cuminc), all in analysis/cif.h.
 *
 * An answer is checked as km's is (kind_km.check) on its tables with both
 * causes counted as events, after the split itself is checked: the same
 * levels, sizes, grid and disclosure ranges.  Withheld strata (R5 or the
 * auditor) are named and not pooled; a table a node truncated (R4) gets
 * one censoring row at truncated_at for the patients still at risk, the
 * pooled curve stops before the earliest truncation, and Gray's test is
 * over the released period (every group's records censored there), as the
 * pooled log-rank test is.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analysis/cif.h"
#include "coord/curves.h"
#include "coord/kind.h"
#include "coord/plot.h"
#include "lib/util.h"
#include "proto/vars.h"

#define CIF_CONF_INT 0.95

static const char *const cause_names[] = {"", "relapse", "death"};

/* ---- checking one answer ---- */

/*
 * The split by cause of every table, then km's check of the tables with
 * events = relapses + deaths (a view: the arrays are the node's but events).
 */
static int
check_cif(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why)
{
    const Fedra__KmResult *km = b->km;
    if (km == NULL)
        return errf(why, "answered without life tables");
    for (size_t k = 0; k < km->n_strata; k++) {
        const Fedra__LifeTable *lt = km->strata[k];
        if (lt->n_competing != lt->n_time || lt->n_events != lt->n_time)
            return errf(why, "sent a life table without its events by cause");
        for (size_t j = 0; j < lt->n_time; j++)
            if (lt->events[j] > REPORT_MAX_ROWS || lt->competing[j] > REPORT_MAX_ROWS)
                return errf(why, "sent a life table whose rows do not add up");
    }
    Fedra__KmResult view = *km;
    Fedra__LifeTable *tabs = xcalloc(km->n_strata, sizeof *tabs);
    Fedra__LifeTable **tabp = xcalloc(km->n_strata, sizeof *tabp);
    uint64_t **ev = xcalloc(km->n_strata, sizeof *ev);
    for (size_t k = 0; k < km->n_strata; k++) {
        const Fedra__LifeTable *lt = km->strata[k];
        tabs[k] = *lt;
        ev[k] = xcalloc(lt->n_time ? lt->n_time : 1, sizeof **ev);
        for (size_t j = 0; j < lt->n_time; j++)
            ev[k][j] = lt->events[j] + lt->competing[j];
        tabs[k].events = ev[k];
        tabs[k].n_competing = 0;
        tabs[k].competing = NULL;
        tabp[k] = &tabs[k];
    }
    view.strata = tabp;
    Fedra__ResponseBody vb = *b;
    vb.km = &view;
    int rc = kind_km.check(spec, &vb, why);
    for (size_t k = 0; k < km->n_strata; k++)
        free(ev[k]);
    free(ev);
    free(tabp);
    free(tabs);
    return rc;
}

/* ---- pooling ---- */

/* One pooled stratum. */
struct cif_stratum {
    const char *level;              /* NULL without --by */
    struct cif_table pooled;        /* the nodes' released tables, summed */
    struct cif_curve curve;
    int empty;                      /* pooled N = 0: R has no curve either */
    struct cif_point *rows;         /* what is printed: the curve, or the curve at --times */
    size_t nrows;
    int32_t cut;                    /* > 0: the curve stops before it (a node truncated) */
    char withheld[CURVES_WITHHELD]; /* nodes that withheld the stratum (R5, auditor) */
};

/* The pooled result. */
struct cif_pooled {
    const char *by;                 /* NULL without --by */
    int cause;                      /* 1 relapse, 2 death */
    struct report_levels lv;
    struct cif_stratum *st;         /* lv.n */
    int gray_rc;                    /* 0: gray holds the test; else why not (CIF_E*) */
    struct cif_gray gray;
    int32_t gray_cut;               /* > 0: the test is over the records censored there */
};

static const char *
lt_level(const Fedra__LifeTable *lt)
{
    return lt->n_levels ? lt->levels[0] : "";
}

/*
 * A node's table as a cif_table (check_cif passed): a truncated table gets
 * one more row, the patients left at risk censored at truncated_at, which is
 * what the released rows say of them.
 */
static void
life_table_to_cif(const Fedra__LifeTable *lt, struct cif_table *t)
{
    t->n = (int64_t)lt->n;
    t->nrows = lt->n_time;
    t->rows = xcalloc(lt->n_time + 1, sizeof *t->rows);
    int64_t left = t->n;
    for (size_t j = 0; j < lt->n_time; j++) {
        t->rows[j] = (struct cif_row){lt->time[j], {(int64_t)lt->events[j],
            (int64_t)lt->competing[j]}, (int64_t)lt->censored[j]};
        left -= t->rows[j].d[0] + t->rows[j].d[1] + t->rows[j].c;
    }
    if (lt->truncated_at > 0 && left > 0)
        t->rows[t->nrows++] = (struct cif_row){lt->truncated_at, {0, 0}, left};
}

/*
 * Stratum s: the nodes' tables of its level summed (withheld ones named),
 * the curves fitted and stopped at the earliest truncation, and the rows to
 * print chosen: the curve, or with --times the curve at those times.
 */
static int
cif_pool_stratum(const struct report *r, struct cif_pooled *k, size_t s,
    const struct coord_show *show, char *err)
{
    struct cif_stratum *st = &k->st[s];
    struct cif_table *tabs = xcalloc(r->fed->nnodes + 1, sizeof *tabs);
    size_t nt = 0;
    st->level = k->by ? k->lv.text[s] : NULL;
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        for (size_t j = 0; r->replies[i].status == NODE_OK && j < b->km->n_strata; j++) {
            const Fedra__LifeTable *lt = b->km->strata[j];
            if (strcmp(lt_level(lt), k->lv.text[s]) != 0)
                continue;
            if (lt->suppressed) {
                curves_withheld_add(st->withheld, r->fed->nodes[i].name);
                continue;
            }
            if (lt->truncated_at > 0 && (st->cut == 0 || lt->truncated_at < st->cut))
                st->cut = lt->truncated_at;
            life_table_to_cif(lt, &tabs[nt++]);
        }
    }
    int e = cif_pool(tabs, nt, &st->pooled);
    if (e == 0)
        e = cif_fit(&st->pooled, CIF_CONF_INT, &st->curve);
    if (e == CIF_EEMPTY) {
        st->empty = 1;
        e = 0;
    }
    size_t keep = 0;
    while (e == 0 && st->cut > 0 && keep < st->curve.npts && st->curve.pts[keep].time < st->cut)
        keep++;
    if (e == 0 && st->cut > 0)
        st->curve.npts = keep;
    for (size_t j = 0; j < nt; j++)
        cif_table_release(&tabs[j]);
    free(tabs);
    if (e != 0)
        return errf(err, "a node's life table for stratum '%s' is inconsistent (cif error %d)",
            k->lv.text[s], e);
    st->rows = st->curve.pts;           /* no --times (or no curve): the curve itself */
    st->nrows = st->curve.npts;
    if (show->ntimes > 0 && st->curve.npts > 0 &&
        cif_at_times(&st->curve, show->times, show->ntimes, &st->rows, &st->nrows) != 0)
        return errf(err, "cannot evaluate the curve at the requested times");
    return 0;
}

/*
 * The stratum's pooled table cut at ${cut}: rows from then on become one
 * censoring row at it (the records censored there).
 */
static void
cif_table_cut(const struct cif_table *t, int32_t cut, struct cif_table *out)
{
    out->n = t->n;
    out->rows = xcalloc(t->nrows + 1, sizeof *out->rows);
    out->nrows = 0;
    int64_t left = t->n;
    for (size_t j = 0; j < t->nrows && (cut <= 0 || t->rows[j].time < cut); j++) {
        out->rows[out->nrows++] = t->rows[j];
        left -= t->rows[j].d[0] + t->rows[j].d[1] + t->rows[j].c;
    }
    if (cut > 0 && left > 0)
        out->rows[out->nrows++] = (struct cif_row){cut, {0, 0}, left};
}

/* Gray's test of the chosen cause among the strata, over the released period. */
static void
cif_test(struct cif_pooled *k)
{
    k->gray_rc = CIF_EGROUPS;
    if (k->by == NULL)
        return;
    for (size_t s = 0; s < k->lv.n; s++)
        if (k->st[s].cut > 0 && (k->gray_cut == 0 || k->st[s].cut < k->gray_cut))
            k->gray_cut = k->st[s].cut;
    struct cif_table *g = xcalloc(k->lv.n, sizeof *g);
    for (size_t s = 0; s < k->lv.n; s++)
        cif_table_cut(&k->st[s].pooled, k->gray_cut, &g[s]);
    k->gray_rc = cif_gray(g, k->lv.n, k->cause, &k->gray);
    for (size_t s = 0; s < k->lv.n; s++)
        cif_table_release(&g[s]);
    free(g);
}

/* Everything the pooled result holds; the rows are the curve's own unless --times made them. */
static void
cif_pooled_release(struct cif_pooled *k)
{
    for (size_t s = 0; s < k->lv.n; s++) {
        struct cif_stratum *st = &k->st[s];
        if (st->rows != st->curve.pts)
            free(st->rows);
        cif_curve_release(&st->curve);
        cif_table_release(&st->pooled);
    }
    free(k->st);
    free(k->lv.text);
}

/* ---- printing ---- */

/* "by=level" (curves.h) of stratum s. */
static const char *
cif_label(const struct cif_pooled *k, size_t s, const char *all, char out[CURVES_LABEL])
{
    return curves_label(k->by, k->lv.text[s], all, out);
}

/* Why there is no Gray's test, or NULL when there is one (or no --by). */
static const char *
gray_missing(const struct cif_pooled *k)
{
    if (k->by == NULL || k->gray_rc == 0)
        return NULL;
    if (k->gray_rc == CIF_EGROUPS)
        return "Gray's test needs at least two groups with patients (cmprsk::cuminc reports "
            "no test for one group)";
    if (k->gray_rc == CIF_ENOEVENTS)
        return "Gray's test needs events of the cause in some group (cmprsk::cuminc has no "
            "test of a cause without events)";
    if (k->gray_rc == CIF_ESINGULAR)
        return "Gray's test: the variance of the scores is singular (cmprsk::cuminc gives "
            "stat -1 here); no test";
    return "Gray's test could not be computed";
}

/* The notes: withheld strata, truncated curves, the test's period, a missing test. */
static void
cif_notes(FILE *f, const struct cif_pooled *k)
{
    char label[CURVES_LABEL];
    for (size_t s = 0; s < k->lv.n; s++)
        curves_notes(f, cif_label(k, s, "all", label), k->st[s].withheld, k->st[s].cut,
            k->st[s].empty);
    if (k->by != NULL && k->gray_rc == 0 && k->gray_cut > 0)
        fprintf(f, "note: Gray's test over the released period only: records censored at day "
            "%d (a node withheld its curves from there: fewer than min_cell at risk)\n",
            k->gray_cut);
    if (gray_missing(k) != NULL)
        fprintf(f, "note: %s\n", gray_missing(k));
}

static void
cif_csv(const struct report *r, const struct cif_pooled *k)
{
    char label[CURVES_LABEL];
    int c = k->cause;
    fputs("strata,cause,time,n.risk,n.event,cif,std.err,lower,upper,"
        "n,events,competing,chisq,df,p,nodes\n", r->out);
    for (size_t s = 0; s < k->lv.n; s++) {
        const struct cif_stratum *st = &k->st[s];
        struct buf tail = {0};
        report_tail_int(&tail, (long long)st->curve.n);
        report_tail_int(&tail, (long long)st->curve.events[c]);
        report_tail_int(&tail, (long long)st->curve.events[3 - c]);
        report_tail_num(&tail, k->gray_rc == 0 ? k->gray.chisq : NAN);
        if (k->gray_rc == 0)
            report_tail_int(&tail, k->gray.df);
        else
            report_tail_num(&tail, NAN);
        report_tail_num(&tail, k->gray_rc == 0 ? k->gray.p : NAN);
        report_tail_nodes(&tail, r);
        cif_label(k, s, "", label);
        for (size_t j = 0; j < st->nrows; j++) {
            const struct cif_point *p = &st->rows[j];
            report_csv_field(r->out, label);
            fprintf(r->out, ",%s,%d,%lld,%lld,", cause_names[c], p->time, (long long)p->n_risk,
                (long long)p->n_event[c]);
            double v[4] = {p->p[c], p->std_err[c], p->lower[c], p->upper[c]};
            for (int i = 0; i < 4; i++) {
                if (i > 0)
                    fputc(',', r->out);
                report_put_num(r->out, v[i]);
            }
            fprintf(r->out, "%s\n", report_tail_text(&tail));
        }
        buf_release(&tail);
    }
    cif_notes(r->diag, k);
    report_nodes_text(r, r->diag);
}

static json_t *
cif_point_json(const struct cif_point *p, int c)
{
    json_t *o = json_object();
    json_object_set_new(o, "time", json_integer(p->time));
    json_object_set_new(o, "n.risk", json_integer(p->n_risk));
    json_object_set_new(o, "n.event", json_integer(p->n_event[c]));
    json_object_set_new(o, "cif", report_json_num(p->p[c]));
    json_object_set_new(o, "std.err", report_json_num(p->std_err[c]));
    json_object_set_new(o, "lower", report_json_num(p->lower[c]));
    json_object_set_new(o, "upper", report_json_num(p->upper[c]));
    return o;
}

static void
cif_json(const struct report *r, const struct cif_pooled *k)
{
    char label[CURVES_LABEL];
    json_t *curves = json_array(), *held = json_array(), *res = json_object();
    for (size_t s = 0; s < k->lv.n; s++) {
        const struct cif_stratum *st = &k->st[s];
        if (st->withheld[0]) {
            json_t *h = json_object();
            json_object_set_new(h, "strata", json_string(cif_label(k, s, "", label)));
            json_object_set_new(h, "nodes", json_string(st->withheld));
            json_array_append_new(held, h);
        }
        if (st->empty)
            continue;
        json_t *c = json_object(), *a = json_array();
        json_object_set_new(c, "strata", json_string(cif_label(k, s, "", label)));
        json_object_set_new(c, "cause", json_string(cause_names[k->cause]));
        json_object_set_new(c, "n", json_integer(st->curve.n));
        json_object_set_new(c, "events", json_integer(st->curve.events[k->cause]));
        json_object_set_new(c, "competing", json_integer(st->curve.events[3 - k->cause]));
        json_object_set_new(c, "truncated_at", st->cut > 0 ? json_integer(st->cut)
                                                          : json_null());
        for (size_t j = 0; j < st->nrows; j++)
            json_array_append_new(a, cif_point_json(&st->rows[j], k->cause));
        json_object_set_new(c, "rows", a);
        json_array_append_new(curves, c);
    }
    json_object_set_new(res, "curves", curves);
    if (k->gray_rc == 0) {
        json_t *g = json_object();
        json_object_set_new(g, "chisq", json_real(k->gray.chisq));
        json_object_set_new(g, "df", json_integer(k->gray.df));
        json_object_set_new(g, "p", json_real(k->gray.p));
        json_object_set_new(g, "truncated_at", k->gray_cut > 0 ? json_integer(k->gray_cut)
                                                              : json_null());
        json_object_set_new(res, "gray", g);
    } else {
        json_object_set_new(res, "gray", json_null());
        if (gray_missing(k) != NULL)
            json_object_set_new(res, "gray_note", json_string(gray_missing(k)));
    }
    json_object_set_new(res, "withheld", held);
    report_emit_json(r, res);
}

/* The table: per stratum n and events, then its rows (with events, or at --times). */
static void
cif_table(const struct report *r, const struct cif_pooled *k, const struct coord_show *show)
{
    FILE *f = r->out;
    char label[CURVES_LABEL];
    int c = k->cause;
    fprintf(f, "cumulative incidence of %s (%s competing)\n\n", cause_names[c],
        cause_names[3 - c]);
    fprintf(f, "%-28s %7s %9s %9s\n", "strata", "n", cause_names[c], cause_names[3 - c]);
    for (size_t s = 0; s < k->lv.n; s++)
        if (!k->st[s].empty)
            fprintf(f, "%-28s %7lld %9lld %9lld\n", cif_label(k, s, "all", label),
                (long long)k->st[s].curve.n, (long long)k->st[s].curve.events[c],
                (long long)k->st[s].curve.events[3 - c]);
    for (size_t s = 0; s < k->lv.n; s++) {
        const struct cif_stratum *st = &k->st[s];
        if (st->empty)
            continue;
        fprintf(f, "\n%s\n%8s %7s %7s %10s %10s %10s %10s\n", cif_label(k, s, "all", label),
            "time", "n.risk", "n.event", "cif", "std.err", "lower95", "upper95");
        for (size_t j = 0; j < st->nrows; j++) {
            const struct cif_point *p = &st->rows[j];
            if (show->ntimes == 0 && p->n_event[1] + p->n_event[2] == 0)
                continue;               /* as summary(fit): the times with events */
            fprintf(f, "%8d %7lld %7lld", p->time, (long long)p->n_risk,
                (long long)p->n_event[c]);
            double v[4] = {p->p[c], p->std_err[c], p->lower[c], p->upper[c]};
            for (int i = 0; i < 4; i++) {
                if (v[i] == v[i])
                    fprintf(f, " %10.4f", v[i]);
                else
                    fprintf(f, " %10s", "NA");      /* R's NA: no limit where cif = 0 */
            }
            fputc('\n', f);
        }
    }
    fputc('\n', f);
    if (k->gray_rc == 0)
        fprintf(f, "Gray's test (%s): Chisq = %.17g on %d degrees of freedom, p = %.17g\n\n",
            cause_names[c], k->gray.chisq, k->gray.df, k->gray.p);
    cif_notes(f, k);
    report_nodes_text(r, f);
}

/*
 * The plot (coord/plot.h) into path.  With --by, separate curves: the chosen
 * cause's incidence in each non-empty stratum.  Without, stacked: the chosen
 * cause's incidence and, above it, that of either cause (the gap between the
 * two is the competing cause's).
 */
static int
cif_plot(const struct report *r, const char *path, const struct cif_pooled *k, char *err)
{
    struct plot_cif pc[PLOT_MAX_CURVES];
    char labels[PLOT_MAX_CURVES][CURVES_LABEL + 32], title[128];
    const char *cause = cause_names[k->cause], *other = cause_names[3 - k->cause];
    size_t n = 0;
    for (size_t s = 0; s < k->lv.n; s++) {
        if (k->st[s].empty)
            continue;
        if (n == PLOT_MAX_CURVES)
            return errf(err, "more than %d curves to plot (use --where)", PLOT_MAX_CURVES);
        pc[n] = (struct plot_cif){cif_label(k, s, "all", labels[n]), &k->st[s].curve,
            k->cause, k->st[s].cut};
        n++;
    }
    if (k->by == NULL && n == 1) {
        snprintf(labels[0], sizeof labels[0], "%s", cause);
        snprintf(labels[1], sizeof labels[1], "%s or %s (stacked)", cause, other);
        pc[1] = pc[0];
        pc[1].label = labels[1];
        pc[1].cause = PLOT_CIF_STACKED;
        n = 2;
    }
    snprintf(title, sizeof title, "Cumulative incidence of %s, %s competing (pooled)", cause,
        other);
    FILE *f = fopen(path, "w");
    int rc = f == NULL ? errf(err, "cannot write '%s'", path)
                       : plot_cif_svg(f, title, pc, n, curves_min_cell(r), err);
    if (f != NULL && fclose(f) != 0 && rc == 0)
        rc = errf(err, "cannot write '%s'", path);
    return rc;
}

/*
 * Pooled cumulative incidence per stratum (--by: one variable, or none) of
 * show->cause, with survfit's log limits at 95%; with --by Gray's test;
 * with --times the curves at those times only (summary(fit, times =));
 * with --plot also drawn.
 */
static int
cif_report(const struct report *r, const Fedra__QuerySpec *spec, const struct coord_show *show,
    char *err)
{
    struct cif_pooled k;
    memset(&k, 0, sizeof k);
    k.by = spec->n_group_by ? spec->group_by[0] : NULL;
    k.cause = show->cause == 2 ? 2 : 1;
    k.lv.var = vars_find(k.by ? k.by : "");
    for (size_t i = 0; i < r->fed->nnodes; i++)
        for (size_t s = 0; r->replies[i].status == NODE_OK && s < r->replies[i].body->km->n_strata;
             s++)
            report_levels_add(&k.lv, lt_level(r->replies[i].body->km->strata[s]));
    report_levels_sort(&k.lv);
    k.st = xcalloc(k.lv.n ? k.lv.n : 1, sizeof *k.st);
    int rc = 0;
    for (size_t s = 0; s < k.lv.n && rc == 0; s++)
        rc = cif_pool_stratum(r, &k, s, show, err);
    if (rc == 0)
        cif_test(&k);
    if (rc == 0 && show->plot != NULL)
        rc = cif_plot(r, show->plot, &k, err);
    if (rc == 0 && r->format == REPORT_CSV)
        cif_csv(r, &k);
    else if (rc == 0 && r->format == REPORT_JSON)
        cif_json(r, &k);
    else if (rc == 0)
        cif_table(r, &k, show);
    cif_pooled_release(&k);
    return rc;
}

const struct coord_kind kind_cif = {
    FEDRA__KIND__KIND_CIF, "cif", check_cif, cif_report, 0,
};

/* ---- the command ---- */

/* One option with its value; -1 if not one of cif's. */
static int
parse_cif_option(const char *a, const char *v, struct coord_query *q, const char **where_expr)
{
    if (strcmp(a, "--cause") == 0) {
        if (strcmp(v, "relapse") != 0 && strcmp(v, "death") != 0)
            return coord_usage_error("--cause takes relapse or death, got '%s'", v);
        q->show.cause = strcmp(v, "death") == 0 ? 2 : 1;
    } else if (strcmp(a, "--by") == 0) {
        if (strchr(v, ',') != NULL)
            return coord_usage_error("cif takes one --by variable (Gray's test compares its "
                "levels), got '%s'", v);
        while (q->nby > 0)
            free(q->by[--q->nby]);
        q->by[q->nby++] = xstrdup(v);
    } else if (strcmp(a, "--where") == 0) {
        *where_expr = v;
    } else if (strcmp(a, "--grid") == 0) {
        return coord_parse_grid(v, &q->spec.grid_days);
    } else if (strcmp(a, "--times") == 0) {
        return coord_parse_times(v, q);
    } else if (strcmp(a, "--plot") == 0) {
        q->show.plot = v;
    } else {
        return -1;
    }
    return 0;
}

static int
parse_cif(int argc, char **argv, struct coord_query *q)
{
    const char *where_expr = NULL;
    int rc;
    q->spec.endpoint = FEDRA__ENDPOINT__ENDPOINT_EFS;
    q->spec.grid_days = COORD_DEFAULT_GRID;
    q->show.cause = 1;
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL || (rc = parse_cif_option(argv[i], v, q, &where_expr)) < 0)
            return coord_usage_error("cif: unexpected argument '%s'", argv[i]);
        if (rc != 0)
            return rc;
    }
    if (coord_parse_where(where_expr, q) != 0)
        return 2;
    q->spec.kind = FEDRA__KIND__KIND_CIF;
    q->spec.n_group_by = q->nby;
    q->spec.group_by = q->by;
    q->spec.exact_times = q->spec.grid_days == 0;
    return 0;
}

const struct coord_cmd cmd_cif = {
    "cif", "cif [--cause relapse|death] [--by V] [--where EXPR] [--grid DAYS]\n"
        "    [--times T,...] [--plot FILE.svg]",
    "pooled cumulative incidence with competing risks (Aalen-Johansen, as survfit on\n"
    "Surv(time, factor(status))); with --by, Gray's test (cmprsk::cuminc)",
    "  --cause C           relapse (default: the first event_date) or death (death\n"
    "                      without relapse); the other is the competing event\n"
    "  --by V              one curve per level of V, and Gray's test of the levels\n"
    "  --where EXPR        select patients, e.g. \"stage=metastatic and age_years<10\"\n"
    "  --grid DAYS         times rounded up to a grid of DAYS (default 30); 0: exact times,\n"
    "                      only where every node's policy allows them\n"
    "  --times T,...       the curves at these days only, as summary(fit, times=)\n"
    "  --plot FILE.svg     also draw the curves, with CI bands and numbers at risk\n"
    "                      (without --by: the cause and either cause, stacked)\n",
    "fedra cif --by stage --times 365,1825 --plot cif.svg",
    COORD_FLOW_ONE_ROUND, {FEDRA__KIND__KIND_CIF}, parse_cif,
};
