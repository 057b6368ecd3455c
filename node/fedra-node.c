/*
 * fedra-node - the national registry's program: import the registry extract,
 * serve signed aggregate queries, and check the audit log.  Its commands,
 * their help and their dispatch come from one table (lib/cli.h) at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs/pki.h"
#include "lib/cli.h"
#include "lib/util.h"
#include "node/audit.h"
#include "node/cmd_import.h"
#include "node/serve.h"
#include "node/status.h"
#include "node/store.h"
#include "node/witness.h"

static int
cmd_serve(int argc, char **argv)
{
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else {
            fprintf(stderr, "fedra-node serve: unexpected argument '%s'; see "
                "'fedra-node serve --help'\n", argv[i]);
            return 2;
        }
    }
    if (config == NULL) {
        fputs("fedra-node serve: --config FILE is required; see 'fedra-node serve --help'\n",
            stderr);
        return 2;
    }
    return serve_main(config);
}

static int
cmd_status(int argc, char **argv)
{
    const char *config = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            const char *f = argv[++i];
            if (strcmp(f, "json") == 0)
                json = 1;
            else if (strcmp(f, "text") != 0) {
                fprintf(stderr, "fedra-node status: unknown format '%s' (text or json)\n", f);
                return 2;
            }
        } else {
            fprintf(stderr, "fedra-node status: unexpected argument '%s'; see "
                "'fedra-node status --help'\n", argv[i]);
            return 2;
        }
    }
    if (config == NULL) {
        fputs("fedra-node status: --config FILE is required; see 'fedra-node status --help'\n",
            stderr);
        return 2;
    }
    return status_report(config, json, stdout, stderr);
}

/* The bundles' witnessed heads against the log (node/witness.h); 0, 1, or -1 on error. */
static int
audit_bundles(struct store *s, const char *ca, const char *crl, const char *node,
    char *const *bundles, size_t n)
{
    char err[FEDRA_ERRLEN];
    struct pki_trust *trust = NULL;
    struct witness_report rep;
    if (ca != NULL && pki_trust_load(ca, crl, crl != NULL, &trust, err) != 0) {
        fprintf(stderr, "fedra-node audit verify: %s\n", err);
        return 1;
    }
    int v = witness_check(store_db(s), trust, node, bundles, n, stderr, &rep, err);
    pki_trust_free(trust);
    if (v < 0) {
        fprintf(stderr, "fedra-node audit verify: %s\n", err);
        return 1;
    }
    if (v == 0)
        printf("bundles: %zu answers of node %s witness the log up to entry %lld, and every "
            "witnessed entry is in it (log ends at entry %lld)\n", rep.checked, rep.node,
            (long long)rep.highest, (long long)rep.log_end);
    else
        fprintf(stderr, "fedra-node audit verify: the log does NOT hold what %zu answers of "
            "node %s witness (%zu problems)\n", rep.checked, rep.node, rep.problems);
    if (rep.others > 0 || rep.unwitnessed > 0)
        printf("bundles: skipped %zu answers of other nodes and %zu answers of node %s that "
            "witness no head\n", rep.others, rep.unwitnessed, rep.node);
    return v;
}

/* `audit verify` and `audit export`: argv[0] is the action. */
static int
cmd_audit(int argc, char **argv)
{
    const char *db = NULL, *ca = NULL, *crl = NULL, *node = NULL, *verb = argv[0];
    char **bundles = xcalloc((size_t)argc, sizeof *bundles);
    size_t nb = 0;
    int verify = strcmp(verb, "verify") == 0, rc = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (verify && strcmp(argv[i], "--ca-cert") == 0 && i + 1 < argc)
            ca = argv[++i];
        else if (verify && strcmp(argv[i], "--crl") == 0 && i + 1 < argc)
            crl = argv[++i];
        else if (verify && strcmp(argv[i], "--node") == 0 && i + 1 < argc)
            node = argv[++i];
        else if (verify && argv[i][0] != '-')
            bundles[nb++] = argv[i];
        else {
            fprintf(stderr, "fedra-node audit %s: unexpected argument '%s'; see 'fedra-node "
                "audit %s --help'\n", verb, argv[i], verb);
            goto out;
        }
    }
    if (db == NULL) {
        fprintf(stderr, "fedra-node audit %s: --db FILE is required; see 'fedra-node audit "
            "%s --help'\n", verb, verb);
        goto out;
    }
    if ((nb == 0 && (ca != NULL || crl != NULL || node != NULL)) || (crl != NULL && !ca)) {
        fputs("fedra-node audit verify: --ca-cert, --crl and --node go with BUNDLE files, "
            "and --crl with --ca-cert; see 'fedra-node audit verify --help'\n", stderr);
        goto out;
    }
    char err[FEDRA_ERRLEN];
    struct store *s;
    if (store_open(db, 1, &s, err) != 0) {
        fprintf(stderr, "fedra-node audit: %s\n", err);
        rc = 1;
        goto out;
    }
    if (!verify) {
        rc = audit_export(store_db(s), stdout, err) == 0 ? 0 : 1;
        if (rc)
            fprintf(stderr, "fedra-node audit export: %s\n", err);
    } else {
        uint64_t n;
        int v = audit_verify(store_db(s), &n, err);
        if (v == 0)
            printf("audit log intact: %llu entries\n", (unsigned long long)n);
        else
            fprintf(stderr, "fedra-node audit verify: %s\n", err);
        rc = v == 0 ? 0 : 1;
        if (nb > 0 && audit_bundles(s, ca, crl, node, bundles, nb) != 0)
            rc = 1;
    }
    store_free(s);
out:
    free(bundles);
    return rc;
}

/* ---- the command table -------------------------------------------------- */

