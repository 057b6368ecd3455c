/*
 * pki - the federation's X.509 PKI on OpenSSL 3: certificates, keys, trust
 * anchors with CRLs, roles, and Ed25519 signatures.
 *
 * Identity and role live in the certificate, set only by the CA:
 *  - role: a critical extendedKeyUsage holding exactly one private role OID
 *    (PKI_OID_ROLE_NODE or PKI_OID_ROLE_ANALYST); anyExtendedKeyUsage is
 *    refused, so a node certificate can never pass as an analyst;
 *  - name: exactly one SAN URI "urn:fedra:<role>:<NAME>";
 *  - node transport key: the 32-byte CurveZMQ public key in the non-critical
 *    private extension PKI_OID_CURVE_KEY (an OCTET STRING).
 * The node's Curve secret is derived from its Ed25519 key with HKDF-SHA256
 * (info "fedra/curve-key/v1"): one key file, two independent keys, no
 * Ed25519->X25519 conversion.
 *
 * Never prints.  Verification outcomes carry a one-line cause in err naming
 * the certificate, the field and the time.
 */
#ifndef PKI_H
#define PKI_H

#include <stddef.h>
#include <stdint.h>

/* Our own arc under 2.25 (X.667 UUID OID). */
#define PKI_OID_ARC          "2.25.32931296437746250958793479766646300216"
#define PKI_OID_ROLE_NODE    PKI_OID_ARC ".1.1"
#define PKI_OID_ROLE_ANALYST PKI_OID_ARC ".1.2"
#define PKI_OID_ROLE_HUB     PKI_OID_ARC ".1.3"
#define PKI_OID_CURVE_KEY    PKI_OID_ARC ".2.1"
#define PKI_URI_PREFIX       "urn:fedra:"

#define PKI_MAX_NAME 64             /* NAME in the SAN URI: [A-Za-z0-9._-]{1,64} */
#define PKI_MAX_CERT_DER 8192       /* largest certificate accepted from the wire */
#define PKI_MAX_FILE (1u << 20)     /* largest PEM/DER file read (cert, key, CRL) */
#define PKI_MAX_CHAIN 2             /* CA certificates carried after a leaf (its issuing CAs) */
#define PKI_SIG_LEN 64              /* Ed25519 */
#define PKI_CURVE_KEY_LEN 32

enum pki_role {
    PKI_ROLE_NONE = 0,              /* no valid role extension */
    PKI_ROLE_NODE = 1,
    PKI_ROLE_ANALYST = 2,
    PKI_ROLE_HUB = 3                /* the federation's relay (fedra-hub): signs no query or answer */
};

/* Outcome of pki_verify(); 0 is success. */
enum pki_verdict {
    PKI_OK = 0,
    PKI_EXPIRED,                    /* notAfter is in the past */
    PKI_NOT_YET_VALID,
    PKI_REVOKED,
    PKI_UNKNOWN_CA,                 /* does not chain to the federation CA */
    PKI_BAD_ROLE,                   /* role missing or not the one required */
    PKI_NO_CRL,                     /* CRL checking is on and no CRL for an issuer */
    PKI_CRL_EXPIRED,                /* CRL past nextUpdate: fail closed */
    PKI_INVALID                     /* anything else (bad signature, malformed, ...) */
};

struct pki_cert;                    /* a parsed certificate (opaque) */
struct pki_key;                     /* a private key (opaque) */
struct pki_trust;                   /* CA certificates + CRLs, ready to verify against */

const char *pki_role_name(enum pki_role r);          /* "node", "analyst", "hub", "none" */
enum pki_role pki_role_parse(const char *s);         /* PKI_ROLE_NONE if unknown */
const char *pki_verdict_name(enum pki_verdict v);    /* "expired", "revoked", ... */
/* 1 if name matches [A-Za-z0-9._-]{1,PKI_MAX_NAME}, else 0. */
int pki_name_valid(const char *name);
/* Unix seconds as ISO-8601 UTC "2026-01-01T00:00:00Z", as in pki_verify's messages. */
#define PKI_TIME_LEN 32
void pki_format_time(int64_t t, char out[PKI_TIME_LEN]);

/*
 * Certificates: PEM or DER file, or DER bytes (at most PKI_MAX_CERT_DER).
 * A PEM file may hold the leaf followed by up to PKI_MAX_CHAIN CA
 * certificates (its issuing CA, as `fedra-cert issue` writes under an
 * issuing CA): they become the leaf's chain, used to build the path to a
 * root and never trusted by themselves.
 */
int pki_cert_load(const char *path, struct pki_cert **out, char *err);
int pki_cert_from_der(const uint8_t *der, size_t len, struct pki_cert **out, char *err);
void pki_cert_free(struct pki_cert *c);
/* DER encoding (borrowed; valid while c lives). */
const uint8_t *pki_cert_der(const struct pki_cert *c, size_t *len);
/*
 * The chain: replace c's chain with n (at most PKI_MAX_CHAIN) DER
 * certificates, each at most PKI_MAX_CERT_DER bytes of canonical DER and
 * each a CA certificate; on error c keeps its old chain.
 */
int pki_cert_set_chain(struct pki_cert *c, const uint8_t *const *der, const size_t *len,
    size_t n, char *err);
