#!/usr/bin/env bash
# The main job on the embedded default: installs the Debian packages it needs,
# builds, then checks the example configuration and prints it resolved, as
# ipsec.conf, JSON and the YAML spec form.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh build
cmake -G Ninja -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPSECD_TESTS=OFF >/dev/null
ninja -C build/demo ipsec
ipsec=build/demo/cli/ipsec

echo "==> ipsec checkconfig --config examples/ipsec.conf"
$ipsec checkconfig --config examples/ipsec.conf && echo "configuration is valid"
echo
echo "==> ipsec readwriteconf --config examples/ipsec.conf"
$ipsec readwriteconf --config examples/ipsec.conf
echo
echo "==> ipsec readwriteconf --json"
$ipsec readwriteconf --config examples/ipsec.conf --json
echo
echo "==> ipsec readwriteconf --yaml"
$ipsec readwriteconf --config examples/ipsec.conf --yaml
