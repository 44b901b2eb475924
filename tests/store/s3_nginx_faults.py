"""The S3 backend through nginx answering a share of requests with faults, in front of
s3rver: SlowDown inside a 200 on listings (as S3 does), 503, dropped connections (444),
and a request-rate limit answering 429. Listing and reads must still account for every
key exactly once, with bounded retries.

usage: s3_nginx_faults.py PROBE NODE_DIR
"""
import os
import sys
import tempfile

from tdtest.s3_testlib import (S3rver, free_port, parse_list, put_object, run_probe,
                        start_nginx, stop)
from tdtest.store_testlib import Checks

N = 1000
check = Checks(600)


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {tmp}/access.log;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  limit_req_zone $server_port zone=s3:1m rate=300r/s;
  split_clients "${{request_id}}" $fault {{
    8% slowdown;
    8% e503;
    4% drop;
    * ok;
  }}
  map "$fault:$args" $action {{
    "~^slowdown:.*list-type=2" slowdown;
    "~^e503:" e503;
    "~^drop:" drop;
    default ok;
  }}
  upstream s3 {{ server 127.0.0.1:{s3port}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{port};
    limit_req zone=s3 burst=30 nodelay;
    limit_req_status 429;
    location / {{
      if ($action = slowdown) {{
        return 200 '<?xml version="1.0" encoding="UTF-8"?>\\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';
      }}
      if ($action = e503) {{ return 503; }}
      if ($action = drop) {{ return 444; }}
      proxy_pass http://s3;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }}
  }}
}}
"""


def main():
    probe, node_dir = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="td-s3nginx-") as tmp:
        data = os.path.join(tmp, "data")
        bodies = {}
        for i in range(N):
            key = f"f/k{i:04d}.tif"
            bodies[key] = f"body of {i};".encode() * 4
            put_object(data, "pub", key, bodies[key])
        s3 = S3rver(node_dir, data)
        port = free_port()
        try:
            ngx = start_nginx(tmp, NGINX_CONF.format(tmp=tmp, port=port, s3port=s3.port), port)
            try:
                run(probe, port, bodies, tmp)
            finally:
                stop(ngx)
        finally:
            s3.stop()
    check.finish()


def run(probe, port, bodies, tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(TD_PROBE_ATTEMPTS="12", TD_PROBE_RETRY_MS="60000", HOME=tmp)
    opts = {"endpoint": f"http://127.0.0.1:{port}", "allow_http": "true",
            "skip_signature": "true"}
    entries, pages, status = parse_list(run_probe(probe, "s3://pub", opts, ["list", "", "50"],
                                                  env=env, timeout=240))
    keys = [e[0] for e in entries]
    check(status == ("ok", ""), f"list status {status}")
    check(keys == sorted(bodies), f"listed {len(keys)} keys ({len(set(keys))} distinct), "
          f"want {len(bodies)}")
    out = run_probe(probe, "s3://pub", opts, ["getall", "1000", "16", "32"], env=env,
                    timeout=240)
    got = [line.split("\t") for line in out if line.startswith("got\t")]
    ok = [g for g in got if g[2] == "ok" and int(g[3]) == 16]
    check(len(got) == N and len({g[1] for g in got}) == N,
          f"{len(got)} results for {N} keys")
    check(len(ok) == N, f"{len(ok)} reads ok of {N}: {[g for g in got if g[2] != 'ok'][:3]}")
    with open(os.path.join(tmp, "access.log")) as f:
        log = f.read().split("\n")
    faults = {code: sum(1 for x in log if f'" {code} ' in x) for code in ("503", "429", "444")}
    slowdowns = sum(1 for x in log if "list-type=2" in x and '" 200 ' in x) - len(pages)
    print("faults injected:", faults, "slowdowns in 200:", slowdowns)
    check(faults["503"] > 0 and faults["444"] > 0, f"faults were injected: {faults}")


if __name__ == "__main__":
    main()
