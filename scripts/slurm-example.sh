#!/bin/bash
# The worked example of docs/CLUSTER.md, run on a throwaway single-node Slurm
# (tests/slurm/slurm-local.sh; root and the Slurm packages needed). Writes its transcript to
# docs/reports/slurm/example.txt. Usage: bash scripts/slurm-example.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
W=$(mktemp -d /tmp/lowbit_slurm_example_XXXXXX)
chmod 755 "$W"
export D=$W/slurm CPORT=$((20000 + RANDOM % 20000))
export DPORT=$((CPORT + 1))
trap 'bash "$root/tests/slurm/slurm-local.sh" down >/dev/null 2>&1; rm -rf "$W"' EXIT
mkdir -p "$D"
bash "$root/tests/slurm/slurm-local.sh" up >/dev/null
export SLURM_CONF=$D/slurm.conf
out=$root/docs/reports/slurm/example.txt
mkdir -p "$(dirname "$out")"
cd "$W"
cat >sweep.json <<'JSON'
{"name": "sweep",
 "description": "TTQ thresholds on synthetic data: the worked example of docs/CLUSTER.md",
 "base": {"data": {"name": "synthetic", "synthetic": {"train": 2048, "test": 256, "size": 16, "classes": 4}},
          "batch_size": 32, "eval_batch_size": 256, "epochs": 4, "quant.method": "ttq"},
 "axes": {"quant.threshold": [0.02, 0.05, 0.1]},
 "seeds": 3}
JSON
run() { echo "\$ $*" | sed "s|$build/||; s|$W/||g"; "$@" 2>&1 | sed "s|$W/||g; s|$build/||g"; echo; }
{
  echo "# lowbit on a throwaway single-node Slurm ($(sinfo -V)), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# made by: bash scripts/slurm-example.sh (the work directory and the build directory are cut from the paths)"
  echo
  cat sweep.json
  echo
  run "$build/lowbit" grid sweep.json --backend slurm --shard-dir shards/sweep --tasks 3 --max-concurrent 2 --time 00:30:00 --requeue
  run cat shards/sweep/sweep.sbatch
  sleep 12
  run "$build/lowbit" status --shard-dir shards/sweep
  job=$(cat shards/sweep/jobs)
  while [ -n "$(squeue -h -r -j "$job" -o %i)" ]; do sleep 1; done
  run "$build/lowbit" status --shard-dir shards/sweep
  run "$build/lowbit" merge --into results.db shards/sweep
  run "$build/lowbit" merge --into results.db shards/sweep
  run "$build/lowbit" grid sweep.json --backend slurm --shard-dir shards/sweep
  run "$build/lowbit" report --db results.db -e sweep --out report --format md --tables main --no-plots
  run sed -n '/^## /,$p' report/report.md
} >"$out"
echo "wrote $out"
