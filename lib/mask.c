/*
 * mask - pairwise additive masks over Z_2^128; see mask.h.
 */
#include "lib/mask.h"

#include <endian.h>
#include <math.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define MASK_CONTEXT "fedra/mask/v1"
#define MASK_TAG_CONTEXT "fedra/pool-tag/v1"    /* the pair's tag key: never a mask seed */
#define MASK_STREAM_BLOCK 4096      /* bytes of stream expanded per ChaCha20 call */

struct mask_node {
    size_t npeers;
    size_t self;                    /* this node's index in the roster; peer k is roster
                                     * index k, or k + 1 from self on */
    uint8_t (*seed)[crypto_stream_chacha20_ietf_KEYBYTES];  /* one per peer */
    uint8_t (*tagkey)[crypto_generichash_KEYBYTES];         /* one per peer */
    int *sign;                      /* +1: add that peer's stream; -1: subtract it */
};

_Static_assert(MASK_INT_BITS + MASK_FRAC_BITS + 9 <= 127,
    "a sum of MASK_MAX_ROSTER reals must not wrap");
_Static_assert(MASK_MAX_ROSTER <= 512, "MASK_MAX_ROSTER fits the 9 bits of headroom");

mask_elem
mask_count(uint64_t c)
{
    return (mask_elem)c;
}

int
mask_real(double x, mask_elem *out, char *err)
{
    if (!isfinite(x))
        return errf(err, "cannot encode a non-finite value in fixed point");
    if (fabs(x) >= ldexp(1.0, MASK_INT_BITS))
        return errf(err, "value %g is outside the fixed-point range (|x| < 2^%d)", x,
            MASK_INT_BITS);
    /* x * 2^64 is exact (a power of two); rint rounds what lies below 2^-64 (only
     * |x| < 2^-11 has such bits), and the cast of an integral double is exact. */
    *out = (mask_elem)(__int128)rint(ldexp(x, MASK_FRAC_BITS));
    return 0;
}

int
mask_count_sum(uint64_t s, uint64_t *out)
{
    if (s > MASK_COUNT_MAX)
        return -1;
    *out = s;
    return 0;
}

int
mask_sum_count(mask_elem s, uint64_t *out)
{
    if (s > (mask_elem)INT64_MAX)
        return -1;
    *out = (uint64_t)s;
    return 0;
}

double
mask_sum_real(mask_elem s)
{
    /* One correctly rounded conversion (libgcc __floattidf), then an exact scaling. */
    return ldexp((double)(__int128)s, -MASK_FRAC_BITS);
}

/* Little-endian in two 64-bit halves: memcpy and htole64 compile to plain loads and stores. */
void
mask_pack(const mask_elem *v, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = htole64((uint64_t)v[i]), hi = htole64((uint64_t)(v[i] >> 64));
        memcpy(out + i * MASK_ELEM_LEN, &lo, 8);
        memcpy(out + i * MASK_ELEM_LEN + 8, &hi, 8);
    }
}

void
mask_unpack(const uint8_t *in, size_t n, mask_elem *v)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t lo, hi;
        memcpy(&lo, in + i * MASK_ELEM_LEN, 8);
        memcpy(&hi, in + i * MASK_ELEM_LEN + 8, 8);
        v[i] = (mask_elem)le64toh(hi) << 64 | le64toh(lo);
    }
}

void
mask_add(mask_elem *acc, const mask_elem *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += v[i];
}

void
mask_pack_counts(const uint64_t *v, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x = htole64(v[i]);
        memcpy(out + i * MASK_COUNT_LEN, &x, 8);
    }
}

void
mask_unpack_counts(const uint8_t *in, size_t n, uint64_t *v)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x;
        memcpy(&x, in + i * MASK_COUNT_LEN, 8);
        v[i] = le64toh(x);
    }
}

void
mask_add_counts(uint64_t *acc, const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += v[i];
}

void
mask_add_packed_counts(uint64_t *acc, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x;
        memcpy(&x, in + i * MASK_COUNT_LEN, 8);
        acc[i] += le64toh(x);
    }
}

struct mask_cache {
    uint8_t own[MASK_KEY_LEN];      /* the public key the secrets were agreed with */
    struct {
        uint8_t peer[MASK_KEY_LEN];
        uint8_t shared[crypto_scalarmult_BYTES];
    } e[MASK_CACHE_PEERS];
    size_t n, next;
};

