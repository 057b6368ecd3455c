/*
 * test_config - the node configuration file (node/config.c) and the
 * "key = value" reader under it (lib/kv.c).
 *
 * Each test writes its config text to DIR/node.conf in a fresh temporary
 * directory and loads it.  Error messages are compared in full where the
 * module documents them ("FILE:LINE: key = 'value': reason"); every numeric
 * key is tried at both ends of its documented range and one past each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/kv.h"
#include "lib/util.h"
#include "node/config.h"

/* Six required keys, one per line (lines 1..6). */
#define REQUIRED \
    "db = store.db\n" \
    "listen = tcp://127.0.0.1:7001\n" \
    "cert = certs/DE.crt\n" \
    "key = /etc/fedra/DE.key\n" \
    "ca_cert = ../ca/ca.crt\n" \
    "crl = crl.pem\n"

struct fx {
    char dir[64];
    char path[128];                 /* DIR/node.conf */
    char err[FEDRA_ERRLEN];
    struct node_config c;
};

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_config.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/node.conf", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    config_release(&f->c);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int
load_n(struct fx *f, const char *text, size_t len)
{
    char err[FEDRA_ERRLEN] = "";
    if (util_write_file(f->path, text, len, 0644, err) != 0)
        fail_msg("write: %s", err);
    config_release(&f->c);
    f->err[0] = 0;
    return config_load(f->path, &f->c, f->err);
}

static int
load(struct fx *f, const char *text)
{
    return load_n(f, text, strlen(text));
}

/* Load REQUIRED plus one more line (line 7); expect rc and, if failing, err after "PATH:". */
static void
extra(struct fx *f, const char *line, int rc, const char *want)
{
    char text[512], full[FEDRA_ERRLEN];
    /* A required key given again replaces its REQUIRED line (a comment keeps the numbering). */
    static const char *const req[6] = {"db", "listen", "cert", "key", "ca_cert", "crl"};
    struct buf b = {0};
    const char *r = REQUIRED;
    for (size_t i = 0; i < 6; i++) {
        const char *nl = strchr(r, '\n');
        size_t kl = strlen(req[i]);
        if (strncmp(line, req[i], kl) == 0 && (line[kl] == ' ' || line[kl] == '='))
            buf_puts(&b, "# replaced\n");
        else
            buf_append(&b, r, (size_t)(nl - r) + 1);
        r = nl + 1;
    }
    snprintf(text, sizeof text, "%s%s\n", (char *)b.p, line);
    buf_release(&b);
    int got = load(f, text);
    if (got != rc)
        fail_msg("'%s': rc %d, expected %d (%s)", line, got, rc, f->err);
    if (want != NULL) {
        snprintf(full, sizeof full, "%s:%s", f->path, want);
        assert_string_equal(f->err, full);
    }
}

static char *
in_dir(const struct fx *f, const char *rel)
{
    struct buf b = {0};
    buf_printf(&b, "%s/%s", f->dir, rel);
    return buf_detach(&b);
}

static void
test_defaults_and_paths(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, REQUIRED), 0);
    assert_string_equal(f->c.path, f->path);
    char *db = in_dir(f, "store.db"), *cert = in_dir(f, "certs/DE.crt"),
         *ca = in_dir(f, "../ca/ca.crt"), *crl = in_dir(f, "crl.pem");
    assert_string_equal(f->c.db, db);
    assert_string_equal(f->c.cert, cert);
    assert_string_equal(f->c.key, "/etc/fedra/DE.key");     /* absolute: unchanged */
    assert_string_equal(f->c.ca_cert, ca);
    assert_string_equal(f->c.crl, crl);
    assert_string_equal(f->c.listen, "tcp://127.0.0.1:7001");
    free(db);
    free(cert);
    free(ca);
    free(crl);
    assert_int_equal(f->c.policy.min_cell, 5);
    assert_int_equal(f->c.policy.time_grid_days, 30);
    assert_int_equal(f->c.clock_skew_s, 120);
    assert_int_equal(f->c.max_seen, 100000);
}

