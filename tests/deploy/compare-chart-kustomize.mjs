// Compares the chart rendered with default values to the kustomize base:
// same objects (apiVersion, kind, namespace, name) with the same fields and
// values. Differences allowed, and only these:
//  - the base's Namespace: a chart installs into its release namespace
//    (`helm install --namespace ipsecd --create-namespace`);
//  - the labels Helm adds to an object's own metadata for its bookkeeping,
//    helm.sh/chart and app.kubernetes.io/managed-by.
// Usage: node compare-chart-kustomize.mjs KUSTOMIZE_BASE.yaml HELM_TEMPLATE.yaml
import { isDeepStrictEqual } from "node:util";
import { describe, readObjects } from "./objects.mjs";

const helmOnlyLabels = ["helm.sh/chart", "app.kubernetes.io/managed-by"];

function load(file) {
  const { objects, errors } = readObjects(file);
  if (errors.length > 0) {
    for (const e of errors) {
      console.log(`FAIL ${e}`);
    }
    process.exit(1);
  }
  const byKey = new Map();
  for (const { obj } of objects) {
    const key = describe(obj);
    if (byKey.has(key)) {
      console.log(`FAIL ${file}: ${key} appears twice`);
      process.exit(1);
    }
    byKey.set(key, obj);
  }
  return byKey;
}

// Paths where a and b differ, as "spec.template.spec.containers[0].image: A != B".
function differences(a, b, path = "") {
  if (isDeepStrictEqual(a, b)) {
    return [];
  }
  const isObj = (v) => v !== null && typeof v === "object";
  if (Array.isArray(a) && Array.isArray(b)) {
    const out = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      out.push(...differences(a[i], b[i], `${path}[${i}]`));
    }
    return out;
  }
  if (isObj(a) && isObj(b) && !Array.isArray(a) && !Array.isArray(b)) {
    const out = [];
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      out.push(...differences(a[k], b[k], path ? `${path}.${k}` : k));
    }
    return out;
  }
  const show = (v) => (v === undefined ? "(absent)" : JSON.stringify(v));
  return [`${path}: kustomize ${show(a)} != chart ${show(b)}`];
}

const [baseFile, chartFile] = process.argv.slice(2);
if (!baseFile || !chartFile) {
  console.error("usage: node compare-chart-kustomize.mjs KUSTOMIZE_BASE.yaml HELM_TEMPLATE.yaml");
  process.exit(2);
}
const base = load(baseFile);
const chart = load(chartFile);
for (const [key, obj] of base) {
  if (obj.apiVersion === "v1" && obj.kind === "Namespace") {
    base.delete(key);
  }
}
for (const obj of chart.values()) {
  const labels = obj.metadata && obj.metadata.labels;
  for (const l of helmOnlyLabels) {
    if (labels && l in labels) {
      delete labels[l];
    } else {
      console.log(`FAIL chart: ${describe(obj)} lacks Helm's label ${l}`);
      process.exitCode = 1;
    }
  }
}
let failures = 0;
for (const key of new Set([...base.keys(), ...chart.keys()])) {
  if (!chart.has(key)) {
    console.log(`FAIL ${key}: in the kustomize base, not in the chart`);
    failures++;
  } else if (!base.has(key)) {
    console.log(`FAIL ${key}: in the chart, not in the kustomize base`);
    failures++;
  } else {
    for (const d of differences(base.get(key), chart.get(key))) {
      console.log(`FAIL ${key}: ${d}`);
      failures++;
    }
  }
}
console.log(`${base.size} objects compared (base less its Namespace): ${failures === 0 ? "chart equals kustomize base" : `${failures} differences`}`);
process.exit(failures === 0 && !process.exitCode ? 0 : 1);
