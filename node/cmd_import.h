/*
 * cmd_import - the `fedra-node import` command (interface.md): argument
 * parsing, messages and exit status around import_csv().
 */
#ifndef CMD_IMPORT_H
#define CMD_IMPORT_H

/*
 * Run `fedra-node import --db FILE [--replace] CSV...`; argv[0] is "import".
 * Returns the exit status: 0 imported, 1 rejected or failed (nothing was
 * imported), 2 usage error.
 */
int cmd_import(int argc, char **argv);

#endif /* !CMD_IMPORT_H */
