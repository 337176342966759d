# Sourced by the benchmarks that run strongSwan charon <-> charon: two charons on
# kernel-libipsec in a namespace pair ($PEERS/netns-pair.sh, strongswan-peer.sh),
# their configs in $WORK/l and $WORK/r. Needs PEERS set.
#   charon_pair_init NAME  sets L and R (namespace names from NAME and this shell's PID)
#                          and WORK (a fresh directory); on exit both charons stop, the
#                          namespaces go and WORK is removed
#   charon_pair_start      starts $WORK/l's charon in $L and $WORK/r's in $R
#   charon_pair_stop       stops both (a stopped one is no error)

charon_pair_init() {
    local tag
    tag=$(printf "%x" $$)
    L=pa-$1${tag}l R=pa-$1${tag}r
    WORK=$(mktemp -d "/tmp/pa-$1bench.XXXXXX")
    trap charon_pair_cleanup EXIT
}

charon_pair_start() {
    SS_KERNEL=libipsec "$PEERS/strongswan-peer.sh" start "$L" "$WORK/l" >/dev/null
    SS_KERNEL=libipsec "$PEERS/strongswan-peer.sh" start "$R" "$WORK/r" >/dev/null
}

charon_pair_stop() {
    "$PEERS/strongswan-peer.sh" stop "$WORK/l" >/dev/null 2>&1 || true
    "$PEERS/strongswan-peer.sh" stop "$WORK/r" >/dev/null 2>&1 || true
}

charon_pair_cleanup() {
    charon_pair_stop
    "$PEERS/netns-pair.sh" down "$L" "$R" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
