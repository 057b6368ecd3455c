/*
 * seal - padded boxes between two transport keys, for payloads that cross
 * the hub (proto/DESIGN.md "Through a hub").
 *
 * A box is libsodium's crypto_box (X25519, XSalsa20-Poly1305) between the
 * sender's and the recipient's long-term transport keys, the ones their
 * certificates bind, over the message padded (ISO/IEC 7816-4, sodium_pad) to
 * its size class, so that whoever carries it learns only the class, never
 * the contents.  On the wire:
 *
 *     sender's public key (32) | nonce (24, random) | MAC (16) | padded message
 *
 * Only the two key holders can make or open a box, and the X25519 agreement
 * between them is the one expensive step: each side derives the pair's key
 * once (seal_pair_key, crypto_box_beforenm) and keeps it, so a box costs a
 * stream cipher and a MAC, not two scalar multiplications as an anonymous
 * sealed box (crypto_box_seal) did.  Nonces are random: 192 bits never
 * repeat in practice.  The sender's key travels in clear so that the
 * recipient can pick the pair key; the hub that carries the box already
 * knows who sent it.  What travels inside is an Envelope signed end to end:
 * the box keeps it secret, the signature says who wrote it.
 *
 * Size classes: 1 KiB, then every power of two and one and a half times it
 * (1.5, 2, 3, 4, 6, 8 KiB ...), so padding costs at most a third.
 */
#ifndef SEAL_H
#define SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

#define SEAL_KEY_LEN 32             /* X25519 public and secret keys (CurveZMQ keys) */
#define SEAL_PAIR_LEN 32            /* crypto_box_BEFORENMBYTES: a pair's derived key */
#define SEAL_NONCE_LEN 24           /* crypto_box_NONCEBYTES */
#define SEAL_MAC_LEN 16             /* crypto_box_MACBYTES */
#define SEAL_OVERHEAD (SEAL_KEY_LEN + SEAL_NONCE_LEN + SEAL_MAC_LEN)
#define SEAL_MIN_CLASS 1024         /* smallest padded size */

/* The padded size of a message of len bytes (> len: the pad marker takes one). */
size_t seal_class(size_t len);
/*
 * The key of the pair (sk's holder, peer): the same from either side.  -1
 * with err for a peer key of low order (the agreement would be predictable).
 */
int seal_pair_key(const uint8_t sk[SEAL_KEY_LEN], const uint8_t peer[SEAL_KEY_LEN],
    uint8_t key[SEAL_PAIR_LEN], char *err);
/*
 * Append to out the box of msg from the holder of pk (the sender's public
 * key, written in clear) under the pair key: seal_class(len) + SEAL_OVERHEAD
 * bytes.
 */
int seal_box(const uint8_t pk[SEAL_KEY_LEN], const uint8_t key[SEAL_PAIR_LEN],
    const uint8_t *msg, size_t len, struct buf *out, char *err);
/* The sender's public key written in a box; -1 with err if it is too short. */
int seal_sender(const uint8_t *box, size_t len, uint8_t pk[SEAL_KEY_LEN], char *err);
/*
 * Open a box under the pair key and remove the padding; the message, at
 * most max bytes, is appended to out.  Fails, saying why, on a box that is
 * too short, does not open (altered, or made under another pair's key), or
 * is padded wrongly.
 */
int seal_open(const uint8_t key[SEAL_PAIR_LEN], const uint8_t *box, size_t len, size_t max,
    struct buf *out, char *err);

#endif /* !SEAL_H */
