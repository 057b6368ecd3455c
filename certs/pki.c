/*
 * pki - see pki.h.
 *
 * Everything here is a thin, strict layer over OpenSSL 3: a certificate is
 * parsed once and its role, name, CN and serial are computed at load time,
 * so the accessors are cheap and never fail.  Verification is OpenSSL's
 * X509_verify_cert() with X509_STRICT and full CRL checking; a verify
 * callback records the first error together with the certificate and CRL
 * involved, which is what lets the error line name the exact cause.  The role
 * check runs after the chain check and is entirely ours: OpenSSL knows
 * nothing about private EKU OIDs.
 *
 * No state outside the objects: a pki_trust is read-only after
 * pki_trust_load(), so one may be shared between threads.
 */
#include "certs/pki.h"
#include "certs/pki_int.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sodium.h>

/* CVE-2023-0286 (X.400 GeneralName confusion under CRL checking) is fixed in 3.0.8. */
#if OPENSSL_VERSION_NUMBER < 0x30000080L
#error "OpenSSL 3.0.8 or later is required"
#endif

#define CURVE_INFO "fedra/curve-key/v1"
#define LABEL_MAX (PKI_MAX_NAME + 64)   /* CN or NAME quoted in messages */
#define SERIAL_HEX_MAX 66               /* 32 serial octets (RFC 5280 max 20) */

struct pki_cert {
    X509 *x;
    uint8_t *der;
    size_t derlen;
    enum pki_role role;
    int has_name;
    char name[PKI_MAX_NAME + 1];
    char cn[LABEL_MAX];
    char serial[SERIAL_HEX_MAX + 1];
    size_t nchain;                  /* issuing CAs carried with the leaf */
    X509 *chain[PKI_MAX_CHAIN];
    uint8_t *chain_der[PKI_MAX_CHAIN];
    size_t chain_len[PKI_MAX_CHAIN];
    int has_ed_pub;                 /* an Ed25519 key: ed_pub holds it raw */
    uint8_t ed_pub[crypto_sign_PUBLICKEYBYTES];
    int has_curve;                  /* the transport key it binds, read once (curve_key_of) */
    uint8_t curve[PKI_CURVE_KEY_LEN];
};

static int curve_key_of(X509 *x, uint8_t out[PKI_CURVE_KEY_LEN]);

/*
 * Signatures are made and checked with libsodium, which libzmq already links:
 * its Ed25519 signs 2.6x and verifies 2.1x faster than OpenSSL 3.0's EVP path
 * (performance.md B2), and Ed25519 being deterministic (RFC 8032), the
 * signatures are byte for byte OpenSSL's.  OpenSSL keeps keys, certificates,
 * chains and CRLs.  The libsodium form of the key (seed and public key) is
 * derived once when the key is loaded and wiped when it is freed.
 */
struct pki_key {
    EVP_PKEY *pkey;
    uint8_t ed_sk[crypto_sign_SECRETKEYBYTES];
};

/* The key's libsodium secret key from its raw seed; -1 if it has none. */
static int
key_sodium(struct pki_key *k)
{
    uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    size_t len = sizeof seed;
    int ok = sodium_init() >= 0 &&
        EVP_PKEY_get_raw_private_key(k->pkey, seed, &len) == 1 && len == sizeof seed &&
        crypto_sign_seed_keypair(pk, k->ed_sk, seed) == 0;
    OPENSSL_cleanse(seed, sizeof seed);
    ERR_clear_error();
    return ok ? 0 : -1;
}

struct pki_trust {
    X509_STORE *store;              /* self-signed roots and the chosen CRLs */
    STACK_OF(X509) *untrusted;      /* intermediates: never anchors */
    char ca_cn[LABEL_MAX];          /* CN of the first root, for messages */
    int require_crl;
    int have_crl;
    int64_t crl_number;
    int64_t crl_next_update;
    int64_t crl_last_update;
};

/* ---- small helpers ---------------------------------------------------- */

const char *
pki_role_name(enum pki_role r)
{
    switch (r) {
    case PKI_ROLE_NODE:
        return "node";
    case PKI_ROLE_ANALYST:
        return "analyst";
    case PKI_ROLE_HUB:
        return "hub";
    case PKI_ROLE_NONE:
        break;
    }
    return "none";
}

enum pki_role
pki_role_parse(const char *s)
{
    if (s == NULL)
        return PKI_ROLE_NONE;
    if (strcmp(s, "node") == 0)
        return PKI_ROLE_NODE;
    if (strcmp(s, "analyst") == 0)
        return PKI_ROLE_ANALYST;
    if (strcmp(s, "hub") == 0)
        return PKI_ROLE_HUB;
    return PKI_ROLE_NONE;
}

const char *
pki_verdict_name(enum pki_verdict v)
{
    switch (v) {
    case PKI_OK:
        return "ok";
    case PKI_EXPIRED:
        return "expired";
    case PKI_NOT_YET_VALID:
        return "not yet valid";
    case PKI_REVOKED:
        return "revoked";
    case PKI_UNKNOWN_CA:
        return "unknown CA";
    case PKI_BAD_ROLE:
        return "wrong role";
    case PKI_NO_CRL:
        return "no CRL";
    case PKI_CRL_EXPIRED:
        return "CRL expired";
    case PKI_INVALID:
        break;
    }
    return "invalid";
}

int
pki_name_valid(const char *s)
{
    size_t n = 0;
    if (s == NULL)
        return 0;
    for (; s[n] != 0; n++) {
        char ch = s[n];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
            (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok || n >= PKI_MAX_NAME)
            return 0;
    }
    return n >= 1;
}

/* See pki_int.h. */
const char *
pki_ossl_reason(char *out, size_t n)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0)
        snprintf(out, n, "unknown error");
    else
        ERR_error_string_n(e, out, n);
    ERR_clear_error();
    return out;
}

int64_t
pki_asn1_time_unix(const ASN1_TIME *t)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

void
pki_format_time(int64_t t, char out[PKI_TIME_LEN])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(out, PKI_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, PKI_TIME_LEN, "@%lld", (long long)t);
}

/* Uppercase hex of a serial (at least two digits, as openssl writes it). */
static void
serial_hex(const ASN1_INTEGER *ai, char out[SERIAL_HEX_MAX + 1])
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
    char *h = bn ? BN_bn2hex(bn) : NULL;
    if (h == NULL)
        snprintf(out, SERIAL_HEX_MAX + 1, "?");
    else if (strlen(h) > SERIAL_HEX_MAX)
        snprintf(out, SERIAL_HEX_MAX + 1, "%.*s..", SERIAL_HEX_MAX - 2, h);
    else if (strcmp(h, "0") == 0)
        snprintf(out, SERIAL_HEX_MAX + 1, "00");
    else
        snprintf(out, SERIAL_HEX_MAX + 1, "%s", h);
    OPENSSL_free(h);
    BN_free(bn);
}

