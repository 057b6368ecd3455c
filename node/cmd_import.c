/*
 * cmd_import - see cmd_import.h.  Report lines and warnings go to stderr,
 * the one-line summary of a successful import to stdout, and the progress
 * counter to stderr only when it is a terminal.
 */
#include "node/cmd_import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "node/import.h"
#include "node/store.h"
#include "proto/vars.h"

static const char usage_line[] = "usage: fedra-node import --db FILE [--replace] CSV...\n";

void
cmd_import_print_rules(FILE *out)
{
    const struct var_def *t = vars_get(VAR_TUMOUR_TYPE);

    fputs("CSV: UTF-8 (BOM accepted), comma separated, RFC 4180 quoting, LF or CRLF;\n"
        "a header row names the columns, in any order; an empty field is missing.\n"
        "  patient_id             required, 1-64 characters, unique\n"
        "  eupid                  optional, at most 128 characters\n"
        "  sex                    required: F, M, U\n"
        "  age_at_diagnosis_days  required: whole number 0-36500\n"
        "  diagnosis_date         required: YYYY-MM-DD, 1950-01-01 to today\n"
        "  tumour_type            required: a code listed below\n"
        "  icdo3_morphology       optional: NNNN/B, B in 0-3, 6, 9 (e.g. 8370/3)\n"
        "  icdo3_topography       optional: CNN or CNN.N (e.g. C74.0)\n"
        "  stage                  required: localized, regional, metastatic, unknown\n"
        "  surgery, chemotherapy, radiotherapy\n"
        "                         required: yes, no, unknown\n"
        "  vital_status           required: alive, dead\n"
        "  last_contact_date      required: date, not before diagnosis_date, not after today\n"
        "  event_date             optional: date between diagnosis_date and last_contact_date\n"
        "tumour_type codes:\n", out);
    for (size_t i = 0; i < t->nlevels; i++)
        fprintf(out, "  %s\n", t->levels[i]);
}

/* "import: MSG" (+ " 'ARG'"), the usage line, exit status 2. */
static int
usage_error(const char *msg, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "import: %s '%s'\n", msg, arg);
    else
        fprintf(stderr, "import: %s\n", msg);
    fputs(usage_line, stderr);
    fputs("(run 'fedra-node import --help' for the columns and rules)\n", stderr);
    return 2;
}

int
cmd_import(int argc, char **argv)
{
    const char *db = NULL;
    const char **files = xcalloc((size_t)(argc > 0 ? argc : 1), sizeof *files);
    size_t nfiles = 0;
    struct import_opts opts = {0};
    struct import_stats st;
    struct buf report = {0};
    struct store *s = NULL;
    char err[FEDRA_ERRLEN] = "";
    int status = 1, options_done = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            files[nfiles++] = a;
        } else if (strcmp(a, "--") == 0) {
            options_done = 1;
        } else if (strcmp(a, "--replace") == 0) {
            opts.replace = 1;
        } else if (strcmp(a, "--db") == 0 || strncmp(a, "--db=", 5) == 0) {
            if (db != NULL) {
                status = usage_error("--db given twice", NULL);
                goto done;
            }
            if (a[4] == '=') {
                db = a + 5;
            } else if (i + 1 < argc) {
                db = argv[++i];
            } else {
                status = usage_error("--db needs a FILE (the node's store)", NULL);
                goto done;
            }
            if (db[0] == 0) {
                status = usage_error("--db needs a FILE (the node's store)", NULL);
                goto done;
            }
        } else {
            status = usage_error("unknown option", a);
            goto done;
        }
    }
    if (db == NULL) {
        status = usage_error("missing --db FILE (the node's store)", NULL);
        goto done;
    }
    if (nfiles == 0) {
        status = usage_error("no CSV file given", NULL);
        goto done;
    }

    if (store_open(db, 0, &s, err) != 0) {
        fprintf(stderr, "import: %s\n", err);
        goto done;
    }
    opts.warnings = stderr;
    opts.progress = isatty(STDERR_FILENO) ? stderr : NULL;
    if (import_csv(s, files, nfiles, &opts, &st, &report, err) != 0) {
        if (report.len)
            fwrite(report.p, 1, report.len, stderr);
        fprintf(stderr, "import: %s\n", err);
        goto done;
    }
    printf("rows read: %llu, inserted: %llu, updated: %llu, unchanged: %llu",
        (unsigned long long)st.read, (unsigned long long)st.inserted,
        (unsigned long long)st.updated, (unsigned long long)st.unchanged);
    if (opts.replace)
        printf(", deleted: %llu", (unsigned long long)st.deleted);
    printf("\n");
    if (fflush(stdout) != 0) {
        fprintf(stderr, "import: cannot write to standard output\n");
        goto done;
    }
    status = 0;
done:
    store_free(s);
    buf_release(&report);
    free(files);
    return status;
}
