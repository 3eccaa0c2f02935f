#!/usr/bin/env bash
# The README's test command (`make test`): lint, unit tests, then the end-to-end tests against one real
# stack (etcd + kube-apiserver + kubectl built from Go modules, a KRaft broker and Connect workers from
# Maven-resolved jars, and connect-warden's webhook and controller) shared by all tests.
# Builds and jars are cached under ~/.cache/connect-warden/, so only the first run pays for them.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

t0=$(date +%s)
results="$CARGO_TARGET_DIR/test-results.log"
mkdir -p "$CARGO_TARGET_DIR"
: > "$results"
phase() { echo; echo "=== $* (t+$(( $(date +%s) - t0 ))s)"; }
# shellcheck source=scripts/e2e-stack.sh
source scripts/e2e-stack.sh

phase "dependencies"
bash scripts/deps.sh

phase "format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
bash scripts/dependency-checks.sh

phase "build ($profile)"
# Everything the later phases run, the end-to-end test binary and the images' binaries included, in one
# compile with the whole workspace's features: a `-p` selection would unify features differently and compile
# again while the stack runs.
cargo build "${cargo_profile[@]}" --workspace --bins --tests

phase "control plane, Kafka jars, GitOps programs, helm and actionlint (cached after the first run)"
"$cw_stack" build

phase "unit tests"
# The targets built above, so nothing compiles again: a plain `cargo test` would also build every benchmark
# example (which clippy has checked) with full optimisation, for nothing it runs.
cargo test "${cargo_profile[@]}" --workspace --exclude connect-warden-e2e --lib --bins --tests 2>&1 | tee -a "$results"
cargo test "${cargo_profile[@]}" --workspace --exclude connect-warden-e2e --doc 2>&1 | tee -a "$results"

phase "Prometheus rules (promtool) and the Argo CD health check (Lua)"
bash deploy/monitoring/check.sh
bash deploy/argocd/test.sh

phase "container images (the release binaries built above, buildah; the end-to-end tests run them with podman)"
CW_PREBUILT=$([ "$profile" = release ] && echo 1) bash scripts/images.sh

phase "start the stack"
start_e2e_stack stack

phase "end-to-end tests"
status=0
e2e_log="$CARGO_TARGET_DIR/e2e.log"
# shellcheck disable=SC2119 # no arguments: the whole suite
run_e2e 2>&1 | tee "$e2e_log" || status=$?
cat "$e2e_log" >> "$results"
if [ $status -ne 0 ]; then
  {
    echo "end-to-end tests failed; the stack's logs are kept in $stack_dir/logs:"
    for f in "$stack_dir"/logs/*.log; do
      echo "----- last lines of $f"
      tail -n 20 "$f" | cut -c1-400 || true
    done
    echo "----- memory and disk"
    free -m || true
    df -h "$CARGO_TARGET_DIR" || true
    # Last, so that a reader of only the end of this output sees what failed and why.
    echo "----- what failed (the test binary's own report; the whole run is in $e2e_log)"
    if grep -q '^failures:$' "$e2e_log"; then
      sed -n '/^failures:$/,$p' "$e2e_log" | cut -c1-600 | tail -n 120
    else
      tail -n 40 "$e2e_log"
    fi
  } >&2
fi
phase "done (exit $status)"
# One closing line for all cargo test runs together.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1); if ($i ~ /^ignored/) s += $(i-1) } }
     END { printf "summary: %d passed, %d failed, %d skipped\n", p, f, s }' "$results"
exit $status
