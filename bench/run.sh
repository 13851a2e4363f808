#!/usr/bin/env bash
# `make bench`: every benchmark, one process per SLB configuration (peak RSS is per process).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/lowbit_bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" tracker
"$bin" query "$tmp"
"$bin" slb fp 32
for bits in 1 2 4; do "$bin" slb slb "$bits"; done
bash bench/cli_startup.sh
bash bench/allocator.sh