/* The last CN of a name, or "?". */
static void
name_cn(const X509_NAME *nm, char *out, size_t n)
{
    int i = nm ? X509_NAME_get_index_by_NID(nm, NID_commonName, -1) : -1, last = -1;
    while (i >= 0) {
        last = i;
        i = X509_NAME_get_index_by_NID(nm, NID_commonName, i);
    }
    snprintf(out, n, "?");
    if (last < 0)
        return;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, last));
    unsigned char *u = NULL;
    int len = ASN1_STRING_to_UTF8(&u, s);
    if (len < 0)
        return;
    /* Printable ASCII only: names end up in one-line messages and logs. */
    size_t j = 0;
    for (int k = 0; k < len && j + 1 < n; k++)
        out[j++] = (u[k] >= 0x20 && u[k] < 0x7f) ? (char)u[k] : '?';
    out[j] = 0;
    OPENSSL_free(u);
}

static int
is_pem(const uint8_t *p, size_t n)
{
    return memmem(p, n, "-----BEGIN", 10) != NULL;
}

/* ---- roles and names -------------------------------------------------- */

/*
 * Role: keyUsage present with digitalSignature and without the CA bits, not
 * a CA, and a critical EKU holding exactly one OID that is a role OID.
 * X509_get_key_usage() returns UINT32_MAX when keyUsage is absent, hence the
 * EXFLAG checks first.
 */
static enum pki_role
compute_role(X509 *x)
{
    uint32_t xf = X509_get_extension_flags(x);
    enum pki_role role = PKI_ROLE_NONE;
    if (xf & EXFLAG_INVALID)
        return PKI_ROLE_NONE;
    if (!(xf & EXFLAG_KUSAGE))
        return PKI_ROLE_NONE;
    uint32_t ku = X509_get_key_usage(x);
    if (!(ku & KU_DIGITAL_SIGNATURE) || (ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)))
        return PKI_ROLE_NONE;
    /* X509_check_ca() says 0 for CA:TRUE without keyCertSign: check the flag too. */
    if ((xf & EXFLAG_CA) || X509_check_ca(x) != 0)
        return PKI_ROLE_NONE;
    if (!(xf & EXFLAG_XKUSAGE) || (X509_get_extended_key_usage(x) & XKU_ANYEKU))
        return PKI_ROLE_NONE;
    int crit = 0;
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
    ASN1_OBJECT *node = OBJ_txt2obj(PKI_OID_ROLE_NODE, 1);
    ASN1_OBJECT *analyst = OBJ_txt2obj(PKI_OID_ROLE_ANALYST, 1);
    ASN1_OBJECT *hub = OBJ_txt2obj(PKI_OID_ROLE_HUB, 1);
    if (eku != NULL && crit == 1 && node != NULL && analyst != NULL && hub != NULL &&
        sk_ASN1_OBJECT_num(eku) == 1) {
        const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, 0);
        if (OBJ_cmp(o, node) == 0)
            role = PKI_ROLE_NODE;
        else if (OBJ_cmp(o, analyst) == 0)
            role = PKI_ROLE_ANALYST;
        else if (OBJ_cmp(o, hub) == 0)
            role = PKI_ROLE_HUB;
    }
    ASN1_OBJECT_free(node);
    ASN1_OBJECT_free(analyst);
    ASN1_OBJECT_free(hub);
    EXTENDED_KEY_USAGE_free(eku);
    return role;
}

/*
 * NAME from exactly one SAN URI "urn:fedra:<role>:<NAME>" where <role> is
 * the role the EKU grants: the name and the role are bound together.
 */
static int
compute_name(X509 *x, enum pki_role role, char out[PKI_MAX_NAME + 1])
{
    int crit = 0, nuri = 0, ok = 0;
    const char *uri = NULL;
    int urilen = 0;
    if (role == PKI_ROLE_NONE)
        return 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_URI)
            continue;
        nuri++;
        uri = (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
        urilen = ASN1_STRING_length(g->d.uniformResourceIdentifier);
    }
    if (nuri == 1 && uri != NULL) {
        char want[64];
        snprintf(want, sizeof want, PKI_URI_PREFIX "%s:", pki_role_name(role));
        size_t wl = strlen(want);
        if ((size_t)urilen > wl && (size_t)urilen - wl <= PKI_MAX_NAME &&
            memcmp(uri, want, wl) == 0 && memchr(uri, 0, (size_t)urilen) == NULL) {
            memcpy(out, uri + wl, (size_t)urilen - wl);
            out[(size_t)urilen - wl] = 0;
            ok = pki_name_valid(out);
        }
    }
    GENERAL_NAMES_free(gens);
    if (!ok)
        out[0] = 0;
    return ok;
}

/* ---- certificates ----------------------------------------------------- */

/* Takes ownership of x. */
static int
cert_wrap(X509 *x, struct pki_cert **out, char *err)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    if (len <= 0) {
        X509_free(x);
        return errf(err, "cannot encode certificate");
    }
    if ((size_t)len > PKI_MAX_CERT_DER) {
        OPENSSL_free(der);
        X509_free(x);
        return errf(err, "certificate is %d bytes of DER, more than the limit of %d",
            len, PKI_MAX_CERT_DER);
    }
    struct pki_cert *c = xcalloc(1, sizeof *c);
    c->x = x;
    c->der = xmalloc((size_t)len);
    memcpy(c->der, der, (size_t)len);
    c->derlen = (size_t)len;
    OPENSSL_free(der);
    c->role = compute_role(x);
    c->has_name = compute_name(x, c->role, c->name);
    EVP_PKEY *pub = X509_get0_pubkey(x);
    size_t publen = sizeof c->ed_pub;
    c->has_ed_pub = pub != NULL && EVP_PKEY_is_a(pub, "ED25519") &&
        EVP_PKEY_get_raw_public_key(pub, c->ed_pub, &publen) == 1 && publen == sizeof c->ed_pub;
    c->has_curve = curve_key_of(x, c->curve) == 0;
    ERR_clear_error();
    name_cn(X509_get_subject_name(x), c->cn, sizeof c->cn);
    serial_hex(X509_get0_serialNumber(x), c->serial);
    *out = c;
    return 0;
}

