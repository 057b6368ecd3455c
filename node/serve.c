/*
 * serve - see serve.h.
 *
 * Transport: the node binds a ROUTER socket as a CURVE server whose secret
 * key is derived from the node's key and whose public key is bound into the
 * node certificate, so a client that pins the key from the certificate talks
 * to this node and nobody else.  A ZAP handler is always installed, with
 * ZMQ_ZAP_ENFORCE_DOMAIN, because libzmq's CURVE server without one accepts
 * any client silently (security.md §2.3).  Clients (analysts) use transient
 * Curve keys: whether a query may be answered is decided by its signature
 * and the signer's certificate, not by the transport key.
 *
 * Threads: the main thread owns the ROUTER socket, the store and the
 * snapshot; the ZAP thread owns only its inproc socket.  Signals arrive via
 * signalfd in the main poll loop, so no state is touched from a handler.
 */
#include "node/serve.h"
#include "node/patoms.h"
#include "node/share.h"
#include "node/sharefit.h"
#include "proto/evidence.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <zmq.h>

#include "certs/pki.h"
#include "lib/util.h"
#include "node/audit.h"
#include "node/certcache.h"
#include "node/config.h"
#include "node/crlfetch.h"
#include "node/hublink.h"
#include "node/kind.h"
#include "node/kind_model.h"
#include "node/qaudit.h"
#include "node/replay.h"
#include "node/snapshot.h"
#include "node/status.h"
#include "node/store.h"
#include "proto/wire.h"

#define FEDRA_VERSION_STRING "fedra-node 0.1"
#define NODE_ZAP_DOMAIN "fedra"
#define NODE_HANDSHAKE_MS 5000
#define NODE_HWM 64
#define NODE_LINGER_MS 1000
#define NODE_CERT_CHECK_MS (24LL * 3600 * 1000)  /* expiry warnings: daily */
#define NODE_MODEL_EXPIRY_CHECK_MS 60000        /* idle fits looked at every minute */
#define NODE_MAX_EXPIRY_LINES 8
/* Re-witness and re-sign an answer this often if another writer moves the audit log's head. */
#define NODE_AUDIT_RETRIES 2
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93   /* DRAFT in zmq.h, honoured by Debian's 4.3.4 */
#endif

struct node {
    struct node_config cfg;         /* as loaded from the config file */
    struct pki_trust *trust;        /* federation CA + CRL */
    struct certcache *certs;        /* analyst certificates verified against trust */
    struct mask_cache *masks;       /* pooled answers' key agreements with the peers */
    struct patoms_cache *patoms;    /* the pooled auditor's history, kept (node/patoms.h) */
    struct pki_cert *cert;          /* this node's certificate */
    struct pki_key *key;            /* this node's signing key */
    char name[PKI_MAX_NAME + 1];    /* from the certificate's SAN URI */
    uint8_t curve_secret[PKI_CURVE_KEY_LEN];
    uint8_t curve_public[PKI_CURVE_KEY_LEN];        /* derived once: pooled answers use it */
    struct store *store;            /* SQLite: data, audit, replay cache */
    struct snapshot *snap;          /* in-memory columns queries run on */
    struct kind_model_cache models; /* designs of fits in progress; cleared on reload */
    struct sharefit_table fits;     /* pooled model fits in progress (node/sharefit.h) */
    struct qaudit *qa;              /* disclosure auditor of snap (node/qaudit.h); NULL: none yet */
    uint8_t data_hash[32];          /* snapshot content hash (binary) */
    struct audit_head head;         /* the audit log's last entry, kept by every append */
    struct audit_stmts *audit_st;   /* the append's statements, prepared once */
    void *zctx;
    void *router;                   /* NULL without listen */
    char endpoint[256];             /* the endpoint actually bound ("" without listen) */
    struct hublink *hub;            /* with hub: the link to the hub (node/hublink.h) */
    uint64_t hub_changes;           /* hublink_changes() when the state file was written */
    pthread_t zap_thread;
    int zap_started;
    int sigfd;
    uint64_t answered, refused;     /* since start */
    int64_t next_cert_check_ms;     /* wall clock of the next expiry check */
    struct {                        /* own_cert_usable(), re-verified at most once a second */
        const struct pki_trust *trust;
        const struct pki_cert *cert;
        int64_t crl_number, at_s;
        int usable;
        char why[FEDRA_ERRLEN];
    } own;
    int64_t started_ms;
    int64_t crl_installed_ms;       /* when the CRL held was taken */
    struct crlfetch *fetch;         /* with crl_url: the fetch thread */
    int64_t fetch_at_ms, fetch_ok_ms;
    char fetch_result[FEDRA_ERRLEN + 64];   /* "failed: " + the error */
};

