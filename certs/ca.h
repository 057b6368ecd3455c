/*
 * ca - the federation CA kept in a directory that `openssl ca` also accepts.
 *
 * Layout of DIR (the same files openssl ca reads and writes):
 *   ca.key        Ed25519 private key, PKCS#8 PEM, mode 0600
 *   ca.crt        the CA certificate: a self-signed root (pathlen:1), or an
 *                 issuing CA (pathlen:0) certified by a root (ca_init_issuing)
 *   index.txt     openssl's database: one V (valid) or R (revoked) line per
 *                 issued certificate: status, notAfter, revocation
 *                 time[,reason], serial (hex), "unknown", subject
 *   index.txt.attr  "unique_subject = no" (a name may be re-issued)
 *   serial        required by openssl even with -rand_serial
 *   crlnumber     next CRL number (hex); shared with `openssl ca -gencrl`
 *   certs/SERIAL.pem  a copy of every issued certificate
 *   openssl.cnf   so that an admin can run `openssl ca -config DIR/openssl.cnf`
 *
 * The CA alone sets role, name and transport key: nothing comes from a
 * request.  One process at a time works on a CA (flock on DIR).  Functions
 * return 0 or -1 with one line in err; none prints.
 *
 * The OpenSSL objects behind pki's opaque types, which the CA code needs,
 * come from pki's private header certs/pki_int.h.
 */
#ifndef CA_H
#define CA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certs/pki.h"
#include "lib/util.h"

#define CA_DEFAULT_CN "fedra CA"
#define CA_DEFAULT_CA_DAYS 3650
#define CA_DEFAULT_ISSUING_DAYS 1825   /* an issuing CA: 5 years, or the rest of its root's life */
#define CA_DEFAULT_LEAF_DAYS 365
#define CA_DEFAULT_CRL_DAYS 7
#define CA_MAX_DAYS 36500           /* --days for anything: 1 .. 100 years */
#define CA_MAX_CN 64                /* X.520 ub-common-name */
#define CA_MAX_INDEX (16u << 20)    /* largest index.txt read (~150k certificates) */
#define CA_SERIAL_BYTES 16          /* random serials: 127 bits, positive */
#define CA_SERIAL_LEN 67            /* hex of a serial and its NUL */
#define CA_ROOT_PATHLEN 1           /* a root may certify one level of issuing CAs */

struct ca;                          /* an open, locked CA directory (opaque) */

/* 1 if cn is a usable CA name: 1..CA_MAX_CN of [A-Za-z0-9 ._-]. */
int ca_cn_valid(const char *cn);

/*
 * Create a CA in dir (created if missing): refuses if dir already holds
 * ca.key, ca.crt or index.txt.  now = 0 means the current time.
 */
int ca_init(const char *dir, const char *cn, int days, int64_t now, char *err);

/*
 * Create an issuing (intermediate) CA in dir, certified by the open root
 * parent: its own key, a pathlen:0 CA certificate signed by parent (recorded
 * in parent's index.txt and certs/, so the root can revoke it), and the same
 * openssl files as ca_init.  Refuses a parent that is itself an issuing CA
 * or has pathlen 0 (a root made before issuing CAs existed), a name equal to
 * the parent's, and a validity beyond the parent's.  serial receives the
 * issuing CA's serial.
 */
int ca_init_issuing(const char *dir, const char *cn, int days, struct ca *parent, int64_t now,
    char serial[CA_SERIAL_LEN], char *err);

/* Open and lock the CA in dir (loads ca.key, which must be mode 0600). */
int ca_open(const char *dir, struct ca **out, char *err);
void ca_free(struct ca *ca);
/* The CA certificate (borrowed). */
X509 *ca_cert(const struct ca *ca);

struct ca_issue_req {
    enum pki_role role;
    const char *name;               /* [A-Za-z0-9._-]{1,PKI_MAX_NAME} */
    const char *out_dir;            /* gets NAME.key (0600) and NAME.crt */
    int days;                       /* 1 .. CA_MAX_DAYS */
    int64_t start;                  /* notBefore, Unix seconds; 0 = now */
    const struct pki_key *key;      /* re-issue for this existing key; NULL = a fresh key */
};
/*
 * Issue a certificate with a fresh Ed25519 key (or for req->key, writing no
 * key file: a renewal that keeps the node's transport key); refuses to
 * overwrite NAME.key or NAME.crt, or to outlive the CA.  Under an issuing CA,
 * NAME.crt holds the leaf followed by the issuing CA's certificate, so the
 * chain travels with the leaf.  serial receives its serial.
 */
int ca_issue(struct ca *ca, const struct ca_issue_req *req, char serial[CA_SERIAL_LEN],
    char *err);

struct ca_revoked {
    char serial[CA_SERIAL_LEN];     /* the certificate revoked */
    char cn[CA_MAX_CN + 1];         /* its subject CN */
    int others;                     /* other still-valid certificates with that CN */
};
/*
 * Revoke by name (the newest valid certificate with that CN: a holder's NAME
 * or an issuing CA's name) or by serial
 * (hex, any case, leading zeros ignored); exactly one of them is non-NULL.
 * reason is NULL or one of unspecified, keyCompromise, CACompromise,
 * affiliationChanged, superseded, cessationOfOperation.  at = 0: now.
 */
int ca_revoke(struct ca *ca, const char *name, const char *serial_hex,
    const char *reason, int64_t at, struct ca_revoked *out, char *err);

/*
 * Write a CRL (PEM, atomically) valid from now (0 = current time) for days
 * days, listing every revoked certificate of index.txt, with the next CRL
 * number; *number receives it.  An issuing CA's CRL is followed by the
 * issuing CA's certificate, so that a node trusting only the root can check
 * who signed the CRL (pki_trust_load).
 */
int ca_crl(struct ca *ca, const char *out_path, int days, int64_t now, int64_t *number,
    char *err);

/* Human-readable description of a certificate or CRL file (PEM or DER). */
int ca_describe(const char *path, struct buf *out, char *err);

#endif /* !CA_H */
