/*
 * exec - run one verified query spec on the snapshot and apply the node's
 * disclosure policy, producing the result part of the response.
 *
 * Nothing row-level leaves this module: it hands back only cells that went
 * through analysis/disclose.h.
 */
#ifndef EXEC_H
#define EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/cox.h"
#include "analysis/disclose.h"
#include "analysis/logrank.h"
#include "node/snapshot.h"
#include "proto/wire.h"

/* Memory behind a filled CountResult; release after the response is packed. */
struct exec_out {
    Fedra__CountResult count;
    Fedra__Cell *cells;
    Fedra__Cell **cellp;
    char **levels;                  /* ncells * nby pointers */
    char (*numbers)[16];            /* text of integer levels */
    size_t nsuppressed;             /* cells suppressed by the policy */
};

/*
 * Count query.  On a query the node will not answer (unknown variable, bad
 * level, too many groups) return -1 with err set; the caller refuses with it.
 */
int exec_count(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_out *out, char *err);
void exec_out_release(struct exec_out *out);

/* Memory behind a filled KmResult. */
struct exec_km_out {
    Fedra__KmResult km;
    Fedra__LifeTable *tabs;         /* one per stratum */
    Fedra__LifeTable **tabp;
    char **levels;                  /* one per stratum (with --by) */
    char (*numbers)[16];
    size_t nstrata;
};

/*
 * Kaplan-Meier life tables, one per stratum (all levels of a closed
 * categorical --by variable, the present levels of others).  Time resolution
 * follows the node's policy: exact times only if time_grid_days is 0,
 * otherwise a grid that is a multiple of the node's (a finer grid, or one
 * that is not a multiple, would let two answers be combined into a finer
 * one).  A stratum with 1 .. min_cell-1 patients refuses the whole query.
 */
int exec_km(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_km_out *out, char *err);
void exec_km_release(struct exec_km_out *out);

/* Memory behind a filled LogrankOev. */
struct exec_lr_out {
    Fedra__LogrankOev msg;
    struct logrank_oev oev;
    uint64_t *n;
};

/*
 * The node's own O, E and V for the node-stratified log-rank test: the same
 * time and stratum rules as exec_km, and only for closed categorical
 * variables, so that every node reports the same groups in the same order.
 */
int exec_logrank(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_lr_out *out, char *err);
void exec_logrank_release(struct exec_lr_out *out);

/* Memory behind a filled ModelResult. */
struct exec_model_out {
    Fedra__ModelResult model;
    double *score, *info;
};

/*
 * One round of a model (statistics.md §4.3, §5.1) on the node's records:
 * the rows passing the filter with every model variable present (complete
 * cases), the design columns the query names (spec->terms; glm adds an
 * intercept first), evaluated at spec->beta.  Cox: the node's stratum's log
 * partial likelihood, score and information, with times on the grid the
 * policy allows (as exec_km).  GLM: X'WX, X'Wz, deviance and AIC partials,
 * from glm.fit's start when beta is empty.
 *
 * Disclosure rules, each refusing the whole round: 1 .. min_cell-1 records;
 * any level of a categorical model variable (outcome included) held by
 * 1 .. min_cell-1 of them; events (glm: also non-events) neither 0 nor
 * enough for the coefficients (disclose_model_events_short).
 */
struct exec_model_cache;
int exec_cox(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_model_cache *cache, struct exec_model_out *out,
    char *err);
int exec_glm(const struct snapshot *snap, const struct disclose_policy *policy,
    const Fedra__QuerySpec *spec, struct exec_model_cache *cache, struct exec_model_out *out,
    char *err);
void exec_model_release(struct exec_model_out *out);

/*
 * Model designs kept between the rounds of a fit.  Every round of one fit
 * asks the same question at a new beta, so the part that does not depend on
 * beta -- selecting the complete cases, the disclosure checks, building the
 * design and, for Cox, centring and sorting it by time -- is done in the
 * first round and kept, keyed by the whole spec except beta and round (the
 * spec carries the fit's random model_id).  A later round pays one pass over
 * the kept design.  The cache holds only designs that passed every rule, so
 * it answers exactly what a rebuild would; the owner must clear it whenever
 * the snapshot or the policy changes (import, reload).  Least recently used
 * entries go first; a design larger than the byte bound (max_bytes, 0 for
 * EXEC_MODEL_CACHE_MAX_BYTES) is not kept.  A zeroed struct is an empty
 * cache.  NULL cache: rebuild every round.
 */
#define EXEC_MODEL_CACHE_ENTRIES 4                  /* concurrent fits kept */
#define EXEC_MODEL_CACHE_MAX_BYTES (256u << 20)     /* all entries together */
#define EXEC_MODEL_CACHE_IDLE_MS (10 * 60 * 1000)   /* a fit not asked this long is dropped */

struct exec_model_entry {
    uint8_t *key;                   /* packed spec without beta and round */
    size_t keylen, bytes;
    uint64_t used;                  /* cache tick of the last hit */
    uint64_t stamped;               /* the tick last_ms was taken for */
    int64_t last_ms;                /* the owner's clock when last used (expire) */
    size_t n, p, dropped;
    uint64_t events;                /* cox: events; glm: outcome events */
    int32_t grid;                   /* cox */
    struct cox_sorted cox;          /* cox */
    double *x, *y;                  /* glm: n x p design, n outcomes */
};
struct exec_model_cache {
    struct exec_model_entry e[EXEC_MODEL_CACHE_ENTRIES];
    uint64_t tick;
    size_t bytes, max_bytes;
    uint64_t hits, misses;
};
void exec_model_cache_clear(struct exec_model_cache *c);
/*
 * The owner calls this after queries and now and then while idle: entries
 * used since the last call are stamped now_ms, and entries not used for
 * idle_ms (EXEC_MODEL_CACHE_IDLE_MS) are released, so a finished fit's
 * design does not stay in memory.
 */
void exec_model_cache_expire(struct exec_model_cache *c, int64_t now_ms, int64_t idle_ms);

#endif /* !EXEC_H */