static void
node_log(const struct node *nd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
node_log(const struct node *nd, const char *fmt, ...)
{
    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    struct buf b = {0};
    buf_printf(&b, "%s.%03ldZ fedra-node[%s] ", ts, now.tv_nsec / 1000000,
        nd->name[0] ? nd->name : "-");
    va_list ap;
    va_start(ap, fmt);
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One event, one line: a control character in a message (from a peer, a URL, a
     * library) cannot start a forged log line. */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    buf_puts(&b, line);
    buf_puts(&b, "\n");
    fputs((char *)b.p, stderr);
    buf_release(&b);
}

/* ---- ZAP (RFC 27) ---- */

/* Receive one frame into buf (at most cap bytes); returns its size, or -1. */
static int
zap_recv(void *s, char *buf, size_t cap, int *more)
{
    int n = zmq_recv(s, buf, cap, 0);
    if (n < 0)
        return -1;
    int m = 0;
    size_t ml = sizeof m;
    zmq_getsockopt(s, ZMQ_RCVMORE, &m, &ml);
    *more = m;
    return n > (int)cap ? (int)cap + 1 : n;
}

static void *
zap_main(void *arg)
{
    void *s = arg;
    for (;;) {
        char f[7][256];
        int len[7], more = 1, nf = 0;
        while (more && nf < 7) {
            len[nf] = zap_recv(s, f[nf], sizeof f[nf] - 1, &more);
            if (len[nf] < 0)
                goto out;
            f[nf][len[nf] > 255 ? 255 : len[nf]] = 0;
            nf++;
        }
        while (more) {              /* drain unexpected extra frames */
            char junk[64];
            if (zap_recv(s, junk, sizeof junk, &more) < 0)
                goto out;
        }
        /* frames: version, request id, domain, address, identity, mechanism, key */
        int okreq = nf == 7 && strcmp(f[0], "1.0") == 0;
        int allow = okreq && strcmp(f[2], NODE_ZAP_DOMAIN) == 0 &&
                    strcmp(f[5], "CURVE") == 0 && len[6] == PKI_CURVE_KEY_LEN;
        char uid[2 * PKI_CURVE_KEY_LEN + 1] = "";
        if (allow)
            util_hex((const uint8_t *)f[6], PKI_CURVE_KEY_LEN, uid);
        zmq_send(s, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(s, nf > 1 ? f[1] : "", nf > 1 ? (size_t)(len[1] > 255 ? 255 : len[1]) : 0,
            ZMQ_SNDMORE);
        zmq_send(s, allow ? "200" : "400", 3, ZMQ_SNDMORE);
        zmq_send(s, allow ? "OK" : "CURVE required", allow ? 2 : 14, ZMQ_SNDMORE);
        zmq_send(s, uid, strlen(uid), ZMQ_SNDMORE);
        zmq_send(s, "", 0, 0);
    }
out:
    zmq_close(s);
    return NULL;
}

/* ---- loading and reloading ---- */

static int
load_identity(struct node *nd, struct pki_trust *trust, struct pki_cert **certp,
    struct pki_key **keyp, char *err)
{
    struct pki_cert *c = NULL;
    struct pki_key *k = NULL;
    uint8_t sec[32], pub[32], bound[32];
    char why[FEDRA_ERRLEN];
    if (pki_cert_load(nd->cfg.cert, &c, err) != 0 || pki_key_load(nd->cfg.key, &k, err) != 0)
        goto fail;
    if (!pki_key_matches_cert(k, c)) {
        errf(err, "key '%s' is not the private key of certificate '%s'", nd->cfg.key,
            nd->cfg.cert);
        goto fail;
    }
    /*
     * A CRL that is missing or past its nextUpdate does not stop the node: it
     * refuses every query for that reason (fail closed) and recovers as soon
     * as a current CRL arrives (crl_url, or a new file and SIGHUP), which an
     * unattended service must be able to do without a restart.
     */
    int pv = pki_verify(trust, c, PKI_ROLE_NODE, 0, why);
    if (pv != PKI_OK && pv != PKI_CRL_EXPIRED && pv != PKI_NO_CRL) {
        errf(err, "this node's certificate is not usable: %s", why);
        goto fail;
    }
    if (pki_cert_name(c) == NULL) {
        errf(err, "certificate '%s' has no fedra name (SAN URI)", nd->cfg.cert);
        goto fail;
    }
    if (pki_key_curve_secret(k, sec) != 0 || pki_curve_public(sec, pub) != 0 ||
        pki_cert_curve_key(c, bound) != 0 || memcmp(pub, bound, 32) != 0) {
        errf(err, "certificate '%s' does not bind the transport key of '%s'", nd->cfg.cert,
            nd->cfg.key);
        goto fail;
    }
    *certp = c;
    *keyp = k;
    return 0;
fail:
    pki_cert_free(c);
    pki_key_free(k);
    return -1;
}

/*
 * Whether this node may answer at all: its own certificate must verify now
 * against the current trust.  A CRL that is missing or past nextUpdate is
 * not the certificate's fault (and fails every analyst check anyway), so
 * only the other verdicts make the node refuse everything: revoked,
 * expired, not yet valid, wrong CA or role.  Checked per query, so no
 * reload path (SIGHUP, a fetched CRL) can leave a stale answer.
 */
static int
own_cert_usable(struct node *nd, char *why)
{
    int64_t now_s = util_now_ms() / 1000;
    if (nd->own.trust != nd->trust || nd->own.cert != nd->cert || nd->own.at_s != now_s ||
        nd->own.crl_number != pki_trust_crl_number(nd->trust)) {
        int v = pki_verify(nd->trust, nd->cert, PKI_ROLE_NODE, 0, nd->own.why);
        nd->own.usable = v == PKI_OK || v == PKI_NO_CRL || v == PKI_CRL_EXPIRED;
        nd->own.trust = nd->trust;
        nd->own.cert = nd->cert;
        nd->own.at_s = now_s;
        nd->own.crl_number = pki_trust_crl_number(nd->trust);
    }
    snprintf(why, FEDRA_ERRLEN, "%s", nd->own.usable ? "" : nd->own.why);
    return nd->own.usable;
}

/* At start, on SIGHUP and daily: say loudly what is unusable or expiring soon. */
static void
check_certs(struct node *nd)
{
    char why[FEDRA_ERRLEN], ts[PKI_TIME_LEN];
    int64_t now = util_now_ms();
    nd->next_cert_check_ms = now + NODE_CERT_CHECK_MS;
    if (!own_cert_usable(nd, why))
        node_log(nd, "error: this node's certificate is not usable, so the node refuses "
            "every query until it gets a valid one (new certificate, then SIGHUP): %s", why);
    if (nd->cfg.cert_warn_days == 0)
        return;
    struct pki_expiry ex[NODE_MAX_EXPIRY_LINES];
    size_t n = pki_expiring(nd->trust, nd->cert, now / 1000,
        (int64_t)nd->cfg.cert_warn_days * 86400, ex, NODE_MAX_EXPIRY_LINES);
    for (size_t i = 0; i < n; i++) {
        pki_format_time(ex[i].not_after, ts);
        int64_t left = ex[i].not_after - now / 1000;
        if (left <= 0)
            node_log(nd, "warning: %s expired at %s", ex[i].label, ts);
        else
            node_log(nd, "warning: %s expires at %s, in %lld day%s (within cert_warn_days = "
                "%u); %s", ex[i].label, ts, (long long)(left / 86400),
                left / 86400 == 1 ? "" : "s", nd->cfg.cert_warn_days,
                strncmp(ex[i].label, "CA ", 3) == 0 ? "ask the federation admin to renew it"
                    : "renew it: fedra-cert issue --key with this node's key, then SIGHUP");
    }
}

static int
load_data(struct node *nd, struct snapshot **out, char *err)
{
    if (snapshot_load(nd->store, out, err) != 0)
        return -1;
    return 0;
}

/* Record what `fedra-node status` shows about the running node (status.h). */
static void
node_state_write(struct node *nd, int stopping)
{
    char err[FEDRA_ERRLEN];
    struct hublink_info hub;
    if (nd->hub != NULL) {
        hublink_info(nd->hub, &hub);
        nd->hub_changes = hublink_changes(nd->hub);
    }
    struct status_state st = {
        .pid = (int64_t)getpid(),
        .started_at_ms = nd->started_ms,
        .stopped_at_ms = stopping ? util_now_ms() : 0,
        .name = nd->name,
        .endpoint = nd->endpoint[0] ? nd->endpoint : NULL,
        .version = FEDRA_VERSION_STRING,
        .crl_number = pki_trust_crl_number(nd->trust),
        .crl_next_update = pki_trust_crl_next_update(nd->trust),
        .crl_installed_at_ms = nd->crl_installed_ms,
        .crl_url = nd->cfg.crl_url,
        .crl_refresh_s = nd->cfg.crl_refresh_s,
        .fetch_at_ms = nd->fetch_at_ms,
        .fetch_ok_at_ms = nd->fetch_ok_ms,
        .fetch_result = nd->fetch_result[0] ? nd->fetch_result : NULL,
        .hub = nd->hub != NULL ? &hub : NULL,
    };
    if (status_write(nd->cfg.status_file, &st, err) != 0)
        node_log(nd, "warning: status file not written: %s", err);
}

/*
 * The hub certificate against the trust held (node/hublink.h keeps the
 * pointer): after every change of trust, so a revoked hub loses its link.
 */
static void
hub_refresh(struct node *nd)
{
    if (nd->hub != NULL)
        hublink_refresh(nd->hub, nd->zctx, nd->trust, util_now_ms());
}

/* Warn once per change that the CRL held makes every query fail. */
static void
warn_crl(const struct node *nd)
{
    int64_t nu = pki_trust_crl_next_update(nd->trust);
    char t[32];
    if (pki_trust_crl_number(nd->trust) < 0 && nu < 0) {
        node_log(nd, "warning: no CRL held: every query is refused until one is installed%s",
            nd->cfg.crl_url ? " (fetching from crl_url)" : "");
    } else if (nu > 0 && nu * 1000 <= util_now_ms()) {
        pki_format_time(nu, t);
        node_log(nd, "warning: the CRL held (number %lld) expired at %s: every query is "
            "refused until a current CRL is installed", (long long)pki_trust_crl_number(nd->trust),
            t);
    }
}

/*
 * The fetch thread verified a CRL (signature by our CA, parsed) or failed.
 * A CRL whose number is lower than the one held is refused: it would
 * un-revoke certificates (a replayed or rolled-back CRL).  An accepted CRL
 * is installed in memory first (revocations take effect now), then written
 * atomically to the configured crl path so that a restart starts from it.
 */
static void
node_crl_fetched(struct node *nd)
{
    struct crlfetch_result r;
    if (!crlfetch_take(nd->fetch, &r))
        return;
    char err[FEDRA_ERRLEN], t[32];
    int64_t held = pki_trust_crl_number(nd->trust);
    nd->fetch_at_ms = r.fetched_at_ms + r.took_ms;
    if (r.trust == NULL) {
        snprintf(nd->fetch_result, sizeof nd->fetch_result, "failed: %s", r.err);
        node_log(nd, "crl fetch: failed after %lld ms, keeping CRL number %lld: %s",
            (long long)r.took_ms, (long long)held, r.err);
    } else if (r.crl_number < 0) {
        snprintf(nd->fetch_result, sizeof nd->fetch_result, "refused a CRL without a CRL "
            "number");
        node_log(nd, "crl fetch: refused the CRL from %s: it has no CRL number, so it cannot "
            "be told from an older one; keeping the one held", nd->cfg.crl_url);
    } else if (r.crl_number < held) {
        snprintf(nd->fetch_result, sizeof nd->fetch_result, "refused CRL number %lld: lower "
            "than number %lld held", (long long)r.crl_number, (long long)held);
        node_log(nd, "crl fetch: refused the CRL from %s: its number %lld is lower than the "
            "number %lld held (a replayed or rolled-back CRL); keeping the one held",
            nd->cfg.crl_url, (long long)r.crl_number, (long long)held);
    } else if (r.crl_number == held) {
        nd->fetch_ok_ms = nd->fetch_at_ms;
        snprintf(nd->fetch_result, sizeof nd->fetch_result, "CRL number %lld unchanged",
            (long long)held);
        node_log(nd, "crl fetch: CRL number %lld unchanged (%lld ms)", (long long)held,
            (long long)r.took_ms);
    } else {
        nd->fetch_ok_ms = nd->fetch_at_ms;
        certcache_clear(nd->certs);
        pki_trust_free(nd->trust);
        nd->trust = r.trust;
        r.trust = NULL;
        nd->crl_installed_ms = util_now_ms();
        pki_format_time(r.next_update, t);
        snprintf(nd->fetch_result, sizeof nd->fetch_result, "installed CRL number %lld",
            (long long)r.crl_number);
        /* Saved first, then logged: whoever reads "installed" finds the file written. */
        int saved = util_write_file(nd->cfg.crl, r.body.p, r.body.len, 0644, err) == 0;
        node_log(nd, "crl fetch: installed CRL number %lld (was %lld) from %s, next update %s "
            "(%lld ms)", (long long)r.crl_number, (long long)held, nd->cfg.crl_url, t,
            (long long)r.took_ms);
        if (!saved)
            node_log(nd, "warning: the fetched CRL is in use but not saved (a restart would "
                "use the old file): %s", err);
        warn_crl(nd);
        hub_refresh(nd);
    }
    crlfetch_result_release(&r);
    node_state_write(nd, 0);
}

/* Two optional settings are the same (both absent, or equal). */
static int
same_setting(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/*
 * SIGHUP: re-read config policy, trust (CA + CRL), identity and data.  Each
 * part is loaded fully before it replaces the old one; a part that fails to
 * load keeps the old one, and the failure is logged.
 */
static void
node_reload(struct node *nd)
{
    char err[FEDRA_ERRLEN];
    struct node_config cfg;
    if (config_load(nd->cfg.path, &cfg, err) == 0) {
        if (!same_setting(cfg.listen, nd->cfg.listen) || strcmp(cfg.db, nd->cfg.db) != 0)
            node_log(nd, "reload: listen and db changes need a restart; keeping the old ones");
        if (!same_setting(cfg.hub, nd->cfg.hub) ||
            !same_setting(cfg.hub_cert, nd->cfg.hub_cert) ||
            !same_setting(cfg.socks_proxy, nd->cfg.socks_proxy))
            node_log(nd, "reload: hub, hub_cert and socks_proxy changes need a restart; keeping "
                "the old ones (the hub certificate file itself is read again)");
        nd->cfg.policy = cfg.policy;
        nd->cfg.clock_skew_s = cfg.clock_skew_s;
        nd->cfg.max_seen = cfg.max_seen;
        nd->cfg.cert_warn_days = cfg.cert_warn_days;
        nd->cfg.query_audit = cfg.query_audit;
        nd->cfg.model_path_check = cfg.model_path_check;
        config_release(&cfg);
    } else {
        node_log(nd, "reload: config not reloaded: %s", err);
    }
    struct pki_trust *t;
    if (pki_trust_load(nd->cfg.ca_cert, nd->cfg.crl, 1, &t, err) == 0) {
        if (pki_trust_crl_number(t) < pki_trust_crl_number(nd->trust)) {
            node_log(nd, "reload: CRL not reloaded: '%s' holds CRL number %lld, lower than the "
                "number %lld held; keeping the one held", nd->cfg.crl,
                (long long)pki_trust_crl_number(t), (long long)pki_trust_crl_number(nd->trust));
            pki_trust_free(t);
        } else {
            certcache_clear(nd->certs);
            pki_trust_free(nd->trust);
            nd->trust = t;
            nd->crl_installed_ms = util_now_ms();
            node_log(nd, "reload: CA and CRL loaded (CRL number %lld)",
                (long long)pki_trust_crl_number(t));
            warn_crl(nd);
        }
    } else {
        node_log(nd, "reload: CRL not reloaded, keeping the old one: %s", err);
    }
    struct pki_cert *c;
    struct pki_key *k;
    uint8_t sec[PKI_CURVE_KEY_LEN];
    if (load_identity(nd, nd->trust, &c, &k, err) == 0) {
        if (strcmp(pki_cert_name(c), nd->name) != 0) {
            node_log(nd, "reload: new certificate names '%s', not '%s'; keeping the old one",
                pki_cert_name(c), nd->name);
            pki_cert_free(c);
            pki_key_free(k);
        } else if (pki_key_curve_secret(k, sec) != 0 ||
            CRYPTO_memcmp(sec, nd->curve_secret, sizeof sec) != 0) {
            /* The bound socket keeps its transport key: a new key needs a restart. */
            node_log(nd, "reload: '%s' is a new key, which changes the node's transport key; "
                "restart the node (and give coordinators the new certificate); keeping the "
                "old certificate and key", nd->cfg.key);
            pki_cert_free(c);
            pki_key_free(k);
        } else {
            char ts[PKI_TIME_LEN];
            pki_format_time(pki_cert_not_after(c), ts);
            node_log(nd, "reload: certificate '%s' (serial %s) loaded, valid until %s",
                pki_cert_name(c), pki_cert_serial_hex(c), ts);
            pki_cert_free(nd->cert);
            pki_key_free(nd->key);
            nd->cert = c;
            nd->key = k;
            if (nd->hub != NULL)
                hublink_set_identity(nd->hub, nd->cert);
        }
    } else {
        node_log(nd, "reload: certificate not reloaded: %s", err);
    }
    OPENSSL_cleanse(sec, sizeof sec);
    nd->own.trust = NULL;           /* a freed object's address may be reused: re-verify */
    check_certs(nd);
    hub_refresh(nd);
    struct snapshot *s;
    if (load_data(nd, &s, err) == 0) {
        snapshot_free(nd->snap);
        nd->snap = s;
        util_unhex(s->meta.hash, nd->data_hash, 32);
        node_log(nd, "reload: data %zu rows, hash %.16s", s->n, s->meta.hash);
    } else {
        node_log(nd, "reload: data not reloaded: %s", err);
    }
    /* A kept design was built on the old data (node/kind_model.h). */
    kind_model_cache_clear(&nd->models);
    sharefit_clear(&nd->fits);
    if (nd->fetch != NULL)
        crlfetch_request(nd->fetch);
    node_state_write(nd, 0);
}

/* ---- the query path ---- */

struct verdict {
    const char *code;               /* NULL while the query is still acceptable */
    char reason[FEDRA_ERRLEN];
};

static void
refuse(struct verdict *v, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refuse(struct verdict *v, const char *code, const char *fmt, ...)
{
    v->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof v->reason, fmt, ap);
    va_end(ap);
}

/* Time window of security.md §3.2, with the node's own clock. */
static void
check_time(const struct node *nd, const Fedra__QueryBody *q, int64_t now, struct verdict *v)
{
    const char *code = wire_check_times(q->issued_at_ms, q->expires_at_ms, now,
        (int64_t)nd->cfg.clock_skew_s * 1000, v->reason);
    if (code != NULL)
        v->code = code;
}

static int
in_audience(const struct node *nd, const Fedra__QueryBody *q)
{
    for (size_t i = 0; i < q->n_audience; i++)
        if (strcmp(q->audience[i], "*") == 0 || strcmp(q->audience[i], nd->name) == 0)
            return 1;
    return 0;
}

/* Sign body and wrap it in an Envelope, appended to out. */
static void
seal(const struct node *nd, const struct buf *body, struct buf *out)
{
    /* Unreachable with a loaded key; an empty reply then reads as malformed. */
    if (evidence_sign(nd->cert, nd->key, body->p, body->len, out) != 0)
        node_log(nd, "error: signing a response failed");
}

/* Make rb, which carries no result, the refusal v: the status, reason and code. */
static void
refusal_body(Fedra__ResponseBody *rb, const struct verdict *v)
{
    rb->status = FEDRA__STATUS__STATUS_REFUSED;
    rb->reason = (char *)v->reason;
    rb->code = (char *)v->code;
}

/*
 * One query, from the bytes to the signed reply, in four steps a reader
 * can take one at a time:
 *
 *   verify_envelope  the node may answer; the envelope decodes; the signer's
 *                    certificate verifies (analyst role); the signature
 *                    verifies; the signed body decodes
 *   check_query      identity (signer = named analyst), audience, time
 *                    window, replay
 *   answer_query     the kind's row (node/kind.h) answers and releases; the
 *                    query-set auditor admits what is about to be released
 *   respond          the ResponseBody (answer or refusal), the size cap,
 *                    the signature, the audit entry (fail closed), the log
 *
 * The first step that refuses sets the verdict; the later ones are skipped,
 * and respond sends the refusal.
 */
struct query_state {
    struct verdict v;
    int64_t t0, now;                /* monotonic start; wall clock of the checks */
    char err[FEDRA_ERRLEN];
    char signer[PKI_MAX_NAME + 16]; /* verified name, or "unverified:<claimed>" */
    char qid[2 * WIRE_QUERY_ID_LEN + 1];
    char summary[256];              /* what was answered, for the log and audit */
    uint8_t qhash[WIRE_HASH_LEN];
    Fedra__Envelope *env;
    Fedra__QueryBody *q;
    const struct pki_cert *sc;      /* the signer's certificate (certcache's) */
    int signed_ok;                  /* the bytes carry a valid analyst signature */
    const struct node_kind *kind;   /* the row answering, once known */
    struct node_answer ans;
    Fedra__ResponseBody rb;
    Fedra__ResponseBody bare;       /* rb without its result, should the answer be refused */
    int via_hub;                    /* the query came through the hub link */
    int pooled;                     /* answered with a masked share (node/share.h) */
    Fedra__PoolShare share;
    uint8_t share_hash[WIRE_HASH_LEN];
    struct buf masked;              /* the share's masked vectors */
};

/* The signer's certificate, verified once per certificate (node/certcache.h). */
static int
verify_signer(struct node *nd, struct query_state *s)
{
    const Fedra__Envelope *env = s->env;
    const uint8_t *cd[PKI_MAX_CHAIN];
    size_t cl[PKI_MAX_CHAIN];
    for (size_t i = 0; i < env->n_chain && i < PKI_MAX_CHAIN; i++) {
        cd[i] = env->chain[i].data;
        cl[i] = env->chain[i].len;
    }
    char claimed[PKI_MAX_NAME + 1];
    int pv = certcache_verify(nd->certs, nd->trust, env->signer_cert.data, env->signer_cert.len,
        cd, cl, env->n_chain, PKI_ROLE_ANALYST, s->now / 1000, &s->sc, claimed, s->err);
    if (pv == CERTCACHE_UNREADABLE || pv == CERTCACHE_BAD_CHAIN) {
        refuse(&s->v, "certificate", "signer certificate%s unreadable: %s",
            pv == CERTCACHE_BAD_CHAIN ? " chain" : "", s->err);
        return -1;
    }
    if (pv != PKI_OK) {
        snprintf(s->signer, sizeof s->signer, "unverified:%.64s", claimed);
        refuse(&s->v, pv == PKI_BAD_ROLE ? "role" : "certificate", "%s", s->err);
        return -1;
    }
    snprintf(s->signer, sizeof s->signer, "%s", pki_cert_name(s->sc));
    return 0;
}

/*
 * known: these exact bytes (their SHA-256 is the query hash of a pooled fit
 * this node follows) had their signature verified when the fit started, so
 * it is not verified again: the same bytes and certificate give the same
 * answer, and a fit's rounds repeated it N times each (the certificate is
 * still checked, as it may have been revoked since).
 */
static int
verify_envelope(struct node *nd, const uint8_t *msg, size_t len, int known,
    struct query_state *s)
{
    if (!own_cert_usable(nd, s->err)) {
        refuse(&s->v, "unavailable", "node '%s' answers no query while its own certificate "
            "is not usable: %s", nd->name, s->err);
        return -1;
    }
    if ((s->env = wire_envelope_decode(msg, len, WIRE_MAX_MODEL_QUERY, s->err)) == NULL) {
        refuse(&s->v, "malformed", "not a fedra query envelope: %s", s->err);
        return -1;
    }
    if (verify_signer(nd, s) != 0)
        return -1;
    if (!known && pki_check_sig(s->sc, s->env->body.data, s->env->body.len, s->env->signature.data,
            s->env->signature.len) != 0) {
        refuse(&s->v, "signature", "query signature does not verify with the certificate of "
            "'%s' (the query was altered after signing)", s->signer);
        return -1;
    }
    s->signed_ok = 1;
    if ((s->q = wire_query_decode(s->env->body.data, s->env->body.len, s->err)) == NULL) {
        refuse(&s->v, "malformed", "signed query body is malformed: %s", s->err);
        return -1;
    }
    util_hex(s->q->query_id.data, s->q->query_id.len, s->qid);
    return 0;
}

static int
check_query(struct node *nd, struct query_state *s)
{
    const Fedra__QueryBody *q = s->q;
    if (strcmp(q->analyst, s->signer) != 0) {
        refuse(&s->v, "identity", "query names analyst '%.64s' but is signed by '%s'",
            q->analyst, s->signer);
        return -1;
    }
    if (!in_audience(nd, q)) {
        refuse(&s->v, "audience", "query is addressed to other nodes, not to '%s'", nd->name);
        return -1;
    }
    check_time(nd, q, s->now, &s->v);
    if (s->v.code != NULL)
        return -1;
    uint8_t fp[32];
    pki_cert_fingerprint(s->sc, fp);
    int rr = replay_check(store_db(nd->store), fp, q->query_id.data, q->query_id.len,
        q->expires_at_ms + (int64_t)nd->cfg.clock_skew_s * 1000, s->now, nd->cfg.max_seen,
        s->err);
    if (rr == REPLAY_SEEN)
        refuse(&s->v, "replay", "query %s was already received once; replays are refused "
            "(sign a new query)", s->qid);
    else if (rr == REPLAY_FULL)
        refuse(&s->v, "capacity", "replay cache is full (%u live queries); refusing until "
            "entries expire", nd->cfg.max_seen);
    else if (rr != REPLAY_FRESH)
        refuse(&s->v, "internal", "%s", s->err);
    return s->v.code != NULL ? -1 : 0;
}

/*
 * The disclosure auditor of the data answered from, under the policy's
 * min_cell: rebuilt from its stored history at start, and after a reload
 * changed either.  NULL with err if it cannot be (the query is refused).
 */
static struct qaudit *
node_auditor(struct node *nd, char *err)
{
    if (qaudit_matches(nd->qa, nd->snap, nd->cfg.policy.min_cell))
        return nd->qa;
    qaudit_close(nd->qa);
    int64_t ms = 0;
    nd->qa = qaudit_open(store_db(nd->store), nd->snap, nd->cfg.policy.min_cell, 0, &ms, err);
    if (nd->qa != NULL) {
        uint64_t stored;
        size_t nsets[3], bytes;
        qaudit_stats(nd->qa, &stored, nsets, &bytes);
        node_log(nd, "disclosure auditor: %llu stored sets replayed in %lld ms (%zu bytes)",
            (unsigned long long)stored, (long long)ms, bytes);
    }
    return nd->qa;
}

/* The kind's row answers and releases; the differencing guard (node/qaudit.h) admits. */
static void
answer_query(struct node *nd, struct query_state *s)
{
    const Fedra__QuerySpec *spec = s->q->spec;
    if ((s->kind = node_kind_get(spec->kind)) == NULL) {
        refuse(&s->v, "unsupported", "query kind %d is not supported by %s", (int)spec->kind,
            FEDRA_VERSION_STRING);
        return;
    }
    struct node_kind_path path = {nd->trust, nd->certs, nd->name, s->qhash, s->now};
    struct node_kind_ctx ctx = {nd->snap, &nd->models, pki_cert_not_after(nd->cert) * 1000,
        FEDRA_VERSION_STRING, nd->cfg.model_path_check ? &path : NULL, NULL};
    if (node_kind_answer(s->kind, &ctx, &nd->cfg.policy, spec, &s->ans, s->err) != 0) {
        refuse(&s->v, s->ans.code ? s->ans.code : "query", "%s", s->err);
        return;
    }
    /* The auditor withholds within the answer (pending until the answer is sent). */
    if (nd->cfg.query_audit) {
        if (node_auditor(nd, s->v.reason) == NULL)
            s->v.code = "internal";
        else
            s->v.code = qaudit_admit(nd->qa, store_db(nd->store), nd->snap, s->kind,
                &nd->cfg.policy, spec, &s->ans, s->signer, s->qid, s->now, s->v.reason);
    }
    s->kind->summary(&s->ans, spec, s->summary, sizeof s->summary);
}

/*
 * A pooled query (issue 14): the node's masked share, for the hub's release
 * service only (node/share.h).  It releases nothing of its own, so neither
 * its release rules nor its auditor run; the hub applies the rules to the
 * pooled table.  Only through the hub: sent directly, the share would go to
 * the analyst, who with the other nodes' shares could not unmask it, but
 * who should not hold it either.
 */
/*
 * A pooled model round (node/sharefit.h): round 1 from the analyst's query
 * (round NULL), round k from the hub's PoolRound.  The fit's path check has
 * no off switch here: the node computes every round's coefficients itself.
 */
static void
answer_pooled_model(struct node *nd, struct query_state *s, const Fedra__PoolRound *round)
{
    const char *code = "pooled";
    struct node_kind_path path = {nd->trust, nd->certs, nd->name, s->qhash, s->now};
    struct node_kind_ctx ctx = {nd->snap, &nd->models, pki_cert_not_after(nd->cert) * 1000,
        FEDRA_VERSION_STRING, &path, NULL};
    /* Round 1 carries the rows per atom of the pooled auditor (node/patoms.h). */
    struct share_policy sp = {&nd->cfg.policy, nd->cfg.min_sites, nd->cfg.pool_min_participants,
        nd->certs, nd->masks, nd->name, NULL, 0, nd->patoms};
    if (round == NULL)
        sp.history = hublink_pool_history(nd->hub, &sp.nhistory);
    if (sharefit_answer(&nd->fits, &ctx, &sp, s->q, round, nd->trust, nd->curve_secret,
            nd->curve_public, s->qhash, s->now, &s->share, s->share_hash, &s->masked, &code,
            s->err) != 0) {
        refuse(&s->v, code, "%s", s->err);
        return;
    }
    s->pooled = 1;
    snprintf(s->summary, sizeof s->summary, "pooled %s round %u: a masked share of %llu "
        "positions and %llu audit atoms", s->q->spec->kind == FEDRA__KIND__KIND_GLM ? "glm"
        : "cox", s->share.round, (unsigned long long)s->share.positions,
        (unsigned long long)s->share.atoms);
}

static void
answer_pooled(struct node *nd, struct query_state *s)
{
    const Fedra__QuerySpec *spec = s->q->spec;
    if (!s->via_hub) {
        refuse(&s->v, "pooled", "a pooled query is answered only through the hub");
        return;
    }
    if (spec->kind == FEDRA__KIND__KIND_COX || spec->kind == FEDRA__KIND__KIND_GLM) {
        answer_pooled_model(nd, s, NULL);
        return;
    }
    struct node_kind_path path = {nd->trust, nd->certs, nd->name, s->qhash, s->now};
    struct node_kind_ctx ctx = {nd->snap, &nd->models, pki_cert_not_after(nd->cert) * 1000,
        FEDRA_VERSION_STRING, nd->cfg.model_path_check ? &path : NULL, NULL};
    struct share_policy sp = {&nd->cfg.policy, nd->cfg.min_sites, nd->cfg.pool_min_participants,
        nd->certs, nd->masks, nd->name, NULL, 0, nd->patoms};
    sp.history = hublink_pool_history(nd->hub, &sp.nhistory);    /* node/patoms.h */
    if (share_answer(&ctx, &sp, s->q, nd->trust, nd->curve_secret, nd->curve_public, s->qhash,
            s->now / 1000, &s->share, s->share_hash, &s->masked, s->err) != 0) {
        refuse(&s->v, "pooled", "%s", s->err);
        return;
    }
    s->pooled = 1;
    const struct node_kind *k = node_kind_get(spec->kind);
    snprintf(s->summary, sizeof s->summary, "pooled %s: a masked share of %llu positions "
        "and %llu audit atoms", k != NULL ? k->name : "?",
        (unsigned long long)s->share.positions, (unsigned long long)s->share.atoms);
}

/* The ResponseBody: its own fields, then the refusal or the kind's result; counts the outcome. */
static void
response_fill(struct node *nd, struct query_state *s)
{
    Fedra__ResponseBody *rb = &s->rb;
    rb->context = (char *)WIRE_RESPONSE_CONTEXT;
    rb->query_hash.data = s->qhash;
    rb->query_hash.len = sizeof s->qhash;
    if (s->q != NULL) {
        rb->query_id.data = s->q->query_id.data;
        rb->query_id.len = s->q->query_id.len;
    }
    rb->node = nd->name;
    rb->answered_at_ms = util_now_ms();
    /*
     * Facts about the data, and the audit log's head, go only to an analyst
     * whose signature verified: a stranger's refusal says why and no more
     * (docs/disclosure.md §2.1).  The head is the log just before this
     * reply's own entry (audit.h); response_audit() keeps it so.
     */
    if (s->signed_ok && !(s->q != NULL && s->q->spec != NULL && s->q->spec->pooled)) {
        rb->data_hash.data = nd->data_hash;
        rb->data_hash.len = sizeof nd->data_hash;
        rb->data_rows = nd->snap->n;
    }
    if (s->signed_ok) {
        rb->audit_seq = (uint64_t)nd->head.seq;
        rb->audit_head.data = nd->head.hash;
        rb->audit_head.len = sizeof nd->head.hash;
    }
    if (s->v.code != NULL) {
        refusal_body(rb, &s->v);
        nd->refused++;
        return;
    }
    s->bare = *rb;
    if (s->pooled)
        rb->pool = &s->share;       /* a pooled share: no data_rows, no data_hash (above) */
    else
        s->kind->result(&s->ans, rb);
    rb->status = FEDRA__STATUS__STATUS_OK;
    nd->answered++;
}

/* Turn an answer already counted into the refusal s->v: re-packed into body, and counted. */
static void
response_unanswer(struct node *nd, struct query_state *s, struct buf *body)
{
    s->rb = s->bare;
    refusal_body(&s->rb, &s->v);
    nd->answered--;
    nd->refused++;
    body->len = 0;
    wire_pack(&s->rb.base, body);
}

/* The packed body; an answer the coordinator would refuse to read is not sent at all. */
static void
response_pack(struct node *nd, struct query_state *s, struct buf *body)
{
    wire_pack(&s->rb.base, body);
    if (s->v.code == NULL && body->len > WIRE_MAX_RESPONSE - WIRE_MAX_ENVELOPE_OVERHEAD) {
        refuse(&s->v, "capacity", "the answer would be %zu bytes, over the %u-byte response "
            "limit; ask for fewer groups or a coarser grid", body->len, WIRE_MAX_RESPONSE);
        response_unanswer(nd, s, body);
    }
}

/* The audit entry of the reply; no answer leaves the node unaudited (fail closed). */
static void
response_audit(struct node *nd, struct query_state *s, const uint8_t *msg, size_t len,
    struct buf *body, struct buf *reply)
{
    uint8_t rhash[32];
    struct audit_entry ae = {
        .ts_ms = s->now,
        .event = s->v.code ? "refused" : "answered",
        .query_id = s->qid,
        .signer = s->signer,
        .reason = s->v.code ? s->v.reason : s->summary,
        /*
         * The query bytes are kept once a valid analyst signature makes them
         * evidence of who asked what; unauthenticated junk is recorded by its
         * reason only, so a flood of it cannot fill the disk at 64 KiB a go.
         */
        .query = s->signed_ok ? msg : NULL,
        .query_len = s->signed_ok ? len : 0,
        .response_hash = rhash,
    };
    /*
     * Unauthenticated junk is audited without its own fsync: the next audit
     * commit of a signed query fsyncs the write-ahead log, and this row with it,
     * before that answer leaves.  A flood of junk then costs no disk flush per
     * message (it drained at ~2.7k messages/s with one), and a power failure can
     * lose only the record of refused junk.
     */
    int lazy = !s->signed_ok && !nd->cfg.durability_normal;
    if (lazy)
        store_set_durability(nd->store, 0, NULL);
    int arc;
    for (int tries = 0;; tries++) {
        pki_sha256(reply->p, reply->len, rhash);
        arc = audit_append_kept(nd->audit_st, &ae, &nd->head, s->signed_ok, s->err);
        if (arc != AUDIT_MOVED || tries == NODE_AUDIT_RETRIES)
            break;
        /* Another process appended since the head was read: witness the new one. */
        s->rb.audit_seq = (uint64_t)nd->head.seq;
        body->len = reply->len = 0;
        wire_pack(&s->rb.base, body);
        seal(nd, body, reply);
    }
    if (lazy)
        store_set_durability(nd->store, 1, NULL);
    if (arc == AUDIT_MOVED)
        errf(s->err, "the audit log kept moving under the answer (%d tries)",
            NODE_AUDIT_RETRIES + 1);
    if (arc != 0 && s->v.code == NULL) {
        node_log(nd, "audit log unavailable, refusing query %s: %s", s->qid, s->err);
        refuse(&s->v, "internal", "the node's audit log is unavailable; query not answered");
        response_unanswer(nd, s, body);
    }
    if (arc != 0 && s->signed_ok) {
        /* No entry records this reply, so it witnesses no head either. */
        s->rb.audit_seq = 0;
        s->rb.audit_head.len = 0;
        body->len = reply->len = 0;
        wire_pack(&s->rb.base, body);
        seal(nd, body, reply);
    }
}

static void
respond(struct node *nd, struct query_state *s, const uint8_t *msg, size_t len,
    struct buf *reply)
{
    struct buf body = {0};
    response_fill(nd, s);
    response_pack(nd, s, &body);
    seal(nd, &body, reply);
    response_audit(nd, s, msg, len, &body, reply);
    buf_release(&body);
    if (s->v.code)
        node_log(nd, "query %s from %s: refused (%s): %s", s->qid[0] ? s->qid : "-",
            s->signer[0] ? s->signer : "-", s->v.code, s->v.reason);
    else
        node_log(nd, "query %s from %s: answered %s in %lld ms", s->qid, s->signer, s->summary,
            (long long)(util_mono_ms() - s->t0));
}

/*
 * For the release service: the signed response in reply (a refusal too) and
 * the share, as a PoolAnswer replacing it.  A pooled model round answered
 * is remembered by its signed response: the next round must carry it.
 */
static void
pool_answer_pack(struct node *nd, struct query_state *s, struct buf *reply)
{
    struct buf out = {0};
    if (s->v.code == NULL && s->pooled && s->share.round > 0)
        sharefit_commit(&nd->fits, s->qhash, reply->p, reply->len);
    share_pack_answer(&s->share, reply->p, reply->len, s->masked.p,
        s->v.code == NULL ? s->masked.len : 0, &out);
    buf_release(reply);
    *reply = out;
}

/*
 * Round k >= 2 of a pooled model fit, from the hub (node/sharefit.h): the
 * analyst's query verified again (signature, analyst, audience; it was
 * admitted, replay check included, at round 1), then the round; the reply
 * is a PoolAnswer, audited as any answer.
 */
static void
handle_round(struct node *nd, const uint8_t *msg, size_t len, struct buf *reply)
{
    struct query_state s;
    memset(&s, 0, sizeof s);
    s.t0 = util_mono_ms();
    s.now = util_now_ms();
    s.via_hub = 1;
    fedra__response_body__init(&s.rb);
    char why[FEDRA_ERRLEN];
    Fedra__PoolRound *round = wire_poolround_decode(msg, len, why);
    const uint8_t *q = round != NULL ? round->query.data : (const uint8_t *)"";
    size_t qlen = round != NULL ? round->query.len : 0;
    wire_query_hash(q, qlen, s.qhash);
    if (round == NULL)
        refuse(&s.v, "malformed", "not a pooled round: %s", why);
    else if (verify_envelope(nd, q, qlen, sharefit_follows(&nd->fits, s.qhash), &s) == 0) {
        if (strcmp(s.q->analyst, s.signer) != 0 || !in_audience(nd, s.q) || !s.q->spec->pooled)
            refuse(&s.v, "model-path", "the round's query is not a pooled query to this node "
                "signed by the analyst it names");
        else
            answer_pooled_model(nd, &s, round);
    }
    respond(nd, &s, q, qlen, reply);
    pool_answer_pack(nd, &s, reply);
    buf_release(&s.masked);
    wire_poolround_free(round);
    wire_query_free(s.q);
    wire_envelope_free(s.env);
}

static void
handle_query(struct node *nd, const uint8_t *msg, size_t len, int via_hub, struct buf *reply,
    int *to_hub)
{
    struct query_state s;
    memset(&s, 0, sizeof s);
    s.t0 = util_mono_ms();
    s.now = util_now_ms();
    s.via_hub = via_hub;
    fedra__response_body__init(&s.rb);
    wire_query_hash(msg, len, s.qhash);
    if (verify_envelope(nd, msg, len, 0, &s) == 0 && check_query(nd, &s) == 0) {
        if (s.q->spec->pooled)
            answer_pooled(nd, &s);
        else
            answer_query(nd, &s);
    }
    respond(nd, &s, msg, len, reply);
    if (via_hub && s.q != NULL && s.q->spec != NULL && s.q->spec->pooled) {
        pool_answer_pack(nd, &s, reply);
        *to_hub = 1;
    }
    buf_release(&s.masked);
    /* The auditor's pending sets count as released once the answer is signed and audited. */
    if (s.v.code == NULL)
        qaudit_commit(nd->qa);
    else if (nd->qa != NULL)
        qaudit_rollback(nd->qa, store_db(nd->store));
    if (s.kind != NULL)
        s.kind->free_answer(&s.ans);
    wire_query_free(s.q);
    wire_envelope_free(s.env);
}

/* ---- sockets and the main loop ---- */

static int
setopt_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v);
}

static int
open_sockets(struct node *nd, char *err)
{
    nd->zctx = zmq_ctx_new();
    if (nd->zctx == NULL)
        return errf(err, "zmq_ctx_new: %s", zmq_strerror(errno));
    /* The ZAP handler must be bound before any CURVE server binds. */
    void *zap = zmq_socket(nd->zctx, ZMQ_REP);
    if (zap == NULL || zmq_bind(zap, "inproc://zeromq.zap.01") != 0) {
        if (zap)
            zmq_close(zap);
        return errf(err, "cannot start the ZAP handler: %s", zmq_strerror(errno));
    }
    if (pthread_create(&nd->zap_thread, NULL, zap_main, zap) != 0) {
        zmq_close(zap);
        return errf(err, "cannot start the ZAP thread");
    }
    nd->zap_started = 1;
    if (nd->cfg.listen == NULL)
        return 0;                   /* a node behind a hub only: no listening socket at all */
    void *r = zmq_socket(nd->zctx, ZMQ_ROUTER);
    if (r == NULL)
        return errf(err, "zmq_socket: %s", zmq_strerror(errno));
    nd->router = r;
    int64_t maxmsg = (int64_t)WIRE_MAX_MODEL_QUERY + WIRE_CURVE_OVERHEAD;
    /*
     * No ZMQ_HEARTBEAT_*: with heartbeats on, libzmq 4.3.4 aborts the node
     * (assertion !_io_error, stream_engine_base.cpp:331; zeromq/libzmq#4364)
     * under a flood of reconnecting peers, 2 runs of 2 in tests/load/run;
     * without them it survived both.  Clients are short-lived and close
     * their connections, so dead-peer detection is not needed.
     */
    if (setopt_int(r, ZMQ_CURVE_SERVER, 1) != 0 ||
        zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, nd->curve_secret, 32) != 0 ||
        zmq_setsockopt(r, ZMQ_ZAP_DOMAIN, NODE_ZAP_DOMAIN, strlen(NODE_ZAP_DOMAIN)) != 0 ||
        setopt_int(r, ZMQ_ZAP_ENFORCE_DOMAIN, 1) != 0 ||
        zmq_setsockopt(r, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        setopt_int(r, ZMQ_HANDSHAKE_IVL, NODE_HANDSHAKE_MS) != 0 ||
        setopt_int(r, ZMQ_RCVHWM, NODE_HWM) != 0 || setopt_int(r, ZMQ_SNDHWM, NODE_HWM) != 0 ||
        setopt_int(r, ZMQ_LINGER, NODE_LINGER_MS) != 0)
        return errf(err, "cannot configure the node socket: %s", zmq_strerror(errno));
    if (zmq_bind(r, nd->cfg.listen) != 0)
        return errf(err, "cannot listen on '%s': %s", nd->cfg.listen, zmq_strerror(errno));
    /* With a wildcard port (tcp://127.0.0.1:*) the log names the port chosen. */
    size_t el = sizeof nd->endpoint;
    if (zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, nd->endpoint, &el) != 0)
        snprintf(nd->endpoint, sizeof nd->endpoint, "%s", nd->cfg.listen);
    return 0;
}

