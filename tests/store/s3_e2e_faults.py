"""End to end through S3 with faults from a real server: `tiff-dumper headers` over s3rver
(the shared corpus copied under two prefixes, ~780 objects) behind nginx as a reverse proxy
that answers a share of requests with `SlowDown` inside a 200 (listings), 503, dropped
connections (`return 444`), `limit_req` 429s and stalls (proxied to a port that never
answers; the tool's request_timeout ends them). Three prefixes always answer 403, 404 and
400. Checked through the tool's outputs (DuckDB):

- every listed TIFF key is accounted for exactly once: rows + error paths = keys, no path
  twice, no path in both tables;
- the injected faults were all absorbed: besides the corpus's own parse errors (the same as
  a local run would give) the only error rows are the 403/404/400 ones, each with its
  http_status and attempts == 1 (never retried);
- attempts <= network.max_attempts in every error row;
- nginx's access log shows every listing asked max-keys = min(list_chunk_size, 1000)
  (50 in the faulted run, 1000 in a run with list_chunk_size 2000).

usage: s3_e2e_faults.py TIFF_DUMPER CORPUS_DIR NODE_DIR
"""
import json
import os
import re
import shutil
import socket
import sys
from urllib.parse import parse_qs, urlsplit

from tdtest import e2e_lib as L
from tdtest.s3_testlib import S3rver, free_port, object_path, start_nginx, stop

