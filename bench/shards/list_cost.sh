#!/bin/sh
# What listing costs each shard today (issue 16 item 1): every shard lists the whole store
# and keeps the keys whose hash mod N is its own, so each pays the whole listing. A local
# folder of DIRS x FILES empty non-TIFF entries (skipped by the suffix rule, so nothing is
# fetched and the time is the listing's), listed unsharded and as shards I/N.
#   sh bench/shards/list_cost.sh [TIFF_DUMPER] [N]      (default build/dev/src/cli/tiff-dumper, 10)
set -eu
exe=${1:-build/dev/src/cli/tiff-dumper}
n=${2:-10}
dirs=${DIRS:-100}
files=${FILES:-1000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/store" "$dirs" "$files" <<'PY'
import os, sys
root, dirs, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in range(dirs):
    os.makedirs(f"{root}/d{d:03d}")
    for i in range(files):
        open(f"{root}/d{d:03d}/f{i:04d}.dat", "w").close()
PY
printf 'store:\n  name: %s\nfetch:\n  suffixes: [".tif"]\n' "$tmp/store" > "$tmp/c.yaml"
run() {
    /usr/bin/time -f "%e s wall" "$exe" headers "$tmp/c.yaml" "$tmp/out" "$@" 2>&1 |
        sed -n -e 's/.*skipped (\([0-9]*\) listed).*/kept \1 of the listed entries/p' -e '/wall/p' |
        tr '\n' ' '
    echo
}
echo "unsharded:        $(run --no-shard)"
for i in 0 $((n / 2)) $((n - 1)); do
    echo "shard $i/$n:        $(run --shard "$i/$n")"
done
