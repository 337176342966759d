#!/usr/bin/env bash
# Builds the ipsecd image (scripts/image.sh) into a private podman store and runs it:
#  1. --network none, --kernel memory: the daemon starts and keeps running,
#     writes its API address, stops with exit 0 on SIGTERM; `ipsecd --version`
#     and `ipsec --version` work in the image;
#  2. in a network namespace made here, as the DaemonSet runs it (only
#     NET_ADMIN and NET_BIND_SERVICE, read-only root, the base DaemonSet's
#     arguments: --kernel=xfrm, --health=0.0.0.0:9766, ...) with a conf.d laid
#     out as the kubelet writes a ConfigMap volume, holding an auto=route drop,
#     and a secrets file: /healthz and /readyz answer 200, the trap policy is in
#     the namespace's XFRM policy table, /metrics counts it routed; ConfigMap
#     updates (a drop added, a drop with an error, a drop removed) reconcile
#     without a restart and a bad drop changes nothing; SIGHUP rereads; and
#     `podman stop` (SIGTERM) ends the container with exit 0 and every policy
#     removed; with --keep-dataplane-on-exit the policy stays, and the next
#     container on the same state dir adopts it (same kernel index).
# Usage: tests/image/run.sh BUILD_DIR
# Exit 0 when all holds, 1 on a failure, 77 (skip, with the reason) when not
# root, when the image tools are missing, when the Debian mirror cannot be
# reached, or when podman cannot start a container on this machine.
# Everything it makes (store, containers, namespace, files) is removed at exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok   $*"; }

[ "$(id -u)" -eq 0 ] || skip "not root: building and running the image needs root (mmdebstrap, rootful podman, ip netns)"
for tool in podman skopeo mmdebstrap ip curl; do
  command -v "$tool" >/dev/null || skip "$tool not installed (scripts/deps.sh test installs it)"
done

export CONTAINERS_CONF=$root/packaging/image/containers.conf
work=$(mktemp -d /tmp/ipsecd-image-test.XXXXXX)
ns=ipsecd-img-$$
mem_name=ipsecd-test-mem-$$
xfrm_name=ipsecd-test-xfrm-$$
keep_name=ipsecd-test-keep-$$
next_name=ipsecd-test-next-$$
image=localhost/ipsecd:test-$$
# A store of its own: nothing of the machine's podman images or containers is
# seen or touched, and removing the directory removes everything.
cat >"$work/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$work/storage"
runroot = "$work/run"
CONF
export CONTAINERS_STORAGE_CONF=$work/storage.conf

