/*
 * fedra - the statistician's program: sign one query, send it to every node
 * of the federation at once, verify every answer, merge, print.
 *
 * This file is the generic part: global options, signing, sending (or
 * replaying a bundle), saved queries, bundles and verify.  What a command
 * parses and what a kind checks, merges and prints is in its row of the
 * command and kind tables (coord/kind.h); dispatch() runs a command's row
 * in its flow, run_query() hands the answers to their kind's row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/km.h"
#include "certs/pki.h"
#include "coord/bundle.h"
#include "coord/client.h"
#include "coord/federation.h"
#include "coord/kind.h"
#include "coord/pooled.h"
#include "coord/model.h"
#include "coord/report.h"
#include "lib/util.h"
#include "proto/wire.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_PARTIAL 3
#define FEDRA_QUERY_TTL_MS 600000       /* a signed query is valid this long */

/* The global part of 'fedra --help'; the commands come from the command table (kind.c). */
static const char usage_head[] =
    "usage: fedra [--federation FILE] [--cert FILE --key FILE] [--timeout MS]\n"
    "             [--format table|csv|json] [--save-query FILE] [--bundle FILE] COMMAND ...\n"
    "       fedra COMMAND --help | fedra help COMMAND    one command's options and an example\n"
    "\n";

static const char usage_tail[] =
    "\n"
    "global options (also from FEDRA_FEDERATION, FEDRA_CERT, FEDRA_KEY):\n"
    "  --federation FILE   the federation file (nodes, endpoints, certificates)\n"
    "  --cert FILE, --key FILE   the analyst certificate and key that sign queries\n"
    "  --timeout MS        wait at most this long for the nodes (default 10000)\n"
    "  --format F          table (default), csv or json (csv: README.md, \"Results\")\n"
    "  --save-query FILE   write the signed query to FILE and send nothing\n"
    "  --bundle FILE       also save the signed query and every signed node response, for\n"
    "                      'fedra verify' (anyone with the CA certificate can check it)\n"
    "\n"
    "EXPR: stage=metastatic and age_years<10 and tumour_type in (melanoma,thyroid_carcinoma)\n"
    "exit status: 0 every node answered; 3 some did not (the result merges those that did);\n"
    "2 usage error; 1 any other failure.\n";

static void
usage(FILE *f)
{
    fputs(usage_head, f);
    coord_cmd_list(f);
    fputs(usage_tail, f);
}

struct signer;

struct opts {
    const char *federation, *cert, *key, *save_query;
    int timeout_ms;
    enum report_format format;
    const char *bundle_path;        /* --bundle FILE */
    struct bundle *bundle;          /* recording (--bundle) or replaying (verify) */
    int replay;                     /* verify: rounds come from the bundle */
    struct signer *signer;          /* the analyst's credentials, loaded on first use */
    int pooled;                     /* --pooled 1, --no-pooled 0, else -1: the federation's */
};

/*
 * The analyst's certificate and key, read and checked once per process: a
 * model signs one query per round.
 */
struct signer {
    struct pki_cert *cert;
    struct pki_key *key;
};

static int
signer_load(const struct opts *o, const struct federation *fed, char *err)
{
    struct signer *s = o->signer;
    char why[FEDRA_ERRLEN];
    if (s->cert != NULL)
        return 0;
    if (o->cert == NULL || o->key == NULL)
        return errf(err, "no analyst certificate: pass --cert FILE --key FILE or set FEDRA_CERT "
            "and FEDRA_KEY");
    if (pki_cert_load(o->cert, &s->cert, err) != 0 || pki_key_load(o->key, &s->key, err) != 0)
        goto bad;
    if (!pki_key_matches_cert(s->key, s->cert)) {
        errf(err, "key '%s' does not belong to certificate '%s'", o->key, o->cert);
        goto bad;
    }
    /* Say early what the nodes will say; they decide, so the query still goes out. */
    if (fed->trust != NULL && pki_verify(fed->trust, s->cert, PKI_ROLE_ANALYST, 0, why) != PKI_OK)
        fprintf(stderr, "fedra: warning: %s; nodes will refuse this query\n", why);
    else if (pki_cert_role(s->cert) != PKI_ROLE_ANALYST)
        fprintf(stderr, "fedra: warning: certificate '%s' has role %s, not analyst; nodes will "
            "refuse this query\n", o->cert, pki_role_name(pki_cert_role(s->cert)));
    else
        client_warn_expiry(fed, s->cert, stderr);
    return 0;
bad:
    pki_cert_free(s->cert);
    pki_key_free(s->key);
    s->cert = NULL;
    s->key = NULL;
    return -1;
}

