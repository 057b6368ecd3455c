/*
 * test_paudit - the derivability auditor on pooled sizes (analysis/paudit.c).
 *
 * Records are drawn at random for several nodes (a fresh seed every run,
 * printed); queries are filters on age and sex, optionally grouped by sex.
 * Each node counts its rows per atom (the digits of paudit.h), the counts
 * are pooled as the hub would after unmasking, and paudit_decide's verdicts
 * are checked against an oracle that applies the rule of paudit.h densely
 * to the pooled records themselves: the auditor on pooled atom sizes must
 * decide exactly as one that sees every pooled row.  Targets of the attacks
 * (a patient alone at an age) are picked from the drawn data.  Where the
 * rule is weaker than R3 at a node (analysis/derive.h), a test shows the
 * case and that it discloses no small group.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/derive.h"
#include "analysis/gfp.h"
#include "analysis/paudit.h"

#define NODES 3
#define MAXREC 600
#define K 5                             /* min_cell */

struct rec {
    int age, sex;                       /* sex 0 or 1 */
};

/* A pooled query: age in [lo, hi], sex filter (-1: any), grouped by sex or not. */
struct q {
    int lo, hi, sex, by_sex;
};

static struct rec recs[MAXREC];
static size_t nrec;
static uint64_t rng_state;

/* 0 .. n-1 from a xorshift64* stream (the run's seed, printed). */
static int
rnd(int n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (int)((rng_state * 0x2545F4914F6CDD1DULL >> 33) % (uint64_t)n);
}

static uint32_t
q_cells(const struct q *q)
{
    return q->by_sex ? 2 : 1;
}

/* The row's digit against q: 0 (in no cell) or cell + 1. */
static uint32_t
q_digit(const struct q *q, const struct rec *r)
{
    if (r->age < q->lo || r->age > q->hi || (q->sex >= 0 && r->sex != q->sex))
        return 0;
    return q->by_sex ? (uint32_t)r->sex + 1 : 1;
}

static void
draw(size_t n)
{
    nrec = n;
    for (size_t i = 0; i < n; i++) {
        recs[i].age = 20 + rnd(60);
        recs[i].sex = rnd(2);
    }
}

/* Pooled atom sizes: each node (rows i % NODES) counts its own, the hub adds. */
static uint64_t *
pooled_sizes(const struct paudit_layout *A, const struct q *qs)
{
    uint64_t *sum = calloc(A->natoms, sizeof *sum);
    for (size_t node = 0; node < NODES; node++) {
        uint64_t *own = calloc(A->natoms, sizeof *own);
        for (size_t i = node; i < nrec; i += NODES) {
            uint32_t digit[PAUDIT_MAX_QUERIES];
            for (size_t q = 0; q < A->nq; q++)
                digit[q] = q_digit(&qs[q], &recs[i]);
            own[paudit_atom(A, digit)]++;
        }
        for (size_t a = 0; a < A->natoms; a++)
            sum[a] += own[a];
        free(own);
    }
    return sum;
}

/*
 * The oracle: the rule of paudit.h computed another way, densely, from the
 * pooled records themselves.  Atoms are the distinct digit signatures of the
 * records over queries 0 .. nq-1 (so only nonempty ones); a set is a 0/1
 * row over them; for a system of n sets the atoms in exactly the same sets
 * are merged (compared exactly), and a merged class is small if it holds
 * 1 .. K-1 records.  W is found by row echelon form with the large atoms'
 * columns first (a row whose leading entry lies on a small atom is zero on
 * every large one, and those rows span W); two columns are in one class
 * when every such row holds the same value on both (compared exactly); the
 * system is safe iff the classes are as many as W's dimension and each holds
 * K or more records, or, with more classes than dimensions, all small, no
 * group of classes has one sum below K over every point of [1, K-1]^classes
 * that W's rows cannot tell from the truth (each point tried).  paudit
 * instead reduces sparsely against a reduced basis, one set at a time,
 * tells columns apart by fingerprints and enumerates the box by odometer.
 */
#define OMAX 640                        /* atoms, and sets, the oracle holds */
#define ORACLE_CLASSES 10               /* W's classes it enumerates ... */
#define ORACLE_POINTS (1u << 20)        /* ... over at most this many points */

struct oracle {
    size_t natoms, nsets;
    uint32_t sig[OMAX][8];              /* an atom's digits (queries 0 .. nq-1) */
    uint64_t size[OMAX];
    unsigned char set[OMAX][OMAX];      /* released (or tried) sets over atoms */
    uint64_t m[OMAX][OMAX];             /* scratch matrix */
    uint32_t colorder[OMAX];
};

static void
oracle_atoms(struct oracle *o, const struct q *qs, size_t nq)
{
    o->natoms = 0;
    for (size_t i = 0; i < nrec; i++) {
        uint32_t d[8] = {0};
        for (size_t q = 0; q < nq; q++)
            d[q] = q_digit(&qs[q], &recs[i]);
        size_t a = 0;
        while (a < o->natoms && memcmp(o->sig[a], d, sizeof d) != 0)
            a++;
        if (a == o->natoms) {
            assert_true(a < OMAX);
            memcpy(o->sig[a], d, sizeof d);
            o->size[a] = 0;
            o->natoms++;
        }
        o->size[a]++;
    }
}