cleanup() {
  podman rm --force --time 0 "$mem_name" "$xfrm_name" "$keep_name" "$next_name" >/dev/null 2>&1 || true
  podman rmi --all --force >/dev/null 2>&1 || true
  if ip netns list | grep -qw "$ns"; then ip netns delete "$ns"; fi
  # Overlay mounts of removed containers are gone; unmount any leftover before deleting.
  grep -o " $work/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Prints a container's log when a check fails.
show_logs() { echo "--- podman logs $1"; podman logs "$1" 2>&1 | tail -40 || true; echo "---"; }

# --- build -------------------------------------------------------------------
mirror=${IPSECD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
if ! IPSECD_IMAGE=$image "$root/scripts/image.sh" "$build" "$work/ipsecd.tar" >"$work/build.log" 2>&1; then
  cat "$work/build.log"
  if ! curl -sf -o /dev/null --max-time 10 "$mirror/dists/bookworm/Release"; then
    skip "Debian mirror $mirror unreachable: cannot build the base image"
  fi
  fail "scripts/image.sh failed"
fi
cat "$work/build.log"
size=$(podman image inspect --format '{{.Size}}' "$image")
[ "$size" -lt 40000000 ] || fail "image is $size bytes unpacked, over the 40 MB budget"
ok "image built, $size bytes unpacked (< 40 MB)"
# (No `tar | grep -q`: grep's early exit would fail the pipe under pipefail.)
[ -s "$work/ipsecd.tar" ] && tar -tf "$work/ipsecd.tar" >"$work/archive.list" && grep -qx 'index.json' "$work/archive.list" || fail "$work/ipsecd.tar is not an OCI archive (no index.json)"
ok "OCI archive written"
# From here on everything runs from the archive, as a node or registry gets it.
podman rmi --all --force >/dev/null
podman load --quiet -i "$work/ipsecd.tar" >/dev/null || fail "podman load -i ipsecd.tar failed"
podman image exists "$image" || fail "podman load did not restore $image from the archive"
ok "podman load -i: $image"
skopeo inspect "oci-archive:$work/ipsecd.tar" >"$work/inspect.json" || fail "skopeo inspect oci-archive: failed"
python3 - "$work/inspect.json" <<'PY' || fail "OCI labels missing"
import json, sys
labels = json.load(open(sys.argv[1])).get("Labels") or {}
missing = [k for k in ("title", "version", "source", "licenses") if not labels.get(f"org.opencontainers.image.{k}")]
if missing:
    sys.exit(f"labels missing or empty: {missing}; present: {labels}")
PY
ok "skopeo inspect: OCI labels title, version, source, licenses set"

# The root file system: what the extract hooks promise, and nothing of the host's.
rootfs=$(podman image mount "$image") || fail "podman image mount $image failed"
for f in etc/ssl/certs/ca-certificates.crt etc/ld.so.cache etc/passwd etc/group usr/sbin/ipsecd usr/bin/ipsec usr/bin/ip; do
  [ -s "$rootfs/$f" ] || { podman image unmount "$image" >/dev/null; fail "/$f missing or empty in the image"; }
done
for d in bin sbin lib lib64; do
  [ "$(readlink "$rootfs/$d")" = "usr/$d" ] || { podman image unmount "$image" >/dev/null; fail "/$d is not a merged-/usr link"; }
done
for f in etc/resolv.conf etc/hostname; do
  [ ! -e "$rootfs/$f" ] || { podman image unmount "$image" >/dev/null; fail "/$f from the build host is in the image"; }
done
[ -L "$rootfs/etc/ssl/certs/$(openssl x509 -hash -noout -in "$rootfs/etc/ssl/certs/ca-certificates.crt").0" ] ||
  { podman image unmount "$image" >/dev/null; fail "no hash links in /etc/ssl/certs"; }
# The packages are listed for scanners, and libssl3 has the security updates:
# never older than the build host's (bookworm-security is in the sources).
status_version() {  # PACKAGE -> its version in the image's dpkg status
  awk -v p="$1" '$1 == "Package:" { cur = $2 } cur == p && $1 == "Version:" { print $2; exit }' "$rootfs/var/lib/dpkg/status"
}
for pkg in libssl3 libstdc++6 libnl-xfrm-3-200 libcpprest2.10 iproute2 ca-certificates; do
  [ -n "$(status_version "$pkg")" ] || { podman image unmount "$image" >/dev/null; fail "$pkg not in the image's /var/lib/dpkg/status"; }
done
image_ssl=$(status_version libssl3)
host_ssl=$(dpkg-query -W -f='${Version}' libssl3 2>/dev/null || true)
if [ -n "$host_ssl" ] && dpkg --compare-versions "$image_ssl" lt "$host_ssl"; then
  podman image unmount "$image" >/dev/null
  fail "the image's libssl3 $image_ssl is older than the host's $host_ssl (bookworm-security missing?)"
fi
podman image unmount "$image" >/dev/null
ok "root file system: merged /usr, ld.so.cache, CA bundle and hash links, passwd/group, dpkg status (libssl3 $image_ssl); no resolv.conf or hostname"

# Can this machine run a container at all? The base's own `ip` answers that,
# apart from anything of ipsecd's.
if ! podman run --rm --network none --entrypoint /usr/bin/ip "$image" -V >"$work/probe.log" 2>&1; then
  cat "$work/probe.log"
  skip "podman cannot start a container here (runtime runc, see packaging/image/containers.conf)"
fi

# --- binaries in the image ---------------------------------------------------
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")
out=$(podman run --rm --network none "$image" --version 2>&1) || fail "ipsecd --version failed: $out"
grep -q "$version" <<<"$out" || fail "ipsecd --version printed '$out', expected version $version"
ok "ipsecd --version: $out"
out=$(podman run --rm --network none --entrypoint /usr/bin/ipsec "$image" --version 2>&1) || fail "ipsec --version failed: $out"
grep -q "$version" <<<"$out" || fail "ipsec --version printed '$out', expected version $version"
ok "ipsec --version: $out"

# --- 1. memory kernel, no network ---------------------------------------------
podman run -d --name "$mem_name" --network none "$image" \
  --kernel memory --state-dir /run/ipsecd --log-format json >/dev/null
api=""
for _ in $(seq 100); do
  # podman cp reads the container's filesystem: the image has no shell or cat.
  api=$(podman cp "$mem_name:/run/ipsecd/api" - 2>/dev/null | tar -xO 2>/dev/null || true)
  [ -n "$api" ] && break
  [ "$(podman inspect --format '{{.State.Running}}' "$mem_name")" = true ] || break
  sleep 0.1
done
[ -n "$api" ] || { show_logs "$mem_name"; fail "ipsecd --kernel memory wrote no /run/ipsecd/api"; }
grep -Eq '^http://127\.0\.0\.1:[0-9]+' <<<"$api" || { show_logs "$mem_name"; fail "/run/ipsecd/api holds '$api', expected http://127.0.0.1:PORT"; }
sleep 1
[ "$(podman inspect --format '{{.State.Running}}' "$mem_name")" = true ] || { show_logs "$mem_name"; fail "ipsecd --kernel memory exited"; }
ok "ipsecd --kernel memory --network none runs, API at $api"
podman stop --time 20 "$mem_name" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$mem_name")
[ "$code" = 0 ] || { show_logs "$mem_name"; fail "ipsecd --kernel memory exited $code on SIGTERM, expected 0"; }
ok "podman stop: exit 0"
podman rm "$mem_name" >/dev/null

# --- 2. XFRM in a namespace, as in the DaemonSet ------------------------------
ip netns add "$ns"
ip -n "$ns" link set lo up
# A veth pair inside the namespace (dummy links need a module not every kernel has).
ip -n "$ns" link add gw0 type veth peer name gw1
ip -n "$ns" link set gw1 up
ip -n "$ns" addr add 192.0.2.1/24 dev gw0
ip -n "$ns" link set gw0 up
mkdir -p "$work/conf.d" "$work/secrets" "$work/drops"
# Trap policies only: traffic between the subnets would start a negotiation
# with 192.0.2.2 (or .3); nothing answers there, nothing needs to.
route_conf() {  # NAME RIGHT LEFTSUBNET RIGHTSUBNET
  printf 'conn %s\n    keyexchange=ikev2\n    authby=secret\n    left=192.0.2.1\n    leftsubnet=%s\n    right=%s\n    rightsubnet=%s\n    auto=route\n' \
    "$1" "$3" "$2" "$4"
}
route_conf image-route 192.0.2.2 198.51.100.0/25 203.0.113.0/25 >"$work/drops/route.conf"
route_conf image-route-2 192.0.2.3 198.51.100.128/25 203.0.113.128/25 >"$work/drops/route2.conf"
# A drop with an error: a prefix length out of range.
route_conf image-route-2 192.0.2.3 198.51.100.128/25 203.0.113.128/33 >"$work/drops/bad.conf"

# A ConfigMap volume as the kubelet writes it: the keys are links into ..data,
# which links to a timestamped directory; an update writes a new directory and
# renames a new ..data link over the old one, atomically.
configmap_version=0
publish_configmap() {  # KEY=FILE...
  local dir=$work/conf.d v old key
  configmap_version=$((configmap_version + 1))
  v=..v$configmap_version
  old=$(readlink "$dir/..data" || true)
  mkdir "$dir/$v"
  for kv in "$@"; do cp "${kv#*=}" "$dir/$v/${kv%%=*}"; done
  ln -s "$v" "$dir/..data_tmp"
  mv -T "$dir/..data_tmp" "$dir/..data"
  for kv in "$@"; do key=${kv%%=*}; [ -L "$dir/$key" ] || ln -s "..data/$key" "$dir/$key"; done
  for key in "$dir"/*; do [ -e "$key" ] || rm -f "$key"; done
  if [ -n "$old" ]; then rm -rf "${dir:?}/$old"; fi
}
publish_configmap route.conf="$work/drops/route.conf"
printf '192.0.2.1 192.0.2.2 : PSK "image-test-psk-0123456789abcdef"\n192.0.2.1 192.0.2.3 : PSK "image-test-psk-fedcba9876543210"\n' >"$work/secrets/ipsec.secrets"
chmod 0400 "$work/secrets/ipsec.secrets"
# The container gets exactly the base DaemonSet's arguments, so the manifests
# and the daemon cannot drift apart; the drop and the secrets go where the
# DaemonSet mounts its ConfigMap and Secret.
mapfile -t ds_args < <(python3 - "$root/manifests/base/daemonset.yaml" <<'PY'
import sys, yaml
ds = yaml.safe_load(open(sys.argv[1]))
for arg in ds["spec"]["template"]["spec"]["containers"][0]["args"]:
    print(arg)
PY
)
ds_arg() { printf '%s\n' "${ds_args[@]}" | sed -n "s/^--$1=//p"; }
watch_dir=$(ds_arg watch-dir)
secrets_file=$(ds_arg secrets)
health=$(ds_arg health)
port=${health##*:}
[ -n "$watch_dir" ] && [ -n "$secrets_file" ] && [ -n "$port" ] ||
  fail "the base DaemonSet lacks --watch-dir, --secrets or --health: ${ds_args[*]}"
echo "     DaemonSet arguments: ${ds_args[*]}"
state_dir=$(ds_arg state-dir)
mkdir -p "$work/state"
# run_ds NAME [ARG...]: the container as the DaemonSet's pod, its state dir on
# the host as the DaemonSet's hostPath.
run_ds() {
  local name=$1; shift
  podman run -d --name "$name" --network "ns:/run/netns/$ns" \
    --cap-drop ALL --cap-add NET_ADMIN --cap-add NET_BIND_SERVICE --read-only \
    -v "$work/conf.d:$watch_dir:ro" -v "$work/secrets:$(dirname "$secrets_file"):ro" \
    -v "$work/state:$state_dir" "$image" "${ds_args[@]}" "$@" >/dev/null
}
run_ds "$xfrm_name"

# wait_probe NAME PATH: up to 20 s for PATH on the health listener to answer 200.
wait_probe() {
  local status=""
  for _ in $(seq 100); do
    status=$(ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port$2" || true)
    [ "$status" = 200 ] && return 0
    [ "$(podman inspect --format '{{.State.Running}}' "$1")" = true ] || break
    sleep 0.2
  done
  show_logs "$1"
  fail "$2 on 127.0.0.1:$port answered '$status' in $1, expected 200"
}
current=$xfrm_name
wait_probe "$current" /healthz
ok "/healthz 200 on the --health listener"
# Ready once the drop is loaded and every listener is bound: what a rollout waits for.
wait_probe "$current" /readyz
ok "/readyz 200"

# policy_out SRC DST: the namespace has an outbound policy for that pair.
policy_out() { ip -n "$ns" xfrm policy | grep -A1 "src $1 dst $2" | grep -q 'dir out'; }
# wait_for WHAT COMMAND...: up to 20 s for COMMAND to succeed.
wait_for() {
  local what=$1; shift
  for _ in $(seq 100); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  ip -n "$ns" xfrm policy
  show_logs "$current"
  fail "timed out waiting for $what"
}
not() { ! "$@"; }
# The daemon's metrics on the DaemonSet's metrics port, as the ServiceMonitor scrapes them.
metrics=$(ds_arg metrics)
metric() {  # SERIES -> its value
  ip netns exec "$ns" curl -sf --max-time 5 "http://127.0.0.1:${metrics##*:}/metrics" |
    awk -v s="$1" '$1 == s { print $2 }'
}
metric_is() { [ "$(metric "$1")" = "$2" ]; }
metric_over() { awk -v v="$(metric "$1")" -v n="$2" 'BEGIN { exit !(v != "" && v + 0 > n + 0) }'; }
started_at=$(podman inspect --format '{{.State.StartedAt}}' "$xfrm_name")
not_restarted() {
  [ "$(podman inspect --format '{{.State.StartedAt}} {{.State.Running}}' "$xfrm_name")" = "$started_at true" ] ||
    { show_logs "$xfrm_name"; fail "the container restarted or stopped"; }
}

wait_for "the trap policy of image-route" policy_out 198.51.100.0/25 203.0.113.0/25
ok "trap policy 198.51.100.0/25 -> 203.0.113.0/25 installed in $ns"
for series in 'ipsec_connections{state="routed"} 1' 'ipsec_connections{state="failing"} 0' \
  'ipsec_config_reloads_total{result="failure"} 0'; do
  metric_is ${series% *} ${series##* } || fail "/metrics: expected $series, got $(metric "${series% *}")"
done
ok "/metrics: the connection routed, the alerts' series present"

# GitOps: the ConfigMap changes under the running pod; no restart.
publish_configmap route.conf="$work/drops/route.conf" route2.conf="$work/drops/route2.conf"
wait_for "the trap policy of an added drop" policy_out 198.51.100.128/25 203.0.113.128/25
policy_out 198.51.100.0/25 203.0.113.0/25 || fail "the first connection's policy went away when a drop was added"
not_restarted
ok "ConfigMap update (drop added): its trap policy installed, the other kept, no restart"

publish_configmap route.conf="$work/drops/route.conf" route2.conf="$work/drops/bad.conf"
wait_for "the rejected drop to be counted" metric_over 'ipsec_config_reloads_total{result="failure"}' 0
policy_out 198.51.100.0/25 203.0.113.0/25 && policy_out 198.51.100.128/25 203.0.113.128/25 ||
  fail "a drop with an error changed the installed policies"
not_restarted
ok "ConfigMap update with an error: rejected and counted, the last good state stays"

publish_configmap route.conf="$work/drops/route.conf"
wait_for "the removed drop's policy to go" not policy_out 198.51.100.128/25 203.0.113.128/25
policy_out 198.51.100.0/25 203.0.113.0/25 || fail "the remaining connection's policy went away"
not_restarted
ok "ConfigMap update (drop removed): its policy removed, the other kept, no restart"

# SIGHUP (the unit's ExecReload) rereads everything.
reloads_ok=$(metric 'ipsec_config_reloads_total{result="success"}')
podman kill --signal HUP "$xfrm_name" >/dev/null
wait_for "a reload after SIGHUP" metric_over 'ipsec_config_reloads_total{result="success"}' "$reloads_ok"
not_restarted
ok "SIGHUP: configuration reread ($(metric 'ipsec_config_reloads_total{result="success"}') good loads), still running"

podman stop --time 20 "$xfrm_name" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$xfrm_name")
[ "$code" = 0 ] || { show_logs "$xfrm_name"; fail "ipsecd exited $code on SIGTERM, expected 0"; }
ok "podman stop: exit 0"
if policy_out 198.51.100.0/25 203.0.113.0/25; then ip -n "$ns" xfrm policy; fail "the trap policy is still installed after SIGTERM"; fi
[ -z "$(ip -n "$ns" xfrm policy)" ] || { ip -n "$ns" xfrm policy; fail "policies left in $ns after SIGTERM"; }
ok "every policy removed on SIGTERM"

# An upgrade with --keep-dataplane-on-exit (daemon.keepDataplaneOnExit): the old
# pod leaves its policies, the new one, on the same state dir, takes them over.
current=$keep_name
run_ds "$keep_name" --keep-dataplane-on-exit
wait_probe "$keep_name" /readyz
wait_for "the trap policy" policy_out 198.51.100.0/25 203.0.113.0/25
podman stop --time 20 "$keep_name" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$keep_name")
[ "$code" = 0 ] || { show_logs "$keep_name"; fail "ipsecd --keep-dataplane-on-exit exited $code on SIGTERM, expected 0"; }
policy_out 198.51.100.0/25 203.0.113.0/25 || fail "--keep-dataplane-on-exit: the trap policy was removed on SIGTERM"
ok "--keep-dataplane-on-exit: exit 0, the trap policy stays"
# The kernel's index of a policy changes when it is deleted and added again.
policy_index() {
  ip -s -n "$ns" xfrm policy | awk -v sel="src $1 dst $2" '
    index($0, sel) == 1 { want = 1; next }
    want && /dir out/ { match($0, /index [0-9]+/); print substr($0, RSTART, RLENGTH); exit }
    { want = 0 }'
}
kept_index=$(policy_index 198.51.100.0/25 203.0.113.0/25)
[ -n "$kept_index" ] || { ip -s -n "$ns" xfrm policy; fail "no index for the trap policy in ip -s xfrm policy"; }
current=$next_name
run_ds "$next_name"
wait_probe "$next_name" /readyz
wait_for "the adopted trap policy" policy_out 198.51.100.0/25 203.0.113.0/25
count=$(ip -n "$ns" xfrm policy | grep -c 'src 198.51.100.0/25 dst 203.0.113.0/25')
[ "$count" = 1 ] || { ip -n "$ns" xfrm policy; fail "after the takeover $count policies for the selector, expected 1 (adopted, not duplicated)"; }
[ "$(policy_index 198.51.100.0/25 203.0.113.0/25)" = "$kept_index" ] ||
  { ip -n "$ns" xfrm policy; fail "the trap policy was replaced ($kept_index before), not adopted"; }
ok "the next daemon on the same state dir adopts the trap policy ($kept_index unchanged)"
podman stop --time 20 "$next_name" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$next_name")
[ "$code" = 0 ] || { show_logs "$next_name"; fail "ipsecd exited $code on SIGTERM, expected 0"; }
[ -z "$(ip -n "$ns" xfrm policy)" ] || { ip -n "$ns" xfrm policy; fail "policies left in $ns after SIGTERM"; }
ok "and removes it on SIGTERM"
echo "PASS"
