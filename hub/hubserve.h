/*
 * hubserve - the hub daemon: relay sealed queries and answers between
 * analysts and nodes (hub/relay.h) until SIGTERM/SIGINT; SIGHUP reloads the
 * CA, CRL, certificate and limits.  Configured like the node
 * (docs/hub-config.md) and run like it: logs on stderr, one line per event;
 * a state file for `fedra-hub status`; a CRL fetched over HTTP (crl_url).
 *
 * Transport (proto/DESIGN.md "Through a hub"): one ROUTER socket, CURVE server
 * with the transport key the hub's certificate binds.  A ZAP handler accepts
 * any client key and tags the connection with it (User-Id = its hex), so the
 * relay can check that a node's certificate binds the key it connected with.
 * Analysts connect with ephemeral keys: a route is authorised by its
 * signature, not by the transport.  Bounds: ZMQ_MAXMSGSIZE =
 * WIRE_MAX_HUB_FRAME + WIRE_CURVE_OVERHEAD; send and receive high-water marks
 * HUBSERVE_HWM; sends never block (ZMQ_ROUTER_MANDATORY, ZMQ_DONTWAIT): a
 * peer that cannot take a frame now gets BUSY or is dropped, never queued
 * for.
 *
 * Fails closed: the hub refuses to start unless its certificate verifies
 * with role hub (a missing or expired CRL excepted, as for the node, when a
 * CRL can still arrive); while its certificate is unusable, or it holds no
 * current CRL, or its relay log cannot be written, it relays nothing and
 * says so in one log line per change.
 */
#ifndef HUBSERVE_H
#define HUBSERVE_H

#include "hub/relay.h"

#define HUBSERVE_VERSION "fedra-hub 0.1"
#define HUBSERVE_HWM 1024               /* messages queued per peer, each way */
#define HUBSERVE_DRAIN 256              /* messages read per wake-up before other work */
#define HUBSERVE_STATE_EVERY_MS 1000    /* state file rewritten at most this often */
#define HUBSERVE_CHECK_EVERY_MS 1000    /* own certificate and CRL re-checked this often */

/*
 * Run the hub of this config; returns the exit status (0 clean stop, 1 could
 * not start).  A test-only tamper hook (tests/tools/tamperhub.c) may be
 * given; fedra-hub passes NULL.
 */
int hubserve_main(const char *config_path,
    void (*tamper)(void *arg, enum relay_tamper_point at, char *node, struct buf *payload),
    void *tamper_arg);

#endif /* !HUBSERVE_H */
