/*
 * fedra-gendata - a seeded generator of synthetic registry extracts in the
 * CSV of data-model.md, for demos, tests and trying queries.  No real
 * patient is behind any row.
 *
 * The mixes are meant to look like a European registry of very rare
 * paediatric tumours (VRTs): thyroid carcinoma and melanoma dominate, NUT
 * carcinoma and pleuropulmonary blastoma are rare; age, sex, stage,
 * treatment and ICD-O-3 codes depend on the tumour type.  Outcomes come from
 * a small multi-state cure model, per patient:
 *
 *   diagnosis ---relapse---> relapse ---death after relapse---> death
 *       \----------death without relapse------------------------/
 *
 * each transition happening at all with probability 1 - exp(-h) and, if it
 * does, after a Weibull time.  h is set per stage (calibrated by simulating
 * the pooled type mix: 5-year OS about 95% localized, 80% regional, 40%
 * metastatic) and scaled by a per-type risk normalised within each stage.
 * Relapse is more likely than death, and death mostly follows a relapse.
 * Follow-up ends at the end date (deaths are known up to it; alive patients
 * were last seen up to 180 days before it) or earlier by loss to follow-up.
 * Every row passes the import rules of data-model.md.
 *
 * The random stream is our own (splitmix64 seeding xoshiro256**), seeded by
 * the country code and --seed, so output is identical across platforms.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "proto/vars.h"

#define GENDATA_MAX_ROWS 1000000    /* rows in one extract */
#define GENDATA_MAX_COUNTRY 16      /* characters in --country */
#define GENDATA_MAX_PREFIX 48       /* characters in --id-prefix: id stays <= 64 */
#define GENDATA_MAX_CODES 6         /* ICD-O-3 code pairs per tumour type */
#define GENDATA_FIRST_YEAR 1950     /* data-model.md: diagnosis from 1950 */

#define DAYS_PER_YEAR 365.25
#define ADULT_SHARE 0.03            /* diagnosed at 20-24 years */
#define UNKNOWN_SEX 0.005
#define UNKNOWN_TREATMENT 0.02      /* each treatment recorded as "unknown" */
#define MISSING_MORPHOLOGY 0.04
#define MISSING_TOPOGRAPHY 0.06
#define EUPID_SHARE 0.60
#define LOSS_RATE 0.015             /* loss to follow-up, per year */
#define CONTACT_LAG_DAYS 180        /* alive: last seen up to this long before the end */
#define DEATH_NO_RELAPSE 0.15       /* its hazard, as a share of the relapse hazard */
#define NEVER ((int64_t)1 << 40)    /* days: an event that does not happen */

enum { LOC, REG, MET, UNK };        /* vars_stage_levels order */

struct code {
    const char *morphology, *topography;
    char sex;                       /* 'F' or 'M' for gonadal sites, 0 for any */
    double weight;
};

struct tumour {
    const char *name;               /* vars_tumour_levels */
    double weight;                  /* relative incidence */
    double p_young;                 /* share of the infant/toddler age mode */
    double young_mean, young_sd, old_mean, old_sd;   /* age modes, years */
    double p_female;
    double stage[4];                /* localized, regional, metastatic, unknown */
    double surgery, chemo, radio;   /* P(yes) when localized; stage shifts them */
    double risk;                    /* relative hazard of relapse and death */
    struct code codes[GENDATA_MAX_CODES];
};

