#!/usr/bin/env bash
# Live reload during paper trading: a strategy file rewritten 100 times, alternating good and
# broken versions, while the engine trades a paced feed. No market event may be missed, no
# position may change, every broken edit is reported with file:line and leaves the running
# version alone, and the version running at the end is the one on disk.
set -u
cd "${SV_SOURCE_DIR:-$(dirname "$0")/../..}"
. tests/integration/tap.sh
SV=$PWD/${SV_BUILD:-build}/silvertine
[ "${SV_BUILD:-}" != "" ] && SV=$SV_BUILD/silvertine
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/config/environments" "$tmp/config/exchanges" "$tmp/config/risk" "$tmp/config/strategies" \
         "$tmp/strategies" "$tmp/data"
cp config/exchanges/sim.yaml "$tmp/config/exchanges/"
printf 'name: default\n' >"$tmp/config/risk/default.yaml"
printf 'name: counter\nfile: strategies/counter.lua\nsymbols: [BTCUSDT]\n' >"$tmp/config/strategies/counter.yaml"
cp tests/integration/data/BTCUSDT-1m-fixture.csv "$tmp/data/"
cat >"$tmp/config/environments/reload.yaml" <<'YAML'
name: reload
mode: paper
exchange: sim
risk: default
strategies: [counter]
data:
  files: [data/BTCUSDT-1m-fixture.csv]
  speed: 600
log:
  level: info
YAML
good() { # version
  cat <<LUA
-- version $1
local S = { version = $1 }
function S.on_start(ctx) ctx.state.bars = 0 end
function S.on_reload(ctx, old) end -- keep ctx.state (the bar count and the order id)
function S.on_bar(ctx, b)
  ctx.state.bars = ctx.state.bars + 1
  if not ctx.state.bought then ctx.state.bought = ctx:buy(b.symbol, 0.01) end
end
function S.on_stop(ctx) ctx:log("bars=%d version=%d", ctx.state.bars, S.version) end
return S
LUA
}
broken() { # version
  printf -- '-- version %s, broken\nlocal S = {\nfunction S.on_bar(ctx, b) end\nreturn S\n' "$1"
}
good 0 >"$tmp/strategies/counter.lua"

(cd "$tmp" && exec "$SV" run -c config/environments/reload.yaml >"$tmp/out" 2>"$tmp/err") &
pid=$!
for _ in $(seq 1 100); do grep -q "FILL" "$tmp/out" 2>/dev/null && break; sleep 0.05; done
for v in $(seq 1 100); do
  if [ $((v % 2)) -eq 1 ]; then broken "$v" >"$tmp/counter.new"; else good "$v" >"$tmp/counter.new"; fi
  # editors replace files by rename: do the same
  mv "$tmp/counter.new" "$tmp/strategies/counter.lua"
  sleep 0.04
done
sleep 0.3
alive=0; kill -0 "$pid" 2>/dev/null && alive=1
expect_eq "the engine is still running after 100 edits" 1 "$alive"
kill -TERM "$pid"
wait "$pid"; rc=$?; pid=
out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
expect_eq "it exits 0" 0 "$rc"
events=$(echo "$out" | sed -n 's/^stopped: \([0-9]*\) events.*/\1/p')
bars=$(echo "$err" | sed -n 's/.*bars=\([0-9]*\) version=.*/\1/p' | tail -1)
version=$(echo "$err" | sed -n 's/.*bars=[0-9]* version=\([0-9]*\).*/\1/p' | tail -1)
ok_if "the run processed events (${events:-none})" test "${events:-0}" -gt 0
expect_eq "no market event was missed: bars seen by the strategy == events replayed" "$events" "$bars"
expect_eq "the version running at the end is the one on disk (100)" 100 "$version"
ok=$(echo "$err" | grep -c "reloaded .*counter.lua")
failed=$(echo "$err" | grep -c "reload failed, the running version stays: .*counter.lua:[0-9]*:")
ok_if "good versions were reloaded ($ok)" test "$ok" -ge 40
ok_if "broken versions were refused with file:line ($failed)" test "$failed" -ge 40
expect_eq "exactly one fill: reloads sent no order and lost no state" 1 "$(echo "$out" | grep -c FILL)"
expect_match "the position is unchanged" "BTCUSDT +qty 0.01 " "$out"
ok_if "the strategy was never disabled" bash -c "! grep -q 'disabled:' '$tmp/err'"
tap_done
