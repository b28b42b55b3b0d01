#!/usr/bin/env bash
# Builds everything twice (plain and with ASan+UBSan), runs every suite and ends with one
# line that totals them all: "N passed, N failed". Exit status 0 only when nothing failed.
#   cmocka unit tests (tests/unit)        plain and sanitized builds
#   bounded fuzzers (tests/fuzz)          plain and sanitized builds, SV_FUZZ_SECONDS each (8)
#   busted specs (tests/lua, strategies)  LuaJIT, against the plain libsilvertine.so
#   integration tests (tests/integration) TAP scripts that start what they need
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
BUILD_ASAN=${BUILD_ASAN:-build-asan}
JOBS=${JOBS:-2}
LOGS=$BUILD/test-logs
PASSED=0
FAILED=0

scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

configure_build() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >/dev/null && cmake --build "$dir" -j "$JOBS" 2>&1 | grep -E "error|warning|Error" ; return "${PIPESTATUS[0]}"
}
echo "== build (plain)"
if ! configure_build "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi
echo "== build (address,undefined sanitizers)"
if ! configure_build "$BUILD_ASAN" -DCMAKE_BUILD_TYPE=Debug -DSV_SANITIZE=ON; then
  echo "sanitizer build failed"; echo "0 passed, 1 failed"; exit 1
fi
mkdir -p "$LOGS"

count() { PASSED=$((PASSED + $1)); FAILED=$((FAILED + $2)); }

run_cmocka() { # build dir, label
  local dir=$1 label=$2 bin name out rc p f
  for bin in "$dir"/test_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    out=$LOGS/$label-$name.log
    SV_SOURCE_DIR=$ROOT ASAN_OPTIONS=detect_leaks=1 "$bin" >"$out" 2>&1
    rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$out" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$out" | tail -1)
    p=${p:-0}; f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed or sanitizer report
    count "$p" "$f"
    if [ "$f" -ne 0 ]; then
      echo "FAIL $label $name ($p passed, $f failed) — see $out"; grep -E "ERROR|FAILED|error:|runtime error|Sanitizer" "$out" | head -20
    else
      echo "ok   $label $name ($p passed)"
    fi
  done
}

echo "== cmocka unit tests"
run_cmocka "$BUILD" unit
run_cmocka "$BUILD_ASAN" unit-asan

# bounded fuzzers (tests/fuzz): a fixed seed, a few seconds each in both builds
echo "== fuzzing (bounded)"
for dir in "$BUILD" "$BUILD_ASAN"; do
  for bin in "$dir"/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")-$(basename "$dir")
    out=$LOGS/$name.log
    ASAN_OPTIONS=detect_leaks=1 "$bin" -t "${SV_FUZZ_SECONDS:-8}" -o "$LOGS/$name-failure.lua" >"$out" 2>&1
    if [ $? -eq 0 ]; then count 1 0; echo "ok   $(tail -1 "$out")"
    else count 0 1; echo "FAIL $name — see $out"; tail -20 "$out"; fi
  done
done

echo "== busted specs (LuaJIT)"
out=$LOGS/busted.log
LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;$ROOT/tests/lua/?.lua;;" \
  SV_LIB=$ROOT/$BUILD/libsilvertine.so SV_SOURCE_DIR=$ROOT busted --lua=luajit \
  -o "$ROOT/tests/lua/summary_handler.lua" --pattern=_spec tests/lua strategies >"$out" 2>&1
rc=$?
line=$(grep '^busted totals:' "$out" | tail -1)
p=$(echo "$line" | sed -n 's/.*passed=\([0-9]*\).*/\1/p'); p=${p:-0}
f=$(echo "$line" | sed -n 's/.*failed=\([0-9]*\) errors=\([0-9]*\).*/\1 + \2/p'); f=$((${f:-0}))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
count "$p" "$f"
if [ "$f" -ne 0 ]; then echo "FAIL busted ($p passed, $f failed) — see $out"; sed -n '/Failure\|Error/,+12p' "$out" | head -60
else
  pend=$(echo "$line" | sed -n 's/.*pending=\([0-9]*\).*/\1/p')
  if [ "${pend:-0}" -gt 0 ]; then
    echo "ok   busted ($p passed, $pend skipped:)"; grep -A2 '^Pending ->' "$out" | grep -v '^Pending ->\|^--' | awk 'NR % 2 == 0' | sed 's/^[^ ]*: //' | sort | uniq -c | sed 's/^/       /'
  else echo "ok   busted ($p passed)"; fi
fi

echo "== integration tests"
for t in tests/integration/*.sh; do
  [ -x "$t" ] || continue
  name=$(basename "$t" .sh)
  out=$LOGS/integration-$name.log
  SV_BUILD=$ROOT/$BUILD SV_SOURCE_DIR=$ROOT timeout 600 "$t" >"$out" 2>&1
  rc=$?
  p=$(grep -c '^ok ' "$out"); f=$(grep -c '^not ok ' "$out")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  count "$p" "$f"
  if [ "$f" -ne 0 ]; then echo "FAIL integration $name ($p passed, $f failed) — see $out"; grep -A8 '^not ok' "$out" | head -40
  else echo "ok   integration $name ($p passed)"; fi
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
