# Ctrl-C at random moments, STRESS_INTERRUPTS times (50 by default): while the definition is
# read, runs registered, workers started, epochs written or checkpoints saved. Each time the
# grid must exit 130 (or 0 when it had already finished), leave no run `running` and none
# falsely done, keep the database intact, and mark each run it stopped `interrupted` with a
# message; the same command then finishes the grid with one row per epoch and metric. A
# database whose grid finished is replaced, so that later interrupts land in a running grid.
source "$(dirname "$0")/lib.sh"
work=$1
epochs=3
n=${STRESS_INTERRUPTS:-50}
write_grid "$work/g.json" intr 2 $epochs 800   # 4 runs, a few seconds in all
RANDOM=${STRESS_SEED:-7}

bad_exit=0 left_running=0 false_done=0 silent=0 corrupt=0 finished=0 interrupted_runs=0
db="$work/i.db"
for i in $(seq "$n"); do
  "$LOWBIT" grid "$work/g.json" --db "$db" --workers 2 --threads-per-worker 1 > "$work/i.log" 2>&1 &
  pid=$!
  sleep "$((RANDOM % 2)).$(printf '%03d' $((RANDOM % 1000)))"   # 0 to 2 s
  kill -INT "$pid" 2>/dev/null
  wait "$pid"; rc=$?
  [ "$rc" = 130 ] || [ "$rc" = 0 ] || { bad_exit=$((bad_exit + 1)); echo "interrupt $i: exit $rc: $(tail -1 "$work/i.log")" >> "$work/bad"; }
  [ -f "$db" ] || continue   # stopped before the database was created
  [ "$(sql "$db" 'PRAGMA integrity_check')" = ok ] || corrupt=$((corrupt + 1))
  left_running=$((left_running + $(sql "$db" "SELECT count(*) FROM runs WHERE status = 'running'")))
  false_done=$((false_done + $(sql "$db" "SELECT count(*) FROM runs WHERE status = 'done' AND
      (SELECT count(*) FROM metrics m WHERE m.run_id = runs.id AND m.key = 'test_acc') != $epochs")))
  silent=$((silent + $(sql "$db" "SELECT count(*) FROM runs WHERE status = 'interrupted' AND coalesce(error, '') = ''")))
  interrupted_runs=$((interrupted_runs + $(sql "$db" "SELECT count(*) FROM runs WHERE status = 'interrupted'")))
  if [ "$(sql "$db" "SELECT count(*) FROM runs WHERE status != 'done'")" = 0 ]; then
    finished=$((finished + 1))
    [ "$i" -lt "$n" ] && rm -rf "$db" "$db-wal" "$db-shm" "$db.runs"
  fi
done
check "interrupts: $n Ctrl-C at random moments: every exit 130 (or 0 when already finished)" test "$bad_exit" = 0
[ -f "$work/bad" ] && head -3 "$work/bad"
check "interrupts: no run left running after any of them" test "$left_running" = 0
check "interrupts: no run falsely done" test "$false_done" = 0
check "interrupts: every interrupted run says why" test "$silent" = 0
check "interrupts: integrity ok after every one" test "$corrupt" = 0
"$LOWBIT" grid "$work/g.json" --db "$db" --workers 2 --threads-per-worker 1 > "$work/last.log" 2>&1
rc=$?
check "interrupts: the same command then finishes: exit 0, 4/4 done, $epochs rows per metric" test \
  "$rc" = 0 -a "$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'done'")" = 4 -a "$(wrong_metric_rows "$db" $epochs)" = 0
figure "Ctrl-C at random moments: interrupts, grids that finished between them, interrupted runs found (summed over checks)" "$n, $finished, $interrupted_runs"
