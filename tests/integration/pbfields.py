#!/usr/bin/env python3
# pbfields - read fields of the signed ResponseBody that node NODE sent in round
# ROUND (1-based) of a bundle, straight from the protobuf wire bytes, so a
# test sees what the node sent and not what fedra chose to print.
#   pbfields.py BUNDLE NODE ROUND            field numbers present, one a line
#   pbfields.py BUNDLE NODE ROUND FIELD      that field's value (integer, or hex)
# Field numbers are proto/fedra.proto's (ResponseBody: 4 node, 8 code,
# 9 data_hash, 10 data_rows, 16 audit_seq, 17 audit_head).
import json
import sys


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def fields(b):
    """First occurrence of every field: an int (varint) or bytes."""
    out, i = {}, 0
    while i < len(b):
        key, i = varint(b, i)
        num, typ = key >> 3, key & 7
        if typ == 0:
            v, i = varint(b, i)
        elif typ == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif typ == 1:
            v, i = b[i:i + 8], i + 8
        elif typ == 5:
            v, i = b[i:i + 4], i + 4
        else:
            sys.exit("pbfields: wire type %d at byte %d" % (typ, i))
        out.setdefault(num, v)
    return out


bundle, node, rnd = sys.argv[1], sys.argv[2], int(sys.argv[3])
resp = [r for r in json.load(open(bundle))["rounds"][rnd - 1]["responses"] if r["node"] == node]
if not resp or "envelope" not in resp[0]:
    sys.exit("pbfields: no signed response of %s in round %d of %s" % (node, rnd, bundle))
body = fields(fields(bytes.fromhex(resp[0]["envelope"]))[2])
if len(sys.argv) == 4:
    for k in sorted(body):
        print(k)
else:
    v = body.get(int(sys.argv[4]))
    if v is None:
        sys.exit(1)
    print(v.hex() if isinstance(v, bytes) else v)
