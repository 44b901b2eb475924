"""The http(s):// store against nginx with WebDAV PROPFIND (libnginx-mod-http-dav-ext):
listing of a tree with awkward names, page sizes, prefixes, a directory that fails (a bad
entry, the walk goes on), a link loop (bounded), a server without PROPFIND; ranged reads,
404, 416; a location that ignores Range (max_ranges 0) where only about the bytes asked
for are transferred; thousands of reads in flight over keep-alive connections.

usage: http_store_nginx.py PROBE
"""
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time

from tdtest.http_testlib import Nginx, parse_list, run_probe
from tdtest.store_testlib import Checks

check = Checks(800)


AWKWARD = ["plain.tif", "sp ace.tif", "plus+sign.tif", "pct%25literal.tif", "pct%.tif",
           "ünï cødé ✓.tif", "hash#mark.tif", "q?mark.tif", "semi;colon&amp=.tif",
           "dir with space/x.tif", "dir with space/nested/deeper/y.TIF", "a/b/c/d/e.tif",
           "a/b/sibling.txt", "a+b/c%20d/e f.tif", "日本/画像.tif", "empty/",
           "locked/hidden.tif"]

# Hand-written multistatus answers, for what nginx itself never sends: absolute-URL and
# relative hrefs, hrefs outside the root or with dot segments, failed responses and
# propstats, a child listing its parent again (a cycle), another namespace prefix.
FAKE_ROOT = ('<?xml version="1.0"?><multistatus xmlns="DAV:" xmlns:x="urn:x">'
             '<response><href>/fakedav/</href><propstat><prop><resourcetype><collection/>'
             '</resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response>'
             '<response><href>http://elsewhere.example:81/fakedav/abs%2Bolute.tif</href>'
             '<propstat><prop><getcontentlength>12</getcontentlength><getlastmodified>'
             'Sun, 06 Nov 1994 08:49:37 GMT</getlastmodified><x:getcontentlength>99'
             '</x:getcontentlength></prop><status>HTTP/1.1 200 OK</status></propstat>'
             '</response>'
             '<response><href>rel%20name.tif</href><propstat><prop><getcontentlength>7'
             '</getcontentlength></prop><status>HTTP/1.1 200 OK</status></propstat>'
             '<propstat><prop><getlastmodified>Mon, 07 Nov 1994 08:49:37 GMT'
             '</getlastmodified></prop><status>HTTP/1.1 404 Not Found</status></propstat>'
             '</response>'
             '<response><href>/elsewhere/x.tif</href><propstat><prop><getcontentlength>1'
             '</getcontentlength></prop><status>HTTP/1.1 200 OK</status></propstat></response>'
             '<response><href>/fakedav/../etc/passwd</href><propstat><prop></prop><status>'
             'HTTP/1.1 200 OK</status></propstat></response>'
             '<response><href>/fakedav/gone.tif</href><status>HTTP/1.1 404 Not Found</status>'
             '</response>'
             '<response><href>/fakedav/sub/</href><propstat><prop><resourcetype><collection/>'
             '</resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response>'
             '</multistatus>')
FAKE_SUB = ('<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">'
            '<D:response><D:href>/fakedav/sub/</D:href><D:propstat><D:prop><D:resourcetype>'
            '<D:collection/></D:resourcetype></D:prop></D:propstat></D:response>'
            '<D:response><D:href>/fakedav/</D:href><D:propstat><D:prop><D:resourcetype>'
            '<D:collection/></D:resourcetype></D:prop></D:propstat></D:response>'
            '<D:response><D:href>/fakedav/sub/in%20sub.tif</D:href><D:propstat><D:prop>'
            '<D:getcontentlength>5</D:getcontentlength><D:getlastmodified>not a date'
            '</D:getlastmodified></D:prop></D:propstat></D:response>'
            '</D:multistatus>')
FAKE_WANT = [("abs+olute.tif", 12, 784111777000), ("rel name.tif", 7, -(1 << 63)),
             ("sub/in sub.tif", 5, -(1 << 63))]

SERVER = """
location = /fakedav/ { return 207 '""" + FAKE_ROOT + """'; }
location = /fakedav/sub/ { return 207 '""" + FAKE_SUB + """'; }
location /tree/locked/ { return 403; }
location /plain/ { }
location /norange/ { max_ranges 0; access_log @TMP@/logs/norange.log bytes; }
"""


