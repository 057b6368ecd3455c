/*
 * pooled - fedra's side of pooled release (issue 14; proto/DESIGN.md
 * "Pooled release").
 *
 * The query goes to every node of the federation, all of them behind the
 * hub, as one route that also hands the hub the query (HubRoute.
 * pooled_query).  The nodes answer the hub with masked shares; the hub
 * replies per node (its share is in, or why not) and once more with a
 * PoolReply: its signed release and every node's signed response.  fedra
 * accepts the result only if
 *   - the release is signed by the federation's hub (its pinned certificate,
 *     or with ca_cert one of role hub and the hub's name), for this query,
 *     over exactly the federation's nodes in order;
 *   - each node's response verifies as a direct answer does (its
 *     certificate, signature, query hash), is ok and carries a share;
 *   - the release commits to exactly those responses (SHA-256 of each).
 * What fedra learns: the released pooled table; nothing of any node's own
 * numbers (the responses carry a commitment, the node's policy and no row
 * count).
 */
#ifndef POOLED_H
#define POOLED_H

#include <stddef.h>
#include <stdint.h>

#include "coord/client.h"
#include "coord/federation.h"
#include "coord/report.h"

#define POOLED_SLACK_MS 5000     /* past the per-node timeout: the hub's release itself */
#define POOLED_FIT_WAIT_MS 60000 /* a pooled model fit's rounds together (hub/fit.h) */

struct pooled_result {
    struct node_reply *rep;         /* per node: its share's fate, its signed response */
    Fedra__PoolRelease *release;    /* the verified release */
    struct buf raw;                 /* the PoolReply as received */
    /* The released result as one answer, for the kind's report (report.h pooled). */
    struct federation view;
    struct fed_node view_node;
    struct node_reply view_reply;
    Fedra__ResponseBody view_body;
    struct report_pooled info;
};

/*
 * Send the signed pooled query env to every node through f's hub as the
 * session's analyst (client_session_analyst), over the session's connection
 * to the hub, and wait up to timeout_ms for the release; the nodes'
 * certificates are checked with the session's kept verdicts.  0 with *out
 * filled (also when a node failed: then out->release is NULL and the node
 * statuses say why); -1 with err if the route could not go at all.
 */
int pooled_run(const struct federation *f, struct client_session *sess, const uint8_t *env,
    size_t len, int timeout_ms, struct pooled_result *out, char *err);
/*
 * Check a PoolReply against the query hash (above); fills out->release and
 * out->rep.  s: a session of f whose verdicts to use, or NULL (a bundle).
 */
int pooled_verify(const struct federation *f, struct client_session *s,
    const uint8_t qhash[WIRE_HASH_LEN], const uint8_t *reply, size_t len,
    struct pooled_result *out, char *err);
/*
 * pooled_run, waiting up to wait_ms (and the slack) for the release while
 * the hub gives each node timeout_ms per round: a pooled model fit
 * (hub/fit.h) takes several rounds.  Its release carries the pooled sums of
 * every round (PoolRelease.rounds) and every node's response to each.  The
 * session's connection to the hub is watched meanwhile: if it drops (the hub
 * stopped or restarted, losing the fit), the wait ends at once with err.
 */
int pooled_run_wait(const struct federation *f, struct client_session *sess,
    const uint8_t *env, size_t len, int timeout_ms, int wait_ms, struct pooled_result *out,
    char *err);
void pooled_result_release(struct pooled_result *r, size_t nnodes);
/*
 * The report of a verified release (r->release set): the hub's released
 * table as the one answer to merge, and f's nodes as the participants.
 */
void pooled_report(struct pooled_result *r, const struct federation *f,
    enum report_format format, const char *qid, struct report *out);

/*
 * A pooled model (cox, glm; hub/fit.h): coord/model.c runs as for a direct
 * fit, over one participant, the pool (view: a federation of one node named
 * after the hub), through pooled_model_send as its model_send_fn:
 *   - its count rounds (which levels are present) are pooled counts; a cell
 *     the pooled rules hold back holds at least one patient, so its level is
 *     present;
 *   - its first model round is the whole pooled fit, driven by the hub (the
 *     query names no coefficients: the nodes compute them); the release
 *     carries every round's pooled sums, and model.c's later rounds are
 *     answered from them in order, so fedra replays the fit exactly as the
 *     hub and every node did (pooled_model_check: all of them, no more).
 * bundle (may be NULL) records every pooled query and release.  With replay
 * set (`fedra verify`), each pooled round is the bundle's next instead: the
 * callback gives its query (having checked that it asks what spec asks) and
 * the hub's PoolReply, which is verified as a live one is.
 */
struct bundle;
struct pooled_model {
    const struct federation *fed;   /* the real one: every node behind the hub */
    const struct pki_cert *cert;
    const struct pki_key *key;
    int64_t ttl_ms;
    int timeout_ms;                 /* per node and round, at the hub */
    struct client_session *sess;    /* as pooled_run's, with the analyst (its keys sign) */
    struct bundle *bundle;
    int (*replay)(void *arg, const Fedra__QuerySpec *spec, const uint8_t **query, size_t *len,
        struct buf *reply, char *err);
    void *replay_arg;
    struct fed_node pool;           /* the one participant model.c sees */
    struct federation view;
    Fedra__PoolRelease *rel;        /* the fit's release */
    size_t next;                    /* its rounds handed to model.c */
    uint8_t qhash[WIRE_HASH_LEN];   /* the last pooled query's */
    struct node_reply *rep;         /* per node of fed: its shares' fate (statuses only) */
    struct report_pooled info;      /* for the report (report.pooled): the roster, the rules */
};

void pooled_model_init(struct pooled_model *m, const struct federation *fed,
    const struct pki_cert *cert, const struct pki_key *key, int64_t ttl_ms, int timeout_ms,
    struct client_session *sess, struct bundle *bundle);
int pooled_model_send(void *ctx, Fedra__QuerySpec *spec, const unsigned char *active,
    struct node_reply *rep, char *err);
/* After model_run: -1 with err unless the fit used every round of the release. */
int pooled_model_check(const struct pooled_model *m, char *err);
void pooled_model_release(struct pooled_model *m);

#endif /* !POOLED_H */
