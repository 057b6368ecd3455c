/*
 * hubserve - see hubserve.h.
 *
 * Threads: the main thread owns the ROUTER socket, the relay, the relay log
 * and the trust; the ZAP thread owns only its inproc socket; the CRL fetch
 * thread (node/crlfetch.h) hands verified CRLs over through a pipe.  Signals
 * arrive through a signalfd in the poll loop, so no state is touched from a
 * handler.
 */
#include "hub/hubserve.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <zmq.h>

#include "certs/pki.h"
#include "hub/hubconf.h"
#include "hub/hubstatus.h"
#include "hub/phist.h"
#include "hub/relaylog.h"
#include "lib/util.h"
#include "node/crlfetch.h"

#define HUB_ZAP_DOMAIN "fedra-hub"
#define HUB_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define HUB_HANDSHAKE_MS 5000
#define HUB_LINGER_MS 1000
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93   /* DRAFT in zmq.h, honoured by Debian's 4.3.4 */
#endif

struct hub {
    struct hubconf cfg;
    struct pki_trust *trust;
    struct pki_cert *cert;
    struct pki_key *key;
    char name[PKI_MAX_NAME + 1];
    uint8_t curve_secret[PKI_CURVE_KEY_LEN];
    struct relaylog *log;
    struct phist *phist;            /* the pooled auditor's history; NULL: pool_audit = off */
    struct relay *relay;
    void *zctx, *router;
    char endpoint[256];
    pthread_t zap_thread;
    int zap_started;
    int sigfd;
    struct crlfetch *fetch;
    int64_t started_ms, crl_installed_ms, fetch_at_ms, fetch_ok_ms;
    char fetch_result[FEDRA_ERRLEN + 64];
    char closed[FEDRA_ERRLEN];      /* why the relay is closed now ("" = relaying) */
    char log_err[FEDRA_ERRLEN];     /* the relay log's last failure, "" while it works */
    int64_t next_check_ms, next_state_ms;   /* monotonic */
    int state_dirty;
};

static void
hub_log(const struct hub *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
hub_log(const struct hub *h, const char *fmt, ...)
{
    char ts[32], line[2048];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One event, one line: a peer's text cannot start a forged line. */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    fprintf(stderr, "%s.%03ldZ fedra-hub[%s] %s\n", ts, now.tv_nsec / 1000000,
        h->name[0] ? h->name : "-", line);
}

static struct relay_now
now_pair(void)
{
    struct relay_now n = {util_now_ms(), util_mono_ms()};
    return n;
}

/* ---- ZAP (RFC 27): any CURVE client, tagged with its key ---- */

/*
 * Request frames: version, request id, domain, address, routing id,
 * mechanism, client key.  The reply: version, request id, status, text,
 * user id (the key in hex), metadata.
 */
static void *
zap_thread(void *arg)
{
    void *s = arg;
    for (;;) {
        zmq_msg_t part[7];
        int n = 0, more = 1, failed = 0;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, 0) < 0) {
                zmq_msg_close(&m);
                failed = 1;
                break;
            }
            more = zmq_msg_more(&m);
            if (n < 7)
                part[n++] = m;      /* moved: closed below */
            else
                zmq_msg_close(&m);
        }
        if (failed) {
            for (int i = 0; i < n; i++)
                zmq_msg_close(&part[i]);
            break;
        }
        int ok = n == 7 && zmq_msg_size(&part[0]) == 3
            && memcmp(zmq_msg_data(&part[0]), "1.0", 3) == 0
            && zmq_msg_size(&part[2]) == strlen(HUB_ZAP_DOMAIN)
            && memcmp(zmq_msg_data(&part[2]), HUB_ZAP_DOMAIN, strlen(HUB_ZAP_DOMAIN)) == 0
            && zmq_msg_size(&part[5]) == 5 && memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0
            && zmq_msg_size(&part[6]) == PKI_CURVE_KEY_LEN;
        char uid[RELAY_KEY_HEX] = "";
        if (ok)
            util_hex(zmq_msg_data(&part[6]), PKI_CURVE_KEY_LEN, uid);
        zmq_send(s, "1.0", 3, ZMQ_SNDMORE);
        if (n > 1)
            zmq_send(s, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
        else
            zmq_send(s, "", 0, ZMQ_SNDMORE);
        zmq_send(s, ok ? "200" : "400", 3, ZMQ_SNDMORE);
        zmq_send(s, ok ? "OK" : "CURVE required", ok ? 2 : 14, ZMQ_SNDMORE);
        zmq_send(s, uid, strlen(uid), ZMQ_SNDMORE);
        zmq_send(s, "", 0, 0);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&part[i]);
    }
    zmq_close(s);
    return NULL;
}

