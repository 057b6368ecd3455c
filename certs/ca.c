/*
 * ca - see ca.h.
 *
 * The CA directory is openssl's: whatever fedra-cert writes, `openssl ca`
 * can read and continue (gencrl, revoke), and the reverse.  So index.txt
 * lines, serial spelling (BN_bn2hex, whole bytes, uppercase), time strings
 * (UTCTime "YYMMDDHHMMSSZ") and crlnumber follow apps/ca.c exactly.
 *
 * Every certificate is built by one function, make_cert(), from a spec: the
 * CA and leaves differ only in the spec, so adding an issuing CA under an
 * offline root later is a matter of a new spec (is_ca with pathlen 0 under a
 * pathlen 1 root), not new code.
 */
#include "certs/ca.h"
#include "certs/pki_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define DAY 86400
#define IDX_FIELDS 6                /* openssl's index.txt columns */
#define IDX_MAX_LINE 4096           /* longest index.txt line accepted */
#define SMALL_FILE 4096             /* serial, crlnumber */

struct ca {
    char *dir;
    int lock_fd;
    X509 *cert;
    struct pki_key *key;
};

/* One index.txt line; fields point into the owning idx's text. */
struct idx_row {
    char *f[IDX_FIELDS];            /* status, expiry, revocation, serial, file, subject */
};

struct idx {
    char *text;                     /* the file, split in place */
    struct idx_row *rows;
    size_t n;
};

/* ---- small helpers ---------------------------------------------------- */

static char *
path_join(const char *dir, const char *name)
{
    struct buf b = {0};
    buf_printf(&b, "%s/%s", dir, name);
    return buf_detach(&b);
}

static int64_t
now_or(int64_t t)
{
    return t != 0 ? t : util_now_ms() / 1000;
}

static int
exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* PEM text of a certificate, a CRL or a private key (PKCS#8). */
static char *
pem_cert(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;
    if (b != NULL && PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &p)) > 0) {
        char *s = xmalloc((size_t)n + 1);
        memcpy(s, p, (size_t)n);
        s[n] = 0;
        BIO_free(b);
        return s;
    }
    BIO_free(b);
    return NULL;
}

static int
write_key(const char *path, EVP_PKEY *pk, char *err)
{
    BIO *b = BIO_new(BIO_s_secmem());   /* cleansed when freed */
    char *p = NULL;
    long n = 0;
    int rc;
    if (b == NULL || PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
        (n = BIO_get_mem_data(b, &p)) <= 0)
        rc = errf(err, "cannot encode the private key for '%s'", path);
    else
        rc = util_write_file_ex(path, p, (size_t)n, 0600, UTIL_WRITE_NEW, err);
    BIO_free(b);
    ERR_clear_error();
    return rc;
}

/* Uppercase hex of a serial, as openssl spells it in index.txt and file names. */
static void
serial_to_hex(const ASN1_INTEGER *ai, char out[CA_SERIAL_LEN])
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
    char *h = bn ? BN_bn2hex(bn) : NULL;
    if (h == NULL || strlen(h) >= CA_SERIAL_LEN)
        snprintf(out, CA_SERIAL_LEN, "00");
    else
        snprintf(out, CA_SERIAL_LEN, "%s", (bn && BN_is_zero(bn)) ? "00" : h);
    OPENSSL_free(h);
    BN_free(bn);
}

/* Canonical form for comparing serials: uppercase, no leading zeros. */
static int
serial_norm(const char *in, char out[CA_SERIAL_LEN])
{
    if (strncasecmp(in, "0x", 2) == 0)
        in += 2;
    while (*in == '0' && in[1] != 0)
        in++;
    size_t n = strlen(in);
    if (n == 0 || n >= CA_SERIAL_LEN)
        return -1;
    for (size_t i = 0; i <= n; i++) {
        char ch = in[i];
        if (ch >= 'a' && ch <= 'f')
            ch = (char)(ch - 'a' + 'A');
        else if (ch != 0 && !((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F')))
            return -1;
        out[i] = ch;
    }
    return 0;
}

int
ca_cn_valid(const char *cn)
{
    size_t n = 0;
    if (cn == NULL)
        return 0;
    for (; cn[n] != 0; n++) {
        char ch = cn[n];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
            (ch >= '0' && ch <= '9') || ch == ' ' || ch == '.' || ch == '_' || ch == '-';
        if (!ok || n >= CA_MAX_CN)
            return 0;
    }
    return n >= 1 && cn[0] != ' ' && cn[n - 1] != ' ';
}

/* Time as openssl's index.txt spells it: UTCTime up to 2049, then GeneralizedTime. */
static int
time_string(int64_t t, char *out, size_t n)
{
    ASN1_TIME *at = ASN1_TIME_set(NULL, (time_t)t);
    int rc = -1;
    if (at != NULL && (size_t)ASN1_STRING_length(at) < n) {
        snprintf(out, n, "%.*s", ASN1_STRING_length(at), (const char *)ASN1_STRING_get0_data(at));
        rc = 0;
    }
    ASN1_TIME_free(at);
    return rc;
}

/* ---- certificate construction ------------------------------------------ */

struct certspec {
    EVP_PKEY *pub;                  /* the subject's key */
    const char *cn;
    const uint8_t *serial;          /* CA_SERIAL_BYTES */
    int64_t not_before, not_after;
    X509 *issuer;                   /* NULL: self-signed */
    EVP_PKEY *issuer_key;
    int is_ca;
    int pathlen;                    /* for a CA */
    enum pki_role role;             /* for a leaf */
    const char *name;               /* for a leaf: SAN URI NAME */
    const uint8_t *curve_pub;       /* for a node: PKI_CURVE_KEY_LEN bytes, or NULL */
};

static int
add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, v3, nid, value);
    int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* The private Curve key extension: extnValue = DER OCTET STRING of 32 bytes. */
static int
add_curve_ext(X509 *x, const uint8_t key[PKI_CURVE_KEY_LEN])
{
    ASN1_OBJECT *obj = OBJ_txt2obj(PKI_OID_CURVE_KEY, 1);
    ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING *outer = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    unsigned char *der = NULL;
    int len = -1, rc = -1;
    if (obj == NULL || inner == NULL || outer == NULL ||
        ASN1_OCTET_STRING_set(inner, key, PKI_CURVE_KEY_LEN) != 1 ||
        (len = i2d_ASN1_OCTET_STRING(inner, &der)) <= 0 ||
        ASN1_OCTET_STRING_set(outer, der, len) != 1)
        goto done;
    ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, outer);
    if (ext != NULL && X509_add_ext(x, ext, -1) == 1)
        rc = 0;
done:
    X509_EXTENSION_free(ext);
    OPENSSL_free(der);
    ASN1_OCTET_STRING_free(inner);
    ASN1_OCTET_STRING_free(outer);
    ASN1_OBJECT_free(obj);
    return rc;
}

static X509 *
make_cert(const struct certspec *s, char *err)
{
    X509 *x = X509_new();
    X509_NAME *nm = X509_NAME_new();
    BIGNUM *bn = BN_bin2bn(s->serial, CA_SERIAL_BYTES, NULL);
    ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    char why[256], value[160];
    X509V3_CTX v3;
    int ok = 0;
    if (x == NULL || nm == NULL || sn == NULL)
        goto done;
    if (X509_set_version(x, X509_VERSION_3) != 1 || X509_set_serialNumber(x, sn) != 1 ||
        X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"fedra",
            -1, -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)s->cn,
            -1, -1, 0) != 1 ||
        X509_set_subject_name(x, nm) != 1 ||
        X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer) : nm) != 1 ||
        X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &(time_t){ (time_t)s->not_before }) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &(time_t){ (time_t)s->not_after }) == NULL ||
        X509_set_pubkey(x, s->pub) != 1)
        goto done;
    /* Self-signed: the issuer context is the certificate itself (SKI before AKI). */
    X509V3_set_ctx(&v3, s->issuer ? s->issuer : x, x, NULL, NULL, 0);
    if (s->is_ca) {
        snprintf(value, sizeof value, "critical,CA:TRUE,pathlen:%d", s->pathlen);
        if (add_ext(x, &v3, NID_basic_constraints, value) != 0 ||
            add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign") != 0)
            goto done;
    } else {
        snprintf(value, sizeof value, "critical,%s",
            s->role == PKI_ROLE_NODE ? PKI_OID_ROLE_NODE :
            s->role == PKI_ROLE_HUB ? PKI_OID_ROLE_HUB : PKI_OID_ROLE_ANALYST);
        if (add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
            add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") != 0 ||
            add_ext(x, &v3, NID_ext_key_usage, value) != 0)
            goto done;
        snprintf(value, sizeof value, "URI:" PKI_URI_PREFIX "%s:%s", pki_role_name(s->role),
            s->name);
        if (add_ext(x, &v3, NID_subject_alt_name, value) != 0)
            goto done;
    }
    if (add_ext(x, &v3, NID_subject_key_identifier, "hash") != 0 ||
        add_ext(x, &v3, NID_authority_key_identifier, "keyid:always") != 0)
        goto done;
    if (s->curve_pub != NULL && add_curve_ext(x, s->curve_pub) != 0)
        goto done;
    /* Ed25519: no digest (X509_sign with a digest fails "invalid digest"). */
    if (X509_sign(x, s->issuer_key, NULL) <= 0)
        goto done;
    ok = 1;
done:
    if (!ok) {
        errf(err, "cannot build certificate '%s': %s", s->cn,
            pki_ossl_reason(why, sizeof why));
        X509_free(x);
        x = NULL;
    }
    X509_NAME_free(nm);
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    return x;
}

