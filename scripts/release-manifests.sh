#!/usr/bin/env bash
# Renders what a release attaches besides the chart package, for images at <registry>/{webhook,controller,certs}:<version>:
#   connect-warden-crds.yaml                  the CRDs (apply first, server-side)
#   connect-warden-self-managed.yaml          kubectl kustomize deploy/overlays/self-managed
#   connect-warden-cert-manager.yaml          kubectl kustomize deploy/overlays/cert-manager
#   connect-warden-monitoring.yaml            kubectl kustomize deploy/monitoring
#   connect-warden-helm-self-managed.yaml     helm template of the chart, release connect-warden
#   connect-warden-helm-cert-manager.yaml     the same with webhook.certificates=certManager
# Needs kubectl and helm on PATH. The release workflow runs it; the e2e tests run it too.
#
#   scripts/release-manifests.sh <version> <registry> <output directory>
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 <version> <registry> <output directory>" >&2; exit 2; }
version="$1" registry="$2" out="$3"
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for f in "$root"/deploy/crds/*.yaml; do
  echo "---"
  cat "$f"
done >"$out/connect-warden-crds.yaml"

# Each overlay through a kustomization that only sets the images (kustomize reads the overlay in place).
for overlay in self-managed cert-manager; do
  dir="$work/$overlay"
  mkdir -p "$dir"
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources:"
    # Relative: kustomize refuses an absolute path here.
    echo "  - $(realpath --relative-to="$dir" "$root/deploy/overlays/$overlay")"
    echo "images:"
    for c in webhook controller certs; do
      echo "  - name: connect-warden/$c"
      echo "    newName: $registry/$c"
      echo "    newTag: \"$version\""
    done
  } >"$dir/kustomization.yaml"
  kubectl kustomize "$dir" >"$out/connect-warden-$overlay.yaml"
done
kubectl kustomize "$root/deploy/monitoring" >"$out/connect-warden-monitoring.yaml"

# The chart as released: its version and appVersion (the images' tag) are the release's.
cp -r "$root/charts/connect-warden" "$work/chart"
helm package "$work/chart" --version "$version" --app-version "$version" --destination "$work" >/dev/null
chart="$work/connect-warden-$version.tgz"
for mode in selfManaged certManager; do
  case "$mode" in
    selfManaged) file=connect-warden-helm-self-managed.yaml ;;
    certManager) file=connect-warden-helm-cert-manager.yaml ;;
  esac
  helm template connect-warden "$chart" --namespace connect-warden \
    --set "webhook.certificates=$mode" \
    --set "controller.image.repository=$registry/controller" \
    --set "webhook.image.repository=$registry/webhook" \
    --set "certs.image.repository=$registry/certs" >"$out/$file"
done
ls -1 "$out"
