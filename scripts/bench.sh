#!/usr/bin/env bash
# `make bench-webhook|controller|scale|storm|clusters|lag`: release builds, one real stack (control plane,
# Kafka, Connect), then the benchmark example, which prints its figures.
# Usage: scripts/bench.sh webhook|controller|scale|storm|clusters|lag [args]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
usage="usage: bench.sh webhook|controller|scale|storm|clusters|lag [args]"
which="${1:?$usage}"
shift
case "$which" in
  webhook | controller | scale | storm | clusters | lag) ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

bash scripts/deps.sh
# One build with `make test`'s feature set (tests included), so the two share every artifact.
cargo build --release --workspace --bins --tests --example "bench_$which"
"$CARGO_TARGET_DIR/release/cw-stack" build >/dev/null

stack_dir="$CARGO_TARGET_DIR/bench-stack-$which"
env_file="$CARGO_TARGET_DIR/bench-stack-$which.env.json"
cw_stack="$CARGO_TARGET_DIR/release/cw-stack"
# CRDs installed, no shared webhook or controller: each benchmark runs its own.
rm -rf "$stack_dir" # a throwaway stack: never the remains of an earlier run
"$cw_stack" up --detach --dir "$stack_dir" --env-file "$env_file"
trap '"$cw_stack" down --env-file "$env_file"' EXIT
eval "$("$cw_stack" env "$env_file")"
kubectl apply --server-side -f deploy/crds >/dev/null
kubectl wait --for=condition=Established -f deploy/crds >/dev/null
CW_STACK_ENV="$env_file" CW_BIN_DIR="$CARGO_TARGET_DIR/release" \
  "$CARGO_TARGET_DIR/release/examples/bench_$which" "$@"
