/*
 * fedra-bench - the measuring half of `make bench` (bench/run is the driver).
 *
 * Every figure comes from the project's own code paths, linked in:
 *
 *   query  FED CERT KEY count|km|cif REPS [fresh|pooled]
 *          sign a query exactly as `fedra` does, fan it out with the coordinator
 *          library (coord/client.c), verify every reply; REPS timed queries after
 *          a warm-up.  One session for all queries (connections and certificate
 *          verdicts kept), or with "fresh" a new session per query (what one
 *          `fedra` invocation pays).  Against a one-node federation this is the
 *          node's service time plus one loopback round trip.  Nodes behind a
 *          hub are reached through it, as `fedra` reaches them.  With "pooled"
 *          the query is a pooled release (coord/pooled.h: every node behind the
 *          hub, its roster, masked shares, the hub's signed release verified),
 *          over one session kept across queries (its connection to the hub and
 *          its verdicts on the nodes' certificates).
 *   mask   NODES count|km REPS
 *          a node's masking cost for one pooled answer (node/share.h) of the
 *          query's layout (proto/layout.h; the specs of `query`): the seeds
 *          from the key agreements with NODES - 1 peers, kept as the node
 *          keeps them (mask_cache), and the four masked vectors (lib/mask.h),
 *          REPS times.
 *   verify FED CERT KEY REPS
 *          coordinator fan-in capacity: replies from one real query, verified
 *          over and over as a session does it (client_session_verify: decode,
 *          pinned certificate verdict, signature, body, query hash); REPS runs
 *          of 2000 verifications.
 *   scan   DB count|km|cif REPS [BY]
 *          the node's scan alone: snapshot_load() once, then the count, km or cif
 *          kind's row (node/kind.h) as the node calls it, REPS times.  BY: the grouping,
 *          comma-separated ("-" for none), instead of the default.
 *   scan   DB cox|cox-first REPS COVARIATES
 *          one node's Cox round (the cox kind's row) with every level but the first of
 *          each categorical covariate as a column, at beta 0: "cox" with the
 *          design kept from the fit's first round (every later round), and
 *          "cox-first" with an empty cache each time (the first round).
 *   cox    FED CERT KEY COVARIATES REPS [pooled]
 *          a whole Cox fit as `fedra cox --covariates COVARIATES` runs it
 *          (coord/model.c: level discovery, every Newton-Raphson round), over
 *          one session kept across fits as a long-running coordinator keeps
 *          it; REPS timed fits after a warm-up, each with a new model id.
 *          With "pooled", `fedra cox --pooled` (coord/pooled.h pooled_model:
 *          pooled level counts, then the fit driven by the hub, every round
 *          masked and checked by every node), over one connection to the hub.
 *
 * Floors, measured in the same run as the figures they are floors of (issue
 * 13: a floor copied from a document turns a noisy machine's met target into
 * a miss), each timed one operation at a time with a nanosecond clock:
 *
 *   floor-rtt REPS
 *          a bare ZeroMQ CURVE round trip on loopback: a forked echo process
 *          (ROUTER, CURVE server, keys from zmq_curve_keypair) and a DEALER
 *          client sending one BENCH_FLOOR_FRAME-byte frame and waiting for it
 *          back over a persistent connection (performance.md B1's design).
 *   floor-sign KEY REPS / floor-verify CERT KEY REPS
 *          one Ed25519 signature (pki_sign) or verification (pki_check_sig)
 *          of a BENCH_FLOOR_FRAME-byte message: the calls the node and the
 *          coordinator make per query.
 *   floor-scan DB count|km REPS
 *          a bare column scan over the snapshot the node answers from: the
 *          counting loop alone (count: a cell per stage x sex code; km: a
 *          counter per stage x grid bin x event), with none of the kind's
 *          parsing, filtering, disclosure control or result building.
 *
 * Output: one line per figure, "RESULT <median> <p99> <n> <unit>", read by bench/run.
 * All times are wall-clock (CLOCK_MONOTONIC).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>


#include "certs/pki.h"
#include "coord/client.h"
#include "coord/pooled.h"
#include "lib/mask.h"
#include "node/share.h"
#include "proto/layout.h"
#include "coord/federation.h"
#include "coord/model.h"
#include "coord/report.h"
#include "lib/util.h"
#include "node/config.h"
#include "node/kind.h"
#include "node/kind_model.h"
#include "node/snapshot.h"
#include "node/store.h"
#include "proto/vars.h"
#include "proto/wire.h"

#define BENCH_MAX_REPS 1000000
#define BENCH_WARMUP 3
#define BENCH_TIMEOUT_MS 30000
#define BENCH_TTL_MS 600000
#define BENCH_GRID_DAYS 30          /* fedra km's default grid */
#define BENCH_VERIFY_BATCH 2000
#define BENCH_MAX_COVARIATES 8
#define BENCH_FLOOR_FRAME 200       /* bytes: a small frame or message (performance.md B1, B2) */
#define BENCH_FLOOR_LINGER_MS 0

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and p99 (nearest rank) of v[0..n), printed for bench/run. */
static void
result(double *v, size_t n, const char *unit)
{
    qsort(v, n, sizeof *v, cmp_double);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    size_t r = (size_t)((double)n * 0.99 + 0.999999);
    double p99 = v[(r ? r : 1) - 1];
    printf("RESULT %.6g %.6g %zu %s\n", med, p99, n, unit);
}

