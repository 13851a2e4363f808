#!/usr/bin/env bash
# The allocator setting of apps/main.cpp (glibc mallopt: no mmap and no trim below 1 GiB)
# against glibc's defaults (LOWBIT_DEFAULT_MALLOC=1): seconds of one epoch's evaluation pass
# over the full Fashion-MNIST test set (epoch_seconds - train_seconds) and the run's peak RSS,
# small_cnn trained on 2,000 images for one epoch at 2 threads, at the default
# eval_batch_size (1000; the CPU evaluation runs it 128 examples at a time, kCpuEvalChunk in
# core/train/trainer.cpp, so a second batch size would measure the same pass). Median of N
# runs each. Writes bench/results/allocator.md and prints it.
source "$(dirname "$0")/lib.sh"
n=${N:-3}
cat > "$tmp/c.json" <<'JSON'
{"model": "small_cnn", "data": {"name": "fashion_mnist", "train_limit": 2000}, "epochs": 1,
 "batch_size": 128, "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "schedule": "cosine"}}
JSON
measure() {  # measure DEFAULT_MALLOC EVAL_BATCH: "eval_s (min-max) | peak RSS MiB"; exits on error
  : > "$tmp/t"
  for i in $(seq "$n"); do
    rm -rf "$tmp/r$i"
    LOWBIT_DEFAULT_MALLOC=$1 build/lowbit-torch train --config "$tmp/c.json" --threads 2 \
      --set eval_batch_size="$2" --out "$tmp/r$i" > /dev/null 2>&1
    python3 - "$tmp/r$i" >> "$tmp/t" <<'PY'
import json, sys
d = sys.argv[1]
m = {}
for line in open(d + "/metrics.jsonl"):
    r = json.loads(line)
    m[r["key"]] = r["value"]
s = json.load(open(d + "/summary.json"))["summary"]
print(m["epoch_seconds"] - m["train_seconds"], s["peak_rss_bytes"] / 2**20)
PY
  done
  sort -n "$tmp/t" | awk '{t[NR] = $1; if ($2 > r) r = $2} END {printf "%.2f s (%.2f-%.2f) | %.0f MiB", t[int((NR + 1) / 2)], t[1], t[NR], r}'
}
glibc=$(measure 1 1000)
tuned=$(measure 0 1000)
out=bench/results/allocator.md
mkdir -p bench/results
{
  echo "# Allocator: glibc defaults against lowbit's setting"
  echo
  echo "\`bash bench/allocator.sh\` (N=$n runs each: median and range of the evaluation pass over"
  echo "the 10,000 test images, largest peak RSS) on $(nproc) cores, $(date -u +%Y-%m-%d), commit"
  echo "$(git rev-parse --short HEAD)${NOTE:+; $NOTE}."
  echo
  echo "eval_batch_size 1000 is the default; on the CPU the pass runs 128 examples at a time."
  echo
  echo "| eval_batch_size | allocator | evaluation pass | peak RSS |"
  echo "| ---: | --- | --- | ---: |"
  echo "| 1000 | glibc defaults | $glibc |"
  echo "| 1000 | lowbit (mallopt) | $tuned |"
} > "$out"
cat "$out"
