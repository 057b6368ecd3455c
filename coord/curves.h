/*
 * curves - what the coordinator's survival-curve kinds (km in
 * kind_survival.c, cif in kind_cif.c) do alike with the strata they pool
 * from the nodes' life tables: name a stratum, collect the nodes that
 * withheld it, say which strata were withheld or truncated, and find the
 * min_cell a plot must respect.
 */
#ifndef COORD_CURVES_H
#define COORD_CURVES_H

#include <stdint.h>
#include <stdio.h>

#include "coord/report.h"
#include "proto/vars.h"

#define CURVES_LABEL (VARS_MAX_NAME + VARS_MAX_LEVEL + 2)   /* "var=level" */
#define CURVES_WITHHELD 256                                 /* "node, node, ..." */

/* "by=level"; without a grouping variable (by NULL), all ("" or "all"). */
const char *curves_label(const char *by, const char *level, const char *all,
    char out[CURVES_LABEL]);
/* Add node to the list of nodes that withheld a stratum (truncated when full). */
void curves_withheld_add(char withheld[CURVES_WITHHELD], const char *node);
/*
 * The notes of one stratum, on f: withheld by the nodes listed (R5 or the
 * auditor, not pooled), and its curve stopped at cut (R4; not for an empty
 * stratum, which has no curve).
 */
void curves_notes(FILE *f, const char *label, const char *withheld, int32_t cut, int empty);
/* The largest min_cell of the nodes that answered with life tables (1 if none). */
uint32_t curves_min_cell(const struct report *r);

#endif /* !COORD_CURVES_H */
