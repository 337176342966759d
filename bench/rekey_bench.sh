#!/usr/bin/env bash
# CHILD and IKE SA rekeys per second: ipsecd engine <-> engine (bench/rekey_bench,
# two processes over loopback, memory kernel) and strongSwan charon <-> charon in
# the same run (two charons with kernel-libipsec in a namespace pair made by
# ../shared/peers/netns-pair.sh and strongswan-peer.sh, N connections like
# rekey_bench's, brought up and then rekeyed through vici with the Vici client of
# ../shared/peers/vici_burst.py), without and with PFS for the CHILD rekeys, and the
# ratios, in rekeys/s and in CPU time per rekey. Every rekey is checked on both
# sides (new SPIs, paired, exactly one CHILD SA per IKE SA afterwards). The whole
# output also goes to bench/results/rekey_bench.txt.
#
#   bench/rekey_bench.sh [BUILD_DIR]    (runs BUILD_DIR/bench/rekey_bench; default build/bench)
#   env: SIZES="1000 10000"  ipsecd connections (the first size also runs the
#                            all-at-once and SO_RCVBUF rows)
#        CHARON_N=1000  WINDOW=100  RUNS=3 (each figure; the summary takes the median)
#        ALL_AT_ONCE=1  also rekey everything at once: ipsecd --window N; charon one
#                       vici "rekey" command for all CHILD SAs (child=net), and N
#                       per-SA commands sent together for the IKE SAs (their
#                       configs have N names)
#        OUT=bench/results/rekey_bench.txt
# charon needs root; without it only ipsecd is measured.
#
# Proposals, the same on both: IKE AES-GCM-16-128, PRF SHA2-256, X25519; ESP
# AES-GCM-16-128, with PFS X25519. ipsecd (libreswan syntax) aes_gcm128-sha2_256-dh31,
# aes_gcm128, aes_gcm128;dh31; charon aes128gcm16-prfsha256-x25519, aes128gcm16,
# aes128gcm16-x25519. rekey_bench prints the algorithms the SAs ended up with.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/charon_pair.sh
source "$HERE/charon_pair.sh"
BUILD=${1:-$HERE/../build/bench}
PEERS=${PEERS_DIR:-$HERE/../../shared/peers}
SIZES=${SIZES:-"1000 10000"}
CHARON_N=${CHARON_N:-1000}
WINDOW=${WINDOW:-100}
RUNS=${RUNS:-3}
ALL_AT_ONCE=${ALL_AT_ONCE:-1}
OUT=${OUT:-$HERE/results/rekey_bench.txt}
IPSECD_IKE="aes_gcm128-sha2_256-dh31"
IPSECD_ESP="aes_gcm128"
IPSECD_ESP_PFS="aes_gcm128;dh31"
SS_IKE="aes128gcm16-prfsha256-x25519"
SS_ESP="aes128gcm16"
SS_ESP_PFS="aes128gcm16-x25519"
FIRST=${SIZES%% *}

mkdir -p "$(dirname "$OUT")"
exec > >(tee "$OUT") 2>&1

machine() {
    echo "machine: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); nproc=$(nproc);" \
        "cpu=\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\";" \
        "kernel=$(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg) ($1)"
}
machine "before"
echo "tree: HEAD $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo '?'), engine/ last changed in $(git -C "$HERE/.." log -1 --format=%h -- engine 2>/dev/null || echo '?')$(git -C "$HERE/.." diff --quiet HEAD -- engine 2>/dev/null || echo ' and with uncommitted changes'); $BUILD/bench/rekey_bench built $(date -r "$BUILD/bench/rekey_bench" '+%Y-%m-%d %H:%M:%S %Z' 2>/dev/null || echo '?')"
echo "settings: SIZES=\"$SIZES\" CHARON_N=$CHARON_N WINDOW=$WINDOW RUNS=$RUNS ALL_AT_ONCE=$ALL_AT_ONCE"

