#!/usr/bin/env bash
# Builds the root filesystem of the ipsecd image as a tar archive, from Debian
# bookworm packages only: the runtime libraries ipsecd and ipsec link, iproute2
# (`ip xfrm` for operators) and the CA certificates. mmdebstrap's extract
# variant unpacks them without running maintainer scripts, so the hooks below do
# what those scripts and a base image would do.
#   rootfs.sh OUT.tar
# Env: IPSECD_DEBIAN_MIRROR (default http://deb.debian.org/debian),
#      IPSECD_DEBIAN_SECURITY (default http://deb.debian.org/debian-security),
#      SOURCE_DATE_EPOCH (file times; default: now).
set -euo pipefail

out=${1:?usage: rootfs.sh OUT.tar}
mirror=${IPSECD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${IPSECD_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}

# Exactly what the binaries need at run time; dependencies come with them.
packages=(libstdc++6 libssl3 libnl-3-200 libnl-xfrm-3-200 libyaml-cpp0.7
  libcpprest2.10 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 iproute2
  ca-certificates)

if [ "$(id -u)" -ne 0 ]; then
  # Root mode only: chrootless as root would run package scripts on the host.
  echo "rootfs.sh: run as root (mmdebstrap --mode=root)" >&2
  exit 1
fi

# Merged /usr as in a bookworm install: the directory links exist before
# unpacking, and tar keeps them (mmdebstrap extracts with --keep-directory-symlink).
merged_usr='for d in bin sbin lib lib64; do mkdir -p "$1/usr/$d"; ln -s "usr/$d" "$1/$d"; done'

# After unpacking: what maintainer scripts and base-passwd would have done.
#  - the host's resolv.conf and hostname are not the image's business;
#  - ld.so.cache for the libraries (libc6's trigger);
#  - ca-certificates.crt and the hash links (update-ca-certificates), with
#    relative links so that `openssl rehash` on the host resolves them inside $1;
#  - root and nobody only (base-passwd);
#  - a dpkg status file listing the unpacked packages as installed, so that
#    image scanners see the Debian packages and versions (the extract variant
#    leaves it empty);
#  - documentation, manuals and translations are dropped, copyright files kept;
#  - glibc's iconv modules (8 MB) are dropped: nothing in the image converts
#    character sets beyond the UTF-8/ASCII/Latin-1 glibc has built in.
finish='set -e
rm -f "$1/etc/resolv.conf" "$1/etc/hostname"
ldconfig -r "$1"
mkdir -p "$1/etc/ssl/certs"
: >"$1/etc/ssl/certs/ca-certificates.crt"
for c in "$1"/usr/share/ca-certificates/mozilla/*.crt; do
  n=$(basename "$c" .crt)
  ln -sf "../../../usr/share/ca-certificates/mozilla/$n.crt" "$1/etc/ssl/certs/$n.pem"
  cat "$c" >>"$1/etc/ssl/certs/ca-certificates.crt"
done
openssl rehash "$1/etc/ssl/certs"
printf "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" >"$1/etc/passwd"
printf "root:x:0:\nnogroup:x:65534:\n" >"$1/etc/group"
printf "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n" >"$1/etc/shadow"
chmod 0640 "$1/etc/shadow"
mkdir -p "$1/root" "$1/tmp" "$1/run" "$1/var/tmp"
chmod 1777 "$1/tmp" "$1/var/tmp"
chmod 0700 "$1/root"
rm -rf "$1/usr/share/man" "$1/usr/share/info" "$1/usr/share/locale" "$1/usr/share/lintian" "$1/usr/share/bash-completion"
find "$1/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$1/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$1"/usr/lib/*-linux-gnu*/gconv
for deb in "$1"/var/cache/apt/archives/*.deb; do
  dpkg-deb -f "$deb" | awk "NR == 1 { print; print \"Status: install ok installed\"; next } { print }"
  echo
done >"$1/var/lib/dpkg/status"
rm -rf "$1/var/cache/apt" "$1/var/lib/apt/lists" "$1/var/log/apt"
'

mmdebstrap --mode=root --variant=extract --format=tar \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --setup-hook="$merged_usr" \
  --extract-hook="$finish" \
  --skip=output/dev \
  bookworm "$out" \
  "deb $mirror bookworm main" \
  "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main"
