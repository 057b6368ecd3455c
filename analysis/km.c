/*
 * km - see km.h.  The arithmetic copies survival's src/survfitkm.c (3.5-3)
 * operation for operation (running product, Greenwood and Nelson-Aalen sums
 * in ascending time) and R/survfit.R's survfit_confint, so that results agree
 * with R to a few units in the last place, not merely to a tolerance.
 */
#include "analysis/km.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rec {
    int32_t time;
    uint8_t event;
};

static int
cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    return (x->time > y->time) - (x->time < y->time);
}

static int
cmp_row(const void *a, const void *b)
{
    const struct km_row *x = a, *y = b;
    return (x->time > y->time) - (x->time < y->time);
}

static int
cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int
km_grid_ceil(int32_t time, int32_t grid, int32_t *out)
{
    if (time < 0 || grid < 0)
        return KM_EINVAL;
    if (grid == 0 || time % grid == 0) {
        *out = time;
        return 0;
    }
    int64_t up = ((int64_t)time / grid + 1) * grid;
    if (up > KM_MAX_TIME)
        return KM_ERANGE;
    *out = (int32_t)up;
    return 0;
}

/*
 * km_life_table's rows by counting, for valid records whose times are at
 * most tmax and whose rounded times are < bins * g (g = grid, 1 for exact).
 * Where the raw times span no more than n values, one pass counts (time,
 * event) pairs at raw resolution, without a division per record, and the
 * raw times then fold onto the grid; otherwise each record is binned.
 */
static int
dense_table(const int32_t *time, const uint8_t *event, size_t n, int32_t tmax, uint32_t g,
    size_t bins, struct km_table *out)
{
    size_t span = (size_t)tmax + 1;
    int raw = span <= n;
    int64_t *cnt = raw ? calloc(2 * span, sizeof *cnt) : NULL;  /* [2t] censored, [2t+1] events */
    int64_t *d = calloc(bins, sizeof *d), *c = calloc(bins, sizeof *c);
    struct km_row *rows = NULL;
    int rc = KM_ENOMEM;
    if ((raw && cnt == NULL) || d == NULL || c == NULL)
        goto done;
    if (raw) {
        for (size_t i = 0; i < n; i++)
            cnt[2 * (size_t)time[i] + event[i]]++;
        for (size_t t = 0; t < span; t++) {
            size_t b = (t + g - 1) / g;                 /* ceil: the grid time b * g */
            c[b] += cnt[2 * t];
            d[b] += cnt[2 * t + 1];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            uint32_t b = ((uint32_t)time[i] + g - 1) / g;
            d[b] += event[i];
            c[b] += 1 - event[i];
        }
    }
    size_t nrows = 0;
    for (size_t b = 0; b < bins; b++)
        nrows += d[b] + c[b] > 0;
    if ((rows = calloc(nrows ? nrows : 1, sizeof *rows)) == NULL)
        goto done;
    size_t w = 0;
    for (size_t b = 0; b < bins; b++) {
        if (d[b] + c[b] == 0)
            continue;
        rows[w].time = (int32_t)(b * g);
        rows[w].d = d[b];
        rows[w].c = c[b];
        w++;
    }
    out->n = (int64_t)n;
    out->rows = rows;
    out->nrows = nrows;
    rows = NULL;
    rc = 0;
done:
    free(rows);
    free(cnt);
    free(d);
    free(c);
    return rc;
}

int
km_life_table(const int32_t *time, const uint8_t *event, size_t n, int32_t grid,
              struct km_table *out)
{
    memset(out, 0, sizeof *out);
    if (grid < 0)
        return KM_EINVAL;
    if ((uint64_t)n > (uint64_t)KM_MAX_N)
        return KM_ERANGE;
    if (n == 0)
        return 0;

    /*
     * Valid records whose time range is not much larger than n are counted in
     * a dense table (linear time, no per-record allocation); otherwise, and
     * to report the first bad record exactly, they are sorted (n log n).  The
     * table comes out the same either way.
     */
    int bad = 0;
    int32_t tmax = 0, up;
    for (size_t i = 0; i < n; i++) {
        bad |= (time[i] < 0) | (event[i] > 1);
        tmax = time[i] > tmax ? time[i] : tmax;
    }
    uint32_t g = grid > 0 ? (uint32_t)grid : 1;
    if (!bad && km_grid_ceil(tmax, grid, &up) == 0 &&
        (uint64_t)((uint32_t)up / g) + 1 <= 2 * (uint64_t)n + KM_DENSE_SLACK)
        return dense_table(time, event, n, tmax, g, (size_t)((uint32_t)up / g) + 1, out);

