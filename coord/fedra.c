/*
 * fedra - the statistician's program: sign one query, send it to every node
 * of the federation at once, verify every answer, merge, print.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "analysis/cox.h"
#include "analysis/glm.h"
#include "analysis/km.h"
#include "certs/pki.h"
#include "coord/bundle.h"
#include "coord/client.h"
#include "coord/federation.h"
#include "coord/model.h"
#include "coord/report.h"
#include "lib/util.h"
#include "proto/where.h"
#include "proto/wire.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_PARTIAL 3
#define FEDRA_QUERY_TTL_MS 600000       /* a signed query is valid this long */

static const char usage[] =
    "usage: fedra [--federation FILE] [--cert FILE --key FILE] [--timeout MS]\n"
    "             [--format table|csv|json] [--save-query FILE] COMMAND ...\n"
    "\n"
    "commands:\n"
    "  count [--by V,...] [--where EXPR] [--chisq]\n"
    "                                      pooled counts, one row per combination of levels;\n"
    "                                      --chisq: chi-square test of a two-way table\n"
    "  km [--by V] [--where EXPR] [--endpoint os|efs] [--grid DAYS] [--conf-type log|log-log|plain]\n"
    "     [--times T,...] [--plot FILE.svg] pooled Kaplan-Meier curves (--grid 0: exact times,\n"
    "                                      only where every node's policy allows them)\n"
    "  logrank --by V [--where EXPR] [--endpoint os|efs] [--grid DAYS] [--stratify-by-node]\n"
    "                                      log-rank test (pooled, or stratified by node)\n"
    "  ping                                check that every node answers (touches no data)\n"
    "  send FILE                           send a query saved with --save-query\n"
    "  verify --ca-cert FILE [--crl FILE] BUNDLE\n"
    "                                      re-check a bundle offline: every signature, and\n"
    "                                      the merged result recomputed and printed\n"
    "\n"
    "global options (also from FEDRA_FEDERATION, FEDRA_CERT, FEDRA_KEY):\n"
    "  --federation FILE   the federation file (nodes, endpoints, certificates)\n"
    "  --cert FILE, --key FILE   the analyst certificate and key that sign queries\n"
    "  --timeout MS        wait at most this long for the nodes (default 10000)\n"
    "  --format F          table (default), csv or json\n"
    "  --save-query FILE   write the signed query to FILE and send nothing\n"
    "  --bundle FILE       also save the signed query and every signed node response, for\n"
    "                      'fedra verify' (anyone with the CA certificate can check it)\n"
    "\n"
    "EXPR: stage=metastatic and age_years<10 and tumour_type in (melanoma,thyroid_carcinoma)\n"
    "exit status: 0 every node answered; 3 some did not (the result merges those that did);\n"
    "2 usage error; 1 any other failure.\n";

#define FEDRA_MAX_TIMES 1000             /* --times values */
#define FEDRA_DEFAULT_GRID 30

struct signer;

struct opts {
    const char *federation, *cert, *key, *save_query;
    int timeout_ms;
    enum report_format format;
    int conf_type;                  /* km: KM_CONF_* */
    int32_t *times;                 /* km: --times, or NULL */
    size_t ntimes;
    int chisq;                      /* count: add the chi-square test */
    const char *plot;               /* km: SVG file to draw */
    const char *bundle_path;        /* --bundle FILE */
    struct bundle *bundle;          /* recording (--bundle) or replaying (verify) */
    int replay;                     /* verify: rounds come from the bundle */
    struct signer *signer;          /* the analyst's credentials, loaded on first use */
};

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fedra: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nrun 'fedra --help' for usage\n", stderr);
    return EXIT_USAGE;
}

/* Split "a,b,c" into at most max new strings. */
static int
split_list(const char *s, char **out, size_t max, size_t *n)
{
    *n = 0;
    char *copy = xstrdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t == 0)
            continue;
        if (*n == max) {
            while (*n > 0)
                free(out[--*n]);
            free(copy);
            return -1;
        }
        out[(*n)++] = xstrdup(t);
    }
    free(copy);
    return 0;
}

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
 * verify: the next recorded round instead of the network.  The recorded
 * query must carry a valid analyst signature (at the time it was signed) and
 * ask exactly what the command asks (spec, packed, equal byte for byte; the
 * random model_id excepted); each response must verify as client_fanout()
 * would verify it.
 */
