/*
 * seal - anonymous public-key boxes with size padding, for payloads that
 * cross the hub (proto/DESIGN.md "Through a hub").
 *
 * A sealed payload is crypto_box_seal (libsodium: an ephemeral X25519 key,
 * XSalsa20-Poly1305) over the message padded (ISO/IEC 7816-4, sodium_pad) to
 * its size class, so that whoever carries it learns only the class, never
 * the contents.  Only the holder of the recipient's secret key can open it;
 * anyone can seal, so a sealed box proves nothing about its sender: what
 * travels inside is an Envelope signed end to end.
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
#define SEAL_OVERHEAD 48            /* crypto_box_SEALBYTES */
#define SEAL_MIN_CLASS 1024         /* smallest padded size */

/* The padded size of a message of len bytes (> len: the pad marker takes one). */
size_t seal_class(size_t len);
/* Append the sealed box of msg to out: seal_class(len) + SEAL_OVERHEAD bytes. */
int seal_box(const uint8_t pk[SEAL_KEY_LEN], const uint8_t *msg, size_t len, struct buf *out,
    char *err);
/*
 * Open a box sealed to (pk, sk) and remove the padding; the message, at most
 * max bytes, is appended to out.  Fails, saying why, on a box that is too
 * short, does not open (altered, or sealed to another key), or is padded
 * wrongly.
 */
int seal_open(const uint8_t pk[SEAL_KEY_LEN], const uint8_t sk[SEAL_KEY_LEN],
    const uint8_t *box, size_t len, size_t max, struct buf *out, char *err);

#endif /* !SEAL_H */
