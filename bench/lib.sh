# What the bench scripts share (source it first): strict mode, the repository root as the
# working directory, a temporary directory $tmp removed on exit, and GNU time over N runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# gnu_time N CMD...: "median_wall_s largest_peak_rss_kib" over N runs of CMD (output dropped).
gnu_time() {
  local n=$1
  shift
  : > "$tmp/gnu_time"
  for _ in $(seq "$n"); do /usr/bin/time -f "%e %M" -a -o "$tmp/gnu_time" "$@" > /dev/null; done
  sort -n "$tmp/gnu_time" | awk '{t[NR] = $1; if ($2 > m) m = $2} END {printf "%.2f %d\n", t[int((NR + 1) / 2)], m}'
}
