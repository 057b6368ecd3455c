/*
 * vars - see vars.h.  The tables below are the single copy of the data
 * model's code lists; import validation, the node and the coordinator all
 * read them from here.
 */
#include "proto/vars.h"

#include "lib/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const char *const vars_sex_levels[] = {"F", "M", "U"};
const char *const vars_tumour_levels[] = {
    "adrenocortical_carcinoma", "pleuropulmonary_blastoma",
    "nasopharyngeal_carcinoma", "melanoma", "thyroid_carcinoma",
    "pancreatoblastoma", "solid_pseudopapillary_tumour",
    "gastrointestinal_stromal_tumour", "nut_carcinoma",
    "colorectal_carcinoma", "sex_cord_stromal_tumour", "thymic_tumour",
    "neuroendocrine_tumour", "desmoplastic_small_round_cell_tumour",
    "chordoma", "germ_cell_tumour_other", "other",
};
const char *const vars_stage_levels[] = {"localized", "regional", "metastatic", "unknown"};
const char *const vars_yesno_levels[] = {"yes", "no", "unknown"};
const char *const vars_vital_levels[] = {"alive", "dead"};
const char *const vars_age_group_levels[] = {"0-4", "5-9", "10-14", "15-19", "20+"};

/* age_at_diagnosis_days is 0..36500, so age_years is 0..99; diagnosis from 1950. */
static const struct var_def defs[VAR_COUNT] = {
    {VAR_SEX, "sex", VAR_CATEGORICAL, vars_sex_levels, VARS_NSEX, 0, 0},
    {VAR_TUMOUR_TYPE, "tumour_type", VAR_CATEGORICAL, vars_tumour_levels, VARS_NTUMOUR, 0, 0},
    {VAR_STAGE, "stage", VAR_CATEGORICAL, vars_stage_levels, VARS_NSTAGE, 0, 0},
    {VAR_SURGERY, "surgery", VAR_CATEGORICAL, vars_yesno_levels, VARS_NYESNO, 0, 0},
    {VAR_CHEMOTHERAPY, "chemotherapy", VAR_CATEGORICAL, vars_yesno_levels, VARS_NYESNO, 0, 0},
    {VAR_RADIOTHERAPY, "radiotherapy", VAR_CATEGORICAL, vars_yesno_levels, VARS_NYESNO, 0, 0},
    {VAR_VITAL_STATUS, "vital_status", VAR_CATEGORICAL, vars_vital_levels, VARS_NVITAL, 0, 0},
    {VAR_AGE_YEARS, "age_years", VAR_INTEGER, NULL, 0, 0, 99},
    {VAR_AGE_GROUP, "age_group", VAR_CATEGORICAL, vars_age_group_levels, VARS_NAGE_GROUP, 0, 0},
    {VAR_DIAGNOSIS_YEAR, "diagnosis_year", VAR_INTEGER, NULL, 0, 1950, 2199},
    {VAR_MORPHOLOGY, "morphology", VAR_CATEGORICAL, NULL, 0, 0, 0},
    {VAR_TOPOGRAPHY, "topography", VAR_CATEGORICAL, NULL, 0, 0, 0},
};

const struct var_def *
vars_find(const char *name)
{
    for (size_t i = 0; i < VAR_COUNT; i++)
        if (strcmp(defs[i].name, name) == 0)
            return &defs[i];
    return NULL;
}

const struct var_def *
vars_get(enum var_id id)
{
    return (unsigned)id < VAR_COUNT ? &defs[id] : NULL;
}

int
vars_level_index(const struct var_def *v, const char *level)
{
    for (size_t i = 0; i < v->nlevels; i++)
        if (strcmp(v->levels[i], level) == 0)
            return (int)i;
    return -1;
}

const char *
vars_names(void)
{
    return "sex, tumour_type, stage, surgery, chemotherapy, radiotherapy, "
           "vital_status, age_years, age_group, diagnosis_year, morphology, topography";
}

int
vars_valid_morphology(const char *s)
{
    if (strlen(s) != 6 || s[4] != '/')
        return 0;
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return strchr("012369", s[5]) != NULL && s[5] != 0;
}

int
vars_valid_topography(const char *s)
{
    size_t n = strlen(s);
    if ((n != 3 && n != 5) || s[0] != 'C' || !isdigit((unsigned char)s[1]) ||
        !isdigit((unsigned char)s[2]))
        return 0;
    return n == 3 || (s[3] == '.' && isdigit((unsigned char)s[4]));
}

int
vars_valid_value(const struct var_def *v, const char *s)
{
    if (v->kind == VAR_INTEGER) {
        long long x;
        return util_parse_int(s, v->lo, v->hi, &x) == 0;
    }
    if (v->id == VAR_MORPHOLOGY)
        return vars_valid_morphology(s);
    if (v->id == VAR_TOPOGRAPHY)
        return vars_valid_topography(s);
    return vars_level_index(v, s) >= 0;
}

int
vars_age_group(int age_years)
{
    if (age_years < 5)
        return 0;
    if (age_years < 10)
        return 1;
    if (age_years < 15)
        return 2;
    if (age_years < 20)
        return 3;
    return 4;
}
