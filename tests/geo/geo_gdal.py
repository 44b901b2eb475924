"""td_geo against GDAL 3.6 (python3-gdal), on every georeferenced file of the corpus and on
generated rasters GDAL writes (UTM, polar stereographic containing a pole, antimeridian,
PixelIsPoint, rotated ModelTransformation).

    geo_gdal.py TD_GEO_DUMP CORPUS_DIR

What is compared, and the tolerances:
  - proj_transform with GDAL's GetGeoTransform (reordered to [a, b, c, d, e, f]): relative
    1e-9 (both are the same doubles from the same tags; only PixelIsPoint adds arithmetic).
  - proj_code with GDAL's authority code after AutoIdentifyEPSG(); where GDAL names no code
    and we do (PROJ's identification of a user-defined CRS at 100 % confidence), GDAL's CRS
    must be the same CRS as ours (IsSame, GIS axis order).
  - the footprint with `gdalinfo -json`'s wgs84Extent (the four corners through OGR): our
    WKB, decoded by OGR (the second reader of the WKB), must be a valid polygon whose
    bbox is within TOL_DEG of GDAL's corner polygon, grown by the bulge of the edges that
    GDAL does not densify (measured on our own densified ring: at most BULGE of the extent).
  - files GDAL opens without a CRS or a transform: no footprint here either.
GDAL_WRONG lists the files where GDAL's value is not the reference, each with the reason;
NO_FOOTPRINT the files where we refuse a footprint on purpose (and say why in a warning).
"""

import json
import math
import os
import subprocess
import sys
import tempfile

import tifffile
from osgeo import gdal, ogr, osr

from tdtest.geo_cases import generated

gdal.UseExceptions()
osr.UseExceptions()


# Files where GDAL 3.6 is not the reference for the footprint (and the code).
GDAL_WRONG = {
    # gdalinfo's wgs84Extent joins the 4 corners of a polar grid with straight lon/lat lines
    # and osr's densified outline does not close over the pole: a raster around the pole
    # becomes a sliver that misses it (checked by check_generated_specifics instead).
    "gen/polar_3031.tif": "raster containing the south pole",
    "gen/polar_3413.tif": "raster containing the north pole",
    # GDAL builds this user-defined south polar stereographic CRS with both axes "north"
    # (EPSG's "north along 90E" convention without the directions) and so swaps x and y:
    # its extent is at -77.7 degrees, ours at -44.5, where rho = hypot(x - FE, y - FN) =
    # 5.32e6 m from the pole puts the grid (2 a k0 tan(pi/4 - |lat|/2) = rho)
    "libgeotiff/polar_stereographic_variant_a.tif": "south polar axes swapped by GDAL",
    # GDAL reads the NTF (Paris) parameters from the keys in grads and converts them the
    # wrong way (latitude of origin 54.44 instead of 44.1 degrees; it warns that the keys do
    # not match the EPSG registry): we use EPSG:27563 as registered
    "libgeotiff/epsg_27563_allgeokeys.tif": "GDAL misconverts grads",
    # GDAL replaces the deprecated EPSG:3410 (authalic sphere) by EPSG:6933 (WGS 84
    # ellipsoid), another CRS (0.18 degrees of latitude apart here); we keep the code the
    # file names
    "libgeotiff/ProjectedCSTypeGeoKey_3410_lambert_cylindrical_equal_area.tif":
        "GDAL substitutes a deprecated code",
}

# Files where only GDAL's CRS code is not the reference (footprints agree).
CODE_WRONG = {
    # the CRS is in mils (GeogAngularUnitsGeoKey 9114): GDAL's CRS has mils too, yet its
    # authority code is EPSG:4742, which is in degrees; we give no code and the WKT2
    "libgeotiff/GeogAngularUnitsGeoKey_9114.tif": "EPSG:4742 is in degrees, the CRS in mils",
}

