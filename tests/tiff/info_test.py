#!/usr/bin/env python3
"""Test of `tiff-dumper info`.
   info_test.py CORPUS_DIR COMMAND...   e.g. tiff_info_driver, or tiff-dumper info"""
import json
import os
import subprocess
import sys
import tempfile

corpus, cmd = sys.argv[1], sys.argv[2:]
fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print("FAIL:", what)


def run(*args):
    return subprocess.run([*cmd, *args], capture_output=True, timeout=120)


expected = {}
for line in open(os.path.join(corpus, "expected.jsonl"), encoding="utf-8"):
    r = json.loads(line)
    expected[r["path"]] = r
files = ["cogeotiff/be_cog.tiff", "async-tiff/other/geogtowgs_subset_USGS_13_s14w171.tif",
         "libtiff/test_ifd_loop_to_first.tif", "image-tiff/images/cmyk-4c-8b.tiff"]
paths = [os.path.join(corpus, f) for f in files]

# --json: one line per file, header fields as in the corpus
r = run("--json", *paths)
check(r.returncode == 0, f"--json exit {r.returncode} {r.stderr!r}")
lines = r.stdout.decode("utf-8").splitlines()
check(len(lines) == len(files), "one line per file")
for f, line in zip(files, lines):
    o = json.loads(line)
    e = expected[f]
    check(o["path"] == os.path.join(corpus, f), "path first")
    check(list(o)[0] == "path", "path is the first key")
    for k in ("byte_order", "bigtiff", "first_ifd_offset", "ifd_count", "ifd_chain_error",
              "image_width", "image_height", "bits_per_sample", "geokeys_header"):
        check(o[k] == e[k], f"{f} {k}: {o[k]!r} != {e[k]!r}")

# every image and the verdict (issue 15): be_cog.tiff puts its data before the IFDs
o = json.loads(lines[0])
check(len(o["ifds"]) == o["ifd_count"] and o["ifds"][0]["kind"] == "main", "ifds in --json")
check(o["first_data_offset"] is not None and o["ifd_bytes"] > o["first_data_offset"],
      f"be_cog: data before the IFDs {o['first_data_offset']} {o['ifd_bytes']}")
check(o["cog_valid"] is False and o["cog_errors"], f"be_cog verdict {o['cog_errors']}")
check(all(k in o for k in ("overview_count", "mask_count", "sparse_tiles", "empty",
                           "cog_warnings", "gdal_structural_metadata")), "verdict keys")

# errors: a non-TIFF, a missing file, exit 1, the good files still printed
with tempfile.TemporaryDirectory() as d:
    bad = os.path.join(d, "bad.tif")
    with open(bad, "wb") as fh:
        fh.write(b"GIF89a" + b"\0" * 100)
    missing = os.path.join(d, "missing.tif")
    r = run("--json", bad, paths[0], missing)
    check(r.returncode == 1, f"exit 1 when some fail, got {r.returncode}")
    ls = [json.loads(x) for x in r.stdout.decode().splitlines()]
    check(len(ls) == 3, "three lines")
    check(ls[0].get("error") == "not_tiff" and "byte order" in ls[0].get("message", ""),
          f"not_tiff line {ls[0]}")
    check(ls[1].get("error") is None and ls[1]["image_width"] == 64, "good file between")
    check(ls[2].get("error") == "io", f"missing file {ls[2]}")
    r = run(bad)
    check(r.returncode == 1 and b"not_tiff" in r.stdout, "text error form")

# text form
r = run(*paths[:2])
check(r.returncode == 0, "text exit 0")
t = r.stdout.decode("utf-8")
check("byte_order" in t and "MM (big-endian)" in t, "text byte order")
check("jpeg_tables" in t and "tile_offsets_count" in t, "text named fields present")
check("geographic_type" in t and "4269" in t and "2062" in t, "text geokeys")
check("document_name" not in t, "absent fields not shown")
check("cog_valid" in t and "ifds" in t and "overview_count" in t and "error: " in t,
      "text verdict and IFD table")
r = run(paths[2])
check("ifd_chain_error" in r.stdout.decode() and "cycle" in r.stdout.decode(), "chain error shown")
r = run(paths[3])
check("other tags" in r.stdout.decode() and "34665" in r.stdout.decode(), "other tags shown")

# usage
r = run()
check(r.returncode == 2 and b"usage" in r.stderr, "no file: exit 2")
r = run("--bogus", paths[0])
check(r.returncode == 2, "unknown option: exit 2")
r = run("--help")
check(r.returncode == 0 and b"usage: tiff-dumper info" in r.stdout, "--help")

print("info test:", "FAILED" if fails else "ok")
sys.exit(1 if fails else 0)
