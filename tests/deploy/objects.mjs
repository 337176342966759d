// Shared by validate.mjs and compare-chart-kustomize.mjs: the tool cache and
// reading rendered manifests (multi-document YAML) into objects.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

// npm packages live outside the repository, in the cache run.sh fills.
export const toolsDir = process.env.IPSECD_TOOLS_DIR || "/tmp/ipsecd-tools";
const requireFromTools = createRequire(join(toolsDir, "node_modules", "_"));

export function toolPath(...parts) {
  return join(toolsDir, "node_modules", ...parts);
}

// Every document of FILE as { file, index, obj }; empty documents are skipped.
// Duplicate keys and YAML errors are reported, never silently merged.
export function readObjects(file) {
  const YAML = requireFromTools("yaml");
  const text = readFileSync(file, "utf8");
  // YAML 1.1, as kubectl and the API server read it: 0400 is octal (256), yes is true.
  const docs = YAML.parseAllDocuments(text, { version: "1.1", uniqueKeys: true, prettyErrors: true });
  const out = [];
  const errors = [];
  docs.forEach((doc, index) => {
    for (const e of [...doc.errors, ...doc.warnings]) {
      errors.push(`${file}: document ${index + 1}: ${e.message}`);
    }
    const obj = doc.toJS();
    if (obj !== null && obj !== undefined) {
      out.push({ file, index, obj });
    }
  });
  return { objects: out, errors };
}

export function describe(obj) {
  const md = obj.metadata || {};
  const ns = md.namespace ? `${md.namespace}/` : "";
  return `${obj.apiVersion}/${obj.kind} ${ns}${md.name}`;
}
