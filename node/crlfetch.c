/*
 * crlfetch - see crlfetch.h.
 */
#include "node/crlfetch.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

/*
 * libcurl's entry points that crlfetch uses, resolved by name from the
 * library opened at run time (crlfetch.h: why).  The types are those of
 * curl/curl.h, so a call through the table is checked as a direct call is,
 * except easy_setopt's variadic value: every call passes the type the option
 * takes (long, curl_off_t, a pointer), as with the linked function.
 */
struct crlfetch_lib {
    void *handle;                   /* dlopen() handle */
    CURLcode (*global_init)(long flags);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    void (*easy_cleanup)(CURL *h);
    const char *(*easy_strerror)(CURLcode rc);
};

struct crlfetch {
    struct crlfetch_config cfg;     /* strings owned (copies) */
    struct crlfetch_lib *lib;       /* owned: libcurl for this fetcher's thread */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* on CLOCK_MONOTONIC */
    int requested;                  /* a fetch was asked for (start, SIGHUP) */
    atomic_int stop;
    int have_result;
    struct crlfetch_result slot;    /* the result waiting for the main loop */
    int pipe_rd, pipe_wr;           /* one byte per posted result */
};

/* ---- libcurl, loaded at run time ---- */

/* POSIX (dlsym) guarantees it; resolve() relies on it to copy a symbol into a function pointer. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function pointers are not data-sized");

/* dlsym() name into the function pointer at fn (of any function type). */
static int
resolve(void *handle, const char *name, void *fn, char *err)
{
    dlerror();
    void *p = dlsym(handle, name);
    if (p == NULL) {
        const char *e = dlerror();
        return errf(err, "%s lacks %s (%s)", CRLFETCH_LIBCURL, name, e ? e : "no such symbol");
    }
    memcpy(fn, &p, sizeof p);
    return 0;
}

#define RESOLVE(lib, field, name, err) resolve((lib)->handle, name, &(lib)->field, err)

