#!/usr/bin/env bash
# docs/RESULTS.md recomputed from its committed data (make test). Restores the suite's runs
# from docs/results/suite-runs.jsonl.gz into a scratch tree, writes the document again with
# the command its header names (lowbit suite ... --reports-only, which trains nothing), and
# compares the document and every plot with the committed ones, byte for byte. A difference
# means the code now computes other numbers from the same runs than the document shows:
# regenerate it (docs/SCHEMA.md, "The suite's dump") or find the change that moved them.
# Without gnuplot (scripts/install-deps.sh installs it) the plots cannot be drawn: skipped.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v gnuplot > /dev/null; then
  echo "results: 0 passed, 0 failed, 1 skipped (no gnuplot: bash scripts/install-deps.sh)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/configs" "$tmp/docs" "$tmp/results"
cp -r "$root/configs/suite" "$root/configs/paper" "$tmp/configs/"  # the paper twins are named in the verdicts
"$build/lowbit" restore "$root/docs/results/suite-runs.jsonl.gz" --into "$tmp/results/suite.db" > "$tmp/restore.log"
command=(suite configs/suite --db results/suite.db --out results/suite --results docs/RESULTS.md --reports-only)
(cd "$tmp" && "$build/lowbit" "${command[@]}" > "$tmp/suite.log" 2>&1) || {
  echo "FAIL results: lowbit ${command[*]} exited non-zero:"; tail -5 "$tmp/suite.log"; exit 1; }
passed=0 failed=0 seen=""
check() {  # NAME COMMITTED WRITTEN
  if cmp -s "$2" "$3"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL results: $1 differs from what the committed runs give now:"
    if [ -f "$2" ] && [ -f "$3" ]; then diff -u "$2" "$3" | head -20 || true; else ls -l "$2" "$3" 2>&1 | sed 's/^/  /'; fi
  fi
}
check docs/RESULTS.md "$root/docs/RESULTS.md" "$tmp/docs/RESULTS.md"
for f in "$root"/docs/results/*.svg "$tmp"/docs/results/*.svg; do
  name=docs/results/$(basename "$f")
  case " $seen " in *" $name "*) continue ;; esac
  seen="$seen $name"
  check "$name" "$root/$name" "$tmp/$name"
done
echo "results: $passed passed, $failed failed (the document and its plots from docs/results/suite-runs.jsonl.gz)"
[ "$failed" = 0 ]
