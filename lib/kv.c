/*
 * kv - see kv.h.
 */
#include "lib/kv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static char *
trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

int
kv_parse(const char *path, int (*cb)(void *, int, const char *, const char *, char *),
    void *arg, char *err)
{
    uint8_t *data;
    size_t len;
    if (util_read_file(path, KV_MAX_FILE, &data, &len, err) != 0)
        return -1;
    if (memchr(data, 0, len) != NULL) {
        free(data);
        return errf(err, "%s: contains a NUL byte; not a text file", path);
    }
    int rc = 0, lineno = 0;
    char *p = (char *)data;
    while (rc == 0 && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        size_t ll = strlen(p);
        if (ll > 0 && p[ll - 1] == '\r')   /* CRLF files: the CR is not part of the line */
            p[ll - 1] = 0;
        lineno++;
        if (strlen(p) > KV_MAX_LINE) {
            rc = errf(err, "%s:%d: line longer than %d bytes", path, lineno, KV_MAX_LINE);
            break;
        }
        char *line = trim(p);
        if (*line != 0 && *line != '#') {
            char *eq = strchr(line, '=');
            if (eq == NULL) {
                rc = errf(err, "%s:%d: expected 'key = value', got '%.80s'", path, lineno, line);
                break;
            }
            *eq = 0;
            char *key = trim(line), *value = trim(eq + 1);
            if (*key == 0) {
                rc = errf(err, "%s:%d: missing key before '='", path, lineno);
                break;
            }
            rc = cb(arg, lineno, key, value, err);
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    free(data);
    return rc;
}
