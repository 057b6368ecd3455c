/*
 * status - what a service owner needs to know about a node, in one command:
 * `fedra-node status --config FILE [--format text|json]`.
 *
 * Two sources.  The running node keeps a small state file, DB.status (JSON,
 * written atomically): its pid, start time, endpoint, the CRL it holds and
 * the outcome of the last CRL fetch, and with `hub` the state of its link to
 * the hub; it is rewritten at start, on every CRL change or fetch, on every
 * change of the hub link (and each welcome), on SIGHUP and at a clean stop.  Everything else is read
 * where it lives: the snapshot metadata and the audit log (queries answered
 * and refused) from the store, opened read-only; the certificate and the CRL
 * from their files.  So `status` works whether the node runs or not, and
 * never talks to the node.
 *
 * Exit status: 0 the node runs and can answer (certificate valid, CRL
 * current, and with hub its link up); 3 it does not run, or it runs but
 * refuses every query (expired certificate or CRL), or its hub link is not up
 * (nothing reaches it through the hub), each problem named; 1 the config or
 * store is unreadable; 2 usage.
 */
#ifndef STATUS_H
#define STATUS_H

#include <stdint.h>
#include <stdio.h>

#include "node/hublink.h"

#define STATUS_MAX_FILE 65536           /* largest state file read */
#define STATUS_CERT_WARN_DAYS 30        /* a certificate this close to expiry is a problem */

/* What the node records in its state file; strings may be NULL. */
struct status_state {
    int64_t pid;
    int64_t started_at_ms;
    int64_t stopped_at_ms;          /* 0 while running */
    const char *name;
    const char *endpoint;
    const char *version;
    int64_t crl_number;             /* the CRL the node holds */
    int64_t crl_next_update;        /* Unix seconds, -1 if none */
    int64_t crl_installed_at_ms;    /* when the node took it */
    const char *crl_url;            /* NULL without crl_url */
    uint32_t crl_refresh_s;
    int64_t fetch_at_ms;            /* last fetch finished, 0 never */
    int64_t fetch_ok_at_ms;         /* last fetch that gave a verified CRL, 0 never */
    const char *fetch_result;       /* what the last fetch gave and what the node did with it */
    const struct hublink_info *hub; /* with hub: the link (NULL without) */
};

int status_write(const char *path, const struct status_state *s, char *err);

/* Print the status of the node of config_path to out; returns the exit status above. */
int status_report(const char *config_path, int json, FILE *out, FILE *errout);

#endif /* !STATUS_H */