/* ---- the relay's io ---- */

static int
io_send(void *arg, const struct relay_peer *to, const uint8_t *frame, size_t len)
{
    struct hub *h = arg;
    if (zmq_send(h->router, to->id, to->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN ? RELAY_SEND_BUSY : RELAY_SEND_GONE;
    /* The routing id was taken, so the pipe has room for the frame that completes it. */
    if (zmq_send(h->router, frame, len, ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN ? RELAY_SEND_BUSY : RELAY_SEND_GONE;
    return RELAY_SENT;
}

static void
io_event(void *arg, const struct relay_event *e)
{
    struct hub *h = arg;
    char err[FEDRA_ERRLEN];
    if (relaylog_append(h->log, e, err) != 0 && h->log_err[0] == 0) {
        snprintf(h->log_err, sizeof h->log_err, "%s", err);
        hub_log(h, "error: %s", err);
    }
}

static void
io_log(void *arg, const char *line)
{
    hub_log(arg, "%s", line);
}

/* ---- identity, trust, gate ---- */

static int
load_identity(struct hub *h, struct pki_cert **certp, struct pki_key **keyp, char *err)
{
    struct pki_cert *c = NULL;
    struct pki_key *k = NULL;
    uint8_t sec[32], pub[32], bound[32];
    char why[FEDRA_ERRLEN];
    if (pki_cert_load(h->cfg.cert, &c, err) != 0 || pki_key_load(h->cfg.key, &k, err) != 0)
        goto fail;
    if (!pki_key_matches_cert(k, c)) {
        errf(err, "key '%s' is not the private key of certificate '%s'", h->cfg.key, h->cfg.cert);
        goto fail;
    }
    /* A missing or expired CRL does not stop the start (a current one may arrive): the
     * hub relays nothing until then.  Any other verdict does. */
    int pv = pki_verify(h->trust, c, PKI_ROLE_HUB, 0, why);
    if (pv != PKI_OK && pv != PKI_CRL_EXPIRED && pv != PKI_NO_CRL) {
        errf(err, "the hub's certificate '%s' is not usable (%s): %s", h->cfg.cert,
            pki_verdict_name(pv), why);
        goto fail;
    }
    if (pki_cert_name(c) == NULL) {
        errf(err, "certificate '%s' has no fedra name (SAN URI)", h->cfg.cert);
        goto fail;
    }
    if (pki_key_curve_secret(k, sec) != 0 || pki_curve_public(sec, pub) != 0 ||
        pki_cert_curve_key(c, bound) != 0 || memcmp(pub, bound, 32) != 0) {
        errf(err, "certificate '%s' does not bind the transport key of '%s'", h->cfg.cert,
            h->cfg.key);
        goto fail;
    }
    OPENSSL_cleanse(sec, sizeof sec);
    *certp = c;
    *keyp = k;
    return 0;
fail:
    OPENSSL_cleanse(sec, sizeof sec);
    pki_cert_free(c);
    pki_key_free(k);
    return -1;
}

/*
 * Whether the hub may relay now: its certificate verifies (role hub, chain,
 * not revoked, valid), it holds a current CRL, and its relay log works.
 * Re-checked every HUBSERVE_CHECK_EVERY_MS and after every change of trust;
 * a change is logged once and passed to the relay.
 */
static void
hub_gate(struct hub *h)
{
    char why[FEDRA_ERRLEN], now_closed[FEDRA_ERRLEN] = "";
    int pv = pki_verify(h->trust, h->cert, PKI_ROLE_HUB, 0, why);
    if (pv == PKI_NO_CRL || pv == PKI_CRL_EXPIRED)
        snprintf(now_closed, sizeof now_closed, "no current CRL (%.300s): every certificate check "
            "fails closed until one is installed%s", why, h->cfg.crl_url ? " (fetching from "
            "crl_url)" : "");
    else if (pv != PKI_OK)
        snprintf(now_closed, sizeof now_closed, "the hub's own certificate is not usable (%s): "
            "%.300s; give it a valid one, then SIGHUP", pki_verdict_name(pv), why);
    else if (h->log_err[0] != 0)
        snprintf(now_closed, sizeof now_closed, "the relay log cannot be written: %.400s",
            h->log_err);
    if (strcmp(now_closed, h->closed) == 0)
        return;
    snprintf(h->closed, sizeof h->closed, "%s", now_closed);
    if (now_closed[0])
        hub_log(h, "error: relaying NOTHING: %s", now_closed);
    else
        hub_log(h, "relaying again");
    relay_set_closed(h->relay, now_closed[0] ? now_closed : NULL);
    h->state_dirty = 1;
}

static void
state_write(struct hub *h, int stopping)
{
    char err[FEDRA_ERRLEN];
    struct hubstatus_state st = {
        .pid = (int64_t)getpid(),
        .started_at_ms = h->started_ms,
        .stopped_at_ms = stopping ? util_now_ms() : 0,
        .name = h->name,
        .endpoint = h->endpoint,
        .version = HUBSERVE_VERSION,
        .crl_number = pki_trust_crl_number(h->trust),
        .crl_next_update = pki_trust_crl_next_update(h->trust),
        .crl_installed_at_ms = h->crl_installed_ms,
        .crl_url = h->cfg.crl_url,
        .fetch_at_ms = h->fetch_at_ms,
        .fetch_ok_at_ms = h->fetch_ok_ms,
        .fetch_result = h->fetch_result[0] ? h->fetch_result : NULL,
        .closed = h->closed[0] ? h->closed : NULL,
    };
    if (hubstatus_write(h->cfg.state, &st, h->relay, err) != 0)
        hub_log(h, "warning: state file not written: %s", err);
    h->state_dirty = 0;
    h->next_state_ms = util_mono_ms() + HUBSERVE_STATE_EVERY_MS;
}

/* A new trust (CA + CRL) replaces the one held; the relay re-verifies its nodes against it. */
static void
trust_install(struct hub *h, struct pki_trust *t)
{
    struct relay_now now = now_pair();
    relay_set_trust(h->relay, t, &now);
    pki_trust_free(h->trust);
    h->trust = t;
    h->crl_installed_ms = now.wall_ms;
    hub_gate(h);
    h->state_dirty = 1;
}

/* The fetch thread's result: a CRL is installed only if its number is not lower. */
static void
crl_fetched(struct hub *h)
{
    struct crlfetch_result r;
    if (!crlfetch_take(h->fetch, &r))
        return;
    char err[FEDRA_ERRLEN];
    int64_t held = pki_trust_crl_number(h->trust);
    h->fetch_at_ms = r.fetched_at_ms + r.took_ms;
    if (r.trust == NULL)
        snprintf(h->fetch_result, sizeof h->fetch_result, "failed: %s", r.err);
    else if (r.crl_number < 0)
        snprintf(h->fetch_result, sizeof h->fetch_result, "refused a CRL without a CRL number");
    else if (r.crl_number < held)
        snprintf(h->fetch_result, sizeof h->fetch_result, "refused CRL number %lld: lower than "
            "number %lld held (replayed or rolled back)", (long long)r.crl_number,
            (long long)held);
    else if (r.crl_number == held)
        snprintf(h->fetch_result, sizeof h->fetch_result, "CRL number %lld unchanged",
            (long long)held);
    else
        snprintf(h->fetch_result, sizeof h->fetch_result, "installed CRL number %lld",
            (long long)r.crl_number);
    /* Saved first, then logged: whoever reads "installed" finds the file written. */
    int install = r.trust != NULL && r.crl_number > held && r.crl_number >= 0;
    int saved = !install || util_write_file(h->cfg.crl, r.body.p, r.body.len, 0644, err) == 0;
    hub_log(h, "crl fetch from %s (%lld ms): %s", h->cfg.crl_url, (long long)r.took_ms,
        h->fetch_result);
    if (!saved)
        hub_log(h, "warning: the fetched CRL is in use but not saved: %s", err);
    if (r.trust != NULL && r.crl_number >= held && r.crl_number >= 0) {
        h->fetch_ok_ms = h->fetch_at_ms;
        if (install) {
            trust_install(h, r.trust);
            r.trust = NULL;
        }
    }
    crlfetch_result_release(&r);
    h->state_dirty = 1;
}

/* SIGHUP: limits, CA + CRL, certificate; each part replaces the old only if it loads. */
static void
hub_reload(struct hub *h)
{
    char err[FEDRA_ERRLEN];
    struct hubconf cfg;
    if (hubconf_load(h->cfg.path, &cfg, err) == 0) {
        if (strcmp(cfg.listen, h->cfg.listen) != 0 || strcmp(cfg.log, h->cfg.log) != 0 ||
            strcmp(cfg.state, h->cfg.state) != 0)
            hub_log(h, "reload: listen, log and state changes need a restart; keeping the old");
        h->cfg.lim = cfg.lim;
        relay_set_limits(h->relay, &cfg.lim);
        hub_log(h, "reload: limits: queue_per_node %u, inflight_max %u, timeout_max_ms %u, "
            "skew_ms %u", cfg.lim.queue_per_node, cfg.lim.inflight_max, cfg.lim.timeout_max_ms,
            cfg.lim.skew_ms);
    } else {
        hub_log(h, "reload: config not reloaded: %s", err);
    }
    hubconf_release(&cfg);
    struct pki_trust *t;
    if (pki_trust_load(h->cfg.ca_cert, h->cfg.crl, 1, &t, err) != 0) {
        hub_log(h, "reload: CA and CRL not reloaded, keeping the old: %s", err);
    } else if (pki_trust_crl_number(t) < pki_trust_crl_number(h->trust)) {
        hub_log(h, "reload: CRL not reloaded: '%s' holds CRL number %lld, lower than %lld held",
            h->cfg.crl, (long long)pki_trust_crl_number(t),
            (long long)pki_trust_crl_number(h->trust));
        pki_trust_free(t);
    } else {
        hub_log(h, "reload: CA and CRL loaded (CRL number %lld)",
            (long long)pki_trust_crl_number(t));
        trust_install(h, t);
    }
    struct pki_cert *c;
    struct pki_key *k;
    uint8_t sec[PKI_CURVE_KEY_LEN];
    if (load_identity(h, &c, &k, err) != 0) {
        hub_log(h, "reload: certificate not reloaded: %s", err);
    } else if (strcmp(pki_cert_name(c), h->name) != 0 || pki_key_curve_secret(k, sec) != 0 ||
        CRYPTO_memcmp(sec, h->curve_secret, sizeof sec) != 0) {
        hub_log(h, "reload: the new certificate names another hub or binds another transport "
            "key: restart the hub for that; keeping the old certificate");
        pki_cert_free(c);
        pki_key_free(k);
    } else {
        hub_log(h, "reload: certificate loaded (serial %s)", pki_cert_serial_hex(c));
        pki_cert_free(h->cert);
        pki_key_free(h->key);
        h->cert = c;
        h->key = k;
        relay_set_signer(h->relay, h->cert, h->key);
    }
    OPENSSL_cleanse(sec, sizeof sec);
    if (h->fetch != NULL)
        crlfetch_request(h->fetch);
    if (h->log_err[0] != 0) {
        hub_log(h, "reload: trying the relay log again");
        h->log_err[0] = 0;
    }
    hub_gate(h);
    state_write(h, 0);
}

/* ---- sockets ---- */

static int
setopt_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v);
}

static int
open_sockets(struct hub *h, char *err)
{
    if ((h->zctx = zmq_ctx_new()) == NULL)
        return errf(err, "zmq_ctx_new: %s", zmq_strerror(errno));
    /* The ZAP handler is bound before the CURVE server: without one libzmq lets anyone in. */
    void *zap = zmq_socket(h->zctx, ZMQ_REP);
    if (zap == NULL || zmq_bind(zap, HUB_ZAP_ENDPOINT) != 0) {
        if (zap)
            zmq_close(zap);
        return errf(err, "cannot start the ZAP handler: %s", zmq_strerror(errno));
    }
    if (pthread_create(&h->zap_thread, NULL, zap_thread, zap) != 0) {
        zmq_close(zap);
        return errf(err, "cannot start the ZAP thread");
    }
    h->zap_started = 1;
    if ((h->router = zmq_socket(h->zctx, ZMQ_ROUTER)) == NULL)
        return errf(err, "zmq_socket: %s", zmq_strerror(errno));
    int64_t maxmsg = (int64_t)WIRE_MAX_HUB_FRAME + WIRE_CURVE_OVERHEAD;
    void *r = h->router;
    if (setopt_int(r, ZMQ_CURVE_SERVER, 1) != 0 ||
        zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, h->curve_secret, 32) != 0 ||
        zmq_setsockopt(r, ZMQ_ZAP_DOMAIN, HUB_ZAP_DOMAIN, strlen(HUB_ZAP_DOMAIN)) != 0 ||
        setopt_int(r, ZMQ_ZAP_ENFORCE_DOMAIN, 1) != 0 ||
        zmq_setsockopt(r, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        setopt_int(r, ZMQ_HANDSHAKE_IVL, HUB_HANDSHAKE_MS) != 0 ||
        setopt_int(r, ZMQ_RCVHWM, HUBSERVE_HWM) != 0 ||
        setopt_int(r, ZMQ_SNDHWM, HUBSERVE_HWM) != 0 ||
        setopt_int(r, ZMQ_ROUTER_MANDATORY, 1) != 0 ||
        setopt_int(r, ZMQ_LINGER, HUB_LINGER_MS) != 0)
        return errf(err, "cannot configure the hub socket: %s", zmq_strerror(errno));
    if (zmq_bind(r, h->cfg.listen) != 0)
        return errf(err, "cannot listen on '%s': %s", h->cfg.listen, zmq_strerror(errno));
    size_t el = sizeof h->endpoint;
    if (zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, h->endpoint, &el) != 0)
        snprintf(h->endpoint, sizeof h->endpoint, "%s", h->cfg.listen);
    return 0;
}

/* Read one message ([routing id][frames...]) and hand it to the relay; 0 if none waited. */
static int
recv_one(struct hub *h)
{
    zmq_msg_t id, part;
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, h->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        return 0;
    }
    struct relay_peer from;
    memset(&from, 0, sizeof from);
    from.idlen = zmq_msg_size(&id) <= RELAY_MAX_ID ? zmq_msg_size(&id) : RELAY_MAX_ID;
    memcpy(from.id, zmq_msg_data(&id), from.idlen);
    int more = zmq_msg_more(&id), nparts = 0;
    zmq_msg_close(&id);
    zmq_msg_t first;
    zmq_msg_init(&first);
    while (more) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, h->router, 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        if (nparts++ == 0) {
            zmq_msg_close(&first);
            first = part;           /* moved */
        } else {
            zmq_msg_close(&part);
        }
    }
    /* The connection's metadata travels on the frames it sent, not on the routing id
     * the ROUTER made for it: the ZAP handler's User-Id is the client's CURVE key. */
    const char *uid = nparts > 0 ? zmq_msg_gets(&first, "User-Id") : NULL;
    snprintf(from.key, sizeof from.key, "%s", uid ? uid : "");
    struct relay_now now = now_pair();
    relay_input(h->relay, &from, zmq_msg_data(&first), zmq_msg_size(&first), nparts, &now);
    zmq_msg_close(&first);
    return 1;
}

