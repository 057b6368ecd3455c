/*
 * test_seal - padded boxes between two transport keys (lib/seal.c), the
 * envelope every query and answer travels in through the hub.
 *
 * The size classes are checked against their definition in seal.h (1 KiB,
 * then each power of two and one and a half times it: each class is 3/2 or
 * 4/3 of the one before), not against typed numbers; every boundary up to
 * the largest sealed query is sealed and opened at both of its sides.  Boxes
 * that are altered, opened by a third key, padded wrongly, too short, or
 * larger than the caller's limit must be refused, each with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lib/seal.h"
#include "lib/util.h"
#include "proto/wire.h"

struct keys {
    uint8_t pk[SEAL_KEY_LEN], sk[SEAL_KEY_LEN];
};

static void
keypair(struct keys *k)
{
    assert_true(sodium_init() >= 0);
    assert_int_equal(crypto_box_keypair(k->pk, k->sk), 0);
}

/* A box from a to b, as the client and the node make them: the pair key, then the box. */
static void
box_from(const struct keys *a, const struct keys *b, const uint8_t *m, size_t len,
    struct buf *box)
{
    char err[FEDRA_ERRLEN];
    uint8_t pair[SEAL_PAIR_LEN];
    assert_int_equal(seal_pair_key(a->sk, b->pk, pair, err), 0);
    assert_int_equal(seal_box(a->pk, pair, m, len, box, err), 0);
}

/* Open as the holder of me does it (node/hublink.c): the sender's key, the pair key, the box. */
static int
open_as(const struct keys *me, const uint8_t *box, size_t len, size_t max, struct buf *out,
    char *err)
{
    uint8_t from[SEAL_KEY_LEN], pair[SEAL_PAIR_LEN];
    if (seal_sender(box, len, from, err) != 0 || seal_pair_key(me->sk, from, pair, err) != 0)
        return -1;
    return seal_open(pair, box, len, max, out, err);
}

/* n bytes that differ from position to position and from call to call. */
static uint8_t *
message(size_t n)
{
    uint8_t *m = xmalloc(n ? n : 1);
    randombytes_buf(m, n);
    return m;
}

static void
test_classes(void **state)
{
    (void)state;
    assert_int_equal(seal_class(0), SEAL_MIN_CLASS);
    assert_int_equal(seal_class(SEAL_MIN_CLASS - 1), SEAL_MIN_CLASS);
    size_t c = SEAL_MIN_CLASS, n = 0;
    while (c <= WIRE_MAX_SEALED_RESPONSE) {
        size_t next = seal_class(c);            /* a message of c bytes needs the next class */
        /* each class is 3/2 (from a power of two) or 4/3 (to one) of the last */
        if ((c & (c - 1)) == 0)
            assert_int_equal(next * 2, c * 3);
        else {
            assert_int_equal(next * 3, c * 4);
            assert_int_equal(next & (next - 1), 0);
        }
        /* the class of every length in (c, next] ... at its two ends */
        assert_int_equal(seal_class(c + 1), next);
        assert_int_equal(seal_class(next - 1), next);
        c = next;
        n++;
    }
    assert_true(n > 20);
    /* Padding costs at most half the message (classes within a factor of 1.5). */
    for (size_t len = 1; len < 1u << 20; len = len * 3 + 7)
        assert_true(seal_class(len) <= len + len / 2 + SEAL_MIN_CLASS);
}

/* Every boundary up to the largest sealed query: at class - 1 and at class bytes. */
static void
test_round_trip_boundaries(void **state)
{
    (void)state;
    struct keys k, a;
    char err[FEDRA_ERRLEN];
    keypair(&k);
    keypair(&a);
    size_t c = SEAL_MIN_CLASS;
    for (;;) {
        size_t lens[] = {c - 1, c, c == SEAL_MIN_CLASS ? 0 : c / 2};
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            size_t len = lens[i];
            uint8_t *m = message(len);
            struct buf box = {0}, out = {0};
            box_from(&a, &k, m, len, &box);
            assert_int_equal(box.len, seal_class(len) + SEAL_OVERHEAD);
            assert_int_equal(open_as(&k, box.p, box.len, len, &out, err), 0);
            assert_int_equal(out.len, len);
            if (len > 0)
                assert_memory_equal(out.p, m, len);
            buf_release(&box);
            buf_release(&out);
            free(m);
        }
        if (c > WIRE_MAX_MODEL_QUERY)
            break;
        c = seal_class(c);
    }
}

