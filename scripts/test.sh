#!/usr/bin/env bash
# Builds tiff-dumper twice (optimised, and with ASan+UBSan) and runs every test in both,
# then a short libFuzzer run of each fuzz target; also proves that a plain Release build
# (-O3) compiles without warnings with gcc and with clang. This is what CI runs (.ci/run).
# It first checks the C formatting (scripts/check-format.sh). Every build here has TD_WERROR=ON (the default build that users run has it off).
#   scripts/test.sh               everything
#   TD_FUZZ_SECONDS=0 scripts/test.sh   skip the fuzz runs
#   TD_ALLOW_SKIP=1 scripts/test.sh     do not fail when a test was skipped (exit 77: a
#                                       tool it needs is missing); for local runs only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# the C style (.clang-format): first, as it takes a second and says exactly which files
scripts/check-format.sh

jobs=$(nproc 2>/dev/null || echo 2)

# ctest, then fail on any skipped test: ctest counts a skip (SKIP_RETURN_CODE 77) as passed
# and lists it under "The following tests did not run".
run_ctest() {
  local dir=$1
  shift
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@" 2>&1 | tee "$dir/ctest.log"
  if grep -q 'The following tests did not run' "$dir/ctest.log"; then
    if [ "${TD_ALLOW_SKIP:-0}" = 1 ]; then
      echo "== skipped tests allowed (TD_ALLOW_SKIP=1)"
    else
      echo "FAIL: tests were skipped (see 'did not run' above; TD_ALLOW_SKIP=1 to allow)"
      exit 1
    fi
  fi
}

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTD_WERROR=ON >/dev/null
cmake --build build/release -j "$jobs"
cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTD_SANITIZE=ON -DTD_BENCH=OFF \
  -DTD_WERROR=ON >/dev/null
cmake --build build/sanitize -j "$jobs"
# What a packager runs: Release, with each compiler; build only (the tests run above/below).
for cc in gcc clang; do
  echo "== Release build with $cc, warnings as errors"
  CC=$cc cmake -S . -B "build/release-$cc" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTD_WERROR=ON \
    -DTD_TESTS=OFF >/dev/null
  cmake --build "build/release-$cc" -j "$jobs"
done

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
echo "== tests, sanitizer build"
run_ctest build/sanitize -LE nosan
if [ "${TD_FUZZ_SECONDS:-20}" != 0 ]; then
  scripts/fuzz.sh "${TD_FUZZ_SECONDS:-20}"
fi
echo "== tests, optimised build"
run_ctest build/release
