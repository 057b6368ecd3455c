/*
 * federation - see federation.h.
 */
#include "coord/federation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kv.h"
#include "lib/util.h"

struct load {
    struct federation *f;
    char *ca;
    char *crl;
    int hub_line;                   /* the hub line, 0 if none yet */
    int hub_node_line;              /* the first node behind the hub, 0 if none */
    const char *hub_node;           /* its name */
};

static int
add_node(struct load *ld, int lineno, const char *value, char *err)
{
    struct federation *f = ld->f;
    char name[PKI_MAX_NAME + 2], ep[FED_MAX_ENDPOINT + 2], cert[4097], extra[2];
    int n = sscanf(value, "%65s %257s %4096s %1s", name, ep, cert, extra);
    if (n != 3)
        return errf(err, "%s:%d: expected 'node = NAME ENDPOINT CERT'", f->path, lineno);
    if (strlen(name) > PKI_MAX_NAME || strlen(ep) > FED_MAX_ENDPOINT)
        return errf(err, "%s:%d: node name or endpoint too long", f->path, lineno);
    if (f->nnodes >= FED_MAX_NODES)
        return errf(err, "%s:%d: more than %d nodes", f->path, lineno, FED_MAX_NODES);
    if (federation_find(f, name) != NULL)
        return errf(err, "%s:%d: node '%s' is listed twice", f->path, lineno, name);
    struct fed_node nd = {0};
    nd.name = xstrdup(name);
    nd.endpoint = xstrdup(ep);
    nd.via_hub = strcmp(ep, FED_HUB_ENDPOINT) == 0;
    nd.cert_path = util_path_relative_to(f->path, cert);
    char why[FEDRA_ERRLEN];
    if (pki_cert_load(nd.cert_path, &nd.cert, why) != 0) {
        errf(err, "%s:%d: node '%s': %s", f->path, lineno, name, why);
        goto fail;
    }
    const char *cn = pki_cert_name(nd.cert);
    if (pki_cert_role(nd.cert) != PKI_ROLE_NODE || cn == NULL || strcmp(cn, name) != 0) {
        errf(err, "%s:%d: certificate '%s' is not a node certificate for '%s' (it names '%s', "
            "role %s)", f->path, lineno, nd.cert_path, name, cn ? cn : "?",
            pki_role_name(pki_cert_role(nd.cert)));
        goto fail;
    }
    if (pki_cert_curve_key(nd.cert, nd.curve_key) != 0) {
        errf(err, "%s:%d: certificate '%s' binds no transport key", f->path, lineno,
            nd.cert_path);
        goto fail;
    }
    f->nodes = xreallocarray(f->nodes, f->nnodes + 1, sizeof *f->nodes);
    f->nodes[f->nnodes++] = nd;
    if (nd.via_hub && ld->hub_node_line == 0) {
        ld->hub_node_line = lineno;
        ld->hub_node = f->nodes[f->nnodes - 1].name;
    }
    return 0;
fail:
    free(nd.name);
    free(nd.endpoint);
    free(nd.cert_path);
    pki_cert_free(nd.cert);
    return -1;
}

static void
hub_free(struct fed_hub *h)
{
    if (h == NULL)
        return;
    free(h->name);
    free(h->endpoint);
    free(h->cert_path);
    pki_cert_free(h->cert);
    free(h);
}

