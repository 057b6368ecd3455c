/*
 * share - a node's masked share of a pooled answer (issue 14, pooled
 * release; proto/DESIGN.md "Pooled release").
 *
 * A pooled query is answered as any other up to the statistic before the
 * node's own release rules (its kind's execute).  That statistic is put on
 * the query's fixed layout (proto/layout.h), four vectors of elements of
 * the count ring, Z_2^64 (lib/mask.h), position by position:
 *   value      the count, stratum size, events or censorings there
 *   contrib    1 if value is not 0
 *   small      1 if value is 1 .. the node's min_cell - 1
 *   withheld   1 if the node's auditor withheld it (not yet used: 0)
 * and masked with the pairwise masks of the roster, one label per vector.
 * The hub, adding every node's share, gets the pooled table and per position
 * how many nodes contributed, were small or withheld (analysis/pool.h), and
 * nothing about any one node.
 *
 * The roster is the query's: the certificate of every participant in
 * audience order.  Each must chain to the federation CA with role node and
 * the name the audience gives it at that place, and this node's own
 * transport key must be among them, or the share is refused.
 */
#ifndef SHARE_H
#define SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/disclose.h"
#include "lib/mask.h"
#include "proto/layout.h"
#include "proto/wire.h"

struct pki_trust;

/* The statistic on the layout: out has layout_elems(L) elements. */
int share_fill_count(const struct layout *L, const Fedra__CountResult *count,
    const struct disclose_policy *pol, uint64_t *out, char *err);
int share_fill_km(const struct layout *L, const Fedra__KmResult *km,
    const struct disclose_policy *pol, uint64_t *out, char *err);

/*
 * The masks of this node (transport key pair sk/pk) for the query q (its
 * audience and roster) with hash qhash, after checking every roster
 * certificate against trust at Unix time now (through cc, if not NULL: a
 * certificate verified once is not verified again), at least min of them;
 * the key agreements through mc (lib/mask.h), if not NULL.
 */
struct certcache;
int share_roster(const struct pki_trust *trust, struct certcache *cc, struct mask_cache *mc,
    const Fedra__QueryBody *q, uint32_t min,
    const uint8_t sk[MASK_KEY_LEN], const uint8_t pk[MASK_KEY_LEN],
    const uint8_t qhash[WIRE_HASH_LEN], int64_t now, struct mask_node **out, char *err);
/* Mask the LAYOUT_VECTORS vectors of v (layout_elems(L) elements) in place. */
int share_mask(const struct mask_node *m, const struct layout *L, uint64_t *v, char *err);

/*
 * A node's whole answer to a verified pooled query q (hash qhash): the kind's
 * admit and execute (never its release: the node releases nothing of its
 * own), the statistic on the layout, masked over the roster.  Fills share
 * (the commitment and the policy the hub applies; masked_hash points into
 * hash, WIRE_HASH_LEN bytes, which must outlive it) and appends the masked
 * vectors, MASK_COUNT_LEN bytes an element, to masked, then (share->atoms
 * of them) its masked rows per atom of the pooled auditor (share_atoms).
 * min_sites is the node's policy for the pool (analysis/pool.h).
 */
struct node_kind_ctx;
struct patoms_cache;
/* The node's pooled policy: what it asks of the pool, and the smallest roster it joins. */
struct share_policy {
    const struct disclose_policy *pol;
    uint32_t min_sites;
    uint32_t min_participants;      /* POOL_MIN_PARTICIPANTS unless a test lowers it */
    struct certcache *certs;        /* verified node certificates (node/certcache.h), or NULL */
    struct mask_cache *masks;       /* key agreements with the peers (lib/mask.h), or NULL */
    /* The pooled auditor (node/patoms.h): this node's name and the history the hub sent
     * with the query (HubFrame.pool_history); the share ends with the atom counts. */
    const char *self;
    const ProtobufCBinaryData *history;
    size_t nhistory;
    struct patoms_cache *atoms;     /* what repeats across queries (node/patoms.h), or NULL */
};
/*
 * The pooled auditor's part of the share: the node's rows per atom of the
 * history and q (node/patoms.h), masked under PATOMS_LABEL, appended to
 * masked; their number into share->atoms.
 */
int share_atoms(const struct node_kind_ctx *ctx, const struct share_policy *sp,
    const Fedra__QueryBody *q, const struct pki_trust *trust, const struct mask_node *m,
    Fedra__PoolShare *share, struct buf *masked, char *err);
int share_answer(const struct node_kind_ctx *ctx, const struct share_policy *sp,
    const Fedra__QueryBody *q, const struct pki_trust *trust,
    const uint8_t sk[MASK_KEY_LEN], const uint8_t pk[MASK_KEY_LEN],
    const uint8_t qhash[WIRE_HASH_LEN], int64_t now, Fedra__PoolShare *share,
    uint8_t hash[WIRE_HASH_LEN], struct buf *masked, char *err);

/*
 * The PoolAnswer of a share (node/serve.c sends it): the signed response
 * and the masked elements, a fit's round-1 atoms apart (PoolShare.atoms_hash;
 * a table's stay at the end of masked).  mlen 0: a refusal, no elements.
 */
void share_pack_answer(const Fedra__PoolShare *sh, const uint8_t *response, size_t rlen,
    const uint8_t *masked, size_t mlen, struct buf *out);

#endif /* !SHARE_H */