# RATE[KEY] / SETTLED[KEY]: the rates of every run, space-separated. KEY is
# IMPL-N-MODE-WHAT: IMPL ipsecd or charon, MODE window, all or rcvbuf, WHAT
# child, childpfs or ike.
declare -A RATE SETTLED CPUI CPUR
ipsecd() {  # ipsecd N WINDOW KINDS ESP MODE [rekey_bench options]
    local n=$1 window=$2 kinds=$3 esp=$4 mode=$5 out line what
    shift 5
    out=$("$BUILD/bench/rekey_bench" --count "$n" --window "$window" --kinds "$kinds" \
        --ike "$IPSECD_IKE" --esp "$esp" --timeout 300 "$@") || true
    echo "$out"
    while read -r line; do
        what=$(sed -n 's/.* kind=\([a-z]*\) pfs=\([a-z]*\) .*/\1 \2/p' <<<"$line")
        case $what in "child yes") what=childpfs ;; "child no") what=child ;; *) what=ike ;; esac
        if [[ $line == *check=ok* ]]; then
            RATE[ipsecd-$n-$mode-$what]+="$(sed -n 's/.* rate=\([0-9.]*\) .*/\1/p' <<<"$line") "
            SETTLED[ipsecd-$n-$mode-$what]+="$(sed -n 's/.* settled_rate=\([0-9.]*\) .*/\1/p' <<<"$line") "
            CPUI[ipsecd-$n-$mode-$what]+="$(sed -n 's/.* cpu_us=\([0-9]*\)\/.*/\1/p' <<<"$line") "
            CPUR[ipsecd-$n-$mode-$what]+="$(sed -n 's/.* cpu_us=[0-9]*\/\([0-9]*\) .*/\1/p' <<<"$line") "
        fi
    done < <(grep '^rekey_bench: result' <<<"$out")
}

ipsecd_round() {  # ipsecd_round RUN
    local run=$1 n
    for n in $SIZES; do
        echo "== ipsecd engine <-> engine, run $run, $n connections, window $WINDOW: CHILD then IKE rekeys, no PFS"
        ipsecd "$n" "$WINDOW" child,ike "$IPSECD_ESP" window
        echo "== ipsecd engine <-> engine, run $run, $n connections, window $WINDOW: CHILD rekeys with PFS"
        ipsecd "$n" "$WINDOW" child "$IPSECD_ESP_PFS" window
    done
    if [[ $ALL_AT_ONCE == 1 ]]; then
        echo "== ipsecd engine <-> engine, run $run, $FIRST connections, all at once (window $FIRST): CHILD then IKE rekeys, no PFS"
        ipsecd "$FIRST" "$FIRST" child,ike "$IPSECD_ESP" all
        echo "== ipsecd engine <-> engine, run $run, $FIRST connections, all at once (window $FIRST): CHILD rekeys with PFS"
        ipsecd "$FIRST" "$FIRST" child "$IPSECD_ESP_PFS" all
    fi
    echo "== ipsecd engine <-> engine, run $run, $FIRST connections, window $WINDOW, CHILD with PFS, experiment: SO_RCVBUF 2 MiB on the engines' sockets (not what the engine does)"
    ipsecd "$FIRST" "$WINDOW" child "$IPSECD_ESP_PFS" rcvbuf --rcvbuf 2097152
}

charon_ok=1
if [[ $(id -u) != 0 || ! -x $PEERS/strongswan-peer.sh ]]; then
    echo "charon <-> charon skipped: needs root and $PEERS"
    charon_ok=0
fi

if [[ $charon_ok == 1 ]]; then
charon_pair_init rk

# N connections pa0..pa{N-1} as rekey_bench has them: distinct ids (c<i>-l / c<i>-r)
# and distinct /32 host selectors, so every IKE SA has a config and a policy of its
# own; one PSK for any ids.
conf() {  # conf DIR ME PEER l|r ESP
    local i a b lid rid lts rts
    mkdir -p "$1/strongswan.d"
    {
        echo "connections {"
        for ((i = 0; i < CHARON_N; i++)); do
            a=198.51.100.$((i % 254 + 1))/32 b=203.0.113.$((i / 254 % 254 + 1))/32
            if [[ $4 == l ]]; then lid=c$i-l rid=c$i-r lts=$a rts=$b; else lid=c$i-r rid=c$i-l lts=$b rts=$a; fi
            printf '    pa%d { version = 2\n        local_addrs = %s\n        remote_addrs = %s\n' "$i" "$2" "$3"
            printf '        proposals = %s\n        unique = never\n' "$SS_IKE"
            printf '        local { auth = psk\n                id = %s }\n' "$lid"
            printf '        remote { auth = psk\n                 id = %s }\n' "$rid"
            printf '        children { net { local_ts = %s\n                         remote_ts = %s\n' "$lts" "$rts"
            printf '                         esp_proposals = %s } } }\n' "$5"
        done
        echo "}"
        echo "secrets {"
        echo "    ike-any { secret = \"bench-psk-0123456789abcdef\" }"
        echo "}"
    } >"$1/swanctl.conf"
    cp "$HERE/charon_bench.conf" "$1/strongswan.d/bench.conf"
}