static const struct tumour tumours[VARS_NTUMOUR] = {
    {"adrenocortical_carcinoma", 7, 0.65, 2.5, 1.5, 14, 3, 0.65, {.55, .20, .22, .03},
     .95, .30, .05, 2.0, {{"8370/3", "C74.0", 0, .9}, {"8370/3", "C74.9", 0, .1}}},
    {"pleuropulmonary_blastoma", 1, 1.0, 2.5, 1.5, 0, 1, 0.5, {.60, .20, .15, .05},
     .90, .85, .15, 1.5, {{"8973/3", "C34.9", 0, .7}, {"8973/3", "C38.4", 0, .3}}},
    {"nasopharyngeal_carcinoma", 7, 0, 0, 1, 15, 2.5, 0.35, {.08, .67, .20, .05},
     .10, .95, .95, 1.0,
     {{"8082/3", "C11.9", 0, .5}, {"8020/3", "C11.9", 0, .3}, {"8072/3", "C11.9", 0, .2}}},
    {"melanoma", 20, 0.1, 5, 3, 14, 3.5, 0.55, {.62, .20, .14, .04},
     .97, .08, .05, 0.6,
     {{"8720/3", "C44.5", 0, .3}, {"8720/3", "C44.7", 0, .2}, {"8720/3", "C44.4", 0, .2},
      {"8720/3", "C44.3", 0, .15}, {"8770/3", "C44.6", 0, .15}}},
    {"thyroid_carcinoma", 30, 0.05, 8, 2, 15, 2.5, 0.75, {.45, .37, .14, .04},
     .98, .02, .35, 0.1,
     {{"8260/3", "C73.9", 0, .7}, {"8340/3", "C73.9", 0, .15}, {"8330/3", "C73.9", 0, .08},
      {"8345/3", "C73.9", 0, .07}}},
    {"pancreatoblastoma", 1.5, 0.7, 3, 2, 12, 4, 0.45, {.50, .20, .25, .05},
     .85, .75, .10, 1.3, {{"8971/3", "C25.0", 0, .4}, {"8971/3", "C25.9", 0, .6}}},
    {"solid_pseudopapillary_tumour", 3, 0, 0, 1, 14, 2.5, 0.85, {.85, .08, .05, .02},
     .98, .03, .02, 0.2,
     {{"8452/1", "C25.9", 0, .5}, {"8452/1", "C25.0", 0, .3}, {"8452/3", "C25.2", 0, .2}}},
    {"gastrointestinal_stromal_tumour", 3, 0, 0, 1, 14, 3, 0.6, {.60, .15, .20, .05},
     .90, .20, .02, 0.6, {{"8936/3", "C16.9", 0, .7}, {"8936/3", "C17.9", 0, .3}}},
    {"nut_carcinoma", 0.5, 0, 0, 1, 13, 4, 0.5, {.30, .30, .35, .05},
     .60, .90, .70, 8.0,
     {{"8023/3", "C76.0", 0, .5}, {"8023/3", "C34.9", 0, .3}, {"8023/3", "C11.9", 0, .2}}},
    {"colorectal_carcinoma", 4, 0, 0, 1, 15.5, 2.5, 0.45, {.20, .40, .35, .05},
     .92, .75, .20, 2.0,
     {{"8140/3", "C18.9", 0, .4}, {"8480/3", "C18.7", 0, .25}, {"8490/3", "C20.9", 0, .2},
      {"8140/3", "C19.9", 0, .15}}},
    {"sex_cord_stromal_tumour", 4, 0.25, 2, 1.5, 12, 4, 0.75, {.75, .10, .10, .05},
     .98, .25, .02, 0.6,
     {{"8622/1", "C56.9", 'F', .6}, {"8631/1", "C56.9", 'F', .4},
      {"8640/1", "C62.9", 'M', .3}, {"8650/1", "C62.9", 'M', .7}}},
    {"thymic_tumour", 1.5, 0, 0, 1, 13, 4, 0.5, {.50, .25, .20, .05},
     .80, .35, .35, 1.2, {{"8580/3", "C37.9", 0, .6}, {"8586/3", "C37.9", 0, .4}}},
    {"neuroendocrine_tumour", 6, 0, 0, 1, 13, 3.5, 0.6, {.70, .13, .12, .05},
     .95, .08, .03, 0.5,
     {{"8240/3", "C18.1", 0, .6}, {"8240/3", "C34.9", 0, .2}, {"8249/3", "C17.9", 0, .2}}},
    {"desmoplastic_small_round_cell_tumour", 1.5, 0, 0, 1, 14, 3.5, 0.2, {.08, .32, .55, .05},
     .65, .97, .55, 3.0, {{"8806/3", "C48.2", 0, .7}, {"8806/3", "C48.1", 0, .3}}},
    {"chordoma", 1.5, 0, 0, 1, 11, 5, 0.5, {.70, .10, .15, .05},
     .90, .10, .70, 1.2,
     {{"9370/3", "C41.0", 0, .5}, {"9370/3", "C41.2", 0, .25}, {"9370/3", "C41.4", 0, .25}}},
    {"germ_cell_tumour_other", 6, 0.35, 1.5, 1.2, 14.5, 2.5, 0.5, {.60, .20, .15, .05},
     .85, .60, .05, 0.6,
     {{"9071/3", "C56.9", 'F', .3}, {"9085/3", "C56.9", 'F', .3},
      {"9071/3", "C62.9", 'M', .3}, {"9061/3", "C62.9", 'M', .3},
      {"9071/3", "C76.3", 0, .25}, {"9064/3", "C38.1", 0, .15}}},
    {"other", 3, 0.3, 3, 2, 12, 5, 0.5, {.55, .20, .20, .05},
     .80, .50, .20, 1.3,
     {{"8000/3", "C80.9", 0, .4}, {"8010/3", "C76.0", 0, .3}, {"8800/3", "C49.9", 0, .3}}},
};