/*
 * The pair key is the same from both sides; a box altered anywhere (its
 * sender field included), or opened by a third key, does not open.
 */
static void
test_altered_and_wrong_key(void **state)
{
    (void)state;
    struct keys k, a, other;
    char err[FEDRA_ERRLEN];
    keypair(&k);
    keypair(&a);
    keypair(&other);
    uint8_t ka[SEAL_PAIR_LEN], ak[SEAL_PAIR_LEN], ko[SEAL_PAIR_LEN];
    assert_int_equal(seal_pair_key(k.sk, a.pk, ka, err), 0);
    assert_int_equal(seal_pair_key(a.sk, k.pk, ak, err), 0);
    assert_int_equal(seal_pair_key(k.sk, other.pk, ko, err), 0);
    assert_memory_equal(ka, ak, SEAL_PAIR_LEN);
    assert_memory_not_equal(ka, ko, SEAL_PAIR_LEN);
    uint8_t *m = message(3000);
    struct buf box = {0}, box2 = {0}, out = {0};
    box_from(&a, &k, m, 3000, &box);
    /* The sender's key is in clear; the nonce is fresh for every box. */
    uint8_t from[SEAL_KEY_LEN];
    assert_int_equal(seal_sender(box.p, box.len, from, err), 0);
    assert_memory_equal(from, a.pk, SEAL_KEY_LEN);
    box_from(&a, &k, m, 3000, &box2);
    assert_memory_not_equal(box.p + SEAL_KEY_LEN, box2.p + SEAL_KEY_LEN, SEAL_NONCE_LEN);
    size_t at[] = {0, SEAL_KEY_LEN - 1, SEAL_KEY_LEN, SEAL_KEY_LEN + SEAL_NONCE_LEN - 1,
        SEAL_OVERHEAD - 1, SEAL_OVERHEAD, box.len / 2, box.len - 1};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        box.p[at[i]] ^= 0x40;
        assert_int_not_equal(open_as(&k, box.p, box.len, 3000, &out, err), 0);
        assert_non_null(strstr(err, "does not open"));
        assert_int_equal(out.len, 0);
        box.p[at[i]] ^= 0x40;
    }
    /* A third key opens nothing: neither as recipient nor with its pair key. */
    assert_int_not_equal(open_as(&other, box.p, box.len, 3000, &out, err), 0);
    assert_non_null(strstr(err, "does not open"));
    assert_int_not_equal(seal_open(ko, box.p, box.len, 3000, &out, err), 0);
    /* A box cut short by one byte: no. */
    assert_int_not_equal(open_as(&k, box.p, box.len - 1, 3000, &out, err), 0);
    /* Either holder of the pair opens it (the sender could read its own box). */
    assert_int_equal(seal_open(ak, box.p, box.len, 3000, &out, err), 0);
    assert_memory_equal(out.p, m, 3000);
    out.len = 0;
    assert_int_equal(open_as(&k, box.p, box.len, 3000, &out, err), 0);
    assert_memory_equal(out.p, m, 3000);
    /* A peer key of low order (here zero) gives no pair key. */
    uint8_t zero[SEAL_KEY_LEN] = {0};
    assert_int_not_equal(seal_pair_key(k.sk, zero, ko, err), 0);
    assert_non_null(strstr(err, "key agreement failed"));
    buf_release(&box);
    buf_release(&box2);
    buf_release(&out);
    free(m);
}

