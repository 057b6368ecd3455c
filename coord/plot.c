/*
 * plot - see plot.h.  Hand-written SVG: a few hundred elements, no library.
 */
#include "coord/plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define W 860.0
#define PX0 170.0                       /* plot area (left: room for risk-table labels) */
#define PX1 830.0
#define PY0 50.0
#define PY1 390.0
#define RISK_ROW 22.0                   /* height of one number-at-risk row */

static const char *const colours[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
};

static double
sx(double t, double tmax)
{
    return PX0 + (PX1 - PX0) * (tmax > 0 ? t / tmax : 0);
}

static double
sy(double s)
{
    return PY1 - (PY1 - PY0) * s;
}

/* A tick step of 1, 2 or 5 x 10^k giving about six intervals. */
static double
nice_step(double span)
{
    double raw = span / 6, p = pow(10, floor(log10(raw > 0 ? raw : 1)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void
xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
}

/*
 * Step path through (time, value) with value from column col (lower/upper/surv),
 * from y0 at time 0 (1 for survival, 0 for a cumulative incidence).
 */
static void
step_points(FILE *f, const struct km_curve *c, int col, double tmax, double stop, int reverse,
    double y0)
{
    size_t n = c->npts;
    double prev = y0;
    if (!reverse) {
        fprintf(f, "%.1f,%.1f", sx(0, tmax), sy(y0));
        for (size_t i = 0; i < n; i++) {
            const struct km_point *p = &c->pts[i];
            double v = col == 0 ? p->surv : col == 1 ? p->lower : p->upper;
            if (v != v)
                v = prev;
            fprintf(f, " %.1f,%.1f %.1f,%.1f", sx(p->time, tmax), sy(prev), sx(p->time, tmax),
                sy(v));
            prev = v;
        }
        fprintf(f, " %.1f,%.1f", sx(stop, tmax), sy(prev));
        return;
    }
    /* Backwards, for closing a band polygon. */
    double last = y0;
    for (size_t i = 0; i < n; i++) {
        double v = col == 1 ? c->pts[i].lower : c->pts[i].upper;
        if (v == v)
            last = v;
    }
    fprintf(f, " %.1f,%.1f", sx(stop, tmax), sy(last));
    for (size_t i = n; i-- > 0;) {
        const struct km_point *p = &c->pts[i];
        double v = col == 1 ? p->lower : p->upper, before = y0;
        for (size_t j = i; j-- > 0;) {
            double w = col == 1 ? c->pts[j].lower : c->pts[j].upper;
            if (w == w) {
                before = w;
                break;
            }
        }
        if (v != v)
            v = before;
        fprintf(f, " %.1f,%.1f %.1f,%.1f", sx(p->time, tmax), sy(v), sx(p->time, tmax),
            sy(before));
    }
    fprintf(f, " %.1f,%.1f", sx(0, tmax), sy(y0));
}

/* The plot of plot_km_svg, with its y axis named ylabel and its curves starting at y0. */
static int
plot_svg(FILE *f, const char *title, const char *ylabel, double y0, const struct plot_curve *cv,
    size_t n, uint32_t min_cell, char *err)
{
    if (n == 0)
        return errf(err, "no curve to plot");
    if (n > PLOT_MAX_CURVES)
        return errf(err, "%zu curves; a plot shows at most %d", n, PLOT_MAX_CURVES);
    double tmax = 0;
    for (size_t k = 0; k < n; k++)
        if (cv[k].curve->npts > 0 && cv[k].curve->pts[cv[k].curve->npts - 1].time > tmax)
            tmax = cv[k].curve->pts[cv[k].curve->npts - 1].time;
    double step = nice_step(tmax > 0 ? tmax : 1);
    tmax = ceil((tmax > 0 ? tmax : 1) / step) * step;
    double H = PY1 + 70 + RISK_ROW * (double)(n + 1);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
        "viewBox=\"0 0 %.0f %.0f\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"13\">\n"
        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H, W, H);
    fprintf(f, "<text x=\"%.1f\" y=\"28\" font-size=\"16\" font-weight=\"bold\">", PX0);
    xml_text(f, title);
    fputs("</text>\n", f);
    /* Axes, grid and ticks. */
    fprintf(f, "<g stroke=\"#ddd\">\n");
    for (int i = 0; i <= 4; i++)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PX0, sy(i / 4.0),
            PX1, sy(i / 4.0));
    fputs("</g>\n<g stroke=\"black\">\n", f);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PX0, PY1, PX1, PY1);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n</g>\n", PX0, PY0, PX0, PY1);
    for (int i = 0; i <= 4; i++)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", PX0 - 6,
            sy(i / 4.0) + 4, i / 4.0);
    for (double t = 0; t <= tmax + 1e-9; t += step)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", sx(t, tmax), PY1,
            sx(t, tmax), PY1 + 5, sx(t, tmax), PY1 + 20, t);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">Time (days)</text>\n",
        (PX0 + PX1) / 2, PY1 + 40);
    fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\">"
        "%s</text>\n", PX0 - 55, (PY0 + PY1) / 2, ylabel);
    /* Bands, then curves and censoring marks, then the legend. */
    for (size_t k = 0; k < n; k++) {
        const char *col = colours[k % PLOT_MAX_CURVES];
        fprintf(f, "<polygon fill=\"%s\" fill-opacity=\"0.15\" stroke=\"none\" points=\"", col);
        /* A curve a node truncated stops where it was cut (the table says so too). */
        double stop = cv[k].cut > 0 && cv[k].cut < tmax ? cv[k].cut : tmax;
        step_points(f, cv[k].curve, 2, tmax, stop, 0, y0);
        step_points(f, cv[k].curve, 1, tmax, stop, 1, y0);
        fputs("\"/>\n", f);
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        step_points(f, cv[k].curve, 0, tmax, stop, 0, y0);
        fputs("\"/>\n", f);
        for (size_t i = 0; i < cv[k].curve->npts; i++) {
            const struct km_point *p = &cv[k].curve->pts[i];
            if (p->n_censor > 0 && p->n_event == 0)
                fprintf(f, "<path d=\"M%.1f %.1fv8M%.1f %.1fh8\" stroke=\"%s\"/>\n",
                    sx(p->time, tmax), sy(p->surv) - 4, sx(p->time, tmax) - 4, sy(p->surv), col);
        }
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">", PX0 + 20, PY1 - 18.0 * (double)(n - k) - 4, col,
            PX0 + 40, PY1 - 18.0 * (double)(n - k) + 1);
        xml_text(f, cv[k].label);
        if (cv[k].cut > 0)
            fprintf(f, ": curve withheld from day %d: fewer than min_cell at risk", cv[k].cut);
        fputs("</text>\n", f);
    }
    /* Number at risk at each tick: small numbers are not drawn. */
    double ty = PY1 + 70;
    fprintf(f, "<text x=\"8\" y=\"%.1f\" font-weight=\"bold\">Number at risk</text>\n", ty);
    for (size_t k = 0; k < n; k++) {
        double y = ty + RISK_ROW * (double)(k + 1);
        fprintf(f, "<text x=\"8\" y=\"%.1f\" fill=\"%s\">", y, colours[k % PLOT_MAX_CURVES]);
        xml_text(f, cv[k].label);
        fputs("</text>\n", f);
        for (double t = 0; t <= tmax + 1e-9; t += step) {
            int32_t tt = (int32_t)t;
            struct km_point *pt = NULL;
            size_t np = 0;
            long long nr = 0;
            if (km_at_times(cv[k].curve, &tt, 1, 1, &pt, &np) == 0 && np == 1)
                nr = (long long)pt->n_risk;
            free(pt);
            if (cv[k].cut > 0 && tt >= cv[k].cut)
                continue;               /* withheld by a node from there on */
            if (nr > 0 && min_cell > 1 && nr < (long long)min_cell)
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">&lt;%u</text>\n",
                    sx(t, tmax), y, min_cell);
            else
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%lld</text>\n",
                    sx(t, tmax), y, nr);
        }
    }
    fputs("</svg>\n", f);
    return ferror(f) ? errf(err, "cannot write the plot") : 0;
}

