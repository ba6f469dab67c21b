#!/usr/bin/env bash
# Build the C core: scripts/build.sh [flavor] [build-dir] [extra cmake args...]
# flavor: 5.1 5.2 5.3 5.4 luajit (default 5.4). The module lands at <build-dir>/hubsoft/core.so.
set -euo pipefail
cd "$(dirname "$0")/.."
flavor=${1:-5.4}; dir=${2:-build}; shift $(( $# > 2 ? 2 : $# ))
cmake -S . -B "$dir" -DLUA_FLAVOR="$flavor" "$@" >/dev/null
cmake --build "$dir" -j2 >/dev/null
