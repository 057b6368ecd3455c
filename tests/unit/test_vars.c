/*
 * Unit tests for proto/vars: the catalogue of data-model.md (names, kinds,
 * levels in the document's order), the ICD-O-3 syntax checks and age groups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/util.h"
#include "proto/vars.h"

/* Every query variable of data-model.md, in the catalogue's order. */
static const char *const names[] = {
    "sex", "tumour_type", "stage", "surgery", "chemotherapy", "radiotherapy",
    "vital_status", "age_years", "age_group", "diagnosis_year", "morphology", "topography",
};

static void
test_find_and_get(void **state)
{
    (void)state;
    assert_int_equal(VAR_COUNT, 12);
    for (int i = 0; i < VAR_COUNT; i++) {
        const struct var_def *v = vars_find(names[i]);
        assert_non_null(v);
        assert_int_equal(v->id, i);
        assert_string_equal(v->name, names[i]);
        assert_ptr_equal(vars_get((enum var_id)i), v);
    }
    assert_null(vars_find("foo"));
    assert_null(vars_find("Stage"));
    assert_null(vars_find("stage "));
    assert_null(vars_find(""));
    assert_null(vars_find("age"));
    assert_null(vars_find("patient_id"));        /* a column, never a variable */
    assert_null(vars_find("eupid"));
    assert_null(vars_get(VAR_COUNT));
    assert_null(vars_get((enum var_id)-1));
}

static void
test_names(void **state)
{
    (void)state;
    struct buf b = {0};
    for (int i = 0; i < VAR_COUNT; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
    assert_string_equal(vars_names(), (char *)b.p);
    buf_release(&b);
}

static void
test_kinds(void **state)
{
    (void)state;
    for (int i = 0; i < VAR_COUNT; i++) {
        const struct var_def *v = vars_get((enum var_id)i);
        int integer = i == VAR_AGE_YEARS || i == VAR_DIAGNOSIS_YEAR;
        assert_int_equal(v->kind, integer ? VAR_INTEGER : VAR_CATEGORICAL);
        int open = integer || i == VAR_MORPHOLOGY || i == VAR_TOPOGRAPHY;
        if (open) {
            assert_null(v->levels);
            assert_int_equal(v->nlevels, 0);
        } else {
            assert_non_null(v->levels);
            assert_true(v->nlevels >= 2);
        }
    }
    /* age_at_diagnosis_days 0..36500 gives age_years 0..99; dates from 1950. */
    assert_int_equal(vars_get(VAR_AGE_YEARS)->lo, 0);
    assert_int_equal(vars_get(VAR_AGE_YEARS)->hi, 99);
    assert_int_equal(vars_get(VAR_DIAGNOSIS_YEAR)->lo, 1950);
}

static void
assert_levels(enum var_id id, size_t n, const char *const *want)
{
    const struct var_def *v = vars_get(id);
    assert_int_equal(v->nlevels, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v->levels[i], want[i]);
        assert_int_equal(vars_level_index(v, want[i]), (int)i);
    }
}

static void
test_levels(void **state)
{
    (void)state;
    /* Copied from data-model.md, in its order (which is R's factor order). */
    const char *const sex[] = {"F", "M", "U"};
    const char *const tumour[] = {
        "adrenocortical_carcinoma", "pleuropulmonary_blastoma", "nasopharyngeal_carcinoma",
        "melanoma", "thyroid_carcinoma", "pancreatoblastoma", "solid_pseudopapillary_tumour",
        "gastrointestinal_stromal_tumour", "nut_carcinoma", "colorectal_carcinoma",
        "sex_cord_stromal_tumour", "thymic_tumour", "neuroendocrine_tumour",
        "desmoplastic_small_round_cell_tumour", "chordoma", "germ_cell_tumour_other", "other",
    };
    const char *const stage[] = {"localized", "regional", "metastatic", "unknown"};
    const char *const yesno[] = {"yes", "no", "unknown"};
    const char *const vital[] = {"alive", "dead"};
    const char *const agegroup[] = {"0-4", "5-9", "10-14", "15-19", "20+"};
    assert_levels(VAR_SEX, 3, sex);
    assert_levels(VAR_TUMOUR_TYPE, 17, tumour);
    assert_levels(VAR_STAGE, 4, stage);
    assert_levels(VAR_SURGERY, 3, yesno);
    assert_levels(VAR_CHEMOTHERAPY, 3, yesno);
    assert_levels(VAR_RADIOTHERAPY, 3, yesno);
    assert_levels(VAR_VITAL_STATUS, 2, vital);
    assert_levels(VAR_AGE_GROUP, 5, agegroup);
    assert_int_equal(VARS_NTUMOUR, 17);
    assert_ptr_equal(vars_get(VAR_TUMOUR_TYPE)->levels, vars_tumour_levels);

    const struct var_def *st = vars_get(VAR_STAGE);
    assert_int_equal(vars_level_index(st, "metastatic"), 2);
    assert_int_equal(vars_level_index(st, "Metastatic"), -1);
    assert_int_equal(vars_level_index(st, "metastatic "), -1);
    assert_int_equal(vars_level_index(st, ""), -1);
    assert_int_equal(vars_level_index(st, "local"), -1);
    assert_int_equal(vars_level_index(vars_get(VAR_SEX), "f"), -1);
    assert_int_equal(vars_level_index(vars_get(VAR_TUMOUR_TYPE), "other"), 16);
    /* Open variables have no list: every lookup misses. */
    assert_int_equal(vars_level_index(vars_get(VAR_MORPHOLOGY), "8370/3"), -1);
}

