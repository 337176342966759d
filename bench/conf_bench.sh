#!/usr/bin/env bash
# Times parsing + canonical printing of large ipsec.conf files: libreswan 4.10's
# readwriteconf against ipsecd's `ipsec readwriteconf`, best of 3 wall times and
# the max RSS of the run, for generated cluster meshes of 1k, 10k and 100k conns.
#   bench/conf_bench.sh
#   IPSECD_IPSEC=path      ipsecd's ipsec command (default ./build/cli/ipsec)
#   SIZES="1000 10000"     connection counts (default 1000 10000 100000)
#   RUNS=3                 runs per measurement, the fastest is reported
#   IPSECD_BENCH_CACHE=DIR generated configs and libreswan tools (default /tmp/ipsecd-bench)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${IPSECD_BENCH_CACHE:-/tmp/ipsecd-bench}
sizes=${SIZES:-1000 10000 100000}
runs=${RUNS:-3}
ipsecd=${IPSECD_IPSEC:-$repo/build/cli/ipsec}
export IPSECD_BENCH_CACHE=$cache

gnu_time=/usr/bin/time
if ! [ -x "$gnu_time" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends time >&2
  else
    echo "conf_bench.sh: $gnu_time is missing (Debian package 'time')" >&2
    exit 1
  fi
fi

rwc=$("$here/libreswan-tools.sh")
have_ipsecd=yes
if ! [ -x "$ipsecd" ]; then
  have_ipsecd=no
  echo "note: $ipsecd not found or not executable; timing libreswan only (set IPSECD_IPSEC)" >&2
fi

mkdir -p "$cache/conf"
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

# measure NAME CONF CMD... -> prints "best_ms max_rss_kib" over $runs runs.
# The command's stdout is discarded; its exit status and stderr are checked so
# a parser that rejects the file is not reported as fast.
measure() {
  local name=$1 conf=$2
  shift 2
  local best_ms= best_rss= i start end ms rss
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s%N)
    if ! "$gnu_time" -f %M -o "$workdir/rss" "$@" >/dev/null 2>"$workdir/err"; then
      echo "conf_bench.sh: $name failed on $conf:" >&2
      head -n 5 "$workdir/err" >&2
      return 1
    fi
    end=$(date +%s%N)
    if [ -s "$workdir/err" ]; then
      echo "conf_bench.sh: $name printed errors on $conf:" >&2
      head -n 5 "$workdir/err" >&2
      return 1
    fi
    ms=$(((end - start) / 1000000))
    rss=$(tail -n 1 "$workdir/rss")
    if [ -z "$best_ms" ] || [ "$ms" -lt "$best_ms" ]; then
      best_ms=$ms
    fi
    if [ -z "$best_rss" ] || [ "$rss" -gt "$best_rss" ]; then
      best_rss=$rss
    fi
  done
  echo "$best_ms $best_rss"
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "kernel:  $(uname -srm)"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
echo "libreswan: $rwc ($(dpkg-deb -f "$(ls "$cache"/libreswan_*.deb | head -n1)" Version))"
echo "ipsecd:    $ipsecd ($have_ipsecd)"
echo "best of $runs wall-clock runs; RSS = largest max RSS of those runs"
echo
printf '%8s %10s | %12s %12s | %12s %12s | %8s %8s\n' \
  conns bytes libreswan_ms lsw_rss_KiB ipsecd_ms ipsecd_rssKiB speedup rss_x
for n in $sizes; do
  conf=$cache/conf/mesh-$n.conf
  if ! [ -s "$conf" ] || [ "$here/gen_conf.py" -nt "$conf" ]; then
    python3 "$here/gen_conf.py" "$n" "$conf"
  fi
  bytes=$(stat -c %s "$conf")
  result=$(measure libreswan "$conf" "$rwc" --config "$conf") || exit 1
  read -r lsw_ms lsw_rss <<<"$result"
  ips_ms=- ips_rss=- ratio_t=- ratio_r=-
  if [ "$have_ipsecd" = yes ]; then
    result=$(measure ipsecd "$conf" "$ipsecd" readwriteconf --config "$conf") || exit 1
    read -r ips_ms ips_rss <<<"$result"
    # speedup = libreswan time / ipsecd time (above 1.00: ipsecd is faster);
    # rss_x = ipsecd RSS / libreswan RSS (below 1.00: ipsecd is smaller).
    ratio_t=$(awk -v a="$lsw_ms" -v b="$ips_ms" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / (b > 0 ? b : 1) }')
    ratio_r=$(awk -v a="$ips_rss" -v b="$lsw_rss" 'BEGIN { printf "%.2f", a / b }')
  fi
  printf '%8s %10s | %12s %12s | %12s %12s | %8s %8s\n' \
    "$n" "$bytes" "$lsw_ms" "$lsw_rss" "$ips_ms" "$ips_rss" "$ratio_t" "$ratio_r"
done

# In-process parse + validate (no printing), and the heap per connection.
model_bench=${IPSECD_MODEL_BENCH:-$repo/build/bench/model_bench}
if [ -x "$model_bench" ]; then
  echo
  echo "ipsecd parse + validate in process (bench/model_bench, best of 5):"
  confs=()
  for n in $sizes; do confs+=("$cache/conf/mesh-$n.conf"); done
  "$model_bench" "${confs[@]}"
fi
