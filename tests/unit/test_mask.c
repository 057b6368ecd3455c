/*
 * test_mask - lib/mask.c: fixed point, the ring, and pairwise masks that
 * cancel over the roster and only over it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>
#include <sodium.h>

#include "lib/mask.h"
#include "lib/util.h"

#define NODES 5
#define LEN 1000

struct roster {
    uint8_t sk[NODES][MASK_KEY_LEN];
    uint8_t pk[NODES][MASK_KEY_LEN];
    uint8_t qhash[MASK_HASH_LEN];
};

static void
make_roster(struct roster *r)
{
    assert_true(sodium_init() >= 0);
    for (int i = 0; i < NODES; i++)
        crypto_box_keypair(r->pk[i], r->sk[i]);
    randombytes_buf(r->qhash, sizeof r->qhash);
}

static void
masked(const struct roster *r, int i, size_t nroster, const char *label, mask_elem *v,
    size_t n)
{
    struct mask_node *m = NULL;
    char err[FEDRA_ERRLEN];
    assert_int_equal(mask_node_new(&m, r->sk[i], r->pk[i], r->pk, nroster, r->qhash, err), 0);
    assert_int_equal(mask_apply(m, label, v, n, err), 0);
    mask_node_free(m);
}

/* Random reals of every magnitude the models produce, and counts. */
static double
random_real(void)
{
    double u = (double)randombytes_uniform(1u << 30) / (1u << 30);
    int e = (int)randombytes_uniform(80) - 40;
    return (randombytes_uniform(2) ? -1 : 1) * ldexp(0.5 + u / 2, e);
}

static void
masks_cancel_over_the_roster(void **state)
{
    (void)state;
    struct roster r;
    make_roster(&r);
    static double x[NODES][LEN];
    static uint64_t c[NODES][LEN];
    mask_elem sum[LEN] = {0}, csum[LEN] = {0};
    char err[FEDRA_ERRLEN];
    for (int i = 0; i < NODES; i++) {
        mask_elem v[LEN], w[LEN];
        for (size_t k = 0; k < LEN; k++) {
            x[i][k] = random_real();
            c[i][k] = randombytes_uniform(1000);
            assert_int_equal(mask_real(x[i][k], &v[k], err), 0);
            w[k] = mask_count(c[i][k]);
        }
        masked(&r, i, NODES, "reals", v, LEN);
        masked(&r, i, NODES, "counts", w, LEN);
        mask_add(sum, v, LEN);
        mask_add(csum, w, LEN);
    }
    for (size_t k = 0; k < LEN; k++) {
        long double exact = 0;
        uint64_t cexact = 0;
        for (int i = 0; i < NODES; i++) {
            exact += (long double)x[i][k];
            cexact += c[i][k];
        }
        double got = mask_sum_real(sum[k]);
        /* Each node's value is rounded at 2^-64 absolute; the sum once more. */
        assert_true(fabsl((long double)got - exact) <=
            fabsl(exact) * 0x1p-52L + NODES * 0x1p-64L);
        uint64_t cgot = 0;
        assert_int_equal(mask_sum_count(csum[k], &cgot), 0);
        assert_int_equal(cgot, cexact);
    }
}

/*
 * Without one node's vector (a subset of the roster) the sum is not the sum
 * but noise: the masks that node shared with the others stay in.
 */
static void
a_missing_node_leaves_noise(void **state)
{
    (void)state;
    struct roster r;
    make_roster(&r);
    mask_elem sum[LEN] = {0};
    for (int i = 0; i < NODES - 1; i++) {
        mask_elem v[LEN];
        for (size_t k = 0; k < LEN; k++)
            v[k] = mask_count(1);
        masked(&r, i, NODES, "counts", v, LEN);
        mask_add(sum, v, LEN);
    }
    int small = 0;
    uint64_t out;
    for (size_t k = 0; k < LEN; k++)
        small += mask_sum_count(sum[k], &out) == 0 && out < 1000000;
    assert_int_equal(small, 0);
}

