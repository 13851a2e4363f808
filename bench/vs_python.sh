#!/usr/bin/env bash
# The training step and the whole epoch, lowbit against the same small_cnn written in Python
# PyTorch (bench/py_bench.py, Debian's python3-torch: the same LibTorch kernels), 2 threads,
# batch 128, for full precision, TTQ and SLB 1/2-bit; plus lowbit's step for every method on
# small_cnn and resnet20 and the matrix-multiply peak (lowbit_bench step).
#   step:  fixed random batch, 3 warm-ups, forward / backward / optimizer (and SLB's state
#          batch-norm pass), the median of the timed steps (Python: 20 in a row; lowbit: the
#          methods interleaved in 10 rounds of 2 steps, resnet20 8 of 1, with the matrix-multiply
#          peak's products among them; the ratio to full precision is the median of the
#          rounds' ratios). Against Python: 3 rounds, each a lowbit process (lowbit_bench
#          step-pair) then a Python process (NHWC) timing the same four methods; lowbit /
#          Python is the median of the rounds' ratios. Python NCHW once, beside it.
#   epoch: runs of 2 epochs on the first 10,000 Fashion-MNIST training images, each epoch
#          with the evaluation of the 10,000 test images (batch 1000); the first is a warm-up,
#          the second timed. 3 rounds: in each, per method, a lowbit run then a Python (NHWC)
#          run, back to back; figures are medians over the rounds, ratios the medians of the
#          rounds' ratios. SLB with batch-norm calibration after each epoch (bn_mode
#          calibrate_each_epoch, 10 batches) on both sides; lowbit alone also with bn_mode
#          state, and with calibrate_each_epoch plus the scoring before calibration
#          (diag.before_calib, off by default), in round 1. Full precision also in
#          bench/py_plain.py, the plainly written check on py_bench.py (the step too).
#          Python runs with lowbit's allocator setting (below); the step also without it.
#          SLB's temperature window is 20-100% of training on both sides, so
#          that the timed epoch trains the soft forward (after lowbit's default window, 20-60%,
#          the forward is one-hot and the logits frozen: cheaper, and not what this measures).
# Writes bench/results/latest.json (every figure) and bench/results/vs_python.md, prints the
# latter. Without python3-torch the Python columns say "skipped" (never a ratio).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lines=$tmp/lines.jsonl
touch "$lines"
build/lowbit_bench step "$lines" > "$tmp/step.txt"
cat "$tmp/step.txt"

python=false
if /usr/bin/python3 -c "import torch" 2> /dev/null; then
  python=true
else
  echo "vs_python: python3-torch is not installed (scripts/install-deps.sh --bench): the Python" \
    "comparison is skipped"
fi
# Python runs with glibc's allocator set as lowbit sets it (core/allocator.h: no mmap and no
# trim below 1 GiB, 64 MiB top pad), through glibc's environment variables, so that both sides
# reuse their activation buffers; py_default runs with glibc's defaults, as a script is usually
# run (the buffers are given back and page-faulted in again, by an amount that varies from run
# to run). py_plain is the second, plainly written baseline (bench/py_plain.py).
lowbit_malloc=(MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=67108864)
py() { env "${lowbit_malloc[@]}" /usr/bin/python3 bench/py_bench.py --threads 2 "$@" >> "$lines"; }
py_default() { /usr/bin/python3 bench/py_bench.py --threads 2 "$@" >> "$lines"; }
py_plain() { env "${lowbit_malloc[@]}" /usr/bin/python3 bench/py_plain.py --threads 2 --layout nhwc "$@" >> "$lines"; }

# The step against Python: lowbit and Python processes alternate, 3 rounds.
for round in 1 2 3; do
  build/lowbit_bench step-pair "$lines" "$round" > /dev/null
  if $python; then
    py --what step --layout nhwc --round "$round"
    py_plain --what step --round "$round"
    py_default --what step --layout nhwc --round "$round"
  fi
done
if $python; then py --what step; fi  # NCHW, Python's default layout: context only

