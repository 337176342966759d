#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the Debian packages it needs,
# builds with -Werror, checks formatting, runs every test tier through ctest
# (root-only tiers skip with their reason when not root; the deploy label builds
# and runs the OCI image, checks cmake --install, the systemd unit and the alert
# rules), builds Release (gcc) and Debug (clang) and runs their unit tier, runs
# the unit, integration and fuzz-replay tiers again under ASan+UBSan, and runs
# each libFuzzer target briefly with clang. Every build uses -Werror
# (IPSECD_WERROR, off by default for users and packagers).
#   IPSECD_FUZZ_SECONDS  seconds per fuzz target (default 20; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)

./scripts/deps.sh test

step() { printf '\n==> %s\n' "$*"; }

step "format check (clang-format)"
mapfile -t sources < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find . -path ./build -prune -o \( -name '*.cpp' -o -name '*.h' \) -print)
clang-format --dry-run --Werror "${sources[@]}"

step "build (RelWithDebInfo, -Werror)"
cmake -G Ninja -S . -B build/ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPSECD_WERROR=ON >/dev/null
ninja -C build/ci -j"$jobs"

step "tests: every tier"
if [ "$(id -u)" -ne 0 ]; then
  echo "note: not root: the netns, interop and vm tiers and the image test will report SKIPPED with their reason"
fi
ctest --test-dir build/ci --output-on-failure -j"$jobs" --timeout 1200
if [ "$(id -u)" -ne 0 ]; then
  # ctest lists skipped tests without their output; print each one's reason.
  ctest --test-dir build/ci -L 'netns|interop|vm|deploy' -V 2>&1 | grep -E '^[0-9]+: SKIP' || true
fi

# Packagers build Release, developers Debug, some with clang: each builds the
# whole tree with -Werror and passes the unit tier.
for build in release:Release:g++ clang:Debug:clang++; do
  IFS=: read -r dir type cxx <<<"$build"
  step "build ($type, $cxx, -Werror) and the unit tier"
  CXX=$cxx cmake -G Ninja -S . -B "build/$dir" -DCMAKE_BUILD_TYPE="$type" -DIPSECD_WERROR=ON \
    -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
  ninja -C "build/$dir" -j"$jobs"
  ctest --test-dir "build/$dir" -L unit --output-on-failure -j"$jobs"
done

step "unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -G Ninja -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DIPSECD_SANITIZE=ON -DIPSECD_BENCH=OFF \
  -DIPSECD_WERROR=ON >/dev/null
ninja -C build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan -L 'unit|integration|fuzz' -E deploy_manifests --output-on-failure -j"$jobs"

seconds=${IPSECD_FUZZ_SECONDS:-20}
if [ "$seconds" -gt 0 ]; then
  step "libFuzzer targets, ${seconds}s each (clang)"
  CXX=clang++ cmake -G Ninja -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DIPSECD_FUZZ=ON -DIPSECD_TESTS=OFF -DIPSECD_BENCH=OFF -DIPSECD_WERROR=ON \
    -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  ninja -C build/fuzz -j"$jobs" fuzz_targets
  "$root/tests/fuzz/run-fuzzers.sh" "$root/build/fuzz/tests/fuzz" "$seconds"
fi
step "all test steps passed"
