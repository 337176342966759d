# shellcheck shell=bash
# daemon_lib.sh: the shared half of the VM tier's two-daemon zero-loss tests
# (daemon_rekey.sh, daemon_edit.sh), sourced by them after `set -euo pipefail`.
# Two ipsecd with the XFRM backend in two network namespaces
# (../shared/peers/netns-pair.sh layout: outer 192.0.2.1 west / 192.0.2.2 east,
# inner 198.51.100.1 and 203.0.113.1, plain routes to the inner addresses as in
# the other VM daemon tests: ROUTE_INNER=1) hold the connection "tunnel" while a
# ping crosses it at 20 packets/s; tcpdump records what each namespace sends onto
# the link and `ip xfrm monitor` every SA and policy change. Each daemon reads
# its own --config file ($work/SIDE.conf, watched: an edit there is a reload) and
# serves its API on 127.0.0.1 of its namespace, where the CLI runs too.
#   pair_init IPSECD IPSEC NAME PAYLOAD  checks (exit 77 with the reason when not root
#                                         or the kernel has no ESP), namespaces, work dir;
#                                         PAYLOAD (<= 16 bytes) fills the echoes and must
#                                         never be seen in clear
#   write_conf SIDE AUTO SETTING...       the connection, replaced by rename as editors do
#   pair_up                               both daemons, west (auto=start) brings it up;
#                                         sets first_child (west in/out), first_ike, up_at
#   capture_start; ping_start SECONDS; ping_finish
#   check_ping; check_wire MIN_SPIS WHY   zero loss; ESP and IKE only on the link
#   settle SECONDS; check_policies        1 IKE + 1 CHILD SA per side, its 2 kernel SAs,
#                                         1 out/in/fwd policy; sets final_w, final_ike
#   finish PASS_TEXT                      timings, evidence for each loss, the verdict
# DAEMON_TEST_KEEP=DIR copies the work directory (logs, captures, xfrm monitor) there at
# the end (through run-in-vm.sh: a -w share, and IPSEC_VM_PASSENV=DAEMON_TEST_KEEP).
daemon_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# cli SIDE ARGS..., wait_for SECONDS DESCRIPTION CMD... (polling 10 times a second here)
# shellcheck source=../support/netns_daemons.sh
source "$daemon_lib_dir/../support/netns_daemons.sh"
wait_polls_per_second=10
rate_interval=0.05 # 20 packets/s

