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
void pooled_result_release(struct pooled_result *r, size_t nnodes);
/*
 * The report of a verified release (r->release set): the hub's released
 * table as the one answer to merge, and f's nodes as the participants.
 */
void pooled_report(struct pooled_result *r, const struct federation *f,
    enum report_format format, const char *qid, struct report *out);

#endif /* !POOLED_H */
