# Storage faults: missing directory, a file that is not a database (left byte-identical), a
# newer schema, an immutable database file, a read-only mount and a full disk. Each is a
# one-line error with a non-zero exit and no run falsely done; readers still read what they
# can. The cases that need root (chattr, mount) are reported skipped without it.
source "$(dirname "$0")/lib.sh"
work=$1
write_grid "$work/g.json" st 1 2 128   # 2 runs, 2 epochs

# Every run marked done has its epochs of test_acc and a final summary.
no_false_done() {  # no_false_done DB EPOCHS
  [ "$(sql "$1" "SELECT count(*) FROM runs r WHERE r.status = 'done' AND (
      (SELECT count(*) FROM metrics m WHERE m.run_id = r.id AND m.key = 'test_acc') != $2 OR
      NOT EXISTS (SELECT 1 FROM summaries s WHERE s.run_id = r.id AND s.key = 'final_test_acc'))")" = 0 ]
}

expect_error "storage: missing directory" 2 \
  "lowbit: --db $work/nodir/r.db: directory $work/nodir does not exist (create it or choose another --db)" \
  "$LOWBIT" grid "$work/g.json" --db "$work/nodir/r.db"
expect_error "storage: status of a missing database" 2 \
  "lowbit: $work/none.db: no such results database (run lowbit grid first, or pass --db)" \
  "$LOWBIT" status --db "$work/none.db"

head -c 8192 /dev/urandom > "$work/junk.db"
before=$(sha256sum < "$work/junk.db")
expect_one_line "storage: grid on a file that is not a database" 2 "lowbit: $work/junk.db: " "$LOWBIT" grid "$work/g.json" --db "$work/junk.db"
expect_one_line "storage: status on a file that is not a database" 2 "lowbit: $work/junk.db: " "$LOWBIT" status --db "$work/junk.db"
expect_one_line "storage: query on a file that is not a database" 2 "lowbit: $work/junk.db: " "$LOWBIT" query runs --db "$work/junk.db"
check "storage: the file that is not a database is left byte-identical" test "$(sha256sum < "$work/junk.db")" = "$before"
check "storage: no -wal or -shm left beside it" test ! -e "$work/junk.db-wal" -a ! -e "$work/junk.db-shm"

"$LOWBIT" grid "$work/g.json" --db "$work/new.db" --threads-per-worker 1 > /dev/null 2>&1
sql "$work/new.db" "UPDATE schema_version SET version = 99"
expect_one_line "storage: a newer schema is refused" 2 "lowbit: $work/new.db: schema version 99 is newer than this lowbit" \
  "$LOWBIT" grid "$work/g.json" --db "$work/new.db"

if [ "$(id -u)" != 0 ]; then
  for c in "immutable database file" "read-only mount" "disk full"; do skip "storage: $c" "needs root (chattr, mount)"; done
  exit 0
fi

# An immutable file: readers read it; the grid cannot write and says so in one line.
mkdir -p "$work/imm"
"$LOWBIT" grid "$work/g.json" --db "$work/imm/r.db" --threads-per-worker 1 > /dev/null 2>&1
sql "$work/imm/r.db" "UPDATE runs SET status = 'pending' WHERE id = 2"   # one run left to do
if chattr +i "$work/imm/r.db" 2>/dev/null; then
  expect_one_line "storage: status on an immutable database" 0 "" "$LOWBIT" status --db "$work/imm/r.db"
  expect_one_line "storage: query on an immutable database" 0 "(2 rows)" "$LOWBIT" query runs --db "$work/imm/r.db"
  expect_one_line "storage: grid on an immutable database" 2 "lowbit: $work/imm/r.db: " "$LOWBIT" grid "$work/g.json" --db "$work/imm/r.db"
  chattr -i "$work/imm/r.db"
  check "storage: the immutable database's runs are unchanged" test "$(sql "$work/imm/r.db" "SELECT group_concat(status) FROM runs")" = "done,pending"
else
  skip "storage: immutable database file" "chattr +i is not supported on $(df --output=fstype "$work" | tail -1)"
fi

# A read-only mount.
mkdir -p "$work/ro"
if mount -t tmpfs -o size=16m tmpfs "$work/ro" 2>/dev/null; then
  "$LOWBIT" grid "$work/g.json" --db "$work/ro/r.db" --threads-per-worker 1 > /dev/null 2>&1
  sql "$work/ro/r.db" "UPDATE runs SET status = 'pending' WHERE id = 2"
  mount -o remount,ro "$work/ro"
  expect_one_line "storage: status on a read-only mount" 0 "" "$LOWBIT" status --db "$work/ro/r.db"
  expect_one_line "storage: query on a read-only mount" 0 "(2 rows)" "$LOWBIT" query runs --db "$work/ro/r.db"
  expect_one_line "storage: report on a read-only mount" 0 "report: $work/rep/report.md" "$LOWBIT" report --db "$work/ro/r.db" --experiment st --out "$work/rep"
  expect_one_line "storage: grid on a read-only mount" 2 "lowbit: " "$LOWBIT" grid "$work/g.json" --db "$work/ro/r.db"
  umount "$work/ro"
else
  skip "storage: read-only mount" "mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)"
fi

# A full disk: a small tmpfs that holds the database but not every checkpoint.
mkdir -p "$work/full"
if mount -t tmpfs -o size=1200k tmpfs "$work/full" 2>/dev/null; then
  write_grid "$work/big.json" full 2 3 256   # 4 runs
  out=$("$LOWBIT" grid "$work/big.json" --db "$work/full/r.db" --threads-per-worker 1 2>&1); rc=$?
  check "storage: disk full: exit 3" test "$rc" = 3
  check "storage: disk full: no backtrace, no abort" eval "! echo \"\$out\" | grep -q 'frame #\\|terminate called'"
  case "$(echo "$out" | tail -1)" in
    "lowbit: grid stopped: a run found the disk full ("*"then run the same command with --retry-failed") pass "storage: disk full: the last line says what to free" ;;
    *) fail "storage: disk full: the last line says what to free" "$(echo "$out" | tail -1)" ;;
  esac
  check "storage: disk full: the run is failed with 'disk full writing <path>'" \
    test "$(sql "$work/full/r.db" "SELECT count(*) FROM runs WHERE status = 'failed' AND error LIKE 'disk full writing $work/full/%'")" -ge 1
  check "storage: disk full: no run falsely done, none left running" eval "no_false_done '$work/full/r.db' 3 && test \"\$(sql '$work/full/r.db' \"SELECT count(*) FROM runs WHERE status = 'running'\")\" = 0"
  check "storage: disk full: integrity ok" test "$(sql "$work/full/r.db" 'PRAGMA integrity_check')" = ok
  # Free the space (a bigger file system) and finish with --retry-failed.
  mount -o remount,size=64m "$work/full"
  "$LOWBIT" grid "$work/big.json" --db "$work/full/r.db" --threads-per-worker 1 --retry-failed > /dev/null 2>&1
  check "storage: disk full: after freeing space, --retry-failed finishes every run" \
    test "$(sql "$work/full/r.db" "SELECT count(*) FROM runs WHERE status = 'done'")" = 4
  umount "$work/full"
else
  skip "storage: disk full" "mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)"
fi
