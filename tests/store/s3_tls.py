"""S3 over https with a private CA: nginx on 127.0.0.1 terminates TLS with a server
certificate signed by a CA this test makes (openssl CLI) and proxies to s3rver.

- with `network.ca_bundle: CA.pem`, `tiff-dumper headers` dumps every key;
- without it, certificate verification fails: the listing becomes one error row of kind
  `network` whose message names the certificate problem, after one attempt (a failed
  verification is final, never retried), and the run exits 1;
- a `ca_bundle` that does not exist is a configuration error (exit 2) naming the file,
  before any request (nginx's access log stays empty).

usage: s3_tls.py TIFF_DUMPER CORPUS_DIR NODE_DIR
"""
import json
import os
import shutil
import subprocess
import sys

from tdtest import e2e_lib as L
from tdtest.s3_testlib import S3rver, free_port, object_path, start_nginx, stop

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  log_format td_q '$status $request_method $request_uri';
  access_log {tmp}/access.log td_q;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  upstream s3 {{ server 127.0.0.1:{s3port}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {tmp}/server.pem;
    ssl_certificate_key {tmp}/server.key;
    location / {{
      proxy_pass http://s3;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }}
  }}
}}
"""


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        L.fail(f"openssl {' '.join(args)}: {p.stderr[-800:]}")


def make_certs(d):
    """A CA, and a server certificate for 127.0.0.1 (and localhost) that it signs."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=tiff-dumper test CA", "-keyout", "ca.key", "-out", "ca.pem",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem", cwd=d)


def config(path, endpoint, ca=None):
    lines = ["store:", '  name: "s3://tls"', "  obstore_config:",
             f"    endpoint: {json.dumps(endpoint)}", "    skip_signature: true",
             "    region: us-east-1",
             "concurrency:", "  n_consumers: 16", "  list_chunk_size: 50",
             "  max_buffer_size: 100", "  write_chunk_size: 100",
             "network:", "  connect_timeout: 5", "  request_timeout: 10", "  max_attempts: 4",
             "  retry_max_time: 30"]
    if ca is not None:
        lines.append(f"  ca_bundle: {json.dumps(ca)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("s3tls")
    ngx = s3 = None
    try:
        data = os.path.join(tmp, "s3data")
        tiffs = []
        for d, _, files in os.walk(corpus, followlinks=True):
            for f in files:
                if f.lower().endswith((".tif", ".tiff")):
                    tiffs.append(os.path.join(d, f))
        tiffs = sorted(tiffs)[::10]  # a sample is enough: this is about the transport
        keys = []
        for i, src in enumerate(tiffs):
            key = f"k/{i:03d}-{os.path.basename(src)}"
            dst = object_path(data, "tls", key)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
            keys.append(key)
        ngx_dir = os.path.join(tmp, "nginx")
        os.makedirs(ngx_dir)
        make_certs(ngx_dir)
        ca = os.path.join(ngx_dir, "ca.pem")
        s3 = S3rver(node_dir, data)
        port = free_port()
        ngx = start_nginx(ngx_dir, NGINX_CONF.format(tmp=ngx_dir, port=port, s3port=s3.port),
                          port)
        endpoint = f"https://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "SSL_CERT", "CURL_CA"))}
        env["HOME"] = tmp
        log_path = os.path.join(ngx_dir, "access.log")

        def log_lines():
            with open(log_path) as f:
                return f.read().splitlines()

        # 1. the CA given: every key dumped over https
        cfg = os.path.join(tmp, "ca.yaml")
        config(cfg, endpoint, ca)
        out = os.path.join(tmp, "out-ca")
        p = L.run_tool(exe, "headers", cfg, out, env=env, timeout=120)
        print("with ca_bundle: exit", p.returncode, p.stderr[-600:])
        if p.returncode not in (0, 1):
            L.fail(f"run with ca_bundle: exit {p.returncode}")
        rows, errs = L.duckdb(
            node_dir, f"SELECT path FROM read_parquet('{out}/part-*.parquet') ORDER BY path",
            f"SELECT path, stage, kind FROM read_parquet('{out}/_errors/part-*.parquet') "
            f"ORDER BY path")
        got = sorted([r["path"] for r in rows] + [e["path"] for e in errs])
        if got != sorted(keys) or any(e["kind"] in ("network", "timeout") for e in errs):
            L.fail(f"with ca_bundle: {len(rows)} rows + {len(errs)} errors for {len(keys)} "
                   f"keys: {errs[:3]}")
        if not any(" GET /tls?" in x or "list-type=2" in x for x in log_lines()):
            L.fail("nginx saw no listing: the run did not go through TLS")
        print(f"with ca_bundle: {len(rows)} rows, {len(errs)} errors (the corpus's own), "
              f"{len(keys)} keys")
        # 2. no CA: verification fails once, clearly, and is not retried
        open(log_path, "w").close()
        cfg2 = os.path.join(tmp, "noca.yaml")
        config(cfg2, endpoint)
        out2 = os.path.join(tmp, "out-noca")
        p2 = L.run_tool(exe, "headers", cfg2, out2, env=env, timeout=120)
        print("without ca_bundle: exit", p2.returncode, p2.stderr[-600:])
        if p2.returncode != 1:
            L.fail(f"run without ca_bundle: exit {p2.returncode}, want 1")
        errs2 = L.duckdb(
            node_dir,
            f"SELECT path, stage, kind, message, CAST(attempts AS INTEGER) AS attempts "
            f"FROM read_parquet('{out2}/_errors/part-*.parquet')")[0]
        print("error rows:", errs2)
        if len(errs2) != 1:
            L.fail(f"without ca_bundle: want one (listing) error row, got {len(errs2)}")
        e = errs2[0]
        msg = e["message"].lower()
        if e["kind"] != "network" or "tls" not in msg or "certificate" not in msg:
            L.fail(f"without ca_bundle: want kind network with a TLS certificate message: {e}")
        if e["attempts"] != 1:
            L.fail(f"a failed verification was retried: attempts {e['attempts']}")
        if log_lines():
            L.fail(f"nginx answered requests without a verified TLS session: {log_lines()[:3]}")

        # 3. a CA file that does not exist: config error, exit 2, naming the file
        missing = os.path.join(tmp, "no-such-ca.pem")
        cfg3 = os.path.join(tmp, "missing.yaml")
        config(cfg3, endpoint, missing)
        p3 = L.run_tool(exe, "headers", cfg3, os.path.join(tmp, "out-missing"), env=env,
                        timeout=60)
        print("missing ca_bundle: exit", p3.returncode, p3.stderr.strip()[-400:])
        if p3.returncode != 2 or missing not in p3.stderr:
            L.fail(f"missing ca_bundle: exit {p3.returncode}, want 2 and the file named: "
                   f"{p3.stderr[-400:]}")
        if log_lines():
            L.fail("requests were sent with a missing ca_bundle")
        print("ok")
    finally:
        if ngx is not None:
            stop(ngx)
        if s3 is not None:
            s3.stop()
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
