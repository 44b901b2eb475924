#!/usr/bin/env bash
# Regenerates README.md's output-schema block (the lines between `<!-- schema:begin ... -->`
# and `<!-- schema:end -->`) from td_print_schema (tests/table/print_schema.c prints the
# schema that src/table writes). The ctest readme_schema runs it with --check.
#   scripts/update-readme-schema.sh                 build td_print_schema, rewrite the block
#   scripts/update-readme-schema.sh --check [GEN]   only compare (GEN: a td_print_schema)
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
gen=${1:-}
if [ -z "$gen" ]; then
  if [ ! -f build/release/build.ninja ]; then
    cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build build/release --target td_print_schema >/dev/null
  gen=build/release/tests/table/td_print_schema
fi
if [ "$(grep -c '^<!-- schema:begin' README.md)" != 1 ] ||
   [ "$(grep -c '^<!-- schema:end -->' README.md)" != 1 ]; then
  echo "README.md: expected one <!-- schema:begin ... --> ... <!-- schema:end --> block" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$gen" > "$tmp/schema.md"
awk -v f="$tmp/schema.md" '
  /^<!-- schema:begin/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
  /^<!-- schema:end -->/ { skip = 0 }
  !skip' README.md > "$tmp/README.md"
if [ $check = 1 ]; then
  if ! diff -u README.md "$tmp/README.md"; then
    echo "README.md's schema block differs from $gen (diff above: - README, + generated)."
    echo "Regenerate it with: scripts/update-readme-schema.sh"
    exit 1
  fi
  echo "README.md's schema block matches $gen"
elif cmp -s README.md "$tmp/README.md"; then
  echo "README.md's schema block is up to date"
else
  cp "$tmp/README.md" README.md
  echo "README.md's schema block regenerated"
fi