static int
replay_round(const struct opts *o, const struct federation *fed, const Fedra__QuerySpec *spec,
    struct node_reply *rep, char qid[2 * WIRE_QUERY_ID_LEN + 1], char *err)
{
    const uint8_t *q;
    size_t len;
    char why[FEDRA_ERRLEN];
    if (bundle_replay(o->bundle, fed, &q, &len, rep, err) != 0)
        return -1;
    size_t k = o->bundle->next;
    Fedra__Envelope *env = wire_envelope_decode(q, len, WIRE_MAX_QUERY, why);
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
    if (rc != 0) {
        client_replies_release(rep, fed->nnodes);
        memset(rep, 0, fed->nnodes * sizeof *rep);
    }
    pki_cert_free(cert);
    wire_query_free(body);
    wire_envelope_free(env);
    return rc;
}

/* The answers to one round: sent (and recorded with --bundle), or replayed. */
static int
deliver(const struct opts *o, const struct federation *fed, struct client_session *sess,
    const uint8_t *env, size_t len, const Fedra__QuerySpec *spec, struct node_reply *rep,
    char qid[2 * WIRE_QUERY_ID_LEN + 1], char *err)
{
    if (o->replay)
        return replay_round(o, fed, spec, rep, qid, err);
    if (len > WIRE_MAX_QUERY)
        return errf(err, "the query is %zu bytes; nodes accept at most %u bytes "
            "(WIRE_MAX_QUERY)", len, WIRE_MAX_QUERY);
    if ((sess ? client_session_fanout(sess, env, len, o->timeout_ms, rep, err)
              : client_fanout(fed, env, len, o->timeout_ms, rep, err)) != 0)
        return -1;
    if (o->bundle != NULL)
        bundle_add_round(o->bundle, fed, env, len, rep);
    return 0;
}

/* Send env to every node, then hand the answers to the printer; returns the exit status. */
static int
run_query(const struct opts *o, const struct federation *fed, const uint8_t *env, size_t len,
    const char *qid0, const Fedra__QuerySpec *spec)
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
    struct report r = {o->format, stdout, stderr, fed, rep, qid};
    int rc, any = 0;
    for (size_t i = 0; i < fed->nnodes; i++)
        any |= rep[i].status == NODE_OK;
    if (!any && (spec == NULL || spec->kind != FEDRA__KIND__KIND_PING))
        rc = report_nodes(&r, err);     /* nothing to merge: say why, node by node */
    else if (spec != NULL && spec->kind == FEDRA__KIND__KIND_COUNT)
        rc = report_count(&r, spec->group_by, spec->n_group_by, o->chisq, err);
    else if (spec != NULL && spec->kind == FEDRA__KIND__KIND_PING) {
        rc = report_ping(&r, err);
        client_warn_ping(fed, rep, stderr);
    }
    else if (spec != NULL && spec->kind == FEDRA__KIND__KIND_LOGRANK && spec->n_group_by == 1)
        rc = report_logrank(&r, spec->group_by[0], spec->stratify_by_node, err);
    else if (spec != NULL && spec->kind == FEDRA__KIND__KIND_KM)
        rc = report_km(&r, spec->n_group_by ? spec->group_by[0] : NULL, o->conf_type, o->times,
            o->ntimes, o->plot, err);
    else
        rc = report_nodes(&r, err);
    int all = 1;
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

/* Sign spec; either save it (--save-query) or send it. */
static int
sign_and_run(const struct opts *o, const struct federation *fed, Fedra__QuerySpec *spec)
{
    char err[FEDRA_ERRLEN], qid[2 * WIRE_QUERY_ID_LEN + 1];
    struct buf env = {0};
    if (o->replay)
        return run_query(o, fed, NULL, 0, "", spec);
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
        rc = run_query(o, fed, env.p, env.len, qid, spec);
    }
    buf_release(&env);
    return rc;
}