# The vici side of the rekeys: Vici, decode and the message types come from
# ../shared/peers/vici_burst.py (imported, not copied).
cat >"$WORK/rekey_vici.py" <<'PY'
"""rekey_vici.py PEERS LEFT_VICI RIGHT_VICI N KIND WINDOW MODE LABEL LEFT_NS RIGHT_NS

Rekeys every CHILD SA (KIND=child) or IKE SA (KIND=ike) the left charon has, through
vici's "rekey" command: MODE=window sends one command per SA (child-id or ike-id), at
most WINDOW outstanding (sent, no child-rekey/ike-rekey event yet); MODE=all sends one
command naming the config (child=net or ike=pa), which queues all of them at once.
The clock runs from the first command to the last rekey event on the left; then
list-sas is polled on both charons until the replaced SAs are gone, and both
listings are checked against the ones from before."""
import os, socket, statistics, subprocess, sys, time

peers, left, right, n, kind, window, mode, label, left_ns, right_ns = sys.argv[1:11]
n, window = int(n), int(window)
sys.path.insert(0, peers)
from vici_burst import (CMD_REQUEST, CMD_RESPONSE, EVENT, EVENT_CONFIRM,  # noqa: E402
                        EVENT_REGISTER, Vici, decode)


def algorithms(sa):
    """AES_GCM_16-128/PRF_HMAC_SHA2_256/CURVE_25519 from a list-sas section"""
    parts = [sa.get("encr-alg", "?") + "-" + sa.get("encr-keysize", "?")]
    parts += [sa[k] for k in ("integ-alg", "prf-alg", "dh-group") if k in sa]
    return "/".join(parts)


def list_sas(path):
    """[{uid, state, spi_i, spi_r, children: [{uid, name, state, spi_in, spi_out}]}]"""
    v = Vici(path)
    v.send(EVENT_REGISTER, "list-sa")
    assert v.recv()[0] == EVENT_CONFIRM
    v.send(CMD_REQUEST, "list-sas", {})
    out = []
    while True:
        op, name, body = v.recv()
        if op == CMD_RESPONSE:
            break
        if op != EVENT or name != "list-sa":
            continue
        for sa in decode(body).values():
            children = []
            for c in (sa.get("child-sas") or {}).values():
                children.append({"uid": c.get("uniqueid"), "name": c.get("name"),
                                 "state": c.get("state"), "spi_in": c.get("spi-in"),
                                 "spi_out": c.get("spi-out"), "algs": algorithms(c)})
            out.append({"uid": sa.get("uniqueid"), "state": sa.get("state"),
                        "spi_i": sa.get("initiator-spi"), "spi_r": sa.get("responder-spi"),
                        "children": children, "algs": algorithms(sa)})
    v.s.close()
    return out


def stats_ikesas(path):
    v = Vici(path)
    v.send(CMD_REQUEST, "stats", {})
    op, _, body = v.recv()
    v.s.close()
    return int(decode(body).get("ikesas", {}).get("total", -1))


def rcvbuf_errors(ns):
    """UDP datagrams dropped in namespace ns because a receive buffer was full"""
    text = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"],
                          capture_output=True, text=True).stdout
    rows = [line.split() for line in text.splitlines() if line.startswith("Udp: ")]
    return int(rows[1][rows[0].index("RcvbufErrors")]) if len(rows) == 2 else -1


def cpu_seconds(vici_path):
    """user + system CPU time of the charon behind vici_path (DIR/charon.vici, its
    PID in DIR/run/charon.pid), from /proc/PID/stat"""
    try:
        pid = open(vici_path.rsplit("/", 1)[0] + "/run/charon.pid").read().strip()
        fields = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def settled(sas):
    return len(sas) == n and all(len(s["children"]) == 1 for s in sas)


