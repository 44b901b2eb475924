"""Helpers of the end-to-end tests: run tiff-dumper, read its outputs back with DuckDB."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def duckdb(node_dir, *queries):
    """Returns one list of row dicts per query."""
    p = subprocess.run(["node", os.path.join(HERE, "e2e_duckdb.mjs"), node_dir, *queries],
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
