"""cog_valid, cog_errors, overview_count and mask_count against GDAL, on files GDAL makes now.

    /usr/bin/python3 gdal_cog_test.py DUMP CORPUS_DIR

DUMP is tiff_corpus_dump (the parser fed like a store: 16 KiB prefetch, then its rounds).
The set is generated at run time with gdal_create / gdal_translate / gdaladdo (gdal-bin)
in a temporary directory: COGs with and without overviews, with a mask, BigTIFF, JPEG/YCbCr;
GTiffs with overviews added afterwards (tiled, striped, with masks); large striped files; a
small file; an external .ovr; a SubIFD pyramid (tifffile); a 100,000-strip file with the default and a tight fetch budget.
For each file GDAL's validator (validate_cloud_optimized_geotiff.validate, full_check=False)
and GetOverviewCount() are the oracle: our verdict, our error list (GDAL's wording) and our
counts must agree, except where DIFFERENT explains why they cannot. Then the same for every
corpus file that GDAL opens as a GTiff (files GDAL refuses or opens with another driver are
counted and skipped: the validator needs a GTiff dataset).
"""
import json
import os
import subprocess
import sys
import tempfile

from osgeo import gdal
from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate

gdal.UseExceptions()

# Disagreements we expect, with the reason: case -> (what differs, why).
DIFFERENT = {
    "external_ovr": (
        "GDAL: 2 overviews and the error 'Overviews found in external .ovr file'; ours: none",
        "the overviews live in the sibling file x.tif.ovr, which GDAL opens and a reader of "
        "the object alone never sees; the object itself is a valid tiled GTiff"),
}


