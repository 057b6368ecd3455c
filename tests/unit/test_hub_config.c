/*
 * test_hub_config - the hub's configuration file (hub/hubconf.c).
 *
 * Each test writes its text to DIR/hub.conf in a fresh temporary directory
 * and loads it.  Errors are compared in full after "PATH:": LINE:COLUMN (the
 * column where the value starts), the key, the value and the reason.  Every
 * numeric key is tried at both ends of its range and one past each; the
 * ranges are the named limits of hub/relay.h and hub/hubconf.h.
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

#include "hub/hubconf.h"
#include "lib/kv.h"
#include "lib/util.h"

/* Six required keys, one per line (lines 1..6). */
#define REQUIRED \
    "listen = tcp://0.0.0.0:7400\n" \
    "cert = hub.crt\n" \
    "key = /etc/fedra/hub.key\n" \
    "ca_cert = ../ca/ca.crt\n" \
    "crl = crl.pem\n" \
    "log = relay.db\n"

struct fx {
    char dir[64];
    char path[128];
    char err[FEDRA_ERRLEN];
    struct hubconf c;
};

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_hub_config.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/hub.conf", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    hubconf_release(&f->c);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int
load(struct fx *f, const char *text)
{
    char err[FEDRA_ERRLEN];
    if (util_write_file(f->path, text, strlen(text), 0644, err) != 0)
        fail_msg("write: %s", err);
    hubconf_release(&f->c);
    f->err[0] = 0;
    return hubconf_load(f->path, &f->c, f->err);
}

/* REQUIRED plus line (line 7): expect rc, and if want, the error after "PATH:". */
static void
extra(struct fx *f, const char *line, int rc, const char *want)
{
    char text[KV_MAX_LINE + 512], full[FEDRA_ERRLEN];
    snprintf(text, sizeof text, REQUIRED "%s\n", line);
    int got = load(f, text);
    if (got != rc)
        fail_msg("'%s': rc %d, expected %d (%s)", line, got, rc, f->err);
    if (want != NULL) {
        snprintf(full, sizeof full, "%s:%s", f->path, want);
        assert_string_equal(f->err, full);
    }
}

/* A numeric key: both ends of lo..hi load, one past each is refused by line and column. */
static void
range(struct fx *f, const char *key, long long lo, long long hi, const uint32_t *slot)
{
    char line[128], want[256], why[96];
    size_t col = strlen(key) + 4;
    snprintf(why, sizeof why, "must be an integer from %lld to %lld", lo, hi);
    snprintf(line, sizeof line, "%s = %lld", key, lo);
    extra(f, line, 0, NULL);
    assert_int_equal(*slot, lo);
    snprintf(line, sizeof line, "%s = %lld", key, hi);
    extra(f, line, 0, NULL);
    assert_int_equal(*slot, hi);
    long long bad[] = {lo - 1, hi + 1};
    for (size_t i = 0; i < 2; i++) {
        if (bad[i] < 0 && lo == 0)
            snprintf(line, sizeof line, "%s = -1", key);
        else
            snprintf(line, sizeof line, "%s = %lld", key, bad[i]);
        snprintf(want, sizeof want, "7:%zu: %s = '%s': %s", col, key, strchr(line, '=') + 2, why);
        extra(f, line, -1, want);
    }
    snprintf(line, sizeof line, "%s = many", key);
    snprintf(want, sizeof want, "7:%zu: %s = 'many': %s", col, key, why);
    extra(f, line, -1, want);
}

static void
test_required_keys_and_defaults(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, REQUIRED), 0);
    char p[256];
    snprintf(p, sizeof p, "%s/hub.crt", f->dir);
    assert_string_equal(f->c.cert, p);
    assert_string_equal(f->c.key, "/etc/fedra/hub.key");       /* absolute: unchanged */
    snprintf(p, sizeof p, "%s/relay.db", f->dir);
    assert_string_equal(f->c.log, p);
    snprintf(p, sizeof p, "%s/relay.db%s", f->dir, HUBCONF_STATE_SUFFIX);
    assert_string_equal(f->c.state, p);
    assert_string_equal(f->c.listen, "tcp://0.0.0.0:7400");
    assert_null(f->c.crl_url);
    assert_int_equal(f->c.lim.queue_per_node, RELAY_DEFAULT_QUEUE_PER_NODE);
    assert_int_equal(f->c.lim.inflight_max, RELAY_DEFAULT_INFLIGHT);
    assert_int_equal(f->c.lim.timeout_max_ms, RELAY_DEFAULT_TIMEOUT_MAX_MS);
    assert_int_equal(f->c.lim.skew_ms, RELAY_DEFAULT_SKEW_MS);
    assert_int_equal(f->c.crl_refresh_s, HUBCONF_DEFAULT_CRL_REFRESH_S);
    assert_int_equal(f->c.crl_timeout_s, HUBCONF_DEFAULT_CRL_TIMEOUT_S);
    /* Each required key, left out, is named with what it should be. */
    static const char *const req[] = {"listen", "cert", "key", "ca_cert", "crl", "log"};
    for (size_t i = 0; i < 6; i++) {
        struct buf b = {0};
        const char *line = REQUIRED;
        for (size_t k = 0; k < 6; k++) {
            const char *nl = strchr(line, '\n');
            if (k != i)
                buf_append(&b, line, (size_t)(nl - line) + 1);
            line = nl + 1;
        }
        buf_puts(&b, "");
        assert_int_equal(load(f, (char *)b.p), -1);
        char want[256];
        snprintf(want, sizeof want, "%s: missing required key '%s' (", f->path, req[i]);
        assert_memory_equal(f->err, want, strlen(want));
        buf_release(&b);
    }
}

