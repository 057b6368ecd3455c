/*
 * modelsum - see modelsum.h.
 */
#include "proto/modelsum.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

void
modelsum_init(struct modelsum *s, size_t p)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    s->score = xcalloc(p + 1, sizeof *s->score);
    s->info = xcalloc(p * p + 1, sizeof *s->info);
}

void
modelsum_release(struct modelsum *s)
{
    free(s->score);
    free(s->info);
    memset(s, 0, sizeof *s);
}

int
modelsum_add(struct modelsum *s, const Fedra__ModelResult *m, char *err)
{
    size_t p = s->p;
    if (m == NULL || m->n_score != p || m->n_info != p * p)
        return errf(err, "a model answer has %zu scores and %zu information entries; the fit "
            "has %zu coefficients", m ? m->n_score : 0, m ? m->n_info : 0, p);
    s->loglik += m->loglik;
    for (size_t k = 0; k < p; k++)
        s->score[k] += m->score[k];
    for (size_t k = 0; k < p * p; k++)
        s->info[k] += m->info[k];
    struct glm_node_stats one = {m->deviance, m->aic, (double)m->events, (int64_t)m->n,
        (int64_t)m->n_boundary};
    glm_node_stats_add(&s->glm, &one);
    s->n += m->n;
    s->events += m->events;
    s->dropped += m->dropped;
    s->excluded += m->excluded;
    s->dropped_suppressed += m->dropped_suppressed;
    s->boundary_suppressed += m->n_boundary_suppressed;
    s->excluded_suppressed += m->excluded_suppressed;
    s->grid = m->grid_days;
    s->nodes++;
    return 0;
}

int
modelpath_init(struct modelpath *m, int glm, size_t p, int max_iter)
{
    memset(m, 0, sizeof *m);
    m->glm = glm;
    m->p = p;
    if (glm) {
        struct glm_opts go;
        glm_opts_default(&go);
        if (max_iter > 0)
            go.maxit = max_iter;
        return glm_irls_init(&m->irls, p, &go) == 0 ? 0 : -1;
    }
    struct cox_opts co;
    cox_opts_default(&co);
    if (max_iter > 0)
        co.iter_max = max_iter;
    return cox_nr_init(&m->cox, p, &co) == 0 ? 0 : -1;
}

void
modelpath_release(struct modelpath *m)
{
    if (m->glm)
        glm_irls_release(&m->irls);
    else
        cox_nr_release(&m->cox);
    memset(m, 0, sizeof *m);
}

int
modelpath_done(const struct modelpath *m)
{
    if (m->glm)
        return glm_irls_done(&m->irls);
    return m->no_events || m->final || cox_nr_done(&m->cox);
}

const double *
modelpath_next_beta(const struct modelpath *m)
{
    if (modelpath_done(m))
        return NULL;
    return m->glm ? glm_irls_next_beta(&m->irls) : cox_nr_next_beta(&m->cox);
}

int
modelpath_feed(struct modelpath *m, const struct modelsum *s, char *err)
{
    if (modelpath_done(m))
        return errf(err, "the fit is finished");
    if (m->glm) {
        if (glm_irls_feed(&m->irls, s->info, s->score, &s->glm) != 0)
            return errf(err, "the IRLS cannot go on (%s)", s->n == 0 ? "no patients" :
                "sums not finite");
        return 0;
    }
    if (s->events == 0) {
        /* coxph does not iterate without an event: R's NA result, 0 iterations. */
        m->no_events = 1;
        return 0;
    }
    if (cox_nr_feed(&m->cox, s->loglik, s->score, s->info) != 0)
        return errf(err, "the Newton-Raphson cannot go on");
    return 0;
}

int
modelpath_final_beta(const struct modelpath *m, double *beta)
{
    return !m->glm && !modelpath_done(m) && cox_nr_final_beta(&m->cox, beta);
}

void
modelpath_finish(struct modelpath *m)
{
    m->final = 1;
}