def check(l0, r0, l1, r1):
    """problems found: {what: [count, first example]}; l0 and r0 None: the state of
    l1 and r1 alone"""
    bad = {}

    def add(what, example):
        e = bad.setdefault(what, [0, example])
        e[0] += 1

    for side, sas in (("left", l1), ("right", r1)):
        if len(sas) != n:
            add(side + ": IKE SAs in all", "%d, expected %d" % (len(sas), n))
        for s in sas:
            if s["state"] != "ESTABLISHED":
                add(side + ": IKE SA not ESTABLISHED", s["uid"] + " " + str(s["state"]))
            if len(s["children"]) != 1:
                add(side + ": not exactly one CHILD SA", "IKE SA %s has %d" % (s["uid"], len(s["children"])))
            elif s["children"][0]["state"] != "INSTALLED":
                add(side + ": CHILD SA not INSTALLED", s["children"][0]["state"])
    rmap = {(s["spi_i"], s["spi_r"]): s for s in r1}
    for s in l1:
        peer = rmap.get((s["spi_i"], s["spi_r"]))
        if peer is None:
            add("an IKE SA the right side does not list", s["spi_i"] + "_i " + s["spi_r"] + "_r")
            continue
        if len(s["children"]) == 1 and len(peer["children"]) == 1:
            a, b = s["children"][0], peer["children"][0]
            if a["spi_in"] != b["spi_out"] or a["spi_out"] != b["spi_in"]:
                add("CHILD SPIs that do not pair", "%s/%s vs %s/%s" % (a["spi_in"], a["spi_out"], b["spi_in"], b["spi_out"]))
    for side, before, after in (("left", l0, l1), ("right", r0, r1)) if l0 else ():
        ike0 = {(s["spi_i"], s["spi_r"]) for s in before}
        ike1 = {(s["spi_i"], s["spi_r"]) for s in after}
        child0 = {c["spi_in"] for s in before for c in s["children"]} | \
                 {c["spi_out"] for s in before for c in s["children"]}
        child1 = {c["spi_in"] for s in after for c in s["children"]} | \
                 {c["spi_out"] for s in after for c in s["children"]}
        if kind == "child":
            if ike1 != ike0:
                add(side + ": IKE SPIs changed by CHILD rekeys", "%d of %d" % (len(ike1 - ike0), n))
            if child1 & child0:
                add(side + ": CHILD SPIs not new", "%d SPIs" % len(child1 & child0))
        else:
            if ike1 & ike0:
                add(side + ": IKE SPIs not new", "%d SA pairs" % len(ike1 & ike0))
            if child1 != child0:
                add(side + ": CHILD SPIs changed by IKE rekeys", "%d SPIs" % len(child1 ^ child0))
    return bad


def establish():
    """KIND=establish: initiate pa0..pa{N-1} with their CHILD SA net (asynchronous
    vici initiate, as vici_burst.py does), at most WINDOW outstanding, until N
    child-updown up events came"""
    ev = Vici(left)
    for name in ("child-updown", "ike-updown"):
        ev.send(EVENT_REGISTER, name)
        assert ev.recv()[0] == EVENT_CONFIRM
    ev.s.settimeout(60)
    ctl = Vici(left)
    ctl.s.settimeout(60)
    sent = up = failed = 0
    t0 = time.monotonic()

    def fire(k):
        nonlocal sent, failed
        names = ["pa%d" % i for i in range(sent, min(n, sent + k))]
        for name in names:
            ctl.send(CMD_REQUEST, "initiate", {"ike": name, "child": "net", "timeout": "-1"})
        sent += len(names)
        for _ in names:
            op, _, body = ctl.recv()
            if op != CMD_RESPONSE or decode(body).get("success") != "yes":
                failed += 1

    fire(window)
    while up + failed < n and time.monotonic() < t0 + 300:
        try:
            op, name, body = ev.recv()
        except socket.timeout:
            break
        if op != EVENT:
            continue
        msg = decode(body)
        if name == "child-updown" and msg.get("up") == "yes":
            up += 1
        elif name == "ike-updown" and msg.get("up") != "yes":
            failed += 1
        if sent < n and sent - up - failed < window:
            fire(min(window - (sent - up - failed), n - sent))
    dt = time.monotonic() - t0
    print("N=%d established=%d failed=%d seconds=%.6f rate=%.1f/s (%d configs pa0..pa%d, "
          "window %d)" % (n, up, failed, dt, up / dt, n, n - 1, window))
    sys.exit(0 if up == n else 1)


