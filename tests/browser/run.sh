#!/usr/bin/env bash
# The real-browser test of lowbit serve (make test): a live grid of 3 short runs, lowbit serve
# on it, and headless Chromium (tests/browser/serve_browser.py) loading its pages, watching the
# counts move and a curve grow, clicking a sort and a compare. Screenshots go to $SCREENSHOTS
# (default BUILD/browser-shots; SCREENSHOTS=docs/img refreshes the README's). About a minute.
# Without chromium (scripts/install-deps.sh installs it) it says skipped, never passed.
set -euo pipefail
build=${1:-build}
shots=${SCREENSHOTS:-$build/browser-shots}
if ! command -v chromium > /dev/null; then
  echo "browser: 0 passed, 0 failed, 1 skipped (no chromium: bash scripts/install-deps.sh)"
  exit 0
fi
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
cat > "$tmp/live.json" <<'JSON'
{"name": "live", "description": "the browser test's grid: three short runs, one at a time",
 "base": {"model": "small_cnn", "epochs": 10, "batch_size": 64,
          "data": {"name": "synthetic", "synthetic": {"train": 1500, "test": 500, "noise": 3.0}}},
 "variants": {"fp": {}, "ttq": {"quant.method": "ttq", "quant.threshold": 0.05}}, "seeds": 2}
JSON
"$build/lowbit" grid "$tmp/live.json" --db "$tmp/r.db" --workers 1 --threads-per-worker 2 > "$tmp/grid.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do "$build/lowbit" status --db "$tmp/r.db" > /dev/null 2>&1 && break; sleep 0.1; done
"$build/lowbit" serve --db "$tmp/r.db" --port 0 > "$tmp/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q 'http://' "$tmp/serve.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$tmp/serve.log")
mkdir -p "$shots"
status=0
/usr/bin/python3 "$(dirname "$0")/serve_browser.py" "$url" live "$shots" || status=$?
[ $status = 0 ] || { echo "--- grid:"; tail -5 "$tmp/grid.log"; echo "--- serve:"; tail -5 "$tmp/serve.log"; }
echo "browser: screenshots in $shots"
exit $status