struct mask_cache *
mask_cache_new(void)
{
    return xcalloc(1, sizeof(struct mask_cache));
}

void
mask_cache_free(struct mask_cache *c)
{
    if (c == NULL)
        return;
    sodium_memzero(c, sizeof *c);
    free(c);
}

/* The shared secret of (sk, pk) with peer, from c if kept there; -1 if the agreement fails. */
static int
agree(struct mask_cache *c, const uint8_t sk[MASK_KEY_LEN], const uint8_t pk[MASK_KEY_LEN],
    const uint8_t peer[MASK_KEY_LEN], uint8_t shared[crypto_scalarmult_BYTES])
{
    if (c != NULL && sodium_memcmp(c->own, pk, MASK_KEY_LEN) != 0) {
        sodium_memzero(c, sizeof *c);       /* another own key: nothing kept holds */
        memcpy(c->own, pk, MASK_KEY_LEN);
    }
    for (size_t i = 0; c != NULL && i < c->n; i++)
        if (memcmp(c->e[i].peer, peer, MASK_KEY_LEN) == 0) {
            memcpy(shared, c->e[i].shared, crypto_scalarmult_BYTES);
            return 0;
        }
    if (crypto_scalarmult(shared, sk, peer) != 0)
        return -1;                  /* never kept */
    if (c != NULL) {
        size_t at = c->n < MASK_CACHE_PEERS ? c->n++ : c->next++ % MASK_CACHE_PEERS;
        memcpy(c->e[at].peer, peer, MASK_KEY_LEN);
        memcpy(c->e[at].shared, shared, crypto_scalarmult_BYTES);
    }
    return 0;
}

/* BLAKE2b(key = the pair's X25519 secret, context || pk_low || pk_high || qhash): one key per context. */
static void
pair_key(const uint8_t shared[crypto_scalarmult_BYTES], const char *context,
    const uint8_t lo[MASK_KEY_LEN], const uint8_t hi[MASK_KEY_LEN],
    const uint8_t qhash[MASK_HASH_LEN], uint8_t *out, size_t outlen)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, shared, crypto_scalarmult_BYTES, outlen);
    crypto_generichash_update(&st, (const uint8_t *)context, strlen(context));
    crypto_generichash_update(&st, lo, MASK_KEY_LEN);
    crypto_generichash_update(&st, hi, MASK_KEY_LEN);
    crypto_generichash_update(&st, qhash, MASK_HASH_LEN);
    crypto_generichash_final(&st, out, outlen);
}

int
mask_node_new(struct mask_node **out, const uint8_t sk[MASK_KEY_LEN],
    const uint8_t pk[MASK_KEY_LEN], const uint8_t (*roster)[MASK_KEY_LEN], size_t nroster,
    const uint8_t qhash[MASK_HASH_LEN], char *err)
{
    return mask_node_new_kept(out, NULL, sk, pk, roster, nroster, qhash, err);
}