    int rc = 0;
    struct rec *r = malloc(n * sizeof *r);
    struct km_row *rows = NULL;
    if (r == NULL) {
        rc = KM_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (event[i] > 1) {
            rc = KM_EINVAL;
            goto done;
        }
        if ((rc = km_grid_ceil(time[i], grid, &r[i].time)) != 0)
            goto done;
        r[i].event = event[i];
    }
    qsort(r, n, sizeof *r, cmp_rec);

    size_t nrows = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || r[i].time != r[i - 1].time)
            nrows++;
    rows = calloc(nrows, sizeof *rows);
    if (rows == NULL) {
        rc = KM_ENOMEM;
        goto done;
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && r[i].time != r[i - 1].time)
            w++;
        rows[w].time = r[i].time;
        if (r[i].event)
            rows[w].d++;
        else
            rows[w].c++;
    }
    out->n = (int64_t)n;
    out->rows = rows;
    out->nrows = nrows;
    rows = NULL;
done:
    free(rows);
    free(r);
    return rc;
}

/* The invariants of km.h: ascending distinct times, counts >= 0, sum(d + c) == n. */
static int
table_valid(const struct km_table *t)
{
    if (t->n < 0 || t->n > KM_MAX_N || (t->nrows > 0 && t->rows == NULL))
        return 0;
    int64_t left = t->n;
    for (size_t i = 0; i < t->nrows; i++) {
        const struct km_row *r = &t->rows[i];
        if (r->time < 0 || r->d < 0 || r->c < 0 || r->d > left || r->c > left - r->d)
            return 0;
        if (r->d + r->c == 0)
            return 0;
        if (i > 0 && r->time <= t->rows[i - 1].time)
            return 0;
        left -= r->d + r->c;
    }
    return left == 0;
}

int
km_table_check(const struct km_table *t)
{
    return table_valid(t) ? 0 : KM_EINVAL;
}

int
km_pool(const struct km_table *tables, size_t ntables, struct km_table *out)
{
    memset(out, 0, sizeof *out);
    if (ntables > KM_MAX_TABLES || (ntables > 0 && tables == NULL))
        return KM_EINVAL;
    size_t total = 0;
    int64_t n = 0;
    for (size_t k = 0; k < ntables; k++) {
        if (!table_valid(&tables[k]))
            return KM_EINVAL;
        total += tables[k].nrows;       /* <= KM_MAX_TABLES * KM_MAX_N: no overflow */
        n += tables[k].n;
    }
    if (n > KM_MAX_N)
        return KM_ERANGE;
    if (total == 0) {
        out->n = n;
        return 0;
    }
    struct km_row *all = malloc(total * sizeof *all);
    if (all == NULL)
        return KM_ENOMEM;
    size_t w = 0;
    for (size_t k = 0; k < ntables; k++) {
        if (tables[k].nrows == 0)
            continue;
        memcpy(all + w, tables[k].rows, tables[k].nrows * sizeof *all);
        w += tables[k].nrows;
    }
    /* Sort then merge equal times: counts are integers, so the order of
     * summation cannot matter. */
    qsort(all, total, sizeof *all, cmp_row);
    w = 0;
    for (size_t r = 1; r < total; r++) {
        if (all[r].time == all[w].time) {
            all[w].d += all[r].d;
            all[w].c += all[r].c;
        } else {
            all[++w] = all[r];
        }
    }
    out->n = n;
    out->nrows = w + 1;
    out->rows = all;
    return 0;
}

/*
 * Wichura (1988) AS 241, PPND16, with the coefficients of R's nmath/qnorm.c.
 * Accurate to about 1e-16; only the lower tail and 0 < p < 1 are needed.
 */
