/*
 * kind_model - one round of a model fit at the node (cox, glm), and the
 * designs kept between the rounds of a fit.  The kinds' rows are
 * node_kind_cox and node_kind_glm (node/kind.h); this header is the cache,
 * which the daemon owns (clears and expires) and the rounds use.
 *
 * Every round of one fit asks the same question at a new beta, so the part
 * that does not depend on beta -- selecting the complete cases, counting
 * what the disclosure rules look at, building the design and, for Cox,
 * centring and sorting it by time -- is done in the first round and kept,
 * keyed by the whole spec except beta, round and prev_answers (the spec
 * carries the fit's random model_id).  A later round pays one pass over the
 * kept design.  A
 * kept design answers exactly what a rebuild would: the disclosure rules are
 * applied to its counts every round (release), so it does not depend on the
 * policy; the owner must clear the cache whenever the snapshot changes
 * (import, reload).  Least recently used entries go first; a design larger
 * than the byte bound (max_bytes, 0 for KIND_MODEL_CACHE_MAX_BYTES) is not
 * kept.  A zeroed struct is an empty cache.  No cache (NULL in the
 * node_kind_ctx): rebuild every round.
 *
 * The entry is also the fit's path at this node (docs/disclosure.md R1):
 * with the path check on (node_kind_ctx.path), round 1 starts a replay of
 * the coordinator's Newton-Raphson / IRLS (proto/modelsum.h) and each later
 * round feeds it the previous round's signed answers; the entry keeps the
 * replay and the hash of the last query answered.  A fit whose entry is gone
 * (restart, eviction, a design too large to keep) is refused from then on
 * (code model-state); the coordinator starts it again.  Exclusions (R2)
 * depend on the policy's min_cell, which changes only on reload, when the
 * owner clears the cache.
 */
#ifndef KIND_MODEL_H
#define KIND_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/cox.h"
#include "proto/modelsum.h"
#include "proto/vars.h"
#include "proto/wire.h"

#define KIND_MODEL_CACHE_ENTRIES 4                  /* concurrent fits kept */
#define KIND_MODEL_CACHE_MAX_BYTES (256u << 20)     /* all entries together */
#define KIND_MODEL_CACHE_IDLE_MS (10 * 60 * 1000)   /* a fit not asked this long is dropped */

/*
 * Patients at one level of a categorical model variable (the level rule's
 * input), or (pair) in one cell of two categorical variables an interaction
 * crosses (var, code) x (var2, code2): pooled fits count those too
 * (node/sharefit.h); a node's own rules leave small cells out before
 * (design_exclude), so they never read them.
 */
struct kind_model_level {
    enum var_id var;
    uint16_t code;
    uint32_t n;
    int pair;
    enum var_id var2;
    uint16_t code2;
};

/* One design: what every round evaluates, and what its disclosure rules count. */
struct kind_model_entry {
    uint8_t *key;                   /* packed spec without beta and round */
    size_t keylen, bytes;
    uint64_t used;                  /* cache tick of the last hit */
    uint64_t stamped;               /* the tick last_ms was taken for */
    int64_t last_ms;                /* the owner's clock when last used (expire) */
    size_t n, p, dropped;           /* complete cases, columns, rows dropped as incomplete */
    size_t excluded;                /* complete cases left out: a level held by 1 .. min_cell-1 */
    uint64_t events;                /* cox: events; glm: outcome events */
    struct kind_model_level *lev;   /* levels with patients, in the order the rule reads them */
    size_t nlev;
    int32_t grid;                   /* cox */
    struct cox_sorted *cox;         /* cox: one per stratum (--strata: per level held here) */
    size_t ncox;
    double *x, *y;                  /* glm: n x p design, n outcomes */
    int has_path;                   /* path: the replay below is kept */
    struct modelpath path;          /* the fit's Newton-Raphson / IRLS, fed to the last round */
    uint32_t round;                 /* the last round answered */
    uint8_t qhash[WIRE_HASH_LEN];   /* and its query's hash */
};

struct kind_model_cache {
    struct kind_model_entry e[KIND_MODEL_CACHE_ENTRIES];
    uint64_t tick;
    size_t bytes, max_bytes;
    uint64_t hits, misses;
};

void kind_model_cache_clear(struct kind_model_cache *c);
/*
 * The owner calls this after queries and now and then while idle: entries
 * used since the last call are stamped now_ms, and entries not used for
 * idle_ms (KIND_MODEL_CACHE_IDLE_MS) are released, so a finished fit's
 * design does not stay in memory.
 */
void kind_model_cache_expire(struct kind_model_cache *c, int64_t now_ms, int64_t idle_ms);

/*
 * Pooled fits (node/sharefit.h) read a round's answer (an execute of
 * node_kind_cox or node_kind_glm) before any release rule: its ModelResult,
 * and the complete cases at one level of a categorical model variable
 * (level as the catalogue writes it; 0 if none).
 */
struct node_answer;
const Fedra__ModelResult *kind_model_result(const struct node_answer *ans);
uint64_t kind_model_level(const struct node_answer *ans, const struct var_def *v,
    const char *level);
/* The same for the cell (a = la, b = lb) of an interaction's two categorical variables. */
uint64_t kind_model_cell(const struct node_answer *ans, const struct var_def *a,
    const char *la, const struct var_def *b, const char *lb);

/*
 * The pooled auditor's cell (proto/poolmodel.h, poolmodel_cells) of every
 * row of snap for the fit spec, as if selected (the caller applies the
 * query's filters): 0 when it misses a model variable (dropped), else its
 * complete-case cell by event (cox: the endpoint's; glm: y = 1) and levels.
 * cell has snap->n entries.  -1 with err if the spec does not resolve or a
 * level is not in the catalogue.
 */
struct poolmodel_cells;
struct snapshot;
int kind_model_audit_cells(const struct snapshot *snap, const Fedra__QuerySpec *spec,
    const struct poolmodel_cells *C, uint32_t *cell, char *err);

#endif /* !KIND_MODEL_H */
