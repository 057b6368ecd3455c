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

#define CONFIG_DEFAULT_SKEW_S 120       /* clock skew tolerated on query times */
#define CONFIG_MAX_SKEW_S 3600
#define CONFIG_DEFAULT_MAX_SEEN 100000  /* replay cache entries before failing closed */

struct node_config {
    char *path;                     /* the file itself */
    char *db;                       /* store (SQLite) */
    char *listen;                   /* ZeroMQ endpoint, e.g. tcp://127.0.0.1:7001 */
    char *cert;                     /* node certificate (PEM) */
    char *key;                      /* node private key (PEM, mode 0600) */
    char *ca_cert;                  /* federation CA certificate(s) */
    char *crl;                      /* CRL file (PEM or DER); required: fail closed */
    struct disclose_policy policy;  /* min_cell, time_grid_days */
    uint32_t clock_skew_s;          /* tolerated skew on issued_at / expires_at */
    uint32_t max_seen;              /* replay cache capacity */
    uint32_t query_audit;           /* 1: refuse differencing (node/qaudit.h) */
};

int config_load(const char *path, struct node_config *c, char *err);
void config_release(struct node_config *c);

#endif /* !CONFIG_H */