pair_init() {
  ipsecd=$(realpath -e "${1:?ipsecd binary}")
  ipsec=$(realpath -e "${2:?ipsec binary}")
  test_name=$3 payload_text=$4
  pattern=$(printf %s "$payload_text" | od -An -tx1 | tr -d ' \n')
  peers=${IPSECD_PEERS_DIR:-$(realpath -m "$daemon_lib_dir/../../../shared/peers")}
  [ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, XFRM, ping -i 0.05)"; exit 77; }
  [ -x "$peers/netns-pair.sh" ] || { echo "SKIP: no $peers/netns-pair.sh"; exit 77; }
  modprobe -q esp4 2>/dev/null || grep -qw '^esp4' /proc/modules ||
    { echo "SKIP: this kernel has no ESP (esp4); run through tests/vm/run-vm-test.sh"; exit 77; }
  local tool
  for tool in jq tcpdump ping; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
  done
  t0=$(date +%s%N)
  local tag
  tag=$(printf '%x' $$)
  L=pa-${test_name:0:2}${tag}l R=pa-${test_name:0:2}${tag}r
  work=$(mktemp -d "/tmp/ipsecd-$test_name.XXXXXX")
  pids=()
  failures=0
  trap cleanup EXIT
  ROUTE_INNER=1 "$peers/netns-pair.sh" up "$L" "$R" >/dev/null
  echo '@west @east : PSK "xfrm zero-loss test key"' >"$work/ipsec.secrets"
  chmod 600 "$work/ipsec.secrets"
}
elapsed() { local ms=$((($(date +%s%N) - t0) / 1000000)); printf '%d.%01d s' $((ms / 1000)) $((ms % 1000 / 100)); }
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$peers/netns-pair.sh" down "$L" "$R" >/dev/null 2>&1 || true
  [ -z "${DAEMON_TEST_KEEP:-}" ] || cp -r "$work" "$DAEMON_TEST_KEEP/" || true
  rm -rf "$work"
}
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
dump_state() { # the kernel's and the daemons' view, for a failure
  for ns in "$L" "$R"; do
    echo "--- ip xfrm state ($ns)"; ip -n "$ns" xfrm state 2>&1 | grep -v -e '^\s*\(auth\|enc\|aead\)' || true
    echo "--- ip xfrm policy ($ns)"; ip -n "$ns" xfrm policy 2>&1 || true
  done
  for side in west east; do
    echo "--- $side: ipsec status --json (the connection's SAs)"
    conn_json "$side" | jq -M -c '{generation, observedGeneration,
      ikeSas: [.ikeSas[]? | {localSpi, remoteSpi, initiator, state, encryption, rekeys, rekeyAt, expiresAt}],
      childSas: [.childSas[]? | {spiIn, spiOut, state, encryption, rekeys, packetsIn, packetsOut, rekeyAt, expiresAt}]}' 2>&1 || true
    echo "--- $side.log (last 40 lines)"; tail -n 40 "$work/$side.log" || true
  done
}
die() { echo "FAIL: $*"; dump_state; exit 1; }

