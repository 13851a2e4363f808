#!/usr/bin/env bash
# `make demo`: trains the quickstart configuration and says where its results are.
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/quickstart
./build/lowbit train --config configs/quickstart_fp.json --out "$out/fp" --threads "$(nproc)"
echo
echo "demo: metrics per epoch in $out/fp/metrics.jsonl, per-layer statistics in $out/fp/layer_stats.jsonl"