/*
 * Per stage (localized, regional, metastatic, unknown), a cure-type model:
 * lifetime cumulative hazard of relapse and the median time to it, and of
 * death after a relapse and the median time from relapse to it.  Found by
 * simulating the pooled type mix so that 5-year OS comes out near 0.95,
 * 0.80, 0.40 (0.85 for unknown stage); curves flatten after about 8 years,
 * as paediatric survival curves do.
 */
static const double relapse_h[4] = {0.08, 0.42, 2.3, 0.25};
static const double relapse_median[4] = {1.8, 1.5, 0.8, 1.5};
static const double postrelapse_h[4] = {0.9, 1.0, 1.9, 1.0};
static const double postrelapse_median[4] = {1.5, 1.3, 0.8, 1.3};
#define NORELAPSE_DEATH_MEDIAN 2.0  /* years: treatment toxicity, second cancers */
/* Treatment P(yes) shifts from the localized value, by stage. */
static const double surgery_shift[4] = {0, -0.05, -0.25, -0.10};
static const double chemo_shift[4] = {0, 0.20, 0.50, 0.15};
static const double radio_shift[4] = {0, 0.10, 0.15, 0.05};

struct options {
    const char *country;
    const char *prefix;             /* patient_id = PREFIX-NNNNNN */
    long long rows;
    uint64_t seed;
    int have_seed;
    int64_t start_day, end_day;     /* days since 1970-01-01 */
};

struct patient {
    char id[GENDATA_MAX_PREFIX + 32];
    char eupid[41];
    const char *sex;
    int64_t age_days;
    int64_t diag_day;
    int type;
    const char *morphology, *topography;   /* "" when missing */
    int stage;
    int surgery, chemo, radio;      /* vars_yesno_levels index */
    int dead;
    int64_t last_day;
    int64_t event_day;              /* -1 when there is none */
};

/* --- random numbers ------------------------------------------------------ */

