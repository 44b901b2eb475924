#!/usr/bin/env bash
# What the footprints cost a whole run: `tiff-dumper headers` over a local bucket, CPU time
# (user+sys) and wall time per 1000 headers, for two builds (without / with footprints, e.g.
# the commit before src/geo and this one), best of 3 runs each, on two buckets:
#   same-grid: 20000 keys linked to 3 GeoTIFFs (two Sentinel-2-like UTM grids and a DEM), as
#              bench/e2e's bucket: the footprint memo answers after the first of each;
#   unique:    2000 GeoTIFFs, each on its own grid in UTM zone 33N (every header computes a
#              footprint, as in a bucket of DEM tiles or unaligned scenes).
# The local store is used so that the figure is CPU, not network; the writer-thread work it
# measures is the same as on loopback HTTP.
#   bench/geo/run_cost.sh EXE_WITHOUT EXE_WITH [WORK_DIR]
set -euo pipefail
old=$1 new=$2 work=${3:-/tmp/td_geo_cost}
mkdir -p "$work"
if [ ! -d "$work/same" ] || [ ! -d "$work/unique" ]; then
  rm -rf "$work/same" "$work/unique" "$work/tpl"
  mkdir -p "$work/same" "$work/unique" "$work/tpl"
  /usr/bin/python3 - "$work" <<'PY'
import os, sys
from osgeo import gdal, osr
gdal.UseExceptions()
work = sys.argv[1]
def make(path, w, h, gt, epsg, bands=1):
    ds = gdal.GetDriverByName("GTiff").Create(path, w, h, bands, gdal.GDT_UInt16,
        ["TILED=YES", "BLOCKXSIZE=1024", "BLOCKYSIZE=1024", "SPARSE_OK=TRUE", "COMPRESS=DEFLATE"])
    ds.SetGeoTransform(gt)
    s = osr.SpatialReference(); s.ImportFromEPSG(epsg); ds.SetSpatialRef(s)
    ds = None
tpl = os.path.join(work, "tpl")
make(f"{tpl}/B04.tif", 10980, 10980, (300000, 10, 0, 4600020, 0, -10), 32610)
make(f"{tpl}/TCI.tif", 10980, 10980, (300000, 10, 0, 4600020, 0, -10), 32610, 3)
make(f"{tpl}/DEM.tif", 3601, 3601, (-123.0001389, 1 / 3600, 0, 38.0001389, 0, -1 / 3600), 4326)
names = ["B04.tif", "TCI.tif", "DEM.tif"]
for i in range(20000):
    d = os.path.join(work, "same", f"{i // 1000:03d}")
    os.makedirs(d, exist_ok=True)
    os.link(f"{tpl}/{names[i % 3]}", f"{d}/{i}_{names[i % 3]}")
for i in range(2000):
    d = os.path.join(work, "unique", f"{i // 100:03d}")
    os.makedirs(d, exist_ok=True)
    x0 = 160000 + (i % 50) * 13000
    y0 = 4000020 + (i // 50) * 13000
    make(f"{d}/{i}.tif", 10980, 10980, (x0, 10, 0, y0, 0, -10), 32633)
PY
fi
run() { # exe bucket -> "cpu_ms_per_1k wall_ms_per_1k"
  local exe=$1 bucket=$2 best=""
  for _ in 1 2 3; do
    printf 'store:\n  name: "%s"\n' "$work/$bucket" > "$work/cfg.yaml"
    rm -rf "$work/out"
    /usr/bin/time -f "%U %S %e" -o "$work/time.txt" "$exe" headers "$work/cfg.yaml" "$work/out" \
      >/dev/null 2>&1 || true
    local n; n=$(find "$work/$bucket" -name '*.tif' | wc -l)
    local r; r=$(awk -v n="$n" '{printf "%.1f %.1f", ($1+$2)*1e6/n, $3*1e6/n}' "$work/time.txt")
    if [ -z "$best" ] || awk -v a="$r" -v b="$best" 'BEGIN{split(a,x," ");split(b,y," ");exit !(x[1]<y[1])}'; then
      best=$r
    fi
  done
  echo "$best"
}
echo "| bucket | build | CPU ms / 1k headers | wall ms / 1k headers |"
echo "|---|---|---:|---:|"
for b in same unique; do
  for pair in "without:$old" "with:$new"; do
    r=$(run "${pair#*:}" "$b")
    echo "| $b | ${pair%%:*} footprints | ${r% *} | ${r#* } |"
  done
done
