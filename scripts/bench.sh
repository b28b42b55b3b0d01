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
for b in "$BUILD"/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" 2> >(tee >(grep '^BENCH_JSON ' | sed 's/^BENCH_JSON //' >>"$frags") | grep -v '^BENCH_JSON ' >&2)
done
sleep 0.2
{ echo "{"; sed '$!s/$/,/' "$frags" | sed 's/^/  /'; echo "}"; } >"$json"
echo "wrote $json"
