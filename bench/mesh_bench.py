#!/usr/bin/env python3
"""A full mesh of ipsecd daemons kept up through rekeys: N daemons on loopback
(memory kernel, 127.0.0.101 ..), one connection per pair of nodes defined on
both ends with auto=start (simultaneous initiation), PSK, short lifetimes with
fuzz. The checks are tests/daemon/mesh_test.py's (ctest runs 8 nodes there):
one live IKE SA and one live CHILD SA per connection end at every sample, no
churn, rekey counters, flat memory. Prints the machine, convergence time,
samples, violations, rekeys by kind, RSS and CPU time per daemon, and writes
the same to --out.

  bench/mesh_bench.py [--build DIR] [--nodes 50] [--salifetime 30s] [--ikelifetime 60s]
                      [--rekeymargin 10s] [--rekeyfuzz 100%] [--child-rekeys 3] [--ike-rekeys 1]
                      [--interval 2] [--out FILE] [--keep] [--note TEXT]

Exit status 1 when a check failed (the output says which).
"""

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "daemon"))
sys.path.insert(0, HERE)
from daemon_bench import machine  # noqa: E402
from mesh_test import Lifetimes, Mesh, Run  # noqa: E402


def revision(build):
    """What the daemon was built from: the build's source tree, its commit and
    which folders have uncommitted changes."""
    source = None
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_HOME_DIRECTORY:"):
                    source = line.split("=", 1)[1].strip()
    except FileNotFoundError:
        return f"built in {build} (no CMakeCache.txt)"

    def git(*args):
        r = subprocess.run(["git", "-C", source, *args], capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else None
    head = git("rev-parse", "--show-toplevel")
    if head is None or os.path.realpath(head.strip()) != os.path.realpath(source):
        return f"built from {source} (not a git checkout)"
    changed = sorted({line[3:].split("/")[0] for line in git("status", "--porcelain").splitlines()})
    return f"built from {source} at " + git("rev-parse", "--short", "HEAD").strip() + (
        f" + uncommitted changes in {', '.join(changed)}" if changed else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--salifetime", default="30s")
    ap.add_argument("--ikelifetime", default="60s")
    ap.add_argument("--rekeymargin", default="10s")
    ap.add_argument("--rekeyfuzz", default="100%")
    ap.add_argument("--child-rekeys", type=int, default=3, help="CHILD rekeys per connection to sample through")
    ap.add_argument("--ike-rekeys", type=int, default=1, help="IKE rekeys per connection to sample through")
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between samples")
    ap.add_argument("--rss-growth", type=float, default=0.20,
                    help="bound on each daemon's VmRSS growth after convergence (fraction)")
    ap.add_argument("--rss-flat", type=float, default=0.5,
                    help="bound on the second half's VmRSS growth, as a fraction of the first half's")
    ap.add_argument("--converge-timeout", type=float, default=300)
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "mesh_bench.txt"))
    ap.add_argument("--keep", action="store_true", help="keep the daemons' directory (logs)")
    ap.add_argument("--note", help="a line for the record, e.g. what the build is when it is no git checkout")
    args = ap.parse_args()

    lines = []

    def out(line):
        print(line, flush=True)
        lines.append(line)

    # A SIGTERM unwinds through the finally below: the daemons are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    binary = os.path.join(args.build, "controller", "ipsecd")
    workdir = tempfile.mkdtemp(prefix="ipsecd-mesh-bench-")
    out(machine())
    out(f"ipsecd {revision(args.build)}; {time.strftime('%Y-%m-%d %H:%M:%S %z')}; {binary}")
    if args.note:
        out("note: " + args.note)
    out("command: bench/mesh_bench.py " + shlex.join(sys.argv[1:]))
    run = None
    mesh = None
    t0 = time.monotonic()
    try:
        mesh = Mesh(binary, args.nodes, workdir,
                    Lifetimes(args.salifetime, args.ikelifetime, args.rekeymargin, args.rekeyfuzz),
                    log_level=args.log_level)
        run = Run(mesh, out=out, interval=args.interval, min_child_rekeys=args.child_rekeys,
                  min_ike_rekeys=args.ike_rekeys, rss_growth=args.rss_growth, rss_flat=args.rss_flat,
                  converge_timeout=args.converge_timeout)
        run.run()
    except Exception as e:  # noqa: BLE001 - the record says what broke
        out(f"ABORTED: {type(e).__name__}: {e}")
    finally:
        if mesh is not None:
            t_stop = time.monotonic()
            codes = mesh.close()
            bad = {n: c for n, c in codes.items() if c != 0}
            out(f"stopped {len(codes)} daemons in {time.monotonic() - t_stop:.1f} s"
                + (f"; exit status other than 0: {bad}" if bad else ", every one exited 0"))
        if args.keep:
            out(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    ok = run is not None and not run.failures and "violations" in run.figures
    if run is not None:
        for f in run.failures:
            out("FAILED: " + f)
    out(f"result: {'PASS' if ok else 'FAIL'} in {time.monotonic() - t0:.0f} s")
    out(machine())
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
