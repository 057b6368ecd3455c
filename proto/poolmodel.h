/*
 * poolmodel - the fixed layout of a pooled model round (issue 14, "the hub
 * drives pooled model fits"; proto/DESIGN.md "Pooled release").
 *
 * A pooled cox or glm fit runs its Newton-Raphson / IRLS rounds over the
 * roster's pooled sums: each round, every node puts its ModelResult at the
 * round's coefficients on this layout, masks it (lib/mask.h, one vector under
 * the round's own label, so that two rounds' shares of one node do not
 * subtract to anything) and the sums decode to the modelsum that
 * proto/modelsum.h feeds to the fit.  The layout is a function of the spec
 * alone (p coefficients, the model's categorical variables):
 *
 *   0 n, 1 events, 2 dropped, 3 n_boundary             counts
 *   4 loglik (cox), 5 deviance (glm), 6 aic (glm)      reals
 *   7 .. 7+p                                           score (cox U, glm X'W(z - eta))
 *   then p(p+1)/2                                      information, upper triangle
 *                                                      row by row (it is symmetric)
 *   then per categorical model variable (terms, glm's outcome, cox's strata
 *   variable; each once, in that order), one count per catalogue level: its
 *   complete cases, for the pooled level rule (a pooled level of 1 ..
 *   min_cell-1 refuses the fit, naming it);
 *   then per pair of categorical variables an interaction term crosses (each
 *   pair once, either order, as first named), one count per cell of their
 *   levels (the first variable's level varying slowest), for the same rule.
 *
 * Reals are fixed point (lib/mask.h): the pooled sums decode to the exact sum
 * of the nodes' values rounded to 2^-64, rounded once to a double.  A
 * categorical variable without a closed level list (ICD-O-3 codes) cannot be
 * pooled in a model: its levels would depend on the data.
 */
#ifndef POOLMODEL_H
#define POOLMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "certs/pki.h"
#include "lib/mask.h"
#include "proto/modelsum.h"
#include "proto/vars.h"
#include "proto/wire.h"

#define POOLMODEL_MAX_VARS (2 * WIRE_MAX_TERMS + 2)     /* categorical model variables */
#define POOLMODEL_LABEL_LEN 24                          /* "model/r" and a round number */

enum {
    POOLMODEL_N,
    POOLMODEL_EVENTS,
    POOLMODEL_DROPPED,
    POOLMODEL_BOUNDARY,
    POOLMODEL_LOGLIK,
    POOLMODEL_DEVIANCE,
    POOLMODEL_AIC,
    POOLMODEL_SCORE                 /* the first of p */
};

struct poolmodel {
    int glm;
    size_t p;                       /* coefficients (glm: the intercept too) */
    size_t nvars;                   /* categorical model variables */
    const struct var_def *var[POOLMODEL_MAX_VARS];
    size_t lev_at[POOLMODEL_MAX_VARS];      /* var k's first level, among the level counts */
    size_t npairs;                  /* pairs of categorical variables an interaction crosses */
    const struct var_def *pair[WIRE_MAX_TERMS][2];
    size_t pair_at[WIRE_MAX_TERMS];         /* pair k's first cell, among the level counts */
    size_t nlev;                    /* level and cell counts in all */
    size_t npos;
};

/* The layout of a pooled cox or glm spec; -1 with err (not a model, an open variable). */
int poolmodel_make(const Fedra__QuerySpec *spec, struct poolmodel *L, char *err);
/* Position of information entry (i, j), either order. */
size_t poolmodel_info(const struct poolmodel *L, size_t i, size_t j);
/* The mask label of round (1, 2, ...): every round masked afresh. */
void poolmodel_label(uint32_t round, char buf[POOLMODEL_LABEL_LEN]);

/*
 * One node's round on the layout: m (p scores, p x p information) and, per
 * level position k, levels[k] patients (NULL: none known, all 0).  -1 with
 * err on a value that does not fit the fixed point.
 */