/* The spec `fedra count --by stage,sex`, `fedra km --by stage` or `fedra cif --by stage` sends. */
static char *by_count[] = {(char *)"stage", (char *)"sex"};
static char *by_km[] = {(char *)"stage"};

static void
make_spec(const char *what, Fedra__QuerySpec *spec)
{
    int cif = strcmp(what, "cif") == 0;
    fedra__query_spec__init(spec);
    if (cif || strcmp(what, "km") == 0) {
        spec->kind = cif ? FEDRA__KIND__KIND_CIF : FEDRA__KIND__KIND_KM;
        spec->n_group_by = 1;
        spec->group_by = by_km;
        spec->endpoint = cif ? FEDRA__ENDPOINT__ENDPOINT_EFS : FEDRA__ENDPOINT__ENDPOINT_OS;
        spec->grid_days = BENCH_GRID_DAYS;
    } else {
        spec->kind = FEDRA__KIND__KIND_COUNT;
        spec->n_group_by = 2;
        spec->group_by = by_count;
    }
}

/* A signed query envelope, as fedra signs it (client_sign_query; fresh id each time). */
static int
sign_query(const struct federation *fed, const struct pki_cert *cert, const struct pki_key *key,
    const Fedra__QuerySpec *spec, struct buf *env, char *err)
{
    return client_sign_query(fed, cert, key, spec, BENCH_TTL_MS, env, NULL, err);
}

struct analyst {
    struct federation fed;
    struct pki_cert *cert;
    struct pki_key *key;
};

static int
analyst_open(const char *fedpath, const char *certpath, const char *keypath, struct analyst *a,
    char *err)
{
    memset(a, 0, sizeof *a);
    if (federation_load(fedpath, &a->fed, err) != 0 || pki_cert_load(certpath, &a->cert, err) != 0
        || pki_key_load(keypath, &a->key, err) != 0)
        return -1;
    return 0;
}

static void
analyst_close(struct analyst *a)
{
    pki_cert_free(a->cert);
    pki_key_free(a->key);
    federation_release(&a->fed);
}

/*
 * A session as fedra opens one: nodes behind a hub need the analyst's
 * certificate and key (the route is signed, the answers are sealed to it).
 */
static struct client_session *
bench_session(struct analyst *a)
{
    struct client_session *s = client_session_open(&a->fed);
    char err[FEDRA_ERRLEN];
    if (federation_hub_nodes(&a->fed) > 0 && client_session_analyst(s, a->cert, a->key, err) != 0)
        fprintf(stderr, "fedra-bench: %s\n", err);     /* the queries then fail, saying why */
    return s;
}

/* One timed query (sign + fan-out + verify); -1 unless every node answered ok. */
static int
one_query(struct analyst *a, struct client_session *s, const Fedra__QuerySpec *spec,
    struct node_reply *rep, double *ms, char *err)
{
    struct buf env = {0};
    int64_t t0 = util_mono_us();
    int rc = sign_query(&a->fed, a->cert, a->key, spec, &env, err);
    if (rc == 0)
        rc = client_session_fanout(s, env.p, env.len, BENCH_TIMEOUT_MS, rep, err);
    *ms = (double)(util_mono_us() - t0) / 1000.0;
    buf_release(&env);
    for (size_t i = 0; rc == 0 && i < a->fed.nnodes; i++)
        if (rep[i].status != NODE_OK)
            rc = errf(err, "node %s: %s: %s", a->fed.nodes[i].name,
                client_status_name(rep[i].status), rep[i].reason);
    return rc;
}

