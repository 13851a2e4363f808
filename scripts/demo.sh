#!/usr/bin/env bash
# `make demo`: runs the quickstart grid (full precision vs TTQ vs SLB 1-bit, 2 seeds, 4 epochs
# on 15,000 Fashion-MNIST images, scored on the full test set) into results/quickstart.db and
# writes its report to results/quickstart/. Re-running resumes (finished runs are kept).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results
# --workers auto: one run per core while there are runs for them (2 workers of one thread on
# 2 cores), which bench/results/grid_layout.md measured faster than one worker of 2 threads.
start=$(date +%s)
./build/lowbit grid configs/quickstart.json --db results/quickstart.db --workers auto
./build/lowbit report --db results/quickstart.db --experiment quickstart --out results/quickstart \
  --baseline fp
echo "demo: grid and report in $(( $(date +%s) - start )) s; open results/quickstart/report.html" \
  "(or report.md)"
