#!/usr/bin/env bash
# Set everything up and run the demo against the bundled fake HubSoft server.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${HUBSOFT_SKIP_DEPS:-}" = 1 ] || bash scripts/deps.sh
bash scripts/build.sh 5.4 build
export LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;"
export LUA_CPATH="build/?.so;;"
exec lua5.4 examples/demo.lua "$@"
