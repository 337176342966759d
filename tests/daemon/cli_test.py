#!/usr/bin/env python3
"""ipsec_auto(8) against running ipsecd daemons: every line of the page's
SYNOPSIS and EXAMPLES, each BUGS item fixed, the exit codes and the
libreswan-5 spellings, with the real `ipsec` binary and two real daemons on
loopback (memory kernel). Run by ctest (cli_e2e_test) with IPSECD_BIN and
IPSEC_BIN set."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_test import Pair, conn, secrets_for  # noqa: E402

IPSEC = os.environ.get("IPSEC_BIN", "build/cli/ipsec")

# Exit codes (cli/exit_codes.h, docs/ipsec.8.md).
OK, CONFIG, USAGE, UNKNOWN, UNREACHABLE, FAILED, TIMEOUT = 0, 1, 2, 3, 4, 5, 6


class CliTest(Pair):
    names = Pair.names + ["pass", "nexthop", "lonely"]

    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.dir, "ipsec.conf")
        with open(self.conf, "w") as f:
            f.write(conn("api1", 7, "add") + conn("tunnel-add", 3, "add")
                    + "conn pass\n  left=127.0.0.1\n  right=127.0.0.2\n"
                      "  leftsubnet=198.51.100.128/25\n  rightsubnet=203.0.113.128/25\n"
                      "  type=passthrough\n  auto=route\n"
                    + conn("nexthop", 5, "add", extra="  leftnexthop=%defaultroute\n")
                    + conn("lonely", 6, "add").replace("127.0.0.2", "127.0.0.9"))
        with open(self.secrets, "w") as f:
            f.write(secrets_for(self.names))
        self.ipsecdir = os.path.join(self.dir, "ipsec.d")
        self.make_certs()
        # East knows every conn of the file; west gets them through `ipsec auto --add`.
        with open(self.conf) as f:
            self.write(os.path.join(self.east_dir, "all.conf"), f.read())
        self.west, self.east = self.pair(["--watch-dir", self.west_dir, "--ipsecdir", self.ipsecdir])
        for d in (self.west, self.east):
            d.wait_for(lambda d=d: d.get("/v1/status")["ready"], what="ready")

    def make_certs(self):
        for sub in ("cacerts", "certs", "crls", "private", "acerts", "aacerts", "policies"):
            os.makedirs(os.path.join(self.ipsecdir, sub))
        ca_key = os.path.join(self.dir, "ca.key")
        ca = os.path.join(self.ipsecdir, "cacerts", "ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key, "-out", ca,
                        "-subj", "/CN=ipsecd test CA", "-days", "30"],
                       check=True, capture_output=True)
        shutil.copy(ca, os.path.join(self.ipsecdir, "certs", "ca-copy.pem"))
        with open(os.path.join(self.ipsecdir, "policies", "clear"), "w") as f:
            f.write("# hosts that never need IPsec\n192.0.2.200/32\n")

    def ipsec(self, *args, state_dir=None, env_extra=None):
        env = dict(os.environ)
        env["IPSECD_STATE_DIR"] = state_dir or self.west.state_dir
        env.update(env_extra or {})
        r = subprocess.run([IPSEC] + list(args), capture_output=True, text=True, env=env,
                           timeout=120)
        return r.returncode, r.stdout, r.stderr

    def auto(self, *args, **kw):
        return self.ipsec("auto", "--config", self.conf, *args, **kw)

    def check(self, expected, *args, **kw):
        rc, out, err = self.auto(*args, **kw)
        self.assertEqual(rc, expected, f"ipsec auto {' '.join(args)}\nstdout: {out}\nstderr: {err}")
        return out, err

    # --- SYNOPSIS ------------------------------------------------------------
    def test_synopsis_options_and_operation(self):
        # ipsec auto [--showonly] [--asynchronous] [--config configfile] [--verbose] operation connection
        self.check(OK, "--add", "api1")
        out, err = self.check(OK, "--asynchronous", "--verbose", "--up", "api1")
        self.assertIn("POST", err)  # --verbose shows the API exchange
        self.west.wait_established("api1")
        out, _ = self.check(OK, "--showonly", "--asynchronous", "--verbose", "--down", "api1")
        self.assertIn("POST /v1/connections/api1:down?async=true", out)
        time.sleep(0.3)
        self.assertEqual(self.west.connection("api1")["intent"], "up")  # nothing was sent

    # --- EXAMPLES --------------------------------------------------------------
    def test_examples_add_delete_replace_up_down(self):
        self.check(OK, "--add", "api1")
        self.assertEqual(self.west.connection("api1")["origin"], "api")
        out, err = self.check(FAILED, "--add", "api1")
        self.assertIn("already exists", err)
        self.check(OK, "--up", "api1")
        self.assertEqual(len(self.west.connection("api1")["childSas"]), 1)
        self.check(OK, "--down", "api1")
        self.assertEqual(self.west.connection("api1")["childSas"], [])
        self.check(OK, "--replace", "api1")
        self.assertEqual(self.west.connection("api1")["generation"], 2)
        self.check(OK, "--delete", "api1")
        self.assertNotIn("api1", self.west.connections())
        self.check(UNKNOWN, "--up", "api1")

    def test_examples_status_and_ready(self):
        self.check(OK, "--add", "tunnel-add")
        out, _ = self.check(OK, "--status")
        self.assertIn("tunnel-add", out)
        self.assertIn("Loaded=True", out)
        out, _ = self.check(OK, "--ready")
        rc, out, _ = self.ipsec("status", "--json")
        self.assertEqual(rc, OK)
        data = json.loads(out)
        self.assertIn("tunnel-add", [c["name"] for c in data["connections"]])

    def test_examples_route_unroute(self):
        self.check(OK, "--add", "tunnel-add")
        self.check(OK, "--route", "tunnel-add")
        self.assertEqual(self.west.condition("tunnel-add", "Routed")["status"], "True")
        self.check(OK, "--unroute", "tunnel-add")
        self.assertEqual(self.west.condition("tunnel-add", "Routed")["status"], "False")

    def test_examples_lists_and_rereads(self):
        self.check(OK, "--add", "tunnel-add")
        for op in ("--listall", "--rereadall", "--rereadsecrets", "--listcerts", "--listpubkeys",
                   "--checkpubkeys", "--listcacerts", "--rereadcacerts", "--listcrls",
                   "--rereadcrls", "--listacerts", "--rereadacerts", "--listaacerts",
                   "--rereadaacerts", "--listgroups", "--rereadgroups", "--purgeocsp"):
            for utc in ((), ("--utc",)):
                self.check(OK, *utc, op)
        out, _ = self.check(OK, "--utc", "--listcacerts")
        self.assertIn("ipsecd test CA", out)
        self.assertIn("UTC", out)
        out, _ = self.check(OK, "--listgroups")
        self.assertIn("192.0.2.200/32", out)
        rc, out, _ = self.ipsec("listcacerts", "--json")
        self.assertEqual(rc, OK)
        self.assertEqual(json.loads(out)["items"][0]["isCa"], True)

    # --- BUGS, fixed -------------------------------------------------------------
    def test_bug_down_tears_down_both_ends(self):
        self.check(OK, "--add", "api1")
        self.check(OK, "--up", "api1")
        self.east.wait_established("api1")
        self.check(OK, "--down", "api1")
        self.east.wait_for(lambda: self.east.connection("api1")["childSas"] == [],
                           what="the peer's end torn down too")

    def test_bug_passthrough_connections_work(self):
        self.check(OK, "--add", "pass")
        routed = self.west.wait_for(lambda: self.west.condition("pass", "Routed"), what="Routed")
        self.assertEqual(routed["status"], "True")
        self.assertEqual(routed["reason"], "ShuntInstalled")
        self.assertIn("bypass", routed["message"])

    def test_bug_defaultroute_nexthop_on_one_side_is_accepted(self):
        self.check(OK, "--add", "nexthop")
        self.check(OK, "--up", "nexthop")

    def test_bug_showonly_exit_status_reflects_errors(self):
        _, err = self.check(UNKNOWN, "--showonly", "--add", "no-such-conn")
        self.assertIn("no-such-conn", err)
        bad = os.path.join(self.dir, "bad.conf")
        with open(bad, "w") as f:
            f.write("conn broken\n  left=127.0.0.1\n  rihgt=127.0.0.2\n")
        rc, out, err = self.ipsec("auto", "--showonly", "--config", bad, "--add", "broken")
        self.assertEqual(rc, CONFIG, err)
        self.assertIn("bad.conf:3", err)
        out, _ = self.check(OK, "--showonly", "--add", "api1")
        self.assertIn("POST /v1/connections", out)
        self.assertNotIn("api1", self.west.connections())  # nothing was sent

    # --- exit codes and spellings ---------------------------------------------------
    def test_exit_codes(self):
        self.check(UNKNOWN, "--add", "no-such-conn")
        self.check(USAGE, "--frobnicate")
        rc, _, err = self.auto("--status", state_dir=os.path.join(self.dir, "nowhere"))
        self.assertEqual(rc, UNREACHABLE)
        self.assertIn("nowhere", err)
        # A wrong token is refused and says so.
        wrong = os.path.join(self.dir, "wrong-token")
        os.mkdir(wrong)
        shutil.copy(os.path.join(self.west.state_dir, "api"), wrong)
        with open(os.path.join(wrong, "token"), "w") as f:
            f.write("0" * 64 + "\n")
        os.chmod(os.path.join(wrong, "token"), 0o600)
        rc, _, err = self.auto("--status", state_dir=wrong)
        self.assertEqual(rc, UNREACHABLE)
        self.assertIn("token", err)
        # A peer that never answers: the negotiation outlives the wait.
        self.check(OK, "--add", "lonely")
        _, err = self.check(TIMEOUT, "--timeout", "2", "--up", "lonely")
        # The daemon stopped: unreachable.
        self.west.stop()
        self.check(UNREACHABLE, "--status")

    def test_libreswan5_spellings(self):
        rc, _, err = self.ipsec("add", "--config", self.conf, "api1")
        self.assertEqual(rc, OK, err)
        self.assertEqual(err, "")  # no deprecation warning either way
        rc, _, err = self.ipsec("up", "api1")
        self.assertEqual(rc, OK, err)
        rc, out, _ = self.ipsec("trafficstatus")
        self.assertEqual(rc, OK)
        self.assertRegex(out, r'006 #1: "api1", type=ESP, add_time=\d+, inBytes=0, outBytes=0')
        rc, out, _ = self.ipsec("status")
        self.assertEqual(rc, OK)
        self.assertIn("api1", out)
        for op in ("down", "route", "unroute", "delete"):
            rc, _, err = self.ipsec(op, "api1")
            self.assertEqual(rc, OK, f"ipsec {op}: {err}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