if kind == "establish":
    establish()

# What an earlier phase replaced may still be on its way out: wait (15 s at most)
# until both charons count N IKE SAs and list one CHILD SA under each.
wait_until = time.monotonic() + 15
while True:
    l0, r0 = list_sas(left), list_sas(right)
    if (settled(l0) and settled(r0) and stats_ikesas(left) == n and stats_ikesas(right) == n) \
            or time.monotonic() > wait_until:
        break
    time.sleep(0.1)
if not settled(l0) or not settled(r0) or check(None, None, l0, r0):
    print("charon: %s: the SAs before are not N IKE SAs with one CHILD SA each: left %d, right %d; %s"
          % (label, len(l0), len(r0), check(None, None, l0, r0)))
    sys.exit(1)

event = "child-rekey" if kind == "child" else "ike-rekey"
ev = Vici(left)
for name in (event, "child-updown", "ike-updown"):
    ev.send(EVENT_REGISTER, name)
    op = ev.recv()[0]
    assert op == EVENT_CONFIRM, (name, op)
ev.s.settimeout(60)
ctl = Vici(left)
ctl.s.settimeout(120)

if kind == "child":
    # ike-id too: vici's rekey walks every IKE SA for each command, and this spares
    # it the CHILD SAs of all the others
    targets = [{"ike-id": s["uid"], "child-id": s["children"][0]["uid"]} for s in l0]
    keyname = "child-id"
else:
    targets = [{"ike-id": s["uid"]} for s in l0]
    keyname = "ike-id"
if mode == "all" and kind == "child":
    commands = [{"child": "net"}]  # every CHILD SA of that name, in every IKE SA
else:
    commands = targets  # IKE SAs all at once: N commands, no window (configs pa0..)
    if mode == "all":
        window = n

sent_at = {}
latencies, command_ms, command_total = [], [], [0.0]
rekeyed = downs = refused = stray = 0
first_problem = ""
t0 = time.monotonic()
deadline = t0 + 300
nxt = 0


def fire(k):
    """sends k commands (pipelined), then reads their k answers"""
    global nxt, refused, first_problem
    batch = commands[nxt:nxt + k]
    nxt += len(batch)
    start = time.monotonic()
    for c in batch:
        ctl.send(CMD_REQUEST, "rekey", c)
        if len(commands) > 1:
            sent_at[c[keyname]] = start
    for c in batch:
        op, _, body = ctl.recv()
        r = decode(body)
        matches = int(r.get("matches", 0))
        want = n if len(commands) == 1 else 1
        if op != CMD_RESPONSE or r.get("success") != "yes" or matches < want:
            refused += 1
            first_problem = first_problem or "rekey %s answered %s" % (c, r)
        elif matches != want:
            first_problem = first_problem or "rekey %s matched %d SAs" % (c, matches)
    command_ms.append((time.monotonic() - start) * 1000 / max(1, len(batch)))
    command_total[0] += time.monotonic() - start
    if len(commands) == 1:
        for t in targets:
            sent_at[t[keyname]] = start


drops0 = rcvbuf_errors(left_ns), rcvbuf_errors(right_ns)
cpu0 = cpu_seconds(left), cpu_seconds(right)
fire(len(commands) if mode == "all" else min(window, n))
last = t0
while rekeyed + downs < n and time.monotonic() < deadline and refused == 0:
    try:
        op, name, body = ev.recv()
    except socket.timeout:
        first_problem = first_problem or "no event for 60 s"
        break
    if op != EVENT:
        continue
    msg = decode(body)
    sa = next((v for v in msg.values() if isinstance(v, dict)), {})
    if name in ("child-updown", "ike-updown"):
        if msg.get("up") != "yes":
            downs += 1
            first_problem = first_problem or "%s down: IKE SA %s" % (name, sa.get("uniqueid"))
        continue
    if kind == "child":
        child = next(iter((sa.get("child-sas") or {}).values()), {})
        key = (child.get("old") or {}).get("uniqueid")
    else:
        key = (sa.get("old") or {}).get("uniqueid")
    if key not in sent_at:
        stray += 1
        continue
    last = time.monotonic()
    latencies.append((last - sent_at.pop(key)) * 1000)
    rekeyed += 1
    if mode == "window" and nxt < n and len(sent_at) < window:
        fire(min(window - len(sent_at), n - nxt))