# Files where we have no footprint on purpose (warning says why); value: expected warning part.
NO_FOOTPRINT = {
    # geostationary (GEOS) grids: the corners are in space, off the Earth's disk; GDAL prints
    # "ERROR 1: ..." and has no wgs84Extent either
    "rasterio/goes.tif": "ModelTypeGeoKey",
    "rio-cogeo/image_geos.tif": "ModelTypeGeoKey",
    # ModelTypeGeoKey 32767: the CRS is only in the citation (ESRI WKT), which we do not read;
    # GDAL reads it (and its raster is in metres on a geographic CRS: no extent either)
    "rasterio/test_esri_wkt.tif": "ModelTypeGeoKey",
    # Mercator variant A with latitude of origin 30: an invalid CRS; PROJ refuses to build
    # its inverse (GDAL: "No inverse operation")
    "georust-geotiff/merc.tif": "outside the CRS",
    # Mars: PROJ has no transformation between celestial bodies, nor has GDAL
    "rio-tiler/cog_hirise_mars.tif": "no transformation",
    # ProjLinearUnitsGeoKey km over EPSG:32064 (US feet): like GDAL we let the key win, and
    # the tie point is then 440720 km east: off the planet (GDAL's wgs84Extent is empty)
    "libgeotiff/ProjLinearUnitsGeoKey_9036.tif": "outside the CRS",
    # a transform and no GeoKeyDirectory: GDAL has no CRS either
    "georust-geotiff/zh_dem_25.tif": "no GeoKeyDirectory",
    "rasterio/float.tif": "no GeoKeyDirectory",
    "rasterio/float32.tif": "no GeoKeyDirectory",
    "rasterio/float_nan.tif": "no GeoKeyDirectory",
    "rasterio/rotated.tif": "no GeoKeyDirectory",
}


def fail(msgs, path, msg):
    msgs.append("%s: %s" % (path, msg))


def dump(tool, paths):
    out = subprocess.run([tool] + paths, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def gdal_facts(path):
    """(geotransform or None, authority code or None, srs or None, wgs84Extent or None)."""
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        ds = gdal.Open(path)
        gt = ds.GetGeoTransform(can_return_null=True)
        srs = ds.GetSpatialRef()
        code = None
        if srs is not None:
            srs = srs.Clone()
            try:
                srs.AutoIdentifyEPSG()
            except RuntimeError:
                pass
            name = srs.GetAuthorityName(None)
            if name:
                code = "%s:%s" % (name, srs.GetAuthorityCode(None))
        try:
            ext = gdal.Info(ds, format="json").get("wgs84Extent")
        except (RuntimeError, ValueError):  # "No inverse operation", non-UTF-8 metadata
            ext = None
    finally:
        gdal.PopErrorHandler()
    return gt, code, srs, ext


def envelope(coords_list):
    xs = [p[0] for ring in coords_list for p in ring]
    ys = [p[1] for ring in coords_list for p in ring]
    return min(xs), min(ys), max(xs), max(ys)


def check_transform(msgs, name, ours, gt):
    if gt is None:
        if ours["transform"] is not None:
            fail(msgs, name, "transform here, none in GDAL")
        return False
    if ours["transform"] is None:
        fail(msgs, name, "GDAL has a geotransform, we have none")
        return False
    want = [gt[1], gt[2], gt[0], gt[4], gt[5], gt[3]]
    for a, b in zip(ours["transform"], want):
        if abs(a - b) > 1e-9 * max(1.0, abs(b)):
            fail(msgs, name, "transform %r != GDAL %r" % (ours["transform"], want))
            return False
    return True


def check_code(msgs, name, ours, code, srs):
    if name in GDAL_WRONG or name in CODE_WRONG:
        return
    if code is not None and ours["proj_code"] != code:
        fail(msgs, name, "proj_code %r != GDAL %r" % (ours["proj_code"], code))
    elif code is None and ours["proj_code"] is not None:
        mine = osr.SpatialReference()
        mine.SetFromUserInput(ours["proj_code"])
        mine.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        if srs is None or not mine.IsSame(srs, ["IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES"]):
            fail(msgs, name, "proj_code %r but GDAL's CRS is not that" % ours["proj_code"])
    if ours["proj_code"] is None and ours["wkb"] is not None and not ours["wkt2"]:
        fail(msgs, name, "a footprint but neither proj_code nor wkt2")


def decode(msgs, name, ours):
    """The WKB through OGR: geometry, list of exterior rings as coordinate lists."""
    g = ogr.CreateGeometryFromWkb(bytes.fromhex(ours["wkb"]))
    if g is None:
        fail(msgs, name, "OGR cannot read the WKB")
        return None, []
    want = "MULTIPOLYGON" if ours["multi"] else "POLYGON"
    if g.GetGeometryName() != want:
        fail(msgs, name, "WKB is %s, expected %s" % (g.GetGeometryName(), want))
    if not g.IsValid():
        fail(msgs, name, "OGR says the footprint is not valid: %s" % g.ExportToWkt()[:200])
    polys = [g.GetGeometryRef(i) for i in range(g.GetGeometryCount())] if ours["multi"] else [g]
    rings = []
    for p in polys:
        ring = p.GetGeometryRef(0)
        pts = [ring.GetPoint_2D(i) for i in range(ring.GetPointCount())]
        if pts[0] != pts[-1]:
            fail(msgs, name, "ring not closed")
        area2 = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(pts, pts[1:]))
        if area2 <= 0:
            fail(msgs, name, "exterior ring is not counterclockwise")
        rings.append(pts)
    for x, y in (pt for r in rings for pt in r):
        if not (-180 <= x <= 180 and -90 <= y <= 90):
            fail(msgs, name, "coordinate out of range: %r" % ((x, y),))
            break
    return g, rings


