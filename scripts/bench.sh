#!/usr/bin/env bash
# Runs every benchmark (build/bench_*), prints their tables and writes build/bench.json: one
# flat JSON object of named numbers. Timing goals live here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
json=$BUILD/bench.json
frags=$(mktemp)
trap 'rm -f "$frags"' EXIT
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
# benchmark data, generated once (deterministic) and kept in the build tree
data=$BUILD/bench-data
mkdir -p "$data"
[ -s "$data/BTCUSDT-trades-10M.csv" ] || "$BUILD/gen_data" --format trades --trades 10000000 --seed 5 --out "$data/BTCUSDT-trades-10M.csv"
for s in "BTCUSDT 42000 0.00001 1" "ETHUSDT 2300 0.0001 2" "BNBUSDT 310 0.001 3"; do
  set -- $s
  [ -s "$data/$1-1m-1y.csv" ] || "$BUILD/gen_data" --minutes 525600 --price "$2" --lot "$3" --seed "$4" --out "$data/$1-1m-1y.csv"
done

run_bench() { # name args...
  local b=$1; shift
  echo "== $(basename "$b")"
  "$b" "$@" 2> >(tee >(grep '^BENCH_JSON ' | sed 's/^BENCH_JSON //' >>"$frags") | grep -v '^BENCH_JSON ' >&2)
}
run_bench "$BUILD/bench_dispatch"
run_bench "$BUILD/bench_redis" # starts its own redis-server on a free port (or uses $SV_REDIS_PORT)
run_bench "$BUILD/bench_risk"
run_bench "$BUILD/bench_reload"
run_bench "$BUILD/bench_backtest" bench/config/environments/bench.yaml "$data/BTCUSDT-trades-10M.csv" \
  "$data/BTCUSDT-1m-1y.csv" "$data/ETHUSDT-1m-1y.csv" "$data/BNBUSDT-1m-1y.csv"
sleep 0.2
{ echo "{"; sed '$!s/$/,/' "$frags" | sed 's/^/  /'; echo "}"; } >"$json"
echo "wrote $json"
