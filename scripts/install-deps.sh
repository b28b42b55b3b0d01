#!/usr/bin/env bash
# Installs the Debian packages Silvertine needs that are missing. apt-get as root, sudo when
# it is available without a password, otherwise prints the exact command and stops.
set -euo pipefail

PACKAGES=(
  gcc make pkg-config cmake
  libluajit-5.1-dev luajit          # the strategy runtime (JIT, FFI); busted runs on luajit
  dpkg-dev                          # `apt-get source luajit`: scripts/build-luajit.sh, run by CMake
  libuv1-dev                        # the event loop
  libhiredis-dev redis-server       # Redis Streams bus (redis-server for integration tests)
  python3-redis                     # integration tests: a Redis client we did not write reads the streams
  libyaml-dev                       # config files
  libwebsockets-dev libssl-dev      # exchange feeds, API server, HMAC/JWT, TLS
  libsqlite3-dev                    # order/fill store
  lua-cjson lua-busted              # busted specs under LuaJIT
  libcmocka-dev                     # C unit tests
  tzdata                            # time zones: trading hours and loss periods (risk)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq >&2
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: run as root:  sudo sh -c '$cmd'" >&2
  exit 1
fi
