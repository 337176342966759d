#!/usr/bin/env bash
# `cmake --install --strip` into a temporary prefix puts every file where the install
# rules promise, and the installed programs run:
#   bin/ipsec, sbin/ipsecd, lib/systemd/system/ipsecd.service (ExecStart naming
#   the installed daemon), share/doc/ipsecd/{README.md,deploy.md,...},
#   share/doc/ipsecd/examples/ipsec.conf (and it passes `ipsec checkconfig`).
# Usage: tests/install/run.sh BUILD_DIR      Leaves nothing behind.
set -euo pipefail

build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
prefix=$(mktemp -d /tmp/ipsecd-install-test.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$prefix" --strip >"$prefix.log" 2>&1 || { cat "$prefix.log"; rm -f "$prefix.log"; fail "cmake --install failed"; }
rm -f "$prefix.log"

for f in bin/ipsec sbin/ipsecd lib/systemd/system/ipsecd.service \
  share/doc/ipsecd/README.md share/doc/ipsecd/deploy.md share/doc/ipsecd/api.md \
  share/doc/ipsecd/examples/ipsec.conf share/doc/ipsecd/examples/ipsec.secrets; do
  [ -e "$prefix/$f" ] || fail "$f not installed under $prefix"
  echo "ok   $f"
done
for f in bin/ipsec sbin/ipsecd; do
  [ -x "$prefix/$f" ] || fail "$f is not executable"
  out=$("$prefix/$f" --version) || fail "$f --version failed"
  echo "ok   $f --version: $out"
done
unit=$prefix/lib/systemd/system/ipsecd.service
grep -qx "ExecStart=$prefix/sbin/ipsecd --config /etc/ipsec.conf --secrets /etc/ipsec.secrets --state-dir /run/ipsecd" "$unit" ||
  fail "the installed unit's ExecStart does not name $prefix/sbin/ipsecd: $(grep ExecStart= "$unit")"
echo "ok   the unit's ExecStart names the installed daemon"
"$prefix/bin/ipsec" checkconfig --config "$prefix/share/doc/ipsecd/examples/ipsec.conf" ||
  fail "the installed example ipsec.conf does not pass ipsec checkconfig"
echo "ok   ipsec checkconfig on the installed example"
# -DIPSECD_INSTALL_CONFIG=ON's step: the example becomes ETC/ipsec.conf, and a
# second install keeps the operator's file.
here=$(cd "$(dirname "$0")" && pwd)
conf_step() {
  cmake -DIPSECD_EXAMPLE_CONF="$here/../../examples/ipsec.conf" -DIPSECD_SYSCONFDIR=etc \
    -DCMAKE_INSTALL_PREFIX="$prefix/cfg" -P "$here/../../cmake/InstallConfig.cmake" >/dev/null
}
conf_step
cmp -s "$prefix/cfg/etc/ipsec.conf" "$here/../../examples/ipsec.conf" || fail "IPSECD_INSTALL_CONFIG did not install etc/ipsec.conf"
echo "# the operator's" >"$prefix/cfg/etc/ipsec.conf"
conf_step
grep -qx "# the operator's" "$prefix/cfg/etc/ipsec.conf" || fail "IPSECD_INSTALL_CONFIG overwrote an existing etc/ipsec.conf"
echo "ok   IPSECD_INSTALL_CONFIG installs etc/ipsec.conf and never overwrites one"
rm -rf "$prefix/cfg"

# Nothing else ends up in the tree: tests, benchmarks and libraries stay out.
extra=$(cd "$prefix" && find . -type f ! -path './share/doc/ipsecd/*' ! -path ./bin/ipsec ! -path ./sbin/ipsecd ! -path ./lib/systemd/system/ipsecd.service)
[ -z "$extra" ] || fail "unexpected files installed: $extra"
echo "PASS"
