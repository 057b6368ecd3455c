/*
 * tamperhub - a hub that lies, for tests only (never installed): the real
 * fedra-hub (hub/hubserve.c, hub/relay.c) with a tamper hook that alters what
 * it relays, so the tests can show that nodes and fedra catch every such
 * alteration (proto/DESIGN.md "Through a hub": the hub can neither read nor
 * forge).
 *
 *   fedra-tamperhub [--flip-query] [--flip-answer] [--replay-answer]
 *                   [--swap NODE1,NODE2] --config FILE
 *
 *   --flip-query      flip one byte of every sealed query forwarded to a node
 *                     (the node cannot open the box: HUB_STATUS_UNREADABLE)
 *   --flip-answer     flip one byte of every sealed answer passed back (fedra
 *                     cannot open the box)
 *   --replay-answer   pass back, for each node, the first answer it ever gave
 *                     in place of every later one (fedra: query hash mismatch)
 *   --swap A,B        relabel A's answers as B's and B's as A's (fedra: the
 *                     answer is signed by another node)
 *   --flip-round      flip the last byte of every pooled fit's round message (the
 *                     last node's masked share in it: the nodes see a share that
 *                     is not the one that node signed, and refuse the round)
 *   --stale-round     attack 4.1 at the pooled level: from round 3 on, send each
 *                     node the answers of round 1 in place of the round before
 *                     (the coefficients would then be chosen by the hub, not
 *                     by the fit); the nodes refuse (model-path)
 *   --kill NODE:PIDFILE  kill NODE (SIGKILL, its pid in PIDFILE) as its first
 *                     round message of a pooled fit is about to go: a node
 *                     dead mid-fit (the fit must be refused, naming it)
 *   --die-at-round    exit as a pooled fit's first round message is about to go (a
 *                     hub that stops or restarts mid-fit: fedra must say so)
 *   --record DIR      alter nothing; write every pooled share the hub receives
 *                     to DIR/NODE.N.share (its PoolAnswer), so a test can show
 *                     what a hub sees (tests/tools/poolpeek.c)
 *
 * Each alteration is logged on stderr ("tamperhub: ...") so a test can see
 * that it happened.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub/hubserve.h"
#include "lib/util.h"

#define TAMPER_MAX_NODES 64                 /* first answers kept for --replay-answer */

struct tamper {
    int flip_query, flip_answer, replay;
    const char *record;             /* --record DIR */
    unsigned nrecorded;
    char swap_a[PKI_MAX_NAME + 1], swap_b[PKI_MAX_NAME + 1];
    size_t nfirst;
    char first_node[TAMPER_MAX_NODES][PKI_MAX_NAME + 1];
    struct buf first[TAMPER_MAX_NODES];
    int flip_round, stale_round, die_at_round;
    struct buf round2;              /* --stale-round: the first round message */
    char kill_node[PKI_MAX_NAME + 1];
    const char *kill_pidfile;
};

/* A pooled fit's round message (hub/fit.h), altered as asked. */
static void
tamper_round(struct tamper *t, const char *node, struct buf *p)
{
    if (t->die_at_round) {
        fprintf(stderr, "tamperhub: exiting mid-fit, before round message to node %s\n", node);
        _exit(3);
    }
    if (t->kill_pidfile != NULL && strcmp(node, t->kill_node) == 0) {
        FILE *f = fopen(t->kill_pidfile, "r");
        long pid = 0;
        if (f != NULL && fscanf(f, "%ld", &pid) == 1 && pid > 1 && kill((pid_t)pid, SIGKILL) == 0)
            fprintf(stderr, "tamperhub: killed node %s (pid %ld) mid-fit\n", node, pid);
        if (f != NULL)
            fclose(f);
        t->kill_pidfile = NULL;
    }
    if (t->flip_round && p->len > 0) {
        p->p[p->len - 1] ^= 0x01;
        fprintf(stderr, "tamperhub: flipped the last byte of round message to node %s\n", node);
    }
    if (!t->stale_round)
        return;
    Fedra__PoolRound *r = wire_poolround_decode(p->p, p->len, NULL);
    if (r == NULL)
        return;
    if (t->round2.len == 0) {
        buf_append(&t->round2, p->p, p->len);
    } else if (r->round >= 3) {
        Fedra__PoolRound *old = wire_poolround_decode(t->round2.p, t->round2.len, NULL);
        if (old != NULL) {
            size_t n = r->n_answers;
            ProtobufCBinaryData *own = r->answers;
            r->n_answers = old->n_answers;
            r->answers = old->answers;      /* packed below, before old is freed */
            p->len = 0;
            wire_pack(&r->base, p);
            r->n_answers = n;               /* r's own, freed with it */
            r->answers = own;
            fprintf(stderr, "tamperhub: sent node %s round %u with the answers of round 1\n",
                node, r->round);
        }
        wire_poolround_free(old);
    }
    wire_poolround_free(r);
}

