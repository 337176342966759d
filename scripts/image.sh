#!/usr/bin/env bash
# Builds the ipsecd OCI image from Debian packages and the binaries in a build
# directory, and writes it as an OCI archive:
#   scripts/image.sh BUILD_DIR OUT.tar
# 1. packaging/image/rootfs.sh makes the base root filesystem (mmdebstrap,
#    runtime libraries only) and podman imports it as localhost/ipsecd-base:bookworm;
# 2. BUILD_DIR/controller/ipsecd and BUILD_DIR/cli/ipsec, stripped, are copied
#    in by packaging/image/Containerfile (podman build, no registry: --pull=never);
# 3. podman save --format oci-archive writes OUT.tar.
# Prints the image's unpacked size and the time taken. Needs root (mmdebstrap
# --mode=root, rootful podman); installs its tools with scripts/deps.sh image.
# Env:
#   IPSECD_IMAGE            image name (default localhost/ipsecd:VERSION)
#   IPSECD_IMAGE_SOURCE     org.opencontainers.image.source (default: git remote
#                           "origin", else https://git.example.org/ipsecd/ipsecd)
#   IPSECD_IMAGE_LICENSES   org.opencontainers.image.licenses (default NOASSERTION)
#   CONTAINERS_STORAGE_CONF podman storage (default: the system's); the image
#                           tests point it at a temporary store
# CONTAINERS_CONF is set to packaging/image/containers.conf unless already set.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR OUT.tar" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
out=$2
started=$EPOCHREALTIME

for bin in controller/ipsecd cli/ipsec; do
  if [ ! -x "$build/$bin" ]; then
    echo "image.sh: $build/$bin not found: build it first (ninja -C $1 ipsecd ipsec)" >&2
    exit 1
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "image.sh: run as root (mmdebstrap --mode=root and rootful podman)" >&2
  exit 1
fi
"$root/scripts/deps.sh" image

export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/packaging/image/containers.conf}
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || { echo "image.sh: no CMAKE_PROJECT_VERSION in $build/CMakeCache.txt" >&2; exit 1; }
image=${IPSECD_IMAGE:-localhost/ipsecd:$version}
base=localhost/ipsecd-base:bookworm
source_url=${IPSECD_IMAGE_SOURCE:-$(git -C "$root" remote get-url origin 2>/dev/null || echo https://git.example.org/ipsecd/ipsecd)}
licenses=${IPSECD_IMAGE_LICENSES:-NOASSERTION}
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
# File times from the commit, so that two builds of one commit differ only in
# what the Debian mirror changed.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# What a rebuild replaces, removed at the end rather than left dangling.
old_ids=$(podman image inspect --format '{{.Id}}' "$image" "$base" 2>/dev/null || true)

echo "==> base: mmdebstrap bookworm (runtime libraries) -> $base"
"$root/packaging/image/rootfs.sh" "$work/rootfs.tar" >"$work/mmdebstrap.log" 2>&1 || {
  tail -20 "$work/mmdebstrap.log" >&2
  echo "image.sh: mmdebstrap failed (whole log above was $work/mmdebstrap.log)" >&2
  exit 1
}
podman import --quiet "$work/rootfs.tar" "$base" >/dev/null

echo "==> image: $image"
mkdir "$work/context"
strip --strip-unneeded -o "$work/context/ipsecd" "$build/controller/ipsecd"
strip --strip-unneeded -o "$work/context/ipsec" "$build/cli/ipsec"
# --layers=false: no cached intermediate image per instruction.
podman build --quiet --pull=never --layers=false --timestamp "$SOURCE_DATE_EPOCH" \
  --build-arg VERSION="$version" --build-arg SOURCE="$source_url" \
  --build-arg REVISION="$revision" --build-arg LICENSES="$licenses" \
  -f "$root/packaging/image/Containerfile" -t "$image" "$work/context" >/dev/null

for id in $old_ids; do
  podman image exists "$id" && [ -z "$(podman image inspect --format '{{.RepoTags}}' "$id" | tr -d '[]')" ] &&
    podman rmi "$id" >/dev/null 2>&1 || true
done

echo "==> OCI archive: $out"
rm -f "$out"
podman save --quiet --format oci-archive -o "$out" "$image"

size=$(podman image inspect --format '{{.Size}}' "$image")
awk -v s="$size" -v a="$(stat -c %s "$out")" -v t0="$started" -v t1="$EPOCHREALTIME" -v img="$image" 'BEGIN {
  printf "image %s: unpacked %.1f MB (%d bytes), archive %.1f MB, built in %.1f s\n",
    img, s / 1e6, s, a / 1e6, t1 - t0 }'
