#!/usr/bin/env bash
# Builds tiff-dumper twice (optimised, and with ASan+UBSan) and runs every test in both,
# then a short libFuzzer run of each fuzz target. This is what CI runs (.ci/run).
#   scripts/test.sh               everything
#   TD_FUZZ_SECONDS=0 scripts/test.sh   skip the fuzz runs
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$jobs"
cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTD_SANITIZE=ON -DTD_BENCH=OFF >/dev/null
cmake --build build/sanitize -j "$jobs"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
echo "== tests, sanitizer build"
ctest --test-dir build/sanitize --output-on-failure -j "$jobs" -LE nosan
if [ "${TD_FUZZ_SECONDS:-60}" != 0 ] && [ -f fuzz/CMakeLists.txt ]; then
  scripts/fuzz.sh "${TD_FUZZ_SECONDS:-20}"
fi
echo "== tests, optimised build"
ctest --test-dir build/release --output-on-failure -j "$jobs"

