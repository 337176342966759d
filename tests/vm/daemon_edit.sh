#!/bin/bash
# daemon_edit.sh IPSECD IPSEC
# Zero-loss edit, in the VM tier's kernel (ESP): the two ipsecd of daemon_rekey.sh
# (daemon_lib.sh: the layout, the capture and the checks they share) hold one tunnel
# (esp=aes_gcm256, lifetimes of hours: no rekey in the window, so every new SPI is
# the edit's) while a ping crosses it at 20 packets/s; meanwhile both config files
# are edited, one after the other, the way an operator does (written beside and
# renamed over the watched --config; the daemon's watcher is the reload):
#   EDIT_AT s into the ping, east (auto=add, the responder) gets esp=aes_gcm256,aes_gcm128:
#     a new generation, its SAs are left alone (only the side that brings the
#     connection up replaces them, docs/controller.md);
#   EDIT_GAP s later west (auto=start) gets esp=aes_gcm128: the reconciler replaces
#     the CHILD SA make-before-break on the IKE SA it shares (the IKE settings are
#     unchanged): a CHILD SA of the new definition comes up, then the old one is
#     deleted (west's DELETE takes east's old one).
# Passes when, over the window (EDIT_WINDOW seconds, default 24):
#   * ping lost nothing;
#   * the link carried ESP and IKE only (no clear ICMP, no other IPv4, as many ESP
#     frames as echoes), on exactly the first and the final CHILD SA's SPIs;
#   * each edit was applied (generation = observedGeneration one up, one more
#     successful reload counted), east's left its kernel SAs as they were;
#   * at the end each side holds 1 IKE SA (the first one: it was shared) and 1 CHILD
#     SA with new SPIs that carries AES_GCM_16_128 (`ipsec status --json`), the
#     kernel exactly its 2 SAs and 1 out/in/fwd policy; the connection is
#     Established/Ready (not Replacing, no error), no SA went down, nothing failed.
# The figures are printed: from west's edit to the CREATE_CHILD_SA, its answer, the first
# ESP on the new SA and the DELETE of the old one, from the wire's times.
# Run it through run-vm-test.sh; exits 77 (skip) with the reason when not root
# or the kernel has no ESP.
#   EDIT_WINDOW  seconds of ping (default 24)
#   EDIT_AT      seconds into the ping of east's edit (default 4)
#   EDIT_GAP     seconds from east's edit to west's (default 3)
# Through run-vm-test.sh: IPSEC_VM_PASSENV="EDIT_WINDOW EDIT_AT EDIT_GAP".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=daemon_lib.sh
source "$here/daemon_lib.sh"
pair_init "${1:-}" "${2:-}" edit edit-zero-loss
window=${EDIT_WINDOW:-24}
edit_at=${EDIT_AT:-4}
edit_gap=${EDIT_GAP:-3}
old_enc=AES_GCM_16_256 new_enc=AES_GCM_16_128

settings=(ike=aes_gcm256-sha2_256-dh31 salifetime=1h ikelifetime=2h)
write_conf west start "${settings[@]}" esp=aes_gcm256
write_conf east add "${settings[@]}" esp=aes_gcm256
pair_up
[ "$(conn_json west | jq -r '.childSas[0].encryption')" = "$old_enc" ] ||
  die "the first CHILD SA does not carry $old_enc"

gen() { conn_json "$1" | jq -r '"\(.generation) \(.observedGeneration)"'; }
applied() { [ "$(gen "$1")" = "$2 $2" ]; } # applied SIDE GEN: the reconciler acted on GEN
reloads() { scrape "$1"; metric "$1" 'ipsec_config_reloads_total{result="success"}'; }
edit() { # edit SIDE AUTO ESP: rewrite the side's config; returns once it is applied
  local side=$1 g r
  read -r g _ <<<"$(gen "$side")"
  r=$(reloads "$side")
  eval "${side}_gen0=$g ${side}_reloads0=$r"
  eval "${side}_edit_at=$(date +%s.%N)"
  write_conf "$side" "$2" "${settings[@]}" "esp=$3"
  echo "edit: $side.conf now has esp=$3 (at $(utc "$(eval echo "\$${side}_edit_at")") UTC, $(elapsed))"
  wait_for 15 "$side to apply its edit (generation $((g + 1)))" applied "$side" $((g + 1))
}
new_child() { # west's CHILD SA of the new definition is installed
  conn_json west | jq -e --arg e "$new_enc" \
    '[.childSas[]? | select(.state == "INSTALLED" and .encryption == $e)] | length == 1' >/dev/null
}
condition() { # condition SIDE TYPE: "STATUS REASON" of the connection's condition
  conn_json "$1" | jq -r --arg t "$2" '.conditions[]? | select(.type == $t) | "\(.status) \(.reason)"'
}

