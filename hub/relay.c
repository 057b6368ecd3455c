/*
 * relay - see relay.h.
 *
 * Tables, all bounded:
 *  - nodes: one entry per node name ever welcomed (RELAY_MAX_NODES; when
 *    full, the offline entry heard from least recently makes room), so that
 *    "offline" can be told from "unknown".
 *  - pending: one slot per forward awaiting its answer (inflight_max).  A
 *    relay tag is (serial << RELAY_TAG_SLOT_BITS) | slot: the slot is found
 *    at once, and a tag of a finished forward never matches its slot again.
 *  - replay: (signer fingerprint, route_id) pairs until their route expires
 *    (plus skew), hashed into RELAY_REPLAY_BUCKETS chains; RELAY_REPLAY_MAX
 *    entries, and a route that would need one more is refused.
 */
#include "hub/relay.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/fit.h"
#include "hub/phist.h"
#include "hub/pool.h"
#include "node/certcache.h"

#define RELAY_TAG_SLOT_BITS 17              /* > log2(RELAY_MAX_INFLIGHT) */
#define RELAY_REPLAY_BUCKETS 65536
#define RELAY_REPLAY_KEY 16                 /* bytes of SHA-256(fingerprint || route_id) kept */
#define RELAY_NOTE_MAX 768                  /* a refusal reason, as logged and sent */

struct rnode {
    char name[PKI_MAX_NAME + 1];
    int live;
    struct relay_peer peer;
    int64_t since_ms, last_hello_ms;        /* wall clock */
    int64_t last_hello_mono;
    int64_t not_after;                      /* the certificate's, Unix seconds */
    uint32_t inflight;
    uint64_t answered;
    struct buf cert;                        /* DER, kept to re-verify on a new CRL */
    struct pki_cert *parsed;                /* the same, parsed: a pooled answer's signer */
    struct buf chain[PKI_MAX_CHAIN];
    size_t nchain;
};

struct pending {
    int used;
    uint64_t tag;
    size_t node;                            /* index into nodes */
    struct relay_peer to;                   /* the node's connection it went to */
    struct relay_peer analyst;
    char analyst_name[PKI_MAX_NAME + 16];  /* as struct route names it */
    uint8_t route_id[WIRE_QUERY_ID_LEN];
    uint8_t qhash[WIRE_HASH_LEN];
    int64_t deadline;                       /* monotonic */
    uint32_t timeout_ms;
    int pool;                               /* a pooled route's slot, or -1 */
    size_t pool_i;                          /* the node's place in that route */
};

/*
 * A pooled route (issue 14, hub/pool.h): the hub collects every node's
 * share instead of relaying answers, and replies once, with its signed
 * release or the reason there is none.  Meanwhile the analyst hears of each
 * node: HUB_REPLY {node, OK, no payload} when its share is in, or the
 * failure; the last HUB_REPLY has no node and carries the PoolReply.
 */
struct proute {
    int used;
    uint8_t route_id[WIRE_QUERY_ID_LEN];
    uint8_t qhash[WIRE_HASH_LEN];
    struct relay_peer analyst;
    char analyst_name[PKI_MAX_NAME + 16];
    struct hubpool *hp;
    struct hubfit *fit;                     /* a model fit (hub/fit.h) instead of hp */
    uint32_t timeout_ms;                    /* per node and round */
    size_t waiting;                         /* nodes not yet answered or failed */
    char why[RELAY_NOTE_MAX];               /* the first failure: no release */
    uint64_t hist_version;                  /* the pooled history's version when it opened */
};

struct replay_entry {
    uint8_t key[RELAY_REPLAY_KEY];
    int64_t expires_ms;                     /* wall clock */
    int32_t next;                           /* in its bucket's chain, or in the free list */
};

/* Drops of one kind, logged at most once per RELAY_LOG_EVERY_MS. */
struct droplog {
    const char *what;                       /* "junk messages", ... */
    int64_t last_ms;                        /* monotonic time of the last line */
    uint64_t held;                          /* drops since that line, not yet logged */
    uint64_t unrecorded;                    /* of them, not in the relay log one by one */
    char last[RELAY_NOTE_MAX];
};

enum { DROP_JUNK, DROP_STRAY, DROP_HELLO, DROP_ROUTE, DROP_UNDELIVERED, DROP_KINDS };

struct relay {
    struct relay_limits lim;
    struct relay_io io;
    char name[PKI_MAX_NAME + 1];
    const struct pki_trust *trust;
    struct certcache *analysts_cc;
    char closed[FEDRA_ERRLEN];              /* non-empty: relay nothing, say why */
    struct rnode *nodes;
    size_t nnodes;
    struct pending *pend;
    size_t npend_cap, inflight;
    uint64_t serial;
    int32_t *rbucket;                       /* RELAY_REPLAY_BUCKETS heads, -1 = empty */
    struct replay_entry *rent;
    size_t rcap, rheld;
    int32_t rfree;
    char (*anames)[PKI_MAX_NAME + 1];
    size_t nanalysts;
    struct relay_counters c;
    struct droplog drops[DROP_KINDS];
    int changed;
    struct proute pool[RELAY_MAX_POOLED];
    char **roster;                          /* pooled participants (relay_set_roster) */
    size_t nroster;
    const struct pki_cert *sign_cert;       /* the hub's own: signs pooled releases */
    struct phist *phist;                    /* the pooled auditor's history; NULL: off */
    const struct pki_key *sign_key;
};

/* ---- logging ---- */

