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

struct problems {
    json_t *list;
};

static void
problem(struct problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(struct problems *p, const char *fmt, ...)
{
    char line[FEDRA_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    json_array_append_new(p->list, json_string(line));
}

int
status_report(const char *config_path, int json, FILE *out, FILE *errout)
{
    char err[FEDRA_ERRLEN], t1[PKI_TIME_LEN], t2[PKI_TIME_LEN], s1[48];
    struct node_config cfg;
    if (config_load(config_path, &cfg, err) != 0) {
        fprintf(errout, "fedra-node status: %s\n", err);
        config_release(&cfg);
        return 1;
    }
    int64_t now_ms = util_now_ms(), now = now_ms / 1000;
    struct problems pr = {json_array()};
    json_t *root = json_object();
    struct buf txt = {0};

    /* The running node, from its state file. */
    json_t *st = NULL;
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    if (util_read_file(cfg.status_file, STATUS_MAX_FILE, &raw, &rawlen, err) == 0) {
        json_error_t je;
        st = json_loadb((const char *)raw, rawlen, 0, &je);
        free(raw);
        if (!json_is_object(st)) {
            json_decref(st);
            st = NULL;
            problem(&pr, "state file '%s' is not valid JSON: %s", cfg.status_file, je.text);
        }
    }
    int64_t pid = st ? jint(st, "pid", 0) : 0, started = st ? jint(st, "started_at_ms", 0) : 0;
    int running = st && jint(st, "stopped_at_ms", 0) == 0 && node_alive(pid);
    json_t *jn = json_object();
    json_object_set_new(jn, "running", json_boolean(running));
    json_object_set_new(jn, "pid", running ? json_integer(pid) : json_null());
    json_object_set_new(jn, "name", jstr(st ? jtext(st, "name") : NULL));
    json_object_set_new(jn, "endpoint", jstr(running ? jtext(st, "endpoint") : NULL));
    json_object_set_new(jn, "version", jstr(st ? jtext(st, "version") : NULL));
    json_object_set_new(jn, "started_at", started > 0 ? (iso(started / 1000, t1),
        json_string(t1)) : json_null());
    json_object_set_new(jn, "uptime_s", running ? json_integer((now_ms - started) / 1000)
        : json_null());
    json_object_set_new(jn, "state_file", json_string(cfg.status_file));
    json_object_set_new(root, "node", jn);
    if (running) {
        iso(started / 1000, t1);
        span((now_ms - started) / 1000, s1);
        buf_printf(&txt, "node:        %s running, pid %lld, up %s (since %s), on %s\n",
            jtext(st, "name") ? jtext(st, "name") : "?", (long long)pid, s1, t1,
            jtext(st, "endpoint") ? jtext(st, "endpoint") : "?");
    } else if (st != NULL) {
        int64_t stopped = jint(st, "stopped_at_ms", 0);
        iso((stopped ? stopped : started) / 1000, t1);
        buf_printf(&txt, "node:        not running (%s %s)\n", stopped ? "stopped at" :
            "started at", t1);
        problem(&pr, stopped ? "the node is not running (stopped at %s)" :
            "the node is not running (it started at %s and did not stop cleanly)", t1);
    } else {
        buf_printf(&txt, "node:        not running (no state file %s)\n", cfg.status_file);
        problem(&pr, "the node is not running (it has never started with this store)");
    }

    /* Data and queries, from the store. */
    struct store *s = NULL;
    struct store_meta m;
    int rc_store = store_open(cfg.db, 1, &s, err);
    if (rc_store == 0 && store_meta_get(s, &m, err) == 0) {
        json_t *jd = json_object();
        json_object_set_new(jd, "rows", json_integer((json_int_t)m.rows));
        json_object_set_new(jd, "hash", json_string(m.hash));
        iso(m.imported_at_ms / 1000, t1);
        json_object_set_new(jd, "imported_at", m.imported_at_ms > 0 ? json_string(t1)
            : json_null());
        json_object_set_new(root, "data", jd);
        buf_printf(&txt, "data:        %llu rows, hash %.16s, imported %s\n",
            (unsigned long long)m.rows, m.hash[0] ? m.hash : "-", t1);
        if (m.rows == 0)
            problem(&pr, "the store holds no records (run fedra-node import)");
        uint64_t a_all, r_all, a_run = 0, r_run = 0;
        if (audit_counts(store_db(s), 0, &a_all, &r_all, err) == 0 &&
            (!running || audit_counts(store_db(s), started, &a_run, &r_run, err) == 0)) {
            json_t *jq = json_object();
            json_object_set_new(jq, "answered", json_integer((json_int_t)a_all));
            json_object_set_new(jq, "refused", json_integer((json_int_t)r_all));
            json_object_set_new(jq, "answered_since_start", running ?
                json_integer((json_int_t)a_run) : json_null());
            json_object_set_new(jq, "refused_since_start", running ?
                json_integer((json_int_t)r_run) : json_null());
            json_object_set_new(root, "queries", jq);
            if (running)
                buf_printf(&txt, "queries:     %llu answered, %llu refused since start; ",
                    (unsigned long long)a_run, (unsigned long long)r_run);
            else
                buf_printf(&txt, "queries:     ");
            buf_printf(&txt, "%llu answered, %llu refused in all (audit log)\n",
                (unsigned long long)a_all, (unsigned long long)r_all);
        } else {
            problem(&pr, "%s", err);
        }
    } else {
        fprintf(errout, "fedra-node status: %s\n", err);
        store_free(s);
        json_decref(st);
        json_decref(root);
        json_decref(pr.list);
        buf_release(&txt);
        config_release(&cfg);
        return 1;
    }
    store_free(s);

    /* The node's certificate. */
    struct pki_cert *c = NULL;
    json_t *jc = json_object();
    json_object_set_new(jc, "path", json_string(cfg.cert));
    if (pki_cert_load(cfg.cert, &c, err) == 0) {
        int64_t na = pki_cert_not_after(c), left = na - now;
        iso(na, t1);
        json_object_set_new(jc, "not_after", json_string(t1));
        json_object_set_new(jc, "days_left", json_integer(left >= 0 ? left / 86400
            : -((-left + 86399) / 86400)));
        buf_printf(&txt, "certificate: %s, expires %s (%lld days left)\n", cfg.cert, t1,
            (long long)(left / 86400));
        if (left <= 0)
            problem(&pr, "the node certificate expired at %s (fedra-cert issue --role node)", t1);
        else if (left < (int64_t)STATUS_CERT_WARN_DAYS * 86400)
            problem(&pr, "the node certificate expires in %lld days, at %s",
                (long long)(left / 86400), t1);
        pki_cert_free(c);
    } else {
        json_object_set_new(jc, "error", json_string(err));
        buf_printf(&txt, "certificate: %s\n", err);
        problem(&pr, "%s", err);
    }
    json_object_set_new(root, "certificate", jc);

    /* The CRL file, and what the running node holds. */
    struct pki_trust *t = NULL;
    json_t *jl = json_object();
    json_object_set_new(jl, "path", json_string(cfg.crl));
    if (pki_trust_load(cfg.ca_cert, cfg.crl, 1, &t, err) == 0) {
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
        buf_printf(&txt, "CRL:         number %lld, issued %s (age %s), next update %s", 
            (long long)num, t1, s1, t2);
        if (nu > 0 && nu <= now) {
            buf_printf(&txt, " (EXPIRED: every query is refused)\n");
            problem(&pr, "the CRL expired at %s: every query is refused until a new one is "
                "installed", t2);
        } else {
            span(nu - now, s1);
            buf_printf(&txt, " (in %s)\n", s1);
        }
        pki_trust_free(t);
    } else {
        json_object_set_new(jl, "error", json_string(err));
        buf_printf(&txt, "CRL:         %s\n", err);
        problem(&pr, "%s", err);
    }
    if (running) {
        int64_t held = jint(st, "crl_number", -1);
        json_object_set_new(jl, "held_by_node", json_integer(held));
        buf_printf(&txt, "             the running node holds CRL number %lld\n", (long long)held);
    }
    json_object_set_new(root, "crl", jl);
    if (cfg.crl_url != NULL) {
        json_t *jf = json_object();
        json_object_set_new(jf, "url", json_string(cfg.crl_url));
        json_object_set_new(jf, "refresh_s", json_integer(cfg.crl_refresh_s));
        int64_t at = st ? jint(st, "fetch_at_ms", 0) : 0, okat = st ? jint(st, "fetch_ok_at_ms", 0) : 0;
        const char *res = st ? jtext(st, "fetch_result") : NULL;
        iso(at / 1000, t1);
        iso(okat / 1000, t2);
        json_object_set_new(jf, "last_attempt", at > 0 ? json_string(t1) : json_null());
        json_object_set_new(jf, "last_success", okat > 0 ? json_string(t2) : json_null());
        json_object_set_new(jf, "last_result", jstr(res));
        json_object_set_new(root, "crl_fetch", jf);
        buf_printf(&txt, "CRL fetch:   %s every %u s; last %s: %s; last verified %s\n",
            cfg.crl_url, cfg.crl_refresh_s, t1, res ? res : "-", t2);
    }
    size_t np = json_array_size(pr.list);
    json_object_set_new(root, "ok", json_boolean(np == 0));
    json_object_set(root, "problems", pr.list);
    if (json) {
        json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
    } else {
        fputs(txt.len ? (char *)txt.p : "", out);
        for (size_t i = 0; i < np; i++)
            fprintf(out, "problem:     %s\n", json_string_value(json_array_get(pr.list, i)));
        if (np == 0)
            fputs("ok:          the node is running and can answer queries\n", out);
    }
    json_decref(pr.list);
    json_decref(root);
    json_decref(st);
    buf_release(&txt);
    config_release(&cfg);
    return np == 0 ? 0 : 3;
}
