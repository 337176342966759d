#!/bin/bash
# daemon_rekey.sh IPSECD IPSEC
# Zero-loss rekeying, in the VM tier's kernel (ESP): two ipsecd with the XFRM
# backend in two network namespaces (daemon_lib.sh: the layout, the capture and
# the checks it shares with daemon_edit.sh) hold one tunnel with short lifetimes
# while a ping crosses it at 20 packets/s for the whole window:
#   salifetime=15s rekeymargin=5s rekeyfuzz=100%: a CHILD rekey every 7.5-10 s
#     (the margin is scaled into the lifetime's second half);
#   ikelifetime=30s: the IKE SA is rekeyed 20-25 s in.
# Passes when, over the window (REKEY_WINDOW seconds, default 35):
#   * ping lost nothing (its summary; the lost sequence numbers are printed);
#   * the link carried ESP and IKE only: no ICMP between the inner addresses,
#     no other IPv4, as many ESP frames as echoes, and at least 8 ESP SPIs;
#   * both daemons show at least 3 CHILD rekeys and 1 IKE rekey (the lineage
#     counts of `ipsec status --json`), their logs the "rekeyed" lines, and
#     the SPIs changed;
#   * at the end each side holds 1 IKE SA and 1 CHILD SA, the kernel exactly
#     its 2 SAs (once the last DELETE is through) and 1 out/in/fwd policy each.
# The figures are printed (packets, rekeys with their times, SPIs on the wire).
# Run it through run-vm-test.sh; exits 77 (skip) with the reason when not root
# or the kernel has no ESP.
#   REKEY_WINDOW  seconds of ping (default 35)
#   REKEY_FUZZ    rekeyfuzz (default 100%); 0%: both ends' timers fall 10 s after the
#                 install, so the ends rekey within ms of each other and often cross
#                 (RFC 7296 2.8.1).
# Through run-vm-test.sh: IPSEC_VM_PASSENV="REKEY_WINDOW REKEY_FUZZ".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=daemon_lib.sh
source "$here/daemon_lib.sh"
pair_init "${1:-}" "${2:-}" rekey rekey-zero-loss
window=${REKEY_WINDOW:-35}
fuzz=${REKEY_FUZZ:-100%}

settings=(ike=aes_gcm256-sha2_256-dh31 esp=aes_gcm256 salifetime=15s ikelifetime=30s
  rekeymargin=5s "rekeyfuzz=$fuzz")
write_conf west start "${settings[@]}"
write_conf east add "${settings[@]}"
pair_up
capture_start
ping_start "$window"
ping_finish
check_ping
check_wire 8 "3 rekeys: at least 4 SAs per direction"

# ---- the rekeys -----------------------------------------------------------------------
for side in west east; do
  echo "--- $side: rekeys logged"
  grep -E 'rekeyed|rekey-failed|child-down|ike-down|child-failed|ike-failed' "$work/$side.log" | cut -c1-160 || true
done
for side in west east; do
  scrape "$side"
  j=$(conn_json "$side")
  ike_n=$(jq '[.ikeSas[]?.rekeys] | max // 0' <<<"$j")
  child_n=$(jq '[.childSas[]?.rekeys] | max // 0' <<<"$j")
  log_child=$(in_window "$work/$side.log" 'tunnel: rekeyed child SA')
  log_ike=$(in_window "$work/$side.log" 'tunnel: rekeyed IKE SA')
  m_child=$(metric "$side" 'ipsec_rekeys_total{kind="child",result="success"}')
  m_ike=$(metric "$side" 'ipsec_rekeys_total{kind="ike",result="success"}')
  m_fail=$(metric "$side" 'ipsec_rekeys_total{kind="child",result="failure"}')
  m_ike_fail=$(metric "$side" 'ipsec_rekeys_total{kind="ike",result="failure"}')
  echo "$side: rekeys: status lineage child $child_n ike $ike_n; \"rekeyed\" log lines in the ping's window" \
    "child $log_child ike $log_ike; ipsec_rekeys_total success child $m_child ike $m_ike, failure child $m_fail ike $m_ike_fail"
  [ "$child_n" -ge 3 ] || bad "$side: the CHILD SA was rekeyed $child_n times (expected >= 3)"
  [ "$ike_n" -ge 1 ] || bad "$side: the IKE SA was rekeyed $ike_n times (expected >= 1)"
  [ "$log_child" -ge 3 ] || bad "$side: $log_child CHILD rekeys logged while the ping ran (expected >= 3)"
  [ "$log_ike" -ge 1 ] || bad "$side: $log_ike IKE rekeys logged while the ping ran (expected >= 1)"
  [ "$m_fail" = 0 ] && [ "$m_ike_fail" = 0 ] || echo "note: $side counted failed rekeys (see the log lines above)"
  if grep -qE 'child-down|ike-down' "$work/$side.log"; then bad "$side: an SA went down during the window"; fi
  eval "${side}_child=$child_n ${side}_ike=$ike_n"
done
# Intervals between the CHILD rekeys (west's log, UTC times).
grep 'tunnel: rekeyed child SA' "$work/west.log" | awk '{
    split(substr($1, 12, 12), t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]
    if (p != "") printf "%s+%.1f s ", substr($1, 12, 12), s - p; else printf "%s ", substr($1, 12, 12)
    p = s } END { if (NR) print "" }' | sed 's/^/west: child rekeys at /' || true

# ---- the end: one IKE SA, one CHILD SA pair, 2 kernel SAs per side --------------------
# Rekeys go on (every 7.5-10 s): wait for a moment between two (2.5 rekey periods).
settle 25
if [ "$settled_ok" = 1 ]; then
  [ "$final_ike" != "$first_ike" ] || bad "the IKE SPIs did not change ($first_ike)"
  [ "$final_w" != "$first_child" ] || bad "the CHILD SPIs did not change ($first_child)"
  [ "$final_ike" != "$first_ike" ] && [ "$final_w" != "$first_child" ] &&
    ok "SPIs changed: IKE $first_ike -> $final_ike, CHILD $first_child -> $final_w"
fi
check_policies

echo "figures: window ${window} s (rekeyfuzz=$fuzz), $sent sent / $received received; rekeys child west $west_child" \
  "east $east_child, ike west $west_ike east $east_ike; $spis_seen ESP SPIs on the wire; settled in ${settle_ms} ms"
finish "PASS (daemon rekey, zero loss)"
