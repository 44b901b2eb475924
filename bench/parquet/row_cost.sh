#!/usr/bin/env bash
# Instructions per header of the row path, by stage, for several builds in one run: each
# `tiff-dumper headers` runs under callgrind (instruction counts: deterministic, unlike time
# on a shared machine) over bench/e2e's synthetic Sentinel-2 bucket read from a local folder
# (the network out of the figure; the parse and the writer-thread work are those of a
# loopback run). Stages are inclusive counts of one function, divided by the headers:
#   parse      tiff_parser_run (every IFD, COG verdict; worker threads)
#   row        td_table_write_header (the Parquet values of one row; writer thread)
#   flush      pq_writer_close (pages, levels, dictionaries, compression, footer)
#   footprint  td_geo_compute (incl. the first CRS of each kind: PROJ operation search)
#   proj init  td_geo_ctx_new (once per run: proj.db opened)
#   total      the whole process (start-up, listing, threads, all of the above)
#
#   bench/parquet/row_cost.sh [-n KEYS] LABEL=EXE [LABEL=EXE ...]
# WORK (TD_BENCH_WORK, default /tmp/td-row-cost) keeps the bucket; making its templates
# needs GDAL (bench/e2e/make_bucket.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=4000
while getopts n: o; do case $o in n) n=$OPTARG;; *) exit 2;; esac; done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-n keys] LABEL=EXE ..." >&2; exit 2; }
work=${TD_BENCH_WORK:-/tmp/td-row-cost}
mkdir -p "$work"
"$root/bench/e2e/make_bucket.sh" "$work" "$n" >/dev/null
printf 'store:\n  name: "%s"\n' "$work/bucket" > "$work/cfg.yaml"
hdrs=$(grep -c . "$work/keys.txt")
printf '| build | total | parse | row | flush | footprint | proj init |\n|---|---:|---:|---:|---:|---:|---:|\n'
for spec in "$@"; do
  label=${spec%%=*} exe=${spec#*=}
  rm -rf "$work/out"
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$label" "$exe" headers "$work/cfg.yaml" \
    "$work/out" >/dev/null 2>"$work/cg.$label.log"
  callgrind_annotate --inclusive=yes "$work/cg.$label" 2>/dev/null > "$work/inc.$label"
  per() { # function name (or PROGRAM TOTALS) -> instructions per header
    local v
    if [ "$1" = total ]; then v=$(grep -m1 "PROGRAM TOTALS" "$work/inc.$label" | awk '{print $1}')
    else v=$(grep -m1 -E "[:]$1 \[" "$work/inc.$label" | awk '{print $1}'); fi
    v=${v//,/}
    awk -v v="${v:-0}" -v n="$hdrs" 'BEGIN{printf "%.1f k", v / n / 1000}'
  }
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$(per total)" "$(per tiff_parser_run)" \
    "$(per td_table_write_header)" "$(per pq_writer_close)" "$(per td_geo_compute)" \
    "$(per td_geo_ctx_new)"
done
echo "($hdrs headers; instructions per header, callgrind)"