static void
rlog(struct relay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
rlog(struct relay *r, const char *fmt, ...)
{
    if (r->io.log == NULL)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    r->io.log(r->io.arg, line);
}

static void event(struct relay *r, const struct relay_now *now, const char *kind,
    const char *analyst, const uint8_t *route_id, const uint8_t *qhash, const char *node,
    const uint8_t *ahash, uint64_t size, const char *note);

/*
 * A drop of kind k: logged now (1) if none was in the last interval, else
 * held and summed (0).  What an unauthenticated peer sends is recorded in
 * the relay log only when it is logged, and summed otherwise (unrecorded), so
 * that a flood cannot fill the disk.
 */
static int
dropped(struct relay *r, int k, const struct relay_now *now, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
dropped(struct relay *r, int k, const struct relay_now *now, const char *fmt, ...)
{
    struct droplog *d = &r->drops[k];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->last, sizeof d->last, fmt, ap);
    va_end(ap);
    r->changed = 1;
    if (d->last_ms != 0 && now->mono_ms - d->last_ms < RELAY_LOG_EVERY_MS) {
        d->held++;
        return 0;
    }
    rlog(r, "%s", d->last);
    d->last_ms = now->mono_ms;
    d->held = 0;
    return 1;
}

static void
drops_flush(struct relay *r, const struct relay_now *now)
{
    for (int k = 0; k < DROP_KINDS; k++) {
        struct droplog *d = &r->drops[k];
        if (d->held == 0 || now->mono_ms - d->last_ms < RELAY_LOG_EVERY_MS)
            continue;
        rlog(r, "%llu more %s in the last %lld ms (the last: %s)", (unsigned long long)d->held,
            d->what, (long long)(now->mono_ms - d->last_ms), d->last);
        if (d->unrecorded > 0) {
            char note[RELAY_NOTE_MAX];
            snprintf(note, sizeof note, "%llu more %s by unauthenticated peers (the last: %.500s)",
                (unsigned long long)d->unrecorded, d->what, d->last);
            event(r, now, "refused", "", NULL, NULL, "", NULL, d->unrecorded, note);
        }
        d->last_ms = now->mono_ms;
        d->held = d->unrecorded = 0;
    }
}

/* One relay-log entry; blob (pooled release only, relay_event.blob) may be NULL. */
static void
emit(struct relay *r, const struct relay_now *now, const char *kind, const char *analyst,
    const uint8_t *route_id, const uint8_t *qhash, const char *node, const uint8_t *ahash,
    uint64_t size, const char *note, const uint8_t *blob, size_t bloblen)
{
    r->changed = 1;
    if (r->io.event == NULL)
        return;
    struct relay_event e = {now->wall_ms, kind, analyst ? analyst : "", route_id, qhash,
        node ? node : "", ahash, size, note ? note : "", blob, bloblen};
    r->io.event(r->io.arg, &e);
}

static void
event(struct relay *r, const struct relay_now *now, const char *kind, const char *analyst,
    const uint8_t *route_id, const uint8_t *qhash, const char *node, const uint8_t *ahash,
    uint64_t size, const char *note)
{
    emit(r, now, kind, analyst, route_id, qhash, node, ahash, size, note, NULL, 0);
}

/* An event that keeps blob, hashed into its answer_hash so the chain binds it. */
static void
event_blob(struct relay *r, const struct relay_now *now, const char *kind, const char *analyst,
    const uint8_t *route_id, const uint8_t *qhash, const char *node, const uint8_t *blob,
    size_t len, const char *note)
{
    uint8_t h[32];
    pki_sha256(blob ? blob : (const uint8_t *)"", len, h);
    emit(r, now, kind, analyst, route_id, qhash, node, h, len, note, blob, len);
}

/* ---- frames out ---- */

static int
send_frame(struct relay *r, const struct relay_peer *to, Fedra__HubFrame *f)
{
    struct buf b = {0};
    f->version = WIRE_VERSION;
    wire_pack(&f->base, &b);
    int rc = r->io.send(r->io.arg, to, b.p, b.len);
    buf_release(&b);
    return rc;
}

static int
same_peer(const struct relay_peer *a, const struct relay_peer *b)
{
    return a->idlen == b->idlen && memcmp(a->id, b->id, a->idlen) == 0 &&
           strcmp(a->key, b->key) == 0;
}

/* HUB_REPLY to an analyst; a reply the analyst cannot take is dropped and counted. */
static void
reply(struct relay *r, const struct relay_now *now, const struct relay_peer *to,
    const uint8_t *route_id, const char *node, Fedra__HubStatus st, const char *reason,
    const uint8_t *payload, size_t plen)
{
    Fedra__HubFrame f = FEDRA__HUB_FRAME__INIT;
    f.type = FEDRA__HUB_TYPE__HUB_REPLY;
    if (route_id != NULL) {
        f.route_id.data = (uint8_t *)route_id;
        f.route_id.len = WIRE_QUERY_ID_LEN;
    }
    f.node = (char *)(node ? node : "");
    f.status = st;
    f.reason = (char *)(reason ? reason : "");
    f.payload.data = (uint8_t *)payload;
    f.payload.len = plen;
    if (send_frame(r, to, &f) != RELAY_SENT) {
        r->c.undelivered++;
        dropped(r, DROP_UNDELIVERED, now, "a reply about node '%s' could not be delivered: the "
            "analyst is gone or not reading", node ? node : "");
    }
}

static void
welcome(struct relay *r, const struct relay_now *now, const struct relay_peer *to,
    const char *reason)
{
    Fedra__HubFrame f = FEDRA__HUB_FRAME__INIT;
    f.type = FEDRA__HUB_TYPE__HUB_WELCOME;
    f.reason = (char *)reason;
    if (send_frame(r, to, &f) != RELAY_SENT) {
        r->c.undelivered++;
        dropped(r, DROP_UNDELIVERED, now, "a welcome could not be delivered: the node is gone "
            "or not reading");
    }
}

/* ---- the pending table ---- */

static struct pending *
pending_find(struct relay *r, uint64_t tag)
{
    size_t slot = (size_t)(tag & ((1u << RELAY_TAG_SLOT_BITS) - 1));
    if (slot >= r->npend_cap || !r->pend[slot].used || r->pend[slot].tag != tag)
        return NULL;
    return &r->pend[slot];
}

static struct pending *
pending_new(struct relay *r)
{
    for (size_t i = 0; i < r->npend_cap; i++) {
        /* Start after the last slot used, so a slot is not reused at once. */
        size_t k = (size_t)((r->serial + i) % r->npend_cap);
        if (!r->pend[k].used) {
            struct pending *p = &r->pend[k];
            memset(p, 0, sizeof *p);
            p->used = 1;
            p->tag = (++r->serial << RELAY_TAG_SLOT_BITS) | k;
            r->inflight++;
            return p;
        }
    }
    return NULL;
}

static void
pending_done(struct relay *r, struct pending *p)
{
    struct rnode *n = &r->nodes[p->node];
    if (n->inflight > 0)
        n->inflight--;
    p->used = 0;
    r->inflight--;
    r->changed = 1;
}

/* Every forward still waiting on node ni is answered now with status st. */
static void
pending_fail_node(struct relay *r, size_t ni, const struct relay_now *now, Fedra__HubStatus st,
    const char *kind, const char *reason)
{
    for (size_t i = 0; i < r->npend_cap; i++) {
        struct pending *p = &r->pend[i];
        if (!p->used || p->node != ni)
            continue;
        reply(r, now, &p->analyst, p->route_id, r->nodes[ni].name, st, reason, NULL, 0);
        event(r, now, kind, p->analyst_name, p->route_id, p->qhash, r->nodes[ni].name, NULL,
            0, reason);
        if (st == FEDRA__HUB_STATUS__HUB_STATUS_TIMEOUT)
            r->c.timeouts++;
        else
            r->c.offline++;
        pending_done(r, p);
    }
}

/* ---- nodes ---- */

static struct rnode *
node_find(struct relay *r, const char *name)
{
    for (size_t i = 0; i < r->nnodes; i++)
        if (strcmp(r->nodes[i].name, name) == 0)
            return &r->nodes[i];
    return NULL;
}

static void
node_offline(struct relay *r, size_t ni, const struct relay_now *now, const char *why)
{
    struct rnode *n = &r->nodes[ni];
    if (!n->live)
        return;
    n->live = 0;
    rlog(r, "node %s offline: %s", n->name, why);
    event(r, now, "gone", "", NULL, NULL, n->name, NULL, 0, why);
    pending_fail_node(r, ni, now, FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE, "offline", why);
}

static void
node_clear(struct rnode *n)
{
    buf_release(&n->cert);
    pki_cert_free(n->parsed);
    n->parsed = NULL;
    for (size_t k = 0; k < PKI_MAX_CHAIN; k++)
        buf_release(&n->chain[k]);
    n->nchain = 0;
}

/* An entry for name: its own, a new one, or the offline one least recently heard from. */
static struct rnode *
node_slot(struct relay *r, const char *name)
{
    struct rnode *n = node_find(r, name);
    if (n != NULL)
        return n;
    if (r->nnodes < r->lim.max_nodes) {
        r->nodes = xreallocarray(r->nodes, r->nnodes + 1, sizeof *r->nodes);
        n = &r->nodes[r->nnodes++];
        memset(n, 0, sizeof *n);
    } else {
        for (size_t i = 0; i < r->nnodes; i++)
            if (!r->nodes[i].live && r->nodes[i].inflight == 0 &&
                (n == NULL || r->nodes[i].last_hello_mono < n->last_hello_mono))
                n = &r->nodes[i];
        if (n == NULL)
            return NULL;
        node_clear(n);
        memset(n, 0, sizeof *n);
    }
    snprintf(n->name, sizeof n->name, "%s", name);
    return n;
}

/*
 * Verify a node certificate (DER + chain) now: role node, chain, CRL, and
 * that it binds the CURVE key key_hex.  Returns the parsed certificate (the
 * caller frees it) or NULL with why.
 */
static struct pki_cert *
node_cert_check(struct relay *r, const uint8_t *der, size_t len, const uint8_t *const *chain,
    const size_t *chainlen, size_t nchain, const char *key_hex, int64_t now_s, char *why)
{
    struct pki_cert *c = NULL;
    char err[FEDRA_ERRLEN];
    uint8_t bound[PKI_CURVE_KEY_LEN];
    char hex[RELAY_KEY_HEX];
    if (r->trust == NULL) {
        errf(why, "the hub holds no CA to verify certificates against");
        return NULL;
    }
    if (len == 0) {
        errf(why, "the hello carries no certificate");
        return NULL;
    }
    if (nchain > PKI_MAX_CHAIN) {
        errf(why, "the hello carries %zu CA certificates (at most %d)", nchain, PKI_MAX_CHAIN);
        return NULL;
    }
    if (pki_cert_from_der(der, len, &c, err) != 0 ||
        (nchain > 0 && pki_cert_set_chain(c, chain, chainlen, nchain, err) != 0)) {
        errf(why, "the certificate is unreadable: %s", err);
        pki_cert_free(c);
        return NULL;
    }
    int v = pki_verify(r->trust, c, PKI_ROLE_NODE, now_s, err);
    if (v != PKI_OK) {
        errf(why, "certificate of '%.64s' refused (%s): %s",
            pki_cert_name(c) ? pki_cert_name(c) : "?", pki_verdict_name(v), err);
        pki_cert_free(c);
        return NULL;
    }
    if (pki_cert_name(c) == NULL) {
        errf(why, "the certificate has no fedra name");
        pki_cert_free(c);
        return NULL;
    }
    if (pki_cert_curve_key(c, bound) != 0) {
        errf(why, "the certificate of '%s' binds no transport key", pki_cert_name(c));
        pki_cert_free(c);
        return NULL;
    }
    util_hex(bound, sizeof bound, hex);
    if (strcmp(hex, key_hex) != 0) {
        errf(why, "the certificate of '%s' binds transport key %.16s..., but this connection "
            "authenticated with %.16s...", pki_cert_name(c), hex, key_hex[0] ? key_hex : "none");
        pki_cert_free(c);
        return NULL;
    }
    return c;
}

/* Keep the hello's certificate, verified as c (which n now owns). */
static void
node_keep_cert(struct rnode *n, const Fedra__HubFrame *f, struct pki_cert *c)
{
    node_clear(n);
    n->parsed = c;
    int64_t not_after = pki_cert_not_after(c);
    buf_append(&n->cert, f->cert.data, f->cert.len);
    n->nchain = f->n_chain;
    for (size_t k = 0; k < f->n_chain; k++)
        buf_append(&n->chain[k], f->chain[k].data, f->chain[k].len);
    n->not_after = not_after;
}

/* A keepalive from the live connection with the very certificate already verified. */
static int
hello_is_keepalive(const struct rnode *n, const struct relay_peer *from,
    const Fedra__HubFrame *f, int64_t now_s)
{
    if (n == NULL || !n->live || !same_peer(&n->peer, from) || now_s >= n->not_after ||
        n->cert.len != f->cert.len || memcmp(n->cert.p, f->cert.data, f->cert.len) != 0 ||
        n->nchain != f->n_chain)
        return 0;
    for (size_t k = 0; k < f->n_chain; k++)
        if (n->chain[k].len != f->chain[k].len ||
            memcmp(n->chain[k].p, f->chain[k].data, f->chain[k].len) != 0)
            return 0;
    return 1;
}

static void
on_hello(struct relay *r, const struct relay_peer *from, const Fedra__HubFrame *f,
    const struct relay_now *now)
{
    char why[FEDRA_ERRLEN];
    int64_t now_s = now->wall_ms / 1000;
    for (size_t i = 0; i < r->nnodes; i++) {
        struct rnode *n = &r->nodes[i];
        if (r->closed[0] == 0 && hello_is_keepalive(n, from, f, now_s)) {
            n->last_hello_ms = now->wall_ms;
            n->last_hello_mono = now->mono_ms;
            welcome(r, now, from, "");
            return;
        }
    }
    if (r->closed[0] != 0) {
        r->c.hellos_refused++;
        snprintf(why, sizeof why, "the hub is not relaying: %.400s", r->closed);
        dropped(r, DROP_HELLO, now, "hello refused: %s", why);
        welcome(r, now, from, why);
        return;
    }
    const uint8_t *cd[PKI_MAX_CHAIN];
    size_t cl[PKI_MAX_CHAIN];
    for (size_t k = 0; k < f->n_chain && k < PKI_MAX_CHAIN; k++) {
        cd[k] = f->chain[k].data;
        cl[k] = f->chain[k].len;
    }
    struct pki_cert *c = node_cert_check(r, f->cert.data, f->cert.len, cd, cl, f->n_chain,
        from->key, now_s, why);
    struct rnode *n = c ? node_slot(r, pki_cert_name(c)) : NULL;
    if (c != NULL && n == NULL)
        errf(why, "the hub's table of %u nodes is full of live nodes", r->lim.max_nodes);
    if (n == NULL) {
        r->c.hellos_refused++;
        if (dropped(r, DROP_HELLO, now, "hello refused: %s", why))
            event(r, now, "refused", "", NULL, NULL, c ? pki_cert_name(c) : "", NULL, 0, why);
        else
            r->drops[DROP_HELLO].unrecorded++;
        welcome(r, now, from, why);
        pki_cert_free(c);
        return;
    }
    size_t ni = (size_t)(n - r->nodes);
    if (n->live)                    /* the same node on a new connection replaces the old */
        node_offline(r, ni, now, "it connected again (a new connection replaces the old)");
    /* A connection names one node: one that named another before no longer does. */
    for (size_t i = 0; i < r->nnodes; i++)
        if (i != ni && r->nodes[i].live && same_peer(&r->nodes[i].peer, from))
            node_offline(r, i, now, "its connection now names another node");
    n->live = 1;
    n->peer = *from;
    n->since_ms = n->last_hello_ms = now->wall_ms;
    n->last_hello_mono = now->mono_ms;
    node_keep_cert(n, f, c);
    rlog(r, "node %s joined (certificate serial %s)", n->name, pki_cert_serial_hex(c));
    event(r, now, "hello", "", NULL, NULL, n->name, NULL, 0, "");
    welcome(r, now, from, "");
}

/* ---- the replay table ---- */

static size_t
replay_bucket(const uint8_t key[RELAY_REPLAY_KEY])
{
    return ((size_t)key[0] << 8 | key[1]) % RELAY_REPLAY_BUCKETS;
}

/* Unlink the expired entries of bucket b (or of every bucket, b < 0). */
static void
replay_purge(struct relay *r, long b, int64_t now_ms)
{
    long lo = b < 0 ? 0 : b, hi = b < 0 ? RELAY_REPLAY_BUCKETS - 1 : b;
    for (long k = lo; k <= hi; k++) {
        int32_t *link = &r->rbucket[k];
        while (*link >= 0) {
            struct replay_entry *e = &r->rent[*link];
            if (e->expires_ms < now_ms) {
                int32_t gone = *link;
                *link = e->next;
                e->next = r->rfree;
                r->rfree = gone;
                r->rheld--;
            } else {
                link = &e->next;
            }
        }
    }
}

/* 0 fresh (now held until expires_ms), 1 seen before, 2 table full. */
static int
replay_check(struct relay *r, const uint8_t fp[32], const uint8_t *route_id, int64_t expires_ms,
    int64_t now_ms)
{
    uint8_t h[32];
    pki_sha256_2(fp, 32, route_id, WIRE_QUERY_ID_LEN, h);
    size_t b = replay_bucket(h);
    replay_purge(r, (long)b, now_ms);
    for (int32_t i = r->rbucket[b]; i >= 0; i = r->rent[i].next)
        if (memcmp(r->rent[i].key, h, RELAY_REPLAY_KEY) == 0)
            return 1;
    if (r->rheld >= r->lim.replay_max)
        replay_purge(r, -1, now_ms);
    if (r->rheld >= r->lim.replay_max)
        return 2;
    if (r->rfree < 0) {             /* every entry allocated is in use: grow (rheld < max) */
        size_t ncap = r->rcap ? r->rcap * 2 : 1024;
        if (ncap > r->lim.replay_max)
            ncap = r->lim.replay_max;
        r->rent = xreallocarray(r->rent, ncap, sizeof *r->rent);
        for (size_t j = r->rcap; j < ncap; j++)
            r->rent[j].next = j + 1 < ncap ? (int32_t)(j + 1) : -1;
        r->rfree = (int32_t)r->rcap;
        r->rcap = ncap;
    }
    int32_t k = r->rfree;
    r->rfree = r->rent[k].next;
    memcpy(r->rent[k].key, h, RELAY_REPLAY_KEY);
    r->rent[k].expires_ms = expires_ms;
    r->rent[k].next = r->rbucket[b];
    r->rbucket[b] = k;
    r->rheld++;
    return 0;
}

/* ---- routes ---- */

static void
analyst_seen(struct relay *r, const char *name)
{
    for (size_t i = 0; i < r->nanalysts; i++)
        if (strcmp(r->anames[i], name) == 0)
            return;
    r->c.analysts++;
    if (r->nanalysts < RELAY_MAX_ANALYSTS)
        snprintf(r->anames[r->nanalysts++], PKI_MAX_NAME + 1, "%.64s", name);
}

/* One route being handled: what is known of it so far. */
struct route {
    Fedra__Envelope *env;
    Fedra__HubRoute *body;
    char analyst[PKI_MAX_NAME + 16];        /* verified name, or "unverified:NAME" */
    const struct pki_cert *signer;          /* certcache's */
    int authentic;                          /* its signature verified */
    char why[FEDRA_ERRLEN];
};

/* The route refused as a whole: one REPLY REFUSED per node it names, or one without a node. */
static void
route_refuse(struct relay *r, const struct relay_peer *from, struct route *rt,
    const struct relay_now *now)
{
    char note[RELAY_NOTE_MAX];
    snprintf(note, sizeof note, "the hub refused the route: %.600s", rt->why);
    r->c.refused++;
    const Fedra__HubRoute *b = rt->body;
    const uint8_t *rid = b ? b->route_id.data : NULL;
    int logged = dropped(r, DROP_ROUTE, now, "route from %s refused: %s",
        rt->analyst[0] ? rt->analyst : "?", rt->why);
    if (rt->authentic || logged)
        event(r, now, "refused", rt->analyst, rid, b ? b->query_hash.data : NULL, "", NULL, 0,
            rt->why);
    else
        r->drops[DROP_ROUTE].unrecorded++;
    if (b == NULL) {
        reply(r, now, from, NULL, "", FEDRA__HUB_STATUS__HUB_STATUS_REFUSED, note, NULL, 0);
        return;
    }
    for (size_t i = 0; i < b->n_queries; i++)
        reply(r, now, from, rid, b->queries[i]->node, FEDRA__HUB_STATUS__HUB_STATUS_REFUSED,
            note, NULL, 0);
    if (b->pooled_query.len > 0)    /* a pooled route also ends with its one last reply */
        reply(r, now, from, rid, "", FEDRA__HUB_STATUS__HUB_STATUS_REFUSED, note, NULL, 0);
}

/* Decode, authenticate and admit a route; 0 if it may be relayed, else rt->why. */
static int
route_admit(struct relay *r, const Fedra__HubFrame *f, struct route *rt,
    const struct relay_now *now)
{
    char err[FEDRA_ERRLEN], claimed[PKI_MAX_NAME + 1];
    rt->env = wire_envelope_decode(f->payload.data, f->payload.len, WIRE_MAX_HUB_ROUTE, err);
    if (rt->env == NULL)
        return errf(rt->why, "not a signed route: %s", err);
    rt->body = wire_hubroute_decode(rt->env->body.data, rt->env->body.len, err);
    if (rt->body == NULL)
        return errf(rt->why, "unreadable route: %s", err);
    if (r->closed[0] != 0)
        return errf(rt->why, "the hub is not relaying: %.400s", r->closed);
    if (r->trust == NULL)
        return errf(rt->why, "the hub holds no CA to verify the analyst against");
    const Fedra__Envelope *e = rt->env;
    const uint8_t *cd[PKI_MAX_CHAIN];
    size_t cl[PKI_MAX_CHAIN];
    if (e->n_chain > PKI_MAX_CHAIN)
        return errf(rt->why, "the route carries %zu CA certificates (at most %d)", e->n_chain,
            PKI_MAX_CHAIN);
    for (size_t k = 0; k < e->n_chain; k++) {
        cd[k] = e->chain[k].data;
        cl[k] = e->chain[k].len;
    }
    int v = certcache_verify(r->analysts_cc, r->trust, e->signer_cert.data, e->signer_cert.len,
        cd, cl, e->n_chain, PKI_ROLE_ANALYST, now->wall_ms / 1000, &rt->signer, claimed, err);
    if (v != PKI_OK) {
        snprintf(rt->analyst, sizeof rt->analyst, "unverified:%.64s", claimed);
        return errf(rt->why, "the analyst's certificate is refused: %s", err);
    }
    snprintf(rt->analyst, sizeof rt->analyst, "%s", pki_cert_name(rt->signer));
    if (pki_check_sig(rt->signer, e->body.data, e->body.len, e->signature.data,
            e->signature.len) != 0)
        return errf(rt->why, "the route's signature does not verify with the certificate of "
            "'%s'", rt->analyst);
    rt->authentic = 1;
    const Fedra__HubRoute *b = rt->body;
    if (strcmp(b->hub, r->name) != 0)
        return errf(rt->why, "the route is for hub '%.64s', this is hub '%s'", b->hub, r->name);
    if (wire_check_times(b->issued_at_ms, b->expires_at_ms, now->wall_ms, r->lim.skew_ms,
            err) != NULL)
        return errf(rt->why, "route times: %s", err);
    uint8_t fp[32];
    pki_cert_fingerprint(rt->signer, fp);
    int rr = replay_check(r, fp, b->route_id.data, b->expires_at_ms + r->lim.skew_ms,
        now->wall_ms);
    if (rr == 1)
        return errf(rt->why, "route replayed: this analyst already sent this route_id");
    if (rr == 2)
        return errf(rt->why, "the hub's replay table is full (%u live routes); try again when "
            "routes expire", r->lim.replay_max);
    return 0;
}

/*
 * Send node n a FORWARD or a ROUND under p's tag: the payload bytes as given,
 * first altered by a test's tamper hook (at point), with the pooled
 * auditor's history (nhist entries, or none).  n's inflight counts it either
 * way (pending_done takes it back).  send_frame's result.
 */
static int
send_tagged(struct relay *r, struct rnode *n, const struct pending *p, Fedra__HubType type,
    enum relay_tamper_point point, const uint8_t *bytes, size_t len, ProtobufCBinaryData *hist,
    size_t nhist)
{
    struct buf payload = {0};
    buf_append(&payload, bytes, len);
    char name[PKI_MAX_NAME + 1];
    snprintf(name, sizeof name, "%s", n->name);
    if (r->io.tamper != NULL)       /* tests: a hub that alters what it relays */
        r->io.tamper(r->io.tamper_arg, point, name, &payload);
    Fedra__HubFrame f = FEDRA__HUB_FRAME__INIT;
    f.type = type;
    f.tag = p->tag;
    f.payload.data = payload.p;
    f.payload.len = payload.len;
    f.n_pool_history = nhist;
    f.pool_history = nhist > 0 ? hist : NULL;
    int sr = send_frame(r, &n->peer, &f);
    buf_release(&payload);
    n->inflight++;
    return sr;
}

/* ---- pooled routes ---- */

/*
 * The pooled auditor (docs/disclosure.md §8.7): the route is audited against
 * the history as it is now, kept in the relay log with it (for recompute).
 */
static int
pool_audit_open(struct relay *r, struct proute *pr, struct route *rt,
    const struct relay_now *now)
{
    if (r->phist == NULL)           /* off */
        return 0;
    struct buf h = {0};
    phist_pack(r->phist, &h);
    int rc = pr->fit != NULL ? hubfit_audit(pr->fit, h.p, h.len, rt->why)
                             : hubpool_audit(pr->hp, h.p, h.len, rt->why);
    if (rc == 0)
        event_blob(r, now, "pool-history", rt->analyst, rt->body->route_id.data,
            rt->body->query_hash.data, "", h.p, h.len, "");
    buf_release(&h);
    pr->hist_version = phist_version(r->phist);
    return rc;
}

/* The history's query Envelopes for a FORWARD (hist: PHIST_MAX entries); their number. */
static size_t
pool_audit_history(const struct relay *r, ProtobufCBinaryData *hist)
{
    size_t n = r->phist != NULL ? phist_count(r->phist) : 0;
    for (size_t i = 0; i < n; i++)
        hist[i].data = (uint8_t *)phist_query(r->phist, i, &hist[i].len);
    return n;
}

/* Before the release: no other pooled result was released since this one opened. */
static int
pool_audit_current(const struct relay *r, struct proute *pr)
{
    if (r->phist == NULL || phist_version(r->phist) == pr->hist_version)
        return 0;
    return errf(pr->why, "another pooled result was released while this one was computed, "
        "and it was audited without it: ask again");
}

/* After the release is signed, before it is sent: its released cells join the history. */
static int
pool_audit_keep(struct relay *r, struct proute *pr)
{
    if (r->phist == NULL)
        return 0;
    size_t qlen, n, entry;
    const uint8_t *q = hubpool_query(pr->hp, &qlen);
    const uint32_t *cells = hubpool_released(pr->hp, &n, &entry);
    if (entry < phist_count(r->phist))     /* the same sets as an earlier release */
        return phist_merge(r->phist, entry, cells, n, pr->why);
    return phist_append(r->phist, q, qlen, cells, n, pr->why);
}

/*
 * A fit that passed the auditor on round 1: the nodes are about to see its
 * pooled sums, so it joins the history now, as a whole (hub/audit.h), even
 * if it is refused later (fail closed).
 */
static int
pool_fit_keep(struct relay *r, struct proute *pr)
{
    if (r->phist == NULL)
        return 0;
    size_t qlen;
    const uint8_t *q = hubfit_query(pr->fit, &qlen);
    if (pool_audit_current(r, pr) != 0)
        return -1;
    if (hubfit_audit_repeat(pr->fit, phist_count(r->phist)))
        return 0;                   /* a repeat: its entry has its sets */
    if (phist_append(r->phist, q, qlen, NULL, 0, pr->why) != 0)
        return -1;
    pr->hist_version = phist_version(r->phist);
    return 0;
}

void
relay_set_pool_audit(struct relay *r, struct phist *h)
{
    r->phist = h;
}

/* Open a pooled route for rt; its slot, or -1 with rt->why. */
static int
pool_open(struct relay *r, const struct relay_peer *from, struct route *rt,
    const struct relay_now *now)
{
    const Fedra__HubRoute *b = rt->body;
    if (r->sign_cert == NULL || r->nroster == 0)
        return errf(rt->why, "this hub releases no pooled results (it has no roster)");
    /* The participants are the roster, no more and no fewer (RELAY_MIN_ROSTER). */
    int same = b->n_queries == r->nroster;
    for (size_t i = 0; same && i < r->nroster; i++) {
        int found = 0;
        for (size_t k = 0; k < b->n_queries; k++)
            found |= strcmp(b->queries[k]->node, r->roster[i]) == 0;
        same = found;
    }
    if (!same)
        return errf(rt->why, "a pooled result covers the hub's whole roster (%zu nodes), and the "
            "route names %zu nodes that are not exactly it", r->nroster, b->n_queries);
    int slot = -1;
    for (int i = 0; i < RELAY_MAX_POOLED && slot < 0; i++)
        if (!r->pool[i].used)
            slot = i;
    if (slot < 0)
        return errf(rt->why, "the hub is already releasing %d pooled results; try again "
            "shortly", RELAY_MAX_POOLED);
    char *names[WIRE_MAX_AUDIENCE];
    for (size_t i = 0; i < b->n_queries; i++)
        names[i] = b->queries[i]->node;
    struct proute *pr = &r->pool[slot];
    memset(pr, 0, sizeof *pr);
    int fit = hubfit_is_model(b->pooled_query.data, b->pooled_query.len);
    if (fit ? hubfit_open(&pr->fit, b->pooled_query.data, b->pooled_query.len, rt->signer,
                  names, b->n_queries, rt->why) != 0
            : hubpool_open(&pr->hp, b->pooled_query.data, b->pooled_query.len, rt->signer,
                  names, b->n_queries, rt->why) != 0)
        return -1;
    if (memcmp(fit ? hubfit_query_hash(pr->fit) : hubpool_query_hash(pr->hp),
            b->query_hash.data, WIRE_HASH_LEN) != 0) {
        hubpool_free(pr->hp);
        hubfit_free(pr->fit);
        memset(pr, 0, sizeof *pr);
        return errf(rt->why, "the route's query hash is not the pooled query's");
    }
    if (pool_audit_open(r, pr, rt, now) != 0) {
        hubpool_free(pr->hp);
        hubfit_free(pr->fit);
        memset(pr, 0, sizeof *pr);
        return -1;
    }
    pr->used = 1;
    event_blob(r, now, "pooled-query", rt->analyst, b->route_id.data, b->query_hash.data, "",
        b->pooled_query.data, b->pooled_query.len, "");
    memcpy(pr->route_id, b->route_id.data, WIRE_QUERY_ID_LEN);
    memcpy(pr->qhash, b->query_hash.data, WIRE_HASH_LEN);
    pr->analyst = *from;
    snprintf(pr->analyst_name, sizeof pr->analyst_name, "%s", rt->analyst);
    pr->waiting = b->n_queries;
    pr->timeout_ms = b->timeout_ms == 0 || b->timeout_ms > r->lim.timeout_max_ms
        ? r->lim.timeout_max_ms : b->timeout_ms;
    return slot;
}

/*
 * A pooled fit's round is complete (hub/fit.h): 1 if its next round went
 * out to the nodes (pr->waiting of them; those it could not reach are
 * pr->why); 0 if the fit is done or refused (pr->why).
 */
static int
pool_fit_next(struct relay *r, int slot, const struct relay_now *now)
{
    struct proute *pr = &r->pool[slot];
    struct buf msg = {0};
    int rc = hubfit_next(pr->fit, &msg, pr->why);
    /* Admitted by the auditor: kept, refused later or not (pool_fit_keep). */
    if (hubfit_audit_passed(pr->fit) && pool_fit_keep(r, pr) != 0)
        rc = -1;
    if (rc != 1) {
        buf_release(&msg);
        return 0;
    }
    uint32_t round = hubfit_round(pr->fit);
    event(r, now, "round", pr->analyst_name, pr->route_id, pr->qhash, "", NULL, msg.len, "");
    size_t sent = 0;
    for (size_t i = 0; i < hubfit_nodes(pr->fit); i++) {
        const char *name = hubfit_node(pr->fit, i);
        struct rnode *n = node_find(r, name);
        struct pending *p = n != NULL && n->live ? pending_new(r) : NULL;
        if (p == NULL) {
            if (pr->why[0] == 0)
                snprintf(pr->why, sizeof pr->why, "node '%s' could not be sent round %u of the "
                    "pooled fit (%s)", name, round, n == NULL || !n->live ? "no live link"
                    : "no free slot at the hub");
            continue;
        }
        p->node = (size_t)(n - r->nodes);
        p->pool = slot;
        p->pool_i = i;
        p->to = n->peer;
        p->analyst = pr->analyst;
        snprintf(p->analyst_name, sizeof p->analyst_name, "%s", pr->analyst_name);
        memcpy(p->route_id, pr->route_id, WIRE_QUERY_ID_LEN);
        memcpy(p->qhash, pr->qhash, WIRE_HASH_LEN);
        p->timeout_ms = pr->timeout_ms;
        p->deadline = now->mono_ms + p->timeout_ms;
        int sr = send_tagged(r, n, p, FEDRA__HUB_TYPE__HUB_ROUND, RELAY_TAMPER_ROUND, msg.p,
            msg.len, NULL, 0);
        if (sr == RELAY_SENT) {
            r->c.forwards++;
            sent++;
            continue;
        }
        pending_done(r, p);
        if (pr->why[0] == 0)
            snprintf(pr->why, sizeof pr->why, "node '%s' could not be sent round %u of the "
                "pooled fit (its link is busy or gone)", name, round);
    }
    buf_release(&msg);
    pr->waiting = sent;
    return sent > 0;
}

/* Every node heard from: the release, or the refusal with the first failure. */
static void
pool_settle(struct relay *r, int slot, const struct relay_now *now)
{
    struct proute *pr = &r->pool[slot];
    if (pr->waiting > 0)
        return;
    if (pr->fit != NULL && pr->why[0] == 0 && pool_fit_next(r, slot, now))
        return;                     /* the fit's next round is out */
    struct buf out = {0};
    size_t shown = 0, hidden = 0;
    /* A pooled table faces the pooled auditor here; a fit did after round 1. */
    int released = pr->why[0] == 0 && (pr->fit != NULL
        ? hubfit_finish(pr->fit, r->sign_cert, r->sign_key, now->wall_ms, &out, pr->why) == 0
        : pool_audit_current(r, pr) == 0 &&
              hubpool_finish(pr->hp, r->sign_cert, r->sign_key, now->wall_ms, &out, &shown,
                  &hidden, pr->why) == 0 && pool_audit_keep(r, pr) == 0);
    if (released) {
        char note[96];
        if (pr->fit != NULL)
            snprintf(note, sizeof note, "a pooled fit of %u rounds released",
                hubfit_round(pr->fit));
        else
            snprintf(note, sizeof note, "%zu positions released, %zu held back", shown, hidden);
        r->c.releases++;
        event_blob(r, now, "release", pr->analyst_name, pr->route_id, pr->qhash, "", out.p,
            out.len, note);
        reply(r, now, &pr->analyst, pr->route_id, "", FEDRA__HUB_STATUS__HUB_STATUS_OK, "",
            out.p, out.len);
    } else {
        char note[RELAY_NOTE_MAX];
        snprintf(note, sizeof note, "no pooled result: %.700s", pr->why);
        r->c.refused++;
        event(r, now, "refused", pr->analyst_name, pr->route_id, pr->qhash, "", NULL, 0, note);
        reply(r, now, &pr->analyst, pr->route_id, "", FEDRA__HUB_STATUS__HUB_STATUS_REFUSED,
            note, NULL, 0);
    }
    buf_release(&out);
    hubpool_free(pr->hp);
    hubfit_free(pr->fit);
    memset(pr, 0, sizeof *pr);
}

/* A node of a pooled route will not contribute: remember the first reason. */
static void
pool_fail(struct relay *r, int slot, const char *why, const struct relay_now *now)
{
    struct proute *pr = &r->pool[slot];
    if (pr->why[0] == 0)
        snprintf(pr->why, sizeof pr->why, "%s", why);
    pr->waiting--;
    pool_settle(r, slot, now);
}

/* A node's PoolAnswer: checked and added, never relayed. */
static void
pool_answer(struct relay *r, struct pending *p, const Fedra__HubFrame *f,
    const struct relay_now *now)
{
    struct proute *pr = &r->pool[p->pool];
    const char *name = r->nodes[p->node].name;
    char why[RELAY_NOTE_MAX], shown[PKI_MAX_NAME + 1];
    int ok = 0;
    /* The frame's bytes as they are; a copy only for a test hub's hook to alter. */
    struct buf share = {f->payload.data, f->payload.len, 0};
    snprintf(shown, sizeof shown, "%s", name);
    if (r->io.tamper != NULL) {     /* tests: a hub that records what it sees */
        share = (struct buf){0};
        buf_append(&share, f->payload.data, f->payload.len);
        r->io.tamper(r->io.tamper_arg, RELAY_TAMPER_SHARE, shown, &share);
    }
    /* the link's certificate, verified (CRL too) */
    const struct pki_cert *known = now->wall_ms / 1000 < r->nodes[p->node].not_after
        ? r->nodes[p->node].parsed : NULL;
    if (f->status == FEDRA__HUB_STATUS__HUB_STATUS_UNREADABLE)
        snprintf(why, sizeof why, "node '%s' could not read the sealed query: %.200s", name,
            f->reason);
    else if ((pr->fit != NULL
                     ? hubfit_add(pr->fit, r->trust, known, now->wall_ms, p->pool_i, share.p,
                           share.len, why)
                     : hubpool_add(pr->hp, r->trust, known, now->wall_ms, p->pool_i, share.p,
                           share.len, why)) == 0)
        ok = 1;
    int later = pr->fit != NULL && hubfit_round(pr->fit) > 1;
    event_blob(r, now, ok ? "share" : "refused", pr->analyst_name, pr->route_id, pr->qhash, name,
        ok ? share.p : NULL, ok ? share.len : 0, ok ? "" : why);
    if (r->io.tamper != NULL)
        buf_release(&share);
    if (!later)     /* a fit's later rounds: the analyst hears at the end */
        reply(r, now, &pr->analyst, pr->route_id, name, ok ? FEDRA__HUB_STATUS__HUB_STATUS_OK :
            FEDRA__HUB_STATUS__HUB_STATUS_REFUSED, ok ? "" : why, NULL, 0);
    int slot = p->pool;
    r->c.answers++;
    r->nodes[p->node].answered++;
    pending_done(r, p);
    if (ok) {
        pr->waiting--;
        pool_settle(r, slot, now);
    } else {
        pool_fail(r, slot, why, now);
    }
}

/* What became of one route's sealed queries, for its log line. */
struct route_tally {
    unsigned forwarded, busy, offline, unknown;
};

/* One sealed query to its node, or the reason it cannot go, answered at once. */
static void
route_forward(struct relay *r, const struct relay_peer *from, struct route *rt,
    const Fedra__SealedQuery *q, const struct relay_now *now, struct route_tally *t, int pool,
    size_t pool_i)
{
    const Fedra__HubRoute *b = rt->body;
    struct rnode *n = node_find(r, q->node);
    Fedra__HubStatus st = FEDRA__HUB_STATUS__HUB_STATUS_OK;
    char why[RELAY_NOTE_MAX];
    if (n == NULL) {
        st = FEDRA__HUB_STATUS__HUB_STATUS_UNKNOWN;
        snprintf(why, sizeof why, "the hub knows no node '%s' (it never joined this hub)",
            q->node);
    } else if (!n->live) {
        st = FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE;
        snprintf(why, sizeof why, "node '%s' has no live link to the hub", q->node);
    } else if (n->inflight >= r->lim.queue_per_node) {
        st = FEDRA__HUB_STATUS__HUB_STATUS_BUSY;
        snprintf(why, sizeof why, "node '%s' already has %u queries waiting at the hub "
            "(queue_per_node)", q->node, r->lim.queue_per_node);
    } else if (r->inflight >= r->lim.inflight_max || r->inflight >= r->npend_cap) {
        st = FEDRA__HUB_STATUS__HUB_STATUS_BUSY;
        snprintf(why, sizeof why, "the hub already has %zu queries waiting (inflight_max)",
            r->inflight);
    }
    struct pending *p = NULL;
    if (st == FEDRA__HUB_STATUS__HUB_STATUS_OK) {
        size_t ni = (size_t)(n - r->nodes);
        if ((p = pending_new(r)) == NULL) {
            r->c.busy++;
            t->busy++;
            reply(r, now, from, b->route_id.data, q->node, FEDRA__HUB_STATUS__HUB_STATUS_BUSY,
                "the hub has no free slot for a query", NULL, 0);
            return;
        }
        p->node = ni;
        p->pool = pool;
        p->pool_i = pool_i;
        p->to = n->peer;
        p->analyst = *from;
        snprintf(p->analyst_name, sizeof p->analyst_name, "%s", rt->analyst);
        memcpy(p->route_id, b->route_id.data, WIRE_QUERY_ID_LEN);
        memcpy(p->qhash, b->query_hash.data, WIRE_HASH_LEN);
        p->timeout_ms = b->timeout_ms == 0 || b->timeout_ms > r->lim.timeout_max_ms
            ? r->lim.timeout_max_ms : b->timeout_ms;
        p->deadline = now->mono_ms + p->timeout_ms;
        ProtobufCBinaryData hist[PHIST_MAX];
        size_t nhist = pool >= 0   /* the auditor's (node/patoms.h) */
            ? pool_audit_history(r, hist) : 0;
        int sr = send_tagged(r, n, p, FEDRA__HUB_TYPE__HUB_FORWARD, RELAY_TAMPER_FORWARD,
            q->sealed.data, q->sealed.len, hist, nhist);
        if (sr == RELAY_SENT) {
            r->c.forwards++;
            t->forwarded++;
            event(r, now, "forward", rt->analyst, b->route_id.data, b->query_hash.data, n->name,
                NULL, q->sealed.len, "");
            return;
        }
        pending_done(r, p);         /* takes back the inflight send_tagged counted */
        if (sr == RELAY_SEND_BUSY) {
            st = FEDRA__HUB_STATUS__HUB_STATUS_BUSY;
            snprintf(why, sizeof why, "node '%s' is not taking messages now (its link's "
                "queue is full)", q->node);
        } else {
            st = FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE;
            snprintf(why, sizeof why, "node '%s' has no live link to the hub", q->node);
            node_offline(r, ni, now, "its connection is gone");
        }
    }
    const char *kind = st == FEDRA__HUB_STATUS__HUB_STATUS_UNKNOWN ? "unknown"
        : st == FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE ? "offline" : "busy";
    if (st == FEDRA__HUB_STATUS__HUB_STATUS_UNKNOWN) {
        r->c.unknown++;
        t->unknown++;
    } else if (st == FEDRA__HUB_STATUS__HUB_STATUS_OFFLINE) {
        r->c.offline++;
        t->offline++;
    } else {
        r->c.busy++;
        t->busy++;
    }
    event(r, now, kind, rt->analyst, b->route_id.data, b->query_hash.data, q->node, NULL, 0,
        why);
    reply(r, now, from, b->route_id.data, q->node, st, why, NULL, 0);
    if (pool >= 0)
        pool_fail(r, pool, why, now);
}

static void
on_route(struct relay *r, const struct relay_peer *from, const Fedra__HubFrame *f,
    const struct relay_now *now)
{
    struct route rt;
    memset(&rt, 0, sizeof rt);
    int slot = -1;
    if (route_admit(r, f, &rt, now) != 0 ||
        (rt.body->pooled_query.len > 0 && (slot = pool_open(r, from, &rt, now)) < 0)) {
        route_refuse(r, from, &rt, now);
    } else {
        const Fedra__HubRoute *b = rt.body;
        char rid[2 * WIRE_QUERY_ID_LEN + 1];
        util_hex(b->route_id.data, WIRE_QUERY_ID_LEN, rid);
        r->c.routes++;
        analyst_seen(r, rt.analyst);
        event(r, now, "route", rt.analyst, b->route_id.data, b->query_hash.data, "", NULL,
            f->payload.len, "");
        struct route_tally t = {0};
        for (size_t i = 0; i < b->n_queries; i++)
            route_forward(r, from, &rt, b->queries[i], now, &t, slot, i);
        rlog(r, "route %s from %s: %zu nodes: %u forwarded, %u busy, %u offline, %u unknown",
            rid, rt.analyst, b->n_queries, t.forwarded, t.busy, t.offline, t.unknown);
    }
    wire_hubroute_free(rt.body);
    wire_envelope_free(rt.env);
}

/* ---- answers ---- */

static void
on_answer(struct relay *r, const struct relay_peer *from, const Fedra__HubFrame *f,
    const struct relay_now *now)
{
    struct pending *p = pending_find(r, f->tag);
    if (p == NULL || !same_peer(&p->to, from)) {
        r->c.stray++;
        dropped(r, DROP_STRAY, now, "dropped an answer with %s tag %llu", p == NULL ?
            "an unknown (or already answered or timed out)" : "another connection's",
            (unsigned long long)f->tag);
        return;
    }
    if (p->pool >= 0) {
        pool_answer(r, p, f, now);
        return;
    }
    struct rnode *n = &r->nodes[p->node];
    int unreadable = f->status == FEDRA__HUB_STATUS__HUB_STATUS_UNREADABLE;
    char name[PKI_MAX_NAME + 1], why[RELAY_NOTE_MAX] = "";
    snprintf(name, sizeof name, "%s", n->name);
    struct buf payload = {0};
    if (unreadable)
        snprintf(why, sizeof why, "node '%s' could not read the sealed query: %.200s", name,
            f->reason);
    else
        buf_append(&payload, f->payload.data, f->payload.len);
    if (!unreadable && r->io.tamper != NULL)
        r->io.tamper(r->io.tamper_arg, RELAY_TAMPER_REPLY, name, &payload);
    uint8_t ah[32];
    pki_sha256(payload.p ? payload.p : (const uint8_t *)"", payload.len, ah);
    event(r, now, unreadable ? "unreadable" : "answer", p->analyst_name, p->route_id, p->qhash,
        n->name, unreadable ? NULL : ah, payload.len, why);
    reply(r, now, &p->analyst, p->route_id, name, unreadable ?
        FEDRA__HUB_STATUS__HUB_STATUS_UNREADABLE : FEDRA__HUB_STATUS__HUB_STATUS_OK, why,
        payload.p, payload.len);
    buf_release(&payload);
    if (unreadable)
        r->c.unreadable++;
    r->c.answers++;
    n->answered++;
    pending_done(r, p);
}

/* ---- input and time ---- */

void
relay_input(struct relay *r, const struct relay_peer *from, const uint8_t *msg, size_t len,
    int nparts, const struct relay_now *now)
{
    char err[FEDRA_ERRLEN];
    if (nparts != 1) {
        r->c.junk++;
        dropped(r, DROP_JUNK, now, "dropped a message of %d frames (one expected)", nparts);
        return;
    }
    Fedra__HubFrame *f = wire_hubframe_decode(msg, len, err);
    if (f == NULL) {
        r->c.junk++;
        dropped(r, DROP_JUNK, now, "dropped %zu bytes that are not a hub frame: %s", len, err);
        return;
    }
    switch (f->type) {
    case FEDRA__HUB_TYPE__HUB_HELLO:
        on_hello(r, from, f, now);
        break;
    case FEDRA__HUB_TYPE__HUB_ROUTE:
        on_route(r, from, f, now);
        break;
    case FEDRA__HUB_TYPE__HUB_ANSWER:
        on_answer(r, from, f, now);
        break;
    default:
        r->c.junk++;
        dropped(r, DROP_JUNK, now, "dropped a hub frame of type %d, which only the hub sends",
            (int)f->type);
        break;
    }
    wire_hubframe_free(f);
}

void
relay_tick(struct relay *r, const struct relay_now *now)
{
    for (size_t i = 0; i < r->npend_cap; i++) {
        struct pending *p = &r->pend[i];
        if (!p->used || p->deadline > now->mono_ms)
            continue;
        char why[RELAY_NOTE_MAX];
        const char *name = r->nodes[p->node].name;
        if (p->pool >= 0 && r->pool[p->pool].fit != NULL)
            snprintf(why, sizeof why, "node '%s' did not answer round %u of the pooled fit "
                "within %u ms", name, hubfit_round(r->pool[p->pool].fit), p->timeout_ms);
        else
            snprintf(why, sizeof why, "node '%s' did not answer within %u ms", name,
                p->timeout_ms);
        r->c.timeouts++;
        event(r, now, "timeout", p->analyst_name, p->route_id, p->qhash, name, NULL, 0, why);
        reply(r, now, &p->analyst, p->route_id, name, FEDRA__HUB_STATUS__HUB_STATUS_TIMEOUT,
            why, NULL, 0);
        int pool = p->pool;
        pending_done(r, p);
        if (pool >= 0)
            pool_fail(r, pool, why, now);
    }
    int64_t silent = (int64_t)RELAY_SILENT_HELLOS * r->lim.hello_interval_ms;
    for (size_t i = 0; i < r->nnodes; i++)
        if (r->nodes[i].live && now->mono_ms - r->nodes[i].last_hello_mono > silent) {
            char why[128];
            snprintf(why, sizeof why, "no hello for %lld ms", (long long)silent);
            node_offline(r, i, now, why);
        }
    drops_flush(r, now);
}

int64_t
relay_next_ms(const struct relay *r, const struct relay_now *now)
{
    int64_t next = -1;
    for (size_t i = 0; i < r->npend_cap; i++)
        if (r->pend[i].used && (next < 0 || r->pend[i].deadline < next))
            next = r->pend[i].deadline;
    int64_t silent = (int64_t)RELAY_SILENT_HELLOS * r->lim.hello_interval_ms;
    for (size_t i = 0; i < r->nnodes; i++)
        if (r->nodes[i].live && (next < 0 || r->nodes[i].last_hello_mono + silent + 1 < next))
            next = r->nodes[i].last_hello_mono + silent + 1;
    for (int k = 0; k < DROP_KINDS; k++)
        if (r->drops[k].held > 0 && (next < 0 || r->drops[k].last_ms + RELAY_LOG_EVERY_MS < next))
            next = r->drops[k].last_ms + RELAY_LOG_EVERY_MS;
    if (next < 0)
        return -1;
    return next > now->mono_ms ? next - now->mono_ms : 0;
}

/* ---- life cycle and status ---- */

static void
pending_resize(struct relay *r, size_t cap)
{
    if (cap <= r->npend_cap)
        return;
    r->pend = xreallocarray(r->pend, cap, sizeof *r->pend);
    memset(r->pend + r->npend_cap, 0, (cap - r->npend_cap) * sizeof *r->pend);
    r->npend_cap = cap;
}

struct relay *
relay_new(const struct relay_limits *lim, const char *hub_name, const struct relay_io *io)
{
    struct relay *r = xcalloc(1, sizeof *r);
    r->io = *io;
    relay_set_limits(r, lim);
    snprintf(r->name, sizeof r->name, "%s", hub_name);
    r->analysts_cc = certcache_new();
    r->rbucket = xcalloc(RELAY_REPLAY_BUCKETS, sizeof *r->rbucket);
    for (size_t k = 0; k < RELAY_REPLAY_BUCKETS; k++)
        r->rbucket[k] = -1;
    r->rfree = -1;
    r->anames = xcalloc(RELAY_MAX_ANALYSTS, sizeof *r->anames);
    static const char *const what[DROP_KINDS] = {"junk messages dropped",
        "stray answers dropped", "node hellos refused", "routes refused",
        "replies undelivered"};
    for (int k = 0; k < DROP_KINDS; k++)
        r->drops[k].what = what[k];
    return r;
}

void
relay_free(struct relay *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nnodes; i++)
        node_clear(&r->nodes[i]);
    free(r->nodes);
    free(r->pend);
    free(r->rbucket);
    free(r->rent);
    free(r->anames);
    for (int i = 0; i < RELAY_MAX_POOLED; i++) {
        hubpool_free(r->pool[i].hp);
        hubfit_free(r->pool[i].fit);
    }
    relay_set_roster(r, NULL, 0);
    certcache_free(r->analysts_cc);
    free(r);
}