/* Build, sign and wrap a query; the envelope bytes go to env. */
static int
sign_query(const struct opts *o, const struct federation *fed, Fedra__QuerySpec *spec,
    struct buf *env, char qid[2 * WIRE_QUERY_ID_LEN + 1], char *err)
{
    if (signer_load(o, fed, err) != 0)
        return -1;
    return client_sign_query(fed, o->signer->cert, o->signer->key, spec, FEDRA_QUERY_TTL_MS,
        env, qid, err);
}

/*
 * A session to the federation's nodes.  Nodes behind a hub need the
 * analyst's certificate and key even to send a saved query: the route to the
 * hub is signed, and their answers are sealed to the analyst.
 */
static struct client_session *
session_open(const struct opts *o, const struct federation *fed, char *err)
{
    struct client_session *s = client_session_open(fed);
    if (federation_hub_nodes(fed) > 0 &&
        (signer_load(o, fed, err) != 0 ||
         client_session_analyst(s, o->signer->cert, o->signer->key, err) != 0)) {
        client_session_close(s);
        return NULL;
    }
    return s;
}

/*
 * verify: the next recorded round instead of the network.  The recorded
 * query must carry a valid analyst signature (at the time it was signed) and
 * ask exactly what the command asks (spec, packed, equal byte for byte; the
 * random model_id excepted); each response must verify as client_fanout()
 * would verify it.
 */
/*
 * A recorded query (round k of a bundle): a valid analyst's signature at the
 * time it was signed, and it asks exactly what the command asks (spec,
 * packed, equal byte for byte, but for the fit's random model_id and a pooled
 * query's roster of certificates, which the bundle's federation does not hold).
 */
static int
recorded_query(const struct federation *fed, const Fedra__QuerySpec *spec, const uint8_t *q,
    size_t len, size_t k, char qid[2 * WIRE_QUERY_ID_LEN + 1], char *err)
{
    char why[FEDRA_ERRLEN];
    Fedra__Envelope *env = wire_envelope_decode(q, len, WIRE_MAX_MODEL_QUERY, why);
    Fedra__QueryBody *body = env ? wire_query_decode(env->body.data, env->body.len, why) : NULL;
    struct pki_cert *cert = NULL;
    int rc = -1;
    if (body == NULL) {
        errf(err, "round %zu: the query is not readable: %s", k, why);
        goto out;
    }
    const uint8_t *cd[PKI_MAX_CHAIN];
    size_t cl[PKI_MAX_CHAIN], nc = env->n_chain < PKI_MAX_CHAIN ? env->n_chain : PKI_MAX_CHAIN;
    for (size_t i = 0; i < nc; i++) {
        cd[i] = env->chain[i].data;
        cl[i] = env->chain[i].len;
    }
    if (pki_cert_from_der(env->signer_cert.data, env->signer_cert.len, &cert, why) != 0 ||
        (nc > 0 && pki_cert_set_chain(cert, cd, cl, nc, why) != 0) ||
        pki_verify(fed->trust, cert, PKI_ROLE_ANALYST, body->issued_at_ms / 1000, why) != PKI_OK) {
        errf(err, "round %zu: the query's signer is not a valid analyst: %s", k, why);
        goto out;
    }
    if (pki_check_sig(cert, env->body.data, env->body.len, env->signature.data,
            env->signature.len) != 0 || strcmp(body->analyst, pki_cert_name(cert)) != 0) {
        errf(err, "round %zu: the query's signature does not verify (altered)", k);
        goto out;
    }
    Fedra__QuerySpec mine = *spec;
    mine.model_id = body->spec->model_id;
    if (mine.pooled) {
        mine.roster = body->spec->roster;
        mine.n_roster = body->spec->n_roster;
    }
    struct buf a = {0}, b = {0};
    wire_pack(&mine.base, &a);
    wire_pack(&body->spec->base, &b);
    int same = a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
    buf_release(&a);
    buf_release(&b);
    if (!same) {
        errf(err, "round %zu: the signed query does not ask what the bundle's command asks", k);
        goto out;
    }
    util_hex(body->query_id.data, body->query_id.len, qid);
    rc = 0;
out:
    pki_cert_free(cert);
    wire_query_free(body);
    wire_envelope_free(env);
    return rc;
}

