#!/usr/bin/env bash
# CLI start-up: wall time and peak RSS of the commands that do not train, in the torch-free
# front (build/lowbit) and in the LibTorch binary (build/lowbit-torch), on a small database
# (a 4-run synthetic grid). GNU time, median of N runs (10 ms resolution). Writes
# bench/results/cli_startup.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/g.json" <<'JSON'
{"name": "g", "base": {"data": {"name": "synthetic", "synthetic": {"train": 96, "test": 48, "size": 8, "classes": 4}},
 "batch_size": 32, "epochs": 2}, "variants": {"fp": {}, "ttq": {"quant.method": "ttq"}}, "seeds": 2}
JSON
build/lowbit grid "$tmp/g.json" --db "$tmp/g.db" --threads-per-worker 1 > /dev/null
measure() {  # measure BINARY ARGS...: "median_s max_rss_mib"
  : > "$tmp/t"
  for _ in $(seq "$n"); do /usr/bin/time -f "%e %M" -a -o "$tmp/t" "$@" > /dev/null; done
  sort -n "$tmp/t" | awk '{t[NR] = $1; if ($2 > m) m = $2} END {printf "%.2f s, %.1f MiB", t[int((NR + 1) / 2)], m / 1024}'
}
out=bench/results/cli_startup.md
mkdir -p bench/results
{
  echo "# CLI start-up"
  echo
  echo "\`bash bench/cli_startup.sh\` (N=$n runs each, median wall time, largest peak RSS; GNU time, 10 ms"
  echo "resolution) on $(nproc) cores, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)${NOTE:+; $NOTE}."
  echo
  echo "| command | front (build/lowbit) | LibTorch binary (build/lowbit-torch) |"
  echo "| --- | --- | --- |"
  for args in "--version" "status --db $tmp/g.db" "query runs --db $tmp/g.db" \
              "report --db $tmp/g.db --experiment g --out $tmp/rep --no-plots"; do
    echo "| \`lowbit ${args//$tmp\//}\` | $(measure build/lowbit $args) | $(measure build/lowbit-torch $args) |"
  done
} > "$out"
cat "$out"