const char *
relay_roster_problem(const char *roster, uint32_t min, char *why, size_t whylen)
{
    char *copy = xstrdup(roster), *save = NULL, *names[WIRE_MAX_AUDIENCE + 1];
    size_t n = 0;
    const char *bad = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL && bad == NULL;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        for (char *e = t + strlen(t); e > t && e[-1] == ' ';)
            *--e = 0;
        if (!pki_name_valid(t))
            snprintf(why, whylen, "'%.64s' is not a node name", t), bad = why;
        else if (n == WIRE_MAX_AUDIENCE)
            snprintf(why, whylen, "more than %d nodes", WIRE_MAX_AUDIENCE), bad = why;
        for (size_t i = 0; bad == NULL && i < n; i++)
            if (strcmp(names[i], t) == 0)
                snprintf(why, whylen, "names '%.64s' twice", t), bad = why;
        if (bad == NULL)
            names[n++] = t;
    }
    if (bad == NULL && n < min)
        snprintf(why, whylen, "names %zu nodes; a pooled roster needs at least %u", n, min),
            bad = why;
    free(copy);
    return bad;
}

void
relay_set_roster(struct relay *r, const char *roster, uint32_t min)
{
    for (size_t i = 0; i < r->nroster; i++)
        free(r->roster[i]);
    free(r->roster);
    r->roster = NULL;
    r->nroster = 0;
    char why[FEDRA_ERRLEN];
    if (roster == NULL || relay_roster_problem(roster, min, why, sizeof why) != NULL)
        return;
    char *copy = xstrdup(roster), *save = NULL;
    r->roster = xcalloc(WIRE_MAX_AUDIENCE, sizeof *r->roster);
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        for (char *e = t + strlen(t); e > t && e[-1] == ' ';)
            *--e = 0;
        r->roster[r->nroster++] = xstrdup(t);
    }
    free(copy);
}