int
pki_cert_from_der(const uint8_t *der, size_t len, struct pki_cert **out, char *err)
{
    char why[256];
    *out = NULL;
    if (len == 0 || len > PKI_MAX_CERT_DER)
        return errf(err, "certificate is %zu bytes of DER, must be 1 to %d", len,
            PKI_MAX_CERT_DER);
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL)
        return errf(err, "malformed certificate: %s", pki_ossl_reason(why, sizeof why));
    if (p != der + len) {
        X509_free(x);
        return errf(err, "malformed certificate: %zu trailing bytes",
            (size_t)(der + len - p));
    }
    if (cert_wrap(x, out, err) != 0)
        return -1;
    /* Only canonical DER: what we hash and pass on is what was received. */
    if ((*out)->derlen != len || memcmp((*out)->der, der, len) != 0) {
        pki_cert_free(*out);
        *out = NULL;
        return errf(err, "malformed certificate: not in canonical DER");
    }
    return 0;
}

int
pki_cert_load(const char *path, struct pki_cert **out, char *err)
{
    uint8_t *data = NULL;
    size_t n = 0;
    char why[256];
    int rc = -1;
    *out = NULL;
    if (util_read_file(path, PKI_MAX_FILE, &data, &n, err) != 0)
        return -1;
    if (is_pem(data, n)) {
        BIO *b = BIO_new_mem_buf(data, (int)n);
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        if (x == NULL) {
            BIO_free(b);
            errf(err, "'%s' holds no PEM certificate: %s", path, pki_ossl_reason(why, sizeof why));
            goto done;
        }
        if (cert_wrap(x, out, err) != 0) {
            BIO_free(b);
            char inner[FEDRA_ERRLEN];
            snprintf(inner, sizeof inner, "%s", err ? err : "");
            errf(err, "'%s': %s", path, inner);
            goto done;
        }
        /* Whatever certificates follow the leaf are its chain (one past the limit is read to say so). */
        uint8_t *cder[PKI_MAX_CHAIN + 1];
        size_t clen[PKI_MAX_CHAIN + 1], nc = 0;
        X509 *y;
        while (nc < PKI_MAX_CHAIN + 1 && (y = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            unsigned char *d = NULL;
            int dl = i2d_X509(y, &d);
            X509_free(y);
            cder[nc] = dl > 0 ? d : NULL;
            clen[nc++] = dl > 0 ? (size_t)dl : 0;
        }
        ERR_clear_error();
        BIO_free(b);
        int crc = nc == 0 ? 0 : pki_cert_set_chain(*out, (const uint8_t *const *)cder, clen,
            nc, err);
        for (size_t i = 0; i < nc; i++)
            OPENSSL_free(cder[i]);
        if (crc != 0) {
            char inner[FEDRA_ERRLEN];
            snprintf(inner, sizeof inner, "%s", err ? err : "");
            errf(err, "'%s': %s", path, inner);
            pki_cert_free(*out);
            *out = NULL;
            goto done;
        }
    } else if (pki_cert_from_der(data, n, out, err) != 0) {
        char inner[FEDRA_ERRLEN];
        snprintf(inner, sizeof inner, "%s", err ? err : "");
        errf(err, "'%s' is not a PEM or DER certificate (%s)", path, inner);
        goto done;
    }
    rc = 0;
done:
    free(data);
    return rc;
}

static void
chain_clear(struct pki_cert *c)
{
    for (size_t i = 0; i < c->nchain; i++) {
        X509_free(c->chain[i]);
        free(c->chain_der[i]);
    }
    c->nchain = 0;
}

void
pki_cert_free(struct pki_cert *c)
{
    if (c == NULL)
        return;
    chain_clear(c);
    X509_free(c->x);
    free(c->der);
    free(c);
}

/*
 * The chain is only a hint for path building: X509_verify_cert() decides.
 * Still, only CA certificates are kept, so a leaf cannot smuggle other
 * leaves along, and the count and sizes are bounded before anything is
 * parsed.
 */
int
pki_cert_set_chain(struct pki_cert *c, const uint8_t *const *der, const size_t *len,
    size_t n, char *err)
{
    X509 *xs[PKI_MAX_CHAIN] = {0};
    char why[256], cn[LABEL_MAX];
    size_t k = 0;
    if (n > PKI_MAX_CHAIN)
        return errf(err, "certificate chain holds %zu CA certificates, more than the limit "
            "of %d", n, PKI_MAX_CHAIN);
    for (; k < n; k++) {
        const unsigned char *p = der[k];
        if (len[k] == 0 || len[k] > PKI_MAX_CERT_DER) {
            errf(err, "chain certificate %zu is %zu bytes of DER, must be 1 to %d", k + 1,
                len[k], PKI_MAX_CERT_DER);
            goto fail;
        }
        xs[k] = d2i_X509(NULL, &p, (long)len[k]);
        if (xs[k] == NULL) {
            errf(err, "chain certificate %zu is malformed: %s", k + 1,
                pki_ossl_reason(why, sizeof why));
            goto fail;
        }
        unsigned char *re = NULL;
        int rl = i2d_X509(xs[k], &re);
        int canonical = p == der[k] + len[k] && rl == (int)len[k] &&
            memcmp(re, der[k], len[k]) == 0;
        OPENSSL_free(re);
        if (!canonical) {
            errf(err, "chain certificate %zu is not in canonical DER", k + 1);
            k++;
            goto fail;
        }
        if (X509_check_ca(xs[k]) == 0) {
            name_cn(X509_get_subject_name(xs[k]), cn, sizeof cn);
            errf(err, "chain certificate %zu ('%s') is not a CA certificate", k + 1, cn);
            k++;
            goto fail;
        }
    }
    chain_clear(c);
    for (size_t i = 0; i < n; i++) {
        c->chain[i] = xs[i];
        c->chain_der[i] = xmalloc(len[i]);
        memcpy(c->chain_der[i], der[i], len[i]);
        c->chain_len[i] = len[i];
    }
    c->nchain = n;
    ERR_clear_error();
    return 0;
fail:
    for (size_t i = 0; i < k && i < PKI_MAX_CHAIN; i++)
        X509_free(xs[i]);
    ERR_clear_error();
    return -1;
}

size_t
pki_cert_chain_count(const struct pki_cert *c)
{
    return c->nchain;
}

const uint8_t *
pki_cert_chain_der(const struct pki_cert *c, size_t i, size_t *len)
{
    if (i >= c->nchain) {
        *len = 0;
        return NULL;
    }
    *len = c->chain_len[i];
    return c->chain_der[i];
}

const uint8_t *
pki_cert_der(const struct pki_cert *c, size_t *len)
{
    *len = c->derlen;
    return c->der;
}

void
pki_cert_fingerprint(const struct pki_cert *c, uint8_t out[32])
{
    pki_sha256(c->der, c->derlen, out);
}

enum pki_role
pki_cert_role(const struct pki_cert *c)
{
    return c->role;
}

const char *
pki_cert_name(const struct pki_cert *c)
{
    return c->has_name ? c->name : NULL;
}

const char *
pki_cert_subject_cn(const struct pki_cert *c)
{
    return c->cn;
}

const char *
pki_cert_serial_hex(const struct pki_cert *c)
{
    return c->serial;
}

int64_t
pki_cert_not_before(const struct pki_cert *c)
{
    return pki_asn1_time_unix(X509_get0_notBefore(c->x));
}

int64_t
pki_cert_not_after(const struct pki_cert *c)
{
    return pki_asn1_time_unix(X509_get0_notAfter(c->x));
}

/*
 * The Curve key extension: exactly one instance, whose extnValue is exactly
 * one OCTET STRING of 32 bytes with nothing after it.
 */
int
pki_cert_curve_key(const struct pki_cert *c, uint8_t out[PKI_CURVE_KEY_LEN])
{
    if (!c->has_curve)
        return -1;
    memcpy(out, c->curve, PKI_CURVE_KEY_LEN);
    return 0;
}

/* The transport key extension of x, exactly once and exactly 32 bytes. */
static int
curve_key_of(X509 *x, uint8_t out[PKI_CURVE_KEY_LEN])
{
    int rc = -1;
    ASN1_OBJECT *obj = OBJ_txt2obj(PKI_OID_CURVE_KEY, 1);
    int idx = obj ? X509_get_ext_by_OBJ(x, obj, -1) : -1;
    if (idx >= 0 && X509_get_ext_by_OBJ(x, obj, idx) < 0) {
        const ASN1_OCTET_STRING *outer = X509_EXTENSION_get_data(X509_get_ext(x, idx));
        const unsigned char *start = ASN1_STRING_get0_data(outer);
        const unsigned char *p = start;
        long olen = ASN1_STRING_length(outer);
        ASN1_OCTET_STRING *inner = d2i_ASN1_OCTET_STRING(NULL, &p, olen);
        if (inner != NULL && ASN1_STRING_length(inner) == PKI_CURVE_KEY_LEN &&
            p == start + olen) {
            memcpy(out, ASN1_STRING_get0_data(inner), PKI_CURVE_KEY_LEN);
            rc = 0;
        }
        ASN1_OCTET_STRING_free(inner);
    }
    ASN1_OBJECT_free(obj);
    ERR_clear_error();
    return rc;
}

/* ---- private keys ----------------------------------------------------- */

/* Never prompt for a passphrase: an encrypted key simply fails to load. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(int *)u = 1;
    return -1;
}

int
pki_key_load(const char *path, struct pki_key **out, char *err)
{
    struct buf b = {0};
    EVP_PKEY *pk = NULL;
    int rc = -1, asked = 0;
    char why[256];
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errf(err, "cannot open key file '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        errf(err, "key file '%s' is not a regular file", path);
        goto done;
    }
    /* Checked on the open descriptor, so the file read is the file checked. */
    if (st.st_mode & 077) {
        errf(err, "key file '%s' is %s by %s (mode %04o); run chmod 600 %s", path,
            (st.st_mode & 044) ? "readable" : "accessible",
            (st.st_mode & 007) ? "others" : "its group",
            (unsigned)(st.st_mode & 07777), path);
        goto done;
    }
    if ((uint64_t)st.st_size > PKI_MAX_FILE) {
        errf(err, "key file '%s' is larger than %u bytes", path, PKI_MAX_FILE);
        goto done;
    }
    for (;;) {
        uint8_t chunk[4096];
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            errf(err, "cannot read key file '%s': %s", path, strerror(errno));
            OPENSSL_cleanse(chunk, sizeof chunk);
            goto done;
        }
        if (r == 0)
            break;
        if (b.len + (size_t)r > PKI_MAX_FILE) {
            errf(err, "key file '%s' is larger than %u bytes", path, PKI_MAX_FILE);
            OPENSSL_cleanse(chunk, sizeof chunk);
            goto done;
        }
        buf_append(&b, chunk, (size_t)r);
        OPENSSL_cleanse(chunk, sizeof chunk);
    }
    if (b.len == 0) {
        errf(err, "key file '%s' is empty", path);
        goto done;
    }
    if (is_pem(b.p, b.len)) {
        BIO *bio = BIO_new_mem_buf(b.p, (int)b.len);
        pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &asked) : NULL;
        BIO_free(bio);
    } else {
        const unsigned char *p = b.p;
        pk = d2i_AutoPrivateKey(NULL, &p, (long)b.len);
    }
    if (pk == NULL) {
        if (asked)
            errf(err, "key file '%s' is encrypted; fedra needs an unencrypted key "
                "protected by file mode 0600 (openssl pkey -in %s -out NEW.key)", path, path);
        else
            errf(err, "key file '%s' holds no private key: %s", path,
                pki_ossl_reason(why, sizeof why));
        goto done;
    }
    if (!EVP_PKEY_is_a(pk, "ED25519")) {
        errf(err, "key file '%s' holds a %s key; fedra keys are Ed25519", path,
            EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "non-Ed25519");
        goto done;
    }
    struct pki_key *k = xcalloc(1, sizeof *k);
    k->pkey = pk;
    pk = NULL;
    if (key_sodium(k) != 0) {
        errf(err, "key file '%s': cannot read the Ed25519 key", path);
        pki_key_free(k);
        goto done;
    }
    *out = k;
    rc = 0;
