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

#define PLOT_CIF_STACKED 3              /* plot_cif.cause: both causes, summed */

/*
 * One cumulative incidence curve (cif): of a stratum's curves (analysis/cif.h),
 * the incidence of cause 1 or 2, or with PLOT_CIF_STACKED of either cause
 * (p1 + p2: the upper layer of a stacked plot, drawn without a band).
 */
struct plot_cif {
    const char *label;
    const struct cif_curve *curve;
    int cause;
    int32_t cut;                    /* > 0: a node withheld the curve from this day (R4) */
};

/*
 * The curves, rising from 0, each with its CI band and its numbers at risk,
 * as plot_km_svg draws survival (the same disclosure rules).
 */
int plot_cif_svg(FILE *f, const char *title, const struct plot_cif *curves, size_t n,
    uint32_t min_cell, char *err);

#endif /* !PLOT_H */
