#!/usr/bin/env bash
# Protective orders from a strategy config's `protect:` section, end to end through the CLI: a
# trailing stop closes the position of a strategy that was disabled long before, and a bad
# section is a config error naming file:line:column.
set -u
cd "${SV_SOURCE_DIR:-$(dirname "$0")/../..}"
. tests/integration/tap.sh
SV=${SV_BUILD:-build}/silvertine
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/config/environments" "$tmp/config/exchanges" "$tmp/config/risk" "$tmp/config/strategies"
cp config/exchanges/sim.yaml "$tmp/config/exchanges/"
cp config/risk/default.yaml "$tmp/config/risk/"
cat >"$tmp/once.lua" <<'LUA'
local S = {}
function S.on_bar(ctx, bar)
  ctx.state.n = (ctx.state.n or 0) + 1
  if ctx.state.n == 1 then ctx:buy(bar.symbol, 0.01) end
  if ctx.state.n == 3 then error("gone") end
end
return S
LUA
printf 'name: p\nmode: backtest\nexchange: sim\nrisk: default\nstrategies: [once]\n' >"$tmp/config/environments/p.yaml"
strategy() { printf 'name: once\nfile: %s\nsymbols: [BTCUSDT]\nprotect:\n%b\n' "$tmp/once.lua" "$1" >"$tmp/config/strategies/once.yaml"; }
run() { $SV run -c "$tmp/config/environments/p.yaml" --speed 0 --data "BTCUSDT=$PWD/examples/data/BTCUSDT-1m.csv" 2>&1; }

strategy "  trailing_pct: 0.5"
out=$(run); rc=$?
expect_eq "a run with a protected strategy exits 0" 0 "$rc"
expect_match "the strategy buys" "2024-01-01 00:01:00  FILL  BTCUSDT +BUY  0.01 @ 41958.38 .*\(once, order 1\)" "$out"
expect_match "then raises and is disabled" "strategy once: disabled: on_bar: .*once.lua:5: gone" "$out"
expect_match "the trailing stop fires from C" "trailing_stop: strategy once BTCUSDT long 0.01 \(entry 41958.38\): price 41775.7118 crossed 41775.7118 \(0.5% from the best price 41985.64\); sell 0.01 at market, order 2" "$out"
expect_match "and its exit fills at the next open, flat" "2024-01-01 00:24:00  FILL  BTCUSDT +SELL 0.01 @ 41764.38 .*position 0  \(once, order 2\)" "$out"
expect_match "the strategy stays disabled" "strategy once +disabled" "$out"
expect_match "nothing is left open" "BTCUSDT +qty 0 " "$out"

strategy "  take_profit_pct: [1, 2, 3, 4, 5]"
out=$(run); rc=$?
expect_eq "five take-profit levels exit 2" 2 "$rc"
expect_match "naming the place" "once.yaml:5:20: protect.take_profit_pct: at most 4 levels" "$out"
strategy "  take_profit_pct: [1, 2]\n  take_profit_fraction: [0.7, 0.5]"
out=$(run); rc=$?
expect_eq "fractions over the whole position exit 2" 2 "$rc"
expect_match "naming the place" "once.yaml:6:25: protect: take_profit_fraction levels add up to 1.2, more than the whole position" "$out"
strategy "  stop_loss_pct: 100"
out=$(run); rc=$?
expect_eq "a stop at 100 % exits 2" 2 "$rc"
expect_match "naming the place" "once.yaml:5:18: protect.stop_loss_pct: must be > 0 and < 100, got 100" "$out"
strategy "  trailing_pct: 1\n  stop_los_pct: 2"
out=$(run); rc=$?
expect_eq "a misspelt key exits 2" 2 "$rc"
expect_match "naming it" "once.yaml:6:3: protect: unknown key 'stop_los_pct'" "$out"

tap_done
