#!/usr/bin/python3
"""Writes the small sample store under examples/data/ (committed), deterministically.

    /usr/bin/python3 examples/make_examples.py            # (re)write examples/data
    /usr/bin/python3 examples/make_examples.py --check DIR # the files are what they claim

Needs Debian's python3-tifffile and python3-numpy (/usr/bin/python3, not a pyenv python).
Pixel data are arithmetic patterns (no random numbers), tifffile writes no date and no
description, so the bytes only change when tifffile or zlib do.

What is in it (tiff-dumper's view of each file):
  cog_utm33n.tif           tiled, deflate+predictor, 2 overviews, EPSG:32633, GDAL_NODATA;
                           COG-shaped but not a valid COG by GDAL's rules (tifffile writes
                           the main image's tiles before the overviews'): cog_valid is false
                           and cog_errors says why, which is what the verdict is for
  geographic_float32.tif   EPSG:4326 float32, GeoDoubleParams, GDAL_METADATA, GDAL_NODATA
  striped_bigendian.tif    big-endian ("MM"), RGB, strips, uncompressed
  bigtiff.tif              BigTIFF (version 43), tiled
  UPPER_CASE.TIFF          suffixes match case-insensitively
  nested/deeper/nested.tif a key two folders down
  broken.tif               text with a .tif name: an error row (not a TIFF)
  truncated.tif            a valid TIFF cut inside its first IFD: an error row
  README.txt               not a TIFF by name: skipped, never fetched
"""
import io
import os
import sys

import numpy as np
import tifffile

HERE = os.path.dirname(os.path.abspath(__file__))

# GeoTIFF tags (GeoTIFF 1.1 and GDAL's private tags)
MODEL_PIXEL_SCALE = 33550
MODEL_TIEPOINT = 33922
GEO_KEY_DIRECTORY = 34735
GEO_DOUBLE_PARAMS = 34736
GEO_ASCII_PARAMS = 34737
GDAL_METADATA = 42112
GDAL_NODATA = 42113


def geokeys(keys):
    """keys: [(id, location, count, value_or_offset)] -> the GeoKeyDirectory tag."""
    out = [1, 1, 0, len(keys)]
    for k in sorted(keys):
        out.extend(k)
    return (GEO_KEY_DIRECTORY, "H", len(out), out, True)


def utm33n_tags(width, scale):
    citation = "WGS 84 / UTM zone 33N|"
    return [
        (MODEL_PIXEL_SCALE, "d", 3, (scale, scale, 0.0), True),
        (MODEL_TIEPOINT, "d", 6, (0.0, 0.0, 0.0, 500000.0, 5000000.0, 0.0), True),
        geokeys([
            (1024, 0, 1, 1),            # GTModelTypeGeoKey: projected
            (1025, 0, 1, 1),            # GTRasterTypeGeoKey: PixelIsArea
            (1026, GEO_ASCII_PARAMS, len(citation), 0),  # GTCitationGeoKey
            (3072, 0, 1, 32633),        # ProjectedCSTypeGeoKey: WGS 84 / UTM 33N
            (3076, 0, 1, 9001),         # ProjLinearUnitsGeoKey: metre
        ]),
        (GEO_ASCII_PARAMS, "s", 0, citation, True),
        (GDAL_NODATA, "s", 0, "0", True),
    ]


def geographic_tags():
    citation = "WGS 84|"
    return [
        (MODEL_PIXEL_SCALE, "d", 3, (0.1, 0.1, 0.0), True),
        (MODEL_TIEPOINT, "d", 6, (0.0, 0.0, 0.0, 10.0, 50.0, 0.0), True),
        geokeys([
            (1024, 0, 1, 2),            # geographic
            (1025, 0, 1, 1),
            (2048, 0, 1, 4326),         # GeographicTypeGeoKey
            (2049, GEO_ASCII_PARAMS, len(citation), 0),  # GeogCitationGeoKey
            (2054, 0, 1, 9102),         # GeogAngularUnitsGeoKey: degree
            (2057, GEO_DOUBLE_PARAMS, 1, 0),  # GeogSemiMajorAxisGeoKey
            (2059, GEO_DOUBLE_PARAMS, 1, 1),  # GeogInvFlatteningGeoKey
        ]),
        (GEO_DOUBLE_PARAMS, "d", 2, (6378137.0, 298.257223563), True),
        (GEO_ASCII_PARAMS, "s", 0, citation, True),
        (GDAL_METADATA, "s", 0,
         '<GDALMetadata>\n'
         '  <Item name="STATISTICS_MINIMUM" sample="0">-2.5</Item>\n'
         '  <Item name="STATISTICS_MAXIMUM" sample="0">47.25</Item>\n'
         '  <Item name="UNITTYPE" sample="0" role="unittype">celsius</Item>\n'
         '  <Item name="SCALE" sample="0" role="scale">1</Item>\n'
         '</GDALMetadata>\n', True),
        (GDAL_NODATA, "s", 0, "-9999", True),
    ]


