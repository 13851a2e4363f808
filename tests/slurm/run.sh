#!/bin/bash
# The cluster path on a real Slurm (issue 11, docs/CLUSTER.md): starts a throwaway single-node
# Slurm (tests/slurm/slurm-local.sh), then
#   grid A: more runs than tasks; waits; merges twice; every run done exactly once with all its
#           epochs, and the second merge changes nothing;
#   grid B: requeues one running task (scontrol requeue) and cancels another (scancel) in the
#           middle of their runs, resubmits, merges; only the missing work ran and every run is
#           done once, with every epoch once.
# Stops the daemons it started, removes its files, leaves nothing running. Needs root (slurmd
# launches jobs) and the Slurm packages (scripts/install-deps.sh); without them it says why
# and reports the test skipped. Prints PASS/FAIL/SKIP lines and "N passed, N failed, N skipped".
# Usage: bash tests/slurm/run.sh [BUILD_DIR]; SLURM_TEST_KEEP=1 keeps the work directory with
# Slurm's logs and a trace of the requeued task.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
LOWBIT=$build/lowbit
passed=0 failed=0 skipped=0
pass() { echo "PASS slurm: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL slurm: $1${2:+ ($2)}"; failed=$((failed + 1)); }
summary() { echo "slurm: $(($(date +%s) - start)) s"; echo "$passed passed, $failed failed, $skipped skipped"; }
start=$(date +%s)

skip_all() {
  echo "SKIP slurm: the real-Slurm test did not run: $1"
  skipped=1
  summary
  exit 0
}
[ "$(id -u)" -eq 0 ] || skip_all "not root (slurmd must run as root to launch jobs); run make test as root"
for p in slurmctld slurmd munged mungekey sbatch squeue scontrol scancel sqlite3; do
  command -v "$p" >/dev/null || skip_all "$p is not installed (scripts/install-deps.sh installs slurmctld slurmd slurm-client munge)"
done