static void
test_every_optional_key(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, REQUIRED "crl_url = https://ca.example.org/crl.pem\n"
        "crl_refresh_seconds = 600\ncrl_fetch_timeout_seconds = 20\nstate = run/hub.status\n"
        "timeout_max_ms = 30000\nqueue_per_node = 8\ninflight_max = 64\nskew_ms = 5000\n"), 0);
    assert_string_equal(f->c.crl_url, "https://ca.example.org/crl.pem");
    assert_int_equal(f->c.crl_refresh_s, 600);
    assert_int_equal(f->c.crl_timeout_s, 20);
    char p[256];
    snprintf(p, sizeof p, "%s/run/hub.status", f->dir);
    assert_string_equal(f->c.state, p);
    assert_int_equal(f->c.lim.timeout_max_ms, 30000);
    assert_int_equal(f->c.lim.queue_per_node, 8);
    assert_int_equal(f->c.lim.inflight_max, 64);
    assert_int_equal(f->c.lim.skew_ms, 5000);
}

static void
test_numeric_ranges(void **state)
{
    struct fx *f = *state;
    range(f, "timeout_max_ms", RELAY_MIN_TIMEOUT_MS, RELAY_MAX_TIMEOUT_MS,
        &f->c.lim.timeout_max_ms);
    range(f, "queue_per_node", 1, RELAY_MAX_QUEUE_PER_NODE, &f->c.lim.queue_per_node);
    range(f, "skew_ms", 0, RELAY_MAX_SKEW_MS, &f->c.lim.skew_ms);
    /* inflight_max may not go below queue_per_node's default. */
    extra(f, "inflight_max = " "65536", 0, NULL);
    assert_int_equal(f->c.lim.inflight_max, RELAY_MAX_INFLIGHT);
    extra(f, "inflight_max = 65537", -1,
        "7:16: inflight_max = '65537': must be an integer from 1 to 65536");
    extra(f, "inflight_max = 0", -1,
        "7:16: inflight_max = '0': must be an integer from 1 to 65536");
    extra(f, "inflight_max = 15", -1, NULL);
    assert_non_null(strstr(f->err, "queue_per_node (16) must not exceed inflight_max (15)"));
    extra(f, "inflight_max = 16", 0, NULL);
    range(f, "roster_min", 2, WIRE_MAX_AUDIENCE, &f->c.roster_min);
}

/* The pooled roster: names, none twice, at least roster_min (RELAY_MIN_ROSTER) of them. */
static void
test_roster(void **state)
{
    struct fx *f = *state;
    extra(f, "", 0, NULL);
    assert_null(f->c.roster);
    assert_int_equal(f->c.roster_min, RELAY_MIN_ROSTER);
    extra(f, "roster = AA, BB,CC", 0, NULL);
    assert_string_equal(f->c.roster, "AA, BB,CC");
    extra(f, "roster = AA,BB", -1, NULL);
    assert_non_null(strstr(f->err, "roster names 2 nodes; a pooled roster needs at least 3"));
    extra(f, "roster = AA,BB,AA", -1, NULL);
    assert_non_null(strstr(f->err, "names 'AA' twice"));
    extra(f, "roster = AA,B B,CC", -1, NULL);
    assert_non_null(strstr(f->err, "'B B' is not a node name"));
    /* roster_min lowers the floor (tests only: docs/hub-config.md). */
    char text[256];
    snprintf(text, sizeof text, "roster = AA,BB\nroster_min = 2");
    extra(f, text, 0, NULL);
    assert_int_equal(f->c.roster_min, 2);
}