def build_tree(root):
    files = {}
    rnd = random.Random(7)
    for name in AWKWARD:
        p = os.path.join(root, "tree", name)
        if name.endswith("/"):
            os.makedirs(p, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 3000)))
        with open(p, "wb") as f:
            f.write(data)
        files[name] = data
    os.makedirs(os.path.join(root, "plain"))
    with open(os.path.join(root, "plain", "p.tif"), "wb") as f:
        f.write(b"p")
    # a link loop: loopy/loop -> loopy
    os.makedirs(os.path.join(root, "loopy"))
    with open(os.path.join(root, "loopy", "f.tif"), "wb") as f:
        f.write(b"f")
    os.symlink(".", os.path.join(root, "loopy", "loop"))
    # a large object (256 MiB, sparse after its first MiB) behind a location that ignores Range
    os.makedirs(os.path.join(root, "norange"))
    big = bytes(rnd.getrandbits(8) for _ in range(1 << 20))
    with open(os.path.join(root, "norange", "big.tif"), "wb") as f:
        f.write(big)
        f.truncate(256 << 20)
    # many small objects in many directories, for concurrency
    many = {}
    for d in range(40):
        dd = os.path.join(root, "many", f"d{d:02d}", "x")
        os.makedirs(dd)
        for i in range(100):
            data = f"object {d} {i} ".encode() * 150
            with open(os.path.join(dd, f"k{i:03d}.tif"), "wb") as f:
                f.write(data)
            many[f"d{d:02d}/x/k{i:03d}.tif"] = data
    return files, big, many


def norange_log(tmp, n_lines):
    """The norange access log once it has n_lines (nginx logs a request when it ends)."""
    path = os.path.join(tmp, "logs", "norange.log")
    for _ in range(100):  # bounded: 100 x 50 ms
        try:
            with open(path) as f:
                lines = f.read().splitlines()
            if len(lines) >= n_lines:
                return lines
        except OSError:
            pass
        time.sleep(0.05)
    return []


def main():
    probe = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="td-http-")
    root = os.path.join(tmp, "www")
    os.makedirs(root)
    files, big, many = build_tree(root)
    ngx = Nginx(tmp, root, SERVER)
    try:
        run(probe, ngx, tmp, files, big, many)
    finally:
        ngx.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    check.finish()


