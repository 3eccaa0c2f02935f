#!/usr/bin/env bash
# Builds helm and actionlint from the Go modules pinned in go.mod/go.sum into the cache, once: a later run
# whose inputs (go.mod, go.sum, this script, ../lib/go-build.sh) hash the same does nothing. Needs only Go
# (and the Go module proxy, on the first run).
#
#   Cache root:  ${CW_CACHE_DIR:-$HOME/.cache/connect-warden}
#   Go caches:   $CACHE/go/mod (GOMODCACHE), $CACHE/go/build (GOCACHE), shared with ../kube/build.sh
#   Outputs:     $CACHE/tools-<inputs hash>/bin/{helm,actionlint}
#
# Progress goes to stderr; the last line on stdout is the bin directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CW_CACHE_DIR:-$HOME/.cache/connect-warden}"
programs=(helm actionlint)

log() { echo "tools/build.sh: $*" >&2; }
# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"

command -v go >/dev/null 2>&1 || { log "go is not installed (Go 1.26+ is needed)"; exit 1; }

stamp="$(cd "$here" && cat build.sh ../lib/go-build.sh go.mod go.sum | sha256sum | cut -d' ' -f1)"
out="$cache/tools-${stamp:0:16}"
bin="$out/bin"

up_to_date() {
    local p
    for p in "${programs[@]}"; do
        [[ -x "$bin/$p" ]] || return 1
    done
}

go_build_prepare "$cache/tools.lock"
# Never fetch another Go toolchain either.
export GOTOOLCHAIN=local

# The versions pinned in go.mod, stamped into the binaries as their own release builds do.
helm_version="$(awk '$1 == "helm.sh/helm/v4" { print $2; exit }' "$here/go.mod")"
actionlint_version="$(awk '$1 == "github.com/rhysd/actionlint" { print $2; exit }' "$here/go.mod")"
[[ -n "$helm_version" && -n "$actionlint_version" ]] || { log "cannot read the versions from go.mod"; exit 1; }

start=$SECONDS
log "building helm $helm_version and actionlint $actionlint_version into $bin (first time only)"
go_build_modules
(
    cd "$here"
    go build -trimpath -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version" \
        -o "$tmp/" helm.sh/helm/v4/cmd/helm
    go build -trimpath -ldflags="-s -w -X github.com/rhysd/actionlint.version=${actionlint_version#v}" \
        -o "$tmp/" github.com/rhysd/actionlint/cmd/actionlint
)
go_build_install "${programs[@]}"
# Older builds of these programs are of no further use.
for old in "$cache"/tools-*; do
    [[ "$old" == "$out" || ! -d "$old" ]] || rm -rf "$old"
done
log "built in $((SECONDS - start))s: $(du -sh "$bin" | cut -f1) in $bin"
echo "$bin"