struct rng {
    uint64_t s[4];
};

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void
rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t
rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform on [0, 1). */
static double
rng_unif(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double
rng_exp1(struct rng *r)
{
    return -log1p(-rng_unif(r));
}

static double
rng_normal(struct rng *r, double mean, double sd)
{
    double u1 = 1.0 - rng_unif(r), u2 = rng_unif(r);
    return mean + sd * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static int
rng_pick(struct rng *r, const double *w, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    double x = rng_unif(r) * total;
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* Weibull time in years with the given median and shape k. */
static double
weibull_median(struct rng *r, double median, double k)
{
    return median * pow(rng_exp1(r) / M_LN2, 1.0 / k);
}

/* Whole days, at least 1, capped well beyond any follow-up. */
static int64_t
years_to_days(double t)
{
    if (!(t < 200))
        return 73050;
    int64_t d = (int64_t)ceil(t * DAYS_PER_YEAR);
    return d < 1 ? 1 : d;
}

/*
 * Whether an event with lifetime cumulative hazard h happens at all and, if
 * so, after how many days (Weibull, shape k, the given median in years).
 */
static int64_t
draw_event(struct rng *r, double h, double median, double k)
{
    if (rng_unif(r) >= -expm1(-h))
        return NEVER;
    return years_to_days(weibull_median(r, median, k));
}

/* --- calendar (proleptic Gregorian, days since 1970-01-01) -------------- */

static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int
days_in_month(int y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : n[m - 1];
}

/* Strict YYYY-MM-DD, calendar-valid. */
static int
parse_date(const char *s, int64_t *day)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    *day = days_from_civil(y, m, d);
    return 0;
}

static void
format_date(int64_t day, char out[11])
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
}

/* --- one patient --------------------------------------------------------- */

/*
 * Mean type risk within each stage, weighted by how often each type has that
 * stage; dividing by it keeps the pooled stage-specific survival near the
 * calibrated figures while types still differ.
 */
static void
stage_risk_norm(double norm[4])
{
    for (int s = 0; s < 4; s++) {
        double num = 0, den = 0;
        for (int t = 0; t < VARS_NTUMOUR; t++) {
            double w = tumours[t].weight * tumours[t].stage[s];
            num += w * tumours[t].risk;
            den += w;
        }
        norm[s] = num / den;
    }
}

static double
draw_age_years(struct rng *r, const struct tumour *t)
{
    if (rng_unif(r) < ADULT_SHARE)
        return 20.0 + 5.0 * rng_unif(r);
    int young = rng_unif(r) < t->p_young;
    double mean = young ? t->young_mean : t->old_mean, sd = young ? t->young_sd : t->old_sd;
    for (int i = 0; i < 100; i++) {     /* truncate to [0, 20) by rejection */
        double a = rng_normal(r, mean, sd);
        if (a >= 0 && a < 20)
            return a;
    }
    return mean < 0 ? 0 : mean >= 20 ? 19.5 : mean;
}

/* yes/no/unknown index for P(yes) = p, clamped to [0.01, 0.97]. */
static int
draw_yesno(struct rng *r, double p)
{
    if (rng_unif(r) < UNKNOWN_TREATMENT)
        return 2;
    p = p < 0.01 ? 0.01 : p > 0.97 ? 0.97 : p;
    return rng_unif(r) < p ? 0 : 1;
}

static void
draw_codes(struct rng *r, const struct tumour *t, const char *sex, struct patient *p)
{
    double w[GENDATA_MAX_CODES] = {0};
    for (int i = 0; i < GENDATA_MAX_CODES && t->codes[i].morphology; i++)
        if (t->codes[i].sex == 0 || sex[0] == 'U' || t->codes[i].sex == sex[0])
            w[i] = t->codes[i].weight;
    int k = rng_pick(r, w, GENDATA_MAX_CODES);
    p->morphology = rng_unif(r) < MISSING_MORPHOLOGY ? "" : t->codes[k].morphology;
    p->topography = rng_unif(r) < MISSING_TOPOGRAPHY ? "" : t->codes[k].topography;
}

/*
 * Outcome from the multi-state model of the file comment.  Deaths are known
 * up to the end date (registry linkage) unless the patient was lost; alive
 * patients were last seen a little before it.
 */
static void
draw_outcome(struct rng *r, const struct options *o, double risk, struct patient *p)
{
    int st = p->stage;
    double a = relapse_h[st] * risk;
    int64_t relapse = draw_event(r, a, relapse_median[st], 1.3);
    int64_t death = draw_event(r, DEATH_NO_RELAPSE * a, NORELAPSE_DEATH_MEDIAN, 1.0);
    int relapsed = relapse < death;
    if (relapsed) {
        death = draw_event(r, postrelapse_h[st] * sqrt(risk), postrelapse_median[st], 1.2);
        if (death != NEVER)
            death += relapse;
    }

    int64_t admin = o->end_day - p->diag_day;
    int64_t lost = years_to_days(rng_exp1(r) / LOSS_RATE);
    int64_t known = lost < admin ? lost : admin;        /* deaths known up to here */
    int64_t seen = admin - (int64_t)(rng_unif(r) * CONTACT_LAG_DAYS);
    if (seen > known)
        seen = known;
    if (seen < 0)
        seen = 0;

    p->dead = death <= known;
    p->last_day = p->diag_day + (p->dead ? death : seen);
    p->event_day = relapsed && p->diag_day + relapse <= p->last_day ? p->diag_day + relapse : -1;
}

static void
draw_patient(struct rng *r, const struct options *o, const double norm[4], long long i,
    struct patient *p)
{
    double w[VARS_NTUMOUR];
    for (int t = 0; t < VARS_NTUMOUR; t++)
        w[t] = tumours[t].weight;
    p->type = rng_pick(r, w, VARS_NTUMOUR);
    const struct tumour *t = &tumours[p->type];

    snprintf(p->id, sizeof p->id, "%s-%06lld", o->prefix, i + 1);
    p->eupid[0] = 0;
    if (rng_unif(r) < EUPID_SHARE)
        snprintf(p->eupid, sizeof p->eupid, "%016llx%016llx%08llx",
            (unsigned long long)rng_next(r), (unsigned long long)rng_next(r),
            (unsigned long long)(rng_next(r) >> 32));

    double u = rng_unif(r);
    p->sex = u < UNKNOWN_SEX ? "U" : rng_unif(r) < t->p_female ? "F" : "M";
    p->age_days = (int64_t)floor(draw_age_years(r, t) * DAYS_PER_YEAR);
    p->diag_day = o->start_day + (int64_t)(rng_unif(r) * (double)(o->end_day - o->start_day + 1));
    if (p->diag_day > o->end_day)
        p->diag_day = o->end_day;
    draw_codes(r, t, p->sex, p);

    p->stage = rng_pick(r, t->stage, 4);
    p->surgery = draw_yesno(r, t->surgery + surgery_shift[p->stage]);
    p->chemo = draw_yesno(r, t->chemo + chemo_shift[p->stage]);
    p->radio = draw_yesno(r, t->radio + radio_shift[p->stage]);
    draw_outcome(r, o, t->risk / norm[p->stage], p);
}

/* --- output -------------------------------------------------------------- */

/* One RFC 4180 field: quoted only when it holds a comma, quote or line break. */
static void
put_field(FILE *f, const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
    } else {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    }
    fputc(last ? '\n' : ',', f);
}

