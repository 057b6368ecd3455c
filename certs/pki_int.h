/*
 * pki_int - pki's internals for the rest of certs/ (the CA code, fedra-cert)
 * and the unit tests: the OpenSSL objects behind pki's opaque types and a few
 * helpers both sides need.  Implemented in pki.c.  Nothing outside certs/ and
 * tests/ includes this header; everyone else uses pki.h.
 */
#ifndef PKI_INT_H
#define PKI_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certs/pki.h"

/* The X509 behind c (borrowed). */
X509 *pki_cert_x509(const struct pki_cert *c);
/* The EVP_PKEY behind k (borrowed). */
EVP_PKEY *pki_key_evp(const struct pki_key *k);
/* A pki_key holding a new reference to an Ed25519 pk; NULL otherwise. */
struct pki_key *pki_key_wrap(EVP_PKEY *pk);
/* ASN1_TIME as Unix seconds (0 if unparsable). */
int64_t pki_asn1_time_unix(const ASN1_TIME *t);
/* RFC 5280 CRLReason code <-> name ("keyCompromise"); NULL / -1 if unknown. */
const char *pki_crl_reason_name(int code);
int pki_crl_reason_parse(const char *s);
/* The last queued OpenSSL error as text in out (n bytes), the queue cleared; returns out. */
const char *pki_ossl_reason(char *out, size_t n);

#endif /* !PKI_INT_H */