/* hub = ENDPOINT CERT: the certificate must have role hub and bind a transport key. */
static int
add_hub(struct load *ld, int lineno, const char *value, char *err)
{
    struct federation *f = ld->f;
    char ep[FED_MAX_ENDPOINT + 2], cert[4097], extra[2], why[FEDRA_ERRLEN];
    if (sscanf(value, "%257s %4096s %1s", ep, cert, extra) != 2)
        return errf(err, "%s:%d: expected 'hub = ENDPOINT CERT'", f->path, lineno);
    if (strlen(ep) > FED_MAX_ENDPOINT)
        return errf(err, "%s:%d: hub endpoint too long", f->path, lineno);
    if (f->hub != NULL)
        return errf(err, "%s:%d: a second hub line (the hub is named on line %d; a federation "
            "has at most one hub)", f->path, lineno, ld->hub_line);
    struct fed_hub *h = xcalloc(1, sizeof *h);
    h->endpoint = xstrdup(ep);
    h->cert_path = util_path_relative_to(f->path, cert);
    if (pki_cert_load(h->cert_path, &h->cert, why) != 0) {
        errf(err, "%s:%d: hub: %s", f->path, lineno, why);
        goto fail;
    }
    const char *cn = pki_cert_name(h->cert);
    if (pki_cert_role(h->cert) != PKI_ROLE_HUB || cn == NULL) {
        errf(err, "%s:%d: certificate '%s' is not a hub certificate (it names '%s', role %s)",
            f->path, lineno, h->cert_path, cn ? cn : "?", pki_role_name(pki_cert_role(h->cert)));
        goto fail;
    }
    if (pki_cert_curve_key(h->cert, h->curve_key) != 0) {
        errf(err, "%s:%d: certificate '%s' binds no transport key", f->path, lineno,
            h->cert_path);
        goto fail;
    }
    h->name = xstrdup(cn);
    f->hub = h;
    ld->hub_line = lineno;
    return 0;
fail:
    hub_free(h);
    return -1;
}

static int
on_line(void *arg, int lineno, const char *key, const char *value, char *err)
{
    struct load *ld = arg;
    if (strcmp(key, "node") == 0)
        return add_node(ld, lineno, value, err);
    if (strcmp(key, "hub") == 0)
        return add_hub(ld, lineno, value, err);
    if (strcmp(key, "ca_cert") == 0) {
        free(ld->ca);
        ld->ca = util_path_relative_to(ld->f->path, value);
        return 0;
    }
    if (strcmp(key, "crl") == 0) {
        free(ld->crl);
        ld->crl = util_path_relative_to(ld->f->path, value);
        return 0;
    }
    if (strcmp(key, "pooled") == 0) {
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
            return errf(err, "%s:%d: pooled is 'yes' or 'no', not '%s'", ld->f->path, lineno,
                value);
        ld->f->pooled = strcmp(value, "yes") == 0;
        return 0;
    }
    return errf(err, "%s:%d: unknown key '%s' (keys: ca_cert, crl, hub, node, pooled)",
        ld->f->path, lineno, key);
}

int
federation_load(const char *path, struct federation *f, char *err)
{
    memset(f, 0, sizeof *f);
    f->path = xstrdup(path);
    struct load ld = {f, NULL, NULL, 0, 0, NULL};
    char why[FEDRA_ERRLEN];
    int rc = kv_parse(path, on_line, &ld, err);
    if (rc == 0 && f->nnodes == 0)
        rc = errf(err, "%s: lists no nodes (add 'node = NAME ENDPOINT CERT' lines)", path);
    if (rc == 0 && ld.hub_node_line != 0 && f->hub == NULL)
        rc = errf(err, "%s:%d: node '%s' is behind the hub, but no hub is named (add "
            "'hub = ENDPOINT CERT')", path, ld.hub_node_line, ld.hub_node);
    if (rc == 0 && ld.ca != NULL)
        rc = pki_trust_load(ld.ca, ld.crl, ld.crl != NULL, &f->trust, err);
    /* Fail closed on the hub: a revoked or foreign hub gets nothing, not even sealed. */
    if (rc == 0 && f->hub != NULL && f->trust != NULL &&
        pki_verify(f->trust, f->hub->cert, PKI_ROLE_HUB, f->verify_at, why) != PKI_OK)
        rc = errf(err, "%s:%d: hub certificate refused: %s", path, ld.hub_line, why);
    free(ld.ca);
    free(ld.crl);
    return rc;
}

void
federation_release(struct federation *f)
{
    for (size_t i = 0; i < f->nnodes; i++) {
        free(f->nodes[i].name);
        free(f->nodes[i].endpoint);
        free(f->nodes[i].cert_path);
        pki_cert_free(f->nodes[i].cert);
    }
    free(f->nodes);
    hub_free(f->hub);
    free(f->path);
    pki_trust_free(f->trust);
    memset(f, 0, sizeof *f);
}

const struct fed_node *
federation_find(const struct federation *f, const char *name)
{
    for (size_t i = 0; i < f->nnodes; i++)
        if (strcmp(f->nodes[i].name, name) == 0)
            return &f->nodes[i];
    return NULL;
}

size_t
federation_hub_nodes(const struct federation *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nnodes; i++)
        n += f->nodes[i].via_hub != 0;
    return n;
}