seconds = last - t0
drops = rcvbuf_errors(left_ns) - drops0[0], rcvbuf_errors(right_ns) - drops0[1]
cpu = cpu_seconds(left) - cpu0[0], cpu_seconds(right) - cpu0[1]

# Settled: the replaced SAs are gone on both sides (list-sas polled; one poll of
# 1,000 IKE SAs takes tens of ms, so these times are upper bounds). charon keeps a
# replaced CHILD SA's inbound half for charon.delete_rekeyed_delay (5 s by default)
# after the DELETE exchange, listed in state DELETED: "deleted" is when every
# replaced SA is gone or DELETED, "gone" when none is listed any more.
def states(sas):
    h = {}
    for s in sas:
        for c in s["children"]:
            h[c["state"]] = h.get(c["state"], 0) + 1
    return h


def deleted(sas):
    return len(sas) == n and all(
        sum(c["state"] == "INSTALLED" for c in s["children"]) == 1 and
        all(c["state"] in ("INSTALLED", "DELETED") for c in s["children"]) for s in sas)


polls = 0
deleted_s = None
first_states = None
while True:
    l1, r1 = list_sas(left), list_sas(right)
    polls += 1
    if first_states is None:
        first_states = "left %s, right %s" % (states(l1), states(r1))
    if deleted_s is None and deleted(l1) and deleted(r1):
        deleted_s = time.monotonic() - t0
    if (settled(l1) and settled(r1)) or time.monotonic() > deadline:
        break
    time.sleep(0.05)
settle_s = time.monotonic() - t0
if deleted_s is None:
    deleted_s = settle_s

pfs = "PFS" if label.endswith("pfs") else "no PFS"
what = "CHILD rekeys (%s)" % pfs if kind == "child" else "IKE rekeys"
how = ("one vici rekey command per SA (%s), window %d" % (keyname, window) if mode == "window"
       else "one vici rekey command for all (%s)" % commands[0] if len(commands) == 1
       else "one vici rekey command per SA (%s), all %d sent at once" % (keyname, n))
print("charon: %s, %s: %d of %d in %.3f s: %.0f /s; failed (down events) %d, refused %d, stray %d%s"
      % (what, how, rekeyed, n, seconds, rekeyed / seconds if seconds > 0 else 0, downs, refused,
         stray, ": " + first_problem if first_problem else ""))
if latencies:
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    print("charon: %s: latency from command to %s event: p50 %.1f ms, p99 %.1f ms, max %.1f ms; "
          "vici rekey command answered in %.2f ms per SA on average, %.3f s of the run spent "
          "waiting for answers; UDP receive-buffer drops left/right %d/%d"
          % (label, event, statistics.median(latencies), q[98], max(latencies),
             statistics.mean(command_ms), command_total[0], drops[0], drops[1]))
ok_settled = settled(l1) and settled(r1)
print("charon: %s: CPU time until the last event: left (initiator, also answering vici) %.2f s, "
      "right %.2f s: %.0f / %.0f us per rekey" % (label, cpu[0], cpu[1], cpu[0] * 1e6 / n,
                                                  cpu[1] * 1e6 / n))
print("charon: %s: CHILD SA states at the first list-sas after the last event: %s" % (label, first_states))
print("charon: %s: replaced SAs DELETED or gone on both sides after at most %.3f s: %.0f /s; "
      "gone after %s %.3f s (%d list-sas polls of both)"
      % (label, deleted_s, n / deleted_s, "at most" if ok_settled else "NOT GONE,", settle_s, polls))
bad = check(l0, r0, l1, r1)
if bad:
    print("charon: %s check: WRONG" % label)
    for what_, (count, example) in bad.items():
        print("  %s: %d (first: %s)" % (what_, count, example))
else:
    seen = {}
    for s in l1:
        a = "IKE %s, CHILD %s" % (s["algs"], s["children"][0]["algs"])
        seen[a] = seen.get(a, 0) + 1
    print("charon: %s check: ok: %d IKE SAs with one INSTALLED CHILD SA each on both sides, %s SPIs "
          "new on both sides and paired, %s SPIs unchanged; after: %s" % (label, n, kind.upper(),
          "IKE" if kind == "child" else "CHILD",
          "; ".join("%d x %s" % (v, k) for k, v in sorted(seen.items()))))