static void
oracle_set(struct oracle *o, size_t at, uint32_t q, uint32_t cell)
{
    for (size_t a = 0; a < o->natoms; a++)
        o->set[at][a] = o->sig[a][q] == cell + 1;
}

/* 1 if the system of the first n sets passes the rule, 0 if not, -1 if too large to say. */
static int
oracle_safe(struct oracle *o, size_t n)
{
    /* The released classes: atoms in exactly the same of the n sets, merged. */
    static size_t rep[OMAX];
    static uint64_t csize[OMAX];
    size_t ncls = 0;
    for (size_t a = 0; a < o->natoms; a++) {
        size_t g = 0;
        for (; g < ncls; g++) {
            int same = 1;
            for (size_t r = 0; r < n && same; r++)
                same = o->set[r][rep[g]] == o->set[r][a];
            if (same)
                break;
        }
        if (g == ncls) {
            rep[ncls] = a;
            csize[ncls++] = 0;
        }
        csize[g] += o->size[a];
    }
    size_t nc = 0, nlarge;
    for (size_t g = 0; g < ncls; g++)
        if (csize[g] >= K)
            o->colorder[nc++] = (uint32_t)g;
    nlarge = nc;
    for (size_t g = 0; g < ncls; g++)
        if (csize[g] < K)
            o->colorder[nc++] = (uint32_t)g;
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < nc; c++)
            o->m[r][c] = o->set[r][rep[o->colorder[c]]];
    /* Row echelon form, columns in colorder. */
    size_t rank = 0, wfirst = SIZE_MAX;
    for (size_t c = 0; c < nc && rank < n; c++) {
        size_t p = rank;
        while (p < n && o->m[p][c] == 0)
            p++;
        if (p == n)
            continue;
        for (size_t j = 0; j < nc; j++) {
            uint64_t t = o->m[p][j];
            o->m[p][j] = o->m[rank][j];
            o->m[rank][j] = t;
        }
        uint64_t inv = gfp_inv(o->m[rank][c]);
        for (size_t j = 0; j < nc; j++)
            o->m[rank][j] = gfp_mul(o->m[rank][j], inv);
        for (size_t r = rank + 1; r < n; r++)
            if (o->m[r][c] != 0) {
                uint64_t x = o->m[r][c];
                for (size_t j = 0; j < nc; j++)
                    o->m[r][j] = gfp_sub(o->m[r][j], gfp_mul(x, o->m[rank][j]));
            }
        if (c >= nlarge && wfirst == SIZE_MAX)
            wfirst = rank;
        rank++;
    }
    if (wfirst == SIZE_MAX)
        return 1;                       /* W = {0} */
    size_t dim = rank - wfirst, classes = 0;
    static int cls[OMAX];
    for (size_t c = nlarge; c < nc; c++) {
        cls[c] = -1;
        int any = 0;
        for (size_t r = wfirst; r < rank; r++)
            any |= o->m[r][c] != 0;
        if (!any)
            continue;                   /* not in W's support */
        for (size_t e = nlarge; e < c && cls[c] < 0; e++) {
            if (cls[e] < 0)
                continue;
            int same = 1;
            for (size_t r = wfirst; r < rank && same; r++)
                same = o->m[r][c] == o->m[r][e];
            if (same)
                cls[c] = cls[e];
        }
        if (cls[c] < 0)
            cls[c] = (int)classes++;
    }
    uint64_t grows[OMAX];
    size_t grep_col[OMAX], nsmall = 0;
    for (size_t g = 0; g < classes; g++) {
        grows[g] = 0;
        for (size_t c = nc; c-- > nlarge;)
            if (cls[c] == (int)g) {
                grows[g] += csize[o->colorder[c]];
                grep_col[g] = c;
            }
        nsmall += grows[g] < K;
    }
    if (classes == dim)
        return nsmall == 0;
    /* More classes than dimensions: every point of [1, K-1] on each small class for
     * which some values of the large classes (free, rational) satisfy W, i.e. for
     * which W_L x = -W_S (y - s) is solvable (a rank test); then every group's sum. */
    if (classes > ORACLE_CLASSES)
        return -1;                      /* too large for the oracle to enumerate */
    size_t sm[ORACLE_CLASSES], lg[ORACLE_CLASSES], ns = 0, nl = 0;
    for (size_t g = 0; g < classes; g++) {
        if (grows[g] >= K)
            lg[nl++] = g;
        else
            sm[ns++] = g;
    }
    size_t npt = 1;
    for (size_t g = 0; g < ns; g++)
        npt *= K - 1;
    if (npt > ORACLE_POINTS)
        return -1;
    static unsigned char pts[ORACLE_POINTS][ORACLE_CLASSES];
    static uint64_t a[OMAX][ORACLE_CLASSES + 1];
    size_t nfeas = 0, rows = rank - wfirst;
    for (size_t i = 0; i < npt; i++) {
        unsigned char y[ORACLE_CLASSES];
        size_t rest = i;
        for (size_t g = 0; g < ns; g++) {
            y[g] = (unsigned char)(1 + rest % (K - 1));
            rest /= K - 1;
        }
        /* [W_L | -W_S (y - s)]: solvable iff the last column adds no rank. */
        for (size_t r = 0; r < rows; r++) {
            uint64_t rhs = 0;
            for (size_t g = 0; g < ns; g++) {
                uint64_t w = o->m[wfirst + r][grep_col[sm[g]]];
                rhs = gfp_add(rhs, gfp_mul(w, grows[sm[g]]));
                rhs = gfp_sub(rhs, gfp_mul(w, y[g]));
            }
            for (size_t l = 0; l < nl; l++)
                a[r][l] = o->m[wfirst + r][grep_col[lg[l]]];
            a[r][nl] = rhs;
        }
        size_t rk = 0;
        int bad = 0;
        for (size_t c = 0; c <= nl && rk < rows; c++) {
            size_t p = rk;
            while (p < rows && a[p][c] == 0)
                p++;
            if (p == rows)
                continue;
            if (c == nl)
                bad = 1;                /* the right-hand side is independent */
            for (size_t x = 0; x <= nl; x++) {
                uint64_t t = a[p][x];
                a[p][x] = a[rk][x];
                a[rk][x] = t;
            }
            uint64_t inv = gfp_inv(a[rk][c]);
            for (size_t r = rk + 1; r < rows; r++) {
                uint64_t f = gfp_mul(a[r][c], inv);
                for (size_t x = 0; x <= nl; x++)
                    a[r][x] = gfp_sub(a[r][x], gfp_mul(f, a[rk][x]));
            }
            rk++;
        }
        if (!bad)
            memcpy(pts[nfeas++], y, sizeof y);
    }
    assert_true(nfeas >= 1);            /* the truth itself */
    for (size_t G = 1; G < ((size_t)1 << ns); G++) {
        uint64_t v0 = 0;
        int same = 1;
        for (size_t i = 0; i < nfeas && same; i++) {
            uint64_t v = 0;
            for (size_t g = 0; g < ns; g++)
                if (G >> g & 1)
                    v += pts[i][g];
            if (i == 0)
                v0 = v;
            same = v == v0;
        }
        if (same && v0 < K)
            return 0;
    }
    return 1;
}

