/*
 * test_cli - the command table (lib/cli.c): dispatch, help and the errors
 * for unknown commands, on a small table of its own.  Each call of cli_main
 * runs with stdout and stderr sent to files, so what it prints, and where,
 * is checked too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cli.h"
#include "lib/util.h"

#define OUT_MAX 8192

/* Every command's function: says what it got on stdout (captured), returns 7. */
static int
record(int argc, char **argv)
{
    printf("ran argc=%d argv0=%s argv1=%s\n", argc, argv[0], argc > 1 ? argv[1] : "-");
    return 7;
}

static void
more_text(FILE *out)
{
    fputs("MORE TEXT\n", out);
}

static const struct cli_command commands[] = {
    { "one", "--x FILE", "the first command", "One does things.\n",
        "  --x FILE   a file\n", more_text, "  prog one --x f\n", record },
    { "grp get", "--db FILE", "get from the group", "Gets.\n", NULL, NULL,
        "  prog grp get --db d\n", record },
    { "grp put", "", "put into the group", "Puts.\n", NULL, NULL, "  prog grp put\n", record },
    { "grp del", "", "delete in the group", "Deletes.\n", NULL, NULL, "  prog grp del\n",
        record },
};

static const struct cli_program prog = {
    "prog", "A test program.\n", commands, sizeof commands / sizeof commands[0],
};

struct result {
    int rc;
    char out[OUT_MAX], err[OUT_MAX];
};

static void
slurp(FILE *f, char *buf)
{
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, OUT_MAX - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* cli_main on the NULL-terminated words, with its stdout and stderr captured. */
static void
run(struct result *r, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, r);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 15;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    FILE *o = tmpfile(), *e = tmpfile();
    assert_non_null(o);
    assert_non_null(e);
    fflush(stdout);
    fflush(stderr);
    int so = dup(STDOUT_FILENO), se = dup(STDERR_FILENO);
    dup2(fileno(o), STDOUT_FILENO);
    dup2(fileno(e), STDERR_FILENO);
    r->rc = cli_main(&prog, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, STDOUT_FILENO);
    dup2(se, STDERR_FILENO);
    close(so);
    close(se);
    slurp(o, r->out);
    slurp(e, r->err);
}

static void
dispatch_passes_the_arguments_after_the_name(void **state)
{
    (void)state;
    struct result r;
    run(&r, "prog", "one", "--x", "f", NULL);
    assert_int_equal(r.rc, 7);                      /* the run function's status */
    assert_string_equal(r.out, "ran argc=3 argv0=one argv1=--x\n");
    run(&r, "prog", "grp", "put", "a", NULL);       /* two words: argv[0] is the action */
    assert_int_equal(r.rc, 7);
    assert_string_equal(r.out, "ran argc=2 argv0=put argv1=a\n");
    run(&r, "prog", "one", "--", "--help", NULL);   /* after "--", --help is an argument */
    assert_int_equal(r.rc, 7);
    assert_string_equal(r.out, "ran argc=3 argv0=one argv1=--\n");
}

static void
command_help_comes_from_the_table(void **state)
{
    (void)state;
    struct result r;
    static const char want[] =
        "usage: prog one --x FILE\n\nOne does things.\n\noptions:\n  --x FILE   a file\n"
        "\nMORE TEXT\n\nexample:\n  prog one --x f\n";
    run(&r, "prog", "one", "--help", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, want);               /* and nothing ran */
    assert_string_equal(r.err, "");
    run(&r, "prog", "one", "--x", "f", "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, want);
    run(&r, "prog", "help", "one", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, want);
    run(&r, "prog", "help", "grp", "put", NULL);    /* no args, no options section */
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "usage: prog grp put\n\nPuts.\n\nexample:\n  prog grp put\n");
    run(&r, "prog", "grp", "--help", NULL);         /* the whole group, in table order */
    assert_int_equal(r.rc, 0);
    char *get = strstr(r.out, "usage: prog grp get"), *put = strstr(r.out, "usage: prog grp put"),
         *del = strstr(r.out, "usage: prog grp del");
    assert_true(get == r.out && put > get && del > put);
    assert_null(strstr(r.out, "usage: prog one"));
}

static void
the_list_names_every_command(void **state)
{
    (void)state;
    struct result r;
    run(&r, "prog", "--help", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    assert_non_null(strstr(r.out, "usage: prog COMMAND [OPTIONS]\n\nA test program.\n"));
    for (size_t i = 0; i < prog.ncommands; i++) {
        char line[128];
        snprintf(line, sizeof line, "  %-7s  %s\n", commands[i].name, commands[i].summary);
        assert_non_null(strstr(r.out, line));
    }
    struct result h;
    run(&h, "prog", "help", NULL);
    assert_int_equal(h.rc, 0);
    assert_string_equal(h.out, r.out);
    run(&h, "prog", "help", "help", NULL);          /* help on help: the list */
    assert_int_equal(h.rc, 0);
    assert_string_equal(h.out, r.out);
    run(&h, "prog", NULL);                          /* no command: the list, as an error */
    assert_int_equal(h.rc, CLI_EXIT_USAGE);
    assert_string_equal(h.out, "");
    assert_string_equal(h.err, r.out);
}

static void
unknown_commands_say_so_and_point_at_help(void **state)
{
    (void)state;
    struct result r;
    run(&r, "prog", "nope", NULL);
    assert_int_equal(r.rc, CLI_EXIT_USAGE);
    assert_string_equal(r.err, "prog: unknown command 'nope'; run 'prog --help' for the list\n");
    assert_string_equal(r.out, "");
    run(&r, "prog", "help", "nope", NULL);
    assert_int_equal(r.rc, CLI_EXIT_USAGE);
    assert_non_null(strstr(r.err, "no help for 'nope'"));
    run(&r, "prog", "grp", "nope", NULL);
    assert_int_equal(r.rc, CLI_EXIT_USAGE);
    assert_string_equal(r.err, "prog grp: unknown action 'nope' (get, put or del); "
        "run 'prog grp --help'\n");
    run(&r, "prog", "grp", NULL);
    assert_int_equal(r.rc, CLI_EXIT_USAGE);
    assert_string_equal(r.err, "prog grp: missing action (get, put or del); "
        "run 'prog grp --help'\n");
    assert_string_equal(r.out, "");                 /* nothing ran */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dispatch_passes_the_arguments_after_the_name),
        cmocka_unit_test(command_help_comes_from_the_table),
        cmocka_unit_test(the_list_names_every_command),
        cmocka_unit_test(unknown_commands_say_so_and_point_at_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
