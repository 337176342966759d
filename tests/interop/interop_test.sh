#!/usr/bin/env bash
# Interop: ipsecd's engine (engine_peer, memory kernel) against strongSwan
# charon with kernel-libipsec (real ESP in user space, inside UDP 4500) and
# against libreswan pluto, each in a namespace pair of its own.
#
#   interop_test.sh ENGINE_PEER [strongswan|strongswan-rekey|strongswan-reauth|libreswan|all]
#
# Besides establishment and DELETE: CHILD and IKE SA rekeys (RFC 7296 1.3.2,
# 1.3.3) started by either end, with and without PFS, and driven by short
# lifetimes on either end (strongswan-rekey runs only those against charon);
# reauthentications (reauth=yes, make-before-break) by either end, on command
# and by lifetime (strongswan-reauth runs only those); IKE SA rekeys both ways
# against pluto (which cannot install CHILD SAs here).
#
# Environment: IPSECD_SOURCE_DIR (the peers live in $IPSECD_SOURCE_DIR/../shared/peers,
# or PEERS_DIR), KEEP=1 keeps the work directory for a look afterwards.
# Exit 0: every check passed; 1: a check failed; 77: skipped (not root, or
# no peer scripts), with the reason printed.
set -uo pipefail

PEER_BIN=${1:?usage: interop_test.sh ENGINE_PEER [strongswan|strongswan-rekey|strongswan-reauth|libreswan|all]}
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
${ENGINE_EXTRA:-}
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
${SS_IKE_EXTRA:-}
        local { auth = psk
                id = right.example.org }
        remote { auth = psk
                 id = left.example.org }
        children {
            net {
                local_ts = $rs
                remote_ts = $ls
                esp_proposals = $3
${SS_CHILD_EXTRA:-}
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

# charon's view of connection pa: "IKE_SPI_I IKE_SPI_R CHILD_IN CHILD_OUT LOCAL_TS REMOTE_TS ENCAP",
# from its INSTALLED CHILD SA (after a rekey charon lists the replaced one as
# DELETED for charon.delete_rekeyed_delay, 5 s).
charon_sa() {
    ss --list-sas --ike pa 2>/dev/null | awk '
        /^pa: #[0-9]+, ESTABLISHED/ { for (i = 1; i <= NF; i++) {
                if ($i ~ /_i\*?$/) { si = $i; sub(/_i\*?$/, "", si) }
                if ($i ~ /_r\*?$/) { sr = $i; sub(/_r\*?$/, "", sr) } } }
        /^  net: #[0-9]+, / { inst = ($0 ~ /, INSTALLED,/) }
        /^  net: #[0-9]+, .*INSTALLED/ { enc = ($0 ~ /TUNNEL-in-UDP/) ? "udp" : "none" }
        inst && /^    in  / { cin = $2; sub(/,$/, "", cin) }
        inst && /^    out / { cout = $2; sub(/,$/, "", cout) }
        inst && /^    local  / { lts = $2 }
        inst && /^    remote / { rts = $2 }
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

# ---- rekeying (RFC 7296 1.3.2/1.3.3) against charon
# The engine's SA lines for pa in $SA_LINES (one per CHILD SA; the IKE SA's line
# when it has none). Not in $(...): the coprocess is not reachable from a subshell.
engine_sa_lines() { ep list; SA_LINES=$(grep '^sa conn=pa ' <<<"$EP_OUT"); }
# "IKE_SAS CHILD_SAS" as charon lists them for pa: IKE SAs in any state, CHILD
# SAs INSTALLED (a replaced one stays listed as DELETED for 5 s, see charon_sa).
charon_counts() {
    local out
    out=$(ss --list-sas --ike pa 2>/dev/null)
    echo "$(grep -c '^pa: #' <<<"$out") $(grep -c '^  net: #[0-9]*, .*, INSTALLED,' <<<"$out")"
}
# Waits (up to 8 s: charon keeps a replaced inbound SA for a moment) until each
# end has exactly one IKE SA and one CHILD SA for pa, the engine's installed.
settled() {  # settled LABEL
    local label=$1 i lines e c
    for i in $(seq 1 40); do
        engine_sa_lines
        lines=$SA_LINES
        e=$(grep -c . <<<"$lines")
        c=$(charon_counts)
        if [[ $e == 1 && $c == "1 1" ]] && grep -q ' child=pa child_state=installed ' <<<"$lines"; then
            break
        fi
        sleep 0.2
    done
    eq "$label: one CHILD SA (installed) and one IKE SA on each end, engine/charon" \
        "$e $(grep -c ' child_state=installed ' <<<"$lines")/$c" "1 1/1 1"
}
# The SPIs charon uses for pa, one a line: its IKE SAs' and those of its
# INSTALLED CHILD SAs (ALL=all: also of the CHILD SAs it still lists as DELETED).
charon_spis() {  # charon_spis [all]
    ss --list-sas --ike pa 2>/dev/null | awk -v all="${1:-}" '
        /^pa: #/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9a-f]+_[ir]\*?,?$/) {
                s = $i; sub(/_.*/, "", s); print s } }
        /^  net: #[0-9]+, / { use = all == "all" || ($0 ~ /, INSTALLED,/) }
        use && /^    (in|out) / { s = $2; sub(/,$/, "", s); print s }' | sort -u
}
charon_lacks() {  # charon_lacks [all] SPI... : none of them in use (listed) any more
    local spis s mode=
    [[ $1 == all ]] && { mode=all; shift; }
    spis=$(charon_spis $mode)
    for s in "$@"; do
        grep -qx "$s" <<<"$spis" && return 1
    done
    return 0
}
# charon_drops SPI...: charon stops listing them, within its delete_rekeyed_delay (5 s).
charon_drops() {
    local i
    for i in $(seq 1 35); do
        charon_lacks all "$@" && return 0
        sleep 0.2
    done
    return 1
}
engine_lacks() {  # engine_lacks SPI...
    local s
    engine_sa_lines
    for s in "$@"; do
        grep -q "=$s " <<<"$SA_LINES" && return 1
    done
    return 0
}

