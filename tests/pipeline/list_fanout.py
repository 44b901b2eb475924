"""The lister's fan-out (src/pipeline/fanout.c) against serial listing: exactly the same key
set, each key once, on the local corpus (segment and raw prefixes), nginx WebDAV (not
split), s3rver, the GCS emulator, azurite and a loopback S3 LIST server; a prefix that fails to list gives one `list` error and the rest goes on; the
frontier stays within its bound on a deep and a wide synthetic tree.

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
from tdtest.s3listsrv import ListServer
from tdtest.store_testlib import Checks, stop

check = Checks(400)


def run(driver, url, opts, parallel, prefixes, frontier=0, chunk=1000, maxbuf=100000,
        env=None):
    args = [driver, url] + [f"{k}={v}" for k, v in opts.items()]
    args += ["--", str(parallel), str(frontier), str(chunk), str(maxbuf)] + list(prefixes)
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
                    "peak": int(f[5]), "pages_peak": int(f[6])}
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


def main():
    driver, corpus, node_dir = sys.argv[1], sys.argv[2], sys.argv[3]

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

    # nginx WebDAV: the HTTP store walks collections itself (16 at once) and says it cannot
    # list with a delimiter, so the lister does not split: the same keys as serial
    with tempfile.TemporaryDirectory(prefix="td-fanout-dav-") as tmp:
        ng = Nginx(tmp, os.path.abspath(corpus))
        try:
            got, d = same(driver, "webdav", ng.url + "/", {}, [""])
            check(sorted(got) == sorted(keys), f"webdav: the corpus ({len(got)}/{len(keys)})")
            check(d and d["delimited"] == 0, f"webdav: not split ({d})")
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
            check(d["delimited"] >= 6 * 7, f"s3rver: fanned out ({d})")
            same(driver, "s3rver raw", "s3://fan", opts, ["t/1", "u/v/"], chunk=10, maxbuf=1000)
            same(driver, "s3rver root prefix", "s3://fan/t/", opts, [""], chunk=10, maxbuf=1000)
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
                check(d and d["delimited"] >= 6 * 7, f"gcs: fanned out ({d})")
                same(driver, "gcs raw", "gs://fan", {}, ["t/1", "u/v/"], chunk=10, maxbuf=1000,
                     env=env)
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
                check(d and d["delimited"] >= 6 * 7, f"azure: fanned out ({d})")
                same(driver, "azure raw", "az://fan", opts, ["t/1", "u/v/"], chunk=10,
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