done:
    ERR_clear_error();
    EVP_PKEY_free(pk);
    if (b.p != NULL)
        OPENSSL_cleanse(b.p, b.cap);
    buf_release(&b);
    close(fd);
    return rc;
}

struct pki_key *
pki_key_wrap(EVP_PKEY *pk)
{
    if (pk == NULL || !EVP_PKEY_is_a(pk, "ED25519") || !EVP_PKEY_up_ref(pk))
        return NULL;
    struct pki_key *k = xcalloc(1, sizeof *k);
    k->pkey = pk;
    if (key_sodium(k) != 0) {
        pki_key_free(k);
        return NULL;
    }
    return k;
}

void
pki_key_free(struct pki_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k->ed_sk, sizeof k->ed_sk);
    free(k);
}

int
pki_key_matches_cert(const struct pki_key *k, const struct pki_cert *c)
{
    EVP_PKEY *pub = X509_get0_pubkey(c->x);
    int r = pub != NULL && EVP_PKEY_eq(k->pkey, pub) == 1;
    ERR_clear_error();
    return r;
}

/*
 * Curve secret = HKDF-SHA256(salt = empty, ikm = raw 32-byte Ed25519 private
 * key, info = "fedra/curve-key/v1", L = 32).  Domain-separated, one-way:
 * the X25519 key shares no algebra with the signing key.
 */