/*
 * One masked vector is uniform to whoever lacks the pair keys: the bytes of
 * a masked all-zero vector and of a masked all-ones vector both pass a
 * chi-square test of uniformity (255 df; critical value qchisq(1 - 1e-6, 255)
 * = 377.1, so a fair draw fails one run in a million), and a
 * different query or label gives a different mask.
 */
static double
chisq_of(const uint8_t *bytes, size_t len)
{
    double cnt[256] = {0};
    for (size_t i = 0; i < len; i++)
        cnt[bytes[i]]++;
    double e = (double)len / 256, x2 = 0;
    for (int b = 0; b < 256; b++)
        x2 += (cnt[b] - e) * (cnt[b] - e) / e;
    return x2;
}

static double
chisq_bytes(const mask_elem *v, size_t n)
{
    uint8_t bytes[LEN * MASK_ELEM_LEN];
    mask_pack(v, n, bytes);
    return chisq_of(bytes, n * MASK_ELEM_LEN);
}

static void
a_masked_vector_looks_uniform(void **state)
{
    (void)state;
    struct roster r;
    make_roster(&r);
    mask_elem z[LEN] = {0}, o[LEN], z2[LEN] = {0}, z3[LEN] = {0};
    for (size_t k = 0; k < LEN; k++)
        o[k] = mask_count(1);
    masked(&r, 2, NODES, "counts", z, LEN);
    masked(&r, 2, NODES, "counts", o, LEN);
    masked(&r, 2, NODES, "flags", z2, LEN);
    assert_true(chisq_bytes(z, LEN) < 377.1);
    assert_true(chisq_bytes(o, LEN) < 377.1);
    /* Same pair keys and query, same label: the same mask (o - z = 1 everywhere). */
    for (size_t k = 0; k < LEN; k++)
        assert_true(o[k] - z[k] == 1);
    assert_memory_not_equal(z, z2, sizeof z);
    randombytes_buf(r.qhash, sizeof r.qhash);
    masked(&r, 2, NODES, "counts", z3, LEN);
    assert_memory_not_equal(z, z3, sizeof z);
}

static void
fixed_point_limits(void **state)
{
    (void)state;
    char err[FEDRA_ERRLEN];
    mask_elem e;
    assert_int_equal(mask_real(NAN, &e, err), -1);
    assert_int_equal(mask_real(INFINITY, &e, err), -1);
    assert_int_equal(mask_real(ldexp(1, MASK_INT_BITS), &e, err), -1);
    assert_non_null(strstr(err, "fixed-point range"));
    assert_int_equal(mask_real(-ldexp(1, MASK_INT_BITS), &e, err), -1);
    assert_int_equal(mask_real(nextafter(ldexp(1, MASK_INT_BITS), 0), &e, err), 0);
    assert_true(mask_sum_real(e) == nextafter(ldexp(1, MASK_INT_BITS), 0));
    assert_int_equal(mask_real(-1.5, &e, err), 0);
    assert_true(mask_sum_real(e) == -1.5);
    assert_int_equal(mask_real(0x1p-65, &e, err), 0);       /* below the last bit: 0 or 1 ulp */
    assert_true(mask_sum_real(e) == 0 || mask_sum_real(e) == 0x1p-64);
    /* MASK_MAX_ROSTER values at the largest magnitude do not wrap. */
    mask_elem acc = 0;
    assert_int_equal(mask_real(-nextafter(ldexp(1, MASK_INT_BITS), 0), &e, err), 0);
    for (int i = 0; i < MASK_MAX_ROSTER; i++)
        acc += e;
    assert_true(mask_sum_real(acc) == -MASK_MAX_ROSTER * nextafter(ldexp(1, MASK_INT_BITS), 0));
    uint64_t c;
    assert_int_equal(mask_sum_count((mask_elem)0 - 1, &c), -1);   /* a negative "count" */
    mask_elem v[2] = {((mask_elem)1 << 100) + 7, 42}, w[2];
    uint8_t b[2 * MASK_ELEM_LEN];
    mask_pack(v, 2, b);
    assert_int_equal(b[0], 7);
    mask_unpack(b, 2, w);
    assert_memory_equal(v, w, sizeof v);
}