static void
random_serial(uint8_t s[CA_SERIAL_BYTES])
{
    do {
        if (RAND_bytes(s, CA_SERIAL_BYTES) != 1)
            abort();                /* no randomness: nothing safe to do */
        s[0] &= 0x7f;               /* positive, and DER keeps 16 octets or fewer */
    } while (s[0] == 0 && s[1] == 0);
}

/* ---- index.txt ----------------------------------------------------------- */

static void
idx_release(struct idx *ix)
{
    free(ix->text);
    free(ix->rows);
    memset(ix, 0, sizeof *ix);
}

static int
idx_load(const struct ca *ca, struct idx *ix, char *err)
{
    char *path = path_join(ca->dir, "index.txt");
    uint8_t *data = NULL;
    size_t len = 0, lineno = 0;
    int rc = -1;
    memset(ix, 0, sizeof *ix);
    if (util_read_file(path, CA_MAX_INDEX, &data, &len, err) != 0)
        goto done;
    ix->text = (char *)data;
    char *p = ix->text, *end = ix->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        lineno++;
        if ((size_t)(eol - p) > IDX_MAX_LINE) {
            errf(err, "%s line %zu is longer than %d bytes", path, lineno, IDX_MAX_LINE);
            goto done;
        }
        *eol = 0;
        if (eol > p) {
            struct idx_row row;
            int nf = 0;
            char *f = p;
            for (;;) {
                char *tab = strchr(f, '\t');
                if (nf < IDX_FIELDS)
                    row.f[nf] = f;
                nf++;
                if (tab == NULL)
                    break;
                *tab = 0;
                f = tab + 1;
            }
            if (nf != IDX_FIELDS || strlen(row.f[0]) != 1 ||
                strchr("VRE", row.f[0][0]) == NULL) {
                errf(err, "%s line %zu is not an openssl index line (status, expiry, "
                    "revocation, serial, file, subject separated by tabs)", path, lineno);
                goto done;
            }
            ix->rows = xreallocarray(ix->rows, ix->n + 1, sizeof *ix->rows);
            ix->rows[ix->n++] = row;
        }
        p = eol + 1;
    }
    rc = 0;
done:
    if (rc != 0)
        idx_release(ix);
    free(path);
    return rc;
}

/* Rewrite index.txt atomically with rows plus an optional extra line. */
static int
idx_save(const struct ca *ca, const struct idx *ix, const char *extra, char *err)
{
    struct buf b = {0};
    char *path = path_join(ca->dir, "index.txt");
    for (size_t i = 0; i < ix->n; i++) {
        for (int k = 0; k < IDX_FIELDS; k++)
            buf_printf(&b, "%s%s", ix->rows[i].f[k], k + 1 < IDX_FIELDS ? "\t" : "\n");
    }
    if (extra != NULL)
        buf_puts(&b, extra);
    int rc = util_write_file(path, b.p ? b.p : (const uint8_t *)"", b.len, 0644, err);
    buf_release(&b);
    free(path);
    return rc;
}

/* CN of an index subject "/O=fedra/CN=alice" (into out; "" if none). */
static void
subject_cn(const char *subject, char *out, size_t n)
{
    const char *p = subject, *cn = NULL;
    while ((p = strstr(p, "/CN=")) != NULL) {
        cn = p + 4;
        p += 4;
    }
    out[0] = 0;
    if (cn != NULL) {
        size_t len = strcspn(cn, "/");
        snprintf(out, n, "%.*s", (int)len, cn);
    }
}

/* ---- small counter files (serial, crlnumber) ----------------------------- */