/*
 * Release queries qs[0 .. nq) one after the other, every cell a candidate;
 * kept cells become history.  Each verdict is compared with the oracle on
 * the pooled records.  Query t's verdicts go to kept[t][cell].
 */
static void
run(const struct q *qs, size_t nq, unsigned char (*kept_out)[2])
{
    char err[PAUDIT_ERRLEN];
    static struct oracle o;
    struct paudit_set hist[64];
    size_t nhist = 0;
    assert_true(nq <= 8);
    for (size_t t = 0; t < nq; t++) {
        uint32_t ncells[PAUDIT_MAX_QUERIES];
        for (size_t q = 0; q <= t; q++)
            ncells[q] = q_cells(&qs[q]);
        struct paudit_layout A;
        assert_int_equal(paudit_layout_make(&A, ncells, t + 1, err), 0);
        uint64_t *size = pooled_sizes(&A, qs);
        struct paudit_set cand[2];
        size_t nc = q_cells(&qs[t]);
        for (uint32_t c = 0; c < nc; c++)
            cand[c] = (struct paudit_set){(uint32_t)t, c, NULL};
        unsigned char kept[2] = {9, 9};
        int stale = -1;
        int nk = paudit_decide(&A, size, K, hist, nhist, cand, nc, kept, &stale, 11, err);
        if (nk < 0)
            fail_msg("paudit_decide: %s", err);
        assert_int_equal(stale, 0);
        /* The oracle: the history, then the candidates largest first as paudit does. */
        oracle_atoms(&o, qs, t + 1);
        for (size_t h = 0; h < nhist; h++)
            oracle_set(&o, h, hist[h].q, hist[h].cell);
        assert_true(oracle_safe(&o, nhist) != 0);
        uint64_t n[2] = {0, 0};
        for (size_t a = 0; a < o.natoms; a++)
            for (uint32_t c = 0; c < nc; c++)
                n[c] += o.sig[a][t] == c + 1 ? o.size[a] : 0;
        uint32_t first = nc > 1 && n[1] > n[0];
        size_t have = nhist;
        for (uint32_t i = 0; i < nc; i++) {
            uint32_t c = i == 0 ? first : 1 - first;
            oracle_set(&o, have, (uint32_t)t, c);
            int ok = oracle_safe(&o, have + 1);
            if (ok < 0)
                ok = kept[c];           /* beyond the oracle: follow paudit */
            assert_int_equal(kept[c], ok);
            have += ok;
        }
        for (uint32_t c = 0; c < nc; c++) {
            if (kept[c])
                hist[nhist++] = cand[c];
            kept_out[t][c] = kept[c];
        }
        free(size);
    }
}