static int
replay_round(const struct opts *o, const struct federation *fed, const Fedra__QuerySpec *spec,
    struct node_reply *rep, char qid[2 * WIRE_QUERY_ID_LEN + 1], char *err)
{
    const uint8_t *q;
    size_t len;
    if (bundle_replay(o->bundle, fed, &q, &len, rep, err) != 0)
        return -1;
    if (recorded_query(fed, spec, q, len, o->bundle->next, qid, err) != 0) {
        client_replies_release(rep, fed->nnodes);
        memset(rep, 0, fed->nnodes * sizeof *rep);
        return -1;
    }
    return 0;
}

/* The answers to one round: sent (and recorded with --bundle), or replayed. */
static int
deliver(const struct opts *o, const struct federation *fed, struct client_session *sess,
    const uint8_t *env, size_t len, const Fedra__QuerySpec *spec, struct node_reply *rep,
    char qid[2 * WIRE_QUERY_ID_LEN + 1], char *err)
{
    if (o->replay)
        return replay_round(o, fed, spec, rep, qid, err);
    if (len > wire_query_max(spec))
        return errf(err, "the query is %zu bytes; nodes accept at most %zu bytes "
            "(%s)", len, wire_query_max(spec), spec != NULL && spec->n_prev_answers > 0 ?
            "WIRE_MAX_MODEL_QUERY: a model round carries the previous round's answers" :
            "WIRE_MAX_QUERY");
    struct client_session *own = sess ? NULL : session_open(o, fed, err);
    if (sess == NULL && own == NULL)
        return -1;
    int rc = client_session_fanout(sess ? sess : own, env, len, o->timeout_ms, rep, err);
    client_session_close(own);
    if (rc != 0)
        return -1;
    if (o->bundle != NULL)
        bundle_add_round(o->bundle, fed, env, len, rep);
    return 0;
}

/*
 * The answers, checked (report_check_replies: an answer that does not fit
 * the query, or of a kind without a row, is refused), merged and printed by
 * the kind's row; with nothing to merge, the node statuses say why.
 */
static int
report_answers(const struct report *r, const Fedra__QuerySpec *spec, const struct coord_show *show,
    char *err)
{
    const struct coord_kind *k = spec != NULL ? coord_kind_get(spec->kind) : NULL;
    int any = 0;
    for (size_t i = 0; i < r->fed->nnodes; i++)
        any |= r->replies[i].status == NODE_OK;
    if (k == NULL || (!any && !k->always_report))
        return report_nodes(r, err);
    return k->report(r, spec, show, err);
}

/* Send env to every node, then hand the answers to the printer; returns the exit status. */
static int
run_query(const struct opts *o, const struct federation *fed, const uint8_t *env, size_t len,
    const char *qid0, const Fedra__QuerySpec *spec, const struct coord_show *show)
{
    char err[FEDRA_ERRLEN], qid[2 * WIRE_QUERY_ID_LEN + 1];
    snprintf(qid, sizeof qid, "%s", qid0);
    struct node_reply *rep = xcalloc(fed->nnodes, sizeof *rep);
    if (deliver(o, fed, NULL, env, len, spec, rep, qid, err) != 0) {
        fprintf(stderr, "fedra: %s\n", err);
        free(rep);
        return EXIT_FAIL;
    }
    report_check_replies(fed, rep, spec);
    struct report r = {o->format, stdout, stderr, fed, rep, qid, NULL};
    int rc = report_answers(&r, spec, show, err), all = 1;
    for (size_t i = 0; i < fed->nnodes; i++)
        all &= rep[i].status == NODE_OK;
    client_replies_release(rep, fed->nnodes);
    free(rep);
    if (rc != 0) {
        fprintf(stderr, "fedra: %s\n", err);
        return EXIT_FAIL;
    }
    if (!all)
        fputs("fedra: not every node answered; the result merges those that did\n", stderr);
    return all ? EXIT_OK : EXIT_PARTIAL;
}

/*
 * A pooled release (coord/pooled.h): every node of the federation is a
 * participant, named in the signed query with its certificate (the roster
 * its masks are agreed over); the hub's verified release is reported as the
 * one answer.  Exit as run_query: ok, or fail naming the node that failed.
 */
