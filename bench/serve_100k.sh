#!/usr/bin/env bash
# lowbit serve's pages on the generated database of 100,000 runs and 10,000,000 metric rows
# (lowbit_bench query, as bench/cli_100k.sh): each page's time to the last byte through curl,
# median of 3 after a warm-up, against the goal (under 200 ms; the report page is lowbit
# report itself, whose goal is bench/cli_100k.md's). Writes bench/results/serve_100k.md.
# Usage: bash bench/serve_100k.sh [DIR]
source "$(dirname "$0")/lib.sh"
dir=${1:-$tmp}
big=$dir/bench_big.db
[ -f "$big" ] || build/lowbit_bench query "$dir" >/dev/null
port=$((20000 + RANDOM % 20000))
build/lowbit serve --db "$big" --port $port > "$dir/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/api/progress" && break; sleep 0.1; done
median3() { sort -n | sed -n 2p; }
out=bench/results/serve_100k.md
{
  echo "# lowbit serve on 100,000 runs and 10,000,000 metric rows ($(nproc) cores, $(date -u +%Y-%m-%d))"
  echo
  echo "Made by \`bash bench/serve_100k.sh\`: time to the last byte (curl), median of 3 after a warm-up (the report: also the warm-up, its first render, all tables and plots)."
  echo
  echo "| page | ms | bytes | goal |"
  echo "| --- | ---: | ---: | --- |"
  for page in "/" "/api/progress" "/runs?e=big" "/runs?e=big&page=1999" "/runs?e=big&sort=final_test_acc&desc=1" \
    "/runs?e=big&where=seed%20%3D%203" "/run?id=50000" "/compare?sel=50000&sel=50001" "/report?e=big"; do
    url="http://127.0.0.1:$port$page"
    first=$(curl -s -o /dev/null -w '%{time_total}' "$url" | awk '{printf "%.0f", $1 * 1000}')
    ms=$(for _ in 1 2 3; do curl -s -o /dev/null -w '%{time_total}\n' "$url"; done | median3 | awk '{printf "%.0f", $1 * 1000}')
    bytes=$(curl -s -o /dev/null -w '%{size_download}' "$url")
    if [ "${page%%\?*}" = /report ]; then  # rendered once per database state, then cached
      echo "| \`$page\` | $ms (first render: $first) | $bytes | < 200 ms once rendered; the render is lowbit report's own |"
    else
      echo "| \`$page\` | $ms | $bytes | < 200 ms |"
    fi
  done
} | tee "$out"
