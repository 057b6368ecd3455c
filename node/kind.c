/*
 * kind - see kind.h: the table of rows, the composition of the steps, and
 * the time and endpoint rules the survival and model kinds share.
 */
#include "node/kind.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * The registry: searched, not indexed by the wire value, so that the enum's
 * numbering is free; seven rows, looked up once a query.  Every wire kind but KIND_UNSPECIFIED has a row (tests/unit checks
 * this against the wire's enum descriptor).
 */
static const struct node_kind *const node_kinds[] = {
    &node_kind_count,
    &node_kind_ping,
    &node_kind_km,
    &node_kind_logrank,
    &node_kind_cox,
    &node_kind_glm,
    &node_kind_cif,
};

const struct node_kind *
node_kind_get(int kind)
{
    for (size_t i = 0; i < sizeof node_kinds / sizeof node_kinds[0]; i++)
        if ((int)node_kinds[i]->kind == kind)
            return node_kinds[i];
    return NULL;
}

int
node_kind_answer(const struct node_kind *k, const struct node_kind_ctx *ctx,
    const struct disclose_policy *policy, const Fedra__QuerySpec *spec, struct node_answer *ans,
    char *err)
{
    memset(ans, 0, sizeof *ans);
    if (k->admit != NULL && k->admit(policy, spec, err) != 0)
        return -1;
    struct node_kind_ctx c = *ctx;
    c.policy = policy;
    if (k->execute(&c, spec, ans, err) != 0 || k->release(policy, spec, ans, err) != 0)
        return -1;
    if (ans->late[0] != 0)
        return errf(err, "%s", ans->late);
    return 0;
}

int
kind_time_grid(const struct disclose_policy *policy, const Fedra__QuerySpec *spec,
    int32_t *grid, char *err)
{
    uint32_t pol = policy->time_grid_days;
    if (spec->exact_times) {
        if (pol > 0)
            return errf(err, "exact event times are not released by this node: its policy "
                "allows a time grid of %u days or coarser (use --grid %u)", pol, pol);
        *grid = 0;
        return 0;
    }
    if (kind_spec_grid(spec, grid, err) != 0)
        return -1;
    if (pol > 0 && spec->grid_days % pol != 0)
        return errf(err, "a time grid of %u days is not released by this node: its policy "
            "allows multiples of %u days", spec->grid_days, pol);
    return 0;
}

int
kind_spec_grid(const Fedra__QuerySpec *spec, int32_t *grid, char *err)
{
    *grid = 0;
    if (spec->exact_times)
        return 0;
    if (spec->grid_days == 0 || spec->grid_days > DISCLOSE_MAX_GRID_DAYS)
        return errf(err, "time grid must be 1 to %d days", DISCLOSE_MAX_GRID_DAYS);
    *grid = (int32_t)spec->grid_days;
    return 0;
}

int
kind_endpoint(const struct snapshot *snap, const Fedra__QuerySpec *spec, const int32_t **tcol,
    const uint8_t **ecol, char *err)
{
    if (spec->endpoint != FEDRA__ENDPOINT__ENDPOINT_OS &&
        spec->endpoint != FEDRA__ENDPOINT__ENDPOINT_EFS)
        return errf(err, "unknown endpoint %d (os or efs)", (int)spec->endpoint);
    int efs = spec->endpoint == FEDRA__ENDPOINT__ENDPOINT_EFS;
    *tcol = efs ? snap->efs_time : snap->os_time;
    *ecol = efs ? snap->efs_event : snap->os_event;
    return 0;
}

int
kind_late(char *late, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(late, FEDRA_ERRLEN, fmt, ap);
    va_end(ap);
    return 1;
}