# After a CHILD SA rekey (event in $1): new SPIs on both ends, the old ones gone.
check_child_rekeyed() {  # check_child_rekeyed LABEL EVENT OLD_IN OLD_OUT [REKEYS [wait]]
    local label=$1 ev=$2 old_in=$3 old_out=$4 line
    local new_in new_out
    new_in=$(field child_spi_in "$ev") new_out=$(field child_spi_out "$ev")
    eq "$label: the event is a CHILD rekey" "$(field rekey "$ev")" child
    eq "$label: the event names the replaced SPIs" \
        "$(field replaced_child_spi_in "$ev")/$(field replaced_child_spi_out "$ev")" "$old_in/$old_out"
    check "$label: new SPIs $new_in/$new_out differ from the old $old_in/$old_out" \
        test "$new_in" != "$old_in" -a "$new_out" != "$old_out" -a "$new_in" != 00000000
    settled "$label"
    engine_sa_lines
    line=$(head -1 <<<"$SA_LINES")
    eq "$label: the engine lists the new SPIs" \
        "$(field child_spi_in "$line")/$(field child_spi_out "$line")" "$new_in/$new_out"
    [[ -n ${5:-} ]] && eq "$label: the engine counts the CHILD SA's rekeys" "$(field child_rekeys "$line")" "$5"
    compare_sas "$label"
    check "$label: charon has neither old SPI on an INSTALLED CHILD SA" charon_lacks "$old_in" "$old_out"
    if [[ ${6:-} == wait ]]; then
        check "$label: charon drops the replaced CHILD SA (after its 5 s delete_rekeyed_delay)" \
            charon_drops "$old_in" "$old_out"
    fi
    check "$label: the engine lists neither old SPI" engine_lacks "$old_in" "$old_out"
}
check_ike_rekeyed() {  # check_ike_rekeyed LABEL EVENT OLD_SPI_I OLD_SPI_R CHILD_IN CHILD_OUT
    local label=$1 ev=$2 line
    eq "$label: the event is an IKE rekey" "$(field rekey "$ev")" ike
    eq "$label: the event names the replaced IKE SPIs" \
        "$(field replaced_ike_spi_i "$ev")/$(field replaced_ike_spi_r "$ev")" "$3/$4"
    check "$label: new IKE SPIs differ from the old" \
        test "$(field ike_spi_i "$ev")" != "$3" -a "$(field ike_spi_r "$ev")" != "$4"
    settled "$label"
    engine_sa_lines
    line=$(head -1 <<<"$SA_LINES")
    eq "$label: the engine lists the new IKE SPIs" \
        "$(field ike_spi_i "$line")/$(field ike_spi_r "$line")" "$(field ike_spi_i "$ev")/$(field ike_spi_r "$ev")"
    eq "$label: the CHILD SA moved to it unchanged" \
        "$(field child_spi_in "$line")/$(field child_spi_out "$line")" "$5/$6"
    compare_sas "$label"
    check "$label: charon lists neither old IKE SPI" charon_lacks "$3" "$4"
}

