/*
 * Unit tests for proto/where: the --where grammar of interface.md, its error
 * columns (counted by hand, 1-based bytes), its limits at the boundary and
 * one past, and where_check against the catalogue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "proto/vars.h"
#include "proto/where.h"

/* Parse expr, expecting success; the caller releases w. */
static void
parse_ok(const char *expr, struct where *w)
{
    char err[FEDRA_ERRLEN] = "";
    int rc = where_parse(expr, w, err);
    if (rc != 0)
        print_error("where_parse(\"%s\") failed: %s\n", expr, err);
    assert_int_equal(rc, 0);
}

/* Parse expr, expecting exactly the error message want, and w left empty. */
static void
parse_err(const char *expr, const char *want)
{
    char err[FEDRA_ERRLEN] = "";
    struct where w;
    memset(&w, 0xa5, sizeof w);     /* where_parse must not rely on a zeroed w */
    assert_int_equal(where_parse(expr, &w, err), -1);
    assert_string_equal(err, want);
    assert_null(w.terms);
    assert_int_equal(w.nterms, 0);
    where_release(&w);
}

/* Parse and check expr; return where_check's result with its message in err. */
static int
check(const char *expr, char *err)
{
    struct where w;
    parse_ok(expr, &w);
    int rc = where_check(&w, err);
    where_release(&w);
    return rc;
}

static void
check_ok(const char *expr)
{
    char err[FEDRA_ERRLEN] = "";
    int rc = check(expr, err);
    if (rc != 0)
        print_error("where_check(\"%s\") failed: %s\n", expr, err);
    assert_int_equal(rc, 0);
}

static void
check_err(const char *expr, const char *want)
{
    char err[FEDRA_ERRLEN] = "";
    assert_int_equal(check(expr, err), -1);
    assert_string_equal(err, want);
}

static void
assert_term(const struct where_term *t, const char *var, enum where_op op, size_t n, ...)
{
    assert_string_equal(t->var, var);
    assert_int_equal(t->op, op);
    assert_int_equal(t->nvalues, n);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(t->values[i], va_arg(ap, const char *));
    va_end(ap);
}

/* The three terms of interface.md's example, however it is spelled. */
static void
assert_example(const char *expr)
{
    struct where w;
    parse_ok(expr, &w);
    assert_int_equal(w.nterms, 3);
    assert_term(&w.terms[0], "stage", WHERE_EQ, 1, "metastatic");
    assert_term(&w.terms[1], "age_years", WHERE_LT, 1, "10");
    assert_term(&w.terms[2], "tumour_type", WHERE_IN, 2, "melanoma", "thyroid_carcinoma");
    char err[FEDRA_ERRLEN] = "";
    assert_int_equal(where_check(&w, err), 0);
    where_release(&w);
    assert_null(w.terms);
    assert_int_equal(w.nterms, 0);
}

static void
test_interface_example(void **state)
{
    (void)state;
    assert_example("stage=metastatic and age_years<10 and tumour_type in (melanoma,thyroid_carcinoma)");
}

static void
test_whitespace(void **state)
{
    (void)state;
    assert_example("stage = metastatic and age_years < 10 and tumour_type in ( melanoma , thyroid_carcinoma )");
    assert_example("  stage=metastatic   and\tage_years<10\nand tumour_type in(melanoma,thyroid_carcinoma)  ");
    assert_example("\r\nstage\t=\tmetastatic\vand\fage_years<10 and tumour_type\tin\t(melanoma,\n thyroid_carcinoma)\r\n");
}

static void
test_keywords_case_insensitive(void **state)
{
    (void)state;
    assert_example("stage=metastatic AND age_years<10 And tumour_type IN (melanoma,thyroid_carcinoma)");
    assert_example("stage=metastatic aNd age_years<10 anD tumour_type In (melanoma,thyroid_carcinoma)");
    assert_example("stage=metastatic and age_years<10 and tumour_type iN(melanoma,thyroid_carcinoma)");
}

