/*
 * hubstatus - what the hub's operator needs in one command:
 * `fedra-hub status --config FILE [--format text|json]`.
 *
 * The running hub rewrites a state file (config key `state`, JSON, atomic)
 * at start, at most once a second while something changes, on SIGHUP and at
 * a clean stop: pid, endpoint, CRL held and last fetch, whether it relays
 * (and why not), its counters, the nodes it knows (live or not, since, last
 * hello, queries waiting) and the analysts whose routes verified.  The
 * report adds the certificate and CRL files as they are now, and the relay
 * log's entries by kind; it never talks to the hub.
 *
 * Exit status, as the node's: 0 the hub runs and relays; 3 it does not run,
 * or runs but relays nothing (each problem named); 1 the config is
 * unreadable; 2 usage.
 */
#ifndef HUBSTATUS_H
#define HUBSTATUS_H

#include <stdint.h>
#include <stdio.h>

#include "hub/relay.h"

#define HUBSTATUS_MAX_FILE (4u << 20)   /* largest state file read (RELAY_MAX_NODES entries) */
#define HUBSTATUS_CERT_WARN_DAYS 30     /* a certificate this close to expiry is a problem */
#define HUBSTATUS_MAX_CMDLINE 65536     /* of a process checked for being the hub */

/* The hub's own facts for the state file; strings may be NULL. */
struct hubstatus_state {
    int64_t pid;
    int64_t started_at_ms;
    int64_t stopped_at_ms;          /* 0 while running */
    const char *name;
    const char *endpoint;
    const char *version;
    int64_t crl_number;             /* held */
    int64_t crl_next_update;        /* Unix seconds, -1 if none */
    int64_t crl_installed_at_ms;
    const char *crl_url;
    int64_t fetch_at_ms, fetch_ok_at_ms;
    const char *fetch_result;
    const char *closed;             /* why the hub relays nothing now, or NULL */
};

/* Write the state file: s and what relay r holds (r may be NULL). */
int hubstatus_write(const char *path, const struct hubstatus_state *s, const struct relay *r,
    char *err);

/* Print the status of the hub of config_path; returns the exit status above. */
int hubstatus_report(const char *config_path, int json, FILE *out, FILE *errout);

#endif /* !HUBSTATUS_H */
