#!/usr/bin/env bash
# `make bench`: every benchmark, after `make build`, in about 14 minutes on 2 cores (goal: under 15). Each
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
# part CMD...: runs one benchmark and prints its seconds, so that make bench's time can be
# read part by part (goal: under 15 minutes in all).
part() { local t0=$SECONDS; "$@"; echo "make bench: $* took $((SECONDS - t0)) s"; }
part bash bench/vs_python.sh          # step per method, matmul peak, lowbit vs Python
part "$bin" blas                      # torch::mm on the BLAS LibTorch loaded, against the convolution peak
part bash bench/bandwidth.sh          # STREAM, and the step outside its convolutions against it
part "$bin" augment                   # the per-image pad-crop-flip against the batched gather
part "$bin" loader                    # the data loader alone against the training step
part bash bench/grid_layout.sh        # runs per hour at 1x2 and 2x1, and what --workers auto picks
for m in "fp 32" "slb 1" "slb 2" "slb 4"; do part "$bin" slb $m; done  # peak RSS, one process each
part "$bin" tracker                   # tracker overhead per epoch
part "$bin" diag                      # the opt-in training statistics' seconds per epoch
part "$bin" query "$tmp"              # query and report over a large database, in-process
part bash bench/cli_100k.sh "$tmp"     # status, query and report through the command line (GNU time)
part bash bench/serve_100k.sh "$tmp"   # lowbit serve's pages on the same database (curl)
part bash bench/allocator.sh          # glibc's allocator defaults against lowbit's setting
part bash bench/cli_startup.sh        # the front binary against the LibTorch binary
part bash bench/profile.sh            # where the small_cnn step goes, per operator (FP and SLB 1-bit)
echo "make bench: ${SECONDS} s"
