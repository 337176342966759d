#!/bin/bash
# xfrm_pair.sh MODE BUILD_DIR
# Two ipsecd daemons with the XFRM backend in two network namespaces joined by
# a veth (../shared/peers/netns-pair.sh layout: outer 192.0.2.1/.2, inner
# 198.51.100.1 and 203.0.113.1). West routes the tunnel (auto=route), east
# answers (auto=add).
#   netns: on a kernel without ESP. The trap policy is installed, a real packet's
#          ACQUIRE starts the negotiation, the IKE SA comes up, the CHILD SA fails
#          with the kernel's "no ESP" reason, SIGTERM removes every policy.
#   vm:    inside the VM tier's kernel with ESP: the same, then the ping crosses
#          encrypted (ESP counters grow, nothing in clear on the wire), and after
#          SIGTERM the kernel holds nothing of ipsecd's.
#   vm-charon: as vm, with strongSwan's charon (kernel-netlink) answering for east.
# Exits 77 (skip) with the reason when not root.
set -euo pipefail
mode=${1:?mode: netns, vm or vm-charon}
build=$(realpath -e "${2:?build dir}")
here=$(cd "$(dirname "$0")" && pwd)
# In the VM tier run-vm-test.sh passes the host's resolved path.
peers=${IPSECD_PEERS_DIR:-$(realpath -m "$here/../../../shared/peers")}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, XFRM)"; exit 77; }
[ -x "$peers/netns-pair.sh" ] || { echo "SKIP: no $peers/netns-pair.sh"; exit 77; }
ipsecd=$build/controller/ipsecd
ipsec=$build/cli/ipsec

tag=$(printf '%x' $$)
L=pa-xd${tag}l R=pa-xd${tag}r
work=$(mktemp -d /tmp/ipsecd-xfrm-pair.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$peers/netns-pair.sh" down "$L" "$R" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for side in west east; do echo "--- $side.log"; tail -n 30 "$work/$side.log" || true; done
  echo "--- xfrm (west)"; ip -n "$L" xfrm policy || true; ip -n "$L" xfrm state || true
  exit 1
}
ok() { echo "ok: $*"; }

ROUTE_INNER=1 "$peers/netns-pair.sh" up "$L" "$R" >/dev/null
conf() {  # conf AUTO
  cat <<CONF
conn tunnel
    ikev2=insist
    authby=secret
    left=192.0.2.1
    right=192.0.2.2
    leftid=@west
    rightid=@east
    leftsubnet=198.51.100.1/32
    rightsubnet=203.0.113.1/32
    ike=aes_gcm256-sha2_256-dh31
    esp=aes_gcm256
    auto=$1
CONF
}
conf route >"$work/west.conf"
conf add >"$work/east.conf"
echo '@west @east : PSK "xfrm pair test key"' >"$work/ipsec.secrets"
chmod 600 "$work/ipsec.secrets"
start() {  # start SIDE NS
  ip netns exec "$2" "$ipsecd" --kernel xfrm --config "$work/$1.conf" \
    --secrets "$work/ipsec.secrets" --state-dir "$work/$1" --metrics off \
    --ipsecdir "$work/ipsec.d" >>"$work/$1.log" 2>&1 &
  pids+=($!)
}
ns_of() { [ "$1" = west ] && echo "$L" || echo "$R"; }
die() { fail "$@"; }
# cli SIDE ARGS..., wait_for SECONDS DESCRIPTION CMD...
# shellcheck source=../support/netns_daemons.sh
source "$here/../support/netns_daemons.sh"
st() { cli "$1" status --json 2>/dev/null || true; }
if [ "$mode" = vm-charon ]; then
  mkdir -p "$work/ss"
  cat >"$work/ss/swanctl.conf" <<SWAN
connections {
    tunnel {
        version = 2
        local_addrs = 192.0.2.2
        remote_addrs = 192.0.2.1
        proposals = aes256gcm16-prfsha256-x25519
        local { auth = psk
                id = east }
        remote { auth = psk
                 id = west }
        children {
            tunnel {
                local_ts = 203.0.113.1/32
                remote_ts = 198.51.100.1/32
                esp_proposals = aes256gcm16
            }
        }
    }
}
secrets {
    ike-tunnel { id-l = east
                 id-r = west
                 secret = "xfrm pair test key" }
}
SWAN
  SS_NO_LOAD=1 "$peers/strongswan-peer.sh" start "$R" "$work/ss" >"$work/east.log" 2>&1 ||
    fail "charon did not start"
  "$peers/strongswan-peer.sh" ctl "$work/ss" --load-all --noprompt --file "$work/ss/swanctl.conf" \
    >>"$work/east.log" 2>&1 || fail "charon did not load the connection"
  trap '"$peers/strongswan-peer.sh" stop "$work/ss" >/dev/null 2>&1 || true; cleanup' EXIT
else
  start east "$R"
fi
start west "$L"
west_pid=${pids[-1]}
ready() {
  cli west ready >/dev/null 2>&1 && { [ "$mode" = vm-charon ] || cli east ready >/dev/null 2>&1; }
}
wait_for 20 "both daemons ready" ready

