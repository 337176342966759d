#!/bin/bash
# run-vm-test.sh SOURCE_DIR BUILD_DIR COMMAND...
# Runs COMMAND (a host-built test binary and its arguments) inside a VM whose kernel has ESP,
# through ../shared/vm/run-in-vm.sh next to the source tree, and exits with its status.
# Exits 77 (ctest SKIP_RETURN_CODE) with the reason when the VM cannot run here: not root, no
# VM harness, not x86-64, or no qemu able to use KVM or TCG.
#   IPSEC_VM_TIMEOUT  seconds before the VM is killed (default 240: a hang fails, not blocks)
set -euo pipefail

skip() { echo "SKIP: $*"; exit 77; }
[ $# -ge 3 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR COMMAND..." >&2; exit 2; }
src=$(realpath -e "$1")
build=$(realpath -e "$2")
shift 2

[ "$(id -u)" = 0 ] || skip "the vm tier needs root (qemu 9p export of /usr, apt-get for qemu)"
[ "$(uname -m)" = x86_64 ] || skip "the vm tier boots an x86-64 Debian kernel; this is $(uname -m)"
harness=$(realpath -m "$src/../shared/vm/run-in-vm.sh")
[ -x "$harness" ] || skip "no VM harness at $harness"

# Packages, kernel and initramfs; a failure here means the VM cannot be built on this machine.
if ! "$harness" -b >/tmp/ipsecd-vm-prepare.$$ 2>&1; then
  reason=$(tail -n 3 /tmp/ipsecd-vm-prepare.$$)
  rm -f /tmp/ipsecd-vm-prepare.$$
  skip "preparing the VM failed: $reason"
fi
rm -f /tmp/ipsecd-vm-prepare.$$
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || skip "qemu-system-x86_64 is not installed and could not be installed"
accels=$("$qemu" -accel help 2>/dev/null || true)
if ! grep -qx tcg <<<"$accels" && ! { [ -w /dev/kvm ] && grep -qx kvm <<<"$accels"; }; then
  skip "qemu can use neither KVM (/dev/kvm) nor TCG here (qemu -accel help: ${accels//$'\n'/ })"
fi

shares=(-s "$src")
case "$build/" in
  "$src"/*) ;;  # already inside the source share
  *) shares+=(-s "$build") ;;
esac
# The peer recipes (network namespaces, strongSwan, libreswan) for the tests that use them.
# Resolved here: a symlinked shared/ beside the tree is not visible in the guest.
peers=$(realpath -m "$src/../shared/peers")
if [ -d "$peers" ]; then
  shares+=(-s "$peers")
  export IPSECD_PEERS_DIR=$peers
  export IPSEC_VM_PASSENV="${IPSEC_VM_PASSENV:+$IPSEC_VM_PASSENV }IPSECD_PEERS_DIR"
fi
cmd=$(printf '%q ' "$@")
export IPSEC_VM_TIMEOUT=${IPSEC_VM_TIMEOUT:-240}
start=$(date +%s%N)
rc=0
"$harness" "${shares[@]}" -C "$build" -c "$cmd" || rc=$?
end=$(date +%s%N)
ms=$(((end - start) / 1000000))
printf 'vm: %s exited %d after %d.%01d s (IPSEC_VM_TIMEOUT=%s)\n' "${1##*/}" "$rc" \
  $((ms / 1000)) $((ms % 1000 / 100)) "$IPSEC_VM_TIMEOUT"
case $rc in
  124) echo "vm: the VM was killed by the timeout" ;;
  125) echo "vm: the VM ended without reporting a status (kernel panic or broken setup)" ;;
esac
exit "$rc"
