/*
 * status - see status.h.
 */
#include "node/status.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certs/pki.h"
#include "lib/util.h"
#include "node/audit.h"
#include "node/config.h"
#include "node/store.h"

static json_t *
jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

int
status_write(const char *path, const struct status_state *s, char *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "pid", json_integer(s->pid));
    json_object_set_new(o, "started_at_ms", json_integer(s->started_at_ms));
    json_object_set_new(o, "stopped_at_ms", json_integer(s->stopped_at_ms));
    json_object_set_new(o, "name", jstr(s->name));
    json_object_set_new(o, "endpoint", jstr(s->endpoint));
    json_object_set_new(o, "version", jstr(s->version));
    json_object_set_new(o, "crl_number", json_integer(s->crl_number));
    json_object_set_new(o, "crl_next_update", json_integer(s->crl_next_update));
    json_object_set_new(o, "crl_installed_at_ms", json_integer(s->crl_installed_at_ms));
    json_object_set_new(o, "crl_url", jstr(s->crl_url));
    json_object_set_new(o, "crl_refresh_s", json_integer(s->crl_refresh_s));
    json_object_set_new(o, "fetch_at_ms", json_integer(s->fetch_at_ms));
    json_object_set_new(o, "fetch_ok_at_ms", json_integer(s->fetch_ok_at_ms));
    json_object_set_new(o, "fetch_result", jstr(s->fetch_result));
    if (s->hub != NULL) {
        const struct hublink_info *h = s->hub;
        json_t *jh = json_object();
        json_object_set_new(jh, "endpoint", jstr(h->endpoint));
        json_object_set_new(jh, "socks_proxy", jstr(h->socks_proxy));
        json_object_set_new(jh, "state", json_string(h->state_name));
        json_object_set_new(jh, "reason", jstr(h->reason));
        json_object_set_new(jh, "since_ms", json_integer(h->since_ms));
        json_object_set_new(jh, "welcome_ms", json_integer(h->welcome_ms));
        json_object_set_new(jh, "hub_name", jstr(h->hub_name));
        json_object_set_new(jh, "hub_not_after", json_integer(h->hub_not_after));
        json_object_set_new(jh, "forwarded", json_integer((json_int_t)h->forwarded));
        json_object_set_new(jh, "unreadable", json_integer((json_int_t)h->unreadable));
        json_object_set_new(jh, "dropped", json_integer((json_int_t)h->dropped));
        json_object_set_new(o, "hub", jh);
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (text == NULL)
        return errf(err, "cannot encode the status");
    int rc = util_write_file(path, text, strlen(text), 0640, err);
    free(text);
    return rc;
}

/* ---- the report ---- */

static void
iso(int64_t unix_s, char out[PKI_TIME_LEN])
{
    if (unix_s <= 0)
        snprintf(out, PKI_TIME_LEN, "never");
    else
        pki_format_time(unix_s, out);
}

/* "3d 04:05:06" or "-1d ..." style spans for the text output. */
static void
span(int64_t s, char out[48])
{
    const char *sign = s < 0 ? "-" : "";
    if (s < 0)
        s = -s;
    snprintf(out, 48, "%s%lldd %02lld:%02lld:%02lld", sign, (long long)(s / 86400),
        (long long)(s % 86400 / 3600), (long long)(s % 3600 / 60), (long long)(s % 60));
}

