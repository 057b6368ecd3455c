/*
 * certcache - see certcache.h.
 *
 * A small array searched linearly: a federation has a handful of analysts,
 * and comparing 64 hashes costs less than one SHA-256 of the certificate.
 */
#include "node/certcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct entry {
    uint8_t hash[32];               /* SHA-256 of the DER bytes */
    struct pki_cert *cert;          /* NULL: free slot */
    enum pki_role role;             /* the role it was verified for */
    int64_t from_s, until_s;        /* the verdict holds for from_s <= now < until_s */
    uint64_t stamp;                 /* insertion order, for eviction */
};

struct certcache {
    const struct pki_trust *trust;  /* what the entries were verified against */
    int64_t crl_number;             /* ... and its CRL number */
    struct entry e[CERTCACHE_MAX];
    uint64_t clock;
};

struct certcache *
certcache_new(void)
{
    return xcalloc(1, sizeof(struct certcache));
}

static void
drop(struct entry *x)
{
    pki_cert_free(x->cert);
    memset(x, 0, sizeof *x);
}

void
certcache_clear(struct certcache *cc)
{
    for (size_t i = 0; i < CERTCACHE_MAX; i++)
        drop(&cc->e[i]);
    cc->trust = NULL;
}

void
certcache_free(struct certcache *cc)
{
    if (cc == NULL)
        return;
    certcache_clear(cc);
    free(cc);
}

size_t
certcache_size(const struct certcache *cc)
{
    size_t n = 0;
    for (size_t i = 0; i < CERTCACHE_MAX; i++)
        n += cc->e[i].cert != NULL;
    return n;
}

/* A free slot, else the oldest entry (dropped). */
static struct entry *
slot(struct certcache *cc)
{
    struct entry *old = &cc->e[0];
    for (size_t i = 0; i < CERTCACHE_MAX; i++) {
        if (cc->e[i].cert == NULL)
            return &cc->e[i];
        if (cc->e[i].stamp < old->stamp)
            old = &cc->e[i];
    }
    drop(old);
    return old;
}

int
certcache_verify(struct certcache *cc, const struct pki_trust *t, const uint8_t *der,
    size_t len, const uint8_t *const *chain, const size_t *chainlen, size_t nchain,
    enum pki_role want, int64_t now_s, const struct pki_cert **out,
    char claimed[PKI_MAX_NAME + 1], char *err)
{
    uint8_t h[32];
    *out = NULL;
    claimed[0] = 0;
    int64_t crl = pki_trust_crl_number(t);
    if (cc->trust != t || cc->crl_number != crl)
        certcache_clear(cc);
    cc->trust = t;
    cc->crl_number = crl;
    if (nchain > PKI_MAX_CHAIN) {   /* refused as pki_cert_set_chain refuses it; chain[] holds no more */
        errf(err, "certificate chain holds %zu CA certificates, more than the limit of %d",
            nchain, PKI_MAX_CHAIN);
        return CERTCACHE_BAD_CHAIN;
    }
    pki_sha256(der, len, h);
    for (size_t i = 0; i < nchain; i++)
        pki_sha256_2(h, sizeof h, chain[i], chainlen[i], h);
    for (size_t i = 0; i < CERTCACHE_MAX; i++) {
        struct entry *x = &cc->e[i];
        if (x->cert == NULL || memcmp(x->hash, h, sizeof h) != 0)
            continue;
        if (x->role == want && now_s >= x->from_s && now_s < x->until_s) {
            *out = x->cert;
            return PKI_OK;
        }
        drop(x);                    /* out of its window: verify afresh below */
        break;
    }
    struct pki_cert *c;
    if (pki_cert_from_der(der, len, &c, err) != 0)
        return CERTCACHE_UNREADABLE;
    if (nchain > 0 && pki_cert_set_chain(c, chain, chainlen, nchain, err) != 0) {
        pki_cert_free(c);
        return CERTCACHE_BAD_CHAIN;
    }
    const char *nm = pki_cert_name(c) ? pki_cert_name(c) : pki_cert_subject_cn(c);
    snprintf(claimed, PKI_MAX_NAME + 1, "%s", nm ? nm : "");
    /* Verified "now" exactly as without the cache; now_s only dates the entry. */
    int v = pki_verify(t, c, want, 0, err);
    if (v != PKI_OK) {
        pki_cert_free(c);
        return v;
    }
    struct entry *x = slot(cc);
    memcpy(x->hash, h, sizeof h);
    x->cert = c;
    x->role = want;
    x->from_s = pki_cert_not_before(c);
    x->until_s = pki_cert_not_after(c);
    int64_t next = pki_trust_crl_next_update(t);
    if (next >= 0 && next < x->until_s)
        x->until_s = next;
    x->stamp = ++cc->clock;
    *out = c;
    return PKI_OK;
}