void
relay_set_signer(struct relay *r, const struct pki_cert *cert, const struct pki_key *key)
{
    r->sign_cert = cert;
    r->sign_key = key;
}

void
relay_set_trust(struct relay *r, const struct pki_trust *t, const struct relay_now *now)
{
    r->trust = t;
    certcache_clear(r->analysts_cc);
    r->changed = 1;
    /* Fail closed at once: a node whose certificate no longer verifies is dropped now. */
    for (size_t i = 0; i < r->nnodes; i++) {
        struct rnode *n = &r->nodes[i];
        if (!n->live)
            continue;
        const uint8_t *cd[PKI_MAX_CHAIN];
        size_t cl[PKI_MAX_CHAIN];
        for (size_t k = 0; k < n->nchain; k++) {
            cd[k] = n->chain[k].p;
            cl[k] = n->chain[k].len;
        }
        char why[FEDRA_ERRLEN];
        struct pki_cert *c = node_cert_check(r, n->cert.p, n->cert.len, cd, cl, n->nchain,
            n->peer.key, now->wall_ms / 1000, why);
        if (c == NULL) {
            struct relay_peer peer = n->peer;
            node_offline(r, i, now, why);
            welcome(r, now, &peer, why);
        }
        pki_cert_free(c);
    }
}