static const struct cli_command commands[] = {
    {
        .name = "import",
        .args = "--db FILE [--replace] CSV...",
        .summary = "validate registry extracts and load them into the store (all or nothing)",
        .about =
            "Validate registry extracts and load them into the node's store, all or\n"
            "nothing: if any value of any file breaks a rule, every problem is listed\n"
            "as FILE:LINE: COLUMN: VALUE: RULE and nothing is imported.  Re-importing\n"
            "is idempotent (rows are keyed by patient_id; changed rows are updated).\n"
            "A running node picks the new data up on SIGHUP.\n"
            "\n"
            "Exit status: 0 imported, 1 rejected or failed (nothing imported), 2 usage error.\n",
        .options =
            "  --db FILE    the node's store (created if it does not exist)\n"
            "  --replace    make the store hold exactly the rows of these files:\n"
            "               stored patients absent from them are deleted\n"
            "  -h, --help   show this help\n",
        .more = cmd_import_print_rules,
        .example =
            "  fedra-node import --db /var/lib/fedra/store.db extract-2026.csv\n",
        .run = cmd_import,
    },
    {
        .name = "serve",
        .args = "--config FILE",
        .summary = "answer signed queries until SIGTERM/SIGINT; SIGHUP reloads",
        .about =
            "Run the node in the foreground; logs go to stderr, one line per event.\n"
            "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads the CA, CRL, the\n"
            "node's certificate and key, the disclosure policy and the data snapshot.\n"
            "The config file is documented in docs/node-config.md.\n",
        .options =
            "  --config FILE   the node's configuration (db, listen and/or hub, cert, key,\n"
            "                  ca_cert, crl and the disclosure policy)\n"
            "  -h, --help      show this help\n",
        .example =
            "  fedra-node serve --config /etc/fedra/node.conf\n",
        .run = cmd_serve,
    },
    {
        .name = "status",
        .args = "--config FILE [--format text|json]",
        .summary = "uptime, data, certificate expiry, CRL and queries of this node",
        .about =
            "What a service owner needs: whether the node runs (pid, uptime, endpoint),\n"
            "its data (rows, hash, import time), its certificate's expiry (days left),\n"
            "the CRL (number, age, nextUpdate; the last fetch with crl_url), the\n"
            "queries answered and refused (audit log) and, with hub, the link to the\n"
            "hub (state, since when, last welcome, the hub's certificate).  Reads files\n"
            "only; never talks to the node.  Exit status: 0 running and able to answer;\n"
            "3 not running, every query would be refused, or the hub link is not up\n"
            "(each problem is named); 1 config or store unreadable; 2 usage.\n",
        .options =
            "  --config FILE    the node's configuration, as given to serve\n"
            "  --format F       text (default) or json (for monitoring)\n"
            "  -h, --help       show this help\n",
        .example =
            "  fedra-node status --config /etc/fedra/node.conf\n"
            "  fedra-node status --config /etc/fedra/node.conf --format json\n",
        .run = cmd_status,
    },
    {
        .name = "audit verify",
        .args = "--db FILE [--ca-cert FILE [--crl FILE]] [--node NAME] [BUNDLE...]",
        .summary = "check the hash-chained audit log, and against bundles that witness it",
        .about =
            "Check the hash chain of the node's audit log (one entry per query\n"
            "answered or refused).  The chain shows an entry edited or missing inside\n"
            "the log, but not entries cut from its end.  Every signed answer to a\n"
            "verified analyst carries the log's head (entry S and its hash) just before\n"
            "the answer's own entry, so a bundle saved with 'fedra --bundle' witnesses\n"
            "the log.  With bundles, every answer of this node in them is checked:\n"
            "entry S has the hash the answer witnesses, and entry S+1 records that\n"
            "answer.  The bundles' signatures are verified first, so that a forged\n"
            "bundle cannot make an honest log look cut: against the federation CA\n"
            "with --ca-cert, else against the node certificate the log records at\n"
            "each start (with the node's name; --node overrides the name).\n"
            "Exit 0 and print the number of entries if all holds; else exit 1 naming\n"
            "the first bad entry, and each witnessed entry missing or different.\n",
        .options =
            "  --db FILE       the node's store\n"
            "  --ca-cert FILE  check the bundles' node certificates against this CA\n"
            "  --crl FILE      a CRL to check the node's certificates against\n"
            "  --node NAME     the node whose answers witness this log (default: the\n"
            "                  name its 'started' entries record)\n"
            "  BUNDLE...       bundles saved with 'fedra --bundle'\n"
            "  -h, --help      show this help\n",
        .example =
            "  fedra-node audit verify --db /var/lib/fedra/store.db\n"
            "  fedra-node audit verify --db /var/lib/fedra/store.db km.bundle cox.bundle\n",
        .run = cmd_audit,
    },
    {
        .name = "audit export",
        .args = "--db FILE",
        .summary = "write the audit log as JSON lines",
        .about =
            "Write the audit log on stdout, one JSON object per entry (for an ethics\n"
            "board).  Exit 0, or 1 if the store cannot be read.\n",
        .options =
            "  --db FILE    the node's store\n"
            "  -h, --help   show this help\n",
        .example =
            "  fedra-node audit export --db /var/lib/fedra/store.db >audit.jsonl\n",
        .run = cmd_audit,
    },
};

static const struct cli_program program = {
    .name = "fedra-node",
    .about =
        "The national registry's node: import the registry extract, serve signed\n"
        "aggregate queries from the federation's analysts, and check the audit log.\n",
    .commands = commands,
    .ncommands = sizeof commands / sizeof commands[0],
};

int
main(int argc, char **argv)
{
    return cli_main(&program, argc, argv);
}
