/*
 * wire - the only code that packs and unpacks protobuf-c messages.
 *
 * Every decode of untrusted bytes here:
 *  1. checks the length against the named cap for that message before
 *     unpacking;
 *  2. unpacks with a budgeted allocator (WIRE_BUDGET_FACTOR x the input), so a
 *     message cannot expand into an allocation out of proportion to its size;
 *  3. refuses unknown fields anywhere in the message tree;
 *  4. checks every repeated-field count and string length against its named
 *     limit, and that strings hold no NUL.
 * Callers read the returned generated structs (fedra.pb-c.h) and must free
 * them with the matching wire_*_free(), which uses the same allocator.
 */
#ifndef WIRE_H
#define WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "fedra.pb-c.h"
#include "lib/util.h"

/* 2: a glm round after the first carries X'W(z - eta) as its score (analysis/glm.h)
 * 3: a pooled fit's share carries pair tags (PoolShare.peer_tags), which the other
 *    nodes check in place of its signature (node/sharefit.h) */
#define WIRE_VERSION 3
#define WIRE_QUERY_CONTEXT "fedra/query/v1"
#define WIRE_RESPONSE_CONTEXT "fedra/response/v1"
#define WIRE_QUERY_HASH_CONTEXT "fedra/query-hash/v1"
#define WIRE_HUB_ROUTE_CONTEXT "fedra/hub-route/v1"
#define WIRE_POOL_RELEASE_CONTEXT "fedra/pool-release/v1"

#define WIRE_CURVE_OVERHEAD 33          /* CurveZMQ MESSAGE framing: ZMQ_MAXMSGSIZE counts it */
#define WIRE_MAX_QUERY (64u * 1024)     /* largest signed query envelope, plaintext bytes */
#define WIRE_MAX_RESPONSE (16u << 20)   /* largest signed response envelope */
/*
 * A model round k >= 2 carries the signed answers of round k-1 (QuerySpec.
 * prev_answers, docs/disclosure.md R1): about p^2 doubles and a certificate
 * per node (proto/DESIGN.md, "Model rounds").  Only a query with
 * prev_answers may be larger than WIRE_MAX_QUERY.
 */
#define WIRE_MAX_MODEL_QUERY (4u << 20) /* largest signed model round (envelope) */
/*
 * Decode memory budget = factor x input + slack.  protobuf-c needs about 40
 * bytes of scratch per field occurrence, and a 2-byte occurrence is legal, so
 * honest messages can need ~30x their size; a bomb needs 52x (security.md §4).
 */
#define WIRE_BUDGET_FACTOR 48
#define WIRE_BUDGET_SLACK 4096
#define WIRE_MAX_STRING 256             /* any string field (names, levels, reasons are capped apart) */
#define WIRE_MAX_REASON 1024            /* ResponseBody.reason */
#define WIRE_MAX_GROUP_BY 4             /* variables in QuerySpec.group_by */
#define WIRE_MAX_FILTERS 16             /* terms in QuerySpec.where */
#define WIRE_MAX_VALUES 64              /* values in one Filter */
#define WIRE_MAX_AUDIENCE 256           /* names in QueryBody.audience */
#define WIRE_MAX_CELLS 200000           /* cells in one CountResult */
#define WIRE_MAX_STRATA 128             /* strata in one KmResult */
#define WIRE_MAX_ROWS 400000            /* time points in one LifeTable */
#define WIRE_MAX_KM_BY 2                /* grouping variables of a survival query (km --by V1,V2) */
#define WIRE_MAX_TERMS 63               /* design columns of a model (QuerySpec.terms) */
#define WIRE_MAX_COEF (WIRE_MAX_TERMS + 1)  /* coefficients: the terms and glm's intercept */
#define WIRE_MAX_PREV_ANSWERS 256       /* signed node answers carried by one model round */
#define WIRE_QUERY_ID_LEN 16
#define WIRE_HASH_LEN 32
#define WIRE_MAX_LIFETIME_MS 600000     /* expires_at - issued_at */
#define WIRE_MAX_TIME_MS (1LL << 50)    /* any claimed time (Unix ms, ~37,000 years) */
/* Envelope framing + signature + certificate + chain: (1 + PKI_MAX_CHAIN) x 8 KiB + 8 KiB. */
#define WIRE_MAX_ENVELOPE_OVERHEAD 32768

/*
 * The hub (proto/DESIGN.md "Through a hub").  A hub frame carries sealed
 * payloads: bytes the hub never opens, so its decode budget is a small factor
 * of its size (WIRE_HUB_BUDGET_FACTOR), not the field-dense WIRE_BUDGET_FACTOR.
 * A sealed payload is a crypto_box between the analyst's and the node's
 * transport keys over a padded envelope (lib/seal.h).
 */
#define WIRE_SEAL_SLACK 65536           /* padding class + box overhead over an envelope */
#define WIRE_MAX_SEALED_QUERY (WIRE_MAX_MODEL_QUERY + WIRE_SEAL_SLACK)
#define WIRE_MAX_SEALED_RESPONSE (WIRE_MAX_RESPONSE + WIRE_SEAL_SLACK)
#define WIRE_MAX_HUB_ROUTE (32u << 20)  /* a signed HubRoute envelope: every node's sealed query */
#define WIRE_MAX_HUB_FRAME (WIRE_MAX_HUB_ROUTE + 4096)  /* any HubFrame on the wire */
#define WIRE_HUB_BUDGET_FACTOR 4
/*
 * Pooled release (issue 14): a node's PoolAnswer is its signed response and
 * its masked share (proto/layout.h: at most LAYOUT_MAX_POSITIONS positions of
 * 4 x 8 bytes in the count ring, 4 MiB; the bound below is still that of 16-byte
 * elements, which a model's share has); the hub's PoolReply carries its signed
 * release and every node's signed response.
 */
