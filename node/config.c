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

static int
on_line(void *arg, int lineno, const char *name, const char *value, char *err)
{
    struct node_config *c = arg;
    int rc = 0;
    const char *why = "";
    if (strcmp(name, "db") == 0)
        rc = set_path(&c->db, c, value);
    else if (strcmp(name, "listen") == 0) {
        free(c->listen);
        c->listen = xstrdup(value);
        if (strncmp(value, "tcp://", 6) != 0 && strncmp(value, "ipc://", 6) != 0) {
            rc = -1;
            why = "must be a ZeroMQ endpoint such as tcp://0.0.0.0:7001";
        }
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
    } else if (strcmp(name, "clock_skew_seconds") == 0) {
        rc = set_uint(&c->clock_skew_s, value, 0, CONFIG_MAX_SKEW_S);
        why = "must be an integer from 0 to 3600";
    } else if (strcmp(name, "replay_cache_max") == 0) {
        rc = set_uint(&c->max_seen, value, 100, 100000000);
        why = "must be an integer from 100 to 100000000";
    } else if (strcmp(name, "query_audit") == 0) {
        c->query_audit = strcmp(value, "on") == 0;
        rc = c->query_audit || strcmp(value, "off") == 0 ? 0 : -1;
        why = "must be on or off";
    } else {
        return errf(err, "%s:%d: unknown key '%s' (keys: db, listen, cert, key, ca_cert, crl, "
            "min_cell, time_grid_days, clock_skew_seconds, replay_cache_max, query_audit)",
            c->path, lineno, name);
    }
    if (rc != 0)
        return errf(err, "%s:%d: %s = '%s': %s", c->path, lineno, name, value, why);
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
    c->query_audit = 1;
    if (kv_parse(path, on_line, c, err) != 0)
        return -1;
    const struct {
        const char *name;
        const char *value;
        const char *hint;
    } req[] = {
        {"db", c->db, "the node's store, e.g. db = store.db"},
        {"listen", c->listen, "e.g. listen = tcp://0.0.0.0:7001"},
        {"cert", c->cert, "the node certificate from fedra-cert issue --role node"},
        {"key", c->key, "the node private key"},
        {"ca_cert", c->ca_cert, "the federation CA certificate"},
        {"crl", c->crl, "the CA's CRL from fedra-cert crl; nodes fail closed without one"},
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (req[i].value == NULL)
            return errf(err, "%s: missing required key '%s' (%s)", path, req[i].name,
                req[i].hint);
    return 0;
}

void
config_release(struct node_config *c)
{
    free(c->path);
    free(c->db);
    free(c->listen);
    free(c->cert);
    free(c->key);
    free(c->ca_cert);
    free(c->crl);
    memset(c, 0, sizeof *c);
}