def run(probe, ngx, tmp, files, big, many):
    base = ngx.url + "/tree"
    want = {k: v for k, v in files.items() if not k.startswith("locked/")}
    # ---- listing: every page size gives the same keys, never more than a page at once
    for page in (1, 3, 1000):
        ents, bad, pages, status, over = parse_list(run_probe(probe, base, {},
                                                              ["list", "", str(page)]))
        keys = sorted(e[0] for e in ents)
        check(status == ("ok", ""), f"page {page}: status {status}")
        check(keys == sorted(want), f"page {page}: keys {keys} want {sorted(want)}")
        check(over == 0 and all(a + b <= page for a, b in pages), f"page {page}: oversized")
        check([b[:2] for b in bad] == [("locked/", "access_denied")],
              f"page {page}: bad entries {bad}")
        sizes = {e[0]: e[1] for e in ents}
        check(all(sizes.get(k) == len(v) for k, v in want.items()), f"sizes {sizes}")
        mt = {e[0]: e[2] for e in ents}
        k0 = "dir with space/x.tif"
        st = int(os.stat(os.path.join(ngx_root(tmp), "tree", k0)).st_mtime) * 1000
        check(mt.get(k0) == st, f"mtime {mt.get(k0)} want {st}")
    # the store URL may be written encoded or not
    for url in (base + "/dir%20with%20space", base + "/dir with space/"):
        ents, bad, _, status, _ = parse_list(run_probe(probe, url, {}, ["list", "", "10"]))
        check(sorted(e[0] for e in ents) == ["nested/deeper/y.TIF", "x.tif"] and status[0] == "ok",
              f"{url}: {ents} {status}")
    # prefixes: a directory, a partial name, a missing directory
    for prefix in ("a/", "a", "dir with space/n", "pct", "nope/", "日本/"):
        ents, bad, _, status, _ = parse_list(run_probe(probe, base, {},
                                                       ["list", prefix, "2"]))
        w = sorted(k for k in want if k.startswith(prefix))
        check(status[0] == "ok" and sorted(e[0] for e in ents) == w,
              f"prefix {prefix!r}: {ents} {status}, want {w}")
    # hrefs of every form, resolved against the right base; a cycle is walked once
    ents, bad, _, status, _ = parse_list(run_probe(probe, ngx.url + "/fakedav", {},
                                                   ["list", "", "10"]))
    check(status[0] == "ok" and sorted(ents) == FAKE_WANT and not bad,
          f"hand-written multistatus: {sorted(ents)} {bad} {status}")
    # failures of the listing itself
    _, _, _, status, _ = parse_list(run_probe(probe, ngx.url + "/nothere", {},
                                              ["list", "", "10"]))
    check(status[0] == "not_found", f"missing root: {status}")
    _, _, _, status, _ = parse_list(run_probe(probe, ngx.url + "/plain", {},
                                              ["list", "", "10"]))
    check(status[0] == "unsupported" and "PROPFIND" in status[1], f"no PROPFIND: {status}")
    # a link loop ends, with a bad entry
    ents, bad, _, status, _ = parse_list(run_probe(probe, ngx.url + "/loopy", {},
                                                   ["list", "", "50"]))
    # (the kernel stops nginx at 40 links with ELOOP, a 500; a server that followed links
    # forever would meet the store's depth bound, symlink_loop)
    check(status[0] == "ok" and 0 < len(ents) <= 130 and len(bad) == 1 and
          bad[0][0].startswith("loop/loop/") and bad[0][1] in ("symlink_loop", "http"),
          f"loop: {len(ents)} entries, bad {bad[:2]}, {status}")
    # ---- ranged reads
    for key, data in want.items():
        for off, ln in ((0, 16384), (1, 7), (len(data) // 2, 100)):
            out = run_probe(probe, base, {}, ["get", key.encode().hex(), str(off), str(ln)])
            f = out[-1].split("\t")
            exp = data[off:off + ln]
            check(f[1] == "ok" and bytes.fromhex(f[5]) == exp and int(f[3]) == len(data),
                  f"get {key!r} {off}+{ln}: {out[-1][:300]}")
    out = run_probe(probe, base, {}, ["get", b"plain.tif".hex(), str(10 ** 6), "10"])
    f = out[-1].split("\t")
    check(f[1] == "ok" and f[2] == "0", f"past the end: {out[-1]}")
    out = run_probe(probe, base, {}, ["get", b"no/such.tif".hex(), "0", "10"])
    f = out[-1].split("\t")
    check(f[1] == "not_found" and f[4] == "404" and "no/such.tif" in f[6], f"404: {out[-1]}")
    # ---- a server that ignores Range: only about the bytes asked for travel
    nb = ngx.url + "/norange"
    cases = [(0, 16384, "ok"), (100000, 5000, "ok"), (32 << 20, 100, "http")]
    for i, (off, ln, st) in enumerate(cases):
        out = run_probe(probe, nb, {}, ["get", b"big.tif".hex(), str(off), str(ln)])
        f = out[-1].split("\t")
        ok = f[1] == st
        if st == "ok":
            ok = ok and bytes.fromhex(f[5]) == big[off:off + ln] and f[4] == "200"
        else:
            ok = ok and "ignored Range" in f[6]
        check(ok, f"norange {off}+{ln}: {out[-1][:300]}")
        log = norange_log(tmp, i + 1)
        sent = int(log[i].split()[-1]) if len(log) > i else -1
        print(f"norange {off}+{ln}: nginx sent {sent} body bytes of {256 << 20}")
        # what nginx could push into loopback socket buffers before the close, not the
        # object (which the tool would otherwise read to its end)
        check(0 <= sent <= (16 << 20), f"norange {off}+{ln}: nginx sent {sent} bytes")
    # ---- many keys, thousands of reads in flight
    env = dict(os.environ, TD_PROBE_INFLIGHT="1000")
    out = run_probe(probe, ngx.url + "/many", {"user_agent": "td-test"},
                    ["getall", "500", "4096", "1000"], env=env, timeout=240)
    got = [line.split("\t") for line in out if line.startswith("got\t")]
    bad = [g for g in got
           if g[2] != "ok" or g[5] != hashlib.sha256(
               many[bytes.fromhex(g[1]).decode()][:4096]).hexdigest()]
    check(len(got) == len(many) and not bad, f"getall: {len(got)} reads, bad {bad[:3]}")
    # ---- options and lifecycle
    out = run_probe(probe, base, {"no_such_option": "1"}, ["list", "", "10"])
    check(out[0].startswith("open\tconfig") and "no_such_option" in out[0], f"bad key: {out}")
    out = run_probe(probe, base, {"allow_invalid_certificates": "true"}, ["list", "", "10"])
    check(out[0].startswith("open\tconfig"), f"invalid certs: {out}")
    out = run_probe(probe, base, {"timeout": "30s", "allow_http": "true"}, ["list", "", "10"])
    check(out[0].startswith("open\tok"), f"general keys: {out}")
    out = run_probe(probe, base, {}, ["listclose", "2"])
    check("status\tcanceled" in "\n".join(out), f"close while listing: {out}")
    out = run_probe(probe, base, {}, ["listfree", "2"])
    check(any(x.startswith("page\t") for x in out), f"free after a page: {out}")


def ngx_root(tmp):
    return os.path.join(tmp, "www")


if __name__ == "__main__":
    main()