static void
rosters_are_checked(void **state)
{
    (void)state;
    struct roster r;
    make_roster(&r);
    struct mask_node *m = NULL;
    char err[FEDRA_ERRLEN];
    /* Own key missing. */
    assert_int_equal(mask_node_new(&m, r.sk[0], r.pk[0], r.pk + 1, NODES - 1, r.qhash, err), -1);
    assert_non_null(strstr(err, "not in the roster"));
    /* A roster of one. */
    assert_int_equal(mask_node_new(&m, r.sk[0], r.pk[0], r.pk, 1, r.qhash, err), -1);
    /* Too many. */
    assert_int_equal(mask_node_new(&m, r.sk[0], r.pk[0], r.pk, MASK_MAX_ROSTER + 1, r.qhash,
        err), -1);
    /* A key twice. */
    uint8_t dup[3][MASK_KEY_LEN];
    memcpy(dup[0], r.pk[0], MASK_KEY_LEN);
    memcpy(dup[1], r.pk[1], MASK_KEY_LEN);
    memcpy(dup[2], r.pk[1], MASK_KEY_LEN);
    assert_int_equal(mask_node_new(&m, r.sk[0], r.pk[0], dup, 3, r.qhash, err), -1);
    assert_non_null(strstr(err, "twice"));
    /* A low-order point (all zeros) fails the key agreement and names it. */
    memset(dup[2], 0, MASK_KEY_LEN);
    assert_int_equal(mask_node_new(&m, r.sk[0], r.pk[0], dup, 3, r.qhash, err), -1);
    assert_non_null(strstr(err, "key agreement with roster key 3"));
    assert_null(m);
    /* Labels are bounded. */
    assert_int_equal(mask_node_new(&m, r.sk[0], r.pk[0], r.pk, NODES, r.qhash, err), 0);
    mask_elem v[1] = {0};
    char big[MASK_MAX_LABEL + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(mask_apply(m, big, v, 1, err), -1);
    assert_int_equal(mask_apply(m, "", v, 1, err), -1);
    big[MASK_MAX_LABEL] = 0;
    assert_int_equal(mask_apply(m, big, v, 1, err), 0);
    mask_node_free(m);
}

/*
 * Kept key agreements (mask_node_new_kept) give the same masks as fresh
 * ones, query after query and for a roster that changes; a cache that sees
 * another own key forgets what it kept; more peers than it keeps still mask
 * right; a low-order key fails and is not kept.
 */
static void
kept_agreements_mask_the_same(void **state)
{
    (void)state;
    struct roster r;
    make_roster(&r);
    char err[FEDRA_ERRLEN];
    struct mask_cache *c = mask_cache_new();
    for (int q = 0; q < 3; q++) {
        randombytes_buf(r.qhash, sizeof r.qhash);
        for (int i = 0; i < NODES; i++) {  /* one cache, several own keys in turn */
            size_t n = q == 1 ? NODES - 1 : NODES;     /* a smaller roster in between */
            if (i >= (int)n)
                continue;
            mask_elem a[LEN] = {0}, b[LEN] = {0};
            struct mask_node *m = NULL;
            assert_int_equal(mask_node_new_kept(&m, c, r.sk[i], r.pk[i], r.pk, n, r.qhash,
                err), 0);
            assert_int_equal(mask_apply(m, "value", a, LEN, err), 0);
            mask_node_free(m);
            masked(&r, i, n, "value", b, LEN);
            assert_memory_equal(a, b, sizeof a);
        }
    }
    /* More peers than the cache keeps: a roster of MASK_CACHE_PEERS + 2 keys. */
    size_t big = MASK_CACHE_PEERS + 2;
    _Static_assert(MASK_CACHE_PEERS + 2 <= MASK_MAX_ROSTER, "a roster larger than the cache");
    {
        uint8_t (*pk)[MASK_KEY_LEN] = xcalloc(big, MASK_KEY_LEN), sk[MASK_KEY_LEN];
        for (size_t i = 0; i < big; i++)
            crypto_box_keypair(pk[i], i == 0 ? sk : (uint8_t[MASK_KEY_LEN]){0});
        mask_elem a[4] = {0}, b[4] = {0};
        struct mask_node *m = NULL;
        for (int round = 0; round < 2; round++) {
            assert_int_equal(mask_node_new_kept(&m, c, sk, pk[0], (const uint8_t (*)[MASK_KEY_LEN])pk,
                big, r.qhash, err), 0);
            assert_int_equal(mask_apply(m, "value", round ? b : a, 4, err), 0);
            mask_node_free(m);
        }
        assert_memory_equal(a, b, sizeof a);
        free(pk);
    }
    /* A low-order point fails the agreement, kept or not, and is never kept. */
    uint8_t bad[3][MASK_KEY_LEN];
    memcpy(bad[0], r.pk[0], MASK_KEY_LEN);
    memcpy(bad[1], r.pk[1], MASK_KEY_LEN);
    memset(bad[2], 0, MASK_KEY_LEN);
    struct mask_node *m = NULL;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(mask_node_new_kept(&m, c, r.sk[0], r.pk[0],
            (const uint8_t (*)[MASK_KEY_LEN])bad, 3, r.qhash, err), -1);
        assert_non_null(strstr(err, "key agreement with roster key 3"));
        assert_null(m);
    }
    mask_cache_free(c);
}

