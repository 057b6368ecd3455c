/*
 * certcache - analyst certificates verified once, not once per query.
 *
 * Parsing a certificate from DER and verifying its chain, CRL status and role
 * costs about as much as the query signature check itself (performance.md
 * B2: 0.13-0.23 ms); an analyst sends the same certificate with every query.
 * The cache keeps certificates that passed pki_verify(), keyed by the SHA-256
 * of their DER bytes and of the CA certificates sent with them (the chain),
 * so the next query with the same bytes skips both.
 *
 * Only successes are cached: a refused certificate is parsed and verified
 * again each time (so junk cannot fill the cache and the refusal reason is
 * always current).  An entry is used only inside the window in which the
 * verdict it records still holds: not before the certificate's notBefore,
 * and before the earlier of its notAfter and the CRL's nextUpdate.  Anything
 * that changes the trust (CA or CRL reload on SIGHUP) must call
 * certcache_clear(); the cache also empties itself when asked about a trust
 * object, or a CRL number, other than the one its entries were verified
 * against.
 */
#ifndef CERTCACHE_H
#define CERTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "certs/pki.h"

#define CERTCACHE_MAX 64            /* distinct certificates kept; oldest evicted */

/* Outcome: a pki_verdict (PKI_OK = verified), or one of these. */
#define CERTCACHE_UNREADABLE (-1)   /* the certificate itself does not parse */
#define CERTCACHE_BAD_CHAIN (-2)    /* the CA certificates sent with it do not */

struct certcache;

struct certcache *certcache_new(void);
void certcache_free(struct certcache *cc);
/* Forget every entry: call whenever the CA or CRL changes. */
void certcache_clear(struct certcache *cc);
/* Entries held (for tests and status). */
size_t certcache_size(const struct certcache *cc);

/*
 * The certificate in der, with the nchain CA certificates chain[] (at most
 * PKI_MAX_CHAIN, as pki_cert_set_chain takes them), verified against t for
 * role `want` now (now_s dates the cache entry).  PKI_OK: *out is the verified
 * certificate, owned by the cache and valid until the next call on cc.
 * Otherwise *out is NULL, err says why, and claimed (PKI_MAX_NAME + 1 bytes)
 * holds the name the certificate claims (SAN name, else subject CN; "" if it
 * or its chain is unreadable).
 */
int certcache_verify(struct certcache *cc, const struct pki_trust *t, const uint8_t *der,
    size_t len, const uint8_t *const *chain, const size_t *chainlen, size_t nchain,
    enum pki_role want, int64_t now_s, const struct pki_cert **out,
    char claimed[PKI_MAX_NAME + 1], char *err);

#endif /* !CERTCACHE_H */
