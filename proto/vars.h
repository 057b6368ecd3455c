/*
 * vars - the common data model's catalogue: registry columns' coded values
 * and the query variables of data-model.md.
 *
 * Queries never name columns; they name these variables, and a node refuses
 * any other.  Categorical levels are listed in the order data-model.md lists
 * them, which is also the order R uses for factor coding.  Pure data: no I/O.
 */
#ifndef VARS_H
#define VARS_H

#include <stddef.h>

enum var_kind {
    VAR_CATEGORICAL,                /* fixed level list (or open: ICD-O-3 codes) */
    VAR_INTEGER                     /* whole numbers, ordered */
};

enum var_id {
    VAR_SEX,
    VAR_TUMOUR_TYPE,
    VAR_STAGE,
    VAR_SURGERY,
    VAR_CHEMOTHERAPY,
    VAR_RADIOTHERAPY,
    VAR_VITAL_STATUS,
    VAR_AGE_YEARS,
    VAR_AGE_GROUP,
    VAR_DIAGNOSIS_YEAR,
    VAR_MORPHOLOGY,
    VAR_TOPOGRAPHY,
    VAR_COUNT                       /* number of variables */
};

struct var_def {
    enum var_id id;
    const char *name;               /* as queries name it */
    enum var_kind kind;
    const char *const *levels;      /* categorical: levels in data-model order; NULL if open */
    size_t nlevels;                 /* 0 for open or integer variables */
    int lo, hi;                     /* integer: the range a value can take */
};

#define VARS_MAX_NAME 32            /* longest variable name accepted anywhere */
#define VARS_MAX_LEVEL 64           /* longest level text accepted anywhere */

/* The variable called name, or NULL if there is none. */
const struct var_def *vars_find(const char *name);
const struct var_def *vars_get(enum var_id id);
/* Index of level in a closed categorical variable, or -1. */
int vars_level_index(const struct var_def *v, const char *level);
/* Comma-separated list of every variable name (static storage). */
const char *vars_names(void);

/* ICD-O-3 syntax checks (data-model.md): "NNNN/B" with B in 0-3,6,9; "CNN" or "CNN.N". */
int vars_valid_morphology(const char *s);
int vars_valid_topography(const char *s);
/* Whether s is a valid level for v (closed list, ICD-O-3 syntax, or integer in range). */
int vars_valid_value(const struct var_def *v, const char *s);

/* age_group level index for an age in whole years. */
int vars_age_group(int age_years);

/* Column code tables shared by import and the node. */
extern const char *const vars_sex_levels[];          /* F, M, U */
extern const char *const vars_tumour_levels[];       /* 17 codes */
extern const char *const vars_stage_levels[];        /* localized ... unknown */
extern const char *const vars_yesno_levels[];        /* yes, no, unknown */
extern const char *const vars_vital_levels[];        /* alive, dead */
extern const char *const vars_age_group_levels[];    /* 0-4 ... 20+ */
#define VARS_NSEX 3
#define VARS_NTUMOUR 17
#define VARS_NSTAGE 4
#define VARS_NYESNO 3
#define VARS_NVITAL 2
#define VARS_NAGE_GROUP 5

#endif /* !VARS_H */
