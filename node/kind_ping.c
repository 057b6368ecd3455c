/*
 * kind_ping - is the node there, and which software and certificate does
 * it answer with.  Reads no patient row, so there is nothing to suppress
 * and no set to audit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/kind.h"

static int
ping_execute(const struct node_kind_ctx *ctx, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err)
{
    Fedra__PingResult *r = xcalloc(1, sizeof *r);
    (void)spec;
    (void)err;
    fedra__ping_result__init(r);
    r->cert_not_after_ms = ctx->cert_not_after_ms;
    r->software = (char *)ctx->software;
    ans->stat = r;
    return 0;
}

/* Nothing about any patient: released as it is. */
static int
ping_release(const struct disclose_policy *policy, const Fedra__QuerySpec *spec,
    struct node_answer *ans, char *err)
{
    (void)policy;
    (void)spec;
    (void)ans;
    (void)err;
    return 0;
}

/* No row set: a ping selects no patient. */
static void
ping_sets(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, const struct node_answer *ans, struct qaudit_sets *out)
{
    (void)snap;
    (void)policy;
    (void)spec;
    (void)ans;
    (void)out;
}

static void
ping_result(const struct node_answer *ans, Fedra__ResponseBody *rb)
{
    rb->ping = ans->stat;
}

static void
ping_summary(const struct node_answer *ans, const Fedra__QuerySpec *spec, char *buf, size_t len)
{
    (void)ans;
    (void)spec;
    snprintf(buf, len, "ping");
}

static void
ping_free(struct node_answer *ans)
{
    free(ans->stat);
    memset(ans, 0, sizeof *ans);
}

const struct node_kind node_kind_ping = {
    .kind = FEDRA__KIND__KIND_PING,
    .name = "ping",
    .admit = NULL,
    .execute = ping_execute,
    .release = ping_release,
    .sets = ping_sets,
    .withhold = NULL,
    .result = ping_result,
    .summary = ping_summary,
    .free_answer = ping_free,
};
