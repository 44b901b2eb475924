"""concurrency.threads: the same rows whatever the number of fetch threads.

- the corpus as a local folder (listed), with threads 1, 2 and 4;
- the corpus served by nginx over HTTP, read from a key list that also names missing
  objects (fetch-stage not_found rows made on the fetch threads), with threads 1, 2 and 4;
- the corpus in s3rver, signed with credentials from a fake EC2 metadata service (IMDSv2)
  that hands out credentials lasting 2 s, with threads 1 and 4: every fetch thread's store
  fetches and refreshes its own credentials (each is opened from the same options);

and, for the local folder and nginx, the process pinned to one CPU (taskset), with the
default threads (then one: the default follows the affinity mask, which the --loud summary
shows) and with threads 2;

each run gives the same header rows and the same error rows as the threads: 1 run (DuckDB
reads them; order in the files may differ), every key exactly once, and _SUCCESS counts
that agree with the rows (an error is counted once, whichever thread made it) and with the
other runs. A threads value above n_consumers is capped, not refused.

usage: e2e_threads.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import datetime
import json
import os
import shutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tdtest import e2e_lib as L
from tdtest.http_testlib import Nginx
from tdtest.s3_testlib import S3rver, object_path

THREADS = (1, 2, 4, "pinned", "pinned-2")
PINNED = {"pinned": None, "pinned-2": 2}  # threads key (None: the default) on one CPU
MISSING = 25
COUNTS = ("listed", "skipped", "dumped", "failed", "bytes_fetched", "requests")


def tiffs(corpus):
    out = []
    for d, _, files in os.walk(corpus, followlinks=True):
        for f in files:
            if f.lower().endswith((".tif", ".tiff")):
                out.append(os.path.relpath(os.path.join(d, f), corpus))
    return sorted(out)


class Imds(BaseHTTPRequestHandler):
    """IMDSv2 as documented: a token PUT, the role name, then credentials (s3rver's key)."""
    hits = 0
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        self.reply(200 if self.path == "/latest/api/token" else 404, "imds-token")

    def do_GET(self):
        base = "/latest/meta-data/iam/security-credentials/"
        if not self.path.startswith(base) or self.headers.get("X-aws-ec2-metadata-token") \
                != "imds-token":
            return self.reply(404, "")
        if self.path == base:
            return self.reply(200, "role\n")
        with Imds.lock:
            Imds.hits += 1
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
        self.reply(200, json.dumps({
            "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "S3RVER",
            "SecretAccessKey": "S3RVER", "Token": "session-token",
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}))


def run(exe, tmp, name, store, threads, env=None, **source):
    cfg = os.path.join(tmp, f"{name}-{threads}.yaml")
    out = os.path.join(tmp, f"out-{name}-{threads}")
    lines = ["store:", f"  name: {json.dumps(store)}"]
    for k, v in source.items():
        lines.append(f"  {k}: {json.dumps(v)}")
    # small chunks: listing pages, backpressure and several part files on ~350 objects
    pinned = threads in PINNED
    n = PINNED[threads] if pinned else threads
    lines += ["concurrency:"] + ([f"  threads: {n}"] if n else []) + [
        "  n_consumers: 12", "  list_chunk_size: 40", "  max_buffer_size: 200",
        "  write_chunk_size: 100"]
    if store.startswith("s3://"):
        # s3rver leaves a folder that holds only folders out of CommonPrefixes (S3 does
        # not), so a delimiter fan-out would miss keys there: list serially
        lines.append("  list_parallel: 1")
    lines += ["output:", "  row_group_size: 30"]
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    cpu = min(os.sched_getaffinity(0))
    pin = {"preexec_fn": lambda: os.sched_setaffinity(0, {cpu})} if pinned else {}
    p = L.run_tool(exe, "headers", cfg, out, "--loud", timeout=300, env=env, **pin)
    if p.returncode not in (0, 1):
        L.fail(f"{name} threads {threads}: exit {p.returncode}: {p.stderr[-2000:]}")
    want = f"{n or 1} fetch thread{'s' if (n or 1) > 1 else ''} (concurrency.threads)"
    if pinned and want not in p.stderr:
        L.fail(f"{name} {threads}: want '{want}' in the summary: {p.stderr[-600:]}")
    with open(os.path.join(out, "_SUCCESS")) as f:
        succ = json.load(f)
    return out, succ


def check_group(exe, node_dir, tmp, name, store, want_paths, want_errors, threads=THREADS,
                env=None, **source):
    base = None
    for t in threads:
        hits = Imds.hits
        out, succ = run(exe, tmp, name, store, t, env, **source)
        # the fetch threads' stores share the listing store's credentials (store_share.h):
        # one fetch, plus a refresh each time the 2-second credentials near expiry, so the
        # count follows the run's length, not the thread count
        if env and Imds.hits - hits < 1:
            L.fail(f"{name} threads {t}: {Imds.hits - hits} credential fetches, want the "
                   f"credentials from IMDS")
        heads, errs = L.duckdb(
            node_dir,
            f"SELECT path FROM read_parquet('{out}/part-*.parquet')",
            # errors/ or _errors/: the folder's name is the output module's
            f"SELECT path, stage, kind FROM read_parquet('{out}/*errors/part-*.parquet')")
        paths = [r["path"] for r in heads + errs]
        if len(paths) != len(set(paths)) or set(paths) != set(want_paths):
            dup = sorted({x for x in paths if paths.count(x) > 1})[:5]
            L.fail(f"{name} threads {t}: every key once: duplicates {dup}, missing "
                   f"{sorted(set(want_paths) - set(paths))[:5]}, extra "
                   f"{sorted(set(paths) - set(want_paths))[:5]}")
        if succ["dumped"] != len(heads) or succ["failed"] != len(errs):
            L.fail(f"{name} threads {t}: _SUCCESS says {succ['dumped']} dumped, "
                   f"{succ['failed']} failed; the files hold {len(heads)} and {len(errs)}")
        if want_errors is not None:
            nf = [e for e in errs if e["kind"] == "not_found" and e["stage"] == "fetch"]
            if len(nf) != want_errors:
                L.fail(f"{name} threads {t}: {len(nf)} not_found rows, want {want_errors}")
        print(f"{name} threads {t}: {len(heads)} header rows, {len(errs)} error rows, "
              f"{succ['requests']} requests")
        if base is None:
            base = (out, succ)
            continue
        L.same_rows(node_dir, base[0], out, (f"{name}/1", f"{name}/{t}"))
        for k in COUNTS:
            if succ[k] != base[1][k]:
                L.fail(f"{name}: _SUCCESS {k} is {base[1][k]} with 1 thread, {succ[k]} with {t}")


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    exe = os.path.abspath(exe)
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("threads")
    try:
        rels = tiffs(corpus)
        check_group(exe, node_dir, tmp, "local", corpus, rels, None)

        keys = os.path.join(tmp, "keys.txt")
        missing = [f"no/such/object-{i}.tif" for i in range(MISSING)]
        with open(keys, "w") as f:
            # missing keys spread through the list, so every thread meets some
            step = max(1, len(rels) // MISSING)
            for i, r in enumerate(rels):
                f.write(r + "\n")
                if i % step == 0 and missing:
                    f.write(missing.pop() + "\n")
            for m in missing:
                f.write(m + "\n")
        want = rels + [f"no/such/object-{i}.tif" for i in range(MISSING)]
        ngx = Nginx(os.path.join(tmp, "nginx"), corpus)
        try:
            check_group(exe, node_dir, tmp, "http", ngx.url + "/", want, MISSING,
                        keys_from=keys)
        finally:
            ngx.stop()

        # s3rver, credentials from IMDS; obstore_config goes in as written
        data = os.path.join(tmp, "s3data")
        for r in rels:
            dst = object_path(data, "corpus", r)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(os.path.join(corpus, r), dst)
        imds = ThreadingHTTPServer(("127.0.0.1", 0), Imds)
        threading.Thread(target=imds.serve_forever, daemon=True).start()
        s3 = S3rver(node_dir, data)
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(AWS_EC2_METADATA_SERVICE_ENDPOINT=f"http://127.0.0.1:{imds.server_port}",
                       AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmp, "none"),
                       AWS_CONFIG_FILE=os.path.join(tmp, "none"))
            check_group(exe, node_dir, tmp, "s3", "s3://corpus", rels, None, (1, 4), env,
                        obstore_config={"endpoint": s3.endpoint, "allow_http": True,
                                        "region": "us-east-1"})
            print(f"{Imds.hits} credential fetches from IMDS in all")
        finally:
            s3.stop()
            imds.shutdown()

        # more threads than slots: capped at n_consumers (one slot each), same rows
        cfg = os.path.join(tmp, "many.yaml")
        L.write_config(cfg, corpus, concurrency={"threads": 64, "n_consumers": 3})
        out = os.path.join(tmp, "out-many")
        p = L.run_tool(exe, "headers", cfg, out, timeout=300)
        if p.returncode not in (0, 1):
            L.fail(f"threads 64, n_consumers 3: exit {p.returncode}: {p.stderr[-1000:]}")
        L.same_rows(node_dir, os.path.join(tmp, "out-local-1"), out, ("local/1", "64 on 3"))
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
