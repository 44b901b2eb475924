"""The S3 backend against s3rver (a real S3 emulator): anonymous and signed access,
pagination over 3,000 keys, awkward key names round-tripping through list + get, ranged
reads, 404/403/416 handling, allow_http. Everything on 127.0.0.1, started and stopped here.

usage: s3_s3rver.py PROBE NODE_DIR
"""
import hashlib
import os
import random
import sys
import tempfile

from tdtest.s3_testlib import S3rver, parse_list, put_object, run_probe
from tdtest.store_testlib import Checks

N_MANY = 3000
AWKWARD = [
    "with space/a b.tif",
    "plus/a+b+c.tif",
    "pct/100%25 real%.tif",
    "pct/%2F%20%zz.tif",
    "unicode/\u00e9t\u00e9/\u5730\u56f3/\U0001f30d.tif",
    "reserved/!$&'()*,;=:@[]?#.tif",
    "xml/<tag>&amp;\"quote'.tif",
    "tilde~dash-under_score.tif",
    " leading and trailing space .tif",
    "/".join(["L" * 199] * 5),  # 999 bytes...
    "/".join(["\u00e9" * 99] * 5) + "xyz",  # ...and 1,001 bytes of 2-byte UTF-8
]

check = Checks(500)


def main():
    probe, node_dir = sys.argv[1], sys.argv[2]
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="td-s3rver-") as tmp:
        data = os.path.join(tmp, "data")
        files = {}
        for i in range(N_MANY):
            key = f"many/k{i:05d}.tif"
            body = f"object {i} ".encode() * (1 + i % 5)
            files[("pub", key)] = (put_object(data, "pub", key, body), body)
        for key in AWKWARD:
            body = hashlib.sha256(key.encode()).digest() * 3
            files[("odd", key)] = (put_object(data, "odd", key, body), body)
        blob = bytes(rng.getrandbits(8) for _ in range(100000))
        files[("odd", "bin/random.bin")] = (put_object(data, "odd", "bin/random.bin", blob), blob)
        os.makedirs(os.path.join(data, "empty"))

        srv = S3rver(node_dir, data)
        try:
            run_all(probe, srv, files, blob)
        finally:
            srv.stop()
    check.finish()