/* ---- start, loop, stop ---- */

static int
hub_open(struct hub *h, const char *config_path,
    void (*tamper)(void *, enum relay_tamper_point, char *, struct buf *), void *tamper_arg,
    char *err)
{
    if (hubconf_load(config_path, &h->cfg, err) != 0)
        return -1;
    /* With crl_url the hub may start before its first CRL; it relays nothing until one arrives. */
    const char *crl = h->cfg.crl;
    if (h->cfg.crl_url != NULL && access(crl, F_OK) != 0)
        crl = NULL;
    if (pki_trust_load(h->cfg.ca_cert, crl, 1, &h->trust, err) != 0)
        return -1;
    h->crl_installed_ms = util_now_ms();
    if (load_identity(h, &h->cert, &h->key, err) != 0)
        return -1;
    snprintf(h->name, sizeof h->name, "%s", pki_cert_name(h->cert));
    if (pki_key_curve_secret(h->key, h->curve_secret) != 0)
        return errf(err, "cannot derive the transport key");
    if (relaylog_open(h->cfg.log, 0, &h->log, err) != 0)
        return -1;
    struct relay_io io = {io_send, io_event, io_log, tamper, h, tamper_arg};
    h->relay = relay_new(&h->cfg.lim, h->name, &io);
    relay_set_signer(h->relay, h->cert, h->key);
    relay_set_roster(h->relay, h->cfg.roster, h->cfg.roster_min);
    if (h->cfg.pool_audit) {
        if (phist_open(h->cfg.pool_history, &h->phist, err) != 0)
            return -1;
        relay_set_pool_audit(h->relay, h->phist);
    }
    struct relay_now now = now_pair();
    relay_set_trust(h->relay, h->trust, &now);
    if (open_sockets(h, err) != 0)
        return -1;
    if (h->cfg.crl_url != NULL) {
        struct crlfetch_config fc = {h->cfg.crl_url, h->cfg.ca_cert, h->cfg.crl,
            h->cfg.crl_refresh_s, h->cfg.crl_timeout_s};
        if (crlfetch_start(&fc, &h->fetch, err) != 0)
            return -1;
    }
    return 0;
}