def gdal_densified(gt, w, h, srs, n=256):
    """GDAL's own densified outline: n points an edge through osr to OGC:CRS84."""
    pix = []
    for i in range(n):
        f = i / n
        pix += [(f * w, 0), (w, f * h), (w - f * w, h), (0, h - f * h)]
    native = [(gt[0] + c * gt[1] + r * gt[2], gt[3] + c * gt[4] + r * gt[5]) for c, r in pix]
    src = srs.Clone()
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    dst = osr.SpatialReference()
    dst.SetFromUserInput("OGC:CRS84")
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, dst)
    return [(p[0], p[1]) for p in ct.TransformPoints(native)]


def tolerance(srs, ext_pts):
    """Degrees two correct footprints may differ by, from the datum transformation alone:
    none on WGS 84; ~20 m between the several NAD83/ETRS89... -> WGS 84 transformations PROJ
    may pick inside the CRS's area of use; ~1 km outside it (libgeotiff's test rasters sit
    anywhere on the globe), where PROJ falls back to a ballpark transformation and GDAL's
    OCT to its first candidate."""
    geog = srs.CloneGeogCS()
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    if geog.IsSameGeogCS(wgs84):
        return 1e-6, "wgs84"
    aou = srs.GetAreaOfUse()
    if aou is not None:
        inside = all(aou.west_lon_degree - 1e-6 <= x <= aou.east_lon_degree + 1e-6 and
                     aou.south_lat_degree - 1e-6 <= y <= aou.north_lat_degree + 1e-6
                     for x, y in ext_pts)
        if inside:
            return 2e-4, "datum"
    return 1e-2, "outside-area"


