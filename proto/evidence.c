/*
 * evidence - see evidence.h.
 */
#include "proto/evidence.h"

#include <stdlib.h>
#include <string.h>

int
evidence_load(const char *path, json_t **root, char *err)
{
    uint8_t *data;
    size_t len;
    *root = NULL;
    if (util_read_file(path, EVIDENCE_MAX_BUNDLE_BYTES, &data, &len, err) != 0)
        return -1;
    json_error_t je;
    json_t *r = json_loadb((const char *)data, len, 0, &je);
    free(data);
    if (r == NULL)
        return errf(err, "%s:%d: not a fedra bundle (JSON: %s)", path, je.line, je.text);
    json_t *cmd = json_object_get(r, "command"), *nodes = json_object_get(r, "nodes"),
           *rounds = json_object_get(r, "rounds");
    if (json_integer_value(json_object_get(r, "fedra_bundle")) != EVIDENCE_BUNDLE_VERSION ||
        !json_is_array(cmd) || json_array_size(cmd) == 0 || !json_is_array(nodes) ||
        json_array_size(nodes) == 0 || json_array_size(nodes) > EVIDENCE_MAX_NODES ||
        !json_is_array(rounds) || json_array_size(rounds) > EVIDENCE_MAX_ROUNDS) {
        json_decref(r);
        return errf(err, "%s: not a fedra bundle of version %d (command, nodes and rounds "
            "expected)", path, EVIDENCE_BUNDLE_VERSION);
    }
    *root = r;
    return 0;
}

int
evidence_hex(json_t *o, const char *key, size_t max, struct buf *out)
{
    const char *h = json_string_value(json_object_get(o, key));
    size_t n = h ? strlen(h) : 0;
    if (h == NULL || n % 2 != 0 || n / 2 > max)
        return -1;
    out->len = 0;
    uint8_t *p = buf_extend(out, n / 2);
    return util_unhex(h, p, n / 2);
}

int
evidence_signer(const Fedra__Envelope *env, struct pki_cert **out, char *err)
{
    const uint8_t *cd[PKI_MAX_CHAIN];
    size_t cl[PKI_MAX_CHAIN], nc = env->n_chain < PKI_MAX_CHAIN ? env->n_chain : PKI_MAX_CHAIN;
    for (size_t i = 0; i < nc; i++) {
        cd[i] = env->chain[i].data;
        cl[i] = env->chain[i].len;
    }
    if (pki_cert_from_der(env->signer_cert.data, env->signer_cert.len, out, err) != 0)
        return -1;
    if (nc > 0 && pki_cert_set_chain(*out, cd, cl, nc, err) != 0) {
        pki_cert_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int
evidence_response(const Fedra__Envelope *env, const struct pki_cert *signer, const char *node,
    const uint8_t qhash[WIRE_HASH_LEN], Fedra__ResponseBody **out, char *err)
{
    char why[FEDRA_ERRLEN];
    *out = NULL;
    if (pki_check_sig(signer, env->body.data, env->body.len, env->signature.data,
            env->signature.len) != 0)
        return errf(err, "response signature is invalid (altered in transit or forged)");
    Fedra__ResponseBody *r = wire_response_decode(env->body.data, env->body.len, why);
    if (r == NULL)
        return errf(err, "malformed signed response: %s", why);
    if (strcmp(r->node, node) != 0) {
        errf(err, "response claims to come from '%.64s'", r->node);
        wire_response_free(r);
        return -1;
    }
    if (r->query_hash.len != WIRE_HASH_LEN || memcmp(r->query_hash.data, qhash,
            WIRE_HASH_LEN) != 0) {
        errf(err, "response answers a different query (query hash mismatch)");
        wire_response_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

int
evidence_sign(const struct pki_cert *cert, const struct pki_key *key, const uint8_t *body,
    size_t len, struct buf *out)
{
    uint8_t sig[PKI_SIG_LEN];
    if (pki_sign(key, body, len, sig) != 0)
        return -1;
    Fedra__Envelope env = FEDRA__ENVELOPE__INIT;
    env.version = WIRE_VERSION;
    env.body.data = (uint8_t *)body;
    env.body.len = len;
    env.signature.data = sig;
    env.signature.len = sizeof sig;
    env.signer_cert.data = (uint8_t *)pki_cert_der(cert, &env.signer_cert.len);
    ProtobufCBinaryData chain[PKI_MAX_CHAIN];
    env.n_chain = pki_cert_chain_count(cert);
    for (size_t i = 0; i < env.n_chain; i++)
        chain[i].data = (uint8_t *)pki_cert_chain_der(cert, i, &chain[i].len);
    env.chain = env.n_chain > 0 ? chain : NULL;
    wire_pack(&env.base, out);
    return 0;
}