# One lowbit epoch run: LABEL METHOD BITS BN_MODE ROUND [BEFORE_CALIB] -> a "lowbit_epoch"
# line. The same data, batch, optimizer and evaluation as py_bench.py, through lowbit train;
# 2 epochs, the second timed. BEFORE_CALIB (true/false, default false): diag.before_calib.
lowbit_epoch() {
  cat > "$tmp/c.json" <<JSON
{"model": "small_cnn", "data": {"name": "fashion_mnist", "train_limit": 10000}, "epochs": 2,
 "batch_size": 128, "eval_batch_size": 1000,
 "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 5e-4,
           "schedule": "constant"},
 "quant": {"method": "$2", "bits": $3, "bn_mode": "$4", "temperature": {"end": 1.0}},
 "diag": {"before_calib": ${6:-false}}}
JSON
  rm -rf "$tmp/run"
  build/lowbit-torch train --config "$tmp/c.json" --threads 2 --out "$tmp/run" > "$tmp/log" 2>&1 ||
    { cat "$tmp/log"; exit 1; }
  /usr/bin/python3 - "$tmp/run" "$1" "$4" "$5" >> "$lines" <<'PY'
import json, sys
by_epoch = {}
for line in open(sys.argv[1] + "/metrics.jsonl"):
    r = json.loads(line)
    by_epoch.setdefault(r["epoch"], {})[r["key"]] = r["value"]
m = by_epoch[2]  # epoch 1 is the warm-up
print(json.dumps({"bench": "lowbit_epoch", "method": sys.argv[2], "bn_mode": sys.argv[3],
                  "round": int(sys.argv[4]), "train_s": m["train_seconds"],
                  "epoch_s": m["epoch_seconds"], "eval_s": m["epoch_seconds"] - m["train_seconds"],
                  "calib_s": m.get("calib_seconds", 0.0), "state_bn_s": m.get("state_bn_seconds", 0.0),
                  "test_acc": m["test_acc"]}))
PY
}

# The epochs: 3 rounds; in each, every method's lowbit run and then its Python run, back to
# back, so that lowbit / Python and SLB / FP are ratios of neighbours; SLB calibrating with the
# scoring before calibration (lowbit only) and with bn_mode state in round 1 only.
for round in 1 2 3; do
  for m in fp:fp:2 ttq:ttq:2 slb1:slb:1 slb2:slb:2; do
    IFS=: read -r label method bits <<< "$m"
    lowbit_epoch "$label" "$method" "$bits" calibrate_each_epoch "$round"
    if $python; then py --what epoch --epochs 2 --layout nhwc --methods "$label" --round "$round"; fi
    if $python && [ "$label" = fp ]; then py_plain --what epoch --epochs 2 --round "$round"; fi
  done
  if [ "$round" = 1 ]; then
    lowbit_epoch slb1-before slb 1 calibrate_each_epoch 1 true
    lowbit_epoch slb2-before slb 2 calibrate_each_epoch 1 true
    lowbit_epoch slb1-state slb 1 state 1
    lowbit_epoch slb2-state slb 2 state 1
  fi
done

/usr/bin/python3 - "$lines" "$(git rev-parse --short HEAD)" "$(nproc)" <<'PY'
import json, statistics, sys, datetime
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
commit, cores = sys.argv[2], sys.argv[3]
TRAIN_IMAGES = 10000  # lowbit_epoch's data.train_limit
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
out.append("Matrix-multiply peak: a float32 2048 x 2048 product as a 1x1 convolution (oneDNN, the "
           "kernels of LibTorch's CPU convolutions), timed inside the rounds of each model's step "
           "table below, so that the FP step's share of it compares neighbouring measurements. "
           f"The same product through torch::mm (the BLAS LibTorch is linked to): "
           f"{peak['blas_gflops']:.1f} GFLOP/s.\n")