#define WIRE_MAX_POOL_ATOMS (1u << 17)  /* the pooled auditor's atoms (analysis/paudit.h) */
#define WIRE_MAX_POOL_MASKED ((8u << 20) + WIRE_MAX_POOL_ATOMS * 16u)
/* HubFrame.pool_history: earlier released pooled queries (PAUDIT_MAX_QUERIES - 1) */
#define WIRE_MAX_POOL_HISTORY 63
#define WIRE_MAX_POOL_ANSWER (WIRE_MAX_POOL_MASKED + WIRE_MAX_QUERY)
#define WIRE_MAX_POOL_REPLY WIRE_MAX_SEALED_RESPONSE
/*
 * A pooled model fit (proto/poolmodel.h) runs at most WIRE_MAX_POOL_ROUNDS
 * rounds (R's default iterations: coxph 20 and one more, glm 25); its
 * release commits to every node's response of every round.  A HUB_ROUND's
 * PoolRound carries the roster's answers to the round before (small model
 * shares), within a hub frame.
 */
#define WIRE_MAX_POOL_ROUNDS 32
#define WIRE_MAX_POOL_ROUND WIRE_MAX_HUB_ROUTE
#define WIRE_HUB_HELLO_INTERVAL_MS 5000

/* Decoded messages; free with the matching function (NULL is a no-op). */
Fedra__Envelope *wire_envelope_decode(const uint8_t *buf, size_t len, size_t max, char *err);
void wire_envelope_free(Fedra__Envelope *e);
Fedra__QueryBody *wire_query_decode(const uint8_t *buf, size_t len, char *err);
void wire_query_free(Fedra__QueryBody *q);
Fedra__ResponseBody *wire_response_decode(const uint8_t *buf, size_t len, char *err);
void wire_response_free(Fedra__ResponseBody *r);

/*
 * A hub frame: version, a known type, every field within its limit, and a
 * payload no larger than its type allows (a sealed query or response, or a
 * route envelope).  Checks of meaning (who may send which type) are the
 * caller's.
 */
Fedra__HubFrame *wire_hubframe_decode(const uint8_t *buf, size_t len, char *err);
void wire_hubframe_free(Fedra__HubFrame *h);
/* A HubRoute body (the signed body of a ROUTE payload's Envelope): context,
 * route_id and query_hash lengths, times in range, 1..WIRE_MAX_AUDIENCE
 * queries, node names valid and not repeated, each sealed query 1 ..
 * WIRE_MAX_SEALED_QUERY bytes. */
Fedra__HubRoute *wire_hubroute_decode(const uint8_t *buf, size_t len, char *err);
void wire_hubroute_free(Fedra__HubRoute *r);

/* Pooled release messages, bounded as the hub frames are. */
Fedra__PoolAnswer *wire_poolanswer_decode(const uint8_t *buf, size_t len, char *err);
void wire_poolanswer_free(Fedra__PoolAnswer *a);
Fedra__PoolReply *wire_poolreply_decode(const uint8_t *buf, size_t len, char *err);
void wire_poolreply_free(Fedra__PoolReply *r);
/* A PoolRound (hub -> node): the query, round >= 2, 1 .. WIRE_MAX_AUDIENCE answers. */
Fedra__PoolRound *wire_poolround_decode(const uint8_t *buf, size_t len, char *err);
void wire_poolround_free(Fedra__PoolRound *r);
/* A release body: context, query hash and commitments of WIRE_HASH_LEN bytes,
 * as many commitments as nodes (a model fit: nodes x rounds). */
Fedra__PoolRelease *wire_poolrelease_decode(const uint8_t *buf, size_t len, char *err);
void wire_poolrelease_free(Fedra__PoolRelease *r);

/* The largest envelope a query of spec may be: WIRE_MAX_QUERY, or WIRE_MAX_MODEL_QUERY with prev_answers. */
size_t wire_query_max(const Fedra__QuerySpec *spec);

/* Pack any generated message into out (appended). */
void wire_pack(const ProtobufCMessage *m, struct buf *out);

/* SHA-256(WIRE_QUERY_HASH_CONTEXT || envelope bytes). */
void wire_query_hash(const uint8_t *env, size_t len, uint8_t out[WIRE_HASH_LEN]);

/*
 * The time window of a query (security.md §3.2) against the reader's clock:
 * lifetime 1 ms .. WIRE_MAX_LIFETIME_MS, issued no more than skew_ms ahead of
 * now, expired no more than skew_ms ago, and every time within
 * 0 .. WIRE_MAX_TIME_MS so that no arithmetic overflows.  NULL if acceptable;
 * otherwise the refusal class ("clock" or "expired") and the reason in err.
 */
const char *wire_check_times(int64_t issued_ms, int64_t expires_ms, int64_t now_ms,
    int64_t skew_ms, char *err);

/* Op <-> text ("=", "!=", "<", "<=", ">", ">=", "in"). */
const char *wire_op_text(Fedra__Op op);

#endif /* !WIRE_H */
