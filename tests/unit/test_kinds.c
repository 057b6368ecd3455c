/*
 * test_kinds - every query kind of the wire has a row on both sides.
 *
 * The wire's Kind enum (proto/fedra.proto) is walked through protobuf-c's
 * descriptor, so a kind added to the protocol without its node row
 * (node/kind.h: execute, release, sets) or its coordinator row
 * (coord/kind.h: check, report) fails here, instead of being refused as
 * "unsupported" by every node or merged unchecked by fedra.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "coord/kind.h"
#include "node/kind.h"
#include "proto/wire.h"

static void
every_wire_kind_has_a_node_row(void **state)
{
    (void)state;
    const ProtobufCEnumDescriptor *d = &fedra__kind__descriptor;
    assert_true(d->n_values >= 7);      /* UNSPECIFIED, COUNT, PING, KM, LOGRANK, COX, GLM */
    for (unsigned i = 0; i < d->n_values; i++) {
        int k = d->values[i].value;
        const struct node_kind *row = node_kind_get(k);
        if (k == FEDRA__KIND__KIND_UNSPECIFIED) {
            assert_null(row);
            continue;
        }
        if (row == NULL)
            fail_msg("wire kind %s (%d) has no node row (node/kind.c)", d->values[i].name, k);
        assert_int_equal(row->kind, k);
        if (row->execute == NULL || row->release == NULL || row->sets == NULL)
            fail_msg("node row of %s lacks execute, release or its auditor sets",
                d->values[i].name);
    }
}

static void
every_wire_kind_has_a_coordinator_row(void **state)
{
    (void)state;
    const ProtobufCEnumDescriptor *d = &fedra__kind__descriptor;
    for (unsigned i = 0; i < d->n_values; i++) {
        int k = d->values[i].value;
        const struct coord_kind *row = coord_kind_get(k);
        if (k == FEDRA__KIND__KIND_UNSPECIFIED) {
            assert_null(row);
            continue;
        }
        if (row == NULL)
            fail_msg("wire kind %s (%d) has no coordinator row (coord/kind.c)",
                d->values[i].name, k);
        assert_int_equal(row->kind, k);
        if (row->check == NULL || row->report == NULL)
            fail_msg("coordinator row of %s lacks its check or its report", d->values[i].name);
    }
}

static void
unknown_kinds_have_no_row(void **state)
{
    (void)state;
    assert_null(node_kind_get(-1));
    assert_null(node_kind_get(1000));
    assert_null(coord_kind_get(-1));
    assert_null(coord_kind_get(1000));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_wire_kind_has_a_node_row),
        cmocka_unit_test(every_wire_kind_has_a_coordinator_row),
        cmocka_unit_test(unknown_kinds_have_no_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
