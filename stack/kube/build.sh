#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kubectl from the published Go modules pinned in go.mod/go.sum
# into the cache, once: a later run whose inputs (go.mod, go.sum, etcd/main.go, this script) hash the same
# does nothing. Needs only Go (and the Go module proxy, on the first run).
#
#   Cache root:  ${CW_CACHE_DIR:-$HOME/.cache/connect-warden}
#   Go caches:   $CACHE/go/mod (GOMODCACHE), $CACHE/go/build (GOCACHE)
#   Outputs:     $CACHE/kube-<version>/bin/{etcd,kube-apiserver,kubectl}
#
# Progress goes to stderr; the last line on stdout is the bin directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CW_CACHE_DIR:-$HOME/.cache/connect-warden}"

log() { echo "kube/build.sh: $*" >&2; }

command -v go >/dev/null 2>&1 || { log "go is not installed (Go 1.26+ is needed)"; exit 1; }

# The version of k8s.io/kubernetes pinned in go.mod names the output directory and goes into the binaries.
kube_version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")"
[[ "$kube_version" =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || { log "cannot read the k8s.io/kubernetes version from go.mod"; exit 1; }
kube_minor="${BASH_REMATCH[1]}"

out="$cache/kube-$kube_version"
bin="$out/bin"
stamp_file="$out/stamp"
stamp="$(cat "$here/go.mod" "$here/go.sum" "$here/etcd/main.go" "$here/build.sh" | sha256sum | cut -d' ' -f1)"

up_to_date() {
    [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]] &&
        [[ -x "$bin/etcd" && -x "$bin/kube-apiserver" && -x "$bin/kubectl" ]]
}

if up_to_date; then
    echo "$bin"
    exit 0
fi

mkdir -p "$out"
# One build at a time per cache (tests started in parallel would otherwise all build).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$cache/kube-$kube_version.lock"
    flock -n 9 || { log "another build holds $cache/kube-$kube_version.lock; waiting"; flock 9; }
    if up_to_date; then
        echo "$bin"
        exit 0
    fi
fi

export GOMODCACHE="$cache/go/mod"
export GOCACHE="$cache/go/build"
export CGO_ENABLED=0
# Use go.mod/go.sum exactly as committed; never rewrite them during a build.
export GOFLAGS="-mod=readonly -buildvcs=false"

version_pkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
ldflags="-s -w"
for pkg in "${version_pkgs[@]}"; do
    ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
done

start=$SECONDS
log "building etcd, kube-apiserver and kubectl $kube_version into $bin (first time only; takes a while)"
log "downloading modules into $GOMODCACHE"
(cd "$here" && go mod download)
log "modules ready after $((SECONDS - start))s; compiling"

tmp="$out/bin.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
(
    cd "$here"
    go build -trimpath -ldflags="$ldflags" -o "$tmp/" \
        ./etcd \
        k8s.io/kubernetes/cmd/kube-apiserver \
        k8s.io/kubernetes/cmd/kubectl
)
for b in etcd kube-apiserver kubectl; do
    [[ -x "$tmp/$b" ]] || { log "go build produced no $b"; exit 1; }
done

rm -rf "$bin"
mv "$tmp" "$bin"
echo "$stamp" >"$stamp_file"
log "built in $((SECONDS - start))s: $(du -sh "$bin" | cut -f1) of binaries in $bin"
echo "$bin"
