#!/usr/bin/env bash
# The whole suite under valgrind memcheck: fails on any error or on memory
# definitely or indirectly lost.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh 5.4 build
export LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/?.so;;"
log=$(mktemp)
status=0
HUBSOFT_TEST_GC=aggressive valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-leak-kinds=definite,indirect --error-exitcode=99 --log-file="$log" \
  lua5.4 /usr/bin/busted -o utfTerminal spec || status=$?
grep -E "definitely lost|indirectly lost|ERROR SUMMARY" "$log" || true
if [ "$status" -ne 0 ]; then
  echo "valgrind run failed (exit $status)"; tail -60 "$log"; exit 1
fi