/* An age that exactly `want` drawn records have (1: a patient alone at that age); -1 if none. */
static int
age_with(size_t want)
{
    for (int a = 21; a < 79; a++) {
        size_t n = 0;
        for (size_t i = 0; i < nrec; i++)
            n += recs[i].age == a;
        if (n == want)
            return a;
    }
    return -1;
}

static void
layout_is_mixed_radix(void **state)
{
    (void)state;
    char err[PAUDIT_ERRLEN];
    uint32_t ncells[3] = {2, 1, 3};
    struct paudit_layout A;
    assert_int_equal(paudit_layout_make(&A, ncells, 3, err), 0);
    assert_int_equal(A.natoms, 3 * 2 * 4);
    /* Every set's atoms are exactly those whose digit there is cell + 1. */
    uint32_t atoms[64];
    for (uint32_t q = 0; q < 3; q++)
        for (uint32_t c = 0; c < ncells[q]; c++) {
            size_t m = paudit_set_atoms(&A, (struct paudit_set){q, c, NULL}, atoms);
            assert_int_equal(m, A.natoms / A.radix[q]);
            size_t seen = 0;
            uint32_t d[3];
            for (d[0] = 0; d[0] < 3; d[0]++)
                for (d[1] = 0; d[1] < 2; d[1]++)
                    for (d[2] = 0; d[2] < 4; d[2]++)
                        if (d[q] == c + 1) {
                            size_t a = paudit_atom(&A, d);
                            assert_true(seen < m);
                            assert_int_equal(atoms[seen], a);
                            seen++;
                        }
            assert_int_equal(seen, m);
        }
}

static void
limits_fail_closed(void **state)
{
    (void)state;
    char err[PAUDIT_ERRLEN];
    struct paudit_layout A;
    uint32_t ncells[PAUDIT_MAX_QUERIES + 1];
    for (size_t i = 0; i <= PAUDIT_MAX_QUERIES; i++)
        ncells[i] = 1;
    assert_int_equal(paudit_layout_make(&A, ncells, 0, err), -1);
    assert_int_equal(paudit_layout_make(&A, ncells, PAUDIT_MAX_QUERIES + 1, err), -1);
    assert_non_null(strstr(err, "64"));
    /* 2^17 atoms is the most: 17 one-cell queries fit, 18 do not. */
    assert_int_equal(PAUDIT_MAX_ATOMS, 1u << 17);
    assert_int_equal(paudit_layout_make(&A, ncells, 17, err), 0);
    assert_int_equal(A.natoms, PAUDIT_MAX_ATOMS);
    assert_int_equal(paudit_layout_make(&A, ncells, 18, err), -1);
    assert_non_null(strstr(err, "PAUDIT_MAX_ATOMS"));
    ncells[0] = 0;
    assert_int_equal(paudit_layout_make(&A, ncells, 1, err), -1);
    /* A set outside the layout, and min_cell 0, are bad input. */
    ncells[0] = 2;
    assert_int_equal(paudit_layout_make(&A, ncells, 1, err), 0);
    uint64_t size[3] = {4, 5, 6};
    struct paudit_set bad = {0, 2, NULL}, good = {0, 1, NULL};
    unsigned char kept;
    int stale;
    assert_int_equal(paudit_decide(&A, size, K, NULL, 0, &bad, 1, &kept, &stale, 1, err), -1);
    assert_non_null(strstr(err, "not in the layout"));
    assert_int_equal(paudit_decide(&A, size, 0, NULL, 0, &good, 1, &kept, &stale, 1, err), -1);
    /* More pooled rows than the auditor counts. */
    uint64_t huge[3] = {0, PAUDIT_MAX_POOLED_ROWS, 1};
    assert_int_equal(paudit_decide(&A, huge, K, NULL, 0, &good, 1, &kept, &stale, 1, err), -1);
    assert_non_null(strstr(err, "PAUDIT_MAX_POOLED_ROWS"));
}

/*
 * A union of cells (a fit's level over every other variable) is one set:
 * its atoms are those of its cells.  Atoms 1, 2, 3 hold 2, 3 and 40.
 * After {1, 3} (42), the set {1, 2} (5) lies on the small atoms 1 and 2,
 * but what the two counts give is the group {1, 2} of 5 and nothing finer:
 * released.  A third set {2, 3} then gives atom 1 alone ({1, 2} + {1, 3} -
 * {2, 3} = 2 * atom 1): withheld.
 */
