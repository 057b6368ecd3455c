/*
 * test_poolmodel - the fixed layout of a pooled model round
 * (proto/poolmodel.h): its positions are a function of the spec alone, a
 * round encoded at several nodes, masked with the roster's pairwise masks
 * under the round's label and summed, decodes to the sums of their answers
 * (counts exactly, reals to the fixed point's 2^-64 per node), the
 * information matrix symmetric from its upper triangle; two rounds' masks
 * differ; a categorical variable without a closed level list is refused; a
 * sum that does not unmask is named.  Fresh random answers each run.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/poolmodel.h"

#define NODES 4

/* cox on stage=regional, stage=metastatic, age_years, sex=M:stage=metastatic, --strata surgery */
static void
cox_spec(Fedra__QuerySpec *s, Fedra__Term *t, Fedra__Term **tp)
{
    static const char *const v[4][4] = {{"stage", "regional", "", ""},
        {"stage", "metastatic", "", ""}, {"age_years", "", "", ""},
        {"sex", "M", "stage", "metastatic"}};
    fedra__query_spec__init(s);
    for (int j = 0; j < 4; j++) {
        fedra__term__init(&t[j]);
        t[j].var = (char *)v[j][0];
        t[j].level = (char *)v[j][1];
        t[j].var2 = (char *)v[j][2];
        t[j].level2 = (char *)v[j][3];
        tp[j] = &t[j];
    }
    s->kind = FEDRA__KIND__KIND_COX;
    s->terms = tp;
    s->n_terms = 4;
    s->strata = (char *)"surgery";
}

static void
layout_is_the_specs(void **state)
{
    (void)state;
    Fedra__QuerySpec s;
    Fedra__Term t[4], *tp[4];
    cox_spec(&s, t, tp);
    struct poolmodel L;
    char err[FEDRA_ERRLEN];
    assert_int_equal(poolmodel_make(&s, &L, err), 0);
    assert_int_equal(L.p, 4);
    /* stage, sex, surgery: each once, every catalogue level; then sex x stage's cells */
    assert_int_equal(L.nvars, 3);
    size_t nst = vars_find("stage")->nlevels, nsex = vars_find("sex")->nlevels;
    size_t nlev = nst + nsex + vars_find("surgery")->nlevels + nsex * nst;
    assert_int_equal(L.nlev, nlev);
    assert_int_equal(L.npairs, 1);
    assert_int_equal(L.pair_at[0], nlev - nsex * nst);
    assert_int_equal(L.npos, POOLMODEL_SCORE + 4 + 10 + nlev);
    /* every (i <= j) of the information its own position, between the scores and the levels */
    unsigned char *seen = calloc(L.npos, 1);
    for (size_t i = 0; i < L.p; i++)
        for (size_t j = i; j < L.p; j++) {
            size_t at = poolmodel_info(&L, i, j);
            assert_int_equal(at, poolmodel_info(&L, j, i));
            assert_true(at >= POOLMODEL_SCORE + L.p && at < L.npos - L.nlev);
            assert_int_equal(seen[at], 0);
            seen[at] = 1;
        }
    free(seen);
    char name[64];
    poolmodel_level_name(&L, L.lev_at[1] + 1, name, sizeof name);
    assert_string_equal(name, "sex=M");
    poolmodel_level_name(&L, L.pair_at[0] + 1 * nst + 2, name, sizeof name);
    assert_string_equal(name, "sex=M:stage=metastatic");
    /* glm: the intercept and the outcome's levels */
    s.kind = FEDRA__KIND__KIND_GLM;
    s.strata = (char *)"";
    Fedra__Term out = FEDRA__TERM__INIT;
    out.var = (char *)"vital_status";
    out.level = (char *)"dead";
    s.outcome = &out;
    assert_int_equal(poolmodel_make(&s, &L, err), 0);
    assert_int_equal(L.p, 5);
    assert_int_equal(L.nvars, 3);
    /* an open variable (ICD-O-3 codes) has no fixed positions */
    t[2].var = (char *)"morphology";
    t[2].level = (char *)"8720/3";
    assert_int_equal(poolmodel_make(&s, &L, err), -1);
    assert_non_null(strstr(err, "morphology"));
    s.kind = FEDRA__KIND__KIND_COUNT;
    assert_int_equal(poolmodel_make(&s, &L, err), -1);
}