static void
test_all_keys(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, REQUIRED "min_cell = 11\ntime_grid_days = 7\n"
        "clock_skew_seconds = 30\nreplay_cache_max = 5000\n"), 0);
    assert_int_equal(f->c.policy.min_cell, 11);
    assert_int_equal(f->c.policy.time_grid_days, 7);
    assert_int_equal(f->c.clock_skew_s, 30);
    assert_int_equal(f->c.max_seen, 5000);
}

static void
test_relative_to_bare_file(void **state)
{
    /* A config path with no directory part: relative paths stay relative (to the cwd). */
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(load(f, REQUIRED), 0);
    assert_int_equal(chdir(f->dir), 0);
    struct node_config c;
    int rc = config_load("node.conf", &c, err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    assert_string_equal(c.db, "store.db");
    assert_string_equal(c.ca_cert, "../ca/ca.crt");
    config_release(&c);
}

static void
test_min_cell(void **state)
{
    struct fx *f = *state;
    extra(f, "min_cell = 1", 0, NULL);
    assert_int_equal(f->c.policy.min_cell, 1);
    extra(f, "min_cell = 1000", 0, NULL);
    assert_int_equal(f->c.policy.min_cell, 1000);
    extra(f, "min_cell = 0", -1, "7: min_cell = '0': must be an integer from 1 to 1000");
    extra(f, "min_cell = 1001", -1, "7: min_cell = '1001': must be an integer from 1 to 1000");
    extra(f, "min_cell = -5", -1, "7: min_cell = '-5': must be an integer from 1 to 1000");
    extra(f, "min_cell = five", -1, "7: min_cell = 'five': must be an integer from 1 to 1000");
    extra(f, "min_cell = +5", -1, "7: min_cell = '+5': must be an integer from 1 to 1000");
    extra(f, "min_cell = 5 cells", -1,
        "7: min_cell = '5 cells': must be an integer from 1 to 1000");
    extra(f, "min_cell =", -1, "7: min_cell = '': must be an integer from 1 to 1000");
    extra(f, "min_cell = 99999999999999999999", -1,
        "7: min_cell = '99999999999999999999': must be an integer from 1 to 1000");
}

static void
test_time_grid(void **state)
{
    struct fx *f = *state;
    extra(f, "time_grid_days = 0", 0, NULL);
    assert_int_equal(f->c.policy.time_grid_days, 0);
    extra(f, "time_grid_days = 3660", 0, NULL);
    assert_int_equal(f->c.policy.time_grid_days, 3660);
    extra(f, "time_grid_days = 3661", -1,
        "7: time_grid_days = '3661': must be an integer from 0 (exact times) to 3660");
    extra(f, "time_grid_days = -1", -1,
        "7: time_grid_days = '-1': must be an integer from 0 (exact times) to 3660");
}

static void
test_clock_skew(void **state)
{
    struct fx *f = *state;
    extra(f, "clock_skew_seconds = 0", 0, NULL);
    assert_int_equal(f->c.clock_skew_s, 0);
    extra(f, "clock_skew_seconds = 3600", 0, NULL);
    assert_int_equal(f->c.clock_skew_s, 3600);
    extra(f, "clock_skew_seconds = 3601", -1,
        "7: clock_skew_seconds = '3601': must be an integer from 0 to 3600");
    extra(f, "clock_skew_seconds = 1m", -1,
        "7: clock_skew_seconds = '1m': must be an integer from 0 to 3600");
}

static void
test_replay_cache_max(void **state)
{
    struct fx *f = *state;
    extra(f, "replay_cache_max = 100", 0, NULL);
    assert_int_equal(f->c.max_seen, 100);
    extra(f, "replay_cache_max = 100000000", 0, NULL);
    assert_int_equal(f->c.max_seen, 100000000);
    extra(f, "replay_cache_max = 99", -1,
        "7: replay_cache_max = '99': must be an integer from 100 to 100000000");
    extra(f, "replay_cache_max = 100000001", -1,
        "7: replay_cache_max = '100000001': must be an integer from 100 to 100000000");
}

static void
test_listen(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "db = store.db\nlisten = ipc:///run/fedra.sock\ncert = c\n"
        "key = k\nca_cert = ca\ncrl = crl\n"), 0);
    assert_string_equal(f->c.listen, "ipc:///run/fedra.sock");
    /* A key given twice is refused: which of the two was meant is a guess. */
    assert_int_equal(load(f, REQUIRED "listen = ipc:///run/fedra.sock\n"), -1);
    assert_non_null(strstr(f->err, ":7: listen is given twice (each key once)"));
    extra(f, "listen = http://0.0.0.0:7001", -1, "7: listen = 'http://0.0.0.0:7001': "
        "must be a ZeroMQ endpoint such as tcp://0.0.0.0:7001");
    extra(f, "listen = 127.0.0.1:7001", -1, "7: listen = '127.0.0.1:7001': "
        "must be a ZeroMQ endpoint such as tcp://0.0.0.0:7001");
}

