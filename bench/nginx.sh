#!/usr/bin/env bash
# The hubsoft.nginx workload, apart from bench/run.sh's: K concurrent ticket opens
# through nginx (one worker) against a fake HubSoft that answers in 200 ms, the
# blocking client against hubsoft.nginx, and the memory a thread VM costs.
#
#   bash bench/nginx.sh
#   BENCH_K=1,4,16,32 BENCH_THREADS=16 BENCH_ROUNDS=3 BENCH_DELAY=0.2 bash bench/nginx.sh
#
# Needs nginx-light + libnginx-mod-http-lua and the LuaJIT build of the core
# (built here). Prints the Markdown table that bench/README.md records.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${HUBSOFT_SKIP_DEPS:-}" = 1 ] || bash scripts/deps.sh   # nginx-light + libnginx-mod-http-lua among them
bash scripts/build.sh 5.4 build >/dev/null
bash scripts/build.sh luajit build-luajit >/dev/null
export LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;$PWD/?.lua;;"
export LUA_CPATH="$PWD/build/?.so;;"
exec lua5.4 bench/nginx.lua
