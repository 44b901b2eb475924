#!/usr/bin/env bash
# Time and peak RSS of `tiff-dumper report` over synthetic dumps of 1M (and 10M) rows, made
# by make_dump (the project's own table writer: the files are what `headers` writes).
#   bench/report/run.sh BUILD_DIR [ROWS...]      (default ROWS: 1000000 10000000)
# Prints one markdown table row per size. /usr/bin/time gives the peak RSS.
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR [ROWS...]}
shift
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(1000000 10000000); fi
exe=$build/src/cli/tiff-dumper
make=$build/tests/report/td_make_dump
tmp=$(mktemp -d "${TMPDIR:-/tmp}/td_report_bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "| rows | part files | Parquet MB | report wall s | user s | sys s | peak RSS MB | page KB |"
echo "|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
    "$make" "$tmp/out-$n" "$n" 1000000 >/dev/null
    mb=$(du -sm "$tmp/out-$n" | cut -f1)
    files=$(ls "$tmp/out-$n" | grep -c '^part-')
    /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$exe" report "$tmp/out-$n" -o "$tmp/r.html" -q
    read -r wall user sys rss <"$tmp/time"
    kb=$(($(stat -c %s "$tmp/r.html") / 1024))
    echo "| $n | $files | $mb | $wall | $user | $sys | $((rss / 1024)) | $kb |"
    rm -rf "$tmp/out-$n"
done
