#!/usr/bin/env bash
# Interop: ipsecd's engine (engine_peer, memory kernel) against strongSwan
# charon with kernel-libipsec (real ESP in user space, inside UDP 4500) and
# against libreswan pluto, each in a namespace pair of its own.
#
#   interop_test.sh ENGINE_PEER [strongswan|libreswan|all]
#
# Environment: IPSECD_SOURCE_DIR (the peers live in $IPSECD_SOURCE_DIR/../shared/peers,
# or PEERS_DIR), KEEP=1 keeps the work directory for a look afterwards.
# Exit 0: every check passed; 1: a check failed; 77: skipped (not root, or
# no peer scripts), with the reason printed.
set -uo pipefail

PEER_BIN=${1:?usage: interop_test.sh ENGINE_PEER [strongswan|libreswan|all]}
WHICH=${2:-all}
SRC=${IPSECD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PEERS=${PEERS_DIR:-$SRC/../shared/peers}

if [[ $(id -u) != 0 ]]; then
    echo "SKIP: interop needs root (network namespaces, UDP 500/4500)"
    exit 77
fi
if [[ ! -x $PEERS/netns-pair.sh || ! -x $PEERS/strongswan-peer.sh ]]; then
    echo "SKIP: no peer scripts in $PEERS (set PEERS_DIR)"
    exit 77
fi
PEER_BIN=$(cd "$(dirname "$PEER_BIN")" && pwd)/$(basename "$PEER_BIN")

# Unique per run: parallel runs never share namespaces or files.
TAG=$(printf "%x%x" $$ "$((10#$(date +%N | head -c 6)))" | tail -c 8)
NS_L=pa-i${TAG}l
NS_R=pa-i${TAG}r
WORK=$(mktemp -d /tmp/pa-interop.XXXXXX)
ENGINE_PID=
PASS=0
FAIL=0

cleanup() {
    set +eu  # tear everything down whatever failed
    stop_engine
    [[ -d $WORK/ss ]] && "$PEERS/strongswan-peer.sh" stop "$WORK/ss" >/dev/null 2>&1
    [[ -d $WORK/lsw ]] && "$PEERS/libreswan-peer.sh" stop "$WORK/lsw" >/dev/null 2>&1
    "$PEERS/netns-pair.sh" down "$NS_L" "$NS_R" >/dev/null 2>&1
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { PASS=$((PASS + 1)); echo "  PASS $*"; }
fail() { FAIL=$((FAIL + 1)); echo "  FAIL $*"; }
check() {  # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
eq() {  # eq DESCRIPTION GOT WANT
    if [[ $2 == "$3" && -n $2 ]]; then pass "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi
}

# ---- engine_peer as a coprocess in the left namespace
start_engine() {  # start_engine CONF LISTEN_ADDR
    stop_engine
    coproc EP { exec ip netns exec "$NS_L" "$PEER_BIN" --listen "$2" --conf "$1" \
        --secrets "$WORK/engine.secrets" 2>>"$WORK/engine.log"; }
    ENGINE_PID=${EP_PID:-}
    local line
    IFS= read -r -t 10 line <&"${EP[0]}" || true
    [[ $line == ready ]] || { fail "engine_peer did not start (log: $(tail -3 "$WORK/engine.log"))"; return 1; }
}
stop_engine() {
    if [[ -n $ENGINE_PID ]] && kill -0 "$ENGINE_PID" 2>/dev/null; then
        { echo quit >&"${EP[1]}"; } 2>/dev/null
        local i
        for i in $(seq 1 20); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.05; done
        kill -TERM "$ENGINE_PID" 2>/dev/null
    fi
    [[ -n $ENGINE_PID ]] && wait "$ENGINE_PID" 2>/dev/null
    ENGINE_PID=
}
# ep COMMAND: its output lines in $EP_OUT, status 0 on "ok".
ep() {
    EP_OUT=
    [[ -n $ENGINE_PID && -n ${EP[1]:-} ]] || { EP_OUT="error engine_peer is not running"; return 1; }
    echo "$*" >&"${EP[1]}"
    local line
    while IFS= read -r -t 40 line <&"${EP[0]}"; do
        EP_OUT+="$line"$'\n'
        case $line in
            ok*) return 0 ;;
            error*) return 1 ;;
        esac
    done
    EP_OUT+="error no answer to '$*'"
    return 1
}
field() {  # field KEY LINE
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2" | head -1
}

# ---- strongSwan
ss() { "$PEERS/strongswan-peer.sh" ctl "$WORK/ss" "$@"; }

write_confs() {  # write_confs FAMILY IKE_SWAN ESP_SWAN IKE_LSW ESP_LSW
    local fam=$1 l r ls rs
    if [[ $fam == 6 ]]; then
        l=2001:db8::1 r=2001:db8::2 ls=2001:db8:1::1/128 rs=2001:db8:2::1/128
    else
        l=192.0.2.1 r=192.0.2.2 ls=198.51.100.1/32 rs=203.0.113.1/32
    fi
    LOCAL_ADDR=$l LOCAL_TS=$ls REMOTE_TS=$rs
    cat >"$WORK/engine.conf" <<EOF
conn pa
    ikev2=insist
    authby=secret
    left=$l
    leftid=@left.example.org
    leftsubnet=$ls
    right=$r
    rightid=@right.example.org
    rightsubnet=$rs
    ike=$4
    esp=$5
    auto=add
EOF
    cat >"$WORK/engine.secrets" <<EOF
@left.example.org @right.example.org : PSK "pa-test-psk-0123456789"
EOF
    mkdir -p "$WORK/ss"
    cat >"$WORK/ss/swanctl.conf" <<EOF
connections {
    pa {
        version = 2
        local_addrs = $r
        remote_addrs = $l
        proposals = $2
        local { auth = psk
                id = right.example.org }
        remote { auth = psk
                 id = left.example.org }
        children {
            net {
                local_ts = $rs
                remote_ts = $ls
                esp_proposals = $3
            }
        }
    }
}
secrets {
    ike-pa { id-l = right.example.org
             id-r = left.example.org
             secret = "pa-test-psk-0123456789" }
}
EOF
}

# charon's view of connection pa: "IKE_SPI_I IKE_SPI_R CHILD_IN CHILD_OUT LOCAL_TS REMOTE_TS ENCAP"
charon_sa() {
    ss --list-sas --ike pa 2>/dev/null | awk '
        /^pa: #[0-9]+, ESTABLISHED/ { for (i = 1; i <= NF; i++) {
                if ($i ~ /_i\*?$/) { si = $i; sub(/_i\*?$/, "", si) }
                if ($i ~ /_r\*?$/) { sr = $i; sub(/_r\*?$/, "", sr) } } }
        /^  net: #[0-9]+, .*INSTALLED/ { enc = ($0 ~ /TUNNEL-in-UDP/) ? "udp" : "none" }
        /^    in  / { cin = $2; sub(/,$/, "", cin) }
        /^    out / { cout = $2; sub(/,$/, "", cout) }
        /^    local  / { lts = $2 }
        /^    remote / { rts = $2 }
        END { if (si != "") print si, sr, cin, cout, lts, rts, enc }'
}