def run(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def make(d):
    """Yield (case, path, extra dump args)."""
    j = lambda n: os.path.join(d, n)  # noqa: E731
    run("gdal_create", "-q", "-of", "GTiff", "-outsize", "1200", "1000", "-bands", "1",
        "-ot", "Byte", "-burn", "7", j("src1.tif"))
    run("gdal_create", "-q", "-of", "GTiff", "-outsize", "1200", "1000", "-bands", "3",
        "-ot", "Byte", "-burn", "90", "-burn", "120", "-burn", "60", j("src3.tif"))
    run("gdal_translate", "-q", "-of", "COG", "-co", "OVERVIEWS=NONE", j("src1.tif"),
        j("cog_no_ovr.tif"))
    yield "cog_no_ovr", j("cog_no_ovr.tif")
    run("gdal_translate", "-q", "-of", "COG", "-co", "BLOCKSIZE=256", j("src1.tif"),
        j("cog_ovr.tif"))
    yield "cog_ovr", j("cog_ovr.tif")
    run("gdal_translate", "-q", "-of", "GTiff", "-mask", "1", "--config",
        "GDAL_TIFF_INTERNAL_MASK", "YES", j("src1.tif"), j("src_mask.tif"))
    run("gdal_translate", "-q", "-of", "COG", "-co", "BLOCKSIZE=256", j("src_mask.tif"),
        j("cog_mask.tif"))
    yield "cog_mask", j("cog_mask.tif")
    run("gdal_translate", "-q", "-of", "COG", "-co", "BIGTIFF=YES", "-co", "BLOCKSIZE=256",
        j("src1.tif"), j("cog_bigtiff.tif"))
    yield "cog_bigtiff", j("cog_bigtiff.tif")
    run("gdal_translate", "-q", "-of", "COG", "-co", "COMPRESS=JPEG", "-co", "BLOCKSIZE=256",
        j("src3.tif"), j("cog_jpeg.tif"))
    yield "cog_jpeg", j("cog_jpeg.tif")
    run("gdal_translate", "-q", "-of", "GTiff", "-co", "TILED=YES", "-co", "COMPRESS=JPEG",
        "-co", "PHOTOMETRIC=YCBCR", j("src3.tif"), j("gtiff_ycbcr_addo.tif"))
    run("gdaladdo", "-q", j("gtiff_ycbcr_addo.tif"), "2", "4")
    yield "gtiff_ycbcr_addo", j("gtiff_ycbcr_addo.tif")
    run("gdal_translate", "-q", "-of", "GTiff", "-co", "TILED=YES", j("src1.tif"),
        j("gtiff_tiled_addo.tif"))
    run("gdaladdo", "-q", j("gtiff_tiled_addo.tif"), "2", "4", "8")
    yield "gtiff_tiled_addo", j("gtiff_tiled_addo.tif")
    run("gdal_create", "-q", "-of", "GTiff", "-outsize", "2000", "1500", "-bands", "1",
        "-burn", "3", j("striped_big.tif"))
    yield "striped_big", j("striped_big.tif")
    run("gdal_translate", "-q", "-of", "GTiff", j("striped_big.tif"), j("striped_addo.tif"))
    run("gdaladdo", "-q", j("striped_addo.tif"), "2", "4")
    yield "striped_addo", j("striped_addo.tif")
    run("gdal_translate", "-q", "-of", "GTiff", "-co", "TILED=YES", "-mask", "1", "--config",
        "GDAL_TIFF_INTERNAL_MASK", "YES", j("src1.tif"), j("gtiff_mask_addo.tif"))
    run("gdaladdo", "-q", j("gtiff_mask_addo.tif"), "2", "4")
    yield "gtiff_mask_addo", j("gtiff_mask_addo.tif")
    run("gdal_create", "-q", "-of", "GTiff", "-outsize", "100", "80", "-bands", "1",
        "-burn", "1", j("small.tif"))
    yield "small", j("small.tif")
    run("gdal_translate", "-q", "-of", "GTiff", "-co", "TILED=YES", j("src1.tif"),
        j("external_ovr.tif"))
    run("gdaladdo", "-q", "-ro", j("external_ovr.tif"), "2", "4")
    yield "external_ovr", j("external_ovr.tif")
    # a pyramid in the SubIFDs of each page (tifffile's layout; GDAL takes IFD 0's SubIFDs
    # as its overviews)
    import numpy
    import tifffile
    data = numpy.arange(600 * 600, dtype="uint16").reshape(600, 600)
    with tifffile.TiffWriter(j("subifds.tif")) as tif:
        for _ in range(2):
            tif.write(data, subifds=2, tile=(256, 256), metadata=None)
            tif.write(data[::2, ::2], subfiletype=1, tile=(256, 256), metadata=None)
            tif.write(data[::4, ::4], subfiletype=1, tile=(256, 256), metadata=None)
    yield "subifds", j("subifds.tif")
    run("gdal_create", "-q", "-of", "GTiff", "-outsize", "16", "100000", "-bands", "1",
        "-co", "BLOCKYSIZE=1", "-burn", "1", j("strips100k.tif"))
    yield "strips100k", j("strips100k.tif")


def dump(exe, path, *args):
    out = subprocess.run([exe, *args, path], capture_output=True, check=True).stdout
    return json.loads(out)


def corpus_check(exe, corpus, fails):
    files = sorted(json.loads(l)["path"] for l in open(os.path.join(corpus, "expected.jsonl")))
    out = subprocess.run([exe] + files, cwd=corpus, capture_output=True, check=True).stdout
    got = {}
    for line in out.decode().splitlines():
        r = json.loads(line)
        got[r["path"]] = r["header"]
    n = skipped = 0
    for f in files:
        gdal.PushErrorHandler("CPLQuietErrorHandler")
        try:
            ds = gdal.Open(os.path.join(corpus, f))
            if ds.GetDriver().ShortName != "GTiff" or ds.RasterCount == 0:
                raise RuntimeError("not a GTiff dataset")
            _, ge, _ = validate(ds, full_check=False)
            g_ovr = ds.GetRasterBand(1).GetOverviewCount()
        except Exception:  # GDAL refuses it: no oracle
            skipped += 1
            continue
        finally:
            gdal.PopErrorHandler()
        ds = None
        n += 1
        h = got.get(f)
        if h is None:
            fails.append(f"corpus {f}: GDAL opens it, our parser fails")
        elif (h["cog_valid"], h["overview_count"], h["cog_errors"]) != (not ge, g_ovr, ge):
            fails.append(f"corpus {f}: ours {h['cog_valid']} {h['overview_count']} "
                         f"{h['cog_errors']} GDAL {not ge} {g_ovr} {ge}")
    print(f"corpus: {n} files compared with GDAL, {skipped} GDAL does not open as a GTiff")


def main():
    exe = os.path.abspath(sys.argv[1])
    fails = []
    corpus_check(exe, sys.argv[2], fails)
    with tempfile.TemporaryDirectory() as d:
        for case, path in make(d):
            r = dump(exe, path)
            h = r["header"]
            if h is None:
                fails.append(f"{case}: our parser failed: {r['message']}")
                continue
            ds = gdal.Open(path)
            gw, ge, _ = validate(ds, full_check=False)
            b1 = ds.GetRasterBand(1)
            g_ovr = b1.GetOverviewCount()
            g_mask = 0
            if b1.GetMaskFlags() == gdal.GMF_PER_DATASET:
                g_mask = 1 + b1.GetMaskBand().GetOverviewCount()
            ds = None
            got = (h["cog_valid"], h["overview_count"], h["mask_count"], h["cog_errors"])
            want = (not ge, g_ovr, g_mask, ge)
            missing_w = [w for w in gw if w not in h["cog_warnings"]]
            print(f"{case}: requests {r['requests']} fetched {r['fetched_bytes']} ifd_bytes "
                  f"{h['ifd_bytes']} first_data {h['first_data_offset']} | ours valid "
                  f"{got[0]} ovr {got[1]} mask {got[2]} | GDAL valid {want[0]} ovr {want[1]} "
                  f"mask {want[2]}")
            if case in DIFFERENT:
                if got == want:
                    fails.append(f"{case}: expected to differ ({DIFFERENT[case][0]}) but agrees")
                else:
                    print(f"  differs as documented: {DIFFERENT[case][0]}: {DIFFERENT[case][1]}")
                continue
            if got != want or missing_w:
                fails.append(f"{case}: ours {got} warnings {h['cog_warnings']}\n    GDAL {want} "
                             f"warnings {gw}")
            if case == "strips100k":
                # 100,000 strips: 800 KB of arrays after the image data. With the default
                # budget they are fetched (a few requests); with a 64 KiB budget they are
                # not (the budget counts the follow-ups after the 16 KiB prefetch): the counts
                # stay, sparse_tiles is null and a warning names the arrays.
                t = dump(exe, path, "--max-fetch", "65536")
                th = t["header"]
                main = th["ifds"][0]
                print(f"  --max-fetch 65536: requests {t['requests']} fetched "
                      f"{t['fetched_bytes']} blocks {main['blocks']} sparse "
                      f"{th['sparse_tiles']} valid {th['cog_valid']} "
                      f"warnings {th['cog_warnings']}")
                if (t["fetched_bytes"] > 65536 + 16384 or main["blocks"] != 100000 or
                        th["sparse_tiles"] is not None or
                        not any(w.startswith("check skipped: block order")
                                for w in th["cog_warnings"]) or
                        not any("arrays (100000 items) not read" in w for w in th["warnings"])):
                    fails.append("strips100k with a 64 KiB budget: " + json.dumps(
                        {k: th[k] for k in ("sparse_tiles", "cog_valid", "cog_warnings",
                                            "warnings")})[:600])
                if h["sparse_tiles"] != 0 or h["ifds"][0]["blocks"] != 100000:
                    fails.append(f"strips100k: sparse {h['sparse_tiles']}")
    for f in fails:
        print("FAIL " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