int poolmodel_encode(const struct poolmodel *L, const Fedra__ModelResult *m,
    const uint64_t *levels, mask_elem *v, char *err);
/*
 * The pooled sums of one round: *s (modelsum_init'ed by the caller with L->p)
 * as modelsum_add of one answer would make it, and the level counts into
 * levels (L->nlev of them; NULL: not wanted).  -1 with err if a count is not a
 * count (a wrong share: the sums do not unmask).
 */
int poolmodel_decode(const struct poolmodel *L, const mask_elem *sum, struct modelsum *s,
    uint64_t *levels, char *err);
/*
 * R codes a factor by the levels its complete cases hold: the first is the
 * reference, the others are columns.  A pooled fit of main effects only
 * may name every catalogue level without asking the levels first (coord/
 * model.c); the hub then checks, on round 1's level counts lev (L->nlev)
 * and after the auditor admitted them, that each factor's terms are the
 * levels with patients but the first.  -1 with err beginning with
 * POOLMODEL_LEVELS_REFUSED if not: the client asks the levels and fits
 * again.  A fit with an interaction is not checked (0): its client asked.
 */
#define POOLMODEL_LEVELS_REFUSED "levels: the fit's factor levels are not those its patients hold"
int poolmodel_levels_check(const struct poolmodel *L, const Fedra__QuerySpec *spec,
    const uint64_t *lev, char *err);
/* The pooled sums of a round as a ModelResult whose arrays point into s (release). */
void poolmodel_result(const struct modelsum *s, Fedra__ModelResult *m);
/* The name of level count k ("stage=metastatic", "stage=metastatic:sex=M"). */
void poolmodel_level_name(const struct poolmodel *L, size_t k, char *buf, size_t len);

/*
 * Checking one node's PoolAnswer to a round: the hub as each arrives (by
 * its signature), and every node on the round message (all the roster's
 * answers to the round before; by the pair tag, poolmodel_check below).
 * signer resolves the response envelope's certificate: it must be a node
 * certificate of the federation (the hub verifies it against its trust);
 * *cert stays the resolver's.
 */
typedef int poolmodel_signer_fn(void *arg, const Fedra__Envelope *env,
    const struct pki_cert **cert, char *err);

/*
 * Node name's answer (PoolAnswer bytes) to round `round` of the fit whose
 * query hash is qhash: its response is signed by name (signer), answers
 * qhash, is OK and carries a share of that round of L->npos positions whose
 * hash is that of the masked bytes.  0 and its masked vector added to sum
 * (NULL: not added), and its atoms (round 1, PoolShare.atoms_hash), where
 * present, checked against the hash it signed; the response envelope's
 * SHA-256 in commit and its
 * bytes' place in *resp (into a, which the caller frees with
 * wire_poolanswer_free); -1 with err naming the node and the round.  On a
 * refusal by the node, *refused is set and err has its reason.
 */
int poolmodel_check_answer(const struct poolmodel *L, const uint8_t *answer, size_t len,
    const char *name, const uint8_t qhash[WIRE_HASH_LEN], uint32_t round,
    poolmodel_signer_fn *signer, void *arg, mask_elem *sum, uint8_t commit[WIRE_HASH_LEN],
    Fedra__PoolAnswer **a, Fedra__ResponseBody **body, char *err);

/*
 * A roster node checking its peers' answers (node/sharefit.h) does not
 * verify their signatures -- N nodes verifying N signatures each round was
 * most of a pooled fit's cost -- but each peer's pair tag for it
 * (lib/mask.h), which the peer computed over poolmodel_tag_msg of its share
 * (the round, the positions, the masked vector's hash) and put in the
 * share's peer_tags before signing.  The key is the pair's alone, so the
 * hub cannot make a tag; the signatures stay for the hub, which checks each
 * answer as it comes, and for anyone verifying the release (the analyst's
 * bundle).  POOLMODEL_TAG_CONTEXT ends in its NUL: the message is for this
 * use only.
 */
