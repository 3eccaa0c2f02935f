#!/usr/bin/env bash
# Builds the GitOps engine test programs (flux-apply: Flux's apply library and kstatus; argocd-lua: Argo CD's
# Lua health checks and actions) from the Go modules pinned in go.mod/go.sum into the cache, once: a later run
# whose inputs (go.mod, go.sum, the Go sources, this script, ../lib/go-build.sh) hash the same does nothing. Needs only Go (and
# the Go module proxy, on the first run).
#
#   Cache root:  ${CW_CACHE_DIR:-$HOME/.cache/connect-warden}
#   Go caches:   $CACHE/go/mod (GOMODCACHE), $CACHE/go/build (GOCACHE), shared with ../kube/build.sh
#   Outputs:     $CACHE/gitops-<inputs hash>/bin/{flux-apply,argocd-lua}
#
# Progress goes to stderr; the last line on stdout is the bin directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CW_CACHE_DIR:-$HOME/.cache/connect-warden}"
programs=(flux-apply argocd-lua)

log() { echo "gitops/build.sh: $*" >&2; }
# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"

command -v go >/dev/null 2>&1 || { log "go is not installed (Go 1.26+ is needed)"; exit 1; }

# Every input, in a stable order, so that any change to them builds anew into a new directory.
inputs() {
    (cd "$here" && find build.sh ../lib/go-build.sh go.mod go.sum cmd -type f \( -name '*.go' -o -name 'go.*' -o -name '*.sh' \) | LC_ALL=C sort)
}
stamp="$(cd "$here" && inputs | xargs cat | sha256sum | cut -d' ' -f1)"
out="$cache/gitops-${stamp:0:16}"
bin="$out/bin"

up_to_date() {
    local p
    for p in "${programs[@]}"; do
        [[ -x "$bin/$p" ]] || return 1
    done
}

go_build_prepare "$cache/gitops.lock"
# Never fetch another Go toolchain either.
export GOTOOLCHAIN=local

start=$SECONDS
log "building ${programs[*]} into $bin (first time only)"
go_build_modules
(cd "$here" && go build -trimpath -ldflags="-s -w" -o "$tmp/" ./cmd/...)
go_build_install "${programs[@]}"
# Older builds of these programs are of no further use.
for old in "$cache"/gitops-*; do
    [[ "$old" == "$out" || ! -d "$old" ]] || rm -rf "$old"
done
log "built in $((SECONDS - start))s: $(du -sh "$bin" | cut -f1) in $bin"
echo "$bin"
