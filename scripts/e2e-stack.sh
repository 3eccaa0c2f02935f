# shellcheck shell=bash
# Sourced by test.sh and flake-hunt.sh: the one shared stack the end-to-end tests run against, started the
# same way for both (the shared webhook and controller, Prometheus and Alertmanager, 2 s polls).
# Sets cw_stack, stack_dir and env_file; start_e2e_stack returns once the stack is up and stops it on exit.
#
# One compile serves the whole run: the tests, the stack's webhook and controller and the container images all
# use the release binaries (CW_PROFILE=debug for a quicker local loop).
profile="${CW_PROFILE:-release}"
cargo_profile=()
[ "$profile" = release ] && cargo_profile=(--release)
export CW_BIN_DIR="$CARGO_TARGET_DIR/$profile"
cw_stack="$CW_BIN_DIR/cw-stack"

start_e2e_stack() {
  stack_dir="$CARGO_TARGET_DIR/${1:-stack}"
  env_file="$CARGO_TARGET_DIR/${1:-stack}.env.json"
  # Returns once the stack is up (printing its log when it fails to start); it runs on in the background.
  "$cw_stack" up --detach --warden --monitoring --dir "$stack_dir" --env-file "$env_file" \
    --controller-args "--poll-interval-seconds 2 --lag-interval-seconds 2 --progress-window-seconds 20"
  # A stack that cannot be stopped is reported, but the exit status stays the tests' own.
  trap '"$cw_stack" down --env-file "$env_file" || echo "cw-stack down failed" >&2' EXIT
}

# The end-to-end test binary on the running stack, with CI's thread count, and the controller's Kafka client
# tests against the stack's broker (`#[ignore]`d where no stack runs, so included here); extra arguments go
# to the test binaries.
run_e2e() {
  CW_STACK_ENV="$env_file" cargo test "${cargo_profile[@]}" --workspace --no-fail-fast --test e2e --test kafka_client \
    -- --include-ignored --test-threads "${E2E_THREADS:-4}" "$@"
}
