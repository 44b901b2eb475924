"""Azure backend against the real azurite emulator (npm azurite 3.35.0), loopback only.

Starts azurite on a free port with a temporary location, uploads blobs with an independent
Python SharedKey signer (Azure's "Authorize with Shared Key" rules, written here from the
docs), then runs azgcs_driver (our C store on a libuv loop) and checks:
  - account-key listing (sizes, names, Last-Modified) and ranged reads, awkward names;
  - paging over 2,100 blobs with page_size 100 (22 pages, no duplicates, none missing);
  - a container SAS generated here (service SAS, version 2021-08-06) for list + read;
  - a wrong account key refused with a clear message (and neither key nor SAS printed);
  - missing blob -> not_found; anonymous access to a private vs a public container;
  - the URL forms: az://, azure://, https endpoint with the account in the path, a root
    prefix in the URL, use_emulator with AZURITE_BLOB_STORAGE_URL;
  - a read of many blobs at once (fetchall) equals the uploaded bytes.

usage: az_azurite_test.py DRIVER NODE_DIR
"""
import base64
import concurrent.futures
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

from tdtest.azgcs_testlib import blob_bytes, check, failures, parse_get, parse_list
from tdtest.azurite import (ACCOUNT, KEY, Azurite, azurite_main_js, container_sas,
                            start_azurite)
from tdtest.store_testlib import stop

def run(driver, url, opts, *cmd, env=None):
    args = [driver, url]
    for k, v in opts.items():
        args += ["-o", f"{k}={v}"]
    args += [str(c) for c in cmd]
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("AZURE_") or k.startswith("AZURITE_"):
            del e[k]
    e.update(env or {})
    p = subprocess.run(args, capture_output=True, timeout=300, env=e)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode not in (0, 1) or p.stderr.strip():
        print("driver stderr:", p.stderr.decode("utf-8", "replace")[-3000:])
    return out, p.returncode


def many_size(name):
    return 64 + hashlib.sha256(name.encode()).digest()[0] % 7


