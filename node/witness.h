/*
 * witness - the audit log checked against the heads that bundles witness
 * (`fedra-node audit verify --db FILE --ca-cert CA BUNDLE...`).
 *
 * The hash chain (audit_verify) shows an edit or a gap inside the log, but
 * not a log cut short at its end, nor one rewritten from some entry on with
 * fresh hashes.  Every signed answer to a verified analyst carries the log's
 * head as it stood just before the answer's own entry (audit.h), and the
 * analyst keeps it in a bundle (`fedra --bundle`).  For each answer of this
 * node in the bundles, with head (S, H):
 *   - entry S exists and its entry hash is H;
 *   - entry S + 1 exists and records the SHA-256 of that response envelope,
 *     so deleting the answer's own entry is caught too.
 * A log that ends before a witnessed entry, or whose entries differ, fails
 * with one line per problem naming the bundle, the query and its time.
 *
 * Every response is verified first, as `fedra verify` would (proto/evidence.h):
 * its signature, its binding to the round's query, and its signer certificate
 * (the name the bundle gives; with the federation CA, role node and valid at
 * the time of the answer).  Without the CA, an answer of this node counts only
 * if it is signed with a certificate the log's `started` entries record (the
 * node's own); one that is not (a certificate renewed since the last start,
 * or a forgery) is an error that asks for the CA.  A bundle that does not
 * verify is an error: a forged bundle cannot make an honest log look cut.
 *
 * Whose answers are compared: those of the node named by node (--node), else
 * of the names the log's `started` entries record (the node's own name, since
 * this version); a log that records none (an older one) is matched by the
 * answers whose envelope hash it holds.  Answers of other nodes are counted
 * and skipped; so are answers that witness no head (refusals to senders whose
 * signature did not verify, and answers of nodes older than this check).
 */
#ifndef WITNESS_H
#define WITNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sqlite3;
struct pki_trust;

#define WITNESS_MAX_PROBLEMS 20     /* problems printed one by one; the rest are counted */
#define WITNESS_MAX_IDS 64          /* distinct (name, certificate) pairs the log records */

struct witness_report {
    size_t checked;                 /* this node's answers that witness the log, all compared */
    size_t unwitnessed;             /* this node's answers carrying no head */
    size_t others;                  /* answers of other nodes, skipped */
    size_t problems;                /* witnessed entries missing or different */
    int64_t highest;                /* the highest entry witnessed (an answer's own) */
    int64_t log_end;                /* the log's last entry */
    char node[64];                  /* the node's name(s) compared, comma-separated */
};

/*
 * Check the log in db against the bundles at paths[0..n).  trust: the
 * federation CA, or NULL to trust the certificates the log records.  node:
 * the node's name, or NULL to take it from the log.  Problems go to problems, one line
 * each.  Returns 0 if every witnessed entry is in the log as witnessed, 1 if
 * not (or if no answer of this node in the bundles witnesses the log), -1 with
 * err if a bundle cannot be read or does not verify, or the node is unknown.
 */
int witness_check(struct sqlite3 *db, const struct pki_trust *trust, const char *node,
    char *const *paths, size_t n, FILE *problems, struct witness_report *rep, char *err);

#endif /* !WITNESS_H */
