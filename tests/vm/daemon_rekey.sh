#!/bin/bash
# daemon_rekey.sh IPSECD IPSEC
# Zero-loss rekeying, in the VM tier's kernel (ESP): two ipsecd with the XFRM
# backend in two network namespaces (../shared/peers/netns-pair.sh layout:
# outer 192.0.2.1/.2, inner 198.51.100.1 and 203.0.113.1) hold one tunnel with
# short lifetimes while a ping crosses it at 20 packets/s for the whole window:
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
# Routes to the inner addresses are plain ones (ROUTE_INNER=1), as in the other
# VM daemon tests. Run it through run-vm-test.sh; exits 77 (skip) with the
# reason when not root or the kernel has no ESP.
#   REKEY_WINDOW  seconds of ping (default 35)
#   REKEY_FUZZ    rekeyfuzz (default 100%); 0%: both ends' timers fall 10 s after the
#                 install, so the ends rekey within ms of each other and often cross
#                 (RFC 7296 2.8.1).
# Through run-vm-test.sh: IPSEC_VM_PASSENV="REKEY_WINDOW REKEY_FUZZ".
set -euo pipefail
ipsecd=$(realpath -e "${1:?ipsecd binary}")
ipsec=$(realpath -e "${2:?ipsec binary}")
here=$(cd "$(dirname "$0")" && pwd)
peers=${IPSECD_PEERS_DIR:-$(realpath -m "$here/../../../shared/peers")}
window=${REKEY_WINDOW:-35}
fuzz=${REKEY_FUZZ:-100%}
rate_interval=0.05  # 20 packets/s
pattern=72656b65792d7a65726f2d6c6f7373  # "rekey-zero-loss", must never be seen in clear
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, XFRM, ping -i 0.05)"; exit 77; }
[ -x "$peers/netns-pair.sh" ] || { echo "SKIP: no $peers/netns-pair.sh"; exit 77; }
modprobe -q esp4 2>/dev/null || grep -qw '^esp4' /proc/modules ||
  { echo "SKIP: this kernel has no ESP (esp4); run through tests/vm/run-vm-test.sh"; exit 77; }
for tool in jq tcpdump ping; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

t0=$(date +%s%N)
elapsed() { local ms=$((($(date +%s%N) - t0) / 1000000)); printf '%d.%01d s' $((ms / 1000)) $((ms % 1000 / 100)); }
tag=$(printf '%x' $$)
L=pa-rk${tag}l R=pa-rk${tag}r
work=$(mktemp -d /tmp/ipsecd-rekey.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$peers/netns-pair.sh" down "$L" "$R" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
dump_state() {  # the kernel's and the daemons' view, for a failure
  for ns in "$L" "$R"; do
    echo "--- ip xfrm state ($ns)"; ip -n "$ns" xfrm state 2>&1 | grep -v -e '^\s*\(auth\|enc\|aead\)' || true
    echo "--- ip xfrm policy ($ns)"; ip -n "$ns" xfrm policy 2>&1 || true
  done
  for side in west east; do
    echo "--- $side: ipsec status --json (the connection's SAs)"
    conn_json "$side" | jq -M -c '{ikeSas: [.ikeSas[]? | {localSpi, remoteSpi, initiator, state, rekeys, rekeyAt, expiresAt}],
      childSas: [.childSas[]? | {spiIn, spiOut, state, rekeys, packetsIn, packetsOut, rekeyAt, expiresAt}]}' 2>&1 || true
    echo "--- $side.log (last 40 lines)"; tail -n 40 "$work/$side.log" || true
  done
}
die() { echo "FAIL: $*"; dump_state; exit 1; }

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
    salifetime=15s
    ikelifetime=30s
    rekeymargin=5s
    rekeyfuzz=$fuzz
    auto=$1
