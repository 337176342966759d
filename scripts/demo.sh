#!/usr/bin/env bash
# The main job on the embedded default: installs the Debian packages it needs,
# builds, and runs two ipsecd daemons on loopback ("west" on 127.0.0.1, "east"
# on 127.0.0.2) with the in-memory kernel, so no root is needed. West holds an
# auto=start, an auto=route and an auto=add connection (examples/demo/). Once
# they converge it prints the status and where the metrics are, then keeps
# running until interrupted (Ctrl-C stops both daemons, which delete their SAs).
#   IPSECD_DEMO_ONCE=1 scripts/demo.sh   stops after printing
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh build
cmake -G Ninja -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPSECD_TESTS=OFF \
  -DIPSECD_BENCH=OFF >/dev/null
ninja -C build/demo ipsec ipsecd
ipsecd=build/demo/controller/ipsecd
ipsec=build/demo/cli/ipsec

work=$(mktemp -d /tmp/ipsecd-demo.XXXXXX)
pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop EXIT INT TERM

cp examples/demo/ipsec.secrets "$work/ipsec.secrets"
chmod 600 "$work/ipsec.secrets"
# One IKE port for both (the peer's port is ours), above 1024: no root needed.
port=${IPSECD_DEMO_PORT:-15500}
for side in east west; do
  addr=127.0.0.1
  [ "$side" = east ] && addr=127.0.0.2
  metrics=127.0.0.1:9810
  [ "$side" = east ] && metrics=127.0.0.1:9811
  "$ipsecd" --kernel memory --config "examples/demo/$side.conf" \
    --secrets "$work/ipsec.secrets" --ipsecdir "$work/ipsec.d" --listen "$addr" \
    --ike-port "$port" --natt-port $((port + 1)) --metrics "$metrics" \
    --state-dir "$work/$side" >"$work/$side.log" 2>&1 &
  pids+=($!)
done

west() { IPSECD_STATE_DIR=$work/west "$ipsec" "$@"; }
east() { IPSECD_STATE_DIR=$work/east "$ipsec" "$@"; }

echo "==> waiting for west and east to converge"
converged=no
for _ in $(seq 1 200); do
  if west auto --ready >/dev/null 2>&1 &&
    east auto --ready >/dev/null 2>&1 &&
    west status --json 2>/dev/null | grep -q '"established":1'; then
    converged=yes
    break
  fi
  sleep 0.05
done
if [ "$converged" = no ]; then
  echo "demo: the daemons did not converge within 10 s; their logs:" >&2
  tail -n 20 "$work/west.log" "$work/east.log" >&2
  exit 1
fi

echo
echo "==> ipsec status (on west)"
west status
echo
echo "==> ipsec trafficstatus (on east)"
east trafficstatus
echo
echo "metrics:  http://127.0.0.1:9810/metrics (west), http://127.0.0.1:9811/metrics (east)"
echo "control:  IPSECD_STATE_DIR=$work/west $ipsec up lab   (or status, down, route, ...)"
echo "logs:     $work/west.log, $work/east.log"
if [ "${IPSECD_DEMO_ONCE:-}" = 1 ]; then
  exit 0
fi
echo "running; Ctrl-C stops both daemons"
wait "${pids[@]}"