static void
hub_close(struct hub *h)
{
    crlfetch_stop(h->fetch);
    h->fetch = NULL;
    if (h->router)
        zmq_close(h->router);
    if (h->zctx) {
        zmq_ctx_shutdown(h->zctx);      /* wakes the ZAP thread with ETERM */
        if (h->zap_started)
            pthread_join(h->zap_thread, NULL);
        zmq_ctx_term(h->zctx);
    }
    relay_free(h->relay);
    phist_free(h->phist);
    relaylog_close(h->log);
    pki_cert_free(h->cert);
    pki_key_free(h->key);
    pki_trust_free(h->trust);
    OPENSSL_cleanse(h->curve_secret, sizeof h->curve_secret);
    hubconf_release(&h->cfg);
    if (h->sigfd >= 0)
        close(h->sigfd);
}

/*
 * End of a turn of the loop: commit the relay log's entries.  A failure
 * closes the relay (hub_gate) until SIGHUP retries: nothing is relayed
 * unlogged.
 */
static void
hub_commit(struct hub *h)
{
    char err[FEDRA_ERRLEN];
    if (relaylog_commit(h->log, err) != 0) {
        if (h->log_err[0] == 0)
            hub_log(h, "error: %s", err);
        snprintf(h->log_err, sizeof h->log_err, "%s", err);
    }
}