def main():
    driver, node_dir = sys.argv[1], sys.argv[2]
    main_js = azurite_main_js(node_dir)
    if not main_js:
        print(f"azurite is not installed in {node_dir} (npm ci in tests/node)")
        return 77
    tmp = tempfile.mkdtemp(prefix="td-azurite-")
    proc, port = start_azurite(main_js, tmp)
    try:
        if port is None:
            return 1
        return tests(driver, Azurite(port), port)
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def tests(driver, az, port):
    ep = f"http://127.0.0.1:{port}/{ACCOUNT}"
    keyopts = {"account_name": ACCOUNT, "account_key": KEY, "endpoint": ep}

    az.create_container("data")
    az.create_container("pub", public=True)
    awkward = ["a b/c.tif", "ünï/ø.tif", "plus+sign.tif", "q?x#y&z=1.tif", "pct%41.tif",
               "dir/sub/deep.tif", "empty.tif", "tilde~;,$@!'()*.tif"]
    sizes = {n: (0 if n == "empty.tif" else 1000 + 37 * i) for i, n in enumerate(awkward)}
    for n in awkward:
        az.put("data", n, blob_bytes(n, sizes[n]))
    az.put("pub", "open.tif", blob_bytes("open.tif", 300))

    many = [f"many/{i:05d}.tif" for i in range(2100)]
    with concurrent.futures.ThreadPoolExecutor(16) as ex:  # bounded concurrency
        list(ex.map(lambda n: az.put("data", n, blob_bytes(n, many_size(n))), many))

    # --- account key: listing with awkward names, ranged reads
    out, _ = run(driver, "az://data", keyopts, "list", 1000, "")
    entries, pages, end = parse_list(out)
    names = {e[0]: e for e in entries}
    check(end == ("ok", ""), f"key: listing ends ok ({end})")
    check(len(entries) == len(awkward) + len(many), f"key: {len(entries)} entries listed")
    check(all(n in names and names[n][1] == sizes[n] for n in awkward),
          "key: awkward names listed with their sizes")
    now_ms = time.time() * 1000
    check(all(abs(names[n][2] - now_ms) < 3600e3 for n in awkward),
          "key: Last-Modified parsed to ms near now")
    check(all(names[n][3] for n in awkward), "key: etags present")

    for n in awkward:
        if sizes[n] == 0:
            continue
        g = parse_get(run(driver, "az://data", keyopts, "get", n, 3, 40)[0])
        want = blob_bytes(n, sizes[n])[3:43]
        check(g["status"] == "ok" and bytes.fromhex(g["hex"]) == want and g["got"] == 40,
              f"key: ranged read of {n!r} ({g['status']} {g['msg']})")
    g = parse_get(run(driver, "az://data", keyopts, "get", "a b/c.tif", 990, 100)[0])
    check(g["status"] == "ok" and g["got"] == 10, f"key: read past the end gives the tail "
                                                  f"({g['status']} got {g['got']})")
    g = parse_get(run(driver, "az://data", keyopts, "get", "empty.tif", 0, 100)[0])
    check(g["status"] == "ok" and g["got"] == 0, f"key: read of an empty blob ({g})")
    g = parse_get(run(driver, "az://data", keyopts, "get", "missing.tif", 0, 100)[0])
    check(g["status"] == "not_found", f"key: missing blob -> not_found ({g['status']})")

    # --- paging: 2,100 blobs, page_size 100
    out, _ = run(driver, "az://data", keyopts, "list", 100, "many/")
    entries, pages, end = parse_list(out)
    got = [e[0] for e in entries]
    check(end == ("ok", "") and len(pages) == 21 and max(pages) <= 100,
          f"paging: {len(pages)} pages of <= 100 ({end})")
    check(sorted(got) == many and len(set(got)) == len(got), "paging: all 2,100, no duplicate")

    # --- root prefix in the URL: keys relative to it; the https form; azure://
    out, _ = run(driver, f"azure://data/dir/", keyopts, "list", 10, "")
    entries, _, end = parse_list(out)
    check([e[0] for e in entries] == ["sub/deep.tif"], f"root prefix: keys relative ({entries})")
    g = parse_get(run(driver, "az://data/dir", keyopts, "get", "sub/deep.tif", 0, 8)[0])
    check(g["status"] == "ok" and bytes.fromhex(g["hex"]) == blob_bytes("dir/sub/deep.tif",
                                                                        8),
          "root prefix: read relative to it")

    # the account named by the host: abfs:// and https:// forms (endpoint redirected here)
    for url in (f"abfss://data@{ACCOUNT}.dfs.core.windows.net/dir",
                f"https://{ACCOUNT}.blob.core.windows.net/data/dir/"):
        out, _ = run(driver, url, {"account_key": KEY, "endpoint": ep}, "list", 10, "")
        entries, _, end = parse_list(out)
        check([e[0] for e in entries] == ["sub/deep.tif"], f"{url}: listed ({end})")
    out, _ = run(driver, f"abfs://data@{ACCOUNT}.dfs.core.windows.net/",
                 {"account_name": "someoneelse", "account_key": KEY, "endpoint": ep},
                 "list", 10, "")
    end = parse_list(out)[2]
    check(end[0] == "config" and "someoneelse" in end[1], f"account mismatch named ({end})")

    # --- use_emulator + AZURITE_BLOB_STORAGE_URL (well-known key, account in the path)
    out, _ = run(driver, "az://data", {"use_emulator": "true"}, "list", 5000, "dir/",
                 env={"AZURITE_BLOB_STORAGE_URL": f"http://127.0.0.1:{port}"})
    entries, _, end = parse_list(out)
    check(end == ("ok", "") and len(entries) == 1, f"use_emulator: listing ({end})")
    out, _ = run(driver, "az://data", {}, "list", 5000, "dir/",
                 env={"AZURITE_BLOB_STORAGE_URL": f"http://127.0.0.1:{port}",
                      "AZURE_STORAGE_USE_EMULATOR": "true"})
    check(parse_list(out)[2] == ("ok", ""), "AZURE_STORAGE_USE_EMULATOR env")
    out, _ = run(driver, "az://data", {}, "list", 5000, "dir/",
                 env={"AZURE_STORAGE_ACCOUNT_NAME": ACCOUNT, "AZURE_STORAGE_ACCOUNT_KEY": KEY,
                      "AZURE_STORAGE_ENDPOINT": ep})
    check(parse_list(out)[2] == ("ok", ""), "AZURE_STORAGE_ACCOUNT_NAME/KEY env")

    # --- SAS
    sas, sig = container_sas("data")
    sasopts = {"account_name": ACCOUNT, "sas_key": sas, "endpoint": ep}
    out, _ = run(driver, "az://data", sasopts, "list", 5000, "dir/")
    entries, _, end = parse_list(out)
    check(end == ("ok", "") and len(entries) == 1, f"sas: listing ({end})")
    g = parse_get(run(driver, "az://data", sasopts, "get", "ünï/ø.tif", 0, 16)[0])
    check(g["status"] == "ok" and bytes.fromhex(g["hex"]) == blob_bytes("ünï/ø.tif", 16),
          f"sas: read ({g['status']} {g['msg']})")
    sas_url = f"https://{ACCOUNT}.blob.core.windows.net/data/dir?{sas}"
    out, _ = run(driver, sas_url, {"endpoint": ep}, "list", 10, "")
    entries, _, end = parse_list(out)
    check([e[0] for e in entries] == ["sub/deep.tif"], f"sas in a Blob SAS URL ({end})")
    g = parse_get(run(driver, sas_url, {"endpoint": ep}, "get", "nope.tif", 0, 10)[0])
    check(g["status"] == "not_found" and sig not in g["msg"] and
          urllib.parse.quote(sig, safe="") not in g["msg"] and "sig=" not in g["msg"],
          f"sas URL: message without the SAS ({g['msg']})")
    bad_sas = sas.replace("sp=rl", "sp=r")  # signature no longer matches
    out, _ = run(driver, "az://data", dict(sasopts, sas_key=bad_sas), "list", 10, "")
    end = parse_list(out)[2]
    check(end[0] in ("auth", "access_denied") and "SAS" in end[1],
          f"sas: a tampered SAS is refused ({end})")
    check(urllib.parse.quote(sig, safe="") not in out and sig not in out,
          "sas: the signature is not printed")

    # --- wrong key
    wrong = base64.b64encode(b"x" * 64).decode()
    out, _ = run(driver, "az://data", dict(keyopts, account_key=wrong), "list", 10, "")
    end = parse_list(out)[2]
    check(end[0] == "auth" and "account key was refused" in end[1],
          f"wrong key: refused with a clear message ({end})")
    check(wrong not in out and KEY not in out, "wrong key: no key in the output")
    g = parse_get(run(driver, "az://data", dict(keyopts, account_key=wrong), "get",
                      "a b/c.tif", 0, 10)[0])
    check(g["status"] in ("auth", "access_denied"), f"wrong key: read refused ({g['status']}: "
                                                    f"{g['msg']})")
    out, _ = run(driver, "az://data", dict(keyopts, account_key="not base64!"), "list", 1, "")
    end = parse_list(out)[2]
    check(end[0] == "config" and "not base64!" not in out, f"malformed key ({end})")

    # --- anonymous: private container refused, public container readable
    anon = {"account_name": ACCOUNT, "endpoint": ep}
    out, _ = run(driver, "az://data", anon, "list", 10, "")
    end = parse_list(out)[2]
    check(end[0] in ("not_found", "access_denied", "auth"),
          f"anonymous: private container refused ({end})")
    out, _ = run(driver, "az://pub", anon, "list", 10, "")
    entries, _, end = parse_list(out)
    check(end == ("ok", "") and [e[0] for e in entries] == ["open.tif"],
          f"anonymous: public container listed ({end})")
    g = parse_get(run(driver, "az://pub", dict(anon, skip_signature="true"), "get",
                      "open.tif", 10, 20)[0])
    check(g["status"] == "ok" and bytes.fromhex(g["hex"]) == blob_bytes("open.tif", 300)[10:30],
          "anonymous: public blob read (skip_signature)")

    # --- configuration errors
    out, _ = run(driver, "az://data", dict(keyopts, bogus_option="1"), "list", 1, "")
    end = parse_list(out)[2]
    check(end[0] == "config" and "bogus_option" in end[1], f"unknown option named ({end})")
    out, _ = run(driver, "az://data", {}, "list", 1, "")
    end = parse_list(out)[2]
    check(end[0] == "config" and "account" in end[1], f"no account: clear message ({end})")
    out, _ = run(driver, "az://Bad_Container", keyopts, "list", 1, "")
    check(parse_list(out)[2][0] == "config", "invalid container name refused")

    # --- many reads at once: every byte as uploaded
    out, _ = run(driver, "az://data/many", keyopts, "fetchall", 500, 64, 32)
    ok = bad = 0
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] != "F":
            continue
        name = "many/" + bytes.fromhex(f[1]).decode()
        want = blob_bytes(name, many_size(name))[:64]
        if f[2] == "ok" and f[4] == hashlib.sha256(want).hexdigest():
            ok += 1
        else:
            bad += 1
    check(ok == len(many) and bad == 0, f"fetchall: {ok} reads equal the uploads, {bad} not")

    print(f"{len(failures) == 0 and 'all' or 'some'} checks done: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
