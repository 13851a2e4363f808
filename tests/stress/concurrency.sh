# Concurrency: three grids on one database (two of them the same experiment, racing for its
# runs) and a reader loop (status, query, report) while they write. Zero "locked" or "busy"
# errors, every run done exactly once (attempts 1), exact row counts.
source "$(dirname "$0")/lib.sh"
work=$1
db="$work/r.db"
epochs=2
write_grid "$work/a.json" conc_a 4 $epochs 1024   # 8 runs
write_grid "$work/b.json" conc_b 3 $epochs 1024   # 6 runs
"$LOWBIT" grid "$work/a.json" --db "$db" --dry-run > /dev/null || { fail "concurrency: definitions" "dry run failed"; exit 0; }

"$LOWBIT" grid "$work/a.json" --db "$db" --workers 2 --threads-per-worker 1 > "$work/a1.log" 2>&1 & a1=$!
"$LOWBIT" grid "$work/a.json" --db "$db" --workers 2 --threads-per-worker 1 > "$work/a2.log" 2>&1 & a2=$!
"$LOWBIT" grid "$work/b.json" --db "$db" --workers 1 --threads-per-worker 1 > "$work/b.log" 2>&1 & b=$!
reads=0 read_errors=0
while kill -0 $a1 2>/dev/null || kill -0 $a2 2>/dev/null || kill -0 $b 2>/dev/null; do
  for i in 1 2 3 4; do
    case $i in
      1) set -- status --db "$db" ;;
      2) set -- query runs --db "$db" ;;
      3) set -- query --db "$db" --sql "SELECT count(*) FROM metrics" ;;
      4) set -- report --db "$db" --experiment conc_a --out "$work/rep" --tables main ;;
    esac
    [ -f "$db" ] || continue
    if ! "$LOWBIT" "$@" >> "$work/reader.log" 2>&1; then
      # Before the first grid has created the schema, registered its experiment or finished a
      # run, a reader has nothing to read yet, and says so (the torch-free front answers within
      # milliseconds, so it meets the fresh file too); anything else is a failed read.
      tail -1 "$work/reader.log" | grep -q "no experiment\|unknown experiment\|no such table\|no runs table\|has no finished runs yet" || read_errors=$((read_errors + 1))
    fi
    reads=$((reads + 1))
  done
done
wait $a1; r1=$?; wait $a2; r2=$?; wait $b; rb=$?
locked=$(cat "$work"/*.log | grep -ci "locked\|busy")
check "concurrency: three grids exit 0 ($r1, $r2, $rb)" test "$r1$r2$rb" = 000
check "concurrency: zero locked/busy errors in $reads reads and 5 workers' writes" test "$locked" = 0
check "concurrency: every read succeeded ($read_errors failed)" test "$read_errors" = 0
check "concurrency: 14 runs done, each once (attempts 1)" test \
  "$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 1")" = 14 -a "$(sql "$db" "SELECT count(*) FROM runs")" = 14
check "concurrency: exactly $epochs rows per metric per run" test \
  "$(wrong_metric_rows "$db" $epochs)" = 0 -a \
  "$(sql "$db" "SELECT count(DISTINCT run_id) FROM metrics WHERE key = 'test_acc'")" = 14
check "concurrency: integrity ok" test "$(sql "$db" 'PRAGMA integrity_check')" = ok
figure "concurrency: locked/busy errors (3 grids, 5 workers, reader loop)" "$locked in $reads reads"
