#!/usr/bin/env python3
"""Compare tiff_corpus_dump's output for every corpus file with tests/corpus/expected.jsonl.
Run as `python3 -m tdtest.corpus_compare` (ctest test tiff_corpus).

Every field of every expected record is checked; a difference fails the test unless
accepted_deviations.txt lists it (lines: PATH_GLOB FIELD REASON...). Mapping rules (not
deviations, they follow from the two formats):
- model_transformation, gdal_metadata, gdal_nodata are named fields here and sit in
  expected other_tags (34264, 42112, 42113): ours has them in both (as the Python tool has
  them in other_tags), and the other_tags copy must be tifffile's type, count and value.
- A named field whose entry has a type/count that does not suit the field is kept in our
  other_tags (with a warning): the expected named value is then compared with that value.
- A capped other_tags / geokeys_other value ("capped": true) must be a prefix of the
  expected value.
- expected geokeys_other holds bare values, ours {"type","count","value"}.
- warnings: every tifffile "invalid data type" / "invalid value offset" warning and every
  duplicate tag must appear in ours (as "tag T at OFFSET: ..."), and vice versa.
Also prints the distribution of requests per file and fails when a file needs more rounds
than its dependency depth (2 + IFDs) or a COG-like file whose header fits in the prefetch
needs more than one request.
"""
import argparse
import fnmatch
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter

MAX_REQUESTS = 8  # no corpus file may need more, whatever its IFD chain
NAMED_IN_OTHER = {"model_transformation": "34264", "gdal_metadata": "42112",
                  "gdal_nodata": "42113"}
NAMED = ["new_subfile_type", "image_width", "image_height", "bits_per_sample", "compression",
         "photometric_interpretation", "document_name", "image_description", "orientation",
         "samples_per_pixel", "rows_per_strip", "min_sample_value", "max_sample_value",
         "x_resolution", "y_resolution", "planar_configuration", "resolution_unit", "software",
         "date_time", "artist", "host_computer", "predictor", "tile_width", "tile_height",
         "extra_samples", "sample_format", "jpeg_tables", "copyright", "model_pixel_scale",
         "model_tiepoint", "strip_offsets_count", "strip_byte_counts_count",
         "tile_offsets_count", "tile_byte_counts_count"]
TAG_OF = {"new_subfile_type": 254, "image_width": 256, "image_height": 257,
          "bits_per_sample": 258, "compression": 259, "photometric_interpretation": 262,
          "document_name": 269, "image_description": 270, "orientation": 274,
          "samples_per_pixel": 277, "rows_per_strip": 278, "min_sample_value": 280,
          "max_sample_value": 281, "x_resolution": 282, "y_resolution": 283,
          "planar_configuration": 284, "resolution_unit": 296, "software": 305,
          "date_time": 306, "artist": 315, "host_computer": 316, "predictor": 317,
          "tile_width": 322, "tile_height": 323, "extra_samples": 338, "sample_format": 339,
          "jpeg_tables": 347, "copyright": 33432, "model_pixel_scale": 33550,
          "model_tiepoint": 33922, "strip_offsets_count": 273, "strip_byte_counts_count": 279,
          "tile_offsets_count": 324, "tile_byte_counts_count": 325,
          "model_transformation": 34264, "gdal_metadata": 42112, "gdal_nodata": 42113}
WARN_RE = re.compile(r"<tifffile\.TiffTag (\d+) @(\d+)> (invalid data type|invalid value offset)")
MY_WARN_RE = re.compile(r"^tag (\d+) at (\d+): (invalid data type|invalid value offset"
                        r"|duplicate entry)")