static Fedra__Op
wire_op(enum where_op op)
{
    switch (op) {
    case WHERE_NE: return FEDRA__OP__OP_NE;
    case WHERE_LT: return FEDRA__OP__OP_LT;
    case WHERE_LE: return FEDRA__OP__OP_LE;
    case WHERE_GT: return FEDRA__OP__OP_GT;
    case WHERE_GE: return FEDRA__OP__OP_GE;
    case WHERE_IN: return FEDRA__OP__OP_IN;
    default: return FEDRA__OP__OP_EQ;
    }
}

/* --where EXPR as wire filters; *fp and *filters are the caller's to free. */
static int
build_where(const char *expr, struct where *w, Fedra__Filter **filters, Fedra__Filter ***fp)
{
    char err[FEDRA_ERRLEN];
    memset(w, 0, sizeof *w);
    if (expr != NULL && where_parse(expr, w, err) != 0) {
        fprintf(stderr, "fedra: --where: %s\n  %s\n", err, expr);
        return -1;
    }
    *filters = xcalloc(w->nterms, sizeof **filters);
    *fp = xcalloc(w->nterms, sizeof **fp);
    for (size_t i = 0; i < w->nterms; i++) {
        fedra__filter__init(&(*filters)[i]);
        (*filters)[i].var = w->terms[i].var;
        (*filters)[i].op = wire_op(w->terms[i].op);
        (*filters)[i].n_values = w->terms[i].nvalues;
        (*filters)[i].values = w->terms[i].values;
        (*fp)[i] = &(*filters)[i];
    }
    return 0;
}

static int
cmd_count(const struct opts *o, const struct federation *fed, int argc, char **argv)
{
    struct opts o2 = *o;
    char *by[WIRE_MAX_GROUP_BY + 1];
    size_t nby = 0;
    const char *where_expr = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--by") == 0 && i + 1 < argc) {
            while (nby > 0)             /* a repeated --by replaces the earlier one */
                free(by[--nby]);
            if (split_list(argv[++i], by, WIRE_MAX_GROUP_BY, &nby) != 0)
                return usage_error("--by takes at most 4 variables, got '%s'", argv[i]);
        } else if (strcmp(argv[i], "--where") == 0 && i + 1 < argc) {
            where_expr = argv[++i];
        } else if (strcmp(argv[i], "--chisq") == 0) {
            o2.chisq = 1;
        } else {
            return usage_error("count: unexpected argument '%s'", argv[i]);
        }
    }
    struct where w;
    Fedra__Filter *filters, **fp;
    if (build_where(where_expr, &w, &filters, &fp) != 0)
        return EXIT_USAGE;
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    spec.kind = FEDRA__KIND__KIND_COUNT;
    spec.n_group_by = nby;
    spec.group_by = by;
    spec.n_where = w.nterms;
    spec.where = fp;
    int rc = EXIT_USAGE;
    if (o2.chisq && nby != 2)
        usage_error("--chisq needs exactly two --by variables (a two-way table)");
    else
        rc = sign_and_run(&o2, fed, &spec);
    free(fp);
    free(filters);
    where_release(&w);
    for (size_t i = 0; i < nby; i++)
        free(by[i]);
    return rc;
}

