"""End to end through GCS: the shared corpus uploaded to the Cloud Storage emulator of npm
firebase-tools (JSON API, anonymous as with STORAGE_EMULATOR_HOST) and dumped with
`tiff-dumper headers gs://corpus ...` gives the same header rows as the local-folder run of
the same files (last_modified and etag, which are the store's own, left out) and the same
error rows; `tiff-dumper info gs://...` prints what `info FILE` prints.

usage: gcs_corpus_e2e.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import concurrent.futures
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
import e2e_lib as L  # noqa: E402
import gcs_emulator_test as G  # noqa: E402


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    corpus = os.path.abspath(corpus)
    if not os.path.exists(os.path.join(node_dir, "node_modules", "firebase-tools")):
        L.fail(f"firebase-tools is not installed in {node_dir} (scripts/deps.sh)")
    tmp = tempfile.mkdtemp(prefix="td-gcse2e-")
    port = G.free_port()
    proc = subprocess.Popen(["node", os.path.join(HERE, "gcs_fbemu.js"), node_dir, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, TMPDIR=tmp))
    try:
        if not G.wait_port(port, proc):
            L.fail("the emulator did not start: " + proc.stderr.read().decode()[-2000:])
        files = []
        for d, _, names in os.walk(corpus, followlinks=True):
            for n in names:
                full = os.path.join(d, n)
                if os.path.isfile(full):
                    files.append(os.path.relpath(full, corpus))

        def up(rel):
            with open(os.path.join(corpus, rel), "rb") as f:
                G.upload(port, "corpus", rel, f.read())
        with concurrent.futures.ThreadPoolExecutor(8) as ex:  # bounded concurrency
            list(ex.map(up, files))
        print(f"uploaded {len(files)} files")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GOOGLE_", "GCE_", "STORAGE_EMULATOR"))}
        env["HOME"] = "/nonexistent"  # no gcloud application-default credentials
        env["STORAGE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        outs = {}
        for name, store in (("local", corpus), ("gcs", "gs://corpus")):
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
        print("ok")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