capture_start
ping_start "$window"
sleep "$edit_at"

# ---- east: the responder accepts the new proposal too; its SAs stay ---------------------
east_kernel0=$(kernel_spis "$R" | tr '\n' ' ')
edit east add aes_gcm256,aes_gcm128
east_kernel1=$(kernel_spis "$R" | tr '\n' ' ')
read -r en ec ei eo _ <<<"$(look east)"
if [ "$east_kernel1" = "$east_kernel0" ] && [ "$en $ec" = "1 1" ] &&
  [ "$(printf '%s\n' "$(norm "$ei")" "$(norm "$eo")" | sort | tr '\n' ' ')" = "$east_kernel0" ]; then
  ok "east applied generation $((east_gen0 + 1)) and kept its SAs: kernel [$east_kernel0], 1 IKE SA, 1 CHILD SA in/out $ei/$eo"
else
  bad "east's edit touched its SAs: kernel [$east_kernel0] -> [$east_kernel1], $en IKE SA(s), $ec CHILD SA(s) in/out $ei/$eo"
fi

# ---- west: the initiator switches to the new proposal: the CHILD SA is replaced ---------
sleep "$edit_gap"
edit west start aes_gcm128
wait_for 20 "west's CHILD SA of the new definition ($new_enc)" new_child
new_up_at=$(date +%s.%N)
wait_for 20 "the old CHILD SA to go from both sides (one CHILD SA pair per side)" settled
old_gone_at=$(date +%s.%N)
ok "replaced: CHILD SA $first_child -> $final_w (west in/out), seen installed" \
  "$(awk -v a="$west_edit_at" -v b="$new_up_at" 'BEGIN {printf "%.2f", b - a}') s and the old one gone" \
  "$(awk -v a="$west_edit_at" -v b="$old_gone_at" 'BEGIN {printf "%.2f", b - a}') s after the edit (polled)"

