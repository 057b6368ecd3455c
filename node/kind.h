/*
 * kind - the registry of query kinds: one row per wire Fedra__Kind, each
 * pointing at that kind's functions, as SQLite's table of built-in
 * functions points at each function's steps and git's command table at
 * each cmd_*.  A new statistic is its own functions in a node/kind_*.c
 * module plus one row (declared below, listed in kind.c); nothing else in
 * the node branches on the kind.
 *
 * A query is answered in the same steps whatever its kind
 * (node_kind_answer() composes the first three):
 *
 *   admit     refusals decided by the spec alone, before any row is read:
 *             the policy's time grid (and, for the log-rank test, its one
 *             grouping variable, which the node has always checked first);
 *             NULL when a kind has none
 *   execute   the statistic from the snapshot, before any disclosure rule:
 *             unsuppressed counts, every stratum's life table, a model
 *             round with the sizes its rules look at
 *   release   the node's disclosure policy on that statistic: small-cell
 *             suppression, the small-stratum, small-level and event rules;
 *             it suppresses in place or refuses the whole answer
 *   sets      the numbers the released answer carries, as candidates for
 *             the disclosure auditor (node/qaudit.h): each an item of the
 *             answer (a cell, a stratum, or the whole answer) with its key
 *             set (outcome-blind) and full set of rows
 *   withhold  withhold one item the auditor did not admit (a count cell is
 *             sent `withheld`, a stratum `suppressed`), or cut a stratum's
 *             life table from a time on (R4); called after release, before
 *             the answer is packed
 *   result    point the ResponseBody's result field at the answer
 *   summary   the text of the node's log line and audit entry
 *   free_answer  release the memory behind the answer (safe at any step)
 *
 * execute and release are separate so that the release rules can later be
 * applied to a table pooled from several nodes; composed, they give the
 * node's answers byte for byte as before the split (issue 11).
 *
 * Refusal order.  The node has always refused a query for the first rule
 * it breaks, in a fixed order.  Where a check that belongs to the
 * statistic came after a disclosure rule (too many strata, a log-rank
 * variable without fixed levels, a model that cannot be evaluated at the
 * coefficients sent), execute keeps its refusal in answer->late instead of
 * failing, and node_kind_answer() reports it once release has passed: the
 * same reason as before for every query.
 */
#ifndef NODE_KIND_H
#define NODE_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/disclose.h"
#include "lib/util.h"
#include "node/snapshot.h"
#include "proto/wire.h"

struct kind_model_cache;
struct qaudit_sets;
struct pki_trust;
struct certcache;

/*
 * What a model round needs to check that its coefficients are the next step
 * of its fit (docs/disclosure.md R1, node/kind_model.c): the trust that
 * verifies the other nodes' answers it carries, this node's name (its own
 * answer must be among them) and the hash of the query being answered (the
 * next round's answers must answer it).
 */
struct node_kind_path {
    const struct pki_trust *trust;
    struct certcache *certs;            /* verdicts on node certificates (role node) */
    const char *node;
    const uint8_t *qhash;               /* WIRE_HASH_LEN bytes */
    int64_t now_ms;
};

/* What a kind's execute may read besides the spec. */
struct node_kind_ctx {
    const struct snapshot *snap;        /* the data answered from */
    struct kind_model_cache *models;    /* cox/glm designs kept between rounds; NULL: none */
    int64_t cert_not_after_ms;          /* ping: end of this node's certificate */
    const char *software;               /* ping: the node's version string */
    /* model rounds: the path check; NULL: any coefficients are evaluated
       (model_path_check = off, and callers that answer without a network) */
    const struct node_kind_path *path;
    const struct disclose_policy *policy;   /* set by node_kind_answer() */
};

/* One answer in the making; zero it before execute (node_kind_answer does). */
struct node_answer {
    void *stat;                         /* the kind's statistic, owned; NULL before execute */
    char late[FEDRA_ERRLEN];            /* a refusal reported after release (see above) */
    const char *code;                   /* refusal class of a refusal (static); NULL: "query" */
};