def norm(v):
    """JSON values compared with floats as floats (72 == 72.0) and lists as lists."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    return v


def same(a, b):
    a, b = norm(a), norm(b)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def is_prefix(mine, exp):
    if isinstance(mine, str) and isinstance(exp, str):
        return exp.startswith(mine)
    if isinstance(mine, list) and isinstance(exp, list):
        return len(mine) <= len(exp) and all(same(x, y) for x, y in zip(mine, exp))
    return False


def header_end(path):
    """End of the furthest IFD structure of the main chain, IFD-0 value, or strip/tile
    offset / byte-count array or SubIFDs list of any IFD of the chain (the image walk reads
    them all)."""
    import struct
    with open(path, "rb") as f:
        b = f.read()
    try:
        bo = "<" if b[:2] == b"II" else ">"
        big = struct.unpack(bo + "H", b[2:4])[0] == 43
        cs, es, os_, cf, of = (8, 20, 8, "Q", "Q") if big else (2, 12, 4, "H", "I")
        off = struct.unpack(bo + of, b[(8 if big else 4):(16 if big else 8)])[0]
        end, seen, first = 0, set(), True
        while off and off not in seen and len(seen) < 10000:
            seen.add(off)
            n = struct.unpack(bo + cf, b[off:off + cs])[0]
            if off + cs + n * es + os_ > len(b):
                return float("inf")
            end = max(end, off + cs + n * es + os_)
            sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4,
                     12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
            for i in range(n):
                e = b[off + cs + i * es: off + cs + (i + 1) * es]
                tag, typ = struct.unpack(bo + "HH", e[:4])
                cnt = struct.unpack(bo + of, e[4:4 + os_])[0]
                if typ not in sizes or not (first or tag in (273, 279, 324, 325, 330)):
                    continue
                if cnt * sizes[typ] > os_:
                    v = struct.unpack(bo + of, e[4 + os_:])[0]
                    end = max(end, v + cnt * sizes[typ])
                if tag == 330:
                    return float("inf")  # SubIFDs: not modelled here
            first = False
            off = struct.unpack(bo + of, b[off + cs + n * es: off + cs + n * es + os_])[0]
        return end
    except (struct.error, IndexError):
        return float("inf")


def load_accepted(path):
    out = []
    if not path or not os.path.exists(path):
        return out
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            sys.exit(f"accepted_deviations.txt: bad line {line!r}")
        out.append((parts[0], parts[1], parts[2]))
    return out


def compare(exp, got, diffs):
    path = exp["path"]

    def diff(field, want, have):
        diffs.append((path, field, want, have))

    if exp["error"] is not None and exp["fields_from"] is None:
        if got["error"] is None:
            diff("error", exp["error"], None)
        return
    if got["error"] is not None:
        diff("error", None, f'{got["error"]}: {got["message"]}')
        return
    h = got["header"]
    for f in ("byte_order", "bigtiff", "first_ifd_offset", "ifd_count", "ifd_chain_error"):
        if not same(exp[f], h[f]):
            diff(f, exp[f], h[f])
    mine_other = dict(h["other_tags"])
    exp_other = dict(exp["other_tags"] or {})
    for f in NAMED + list(NAMED_IN_OTHER):
        if f in NAMED_IN_OTHER:
            e = exp_other.pop(NAMED_IN_OTHER[f], None)
            want = None if e is None else e["value"]
            # ours has the entry in other_tags as well (as the Python tool does, issue 14):
            # exactly tifffile's type, count and value
            if e is not None or NAMED_IN_OTHER[f] in mine_other:
                m = mine_other.get(NAMED_IN_OTHER[f])
                if h[f] is not None or m is None or e is None:
                    mine_other.pop(NAMED_IN_OTHER[f], None)
                    if (e is None or m is None or e["type"] != m["type"]
                            or e["count"] != m["count"]
                            or not (is_prefix(m["value"], e["value"]) if m.get("capped")
                                    else same(e["value"], m["value"]))):
                        diff("other_tags." + NAMED_IN_OTHER[f], e, m)
        else:
            want = exp[f]
        have = h[f]
        tag = str(TAG_OF[f])
        if have is None and tag in mine_other and want is not None:
            # kept in other_tags because its type/count does not suit the field
            x = mine_other.pop(tag)
            if f in NAMED_IN_OTHER:
                have = x["value"]
            else:
                have = x["value"]
                if isinstance(have, list) and len(have) == 1 and not isinstance(want, list):
                    have = have[0]
        if not same(want, have):
            diff(f, want, have)
    # geokeys
    if exp["geokeys"] is None:
        if h["geokeys"] is not None:
            diff("geokeys", None, "present")
    else:
        if h["geokeys"] is None:
            diff("geokeys", "present", None)
        else:
            for k, v in exp["geokeys"].items():
                if not same(v, h["geokeys"].get(k)):
                    diff("geokeys." + k, v, h["geokeys"].get(k))
        eo = exp["geokeys_other"] or {}
        mo = h["geokeys_other"] or {}
        for k in sorted(set(eo) | set(mo)):
            if k not in mo or k not in eo:
                diff("geokeys_other." + k, eo.get(k), mo.get(k))
            elif mo[k].get("capped"):
                if not is_prefix(mo[k]["value"], eo[k]):
                    diff("geokeys_other." + k, eo[k], mo[k])
            elif not same(eo[k], mo[k]["value"]):
                diff("geokeys_other." + k, eo[k], mo[k]["value"])
        if not same(exp["geokeys_header"], h["geokeys_header"]):
            diff("geokeys_header", exp["geokeys_header"], h["geokeys_header"])
    if exp.get("geokeys_errors"):
        if not any(w.startswith("GeoKey") for w in h["warnings"]):
            diff("geokeys_errors", exp["geokeys_errors"], h["warnings"])
    # other tags
    for k in sorted(set(exp_other) | set(mine_other), key=int):
        e, m = exp_other.get(k), mine_other.get(k)
        if e is None or m is None:
            diff("other_tags." + k, e, m)
            continue
        if e["type"] != m["type"] or e["count"] != m["count"]:
            diff("other_tags." + k, e, m)
        elif m.get("capped"):
            if not is_prefix(m["value"], e["value"]):
                diff("other_tags." + k, e, m)
        elif not same(e["value"], m["value"]):
            diff("other_tags." + k, e, m)
    # warnings about dropped entries and duplicates
    want = set()
    for w in exp["warnings"] or []:
        mm = WARN_RE.search(w)
        if mm:
            want.add((mm.group(1), mm.group(2), mm.group(3)))
    dups = set(str(t) for t in (exp["duplicate_tags"] or []))
    have = set()
    have_dups = set()
    for w in h["warnings"]:
        mm = MY_WARN_RE.match(w)
        if not mm:
            continue
        if mm.group(3) == "duplicate entry":
            have_dups.add(mm.group(1))
        else:
            have.add((mm.group(1), mm.group(2), mm.group(3)))
    if want != have:
        diff("warnings", sorted(want - have), sorted(have - want))
    if dups != have_dups:
        diff("duplicate_tags", sorted(dups), sorted(have_dups))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--accepted")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    a.dump = os.path.abspath(a.dump)
    expected = [json.loads(l) for l in open(os.path.join(a.corpus, "expected.jsonl"),
                                            encoding="utf-8")]
    files = [e["path"] for e in expected]
    out = subprocess.run([a.dump, "--max-warnings", "1024"] + files, cwd=a.corpus,
                         capture_output=True, check=True).stdout
    got = {}
    for line in out.decode("utf-8").splitlines():  # strict: output must be valid UTF-8
        r = json.loads(line)
        got[r["path"]] = r
    accepted = load_accepted(a.accepted)
    used = set()
    diffs = []
    for e in expected:
        if e["path"] not in got:
            diffs.append((e["path"], "missing", None, None))
            continue
        compare(e, got[e["path"]], diffs)
    bad = []
    for d in diffs:
        ok = False
        for i, (g, f, _) in enumerate(accepted):
            if fnmatch.fnmatch(d[0], g) and (f == "*" or f == d[1]):
                used.add(i)
                ok = True
                break
        if not ok:
            bad.append(d)
    files_with_diff = {d[0] for d in diffs}
    print(f"{len(expected)} files: {len(expected) - len(files_with_diff)} equal, "
          f"{len(files_with_diff)} with differences ({len(diffs) - len(bad)} accepted "
          f"field differences, {len(bad)} not accepted)")
    for i, (g, f, r) in enumerate(accepted):
        if i not in used:
            print(f"note: accepted deviation not used: {g} {f}")
    # requests
    dist = Counter(r["requests"] for r in got.values())
    print("requests per file:", ", ".join(f"{k}: {dist[k]}" for k in sorted(dist)))
    total = sum(r["fetched_bytes"] for r in got.values())
    print(f"fetched bytes: {total} for {len(got)} files")
    # Rounds are bounded by the dependency depth: header -> IFD 0 -> its values, then one
    # round per IFD of the chain that lies outside what was fetched before.
    too_many = []
    corpus = a.corpus
    one_shot = 0
    for p, r in sorted(got.items()):
        h = r["header"]
        limit = min(MAX_REQUESTS, 2 + (h["ifd_count"] if h else 0))
        if r["requests"] > limit:
            too_many.append((p, r["requests"], f"more than {limit}"))
        # every IFD and every IFD-0 value inside the prefetch: one request only
        if h and header_end(os.path.join(corpus, p)) <= 16384:
            one_shot += 1
            if r["requests"] != 1:
                too_many.append((p, r["requests"], "header inside the prefetch: must be 1"))
    print(f"{one_shot} files with the whole header inside the 16 KiB prefetch")
    for p, n, why in too_many:
        print(f"FAIL: {p} needs {n} requests ({why})")
    for d in bad:
        print(f"DIFF {d[0]} {d[1]}:\n  expected: {json.dumps(d[2])[:600]}\n"
              f"  got:      {json.dumps(d[3])[:600]}")
    if a.verbose:
        for d in diffs:
            print("accepted:", d[0], d[1])
    return 1 if bad or too_many else 0


if __name__ == "__main__":
    sys.exit(main())
