#!/usr/bin/python3
"""Peer of the end-to-end benchmark: GDAL (python3-gdal) opening each key over /vsicurl/ in a
thread pool and reading size, bands, data type, block size, geotransform and nodata.

    gdal_peer.py BASE_URL KEYS_FILE N_KEYS THREADS

Prints one JSON line. The GDAL settings are those a user reading COG headers would set:
no directory listing on open, only .tif fetched, no full-file download."""
import json, os, sys, time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")
os.environ.setdefault("CPL_VSIL_CURL_ALLOWED_EXTENSIONS", ".tif")
os.environ.setdefault("GDAL_HTTP_MAX_RETRY", "0")
from osgeo import gdal  # noqa: E402

gdal.UseExceptions()
base, keys_file, n, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(keys_file) as f:
    keys = [k for k in f.read().split("\n") if k][:n]


def one(key):
    ds = gdal.Open("/vsicurl/" + base + key)
    b = ds.GetRasterBand(1)
    rec = (ds.RasterXSize, ds.RasterYSize, ds.RasterCount, gdal.GetDataTypeName(b.DataType),
           tuple(b.GetBlockSize()), ds.GetGeoTransform(can_return_null=True), b.GetNoDataValue())
    ds = None
    return rec


ok = failed = 0
first_error = None
t0 = time.monotonic()
with ThreadPoolExecutor(max_workers=threads) as ex:
    futs = [ex.submit(one, k) for k in keys]
    for k, fu in zip(keys, futs):
        try:
            fu.result()
            ok += 1
        except Exception as e:  # a failed open is counted, not fatal
            failed += 1
            first_error = first_error or f"{k}: {e}"
el = time.monotonic() - t0
print(json.dumps({"tool": "gdal", "gdal_version": gdal.__version__, "files": len(keys), "ok": ok,
                  "failed": failed, "threads": threads, "elapsed_s": el,
                  "headers_per_second": ok / el if el else 0, "first_error": first_error}))
