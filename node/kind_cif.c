/*
 * kind_cif - competing risks (cif): per stratum, the life table of the
 * event-free time with its events split by cause, for the pooled
 * Aalen-Johansen estimate and Gray's test at the coordinator (analysis/cif.h).
 *
 *   admit    the time grid (as km), the event-free endpoint (the spec says
 *            it: relapse ends the event-free time as its first cause, death
 *            without relapse as the competing one, snapshot.h cif_state),
 *            at most one grouping variable
 *   execute  km's, on the states by cause (kind_survival.h): the same
 *            strata, grid, dense or general path
 *   release, sets, withhold   km's: the small-stratum rule (R5), the stratum
 *            and its tail for the auditor (R3, R4: at risk is the event-free
 *            time, whatever the cause), suppressed or truncated strata.  The
 *            split of a time's events by cause is, like km's events per time,
 *            a per-bin count and not a set (docs/disclosure.md §6.4): what
 *            protects the patients is min_cell at risk at every released time
 */
#include <stdio.h>

#include "node/kind.h"
#include "node/kind_survival.h"

#define CIF_MAX_BY 1                    /* grouping variables of a cif query (Gray's test: one) */

static int
cif_admit(const struct disclose_policy *policy, const Fedra__QuerySpec *spec, char *err)
{
    if (spec->endpoint != FEDRA__ENDPOINT__ENDPOINT_EFS)
        return errf(err, "cumulative incidence is computed on the event-free time: the query "
            "must ask for the efs endpoint");
    if (spec->n_group_by > CIF_MAX_BY)
        return errf(err, "cumulative incidence takes at most %d grouping variable", CIF_MAX_BY);
    return km_admit(policy, spec, err);
}

static void
cif_summary(const struct node_answer *ans, const Fedra__QuerySpec *spec, char *buf, size_t len)
{
    Fedra__ResponseBody rb = FEDRA__RESPONSE_BODY__INIT;
    (void)spec;
    surv_result(ans, &rb);              /* the answer's life tables, as sent */
    snprintf(buf, len, "cif: %zu strata, grid %u days", rb.km->n_strata, rb.km->grid_days);
}

const struct node_kind node_kind_cif = {
    .kind = FEDRA__KIND__KIND_CIF,
    .name = "cif",
    .admit = cif_admit,
    .execute = km_execute,
    .release = surv_release,
    .sets = surv_sets,
    .withhold = surv_withhold,
    .result = surv_result,
    .summary = cif_summary,
    .free_answer = surv_free,
};
