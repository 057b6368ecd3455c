/*
 * patoms - a node's rows per atom of the pooled auditor (issue 14,
 * "Differencing at the pooled level"; docs/disclosure.md §8.7).
 *
 * With a pooled query the hub sends the signed query Envelopes of the pooled
 * results released before (HubFrame.pool_history).  The node verifies each
 * one as a query (an analyst's valid signature, a certificate of role
 * analyst from the federation CA, valid when it was issued, the analyst
 * named in it, a pooled spec), so a hub cannot make it count rows of a set
 * no analyst asked for; it need not have answered it (it may have joined
 * since).  It then counts its rows per atom of those queries and the new one
 * (proto/atoms.h, analysis/paudit.h), on positions fixed by the specs alone.
 * The count of the atom of rows in no set (every digit 0) is not sent: it
 * is 0 in the share, so the pool says nothing about the rows no query
 * touched.  The counts are masked like the rest of the share (label
 * "atoms"): the hub learns the pooled size of each atom, never a node's.
 */
#ifndef PATOMS_H
#define PATOMS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/mask.h"
#include "proto/wire.h"

struct snapshot;
struct pki_trust;
struct certcache;

#define PATOMS_LABEL "atoms"            /* mask label of the atom counts */

/*
 * The node `self`'s rows per atom of hist[0 .. nhist) (Envelope bytes) and
 * cur: *out (malloc'd, *natoms elements, not masked).  -1 with err naming
 * the history query that does not verify or cannot be laid out.
 */
int patoms_count(const struct snapshot *snap, const char *self, const struct pki_trust *trust,
    struct certcache *cc, const ProtobufCBinaryData *hist, size_t nhist,
    const Fedra__QueryBody *cur, uint64_t **out, size_t *natoms, char *err);

#endif /* !PATOMS_H */
