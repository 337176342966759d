#!/usr/bin/env bash
# Unpacks libreswan 4.10's offline tools (readwriteconf, addconn) into a cache
# directory without installing the package (it conflicts with strongswan-starter
# over /usr/sbin/ipsec) and prints the path of readwriteconf. Idempotent: a warm
# cache costs one exec of readwriteconf.
#   libreswan-tools.sh            -> /tmp/ipsecd-bench/libreswan/usr/libexec/ipsec/readwriteconf
#   IPSECD_BENCH_CACHE=DIR        cache directory (default /tmp/ipsecd-bench)
set -euo pipefail

cache=${IPSECD_BENCH_CACHE:-/tmp/ipsecd-bench}
root=$cache/libreswan
rwc=$root/usr/libexec/ipsec/readwriteconf
want_version=4.10
# Runtime libraries of the Debian bookworm build (from its Depends line).
runtime_libs=(libunbound8 libevent-2.1-7 libnettle8 libhogweed6 libgmp10)

works() {
  # An empty config is the cheapest proof that the binary and its libraries load.
  "$rwc" --config /dev/null >/dev/null 2>&1
}

if [ -x "$rwc" ] && works; then
  echo "$rwc"
  exit 0
fi

mkdir -p "$cache"
deb=$(ls "$cache"/libreswan_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  # apt drops privileges to _apt for downloads; let it write into the cache.
  chmod 0777 "$cache" 2>/dev/null || true
  (cd "$cache" && apt-get download libreswan >&2)
  deb=$(ls "$cache"/libreswan_*.deb | head -n1)
fi

version=$(dpkg-deb -f "$deb" Version)
case $version in
  "$want_version"-*) ;;
  *)
    echo "libreswan-tools.sh: $deb is version $version, the benchmark expects $want_version-*" >&2
    echo "  (Debian bookworm ships 4.10-2+deb12u1; fetch that .deb into $cache)" >&2
    exit 1
    ;;
esac

rm -rf "$root"
dpkg-deb -x "$deb" "$root"

missing=()
for lib in "${runtime_libs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$lib")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "libreswan-tools.sh: missing runtime libraries: ${missing[*]} (apt-get install them as root)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

if ! works; then
  echo "libreswan-tools.sh: $rwc does not run; ldd says:" >&2
  ldd "$rwc" | grep 'not found' >&2 || true
  exit 1
fi
echo "$rwc"
