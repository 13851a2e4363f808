#!/usr/bin/env bash
# Where a training step's time goes: LibTorch's profiler over 10 steps of small_cnn at batch
# 128, 2 threads (lowbit_bench profile), as self time per operator per step, for full precision
# and the method given (default: slb 1). Writes bench/results/profile.md and prints it.
# Usage: bash bench/profile.sh [METHOD BITS]
source "$(dirname "$0")/lib.sh"
method=${1:-slb}
bits=${2:-1}
build/lowbit_bench profile small_cnn fp 32 "$tmp/fp.json"
build/lowbit_bench profile small_cnn "$method" "$bits" "$tmp/q.json"
out=bench/results/profile.md
python3 - "$tmp/fp.json" "$tmp/q.json" "$method $bits" "$(git rev-parse --short HEAD)" > "$out" <<'PY'
import collections, json, sys
STEPS = 13  # lowbit_bench profile: 3 warm-up + 10 timed steps, all traced

def self_times(path):
    events = [e for e in json.load(open(path)) if e.get("ph") == "X"]
    by_thread = collections.defaultdict(list)
    for e in events:
        by_thread[e["tid"]].append(e)
    self_t, calls = collections.Counter(), collections.Counter()
    for es in by_thread.values():
        es.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in es:
            while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
                stack.pop()
            if stack:
                self_t[stack[-1]["name"]] -= e["dur"]
            self_t[e["name"]] += e["dur"]
            calls[e["name"]] += 1
            stack.append(e)
    return {k: v / 1000 / STEPS for k, v in self_t.items()}, {k: v // STEPS for k, v in calls.items()}

fp, fp_calls = self_times(sys.argv[1])
q, q_calls = self_times(sys.argv[2])
print(f"# Where the step goes: small_cnn, batch 128, 2 threads\n")
print(f"`bash bench/profile.sh {sys.argv[3]}` at commit {sys.argv[4]}: LibTorch's profiler over 13 "
      "steps (3 warm-up, 10 timed), self time per operator, ms per step. The profiler slows "
      "small operators; read shares, not absolute times.\n")
for name, t in (("full precision", fp), (sys.argv[3], q)):
    total = sum(t.values())
    memory_bound = sum(v for k, v in t.items() if any(s in k for s in (
        "batch_norm", "threshold_backward", "clamp_min", "fill_", "max_pool2d", "relu")))
    conv = sum(v for k, v in t.items() if "convolution" in k)
    print(f"{name}: {total:.1f} ms per step; convolutions {conv:.1f} ms ({100 * conv / total:.0f}%), "
          f"batch norm, ReLU, pooling and tensor fills (fill_) {memory_bound:.1f} ms "
          f"({100 * memory_bound / total:.0f}%).\n")
print("| operator | full precision | " + sys.argv[3] + " |")
print("| --- | ---: | ---: |")
names = sorted(set(fp) | set(q), key=lambda k: -max(fp.get(k, 0), q.get(k, 0)))[:20]
for k in names:
    print(f"| `{k}` | {fp.get(k, 0):.2f} | {q.get(k, 0):.2f} |")
PY
cat "$out"
