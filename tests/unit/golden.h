/*
 * golden - read the R golden files (TSV files in tests/data/golden/, written by
 * scripts/golden-*.R) and compare doubles as R's values: relative
 * tolerance, NaN (R's NA) equal only to NaN, infinities equal to themselves.
 * Test support only; linked into every unit test program.
 */
#ifndef GOLDEN_H
#define GOLDEN_H

#include <stddef.h>
#include <stdint.h>

#define GOLDEN_DIR "tests/data/golden/"

struct tsv {
    char *buf;
    char **cell;            /* nrows x ncols, header excluded */
    char **head;
    size_t nrows, ncols;
};

void tsv_free(struct tsv *t);
/* Load GOLDEN_DIR/name; fails the test if it cannot. */
struct tsv *tsv_load(const char *name);
size_t tsv_col(const struct tsv *t, const char *name);
const char *tsv_str(const struct tsv *t, size_t r, const char *name);
double tsv_num(const struct tsv *t, size_t r, const char *name);
int64_t tsv_int(const struct tsv *t, size_t r, const char *name);
/* Fail unless a and b agree to rel; track the worst relative error in *worst. */
void assert_close_at(double a, double b, double rel, double *worst, const char *what,
    const char *ctx, double at);
#define assert_close(a, b, rel) assert_close_at((a), (b), (rel), NULL, #a, "", 0)

#endif /* !GOLDEN_H */