static void
put_row(FILE *f, const struct patient *p)
{
    char age[24], diag[11], last[11], event[11] = "";
    snprintf(age, sizeof age, "%lld", (long long)p->age_days);
    format_date(p->diag_day, diag);
    format_date(p->last_day, last);
    if (p->event_day >= 0)
        format_date(p->event_day, event);
    const char *fields[] = {
        p->id, p->eupid, p->sex, age, diag, tumours[p->type].name, p->morphology,
        p->topography, vars_stage_levels[p->stage], vars_yesno_levels[p->surgery],
        vars_yesno_levels[p->chemo], vars_yesno_levels[p->radio],
        vars_vital_levels[p->dead], last, event,
    };
    size_t n = sizeof fields / sizeof *fields;
    for (size_t i = 0; i < n; i++)
        put_field(f, fields[i], i + 1 == n);
}

static const char header[] =
    "patient_id,eupid,sex,age_at_diagnosis_days,diagnosis_date,tumour_type,"
    "icdo3_morphology,icdo3_topography,stage,surgery,chemotherapy,radiotherapy,"
    "vital_status,last_contact_date,event_date\n";

/* --- command line -------------------------------------------------------- */

static const char usage_text[] =
    "usage: fedra-gendata --country CODE --rows N [--seed S] [--start-year Y]\n"
    "                     [--end-date YYYY-MM-DD] [--id-prefix P] > FILE.csv\n"
    "\n"
    "Write a synthetic registry extract (data-model.md CSV: all 15 columns, header\n"
    "first, LF line ends) to standard output.  No real patient is behind any row.\n"
    "\n"
    "  --country CODE      registry's country code, e.g. IT (letters, digits, _ -;\n"
    "                      at most 16); it also seeds the generator\n"
    "  --rows N            number of patients, 0 to 1000000\n"
    "  --seed S            unsigned 64-bit seed; the output is a function of the\n"
    "                      country code and S (default: of the country code alone)\n"
    "  --start-year Y      first year of diagnosis (default 2000; from 1950)\n"
    "  --end-date DATE     end of follow-up and last possible diagnosis\n"
    "                      (default 2024-12-31; not after today)\n"
    "  --id-prefix P       patient_id is P-000001, P-000002, ... (default: the\n"
    "                      country code; letters, digits, _ . -; at most 48)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Tumour types, ages, sex, stage, treatment, ICD-O-3 codes and survival follow\n"
    "realistic mixes for very rare paediatric tumours; about 60% of rows carry an\n"
    "EUPID.  Exit status: 0 written, 2 usage error, 1 write error.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "fedra-gendata: WHAT" and a pointer to --help; the usage exit status. */
static int
usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fedra-gendata: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'fedra-gendata --help'.\n", stderr);
    va_end(ap);
    return 2;
}

static int
only_chars(const char *s, const char *extra, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++) {
        char c = *s;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 strchr(extra, c) != NULL;
        if (!ok)
            return 0;
    }
    return 1;
}

