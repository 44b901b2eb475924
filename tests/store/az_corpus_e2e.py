"""End to end through Azure: the shared corpus uploaded to azurite (npm azurite 3.35.0,
loopback), `tiff-dumper headers` run on az://corpus and on the local folder, and the two
outputs compared with DuckDB: the same header rows column by column (except
last_modified and etag, which are the store's own) and the same error rows (path, stage,
kind).

usage: az_corpus_e2e.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import concurrent.futures
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
import az_azurite_test as AZ  # noqa: E402
import e2e_lib as L  # noqa: E402


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
    main_js = os.path.join(node_dir, "node_modules", "azurite", "dist", "src", "blob",
                           "main.js")
    if not os.path.exists(main_js):
        print("azurite is not installed (npm ci in tests/node)")
        return 77
    tmp = tempfile.mkdtemp(prefix="td-azcorpus-")
    port = AZ.free_port()
    proc = subprocess.Popen(
        ["node", main_js, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location",
         os.path.join(tmp, "azurite"), "--silent", "--disableTelemetry",
         "--skipApiVersionCheck", "--loose"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):  # bounded wait (30 s)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    print("azurite exited:", proc.stderr.read().decode()[-2000:])
                    return 1
                time.sleep(0.1)
        az = AZ.Azurite(port)
        az.create_container("corpus")
        files = []
        for d, _, names in os.walk(corpus, followlinks=True):
            for n in names:
                full = os.path.join(d, n)
                if os.path.isfile(full):
                    files.append(os.path.relpath(full, corpus))

        def up(rel):
            with open(os.path.join(corpus, rel), "rb") as f:
                az.put("corpus", rel, f.read())
        with concurrent.futures.ThreadPoolExecutor(8) as ex:  # bounded concurrency
            list(ex.map(up, files))
        print(f"uploaded {len(files)} files")

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
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