/* Receive one request (routing id + frames); answer it. */
static void
serve_one(struct node *nd)
{
    zmq_msg_t id, part;
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, nd->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        return;
    }
    int frames = 0;
    struct buf req = {0};
    while (zmq_msg_more(frames == 0 ? &id : &part)) {
        if (frames > 0)
            zmq_msg_close(&part);
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, nd->router, 0) < 0)
            break;
        if (++frames == 1)
            buf_append(&req, zmq_msg_data(&part), zmq_msg_size(&part));
    }
    if (frames > 0)
        zmq_msg_close(&part);
    struct buf reply = {0};
    if (frames == 1) {
        handle_query(nd, req.p, req.len, 0, &reply, NULL);
    } else {
        /* Only a one-frame envelope is a query; the hash covers the first frame. */
        node_log(nd, "refused a message of %d frames (one expected)", frames);
        handle_query(nd, (const uint8_t *)"", 0, 0, &reply, NULL);
    }
    zmq_msg_send(&id, nd->router, ZMQ_SNDMORE);
    zmq_send(nd->router, reply.p, reply.len, 0);
    zmq_msg_close(&id);
    buf_release(&reply);
    buf_release(&req);
}

/* A query that came through the hub takes the direct path (hublink_answer_fn). */
static void
hub_answer(void *arg, const uint8_t *query, size_t len, struct buf *reply, int *to_hub)
{
    handle_query(arg, query, len, 1, reply, to_hub);
}