int
mask_node_new_kept(struct mask_node **out, struct mask_cache *c,
    const uint8_t sk[MASK_KEY_LEN], const uint8_t pk[MASK_KEY_LEN],
    const uint8_t (*roster)[MASK_KEY_LEN], size_t nroster, const uint8_t qhash[MASK_HASH_LEN],
    char *err)
{
    *out = NULL;
    if (sodium_init() < 0)
        return errf(err, "libsodium failed to initialise");
    if (nroster < 2 || nroster > MASK_MAX_ROSTER)
        return errf(err, "a roster of %zu nodes (masking needs 2 .. %d)", nroster,
            MASK_MAX_ROSTER);
    size_t self = nroster;
    for (size_t i = 0; i < nroster; i++) {
        for (size_t j = 0; j < i; j++)
            if (sodium_memcmp(roster[i], roster[j], MASK_KEY_LEN) == 0)
                return errf(err, "roster names transport key %zu twice", i + 1);
        if (sodium_memcmp(roster[i], pk, MASK_KEY_LEN) == 0)
            self = i;
    }
    if (self == nroster)
        return errf(err, "this node's transport key is not in the roster");
    struct mask_node *m = xcalloc(1, sizeof *m);
    m->npeers = nroster - 1;
    m->self = self;
    m->seed = xcalloc(m->npeers, sizeof *m->seed);
    m->tagkey = xcalloc(m->npeers, sizeof *m->tagkey);
    m->sign = xcalloc(m->npeers, sizeof *m->sign);
    size_t k = 0;
    for (size_t i = 0; i < nroster; i++) {
        if (i == self)
            continue;
        uint8_t shared[crypto_scalarmult_BYTES];
        if (agree(c, sk, pk, roster[i], shared) != 0) {
            mask_node_free(m);
            return errf(err, "key agreement with roster key %zu failed (not a usable X25519 "
                "public key)", i + 1);
        }
        int low = memcmp(pk, roster[i], MASK_KEY_LEN) < 0;
        pair_key(shared, MASK_CONTEXT, low ? pk : roster[i], low ? roster[i] : pk, qhash,
            m->seed[k], sizeof m->seed[k]);
        pair_key(shared, MASK_TAG_CONTEXT, low ? pk : roster[i], low ? roster[i] : pk, qhash,
            m->tagkey[k], sizeof m->tagkey[k]);
        sodium_memzero(shared, sizeof shared);
        m->sign[k] = low ? 1 : -1;
        k++;
    }
    *out = m;
    return 0;
}

void
mask_node_free(struct mask_node *m)
{
    if (m == NULL)
        return;
    sodium_memzero(m->seed, m->npeers * sizeof *m->seed);
    sodium_memzero(m->tagkey, m->npeers * sizeof *m->tagkey);
    free(m->seed);
    free(m->tagkey);
    free(m->sign);
    free(m);
}

/*
 * The key of pair p's ChaCha20 stream for the vector called label: BLAKE2b(key
 * = the pair's seed, label), one stream per (pair, query, label), the seed
 * staying put.  The count ring's keys hash a tag after the label (a NUL and
 * "u64": no label holds a NUL), so that no stream is ever read at both widths.
 */
static void
stream_key(const struct mask_node *m, size_t p, const char *label, size_t llen, int counts,
    uint8_t key[crypto_stream_chacha20_ietf_KEYBYTES])
{
    static const uint8_t count_tag[] = {0, 'u', '6', '4'};
    crypto_generichash_state st;
    crypto_generichash_init(&st, m->seed[p], sizeof m->seed[p],
        crypto_stream_chacha20_ietf_KEYBYTES);
    crypto_generichash_update(&st, (const uint8_t *)label, llen);
    if (counts)
        crypto_generichash_update(&st, count_tag, sizeof count_tag);
    crypto_generichash_final(&st, key, crypto_stream_chacha20_ietf_KEYBYTES);
    sodium_memzero(&st, sizeof st);
}

/* Add (sign > 0) or subtract k elements of the stream words ks to v from element at. */
static void
add_stream(void *v, size_t at, size_t k, const uint64_t *ks, int lanes, int sign)
{
    if (lanes == 1) {
        uint64_t *w = (uint64_t *)v + at;
        if (sign > 0)
            for (size_t i = 0; i < k; i++)
                w[i] += le64toh(ks[i]);
        else
            for (size_t i = 0; i < k; i++)
                w[i] -= le64toh(ks[i]);
        return;
    }
    mask_elem *w = (mask_elem *)v + at;
    for (size_t i = 0; i < k; i++) {
        mask_elem e = (mask_elem)le64toh(ks[2 * i + 1]) << 64 | le64toh(ks[2 * i]);
        w[i] = sign > 0 ? w[i] + e : w[i] - e;
    }
}

/*
 * Add (or subtract: the node's sign for that pair) every peer's stream to v,
 * n elements of `lanes` little-endian 64-bit words of the stream each: 2 for
 * Z_2^128 (low word first, as mask_pack lays an element out), 1 for Z_2^64.
 * The stream is ChaCha20-IETF with a zero nonce and counter.  A vector of one
 * block or less takes it from libsodium (crypto_stream_chacha20_ietf: no
 * cipher context to set up, which is most of a small share's cost); a longer
 * one from OpenSSL's ChaCha20 (the 16-byte IV is the 32-bit block counter,
 * little-endian, then the 96-bit nonce), RFC 8439's same stream at about
 * twice libsodium's speed here (AVX-512).  test_mask checks both against
 * libsodium.
 */