static void
test_duplicate_keys(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, REQUIRED "db = other.db\n"), -1);
    assert_non_null(strstr(f->err, ":7: db is given twice (each key once)"));
    assert_int_equal(load(f, REQUIRED "crl = other.pem\n"), -1);
    assert_non_null(strstr(f->err, ":7: crl is given twice (each key once)"));
    assert_int_equal(load(f, REQUIRED "min_cell = 5\n\nmin_cell = 6\n"), -1);
    assert_non_null(strstr(f->err, ":9: min_cell is given twice"));
}

static void
test_crl_url(void **state)
{
    struct fx *f = *state;
    /* Without crl_url nothing is fetched; the status file sits next to the store. */
    assert_int_equal(load(f, REQUIRED), 0);
    assert_null(f->c.crl_url);
    char *st = in_dir(f, "store.db.status");
    assert_string_equal(f->c.status_file, st);
    free(st);
    assert_int_equal(f->c.crl_refresh_s, 3600);
    assert_int_equal(f->c.crl_timeout_s, 30);
    extra(f, "crl_url = http://ca.example.org/crl.pem", 0, NULL);
    assert_string_equal(f->c.crl_url, "http://ca.example.org/crl.pem");
    extra(f, "crl_url = https://ca.example.org:8443/fed/crl.der", 0, NULL);
    static const char *const bad_scheme[] = {
        "file:///etc/passwd", "ftp://ca.example.org/crl.pem", "HTTP://ca/crl", "ca.example.org/crl",
        "gopher://x/", "dict://x/",
    };
    for (size_t i = 0; i < sizeof bad_scheme / sizeof bad_scheme[0]; i++) {
        char line[256], want[512];
        snprintf(line, sizeof line, "crl_url = %s", bad_scheme[i]);
        snprintf(want, sizeof want, "7: crl_url = '%s': must be an http:// or https:// URL "
            "(no other scheme is fetched)", bad_scheme[i]);
        extra(f, line, -1, want);
    }
    extra(f, "crl_url = http://", -1, "7: crl_url = 'http://': has no host");
    extra(f, "crl_url = https:///crl.pem", -1, "7: crl_url = 'https:///crl.pem': has no host");
    extra(f, "crl_url = http://ca/a b", -1, "7: crl_url = 'http://ca/a b': contains a space or "
        "a character that is not printable ASCII");
    extra(f, "crl_url =", -1, "7: crl_url has an empty value");
    /* CONFIG_MAX_URL characters are accepted, one more is not. */
    char text[4096];
    struct buf u = {0};
    buf_puts(&u, "http://ca.example.org/");
    while (u.len < CONFIG_MAX_URL)
        buf_puts(&u, "x");
    snprintf(text, sizeof text, REQUIRED "crl_url = %s\n", (char *)u.p);
    assert_int_equal(load(f, text), 0);
    assert_int_equal(strlen(f->c.crl_url), CONFIG_MAX_URL);
    buf_puts(&u, "x");
    snprintf(text, sizeof text, REQUIRED "crl_url = %s\n", (char *)u.p);
    assert_int_equal(load(f, text), -1);
    /* The message quotes the first 80 characters, so that the reason is not cut off. */
    char want[FEDRA_ERRLEN];
    snprintf(want, sizeof want, "%s:7: crl_url = '%.80s...': longer than 2048 characters",
        f->path, (char *)u.p);
    assert_string_equal(f->err, want);
    buf_release(&u);
}