double
km_qnorm(double p)
{
    if (!(p > 0.0 && p < 1.0))
        return p == 0.0 ? -INFINITY : p == 1.0 ? INFINITY : NAN;
    double q = p - 0.5, r, val;
    if (fabs(q) <= 0.425) {
        r = 0.180625 - q * q;
        return q * (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r
                         + 67265.770927008700853) * r + 45921.953931549871457) * r
                       + 13731.693765509461125) * r + 1971.5909503065514427) * r
                     + 133.14166789178437745) * r + 3.387132872796366608)
            / (((((((r * 5226.495278852854561 + 28729.085735721942674) * r
                    + 39307.89580009271061) * r + 21213.794301586595867) * r
                  + 5394.1960214247511077) * r + 687.1870074920579083) * r
                + 42.313330701600911252) * r + 1.0);
    }
    r = q < 0 ? p : 1.0 - p;
    r = sqrt(-log(r));
    if (r <= 5.0) {
        r -= 1.6;
        val = (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r
                    + 0.24178072517745061177) * r + 1.27045825245236838258) * r
                  + 3.64784832476320460504) * r + 5.7694972214606914055) * r
                + 4.6303378461565452959) * r + 1.42343711074968357734)
            / (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r
                    + 0.0151986665636164571966) * r + 0.14810397642748007459) * r
                  + 0.68976733498510000455) * r + 1.6763848301838038494) * r
                + 2.05319162663775882187) * r + 1.0);
    } else {
        r -= 5.0;
        val = (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r
                    + 0.0012426609473880784386) * r + 0.026532189526576123093) * r
                  + 0.29656057182850489123) * r + 1.7848265399172913358) * r
                + 5.4637849111641143699) * r + 6.6579046435011037772)
            / (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r
                    + 1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r
                  + 0.0148753612908506148525) * r + 0.13692988092273580531) * r
                + 0.59983220655588793769) * r + 1.0);
    }
    return q < 0 ? -val : val;
}

/*
 * survfit_confint (3.5-3) with logse = TRUE, se = sqrt(Greenwood).  The
 * explicit NaN cases are where R's arithmetic yields NA or NaN.
 */
static void
confint(enum km_conf_type type, double z, double s, double se, double *lo, double *hi)
{
    *lo = *hi = NAN;
    switch (type) {
    case KM_CONF_LOG:
        if (s == 0)
            return;                     /* xx <- ifelse(p == 0, NA, p) */
        *lo = exp(log(s) - z * se);
        *hi = fmin(exp(log(s) + z * se), 1.0);
        return;
    case KM_CONF_LOGLOG: {
        if (s == 0 || s == 1)
            return;                     /* NA in 3.5-3 at S = 1 too */
        double se2 = z * se / log(s);
        *lo = exp(-exp(log(-log(s)) - se2));
        *hi = exp(-exp(log(-log(s)) + se2));
        return;
    }
    case KM_CONF_PLAIN: {
        double se2 = se * s * z;        /* Inf * 0 = NaN at S = 0, kept as R keeps it */
        if (isnan(se2))
            return;
        *lo = fmax(s - se2, 0.0);
        *hi = fmin(s + se2, 1.0);
        return;
    }
    }
}

static double
column(const struct km_point *p, enum km_column col)
{
    return col == KM_COL_SURV ? p->surv : col == KM_COL_LOWER ? p->lower : p->upper;
}

double
km_median_rule(const struct km_point *pts, size_t npts, enum km_column col)
{
    size_t first = npts;
    for (size_t i = 0; i < npts; i++) {
        double y = column(&pts[i], col);
        if (isnan(y) || !(y < 0.5 + KM_MEDIAN_TOL))
            continue;
        if (first == npts) {
            first = i;
            if (!(fabs(y - 0.5) < KM_MEDIAN_TOL))
                return pts[i].time;
        } else if (y < column(&pts[first], col)) {
            return ((double)pts[first].time + (double)pts[i].time) / 2;
        }
    }
    return first == npts ? NAN : pts[first].time;
}

int
km_fit(const struct km_table *table, enum km_conf_type conf_type, double conf_int,
       struct km_curve *out)
{
    memset(out, 0, sizeof *out);
    out->median = out->median_lower = out->median_upper = NAN;
    if (!table_valid(table) || !(conf_int > 0 && conf_int < 1)
        || (conf_type != KM_CONF_LOG && conf_type != KM_CONF_LOGLOG && conf_type != KM_CONF_PLAIN))
        return KM_EINVAL;
    if (table->n == 0)
        return KM_EEMPTY;
    out->pts = calloc(table->nrows, sizeof *out->pts);
    if (out->pts == NULL)
        return KM_ENOMEM;
    out->npts = table->nrows;
    out->n = table->n;
    out->conf_type = conf_type;
    out->conf_int = conf_int;