# The trap: an out policy for the flow with ipsecd's template, nothing negotiated yet.
ip -n "$L" xfrm policy | grep -q "src 198.51.100.1/32 dst 203.0.113.1/32" ||
  fail "no trap policy for 198.51.100.1 -> 203.0.113.1"
st west | grep -q '"Routed","status":"True"' || fail "west does not report Routed=True"
[ -z "$(ip -n "$L" xfrm state)" ] || fail "SAs exist before any traffic"
ok "trap policy installed, no SA yet"

# A real packet: the kernel's ACQUIRE starts the negotiation.
ip netns exec "$L" ping -c 1 -W 1 -I 198.51.100.1 203.0.113.1 >/dev/null 2>&1 || true
wait_for 20 "the IKE SA negotiated on the ACQUIRE" sh -c "grep -q 'tunnel: ike-up' $work/west.log"
ok "ACQUIRE started the negotiation; IKE SA up"

if [ "$mode" = netns ]; then
  # No ESP in this kernel: the CHILD SA fails and says why.
  wait_for 20 "the CHILD SA failure" sh -c "grep -q 'child-failed' $work/west.log"
  grep 'child-failed' "$work/west.log" | head -n 1
  ok "the CHILD SA failed with the kernel's reason (no ESP here)"
else
  child_up() { st west | grep -q '"established":1'; }
  wait_for 20 "the CHILD SA" child_up
  ip netns exec "$L" ping -c 3 -i 0.2 -W 2 -I 198.51.100.1 203.0.113.1 >/dev/null ||
    fail "ping did not cross the tunnel"
  states=$(ip -n "$L" xfrm state | grep -c '^src' || true)
  [ "$states" = 2 ] || fail "expected 2 ESP states in west, found $states"
  # The daemon reads the kernel's counters: the outbound CHILD SA carried the pings.
  out_bytes=$(st west | grep -o '"bytesOut":[0-9]*' | head -n 1 | cut -d: -f2)
  [ "${out_bytes:-0}" -gt 0 ] || fail "ipsec status shows no outbound bytes"
  # Nothing in clear on the wire: the peer's veth sees ESP, no ICMP.
  ip netns exec "$R" timeout 15 tcpdump -n -i pa0 -c 2 'esp' >"$work/esp.txt" 2>"$work/tcpdump.err" &
  dump=$!
  # tcpdump is slow to start in the VM: ping only once it listens.
  listening() { grep -q "listening on" "$work/tcpdump.err"; }
  wait_for 10 "tcpdump to listen" listening
  ip netns exec "$L" ping -c 2 -i 0.2 -W 2 -I 198.51.100.1 203.0.113.1 >/dev/null || fail "second ping failed"
  wait "$dump" || true
  grep -q 'ESP(spi=' "$work/esp.txt" || fail "no ESP packets seen on the wire: $(cat "$work/esp.txt")"
  ok "ping crossed encrypted: 2 ESP SAs, ${out_bytes} bytes out, ESP on the wire"
fi

if [ "$mode" = netns ]; then
  # kill -9 and a restart: the new run adopts its trap (one policy for the
  # flow, not two) and converges again.
  kill -KILL "$west_pid"
  wait "$west_pid" 2>/dev/null || true
  start west "$L"
  west_pid=${pids[-1]}
  wait_for 20 "west ready after kill -9" ready
  n=$(ip -n "$L" xfrm policy | grep -c "src 198.51.100.1/32 dst 203.0.113.1/32" || true)
  [ "$n" = 1 ] || fail "expected 1 policy for the flow after the restart, found $n"
  grep -q "kept 1 own policies" "$work/west.log" || fail "the restart did not adopt its policy"
  st west | grep -q '"Routed","status":"True"' || fail "west is not Routed after the restart"
  ok "after kill -9 the restart adopted its trap: one policy, routed again"
fi

# SIGTERM: DELETEs sent, every policy and SA of ipsecd gone.
kill -TERM "$west_pid"
wait "$west_pid" || fail "west did not exit 0 on SIGTERM"
[ -z "$(ip -n "$L" xfrm policy)" ] || fail "policies left in west after SIGTERM: $(ip -n "$L" xfrm policy)"
# Larval states (SPI 0) are the kernel's own ACQUIRE placeholders: they cannot
# be deleted by id and expire by themselves (net.core.xfrm_acq_expires).
keyed=$(ip -n "$L" xfrm state | grep '^\s*proto esp spi' | grep -vc 'spi 0x00000000' || true)
[ "$keyed" = 0 ] || fail "SAs left in west after SIGTERM: $(ip -n "$L" xfrm state)"
if [ "$mode" != netns ]; then
  east_clean() { ! ip -n "$R" xfrm state | grep '^\s*proto esp spi' | grep -qv 'spi 0x00000000'; }
  wait_for 10 "east to remove the deleted SAs" east_clean
fi
ok "SIGTERM removed ipsecd's policies and SAs"
echo "PASS ($mode)"
