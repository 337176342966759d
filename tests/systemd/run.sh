#!/usr/bin/env bash
# The systemd unit, as `cmake --install` installs it:
#  - `systemd-analyze verify` accepts it without a single warning (an unknown
#    key or value is only a warning there, so any output fails);
#  - `systemd-analyze security` rates its exposure at most IPSECD_UNIT_EXPOSURE
#    (default 2.5 on its 0-10 scale; measured 2.0);
#  - a misspelt directive in a copy is caught, so the check can fail.
# Usage: tests/systemd/run.sh BUILD_DIR      Exit 77 (skip) without systemd-analyze.
set -euo pipefail

build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed (apt-get install systemd)"; exit 77; }
prefix=$(mktemp -d /tmp/ipsecd-unit-test.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
unit=$prefix/lib/systemd/system/ipsecd.service
[ -x "$prefix/sbin/ipsecd" ] || fail "cmake --install installed no sbin/ipsecd (the unit's ExecStart)"

verify() { systemd-analyze verify "$1" 2>&1; }
out=$(verify "$unit") || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
echo "ok   systemd-analyze verify: no warnings"

mkdir "$prefix/bad"
sed 's/^ProtectSystem=/ProtectSytem=/' "$unit" >"$prefix/bad/ipsecd.service"
out=$(verify "$prefix/bad/ipsecd.service") || true
grep -q "Unknown key 'ProtectSytem'" <<<"$out" || fail "a misspelt directive went unnoticed: '$out'"
echo "ok   a misspelt directive is reported"

limit=${IPSECD_UNIT_EXPOSURE:-2.5}
threshold=$(awk -v l="$limit" 'BEGIN { printf "%d", l * 10 }')
report=$(systemd-analyze security --offline=yes --threshold="$threshold" "$unit" 2>&1) ||
  { echo "$report"; fail "exposure above $limit"; }
score=$(grep -o 'Overall exposure level for ipsecd.service: [0-9.]*' <<<"$report" | awk '{ print $NF }')
[ -n "$score" ] || { echo "$report"; fail "no exposure level in systemd-analyze security's output"; }
echo "ok   systemd-analyze security: exposure $score (limit $limit)"
echo "PASS"
