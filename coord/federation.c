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
    return 0;
fail:
    free(nd.name);
    free(nd.endpoint);
    free(nd.cert_path);
    pki_cert_free(nd.cert);
    return -1;
}

static int
on_line(void *arg, int lineno, const char *key, const char *value, char *err)
{
    struct load *ld = arg;
    if (strcmp(key, "node") == 0)
        return add_node(ld, lineno, value, err);
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
    return errf(err, "%s:%d: unknown key '%s' (keys: ca_cert, crl, node)", ld->f->path, lineno,
        key);
}

int
federation_load(const char *path, struct federation *f, char *err)
{
    memset(f, 0, sizeof *f);
    f->path = xstrdup(path);
    struct load ld = {f, NULL, NULL};
    int rc = kv_parse(path, on_line, &ld, err);
    if (rc == 0 && f->nnodes == 0)
        rc = errf(err, "%s: lists no nodes (add 'node = NAME ENDPOINT CERT' lines)", path);
    if (rc == 0 && ld.ca != NULL)
        rc = pki_trust_load(ld.ca, ld.crl, ld.crl != NULL, &f->trust, err);
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