static int
read_hex_file(const char *path, BIGNUM **out, char *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    *out = NULL;
    if (util_read_file(path, SMALL_FILE, &data, &len, err) != 0)
        return -1;
    char *s = (char *)data;
    s[strcspn(s, "\r\n")] = 0;
    int n = BN_hex2bn(out, s);
    if (n <= 0 || (size_t)n != strlen(s)) {
        BN_free(*out);
        *out = NULL;
        free(data);
        return errf(err, "'%s' does not hold a hexadecimal number", path);
    }
    free(data);
    return 0;
}

static int
write_hex_file(const char *path, const BIGNUM *bn, int flags, char *err)
{
    char *h = BN_bn2hex(bn);
    struct buf b = {0};
    int rc;
    if (h == NULL)
        return errf(err, "out of memory");
    buf_printf(&b, "%s\n", BN_is_zero(bn) ? "00" : h);
    rc = util_write_file_ex(path, b.p, b.len, 0644, flags, err);
    buf_release(&b);
    OPENSSL_free(h);
    return rc;
}

/* ---- init / open ----------------------------------------------------------- */

/* openssl config values: escape what NCONF would interpret. */
static void
conf_escaped(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (strchr("\\$#\"'", *s) != NULL)
            buf_append(b, "\\", 1);
        buf_append(b, s, 1);
    }
}

static char *
openssl_cnf(const char *absdir, int crl_days)
{
    struct buf b = {0};
    buf_puts(&b,
        "# openssl.cnf for this fedra CA, written by `fedra-cert init`.\n"
        "# fedra-cert keeps this directory usable by `openssl ca`, for example:\n"
        "#   openssl ca -config openssl.cnf -gencrl -out crl.pem\n"
        "#   openssl ca -config openssl.cnf -revoke certs/SERIAL.pem -crl_reason keyCompromise\n"
        "# Issue certificates with `fedra-cert issue`: it sets the role, the name\n"
        "# (subjectAltName URI) and, for nodes, the bound CurveZMQ key.\n"
        "# If this directory moves, update `dir` below.\n"
        "oid_section = fedra_oids\n\n"
        "[ fedra_oids ]\n"
        "fedraRoleNode = " PKI_OID_ROLE_NODE "\n"
        "fedraRoleAnalyst = " PKI_OID_ROLE_ANALYST "\n"
        "fedraRoleHub = " PKI_OID_ROLE_HUB "\n"
        "fedraCurveKey = " PKI_OID_CURVE_KEY "\n\n"
        "[ ca ]\n"
        "default_ca = fedra_ca\n\n"
        "[ fedra_ca ]\n"
        "dir = ");
    conf_escaped(&b, absdir);
    buf_printf(&b, "\n"
        "database = $dir/index.txt\n"
        "new_certs_dir = $dir/certs\n"
        "certificate = $dir/ca.crt\n"
        "private_key = $dir/ca.key\n"
        "serial = $dir/serial\n"
        "crlnumber = $dir/crlnumber\n"
        "default_md = default\n"
        "default_days = %d\n"
        "default_crl_days = %d\n"
        "policy = fedra_policy\n"
        "copy_extensions = none\n"
        "unique_subject = no\n"
        "crl_extensions = fedra_crl_ext\n\n"
        "[ fedra_policy ]\n"
        "organizationName = supplied\n"
        "commonName = supplied\n\n"
        "[ fedra_crl_ext ]\n"
        "authorityKeyIdentifier = keyid:always\n\n"
        "# Leaf profiles (add subjectAltName = URI:urn:fedra:ROLE:NAME with -extfile).\n"
        "[ fedra_analyst ]\n"
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = critical, fedraRoleAnalyst\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid:always\n\n"
        "[ fedra_node ]\n"
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = critical, fedraRoleNode\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid:always\n",
        CA_DEFAULT_LEAF_DAYS, crl_days);
    return buf_detach(&b);
}

static int idx_load(const struct ca *ca, struct idx *ix, char *err);
static int idx_save(const struct ca *ca, const struct idx *ix, const char *extra, char *err);
static void idx_release(struct idx *ix);

/*
 * Record x, issued by ca, in ca's index.txt and certs/HEX.pem, as `openssl
 * ca` would; *copyp receives the copy's path (for rollback).  Refuses a
 * serial already in the index.
 */
static int
record_issued(struct ca *ca, X509 *x, char hex[CA_SERIAL_LEN], char **copyp, char *err)
{
    struct idx ix = {0};
    struct buf line = {0}, name = {0};
    char exp[32], have[CA_SERIAL_LEN], want[CA_SERIAL_LEN];
    char *pem = pem_cert(x), *subj = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
    int rc = -1;
    *copyp = NULL;
    serial_to_hex(X509_get0_serialNumber(x), hex);
    if (pem == NULL || subj == NULL) {
        errf(err, "cannot encode the certificate");
        goto done;
    }
    if (idx_load(ca, &ix, err) != 0)
        goto done;
    (void)serial_norm(hex, want);
    for (size_t i = 0; i < ix.n; i++) {
        if (serial_norm(ix.rows[i].f[3], have) == 0 && strcmp(have, want) == 0) {
            errf(err, "serial %s is already in %s/index.txt", hex, ca->dir);
            goto done;
        }
    }
    const ASN1_TIME *t = X509_get0_notAfter(x);
    snprintf(exp, sizeof exp, "%.*s", ASN1_STRING_length(t),
        (const char *)ASN1_STRING_get0_data(t));
    buf_printf(&name, "%s/certs/%s.pem", ca->dir, hex);
    *copyp = buf_detach(&name);
    if (util_write_file_ex(*copyp, pem, strlen(pem), 0644, UTIL_WRITE_NEW, err) != 0) {
        free(*copyp);
        *copyp = NULL;
        goto done;
    }
    buf_printf(&line, "V\t%s\t\t%s\tunknown\t%s\n", exp, hex, subj);
    if (idx_save(ca, &ix, (const char *)line.p, err) != 0) {
        unlink(*copyp);
        free(*copyp);
        *copyp = NULL;
        goto done;
    }
    rc = 0;
done:
    OPENSSL_free(subj);
    free(pem);
    buf_release(&line);
    idx_release(&ix);
    return rc;
}

