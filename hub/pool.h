/*
 * pool - the hub as release service for one pooled route (issue 14;
 * proto/DESIGN.md "Pooled release").
 *
 * The analyst's route carries, besides each node's sealed query, the same
 * query for the hub (HubRoute.pooled_query).  The hub reads it: it must be
 * signed by the route's own signer, be pooled, and name as participants
 * exactly the route's nodes, in order.  Each node answers the hub, not the
 * analyst, with a PoolAnswer: its signed response (status, its policy and a
 * commitment to its masked share) and the share.  The hub checks each (node
 * certificate, the name, the query hash, the commitment, the share's size)
 * and adds the share; it can read nothing else from it.  When every node of
 * the roster has answered, it unmasks the sums only, applies the strictest
 * of the nodes' policies to the pooled table (proto/release.h), signs the
 * release with its own key and returns a PoolReply: the release and every
 * node's signed response.  One node missing, refusing or sending a wrong
 * share refuses the whole result: a result over fewer nodes than the
 * roster would give away the difference.
 */
#ifndef HUBPOOL_H
#define HUBPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "certs/pki.h"
#include "lib/util.h"
#include "proto/wire.h"

struct hubpool;

/*
 * A pooled route: query (an Envelope) signed by the certificate analyst,
 * for nodes[0 .. n).  *out is freed with hubpool_free.
 */
int hubpool_open(struct hubpool **out, const uint8_t *query, size_t len,
    const struct pki_cert *analyst, char *const *nodes, size_t n, char *err);
void hubpool_free(struct hubpool *p);
/*
 * hubpool_open's checks of the query alone (also those of a pooled model fit,
 * hub/fit.h): signed by analyst, pooled, naming exactly nodes[0 .. n), n >= 2.
 * *out: its body (wire_query_free).
 */
int hubpool_read_query(const uint8_t *query, size_t len, const struct pki_cert *analyst,
    char *const *nodes, size_t n, Fedra__QueryBody **out, char *err);
/* The query's hash (what node responses answer), WIRE_HASH_LEN bytes. */
const uint8_t *hubpool_query_hash(const struct hubpool *p);
/* 1 once every node's share is in. */
int hubpool_complete(const struct hubpool *p);
/*
 * Node i's answer: the PoolAnswer bytes it sent.  Its response is verified
 * against trust at time now (role node, named nodes[i]); known (or NULL):
 * the certificate the node's link was verified with: a response signed
 * with it (the same DER) is neither parsed nor verified again.  A refusal by the node, or anything wrong with
 * the answer, is -1 with err naming the node.
 */
int hubpool_add(struct hubpool *p, const struct pki_trust *trust, const struct pki_cert *known,
    int64_t now, size_t i, const uint8_t *answer, size_t len, char *err);
/*
 * Every share in: release, sign as the holder of hub_cert (role hub) and
 * append the PoolReply to reply.  The released positions and those held
 * back are counted in *shown and *hidden (for the relay log).
 */
int hubpool_finish(struct hubpool *p, const struct pki_cert *hub_cert,
    const struct pki_key *hub_key, int64_t now_ms, struct buf *reply, size_t *shown,
    size_t *hidden, char *err);

/*
 * The release body (unsigned) of the complete pool, as hub_name would sign it
 * at released_at_ms, appended to body.
 */
int hubpool_release_body(struct hubpool *p, const char *hub_name, int64_t released_at_ms,
    struct buf *body, size_t *shown, size_t *hidden, char *err);

/*
 * `fedra-hub recompute`: rebuild the pool of route_id from what the relay log
 * kept (the pooled query, every node's share: hub/relaylog.h), verify each
 * share as at the time it came (trust), release it again and compare, byte
 * for byte, with the release the hub signed.  0 and a line on out if they
 * are the same; -1 with err saying what differs or is missing.
 */
struct relaylog;
int hubpool_recompute(struct relaylog *l, const struct pki_trust *trust,
    const uint8_t route_id[WIRE_QUERY_ID_LEN], FILE *out, char *err);

/* What the relay log kept of a pooled route, in log order (hubpool_recompute
 * reads it; a fit's is recomputed by hubfit_recompute). */
struct hubpool_kept {
    struct buf query, release, history;
    char (*node)[PKI_MAX_NAME + 1];
    struct buf *share;
    int64_t *ts;
    size_t n, cap;
};

/* Node i's PoolAnswer as received (for the relay log, so that the release can be
 * recomputed from it: hubpool_recompute); NULL before it arrived. */
const uint8_t *hubpool_answer(const struct hubpool *p, size_t i, size_t *len);

/*
 * The pooled auditor (analysis/paudit.h, docs/disclosure.md §8.7): audit this
 * route against the history packed in hist (hub/phist.h phist_pack).  Every
 * node's share must then carry the atoms of that history and this query
 * (PoolShare.atoms); at release, cells the pooled rules would release are
 * withheld where the auditor says so.  -1 when the query cannot be audited
 * (the history is too large with it: PAUDIT_MAX_QUERIES, PAUDIT_MAX_ATOMS):
 * the caller refuses the route.
 */
int hubpool_audit(struct hubpool *p, const uint8_t *hist, size_t len, char *err);
/* After the release: the cells (count) or strata released with a count (the
 * history's new sets), and the history entry they belong to (an existing one
 * with the same sets: proto/atoms.h atoms_plan; else the history's size, a
 * new entry); NULL when not audited. */
const uint32_t *hubpool_released(const struct hubpool *p, size_t *n, size_t *entry);
/* The pooled query Envelope as the analyst signed it. */
const uint8_t *hubpool_query(const struct hubpool *p, size_t *len);

#endif /* !HUBPOOL_H */
