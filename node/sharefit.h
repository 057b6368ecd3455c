/*
 * sharefit - a node's part in a pooled model fit driven by the hub (issue
 * 14, "the hub drives pooled model fits"; proto/DESIGN.md "Pooled release",
 * docs/disclosure.md §8).
 *
 * Round 1 is the analyst's signed pooled query (kind cox or glm, no
 * coefficients): the node evaluates its round where the fit starts (cox:
 * every coefficient 0; glm: mustart), exactly as a direct round 1, puts the
 * ModelResult and its level counts on the fixed layout (proto/poolmodel.h),
 * masks it under the round's label and answers the hub.  Its own release
 * rules do not run (its small levels, few events, 2 patients: it
 * contributes; the hub applies the rules to the pooled sums).
 *
 * Every round's share carries the node's pair tag for each other roster
 * node (lib/mask.h mask_tag over proto/poolmodel.h poolmodel_tag_msg: the
 * round, the positions, the masked vector's hash), inside the signed body.
 *
 * Round k >= 2 comes as the hub's PoolRound: the same query, k, and every
 * roster node's answer to round k-1.  The node checks each (that node's
 * pair tag for this node -- not its signature: the hub checked that, and the
 * tag is one the hub cannot make -- the query, round k-1, the share it
 * committed to; its own answer is the one it sent, byte for byte), adds the
 * shares -- the masks cancel only over the whole roster -- decodes the
 * pooled sums, feeds them to its own replay of the fit (proto/modelsum.h,
 * R's default iterations, as the hub's) and evaluates at the coefficients
 * that gives.  The hub never names the
 * coefficients, so neither it nor the analyst can have the pool evaluated
 * at chosen ones (attack 4.1, at the pooled level).  Anything wrong refuses
 * the round with code model-path; a fit this node keeps no state for (it
 * restarted, or the fit was idle past SHAREFIT_IDLE_MS) with model-state.
 *
 * The table is the daemon's; no mutable global.
 */
#ifndef SHAREFIT_H
#define SHAREFIT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/mask.h"
#include "lib/util.h"
#include "node/share.h"
#include "proto/modelsum.h"
#include "proto/poolmodel.h"
#include "proto/wire.h"

#define SHAREFIT_MAX_FITS 8                 /* pooled fits a node follows at once */
#define SHAREFIT_IDLE_MS (2 * 60 * 1000)    /* a fit whose next round does not come is dropped */
#define SHAREFIT_PATH "model-path"
#define SHAREFIT_STATE "model-state"

struct sharefit_fit {
    int used;
    uint8_t qhash[WIRE_HASH_LEN];
    uint32_t round;                 /* the last round answered */
    int committed;                  /* own[] holds that round's signed response hash */
    uint8_t own[WIRE_HASH_LEN];
    int64_t last_ms;
    struct poolmodel L;
    struct modelpath path;
    struct mask_node *mask;
    uint8_t atoms_hash[WIRE_HASH_LEN];  /* round 1: of its atoms (PoolShare.atoms_hash) */
    struct buf tags;                /* the last round's peer_tags (the share points here) */
};

struct sharefit_table {
    struct sharefit_fit f[SHAREFIT_MAX_FITS];
};

void sharefit_clear(struct sharefit_table *t);
/* Drop the fits not asked for SHAREFIT_IDLE_MS. */
void sharefit_expire(struct sharefit_table *t, int64_t now_ms);

/*
 * Answer round 1 (round NULL: q is the query just received) or the hub's
 * round message of the fit of q (qhash).  As share_answer (node/share.h):
 * share (its masked_hash points into hash; its peer_tags, this node's pair
 * tags for every roster node, into the fit's state until its next round) and
 * the masked vector appended to masked; -1 with err and *code
 * (SHAREFIT_PATH, SHAREFIT_STATE, or "pooled").
 * now_ms: wall clock.
 */
int sharefit_answer(struct sharefit_table *t, const struct node_kind_ctx *ctx,
    const struct share_policy *sp, const Fedra__QueryBody *q, const Fedra__PoolRound *round,
    const struct pki_trust *trust, const uint8_t sk[MASK_KEY_LEN],
    const uint8_t pk[MASK_KEY_LEN], const uint8_t qhash[WIRE_HASH_LEN], int64_t now_ms,
    Fedra__PoolShare *share, uint8_t hash[WIRE_HASH_LEN], struct buf *masked,
    const char **code, char *err);
/* 1 if this node follows the fit whose query hash is qhash (it verified that query at round 1). */
int sharefit_follows(const struct sharefit_table *t, const uint8_t qhash[WIRE_HASH_LEN]);
/* The signed response of that answer (what the next round must carry as this node's). */
void sharefit_commit(struct sharefit_table *t, const uint8_t qhash[WIRE_HASH_LEN],
    const uint8_t *response, size_t len);

#endif /* !SHAREFIT_H */