/* ca_init and ca_init_issuing: a root when parent is NULL. */
static int
ca_create(const char *dir, const char *cn, int days, struct ca *parent, int64_t now,
    char serial_out[CA_SERIAL_LEN], char *err)
{
    static const char *const files[] = {
        "ca.key", "ca.crt", "index.txt", "index.txt.attr", "serial", "crlnumber",
        "openssl.cnf",
    };
    enum { NFILES = sizeof files / sizeof files[0] };
    char *paths[NFILES] = {0};
    int made[NFILES] = {0};
    EVP_PKEY *pk = NULL;
    X509 *x = NULL;
    char *pem = NULL, *cnf = NULL, *certs = NULL, *absdir = NULL;
    BIGNUM *bn = NULL;
    int rc = -1;
    uint8_t serial[CA_SERIAL_BYTES];

    if (!ca_cn_valid(cn))
        return errf(err, "invalid CA name '%s': use 1 to %d letters, digits, spaces, "
            "'.', '_' or '-'", cn, CA_MAX_CN);
    if (days < 1 || days > CA_MAX_DAYS)
        return errf(err, "invalid validity of %d days: use 1 to %d", days, CA_MAX_DAYS);
    now = now_or(now);
    char *copyp = NULL;
    if (parent != NULL) {
        char pcn[CA_MAX_CN + 16], ts[PKI_TIME_LEN];
        X509 *px = parent->cert;
        X509_NAME_get_text_by_NID(X509_get_subject_name(px), NID_commonName, pcn, sizeof pcn);
        if (X509_self_signed(px, 0) != 1)
            return errf(err, "'%s' is an issuing CA itself; an issuing CA must be certified "
                "by a root (fedra-cert init without --parent)", parent->dir);
        if (X509_get_pathlen(px) == 0)
            return errf(err, "root '%s' in '%s' has pathlen 0 and cannot certify an issuing "
                "CA; create a new root with this fedra-cert (pathlen %d)", pcn, parent->dir,
                CA_ROOT_PATHLEN);
        if (strcmp(pcn, cn) == 0)
            return errf(err, "the issuing CA needs a name other than its root's ('%s')", cn);
        int64_t pna = pki_asn1_time_unix(X509_get0_notAfter(px));
        if (now + (int64_t)days * DAY > pna) {
            pki_format_time(pna, ts);
            return errf(err, "the issuing CA would outlive its root '%s', which expires at "
                "%s; use a smaller --days", pcn, ts);
        }
        if (strcmp(dir, parent->dir) == 0)
            return errf(err, "the issuing CA needs its own directory, not its root's");
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return errf(err, "cannot create CA directory '%s': %s", dir, strerror(errno));
    for (int i = 0; i < NFILES; i++)
        paths[i] = path_join(dir, files[i]);
    for (int i = 0; i < 3; i++) {
        if (exists(paths[i])) {
            errf(err, "a CA already exists in '%s' (found %s); refusing to overwrite it: "
                "choose another directory", dir, paths[i]);
            goto done;
        }
    }
    certs = path_join(dir, "certs");
    if (mkdir(certs, 0755) != 0 && errno != EEXIST) {
        errf(err, "cannot create '%s': %s", certs, strerror(errno));
        goto done;
    }
    absdir = realpath(dir, NULL);
    if (absdir == NULL) {
        errf(err, "cannot resolve '%s': %s", dir, strerror(errno));
        goto done;
    }
    pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (pk == NULL) {
        errf(err, "cannot generate an Ed25519 key");
        goto done;
    }
    random_serial(serial);
    struct certspec spec = {
        .pub = pk, .cn = cn, .serial = serial,
        .not_before = now, .not_after = now + (int64_t)days * DAY,
        .issuer = NULL, .issuer_key = pk, .is_ca = 1, .pathlen = CA_ROOT_PATHLEN,
    };
    if (parent != NULL) {
        spec.issuer = parent->cert;
        spec.issuer_key = pki_key_evp(parent->key);
        spec.pathlen = 0;
    }
    if ((x = make_cert(&spec, err)) == NULL)
        goto done;
    if ((pem = pem_cert(x)) == NULL) {
        errf(err, "cannot encode the CA certificate");
        goto done;
    }
    /* The key first, with O_EXCL: it is what makes two inits race-free. */
    if (write_key(paths[0], pk, err) != 0)
        goto done;
    made[0] = 1;
    if (util_write_file_ex(paths[1], pem, strlen(pem), 0644, UTIL_WRITE_NEW, err) != 0)
        goto done;
    made[1] = 1;
    if (util_write_file_ex(paths[2], "", 0, 0644, UTIL_WRITE_NEW, err) != 0)
        goto done;
    made[2] = 1;
    const char *attr = "unique_subject = no\n";
    if (util_write_file_ex(paths[3], attr, strlen(attr), 0644, UTIL_WRITE_NEW, err) != 0)
        goto done;
    made[3] = 1;
    /* openssl insists on `serial` even with -rand_serial; start it at random. */
    uint8_t s2[CA_SERIAL_BYTES];
    random_serial(s2);
    bn = BN_bin2bn(s2, CA_SERIAL_BYTES, NULL);
    if (bn == NULL || write_hex_file(paths[4], bn, UTIL_WRITE_NEW, err) != 0)
        goto done;
    made[4] = 1;
    if (BN_set_word(bn, 1) != 1 || write_hex_file(paths[5], bn, UTIL_WRITE_NEW, err) != 0)
        goto done;
    made[5] = 1;
    cnf = openssl_cnf(absdir, CA_DEFAULT_CRL_DAYS);
    if (util_write_file_ex(paths[6], cnf, strlen(cnf), 0644, UTIL_WRITE_NEW, err) != 0)
        goto done;
    made[6] = 1;
    /* Last: the root's record of the issuing CA, the one step that touches the root. */
    if (parent != NULL && record_issued(parent, x, serial_out, &copyp, err) != 0)
        goto done;
    rc = 0;
done:
    free(copyp);
    for (int i = 0; i < NFILES; i++) {
        if (rc != 0 && made[i])
            unlink(paths[i]);
        free(paths[i]);
    }
    ERR_clear_error();
    BN_free(bn);
    free(cnf);
    free(pem);
    free(certs);
    free(absdir);
    X509_free(x);
    EVP_PKEY_free(pk);
    return rc;
}

int
ca_init(const char *dir, const char *cn, int days, int64_t now, char *err)
{
    char serial[CA_SERIAL_LEN];
    return ca_create(dir, cn, days, NULL, now, serial, err);
}

int
ca_init_issuing(const char *dir, const char *cn, int days, struct ca *parent, int64_t now,
    char serial[CA_SERIAL_LEN], char *err)
{
    serial[0] = 0;
    return ca_create(dir, cn, days, parent, now, serial, err);
}

int
ca_open(const char *dir, struct ca **out, char *err)
{
    struct ca *ca = xcalloc(1, sizeof *ca);
    struct pki_cert *c = NULL;
    char *kp = path_join(dir, "ca.key"), *cp = path_join(dir, "ca.crt");
    int rc = -1;
    *out = NULL;
    ca->dir = xstrdup(dir);
    ca->lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ca->lock_fd < 0) {
        errf(err, "cannot open CA directory '%s': %s (create one with fedra-cert init)",
            dir, strerror(errno));
        goto done;
    }
    if (flock(ca->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        errf(err, "the CA in '%s' is in use by another process; try again", dir);
        goto done;
    }
    if (!exists(kp) || !exists(cp)) {
        errf(err, "'%s' holds no CA (no ca.key or ca.crt); create one with "
            "fedra-cert init --ca %s", dir, dir);
        goto done;
    }
    if (pki_key_load(kp, &ca->key, err) != 0 || pki_cert_load(cp, &c, err) != 0)
        goto done;
    if (!pki_key_matches_cert(ca->key, c)) {
        errf(err, "'%s' is not the key of '%s'", kp, cp);
        goto done;
    }
    ca->cert = pki_cert_x509(c);
    X509_up_ref(ca->cert);
    *out = ca;
    ca = NULL;
    rc = 0;
done:
    pki_cert_free(c);
    ca_free(ca);
    free(kp);
    free(cp);
    return rc;
}

void
ca_free(struct ca *ca)
{
    if (ca == NULL)
        return;
    if (ca->lock_fd >= 0)
        close(ca->lock_fd);         /* releases the flock */
    X509_free(ca->cert);
    pki_key_free(ca->key);
    free(ca->dir);
    free(ca);
}

X509 *
ca_cert(const struct ca *ca)
{
    return ca->cert;
}

/* ---- issue --------------------------------------------------------------------- */

int
ca_issue(struct ca *ca, const struct ca_issue_req *req, char serial_out[CA_SERIAL_LEN],
    char *err)
{
    struct idx ix = {0};
    struct buf line = {0}, name = {0};
    char *keyp = NULL, *crtp = NULL, *copyp = NULL, *pem = NULL, *subj = NULL;
    int made_key = 0, made_crt = 0, made_copy = 0, rc = -1;
    EVP_PKEY *pk = NULL;
    X509 *x = NULL;
    struct pki_key *wrapped = NULL;
    uint8_t serial[CA_SERIAL_BYTES], secret[PKI_CURVE_KEY_LEN], curve[PKI_CURVE_KEY_LEN];
    char hex[CA_SERIAL_LEN], ts[PKI_TIME_LEN], exp[32];

    serial_out[0] = 0;
    if (req->role != PKI_ROLE_NODE && req->role != PKI_ROLE_ANALYST && req->role != PKI_ROLE_HUB)
        return errf(err, "invalid role: use node, analyst or hub");
    if (!pki_name_valid(req->name))
        return errf(err, "invalid name '%s': use 1 to %d letters, digits, '.', '_' or '-'",
            req->name, PKI_MAX_NAME);
    if (req->days < 1 || req->days > CA_MAX_DAYS)
        return errf(err, "invalid validity of %d days: use 1 to %d", req->days, CA_MAX_DAYS);
    int64_t nb = now_or(req->start);
    int64_t na = nb + (int64_t)req->days * DAY;
    int64_t ca_na = pki_asn1_time_unix(X509_get0_notAfter(ca->cert));
    if (na > ca_na) {
        pki_format_time(ca_na, ts);
        return errf(err, "the certificate would outlive the CA, which expires at %s; "
            "use a smaller --days", ts);
    }
    buf_printf(&name, "%s/%s.key", req->out_dir, req->name);
    keyp = buf_detach(&name);
    buf_printf(&name, "%s/%s.crt", req->out_dir, req->name);
    crtp = buf_detach(&name);
    /* A renewal for an existing key writes no key file, so NAME.key may be that key. */
    if ((req->key == NULL && exists(keyp)) || exists(crtp)) {
        errf(err, "'%s' already exists; refusing to overwrite it (remove it or choose "
            "another --name or --out)", (req->key == NULL && exists(keyp)) ? keyp : crtp);
        goto done;
    }
    if (idx_load(ca, &ix, err) != 0)
        goto done;
    /* A collision of 127 random bits will not happen; checking costs nothing. */
    for (int tries = 0;; tries++) {
        random_serial(serial);
        ASN1_INTEGER *ai = ASN1_INTEGER_new();
        BIGNUM *bn = BN_bin2bn(serial, CA_SERIAL_BYTES, NULL);
        if (ai == NULL || bn == NULL || BN_to_ASN1_INTEGER(bn, ai) == NULL)
            abort();
        serial_to_hex(ai, hex);
        ASN1_INTEGER_free(ai);
        BN_free(bn);
        int dup = 0;
        for (size_t i = 0; i < ix.n; i++)
            dup |= strcasecmp(ix.rows[i].f[3], hex) == 0;
        if (!dup)
            break;
        if (tries > 8) {
            errf(err, "cannot find an unused serial in %s/index.txt", ca->dir);
            goto done;
        }
    }
    if (req->key != NULL) {
        pk = pki_key_evp(req->key);
        if (pk == NULL || EVP_PKEY_up_ref(pk) != 1) {
            pk = NULL;
            errf(err, "cannot use the given key");
            goto done;
        }
    } else {
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }
    if (pk == NULL) {
        errf(err, "cannot generate an Ed25519 key");
        goto done;
    }
    struct certspec spec = {
        .pub = pk, .cn = req->name, .serial = serial, .not_before = nb, .not_after = na,
        .issuer = ca->cert, .issuer_key = pki_key_evp(ca->key), .role = req->role,
        .name = req->name,
    };
    /*
     * Every role binds the transport key its holder derives from this very key
     * file: a node's and a hub's are their CURVE server keys; an analyst's is
     * the key nodes seal their answers to when they travel through a hub
     * (proto/DESIGN.md "Through a hub").
     */
    wrapped = pki_key_wrap(pk);
    if (wrapped == NULL || pki_key_curve_secret(wrapped, secret) != 0 ||
        pki_curve_public(secret, curve) != 0) {
        errf(err, "cannot derive the transport (Curve) key");
        goto done;
    }
    spec.curve_pub = curve;
    if ((x = make_cert(&spec, err)) == NULL)
        goto done;
    if ((pem = pem_cert(x)) == NULL) {
        errf(err, "cannot encode certificate '%s'", req->name);
        goto done;
    }
    subj = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
    const ASN1_TIME *t = X509_get0_notAfter(x);
    snprintf(exp, sizeof exp, "%.*s", ASN1_STRING_length(t),
        (const char *)ASN1_STRING_get0_data(t));
    if (subj == NULL) {
        errf(err, "cannot encode the subject of '%s'", req->name);
        goto done;
    }
    if (req->key == NULL) {
        if (write_key(keyp, pk, err) != 0)
            goto done;
        made_key = 1;
    }
    /* Under an issuing CA the leaf file carries the chain: leaf, then the issuing CA. */
    struct buf bundle = {0};
    buf_puts(&bundle, pem);
    if (X509_self_signed(ca->cert, 0) != 1) {
        char *capem = pem_cert(ca->cert);
        if (capem == NULL) {
            buf_release(&bundle);
            errf(err, "cannot encode the issuing CA's certificate");
            goto done;
        }
        buf_puts(&bundle, capem);
        free(capem);
    }
    int wrc = util_write_file_ex(crtp, bundle.p, bundle.len, 0644, UTIL_WRITE_NEW, err);
    buf_release(&bundle);
    if (wrc != 0)
        goto done;
    made_crt = 1;
    buf_printf(&name, "%s/certs/%s.pem", ca->dir, hex);
    copyp = buf_detach(&name);
    if (util_write_file_ex(copyp, pem, strlen(pem), 0644, UTIL_WRITE_NEW, err) != 0)
        goto done;
    made_copy = 1;
    buf_printf(&line, "V\t%s\t\t%s\tunknown\t%s\n", exp, hex, subj);
    if (idx_save(ca, &ix, (const char *)line.p, err) != 0)
        goto done;
    snprintf(serial_out, CA_SERIAL_LEN, "%s", hex);
    rc = 0;
done:
    if (rc != 0) {
        /* Nothing half-done: no key without a recorded certificate. */
        if (made_key)
            unlink(keyp);
        if (made_crt)
            unlink(crtp);
        if (made_copy)
            unlink(copyp);
    }
    OPENSSL_cleanse(secret, sizeof secret);
    ERR_clear_error();
    OPENSSL_free(subj);
    pki_key_free(wrapped);
    EVP_PKEY_free(pk);
    X509_free(x);
    free(pem);
    free(keyp);
    free(crtp);
    free(copyp);
    buf_release(&line);
    buf_release(&name);
    idx_release(&ix);
    return rc;
}

/* ---- revoke -------------------------------------------------------------------- */

int
ca_revoke(struct ca *ca, const char *name, const char *serial_hex,
    const char *reason, int64_t at, struct ca_revoked *out, char *err)
{
    struct idx ix = {0};
    char want[CA_SERIAL_LEN], have[CA_SERIAL_LEN], cn[CA_MAX_CN + 1], when[32];
    char revfield[80], ts[PKI_TIME_LEN], status[] = "R";
    int rc = -1;
    size_t hit = SIZE_MAX;

    memset(out, 0, sizeof *out);
    if ((name == NULL) == (serial_hex == NULL))
        return errf(err, "give either a name or a serial to revoke");
    if (serial_hex != NULL && serial_norm(serial_hex, want) != 0)
        return errf(err, "invalid serial '%s': give it in hexadecimal as fedra-cert "
            "inspect shows it", serial_hex);
    if (name != NULL && !pki_name_valid(name) && !ca_cn_valid(name))
        return errf(err, "invalid name '%s': use 1 to %d letters, digits, '.', '_' or '-' "
            "(or the name of an issuing CA)", name, PKI_MAX_NAME);
    if (reason != NULL) {
        int code = pki_crl_reason_parse(reason);
        /* The reasons openssl's index.txt understands without extra data. */
        if (code < 0 || code > 5)
            return errf(err, "unknown revocation reason '%s': use unspecified, "
                "keyCompromise, CACompromise, affiliationChanged, superseded or "
                "cessationOfOperation", reason);
        reason = pki_crl_reason_name(code);
    }
    if (idx_load(ca, &ix, err) != 0)
        goto done;
    for (size_t i = 0; i < ix.n; i++) {
        if (name != NULL) {
            subject_cn(ix.rows[i].f[5], cn, sizeof cn);
            if (strcmp(cn, name) != 0 || ix.rows[i].f[0][0] != 'V')
                continue;
            if (hit != SIZE_MAX)
                out->others++;
            hit = i;                /* issuance order: the last is the newest */
        } else if (serial_norm(ix.rows[i].f[3], have) == 0 && strcmp(have, want) == 0) {
            hit = i;
        }
    }
    if (hit == SIZE_MAX) {
        if (name != NULL)
            errf(err, "no valid certificate named '%s' in %s/index.txt", name, ca->dir);
        else
            errf(err, "no certificate with serial %s in %s/index.txt", serial_hex, ca->dir);
        goto done;
    }
    struct idx_row *r = &ix.rows[hit];
    if (r->f[0][0] == 'R') {
        const char *rt = r->f[2];
        ASN1_TIME *t = ASN1_TIME_new();
        snprintf(when, sizeof when, "%.*s", (int)strcspn(rt, ","), rt);
        if (t != NULL && ASN1_TIME_set_string_X509(t, when) == 1)
            pki_format_time(pki_asn1_time_unix(t), ts);
        else
            snprintf(ts, sizeof ts, "%s", when);
        ASN1_TIME_free(t);
        subject_cn(r->f[5], cn, sizeof cn);
        errf(err, "certificate '%s' (serial %s) was already revoked at %s; nothing to do",
            cn, r->f[3], ts);
        goto done;
    }
    if (time_string(now_or(at), when, sizeof when) != 0 || strlen(when) != 13) {
        pki_format_time(now_or(at), ts);
        errf(err, "cannot record a revocation at %s (openssl's index needs a UTCTime)", ts);
        goto done;
    }
    snprintf(revfield, sizeof revfield, "%s%s%s", when, reason ? "," : "",
        reason ? reason : "");
    r->f[0] = status;
    r->f[2] = revfield;
    snprintf(out->serial, sizeof out->serial, "%s", r->f[3]);
    subject_cn(r->f[5], out->cn, sizeof out->cn);
    if (idx_save(ca, &ix, NULL, err) != 0)
        goto done;
    rc = 0;
done:
    idx_release(&ix);
    return rc;
}

/* ---- CRL ----------------------------------------------------------------------- */

/* Add one revoked entry from an index.txt R line. */
static int
crl_add_row(X509_CRL *crl, const struct idx_row *r, char *err)
{
    char rt[32];
    const char *comma = strchr(r->f[2], ',');
    size_t tl = comma ? (size_t)(comma - r->f[2]) : strlen(r->f[2]);
    int code = comma ? pki_crl_reason_parse(comma + 1) : -1;
    BIGNUM *bn = NULL;
    ASN1_INTEGER *sn = NULL;
    ASN1_TIME *t = ASN1_TIME_new();
    ASN1_ENUMERATED *re = NULL;
    X509_REVOKED *rev = X509_REVOKED_new();
    int rc = -1;
    snprintf(rt, sizeof rt, "%.*s", (int)tl, r->f[2]);
    if (comma != NULL && code < 0) {
        errf(err, "index.txt: unknown revocation reason '%s' for serial %s", comma + 1,
            r->f[3]);
        goto done;
    }
    if (code == 8) {                /* removeFromCRL: listed nowhere */
        rc = 0;
        goto done;
    }
    if (t == NULL || rev == NULL || ASN1_TIME_set_string_X509(t, rt) != 1) {
        errf(err, "index.txt: bad revocation time '%s' for serial %s", rt, r->f[3]);
        goto done;
    }
    if (BN_hex2bn(&bn, r->f[3]) <= 0 || (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
        errf(err, "index.txt: bad serial '%s'", r->f[3]);
        goto done;
    }
    if (X509_REVOKED_set_serialNumber(rev, sn) != 1 ||
        X509_REVOKED_set_revocationDate(rev, t) != 1)
        goto oom;
    if (code >= 0) {
        re = ASN1_ENUMERATED_new();
        if (re == NULL || ASN1_ENUMERATED_set(re, code) != 1 ||
            X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, re, 0, 0) != 1)
            goto oom;
    }
    if (X509_CRL_add0_revoked(crl, rev) != 1)
        goto oom;
    rev = NULL;
    rc = 0;
    goto done;
oom:
    errf(err, "cannot add serial %s to the CRL", r->f[3]);
done:
    X509_REVOKED_free(rev);
    ASN1_ENUMERATED_free(re);
    ASN1_TIME_free(t);
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    return rc;
}

int
ca_crl(struct ca *ca, const char *out_path, int days, int64_t now, int64_t *number,
    char *err)
{
    struct idx ix = {0};
    char *numpath = NULL;
    BIGNUM *num = NULL;
    ASN1_INTEGER *ainum = NULL;
    ASN1_TIME *lu = NULL, *nu = NULL;
    X509_CRL *crl = NULL;
    X509_EXTENSION *aki = NULL;
    BIO *b = NULL;
    char why[256];
    int rc = -1;
    *number = -1;

    if (days < 1 || days > CA_MAX_DAYS)
        return errf(err, "invalid CRL validity of %d days: use 1 to %d", days, CA_MAX_DAYS);
    now = now_or(now);
    numpath = path_join(ca->dir, "crlnumber");
    if (idx_load(ca, &ix, err) != 0)
        goto done;
    if (read_hex_file(numpath, &num, err) != 0)
        goto done;
    crl = X509_CRL_new();
    lu = ASN1_TIME_set(NULL, (time_t)now);
    nu = ASN1_TIME_set(NULL, (time_t)(now + (int64_t)days * DAY));
    ainum = BN_to_ASN1_INTEGER(num, NULL);
    if (crl == NULL || lu == NULL || nu == NULL || ainum == NULL ||
        X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) != 1 ||
        X509_CRL_set1_lastUpdate(crl, lu) != 1 || X509_CRL_set1_nextUpdate(crl, nu) != 1) {
        errf(err, "cannot build the CRL");
        goto done;
    }
    for (size_t i = 0; i < ix.n; i++) {
        if (ix.rows[i].f[0][0] == 'R' && crl_add_row(crl, &ix.rows[i], err) != 0)
            goto done;
    }
    if (X509_CRL_sort(crl) != 1) {
        errf(err, "cannot sort the CRL");
        goto done;
    }
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, ca->cert, NULL, NULL, crl, 0);
    aki = X509V3_EXT_nconf_nid(NULL, &v3, NID_authority_key_identifier, "keyid:always");
    if (aki == NULL || X509_CRL_add_ext(crl, aki, -1) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, ainum, 0, 0) != 1) {
        errf(err, "cannot add the CRL extensions: %s", pki_ossl_reason(why, sizeof why));
        goto done;
    }
    if (X509_CRL_sign(crl, pki_key_evp(ca->key), NULL) <= 0) {
        errf(err, "cannot sign the CRL: %s", pki_ossl_reason(why, sizeof why));
        goto done;
    }
    /*
     * Advance crlnumber before writing the CRL: a failure afterwards skips a
     * number, it never lets two different CRLs carry the same one.
     */
    if (BN_add_word(num, 1) != 1 || write_hex_file(numpath, num, 0, err) != 0)
        goto done;
    char *p = NULL;
    long n;
    b = BIO_new(BIO_s_mem());
    /* An issuing CA's CRL travels with the issuing CA's certificate (see ca.h). */
    if (b == NULL || PEM_write_bio_X509_CRL(b, crl) != 1 ||
        (X509_self_signed(ca->cert, 0) != 1 && PEM_write_bio_X509(b, ca->cert) != 1) ||
        (n = BIO_get_mem_data(b, &p)) <= 0) {
        errf(err, "cannot encode the CRL");
        goto done;
    }
    if (util_write_file(out_path, p, (size_t)n, 0644, err) != 0)
        goto done;
    int64_t v = -1;
    if (ASN1_INTEGER_get_int64(&v, ainum) != 1)
        v = -1;
    *number = v;
    rc = 0;