def check_footprint(msgs, name, ours, ext, gt, srs, w, h, stats):
    g, rings = decode(msgs, name, ours)
    if g is None:
        return
    x0, y0, x1, y1 = envelope(rings)
    bb = ours["bbox"]
    if ours["multi"]:
        # the bbox crosses the antimeridian: west edge in the eastern part
        east = [r for r in rings if max(p[0] for p in r) >= 180 - 1e-9]
        west = [r for r in rings if min(p[0] for p in r) <= -180 + 1e-9]
        if not east or not west or bb[0] <= bb[2]:
            fail(msgs, name, "MultiPolygon is not a split at the antimeridian (bbox %r)" % bb)
        elif abs(bb[0] - envelope(east)[0]) > 1e-9 or abs(bb[2] - envelope(west)[2]) > 1e-9:
            fail(msgs, name, "bbox %r does not match the parts" % bb)
        x0, x1 = bb[0], bb[2] + 360
    elif max(abs(a - b) for a, b in zip(bb, (x0, y0, x1, y1))) > 1e-9:
        fail(msgs, name, "bbox %r != envelope of the WKB %r" % (bb, (x0, y0, x1, y1)))
    if name in GDAL_WRONG:
        return
    dens = gdal_densified(gt, w, h, srs)
    if ours["multi"]:
        dens = [(x + 360 if x < 0 else x, y) for x, y in dens]
    tol, kind = tolerance(srs, dens)
    stats[kind] = stats.get(kind, 0) + 1
    gx0, gy0, gx1, gy1 = envelope([dens])
    # our edges are within half a pixel of the true curve: one pixel of slack
    px = 1.0 * max(gx1 - gx0, gy1 - gy0) / min(w, h)
    worst = max(abs(x0 - gx0), abs(y0 - gy0), abs(x1 - gx1), abs(y1 - gy1))
    stats["worst_" + kind] = max(stats.get("worst_" + kind, 0), worst)
    if worst > tol + px:
        fail(msgs, name, "footprint envelope %r vs GDAL's densified outline %r (tolerance %g, "
             "%s)" % ((x0, y0, x1, y1), (gx0, gy0, gx1, gy1), tol + px, kind))
    # and GDAL's own wgs84Extent (corners only): each corner on our outline, within tol
    if ext is not None and ext["type"] == "Polygon":
        for cx, cy in ext["coordinates"][0]:
            # GDAL keeps longitudes past 180 as they are: try the corner a turn either way
            d = min(g.Distance(ogr.CreateGeometryFromWkt("POINT (%r %r)" % (cx + k, cy)))
                    for k in (-360, 0, 360))
            if d > tol + 1e-6:
                fail(msgs, name, "GDAL's corner (%r, %r) is %g degrees off our footprint" %
                     (cx, cy, d))
                break


STATS = {}


def compare(msgs, name, path, ours):
    gt, code, srs, ext = gdal_facts(path)
    if not check_transform(msgs, name, ours, gt):
        return "no-transform"
    if name in NO_FOOTPRINT:
        if ours["wkb"] is not None or NO_FOOTPRINT[name] not in (ours["warning"] or ""):
            fail(msgs, name, "expected no footprint and a warning with %r, got %r" %
                 (NO_FOOTPRINT[name], ours["warning"]))
        return "refused"
    if srs is None:
        if ours["wkb"] is not None:
            fail(msgs, name, "footprint but GDAL has no CRS")
        return "no-crs"
    check_code(msgs, name, ours, code, srs)
    if ours["wkb"] is None:
        fail(msgs, name, "no footprint (%s); GDAL has CRS %s" % (ours["warning"], code))
        return "missing"
    ds = gdal.Open(path)
    check_footprint(msgs, name, ours, ext, gt, srs, ds.RasterXSize, ds.RasterYSize, STATS)
    return "footprint"


