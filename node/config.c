/*
 * config - see config.h.
 */
#include "node/config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/kv.h"
#include "lib/util.h"


static int
set_path(char **slot, const struct node_config *c, const char *value)
{
    free(*slot);
    *slot = util_path_relative_to(c->path, value);
    return 0;
}

static int
set_uint(uint32_t *slot, const char *value, long long lo, long long hi)
{
    long long v;
    if (util_parse_int(value, lo, hi, &v) != 0)
        return -1;
    *slot = (uint32_t)v;
    return 0;
}

#define CONFIG_QUOTE_MAX 80             /* characters of a bad value quoted in an error */

/* Every key, in the order docs/node-config.md lists them. */
static const char *const config_keys[] = {
    "db", "listen", "cert", "key", "ca_cert", "crl", "hub", "hub_cert", "socks_proxy",
    "min_cell", "time_grid_days", "min_events_per_parameter", "min_sites", "pool_min_participants",
    "clock_skew_seconds",
    "replay_cache_max", "cert_warn_days", "query_audit", "model_path_check", "crl_url",
    "crl_refresh_seconds", "crl_fetch_timeout_seconds", "durability",
};
#define CONFIG_NKEYS (sizeof config_keys / sizeof config_keys[0])
_Static_assert(CONFIG_NKEYS <= 32, "node_config.seen_keys holds a bit per key");

static int
key_index(const char *name)
{
    for (size_t i = 0; i < CONFIG_NKEYS; i++)
        if (strcmp(config_keys[i], name) == 0)
            return (int)i;
    return -1;
}

/* crl_url: http:// or https:// with a host, printable ASCII, bounded. */
static int
url_ok(const char *v, const char **why)
{
    size_t n = strlen(v);
    if (n > CONFIG_MAX_URL) {
        *why = "longer than 2048 characters";
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f) {
            *why = "contains a space or a character that is not printable ASCII";
            return 0;
        }
    const char *rest = strncmp(v, "http://", 7) == 0 ? v + 7 :
        strncmp(v, "https://", 8) == 0 ? v + 8 : NULL;
    if (rest == NULL) {
        *why = "must be an http:// or https:// URL (no other scheme is fetched)";
        return 0;
    }
    if (*rest == 0 || *rest == '/') {
        *why = "has no host";
        return 0;
    }
    return 1;
}

/* listen and hub: a ZeroMQ endpoint. */
static int
endpoint_ok(const char *v)
{
    return strncmp(v, "tcp://", 6) == 0 || strncmp(v, "ipc://", 6) == 0;
}

/* socks_proxy: HOST:PORT, a host of printable ASCII without '/' or '@', a port 1 .. 65535. */
static int
socks_ok(const char *v, const char **why)
{
    size_t n = strlen(v);
    const char *colon = strrchr(v, ':');
    long long port;
    *why = "must be HOST:PORT of a SOCKS5 proxy, e.g. proxy.example.org:1080";
    if (n > CONFIG_MAX_SOCKS) {
        *why = "longer than 255 characters";
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f || v[i] == '/' ||
            v[i] == '@')
            return 0;
    if (colon == NULL || colon == v)
        return 0;
    if (util_parse_int(colon + 1, 1, 65535, &port) != 0) {
        *why = "the port after the last ':' must be an integer from 1 to 65535";
        return 0;
    }
    return 1;
}