ok = not bad and ok_settled and rekeyed == n and downs == 0 and refused == 0
print("charon: result label=%s kind=%s mode=%s n=%d rekeyed=%d seconds=%.6f rate=%.1f "
      "settled_seconds=%.6f settled_rate=%.1f gone_seconds=%.6f cpu_us=%.0f/%.0f check=%s"
      % (label, kind, mode, n, rekeyed, seconds, rekeyed / seconds if seconds > 0 else 0,
         deleted_s, n / deleted_s, settle_s, cpu[0] * 1e6 / n, cpu[1] * 1e6 / n,
         "ok" if ok else "wrong"))
sys.exit(0 if ok else 1)
PY

charon_rekey() {  # charon_rekey WHAT KIND MODE
    local what=$1 out
    out=$(python3 "$WORK/rekey_vici.py" "$PEERS" "$WORK/l/charon.vici" "$WORK/r/charon.vici" \
        "$CHARON_N" "$2" "$WINDOW" "$3" "$what" "$L" "$R") || true
    echo "$out"
    if grep -q '^charon: result.*check=ok' <<<"$out"; then
        RATE[charon-$CHARON_N-$3-$what]+="$(sed -n 's/^charon: result.* rate=\([0-9.]*\) .*/\1/p' <<<"$out") "
        SETTLED[charon-$CHARON_N-$3-$what]+="$(sed -n 's/^charon: result.* settled_rate=\([0-9.]*\) .*/\1/p' <<<"$out") "
        CPUI[charon-$CHARON_N-$3-$what]+="$(sed -n 's/^charon: result.* cpu_us=\([0-9]*\)\/.*/\1/p' <<<"$out") "
        CPUR[charon-$CHARON_N-$3-$what]+="$(sed -n 's/^charon: result.* cpu_us=[0-9]*\/\([0-9]*\) .*/\1/p' <<<"$out") "
    fi
}

charon_pair() {  # charon_pair ESP: fresh charons, CHARON_N IKE+CHILD SAs
    charon_pair_stop
    conf "$WORK/l" 192.0.2.1 192.0.2.2 l "$1"
    conf "$WORK/r" 192.0.2.2 192.0.2.1 r "$1"
    charon_pair_start
    echo "charon: established $(python3 "$WORK/rekey_vici.py" "$PEERS" "$WORK/l/charon.vici" \
        "$WORK/r/charon.vici" "$CHARON_N" establish "$WINDOW" - - "$L" "$R" || true)"
}

"$PEERS/netns-pair.sh" up "$L" "$R" >/dev/null
# kernel-libipsec routes each CHILD SA's remote selector into its TUN device from
# an address of the local selector, and refuses the CHILD SA when it has none
# ("no local address found in traffic selector"): every local selector's address
# goes on lo (netns-pair.sh put the .1 there)
for ((i = 2; i <= (CHARON_N < 254 ? CHARON_N : 254); i++)); do
    ip -n "$L" addr add "198.51.100.$i/32" dev lo
done
for ((i = 2; i <= (CHARON_N - 1) / 254 % 254 + 1; i++)); do
    ip -n "$R" addr add "203.0.113.$i/32" dev lo
done
VERSION=$(dpkg-query -W -f='${Version}' strongswan-charon 2>/dev/null || echo '?')
fi

# charon_round RUN: fresh charons for each ESP setting, so every run starts from
# newly established SAs, as rekey_bench's do
charon_round() {
    echo "== strongSwan $VERSION charon <-> charon, run $1, kernel-libipsec both sides, $CHARON_N IKE+CHILD SAs (ike=$SS_IKE esp=$SS_ESP), window $WINDOW: CHILD then IKE rekeys, no PFS; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    charon_pair "$SS_ESP"
    charon_rekey child child window
    [[ $ALL_AT_ONCE == 1 ]] && charon_rekey child child all
    charon_rekey ike ike window
    [[ $ALL_AT_ONCE == 1 ]] && charon_rekey ike ike all
    echo "== strongSwan $VERSION charon <-> charon, run $1, $CHARON_N IKE+CHILD SAs (esp=$SS_ESP_PFS), window $WINDOW: CHILD rekeys with PFS; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    charon_pair "$SS_ESP_PFS"
    charon_rekey childpfs child window
    [[ $ALL_AT_ONCE == 1 ]] && charon_rekey childpfs child all
    charon_pair_stop
}

