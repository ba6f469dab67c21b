#!/usr/bin/env bash
# Build the libFuzzer targets (clang) into build-fuzz and run each for a while.
#   scripts/fuzz.sh [target ...]        (default: all five)
# Environment:
#   FUZZ_SECONDS   seconds of fuzzing per target (default 60)
#   FUZZ_FRESH=1   start from the committed seeds only (drop build-fuzz/corpus-work)
#   FUZZ_ARGS      extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
# Per target: replays fuzz/regressions/<target>/ (strict), then fuzzes a scratch
# copy of fuzz/corpus/<target>/ in build-fuzz/corpus-work/<target> (so new inputs
# never land in the repo). Crash inputs go to
# build-fuzz/artifacts/<target>/, logs to build-fuzz/logs/. Exits non-zero if any
# target crashed, including on a regression input.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

secs=${FUZZ_SECONDS:-60}
build="build-fuzz"
all=(fuzz_url fuzz_scrub fuzz_multipart fuzz_json fuzz_config)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi
start=$(date +%s)

if ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang not found (the fuzz targets need clang with libclang-rt)" >&2
  exit 2
fi
mkdir -p "$build/logs"
blog="$build/logs/build.log"
if ! CC=clang cmake -S . -B "$build" -DHUBSOFT_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >"$blog" 2>&1 ||
   ! cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >>"$blog" 2>&1; then
  tail -n 30 "$blog" >&2
  echo "fuzz.sh: build failed (full log: $blog)" >&2
  exit 2
fi

failed=0
summary=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/$t"
  work="$build/corpus-work/$t"
  art="$build/artifacts/$t/"
  log="$build/logs/$t.log"
  [ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$work"
  mkdir -p "$work" "$art"
  cp -p fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  # the config target prints a verify_tls warning per client: keep its stderr
  # closed (libFuzzer and sanitizer reports still get through)
  extra=()
  [ "$t" = fuzz_config ] && extra+=(-close_fd_mask=2)

  regs=()
  for f in "fuzz/regressions/$t"/*; do
    case "$f" in *.md) ;; *) [ -f "$f" ] && regs+=("$f") ;; esac
  done
  if [ ${#regs[@]} -gt 0 ]; then
    nreg=0 nbad=0 bad=()
    for f in "${regs[@]}"; do
      nreg=$((nreg + 1))
      if ! "$bin" -rss_limit_mb=2048 -timeout=25 -artifact_prefix="$build/artifacts/regressions-$t-" "$f" >"$build/logs/$t.regression.$(basename "$f").log" 2>&1; then
        nbad=$((nbad + 1)); bad+=("$(basename "$f")")
      fi
    done
    if [ "$nbad" -gt 0 ]; then
      reg="$nbad/$nreg FAIL (${bad[*]})"
      failed=1
    else
      reg="$nreg ok"
    fi
  else
    reg="none"
  fi

  # shellcheck disable=SC2086
  "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 \
    -print_final_stats=1 -artifact_prefix="$art" "${extra[@]}" ${FUZZ_ARGS:-} "$work" >"$log" 2>&1
  rc=$?
  stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
  [ -n "$runs" ] || runs=$(printf '%s' "$stats" | grep -oE '^#[0-9]+' | tr -d '#')
  cov=$(printf '%s' "$stats" | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+')
  ft=$(printf '%s' "$stats" | grep -oE 'ft: [0-9]+' | grep -oE '[0-9]+')
  corp=$(printf '%s' "$stats" | grep -oE 'corp: [0-9]+' | grep -oE '[0-9]+')
  eps=$(printf '%s' "$stats" | grep -oE 'exec/s: [0-9]+' | grep -oE '[0-9]+')
  if [ "$rc" -eq 0 ]; then
    status=OK
  else
    newest=$(find "$art" -maxdepth 1 -type f -printf '%T@ %p\n' | sort -rn | head -n 1 | cut -d' ' -f2-)
    status="CRASH (rc=$rc, ${newest:-no artifact}; see $log)"
    failed=1
  fi
  summary+=("$(printf '%-15s %s  runs=%s cov=%s ft=%s corpus=%s exec/s=%s  regressions: %s' \
    "$t" "$status" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${eps:-?}" "$reg")")
  echo "${summary[-1]}"
done

echo "fuzz.sh: ${#targets[@]} target(s), ${secs}s each, $(( $(date +%s) - start ))s total$([ $failed = 0 ] && echo ', all clean' || echo ', FAILURES above')"
exit "$failed"
