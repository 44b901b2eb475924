"""End to end through Azure: the shared corpus uploaded to azurite (npm azurite 3.35.0,
loopback), `tiff-dumper headers` run on az://corpus and on the local folder, and the two
outputs compared with DuckDB: the same header rows column by column (except
last_modified and etag, which are the store's own) and the same error rows (path, stage,
kind).

usage: az_corpus_e2e.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import os
import shutil
import sys
import tempfile

from tdtest import azurite as AZ
from tdtest import e2e_lib as L
from tdtest.store_testlib import stop, upload_tree


def config(path, store, obstore=None):
    lines = ["store:", f'  name: "{store}"']
    if obstore:
        lines.append("  obstore_config:")
        for k, v in obstore.items():
            lines.append(f'    {k}: "{v}"')
    lines += ["concurrency:", "  n_consumers: 16", "  list_chunk_size: 40",
              "  max_buffer_size: 120", "  write_chunk_size: 120"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    corpus = os.path.abspath(corpus)
    main_js = AZ.azurite_main_js(node_dir)
    if not main_js:
        print("azurite is not installed (npm ci in tests/node)")
        return 77
    tmp = tempfile.mkdtemp(prefix="td-azcorpus-")
    proc, port = AZ.start_azurite(main_js, os.path.join(tmp, "azurite"))
    try:
        if port is None:
            return 1
        az = AZ.Azurite(port)
        az.create_container("corpus")
        n = upload_tree(corpus, lambda rel, data: az.put("corpus", rel, data))
        print(f"uploaded {n} files")

        local_cfg, az_cfg = os.path.join(tmp, "local.yaml"), os.path.join(tmp, "az.yaml")
        config(local_cfg, corpus)
        config(az_cfg, "az://corpus", {"account_name": AZ.ACCOUNT, "account_key": AZ.KEY,
                                       "endpoint": f"http://127.0.0.1:{port}/{AZ.ACCOUNT}"})
        outs = {}
        for name, cfg in (("local", local_cfg), ("azure", az_cfg)):
            out = os.path.join(tmp, "out-" + name)
            p = L.run_tool(exe, "headers", cfg, out)
            print(name, "exit", p.returncode, p.stderr[-1500:])
            if p.returncode not in (0, 1):
                print(f"FAIL {name} run exit status {p.returncode}")
                return 1
            if AZ.KEY in p.stderr or AZ.KEY in p.stdout:
                print("FAIL the account key was printed")
                return 1
            outs[name] = out
        L.info_matches_local(exe, corpus, "az://corpus/",
                             {"account_name": AZ.ACCOUNT, "account_key": AZ.KEY,
                              "endpoint": f"http://127.0.0.1:{port}/{AZ.ACCOUNT}"})
        L.same_rows(node_dir, outs["local"], outs["azure"], ("local", "azure"))
        print("ok")
        return 0
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
