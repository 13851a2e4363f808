#!/usr/bin/env bash
# The GPU check, for a short loan of a GPU machine (docs/ARCHITECTURE.md, "LibTorch versions
# and the GPU"; bench/results/gpu.md). One command, about 8 minutes on 16 cores and one GPU:
#
#   here, once:  bash scripts/gpu-debs.sh            # the Debian -dev packages, ~19 MB
#   there:       bash scripts/gpu-check.sh "$OUT"    # carry: [".gpu-debs"]
#
# It builds lowbit against the machine's own PyTorch (torch.utils.cmake_prefix_path) with the
# carried packages unpacked into a prefix, runs the doctest cases that need a GPU, trains a
# quickstart-sized run on CUDA and on the CPU and compares them, times an epoch of ResNet-20
# on CIFAR-shaped synthetic data per method, measures runs per hour at K = 1, 2, 4, 8 workers
# per GPU, and last runs the whole doctest suite in parallel shards in the time left. Each
# phase has its own time limit and writes into OUT (summary.md first); a phase that fails
# does not stop the later ones. Without a GPU it does what it can (build, CPU tests) and says
# which phases it skipped: that is how it is tested on machines without one.
#
# Environment: BUILD_DIR (default /tmp/lowbit-gpu-build), DEBS (.gpu-debs), TORCH_PREFIX
# (default: from python3's torch), BUDGET (seconds for everything, default 470), JOBS (nproc).
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:-gpu-check-out}" && cd "${1:-gpu-check-out}" && pwd)
build=${BUILD_DIR:-/tmp/lowbit-gpu-build}
debs=${DEBS:-.gpu-debs}
budget=${BUDGET:-470}
jobs=${JOBS:-$(nproc)}
t0=$(date +%s)
summary=$out/summary.md
elapsed() { echo $(( $(date +%s) - t0 )); }
left() { echo $(( budget - $(elapsed) )); }
log() { echo "[gpu-check $(elapsed)s] $*" | tee -a "$out/log.txt" >&2; }
row() { echo "| $1 | $2 | $3 |" >> "$summary"; }  # phase, result, seconds

{
  echo "# GPU check: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  echo "| phase | result | seconds |"
  echo "| --- | --- | ---: |"
} > "$summary"

# --- 0. The machine -------------------------------------------------------------------------
{
  nvidia-smi --query-gpu=name,memory.total,memory.free,driver_version --format=csv 2>&1 || echo "nvidia-smi: none"
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "gpu", torch.cuda.is_available())' 2>&1
  nvcc --version 2>&1 | tail -1
  ${CXX:-g++} --version 2>&1 | head -1
  cmake --version 2>&1 | head -1
  echo "cores $(nproc)"
} > "$out/machine.txt"
gpu=0
python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null && gpu=1
log "machine: $(head -2 "$out/machine.txt" | tail -1); gpu=$gpu"

