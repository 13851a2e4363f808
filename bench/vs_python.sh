#!/usr/bin/env bash
# The training step and the whole epoch, lowbit against the same small_cnn written in Python
# PyTorch (bench/py_bench.py, Debian's python3-torch: the same LibTorch kernels), 2 threads,
# batch 128, for full precision, TTQ and SLB 1/2-bit; plus lowbit's step for every method on
# small_cnn and resnet20 and the matrix-multiply peak (lowbit_bench step).
#   step:  fixed random batch, 3 warm-ups, forward / backward / optimizer, the median of 20
#          steps (lowbit: the methods interleaved in 5 rounds of 4 steps, resnet20 4 of 2; the
#          ratio to full precision is the median of the rounds' ratios)
#   epoch: the second of two epochs on the first 10,000 Fashion-MNIST training images plus the
#          evaluation of the 10,000 test images (batch 1000); SLB with batch-norm calibration
#          after each epoch (bn_mode calibrate_each_epoch, 10 batches) on both sides
# Writes bench/results/latest.json (every figure) and bench/results/vs_python.md, prints the
# latter. Without python3-torch the Python columns say "skipped" (never a ratio).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lines=$tmp/lines.jsonl
build/lowbit_bench step "$lines" > "$tmp/step.txt"
cat "$tmp/step.txt"

if /usr/bin/python3 -c "import torch" 2> /dev/null; then
  /usr/bin/python3 bench/py_bench.py --threads 2 >> "$lines"
  /usr/bin/python3 bench/py_bench.py --threads 2 --layout nhwc >> "$lines"
else
  echo "vs_python: python3-torch is not installed (scripts/install-deps.sh --bench): the Python" \
    "comparison is skipped"
fi

# lowbit's epoch: the same data, batch, optimizer and evaluation, through lowbit train.
for m in fp:fp:2 ttq:ttq:2 slb1:slb:1 slb2:slb:2; do
  IFS=: read -r label method bits <<< "$m"
  cat > "$tmp/c.json" <<JSON
{"model": "small_cnn", "data": {"name": "fashion_mnist", "train_limit": 10000}, "epochs": 2,
 "batch_size": 128, "eval_batch_size": 1000,
 "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 5e-4,
           "schedule": "constant"},
 "quant": {"method": "$method", "bits": $bits, "bn_mode": "calibrate_each_epoch"}}
JSON
  rm -rf "$tmp/run"
  build/lowbit-torch train --config "$tmp/c.json" --threads 2 --out "$tmp/run" > "$tmp/log" 2>&1 ||
    { cat "$tmp/log"; exit 1; }
  /usr/bin/python3 - "$tmp/run" "$label" >> "$lines" <<'PY'
import json, sys
m = {}
for line in open(sys.argv[1] + "/metrics.jsonl"):
    r = json.loads(line)
    if r["epoch"] == 2:
        m[r["key"]] = r["value"]
print(json.dumps({"bench": "lowbit_epoch", "method": sys.argv[2], "train_s": m["train_seconds"],
                  "epoch_s": m["epoch_seconds"], "eval_s": m["epoch_seconds"] - m["train_seconds"],
                  "test_acc": m["test_acc"]}))
PY
done

/usr/bin/python3 - "$lines" "$(git rev-parse --short HEAD)" "$(nproc)" <<'PY'
import json, sys, datetime
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
commit, cores = sys.argv[2], sys.argv[3]
by = {}
for r in rows:
    by.setdefault(r["bench"], {})[r.get("model", "") + "/" + r.get("method", "")] = r
json.dump({"date": datetime.date.today().isoformat(), "commit": commit, "cores": int(cores),
           "figures": rows}, open("bench/results/latest.json", "w"), indent=1)
out = []
peak = by["matmul_peak"]["/"]
out.append("# lowbit against Python PyTorch, and against the machine's limit\n")
out.append(f"`bash bench/vs_python.sh` on {cores} cores, {datetime.date.today()}, commit {commit}; "
           "2 threads, batch 128. Every figure of this run is in `bench/results/latest.json`.\n")
out.append(f"Matrix-multiply peak (float32, 2048 x 2048): {peak['conv_gflops']:.1f} GFLOP/s as a 1x1 "
           f"convolution (oneDNN, the kernels of LibTorch's CPU convolutions), "
           f"{peak['blas_gflops']:.1f} GFLOP/s through torch::mm (the BLAS LibTorch is linked to).\n")
