"""Bounded memory with a key list: peak RSS of `tiff-dumper headers` over a gzip key list of
200,000 lines (a few small corpus TIFFs repeated, read from stdin) stays within 1 MiB of a
run over 20,000 lines with the same config (the lower of two runs each; 20,000 is enough to
fill the key queue and the writer's buffers, so the rest must be flat): the list is read page
by page, never whole.
Not a timing test. Labelled nosan: sanitizer allocators make RSS meaningless. Both runs use
one glibc malloc arena: otherwise each thread that happens to allocate while another holds
the main arena gets an arena of its own (~1 MiB touched), which of libuv's pool threads do
so depends on timing, and a longer run meets more such chances (a CI run once measured
+1.4 MiB that way, none of it from the key list).
usage: keys_from_memory.py TIFF_DUMPER CORPUS_DIR"""
import gzip
import json
import os
import subprocess
import sys

from tdtest import e2e_lib as L
from tdtest.make_keys import pick_sources

LIMIT_KIB = 1024
SMALL = 20000
BIG = 200000


def peak_rss_kib(exe, cfg, out, list_path):
    with open(list_path, "rb") as stdin:
        env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.arena_max=1")
        p = subprocess.Popen([exe, "headers", cfg, out, "--quiet"], stdin=stdin,
                             stderr=subprocess.PIPE, env=env)
        err = p.stderr.read().decode()
        _, status, ru = os.wait4(p.pid, 0)
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        L.fail(f"exit status {code}: {err}")
    return ru.ru_maxrss  # KiB on Linux


def main():
    exe, corpus = sys.argv[1:3]
    exe = os.path.abspath(exe)
    corpus = os.path.abspath(corpus)
    keys = [os.path.relpath(s, corpus) for s in pick_sources(corpus)]
    tmp = L.tempdir("keysmem")
    try:
        conf = dict(concurrency={"n_consumers": 64, "list_chunk_size": 1000,
                                 "max_buffer_size": 10000, "write_chunk_size": 10000},
                    output={"row_group_size": 1000})
        cfg = os.path.join(tmp, "c.yaml")
        L.write_config(cfg, corpus, **conf)
        text = open(cfg).read().replace("\nconcurrency:", '\n  keys_from: "-"\nconcurrency:', 1)
        with open(cfg, "w") as f:
            f.write(text)
        res = {}
        for n in (SMALL, BIG):
            lst = os.path.join(tmp, f"keys{n}.gz")
            with gzip.open(lst, "wt", compresslevel=1) as f:
                for i in range(n):
                    f.write(keys[i % len(keys)] + "\n")
            # the lower of two runs: one run's peak can sit a few hundred KiB above another's
            # (where the heap happened to split), growth with the keys shows in both
            res[n] = None
            for run in range(2):
                out = os.path.join(tmp, f"out{n}-{run}")
                rss = peak_rss_kib(exe, cfg, out, lst)
                res[n] = rss if res[n] is None else min(res[n], rss)
                with open(os.path.join(out, "_SUCCESS")) as f:
                    s = json.load(f)
                if s["dumped"] != n or s["listed"] != n:
                    L.fail(f"{n} keys: {s}")
                print(f"{n} keys: {s['elapsed_seconds']} s, {s['headers_per_second']} headers/s, "
                      f"peak RSS {rss} KiB")
                L.rmtree(out)
            os.unlink(lst)
        d = res[BIG] - res[SMALL]
        print(f"peak RSS: {SMALL:,} keys {res[SMALL]} KiB, {BIG:,} keys {res[BIG]} KiB, "
              f"difference {d} KiB (limit {LIMIT_KIB} KiB)")
        if d > LIMIT_KIB:
            L.fail("memory grows with the number of keys in the list")
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