# --- 1. Dependencies: the carried .debs into a prefix --------------------------------------
prefix=/tmp/lowbit-deps
if compgen -G "$debs/*.deb" > /dev/null; then
  mkdir -p "$prefix"
  for f in "$debs"/*.deb; do
    if command -v dpkg-deb > /dev/null; then
      dpkg-deb -x "$f" "$prefix"
    else  # ar archive holding data.tar.*
      python3 - "$f" "$prefix" <<'PY'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
    pos += 60 + size + (size & 1)
PY
    fi
  done
  # Absolute links (libz.so -> /lib/x86_64-linux-gnu/libz.so.1.2.13) point into the prefix.
  find "$prefix" -type l -lname '/*' | while read -r l; do ln -sfn "$prefix$(readlink "$l")" "$l"; done
  # Debian keeps architecture-specific headers (OpenSSL's configuration.h) in a folder of their own.
  export CPATH="$prefix/usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}"
  row "dependencies" "$(ls "$debs"/*.deb | wc -l) packages unpacked into $prefix" "$(elapsed)"
else
  row "dependencies" "no $debs/*.deb: using the system's packages" "$(elapsed)"
fi

# --- 2. Build against this machine's LibTorch -----------------------------------------------
torch_prefix=${TORCH_PREFIX:-$(python3 -c 'import torch, os; print(torch.utils.cmake_prefix_path + ";" + os.path.dirname(torch.__file__))' 2>/dev/null)}
s=$(date +%s)
gen=(); command -v ninja > /dev/null && [ ! -f "$build/Makefile" ] && gen=(-G Ninja)
# The build gets what the later phases leave it; cut short, the same command on the still-warm
# machine resumes it (the build folder stays).
if timeout $(( $(left) - 150 > 60 ? $(left) - 150 : 60 )) bash -c '
  cmake -S . -B "$1" "${@:5}" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$2;$3/usr" > "$1.configure.log" 2>&1 &&
  cmake --build "$1" -j "$4" --target lowbit lowbit_torch lowbit_tests > "$1.build.log" 2>&1
' _ "$build" "$torch_prefix" "$prefix" "$jobs" "${gen[@]}"; then
  row "build (lowbit, lowbit-torch, lowbit_tests)" "ok, $jobs jobs" "$(( $(date +%s) - s ))"
  built=1
else
  tail -30 "$build.configure.log" "$build.build.log" > "$out/build-errors.txt" 2>/dev/null
  row "build" "FAILED (build-errors.txt)" "$(( $(date +%s) - s ))"
  built=0
fi
lowbit=$build/lowbit
# The carried libraries' own dependencies (cpp-httplib's Brotli and OpenSSL) are not found
# through the binaries' RUNPATH: name their folders.
[ -d "$prefix/usr/lib" ] && export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu:$prefix/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# --- 3. The doctest cases that need a GPU --------------------------------------------------
if [ $built = 1 ]; then
  s=$(date +%s)
  timeout 120 "$build/lowbit_tests" -tc='gpu:*' > "$out/tests-gpu.txt" 2>&1
  rc=$?
  row "doctest gpu:* (tests/cuda_test.cpp)" "rc $rc: $(grep -E '^\[doctest\] test cases:' "$out/tests-gpu.txt" | tail -1 | sed 's/\[doctest\] //')" "$(( $(date +%s) - s ))"
fi

# --- 4. A quickstart-sized run on CUDA and on the CPU ----------------------------------------
# The quickstart's model, batch, optimizer and epochs, on synthetic data of its size (no
# Fashion-MNIST here): 15,000 training and 10,000 test images, 2 epochs, FP and SLB 1-bit.
# Tolerance: per epoch, test accuracy within 1 point and training loss within 2% relative.
tmp=$(mktemp -d)
python3 -c 'import json, sys; json.dump(json.load(open(sys.argv[1]))["base"], open(sys.argv[2], "w"))' \
  configs/quickstart.json "$tmp/quick.json"
quick=(--config "$tmp/quick.json" --set data.name=synthetic --set data.synthetic.train=15000
       --set data.synthetic.test=10000 --set epochs=2)
if [ $built = 1 ] && [ $gpu = 1 ]; then
  s=$(date +%s)
  echo "| method | epoch | cpu test_acc | cuda test_acc | cpu train_loss | cuda train_loss | within |" > "$out/compare.md"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |" >> "$out/compare.md"
  ok=1
  for m in fp slb1; do
    sets=(); [ $m = slb1 ] && sets=(--set quant.method=slb --set quant.bits=1)
    for d in cpu cuda; do
      timeout 90 "$lowbit" train "${quick[@]}" "${sets[@]}" --device $d --threads 8 --out "$tmp/$m-$d" >> "$out/compare.log" 2>&1 || ok=0
    done
    python3 - "$tmp/$m-cpu/metrics.jsonl" "$tmp/$m-cuda/metrics.jsonl" "$m" >> "$out/compare.md" <<'PY' || ok=0
import json, sys
def rows(p):
    out = {}
    for line in open(p):
        r = json.loads(line)
        out.setdefault(r["epoch"], {})[r["key"]] = r["value"]
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
bad = 0
for e in sorted(a):
    ca, cb = a[e]["test_acc"], b[e]["test_acc"]
    la, lb = a[e]["train_loss"], b[e]["train_loss"]
    within = abs(ca - cb) <= 0.01 and abs(la - lb) <= 0.02 * abs(la)
    bad += not within
    print(f"| {sys.argv[3]} | {e} | {ca:.4f} | {cb:.4f} | {la:.4f} | {lb:.4f} | {'yes' if within else 'NO'} |")
sys.exit(1 if bad else 0)
PY
  done
  row "CPU vs CUDA, quickstart-sized (compare.md)" "$([ $ok = 1 ] && echo "within tolerance" || echo "OUTSIDE tolerance or failed")" "$(( $(date +%s) - s ))"
else
  row "CPU vs CUDA" "skipped (built=$built, gpu=$gpu)" 0
fi

# --- 5. An epoch of ResNet-20 per method ---------------------------------------------------
# 10,000 synthetic 3x32x32 images, batch 128, 2 epochs: the second epoch's train_seconds
# (the first pays cuDNN's and the allocator's warm-up), and images per second.
if [ $built = 1 ] && [ $gpu = 1 ]; then
  s=$(date +%s)
  echo "| method | epoch 2 train (s) | images / s | 50,000-image epoch (s, scaled) |" > "$out/resnet20.md"
  echo "| --- | ---: | ---: | ---: |" >> "$out/resnet20.md"
  r20=(--config "$tmp/quick.json" --set model=resnet20 --set data.name=synthetic --set data.synthetic.channels=3
       --set data.synthetic.size=32 --set data.synthetic.train=10000 --set data.synthetic.test=2000 --set epochs=2
       --device cuda --threads 2)
  for spec in "fp:" "ttq:quant.method=ttq" "slb1_state:quant.method=slb,quant.bits=1" \
              "slb1_nobn:quant.method=slb,quant.bits=1,quant.bn_mode=none" "slb2_state:quant.method=slb,quant.bits=2" \
              "slb2_nobn:quant.method=slb,quant.bits=2,quant.bn_mode=none"; do
    name=${spec%%:*}; sets=()
    IFS=, read -ra kv <<< "${spec#*:}"
    for x in "${kv[@]}"; do [ -n "$x" ] && sets+=(--set "$x"); done
    [ "$(left)" -lt 150 ] && { echo "| $name | (out of time) | | |" >> "$out/resnet20.md"; continue; }
    timeout 90 "$lowbit" train "${r20[@]}" "${sets[@]}" --out "$tmp/r20-$name" >> "$out/resnet20.log" 2>&1
    python3 - "$tmp/r20-$name/metrics.jsonl" "$name" >> "$out/resnet20.md" <<'PY'
import json, sys
t = {}
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        t.setdefault(r["epoch"], {})[r["key"]] = r["value"]
    e = t[2]
    print(f"| {sys.argv[2]} | {e['train_seconds']:.2f} | {e['images_per_second']:.0f} | {e['train_seconds'] * 5:.1f} |")
except Exception as ex:
    print(f"| {sys.argv[2]} | failed ({type(ex).__name__}) | | |")
PY
  done
  row "ResNet-20 epoch per method (resnet20.md)" "done" "$(( $(date +%s) - s ))"
else
  row "ResNet-20 epoch per method" "skipped (built=$built, gpu=$gpu)" 0
fi

# --- 6. Runs per hour at K workers per GPU ----------------------------------------------------
# 8 runs of small_cnn (1 epoch of 5,000 synthetic 28x28 images) per grid, a fresh database
# each: the wall time of the whole `lowbit grid`, process starts and CUDA contexts included.
if [ $built = 1 ] && [ $gpu = 1 ]; then
  s=$(date +%s)
  cat > "$tmp/k.json" <<'JSON'
{"name": "k", "base": {"model": "small_cnn", "epochs": 1, "batch_size": 128,
 "data": {"name": "synthetic", "synthetic": {"train": 5000, "test": 1000}}},
 "variants": {"fp": {}}, "seeds": 8}
JSON
  echo "| workers per GPU | wall (s) | runs / hour |" > "$out/workers.md"
  echo "| ---: | ---: | ---: |" >> "$out/workers.md"
  for k in 1 2 4 8; do
    [ "$(left)" -lt 90 ] && { echo "| $k | (out of time) | |" >> "$out/workers.md"; continue; }
    a=$(date +%s.%N)
    timeout 120 "$lowbit" grid "$tmp/k.json" --db "$tmp/k$k.db" --device cuda --workers-per-device $k \
      --threads-per-worker 1 >> "$out/workers.log" 2>&1
    rc=$?
    b=$(date +%s.%N)
    python3 -c "import sys; w = $b - $a; print(f'| $k | {w:.1f} | {8 / w * 3600:.0f} |' if $rc == 0 else '| $k | failed (rc $rc) | |')" >> "$out/workers.md"
  done
  "$lowbit" grid "$tmp/k.json" --db "$tmp/k1.db" --device cuda --workers auto 2>&1 | grep '^workers' >> "$out/workers.md"
  row "runs per hour, K = 1, 2, 4, 8 (workers.md)" "done" "$(( $(date +%s) - s ))"
else
  row "runs per hour" "skipped (built=$built, gpu=$gpu)" 0
fi

# --- 7. The whole doctest suite, in parallel shards, in the time left ----------------------
if [ $built = 1 ] && [ "$(left)" -gt 30 ]; then
  s=$(date +%s)
  find tests -name '*_test.cpp' -printf '%f\n' | sort > "$tmp/files"
  timeout $(( $(left) - 10 )) xargs -P "$jobs" -I{} sh -c \
    '"$1" -sf="*/{}" > "$2/{}.txt" 2>&1; echo "{} $?" >> "$2/rc"' _ "$build/lowbit_tests" "$tmp" < "$tmp/files"
  python3 - "$tmp" "$tmp/files" > "$out/tests-all.txt" <<'PY'
