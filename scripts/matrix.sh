#!/usr/bin/env bash
# The whole spec suite under every Lua: 5.1, 5.2, 5.3, 5.4 and LuaJIT.
# Each flavour is built into its own folder (build-5.1, build-5.2, build-5.3,
# build for 5.4, build-luajit) and busted runs every spec with that
# interpreter and that build. One summary line per interpreter; exits
# non-zero if any of them fails (or is missing).
#   bash scripts/matrix.sh                 # all five
#   bash scripts/matrix.sh lua5.1 luajit   # some of them
# HUBSOFT_SKIP_DEPS=1 skips apt (else scripts/deps.sh installs the full set).
set -uo pipefail
cd "$(dirname "$0")/.."
[ "${HUBSOFT_SKIP_DEPS:-}" = 1 ] || HUBSOFT_DEPS=full bash scripts/deps.sh || exit 1

interpreters=("$@")
[ "${#interpreters[@]}" -gt 0 ] || interpreters=(lua5.1 lua5.2 lua5.3 lua5.4 luajit)

logdir=$(mktemp -d "${TMPDIR:-/tmp}/hubsoft-matrix.XXXXXX")
summary=()
failed=0

for lua in "${interpreters[@]}"; do
  case "$lua" in
    luajit) flavor=luajit; dir=build-luajit ;;
    lua5.4) flavor=5.4; dir=build ;;
    lua5.[123]) flavor=${lua#lua}; dir=build-$flavor ;;
    *) echo "unknown interpreter: $lua" >&2; exit 2 ;;
  esac
  log="$logdir/$lua.log"
  echo "=== $lua ($dir) ==="
  if ! command -v "$lua" >/dev/null 2>&1; then
    summary+=("$(printf '%-8s MISSING: %s is not installed' "$lua" "$lua")"); failed=1; continue
  fi
  if ! bash scripts/build.sh "$flavor" "$dir" >"$log" 2>&1; then
    cat "$log"
    summary+=("$(printf '%-8s BUILD FAILED (%s, log %s)' "$lua" "$dir" "$log")"); failed=1; continue
  fi
  # Each interpreter sees only its own build (and the repository's Lua files).
  LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="$dir/?.so;;" \
    busted --lua="$lua" -o TAP ${BUSTED_ARGS:-} spec >"$log" 2>&1
  rc=$?
  # TAP: "ok N ...", "not ok N ...", "# SKIP" for pending ones.
  pass=$(grep -cE '^ok [0-9]+' "$log"); fail=$(grep -cE '^not ok [0-9]+' "$log")
  skip=$(grep -cE '^ok [0-9]+.*# SKIP' "$log"); pass=$((pass - skip))
  if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ] || [ $((pass + fail)) -eq 0 ]; then
    grep -E -A12 '^not ok [0-9]+' "$log" | head -200
    [ "$fail" -ne 0 ] || tail -40 "$log"
    line=$(printf '%-8s FAIL  %4d passed, %3d failed, %3d pending  (exit %d, log %s)' \
      "$lua" "$pass" "$fail" "$skip" "$rc" "$log")
    failed=1
  else
    line=$(printf '%-8s ok    %4d passed, %3d failed, %3d pending' "$lua" "$pass" "$fail" "$skip")
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "=== matrix summary ==="
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "matrix: FAILED (logs in $logdir)"; exit 1
fi
rm -rf "$logdir"
echo "matrix: all interpreters passed"
