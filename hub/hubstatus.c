/*
 * hubstatus - see hubstatus.h.
 */
#include "hub/hubstatus.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certs/pki.h"
#include "hub/hubconf.h"
#include "hub/relaylog.h"
#include "lib/util.h"

static json_t *
str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static void
put_counters(json_t *o, const struct relay_counters *c, size_t inflight, size_t replay)
{
    const struct {
        const char *k;
        uint64_t v;
    } f[] = {
        {"routes", c->routes}, {"forwards", c->forwards}, {"answers", c->answers},
        {"timeouts", c->timeouts}, {"busy", c->busy}, {"offline", c->offline},
        {"unknown", c->unknown}, {"unreadable", c->unreadable}, {"refused", c->refused},
        {"hellos_refused", c->hellos_refused}, {"junk_dropped", c->junk},
        {"stray_answers", c->stray}, {"undelivered", c->undelivered},
        {"analysts", c->analysts}, {"inflight", inflight}, {"replay_held", replay},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        json_object_set_new(o, f[i].k, json_integer((json_int_t)f[i].v));
}

int
hubstatus_write(const char *path, const struct hubstatus_state *s, const struct relay *r,
    char *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "pid", json_integer(s->pid));
    json_object_set_new(o, "started_at_ms", json_integer(s->started_at_ms));
    json_object_set_new(o, "stopped_at_ms", json_integer(s->stopped_at_ms));
    json_object_set_new(o, "name", str_or_null(s->name));
    json_object_set_new(o, "endpoint", str_or_null(s->endpoint));
    json_object_set_new(o, "version", str_or_null(s->version));
    json_object_set_new(o, "crl_number", json_integer(s->crl_number));
    json_object_set_new(o, "crl_next_update", json_integer(s->crl_next_update));
    json_object_set_new(o, "crl_installed_at_ms", json_integer(s->crl_installed_at_ms));
    json_object_set_new(o, "crl_url", str_or_null(s->crl_url));
    json_object_set_new(o, "fetch_at_ms", json_integer(s->fetch_at_ms));
    json_object_set_new(o, "fetch_ok_at_ms", json_integer(s->fetch_ok_at_ms));
    json_object_set_new(o, "fetch_result", str_or_null(s->fetch_result));
    json_object_set_new(o, "closed", str_or_null(s->closed));
    if (r != NULL) {
        json_t *c = json_object(), *nodes = json_array(), *an = json_array();
        put_counters(c, relay_counters(r), relay_inflight(r), relay_replay_held(r));
        json_object_set_new(o, "counters", c);
        for (size_t i = 0; i < relay_node_count(r); i++) {
            struct relay_node_info ni;
            relay_node_get(r, i, &ni);
            json_t *n = json_object();
            json_object_set_new(n, "name", json_string(ni.name));
            json_object_set_new(n, "live", json_boolean(ni.live));
            json_object_set_new(n, "since_ms", json_integer(ni.since_ms));
            json_object_set_new(n, "last_hello_ms", json_integer(ni.last_hello_ms));
            json_object_set_new(n, "inflight", json_integer(ni.inflight));
            json_object_set_new(n, "answered", json_integer((json_int_t)ni.answered));
            json_array_append_new(nodes, n);
        }
        json_object_set_new(o, "nodes", nodes);
        for (size_t i = 0; i < relay_analyst_count(r); i++)
            json_array_append_new(an, json_string(relay_analyst_name(r, i)));
        json_object_set_new(o, "analysts", an);
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL)
        return errf(err, "cannot encode the state");
    int rc = util_write_file(path, text, strlen(text), 0640, err);
    free(text);
    return rc;
}

/* ---- the report ---- */

/*
 * One report: the config, one clock reading, the hub's state file, and the
 * answer in both forms (JSON, text) with the problems found.
 */
