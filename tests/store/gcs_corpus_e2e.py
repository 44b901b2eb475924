"""End to end through GCS: the shared corpus uploaded to the Cloud Storage emulator of npm
firebase-tools (JSON API, anonymous as with STORAGE_EMULATOR_HOST) and dumped with
`tiff-dumper headers gs://corpus ...` gives the same header rows as the local-folder run of
the same files (last_modified and etag, which are the store's own, left out) and the same
error rows; `tiff-dumper info gs://...` prints what `info FILE` prints.

usage: gcs_corpus_e2e.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import os
import shutil
import sys
import tempfile

from tdtest import e2e_lib as L
from tdtest import gcs_emulator as G
from tdtest import skip
from tdtest.store_testlib import stop, upload_tree


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    corpus = os.path.abspath(corpus)
    if not os.path.exists(os.path.join(node_dir, "node_modules", "firebase-tools")):
        skip(f"firebase-tools is not installed in {node_dir} (npm ci in tests/node)")
    tmp = tempfile.mkdtemp(prefix="td-gcse2e-")
    proc, port = G.start_emulator(node_dir, tmp)
    try:
        if port is None:
            L.fail("the emulator did not start: " + proc.stderr.read().decode()[-2000:])
        n = upload_tree(corpus, lambda rel, data: G.upload(port, "corpus", rel, data))
        print(f"uploaded {n} files")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GOOGLE_", "GCE_", "STORAGE_EMULATOR"))}
        env["HOME"] = "/nonexistent"  # no gcloud application-default credentials
        env["STORAGE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        outs = {}
        # https://storage.googleapis.com/BUCKET is GCS too (issue 14; obstore 0.6 would make
        # it a plain HTTP store)
        for name, store in (("local", corpus), ("gcs", "gs://corpus"),
                            ("gcs_https", "https://storage.googleapis.com/corpus")):
            cfg = os.path.join(tmp, name + ".yaml")
            L.write_config(cfg, store, concurrency={
                "n_consumers": 16, "list_chunk_size": 50, "max_buffer_size": 100,
                "write_chunk_size": 100})
            out = os.path.join(tmp, "out-" + name)
            p = L.run_tool(exe, "headers", cfg, out, env=env, timeout=600)
            print(name, "exit", p.returncode, p.stderr[-1500:])
            if p.returncode not in (0, 1):
                L.fail(f"{name} run: exit status {p.returncode}")
            outs[name] = out
        L.info_matches_local(exe, corpus, "gs://corpus/", {}, env=env)
        L.same_rows(node_dir, outs["local"], outs["gcs"], ("local", "gcs"))
        L.same_rows(node_dir, outs["local"], outs["gcs_https"], ("local", "gcs_https"))
        print("ok")
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