/* km and logrank share their options; logrank adds --stratify-by-node. */
static int
cmd_km(const struct opts *o0, const struct federation *fed, int argc, char **argv)
{
    struct opts o = *o0;
    int logrank = strcmp(argv[0], "logrank") == 0, stratify = 0;
    char *by = NULL;
    const char *where_expr = NULL;
    long long grid = FEDRA_DEFAULT_GRID;
    Fedra__Endpoint endpoint = FEDRA__ENDPOINT__ENDPOINT_OS;
    int rc = EXIT_USAGE;
    o.conf_type = KM_CONF_LOG;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--by") == 0 && v) {
            if (strchr(v, ',') != NULL) {
                usage_error("km takes one --by variable, got '%s'", v);
                goto out;
            }
            free(by);
            by = xstrdup(v);
        } else if (strcmp(a, "--where") == 0 && v) {
            where_expr = v;
        } else if (strcmp(a, "--endpoint") == 0 && v) {
            if (strcmp(v, "os") == 0)
                endpoint = FEDRA__ENDPOINT__ENDPOINT_OS;
            else if (strcmp(v, "efs") == 0)
                endpoint = FEDRA__ENDPOINT__ENDPOINT_EFS;
            else {
                usage_error("--endpoint takes os or efs, got '%s'", v);
                goto out;
            }
        } else if (strcmp(a, "--grid") == 0 && v) {
            if (util_parse_int(v, 0, 3660, &grid) != 0) {
                usage_error("--grid takes days from 0 (exact times) to 3660, got '%s'", v);
                goto out;
            }
        } else if (strcmp(a, "--conf-type") == 0 && v) {
            if (strcmp(v, "log") == 0)
                o.conf_type = KM_CONF_LOG;
            else if (strcmp(v, "log-log") == 0)
                o.conf_type = KM_CONF_LOGLOG;
            else if (strcmp(v, "plain") == 0)
                o.conf_type = KM_CONF_PLAIN;
            else {
                usage_error("--conf-type takes log, log-log or plain, got '%s'", v);
                goto out;
            }
        } else if (strcmp(a, "--times") == 0 && v) {
            char *parts[FEDRA_MAX_TIMES];
            size_t n;
            if (split_list(v, parts, FEDRA_MAX_TIMES, &n) != 0) {
                usage_error("--times takes at most %d values", FEDRA_MAX_TIMES);
                goto out;
            }
            free(o.times);
            o.times = xcalloc(n, sizeof *o.times);
            o.ntimes = n;
            int bad = 0;
            for (size_t k = 0; k < n; k++) {
                long long t;
                bad |= util_parse_int(parts[k], 0, INT32_MAX, &t) != 0;
                o.times[k] = bad ? 0 : (int32_t)t;
                free(parts[k]);
            }
            if (bad || n == 0) {
                usage_error("--times takes days (whole numbers >= 0) separated by commas, "
                    "got '%s'", v);
                goto out;
            }
        } else if (logrank && strcmp(a, "--stratify-by-node") == 0) {
            stratify = 1;
            continue;
        } else if (!logrank && strcmp(a, "--plot") == 0 && v) {
            o.plot = v;
        } else {
            usage_error("%s: unexpected argument '%s'", argv[0], a);
            goto out;
        }
        i++;
    }
    if (logrank && by == NULL) {
        usage_error("%s", "logrank needs --by V (the groups to compare)");
        goto out;
    }
    struct where w;
    Fedra__Filter *filters, **fp;
    if (build_where(where_expr, &w, &filters, &fp) != 0)
        goto out;
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    spec.kind = logrank ? FEDRA__KIND__KIND_LOGRANK : FEDRA__KIND__KIND_KM;
    spec.stratify_by_node = stratify;
    spec.n_group_by = by ? 1 : 0;
    spec.group_by = &by;
    spec.n_where = w.nterms;
    spec.where = fp;
    spec.endpoint = endpoint;
    spec.exact_times = grid == 0;
    spec.grid_days = (uint32_t)grid;
    rc = sign_and_run(&o, fed, &spec);
    free(fp);
    free(filters);
    where_release(&w);
out:
    free(by);
    free(o.times);
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
        if (!c->o->replay)
            c->sess = client_session_open(&c->sub);
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