done:
    ERR_clear_error();
    BIO_free(b);
    X509_EXTENSION_free(aki);
    X509_CRL_free(crl);
    ASN1_TIME_free(lu);
    ASN1_TIME_free(nu);
    ASN1_INTEGER_free(ainum);
    BN_free(num);
    free(numpath);
    idx_release(&ix);
    return rc;
}

/* ---- describe (fedra-cert inspect) ------------------------------------------- */

static void
put_name(struct buf *out, const char *label, const X509_NAME *nm)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n = 0;
    unsigned long flags = (XN_FLAG_SEP_CPLUS_SPC | ASN1_STRFLGS_RFC2253) &
        ~ASN1_STRFLGS_ESC_MSB;
    if (b != NULL && X509_NAME_print_ex(b, nm, 0, flags) >= 0)
        n = BIO_get_mem_data(b, &p);
    buf_printf(out, "  %-13s%.*s\n", label, (int)(n > 0 ? n : 0), p ? p : "");
    BIO_free(b);
}

static void
put_time(struct buf *out, const char *label, int64_t t, int64_t now, int is_end)
{
    char ts[PKI_TIME_LEN];
    pki_format_time(t, ts);
    const char *note = "";
    if (is_end && t < now)
        note = "  (expired)";
    else if (!is_end && t > now)
        note = "  (not yet valid)";
    buf_printf(out, "  %-13s%s%s\n", label, ts, note);
}

