#!/usr/bin/env bash
# The example alerts (manifests/overlays/example/prometheusrule.yaml): the
# PrometheusRule's spec is a Prometheus rule file; `promtool check rules`
# validates its PromQL and templates, `promtool test rules` (alerts_test.yaml)
# shows each alert firing after its `for` on the daemon's metric names, and
# not before. A broken expression must be rejected, so the check can fail.
# Usage: tests/prometheus/run.sh     Exit 77 (skip) without promtool.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v promtool >/dev/null || { echo "SKIP: promtool not installed (apt-get install prometheus)"; exit 77; }
work=$(mktemp -d /tmp/ipsecd-rules-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# spec: of the PrometheusRule, as a plain rule file.
python3 - "$root/manifests/overlays/example/prometheusrule.yaml" "$work/rules.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
if doc.get("kind") != "PrometheusRule" or "groups" not in doc.get("spec", {}):
    sys.exit(f"{sys.argv[1]}: expected a PrometheusRule with spec.groups")
yaml.safe_dump(doc["spec"], open(sys.argv[2], "w"), sort_keys=False)
PY
cp "$here/alerts_test.yaml" "$work/"

promtool check rules "$work/rules.yaml" || fail "promtool check rules"
echo "ok   promtool check rules"
(cd "$work" && promtool test rules alerts_test.yaml) || fail "promtool test rules"
echo "ok   promtool test rules: every alert fires after its 'for', not before"

sed 's/increase(ipsec_config_reloads_total{result="failure"}\[10m\])/increase(ipsec_config_reloads_total{result="failure"}[10m)/' \
  "$work/rules.yaml" >"$work/bad.yaml"
cmp -s "$work/rules.yaml" "$work/bad.yaml" && fail "the expression to break was not found"
if promtool check rules "$work/bad.yaml" >/dev/null 2>&1; then fail "a broken expression passed promtool check rules"; fi
echo "ok   a broken expression is rejected"
echo "PASS"
