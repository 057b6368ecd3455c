/*
 * hubconf - see hubconf.h.
 *
 * One table row per key: its kind (a path, an endpoint, a URL, a bounded
 * integer), where it is stored, and for integers the range, so that the
 * parser, the error messages and docs/hub-config.md list the same keys.
 */
#include "hub/hubconf.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kv.h"
#include "lib/util.h"

#define HUBCONF_QUOTE_MAX 80                /* characters of a bad value quoted in an error */

enum key_kind { K_PATH, K_ENDPOINT, K_URL, K_UINT, K_NAMES, K_ONOFF };

struct key {
    const char *name;
    enum key_kind kind;
    size_t off;                             /* of the char * or uint32_t in struct hubconf */
    long long lo, hi;                       /* K_UINT */
    int required;
    const char *hint;                       /* what a missing required key should be */
};

#define STR(f) offsetof(struct hubconf, f)
#define LIM(f) (offsetof(struct hubconf, lim) + offsetof(struct relay_limits, f))

/* Every key, in the order docs/hub-config.md lists them. */
static const struct key hubconf_keys[] = {
    {"listen", K_ENDPOINT, STR(listen), 0, 0, 1, "e.g. listen = tcp://0.0.0.0:7400"},
    {"cert", K_PATH, STR(cert), 0, 0, 1, "the hub certificate from fedra-cert issue --role hub"},
    {"key", K_PATH, STR(key), 0, 0, 1, "the hub's private key"},
    {"ca_cert", K_PATH, STR(ca_cert), 0, 0, 1, "the federation CA certificate"},
    {"crl", K_PATH, STR(crl), 0, 0, 1, "the CA's CRL; the hub fails closed without one"},
    {"crl_url", K_URL, STR(crl_url), 0, 0, 0, NULL},
    {"crl_refresh_seconds", K_UINT, STR(crl_refresh_s), HUBCONF_MIN_CRL_REFRESH_S,
        HUBCONF_MAX_CRL_REFRESH_S, 0, NULL},
    {"crl_fetch_timeout_seconds", K_UINT, STR(crl_timeout_s), HUBCONF_MIN_CRL_TIMEOUT_S,
        HUBCONF_MAX_CRL_TIMEOUT_S, 0, NULL},
    {"log", K_PATH, STR(log), 0, 0, 1, "the relay log, e.g. log = relay.db"},
    {"state", K_PATH, STR(state), 0, 0, 0, NULL},
    {"timeout_max_ms", K_UINT, LIM(timeout_max_ms), RELAY_MIN_TIMEOUT_MS, RELAY_MAX_TIMEOUT_MS,
        0, NULL},
    {"queue_per_node", K_UINT, LIM(queue_per_node), 1, RELAY_MAX_QUEUE_PER_NODE, 0, NULL},
    {"inflight_max", K_UINT, LIM(inflight_max), 1, RELAY_MAX_INFLIGHT, 0, NULL},
    {"skew_ms", K_UINT, LIM(skew_ms), 0, RELAY_MAX_SKEW_MS, 0, NULL},
    {"roster", K_NAMES, STR(roster), 0, 0, 0, NULL},
    {"roster_min", K_UINT, STR(roster_min), 2, WIRE_MAX_AUDIENCE, 0, NULL},
    {"pool_audit", K_ONOFF, STR(pool_audit), 0, 1, 0, NULL},
    {"pool_history", K_PATH, STR(pool_history), 0, 0, 0, NULL},
};
#define HUBCONF_NKEYS (sizeof hubconf_keys / sizeof hubconf_keys[0])

/* The 1-based column where the value of line lineno starts (after '=' and blanks); 0 unknown. */
static int
value_column(const char *path, int lineno)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (util_read_file(path, KV_MAX_FILE, &data, &len, NULL) != 0)
        return 0;
    const char *p = (const char *)data;
    for (int l = 1; l < lineno && p != NULL; l++)
        if ((p = strchr(p, '\n')) != NULL)
            p++;
    int col = 0;
    const char *eq = p ? strchr(p, '=') : NULL;
    const char *nl = p ? strchr(p, '\n') : NULL;
    if (eq != NULL && (nl == NULL || eq < nl)) {
        const char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        col = (int)(v - p) + 1;
    }
    free(data);
    return col;
}

/* crl_url: http:// or https://, a host, printable ASCII without blanks, bounded. */
static const char *
url_problem(const char *v)
{
    if (strlen(v) > HUBCONF_MAX_URL)
        return "longer than 2048 characters";
    for (const unsigned char *s = (const unsigned char *)v; *s; s++)
        if (*s <= ' ' || *s >= 0x7f)
            return "contains a blank or a character that is not printable ASCII";
    size_t skip = strncmp(v, "https://", 8) == 0 ? 8 : strncmp(v, "http://", 7) == 0 ? 7 : 0;
    if (skip == 0)
        return "must be an http:// or https:// URL (no other scheme is fetched)";
    if (v[skip] == 0 || v[skip] == '/')
        return "has no host";
    return NULL;
}

