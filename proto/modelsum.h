/*
 * modelsum - one model round summed over the nodes' answers, and the fit's
 * Newton-Raphson / IRLS path fed with those sums: the one piece of code the
 * coordinator (coord/model.c) and every node checking a round's
 * coefficients (node/kind_model.c, docs/disclosure.md R1) both run, so that
 * both reach the same next coefficients bit for bit.
 *
 * Sums.  modelsum_add() adds one node's ModelResult in the order it is
 * called (floating-point addition is not associative: the order is part of
 * the result, which is why a round carries the previous answers in the
 * coordinator's summation order).  It checks the answer's shape (p scores,
 * p x p information) and nothing else.
 *
 * Path.  struct modelpath is the coordinator's state machine (analysis/cox.h
 * cox_nr, analysis/glm.h glm_irls) started exactly as the coordinator
 * starts it: default options, except the iteration bound (max_iter, 0 for
 * R's default).  Cox stops after its first round when the summed events are
 * 0 (coxph does not iterate: modelpath.no_events).
 *
 * A node does not know the coordinator's --max-iter (QuerySpec does not carry
 * it).  The bound changes no step before it is reached: a replay with the
 * largest bound (MODELSUM_REPLAY_MAX_ITER) asks, round by round, what any
 * smaller bound asks, until the smaller one stops.  The one difference is
 * coxfit6's extra round after running out of iterations, at the last
 * accepted coefficients (coefficients answered before in the fit):
 * modelpath_final_beta() gives them.
 */
#ifndef MODELSUM_H
#define MODELSUM_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/cox.h"
#include "analysis/glm.h"
#include "fedra.pb-c.h"

/* The iteration bound of a node's replay: the largest a query may ask for. */
#define MODELSUM_REPLAY_MAX_ITER 1000
_Static_assert(MODELSUM_REPLAY_MAX_ITER == COX_MAX_ITER_MAX &&
    MODELSUM_REPLAY_MAX_ITER == GLM_MAX_MAXIT, "the replay bound is both fits' largest");

struct modelsum {
    size_t p;
    size_t nodes;                   /* answers added */
    double loglik;                  /* cox */
    double *score, *info;           /* p and p x p, owned */
    struct glm_node_stats glm;      /* deviance, aic, events (sum_y), n, n_boundary */
    uint64_t n, events, dropped, excluded;
    /* answers whose count was sent as 0 with its suppressed flag (R2) */
    size_t dropped_suppressed, boundary_suppressed, excluded_suppressed;
    uint32_t grid;                  /* cox: the last answer's grid */
};

/* Zeroed sums of p coefficients (1 .. WIRE_MAX_COEF). */
void modelsum_init(struct modelsum *s, size_t p);
void modelsum_release(struct modelsum *s);
/* Add one answer; -1 with err if its score or information is not p or p x p long. */
int modelsum_add(struct modelsum *s, const Fedra__ModelResult *m, char *err);

struct modelpath {
    int glm;
    size_t p;
    int no_events;                  /* cox: round 1 had no event; done, R's NA result */
    int final;                      /* cox: the extra round at the last accepted beta was asked */
    struct cox_nr cox;
    struct glm_irls irls;
};

/* Start the path (max_iter 0: R's default).  -1 on bad p or max_iter. */
int modelpath_init(struct modelpath *m, int glm, size_t p, int max_iter);
void modelpath_release(struct modelpath *m);
int modelpath_done(const struct modelpath *m);
/* The coefficients of the next round; NULL for glm's first round (none sent). */
const double *modelpath_next_beta(const struct modelpath *m);
/*
 * Feed one round's sums.  0, or -1 with err when the fit cannot go on (glm:
 * no patients or sums not finite; already done).
 */
int modelpath_feed(struct modelpath *m, const struct modelsum *s, char *err);
/*
 * Cox: 1 and the p coefficients in beta when a fit with a smaller iteration
 * bound (2 or more) could now be asking its extra round at the last accepted
 * coefficients; 0 otherwise (glm: never).
 */
int modelpath_final_beta(const struct modelpath *m, double *beta);
/* After modelpath_final_beta()'s round: nothing further is asked. */
void modelpath_finish(struct modelpath *m);

#endif /* !MODELSUM_H */
