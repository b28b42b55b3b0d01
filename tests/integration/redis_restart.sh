#!/usr/bin/env bash
# redis-server killed with SIGKILL mid-run and restarted with appendonly on: the engine keeps
# trading in-process, buffers, reconnects with backoff and writes every event exactly once, in
# order: (1) a paced paper run with a consumer engine reading live through the outage; (2) a
# run as fast as Redis takes it (a small buffer, overflow block), killed with a full pipeline
# in flight, so some writes were applied and some not when the connection went.
# appendfsync always: an acknowledged write is on disk before Redis answers (with everysec, a
# write acknowledged just before the kill may be lost by Redis itself).
set -u
cd "${SV_SOURCE_DIR:-$(dirname "$0")/../..}"
. tests/integration/tap.sh
. tests/integration/redis_lib.sh
B=${SV_BUILD:-build}
SV=$B/silvertine
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; redis_cleanup; rm -rf "$tmp"' EXIT
cfg=tests/integration/config/environments/redis.yaml
PORT=$(free_port)
AOF=(--appendonly yes --appendfsync always)
redis_start aof "$PORT" "${AOF[@]}" || { echo "not ok 1 - redis-server starts"; exit 1; }
export SV_REDIS_PORT=$PORT
bars() { grep -o 'bar_logger: bar [0-9]*' "$@" | awk '{print $3}'; }
# "count unique first last" of the seq fields of every entry of one writer in {prefix}:*
seqs() {
  /usr/bin/python3 - "$PORT" "$1" <<'EOF'
import sys, redis
r = redis.Redis(port=int(sys.argv[1]), decode_responses=True)
by_src = {}
for s in ["market_data", "signal", "order", "fill", "timer", "alert", "position"]:
    for _, f in r.xrange("{%s}:%s" % (sys.argv[2], s)):
        by_src.setdefault(f["src"], []).append(int(f["seq"]))
# the publisher is the writer with market data: the one with the most entries
q = max(by_src.values(), key=len) if by_src else [0]
print(len(q), len(set(q)), min(q), max(q))
EOF
}
published() { sed -n 's/.*redis writer: [0-9]* events written to .* (\([0-9]*\) published.*/\1/p' "$1"; }

# ---- (1) paced run, a consumer reading live, Redis killed for 1.5 s
SV_SOURCE=redis SV_CONSUMER=live SV_REDIS_PREFIX=r1 "$SV" run -c $cfg --quiet --idle-exit 2 \
  >"$tmp/c.out" 2>"$tmp/c.err" &
pids+=($!)
sleep 0.3
SV_REDIS_PREFIX=r1 "$SV" run -c $cfg --speed 30000 --quiet >"$tmp/p.out" 2>"$tmp/p.err" &
pub=$!
sleep 1.5
redis_kill aof KILL
sleep 1.5
redis_start aof "$PORT" "${AOF[@]}"
wait $pub; rc=$?
expect_eq "paced run through the outage: exit 0" 0 $rc
expect_match "... every bar traded in-process" "done: 2880 events" "$(cat "$tmp/p.out")"
err=$(cat "$tmp/p.err")
expect_match "the outage is logged" "redis writer: 127.0.0.1:$PORT: connection lost \((Server closed the connection|Connection reset by peer)\)" "$err"
expect_match "... and the reconnection, with its length" "redis writer: 127.0.0.1:$PORT: connected again after [0-9.]+ s" "$err"
expect_match "... and counted" "0 not written, 0 dropped, 0 refused, 0 rejected by Redis; 1 outage\(s\)" "$err"
n=$(published "$tmp/p.err")
expect_eq "every event in Redis exactly once, seq 1..$n" "$n $n 1 $n" "$(seqs r1)"
wait "${pids[0]}" 2>/dev/null; rc=$?; pids=()
expect_eq "the consumer rides the outage out: exit 0" 0 $rc
expect_match "... it saw the outage" "redis consumer: 127.0.0.1:$PORT: connection lost" "$(cat "$tmp/c.err")"
expect_eq "... and processed every bar exactly once" "2880 2880" "$(bars "$tmp/c.err" | wc -l) $(bars "$tmp/c.err" | sort -u | wc -l)"

# ---- (2) as fast as Redis takes it; killed with writes in flight
"$B/gen_data" --minutes 20000 --seed 7 --out "$tmp/BTCUSDT-fast.csv" >/dev/null 2>&1
SV_REDIS_PREFIX=r2 SV_REDIS_BUFFER=4096 SV_REDIS_DRAIN_MS=60000 "$SV" run -c $cfg --speed 0 --quiet \
  --data "BTCUSDT=$tmp/BTCUSDT-fast.csv" >"$tmp/f.out" 2>"$tmp/f.err" &
pub=$!
for _ in $(seq 1 100); do [ "$(redis-cli -p "$PORT" XLEN '{r2}:market_data')" -gt 3000 ] && break; sleep 0.02; done
redis_kill aof KILL
sleep 0.8
redis_start aof "$PORT" "${AOF[@]}"
wait $pub; rc=$?
expect_eq "fast run through the outage: exit 0" 0 $rc
expect_match "... every bar traded" "done: 20000 events" "$(cat "$tmp/f.out")"
err=$(cat "$tmp/f.err")
expect_match "writes in flight were checked against the stream" "after the outage: [0-9]+ event\(s\) found written, [0-9]+ sent again" "$err"
expect_match "the trading path waited for room (overflow block), nothing dropped" "0 not written, 0 dropped.* [1-9][0-9]* blocked publish" "$err"
n=$(published "$tmp/f.err")
expect_eq "every event in Redis exactly once, seq 1..$n" "$n $n 1 $n" "$(seqs r2)"

tap_done
