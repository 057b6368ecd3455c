/*
 * mask - pairwise additive masks for pooled release (issue 14; Bonawitz et
 * al., CCS 2017, without dropout recovery: a pooled result needs every node
 * of the roster, so no mask seed is ever secret-shared).
 *
 * Ring.  A pooled model's values (node/sharefit.h) travel as elements of
 * Z_2^128 (unsigned __int128, wrapping); a pooled table's in Z_2^64 ("Counts",
 * below).  A count is itself; a real is fixed point, round(x * 2^64)
 * (MASK_FRAC_BITS), for |x| < 2^MASK_INT_BITS.  Sums of up to 2^(127 -
 * 64 - MASK_INT_BITS) = 2^9 such reals (more nodes than WIRE_MAX_AUDIENCE)
 * cannot wrap, and the sum decodes to the exact sum of the nodes' rounded
 * values, rounded once to a double: closer to the pooled sum than the
 * floating-point sums of direct mode, whose order differs from R's anyway.
 *
 * Counts.  A pooled table (proto/layout.h: counts, the nodes' flags, the
 * pooled auditor's atom sizes) holds counts only, so its share travels in a
 * second ring, Z_2^64 (uint64_t, wrapping), MASK_COUNT_LEN bytes an element:
 * half the stream to expand and the bytes to send, hash and keep of Z_2^128
 * (a pooled km by stage on the 30-day grid: 9,760 elements, 156 KB a node
 * in Z_2^128).  A sum over MASK_MAX_ROSTER nodes of at most SNAP_MAX_ROWS
 * (5e7) rows each is below 2^34: it cannot wrap.  The masks are uniform in
 * Z_2^64 (ChaCha20's words), so a masked count is as uniform as before.  A
 * sum above MASK_COUNT_MAX (REPORT_MAX_ROWS, the most rows a node may claim)
 * is no honest sum (mask_count_sum): a share of garbage passes that test at
 * a position with probability 2^-24, and the release's consistency checks
 * (analysis/pool.h) read the flags too.  Models (reals) stay in Z_2^128.
 *
 * Masks.  Nodes a and b of a roster agree a key by X25519 between their
 * certified transport keys (crypto_scalarmult, the keys their certificates
 * bind), and derive a seed for one query and one vector label:
 *     seed = BLAKE2b-256(key = X25519 shared secret,
 *                        "fedra/mask/v1" || pk_low || pk_high || query_hash || label)
 * ChaCha20 (IETF, zero nonce: the seed is never reused) expands it into one
 * ring element per position (16 bytes of stream; 8 in the count ring, whose
 * seeds also hash a tag after the label: mask.c).  The node whose public key sorts lower adds the
 * stream, the other subtracts it, so over the whole roster every stream
 * cancels and only the sum is left.  To anyone holding neither key of a
 * pair, a masked vector of a roster of 2 or more nodes is uniformly random.
 * A node's own key must be in the roster; a peer key that is a low-order
 * point (X25519 gives all zeros) fails the key agreement, naming that peer.
 */
#ifndef MASK_H
#define MASK_H

#include <stddef.h>
#include <stdint.h>

#define MASK_KEY_LEN 32
#define MASK_HASH_LEN 32
#define MASK_ELEM_LEN 16            /* bytes of one ring element on the wire, little-endian */
#define MASK_FRAC_BITS 64           /* fixed point: x is round(x * 2^64) */
#define MASK_INT_BITS 54            /* reals in (-2^54, 2^54) */
#define MASK_MAX_ROSTER 256         /* nodes in one roster (WIRE_MAX_AUDIENCE) */
#define MASK_MAX_LABEL 64           /* bytes of a vector label */

typedef unsigned __int128 mask_elem;

/* Encoding.  mask_real fails (err) on a non-finite or too large x. */
mask_elem mask_count(uint64_t c);
int mask_real(double x, mask_elem *out, char *err);
/* Decoding a sum.  mask_sum_count fails if the sum is not a count in 0 .. 2^63. */
int mask_sum_count(mask_elem s, uint64_t *out);
double mask_sum_real(mask_elem s);