static void
hub_round(void *arg, const uint8_t *round, size_t len, struct buf *reply)
{
    handle_round(arg, round, len, reply);
}

static void
hub_log(void *arg, const char *line)
{
    node_log(arg, "%s", line);
}

/* With hub: the link, dialled once the hub certificate verifies. */
static void
hub_open(struct node *nd)
{
    if (nd->cfg.hub == NULL)
        return;
    struct hublink_config hc = {nd->cfg.hub, nd->cfg.socks_proxy, nd->cfg.hub_cert,
        nd->curve_secret, hub_answer, hub_log, nd, hub_round};
    nd->hub = hublink_new(&hc);
    hublink_set_identity(nd->hub, nd->cert);
    hub_refresh(nd);
}

static int
node_open(struct node *nd, const char *config_path, char *err)
{
    if (config_load(config_path, &nd->cfg, err) != 0)
        return -1;
    /* With crl_url a node may start before its first CRL: it refuses queries until one arrives. */
    const char *crl = nd->cfg.crl;
    if (nd->cfg.crl_url != NULL && access(crl, F_OK) != 0)
        crl = NULL;
    if (pki_trust_load(nd->cfg.ca_cert, crl, 1, &nd->trust, err) != 0)
        return -1;
    nd->crl_installed_ms = util_now_ms();
    nd->certs = certcache_new();
    nd->masks = mask_cache_new();
    nd->patoms = patoms_cache_new();
    if (load_identity(nd, nd->trust, &nd->cert, &nd->key, err) != 0)
        return -1;
    snprintf(nd->name, sizeof nd->name, "%s", pki_cert_name(nd->cert));
    if (pki_key_curve_secret(nd->key, nd->curve_secret) != 0 ||
        pki_curve_public(nd->curve_secret, nd->curve_public) != 0)
        return errf(err, "cannot derive the transport key");
    if (store_open(nd->cfg.db, 0, &nd->store, err) != 0 ||
        store_set_durability(nd->store, !nd->cfg.durability_normal, err) != 0 ||
        (nd->audit_st = audit_stmts_new(store_db(nd->store), err)) == NULL)
        return -1;
    if (load_data(nd, &nd->snap, err) != 0)
        return -1;
    util_unhex(nd->snap->meta.hash, nd->data_hash, 32);
    if (nd->cfg.query_audit && node_auditor(nd, err) == NULL)
        return -1;
    if (open_sockets(nd, err) != 0)
        return -1;
    if (nd->cfg.crl_url != NULL) {
        struct crlfetch_config fc = {nd->cfg.crl_url, nd->cfg.ca_cert, nd->cfg.crl,
            nd->cfg.crl_refresh_s, nd->cfg.crl_timeout_s};
        if (crlfetch_start(&fc, &nd->fetch, err) != 0)
            return -1;
    }
    return 0;
}

