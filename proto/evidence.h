/*
 * evidence - signed answers read after the fact: the shape of a bundle file
 * (coord/bundle.h: one JSON object written by `fedra --bundle`) and the
 * checks that bind a node's signed response envelope to its signer and to
 * the query it answers.
 *
 * Shared by the coordinator, which verifies answers as they arrive and
 * re-checks bundles (`fedra verify`, coord/client.c, coord/bundle.c), and by
 * the node, whose `fedra-node audit verify` reads bundles as witnesses of its
 * audit log (node/witness.h).  The two programs never include each other's
 * code; what both need about signed answers lives here, below them.
 */
#ifndef EVIDENCE_H
#define EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "certs/pki.h"
#include "lib/util.h"
#include "proto/wire.h"

#define EVIDENCE_BUNDLE_VERSION 1
#define EVIDENCE_MAX_BUNDLE_BYTES (512u << 20)  /* largest bundle file read */
#define EVIDENCE_MAX_ROUNDS 1100                /* a model's rounds, with room for restarts */
#define EVIDENCE_MAX_NODES WIRE_MAX_AUDIENCE     /* nodes named in one bundle (FED_MAX_NODES) */

/*
 * Load the bundle at path and check its shape: version, a non-empty command,
 * 1 .. EVIDENCE_MAX_NODES node names, at most EVIDENCE_MAX_ROUNDS rounds.
 * *root is the parsed file (json_decref).  Nothing is verified yet.
 */
int evidence_load(const char *path, json_t **root, char *err);

/* The hex string o[key] as at most max bytes, into out (replaced); -1 if missing or malformed. */
int evidence_hex(json_t *o, const char *key, size_t max, struct buf *out);

/* The envelope's signer certificate with the chain it carries (pki_cert_free). */
int evidence_signer(const Fedra__Envelope *env, struct pki_cert **out, char *err);

/*
 * The rest of a response's checks once its signer certificate is accepted:
 * the signature over the body, the body decodes, it names node, and it answers
 * the query whose hash is qhash.  *out: the body (wire_response_free).
 */
int evidence_response(const Fedra__Envelope *env, const struct pki_cert *signer,
    const char *node, const uint8_t qhash[WIRE_HASH_LEN], Fedra__ResponseBody **out,
    char *err);

/*
 * Sign body with key as the holder of cert and append the Envelope (version,
 * body, signature, cert and its chain) to out.  -1 only if signing fails.
 */
int evidence_sign(const struct pki_cert *cert, const struct pki_key *key, const uint8_t *body,
    size_t len, struct buf *out);

#endif /* !EVIDENCE_H */
