#!/usr/bin/env bash
# The whole suite with the C core built with AddressSanitizer + UBSan (gcc),
# preloaded into the stock lua5.4, then again with an aggressive GC so
# lifetime bugs surface.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh 5.4 build-asan -DHUBSOFT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
asan=$(gcc -print-file-name=libasan.so); ubsan=$(gcc -print-file-name=libubsan.so)
export LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build-asan/?.so;;"
# leaks are checked by valgrind (scripts/check-valgrind.sh): LSan cannot tell the
# interpreter's own exit-time allocations from ours when preloaded
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for gc in normal aggressive; do
  echo "== sanitizers, GC $gc"
  HUBSOFT_TEST_GC=$gc LD_PRELOAD="$asan $ubsan" lua5.4 /usr/bin/busted -o utfTerminal spec
done