static void
node_close(struct node *nd)
{
    crlfetch_stop(nd->fetch);     /* first: it may be in a transfer */
    hublink_free(nd->hub);
    nd->hub = NULL;
    if (nd->router)
        zmq_close(nd->router);
    if (nd->zctx) {
        zmq_ctx_shutdown(nd->zctx);     /* wakes the ZAP thread with ETERM */
        if (nd->zap_started)
            pthread_join(nd->zap_thread, NULL);
        zmq_ctx_term(nd->zctx);
    }
    kind_model_cache_clear(&nd->models);
    sharefit_clear(&nd->fits);
    qaudit_close(nd->qa);
    snapshot_free(nd->snap);
    certcache_free(nd->certs);
    mask_cache_free(nd->masks);
    audit_stmts_free(nd->audit_st);     /* before its database closes */
    patoms_cache_free(nd->patoms);
    store_free(nd->store);
    pki_cert_free(nd->cert);
    pki_key_free(nd->key);
    pki_trust_free(nd->trust);
    OPENSSL_cleanse(nd->curve_secret, sizeof nd->curve_secret);
    config_release(&nd->cfg);
    if (nd->sigfd >= 0)
        close(nd->sigfd);
}

int
serve_main(const char *config_path)
{
    struct node nd;
    char err[FEDRA_ERRLEN];
    memset(&nd, 0, sizeof nd);
    nd.sigfd = -1;
    /* Block the signals before any thread exists, then read them from a signalfd. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    store_tune_for_server();        /* before any connection: idle memory (store.h) */
    signal(SIGPIPE, SIG_IGN);
    nd.sigfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (nd.sigfd < 0) {
        fprintf(stderr, "fedra-node: signalfd: %s\n", strerror(errno));
        return 1;
    }
    if (node_open(&nd, config_path, err) != 0) {
        fprintf(stderr, "fedra-node: %s\n", err);
        node_close(&nd);
        return 1;
    }
    node_log(&nd, "serving on %s%s%s: %zu rows (hash %.16s), min_cell %u, time grid %u days, "
        "CRL number %lld", nd.endpoint[0] ? nd.endpoint : "no listening socket",
        nd.cfg.hub ? ", through the hub at " : "", nd.cfg.hub ? nd.cfg.hub : "", nd.snap->n,
        nd.snap->meta.hash,
        nd.cfg.policy.min_cell, nd.cfg.policy.time_grid_days,
        (long long)pki_trust_crl_number(nd.trust));
    nd.started_ms = util_now_ms();
    if (!nd.cfg.model_path_check)
        node_log(&nd, "WARNING: model_path_check is off: this node evaluates cox and glm rounds "
            "at any coefficients an analyst signs, which gives single patients' outcomes away "
            "(docs/disclosure.md, attack 1); for disclosure tests only");
    if (nd.cfg.crl_url != NULL)
        node_log(&nd, "fetching the CRL from %s every %u s (timeout %u s)", nd.cfg.crl_url,
            nd.cfg.crl_refresh_s, nd.cfg.crl_timeout_s);
    warn_crl(&nd);
    check_certs(&nd);
    hub_open(&nd);
    node_state_write(&nd, 0);
    /* The started entry names the node and its certificate: whose answers witness the log. */
    size_t derlen;
    const uint8_t *der = pki_cert_der(nd.cert, &derlen);
    struct audit_entry start = {util_now_ms(), "started", "", nd.name, FEDRA_VERSION_STRING,
        der, derlen, NULL};
    if (audit_append_kept(nd.audit_st, &start, &nd.head, 0, err) != 0) {
        node_log(&nd, "warning: %s", err);
        if (audit_head(store_db(nd.store), &nd.head, err) != 0)
            node_log(&nd, "warning: %s", err);
    }
    int running = 1;
    while (running) {
        /* Fixed slots; an absent socket is a negative fd, which poll(2) ignores. */
        zmq_pollitem_t items[5] = {
            {nd.router, -1, ZMQ_POLLIN, 0},
            {NULL, nd.sigfd, ZMQ_POLLIN, 0},
            {NULL, nd.fetch ? crlfetch_fd(nd.fetch) : -1, ZMQ_POLLIN, 0},
            {NULL, -1, ZMQ_POLLIN, 0},      /* the hub link and its monitor, set below */
            {NULL, -1, ZMQ_POLLIN, 0},
        };
        int64_t now = util_now_ms();
        kind_model_cache_expire(&nd.models, now, KIND_MODEL_CACHE_IDLE_MS);
        sharefit_expire(&nd.fits, now);
        long wait = (long)(nd.next_cert_check_ms - now);
        if (wait <= 0) {
            check_certs(&nd);
            continue;
        }
        /* While fits are kept, wake now and then to let go of finished ones. */
        if (nd.models.bytes > 0 && wait > NODE_MODEL_EXPIRY_CHECK_MS)
            wait = NODE_MODEL_EXPIRY_CHECK_MS;
        if (nd.hub != NULL) {
            int64_t hw = hublink_run(nd.hub, now);
            if (hublink_changes(nd.hub) != nd.hub_changes)
                node_state_write(&nd, 0);
            if (hw < wait)
                wait = (long)hw;
            /* The run may have closed or opened the link's sockets. */
            items[3].socket = hublink_socket(nd.hub);
            items[4].socket = hublink_monitor(nd.hub);
        }
        if (zmq_poll(items, 5, wait) < 0) {
            if (errno == EINTR)
                continue;
            node_log(&nd, "poll failed: %s", zmq_strerror(errno));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            struct signalfd_siginfo si;
            if (read(nd.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGHUP)
                    node_reload(&nd);
                else {
                    node_log(&nd, "%s received: stopping", si.ssi_signo == SIGTERM ? "SIGTERM"
                                                                                   : "SIGINT");
                    running = 0;
                }
            }
        }
        if (nd.fetch != NULL && (items[2].revents & ZMQ_POLLIN))
            node_crl_fetched(&nd);
        if (nd.router != NULL && (items[0].revents & ZMQ_POLLIN)) {
            /* Drain what is queued so a burst does not wait for the next poll. */
            for (int k = 0; k < NODE_HWM; k++) {
                int ev = 0;
                size_t el = sizeof ev;
                zmq_getsockopt(nd.router, ZMQ_EVENTS, &ev, &el);
                if (!(ev & ZMQ_POLLIN))
                    break;
                serve_one(&nd);
            }
        }
    }
    node_log(&nd, "stopped: %llu answered, %llu refused", (unsigned long long)nd.answered,
        (unsigned long long)nd.refused);
    struct audit_entry stop = {util_now_ms(), "stopped", "", "", "", NULL, 0, NULL};
    audit_append_kept(nd.audit_st, &stop, NULL, 0, err);
    crlfetch_stop(nd.fetch);
    nd.fetch = NULL;
    node_state_write(&nd, 1);
    node_close(&nd);
    return 0;
}