/* Load REQUIRED + a crl_url + one more line (line 8). */
static int
with_url(struct fx *f, const char *line)
{
    char text[512];
    snprintf(text, sizeof text, REQUIRED "crl_url = http://127.0.0.1/crl.pem\n%s\n", line);
    return load(f, text);
}

static void
test_crl_refresh_and_timeout(void **state)
{
    struct fx *f = *state;
    assert_int_equal(with_url(f, "crl_refresh_seconds = 10\ncrl_fetch_timeout_seconds = 9"), 0);
    assert_int_equal(f->c.crl_refresh_s, 10);
    assert_int_equal(f->c.crl_timeout_s, 9);
    assert_int_equal(with_url(f, "crl_refresh_seconds = 604800\ncrl_fetch_timeout_seconds = 600"),
        0);
    assert_int_equal(f->c.crl_refresh_s, 604800);
    assert_int_equal(f->c.crl_timeout_s, 600);
    assert_int_equal(with_url(f, "crl_fetch_timeout_seconds = 1"), 0);
    assert_int_equal(f->c.crl_timeout_s, 1);
    assert_int_equal(with_url(f, "crl_refresh_seconds = 9"), -1);
    assert_non_null(strstr(f->err, ":8: crl_refresh_seconds = '9': must be an integer from 10 "
        "to 604800 (a week)"));
    assert_int_equal(with_url(f, "crl_refresh_seconds = 604801"), -1);
    assert_non_null(strstr(f->err, ":8: crl_refresh_seconds = '604801': must be"));
    assert_int_equal(with_url(f, "crl_fetch_timeout_seconds = 0"), -1);
    assert_non_null(strstr(f->err, ":8: crl_fetch_timeout_seconds = '0': must be an integer "
        "from 1 to 600"));
    assert_int_equal(with_url(f, "crl_fetch_timeout_seconds = 601"), -1);
    assert_non_null(strstr(f->err, ":8: crl_fetch_timeout_seconds = '601': must be"));
    /* A fetch that may outlast the interval between fetches is refused. */
    assert_int_equal(with_url(f, "crl_refresh_seconds = 60\ncrl_fetch_timeout_seconds = 60"), -1);
    assert_non_null(strstr(f->err, "crl_fetch_timeout_seconds (60) must be shorter than "
        "crl_refresh_seconds (60)"));
    /* Fetch settings without a URL are a mistake, not something to ignore. */
    extra(f, "crl_refresh_seconds = 60", -1, NULL);
    assert_non_null(strstr(f->err, "crl_refresh_seconds and crl_fetch_timeout_seconds need "
        "crl_url"));
    extra(f, "crl_fetch_timeout_seconds = 5", -1, NULL);
    assert_non_null(strstr(f->err, "need crl_url"));
}

static void
test_empty_path_values(void **state)
{
    struct fx *f = *state;
    extra(f, "db =", -1, "7: db has an empty value");
    extra(f, "cert =   ", -1, "7: cert has an empty value");
    extra(f, "key =", -1, "7: key has an empty value");
    extra(f, "ca_cert =", -1, "7: ca_cert has an empty value");
    extra(f, "crl =", -1, "7: crl has an empty value");
}

static void
test_unknown_key(void **state)
{
    struct fx *f = *state;
    char want[FEDRA_ERRLEN];
    assert_int_equal(load(f, "# node\n\ndb = x.db\nmincell = 5\n"), -1);
    /* The message names the file, line and key, then lists every key. */
    snprintf(want, sizeof want, "%s:4: unknown key 'mincell' (keys: db, listen, cert, key, ",
        f->path);
    assert_memory_equal(f->err, want, strlen(want));
    assert_non_null(strstr(f->err, " min_cell,"));
    assert_non_null(strstr(f->err, " min_events_per_parameter,"));
    assert_non_null(strstr(f->err, " cert_warn_days,"));
    assert_non_null(strstr(f->err, " crl_fetch_timeout_seconds, durability)"));
    /* a model policy key out of range is refused with its bounds */
    assert_int_equal(load(f, "min_events_per_parameter = 0\n"), -1);
    assert_non_null(strstr(f->err, "min_events_per_parameter = '0': must be an integer from 1 "
        "to 1000"));
    /* Keys are case-sensitive. */
    assert_int_equal(load(f, "DB = x.db\n"), -1);
    assert_non_null(strstr(f->err, ":1: unknown key 'DB'"));
}

