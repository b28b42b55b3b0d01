#!/usr/bin/env bash
# Several engines on the same Redis streams: one engine publishes market data, two engines
# running strategies in one consumer group split it with each entry processed once; an engine
# stopped and restarted resumes after its last acknowledged entry (and one killed loses
# nothing); entries left pending by a dead consumer are claimed after claim_idle_ms.
# The strategy (tests/integration/strategies/bar_logger.lua) logs one line per bar it sees.
set -u
cd "${SV_SOURCE_DIR:-$(dirname "$0")/../..}"
. tests/integration/tap.sh
. tests/integration/redis_lib.sh
SV=${SV_BUILD:-build}/silvertine
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; redis_cleanup; rm -rf "$tmp"' EXIT
cfg=tests/integration/config/environments/redis.yaml
PORT=$(free_port)
redis_start main "$PORT" || { echo "not ok 1 - redis-server starts"; exit 1; }
export SV_REDIS_PORT=$PORT
rcli() { redis-cli -p "$PORT" "$@"; }
bars() { grep -o 'bar_logger: bar [0-9]*' "$@" | awk '{print $3}'; } # bar close times, in order
consumer() { # name prefix log [args]: a strategy engine reading market data from Redis
  local name=$1 prefix=$2 log=$3; shift 3
  SV_SOURCE=redis SV_CONSUMER=$name SV_REDIS_PREFIX=$prefix "$SV" run -c $cfg --quiet "$@" >"$log.out" 2>"$log.err" &
  pids+=($!)
}
wait_all() { local p rc=0; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || rc=$?; done; pids=(); return $rc; }

# ---- one publisher, two strategy engines in one group
consumer a g1 "$tmp/a" --idle-exit 2
consumer b g1 "$tmp/b" --idle-exit 2
sleep 0.5 # both are blocked in XREADGROUP before the first bar
SV_REDIS_PREFIX=g1 "$SV" run -c $cfg --speed 60000 --quiet >"$tmp/pub.out" 2>"$tmp/pub.err"
expect_eq "the publisher (paced, 1000 bars/s) exits 0" 0 $?
wait_all
expect_eq "both consumers exit 0 once the stream is idle" 0 $?
na=$(bars "$tmp/a.err" | wc -l); nb=$(bars "$tmp/b.err" | wc -l)
expect_eq "together they processed every bar ($na + $nb)" 2880 $((na + nb))
ok_if "each got a share (a: $na, b: $nb)" test "$na" -gt 100 -a "$nb" -gt 100
expect_eq "no bar was processed by both" 0 "$(bars "$tmp/a.err" "$tmp/b.err" | sort | uniq -d | wc -l)"
expect_eq "and those are exactly the published bars" "$(rcli --raw XRANGE '{g1}:market_data' - + | grep -A1 '^ts_exchange$' | grep -v '^ts_exchange$\|^--$' | awk '{print substr($1, 1, 13)}' | sort | md5sum)" \
  "$(bars "$tmp/a.err" "$tmp/b.err" | sort | md5sum)"
expect_eq "nothing left pending in the group" 0 "$(rcli XPENDING '{g1}:market_data' strategies | head -1)"
expect_match "the group read all 2880 entries" "entries-read 2880 lag 0" "$(rcli XINFO GROUPS '{g1}:market_data' | tr '\n' ' ')"
expect_match "consumer a says what it did" "redis consumer: \{g1\}:market_data: $na entries read, $na processed, 0 skipped, $na acknowledged" "$(cat "$tmp/a.err")"
ok_if "the consumers published their own signals to Redis (publisher 144 + theirs)" test "$(rcli XLEN '{g1}:signal')" -gt 144

# ---- stopped (SIGTERM) and restarted: resumes after the last acknowledged entry
SV_REDIS_PREFIX=g2 "$SV" run -c $cfg --speed 60000 --quiet >"$tmp/pub2.out" 2>"$tmp/pub2.err" &
pub=$!
consumer c g2 "$tmp/c1"
sleep 1
kill -TERM "${pids[0]}"
wait_all
expect_eq "SIGTERM: the consumer stops cleanly" 0 $?
expect_match "... mid-stream" "stopped: [0-9]+ events" "$(cat "$tmp/c1.out")"
wait $pub
consumer c g2 "$tmp/c2" --idle-exit 1.5
wait_all
expect_eq "restarted with the same consumer name: exit 0" 0 $?
n1=$(bars "$tmp/c1.err" | wc -l); n2=$(bars "$tmp/c2.err" | wc -l)
expect_eq "the two runs processed every bar once ($n1 + $n2)" "2880 0" "$((n1 + n2)) $(bars "$tmp/c1.err" "$tmp/c2.err" | sort | uniq -d | wc -l)"
last1=$(bars "$tmp/c1.err" | tail -1); first2=$(bars "$tmp/c2.err" | head -1)
expect_eq "the restart began with the bar after the last one acknowledged" $((last1 + 60000)) "$first2"

# ---- killed (SIGKILL) and restarted: nothing lost
SV_REDIS_PREFIX=g3 "$SV" run -c $cfg --speed 60000 --quiet >"$tmp/pub3.out" 2>"$tmp/pub3.err" &
pub=$!
consumer d g3 "$tmp/d1"
sleep 1
kill -KILL "${pids[0]}"
wait_all
wait $pub
consumer d g3 "$tmp/d2" --idle-exit 1.5
wait_all
expect_eq "SIGKILL then restart: exit 0" 0 $?
u=$(bars "$tmp/d1.err" "$tmp/d2.err" | sort -u | wc -l)
dup=$(bars "$tmp/d1.err" "$tmp/d2.err" | sort | uniq -d | wc -l)
expect_eq "no bar lost across the kill" 2880 "$u"
ok_if "at most one batch processed again (at-least-once: $dup)" test "$dup" -le 64
expect_eq "nothing left pending" 0 "$(rcli XPENDING '{g3}:market_data' strategies | head -1)"

# ---- a dead consumer's pending entries are claimed
SV_REDIS_PREFIX=g4 "$SV" run -c $cfg --speed 0 --quiet >/dev/null 2>&1
rcli XGROUP CREATE '{g4}:market_data' strategies 0 >/dev/null
rcli XREADGROUP GROUP strategies ghost COUNT 100 STREAMS '{g4}:market_data' '>' >/dev/null # never acknowledged
expect_eq "a consumer 'ghost' holds 100 pending entries" 100 "$(rcli XPENDING '{g4}:market_data' strategies | head -1)"
SV_CLAIM_MS=300 consumer e g4 "$tmp/e" --idle-exit 1.5
wait_all
expect_eq "the live consumer exits 0" 0 $?
expect_match "it claims them after claim_idle_ms" "claimed [0-9]+ entr(y|ies) idle for more than 300 ms" "$(cat "$tmp/e.err")"
expect_match "... all 100" "entries read, 2880 processed, 0 skipped, 2880 acknowledged, 100 claimed" "$(cat "$tmp/e.err")"
expect_eq "and processes every bar, the claimed ones included" "2880 2880" "$(bars "$tmp/e.err" | wc -l) $(bars "$tmp/e.err" | sort -u | wc -l)"
expect_eq "nothing left pending" 0 "$(rcli XPENDING '{g4}:market_data' strategies | head -1)"

tap_done
