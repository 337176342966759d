#!/usr/bin/env python3
"""A full mesh of ipsecd daemons rekeying without churn: N daemons (memory
kernel), each on its own loopback address 127.0.0.(BASE+i) with the same
unprivileged IKE and NAT-T ports; every pair of nodes has one connection,
defined alike on both ends with auto=start, so both ends initiate at once
(simultaneous initiation); PSK; short lifetimes with fuzz.

After convergence (every connection Established on both ends, no IKE SA
still connecting) it samples every node's /v1/connections through at least
three CHILD rekeys and one IKE rekey of every connection and checks:

  - at every sample, for every connection on every node, exactly one live IKE
    SA (ESTABLISHED or REKEYING) and exactly one live CHILD SA (INSTALLED or
    REKEYING), and the Established condition True;
  - churn: a live SA is only ever replaced by one with a higher `rekeys`
    count; the two ends of every connection agree on the SPIs in some sample;
    no child-down, child-failed, ike-down, ike-failed or rekey-failed event in
    any log after convergence; ipsec_ike_sa_established_total and
    ipsec_ike_sa_failures_total unchanged after convergence;
  - ipsec_rekeys_total{result="success"} grew on every node and
    {result="failure"} is 0 everywhere, except for rekeys the peer refused
    with TEMPORARY_FAILURE (a crossing exchange, RFC 7296 2.25: the engine
    counts and logs a failed rekey, then retries) whose SA a later rekey by
    either end replaced: those are listed, and the counter must equal them;
  - memory is flat: after convergence every daemon answers 128 status reads
    (8 at once) first, as each HTTP server thread keeps a malloc arena the
    size of the answers it built; from then on each daemon's VmRSS stays
    within +20 % and the VmRSS of all daemons grows in the second half of the
    sampling at most half as much as in the first half, + 1 % (a leak grows
    alike in both halves).

ctest runs it as mesh_test (8 nodes, 28 connections, about 65 s); bench/mesh_bench.py
runs the same with 50 nodes. By hand:

  IPSECD_BIN=build/controller/ipsecd tests/daemon/mesh_test.py [-v]
  IPSECD_MESH_NODES=12 IPSECD_KEEP_TEST_DIR=1 tests/daemon/mesh_test.py
"""

import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ipsecd_harness import Ipsecd, free_udp_port, metric_value, stop_all  # noqa: E402

BIN = os.environ.get("IPSECD_BIN", "build/controller/ipsecd")
LIVE_IKE = ("ESTABLISHED", "REKEYING")
LIVE_CHILD = ("INSTALLED", "REKEYING")
# Engine events that mean an SA went away other than by a rekey (the daemon logs
# "engine: CONN: child-down (reason)", "CONN: ike-failed: reason", ...).
DOWN_EVENT = re.compile(r": (child-down|child-failed|ike-down|ike-failed|rekey-failed)\b")
REKEYED = re.compile(r"(\S+): rekeyed (IKE|child) SA (0x[0-9a-f]+)/(0x[0-9a-f]+) -> ")
REKEY_FAILED = re.compile(r"(\S+): rekey-failed: (IKE|child) SA (0x[0-9a-f]+)/(0x[0-9a-f]+): (.*)$")
MAX_LISTED = 40  # violations printed in full; the rest are counted


def seconds(value):
    """'30s', '1m', '2h' or '45' (seconds) as a number of seconds."""
    m = re.fullmatch(r"(\d+)([smhd]?)", value)
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


class Lifetimes:
    """The lifetime keywords every connection of the mesh gets, in libreswan's
    spellings."""

    def __init__(self, salifetime="30s", ikelifetime="60s", rekeymargin="10s", rekeyfuzz="100%"):
        self.salifetime, self.ikelifetime = salifetime, ikelifetime
        self.rekeymargin, self.rekeyfuzz = rekeymargin, rekeyfuzz

    def conf(self):
        return (f"  salifetime={self.salifetime}\n  ikelifetime={self.ikelifetime}\n"
                f"  rekeymargin={self.rekeymargin}\n  rekeyfuzz={self.rekeyfuzz}\n")

    def __str__(self):
        return (f"salifetime={self.salifetime} ikelifetime={self.ikelifetime} "
                f"rekeymargin={self.rekeymargin} rekeyfuzz={self.rekeyfuzz}")