# Brings pa up (INITIATOR: who starts) with the given algorithms; 0 when up.
rekey_up() {  # rekey_up LABEL INITIATOR ESP_SWAN ESP_LSW
    local label=$1
    write_confs 4 aes128gcm16-prfsha256-x25519 "$3" aes_gcm128-sha2_256-dh31 "$4"
    ss --load-all --noprompt --file "$WORK/ss/swanctl.conf" >/dev/null 2>&1 \
        || { fail "$label: charon loads the connection"; return 1; }
    start_engine "$WORK/engine.conf" "$LOCAL_ADDR" || return 1
    if [[ $2 == initiator ]]; then
        ep initiate pa || { fail "$label: engine initiates: $EP_OUT"; return 1; }
    else
        ss --initiate --child net --timeout 20 >"$WORK/initiate.out" 2>&1 \
            || { fail "$label: charon initiates: $(tail -2 "$WORK/initiate.out")"; return 1; }
        ep wait child-up pa 10 || { fail "$label: engine child-up: $EP_OUT"; return 1; }
    fi
    pass "$label: up"
}
rekey_down() {
    ss --terminate --ike pa --timeout 10 >/dev/null 2>&1
    stop_engine
    charon_has_no_sa || ss --terminate --ike pa --force --timeout 5 >/dev/null 2>&1
}
# The SPIs of the engine's current CHILD SA and its IKE SA, in $in $out $si $sr
# (the caller's locals).
engine_spis() {
    local line
    engine_sa_lines
    line=$(grep ' child_state=installed ' <<<"$SA_LINES" | head -1)
    in=$(field child_spi_in "$line") out=$(field child_spi_out "$line")
    si=$(field ike_spi_i "$line") sr=$(field ike_spi_r "$line")
}
# charon's view shows the CHILD SA's algorithms with the DH group (PFS) or without.
charon_child_alg() {
    ss --list-sas --ike pa 2>/dev/null | sed -n 's/^  net: #[0-9]*, .*INSTALLED, [^,]*, \(ESP:[^ ]*\).*/\1/p' | head -1
}
# After a CHILD rekey: both ends name the DH group of its KE exchange (PFS) or none.
check_pfs() {  # check_pfs LABEL yes|no
    local want_s=ESP:AES_GCM_16-128 want_e=AES_GCM_16_128 what="no DH group (no PFS)"
    [[ $2 == yes ]] && want_s+=/CURVE_25519 want_e+=/DH31 what="the DH group (PFS)"
    engine_sa_lines
    eq "$1: the new CHILD SA has $what, charon/engine" \
        "$(charon_child_alg) $(field esp_alg "$SA_LINES")" "$want_s $want_e"
}
# No SA went down and no rekey failed on the engine (EXCEPT: event types allowed).
no_bad_events() {  # no_bad_events LABEL [EXCEPT_REGEX]
    local bad
    ep events
    bad=$(grep -E '^event type=(ike-down|child-down|ike-failed|child-failed|rekey-failed) ' <<<"$EP_OUT" \
        | grep -vE "^event type=(${2:-none}) " | head -3)
    check "$1: no SA went down, no rekey failed${bad:+: $bad}" test -z "$bad"
}

# (a)/(b): ipsecd rekeys the CHILD SA it initiated; (c) then its IKE SA.
rekey_by_engine() {  # rekey_by_engine PFS(yes|no)
    local pfs=$1 esp_s=aes128gcm16 esp_l=aes_gcm128 label in out si sr ev
    [[ $pfs == yes ]] && esp_s=aes128gcm16-x25519 esp_l=aes_gcm128-none-dh31
    label="rekey ipsecd-initiator pfs=$pfs"
    echo "case: $label: ipsecd rekeys the CHILD SA, then the IKE SA"
    rekey_up "$label" initiator "$esp_s" "$esp_l" || { rekey_down; return; }
    if [[ $pfs == no ]]; then
        ep rekey-ike nosuch 5
        check "$label: engine_peer refuses to rekey a connection that is not up" \
            grep -q '^error nosuch: no established IKE SA to rekey' <<<"$EP_OUT"
    fi
    engine_spis
    if ep rekey-child pa 10; then
        pass "$label: engine rekeys the CHILD SA"
        # Once (without PFS) also until charon drops the replaced SA: 5 s more.
        check_child_rekeyed "$label child" "$EP_OUT" "$in" "$out" 1 "$([[ $pfs == no ]] && echo wait)"
        check_pfs "$label child" "$pfs"
    else
        fail "$label: engine rekeys the CHILD SA: $EP_OUT"
    fi
    engine_spis
    if ep rekey-ike pa 10; then
        pass "$label: engine rekeys the IKE SA"
        check_ike_rekeyed "$label ike" "$EP_OUT" "$si" "$sr" "$in" "$out"
    else
        fail "$label: engine rekeys the IKE SA: $EP_OUT"
    fi
    # And a CHILD rekey on the IKE SA that replaced the first one.
    engine_spis
    if ep rekey-child pa 10; then
        pass "$label: engine rekeys the CHILD SA on the new IKE SA"
        check_child_rekeyed "$label child after ike" "$EP_OUT" "$in" "$out" 2
        check_pfs "$label child after ike" "$pfs"
    else
        fail "$label: engine rekeys the CHILD SA on the new IKE SA: $EP_OUT"
    fi
    no_bad_events "$label"
    rekey_down
}

