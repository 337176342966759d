#!/usr/bin/env bash
# run-fuzzers.sh DIR SECONDS: runs every libFuzzer binary in DIR for SECONDS,
# starting from a copy of its seed corpus; fails on the first crash, leak or
# timeout and leaves the reproducer in the printed directory.
set -euo pipefail
dir=$1 seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/ipsecd-fuzz.XXXXXX)
status=0
for bin in "$dir"/*_fuzz; do
  name=$(basename "$bin" _fuzz)
  corpus="$work/$name"
  mkdir -p "$corpus"
  if [ -d "$here/corpus/$name" ]; then
    cp -r "$here/corpus/$name/." "$corpus/"
  fi
  echo "fuzz: $name for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/$name-" -print_final_stats=1 "$corpus" >"$work/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; log and reproducer in $work" >&2
    tail -n 40 "$work/$name.log" >&2
    status=1
    continue
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/$name.log" | sed "s/^/fuzz: $name /"
done
[ "$status" -eq 0 ] && rm -rf "$work"
exit "$status"