int
crlfetch_lib_open(struct crlfetch_lib **out, char *err)
{
    *out = NULL;
    struct crlfetch_lib *lib = xcalloc(1, sizeof *lib);
    char why[FEDRA_ERRLEN];
    lib->handle = dlopen(CRLFETCH_LIBCURL, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (lib->handle == NULL) {
        const char *e = dlerror();
        errf(err, "crl_url needs libcurl, which cannot be loaded: %s (on Debian install the "
            "package libcurl4)", e ? e : CRLFETCH_LIBCURL);
        free(lib);
        return -1;
    }
    if (RESOLVE(lib, global_init, "curl_global_init", why) != 0 ||
        RESOLVE(lib, global_cleanup, "curl_global_cleanup", why) != 0 ||
        RESOLVE(lib, easy_init, "curl_easy_init", why) != 0 ||
        RESOLVE(lib, easy_setopt, "curl_easy_setopt", why) != 0 ||
        RESOLVE(lib, easy_perform, "curl_easy_perform", why) != 0 ||
        RESOLVE(lib, easy_cleanup, "curl_easy_cleanup", why) != 0 ||
        RESOLVE(lib, easy_strerror, "curl_easy_strerror", why) != 0) {
        errf(err, "crl_url needs libcurl: %s", why);
        dlclose(lib->handle);
        free(lib);
        return -1;
    }
    /* Before any thread uses it: curl_global_init is not thread-safe in every libcurl. */
    if (lib->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        errf(err, "cannot initialise libcurl (%s)", CRLFETCH_LIBCURL);
        dlclose(lib->handle);
        free(lib);
        return -1;
    }
    *out = lib;
    return 0;
}

void
crlfetch_lib_close(struct crlfetch_lib *lib)
{
    if (lib == NULL)
        return;
    lib->global_cleanup();
    dlclose(lib->handle);           /* RTLD_NODELETE: the code stays mapped */
    free(lib);
}

/* ---- one bounded download ---- */

struct sink {
    struct buf *body;
    int too_big;
    const atomic_int *stop;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    struct sink *k = arg;
    size_t len = size * n;
    if (len > CRLFETCH_MAX_BODY || k->body->len + len > CRLFETCH_MAX_BODY) {
        k->too_big = 1;
        return 0;                   /* CURLE_WRITE_ERROR: the transfer stops here */
    }
    buf_append(k->body, p, len);
    return len;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const struct sink *k = arg;
    return k->stop != NULL && atomic_load(k->stop) ? 1 : 0;
}

int
crlfetch_get(const struct crlfetch_lib *lib, const char *url, uint32_t timeout_s,
    const atomic_int *stop, struct buf *body, char *err)
{
    CURL *h = lib->easy_init();
    if (h == NULL)
        return errf(err, "cannot start a transfer (curl_easy_init)");
    char cerr[CURL_ERROR_SIZE] = "";
    struct sink k = {body, 0, stop};
    long connect_s = timeout_s < CRLFETCH_CONNECT_S ? (long)timeout_s : CRLFETCH_CONNECT_S;
    /* A redirect keeps the scheme of the URL: https is never downgraded, nothing else is fetched. */
    const char *redir = strncmp(url, "https://", 8) == 0 ? "https" : "http";
    body->len = 0;
    if (lib->easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, redir) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_MAXREDIRS, (long)CRLFETCH_MAX_REDIRECTS) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_CONNECTTIMEOUT, connect_s) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_TIMEOUT, (long)timeout_s) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)CRLFETCH_LOW_SPEED_BPS) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)CRLFETCH_LOW_SPEED_S) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CRLFETCH_MAX_BODY) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_FAILONERROR, 1L) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_WRITEDATA, &k) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_XFERINFODATA, &k) != CURLE_OK ||
        lib->easy_setopt(h, CURLOPT_USERAGENT, "fedra-node") != CURLE_OK) {
        lib->easy_cleanup(h);
        return errf(err, "cannot set up the transfer of '%s' (libcurl too old?)", url);
    }
    CURLcode rc = lib->easy_perform(h);
    lib->easy_cleanup(h);
    if (rc == CURLE_OK)
        return 0;
    if (k.too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return errf(err, "fetching '%s': the CRL is larger than %u bytes; refused", url,
            (unsigned)CRLFETCH_MAX_BODY);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return errf(err, "fetching '%s': timed out (%s; limits: %u s in all, under %d bytes/s "
            "for %d s)", url, cerr[0] ? cerr : lib->easy_strerror(rc), timeout_s,
            CRLFETCH_LOW_SPEED_BPS, CRLFETCH_LOW_SPEED_S);
    if (rc == CURLE_UNSUPPORTED_PROTOCOL)
        return errf(err, "fetching '%s': refused a scheme other than %s (%s)", url,
            strcmp(redir, "https") == 0 ? "https" : "http/https",
            cerr[0] ? cerr : lib->easy_strerror(rc));
    if (rc == CURLE_TOO_MANY_REDIRECTS)
        return errf(err, "fetching '%s': more than %d redirects", url, CRLFETCH_MAX_REDIRECTS);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return errf(err, "fetching '%s': abandoned (the node is stopping)", url);
    return errf(err, "fetching '%s': %s", url, cerr[0] ? cerr : lib->easy_strerror(rc));
}

/* ---- fetch, then verify against the CA ---- */