ping_finish
check_ping
check_wire 4 "one replacement: 2 SAs per direction"
# The SPIs on the wire are exactly the first CHILD SA's and the final one's.
wire_spis=$(awk '{print $3}' "$work/spis.txt" | sort | tr '\n' ' ')
expect_spis=$(for s in ${first_child/\// } ${final_w/\// }; do norm "$s"; echo; done | sort | tr '\n' ' ')
if [ "$wire_spis" = "$expect_spis" ]; then
  ok "the wire carried exactly the first and the final CHILD SA: [$wire_spis]"
else
  bad "ESP SPIs on the wire [$wire_spis], expected the first and the final CHILD SA's [$expect_spis]"
fi

# ---- the edit's timeline, from the wire (tcpdump's kernel times; `ip -ts xfrm monitor`
# prints when it reads the message, tens of ms late under TCG) --------------------------
# The IKE messages after west's edit are the replacement's: no DPD, no rekey in the window.
since() { awk -v a="$west_edit_at" -v b="$1" 'BEGIN {printf "%+.3f s", b - a}'; }
awk -v a="$west_edit_at" '$1 >= a && / (isakmp|NONESP-encap)/' "$work/wire.txt" >"$work/ike-after-edit.txt"
while read -r t rest; do echo "wire: $(utc "$t") UTC ($(since "$t")) $rest"; done <"$work/ike-after-edit.txt"
first_out=$(norm "${first_child#*/}") first_in=$(norm "${first_child%/*}")
final_out=$(norm "${final_w#*/}") final_in=$(norm "${final_w%/*}")
frame() { # frame first|last SPI: the epoch time of the SPI's first or last frame on the wire
  awk -v w="$1" -v s="$2" 'index($0, "ESP(spi=" s ",") { if (w == "first") { print $1; exit } t = $1 }
    END { if (w == "last" && t != "") print t }' "$work/wire.txt"
}
ike_at() { awk -v m="$1" 'index($0, m) {print $1; exit}' "$work/ike-after-edit.txt"; } # ike_at TEXT
t_req=$(ike_at 'child_sa[I]') t_resp=$(ike_at 'child_sa[R]') t_del=$(ike_at 'inf2[I]') t_delr=$(ike_at 'inf2[R]')
t_wnew=$(frame first "$final_out") t_enew=$(frame first "$final_in")
t_wold=$(frame last "$first_out") t_eold=$(frame last "$first_in")
if [ -n "$t_req" ] && [ -n "$t_resp" ] && [ -n "$t_del" ] && [ -n "$t_delr" ] && [ -n "$t_wnew" ] && [ -n "$t_enew" ]; then
  timeline="west's edit -> CREATE_CHILD_SA $(since "$t_req"), answered $(since "$t_resp"), first ESP on the new SA east $(since "$t_enew") west $(since "$t_wnew"), DELETE of the old $(since "$t_del"), answered $(since "$t_delr")"
  echo "timeline: $timeline; the last ESP on the old SA: west $(since "$t_wold"), east $(since "$t_eold")"
  # East sends on its new outbound SA as soon as it has answered (no REKEY_SA, nothing to
  # wait for); west can decrypt it once it has processed the answer.
  echo "timeline: east's first ESP on the new SA $(awk -v a="$t_resp" -v b="$t_enew" 'BEGIN {printf "%.1f", (b - a) * 1000}') ms after its answer"
else
  bad "the wire did not show the replacement (CREATE_CHILD_SA ${t_req:-?}/${t_resp:-?}, DELETE ${t_del:-?}/${t_delr:-?}, new SA ${t_wnew:-?}/${t_enew:-?})"
  timeline="(not seen on the wire)"
fi

# ---- the end: one IKE SA (the first), one CHILD SA pair with the new proposal ----------
settle 10
if [ "$settled_ok" = 1 ]; then
  if [ "$final_w" != "$first_child" ]; then ok "CHILD SPIs changed: $first_child -> $final_w"
  else bad "the CHILD SPIs did not change ($first_child)"; fi
  if [ "$final_ike" = "$first_ike" ]; then ok "the IKE SA stayed (shared, the IKE settings did not change): $first_ike"
  else bad "the IKE SA changed ($first_ike -> $final_ike): an esp= edit must replace the CHILD SA only"; fi
fi
check_policies
for side in west east; do
  j=$(conn_json "$side")
  enc=$(jq -r '[.childSas[]?.encryption] | join(",")' <<<"$j")
  ike_enc=$(jq -r '[.ikeSas[]?.encryption] | join(",")' <<<"$j")
  if [ "$enc" = "$new_enc" ]; then ok "$side: the CHILD SA carries $enc (IKE SA $ike_enc)"
  else bad "$side: the CHILD SA(s) carry [$enc], expected $new_enc"; fi
  g=$(eval echo "\$${side}_gen0")
  applied "$side" $((g + 1)) || bad "$side: generation/observed $(gen "$side"), expected $((g + 1)) for both"
  est=$(condition "$side" Established) rdy=$(condition "$side" Ready)
  if [ "$est" = "True Established" ] && [ "$rdy" = "True Established" ]; then
    ok "$side: Established=$est Ready=$rdy, generation $((g + 1))"
  else
    bad "$side: Established=[$est] Ready=[$rdy] (expected True Established for both)"
  fi
  err=$(jq -r '.lastError // ""' <<<"$j")
  [ -z "$err" ] || bad "$side: lastError \"$err\""
  r1=$(reloads "$side") r0=$(eval echo "\$${side}_reloads0")
  if [ "$r1" = $((r0 + 1)) ]; then ok "$side: the watcher reloaded the config once for the edit ($r0 -> $r1)"
  else bad "$side: ipsec_config_reloads_total{result=\"success\"} $r0 -> $r1 for one edit"; fi
  for m in 'ipsec_config_reloads_total{result="failure"}' ipsec_reconcile_errors_total \
    'ipsec_rekeys_total{kind="child",result="failure"}'; do
    [ "$(metric "$side" "$m")" = 0 ] || bad "$side: $m = $(metric "$side" "$m")"
  done
  echo "--- $side: SA events logged"
  grep -E 'child-up|child-down|ike-up|ike-down|failed|rekey|replac|delet' "$work/$side.log" | cut -c1-180 || true
  if grep -qE 'child-down|ike-down|child-failed|ike-failed' "$work/$side.log"; then
    bad "$side: an SA went down or failed (the log lines above)"
  fi
  eval "${side}_ike_total=$(metric "$side" ipsec_ike_sa_established_total)"
done
[ "$west_ike_total $east_ike_total" = "1 1" ] ||
  bad "IKE SAs established: west $west_ike_total, east $east_ike_total (expected 1 each: the IKE SA is shared)"

echo "figures: window ${window} s, $sent sent / $received received; edits east at +${edit_at} s, west" \
  "+${edit_gap} s later; $timeline; $spis_seen ESP SPIs on the wire; settled in ${settle_ms} ms"
finish "PASS (daemon edit, make-before-break, zero loss)"
