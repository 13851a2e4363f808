# Crash and resume: a grid SIGKILLed at random moments, again and again, must end with every
# run done exactly once, `epochs` rows per metric, metrics identical to an uninterrupted
# grid, and an intact database after every kill.
source "$(dirname "$0")/lib.sh"
work=$1
target_kills=${STRESS_KILLS:-24}
epochs=3
write_grid "$work/crash.json" crash 4 $epochs 384   # 8 runs

"$LOWBIT" grid "$work/crash.json" --db "$work/ref.db" --workers 2 --threads-per-worker 1 > "$work/ref.log" 2>&1 \
  || { fail "crash: reference grid" "$(tail -1 "$work/ref.log")"; exit 0; }
metrics_dump "$work/ref.db" > "$work/ref.metrics" && [ -s "$work/ref.metrics" ] \
  || { fail "crash: reference metrics" "cannot read $work/ref.db"; exit 0; }

kills=0 early=0 rounds=0 bad_integrity=0 bad_rounds=0

# kill_grid PID DB WHAT: SIGKILL the grid alone (its workers die with it) on even kills, the
# grid and its workers at once (a power cut) on odd ones; wait until every worker is gone,
# then check the database's integrity.
kill_grid() {
  if [ $((kills % 2)) -eq 0 ]; then kill -9 "$1"; else kill -9 $(pgrep -P "$1") "$1" 2>/dev/null; fi
  wait "$1" 2>/dev/null
  kills=$((kills + 1))
  for _ in $(seq 50); do pgrep -f "worker --db $2 " > /dev/null || break; sleep 0.1; done
  if [ -f "$2" ] && [ "$(sql "$2" 'PRAGMA integrity_check')" != ok ]; then
    bad_integrity=$((bad_integrity + 1)); fail "crash: integrity after kill $kills ($3)" "$(sql "$2" 'PRAGMA integrity_check' | head -1)"
  fi
}
RANDOM=${STRESS_SEED:-20261124}
while [ "$kills" -lt "$target_kills" ]; do
  rounds=$((rounds + 1))
  db="$work/crash$rounds.db"
  while true; do
    "$LOWBIT" grid "$work/crash.json" --db "$db" --workers 2 --threads-per-worker 1 >> "$work/crash$rounds.log" 2>&1 &
    pid=$!
    delay_ms=$((50 + RANDOM % 1950))   # 0.05 to 2 s after the start: some before any run exists
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; break; fi   # finished first: the round is over
    kill_grid "$pid" "$db" "at a random moment"
    [ "$delay_ms" -lt 1000 ] && early=$((early + 1))
    [ "$kills" -ge 200 ] && break
  done
  # The round's grid ran to its end: check it against the uninterrupted one.
  runs=$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'done'")
  total=$(sql "$db" "SELECT count(*) FROM runs")
  wrong_rows=$(wrong_metric_rows "$db" $epochs)
  no_summary=$(sql "$db" "SELECT count(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM summaries s WHERE s.run_id = r.id AND s.key = 'final_test_acc')")
  metrics_dump "$db" > "$work/round.metrics" || : > "$work/round.metrics"
  if [ "$runs" = 8 ] && [ "$total" = 8 ] && [ "$wrong_rows" = 0 ] && [ "$no_summary" = 0 ] && cmp -s "$work/ref.metrics" "$work/round.metrics"; then
    pass "crash: round $rounds (kills so far $kills): 8/8 runs done once, $epochs rows per metric, metrics identical"
  else
    bad_rounds=$((bad_rounds + 1))
    fail "crash: round $rounds" "done $runs/8 (rows $total), metric counts off $wrong_rows, missing summaries $no_summary, metrics $(cmp -s "$work/ref.metrics" "$work/round.metrics" && echo same || echo differ)"
  fi
done
# Kills that land inside an epoch's transaction for sure: the worker pauses before COMMIT
# (LOWBIT_FAULT_PAUSE, inert otherwise) and writes a mark; the kill follows the mark.
db="$work/commit.db" commit_kills=0
for i in $(seq 6); do
  rm -f "$work/mark"
  LOWBIT_FAULT_PAUSE=epoch-commit LOWBIT_FAULT_MARK="$work/mark" \
    "$LOWBIT" grid "$work/crash.json" --db "$db" --workers 2 --threads-per-worker 1 >> "$work/commit.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do [ -s "$work/mark" ] && break; sleep 0.05; done
  if [ ! -s "$work/mark" ]; then fail "crash: kill inside a transaction $i" "no worker reached the pause"; kill -9 "$pid"; wait "$pid"; continue; fi
  kill_grid "$pid" "$db" "inside a transaction"
  commit_kills=$((commit_kills + 1))
done
"$LOWBIT" grid "$work/crash.json" --db "$db" --workers 2 --threads-per-worker 1 >> "$work/commit.log" 2>&1
metrics_dump "$db" > "$work/commit.metrics" || : > "$work/commit.metrics"
check "crash: $commit_kills kills inside an epoch's transaction, then the grid: 8/8 done, metrics identical" \
  test "$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'done'")" = 8 -a \
  "$(wrong_metric_rows "$db" $epochs)" = 0
check "crash: metrics after kills inside transactions identical to the uninterrupted grid" cmp -s "$work/ref.metrics" "$work/commit.metrics"

check "crash: at least $target_kills kills ($kills, $early under 1 s), integrity ok after each" test "$kills" -ge "$target_kills" -a "$bad_integrity" = 0
figure "SIGKILLs survived / tried (crash and resume)" "$((kills - bad_integrity)) / $kills ($early under 1 s from start, $commit_kills inside an epoch's transaction; $rounds grids killed at random moments and 1 killed inside transactions, $bad_rounds with a wrong result)"
