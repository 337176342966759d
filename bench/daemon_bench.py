#!/usr/bin/env python3
"""ipsecd as a controller, measured end to end (two daemons on loopback,
memory kernel, one conn per file in a watched directory):

  converge  a cold drop of N connections (auto=start) on the initiator until
            every one is Established (the responder has its N loaded first)
  edit      one connection of the N rewritten (new esp=) until its replacement
            is Established, debounce included; every other CHILD SA's SPIs are
            compared before and after
  load      1,000 connections (auto=add) from a cold drop until all are Loaded,
            and libreswan 4.10 loading the same 1,000 with an `ipsec auto --add`
            loop into a running pluto (root: ../shared/peers/libreswan-peer.sh)

  bench/daemon_bench.py [--build DIR] [--sizes 1000,10000] [--edits 5] [--no-libreswan]
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "daemon"))
from ipsecd_harness import (Ipsecd, configmap_publish, configmap_stage,  # noqa: E402
                            free_udp_port)

PEERS = os.environ.get("PEERS_DIR", os.path.join(HERE, "..", "..", "shared", "peers"))


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = open("/proc/loadavg").read().split()[:3]
    return (f"machine: {model}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
            f"load {' '.join(load)}")


def conn_text(i, auto, left="127.0.0.1", right="127.0.0.2", esp="aes_gcm256"):
    a, b = i % 250 + 1, i // 250 % 250 + 1
    c = i // 62500 + 1
    return (f"conn c{i}\n  ikev2=insist\n  authby=secret\n  left={left}\n  right={right}\n"
            f"  leftid=@c{i}-l\n  rightid=@c{i}-r\n"
            f"  leftsubnet=10.{c}.{a}.{b}/32\n  rightsubnet=10.{c + 100}.{a}.{b}/32\n"
            f"  ike=aes_gcm256-sha2_256-dh31\n  esp={esp}\n" + (f"  auto={auto}\n" if auto else ""))


def secrets_text(n):
    return "".join(f"@c{i}-l @c{i}-r : PSK \"daemon-bench-{i}\"\n" for i in range(n))


def write_atomically(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def stage(directory, n, auto, **kw):
    """A ConfigMap volume of N connections in ..v1, not published yet."""
    configmap_stage(directory, "..v1", {f"c{i}.conf": conn_text(i, auto, **kw) for i in range(n)})


def publish(directory):
    """The cold drop: one atomic rename of the ..data symlink."""
    configmap_publish(directory, "..v1")


def spis(d):
    out = {}
    for c in d.get("/v1/connections")["connections"]:
        out[c["name"]] = sorted((s["spiIn"], s["spiOut"]) for s in c["childSas"])
    return out


class Pair:
    def __init__(self, build, n, west_auto="start", east_auto="add"):
        self.dir = tempfile.mkdtemp(prefix="ipsecd-daemon-bench-")
        self.n = n
        secrets = os.path.join(self.dir, "ipsec.secrets")
        with open(secrets, "w") as f:
            f.write(secrets_text(n))
        os.chmod(secrets, 0o600)
        port = free_udp_port(["127.0.0.1", "127.0.0.2"])
        binary = os.path.join(build, "controller", "ipsecd")
        self.east_dir = os.path.join(self.dir, "east.d")
        self.west_dir = os.path.join(self.dir, "west.d")
        os.mkdir(self.east_dir)
        os.mkdir(self.west_dir)
        stage(self.east_dir, n, east_auto, esp="aes_gcm256,aes_gcm128")
        stage(self.west_dir, n, west_auto)
        common = ["--secrets", secrets, "--log-level", os.environ.get("LOGLEVEL", "warning")]
        self.east = Ipsecd(binary, self.dir, "east", "127.0.0.2", port,
                           common + ["--watch-dir", self.east_dir]).start()
        try:
            self.west = Ipsecd(binary, self.dir, "west", "127.0.0.1", port,
                               common + ["--watch-dir", self.west_dir]).start()
        except Exception:
            self.east.stop()  # never leave a daemon behind
            raise

    def close(self):
        for d in (self.west, self.east):
            try:
                d.stop(timeout=120)
            except Exception as e:  # noqa: BLE001 - report and go on
                print("stopping", d.name, "failed:", e)
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_status(d, predicate, timeout, poll=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = d.get("/v1/status")
        if predicate(s):
            return s
        time.sleep(poll)
    raise RuntimeError(f"{d.name}: timed out; last status {s}\n" + d.log_text()[-3000:])


def converge(build, n, edits):
    p = Pair(build, n)
    try:
        publish(p.east_dir)
        wait_status(p.east, lambda s: s["connections"] == n and s["workQueueDepth"] == 0, 300)
        time.sleep(0.5)
        t0 = time.monotonic()
        publish(p.west_dir)
        wait_status(p.west, lambda s: s["established"] == n, 600, poll=0.02)
        t1 = time.monotonic()
        print(f"converge {n}: all {n} Established {t1 - t0:.2f} s after the drop was published")
        if edits:
            edit(p, n, edits)
        return t1 - t0
    finally:
        p.close()


def edit(p, n, edits):
    times = []
    for e in range(edits):
        k = (e * 7919 + n // 2) % n
        before = spis(p.west)
        path = os.path.join(p.west_dir, f"c{k}.conf")
        write_atomically(path, conn_text(k, "start", esp="aes_gcm128"))
        t0 = time.monotonic()
        while True:
            c = p.west.connection(f"c{k}")
            est = next((x for x in c["conditions"] if x["type"] == "Established"), {})
            if c["observedGeneration"] == 2 and est.get("status") == "True" and c["childSas"]:
                break
            if time.monotonic() - t0 > 30:
                raise RuntimeError(f"c{k} not re-established: {c}")
            time.sleep(0.001)  # polling must not starve the daemon it measures
        t1 = time.monotonic()
        after = spis(p.west)
        touched = [name for name in before if name != f"c{k}" and before[name] != after.get(name)]
        changed = before[f"c{k}"] != after[f"c{k}"]
        times.append(t1 - t0)
        print(f"edit c{k} in {n}: re-established {1000 * (t1 - t0):.1f} ms after the write "
              f"(own SPIs changed: {changed}; other connections whose SAs changed: {len(touched)})")
        if touched or not changed:
            raise RuntimeError(f"edit touched {touched[:5]}")
        # Next round edits another conn; put this one back later is not needed.
    times.sort()
    print(f"edit: median {1000 * times[len(times) // 2]:.1f} ms, max {1000 * times[-1]:.1f} ms "
          f"over {len(times)} edits")


def load_ipsecd(build, n=1000):
    p = Pair(build, n, west_auto="add")
    try:
        t0 = time.monotonic()
        publish(p.west_dir)

        def loaded():
            cs = p.west.get("/v1/connections")["connections"]
            return len(cs) == n and all(
                any(x["type"] == "Loaded" and x["status"] == "True" for x in c["conditions"])
                for c in cs)
        while not loaded():
            time.sleep(0.005)
        t = time.monotonic() - t0
        print(f"load {n} (ipsecd): all Loaded {1000 * t:.0f} ms after the drop was published")
        return t
    finally:
        p.close()


def load_libreswan(n=1000):
    script = os.path.join(PEERS, "libreswan-peer.sh")
    pair = os.path.join(PEERS, "netns-pair.sh")
    if os.geteuid() != 0 or not os.access(script, os.X_OK):
        print("load (libreswan): skipped, needs root and", script)
        return None
    work = tempfile.mkdtemp(prefix="pa-daemon-bench-")
    ns_l, ns_r = f"pa-db{os.getpid() % 10000}l", f"pa-db{os.getpid() % 10000}r"
    try:
        subprocess.run([pair, "up", ns_l, ns_r], check=True, capture_output=True)
        d = os.path.join(work, "l")
        os.mkdir(d)
        with open(os.path.join(d, "ipsec.conf"), "w") as f:
            f.write("config setup\n  logfile=/dev/null\n\n")
            for i in range(n):
                f.write(conn_text(i, None, left="192.0.2.1", right="192.0.2.2") + "\n")
        with open(os.path.join(d, "ipsec.secrets"), "w") as f:
            f.write(secrets_text(n))
        subprocess.run([script, "start", ns_l, d], check=True, capture_output=True)
        root = os.environ.get("LSW_ROOT", "/var/cache/pa-peers/libreswan")
        env = (f"env PATH={root}/usr/sbin:{os.environ['PATH']} IPSEC_EXECDIR={root}/usr/libexec/ipsec "
               f"IPSEC_SBINDIR={root}/usr/sbin IPSEC_CONF={d}/ipsec.conf IPSEC_CONFDDIR={d}/ipsec.d "
               f"IPSEC_RUNDIR={d}/run IPSEC_NSSDIR={d}/nss")
        loop = (f"for i in $(seq 0 {n - 1}); do {env} {root}/usr/sbin/ipsec auto --config {d}/ipsec.conf "
                f"--ctlsocket {d}/run/pluto.ctl --add c$i >/dev/null || exit 1; done")
        t0 = time.monotonic()
        subprocess.run(["ip", "netns", "exec", ns_l, "sh", "-c", loop], check=True)
        t = time.monotonic() - t0
        status = subprocess.run([script, "ipsec", d, "auto", "--status"], capture_output=True, text=True)
        loaded = sum(1 for line in status.stdout.splitlines() if "\": 10." in line and "===" in line)
        print(f"load {n} (libreswan 4.10 `ipsec auto --add` loop into pluto): {t:.2f} s "
              f"({loaded} conns listed by ipsec auto --status)")
        subprocess.run([script, "stop", d], capture_output=True)
        return t
    finally:
        subprocess.run([pair, "down", ns_l, ns_r], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--edits", type=int, default=5)
    ap.add_argument("--no-libreswan", action="store_true")
    args = ap.parse_args()
    print(machine())
    sizes = [int(s) for s in args.sizes.split(",") if s]
    for n in sizes:
        converge(args.build, n, args.edits if n == max(sizes) else 0)
    ours = load_ipsecd(args.build)
    if not args.no_libreswan:
        theirs = load_libreswan()
        if theirs:
            print(f"load 1000: ipsecd is {theirs / ours:.0f}x faster than libreswan's loop "
                  f"(same run)")
    print(machine())


if __name__ == "__main__":
    main()
