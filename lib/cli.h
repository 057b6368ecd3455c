/*
 * cli - the command table behind a program with subcommands (fedra-node,
 * fedra-cert), in the style of git.c's table of builtins: one row per
 * command gives its name, synopsis, one-line summary, description, options,
 * an example and the function that runs it.  The list of commands, each
 * command's help and the dispatch all come from that one table, so a command
 * cannot be runnable yet missing from the help, or the reverse.
 *
 *   PROG --help | -h | help         the list of commands, on stdout, exit 0
 *   PROG                            the same list on stderr, exit 2
 *   PROG COMMAND --help | -h        that command's help, exit 0 (an option
 *   PROG help COMMAND               anywhere before "--" asks for help)
 *   PROG COMMAND ARGS...            run(argc, argv), argv[0] = the command's
 *                                   last word; its return is the exit status
 *   PROG NOSUCH                     "PROG: unknown command 'NOSUCH'; run 'PROG
 *                                   --help' for the list", exit 2
 *
 * A name of two words ("audit verify") puts the command in a group: "PROG
 * audit --help" shows every command of the group, and "PROG audit NOSUCH"
 * says "PROG audit: unknown action 'NOSUCH' (verify or export); run 'PROG
 * audit --help'", exit 2 (and "missing action" without one).
 *
 * Help goes to stdout (it is asked for); errors go to stderr.  No state.
 */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdio.h>

#define CLI_EXIT_USAGE 2
#define CLI_MAX_NAME 32             /* longest command name ("audit verify"), with its NUL */

struct cli_command {
    const char *name;               /* "serve", or "audit verify" */
    const char *args;               /* the synopsis after the name; may hold "\n" + indent */
    const char *summary;            /* one line for the list of commands */
    const char *about;              /* what it does, paragraphs ending in "\n" */
    const char *options;            /* "  --config FILE   ...\n" lines, or NULL */
    void (*more)(FILE *out);        /* printed after the options (reference tables), or NULL */
    const char *example;            /* "  PROG ...\n" lines */
    int (*run)(int argc, char **argv);
};

struct cli_program {
    const char *name;               /* "fedra-node" */
    const char *about;              /* one paragraph for the list of commands */
    const struct cli_command *commands;
    size_t ncommands;
};

/* Dispatch argv (argv[0] = the program) through p's table; returns the exit status. */
int cli_main(const struct cli_program *p, int argc, char **argv);

/* The list of commands, and the help of command c, as above. */
void cli_print_list(const struct cli_program *p, FILE *out);
void cli_print_help(const struct cli_program *p, const struct cli_command *c, FILE *out);

#endif /* !CLI_H */