/* FNV-1a of the country code: the default seed, different for every country. */
static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* 0 to run, or the exit status (0 after --help, 2 on a usage error) in *status. */
static int
parse_args(int argc, char **argv, struct options *o, int *status)
{
    static const struct option longopts[] = {
        {"country", required_argument, NULL, 'c'},
        {"rows", required_argument, NULL, 'r'},
        {"seed", required_argument, NULL, 's'},
        {"start-year", required_argument, NULL, 'y'},
        {"end-date", required_argument, NULL, 'e'},
        {"id-prefix", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long long start_year = 2000;
    const char *end = "2024-12-31";
    o->rows = -1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->country = optarg;
            break;
        case 'r':
            if (util_parse_int(optarg, 0, GENDATA_MAX_ROWS, &o->rows) < 0) {
                *status = usage_error("--rows: expected a whole number from 0 to 1000000, got '%s'",
                    optarg);
                return -1;
            }
            break;
        case 's': {
            char *e;
            errno = 0;
            unsigned long long v = strtoull(optarg, &e, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *e != 0 || errno != 0) {
                *status = usage_error("--seed: expected an unsigned 64-bit whole number, got '%s'",
                    optarg);
                return -1;
            }
            o->seed = v;
            o->have_seed = 1;
            break;
        }
        case 'y':
            if (util_parse_int(optarg, GENDATA_FIRST_YEAR, 9999, &start_year) < 0) {
                *status = usage_error("--start-year: expected a year from 1950, got '%s'", optarg);
                return -1;
            }
            break;
        case 'e':
            end = optarg;
            break;
        case 'p':
            o->prefix = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            *status = 0;
            return -1;
        case ':':
            *status = usage_error("%s needs a value", argv[optind - 1]);
            return -1;
        default:
            *status = usage_error("unknown option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        *status = usage_error("unexpected argument '%s' (the CSV goes to standard output)",
            argv[optind]);
        return -1;
    }
    if (o->country == NULL || o->rows < 0) {
        *status = usage_error("%s", o->country == NULL ? "--country CODE is required"
                                                        : "--rows N is required");
        return -1;
    }
    if (!only_chars(o->country, "_-", GENDATA_MAX_COUNTRY)) {
        *status = usage_error("--country: expected 1 to 16 letters, digits, _ or -, got '%s'",
            o->country);
        return -1;
    }
    if (o->prefix == NULL)
        o->prefix = o->country;
    if (!only_chars(o->prefix, "_.-", GENDATA_MAX_PREFIX)) {
        *status = usage_error("--id-prefix: expected 1 to 48 letters, digits, _ . or -, got '%s'",
            o->prefix);
        return -1;
    }
    int64_t today = (int64_t)(time(NULL) / 86400);
    if (parse_date(end, &o->end_day) < 0 ||
        o->end_day < days_from_civil(GENDATA_FIRST_YEAR, 1, 1)) {
        *status = usage_error("--end-date: expected a calendar date YYYY-MM-DD from 1950-01-01, got '%s'",
            end);
        return -1;
    }
    if (o->end_day > today) {
        *status = usage_error("--end-date: '%s' is in the future; registry dates cannot be after today",
            end);
        return -1;
    }
    int ey, em, ed;
    civil_from_days(o->end_day, &ey, &em, &ed);
    if (start_year > ey) {
        *status = usage_error("--start-year: must not be after the year of --end-date (%s)", end);
        return -1;
    }
    o->start_day = days_from_civil(start_year, 1, 1);
    return 0;
}

int
main(int argc, char **argv)
{
    struct options o = {0};
    int status = 0;
    if (parse_args(argc, argv, &o, &status) < 0)
        return status;

    /* The type table must follow the data model's code list. */
    for (int t = 0; t < VARS_NTUMOUR; t++) {
        if (strcmp(tumours[t].name, vars_tumour_levels[t]) != 0) {
            fprintf(stderr, "fedra-gendata: internal error: tumour table out of date at '%s'\n",
                tumours[t].name);
            return 1;
        }
    }

    uint64_t mix = fnv1a(o.country);
    if (o.have_seed)
        mix ^= splitmix64(&o.seed);
    struct rng r;
    rng_seed(&r, mix);
    double norm[4];
    stage_risk_norm(norm);

    fputs(header, stdout);
    for (long long i = 0; i < o.rows; i++) {
        struct patient p;
        draw_patient(&r, &o, norm, i, &p);
        put_row(stdout, &p);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "fedra-gendata: writing the CSV failed: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