CONF
}
conf start >"$work/west.conf"
conf add >"$work/east.conf"
echo '@west @east : PSK "xfrm rekey test key"' >"$work/ipsec.secrets"
chmod 600 "$work/ipsec.secrets"
ns_of() { [ "$1" = west ] && echo "$L" || echo "$R"; }
start() {  # start SIDE
  ip netns exec "$(ns_of "$1")" "$ipsecd" --kernel xfrm --config "$work/$1.conf" \
    --secrets "$work/ipsec.secrets" --state-dir "$work/$1" --metrics 127.0.0.1:9810 \
    --ipsecdir "$work/ipsec.d" >>"$work/$1.log" 2>&1 &
  pids+=($!)
}
# The API listens on 127.0.0.1 of the daemon's namespace: the CLI runs there too.
cli() {  # cli SIDE ARGS...
  local side=$1
  shift
  IPSECD_STATE_DIR=$work/$side ip netns exec "$(ns_of "$side")" "$ipsec" "$@"
}
# The connection's object (the one holding ikeSas and childSas) of `ipsec status --json`.
conn_json() { cli "$1" status --json 2>/dev/null | jq -M -c '[.. | objects | select(has("childSas"))][0] // {}'; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2
  shift 2
  for _ in $(seq 1 $((secs * 10))); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  die "timed out after ${secs} s waiting for $what"
}
# The kernel's ESP SAs of a namespace, keyed ones only (no larval SPI 0), as "SPI" lines.
kernel_spis() { ip -n "$1" xfrm state | awk '$1 == "proto" && $2 == "esp" && $4 != "0x00000000" {print $4}' | sort; }

start east
start west
ready() { cli west ready >/dev/null 2>&1 && cli east ready >/dev/null 2>&1; }
wait_for 30 "both daemons ready" ready
child_up() {
  [ "$(conn_json west | jq '[.childSas[]? | select(.state == "INSTALLED")] | length')" = 1 ] &&
    [ "$(kernel_spis "$L" | wc -l)" = 2 ] && [ "$(kernel_spis "$R" | wc -l)" = 2 ]
}
wait_for 30 "the CHILD SA (auto=start)" child_up
first_west=$(conn_json west)
first_child=$(jq -r '.childSas[0] | "\(.spiIn)/\(.spiOut)"' <<<"$first_west")
first_ike=$(jq -r '.ikeSas[0] | "\(.localSpi)/\(.remoteSpi)"' <<<"$first_west")
up_at=$(elapsed)
ok "tunnel up at $up_at: IKE SA $first_ike, CHILD SA $first_child (west in/out)"

# The whole window on the wire: what each namespace sends onto the veth (-Q out;
# a receiving end would also show the decrypted packets the kernel reinjects there).
dumps=()
for side in west east; do
  ip netns exec "$(ns_of "$side")" tcpdump -n -i pa0 -Q out --immediate-mode -U -s 0 \
    -w "$work/wire-$side.pcap" 2>"$work/tcpdump-$side.err" &
  dumps+=($!)
  pids+=($!)
done
listening() { [ "$(cat "$work"/tcpdump-*.err | grep -c 'listening on')" = 2 ]; }
wait_for 20 "tcpdump to listen" listening

# Every SA and policy change and every kernel expire, time-stamped: the evidence
# for a loss (printed when a check fails).
for side in west east; do
  ip netns exec "$(ns_of "$side")" ip -ts xfrm monitor nokeys SA policy expire acquire \
    >"$work/xfrm-$side.txt" 2>&1 &
  pids+=($!)
done

count=$((window * 20))
echo "ping: $count echoes at 20/s (-i $rate_interval), 198.51.100.1 -> 203.0.113.1, window ${window} s"
ping_start=$(date +%s.%N)
ping_rc=0
ip netns exec "$L" ping -D -n -i "$rate_interval" -c "$count" -W 2 -p "$pattern" \
  -I 198.51.100.1 203.0.113.1 >"$work/ping.txt" 2>&1 || ping_rc=$?
ping_end=$(date +%s.%N)
sleep 1  # tcpdump is slow under TCG: let it write the last frames
for p in "${dumps[@]}"; do kill -INT "$p" 2>/dev/null || true; done
for p in "${dumps[@]}"; do wait "$p" 2>/dev/null || true; done
ping_done_at=$(elapsed)
echo "ping: ran $(awk -v a="$ping_start" -v b="$ping_end" 'BEGIN {printf "%.1f", b - a}') s (ends at $ping_done_at)"