static void
unions_of_cells(void **state)
{
    (void)state;
    struct paudit_layout A;
    char err[PAUDIT_ERRLEN];
    uint32_t ncells[1] = {3};
    assert_int_equal(paudit_layout_make(&A, ncells, 1, err), 0);
    uint64_t size[4] = {0, 2, 3, 40};      /* atom 0: in no cell */
    static const unsigned char small[3] = {1, 1, 0}, mixed[3] = {1, 0, 1}, late[3] = {0, 1, 1};
    struct paudit_set u[3] = {{0, 0, small}, {0, 0, mixed}, {0, 0, late}};
    uint32_t atoms[4];
    assert_int_equal(paudit_set_atoms(&A, u[0], atoms), 2);
    assert_int_equal(atoms[0], 1);
    assert_int_equal(atoms[1], 2);
    unsigned char kept[2];
    int stale;
    assert_int_equal(paudit_decide(&A, size, K, NULL, 0, &u[1], 1, kept, &stale, 7, err), 1);
    assert_int_equal(kept[0], 1);
    assert_int_equal(paudit_decide(&A, size, K, &u[1], 1, &u[0], 1, kept, &stale, 7, err), 1);
    assert_int_equal(kept[0], 1);
    assert_int_equal(paudit_decide(&A, size, K, u, 2, &u[2], 1, kept, &stale, 7, err), 0);
    assert_int_equal(kept[0], 0);
    /* with atoms of 6 and 7 every set is released */
    uint64_t big[4] = {0, 6, 7, 40};
    assert_int_equal(paudit_decide(&A, big, K, u, 2, &u[2], 1, kept, &stale, 7, err), 1);
    assert_int_equal(kept[0], 1);
}

/* Draws 600 records until some age's counts by sex, n[0] and n[1], pass ok: that age; -1. */
static int
age_where(int (*ok)(const size_t *n))
{
    for (int tries = 0; tries < 1000; tries++)
        for (int x = (draw(600), 21); x < 79; x++) {
            size_t n[2] = {0, 0};
            for (size_t i = 0; i < nrec; i++)
                if (recs[i].age == x)
                    n[recs[i].sex]++;
            if (ok(n))
                return x;
        }
    return -1;
}

/* Both sexes 1 .. K-1, together K or more. */
static int
both_small_together_large(const size_t *n)
{
    return n[0] >= 1 && n[1] >= 1 && n[0] < K && n[1] < K && n[0] + n[1] >= K;
}

/* One sex 1 .. K-1, the other 2K or more. */
static int
one_small_other_large(const size_t *n)
{
    return (n[0] >= 1 && n[0] < K && n[1] >= 2 * K) || (n[1] >= 1 && n[1] < K && n[0] >= 2 * K);
}

/*
 * Where the rule is weaker than R3: a rare group released (an age that K to
 * 2K - 1 patients share, of both sexes, each sex below K), then everyone by
 * sex.  The atoms (that age x sex) are all small, so R3 (derive on the
 * pooled rows) withholds a sex cell; here the two counts give the age's
 * group (released already) and nothing finer, and both sex cells (hundreds)
 * are released.  The atoms themselves stay hidden: a third query on that age
 * among men is withheld.
 */
static void
crossed_tables_keep_their_cells(void **state)
{
    (void)state;
    int a = age_where(both_small_together_large);
    assert_true(a > 0);
    struct q qs[3] = {{a, a, -1, 0}, {0, 200, -1, 1}, {a, a, 1, 0}};
    unsigned char kept[3][2];
    run(qs, 3, kept);
    assert_true(kept[0][0]);
    assert_true(kept[1][0] && kept[1][1]);
    assert_false(kept[2][0]);
    /* R3 at a node, on the same pooled rows, withholds a sex cell. */
    char err[PAUDIT_ERRLEN];
    struct derive *d = derive_new((uint32_t)nrec, K, 0, 5);
    assert_non_null(d);
    static uint32_t rows[3][MAXREC];
    size_t n[3] = {0, 0, 0};
    for (size_t i = 0; i < nrec; i++) {
        if (recs[i].age == a)
            rows[0][n[0]++] = (uint32_t)i;
        rows[1 + recs[i].sex][n[1 + recs[i].sex]++] = (uint32_t)i;
    }
    const uint32_t *r0[1] = {rows[0]}, *r1[2] = {rows[1], rows[2]};
    unsigned char k0[1], k1[2];
    assert_int_equal(derive_admit(d, r0, n, 1, k0, err), 1);
    derive_commit(d);
    assert_true(derive_admit(d, r1, n + 1, 2, k1, err) < 2);
    derive_free(d);
}

/* The number of drawn records aged x. */
static size_t
at_age(int x)
{
    size_t n = 0;
    for (size_t i = 0; i < nrec; i++)
        n += recs[i].age == x;
    return n;
}

/*
 * Draws until an age A holds one patient and an age B > A + 2 holds want,
 * with K or more between them; *a, *b set.
 */
static void
draw_pair(size_t want, int *a, int *b)
{
    for (int tries = 0; tries < 1000; tries++) {
        draw(300);
        for (int x = 21; x < 79; x++) {
            if (at_age(x) != 1)
                continue;
            size_t mid = 0;
            for (int y = x + 1; y < 79; y++) {
                if (y > x + 2 && mid >= K && at_age(y) == want) {
                    *a = x;
                    *b = y;
                    return;
                }
                mid += at_age(y);
            }
        }
    }
    fail_msg("no draw has the ages the test needs");
}