static double
rnd(double scale)
{
    return ((double)randombytes_uniform(1u << 30) / (1u << 30) - 0.5) * scale;
}

static void
masked_sums_decode_to_the_sums(void **state)
{
    (void)state;
    Fedra__QuerySpec s;
    Fedra__Term t[4], *tp[4];
    cox_spec(&s, t, tp);
    struct poolmodel L;
    char err[FEDRA_ERRLEN];
    assert_int_equal(poolmodel_make(&s, &L, err), 0);
    size_t p = L.p;
    uint8_t pk[NODES][MASK_KEY_LEN], sk[NODES][MASK_KEY_LEN], qhash[MASK_HASH_LEN];
    for (int i = 0; i < NODES; i++)
        crypto_box_keypair(pk[i], sk[i]);
    randombytes_buf(qhash, sizeof qhash);
    mask_elem *sum = calloc(L.npos, sizeof *sum), *v = calloc(L.npos, sizeof *v);
    mask_elem *r2 = calloc(L.npos, sizeof *r2);
    double score[NODES][4], info[NODES][16], ll[NODES], want_ll = 0;
    double want_score[4] = {0}, want_info[16] = {0};
    uint64_t lev[NODES][64], want_lev[64] = {0}, want_n = 0, want_ev = 0;
    char label[POOLMODEL_LABEL_LEN], label2[POOLMODEL_LABEL_LEN];
    poolmodel_label(1, label);
    poolmodel_label(2, label2);
    assert_string_not_equal(label, label2);
    for (int i = 0; i < NODES; i++) {
        Fedra__ModelResult m = FEDRA__MODEL_RESULT__INIT;
        ll[i] = rnd(1e6);
        for (size_t j = 0; j < p; j++) {
            score[i][j] = rnd(100);
            for (size_t k = j; k < p; k++)
                info[i][j * p + k] = info[i][k * p + j] = rnd(1e4);
        }
        for (size_t k = 0; k < L.nlev; k++)
            want_lev[k] += lev[i][k] = randombytes_uniform(5);   /* 2 patients here and there */
        m.n = 2 + randombytes_uniform(1000);
        m.events = randombytes_uniform((uint32_t)m.n);
        m.loglik = ll[i];
        m.score = score[i];
        m.n_score = p;
        m.info = info[i];
        m.n_info = p * p;
        want_n += m.n;
        want_ev += m.events;
        want_ll += ll[i];
        for (size_t j = 0; j < p; j++)
            want_score[j] += score[i][j];
        for (size_t j = 0; j < p * p; j++)
            want_info[j] += info[i][j];
        assert_int_equal(poolmodel_encode(&L, &m, lev[i], v, err), 0);
        struct mask_node *mn = NULL;
        assert_int_equal(mask_node_new(&mn, sk[i], pk[i], pk, NODES, qhash, err), 0);
        mask_elem *again = calloc(L.npos, sizeof *again);
        memcpy(again, v, L.npos * sizeof *v);
        assert_int_equal(mask_apply(mn, label, v, L.npos, err), 0);
        assert_int_equal(mask_apply(mn, label2, again, L.npos, err), 0);
        /* the same answer masked for two rounds: the masks differ everywhere */
        for (size_t k = 0; k < L.npos; k++)
            assert_true(v[k] != again[k]);
        mask_add(r2, again, L.npos);
        free(again);
        mask_node_free(mn);
        mask_add(sum, v, L.npos);
    }
    struct modelsum ms;
    modelsum_init(&ms, p);
    uint64_t got_lev[64];
    assert_int_equal(poolmodel_decode(&L, sum, &ms, got_lev, err), 0);
    assert_int_equal(ms.n, want_n);
    assert_int_equal(ms.events, want_ev);
    assert_int_equal(ms.nodes, 1);
    assert_memory_equal(got_lev, want_lev, L.nlev * sizeof *got_lev);
    /* reals: within the fixed point's rounding (2^-64 a node) and one rounding of the sum */
    assert_true(fabs(ms.loglik - want_ll) <= 1e-15 * fabs(want_ll) + NODES * 0x1p-64);
    for (size_t j = 0; j < p; j++)
        assert_true(fabs(ms.score[j] - want_score[j]) <= 1e-14 * fabs(want_score[j]) + 1e-17);
    for (size_t j = 0; j < p * p; j++)
        assert_true(fabs(ms.info[j] - want_info[j]) <= 1e-14 * fabs(want_info[j]) + 1e-17);
    for (size_t j = 0; j < p; j++)
        for (size_t k = 0; k < p; k++)
            assert_memory_equal(&ms.info[j * p + k], &ms.info[k * p + j], sizeof(double));
    /* Round 2's shares of the same answers decode to the same sums too. */
    struct modelsum m2;
    modelsum_init(&m2, p);
    assert_int_equal(poolmodel_decode(&L, r2, &m2, NULL, err), 0);
    assert_memory_equal(m2.score, ms.score, p * sizeof *ms.score);
    /* The pooled sums as a ModelResult (the release's round) add back to the same. */
    Fedra__ModelResult rel;
    poolmodel_result(&ms, &rel);
    struct modelsum back;
    modelsum_init(&back, p);
    assert_int_equal(modelsum_add(&back, &rel, err), 0);
    assert_memory_equal(back.info, ms.info, p * p * sizeof *ms.info);
    assert_int_equal(back.n, ms.n);
    /* One node's share missing: the counts do not unmask. */
    mask_elem *part = calloc(L.npos, sizeof *part);
    memcpy(part, sum, L.npos * sizeof *sum);
    mask_add(part, v, L.npos);      /* the last node's share twice */
    assert_int_equal(poolmodel_decode(&L, part, &m2, NULL, err), -1);
    assert_non_null(strstr(err, "do not unmask"));
    modelsum_release(&ms);
    modelsum_release(&m2);
    modelsum_release(&back);
    free(part);
    free(sum);
    free(v);
    free(r2);
}