for model in ("small_cnn", "resnet20"):
    g = by["step_gflops"]["%s/" % model]
    out.append(f"\n## Training step, {model} (ms, median of the timed steps; the methods run "
               "interleaved in rounds, and x FP is the median of the rounds' ratios)\n")
    out.append(f"Full precision achieves {g['gflops']:.1f} GFLOP/s = {100 * g['share_of_peak']:.0f}% "
               "of the 1x1-convolution peak (goal >= 70%). Its convolutions alone, forward and "
               f"backward at the step's shapes, take {1000 * g['conv_s']:.1f} ms at "
               f"{100 * g['conv_share_of_peak']:.0f}% of the peak: the bound on the step's share.\n")
    out.append("| method | forward | backward | optimizer | step | x FP (goal) |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    goals = {"ttq": "<= 1.05", "slb1": "<= 1.08", "slb2": "<= 1.3", "slb4": "<= 2"}
    for k, r in by["step"].items():
        if r["model"] != model:
            continue
        goal = goals.get(r["method"], "")
        out.append(f"| {r['method']} | {1000 * r['forward_s']:.1f} | {1000 * r['backward_s']:.1f} | "
                   f"{1000 * r['optimizer_s']:.2f} | {1000 * r['step_s']:.1f} | {r['ratio_fp']:.2f}"
                   + (f" ({goal})" if goal else "") + " |")
out.append("\n## lowbit / Python, small_cnn (goal: step and epoch <= 1.0, evaluation <= 1/1.5 = 0.67)\n")
out.append("The ratio is against Python with channels-last weights (NHWC), the layout lowbit uses "
           "on the CPU, so both sides run the same oneDNN kernels; Python's default NCHW is shown "
           "beside it.\n")
py = {lay: (by.get("py_step" + sfx, {}), by.get("py_epoch" + sfx, {}))
      for lay, sfx in (("nhwc", "_nhwc"), ("nchw", ""))}
out.append("| method | step (ms) lowbit / Python NHWC / NCHW | ratio | epoch (s) lowbit / Python NHWC / NCHW "
           "| ratio | evaluation (s) lowbit / Python NHWC / NCHW | ratio | test_acc lowbit / Python NHWC |")
out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
def pystep(r):
    return r["forward_s"] + r["backward_s"] + r["optimizer_s"]
for m in ("fp", "ttq", "slb1", "slb2"):
    ls = by["step"]["small_cnn/" + m]
    le = by["lowbit_epoch"]["/" + m]
    got = {lay: (st.get("/" + m), ep.get("/" + m)) for lay, (st, ep) in py.items()}
    if any(v is None for pair in got.values() for v in pair):
        out.append(f"| {m} | {1000 * ls['step_s']:.1f} / skipped | skipped | {le['epoch_s']:.2f} / "
                   f"skipped | skipped | {le['eval_s']:.2f} / skipped | skipped | "
                   f"{le['test_acc']:.4f} / skipped |")
        continue
    (sn, en), (sc, ec) = got["nhwc"], got["nchw"]
    out.append(f"| {m} | {1000 * ls['step_s']:.1f} / {1000 * pystep(sn):.1f} / {1000 * pystep(sc):.1f} | "
               f"{ls['step_s'] / pystep(sn):.2f} | "
               f"{le['epoch_s']:.2f} / {en['epoch_s']:.2f} / {ec['epoch_s']:.2f} | {le['epoch_s'] / en['epoch_s']:.2f} | "
               f"{le['eval_s']:.2f} / {en['eval_s']:.2f} / {ec['eval_s']:.2f} | {le['eval_s'] / en['eval_s']:.2f} | "
               f"{le['test_acc']:.4f} / {en['test_acc']:.4f} |")
out.append("\nlowbit's epoch is `lowbit train`'s own: its per-layer statistics, activation-sparsity "
           "counters and, for SLB, the calibration are in it, and with calibration lowbit also "
           "scores the test set before calibrating (`test_acc_before_calib`), a second evaluation "
           "pass Python does not make. The evaluation column is the epoch minus the training pass. "
           "Both sides are given evaluation batches of 1000; lowbit runs them through the network "
           "128 examples at a time on the CPU (faster: the activations stay in cache), Python "
           "1000 at a time. "
           "Python's TTQ and SLB follow lowbit's forward and gradients for timing only "
           "(bench/py_bench.py); test_acc is a check that both sides train, not a comparison (the "
           "initializations differ).")
text = "\n".join(out) + "\n"
open("bench/results/vs_python.md", "w").write(text)
print(text)
PY
