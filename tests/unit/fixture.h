/*
 * fixture - helpers shared by the unit tests: temporary stores and
 * directories, and a test PKI made with fedra-cert's own code (certs/ca.c):
 * a CA, node and analyst certificates, a CRL.  Test support only; linked
 * into every unit test program.  The PKI helpers return 0 (or an object) on
 * success and -1 (or NULL) with err set, like the code they call, so that a
 * group setup can print err and fail.
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "certs/pki.h"

struct ca;

#define FIXTURE_LEAF_DAYS 365       /* validity of every certificate fixture_issue makes */
#define FIXTURE_CRL_DAYS 7          /* nextUpdate of fixture_crl's CRL, from now */

/* Remove path and, if it is a directory, everything below it. */
void rm_rf(const char *path);
/* Remove an SQLite store and its -wal, -shm and -journal companions. */
void unlink_db(const char *path);

/* Create a CA in dir ("cn", days, valid from `from`; 0 = now) and open it. */
struct ca *fixture_ca(const char *dir, const char *cn, int days, int64_t from, char *err);
/*
 * Issue a FIXTURE_LEAF_DAYS certificate of role for name from now: out_dir
 * (created if missing) gets NAME.key and NAME.crt.  serial receives its
 * serial (CA_SERIAL_LEN bytes) unless NULL.
 */
int fixture_issue(struct ca *ca, enum pki_role role, const char *name, const char *out_dir,
    char *serial, char *err);
/* fixture_issue for n holders PREFIX0.. PREFIX(n-1), the number zero-padded to width digits. */
int fixture_issue_numbered(struct ca *ca, enum pki_role role, const char *prefix, int width,
    int n, const char *out_dir, char *err);
/* Write ca's CRL to path, valid FIXTURE_CRL_DAYS from now. */
int fixture_crl(struct ca *ca, const char *path, char *err);
/* Load DIR/NAME.crt or DIR/NAME.key (NAME may hold a subdirectory: "out2/DE"). */
struct pki_cert *fixture_cert(const char *dir, const char *name, char *err);
struct pki_key *fixture_key(const char *dir, const char *name, char *err);

#endif /* !FIXTURE_H */
