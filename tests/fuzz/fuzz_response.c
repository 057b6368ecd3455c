/*
 * fuzz_response - the coordinator's side: a node's reply as it arrives.
 *
 * As coord/client.c does: decode the envelope with the response cap, parse
 * the signer certificate, check the signature, and decode the body.  As in
 * fuzz_envelope, the body decoder runs on every decoded envelope's body (a
 * fuzzer cannot sign), and on the whole input when it is not an envelope.
 * Every decoded field is read, including each life table's columns.
 */
#include <stdint.h>
#include <string.h>

#include "certs/pki.h"
#include "proto/wire.h"
#include "tests/fuzz/fuzz_common.h"

static void
response_body(const uint8_t *data, size_t size)
{
    char err[FEDRA_ERRLEN];
    Fedra__ResponseBody *r = wire_response_decode(data, size, err);
    if (r == NULL)
        return;
    volatile uint64_t sink = fuzz_walk(&r->base);
    (void)sink;
    wire_response_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[FEDRA_ERRLEN];
    Fedra__Envelope *e = wire_envelope_decode(data, size, WIRE_MAX_RESPONSE, err);
    if (e == NULL) {
        response_body(data, size);
        return 0;
    }
    struct pki_cert *sc = NULL;
    if (pki_cert_from_der(e->signer_cert.data, e->signer_cert.len, &sc, err) == 0) {
        uint8_t key[PKI_CURVE_KEY_LEN];
        volatile uint64_t sink = (uint64_t)pki_cert_role(sc)
            + (uint64_t)pki_cert_curve_key(sc, key)
            + (uint64_t)pki_check_sig(sc, e->body.data, e->body.len, e->signature.data,
                e->signature.len);
        const char *name = pki_cert_name(sc);
        if (name != NULL)
            sink += strlen(name);
        (void)sink;
        pki_cert_free(sc);
    }
    response_body(e->body.data, e->body.len);
    wire_envelope_free(e);
    return 0;
}
