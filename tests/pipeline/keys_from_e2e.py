"""Key sources instead of listing, end to end over the local store on the corpus:
store.keys_from (plain, gzip, stdin, CRLF, comments, URLs, missing keys, duplicates, a
corrupt gzip) and store.inventory (an S3 Inventory manifest + CSV.gz data files written here,
read back with sizes, last-modified times and ETags in the Parquet output), plus the config
errors. Outputs are read with DuckDB.
usage: keys_from_e2e.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
from collections import Counter
from datetime import datetime, timezone

from tdtest import e2e_lib as L

CONC = {"n_consumers": 8, "list_chunk_size": 16, "max_buffer_size": 32, "write_chunk_size": 32}


def write_cfg(path, store, extra, **sections):
    """A config with store.keys_from / store.inventory lines (extra: dict of store keys)."""
    sections.setdefault("concurrency", CONC)
    L.write_config(path, store, None, **sections)
    text = open(path).read()
    add = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in extra.items())
    text = text.replace("\nconcurrency:", "\n" + add.rstrip("\n") + "\nconcurrency:", 1) \
        if "concurrency:" in text else text + add
    with open(path, "w") as f:
        f.write(text)


def run(exe, cfg, out, stdin=None):
    p = subprocess.run([exe, "headers", cfg, out, "--quiet"], input=stdin, capture_output=True)
    return p.returncode, p.stderr.decode(errors="replace")


def tables(node_dir, out):
    h, e = L.duckdb(
        node_dir,
        f"SELECT path, size, epoch_ms(last_modified) AS mtime, etag FROM "
        f"read_parquet('{out}/part-*.parquet') ORDER BY path",
        f"SELECT path, stage, kind, message FROM read_parquet('{out}/_errors/part-*.parquet') "
        f"ORDER BY path, stage")
    return h, e


def success(out):
    with open(os.path.join(out, "_SUCCESS")) as f:
        return json.load(f)


def good_keys(corpus, n):
    """n corpus TIFFs that parse cleanly, with their sizes."""
    out = []
    for line in open(os.path.join(corpus, "expected.jsonl")):
        e = json.loads(line)
        if e["error"] is None:
            out.append((e["path"], e["size"]))
        if len(out) == n:
            break
    return out


def check_list_run(label, node_dir, out, keys, missing, foreign, code, err):
    """keys: the keys dumped (with repeats), missing: not_found keys, foreign: lines of
    another store."""
    if code != 1:
        L.fail(f"{label}: exit status {code} (want 1: some rows are errors)\n{err}")
    h, e = tables(node_dir, out)
    got = Counter(r["path"] for r in h)
    want = Counter(k for k, _ in keys)
    if got != want:
        L.fail(f"{label}: header paths differ: extra {got - want}, missing {want - got}")
    sizes = dict(keys)
    for r in h:
        if r["size"] != sizes[r["path"]] or r["mtime"] is not None:
            L.fail(f"{label}: {r['path']}: size {r['size']} mtime {r['mtime']}, want "
                   f"{sizes[r['path']]} and null (known after the first read)")
    want_err = sorted([(k, "fetch", "not_found") for k in missing] +
                      [(k, "list", "config") for k in foreign])
    got_err = sorted((r["path"], r["stage"], r["kind"]) for r in e)
    if got_err != want_err:
        L.fail(f"{label}: error rows {got_err}, want {want_err}")
    for r in e:
        if r["stage"] == "list" and "not in the store" not in r["message"]:
            L.fail(f"{label}: message {r['message']!r}")
    s = success(out)
    return s


def test_lists(exe, corpus, node_dir, tmp):
    keys = good_keys(corpus, 40)
    root = "file://" + os.path.realpath(corpus)
    lines = ["# a key list: comments, blank lines, CRLF, URL forms", ""]
    dumped = []
    for i, (k, size) in enumerate(keys):
        form = i % 4
        if form == 0:
            lines.append(k)
        elif form == 1:
            lines.append(k + "\r")
        elif form == 2:
            lines.append(f"{root}/{k}")
        else:
            lines.append(os.path.join(os.path.realpath(corpus), k))
        dumped.append((k, size))
    # duplicates are dumped as listed
    lines += [keys[0][0], keys[1][0], keys[1][0]]
    dumped += [keys[0], keys[1], keys[1]]
    missing = ["nope/missing.tif", "nope/Missing2.TIFF"]
    foreign = ["s3://other-bucket/x.tif"]
    lines += missing + foreign
    lines += ["   ", "\t", "#nope/commented.tif", "rasterio/SOURCES.md", "notes.txt"]
    text = "\n".join(lines)  # no final newline: the last line still counts
    n_keys = len(dumped) + len(missing) + len(foreign) + 2  # + 2 non-TIFF keys

    plain = os.path.join(tmp, "keys.txt")
    with open(plain, "w", newline="") as f:
        f.write(text)
    gz = os.path.join(tmp, "keys.txt.gz")
    with gzip.open(gz, "wb") as f:
        f.write(text.encode())
    # gzip in two members (as `cat a.gz b.gz` makes) with an uncompressed name that says
    # nothing: detection is by the magic bytes
    half = len(lines) // 2
    multi = os.path.join(tmp, "keys-multi.lst")
    with open(multi, "wb") as f:
        f.write(gzip.compress(("\n".join(lines[:half]) + "\n").encode()))
        f.write(gzip.compress("\n".join(lines[half:]).encode()))

    cfg = os.path.join(tmp, "c.yaml")
    for label, src, stdin in [("plain", plain, None), ("gzip", gz, None),
                              ("multi-member gzip", multi, None),
                              ("stdin", "-", text.encode()),
                              ("stdin gzip", "-", open(gz, "rb").read())]:
        out = os.path.join(tmp, "out-" + label.replace(" ", "_"))
        write_cfg(cfg, corpus, {"keys_from": src})
        code, err = run(exe, cfg, out, stdin)
        s = check_list_run(label, node_dir, out, dumped, missing, foreign, code, err)
        if s["listed"] != n_keys or s["skipped"] != 2 or s["dumped"] != len(dumped) \
                or s["failed"] != 3 or s.get("keys_from") != src:
            L.fail(f"{label}: _SUCCESS {s}")
        print(f"ok  keys_from {label}: {len(dumped)} headers, 3 errors, {n_keys} listed")

    # a damaged gzip: the keys before the damage are dumped, and an error row names the file
    big = "\n".join(k for k, _ in keys * 200).encode()
    bgz = gzip.compress(big)
    trunc = os.path.join(tmp, "trunc.gz")
    with open(trunc, "wb") as f:
        f.write(bgz[: len(bgz) * 2 // 3])
    out = os.path.join(tmp, "out-trunc")
    write_cfg(cfg, corpus, {"keys_from": trunc})
    code, err = run(exe, cfg, out)
    if code != 1:
        L.fail(f"truncated gzip: exit status {code}\n{err}")
    h, e = tables(node_dir, out)
    io_rows = [r for r in e if r["path"] == trunc]
    if len(io_rows) != 1 or io_rows[0]["stage"] != "list" or io_rows[0]["kind"] != "io" \
            or "corrupt gzip" not in io_rows[0]["message"] or len(h) == 0 or len(e) != 1:
        L.fail(f"truncated gzip: {len(h)} headers, errors {e}")
    print(f"ok  keys_from truncated gzip: {len(h)} headers before the damage, 1 io error row")

    # a NUL byte: not a text file
    nul = os.path.join(tmp, "nul.txt")
    with open(nul, "wb") as f:
        f.write(keys[0][0].encode() + b"\nab\0cd.tif\n" + keys[1][0].encode() + b"\n")
    out = os.path.join(tmp, "out-nul")
    write_cfg(cfg, corpus, {"keys_from": nul})
    code, err = run(exe, cfg, out)
    h, e = tables(node_dir, out)
    if code != 1 or [r["path"] for r in h] != [keys[0][0]] or len(e) != 1 \
            or "NUL" not in e[0]["message"]:
        L.fail(f"NUL byte: exit {code}, headers {h}, errors {e}")
    print("ok  keys_from NUL byte: an error row, reading stops")

    # an empty list: nothing to do, exit 0
    empty = os.path.join(tmp, "empty.txt")
    open(empty, "w").close()
    out = os.path.join(tmp, "out-empty")
    write_cfg(cfg, corpus, {"keys_from": empty})
    code, err = run(exe, cfg, out)
    if code != 0 or success(out)["listed"] != 0:
        L.fail(f"empty list: exit {code}\n{err}")
    print("ok  keys_from empty file")


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") \
        + f"{ms % 1000:03d}Z"


def write_inventory(tmp, corpus, bucket, rows_per_file, keys, extra_rows):
    """An S3 Inventory as delivered: DEST/BUCKET/CONFIG/DATE/manifest.json and
    DEST/BUCKET/CONFIG/data/*.csv.gz, keys form-encoded. Returns the manifest path and the
    expected (key, size, mtime_ms, etag) rows."""
    dest = os.path.join(tmp, "inventory-dest")
    cfgdir = os.path.join(dest, bucket, "cfg1")
    os.makedirs(os.path.join(cfgdir, "data"), exist_ok=True)
    os.makedirs(os.path.join(cfgdir, "2024-05-01T01-00Z"), exist_ok=True)
    schema = ["Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size",
              "LastModifiedDate", "ETag", "StorageClass"]
    expect = []
    rows = []
    for i, (k, size) in enumerate(keys):
        ms = 1700000000000 + i * 1234567
        etag = f"{i:032x}" if i else 'q"uo,te'  # CSV quoting: "" and a comma in a field
        rows.append([bucket, urllib.parse.quote_plus(k, safe="/"), f"v{i}", "true", "false",
                     str(size), iso(ms), etag, "STANDARD"])
        expect.append((k, size, ms, etag))
    rows += extra_rows
    files = []
    for n, start in enumerate(range(0, len(rows), rows_per_file)):
        key = f"{bucket}/cfg1/data/part-{n}.csv.gz"
        buf = io.StringIO()
        csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
            rows[start:start + rows_per_file])
        with gzip.open(os.path.join(dest, key), "wb") as f:
            f.write(buf.getvalue().encode())
        files.append({"key": key, "size": 0, "MD5checksum": "0" * 32})
    manifest = os.path.join(cfgdir, "2024-05-01T01-00Z", "manifest.json")
    with open(manifest, "w") as f:
        json.dump({"sourceBucket": bucket, "destinationBucket": "arn:aws:s3:::dest",
                   "version": "2016-11-30", "creationTimestamp": "1714525200000",
                   "fileFormat": "CSV", "fileSchema": ", ".join(schema), "files": files}, f)
    return manifest, expect


def test_inventory(exe, corpus, node_dir, tmp):
    # a store of our own so that keys need URL-encoding: spaces, '+', '%', UTF-8
    store = os.path.join(tmp, "store")
    srcs = good_keys(corpus, 6)
    names = ["plain.tif", "with space.tif", "dir/plus+sign.tif", "pct%41.tif",
             "caf\u00e9/\u00e9t\u00e9.TIF", "a,comma \"quoted\".tiff"]
    keys = []
    for (src, size), name in zip(srcs, names):
        os.makedirs(os.path.dirname(os.path.join(store, name)), exist_ok=True)
        shutil.copyfile(os.path.join(corpus, src), os.path.join(store, name))
        keys.append((name, size))
    extra = [
        ["bkt", "old.tif", "v0", "false", "false", "10", iso(0), "x", "STANDARD"],  # old
        ["bkt", "deleted.tif", "v1", "true", "true", "", "", "", ""],  # a delete marker
        ["bkt", "notes.txt", "v2", "true", "false", "5", iso(0), "y", "STANDARD"],  # skipped
        ["bkt", "gone.tif", "v3", "true", "false", "7", iso(1000), "z", "STANDARD"],  # missing
    ]
    manifest, expect = write_inventory(tmp, corpus, "bkt", 4, keys, extra)
    cfg = os.path.join(tmp, "inv.yaml")
    out = os.path.join(tmp, "out-inv")
    write_cfg(cfg, store, {"inventory": manifest})
    code, err = run(exe, cfg, out)
    if code != 1:
        L.fail(f"inventory: exit {code}\n{err}")
    h, e = tables(node_dir, out)
    got = sorted((r["path"], r["size"], r["mtime"], r["etag"]) for r in h)
    if got != sorted(expect):
        L.fail(f"inventory: headers {got}\nwant {sorted(expect)}")
    if [(r["path"], r["stage"], r["kind"]) for r in e] != [("gone.tif", "fetch", "not_found")]:
        L.fail(f"inventory: errors {e}")
    s = success(out)
    if s["listed"] != len(keys) + 2 or s["skipped"] != 1 or s.get("inventory") != manifest:
        L.fail(f"inventory: _SUCCESS {s}")
    print(f"ok  inventory: {len(h)} headers with sizes, last-modified and ETags; "
          f"old versions and delete markers ignored")

    # a flat copy: data files beside the manifest
    flat = os.path.join(tmp, "flat")
    os.makedirs(flat)
    mdir = os.path.dirname(manifest)
    for fn in os.listdir(os.path.join(mdir, "..", "data")):
        shutil.copy(os.path.join(mdir, "..", "data", fn), flat)
    shutil.copy(manifest, flat)
    out2 = os.path.join(tmp, "out-inv-flat")
    write_cfg(cfg, "file://" + store, {"inventory": "file://" + os.path.join(flat, "manifest.json")})
    code, err = run(exe, cfg, out2)
    h2, _ = tables(node_dir, out2)
    if code != 1 or h2 != h:
        L.fail(f"inventory (flat copy): exit {code}, {len(h2)} headers\n{err}")
    print("ok  inventory: data files found beside the manifest")
    return manifest


def test_config_errors(exe, corpus, tmp, manifest):
    cfg = os.path.join(tmp, "bad.yaml")
    out = os.path.join(tmp, "out-bad")
    keys = os.path.join(tmp, "k.txt")
    with open(keys, "w") as f:
        f.write("rasterio/byte.tif\n")
    cases = [
        ({"keys_from": keys, "inventory": manifest}, "exclude each other"),
        ({"keys_from": os.path.join(tmp, "no-such-list.txt")}, "no-such-list.txt"),
        ({"keys_from": tmp}, "is a directory"),
        ({"keys_from": ""}, "keys_from is empty"),
        ({"inventory": os.path.join(tmp, "nope", "manifest.json")}, "cannot open the inventory"),
        ({"keys_form": keys}, "did you mean 'keys_from'"),
        ({"inventory": "s3://bucket/manifest.json"}, "only a local manifest"),
    ]
    for extra, needle in cases:
        write_cfg(cfg, corpus, extra)
        code, err = run(exe, cfg, out)
        if code != 2 or needle.lower() not in err.lower():
            L.fail(f"config {extra}: exit {code}, want 2 and {needle!r}:\n{err}")
    # prefixes with a key source
    L.write_config(cfg, corpus, ["rasterio/"], concurrency=CONC)
    text = open(cfg).read().replace("  prefixes:", f"  keys_from: {json.dumps(keys)}\n  prefixes:")
    with open(cfg, "w") as f:
        f.write(text)
    code, err = run(exe, cfg, out)
    if code != 2 or "store.prefixes cannot be combined" not in err:
        L.fail(f"prefixes + keys_from: exit {code}\n{err}")
    # manifests that are not usable
    bad_manifests = [
        ({"fileFormat": "ORC", "fileSchema": "struct<bucket:string>", "files": []}, "only CSV"),
        ({"fileFormat": "CSV", "fileSchema": "Bucket, Size", "files": []}, "no Key column"),
        ({"fileFormat": "CSV", "fileSchema": "Bucket, Key", "files": [{"key": "x/none.csv.gz"}]},
         "not found"),
        ({"fileFormat": "CSV", "fileSchema": "Bucket, Key", "files": [{"key": "../up.csv.gz"}]},
         "not a relative path"),
        ("{not json", "inventory manifest"),
    ]
    md = os.path.join(tmp, "badman")
    os.makedirs(md, exist_ok=True)
    mpath = os.path.join(md, "manifest.json")
    for doc, needle in bad_manifests:
        with open(mpath, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        write_cfg(cfg, corpus, {"inventory": mpath})
        code, err = run(exe, cfg, out)
        if code != 2 or needle.lower() not in err.lower():
            L.fail(f"manifest {doc}: exit {code}, want 2 and {needle!r}:\n{err}")
    # a data file with a record that does not fit the schema: an error row, exit 1
    with gzip.open(os.path.join(md, "d.csv.gz"), "wt") as f:
        f.write('"bkt","rasterio/byte.tif"\n"bkt","rasterio/float.tif","extra"\n')
    with open(mpath, "w") as f:
        json.dump({"fileFormat": "CSV", "fileSchema": "Bucket, Key",
                   "files": [{"key": "somewhere/d.csv.gz"}]}, f)
    write_cfg(cfg, corpus, {"inventory": mpath})
    code, err = run(exe, cfg, out)
    if code != 1 or success(out)["dumped"] != 1 or success(out)["failed"] != 1:
        L.fail(f"bad record: exit {code}\n{err}")
    print(f"ok  config errors: {len(cases) + 1 + len(bad_manifests)} cases exit 2 with their "
          "message; a bad CSV record is an error row")


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    exe = os.path.abspath(exe)
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("keysfrom")
    try:
        test_lists(exe, corpus, node_dir, tmp)
        manifest = test_inventory(exe, corpus, node_dir, tmp)
        test_config_errors(exe, corpus, tmp, manifest)
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
