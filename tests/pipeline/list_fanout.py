"""The lister's fan-out (src/pipeline/fanout.c) against serial listing: exactly the same key
set, each key once, on the local corpus (segment and raw prefixes), nginx WebDAV (not
split), s3rver, the GCS emulator, azurite and a loopback S3 LIST server; a prefix that fails
to list gives one `list` error and the rest goes on; the frontier stays within its bound on
a deep and a wide synthetic tree. Coalescing: 100-key folders, a Sentinel-2 style deep tree,
a flat folder, pages that cut sibling runs, big folders that make runs be cut: the same keys
as serial, each once, and about as few LIST requests as serial on small folders. Shards
(LIST_DRIVER_SHARD): N shards' keys together are exactly the unsharded keys, each once, on
every store; on the loopback server each shard sends a fraction of the unsharded LISTs.

usage: list_fanout.py LIST_DRIVER CORPUS_DIR NODE_DIR
"""
import os
import subprocess
import sys
import tempfile
from collections import Counter

from tdtest import azurite as AZ
from tdtest import gcs_emulator as G
from tdtest.http_testlib import Nginx
from tdtest.s3_testlib import S3rver, put_object
from tdtest.s3listsrv import ListServer, flat_tree, sentinel_tree, synthetic_tree
from tdtest.store_testlib import Checks, stop

check = Checks(400)


def run(driver, url, opts, parallel, prefixes, frontier=0, chunk=1000, maxbuf=100000,
        env=None, shard=None):
    args = [driver, url] + [f"{k}={v}" for k, v in opts.items()]
    args += ["--", str(parallel), str(frontier), str(chunk), str(maxbuf)] + list(prefixes)
    if shard:
        env = dict(env or os.environ, LIST_DRIVER_SHARD=shard)
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    keys, errs, done = [], [], None
    for ln in out.stdout.splitlines():
        f = ln.split("\t")
        if f[0] == "key":
            keys.append(bytes.fromhex(f[1]).decode("utf-8", "surrogateescape"))
        elif f[0] == "err":
            errs.append((bytes.fromhex(f[1]).decode(), f[2]))
        elif f[0] == "done":
            done = {"keys": int(f[1]), "delimited": int(f[3]), "whole": int(f[4]),
                    "peak": int(f[5]), "pages_peak": int(f[6]), "runs": int(f[8]),
                    "partitions": int(f[9]), "depth": int(f[10]), "cuts": int(f[11])}
    if out.returncode != 0 or done is None:
        print("driver output:", out.stdout[-1500:], out.stderr[-1500:])
    return keys, errs, done


def same(driver, what, url, opts, prefixes, parallel=8, **kw):
    """Serial and fan-out listings of the same prefixes: the same keys, each once."""
    k1, e1, d1 = run(driver, url, opts, 1, prefixes, **kw)
    kp, ep, dp = run(driver, url, opts, parallel, prefixes, **kw)
    dup = [k for k, c in Counter(kp).items() if c > 1]
    check(d1 is not None and dp is not None, f"{what}: driver ran")
    check(not dup, f"{what}: keys listed twice with fan-out: {dup[:5]}")
    check(sorted(k1) == sorted(kp),
          f"{what}: serial {len(k1)} keys, fan-out {len(kp)}: "
          f"{sorted(set(k1) ^ set(kp))[:5]}")
    check(e1 == [] and ep == [], f"{what}: no errors ({e1[:2]} {ep[:2]})")
    return k1, dp


def shards(driver, what, url, opts, prefixes, n, expect, parallel=8, srv=None, **kw):
    """n shards: their keys together are `expect`, each once; the server's LIST pages per
    shard (when srv counts them)."""
    got, pages, info = [], [], []
    for i in range(n):
        if srv:
            srv.pages = 0
        k, e, d = run(driver, url, opts, parallel, prefixes, shard=f"{i}/{n}", **kw)
        check(d is not None and e == [], f"{what} shard {i}/{n}: ran, no errors ({e[:2]})")
        got += k
        pages.append(srv.pages if srv else 0)
        info.append(d)
    dup = [k for k, c in Counter(got).items() if c > 1]
    check(not dup, f"{what}: keys of two shards: {dup[:5]}")
    check(sorted(got) == sorted(expect),
          f"{what}: shards' union {len(got)} keys, unsharded {len(expect)}: "
          f"{sorted(set(got) ^ set(expect))[:5]}")
    return pages, info


