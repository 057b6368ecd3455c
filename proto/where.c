/*
 * where - see where.h.  A hand-written scanner and recursive-descent parser
 * over the grammar in where.h.  Every piece of the input that becomes heap
 * memory is bounded first (expression length, term and value counts, name
 * and value lengths), so a hostile --where costs at most a few kilobytes.
 *
 * Error messages point at a 1-based byte column and quote a short piece of
 * the input starting there ("near '...'"), or say "at end of expression".
 */
#include "proto/where.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "proto/vars.h"

#define WHERE_NEAR_MAX 24           /* bytes of input quoted after "near" */

struct parser {
    const char *s;                  /* the whole expression */
    size_t pos;                     /* byte offset of the next unread byte */
    char *err;
};

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int
is_value_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '+' || c == '/' || c == '-';
}

static int
is_op_char(char c)
{
    return c == '=' || c == '!' || c == '<' || c == '>';
}

static void
skip_space(struct parser *p)
{
    while (is_space(p->s[p->pos]))
        p->pos++;
}

/* Length of the token that starts at off, for quoting it in a message. */
static size_t
token_extent(const char *s, size_t off)
{
    const char *t = s + off;
    size_t n = 0;
    if (is_value_char(t[0])) {
        while (is_value_char(t[n]))
            n++;
    } else if (t[0] == '\'' || t[0] == '"') {
        const char *close = strchr(t + 1, t[0]);
        n = close ? (size_t)(close - t) + 1 : strlen(t);
    } else if (is_op_char(t[0])) {
        while (is_op_char(t[n]))
            n++;
    } else if (t[0] != 0) {
        n = 1;                      /* one character, with its UTF-8 continuation bytes */
        while ((t[n] & 0xC0) == 0x80)
            n++;
    }
    return n;
}

/*
 * "column N: WHAT near 'TOKEN'" or "column N: WHAT at end of expression".
 * The quoted token is cut to WHERE_NEAR_MAX bytes; control bytes show as '?'.
 */