/* One timed pooled query: sign (pooled, roster), the route, the verified release. */
static int
one_pooled(struct analyst *a, struct client_session *s, Fedra__QuerySpec *spec, double *ms,
    char *err)
{
    struct buf env = {0};
    struct pooled_result pr;
    int64_t t0 = util_mono_us();
    int rc = sign_query(&a->fed, a->cert, a->key, spec, &env, err);
    if (rc == 0)
        rc = pooled_run(&a->fed, s, env.p, env.len, BENCH_TIMEOUT_MS, &pr, err);
    *ms = (double)(util_mono_us() - t0) / 1000.0;
    if (rc == 0 && pr.release == NULL) {
        char why[FEDRA_ERRLEN];
        snprintf(why, sizeof why, "%s", err);
        rc = errf(err, "no pooled release: %s", why);
        for (size_t i = 0; i < a->fed.nnodes; i++)
            if (pr.rep[i].status != NODE_OK)
                fprintf(stderr, "  %s: %s\n", a->fed.nodes[i].name, pr.rep[i].reason);
    }
    pooled_result_release(&pr, a->fed.nnodes);
    buf_release(&env);
    return rc;
}

static int
cmd_pooled(struct analyst *a, Fedra__QuerySpec *spec, long long reps, double *v, char *err)
{
    ProtobufCBinaryData *roster = xcalloc(a->fed.nnodes, sizeof *roster);
    for (size_t i = 0; i < a->fed.nnodes; i++)
        roster[i].data = (uint8_t *)pki_cert_der(a->fed.nodes[i].cert, &roster[i].len);
    spec->pooled = 1;
    spec->roster = roster;
    spec->n_roster = a->fed.nnodes;
    struct client_session *s = client_session_open(&a->fed);
    int rc = client_session_analyst(s, a->cert, a->key, err);
    double ms;
    for (long long k = -BENCH_WARMUP; rc == 0 && k < reps; k++) {
        rc = one_pooled(a, s, spec, &ms, err);
        if (k >= 0)
            v[k] = ms;
    }
    client_session_close(s);
    free(roster);
    return rc;
}

static int
cmd_query(char **argv, int argc, char *err)
{
    struct analyst a;
    long long reps;
    if (argc < 5 || util_parse_int(argv[4], 1, BENCH_MAX_REPS, &reps) != 0)
        return errf(err, "usage: query FED CERT KEY count|km|cif REPS [fresh|pooled]");
    int fresh = argc > 5 && strcmp(argv[5], "fresh") == 0;
    int pooled = argc > 5 && strcmp(argv[5], "pooled") == 0;
    if (analyst_open(argv[0], argv[1], argv[2], &a, err) != 0)
        return -1;
    Fedra__QuerySpec spec;
    make_spec(argv[3], &spec);
    struct node_reply *rep = xcalloc(a.fed.nnodes, sizeof *rep);
    double *v = xcalloc((size_t)reps, sizeof *v), ms;
    if (pooled) {
        int prc = cmd_pooled(&a, &spec, reps, v, err);
        if (prc == 0)
            result(v, (size_t)reps, "ms");
        free(v);
        free(rep);
        analyst_close(&a);
        return prc;
    }
    struct client_session *s = bench_session(&a);
    int rc = 0;
    for (long long k = -BENCH_WARMUP; rc == 0 && k < reps; k++) {
        if (fresh) {
            client_session_close(s);
            s = bench_session(&a);
        }
        rc = one_query(&a, s, &spec, rep, &ms, err);
        client_replies_release(rep, a.fed.nnodes);
        if (k >= 0)
            v[k] = ms;
    }
    client_session_close(s);
    if (rc == 0)
        result(v, (size_t)reps, "ms");
    free(v);
    free(rep);
    analyst_close(&a);
    return rc;
}