static void
flip(struct buf *p, const char *what, const char *node)
{
    if (p->len == 0)
        return;
    p->p[p->len / 2] ^= 0x01;
    fprintf(stderr, "tamperhub: flipped byte %zu of the sealed %s of node %s\n", p->len / 2,
        what, node);
}

static void
replay(struct tamper *t, const char *node, struct buf *p)
{
    for (size_t i = 0; i < t->nfirst; i++)
        if (strcmp(t->first_node[i], node) == 0) {
            p->len = 0;
            buf_append(p, t->first[i].p, t->first[i].len);
            fprintf(stderr, "tamperhub: replayed node %s's first answer\n", node);
            return;
        }
    if (t->nfirst < TAMPER_MAX_NODES) {
        snprintf(t->first_node[t->nfirst], sizeof t->first_node[0], "%s", node);
        buf_append(&t->first[t->nfirst++], p->p, p->len);
    }
}

static void
tamper_hook(void *arg, enum relay_tamper_point at, char *node, struct buf *payload)
{
    struct tamper *t = arg;
    if (at == RELAY_TAMPER_SHARE) {
        char path[4096], err[FEDRA_ERRLEN];
        if (t->record == NULL)
            return;
        snprintf(path, sizeof path, "%s/%s.%u.share", t->record, node, t->nrecorded++);
        if (util_write_file(path, payload->p, payload->len, 0644, err) != 0)
            fprintf(stderr, "tamperhub: %s\n", err);
        else
            fprintf(stderr, "tamperhub: recorded node %s's pooled share in %s\n", node, path);
        return;
    }
    if (at == RELAY_TAMPER_ROUND) {
        tamper_round(t, node, payload);
        return;
    }
    if (at == RELAY_TAMPER_FORWARD) {
        if (t->flip_query)
            flip(payload, "query", node);
        return;
    }
    if (t->flip_answer)
        flip(payload, "answer", node);
    if (t->replay)
        replay(t, node, payload);
    if (t->swap_a[0] != 0) {
        const char *to = strcmp(node, t->swap_a) == 0 ? t->swap_b
            : strcmp(node, t->swap_b) == 0 ? t->swap_a : NULL;
        if (to != NULL) {
            fprintf(stderr, "tamperhub: relabelled node %s's answer as node %s's\n", node, to);
            snprintf(node, PKI_MAX_NAME + 1, "%s", to);
        }
    }
}

static int
usage(void)
{
    fputs("usage: fedra-tamperhub [--flip-query] [--flip-answer] [--replay-answer] "
        "[--swap NODE1,NODE2] [--flip-round] [--stale-round] [--kill NODE:PIDFILE] "
        "[--die-at-round] [--record DIR] --config FILE\n",
        stderr);
    return 2;
}

int
main(int argc, char **argv)
{
    struct tamper t;
    const char *config = NULL;
    memset(&t, 0, sizeof t);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--flip-query") == 0) {
            t.flip_query = 1;
        } else if (strcmp(argv[i], "--flip-answer") == 0) {
            t.flip_answer = 1;
        } else if (strcmp(argv[i], "--replay-answer") == 0) {
            t.replay = 1;
        } else if (strcmp(argv[i], "--swap") == 0 && i + 1 < argc) {
            const char *v = argv[++i], *comma = strchr(v, ',');
            if (comma == NULL || comma == v || comma[1] == 0 ||
                (size_t)(comma - v) > PKI_MAX_NAME || strlen(comma + 1) > PKI_MAX_NAME)
                return usage();
            snprintf(t.swap_a, sizeof t.swap_a, "%.*s", (int)(comma - v), v);
            snprintf(t.swap_b, sizeof t.swap_b, "%s", comma + 1);
        } else if (strcmp(argv[i], "--flip-round") == 0) {
            t.flip_round = 1;
        } else if (strcmp(argv[i], "--stale-round") == 0) {
            t.stale_round = 1;
        } else if (strcmp(argv[i], "--die-at-round") == 0) {
            t.die_at_round = 1;
        } else if (strcmp(argv[i], "--kill") == 0 && i + 1 < argc) {
            const char *v = argv[++i], *colon = strchr(v, ':');
            if (colon == NULL || colon == v || (size_t)(colon - v) > PKI_MAX_NAME)
                return usage();
            snprintf(t.kill_node, sizeof t.kill_node, "%.*s", (int)(colon - v), v);
            t.kill_pidfile = colon + 1;
        } else if (strcmp(argv[i], "--record") == 0 && i + 1 < argc) {
            t.record = argv[++i];
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else {
            return usage();
        }
    }
    if (config == NULL)
        return usage();
    int rc = hubserve_main(config, tamper_hook, &t);
    for (size_t i = 0; i < t.nfirst; i++)
        buf_release(&t.first[i]);
    buf_release(&t.round2);
    return rc;
}
