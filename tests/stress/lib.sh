# Helpers shared by the stress sections (sourced, not run). Each check prints one line,
# "PASS name", "FAIL name: why" or "SKIP name: why", and appends it to $STRESS_LOG, which
# run.sh tallies; a skip is never counted as a pass.
LOWBIT=${LOWBIT:?set LOWBIT to the lowbit binary}
STRESS_LOG=${STRESS_LOG:?set STRESS_LOG}
FIGURES=${FIGURES:?set FIGURES}

pass() { echo "PASS $1" | tee -a "$STRESS_LOG"; }
fail() { echo "FAIL $1: $2" | tee -a "$STRESS_LOG"; }
skip() { echo "SKIP $1: $2" | tee -a "$STRESS_LOG"; }
check() {  # check NAME CONDITION-COMMAND... : PASS when the command succeeds
  local name=$1; shift
  if "$@"; then pass "$name"; else fail "$name" "check failed: $*"; fi
}
figure() { echo "$1|$2" >> "$FIGURES"; }  # figure "what" "value"

# expect_error NAME CODE MESSAGE CMD... : CMD exits CODE and prints exactly one line, MESSAGE.
expect_error() {
  local name=$1 code=$2 msg=$3; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then fail "$name" "exit $rc, expected $code: $(echo "$out" | tail -1)"; return 1; fi
  if [ "$(printf '%s\n' "$out" | wc -l)" != 1 ]; then fail "$name" "expected one line, got: $out"; return 1; fi
  if [ "$out" != "$msg" ]; then fail "$name" "message: $out"; return 1; fi
  pass "$name"
}

# expect_one_line NAME CODE PREFIX CMD... : exit CODE, the last line starts with PREFIX, and
# no LibTorch backtrace or abort appears.
expect_one_line() {
  local name=$1 code=$2 prefix=$3; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then fail "$name" "exit $rc, expected $code: $(echo "$out" | tail -1)"; return 1; fi
  if echo "$out" | grep -q 'frame #\|terminate called\|Aborted'; then fail "$name" "backtrace or abort"; return 1; fi
  case "$(echo "$out" | tail -1)" in "$prefix"*) pass "$name" ;; *) fail "$name" "last line: $(echo "$out" | tail -1)"; return 1 ;; esac
}

sql() { sqlite3 -batch -noheader "$@"; }

# A small synthetic grid: NAME, RUNS = 2 variants x SEEDS, EPOCHS epochs of TRAIN images.
write_grid() {  # write_grid FILE NAME SEEDS EPOCHS TRAIN
  cat > "$1" <<JSON
{"name": "$2",
 "base": {"data": {"name": "synthetic", "synthetic": {"train": $5, "test": 64, "size": 8, "classes": 4}},
          "batch_size": 32, "eval_batch_size": 64, "epochs": $4},
 "variants": {"fp": {}, "ttq": {"quant.method": "ttq"}},
 "seeds": $3}
JSON
}

# Metric series of DB whose length is not EPOCHS (0 when every run has one row per epoch).
wrong_metric_rows() {  # wrong_metric_rows DB EPOCHS
  sql "$1" "SELECT count(*) FROM (SELECT run_id, key, count(*) AS n FROM metrics GROUP BY 1, 2) WHERE n != $2"
}

# The metrics that must not depend on interruptions (timings and memory do).
metrics_dump() {  # metrics_dump DB -> "hash key epoch value" lines, sorted
  sql "$1" "SELECT r.config_hash, m.key, m.epoch, printf('%.17g', m.value) FROM metrics m JOIN runs r ON r.id = m.run_id
            WHERE m.key NOT LIKE '%seconds%' AND m.key NOT LIKE '%rss%' AND m.key NOT LIKE '%bytes%' AND m.key NOT LIKE '%per_second%'
            ORDER BY 1, 2, 3" || return 1
}
