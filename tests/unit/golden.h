/*
 * golden - read the R golden files (TSV files in tests/data/golden/, written by
 * scripts/golden-*.R) and compare doubles as R's values: relative
 * tolerance, NaN (R's NA) equal only to NaN, infinities equal to themselves.
 * Test support only; linked into every unit test program.
 */
#ifndef GOLDEN_H
#define GOLDEN_H

#include <float.h>
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
/*
 * The difference of a and b relative to max(|a|, |b|, floor): 0 when they are
 * equal (NaN to NaN, R's NA; an infinity to itself), INFINITY when only one is
 * NaN or they differ and one is infinite; never NaN.
 */
double golden_diff(double a, double b, double floor);
/* Relative difference.  The DBL_MIN floor compares results in the subnormal
   range absolutely (to ~2e-320), where relative differences mean nothing. */
#define golden_relerr(a, b) golden_diff((a), (b), DBL_MIN)
/* Fail unless golden_relerr(a, b) <= rel, naming ctx, what and at; track the worst
   relative error in *worst (if not NULL). */
void assert_close_at(double a, double b, double rel, double *worst, const char *what,
    const char *ctx, double at);
/* Fail at the caller's file and line unless golden_diff(a, b, floor) <= tol. */
void assert_close_line(double a, double b, double tol, double floor, const char *what,
    const char *file, int line);
#define assert_close(a, b, rel) \
    assert_close_line((a), (b), (rel), DBL_MIN, #a, __FILE__, __LINE__)
/* tol relative for values above 1 and absolute below (hand-computed values near 0) */
#define assert_close_unit(a, b, tol) \
    assert_close_line((a), (b), (tol), 1, #a, __FILE__, __LINE__)

#endif /* !GOLDEN_H */
