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
    if [ $((kills % 2)) -eq 0 ]; then
      kill -9 "$pid"                                     # the grid alone: workers die with it
    else
      kill -9 $(pgrep -P "$pid") "$pid" 2>/dev/null      # grid and workers at once (power loss)
    fi
    wait "$pid" 2>/dev/null
    kills=$((kills + 1)); [ "$delay_ms" -lt 1000 ] && early=$((early + 1))
    for _ in $(seq 50); do pgrep -f "worker --db $db " > /dev/null || break; sleep 0.1; done
    if [ -f "$db" ] && [ "$(sql "$db" 'PRAGMA integrity_check')" != ok ]; then
      bad_integrity=$((bad_integrity + 1)); fail "crash: integrity after kill $kills" "$(sql "$db" 'PRAGMA integrity_check' | head -1)"
    fi
    [ "$kills" -ge 200 ] && break
  done
  # The round's grid ran to its end: check it against the uninterrupted one.
  runs=$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'done'")
  total=$(sql "$db" "SELECT count(*) FROM runs")
  wrong_rows=$(sql "$db" "SELECT count(*) FROM (SELECT run_id, key, count(*) AS n FROM metrics GROUP BY 1, 2) WHERE n != $epochs")
  no_summary=$(sql "$db" "SELECT count(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM summaries s WHERE s.run_id = r.id AND s.key = 'final_test_acc')")
  metrics_dump "$db" > "$work/round.metrics" || : > "$work/round.metrics"
  if [ "$runs" = 8 ] && [ "$total" = 8 ] && [ "$wrong_rows" = 0 ] && [ "$no_summary" = 0 ] && cmp -s "$work/ref.metrics" "$work/round.metrics"; then
    pass "crash: round $rounds (kills so far $kills): 8/8 runs done once, $epochs rows per metric, metrics identical"
  else
    bad_rounds=$((bad_rounds + 1))
    fail "crash: round $rounds" "done $runs/8 (rows $total), metric counts off $wrong_rows, missing summaries $no_summary, metrics $(cmp -s "$work/ref.metrics" "$work/round.metrics" && echo same || echo differ)"
  fi
done
check "crash: at least $target_kills kills ($kills, $early under 1 s), integrity ok after each" test "$kills" -ge "$target_kills" -a "$bad_integrity" = 0
figure "SIGKILLs survived / tried (crash and resume)" "$((kills - bad_integrity)) / $kills ($early under 1 s from start, $rounds grids, $bad_rounds with a wrong result)"