/*
 * A combination that is no group's count: ages [A, B - 1] and [A + 1, B]
 * differ by (those aged A) - (those aged B).  With one patient at each, the
 * difference is 0, and all it says is that the two ages hold as many, which
 * may be anything in 1 .. K-1: released (R3 would withhold it).  With one at
 * A and K-1 at B it is -(K-2), which only 1 and K-1 give: withheld.
 */
static void
difference_of_two_small_groups_needs_bounds(void **state)
{
    (void)state;
    int a = -1, b = -1;
    unsigned char kept[2][2];
    draw_pair(1, &a, &b);
    struct q same[2] = {{a, b - 1, -1, 0}, {a + 1, b, -1, 0}};
    run(same, 2, kept);
    assert_true(kept[0][0] && kept[1][0]);
    draw_pair(K - 1, &a, &b);
    struct q pinned[2] = {{a, b - 1, -1, 0}, {a + 1, b, -1, 0}};
    run(pinned, 2, kept);
    assert_true(kept[0][0]);
    assert_false(kept[1][0]);
}

/*
 * The count of no group, over groups of K or more: atoms a1, a2 (2, 3), b1,
 * b2 (3, 3) and c, d, e (40 each).  Released: X = a1 a2 c, Z = a1 d,
 * Z' = b1 e.  Then Y = b1 b2 c puts X - Y = (a1 + a2) - (b1 + b2) in W: W's
 * classes {a1, a2} and {b1, b2} hold 5 and 6, and only their difference is
 * known, which pins neither (each is at least 1 and unbounded above to the
 * analyst): released.  (R3, and the rule before the bounds test, withheld
 * it.)
 */
static void
difference_of_groups_is_released(void **state)
{
    (void)state;
    struct paudit_layout A;
    char err[PAUDIT_ERRLEN];
    uint32_t ncells[1] = {7};
    assert_int_equal(paudit_layout_make(&A, ncells, 1, err), 0);
    uint64_t size[8] = {0, 2, 3, 3, 3, 40, 40, 40};
    static const unsigned char x[7] = {1, 1, 0, 0, 1, 0, 0}, z[7] = {1, 0, 0, 0, 0, 1, 0},
                               z2[7] = {0, 0, 1, 0, 0, 0, 1}, y[7] = {0, 0, 1, 1, 1, 0, 0};
    struct paudit_set hist[3] = {{0, 0, x}, {0, 0, z}, {0, 0, z2}}, cand = {0, 0, y};
    unsigned char kept = 9;
    int stale = 1;
    assert_int_equal(paudit_decide(&A, size, K, hist, 3, &cand, 1, &kept, &stale, 9, err), 1);
    assert_int_equal(stale, 0);
    assert_int_equal(kept, 1);
}

/* Decide sets[n - 1] with sets[0 .. n - 1) as the history: 1 if kept. */
static int
keep_last(const struct paudit_layout *A, const uint64_t *size, uint32_t k,
    const struct paudit_set *sets, size_t n)
{
    char err[PAUDIT_ERRLEN];
    unsigned char kept = 9;
    int stale = 1;
    if (paudit_decide(A, size, k, sets, n - 1, &sets[n - 1], 1, &kept, &stale, 3, err) < 0)
        fail_msg("paudit_decide: %s", err);
    assert_int_equal(stale, 0);
    return kept;
}

/*
 * Sets X_i = {a_i, c_i} and Y_i = {a'_i, c_i}, one query whose cells are the
 * a's (2 each) and the c's (100 each): X_i - Y_i = a_i - a'_i is in W, so W's
 * classes outnumber its dimension and the bounds test decides (each a_i
 * equals a'_i anywhere in 1 .. k-1: nothing is known).  The history holds
 * every set but the last Y; returns whether the last is kept.  pairs: a'_i
 * = b_i, n free classes.  chain: a'_i = a_(i+1), n + 1 classes, 1 free.
 */
static int
sets_keep_last(size_t n, uint32_t k, int chain)
{
    enum { MAXN = 40 };
    struct paudit_layout A;
    char err[PAUDIT_ERRLEN];
    uint32_t na = chain ? (uint32_t)n + 1 : 2 * (uint32_t)n;
    uint32_t ncells[1] = {na + (uint32_t)n};
    assert_true(n <= MAXN);
    assert_int_equal(paudit_layout_make(&A, ncells, 1, err), 0);
    static uint64_t size[3 * MAXN + 2];
    memset(size, 0, sizeof size);
    for (size_t c = 0; c < na; c++)
        size[1 + c] = 2;
    for (size_t i = 0; i < n; i++)
        size[1 + na + i] = 100;
    static unsigned char in[2 * MAXN][3 * MAXN + 1];
    struct paudit_set sets[2 * MAXN];
    memset(in, 0, sizeof in);
    for (size_t i = 0; i < n; i++) {
        in[2 * i][i] = in[2 * i][na + i] = 1;
        in[2 * i + 1][chain ? i + 1 : n + i] = in[2 * i + 1][na + i] = 1;
        sets[2 * i] = (struct paudit_set){0, 0, in[2 * i]};
        sets[2 * i + 1] = (struct paudit_set){0, 0, in[2 * i + 1]};
    }
    return keep_last(&A, size, k, sets, 2 * n);
}