static void
test_quoted_values(void **state)
{
    (void)state;
    assert_example("stage='metastatic' and age_years<\"10\" and tumour_type in (\"melanoma\", 'thyroid_carcinoma')");

    struct where w;
    parse_ok("morphology='8370/3' and topography=\"C74.0\"", &w);
    assert_int_equal(w.nterms, 2);
    assert_term(&w.terms[0], "morphology", WHERE_EQ, 1, "8370/3");
    assert_term(&w.terms[1], "topography", WHERE_EQ, 1, "C74.0");
    where_release(&w);

    /* Inside quotes anything printable goes, the other quote included. */
    parse_ok("x='a b, (c) and d' and y=\"it's\" and z='say \"hi\"'and q != 'x=1'", &w);
    assert_int_equal(w.nterms, 4);
    assert_term(&w.terms[0], "x", WHERE_EQ, 1, "a b, (c) and d");
    assert_term(&w.terms[1], "y", WHERE_EQ, 1, "it's");
    assert_term(&w.terms[2], "z", WHERE_EQ, 1, "say \"hi\"");
    assert_term(&w.terms[3], "q", WHERE_NE, 1, "x=1");
    where_release(&w);
}

static void
test_operators(void **state)
{
    (void)state;
    struct where w;
    parse_ok("a=1 and b!=2 and c<3 and d<=4 and e>5 and f>=6 and g in (7) and h>=-8", &w);
    assert_int_equal(w.nterms, 8);
    assert_term(&w.terms[0], "a", WHERE_EQ, 1, "1");
    assert_term(&w.terms[1], "b", WHERE_NE, 1, "2");
    assert_term(&w.terms[2], "c", WHERE_LT, 1, "3");
    assert_term(&w.terms[3], "d", WHERE_LE, 1, "4");
    assert_term(&w.terms[4], "e", WHERE_GT, 1, "5");
    assert_term(&w.terms[5], "f", WHERE_GE, 1, "6");
    assert_term(&w.terms[6], "g", WHERE_IN, 1, "7");
    assert_term(&w.terms[7], "h", WHERE_GE, 1, "-8");
    where_release(&w);

    /* Value characters: letters, digits and _ . + / - */
    parse_ok("age_group=10-14 and morphology!=8370/3 and _x1=A.b+c_D", &w);
    assert_term(&w.terms[0], "age_group", WHERE_EQ, 1, "10-14");
    assert_term(&w.terms[1], "morphology", WHERE_NE, 1, "8370/3");
    assert_term(&w.terms[2], "_x1", WHERE_EQ, 1, "A.b+c_D");
    where_release(&w);

    /* Keywords are only keywords where the grammar expects them. */
    parse_ok("in=and and and in (in,and)", &w);
    assert_int_equal(w.nterms, 2);
    assert_term(&w.terms[0], "in", WHERE_EQ, 1, "and");
    assert_term(&w.terms[1], "and", WHERE_IN, 2, "in", "and");
    where_release(&w);

    assert_string_equal(where_op_text(WHERE_EQ), "=");
    assert_string_equal(where_op_text(WHERE_NE), "!=");
    assert_string_equal(where_op_text(WHERE_LT), "<");
    assert_string_equal(where_op_text(WHERE_LE), "<=");
    assert_string_equal(where_op_text(WHERE_GT), ">");
    assert_string_equal(where_op_text(WHERE_GE), ">=");
    assert_string_equal(where_op_text(WHERE_IN), "in");
}

#define VARNAME "expected a variable name ([a-z_][a-z0-9_]*)"
#define OPERATOR "expected an operator (=, !=, <, <=, >, >=, in)"
#define AND_OR_END "expected 'and' or the end of the expression"

