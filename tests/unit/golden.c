/*
 * golden - see golden.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/golden.h"

/* ------------------------------------------------------------------ TSV */


void
tsv_free(struct tsv *t)
{
    if (t == NULL)
        return;
    free(t->buf);
    free(t->cell);
    free(t->head);
    free(t);
}

static size_t
split_tabs(char *line, char **out, size_t max)
{
    size_t n = 0;
    for (char *p = line;; ) {
        if (n < max)
            out[n] = p;
        n++;
        char *tab = strchr(p, '\t');
        if (tab == NULL)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

struct tsv *
tsv_load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", GOLDEN_DIR, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (run from the repository root)", path);
    struct tsv *t = calloc(1, sizeof *t);
    assert_non_null(t);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    t->buf = malloc((size_t)len + 1);
    assert_non_null(t->buf);
    assert_int_equal(fread(t->buf, 1, (size_t)len, f), (size_t)len);
    t->buf[len] = '\0';
    fclose(f);

    size_t nlines = 0;
    for (long i = 0; i < len; i++)
        if (t->buf[i] == '\n')
            nlines++;
    assert_true(nlines >= 1);
    char *save = NULL;
    char *line = strtok_r(t->buf, "\n", &save);
    assert_non_null(line);
    t->ncols = 1;
    for (const char *p = line; *p; p++)
        t->ncols += *p == '\t';
    t->head = calloc(t->ncols, sizeof *t->head);
    assert_non_null(t->head);
    split_tabs(line, t->head, t->ncols);
    t->cell = calloc((nlines - 1) * t->ncols + 1, sizeof *t->cell);
    assert_non_null(t->cell);
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        size_t n = split_tabs(line, t->cell + t->nrows * t->ncols, t->ncols);
        assert_int_equal(n, t->ncols);
        t->nrows++;
    }
    return t;
}

size_t
tsv_col(const struct tsv *t, const char *name)
{
    for (size_t c = 0; c < t->ncols; c++)
        if (strcmp(t->head[c], name) == 0)
            return c;
    fail_msg("column %s missing", name);
    return 0;
}

const char *
tsv_str(const struct tsv *t, size_t r, const char *name)
{
    return t->cell[r * t->ncols + tsv_col(t, name)];
}

/* R's NA -> NaN; NaN, Inf, -Inf as strtod reads them. */
double
tsv_num(const struct tsv *t, size_t r, const char *name)
{
    const char *s = tsv_str(t, r, name);
    if (strcmp(s, "NA") == 0)
        return NAN;
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0')
        fail_msg("bad number '%s' in column %s", s, name);
    return v;
}

int64_t
tsv_int(const struct tsv *t, size_t r, const char *name)
{
    double v = tsv_num(t, r, name);
    assert_true(v == floor(v));
    return (int64_t)v;
}

/* ------------------------------------------------------------ comparing */

double
golden_diff(double a, double b, double floor)
{
    if (a == b || (isnan(a) && isnan(b)))
        return 0;
    if (isnan(a) || isnan(b) || isinf(a) || isinf(b))
        return INFINITY;
    return fabs(a - b) / fmax(fmax(fabs(a), fabs(b)), floor);
}

void
assert_close_at(double a, double b, double rel, double *worst, const char *what, const char *ctx,
                double at)
{
    double d = golden_relerr(a, b);
    if (worst != NULL && isfinite(d) && d > *worst)
        *worst = d;
    if (!(d <= rel))
        fail_msg("%s %s at %.17g: got %.17g, R %.17g", ctx, what, at, a, b);
}

void
assert_close_line(double a, double b, double tol, double floor, const char *what,
                  const char *file, int line)
{
    double d = golden_diff(a, b, floor);
    if (!(d <= tol)) {
        print_error("%s: got %.17g, expected %.17g (err %.3g > %.3g)\n", what, a, b, d, tol);
        _fail(file, line);
    }
}