static void
fetch_once(struct crlfetch *f, struct crlfetch_result *r)
{
    memset(r, 0, sizeof *r);
    r->crl_number = -1;
    r->next_update = -1;
    r->fetched_at_ms = util_now_ms();
    int64_t t0 = util_mono_ms();
    char err[FEDRA_ERRLEN];
    if (crlfetch_get(f->lib, f->cfg.url, f->cfg.timeout_s, &f->stop, &r->body, err) != 0) {
        errf(r->err, "%s", err);
        goto out;
    }
    /* pki reads CRLs from files: a private temporary next to the CRL, removed at once. */
    struct buf tmp = {0};
    buf_printf(&tmp, "%s.fetch.XXXXXX", f->cfg.crl_path);
    int fd = mkostemp((char *)tmp.p, O_CLOEXEC);
    if (fd < 0) {
        errf(r->err, "cannot create a temporary file '%s': %s",
            (char *)tmp.p, strerror(errno));
        buf_release(&tmp);
        goto out;
    }
    size_t off = 0;
    while (off < r->body.len) {
        ssize_t w = write(fd, r->body.p + off, r->body.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    if (off != r->body.len) {
        errf(r->err, "cannot write '%s'", (char *)tmp.p);
    } else if (pki_trust_load(f->cfg.ca_cert, (char *)tmp.p, 1, &r->trust, err) != 0) {
        errf(r->err, "the CRL fetched from '%s' is not usable: %s",
            f->cfg.url, err);
        r->trust = NULL;
    } else {
        r->crl_number = pki_trust_crl_number(r->trust);
        r->next_update = pki_trust_crl_next_update(r->trust);
    }
    unlink((char *)tmp.p);
    buf_release(&tmp);
out:
    r->took_ms = util_mono_ms() - t0;
}

/* ---- the thread ---- */

static void
deadline_in(struct timespec *ts, uint32_t s)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += s;
}

static void *
fetch_main(void *arg)
{
    struct crlfetch *f = arg;
    struct timespec due;
    deadline_in(&due, 0);
    pthread_mutex_lock(&f->mu);
    while (!atomic_load(&f->stop)) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int is_due = now.tv_sec > due.tv_sec ||
            (now.tv_sec == due.tv_sec && now.tv_nsec >= due.tv_nsec);
        if (!f->requested && !is_due) {
            pthread_cond_timedwait(&f->cv, &f->mu, &due);
            continue;
        }
        f->requested = 0;
        pthread_mutex_unlock(&f->mu);
        struct crlfetch_result r;
        fetch_once(f, &r);
        pthread_mutex_lock(&f->mu);
        if (f->have_result)         /* the main loop has not taken the last one: newest wins */
            crlfetch_result_release(&f->slot);
        f->slot = r;
        f->have_result = 1;
        deadline_in(&due, f->cfg.refresh_s);
        ssize_t w;
        do
            w = write(f->pipe_wr, "r", 1);
        while (w < 0 && errno == EINTR);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int
crlfetch_start(const struct crlfetch_config *cfg, struct crlfetch **out, char *err)
{
    struct crlfetch *f = xcalloc(1, sizeof *f);
    f->cfg.url = xstrdup(cfg->url);
    f->cfg.ca_cert = xstrdup(cfg->ca_cert);
    f->cfg.crl_path = xstrdup(cfg->crl_path);
    f->cfg.refresh_s = cfg->refresh_s;
    f->cfg.timeout_s = cfg->timeout_s;
    f->requested = 1;
    atomic_init(&f->stop, 0);
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        errf(err, "pipe: %s", strerror(errno));
        goto fail_pipe;
    }
    f->pipe_rd = p[0];
    f->pipe_wr = p[1];
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&f->mu, NULL);
    /* Loaded here, before the thread exists (crlfetch_lib_open initialises libcurl). */
    if (crlfetch_lib_open(&f->lib, err) != 0)
        goto fail;
    if (pthread_create(&f->thread, NULL, fetch_main, f) != 0) {
        crlfetch_lib_close(f->lib);
        errf(err, "cannot start the CRL fetch thread");
        goto fail;
    }
    *out = f;
    return 0;
fail:
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    close(f->pipe_rd);
    close(f->pipe_wr);
fail_pipe:
    free((char *)f->cfg.url);
    free((char *)f->cfg.ca_cert);
    free((char *)f->cfg.crl_path);
    free(f);
    return -1;
}

void
crlfetch_stop(struct crlfetch *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    atomic_store(&f->stop, 1);
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    crlfetch_lib_close(f->lib);
    if (f->have_result)
        crlfetch_result_release(&f->slot);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    close(f->pipe_rd);
    close(f->pipe_wr);
    free((char *)f->cfg.url);
    free((char *)f->cfg.ca_cert);
    free((char *)f->cfg.crl_path);
    free(f);
}

void
crlfetch_request(struct crlfetch *f)
{
    pthread_mutex_lock(&f->mu);
    f->requested = 1;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

int
crlfetch_fd(const struct crlfetch *f)
{
    return f->pipe_rd;
}

int
crlfetch_take(struct crlfetch *f, struct crlfetch_result *r)
{
    char drain[64];
    while (read(f->pipe_rd, drain, sizeof drain) > 0)
        ;
    pthread_mutex_lock(&f->mu);
    int have = f->have_result;
    if (have) {
        *r = f->slot;
        memset(&f->slot, 0, sizeof f->slot);
        f->have_result = 0;
    }
    pthread_mutex_unlock(&f->mu);
    return have;
}

void
crlfetch_result_release(struct crlfetch_result *r)
{
    pki_trust_free(r->trust);
    buf_release(&r->body);
    memset(r, 0, sizeof *r);
}