static int
on_line(void *arg, int lineno, const char *name, const char *value, char *err)
{
    struct node_config *c = arg;
    int rc = 0;
    const char *why = "";
    int k = key_index(name);
    if (k < 0) {
        struct buf b = {0};
        for (size_t i = 0; i < CONFIG_NKEYS; i++)
            buf_printf(&b, "%s%s", i ? ", " : "", config_keys[i]);
        errf(err, "%s:%d: unknown key '%s' (keys: %s)", c->path, lineno, name, (char *)b.p);
        buf_release(&b);
        return -1;
    }
    if (c->seen_keys & (1u << k))
        return errf(err, "%s:%d: %s is given twice (each key once)", c->path, lineno, name);
    c->seen_keys |= 1u << k;
    if (strcmp(name, "db") == 0)
        rc = set_path(&c->db, c, value);
    else if (strcmp(name, "listen") == 0) {
        free(c->listen);
        c->listen = xstrdup(value);
        if (!endpoint_ok(value)) {
            rc = -1;
            why = "must be a ZeroMQ endpoint such as tcp://0.0.0.0:7001";
        }
    } else if (strcmp(name, "hub") == 0) {
        free(c->hub);
        c->hub = xstrdup(value);
        if (!endpoint_ok(value)) {
            rc = -1;
            why = "must be the hub's ZeroMQ endpoint, such as tcp://hub.example.org:7100";
        }
    } else if (strcmp(name, "hub_cert") == 0)
        rc = set_path(&c->hub_cert, c, value);
    else if (strcmp(name, "socks_proxy") == 0) {
        free(c->socks_proxy);
        c->socks_proxy = xstrdup(value);
        if (*value != 0 && !socks_ok(value, &why))
            rc = -1;
    } else if (strcmp(name, "cert") == 0)
        rc = set_path(&c->cert, c, value);
    else if (strcmp(name, "key") == 0)
        rc = set_path(&c->key, c, value);
    else if (strcmp(name, "ca_cert") == 0)
        rc = set_path(&c->ca_cert, c, value);
    else if (strcmp(name, "crl") == 0)
        rc = set_path(&c->crl, c, value);
    else if (strcmp(name, "min_cell") == 0) {
        rc = set_uint(&c->policy.min_cell, value, 1, DISCLOSE_MAX_MIN_CELL);
        why = "must be an integer from 1 to 1000";
    } else if (strcmp(name, "time_grid_days") == 0) {
        rc = set_uint(&c->policy.time_grid_days, value, 0, DISCLOSE_MAX_GRID_DAYS);
        why = "must be an integer from 0 (exact times) to 3660";
    } else if (strcmp(name, "min_events_per_parameter") == 0) {
        rc = set_uint(&c->policy.min_events_per_param, value, 1, DISCLOSE_MAX_EVENTS_PER_PARAM);
        why = "must be an integer from 1 to 1000";
    } else if (strcmp(name, "min_sites") == 0) {
        rc = set_uint(&c->min_sites, value, 1, POOL_MAX_MIN_SITES);
        why = "must be an integer from 1 to 256";
    } else if (strcmp(name, "pool_min_participants") == 0) {
        rc = set_uint(&c->pool_min_participants, value, 2, POOL_MAX_MIN_SITES);
        why = "must be an integer from 2 to 256 (lower than 3 only to test: disclosure.md §8.3)";
    } else if (strcmp(name, "cert_warn_days") == 0) {
        rc = set_uint(&c->cert_warn_days, value, 0, CONFIG_MAX_CERT_WARN_DAYS);
        why = "must be an integer from 0 (no warnings) to 3650";
    } else if (strcmp(name, "clock_skew_seconds") == 0) {
        rc = set_uint(&c->clock_skew_s, value, 0, CONFIG_MAX_SKEW_S);
        why = "must be an integer from 0 to 3600";
    } else if (strcmp(name, "replay_cache_max") == 0) {
        rc = set_uint(&c->max_seen, value, CONFIG_MIN_MAX_SEEN, CONFIG_MAX_MAX_SEEN);
        why = "must be an integer from 100 to 100000000";
    } else if (strcmp(name, "crl_url") == 0) {
        free(c->crl_url);
        c->crl_url = xstrdup(value);
        if (*value != 0 && !url_ok(value, &why))
            rc = -1;
    } else if (strcmp(name, "crl_refresh_seconds") == 0) {
        rc = set_uint(&c->crl_refresh_s, value, CONFIG_MIN_CRL_REFRESH_S,
            CONFIG_MAX_CRL_REFRESH_S);
        why = "must be an integer from 10 to 604800 (a week)";
    } else if (strcmp(name, "query_audit") == 0) {
        c->query_audit = strcmp(value, "on") == 0;
        rc = c->query_audit || strcmp(value, "off") == 0 ? 0 : -1;
        why = "must be on or off";
    } else if (strcmp(name, "model_path_check") == 0) {
        c->model_path_check = strcmp(value, "on") == 0;
        rc = c->model_path_check || strcmp(value, "off") == 0 ? 0 : -1;
        why = "must be on or off (off only to demonstrate attack 1 in tests)";
    } else if (strcmp(name, "durability") == 0) {
        c->durability_normal = strcmp(value, "normal") == 0;
        rc = c->durability_normal || strcmp(value, "full") == 0 ? 0 : -1;
        why = "must be full (every answer's audit entry on disk before it is sent) or normal";
    } else {    /* crl_fetch_timeout_seconds: key_index() admitted nothing else */
        rc = set_uint(&c->crl_timeout_s, value, CONFIG_MIN_CRL_TIMEOUT_S,
            CONFIG_MAX_CRL_TIMEOUT_S);
        why = "must be an integer from 1 to 600";
    }
    /* A long value is quoted by its start, so that the reason still fits the message. */
    if (rc != 0)
        return errf(err, "%s:%d: %s = '%.*s%s': %s", c->path, lineno, name,
            CONFIG_QUOTE_MAX, value, strlen(value) > CONFIG_QUOTE_MAX ? "..." : "", why);
    if (*value == 0)
        return errf(err, "%s:%d: %s has an empty value", c->path, lineno, name);
    return 0;
}

