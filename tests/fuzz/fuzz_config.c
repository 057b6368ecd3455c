/*
 * fuzz_config - the two "key = value" files: the node config (config_load)
 * and the statistician's federation file (federation_load), both through
 * lib/kv.c.
 *
 * Each input is written to a scratch directory that also holds a real CA,
 * CRL, two node certificates and a hub's (ca/ca.crt, ca/crl.pem, nodes/N1.crt,
 * nodes/N2.crt, nodes/H.crt; see the seeds), so relative paths in a federation file can
 * reach real certificates and the loader gets past the parser into the
 * certificate and trust checks.  Most mutated inputs fail; that is the
 * point.  Paths are whatever the input says: util_read_file refuses
 * anything but a regular file of bounded size, so /dev and /proc paths
 * cannot hang or exhaust the harness (a FIFO could block in open(); the
 * harness hosts have none).
 *
 * Properties asserted (abort = reported crash): a failure writes a
 * non-empty error; a loaded config has every required key; a loaded
 * federation has 1..FED_MAX_NODES nodes with distinct names and
 * certificates whose name matches, and nodes behind a hub only with a hub
 * whose certificate has role hub.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/federation.h"
#include "node/config.h"
#include "tests/fuzz/fuzz_common.h"

static char conf_path[FUZZ_PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_ca();
    fuzz_path(conf_path, "fuzz.conf");
    return 0;
}

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_config: %s\n", what);
    abort();
}

static void
node_config(void)
{
    char err[FEDRA_ERRLEN] = "";
    struct node_config c;
    if (config_load(conf_path, &c, err) != 0) {
        if (err[0] == 0)
            fail("config_load failed without a message");
    } else if (c.db == NULL || c.listen == NULL || c.cert == NULL || c.key == NULL ||
               c.ca_cert == NULL || c.crl == NULL || c.policy.min_cell < 1 ||
               c.policy.min_cell > DISCLOSE_MAX_MIN_CELL ||
               c.policy.time_grid_days > DISCLOSE_MAX_GRID_DAYS ||
               c.clock_skew_s > CONFIG_MAX_SKEW_S) {
        fail("config_load accepted a config outside its contract");
    }
    config_release(&c);
}

static void
federation(void)
{
    char err[FEDRA_ERRLEN] = "";
    struct federation f;
    if (federation_load(conf_path, &f, err) != 0) {
        if (err[0] == 0)
            fail("federation_load failed without a message");
    } else {
        if (f.nnodes == 0 || f.nnodes > FED_MAX_NODES)
            fail("federation with a bad node count");
        for (size_t i = 0; i < f.nnodes; i++) {
            const struct fed_node *nd = &f.nodes[i];
            const char *cn = pki_cert_name(nd->cert);
            if (federation_find(&f, nd->name) != nd || cn == NULL || strcmp(cn, nd->name) != 0 ||
                strlen(nd->endpoint) > FED_MAX_ENDPOINT)
                fail("federation node outside its contract");
            if (nd->via_hub && f.hub == NULL)
                fail("a node behind a hub in a federation without one");
        }
        if (f.hub != NULL && (pki_cert_role(f.hub->cert) != PKI_ROLE_HUB || f.hub->name == NULL ||
                strlen(f.hub->endpoint) > FED_MAX_ENDPOINT))
            fail("federation hub outside its contract");
    }
    federation_release(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(conf_path, data, size);
    node_config();
    federation();
    return 0;
}