static void
test_syntax_errors(void **state)
{
    (void)state;
    /* Columns: 1-based byte offsets, counted by hand on each literal. */
    parse_err("", "column 1: " VARNAME " at end of expression");
    parse_err("   ", "column 4: " VARNAME " at end of expression");
    parse_err("Stage=localized", "column 1: " VARNAME " near 'Stage'");
    parse_err("1stage=x", "column 1: " VARNAME " near '1stage'");
    parse_err("stage-x=1", "column 1: " VARNAME " near 'stage-x'");
    parse_err("=x", "column 1: " VARNAME " near '='");
    parse_err("(stage=x)", "column 1: " VARNAME " near '('");
    parse_err("  'stage'=x", "column 3: " VARNAME " near ''stage''");
    parse_err("stage metastatic", "column 7: " OPERATOR " near 'metastatic'");
    parse_err("stage", "column 6: " OPERATOR " at end of expression");
    parse_err("stage ! metastatic", "column 7: " OPERATOR " near '!'");
    parse_err("stage =! x", "column 8: expected a value near '!'");
    parse_err("stage inside (a)", "column 7: " OPERATOR " near 'inside'");
    parse_err("stage=", "column 7: expected a value at end of expression");
    parse_err("stage==x", "column 7: expected a value near '='");
    parse_err("stage=(a)", "column 7: expected a value near '('");
    parse_err("stage=\xc3\xa9", "column 7: expected a value near '\xc3\xa9'");
    parse_err("stage=metastatic age_years<10",
        "column 18: " AND_OR_END " near 'age_years'");
    parse_err("stage=metastatic or stage=regional", "column 18: " AND_OR_END " near 'or'");
    parse_err("stage=metastatic andage_years<10",
        "column 18: " AND_OR_END " near 'andage_years'");
    parse_err("stage=metastatic, age_years<10", "column 17: " AND_OR_END " near ','");
    parse_err("stage=metastatic and", "column 21: " VARNAME " at end of expression");
    parse_err("stage=metastatic and ", "column 22: " VARNAME " at end of expression");
    parse_err("stage=metastatic and and x=1", "column 26: " OPERATOR " near 'x'");
    parse_err("stage in metastatic", "column 10: expected '(' after in near 'metastatic'");
    parse_err("stage in", "column 9: expected '(' after in at end of expression");
    parse_err("stage in ()", "column 11: expected a value near ')'");
    parse_err("stage in (a,)", "column 13: expected a value near ')'");
    parse_err("stage in (,a)", "column 11: expected a value near ','");
    parse_err("stage in (a b)", "column 13: expected ',' or ')' near 'b'");
    parse_err("stage in (a", "column 12: expected ',' or ')' at end of expression");
    parse_err("stage in (a,", "column 13: expected a value at end of expression");
    parse_err("stage in (a) b", "column 14: " AND_OR_END " near 'b'");
    parse_err("stage='metastatic", "column 7: expected a closing ' for the value near ''metastatic'");
    parse_err("stage=\"metastatic'", "column 7: expected a closing \" for the value near '\"metastatic''");
    parse_err("stage=''", "column 7: expected a non-empty value near ''''");
    parse_err("stage='a\tb'", "column 9: expected a printable character in the quoted value near '?'");
    parse_err("stage='a\x7f'", "column 9: expected a printable character in the quoted value near '?'");
    /* The quoted piece of input is cut at 24 bytes. */
    parse_err("stage xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=1",
        "column 7: " OPERATOR " near 'xxxxxxxxxxxxxxxxxxxxxxxx...'");
    /* Control bytes outside quotes are shown as '?'. */
    parse_err("stage=a\x01", "column 8: " AND_OR_END " near '?'");
}

/* s repeated n times into a new string. */
static char *
repeat(const char *s, size_t n)
{
    struct buf b = {0};
    for (size_t i = 0; i < n; i++)
        buf_puts(&b, s);
    buf_puts(&b, "");
    return buf_detach(&b);
}

static void
test_limit_length(void **state)
{
    (void)state;
    assert_int_equal(WHERE_MAX_LEN, 4096);
    /* "stage=localized" (15 bytes) padded with blanks to 4096, then 4097 bytes. */
    char *pad = repeat(" ", 4096 - 15);
    struct buf b = {0};
    buf_printf(&b, "stage=localized%s", pad);
    assert_int_equal(b.len, 4096);
    struct where w;
    parse_ok((char *)b.p, &w);
    assert_int_equal(w.nterms, 1);
    where_release(&w);
    buf_puts(&b, " ");
    assert_int_equal(b.len, 4097);
    parse_err((char *)b.p, "column 4097: expected an expression of at most 4096 characters");
    buf_release(&b);
    free(pad);
}

static void
test_limit_terms(void **state)
{
    (void)state;
    assert_int_equal(WHERE_MAX_TERMS, 16);
    /* Each "age_years>1" is 11 bytes and " and " 5, so term k starts at 16(k-1). */
    char *terms = repeat("age_years>1 and ", 16);
    struct buf b = {0};
    buf_printf(&b, "%.*s", (int)strlen(terms) - 5, terms);     /* 16 terms */
    struct where w;
    parse_ok((char *)b.p, &w);
    assert_int_equal(w.nterms, 16);
    for (size_t i = 0; i < 16; i++)
        assert_term(&w.terms[i], "age_years", WHERE_GT, 1, "1");
    where_release(&w);
    buf_puts(&b, " and age_years>1");                            /* 17 terms */
    parse_err((char *)b.p, "column 257: expected at most 16 terms joined by 'and' near 'age_years'");
    buf_release(&b);
    free(terms);
}

