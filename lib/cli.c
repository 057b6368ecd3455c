/*
 * cli - see cli.h.
 */
#include "lib/cli.h"

#include <string.h>

/* Word i of name (0-based), into out; 0 if name has no word i. */
static int
word(const char *name, int i, char *out, size_t n)
{
    const char *s = name;
    for (; i > 0 && s != NULL; i--) {
        s = strchr(s, ' ');
        if (s != NULL)
            s++;
    }
    if (s == NULL)
        return 0;
    size_t len = strcspn(s, " ");
    if (len >= n)
        len = n - 1;
    memcpy(out, s, len);
    out[len] = 0;
    return 1;
}

static int
nwords(const char *name)
{
    int n = 1;
    for (const char *s = name; (s = strchr(s, ' ')) != NULL; s++)
        n++;
    return n;
}

/* 1 if the first word of c's name is w. */
static int
in_group(const struct cli_command *c, const char *w)
{
    size_t len = strlen(w);
    return strncmp(c->name, w, len) == 0 && (c->name[len] == 0 || c->name[len] == ' ');
}

/* The command whose name is exactly args[0..] (as many words as the name has). */
static const struct cli_command *
find(const struct cli_program *p, int argc, char **argv)
{
    for (size_t i = 0; i < p->ncommands; i++) {
        const struct cli_command *c = &p->commands[i];
        int n = nwords(c->name), ok = n <= argc;
        char w[CLI_MAX_NAME];
        for (int k = 0; ok && k < n; k++)
            ok = word(c->name, k, w, sizeof w) && strcmp(w, argv[k]) == 0;
        if (ok)
            return c;
    }
    return NULL;
}

static int
is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* --help or -h among args before "--". */
static int
wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (is_help(argv[i]))
            return 1;
    }
    return 0;
}

void
cli_print_list(const struct cli_program *p, FILE *out)
{
    size_t width = 0;
    for (size_t i = 0; i < p->ncommands; i++)
        if (strlen(p->commands[i].name) > width)
            width = strlen(p->commands[i].name);
    fprintf(out, "usage: %s COMMAND [OPTIONS]\n\n%s\ncommands:\n", p->name, p->about);
    for (size_t i = 0; i < p->ncommands; i++)
        fprintf(out, "  %-*s  %s\n", (int)width, p->commands[i].name, p->commands[i].summary);
    fprintf(out, "\nRun '%s COMMAND --help' or '%s help COMMAND' for a command's\n"
        "options and an example.\n", p->name, p->name);
}

void
cli_print_help(const struct cli_program *p, const struct cli_command *c, FILE *out)
{
    fprintf(out, "usage: %s %s%s%s\n\n%s", p->name, c->name, c->args[0] ? " " : "", c->args,
        c->about);
    if (c->options != NULL)
        fprintf(out, "\noptions:\n%s", c->options);
    if (c->more != NULL) {
        fputc('\n', out);
        c->more(out);
    }
    fprintf(out, "\nexample:\n%s", c->example);
}

/* The help of every command of group w (each command's help once). */
static void
print_group(const struct cli_program *p, const char *w, FILE *out)
{
    int first = 1;
    for (size_t i = 0; i < p->ncommands; i++) {
        if (!in_group(&p->commands[i], w))
            continue;
        if (!first)
            fputc('\n', out);
        cli_print_help(p, &p->commands[i], out);
        first = 0;
    }
}

/* "verify or export": the second words of group w's commands. */
static void
print_actions(const struct cli_program *p, const char *w, FILE *out)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < p->ncommands; i++)
        n += in_group(&p->commands[i], w);
    for (size_t i = 0; i < p->ncommands; i++) {
        char a[CLI_MAX_NAME];
        if (!in_group(&p->commands[i], w) || !word(p->commands[i].name, 1, a, sizeof a))
            continue;
        k++;
        fprintf(out, "%s%s", k == 1 ? "" : k == n ? " or " : ", ", a);
    }
}

static int
has_group(const struct cli_program *p, const char *w)
{
    for (size_t i = 0; i < p->ncommands; i++)
        if (in_group(&p->commands[i], w) && nwords(p->commands[i].name) > 1)
            return 1;
    return 0;
}

/* `PROG help [COMMAND...]`: argv holds the words after "help". */
static int
help(const struct cli_program *p, int argc, char **argv)
{
    if (argc == 0 || strcmp(argv[0], "help") == 0) {
        cli_print_list(p, stdout);
        return 0;
    }
    const struct cli_command *c = find(p, argc, argv);
    if (c != NULL) {
        cli_print_help(p, c, stdout);
        return 0;
    }
    if (has_group(p, argv[0])) {
        print_group(p, argv[0], stdout);
        return 0;
    }
    fprintf(stderr, "%s: no help for '%s': it is not a command; run '%s --help' for the "
        "list\n", p->name, argv[0], p->name);
    return CLI_EXIT_USAGE;
}

int
cli_main(const struct cli_program *p, int argc, char **argv)
{
    if (argc < 2) {
        cli_print_list(p, stderr);
        return CLI_EXIT_USAGE;
    }
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0)
        return help(p, argc - 2, argv + 2);
    const struct cli_command *c = find(p, argc - 1, argv + 1);
    if (c != NULL) {
        int n = nwords(c->name);
        if (wants_help(argc - 1 - n, argv + 1 + n)) {
            cli_print_help(p, c, stdout);
            return 0;
        }
        return c->run(argc - n, argv + n);
    }
    if (has_group(p, argv[1])) {
        if (argc > 2 && is_help(argv[2])) {
            print_group(p, argv[1], stdout);
            return 0;
        }
        if (argc > 2)
            fprintf(stderr, "%s %s: unknown action '%s' (", p->name, argv[1], argv[2]);
        else
            fprintf(stderr, "%s %s: missing action (", p->name, argv[1]);
        print_actions(p, argv[1], stderr);
        fprintf(stderr, "); run '%s %s --help'\n", p->name, argv[1]);
        return CLI_EXIT_USAGE;
    }
    fprintf(stderr, "%s: unknown command '%s'; run '%s --help' for the list\n", p->name,
        argv[1], p->name);
    return CLI_EXIT_USAGE;
}
