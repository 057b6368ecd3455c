/*
 * fit - the hub driving a pooled model fit (issue 14, "the hub drives pooled
 * model fits"; proto/DESIGN.md "Pooled release", docs/disclosure.md §8).
 *
 * A pooled route whose query is a cox or glm model is a fit: round 1 is the
 * analyst's query, forwarded sealed to every roster node as any pooled
 * route's; each node answers with a masked share of its round on the fixed
 * layout (proto/poolmodel.h).  With every answer of a round in (each
 * checked: the node's signature, this query, this round, its commitment),
 * the hub adds the shares, decodes the pooled sums and feeds them to its own
 * replay of the fit (proto/modelsum.h, R's default iterations).  Round 1's
 * sums also face the pooled rules: pooled n >= min_cell, pooled events (glm:
 * and non-events) enough for p coefficients (min_events_per_parameter), and
 * no categorical level with 1 .. min_cell-1 pooled patients (named); the
 * strictest of the nodes' policies; then the pooled auditor (hubfit_audit),
 * before any node sees round 1's pooled sums.  Not done: the next round's message
 * (PoolRound: the query, the round, every node's answer to the round before)
 * goes to every node, which checks those answers itself and computes the
 * coefficients from them -- the hub never names coefficients.  Done: the hub
 * signs a release carrying every round's pooled sums (anyone replays the fit
 * from them: coefficients, SEs, tests) and committing to every node's
 * response of every round, round-major.
 */
#ifndef HUBFIT_H
#define HUBFIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "certs/pki.h"
#include "lib/util.h"
#include "proto/wire.h"

struct hubfit;

/* 1 if the pooled query (Envelope bytes) asks for a model: its route is a fit. */
int hubfit_is_model(const uint8_t *query, size_t len);
/* As hubpool_open (hub/pool.h), for a model query. */
int hubfit_open(struct hubfit **out, const uint8_t *query, size_t len,
    const struct pki_cert *analyst, char *const *nodes, size_t n, char *err);
void hubfit_free(struct hubfit *f);
const uint8_t *hubfit_query_hash(const struct hubfit *f);
/* The roster's size, and its node i (the route's order). */
size_t hubfit_nodes(const struct hubfit *f);
const char *hubfit_node(const struct hubfit *f, size_t i);
/* The round whose answers are being collected (1, 2, ...). */
uint32_t hubfit_round(const struct hubfit *f);
/* 1 once every node's answer to the round is in. */
int hubfit_complete(const struct hubfit *f);
/*
 * Node i's PoolAnswer to the current round; -1 with err naming the node and
 * round.  known: as hubpool_add's (the certificate the node's link was
 * verified with, or NULL).
 */
int hubfit_add(struct hubfit *f, const struct pki_trust *trust, const struct pki_cert *known,
    int64_t now_ms, size_t i, const uint8_t *answer, size_t len, char *err);
/*
 * The round complete: 1 and the next round's PoolRound appended to msg; 0
 * when the fit is done (hubfit_finish); -1 with err (a rule refuses, the
 * shares do not unmask, the fit cannot go on).
 */
int hubfit_next(struct hubfit *f, struct buf *msg, char *err);
/*
 * The pooled auditor (hub/audit.h; docs/disclosure.md §8.7): audit the fit
 * against the packed history hist.  Round 1's answers must then carry the
 * nodes' rows per atom (PoolAnswer.atoms), and after round 1's rules the fit
 * is refused, before any node sees round 1's pooled sums, if its counts
 * (proto/poolmodel.h) with the history's would let 1 .. min_cell-1 patients
 * be counted.  -1 with err when the fit cannot be audited (fail closed).
 */
int hubfit_audit(struct hubfit *f, const uint8_t *hist, size_t len, char *err);
/*
 * 1 once, right after the hubfit_next that passed the audit: the fit's sets
 * are now known to the nodes, so the caller adds the fit to the history
 * before the next round goes out.
 */
int hubfit_audit_passed(struct hubfit *f);
/* 1 if the audited fit is a repeat of a history entry's (proto/atoms.h): nothing to add. */
int hubfit_audit_repeat(const struct hubfit *f, size_t nhistory);
/* The analyst's query Envelope (for the history). */
const uint8_t *hubfit_query(const struct hubfit *f, size_t *len);
/* Sign the release as the holder of hub_cert and append the PoolReply to reply. */
int hubfit_finish(struct hubfit *f, const struct pki_cert *hub_cert,
    const struct pki_key *hub_key, int64_t now_ms, struct buf *reply, char *err);

/*
 * The release body (unsigned) of the finished fit, as hub_name would sign it
 * at released_at_ms, appended to body (hubfit_finish signs it).
 */
int hubfit_release_body(struct hubfit *f, const char *hub_name, int64_t released_at_ms,
    struct buf *body, char *err);
/*
 * `fedra-hub recompute` of a fit (hub/pool.h hubpool_recompute reads the log
 * and comes here for a model): the fit opened from the kept query, audited
 * against the kept history, every kept share verified (trust, at the time it
 * came) and added round by round, the rounds run again; 0 and a line on out
 * if the release body is byte for byte the one the hub signed.
 */
struct hubpool_kept;
int hubfit_recompute(const struct hubpool_kept *k, const struct pki_trust *trust,
    const struct pki_cert *analyst, const Fedra__QueryBody *q, FILE *out, char *err);

#endif /* !HUBFIT_H */