static int
describe_cert(const char *path, struct buf *out, char *err)
{
    struct pki_cert *c = NULL;
    uint8_t fp[32], ck[PKI_CURVE_KEY_LEN];
    char hex[65];
    int64_t now = util_now_ms() / 1000;
    if (pki_cert_load(path, &c, err) != 0)
        return -1;
    X509 *x = pki_cert_x509(c);
    EVP_PKEY *pub = X509_get0_pubkey(x);
    buf_printf(out, "certificate %s\n", path);
    put_name(out, "subject:", X509_get_subject_name(x));
    put_name(out, "issuer:", X509_get_issuer_name(x));
    if (X509_check_ca(x) != 0) {
        long pl = X509_get_pathlen(x);
        if (pl >= 0)
            buf_printf(out, "  %-13sCA (pathlen %ld)\n", "role:", pl);
        else
            buf_printf(out, "  %-13sCA\n", "role:");
    } else {
        buf_printf(out, "  %-13s%s\n", "role:", pki_role_name(pki_cert_role(c)));
        if (pki_cert_role(c) == PKI_ROLE_NONE)
            buf_printf(out, "  %-13s%s\n", "",
                "(no valid fedra role: needs keyUsage digitalSignature, CA:FALSE and "
                "one critical role extendedKeyUsage)");
    }
    const char *nm = pki_cert_name(c);
    if (nm != NULL)
        buf_printf(out, "  %-13s%s (" PKI_URI_PREFIX "%s:%s)\n", "name:", nm,
            pki_role_name(pki_cert_role(c)), nm);
    else if (X509_check_ca(x) == 0)
        buf_printf(out, "  %-13s%s\n", "name:", "(none: no valid subjectAltName URI)");
    buf_printf(out, "  %-13s%s\n", "serial:", pki_cert_serial_hex(c));
    put_time(out, "not before:", pki_cert_not_before(c), now, 0);
    put_time(out, "not after:", pki_cert_not_after(c), now, 1);
    buf_printf(out, "  %-13s%s\n", "key:",
        pub && EVP_PKEY_get0_type_name(pub) ? EVP_PKEY_get0_type_name(pub) : "?");
    pki_cert_fingerprint(c, fp);
    util_hex(fp, sizeof fp, hex);
    buf_printf(out, "  %-13s%s\n", "sha256:", hex);
    if (pki_cert_curve_key(c, ck) == 0) {
        util_hex(ck, sizeof ck, hex);
        buf_printf(out, "  %-13s%s\n", "curve key:", hex);
    } else if (pki_cert_role(c) != PKI_ROLE_NONE) {
        buf_printf(out, "  %-13s%s\n", "curve key:", "(missing or malformed)");
    }
    /* The issuing CA(s) that follow the leaf in the file. */
    for (size_t i = 0; i < pki_cert_chain_count(c); i++) {
        size_t len;
        const uint8_t *der = pki_cert_chain_der(c, i, &len);
        struct pki_cert *cc = NULL;
        char ts[PKI_TIME_LEN], why[FEDRA_ERRLEN];
        if (pki_cert_from_der(der, len, &cc, why) != 0)
            continue;
        pki_format_time(pki_cert_not_after(cc), ts);
        buf_printf(out, "  %-13sCA '%s' (serial %s), valid until %s\n", "chain:",
            pki_cert_subject_cn(cc), pki_cert_serial_hex(cc), ts);
        pki_cert_free(cc);
    }
    pki_cert_free(c);
    return 0;
}

