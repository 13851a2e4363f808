#!/usr/bin/env bash
# `make bench`: every benchmark, after `make build`, in about 8 minutes on 2 cores. Each
# writes its own table to bench/results/ and prints it; bench/results/latest.json holds every
# figure of the step, Python and peak benchmarks; bench/results/make_bench.txt the whole printout.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
exec > >(tee bench/results/make_bench.txt) 2>&1  # the whole printout, kept beside the tables
bash scripts/install-deps.sh --bench  # python3-torch, for the comparison with Python
bin=build/lowbit_bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash bench/vs_python.sh          # step per method, matmul peak, lowbit vs Python
"$bin" blas                      # torch::mm on the BLAS LibTorch loaded, against the convolution peak
"$bin" augment                   # the per-image pad-crop-flip against the batched gather
"$bin" loader                    # the data loader alone against the training step
bash bench/grid_layout.sh        # runs per hour at 1x2 and 2x1, and what --workers auto picks
for m in "fp 32" "slb 1" "slb 2" "slb 4"; do "$bin" slb $m; done  # peak RSS, one process each
"$bin" tracker                   # tracker overhead per epoch
"$bin" diag                      # the opt-in training statistics' seconds per epoch
"$bin" query "$tmp"              # query and report over a large database, in-process
bash bench/cli_100k.sh "$tmp"     # status, query and report through the command line (GNU time)
bash bench/serve_100k.sh "$tmp"   # lowbit serve's pages on the same database (curl)
bash bench/allocator.sh          # glibc's allocator defaults against lowbit's setting
bash bench/cli_startup.sh        # the front binary against the LibTorch binary
bash bench/profile.sh            # where the small_cnn step goes, per operator (FP and SLB 1-bit)
echo "make bench: ${SECONDS} s"