static void
test_morphology(void **state)
{
    (void)state;
    const char *good[] = {"8370/3", "8370/0", "8370/1", "8370/2", "8370/6", "8370/9",
                          "0000/0", "9999/9", "8452/1"};
    const char *bad[] = {"8370/4", "8370/5", "8370/7", "8370/8", "837/3", "83700/3",
                         "8370-3", "8370/", "8370/33", "", "a370/3", "8370/a", "8370 3",
                         " 8370/3", "8370/3 ", "M8370/3", "8370//"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(vars_valid_morphology(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (vars_valid_morphology(bad[i]))
            print_error("accepted morphology '%s'\n", bad[i]);
        assert_false(vars_valid_morphology(bad[i]));
    }
}

static void
test_topography(void **state)
{
    (void)state;
    const char *good[] = {"C74", "C74.0", "C73.9", "C00", "C80.9", "C99.9"};
    const char *bad[] = {"C7", "C740", "c74", "C74.", "C74.00", "C7A", "D74", "", "C",
                         "C74,0", "C74.a", " C74", "C74 ", "CC74", "74.0"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(vars_valid_topography(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (vars_valid_topography(bad[i]))
            print_error("accepted topography '%s'\n", bad[i]);
        assert_false(vars_valid_topography(bad[i]));
    }
}

static void
test_valid_value(void **state)
{
    (void)state;
    const struct var_def *age = vars_get(VAR_AGE_YEARS);
    assert_true(vars_valid_value(age, "0"));
    assert_true(vars_valid_value(age, "99"));
    assert_true(vars_valid_value(age, "10"));
    assert_false(vars_valid_value(age, "-1"));
    assert_false(vars_valid_value(age, "100"));
    assert_false(vars_valid_value(age, ""));
    assert_false(vars_valid_value(age, "1x"));
    assert_false(vars_valid_value(age, "ten"));
    const struct var_def *year = vars_get(VAR_DIAGNOSIS_YEAR);
    assert_true(vars_valid_value(year, "1950"));
    assert_true(vars_valid_value(year, "2199"));
    assert_false(vars_valid_value(year, "1949"));
    assert_false(vars_valid_value(year, "2200"));
    assert_true(vars_valid_value(vars_get(VAR_STAGE), "regional"));
    assert_false(vars_valid_value(vars_get(VAR_STAGE), "Regional"));
    assert_true(vars_valid_value(vars_get(VAR_AGE_GROUP), "20+"));
    assert_false(vars_valid_value(vars_get(VAR_AGE_GROUP), "20"));
    assert_true(vars_valid_value(vars_get(VAR_MORPHOLOGY), "8370/3"));
    assert_false(vars_valid_value(vars_get(VAR_MORPHOLOGY), "8370/4"));
    assert_true(vars_valid_value(vars_get(VAR_TOPOGRAPHY), "C74"));
    assert_true(vars_valid_value(vars_get(VAR_TOPOGRAPHY), "C74.0"));
    assert_false(vars_valid_value(vars_get(VAR_TOPOGRAPHY), "C7"));
}

static void
test_age_group(void **state)
{
    (void)state;
    /* Boundaries of 0-4, 5-9, 10-14, 15-19, 20+ on both sides. */
    const int age[] = {0, 4, 5, 9, 10, 14, 15, 19, 20, 99};
    const int group[] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4};
    for (size_t i = 0; i < sizeof age / sizeof *age; i++)
        assert_int_equal(vars_age_group(age[i]), group[i]);
    assert_string_equal(vars_age_group_levels[vars_age_group(4)], "0-4");
    assert_string_equal(vars_age_group_levels[vars_age_group(5)], "5-9");
    assert_string_equal(vars_age_group_levels[vars_age_group(14)], "10-14");
    assert_string_equal(vars_age_group_levels[vars_age_group(15)], "15-19");
    assert_string_equal(vars_age_group_levels[vars_age_group(20)], "20+");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_and_get),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_morphology),
        cmocka_unit_test(test_topography),
        cmocka_unit_test(test_valid_value),
        cmocka_unit_test(test_age_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