static int
cmd_verify(char **argv, int argc, char *err)
{
    struct analyst a;
    long long reps;
    if (argc < 4 || util_parse_int(argv[3], 1, BENCH_MAX_REPS, &reps) != 0)
        return errf(err, "usage: verify FED CERT KEY REPS");
    if (analyst_open(argv[0], argv[1], argv[2], &a, err) != 0)
        return -1;
    Fedra__QuerySpec spec;
    make_spec("count", &spec);
    size_t n = a.fed.nnodes;
    struct node_reply *rep = xcalloc(n, sizeof *rep);
    struct buf env = {0};
    struct client_session *s = client_session_open(&a.fed);
    int rc = sign_query(&a.fed, a.cert, a.key, &spec, &env, err);
    if (rc == 0)
        rc = client_session_fanout(s, env.p, env.len, BENCH_TIMEOUT_MS, rep, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (rep[i].status != NODE_OK)
            rc = errf(err, "node %s did not answer: %s", a.fed.nodes[i].name, rep[i].reason);
    double *v = xcalloc((size_t)reps, sizeof *v);
    uint8_t qhash[WIRE_HASH_LEN];
    wire_query_hash(env.p, env.len, qhash);
    for (long long r = 0; rc == 0 && r < reps; r++) {
        int64_t t0 = util_mono_us();
        for (size_t k = 0; rc == 0 && k < BENCH_VERIFY_BATCH; k++) {
            size_t i = k % n;
            Fedra__ResponseBody *b;
            rc = client_session_verify(s, i, qhash, rep[i].raw.p, rep[i].raw.len, &b, err);
            wire_response_free(b);
        }
        v[r] = BENCH_VERIFY_BATCH / ((double)(util_mono_us() - t0) / 1e6);
    }
    if (rc == 0)
        result(v, (size_t)reps, "replies/s");
    client_session_close(s);
    client_replies_release(rep, n);
    buf_release(&env);
    free(rep);
    free(v);
    analyst_close(&a);
    return rc;
}

/* One query answered as the node answers it: its kind's row, execute then release. */
static int
node_answer(const struct snapshot *snap, const struct disclose_policy *pol,
    const Fedra__QuerySpec *spec, struct kind_model_cache *cache, char *err)
{
    const struct node_kind *k = node_kind_get(spec->kind);
    struct node_kind_ctx ctx = {snap, cache, 0, NULL, NULL, NULL};
    struct node_answer ans;
    int rc = node_kind_answer(k, &ctx, pol, spec, &ans, err);
    k->free_answer(&ans);
    return rc;
}

/* A Cox round at beta 0 on terms for the covariates (comma-separated list, modified). */
static int
scan_cox(const struct snapshot *snap, const struct disclose_policy *pol, char *list, int first,
    long long reps, char *err)
{
    Fedra__Term terms[WIRE_MAX_TERMS], *termp[WIRE_MAX_TERMS];
    double beta[WIRE_MAX_TERMS] = {0};
    uint8_t model_id[WIRE_QUERY_ID_LEN] = {1};
    size_t nt = 0;
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        const struct var_def *v = vars_find(t);
        if (v == NULL || (v->kind != VAR_INTEGER && v->nlevels == 0))
            return errf(err, "'%s' is not a numeric or closed categorical variable", t);
        for (size_t k = v->kind == VAR_INTEGER ? 0 : 1; k < (v->nlevels ? v->nlevels : 1) &&
             nt < WIRE_MAX_TERMS; k++) {
            fedra__term__init(&terms[nt]);
            terms[nt].var = (char *)v->name;
            terms[nt].level = (char *)(v->nlevels ? v->levels[k] : "");
            termp[nt] = &terms[nt];
            nt++;
        }
    }
    Fedra__QuerySpec spec;
    fedra__query_spec__init(&spec);
    spec.kind = FEDRA__KIND__KIND_COX;
    spec.endpoint = FEDRA__ENDPOINT__ENDPOINT_OS;
    spec.grid_days = BENCH_GRID_DAYS;
    spec.ties = FEDRA__TIES__TIES_EFRON;
    spec.n_terms = spec.n_beta = nt;
    spec.terms = termp;
    spec.beta = beta;
    spec.model_id.data = model_id;
    spec.model_id.len = sizeof model_id;
    struct kind_model_cache cache;
    memset(&cache, 0, sizeof cache);
    double *v = xcalloc((size_t)reps, sizeof *v);
    int rc = 0;
    for (long long k = -BENCH_WARMUP; rc == 0 && k < reps; k++) {
        if (first)
            kind_model_cache_clear(&cache);
        int64_t t0 = util_mono_us();
        rc = node_answer(snap, pol, &spec, &cache, err);
        if (k >= 0)
            v[k] = (double)(util_mono_us() - t0) / 1000.0;
    }
    if (rc == 0)
        result(v, (size_t)reps, "ms");
    kind_model_cache_clear(&cache);
    free(v);
    return rc;
}