/* Poll once: signals, CRL fetches, messages, deadlines.  0 to go on, 1 to stop. */
static int
hub_turn(struct hub *h)
{
    struct relay_now now = now_pair();
    int64_t wait = relay_next_ms(h->relay, &now);
    int64_t check = h->next_check_ms - now.mono_ms;
    if (wait < 0 || wait > check)
        wait = check < 0 ? 0 : check;
    zmq_pollitem_t items[3] = {
        {h->router, 0, ZMQ_POLLIN, 0},
        {NULL, h->sigfd, ZMQ_POLLIN, 0},
        {NULL, h->fetch ? crlfetch_fd(h->fetch) : -1, ZMQ_POLLIN, 0},
    };
    if (zmq_poll(items, h->fetch ? 3 : 2, (long)wait) < 0) {
        if (errno == EINTR)
            return 0;
        hub_log(h, "poll failed: %s", zmq_strerror(errno));
        return 1;
    }
    int stop = 0;
    if (items[1].revents & ZMQ_POLLIN) {
        struct signalfd_siginfo si;
        if (read(h->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo == SIGHUP) {
                hub_reload(h);
            } else {
                hub_log(h, "%s received: stopping", si.ssi_signo == SIGTERM ? "SIGTERM"
                    : "SIGINT");
                stop = 1;
            }
        }
    }
    if (h->fetch != NULL && (items[2].revents & ZMQ_POLLIN))
        crl_fetched(h);
    if (items[0].revents & ZMQ_POLLIN)
        for (int k = 0; k < HUBSERVE_DRAIN && recv_one(h); k++)
            ;
    now = now_pair();
    relay_tick(h->relay, &now);
    if (now.mono_ms >= h->next_check_ms) {
        h->next_check_ms = now.mono_ms + HUBSERVE_CHECK_EVERY_MS;
        hub_gate(h);
    }
    hub_commit(h);
    if (relay_changed(h->relay))
        h->state_dirty = 1;
    if (h->state_dirty && now.mono_ms >= h->next_state_ms)
        state_write(h, 0);
    return stop;
}