def node_name(i):
    return f"n{i:02d}"


def conn_name(i, j):
    a, b = min(i, j), max(i, j)
    return f"{node_name(a)}-{node_name(b)}"


def describe_sas(c):
    """Every SA of a connection status, live or not: state, SPIs, rekeys."""
    ike = ", ".join(f"{s['state']} {s['localSpi']}/{s['remoteSpi']} init={int(s['initiator'])} "
                    f"rekeys={s['rekeys']}" for s in c["ikeSas"]) or "none"
    child = ", ".join(f"{s['state']} {s['spiIn']}/{s['spiOut']} rekeys={s['rekeys']}"
                      for s in c["childSas"]) or "none"
    return f"IKE SAs [{ike}]; CHILD SAs (in/out) [{child}]"


def established(c):
    return next((x["status"] for x in c["conditions"] if x["type"] == "Established"), "missing")


class Mesh:
    """N daemons on 127.0.0.(base+1) .. 127.0.0.(base+N), one connection per
    pair of nodes, each defined on both ends (one watched file per node)."""

    def __init__(self, binary, n, workdir, lifetimes, base=100, log_level="info",
                 ike="aes_gcm256-sha2_256-dh31", esp="aes_gcm256"):
        if not 2 <= n <= 254 - base:
            raise ValueError(f"{n} nodes do not fit above 127.0.0.{base}")
        self.n, self.dir, self.lifetimes = n, workdir, lifetimes
        self.ike, self.esp = ike, esp
        self.addresses = [f"127.0.0.{base + i}" for i in range(1, n + 1)]
        self.port = free_udp_port(self.addresses)
        self.secrets = os.path.join(workdir, "ipsec.secrets")
        with open(self.secrets, "w") as f:
            for i in range(1, n + 1):
                for j in range(i + 1, n + 1):
                    f.write(f"@{node_name(i)} @{node_name(j)} : PSK \"mesh-{i}-{j}-secret\"\n")
        os.chmod(self.secrets, 0o600)
        self.daemons = []
        self.watch_dirs = []
        for i in range(1, n + 1):
            d = os.path.join(workdir, node_name(i) + ".d")
            os.mkdir(d)
            self.watch_dirs.append(d)
            self.daemons.append(Ipsecd(binary, workdir, node_name(i), self.addresses[i - 1], self.port,
                                       ["--secrets", self.secrets, "--watch-dir", d,
                                        "--log-level", log_level]))

    def conns_of(self, i):
        return [conn_name(i, j) for j in range(1, self.n + 1) if j != i]

    def pairs(self):
        """(connection, index of its left node, index of its right node), 0-based."""
        return [(conn_name(i, j), i - 1, j - 1)
                for i in range(1, self.n + 1) for j in range(i + 1, self.n + 1)]

    def conf_text(self, i):
        """Node i's file: its n-1 connections, each spelled exactly as on the
        other end (the daemon finds which side is local by its address)."""
        out = []
        for j in range(1, self.n + 1):
            if j == i:
                continue
            a, b = min(i, j), max(i, j)
            out.append(f"conn {conn_name(a, b)}\n  ikev2=insist\n  authby=secret\n"
                       f"  left={self.addresses[a - 1]}\n  right={self.addresses[b - 1]}\n"
                       f"  leftid=@{node_name(a)}\n  rightid=@{node_name(b)}\n"
                       f"  ike={self.ike}\n  esp={self.esp}\n" + self.lifetimes.conf()
                       + "  auto=start\n")
        return "\n".join(out)

    def start(self):
        for d in self.daemons:
            d.start()

    def publish(self):
        """Every node's file at once: written aside, then renamed into place in
        one burst, so the ends of each connection initiate together."""
        for i, d in enumerate(self.watch_dirs, 1):
            with open(os.path.join(d, "mesh.conf.tmp"), "w") as f:
                f.write(self.conf_text(i))
        for d in self.watch_dirs:
            os.rename(os.path.join(d, "mesh.conf.tmp"), os.path.join(d, "mesh.conf"))
        return time.monotonic()

    def check_alive(self):
        for d in self.daemons:
            if d.proc.poll() is not None:
                raise AssertionError(f"{d.name} exited with {d.proc.returncode}; its log ends:\n"
                                     + d.log_text()[-6000:])

    def snapshot(self):
        """{node index: {connection: status}}, one GET /v1/connections per node."""
        self.check_alive()
        return [d.connections() for d in self.daemons]

    def close(self):
        return stop_all(self.daemons, timeout=60)