/* cox and glm: parse, then let coord/model.c run the rounds. */
static int
cmd_model(const struct opts *o, const struct federation *fed, int argc, char **argv)
{
    struct model_request req;
    memset(&req, 0, sizeof req);
    req.glm = strcmp(argv[0], "glm") == 0;
    req.endpoint = FEDRA__ENDPOINT__ENDPOINT_OS;
    req.ties = FEDRA__TIES__TIES_EFRON;
    long long grid = FEDRA_DEFAULT_GRID, iter = 0;
    char *cov[MODEL_MAX_COVARIATES];
    size_t ncov = 0;
    char *outcome = NULL;
    const char *where_expr = NULL;
    int rc = EXIT_USAGE, have_cov = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--covariates") == 0 && v) {
            while (ncov > 0)
                free(cov[--ncov]);
            if (split_list(v, cov, MODEL_MAX_COVARIATES, &ncov) != 0) {
                usage_error("--covariates takes at most %d variables", MODEL_MAX_COVARIATES);
                goto out;
            }
            have_cov = 1;
        } else if (strcmp(a, "--where") == 0 && v) {
            where_expr = v;
        } else if (strcmp(a, "--max-iter") == 0 && v) {
            if (util_parse_int(v, 1, req.glm ? GLM_MAX_MAXIT : COX_MAX_ITER_MAX, &iter) != 0) {
                usage_error("--max-iter takes 1 to %d, got '%s'",
                    req.glm ? GLM_MAX_MAXIT : COX_MAX_ITER_MAX, v);
                goto out;
            }
        } else if (!req.glm && strcmp(a, "--endpoint") == 0 && v) {
            if (strcmp(v, "os") == 0)
                req.endpoint = FEDRA__ENDPOINT__ENDPOINT_OS;
            else if (strcmp(v, "efs") == 0)
                req.endpoint = FEDRA__ENDPOINT__ENDPOINT_EFS;
            else {
                usage_error("--endpoint takes os or efs, got '%s'", v);
                goto out;
            }
        } else if (!req.glm && strcmp(a, "--grid") == 0 && v) {
            if (util_parse_int(v, 0, 3660, &grid) != 0) {
                usage_error("--grid takes days from 0 (exact times) to 3660, got '%s'", v);
                goto out;
            }
        } else if (!req.glm && strcmp(a, "--ties") == 0 && v) {
            if (strcmp(v, "efron") == 0)
                req.ties = FEDRA__TIES__TIES_EFRON;
            else if (strcmp(v, "breslow") == 0)
                req.ties = FEDRA__TIES__TIES_BRESLOW;
            else {
                usage_error("--ties takes efron or breslow, got '%s'", v);
                goto out;
            }
        } else if (req.glm && strcmp(a, "--outcome") == 0 && v) {
            free(outcome);
            outcome = xstrdup(v);
        } else if (req.glm && strcmp(a, "--family") == 0 && v) {
            if (strcmp(v, "binomial") != 0) {
                usage_error("--family: only binomial (logistic regression) is available, "
                    "got '%s'", v);
                goto out;
            }
        } else {
            usage_error("%s: unexpected argument '%s'", argv[0], a);
            goto out;
        }
        i++;
    }
    if (!have_cov || ncov == 0) {
        usage_error("%s needs --covariates V,... (e.g. --covariates stage,age_years)", argv[0]);
        goto out;
    }
    if (req.glm) {
        char *eq = outcome ? strchr(outcome, '=') : NULL;
        if (eq == NULL || eq == outcome || eq[1] == 0) {
            usage_error("%s", "glm needs --outcome V=LEVEL (e.g. --outcome vital_status=dead)");
            goto out;
        }
        *eq = 0;
        req.outcome_var = outcome;
        req.outcome_level = eq + 1;
    }
    if (o->save_query != NULL && !o->replay) {
        usage_error("%s", "--save-query saves one signed query; a model takes one round per "
            "iteration, so it cannot be saved ahead");
        goto out;
    }
    struct where w;
    Fedra__Filter *filters, **fp;
    if (build_where(where_expr, &w, &filters, &fp) != 0)
        goto out;
    req.covariates = cov;
    req.ncov = ncov;
    req.where = fp;
    req.nwhere = w.nterms;
    req.grid_days = (uint32_t)grid;
    req.exact_times = grid == 0;
    req.max_iter = (int)iter;
    struct model_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.o = o;
    ctx.fed = fed;
    struct report r = {o->format, stdout, stderr, fed, NULL, ""};
    char err[FEDRA_ERRLEN];
    rc = model_run(&req, &r, model_send, &ctx, err);
    model_ctx_release(&ctx);
    if (rc == EXIT_FAIL)
        fprintf(stderr, "fedra: %s\n", err);
    else if (rc == EXIT_PARTIAL)
        fputs("fedra: not every node took part; the model is the exact fit of those that did\n",
            stderr);
    free(fp);
    free(filters);
    where_release(&w);
