#!/usr/bin/env bash
# `make demo`: runs the quickstart grid (full precision vs TTQ vs SLB 1-bit, 2 seeds) into
# results/quickstart.db and writes its report to results/quickstart/. Re-running resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results
start=$(date +%s)
./build/lowbit grid configs/quickstart.json --db results/quickstart.db --workers 1 --threads-per-worker "$(nproc)"
./build/lowbit report --db results/quickstart.db --experiment quickstart --out results/quickstart --baseline fp
echo "demo: grid and report in $(( $(date +%s) - start )) s; open results/quickstart/report.md"
