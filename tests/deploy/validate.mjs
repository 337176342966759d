// Validates rendered Kubernetes manifests:
//  1. each object against the Kubernetes OpenAPI schema of its apiVersion/kind
//     (npm kubernetes-models, @kubernetes-models/prometheus-operator);
//  2. strictly: no field the schema does not know. The schemas allow unknown
//     fields, so each object is also type-checked by tsc as a literal of the
//     package's interface type, which rejects excess properties (typos such as
//     imagePulPolicy) at any depth.
// Usage: node validate.mjs [--self-test] FILE...
// --self-test also feeds known-bad variants of the first DaemonSet and fails
// unless each is rejected, so a checker that lets everything pass is caught.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, readObjects, toolPath, toolsDir } from "./objects.mjs";

// apiVersion -> [npm package, module folder]; core is "v1".
function modelModule(apiVersion) {
  if (apiVersion === "monitoring.coreos.com/v1") {
    return ["@kubernetes-models/prometheus-operator", "monitoring.coreos.com/v1"];
  }
  return ["kubernetes-models", apiVersion];
}

async function schemaErrors(obj) {
  if (typeof obj !== "object" || Array.isArray(obj)) {
    return ["document is not a mapping"];
  }
  const errs = [];
  for (const f of ["apiVersion", "kind"]) {
    if (typeof obj[f] !== "string" || obj[f] === "") {
      errs.push(`${f} is missing; every object needs apiVersion and kind`);
    }
  }
  if (!obj.metadata || typeof obj.metadata.name !== "string" || obj.metadata.name === "") {
    errs.push("metadata.name is missing");
  }
  if (errs.length > 0) {
    return errs;
  }
  if (obj.apiVersion === "v1" && obj.kind === "Secret" && obj.data) {
    // kustomize wraps long base64 values; the API server's decoder skips newlines.
    obj = { ...obj, data: Object.fromEntries(Object.entries(obj.data).map(([k, v]) => [k, String(v).replace(/\n/g, "")])) };
  }
  const [pkg, folder] = modelModule(obj.apiVersion);
  let mod;
  try {
    mod = await import(pathToFileURL(toolPath(pkg, folder, `${obj.kind}.js`)).href);
  } catch {
    return [`no schema for ${obj.apiVersion} ${obj.kind} in ${pkg}: unknown apiVersion or kind`];
  }
  try {
    new mod[obj.kind](obj).validate();
  } catch (e) {
    return [`schema: ${e.message}`];
  }
  return [];
}

