/*
 * test_crlfetch - the bounded download under the CRL fetch thread
 * (node/crlfetch.c, crlfetch_get) against a one-shot HTTP server on loopback
 * run in a thread of this test: the body limit at CRLFETCH_MAX_BODY and one
 * past (with and without Content-Length), schemes other than http/https
 * (directly and through a redirect), an HTTP error status, and abandoning a
 * transfer when the node stops.  libcurl is loaded once for the group
 * (crlfetch_lib_open; the table is the group state), as the fetcher loads it
 * at start.  The CA check and the policy on CRL numbers are tested end to end
 * in tests/integration/80-crl-fetch.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util.h"
#include "node/crlfetch.h"

/* What the one-shot server answers. */
struct reply {
    int fd;                         /* listening socket */
    const char *head;               /* status line + headers, without the blank line */
    size_t body;                    /* bytes of 'A' after the headers */
    int declare_length;             /* add Content-Length: body */
    int slow;                       /* send nothing, hold the connection for this many s */
};

static void *
serve_one(void *arg)
{
    struct reply *r = arg;
    int c = accept(r->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    char req[4096];
    (void)!read(c, req, sizeof req);
    char head[512];
    int n = snprintf(head, sizeof head, "%s\r\n", r->head);
    if (r->declare_length)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", r->body);
    n += snprintf(head + n, sizeof head - (size_t)n, "Connection: close\r\n\r\n");
    /* send(MSG_NOSIGNAL): the fetcher hangs up once over its limit, which must not
       kill the test with SIGPIPE. */
    (void)!send(c, head, (size_t)n, MSG_NOSIGNAL);
    if (r->slow)
        sleep((unsigned)r->slow);
    char chunk[65536];
    memset(chunk, 'A', sizeof chunk);
    for (size_t left = r->body; left > 0;) {
        size_t k = left < sizeof chunk ? left : sizeof chunk;
        ssize_t w = send(c, chunk, k, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        left -= (size_t)w;
    }
    close(c);
    return NULL;
}

/* Start the server; its URL goes into url. */
static pthread_t
start(struct reply *r, char *url, size_t n)
{
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->fd, 4), 0);
    assert_int_equal(getsockname(r->fd, (struct sockaddr *)&a, &al), 0);
    snprintf(url, n, "http://127.0.0.1:%d/crl.pem", ntohs(a.sin_port));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, serve_one, r), 0);
    return t;
}

static int
fetch(const struct crlfetch_lib *lib, struct reply *r, struct buf *body, char *err,
    const atomic_int *stop)
{
    char url[128];
    pthread_t t = start(r, url, sizeof url);
    int rc = crlfetch_get(lib, url, 10, stop, body, err);
    shutdown(r->fd, SHUT_RDWR);
    pthread_join(t, NULL);
    close(r->fd);
    return rc;
}

static void
test_body_limit(void **state)
{
    const struct crlfetch_lib *lib = *state;
    char err[FEDRA_ERRLEN] = "";
    struct buf b = {0};
    for (int declared = 0; declared <= 1; declared++) {
        struct reply ok = {.head = "HTTP/1.1 200 OK", .body = CRLFETCH_MAX_BODY,
            .declare_length = declared};
        assert_int_equal(fetch(lib, &ok, &b, err, NULL), 0);
        assert_int_equal(b.len, CRLFETCH_MAX_BODY);
        struct reply big = {.head = "HTTP/1.1 200 OK", .body = CRLFETCH_MAX_BODY + 1,
            .declare_length = declared};
        assert_int_equal(fetch(lib, &big, &b, err, NULL), -1);
        assert_non_null(strstr(err, "the CRL is larger than 1048576 bytes; refused"));
    }
    buf_release(&b);
}

static void
test_schemes(void **state)
{
    const struct crlfetch_lib *lib = *state;
    char err[FEDRA_ERRLEN] = "";
    struct buf b = {0};
    static const char *const urls[] = {"file:///etc/passwd", "ftp://127.0.0.1/crl",
        "gopher://127.0.0.1/", "dict://127.0.0.1/"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        assert_int_equal(crlfetch_get(lib, urls[i], 5, NULL, &b, err), -1);
        if (strstr(err, "refused a scheme other than http/https") == NULL)
            fail_msg("%s: %s", urls[i], err);
        assert_int_equal(b.len, 0);
    }
    /* Through a redirect: file:// is not followed. */
    struct reply r = {.head = "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd"};
    assert_int_equal(fetch(lib, &r, &b, err, NULL), -1);
    assert_non_null(strstr(err, "refused a scheme other than http/https"));
    buf_release(&b);
}

static void
test_http_error(void **state)
{
    const struct crlfetch_lib *lib = *state;
    char err[FEDRA_ERRLEN] = "";
    struct buf b = {0};
    struct reply r = {.head = "HTTP/1.1 404 Not Found", .body = 10, .declare_length = 1};
    assert_int_equal(fetch(lib, &r, &b, err, NULL), -1);
    assert_non_null(strstr(err, "404"));
    assert_non_null(strstr(err, "fetching 'http://127.0.0.1:"));
    buf_release(&b);
}

static void
test_stop_abandons(void **state)
{
    const struct crlfetch_lib *lib = *state;
    char err[FEDRA_ERRLEN] = "";
    struct buf b = {0};
    atomic_int stop;
    atomic_init(&stop, 1);
    /* The server holds the connection for 3 s; a set stop flag ends the transfer first. */
    struct reply r = {.head = "HTTP/1.1 200 OK", .body = 100, .declare_length = 1, .slow = 3};
    int64_t t0 = util_mono_ms();
    assert_int_equal(fetch(lib, &r, &b, err, &stop), -1);
    assert_non_null(strstr(err, "abandoned (the node is stopping)"));
    assert_true(util_mono_ms() - t0 < 2000);
    buf_release(&b);
}

static int
lib_open(void **state)
{
    char err[FEDRA_ERRLEN] = "";
    struct crlfetch_lib *lib;
    if (crlfetch_lib_open(&lib, err) != 0) {
        print_error("%s\n", err);
        return -1;
    }
    *state = lib;
    return 0;
}

static int
lib_close(void **state)
{
    crlfetch_lib_close(*state);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_schemes),
        cmocka_unit_test(test_http_error),
        cmocka_unit_test(test_stop_abandons),
    };
    return cmocka_run_group_tests(tests, lib_open, lib_close);
}
