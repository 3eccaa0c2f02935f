#!/usr/bin/env bash
# The dependency checks of `make test` ("format and lint" phase); fails on any finding:
# - cargo-shear: a dependency declared in a Cargo.toml that no code of its crate uses, or one only its tests
#   use that is not a dev-dependency;
# - cargo-deny with deny.toml: a license outside the allow list, a banned crate, a wildcard version, a
#   source other than the default registry. Crates in two versions are listed as warnings only.
# Security advisories are NOT checked: cargo-deny reads them from the RustSec advisory database, a git
# repository that the project's machines cannot fetch (they reach package registries only), so
# `cargo deny check advisories` fails on the download before it checks anything.
# scripts/deps.sh installs both tools (pinned versions) into the cache directory used here.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CW_CACHE_DIR:-$HOME/.cache/connect-warden}/cargo-tools/bin:$PATH"
for tool in cargo-shear cargo-deny; do
  command -v "$tool" >/dev/null || { echo "dependency-checks: $tool is missing: run scripts/deps.sh (make deps)" >&2; exit 1; }
done

cargo shear

# --locked: check the graph that Cargo.lock pins, never a re-resolved one. Without --hide-inclusion-graph a
# finding also shows which crates pull it in.
cargo deny --locked check --hide-inclusion-graph licenses bans sources