/* A box of len plaintext bytes as seal_box lays it out, but with plain as given. */
static void
raw_box(const struct keys *a, const uint8_t pair[SEAL_PAIR_LEN], const uint8_t *plain,
    size_t len, uint8_t *box)
{
    memcpy(box, a->pk, SEAL_KEY_LEN);
    randombytes_buf(box + SEAL_KEY_LEN, SEAL_NONCE_LEN);
    assert_int_equal(crypto_box_easy_afternm(box + SEAL_KEY_LEN + SEAL_NONCE_LEN, plain, len,
        box + SEAL_KEY_LEN, pair), 0);
}

/* Boxes that open but whose padding is not seal_box's. */
static void
test_bad_padding(void **state)
{
    (void)state;
    struct keys k, a;
    char err[FEDRA_ERRLEN];
    keypair(&k);
    keypair(&a);
    uint8_t pair[SEAL_PAIR_LEN];
    assert_int_equal(seal_pair_key(a.sk, k.pk, pair, err), 0);
    size_t cls = seal_class(SEAL_MIN_CLASS);
    uint8_t *plain = xcalloc(1, cls);
    struct buf out = {0};
    uint8_t *box = xmalloc(cls + SEAL_OVERHEAD);
    /* No pad marker at all (all zeros). */
    raw_box(&a, pair, plain, cls, box);
    assert_int_not_equal(open_as(&k, box, cls + SEAL_OVERHEAD, cls, &out, err), 0);
    assert_non_null(strstr(err, "padded wrongly"));
    /* Padded correctly, but to more than its class: a short message in a big box. */
    size_t padded = 0;
    memset(plain, 'x', 10);
    assert_int_equal(sodium_pad(&padded, plain, 10, cls, cls), 0);
    raw_box(&a, pair, plain, cls, box);
    assert_int_not_equal(open_as(&k, box, cls + SEAL_OVERHEAD, cls, &out, err), 0);
    assert_non_null(strstr(err, "padded wrongly"));
    /* Padded to a size that is no class. */
    size_t odd = SEAL_MIN_CLASS + 1;
    memset(plain, 0, cls);
    assert_int_equal(sodium_pad(&padded, plain, SEAL_MIN_CLASS, odd, odd), 0);
    assert_int_equal(padded, odd);
    raw_box(&a, pair, plain, odd, box);
    assert_int_not_equal(open_as(&k, box, odd + SEAL_OVERHEAD, cls, &out, err), 0);
    assert_non_null(strstr(err, "padded wrongly"));
    assert_int_equal(out.len, 0);
    buf_release(&out);
    free(box);
    free(plain);
}

/* The caller's limit: the message, and the box before it is opened. */
static void
test_limit(void **state)
{
    (void)state;
    struct keys k, a;
    char err[FEDRA_ERRLEN];
    keypair(&k);
    keypair(&a);
    size_t len = 5000;
    uint8_t *m = message(len);
    struct buf box = {0}, out = {0};
    box_from(&a, &k, m, len, &box);
    assert_int_equal(open_as(&k, box.p, box.len, len, &out, err), 0);
    out.len = 0;
    assert_int_not_equal(open_as(&k, box.p, box.len, len - 1, &out, err), 0);
    assert_non_null(strstr(err, "larger than the"));
    assert_int_equal(out.len, 0);
    /* A box bigger than any message within max could need is refused unopened. */
    assert_int_not_equal(open_as(&k, box.p, box.len, 100, &out, err), 0);
    assert_non_null(strstr(err, "can need"));
    /* Shorter than the smallest box. */
    assert_int_not_equal(open_as(&k, box.p, SEAL_OVERHEAD + SEAL_MIN_CLASS - 1, len, &out,
        err), 0);
    assert_non_null(strstr(err, "shorter than the smallest box"));
    assert_int_not_equal(open_as(&k, box.p, 0, len, &out, err), 0);
    assert_int_equal(out.len, 0);
    buf_release(&box);
    buf_release(&out);
    free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_round_trip_boundaries),
        cmocka_unit_test(test_altered_and_wrong_key),
        cmocka_unit_test(test_bad_padding),
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