    double z = km_qnorm(1 - (1 - conf_int) / 2);
    double km = 1.0, v1 = 0.0, nelson = 0.0, v2 = 0.0;
    int64_t left = table->n;                 /* at risk: N minus earlier leavers */
    for (size_t i = 0; i < table->nrows; i++) {
        const struct km_row *r = &table->rows[i];
        struct km_point *p = &out->pts[i];
        p->time = r->time;
        p->n_risk = left;
        p->n_event = r->d;
        p->n_censor = r->c;
        out->events += r->d;
        double nrisk = (double)left, d = (double)r->d;
        if (r->d > 0) {
            nelson += d / nrisk;
            v2 += d / (nrisk * nrisk);
            km *= (nrisk - d) / nrisk;
            /* d/(n(n - d)) with n == d is +Inf in R; written out so that no
             * float division by zero is needed. */
            v1 = r->d == left ? INFINITY : v1 + d / (nrisk * (nrisk - d));
        }
        p->surv = km;
        p->se_log = sqrt(v1);
        p->std_err = p->surv * p->se_log;   /* 0 * Inf = NaN, as R */
        p->cumhaz = nelson;
        p->std_chaz = sqrt(v2);
        confint(conf_type, z, p->surv, p->se_log, &p->lower, &p->upper);
        left -= r->d + r->c;
    }
    out->median = km_median_rule(out->pts, out->npts, KM_COL_SURV);
    out->median_lower = km_median_rule(out->pts, out->npts, KM_COL_LOWER);
    out->median_upper = km_median_rule(out->pts, out->npts, KM_COL_UPPER);
    return 0;
}

int
km_merge(const struct km_table *tables, size_t ntables, enum km_conf_type conf_type,
         double conf_int, struct km_curve *out)
{
    struct km_table pooled;
    int rc = km_pool(tables, ntables, &pooled);
    if (rc == 0)
        rc = km_fit(&pooled, conf_type, conf_int, out);
    else
        memset(out, 0, sizeof *out);
    km_table_release(&pooled);
    return rc;
}

int
km_at_times(const struct km_curve *curve, const int32_t *times, size_t ntimes, int extend,
            struct km_point **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (ntimes > KM_MAX_TIMES || (ntimes > 0 && times == NULL) || curve->npts == 0)
        return KM_EINVAL;
    for (size_t i = 0; i < ntimes; i++)
        if (times[i] < 0)
            return KM_EINVAL;
    if (ntimes == 0)
        return 0;

    int rc = 0;
    int32_t *tau = malloc(ntimes * sizeof *tau);
    struct km_point *res = calloc(ntimes, sizeof *res);
    if (tau == NULL || res == NULL) {
        rc = KM_ENOMEM;
        goto done;
    }
    memcpy(tau, times, ntimes * sizeof *tau);
    qsort(tau, ntimes, sizeof *tau, cmp_i32);
    size_t nkeep = ntimes;
    int32_t last = curve->pts[curve->npts - 1].time;
    while (!extend && nkeep > 0 && tau[nkeep - 1] > last)
        nkeep--;

    /* j walks the curve: pts[0..j-1] have time <= tau.  cum_* are the events
     * and censorings up to the current tau, prev_* those up to the last one. */
    size_t j = 0;
    int64_t cum_d = 0, cum_c = 0, prev_d = 0, prev_c = 0;
    for (size_t k = 0; k < nkeep; k++) {
        while (j < curve->npts && curve->pts[j].time <= tau[k]) {
            cum_d += curve->pts[j].n_event;
            cum_c += curve->pts[j].n_censor;
            j++;
        }
        struct km_point *p = &res[k];
        if (j == 0) {                   /* survfit0's start row */
            p->surv = 1;
            p->se_log = p->std_err = 0;
            p->lower = p->upper = 1;
            p->cumhaz = p->std_chaz = 0;
        } else {
            const struct km_point *c = &curve->pts[j - 1];
            p->surv = c->surv;
            p->se_log = c->se_log;
            p->std_err = c->std_err;
            p->lower = c->lower;
            p->upper = c->upper;
            p->cumhaz = c->cumhaz;
            p->std_chaz = c->std_chaz;
        }
        p->time = tau[k];
        /* first point with time >= tau; equal to #{records with time >= tau} */
        size_t f = j;
        if (f > 0 && curve->pts[f - 1].time == tau[k])
            f--;
        p->n_risk = f < curve->npts ? curve->pts[f].n_risk : 0;
        p->n_event = cum_d - prev_d;
        p->n_censor = cum_c - prev_c;
        prev_d = cum_d;
        prev_c = cum_c;
    }
    if (nkeep > 0) {
        *out = res;
        res = NULL;
    }
    *nout = nkeep;
done:
    free(res);
    free(tau);
    return rc;
}