int
pki_key_curve_secret(const struct pki_key *k, uint8_t secret[PKI_CURVE_KEY_LEN])
{
    uint8_t ikm[32];
    size_t ikmlen = sizeof ikm;
    int rc = -1;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    if (EVP_PKEY_get_raw_private_key(k->pkey, ikm, &ikmlen) != 1 || ikmlen != 32)
        goto done;
    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (kctx == NULL)
        goto done;
    OSSL_PARAM params[4];
    char digest[] = "SHA256";
    char info[] = CURVE_INFO;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm, ikmlen);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info,
        sizeof info - 1);
    params[3] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, secret, PKI_CURVE_KEY_LEN, params) != 1)
        goto done;
    rc = 0;
done:
    OPENSSL_cleanse(ikm, sizeof ikm);
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    ERR_clear_error();
    if (rc != 0)
        OPENSSL_cleanse(secret, PKI_CURVE_KEY_LEN);
    return rc;
}

int
pki_curve_public(const uint8_t secret[PKI_CURVE_KEY_LEN], uint8_t pub[PKI_CURVE_KEY_LEN])
{
    size_t len = PKI_CURVE_KEY_LEN;
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret,
        PKI_CURVE_KEY_LEN);
    int rc = (pk != NULL && EVP_PKEY_get_raw_public_key(pk, pub, &len) == 1 &&
        len == PKI_CURVE_KEY_LEN) ? 0 : -1;
    EVP_PKEY_free(pk);
    ERR_clear_error();
    return rc;
}

/* ---- signatures and hashes -------------------------------------------- */

int
pki_sign(const struct pki_key *k, const uint8_t *msg, size_t len,
    uint8_t sig[PKI_SIG_LEN])
{
    unsigned long long siglen = 0;
    return crypto_sign_detached(sig, &siglen, msg, len, k->ed_sk) == 0 &&
        siglen == PKI_SIG_LEN ? 0 : -1;
}

int
pki_check_sig(const struct pki_cert *c, const uint8_t *msg, size_t len,
    const uint8_t *sig, size_t siglen)
{
    if (!c->has_ed_pub || siglen != PKI_SIG_LEN || sodium_init() < 0)
        return -1;
    return crypto_sign_verify_detached(sig, msg, len, c->ed_pub) == 0 ? 0 : -1;
}

void
pki_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 32;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1)
        abort();                    /* SHA-256 cannot fail short of a broken library */
}

void
pki_sha256_2(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
    unsigned int n = 32;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (m == NULL || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(m, a, alen) != 1 || EVP_DigestUpdate(m, b, blen) != 1 ||
        EVP_DigestFinal_ex(m, out, &n) != 1)
        abort();
    EVP_MD_CTX_free(m);
}

/* ---- trust ------------------------------------------------------------ */

static int64_t
crl_number(const X509_CRL *crl)
{
    int crit = 0;
    int64_t v = -1;
    ASN1_INTEGER *ai = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
    if (ai == NULL || ASN1_INTEGER_get_int64(&v, ai) != 1 || v < 0)
        v = -1;
    ASN1_INTEGER_free(ai);
    ERR_clear_error();
    return v;
}

/* 1 if a newer than b: higher CRL number, then later lastUpdate. */
static int
crl_newer(const X509_CRL *a, const X509_CRL *b)
{
    int64_t na = crl_number(a), nb = crl_number(b);
    if (na != nb)
        return na > nb;
    return pki_asn1_time_unix(X509_CRL_get0_lastUpdate(a)) >
        pki_asn1_time_unix(X509_CRL_get0_lastUpdate(b));
}

/*
 * Every object of a PEM buffer: certificates are pushed on certs, CRLs on crls
 * (either may be NULL: those objects are dropped).  -1 if OpenSSL cannot parse
 * it (the reason is left queued for pki_ossl_reason).
 */
static int
pem_read_all(const uint8_t *data, size_t n, STACK_OF(X509) *certs, STACK_OF(X509_CRL) *crls)
{
    BIO *b = BIO_new_mem_buf(data, (int)n);
    STACK_OF(X509_INFO) *infos = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (infos == NULL)
        return -1;
    for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *in = sk_X509_INFO_value(infos, i);
        if (certs != NULL && in->x509 != NULL) {
            sk_X509_push(certs, in->x509);
            in->x509 = NULL;
        }
        if (crls != NULL && in->crl != NULL) {
            sk_X509_CRL_push(crls, in->crl);
            in->crl = NULL;
        }
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    return 0;
}

/* All certificates of ca_file: PEM (any number) or one DER certificate. */
static int
read_ca_certs(const char *path, STACK_OF(X509) *out, char *err)
{
    uint8_t *data = NULL;
    size_t n = 0;
    char why[256];
    int rc = -1;
    if (util_read_file(path, PKI_MAX_FILE, &data, &n, err) != 0)
        return -1;
    if (is_pem(data, n)) {
        if (pem_read_all(data, n, out, NULL) != 0) {
            errf(err, "cannot parse '%s': %s", path, pki_ossl_reason(why, sizeof why));
            goto done;
        }
    } else {
        const unsigned char *p = data;
        X509 *x = d2i_X509(NULL, &p, (long)n);
        if (x == NULL || p != data + n) {
            X509_free(x);
            errf(err, "'%s' holds no PEM or DER CA certificate", path);
            goto done;
        }
        sk_X509_push(out, x);
    }
    if (sk_X509_num(out) == 0) {
        errf(err, "'%s' holds no certificate", path);
        goto done;
    }
    rc = 0;
done:
    ERR_clear_error();
    free(data);
    return rc;
}

/*
 * All CRLs of crl_file: PEM (any number) or DER (concatenated).  Certificates
 * in a PEM file (the issuing CA that signed a CRL) go to certs.
 */
static int
read_crls(const char *path, STACK_OF(X509_CRL) *out, STACK_OF(X509) *certs, char *err)
{
    uint8_t *data = NULL;
    size_t n = 0;
    char why[256];
    int rc = -1;
    if (util_read_file(path, PKI_MAX_FILE, &data, &n, err) != 0)
        return -1;
    if (is_pem(data, n)) {
        if (pem_read_all(data, n, certs, out) != 0) {
            errf(err, "cannot parse CRL file '%s': %s", path, pki_ossl_reason(why, sizeof why));
            goto done;
        }
    } else {
        const unsigned char *p = data, *end = data + n;
        while (p < end) {
            X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)(end - p));
            if (crl == NULL) {
                errf(err, "'%s' is not a PEM or DER CRL (bad data at byte %zu)", path,
                    (size_t)(p - data));
                goto done;
            }
            sk_X509_CRL_push(out, crl);
        }
    }
    if (sk_X509_CRL_num(out) == 0) {
        errf(err, "'%s' holds no CRL", path);
        goto done;
    }
    rc = 0;
done:
    ERR_clear_error();
    free(data);
    return rc;
}

