// Checks the properties the deployment promises, on a rendered kustomize base,
// overlay or chart: what an operator relies on, beyond schema validity.
// Usage: node policy.mjs FILE...
import { describe, readObjects } from "./objects.mjs";

// The daemon's flags: from its --help when run.sh has the binary
// (IPSECD_DAEMON_FLAGS), else this copy of them.
const daemonFlags = process.env.IPSECD_DAEMON_FLAGS ? process.env.IPSECD_DAEMON_FLAGS.trim().split(/\s+/) : ["config", "watch-dir", "secrets", "ipsecdir", "kernel", "listen", "ike-port", "natt-port",
  "api", "metrics", "health", "state-dir", "log-format", "log-level", "keep-dataplane-on-exit",
  "no-per-connection-metrics", "resync", "debounce"];

function checkDaemonSet(ds, all) {
  const problems = [];
  const expect = (ok, what) => {
    if (!ok) {
      problems.push(what);
    }
  };
  const spec = ds.spec || {};
  const pod = (spec.template || {}).spec || {};
  const containers = pod.containers || [];
  expect(containers.length === 1, "exactly one container");
  const c = containers[0] || {};
  const sc = c.securityContext || {};
  const caps = sc.capabilities || {};
  expect(pod.hostNetwork === true, "hostNetwork: true (IKE and XFRM in the node's network namespace)");
  expect(pod.priorityClassName === "system-node-critical", "priorityClassName system-node-critical");
  expect((pod.tolerations || []).some((t) => t.operator === "Exists" && !t.key && !t.effect), "a toleration of every taint (operator: Exists)");
  expect(JSON.stringify(caps.drop) === '["ALL"]', "capabilities.drop [ALL]");
  expect(JSON.stringify([...(caps.add || [])].sort()) === '["NET_ADMIN","NET_BIND_SERVICE"]', "capabilities.add exactly NET_ADMIN and NET_BIND_SERVICE");
  expect(sc.privileged !== true && sc.allowPrivilegeEscalation === false, "not privileged, no privilege escalation");
  expect(sc.readOnlyRootFilesystem === true, "readOnlyRootFilesystem: true");
  const ru = (spec.updateStrategy || {}).rollingUpdate || {};
  expect((spec.updateStrategy || {}).type === "RollingUpdate" && ru.maxUnavailable === 1, "RollingUpdate with maxUnavailable 1");
  expect(c.livenessProbe?.httpGet?.path === "/healthz", "livenessProbe GET /healthz");
  expect(c.readinessProbe?.httpGet?.path === "/readyz", "readinessProbe GET /readyz");
  for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
    // The probes go to the health listener: the API's need the bearer token.
    expect(!p || p.httpGet?.port === "health", "probes on the health port");
  }
  const res = c.resources || {};
  expect(res.requests?.cpu && res.requests?.memory && res.limits?.memory, "resource requests (cpu, memory) and a memory limit");
  const args = c.args || [];
  const arg = (name) => args.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));
  const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
  const mounts = new Map((c.volumeMounts || []).map((m) => [m.mountPath, m]));
  const volumeAt = (dir) => volumes.get(mounts.get(dir)?.name);
  expect(mounts.size === (c.volumeMounts || []).length && (c.volumeMounts || []).every((m) => !m.subPath), "no subPath mounts (kubelet never updates those)");
  const watch = arg("watch-dir");
  expect(watch.length === 1 && volumeAt(watch[0])?.configMap, "--watch-dir on a ConfigMap volume");
  const cmName = watch.length === 1 ? volumeAt(watch[0])?.configMap?.name : undefined;
  const cm = all.find((o) => o.kind === "ConfigMap" && o.metadata.name === cmName);
  if (cm) {
    for (const key of Object.keys(cm.data || {})) {
      expect(/\.(conf|ya?ml)$/.test(key), `ConfigMap ${cmName} key ${key} ends in .conf or .yaml (others are not read)`);
    }
  }
  const secrets = arg("secrets");
  const secretDir = secrets.length === 1 ? secrets[0].replace(/\/[^/]+$/, "") : "";
  expect(volumeAt(secretDir)?.secret?.defaultMode === 0o400, "--secrets on a Secret volume with mode 0400");
  const state = arg("state-dir");
  const hp = state.length === 1 ? volumeAt(state[0])?.hostPath : undefined;
  expect(hp && hp.path && hp.type === "DirectoryOrCreate", "--state-dir on a hostPath (restarts adopt the kernel state)");
  const unknown = args.filter((a) => !daemonFlags.includes(a.replace(/^--/, "").replace(/=.*/, "")));
  expect(unknown.length === 0, `only the daemon's flags (not ${unknown.join(", ")})`);
  const metrics = arg("metrics");
  expect(metrics.length === 1, "one --metrics");
  if (metrics.length === 1 && metrics[0] !== "off") {
    const metricsPort = Number(metrics[0].split(":").pop());
    expect((c.ports || []).some((p) => p.name === "metrics" && p.containerPort === metricsPort), "a port named metrics equal to --metrics's port");
  } else {
    expect(!(c.ports || []).some((p) => p.name === "metrics"), "no metrics port with --metrics=off");
  }
  const health = arg("health");
  const healthPort = health.length === 1 ? Number(health[0].split(":").pop()) : NaN;
  expect((c.ports || []).some((p) => p.name === "health" && p.containerPort === healthPort), "a port named health equal to --health's port");
  // hostNetwork: the kubelet probes the node's address, never its loopback.
  expect(health.length === 1 && !/^(127\.|\[::1\]|localhost)/.test(health[0]), "--health bound beyond loopback (the kubelet probes the node's address)");
  const api = arg("api");
  expect(api.length === 1 && api[0].startsWith("127.0.0.1:"), "--api on loopback (the node's, with hostNetwork)");
  return problems;
}

let failures = 0;
let daemonSets = 0;
for (const file of process.argv.slice(2)) {
  const { objects, errors } = readObjects(file);
  errors.forEach((e) => {
    console.log(`FAIL ${e}`);
    failures++;
  });
  const all = objects.map((o) => o.obj);
  for (const ds of all.filter((o) => o.kind === "DaemonSet")) {
    daemonSets++;
    for (const p of checkDaemonSet(ds, all)) {
      console.log(`FAIL ${file}: ${describe(ds)}: expected ${p}`);
      failures++;
    }
  }
}
console.log(`${daemonSets} DaemonSets checked: ${failures === 0 ? "all properties hold" : `${failures} failures`}`);
process.exit(failures === 0 && daemonSets > 0 ? 0 : 1);
