#!/usr/bin/python3
"""Reads what the engine wrote to Redis with Debian's python3-redis (a client Silvertine did
not write) and checks it against the fields the engine says it wrote.

  redis_read.py PORT PREFIX EXPECT.jsonl

EXPECT has one JSON line per published event, in publish order: {"stream": S, "fields": {...}}
(tests/integration/redis_check.c --expect). Every stream {PREFIX}:S must hold exactly those
entries, in that order, with exactly those fields (plus `src`). Prints one line and exits 0
when everything matches."""
import json
import sys

import redis

port, prefix, expect = int(sys.argv[1]), sys.argv[2], sys.argv[3]
r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
want = {}
with open(expect, encoding="utf-8") as f:
    for line in f:
        e = json.loads(line)
        want.setdefault(e["stream"], []).append(e["fields"])
total, srcs = 0, set()
for stream, entries in want.items():
    got = r.xrange("{%s}:%s" % (prefix, stream))
    if len(got) != len(entries):
        sys.exit("%s: %d entries, expected %d" % (stream, len(got), len(entries)))
    for (entry_id, fields), exp in zip(got, entries):
        srcs.add(fields.pop("src", None))
        if fields != exp:
            diff = {k: (fields.get(k), exp.get(k)) for k in set(fields) | set(exp) if fields.get(k) != exp.get(k)}
            sys.exit("%s %s: fields differ (got, expected): %s" % (stream, entry_id, diff))
        if list(fields)[:2] != ["kind", "seq"]:
            sys.exit("%s %s: fields do not start with kind, seq" % (stream, entry_id))
        total += 1
if len(srcs) != 1 or None in srcs:
    sys.exit("expected one writer id in `src`, got %s" % sorted(map(str, srcs)))
print("python3-redis read %d entries in %d streams, all as written" % (total, len(want)))
