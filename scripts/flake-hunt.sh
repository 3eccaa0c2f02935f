#!/usr/bin/env bash
# `make flake-hunt N=5 [FILTER=<test name part>]`: the end-to-end suite N times on one stack, started as
# `make test` starts it, with CI's thread count. Prints each failure with its test name as it happens, and a
# table of failures per test at the end; every run's output is kept in target/flake-hunt/run-<i>.log.
# Exit status: 0 when every run passed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
n="${N:-5}"
filter=()
[ -n "${FILTER:-}" ] && filter=("$FILTER")

# shellcheck source=scripts/e2e-stack.sh
source scripts/e2e-stack.sh
bash scripts/deps.sh
cargo build "${cargo_profile[@]}" --workspace --bins --tests
"$cw_stack" build >/dev/null
CW_PREBUILT=$([ "$profile" = release ] && echo 1) bash scripts/images.sh
start_e2e_stack flake-stack

logs="$CARGO_TARGET_DIR/flake-hunt"
rm -rf "$logs"
mkdir -p "$logs"
failed_runs=0
for i in $(seq 1 "$n"); do
  log="$logs/run-$i.log"
  t=$SECONDS
  status=0
  run_e2e "${filter[@]}" >"$log" 2>&1 || status=$?
  result=$(grep -E '^test result:' "$log" | tail -1 || true)
  echo "run $i/$n: exit $status after $((SECONDS - t)) s; ${result:-no result line (see $log)}"
  if [ $status -ne 0 ]; then
    failed_runs=$((failed_runs + 1))
    # The names under the binary's closing `failures:` list; each one's own report is in the log.
    sed -n '/^failures:$/,/^test result:/p' "$log" | grep -E '^    [A-Za-z0-9_:]+$' \
      | sed 's/^ *//' | tee -a "$logs/failures.txt" | sed "s/^/  failed in run $i: /"
  fi
done
echo
echo "flake-hunt: $((n - failed_runs)) of $n runs passed"
if [ -s "$logs/failures.txt" ]; then
  echo "failures per test:"
  sort "$logs/failures.txt" | uniq -c | sort -rn
fi
[ $failed_runs -eq 0 ]