MAX_ATTEMPTS = 10
N_CONSUMERS = 48
BUCKET = "faults"
SPECIAL = {"deny": (403, "access_denied"), "gone": (404, "not_found"), "bad": (400, "http")}

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
worker_rlimit_nofile 8192;
http {{
  log_format td_q '$status $request_method $request_uri';
  access_log {tmp}/access.log td_q;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  limit_req_zone $server_port zone=s3:1m rate=200r/s;
  split_clients "${{request_id}}" $fault {{
    6% slowdown;
    6% e503;
    3% drop;
    1% stall;
    * ok;
  }}
  map "$fault:$args" $action {{
    "~^slowdown:.*list-type=2" slowdown;
    "~^e503:" e503;
    "~^drop:" drop;
    "~^stall:" stall;
    default ok;
  }}
  upstream s3 {{ server 127.0.0.1:{s3port}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{port};
    limit_req zone=s3 burst=10 nodelay;
    limit_req_status 429;
    location /{bucket}/deny/ {{ return 403; }}
    location /{bucket}/gone/ {{ return 404; }}
    location /{bucket}/bad/ {{ return 400; }}
    location / {{
      if ($action = slowdown) {{
        return 200 '<?xml version="1.0" encoding="UTF-8"?>\\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';
      }}
      if ($action = e503) {{ return 503; }}
      if ($action = drop) {{ return 444; }}
      if ($action = stall) {{ proxy_pass http://127.0.0.1:{stallport}; }}
      proxy_pass http://s3;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }}
  }}
}}
"""


def config(path, endpoint, chunk, prefixes=None):
    lines = ["store:", f"  name: \"s3://{BUCKET}\""]
    if prefixes:
        lines.append(f"  prefixes: {json.dumps(prefixes)}")
    lines += ["  obstore_config:",
              f"    endpoint: {json.dumps(endpoint)}",
              "    allow_http: true", "    skip_signature: true", "    region: us-east-1",
              "concurrency:", f"  n_consumers: {N_CONSUMERS}", f"  list_chunk_size: {chunk}",
              f"  max_buffer_size: {max(chunk, 200) // chunk * chunk}",
              f"  write_chunk_size: {max(chunk, 200)}",
              # s3rver leaves a folder that holds only folders out of CommonPrefixes (S3
              # does not): a delimiter fan-out would miss keys there, so list serially
              "  list_parallel: 1",
              "network:", "  connect_timeout: 2", "  request_timeout: 2",
              f"  max_attempts: {MAX_ATTEMPTS}", "  retry_max_time: 40"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def fill_bucket(corpus, data):
    keys = []

    def put(src, key):
        dst = object_path(data, BUCKET, key)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
        keys.append(key)

    files = []
    for d, _, names in os.walk(corpus, followlinks=True):
        for f in names:
            files.append(os.path.join(d, f))
    files.sort()
    for copy in ("a", "b"):
        for p in files:
            put(p, f"{copy}/{os.path.relpath(p, corpus)}")
    tiffs = [p for p in files if p.lower().endswith((".tif", ".tiff"))]
    for sp in SPECIAL:
        for i in range(4):
            put(tiffs[i], f"{sp}/x{i}.tif")
    return keys


def listings(log_lines):
    """max-keys of every listing request in the access log."""
    out = []
    for line in log_lines:
        parts = line.split(" ", 2)
        if len(parts) == 3 and "list-type=2" in parts[2]:
            q = parse_qs(urlsplit(parts[2]).query)
            out.append(q.get("max-keys", ["(none)"])[0])
    return out


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("s3faults")
    blackhole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ngx = s3 = None
    try:
        data = os.path.join(tmp, "s3data")
        keys = fill_bucket(corpus, data)
        tiff_keys = sorted(k for k in keys if k.lower().endswith((".tif", ".tiff")))
        print(f"{len(keys)} objects, {len(tiff_keys)} TIFF keys")
        # stalls: nginx connects here and waits for an answer that never comes
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(1024)
        stallport = blackhole.getsockname()[1]
        s3 = S3rver(node_dir, data)
        port = free_port()
        ngx_dir = os.path.join(tmp, "nginx")
        os.makedirs(ngx_dir)
        ngx = start_nginx(ngx_dir, NGINX_CONF.format(tmp=ngx_dir, port=port, s3port=s3.port,
                                                     stallport=stallport, bucket=BUCKET), port)
        endpoint = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["HOME"] = tmp

        cfg = os.path.join(tmp, "faults.yaml")
        config(cfg, endpoint, 50)
        out = os.path.join(tmp, "out")
        p = L.run_tool(exe, "headers", cfg, out, env=env, timeout=120)
        print("faulted run: exit", p.returncode, p.stderr[-1500:])
        if p.returncode not in (0, 1):
            L.fail(f"exit status {p.returncode}")
        log_path = os.path.join(ngx_dir, "access.log")
        with open(log_path) as f:
            log1 = f.read().splitlines()
        open(log_path, "w").close()  # nginx appends; the next run's lines start afresh

        # max-keys = min(list_chunk_size, 1000): a second, small run with a large chunk
        cfg2 = os.path.join(tmp, "bigchunk.yaml")
        config(cfg2, endpoint, 2000, prefixes=["deny/"])
        p2 = L.run_tool(exe, "headers", cfg2, os.path.join(tmp, "out2"), env=env, timeout=120)
        print("list_chunk_size 2000 run: exit", p2.returncode, p2.stderr[-500:])
        with open(log_path) as f:
            log2 = f.read().splitlines()
    finally:
        if ngx is not None:
            stop(ngx)
        if s3 is not None:
            s3.stop()
        blackhole.close()

    try:
        check_outputs(node_dir, out, tiff_keys)
        faults = {c: sum(1 for x in log1 if x.startswith(c + " ")) for c in ("503", "429", "444")}
        slowdowns = sum(1 for x in log1 if x.startswith("200 ") and "list-type=2" in x)
        # a stalled request never completes in nginx before the client gives up: 499
        faults["stall(499/504)"] = sum(1 for x in log1 if x.startswith(("499 ", "504 ")))
        print("faults injected:", faults, "200 listings (pages + SlowDowns):", slowdowns,
              "requests:", len(log1))
        if faults["503"] == 0 or faults["444"] == 0 or faults["429"] == 0:
            L.fail(f"not every kind of fault was injected: {faults}")
        # the store's push-back is reported in _SUCCESS: every throttling answer nginx gave
        # (503, 429, SlowDown in a 200) may count once, and some must have
        succ = json.load(open(os.path.join(out, "_SUCCESS")))
        print("_SUCCESS retries", succ.get("retries"), "throttled", succ.get("throttled"),
              "lowest_concurrency", succ.get("lowest_concurrency"))
        if not succ.get("retries") or not succ.get("throttled"):
            L.fail(f"_SUCCESS does not report the retries and throttling: {succ}")
        elif succ["throttled"] > faults["503"] + faults["429"] + slowdowns:
            L.fail(f"_SUCCESS throttled {succ['throttled']} > throttling answers sent {faults}")
        if not 1 <= succ.get("lowest_concurrency", 0) <= N_CONSUMERS:
            L.fail(f"_SUCCESS lowest_concurrency {succ.get('lowest_concurrency')}")
        mk1, mk2 = listings(log1), listings(log2)
        print("max-keys asked:", sorted(set(mk1)), "and", sorted(set(mk2)))
        if not mk1 or set(mk1) != {"50"}:
            L.fail(f"list_chunk_size 50: listings asked max-keys {sorted(set(mk1))}")
        if not mk2 or set(mk2) != {"1000"}:
            L.fail(f"list_chunk_size 2000: listings asked max-keys {sorted(set(mk2))}")
        print("ok")
    finally:
        L.rmtree(tmp)


def check_outputs(node_dir, out, tiff_keys):
    rows, errs = L.duckdb(
        node_dir,
        f"SELECT path FROM read_parquet('{out}/part-*.parquet') ORDER BY path",
        f"SELECT path, stage, kind, message, CAST(http_status AS INTEGER) AS http_status, "
        f"CAST(attempts AS INTEGER) AS attempts "
        f"FROM read_parquet('{out}/_errors/part-*.parquet') ORDER BY path, stage")
    row_paths = [r["path"] for r in rows]
    err_paths = sorted({e["path"] for e in errs})
    print(f"{len(row_paths)} rows, {len(errs)} error rows ({len(err_paths)} paths), "
          f"{len(tiff_keys)} TIFF keys")
    if len(set(row_paths)) != len(row_paths):
        dup = sorted({p for p in row_paths if row_paths.count(p) > 1})
        L.fail(f"{len(dup)} paths have more than one row: {dup[:5]}")
    both = set(row_paths) & set(err_paths)
    if both:
        L.fail(f"{len(both)} paths are in both tables: {sorted(both)[:5]}")
    got = sorted(row_paths + err_paths)
    if got != tiff_keys:
        missing = sorted(set(tiff_keys) - set(got))
        extra = sorted(set(got) - set(tiff_keys))
        L.fail(f"rows + errors = {len(got)}, want {len(tiff_keys)}: missing {missing[:5]}, "
               f"extra {extra[:5]}")
    # parse errors have no HTTP request (attempts null); fetch and list errors must be bounded
    over = [e for e in errs if e["attempts"] is not None and e["attempts"] > MAX_ATTEMPTS]
    if over:
        L.fail(f"error rows over max_attempts ({MAX_ATTEMPTS}): {over[:3]}")
    # the corpus's own errors come in pairs (a/ and b/ hold the same files): a fault that
    # leaked through would show as a path whose twin has no such row
    by_rel = {}
    for e in errs:
        top, rel = e["path"].split("/", 1)
        if top in SPECIAL:
            status, kind = SPECIAL[top]
            if e["http_status"] != status or e["kind"] != kind or e["attempts"] != 1:
                L.fail(f"{e['path']}: want kind {kind}, http_status {status}, attempts 1; "
                       f"got {e}")
        else:
            by_rel.setdefault(rel, {}).setdefault(top, []).append((e["stage"], e["kind"]))
    n_special = sum(1 for e in errs if e["path"].split("/", 1)[0] in SPECIAL)
    if n_special != 4 * len(SPECIAL):
        L.fail(f"{n_special} error rows for the 403/404/400 keys, want {4 * len(SPECIAL)}")
    leaked = [e for e in errs if e["kind"] in ("throttled", "network", "timeout")
              or (e["kind"] == "http" and e["path"].split("/", 1)[0] not in SPECIAL)]
    if leaked:
        L.fail(f"{len(leaked)} injected faults reached the errors table: {leaked[:3]}")
    for rel, tops in by_rel.items():
        if tops.get("a") != tops.get("b"):
            L.fail(f"{rel}: error rows differ between the two copies: {tops}")
    print(f"accounted: {len(row_paths)} rows + {len(err_paths)} error paths; "
          f"{n_special} 403/404/400 rows with their status and 1 attempt")


if __name__ == "__main__":
    main()