# Both ends agree on the IKE SA, the CHILD SA's SPIs (crossed), selectors and encapsulation.
compare_sas() {  # compare_sas LABEL
    local label=$1 line c
    ep list
    line=$(grep '^sa conn=pa .* child=pa ' <<<"$EP_OUT" | head -1)
    c=$(charon_sa)
    if [[ -z $line || -z $c ]]; then
        fail "$label: both ends list the SA (engine: '${line:-none}', charon: '${c:-none}')"
        return
    fi
    read -r c_si c_sr c_in c_out c_lts c_rts c_enc <<<"$c"
    eq "$label: IKE SPIi" "$(field ike_spi_i "$line")" "$c_si"
    eq "$label: IKE SPIr" "$(field ike_spi_r "$line")" "$c_sr"
    eq "$label: engine inbound = charon outbound SPI" "$(field child_spi_in "$line")" "$c_out"
    eq "$label: engine outbound = charon inbound SPI" "$(field child_spi_out "$line")" "$c_in"
    eq "$label: engine local TS = charon remote TS" "$(field local_ts "$line" | tr -d '[]')" "$c_rts"
    eq "$label: engine remote TS = charon local TS" "$(field remote_ts "$line" | tr -d '[]')" "$c_lts"
    eq "$label: engine local TS is the configured one" "$(field local_ts "$line" | tr -d '[]')" "$LOCAL_TS"
    eq "$label: UDP encapsulation on both ends" "$(field encap "$line")/$c_enc" "udp/udp"
}

charon_has_no_sa() {
    local i
    for i in $(seq 1 50); do
        ss --list-sas --ike pa 2>/dev/null | grep -q '^pa: #' || return 0
        sleep 0.1
    done
    return 1
}

