#!/usr/bin/env bash
# make stress: crash and resume, signals, concurrency, storage faults, malformed definitions,
# bad data files, fuzzing and the README's tour, each section bounded in time. Prints PASS/FAIL/SKIP per check,
# the figures for docs/RELIABILITY.md, and "N passed, N failed, N skipped"; exits 1 on any
# failure. Usage: bash tests/stress/run.sh [BUILD_DIR] [SECTION ...]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd); shift || true
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(definitions data storage signals interrupts concurrency crash fuzz tour)

export LOWBIT="$build/lowbit"
work=$(mktemp -d /tmp/lowbit_stress_XXXXXX)
export STRESS_LOG="$work/log" FIGURES="$work/figures"
: > "$STRESS_LOG"; : > "$FIGURES"
[ -n "${STRESS_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
declare -A limit=([definitions]=180 [data]=120 [storage]=180 [signals]=180 [concurrency]=180 [crash]=360 [fuzz]=420 [tour]=420 [interrupts]=360)

start=$(date +%s)
for s in "${sections[@]}"; do
  mkdir -p "$work/$s"
  echo "== $s (at most ${limit[$s]:-300} s)"
  t0=$(date +%s)
  timeout --kill-after=10 "${limit[$s]:-300}" bash "$root/tests/stress/$s.sh" "$work/$s"
  rc=$?
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "FAIL $s: section ran past its ${limit[$s]:-300} s bound" | tee -a "$STRESS_LOG"
  echo "   $s: $(( $(date +%s) - t0 )) s"
done

echo
echo "== figures"
mkdir -p "$build/stress"
{ echo "| figure | value |"; echo "| --- | --- |"; while IFS='|' read -r k v; do echo "| $k | $v |"; done < "$FIGURES"; } | tee "$build/stress/figures.md"
passed=$(grep -c '^PASS' "$STRESS_LOG"); failed=$(grep -c '^FAIL' "$STRESS_LOG"); skipped=$(grep -c '^SKIP' "$STRESS_LOG")
grep '^FAIL\|^SKIP' "$STRESS_LOG"
echo "stress: $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
