# Fuzzing: builds the libFuzzer targets (clang, ASan, UBSan; tests/fuzz/build.sh), replays
# every committed corpus input (regressions included), then fuzzes each target for
# FUZZ_SECONDS (default 60), two at a time. Any crash, sanitizer report, leak, uncaught
# exception or timeout fails the section and leaves the input in the log.
source "$(dirname "$0")/lib.sh"
work=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-60}
out=${FUZZ_BUILD:-$(dirname "$LOWBIT")/fuzz}
targets=(experiment config idx cifar)
if ! command -v clang++ > /dev/null; then
  for t in "${targets[@]}"; do skip "fuzz: $t" "clang++ is not installed (scripts/install-deps.sh installs it)"; done
  exit 0
fi
if ! bash "$root/tests/fuzz/build.sh" "$out" > "$work/build.log" 2>&1; then
  fail "fuzz: build" "$(tail -3 "$work/build.log" | tr '\n' '|')"; exit 0
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

fuzz_one() {  # fuzz_one TARGET: replay the corpus, then fuzz for $secs seconds
  local t=$1 corpus="$work/corpus_$t"
  mkdir -p "$corpus"
  cp "$root/tests/fuzz/corpus/$t/"* "$corpus/"
  if ! "$out/fuzz_$t" -runs=0 "$root/tests/fuzz/corpus/$t/"* > "$work/$t.replay.log" 2>&1; then
    echo "FAIL fuzz: $t: a committed corpus input fails: $(grep -m1 'ERROR\|runtime error\|terminate' "$work/$t.replay.log")" >> "$work/$t.result"
    return
  fi
  (cd "$work" && "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      -artifact_prefix="$work/$t-" "$corpus" > "$work/$t.log" 2>&1)
  local rc=$? runs
  runs=$(grep -o 'Done [0-9]* runs' "$work/$t.log" | grep -o '[0-9]*')
  if [ $rc -eq 0 ] && [ -n "$runs" ]; then
    echo "PASS fuzz: $t: $runs executions in $secs s, no crash, leak or sanitizer report" >> "$work/$t.result"
    echo "$runs" > "$work/$t.runs"
  else
    echo "FAIL fuzz: $t: exit $rc: $(grep -m1 'ERROR\|runtime error\|terminate\|deadly' "$work/$t.log") (input: $(ls "$work/$t-"* 2>/dev/null | head -1))" >> "$work/$t.result"
  fi
}
fuzz_one experiment & fuzz_one config & wait
fuzz_one idx & fuzz_one cifar & wait
total=0
for t in "${targets[@]}"; do
  cat "$work/$t.result" | tee -a "$STRESS_LOG"
  [ -f "$work/$t.runs" ] && { total=$((total + $(cat "$work/$t.runs"))); figure "fuzz executions: $t ($secs s, ASan+UBSan)" "$(cat "$work/$t.runs")"; }
done
figure "fuzz executions, all targets" "$total"