// One tsc run over all objects; returns a list of messages per entry index.
function strictErrors(entries) {
  const work = mkdtempSync(join(toolsDir, "strict-"));
  try {
    const lines = [];
    const ranges = [];
    entries.forEach((e, i) => {
      const [pkg, folder] = modelModule(e.obj.apiVersion);
      lines.push(`import type { I${e.obj.kind} as T${i} } from "${pkg}/${folder}/${e.obj.kind}";`);
    });
    entries.forEach((e, i) => {
      const start = lines.length + 1;
      const body = JSON.stringify(e.obj, null, 2).split("\n");
      lines.push(`export const o${i}: T${i} = ${body[0]}`, ...body.slice(1));
      ranges.push([start, lines.length]);
    });
    writeFileSync(join(work, "check.ts"), lines.join("\n") + "\n");
    writeFileSync(join(work, "package.json"), JSON.stringify({ type: "module" }));
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        skipLibCheck: true,
        types: [],
      },
      files: ["check.ts"],
    };
    writeFileSync(join(work, "tsconfig.json"), JSON.stringify(tsconfig));
    let output = "";
    try {
      execFileSync(process.execPath, [toolPath("typescript", "bin", "tsc"), "-p", work, "--pretty", "false"], {
        cwd: work,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (e) {
      output = `${e.stdout || ""}${e.stderr || ""}`;
      if (output.trim() === "") {
        throw new Error(`tsc failed without output: ${e.message}`);
      }
    }
    const perEntry = entries.map(() => []);
    let last = null;
    for (const line of output.split("\n")) {
      const m = /^check\.ts\((\d+),\d+\): error (TS\d+: .*)$/.exec(line.trim());
      if (!m) {
        // An indented line elaborates the error before it.
        if (/^\s+\S/.test(line) && last) {
          last.push(`${last.pop()} ${line.trim()}`);
        } else if (line.trim() !== "") {
          throw new Error(`unexpected tsc output: ${line}`);
        }
        continue;
      }
      const n = Number(m[1]);
      const i = ranges.findIndex(([a, b]) => n >= a && n <= b);
      if (i < 0) {
        throw new Error(`tsc error outside any object (bad import?): ${line}`);
      }
      perEntry[i].push(`strict: ${m[2]}`);
      last = perEntry[i];
    }
    return perEntry;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function badVariants(ds) {
  const clone = () => structuredClone(ds.obj);
  const typo = clone();
  typo.spec.template.spec.containers[0].imagePulPolicy = "IfNotPresent";
  const missing = clone();
  delete missing.spec.template.spec.containers[0].name;
  const wrongType = clone();
  wrongType.spec.template.spec.hostNetwork = "yes";
  const nestedTypo = clone();
  nestedTypo.spec.template.spec.containers[0].securityContext.capabilities.adds = ["NET_RAW"];
  return [
    ["a misspelt container field (imagePulPolicy)", typo],
    ["a container without its required name", missing],
    ["hostNetwork given as a string", wrongType],
    ["a misspelt nested field (capabilities.adds)", nestedTypo],
  ].map(([what, obj]) => ({ file: `self-test: ${what}`, index: 0, obj, selfTest: true }));
}

async function main() {
  const args = process.argv.slice(2);
  const selfTest = args[0] === "--self-test";
  const files = selfTest ? args.slice(1) : args;
  if (files.length === 0) {
    console.error("usage: node validate.mjs [--self-test] FILE...");
    process.exit(2);
  }
  let failures = 0;
  const entries = [];
  for (const file of files) {
    const { objects, errors } = readObjects(file);
    for (const e of errors) {
      console.log(`FAIL ${e}`);
      failures++;
    }
    if (objects.length === 0) {
      console.log(`FAIL ${file}: no objects`);
      failures++;
    }
    entries.push(...objects);
  }
  if (selfTest) {
    const ds = entries.find((e) => e.obj.kind === "DaemonSet");
    if (!ds) {
      console.log("FAIL self-test needs a DaemonSet among the inputs");
      process.exit(1);
    }
    entries.push(...badVariants(ds));
  }
  const schema = [];
  for (const e of entries) {
    schema.push(await schemaErrors(e.obj));
  }
  // Only objects with a known schema go to tsc (an unknown kind has no type).
  const typed = entries.map((e, i) => i).filter((i) => !schema[i].some((m) => m.startsWith("no schema") || m.endsWith("missing; every object needs apiVersion and kind")));
  const strict = strictErrors(typed.map((i) => entries[i]));
  const all = entries.map((e, i) => [...schema[i], ...(typed.includes(i) ? strict[typed.indexOf(i)] : [])]);
  let checked = 0;
  entries.forEach((e, i) => {
    if (e.selfTest) {
      if (all[i].length === 0) {
        console.log(`FAIL ${e.file}: accepted, the checker must reject it`);
        failures++;
      } else {
        console.log(`ok   ${e.file}: rejected (${all[i][0]})`);
      }
      return;
    }
    checked++;
    if (all[i].length > 0) {
      failures++;
      for (const m of all[i]) {
        console.log(`FAIL ${e.file}: ${describe(e.obj)}: ${m}`);
      }
    }
  });
  console.log(`${checked} objects in ${files.length} files: ${failures === 0 ? "all valid" : `${failures} failures`}`);
  process.exit(failures === 0 ? 0 : 1);
}

await main();
