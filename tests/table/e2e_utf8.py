"""Keys that are not UTF-8, and messages cut inside a character, never make a part file
unreadable (issue 13, item 2).

A local folder holds `caf\\xe9.tif` (Latin-1 bytes: a copy of a corpus TIFF) and `ok.tif`.
It is dumped three times: listed, served by nginx (an http:// store: PROPFIND and ranged
GETs), and through a key list that also names two missing keys, one of
80 x U+65E5 (its message is longer than the store's 256-byte message buffer, so it is cut
inside the name) and one Latin-1 (`m\\xfcller-missing.tif`). Every part file of every run
must then be readable by DuckDB (which refuses a STRING that is not UTF-8) and by hyparquet
(whose decoder would turn bad bytes into U+FFFD), and:
  - `path` is the key, with each byte that is not UTF-8 written as \\xNN (Python's
    backslashreplace), and `path_bytes` holds the exact bytes then, null otherwise;
  - the Latin-1 key that exists got a header row: it was fetched with its exact bytes;
  - _SUCCESS and `info --json` of the Latin-1 file are UTF-8 JSON (the path escaped alike).

  python3 e2e_utf8.py TIFF_DUMPER CORPUS_DIR   (TD_NODE_DIR: the tests' npm project)
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tdtest import require, skip
from tdtest.http_testlib import Nginx

HERE = os.path.dirname(os.path.abspath(__file__))
LATIN = b"caf\xe9.tif"
LATIN_MISSING = b"m\xfcller-missing.tif"
LONG_MISSING = ("\u65e5" * 80 + ".tif").encode()
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def shown(raw):
    """The documented `path` of a key: each byte that is not UTF-8 as \\xNN."""
    return raw.decode("utf-8", "backslashreplace")


def pick_tiff(exe, corpus):
    """A corpus TIFF whose header the tool reads (so a header row proves the fetch)."""
    names = []
    for d, _, files in os.walk(corpus, followlinks=True):
        names += [os.path.join(d, f) for f in files if f.endswith(".tif")]
    for f in sorted(names)[:40]:
        p = subprocess.run([exe, "info", "--json", f], capture_output=True, timeout=60)
        if p.returncode == 0 and b'"error"' not in p.stdout:
            return f
    sys.exit(f"no readable .tif in {corpus}")


def read_all(reader, files):
    p = subprocess.run(["node", os.path.join(HERE, "read_parts.mjs"), reader, *files],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        sys.exit(f"{reader} reader failed: {p.stderr.decode(errors='replace')[-2000:]}")
    # strict: the reader's output is JSON text; a U+FFFD in it is a bad byte seen
    return [json.loads(line) for line in p.stdout.decode("utf-8").splitlines()]


def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from strings(x)


def run(exe, tmp, name, store_lines, want_rc):
    cfg = os.path.join(tmp, name + ".yaml")
    with open(cfg, "w") as f:
        f.write("\n".join(store_lines) + "\n")
    out = os.path.join(tmp, "out-" + name)
    p = subprocess.run([exe, "headers", cfg, out, "--quiet"], capture_output=True, timeout=120)
    check(p.returncode == want_rc,
          f"{name}: exit {p.returncode}, want {want_rc}: {p.stderr.decode(errors='replace')[-500:]}")
    return (sorted(glob.glob(os.path.join(out, "part-*.parquet"))),
            sorted(glob.glob(os.path.join(out, "_errors", "part-*.parquet"))))


def rows_by_path(reader, files, name):
    got = read_all(reader, files)
    by = {}
    for r in got:
        if "error" in r:
            check(False, f"{name}/{reader}: {os.path.basename(r['file'])} unreadable: {r['error'][:300]}")
            continue
        row = r["row"]
        for s in strings(row):
            check("\ufffd" not in s, f"{name}/{reader}: U+FFFD (bytes not UTF-8) in {s!r}")
        by[row["path"]] = row
    return by


def path_bytes_hex(row):
    v = row.get("path_bytes", "absent")
    return v["hex"] if isinstance(v, dict) else v


def main():
    exe, corpus = sys.argv[1], sys.argv[2]
    require("node")
    if not os.path.isdir(os.path.join(os.environ.get("TD_NODE_DIR", ""), "node_modules")):
        skip("the tests' npm packages (TD_NODE_DIR)")
    src = pick_tiff(exe, corpus)
    tmp = tempfile.mkdtemp(prefix="td_utf8_", dir=os.environ.get("TMPDIR", "/tmp"))
    try:
        data = os.path.join(tmp, "data")
        os.makedirs(data)
        shutil.copyfile(src, os.path.join(data.encode(), LATIN))
        shutil.copyfile(src, os.path.join(data, "ok.tif"))
        with open(os.path.join(tmp, "keys.txt"), "wb") as f:
            f.write(b"\n".join([LATIN, LONG_MISSING, LATIN_MISSING, b"ok.tif"]) + b"\n")

        listed = run(exe, tmp, "listed", ["store:", f"  name: {json.dumps(data)}"], 0)
        keyed = run(exe, tmp, "keys", ["store:", f"  name: {json.dumps(data)}",
                                       f"  keys_from: {json.dumps(os.path.join(tmp, 'keys.txt'))}"], 1)
        # the same folder behind nginx: listed with PROPFIND (hrefs percent-encoded), read
        # with ranged GETs of the percent-encoded bytes
        nginx = Nginx(os.path.join(tmp, "nginx"), data)
        try:
            served = run(exe, tmp, "http", ["store:", f"  name: {json.dumps(nginx.url + '/')}"], 0)
        finally:
            nginx.stop()

        # what the tool writes as JSON is UTF-8 too: _SUCCESS, and `info --json` of the file
        for name in ("listed", "keys", "http"):
            with open(os.path.join(tmp, "out-" + name, "_SUCCESS"), "rb") as f:
                raw = f.read()
            try:
                json.loads(raw.decode("utf-8"))
            except ValueError as e:
                check(False, f"{name}: _SUCCESS is not UTF-8 JSON: {e}")
        p = subprocess.run([exe, "info", "--json", os.path.join(data.encode(), LATIN)],
                           capture_output=True, timeout=60)
        try:
            got = json.loads(p.stdout.decode("utf-8"))
            check(got.get("path") == shown(os.path.join(data.encode(), LATIN)) and "error" not in got,
                  f"info --json: {got.get('path')!r} {got.get('error')}")
        except ValueError as e:
            check(False, f"info --json output is not UTF-8 JSON: {e}: {p.stdout[:200]!r}")

        for reader in ("duckdb", "hyparquet"):
            for name, (hdr_files, err_files) in (("listed", listed), ("keys", keyed),
                                                 ("http", served)):
                check(len(hdr_files) >= 1 and len(err_files) >= 1, f"{name}: part files missing")
                hdr = rows_by_path(reader, hdr_files, name)
                err = rows_by_path(reader, err_files, name)
                tag = f"{name}/{reader}"
                check(set(hdr) == {shown(LATIN), "ok.tif"},
                      f"{tag}: header paths {sorted(hdr)} (the Latin-1 key must be fetched)")
                if shown(LATIN) in hdr:
                    check(path_bytes_hex(hdr[shown(LATIN)]) == LATIN.hex(),
                          f"{tag}: path_bytes of caf\\xe9.tif is {path_bytes_hex(hdr[shown(LATIN)])}")
                if "ok.tif" in hdr:
                    check(path_bytes_hex(hdr["ok.tif"]) is None, f"{tag}: path_bytes of a UTF-8 key is not null")
                if name != "keys":
                    check(err == {}, f"{tag}: error rows {sorted(err)}")
                    continue
                check(set(err) == {shown(LONG_MISSING), shown(LATIN_MISSING)}, f"{tag}: error paths {sorted(err)}")
                e = err.get(shown(LATIN_MISSING))
                if e:
                    check(path_bytes_hex(e) == LATIN_MISSING.hex(), f"{tag}: path_bytes {path_bytes_hex(e)}")
                    check(e["kind"] == "not_found", f"{tag}: kind {e['kind']}")
                    check(shown(LATIN_MISSING) in (e["message"] or ""), f"{tag}: message {e['message']!r}")
                e = err.get(shown(LONG_MISSING))
                if e:
                    check(path_bytes_hex(e) is None, f"{tag}: path_bytes of a UTF-8 key is not null")
                    check(e["kind"] == "not_found", f"{tag}: kind {e['kind']}")
                    # the message was cut, on a character boundary
                    check(e["message"] and "\u65e5" * 10 in e["message"], f"{tag}: message {e['message']!r}")
                    # ... and a character cut in two would show as \xNN escapes
                    check("\\x" not in (e["message"] or "\\x"), f"{tag}: message cut inside a character: {e['message']!r}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("utf8 e2e: every part file readable by DuckDB and hyparquet; path_bytes exact")


if __name__ == "__main__":
    main()