/* model_path_check: on by default; off only when asked (docs/node-config.md: tests only). */
static void
test_model_path_check(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, REQUIRED), 0);
    assert_int_equal(f->c.model_path_check, 1);
    extra(f, "model_path_check = off", 0, NULL);
    assert_int_equal(f->c.model_path_check, 0);
    extra(f, "model_path_check = on", 0, NULL);
    assert_int_equal(f->c.model_path_check, 1);
    extra(f, "model_path_check = no", -1, "7: model_path_check = 'no': must be on or off (off "
        "only to demonstrate attack 1 in tests)");
}

/* Pooled release: min_sites and pool_min_participants, defaults and both ends. */
static void
test_pooled_keys(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, REQUIRED), 0);
    assert_int_equal(f->c.min_sites, POOL_DEFAULT_MIN_SITES);
    assert_int_equal(f->c.pool_min_participants, POOL_MIN_PARTICIPANTS);
    extra(f, "min_sites = 1", 0, NULL);
    assert_int_equal(f->c.min_sites, 1);
    extra(f, "min_sites = 256", 0, NULL);
    assert_int_equal(f->c.min_sites, POOL_MAX_MIN_SITES);
    extra(f, "min_sites = 0", -1, "7: min_sites = '0': must be an integer from 1 to 256");
    extra(f, "min_sites = 257", -1, "7: min_sites = '257': must be an integer from 1 to 256");
    extra(f, "pool_min_participants = 2", 0, NULL);
    assert_int_equal(f->c.pool_min_participants, 2);
    extra(f, "pool_min_participants = 1", -1, "7: pool_min_participants = '1': must be an "
        "integer from 2 to 256 (lower than 3 only to test: disclosure.md §8.3)");
    extra(f, "pool_min_participants = 257", -1, "7: pool_min_participants = '257': must be an "
        "integer from 2 to 256 (lower than 3 only to test: disclosure.md §8.3)");
}

static void
test_durability(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, REQUIRED), 0);
    assert_int_equal(f->c.durability_normal, 0);            /* default: fsync per answer */
    extra(f, "durability = full", 0, NULL);
    assert_int_equal(f->c.durability_normal, 0);
    extra(f, "durability = normal", 0, NULL);
    assert_int_equal(f->c.durability_normal, 1);
    extra(f, "durability = fast", -1, "7: durability = 'fast': must be full (every answer's "
        "audit entry on disk before it is sent) or normal");
    extra(f, "durability = FULL", -1, NULL);                /* values are case-sensitive */
}