static int
cmd_scan(char **argv, int argc, char *err)
{
    long long reps;
    if (argc < 3 || util_parse_int(argv[2], 1, BENCH_MAX_REPS, &reps) != 0)
        return errf(err, "usage: scan DB count|km|cif REPS [BY]");
    struct store *st;
    struct snapshot *snap;
    if (store_open(argv[0], 1, &st, err) != 0)
        return -1;
    if (snapshot_load(st, &snap, err) != 0) {
        store_free(st);
        return -1;
    }
    /* The node's default disclosure policy (a config without min_cell or time_grid_days). */
    struct disclose_policy pol = {
        .min_cell = DISCLOSE_DEFAULT_MIN_CELL,
        .time_grid_days = DISCLOSE_DEFAULT_GRID_DAYS,
        .min_events_per_param = DISCLOSE_DEFAULT_EVENTS_PER_PARAM,
    };
    Fedra__QuerySpec spec;
    make_spec(argv[1], &spec);
    char *by[SNAP_MAX_GROUP], *list = argc > 3 ? xstrdup(argv[3]) : NULL, *save = NULL;
    if (strncmp(argv[1], "cox", 3) == 0) {
        if (list == NULL)
            return errf(err, "usage: scan DB cox|cox-first REPS COVARIATES");
        int rc = scan_cox(snap, &pol, list, strcmp(argv[1], "cox-first") == 0, reps, err);
        free(list);
        snapshot_free(snap);
        store_free(st);
        return rc;
    }
    if (list != NULL) {
        spec.n_group_by = 0;
        spec.group_by = by;
        for (char *t = strtok_r(list, ",", &save); t && spec.n_group_by < SNAP_MAX_GROUP;
             t = strtok_r(NULL, ",", &save))
            if (strcmp(t, "-") != 0)
                by[spec.n_group_by++] = t;
    }
    double *v = xcalloc((size_t)reps, sizeof *v);
    int rc = 0;
    for (long long k = -BENCH_WARMUP; rc == 0 && k < reps; k++) {
        int64_t t0 = util_mono_us();
        rc = node_answer(snap, &pol, &spec, NULL, err);
        if (k >= 0)
            v[k] = (double)(util_mono_us() - t0) / 1000.0;
    }
    if (rc == 0)
        result(v, (size_t)reps, "ms");
    free(v);
    free(list);
    snapshot_free(snap);
    store_free(st);
    return rc;
}

/* model_send_fn over one open session: sign, fan out, check (as fedra's model_send). */
struct bench_fit {
    struct analyst *a;
    struct client_session *s;
};

static int
bench_send(void *ctx, Fedra__QuerySpec *spec, const unsigned char *active,
    struct node_reply *rep, char *err)
{
    struct bench_fit *b = ctx;
    for (size_t i = 0; i < b->a->fed.nnodes; i++)
        if (!active[i])
            return errf(err, "node %s left the fit", b->a->fed.nodes[i].name);
    struct buf env = {0};
    int rc = sign_query(&b->a->fed, b->a->cert, b->a->key, spec, &env, err);
    if (rc == 0)
        rc = client_session_fanout(b->s, env.p, env.len, BENCH_TIMEOUT_MS, rep, err);
    if (rc == 0)
        report_check_replies(&b->a->fed, rep, spec);
    buf_release(&env);
    return rc;
}

static int
cmd_cox(char **argv, int argc, char *err)
{
    struct analyst a;
    long long reps;
    if (argc < 5 || util_parse_int(argv[4], 1, BENCH_MAX_REPS, &reps) != 0)
        return errf(err, "usage: cox FED CERT KEY COVARIATES REPS [pooled]");
    int pooled = argc > 5 && strcmp(argv[5], "pooled") == 0;
    char *cov[BENCH_MAX_COVARIATES], *list = xstrdup(argv[3]), *save = NULL;
    size_t ncov = 0;
    for (char *t = strtok_r(list, ",", &save); t && ncov < BENCH_MAX_COVARIATES;
         t = strtok_r(NULL, ",", &save))
        cov[ncov++] = t;
    if (analyst_open(argv[0], argv[1], argv[2], &a, err) != 0) {
        free(list);
        return -1;
    }
    struct model_request req = {
        .covariates = cov, .ncov = ncov, .endpoint = FEDRA__ENDPOINT__ENDPOINT_OS,
        .grid_days = BENCH_GRID_DAYS, .ties = FEDRA__TIES__TIES_EFRON,
        .one_way = pooled,              /* as fedra asks a pooled fit's levels */
    };
    FILE *sink = fopen("/dev/null", "w");
    struct report r = {.format = REPORT_TABLE, .out = sink, .diag = sink, .fed = &a.fed,
        .query_id = ""};
    struct bench_fit b = {.a = &a, .s = client_session_open(&a.fed)};
    double *v = xcalloc((size_t)reps, sizeof *v);
    int rc = sink ? 0 : errf(err, "cannot open /dev/null");
    if (pooled && rc == 0 && a.fed.hub == NULL)
        rc = errf(err, "pooled: the federation has no hub");
    if (pooled && rc == 0)
        rc = client_session_analyst(b.s, a.cert, a.key, err);
    for (long long k = -BENCH_WARMUP; rc == 0 && k < reps; k++) {
        int64_t t0 = util_mono_us();
        struct pooled_model pm;
        int st;
        if (pooled) {
            pooled_model_init(&pm, &a.fed, a.cert, a.key, BENCH_TTL_MS, BENCH_TIMEOUT_MS, b.s,
                NULL);
            r.fed = &pm.view;
            st = model_run(&req, &r, pooled_model_send, &pm, err);
            if (st == 0 && pooled_model_check(&pm, err) != 0)
                st = 1;
            pooled_model_release(&pm);
        } else {
            st = model_run(&req, &r, bench_send, &b, err);
        }
        if (k >= 0)
            v[k] = (double)(util_mono_us() - t0) / 1000.0;
        if (st != 0 && rc == 0)
            rc = errf(err, "the fit did not finish over every node (status %d)%s%s", st,
                err[0] ? ": " : "", err);
    }
    if (rc == 0)
        result(v, (size_t)reps, "ms");
    client_session_close(b.s);
    if (sink)
        fclose(sink);
    free(v);
    free(list);
    analyst_close(&a);
    return rc;
}

