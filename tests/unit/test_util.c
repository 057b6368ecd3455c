/*
 * test_util - lib/util.c and lib/kv.c helpers: buffers, capped file reads,
 * atomic writes, strict integer parsing, hex, relative paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util.h"

static void
buf_grows_and_stays_terminated(void **state)
{
    (void)state;
    struct buf b = {0};
    char *empty = buf_detach(&b);
    assert_string_equal(empty, "");              /* never-written buffer is a valid string */
    free(empty);
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%d,", i % 10);
    assert_int_equal(b.len, 2000);
    assert_int_equal(b.p[b.len], 0);
    assert_memory_equal(b.p, "0,1,2,", 6);
    uint8_t *at = buf_extend(&b, 3);
    memcpy(at, "xyz", 3);
    assert_int_equal(b.len, 2003);
    assert_string_equal((char *)b.p + 2000, "xyz");
    buf_release(&b);
    assert_null(b.p);
}

static void
parse_int_is_strict(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(util_parse_int("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(util_parse_int("-7", -10, 10, &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(util_parse_int("100", 0, 100, &v), 0);   /* boundary */
    assert_int_equal(util_parse_int("101", 0, 100, &v), -1);  /* one past */
    const char *bad[] = {"", " 5", "+5", "5 ", "5x", "0x10", "--1", "-", "1e3", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(util_parse_int(bad[i], -1000, 1000, &v), -1);
}

static void
hex_round_trip(void **state)
{
    (void)state;
    uint8_t in[4] = {0x00, 0xab, 0x10, 0xff}, out[4];
    char h[9];
    util_hex(in, 4, h);
    assert_string_equal(h, "00ab10ff");
    assert_int_equal(util_unhex("00AB10ff", out, 4), 0);
    assert_memory_equal(in, out, 4);
    assert_int_equal(util_unhex("00ab10f", out, 4), -1);
    assert_int_equal(util_unhex("00ab10fg", out, 4), -1);
}

static void
read_file_cap_is_exact(void **state)
{
    (void)state;
    char dir[] = "/tmp/fedra-test-util-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[FEDRA_ERRLEN];
    snprintf(path, sizeof path, "%s/f", dir);
    assert_int_equal(util_write_file(path, "hello", 5, 0600, err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    uint8_t *data;
    size_t len;
    assert_int_equal(util_read_file(path, 5, &data, &len, err), 0);   /* at the cap */
    assert_int_equal(len, 5);
    assert_string_equal((char *)data, "hello");
    free(data);
    assert_int_equal(util_read_file(path, 4, &data, &len, err), -1);  /* one past */
    assert_non_null(strstr(err, "larger than 4 bytes"));
    assert_int_equal(util_read_file(dir, 100, &data, &len, err), -1); /* a directory */
    /* Replacing is atomic: the new content in full, no temporary left behind. */
    assert_int_equal(util_write_file(path, "bye", 3, 0644, err), 0);
    assert_int_equal(util_read_file(path, 100, &data, &len, err), 0);
    assert_string_equal((char *)data, "bye");
    free(data);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);                /* empty: no stray temp file */
}

/* UTIL_WRITE_NEW: the exact mode, never over an existing file or through a link. */
static void
write_new_refuses_to_overwrite(void **state)
{
    (void)state;
    char dir[] = "/tmp/fedra-test-util-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], link_path[256], err[FEDRA_ERRLEN];
    snprintf(path, sizeof path, "%s/new", dir);
    snprintf(link_path, sizeof link_path, "%s/link", dir);
    mode_t old = umask(077);        /* the mode is set exactly, whatever the umask */
    assert_int_equal(util_write_file_ex(path, "one", 3, 0644, UTIL_WRITE_NEW, err), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(util_write_file_ex(path, "two", 3, 0644, UTIL_WRITE_NEW, err), -1);
    assert_non_null(strstr(err, "new' already exists; refusing to overwrite it"));
    uint8_t *data;
    size_t len;
    assert_int_equal(util_read_file(path, 100, &data, &len, err), 0);
    assert_string_equal((char *)data, "one");   /* untouched by the refusal */
    free(data);
    /* A dangling symlink is not followed: its target is never created. */
    char target[300];
    snprintf(target, sizeof target, "%s/target", dir);
    assert_int_equal(symlink(target, link_path), 0);
    assert_int_equal(util_write_file_ex(link_path, "x", 1, 0600, UTIL_WRITE_NEW, err), -1);
    assert_int_equal(access(target, F_OK), -1);
    unlink(link_path);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

static void
relative_paths_follow_the_base_file(void **state)
{
    (void)state;
    char *p = util_path_relative_to("/etc/fedra/node.conf", "node.crt");
    assert_string_equal(p, "/etc/fedra/node.crt");
    free(p);
    p = util_path_relative_to("/etc/fedra/node.conf", "/abs/x");
    assert_string_equal(p, "/abs/x");
    free(p);
    p = util_path_relative_to("node.conf", "x.crt");
    assert_string_equal(p, "x.crt");
    free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_grows_and_stays_terminated),
        cmocka_unit_test(parse_int_is_strict),
        cmocka_unit_test(hex_round_trip),
        cmocka_unit_test(read_file_cap_is_exact),
        cmocka_unit_test(write_new_refuses_to_overwrite),
        cmocka_unit_test(relative_paths_follow_the_base_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
