/*
 * curves - see curves.h.
 */
#include "coord/curves.h"

#include <string.h>

const char *
curves_label(const char *by, const char *level, const char *all, char out[CURVES_LABEL])
{
    snprintf(out, CURVES_LABEL, "%s%s%s", by ? by : all, by ? "=" : "", by ? level : "");
    return out;
}

void
curves_withheld_add(char withheld[CURVES_WITHHELD], const char *node)
{
    size_t w = strlen(withheld);
    snprintf(withheld + w, CURVES_WITHHELD - w, "%s%s", w ? ", " : "", node);
}

void
curves_notes(FILE *f, const char *label, const char *withheld, int32_t cut, int empty)
{
    if (withheld[0])
        fprintf(f, "note: %s withheld by %s (fewer than min_cell patients there, or not "
            "releasable with earlier answers; not pooled)\n", label, withheld);
    if (cut > 0 && !empty)
        fprintf(f, "note: %s: curve withheld from day %d: fewer than min_cell at risk\n", label,
            cut);
}

uint32_t
curves_min_cell(const struct report *r)
{
    uint32_t min_cell = 1;
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__ResponseBody *b = r->replies[i].body;
        if (r->replies[i].status == NODE_OK && b->km != NULL && b->km->min_cell > min_cell)
            min_cell = b->km->min_cell;
    }
    return min_cell;
}