/* hub, hub_cert, socks_proxy: a node that dials out; listen becomes optional. */
static void
test_hub_keys(void **state)
{
    struct fx *f = *state;
    char *hc = in_dir(f, "hub/hub.crt");
    /* Both listen and hub (line 7: hub, line 8: hub_cert). */
    assert_int_equal(load(f, REQUIRED "hub = tcp://hub.example.org:7100\n"
        "hub_cert = hub/hub.crt\n"), 0);
    assert_string_equal(f->c.listen, "tcp://127.0.0.1:7001");
    assert_string_equal(f->c.hub, "tcp://hub.example.org:7100");
    assert_string_equal(f->c.hub_cert, hc);
    assert_null(f->c.socks_proxy);
    /* Without listen: hub alone is enough. */
    static const char nolisten[] = "db = store.db\ncert = c\nkey = k\nca_cert = ca\ncrl = l\n";
    assert_int_equal(load(f, "hub = ipc:///run/hub.sock\nhub_cert = hub/hub.crt\n"
        "socks_proxy = proxy.example.org:1080\n" /* lines 1..3 */ "db = store.db\n"
        "cert = c\nkey = k\nca_cert = ca\ncrl = l\n"), 0);
    assert_null(f->c.listen);
    assert_string_equal(f->c.hub, "ipc:///run/hub.sock");
    assert_string_equal(f->c.socks_proxy, "proxy.example.org:1080");
    /* Neither: the message names listen and says what hub is for. */
    assert_int_equal(load(f, nolisten), -1);
    assert_non_null(strstr(f->err, "missing required key 'listen' ("));
    assert_non_null(strstr(f->err, "hub = ENDPOINT and hub_cert = FILE"));
    /* hub and hub_cert come together; socks_proxy only with hub. */
    extra(f, "hub = tcp://h:1", -1, " hub needs hub_cert (the hub's certificate, from "
        "fedra-cert issue --role hub; its transport key is pinned)");
    extra(f, "hub_cert = h.crt", -1, " hub_cert needs hub (the endpoint of the hub it "
        "certifies)");
    extra(f, "socks_proxy = p:1080", -1, " socks_proxy needs hub (the proxy is only used to "
        "reach the hub)");
    /* Values, with file and line. */
    extra(f, "hub = hub.example.org:7100", -1, "7: hub = 'hub.example.org:7100': must be the "
        "hub's ZeroMQ endpoint, such as tcp://hub.example.org:7100");
    extra(f, "hub =", -1, "7: hub = '': must be the hub's ZeroMQ endpoint, such as "
        "tcp://hub.example.org:7100");
    extra(f, "hub_cert =", -1, "7: hub_cert has an empty value");
    extra(f, "socks_proxy =", -1, "7: socks_proxy has an empty value");
    static const char *const bad_socks[] = {"proxy", ":1080", "proxy:", "proxy:x",
        "socks5://proxy:1080", "user@proxy:1080", "pro xy:1080"};
    for (size_t i = 0; i < sizeof bad_socks / sizeof bad_socks[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "socks_proxy = %s", bad_socks[i]);
        extra(f, line, -1, NULL);
        assert_non_null(strstr(f->err, ":7: socks_proxy = '"));
    }
    /* The port at both ends of its range and one past each. */
    extra(f, "socks_proxy = p:0", -1, "7: socks_proxy = 'p:0': the port after the last ':' "
        "must be an integer from 1 to 65535");
    extra(f, "socks_proxy = p:65536", -1, "7: socks_proxy = 'p:65536': the port after the "
        "last ':' must be an integer from 1 to 65535");
    static const char hubs[] = "hub = tcp://h:1\nhub_cert = h.crt\n";
    for (int port = 1; port <= 65535; port += 65534) {
        char text[512];
        snprintf(text, sizeof text, REQUIRED "%ssocks_proxy = [::1]:%d\n", hubs, port);
        assert_int_equal(load(f, text), 0);
    }
    /* CONFIG_MAX_SOCKS characters, and one more. */
    struct buf b = {0};
    buf_printf(&b, REQUIRED "%ssocks_proxy = ", hubs);
    for (size_t i = 0; i < CONFIG_MAX_SOCKS - 5; i++)
        buf_puts(&b, "p");
    buf_puts(&b, ":1080\n");
    assert_int_equal(load(f, (char *)b.p), 0);
    assert_int_equal(strlen(f->c.socks_proxy), CONFIG_MAX_SOCKS);
    b.len -= 6;
    buf_puts(&b, "p:1080\n");
    assert_int_equal(load(f, (char *)b.p), -1);
    assert_non_null(strstr(f->err, "longer than 255 characters"));
    buf_release(&b);
    /* Each once. */
    assert_int_equal(load(f, REQUIRED "hub = tcp://h:1\nhub_cert = h\nhub = tcp://h:2\n"), -1);
    assert_non_null(strstr(f->err, ":9: hub is given twice (each key once)"));
    free(hc);
}