int
plot_km_svg(FILE *f, const char *title, const struct plot_curve *cv, size_t n,
    uint32_t min_cell, char *err)
{
    return plot_svg(f, title, "Survival probability", 1, cv, n, min_cell, err);
}

/*
 * A cumulative incidence curve drawn as a km_curve whose "surv" column is
 * the incidence: the steps rise from 0; censoring marks where no event of
 * either cause happened; numbers at risk as for km.
 */
int
plot_cif_svg(FILE *f, const char *title, const struct plot_cif *cv, size_t n, uint32_t min_cell,
    char *err)
{
    if (n == 0 || n > PLOT_MAX_CURVES)
        return errf(err, "%zu curves; a plot shows 1 to %d", n, PLOT_MAX_CURVES);
    struct plot_curve pc[PLOT_MAX_CURVES];
    struct km_curve kc[PLOT_MAX_CURVES];
    memset(kc, 0, sizeof kc);
    for (size_t k = 0; k < n; k++) {
        const struct cif_curve *c = cv[k].curve;
        int both = cv[k].cause == PLOT_CIF_STACKED, cause = both ? 1 : cv[k].cause;
        kc[k].n = c->n;
        kc[k].npts = c->npts;
        kc[k].pts = xcalloc(c->npts ? c->npts : 1, sizeof *kc[k].pts);
        for (size_t i = 0; i < c->npts; i++) {
            const struct cif_point *p = &c->pts[i];
            double y = both ? p->p[1] + p->p[2] : p->p[cause];
            kc[k].pts[i] = (struct km_point){.time = p->time, .n_risk = p->n_risk,
                .n_event = p->n_event[1] + p->n_event[2], .n_censor = p->n_censor, .surv = y,
                .lower = both ? y : p->lower[cause], .upper = both ? y : p->upper[cause]};
        }
        pc[k] = (struct plot_curve){cv[k].label, &kc[k], cv[k].cut};
    }
    int rc = plot_svg(f, title, "Cumulative incidence", 0, pc, n, min_cell, err);
    for (size_t k = 0; k < n; k++)
        free(kc[k].pts);
    return rc;
}
