#!/usr/bin/env python3
"""ipsecd end to end: two daemons on loopback (memory kernel) driven through
files, signals and the REST API, as an operator would. Run by ctest
(daemon_test) with IPSECD_BIN pointing at the built daemon."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipsecd_harness import (ApiError, Ipsecd, child_spis, configmap_publish,  # noqa: E402
                            configmap_stage, free_udp_port)

BIN = os.environ.get("IPSECD_BIN", "build/controller/ipsecd")
PSK = "@{l} @{r} : PSK \"daemon-test-secret-{l}\"\n"
CONDITION_FIELDS = {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"}


def conn(name, i, auto, local_is_left=True, esp="aes_gcm256", extra=""):
    """conn NAME between 127.0.0.1 (left) and 127.0.0.2, its own ids and subnets."""
    text = (f"conn {name}\n  ikev2=insist\n  authby=secret\n  left=127.0.0.1\n  right=127.0.0.2\n"
            f"  leftid=@{name}-l\n  rightid=@{name}-r\n"
            f"  leftsubnet=198.51.100.{i}/32\n  rightsubnet=203.0.113.{i}/32\n"
            f"  esp={esp}\n  auto={auto}\n")
    return text + extra


def secrets_for(names):
    return "".join(PSK.format(l=n + "-l", r=n + "-r") for n in names)


class Pair(unittest.TestCase):
    """Two daemons: west (127.0.0.1) and east (127.0.0.2), each watching a drop
    directory, sharing one secrets file."""

    names = [f"c{i}" for i in range(1, 8)] + ["tunnel-start", "tunnel-route", "tunnel-add", "api1"]

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ipsecd-daemon-test-")
        self.port = free_udp_port(["127.0.0.1", "127.0.0.2"])
        self.secrets = os.path.join(self.dir, "ipsec.secrets")
        with open(self.secrets, "w") as f:
            f.write(secrets_for(self.names))
        os.chmod(self.secrets, 0o600)
        self.west_dir = os.path.join(self.dir, "west.d")
        self.east_dir = os.path.join(self.dir, "east.d")
        os.mkdir(self.west_dir)
        os.mkdir(self.east_dir)
        self.daemons = []
        # Cleanups run even when setUp fails half way, last registered first:
        # the daemons (the initiator before its peer), then the directory.
        self.addCleanup(self.remove_dir)

    def remove_dir(self):
        if os.environ.get("IPSECD_KEEP_TEST_DIR"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def stop_quietly(d):
        try:
            d.stop()
        except Exception:  # noqa: BLE001 - keep tearing down the others
            pass

    def daemon(self, name, address, args, start=True):
        d = Ipsecd(BIN, self.dir, name, address, self.port, ["--secrets", self.secrets] + args)
        self.daemons.append(d)
        self.addCleanup(self.stop_quietly, d)
        if start:
            d.start()
        return d

    def pair(self, west_args=None, east_args=None):
        east = self.daemon("east", "127.0.0.2", east_args or ["--watch-dir", self.east_dir])
        west = self.daemon("west", "127.0.0.1", west_args or ["--watch-dir", self.west_dir])
        return west, east

    @staticmethod
    def write(path, text):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)


class DaemonTest(Pair):
    def test_config_converges_and_reports_status(self):
        west_conf = os.path.join(self.dir, "west.conf")
        east_conf = os.path.join(self.dir, "east.conf")
        self.write(west_conf, conn("tunnel-start", 1, "start") + conn("tunnel-route", 2, "route")
                   + conn("tunnel-add", 3, "add"))
        self.write(east_conf, conn("tunnel-start", 1, "add") + conn("tunnel-route", 2, "add")
                   + conn("tunnel-add", 3, "add"))
        west, east = self.pair(["--config", west_conf], ["--config", east_conf])
        west.wait_established("tunnel-start")
        status = west.connection("tunnel-start")
        self.assertEqual(status["origin"], "file:" + west_conf)
        self.assertEqual(status["generation"], 1)
        self.assertEqual(status["observedGeneration"], 1)
        self.assertEqual(len(status["ikeSas"]), 1)
        self.assertEqual(status["ikeSas"][0]["state"], "ESTABLISHED")
        self.assertEqual(len(status["childSas"]), 1)
        self.assertEqual(status["childSas"][0]["localTs"], ["198.51.100.1/32"])
        # A fresh tunnel: nothing rekeyed yet.
        self.assertEqual(status["ikeSas"][0]["rekeys"], 0)
        self.assertIn("expiresAt", status["ikeSas"][0])
        self.assertEqual(status["childSas"][0]["rekeys"], 0)
        for cond in status["conditions"]:
            self.assertEqual(set(cond), CONDITION_FIELDS)
            self.assertIn(cond["status"], ("True", "False", "Unknown"))
        self.assertEqual([c["type"] for c in status["conditions"]],
                         ["Loaded", "Routed", "Established", "Ready"])
        routed = west.wait_for(lambda: west.condition("tunnel-route", "Routed"), what="Routed")
        self.assertEqual(routed["status"], "True")
        self.assertEqual(west.condition("tunnel-route", "Established")["reason"], "WaitingForTraffic")
        self.assertEqual(west.condition("tunnel-add", "Ready")["status"], "True")
        self.assertEqual(west.condition("tunnel-add", "Established")["status"], "False")
        # The responder side sees the same CHILD SA, SPIs swapped.
        east.wait_established("tunnel-start")
        e = east.connection("tunnel-start")["childSas"][0]
        w = status["childSas"][0]
        self.assertEqual((e["spiIn"], e["spiOut"]), (w["spiOut"], w["spiIn"]))
        # Daemon-wide status, health and readiness.
        west.wait_for(lambda: west.get("/v1/status")["ready"], what="ready")
        s = west.get("/v1/status")
        self.assertEqual(s["connections"], 3)
        self.assertEqual(s["established"], 1)
        with urllib.request.urlopen(west.health_url() + "/healthz", timeout=5) as r:
            self.assertEqual(r.status, 200)
        with urllib.request.urlopen(west.health_url() + "/readyz", timeout=5) as r:
            self.assertEqual(r.status, 200)
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(west.health_url() + "/v1/status", timeout=5)
        self.assertEqual(refused.exception.code, 404)

    def test_file_drop_add_change_remove(self):
        west, east = self.pair()
        self.write(os.path.join(self.east_dir, "a.conf"), conn("c1", 1, "add", esp="aes_gcm256,aes_gcm128"))
        self.write(os.path.join(self.east_dir, "b.conf"), conn("c2", 2, "add"))
        self.write(os.path.join(self.west_dir, "a.conf"), conn("c1", 1, "start"))
        self.write(os.path.join(self.west_dir, "b.conf"), conn("c2", 2, "start"))
        west.wait_established("c1")
        west.wait_established("c2")
        before_c2 = child_spis(west.connection("c2"))
        before_c1 = child_spis(west.connection("c1"))
        # Change c1: a new generation, new SAs; c2 untouched.
        self.write(os.path.join(self.west_dir, "a.conf"), conn("c1", 1, "start", esp="aes_gcm128"))
        west.wait_for(lambda: west.connection("c1")["generation"] == 2, what="generation 2")
        west.wait_for(lambda: (west.connection("c1")["childSas"] or [{}])[0].get("encryption")
                      == "AES_GCM_16_128", what="c1 re-established with AES_GCM_16_128")
        self.assertNotEqual(child_spis(west.connection("c1")), before_c1)
        self.assertEqual(child_spis(west.connection("c2")), before_c2)
        self.assertEqual(west.connection("c1")["observedGeneration"], 2)
        # Remove c1: gone here, and the peer was told.
        os.unlink(os.path.join(self.west_dir, "a.conf"))
        west.wait_for(lambda: "c1" not in west.connections(), what="c1 removed")
        east.wait_for(lambda: east.connection("c1")["childSas"] == [], what="east's c1 SAs deleted")
        self.assertEqual(child_spis(west.connection("c2")), before_c2)
        with self.assertRaises(ApiError) as missing:
            west.connection("c1")
        self.assertEqual(missing.exception.status, 404)

    def test_configmap_symlink_swap(self):
        # The layout kubelet gives a ConfigMap volume.
        def publish(version, text):
            ts = f"..2026_11_27_{version}"
            configmap_stage(self.west_dir, ts, {"tunnels.conf": text})
            configmap_publish(self.west_dir, ts)

        self.write(os.path.join(self.east_dir, "e.conf"),
                   conn("c3", 3, "add", esp="aes_gcm256,aes_gcm128") + conn("c4", 4, "add"))
        publish(1, conn("c3", 3, "start"))
        west, east = self.pair()
        west.wait_established("c3")
        publish(2, conn("c3", 3, "start", esp="aes_gcm128") + conn("c4", 4, "start"))
        west.wait_established("c4")
        west.wait_for(lambda: west.connection("c3")["generation"] == 2, what="c3 generation 2")
        west.wait_established("c3")

    def test_bad_drop_keeps_last_good_state(self):
        west, east = self.pair()
        self.write(os.path.join(self.east_dir, "a.conf"), conn("c1", 1, "add"))
        self.write(os.path.join(self.west_dir, "a.conf"), conn("c1", 1, "start"))
        west.wait_established("c1")
        spis = child_spis(west.connection("c1"))
        def failures():
            m = re.search(r'ipsec_config_reloads_total\{result="failure"\} (\d+)', west.metrics())
            return int(m.group(1)) if m else 0

        for broken in ("conn c1\n  left=127.0.0.1\n  rihgt=127.0.0.2\n",      # unknown keyword
                       "conn c1\n  left=127.0.0.1\n  right=not-an-address!\n"):  # bad value
            before = failures()
            self.write(os.path.join(self.west_dir, "a.conf"), broken)
            west.wait_for(lambda: failures() > before, what="the drop to be rejected")
            errors = sum((s["errors"] for s in west.get("/v1/status")["sources"]), [])
            self.assertTrue(errors)
            self.assertIn("a.conf", " ".join(errors))
            self.assertEqual(child_spis(west.connection("c1")), spis)
            self.assertEqual(west.connection("c1")["generation"], 1)
        # Valid, but no secret for its ids: the new generation fails and says why.
        self.write(os.path.join(self.west_dir, "a.conf"),
                   "conn c1\n  ikev2=insist\n  authby=secret\n  left=127.0.0.1\n  right=127.0.0.2\n"
                   "  leftid=@nosecret-l\n  rightid=@nosecret-r\n  auto=start\n")
        west.wait_for(lambda: "PSK" in west.connection("c1")["lastError"], what="missing secret error")

    def test_sighup_rereads_config(self):
        west_conf = os.path.join(self.dir, "west.conf")
        self.write(os.path.join(self.east_dir, "e.conf"), conn("c5", 5, "add") + conn("c6", 6, "add"))
        self.write(west_conf, conn("c5", 5, "start"))
        # A debounce of a minute: only SIGHUP can make the change visible in time.
        west, east = self.pair(["--config", west_conf, "--debounce", "60000"])
        west.wait_established("c5")
        self.write(west_conf, conn("c5", 5, "start") + conn("c6", 6, "start"))
        time.sleep(0.3)
        self.assertNotIn("c6", west.connections())
        west.signal(signal.SIGHUP)
        west.wait_established("c6")

    def test_restart_after_kill9_restores_intents_and_converges(self):
        self.write(os.path.join(self.east_dir, "e.conf"),
                   conn("tunnel-start", 1, "add") + conn("tunnel-add", 3, "add"))
        self.write(os.path.join(self.west_dir, "w.conf"),
                   conn("tunnel-start", 1, "start") + conn("tunnel-add", 3, "add"))
        west, east = self.pair()
        west.wait_established("tunnel-start")
        west.request("POST", "/v1/connections/tunnel-add:route")
        self.assertEqual(west.condition("tunnel-add", "Routed")["status"], "True")
        west.kill9()
        west.start()
        west.wait_established("tunnel-start")
        self.assertEqual(west.connection("tunnel-add")["intent"], "route")
        west.wait_for(lambda: (west.condition("tunnel-add", "Routed") or {}).get("status") == "True",
                      what="tunnel-add routed again")
        status = west.connection("tunnel-start")
        self.assertEqual(len(status["ikeSas"]), 1)
        self.assertEqual(len(status["childSas"]), 1)

    def test_api_operations_and_token(self):
        west, east = self.pair()
        spec_w = conn("api1", 7, "add")
        spec_e = conn("api1", 7, "add")
        code, body = east.request("POST", "/v1/connections", spec_e)
        self.assertEqual(code, 201)
        code, body = west.request("POST", "/v1/connections", spec_w)
        self.assertEqual(body["origin"], "api")
        with self.assertRaises(ApiError) as dup:
            west.request("POST", "/v1/connections", spec_w)
        self.assertEqual(dup.exception.status, 409)
        # up waits for the outcome.
        code, body = west.request("POST", "/v1/connections/api1:up")
        self.assertTrue(body["completed"])
        self.assertEqual(len(body["connection"]["childSas"]), 1)
        east.wait_established("api1")
        self.assertEqual(east.connection("api1")["childSas"][0]["spiIn"],
                         body["connection"]["childSas"][0]["spiOut"])
        # down deletes, and the peer hears it.
        code, body = west.request("POST", "/v1/connections/api1:down")
        self.assertTrue(body["completed"])
        self.assertEqual(west.connection("api1")["childSas"], [])
        east.wait_for(lambda: east.connection("api1")["childSas"] == [], what="east's SA deleted")
        # route and unroute.
        code, body = west.request("POST", "/v1/connections/api1:route")
        self.assertEqual(west.condition("api1", "Routed")["status"], "True")
        code, body = west.request("POST", "/v1/connections/api1:unroute")
        self.assertEqual(west.condition("api1", "Routed")["status"], "False")
        # Replace: a new generation.
        code, body = west.request("PUT", "/v1/connections/api1", conn("api1", 7, "start"))
        west.wait_established("api1")
        self.assertEqual(west.connection("api1")["generation"], 2)
        # async intents return at once.
        code, body = west.request("POST", "/v1/connections/api1:down?async=true")
        self.assertEqual(code, 202)
        self.assertFalse(body["completed"])
        # A wrong token changes nothing.
        with self.assertRaises(ApiError) as refused:
            west.request("DELETE", "/v1/connections/api1", token="0" * 64)
        self.assertEqual(refused.exception.status, 401)
        self.assertIn("api1", west.connections())
        with self.assertRaises(ApiError) as unknown:
            west.request("POST", "/v1/connections/nope:up")
        self.assertEqual(unknown.exception.status, 404)
        code, body = west.request("DELETE", "/v1/connections/api1")
        self.assertNotIn("api1", west.connections())
        # A file-defined connection cannot be deleted through the API.
        self.write(os.path.join(self.west_dir, "f.conf"), conn("c7", 7, "add"))
        west.wait_for(lambda: "c7" in west.connections(), what="c7 loaded")
        with self.assertRaises(ApiError) as conflict:
            west.request("DELETE", "/v1/connections/c7")
        self.assertEqual(conflict.exception.status, 409)
        self.assertIn("is defined by dir:", conflict.exception.body["error"]["message"])
        self.assertIn("; remove it from that file", conflict.exception.body["error"]["message"])
        # Nor replaced.
        with self.assertRaises(ApiError) as replaced:
            west.request("PUT", "/v1/connections/c7", conn("c7", 7, "start"))
        self.assertEqual(replaced.exception.status, 409)
        self.assertIn("; edit that file instead", replaced.exception.body["error"]["message"])
        self.assertEqual(west.connection("c7")["auto"], "add")
        # Secrets reload.
        code, body = west.request("POST", "/v1/secrets:reload")
        self.assertEqual(body["secrets"], len(self.names))

    def test_sigterm_deletes_and_tells_the_peer(self):
        self.write(os.path.join(self.east_dir, "e.conf"), conn("c1", 1, "add"))
        self.write(os.path.join(self.west_dir, "w.conf"), conn("c1", 1, "start"))
        west, east = self.pair()
        west.wait_established("c1")
        east.wait_established("c1")
        self.assertEqual(west.stop(), 0)
        east.wait_for(lambda: east.connection("c1")["childSas"] == [], what="east's SA deleted")
        self.assertFalse(os.path.exists(os.path.join(west.state_dir, "api")))
        self.assertFalse(os.path.exists(os.path.join(west.state_dir, "token")))
        self.assertIn("stopped", west.log_text())

    def test_metrics_families_and_promtool(self):
        self.write(os.path.join(self.east_dir, "e.conf"), conn("c1", 1, "add"))
        self.write(os.path.join(self.west_dir, "w.conf"), conn("c1", 1, "start") + conn("c2", 2, "route"))
        west, east = self.pair()
        west.wait_established("c1")
        # Levels are refreshed every 5 s.
        west.wait_for(lambda: 'ipsec_connections{state="established"} 1' in west.metrics(),
                      timeout=15, what="established gauge")
        text = west.metrics()
        for family in ("ipsec_connections", "ipsec_ike_sas", "ipsec_child_sas",
                       "ipsec_ike_sa_established_total", "ipsec_ike_sa_failures_total",
                       "ipsec_child_sa_bytes_total", "ipsec_rekeys_total",
                       "ipsec_config_reloads_total", "ipsec_config_last_reload_success_timestamp_seconds",
                       "ipsec_reconcile_total", "ipsec_reconcile_errors_total",
                       "ipsec_reconcile_duration_seconds", "ipsec_work_queue_depth",
                       "ipsec_ike_handshake_duration_seconds", "ipsec_sa_limit_refusals_total",
                       "ipsec_dead_peers_total"):
            self.assertIn("# TYPE " + family, text)
        self.assertIn('ipsec_connections{state="routed"} 1', text)
        self.assertIn('ipsec_rekeys_total{kind="child",result="failure"} 0', text)
        self.assertIn('ipsec_dead_peers_total{action="clear"} 0', text)
        self.assertRegex(text, r"ipsec_ike_sa_established_total [1-9]")
        promtool = shutil.which("promtool")
        if promtool is None:
            self.skipTest("promtool is not installed (Debian package prometheus); "
                          "scripts/deps.sh test installs it")
        check = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout.decode() + check.stderr.decode())

    def test_child_rekey_is_counted_logged_and_shown(self):
        # A 12 s CHILD SA lifetime: the ends rekey between 6 and 9 s in.
        extra = "  ipsec-lifetime=12s\n"
        self.write(os.path.join(self.east_dir, "e.conf"), conn("c1", 1, "add", extra=extra))
        self.write(os.path.join(self.west_dir, "w.conf"), conn("c1", 1, "start", extra=extra))
        west, east = self.pair()
        west.wait_established("c1")
        first = west.connection("c1")["childSas"][0]["spiIn"]
        success = re.compile(r'^ipsec_rekeys_total\{kind="child",result="success"\} [1-9]', re.M)
        rekeyed = west.wait_for(lambda: next((d for d in (west, east) if success.search(d.metrics())),
                                             None), timeout=30, what="a counted CHILD SA rekey")
        self.assertRegex(rekeyed.log_text(),
                         r"c1: rekeyed child SA 0x[0-9a-f]{8}/0x[0-9a-f]{8} -> 0x[0-9a-f]{8}/0x[0-9a-f]{8}")
        self.assertIn('ipsec_rekeys_total{kind="child",result="failure"} 0', rekeyed.metrics())
        # The connection stayed up: no CHILD SA went down, the new one shows its count.
        status = west.wait_for(lambda: (lambda c: c if any(x["rekeys"] >= 1 for x in c["childSas"])
                                        else None)(west.connection("c1")),
                               what="a CHILD SA with rekeys >= 1")
        self.assertNotIn(first, [x["spiIn"] for x in status["childSas"] if x["state"] == "INSTALLED"])
        self.assertEqual(west.condition("c1", "Established")["status"], "True")
        self.assertNotIn("child-down", west.log_text() + east.log_text())

    def test_prometheus_server_scrapes(self):
        prometheus = shutil.which("prometheus")
        if prometheus is None:
            self.skipTest("the prometheus server is not installed (Debian package prometheus); "
                          "scripts/deps.sh test installs it")
        self.write(os.path.join(self.east_dir, "e.conf"), conn("c1", 1, "add"))
        self.write(os.path.join(self.west_dir, "w.conf"), conn("c1", 1, "start"))
        west, east = self.pair()
        west.wait_established("c1")
        target = west.metrics_url().split("//")[1].split("/")[0]
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        web_port = s.getsockname()[1]
        s.close()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ipsecd\n"
                    f"    static_configs:\n      - targets: ['{target}']\n")
        log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        proc = subprocess.Popen([prometheus, "--config.file", config,
                                 "--storage.tsdb.path", os.path.join(self.dir, "tsdb"),
                                 "--web.listen-address", f"127.0.0.1:{web_port}"],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            query = (f"http://127.0.0.1:{web_port}/api/v1/query?query="
                     "ipsec_connections%7Bstate%3D%22established%22%7D")

            def established():
                try:
                    with urllib.request.urlopen(query, timeout=5) as r:
                        data = json.loads(r.read())
                        result = data["data"]["result"]
                        return result and result[0]["value"][1] == "1"
                except (urllib.error.URLError, ConnectionError, KeyError, ValueError):
                    return False
            west.wait_for(established, timeout=60, what="prometheus to report 1 established connection")
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/v1/targets", timeout=5) as r:
                self.assertIn('"health":"up"', r.read().decode())
        finally:
            proc.terminate()
            proc.wait(30)
            log.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