int
hubserve_main(const char *config_path,
    void (*tamper)(void *arg, enum relay_tamper_point at, char *node, struct buf *payload),
    void *tamper_arg)
{
    struct hub h;
    char err[FEDRA_ERRLEN];
    memset(&h, 0, sizeof h);
    h.sigfd = -1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((h.sigfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "fedra-hub: signalfd: %s\n", strerror(errno));
        return 1;
    }
    if (hub_open(&h, config_path, tamper, tamper_arg, err) != 0) {
        fprintf(stderr, "fedra-hub: %s\n", err);
        hub_close(&h);
        return 1;
    }
    h.started_ms = util_now_ms();
    hub_log(&h, "serving on %s: hub %s, CRL number %lld, queue_per_node %u, inflight_max %u, "
        "timeout_max_ms %u", h.endpoint, h.name, (long long)pki_trust_crl_number(h.trust),
        h.cfg.lim.queue_per_node, h.cfg.lim.inflight_max, h.cfg.lim.timeout_max_ms);
    if (h.cfg.crl_url != NULL)
        hub_log(&h, "fetching the CRL from %s every %u s (timeout %u s)", h.cfg.crl_url,
            h.cfg.crl_refresh_s, h.cfg.crl_timeout_s);
    struct relay_event started = {h.started_ms, "started", "", NULL, NULL, h.name, NULL, 0,
        HUBSERVE_VERSION, NULL, 0};
    io_event(&h, &started);
    hub_gate(&h);
    hub_commit(&h);
    state_write(&h, 0);
    h.next_check_ms = util_mono_ms() + HUBSERVE_CHECK_EVERY_MS;
    while (hub_turn(&h) == 0)
        ;
    const struct relay_counters *c = relay_counters(h.relay);
    hub_log(&h, "stopped: %llu routes, %llu forwards, %llu answers, %llu timeouts, %llu busy, "
        "%llu refused, %llu junk dropped", (unsigned long long)c->routes,
        (unsigned long long)c->forwards, (unsigned long long)c->answers,
        (unsigned long long)c->timeouts, (unsigned long long)c->busy,
        (unsigned long long)c->refused, (unsigned long long)c->junk);
    struct relay_event stopped = {util_now_ms(), "stopped", "", NULL, NULL, h.name, NULL, 0, "",
        NULL, 0};
    io_event(&h, &stopped);
    hub_commit(&h);
    crlfetch_stop(h.fetch);
    h.fetch = NULL;
    state_write(&h, 1);
    hub_close(&h);
    return 0;
}