int
pki_trust_load(const char *ca_file, const char *crl_file, int require_crl,
    struct pki_trust **out, char *err)
{
    STACK_OF(X509) *cas = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    STACK_OF(X509_CRL) *chosen = sk_X509_CRL_new_null();
    STACK_OF(X509) *crlcas = sk_X509_new_null();
    struct pki_trust *t = xcalloc(1, sizeof *t);
    char label[LABEL_MAX];
    int rc = -1, nroots = 0;
    *out = NULL;
    t->require_crl = require_crl != 0;
    t->crl_number = -1;
    t->crl_next_update = -1;
    t->crl_last_update = -1;
    t->store = X509_STORE_new();
    t->untrusted = sk_X509_new_null();
    if (cas == NULL || crls == NULL || chosen == NULL || crlcas == NULL || t->store == NULL ||
        t->untrusted == NULL) {
        errf(err, "out of memory");
        goto done;
    }
    if (read_ca_certs(ca_file, cas, err) != 0)
        goto done;
    for (int i = 0; i < sk_X509_num(cas); i++) {
        X509 *x = sk_X509_value(cas, i);
        name_cn(X509_get_subject_name(x), label, sizeof label);
        if (X509_check_ca(x) == 0) {
            errf(err, "'%s' holds certificate '%s' which is not a CA certificate; "
                "give the federation CA certificate (ca.crt)", ca_file, label);
            goto done;
        }
        if (X509_self_signed(x, 1) == 1) {
            /* Only self-signed roots are anchors (no PARTIAL_CHAIN). */
            if (X509_STORE_add_cert(t->store, x) != 1) {
                errf(err, "cannot add CA '%s' from '%s'", label, ca_file);
                goto done;
            }
            if (nroots++ == 0)
                snprintf(t->ca_cn, sizeof t->ca_cn, "%s", label);
        } else {
            X509_up_ref(x);
            sk_X509_push(t->untrusted, x);
        }
    }
    if (nroots == 0) {
        errf(err, "'%s' holds no self-signed root CA certificate", ca_file);
        goto done;
    }
    if (crl_file != NULL && read_crls(crl_file, crls, crlcas, err) != 0)
        goto done;
    /*
     * An issuing CA's certificate that travels with its CRL may sign CRLs
     * only if a CA of ca_file certified it.  It then joins the untrusted
     * intermediates: a help for path building, never an anchor.
     */
    for (int i = 0; i < sk_X509_num(crlcas); i++) {
        X509 *x = sk_X509_value(crlcas, i);
        int certified = 0;
        for (int j = 0; j < sk_X509_num(cas) && !certified; j++) {
            X509 *ca = sk_X509_value(cas, j);
            certified = X509_check_issued(ca, x) == X509_V_OK &&
                X509_verify(x, X509_get0_pubkey(ca)) == 1;
        }
        name_cn(X509_get_subject_name(x), label, sizeof label);
        if (X509_check_ca(x) == 0 || !certified) {
            errf(err, "certificate '%s' in CRL file '%s' is not an issuing CA certified by "
                "a CA in '%s'", label, crl_file, ca_file);
            goto done;
        }
        X509_up_ref(x);
        sk_X509_push(cas, x);
        X509_up_ref(x);
        sk_X509_push(t->untrusted, x);
    }
    /*
     * Every CRL must be signed by one of our CAs, and only the newest CRL
     * per issuer goes into the store: two CRLs of one issuer with the same
     * lastUpdate second would otherwise let OpenSSL pick the older one.
     */
    for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
        X509_CRL *crl = sk_X509_CRL_value(crls, i);
        int signed_ok = 0;
        for (int j = 0; j < sk_X509_num(cas) && !signed_ok; j++) {
            X509 *ca = sk_X509_value(cas, j);
            if (X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) == 0 &&
                X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1)
                signed_ok = 1;
        }
        if (!signed_ok) {
            name_cn(X509_CRL_get_issuer(crl), label, sizeof label);
            errf(err, "CRL %d in '%s' (issuer '%s') is not signed by any CA in '%s'",
                i + 1, crl_file, label, ca_file);
            goto done;
        }
        int replaced = 0;
        for (int j = 0; j < sk_X509_CRL_num(chosen); j++) {
            X509_CRL *o = sk_X509_CRL_value(chosen, j);
            if (X509_NAME_cmp(X509_CRL_get_issuer(o), X509_CRL_get_issuer(crl)) != 0)
                continue;
            if (crl_newer(crl, o))
                (void)sk_X509_CRL_set(chosen, j, crl);
            replaced = 1;
        }
        if (!replaced)
            sk_X509_CRL_push(chosen, crl);
    }
    for (int i = 0; i < sk_X509_CRL_num(chosen); i++) {
        X509_CRL *crl = sk_X509_CRL_value(chosen, i);
        if (X509_STORE_add_crl(t->store, crl) != 1) {
            errf(err, "cannot add CRL from '%s'", crl_file);
            goto done;
        }
        int64_t num = crl_number(crl);
        if (!t->have_crl || num > t->crl_number) {
            t->crl_number = num;
            t->crl_next_update = X509_CRL_get0_nextUpdate(crl) ?
                pki_asn1_time_unix(X509_CRL_get0_nextUpdate(crl)) : -1;
            t->crl_last_update = pki_asn1_time_unix(X509_CRL_get0_lastUpdate(crl));
        }
        t->have_crl = 1;
    }
    unsigned long flags = X509_V_FLAG_X509_STRICT;
    if (t->require_crl || t->have_crl)
        flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    X509_STORE_set_flags(t->store, flags);
    /* root -> issuing CA(s) -> leaf; the roots' pathlen is the tighter rule. */
    X509_STORE_set_depth(t->store, PKI_MAX_CHAIN);
    *out = t;
    t = NULL;
    rc = 0;
done:
    ERR_clear_error();
    pki_trust_free(t);
    sk_X509_pop_free(cas, X509_free);
    sk_X509_CRL_free(chosen);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    sk_X509_pop_free(crlcas, X509_free);
    return rc;
}

void
pki_trust_free(struct pki_trust *t)
{
    if (t == NULL)
        return;
    X509_STORE_free(t->store);
    sk_X509_pop_free(t->untrusted, X509_free);
    free(t);
}

int64_t
pki_trust_crl_number(const struct pki_trust *t)
{
    return t->have_crl ? t->crl_number : -1;
}

int64_t
pki_trust_crl_next_update(const struct pki_trust *t)
{
    return t->have_crl ? t->crl_next_update : -1;
}

/* ---- expiry warnings ------------------------------------------------- */