static void
test_limit_values(void **state)
{
    (void)state;
    assert_int_equal(WHERE_MAX_VALUES, 64);
    /* "stage in (" is 10 bytes, each "vNN," 4, so value k starts at 10+4(k-1). */
    struct buf b = {0};
    buf_puts(&b, "stage in (");
    for (int i = 0; i < 64; i++)
        buf_printf(&b, "%sv%02d", i ? "," : "", i);
    buf_puts(&b, ")");
    struct where w;
    parse_ok((char *)b.p, &w);
    assert_int_equal(w.nterms, 1);
    assert_int_equal(w.terms[0].op, WHERE_IN);
    assert_int_equal(w.terms[0].nvalues, 64);
    assert_string_equal(w.terms[0].values[0], "v00");
    assert_string_equal(w.terms[0].values[63], "v63");
    where_release(&w);
    b.len--;                                                     /* drop ")" */
    buf_puts(&b, ",v64)");
    parse_err((char *)b.p, "column 267: expected at most 64 values in one in (...) near 'v64'");
    buf_release(&b);
}

static void
test_limit_name(void **state)
{
    (void)state;
    assert_int_equal(VARS_MAX_NAME, 32);
    char *name = repeat("a", 32);
    struct buf b = {0};
    buf_printf(&b, "%s=1", name);
    struct where w;
    parse_ok((char *)b.p, &w);
    assert_int_equal(strlen(w.terms[0].var), 32);
    assert_string_equal(w.terms[0].var, name);
    where_release(&w);
    buf_release(&b);
    buf_printf(&b, "%sa=1", name);
    parse_err((char *)b.p, "column 1: expected a variable name of at most 32 characters "
        "near 'aaaaaaaaaaaaaaaaaaaaaaaa...'");
    buf_release(&b);
    free(name);
}

static void
test_limit_value(void **state)
{
    (void)state;
    assert_int_equal(VARS_MAX_LEVEL, 64);
    char *v64 = repeat("b", 64);
    char *v65 = repeat("b", 65);
    const char *before[] = {"x=", "x='", "x in (a, \""};
    const char *after[] = {"", "'", "\")"};
    const size_t col[] = {3, 3, 10};
    const char *near[] = {"bbbbbbbbbbbbbbbbbbbbbbbb...", "'bbbbbbbbbbbbbbbbbbbbbbb...",
                          "\"bbbbbbbbbbbbbbbbbbbbbbb..."};
    for (size_t i = 0; i < 3; i++) {
        struct buf b = {0};
        buf_printf(&b, "%s%s%s", before[i], v64, after[i]);
        struct where w;
        parse_ok((char *)b.p, &w);
        assert_string_equal(w.terms[0].values[w.terms[0].nvalues - 1], v64);
        where_release(&w);
        buf_release(&b);
        buf_printf(&b, "%s%s%s", before[i], v65, after[i]);
        char want[FEDRA_ERRLEN];
        snprintf(want, sizeof want,
            "column %zu: expected a value of at most 64 characters near '%s'", col[i], near[i]);
        parse_err((char *)b.p, want);
        buf_release(&b);
    }
    free(v64);
    free(v65);
}

