/*
 * config - the node's configuration file.
 *
 * Format: "key = value" lines, '#' comments (lib/kv.h).
 * Relative paths are resolved against the directory of the config file.
 * Every key is listed in CONFIG_KEYS below and documented in
 * docs/node-config.md; an unknown key, a missing required key or a bad value
 * is refused at start with the file, line, key and reason.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdint.h>

#include "analysis/disclose.h"
#include "analysis/pool.h"

#define CONFIG_DEFAULT_SKEW_S 120       /* clock skew tolerated on query times */
#define CONFIG_MAX_SKEW_S 3600
#define CONFIG_DEFAULT_MAX_SEEN 100000  /* replay cache entries before failing closed */
#define CONFIG_DEFAULT_CERT_WARN_DAYS 30 /* warn when a certificate expires within this */
#define CONFIG_MAX_CERT_WARN_DAYS 3650
#define CONFIG_MIN_MAX_SEEN 100
#define CONFIG_MAX_MAX_SEEN 100000000
#define CONFIG_MAX_URL 2048             /* longest crl_url */
#define CONFIG_DEFAULT_CRL_REFRESH_S 3600
#define CONFIG_MIN_CRL_REFRESH_S 10
#define CONFIG_MAX_CRL_REFRESH_S 604800 /* a week: a CRL usually lives 7 days */
#define CONFIG_DEFAULT_CRL_TIMEOUT_S 30 /* whole fetch, connect to last byte */
#define CONFIG_MIN_CRL_TIMEOUT_S 1
#define CONFIG_MAX_CRL_TIMEOUT_S 600
#define CONFIG_MAX_SOCKS 255           /* longest socks_proxy, host:port */
#define CONFIG_STATUS_SUFFIX ".status"  /* the running node's state file: DB.status */

struct node_config {
    char *path;                     /* the file itself */
    char *db;                       /* store (SQLite) */
    char *listen;                   /* ZeroMQ endpoint to bind, or NULL (then hub is set) */
    char *hub;                      /* the hub's endpoint the node dials, or NULL */
    char *hub_cert;                 /* the hub's certificate (with hub) */
    char *socks_proxy;              /* SOCKS5 proxy "host:port" to reach the hub, or NULL */
    char *cert;                     /* node certificate (PEM) */
    char *key;                      /* node private key (PEM, mode 0600) */
    char *ca_cert;                  /* federation CA certificate(s) */
    char *crl;                      /* CRL file (PEM or DER); required: fail closed */
    struct disclose_policy policy;  /* min_cell, time_grid_days */
    uint32_t clock_skew_s;          /* tolerated skew on issued_at / expires_at */
    uint32_t max_seen;              /* replay cache capacity */
    uint32_t cert_warn_days;        /* expiry warning horizon for own and CA certificates */
    char *crl_url;                  /* http(s) URL the CRL is fetched from, or NULL */
    uint32_t crl_refresh_s;         /* fetch interval (crl_url) */
    uint32_t crl_timeout_s;         /* bound on one whole fetch */
    char *status_file;              /* DB.status: pid, start time, CRL state (status.h) */
    uint32_t seen_keys;             /* bit per key of config.c's table: duplicates refused */
    uint32_t query_audit;           /* 1: refuse differencing (node/qaudit.h) */
    int durability_normal;          /* 1: audit commits without fsync (docs/node-config.md) */
    uint32_t model_path_check;      /* 1: model rounds only on their fit's path (R1) */
    uint32_t min_sites;             /* pooled release: nodes a pooled cell needs (analysis/pool.h) */
    uint32_t pool_min_participants; /* pooled release: roster size it takes part in (>= 2) */
};

int config_load(const char *path, struct node_config *c, char *err);
void config_release(struct node_config *c);

#endif /* !CONFIG_H */
