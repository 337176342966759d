#!/usr/bin/env bash
# Installs the Debian packages ipsecd builds and tests with. Idempotent: only
# missing packages are installed, so a warm machine pays one dpkg query.
#   deps.sh build   compiler, libraries, GoogleTest
#   deps.sh test    build + the tools the test tiers use (clang for fuzzing)
#                   and the image group
#   deps.sh image   the OCI image tools only (scripts/image.sh, tests/image)
set -euo pipefail

build_pkgs=(cmake ninja-build g++ pkg-config libssl-dev libcpprest-dev
  libyaml-cpp-dev libnl-3-dev libnl-xfrm-3-dev prometheus-cpp-dev libgtest-dev
  libgmock-dev)
test_pkgs=(clang libclang-rt-14-dev clang-format iproute2 python3 python3-yaml prometheus
  systemd curl)
# The image is built from Debian packages by mmdebstrap and run by podman (runc:
# crun refuses hybrid cgroup hierarchies); skopeo reads OCI archives, buildah and
# umoci work on images and archives by hand;
# openssl rehashes the image's CA directory.
image_pkgs=(mmdebstrap podman buildah skopeo umoci runc openssl)

group=${1:-build}
case "$group" in
  build) want=("${build_pkgs[@]}") ;;
  image) want=("${image_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${image_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|image]" >&2; exit 2 ;;
esac
if [ "$group" = test ]; then
  # The deploy checks run on Node.js; machines that already have a node (and
  # npm) keep theirs, others get Debian's.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    want+=(nodejs npm)
  fi
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo "$0" "$@"
  fi
  echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
  echo "deps.sh: run as root (or install them) and try again" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
