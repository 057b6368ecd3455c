/*
 * fixture - see fixture.h.
 */
#include "tests/unit/fixture.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certs/ca.h"
#include "lib/util.h"

void
rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            struct buf b = {0};
            buf_printf(&b, "%s/%s", path, e->d_name);
            rm_rf((const char *)b.p);
            buf_release(&b);
        }
        if (d != NULL)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

void
unlink_db(const char *path)
{
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[512];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
}

/* ---- a test PKI -------------------------------------------------------- */

struct ca *
fixture_ca(const char *dir, const char *cn, int days, int64_t from, char *err)
{
    struct ca *ca = NULL;
    if (ca_init(dir, cn, days, from, err) != 0 || ca_open(dir, &ca, err) != 0)
        return NULL;
    return ca;
}

int
fixture_issue(struct ca *ca, enum pki_role role, const char *name, const char *out_dir,
    char *serial, char *err)
{
    char ignored[CA_SERIAL_LEN];
    struct ca_issue_req req = { .role = role, .name = name, .out_dir = out_dir,
        .days = FIXTURE_LEAF_DAYS };
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
        return errf(err, "cannot create '%s': %s", out_dir, strerror(errno));
    return ca_issue(ca, &req, serial != NULL ? serial : ignored, err);
}

int
fixture_issue_numbered(struct ca *ca, enum pki_role role, const char *prefix, int width,
    int n, const char *out_dir, char *err)
{
    for (int i = 0; i < n; i++) {
        char name[PKI_MAX_NAME + 1];
        snprintf(name, sizeof name, "%s%0*d", prefix, width, i);
        if (fixture_issue(ca, role, name, out_dir, NULL, err) != 0)
            return -1;
    }
    return 0;
}

int
fixture_crl(struct ca *ca, const char *path, char *err)
{
    int64_t number;
    return ca_crl(ca, path, FIXTURE_CRL_DAYS, 0, &number, err);
}

struct pki_cert *
fixture_cert(const char *dir, const char *name, char *err)
{
    struct buf p = {0};
    struct pki_cert *c = NULL;
    buf_printf(&p, "%s/%s.crt", dir, name);
    int rc = pki_cert_load((const char *)p.p, &c, err);
    buf_release(&p);
    return rc == 0 ? c : NULL;
}

struct pki_key *
fixture_key(const char *dir, const char *name, char *err)
{
    struct buf p = {0};
    struct pki_key *k = NULL;
    buf_printf(&p, "%s/%s.key", dir, name);
    int rc = pki_key_load((const char *)p.p, &k, err);
    buf_release(&p);
    return rc == 0 ? k : NULL;
}
