/*
 * phist - the hub's pooled history; see phist.h.
 */
#include "hub/phist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/wire.h"

#define PHIST_MAGIC "FPH1"

struct entry {
    struct buf query;
    uint32_t *cells;
    size_t ncells;
};

struct phist {
    char *path;                     /* NULL: memory only */
    struct entry e[PHIST_MAX];
    size_t n;
    uint64_t version;               /* appends and merges */
};

static void
put32(struct buf *b, uint32_t x)
{
    uint8_t v[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24)};
    buf_append(b, v, 4);
}

/* Read a little-endian u32 at *at; -1 past the end. */
static int
get32(const uint8_t *p, size_t len, size_t *at, uint32_t *x)
{
    if (len - *at < 4)
        return -1;
    const uint8_t *v = p + *at;
    *x = (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24;
    *at += 4;
    return 0;
}

void
phist_pack(const struct phist *h, struct buf *out)
{
    buf_append(out, PHIST_MAGIC, 4);
    put32(out, (uint32_t)h->n);
    for (size_t i = 0; i < h->n; i++) {
        put32(out, (uint32_t)h->e[i].query.len);
        buf_append(out, h->e[i].query.p, h->e[i].query.len);
        put32(out, (uint32_t)h->e[i].ncells);
        for (size_t c = 0; c < h->e[i].ncells; c++)
            put32(out, h->e[i].cells[c]);
    }
}

static int
add(struct phist *h, const uint8_t *query, size_t len, const uint32_t *cells, size_t ncells,
    char *err)
{
    if (h->n >= PHIST_MAX)
        return errf(err, "the pooled history is full (%d released pooled results, "
            "PHIST_MAX): the hub releases no more pooled results until a new history is "
            "started (docs/disclosure.md §8.7)", PHIST_MAX);
    if (len == 0 || len > WIRE_MAX_QUERY || ncells > WIRE_MAX_CELLS)
        return errf(err, "a pooled history entry of %zu bytes and %zu cells", len, ncells);
    struct entry *e = &h->e[h->n];
    memset(e, 0, sizeof *e);
    buf_append(&e->query, query, len);
    e->cells = xcalloc(ncells + 1, sizeof *e->cells);
    if (ncells > 0)
        memcpy(e->cells, cells, ncells * sizeof *cells);
    e->ncells = ncells;
    h->n++;
    return 0;
}

static int
unpack_into(struct phist *h, const uint8_t *p, size_t len, char *err)
{
    size_t at = 4;
    uint32_t n;
    if (len < 4 || memcmp(p, PHIST_MAGIC, 4) != 0 || get32(p, len, &at, &n) != 0 ||
        n > PHIST_MAX)
        return errf(err, "not a pooled history (bad header)");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t ql, nc;
        if (get32(p, len, &at, &ql) != 0 || ql > len - at)
            return errf(err, "pooled history entry %u is cut short", i + 1);
        const uint8_t *q = p + at;
        at += ql;
        if (get32(p, len, &at, &nc) != 0 || nc > WIRE_MAX_CELLS || (len - at) / 4 < nc)
            return errf(err, "pooled history entry %u is cut short", i + 1);
        uint32_t *cells = xcalloc(nc + 1, sizeof *cells);
        for (uint32_t c = 0; c < nc; c++)
            get32(p, len, &at, &cells[c]);
        int rc = add(h, q, ql, cells, nc, err);
        free(cells);
        if (rc != 0)
            return -1;
    }
    if (at != len)
        return errf(err, "pooled history has %zu bytes after its last entry", len - at);
    return 0;
}

int
phist_unpack(const uint8_t *p, size_t len, struct phist **out, char *err)
{
    struct phist *h = xcalloc(1, sizeof *h);
    if (unpack_into(h, p, len, err) != 0) {
        phist_free(h);
        return -1;
    }
    *out = h;
    return 0;
}

int
phist_open(const char *path, struct phist **out, char *err)
{
    struct phist *h = xcalloc(1, sizeof *h);
    *out = NULL;
    if (path != NULL) {
        h->path = xstrdup(path);
        if (access(path, F_OK) == 0) {
            uint8_t *data = NULL;
            size_t len = 0;
            char why[FEDRA_ERRLEN];
            int rc = util_read_file(path, PHIST_MAX_FILE, &data, &len, why) != 0 ? -1
                : unpack_into(h, data, len, why);
            free(data);
            if (rc != 0) {
                errf(err, "pooled history %s: %s", path, why);
                phist_free(h);
                return -1;
            }
        } else if (errno != ENOENT) {
            errf(err, "pooled history %s: %s", path, strerror(errno));
            phist_free(h);
            return -1;
        }
    }
    *out = h;
    return 0;
}

void
phist_free(struct phist *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n; i++) {
        buf_release(&h->e[i].query);
        free(h->e[i].cells);
    }
    free(h->path);
    free(h);
}

size_t
phist_count(const struct phist *h)
{
    return h->n;
}

uint64_t
phist_version(const struct phist *h)
{
    return h->version;
}

const uint8_t *
phist_query(const struct phist *h, size_t i, size_t *len)
{
    *len = i < h->n ? h->e[i].query.len : 0;
    return i < h->n ? h->e[i].query.p : NULL;
}

const uint32_t *
phist_cells(const struct phist *h, size_t i, size_t *n)
{
    *n = i < h->n ? h->e[i].ncells : 0;
    return i < h->n ? h->e[i].cells : NULL;
}

/* Rewrite the file, if any. */
static int
save(const struct phist *h, char *err)
{
    if (h->path == NULL)
        return 0;
    struct buf b = {0};
    phist_pack(h, &b);
    char why[FEDRA_ERRLEN];
    int rc = util_write_file(h->path, b.p, b.len, 0600, why);
    buf_release(&b);
    if (rc != 0)
        return errf(err, "cannot keep the pooled history in %s: %s", h->path, why);
    return 0;
}

int
phist_merge(struct phist *h, size_t i, const uint32_t *cells, size_t n, char *err)
{
    if (i >= h->n)
        return errf(err, "no pooled history entry %zu", i + 1);
    struct entry *e = &h->e[i];
    uint32_t *u = xcalloc(e->ncells + n + 1, sizeof *u);
    size_t m = e->ncells;
    memcpy(u, e->cells, m * sizeof *u);
    for (size_t j = 0; j < n; j++) {
        size_t k = 0;
        while (k < m && u[k] != cells[j])
            k++;
        if (k == m)
            u[m++] = cells[j];
    }
    if (m == e->ncells) {
        /* Nothing new (the same question released again with the same cells): the
         * history is unchanged, so its version too (a route audited against it still
         * holds), and the file is not rewritten: no fsync on the release's path. */
        free(u);
        return 0;
    }
    /* Kept in memory even if the file fails: the history only errs towards more sets. */
    free(e->cells);
    e->cells = u;
    e->ncells = m;
    h->version++;
    return save(h, err);
}

int
phist_append(struct phist *h, const uint8_t *query, size_t len, const uint32_t *cells,
    size_t ncells, char *err)
{
    if (add(h, query, len, cells, ncells, err) != 0)
        return -1;
    h->version++;
    /* Kept in memory even if the file fails (the caller refuses the release): the
     * history only errs towards more sets. */
    return save(h, err);
}