write_conf() { # write_conf SIDE AUTO SETTING...: written beside, then renamed over the watched file
  local side=$1 auto=$2
  shift 2
  {
    printf '%s\n' "conn tunnel" "    ikev2=insist" "    authby=secret" "    left=192.0.2.1" \
      "    right=192.0.2.2" "    leftid=@west" "    rightid=@east" "    leftsubnet=198.51.100.1/32" \
      "    rightsubnet=203.0.113.1/32"
    printf '    %s\n' "$@" "auto=$auto"
  } >"$work/.$side.conf.new"
  mv -f "$work/.$side.conf.new" "$work/$side.conf"
}
ns_of() { [ "$1" = west ] && echo "$L" || echo "$R"; }
start() { # start SIDE
  ip netns exec "$(ns_of "$1")" "$ipsecd" --kernel xfrm --config "$work/$1.conf" \
    --secrets "$work/ipsec.secrets" --state-dir "$work/$1" --metrics 127.0.0.1:9810 \
    --ipsecdir "$work/ipsec.d" >>"$work/$1.log" 2>&1 &
  pids+=($!)
  eval "${1}_pid=$!"
}
# The connection's object (the one holding ikeSas and childSas) of `ipsec status --json`.
conn_json() { cli "$1" status --json 2>/dev/null | jq -M -c '[.. | objects | select(has("childSas"))][0] // {}'; }
# The kernel's ESP SAs of a namespace, keyed ones only (no larval SPI 0), as "SPI" lines.
kernel_spis() { ip -n "$1" xfrm state | awk '$1 == "proto" && $2 == "esp" && $4 != "0x00000000" {print $4}' | sort; }
norm() { local x=${1#0x}; printf '0x%08s' "${x,,}" | tr ' ' 0; } # "e98cc240" -> 0xe98cc240

ready() { cli west ready >/dev/null 2>&1 && cli east ready >/dev/null 2>&1; }
child_up() {
  [ "$(conn_json west | jq '[.childSas[]? | select(.state == "INSTALLED")] | length')" = 1 ] &&
    [ "$(kernel_spis "$L" | wc -l)" = 2 ] && [ "$(kernel_spis "$R" | wc -l)" = 2 ]
}
pair_up() {
  start east
  start west
  wait_for 30 "both daemons ready" ready
  wait_for 30 "the CHILD SA (auto=start)" child_up
  local first_west
  first_west=$(conn_json west)
  first_child=$(jq -r '.childSas[0] | "\(.spiIn)/\(.spiOut)"' <<<"$first_west")
  first_ike=$(jq -r '.ikeSas[0] | "\(.localSpi)/\(.remoteSpi)"' <<<"$first_west")
  up_at=$(elapsed)
  ok "tunnel up at $up_at: IKE SA $first_ike, CHILD SA $first_child (west in/out)"
}

capture_start() {
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
}
ping_start() { # ping_start SECONDS: the echoes go in the background
  count=$(($1 * 20))
  echo "ping: $count echoes at 20/s (-i $rate_interval), 198.51.100.1 -> 203.0.113.1, window $1 s"
  ping_from=$(date +%s.%N)
  ip netns exec "$L" ping -D -n -i "$rate_interval" -c "$count" -W 2 -p "$pattern" \
    -I 198.51.100.1 203.0.113.1 >"$work/ping.txt" 2>&1 &
  ping_pid=$!
  pids+=($!)
}
ping_finish() {
  ping_rc=0
  wait "$ping_pid" || ping_rc=$?
  ping_to=$(date +%s.%N)
  sleep 1 # tcpdump is slow under TCG: let it write the last frames
  for p in "${dumps[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${dumps[@]}"; do wait "$p" 2>/dev/null || true; done
  ping_done_at=$(elapsed)
  ping_s=$(awk -v a="$ping_from" -v b="$ping_to" 'BEGIN {printf "%.1f", b - a}')
  echo "ping: ran $ping_s s (ends at $ping_done_at)"
}

utc() { case $1 in start | end | "?") echo "$1" ;; *) date -u -d "@$1" +%H:%M:%S.%3N ;; esac; }
check_ping() { # nothing lost
  local summary rtt first last n prev next
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
  if [ "$ping_rc" = 0 ] && [ "$sent" = "$count" ] && [ "$received" = "$sent" ] && [ ! -s "$work/lost.txt" ]; then
    ok "zero loss: $sent echoes sent, $received answered"
  else
    bad "packets lost: sent $sent of $count, answered $received (ping exit $ping_rc)"
    while read -r first last n prev next; do
      echo "lost: icmp_seq $first..$last ($n), between the replies at $(utc "$prev") and $(utc "$next") UTC"
    done <"$work/lost.txt"
    grep -v -e 'bytes from' -e '^PATTERN' -e '^PING' -e '^$' "$work/ping.txt" | head -n 20
  fi
}

check_wire() { # check_wire MIN_SPIS WHY: ESP and IKE only; sets spis_seen, $work/spis.txt
  local min_spis=$1 why=$2 side counts esp ike clear_icmp other_ip payload wire_ok
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
  payload=$(cat "$work"/wire-*.pcap | grep -a -c -F "$payload_text" || true)
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
  [ "$spis_seen" -ge "$min_spis" ] || { wire_ok=0; bad "only $spis_seen ESP SPIs on the wire ($why: at least $min_spis)"; }
  [ "$wire_ok" = 1 ] && ok "only ESP and IKE on the wire: $esp ESP frames over $spis_seen SPIs, no clear ICMP"
  return 0
}