W=$(mktemp -d /tmp/lowbit_slurm_XXXXXX)
chmod 755 "$W"  # munged wants every directory above its socket o+x
export D=$W/slurm
# Ports of our own, so that a Slurm already on this machine (or a leftover) is not disturbed.
export CPORT=$((20000 + RANDOM % 20000)) && export DPORT=$((CPORT + 1))
cleanup() {
  [ -z "${SLURM_TEST_KEEP:-}" ] || [ ! -d "$D/log" ] || cp -r "$D/log" "$W/slurm-log"
  bash "$root/tests/slurm/slurm-local.sh" down >/dev/null 2>&1
  [ -n "${SLURM_TEST_KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$D"
if ! bash "$root/tests/slurm/slurm-local.sh" up >"$W/up.log" 2>&1; then
  fail "a throwaway Slurm did not start" "$(tail -3 "$W/up.log" | tr '\n' ' ')"
  summary
  exit 1
fi
export SLURM_CONF=$D/slurm.conf
echo "slurm up in $(($(date +%s) - start)) s (ports $CPORT/$DPORT)"

sql() { sqlite3 -batch -noheader -cmd ".timeout 5000" "$@"; }
grid() { # grid FILE NAME SEEDS EPOCHS TRAIN SIZE
  cat >"$1" <<JSON
{"name": "$2",
 "base": {"data": {"name": "synthetic", "synthetic": {"train": $5, "test": 64, "size": $6, "classes": 4}},
          "batch_size": 32, "eval_batch_size": 64, "epochs": $4},
 "variants": {"fp": {}, "ttq": {"quant.method": "ttq"}},
 "seeds": $3}
JSON
}
job_of() { sed -n 's/^submitted job \([0-9]*\):.*/\1/p' "$1"; }
wait_job() { # wait_job JOB[_TASK] SECONDS: until squeue holds no task of it
  local t=0
  while [ -n "$(squeue -h -r -j "$1" -o %i 2>/dev/null)" ]; do
    sleep 0.5
    t=$((t + 1))
    [ $t -lt $(($2 * 2)) ] || return 1
  done
}
# Copies of run HASH that ended done, over every shard of DIR.
done_copies() { # done_copies DIR HASH
  local n=0 s
  for s in "$1"/shards/*.db; do n=$((n + $(sql "$s" "SELECT count(*) FROM runs WHERE config_hash = '$2' AND status = 'done'"))); done
  echo $n
}
# Metric series of DB whose length is not EPOCHS, and (run, epoch, key) rows that repeat.
wrong_series() { sql "$1" "SELECT count(*) FROM (SELECT run_id, key, count(*) AS n FROM metrics GROUP BY 1, 2) WHERE n != $2"; }
# Merges DIR into DB, then: RUNS runs done, EPOCHS rows per metric, each run done in one shard.
check_merged() { # check_merged NAME DIR DB RUNS EPOCHS
  local once=1 h n_done
  "$LOWBIT" merge --into "$3" "$2" >/dev/null || fail "merge $1"
  n_done=$(sql "$3" "SELECT count(*) FROM runs WHERE status = 'done'")
  [ "$n_done" = "$4" ] && pass "$1: $4 of $4 runs done" || fail "$1: $4 of $4 runs done" "$n_done"
  [ "$(wrong_series "$3" "$5")" = 0 ] && pass "$1: every metric has its $5 epochs, none twice" || fail "$1: $5 epochs per metric"
  for h in $(sql "$3" "SELECT config_hash FROM runs"); do [ "$(done_copies "$2" "$h")" = 1 ] || once=0; done
  [ $once = 1 ] && pass "$1: each run done in exactly one shard" || fail "$1: each run done in exactly one shard"
}

# ---- grid A: 8 runs on 3 tasks, at most 2 at once -----------------------------------------
grid "$W/a.json" slurm_a 4 3 256 8
"$LOWBIT" grid "$W/a.json" --backend slurm --shard-dir "$W/a" --tasks 3 --max-concurrent 2 >"$W/a.out" 2>&1
JA=$(job_of "$W/a.out")
if [ -z "$JA" ]; then fail "grid A submitted" "$(tail -2 "$W/a.out" | tr '\n' ' ')"; else pass "grid A submitted as job $JA"; fi
grep -q '^#SBATCH --array=0-2%2$' "$W/a/slurm_a.sbatch" && pass "sbatch script: --array=0-2%2" || fail "sbatch script: --array=0-2%2"
wait_job "$JA" 90 || fail "grid A ended within 90 s"
"$LOWBIT" status --shard-dir "$W/a" >"$W/a.status"
grep -q "done 8" "$W/a.status" && pass "status --shard-dir: done 8" || fail "status --shard-dir: done 8" "$(head -2 "$W/a.status" | tr '\n' ' ')"
check_merged "grid A" "$W/a" "$W/a.db" 8 3
shards=$(ls "$W/a/shards"/*.db | wc -l)
[ "$shards" -ge 2 ] && pass "grid A: $shards task shards (more runs than tasks, several runs per task)" || fail "grid A: several shards" "$shards"
before=$(sql "$W/a.db" .dump | sha256sum)
"$LOWBIT" merge --into "$W/a.db" "$W/a" >"$W/a.merge2"
[ "$(sql "$W/a.db" .dump | sha256sum)" = "$before" ] && grep -q "0 run(s) updated, 8 unchanged" "$W/a.merge2" &&
  pass "merging twice changes nothing" || fail "merging twice changes nothing" "$(head -1 "$W/a.merge2")"
"$LOWBIT" grid "$W/a.json" --backend slurm --shard-dir "$W/a" >"$W/a.again" 2>&1
grep -q "nothing to submit" "$W/a.again" && pass "grid A again: nothing to submit" || fail "grid A again: nothing to submit" "$(tail -1 "$W/a.again")"

# ---- grid B: 4 runs of 6 epochs on 2 tasks; requeue one task, cancel the other ------------
EPOCHS=6
grid "$W/b.json" slurm_b 2 $EPOCHS 4096 16
"$LOWBIT" grid "$W/b.json" --backend slurm --shard-dir "$W/b" --tasks 2 --requeue >"$W/b.out" 2>&1
JB=$(job_of "$W/b.out")
[ -n "$JB" ] && pass "grid B submitted as job $JB" || fail "grid B submitted" "$(tail -2 "$W/b.out" | tr '\n' ' ')"
# Both tasks in the middle of a run: at least one epoch recorded, not done.
mid_run() { [ -f "$W/b/shards/${JB}_$1.db" ] && [ "$(sql "$W/b/shards/${JB}_$1.db" "SELECT count(*) FROM runs WHERE status = 'running' AND epoch BETWEEN 1 AND $((EPOCHS - 2))" 2>/dev/null)" = 1 ]; }
t=0
until mid_run 0 && mid_run 1; do
  sleep 0.2
  t=$((t + 1))
  [ $t -lt 300 ] || break
done
running_hash() { sql "$W/b/shards/${JB}_$1.db" "SELECT config_hash || ' at epoch ' || epoch FROM runs WHERE status = 'running'"; }
if mid_run 0 && mid_run 1; then
  # One at a time: Slurm 22.05 has been seen to drop a requeued task that was pending while
  # another task of its array was being cancelled, which is Slurm's business, not this test's.
  R1=$(running_hash 1)
  scancel "${JB}_1"
  wait_job "${JB}_1" 20 || fail "the cancelled task left squeue within 20 s"
  t=0
  until mid_run 0; do
    sleep 0.2
    t=$((t + 1))
    [ $t -lt 150 ] || break
  done
  R0=$(running_hash 0)
  scontrol requeue "${JB}_0"
  pass "cancelled task ${JB}_1 (run $R1), then requeued task ${JB}_0 (run $R0), both in the middle of a run"
  # Slurm holds a requeued batch job for about 2 minutes; let it start again sooner. Not in
  # the same second as the requeue: slurmd still holds the old launch credential as revoked
  # (compared to the second), and slurmctld then kills the relaunch ("Job credential revoked").
  for _ in $(seq 1 50); do
    [ "$(squeue -h -j "${JB}_0" -o %T 2>/dev/null)" = PENDING ] && break
    sleep 0.2
  done
  sleep 2
  scontrol update jobid="${JB}_0" StartTime=now >/dev/null 2>&1
  squeue -h -r -j "$JB" -o "%i %T %r" >"$W/b.after-kills" 2>&1
else
  fail "both tasks of grid B caught in the middle of a run" "$(ls "$W/b/shards" 2>&1 | tr '\n' ' ')"
  R1="" R0=""  # the checks below then fail by name instead of stopping the script
fi
if [ -n "${SLURM_TEST_KEEP:-}" ]; then  # a trace of the requeued task, for debugging
  (for _ in $(seq 1 60); do date +%T.%N; scontrol show job "${JB}_0" 2>&1 | grep -E "JobId|JobState|Reason|Restarts|Eligible|StartTime"; sleep 0.5; done) >"$W/b.trace" 2>&1 &
fi
wait_job "$JB" 120 || fail "grid B's first array ended within 120 s"
H1=${R1%% *}
held=$(cat "$W/b/claims/$H1" 2>/dev/null)
[ "$held" = "${JB}_1" ] && pass "the cancelled task's run stays claimed, not trained by another task" || fail "cancelled run still claimed by ${JB}_1" "$held"
"$LOWBIT" grid "$W/b.json" --backend slurm --shard-dir "$W/b" >"$W/b.again" 2>&1
JB2=$(job_of "$W/b.again")
grep -q "1 claims of tasks that are gone released" "$W/b.again" && grep -q "1 to train" "$W/b.again" && [ -n "$JB2" ] &&
  pass "resubmission: 1 claim released, 1 run to train, job $JB2" || fail "resubmission trains only the missing run" "$(head -2 "$W/b.again" | tr '\n' ' ')"
[ -n "$JB2" ] && { wait_job "$JB2" 90 || fail "the resubmitted job ended within 90 s"; }
check_merged "grid B" "$W/b" "$W/b.db" 4 $EPOCHS
if [ -n "$JB2" ]; then
  s2="$W/b/shards/${JB2}_0.db"
  only=$(sql "$s2" "SELECT group_concat(config_hash) FROM runs")
  first=$(sql "$s2" "SELECT min(epoch) FROM metrics")
  [ "$only" = "$H1" ] && pass "the resubmitted task trained only the cancelled run" || fail "resubmitted task trained only $H1" "$only"
  [ "${first:-0}" -gt 1 ] && pass "the cancelled run resumed from its checkpoint (first epoch trained again: $first)" ||
    fail "cancelled run resumed from its checkpoint" "first epoch $first"
fi
H0=${R0%% *}
att=$(sql "$W/b/shards/${JB}_0.db" "SELECT attempts || ' ' || status FROM runs WHERE config_hash = '$H0'")
[ "$att" = "2 done" ] && pass "the requeued task resumed its own run as the same run (2 attempts, done)" || fail "requeued run resumed" "$att"
# Epochs trained in all, over every shard: the runs' epochs plus at most the one in progress at each kill.
trained=$(for s in "$W/b/shards"/*.db; do sql "$s" "SELECT count(DISTINCT run_id || '/' || epoch) FROM metrics"; done | awk '{s += $1} END {print s}')
echo "grid B: $trained epochs trained for 4 x $EPOCHS"
[ "$trained" -le $((4 * EPOCHS + 2)) ] && pass "grid B: $trained epochs trained for $((4 * EPOCHS)) (at most the two in progress at the kills again)" ||
  fail "grid B: work repeated" "$trained epochs for $((4 * EPOCHS))"
"$LOWBIT" grid "$W/b.json" --backend slurm --shard-dir "$W/b" >"$W/b.third" 2>&1
grep -q "nothing to submit" "$W/b.third" && pass "grid B again: nothing to submit" || fail "grid B again: nothing to submit"

# ---- leave nothing behind ------------------------------------------------------------------
[ -z "${SLURM_TEST_KEEP:-}" ] || cp -r "$D/log" "$W/slurm-log"
bash "$root/tests/slurm/slurm-local.sh" down >/dev/null 2>&1
left=$(pgrep -f "$W" || true)
[ -z "$left" ] && pass "nothing left running" || fail "processes left running" "$left"
cleanup
trap - EXIT
summary
[ "$failed" -eq 0 ]
