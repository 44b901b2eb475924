"""The command line: help, version, usage errors, config errors (each with its message and
exit status 2), exit statuses 0 and 1, --quiet/--loud, store URL forms, listing problems
(symlink loop, dangling link) reported as error rows while the run goes on.
usage: e2e_cli.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import json
import os
import shutil
import sys

from tdtest import e2e_lib as L

GOOD = "rasterio/RGB.byte.tif"
checks = 0


def expect(p, code, *needles, stream="stderr", label=""):
    global checks
    checks += 1
    text = getattr(p, stream)
    if p.returncode != code:
        L.fail(f"{label}: exit status {p.returncode}, want {code}\nstdout: {p.stdout}\n"
               f"stderr: {p.stderr}")
    for n in needles:
        if n.lower() not in text.lower():
            L.fail(f"{label}: {stream} lacks {n!r}:\n{text}")


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    exe = os.path.abspath(exe)
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("cli")
    try:
        expect(L.run_tool(exe, "--help"), 0, "headers", "info", "exit status", stream="stdout",
               label="--help")
        expect(L.run_tool(exe, "--version"), 0, "tiff-dumper ", stream="stdout", label="--version")
        expect(L.run_tool(exe, "headers", "--help"), 0, "CONFIG OUT_DIR", "--quiet", "--loud",
               stream="stdout", label="headers --help")
        expect(L.run_tool(exe), 2, "usage", label="no arguments")
        expect(L.run_tool(exe, "frobnicate"), 2, "frobnicate", label="unknown command")
        expect(L.run_tool(exe, "headers", "only-one"), 2, "CONFIG and OUT_DIR", label="one arg")
        expect(L.run_tool(exe, "headers", "a", "b", "--bogus"), 2, "--bogus", label="bad option")
        expect(L.run_tool(exe, "headers", "a", "b", "-q", "--loud"), 2, "exclude",
               label="quiet+loud")

        data = os.path.join(tmp, "data")
        os.makedirs(os.path.join(data, "sub"))
        shutil.copy(os.path.join(corpus, GOOD), os.path.join(data, "good.tif"))
        shutil.copy(os.path.join(corpus, GOOD), os.path.join(data, "sub", "GOOD2.TIFF"))
        with open(os.path.join(data, "notes.txt"), "w") as f:
            f.write("not a tiff\n")
        out = os.path.join(tmp, "out")
        cfg = os.path.join(tmp, "c.yaml")

        def conf(store=data, prefixes=None, **kw):
            kw.setdefault("concurrency", {"n_consumers": 4, "list_chunk_size": 10,
                                          "max_buffer_size": 20, "write_chunk_size": 10})
            L.write_config(cfg, store, prefixes, **kw)
            return cfg

        # config errors: exit 2, message naming what is wrong
        expect(L.run_tool(exe, "headers", os.path.join(tmp, "nope.yaml"), out), 2, "nope.yaml",
               label="missing config")
        bad = [
            ({"n_consumers": 20, "list_chunk_size": 10, "max_buffer_size": 20,
              "write_chunk_size": 10}, "n_consumers"),
            ({"n_consumers": 1, "list_chunk_size": 10, "max_buffer_size": 25,
              "write_chunk_size": 20}, "max_buffer_size"),
            ({"n_consumers": 1, "list_chunk_size": 10, "max_buffer_size": 10,
              "write_chunk_size": 5}, "write_chunk_size"),
            ({"n_consumers": 1, "list_chunk_size": 10, "max_buffer_size": 20,
              "write_chunk_size": 30}, "write_chunk_size"),
            ({"n_consumers": 0, "list_chunk_size": 10, "max_buffer_size": 20,
              "write_chunk_size": 10}, "n_consumers"),
            ({"n_consumer": 1}, "n_consumer"),
        ]
        for c, needle in bad:
            expect(L.run_tool(exe, "headers", conf(concurrency=c), out), 2, needle,
                   label=f"config {c}")
        p = L.run_tool(exe, "headers", conf(concurrency={"n_consumer": 1}), out)
        expect(p, 2, "n_consumers", label="unknown key suggestion")
        expect(L.run_tool(exe, "headers", conf(store="foo://bucket"), out), 2, "foo",
               "file://", label="unknown scheme")
        expect(L.run_tool(exe, "headers", conf(store=os.path.join(tmp, "missing")), out), 2,
               "missing", label="missing store folder")
        if os.path.exists(os.path.join(out, "_SUCCESS")):
            L.fail("_SUCCESS after a config error")

        # all good: exit 0; the .txt is skipped; file:// URL; --quiet prints nothing
        p = L.run_tool(exe, "headers", conf(store="file://" + data), out, "--quiet")
        expect(p, 0, label="all dumped")
        if p.stderr.strip():
            L.fail(f"--quiet printed: {p.stderr}")
        s = json.load(open(os.path.join(out, "_SUCCESS")))
        if (s["dumped"], s["failed"], s["skipped"]) != (2, 0, 1):
            L.fail(f"_SUCCESS {s}")
        # relative store path, a prefix
        p = L.run_tool(exe, "headers", conf(store="data", prefixes=["sub/", "nothing/"]), "out2",
                       cwd=tmp)
        expect(p, 0, "1 headers dumped", label="relative path + prefix")
        rows, = L.duckdb(node_dir, f"SELECT path FROM read_parquet('{tmp}/out2/part-*.parquet')")
        if [r["path"] for r in rows] != ["sub/GOOD2.TIFF"]:
            L.fail(f"prefix sub/: {rows}")

        # some failed: exit 1, one error row per object, --loud names it
        with open(os.path.join(data, "broken.tif"), "wb") as f:
            f.write(b"II*\x00\xff\xff\xff\x7f")
        with open(os.path.join(data, "empty.tiff"), "wb") as f:
            pass
        os.symlink("..", os.path.join(data, "sub", "loop"))
        os.symlink("nowhere.tif", os.path.join(data, "dangling.tif"))
        p = L.run_tool(exe, "headers", conf(), out, "--loud")
        expect(p, 1, "broken.tif", "empty.tiff", "dangling.tif", label="some failed")
        rows, = L.duckdb(node_dir, f"SELECT path, stage, kind, message, attempts "
                                   f"FROM read_parquet('{out}/_errors/*.parquet') ORDER BY path")
        kinds = {r["path"]: (r["stage"], r["kind"]) for r in rows}
        want = {"broken.tif": ("parse", "bad_ifd"), "empty.tiff": ("parse", None),
                "dangling.tif": ("list", "not_found"), "sub/loop/": ("list", "symlink_loop")}
        for k, (stage, kind) in want.items():
            if k not in kinds or kinds[k][0] != stage or (kind and kinds[k][1] != kind):
                L.fail(f"error row for {k}: {kinds.get(k)}, want {stage}/{kind}; all: {rows}")
        for r in rows:
            if r["path"] not in r["message"]:
                L.fail(f"message does not name the object: {r}")
        heads, = L.duckdb(node_dir, f"SELECT count(*) AS n FROM read_parquet('{out}/*.parquet')")
        if heads[0]["n"] != 2:
            L.fail(f"header rows: {heads}")
        print(f"ok ({checks} command checks)")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
