"""End to end: `tiff-dumper headers` over GDAL-made rasters (tdtest.geo_cases: UTM, polar
caps, antimeridian, PixelIsPoint, rotated, global), a TIFF without georeferencing and a few
corpus GeoTIFFs, then
- DuckDB reads the part files as GeoParquet (the geometry column is a GEOMETRY in
  OGC:CRS84) and a footprint query on the bbox covering columns finds exactly the rasters
  that cover a point (antimeridian-crossing bboxes included);
- OGR decodes every WKB DuckDB hands back (ST_AsWKB) and finds a point inside the raster,
  transformed by GDAL, inside the footprint;
- the `geo` metadata of every part file passes the GeoParquet 1.1.0 JSON schema (ajv) and
  agrees with the rows (check_geo_meta.mjs);
- proj_* columns: the file without georeferencing has nulls; the others agree with GDAL.
usage: e2e_geo.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import os
import shutil
import subprocess
import sys

from osgeo import gdal, ogr, osr

from tdtest import e2e_lib as L
from tdtest.geo_cases import generated

gdal.UseExceptions()
CORPUS = ["rasterio/RGB.byte.tif", "rio-tiler/cog_dateline.tif", "libgeotiff/lcc2sp.tif"]


def covers(x, y, bb):
    """The bbox test a user writes in SQL, here to get the expected answer."""
    x0, y0, x1, y1 = bb
    inx = x0 <= x <= x1 if x0 <= x1 else (x >= x0 or x <= x1)
    return inx and y0 <= y <= y1


def centre_lonlat(path):
    ds = gdal.Open(path)
    gt = ds.GetGeoTransform()
    # not the centre: a generated raster is centred on the antimeridian, a boundary
    c, r = ds.RasterXSize * 0.37, ds.RasterYSize * 0.41
    x, y = gt[0] + c * gt[1] + r * gt[2], gt[3] + c * gt[4] + r * gt[5]
    src = ds.GetSpatialRef().Clone()
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    dst = osr.SpatialReference()
    dst.SetFromUserInput("OGC:CRS84")
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, lat, _ = osr.CoordinateTransformation(src, dst).TransformPoint(x, y)
    return lon, lat


def main():
    exe, corpus, node_dir = (os.path.abspath(a) for a in sys.argv[1:4])
    tmp = L.tempdir("geo")
    try:
        store = os.path.join(tmp, "store")
        os.makedirs(store)
        gen = generated(store)
        for name in CORPUS:
            shutil.copy(os.path.join(corpus, name), os.path.join(store, os.path.basename(name)))
        plain = os.path.join(store, "plain.tif")
        gdal.GetDriverByName("GTiff").Create(plain, 4, 4, 1, gdal.GDT_Byte)  # no georeferencing
        cfg = os.path.join(tmp, "config.yaml")
        out = os.path.join(tmp, "out")
        L.write_config(cfg, store, concurrency={"write_chunk_size": 5, "list_chunk_size": 5, "n_consumers": 4, "max_buffer_size": 20})
        p = L.run_tool(exe, "headers", cfg, out)
        if p.returncode != 0:
            L.fail(f"exit status {p.returncode}: {p.stderr[-2000:]}")

        rows, types = L.duckdb(
            node_dir,
            f"SELECT path, proj_code, proj_shape, proj_transform, proj_bbox, proj_wkt2, "
            f"bbox.xmin AS x0, bbox.ymin AS y0, bbox.xmax AS x1, bbox.ymax AS y1, "
            f"ST_AsWKB(geometry) AS wkb, warnings "
            f"FROM read_parquet('{out}/part-*.parquet') ORDER BY path",
            f"SELECT DISTINCT column_type::VARCHAR AS t FROM (DESCRIBE SELECT geometry "
            f"FROM read_parquet('{out}/part-*.parquet'))")
        if [t["t"] for t in types] != ["GEOMETRY('OGC:CRS84')"]:
            L.fail(f"DuckDB does not read the geometry as GeoParquet: {types}")
        by = {r["path"]: r for r in rows}
        if len(by) != len(os.listdir(store)):
            L.fail(f"{len(by)} rows for {len(os.listdir(store))} files")

        # no georeferencing: every geo column null, no warning
        r = by["plain.tif"]
        if any(r[k] is not None for k in ("proj_code", "proj_shape", "proj_transform",
                                           "proj_bbox", "wkb", "x0")) or r["warnings"]:
            L.fail(f"plain TIFF has geo values: {r}")

        # every footprint: valid for OGR, contains the raster's centre (GDAL's transformation)
        files = {os.path.basename(p): p for p in gen.values()}
        files.update({os.path.basename(n): os.path.join(store, os.path.basename(n))
                      for n in CORPUS})
        for name, path in sorted(files.items()):
            r = by[name]
            if r["wkb"] is None:
                L.fail(f"{name}: no footprint: {r['warnings']}")
            g = ogr.CreateGeometryFromWkb(bytes.fromhex(r["wkb"]))
            if g is None or not g.IsValid():
                L.fail(f"{name}: OGR cannot use the WKB")
            lon, lat = centre_lonlat(path)
            lon = (lon + 180) % 360 - 180
            if not g.Contains(ogr.CreateGeometryFromWkt(f"POINT ({lon!r} {lat!r})")):
                L.fail(f"{name}: centre ({lon}, {lat}) not in the footprint {g.ExportToWkt()[:300]}")
            if not covers(lon, lat, (r["x0"], r["y0"], r["x1"], r["y1"])):
                L.fail(f"{name}: centre not in the bbox {r}")
            ds = gdal.Open(path)
            gt = ds.GetGeoTransform()
            want = [gt[1], gt[2], gt[0], gt[4], gt[5], gt[3]]
            if r["proj_shape"] != [ds.RasterYSize, ds.RasterXSize] or \
                    max(abs(a - b) for a, b in zip(r["proj_transform"], want)) > 1e-6:
                L.fail(f"{name}: proj_shape/transform {r['proj_shape']} {r['proj_transform']} "
                       f"vs GDAL {want}")
            if r["proj_code"] is None and not r["proj_wkt2"]:
                L.fail(f"{name}: neither proj_code nor proj_wkt2")

        # footprint queries on the covering columns, as a user writes them
        def query(x, y):
            q = (f"SELECT path FROM read_parquet('{out}/part-*.parquet') WHERE "
                 f"bbox.ymin <= {y} AND bbox.ymax >= {y} AND "
                 f"(CASE WHEN bbox.xmin <= bbox.xmax THEN bbox.xmin <= {x} AND bbox.xmax >= {x} "
                 f"ELSE bbox.xmin <= {x} OR bbox.xmax >= {x} END) ORDER BY path")
            return [r["path"] for r in L.duckdb(node_dir, q)[0]]
        for x, y in ((179.9, -15.0), (-179.9, -15.0), (14.5, 47.5), (0.0, -89.9), (-45, 85.0),
                     (-77.5, 24.5)):
            want = sorted(n for n, r in by.items()
                          if r["x0"] is not None and covers(x, y, (r["x0"], r["y0"], r["x1"],
                                                                   r["y1"])))
            got = query(x, y)
            if got != want or not got:
                L.fail(f"point ({x}, {y}): DuckDB finds {got}, expected {want}")
            print(f"({x}, {y}): {got}")

        # the GeoParquet metadata of every part file
        parts = sorted(os.path.join(out, f) for f in os.listdir(out) if f.startswith("part-"))
        if len(parts) < 2:
            L.fail(f"expected several part files, got {parts}")
        chk = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "check_geo_meta.mjs"),
                              node_dir, *parts], capture_output=True, text=True)
        print(chk.stdout.strip(), chk.stderr.strip())
        if chk.returncode != 0:
            L.fail("geo metadata check failed")
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