# ---- ping: nothing lost ---------------------------------------------------------------
summary=$(grep 'packets transmitted' "$work/ping.txt" || true)
echo "ping: $summary"
sent=$(awk '/packets transmitted/ {print $1}' "$work/ping.txt")
received=$(awk '/packets transmitted/ {print $4}' "$work/ping.txt")
rtt=$(grep -o 'rtt .*' "$work/ping.txt" || true)
[ -n "$rtt" ] && echo "ping: $rtt"
: "${sent:=0}" "${received:=0}"
# The echoes that got no reply, as ranges "FIRST LAST COUNT PREV NEXT": PREV and
# NEXT are the times (epoch s, ping -D) of the replies just before and after.
awk -v n="$sent" '
  match($0, /icmp_seq=[0-9]+/) { s = substr($0, RSTART + 9, RLENGTH - 9) + 0
    if (match($0, /^\[[0-9.]+\]/)) at[s] = substr($0, 2, RLENGTH - 2); else at[s] = "?" }
  END { prev = "start"; first = 0
    for (i = 1; i <= n + 1; i++) {
      if (i <= n && !(i in at)) { if (!first) first = i; continue }
      if (first) { printf "%d %d %d %s %s\n", first, i - 1, i - first, prev, (i <= n ? at[i] : "end"); first = 0 }
      if (i <= n) prev = at[i] } }' "$work/ping.txt" >"$work/lost.txt"
utc() { case $1 in start | end | "?") echo "$1" ;; *) date -u -d "@$1" +%H:%M:%S.%3N ;; esac; }
if [ "$ping_rc" = 0 ] && [ "$sent" = "$count" ] && [ "$received" = "$sent" ] && [ ! -s "$work/lost.txt" ]; then
  ok "zero loss: $sent echoes sent, $received answered"
else
  bad "packets lost: sent $sent of $count, answered $received (ping exit $ping_rc)"
  while read -r first last n prev next; do
    echo "lost: icmp_seq $first..$last ($n), between the replies at $(utc "$prev") and $(utc "$next") UTC"
  done <"$work/lost.txt"
  grep -v -e 'bytes from' -e '^PATTERN' -e '^PING' -e '^$' "$work/ping.txt" | head -n 20
fi

# ---- the wire: ESP and IKE only --------------------------------------------------------
for side in west east; do
  grep -E 'captured|dropped' "$work/tcpdump-$side.err" | sed "s/^/tcpdump ($side out): /"
