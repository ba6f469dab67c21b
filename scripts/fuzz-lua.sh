#!/usr/bin/env bash
# The Lua-level fuzzer (fuzz/lua/) under AddressSanitizer + UBSan, on Lua 5.4
# and LuaJIT: scripts/fuzz-lua.sh [SECONDS] [SEED]
#
# SECONDS (default 60) per interpreter; SEED (default random, printed) makes
# the run repeatable. Each interpreter first replays fuzz/lua/regressions/,
# then fuzzes against the fake server. A failure prints the seed and the
# smallest case that reproduces it, ready to paste into fuzz/lua/regressions/.
# Known findings (fuzz/lua/known.lua) are skipped; HUBSOFT_FUZZ_NO_SKIP=1
# runs them too. FUZZ_LUA_INTERPRETERS="lua5.4 luajit" chooses the interpreters.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
seed=${2:-$(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 2147483000 ))}
echo "fuzz-lua: seed $seed, $seconds s per interpreter (replay: scripts/fuzz-lua.sh $seconds $seed)"

asan=$(gcc -print-file-name=libasan.so); ubsan=$(gcc -print-file-name=libubsan.so)
export LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;"
# leaks: see scripts/check-sanitize.sh (LSan cannot tell the interpreter's own
# exit-time allocations from ours when preloaded; valgrind checks leaks)
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

for interp in ${FUZZ_LUA_INTERPRETERS:-lua5.4 luajit}; do
  case $interp in
    luajit) flavor=luajit; dir=build-asan-luajit ;;
    lua5.4) flavor=5.4; dir=build-asan ;;  # the one scripts/check-sanitize.sh builds
    lua5.[123]) flavor=${interp#lua}; dir=build-asan-$flavor ;;
    *) echo "fuzz-lua: unknown interpreter $interp"; exit 2 ;;
  esac
  bash scripts/build.sh "$flavor" "$dir" -DHUBSOFT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  export LUA_CPATH="$dir/?.so;;"
  echo "== $interp: regressions"
  if ! LD_PRELOAD="$asan $ubsan" "$interp" fuzz/lua/run.lua --regressions; then status=1; fi

  echo "== $interp: fuzzing $seconds s"
  log=$work/$interp.log; case_file=$work/$interp-case.lua
  rc=0
  LD_PRELOAD="$asan $ubsan" "$interp" fuzz/lua/run.lua --seconds "$seconds" --seed "$seed" \
    --case-file "$case_file" >"$log" 2>"$log.err" || rc=$?
  grep '^fuzz:' "$log" | grep -v 'smallest' || true
  # no secret of the config and no token may reach the output either
  if grep -a -n -E 's3nh@-Secreta!|fake-client-secret-XYZ|(tok|ref)-[0-9]+-[0-9a-f]{8}' "$log" "$log.err" | head -3 | grep .; then
    echo "fuzz-lua: a secret appeared in the output ($interp, seed $seed)"
    status=1
  fi
  if [ "$rc" -ne 0 ]; then
    status=1
    cat "$log"
    if [ -s "$case_file" ]; then
      # the process died mid-case (a sanitizer report or a signal): shrink that case
      grep -a -E 'ERROR: AddressSanitizer|runtime error|SUMMARY' "$log.err" | head -5 || true
      echo "fuzz-lua: $interp died on a case (exit $rc, seed $seed); shrinking it"
      LD_PRELOAD="$asan $ubsan" "$interp" fuzz/lua/run.lua --shrink "$case_file" || true
    fi
  fi
done
if [ "$status" -ne 0 ]; then echo "fuzz-lua: FAILED (seed $seed)"; exit 1; fi
echo "fuzz-lua: all interpreters passed (seed $seed)"
