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
 * (proto/atoms.h, analysis/paudit.h), on positions fixed by the specs alone:
 * a row's atom is its class in each dimension (its roster, its values of
 * the variables the queries read, a Cox fit's event), and it is counted at
 * that atom's canonical one (the first with the same digits), so the hub
 * learns only the sizes of the released sets' intersections.  Before it sends
 * them it reads every row's digit in every query as it always has (its
 * compiled filters, the query's cells, a fit's audit cells) and refuses
 * the query if one differs from its atom's digit in the layout, so the
 * atoms describe exactly the sets the answers release.
 * Atoms in no set (every digit 0) are not sent: they are 0 in the share,
 * so the pool says nothing about the rows no query touched.  The counts
 * are masked like the rest of the share (label "atoms"): the hub learns
 * the pooled size of each atom, never a node's.
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

/*
 * What repeats from one pooled query to the next at a node: the history.
 * A node keeps the SHA-256 of each history Envelope whose signature
 * verified: a signature is a property of the bytes, so it is checked once,
 * not with every pooled query (63 of them: 4 ms a query).  The signer's
 * certificate is still verified each time (certcache: CRL, validity).
 * It also keeps the last counts it made, with the snapshot (content hash,
 * rows) and the plan (the history Envelopes' hashes, and the new query's
 * spec and roster if it has a digit of its own) they were made over: a
 * question asked again, a fit's level tables and its first round repeated,
 * are then a copy, without the layout, the pass or the check.
 * patoms_count_kept is patoms_count with such a cache (NULL: none); the
 * counts are the same (test_patoms).
 */
#define PATOMS_CACHE_SIGS 64            /* verified history Envelopes kept (PAUDIT_MAX_QUERIES) */
struct patoms_cache;
struct patoms_cache *patoms_cache_new(void);
void patoms_cache_free(struct patoms_cache *c);
int patoms_count_kept(struct patoms_cache *pc, const struct snapshot *snap, const char *self,
    const struct pki_trust *trust, struct certcache *cc, const ProtobufCBinaryData *hist,
    size_t nhist, const Fedra__QueryBody *cur, uint64_t **out, size_t *natoms, char *err);

#endif /* !PATOMS_H */
