/*
 * kv - read "key = value" files (node config, federation file).
 *
 * One setting per line; blank lines and lines starting with '#' are skipped;
 * white space around key and value is trimmed; a value may contain '='.
 * Written here rather than taken from Debian's libinih because that build
 * cannot report line numbers, and every config error must name its line.
 */
#ifndef KV_H
#define KV_H

#define KV_MAX_FILE (1u << 20)          /* largest config or federation file */
#define KV_MAX_LINE 4096                /* longest line */

/*
 * Call cb(arg, lineno, key, value, err) for every setting in path, in order.
 * Stop at the first non-zero return (cb writes err).  Syntax errors are
 * reported as "PATH:LINE: ...".
 */
int kv_parse(const char *path, int (*cb)(void *arg, int lineno, const char *key,
    const char *value, char *err), void *arg, char *err);

#endif /* !KV_H */