int
config_load(const char *path, struct node_config *c, char *err)
{
    memset(c, 0, sizeof *c);
    c->path = xstrdup(path);
    c->policy.min_cell = DISCLOSE_DEFAULT_MIN_CELL;
    c->policy.time_grid_days = DISCLOSE_DEFAULT_GRID_DAYS;
    c->clock_skew_s = CONFIG_DEFAULT_SKEW_S;
    c->max_seen = CONFIG_DEFAULT_MAX_SEEN;
    c->policy.min_events_per_param = DISCLOSE_DEFAULT_EVENTS_PER_PARAM;
    c->cert_warn_days = CONFIG_DEFAULT_CERT_WARN_DAYS;
    c->crl_refresh_s = CONFIG_DEFAULT_CRL_REFRESH_S;
    c->crl_timeout_s = CONFIG_DEFAULT_CRL_TIMEOUT_S;
    c->query_audit = 1;
    c->model_path_check = 1;
    c->min_sites = POOL_DEFAULT_MIN_SITES;
    c->pool_min_participants = POOL_MIN_PARTICIPANTS;
    if (kv_parse(path, on_line, c, err) != 0)
        return -1;
    const struct {
        const char *name;
        const char *value;
        const char *hint;
    } req[] = {
        {"db", c->db, "the node's store, e.g. db = store.db"},
        {"cert", c->cert, "the node certificate from fedra-cert issue --role node"},
        {"key", c->key, "the node private key"},
        {"ca_cert", c->ca_cert, "the federation CA certificate"},
        {"crl", c->crl, "the CA's CRL from fedra-cert crl; nodes fail closed without one"},
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (req[i].value == NULL)
            return errf(err, "%s: missing required key '%s' (%s)", path, req[i].name,
                req[i].hint);
    /* A node listens, or dials a hub, or both. */
    if (c->listen == NULL && c->hub == NULL)
        return errf(err, "%s: missing required key 'listen' (e.g. listen = tcp://0.0.0.0:7001; "
            "or, for a node that may not accept connections, hub = ENDPOINT and hub_cert = "
            "FILE: it dials out to the federation's hub)", path);
    if ((c->hub == NULL) != (c->hub_cert == NULL))
        return errf(err, "%s: %s", path, c->hub ? "hub needs hub_cert (the hub's certificate, "
            "from fedra-cert issue --role hub; its transport key is pinned)" :
            "hub_cert needs hub (the endpoint of the hub it certifies)");
    if (c->socks_proxy != NULL && c->hub == NULL)
        return errf(err, "%s: socks_proxy needs hub (the proxy is only used to reach the hub)",
            path);
    /* The fetch interval and the fetch bound only mean something with a URL. */
    if (c->crl_url == NULL && (c->seen_keys & ((1u << key_index("crl_refresh_seconds")) |
                                               (1u << key_index("crl_fetch_timeout_seconds")))))
        return errf(err, "%s: crl_refresh_seconds and crl_fetch_timeout_seconds need crl_url "
            "(the URL the CRL is fetched from)", path);
    if (c->crl_timeout_s >= c->crl_refresh_s)
        return errf(err, "%s: crl_fetch_timeout_seconds (%u) must be shorter than "
            "crl_refresh_seconds (%u)", path, c->crl_timeout_s, c->crl_refresh_s);
    struct buf b = {0};
    buf_printf(&b, "%s%s", c->db, CONFIG_STATUS_SUFFIX);
    c->status_file = buf_detach(&b);
    return 0;
}

void
config_release(struct node_config *c)
{
    free(c->path);
    free(c->db);
    free(c->listen);
    free(c->hub);
    free(c->hub_cert);
    free(c->socks_proxy);
    free(c->cert);
    free(c->key);
    free(c->ca_cert);
    free(c->crl);
    free(c->crl_url);
    free(c->status_file);
    memset(c, 0, sizeof *c);
}
