# connect-warden — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(CURDIR)/target

.PHONY: demo test unit e2e stack-up build crds chart-files fmt lint flake-hunt bench-webhook bench-controller bench-scale bench-storm bench-clusters bench-lag deps

## Start the local stack, run webhook + controller, apply the examples and show what a user sees.
demo:
	bash scripts/demo.sh

## Everything CI runs: install what is missing, lint, unit tests, then the end-to-end tests on the real stack.
test:
	bash scripts/test.sh

## The end-to-end suite N times on one stack (CI's thread count); prints each failure by test name.
## FILTER=<name part> runs only the matching tests.
N ?= 5
flake-hunt:
	N=$(N) FILTER=$(FILTER) bash scripts/flake-hunt.sh

## Unit tests only (no servers).
unit:
	cargo test --workspace --exclude connect-warden-e2e

## Install toolchain pieces a fresh machine lacks (idempotent).
deps:
	bash scripts/deps.sh

## Build the binaries.
build:
	cargo build --workspace --bins

## Container images of the webhook, the controller and connect-warden-certs (release binaries, buildah).
.PHONY: images
images:
	bash scripts/images.sh

## Run the stack in the foreground (Ctrl-C stops it); `eval $$(cargo run -q -p connect-warden-stack -- env)` in another shell.
stack-up: build
	cargo run -q -p connect-warden-stack --bin cw-stack -- up --warden

## Regenerate deploy/crds from the Rust types (and the chart's copies).
crds:
	cargo run -q -p connect-warden-shared --bin crdgen
	$(MAKE) -s chart-files

## Copy the CRDs, alert rules and dashboard into the Helm chart (a test checks the copies).
chart-files:
	rm -f charts/connect-warden/crds/*.yaml
	cp deploy/crds/*.yaml charts/connect-warden/crds/
	cp deploy/monitoring/prometheusrule.yaml charts/connect-warden/files/
	cp deploy/monitoring/dashboards/connect-warden.json charts/connect-warden/files/dashboards/

## Benchmarks on the real stack (release builds); they print figures, they do not pass or fail on timers.
bench-webhook:
	bash scripts/bench.sh webhook $(ARGS)

bench-controller:
	bash scripts/bench.sh controller $(ARGS)

## Controller cost against fleet size (200, 500, 2,000, 5,000 connectors); writes docs/scale.svg.
bench-scale:
	bash scripts/bench.sh scale $(ARGS)

## A restart storm: 500 connectors whose tasks fail at once, then recover; request rate, recovery time, restarts lost or doubled.
bench-storm:
	bash scripts/bench.sh storm $(ARGS)

## Five KafkaConnectClusters on their own Connect worker groups, polled concurrently; URL sharing.
bench-clusters:
	bash scripts/bench.sh clusters $(ARGS)

## Sink lag beside kafka-consumer-groups, the time to Stalled and to Lagging beside the window, Kafka requests per measurement against the number of sinks.
bench-lag:
	bash scripts/bench.sh lag $(ARGS)

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
