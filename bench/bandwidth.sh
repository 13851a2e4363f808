#!/usr/bin/env bash
# The memory-bandwidth limit of these cores (a STREAM-like copy and triad) and the full-precision
# small_cnn step's time outside its convolutions set against the bytes its batch-norm, ReLU,
# pooling and averaging passes must move (lowbit_bench bandwidth). About 20 s. Writes
# bench/results/bandwidth.md and prints it.
source "$(dirname "$0")/lib.sh"
out=bench/results/bandwidth.md
build/lowbit_bench bandwidth > "$tmp/body.md"
{
  echo "# The step against the memory-bandwidth limit"
  echo
  echo "\`bash bench/bandwidth.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)${NOTE:+; $NOTE}."
  echo
  cat "$tmp/body.md"
} > "$out"
cat "$out"