/*
 * The auditor's cells of a fit (poolmodel_cells): patients drawn at random
 * (dropped or not, event, a level of each categorical variable) counted
 * into their cells; each released set's size from its cells must be the
 * count a round gives, computed here from the patients themselves, in the
 * sets' order: dropped, events, non-events, each variable's levels (glm:
 * then their events), each pair's cells (glm: then an interaction's events).
 */
static void
audit_cells_are_the_round_counts(void **state)
{
    (void)state;
    for (int glm = 0; glm < 2; glm++) {
        Fedra__QuerySpec s;
        Fedra__Term t[4], *tp[4], out;
        cox_spec(&s, t, tp);
        if (glm) {
            s.kind = FEDRA__KIND__KIND_GLM;
            s.strata = (char *)"";
            fedra__term__init(&out);
            out.var = (char *)"vital_status";
            out.level = (char *)"dead";
            s.outcome = &out;
        }
        struct poolmodel L;
        struct poolmodel_cells C;
        char err[FEDRA_ERRLEN];
        assert_int_equal(poolmodel_make(&s, &L, err), 0);
        assert_int_equal(poolmodel_cells_make(&L, &s, &C, err), 0);
        /* cox: stage, sex, surgery (its strata); glm: stage, sex (not its outcome) */
        assert_int_equal(C.nf, glm ? 2 : 3);
        assert_int_equal(C.npair, 1);           /* the interaction sex x stage */
        assert_int_equal(C.ncells, 1 + 2 * C.k);
        enum { NP = 2000 };
        static uint32_t lev[NP][POOLMODEL_MAX_VARS];
        static int dropped[NP], event[NP];
        uint64_t *size = calloc(C.ncells, sizeof *size);
        uint32_t x = 12345;
        for (int i = 0; i < NP; i++) {
            x = x * 1103515245u + 12345u;
            dropped[i] = (x >> 16) % 17 == 0;
            event[i] = (x >> 8) % 3 == 0;
            for (size_t a = 0; a < C.nf; a++) {
                x = x * 1103515245u + 12345u;
                lev[i][a] = (x >> 16) % (uint32_t)C.f[a]->nlevels;
            }
            size[dropped[i] ? 0 : poolmodel_cell(&C, event[i], lev[i])]++;
        }
        unsigned char *in = calloc(C.nsets * C.ncells, 1);
        poolmodel_cells_sets(&C, in);
        size_t j = 0;
        for (; j < C.nsets; j++) {
            uint64_t got = 0, want = 0;
            for (size_t c = 0; c < C.ncells; c++)
                got += in[j * C.ncells + c] ? size[c] : 0;
            /* set j's predicate, walked in the documented order */
            size_t k = j;
            for (int i = 0; i < NP; i++) {
                int hit;
                if (k == 0)
                    hit = dropped[i];
                else if (k <= 2)
                    hit = !dropped[i] && event[i] == (k == 1);
                else {
                    size_t r = k - 3, a = 0;
                    hit = -1;
                    for (; a < C.nf && hit < 0; a++) {
                        size_t nl = C.f[a]->nlevels, span = nl * (glm ? 2 : 1);
                        if (r < span) {
                            hit = !dropped[i] && lev[i][a] == r % nl && (r < nl || event[i]);
                            break;
                        }
                        r -= span;
                    }
                    if (hit < 0) {
                        size_t na = C.f[C.pair[0][0]]->nlevels, nb = C.f[C.pair[0][1]]->nlevels;
                        assert_true(r < na * nb * (glm ? 2u : 1u));
                        size_t cell = r % (na * nb);
                        hit = !dropped[i] && lev[i][C.pair[0][0]] == cell / nb &&
                            lev[i][C.pair[0][1]] == cell % nb && (r < na * nb || event[i]);
                    }
                }
                want += hit != 0;
            }
            assert_int_equal(got, want);
        }
        assert_int_equal(j, 3 + (C.f[0]->nlevels + C.f[1]->nlevels) * (glm ? 2 : 1) +
            (glm ? 0 : C.f[2]->nlevels) + C.f[0]->nlevels * C.f[1]->nlevels * (glm ? 2 : 1));
        free(in);
        free(size);
    }
}