/*
 * The count ring, Z_2^64: counts cancel over the roster exactly, a missing
 * node leaves noise, one masked vector is uniform, the same label gives the
 * same mask, and the count ring never reads the stream of the Z_2^128 one.
 */
static void
count_ring_masks_cancel(void **state)
{
    (void)state;
    struct roster r;
    make_roster(&r);
    char err[FEDRA_ERRLEN];
    static uint64_t c[NODES][LEN];
    uint64_t sum[LEN] = {0}, part[LEN] = {0};
    for (int i = 0; i < NODES; i++) {
        uint64_t v[LEN];
        for (size_t k = 0; k < LEN; k++)
            v[k] = c[i][k] = randombytes_uniform(1000000);
        struct mask_node *m = NULL;
        assert_int_equal(mask_node_new(&m, r.sk[i], r.pk[i], r.pk, NODES, r.qhash, err), 0);
        assert_int_equal(mask_apply_counts(m, "value", v, LEN, err), 0);
        mask_node_free(m);
        uint8_t b[LEN * MASK_COUNT_LEN];
        mask_pack_counts(v, LEN, b);
        mask_add_packed_counts(sum, b, LEN);
        if (i > 0)
            mask_add_counts(part, v, LEN);
    }
    int small = 0;
    for (size_t k = 0; k < LEN; k++) {
        uint64_t want = 0, got, out;
        for (int i = 0; i < NODES; i++)
            want += c[i][k];
        assert_int_equal(mask_count_sum(sum[k], &got), 0);
        assert_int_equal(got, want);
        small += mask_count_sum(part[k], &out) == 0 && out < 1000000000;
    }
    assert_int_equal(small, 0);     /* node 0's vector left out: its masks stay in */
    /* One masked vector: uniform bytes; zeros and ones differ by exactly 1. */
    uint64_t z[LEN] = {0}, o[LEN];
    mask_elem wide[LEN] = {0};
    for (size_t k = 0; k < LEN; k++)
        o[k] = 1;
    struct mask_node *m = NULL;
    assert_int_equal(mask_node_new(&m, r.sk[1], r.pk[1], r.pk, NODES, r.qhash, err), 0);
    assert_int_equal(mask_apply_counts(m, "value", z, LEN, err), 0);
    assert_int_equal(mask_apply_counts(m, "value", o, LEN, err), 0);
    assert_int_equal(mask_apply(m, "value", wide, LEN, err), 0);
    mask_node_free(m);
    uint8_t bz[LEN * MASK_COUNT_LEN], bo[LEN * MASK_COUNT_LEN], bw[LEN * MASK_ELEM_LEN];
    mask_pack_counts(z, LEN, bz);
    mask_pack_counts(o, LEN, bo);
    mask_pack(wide, LEN, bw);
    for (size_t k = 0; k < LEN; k++)
        assert_true(o[k] - z[k] == 1);
    assert_true(chisq_of(bz, sizeof bz) < 377.1);
    assert_true(chisq_of(bo, sizeof bo) < 377.1);
    assert_memory_not_equal(bz, bw, sizeof bz);     /* another stream than Z_2^128's */
    /* Decoding a sum: MASK_COUNT_MAX is the largest count. */
    uint64_t out;
    assert_int_equal(mask_count_sum(MASK_COUNT_MAX, &out), 0);
    assert_true(out == MASK_COUNT_MAX);
    assert_int_equal(mask_count_sum(MASK_COUNT_MAX + 1, &out), -1);
    assert_int_equal(mask_count_sum((uint64_t)0 - 1, &out), -1);   /* a negative "count" */
    uint64_t pv[2] = {((uint64_t)1 << 60) + 7, 42}, pw[2];
    uint8_t pb[2 * MASK_COUNT_LEN];
    mask_pack_counts(pv, 2, pb);
    assert_int_equal(pb[0], 7);
    assert_int_equal(pb[7], 0x10);
    mask_unpack_counts(pb, 2, pw);
    assert_memory_equal(pv, pw, sizeof pv);
}

