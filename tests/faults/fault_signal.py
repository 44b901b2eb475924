"""SIGTERM and SIGINT stop a run at once, whatever the server does (issue 13, item 3).

A fault server stalls half the keys (30 s, no answer) and answers the other half 503 with
Retry-After 5 (so their retries wait in backoff). Generous network settings (request
timeout 20 s, 6 attempts, retry_max_time 300 s) would keep the run going for minutes. After
the first requests have arrived, the signal is sent; then:

  - the tool exits 3 within 3 s;
  - no request reaches the server after the signal (nothing new is started, no retry);
  - no _SUCCESS and no temporary file are left; the part files are readable;
  - every object whose read had started has exactly one row: an error of kind
    `interrupted`; keys never started have none.

Runs with one fetch thread and with four (concurrency.threads): the signal reaches every
thread's loop, each cancels its own store's reads.

usage: fault_signal.py TIFF_DUMPER NODE_DIR"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from tdtest import require
from tdtest.e2e_lib import duckdb
from tdtest.faults import FaultServer, tiff_bytes

N_KEYS = 24
N_CONSUMERS = 8


def check(cond, what, failed):
    if not cond:
        failed.append(what)
        print("FAIL", what[:600], flush=True)


def run(exe, node_dir, tmp, srv, sig, failed, store_yaml, threads):
    name = f"{signal.Signals(sig).name}_{srv.style}_t{threads}"
    out = os.path.join(tmp, f"out_{name}")
    cfg = os.path.join(tmp, f"{name}.yaml")
    with open(cfg, "w") as f:
        f.write(f"""store:
{store_yaml}
  keys_from: "{os.path.join(tmp, 'keys.txt')}"
concurrency:
  n_consumers: {N_CONSUMERS}
  threads: {threads}
network:
  connect_timeout: 5
  request_timeout: 20
  max_attempts: 6
  retry_max_time: 300
""")
    srv.reset_log()
    p = subprocess.Popen([exe, "headers", cfg, out, "--quiet"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    # wait (bounded) until every slot's first request has reached the server and the
    # 503s have been answered once (their retries now wait 5 s in backoff)
    deadline = time.time() + 15
    while time.time() < deadline and len(srv.entries()) < N_CONSUMERS and p.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    started = {e["key"] for e in srv.entries()}
    t_sig = time.time()
    p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        check(False, f"{name}: still running 10 s after the signal", failed)
        return
    took = time.time() - t_sig
    print(f"{name}: exit {p.returncode} {took:.2f} s after the signal; "
          f"{len(started)} objects started", flush=True)
    check(p.returncode == 3, f"{name}: exit {p.returncode} (want 3): {err[-500:]}", failed)
    check(took < 3.0, f"{name}: exit took {took:.2f} s after the signal (want < 3)", failed)
    late = [e for e in srv.entries() if e["t"] > t_sig + 0.05]
    check(not late, f"{name}: {len(late)} requests after the signal: {late[:3]}", failed)
    check(not os.path.exists(os.path.join(out, "_SUCCESS")), f"{name}: _SUCCESS written",
          failed)
    tmps = [f for _, _, fs in os.walk(out) for f in fs if f.endswith(".tmp")]
    check(not tmps, f"{name}: temporary files left: {tmps}", failed)
    errs_glob = os.path.join(out, "_errors", "part-*.parquet")
    has_parts = any(f.endswith(".parquet") for f in os.listdir(os.path.join(out, "_errors"))) \
        if os.path.isdir(os.path.join(out, "_errors")) else False
    check(has_parts, f"{name}: no errors part file written", failed)
    if not has_parts:
        return
    (errs,) = duckdb(node_dir, f"SELECT path, stage, kind, message, attempts "
                               f"FROM read_parquet('{errs_glob}') ORDER BY path")
    paths = [e["path"] for e in errs]
    check(len(paths) == len(set(paths)), f"{name}: a key has several rows: {paths}", failed)
    check(all(e["kind"] == "interrupted" for e in errs),
          f"{name}: kinds {sorted({e['kind'] for e in errs})} (want interrupted)", failed)
    check(set(paths) == started,
          f"{name}: rows for {sorted(set(paths))}, the server saw {sorted(started)}", failed)


def main():
    exe, node_dir = sys.argv[1:3]
    require("node")
    tmp = tempfile.mkdtemp(prefix="td_fsig_")
    servers = []
    failed = []
    try:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        keys = []
        for i in range(N_KEYS):
            k = f"{'stall' if i % 2 else 'busy'}{i:02d}.tif"
            keys.append(k)
            with open(os.path.join(root, k), "wb") as f:
                f.write(tiff_bytes(7, 5))
        with open(os.path.join(tmp, "keys.txt"), "w") as f:
            f.write("".join(k + "\n" for k in keys))
        rules = os.path.join(tmp, "rules.json")
        with open(rules, "w") as f:
            json.dump({"rules": [{"match": "stall*", "fault": "stall", "seconds": 30},
                                 {"match": "busy*", "fault": "status", "status": 503,
                                  "retry_after": 5}]}, f)
        srv = FaultServer(tmp, root, "http", "/data/", rules=rules, tag="http")
        servers.append(srv)
        http = f'  name: "http://127.0.0.1:{srv.port}/data/"'
        run(exe, node_dir, tmp, srv, signal.SIGTERM, failed, http, 1)
        run(exe, node_dir, tmp, srv, signal.SIGINT, failed, http, 4)
        # the same through the S3 backend (signed requests, its own retry path)
        srv = FaultServer(tmp, root, "s3", "/", rules=rules, tag="s3")
        servers.append(srv)
        s3 = ('  name: "s3://bucket"\n  obstore_config:\n'
              f'    endpoint: "http://127.0.0.1:{srv.port}"\n    allow_http: true\n'
              '    region: us-east-1\n    aws_access_key_id: AKIDSIG\n'
              '    aws_secret_access_key: secretsig')
        run(exe, node_dir, tmp, srv, signal.SIGTERM, failed, s3, 4)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failed)} failures")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