static int
apply(const struct mask_node *m, const char *label, void *v, size_t n, int lanes, char *err)
{
    static const uint8_t zero[MASK_STREAM_BLOCK];
    size_t llen = strnlen(label, MASK_MAX_LABEL + 1);
    if (llen == 0 || llen > MASK_MAX_LABEL)
        return errf(err, "vector label must be 1 .. %d bytes", MASK_MAX_LABEL);
    uint64_t ks[MASK_STREAM_BLOCK / 8];
    uint8_t key[crypto_stream_chacha20_ietf_KEYBYTES], iv[16] = {0},
        nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
    const size_t per = sizeof ks / (8 * (size_t)lanes);    /* elements per block */
    int small = n <= per;
    EVP_CIPHER_CTX *c = small ? NULL : EVP_CIPHER_CTX_new();
    int rc = small || c != NULL ? 0 : errf(err, "out of memory for the mask stream");
    for (size_t p = 0; rc == 0 && p < m->npeers; p++) {
        stream_key(m, p, label, llen, lanes == 1, key);
        if (small) {
            crypto_stream_chacha20_ietf((uint8_t *)ks, n * 8 * (size_t)lanes, nonce, key);
            add_stream(v, 0, n, ks, lanes, m->sign[p]);
            continue;
        }
        if (EVP_EncryptInit_ex(c, EVP_chacha20(), NULL, key, iv) != 1) {
            rc = errf(err, "ChaCha20 is not available (OpenSSL)");
            break;
        }
        for (size_t at = 0; at < n; at += per) {
            size_t k = n - at < per ? n - at : per;
            int len = (int)(k * 8 * (size_t)lanes), out = 0;
            if (EVP_EncryptUpdate(c, (uint8_t *)ks, &out, zero, len) != 1 || out != len) {
                rc = errf(err, "ChaCha20 failed (OpenSSL)");
                break;
            }
            add_stream(v, at, k, ks, lanes, m->sign[p]);
        }
    }
    EVP_CIPHER_CTX_free(c);         /* which cleanses the cipher's state; NULL is a no-op */
    sodium_memzero(key, sizeof key);
    sodium_memzero(ks, sizeof ks);
    return rc;
}

int
mask_apply(const struct mask_node *m, const char *label, mask_elem *v, size_t n, char *err)
{
    return apply(m, label, v, n, 2, err);
}

int
mask_apply_counts(const struct mask_node *m, const char *label, uint64_t *v, size_t n,
    char *err)
{
    return apply(m, label, v, n, 1, err);
}

/* The tag of (from -> to, msg) under their pair's tag key; -1 if either is not a peer pair of m. */
static int
pair_tag(const struct mask_node *m, size_t from, size_t to, const uint8_t *msg, size_t len,
    uint8_t tag[MASK_TAG_LEN])
{
    size_t other = from == m->self ? to : from;
    if ((from != m->self && to != m->self) || other == m->self || other > m->npeers)
        return -1;
    size_t k = other < m->self ? other : other - 1;
    uint32_t dir[2] = {htole32((uint32_t)from), htole32((uint32_t)to)};
    crypto_generichash_state st;
    crypto_generichash_init(&st, m->tagkey[k], sizeof m->tagkey[k], MASK_TAG_LEN);
    crypto_generichash_update(&st, (const uint8_t *)dir, sizeof dir);
    crypto_generichash_update(&st, msg, len);
    crypto_generichash_final(&st, tag, MASK_TAG_LEN);
    return 0;
}

int
mask_tag(const struct mask_node *m, size_t to, const uint8_t *msg, size_t len,
    uint8_t tag[MASK_TAG_LEN])
{
    return pair_tag(m, m->self, to, msg, len, tag);
}

int
mask_tag_check(const struct mask_node *m, size_t from, const uint8_t *msg, size_t len,
    const uint8_t tag[MASK_TAG_LEN])
{
    uint8_t want[MASK_TAG_LEN];
    int rc = from == m->self || pair_tag(m, from, m->self, msg, len, want) != 0 ||
        crypto_verify_16(want, tag) != 0 ? -1 : 0;
    sodium_memzero(want, sizeof want);
    return rc;
}