struct report {
    struct hubconf cfg;
    int64_t now_ms;
    json_t *st;                     /* the state file, or NULL */
    int running;
    json_t *root, *problems;
    struct buf txt;
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

static int64_t
st_int(const json_t *o, const char *k, int64_t dflt)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static const char *
st_text(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void
when(int64_t ms, char out[PKI_TIME_LEN])
{
    if (ms <= 0)
        snprintf(out, PKI_TIME_LEN, "never");
    else
        pki_format_time(ms / 1000, out);
}

/*
 * A live hub with this pid: a pid can be reused after a crash, so the
 * command line must run a program named fedra-*hub* (fedra-hub, or the
 * test-only fedra-tamperhub; under valgrind it is an argument, not the
 * process name).  EPERM from kill() means it runs as another user.
 */
static int
hub_alive(int64_t pid)
{
    if (pid <= 1 || pid > INT32_MAX)
        return 0;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%lld/cmdline", (long long)pid);
    uint8_t *cmd = NULL;
    size_t n = 0;
    if (util_read_file(path, HUBSTATUS_MAX_CMDLINE, &cmd, &n, NULL) != 0)
        return 1;                   /* no /proc (or hidden): trust kill() */
    int ok = 0;
    for (size_t i = 0; i < n && !ok; i += strlen((char *)cmd + i) + 1) {
        const char *arg = (char *)cmd + i, *base = strrchr(arg, '/');
        base = base ? base + 1 : arg;
        ok = strncmp(base, "fedra-", 6) == 0 && strstr(base, "hub") != NULL;
    }
    free(cmd);
    return ok;
}

static void
report_hub(struct report *r)
{
    char err[FEDRA_ERRLEN], t1[PKI_TIME_LEN];
    uint8_t *raw = NULL;
    size_t len = 0;
    if (util_read_file(r->cfg.state, HUBSTATUS_MAX_FILE, &raw, &len, err) == 0) {
        json_error_t je;
        r->st = json_loadb((const char *)raw, len, 0, &je);
        free(raw);
        if (!json_is_object(r->st)) {
            json_decref(r->st);
            r->st = NULL;
            problem(r, "state file '%s' is not valid JSON: %s", r->cfg.state, je.text);
        }
    }
    const json_t *st = r->st;
    int64_t pid = st ? st_int(st, "pid", 0) : 0, started = st ? st_int(st, "started_at_ms", 0) : 0;
    r->running = st && st_int(st, "stopped_at_ms", 0) == 0 && hub_alive(pid);
    const char *closed = r->running ? st_text(st, "closed") : NULL;
    json_t *jh = json_object();
    json_object_set_new(jh, "running", json_boolean(r->running));
    json_object_set_new(jh, "relaying", json_boolean(r->running && closed == NULL));
    json_object_set_new(jh, "closed", str_or_null(closed));
    json_object_set_new(jh, "pid", r->running ? json_integer(pid) : json_null());
    json_object_set_new(jh, "name", str_or_null(st ? st_text(st, "name") : NULL));
    json_object_set_new(jh, "endpoint", str_or_null(r->running ? st_text(st, "endpoint") : NULL));
    json_object_set_new(jh, "version", str_or_null(st ? st_text(st, "version") : NULL));
    when(started, t1);
    json_object_set_new(jh, "started_at", started > 0 ? json_string(t1) : json_null());
    json_object_set_new(jh, "uptime_s", r->running ? json_integer((r->now_ms - started) / 1000)
        : json_null());
    json_object_set_new(jh, "state_file", json_string(r->cfg.state));
    json_object_set_new(r->root, "hub", jh);
    if (r->running) {
        buf_printf(&r->txt, "hub:         %s running, pid %lld, up %lld s (since %s), on %s\n",
            st_text(st, "name") ? st_text(st, "name") : "?", (long long)pid,
            (long long)((r->now_ms - started) / 1000), t1,
            st_text(st, "endpoint") ? st_text(st, "endpoint") : "?");
        if (closed != NULL)
            problem(r, "the hub relays nothing: %s", closed);
    } else {
        buf_printf(&r->txt, "hub:         not running%s\n", st ? "" : " (no state file)");
        problem(r, "the hub is not running");
    }
}

static void
report_cert(struct report *r)
{
    char err[FEDRA_ERRLEN], t1[PKI_TIME_LEN];
    struct pki_cert *c = NULL;
    json_t *jc = json_object();
    json_object_set_new(jc, "path", json_string(r->cfg.cert));
    if (pki_cert_load(r->cfg.cert, &c, err) == 0) {
        int64_t na = pki_cert_not_after(c), left = na - r->now_ms / 1000;
        pki_format_time(na, t1);
        json_object_set_new(jc, "name", str_or_null(pki_cert_name(c)));
        json_object_set_new(jc, "role", json_string(pki_role_name(pki_cert_role(c))));
        json_object_set_new(jc, "not_after", json_string(t1));
        json_object_set_new(jc, "days_left", json_integer(left / 86400));
        buf_printf(&r->txt, "certificate: %s (role %s), expires %s (%lld days left)\n",
            r->cfg.cert, pki_role_name(pki_cert_role(c)), t1, (long long)(left / 86400));
        if (pki_cert_role(c) != PKI_ROLE_HUB)
            problem(r, "the certificate has role %s, not hub", pki_role_name(pki_cert_role(c)));
        if (left <= 0)
            problem(r, "the hub certificate expired at %s (fedra-cert issue --role hub)", t1);
        else if (left < (int64_t)HUBSTATUS_CERT_WARN_DAYS * 86400)
            problem(r, "the hub certificate expires in %lld days, at %s",
                (long long)(left / 86400), t1);
        pki_cert_free(c);
    } else {
        json_object_set_new(jc, "error", json_string(err));
        buf_printf(&r->txt, "certificate: %s\n", err);
        problem(r, "%s", err);
    }
    json_object_set_new(r->root, "certificate", jc);
}

static void
report_crl(struct report *r)
{
    char err[FEDRA_ERRLEN], t1[PKI_TIME_LEN];
    struct pki_trust *t = NULL;
    json_t *jl = json_object();
    json_object_set_new(jl, "path", json_string(r->cfg.crl));
    if (pki_trust_load(r->cfg.ca_cert, r->cfg.crl, 1, &t, err) == 0) {
        int64_t num = pki_trust_crl_number(t), nu = pki_trust_crl_next_update(t);
        int expired = nu > 0 && nu <= r->now_ms / 1000;
        pki_format_time(nu, t1);
        json_object_set_new(jl, "number", json_integer(num));
        json_object_set_new(jl, "next_update", nu > 0 ? json_string(t1) : json_null());
        json_object_set_new(jl, "expired", json_boolean(expired));
        buf_printf(&r->txt, "CRL:         number %lld, next update %s%s\n", (long long)num,
            nu > 0 ? t1 : "-", expired ? " (EXPIRED: the hub relays nothing)" : "");
        if (expired)
            problem(r, "the CRL expired at %s: the hub relays nothing until a new one is "
                "installed", t1);
        pki_trust_free(t);
    } else {
        json_object_set_new(jl, "error", json_string(err));
        buf_printf(&r->txt, "CRL:         %s\n", err);
        problem(r, "%s", err);
    }
    if (r->running) {
        json_object_set_new(jl, "held_by_hub", json_integer(st_int(r->st, "crl_number", -1)));
        buf_printf(&r->txt, "             the running hub holds CRL number %lld\n",
            (long long)st_int(r->st, "crl_number", -1));
    }
    if (r->cfg.crl_url != NULL) {
        const char *res = r->st ? st_text(r->st, "fetch_result") : NULL;
        when(r->st ? st_int(r->st, "fetch_at_ms", 0) : 0, t1);
        json_object_set_new(jl, "url", json_string(r->cfg.crl_url));
        json_object_set_new(jl, "last_fetch", json_string(t1));
        json_object_set_new(jl, "last_fetch_result", str_or_null(res));
        buf_printf(&r->txt, "CRL fetch:   %s every %u s; last %s: %s\n", r->cfg.crl_url,
            r->cfg.crl_refresh_s, t1, res ? res : "-");
    }
    json_object_set_new(r->root, "crl", jl);
}

/* nodes, analysts and counters: what the running hub last wrote. */
static void
report_relay(struct report *r)
{
    char t1[PKI_TIME_LEN], t2[PKI_TIME_LEN];
    json_t *nodes = r->st ? json_object_get(r->st, "nodes") : NULL;
    json_t *an = r->st ? json_object_get(r->st, "analysts") : NULL;
    json_t *cn = r->st ? json_object_get(r->st, "counters") : NULL;
    json_t *jn = json_array();
    size_t live = 0, i;
    json_t *n;
    json_array_foreach(nodes, i, n) {
        int is_live = r->running && json_is_true(json_object_get(n, "live"));
        live += is_live;
        json_t *o = json_object();
        json_object_set_new(o, "name", str_or_null(st_text(n, "name")));
        json_object_set_new(o, "connected", json_boolean(is_live));
        when(st_int(n, "since_ms", 0), t1);
        when(st_int(n, "last_hello_ms", 0), t2);
        json_object_set_new(o, "since", json_string(t1));
        json_object_set_new(o, "last_hello", json_string(t2));
        json_object_set_new(o, "inflight", json_integer(st_int(n, "inflight", 0)));
        json_object_set_new(o, "answered", json_integer(st_int(n, "answered", 0)));
        json_array_append_new(jn, o);
        buf_printf(&r->txt, "node:        %-20s %s since %s, last hello %s, %lld waiting, "
            "%lld answered\n", st_text(n, "name") ? st_text(n, "name") : "?",
            is_live ? "connected" : "offline  ", t1, t2, (long long)st_int(n, "inflight", 0),
            (long long)st_int(n, "answered", 0));
    }
    json_object_set_new(r->root, "nodes", jn);
    json_object_set_new(r->root, "nodes_connected", json_integer((json_int_t)live));
    json_object_set_new(r->root, "analysts", json_is_array(an) ? json_incref(an) : json_array());
    json_object_set_new(r->root, "counters", json_is_object(cn) ? json_incref(cn) : json_object());
    if (!json_is_object(cn))
        return;
    buf_printf(&r->txt, "nodes:       %zu connected of %zu known\n", live, json_array_size(nodes));
    buf_printf(&r->txt, "analysts:    %lld seen", (long long)st_int(cn, "analysts", 0));
    json_array_foreach(an, i, n)
        buf_printf(&r->txt, "%s%s", i ? ", " : ": ", json_string_value(n));
    buf_printf(&r->txt, "\nrelayed:     %lld routes, %lld forwards, %lld answers, %lld timeouts, "
        "%lld busy, %lld offline, %lld unknown, %lld unreadable\n",
        (long long)st_int(cn, "routes", 0), (long long)st_int(cn, "forwards", 0),
        (long long)st_int(cn, "answers", 0), (long long)st_int(cn, "timeouts", 0),
        (long long)st_int(cn, "busy", 0), (long long)st_int(cn, "offline", 0),
        (long long)st_int(cn, "unknown", 0), (long long)st_int(cn, "unreadable", 0));
    buf_printf(&r->txt, "dropped:     %lld routes refused, %lld hellos refused, %lld junk, "
        "%lld stray answers, %lld undelivered\n", (long long)st_int(cn, "refused", 0),
        (long long)st_int(cn, "hellos_refused", 0), (long long)st_int(cn, "junk_dropped", 0),
        (long long)st_int(cn, "stray_answers", 0), (long long)st_int(cn, "undelivered", 0));
}

static void
count_kind(const char *kind, uint64_t n, void *arg)
{
    json_object_set_new(arg, kind, json_integer((json_int_t)n));
}

/* The relay log's entries by kind (read-only; a missing log is a problem only if running). */
static void
report_log(struct report *r)
{
    char err[FEDRA_ERRLEN];
    struct relaylog *l = NULL;
    json_t *jl = json_object(), *kinds = json_object();
    json_object_set_new(jl, "path", json_string(r->cfg.log));
    if (relaylog_open(r->cfg.log, 1, &l, err) == 0 &&
        relaylog_counts(l, 0, count_kind, kinds, err) == 0) {
        buf_printf(&r->txt, "relay log:   %s:", r->cfg.log);
        const char *k;
        json_t *v;
        json_object_foreach(kinds, k, v)
            buf_printf(&r->txt, " %s %lld", k, (long long)json_integer_value(v));
        buf_puts(&r->txt, "\n");
    } else {
        json_object_set_new(jl, "error", json_string(err));
        buf_printf(&r->txt, "relay log:   %s\n", err);
        if (r->running)
            problem(r, "%s", err);
    }
    relaylog_close(l);
    json_object_set_new(jl, "entries", kinds);
    json_object_set_new(r->root, "relay_log", jl);
}

int
hubstatus_report(const char *config_path, int json, FILE *out, FILE *errout)
{
    char err[FEDRA_ERRLEN];
    struct report r;
    memset(&r, 0, sizeof r);
    if (hubconf_load(config_path, &r.cfg, err) != 0) {
        fprintf(errout, "fedra-hub status: %s\n", err);
        hubconf_release(&r.cfg);
        return 1;
    }
    r.now_ms = util_now_ms();
    r.root = json_object();
    r.problems = json_array();
    report_hub(&r);
    report_cert(&r);
    report_crl(&r);
    report_relay(&r);
    report_log(&r);
    size_t np = json_array_size(r.problems);
    json_object_set_new(r.root, "ok", json_boolean(np == 0));
    json_object_set(r.root, "problems", r.problems);
    if (json) {
        json_dumpf(r.root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
    } else {
        fputs(r.txt.len ? (char *)r.txt.p : "", out);
        for (size_t i = 0; i < np; i++)
            fprintf(out, "problem:     %s\n", json_string_value(json_array_get(r.problems, i)));
        if (np == 0)
            fputs("ok:          the hub is running and relaying\n", out);
    }
    int rc = np == 0 ? 0 : 3;
    json_decref(r.problems);
    json_decref(r.root);
    json_decref(r.st);
    buf_release(&r.txt);
    hubconf_release(&r.cfg);
    return rc;
}