for model in ("small_cnn", "resnet20"):
    g = by["step_gflops"]["%s/" % model]
    out.append(f"\n## Training step, {model} (ms, median of the timed steps; the methods run "
               "interleaved in rounds, and x FP is the median of the rounds' ratios)\n")
    out.append(f"Full precision achieves {g['gflops']:.1f} GFLOP/s = {100 * g['share_of_peak']:.0f}% "
               f"of the 1x1-convolution peak measured in the same rounds ({g['peak_gflops']:.1f} "
               "GFLOP/s; goal >= 70%). Its convolutions alone, forward and backward at the step's "
               f"shapes, take {1000 * g['conv_s']:.1f} ms at {100 * g['conv_share_of_peak']:.0f}% "
               f"of the peak measured beside them ({g['conv_peak_gflops']:.1f} GFLOP/s): the bound "
               "on the step's share.\n")
    out.append("slbN is SLB with bn_mode none, calibrate_each_epoch or calibrate_after (one step; "
               "the calibration is per epoch); slbN-state adds bn_mode state's discrete "
               "batch-norm pass after every step (the default, quant.state_bn_every = 1).\n")
    out.append("| method | forward | backward | optimizer | state BN pass | step | x FP (goal) |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    goals = {"ttq": "<= 1.05", "slb1": "<= 1.08", "slb2": "<= 1.3", "slb4": "<= 2"}
    for k, r in by["step"].items():
        if r["model"] != model:
            continue
        goal = goals.get(r["method"], "")
        out.append(f"| {r['method']} | {1000 * r['forward_s']:.1f} | {1000 * r['backward_s']:.1f} | "
                   f"{1000 * r['optimizer_s']:.2f} | {1000 * r['state_bn_s']:.1f} | "
                   f"{1000 * r['step_s']:.1f} | {r['ratio_fp']:.2f}"
                   + (f" ({goal})" if goal else "") + " |")
out.append("\n## lowbit / Python, small_cnn (goal: step and epoch <= 1.0, evaluation <= 0.5, twice as fast)\n")
out.append("Step: 3 rounds, each a lowbit process then a Python process timing the four methods "
           "(20 steps each after 3 warm-ups); the times are the medians over the rounds and the "
           "ratio is the median of the rounds' ratios. Epoch: 3 rounds, in each per method a lowbit "
           "run then a Python run of 2 epochs, the second timed; medians over the rounds, and the "
           "ratio the median of the rounds' ratios. The ratio is against Python with "
           "channels-last weights (NHWC), the layout lowbit uses on the CPU, so both sides run "
           "the same oneDNN kernels; Python's default NCHW step (one process) is shown beside it. "
           "Python runs with glibc's allocator set as lowbit sets its own (core/allocator.h), "
           "through glibc's MALLOC_* environment variables, so that the ratio compares the code "
           "and not the allocator; the Python step with glibc's defaults is in the next section.\n")
out.append("| method | step (ms) lowbit / Python NHWC / NCHW | ratio | epoch (s) lowbit / Python NHWC "
           "| ratio | evaluation (s) lowbit / Python NHWC | ratio | test_acc lowbit / Python NHWC |")
out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
def pystep(r):
    return r["forward_s"] + r["backward_s"] + r["optimizer_s"]
def step_time(r):  # lowbit's lines carry the step, Python's its phases
    return r["step_s"] if "step_s" in r else pystep(r)
def med(v):
    return statistics.median(v) if v else None
def rounds(bench, malloc="lowbit"):
    return {(r["round"], r["method"]): r for r in rows
            if r["bench"] == bench and r.get("malloc", "lowbit") == malloc}
lb_rounds, py_rounds = rounds("pair_step"), rounds("py_step_nhwc")
le_rounds, pe_rounds = rounds("lowbit_epoch"), rounds("py_epoch_nhwc")
def over_rounds(table, m, f):
    """The median of f(row) over the rounds of method m."""
    return med([f(r) for (_, k), r in table.items() if k == m])
def ratio_rounds(num, den, m, f, m_den=None, f_den=None):
    """The median over rounds of f(num row of m) / f_den(den row of m_den, same round); f_den
    defaults to f, m_den to m. None where no round has both."""
    m_den, f_den = m_den or m, f_den or f
    return med([f(r) / f_den(den[(n, m_den)]) for (n, k), r in num.items()
                if k == m and (n, m_den) in den])
step_s = lambda r: r["step_s"]
epoch, evals, train = (lambda r: r["epoch_s"]), (lambda r: r["eval_s"]), (lambda r: r["train_s"])
for m in ("fp", "ttq", "slb1", "slb2"):
    ls = over_rounds(lb_rounds, m, step_s)
    le, lv = over_rounds(le_rounds, m, epoch), over_rounds(le_rounds, m, evals)
    acc = [r["test_acc"] for (_, k), r in sorted(le_rounds.items()) if k == m][0]
    sc = by.get("py_step", {}).get("/" + m)
    if sc is None or not any(k == m for _, k in py_rounds) or not any(k == m for _, k in pe_rounds):
        out.append(f"| {m} | {1000 * ls:.1f} / skipped | skipped | {le:.2f} / skipped | skipped | "
                   f"{lv:.2f} / skipped | skipped | {acc:.4f} / skipped |")
        continue
    sn = over_rounds(py_rounds, m, pystep)
    pe, pv = over_rounds(pe_rounds, m, epoch), over_rounds(pe_rounds, m, evals)
    pacc = [r["test_acc"] for (_, k), r in sorted(pe_rounds.items()) if k == m][0]
    out.append(f"| {m} | {1000 * ls:.1f} / {1000 * sn:.1f} / {1000 * pystep(sc):.1f} | "
               f"{ratio_rounds(lb_rounds, py_rounds, m, step_time):.2f} | "
               f"{le:.2f} / {pe:.2f} | {ratio_rounds(le_rounds, pe_rounds, m, epoch):.2f} | "
               f"{lv:.2f} / {pv:.2f} | {ratio_rounds(le_rounds, pe_rounds, m, evals):.2f} | "
               f"{acc:.4f} / {pacc:.4f} |")
out.append("\nlowbit's epoch is `lowbit train`'s own: its per-layer statistics, activation-sparsity "
           "counters and, for SLB, the calibration are in it (the scoring of the test set before "
           "calibrating, `diag.before_calib`, is off, as by default). The evaluation column is the "
           "epoch minus the training pass. "
           "Both sides are given evaluation batches of 1000; lowbit runs them through the network "
           "128 examples at a time on the CPU (faster: the activations stay in cache), Python "
           "1000 at a time. "
           "Python's TTQ and SLB follow lowbit's forward and gradients for timing only "
           "(bench/py_bench.py); test_acc is a check that both sides train, not a comparison (the "
           "initializations differ).")
if any(r["bench"] == "py_plain_step" for r in rows):
    out.append("\n## The Python baseline, checked (goal: bench/py_bench.py within 10% of a plain script)\n")
    out.append("bench/py_plain.py is small_cnn written as a PyTorch user writes it (nn.Sequential, "
               "`model.to(memory_format=torch.channels_last)`), full precision only, run in the same "
               "rounds as py_bench.py's NHWC figures above, with the same allocator setting; the "
               "ratio is the median of the rounds' ratios.\n")
    out.append("| figure | py_bench.py | py_plain.py | py_bench / plain | verdict |")
    out.append("| --- | ---: | ---: | ---: | --- |")
    qs, qe = rounds("py_plain_step"), rounds("py_plain_epoch")
    for name, a, b, fa, fb, unit, scale in (
            ("FP step", py_rounds, qs, pystep, step_s, "ms", 1000),
            ("FP training pass", pe_rounds, qe, train, train, "s", 1),
            ("FP evaluation", pe_rounds, qe, evals, evals, "s", 1)):
        q = ratio_rounds(a, b, "fp", fa, f_den=fb)
        if q is None:
            continue
        out.append(f"| {name} | {scale * over_rounds(a, 'fp', fa):.2f} {unit} | "
                   f"{scale * over_rounds(b, 'fp', fb):.2f} {unit} | {q:.2f} | "
                   + ("within 10%" if abs(q - 1) <= 0.10 else "**more than 10% apart: the baseline is in doubt**")
                   + " |")
    out.append("\nFor full precision the two scripts do the same work: a training pass over the "
               "10,000 images in batches of 128 and the evaluation of the 10,000 test images in "
               "batches of 1000.")
    pd = rounds("py_step_nhwc", "default")
    out.append("\nWith glibc's allocator defaults, as a Python script is usually run, the same Python "
               "step (NHWC, same rounds):\n")
    out.append("| method | Python step, defaults (ms) | x with lowbit's setting | lowbit / Python with defaults |")
    out.append("| --- | ---: | ---: | ---: |")
    for m in ("fp", "ttq", "slb1", "slb2"):
        if not any(k == m for _, k in pd):
            continue
        out.append(f"| {m} | {1000 * over_rounds(pd, m, pystep):.1f} | "
                   f"{ratio_rounds(pd, py_rounds, m, pystep):.2f} | "
                   f"{ratio_rounds(lb_rounds, pd, m, step_time):.2f} |")
out.append("\n## The trainer against the isolated step, lowbit, small_cnn (goal: <= 1.05)\n")
out.append("The isolated step is the step column above (`lowbit_bench step-pair`: forward, "
           "backward and optimizer on a fixed batch, nothing else); the trainer's training pass is "
           "`lowbit train`'s own (`train_seconds` of the timed epoch: the loader, the learning-rate "
           "and temperature schedules, the loss and accuracy sums, the gradient norms, the progress "
           "line and the checks of every step), per 128 of its 10,000 images. Both are medians over "
           "the same 3 rounds, and the ratio the median of the rounds' ratios.\n")
out.append("| method | isolated step (ms) | trainer, per 128 images (ms) | trainer / step (goal) |")
out.append("| --- | ---: | ---: | ---: |")
per128 = lambda r: r["train_s"] / TRAIN_IMAGES * 128
for m in ("fp", "ttq", "slb1", "slb2"):
    out.append(f"| {m} | {1000 * over_rounds(lb_rounds, m, step_s):.1f} | "
               f"{1000 * over_rounds(le_rounds, m, per128):.1f} | "
               f"{ratio_rounds(le_rounds, lb_rounds, m, per128, f_den=step_s):.2f} (<= 1.05) |")
out.append("\n## SLB batch norm per epoch, lowbit, small_cnn (goal: SLB epoch with calibration "
           "<= 1.3x the FP epoch)\n")
out.append(f"The same epochs as above; the FP epoch is {over_rounds(le_rounds, 'fp', epoch):.2f} s. "
           "Seconds are medians over the rounds and x FP epoch the median of the rounds' ratios "
           "(bn_mode state and slbN-before: round 1 only, against round 1's FP epoch). calibrate_each_epoch: the "
           "calibration forward (10 batches) and one scoring of the test set; slbN-before adds the "
           "scoring before the calibration (`diag.before_calib = true`, metric "
           "`test_acc_before_calib`; off by default since schema 7, when it became an observation "
           "key). state: one discrete forward of every training batch (the state BN pass) and one "
           "scoring.\n")
out.append("| method | bn_mode | epoch (s) | x FP epoch | training (s) | x FP training "
           "| of it state BN pass (s) | calibration (s) | after training (s) |")
out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for m in ("slb1", "slb2", "slb1-before", "slb2-before", "slb1-state", "slb2-state"):
    e = lambda f: over_rounds(le_rounds, m, f)
    bn = [r["bn_mode"] for (_, k), r in le_rounds.items() if k == m][0]
    out.append(f"| {m} | {bn} | {e(epoch):.2f} | {ratio_rounds(le_rounds, le_rounds, m, epoch, 'fp'):.2f} | "
               f"{e(train):.2f} | {ratio_rounds(le_rounds, le_rounds, m, train, 'fp'):.2f} | "
               f"{e(lambda r: r['state_bn_s']):.2f} | {e(lambda r: r['calib_s']):.2f} | {e(evals):.2f} |")
text = "\n".join(out) + "\n"
open("bench/results/vs_python.md", "w").write(text)
print(text)
PY
