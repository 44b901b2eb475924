"""The `ifds` list against tifffile's pages, for every corpus file.

    /usr/bin/python3 ifds_tifffile.py DUMP CORPUS_DIR ACCEPTED

DUMP is tiff_corpus_dump (the parser fed like a store). For each file tifffile can open,
every page of its main chain (tif.pages) and every SubIFD it lists (page.subifds) must be a
record of ours with the same IFD offset and the same raw tag values (first value of
ImageWidth, ImageLength, TileWidth, TileLength, RowsPerStrip, Compression, Photometric,
SamplesPerPixel, BitsPerSample, SampleFormat, NewSubfileType, PlanarConfiguration,
Predictor; tag absent = null) and block count (entries of the tile, else strip, offsets).
Disagreements fail unless ACCEPTED lists the file with a reason.
"""
import json
import os
import subprocess
import sys

import tifffile

MAX_PAGES = 5000
TAGS = {"width": 256, "height": 257, "tile_width": 322, "tile_height": 323,
        "rows_per_strip": 278, "compression": 259, "photometric": 262,
        "samples_per_pixel": 277, "bits_per_sample": 258, "sample_format": 339,
        "new_subfile_type": 254, "planar": 284, "predictor": 317}


def first(v):
    if isinstance(v, (tuple, list)):
        return int(v[0]) if len(v) else None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def expected_page(page):
    tags = page.tags
    out = {"ifd_offset": page.offset}
    for k, t in TAGS.items():
        tag = tags.get(t)
        out[k] = first(tag.value) if tag is not None else None
    off = tags.get(324) or tags.get(273)
    out["blocks"] = off.count if off is not None else None
    return out


def main():
    dump, corpus, accepted_path = sys.argv[1:4]
    accepted = {}
    for line in open(accepted_path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#"):
            path, _, why = line.partition(" ")
            accepted[path] = why
    files = sorted(json.loads(l)["path"] for l in open(os.path.join(corpus, "expected.jsonl")))
    out = subprocess.run([dump] + files, cwd=corpus, capture_output=True, check=True).stdout
    got = {}
    for line in out.decode().splitlines():
        r = json.loads(line)
        got[r["path"]] = r["header"]
    n_files = n_pages = n_sub = skipped = 0
    bad, used = [], set()
    for path in files:
        try:
            with tifffile.TiffFile(os.path.join(corpus, path)) as tif:
                pages = []
                for page in tif.pages:
                    if len(pages) >= MAX_PAGES:  # tifffile walks some cyclic chains endlessly
                        break
                    pages.append((expected_page(page), [o for o in (page.subifds or ())]))
        except Exception:  # tifffile refuses the file: nothing to compare with
            skipped += 1
            continue
        h = got.get(path)
        diffs = []
        if h is None:
            diffs.append("our parser failed")
        else:
            ifds = h["ifds"]
            main_chain = [r for r in ifds if r["parent"] is None]
            if len(main_chain) != len(pages):
                diffs.append(f"{len(main_chain)} main-chain IFDs, tifffile {len(pages)} pages")
            for k, (want, subs) in enumerate(pages[:len(main_chain)]):
                rec = main_chain[k]
                for key, v in want.items():
                    if rec[key] != v:
                        diffs.append(f"page {k} {key}: ours {rec[key]} tifffile {v}")
                ours_sub = [r["ifd_offset"] for r in ifds if r["parent"] == rec["index"]]
                if ours_sub != list(subs)[:len(ours_sub)] or (len(ours_sub) < len(subs) and
                                                              not h["warnings"]):
                    diffs.append(f"page {k} SubIFDs: ours {ours_sub} tifffile {list(subs)}")
                n_sub += len(subs)
            n_pages += len(pages)
        n_files += 1
        if diffs:
            if path in accepted:
                used.add(path)
            else:
                bad.append((path, diffs))
    print(f"ifds vs tifffile: {n_files} files, {n_pages} pages, {n_sub} SubIFDs compared; "
          f"{skipped} files tifffile refuses; {len(used)} accepted deviations")
    for p in sorted(set(accepted) - used):
        print(f"note: accepted deviation not used: {p}")
    for path, diffs in bad:
        print(f"DIFF {path}:\n  " + "\n  ".join(diffs[:8]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