def shapes(driver):
    """Coalescing and shards against a loopback S3 server that counts LIST pages."""
    # 100-key folders: about as many pages as serial (runs of 10 folders = 1,000 keys)
    tiles = synthetic_tree(4, 40, 100)
    srv = ListServer(tiles)
    try:
        _, dp = same(driver, "tiles", "s3://b", srv.options(), [""], parallel=16, chunk=1000,
                     maxbuf=1000000)
        srv.pages = 0
        run(driver, "s3://b", srv.options(), 16, [""], chunk=1000, maxbuf=1000000)
        fan_pages = srv.pages
        check(dp and dp["runs"] > 0 and fan_pages <= 1.3 * len(tiles) / 1000 + 10,
              f"tiles: small folders coalesced ({fan_pages} pages for {len(tiles)} keys, {dp})")
        # shards: each lists a fraction of the tree (the probe levels are everyone's)
        for n in (3, 4):
            pages, info = shards(driver, f"tiles {n} shards", "s3://b", srv.options(), [""], n,
                                 tiles, parallel=16, srv=srv, chunk=1000, maxbuf=1000000)
            check(all(d and d["partitions"] == 1 and d["depth"] == 3 for d in info),
                  f"tiles {n} shards: folders shared out at depth 3 ({info[:1]})")
            # every shard pays the probe levels (1 + 1 + 4 pages here), then its share
            check(max(pages) <= 6 + (fan_pages - 6) * (1.0 / n + 0.25) and
                  max(pages) < 0.65 * fan_pages,
                  f"tiles {n} shards: LIST pages per shard {pages}, unsharded {fan_pages}")
        # small pages: sibling runs meet page bounds of the parent (guards)
        same(driver, "tiles small pages", "s3://b", srv.options(), [""], parallel=16, chunk=7,
             maxbuf=1000)
        shards(driver, "tiles small pages 3 shards", "s3://b", srv.options(), [""], 3, tiles,
               chunk=7, maxbuf=1000)
    finally:
        srv.stop()
    # folders added at the shared level between the shards' runs (a unit is named by its
    # folders' names, not their places): every key there before is listed once
    for chunk in (7, 1000):
        srv = ListServer(tiles)
        try:
            got = []
            for i in range(3):
                if i == 2:  # a unit's new folders (17 in 00?/: more than a run of
                    # adjacent siblings held), new units, and page bounds moved
                    srv.keys = sorted(srv.keys + [
                        f"tiles/{t:02d}/{m}/new.tif" for t in range(4)
                        for m in ["0055", "01", "031", "1"] + [f"00{x}" for x in "abcdefg"]])
                    srv.cache.clear()
                k, e, d = run(driver, "s3://b", srv.options(), 16, [""], chunk=chunk,
                              maxbuf=100000, shard=f"{i}/3")
                check(d is not None and e == [] and d["depth"] == 3,
                      f"added folders, chunk {chunk}, shard {i}: ran, shared at depth 3 ({d})")
                got += k
            c = Counter(got)
            check(all(c[k] == 1 for k in tiles) and set(c) <= set(srv.keys),
                  f"added folders, chunk {chunk}: every key there before once "
                  f"({[k for k in tiles if c[k] != 1][:3]})")
        finally:
            srv.stop()
    # Sentinel-2 style: deep, 13 keys per leaf; raw and deeper configured prefixes
    s2 = sentinel_tree(3)
    s2 += ["tiles/1/C/CV/2021/1/loose.tif", "tiles/readme.tif", "tiles/1/C/CV.tif"]
    srv = ListServer(s2)
    try:
        _, dp = same(driver, "sentinel", "s3://b", srv.options(), [""], parallel=16)
        check(dp and dp["whole"] > 0, f"sentinel: prefixes listed whole ({dp})")
        # full pages: once there are prefixes enough for the listings, they are listed whole
        # instead of level by level down to 13-key leaves (serial: 19 pages; the lister
        # before: 119; now 36-57, by how the pages race on this server without delay)
        srv.pages = 0
        _, _, dp = run(driver, "s3://b", srv.options(), 16, [""])
        check(dp and srv.pages <= 4 * (len(s2) // 1000 + 1),
              f"sentinel: {srv.pages} pages for {len(s2)} keys ({dp})")
        same(driver, "sentinel raw", "s3://b", srv.options(), ["tiles/1", "tiles/3/D/"],
             parallel=16)
        shards(driver, "sentinel 3 shards", "s3://b", srv.options(), [""], 3, s2, parallel=16,
               srv=srv)
        shards(driver, "sentinel 2 shards, prefixes", "s3://b", srv.options(),
               ["tiles/1/", "tiles/2/"], 2,
               [k for k in s2 if k.startswith(("tiles/1/", "tiles/2/"))], parallel=16)
        # prefixes of different depths: keys hashed, still each once
        pages, info = shards(driver, "sentinel mixed depths", "s3://b", srv.options(),
                             ["tiles/1/", "tiles/2/C/"], 3,
                             [k for k in s2 if k.startswith(("tiles/1/", "tiles/2/C/"))])
        check(all(d and d["depth"] == 0 for d in info), f"mixed depths: keys hashed ({info[:1]})")
    finally:
        srv.stop()
    # big folders next to each other: runs are cut (a page in one folder), keys once
    big = [f"big/{f:02d}/k{i:04d}.tif" for f in range(12) for i in range(300)]
    big += [f"big/{f:02d}/sub/x.tif" for f in range(12)] + ["big/00.tif", "big/zz.tif"]
    srv = ListServer(big)
    try:
        _, dp = same(driver, "big folders", "s3://b", srv.options(), [""], parallel=4,
                     chunk=100, maxbuf=100000)
        check(dp and dp["cuts"] > 0, f"big folders: runs cut ({dp})")
    finally:
        srv.stop()
    # 50 folders in 5 runs under one: too many to probe (>= 16 x 3), too few units to share
    # (< 2 x 3): every shard lists the runs and keeps keys by their hash
    few = [f"w/{i:02d}/{j}.tif" for i in range(50) for j in range(3)] + ["w/top.tif", "r.tif"]
    srv = ListServer(few)
    try:
        pages, info = shards(driver, "few units 3 shards", "s3://b", srv.options(), [""], 3,
                             few, parallel=16, srv=srv)
        check(all(d and d["partitions"] == 1 and d["depth"] == 0 and d["runs"] == 5
                  for d in info), f"few units: runs listed by every shard, keys hashed ({info})")
    finally:
        srv.stop()
    # one flat folder: nothing to split on (one chain, as serial); shards hash keys
    flat = flat_tree(3000)
    srv = ListServer(flat)
    try:
        same(driver, "flat", "s3://b", srv.options(), [""], parallel=16)
        pages, info = shards(driver, "flat 3 shards", "s3://b", srv.options(), [""], 3, flat,
                             srv=srv)
        check(all(d and d["depth"] == 0 for d in info), f"flat: keys hashed ({info[:1]})")
    finally:
        srv.stop()


def main():
    driver, corpus, node_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    shapes(driver)

    # the local corpus: whole, segment prefixes, raw prefixes (the store filters the names
    # at the prefix's level, a delimited listing as much as a whole one)
    keys, d = same(driver, "corpus", corpus, {}, [""])
    check(len(keys) > 50 and d["delimited"] > 3, f"corpus: fanned out ({len(keys)} keys, {d})")
    tops = sorted({k.split("/")[0] + "/" for k in keys if "/" in k})
    same(driver, "corpus prefixes", corpus, {}, tops[:3])
    for raw in ["c", "ex", tops[0][:-1], tops[0] + "a", "nonexistent/"]:
        got, _ = same(driver, f"corpus raw {raw!r}", corpus, {}, [raw])
        check(sorted(got) == sorted(k for k in keys if k.startswith(raw)),
              f"corpus raw {raw!r}: exactly the keys under it")
    # a small page (more pages than prefixes) and the smallest frontier
    same(driver, "corpus small pages", corpus, {}, [""], chunk=3, maxbuf=30, frontier=2000)
    shards(driver, "corpus 3 shards", corpus, {}, [""], 3, keys)

    # nginx WebDAV: the HTTP store walks collections itself (16 at once) and says it cannot
    # list with a delimiter, so the lister does not split: the same keys as serial
    with tempfile.TemporaryDirectory(prefix="td-fanout-dav-") as tmp:
        ng = Nginx(tmp, os.path.abspath(corpus))
        try:
            got, d = same(driver, "webdav", ng.url + "/", {}, [""])
            check(sorted(got) == sorted(keys), f"webdav: the corpus ({len(got)}/{len(keys)})")
            check(d and d["delimited"] == 0, f"webdav: not split ({d})")
            # not split, so the lister does not partition (the pipeline hashes keys)
            _, _, d = run(driver, ng.url + "/", {}, 8, [""], shard="1/3")
            check(d and d["partitions"] == 0, f"webdav sharded: keys hashed by the caller ({d})")
        finally:
            ng.stop()

    # s3rver: a tree with keys at every level
    tree = [f"t/{a}/{b}/k{c}.tif" for a in range(6) for b in range(7) for c in range(5)]
    tree += [f"t/{a}/top{c}.tif" for a in range(6) for c in range(3)]
    # (s3rver leaves out of CommonPrefixes a folder that holds only folders, which S3 does
    # not: every level here holds a key; the loopback server below has bare levels)
    tree += ["root.tif", "t/x.tif", "a b/c+d/%e.tif", "a b/x.tif", "\u00e9t\u00e9/f.tif"]
    tree += ["u/v/w/x/y/z.tif", "u/a.tif", "u/v/a.tif", "u/v/w/a.tif", "u/v/w/x/a.tif"]
    # a folder whose listing spans several pages of keys and prefixes (pages of 10 below)
    tree += [f"w/{i:02d}/f.tif" for i in range(25)] + [f"w/k{i:02d}.tif" for i in range(12)]
    with tempfile.TemporaryDirectory(prefix="td-fanout-") as tmp:
        data = os.path.join(tmp, "data")
        for k in tree:
            put_object(data, "fan", k, b"x")
        srv = S3rver(node_dir, data)
        try:
            opts = {"endpoint": srv.endpoint, "allow_http": "true", "skip_signature": "true"}
            got, d = same(driver, "s3rver", "s3://fan", opts, [""], chunk=10, maxbuf=1000)
            check(sorted(got) == sorted(tree), f"s3rver: every key ({len(got)}/{len(tree)})")
            check(d and d["delimited"] >= 3 and d["delimited"] + d["whole"] >= 10,
                  f"s3rver: fanned out (folders with the delimiter or whole: {d})")
            same(driver, "s3rver raw", "s3://fan", opts, ["t/1", "u/v/"], chunk=10, maxbuf=1000)
            same(driver, "s3rver root prefix", "s3://fan/t/", opts, [""], chunk=10, maxbuf=1000)
            shards(driver, "s3rver 3 shards", "s3://fan", opts, [""], 3, tree, chunk=10,
                   maxbuf=1000)
        finally:
            srv.stop()

        # the GCS emulator (delimiter, prefixes[]) and azurite (delimiter, BlobPrefix)
        proc, port = G.start_emulator(node_dir, tmp)
        try:
            check(port is not None, "the GCS emulator started")
            if port is not None:
                for k in tree:
                    G.upload(port, "fan", k, b"x")
                env = {k: v for k, v in os.environ.items()
                       if not k.startswith(("GOOGLE_", "GCE_", "STORAGE_EMULATOR"))}
                env["HOME"] = "/nonexistent"
                env["STORAGE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
                got, d = same(driver, "gcs", "gs://fan", {}, [""], chunk=10, maxbuf=1000, env=env)
                check(sorted(got) == sorted(tree), f"gcs: every key ({len(got)}/{len(tree)})")
                check(d and d["delimited"] >= 3 and d["delimited"] + d["whole"] >= 10,
                      f"gcs: fanned out (folders with the delimiter or whole: {d})")
                same(driver, "gcs raw", "gs://fan", {}, ["t/1", "u/v/"], chunk=10, maxbuf=1000,
                     env=env)
                shards(driver, "gcs 3 shards", "gs://fan", {}, [""], 3, tree, chunk=10,
                       maxbuf=1000, env=env)
        finally:
            stop(proc)
        main_js = AZ.azurite_main_js(node_dir)
        check(main_js is not None, "azurite is installed")
        proc, port = AZ.start_azurite(main_js, os.path.join(tmp, "azurite"))
        try:
            check(port is not None, "azurite started")
            if port is not None:
                az = AZ.Azurite(port)
                az.create_container("fan")
                for k in tree:
                    az.put("fan", k, b"x")
                opts = {"account_name": AZ.ACCOUNT, "account_key": AZ.KEY,
                        "endpoint": f"http://127.0.0.1:{port}/{AZ.ACCOUNT}"}
                got, d = same(driver, "azure", "az://fan", opts, [""], chunk=10, maxbuf=1000)
                check(sorted(got) == sorted(tree), f"azure: every key ({len(got)}/{len(tree)})")
                check(d and d["delimited"] >= 3 and d["delimited"] + d["whole"] >= 10,
                      f"azure: fanned out (folders with the delimiter or whole: {d})")
                same(driver, "azure raw", "az://fan", opts, ["t/1", "u/v/"], chunk=10,
                     maxbuf=1000)
                shards(driver, "azure 3 shards", "az://fan", opts, [""], 3, tree, chunk=10,
                       maxbuf=1000)
        finally:
            stop(proc)

    # a prefix that fails: one error for it, every other key listed
    keys = [f"p/{a:02d}/{b:02d}/f{c}.tif" for a in range(10) for b in range(10) for c in range(5)]
    keys += ["x/1/2/3/4/only.tif"]  # levels that hold no key of their own
    srv = ListServer(keys, fail_prefixes={"p/03/"})
    try:
        got, errs, d = run(driver, "s3://b", srv.options(), 8, [""], chunk=100, maxbuf=1000)
        check(errs == [("p/03/", "access_denied")], f"failing prefix: one error row ({errs})")
        check(sorted(got) == sorted(k for k in keys if not k.startswith("p/03/")),
              f"failing prefix: the rest listed ({len(got)})")
        check(srv.max_in_flight <= 8, f"failing prefix: at most 8 pages at once "
              f"({srv.max_in_flight})")
    finally:
        srv.stop()

    # the frontier's bound: a wide level (6,000 prefixes, more than the frontier holds) and
    # a deep chain; with the smallest frontier (2,000) the peak stays within it
    wide = [f"w/{i:05d}/f.tif" for i in range(6000)] + [f"w/{i:05d}/g/h.tif" for i in range(0, 6000, 7)]
    deep = ["/".join(f"d{j}" for j in range(i)) + f"/leaf{i}.tif" for i in range(1, 120)]
    srv = ListServer(wide + deep)
    try:
        for par in (4, 32):
            got, errs, d = run(driver, "s3://b", srv.options(), par, [""], frontier=2000,
                               chunk=1000, maxbuf=1000000)
            check(not errs, f"bound {par}: no errors ({errs[:2]})")
            check(sorted(got) == sorted(wide + deep) and len(got) == len(set(got)),
                  f"bound {par}: every key once ({len(got)}/{len(wide + deep)})")
            check(d and d["peak"] <= 2000, f"bound {par}: frontier peak {d and d['peak']} <= 2000")
            check(d and d["whole"] > 0, f"bound {par}: a full frontier drains by whole listings "
                  f"({d})")
            check(d and d["pages_peak"] <= par, f"bound {par}: pages in flight {d}")
        # the key queue bound: maxbuf = one chunk allows one page at a time
        got, errs, d = run(driver, "s3://b", srv.options(), 16, ["w/0"], chunk=1000, maxbuf=1000)
        check(d and d["pages_peak"] == 1,
              f"queue bound: one page in flight when max_buffer_size is one chunk ({d})")
    finally:
        srv.stop()
    check.finish()


if __name__ == "__main__":
    main()
