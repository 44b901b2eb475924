"""Bounded memory: peak RSS of `tiff-dumper headers` over 100,000 keys stays within a few
MiB of a run over 1,000 keys with the same config (the key queue, the fetch slots and one
row group are bounded by the config, never by the number of keys), with 4 fetch threads
(a fixed count: the default follows the machine's CPUs). Not a timing test.
Labelled nosan: sanitizer allocators make RSS meaningless.
usage: e2e_memory.py TIFF_DUMPER CORPUS_DIR"""
import os
import subprocess
import sys

from tdtest import e2e_lib as L
from tdtest.make_keys import make_keys

LIMIT_KIB = 4 * 1024


def peak_rss_kib(exe, cfg, out):
    p = subprocess.Popen([exe, "headers", cfg, out, "--quiet"], stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    err = p.stderr.read().decode()
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        L.fail(f"exit status {code}: {err}")
    return ru.ru_maxrss  # KiB on Linux


def main():
    exe, corpus = sys.argv[1:3]
    exe = os.path.abspath(exe)
    tmp = L.tempdir("memory")
    try:
        conf = dict(concurrency={"n_consumers": 64, "threads": 4, "list_chunk_size": 1000,
                                 "max_buffer_size": 10000, "write_chunk_size": 10000},
                    output={"row_group_size": 1000})
        res = {}
        for n in (1000, 100000):
            keys = os.path.join(tmp, f"keys{n}")
            make_keys(corpus, keys, n)
            cfg = os.path.join(tmp, f"c{n}.yaml")
            L.write_config(cfg, keys, **conf)
            out = os.path.join(tmp, f"out{n}")
            res[n] = peak_rss_kib(exe, cfg, out)
            got = L.run_tool(sys.executable, "-c",
                             f"import json;print(json.load(open('{out}/_SUCCESS'))['dumped'])")
            if int(got.stdout) != n:
                L.fail(f"{n} keys: dumped {got.stdout.strip()}")
            L.rmtree(keys)
            L.rmtree(keys + ".src")
            L.rmtree(out)
        d = res[100000] - res[1000]
        print(f"peak RSS: 1,000 keys {res[1000]} KiB, 100,000 keys {res[100000]} KiB, "
              f"difference {d} KiB (limit {LIMIT_KIB} KiB)")
        if d > LIMIT_KIB:
            L.fail("memory grows with the number of keys")
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
