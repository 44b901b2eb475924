"""OUT on an object store, end to end: the corpus (a local folder) dumped into
s3:// on s3rver, az:// on azurite or gs:// on the GCS emulator gives the same rows as the
same run into a local folder (the uploaded parts are downloaded with each server's own API
and read with DuckDB). write_chunk_size is small, so several parts per table are uploaded.
A rerun with fewer parts replaces the old outputs (no stale part, _SUCCESS written again)
and leaves other objects alone. No temporary name ever appears in OUT.

usage: out_store_e2e.py TIFF_DUMPER CORPUS_DIR NODE_DIR s3|az|gcs
"""
import json
import os
import re
import sys

from tdtest import e2e_lib as L
from tdtest.out_stores import obstore_config, out_store

PART_RE = re.compile(r"^(_errors/)?part-\d{5}\.parquet$")


def config(path, corpus, out_opts, write_chunk, part_size=None):
    lines = ["store:", f"  name: {json.dumps(corpus)}",
             "concurrency:", "  n_consumers: 16", "  list_chunk_size: 50",
             "  max_buffer_size: 100", f"  write_chunk_size: {write_chunk}",
             "  threads: 2"]
    if out_opts:
        lines += ["output:"]
        if part_size:
            lines.append(f"  part_size: {part_size}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n" + (obstore_config(out_opts) if out_opts else ""))


class Backend:
    """The OUT runs/a on the kind's emulator (tdtest.out_stores)."""

    def __init__(self, kind, node_dir, tmp):
        self.srv = out_store(kind, node_dir, tmp)
        self.url, self.opts, self.env = self.srv.url("runs/a"), self.srv.opts, self.srv.env

    def keys(self):
        return self.srv.objects("runs/a")

    def put_foreign(self, key, data):
        self.srv.put("runs/a/" + key, data)

    def stop(self):
        self.srv.stop()


def download(objs, dst):
    """The objects as files under dst (to read them with DuckDB)."""
    L.rmtree(dst)
    for k, data in objs.items():
        p = os.path.join(dst, k)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


def check_layout(objs, what, foreign=()):
    ours = sorted(k for k in objs if k not in foreign)
    bad = [k for k in ours if k != "_SUCCESS" and not PART_RE.match(k)]
    if bad:
        L.fail(f"{what}: unexpected objects in OUT (a temporary name?): {bad}")
    if "_SUCCESS" not in objs:
        L.fail(f"{what}: no _SUCCESS: {ours}")
    heads = [k for k in ours if k.startswith("part-")]
    errs = [k for k in ours if k.startswith("_errors/")]
    want_h = [f"part-{i:05d}.parquet" for i in range(len(heads))]
    want_e = [f"_errors/part-{i:05d}.parquet" for i in range(len(errs))]
    if heads != want_h or errs != want_e:
        L.fail(f"{what}: parts not numbered 0..n-1: {heads} {errs}")
    return len(heads), len(errs)


