#!/usr/bin/env bash
# Tests the Argo CD health check and resource actions against sample KafkaConnectors with Lua 5.1 (the
# dialect of Argo CD's gopher-lua) and Lua 5.4, installing them from Debian (lua5.1, lua5.4) when missing,
# and checks that actions.yaml is rendered from the current scripts in actions/.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
for v in 5.1 5.4; do
  command -v "lua$v" >/dev/null || missing+=("lua$v")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} from Debian" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for v in 5.1 5.4; do
  "lua$v" tests/run.lua health.lua
  "lua$v" tests/actions.lua
done

if ! diff -u actions.yaml <(./render-actions.sh); then
  echo "actions.yaml is stale: run deploy/argocd/render-actions.sh > deploy/argocd/actions.yaml" >&2
  exit 1
fi
echo "actions.yaml matches actions/"
