"""End to end through S3: the shared corpus uploaded to s3rver (its -d layout) and dumped
with `tiff-dumper headers s3://corpus ...` gives the same rows as the local-folder run of
the same files (DuckDB reads both; last_modified and etag, which differ by nature, are left
out), and the same error rows (path, stage, kind).

usage: s3_e2e_corpus.py TIFF_DUMPER CORPUS_DIR NODE_DIR
"""
import json
import os
import shutil
import sys

from tdtest import e2e_lib as L
from tdtest.s3_testlib import S3rver, object_path


def config(path, store, obstore=None):
    lines = ["store:", f"  name: {json.dumps(store)}"]
    if obstore:
        lines.append("  obstore_config:")
        lines += [f"    {k}: {json.dumps(v)}" for k, v in obstore.items()]
    lines += ["concurrency:", "  n_consumers: 32", "  list_chunk_size: 50",
              "  max_buffer_size: 100", "  write_chunk_size: 100"]
    if store.startswith("s3://"):
        # s3rver leaves a folder that holds only folders out of CommonPrefixes (S3 does
        # not), so a delimiter fan-out would miss keys there: list serially
        lines.append("  list_parallel: 1")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("s3e2e")
    try:
        data = os.path.join(tmp, "s3data")
        n = 0
        for d, _, files in os.walk(corpus, followlinks=True):
            for f in files:
                rel = os.path.relpath(os.path.join(d, f), corpus)
                dst = object_path(data, "corpus", rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(os.path.join(d, f), dst)
                n += 1
        print(f"{n} objects in the bucket")
        s3 = S3rver(node_dir, data)
        try:
            config(os.path.join(tmp, "local.yaml"), corpus)
            config(os.path.join(tmp, "s3.yaml"), "s3://corpus",
                   {"endpoint": s3.endpoint, "allow_http": True, "skip_signature": True,
                    "region": "us-east-1"})
            runs = {}
            for name in ("local", "s3"):
                out = os.path.join(tmp, "out-" + name)
                env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
                p = L.run_tool(exe, "headers", os.path.join(tmp, name + ".yaml"), out,
                               env=env, timeout=600)
                print(name, "exit", p.returncode, p.stderr[-1500:])
                if p.returncode not in (0, 1):
                    L.fail(f"{name} run: exit status {p.returncode}")
                runs[name] = out
            opts = {"endpoint": s3.endpoint, "allow_http": "true", "skip_signature": "true",
                    "region": "us-east-1"}
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            L.info_matches_local(exe, corpus, "s3://corpus/", opts, env=env)
        finally:
            s3.stop()
        L.same_rows(node_dir, runs["local"], runs["s3"], ("local", "s3"))
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
