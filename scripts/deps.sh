#!/usr/bin/env bash
# Install what lua-hubsoft needs from Debian's packages (Debian 12). Idempotent:
# it skips apt when everything is already there. Set HUBSOFT_DEPS=full for the
# whole CI matrix (every Lua, LuaJIT, nginx, valgrind, clang). Extra package
# names given as arguments are installed too (bench/deps.sh uses that).
set -euo pipefail
base=(build-essential cmake pkg-config lua5.4 liblua5.4-dev libcurl4-openssl-dev lua-cjson
      lua-socket lua-busted openssl ca-certificates)
full=(lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev luajit2 libluajit2-5.1-dev
      valgrind clang clang-format libclang-rt-14-dev lua-check lua-ldoc luarocks nginx-light
      libnginx-mod-http-lua)
pkgs=("${base[@]}")
if [ "${HUBSOFT_DEPS:-base}" = full ]; then pkgs+=("${full[@]}"); fi
pkgs+=("$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