# (d): charon rekeys (swanctl --rekey) while ipsecd is the responder; then ipsecd
# rekeys as the original responder.
rekey_by_charon() {  # rekey_by_charon PFS(yes|no)
    local pfs=$1 esp_s=aes128gcm16 esp_l=aes_gcm128 label in out si sr
    [[ $pfs == yes ]] && esp_s=aes128gcm16-x25519 esp_l=aes_gcm128-none-dh31
    label="rekey ipsecd-responder pfs=$pfs"
    echo "case: $label: charon rekeys the CHILD SA and the IKE SA, then ipsecd does"
    rekey_up "$label" responder "$esp_s" "$esp_l" || { rekey_down; return; }
    engine_spis
    ss --rekey --child net >/dev/null 2>&1
    if ep wait rekeyed pa 10; then
        pass "$label: engine answered charon's CHILD rekey"
        check_child_rekeyed "$label charon child" "$EP_OUT" "$in" "$out" 1
        check_pfs "$label charon child" "$pfs"
    else
        fail "$label: engine answered charon's CHILD rekey: $EP_OUT"
    fi
    engine_spis
    ss --rekey --ike pa >/dev/null 2>&1
    if ep wait rekeyed pa 10; then
        pass "$label: engine answered charon's IKE rekey"
        check_ike_rekeyed "$label charon ike" "$EP_OUT" "$si" "$sr" "$in" "$out"
    else
        fail "$label: engine answered charon's IKE rekey: $EP_OUT"
    fi
    engine_spis
    if ep rekey-child pa 10; then
        pass "$label: engine rekeys the CHILD SA as original responder"
        check_child_rekeyed "$label engine child" "$EP_OUT" "$in" "$out" 2
        check_pfs "$label engine child" "$pfs"
    else
        fail "$label: engine rekeys the CHILD SA as original responder: $EP_OUT"
    fi
    engine_spis
    if ep rekey-ike pa 10; then
        pass "$label: engine rekeys the IKE SA as original responder"
        check_ike_rekeyed "$label engine ike" "$EP_OUT" "$si" "$sr" "$in" "$out"
    else
        fail "$label: engine rekeys the IKE SA as original responder: $EP_OUT"
    fi
    no_bad_events "$label"
    rekey_down
}

# (e): charon's short lifetimes drive its rekeys; ipsecd answers and keeps one CHILD SA.
rekey_charon_lifetime() {
    local label="rekey charon lifetimes" i lines n bad=0 rekeys
    echo "case: $label: CHILD rekey_time=4s, IKE rekey_time=7s on charon, ipsecd initiates"
    SS_CHILD_EXTRA="                rekey_time = 4s
                life_time = 8s
                rand_time = 1s" SS_IKE_EXTRA="        rekey_time = 7s
        over_time = 20s
        rand_time = 1s" \
        rekey_up "$label" initiator aes128gcm16-x25519 aes_gcm128-none-dh31 || { rekey_down; return; }
    local start; start=$(grep -c . "$WORK/ss/charon.log")
    for i in $(seq 1 12); do
        sleep 1.2
        engine_sa_lines
        lines=$SA_LINES
        n=$(grep -vc ' child_state=rekeyed ' <<<"$lines")
        [[ $n == 1 ]] || { bad=$((bad + 1)); echo "    sample $i: $n CHILD SAs not replaced: $lines"; }
    done
    check "$label: 12 samples over 14 s, the engine always had exactly one current CHILD SA" test "$bad" = 0
    ep events
    rekeys=$(grep -c '^event type=rekeyed conn=pa .* rekey=child ' <<<"$EP_OUT")
    check "$label: charon rekeyed the CHILD SA at least twice ($rekeys rekeyed events)" test "$rekeys" -ge 2
    rekeys=$(grep -c '^event type=rekeyed conn=pa .* rekey=ike ' <<<"$EP_OUT")
    check "$label: charon rekeyed the IKE SA at least once ($rekeys rekeyed events)" test "$rekeys" -ge 1
    no_bad_events "$label"
    local by_charon
    by_charon=$(tail -n +"$start" "$WORK/ss/charon.log" | grep -c 'generating CREATE_CHILD_SA request')
    check "$label: charon sent the CREATE_CHILD_SA requests ($by_charon)" test "$by_charon" -ge 3
    settled "$label"
    compare_sas "$label"
    rekey_down
}

