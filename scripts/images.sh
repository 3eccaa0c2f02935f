#!/usr/bin/env bash
# `make images`: the container images of the webhook, the controller, connect-warden-certs and cwctl, built with
# buildah from the release binaries (cargo) and the thin Dockerfiles in deploy/docker.
#
# The base (glibc, libgcc, CA certificates, user 65532 "nonroot"; no shell, no package manager) is made
# from Debian packages with mmdebstrap, because public base images cannot be pulled everywhere this runs.
# It is cached under ~/.cache/connect-warden/ (or $CW_CACHE_DIR), keyed by its recipe and package versions.
# BASE_IMAGE=<image> uses that base instead (e.g. distroless cc-debian12:nonroot).
#
# Images: localhost/connect-warden/{webhook,controller,certs,cli}:$CW_IMAGE_TAG (default `dev`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
tag="${CW_IMAGE_TAG:-dev}"
cache="${CW_CACHE_DIR:-$HOME/.cache/connect-warden}/image-base"
components=(webhook controller certs cli)

t0=$SECONDS
log() { echo "images: $* (t+$((SECONDS - t0))s)" >&2; }
for tool in buildah mmdebstrap dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 || { echo "images: $tool is missing; run scripts/deps.sh" >&2; exit 1; }
done

if [ -n "${CW_PREBUILT:-}" ]; then
  # `make test` built the whole workspace in release once; a second `cargo build` here with another package
  # selection would unify features differently and compile the same crates again.
  log "release binaries from the test build"
else
  log "release binaries"
  cargo build --release --locked "${components[@]/#/--package=connect-warden-}" --bins
  log "release binaries ready"
fi

# The base's packages (gcc-12-base holds libgcc's licence). Only these are unpacked: apt also fetches
# their dependencies (openssl, debconf), which a binary that links only glibc and libgcc never uses.
suite=bookworm
keep=(libc6 libgcc-s1 gcc-12-base ca-certificates)

# The host's apt sources in one format (mmdebstrap reads one): deb822 files, else the one-line lists.
host_apt_sources() {
  local f=(/etc/apt/sources.list.d/*.sources)
  if [ -e "${f[0]}" ]; then
    cat "${f[@]}"
  else
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true
  fi
}

# Writes the base's root filesystem as a tar file to $1.
base_rootfs() {
  local out="$1" work="$1.work"
  rm -rf "$work"
  mkdir -p "$work/debs" "$work/root"
  # The host's apt sources (on stdin): the same mirror and keyring the machine already trusts.
  # --variant=extract never runs maintainer scripts; the hook copies the downloaded packages out.
  host_apt_sources \
    | mmdebstrap --quiet --variant=extract --format=null \
        --include="$(IFS=,; echo "${keep[*]}")" \
        --extract-hook="cp \"\$1\"/var/cache/apt/archives/*.deb '$work/debs/'" \
        "$suite" /dev/null -
  local root="$work/root" p
  for p in "${keep[@]}"; do
    dpkg-deb --extract "$work/debs/${p}"_*.deb "$root"
  done
  # The bundle update-ca-certificates would write (Debian enables every Mozilla CA by default).
  mkdir -p "$root/etc/ssl/certs"
  cat "$root"/usr/share/ca-certificates/mozilla/*.crt > "$root/etc/ssl/certs/ca-certificates.crt"
  # Only shared libraries, the CA bundle and the licences stay: no tools, docs, locales or charset modules.
  rm -rf "${root:?}"/{bin,sbin,usr/bin,usr/sbin,usr/libexec,var,etc/ca-certificates*,etc/ld.so.conf*} \
    "${root:?}"/usr/share/{ca-certificates,man,info,lintian,locale} \
    "${root:?}"/usr/lib/*-linux-gnu/{gconv,audit} "${root:?}"/usr/lib/ssl "${root:?}"/usr/share/doc/*/examples
  find "$root/usr/share/doc" ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -depth -type d -empty -delete
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    > "$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' > "$root/etc/group"
  printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
  install -d -m 0700 "$root/root"
  install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
  install -d -m 1777 "$root/tmp"
  tar --sort=name --numeric-owner -C "$root" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$work"
}

# The key: this recipe and the package versions the host's apt would pick today.
versions=$(apt-cache policy "${keep[@]}" 2>/dev/null | awk '/^[^ ]/ { p = $1 } /Candidate:/ { print p, $2 }')
key=$({ declare -f host_apt_sources base_rootfs; echo "$suite ${keep[*]}"; echo "$versions"; } | sha256sum | cut -c1-16)
base="${BASE_IMAGE:-localhost/connect-warden/base:$key}"
if [ -n "${BASE_IMAGE:-}" ]; then
  log "base $base (given)"
elif buildah inspect --type image "$base" >/dev/null 2>&1; then
  log "base $base (cached image)"
else
  mkdir -p "$cache"
  tarball="$cache/$key.tar"
  if [ ! -s "$tarball" ]; then
    log "base root filesystem from Debian packages (${keep[*]})"
    base_rootfs "$tarball"
    find "$cache" -maxdepth 1 -name '*.tar' ! -name "$key.tar" -delete
  fi
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$tarball" / >/dev/null
  buildah config --user 65532:65532 --workingdir / \
    --label "org.opencontainers.image.description=glibc, libgcc, CA certificates, user 65532 (${keep[*]} from Debian $suite)" \
    "$ctr"
  buildah commit --quiet --rm "$ctr" "$base" >/dev/null
  log "base $base built"
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
for c in "${components[@]}"; do
  rm -rf "${context:?}"/*
  # The context holds only the image's binary, not the whole cargo output directory.
  case $c in
    cli) cp "$CARGO_TARGET_DIR/release/cwctl" "$context/" ;;
    *) cp "$CARGO_TARGET_DIR/release/connect-warden-$c" "$context/" ;;
  esac
  image="localhost/connect-warden/$c:$tag"
  old=$(buildah inspect --type image --format '{{.FromImageID}}' "$image" 2>/dev/null || true)
  buildah build --quiet --pull=never --build-arg BASE_IMAGE="$base" \
    -f "deploy/docker/$c.Dockerfile" -t "$image" "$context" >/dev/null
  # The image this tag named before is left untagged: remove it unless a container still uses it.
  new=$(buildah inspect --type image --format '{{.FromImageID}}' "$image")
  if [ -n "$old" ] && [ "$old" != "$new" ]; then
    buildah rmi "$old" >/dev/null 2>&1 || true
  fi
done
log "images built"
# What each image weighs (the base is shared by all of them).
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' \
  | grep -E "connect-warden/(base:$key|($(IFS='|'; echo "${components[*]}")):$tag)( |$)" | sort