static void
test_missing_required(void **state)
{
    struct fx *f = *state;
    static const char *const keys[6] = {"db", "listen", "cert", "key", "ca_cert", "crl"};
    static const char *const lines[6] = {
        "db = store.db\n", "listen = tcp://127.0.0.1:7001\n", "cert = DE.crt\n",
        "key = DE.key\n", "ca_cert = ca.crt\n", "crl = crl.pem\n",
    };
    for (size_t skip = 0; skip < 6; skip++) {
        struct buf b = {0};
        char want[FEDRA_ERRLEN];
        for (size_t i = 0; i < 6; i++)
            if (i != skip)
                buf_puts(&b, lines[i]);
        char *text = buf_detach(&b);
        assert_int_equal(load(f, text), -1);
        free(text);
        snprintf(want, sizeof want, "%s: missing required key '%s' (", f->path, keys[skip]);
        if (strncmp(f->err, want, strlen(want)) != 0)
            fail_msg("skip %s: got '%s'", keys[skip], f->err);
    }
    /* An empty file names the first required key. */
    assert_int_equal(load(f, ""), -1);
    assert_non_null(strstr(f->err, "missing required key 'db'"));
}

static void
test_missing_file(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "", p[160];
    struct node_config c;
    snprintf(p, sizeof p, "%s/nope.conf", f->dir);
    assert_int_equal(config_load(p, &c, err), -1);
    assert_non_null(strstr(err, p));
    config_release(&c);
}

/* ---- kv syntax ---- */

static void
test_kv_comments_blank_crlf(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "# a comment\n\n   \n\t# indented comment\r\n"
        "  db   =   store.db  \r\n"
        "listen=tcp://127.0.0.1:7001\n"
        "cert = a.crt\nkey = /k\nca_cert = /c\ncrl = /r\n"
        "min_cell = 7\r\n"
        "# min_cell = 9\n"
        "time_grid_days = 14"), 0);               /* no final newline */
    char *db = in_dir(f, "store.db");
    assert_string_equal(f->c.db, db);
    free(db);
    assert_string_equal(f->c.listen, "tcp://127.0.0.1:7001");
    assert_int_equal(f->c.policy.min_cell, 7);
    assert_int_equal(f->c.policy.time_grid_days, 14);
}

static void
test_kv_equals_in_value(void **state)
{
    struct fx *f = *state;
    extra(f, "listen = ipc:///tmp/a=b==c", 0, NULL);
    assert_string_equal(f->c.listen, "ipc:///tmp/a=b==c");
    extra(f, "db = x=y.db", 0, NULL);
    char *db = in_dir(f, "x=y.db");
    assert_string_equal(f->c.db, db);
    free(db);
}

static void
test_kv_syntax_errors(void **state)
{
    struct fx *f = *state;
    extra(f, "min_cell 5", -1, "7: expected 'key = value', got 'min_cell 5'");
    extra(f, "= 5", -1, "7: missing key before '='");
    extra(f, "   =", -1, "7: missing key before '='");
}

/* A comment line of exactly n bytes (without its newline). */
static void
comment_line(struct buf *b, size_t n)
{
    buf_puts(b, "#");
    for (size_t i = 1; i < n; i++)
        buf_puts(b, "x");
    buf_puts(b, "\n");
}

static void
test_kv_line_limit(void **state)
{
    struct fx *f = *state;
    struct buf b = {0};
    char want[FEDRA_ERRLEN];
    buf_puts(&b, REQUIRED);
    comment_line(&b, KV_MAX_LINE);
    assert_int_equal(load_n(f, (const char *)b.p, b.len), 0);
    buf_release(&b);

    buf_puts(&b, REQUIRED);
    comment_line(&b, KV_MAX_LINE + 1);
    assert_int_equal(load_n(f, (const char *)b.p, b.len), -1);
    snprintf(want, sizeof want, "%s:7: line longer than 4096 bytes", f->path);
    assert_string_equal(f->err, want);
    buf_release(&b);

    /* A setting line at the limit: db = /ddd... of 4096 bytes in all. */
    buf_puts(&b, "listen = tcp://127.0.0.1:7001\ncert = a\nkey = b\nca_cert = c\ncrl = d\n");
    buf_puts(&b, "db = /");
    for (size_t i = 6; i < KV_MAX_LINE; i++)
        buf_puts(&b, "d");
    assert_int_equal(load_n(f, (const char *)b.p, b.len), 0);
    assert_int_equal(strlen(f->c.db), KV_MAX_LINE - 5);
    buf_puts(&b, "d\n");
    assert_int_equal(load_n(f, (const char *)b.p, b.len), -1);
    assert_non_null(strstr(f->err, ":6: line longer than 4096 bytes"));
    buf_release(&b);
}

