/*
 * where - parse the --where expression of interface.md into filters.
 *
 *   EXPR   := TERM { "and" TERM }
 *   TERM   := VAR OP VALUE | VAR "in" "(" VALUE { "," VALUE } ")"
 *   OP     := "=" | "!=" | "<" | "<=" | ">" | ">="
 *   VAR    := [a-z_][a-z0-9_]*               (at most VARS_MAX_NAME chars)
 *   VALUE  := [A-Za-z0-9_.+/-]+ | '...' | "..."   (at most VARS_MAX_LEVEL chars)
 *
 * "and" and "in" are case-insensitive; white space is free.  The parser is
 * syntactic: whether a variable exists and a value is one of its levels is
 * checked by where_check() (and, authoritatively, by every node).  Pure: no I/O.
 */
#ifndef WHERE_H
#define WHERE_H

#include <stddef.h>

#define WHERE_MAX_TERMS 16          /* terms joined by "and" */
#define WHERE_MAX_VALUES 64         /* values in one "in (...)" */
#define WHERE_MAX_LEN 4096          /* longest expression accepted */

enum where_op { WHERE_EQ, WHERE_NE, WHERE_LT, WHERE_LE, WHERE_GT, WHERE_GE, WHERE_IN };

struct where_term {
    char *var;                      /* variable name as written */
    enum where_op op;
    char **values;                  /* one value, or several for WHERE_IN */
    size_t nvalues;
};

struct where {
    struct where_term *terms;
    size_t nterms;
};

/*
 * Parse expr into w (zeroed on entry; where_release() after).  On a syntax
 * error return -1 and write "column N: <what was expected>" into err
 * (FEDRA_ERRLEN bytes).
 */
int where_parse(const char *expr, struct where *w, char *err);
void where_release(struct where *w);
const char *where_op_text(enum where_op op);     /* "=", "!=", ..., "in" */
/*
 * Check names and values against the catalogue (vars.h): unknown variable,
 * unknown level, ordering operator on a categorical variable, non-integer
 * value for an integer variable.  -1 with a message naming the term.
 */
int where_check(const struct where *w, char *err);

#endif /* !WHERE_H */
