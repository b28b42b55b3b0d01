#!/usr/bin/env bash
# Builds the LuaJIT that Silvertine links: Debian's own LuaJIT source package, compiled with
# -DLUAJIT_ENABLE_CHECKHOOK so that JIT-compiled traces test the hook mask. Without it a hook
# set by the CPU watchdog never stops a compiled `while true do end` (LuaJIT runs no hooks
# inside traces). The result is cached in the build tree, never kept in the repository:
#
#   scripts/build-luajit.sh [DEST]     DEST defaults to build/luajit
#     DEST-src/          `apt-get source luajit`, unpacked and built in place
#     DEST/lib/libluajit.a, DEST/include/*.h, DEST/bin/luajit, DEST/VERSION
#
# It does nothing when DEST/VERSION names the current recipe. The source comes through apt: when no deb-src
# entry is configured, one is added in its own file (/etc/apt/sources.list.d/
# silvertine-deb-src.sources) for the suites the binary entries already name, so the
# `apt-get update` that follows keeps every binary list. That needs root (or sudo without a
# password); otherwise the script prints the commands and exits 1, and CMake falls back to
# Debian's libluajit with a warning. Exit status: 0 built or cached, 1 not possible.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-build/luajit}
case $DEST in /*) ;; *) DEST=$PWD/$DEST ;; esac
SRC=$DEST-src
FLAGS="-DLUAJIT_ENABLE_CHECKHOOK"
RECIPE="checkhook+itern-fix+pattern-stop+trace-oom-fix" # change it to rebuild every cached copy

say() { echo "build-luajit: $*" >&2; }

current() { [ -f "$DEST/lib/libluajit.a" ] && grep -qs " $RECIPE\$" "$DEST/VERSION"; }
current && exit 0
# one build at a time (several build trees configure against the same cache)
mkdir -p "$(dirname "$DEST")"
exec 9>"$DEST.lock"
flock 9
current && exit 0

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 126
  fi
}

# deb-src entries mirroring the binary ones of this release (deb822 and one-line formats)
deb_src_entries() {
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v code="$codename" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && uris != "" && suites ~ ("(^| )" code)) {
          printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n", uris, suites, comps
          if (signed != "") printf "Signed-By: %s\n", signed
          printf "\n"
        }
        types = uris = suites = comps = signed = ""
      }
      /^[ \t]*$/ { flush(); next }
      /^#/ { next }
      /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
      /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
      /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
      /^Components:/ { sub(/^Components:[ \t]*/, ""); comps = $0 }
      /^Signed-By:/ { sub(/^Signed-By:[ \t]*/, ""); signed = $0 }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v code="$codename" '$1 == "deb" && $0 ~ ("[ \t]" code "[-/ \t]") {
      line = $0; sub(/^deb/, "deb-src", line); print "# " line }' "$f"
  done
}

have_source() { apt-cache showsrc luajit 2>/dev/null | grep -q '^Package: luajit'; }

fetch_source() {
  if [ -d "$SRC" ] && ls "$SRC"/luajit-*/src/luajit.h >/dev/null 2>&1; then
    return 0
  fi
  if ! command -v dpkg-source >/dev/null 2>&1; then
    say "dpkg-source is missing: install the Debian package 'dpkg-dev'"
    return 1
  fi
  if ! have_source; then
    local list=/etc/apt/sources.list.d/silvertine-deb-src.sources entries
    entries=$(deb_src_entries)
    # one-line entries come out commented; turn them into a .list of their own
    local lines
    lines=$(printf '%s\n' "$entries" | sed -n 's/^# deb-src /deb-src /p')
    entries=$(printf '%s\n' "$entries" | grep -v '^# deb-src ' || true)
    if [ -z "$entries$lines" ]; then
      say "no Debian binary source entries found to mirror as deb-src"
      return 1
    fi
    say "adding deb-src entries ($list) and running apt-get update (binary lists are kept)"
    if ! { [ -z "$entries" ] || printf '%s\n' "$entries" | as_root tee "$list" >/dev/null; } ||
       ! { [ -z "$lines" ] || printf '%s\n' "$lines" | as_root tee "${list%.sources}.list" >/dev/null; }; then
      say "need root to add a deb-src entry. Run as root:"
      say "  scripts/build-luajit.sh $DEST"
      return 1
    fi
    as_root apt-get update -qq >&2 || { say "apt-get update failed"; return 1; }
    have_source || { say "apt-get update did not make the luajit source package visible"; return 1; }
  fi
  rm -rf "$SRC"
  mkdir -p "$SRC"
  say "fetching Debian's luajit source package into $SRC"
  if ! (cd "$SRC" && apt-get source -qq luajit >"$SRC.fetch.log" 2>&1); then
    cat "$SRC.fetch.log" >&2
    say "apt-get source luajit failed"
    return 1
  fi
  ls "$SRC"/luajit-*/src/luajit.h >/dev/null 2>&1 || { say "unpacked source not found in $SRC"; return 1; }
}

fetch_source || exit 1
dir=$(ls -d "$SRC"/luajit-*/ | head -1)
dir=${dir%/}

