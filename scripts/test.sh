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

phase "dependencies"
bash scripts/deps.sh

phase "format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

phase "build"
cargo build --workspace --bins --tests

phase "control plane, Kafka jars, GitOps programs, helm and actionlint (cached after the first run)"
"$CARGO_TARGET_DIR/debug/cw-stack" build

phase "unit tests"
cargo test --workspace --exclude connect-warden-e2e 2>&1 | tee -a "$results"

phase "Prometheus rules (promtool) and the Argo CD health check (Lua)"
bash deploy/monitoring/check.sh
bash deploy/argocd/test.sh

phase "container images (release binaries, buildah; the end-to-end tests run them with podman)"
bash scripts/images.sh

phase "start the stack"
stack_dir="$CARGO_TARGET_DIR/stack"
env_file="$CARGO_TARGET_DIR/stack.env.json"
cw_stack="$CARGO_TARGET_DIR/debug/cw-stack"
# Returns once the stack is up (printing its log when it fails to start); it runs on in the background.
"$cw_stack" up --detach --warden --monitoring --dir "$stack_dir" --env-file "$env_file" \
  --controller-args "--poll-interval-seconds 2"
trap '"$cw_stack" down --env-file "$env_file"' EXIT

phase "end-to-end tests"
status=0
CW_STACK_ENV="$env_file" cargo test -p connect-warden-e2e --test e2e -- --test-threads "${E2E_THREADS:-4}" 2>&1 \
  | tee -a "$results" || status=$?
if [ $status -ne 0 ]; then
  echo "end-to-end tests failed; the stack's logs are kept in $stack_dir/logs:" >&2
  for f in "$stack_dir"/logs/*.log; do
    echo "----- last lines of $f" >&2
    tail -n 30 "$f" >&2 || true
  done
fi
phase "done (exit $status)"
# One closing line for all cargo test runs together.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1); if ($i ~ /^ignored/) s += $(i-1) } }
     END { printf "summary: %d passed, %d failed, %d skipped\n", p, f, s }' "$results"
exit $status
