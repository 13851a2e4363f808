#!/usr/bin/env bash
# Runs the doctest suite and ends with the plain summary line CI reads ("N passed, N failed").
set -uo pipefail
bin=${1:-build/lowbit_tests}
shift || true
out=$(mktemp)
"$bin" "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
line=$(grep -E '^\[doctest\] test cases:' "$out" | tail -1)
rm -f "$out"
passed=$(echo "$line" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')
failed=$(echo "$line" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')
skipped=$(echo "$line" | sed -E 's/.*\| *([0-9]+) skipped.*/\1/')
if [ -n "$line" ]; then
  echo "${passed} passed, ${failed} failed, ${skipped} skipped"
fi
exit "$rc"