static int
fail_at(struct parser *p, size_t off, const char *what)
{
    if (p->s[off] == 0)
        return errf(p->err, "column %zu: %s at end of expression", off + 1, what);
    size_t n = token_extent(p->s, off);
    int cut = n > WHERE_NEAR_MAX;
    if (cut)
        n = WHERE_NEAR_MAX;
    char near[WHERE_NEAR_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p->s[off + i];
        near[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    near[n] = 0;
    return errf(p->err, "column %zu: %s near '%s%s'", off + 1, what, near, cut ? "..." : "");
}

/* The word (run of value characters) at the current position; its length. */
static size_t
word_len(const struct parser *p)
{
    size_t n = 0;
    while (is_value_char(p->s[p->pos + n]))
        n++;
    return n;
}

/* Whether the word at the current position is exactly kw, ignoring case. */
static int
word_is(const struct parser *p, const char *kw)
{
    size_t n = word_len(p);
    return n == strlen(kw) && strncasecmp(p->s + p->pos, kw, n) == 0;
}

static int
parse_var(struct parser *p, char **out)
{
    skip_space(p);
    size_t start = p->pos, n = word_len(p);
    const char *t = p->s + start;
    int ok = n > 0 && ((t[0] >= 'a' && t[0] <= 'z') || t[0] == '_');
    for (size_t i = 1; ok && i < n; i++)
        ok = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '_';
    if (!ok)
        return fail_at(p, start, "expected a variable name ([a-z_][a-z0-9_]*)");
    if (n > VARS_MAX_NAME) {
        char what[96];
        snprintf(what, sizeof what, "expected a variable name of at most %d characters",
            VARS_MAX_NAME);
        return fail_at(p, start, what);
    }
    *out = xmalloc(n + 1);
    memcpy(*out, t, n);
    (*out)[n] = 0;
    p->pos += n;
    return 0;
}

static int
parse_op(struct parser *p, enum where_op *op)
{
    skip_space(p);
    const char *t = p->s + p->pos;
    size_t n = 1;
    if (t[0] == '=') {
        *op = WHERE_EQ;
    } else if (t[0] == '!' && t[1] == '=') {
        *op = WHERE_NE;
        n = 2;
    } else if (t[0] == '<') {
        *op = t[1] == '=' ? WHERE_LE : WHERE_LT;
        n = t[1] == '=' ? 2 : 1;
    } else if (t[0] == '>') {
        *op = t[1] == '=' ? WHERE_GE : WHERE_GT;
        n = t[1] == '=' ? 2 : 1;
    } else if (word_is(p, "in")) {
        *op = WHERE_IN;
        n = 2;
    } else {
        return fail_at(p, p->pos, "expected an operator (=, !=, <, <=, >, >=, in)");
    }
    p->pos += n;
    return 0;
}

/* A bare word or a quoted string (no escapes; the other quote is literal). */
static int
parse_value(struct parser *p, char **out)
{
    skip_space(p);
    size_t start = p->pos, from, n;
    char q = p->s[start];
    if (q == '\'' || q == '"') {
        const char *close = strchr(p->s + start + 1, q);
        if (close == NULL) {
            char what[64];
            snprintf(what, sizeof what, "expected a closing %c for the value", q);
            return fail_at(p, start, what);
        }
        from = start + 1;
        n = (size_t)(close - (p->s + from));
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p->s[from + i];
            if (c < 0x20 || c == 0x7f)
                return fail_at(p, from + i, "expected a printable character in the quoted value");
        }
        if (n == 0)
            return fail_at(p, start, "expected a non-empty value");
        p->pos = from + n + 1;
    } else {
        from = start;
        n = word_len(p);
        if (n == 0)
            return fail_at(p, start, "expected a value");
        p->pos = from + n;
    }
    if (n > VARS_MAX_LEVEL) {
        char what[96];
        snprintf(what, sizeof what, "expected a value of at most %d characters", VARS_MAX_LEVEL);
        return fail_at(p, start, what);
    }
    *out = xmalloc(n + 1);
    memcpy(*out, p->s + from, n);
    (*out)[n] = 0;
    return 0;
}

/* "(" VALUE { "," VALUE } ")" after "in"; values are appended to t. */
static int
parse_list(struct parser *p, struct where_term *t)
{
    skip_space(p);
    if (p->s[p->pos] != '(')
        return fail_at(p, p->pos, "expected '(' after in");
    p->pos++;
    t->values = xcalloc(WHERE_MAX_VALUES, sizeof *t->values);
    for (;;) {
        skip_space(p);
        if (t->nvalues == WHERE_MAX_VALUES) {
            char what[96];
            snprintf(what, sizeof what, "expected at most %d values in one in (...)",
                WHERE_MAX_VALUES);
            return fail_at(p, p->pos, what);
        }
        if (parse_value(p, &t->values[t->nvalues]) < 0)
            return -1;
        t->nvalues++;
        skip_space(p);
        char c = p->s[p->pos];
        if (c == ')') {
            p->pos++;
            return 0;
        }
        if (c != ',')
            return fail_at(p, p->pos, "expected ',' or ')'");
        p->pos++;
    }
}

static int
parse_term(struct parser *p, struct where_term *t)
{
    if (parse_var(p, &t->var) < 0 || parse_op(p, &t->op) < 0)
        return -1;
    if (t->op == WHERE_IN)
        return parse_list(p, t);
    t->values = xcalloc(1, sizeof *t->values);
    if (parse_value(p, &t->values[0]) < 0)
        return -1;
    t->nvalues = 1;
    return 0;
}

int
where_parse(const char *expr, struct where *w, char *err)
{
    struct parser p = {expr, 0, err};
    memset(w, 0, sizeof *w);
    size_t len = strnlen(expr, WHERE_MAX_LEN + 1);
    if (len > WHERE_MAX_LEN)
        return errf(err, "column %d: expected an expression of at most %d characters",
            WHERE_MAX_LEN + 1, WHERE_MAX_LEN);
    w->terms = xcalloc(WHERE_MAX_TERMS, sizeof *w->terms);
    for (;;) {
        skip_space(&p);
        if (w->nterms == WHERE_MAX_TERMS) {
            char what[96];
            snprintf(what, sizeof what, "expected at most %d terms joined by 'and'",
                WHERE_MAX_TERMS);
            fail_at(&p, p.pos, what);
            goto fail;
        }
        /* Counted before parsing so that a half-built term is released too. */
        if (parse_term(&p, &w->terms[w->nterms++]) < 0)
            goto fail;
        skip_space(&p);
        if (p.s[p.pos] == 0)
            return 0;
        if (!word_is(&p, "and")) {
            fail_at(&p, p.pos, "expected 'and' or the end of the expression");
            goto fail;
        }
        p.pos += 3;
    }
fail:
    where_release(w);
    return -1;
}

void
where_release(struct where *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->nterms; i++) {
        struct where_term *t = &w->terms[i];
        free(t->var);
        for (size_t j = 0; j < t->nvalues; j++)
            free(t->values[j]);
        free(t->values);
    }
    free(w->terms);
    memset(w, 0, sizeof *w);
}