static int
run_pooled(const struct opts *o, const struct federation *fed, Fedra__QuerySpec *spec,
    const struct coord_show *show)
{
    char err[FEDRA_ERRLEN], qid[2 * WIRE_QUERY_ID_LEN + 1];
    if (spec->kind != FEDRA__KIND__KIND_COUNT && spec->kind != FEDRA__KIND__KIND_KM &&
        spec->kind != FEDRA__KIND__KIND_CIF &&
        (spec->kind != FEDRA__KIND__KIND_LOGRANK || spec->stratify_by_node)) {
        fprintf(stderr, "fedra: --pooled is built for count, km, logrank and cif so far\n");
        return EXIT_FAIL;
    }
    if (o->save_query != NULL) {
        fprintf(stderr, "fedra: a pooled query goes through the hub as it is signed; it cannot "
            "be saved for later\n");
        return EXIT_FAIL;
    }
    ProtobufCBinaryData *roster = xcalloc(fed->nnodes + 1, sizeof *roster);
    for (size_t i = 0; !o->replay && i < fed->nnodes; i++)
        roster[i].data = (uint8_t *)pki_cert_der(fed->nodes[i].cert, &roster[i].len);
    spec->pooled = 1;
    spec->roster = roster;
    spec->n_roster = fed->nnodes;
    struct buf env = {0}, reply = {0};
    struct pooled_result pr;
    memset(&pr, 0, sizeof pr);
    int rc = EXIT_FAIL, got;
    /* verify: the recorded query and release, checked as the live ones are. */
    struct fed_hub bhub;
    struct federation bfed = *fed;
    if (o->replay) {
        const uint8_t *q;
        size_t qlen;
        const char *hubname;
        uint8_t qhash[WIRE_HASH_LEN];
        pr.rep = xcalloc(fed->nnodes + 1, sizeof *pr.rep);
        memset(&bhub, 0, sizeof bhub);
        got = bundle_replay_pooled(o->bundle, &q, &qlen, &hubname, &reply, err) == 0 &&
              recorded_query(fed, spec, q, qlen, o->bundle->next, qid, err) == 0;
        if (got) {
            bhub.name = (char *)hubname;
            bhub.endpoint = (char *)"(bundle)";
            bfed.hub = &bhub;
            fed = &bfed;
            wire_query_hash(q, qlen, qhash);
            got = pooled_verify(fed, NULL, qhash, reply.p, reply.len, &pr, err) == 0;
        }
    } else {
        struct client_session *sess = client_session_open(fed);
        got = sign_query(o, fed, spec, &env, qid, err) == 0 &&
              client_session_analyst(sess, o->signer->cert, o->signer->key, err) == 0 &&
              pooled_run(fed, sess, env.p, env.len, o->timeout_ms, &pr, err) == 0 &&
              pr.release != NULL;
        client_session_close(sess);
        if (got && o->bundle != NULL)
            bundle_add_pooled(o->bundle, fed->hub->name, env.p, env.len, &pr.raw);
    }
    if (!got) {
        fprintf(stderr, "fedra: pooled release failed: %s\n", err);
        for (size_t i = 0; pr.rep != NULL && i < fed->nnodes; i++)
            if (pr.rep[i].status != NODE_OK)
                fprintf(stderr, "  %s: %s: %s\n", fed->nodes[i].name,
                    client_status_name(pr.rep[i].status), pr.rep[i].reason);
    } else {
        struct report r;
        pooled_report(&pr, fed, o->format, qid, &r);
        report_check_replies(&pr.view, &pr.view_reply, spec);
        if (pr.view_reply.status != NODE_OK)
            fprintf(stderr, "fedra: the hub's release does not fit the query: %s\n",
                pr.view_reply.reason);
        else if (report_answers(&r, spec, show, err) != 0)
            fprintf(stderr, "fedra: %s\n", err);
        else
            rc = EXIT_OK;
    }
    spec->roster = NULL;
    spec->n_roster = 0;
    free(roster);
    pooled_result_release(&pr, fed->nnodes);
    buf_release(&env);
    buf_release(&reply);
    return rc;
}

/* Sign spec; either save it (--save-query) or send it. */
static int
sign_and_run(const struct opts *o, const struct federation *fed, Fedra__QuerySpec *spec,
    const struct coord_show *show)
{
    char err[FEDRA_ERRLEN], qid[2 * WIRE_QUERY_ID_LEN + 1];
    struct buf env = {0};
    if (o->pooled == 1 || (o->pooled < 0 && fed->pooled))
        return run_pooled(o, fed, spec, show);
    if (o->replay)
        return run_query(o, fed, NULL, 0, "", spec, show);
    if (sign_query(o, fed, spec, &env, qid, err) != 0) {
        fprintf(stderr, "fedra: %s\n", err);
        return EXIT_FAIL;
    }
    int rc;
    if (o->save_query != NULL) {
        rc = util_write_file(o->save_query, env.p, env.len, 0644, err) == 0 ? EXIT_OK : EXIT_FAIL;
        if (rc == EXIT_OK)
            fprintf(stderr, "fedra: signed query %s saved to %s (valid %d minutes); send it with "
                "'fedra send %s'\n", qid, o->save_query, FEDRA_QUERY_TTL_MS / 60000,
                o->save_query);
        else
            fprintf(stderr, "fedra: %s\n", err);
    } else {
        rc = run_query(o, fed, env.p, env.len, qid, spec, show);
    }
    buf_release(&env);
    return rc;
}

