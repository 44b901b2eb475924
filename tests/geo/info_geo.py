"""`tiff-dumper info` shows the georeferencing: the --json keys carry the Parquet columns'
values (GeoJSON for the geometry), the text form a "georeferencing" block; checked against
GDAL (transform, code) and OGR (the footprint contains a point inside the raster).
usage: info_geo.py TIFF_DUMPER CORPUS_DIR"""
import json
import os
import subprocess
import sys

from osgeo import gdal, ogr

gdal.UseExceptions()
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)
        print("FAIL", msg)


exe, corpus = sys.argv[1:3]
files = {"rasterio/RGB.byte.tif": ("EPSG:32618", "Polygon"),
         "rio-tiler/cog_dateline.tif": ("EPSG:32660", "MultiPolygon"),
         "libgeotiff/cassini_soldner.tif": (None, "Polygon"),
         "georust-geotiff/merc.tif": (None, None),
         "image-tiff/decodedata-rgb-3c-8b.tiff": (None, None)}
paths = [os.path.join(corpus, f) for f in files]
out = subprocess.run([exe, "info", "--json", *paths], capture_output=True, text=True)
check(out.returncode == 0, f"--json exit {out.returncode}: {out.stderr}")
rows = [json.loads(line) for line in out.stdout.splitlines()]
for (name, (code, kind)), r in zip(files.items(), rows):
    check(r["proj_code"] == code, f"{name}: proj_code {r['proj_code']} != {code}")
    ds = gdal.Open(os.path.join(corpus, name))
    gt = ds.GetGeoTransform(can_return_null=True)
    if gt is None:
        check(r["proj_transform"] is None and r["geometry"] is None and r["bbox"] is None,
              f"{name}: georeferencing without a GDAL geotransform")
        check(r["footprint_warning"] is None, f"{name}: warning {r['footprint_warning']}")
        continue
    want = [gt[1], gt[2], gt[0], gt[4], gt[5], gt[3]]
    check(r["proj_transform"] == want, f"{name}: transform {r['proj_transform']} != {want}")
    check(r["proj_shape"] == [ds.RasterYSize, ds.RasterXSize], f"{name}: shape")
    if kind is None:
        check(r["geometry"] is None and "no footprint" in (r["footprint_warning"] or ""),
              f"{name}: expected no footprint and a warning: {r}")
        continue
    check(r["geometry"]["type"] == kind, f"{name}: geometry type {r['geometry']['type']}")
    check(code is not None or r["proj_wkt2"].startswith("PROJCRS"), f"{name}: no WKT2")
    g = ogr.CreateGeometryFromJson(json.dumps(r["geometry"]))
    check(g is not None and g.IsValid(), f"{name}: OGR cannot use the GeoJSON")
    b = r["bbox"]
    check(b["ymin"] < b["ymax"] and (b["xmin"] < b["xmax"]) == (kind == "Polygon"),
          f"{name}: bbox {b}")

text = subprocess.run([exe, "info", *paths[:2]], capture_output=True, text=True).stdout
check("  georeferencing\n" in text and "EPSG:32618" in text and "(across 180)" in text and
      '"type":"MultiPolygon"' in text, "text form: " + text[-800:])
print(f"info_geo: {len(rows)} files, {len(fails)} failures")
sys.exit(1 if fails else 0)