/* ---- floors ---- */

static int64_t
mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* floor-rtt's echo process: ROUTER, CURVE server; its endpoint to fd, then echoes until killed. */
static void
echo_server(const char *secret, int fd)
{
    void *ctx = zmq_ctx_new(), *r = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1;
    char ep[256] = "";
    size_t el = sizeof ep;
    if (r == NULL || zmq_setsockopt(r, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, secret, strlen(secret)) != 0 ||
        zmq_bind(r, "tcp://127.0.0.1:*") != 0 || zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, ep, &el))
        ep[0] = 0;
    if (write(fd, ep, sizeof ep) != (ssize_t)sizeof ep || ep[0] == 0)
        _exit(1);
    close(fd);
    for (;;) {
        zmq_msg_t id, m;
        zmq_msg_init(&id);
        zmq_msg_init(&m);
        if (zmq_msg_recv(&id, r, 0) < 0 || zmq_msg_recv(&m, r, 0) < 0)
            _exit(1);
        zmq_msg_send(&id, r, ZMQ_SNDMORE);
        zmq_msg_send(&m, r, 0);
    }
}

static int
cmd_floor_rtt(char **argv, int argc, char *err)
{
    long long reps;
    char spub[41], ssec[41], cpub[41], csec[41], ep[256];
    int pfd[2];
    if (argc < 1 || util_parse_int(argv[0], 1, BENCH_MAX_REPS, &reps) != 0)
        return errf(err, "usage: floor-rtt REPS");
    if (zmq_curve_keypair(spub, ssec) != 0 || zmq_curve_keypair(cpub, csec) != 0)
        return errf(err, "zmq_curve_keypair: %s (libzmq without CURVE?)", zmq_strerror(errno));
    fflush(stdout);
    if (pipe(pfd) != 0)
        return errf(err, "pipe failed");
    pid_t pid = fork();
    if (pid < 0)
        return errf(err, "fork failed");
    if (pid == 0) {
        close(pfd[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the benchmark */
        echo_server(ssec, pfd[1]);
    }
    close(pfd[1]);
    ssize_t got = read(pfd[0], ep, sizeof ep);
    close(pfd[0]);
    int rc = 0, linger = BENCH_FLOOR_LINGER_MS;
    void *ctx = zmq_ctx_new(), *d = zmq_socket(ctx, ZMQ_DEALER);
    if (got != (ssize_t)sizeof ep || ep[0] == 0)
        rc = errf(err, "the echo process did not start");
    else if (zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, spub, 40) != 0 ||
        zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, cpub, 40) != 0 ||
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, csec, 40) != 0 ||
        zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger) != 0 || zmq_connect(d, ep) != 0)
        rc = errf(err, "cannot connect to the echo process: %s", zmq_strerror(errno));
    uint8_t frame[BENCH_FLOOR_FRAME], back[BENCH_FLOOR_FRAME + 1];
    memset(frame, 'f', sizeof frame);
    double *v = xcalloc((size_t)reps, sizeof *v);
    /* The warm-up includes the CURVE handshake: only persistent-connection trips are timed. */
    for (long long k = -BENCH_WARMUP; rc == 0 && k < reps; k++) {
        int64_t t0 = mono_ns();
        if (zmq_send(d, frame, sizeof frame, 0) != (int)sizeof frame ||
            zmq_recv(d, back, sizeof back, 0) != (int)sizeof frame)
            rc = errf(err, "round trip failed: %s", zmq_strerror(errno));
        if (k >= 0)
            v[k] = (double)(mono_ns() - t0) / 1e6;
    }
    if (rc == 0)
        result(v, (size_t)reps, "ms");
    zmq_close(d);
    zmq_ctx_term(ctx);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    free(v);
    return rc;
}

