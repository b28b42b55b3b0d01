#!/usr/bin/env bash
# `silvertine run` (paper trading): paced replay, a line per fill, and a clean shutdown on
# SIGTERM and SIGINT: the replay stops, open orders are canceled, positions and PnL printed.
set -u
cd "${SV_SOURCE_DIR:-$(dirname "$0")/../..}"
. tests/integration/tap.sh
SV=${SV_BUILD:-build}/silvertine
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
cfg=tests/integration/config/environments/paper.yaml

for sig in TERM INT; do
  $SV run -c $cfg >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  # wait (bounded) until the strategy has its position and its resting order
  for _ in $(seq 1 100); do grep -q "FILL" "$tmp/out" && break; sleep 0.1; done
  sleep 0.5
  alive=0; kill -0 "$pid" 2>/dev/null && alive=1
  expect_eq "SIG$sig: the paced run is still going after its first fill" 1 "$alive"
  kill -$sig "$pid"
  wait "$pid"; rc=$?; pid=
  out=$(cat "$tmp/out")
  expect_eq "SIG$sig: exits 0" 0 "$rc"
  expect_match "SIG$sig: prints the fill" "FILL  BTCUSDT +BUY  0.01 @ [0-9.]+ .*position 0.01  \(rester, order 1\)" "$out"
  expect_match "SIG$sig: says it stopped" "stopping: replay interrupted" "$out"
  expect_match "SIG$sig: cancels the resting order" "canceled 1 open order" "$out"
  expect_match "SIG$sig: prints the final position" "BTCUSDT +qty 0.01 +avg [0-9.]+ +realized 0 " "$out"
  expect_match "SIG$sig: prints the equity" "equity: [0-9.]+ USDT" "$out"
  expect_match "SIG$sig: stopped before the end of the data" "stopped: [0-9]+ events" "$out"
  n=$(echo "$out" | sed -n 's/^stopped: \([0-9]*\) events.*/\1/p')
  ok_if "SIG$sig: well before the 2880 bars ($n)" test "${n:-99999}" -lt 2880
done

tap_done