/*
 * r rows in one component: for every nonzero 0/1 pattern over r an atom
 * a_pattern of 1; X_i = {a_pattern : pattern has bit i} + c_i, Y_i = {b_i,
 * c_i} (b_i of 2, c_i of 100).  X_i - Y_i are r rows of W over 2^r - 1 + r
 * classes, all small: 2^r - 1 free classes.  The history holds every X and
 * every Y but the last; returns whether the last Y is kept.
 */
static int
patterns_keep_last(size_t r, uint32_t k)
{
    struct paudit_layout A;
    char err[PAUDIT_ERRLEN];
    size_t na = ((size_t)1 << r) - 1, nc = na + 2 * r;     /* a's, b's, c's */
    uint32_t ncells[1] = {(uint32_t)nc};
    assert_true(r <= 3);
    assert_int_equal(paudit_layout_make(&A, ncells, 1, err), 0);
    uint64_t size[14] = {0};
    static unsigned char in[6][13];
    struct paudit_set sets[6];
    memset(in, 0, sizeof in);
    for (size_t p = 0; p < na; p++)
        size[1 + p] = 1;
    for (size_t i = 0; i < r; i++) {
        size[1 + na + i] = 2;
        size[1 + na + r + i] = 100;
        for (size_t p = 0; p < na; p++)
            in[i][p] = ((p + 1) >> i) & 1;
        in[i][na + r + i] = 1;
        in[r + i][na + i] = in[r + i][na + r + i] = 1;
    }
    for (size_t i = 0; i < 2 * r; i++)
        sets[i] = (struct paudit_set){0, 0, in[i]};
    return keep_last(&A, size, k, sets, 2 * r);
}

static void
bounds_test_limits(void **state)
{
    (void)state;
    /* components are enumerated apart: 16 pairs, 32 small classes, 4 points each */
    assert_true(sets_keep_last(PAUDIT_BOX_CLASSES / 2, K, 0));
    /* PAUDIT_MAX_BOX: (k-1)^free points of one component */
    assert_true(patterns_keep_last(2, 10));     /* 3 free: 9^3 */
    assert_false(patterns_keep_last(3, 10));    /* 7 free: 9^7 > 2^16 */
    assert_true(patterns_keep_last(3, K));      /* 7 free: 4^7 */
    /* PAUDIT_BOX_CLASSES small classes (one free) */
    assert_true(sets_keep_last(PAUDIT_BOX_CLASSES - 1, K, 1));
    assert_false(sets_keep_last(PAUDIT_BOX_CLASSES, K, 1));
    /* PAUDIT_MAX_GROUPS: with k = 64 every group of a chain of 20 classes (2^20 - 1
     * of them) is below k and tried; 21 classes are too many */
    assert_int_equal(PAUDIT_MAX_GROUPS, 1u << 20);
    assert_true(sets_keep_last(19, 64, 1));
    assert_false(sets_keep_last(20, 64, 1));
}

/*
 * A known group beside an open difference: atoms a (1), b (2), c (2), d (2),
 * e and f (100 each).  Released: {a, e}, {c, f}, {d, f}: c - d is in W, the
 * two equal anywhere in 1 .. 4.  Then {a, b} would put a group of 3 in W too:
 * its sum is the same at every point the analyst cannot rule out (while c
 * and d still move): withheld.
 */
static void
known_group_beside_open_difference_is_withheld(void **state)
{
    (void)state;
    struct paudit_layout A;
    char err[PAUDIT_ERRLEN];
    uint32_t ncells[1] = {6};
    assert_int_equal(paudit_layout_make(&A, ncells, 1, err), 0);
    uint64_t size[7] = {0, 1, 2, 2, 2, 100, 100};
    static const unsigned char ae[6] = {1, 0, 0, 0, 1, 0}, cf[6] = {0, 0, 1, 0, 0, 1},
                               df[6] = {0, 0, 0, 1, 0, 1}, ab[6] = {1, 1, 0, 0, 0, 0};
    struct paudit_set hist[3] = {{0, 0, ae}, {0, 0, cf}, {0, 0, df}}, cand = {0, 0, ab};
    unsigned char kept = 9;
    int stale = 1;
    assert_int_equal(paudit_decide(&A, size, K, hist, 3, &cand, 1, &kept, &stale, 5, err), 0);
    assert_int_equal(stale, 0);
    assert_int_equal(kept, 0);
    /* the history alone is released: c - d pins nothing */
    assert_int_equal(paudit_decide(&A, size, K, hist, 2, &hist[2], 1, &kept, &stale, 5, err), 1);
    assert_int_equal(kept, 1);
}

