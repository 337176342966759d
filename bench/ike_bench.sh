#!/usr/bin/env bash
# IKE SA + first CHILD SA establishments per second: ipsecd engine <-> engine
# (bench/ike_bench, two processes over loopback, memory kernel) and strongSwan
# charon <-> charon in the same run (two charons with kernel-libipsec in a
# namespace pair, fired through vici by ../shared/peers/vici_burst.py --child;
# plus ../shared/peers/strongswan-bench.sh's childless anchor), then the ratio.
#
#   bench/ike_bench.sh [BUILD_DIR]
#   env: SIZES="1000 10000"  WINDOW=100  IKE=aes128gcm16-prfsha256-x25519
#        CHARON_N=1000 (charon IKE+CHILD count)  ANCHOR=1 (also run strongswan-bench.sh)
# charon needs root; without it only ipsecd is measured.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/charon_pair.sh
source "$HERE/charon_pair.sh"
BUILD=${1:-$HERE/../build}
PEERS=${PEERS_DIR:-$HERE/../../shared/peers}
SIZES=${SIZES:-"1000 10000"}
WINDOW=${WINDOW:-100}
IKE=${IKE:-aes128gcm16-prfsha256-x25519}
case $IKE in *gcm*) ESP=aes128gcm16 ;; *) ESP=aes128-sha256 ;; esac
# The same proposals in libreswan's spelling, which ipsecd reads (and refuses
# strongSwan's: ike_bench stops on an ike=/esp= it cannot parse).
case $IKE in
    aes128gcm16-prfsha256-x25519) IPSECD_IKE=aes_gcm128-sha2_256-dh31 ;;
    aes128gcm16-prfsha256-ecp256) IPSECD_IKE=aes_gcm128-sha2_256-dh19 ;;
    aes128-sha256-x25519) IPSECD_IKE=aes128-sha2_256-dh31 ;;
    aes128-sha256-ecp256) IPSECD_IKE=aes128-sha2_256-dh19 ;;
    *) IPSECD_IKE=${IPSECD_IKE:?"set IPSECD_IKE to the libreswan spelling of IKE=$IKE"} ;;
esac
case $ESP in aes128gcm16) IPSECD_ESP=aes_gcm128 ;; *) IPSECD_ESP=aes128-sha2_256 ;; esac
CHARON_N=${CHARON_N:-1000}

echo "== ipsecd engine <-> engine (ike=$IPSECD_IKE esp=$IPSECD_ESP, window $WINDOW)"
declare -A RATE
for n in $SIZES; do
    out=$("$BUILD/bench/ike_bench" --count "$n" --window "$WINDOW" --ike "$IPSECD_IKE" \
        --esp "$IPSECD_ESP")
    echo "$out"
    RATE[$n]=$(sed -n 's/.*: \([0-9]*\) \/s;.*/\1/p' <<<"$out")
done

if [[ $(id -u) != 0 || ! -x $PEERS/strongswan-peer.sh ]]; then
    echo "charon <-> charon skipped: needs root and $PEERS"
    exit 0
fi

charon_pair_init ib

conf() {  # conf DIR ME PEER MYID PEERID MYNET PEERNET
    mkdir -p "$1/strongswan.d"
    cat >"$1/swanctl.conf" <<EOF
connections {
    pa {
        version = 2
        local_addrs = $2
        remote_addrs = $3
        proposals = $IKE
        unique = never
        local { auth = psk
                id = $4 }
        remote { auth = psk
                 id = $5 }
        children {
            net { local_ts = $6
                  remote_ts = $7
                  esp_proposals = $ESP }
        }
    }
}
secrets {
    ike-pa { id-a = $4
             id-b = $5
             secret = "bench-psk-0123456789abcdef" }
}
EOF
    cp "$HERE/charon_bench.conf" "$1/strongswan.d/bench.conf"
}

echo "== strongSwan charon <-> charon, kernel-libipsec both sides (IKE+CHILD, N=$CHARON_N, window $WINDOW)"
"$PEERS/netns-pair.sh" up "$L" "$R" >/dev/null
conf "$WORK/l" 192.0.2.1 192.0.2.2 left.example.org right.example.org 198.51.100.1/32 203.0.113.1/32
conf "$WORK/r" 192.0.2.2 192.0.2.1 right.example.org left.example.org 203.0.113.1/32 198.51.100.1/32
charon_pair_start
charon=$(python3 "$PEERS/vici_burst.py" "$WORK/l/charon.vici" pa "$CHARON_N" --child net \
    --window "$WINDOW" --timeout 300 || true)
echo "charon: $charon"
crate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$charon")
charon_pair_stop

if [[ ${ANCHOR:-1} == 1 ]]; then
    echo "== strongswan-bench.sh (childless IKE_SAs on kernel-netlink charons, the recorded anchor)"
    WINDOW=$WINDOW "$PEERS/strongswan-bench.sh" "$CHARON_N" "$IKE" || true
fi

echo "== summary"
for n in $SIZES; do
    if [[ -n $crate && -n ${RATE[$n]} ]]; then
        awk -v n="$n" -v a="${RATE[$n]}" -v b="$crate" \
            'BEGIN { printf "ipsecd %s SAs: %d /s; charon (IKE+CHILD): %.0f /s; ratio %.1fx\n", n, a, b, a / b }'
    fi
done
