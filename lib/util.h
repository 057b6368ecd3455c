/*
 * util - small helpers shared by every program: checked allocation, byte
 * buffers, whole-file reads with a cap, wall-clock time, hex.
 *
 * Conventions for the whole project (see README "Code layout"):
 *  - functions return 0 on success and -1 on failure; a failing function
 *    that can say why writes one lowercase line into a caller-owned
 *    `char err[FEDRA_ERRLEN]` and never prints;
 *  - x_new()/x_free() for heap objects, x_free(NULL) is a no-op;
 *  - running out of memory is fatal (xmalloc aborts): every size taken from
 *    untrusted input is bounded by a named limit before it is allocated.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define FEDRA_ERRLEN 512            /* size of every caller-owned error buffer */

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* xreallocarray: realloc of n*size with the multiplication checked. */
void *xreallocarray(void *p, size_t n, size_t size);

/* Growable byte buffer; zero-initialise ({0}) before use, buf_release() after. */
struct buf {
    uint8_t *p;                     /* contents, NUL-terminated when len < cap */
    size_t len;                     /* bytes used */
    size_t cap;                     /* bytes allocated */
};
void buf_append(struct buf *b, const void *data, size_t n);
/* Grow by n bytes and return where they start (contents undefined). */
uint8_t *buf_extend(struct buf *b, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_release(struct buf *b);
/* Take ownership of the contents as a NUL-terminated string; b is emptied. */
char *buf_detach(struct buf *b);

/* Set err (may be NULL) to a formatted message; always returns -1. */
int errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Read a whole file of at most max bytes into a new NUL-terminated buffer.
 * A larger file is an error (it is not truncated).
 */
int util_read_file(const char *path, size_t max, uint8_t **out, size_t *outlen,
    char *err);
/*
 * Write a file atomically: write to PATH.tmp.PID (created new: O_EXCL,
 * O_NOFOLLOW), set mode exactly (umask does not apply), fsync, rename over
 * PATH.  With UTIL_WRITE_NEW instead create PATH itself the same way and
 * refuse one that exists ("already exists; refusing to overwrite it"): for
 * files that must never replace another (keys, certificates, a new CA).  On
 * failure nothing is left behind.
 */
#define UTIL_WRITE_NEW 1
int util_write_file_ex(const char *path, const void *data, size_t len, int mode, int flags,
    char *err);
/* util_write_file_ex with no flags: replace PATH atomically. */
int util_write_file(const char *path, const void *data, size_t len, int mode,
    char *err);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME) and a monotonic clock. */
int64_t util_now_ms(void);
int64_t util_mono_ms(void);
int64_t util_mono_us(void);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void util_hex(const uint8_t *in, size_t n, char *out);
/* Parse exactly 2n hex digits into out; -1 on anything else. */
int util_unhex(const char *in, uint8_t *out, size_t n);

/*
 * Parse a decimal integer in [lo, hi] that fills the whole string (optional
 * '-', digits only); -1 if the string is empty, has junk, or is out of range.
 */
int util_parse_int(const char *s, long long lo, long long hi, long long *out);

/* Resolve rel against the directory of base unless rel is absolute. */
char *util_path_relative_to(const char *base, const char *rel);

#endif /* !UTIL_H */
