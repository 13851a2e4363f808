#!/usr/bin/env bash
# CLI start-up: wall time and peak RSS of the commands that do not train, in the torch-free
# front (build/lowbit) and in the LibTorch binary (build/lowbit-torch), on a small database
# (a 4-run synthetic grid). GNU time, median of N runs (10 ms resolution). Writes
# bench/results/cli_startup.md and prints it.
source "$(dirname "$0")/lib.sh"
n=${N:-10}  # 20 took 43 s of make bench
cat > "$tmp/g.json" <<'JSON'
{"name": "g", "base": {"data": {"name": "synthetic", "synthetic": {"train": 96, "test": 48, "size": 8, "classes": 4}},
 "batch_size": 32, "epochs": 2}, "variants": {"fp": {}, "ttq": {"quant.method": "ttq"}}, "seeds": 2}
JSON
build/lowbit grid "$tmp/g.json" --db "$tmp/g.db" --threads-per-worker 1 > /dev/null
measure() {  # measure BINARY ARGS...: "median_s max_rss_mib"
  gnu_time "$n" "$@" | awk '{printf "%.2f s, %.1f MiB", $1, $2 / 1024}'
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