def main():
    exe, corpus, node_dir, kind = sys.argv[1:5]
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("out_store_" + kind)
    backend = None
    try:
        backend = Backend(kind, node_dir, tmp)
        local_cfg = os.path.join(tmp, "local.yaml")
        config(local_cfg, corpus, None, 50)
        ref = os.path.join(tmp, "out-local")
        p = L.run_tool(exe, "headers", "--quiet", local_cfg, ref, timeout=300)
        if p.returncode not in (0, 1):
            L.fail(f"local run: exit {p.returncode}: {p.stderr[-1500:]}")

        cfg = os.path.join(tmp, "store.yaml")
        # Azure takes blocks of any size: 16 KiB parts make the larger part files go up as
        # Put Block x n + Put Block List (multipart), the others as one Put Blob
        part = 16 << 10 if kind == "az" else None
        config(cfg, corpus, backend.opts, 50, part)
        c = L.run_tool(exe, "headers", "--check", cfg, backend.url, env=backend.env,
                       timeout=60)
        if c.returncode != 0:
            L.fail(f"--check CONFIG OUT: exit {c.returncode}: {c.stderr}")
        # a stale object of an imagined earlier run, and objects of someone else
        backend.put_foreign("part-00999.parquet", b"stale")
        backend.put_foreign("_SUCCESS", b"{}")
        backend.put_foreign("notes.txt", b"keep me")
        backend.put_foreign("sub/part-00000.parquet", b"keep me too")
        foreign = ("notes.txt", "sub/part-00000.parquet")
        p = L.run_tool(exe, "headers", "--quiet", cfg, backend.url, env=backend.env,
                       timeout=300)
        print(kind, "exit", p.returncode, p.stderr[-800:])
        if p.returncode != L_exit(p.returncode):
            L.fail(f"store run: exit {p.returncode}: {p.stderr[-1500:]}")
        objs = backend.keys()
        nh, ne = check_layout(objs, "first run", foreign)
        sizes = sorted(len(v) for k, v in objs.items() if k.startswith("part-"))
        print("part sizes:", sizes)
        if part and not any(n > part for n in sizes):
            L.fail(f"no part above part_size {part}: multipart not exercised")
        if nh < 4:
            L.fail(f"expected several header parts with write_chunk_size 50, got {nh}")
        if objs.get("notes.txt") != b"keep me" or objs.get("sub/part-00000.parquet") != b"keep me too":
            L.fail("an object the tool did not write was changed or removed")
        succ = json.loads(objs["_SUCCESS"])
        if succ["header_files"] != nh or succ["error_files"] != ne or "output" not in succ:
            L.fail(f"_SUCCESS does not match the parts: {succ}")
        if "S3RVER" in objs["_SUCCESS"].decode() and kind == "s3":
            L.fail("a secret of output.obstore_config reached _SUCCESS")
        got = os.path.join(tmp, "out-store")
        download({k: v for k, v in objs.items() if k not in foreign}, got)
        L.same_rows(node_dir, ref, got, ("local", kind))
        print(f"first run: {nh} header parts, {ne} error parts, rows equal to the local run")

        # the rerun writes fewer parts: the old ones past its count must be gone
        config(cfg, corpus, backend.opts, 100, part)
        p = L.run_tool(exe, "headers", "--quiet", cfg, backend.url, env=backend.env,
                       timeout=300)
        if p.returncode not in (0, 1):
            L.fail(f"rerun: exit {p.returncode}: {p.stderr[-1500:]}")
        objs2 = backend.keys()
        nh2, ne2 = check_layout(objs2, "rerun", foreign)
        if nh2 >= nh:
            L.fail(f"the rerun should write fewer parts: {nh2} vs {nh}")
        if "notes.txt" not in objs2 or "sub/part-00000.parquet" not in objs2:
            L.fail("the rerun removed objects the tool did not write")
        download({k: v for k, v in objs2.items() if k not in foreign}, got)
        L.same_rows(node_dir, ref, got, ("local", kind + " rerun"))
        print(f"rerun: {nh2} header parts, {ne2} error parts, old parts replaced")
        if kind == "s3":
            interrupted(exe, corpus, node_dir, backend, tmp)
        print("ok")
    finally:
        if backend:
            backend.stop()
        L.rmtree(tmp)


def interrupted(exe, corpus, node_dir, backend, tmp):
    """SIGINT in the middle of a long run: exit 3, the rows so far finished into parts that
    are uploaded whole before the exit, no _SUCCESS."""
    import signal
    import subprocess
    import time
    keys = os.path.join(tmp, "keys.txt")
    with open(keys, "w") as f:
        f.write("georust-geotiff/zh_dem_25.tif\n" * 400000)
    cfg = os.path.join(tmp, "int.yaml")
    with open(cfg, "w") as f:
        f.write("\n".join(["store:", f"  name: {json.dumps(corpus)}", f"  keys_from: {keys}",
                           "concurrency:", "  n_consumers: 64", "  list_chunk_size: 1000",
                           "  max_buffer_size: 10000", "  write_chunk_size: 10000",
                           "output:"]) + "\n" + obstore_config(backend.opts))
    p = subprocess.Popen([exe, "headers", "--quiet", cfg, backend.url], env=backend.env,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=120)[1]
    if p.returncode != 3 or "interrupted" not in err:
        L.fail(f"interrupted run: exit {p.returncode}: {err[-800:]}")
    objs = backend.keys()
    foreign = ("notes.txt", "sub/part-00000.parquet")
    ours = {k: v for k, v in objs.items() if k not in foreign}
    if "_SUCCESS" in ours:
        L.fail("_SUCCESS after an interrupted run")
    ours["_SUCCESS"] = b"{}"  # check_layout wants one; the numbering is what matters
    nh, _ = check_layout(ours, "interrupted run")
    got = os.path.join(tmp, "out-int")
    download({k: v for k, v in ours.items() if k != "_SUCCESS"}, got)
    n = L.duckdb(node_dir, f"SELECT count(*) AS n FROM read_parquet('{got}/part-*.parquet')")
    rows = n[0][0]["n"]
    if nh < 1 or rows < 1 or rows >= 400000:
        L.fail(f"interrupted run: {nh} parts, {rows} rows")
    print(f"interrupted: exit 3, {nh} whole parts with {rows} rows uploaded, no _SUCCESS")


def L_exit(rc):
    return rc if rc in (0, 1) else -1


if __name__ == "__main__":
    main()
