"""End to end on the test corpus (tests/corpus): `tiff-dumper headers` over the whole corpus, then
- every .tif/.tiff file appears exactly once across headers and errors,
- DuckDB reads all header files with one glob (and all error files with another), every
  file has the same schema and carries the schema version,
- the values equal expected.jsonl, with the parser's accepted deviations
  (tdtest/corpus_compare.py and tests/tiff/accepted_deviations.txt are reused, not copied),
- the broken files land in errors with a parse-stage kind,
- _SUCCESS is there, its counts agree, and no temporary file is left.
usage: e2e_corpus.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import fnmatch
import json
import os
import sys

from tdtest import e2e_lib as L
from tdtest import TESTS_DIR
from tdtest import corpus_compare as CC

TIFF_KINDS = {"not_tiff", "truncated", "bad_ifd", "limit"}


def to_got(row):
    """A headers row in the shape corpus_compare expects from tiff_header_to_json."""
    h = dict(row)
    for m in ("geokeys_other", "other_tags"):
        h[m] = {k: json.loads(v) for k, v in (row[m] or {}).items()}
    h["warnings"] = row["warnings"] or []
    return {"path": row["path"], "requests": row["requests"],
            "fetched_bytes": row["fetched_bytes"], "error": None, "message": None,
            "header": h}


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    exe = os.path.abspath(exe)
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("corpus")
    try:
        cfg = os.path.join(tmp, "config.yaml")
        out = os.path.join(tmp, "out")
        # small queue and chunks so that listing pages, backpressure and several part files
        # are all exercised on 353 files
        L.write_config(cfg, corpus,
                       concurrency={"n_consumers": 16, "list_chunk_size": 40,
                                    "max_buffer_size": 200, "write_chunk_size": 100},
                       output={"row_group_size": 30})
        p = L.run_tool(exe, "headers", cfg, out, "--loud")
        print(p.stderr[-3000:])
        if p.returncode not in (0, 1):
            L.fail(f"exit status {p.returncode}")

        want = set()
        for d, _, files in os.walk(corpus, followlinks=True):
            for f in files:
                if f.lower().endswith((".tif", ".tiff")):
                    want.add(os.path.relpath(os.path.join(d, f), corpus))
        expected = [json.loads(l) for l in open(os.path.join(corpus, "expected.jsonl"))]
        if {e["path"] for e in expected} != want:
            print("note: expected.jsonl and the corpus files differ:",
                  sorted({e["path"] for e in expected} ^ want)[:10])

        heads, errs, schemas, kv = L.duckdb(
            node_dir,
            f"SELECT * FROM read_parquet('{out}/part-*.parquet')",
            f"SELECT * FROM read_parquet('{out}/errors/part-*.parquet')",
            f"SELECT file_name, string_agg(name || ':' || coalesce(type, '') || ':' || "
            f"coalesce(logical_type::VARCHAR, ''), ',' ORDER BY name) AS s "
            f"FROM parquet_schema('{out}/part-*.parquet') GROUP BY file_name",
            f"SELECT file_name, decode(key) AS k, decode(value) AS v "
            f"FROM parquet_kv_metadata('{out}/**/*.parquet')")
        print(f"{len(heads)} header rows, {len(errs)} error rows, {len(schemas)} header files")

        # exactly once
        seen = {}
        for r in heads + errs:
            seen[r["path"]] = seen.get(r["path"], 0) + 1
        dup = [k for k, n in seen.items() if n != 1]
        missing = want - set(seen)
        extra = set(seen) - want
        if dup or missing or extra:
            L.fail(f"duplicates {dup[:5]}, missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}")
        if (p.returncode == 1) != (len(errs) > 0):
            L.fail(f"exit status {p.returncode} with {len(errs)} error rows")

        # same schema everywhere, schema version in every file
        if len({s["s"] for s in schemas}) != 1:
            L.fail("header files have different schemas")
        if len(schemas) < 3:
            L.fail(f"expected several part files with write_chunk_size 100, got {len(schemas)}")
        files = {r["file_name"] for r in kv}
        versioned = {r["file_name"] for r in kv
                     if r["k"] == "tiff_dumper.schema_version" and r["v"] == "3"}
        if files != versioned:
            L.fail(f"files without schema version: {sorted(files - versioned)[:3]}")

        # errors: sensible kinds, message names the object
        for r in errs:
            if r["stage"] != "parse" or r["kind"] not in TIFF_KINDS:
                L.fail(f"unexpected error row {r}")
            if r["path"] not in (r["message"] or ""):
                L.fail(f"error message does not name the object: {r}")

        # values vs expected.jsonl with the parser's accepted deviations
        got = {r["path"]: to_got(r) for r in heads}
        for r in errs:
            got[r["path"]] = {"path": r["path"], "requests": r["attempts"], "fetched_bytes": 0,
                              "error": r["kind"], "message": r["message"], "header": None}
        accepted = CC.load_accepted(os.path.join(TESTS_DIR, "tiff", "accepted_deviations.txt"))
        diffs = []
        for e in expected:
            if e["path"] in got:
                CC.compare(e, got[e["path"]], diffs)
        # The tool runs the parser with its default max_warnings (64); the parser test runs
        # it with 1024. Past the cap the last warning says so: then the warnings we have
        # must all be expected ones (d[3] = ours not expected is empty), some may be missing.
        capped = {r["path"] for r in heads
                  if r["warnings"] and "suppressed (max_warnings)" in r["warnings"][-1]}

        def capped_ok(d):
            if d[0] not in capped:
                return False
            if d[1] == "warnings":
                return not d[3]
            return d[1] == "duplicate_tags" and set(d[3]) <= set(d[2])
        bad = [d for d in diffs
               if not capped_ok(d) and
               not any(fnmatch.fnmatch(d[0], g) and (f == "*" or f == d[1])
                       for g, f, _ in accepted)]
        for d in bad[:30]:
            print(f"DIFF {d[0]} {d[1]}:\n  expected: {json.dumps(d[2])[:300]}\n"
                  f"  got:      {json.dumps(d[3])[:300]}")
        if bad:
            L.fail(f"{len(bad)} differences not accepted")
        print(f"{len(expected)} files compared, {len(diffs)} accepted differences")

        # size and last_modified come from the listing
        for r in heads[:50]:
            st = os.stat(os.path.join(corpus, r["path"]))
            if r["size"] != st.st_size or abs(r["last_modified"] - int(st.st_mtime * 1000)) > 1:
                L.fail(f"size/last_modified of {r['path']}: {r['size']} {r['last_modified']}")

        # _SUCCESS last, consistent; no temporary files
        s = json.load(open(os.path.join(out, "_SUCCESS")))
        if s["dumped"] != len(heads) or s["failed"] != len(errs) or \
                s["listed"] - s["skipped"] != len(want):
            L.fail(f"_SUCCESS counts {s} vs {len(heads)} headers {len(errs)} errors")
        for d, _, fs in os.walk(out):
            for f in fs:
                if f.endswith(".tmp"):
                    L.fail(f"temporary file left: {f}")
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
