/*
 * kind_survival - the steps of the survival kinds (node/kind_survival.c)
 * that another kind answered by the same life tables reuses: cif
 * (node/kind_cif.c) selects, builds, releases, audits and withholds its
 * tables by cause exactly as km does its tables, so its row points at these
 * (node/kind.h says what each step does).
 */
#ifndef NODE_KIND_SURVIVAL_H
#define NODE_KIND_SURVIVAL_H

#include "node/kind.h"

/* The time grid the policy allows (kind_time_grid). */
int km_admit(const struct disclose_policy *policy, const Fedra__QuerySpec *spec, char *err);
/*
 * Every stratum's life table: of the spec's endpoint (km), or for a
 * KIND_CIF spec of the event-free time with its events split by cause
 * (LifeTable.events relapses, .competing deaths without relapse).
 */
int km_execute(const struct node_kind_ctx *ctx, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err);
/* The small-stratum rule (R5): a small stratum is sent suppressed. */
int surv_release(const struct disclose_policy *policy, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err);
/* Each released stratum for the auditor: key, full and tail (R3, R4). */
void surv_sets(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, const struct node_answer *ans, struct qaudit_sets *out);
/* A stratum withheld, or its table stopped at a time. */
void surv_withhold(struct node_answer *ans, long item, int32_t from);
/* rb->km: the life tables. */
void surv_result(const struct node_answer *ans, Fedra__ResponseBody *rb);
void surv_free(struct node_answer *ans);

#endif /* !NODE_KIND_SURVIVAL_H */