timed() {  # timed COMMAND...: runs it, then prints how long it took
    local t0 ms
    t0=$(date +%s%N)
    "$@"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    printf '  (%d.%d s)\n' $((ms / 1000)) $((ms % 1000 / 100))
}

# The engine's own lifetimes drive its rekeys (charon initiated: the engine is
# the original responder); charon answers and keeps one CHILD SA.
rekey_engine_lifetime() {
    local label="rekey ipsecd lifetimes" i bad=0 n
    echo "case: $label: salifetime=6s ikelifetime=9s rekeymargin=2s rekeyfuzz=0 on ipsecd, charon initiates"
    ENGINE_EXTRA="    salifetime=6s
    ikelifetime=9s
    rekeymargin=2s
    rekeyfuzz=0" rekey_up "$label" responder aes128gcm16-x25519 aes_gcm128-none-dh31 || { rekey_down; return; }
    engine_sa_lines
    check "$label: the engine lists its rekey timers (CHILD in ~4 s, IKE in ~7 s)" \
        grep -qE ' ike_rekey_in=[67]\.[0-9] .* child_rekey_in=[34]\.[0-9] child_expires_in=[56]\.[0-9]' <<<"$SA_LINES"
    for i in $(seq 1 9); do
        sleep 1.2
        n=$(charon_counts)
        [[ $n == "1 1" ]] || { bad=$((bad + 1)); echo "    sample $i: charon IKE/CHILD SAs: $n"; }
    done
    check "$label: 9 samples over 11 s, charon always had one IKE SA and one INSTALLED CHILD SA" test "$bad" = 0
    ep events
    n=$(grep -c '^event type=rekeyed conn=pa .* rekey=child ' <<<"$EP_OUT")
    check "$label: the engine rekeyed the CHILD SA at least twice ($n rekeyed events)" test "$n" -ge 2
    n=$(grep -c '^event type=rekeyed conn=pa .* rekey=ike ' <<<"$EP_OUT")
    check "$label: the engine rekeyed the IKE SA ($n rekeyed events)" test "$n" -ge 1
    no_bad_events "$label"
    settled "$label"
    compare_sas "$label"
    rekey_down
}

# ---- reauthentication (reauth=yes; charon.make_before_break = yes, set at its start)
# After a reauthentication (rekeyed event in $2, rekey=reauth): a new IKE SA with
# new SPIs, a new CHILD SA, the old IKE SA gone from both ends.
check_reauthenticated() {  # check_reauthenticated LABEL EVENT OLD_SPI_I OLD_SPI_R OLD_IN OLD_OUT
    local label=$1 ev=$2 line
    eq "$label: the event is a reauthentication" "$(field rekey "$ev")" reauth
    eq "$label: the event names the replaced IKE SPIs" \
        "$(field replaced_ike_spi_i "$ev")/$(field replaced_ike_spi_r "$ev")" "$3/$4"
    settled "$label"
    engine_sa_lines
    line=$(head -1 <<<"$SA_LINES")
    check "$label: a new IKE SA (SPIs $(field ike_spi_i "$line")/$(field ike_spi_r "$line"), was $3/$4)" \
        test "$(field ike_spi_i "$line")" != "$3" -a "$(field ike_spi_r "$line")" != "$4"
    check "$label: a new CHILD SA (SPIs $(field child_spi_in "$line")/$(field child_spi_out "$line"), was $5/$6)" \
        test "$(field child_spi_in "$line")" != "$5" -a "$(field child_spi_out "$line")" != "$6"
    compare_sas "$label"
    check "$label: charon lists neither old IKE SPI" charon_lacks "$3" "$4"
    check "$label: charon drops the old CHILD SA" charon_drops "$5" "$6"
    check "$label: the engine lists neither old CHILD SPI" engine_lacks "$5" "$6"
}

# ipsecd reauthenticates (engine_peer reauth): as the initiator of the IKE SA
# and as its responder; charon sees a new IKE SA, then the old one's DELETE.
reauth_by_engine() {  # reauth_by_engine initiator|responder
    local label="reauth by ipsecd, ipsecd $1" in out si sr start
    echo "case: $label: ipsecd reauthenticates the IKE SA, make-before-break"
    ENGINE_EXTRA="    reauth=yes" rekey_up "$label" "$1" aes128gcm16 aes_gcm128 || { rekey_down; return; }
    engine_spis
    start=$(grep -c . "$WORK/ss/charon.log")
    if ep reauth pa 15; then
        pass "$label: engine reauthenticates"
        check_reauthenticated "$label" "$EP_OUT" "$si" "$sr" "$in" "$out"
        check "$label: charon got the new IKE SA before the old one's DELETE" \
            awk '/IKE_SA pa\[[0-9]+\] established/ { up = NR } /received DELETE for IKE_SA pa/ { del = NR }
                 END { exit !(up && del && up < del) }' <(tail -n +"$start" "$WORK/ss/charon.log")
    else
        fail "$label: engine reauthenticates: $EP_OUT"
    fi
    # And a CHILD rekey on the new IKE SA.
    engine_spis
    if ep rekey-child pa 10; then
        check_child_rekeyed "$label child after reauth" "$EP_OUT" "$in" "$out"
    else
        fail "$label: engine rekeys the CHILD SA on the new IKE SA: $EP_OUT"
    fi
    no_bad_events "$label"
    rekey_down
}

