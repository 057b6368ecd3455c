/*
 * test_pki - certificates, keys, trust and verification (certs/pki.c) and
 * the CA directory behind fedra-cert (certs/ca.c).
 *
 * A group fixture creates, in a temporary directory, a CA valid from
 * 2019-01-01 for 100 years (so fixed dates in the past work as "at" times),
 * a node 'DE', an analyst 'alice' and a CRL.  Tests needing odd
 * certificates (no keyUsage, two URIs, anyExtendedKeyUsage, ...) build them
 * with OpenSSL directly and sign them with the CA key.
 *
 * Expected values come from outside the code under test: the Ed25519 and
 * SHA-256 vectors from RFC 8032 / FIPS 180-2, the HKDF and X25519 values from
 * the openssl CLI (`openssl kdf ... HKDF`, `openssl pkey -pubout`) and
 * libzmq's zmq_curve_public, dates worked out by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <zmq.h>

#include "certs/ca.h"
#include "certs/pki.h"
#include "certs/pki_int.h"
#include "lib/util.h"

#define T_2019_01_01 1546300800LL
#define T_2019_06_01 1559347200LL
#define T_2019_12_01 1575158400LL
#define T_2020_01_01 1577836800LL
#define T_2020_01_15 1579046400LL
#define DAY 86400

struct fx {
    char dir[64];                   /* the temporary directory */
    char ca[128], out[128];         /* CA directory, leaves directory */
    char ca_crt[160], crl[160];
    struct ca *ca_h;                /* open CA (for custom certificates) */
    struct pki_trust *trust;        /* ca.crt + crl.pem, CRL required */
    struct pki_cert *de, *alice;
    struct pki_key *de_key, *alice_key;
};

static char *
pathf(const struct fx *f, const char *name)
{
    struct buf b = {0};
    buf_printf(&b, "%s/%s", f->dir, name);
    return buf_detach(&b);
}

static char *
leaf_path(const struct fx *f, const char *name, const char *ext)
{
    struct buf b = {0};
    buf_printf(&b, "%s/%s.%s", f->out, name, ext);
    return buf_detach(&b);
}

static void
issue(struct fx *f, enum pki_role role, const char *name, int days, int64_t start,
    char serial[CA_SERIAL_LEN])
{
    char err[FEDRA_ERRLEN] = "";
    char dummy[CA_SERIAL_LEN];
    struct ca_issue_req req = { .role = role, .name = name, .out_dir = f->out,
        .days = days, .start = start };
    if (ca_issue(f->ca_h, &req, serial ? serial : dummy, err) != 0)
        fail_msg("ca_issue %s: %s", name, err);
}

static struct pki_cert *
load_leaf(const struct fx *f, const char *name)
{
    char err[FEDRA_ERRLEN] = "";
    struct pki_cert *c = fixture_cert(f->out, name, err);
    if (c == NULL)
        fail_msg("load %s: %s", name, err);
    return c;
}

static struct pki_key *
load_key(const struct fx *f, const char *name)
{
    char err[FEDRA_ERRLEN] = "";
    struct pki_key *k = fixture_key(f->out, name, err);
    if (k == NULL)
        fail_msg("load %s: %s", name, err);
    return k;
}

static struct pki_trust *
trust(const char *ca, const char *crl, int require, char *err)
{
    struct pki_trust *t = NULL;
    if (pki_trust_load(ca, crl, require, &t, err) != 0)
        fail_msg("trust %s %s: %s", ca, crl ? crl : "-", err);
    return t;
}

static int
group_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "";
    snprintf(f->dir, sizeof f->dir, "/tmp/test_pki.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->ca, sizeof f->ca, "%s/ca", f->dir);
    snprintf(f->out, sizeof f->out, "%s/out", f->dir);
    snprintf(f->ca_crt, sizeof f->ca_crt, "%s/ca.crt", f->ca);
    snprintf(f->crl, sizeof f->crl, "%s/crl.pem", f->dir);
    if ((f->ca_h = fixture_ca(f->ca, "fedra test CA", CA_MAX_DAYS, T_2019_01_01, err)) == NULL ||
        fixture_issue(f->ca_h, PKI_ROLE_NODE, "DE", f->out, NULL, err) != 0 ||
        fixture_issue(f->ca_h, PKI_ROLE_ANALYST, "alice", f->out, NULL, err) != 0 ||
        fixture_crl(f->ca_h, f->crl, err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    f->trust = trust(f->ca_crt, f->crl, 1, err);
    f->de = load_leaf(f, "DE");
    f->alice = load_leaf(f, "alice");
    f->de_key = load_key(f, "DE");
    f->alice_key = load_key(f, "alice");
    *state = f;
    return 0;
}

static int
group_teardown(void **state)
{
    struct fx *f = *state;
    pki_cert_free(f->de);
    pki_cert_free(f->alice);
    pki_key_free(f->de_key);
    pki_key_free(f->alice_key);
    pki_trust_free(f->trust);
    ca_free(f->ca_h);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* ---- custom certificates, built outside ca.c ---------------------------- */

struct ext {
    const char *name;               /* openssl config name, e.g. "keyUsage" */
    const char *value;
};

/* A leaf signed by the fixture CA with exactly the given extensions. */
static X509 *
custom_x509(struct fx *f, const struct ext *exts, size_t n, const uint8_t *pad, size_t padlen)
{
    X509 *ca = ca_cert(f->ca_h);
    char err[FEDRA_ERRLEN];
    struct pki_key *cak = NULL;
    char *kp = NULL;
    struct buf b = {0};
    buf_printf(&b, "%s/ca.key", f->ca);
    kp = buf_detach(&b);
    assert_int_equal(pki_key_load(kp, &cak, err), 0);
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    X509 *x = X509_new();
    X509_NAME *nm = X509_NAME_new();
    assert_non_null(pk);
    assert_non_null(x);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234567);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"custom", -1,
        -1, 0);
    X509_set_subject_name(x, nm);
    X509_set_issuer_name(x, X509_get_subject_name(ca));
    X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, NULL);
    X509_time_adj_ex(X509_getm_notAfter(x), 30, 0, NULL);
    X509_set_pubkey(x, pk);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        X509_EXTENSION *e = X509V3_EXT_nconf(NULL, &v3, exts[i].name, exts[i].value);
        if (e == NULL)
            fail_msg("extension %s=%s", exts[i].name, exts[i].value);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (pad != NULL) {
        /* A non-critical private extension used only to reach a given size. */
        ASN1_OBJECT *o = OBJ_txt2obj(PKI_OID_ARC ".99", 1);
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(os, pad, (int)padlen);
        X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        ASN1_OCTET_STRING_free(os);
        ASN1_OBJECT_free(o);
    }
    assert_true(X509_sign(x, pki_key_evp(cak), NULL) > 0);
    X509_NAME_free(nm);
    EVP_PKEY_free(pk);
    pki_key_free(cak);
    free(kp);
    return x;
}

static struct pki_cert *
custom_cert(struct fx *f, const struct ext *exts, size_t n)
{
    X509 *x = custom_x509(f, exts, n, NULL, 0);
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    struct pki_cert *c = NULL;
    char err[FEDRA_ERRLEN] = "";
    assert_true(len > 0);
    if (pki_cert_from_der(der, (size_t)len, &c, err) != 0)
        fail_msg("from_der: %s", err);
    OPENSSL_free(der);
    X509_free(x);
    return c;
}

#define NODE_EKU "critical," PKI_OID_ROLE_NODE
#define ANALYST_EKU "critical," PKI_OID_ROLE_ANALYST
#define GOOD_LEAF(eku, san) \
    { "basicConstraints", "critical,CA:FALSE" }, \
    { "keyUsage", "critical,digitalSignature" }, \
    { "extendedKeyUsage", eku }, \
    { "subjectAltName", san }, \
    { "subjectKeyIdentifier", "hash" }, \
    { "authorityKeyIdentifier", "keyid:always" }

/* ---- tests --------------------------------------------------------------- */

static void
role_and_verdict_names_round_trip(void **state)
{
    (void)state;
    assert_string_equal(pki_role_name(PKI_ROLE_NODE), "node");
    assert_string_equal(pki_role_name(PKI_ROLE_ANALYST), "analyst");
    assert_string_equal(pki_role_name(PKI_ROLE_NONE), "none");
    assert_int_equal(pki_role_parse("node"), PKI_ROLE_NODE);
    assert_int_equal(pki_role_parse("analyst"), PKI_ROLE_ANALYST);
    assert_int_equal(pki_role_parse("Analyst"), PKI_ROLE_NONE);
    assert_int_equal(pki_role_parse("admin"), PKI_ROLE_NONE);
    assert_int_equal(pki_role_parse(NULL), PKI_ROLE_NONE);
    assert_string_equal(pki_verdict_name(PKI_OK), "ok");
    assert_string_equal(pki_verdict_name(PKI_REVOKED), "revoked");
    assert_string_equal(pki_verdict_name(PKI_EXPIRED), "expired");
    assert_string_equal(pki_verdict_name(PKI_INVALID), "invalid");
}

static void
name_valid_at_limit_and_one_past(void **state)
{
    (void)state;
    char name[PKI_MAX_NAME + 2];
    memset(name, 'a', PKI_MAX_NAME);
    name[PKI_MAX_NAME] = 0;
    assert_int_equal(pki_name_valid(name), 1);
    name[PKI_MAX_NAME] = 'a';
    name[PKI_MAX_NAME + 1] = 0;
    assert_int_equal(pki_name_valid(name), 0);
    assert_int_equal(pki_name_valid(""), 0);
    assert_int_equal(pki_name_valid(NULL), 0);
    assert_int_equal(pki_name_valid("IT-01.registry_x"), 1);
    assert_int_equal(pki_name_valid("a b"), 0);
    assert_int_equal(pki_name_valid("a/b"), 0);
    assert_int_equal(pki_name_valid("a:b"), 0);
    assert_int_equal(pki_name_valid("\xc3\xa9"), 0);
}