def pattern(h, w, dtype, k=1):
    y, x = np.mgrid[0:h, 0:w]
    return ((x * 3 + y * 5 * k + (x * y) // 7) % 251).astype(dtype)


def tiff_bytes(write):
    buf = io.BytesIO()
    write(buf)
    return buf.getvalue()


def cog(buf):
    full = pattern(128, 128, np.uint16) * 100
    with tifffile.TiffWriter(buf) as t:
        for level, scale in ((1, 10.0), (2, 20.0), (4, 40.0)):
            img = full[::level, ::level]
            t.write(img, tile=(32, 32), compression="zlib", predictor=True, metadata=None,
                    subfiletype=0 if level == 1 else 1,
                    extratags=utm33n_tags(img.shape[1], scale) if level == 1 else None)


def geographic(buf):
    img = pattern(50, 100, np.float32) / 5.0 - 2.5
    img[0, 0] = -9999.0
    with tifffile.TiffWriter(buf) as t:
        t.write(img, rowsperstrip=10, compression="zlib", metadata=None,
                extratags=geographic_tags())


def striped_be(buf):
    rgb = np.stack([pattern(80, 96, np.uint8, k) for k in (1, 2, 3)], axis=-1)
    with tifffile.TiffWriter(buf, byteorder=">") as t:
        t.write(rgb, photometric="rgb", rowsperstrip=16, metadata=None)


def bigtiff(buf):
    with tifffile.TiffWriter(buf, bigtiff=True) as t:
        t.write(pattern(64, 64, np.uint8), tile=(32, 32), compression="zlib", metadata=None,
                extratags=utm33n_tags(64, 30.0))


def small(buf):
    with tifffile.TiffWriter(buf) as t:
        t.write(pattern(32, 32, np.uint8), metadata=None)


FILES = {
    "cog_utm33n.tif": cog,
    "geographic_float32.tif": geographic,
    "striped_bigendian.tif": striped_be,
    "bigtiff.tif": bigtiff,
    "UPPER_CASE.TIFF": small,
    "nested/deeper/nested.tif": small,
}
BAD = {
    "broken.tif": b"This is not a TIFF file, only text with a .tif name.\n",
    # header + IFD offset 8 + entry count, then cut inside the first IFD entries
    "truncated.tif": tiff_bytes(cog)[:60],
}
SKIPPED = {
    "README.txt": b"Sample store for tiff-dumper (written by examples/make_examples.py).\n"
                  b"This file does not end in .tif/.tiff, so tiff-dumper skips it.\n",
}


def write_all(out):
    for name, fn in FILES.items():
        data = tiff_bytes(fn)
        path = os.path.join(out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    for name, data in {**BAD, **SKIPPED}.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def check(out):
    bad = 0

    def fail(msg):
        nonlocal bad
        bad += 1
        print("FAIL", msg)

    total = 0
    for name in list(FILES) + list(BAD) + list(SKIPPED):
        path = os.path.join(out, name)
        if not os.path.exists(path):
            fail(f"{name} missing")
            continue
        total += os.path.getsize(path)
    if total > 1 << 20:
        fail(f"examples total {total} bytes, more than 1 MiB")
    for name in FILES:
        path = os.path.join(out, name)
        try:
            with tifffile.TiffFile(path) as t:
                t.pages[0].asarray()
                p = t.pages[0]
                if name == "cog_utm33n.tif":
                    if len(t.pages) != 3 or not p.is_tiled:
                        fail(f"{name}: want 3 tiled IFDs")
                    gk = p.tags[GEO_KEY_DIRECTORY].value
                    if 32633 not in gk:
                        fail(f"{name}: no EPSG:32633 GeoKey")
                    if p.tags[GDAL_NODATA].value != "0":
                        fail(f"{name}: GDAL_NODATA")
                if name == "striped_bigendian.tif" and t.byteorder != ">":
                    fail(f"{name}: not big-endian")
                if name == "bigtiff.tif" and not t.is_bigtiff:
                    fail(f"{name}: not BigTIFF")
                if name == "geographic_float32.tif":
                    if p.dtype != np.float32 or GDAL_METADATA not in p.tags:
                        fail(f"{name}: want float32 with GDAL_METADATA")
        except Exception as e:  # noqa: BLE001 - any failure to read is the finding
            fail(f"{name}: {e}")
    for name in BAD:
        try:
            with tifffile.TiffFile(os.path.join(out, name)) as t:
                t.pages[0].asarray()
            fail(f"{name} reads as a valid TIFF")
        except Exception:  # noqa: BLE001
            pass
    print(f"{len(FILES)} good, {len(BAD)} bad, {len(SKIPPED)} skipped; {total} bytes;",
          "FAILED" if bad else "ok")
    return 1 if bad else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        return check(sys.argv[2])
    if len(sys.argv) != 1:
        print(__doc__)
        return 2
    out = os.path.join(HERE, "data")
    write_all(out)
    return check(out)


if __name__ == "__main__":
    sys.exit(main())
