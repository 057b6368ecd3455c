/*
 * gfp - arithmetic in GF(p), p = 2^61 - 1, for the exact rank tests of the
 * auditors (analysis/derive.c at a node, analysis/paudit.c at the hub).
 * Why this field: a product of two elements fits in 128 bits and folds back
 * with one shift and one add (2^61 = 1 mod p), and p is large enough that a
 * rank over GF(p) is the rank over the rationals for the 0/1 systems the
 * auditors see (derive.h, "Exactness").  Every argument must be below p.
 */
#ifndef GFP_H
#define GFP_H

#include <stdint.h>

#define GFP_P ((uint64_t)0x1FFFFFFFFFFFFFFF)   /* 2^61 - 1 */

static inline uint64_t
gfp_add(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    return s >= GFP_P ? s - GFP_P : s;
}

static inline uint64_t
gfp_sub(uint64_t a, uint64_t b)
{
    return a >= b ? a - b : a + GFP_P - b;
}

static inline uint64_t
gfp_mul(uint64_t a, uint64_t b)
{
    /* a, b < p: the product < 2^122; 2^61 = 1 (mod p) folds the high part. */
    unsigned __int128 t = (unsigned __int128)a * b;
    return gfp_add((uint64_t)t & GFP_P, (uint64_t)(t >> 61));
}

static inline uint64_t
gfp_inv(uint64_t a)                 /* a != 0: a^(p-2) */
{
    uint64_t r = 1, e = GFP_P - 2;
    while (e) {
        if (e & 1)
            r = gfp_mul(r, a);
        a = gfp_mul(a, a);
        e >>= 1;
    }
    return r;
}

#endif /* !GFP_H */