struct node_kind {
    Fedra__Kind kind;                   /* the wire value this row answers */
    const char *name;                   /* "count", "km", ...: logs and messages */
    /* Refuse (-1, err) from the spec alone; may be NULL. */
    int (*admit)(const struct disclose_policy *policy, const Fedra__QuerySpec *spec, char *err);
    /* The unsuppressed statistic into ans->stat; -1 with err on a query not answered. */
    int (*execute)(const struct node_kind_ctx *ctx, const Fedra__QuerySpec *spec,
        struct node_answer *ans, char *err);
    /* Apply the disclosure policy to ans->stat in place; -1 with err refuses it. */
    int (*release)(const struct disclose_policy *policy, const Fedra__QuerySpec *spec,
        struct node_answer *ans, char *err);
    /* Add the candidates of the released answer (none for ping); see node/qaudit.h. */
    void (*sets)(const struct snapshot *snap, const struct disclose_policy *policy,
        const Fedra__QuerySpec *spec, const struct node_answer *ans, struct qaudit_sets *out);
    /*
     * Withhold ${item} of the answer (from QAUDIT_ALL), or the part of the
     * item's table at times >= from (R4); NULL for kinds whose candidates are
     * all the whole answer (the auditor then refuses it).
     */
    void (*withhold)(struct node_answer *ans, long item, int32_t from);
    /* Set the one result field of rb to the released answer. */
    void (*result)(const struct node_answer *ans, Fedra__ResponseBody *rb);
    /* One line of text about the released answer, e.g. "count: 4 cells, 3 suppressed". */
    void (*summary)(const struct node_answer *ans, const Fedra__QuerySpec *spec, char *buf,
        size_t len);
    /* Free ans->stat (NULL is fine) and clear ans. */
    void (*free_answer)(struct node_answer *ans);
};

/* The rows, one per kind; each defined in its family's module. */
extern const struct node_kind node_kind_count;      /* node/kind_count.c */
extern const struct node_kind node_kind_km;         /* node/kind_survival.c */
extern const struct node_kind node_kind_logrank;    /* node/kind_survival.c */
extern const struct node_kind node_kind_cox;        /* node/kind_model.c */
extern const struct node_kind node_kind_glm;        /* node/kind_model.c */
extern const struct node_kind node_kind_ping;       /* node/kind_ping.c */
extern const struct node_kind node_kind_cif;        /* node/kind_cif.c */

/* The row for a wire kind, or NULL for a kind this node does not answer. */
const struct node_kind *node_kind_get(int kind);

/*
 * admit, execute and release, then a late refusal if execute kept one.
 * Returns 0 with the released answer in *ans, or -1 with err set; either
 * way the caller frees *ans with k->free_answer.
 */
int node_kind_answer(const struct node_kind *k, const struct node_kind_ctx *ctx,
    const struct disclose_policy *policy, const Fedra__QuerySpec *spec, struct node_answer *ans,
    char *err);

/* ---- helpers shared by the survival and model kinds (kind.c) ---- */

/*
 * The node's time-resolution rule: exact times only if the policy's
 * time_grid_days is 0, otherwise a grid of 1..DISCLOSE_MAX_GRID_DAYS days
 * that is a multiple of the policy's (a finer grid, or one that is not a
 * multiple, would let two answers be combined into a finer one).  0 and the
 * grid (0: exact), or -1 with err.
 */
int kind_time_grid(const struct disclose_policy *policy, const Fedra__QuerySpec *spec,
    int32_t *grid, char *err);
/* The grid the spec asks for once admitted (0: exact); -1 with err if out of range. */
int kind_spec_grid(const Fedra__QuerySpec *spec, int32_t *grid, char *err);
/* Keep a refusal for after release (ans->late, FEDRA_ERRLEN bytes); returns 1. */
int kind_late(char *late, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The endpoint's time and event columns; -1 with err for an unknown endpoint. */
int kind_endpoint(const struct snapshot *snap, const Fedra__QuerySpec *spec,
    const int32_t **tcol, const uint8_t **ecol, char *err);

#endif /* !NODE_KIND_H */