/* floor-sign KEY REPS, floor-verify CERT KEY REPS: one Ed25519 operation per sample. */
static int
cmd_floor_sig(char **argv, int argc, int verify, char *err)
{
    long long reps;
    struct pki_cert *c = NULL;
    struct pki_key *k = NULL;
    int n = verify ? 3 : 2;
    if (argc < n || util_parse_int(argv[n - 1], 1, BENCH_MAX_REPS, &reps) != 0)
        return errf(err, "usage: %s", verify ? "floor-verify CERT KEY REPS" :
            "floor-sign KEY REPS");
    if ((verify && pki_cert_load(argv[0], &c, err) != 0) ||
        pki_key_load(argv[n - 2], &k, err) != 0) {
        pki_cert_free(c);
        return -1;
    }
    uint8_t msg[BENCH_FLOOR_FRAME], sig[PKI_SIG_LEN];
    memset(msg, 'm', sizeof msg);
    int rc = pki_sign(k, msg, sizeof msg, sig) == 0 ? 0 : errf(err, "pki_sign failed");
    double *v = xcalloc((size_t)reps, sizeof *v);
    for (long long i = -BENCH_WARMUP; rc == 0 && i < reps; i++) {
        int64_t t0 = mono_ns();
        if (verify)
            rc = pki_check_sig(c, msg, sizeof msg, sig, sizeof sig) == 0 ? 0 :
                errf(err, "the signature does not verify ('%s' is not the key of '%s'?)",
                    argv[1], argv[0]);
        else
            rc = pki_sign(k, msg, sizeof msg, sig) == 0 ? 0 : errf(err, "pki_sign failed");
        if (i >= 0)
            v[i] = (double)(mono_ns() - t0) / 1e6;
    }
    if (rc == 0)
        result(v, (size_t)reps, "ms");
    free(v);
    pki_cert_free(c);
    pki_key_free(k);
    return rc;
}

/* floor-scan DB count|km REPS: the counting loop alone, over the snapshot's columns. */
static int
cmd_mask(char **argv, int argc, char *err)
{
    long long nodes, reps;
    if (argc < 3 || util_parse_int(argv[0], 2, MASK_MAX_ROSTER, &nodes) != 0 ||
        (strcmp(argv[1], "count") != 0 && strcmp(argv[1], "km") != 0) ||
        util_parse_int(argv[2], 1, BENCH_MAX_REPS, &reps) != 0)
        return errf(err, "usage: mask NODES count|km REPS");
    Fedra__QuerySpec spec;
    struct layout L;
    make_spec(argv[1], &spec);
    if (layout_make(&spec, spec.grid_days, &L, err) != 0)
        return -1;
    fprintf(stderr, "mask %s: %zu positions, %zu ring elements\n", argv[1], L.npos,
        layout_elems(&L));
    uint8_t (*pk)[MASK_KEY_LEN] = xcalloc((size_t)nodes, sizeof *pk), sk[MASK_KEY_LEN];
    uint8_t other[MASK_KEY_LEN], qhash[MASK_HASH_LEN] = {0};
    if (sodium_init() < 0)
        return errf(err, "libsodium failed to initialise");
    crypto_box_keypair(pk[0], sk);              /* this node, then its peers */
    for (long long i = 1; i < nodes; i++)
        crypto_box_keypair(pk[i], other);
    struct mask_cache *kept = mask_cache_new(); /* as the node keeps its agreements */
    uint64_t *vec = xcalloc(layout_elems(&L), sizeof *vec);
    double *v = xcalloc((size_t)reps, sizeof *v);
    int rc = 0;
    for (long long k = -BENCH_WARMUP; rc == 0 && k < reps; k++) {
        struct mask_node *m = NULL;
        int64_t t0 = mono_ns();
        qhash[0] = (uint8_t)k;      /* a new query each time: new pair seeds */
        rc = mask_node_new_kept(&m, kept, sk, pk[0], (const uint8_t (*)[MASK_KEY_LEN])pk,
            (size_t)nodes, qhash, err);
        if (rc == 0)
            rc = share_mask(m, &L, vec, err);
        mask_node_free(m);
        if (k >= 0)
            v[k] = (double)(mono_ns() - t0) / 1e6;
    }
    if (rc == 0)
        result(v, (size_t)reps, "ms");
    free(v);
    free(vec);
    free(pk);
    mask_cache_free(kept);
    return rc;
}