#define POOLMODEL_TAG_CONTEXT "fedra/pool-fit-share/v1"
#define POOLMODEL_TAG_MSG_LEN (sizeof POOLMODEL_TAG_CONTEXT + 4 + 8 + WIRE_HASH_LEN)
void poolmodel_tag_msg(const Fedra__PoolShare *sh, uint8_t msg[POOLMODEL_TAG_MSG_LEN]);
/* tag: 0 if the share's tags hold the sender's valid tag for the checker; -1 with err. */
typedef int poolmodel_tag_fn(void *arg, const Fedra__PoolShare *sh, char *err);
/* How the sender is vouched for: signer (the signature) or tag (the pair tag); arg to both. */
struct poolmodel_auth {
    poolmodel_signer_fn *signer;
    poolmodel_tag_fn *tag;
    void *arg;
};
/* poolmodel_check_answer with either way of vouching for the sender. */
int poolmodel_check(const struct poolmodel *L, const uint8_t *answer, size_t len,
    const char *name, const uint8_t qhash[WIRE_HASH_LEN], uint32_t round,
    const struct poolmodel_auth *au, mask_elem *sum, uint8_t commit[WIRE_HASH_LEN],
    Fedra__PoolAnswer **a, Fedra__ResponseBody **body, char *err);

/*
 * The pooled auditor's view of a fit (analysis/paudit.h; docs/disclosure.md
 * §8.7).  Round 1's pooled sums give counts exactly: the complete cases with
 * and without the event (cox: the endpoint's; glm: y = 1), the patients
 * selected but missing a model variable (dropped), each level's complete
 * cases of every categorical model variable (the layout's level counts, and
 * glm's (3/16) X'X), and for glm each level's events (X'Wz at mustart), each
 * cell of every pair of categorical covariates (X'X) and an interaction
 * cell's events; for cox an interaction's cells (the layout's).  Each is a
 * union of the CELLS of one partition of the selected patients: cell 0 the
 * dropped, then the complete cases by (event, level of each categorical
 * variable but glm's outcome; the first varies slowest), so a fit is one
 * query of the auditor with 1 + 2K cells, K the product of the variables'
 * level counts, whose released sets are those unions.
 */
#define POOLMODEL_MAX_CELLS 65535       /* PAUDIT_MAX_ATOMS - 1: a digit's cells */
#define POOLMODEL_MAX_PAIRS (POOLMODEL_MAX_VARS * (POOLMODEL_MAX_VARS - 1) / 2)

struct poolmodel_cells {
    int glm;
    size_t nf;                              /* categorical variables (glm: not its outcome) */
    const struct var_def *f[POOLMODEL_MAX_VARS];
    size_t k;                               /* product of their level counts */
    size_t ncells;                          /* 1 + 2k */
    size_t npair;                           /* pairs whose cells a round gives */
    uint8_t pair[POOLMODEL_MAX_PAIRS][2];   /* indices into f */
    uint8_t pair_events[POOLMODEL_MAX_PAIRS];   /* glm: an interaction's cells' events too */
    size_t nsets;                           /* unions released (poolmodel_cells_sets) */
};

/* The cells of L's fit (spec: L's); -1 with err if more than POOLMODEL_MAX_CELLS. */
int poolmodel_cells_make(const struct poolmodel *L, const Fedra__QuerySpec *spec,
    struct poolmodel_cells *C, char *err);
/* The cell of a complete case: event 0/1, lev[f] the catalogue index of each variable's level. */
size_t poolmodel_cell(const struct poolmodel_cells *C, int event, const uint32_t *lev);
/* The C->nsets released sets, set j's membership of cell c in in[j * C->ncells + c]. */
void poolmodel_cells_sets(const struct poolmodel_cells *C, unsigned char *in);

#endif /* !POOLMODEL_H */