out:
    while (ncov > 0)
        free(cov[--ncov]);
    free(outcome);
    return rc;
}

static int
cmd_ping(const struct opts *o, const struct federation *fed, int argc, char **argv)
{
    if (argc > 1)
        return usage_error("ping: unexpected argument '%s'", argv[1]);
    Fedra__QuerySpec spec = FEDRA__QUERY_SPEC__INIT;
    spec.kind = FEDRA__KIND__KIND_PING;
    return sign_and_run(o, fed, &spec);
}

static int
cmd_send(const struct opts *o, const struct federation *fed, int argc, char **argv)
{
    if (argc != 2)
        return usage_error("%s", "send takes one FILE (a query saved with --save-query)");
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
    int rc = run_query(o, fed, data, len, qid, q ? q->spec : NULL);
    wire_query_free(q);
    wire_envelope_free(env);
    free(data);
    return rc;
}

static int
command_known(const char *cmd)
{
    const char *known[] = {"count", "ping", "send", "km", "logrank", "cox", "glm"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(cmd, known[i]) == 0)
            return 1;
    return 0;
}

static int
dispatch(const struct opts *o, const struct federation *fed, int argc, char **argv)
{
    const char *cmd = argv[0];
    if (strcmp(cmd, "count") == 0)
        return cmd_count(o, fed, argc, argv);
    if (strcmp(cmd, "ping") == 0)
        return cmd_ping(o, fed, argc, argv);
    if (strcmp(cmd, "km") == 0 || strcmp(cmd, "logrank") == 0)
        return cmd_km(o, fed, argc, argv);
    if (strcmp(cmd, "cox") == 0 || strcmp(cmd, "glm") == 0)
        return cmd_model(o, fed, argc, argv);
    return cmd_send(o, fed, argc, argv);
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
            return usage_error("verify: unexpected argument '%s'", argv[i]);
    }
    if (ca == NULL || path == NULL)
        return usage_error("%s", "verify needs --ca-cert FILE (the federation CA certificate) "
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
    if (!command_known(args[0]) || strcmp(args[0], "send") == 0 || strcmp(args[0], "ping") == 0) {
        fprintf(stderr, "fedra: verify: the bundle's command '%s' cannot be verified\n", args[0]);
        goto out;
    }
    o.bundle = &b;
    o.replay = 1;
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

int
main(int argc, char **argv)
{
    struct opts o = {getenv("FEDRA_FEDERATION"), getenv("FEDRA_CERT"), getenv("FEDRA_KEY"), NULL,
        CLIENT_DEFAULT_TIMEOUT_MS, REPORT_TABLE, KM_CONF_LOG, NULL, 0, 0, NULL, NULL, NULL, 0,
        NULL};
    /* Global options may stand before or after the command. */
    char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            free(rest);
            return EXIT_OK;
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
        } else if (strcmp(a, "--timeout") == 0 && has) {
            long long t;
            if (util_parse_int(argv[++i], 1, CLIENT_MAX_TIMEOUT_MS, &t) != 0) {
                free(rest);
                return usage_error("--timeout takes milliseconds (1..3600000), got '%s'", argv[i]);
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
                return usage_error("--format takes table, csv or json, got '%s'", f);
            }
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (nrest == 0) {
        fputs(usage, stderr);
        free(rest);
        return EXIT_USAGE;
    }
    const char *cmd = rest[0];
    if (strcmp(cmd, "verify") == 0) {
        int rc = cmd_verify(&o, nrest, rest);
        free(rest);
        return rc;
    }
    if (!command_known(cmd)) {
        free(rest);
        return usage_error("unknown command '%s'", cmd);
    }
    if (o.federation == NULL) {
        free(rest);
        return usage_error("%s", "no federation file: pass --federation FILE or set "
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
        if (strcmp(cmd, "send") == 0 || o.save_query != NULL) {
            federation_release(&fed);
            free(rest);
            return usage_error("%s", "--bundle records a query this run signs and sends; not "
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