/* model_send_fn: sign spec for the active nodes only and send it to them. */
struct model_ctx {
    const struct opts *o;
    const struct federation *fed;
    /* The nodes still in the fit and a session to them: a fit of many rounds pays
       the connections and certificate checks once, until a node drops out. */
    struct federation sub;
    size_t *map;                    /* sub's node k is fed's node map[k] */
    unsigned char *mask;            /* the active set sub was built for */
    struct client_session *sess;
};

static void
model_ctx_release(struct model_ctx *c)
{
    if (c->sess != NULL)
        client_session_close(c->sess);
    free(c->sub.nodes);
    free(c->map);
    free(c->mask);
}

static int
model_send(void *vctx, Fedra__QuerySpec *spec, const unsigned char *active,
    struct node_reply *rep, char *err)
{
    struct model_ctx *c = vctx;
    size_t n = c->fed->nnodes;
    if (c->mask == NULL || memcmp(c->mask, active, n) != 0) {
        model_ctx_release(c);
        c->sess = NULL;
        c->sub = *c->fed;
        c->map = xcalloc(n, sizeof *c->map);
        c->mask = xcalloc(n, 1);
        memcpy(c->mask, active, n);
        c->sub.nodes = xcalloc(n, sizeof *c->sub.nodes);
        c->sub.nnodes = 0;
        for (size_t i = 0; i < n; i++)
            if (active[i]) {
                c->map[c->sub.nnodes] = i;
                c->sub.nodes[c->sub.nnodes++] = c->fed->nodes[i];
            }
        if (!c->o->replay && (c->sess = session_open(c->o, &c->sub, err)) == NULL)
            return -1;
    }
    struct buf env = {0};
    char qid[2 * WIRE_QUERY_ID_LEN + 1];
    struct node_reply *sr = xcalloc(c->sub.nnodes + 1, sizeof *sr);
    int rc = c->o->replay ? 0 : sign_query(c->o, &c->sub, spec, &env, qid, err);
    if (rc == 0)
        rc = deliver(c->o, &c->sub, c->sess, env.p, env.len, spec, sr, qid, err);
    if (rc == 0) {
        report_check_replies(&c->sub, sr, spec);
        for (size_t k = 0; k < c->sub.nnodes; k++)
            rep[c->map[k]] = sr[k];
    }
    buf_release(&env);
    free(sr);
    return rc;
}

/*
 * A pooled model (issue 14; coord/pooled.h pooled_model): coord/model.c over
 * one participant, the pool; its first model round is the whole fit, driven
 * by the hub, whose release carries every round's pooled sums.
 */
/* verify: a pooled round of the fit from the bundle, signed by the hub it names (pooled_model). */
struct pooled_replay {
    const struct opts *o;
    struct federation fed;          /* the bundle's, with that hub */
    struct fed_hub hub;
};

static int
pooled_replay_round(void *arg, const Fedra__QuerySpec *spec, const uint8_t **query,
    size_t *len, struct buf *reply, char *err)
{
    struct pooled_replay *r = arg;
    const char *hub;
    char qid[2 * WIRE_QUERY_ID_LEN + 1];
    if (bundle_replay_pooled(r->o->bundle, query, len, &hub, reply, err) != 0 ||
        recorded_query(&r->fed, spec, *query, *len, r->o->bundle->next, qid, err) != 0)
        return -1;
    r->hub.name = (char *)hub;
    return 0;
}

/*
 * A pooled model (issue 14; coord/pooled.h pooled_model): coord/model.c over
 * one participant, the pool; its first model round is the whole fit, driven
 * by the hub, whose release carries every round's pooled sums.  verify:
 * every pooled round from the bundle instead.
 */
