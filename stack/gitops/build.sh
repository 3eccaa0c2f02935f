#!/usr/bin/env bash
# Builds the GitOps engine test programs (flux-apply: Flux's apply library and kstatus; argocd-lua: Argo CD's
# Lua health checks and actions) from the Go modules pinned in go.mod/go.sum into the cache, once: a later run
# whose inputs (go.mod, go.sum, the Go sources, this script) hash the same does nothing. Needs only Go (and
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

command -v go >/dev/null 2>&1 || { log "go is not installed (Go 1.26+ is needed)"; exit 1; }

# Every input, in a stable order, so that any change to them builds anew into a new directory.
inputs() {
    (cd "$here" && find build.sh go.mod go.sum cmd -type f \( -name '*.go' -o -name 'go.*' -o -name '*.sh' \) | LC_ALL=C sort)
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

if up_to_date; then
    echo "$bin"
    exit 0
fi

mkdir -p "$cache"
# One build at a time per cache (tests started in parallel would otherwise all build).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$cache/gitops.lock"
    flock -n 9 || { log "another build holds $cache/gitops.lock; waiting"; flock 9; }
    if up_to_date; then
        echo "$bin"
        exit 0
    fi
fi

export GOMODCACHE="$cache/go/mod"
export GOCACHE="$cache/go/build"
export CGO_ENABLED=0
# Use go.mod/go.sum exactly as committed; never rewrite them, never fetch another Go toolchain.
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOTOOLCHAIN=local

start=$SECONDS
log "building ${programs[*]} into $bin (first time only)"
(cd "$here" && go mod download)
log "modules ready after $((SECONDS - start))s; compiling"

tmp="$out/bin.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
(cd "$here" && go build -trimpath -ldflags="-s -w" -o "$tmp/" ./cmd/...)
for p in "${programs[@]}"; do
    [[ -x "$tmp/$p" ]] || { log "go build produced no $p"; exit 1; }
done

rm -rf "$bin"
mv "$tmp" "$bin"
# Older builds of these programs are of no further use.
for old in "$cache"/gitops-*; do
    [[ "$old" == "$out" || ! -d "$old" ]] || rm -rf "$old"
done
log "built in $((SECONDS - start))s: $(du -sh "$bin" | cut -f1) in $bin"
echo "$bin"
