#!/usr/bin/env python3
"""Listing bench: serial vs fanned-out listing (src/pipeline/fanout.c) against a loopback S3
server (tests/pylib/tdtest/s3listsrv.py) that waits DELAY ms per LIST page, over a synthetic
tree of TOP x MID leaf prefixes of KEYS keys each. See bench/list/README.md.

usage: bench.py LIST_DRIVER [--delay-ms 50] [--shape tiles|sentinel|flat] [--top 10]
                [--mid 100] [--keys 100] [--zones 10] [--parallel 1,16,64] [--repeat 2]
                [--shards N] [--baseline OTHER_LIST_DRIVER]

--shape sentinel: a Sentinel-2 style deep tree (tiles/Z/B/SQ/YEAR/MONTH/PRODUCT/Bxx.tif, 13
keys per leaf, --zones zones); --shape flat: one folder of --keys keys. --shards N: also list
as each of N shards (fanout.h: prefixes assigned) with the last --parallel, and print the
LIST requests per shard against the unsharded run's.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "../../tests/pylib"))
from tdtest.s3listsrv import (ListServer, flat_tree, sentinel_tree,  # noqa: E402
                              synthetic_tree)


def run(driver, srv, parallel, chunk=10000, maxbuf=1000000, shard=None):
    args = [driver, "s3://b"] + [f"{k}={v}" for k, v in srv.options().items()]
    args += ["--", str(parallel), "0", str(chunk), str(maxbuf), ""]
    env = dict(os.environ, LIST_DRIVER_QUIET="1")
    if shard:
        env["LIST_DRIVER_SHARD"] = shard
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
    ap.add_argument("--shape", default="tiles", choices=["tiles", "sentinel", "flat"])
    ap.add_argument("--zones", type=int, default=10)
    ap.add_argument("--shards", type=int, default=0)
    ap.add_argument("--baseline", default="")
    a = ap.parse_args()
    if a.shape == "sentinel":
        keys = sentinel_tree(a.zones)
        what = f"Sentinel-2 style tree, {a.zones} zones, 13 keys per leaf folder"
    elif a.shape == "flat":
        keys = flat_tree(a.keys)
        what = "one flat folder"
    else:
        keys = synthetic_tree(a.top, a.mid, a.keys)
        what = f"{a.top * a.mid} leaf prefixes ({a.keys} keys each)"
    srv = ListServer(keys, delay_s=a.delay_ms / 1000)
    try:
        print(f"tree: {len(keys)} keys, {what}, {a.delay_ms:g} ms per LIST page")
        print("list_parallel  keys    seconds  keys/s     pages  server max in flight  vs serial")
        base = None
        runs = [(a.driver, int(x), "") for x in a.parallel.split(",")]
        if a.baseline:  # another build's list_driver (e.g. before a change), same server
            runs += [(a.baseline, int(x), " (baseline)") for x in a.parallel.split(",")
                     if int(x) > 1]
        for drv, p, label in runs:
            best = None
            for _ in range(a.repeat):
                srv.pages = srv.max_in_flight = 0
                n, secs, _req = run(drv, srv, p)
                if n != len(keys):
                    sys.exit(f"parallel {p}: listed {n} keys, expected {len(keys)}")
                if best is None or secs < best[1]:
                    best = (n, secs, srv.pages, srv.max_in_flight)
            n, secs, pages, mif = best
            rate = n / secs
            base = base or rate
            print(f"{p:13d}  {n:6d}  {secs:7.2f}  {rate:9.0f}  {pages:5d}  {mif:20d}  "
                  f"{rate / base:6.1f}x{label}")
            if not label:
                unsharded, p_last = pages, p
        p = p_last
        if a.shards:
            print(f"\n{a.shards} shards, list_parallel {p}: LIST requests per shard "
                  f"(unsharded: {unsharded})")
            print("shard  keys    seconds  pages  of unsharded")
            total, pages_all = 0, []
            for i in range(a.shards):
                srv.pages = 0
                n, secs, _req = run(a.driver, srv, p, shard=f"{i}/{a.shards}")
                total += n
                pages_all.append(srv.pages)
                print(f"{i:5d}  {n:6d}  {secs:7.2f}  {srv.pages:5d}  {srv.pages / unsharded:11.0%}")
            if total != len(keys):
                sys.exit(f"shards listed {total} keys together, expected {len(keys)}")
            print(f"all    {total:6d}           {sum(pages_all):5d}  "
                  f"{sum(pages_all) / unsharded:11.0%}  (mean per shard "
                  f"{sum(pages_all) / a.shards / unsharded:.0%})")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
