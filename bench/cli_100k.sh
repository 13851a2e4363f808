#!/usr/bin/env bash
# lowbit status, query runs and report through the command line on a generated database of
# 100,000 runs and 10,000,000 metric rows (built by lowbit_bench query into DIR): wall time
# (median of 3) and peak RSS, against the goals (status and query <= 1 s, report <= 2 s).
# Writes bench/results/cli_100k.md. Usage: bash bench/cli_100k.sh [DIR]
source "$(dirname "$0")/lib.sh"
dir=${1:-$tmp}
big=$dir/bench_big.db
[ -f "$big" ] || build/lowbit_bench query "$dir" >/dev/null
out=bench/results/cli_100k.md
{
  echo "# lowbit on 100,000 runs and 10,000,000 metric rows ($(nproc) cores, $(date -u +%Y-%m-%d))"
  echo
  echo "Made by \`bash bench/cli_100k.sh\`; wall time is the median of 3 runs after a warm-up, RSS the largest."
  echo
  echo "| command | wall s | peak RSS MiB | goal |"
  echo "| --- | ---: | ---: | --- |"
  for cmd in "status --db $big" "query runs --db $big --experiment big --format csv" \
    "report --db $big --experiment big --tables main --format md --no-plots --out $dir/rep"; do
    build/lowbit $cmd >/dev/null
    read -r wall rss < <(gnu_time 3 build/lowbit $cmd)
    name=${cmd%% --db*}
    goal=$([ "$name" = report ] && echo "<= 2 s" || echo "<= 1 s")
    echo "| lowbit $name | $wall | $((rss / 1024)) | $goal |"
  done
} | tee "$out"