size_t pki_cert_chain_count(const struct pki_cert *c);
/* DER of chain certificate i (borrowed). */
const uint8_t *pki_cert_chain_der(const struct pki_cert *c, size_t i, size_t *len);
/* SHA-256 of the DER encoding. */
void pki_cert_fingerprint(const struct pki_cert *c, uint8_t out[32]);
/* Role from the critical EKU, after the keyUsage/CA:FALSE checks; NONE if absent or malformed. */
enum pki_role pki_cert_role(const struct pki_cert *c);
/* NAME from the SAN URI urn:fedra:<role>:<NAME>; NULL if absent or malformed (borrowed). */
const char *pki_cert_name(const struct pki_cert *c);
/* Subject CN for messages (borrowed; "?" if none). */
const char *pki_cert_subject_cn(const struct pki_cert *c);
/* Serial as uppercase hex (borrowed). */
const char *pki_cert_serial_hex(const struct pki_cert *c);
/* Validity as Unix seconds. */
int64_t pki_cert_not_before(const struct pki_cert *c);
int64_t pki_cert_not_after(const struct pki_cert *c);
/* The bound CurveZMQ public key; -1 if absent, duplicated or not exactly 32 bytes. */
int pki_cert_curve_key(const struct pki_cert *c, uint8_t out[PKI_CURVE_KEY_LEN]);

/*
 * Private keys.  pki_key_load refuses a file that group or others can read
 * (mode & 077), naming the file and its mode, and refuses non-Ed25519 keys.
 */
int pki_key_load(const char *path, struct pki_key **out, char *err);
void pki_key_free(struct pki_key *k);
/* 1 if k is the private key of c's public key, else 0. */
int pki_key_matches_cert(const struct pki_key *k, const struct pki_cert *c);
/* The CurveZMQ secret key derived from k (HKDF-SHA256, see above) and its public key. */
int pki_key_curve_secret(const struct pki_key *k, uint8_t secret[PKI_CURVE_KEY_LEN]);
int pki_curve_public(const uint8_t secret[PKI_CURVE_KEY_LEN], uint8_t pub[PKI_CURVE_KEY_LEN]);

/* Ed25519 over the exact bytes; 0 on success. */
int pki_sign(const struct pki_key *k, const uint8_t *msg, size_t len,
    uint8_t sig[PKI_SIG_LEN]);
/* 0 if sig is a valid signature by c's key over msg, else -1. */
int pki_check_sig(const struct pki_cert *c, const uint8_t *msg, size_t len,
    const uint8_t *sig, size_t siglen);

void pki_sha256(const void *data, size_t len, uint8_t out[32]);
/* SHA-256 of a || b without concatenating. */
void pki_sha256_2(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32]);

/*
 * Trust: ca_file holds one or more PEM CA certificates (the self-signed root
 * first or not; intermediates may follow).  crl_file (may be NULL) holds one or
 * more PEM or DER CRLs.  With require_crl, every certificate checked must be
 * covered by a current CRL of its issuer (fail closed): under an issuing CA
 * that is the issuing CA's CRL for the leaf and the root's CRL for the
 * issuing CA (X509_V_FLAG_CRL_CHECK_ALL).
 *
 * Every CRL must be signed by a CA of ca_file, or by an issuing CA whose
 * certificate, signed by a CA of ca_file, is in crl_file too (`fedra-cert
 * crl` on an issuing CA writes its CRL followed by its certificate).  A CRL
 * from anyone else is refused at load time: it is a configuration error.
 */
int pki_trust_load(const char *ca_file, const char *crl_file, int require_crl,
    struct pki_trust **out, char *err);
void pki_trust_free(struct pki_trust *t);
/*
 * Certificates that expire within `within` seconds of `at` (0 = now): c
 * itself, the CA certificates of its chain, and the roots of t; earliest
 * first.  Each gets a one-line label such as "certificate 'DE' (serial 5A..)"
 * or "CA certificate 'fedra CA' (serial 11..)".  Returns how many were written
 * (at most max).  c may be NULL (the roots only).
 */
#define PKI_LABEL_LEN 256
struct pki_expiry {
    int64_t not_after;
    char label[PKI_LABEL_LEN];
};
size_t pki_expiring(const struct pki_trust *t, const struct pki_cert *c, int64_t at,
    int64_t within, struct pki_expiry *out, size_t max);

/* CRL number and nextUpdate of the newest CRL held, for status and reload logic (-1 if none). */
int64_t pki_trust_crl_number(const struct pki_trust *t);
int64_t pki_trust_crl_next_update(const struct pki_trust *t);
int64_t pki_trust_crl_last_update(const struct pki_trust *t);   /* its lastUpdate (thisUpdate) */

/*
 * Verify c against t at Unix time `at` (0 = now): chain to a CA in t, validity,
 * CRL, and that its role is `want` (PKI_ROLE_NONE = any role).  Returns a
 * pki_verdict; on failure err says which certificate and why, e.g.
 *   certificate 'alice' (serial 5A3F..) expired at 2026-01-01T00:00:00Z
 *   certificate 'alice' (serial 5A3F..) was revoked at 2026-11-20T10:00:00Z
 *   certificate 'DE' (serial 11..) has role node, but analyst is required
 *   certificate 'mallory' (serial 22..) was not issued by the federation CA ...
 *   certificate 'alice' (serial 5A3F..): its issuing CA 'Issuing CA' (serial
 *     7B..) was revoked at 2026-11-20T10:00:00Z (reason keyCompromise)
 * The chain comes from t (intermediates in ca_file) and from c's own chain.
 */
int pki_verify(const struct pki_trust *t, const struct pki_cert *c,
    enum pki_role want, int64_t at, char *err);

#endif /* !PKI_H */
