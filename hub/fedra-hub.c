/*
 * fedra-hub - the federation's relay, run by the coordinating centre: nodes
 * behind firewalls dial out to it, analysts send it sealed queries, and it
 * passes sealed answers back without being able to read or forge either
 * (proto/DESIGN.md "Through a hub").  Its commands, their help and their
 * dispatch come from one table (lib/cli.h) at the end.
 */
#include <stdio.h>
#include <string.h>

#include "hub/hubconf.h"
#include "hub/hubserve.h"
#include "hub/hubstatus.h"
#include "hub/pool.h"
#include "hub/relaylog.h"
#include "lib/cli.h"
#include "lib/util.h"

/*
 * The options of serve and status: --config FILE (required) and, for status,
 * --format text|json.  0, or CLI_EXIT_USAGE with the reason on stderr.
 */
static int
config_args(int argc, char **argv, int with_format, const char **config, int *json)
{
    *config = NULL;
    *json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            *config = argv[++i];
        } else if (with_format && strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            const char *f = argv[++i];
            if (strcmp(f, "json") != 0 && strcmp(f, "text") != 0) {
                fprintf(stderr, "fedra-hub %s: unknown format '%s' (text or json)\n", argv[0], f);
                return CLI_EXIT_USAGE;
            }
            *json = strcmp(f, "json") == 0;
        } else {
            fprintf(stderr, "fedra-hub %s: unexpected argument '%s'; see 'fedra-hub %s --help'\n",
                argv[0], argv[i], argv[0]);
            return CLI_EXIT_USAGE;
        }
    }
    if (*config == NULL) {
        fprintf(stderr, "fedra-hub %s: --config FILE is required; see 'fedra-hub %s --help'\n",
            argv[0], argv[0]);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static int
cmd_serve(int argc, char **argv)
{
    const char *config;
    int json, rc = config_args(argc, argv, 0, &config, &json);
    return rc != 0 ? rc : hubserve_main(config, NULL, NULL);
}

static int
cmd_status(int argc, char **argv)
{
    const char *config;
    int json, rc = config_args(argc, argv, 1, &config, &json);
    return rc != 0 ? rc : hubstatus_report(config, json, stdout, stderr);
}

/* `log verify` and `log export`: argv[0] is the action; --config FILE or --db FILE. */
static int
cmd_log(int argc, char **argv)
{
    const char *config = NULL, *db = NULL, *verb = argv[0];
    char err[FEDRA_ERRLEN];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else {
            fprintf(stderr, "fedra-hub log %s: unexpected argument '%s'; see 'fedra-hub log "
                "%s --help'\n", verb, argv[i], verb);
            return CLI_EXIT_USAGE;
        }
    }
    if ((config == NULL) == (db == NULL)) {
        fprintf(stderr, "fedra-hub log %s: give --config FILE or --db FILE (one of them); see "
            "'fedra-hub log %s --help'\n", verb, verb);
        return CLI_EXIT_USAGE;
    }
    struct hubconf cfg;
    memset(&cfg, 0, sizeof cfg);
    if (config != NULL) {
        if (hubconf_load(config, &cfg, err) != 0) {
            fprintf(stderr, "fedra-hub log %s: %s\n", verb, err);
            hubconf_release(&cfg);
            return 1;
        }
        db = cfg.log;
    }
    struct relaylog *l;
    int rc = 1;
    if (relaylog_open(db, 1, &l, err) != 0) {
        fprintf(stderr, "fedra-hub log %s: %s\n", verb, err);
    } else if (strcmp(verb, "export") == 0) {
        rc = relaylog_export(l, stdout, err) == 0 ? 0 : 1;
        if (rc)
            fprintf(stderr, "fedra-hub log export: %s\n", err);
    } else {
        uint64_t n;
        int v = relaylog_verify(l, &n, err);
        if (v == 0)
            printf("relay log intact: %llu entries\n", (unsigned long long)n);
        else
            fprintf(stderr, "fedra-hub log verify: %s\n", err);
        rc = v == 0 ? 0 : 1;
    }
    relaylog_close(l);
    hubconf_release(&cfg);
    return rc;
}

/*
 * `recompute --config FILE --route HEX`: the relay log's chain first (a kept
 * share altered breaks it), then the pooled release of that route rebuilt
 * from the kept query and shares and compared with the one the hub signed.
 */