/*
 * The streams are what mask.h says: for a roster of two, the node whose key
 * sorts lower adds ChaCha20-IETF (libsodium's crypto_stream_chacha20_ietf,
 * zero nonce) under BLAKE2b(key = seed, label), 16 bytes an element; in the
 * count ring under BLAKE2b(key = seed, label || NUL || "u64"), 8 bytes an
 * element; the other node subtracts the same.  LEN elements cross several of
 * mask.c's stream blocks (OpenSSL's ChaCha20); SHORT fit one (libsodium's).
 */
#define SHORT 10
static void
streams_are_chacha20_ietf(void **state)
{
    (void)state;
    struct roster r;
    make_roster(&r);
    char err[FEDRA_ERRLEN];
    int lo = memcmp(r.pk[0], r.pk[1], MASK_KEY_LEN) < 0 ? 0 : 1, hi = 1 - lo;
    uint8_t shared[crypto_scalarmult_BYTES], seed[32], key[32], key64[32];
    assert_int_equal(crypto_scalarmult(shared, r.sk[lo], r.pk[hi]), 0);
    crypto_generichash_state st;
    crypto_generichash_init(&st, shared, sizeof shared, sizeof seed);
    crypto_generichash_update(&st, (const uint8_t *)"fedra/mask/v1", 13);
    crypto_generichash_update(&st, r.pk[lo], MASK_KEY_LEN);
    crypto_generichash_update(&st, r.pk[hi], MASK_KEY_LEN);
    crypto_generichash_update(&st, r.qhash, MASK_HASH_LEN);
    crypto_generichash_final(&st, seed, sizeof seed);
    crypto_generichash(key, sizeof key, (const uint8_t *)"value", 5, seed, sizeof seed);
    crypto_generichash(key64, sizeof key64, (const uint8_t *)"value\0u64", 9, seed, sizeof seed);
    static uint8_t s128[LEN * MASK_ELEM_LEN], s64[LEN * MASK_COUNT_LEN];
    uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
    crypto_stream_chacha20_ietf(s128, sizeof s128, nonce, key);
    crypto_stream_chacha20_ietf(s64, sizeof s64, nonce, key64);
    for (int who = 0; who < 2; who++) {
        int i = who ? hi : lo;
        mask_elem w[LEN] = {0}, want[LEN];
        uint64_t c[LEN] = {0}, cwant[LEN];
        struct mask_node *m = NULL;
        assert_int_equal(mask_node_new(&m, r.sk[i], r.pk[i], r.pk, 2, r.qhash, err), 0);
        mask_elem ws[SHORT] = {0};
        uint64_t cs[SHORT] = {0};
        assert_int_equal(mask_apply(m, "value", w, LEN, err), 0);
        assert_int_equal(mask_apply_counts(m, "value", c, LEN, err), 0);
        assert_int_equal(mask_apply(m, "value", ws, SHORT, err), 0);
        assert_int_equal(mask_apply_counts(m, "value", cs, SHORT, err), 0);
        mask_node_free(m);
        mask_unpack(s128, LEN, want);
        mask_unpack_counts(s64, LEN, cwant);
        for (size_t k = 0; k < LEN; k++) {
            assert_true(w[k] == (who ? 0 - want[k] : want[k]));
            assert_true(c[k] == (who ? 0 - cwant[k] : cwant[k]));
        }
        for (size_t k = 0; k < SHORT; k++) {
            assert_true(ws[k] == w[k]);
            assert_true(cs[k] == c[k]);
        }
    }
}