# One matrix cell: who initiates, which algorithms, which family, who deletes.
run_case() {  # run_case INITIATOR FAMILY IKE_SWAN ESP_SWAN IKE_LSW ESP_LSW DELETER
    local init=$1 fam=$2 deleter=$7
    local label="ipsecd-$init ${3}/${4} IPv$fam"
    echo "case: $label, delete from $deleter"
    write_confs "$fam" "$3" "$4" "$5" "$6"
    ss --load-all --noprompt --file "$WORK/ss/swanctl.conf" >/dev/null 2>&1 \
        || { fail "$label: charon loads the connection"; return; }
    start_engine "$WORK/engine.conf" "$LOCAL_ADDR" || return
    if [[ $init == initiator ]]; then
        if ep initiate pa; then pass "$label: engine initiates, CHILD SA up"; else
            fail "$label: engine initiates: $EP_OUT"; stop_engine; return; fi
    else
        if ss --initiate --child net --timeout 20 >"$WORK/initiate.out" 2>&1; then
            pass "$label: charon initiates, CHILD SA up"
        else
            fail "$label: charon initiates: $(tail -2 "$WORK/initiate.out")"; stop_engine; return
        fi
        if ep wait child-up pa 10; then pass "$label: engine saw child-up"; else
            fail "$label: engine child-up: $EP_OUT"; fi
    fi
    compare_sas "$label"
    case $deleter in
        engine)
            ep terminate pa
            check "$label: engine DELETE seen by charon" charon_has_no_sa
            if ep wait ike-down pa 10; then pass "$label: engine IKE SA down"; else
                fail "$label: engine IKE SA down: $EP_OUT"; fi ;;
        charon)
            ss --terminate --ike pa --timeout 10 >/dev/null 2>&1
            if ep wait ike-down pa 10; then pass "$label: charon DELETE seen by engine"; else
                fail "$label: charon DELETE seen by engine: $EP_OUT"; fi
            ep list
            check "$label: engine lists no SA after the DELETE" \
                test "$(grep -c '^sa ' <<<"$EP_OUT")" = 0 ;;
        charon-child)
            ss --terminate --child net --timeout 10 >/dev/null 2>&1
            if ep wait child-down pa 10; then pass "$label: charon CHILD DELETE seen by engine"; else
                fail "$label: charon CHILD DELETE seen by engine: $EP_OUT"; fi
            ep list
            check "$label: engine keeps the IKE SA without CHILD SA" \
                grep -q '^sa conn=pa state=established .* child=-$' <<<"$EP_OUT"
            ss --terminate --ike pa --timeout 10 >/dev/null 2>&1
            ep wait ike-down pa 10 >/dev/null ;;
    esac
    stop_engine
}

strongswan_matrix() {
    echo "== strongSwan charon (kernel-libipsec) in $NS_R, engine in $NS_L"
    mkdir -p "$WORK/ss"
    write_confs 4 aes128gcm16-prfsha256-x25519 aes128gcm16 aes_gcm128-sha2_256-dh31 aes_gcm128
    if ! SS_KERNEL=libipsec SS_NO_LOAD=1 "$PEERS/strongswan-peer.sh" start "$NS_R" "$WORK/ss" \
        >"$WORK/ss-start.out" 2>&1; then
        fail "charon starts: $(tail -3 "$WORK/ss-start.out")"
        return
    fi
    local gcm=aes128gcm16 cbc=aes128-sha256
    run_case initiator 4 aes128gcm16-prfsha256-x25519 $gcm aes_gcm128-sha2_256-dh31 aes_gcm128 engine
    run_case initiator 4 aes128gcm16-prfsha256-ecp256 $gcm aes_gcm128-sha2_256-dh19 aes_gcm128 charon
    run_case initiator 4 aes128gcm16-prfsha256-modp2048 $gcm aes_gcm128-sha2_256-modp2048 aes_gcm128 charon-child
    run_case initiator 4 aes128-sha256-x25519 $cbc aes128-sha2_256-dh31 aes128-sha2_256 charon
    run_case initiator 6 aes128gcm16-prfsha256-x25519 $gcm aes_gcm128-sha2_256-dh31 aes_gcm128 engine
    run_case responder 4 aes128gcm16-prfsha256-x25519 $gcm aes_gcm128-sha2_256-dh31 aes_gcm128 charon
    run_case responder 4 aes128gcm16-prfsha256-ecp256 $gcm aes_gcm128-sha2_256-dh19 aes_gcm128 engine
    run_case responder 4 aes128gcm16-prfsha256-modp2048 $gcm aes_gcm128-sha2_256-modp2048 aes_gcm128 charon
    run_case responder 4 aes128-sha256-ecp256 $cbc aes128-sha2_256-dh19 aes128-sha2_256 engine
    run_case responder 6 aes128gcm16-prfsha256-x25519 $gcm aes_gcm128-sha2_256-dh31 aes_gcm128 charon-child
    "$PEERS/strongswan-peer.sh" stop "$WORK/ss" >/dev/null 2>&1
}

