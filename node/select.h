/*
 * select - which snapshot rows a query selects: its where-clause (the spec's
 * filters) compiled into a snapshot filter.
 *
 * Written once so that the executors (node/kind_*.c) and the query-set
 * auditor (node/qaudit.c) select exactly the same rows: the auditor's
 * decision is about the rows an answer is computed from.
 */
#ifndef SELECT_H
#define SELECT_H

#include "node/snapshot.h"
#include "proto/wire.h"

/*
 * Compile spec->where into *f (release with snapshot_filter_release).  Returns
 * 0, or -1 with err set: more than SNAP_MAX_TERMS terms, or a term the
 * snapshot refuses (unknown variable, bad level, wrong operator).  An
 * operator the wire does not define is read as "=", as the node always has.
 */
int select_compile(const struct snapshot *snap, const Fedra__QuerySpec *spec,
    struct snap_filter *f, char *err);

#endif /* !SELECT_H */