static int
describe_crl(const char *path, X509_CRL *crl, struct buf *out)
{
    int64_t now = util_now_ms() / 1000;
    int crit = 0;
    char sn[CA_SERIAL_LEN], ts[PKI_TIME_LEN];
    buf_printf(out, "CRL %s\n", path);
    put_name(out, "issuer:", X509_CRL_get_issuer(crl));
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
    int64_t v = -1;
    if (num != NULL && ASN1_INTEGER_get_int64(&v, num) == 1)
        buf_printf(out, "  %-13s%lld\n", "number:", (long long)v);
    else
        buf_printf(out, "  %-13s%s\n", "number:", "(none)");
    ASN1_INTEGER_free(num);
    put_time(out, "last update:", pki_asn1_time_unix(X509_CRL_get0_lastUpdate(crl)), now, 0);
    if (X509_CRL_get0_nextUpdate(crl) != NULL)
        put_time(out, "next update:", pki_asn1_time_unix(X509_CRL_get0_nextUpdate(crl)),
            now, 1);
    else
        buf_printf(out, "  %-13s%s\n", "next update:", "(none)");
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
    int n = revs ? sk_X509_REVOKED_num(revs) : 0;
    buf_printf(out, "  %-13s%d\n", "revoked:", n);
    for (int i = 0; i < n; i++) {
        X509_REVOKED *r = sk_X509_REVOKED_value(revs, i);
        serial_to_hex(X509_REVOKED_get0_serialNumber(r), sn);
        pki_format_time(pki_asn1_time_unix(X509_REVOKED_get0_revocationDate(r)), ts);
        ASN1_ENUMERATED *re = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
        const char *rs = re ? pki_crl_reason_name((int)ASN1_ENUMERATED_get(re)) : NULL;
        buf_printf(out, "    %s  revoked %s%s%s\n", sn, ts, rs ? "  " : "", rs ? rs : "");
        ASN1_ENUMERATED_free(re);
    }
    ERR_clear_error();
    return 0;
}

int
ca_describe(const char *path, struct buf *out, char *err)
{
    uint8_t *data = NULL;
    size_t n = 0;
    X509_CRL *crl = NULL;
    int rc = -1;
    if (util_read_file(path, PKI_MAX_FILE, &data, &n, err) != 0)
        return -1;
    if (memmem(data, n, "-----BEGIN X509 CRL-----", 24) != NULL) {
        BIO *b = BIO_new_mem_buf(data, (int)n);
        crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    } else if (memmem(data, n, "-----BEGIN", 10) == NULL) {
        const unsigned char *p = data;
        X509 *x = d2i_X509(NULL, &p, (long)n);
        if (x == NULL) {
            p = data;
            crl = d2i_X509_CRL(NULL, &p, (long)n);
        }
        X509_free(x);
    }
    ERR_clear_error();
    if (crl != NULL)
        rc = describe_crl(path, crl, out);
    else if (memmem(data, n, "-----BEGIN X509 CRL-----", 24) != NULL)
        rc = errf(err, "'%s' holds a malformed CRL", path);
    else
        rc = describe_cert(path, out, err);
    X509_CRL_free(crl);
    free(data);
    return rc;
}