static void
test_kv_file_limit(void **state)
{
    struct fx *f = *state;
    struct buf b = {0};
    buf_puts(&b, REQUIRED);
    while (b.len + 1024 <= KV_MAX_FILE)
        comment_line(&b, 1023);
    size_t rest = KV_MAX_FILE - b.len;
    if (rest > 0) {
        assert_true(rest >= 2);
        comment_line(&b, rest - 1);
    }
    assert_int_equal(b.len, KV_MAX_FILE);
    assert_int_equal(load_n(f, (const char *)b.p, b.len), 0);
    buf_puts(&b, "\n");
    assert_int_equal(load_n(f, (const char *)b.p, b.len), -1);
    assert_non_null(strstr(f->err, "is larger than 1048576 bytes"));
    buf_release(&b);
}

static void
test_kv_nul_byte(void **state)
{
    struct fx *f = *state;
    static const char text[] = REQUIRED "min_cell = 5\0 junk\n";
    char want[FEDRA_ERRLEN];
    assert_int_equal(load_n(f, text, sizeof text - 1), -1);
    snprintf(want, sizeof want, "%s: contains a NUL byte; not a text file", f->path);
    assert_string_equal(f->err, want);
}

/* kv_parse directly: every setting in order with its line number. */
struct seen {
    int n;
    int line[8];
    char key[8][32], value[8][64];
    int stop_at;                    /* return -1 at this call (1-based), 0 = never */
};

static int
collect(void *arg, int lineno, const char *key, const char *value, char *err)
{
    struct seen *s = arg;
    if (s->n >= 8)
        return errf(err, "too many");
    s->line[s->n] = lineno;
    snprintf(s->key[s->n], sizeof s->key[0], "%s", key);
    snprintf(s->value[s->n], sizeof s->value[0], "%s", value);
    s->n++;
    if (s->n == s->stop_at)
        return errf(err, "stop at %d", lineno);
    return 0;
}

static void
test_kv_parse_direct(void **state)
{
    struct fx *f = *state;
    char err[FEDRA_ERRLEN] = "";
    static const char text[] = "\n# c\na = 1\n\n  b=two words \nc = x = y\r\nd =\n";
    assert_int_equal(util_write_file(f->path, text, sizeof text - 1, 0644, err), 0);
    struct seen s = {0};
    assert_int_equal(kv_parse(f->path, collect, &s, err), 0);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.line[0], 3);
    assert_string_equal(s.key[0], "a");
    assert_string_equal(s.value[0], "1");
    assert_int_equal(s.line[1], 5);
    assert_string_equal(s.key[1], "b");
    assert_string_equal(s.value[1], "two words");
    assert_int_equal(s.line[2], 6);
    assert_string_equal(s.key[2], "c");
    assert_string_equal(s.value[2], "x = y");
    assert_int_equal(s.line[3], 7);
    assert_string_equal(s.key[3], "d");
    assert_string_equal(s.value[3], "");
    /* The callback's error stops the parse and is passed through. */
    struct seen t = {0};
    t.stop_at = 2;
    assert_int_equal(kv_parse(f->path, collect, &t, err), -1);
    assert_int_equal(t.n, 2);
    assert_string_equal(err, "stop at 5");
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults_and_paths),
        T(test_all_keys),
        T(test_relative_to_bare_file),
        T(test_min_cell),
        T(test_time_grid),
        T(test_clock_skew),
        T(test_replay_cache_max),
        T(test_listen),
        T(test_empty_path_values),
        T(test_duplicate_keys),
        T(test_crl_url),
        T(test_crl_refresh_and_timeout),
        T(test_unknown_key),
        T(test_durability),
        T(test_pooled_keys),
        T(test_model_path_check),
        T(test_hub_keys),
        T(test_missing_required),
        T(test_missing_file),
        T(test_kv_comments_blank_crlf),
        T(test_kv_equals_in_value),
        T(test_kv_syntax_errors),
        T(test_kv_line_limit),
        T(test_kv_file_limit),
        T(test_kv_nul_byte),
        T(test_kv_parse_direct),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
