/*
 * hubconf - the hub's configuration file (docs/hub-config.md).
 *
 * "key = value" lines and '#' comments (lib/kv.h), like the node's.  Relative
 * paths are taken from the config file's directory.  An unknown key, a key
 * given twice, a missing required key or a bad value stops the hub at start
 * with PATH:LINE:COLUMN (the column of the value), the key and the reason.
 */
#ifndef HUBCONF_H
#define HUBCONF_H

#include <stdint.h>

#include "hub/relay.h"

#define HUBCONF_STATE_SUFFIX ".status"      /* default state file: LOG.status */
#define HUBCONF_POOL_HISTORY_SUFFIX ".pool-history" /* default pooled history: LOG.pool-history */
#define HUBCONF_MAX_URL 2048                /* longest crl_url */
#define HUBCONF_DEFAULT_CRL_REFRESH_S 3600
#define HUBCONF_MIN_CRL_REFRESH_S 10
#define HUBCONF_MAX_CRL_REFRESH_S 604800
#define HUBCONF_DEFAULT_CRL_TIMEOUT_S 30
#define HUBCONF_MIN_CRL_TIMEOUT_S 1
#define HUBCONF_MAX_CRL_TIMEOUT_S 600

struct hubconf {
    char *path;                     /* the file itself */
    char *listen;                   /* ZeroMQ endpoint the ROUTER binds */
    char *cert;                     /* the hub's certificate (role hub) */
    char *key;                      /* its private key */
    char *ca_cert;                  /* the federation CA certificate(s) */
    char *crl;                      /* the CA's CRL: required, fail closed */
    char *crl_url;                  /* http(s) URL to fetch the CRL from, or NULL */
    uint32_t crl_refresh_s, crl_timeout_s;
    char *log;                      /* the relay log (SQLite, hub/relaylog.h) */
    char *state;                    /* the state file `fedra-hub status` reads */
    struct relay_limits lim;        /* timeout_max_ms, queue_per_node, inflight_max, skew_ms */
    char *roster;                   /* pooled release: every participant's name, comma-separated */
    uint32_t roster_min;            /* RELAY_MIN_ROSTER; lower only to test (disclosure.md §8.3) */
    uint32_t pool_audit;            /* 1 (default): the pooled auditor; 0 only to test (§8.7) */
    char *pool_history;             /* its history file (hub/phist.h); default LOG.pool-history */
    uint32_t seen;                  /* bit per key: a key given twice is refused */
};

int hubconf_load(const char *path, struct hubconf *c, char *err);
void hubconf_release(struct hubconf *c);

#endif /* !HUBCONF_H */
