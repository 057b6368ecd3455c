/*
 * plot - Kaplan-Meier curves as SVG, in the manner of survminer: step
 * curves with confidence bands, censoring marks, a legend, and a
 * number-at-risk table under the plot.
 *
 * Disclosure: a number at risk from 1 to min_cell-1 is drawn as "<min_cell",
 * never as itself.
 */
#ifndef PLOT_H
#define PLOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis/cif.h"
#include "analysis/km.h"

#define PLOT_MAX_CURVES 16              /* strata drawn in one plot */

struct plot_curve {
    const char *label;              /* legend text, e.g. "stage=localized" */
    const struct km_curve *curve;
    int32_t cut;                    /* > 0: a node withheld the curve from this day (R4) */
};

/* Write the SVG document to f; -1 with err if there is nothing to draw. */
int plot_km_svg(FILE *f, const char *title, const struct plot_curve *curves, size_t n,
    uint32_t min_cell, char *err);

/* One cumulative incidence curve (cif): the stratum's curves, of which the cause is drawn. */
struct plot_cif {
    const char *label;
    const struct cif_curve *curve;
    int32_t cut;                    /* > 0: a node withheld the curve from this day (R4) */
};

/*
 * The incidence of cause (1 or 2) of each curve, rising from 0, with its CI
 * band and the numbers at risk, as plot_km_svg draws survival.
 */
int plot_cif_svg(FILE *f, const char *title, const struct plot_cif *curves, size_t n, int cause,
    uint32_t min_cell, char *err);

#endif /* !PLOT_H */