static void
test_check(void **state)
{
    (void)state;
    check_ok("sex=F and stage!=unknown and surgery=yes and chemotherapy in (no,unknown) "
        "and radiotherapy=no and vital_status=dead and age_group in (0-4,20+)");
    check_ok("age_years>=0 and age_years<=99 and diagnosis_year>1950 and diagnosis_year<2199");
    check_ok("age_years in (0, 5, 99) and diagnosis_year != 2000");
    check_ok("morphology in (8370/3, '8260/3') and topography in (C74, C74.0)");
    check_ok("tumour_type in (adrenocortical_carcinoma, other)");

    check_err("foo=1", "unknown variable 'foo' (variables: sex, tumour_type, stage, surgery, "
        "chemotherapy, radiotherapy, vital_status, age_years, age_group, diagnosis_year, "
        "morphology, topography)");
    check_err("stage=localized and stages=1", "unknown variable 'stages' (variables: sex, "
        "tumour_type, stage, surgery, chemotherapy, radiotherapy, vital_status, age_years, "
        "age_group, diagnosis_year, morphology, topography)");
    check_err("stage=bar", "'bar' is not a level of stage (localized, regional, metastatic, unknown)");
    check_err("stage=localized and stage in (regional, Metastatic)",
        "'Metastatic' is not a level of stage (localized, regional, metastatic, unknown)");
    check_err("sex=f", "'f' is not a level of sex (F, M, U)");
    check_err("surgery=maybe", "'maybe' is not a level of surgery (yes, no, unknown)");
    check_err("vital_status=lost", "'lost' is not a level of vital_status (alive, dead)");
    check_err("age_group=0-5", "'0-5' is not a level of age_group (0-4, 5-9, 10-14, 15-19, 20+)");
    check_err("tumour_type=wilms", "'wilms' is not a level of tumour_type (adrenocortical_carcinoma, "
        "pleuropulmonary_blastoma, nasopharyngeal_carcinoma, melanoma, thyroid_carcinoma, "
        "pancreatoblastoma, solid_pseudopapillary_tumour, gastrointestinal_stromal_tumour, "
        "nut_carcinoma, colorectal_carcinoma, sex_cord_stromal_tumour, thymic_tumour, "
        "neuroendocrine_tumour, desmoplastic_small_round_cell_tumour, chordoma, "
        "germ_cell_tumour_other, other)");

    check_err("stage<metastatic", "operator '<' needs an integer variable; stage is categorical");
    check_err("stage<=metastatic", "operator '<=' needs an integer variable; stage is categorical");
    check_err("age_group>10-14", "operator '>' needs an integer variable; age_group is categorical");
    check_err("morphology>=8000/3", "operator '>=' needs an integer variable; morphology is categorical");

    const char *age = "is not a value of age_years (a whole number from 0 to 99)";
    const char *bad_ages[] = {"abc", "-1", "100", "+5", " 5", "5 ", "1e1", "0x10", "5.0", "-"};
    for (size_t i = 0; i < sizeof bad_ages / sizeof *bad_ages; i++) {
        char expr[64], want[FEDRA_ERRLEN];
        snprintf(expr, sizeof expr, "age_years<'%s'", bad_ages[i]);
        snprintf(want, sizeof want, "'%s' %s", bad_ages[i], age);
        check_err(expr, want);
    }
    check_ok("diagnosis_year=1950");
    check_ok("diagnosis_year=2199");
    check_err("diagnosis_year=1949",
        "'1949' is not a value of diagnosis_year (a whole number from 1950 to 2199)");
    check_err("diagnosis_year in (2000, 2200)",
        "'2200' is not a value of diagnosis_year (a whole number from 1950 to 2199)");

    check_err("morphology='8370/4'", "'8370/4' is not an ICD-O-3 morphology code for morphology "
        "(NNNN/B with B in 0-3, 6, 9, e.g. 8370/3)");
    check_err("topography=C7", "'C7' is not an ICD-O-3 topography code for topography "
        "(CNN or CNN.N, e.g. C74.0)");
    check_err("topography in (C74, c74.0)", "'c74.0' is not an ICD-O-3 topography code for "
        "topography (CNN or CNN.N, e.g. C74.0)");

    /* An empty where (zeroed struct) checks fine. */
    struct where none = {0};
    char err[FEDRA_ERRLEN] = "";
    assert_int_equal(where_check(&none, err), 0);
}

static void
test_release(void **state)
{
    (void)state;
    where_release(NULL);
    struct where w = {0};
    where_release(&w);
    parse_ok("stage=localized", &w);
    where_release(&w);
    where_release(&w);              /* released twice: the first one zeroed it */
    assert_null(w.terms);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interface_example),
        cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_keywords_case_insensitive),
        cmocka_unit_test(test_quoted_values),
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_limit_length),
        cmocka_unit_test(test_limit_terms),
        cmocka_unit_test(test_limit_values),
        cmocka_unit_test(test_limit_name),
        cmocka_unit_test(test_limit_value),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
