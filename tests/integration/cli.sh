#!/usr/bin/env bash
# The silvertine CLI as a user meets it: help, config check, run, and bad input of each kind.
set -u
cd "${SV_SOURCE_DIR:-$(dirname "$0")/../..}"
. tests/integration/tap.sh
SV=${SV_BUILD:-build}/silvertine
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --help on every command
for c in backtest run replay config kill-switch version; do
  out=$($SV $c --help); rc=$?
  expect_eq "$c --help exits 0" 0 "$rc"
  expect_match "$c --help prints its usage" "^usage: silvertine $c" "$out"
done
out=$($SV --help); expect_match "top-level help lists the commands" "backtest .*run .*replay .*config .*kill-switch .*version" "$(echo $out)"
$SV frobnicate >/dev/null 2>&1; expect_eq "an unknown command exits 2" 2 $?

# config check: valid, resolved, secrets redacted
out=$(BINANCE_API_KEY=supersecretkey123 BINANCE_API_SECRET=anothersecret456 $SV config check -c config/environments/testnet.yaml 2>&1); rc=$?
expect_eq "config check of the testnet config exits 0" 0 "$rc"
expect_match "the resolved config shows the exchange file's content" "rest_url: \"?https://testnet.binance.vision" "$out"
ok_if "the API key never appears" bash -c "! grep -q supersecretkey123 <<<'$out'"
ok_if "the API secret never appears" bash -c "! grep -q anothersecret456 <<<'$out'"
expect_match "secrets print as ***" 'api_key: "\*\*\*"|api_key: \*\*\*' "$out"

# config check: errors name file:line:column and exit 2
mkdir -p "$tmp/config/environments" "$tmp/config/exchanges" "$tmp/config/risk" "$tmp/config/strategies"
cp config/exchanges/sim.yaml "$tmp/config/exchanges/"
cp config/risk/default.yaml "$tmp/config/risk/"
cp config/strategies/sma_cross.yaml "$tmp/config/strategies/"
cat >"$tmp/config/environments/bad.yaml" <<'YAML'
name: bad
mode: backtest
exchange: sim
risk: default
strategies: [sma_cross]
bus:
  backend: reddis
YAML
out=$($SV config check -c "$tmp/config/environments/bad.yaml" 2>&1); rc=$?
expect_eq "a bad enum value exits 2" 2 "$rc"
expect_match "and names file:line:column, key and reason" "bad.yaml:7:12: bus.backend: must be one of memory, redis; got 'reddis'" "$out"
printf 'name: x\nmode: paper\nexchange: ${NOPE_NOT_SET}\nrisk: default\nstrategies: [sma_cross]\n' >"$tmp/config/environments/unset.yaml"
out=$(env -u NOPE_NOT_SET $SV config check -c "$tmp/config/environments/unset.yaml" 2>&1); rc=$?
expect_eq "an unset variable exits 2" 2 "$rc"
expect_match "and names the variable" "unset.yaml:3:11: .*'NOPE_NOT_SET' is not set" "$out"
out=$($SV config check -c "$tmp/nonexistent.yaml" 2>&1); rc=$?
expect_eq "a missing file exits 2" 2 "$rc"
expect_match "and says so" "nonexistent.yaml: cannot open" "$out"
printf 'name: [unclosed\n' >"$tmp/config/environments/broken.yaml"
out=$($SV config check -c "$tmp/config/environments/broken.yaml" 2>&1); rc=$?
expect_eq "malformed YAML exits 2" 2 "$rc"
expect_match "with a YAML syntax error and its place" "broken.yaml:[0-9]+:[0-9]+: YAML syntax error" "$out"

# run (paper): fills from the shipped strategy on the shipped data, deterministic
out1=$($SV run -c config/environments/development.yaml --speed 0 2>/dev/null); rc=$?
expect_eq "run on the shipped data exits 0" 0 "$rc"
expect_match "it prints a line per fill" "2024-01-01 [0-9:]+  FILL  BTCUSDT +BUY  0.01 @ [0-9.]+  fee [0-9.]+ USDT  taker  position 0.01  \(sma_cross, order 1\)" "$out1"
expect_match "and a summary" "done: 10080 events, [1-9][0-9]* orders, [1-9][0-9]* fills, 0 rejects" "$out1"
expect_match "and the final equity" "equity: [0-9.]+ USDT" "$out1"
out2=$($SV run -c config/environments/development.yaml --speed 0 2>/dev/null)
expect_eq "two runs print the same" "$out1" "$out2"
out=$($SV run -c config/environments/backtest.yaml --speed 0 --from 2024-01-03 --to 2024-01-04 2>/dev/null)
expect_match "--from/--to select one day" "done: 1440 events" "$out"

# run: a strategy that raises is disabled alone; the run completes
cat >"$tmp/boom.lua" <<'LUA'
local S = {}
function S.on_bar(ctx, bar)
  if bar.close > 0 then error("boom") end
end
return S
LUA
sed "s|file: strategies/sma_cross.lua|file: $tmp/boom.lua|; s|name: sma_cross|name: boom|" config/strategies/sma_cross.yaml >"$tmp/config/strategies/boom.yaml"
sed -i 's/^params:/#params:/; s/^  fast:/#/; s/^  slow:/#/; s/^  qty:/#/' "$tmp/config/strategies/boom.yaml"
printf 'name: two\nmode: backtest\nexchange: sim\nrisk: default\nstrategies: [sma_cross, boom]\n' >"$tmp/config/environments/two.yaml"
sed -i "s|file: strategies/sma_cross.lua|file: $PWD/strategies/sma_cross.lua|" "$tmp/config/strategies/sma_cross.yaml"
out=$($SV run -c "$tmp/config/environments/two.yaml" --speed 0 --data "BTCUSDT=$PWD/examples/data/BTCUSDT-1m.csv" 2>&1); rc=$?
expect_eq "a run with a failing strategy still exits 0" 0 "$rc"
expect_match "the failing strategy is disabled with file:line" "strategy boom +disabled: on_bar: $tmp/boom.lua:3: boom" "$out"
expect_match "the other keeps running" "strategy sma_cross +running" "$out"

# bad data: the row is named
printf '1704067200000,100,101,99,100,5,1704067259999,500,10,1,100,0\n1704067260000,100,99,101,100,5,1704067319999,500,10,1,100,0\n' >"$tmp/BAD-1m.csv"
out=$($SV run -c config/environments/backtest.yaml --speed 0 --data "BTCUSDT=$tmp/BAD-1m.csv" 2>&1); rc=$?
expect_eq "bad data exits 1" 1 "$rc"
expect_match "naming file:line and the reason" "BAD-1m.csv:2: high < low" "$out"

tap_done
