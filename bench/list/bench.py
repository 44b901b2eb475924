#!/usr/bin/env python3
"""Listing bench: serial vs fanned-out listing (src/pipeline/fanout.c) against a loopback S3
server (tests/pylib/tdtest/s3listsrv.py) that waits DELAY ms per LIST page, over a synthetic
tree of TOP x MID leaf prefixes of KEYS keys each. See bench/list/README.md.

usage: bench.py LIST_DRIVER [--delay-ms 50] [--top 10] [--mid 100] [--keys 100]
                [--parallel 1,16,64] [--repeat 2]
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "../../tests/pylib"))
from tdtest.s3listsrv import ListServer, synthetic_tree  # noqa: E402


def run(driver, srv, parallel, chunk=10000, maxbuf=1000000):
    args = [driver, "s3://b"] + [f"{k}={v}" for k, v in srv.options().items()]
    args += ["--", str(parallel), "0", str(chunk), str(maxbuf), ""]
    env = dict(os.environ, LIST_DRIVER_QUIET="1")
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    done = [ln.split("\t") for ln in out.stdout.splitlines() if ln.startswith("done\t")]
    errs = [ln for ln in out.stdout.splitlines() if ln.startswith("err\t")]
    if out.returncode != 0 or not done or errs:
        sys.exit(f"list_driver failed ({out.returncode}): {out.stdout[-2000:]} {out.stderr}")
    d = done[0]
    return int(d[1]), float(d[2]), int(d[7])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("driver")
    ap.add_argument("--delay-ms", type=float, default=50)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--mid", type=int, default=100)
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--parallel", default="1,16,64")
    ap.add_argument("--repeat", type=int, default=2)  # best of; the first fills the cache
    a = ap.parse_args()
    keys = synthetic_tree(a.top, a.mid, a.keys)
    srv = ListServer(keys, delay_s=a.delay_ms / 1000)
    try:
        print(f"tree: {len(keys)} keys in {a.top * a.mid} leaf prefixes ({a.keys} keys each), "
              f"{a.delay_ms:g} ms per LIST page")
        print("list_parallel  keys    seconds  keys/s     pages  server max in flight  vs serial")
        base = None
        for p in [int(x) for x in a.parallel.split(",")]:
            best = None
            for _ in range(a.repeat):
                srv.pages = srv.max_in_flight = 0
                n, secs, _req = run(a.driver, srv, p)
                if n != len(keys):
                    sys.exit(f"parallel {p}: listed {n} keys, expected {len(keys)}")
                if best is None or secs < best[1]:
                    best = (n, secs, srv.pages, srv.max_in_flight)
            n, secs, pages, mif = best
            rate = n / secs
            base = base or rate
            print(f"{p:13d}  {n:6d}  {secs:7.2f}  {rate:9.0f}  {pages:5d}  {mif:20d}  "
                  f"{rate / base:6.1f}x")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
