"""Rasters GDAL writes for the footprint tests (tests/geo, tests/cli): name -> path.
Each case is one georeferencing situation the footprint code must get right."""
import os

from osgeo import gdal, osr

gdal.UseExceptions()



def make(path, w, h, gt, epsg=None, wkt=None, point=False, rotated=False):
    drv = gdal.GetDriverByName("GTiff")
    opts = ["GEOTIFF_VERSION=1.1", "SPARSE_OK=TRUE", "TILED=YES"]
    ds = drv.Create(path, w, h, 1, gdal.GDT_Byte, opts)
    ds.SetGeoTransform(gt)
    srs = osr.SpatialReference()
    if epsg:
        srs.ImportFromEPSG(epsg)
    else:
        srs.ImportFromWkt(wkt)
    ds.SetSpatialRef(srs)
    if point:
        ds.SetMetadataItem("AREA_OR_POINT", "Point")
    ds = None


def generated(tmp):
    cases = {
        # UTM 33N, a Sentinel-2-like 10980 px tile of 10 m
        "gen/utm_32633.tif": (10980, 10980, (399960, 10, 0, 5300040, 0, -10), 32633, False),
        # Antarctica in polar stereographic, the south pole inside
        "gen/polar_3031.tif": (1000, 1000, (-2500000, 5000, 0, 2500000, 0, -5000), 3031, False),
        # the Arctic (NSIDC sea ice grid), the north pole inside
        "gen/polar_3413.tif": (760, 1120, (-3850000, 10000, 0, 5850000, 0, -10000), 3413,
                               False),
        # a geographic raster across the antimeridian (170E .. 190E)
        "gen/antimeridian_4326.tif": (200, 100, (170, 0.1, 0, -10, 0, -0.1), 4326, False),
        # UTM 1N tile whose west part is east of 180 (a Fiji / Aleutian case)
        "gen/antimeridian_32601.tif": (1098, 1098, (199980, 100, 0, 5800020, 0, -100), 32601,
                                       False),
        # PixelIsPoint: GDAL shifts the origin by half a pixel
        "gen/pixel_is_point_32633.tif": (100, 100, (500000, 30, 0, 5000000, 0, -30), 32633,
                                         True),
        # rotated grid: ModelTransformation
        "gen/rotated_32633.tif": (200, 100, (500000, 25.98, 15, 5000000, 15, -25.98), 32633,
                                  False),
        # global geographic grid, touching both poles and the antimeridian
        "gen/global_4326.tif": (360, 180, (-180, 1, 0, 90, 0, -1), 4326, False),
    }
    out = {}
    for name, (w, h, gt, epsg, point) in cases.items():
        path = os.path.join(tmp, name.replace("/", "_"))
        make(path, w, h, gt, epsg=epsg, point=point)
        out[name] = path
    return out