/* Store value under key k; NULL, or why the value is bad. */
static const char *
set_value(struct hubconf *c, const struct key *k, const char *value, char *why, size_t whylen)
{
    char **sp = (char **)((char *)c + k->off);
    long long v;
    switch (k->kind) {
    case K_PATH:
        *sp = util_path_relative_to(c->path, value);
        return NULL;
    case K_ENDPOINT:
        *sp = xstrdup(value);
        return strncmp(value, "tcp://", 6) == 0 || strncmp(value, "ipc://", 6) == 0 ? NULL
            : "must be a ZeroMQ endpoint such as tcp://0.0.0.0:7400";
    case K_URL:
        *sp = xstrdup(value);
        return url_problem(value);
    case K_NAMES:
        *sp = xstrdup(value);
        return relay_roster_problem(value, 1, why, whylen);
    case K_ONOFF:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
            return "must be on or off";
        *(uint32_t *)((char *)c + k->off) = strcmp(value, "on") == 0;
        return NULL;
    case K_UINT:
        if (util_parse_int(value, k->lo, k->hi, &v) != 0) {
            snprintf(why, whylen, "must be an integer from %lld to %lld", k->lo, k->hi);
            return why;
        }
        *(uint32_t *)((char *)c + k->off) = (uint32_t)v;
        return NULL;
    }
    return "unknown kind of key";
}

static int
on_line(void *arg, int lineno, const char *name, const char *value, char *err)
{
    struct hubconf *c = arg;
    const struct key *k = NULL;
    for (size_t i = 0; i < HUBCONF_NKEYS; i++)
        if (strcmp(hubconf_keys[i].name, name) == 0)
            k = &hubconf_keys[i];
    if (k == NULL) {
        struct buf b = {0};
        for (size_t i = 0; i < HUBCONF_NKEYS; i++)
            buf_printf(&b, "%s%s", i ? ", " : "", hubconf_keys[i].name);
        errf(err, "%s:%d:1: unknown key '%s' (keys: %s)", c->path, lineno, name, (char *)b.p);
        buf_release(&b);
        return -1;
    }
    uint32_t bit = 1u << (k - hubconf_keys);
    if (c->seen & bit)
        return errf(err, "%s:%d:1: %s is given twice (each key once)", c->path, lineno, name);
    c->seen |= bit;
    int col = value_column(c->path, lineno);
    if (*value == 0)
        return errf(err, "%s:%d:%d: %s has an empty value", c->path, lineno, col, name);
    char buf[128];
    const char *why = set_value(c, k, value, buf, sizeof buf);
    if (why != NULL)
        return errf(err, "%s:%d:%d: %s = '%.*s%s': %s", c->path, lineno, col, name,
            HUBCONF_QUOTE_MAX, value, strlen(value) > HUBCONF_QUOTE_MAX ? "..." : "", why);
    return 0;
}

static int
is_set(const struct hubconf *c, const char *name)
{
    for (size_t i = 0; i < HUBCONF_NKEYS; i++)
        if (strcmp(hubconf_keys[i].name, name) == 0)
            return (c->seen >> i) & 1;
    return 0;
}

int
hubconf_load(const char *path, struct hubconf *c, char *err)
{
    memset(c, 0, sizeof *c);
    c->path = xstrdup(path);
    c->crl_refresh_s = HUBCONF_DEFAULT_CRL_REFRESH_S;
    c->crl_timeout_s = HUBCONF_DEFAULT_CRL_TIMEOUT_S;
    c->lim.timeout_max_ms = RELAY_DEFAULT_TIMEOUT_MAX_MS;
    c->lim.queue_per_node = RELAY_DEFAULT_QUEUE_PER_NODE;
    c->lim.inflight_max = RELAY_DEFAULT_INFLIGHT;
    c->lim.skew_ms = RELAY_DEFAULT_SKEW_MS;
    c->lim.hello_interval_ms = WIRE_HUB_HELLO_INTERVAL_MS;
    c->roster_min = RELAY_MIN_ROSTER;
    c->pool_audit = 1;
    if (kv_parse(path, on_line, c, err) != 0)
        return -1;
    char why[FEDRA_ERRLEN];
    if (c->roster != NULL && relay_roster_problem(c->roster, c->roster_min, why, sizeof why))
        return errf(err, "%s: roster %s (roster_min %u)", path, why, c->roster_min);
    for (size_t i = 0; i < HUBCONF_NKEYS; i++) {
        const struct key *k = &hubconf_keys[i];
        if (k->required && !((c->seen >> i) & 1))
            return errf(err, "%s: missing required key '%s' (%s)", path, k->name, k->hint);
    }
    if (c->crl_url == NULL && (is_set(c, "crl_refresh_seconds") ||
                               is_set(c, "crl_fetch_timeout_seconds")))
        return errf(err, "%s: crl_refresh_seconds and crl_fetch_timeout_seconds need crl_url "
            "(the URL the CRL is fetched from)", path);
    if (c->crl_timeout_s >= c->crl_refresh_s)
        return errf(err, "%s: crl_fetch_timeout_seconds (%u) must be shorter than "
            "crl_refresh_seconds (%u)", path, c->crl_timeout_s, c->crl_refresh_s);
    if (c->lim.queue_per_node > c->lim.inflight_max)
        return errf(err, "%s: queue_per_node (%u) must not exceed inflight_max (%u)", path,
            c->lim.queue_per_node, c->lim.inflight_max);
    if (c->state == NULL) {
        struct buf b = {0};
        buf_printf(&b, "%s%s", c->log, HUBCONF_STATE_SUFFIX);
        c->state = buf_detach(&b);
    }
    if (c->pool_history == NULL) {
        struct buf b = {0};
        buf_printf(&b, "%s%s", c->log, HUBCONF_POOL_HISTORY_SUFFIX);
        c->pool_history = buf_detach(&b);
    }
    return 0;
}

void
hubconf_release(struct hubconf *c)
{
    free(c->path);
    free(c->listen);
    free(c->cert);
    free(c->key);
    free(c->ca_cert);
    free(c->crl);
    free(c->crl_url);
    free(c->log);
    free(c->state);
    free(c->roster);
    free(c->pool_history);
    memset(c, 0, sizeof *c);
}