# Bookworm's snapshot (2022-03) predates upstream's fix of the ITERN loop detection with hook
# checks (LuaJIT commit d4b6bb80, 2022-06): the check emits 3 IR instructions at the start of
# every trace, so the recorder took the first ITERN of a pairs() loop for the loop's end and
# the compiled loop spun forever without advancing. The same correction, made here: the first
# instruction recorded after the check is at REF_FIRST+3, not REF_FIRST.
rec=$dir/src/lj_record.c
if grep -q 'J->cur.nins > REF_FIRST+1 ||' "$rec"; then
  sed -i -e 's/J->cur\.nins > REF_FIRST+1 ||/J->cur.nins > REF_FIRST+4 ||/' \
         -e 's/(J->cur\.nins == REF_FIRST+1 \&\& J->cur\.ir\[REF_FIRST\]\.o != IR_PROF)/(J->cur.nins == REF_FIRST+4 \&\& J->cur.ir[REF_FIRST+3].o != IR_PROF)/' \
         "$rec"
  if ! grep -q 'J->cur.ir\[REF_FIRST+3\].o != IR_PROF' "$rec"; then
    say "could not correct the ITERN loop detection in $rec"
    exit 1
  fi
  say "corrected the ITERN loop detection for hook checks (upstream d4b6bb80)"
elif ! grep -q 'ref += 3;\|J->cur.ir\[REF_FIRST+3\].o != IR_PROF' "$rec"; then
  say "unknown lj_record.c: neither the 2022-03 ITERN loop detection nor upstream's fix; refusing to build"
  exit 1
fi

# A memory error raised inside a compiled trace (the memory cap makes that an everyday event:
# a table made in a loop past the cap) read the Lua frame from a stale L->base and crashed the
# process. Upstream restores the base from jit_base first (LuaJIT commits 2d8300c1 and
# d5bbf9cd, 2023); the same two lines, in lj_err_mem and in err_msgv.
err=$dir/src/lj_err.c
restore='  if (LJ_HASJIT) { TValue *base = tvref(G(L)->jit_base); if (base) L->base = base; }  /* on-trace error */'
if ! grep -q 'jit_base); if (base) L->base = base; }' "$err"; then
  if [ "$(grep -c '^    lj_vm_unwind_c(L->cframe, LUA_ERRMEM);$' "$err")" != 1 ] ||
     [ "$(grep -c '^  if (curr_funcisL(L)) L->top = curr_topL(L);$' "$err")" != 1 ]; then
    if grep -q 'TValue \*base = tvref(G(L)->jit_base);' "$err"; then
      say "lj_err.c already restores the frame of on-trace errors"
    else
      say "unknown lj_err.c: cannot add the on-trace error fix; refusing to build"
      exit 1
    fi
  else
    sed -i -e "/^    lj_vm_unwind_c(L->cframe, LUA_ERRMEM);\$/a\\
$restore" -e "/^  if (curr_funcisL(L)) L->top = curr_topL(L);\$/i\\
$restore" "$err"
    [ "$(grep -c 'jit_base); if (base) L->base = base; }' "$err")" = 2 ] ||
      { say "could not add the on-trace error fix to $err"; exit 1; }
    say "restored the frame of on-trace memory and runtime errors (upstream 2d8300c1, d5bbf9cd)"
  fi
fi

# String patterns run in C, where no hook fires: ("a"):rep(1e5):find(".-.-b") would run for
# hours past any CPU budget. The matcher already stops a pattern that recurses too deep; it
# also stops ("pattern too complex") once a count hook is armed, which in Silvertine means the
# CPU watchdog is stopping the call. The hook then fires at the next instruction.
lib=$dir/src/lib_string.c
if grep -q '^  if (++ms->depth > LJ_MAX_XLEVEL)$' "$lib"; then
  sed -i 's/^  if (++ms->depth > LJ_MAX_XLEVEL)$/  if (++ms->depth > LJ_MAX_XLEVEL || (G(ms->L)->hookmask \& LUA_MASKCOUNT))/' "$lib"
fi
if ! grep -q 'LJ_MAX_XLEVEL || (G(ms->L)->hookmask & LUA_MASKCOUNT)' "$lib"; then
  say "could not make the string matcher stoppable in $lib"
  exit 1
fi
say "building $(basename "$dir") with $FLAGS (static, PIC)"
# PIC: the static library also goes into libsilvertine.so. CCDEBUG keeps symbols for gdb.
make -C "$dir" -s clean >/dev/null 2>&1 || true
if ! make -C "$dir" BUILDMODE=static XCFLAGS="$FLAGS" CFLAGS="-fPIC" CCDEBUG="-g" \
     PREFIX=/usr amalg >"$SRC/build.log" 2>&1; then
  tail -30 "$SRC/build.log" >&2
  say "make failed in $dir (log: $SRC/build.log)"
  exit 1
fi
# assembled aside and renamed into place: a build tree never sees half a copy
rm -rf "$DEST.new"
mkdir -p "$DEST.new/lib" "$DEST.new/include" "$DEST.new/bin"
cp "$dir/src/libluajit.a" "$DEST.new/lib/"
cp "$dir/src/luajit" "$DEST.new/bin/"
for h in lua.h lualib.h lauxlib.h luaconf.h lua.hpp luajit.h; do cp "$dir/src/$h" "$DEST.new/include/"; done
printf '%s %s %s\n' "$(basename "$dir")" "$FLAGS" "$RECIPE" >"$DEST.new/VERSION"
rm -rf "$DEST.old"
[ -d "$DEST" ] && mv "$DEST" "$DEST.old"
mv "$DEST.new" "$DEST"
rm -rf "$DEST.old"
say "done: $DEST ($(cat "$DEST/VERSION"))"