class Run:
    """One mesh run: converge, sample through the rekeys, check. `failures`
    lists what went wrong; `out` gets every line of the report."""

    def __init__(self, mesh, out=print, interval=1.0, min_child_rekeys=3, min_ike_rekeys=1,
                 rss_growth=0.20, rss_flat=0.5, converge_timeout=60, sample_timeout=None,
                 bound_memory=True):
        self.mesh, self.out = mesh, out
        self.bound_memory = bound_memory
        self.interval, self.rss_growth, self.rss_flat = interval, rss_growth, rss_flat
        self.min_child_rekeys, self.min_ike_rekeys = min_child_rekeys, min_ike_rekeys
        self.converge_timeout = converge_timeout
        lt = mesh.lifetimes
        # Every cycle ends before the SA's lifetime, whoever of the two ends goes first.
        self.sample_timeout = sample_timeout or (
            max(min_child_rekeys * seconds(lt.salifetime), min_ike_rekeys * seconds(lt.ikelifetime))
            + 2 * seconds(lt.rekeymargin) + 15)
        self.failures = []
        self.violations = []  # (kind, text)
        self.rss_trace = []  # (seconds after convergence, [VmRSS KiB per daemon]) per sample
        self.figures = {}

    # ---- measuring ----------------------------------------------------------------

    def probe(self):
        """RSS, CPU time, log offset and counters of every daemon now."""
        out = []
        for d in self.mesh.daemons:
            m = d.metrics()
            out.append({
                "rss": d.rss_kib(), "anon": d.status_kib("RssAnon"), "cpu": d.cpu_seconds(),
                "log": d.log_size(),
                "rekeys": {(k, r): metric_value(m, "ipsec_rekeys_total", kind=k, result=r)
                           for k in ("child", "ike", "reauth") for r in ("success", "failure")},
                "ike_established": metric_value(m, "ipsec_ike_sa_established_total"),
                "ike_failures": metric_value(m, "ipsec_ike_sa_failures_total"),
            })
        return out

    def warm_api(self, conv, threads=8, requests=16):
        """Every daemon answers `threads` x `requests` GET /v1/connections at
        once before memory is measured: each HTTP server thread that builds a
        status answer keeps a malloc arena the size of it (measured: 3.6 MiB
        per daemon of 19 connections over the first 200 answers, without any
        rekey, then flat), which would otherwise show as growth while the
        samples read the status. Returns every daemon's VmRSS and CPU time after it."""
        def read(d):
            for _ in range(requests):
                d.connections()
        pool = [threading.Thread(target=read, args=(d,)) for d in self.mesh.daemons for _ in range(threads)]
        t0 = time.monotonic()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        warm = [{"rss": d.rss_kib(), "cpu": d.cpu_seconds()} for d in self.mesh.daemons]
        self.out(f"API warm-up: {threads} x {requests} GET /v1/connections per daemon, {threads} at once, "
                 f"{time.monotonic() - t0:.1f} s; VmRSS of all daemons {sum(c['rss'] for c in conv) / 1024:.1f}"
                 f" -> {sum(w['rss'] for w in warm) / 1024:.1f} MiB")
        self.figures["rss_warm_kib"] = sum(w["rss"] for w in warm)
        self.figures["warm_s"] = time.monotonic() - t0
        return warm

    def violation(self, kind, text, conn=None):
        first = all(k != kind for k, _ in self.violations)
        self.violations.append((kind, text))
        if len(self.violations) <= MAX_LISTED:
            self.out("VIOLATION " + text)
        elif len(self.violations) == MAX_LISTED + 1:
            self.out(f"(further violations are counted, not listed; the first {MAX_LISTED} are above)")
        if first and conn:
            # The first of its kind comes with what both ends logged about the connection.
            for d in self.mesh.daemons:
                if d.name in conn.split("-"):
                    lines = [x for x in d.log_text().splitlines() if conn + ":" in x]
                    self.out(f"  {d.name}'s log lines on {conn} (last {min(len(lines), 15)} of {len(lines)}):")
                    for x in lines[-15:]:
                        self.out("    " + x)

    # ---- the phases ---------------------------------------------------------------

    def converge(self, t_published):
        mesh = self.mesh
        want = mesh.n - 1
        deadline = t_published + self.converge_timeout
        polls = 0
        while True:
            polls += 1
            mesh.check_alive()
            counts = [d.get("/v1/status")["established"] for d in mesh.daemons]
            if all(c == want for c in counts):
                snap = mesh.snapshot()
                pending = [(mesh.daemons[k].name, name, c) for k, conns in enumerate(snap)
                           for name, c in sorted(conns.items())
                           if established(c) != "True"
                           or any(s["state"] == "CONNECTING" for s in c["ikeSas"])]
                if not pending and all(len(conns) == want for conns in snap):
                    return time.monotonic(), snap, polls
            else:
                pending = None
            if time.monotonic() > deadline:
                lines = [f"not converged {self.converge_timeout} s after the files were published "
                         f"(Established per node: {counts}, want {want} each)"]
                snap = mesh.snapshot() if pending is None else snap
                for k, conns in enumerate(snap):
                    for name in mesh.conns_of(k + 1):
                        c = conns.get(name)
                        if c is None:
                            lines.append(f"  {mesh.daemons[k].name} {name}: not loaded")
                        elif established(c) != "True" or any(s["state"] == "CONNECTING"
                                                              for s in c["ikeSas"]):
                            cond = next((x for x in c["conditions"] if x["type"] == "Established"), {})
                            lines.append(f"  {mesh.daemons[k].name} {name}: Established="
                                         f"{cond.get('status')} ({cond.get('reason')}: "
                                         f"{cond.get('message')}); {describe_sas(c)}; "
                                         f"lastError={c['lastError']!r}")
                raise AssertionError("\n".join(lines[:200]))
            time.sleep(0.1)

    def check_sample(self, k, t, snap, state):
        mesh = self.mesh
        for i, conns in enumerate(snap):
            node = mesh.daemons[i].name
            for name in mesh.conns_of(i + 1):
                c = conns.get(name)
                where = f"sample {k} (+{t:.1f} s) {node} {name}"
                if c is None:
                    self.violation("missing", f"{where}: connection not loaded", name)
                    continue
                ike = [s for s in c["ikeSas"] if s["state"] in LIVE_IKE]
                child = [s for s in c["childSas"] if s["state"] in LIVE_CHILD]
                if len(ike) != 1 or len(child) != 1:
                    self.violation("count", f"{where}: {len(ike)} live IKE SAs, {len(child)} live "
                                   f"CHILD SAs (want 1 and 1); {describe_sas(c)}", name)
                if established(c) != "True":
                    self.violation("condition", f"{where}: Established={established(c)}; "
                                   f"{describe_sas(c)}; lastError={c['lastError']!r}", name)
                best_child = max((s["rekeys"] for s in child), default=-1)
                best_ike = max((s["rekeys"] for s in ike), default=-1)
                state["rekeys"][(i, name)] = (best_child, best_ike)
                if len(ike) != 1 or len(child) != 1:
                    continue
                now = {"child": (child[0]["spiIn"], child[0]["spiOut"], child[0]["rekeys"]),
                       "ike": (ike[0]["localSpi"], ike[0]["remoteSpi"], ike[0]["rekeys"])}
                before = state["last"].get((i, name))
                if before is not None:
                    for kind in ("child", "ike"):
                        (a_in, a_out, a_r), (b_in, b_out, b_r) = before[kind], now[kind]
                        if (a_in, a_out) != (b_in, b_out) and b_r <= a_r:
                            self.violation("churn", f"{where}: {kind.upper()} SA {a_in}/{a_out} "
                                           f"(rekeys={a_r}) replaced by {b_in}/{b_out} (rekeys={b_r}) "
                                           f"without a rekey; {describe_sas(c)}", name)
                        elif b_r < a_r:
                            self.violation("churn", f"{where}: {kind.upper()} SA {b_in}/{b_out} "
                                           f"rekeys went from {a_r} to {b_r}", name)
                state["last"][(i, name)] = now
        # The two ends of a connection on the same SAs (not atomic across
        # nodes: a rekey between the two reads makes them differ once).
        for name, a, b in mesh.pairs():
            ea, eb = state["last"].get((a, name)), state["last"].get((b, name))
            if ea is None or eb is None:
                continue
            same = (ea["child"][:2] == eb["child"][1::-1] and ea["ike"][:2] == eb["ike"][1::-1])
            state["agree"][name] = state["agree"].get(name, 0) + int(same)
            state["seen"][name] = (ea, eb)

    def sample(self, t_converged):
        state = {"last": {}, "rekeys": {}, "agree": {}, "seen": {}}
        k = 0
        durations = []
        while True:
            t0 = time.monotonic()
            snap = self.mesh.snapshot()
            durations.append(time.monotonic() - t0)
            self.check_sample(k, t0 - t_converged, snap, state)
            self.rss_trace.append((t0 - t_converged, [d.rss_kib() for d in self.mesh.daemons]))
            k += 1
            short = sorted((self.mesh.daemons[i].name, name, r) for (i, name), r in state["rekeys"].items()
                           if r[0] < self.min_child_rekeys or r[1] < self.min_ike_rekeys)
            if not short:
                break
            if time.monotonic() - t_converged > self.sample_timeout:
                self.failures.append(
                    f"{len(short)} connection ends had not done {self.min_child_rekeys} CHILD and "
                    f"{self.min_ike_rekeys} IKE rekeys {self.sample_timeout:.0f} s after convergence "
                    "(node, connection, (CHILD rekeys, IKE rekeys) of the live SAs; -1: no live SA): "
                    + ", ".join(f"{n} {c} {r}" for n, c, r in short[:30]))
                break
            time.sleep(max(0.0, self.interval - (time.monotonic() - t0)))
        # (A connection never seen with one SA of each kind at both ends is
        # reported above, sample by sample.)
        never = [name for name, _, _ in self.mesh.pairs()
                 if name in state["seen"] and state["agree"][name] == 0]
        for name in never:
            ea, eb = state["seen"].get(name, (None, None))
            self.violation("ends", f"{name}: its two ends never showed the same SAs in {k} samples; "
                           f"last seen {name.split('-')[0]} {ea}, {name.split('-')[1]} {eb} "
                           "(child: in, out, rekeys; ike: local, remote, rekeys)", name)
        child_rekeys = [r[0] for r in state["rekeys"].values()]
        ike_rekeys = [r[1] for r in state["rekeys"].values()]
        return k, durations, child_rekeys, ike_rekeys

    def run(self):
        mesh = self.mesh
        out = self.out
        lt = mesh.lifetimes
        conns = mesh.n * (mesh.n - 1) // 2
        out(f"mesh: {mesh.n} nodes on {mesh.addresses[0]}..{mesh.addresses[-1]} port {mesh.port}, "
            f"{conns} connections ({2 * conns} ends), auto=start on both ends, PSK, "
            f"ike={mesh.ike} esp={mesh.esp}, {lt}")
        t_start = time.monotonic()
        mesh.start()
        idle = self.probe()
        out(f"started {mesh.n} daemons in {time.monotonic() - t_start:.1f} s")
        t_pub = mesh.publish()
        t_conv, snap, polls = self.converge(t_pub)
        conv = self.probe()
        self.figures["converge_s"] = t_conv - t_pub
        out(f"converged: every connection Established on both ends, no IKE SA connecting, "
            f"{t_conv - t_pub:.2f} s after the files were published ({polls} polls)")
        warm = self.warm_api(conv)
        t_warm = time.monotonic()
        samples, durations, child_rekeys, ike_rekeys = self.sample(t_conv)
        t_end = time.monotonic()
        mesh.check_alive()
        end = self.probe()
        self.figures.update(samples=samples, sampled_s=t_end - t_conv, after_warm_s=t_end - t_warm)
        out(f"sampled {samples} times over {t_end - t_conv:.1f} s after convergence (a sample, "
            f"every node's /v1/connections: median {1000 * sorted(durations)[len(durations) // 2]:.0f} ms, "
            f"max {1000 * max(durations):.0f} ms)")
        out(f"rekeys per connection end, counted on the live SAs: CHILD min {min(child_rekeys)} "
            f"max {max(child_rekeys)}, IKE min {min(ike_rekeys)} max {max(ike_rekeys)}")
        kinds = {}
        for v_kind, _ in self.violations:
            kinds[v_kind] = kinds.get(v_kind, 0) + 1
        self.figures["violations"] = len(self.violations)
        out(f"violations: {len(self.violations)}"
            + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())) + ")" if kinds else ""))
        if self.violations:
            self.failures.append(f"{len(self.violations)} violations of one live IKE SA and one live "
                                 f"CHILD SA per connection end / of no churn ("
                                 + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items()))
                                 + "); the first: " + self.violations[0][1])
        self.check_logs(conv)
        self.check_counters(conv, end)
        self.check_memory(idle, conv, warm, end)
        self.figures["failures"] = len(self.failures)
        return self

    # ---- the checks at the end ------------------------------------------------------

    def check_logs(self, conv):
        """No SA down or failed after convergence. A rekey the peer refused with
        TEMPORARY_FAILURE (a crossing exchange, RFC 7296 2.25) is retried by the
        engine and counted as a failed rekey; it is explained, not a failure,
        when the same SA was rekeyed after it, by either end."""
        logs = {d.name: d.log_since(p["log"]) for d, p in zip(self.mesh.daemons, conv)}
        rekeyed = {}  # (connection, kind, frozenset of the old SPIs) -> [(time, node, line)]
        for node, lines in logs.items():
            for line in lines:
                m = REKEYED.search(line)
                if m:
                    key = (m.group(1), m.group(2).lower(), frozenset(m.group(3, 4)))
                    rekeyed.setdefault(key, []).append((line[:24], node, line))
        found = []
        self.retried = {}  # (node, kind) -> how many refused rekeys were made good
        for node, lines in logs.items():
            for line in lines:
                if not DOWN_EVENT.search(line):
                    continue
                m = REKEY_FAILED.search(line)
                if m and "TEMPORARY_FAILURE" in m.group(5):
                    kind = m.group(2).lower()
                    later = [x for x in rekeyed.get((m.group(1), kind, frozenset(m.group(3, 4))), [])
                             if x[0] >= line[:24]]
                    if later:
                        self.retried[(node, kind)] = self.retried.get((node, kind), 0) + 1
                        self.out(f"refused rekey, made good: {node}: {line}\n  then {later[0][1]}: "
                                 f"{later[0][2]}")
                        continue
                found.append(f"{node}: {line}")
        self.figures["retried"] = sum(self.retried.values())
        self.out(f"child-down/child-failed/ike-down/ike-failed/rekey-failed events after convergence: "
                 f"{len(found)} (besides refused rekeys made good: {self.figures['retried']})")
        for line in found[:MAX_LISTED]:
            self.out("  " + line)
        if found:
            self.failures.append(f"{len(found)} SA down/failed events after convergence; the first: "
                                 + "; ".join(found[:5]))

    def check_counters(self, conv, end):
        out = self.out
        totals = {}
        for kind in ("child", "ike", "reauth"):
            for result in ("success", "failure"):
                totals[(kind, result)] = sum(e["rekeys"][(kind, result)] for e in end)
        self.figures["rekeys"] = totals
        out("ipsec_rekeys_total over all nodes (each end counts the rekeys it took part in): "
            + ", ".join(f"{k}/{r} {int(v)}" for (k, r), v in totals.items()))
        for d, c, e in zip(self.mesh.daemons, conv, end):
            grew = {k: e["rekeys"][(k, "success")] - c["rekeys"][(k, "success")]
                    for k in ("child", "ike")}
            failed = {k: int(e["rekeys"][(k, "failure")]) - self.retried.get((d.name, k), 0)
                      for k in ("child", "ike", "reauth")
                      if e["rekeys"][(k, "failure")] != self.retried.get((d.name, k), 0)}
            if grew["child"] <= 0 or grew["ike"] <= 0:
                self.failures.append(f"{d.name}: ipsec_rekeys_total{{result=\"success\"}} did not grow "
                                     f"after convergence for every kind: child +{grew['child']:.0f}, "
                                     f"ike +{grew['ike']:.0f}")
            if failed:
                self.failures.append(f"{d.name}: ipsec_rekeys_total{{result=\"failure\"}} {failed} "
                                     "(besides refusals made good); "
                                     "its rekey-failed lines: " + "; ".join(
                                         [x for x in d.log_text().splitlines() if "rekey-failed" in x][:5]))
            if e["ike_established"] != c["ike_established"]:
                self.failures.append(f"{d.name}: ipsec_ike_sa_established_total went from "
                                     f"{c['ike_established']:.0f} at convergence to "
                                     f"{e['ike_established']:.0f} (an IKE SA was set up again)")
            if e["ike_failures"] != c["ike_failures"]:
                self.failures.append(f"{d.name}: ipsec_ike_sa_failures_total went from "
                                     f"{c['ike_failures']:.0f} at convergence to {e['ike_failures']:.0f}")
        established = [int(c["ike_established"]) for c in conv]
        out(f"ipsec_ike_sa_established_total per node at convergence: min {min(established)}, "
            f"max {max(established)} ({self.mesh.n - 1} connections each; both ends initiated)")

    def check_memory(self, idle, conv, warm, end):
        out = self.out
        out(f"per daemon: VmRSS KiB idle / converged / after the API warm-up / end (growth from the "
            f"warm-up to the end; bound +{100 * self.rss_growth:.0f} %), RssAnon converged / end, "
            "CPU s converging / warm-up / sampling")
        growths = []
        for d, i, c, w, e in zip(self.mesh.daemons, idle, conv, warm, end):
            g = (e["rss"] - w["rss"]) / w["rss"]
            growths.append(g)
            out(f"  {d.name} {d.address}: {i['rss']} / {c['rss']} / {w['rss']} / {e['rss']} ({100 * g:+.1f} %), "
                f"anon {c['anon']} / {e['anon']}, CPU {c['cpu'] - i['cpu']:.2f} / {w['cpu'] - c['cpu']:.2f} / "
                f"{e['cpu'] - w['cpu']:.2f} s")
            if g > self.rss_growth and self.bound_memory:
                self.failures.append(f"{d.name}: VmRSS grew {100 * g:.1f} % after convergence and the API "
                                     f"warm-up ({w['rss']} -> {e['rss']} KiB), bound {100 * self.rss_growth:.0f} %")
        # The course over the run: a leak grows as fast in the second half of the
        # sampling as in the first; the heap warming up to the rekeys levels off.
        trace = [sum(r) for _, r in self.rss_trace]
        marks = sorted({0, len(trace) // 4, len(trace) // 2, 3 * len(trace) // 4, len(trace) - 1})
        out("VmRSS of all daemons over the sampling: " + ", ".join(
            f"+{self.rss_trace[m][0]:.0f} s {trace[m] / 1024:.1f} MiB" for m in marks))
        first, second = trace[len(trace) // 2] - trace[0], trace[-1] - trace[len(trace) // 2]
        allowed = self.rss_flat * max(first, 0) + 0.01 * trace[0]
        self.figures.update(rss_first_half_kib=first, rss_second_half_kib=second)
        out(f"VmRSS growth of all daemons: first half of the sampling {first / 1024:+.1f} MiB, "
            f"second half {second / 1024:+.1f} MiB (bound: {self.rss_flat:.2f} x the first half + 1 % "
            f"= {allowed / 1024:.1f} MiB)")
        if not self.bound_memory:
            out("(memory is not bounded in this run: a sanitizer's quarantine holds freed memory back)")
        elif second > allowed:
            self.failures.append(f"VmRSS of all daemons still grows: {first / 1024:+.1f} MiB in the first "
                                 f"half of the sampling, {second / 1024:+.1f} MiB in the second "
                                 f"(bound {allowed / 1024:.1f} MiB): " + ", ".join(
                                     f"+{self.rss_trace[m][0]:.0f} s {trace[m] / 1024:.1f} MiB" for m in marks))
        rss_conv = sum(w["rss"] for w in warm)
        rss_end = sum(e["rss"] for e in end)
        out(f"all daemons: RssAnon {sum(c['anon'] for c in conv) / 1024:.1f} MiB converged, "
            f"{sum(e['anon'] for e in end) / 1024:.1f} MiB at the end (the rest of VmRSS is the "
            "mapped binary and libraries)")
        cpu_conv = sum(c["cpu"] - i["cpu"] for i, c in zip(idle, conv))
        cpu_warm = sum(w["cpu"] - c["cpu"] for c, w in zip(conv, warm))
        cpu_samp = sum(e["cpu"] - w["cpu"] for w, e in zip(warm, end))
        t_samp = self.figures["after_warm_s"]
        self.figures.update(rss_conv_kib=rss_conv, rss_end_kib=rss_end, cpu_converge_s=cpu_conv,
                            cpu_sampling_s=cpu_samp, rss_growth_max=max(growths))
        out(f"all daemons: VmRSS {rss_conv / 1024:.1f} MiB after the warm-up, {rss_end / 1024:.1f} MiB at the end "
            f"(max growth {100 * max(growths):+.1f} %, min {100 * min(growths):+.1f} %); CPU "
            f"{cpu_conv:.1f} s converging, {cpu_warm:.1f} s in the API warm-up, {cpu_samp:.1f} s over the "
            f"{t_samp:.0f} s of rekeying and sampling after it ({100 * cpu_samp / t_samp:.0f} % of one CPU)")


def keep_or_remove(workdir, failed=False):
    if os.environ.get("IPSECD_KEEP_TEST_DIR") or failed:
        print("kept", workdir, "(the daemons' logs are NAME.log)")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


class MeshTest(unittest.TestCase):
    def setUp(self):
        # ctest's timeout ends us with SIGTERM: unwind, so the cleanups stop the daemons.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
        self.dir = tempfile.mkdtemp(prefix="ipsecd-mesh-test-")
        self.failed = False
        self.addCleanup(lambda: keep_or_remove(self.dir, self.failed))

    def test_full_mesh_simultaneous_start_rekeys_without_churn(self):
        n = int(os.environ.get("IPSECD_MESH_NODES", "8"))
        mesh = Mesh(BIN, n, self.dir, Lifetimes())
        self.addCleanup(mesh.close)
        sanitized = os.environ.get("IPSECD_SANITIZED", "0") not in ("", "0", "OFF", "FALSE")
        self.failed = True  # until the run is through: a crash or timeout keeps the logs too
        run = Run(mesh, out=lambda line: print(line, flush=True), bound_memory=not sanitized).run()
        # Every daemon stops cleanly (under the sanitizers: without a leak report).
        codes = mesh.close()
        for name, code in sorted(codes.items()):
            if code != 0:
                d = next(x for x in mesh.daemons if x.name == name)
                run.failures.append(f"{name} exited with {code} on SIGTERM; its log ends:\n"
                                    + d.log_text()[-3000:])
        self.failed = bool(run.failures)  # keep the logs
        if run.failures:
            self.fail(f"{len(run.failures)} failures in a {n}-node mesh:\n- " + "\n- ".join(run.failures)
                      + f"\n(the daemons' logs are kept under {self.dir})")


if __name__ == "__main__":
    unittest.main(verbosity=2)