static int
cmd_floor_scan(char **argv, int argc, char *err)
{
    long long reps;
    struct store *st;
    struct snapshot *snap;
    if (argc < 3 || util_parse_int(argv[2], 1, BENCH_MAX_REPS, &reps) != 0)
        return errf(err, "usage: floor-scan DB count|km REPS");
    int km = strcmp(argv[1], "km") == 0;
    if (store_open(argv[0], 1, &st, err) != 0)
        return -1;
    if (snapshot_load(st, &snap, err) != 0) {
        store_free(st);
        return -1;
    }
    const uint16_t *stage = snap->code[VAR_STAGE], *sex = snap->code[VAR_SEX];
    uint32_t ns = snap->ncodes[VAR_STAGE], nx = snap->ncodes[VAR_SEX];
    size_t nbins = (size_t)(snap->os_tmax < 0 ? 0 : snap->os_tmax) / BENCH_GRID_DAYS + 2;
    size_t ncnt = km ? ((size_t)ns + 1) * nbins * 2 : ((size_t)ns + 1) * ((size_t)nx + 1);
    uint32_t *cnt = xcalloc(ncnt, sizeof *cnt);
    double *v = xcalloc((size_t)reps, sizeof *v);
    volatile uint32_t sink = 0;
    for (long long k = -BENCH_WARMUP; k < reps; k++) {
        int64_t t0 = mono_ns();
        memset(cnt, 0, ncnt * sizeof *cnt);
        if (km) {
            for (size_t i = 0; i < snap->n; i++) {
                uint32_t c = stage[i] < ns ? stage[i] : ns;    /* missing: a cell of its own */
                int32_t t = snap->os_time[i] < 0 ? 0 : snap->os_time[i];
                size_t b = (size_t)(t + BENCH_GRID_DAYS - 1) / BENCH_GRID_DAYS;
                cnt[((size_t)c * nbins + b) * 2 + snap->os_event[i]]++;
            }
        } else {
            for (size_t i = 0; i < snap->n; i++) {
                uint32_t a = stage[i] < ns ? stage[i] : ns, b = sex[i] < nx ? sex[i] : nx;
                cnt[(size_t)a * (nx + 1) + b]++;
            }
        }
        sink += cnt[0];
        if (k >= 0)
            v[k] = (double)(mono_ns() - t0) / 1e6;
    }
    result(v, (size_t)reps, "ms");
    free(v);
    free(cnt);
    snapshot_free(snap);
    store_free(st);
    return 0;
}

int
main(int argc, char **argv)
{
    char err[FEDRA_ERRLEN] = "";
    int rc;
    if (argc < 2) {
        fputs("usage: fedra-bench query|verify|scan|cox|floor-rtt|floor-sign|floor-verify|"
            "floor-scan ... (see bench/fedra-bench.c)\n", stderr);
        return 2;
    }
    if (strcmp(argv[1], "query") == 0)
        rc = cmd_query(argv + 2, argc - 2, err);
    else if (strcmp(argv[1], "verify") == 0)
        rc = cmd_verify(argv + 2, argc - 2, err);
    else if (strcmp(argv[1], "scan") == 0)
        rc = cmd_scan(argv + 2, argc - 2, err);
    else if (strcmp(argv[1], "cox") == 0)
        rc = cmd_cox(argv + 2, argc - 2, err);
    else if (strcmp(argv[1], "floor-rtt") == 0)
        rc = cmd_floor_rtt(argv + 2, argc - 2, err);
    else if (strcmp(argv[1], "floor-sign") == 0 || strcmp(argv[1], "floor-verify") == 0)
        rc = cmd_floor_sig(argv + 2, argc - 2, strcmp(argv[1], "floor-verify") == 0, err);
    else if (strcmp(argv[1], "floor-scan") == 0)
        rc = cmd_floor_scan(argv + 2, argc - 2, err);
    else if (strcmp(argv[1], "mask") == 0)
        rc = cmd_mask(argv + 2, argc - 2, err);
    else
        rc = errf(err, "unknown benchmark '%s' (query, verify, scan, cox, floor-rtt, "
            "floor-sign, floor-verify, floor-scan, mask)", argv[1]);
    if (rc != 0) {
        fprintf(stderr, "fedra-bench: %s\n", err);
        return 1;
    }
    return 0;
}
