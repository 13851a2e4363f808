# Signals: SIGINT, SIGTERM, a double SIGINT, and a worker killed alone. Each ends promptly
# with the right exit code, marks no run falsely done, and the same command then finishes
# the grid with every run done once and `epochs` rows per metric.
source "$(dirname "$0")/lib.sh"
work=$1
epochs=4
write_grid "$work/g.json" sig 1 $epochs 1500   # 2 runs, slow enough to interrupt

wait_for() {  # wait_for DB SQL TARGET: poll a count until it reaches TARGET (30 s at most)
  for _ in $(seq 300); do
    [ -f "$1" ] && [ "$(sql "$1" "$2" 2>/dev/null || echo 0)" -ge "$3" ] 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
finishes_cleanly() {  # finishes_cleanly NAME DB: the same command completes the grid exactly
  local db=$2
  "$LOWBIT" grid "$work/g.json" --db "$db" --threads-per-worker 1 > "$work/again.log" 2>&1
  local rc=$? done rows
  done=$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'done'")
  rows=$(wrong_metric_rows "$db" $epochs)
  check "$1: the same command then finishes: exit 0, 2/2 done, $epochs rows per metric" test "$rc" = 0 -a "$done" = 2 -a "$rows" = 0
}

one_signal() {  # one_signal NAME SIGNALS...: signals sent 0.2 s apart once an epoch is recorded
  local name=$1; shift
  local db="$work/$name.db"
  "$LOWBIT" grid "$work/g.json" --db "$db" --threads-per-worker 1 > "$work/$name.log" 2>&1 &
  local pid=$!
  if ! wait_for "$db" "SELECT count(*) FROM metrics WHERE key = 'test_acc'" 1; then
    fail "$name" "no epoch recorded within 30 s"; kill -9 "$pid"; return
  fi
  local t0; t0=$(date +%s%N)
  for s in "$@"; do kill -s "$s" "$pid"; sleep 0.2; done
  wait "$pid"; local rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  check "$name: exit 130 within 15 s (${ms} ms)" test "$rc" = 130 -a "$ms" -lt 15000
  check "$name: no run falsely done" test \
    "$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'done' AND (SELECT count(*) FROM metrics m WHERE m.run_id = runs.id AND m.key = 'test_acc') != $epochs")" = 0
  # One signal lets each worker mark its run interrupted; a second kills them at once (the
  # next grid reclaims the runs they held, which finishes_cleanly checks).
  [ $# -eq 1 ] && check "$name: every run it held is marked interrupted, none left running" test \
    "$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'running'")" = 0 -a \
    "$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'interrupted'")" -ge 1
  check "$name: integrity ok" test "$(sql "$db" 'PRAGMA integrity_check')" = ok
  figure "$name: time from signal to exit" "${ms} ms"
  finishes_cleanly "$name" "$db"
}

one_signal "signals: SIGINT" INT
grep -q "interrupted; " "$work/signals: SIGINT.log" && pass "signals: SIGINT: the grid says how to resume" || fail "signals: SIGINT: the grid says how to resume" "$(tail -1 "$work/signals: SIGINT.log")"
one_signal "signals: SIGTERM" TERM
one_signal "signals: double SIGINT" INT INT

# A worker killed alone (the OOM killer): the grid notices, the run resumes from its checkpoint.
db="$work/alone.db"
"$LOWBIT" grid "$work/g.json" --db "$db" --threads-per-worker 1 > "$work/alone.log" 2>&1 &
pid=$!
if wait_for "$db" "SELECT count(*) FROM metrics WHERE key = 'test_acc'" 1; then
  worker=$(sql "$db" "SELECT pid FROM runs WHERE status = 'running' LIMIT 1")
  kill -9 "$worker"
  wait "$pid"; rc=$?
  check "signals: worker killed alone: the grid finishes both runs (exit $rc)" test "$rc" = 0 -a "$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'done'")" = 2
  check "signals: worker killed alone: the grid says a worker died (signal 9)" grep -q "worker(s) died without finishing their run (last: worker killed by signal 9)" "$work/alone.log"
  check "signals: worker killed alone: $epochs rows per metric, the run resumed (attempts 2)" test \
    "$(wrong_metric_rows "$db" $epochs)" = 0 -a \
    "$(sql "$db" "SELECT max(attempts) FROM runs")" = 2
else
  fail "signals: worker killed alone" "no epoch recorded within 30 s"; kill -9 "$pid"
fi
