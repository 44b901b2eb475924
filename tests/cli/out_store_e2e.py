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
import shutil
import sys
import urllib.parse
import xml.etree.ElementTree as ET

from tdtest import e2e_lib as L
from tdtest.store_testlib import stop

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
        lines += ["  obstore_config:"]
        lines += [f"    {k}: {json.dumps(v)}" for k, v in out_opts.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class S3Backend:
    def __init__(self, node_dir, tmp):
        from tdtest.s3_testlib import S3rver
        self.data = os.path.join(tmp, "s3data")
        os.makedirs(os.path.join(self.data, "out"))
        self.srv = S3rver(node_dir, self.data)
        self.url = "s3://out/runs/a"
        self.opts = {"endpoint": self.srv.endpoint, "allow_http": True,
                     "access_key_id": "S3RVER", "secret_access_key": "S3RVER",
                     "region": "us-east-1"}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update(AWS_EC2_METADATA_DISABLED="true", HOME="/nonexistent")

    def keys(self):
        """Objects under the OUT prefix, from s3rver's -d layout."""
        root = os.path.join(self.data, "out", "runs", "a")
        out = {}
        for d, _, files in os.walk(root):
            for f in files:
                if f.endswith("._S3rver_object"):
                    rel = os.path.relpath(os.path.join(d, f[:-len("._S3rver_object")]), root)
                    with open(os.path.join(d, f), "rb") as fh:
                        out[rel] = fh.read()
        return out

    def put_foreign(self, key, data):
        from tdtest.s3_testlib import put_object
        put_object(self.data, "out", "runs/a/" + key, data)

    def stop(self):
        self.srv.stop()


class AzBackend:
    def __init__(self, node_dir, tmp):
        from tdtest.azurite import ACCOUNT, KEY, Azurite, azurite_main_js, start_azurite
        main_js = azurite_main_js(node_dir)
        if not main_js:
            L.fail(f"azurite is not installed in {node_dir}")
        self.proc, port = start_azurite(main_js, os.path.join(tmp, "azurite"))
        if port is None:
            L.fail("azurite did not start")
        self.az = Azurite(port)
        self.az.create_container("out")
        self.url = "az://out/runs/a"
        self.opts = {"account_name": ACCOUNT, "account_key": KEY,
                     "endpoint": f"http://127.0.0.1:{port}/{ACCOUNT}"}
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AZURE_", "AZURITE_"))}

    def keys(self):
        st, body = self.az.request("GET", "out", query=[("comp", "list"), ("prefix", "runs/a/"),
                                                        ("restype", "container")])
        assert st == 200, (st, body[:300])
        out = {}
        for name in ET.fromstring(body).iter("Name"):
            st, data = self.az.request("GET", "out", name.text)
            assert st == 200, (name.text, st)
            out[name.text[len("runs/a/"):]] = data
        return out

    def put_foreign(self, key, data):
        self.az.put("out", "runs/a/" + key, data)

    def stop(self):
        stop(self.proc)


class GcsBackend:
    def __init__(self, node_dir, tmp):
        from tdtest.gcs_emulator import start_emulator
        if not os.path.exists(os.path.join(node_dir, "node_modules", "firebase-tools")):
            L.fail(f"firebase-tools is not installed in {node_dir}")
        self.proc, self.port = start_emulator(node_dir, tmp)
        if self.port is None:
            L.fail("the GCS emulator did not start")
        self.url = "gs://out/runs/a"
        self.opts = {"google_base_url": f"http://127.0.0.1:{self.port}",
                     "skip_signature": True}
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("GOOGLE_", "GCE_", "STORAGE_EMULATOR", "CLOUDSDK_"))}
        self.env["HOME"] = "/nonexistent"

    def keys(self):
        from tdtest.azgcs_testlib import request
        out, token = {}, None
        for _ in range(100):  # bounded: pages of 1000
            q = "prefix=" + urllib.parse.quote("runs/a/", safe="")
            if token:
                q += "&pageToken=" + urllib.parse.quote(token, safe="")
            st, body = request(self.port, "GET", f"/storage/v1/b/out/o?{q}")
            assert st == 200, (st, body[:300])
            j = json.loads(body)
            for it in j.get("items", []):
                name = it["name"]
                st, data = request(self.port, "GET", "/storage/v1/b/out/o/"
                                   + urllib.parse.quote(name, safe="") + "?alt=media")
                assert st == 200, (name, st)
                out[name[len("runs/a/"):]] = data
            token = j.get("nextPageToken")
            if not token:
                break
        return out

    def put_foreign(self, key, data):
        from tdtest.gcs_emulator import upload
        upload(self.port, "out", "runs/a/" + key, data)

    def stop(self):
        stop(self.proc)


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
        backend = {"s3": S3Backend, "az": AzBackend, "gcs": GcsBackend}[kind](node_dir, tmp)
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
                           "output:", "  obstore_config:"]
                          + [f"    {k}: {json.dumps(v)}" for k, v in backend.opts.items()]) + "\n")
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
