# Malformed definitions and --set values (definitions.cases): each exits 2 with exactly one
# line, the one recorded in definitions.expected. DEFINITIONS_WRITE=1 rewrites that file from
# the current messages (review the diff before committing it).
source "$(dirname "$0")/lib.sh"
work=$1
here=$(cd "$(dirname "$0")" && pwd)
expected="$here/definitions.expected"
actual="$work/actual"
: > "$actual"
cd "$work" || exit 1
set -f   # ARGS may hold globs ("zz*")

run_case() {  # run_case NAME KIND ARGS... (def.json already written) -> "NAME: exit CODE: MESSAGE"
  local name=$1 kind=$2; shift 2
  local out rc
  if [ "$kind" = grid ]; then
    out=$("$LOWBIT" grid def.json --dry-run "$@" 2>&1); rc=$?
  else
    rm -rf "$work/out"  # each case its own run: train refuses a folder that holds one
    out=$("$LOWBIT" train --config def.json --out "$work/out" --threads 1 "$@" 2>&1); rc=$?
  fi
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || out="(more than one line) $(printf '%s' "$out" | head -c 300 | tr '\n' '|')"
  printf '%s: exit %s: %s\n' "$name" "$rc" "$out" >> "$actual"
}

n=0
while IFS= read -r line; do
  case "$line" in '#'*|'') continue ;; esac
  name=${line%% ;; *}; rest=${line#* ;; }
  kind=${rest%% ;; *}; rest=${rest#* ;; }
  args=${rest%% ;; *}; def=${rest#* ;; }
  [ "$args" = "$rest" ] && { args=""; def=${rest#;; }; }
  printf '%s' "$def" > def.json
  read -ra argv <<< "$args"
  run_case "$name" "$kind" "${argv[@]}"
  n=$((n + 1))
done < "$here/definitions.cases"

# Generated: sizes no one writes by hand.
printf '{"name": "%s", "base": {"epochs": 1}}' "$(head -c 10000000 /dev/zero | tr '\0' 'a')" > def.json
run_case "10 MB name" grid; n=$((n + 1))
printf '{"name": "x", "base": {"quant": {"method": "%s"}}}' "$(head -c 10000000 /dev/zero | tr '\0' 'q')" > def.json
run_case "10 MB value" grid; n=$((n + 1))
{ printf '{"name": "x", "base": '; for _ in $(seq 10000); do printf '['; done; for _ in $(seq 10000); do printf ']'; done; printf '}'; } > def.json
run_case "10,000-deep nesting" grid; n=$((n + 1))
{ printf '{"name": "x", "base": {"epochs": 1}, "axes": {"optim.lr": ['; seq -s, 1 400 | tr -d '\n'; printf '], "optim.momentum": ['; seq -s, 1 300 | sed 's/[0-9]*/0.&/g' | tr -d '\n'; printf ']}}'; } > def.json
run_case "120,000-run grid" grid; n=$((n + 1))

bad_exit=$(grep -vc ': exit 2: ' "$actual")
if [ -n "${DEFINITIONS_WRITE:-}" ]; then
  cp "$actual" "$expected"
  echo "wrote $expected ($n cases)"
fi
if [ "$bad_exit" != 0 ]; then
  fail "definitions: every case exits 2 with one line" "$(grep -v ': exit 2: ' "$actual" | head -3 | cut -c1-300)"
fi
if diff <(cut -c1-2000 "$expected") <(cut -c1-2000 "$actual") > "$work/diff"; then
  pass "definitions: $n malformed definitions and --set values, each exit 2 with its exact one-line message"
else
  fail "definitions: messages differ from definitions.expected" "$(head -6 "$work/diff" | tr '\n' '|' | cut -c1-600)"
fi
figure "malformed definitions and --set values tried" "$n (exit 2 and the exact one-line message: $((n - bad_exit)))"
