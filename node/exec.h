/*
 * exec - run one verified query spec on the snapshot and apply the node's
 * disclosure policy, producing the result part of the response.
 *
 * Nothing row-level leaves this module: it hands back only cells that went
 * through analysis/disclose.h.
 */
#ifndef EXEC_H
#define EXEC_H

#include <stddef.h>

#include "analysis/disclose.h"
#include "node/snapshot.h"
#include "proto/wire.h"

/* Memory behind a filled CountResult; release after the response is packed. */
struct exec_out {
    Fedra__CountResult count;
    Fedra__Cell *cells;
    Fedra__Cell **cellp;
    char **levels;                  /* ncells * nby pointers */
    char (*numbers)[16];            /* text of integer levels */
    size_t nsuppressed;             /* cells suppressed by the policy */
};

/*
 * Count query.  On a query the node will not answer (unknown variable, bad
 * level, too many groups) return -1 with err set; the caller refuses with it.
 */
int exec_count(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_out *out, char *err);
void exec_out_release(struct exec_out *out);

#endif /* !EXEC_H */
