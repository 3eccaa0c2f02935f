#!/usr/bin/env bash
# Checks the PrometheusRule with promtool: syntax (`promtool check rules`) and the alert unit tests in
# tests/ (`promtool test rules`). Installs promtool from Debian's `prometheus` package when it is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v promtool >/dev/null; then
  echo "promtool not found: installing Debian's prometheus package" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Never start the Prometheus server the package ships, on hosts where services start on install.
  export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The rule groups are the PrometheusRule's `spec`, which is its last key: cut it out and de-indent it.
sed -n '/^spec:/,$p' "$here/prometheusrule.yaml" | sed '1d; s/^  //' > "$work/connect-warden.rules.yaml"
cp "$here"/tests/*.yaml "$work/"

promtool check rules "$work/connect-warden.rules.yaml"
cd "$work"
promtool test rules ./*_test.yaml