libreswan_matrix() {
    echo "== libreswan pluto (kernel without ESP) in $NS_R, engine in $NS_L"
    local d=$WORK/lsw
    mkdir -p "$d"
    write_confs 4 x x aes_gcm128-sha2_256-dh31 aes_gcm128
    cat >"$d/ipsec.conf" <<EOF
config setup
    logappend=no
    uniqueids=no
conn pa
    ikev2=insist
    authby=secret
    left=192.0.2.2
    leftid=@right.example.org
    leftsubnet=203.0.113.1/32
    right=192.0.2.1
    rightid=@left.example.org
    rightsubnet=198.51.100.1/32
    ike=aes_gcm128-sha2_256;dh31
    esp=aes_gcm128
    auto=add
EOF
    echo '@right.example.org @left.example.org : PSK "pa-test-psk-0123456789"' >"$d/ipsec.secrets"
    if ! "$PEERS/libreswan-peer.sh" start "$NS_R" "$d" >"$WORK/lsw-start.out" 2>&1; then
        fail "pluto starts: $(tail -3 "$WORK/lsw-start.out")"
        return
    fi
    local label="ipsecd-initiator pluto"
    start_engine "$WORK/engine.conf" 192.0.2.1 || return
    # pluto's CHILD SA install fails (no ESP in this kernel): it answers TS_UNACCEPTABLE.
    ep initiate pa
    check "$label: the CHILD SA fails with pluto's notify" grep -q 'TS_UNACCEPTABLE' <<<"$EP_OUT"
    if ep wait ike-up pa 5; then pass "$label: engine IKE SA up"; else fail "$label: engine IKE SA up: $EP_OUT"; fi
    ep list
    check "$label: engine keeps the IKE SA" grep -q '^sa conn=pa state=established role=initiator .* child=-$' <<<"$EP_OUT"
    # pluto drops its IKE SA silently ~0.1 s after its failed install: its log is the record.
    check "$label: pluto established the IKE SA as responder" \
        grep -q 'responder established IKE SA; authenticated peer using authby=secret' "$d/pluto.log"
    check "$label: pluto's CHILD failure is the kernel's netlink refusal" \
        grep -q 'netlink response for Add SA esp\.[0-9a-f]*@192\.0\.2\.1: .*errno' "$d/pluto.log"
    ep terminate pa
    if ep wait ike-down pa 10; then pass "$label: engine IKE SA down after its DELETE"; else
        fail "$label: engine IKE SA down: $EP_OUT"; fi

    label="ipsecd-responder pluto"
    "$PEERS/libreswan-peer.sh" ipsec "$d" auto --up pa >"$WORK/lsw-up.out" 2>&1
    check "$label: pluto established the IKE SA" grep -q 'established IKE SA' "$WORK/lsw-up.out"
    if ep wait ike-up pa 10; then pass "$label: engine IKE SA up"; else fail "$label: engine IKE SA up: $EP_OUT"; fi
    local spi=
    if ep wait child-up pa 10; then pass "$label: engine installed the CHILD SA"; else
        fail "$label: engine CHILD SA: $EP_OUT"; fi
    spi=$(field child_spi_in "$EP_OUT")
    # pluto's outbound SA is the engine's inbound one: same SPI, refused by this kernel.
    check "$label: pluto's CHILD install of the engine's SPI ${spi:-?} is what fails" \
        grep -q "netlink response for Add SA esp\.${spi:-none}@192\.0\.2\.1: .*errno" "$WORK/lsw-up.out"
    "$PEERS/libreswan-peer.sh" ipsec "$d" auto --down pa >/dev/null 2>&1
    stop_engine
    "$PEERS/libreswan-peer.sh" stop "$d" >/dev/null 2>&1
}

"$PEERS/netns-pair.sh" up "$NS_L" "$NS_R" >"$WORK/netns.out" 2>&1 \
    || { echo "cannot create namespaces: $(cat "$WORK/netns.out")"; exit 1; }
# Duplicate address detection would hold the IPv6 addresses back for a second.
for ns in "$NS_L" "$NS_R"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.pa0.accept_dad=0 2>/dev/null
done
for i in $(seq 1 40); do
    ip netns exec "$NS_L" ip -6 addr show dev pa0 | grep -q tentative || break
    sleep 0.1
done

case $WHICH in
    strongswan) strongswan_matrix ;;
    libreswan) libreswan_matrix ;;
    all) strongswan_matrix; libreswan_matrix ;;
    *) echo "unknown peer set $WHICH (strongswan, libreswan, all)"; exit 2 ;;
esac

echo "interop: $PASS passed, $FAIL failed"
[[ $FAIL == 0 ]]