void
relay_set_closed(struct relay *r, const char *why)
{
    snprintf(r->closed, sizeof r->closed, "%s", why ? why : "");
    r->changed = 1;
}

void
relay_set_limits(struct relay *r, const struct relay_limits *lim)
{
    r->lim = *lim;
    if (r->lim.hello_interval_ms == 0)
        r->lim.hello_interval_ms = WIRE_HUB_HELLO_INTERVAL_MS;
    if (r->lim.max_nodes == 0 || r->lim.max_nodes > RELAY_MAX_NODES)
        r->lim.max_nodes = RELAY_MAX_NODES;
    if (r->lim.replay_max == 0 || r->lim.replay_max > RELAY_REPLAY_MAX)
        r->lim.replay_max = RELAY_REPLAY_MAX;
    pending_resize(r, r->lim.inflight_max);
}

const struct relay_counters *
relay_counters(const struct relay *r)
{
    return &r->c;
}

int
relay_changed(struct relay *r)
{
    int c = r->changed;
    r->changed = 0;
    return c;
}

size_t
relay_node_count(const struct relay *r)
{
    return r->nnodes;
}

void
relay_node_get(const struct relay *r, size_t i, struct relay_node_info *out)
{
    const struct rnode *n = &r->nodes[i];
    out->name = n->name;
    out->live = n->live;
    out->since_ms = n->since_ms;
    out->last_hello_ms = n->last_hello_ms;
    out->inflight = n->inflight;
    out->answered = n->answered;
}

size_t
relay_analyst_count(const struct relay *r)
{
    return r->nanalysts;
}

const char *
relay_analyst_name(const struct relay *r, size_t i)
{
    return i < r->nanalysts ? r->anames[i] : NULL;
}

size_t
relay_inflight(const struct relay *r)
{
    return r->inflight;
}

size_t
relay_replay_held(const struct relay *r)
{
    return r->rheld;
}