done
# Each capture read once (tcpdump is slow to start under TCG), classified here:
# ESP, IKE (UDP 500/4500: isakmp, NONESP-encap), ICMP between the inner
# addresses in clear, and any other IPv4.
for side in west east; do tcpdump -n -tt -r "$work/wire-$side.pcap" 2>/dev/null; done | sort -n >"$work/wire.txt"
counts=$(awk '
  /ESP\(spi=/ { esp++; next }
  / (isakmp|NONESP-encap)/ { ike++; next }
  $2 == "IP" && / ICMP / && /198\.51\.100\.1/ && /203\.0\.113\.1/ { icmp++ }
  $2 == "IP" { other++ }
  END { printf "%d %d %d %d", esp, ike, icmp, other }' "$work/wire.txt")
read -r esp ike clear_icmp other_ip <<<"$counts"
payload=$(cat "$work"/wire-*.pcap | grep -a -c 'rekey-zero-loss' || true)
echo "wire: $esp ESP, $ike IKE, $other_ip other IPv4 (of which $clear_icmp clear ICMP between the inner addresses)," \
  "$payload frames with the ping's payload in clear"
# Per SPI: direction, frames, first and last time (UTC): shows each hand-over.
awk '
  match($0, /ESP\(spi=0x[0-9a-f]+/) { spi = substr($0, RSTART + 8, RLENGTH - 8)
    if (!(spi in n)) { order[++k] = spi; first[spi] = $1; dir[spi] = $3 " " $4 " " $5 }
    n[spi]++; last[spi] = $1 }
  function t(x) { return strftime("%H:%M:%S", int(x), 1) sprintf(".%03d", (x - int(x)) * 1000) }
  END { for (i = 1; i <= k; i++) { s = order[i]
          printf "wire: spi %s %-24s %5d frames  %s .. %s\n", s, dir[s], n[s], t(first[s]), t(last[s]) } }' \
  "$work/wire.txt" >"$work/spis.txt"
cat "$work/spis.txt"
spis_seen=$(wc -l <"$work/spis.txt")
wire_ok=1
[ "$clear_icmp" = 0 ] || { wire_ok=0; bad "$clear_icmp ICMP packets in clear between the inner addresses on the wire"; }
[ "$payload" = 0 ] || { wire_ok=0; bad "the ping's payload was seen in clear in $payload frames"; }
[ "$other_ip" = 0 ] || {
  wire_ok=0
  bad "$other_ip IPv4 packets on the wire that are neither ESP nor IKE; the first:"
  awk '$2 == "IP" && !/ESP\(spi=/ && !/ (isakmp|NONESP-encap)/' "$work/wire.txt" | head -n 10
}
[ "$esp" -ge $((2 * received)) ] || { wire_ok=0; bad "only $esp ESP frames on the wire for $received answered echoes (expected >= $((2 * received)))"; }
[ "$spis_seen" -ge 8 ] || { wire_ok=0; bad "only $spis_seen ESP SPIs on the wire (3 rekeys: at least 4 SAs per direction)"; }
[ "$wire_ok" = 1 ] && ok "only ESP and IKE on the wire: $esp ESP frames over $spis_seen SPIs, no clear ICMP"

# ---- the rekeys -----------------------------------------------------------------------
for side in west east; do
  echo "--- $side: rekeys logged"
  grep -E 'rekeyed|rekey-failed|child-down|ike-down|child-failed|ike-failed' "$work/$side.log" | cut -c1-160 || true
done
# The log lines (UTC ISO times) of the ping's window that contain TEXT.
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.%3NZ; }
window_from=$(iso "$ping_start") window_to=$(iso "$ping_end")
in_window() {  # in_window LOG TEXT
  awk -v a="$window_from" -v b="$window_to" -v t="$2" '$1 >= a && $1 <= b && index($0, t) {n++} END {print n + 0}' "$1"
}
metric() {  # metric SIDE NAME{labels}: the value in the side's scrape, 0 when absent
  awk -v m="$2" 'index($0, m " ") == 1 {print $2; f = 1} END {if (!f) print 0}' "$work/metrics-$1.txt"
}
for side in west east; do
  ip netns exec "$(ns_of "$side")" curl -s --max-time 10 http://127.0.0.1:9810/metrics >"$work/metrics-$side.txt" || true
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
# Rekeys go on (every 7.5-10 s): wait for a moment between two, when each side
# holds one SA pair, the one ipsecd shows, and the two sides agree.
norm() { local x=${1#0x}; printf '0x%08s' "${x,,}" | tr ' ' 0; }  # "e98cc240" -> 0xe98cc240
# One look at both sides: "IKE_SAS CHILD_SAS SPI_IN SPI_OUT IKE_SPI" of the connection.
look() { conn_json "$1" | jq -r '"\(.ikeSas | length) \(.childSas | length) \(.childSas[0].spiIn) \(.childSas[0].spiOut) \(.ikeSas[0].localSpi)/\(.ikeSas[0].remoteSpi)"'; }
unsettled=
settled() {
  local wn wc wi wo wk en ec ei eo ek kw ke
  read -r wn wc wi wo wk <<<"$(look west)"
  read -r en ec ei eo ek <<<"$(look east)"
  kw=$(kernel_spis "$L" | tr '\n' ' ') ke=$(kernel_spis "$R" | tr '\n' ' ')
  unsettled="west: $wn IKE SA(s), $wc CHILD SA(s), in/out $wi/$wo, kernel [$kw]; east: $en IKE SA(s), $ec CHILD SA(s), in/out $ei/$eo, kernel [$ke]"
  [ "$wn $wc $en $ec" = "1 1 1 1" ] || return 1
  final_w="$wi/$wo" final_ike=$wk
  [ "$wi" = "$eo" ] && [ "$wo" = "$ei" ] || return 1
  [ "$kw" = "$(printf '%s\n' "$(norm "$wi")" "$(norm "$wo")" | sort | tr '\n' ' ')" ] || return 1
  [ "$ke" = "$(printf '%s\n' "$(norm "$ei")" "$(norm "$eo")" | sort | tr '\n' ' ')" ] || return 1
}
settle_start=$(date +%s%N)
settled_ok=0
tries=0
while [ $((($(date +%s%N) - settle_start) / 1000000000)) -lt 25 ]; do  # 2.5 rekey periods
  tries=$((tries + 1))
  if settled; then settled_ok=1; break; fi
  sleep 0.2
done
settle_ms=$((($(date +%s%N) - settle_start) / 1000000))
if [ "$settled_ok" = 1 ]; then
  ok "settled after ${settle_ms} ms ($tries looks): 1 IKE SA ($final_ike), 1 CHILD SA (west in/out $final_w), the kernel holds exactly its 2 SAs per side"
  [ "$final_ike" != "$first_ike" ] || bad "the IKE SPIs did not change ($first_ike)"
  [ "$final_w" != "$first_child" ] || bad "the CHILD SPIs did not change ($first_child)"
  [ "$final_ike" != "$first_ike" ] && [ "$final_w" != "$first_child" ] &&
    ok "SPIs changed: IKE $first_ike -> $final_ike, CHILD $first_child -> $final_w"
else
  bad "no moment in ${settle_ms} ms ($tries looks) with exactly 1 IKE SA, 1 CHILD SA and its 2 kernel SAs per side; the last look: $unsettled"
fi
# One out, in and fwd policy per side for the flow, shared by every SA of the lineage.
policies() {  # policies NS LOCAL REMOTE
  local dir n
  for dir in out in fwd; do
    if [ $dir = out ]; then n=$(ip -n "$1" xfrm policy list src "$2" dst "$3" dir $dir | grep -c '^src' || true)
    else n=$(ip -n "$1" xfrm policy list src "$3" dst "$2" dir $dir | grep -c '^src' || true); fi
    [ "$n" = 1 ] || bad "$1: $n $dir policies for the flow (expected 1)"
  done
}
policies "$L" 198.51.100.1/32 203.0.113.1/32
policies "$R" 203.0.113.1/32 198.51.100.1/32

total=$(elapsed)
ping_s=$(awk -v a="$ping_start" -v b="$ping_end" 'BEGIN {printf "%.1f", b - a}')
echo "figures: window ${window} s (rekeyfuzz=$fuzz), $sent sent / $received received; rekeys child west $west_child" \
  "east $east_child, ike west $west_ike east $east_ike; $spis_seen ESP SPIs on the wire; settled in ${settle_ms} ms"
echo "timings (guest): tunnel up at $up_at, ping ${ping_s} s, ends at $ping_done_at, all done at $total"
for ns in "$L" "$R"; do
  stats=$(ip netns exec "$ns" awk '$2 != 0 {printf "%s=%s ", $1, $2}' /proc/net/xfrm_stat 2>/dev/null || true)
  echo "xfrm_stat ($ns): ${stats:-all zero}"
done
# For each loss (the first 4): what the wire, the kernels and the daemons did from
# 1.5 s before the last reply before it to 0.5 s after the first reply after it.
evidence() {  # evidence FROM_EPOCH TO_EPOCH
  local from=$1 to=$2 side
  echo "--- wire $(utc "$from") .. $(utc "$to"): IKE messages, and each ESP frame on a new SPI with the one before it"
  awk -v a="$from" -v b="$to" '$1 >= a && $1 <= b {
      if (/ (isakmp|NONESP-encap)/) { print; next }
      if (match($0, /ESP\(spi=0x[0-9a-f]+/)) { d = $3; spi = substr($0, RSTART + 8, RLENGTH - 8)
        if (d in cur && cur[d] != spi) { print prevline[d]; print }
        cur[d] = spi; prevline[d] = $0 } }' "$work/wire.txt" |
    while read -r t rest; do echo "$(utc "$t") $rest"; done
  for side in west east; do
    echo "--- $side: ip -ts xfrm monitor $(utc "$from") .. $(utc "$to") (local time)"
    awk -v a="$(date -d "@$from" +%Y-%m-%dT%H:%M:%S.%6N)" -v b="$(date -d "@$to" +%Y-%m-%dT%H:%M:%S.%6N)" '
      /^\[/ { t = substr($1, 2, 26); keep = (t >= a && t <= b) }
      keep && !/^[ \t]+(aead|enc|auth|auth-trunc|comp) /' "$work/xfrm-$side.txt" | head -n 120
    echo "--- $side.log $(utc "$from") .. $(utc "$to")"
    awk -v a="$(date -u -d "@$from" +%Y-%m-%dT%H:%M:%S.%3NZ)" -v b="$(date -u -d "@$to" +%Y-%m-%dT%H:%M:%S.%3NZ)" \
      '$1 >= a && $1 <= b' "$work/$side.log" | cut -c1-200
  done
}
if [ "$failures" -gt 0 ]; then
  head -n 4 "$work/lost.txt" | while read -r first last n prev next; do
    echo "=== evidence for the loss of icmp_seq $first..$last"
    [ "$prev" = start ] && prev=$ping_start
    case $next in end | "?") next=$ping_end ;; esac
    evidence "$(awk -v t="$prev" 'BEGIN {printf "%.6f", t - 1.5}')" "$(awk -v t="$next" 'BEGIN {printf "%.6f", t + 0.5}')"
  done
  echo "--- the state at the end"
  dump_state
  echo "FAIL ($failures checks)"
  exit 1
fi
echo "PASS (daemon rekey, zero loss)"