# charon reauthenticates (swanctl --rekey --reauth), make-before-break: the
# engine answers the new IKE SA and lets the old one go without an SA going down,
# telling it as a reauthentication. (Not at once: a new IKE SA from the peer within
# 5 s of the old one coming up is taken for a simultaneous initiation.)
reauth_by_charon() {  # reauth_by_charon initiator|responder (the engine's role)
    local label="reauth by charon, ipsecd $1" in out si sr i c n
    echo "case: $label: charon reauthenticates the IKE SA (make_before_break = yes)"
    rekey_up "$label" "$1" aes128gcm16 aes_gcm128 || { rekey_down; return; }
    engine_spis
    sleep 6
    ss --rekey --ike pa --reauth >/dev/null 2>&1
    for i in $(seq 1 50); do
        engine_sa_lines
        c=$(grep ' child_state=installed ' <<<"$SA_LINES" | head -1)
        [[ -n $c && $(grep -c . <<<"$SA_LINES") == 1 && $(field ike_spi_i "$c") != "$si" ]] && break
        sleep 0.2
    done
    settled "$label"
    engine_sa_lines
    check "$label: the engine moved to charon's new IKE SA ($si -> $(field ike_spi_i "$SA_LINES"))" \
        test "$(field ike_spi_i "$SA_LINES")" != "$si"
    check "$label: and to its new CHILD SA ($in -> $(field child_spi_in "$SA_LINES"))" \
        test "$(field child_spi_in "$SA_LINES")" != "$in"
    compare_sas "$label"
    check "$label: charon lists neither old IKE SPI" charon_lacks "$si" "$sr"
    check "$label: charon drops the old CHILD SA" charon_drops "$in" "$out"
    check "$label: the engine lists neither old CHILD SPI" engine_lacks "$in" "$out"
    ep events
    n=$(grep -c "^event type=rekeyed conn=pa .* rekey=reauth .*replaced_ike_spi_i=$si" <<<"$EP_OUT")
    check "$label: the engine told charon's reauthentication of IKE SA $si ($n rekeyed events)" test "$n" = 1
    no_bad_events "$label"
    rekey_down
}

# charon's reauth_time drives its reauthentications; the engine keeps one CHILD SA up.
reauth_charon_lifetime() {
    local label="reauth charon lifetimes" i lines n bad=0 ups start
    echo "case: $label: reauth_time=7s on charon, ipsecd initiates"
    SS_IKE_EXTRA="        reauth_time = 7s
        over_time = 20s
        rand_time = 1s" rekey_up "$label" initiator aes128gcm16 aes_gcm128 || { rekey_down; return; }
    start=$(grep -c . "$WORK/ss/charon.log")
    for i in $(seq 1 16); do
        sleep 1
        engine_sa_lines
        n=$(grep -c ' child_state=installed ' <<<"$SA_LINES")
        [[ $n -ge 1 ]] || { bad=$((bad + 1)); echo "    sample $i: no installed CHILD SA: $SA_LINES"; }
    done
    check "$label: 16 samples over 16 s, the engine always had an installed CHILD SA" test "$bad" = 0
    ups=$(tail -n +"$start" "$WORK/ss/charon.log" | grep -c 'IKE_SA pa\[[0-9]*\] established')
    check "$label: charon reauthenticated at least twice ($ups new IKE SAs)" test "$ups" -ge 2
    ep events
    n=$(grep -c '^event type=rekeyed conn=pa .* rekey=reauth ' <<<"$EP_OUT")
    check "$label: the engine told them as reauthentications, not ike-down ($n rekeyed events)" test "$n" -ge 2
    no_bad_events "$label"
    settled "$label"
    compare_sas "$label"
    rekey_down
}