def expected(files, bucket, root=""):
    out = {}
    for (b, key), (path, body) in files.items():
        if b == bucket and key.startswith(root):
            st = os.stat(path)
            etag = '"' + hashlib.md5(body).hexdigest() + '"'
            # s3rver: Node's stat mtime (rounded to ms) printed with second precision
            mtime_ms = (round(st.st_mtime_ns / 1e6) // 1000) * 1000
            out[key[len(root):]] = (len(body), mtime_ms, etag)
    return out


def run_all(probe, srv, files, blob):
    anon = {"endpoint": srv.endpoint, "allow_http": "true", "skip_signature": "true"}
    signed = {"endpoint": srv.endpoint, "allow_http": "true",
              "access_key_id": "S3RVER", "secret_access_key": "@TD_TEST_SECRET"}
    env = dict(os.environ, TD_TEST_SECRET="S3RVER")
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["HOME"] = "/nonexistent"

    # 1. pagination: 3,000 keys, pages of 100, anonymous and signed
    for name, opts in (("anonymous", anon), ("signed", signed)):
        entries, pages, status = parse_list(
            run_probe(probe, "s3://pub", opts, ["list", "", "100"], env=env))
        check(status == ("ok", ""), f"{name} list status {status}")
        check(len(pages) == N_MANY // 100 and all(p == 100 for p in pages),
              f"{name}: pages {pages[:5]}... ({len(pages)})")
        want = expected(files, "pub")
        got = {k: (s, m, e) for k, s, m, e in entries}
        check(len(entries) == len(want), f"{name}: {len(entries)} entries, want {len(want)}")
        check(got == want, f"{name}: listed entries differ from the files "
              f"(first diff: {next(((k, got.get(k), v) for k, v in want.items() if got.get(k) != v), None)})")
        check([e[0] for e in entries] == sorted(want), f"{name}: not in key order")

    # prefix listing, and a root prefix in the store URL
    entries, pages, status = parse_list(
        run_probe(probe, "s3://pub", anon, ["list", "many/k012", "1000"], env=env))
    check(status[0] == "ok" and [e[0] for e in entries] ==
          [f"many/k{i:05d}.tif" for i in range(1200, 1300)], "prefix many/k012")
    entries, pages, status = parse_list(
        run_probe(probe, "s3://pub/many/", anon, ["list", "k0299", "1000"], env=env))
    check(status[0] == "ok" and [e[0] for e in entries] ==
          [f"k{i:05d}.tif" for i in range(2990, 3000)], f"root prefix: {entries[:3]}")

    # 2. awkward keys: exact round trip through list (small pages) and get
    for name, opts in (("anonymous", anon), ("signed", signed)):
        entries, pages, status = parse_list(
            run_probe(probe, "s3://odd", opts, ["list", "", "3"], env=env))
        want = expected(files, "odd")
        check(status == ("ok", ""), f"odd list {status}")
        check({e[0] for e in entries} == set(want),
              f"{name}: awkward keys differ: {sorted(set(want) ^ {e[0] for e in entries})}")
        check(all(p <= 3 for p in pages), f"pages over page_size: {pages}")
        out = run_probe(probe, "s3://odd", opts, ["getall", "5", "200000", "4"], env=env)
        got = {}
        for line in out:
            f = line.split("\t")
            if f[0] == "got":
                got[bytes.fromhex(f[1]).decode()] = f[2:]
        for (b, key), (path, body) in files.items():
            if b != "odd":
                continue
            g = got.get(key)
            check(g is not None and g[0] == "ok" and int(g[1]) == len(body) and
                  int(g[2]) == len(body) and g[3] == hashlib.sha256(body).hexdigest(),
                  f"{name}: get {key!r}: {g}")

    # 3. every one of the 3,000 objects read, 32 at a time, signed
    out = run_probe(probe, "s3://pub", signed, ["getall", "1000", "64", "32"], env=env)
    oks = 0
    for line in out:
        f = line.split("\t")
        if f[0] == "got":
            key = bytes.fromhex(f[1]).decode()
            body = files[("pub", key)][1]
            want = body[:64]
            if f[2] == "ok" and int(f[3]) == len(want) and \
                    f[5] == hashlib.sha256(want).hexdigest() and int(f[4]) == len(body):
                oks += 1
    check(oks == N_MANY, f"getall pub: {oks} of {N_MANY} right")

    # 4. ranged reads, end of object, past the end, missing keys
    def get(key, off, ln, opts=anon, url="s3://odd"):
        out = run_probe(probe, url, opts, ["get", key.encode().hex(), str(off), str(ln)], env=env)
        line = [x for x in out if x.startswith(("get\t", "open\t"))][-1]
        return line.split("\t")

    g = get("bin/random.bin", 12345, 1000)
    check(g[1] == "ok" and int(g[2]) == 1000 and bytes.fromhex(g[5]) == blob[12345:13345]
          and int(g[3]) == len(blob) and g[4] == "206", f"ranged get: {g[:5]}")
    g = get("bin/random.bin", 99990, 100, signed)
    check(g[1] == "ok" and int(g[2]) == 10 and bytes.fromhex(g[5]) == blob[99990:],
          f"get at the end: {g[:5]}")
    g = get("bin/random.bin", 200000, 100)
    check(g[1] == "ok" and int(g[2]) == 0 and g[4] == "416", f"get past the end: {g[:5]}")
    g = get("no/such key.tif", 0, 100)
    check(g[1] == "not_found" and g[4] == "404" and "no/such key.tif" in g[6],
          f"missing key: {g}")
    # a store rooted at a prefix reads relative keys
    g = get("random.bin", 0, 16, anon, "s3://odd/bin")
    check(g[1] == "ok" and bytes.fromhex(g[5]) == blob[:16], f"rooted get: {g[:5]}")
    # s3a:// (Hadoop's name, which object_store also takes) is the same store
    g = get("random.bin", 0, 16, anon, "s3a://odd/bin")
    check(g[1] == "ok" and bytes.fromhex(g[5]) == blob[:16], f"s3a:// get: {g[:5]}")

    # 5. errors: unknown access key (403), missing bucket (404), http without allow_http,
    #    unknown option; secrets never in messages
    bad = dict(signed, access_key_id="NOT-A-KEY", secret_access_key="@TD_BAD_SECRET")
    env_bad = dict(env, TD_BAD_SECRET="very-secret-value-123")
    out = run_probe(probe, "s3://odd", bad, ["list", "", "10"], env=env_bad)
    entries, pages, status = parse_list(out)
    check(status[0] == "access_denied" and "skip_signature" in status[1],
          f"unknown key: {status}")
    check(not any("very-secret-value-123" in line for line in out), "secret in output")
    out = run_probe(probe, "s3://odd", bad, ["get", b"bin/random.bin".hex(), "0", "10"],
                    env=env_bad)
    check(any(x.startswith("get\taccess_denied") for x in out), f"get with bad key: {out}")
    entries, pages, status = parse_list(
        run_probe(probe, "s3://nobucket", anon, ["list", "", "10"], env=env))
    check(status[0] == "not_found", f"missing bucket: {status}")
    out = run_probe(probe, "s3://odd", {"endpoint": srv.endpoint, "skip_signature": "true"},
                    ["list", "", "10"], env=env)
    check(out[0].startswith("open\tconfig") and "allow_http" in out[0], f"http refused: {out}")
    out = run_probe(probe, "s3://odd", dict(anon, acess_key_id="x"), ["list", "", "10"],
                    env=env)
    check(out[0].startswith("open\tconfig") and "acess_key_id" in out[0], f"unknown key: {out}")
    entries, pages, status = parse_list(
        run_probe(probe, "s3://empty", anon, ["list", "", "10"], env=env))
    check(status == ("ok", "") and not entries and pages == [0], f"empty bucket: {pages}")


if __name__ == "__main__":
    main()
