#!/usr/bin/env bash
# Builds the synthetic Sentinel-2-like bucket of the end-to-end benchmark:
#   make_bucket.sh WORK_DIR N_TIFF_KEYS
# WORK_DIR/templates/ holds a few real COGs made by GDAL (cached between runs);
# WORK_DIR/bucket/sentinel-s2-l2a-cogs/... holds the keys, each a hard link to a template,
# so 20,000 keys cost a few MB. Templates get a constant pixel value (tiles compress to a
# few hundred bytes, yet every tile offset is real and non-zero) and are then extended
# with a sparse hole to a realistic object size, so HEAD/Content-Range report ~100 MB.
# WORK_DIR/keys.txt lists the TIFF keys (what is fetched), WORK_DIR/all_keys.txt all keys.
set -euo pipefail
work=${1:?work dir}; n=${2:-20000}
tpl=$work/templates; mkdir -p "$tpl"
export GDAL_CACHEMAX=512

mk() { # name size-to-extend-to gdal_create-args... -- gdal_translate-args...
  local name=$1 size=$2; shift 2
  [ -s "$tpl/$name" ] && return 0
  local cargs=() targs=()
  while [ "$1" != "--" ]; do cargs+=("$1"); shift; done; shift
  targs=("$@")
  gdal_create -q "${cargs[@]}" "$tpl/src_$name"
  gdal_translate -q -of COG "${targs[@]}" "$tpl/src_$name" "$tpl/tmp_$name"
  rm -f "$tpl/src_$name"
  truncate -s "$size" "$tpl/tmp_$name"   # sparse tail: realistic size, no disk
  mv "$tpl/tmp_$name" "$tpl/$name"
}
utm="-a_srs EPSG:32610 -a_ullr 300000 4600020 409800 4490220"
# B04-like: 10980^2 UInt16 DEFLATE COG, 1024^2 tiles, 5 overviews (header ~3 KiB)
mk B04.tif 120000000 -of GTiff -outsize 10980 10980 -bands 1 -ot UInt16 -burn 1000 $utm \
   -co TILED=YES -co COMPRESS=DEFLATE -co BLOCKXSIZE=1024 -co BLOCKYSIZE=1024 -- \
   -a_nodata 0 -co COMPRESS=DEFLATE -co PREDICTOR=2 -co BLOCKSIZE=1024 -co OVERVIEW_COUNT=5
# TCI-like: 3-band Byte JPEG COG
mk TCI.tif 90000000 -of GTiff -outsize 10980 10980 -bands 3 -ot Byte -burn 90 -burn 120 -burn 60 $utm \
   -co TILED=YES -co COMPRESS=DEFLATE -co BLOCKXSIZE=1024 -co BLOCKYSIZE=1024 -- \
   -co COMPRESS=JPEG -co QUALITY=85 -co BLOCKSIZE=1024 -co OVERVIEW_COUNT=5
# DEM-like: Float32, GDAL_NODATA, predictor 3, geographic
mk DEM.tif 25000000 -of GTiff -outsize 3601 3601 -bands 1 -ot Float32 -burn 123.5 \
   -a_srs EPSG:4326 -a_ullr -123.0001389 38.0001389 -121.9998611 36.9998611 \
   -co TILED=YES -co COMPRESS=DEFLATE -- \
   -a_nodata -32767 -co COMPRESS=DEFLATE -co PREDICTOR=3 -co BLOCKSIZE=512 -co OVERVIEW_COUNT=3
# B08-like BigTIFF: 512^2 tiles, 5 overviews (header ~10 KiB)
mk B08.tif 120000000 -of GTiff -outsize 10980 10980 -bands 1 -ot UInt16 -burn 2000 $utm \
   -co TILED=YES -co COMPRESS=DEFLATE -co BLOCKXSIZE=1024 -co BLOCKYSIZE=1024 -- \
   -a_nodata 0 -co BIGTIFF=YES -co COMPRESS=DEFLATE -co PREDICTOR=2 -co BLOCKSIZE=512 -co OVERVIEW_COUNT=5
# SCL-like: 5490^2 Byte, 20 m
mk SCL.tif 4000000 -of GTiff -outsize 5490 5490 -bands 1 -ot Byte -burn 4 \
   -a_srs EPSG:32610 -a_ullr 300000 4600020 409800 4490220 -co TILED=YES -co COMPRESS=DEFLATE -- \
   -a_nodata 0 -co COMPRESS=DEFLATE -co BLOCKSIZE=1024 -co OVERVIEW_COUNT=4
[ -s "$tpl/tileinfo_metadata.json" ] || printf '{"path":"tiles/10/C/CV/2022/6/9/0","productName":"synthetic"}\n' > "$tpl/tileinfo_metadata.json"
[ -s "$tpl/L2A_PVI.jp2" ] || { printf '\x00\x00\x00\x0cjP  \r\n\x87\n'; head -c 30000 /dev/zero; } > "$tpl/L2A_PVI.jp2"

# Layout: one item folder per (zone, band, square, date); 7 TIFF keys + 2 other keys each.
bucket=$work/bucket; stamp=$work/bucket.n
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$n" ] && [ -s "$work/keys.txt" ]; then
  echo "bucket: $n TIFF keys already in $bucket"; exit 0
fi
rm -rf "$bucket"; mkdir -p "$bucket"
/usr/bin/python3 - "$bucket" "$tpl" "$n" "$work" <<'PY'
import os, sys
bucket, tpl, n, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
tiffs = [("B02.tif", "B04.tif"), ("B03.tif", "B04.tif"), ("B04.tif", "B04.tif"),
         ("B08.tif", "B08.tif"), ("TCI.tif", "TCI.tif"), ("SCL.tif", "SCL.tif"),
         ("DEM.tif", "DEM.tif")]
others = [("tileinfo_metadata.json", "tileinfo_metadata.json"), ("L2A_PVI.jp2", "L2A_PVI.jp2")]
keys, allk = [], []
bands, squares = "CDEFGHJKLMNPQRSTUVWX", ["CV", "DV", "EV", "FU", "GU", "CA", "DB", "EC"]
i = 0
while len(keys) < n:
    zone = 1 + (i // 400) % 60
    band = bands[(i // 40) % len(bands)]
    sq = squares[(i // 5) % len(squares)]
    day = 1 + i % 28; month = 1 + (i // 28) % 12; year = 2018 + (i // 336) % 6
    item = f"S2B_{zone}{band}{sq}_{year}{month:02d}{day:02d}_{i // 5000}_L2A"
    d = f"sentinel-s2-l2a-cogs/{zone}/{band}/{sq}/{year}/{month}/{item}"
    os.makedirs(os.path.join(bucket, d), exist_ok=True)
    for name, src in tiffs + others:
        if name.endswith(".tif") and len(keys) >= n:
            continue
        k = f"{d}/{name}"
        os.link(os.path.join(tpl, src), os.path.join(bucket, k))
        allk.append(k)
        if name.endswith(".tif"):
            keys.append(k)
    i += 1
with open(os.path.join(work, "keys.txt"), "w") as f:
    f.write("\n".join(keys) + "\n")
with open(os.path.join(work, "all_keys.txt"), "w") as f:
    f.write("\n".join(allk) + "\n")
print(f"bucket: {len(keys)} TIFF keys, {len(allk)} keys in {i} item folders")
PY
echo "$n" > "$stamp"