/*
 * Pair tags: every node checks every peer's tag for it; the tag fails for
 * another message, another receiver, the reverse direction, another query,
 * a node outside the pair (it has no key of that pair), and from itself.
 */
static void
pair_tags_hold_for_one_pair_and_direction(void **state)
{
    (void)state;
    struct roster r;
    make_roster(&r);
    char err[FEDRA_ERRLEN];
    struct mask_node *m[NODES], *other = NULL;
    for (int i = 0; i < NODES; i++)
        assert_int_equal(mask_node_new(&m[i], r.sk[i], r.pk[i], r.pk, NODES, r.qhash, err), 0);
    uint8_t qh2[MASK_HASH_LEN];
    memcpy(qh2, r.qhash, sizeof qh2);
    qh2[0] ^= 1;
    assert_int_equal(mask_node_new(&other, r.sk[2], r.pk[2], r.pk, NODES, qh2, err), 0);
    const uint8_t msg[] = "round 2: masked share hash", msg2[] = "round 2: masked share hasH";
    uint8_t tag[NODES][NODES][MASK_TAG_LEN];
    for (int a = 0; a < NODES; a++)
        for (int b = 0; b < NODES; b++)
            assert_int_equal(mask_tag(m[a], (size_t)b, msg, sizeof msg, tag[a][b]),
                a == b ? -1 : 0);
    for (int a = 0; a < NODES; a++)
        for (int b = 0; b < NODES; b++) {
            if (a == b) {
                assert_int_equal(mask_tag_check(m[b], (size_t)a, msg, sizeof msg, tag[a][b]), -1);
                continue;
            }
            assert_int_equal(mask_tag_check(m[b], (size_t)a, msg, sizeof msg, tag[a][b]), 0);
            assert_int_equal(mask_tag_check(m[b], (size_t)a, msg2, sizeof msg2, tag[a][b]), -1);
            /* b's own tag for a, presented as a's for b */
            assert_int_equal(mask_tag_check(m[b], (size_t)a, msg, sizeof msg, tag[b][a]), -1);
            /* a's tag for b, checked by a third node c as a's for c */
            int c = (a + 1) % NODES == b ? (a + 2) % NODES : (a + 1) % NODES;
            assert_int_equal(mask_tag_check(m[c], (size_t)a, msg, sizeof msg, tag[a][b]), -1);
            /* another query's keys (node 2's) */
            if (b == 2)
                assert_int_equal(mask_tag_check(other, (size_t)a, msg, sizeof msg, tag[a][b]),
                    -1);
        }
    assert_int_equal(mask_tag_check(m[0], NODES, msg, sizeof msg, tag[1][0]), -1);
    for (int i = 0; i < NODES; i++)
        mask_node_free(m[i]);
    mask_node_free(other);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masks_cancel_over_the_roster),
        cmocka_unit_test(a_missing_node_leaves_noise),
        cmocka_unit_test(a_masked_vector_looks_uniform),
        cmocka_unit_test(fixed_point_limits),
        cmocka_unit_test(rosters_are_checked),
        cmocka_unit_test(kept_agreements_mask_the_same),
        cmocka_unit_test(count_ring_masks_cancel),
        cmocka_unit_test(streams_are_chacha20_ietf),
        cmocka_unit_test(pair_tags_hold_for_one_pair_and_direction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