int
km_rmean(const struct km_curve *curve, double tau, struct km_rmean *out)
{
    memset(out, 0, sizeof *out);
    if (!(tau > 0 && tau < INFINITY) || (curve->npts > 0 && curve->pts == NULL))
        return KM_EINVAL;
    out->tau = tau;
    size_t k = 0;                           /* points kept: time <= tau */
    while (k < curve->npts && curve->pts[k].time <= tau)
        k++;
    if (k == 0) {                           /* R: temptime <- end.time, tempsurv <- 1 */
        out->rmean = tau;
        return 0;
    }
    /*
     * rectangles, summed in ascending order as R's sum() does, in long
     * double (R's LDOUBLE accumulator): r_1 = t_1 - start (start = 0),
     * r_j = (t_j - t_(j-1)) S_(j-1), r_(k+1) = (tau - t_k) S_k.
     */
    const struct km_point *p = curve->pts;
    long double sum = (double)p[0].time;
    for (size_t j = 1; j < k; j++)
        sum += ((double)p[j].time - (double)p[j - 1].time) * p[j - 1].surv;
    double last = (tau - (double)p[k - 1].time) * p[k - 1].surv;
    sum += last;
    out->rmean = (double)sum + 0.0;         /* + start.time */
    /*
     * varmean = sum(cumsum(rev(rectangles[-1]))^2 * rev(hh)[-1]): walking
     * down from t_k, A is the area after t_j (cumsum's long double running
     * sum, rounded to double per element as R stores it).
     */
    long double area = last, var = 0;
    for (size_t j = k; j-- > 0;) {
        double a = (double)area;
        double n = (double)p[j].n_risk, d = (double)p[j].n_event;
        double h = n - d == 0 ? 0 : d / (n * (n - d));
        double term = a * a;
        var += term * h;
        if (j > 0)
            area += ((double)p[j].time - (double)p[j - 1].time) * p[j - 1].surv;
    }
    out->se = sqrt((double)var);
    return 0;
}

double
km_rmean_first(const struct km_curve *const *curves, size_t ncurves)
{
    double first = INFINITY;
    for (size_t i = 0; i < ncurves; i++)
        if (curves[i]->npts > 0 && curves[i]->pts[0].time < first)
            first = curves[i]->pts[0].time;
    return first;
}

int
km_rmean_diff(const struct km_rmean *a, const struct km_rmean *b, double conf_int,
              struct km_rmean_diff *out)
{
    memset(out, 0, sizeof *out);
    if (!(conf_int > 0 && conf_int < 1) || a->tau != b->tau)
        return KM_EINVAL;
    double z = km_qnorm(1 - (1 - conf_int) / 2);
    out->diff = b->rmean - a->rmean;
    out->se = sqrt(a->se * a->se + b->se * b->se);
    out->lower = out->diff - z * out->se;
    out->upper = out->diff + z * out->se;
    /* d / se written out where se == 0, so that no float division by zero is needed */
    double w = out->se > 0 ? fabs(out->diff / out->se) : out->diff == 0 ? NAN : INFINITY;
    out->p = erfc(w / sqrt(2.0));
    return 0;
}

void
km_table_release(struct km_table *t)
{
    if (t == NULL)
        return;
    free(t->rows);
    memset(t, 0, sizeof *t);
}

void
km_curve_release(struct km_curve *c)
{
    if (c == NULL)
        return;
    free(c->pts);
    memset(c, 0, sizeof *c);
}