static int64_t
jint(const json_t *o, const char *k, int64_t dflt)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static const char *
jtext(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * Is pid a live fedra-node?  A pid can be reused after a crash, so the
 * process name is checked where /proc shows it; EPERM from kill() means the
 * process exists under another user (the service's), which is alive.
 */
static int
node_alive(int64_t pid)
{
    if (pid <= 1 || pid > INT32_MAX)
        return 0;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%lld/comm", (long long)pid);
    uint8_t *comm = NULL;
    size_t n = 0;
    if (util_read_file(path, 256, &comm, &n, NULL) != 0)
        return 1;                   /* no /proc (or hidden): trust kill() */
    int ok = strncmp((char *)comm, "fedra-node", 10) == 0;
    free(comm);
    return ok;
}

/*
 * One report being built: the config and the clock it is read against, the
 * running node's state file, and the two answers (JSON and text) with the
 * problems found so far.  Each report_* function adds one section to both.
 */
struct report {
    struct node_config cfg;
    int64_t now_ms, now;            /* one clock reading for the whole report */
    json_t *st;                     /* the node's state file, or NULL */
    int running;                    /* the state file names a live fedra-node */
    int64_t pid, started_ms;        /* from the state file (0 if none) */
    json_t *root;                   /* the JSON answer, sections in output order */
    json_t *problems;               /* strings, in the order found */
    struct buf txt;                 /* the text answer without its problem lines */
};

static void
problem(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(struct report *r, const char *fmt, ...)
{
    char line[FEDRA_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    json_array_append_new(r->problems, json_string(line));
}

/* The running node's state file, if there is one (a broken one is a problem). */
static void
read_state(struct report *r)
{
    char err[FEDRA_ERRLEN];
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    if (util_read_file(r->cfg.status_file, STATUS_MAX_FILE, &raw, &rawlen, err) != 0)
        return;
    json_error_t je;
    r->st = json_loadb((const char *)raw, rawlen, 0, &je);
    free(raw);
    if (!json_is_object(r->st)) {
        json_decref(r->st);
        r->st = NULL;
        problem(r, "state file '%s' is not valid JSON: %s", r->cfg.status_file, je.text);
    }
}

/* node: whether it runs, its pid, name, endpoint, version and uptime. */
static void
report_node(struct report *r)
{
    char t1[PKI_TIME_LEN], s1[48];
    json_t *st = r->st;
    r->pid = st ? jint(st, "pid", 0) : 0;
    r->started_ms = st ? jint(st, "started_at_ms", 0) : 0;
    r->running = st && jint(st, "stopped_at_ms", 0) == 0 && node_alive(r->pid);
    int64_t started = r->started_ms;
    json_t *jn = json_object();
    json_object_set_new(jn, "running", json_boolean(r->running));
    json_object_set_new(jn, "pid", r->running ? json_integer(r->pid) : json_null());
    json_object_set_new(jn, "name", jstr(st ? jtext(st, "name") : NULL));
    json_object_set_new(jn, "endpoint", jstr(r->running ? jtext(st, "endpoint") : NULL));
    json_object_set_new(jn, "version", jstr(st ? jtext(st, "version") : NULL));
    json_object_set_new(jn, "started_at", started > 0 ? (iso(started / 1000, t1),
        json_string(t1)) : json_null());
    json_object_set_new(jn, "uptime_s", r->running ? json_integer((r->now_ms - started) / 1000)
        : json_null());
    json_object_set_new(jn, "state_file", json_string(r->cfg.status_file));
    json_object_set_new(r->root, "node", jn);
    if (r->running) {
        iso(started / 1000, t1);
        span((r->now_ms - started) / 1000, s1);
        buf_printf(&r->txt, "node:        %s running, pid %lld, up %s (since %s), on %s\n",
            jtext(st, "name") ? jtext(st, "name") : "?", (long long)r->pid, s1, t1,
            jtext(st, "endpoint") ? jtext(st, "endpoint") : "no listening socket");
    } else if (st != NULL) {
        int64_t stopped = jint(st, "stopped_at_ms", 0);
        iso((stopped ? stopped : started) / 1000, t1);
        buf_printf(&r->txt, "node:        not running (%s %s)\n", stopped ? "stopped at" :
            "started at", t1);
        problem(r, stopped ? "the node is not running (stopped at %s)" :
            "the node is not running (it started at %s and did not stop cleanly)", t1);
    } else {
        buf_printf(&r->txt, "node:        not running (no state file %s)\n",
            r->cfg.status_file);
        problem(r, "the node is not running (it has never started with this store)");
    }
}

/* data: the snapshot's rows, hash and import time. */
static void
report_data(struct report *r, const struct store_meta *m)
{
    char t1[PKI_TIME_LEN];
    json_t *jd = json_object();
    json_object_set_new(jd, "rows", json_integer((json_int_t)m->rows));
    json_object_set_new(jd, "hash", json_string(m->hash));
    iso(m->imported_at_ms / 1000, t1);
    json_object_set_new(jd, "imported_at", m->imported_at_ms > 0 ? json_string(t1)
        : json_null());
    json_object_set_new(r->root, "data", jd);
    buf_printf(&r->txt, "data:        %llu rows, hash %.16s, imported %s\n",
        (unsigned long long)m->rows, m->hash[0] ? m->hash : "-", t1);
    if (m->rows == 0)
        problem(r, "the store holds no records (run fedra-node import)");
}

/* queries: answered and refused, in all and since the running node started (audit log). */
static void
report_queries(struct report *r, struct store *s)
{
    char err[FEDRA_ERRLEN];
    uint64_t a_all, r_all, a_run = 0, r_run = 0;
    if (audit_counts(store_db(s), 0, &a_all, &r_all, err) != 0 ||
        (r->running && audit_counts(store_db(s), r->started_ms, &a_run, &r_run, err) != 0)) {
        problem(r, "%s", err);
        return;
    }
    json_t *jq = json_object();
    json_object_set_new(jq, "answered", json_integer((json_int_t)a_all));
    json_object_set_new(jq, "refused", json_integer((json_int_t)r_all));
    json_object_set_new(jq, "answered_since_start", r->running ?
        json_integer((json_int_t)a_run) : json_null());
    json_object_set_new(jq, "refused_since_start", r->running ?
        json_integer((json_int_t)r_run) : json_null());
    json_object_set_new(r->root, "queries", jq);
    if (r->running)
        buf_printf(&r->txt, "queries:     %llu answered, %llu refused since start; ",
            (unsigned long long)a_run, (unsigned long long)r_run);
    else
        buf_printf(&r->txt, "queries:     ");
    buf_printf(&r->txt, "%llu answered, %llu refused in all (audit log)\n",
        (unsigned long long)a_all, (unsigned long long)r_all);
}

/* data and queries from the store, opened read-only; -1 (err set) if it cannot be read. */
static int
report_store(struct report *r, char *err)
{
    struct store *s = NULL;
    struct store_meta m;
    if (store_open(r->cfg.db, 1, &s, err) != 0 || store_meta_get(s, &m, err) != 0) {
        store_free(s);
        return -1;
    }
    report_data(r, &m);
    report_queries(r, s);
    store_free(s);
    return 0;
}

/* certificate: the node's own, its expiry and days left. */
static void
report_cert(struct report *r)
{
    char err[FEDRA_ERRLEN], t1[PKI_TIME_LEN];
    struct pki_cert *c = NULL;
    json_t *jc = json_object();
    json_object_set_new(jc, "path", json_string(r->cfg.cert));
    if (pki_cert_load(r->cfg.cert, &c, err) == 0) {
        int64_t na = pki_cert_not_after(c), left = na - r->now;
        iso(na, t1);
        json_object_set_new(jc, "not_after", json_string(t1));
        json_object_set_new(jc, "days_left", json_integer(left >= 0 ? left / 86400
            : -((-left + 86399) / 86400)));
        buf_printf(&r->txt, "certificate: %s, expires %s (%lld days left)\n", r->cfg.cert, t1,
            (long long)(left / 86400));
        if (left <= 0)
            problem(r, "the node certificate expired at %s (fedra-cert issue --role node)", t1);
        else if (left < (int64_t)STATUS_CERT_WARN_DAYS * 86400)
            problem(r, "the node certificate expires in %lld days, at %s",
                (long long)(left / 86400), t1);
        pki_cert_free(c);
    } else {
        json_object_set_new(jc, "error", json_string(err));
        buf_printf(&r->txt, "certificate: %s\n", err);
        problem(r, "%s", err);
    }
    json_object_set_new(r->root, "certificate", jc);
}

/* crl: the CRL file (number, age, nextUpdate) and the number the running node holds. */
static void
report_crl(struct report *r)
{
    char err[FEDRA_ERRLEN], t1[PKI_TIME_LEN], t2[PKI_TIME_LEN], s1[48];
    struct pki_trust *t = NULL;
    int64_t now = r->now;
    json_t *jl = json_object();
    json_object_set_new(jl, "path", json_string(r->cfg.crl));
    if (pki_trust_load(r->cfg.ca_cert, r->cfg.crl, 1, &t, err) == 0) {
        int64_t num = pki_trust_crl_number(t), lu = pki_trust_crl_last_update(t),
                nu = pki_trust_crl_next_update(t);
        json_object_set_new(jl, "number", json_integer(num));
        iso(lu, t1);
        json_object_set_new(jl, "last_update", json_string(t1));
        json_object_set_new(jl, "age_s", json_integer(now - lu));
        iso(nu, t2);
        json_object_set_new(jl, "next_update", nu > 0 ? json_string(t2) : json_null());
        json_object_set_new(jl, "seconds_left", nu > 0 ? json_integer(nu - now) : json_null());
        json_object_set_new(jl, "expired", json_boolean(nu > 0 && nu <= now));
        span(now - lu, s1);
        buf_printf(&r->txt, "CRL:         number %lld, issued %s (age %s), next update %s",
            (long long)num, t1, s1, t2);
        if (nu > 0 && nu <= now) {
            buf_printf(&r->txt, " (EXPIRED: every query is refused)\n");
            problem(r, "the CRL expired at %s: every query is refused until a new one is "
                "installed", t2);
        } else {
            span(nu - now, s1);
            buf_printf(&r->txt, " (in %s)\n", s1);
        }
        pki_trust_free(t);
    } else {
        json_object_set_new(jl, "error", json_string(err));
        buf_printf(&r->txt, "CRL:         %s\n", err);
        problem(r, "%s", err);
    }
    if (r->running) {
        int64_t held = jint(r->st, "crl_number", -1);
        json_object_set_new(jl, "held_by_node", json_integer(held));
        buf_printf(&r->txt, "             the running node holds CRL number %lld\n",
            (long long)held);
    }
    json_object_set_new(r->root, "crl", jl);
}

/* crl_fetch (only with crl_url): the URL, the interval and the last fetch. */
static void
report_crl_fetch(struct report *r)
{
    char t1[PKI_TIME_LEN], t2[PKI_TIME_LEN];
    if (r->cfg.crl_url == NULL)
        return;
    json_t *st = r->st, *jf = json_object();
    json_object_set_new(jf, "url", json_string(r->cfg.crl_url));
    json_object_set_new(jf, "refresh_s", json_integer(r->cfg.crl_refresh_s));
    int64_t at = st ? jint(st, "fetch_at_ms", 0) : 0, okat = st ? jint(st, "fetch_ok_at_ms", 0) : 0;
    const char *res = st ? jtext(st, "fetch_result") : NULL;
    iso(at / 1000, t1);
    iso(okat / 1000, t2);
    json_object_set_new(jf, "last_attempt", at > 0 ? json_string(t1) : json_null());
    json_object_set_new(jf, "last_success", okat > 0 ? json_string(t2) : json_null());
    json_object_set_new(jf, "last_result", jstr(res));
    json_object_set_new(r->root, "crl_fetch", jf);
    buf_printf(&r->txt, "CRL fetch:   %s every %u s; last %s: %s; last verified %s\n",
        r->cfg.crl_url, r->cfg.crl_refresh_s, t1, res ? res : "-", t2);
}

/*
 * hub (only with hub): the endpoint, the proxy and the hub certificate from
 * the config; the link's state, since when, and the last welcome from the
 * running node.  A running node whose link is not up is a problem: it
 * answers nothing that comes through the hub.
 */
static void
report_hub(struct report *r)
{
    char err[FEDRA_ERRLEN], t1[PKI_TIME_LEN], t2[PKI_TIME_LEN], t3[PKI_TIME_LEN];
    if (r->cfg.hub == NULL)
        return;
    json_t *jh = json_object();
    json_object_set_new(jh, "endpoint", json_string(r->cfg.hub));
    json_object_set_new(jh, "socks_proxy", jstr(r->cfg.socks_proxy));
    json_object_set_new(jh, "hub_cert", json_string(r->cfg.hub_cert));
    buf_printf(&r->txt, "hub:         %s%s%s\n", r->cfg.hub,
        r->cfg.socks_proxy ? " through SOCKS5 proxy " : "",
        r->cfg.socks_proxy ? r->cfg.socks_proxy : "");
    struct pki_cert *c = NULL;
    if (pki_cert_load(r->cfg.hub_cert, &c, err) == 0) {
        int64_t na = pki_cert_not_after(c);
        iso(na, t1);
        json_object_set_new(jh, "hub_name", jstr(pki_cert_name(c)));
        json_object_set_new(jh, "hub_cert_not_after", json_string(t1));
        buf_printf(&r->txt, "             hub '%s', certificate %s expires %s\n",
            pki_cert_name(c) ? pki_cert_name(c) : "?", r->cfg.hub_cert, t1);
        if (na <= r->now)
            problem(r, "the hub certificate %s expired at %s: no link to the hub",
                r->cfg.hub_cert, t1);
        pki_cert_free(c);
    } else {
        json_object_set_new(jh, "error", json_string(err));
        buf_printf(&r->txt, "             %s\n", err);
        problem(r, "hub_cert: %s", err);
    }
    const json_t *h = r->running ? json_object_get(r->st, "hub") : NULL;
    if (json_is_object(h)) {
        const char *state = jtext(h, "state"), *why = jtext(h, "reason");
        int64_t since = jint(h, "since_ms", 0), wel = jint(h, "welcome_ms", 0);
        iso(since / 1000, t2);
        iso(wel / 1000, t3);
        json_object_set_new(jh, "state", jstr(state));
        json_object_set_new(jh, "reason", jstr(why && why[0] ? why : NULL));
        json_object_set_new(jh, "since", since > 0 ? json_string(t2) : json_null());
        json_object_set_new(jh, "last_welcome", wel > 0 ? json_string(t3) : json_null());
        json_object_set_new(jh, "forwarded", json_integer(jint(h, "forwarded", 0)));
        json_object_set_new(jh, "unreadable", json_integer(jint(h, "unreadable", 0)));
        json_object_set_new(jh, "dropped", json_integer(jint(h, "dropped", 0)));
        buf_printf(&r->txt, "hub link:    %s since %s, last welcome %s%s%s\n",
            state ? state : "?", t2, t3, why && why[0] ? ": " : "", why && why[0] ? why : "");
        buf_printf(&r->txt, "             %lld forwarded, %lld unreadable, %lld frames dropped "
            "since start\n", (long long)jint(h, "forwarded", 0),
            (long long)jint(h, "unreadable", 0), (long long)jint(h, "dropped", 0));
        if (state == NULL || strcmp(state, "up") != 0)
            problem(r, "the hub link is not up (%s)%s%s: queries through the hub are not "
                "answered", state ? state : "unknown state", why && why[0] ? ": " : "",
                why && why[0] ? why : "");
    } else {
        json_object_set_new(jh, "state", r->running ? json_string("unknown") : json_null());
        if (r->running)
            buf_printf(&r->txt, "hub link:    the running node reports no hub link\n");
        if (r->running)
            problem(r, "the running node reports no hub link (started before hub was set? "
                "restart it)");
    }
    json_object_set_new(r->root, "hub", jh);
}

/* The answer as JSON, or as text with one line per problem (or the ok line). */
static void
print_report(struct report *r, int json, FILE *out)
{
    size_t np = json_array_size(r->problems);
    json_object_set_new(r->root, "ok", json_boolean(np == 0));
    json_object_set(r->root, "problems", r->problems);
    if (json) {
        json_dumpf(r->root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        return;
    }
    fputs(r->txt.len ? (char *)r->txt.p : "", out);
    for (size_t i = 0; i < np; i++)
        fprintf(out, "problem:     %s\n", json_string_value(json_array_get(r->problems, i)));
    if (np == 0)
        fputs("ok:          the node is running and can answer queries\n", out);
}

static void
report_release(struct report *r)
{
    json_decref(r->problems);
    json_decref(r->root);
    json_decref(r->st);
    buf_release(&r->txt);
    config_release(&r->cfg);
}

int
status_report(const char *config_path, int json, FILE *out, FILE *errout)
{
    char err[FEDRA_ERRLEN];
    struct report r = {0};
    if (config_load(config_path, &r.cfg, err) != 0) {
        fprintf(errout, "fedra-node status: %s\n", err);
        config_release(&r.cfg);
        return 1;
    }
    r.now_ms = util_now_ms();
    r.now = r.now_ms / 1000;
    r.problems = json_array();
    r.root = json_object();
    read_state(&r);
    report_node(&r);
    if (report_store(&r, err) != 0) {
        fprintf(errout, "fedra-node status: %s\n", err);
        report_release(&r);
        return 1;
    }
    report_cert(&r);
    report_crl(&r);
    report_crl_fetch(&r);
    report_hub(&r);
    print_report(&r, json, out);
    int rc = json_array_size(r.problems) == 0 ? 0 : 3;
    report_release(&r);
    return rc;
}
