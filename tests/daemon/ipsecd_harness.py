"""Runs ipsecd processes on loopback for tests and benchmarks: two daemons
(memory kernel) on 127.0.0.1 and 127.0.0.2 sharing an IKE port, each with its
own state dir, spoken to through the REST API with the token it wrote."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


def free_udp_port(addresses):
    """A port free for UDP on every address, and the next one too (NAT-T)."""
    for _ in range(200):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((addresses[0], 0))
        port = probe.getsockname()[1]
        probe.close()
        if port > 65000:
            continue
        ok = True
        for addr in addresses:
            for p in (port, port + 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    s.bind((addr, p))
                except OSError:
                    ok = False
                finally:
                    s.close()
        if ok:
            return port
    raise RuntimeError("no free UDP port pair on " + ", ".join(addresses))


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class Ipsecd:
    def __init__(self, binary, workdir, name, address, ike_port, args, env=None):
        self.binary = binary
        self.name = name
        self.address = address
        self.ike_port = ike_port
        self.state_dir = os.path.join(workdir, name + "-state")
        self.log_path = os.path.join(workdir, name + ".log")
        self.args = args
        self.env = env
        self.proc = None

    def start(self, extra=(), wait=True):
        cmd = [self.binary, "--kernel", "memory", "--listen", self.address,
               "--ike-port", str(self.ike_port), "--natt-port", str(self.ike_port + 1),
               "--state-dir", self.state_dir, "--metrics", "127.0.0.1:0",
               "--health", "127.0.0.1:0"] + list(self.args) + list(extra)
        self.log = open(self.log_path, "ab")
        # A stale api file from a killed run must not be mistaken for this one's.
        for f in ("api", "token"):
            try:
                os.unlink(os.path.join(self.state_dir, f))
            except FileNotFoundError:
                pass
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        if wait:
            self.wait_api()
        return self

    def wait_api(self, timeout=20):
        deadline = time.monotonic() + timeout
        api = os.path.join(self.state_dir, "api")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n" + self.log_text())
            if os.path.exists(api):
                with open(api) as f:
                    self.url = f.read().strip()
                with open(os.path.join(self.state_dir, "token")) as f:
                    self.token = f.read().strip()
                return
            time.sleep(0.02)
        raise RuntimeError(f"{self.name}: no API address after {timeout} s:\n" + self.log_text())

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def request(self, method, path, body=None, token=None, content_type="text/plain"):
        data = None
        headers = {"Authorization": "Bearer " + (self.token if token is None else token)}
        if body is not None:
            data = body.encode() if isinstance(body, str) else body
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                text = r.read().decode()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            raise ApiError(e.code, json.loads(text) if text.startswith("{") else text) from None

    def get(self, path):
        return self.request("GET", path)[1]

    def connection(self, name):
        return self.get("/v1/connections/" + name)

    def connections(self):
        return {c["name"]: c for c in self.get("/v1/connections")["connections"]}

    def condition(self, name, ctype):
        try:
            c = self.connection(name)
        except ApiError:
            return None
        for cond in c["conditions"]:
            if cond["type"] == ctype:
                return cond
        return None

    def wait_for(self, predicate, timeout=20, what="condition"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.02)
        raise AssertionError(f"{self.name}: timed out waiting for {what} (last: {last})\n"
                             + self.log_text()[-4000:])

    def wait_established(self, name, timeout=20):
        return self.wait_for(lambda: (self.condition(name, "Established") or {}).get("status") == "True",
                             timeout, f"{name} Established")

    def metrics_url(self):
        for line in self.log_text().splitlines():
            if "serving /metrics on " in line:
                url = line.split("serving /metrics on ")[1].strip()
        return url + "/metrics"

    def health_url(self):
        for line in self.log_text().splitlines():
            if "/healthz and /readyz on " in line:
                url = line.split("/healthz and /readyz on ")[1].strip()
        return url

    def metrics(self):
        with urllib.request.urlopen(self.metrics_url(), timeout=10) as r:
            return r.read().decode()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            self.close_log()
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self.close_log()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.close_log()

    def close_log(self):
        if getattr(self, "log", None) is not None:
            self.log.close()
            self.log = None

    def status_kib(self, field):
        """A memory figure of /proc/PID/status (VmRSS, RssAnon, VmHWM, ...), in KiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"{self.name}: no {field} in /proc/{self.proc.pid}/status")

    def rss_kib(self):
        """The process's resident set (VmRSS), in KiB."""
        return self.status_kib("VmRSS")

    def cpu_seconds(self):
        """User + system CPU time the process has used so far (/proc/PID/stat)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_size(self):
        """How far the log has been written: an offset for log_since()."""
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_since(self, offset):
        """The log's lines written after `offset` (from log_size())."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace").splitlines()
        except FileNotFoundError:
            return []


def stop_all(daemons, timeout=30):
    """Stops many daemons at once: SIGTERM to every running one first, then
    waits for each (SIGKILL past `timeout`), so no daemon waits out its peers'
    answers after they are gone. Returns {name: exit status}."""
    for d in daemons:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    codes = {}
    for d in daemons:
        if d.proc is None:
            continue
        try:
            codes[d.name] = d.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            d.proc.kill()
            codes[d.name] = d.proc.wait()
        finally:
            d.close_log()
    return codes


def metric_value(text, name, **labels):
    """The sum of the samples of metric `name` in a Prometheus text exposition
    whose labels include `labels` (0 when there is none)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        series, _, rest = head.partition("{")
        if series != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


def configmap_stage(directory, version, files):
    """Lays out one version of a ConfigMap volume as kubelet's AtomicWriter does:
    FILES ({key: text}) in DIRECTORY/VERSION (a name starting "..") and a
    symlink KEY -> ..data/KEY for each key not linked yet. Nothing of it is
    visible to the daemon until configmap_publish points ..data there (until
    then the links dangle, which the daemon skips)."""
    os.mkdir(os.path.join(directory, version))
    for key, text in files.items():
        with open(os.path.join(directory, version, key), "w") as f:
            f.write(text)
        link = os.path.join(directory, key)
        if not os.path.islink(link):
            os.symlink(f"..data/{key}", link)


def configmap_publish(directory, version):
    """kubelet's swap: a fresh ..data_tmp symlink to VERSION renamed over ..data
    in one atomic step."""
    tmp = os.path.join(directory, "..data_tmp")
    os.symlink(version, tmp)
    os.rename(tmp, os.path.join(directory, "..data"))


def child_spis(status):
    return sorted((c["spiIn"], c["spiOut"]) for c in status["childSas"])
