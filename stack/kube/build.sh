#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from the published Go modules pinned in go.mod/go.sum
# into the cache, once: a later run whose inputs (go.mod, go.sum, etcd/main.go, this script,
# ../lib/go-build.sh) hash the same does nothing. Needs only Go (and the Go module proxy, on the first run).
#
#   Cache root:  ${CW_CACHE_DIR:-$HOME/.cache/connect-warden}
#   Go caches:   $CACHE/go/mod (GOMODCACHE), $CACHE/go/build (GOCACHE)
#   Outputs:     $CACHE/kube-<version>/bin/{etcd,kube-apiserver,kube-controller-manager,kubectl}
#
# Progress goes to stderr; the last line on stdout is the bin directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CW_CACHE_DIR:-$HOME/.cache/connect-warden}"

log() { echo "kube/build.sh: $*" >&2; }
# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"

command -v go >/dev/null 2>&1 || { log "go is not installed (Go 1.26+ is needed)"; exit 1; }

# The version of k8s.io/kubernetes pinned in go.mod names the output directory and goes into the binaries.
kube_version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")"
[[ "$kube_version" =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || { log "cannot read the k8s.io/kubernetes version from go.mod"; exit 1; }
kube_minor="${BASH_REMATCH[1]}"

out="$cache/kube-$kube_version"
bin="$out/bin"
stamp_file="$out/stamp"
stamp="$(cat "$here/go.mod" "$here/go.sum" "$here/etcd/main.go" "$here/build.sh" "$here/../lib/go-build.sh" | sha256sum | cut -d' ' -f1)"

up_to_date() {
    [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]] &&
        [[ -x "$bin/etcd" && -x "$bin/kube-apiserver" && -x "$bin/kube-controller-manager" && -x "$bin/kubectl" ]]
}

go_build_prepare "$cache/kube-$kube_version.lock"

version_pkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
ldflags="-s -w"
for pkg in "${version_pkgs[@]}"; do
    ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
done

start=$SECONDS
log "building etcd, kube-apiserver, kube-controller-manager and kubectl $kube_version into $bin (first time only; takes a while)"
log "downloading modules into $GOMODCACHE"
go_build_modules
(
    cd "$here"
    go build -trimpath -ldflags="$ldflags" -o "$tmp/" \
        ./etcd \
        k8s.io/kubernetes/cmd/kube-apiserver \
        k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kubectl
)
go_build_install etcd kube-apiserver kube-controller-manager kubectl
echo "$stamp" >"$stamp_file"
log "built in $((SECONDS - start))s: $(du -sh "$bin" | cut -f1) of binaries in $bin"
echo "$bin"