static int
cmd_recompute(int argc, char **argv)
{
    const char *config = NULL, *route = NULL;
    char err[FEDRA_ERRLEN];
    uint8_t rid[WIRE_QUERY_ID_LEN];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--route") == 0 && i + 1 < argc)
            route = argv[++i];
        else {
            fprintf(stderr, "fedra-hub recompute: unexpected argument '%s'; see 'fedra-hub "
                "recompute --help'\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (config == NULL || route == NULL ||
        util_unhex(route, rid, sizeof rid) != 0 || strlen(route) != 2 * sizeof rid) {
        fputs("fedra-hub recompute: give --config FILE and --route HEX (32 hex digits: the "
            "route_id of a release entry in 'fedra-hub log export')\n", stderr);
        return CLI_EXIT_USAGE;
    }
    struct hubconf cfg;
    struct pki_trust *trust = NULL;
    struct relaylog *l = NULL;
    uint64_t n;
    int rc = 1;
    if (hubconf_load(config, &cfg, err) != 0 ||
        pki_trust_load(cfg.ca_cert, cfg.crl, 1, &trust, err) != 0 ||
        relaylog_open(cfg.log, 1, &l, err) != 0)
        fprintf(stderr, "fedra-hub recompute: %s\n", err);
    else if (relaylog_verify(l, &n, err) != 0)
        fprintf(stderr, "fedra-hub recompute: the relay log does not hold: %s\n", err);
    else if (hubpool_recompute(l, trust, rid, stdout, err) != 0)
        fprintf(stderr, "fedra-hub recompute: %s\n", err);
    else
        rc = 0;
    relaylog_close(l);
    pki_trust_free(trust);
    hubconf_release(&cfg);
    return rc;
}

/* ---- the command table -------------------------------------------------- */

static const struct cli_command commands[] = {
    {
        .name = "serve",
        .args = "--config FILE",
        .summary = "relay sealed queries and answers until SIGTERM/SIGINT; SIGHUP reloads",
        .about =
            "Run the hub in the foreground; logs go to stderr, one line per event.\n"
            "Nodes behind firewalls connect to it and say who they are (certificate);\n"
            "analysts send it signed routes of sealed queries; it forwards each sealed\n"
            "query to the node named and passes the sealed answer back.  It can read\n"
            "neither, and logs who talked to whom, when and how much (the relay log).\n"
            "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads the CA, CRL, the\n"
            "hub's certificate and the limits.  The config file is documented in\n"
            "docs/hub-config.md.\n"
            "\n"
            "Exit status: 0 stopped cleanly, 1 could not start (the reason on stderr),\n"
            "2 usage error.\n",
        .options =
            "  --config FILE   the hub's configuration (listen, cert, key, ca_cert, crl,\n"
            "                  log and the limits)\n"
            "  -h, --help      show this help\n",
        .example =
            "  fedra-hub serve --config /etc/fedra/hub.conf\n",
        .run = cmd_serve,
    },
    {
        .name = "status",
        .args = "--config FILE [--format text|json]",
        .summary = "whether the hub runs and relays, its nodes, analysts, counters, CRL",
        .about =
            "What the hub's operator needs: whether it runs (pid, uptime, endpoint) and\n"
            "relays (or why not), its certificate's expiry, the CRL (number, next\n"
            "update, last fetch), the nodes it knows (connected since, last hello,\n"
            "queries waiting), the analysts seen, routes relayed, answers, timeouts,\n"
            "busy, refused and junk dropped, and the relay log's entries.  Reads files\n"
            "only; never talks to the hub.  Exit status: 0 running and relaying; 3 not\n"
            "running or relaying nothing (each problem named); 1 config unreadable;\n"
            "2 usage.\n",
        .options =
            "  --config FILE    the hub's configuration, as given to serve\n"
            "  --format F       text (default) or json (for monitoring)\n"
            "  -h, --help       show this help\n",
        .example =
            "  fedra-hub status --config /etc/fedra/hub.conf\n"
            "  fedra-hub status --config /etc/fedra/hub.conf --format json\n",
        .run = cmd_status,
    },
    {
        .name = "log verify",
        .args = "--config FILE | --db FILE",
        .summary = "check the hash chain of the relay log",
        .about =
            "Check the hash chain of the hub's relay log (one entry per route, forward,\n"
            "answer, timeout, busy, refusal, node hello).  An entry edited, deleted or\n"
            "reordered breaks the chain.  Exit 0 and print the number of entries if it\n"
            "holds; else exit 1 naming the first bad entry.\n",
        .options =
            "  --config FILE   the hub's configuration (its `log` key names the log)\n"
            "  --db FILE       the relay log itself\n"
            "  -h, --help      show this help\n",
        .example =
            "  fedra-hub log verify --config /etc/fedra/hub.conf\n",
        .run = cmd_log,
    },
    {
        .name = "log export",
        .args = "--config FILE | --db FILE",
        .summary = "write the relay log as JSON lines",
        .about =
            "Write the relay log on stdout, one JSON object per entry: seq, time, kind,\n"
            "analyst, route_id, query_hash, node, answer_sha256, size, note and the\n"
            "entry's hash.  No entry holds a query or an answer.  Exit 0, or 1 if the\n"
            "log cannot be read.\n",
        .options =
            "  --config FILE   the hub's configuration\n"
            "  --db FILE       the relay log itself\n"
            "  -h, --help      show this help\n",
        .example =
            "  fedra-hub log export --config /etc/fedra/hub.conf >relay.jsonl\n",
        .run = cmd_log,
    },
    {
        .name = "recompute",
        .args = "--config FILE --route HEX",
        .summary = "recompute a pooled release from the masked shares the hub kept",
        .about =
            "For pooled release the hub keeps, in its relay log, the pooled query, every\n"
            "node's masked share and the release it signed (docs/disclosure.md §8).\n"
            "This checks the log's hash chain, verifies each kept share against the node's\n"
            "signed commitment, adds them again, applies the rules again and compares\n"
            "the result byte for byte with the signed release.  Exit 0 if it is the same;\n"
            "1 naming what differs or is missing; 2 usage.\n",
        .options =
            "  --config FILE   the hub's configuration (log, ca_cert, crl)\n"
            "  --route HEX     the route_id of the release (fedra-hub log export)\n"
            "  -h, --help      show this help\n",
        .example =
            "  fedra-hub recompute --config /etc/fedra/hub.conf \\\n"
            "      --route 3f2a9c0d1e4b5a697887766554433221\n",
        .run = cmd_recompute,
    },
};

static const struct cli_program program = {
    .name = "fedra-hub",
    .about =
        "The federation's relay: nodes that may not accept connections dial out to\n"
        "it, and it relays sealed queries and answers it can neither read nor forge.\n",
    .commands = commands,
    .ncommands = sizeof commands / sizeof commands[0],
};

int
main(int argc, char **argv)
{
    return cli_main(&program, argc, argv);
}