# ipsecd and charon take turns, so that both see much the same load from the
# machine's other jobs
for run in $(seq 1 "$RUNS"); do
    ipsecd_round "$run"
    if [[ $charon_ok == 1 ]]; then
        charon_round "$run"
    fi
done

# median (min-max) of a space-separated list of rates; "-" when empty
stat() {
    tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) { printf "-"; exit }
        m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        if (NR == 1) printf "%.0f", m; else printf "%.0f (%.0f-%.0f)", m, a[1], a[NR] }'
}
median() { stat "$1" | cut -d' ' -f1; }
ratio() {
    local a b
    a=$(median "$1") b=$(median "$2")
    if [[ $a == - || $b == - ]]; then echo "-"; else awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1fx", a / b }'; fi
}
row() {  # row WHAT IPSECD_KEY CHARON_KEY
    printf "%-52s | %-20s %-20s | %-20s %-20s | %-6s %s\n" "$1" \
        "$(stat "${RATE[$2]:-}")" "[$(stat "${SETTLED[$2]:-}")]" \
        "$(stat "${RATE[$3]:-}")" "[$(stat "${SETTLED[$3]:-}")]" \
        "$(ratio "${RATE[$2]:-}" "${RATE[$3]:-}")" "[$(ratio "${SETTLED[$2]:-}" "${SETTLED[$3]:-}")]"
}
echo "== summary: rekeys/s, median of $RUNS runs (min-max), counted until the last rekey event on the"
echo "   initiator; [in brackets] until the replaced SAs were gone (ipsecd) or DELETED (charon) on both sides"
printf "%-52s | %-41s | %-41s | %s\n" "" "ipsecd engine <-> engine" "charon <-> charon ($CHARON_N SAs)" "ratio"
C=charon-$CHARON_N
for n in $SIZES; do
    row "CHILD, no PFS, $n SAs, window $WINDOW" "ipsecd-$n-window-child" "$C-window-child"
    row "CHILD, PFS x25519, $n SAs, window $WINDOW" "ipsecd-$n-window-childpfs" "$C-window-childpfs"
    row "IKE, $n SAs, window $WINDOW" "ipsecd-$n-window-ike" "$C-window-ike"
done
if [[ $ALL_AT_ONCE == 1 ]]; then
    row "CHILD, no PFS, $FIRST SAs, all at once" "ipsecd-$FIRST-all-child" "$C-all-child"
    row "CHILD, PFS x25519, $FIRST SAs, all at once" "ipsecd-$FIRST-all-childpfs" "$C-all-childpfs"
    row "IKE, $FIRST SAs, all at once" "ipsecd-$FIRST-all-ike" "$C-all-ike"
fi
row "CHILD, PFS, $FIRST SAs, window $WINDOW, SO_RCVBUF 2 MiB" "ipsecd-$FIRST-rcvbuf-childpfs" "$C-window-childpfs"
cpurow() {  # cpurow WHAT IPSECD_KEY CHARON_KEY
    local ii ir ci cr
    ii=$(median "${CPUI[$2]:-}") ir=$(median "${CPUR[$2]:-}") ci=$(median "${CPUI[$3]:-}") cr=$(median "${CPUR[$3]:-}")
    printf "%-52s | %-41s | %-41s | %s\n" "$1" "$ii / $ir" "$ci / $cr" \
        "$(awk -v a="$ir" -v b="$cr" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.1fx", b / a; else printf "-" }')"
}
echo "== CPU time per rekey, microseconds, initiator / responder (median of $RUNS runs), until the"
echo "   last rekey event; charon's initiator also answers the vici commands; ratio: responders"
printf "%-52s | %-41s | %-41s | %s\n" "" "ipsecd engine <-> engine" "charon <-> charon ($CHARON_N SAs)" "ratio"
cpurow "CHILD, no PFS, $FIRST SAs, window $WINDOW" "ipsecd-$FIRST-window-child" "$C-window-child"
cpurow "CHILD, PFS x25519, $FIRST SAs, window $WINDOW" "ipsecd-$FIRST-window-childpfs" "$C-window-childpfs"
cpurow "IKE, $FIRST SAs, window $WINDOW" "ipsecd-$FIRST-window-ike" "$C-window-ike"
machine "after"
