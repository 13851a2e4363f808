#!/usr/bin/env bash
# Grid throughput (runs per hour) of the same small grid at workers x threads = 1 x 2 and
# 2 x 1 (and what --workers auto picks), for small_cnn on Fashion-MNIST and resnet20 on
# synthetic 3x32x32 images: 4 runs each (full precision and SLB 1-bit, 2 seeds, 1 epoch).
# Writes bench/results/grid_layout.md and prints it.
source "$(dirname "$0")/lib.sh"
cat > "$tmp/small_cnn.json" <<'JSON'
{"name": "layout", "base": {"model": "small_cnn", "data": {"name": "fashion_mnist",
 "train_limit": 3000, "test_limit": 2000}, "epochs": 1, "batch_size": 128},
 "variants": {"fp": {}, "slb1": {"quant.method": "slb", "quant.bits": 1}}, "seeds": 2}
JSON
cat > "$tmp/resnet20.json" <<'JSON'
{"name": "layout", "base": {"model": "resnet20", "data": {"name": "synthetic",
 "synthetic": {"train": 768, "test": 256, "size": 32, "channels": 3, "classes": 10}},
 "epochs": 1, "batch_size": 128},
 "variants": {"fp": {}, "slb1": {"quant.method": "slb", "quant.bits": 1}}, "seeds": 2}
JSON
rows=()
for model in small_cnn resnet20; do
  for layout in 1x2 2x1 auto; do
    rm -rf "$tmp"/g.db*
    if [ "$layout" = auto ]; then args=(--workers auto); else
      args=(--workers "${layout%x*}" --threads-per-worker "${layout#*x}"); fi
    start=$(date +%s.%N)
    build/lowbit grid "$tmp/$model.json" --db "$tmp/g.db" "${args[@]}" > "$tmp/out"
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    picked=$(grep -o 'workers auto: [0-9]* workers\? x [0-9]* threads\?' "$tmp/out" | sed 's/workers auto: //' || true)
    rows+=("| $model | $layout${picked:+ ($picked)} | $secs | $(awk -v s="$secs" 'BEGIN {printf "%.0f", 4 * 3600 / s}') |")
  done
done
out=bench/results/grid_layout.md
{
  echo "# Grid layout: workers x threads"
  echo
  echo "\`bash bench/grid_layout.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d), commit"
  echo "$(git rev-parse --short HEAD)${NOTE:+; $NOTE}: 4 runs (full precision and SLB 1-bit, 2 seeds,"
  echo "1 epoch; small_cnn on 3,000 Fashion-MNIST images, resnet20 on 768 synthetic 3x32x32 images),"
  echo "one measurement per layout, wall time of the whole \`lowbit grid\` command."
  echo
  echo "| model | workers x threads | wall time (s) | runs / hour |"
  echo "| --- | --- | ---: | ---: |"
  for row in "${rows[@]}"; do echo "$row"; done
} > "$out"
cat "$out"
