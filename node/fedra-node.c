/*
 * fedra-node - the national registry's program: import the registry extract,
 * serve signed aggregate queries, and check the audit log.
 */
#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "node/audit.h"
#include "node/cmd_import.h"
#include "node/serve.h"
#include "node/status.h"
#include "node/store.h"

static const char usage[] =
    "usage: fedra-node COMMAND ...\n"
    "\n"
    "  import --db FILE [--replace] CSV...   validate and load registry extracts (all or nothing)\n"
    "  serve --config FILE                   answer signed queries until SIGTERM/SIGINT;\n"
    "                                        SIGHUP reloads CRL, certificates, policy and data\n"
    "  status --config FILE [--format json]  uptime, data, certificate expiry, CRL, queries\n"
    "  audit verify --db FILE                check the hash-chained audit log\n"
    "  audit export --db FILE                write the audit log as JSON lines\n"
    "\n"
    "Run 'fedra-node COMMAND --help' for the options of one command.\n";

static int
cmd_serve(int argc, char **argv)
{
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs("usage: fedra-node serve --config FILE\n"
                  "Run the node in the foreground; logs go to stderr, one line per event.\n"
                  "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads the CA, CRL, the\n"
                  "node's certificate and key, the disclosure policy and the data snapshot.\n"
                  "The config file is documented in docs/node-config.md.\n", stdout);
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else {
            fprintf(stderr, "fedra-node serve: unexpected argument '%s'\n"
                "usage: fedra-node serve --config FILE\n", argv[i]);
            return 2;
        }
    }
    if (config == NULL) {
        fputs("fedra-node serve: --config FILE is required\n", stderr);
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
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs("usage: fedra-node status --config FILE [--format text|json]\n"
                  "What a service owner needs: whether the node runs (pid, uptime, endpoint),\n"
                  "its data (rows, hash, import time), its certificate's expiry (days left),\n"
                  "the CRL (number, age, nextUpdate; the last fetch with crl_url) and the\n"
                  "queries answered and refused (audit log).  Reads files only; never talks\n"
                  "to the node.  Exit status: 0 running and able to answer; 3 not running, or\n"
                  "every query would be refused (each problem is named); 1 config or store\n"
                  "unreadable; 2 usage.\n", stdout);
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
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
            fprintf(stderr, "fedra-node status: unexpected argument '%s'\n"
                "usage: fedra-node status --config FILE [--format text|json]\n", argv[i]);
            return 2;
        }
    }
    if (config == NULL) {
        fputs("fedra-node status: --config FILE is required\n", stderr);
        return 2;
    }
    return status_report(config, json, stdout, stderr);
}

static int
cmd_audit(int argc, char **argv)
{
    const char *db = NULL, *verb = argc > 1 ? argv[1] : "";
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        fputs("usage: fedra-node audit verify --db FILE\n"
              "       fedra-node audit export --db FILE\n"
              "verify: exit 0 if the hash chain is intact, else 1 naming the first bad entry.\n"
              "export: one JSON object per entry on stdout (for an ethics board).\n", stdout);
        return 0;
    }
    if (strcmp(verb, "verify") != 0 && strcmp(verb, "export") != 0) {
        fprintf(stderr, "fedra-node audit: unknown action '%s' (verify or export)\n", verb);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else {
            fprintf(stderr, "fedra-node audit %s: unexpected argument '%s'\n", verb, argv[i]);
            return 2;
        }
    }
    if (db == NULL) {
        fprintf(stderr, "fedra-node audit %s: --db FILE is required\n", verb);
        return 2;
    }
    char err[FEDRA_ERRLEN];
    struct store *s;
    if (store_open(db, 1, &s, err) != 0) {
        fprintf(stderr, "fedra-node audit: %s\n", err);
        return 1;
    }
    int rc;
    if (strcmp(verb, "export") == 0) {
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
    }
    store_free(s);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "import") == 0)
        return cmd_import(argc - 1, argv + 1);
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "status") == 0)
        return cmd_status(argc - 1, argv + 1);
    if (strcmp(argv[1], "audit") == 0)
        return cmd_audit(argc - 1, argv + 1);
    fprintf(stderr, "fedra-node: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