const char *
where_op_text(enum where_op op)
{
    switch (op) {
    case WHERE_EQ: return "=";
    case WHERE_NE: return "!=";
    case WHERE_LT: return "<";
    case WHERE_LE: return "<=";
    case WHERE_GT: return ">";
    case WHERE_GE: return ">=";
    case WHERE_IN: return "in";
    }
    return "?";
}

/* Strictly digits with an optional leading '-': no blanks, no '+', no junk. */
static int
parse_integer(const char *s, long long lo, long long hi, long long *out)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    if (*d == 0 || strspn(d, "0123456789") != strlen(d))
        return -1;
    return util_parse_int(s, lo, hi, out);
}

static int
check_value(const struct var_def *v, const char *s, char *err)
{
    if (v->kind == VAR_INTEGER) {
        long long x;
        if (parse_integer(s, v->lo, v->hi, &x) == 0)
            return 0;
        return errf(err, "'%s' is not a value of %s (a whole number from %d to %d)", s,
            v->name, v->lo, v->hi);
    }
    if (v->id == VAR_MORPHOLOGY) {
        if (vars_valid_morphology(s))
            return 0;
        return errf(err, "'%s' is not an ICD-O-3 morphology code for %s "
            "(NNNN/B with B in 0-3, 6, 9, e.g. 8370/3)", s, v->name);
    }
    if (v->id == VAR_TOPOGRAPHY) {
        if (vars_valid_topography(s))
            return 0;
        return errf(err, "'%s' is not an ICD-O-3 topography code for %s "
            "(CNN or CNN.N, e.g. C74.0)", s, v->name);
    }
    if (vars_level_index(v, s) >= 0)
        return 0;
    struct buf b = {0};
    for (size_t i = 0; i < v->nlevels; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", v->levels[i]);
    errf(err, "'%s' is not a level of %s (%s)", s, v->name, b.p ? (char *)b.p : "");
    buf_release(&b);
    return -1;
}

int
where_check(const struct where *w, char *err)
{
    for (size_t i = 0; i < w->nterms; i++) {
        const struct where_term *t = &w->terms[i];
        const struct var_def *v = vars_find(t->var);
        if (v == NULL)
            return errf(err, "unknown variable '%s' (variables: %s)", t->var, vars_names());
        int ordering = t->op == WHERE_LT || t->op == WHERE_LE || t->op == WHERE_GT ||
                       t->op == WHERE_GE;
        if (ordering && v->kind != VAR_INTEGER)
            return errf(err, "operator '%s' needs an integer variable; %s is categorical",
                where_op_text(t->op), v->name);
        for (size_t j = 0; j < t->nvalues; j++)
            if (check_value(v, t->values[j], err) < 0)
                return -1;
    }
    return 0;
}
