#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang and runs each for SECONDS; fails on any
# crash, leak, sanitizer report or timeout. Called by scripts/test.sh with TD_FUZZ_SECONDS.
#   scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]      every target, SECONDS each
#   TD_FUZZ_TARGETS="fuzz_config" scripts/fuzz.sh 600          only some targets
# Seeds: fuzz_tiff's are made at run time from ${TD_CORPUS_DIR} (first 64 KiB of each TIFF)
# into build/fuzz/seeds, plus fuzz/corpus/tiff (SubIFD pyramids, overlapping SubIFDs, GDAL
# ghost headers valid and broken); the other targets' are committed in fuzz/corpus/<name>/ (with the
# regression inputs of what fuzzing found). Inputs the fuzzer finds go to
# build/fuzz/corpus-<target> (kept between runs), crash reproducers to build/fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
corpus_dir=${TD_CORPUS_DIR:-$(pwd)/tests/corpus}
bdir=${TD_FUZZ_BUILD:-build/fuzz}
jobs=$(nproc 2>/dev/null || echo 2)
targets=${TD_FUZZ_TARGETS:-fuzz_tiff fuzz_config fuzz_keylist fuzz_inventory fuzz_h1 fuzz_parquet_read fuzz_map_wkb}

# The whole tree is configured (the config target links the pipeline library), but only
# the fuzz targets and what they link are built.
# shellcheck disable=SC2086
CC=clang cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTD_FUZZ=ON -DTD_WERROR=ON \
  -DTD_TESTS=OFF -DTD_BENCH=OFF -DTD_ONLY="" -DTD_CORPUS_DIR="$corpus_dir" >/dev/null
# shellcheck disable=SC2086
cmake --build "$bdir" -j "$jobs" --target $targets

seeds=$bdir/seeds
if [ ! -d "$seeds" ] || [ "$(find "$seeds" -type f | wc -l)" -eq 0 ]; then
  mkdir -p "$seeds"
  if [ -d "$corpus_dir" ]; then
    i=0
    while IFS= read -r -d '' f; do
      head -c 65536 "$f" > "$seeds/$(printf '%04d' $i)-$(basename "$f")"
      i=$((i + 1))
    done < <(find "$corpus_dir" -type f \( -name '*.tif' -o -name '*.tiff' \) -print0 | sort -z)
    echo "fuzz: $i seeds from $corpus_dir"
  else
    echo "fuzz: no corpus at $corpus_dir, starting from an empty seed set"
  fi
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in $targets; do
  work=$bdir/corpus-$t
  mkdir -p "$work" "$bdir/artifacts"
  # Per target: its seeds, the largest input, and a dictionary when there is one. The text
  # targets stay small: the loaders' caps are far above, and the known slow shapes (deeply
  # nested YAML, many secret-looking lines) must not hide other findings behind timeouts.
  dict=()
  case $t in
    fuzz_tiff) tseeds="$seeds fuzz/corpus/tiff"; max_len=65536 ;;
    fuzz_config) tseeds=fuzz/corpus/config; max_len=4096; dict=(-dict=fuzz/config.dict) ;;
    fuzz_keylist) tseeds=fuzz/corpus/keylist; max_len=16384 ;;
    fuzz_inventory) tseeds=fuzz/corpus/inventory; max_len=16384; dict=(-dict=fuzz/inventory.dict) ;;
    fuzz_h1) tseeds=fuzz/corpus/h1; max_len=8192; dict=(-dict=fuzz/h1.dict) ;;
    fuzz_parquet_read) tseeds=fuzz/corpus/parquet_read; max_len=16384 ;;
    fuzz_map_wkb) tseeds=fuzz/corpus/map_wkb; max_len=8192 ;;
    *) echo "fuzz: unknown target $t"; exit 2 ;;
  esac
  echo "== fuzz $t for ${secs}s"
  # $tseeds: one or two seed directories, split on purpose
  # shellcheck disable=SC2086
  if ! "$bdir/fuzz/$t" -max_total_time="$secs" -max_len=$max_len -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$bdir/artifacts/$t-" "${dict[@]}" "$@" \
       "$work" $tseeds 2> "$bdir/$t.log"; then
    tail -n 60 "$bdir/$t.log"
    echo "fuzz: $t FAILED (log $bdir/$t.log, reproducer in $bdir/artifacts/)"
    status=1
  else
    grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|#[0-9]+.*DONE)' \
      "$bdir/$t.log" || true
  fi
done
exit $status
