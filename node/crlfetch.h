/*
 * crlfetch - keep the node's CRL current from an http(s) URL (config crl_url).
 *
 * Why a thread: a fetch can take as long as its timeout (a dead CA web server,
 * a slow link), and the node must keep answering meanwhile.  A bounded fetch
 * in the main loop would still stall queries for up to crl_fetch_timeout_seconds
 * every refresh, so the fetch runs in a thread of its own that owns nothing
 * the query path uses: it downloads the body (bounded below), writes it to a
 * private temporary file next to the CRL, verifies it against the CA with
 * pki_trust_load() (signature by a federation CA, parseable, CRL number and
 * nextUpdate read), and hands the main loop a ready struct pki_trust together
 * with the body.  The main loop only compares CRL numbers, swaps a pointer and
 * writes the file: a few milliseconds, between two queries.  The hand-over is
 * one mutex-protected slot plus a pipe whose read end the main loop polls.
 *
 * Bounds on one fetch (security.md: every input from the network is bounded):
 *   connect timeout CRLFETCH_CONNECT_S (at most the total), total timeout
 *   crl_fetch_timeout_seconds, slow drip: less than CRLFETCH_LOW_SPEED_BPS
 *   bytes/s for CRLFETCH_LOW_SPEED_S seconds aborts, body at most
 *   CRLFETCH_MAX_BODY bytes (a larger Content-Length is refused before the
 *   body, a body that grows past it is cut off), http and https only, also
 *   after a redirect, which must keep the scheme of crl_url (an https URL is
 *   never downgraded to http), at most CRLFETCH_MAX_REDIRECTS redirects,
 *   HTTP status >= 400 is an error.
 *
 * Policy (what is accepted) stays with the caller: crlfetch_take() returns a
 * verified CRL; whether it replaces the one held (its CRL number is not
 * lower) is the main loop's decision.
 *
 * Why libcurl is loaded at run time (dlopen of CRLFETCH_LIBCURL) and not
 * linked: only a node with crl_url uses it, and linking it mapped libcurl and
 * the ~20 libraries it pulls in (GnuTLS via librtmp, LDAP, SASL, SSH2,
 * nghttp2, IDN, ...) into every process, running their initialisers at
 * start: 3.6 MB of the idle node's 15.5 MB resident (performance.md: <= 10).
 * A node without crl_url now never maps them.  crlfetch_lib_open() resolves
 * the few entry points used into a table of function pointers owned by the
 * caller (the fetcher holds its own), so there is no global state; the
 * library is opened RTLD_NODELETE, so that closing the table can never unmap
 * code a thread libcurl left behind (its threaded resolver) still runs.  A
 * missing libcurl (Debian package libcurl4) is a clear error at start, as a
 * bad crl_url is.  Building still needs curl/curl.h (libcurl4-openssl-dev)
 * for the types and constants, which are ABI-stable within soname 4.
 */
#ifndef CRLFETCH_H
#define CRLFETCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "certs/pki.h"
#include "lib/util.h"

#define CRLFETCH_MAX_BODY PKI_MAX_FILE  /* 1 MiB: the largest CRL file pki reads */
#define CRLFETCH_CONNECT_S 10           /* TCP + TLS handshake */
#define CRLFETCH_LOW_SPEED_BPS 512      /* slower than this ... */
#define CRLFETCH_LOW_SPEED_S 5          /* ... for this long is a slow drip: abort */
#define CRLFETCH_MAX_REDIRECTS 3
#define CRLFETCH_LIBCURL "libcurl.so.4" /* the soname built against (Debian libcurl4) */

struct crlfetch;
struct crlfetch_lib;                /* libcurl's entry points, loaded at run time */

struct crlfetch_config {
    const char *url;                /* http:// or https:// */
    const char *ca_cert;            /* file the CRL must be signed by a CA of */
    const char *crl_path;           /* where the CRL is kept; temporaries go next to it */
    uint32_t refresh_s;             /* interval between fetches */
    uint32_t timeout_s;             /* bound on one fetch */
};

/* What one fetch produced: a verified CRL, or why there is none. */
struct crlfetch_result {
    struct pki_trust *trust;        /* CA + the fetched CRL; NULL on failure */
    struct buf body;                /* the CRL exactly as fetched (to be written to crl_path) */
    int64_t crl_number;             /* of the fetched CRL, -1 if none */
    int64_t next_update;            /* Unix seconds, -1 if absent */
    int64_t fetched_at_ms;
    int64_t took_ms;
    char err[FEDRA_ERRLEN];         /* failure: URL, what went wrong */
};

/*
 * Load libcurl and initialise it (curl_global_init); 0 on success, else err
 * names the library and why it could not be loaded.  Call before starting
 * threads that use it; release with crlfetch_lib_close (NULL is ignored).
 */
int crlfetch_lib_open(struct crlfetch_lib **out, char *err);
void crlfetch_lib_close(struct crlfetch_lib *lib);

/*
 * Download url into body within the bounds above; 0 on success.  Used by the
 * thread, and on its own by tests.  stop (may be NULL) is polled during the
 * transfer: when it becomes non-zero the transfer is abandoned.
 */
int crlfetch_get(const struct crlfetch_lib *lib, const char *url, uint32_t timeout_s,
    const atomic_int *stop, struct buf *body, char *err);

/* Load libcurl, start the fetch thread; the first fetch starts at once. */
int crlfetch_start(const struct crlfetch_config *cfg, struct crlfetch **out, char *err);
/* Stop it: a fetch in progress is abandoned within a second; its libcurl table is released. */
void crlfetch_stop(struct crlfetch *f);
/* Ask for a fetch now (SIGHUP); a fetch in progress is not restarted. */
void crlfetch_request(struct crlfetch *f);
/* Readable when a result waits; poll it, then call crlfetch_take(). */
int crlfetch_fd(const struct crlfetch *f);
/* Move the waiting result into *r (1), or 0 if none; release it with crlfetch_result_release. */
int crlfetch_take(struct crlfetch *f, struct crlfetch_result *r);
void crlfetch_result_release(struct crlfetch_result *r);

#endif /* !CRLFETCH_H */