import re, sys, os
d, files = sys.argv[1], open(sys.argv[2]).read().split()
# Each shard counts the cases of other files as skipped too: the suite's own skips (the GPU
# cases on a machine without one) are its cases less those passed and failed.
tot = {"passed": 0, "failed": 0}
cases, unrun = 0, []
for f in files:
    p = os.path.join(d, f + ".txt")
    text = open(p).read() if os.path.exists(p) else ""
    m = re.search(r"test cases: *(\d+) \| *(\d+) passed \| *(\d+) failed \| *(\d+) skipped", text)
    if not m:
        unrun.append(f); continue
    cases = max(cases, int(m.group(2)) + int(m.group(3)) + int(m.group(4)))  # every case of the suite
    tot["passed"] += int(m.group(2)); tot["failed"] += int(m.group(3))
    if int(m.group(3)): print(text[-3000:])
skipped = cases - tot["passed"] - tot["failed"] if not unrun else "?"
print(f"{tot['passed']} passed, {tot['failed']} failed, {skipped} skipped; not finished in time: {' '.join(unrun) or 'none'}")
PY
  row "doctest, whole suite, $jobs shards" "$(tail -1 "$out/tests-all.txt")" "$(( $(date +%s) - s ))"
fi
rm -rf "$tmp"
echo >> "$summary"
echo "Total $(elapsed) s. Machine: machine.txt." >> "$summary"
cat "$summary"
grep -q 'FAILED\|OUTSIDE\|[1-9][0-9]* failed' "$summary" && exit 1
[ $gpu = 1 ] || { echo "gpu-check: no GPU here: only the CPU phases ran" >&2; exit 2; }
exit 0