static void
differencing_pair_is_withheld(void **state)
{
    (void)state;
    /* Redraw until some age holds exactly one patient (the target). */
    int a = -1;
    for (int tries = 0; tries < 1000 && a < 0; tries++) {
        draw(200);
        a = age_with(1);
    }
    assert_true(a > 0);
    /* age <= A, then age < A: their difference is the one patient aged A.  Not both
     * are released (the first may already be withheld as a small set itself). */
    struct q qs[2] = {{0, a, -1, 0}, {0, a - 1, -1, 0}};
    unsigned char kept[2][2];
    run(qs, 2, kept);
    assert_false(kept[0][0] && kept[1][0]);
    /* The same pair at an age that at least K patients share, with at least K younger
     * (so that neither set is small on its own): both are released. */
    int b = -1;
    for (int x = 78; x > 21 && b < 0; x--) {
        size_t at = 0, below = 0;
        for (size_t i = 0; i < nrec; i++) {
            at += recs[i].age == x;
            below += recs[i].age < x;
        }
        if (at >= K && below >= K)
            b = x;
    }
    assert_true(b > 0);
    struct q ok[2] = {{0, b, -1, 0}, {0, b - 1, -1, 0}};
    run(ok, 2, kept);
    assert_true(kept[0][0] && kept[1][0]);
}

static void
tracker_of_three_is_withheld(void **state)
{
    (void)state;
    /* A man alone at his age A: men, then men younger than A, then men older than A:
     * P - Q - R is he.  Each pair differs by many. */
    int a = -1;
    for (int tries = 0; tries < 1000 && a < 0; tries++)
        for (int x = (draw(300), 21); x < 79 && a < 0; x++) {
            size_t men = 0;
            for (size_t i = 0; i < nrec; i++)
                men += recs[i].age == x && recs[i].sex == 1;
            if (men == 1)
                a = x;
        }
    assert_true(a > 0);
    struct q qs[3] = {{0, 200, 1, 0}, {0, a - 1, 1, 0}, {a + 1, 200, 1, 0}};
    unsigned char kept[3][2];
    run(qs, 3, kept);
    assert_false(kept[0][0] && kept[1][0] && kept[2][0]);
}

static void
margin_minus_cells_is_withheld(void **state)
{
    (void)state;
    /* Complementary suppression across queries: the total at an age, then grouped by sex,
     * where one sex holds 1 .. K-1 there: the smaller cell (admitted last) is withheld. */
    int a = age_where(one_small_other_large);
    assert_true(a > 0);
    struct q qs[2] = {{a, a, -1, 0}, {a, a, -1, 1}};
    unsigned char kept[2][2];
    run(qs, 2, kept);
    assert_true(kept[0][0]);
    assert_true(kept[1][0] + kept[1][1] <= 1);
}

static void
random_streams_match_the_row_auditor(void **state)
{
    (void)state;
    for (int rep = 0; rep < 20; rep++) {
        draw(60 + (size_t)rnd(300));
        struct q qs[6];
        for (size_t t = 0; t < 6; t++) {
            int lo = 20 + rnd(60), hi = lo + rnd(20);
            qs[t] = (struct q){lo, hi, rnd(3) - 1, rnd(2)};
        }
        unsigned char kept[6][2];
        run(qs, 6, kept);
    }
}

static void
stale_history_withholds_everything(void **state)
{
    (void)state;
    char err[PAUDIT_ERRLEN];
    /* History: a set released when it was large; the data have since shrunk it to 2
     * pooled rows, so admitting it again fails and the system is stale. */
    uint32_t ncells[2] = {1, 1};
    struct paudit_layout A;
    assert_int_equal(paudit_layout_make(&A, ncells, 2, err), 0);
    uint64_t size[4] = {0};
    uint32_t d[2] = {1, 0};
    size[paudit_atom(&A, d)] = 2;
    d[0] = 0;
    d[1] = 1;
    size[paudit_atom(&A, d)] = 20;
    struct paudit_set hist = {0, 0, NULL}, cand = {1, 0, NULL};
    unsigned char kept = 9;
    int stale = 0;
    assert_int_equal(paudit_decide(&A, size, K, &hist, 1, &cand, 1, &kept, &stale, 3, err), 0);
    assert_int_equal(stale, 1);
    assert_int_equal(kept, 0);
}

int
main(void)
{
    const char *s = getenv("FEDRA_TEST_SEED");
    unsigned long long seed = s ? strtoull(s, NULL, 10) : (unsigned long long)time(NULL);
    printf("test_paudit: seed %llu (FEDRA_TEST_SEED)\n", seed);
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_is_mixed_radix),
        cmocka_unit_test(limits_fail_closed),
        cmocka_unit_test(unions_of_cells),
        cmocka_unit_test(crossed_tables_keep_their_cells),
        cmocka_unit_test(difference_of_two_small_groups_needs_bounds),
        cmocka_unit_test(difference_of_groups_is_released),
        cmocka_unit_test(bounds_test_limits),
        cmocka_unit_test(known_group_beside_open_difference_is_withheld),
        cmocka_unit_test(differencing_pair_is_withheld),
        cmocka_unit_test(tracker_of_three_is_withheld),
        cmocka_unit_test(margin_minus_cells_is_withheld),
        cmocka_unit_test(random_streams_match_the_row_auditor),
        cmocka_unit_test(stale_history_withholds_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