static void
add_expiry(X509 *x, const char *label, int64_t limit, struct pki_expiry *out, size_t max,
    size_t *n)
{
    int64_t na = pki_asn1_time_unix(X509_get0_notAfter(x));
    if (na > limit || *n >= max)
        return;
    /* Insertion sort: earliest first; a handful of entries at most. */
    size_t i = *n;
    while (i > 0 && out[i - 1].not_after > na) {
        out[i] = out[i - 1];
        i--;
    }
    out[i].not_after = na;
    snprintf(out[i].label, sizeof out[i].label, "%s", label);
    (*n)++;
}

static void
add_ca_expiry(X509 *x, int64_t limit, struct pki_expiry *out, size_t max, size_t *n)
{
    char cn[LABEL_MAX], serial[SERIAL_HEX_MAX + 1], label[PKI_LABEL_LEN];
    name_cn(X509_get_subject_name(x), cn, sizeof cn);
    serial_hex(X509_get0_serialNumber(x), serial);
    snprintf(label, sizeof label, "CA certificate '%s' (serial %.40s)", cn, serial);
    add_expiry(x, label, limit, out, max, n);
}

size_t
pki_expiring(const struct pki_trust *t, const struct pki_cert *c, int64_t at,
    int64_t within, struct pki_expiry *out, size_t max)
{
    size_t n = 0;
    int64_t limit = (at != 0 ? at : (int64_t)time(NULL)) + within;
    char label[PKI_LABEL_LEN];
    if (c != NULL) {
        snprintf(label, sizeof label, "certificate '%s' (serial %.40s)",
            c->has_name ? c->name : c->cn, c->serial);
        add_expiry(c->x, label, limit, out, max, &n);
        for (size_t i = 0; i < c->nchain; i++)
            add_ca_expiry(c->chain[i], limit, out, max, &n);
    }
    if (t != NULL) {
        STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(t->store);
        for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
            X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
            if (x != NULL)
                add_ca_expiry(x, limit, out, max, &n);
        }
        for (int i = 0; i < sk_X509_num(t->untrusted); i++)
            add_ca_expiry(sk_X509_value(t->untrusted, i), limit, out, max, &n);
    }
    return n;
}

int64_t
pki_trust_crl_last_update(const struct pki_trust *t)
{
    return t->have_crl ? t->crl_last_update : -1;
}

/* ---- verification ----------------------------------------------------- */

/* What the verify callback saw first. */
struct vstate {
    int require_crl;
    int past;                       /* verifying at a given time, not now */
    int error;                      /* X509_V_OK until the first failure */
    int depth;
    X509 *cert;                     /* the certificate at fault (a reference) */
    X509_CRL *crl;                  /* the CRL in use then, if any (a reference) */
};

static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
    struct vstate *vs = X509_STORE_CTX_get_app_data(ctx);
    if (ok)
        return 1;
    int e = X509_STORE_CTX_get_error(ctx);
    /* CRLs given but not required: an issuer without a CRL is not an error. */
    if (e == X509_V_ERR_UNABLE_TO_GET_CRL && !vs->require_crl)
        return 1;
    /*
     * Re-checking at a past time (an audit entry): the current CRL is newer
     * than that time, and it is still applied.  This errs on the safe side:
     * a certificate revoked since then is reported revoked.
     */
    if (e == X509_V_ERR_CRL_NOT_YET_VALID && vs->past)
        return 1;
    if (vs->error == X509_V_OK) {
        vs->error = e;
        vs->depth = X509_STORE_CTX_get_error_depth(ctx);
        vs->cert = X509_STORE_CTX_get_current_cert(ctx);
        if (vs->cert != NULL)
            X509_up_ref(vs->cert);
        vs->crl = X509_STORE_CTX_get0_current_crl(ctx);
        if (vs->crl != NULL)
            X509_CRL_up_ref(vs->crl);
    }
    return 0;
}

/*
 * Who is at fault, as the start of the one-line cause: the leaf alone, or
 * the leaf and the CA certificate in its chain that failed, e.g.
 *   certificate 'alice' (serial 5A..)
 *   certificate 'alice' (serial 5A..): its CA 'Issuing CA' (serial 7B..)
 */
static void
fault_label(const struct pki_cert *c, X509 *x, char *out, size_t n)
{
    char cn[LABEL_MAX], serial[SERIAL_HEX_MAX + 1];
    const char *who = c->has_name ? c->name : c->cn;
    if (x == NULL || x == c->x) {
        snprintf(out, n, "certificate '%s' (serial %s)", who, c->serial);
        return;
    }
    name_cn(X509_get_subject_name(x), cn, sizeof cn);
    serial_hex(X509_get0_serialNumber(x), serial);
    snprintf(out, n, "certificate '%s' (serial %s): its CA '%s' (serial %s)", who, c->serial,
        cn, serial);
}

/* " (reason keyCompromise)" or "" for a revoked entry. */
static void
revoked_reason(X509_REVOKED *rev, char *out, size_t n)
{
    int crit = 0;
    out[0] = 0;
    ASN1_ENUMERATED *re = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
    if (re != NULL) {
        const char *rs = pki_crl_reason_name((int)ASN1_ENUMERATED_get(re));
        snprintf(out, n, " (reason %s)", rs ? rs : "unknown");
    }
    ASN1_ENUMERATED_free(re);
}

