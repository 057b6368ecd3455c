/*
 * counts - see counts.h.  Cells are appended as they arrive and merged once,
 * by sorting: n log n in the number of released cells, no hashing.
 */
#include "analysis/counts.h"

#include <stdlib.h>
#include <string.h>

int
counts_init(struct counts_table *t, size_t nvars)
{
    memset(t, 0, sizeof *t);
    if (nvars > COUNTS_MAX_VARS)
        return -1;
    t->nvars = nvars;
    return 0;
}

int
counts_add(struct counts_table *t, const int64_t *key, uint64_t count, uint64_t hidden)
{
    if (t->ncells == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        if (cap < t->cap || cap > SIZE_MAX / sizeof *t->cells)
            return -1;
        struct counts_cell *c = realloc(t->cells, cap * sizeof *c);
        if (c == NULL)
            return -1;
        t->cells = c;
        t->cap = cap;
    }
    struct counts_cell *c = &t->cells[t->ncells++];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < t->nvars; i++)
        c->key[i] = key[i];
    c->count = hidden ? 0 : count;
    c->count_max = hidden == COUNTS_WITHHELD ? 0 : hidden ? hidden : count;
    c->nsuppressed = hidden && hidden != COUNTS_WITHHELD ? 1 : 0;
    c->nwithheld = hidden == COUNTS_WITHHELD ? 1 : 0;
    return 0;
}

static int
cmp_cell(const void *a, const void *b)
{
    const struct counts_cell *x = a, *y = b;
    for (size_t i = 0; i < COUNTS_MAX_VARS; i++) {
        if (x->key[i] != y->key[i])
            return x->key[i] < y->key[i] ? -1 : 1;
    }
    return 0;
}

void
counts_finish(struct counts_table *t)
{
    if (t->ncells == 0)
        return;
    qsort(t->cells, t->ncells, sizeof *t->cells, cmp_cell);
    size_t w = 0;
    for (size_t r = 1; r < t->ncells; r++) {
        if (cmp_cell(&t->cells[w], &t->cells[r]) == 0) {
            t->cells[w].count += t->cells[r].count;
            t->cells[w].count_max += t->cells[r].count_max;
            t->cells[w].nsuppressed += t->cells[r].nsuppressed;
            t->cells[w].nwithheld += t->cells[r].nwithheld;
        } else {
            t->cells[++w] = t->cells[r];
        }
    }
    t->ncells = w + 1;
}

void
counts_release(struct counts_table *t)
{
    free(t->cells);
    memset(t, 0, sizeof *t);
}
