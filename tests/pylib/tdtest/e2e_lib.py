"""Helpers of the end-to-end tests: run tiff-dumper, read its outputs back with DuckDB."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from . import TESTS_DIR, require


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def duckdb(node_dir, *queries):
    """Returns one list of row dicts per query."""
    require("node")
    p = subprocess.run(["node", os.path.join(TESTS_DIR, "cli", "e2e_duckdb.mjs"), node_dir, *queries],
                       capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"duckdb query failed: {p.stderr.strip()[:2000]}\nqueries: {queries}")
    out, cur = [], []
    for line in p.stdout.splitlines():
        if line == "--":
            out.append(cur)
            cur = []
        else:
            cur.append(json.loads(line))
    out.append(cur)
    return out


def write_config(path, store, prefixes=None, **sections):
    """A config.yaml; sections: concurrency={...}, fetch={...}, output={...}."""
    lines = ["store:", f"  name: {json.dumps(store)}"]
    if prefixes is not None:
        lines.append(f"  prefixes: {json.dumps(prefixes)}")
    for name, kv in sections.items():
        lines.append(f"{name}:")
        for k, v in kv.items():
            lines.append(f"  {k}: {json.dumps(v)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def run_tool(exe, *args, **kw):
    return subprocess.run([exe, *args], capture_output=True, text=True, **kw)


def tempdir(tag):
    return tempfile.mkdtemp(prefix=f"td_{tag}_", dir=os.environ.get("TMPDIR", "/tmp"))


def rmtree(d):
    shutil.rmtree(d, ignore_errors=True)


def info_matches_local(exe, corpus, url_base, opts, env=None, every=40, n=10):
    """`tiff-dumper info --json -o K=V... URL_BASE+rel` prints what `info --json FILE`
    prints for a sample of corpus files (path aside); a missing key is `not_found`."""
    rels = []
    for d, _, files in os.walk(corpus, followlinks=True):
        for f in files:
            if f.lower().endswith((".tif", ".tiff")):
                rels.append(os.path.relpath(os.path.join(d, f), corpus))
    rels = sorted(rels)[::every][:n]
    args = []
    for k, v in opts.items():
        args += ["-o", f"{k}={v}"]
    urls = [url_base + r for r in rels] + [url_base + "no/such/key.tif"]
    p = run_tool(exe, "info", "--json", *args, *urls, env=env, timeout=120)
    q = run_tool(exe, "info", "--json", *[os.path.join(corpus, r) for r in rels], timeout=120)
    got = [json.loads(x) for x in p.stdout.splitlines()]
    want = [json.loads(x) for x in q.stdout.splitlines()]
    if len(got) != len(urls) or len(want) != len(rels):
        fail(f"info printed {len(got)} / {len(want)} lines: {p.stderr[-500:]}")
    for g, w in zip(got, want):
        g.pop("path")
        w.pop("path")
        if g != w:
            fail(f"info over {url_base} differs from the local file: {json.dumps(g)[:300]} "
                 f"vs {json.dumps(w)[:300]}")
    if got[-1].get("error") != "not_found" or p.returncode != 1:
        fail(f"missing key: {got[-1]}, exit {p.returncode}")
    print(f"info: {len(rels)} files through {url_base} equal the local reading; "
          f"a missing key is not_found")


def same_rows(node_dir, out_a, out_b, names=("local", "store"), min_rows=300):
    """Two runs over the same objects give equal header rows (last_modified and etag, which
    are each store's own, left out) and equal error rows (path, stage, kind)."""
    q = []
    for out in (out_a, out_b):
        q.append(f"SELECT * EXCLUDE (last_modified, etag) FROM "
                 f"read_parquet('{out}/part-*.parquet') ORDER BY path")
        q.append(f"SELECT path, stage, kind FROM "
                 f"read_parquet('{out}/_errors/part-*.parquet') ORDER BY path, stage")
    ha, ea, hb, eb = duckdb(node_dir, *q)
    print(f"{names[0]}: {len(ha)} rows, {len(ea)} errors; {names[1]}: {len(hb)} rows, "
          f"{len(eb)} errors")
    if len(ha) < min_rows:
        fail(f"the {names[0]} run dumped too few files to mean anything")
    if ha != hb:
        a = {r["path"]: r for r in ha}
        b = {r["path"]: r for r in hb}
        shown = 0
        for p in sorted(set(a) | set(b)):
            if a.get(p) != b.get(p) and shown < 5:
                ra, rb = a.get(p) or {}, b.get(p) or {}
                diff = {k: (ra.get(k), rb.get(k)) for k in set(ra) | set(rb)
                        if ra.get(k) != rb.get(k)}
                print("DIFF", p, json.dumps(diff)[:800])
                shown += 1
        fail(f"header rows differ between the {names[0]} and the {names[1]} run")
    if ea != eb:
        fail(f"error rows differ: {ea[:3]} vs {eb[:3]}")