/* Wire form: n elements, MASK_ELEM_LEN bytes each, little-endian. */
void mask_pack(const mask_elem *v, size_t n, uint8_t *out);
void mask_unpack(const uint8_t *in, size_t n, mask_elem *v);
/* acc[i] += v[i] (the hub's unmasking: the sum over every node's vector). */
void mask_add(mask_elem *acc, const mask_elem *v, size_t n);

/*
 * One node's pairwise seeds for one query: sk/pk its transport key pair,
 * roster the public keys of every node taking part (its own among them,
 * any order, none twice), qhash the query hash.
 */
struct mask_node;
int mask_node_new(struct mask_node **out, const uint8_t sk[MASK_KEY_LEN],
    const uint8_t pk[MASK_KEY_LEN], const uint8_t (*roster)[MASK_KEY_LEN], size_t nroster,
    const uint8_t qhash[MASK_HASH_LEN], char *err);
/*
 * The X25519 shared secrets depend on the two transport keys only, so a
 * node keeps them across queries (MASK_CACHE_PEERS of them, the oldest
 * replaced first; all forgotten when the node's own key changes): the key
 * agreements, one scalar multiplication per peer, were most of a small
 * pooled answer's cost.  mask_node_new_kept is mask_node_new with such a
 * cache (NULL: none); the seeds are the same.
 */
#define MASK_CACHE_PEERS 64          /* peers whose agreement is kept (rosters are smaller) */
struct mask_cache;
struct mask_cache *mask_cache_new(void);
void mask_cache_free(struct mask_cache *c);
int mask_node_new_kept(struct mask_node **out, struct mask_cache *c,
    const uint8_t sk[MASK_KEY_LEN], const uint8_t pk[MASK_KEY_LEN],
    const uint8_t (*roster)[MASK_KEY_LEN], size_t nroster, const uint8_t qhash[MASK_HASH_LEN],
    char *err);
void mask_node_free(struct mask_node *m);
/* Add this node's masks for the vector called label to v[0 .. n). */
int mask_apply(const struct mask_node *m, const char *label, mask_elem *v, size_t n,
    char *err);

/*
 * Pair tags (a MAC no third party can forge, the hub included): a node
 * vouches for a message to one peer of the roster.  Each pair has, besides
 * its mask seed, a tag key
 *     BLAKE2b-256(key = X25519 shared secret,
 *                 "fedra/pool-tag/v1" || pk_low || pk_high || query_hash)
 * and the tag from roster node a to roster node b over msg is
 *     BLAKE2b-128(key = the pair's tag key, le32(a) || le32(b) || msg)
 * (a, b: indices in the roster mask_node_new was given), so a tag is for one
 * direction of one pair in one query: the hub cannot make one, nor turn b's
 * tag for a into a's for b.  Only a and b hold the shared secret, which the
 * certificates they verified bind to the two nodes.  mask_tag is this node's
 * tag for roster node `to`; mask_tag_check 0 if tag is roster node `from`'s
 * for this node over msg (constant time), -1 if not, or if from is this node
 * or not in the roster.
 */
#define MASK_TAG_LEN 16
int mask_tag(const struct mask_node *m, size_t to, const uint8_t *msg, size_t len,
    uint8_t tag[MASK_TAG_LEN]);
int mask_tag_check(const struct mask_node *m, size_t from, const uint8_t *msg, size_t len,
    const uint8_t tag[MASK_TAG_LEN]);

/* The count ring, Z_2^64 (see "Counts" above). */
#define MASK_COUNT_LEN 8                    /* bytes of one count element, little-endian */
#define MASK_COUNT_MAX ((uint64_t)1 << 40)  /* a decoded sum above it is no honest sum */
/* A sum as a count: -1 if it is above MASK_COUNT_MAX. */
int mask_count_sum(uint64_t s, uint64_t *out);
void mask_pack_counts(const uint64_t *v, size_t n, uint8_t *out);
void mask_unpack_counts(const uint8_t *in, size_t n, uint64_t *v);
void mask_add_counts(uint64_t *acc, const uint64_t *v, size_t n);
/* acc[i] += element i of in (n packed elements): the hub's sum without a copy. */
void mask_add_packed_counts(uint64_t *acc, const uint8_t *in, size_t n);
/* mask_apply in the count ring. */
int mask_apply_counts(const struct mask_node *m, const char *label, uint64_t *v, size_t n,
    char *err);

#endif /* !MASK_H */
