"""End to end over HTTP: the shared corpus served by nginx (WebDAV PROPFIND listing) and
dumped with `tiff-dumper headers http://127.0.0.1:PORT/ ...` gives the same rows as the
local-folder run of the same files (DuckDB reads both; last_modified and etag left out),
and the same error rows; `tiff-dumper info http://.../KEY` prints what `info FILE` prints.

usage: http_e2e_corpus.py TIFF_DUMPER CORPUS_DIR NODE_DIR
"""
import json
import os
import shutil
import sys
import urllib.parse

from tdtest import e2e_lib as L
from tdtest.http_testlib import Nginx


def config(path, store):
    lines = ["store:", f"  name: {json.dumps(store)}",
             "concurrency:", "  n_consumers: 32", "  list_chunk_size: 50",
             "  max_buffer_size: 100", "  write_chunk_size: 100"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def info_encoded_url(exe, corpus, tmp):
    """`info` takes a URL as a browser shows it: percent-encoded."""
    src = None
    for d, _, files in sorted(os.walk(corpus, followlinks=True)):
        for f in sorted(files):
            if f.lower().endswith(".tif"):
                src = os.path.join(d, f)
                break
        if src:
            break
    www = os.path.join(tmp, "www")
    os.makedirs(os.path.join(www, "dir ü"))
    dst = os.path.join(www, "dir ü", "a b+c%.tif")
    shutil.copyfile(src, dst)
    ngx = Nginx(os.path.join(tmp, "nginx2"), www)
    try:
        url = ngx.url + "/" + urllib.parse.quote("dir ü/a b+c%.tif")
        p = L.run_tool(exe, "info", "--json", url, timeout=60)
        q = L.run_tool(exe, "info", "--json", dst, timeout=60)
    finally:
        ngx.stop()
    got, want = json.loads(p.stdout), json.loads(q.stdout)
    got.pop("path")
    want.pop("path")
    if p.returncode != 0 or got != want:
        L.fail(f"info {url}: exit {p.returncode} {json.dumps(got)[:300]} {p.stderr[-300:]}")
    print(f"info: {url} equals the local reading")


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("httpe2e")
    try:
        ngx = Nginx(os.path.join(tmp, "nginx"), corpus)
        try:
            config(os.path.join(tmp, "local.yaml"), corpus)
            config(os.path.join(tmp, "http.yaml"), ngx.url + "/")
            runs = {}
            for name in ("local", "http"):
                out = os.path.join(tmp, "out-" + name)
                p = L.run_tool(exe, "headers", os.path.join(tmp, name + ".yaml"), out,
                               timeout=600)
                print(name, "exit", p.returncode, p.stderr[-1500:])
                if p.returncode not in (0, 1):
                    L.fail(f"{name} run: exit status {p.returncode}")
                runs[name] = out
            L.info_matches_local(exe, corpus, ngx.url + "/", {})
        finally:
            ngx.stop()
        info_encoded_url(exe, corpus, tmp)
        L.same_rows(node_dir, runs["local"], runs["http"], ("local", "http"))
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