static int
run_model_pooled(const struct opts *o, const struct federation *fed, const struct coord_query *q)
{
    char err[FEDRA_ERRLEN];
    if (o->save_query != NULL)
        return coord_usage_error("%s", "a pooled model is fitted live through the hub: it cannot "
            "be saved ahead");
    struct pooled_replay rp;
    memset(&rp, 0, sizeof rp);
    struct client_session *sess = NULL;
    if (o->replay) {
        rp.o = o;
        rp.fed = *fed;
        rp.hub.name = (char *)"";
        rp.hub.endpoint = (char *)"(bundle)";
        rp.fed.hub = &rp.hub;
        fed = &rp.fed;
    } else if (fed->hub == NULL) {
        fprintf(stderr, "fedra: pooled release needs a hub: the federation file names none\n");
        return EXIT_FAIL;
    } else if ((sess = session_open(o, fed, err)) == NULL) {
        fprintf(stderr, "fedra: %s\n", err);
        return EXIT_FAIL;
    }
    struct pooled_model c;
    pooled_model_init(&c, fed, o->replay ? NULL : o->signer->cert,
        o->replay ? NULL : o->signer->key, FEDRA_QUERY_TTL_MS, o->timeout_ms, sess,
        o->replay ? NULL : o->bundle);
    if (o->replay) {
        c.replay = pooled_replay_round;
        c.replay_arg = &rp;
    }
    struct report r = {o->format, stdout, stderr, &c.view, NULL, "", &c.info};
    struct model_request req = q->model;
    req.one_way = 1;                    /* coord/model.c discover_all: the auditor */
    /* verify: a fit that asked its levels (its assumed ones refused by the hub, or an
       interaction) recorded those tables before it; one that assumed them, the fit alone. */
    req.ask_levels = o->replay && bundle_nrounds(o->bundle) > 1;
    int rc = model_run(&req, &r, pooled_model_send, &c, err);
    if (rc == EXIT_OK && pooled_model_check(&c, err) != 0)
        rc = EXIT_FAIL;
    if (rc == EXIT_FAIL)
        fprintf(stderr, "fedra: %s\n", err);
    pooled_model_release(&c);
    if (sess != NULL)
        client_session_close(sess);
    return rc;
}

/* cox and glm: coord/model.c runs the rounds, through model_send. */
static int
run_model(const struct opts *o, const struct federation *fed, const struct coord_query *q)
{
    if (o->pooled == 1 || (o->pooled < 0 && fed->pooled))
        return run_model_pooled(o, fed, q);
    if (o->save_query != NULL && !o->replay)
        return coord_usage_error("%s", "--save-query saves one signed query; a model takes one round "
            "per iteration, so it cannot be saved ahead");
    struct model_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.o = o;
    ctx.fed = fed;
    struct report r = {o->format, stdout, stderr, fed, NULL, "", NULL};
    char err[FEDRA_ERRLEN];
    int rc = model_run(&q->model, &r, model_send, &ctx, err);
    model_ctx_release(&ctx);
    if (rc == EXIT_FAIL)
        fprintf(stderr, "fedra: %s\n", err);    /* exit 3: model_run said why */
    return rc;
}

static int
cmd_send(const struct opts *o, const struct federation *fed, int argc, char **argv)
{
    if (argc != 2)
        return coord_usage_error("%s", "send takes one FILE (a query saved with --save-query)");
    uint8_t *data;
    size_t len;
    char err[FEDRA_ERRLEN];
    /* Read one byte past the cap, so that an oversized file is named as such. */
    if (util_read_file(argv[1], WIRE_MAX_QUERY, &data, &len, err) != 0) {
        fprintf(stderr, "fedra: %s; a signed query is at most %u bytes\n", err, WIRE_MAX_QUERY);
        return EXIT_FAIL;
    }
    /*
     * The saved bytes go out exactly as they are: the nodes verify them.  We
     * read the (still unverified) spec only to know how to merge the answers.
     */
    Fedra__Envelope *env = wire_envelope_decode(data, len, WIRE_MAX_QUERY, err);
    Fedra__QueryBody *q = env ? wire_query_decode(env->body.data, env->body.len, err) : NULL;
    if (q == NULL)
        fprintf(stderr, "fedra: warning: '%s' is not a readable signed query (%s); sending it "
            "anyway, the nodes will say why they refuse it\n", argv[1], err);
    char qid[2 * WIRE_QUERY_ID_LEN + 1] = "";
    if (q != NULL)
        util_hex(q->query_id.data, q->query_id.len, qid);
    struct coord_show show = {0, KM_CONF_LOG, NULL, 0, NULL, 0, 0};
    int rc = run_query(o, fed, data, len, qid, q ? q->spec : NULL, &show);
    wire_query_free(q);
    wire_envelope_free(env);
    free(data);
    return rc;
}