static enum pki_verdict
explain(const struct pki_trust *t, const struct pki_cert *c, const struct vstate *vs,
    char *err)
{
    char who[2 * LABEL_MAX + 2 * SERIAL_HEX_MAX + 64], ts[PKI_TIME_LEN], issuer[LABEL_MAX];
    char cissuer[LABEL_MAX];
    X509 *x = vs->cert ? vs->cert : c->x;
    fault_label(c, x, who, sizeof who);
    name_cn(X509_get_issuer_name(x), issuer, sizeof issuer);
    if (vs->crl != NULL)
        name_cn(X509_CRL_get_issuer(vs->crl), cissuer, sizeof cissuer);
    else
        snprintf(cissuer, sizeof cissuer, "%s", issuer);
    long long crlno = vs->crl ? (long long)crl_number(vs->crl) : -1LL;
    switch (vs->error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        pki_format_time(pki_asn1_time_unix(X509_get0_notAfter(x)), ts);
        errf(err, "%s expired at %s", who, ts);
        return PKI_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        pki_format_time(pki_asn1_time_unix(X509_get0_notBefore(x)), ts);
        errf(err, "%s is not valid before %s", who, ts);
        return PKI_NOT_YET_VALID;
    case X509_V_ERR_CERT_REVOKED: {
        X509_REVOKED *rev = NULL;
        char reason[64];
        if (vs->crl != NULL &&
            X509_CRL_get0_by_serial(vs->crl, &rev, X509_get0_serialNumber(x)) > 0 &&
            rev != NULL) {
            pki_format_time(pki_asn1_time_unix(X509_REVOKED_get0_revocationDate(rev)), ts);
            revoked_reason(rev, reason, sizeof reason);
            errf(err, "%s was revoked at %s%s (CRL number %lld of '%s')", who, ts, reason,
                crlno, cissuer);
        } else {
            errf(err, "%s was revoked", who);
        }
        return PKI_REVOKED;
    }
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        errf(err, "%s was not issued by the federation CA '%s' (its issuer is '%s'; an "
            "issuing CA's certificate must follow the leaf in its .crt file)", who, t->ca_cn,
            issuer);
        return PKI_UNKNOWN_CA;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        errf(err, "%s chains to the self-signed '%s', not to the federation CA '%s'", who,
            issuer, t->ca_cn);
        return PKI_UNKNOWN_CA;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
        errf(err, "%s: no CRL from '%s' to check it against; get a current CRL of '%s' "
            "(fedra-cert crl)", who, issuer, issuer);
        return PKI_NO_CRL;
    case X509_V_ERR_CRL_HAS_EXPIRED: {
        int64_t nu = vs->crl && X509_CRL_get0_nextUpdate(vs->crl) ?
            pki_asn1_time_unix(X509_CRL_get0_nextUpdate(vs->crl)) : 0;
        pki_format_time(nu, ts);
        errf(err, "%s: the CRL from '%s' (number %lld) expired at %s (its nextUpdate); get "
            "a new CRL (fedra-cert crl)", who, cissuer, crlno, ts);
        return PKI_CRL_EXPIRED;
    }
    case X509_V_ERR_CRL_NOT_YET_VALID: {
        pki_format_time(vs->crl ? pki_asn1_time_unix(X509_CRL_get0_lastUpdate(vs->crl)) : 0, ts);
        errf(err, "%s: the CRL from '%s' (number %lld) is not valid before %s (its "
            "lastUpdate; check the clock)", who, cissuer, crlno, ts);
        return PKI_INVALID;
    }
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
        errf(err, "%s: the CRL from '%s' (number %lld) has a signature that does not verify "
            "(forged or corrupted CRL)", who, cissuer, crlno);
        return PKI_INVALID;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
        errf(err, "%s has a signature that does not verify with the key of CA '%s' "
            "(bad signature: forged or corrupted)", who, issuer);
        return PKI_INVALID;
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
        errf(err, "%s is not a valid CA (needs CA:TRUE and keyUsage keyCertSign) but issued "
            "a certificate", who);
        return PKI_INVALID;
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
        errf(err, "%s: the chain is longer than CA '%s' allows (its pathlen; at most %d "
            "issuing CAs)", who, issuer, PKI_MAX_CHAIN);
        return PKI_INVALID;
    default:
        errf(err, "%s failed verification: %s", who, X509_verify_cert_error_string(vs->error));
        return PKI_INVALID;
    }
}

int
pki_verify(const struct pki_trust *t, const struct pki_cert *c,
    enum pki_role want, int64_t at, char *err)
{
    struct vstate vs = { .require_crl = t->require_crl, .past = at != 0,
        .error = X509_V_OK };
    const char *who = c->has_name ? c->name : c->cn;
    int rc = PKI_INVALID;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    /* Untrusted helpers: the intermediates of ca_file and those carried with c. */
    STACK_OF(X509) *untrusted = sk_X509_dup(t->untrusted);
    for (size_t i = 0; untrusted != NULL && i < c->nchain; i++)
        if (sk_X509_push(untrusted, c->chain[i]) <= 0) {
            sk_X509_free(untrusted);
            untrusted = NULL;
        }
    if (ctx == NULL || untrusted == NULL ||
        X509_STORE_CTX_init(ctx, t->store, c->x, untrusted) != 1) {
        errf(err, "cannot set up verification of certificate '%s'", who);
        goto done;
    }
    X509_STORE_CTX_set_app_data(ctx, &vs);
    X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
    if (at != 0)
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)at);
    int v = X509_verify_cert(ctx);
    if (v != 1) {
        if (vs.error == X509_V_OK)
            vs.error = X509_STORE_CTX_get_error(ctx);
        if (vs.error == X509_V_OK)
            vs.error = X509_V_ERR_UNSPECIFIED;
        rc = explain(t, c, &vs, err);
        goto done;
    }
    /* Algorithm allow-list: the key type comes from the certificate, checked here. */
    EVP_PKEY *pub = X509_get0_pubkey(c->x);
    if (pub == NULL || !EVP_PKEY_is_a(pub, "ED25519")) {
        errf(err, "certificate '%s' (serial %s) does not hold an Ed25519 key", who,
            c->serial);
        goto done;
    }
    if (c->role == PKI_ROLE_NONE) {
        errf(err, "certificate '%s' (serial %s) carries no valid fedra role (needs "
            "keyUsage digitalSignature, CA:FALSE and a critical extendedKeyUsage with "
            "exactly one role)", who, c->serial);
        rc = PKI_BAD_ROLE;
        goto done;
    }
    if (want != PKI_ROLE_NONE && c->role != want) {
        errf(err, "certificate '%s' (serial %s) has role %s, but %s is required", who,
            c->serial, pki_role_name(c->role), pki_role_name(want));
        rc = PKI_BAD_ROLE;
        goto done;
    }
    if (!c->has_name) {
        errf(err, "certificate '%s' (serial %s) has no valid name: it needs exactly one "
            "subjectAltName URI " PKI_URI_PREFIX "%s:NAME", who, c->serial,
            pki_role_name(c->role));
        goto done;
    }
    rc = PKI_OK;
done:
    ERR_clear_error();
    X509_free(vs.cert);
    X509_CRL_free(vs.crl);
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    return rc;
}

/* ---- shared with the CA code ------------------------------------------ */

static const char *const crl_reasons[] = {
    "unspecified", "keyCompromise", "CACompromise", "affiliationChanged",
    "superseded", "cessationOfOperation", "certificateHold", NULL /* 7 unused */,
    "removeFromCRL", "privilegeWithdrawn", "AACompromise",
};

const char *
pki_crl_reason_name(int code)
{
    if (code < 0 || (size_t)code >= sizeof crl_reasons / sizeof crl_reasons[0])
        return NULL;
    return crl_reasons[code];
}

int
pki_crl_reason_parse(const char *s)
{
    for (size_t i = 0; i < sizeof crl_reasons / sizeof crl_reasons[0]; i++)
        if (crl_reasons[i] != NULL && strcasecmp(s, crl_reasons[i]) == 0)
            return (int)i;
    return -1;
}

X509 *
pki_cert_x509(const struct pki_cert *c)
{
    return c->x;
}

EVP_PKEY *
pki_key_evp(const struct pki_key *k)
{
    return k->pkey;
}
