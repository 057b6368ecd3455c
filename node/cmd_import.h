/*
 * cmd_import - the `fedra-node import` command (interface.md): argument
 * parsing, messages and exit status around import_csv().
 */
#ifndef CMD_IMPORT_H
#define CMD_IMPORT_H

#include <stdio.h>

/*
 * Run `fedra-node import --db FILE [--replace] CSV...`; argv[0] is "import".
 * Returns the exit status: 0 imported, 1 rejected or failed (nothing was
 * imported), 2 usage error.  --help is fedra-node's command table's (lib/cli.h).
 */
int cmd_import(int argc, char **argv);

/* The CSV format, its columns and rules and the tumour_type codes, for import's help. */
void cmd_import_print_rules(FILE *out);

#endif /* !CMD_IMPORT_H */