/* The pooled auditor: on unless a test turns it off; its history next to the log. */
static void
test_pool_audit(void **state)
{
    struct fx *f = *state;
    extra(f, "", 0, NULL);
    assert_int_equal(f->c.pool_audit, 1);
    assert_non_null(f->c.pool_history);
    size_t n = strlen(f->c.pool_history), m = strlen(HUBCONF_POOL_HISTORY_SUFFIX);
    assert_true(n > m);
    assert_string_equal(f->c.pool_history + n - m, HUBCONF_POOL_HISTORY_SUFFIX);
    extra(f, "pool_audit = off", 0, NULL);
    assert_int_equal(f->c.pool_audit, 0);
    extra(f, "pool_audit = on\npool_history = /var/lib/hub/history", 0, NULL);
    assert_int_equal(f->c.pool_audit, 1);
    assert_string_equal(f->c.pool_history, "/var/lib/hub/history");
    extra(f, "pool_audit = no", -1, "7:14: pool_audit = 'no': must be on or off");
}

static void
test_crl_fetch_keys(void **state)
{
    struct fx *f = *state;
    extra(f, "crl_refresh_seconds = 60", -1, NULL);
    assert_non_null(strstr(f->err, "need crl_url"));
    char line[256];
    snprintf(line, sizeof line, "crl_url = http://ca/crl\ncrl_refresh_seconds = %d",
        HUBCONF_MIN_CRL_REFRESH_S - 1);
    extra(f, line, -1, "8:23: crl_refresh_seconds = '9': must be an integer from 10 to 604800");
    snprintf(line, sizeof line, "crl_url = http://ca/crl\ncrl_fetch_timeout_seconds = %d",
        HUBCONF_MAX_CRL_TIMEOUT_S + 1);
    extra(f, line, -1,
        "8:29: crl_fetch_timeout_seconds = '601': must be an integer from 1 to 600");
    extra(f, "crl_url = http://ca/crl\ncrl_refresh_seconds = 30\ncrl_fetch_timeout_seconds = 30",
        -1, NULL);
    assert_non_null(strstr(f->err, "must be shorter than crl_refresh_seconds"));
    extra(f, "crl_url = ftp://ca/crl", -1, "7:11: crl_url = 'ftp://ca/crl': must be an http:// "
        "or https:// URL (no other scheme is fetched)");
    extra(f, "crl_url = https:///crl", -1, "7:11: crl_url = 'https:///crl': has no host");
    extra(f, "crl_url = http://ca/a b", -1, "7:11: crl_url = 'http://ca/a b': contains a blank "
        "or a character that is not printable ASCII");
    char longurl[HUBCONF_MAX_URL + 32];
    snprintf(longurl, sizeof longurl, "crl_url = http://ca/");
    size_t n = strlen(longurl);
    memset(longurl + n, 'a', HUBCONF_MAX_URL - 10);
    longurl[n + HUBCONF_MAX_URL - 10] = 0;       /* the URL is 2048 characters: accepted */
    extra(f, longurl, 0, NULL);
    size_t u = strlen(longurl);
    longurl[u] = 'a';               /* one more: 2049 characters */
    longurl[u + 1] = 0;
    extra(f, longurl, -1, NULL);
    assert_non_null(strstr(f->err, "longer than 2048 characters"));
}

static void
test_bad_lines_named_by_line_and_column(void **state)
{
    struct fx *f = *state;
    extra(f, "listen2 = x", -1, NULL);
    assert_non_null(strstr(f->err, ":7:1: unknown key 'listen2' (keys: listen, cert, key, "
        "ca_cert, crl, crl_url, crl_refresh_seconds, crl_fetch_timeout_seconds, log, state, "
        "timeout_max_ms, queue_per_node, inflight_max, skew_ms, roster, roster_min, "
        "pool_audit, pool_history)"));
    extra(f, "log = other.db", -1, "7:1: log is given twice (each key once)");
    assert_int_equal(load(f, "cert = a\n  listen   =   udp://x\n"), -1);
    char want[256];
    snprintf(want, sizeof want, "%s:2:16: listen = 'udp://x': must be a ZeroMQ endpoint such "
        "as tcp://0.0.0.0:7400", f->path);
    assert_string_equal(f->err, want);
    extra(f, "state =", -1, "7:8: state has an empty value");
    extra(f, "# a comment\nqueue_per_node=\t99999", -1,
        "8:17: queue_per_node = '99999': must be an integer from 1 to 1024");
    extra(f, "no equals sign", -1, NULL);
    assert_non_null(strstr(f->err, ":7: expected 'key = value'"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_required_keys_and_defaults),
        T(test_every_optional_key),
        T(test_numeric_ranges),
        T(test_roster),
        T(test_pool_audit),
        T(test_crl_fetch_keys),
        T(test_bad_lines_named_by_line_and_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
