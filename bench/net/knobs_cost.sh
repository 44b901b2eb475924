#!/usr/bin/env bash
# Instructions per header of one binary under its config knobs (issues 14, 15), counted by
# callgrind, so that the comparison does not depend on a shared machine's load:
#   bench/net/knobs_cost.sh BIN [BUCKET_DIR] [LABEL=section.key:value ...]
# BUCKET_DIR is a bucket of bench/e2e/make_bucket.sh (BUCKET_DIR/bucket, BUCKET_DIR/keys.txt;
# default /tmp/td-knobs-s2, made if missing). Each knob runs `headers` over the local store
# (no network: the parse, footprint and row path alone, one fetch thread) on N1 and N2 keys
# of the key list; (I(N2) - I(N1)) / (N2 - N1) is the cost of one header with start-up
# (PROJ's proj.db, the schema, thread starts) taken out, and I(N1) - N1 x that is start-up.
# Default knobs: all (the default config), first (fetch.ifds: first), nofp
# (output.footprints: false), both (the two together).
set -euo pipefail
bin=${1:?usage: knobs_cost.sh BIN [BUCKET_DIR] [LABEL=section.key:value ...]}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
bdir=${2:-/tmp/td-knobs-s2}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "$0")" && pwd)
[ -s "$bdir/keys.txt" ] || "$here/../e2e/make_bucket.sh" "$bdir" 20000 >&2
knobs=("$@")
[ ${#knobs[@]} -gt 0 ] || knobs=(all first=fetch.ifds:first nofp=output.footprints:false
                                 both=fetch.ifds:first@output.footprints:false)
n1=${TD_N1:-1000}; n2=${TD_N2:-3000}
work=$(mktemp -d /tmp/td-knobs-cost.XXXXXX)
trap 'rm -rf "$work"' EXIT
head -n "$n1" "$bdir/keys.txt" > "$work/k1.txt"
head -n "$n2" "$bdir/keys.txt" > "$work/k2.txt"
instr() { # CONFIG -> instructions of the whole process (every thread)
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bin" headers "$1" "$work/out" -q \
    > /dev/null 2> "$work/vg.err" || true
  [ -f "$work/out/_SUCCESS" ] || { echo "run failed: $(tail -3 "$work/vg.err")" >&2; exit 1; }
  sed -n 's/^summary: //p' "$work/cg.out" | head -1
}
printf '%-6s %14s %14s %12s\n' knob "instr/header" "start-up" "x all"
base=""
for spec in "${knobs[@]}"; do
  label=${spec%%=*}; extra=""; [ "$spec" != "$label" ] && extra=${spec#*=}
  res=()
  for k in k1 k2; do
    python3 - "$work/cfg.yaml" "$bdir/bucket" "$work/$k.txt" "$extra" <<'PY'
import sys
cfg, store, keys, extra = sys.argv[1:]
conf = {"store": {"name": f'"{store}"', "keys_from": f'"{keys}"'},
        "concurrency": {"n_consumers": "64", "threads": "1"}}
for item in filter(None, extra.split("@")):
    key, _, value = item.partition(":")
    sec, _, k = key.rpartition(".")
    conf.setdefault(sec, {})[k] = value
with open(cfg, "w") as f:
    for sec, kv in conf.items():
        f.write(f"{sec}:\n" + "".join(f"  {k}: {v}\n" for k, v in kv.items()))
PY
    rm -rf "$work/out"
    res+=("$(instr "$work/cfg.yaml")")
  done
  per=$(( (res[1] - res[0]) / (n2 - n1) )); start=$(( res[0] - per * n1 ))
  [ -z "$base" ] && base=$per
  printf '%-6s %14d %14d %12s\n' "$label" "$per" "$start" \
    "$(python3 -c "print(f'{$per / $base:.3f}')")"
done
