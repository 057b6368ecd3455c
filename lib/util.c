/*
 * util - see util.h.  Nothing here keeps state between calls.
 */
#include "lib/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void
oom(void)
{
    fputs("fatal: out of memory\n", stderr);
    abort();
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom();
    return p;
}

void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom();
    return q;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total))
        oom();
    return xrealloc(p, total);
}

char *
xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

static void
buf_reserve(struct buf *b, size_t extra)
{
    size_t need;
    if (__builtin_add_overflow(b->len, extra + 1, &need))
        oom();
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (__builtin_mul_overflow(cap, 2, &cap))
            oom();
    }
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
    b->p[b->len] = 0;
}

void
buf_append(struct buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
}

uint8_t *
buf_extend(struct buf *b, size_t n)
{
    buf_reserve(b, n);
    uint8_t *at = b->p + b->len;
    b->len += n;
    b->p[b->len] = 0;
    return at;
}

void
buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        buf_append(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
buf_release(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *
buf_detach(struct buf *b)
{
    buf_reserve(b, 0);
    char *s = (char *)b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return s;
}

int
errf(char *err, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, FEDRA_ERRLEN, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int
util_read_file(const char *path, size_t max, uint8_t **out, size_t *outlen,
    char *err)
{
    *out = NULL;
    *outlen = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errf(err, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return errf(err, "'%s' is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return errf(err, "'%s' is larger than %zu bytes", path, max);
    }
    struct buf b = {0};
    uint8_t chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            buf_release(&b);
            return errf(err, "cannot read '%s': %s", path, strerror(e));
        }
        if (r == 0)
            break;
        if (b.len + (size_t)r > max) {
            close(fd);
            buf_release(&b);
            return errf(err, "'%s' is larger than %zu bytes", path, max);
        }
        buf_append(&b, chunk, (size_t)r);
    }
    close(fd);
    *outlen = b.len;
    buf_reserve(&b, 0);
    *out = b.p;
    return 0;
}

/*
 * Write data into a file opened here with O_CREAT | O_EXCL (never an existing
 * file, never through a symlink), set its mode exactly (umask does not apply),
 * fsync and close it.  On failure the file is removed.
 */
static int
write_exclusive(const char *path, const void *data, size_t len, int mode, char *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return errf(err, "'%s' already exists; refusing to overwrite it (remove it "
                "or choose another name)", path);
        return errf(err, "cannot create '%s': %s", path, strerror(errno));
    }
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            errf(err, "cannot write '%s': %s", path, strerror(errno));
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0) {
        errf(err, "cannot sync '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        errf(err, "cannot close '%s': %s", path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(path);
    return -1;
}

int
util_write_file_ex(const char *path, const void *data, size_t len, int mode, int flags,
    char *err)
{
    if (flags & UTIL_WRITE_NEW)
        return write_exclusive(path, data, len, mode, err);
    /* The temporary is new (O_EXCL), so a stale one or a planted link is refused. */
    struct buf tmp = {0};
    buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    const char *t = (const char *)tmp.p;
    int rc = write_exclusive(t, data, len, mode, err);
    if (rc == 0 && rename(t, path) != 0) {
        rc = errf(err, "cannot rename '%s' to '%s': %s", t, path, strerror(errno));
        unlink(t);
    }
    buf_release(&tmp);
    return rc;
}

int
util_write_file(const char *path, const void *data, size_t len, int mode, char *err)
{
    return util_write_file_ex(path, data, len, mode, 0, err);
}

int64_t
util_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
util_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
util_unhex(const char *in, uint8_t *out, size_t n)
{
    if (strlen(in) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int
util_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    /* Strict: optional '-', then digits only (strtoll alone allows " 5" and "+5"). */
    if (s == NULL || !(isdigit((unsigned char)s[0]) ||
                       (s[0] == '-' && isdigit((unsigned char)s[1]))))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != 0 || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

char *
util_path_relative_to(const char *base, const char *rel)
{
    if (rel[0] == '/')
        return xstrdup(rel);
    const char *slash = strrchr(base, '/');
    if (slash == NULL)
        return xstrdup(rel);
    struct buf b = {0};
    buf_append(&b, base, (size_t)(slash - base) + 1);
    buf_puts(&b, rel);
    return buf_detach(&b);
}