/* A command with a query: parse it by its row, then run it in its flow. */
static int
run_command(const struct opts *o, const struct federation *fed, const struct coord_cmd *c,
    int argc, char **argv)
{
    struct coord_query q;
    coord_query_init(&q);
    int rc = c->parse(argc, argv, &q);
    if (rc == 0 && c->flow == COORD_FLOW_MODEL)
        rc = run_model(o, fed, &q);
    else if (rc == 0)
        rc = sign_and_run(o, fed, &q.spec, &q.show);
    coord_query_release(&q);
    return rc;
}

static int
dispatch(const struct opts *o, const struct federation *fed, int argc, char **argv)
{
    const struct coord_cmd *c = coord_cmd_find(argv[0]);
    if (c->flow == COORD_FLOW_SEND)
        return cmd_send(o, fed, argc, argv);
    return run_command(o, fed, c, argc, argv);
}

/*
 * verify --ca-cert FILE [--crl FILE] BUNDLE: run the bundle's command over
 * its recorded rounds (replay_round checks every signature), print the
 * merged result as the live command printed it, and insist that every
 * recorded round was used.
 */
static int
cmd_verify(const struct opts *o0, int argc, char **argv)
{
    struct opts o = *o0;
    const char *ca = NULL, *crl = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ca-cert") == 0 && i + 1 < argc)
            ca = argv[++i];
        else if (strcmp(argv[i], "--crl") == 0 && i + 1 < argc)
            crl = argv[++i];
        else if (path == NULL && argv[i][0] != '-')
            path = argv[i];
        else
            return coord_usage_error("verify: unexpected argument '%s'", argv[i]);
    }
    if (ca == NULL || path == NULL)
        return coord_usage_error("%s", "verify needs --ca-cert FILE (the federation CA certificate) "
            "and the BUNDLE file");
    char err[FEDRA_ERRLEN];
    struct bundle b;
    struct pki_trust *trust = NULL;
    struct federation fed;
    memset(&fed, 0, sizeof fed);
    size_t nargs = 0;
    const char **args = NULL;
    int rc = EXIT_FAIL;
    if (bundle_load(path, &b, &nargs, &args, err) != 0 ||
        pki_trust_load(ca, crl, crl != NULL, &trust, err) != 0 ||
        bundle_federation(&b, trust, &fed, err) != 0) {
        fprintf(stderr, "fedra: verify: %s\n", err);
        goto out;
    }
    /* A bundle holds a query with a result to recompute: not send, verify or ping. */
    const struct coord_cmd *c = coord_cmd_find(args[0]);
    if (c == NULL || c->parse == NULL || strcmp(c->name, "ping") == 0) {
        fprintf(stderr, "fedra: verify: the bundle's command '%s' cannot be verified\n", args[0]);
        goto out;
    }
    o.bundle = &b;
    o.replay = 1;
    o.pooled = bundle_is_pooled(&b);
    o.save_query = NULL;
    fprintf(stderr, "fedra: verifying %s: %s", path, args[0]);
    for (size_t i = 1; i < nargs; i++)
        fprintf(stderr, " %s", args[i]);
    fputc('\n', stderr);
    rc = dispatch(&o, &fed, (int)nargs, (char **)args);
    size_t rounds = json_array_size(json_object_get(b.root, "rounds"));
    if (rc != EXIT_OK && rc != EXIT_PARTIAL) {
        fprintf(stderr, "fedra: verify: the bundle does NOT verify\n");
        rc = EXIT_FAIL;
    } else if (b.next != rounds) {
        fprintf(stderr, "fedra: verify: the bundle holds %zu rounds but the command used %zu; "
            "it does NOT verify\n", rounds, b.next);
        rc = EXIT_FAIL;
    } else {
        fprintf(stderr, "fedra: verify: every signature checks (%zu rounds); the result above "
            "is recomputed from the signed node answers\n", rounds);
        rc = EXIT_OK;
    }
out:
    fed.trust = NULL;
    federation_release(&fed);
    pki_trust_free(trust);
    free(args);
    bundle_release(&b);
    return rc;
}

/*
 * fedra --help and fedra help: the usage; fedra COMMAND --help and fedra
 * help COMMAND: that command's page (both to stdout, exit 0).
 */
static int
help(const char *cmd)
{
    const struct coord_cmd *c = cmd != NULL ? coord_cmd_find(cmd) : NULL;
    if (cmd == NULL || strcmp(cmd, "help") == 0)
        usage(stdout);
    else if (c == NULL)
        return coord_usage_error("unknown command '%s'", cmd);
    else
        coord_cmd_help(stdout, c);
    return EXIT_OK;
}

