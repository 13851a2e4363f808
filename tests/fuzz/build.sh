#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, AddressSanitizer and UndefinedBehaviorSanitizer:
#   bash tests/fuzz/build.sh OUT_DIR
# The targets compile lowbit's torch-free parsers (experiment definitions, run configs and
# --set, IDX and CIFAR files) from source, so the sanitizers and coverage see all of them.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out/obj" "$out/room"
# The room guard (docs/ARCHITECTURE.md): the fuzzers stand above every room, as tests do.
printf '#pragma once\n#define LOWBIT_MAY_INCLUDE_TRACKER 1\n#define LOWBIT_MAY_INCLUDE_EXPERIMENTS 1\n' \
  > "$out/room/lowbit_room.h"
cxx=${CXX_FUZZ:-clang++}
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
       -I"$root" -I"$out/room")
sources=(core/config/run_config.cpp core/config/fields.cpp core/config/names.cpp core/util.cpp core/sha256.cpp
         core/run_status.cpp core/data/formats.cpp experiments/spec.cpp experiments/spec_claims.cpp
         core/config/claims.cpp)
# Two jobs at a time (the CI machine has two cores); any failed job fails the build.
pids=()
wait_all() { for p in "${pids[@]}"; do wait "$p" || { echo "fuzz build: a compile failed" >&2; exit 1; }; done; pids=(); }
objs=()
for s in "${sources[@]}"; do
  o="$out/obj/$(echo "$s" | tr / _).o"
  # Rebuilt from scratch each time: headers change too, and the whole build takes ~40 s.
  "$cxx" "${flags[@]}" -c "$root/$s" -o "$o" & pids+=($!)
  [ ${#pids[@]} -lt 2 ] || wait_all
  objs+=("$o")
done
wait_all
for t in experiment config idx cifar; do
  "$cxx" "${flags[@]}" -fsanitize=fuzzer "$root/tests/fuzz/fuzz_$t.cpp" "${objs[@]}" -lfmt -lz \
    -o "$out/fuzz_$t" & pids+=($!)
  [ ${#pids[@]} -lt 2 ] || wait_all
done
wait_all
echo "fuzz build: 4 targets in $out"