# The log lines (UTC ISO times) of the ping's window that contain TEXT.
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.%3NZ; }
in_window() { # in_window LOG TEXT
  awk -v a="$(iso "$ping_from")" -v b="$(iso "$ping_to")" -v t="$2" '$1 >= a && $1 <= b && index($0, t) {n++} END {print n + 0}' "$1"
}
scrape() { ip netns exec "$(ns_of "$1")" curl -s --max-time 10 http://127.0.0.1:9810/metrics >"$work/metrics-$1.txt" || true; }
metric() { # metric SIDE NAME{labels}: the value in the side's last scrape, 0 when absent
  awk -v m="$2" 'index($0, m " ") == 1 {print $2; f = 1} END {if (!f) print 0}' "$work/metrics-$1.txt"
}

# One look at a side: "IKE_SAS CHILD_SAS SPI_IN SPI_OUT IKE_SPI" of the connection.
look() { conn_json "$1" | jq -r '"\(.ikeSas | length) \(.childSas | length) \(.childSas[0].spiIn) \(.childSas[0].spiOut) \(.ikeSas[0].localSpi)/\(.ikeSas[0].remoteSpi)"'; }
unsettled=
settled() { # each side holds one SA pair, the one ipsecd shows, and the two sides agree
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
settle() { # settle SECONDS: looks until a moment with one IKE SA, one CHILD SA pair, 2 kernel SAs per side
  local tries=0 from
  from=$(date +%s%N)
  settled_ok=0
  while [ $((($(date +%s%N) - from) / 1000000000)) -lt "$1" ]; do
    tries=$((tries + 1))
    if settled; then settled_ok=1; break; fi
    sleep 0.2
  done
  settle_ms=$((($(date +%s%N) - from) / 1000000))
  if [ "$settled_ok" = 1 ]; then
    ok "settled after ${settle_ms} ms ($tries looks): 1 IKE SA ($final_ike), 1 CHILD SA (west in/out $final_w), the kernel holds exactly its 2 SAs per side"
  else
    bad "no moment in ${settle_ms} ms ($tries looks) with exactly 1 IKE SA, 1 CHILD SA and its 2 kernel SAs per side; the last look: $unsettled"
  fi
}
# One out, in and fwd policy per side for the flow, shared by every SA of the connection.
policies() { # policies NS LOCAL REMOTE
  local dir n
  for dir in out in fwd; do
    if [ $dir = out ]; then n=$(ip -n "$1" xfrm policy list src "$2" dst "$3" dir $dir | grep -c '^src' || true)
    else n=$(ip -n "$1" xfrm policy list src "$3" dst "$2" dir $dir | grep -c '^src' || true); fi
    [ "$n" = 1 ] || bad "$1: $n $dir policies for the flow (expected 1)"
  done
}
check_policies() {
  policies "$L" 198.51.100.1/32 203.0.113.1/32
  policies "$R" 203.0.113.1/32 198.51.100.1/32
}

# For each loss (the first 4): what the wire, the kernels and the daemons did from
# 1.5 s before the last reply before it to 0.5 s after the first reply after it.
evidence() { # evidence FROM_EPOCH TO_EPOCH
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
    awk -v a="$(iso "$from")" -v b="$(iso "$to")" '$1 >= a && $1 <= b' "$work/$side.log" | cut -c1-200
  done
}
finish() { # finish PASS_TEXT
  local ns stats first last n prev next
  echo "timings (guest): tunnel up at $up_at, ping ${ping_s} s, ends at $ping_done_at, all done at $(elapsed)"
  for ns in "$L" "$R"; do
    stats=$(ip netns exec "$ns" awk '$2 != 0 {printf "%s=%s ", $1, $2}' /proc/net/xfrm_stat 2>/dev/null || true)
    echo "xfrm_stat ($ns): ${stats:-all zero}"
  done
  if [ "$failures" -gt 0 ]; then
    head -n 4 "$work/lost.txt" | while read -r first last n prev next; do
      echo "=== evidence for the loss of icmp_seq $first..$last"
      [ "$prev" = start ] && prev=$ping_from
      case $next in end | "?") next=$ping_to ;; esac
      evidence "$(awk -v t="$prev" 'BEGIN {printf "%.6f", t - 1.5}')" "$(awk -v t="$next" 'BEGIN {printf "%.6f", t + 0.5}')"
    done
    echo "--- the state at the end"
    dump_state
    echo "FAIL ($failures checks)"
    exit 1
  fi
  echo "$1"
}
