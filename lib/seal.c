/*
 * seal - padded boxes between two transport keys; see seal.h.
 */
#include "lib/seal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(SEAL_KEY_LEN == crypto_box_PUBLICKEYBYTES &&
    SEAL_KEY_LEN == crypto_box_SECRETKEYBYTES, "X25519 keys are 32 bytes");
_Static_assert(SEAL_PAIR_LEN == crypto_box_BEFORENMBYTES && SEAL_NONCE_LEN ==
    crypto_box_NONCEBYTES && SEAL_MAC_LEN == crypto_box_MACBYTES, "crypto_box's sizes");

size_t
seal_class(size_t len)
{
    size_t c = SEAL_MIN_CLASS;
    /* Classes 2^k and 3 * 2^(k-1), each the first above len (the pad marker needs a byte). */
    while (c <= len)
        c = (c & (c - 1)) == 0 ? c + c / 2 : c / 3 * 4;
    return c;
}

int
seal_pair_key(const uint8_t sk[SEAL_KEY_LEN], const uint8_t peer[SEAL_KEY_LEN],
    uint8_t key[SEAL_PAIR_LEN], char *err)
{
    if (sodium_init() < 0)
        return errf(err, "libsodium failed to initialise");
    /* crypto_box_beforenm refuses a peer key of low order (an all-zero agreement). */
    if (crypto_box_beforenm(key, peer, sk) != 0)
        return errf(err, "the key agreement failed: not a usable X25519 public key");
    return 0;
}

int
seal_box(const uint8_t pk[SEAL_KEY_LEN], const uint8_t key[SEAL_PAIR_LEN],
    const uint8_t *msg, size_t len, struct buf *out, char *err)
{
    if (sodium_init() < 0)
        return errf(err, "libsodium failed to initialise");
    size_t cls = seal_class(len);
    if (cls > SIZE_MAX - SEAL_OVERHEAD)
        return errf(err, "message of %zu bytes is too large to seal", len);
    uint8_t *box = buf_extend(out, SEAL_OVERHEAD + cls);
    uint8_t *nonce = box + SEAL_KEY_LEN, *body = nonce + SEAL_NONCE_LEN;
    /* Pad in place, after the MAC's room; crypto_box_easy_afternm may work in place. */
    uint8_t *plain = body + SEAL_MAC_LEN;
    memcpy(plain, msg, len);
    size_t padded = 0;
    if (sodium_pad(&padded, plain, len, cls, cls) != 0 || padded != cls) {
        out->len -= SEAL_OVERHEAD + cls;
        return errf(err, "padding failed");
    }
    memcpy(box, pk, SEAL_KEY_LEN);
    randombytes_buf(nonce, SEAL_NONCE_LEN);
    if (crypto_box_easy_afternm(body, plain, cls, nonce, key) != 0) {
        out->len -= SEAL_OVERHEAD + cls;
        return errf(err, "crypto_box_easy_afternm failed");
    }
    return 0;
}

int
seal_sender(const uint8_t *box, size_t len, uint8_t pk[SEAL_KEY_LEN], char *err)
{
    if (len < SEAL_OVERHEAD + SEAL_MIN_CLASS)
        return errf(err, "sealed payload of %zu bytes is shorter than the smallest box (%d)",
            len, SEAL_OVERHEAD + SEAL_MIN_CLASS);
    memcpy(pk, box, SEAL_KEY_LEN);
    return 0;
}

int
seal_open(const uint8_t key[SEAL_PAIR_LEN], const uint8_t *box, size_t len, size_t max,
    struct buf *out, char *err)
{
    if (sodium_init() < 0)
        return errf(err, "libsodium failed to initialise");
    if (len < SEAL_OVERHEAD + SEAL_MIN_CLASS)
        return errf(err, "sealed payload of %zu bytes is shorter than the smallest box (%d)",
            len, SEAL_OVERHEAD + SEAL_MIN_CLASS);
    size_t cls = len - SEAL_OVERHEAD;
    if (cls > max + max / 2 + SEAL_MIN_CLASS)
        return errf(err, "sealed payload of %zu bytes is larger than a %zu-byte message "
            "can need", len, max);
    const uint8_t *nonce = box + SEAL_KEY_LEN, *body = nonce + SEAL_NONCE_LEN;
    uint8_t *plain = xmalloc(cls);
    if (crypto_box_open_easy_afternm(plain, body, cls + SEAL_MAC_LEN, nonce, key) != 0) {
        free(plain);
        return errf(err, "sealed payload does not open: altered in transit, or sealed "
            "between other keys");
    }
    size_t n = 0;
    if (sodium_unpad(&n, plain, cls, cls) != 0 || seal_class(n) != cls) {
        sodium_memzero(plain, cls);
        free(plain);
        return errf(err, "sealed payload is padded wrongly");
    }
    if (n > max) {
        sodium_memzero(plain, cls);
        free(plain);
        return errf(err, "sealed message of %zu bytes is larger than the %zu-byte limit", n,
            max);
    }
    buf_append(out, plain, n);
    sodium_memzero(plain, cls);
    free(plain);
    return 0;
}
