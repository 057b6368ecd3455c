/*
 * test_certcache - the node's cache of verified analyst certificates
 * (node/certcache.c).
 *
 * A group fixture makes a real CA with fedra-cert's code (certs/ca.c):
 * analysts alice and bob, a node DE, CERTCACHE_MAX + 1 further analysts for
 * the capacity test, and two CRLs: crl1.pem (nothing revoked) and crl2.pem
 * (alice revoked).  Verdicts are compared with pki_verify() on the same
 * certificate, so the cache is checked against the uncached path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certs/ca.h"
#include "certs/pki.h"
#include "lib/util.h"
#include "node/certcache.h"

#define NEXTRA (CERTCACHE_MAX + 1)

struct fx {
    char dir[64];
    struct pki_cert *alice, *bob, *de, *extra[NEXTRA];
    struct pki_trust *t1, *t2;      /* crl1 (none revoked), crl2 (alice revoked) */
};

static int
group_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    char err[FEDRA_ERRLEN] = "", p[160], q[160], name[32];
    struct ca *ca = NULL;
    struct ca_revoked rv;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_certcache.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(p, sizeof p, "%s/ca", f->dir);
    snprintf(q, sizeof q, "%s/out", f->dir);
    if ((ca = fixture_ca(p, "certcache test CA", 3650, 0, err)) == NULL ||
        fixture_issue(ca, PKI_ROLE_ANALYST, "alice", q, NULL, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_ANALYST, "bob", q, NULL, err) != 0 ||
        fixture_issue_numbered(ca, PKI_ROLE_ANALYST, "a", 2, NEXTRA, q, err) != 0 ||
        fixture_issue(ca, PKI_ROLE_NODE, "DE", q, NULL, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/crl1.pem", f->dir);
    if (fixture_crl(ca, p, err) != 0 ||
        ca_revoke(ca, "alice", NULL, "keyCompromise", 0, &rv, err) != 0)
        goto fail;
    snprintf(p, sizeof p, "%s/crl2.pem", f->dir);
    if (fixture_crl(ca, p, err) != 0)
        goto fail;
    ca_free(ca);
    ca = NULL;
    snprintf(p, sizeof p, "%s/ca/ca.crt", f->dir);
    snprintf(q, sizeof q, "%s/crl1.pem", f->dir);
    if (pki_trust_load(p, q, 1, &f->t1, err) != 0)
        goto fail;
    snprintf(q, sizeof q, "%s/crl2.pem", f->dir);
    if (pki_trust_load(p, q, 1, &f->t2, err) != 0)
        goto fail;
    snprintf(q, sizeof q, "%s/out", f->dir);
    if ((f->alice = fixture_cert(q, "alice", err)) == NULL ||
        (f->bob = fixture_cert(q, "bob", err)) == NULL ||
        (f->de = fixture_cert(q, "DE", err)) == NULL)
        goto fail;
    for (int i = 0; i < NEXTRA; i++) {
        snprintf(name, sizeof name, "a%02d", i);
        if ((f->extra[i] = fixture_cert(q, name, err)) == NULL)
            goto fail;
    }
    *state = f;
    return 0;
fail:
    fprintf(stderr, "setup: %s\n", err);
    ca_free(ca);
    return -1;
}

static int
group_teardown(void **state)
{
    struct fx *f = *state;
    pki_cert_free(f->alice);
    pki_cert_free(f->bob);
    pki_cert_free(f->de);
    for (int i = 0; i < NEXTRA; i++)
        pki_cert_free(f->extra[i]);
    pki_trust_free(f->t1);
    pki_trust_free(f->t2);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* certcache_verify on c's DER bytes, now. */
static int
check(struct certcache *cc, const struct pki_trust *t, const struct pki_cert *c,
    enum pki_role want, const struct pki_cert **out, char claimed[PKI_MAX_NAME + 1], char *err)
{
    size_t len;
    const uint8_t *der = pki_cert_der(c, &len);
    return certcache_verify(cc, t, der, len, NULL, NULL, 0, want, (int64_t)time(NULL), out,
        claimed, err);
}

static void
test_hit_returns_the_verified_certificate(void **state)
{
    struct fx *f = *state;
    struct certcache *cc = certcache_new();
    const struct pki_cert *a, *b;
    char claimed[PKI_MAX_NAME + 1], err[FEDRA_ERRLEN];
    assert_int_equal(pki_verify(f->t1, f->alice, PKI_ROLE_ANALYST, 0, err), PKI_OK);
    assert_int_equal(check(cc, f->t1, f->alice, PKI_ROLE_ANALYST, &a, claimed, err), PKI_OK);
    assert_non_null(a);
    assert_string_equal(pki_cert_name(a), "alice");
    assert_int_equal(certcache_size(cc), 1);
    /* Same bytes again: the same cached certificate, nothing added. */
    assert_int_equal(check(cc, f->t1, f->alice, PKI_ROLE_ANALYST, &b, claimed, err), PKI_OK);
    assert_ptr_equal(a, b);
    assert_int_equal(certcache_size(cc), 1);
    assert_int_equal(check(cc, f->t1, f->bob, PKI_ROLE_ANALYST, &b, claimed, err), PKI_OK);
    assert_string_equal(pki_cert_name(b), "bob");
    assert_int_equal(certcache_size(cc), 2);
    certcache_clear(cc);
    assert_int_equal(certcache_size(cc), 0);
    certcache_free(cc);
    certcache_free(NULL);
}

static void
test_refusals_are_not_cached(void **state)
{
    struct fx *f = *state;
    struct certcache *cc = certcache_new();
    const struct pki_cert *c = (const struct pki_cert *)1;
    char claimed[PKI_MAX_NAME + 1], err[FEDRA_ERRLEN], want[FEDRA_ERRLEN];
    /* A node certificate is not an analyst: the verdict and message pki_verify gives. */
    assert_int_equal(pki_verify(f->t1, f->de, PKI_ROLE_ANALYST, 0, want), PKI_BAD_ROLE);
    assert_int_equal(check(cc, f->t1, f->de, PKI_ROLE_ANALYST, &c, claimed, err), PKI_BAD_ROLE);
    assert_null(c);
    assert_string_equal(err, want);
    assert_string_equal(claimed, "DE");
    assert_int_equal(certcache_size(cc), 0);
    /* Unreadable bytes. */
    static const uint8_t junk[] = "not a certificate";
    assert_int_equal(certcache_verify(cc, f->t1, junk, sizeof junk, NULL, NULL, 0,
        PKI_ROLE_ANALYST, (int64_t)time(NULL), &c, claimed, err), CERTCACHE_UNREADABLE);
    assert_null(c);
    assert_string_equal(claimed, "");
    assert_int_equal(certcache_size(cc), 0);
    /* A chain that does not parse, or is longer than PKI_MAX_CHAIN: refused, nothing cached. */
    size_t len;
    const uint8_t *der = pki_cert_der(f->alice, &len);
    const uint8_t *chain[PKI_MAX_CHAIN + 1] = {junk, junk, junk};
    size_t chainlen[PKI_MAX_CHAIN + 1] = {sizeof junk, sizeof junk, sizeof junk};
    assert_int_equal(certcache_verify(cc, f->t1, der, len, chain, chainlen, 1, PKI_ROLE_ANALYST,
        (int64_t)time(NULL), &c, claimed, err), CERTCACHE_BAD_CHAIN);
    assert_null(c);
    assert_int_equal(certcache_verify(cc, f->t1, der, len, chain, chainlen, PKI_MAX_CHAIN + 1,
        PKI_ROLE_ANALYST, (int64_t)time(NULL), &c, claimed, err), CERTCACHE_BAD_CHAIN);
    assert_non_null(strstr(err, "more than the limit"));
    assert_int_equal(certcache_size(cc), 0);
    /* A cached analyst verdict is not reused for another role. */
    assert_int_equal(check(cc, f->t1, f->alice, PKI_ROLE_ANALYST, &c, claimed, err), PKI_OK);
    assert_int_equal(check(cc, f->t1, f->alice, PKI_ROLE_NODE, &c, claimed, err), PKI_BAD_ROLE);
    assert_null(c);
    certcache_free(cc);
}

/* A new CRL (SIGHUP) takes effect at once, cleared explicitly or not. */
static void
test_new_trust_invalidates(void **state)
{
    struct fx *f = *state;
    struct certcache *cc = certcache_new();
    const struct pki_cert *c;
    char claimed[PKI_MAX_NAME + 1], err[FEDRA_ERRLEN];
    assert_int_equal(check(cc, f->t1, f->alice, PKI_ROLE_ANALYST, &c, claimed, err), PKI_OK);
    assert_int_equal(check(cc, f->t1, f->bob, PKI_ROLE_ANALYST, &c, claimed, err), PKI_OK);
    assert_int_equal(certcache_size(cc), 2);
    assert_int_equal(check(cc, f->t2, f->alice, PKI_ROLE_ANALYST, &c, claimed, err), PKI_REVOKED);
    assert_null(c);
    assert_non_null(strstr(err, "revoked"));
    assert_string_equal(claimed, "alice");
    assert_int_equal(certcache_size(cc), 0);        /* bob's verdict went with the old trust */
    assert_int_equal(check(cc, f->t2, f->bob, PKI_ROLE_ANALYST, &c, claimed, err), PKI_OK);
    certcache_clear(cc);
    assert_int_equal(certcache_size(cc), 0);
    assert_int_equal(check(cc, f->t2, f->alice, PKI_ROLE_ANALYST, &c, claimed, err), PKI_REVOKED);
    certcache_free(cc);
}

/* An entry is used only before the certificate's notAfter and the CRL's nextUpdate. */
static void
test_outside_validity_window_verifies_again(void **state)
{
    struct fx *f = *state;
    struct certcache *cc = certcache_new();
    const struct pki_cert *a, *b;
    char claimed[PKI_MAX_NAME + 1], err[FEDRA_ERRLEN];
    size_t len;
    const uint8_t *der = pki_cert_der(f->alice, &len);
    int64_t now = (int64_t)time(NULL), end = pki_cert_not_after(f->alice);
    int64_t next = pki_trust_crl_next_update(f->t1);
    if (next >= 0 && next < end)
        end = next;                                 /* the CRL's nextUpdate comes first */
    assert_int_equal(certcache_verify(cc, f->t1, der, len, NULL, NULL, 0, PKI_ROLE_ANALYST, now,
        &a, claimed, err), PKI_OK);
    /* From then on the cached verdict no longer holds: the entry is dropped and rebuilt. */
    assert_int_equal(certcache_verify(cc, f->t1, der, len, NULL, NULL, 0, PKI_ROLE_ANALYST, end,
        &b, claimed, err), PKI_OK);
    assert_int_equal(certcache_size(cc), 1);
    assert_int_equal(certcache_verify(cc, f->t1, der, len, NULL, NULL, 0, PKI_ROLE_ANALYST,
        end - 1, &a, claimed, err), PKI_OK);
    assert_ptr_equal(a, b);                         /* one second before: the cached one */
    certcache_free(cc);
}

/* CERTCACHE_MAX distinct certificates fit; one more evicts the oldest. */
static void
test_capacity(void **state)
{
    struct fx *f = *state;
    struct certcache *cc = certcache_new();
    const struct pki_cert *c, *first;
    char claimed[PKI_MAX_NAME + 1], err[FEDRA_ERRLEN];
    for (int i = 0; i < CERTCACHE_MAX; i++)
        assert_int_equal(check(cc, f->t1, f->extra[i], PKI_ROLE_ANALYST, &c, claimed, err),
            PKI_OK);
    assert_int_equal(certcache_size(cc), CERTCACHE_MAX);
    assert_int_equal(check(cc, f->t1, f->extra[1], PKI_ROLE_ANALYST, &first, claimed, err),
        PKI_OK);
    assert_int_equal(check(cc, f->t1, f->extra[CERTCACHE_MAX], PKI_ROLE_ANALYST, &c, claimed,
        err), PKI_OK);
    assert_int_equal(certcache_size(cc), CERTCACHE_MAX);
    assert_string_equal(pki_cert_name(c), "a64");
    /* extra[1] was not the oldest (extra[0] was): still cached, same object. */
    assert_int_equal(check(cc, f->t1, f->extra[1], PKI_ROLE_ANALYST, &c, claimed, err), PKI_OK);
    assert_ptr_equal(c, first);
    certcache_free(cc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_returns_the_verified_certificate),
        cmocka_unit_test(test_refusals_are_not_cached),
        cmocka_unit_test(test_new_trust_invalidates),
        cmocka_unit_test(test_outside_validity_window_verifies_again),
        cmocka_unit_test(test_capacity),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
