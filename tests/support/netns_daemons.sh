# shellcheck shell=bash
# Sourced by the tests that run two ipsecd daemons in network namespaces, west and east
# (tests/daemon/xfrm_pair.sh; tests/vm/daemon_lib.sh in the VM tier). The sourcing script
# defines ns_of SIDE (the namespace of west or east) and die MESSAGE (print what helps
# understand the failure, exit 1), and sets $work (SIDE's state dir is $work/SIDE) and
# $ipsec (the CLI).
#   cli SIDE ARGS...                     the CLI in SIDE's namespace: each daemon serves its
#                                        API on 127.0.0.1 of its own namespace
#   wait_for SECONDS DESCRIPTION CMD...  CMD up to $wait_polls_per_second (default 20; the
#                                        VM tier, under TCG, polls less) times SECONDS, a
#                                        sleep between, until it holds; else die

cli() {
  local side=$1
  shift
  IPSECD_STATE_DIR=$work/$side ip netns exec "$(ns_of "$side")" "$ipsec" "$@"
}

wait_for() {
  local secs=$1 what=$2 rate=${wait_polls_per_second:-20} interval
  shift 2
  interval=$(awk -v r="$rate" 'BEGIN { print 1 / r }')
  for _ in $(seq 1 $((secs * rate))); do
    if "$@"; then return 0; fi
    sleep "$interval"
  done
  die "timed out after ${secs} s waiting for $what"
}
