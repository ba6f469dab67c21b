#!/usr/bin/env bash
# Set everything up and run the whole spec suite (Lua 5.4 unless LUA=...).
#   bash scripts/test.sh              # lua5.4
#   LUA=luajit bash scripts/test.sh   # or lua5.1, lua5.2, lua5.3
set -euo pipefail
cd "$(dirname "$0")/.."
lua=${LUA:-lua5.4}
case "$lua" in luajit) flavor=luajit ;; *) flavor=${lua#lua} ;; esac
[ "${HUBSOFT_SKIP_DEPS:-}" = 1 ] || bash scripts/deps.sh
dir=${BUILD_DIR:-build-$flavor}; [ "$flavor" = 5.4 ] && dir=${BUILD_DIR:-build}
bash scripts/build.sh "$flavor" "$dir" ${CMAKE_ARGS:-}
export LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;"
export LUA_CPATH="$dir/?.so;;"
exec busted --lua="$lua" -o utfTerminal ${BUSTED_ARGS:-} spec
