"""fetch.ifds: first, output.footprints: false and output.list_replay: false (issues 15 and
14), end to end over the corpus: DuckDB reads the four runs' part files and
- with `ifds: first` every header row equals the default run's except the columns that need
  the other IFDs, which are null (ifd_count, ifd_chain_error, ifd_bytes, first_data_offset,
  overview_count, mask_count, cog_valid, cog_errors, cog_warnings, gdal_structural_metadata,
  ifds), warnings (the default's warnings about other images are gone; IFD 0's stay), and
  fetched_bytes / requests (never more); for a COG the row needs no more than its IFD 0;
- with `footprints: false` every row equals the default's except geometry, bbox and the
  proj_* columns, which are null, and the "no footprint:" warnings; the `geo` metadata is
  still valid GeoParquet 1.1 (check_geo_meta.mjs) with no geometry types and no bbox; PROJ
  is never started (the run works with PROJ_DATA pointing nowhere);
- with `list_replay: false` every row equals the default's, every column;
- the error rows are the same in all four runs.
usage: e2e_knobs.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import glob
import os
import subprocess
import sys

from tdtest import e2e_lib as L

WALK = ["ifd_count", "ifd_chain_error", "ifd_bytes", "first_data_offset", "overview_count",
        "mask_count", "cog_valid", "cog_errors", "cog_warnings", "gdal_structural_metadata",
        "ifds"]
GEO = ["geometry", "bbox", "proj_code", "proj_shape", "proj_transform", "proj_bbox",
       "proj_wkt2", "proj_projjson"]
FETCH = ["fetched_bytes", "requests"]


def num(v):
    """e2e_duckdb.mjs writes BIGINTs as a tagged string"""
    if isinstance(v, str) and v.startswith("\u0000BIGINT:"):
        return int(v.split(":", 1)[1])
    return v


def main():
    exe, corpus, node_dir = (os.path.abspath(a) for a in sys.argv[1:4])
    here = os.path.dirname(os.path.abspath(__file__))
    tmp = L.tempdir("knobs")
    try:
        outs = {}
        for name, sections in (("all", {}), ("first", {"fetch": {"ifds": "first"}}),
                               ("nofp", {"output": {"footprints": False}}),
                               ("norep", {"output": {"list_replay": False}})):
            cfg = os.path.join(tmp, f"{name}.yaml")
            L.write_config(cfg, corpus, **sections)
            out = outs[name] = os.path.join(tmp, name)
            # footprints: false never starts PROJ: the run works without proj.db
            env = dict(os.environ, PROJ_DATA=os.path.join(tmp, "no-proj"),
                       PROJ_LIB=os.path.join(tmp, "no-proj")) if name == "nofp" else None
            p = L.run_tool(exe, "headers", cfg, out, "-q", env=env)
            if not os.path.exists(os.path.join(out, "_SUCCESS")):
                L.fail(f"{name}: exit status {p.returncode}: {p.stderr[-2000:]}")
        q = []
        for name in ("all", "first", "nofp", "norep"):
            q.append(f"SELECT * EXCLUDE (last_modified, etag) FROM "
                     f"read_parquet('{outs[name]}/part-*.parquet') ORDER BY path")
            q.append(f"SELECT path, stage, kind FROM "
                     f"read_parquet('{outs[name]}/_errors/part-*.parquet') ORDER BY path, stage")
        ha, ea, hf, ef, hn, en, hr, er = L.duckdb(node_dir, *q)
        print(f"all: {len(ha)} rows, {len(ea)} errors; first: {len(hf)}; nofp: {len(hn)}; "
              f"norep: {len(hr)}")
        if len(ha) < 300:
            L.fail("the default run dumped too few files to mean anything")
        if ea != ef or ea != en or ea != er:
            L.fail(f"error rows differ: {ea[:3]} / {ef[:3]} / {en[:3]} / {er[:3]}")
        paths = [r["path"] for r in ha]
        if any(paths != [r["path"] for r in h] for h in (hf, hn, hr)):
            L.fail("the four runs dumped different files")

        bad, cogs, fewer = 0, 0, 0
        for a, f in zip(ha, hf):
            p = a["path"]
            for k in WALK:
                if f[k] is not None:
                    bad += 1
                    print(f"FIRST {p}: {k} = {str(f[k])[:100]} (want null)")
            # a hostile file that hits max_memory in the default run can keep more of IFD 0
            # when the other IFDs take none of the budget (exampletiffs/shapes_multi_*)
            capped = any("max_memory" in w for w in a["warnings"] or [])
            for k in set(a) - set(WALK) - set(FETCH) - {"warnings"}:
                if a[k] != f[k] and not capped:
                    bad += 1
                    print(f"FIRST {p}: {k}: {str(a[k])[:100]} != {str(f[k])[:100]}")
            # IFD 0's own warnings stay; the walk's ("image N", "SubIFD", the chain) go
            if not set(f["warnings"] or []) <= set(a["warnings"] or []) and not capped:
                bad += 1
                print(f"FIRST {p}: warnings {f['warnings']} not among {a['warnings']}")
            if num(f["fetched_bytes"]) > num(a["fetched_bytes"]) or f["requests"] > a["requests"]:
                bad += 1
                print(f"FIRST {p}: fetched more: {f['fetched_bytes']}/{f['requests']} vs "
                      f"{a['fetched_bytes']}/{a['requests']}")
            fewer += num(f["fetched_bytes"]) < num(a["fetched_bytes"])
            cogs += bool(a["cog_valid"]) and f["requests"] == 1
        print(f"first: {cogs} COGs in one request each; {fewer} files fetched fewer bytes")
        if cogs < 50:
            L.fail("too few COGs in the corpus to mean anything")

        geo_rows = 0
        for a, n in zip(ha, hn):
            p = a["path"]
            geo_rows += a["proj_transform"] is not None
            for k in GEO:
                if n[k] is not None:
                    bad += 1
                    print(f"NOFP {p}: {k} = {str(n[k])[:100]} (want null)")
            for k in set(a) - set(GEO) - {"warnings"}:
                if a[k] != n[k]:
                    bad += 1
                    print(f"NOFP {p}: {k}: {str(a[k])[:100]} != {str(n[k])[:100]}")
            want = [w for w in a["warnings"] or [] if not w.startswith("no footprint:")]
            if (n["warnings"] or []) != want:
                bad += 1
                print(f"NOFP {p}: warnings {n['warnings']} != {want}")
        print(f"footprints: {geo_rows} georeferenced rows by default, none with footprints: false")
        # the replay only saves work: the same rows without it
        for a, r in zip(ha, hr):
            for k in a:
                if a[k] != r[k]:
                    bad += 1
                    print(f"NOREP {a['path']}: {k}: {str(a[k])[:100]} != {str(r[k])[:100]}")
        if geo_rows < 10:
            L.fail("too few georeferenced files to mean anything")
        if bad:
            L.fail(f"{bad} differences")

        # the geo metadata: still GeoParquet 1.1 with no footprint at all
        parts = sorted(glob.glob(os.path.join(outs["nofp"], "part-*.parquet")))
        chk = subprocess.run(["node", os.path.join(here, "..", "geo", "check_geo_meta.mjs"),
                              node_dir, *parts], capture_output=True, text=True)
        print(chk.stdout.strip(), chk.stderr.strip())
        if chk.returncode != 0:
            L.fail("geo metadata check failed")
        (geo,) = L.duckdb(node_dir, f"SELECT DISTINCT decode(value) AS v FROM parquet_kv_metadata("
                                    f"'{outs['nofp']}/part-*.parquet') WHERE decode(key) = 'geo'")
        for g in geo:
            if '"geometry_types":[]' not in g["v"] or '"bbox":[' in g["v"]:
                L.fail(f"geo metadata with footprints: false: {g['v']}")
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