def check_generated_specifics(msgs, res, paths):
    """What GDAL cannot tell: the shape of the footprints of the generated cases."""
    def rings(name):
        g = ogr.CreateGeometryFromWkb(bytes.fromhex(res[name]["wkb"]))
        return g
    for name, lat in (("gen/polar_3031.tif", -90), ("gen/polar_3413.tif", 90)):
        r = res[name]
        if r["wkb"] is None:
            fail(msgs, name, "no footprint: %s" % r["warning"])
            continue
        g = rings(name)
        if r["bbox"][0] != -180 or r["bbox"][2] != 180 or (lat < 0 and r["bbox"][1] != -90) or \
                (lat > 0 and r["bbox"][3] != 90):
            fail(msgs, name, "bbox %r does not reach the pole over all longitudes" % r["bbox"])
        # points near the pole are inside, a point far outside the raster is not
        for lon in (-170.0, -45.0, 0.0, 60.0, 135.0):
            p = ogr.CreateGeometryFromWkt("POINT (%r %r)" % (lon, lat * 0.999))
            if not g.Contains(p):
                fail(msgs, name, "footprint misses (%r, %r) near the pole" % (lon, lat * 0.999))
        if g.Contains(ogr.CreateGeometryFromWkt("POINT (0 %r)" % (lat * 0.3))):
            fail(msgs, name, "footprint contains a point at latitude %r" % (lat * 0.3))
    for name in ("gen/antimeridian_4326.tif", "gen/antimeridian_32601.tif"):
        r = res[name]
        if r["wkb"] is None or not r["multi"] or not r["bbox"][0] > r["bbox"][2]:
            fail(msgs, name, "not split at the antimeridian: %r" % r)
    r = res["gen/antimeridian_4326.tif"]
    if r["bbox"] and max(abs(a - b) for a, b in zip(r["bbox"], (170, -20, -170, -10))) > 1e-9:
        fail(msgs, "gen/antimeridian_4326.tif", "bbox %r" % r["bbox"])
    r = res["gen/global_4326.tif"]
    if r["multi"] or r["bbox"] != [-180, -90, 180, 90]:
        fail(msgs, "gen/global_4326.tif", "global grid: %r" % r["bbox"])
    # GDAL writes a PixelIsPoint raster with the tie point at the centre of pixel (0, 0); the
    # transform is about pixel corners again (and equals GDAL's, compared above)
    r = res["gen/pixel_is_point_32633.tif"]
    tif = tifffile.TiffFile(paths["gen/pixel_is_point_32633.tif"])
    tie = tif.pages[0].tags[33922].value
    keys = tif.pages[0].tags[34735].value
    point = any(keys[i] == 1025 and keys[i + 3] == 2 for i in range(4, len(keys), 4))
    if not point or tuple(tie[3:5]) != (500015, 4999985) or \
            r["transform"] != [30, 0, 500000, 0, -30, 5000000]:
        fail(msgs, "gen/pixel_is_point_32633.tif", "PixelIsPoint: keys %r tie %r transform %r" %
             (keys, tie, r["transform"]))


def main():
    tool, corpus = sys.argv[1], sys.argv[2]
    msgs = []
    names = []
    for root, _, files in os.walk(corpus):
        for f in files:
            if f.lower().endswith((".tif", ".tiff")):
                names.append(os.path.relpath(os.path.join(root, f), corpus))
    names.sort()
    res = {}
    for d in dump(tool, [os.path.join(corpus, n) for n in names]):
        res[os.path.relpath(d["path"], corpus)] = d
    counts = {}
    for name in names:
        ours = res[name]
        if ours["error"] is not None:
            continue
        if ours["transform"] is None and ours["wkb"] is None:
            # GDAL must agree there is no geotransform (files GDAL cannot open are skipped)
            try:
                gt = gdal_facts(os.path.join(corpus, name))[0]
            except (RuntimeError, AttributeError):  # GDAL cannot open it
                continue
            if gt is not None:
                fail(msgs, name, "GDAL has a geotransform %r, we have none (%s)" %
                     (gt, ours["warning"]))
            continue
        kind = compare(msgs, name, os.path.join(corpus, name), ours)
        counts[kind] = counts.get(kind, 0) + 1
    with tempfile.TemporaryDirectory() as tmp:
        gen = generated(tmp)
        out = dump(tool, list(gen.values()))
        back = {v: k for k, v in gen.items()}
        gres = {back[d["path"]]: d for d in out}
        for name, path in gen.items():
            kind = compare(msgs, name, path, gres[name])
            counts["gen-" + kind] = counts.get("gen-" + kind, 0) + 1
        check_generated_specifics(msgs, gres, gen)
    for m in msgs:
        print("FAIL", m)
    print("geo_gdal: %s; tolerance classes %s; %d failures" %
          (json.dumps(counts, sort_keys=True), json.dumps(STATS, sort_keys=True), len(msgs)))
    return 1 if msgs else 0


if __name__ == "__main__":
    sys.exit(main())