static void
ca_cn_valid_at_limit_and_one_past(void **state)
{
    (void)state;
    char cn[CA_MAX_CN + 2];
    memset(cn, 'C', CA_MAX_CN);
    cn[CA_MAX_CN] = 0;
    assert_int_equal(ca_cn_valid(cn), 1);
    cn[CA_MAX_CN] = 'C';
    cn[CA_MAX_CN + 1] = 0;
    assert_int_equal(ca_cn_valid(cn), 0);
    assert_int_equal(ca_cn_valid("fedra CA"), 1);
    assert_int_equal(ca_cn_valid(" x"), 0);
    assert_int_equal(ca_cn_valid("a/b"), 0);
    assert_int_equal(ca_cn_valid(""), 0);
}

static void
format_time_is_iso_utc(void **state)
{
    (void)state;
    char ts[PKI_TIME_LEN];
    pki_format_time(0, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00Z");
    pki_format_time(T_2020_01_01 + 30 * DAY + 3661, ts);
    assert_string_equal(ts, "2020-01-31T01:01:01Z");
}

static void
sha256_matches_fips_vectors(void **state)
{
    (void)state;
    uint8_t h[32], h2[32];
    char hex[65];
    pki_sha256("abc", 3, h);
    util_hex(h, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    pki_sha256("", 0, h);
    util_hex(h, 32, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    pki_sha256_2("ab", 2, "c", 1, h2);
    pki_sha256("abc", 3, h);
    assert_memory_equal(h, h2, 32);
    pki_sha256_2("", 0, "abc", 3, h2);
    assert_memory_equal(h, h2, 32);
}

static void
sign_matches_rfc8032_test_1(void **state)
{
    (void)state;
    uint8_t sk[32], sig[PKI_SIG_LEN], want[PKI_SIG_LEN];
    assert_int_equal(util_unhex(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", sk, 32), 0);
    assert_int_equal(util_unhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b", want, 64), 0);
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
    struct pki_key *k = pki_key_wrap(pk);
    assert_non_null(k);
    assert_int_equal(pki_sign(k, (const uint8_t *)"", 0, sig), 0);
    assert_memory_equal(sig, want, PKI_SIG_LEN);
    pki_key_free(k);
    EVP_PKEY_free(pk);
    /* Only Ed25519 keys can be wrapped. */
    EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    assert_null(pki_key_wrap(x));
    EVP_PKEY_free(x);
}

static void
sign_verify_round_trip(void **state)
{
    struct fx *f = *state;
    const uint8_t msg[] = "fedra query v1: count by stage";
    uint8_t sig[PKI_SIG_LEN];
    assert_int_equal(pki_sign(f->alice_key, msg, sizeof msg, sig), 0);
    assert_int_equal(pki_check_sig(f->alice, msg, sizeof msg, sig, sizeof sig), 0);
    /* Someone else's certificate does not verify it. */
    assert_int_equal(pki_check_sig(f->de, msg, sizeof msg, sig, sizeof sig), -1);
    assert_int_equal(pki_key_matches_cert(f->alice_key, f->alice), 1);
    assert_int_equal(pki_key_matches_cert(f->alice_key, f->de), 0);
    assert_int_equal(pki_key_matches_cert(f->de_key, f->de), 1);
    /* Ed25519 is deterministic. */
    uint8_t sig2[PKI_SIG_LEN];
    assert_int_equal(pki_sign(f->alice_key, msg, sizeof msg, sig2), 0);
    assert_memory_equal(sig, sig2, PKI_SIG_LEN);
}

static void
bit_flip_in_signature_or_message_fails(void **state)
{
    struct fx *f = *state;
    uint8_t msg[64], sig[PKI_SIG_LEN];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(pki_sign(f->de_key, msg, sizeof msg, sig), 0);
    assert_int_equal(pki_check_sig(f->de, msg, sizeof msg, sig, sizeof sig), 0);
    for (size_t bit = 0; bit < 8 * PKI_SIG_LEN; bit++) {
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(pki_check_sig(f->de, msg, sizeof msg, sig, sizeof sig), -1);
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < 8 * sizeof msg; bit += 7) {
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(pki_check_sig(f->de, msg, sizeof msg, sig, sizeof sig), -1);
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* Wrong lengths: one short, one long, empty message. */
    assert_int_equal(pki_check_sig(f->de, msg, sizeof msg, sig, PKI_SIG_LEN - 1), -1);
    uint8_t longer[PKI_SIG_LEN + 1];
    memcpy(longer, sig, PKI_SIG_LEN);
    longer[PKI_SIG_LEN] = 0;
    assert_int_equal(pki_check_sig(f->de, msg, sizeof msg, longer, sizeof longer), -1);
    assert_int_equal(pki_check_sig(f->de, msg, 0, sig, sizeof sig), -1);
}

static void
roles_and_names_of_issued_certificates(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    assert_int_equal(pki_cert_role(f->de), PKI_ROLE_NODE);
    assert_int_equal(pki_cert_role(f->alice), PKI_ROLE_ANALYST);
    assert_string_equal(pki_cert_name(f->de), "DE");
    assert_string_equal(pki_cert_name(f->alice), "alice");
    assert_string_equal(pki_cert_subject_cn(f->alice), "alice");
    assert_int_equal(pki_verify(f->trust, f->de, PKI_ROLE_NODE, 0, err), PKI_OK);
    assert_int_equal(pki_verify(f->trust, f->alice, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    assert_int_equal(pki_verify(f->trust, f->alice, PKI_ROLE_NONE, 0, err), PKI_OK);
    /* Serial: 16 random bytes, positive, printed as openssl does. */
    const char *s = pki_cert_serial_hex(f->alice);
    assert_true(strlen(s) >= 2 && strlen(s) <= 32 && strlen(s) % 2 == 0);
    assert_true(strspn(s, "0123456789ABCDEF") == strlen(s));
    /* Validity: 365 days exactly. */
    assert_int_equal(pki_cert_not_after(f->alice) - pki_cert_not_before(f->alice),
        365 * DAY);
    /* The CA does not count as a role holder. */
    struct pki_cert *cac = NULL;
    assert_int_equal(pki_cert_load(f->ca_crt, &cac, err), 0);
    assert_int_equal(pki_cert_role(cac), PKI_ROLE_NONE);
    assert_null(pki_cert_name(cac));
    assert_string_equal(pki_cert_subject_cn(cac), "fedra test CA");
    assert_int_equal(pki_verify(f->trust, cac, PKI_ROLE_NONE, 0, err), PKI_BAD_ROLE);
    pki_cert_free(cac);
}

static void
node_certificate_cannot_pass_as_analyst(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", want[FEDRA_ERRLEN];
    assert_int_equal(pki_verify(f->trust, f->de, PKI_ROLE_ANALYST, 0, err), PKI_BAD_ROLE);
    snprintf(want, sizeof want, "certificate 'DE' (serial %s) has role node, but analyst is "
        "required", pki_cert_serial_hex(f->de));
    assert_string_equal(err, want);
    assert_int_equal(pki_verify(f->trust, f->alice, PKI_ROLE_NODE, 0, err), PKI_BAD_ROLE);
    snprintf(want, sizeof want, "certificate 'alice' (serial %s) has role analyst, but node "
        "is required", pki_cert_serial_hex(f->alice));
    assert_string_equal(err, want);
}

static void
expired_certificate_names_the_time(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", want[FEDRA_ERRLEN], serial[CA_SERIAL_LEN];
    issue(f, PKI_ROLE_ANALYST, "old", 30, T_2020_01_01, serial);
    struct pki_cert *c = load_leaf(f, "old");
    assert_int_equal(pki_cert_not_before(c), T_2020_01_01);
    assert_int_equal(pki_cert_not_after(c), T_2020_01_01 + 30 * DAY);
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_ANALYST, 0, err), PKI_EXPIRED);
    snprintf(want, sizeof want, "certificate 'old' (serial %s) expired at "
        "2020-01-31T00:00:00Z", serial);
    assert_string_equal(err, want);
    /* Before its start it is not yet valid; within its window it is fine. */
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_ANALYST, T_2019_12_01, err),
        PKI_NOT_YET_VALID);
    snprintf(want, sizeof want, "certificate 'old' (serial %s) is not valid before "
        "2020-01-01T00:00:00Z", serial);
    assert_string_equal(err, want);
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_ANALYST, T_2020_01_15, err), PKI_OK);
    pki_cert_free(c);
}

static void
not_yet_valid_certificate_is_refused_now(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    int64_t start = util_now_ms() / 1000 + 10 * DAY;
    issue(f, PKI_ROLE_NODE, "early", 30, start, NULL);
    struct pki_cert *c = load_leaf(f, "early");
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_NODE, 0, err), PKI_NOT_YET_VALID);
    assert_non_null(strstr(err, "certificate 'early'"));
    assert_non_null(strstr(err, "is not valid before"));
    /* Later it is fine (the fixture's 7-day CRL would have expired by then). */
    struct pki_trust *t = trust(f->ca_crt, NULL, 0, err);
    assert_int_equal(pki_verify(t, c, PKI_ROLE_NODE, start + DAY, err), PKI_OK);
    pki_trust_free(t);
    pki_cert_free(c);
}

static void
revoked_certificate_names_revocation_time_and_reason(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", want[FEDRA_ERRLEN], serial[CA_SERIAL_LEN];
    char *crl = pathf(f, "crl-bob.pem");
    struct ca_revoked rv;
    int64_t num = 0, revoked_at = util_now_ms() / 1000 - 3600;
    issue(f, PKI_ROLE_ANALYST, "bob", 365, 0, serial);
    struct pki_cert *c = load_leaf(f, "bob");
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    assert_int_equal(ca_revoke(f->ca_h, "bob", NULL, "keyCompromise", revoked_at, &rv, err), 0);
    assert_string_equal(rv.serial, serial);
    assert_string_equal(rv.cn, "bob");
    assert_int_equal(rv.others, 0);
    assert_int_equal(ca_crl(f->ca_h, crl, 7, 0, &num, err), 0);
    struct pki_trust *t = trust(f->ca_crt, crl, 1, err);
    assert_int_equal(pki_trust_crl_number(t), num);
    assert_int_equal(pki_verify(t, c, PKI_ROLE_ANALYST, 0, err), PKI_REVOKED);
    char ts[PKI_TIME_LEN];
    pki_format_time(revoked_at, ts);
    snprintf(want, sizeof want, "certificate 'bob' (serial %s) was revoked at %s "
        "(reason keyCompromise) (CRL number %lld of 'fedra test CA')", serial, ts,
        (long long)num);
    assert_string_equal(err, want);
    /* Others on the same CRL are unaffected. */
    assert_int_equal(pki_verify(t, f->alice, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    /* Revoking again is refused and says when it happened. */
    assert_int_equal(ca_revoke(f->ca_h, NULL, serial, NULL, 0, &rv, err), -1);
    assert_non_null(strstr(err, "already revoked at"));
    pki_trust_free(t);
    pki_cert_free(c);
    free(crl);
}

static void
revoke_by_name_takes_newest_and_serial_is_normalised(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", s1[CA_SERIAL_LEN], s2[CA_SERIAL_LEN], low[CA_SERIAL_LEN + 4];
    struct ca_revoked rv;
    char *out2 = pathf(f, "out2");
    mkdir(out2, 0755);
    issue(f, PKI_ROLE_ANALYST, "carol", 365, 0, s1);
    struct ca_issue_req req = { .role = PKI_ROLE_ANALYST, .name = "carol", .out_dir = out2,
        .days = 365 };
    assert_int_equal(ca_issue(f->ca_h, &req, s2, err), 0);
    assert_string_not_equal(s1, s2);
    assert_int_equal(ca_revoke(f->ca_h, "carol", NULL, NULL, 0, &rv, err), 0);
    assert_string_equal(rv.serial, s2);
    assert_int_equal(rv.others, 1);
    /* The older one by serial, spelled "0x00" + lowercase. */
    snprintf(low, sizeof low, "0x00%s", s1);
    for (char *p = low; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    assert_int_equal(ca_revoke(f->ca_h, NULL, low, "superseded", 0, &rv, err), 0);
    assert_string_equal(rv.serial, s1);
    assert_int_equal(ca_revoke(f->ca_h, "carol", NULL, NULL, 0, &rv, err), -1);
    assert_non_null(strstr(err, "no valid certificate named 'carol'"));
    assert_int_equal(ca_revoke(f->ca_h, NULL, "zz", NULL, 0, &rv, err), -1);
    assert_non_null(strstr(err, "invalid serial 'zz'"));
    assert_int_equal(ca_revoke(f->ca_h, "x", NULL, "privilegeWithdrawn", 0, &rv, err), -1);
    assert_non_null(strstr(err, "unknown revocation reason"));
    free(out2);
}

static void
no_crl_fails_closed(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    struct pki_trust *t = trust(f->ca_crt, NULL, 1, err);
    assert_int_equal(pki_trust_crl_number(t), -1);
    assert_int_equal(pki_trust_crl_next_update(t), -1);
    assert_int_equal(pki_verify(t, f->alice, PKI_ROLE_ANALYST, 0, err), PKI_NO_CRL);
    assert_non_null(strstr(err, "no CRL from 'fedra test CA'"));
    assert_non_null(strstr(err, "'alice'"));
    pki_trust_free(t);
    /* Without require_crl and without CRLs: chain and role only. */
    t = trust(f->ca_crt, NULL, 0, err);
    assert_int_equal(pki_verify(t, f->alice, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    pki_trust_free(t);
}

static void
expired_crl_fails_closed(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    char *crl = pathf(f, "crl-old.pem");
    int64_t num;
    /* A CRL from 2019-06-01 valid for 7 days. */
    assert_int_equal(ca_crl(f->ca_h, crl, 7, T_2019_06_01, &num, err), 0);
    struct pki_trust *t = trust(f->ca_crt, crl, 1, err);
    assert_int_equal(pki_trust_crl_next_update(t), T_2019_06_01 + 7 * DAY);
    assert_int_equal(pki_verify(t, f->alice, PKI_ROLE_ANALYST, 0, err), PKI_CRL_EXPIRED);
    assert_non_null(strstr(err, "the CRL from 'fedra test CA'"));
    assert_non_null(strstr(err, "expired at 2019-06-08T00:00:00Z"));
    /* Even without require_crl, an expired CRL is not ignored. */
    pki_trust_free(t);
    t = trust(f->ca_crt, crl, 0, err);
    assert_int_equal(pki_verify(t, f->alice, PKI_ROLE_ANALYST, 0, err), PKI_CRL_EXPIRED);
    pki_trust_free(t);
    /* The fixture's 7-day CRL has expired 8 days from now. */
    int64_t later = util_now_ms() / 1000 + 8 * DAY;
    assert_int_equal(pki_verify(f->trust, f->alice, PKI_ROLE_ANALYST, later, err),
        PKI_CRL_EXPIRED);
    assert_int_equal(pki_verify(f->trust, f->alice, PKI_ROLE_ANALYST,
        util_now_ms() / 1000 + 6 * DAY, err), PKI_OK);
    free(crl);
}

static void
newest_crl_wins_in_either_order(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", serial[CA_SERIAL_LEN];
    char *old = pathf(f, "crl-a.pem"), *newer = pathf(f, "crl-b.pem");
    char *both1 = pathf(f, "crl-ab.pem"), *both2 = pathf(f, "crl-ba.pem");
    struct ca_revoked rv;
    int64_t n1, n2;
    int64_t now = util_now_ms() / 1000;
    issue(f, PKI_ROLE_ANALYST, "dave", 365, 0, serial);
    struct pki_cert *c = load_leaf(f, "dave");
    /* Same lastUpdate second on purpose: only the CRL number can order them. */
    assert_int_equal(ca_crl(f->ca_h, old, 7, now, &n1, err), 0);
    assert_int_equal(ca_revoke(f->ca_h, "dave", NULL, NULL, 0, &rv, err), 0);
    assert_int_equal(ca_crl(f->ca_h, newer, 7, now, &n2, err), 0);
    assert_int_equal(n2, n1 + 1);
    uint8_t *a, *b;
    size_t al, bl;
    assert_int_equal(util_read_file(old, PKI_MAX_FILE, &a, &al, err), 0);
    assert_int_equal(util_read_file(newer, PKI_MAX_FILE, &b, &bl, err), 0);
    struct buf ab = {0}, ba = {0};
    buf_append(&ab, a, al);
    buf_append(&ab, b, bl);
    buf_append(&ba, b, bl);
    buf_append(&ba, a, al);
    assert_int_equal(util_write_file(both1, ab.p, ab.len, 0644, err), 0);
    assert_int_equal(util_write_file(both2, ba.p, ba.len, 0644, err), 0);
    struct pki_trust *t1 = trust(f->ca_crt, both1, 1, err);
    struct pki_trust *t2 = trust(f->ca_crt, both2, 1, err);
    assert_int_equal(pki_trust_crl_number(t1), n2);
    assert_int_equal(pki_trust_crl_number(t2), n2);
    assert_int_equal(pki_verify(t1, c, PKI_ROLE_ANALYST, 0, err), PKI_REVOKED);
    assert_int_equal(pki_verify(t2, c, PKI_ROLE_ANALYST, 0, err), PKI_REVOKED);
    pki_trust_free(t1);
    pki_trust_free(t2);
    buf_release(&ab);
    buf_release(&ba);
    free(a);
    free(b);
    free(old);
    free(newer);
    free(both1);
    free(both2);
    pki_cert_free(c);
}

static void
crl_in_der_is_accepted(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    char *der = pathf(f, "crl.der");
    uint8_t *pem;
    size_t pl;
    assert_int_equal(util_read_file(f->crl, PKI_MAX_FILE, &pem, &pl, err), 0);
    BIO *bio = BIO_new_mem_buf(pem, (int)pl);
    X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    assert_non_null(crl);
    unsigned char *d = NULL;
    int dl = i2d_X509_CRL(crl, &d);
    assert_true(dl > 0);
    assert_int_equal(util_write_file(der, d, (size_t)dl, 0644, err), 0);
    struct pki_trust *t = trust(f->ca_crt, der, 1, err);
    assert_int_equal(pki_trust_crl_number(t), pki_trust_crl_number(f->trust));
    assert_int_equal(pki_verify(t, f->de, PKI_ROLE_NODE, 0, err), PKI_OK);
    pki_trust_free(t);
    OPENSSL_free(d);
    X509_CRL_free(crl);
    BIO_free(bio);
    free(pem);
    free(der);
}

static void
unknown_ca_is_named(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", serial[CA_SERIAL_LEN];
    char *dir2 = pathf(f, "ca-other"), *crl2 = pathf(f, "crl-other.pem");
    char *ca2crt = pathf(f, "ca-other/ca.crt"), *both = pathf(f, "two-roots.pem");
    struct ca *ca2 = NULL;
    int64_t num;
    assert_int_equal(ca_init(dir2, "other CA", 365, 0, err), 0);
    assert_int_equal(ca_open(dir2, &ca2, err), 0);
    struct ca_issue_req req = { .role = PKI_ROLE_ANALYST, .name = "mallory",
        .out_dir = f->out, .days = 30 };
    assert_int_equal(ca_issue(ca2, &req, serial, err), 0);
    assert_int_equal(ca_crl(ca2, crl2, 7, 0, &num, err), 0);
    struct pki_cert *m = load_leaf(f, "mallory");
    assert_int_equal(pki_verify(f->trust, m, PKI_ROLE_ANALYST, 0, err), PKI_UNKNOWN_CA);
    char want[FEDRA_ERRLEN];
    snprintf(want, sizeof want, "certificate 'mallory' (serial %s) was not issued by the "
        "federation CA 'fedra test CA' (its issuer is 'other CA'; an issuing CA's certificate "
        "must follow the leaf in its .crt file)", serial);
    assert_string_equal(err, want);
    /* A CRL from the other CA is refused outright. */
    struct pki_trust *t = NULL;
    assert_int_equal(pki_trust_load(f->ca_crt, crl2, 1, &t, err), -1);
    assert_null(t);
    assert_non_null(strstr(err, "not signed by any CA"));
    /* Both roots in one file: both kinds of certificate chain. */
    uint8_t *a, *b;
    size_t al, bl;
    struct buf ab = {0};
    assert_int_equal(util_read_file(f->ca_crt, PKI_MAX_FILE, &a, &al, err), 0);
    assert_int_equal(util_read_file(ca2crt, PKI_MAX_FILE, &b, &bl, err), 0);
    buf_append(&ab, a, al);
    buf_append(&ab, b, bl);
    assert_int_equal(util_write_file(both, ab.p, ab.len, 0644, err), 0);
    t = trust(both, NULL, 0, err);
    assert_int_equal(pki_verify(t, m, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    assert_int_equal(pki_verify(t, f->alice, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    pki_trust_free(t);
    /* A leaf is not a trust anchor. */
    char *alice = leaf_path(f, "alice", "crt");
    assert_int_equal(pki_trust_load(alice, NULL, 0, &t, err), -1);
    assert_non_null(strstr(err, "not a CA certificate"));
    free(alice);
    buf_release(&ab);
    free(a);
    free(b);
    pki_cert_free(m);
    ca_free(ca2);
    free(dir2);
    free(crl2);
    free(ca2crt);
    free(both);
}

static void
key_readable_by_others_is_refused(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", want[FEDRA_ERRLEN];
    struct pki_key *k = NULL;
    char *p = leaf_path(f, "alice", "key");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(pki_key_load(p, &k, err), -1);
    assert_null(k);
    snprintf(want, sizeof want, "key file '%s' is readable by others (mode 0644); "
        "run chmod 600 %s", p, p);
    assert_string_equal(err, want);
    assert_int_equal(chmod(p, 0640), 0);
    assert_int_equal(pki_key_load(p, &k, err), -1);
    assert_non_null(strstr(err, "readable by its group (mode 0640)"));
    assert_int_equal(chmod(p, 0400), 0);
    assert_int_equal(pki_key_load(p, &k, err), 0);
    assert_int_equal(pki_key_matches_cert(k, f->alice), 1);
    pki_key_free(k);
    assert_int_equal(chmod(p, 0600), 0);
    free(p);
}

static void
key_files_that_are_not_ed25519_keys_are_refused(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    struct pki_key *k = NULL;
    char *p = pathf(f, "x.key");
    /* A P-256 key, PKCS#8 PEM, mode 0600. */
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    assert_int_equal(PEM_write_bio_PrivateKey(b, ec, NULL, NULL, 0, NULL, NULL), 1);
    long n = BIO_get_mem_data(b, &data);
    assert_int_equal(util_write_file(p, data, (size_t)n, 0600, err), 0);
    assert_int_equal(pki_key_load(p, &k, err), -1);
    assert_non_null(strstr(err, "fedra keys are Ed25519"));
    /* An encrypted key fails without prompting. */
    BIO_free(b);
    unlink(p);
    b = BIO_new(BIO_s_mem());
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_int_equal(PEM_write_bio_PrivateKey(b, ed, EVP_aes_256_cbc(),
        (const unsigned char *)"pw", 2, NULL, NULL), 1);
    n = BIO_get_mem_data(b, &data);
    assert_int_equal(util_write_file(p, data, (size_t)n, 0600, err), 0);
    assert_int_equal(pki_key_load(p, &k, err), -1);
    assert_non_null(strstr(err, "is encrypted"));
    unlink(p);
    assert_int_equal(util_write_file(p, "junk", 4, 0600, err), 0);
    assert_int_equal(pki_key_load(p, &k, err), -1);
    assert_non_null(strstr(err, "holds no private key"));
    unlink(p);
    assert_int_equal(pki_key_load(p, &k, err), -1);
    assert_non_null(strstr(err, "cannot open key file"));
    EVP_PKEY_free(ed);
    EVP_PKEY_free(ec);
    BIO_free(b);
    free(p);
    ERR_clear_error();
}

static void
curve_secret_matches_openssl_cli_and_libzmq(void **state)
{
    (void)state;
    uint8_t raw[32], secret[32], pub[32], want[32], zpub[32];
    char zsec[41], zpubtxt[41];
    for (int i = 0; i < 32; i++)
        raw[i] = (uint8_t)i;
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, 32);
    struct pki_key *k = pki_key_wrap(pk);
    assert_int_equal(pki_key_curve_secret(k, secret), 0);
    /* openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:0001..1f
     *     -kdfopt info:fedra/curve-key/v1 HKDF */
    assert_int_equal(util_unhex(
        "4441c60189d637277f8e3f438ac36adc18f30e22c31cf15f1ad0d6b25c14b3dc", want, 32), 0);
    assert_memory_equal(secret, want, 32);
    assert_int_equal(pki_curve_public(secret, pub), 0);
    /* openssl pkey -pubout of the X25519 key with that secret */
    assert_int_equal(util_unhex(
        "6e8055dc197f3b6828e5596b168f3eed1510a23b73f46c964fae8f1ee450f56f", want, 32), 0);
    assert_memory_equal(pub, want, 32);
    /* libzmq derives the same public key from the Z85 secret. */
    assert_non_null(zmq_z85_encode(zsec, secret, 32));
    assert_int_equal(zmq_curve_public(zpubtxt, zsec), 0);
    assert_non_null(zmq_z85_decode(zpub, zpubtxt));
    assert_memory_equal(zpub, pub, 32);
    pki_key_free(k);
    EVP_PKEY_free(pk);
}

static void
node_certificate_binds_the_derived_curve_key(void **state)
{
    struct fx *f = *state;
    uint8_t secret[32], pub[32], incert[32], zpub[32];
    char zsec[41], zpubtxt[41];
    assert_int_equal(pki_key_curve_secret(f->de_key, secret), 0);
    assert_int_equal(pki_curve_public(secret, pub), 0);
    assert_int_equal(pki_cert_curve_key(f->de, incert), 0);
    assert_memory_equal(pub, incert, 32);
    assert_non_null(zmq_z85_encode(zsec, secret, 32));
    assert_int_equal(zmq_curve_public(zpubtxt, zsec), 0);
    assert_non_null(zmq_z85_decode(zpub, zpubtxt));
    assert_memory_equal(zpub, incert, 32);
    /* Analysts bind theirs too: nodes behind a hub seal answers to it (DESIGN.md). */
    uint8_t other[32], opub[32];
    assert_int_equal(pki_cert_curve_key(f->alice, incert), 0);
    assert_int_equal(pki_key_curve_secret(f->alice_key, other), 0);
    assert_int_equal(pki_curve_public(other, opub), 0);
    assert_memory_equal(opub, incert, 32);
    /* Two different keys give two different secrets. */
    assert_memory_not_equal(other, secret, 32);
}

static void
curve_key_extension_must_be_one_32_byte_octet_string(void **state)
{
    struct fx *f = *state;
    uint8_t out[32];
    char v32[200], v31[200], v33[200];
    /* extnValue is raw DER here: 04 20 + 32 bytes, 04 1f + 31, 04 21 + 33. */
    struct buf b = {0};
    buf_puts(&b, "DER:0420");
    for (int i = 0; i < 32; i++)
        buf_puts(&b, "ab");
    snprintf(v32, sizeof v32, "%s", (const char *)b.p);
    buf_release(&b);
    buf_puts(&b, "DER:041f");
    for (int i = 0; i < 31; i++)
        buf_puts(&b, "ab");
    snprintf(v31, sizeof v31, "%s", (const char *)b.p);
    buf_release(&b);
    buf_puts(&b, "DER:0420");
    for (int i = 0; i < 32; i++)
        buf_puts(&b, "ab");
    buf_puts(&b, "00");         /* one trailing byte */
    snprintf(v33, sizeof v33, "%s", (const char *)b.p);
    buf_release(&b);
    const struct ext good[] = { GOOD_LEAF(NODE_EKU, "URI:urn:fedra:node:X"),
        { PKI_OID_CURVE_KEY, v32 } };
    struct pki_cert *c = custom_cert(f, good, 7);
    assert_int_equal(pki_cert_curve_key(c, out), 0);
    for (int i = 0; i < 32; i++)
        assert_int_equal(out[i], 0xab);
    pki_cert_free(c);
    const struct ext short_[] = { GOOD_LEAF(NODE_EKU, "URI:urn:fedra:node:X"),
        { PKI_OID_CURVE_KEY, v31 } };
    c = custom_cert(f, short_, 7);
    assert_int_equal(pki_cert_curve_key(c, out), -1);
    pki_cert_free(c);
    const struct ext trailing[] = { GOOD_LEAF(NODE_EKU, "URI:urn:fedra:node:X"),
        { PKI_OID_CURVE_KEY, v33 } };
    c = custom_cert(f, trailing, 7);
    assert_int_equal(pki_cert_curve_key(c, out), -1);
    pki_cert_free(c);
    const struct ext twice[] = { GOOD_LEAF(NODE_EKU, "URI:urn:fedra:node:X"),
        { PKI_OID_CURVE_KEY, v32 }, { PKI_OID_CURVE_KEY, v32 } };
    c = custom_cert(f, twice, 8);
    assert_int_equal(pki_cert_curve_key(c, out), -1);
    pki_cert_free(c);
}

static void
role_needs_key_usage_ca_false_and_one_critical_role_eku(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    struct pki_cert *c;

    const struct ext good[] = { GOOD_LEAF(ANALYST_EKU, "URI:urn:fedra:analyst:eve") };
    c = custom_cert(f, good, 6);
    assert_int_equal(pki_cert_role(c), PKI_ROLE_ANALYST);
    assert_string_equal(pki_cert_name(c), "eve");
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    pki_cert_free(c);

    const struct ext noncrit[] = {
        { "basicConstraints", "critical,CA:FALSE" },
        { "keyUsage", "critical,digitalSignature" },
        { "extendedKeyUsage", PKI_OID_ROLE_ANALYST },
        { "subjectAltName", "URI:urn:fedra:analyst:eve" },
        { "authorityKeyIdentifier", "keyid:always" } };
    c = custom_cert(f, noncrit, 5);
    assert_int_equal(pki_cert_role(c), PKI_ROLE_NONE);
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_ANALYST, 0, err), PKI_BAD_ROLE);
    assert_non_null(strstr(err, "carries no valid fedra role"));
    pki_cert_free(c);

    const struct ext anyeku[] = {
        GOOD_LEAF("critical,anyExtendedKeyUsage," PKI_OID_ROLE_ANALYST,
            "URI:urn:fedra:analyst:eve") };
    c = custom_cert(f, anyeku, 6);
    assert_int_equal(pki_cert_role(c), PKI_ROLE_NONE);
    pki_cert_free(c);

    const struct ext tworoles[] = {
        GOOD_LEAF("critical," PKI_OID_ROLE_NODE "," PKI_OID_ROLE_ANALYST,
            "URI:urn:fedra:analyst:eve") };
    c = custom_cert(f, tworoles, 6);
    assert_int_equal(pki_cert_role(c), PKI_ROLE_NONE);
    pki_cert_free(c);

    const struct ext otheroid[] = { GOOD_LEAF("critical,clientAuth",
        "URI:urn:fedra:analyst:eve") };
    c = custom_cert(f, otheroid, 6);
    assert_int_equal(pki_cert_role(c), PKI_ROLE_NONE);
    pki_cert_free(c);

    const struct ext noku[] = {
        { "basicConstraints", "critical,CA:FALSE" },
        { "extendedKeyUsage", ANALYST_EKU },
        { "subjectAltName", "URI:urn:fedra:analyst:eve" },
        { "authorityKeyIdentifier", "keyid:always" } };
    c = custom_cert(f, noku, 4);
    assert_int_equal(pki_cert_role(c), PKI_ROLE_NONE);
    pki_cert_free(c);

    const struct ext kuwrong[] = {
        { "basicConstraints", "critical,CA:FALSE" },
        { "keyUsage", "critical,keyEncipherment" },
        { "extendedKeyUsage", ANALYST_EKU },
        { "subjectAltName", "URI:urn:fedra:analyst:eve" },
        { "authorityKeyIdentifier", "keyid:always" } };
    c = custom_cert(f, kuwrong, 5);
    assert_int_equal(pki_cert_role(c), PKI_ROLE_NONE);
    pki_cert_free(c);

    const struct ext kucrl[] = {
        { "basicConstraints", "critical,CA:FALSE" },
        { "keyUsage", "critical,digitalSignature,cRLSign" },
        { "extendedKeyUsage", ANALYST_EKU },
        { "subjectAltName", "URI:urn:fedra:analyst:eve" },
        { "authorityKeyIdentifier", "keyid:always" } };
    c = custom_cert(f, kucrl, 5);
    assert_int_equal(pki_cert_role(c), PKI_ROLE_NONE);
    pki_cert_free(c);

    const struct ext isca[] = {
        { "basicConstraints", "critical,CA:TRUE" },
        { "keyUsage", "critical,digitalSignature" },
        { "extendedKeyUsage", ANALYST_EKU },
        { "subjectAltName", "URI:urn:fedra:analyst:eve" },
        { "subjectKeyIdentifier", "hash" },
        { "authorityKeyIdentifier", "keyid:always" } };
    c = custom_cert(f, isca, 6);
    assert_int_equal(pki_cert_role(c), PKI_ROLE_NONE);
    pki_cert_free(c);
}

static void
name_needs_exactly_one_uri_with_the_role(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", v[256];
    char n64[PKI_MAX_NAME + 1], n65[PKI_MAX_NAME + 2];
    struct pki_cert *c;
    memset(n64, 'n', PKI_MAX_NAME);
    n64[PKI_MAX_NAME] = 0;
    memset(n65, 'n', PKI_MAX_NAME + 1);
    n65[PKI_MAX_NAME + 1] = 0;

    snprintf(v, sizeof v, "URI:urn:fedra:analyst:%s", n64);
    const struct ext at_limit[] = { GOOD_LEAF(ANALYST_EKU, v) };
    c = custom_cert(f, at_limit, 6);
    assert_string_equal(pki_cert_name(c), n64);
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    pki_cert_free(c);

    snprintf(v, sizeof v, "URI:urn:fedra:analyst:%s", n65);
    const struct ext past_limit[] = { GOOD_LEAF(ANALYST_EKU, v) };
    c = custom_cert(f, past_limit, 6);
    assert_null(pki_cert_name(c));
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_ANALYST, 0, err), PKI_INVALID);
    assert_non_null(strstr(err, "has no valid name"));
    pki_cert_free(c);

    static const char *const bad[] = {
        "URI:urn:fedra:node:eve",               /* role in the URI is not the EKU's */
        "URI:urn:fedra:analyst:",               /* empty name */
        "URI:urn:fedra:analyst:e/ve",           /* bad character */
        "URI:urn:fedra:analyst:eve,URI:urn:fedra:analyst:bob",  /* two URIs */
        "URI:urn:other:analyst:eve",            /* wrong prefix */
        "email:eve@example.org",                /* no URI at all */
        "URI:URN:FEDRA:analyst:eve",            /* prefix is case-sensitive */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct ext e[] = { GOOD_LEAF(ANALYST_EKU, bad[i]) };
        c = custom_cert(f, e, 6);
        if (pki_cert_name(c) != NULL)
            fail_msg("'%s' gave name '%s'", bad[i], pki_cert_name(c));
        pki_cert_free(c);
    }
    /* A DNS name next to the one URI is fine. */
    const struct ext withdns[] = { GOOD_LEAF(ANALYST_EKU,
        "DNS:eve.example.org,URI:urn:fedra:analyst:eve") };
    c = custom_cert(f, withdns, 6);
    assert_string_equal(pki_cert_name(c), "eve");
    pki_cert_free(c);
    /* The CN is only for messages. */
    const struct ext nosan[] = {
        { "basicConstraints", "critical,CA:FALSE" },
        { "keyUsage", "critical,digitalSignature" },
        { "extendedKeyUsage", ANALYST_EKU },
        { "authorityKeyIdentifier", "keyid:always" } };
    c = custom_cert(f, nosan, 4);
    assert_null(pki_cert_name(c));
    assert_string_equal(pki_cert_subject_cn(c), "custom");
    pki_cert_free(c);
}

/* A DER certificate of exactly target bytes, padded with a private extension. */
static uint8_t *
cert_of_size(struct fx *f, size_t target, size_t *len)
{
    const struct ext e[] = { GOOD_LEAF(ANALYST_EKU, "URI:urn:fedra:analyst:big") };
    size_t pad = target > 700 ? target - 700 : 1;
    for (int tries = 0; tries < 20; tries++) {
        uint8_t *p = xcalloc(1, pad);
        X509 *x = custom_x509(f, e, 6, p, pad);
        free(p);
        unsigned char *der = NULL;
        int n = i2d_X509(x, &der);
        X509_free(x);
        assert_true(n > 0);
        if ((size_t)n == target) {
            uint8_t *out = xmalloc((size_t)n);
            memcpy(out, der, (size_t)n);
            OPENSSL_free(der);
            *len = (size_t)n;
            return out;
        }
        OPENSSL_free(der);
        /* Length octets may grow by one at a threshold; step and retry. */
        if ((size_t)n > target)
            pad -= ((size_t)n - target) > pad ? pad - 1 : ((size_t)n - target);
        else
            pad += target - (size_t)n;
    }
    fail_msg("cannot build a certificate of %zu bytes", target);
    return NULL;
}

static void
cert_der_at_limit_and_one_past(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    struct pki_cert *c = NULL;
    size_t n;
    uint8_t *der = cert_of_size(f, PKI_MAX_CERT_DER, &n);
    assert_int_equal(n, PKI_MAX_CERT_DER);
    assert_int_equal(pki_cert_from_der(der, n, &c, err), 0);
    size_t got;
    const uint8_t *back = pki_cert_der(c, &got);
    assert_int_equal(got, n);
    assert_memory_equal(back, der, n);
    uint8_t fp[32], want[32];
    pki_sha256(der, n, want);
    pki_cert_fingerprint(c, fp);
    assert_memory_equal(fp, want, 32);
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    pki_cert_free(c);
    /* The same from a DER file. */
    char *p = pathf(f, "big.der");
    assert_int_equal(util_write_file(p, der, n, 0644, err), 0);
    assert_int_equal(pki_cert_load(p, &c, err), 0);
    pki_cert_free(c);
    free(der);

    der = cert_of_size(f, PKI_MAX_CERT_DER + 1, &n);
    assert_int_equal(n, PKI_MAX_CERT_DER + 1);
    c = NULL;
    assert_int_equal(pki_cert_from_der(der, n, &c, err), -1);
    assert_null(c);
    assert_non_null(strstr(err, "8193 bytes"));
    unlink(p);
    assert_int_equal(util_write_file(p, der, n, 0644, err), 0);
    assert_int_equal(pki_cert_load(p, &c, err), -1);
    assert_null(c);
    free(der);
    free(p);
    assert_int_equal(pki_cert_from_der((const uint8_t *)"", 0, &c, err), -1);
}

static void
der_must_be_exact_and_canonical(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    struct pki_cert *c = NULL;
    size_t n;
    const uint8_t *der = pki_cert_der(f->alice, &n);
    uint8_t *buf = xmalloc(n + 1);
    memcpy(buf, der, n);
    buf[n] = 0;
    assert_int_equal(pki_cert_from_der(buf, n + 1, &c, err), -1);
    assert_non_null(strstr(err, "trailing"));
    assert_int_equal(pki_cert_from_der(buf, n - 1, &c, err), -1);
    assert_non_null(strstr(err, "malformed"));
    assert_int_equal(pki_cert_from_der(buf, n, &c, err), 0);
    pki_cert_free(c);
    /* A tampered signature still parses but fails the chain. */
    buf[n - 1] ^= 1;
    assert_int_equal(pki_cert_from_der(buf, n, &c, err), 0);
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_ANALYST, 0, err), PKI_INVALID);
    assert_non_null(strstr(err, "does not verify"));
    pki_cert_free(c);
    free(buf);
}

static void
file_at_size_limit_and_one_past(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    struct pki_cert *c = NULL;
    uint8_t *pem;
    size_t pl;
    char *src = leaf_path(f, "alice", "crt"), *p = pathf(f, "padded.pem");
    assert_int_equal(util_read_file(src, PKI_MAX_FILE, &pem, &pl, err), 0);
    uint8_t *big = xmalloc(PKI_MAX_FILE + 1);
    memset(big, '\n', PKI_MAX_FILE + 1);
    memcpy(big, pem, pl);
    assert_int_equal(util_write_file(p, big, PKI_MAX_FILE, 0644, err), 0);
    assert_int_equal(pki_cert_load(p, &c, err), 0);
    assert_string_equal(pki_cert_name(c), "alice");
    pki_cert_free(c);
    c = NULL;
    unlink(p);
    assert_int_equal(util_write_file(p, big, PKI_MAX_FILE + 1, 0644, err), 0);
    assert_int_equal(pki_cert_load(p, &c, err), -1);
    assert_non_null(strstr(err, "larger than"));
    unlink(p);
    free(big);
    free(pem);
    free(src);
    free(p);
}

static void
ca_refuses_overwrites_and_bad_requests(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", serial[CA_SERIAL_LEN];
    struct ca_issue_req req = { .role = PKI_ROLE_NODE, .name = "DE", .out_dir = f->out,
        .days = 30 };
    assert_int_equal(ca_issue(f->ca_h, &req, serial, err), -1);
    assert_non_null(strstr(err, "already exists"));
    assert_non_null(strstr(err, "DE.key"));
    assert_int_equal(ca_init(f->ca, "again", 30, 0, err), -1);
    assert_non_null(strstr(err, "a CA already exists"));
    req.name = "new-one";
    req.days = CA_MAX_DAYS + 1;
    assert_int_equal(ca_issue(f->ca_h, &req, serial, err), -1);
    assert_non_null(strstr(err, "invalid validity"));
    req.days = 0;
    assert_int_equal(ca_issue(f->ca_h, &req, serial, err), -1);
    req.days = 30;
    req.role = PKI_ROLE_NONE;
    assert_int_equal(ca_issue(f->ca_h, &req, serial, err), -1);
    assert_non_null(strstr(err, "invalid role"));
    req.role = PKI_ROLE_NODE;
    req.name = "bad name";
    assert_int_equal(ca_issue(f->ca_h, &req, serial, err), -1);
    assert_non_null(strstr(err, "invalid name"));
    /* Nothing was written for the refused requests. */
    char *k = leaf_path(f, "new-one", "key");
    struct stat st;
    assert_int_equal(stat(k, &st), -1);
    free(k);
    /* A second process cannot open a CA that is in use. */
    struct ca *again = NULL;
    assert_int_equal(ca_open(f->ca, &again, err), -1);
    assert_non_null(strstr(err, "in use"));
    /* init's --days limits: the CA at CA_MAX_DAYS exists (fixture); one past fails. */
    char *d = pathf(f, "ca-toolong");
    assert_int_equal(ca_init(d, "x", CA_MAX_DAYS + 1, 0, err), -1);
    assert_non_null(strstr(err, "invalid validity"));
    assert_int_equal(ca_init(d, "bad/name", 30, 0, err), -1);
    free(d);
}

static void
leaf_cannot_outlive_the_ca(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", serial[CA_SERIAL_LEN];
    char *d = pathf(f, "ca-short");
    struct ca *c = NULL;
    assert_int_equal(ca_init(d, "short CA", 10, 0, err), 0);
    assert_int_equal(ca_open(d, &c, err), 0);
    struct ca_issue_req req = { .role = PKI_ROLE_ANALYST, .name = "x1", .out_dir = f->out,
        .days = 11 };
    assert_int_equal(ca_issue(c, &req, serial, err), -1);
    assert_non_null(strstr(err, "would outlive the CA"));
    req.days = 9;
    assert_int_equal(ca_issue(c, &req, serial, err), 0);
    ca_free(c);
    free(d);
}

static void
ca_key_with_open_mode_is_refused(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    char *d = pathf(f, "ca-mode"), *k = pathf(f, "ca-mode/ca.key");
    struct ca *c = NULL;
    assert_int_equal(ca_init(d, "mode CA", 10, 0, err), 0);
    struct stat st;
    assert_int_equal(stat(k, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(chmod(k, 0644), 0);
    assert_int_equal(ca_open(d, &c, err), -1);
    assert_non_null(strstr(err, "(mode 0644); run chmod 600"));
    free(d);
    free(k);
}

static void
index_lines_follow_openssl(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", serial[CA_SERIAL_LEN], want[256];
    struct ca_revoked rv;
    uint8_t *data;
    size_t n;
    char *idx = pathf(f, "ca/index.txt");
    /* notAfter 2020-01-01 + 30 days = 2020-01-31 00:00:00 -> UTCTime 200131000000Z */
    issue(f, PKI_ROLE_ANALYST, "idx", 30, T_2020_01_01, serial);
    assert_int_equal(util_read_file(idx, CA_MAX_INDEX, &data, &n, err), 0);
    snprintf(want, sizeof want, "V\t200131000000Z\t\t%s\tunknown\t/O=fedra/CN=idx\n", serial);
    assert_non_null(strstr((char *)data, want));
    free(data);
    /* Revoked 2020-01-15 00:00:00 with a reason. */
    assert_int_equal(ca_revoke(f->ca_h, NULL, serial, "cessationOfOperation", T_2020_01_15,
        &rv, err), 0);
    assert_int_equal(util_read_file(idx, CA_MAX_INDEX, &data, &n, err), 0);
    snprintf(want, sizeof want, "R\t200131000000Z\t200115000000Z,cessationOfOperation\t%s"
        "\tunknown\t/O=fedra/CN=idx\n", serial);
    assert_non_null(strstr((char *)data, want));
    free(data);
    /* The copy in certs/ is the issued certificate. */
    char *copy = NULL;
    struct buf b = {0};
    buf_printf(&b, "%s/certs/%s.pem", f->ca, serial);
    copy = buf_detach(&b);
    struct pki_cert *c1 = NULL, *c2 = load_leaf(f, "idx");
    assert_int_equal(pki_cert_load(copy, &c1, err), 0);
    size_t l1, l2;
    const uint8_t *d1 = pki_cert_der(c1, &l1), *d2 = pki_cert_der(c2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(d1, d2, l1);
    pki_cert_free(c1);
    pki_cert_free(c2);
    free(copy);
    free(idx);
}

static void
crl_numbers_increase_and_describe_reads_them(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    char *p = pathf(f, "crl-n.pem");
    int64_t a, b;
    assert_int_equal(ca_crl(f->ca_h, p, 7, 0, &a, err), 0);
    assert_int_equal(ca_crl(f->ca_h, p, 7, 0, &b, err), 0);
    assert_int_equal(b, a + 1);
    struct buf out = {0};
    assert_int_equal(ca_describe(p, &out, err), 0);
    char want[64];
    snprintf(want, sizeof want, "number:      %lld\n", (long long)b);
    assert_non_null(strstr((char *)out.p, want));
    assert_non_null(strstr((char *)out.p, "issuer:      O=fedra, CN=fedra test CA"));
    buf_release(&out);
    char *de = leaf_path(f, "DE", "crt");
    assert_int_equal(ca_describe(de, &out, err), 0);
    assert_non_null(strstr((char *)out.p, "role:        node"));
    assert_non_null(strstr((char *)out.p, "name:        DE (urn:fedra:node:DE)"));
    assert_non_null(strstr((char *)out.p, "curve key:"));
    buf_release(&out);
    assert_int_equal(ca_crl(f->ca_h, p, 0, 0, &a, err), -1);
    assert_int_equal(ca_crl(f->ca_h, p, CA_MAX_DAYS + 1, 0, &a, err), -1);
    free(de);
    free(p);
}

/* ---- issuing CA, chains, renewal, expiry --------------------------------- */

/* cat a b > out */
static void
concat(const char *a, const char *b, const char *out)
{
    char err[FEDRA_ERRLEN] = "";
    uint8_t *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    struct buf ab = {0};
    assert_int_equal(util_read_file(a, PKI_MAX_FILE, &x, &xl, err), 0);
    assert_int_equal(util_read_file(b, PKI_MAX_FILE, &y, &yl, err), 0);
    buf_append(&ab, x, xl);
    buf_append(&ab, y, yl);
    assert_int_equal(util_write_file(out, ab.p, ab.len, 0644, err), 0);
    buf_release(&ab);
    free(x);
    free(y);
}

static void
issuing_ca_chain_crls_and_revocation(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", want[FEDRA_ERRLEN], iserial[CA_SERIAL_LEN], lserial[CA_SERIAL_LEN];
    char *rdir = pathf(f, "root2"), *idir = pathf(f, "iss2"), *odir = pathf(f, "out-iss");
    char *rcrt = pathf(f, "root2/ca.crt"), *rcrl = pathf(f, "root2.crl");
    char *icrl = pathf(f, "iss2.crl"), *both = pathf(f, "both.crl");
    char *leafp = pathf(f, "out-iss/ivan.crt");
    struct ca *root = NULL, *iss = NULL;
    struct ca_revoked rv;
    int64_t num;
    mkdir(odir, 0755);
    assert_int_equal(ca_init(rdir, "test root", 3650, 0, err), 0);
    assert_int_equal(ca_open(rdir, &root, err), 0);
    /* Refusals: same name as the root, longer than the root. */
    assert_int_equal(ca_init_issuing(idir, "test root", 365, root, 0, iserial, err), -1);
    assert_non_null(strstr(err, "name other than its root"));
    assert_int_equal(ca_init_issuing(idir, "Issuing CA", 3651, root, 0, iserial, err), -1);
    assert_non_null(strstr(err, "would outlive its root"));
    assert_int_equal(ca_init_issuing(idir, "Issuing CA", 365, root, 0, iserial, err), 0);
    assert_int_equal(ca_open(idir, &iss, err), 0);
    /* An issuing CA certifies no further CA (root pathlen 1, its own pathlen 0). */
    char *idir2 = pathf(f, "iss3");
    assert_int_equal(ca_init_issuing(idir2, "Sub CA", 30, iss, 0, iserial, err), -1);
    assert_non_null(strstr(err, "is an issuing CA itself"));
    free(idir2);
    /* Re-read the issuing CA's serial from its certificate (the refusal above cleared it). */
    X509 *ix = ca_cert(iss);
    struct ca_issue_req req = { .role = PKI_ROLE_ANALYST, .name = "ivan", .out_dir = odir,
        .days = 30 };
    assert_int_equal(ca_issue(iss, &req, lserial, err), 0);
    struct pki_cert *leaf = NULL;
    assert_int_equal(pki_cert_load(leafp, &leaf, err), 0);
    assert_int_equal(pki_cert_chain_count(leaf), 1);
    assert_int_equal(ca_crl(root, rcrl, 7, 0, &num, err), 0);
    assert_int_equal(ca_crl(iss, icrl, 7, 0, &num, err), 0);
    concat(rcrl, icrl, both);
    /* Trusting only the root: the chain travels with the leaf; both CRLs are honoured. */
    struct pki_trust *t = trust(rcrt, both, 1, err);
    if (pki_verify(t, leaf, PKI_ROLE_ANALYST, 0, err) != PKI_OK)
        fail_msg("verify through the issuing CA: %s", err);
    pki_trust_free(t);
    /* Without the issuing CA's CRL: fail closed, naming whose CRL is missing. */
    t = trust(rcrt, rcrl, 1, err);
    assert_int_equal(pki_verify(t, leaf, PKI_ROLE_ANALYST, 0, err), PKI_NO_CRL);
    assert_non_null(strstr(err, "no CRL from 'Issuing CA'"));
    pki_trust_free(t);
    /* The bare leaf (no chain) does not reach the root; its chain given as DER does. */
    size_t dl, il;
    const uint8_t *d = pki_cert_der(leaf, &dl);
    const uint8_t *idr = pki_cert_chain_der(leaf, 0, &il);
    struct pki_cert *bare = NULL;
    assert_int_equal(pki_cert_from_der(d, dl, &bare, err), 0);
    t = trust(rcrt, NULL, 0, err);
    assert_int_equal(pki_verify(t, bare, PKI_ROLE_ANALYST, 0, err), PKI_UNKNOWN_CA);
    assert_non_null(strstr(err, "its issuer is 'Issuing CA'"));
    pki_trust_free(t);
    /* The issuing CA that came with its CRL (checked against the root) also helps. */
    t = trust(rcrt, both, 1, err);
    assert_int_equal(pki_verify(t, bare, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    pki_trust_free(t);
    t = trust(rcrt, NULL, 0, err);
    assert_int_equal(pki_cert_set_chain(bare, &idr, &il, 1, err), 0);
    assert_int_equal(pki_verify(t, bare, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    pki_trust_free(t);
    /* The issuing CA's CRL without the issuing CA's certificate cannot be checked at load. */
    char *crlonly = pathf(f, "iss-crl-only.pem");
    {
        uint8_t *x = NULL;
        size_t xl = 0;
        assert_int_equal(util_read_file(icrl, PKI_MAX_FILE, &x, &xl, err), 0);
        char *end = strstr((char *)x, "-----END X509 CRL-----");
        assert_non_null(end);
        size_t keep = (size_t)(end - (char *)x) + strlen("-----END X509 CRL-----\n");
        assert_int_equal(util_write_file(crlonly, x, keep, 0644, err), 0);
        free(x);
    }
    struct pki_trust *bad = NULL;
    assert_int_equal(pki_trust_load(rcrt, crlonly, 1, &bad, err), -1);
    assert_non_null(strstr(err, "not signed by any CA"));
    /* A CA certificate in the CRL file that the root did not certify is refused. */
    assert_int_equal(pki_trust_load(f->ca_crt, icrl, 1, &bad, err), -1);
    assert_non_null(strstr(err, "not an issuing CA certified by a CA in"));
    /* Revoke the issuing CA at the root: the leaf is refused, naming the issuing CA. */
    char ihex[CA_SERIAL_LEN];
    {
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(ix), NULL);
        char *h = BN_bn2hex(bn);
        snprintf(ihex, sizeof ihex, "%s", h);
        OPENSSL_free(h);
        BN_free(bn);
    }
    int64_t at = util_now_ms() / 1000 - 60;
    assert_int_equal(ca_revoke(root, "Issuing CA", NULL, "CACompromise", at, &rv, err), 0);
    assert_string_equal(rv.serial, ihex);
    assert_int_equal(ca_crl(root, rcrl, 7, 0, &num, err), 0);
    concat(rcrl, icrl, both);
    t = trust(rcrt, both, 1, err);
    assert_int_equal(pki_verify(t, leaf, PKI_ROLE_ANALYST, 0, err), PKI_REVOKED);
    char ts[PKI_TIME_LEN];
    pki_format_time(at, ts);
    snprintf(want, sizeof want, "certificate 'ivan' (serial %s): its CA 'Issuing CA' (serial "
        "%s) was revoked at %s (reason CACompromise) (CRL number %lld of 'test root')",
        lserial, ihex, ts, (long long)num);
    assert_string_equal(err, want);
    pki_trust_free(t);
    pki_cert_free(bare);
    pki_cert_free(leaf);
    ca_free(iss);
    ca_free(root);
    free(crlonly);
    free(rdir);
    free(idir);
    free(odir);
    free(rcrt);
    free(rcrl);
    free(icrl);
    free(both);
    free(leafp);
}

static void
root_with_pathlen_zero_cannot_certify_an_issuing_ca(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", serial[CA_SERIAL_LEN];
    /* A root as fedra-cert made them before issuing CAs: pathlen 0, built by hand. */
    char *dir = pathf(f, "old-root"), *kp = pathf(f, "old-root/ca.key");
    char *cp = pathf(f, "old-root/ca.crt"), *idir = pathf(f, "old-iss");
    assert_int_equal(ca_init(dir, "old root", 365, 0, err), 0);
    struct pki_key *k = NULL;
    assert_int_equal(pki_key_load(kp, &k, err), 0);
    X509 *x = X509_new();
    X509_NAME *nm = X509_NAME_new();
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"old root", -1,
        -1, 0);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 77);
    X509_set_subject_name(x, nm);
    X509_set_issuer_name(x, nm);
    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, NULL);
    X509_time_adj_ex(X509_getm_notAfter(x), 365, 0, NULL);
    X509_set_pubkey(x, pki_key_evp(k));
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *e1 = X509V3_EXT_nconf(NULL, &v3, "basicConstraints", "critical,CA:TRUE,pathlen:0");
    X509_EXTENSION *e2 = X509V3_EXT_nconf(NULL, &v3, "keyUsage", "critical,keyCertSign,cRLSign");
    X509_add_ext(x, e1, -1);
    X509_add_ext(x, e2, -1);
    assert_true(X509_sign(x, pki_key_evp(k), NULL) > 0);
    FILE *fp = fopen(cp, "w");
    assert_non_null(fp);
    PEM_write_X509(fp, x);
    fclose(fp);
    struct ca *root = NULL;
    assert_int_equal(ca_open(dir, &root, err), 0);
    assert_int_equal(ca_init_issuing(idir, "new issuing", 30, root, 0, serial, err), -1);
    assert_non_null(strstr(err, "has pathlen 0 and cannot certify an issuing CA"));
    ca_free(root);
    X509_EXTENSION_free(e1);
    X509_EXTENSION_free(e2);
    X509_NAME_free(nm);
    X509_free(x);
    pki_key_free(k);
    free(dir);
    free(kp);
    free(cp);
    free(idir);
}

/* A PEM file of a leaf and n CA certificates after it. */
static int
load_with_chain(struct fx *f, size_t n, char *err)
{
    char *leaf = leaf_path(f, "alice", "crt"), *p = pathf(f, "chain-n.pem");
    uint8_t *lx = NULL, *cx = NULL;
    size_t ll = 0, cl = 0;
    struct buf b = {0};
    assert_int_equal(util_read_file(leaf, PKI_MAX_FILE, &lx, &ll, err), 0);
    assert_int_equal(util_read_file(f->ca_crt, PKI_MAX_FILE, &cx, &cl, err), 0);
    buf_append(&b, lx, ll);
    for (size_t i = 0; i < n; i++)
        buf_append(&b, cx, cl);
    assert_int_equal(util_write_file(p, b.p, b.len, 0644, err), 0);
    struct pki_cert *c = NULL;
    int rc = pki_cert_load(p, &c, err);
    if (rc == 0 && pki_cert_chain_count(c) != n)
        rc = -2;
    pki_cert_free(c);
    buf_release(&b);
    free(lx);
    free(cx);
    free(leaf);
    free(p);
    return rc;
}

static void
chain_at_limit_and_one_past(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", want[128];
    assert_int_equal(load_with_chain(f, 0, err), 0);
    assert_int_equal(load_with_chain(f, PKI_MAX_CHAIN, err), 0);
    assert_int_equal(load_with_chain(f, PKI_MAX_CHAIN + 1, err), -1);
    snprintf(want, sizeof want, "holds %d CA certificates, more than the limit of %d",
        PKI_MAX_CHAIN + 1, PKI_MAX_CHAIN);
    assert_non_null(strstr(err, want));
    /* Only CA certificates ride along: a leaf in the chain is refused. */
    size_t dl;
    const uint8_t *d = pki_cert_der(f->de, &dl);
    struct pki_cert *c = NULL;
    size_t al;
    const uint8_t *ad = pki_cert_der(f->alice, &al);
    assert_int_equal(pki_cert_from_der(ad, al, &c, err), 0);
    assert_int_equal(pki_cert_set_chain(c, &d, &dl, 1, err), -1);
    assert_non_null(strstr(err, "('DE') is not a CA certificate"));
    assert_int_equal(pki_cert_chain_count(c), 0);
    pki_cert_free(c);
}

static void
bad_signature_is_named(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    size_t dl;
    const uint8_t *d = pki_cert_der(f->alice, &dl);
    uint8_t *copy = xmalloc(dl);
    memcpy(copy, d, dl);
    copy[dl - 1] ^= 0x01;           /* the last byte is inside the Ed25519 signature */
    struct pki_cert *c = NULL;
    assert_int_equal(pki_cert_from_der(copy, dl, &c, err), 0);
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_ANALYST, 0, err), PKI_INVALID);
    assert_non_null(strstr(err, "certificate 'alice' (serial "));
    assert_non_null(strstr(err, "bad signature"));
    pki_cert_free(c);
    free(copy);
}

static void
reissue_for_an_existing_key_keeps_the_transport_key(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", serial[CA_SERIAL_LEN];
    char *out = pathf(f, "renew"), *kp = pathf(f, "renew/DE.key");
    char *cp = pathf(f, "renew/DE.crt");
    mkdir(out, 0755);
    struct ca_issue_req req = { .role = PKI_ROLE_NODE, .name = "DE", .out_dir = out,
        .days = 30, .key = f->de_key };
    assert_int_equal(ca_issue(f->ca_h, &req, serial, err), 0);
    struct stat st;
    assert_int_equal(stat(kp, &st), -1);      /* no key file written */
    struct pki_cert *c = NULL;
    assert_int_equal(pki_cert_load(cp, &c, err), 0);
    assert_true(pki_key_matches_cert(f->de_key, c));
    assert_string_not_equal(pki_cert_serial_hex(c), pki_cert_serial_hex(f->de));
    uint8_t k1[PKI_CURVE_KEY_LEN], k2[PKI_CURVE_KEY_LEN];
    assert_int_equal(pki_cert_curve_key(f->de, k1), 0);
    assert_int_equal(pki_cert_curve_key(c, k2), 0);
    assert_memory_equal(k1, k2, PKI_CURVE_KEY_LEN);
    assert_int_equal(pki_verify(f->trust, c, PKI_ROLE_NODE, 0, err), PKI_OK);
    /* Again into the same place: the certificate is not overwritten. */
    assert_int_equal(ca_issue(f->ca_h, &req, serial, err), -1);
    assert_non_null(strstr(err, "DE.crt' already exists"));
    pki_cert_free(c);
    free(out);
    free(kp);
    free(cp);
}

static void
expiring_at_horizon_and_one_past(void **state)
{
    struct fx *f = *state;
    struct pki_expiry ex[8];
    int64_t na = pki_cert_not_after(f->de), at = na - 10 * DAY;
    /* Exactly at the horizon counts; one second short does not. */
    size_t n = pki_expiring(f->trust, f->de, at, 10 * DAY, ex, 8);
    assert_int_equal(n, 1);
    assert_int_equal(ex[0].not_after, na);
    char want[PKI_LABEL_LEN];
    snprintf(want, sizeof want, "certificate 'DE' (serial %s)", pki_cert_serial_hex(f->de));
    assert_string_equal(ex[0].label, want);
    assert_int_equal(pki_expiring(f->trust, f->de, at, 10 * DAY - 1, ex, 8), 0);
    /* The 100-year root shows up only when its own end is near, labelled as a CA. */
    X509 *root = ca_cert(f->ca_h);
    int64_t rna = pki_asn1_time_unix(X509_get0_notAfter(root));
    n = pki_expiring(f->trust, NULL, rna - DAY, DAY, ex, 8);
    assert_int_equal(n, 1);
    assert_non_null(strstr(ex[0].label, "CA certificate 'fedra test CA'"));
    /* Both, earliest first. */
    n = pki_expiring(f->trust, f->de, rna - DAY, DAY, ex, 8);
    assert_int_equal(n, 2);
    assert_true(ex[0].not_after <= ex[1].not_after);
    assert_string_equal(ex[0].label, want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(role_and_verdict_names_round_trip),
        cmocka_unit_test(name_valid_at_limit_and_one_past),
        cmocka_unit_test(ca_cn_valid_at_limit_and_one_past),
        cmocka_unit_test(format_time_is_iso_utc),
        cmocka_unit_test(sha256_matches_fips_vectors),
        cmocka_unit_test(sign_matches_rfc8032_test_1),
        cmocka_unit_test(sign_verify_round_trip),
        cmocka_unit_test(bit_flip_in_signature_or_message_fails),
        cmocka_unit_test(roles_and_names_of_issued_certificates),
        cmocka_unit_test(node_certificate_cannot_pass_as_analyst),
        cmocka_unit_test(expired_certificate_names_the_time),
        cmocka_unit_test(not_yet_valid_certificate_is_refused_now),
        cmocka_unit_test(revoked_certificate_names_revocation_time_and_reason),
        cmocka_unit_test(revoke_by_name_takes_newest_and_serial_is_normalised),
        cmocka_unit_test(no_crl_fails_closed),
        cmocka_unit_test(expired_crl_fails_closed),
        cmocka_unit_test(newest_crl_wins_in_either_order),
        cmocka_unit_test(crl_in_der_is_accepted),
        cmocka_unit_test(unknown_ca_is_named),
        cmocka_unit_test(key_readable_by_others_is_refused),
        cmocka_unit_test(key_files_that_are_not_ed25519_keys_are_refused),
        cmocka_unit_test(curve_secret_matches_openssl_cli_and_libzmq),
        cmocka_unit_test(node_certificate_binds_the_derived_curve_key),
        cmocka_unit_test(curve_key_extension_must_be_one_32_byte_octet_string),
        cmocka_unit_test(role_needs_key_usage_ca_false_and_one_critical_role_eku),
        cmocka_unit_test(name_needs_exactly_one_uri_with_the_role),
        cmocka_unit_test(cert_der_at_limit_and_one_past),
        cmocka_unit_test(der_must_be_exact_and_canonical),
        cmocka_unit_test(file_at_size_limit_and_one_past),
        cmocka_unit_test(ca_refuses_overwrites_and_bad_requests),
        cmocka_unit_test(leaf_cannot_outlive_the_ca),
        cmocka_unit_test(ca_key_with_open_mode_is_refused),
        cmocka_unit_test(index_lines_follow_openssl),
        cmocka_unit_test(crl_numbers_increase_and_describe_reads_them),
        cmocka_unit_test(issuing_ca_chain_crls_and_revocation),
        cmocka_unit_test(root_with_pathlen_zero_cannot_certify_an_issuing_ca),
        cmocka_unit_test(chain_at_limit_and_one_past),
        cmocka_unit_test(bad_signature_is_named),
        cmocka_unit_test(reissue_for_an_existing_key_keeps_the_transport_key),
        cmocka_unit_test(expiring_at_horizon_and_one_past),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