/*
 * poolmodel_levels_check: a fit of main effects whose factor terms are the
 * levels with patients but the first (R's treatment contrasts over the
 * levels its complete cases hold) passes; a term level without patients,
 * a held level that is no term, and a term at the reference are refused,
 * naming the variable, as is a factor with no level held; a strata variable
 * (no term) and a fit with an interaction are not checked.  Counts
 * from randombytes: which level is empty is drawn each run.
 */
static void
levels_are_those_held(void **state)
{
    (void)state;
    static const char *const v[5][2] = {{"stage", "regional"}, {"stage", "metastatic"},
        {"stage", "unknown"}, {"age_years", ""}, {"sex", "M"}};
    Fedra__QuerySpec s;
    Fedra__Term t[5], *tp[5];
    fedra__query_spec__init(&s);
    for (int j = 0; j < 5; j++) {
        fedra__term__init(&t[j]);
        t[j].var = (char *)v[j][0];
        t[j].level = (char *)v[j][1];
        tp[j] = &t[j];
    }
    s.kind = FEDRA__KIND__KIND_COX;
    s.terms = tp;
    s.n_terms = 5;
    struct poolmodel L;
    char err[FEDRA_ERRLEN];
    assert_int_equal(poolmodel_make(&s, &L, err), 0);
    size_t st = L.nvars, sx = L.nvars;
    for (size_t k = 0; k < L.nvars; k++) {
        if (strcmp(L.var[k]->name, "stage") == 0)
            st = k;
        if (strcmp(L.var[k]->name, "sex") == 0)
            sx = k;
    }
    assert_true(st < L.nvars && sx < L.nvars);
    uint64_t *lev = calloc(L.nlev + 1, sizeof *lev);
    assert_non_null(lev);
    for (size_t k = 0; k < L.nlev; k++)
        lev[k] = 5 + randombytes_uniform(100);
    /* sex: F is the reference, M the term; U must then hold no patient. */
    lev[L.lev_at[sx] + 2] = 0;
    assert_int_equal(poolmodel_levels_check(&L, &s, lev, err), 0);
    /* A term level without patients (regional, metastatic or unknown). */
    uint32_t empty = 1 + randombytes_uniform(3);
    uint64_t keep = lev[L.lev_at[st] + empty];
    lev[L.lev_at[st] + empty] = 0;
    assert_int_equal(poolmodel_levels_check(&L, &s, lev, err), -1);
    assert_non_null(strstr(err, POOLMODEL_LEVELS_REFUSED));
    assert_non_null(strstr(err, "stage"));
    lev[L.lev_at[st] + empty] = keep;
    /* A held level that is no term: sex=U. */
    lev[L.lev_at[sx] + 2] = 1;
    assert_int_equal(poolmodel_levels_check(&L, &s, lev, err), -1);
    assert_non_null(strstr(err, "sex"));
    lev[L.lev_at[sx] + 2] = 0;
    /* The reference (localized) without patients: regional is then R's reference. */
    lev[L.lev_at[st]] = 0;
    assert_int_equal(poolmodel_levels_check(&L, &s, lev, err), -1);
    assert_non_null(strstr(err, "stage"));
    /* No level of stage held: no reference, refused. */
    for (size_t l = 0; l < L.var[st]->nlevels; l++)
        lev[L.lev_at[st] + l] = 0;
    assert_int_equal(poolmodel_levels_check(&L, &s, lev, err), -1);
    assert_non_null(strstr(err, "stage"));
    for (size_t l = 0; l < L.var[st]->nlevels; l++)
        lev[L.lev_at[st] + l] = 5 + randombytes_uniform(100);
    assert_int_equal(poolmodel_levels_check(&L, &s, lev, err), 0);
    /* A cox --strata variable is counted by level but names no term: not checked. */
    s.strata = (char *)"surgery";
    struct poolmodel S;
    assert_int_equal(poolmodel_make(&s, &S, err), 0);
    assert_true(S.nvars == L.nvars + 1);
    uint64_t *slev = calloc(S.nlev + 1, sizeof *slev);
    assert_non_null(slev);
    for (size_t k = 0; k < S.nvars; k++)
        for (size_t l = 0; l < S.var[k]->nlevels; l++)
            slev[S.lev_at[k] + l] = strcmp(S.var[k]->name, "surgery") == 0 ? 0
                                  : lev[L.lev_at[strcmp(S.var[k]->name, "stage") == 0 ? st : sx] + l];
    assert_int_equal(poolmodel_levels_check(&S, &s, slev, err), 0);
    free(slev);
    s.strata = (char *)"";
    /* An interaction: the client asked its levels; not checked. */
    t[4].var2 = (char *)"stage";
    t[4].level2 = (char *)"metastatic";
    struct poolmodel M;
    assert_int_equal(poolmodel_make(&s, &M, err), 0);
    uint64_t *none = calloc(M.nlev + 1, sizeof *none);
    assert_non_null(none);
    assert_int_equal(poolmodel_levels_check(&M, &s, none, err), 0);
    free(none);
    free(lev);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_is_the_specs),
        cmocka_unit_test(masked_sums_decode_to_the_sums),
        cmocka_unit_test(audit_cells_are_the_round_counts),
        cmocka_unit_test(levels_are_those_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