# ipsecd's ikelifetime with reauth=yes drives its reauthentications.
reauth_engine_lifetime() {
    local label="reauth ipsecd lifetimes" i bad=0 n
    echo "case: $label: reauth=yes ikelifetime=8s rekeymargin=2s rekeyfuzz=0 on ipsecd, charon initiates"
    ENGINE_EXTRA="    reauth=yes
    ikelifetime=8s
    rekeymargin=2s
    rekeyfuzz=0" rekey_up "$label" responder aes128gcm16 aes_gcm128 || { rekey_down; return; }
    for i in $(seq 1 14); do
        sleep 1
        n=$(charon_counts)
        [[ ${n#* } -ge 1 ]] || { bad=$((bad + 1)); echo "    sample $i: charon IKE/CHILD SAs: $n"; }
    done
    check "$label: 14 samples over 14 s, charon always had an INSTALLED CHILD SA" test "$bad" = 0
    ep events
    n=$(grep -c '^event type=rekeyed conn=pa .* rekey=reauth ' <<<"$EP_OUT")
    check "$label: the engine reauthenticated at least twice ($n rekeyed events)" test "$n" -ge 2
    no_bad_events "$label"
    settled "$label"
    compare_sas "$label"
    rekey_down
}

strongswan_reauth() {
    echo "== reauthentication against charon"
    timed reauth_by_engine initiator
    timed reauth_by_engine responder
    timed reauth_by_charon responder
    timed reauth_by_charon initiator
    timed reauth_charon_lifetime
    timed reauth_engine_lifetime
}

strongswan_rekey() {
    echo "== rekeying against charon"
    timed rekey_by_engine no
    timed rekey_by_engine yes
    timed rekey_by_charon no
    timed rekey_by_charon yes
    timed rekey_charon_lifetime
    timed rekey_engine_lifetime
}

strongswan_matrix() {
    echo "== strongSwan charon (kernel-libipsec) in $NS_R, engine in $NS_L"
    mkdir -p "$WORK/ss/strongswan.d"
    write_confs 4 aes128gcm16-prfsha256-x25519 aes128gcm16 aes_gcm128-sha2_256-dh31 aes_gcm128
    # Reauthentication as strongSwan recommends it: the new IKE SA first.
    echo 'charon { make_before_break = yes }' >"$WORK/ss/strongswan.d/reauth.conf"
    if ! SS_KERNEL=libipsec SS_NO_LOAD=1 "$PEERS/strongswan-peer.sh" start "$NS_R" "$WORK/ss" \
        >"$WORK/ss-start.out" 2>&1; then
        fail "charon starts: $(tail -3 "$WORK/ss-start.out")"
        return
    fi
    local gcm=aes128gcm16 cbc=aes128-sha256
    if [[ $WHICH == strongswan || $WHICH == all ]]; then
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
    fi
    [[ $WHICH == strongswan-reauth ]] || strongswan_rekey
    [[ $WHICH == strongswan-rekey ]] || strongswan_reauth
    "$PEERS/strongswan-peer.sh" stop "$WORK/ss" >/dev/null 2>&1
}

# ---- IKE SA rekey against pluto (no CHILD SA: pluto cannot install one here)
lsw() { "$PEERS/libreswan-peer.sh" ipsec "$WORK/lsw" "$@"; }
pluto_ike_sas() { lsw whack --showstates 2>/dev/null | grep -c 'STATE_V2_ESTABLISHED_IKE_SA'; }
# Waits (4 s at most: pluto deletes the IKE SA it replaced 1 s after its own
# rekey) for one IKE SA on each end, the engine's with SPIs $2/$3 when given.
lsw_settled() {  # lsw_settled LABEL [SPI_I SPI_R]
    local label=$1 i lines e p
    for i in $(seq 1 20); do
        engine_sa_lines
        lines=$SA_LINES
        e=$(grep -c . <<<"$lines")
        p=$(pluto_ike_sas)
        [[ $e == 1 && $p == 1 ]] && break
        sleep 0.2
    done
    eq "$label: one IKE SA on each end, engine/pluto" "$e/$p" "1/1"
    if [[ -n ${2:-} ]]; then
        eq "$label: the engine lists the new IKE SPIs" \
            "$(field ike_spi_i "$lines")/$(field ike_spi_r "$lines")" "$2/$3"
    fi
}
# Both directions on the IKE SA that is up: the engine rekeys, then pluto does.
lsw_ike_rekeys() {  # lsw_ike_rekeys LABEL
    local label=$1 si sr nsi nsr line out
    eq "$label: pluto has the IKE SA (STATE_V2_ESTABLISHED_IKE_SA)" "$(pluto_ike_sas)" 1
    engine_sa_lines
    si=$(field ike_spi_i "$SA_LINES") sr=$(field ike_spi_r "$SA_LINES")
    if ep rekey-ike pa 10; then
        pass "$label: engine rekeys the IKE SA"
        nsi=$(field ike_spi_i "$EP_OUT") nsr=$(field ike_spi_r "$EP_OUT")
        eq "$label: the event names the replaced IKE SPIs" \
            "$(field replaced_ike_spi_i "$EP_OUT")/$(field replaced_ike_spi_r "$EP_OUT")" "$si/$sr"
        check "$label: new IKE SPIs $nsi/$nsr differ from the old" test "$nsi" != "$si" -a "$nsr" != "$sr"
        # pluto logs the rekey initiator's new SPI with the proposal it chose.
        check "$label: pluto rekeyed as responder, to the engine's new SPI $nsi" \
            grep -q "proposal .* SPI=$nsi chosen" "$WORK/lsw/pluto.log"
        check "$label: pluto says 'responder rekeyed IKE SA'" \
            grep -A3 "proposal .* SPI=$nsi chosen" "$WORK/lsw/pluto.log" -m1 | grep -q 'responder rekeyed IKE SA'

        lsw_settled "$label engine rekey" "$nsi" "$nsr"
        engine_sa_lines
        eq "$label: the engine initiated the new IKE SA" "$(field role "$SA_LINES")" initiator
    else
        fail "$label: engine rekeys the IKE SA: $EP_OUT"
    fi
    engine_sa_lines
    si=$(field ike_spi_i "$SA_LINES") sr=$(field ike_spi_r "$SA_LINES")
    out=$(lsw whack --rekey-ike --name pa 2>&1)
    check "$label: pluto rekeys the IKE SA (whack --rekey-ike)" grep -q 'initiator rekeyed IKE SA' <<<"$out"
    if ep wait rekeyed pa 10; then
        pass "$label: engine answered pluto's IKE rekey"
        eq "$label: the event is an IKE rekey" "$(field rekey "$EP_OUT")" ike
        eq "$label: the event names the replaced IKE SPIs" \
            "$(field replaced_ike_spi_i "$EP_OUT")/$(field replaced_ike_spi_r "$EP_OUT")" "$si/$sr"
        lsw_settled "$label pluto rekey" "$(field ike_spi_i "$EP_OUT")" "$(field ike_spi_r "$EP_OUT")"
        engine_sa_lines
        eq "$label: pluto initiated the new IKE SA" "$(field role "$SA_LINES")" responder
    else
        fail "$label: engine answered pluto's IKE rekey: $EP_OUT (pluto: $(tail -2 <<<"$out"))"
    fi
    no_bad_events "$label" child-failed  # the CHILD SA pluto refused, before
}
lsw_no_child_rekey() {
    echo "  NOTE pluto CHILD SA rekey: not tested, pluto cannot install any CHILD SA on this kernel" \
        "(no ESP: CONFIG_INET_ESP is not set, see the netlink refusal above), so it has none to rekey"
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
    check "$label: pluto established the IKE SA as responder" \
        grep -q 'responder established IKE SA; authenticated peer using authby=secret' "$d/pluto.log"
    check "$label: pluto's CHILD failure is the kernel's netlink refusal" \
        grep -q 'netlink response for Add SA esp\.[0-9a-f]*@192\.0\.2\.1: .*errno' "$d/pluto.log"
    # As responder pluto keeps the IKE SA without a CHILD SA: both rekey it.
    echo "case: $label: IKE SA rekey, by the engine and by pluto"
    lsw_ike_rekeys "$label rekey"
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

    # As initiator pluto drops its IKE SA (without a DELETE) when its CHILD SA
    # install fails, so the IKE SA to rekey is a childless one (RFC 6023):
    # libreswan's own test impair leaves the CHILD SA out of its IKE_AUTH.
    label="ipsecd-responder pluto childless"
    echo "case: $label: pluto initiates an IKE SA alone (impair omit-v2-ike-auth-child), both rekey it"
    start_engine "$WORK/engine.conf" 192.0.2.1 || return
    lsw whack --impair omit-v2-ike-auth-child >/dev/null 2>&1
    lsw auto --up pa >"$WORK/lsw-up.out" 2>&1
    check "$label: pluto established the IKE SA without a CHILD SA" \
        grep -q 'initiator established IKE SA' "$WORK/lsw-up.out"
    if ep wait ike-up pa 10; then pass "$label: engine IKE SA up"; else fail "$label: engine IKE SA up: $EP_OUT"; fi
    ep list
    check "$label: engine lists it as responder, without a CHILD SA" \
        grep -q '^sa conn=pa state=established role=responder .* child=-$' <<<"$EP_OUT"
    lsw_ike_rekeys "$label rekey"
    lsw_no_child_rekey
    lsw auto --down pa >/dev/null 2>&1
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
    strongswan|strongswan-rekey|strongswan-reauth) strongswan_matrix ;;
    libreswan) libreswan_matrix ;;
    all) strongswan_matrix; libreswan_matrix ;;
    *) echo "unknown peer set $WHICH (strongswan, strongswan-rekey, strongswan-reauth, libreswan, all)"; exit 2 ;;
esac

echo "interop: $PASS passed, $FAIL failed"
[[ $FAIL == 0 ]]
