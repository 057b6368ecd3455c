/*
 * serve - the node daemon: answer signed queries over CurveZMQ until
 * SIGTERM/SIGINT; SIGHUP reloads certificates, CRL, policy and data.
 *
 * Query path (each step refuses with a signed answer saying why; every
 * query, answered or refused, is audited):
 *   received -> size-checked (ZMQ_MAXMSGSIZE, WIRE_MAX_QUERY)
 *   -> envelope decoded (budgeted, no unknown fields)
 *   -> signer certificate verified: chain to the federation CA, validity,
 *      CRL (fail closed), role analyst
 *   -> signature over the body bytes as received
 *   -> body decoded; analyst == certificate name; this node in the audience
 *   -> time window (issued/expires within the tolerated skew, lifetime cap)
 *   -> replay cache (persistent; fails closed when full)
 *   -> executed on the in-memory snapshot; disclosure policy applied
 *   -> response signed (bound to the query hash, node name, data hash)
 */
#ifndef SERVE_H
#define SERVE_H

/* Run the node with this config; returns the process exit status. */
int serve_main(const char *config_path);

#endif /* !SERVE_H */
