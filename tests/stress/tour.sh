# The README's tour, as written, at smaller sizes: every `build/lowbit` line of its shell
# blocks runs in order in a scratch folder (configs copied, results/ and docs/ its own), each
# training command with fewer examples, one epoch and one seed added through --set, --epochs
# and --seeds (the lines that set them keep theirs); each must exit 0. The cluster lines need
# a Slurm cluster with a shared folder: skipped here (make test runs tests/slurm/run.sh).
source "$(dirname "$0")/lib.sh"
work=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$work" || exit 1
cp -r "$root/configs" configs
# The suite's commentary quotes the committed run's numbers, which a run at these sizes does not
# print, so lowbit suite would rightly refuse to write the results document (the check is
# tested in make test); the tour's copy goes without commentary.
rm -f configs/suite/*.md
mkdir -p results docs/results
ln -s "$(dirname "$LOWBIT")" build

# The tour's commands: the build/lowbit lines of the README's ```sh blocks, comments cut.
mapfile -t lines < <(awk '/^```sh/{f=1;next}/^```/{f=0}f' "$root/README.md" | grep '^build/lowbit ' | sed 's/  *# .*$//')
[ ${#lines[@]} -ge 20 ] || fail "tour: README's shell blocks" "only ${#lines[@]} build/lowbit lines found"

# The line as run here: smaller sizes for the commands that train, one report for --watch.
smaller() {
  local line=$1 sub
  sub=$(echo "$line" | awk '{print $2}')
  case "$sub" in
    train) line+=" --set data.train_limit=512 --set data.test_limit=256 --set epochs=1" ;;
    grid | suite)
      if [[ "$line" != *--dry-run* ]]; then
        # suite: each definition keeps its epochs (slb_budget's are an axis, which --epochs may not set)
        [[ "$line" == *--epochs* || "$sub" == suite ]] || line+=" --epochs 1"
        [[ "$line" == *--seeds* ]] || line+=" --seeds 1"
        [[ "$line" == *data.train_limit* ]] || line+=" --set data.train_limit=512"
        line+=" --set data.test_limit=256"
      fi ;;
    status) [[ "$line" == *--watch* ]] && line+=" --count 1" ;;
  esac
  # --settle keeps its looks and verdicts but adds no seeds (at most 1 a cell: the suite at
  # these sizes then takes about 2 minutes, not past the line's 300 s); what the README
  # writes to /tmp goes to the scratch folder, so that a second run finds no file there.
  line=$(echo "$line" | sed -E 's/--max-seeds [0-9]+/--max-seeds 1/; s# /tmp/# '"$PWD"'/#g')
  echo "$line"
}

t0=$(date +%s)
ran=0
for line in "${lines[@]}"; do
  if [[ "$line" == *--shard-dir* || "$line" == *"/shared/"* ]]; then
    skip "tour: $line" "needs a Slurm cluster and a shared folder (tests/slurm/run.sh covers the cluster path)"
    continue
  fi
  cmd=$(smaller "$line")
  out=$(timeout 300 bash -c "$cmd" 2>&1)
  rc=$?
  ran=$((ran + 1))
  if [ $rc -eq 0 ]; then pass "tour: $line"; else fail "tour: $line" "exit $rc: $(echo "$out" | tail -1)"; fi
done
figure "README tour: commands run (smaller sizes), seconds" "$ran, $(( $(date +%s) - t0 ))"
