/*
 * federation - the statistician's list of nodes.
 *
 * The federation file is "key = value" lines (lib/kv.h):
 *     ca_cert = ca/ca.crt            federation CA (optional but recommended)
 *     crl     = ca/crl.pem           CRL to check node certificates (optional)
 *     node    = NAME ENDPOINT CERT   one line per node
 *     hub     = ENDPOINT CERT        the federation's hub (at most one line)
 *     node    = NAME hub CERT        a node behind the hub (the literal word hub)
 * Relative paths are relative to the file.  With ca_cert, a response is
 * accepted from any certificate of the CA with role node and that NAME (so
 * nodes can renew certificates); without it, only from the exact CERT listed.
 * The node's transport key is always taken from CERT: through a hub it is the
 * key the query is sealed to (proto/DESIGN.md "Through a hub").
 *
 * The hub's certificate is checked when the file is loaded: role hub, and with
 * ca_cert its chain, validity and (with crl) revocation, so a revoked hub is
 * refused before anything is sent; its transport key is pinned from it.  The
 * hub can neither read nor forge: what it relays is sealed and signed end to
 * end, so a node behind it is verified exactly as a direct one.
 */
#ifndef FEDERATION_H
#define FEDERATION_H

#include <stddef.h>
#include <stdint.h>

#include "certs/pki.h"

#define FED_MAX_NODES 256               /* nodes in one federation (WIRE_MAX_AUDIENCE) */
#define FED_MAX_ENDPOINT 256
#define FED_HUB_ENDPOINT "hub"          /* node line endpoint: the node is behind the hub */

struct fed_node {
    char *name;                     /* as in the node's certificate */
    char *endpoint;                 /* ZeroMQ endpoint */
    char *cert_path;
    struct pki_cert *cert;          /* pinned certificate */
    uint8_t curve_key[PKI_CURVE_KEY_LEN];   /* server key, from the certificate */
    int via_hub;                    /* endpoint FED_HUB_ENDPOINT: reached through f->hub */
};

/* The federation's hub (the hub line). */
struct fed_hub {
    char *name;                     /* from its certificate: routes name it */
    char *endpoint;
    char *cert_path;
    struct pki_cert *cert;
    uint8_t curve_key[PKI_CURVE_KEY_LEN];   /* CURVE server key, from the certificate */
};

struct federation {
    char *path;
    struct fed_node *nodes;
    size_t nnodes;
    struct fed_hub *hub;            /* NULL without a hub line */
    int pooled;                     /* pooled = yes: --pooled by default (coord/pooled.h) */
    struct pki_trust *trust;        /* NULL without ca_cert */
    int64_t verify_at;              /* certificates are checked at this Unix time; 0 = now
                                       (fedra verify: when the query was signed) */
};

int federation_load(const char *path, struct federation *f, char *err);
void federation_release(struct federation *f);
/* The node called name, or NULL. */
const struct fed_node *federation_find(const struct federation *f, const char *name);
/* How many of f's nodes are behind the hub. */
size_t federation_hub_nodes(const struct federation *f);

#endif /* !FEDERATION_H */