int
main(int argc, char **argv)
{
    struct opts o = {getenv("FEDRA_FEDERATION"), getenv("FEDRA_CERT"), getenv("FEDRA_KEY"), NULL,
        CLIENT_DEFAULT_TIMEOUT_MS, REPORT_TABLE, NULL, NULL, 0, NULL, -1};
    /* Global options may stand before or after the command. */
    char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, want_help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            want_help = 1;
        } else if (strcmp(a, "--federation") == 0 && has) {
            o.federation = argv[++i];
        } else if (strcmp(a, "--cert") == 0 && has) {
            o.cert = argv[++i];
        } else if (strcmp(a, "--key") == 0 && has) {
            o.key = argv[++i];
        } else if (strcmp(a, "--save-query") == 0 && has) {
            o.save_query = argv[++i];
        } else if (strcmp(a, "--bundle") == 0 && has) {
            o.bundle_path = argv[++i];
        } else if (strcmp(a, "--pooled") == 0 || strcmp(a, "--no-pooled") == 0) {
            o.pooled = strcmp(a, "--pooled") == 0;
        } else if (strcmp(a, "--timeout") == 0 && has) {
            long long t;
            if (util_parse_int(argv[++i], 1, CLIENT_MAX_TIMEOUT_MS, &t) != 0) {
                free(rest);
                return coord_usage_error("--timeout takes milliseconds (1..3600000), got '%s'", argv[i]);
            }
            o.timeout_ms = (int)t;
        } else if (strcmp(a, "--format") == 0 && has) {
            const char *f = argv[++i];
            if (strcmp(f, "table") == 0)
                o.format = REPORT_TABLE;
            else if (strcmp(f, "csv") == 0)
                o.format = REPORT_CSV;
            else if (strcmp(f, "json") == 0)
                o.format = REPORT_JSON;
            else {
                free(rest);
                return coord_usage_error("--format takes table, csv or json, got '%s'", f);
            }
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (want_help || (nrest > 0 && strcmp(rest[0], "help") == 0)) {
        int rc = help(want_help ? (nrest > 0 ? rest[0] : NULL) : (nrest > 1 ? rest[1] : NULL));
        free(rest);
        return rc;
    }
    if (nrest == 0) {
        usage(stderr);
        free(rest);
        return EXIT_USAGE;
    }
    const char *cmd = rest[0];
    const struct coord_cmd *c = coord_cmd_find(cmd);
    if (c != NULL && c->flow == COORD_FLOW_VERIFY) {
        int rc = cmd_verify(&o, nrest, rest);
        free(rest);
        return rc;
    }
    if (c == NULL) {
        free(rest);
        return coord_usage_error("unknown command '%s'", cmd);
    }
    if (o.federation == NULL) {
        free(rest);
        return coord_usage_error("%s", "no federation file: pass --federation FILE or set "
            "FEDRA_FEDERATION");
    }
    struct federation fed;
    char err[FEDRA_ERRLEN];
    if (federation_load(o.federation, &fed, err) != 0) {
        fprintf(stderr, "fedra: %s\n", err);
        federation_release(&fed);
        free(rest);
        return EXIT_FAIL;
    }
    struct bundle rec;
    if (o.bundle_path != NULL) {
        if (c->flow == COORD_FLOW_SEND || o.save_query != NULL) {
            federation_release(&fed);
            free(rest);
            return coord_usage_error("%s", "--bundle records a query this run signs and sends; not "
                "with send or --save-query");
        }
        bundle_init(&rec, nrest, rest, &fed);
        o.bundle = &rec;
    }
    struct signer signer = {NULL, NULL};
    o.signer = &signer;
    int rc = dispatch(&o, &fed, nrest, rest);
    pki_cert_free(signer.cert);
    pki_key_free(signer.key);
    if (o.bundle_path != NULL) {
        if (rc != EXIT_USAGE && bundle_write(&rec, o.bundle_path, err) != 0) {
            fprintf(stderr, "fedra: %s\n", err);
            rc = EXIT_FAIL;
        } else if (rc != EXIT_USAGE) {
            fprintf(stderr, "fedra: bundle saved to %s; check it with 'fedra verify --ca-cert "
                "CA.crt %s'\n", o.bundle_path, o.bundle_path);
        }
        bundle_release(&rec);
    }
    federation_release(&fed);
    free(rest);
    return rc;
}
