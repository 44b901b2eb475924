"""Kill test: interrupt `tiff-dumper headers` mid-run, with SIGINT (clean stop: exit
status 3, the part files finished, the last one holding the rows so far, no temporary
file; with one fetch thread and with four) and once with SIGKILL. Either way every part-*.parquet
left is complete and readable by DuckDB, no key is in two files, and _SUCCESS is absent.
The signal is sent once two part files exist (a bounded poll on the directory, no timing
assertion). usage: e2e_kill.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import glob
import os
import signal
import subprocess
import sys
import time

from tdtest import e2e_lib as L
from tdtest.make_keys import make_keys

N_KEYS = 50000
CHUNK = 500


def run_and_kill(exe, cfg, out, sig):
    p = subprocess.Popen([exe, "headers", cfg, out, "--quiet"], stderr=subprocess.PIPE)
    for _ in range(20000):  # bounded: at most ~200 s of 10 ms polls
        if len(glob.glob(os.path.join(out, "part-*.parquet"))) >= 2 or p.poll() is not None:
            break
        time.sleep(0.01)
    if p.poll() is not None:
        L.fail(f"the run ended (status {p.returncode}) before it could be interrupted")
    p.send_signal(sig)
    _, err = p.communicate()
    return p.returncode, err.decode()


def check_outputs(node_dir, out, label, last_partial=False):
    if os.path.exists(os.path.join(out, "_SUCCESS")):
        L.fail(f"{label}: _SUCCESS exists after an interrupted run")
    parts = sorted(glob.glob(os.path.join(out, "part-*.parquet")))
    if not parts:
        L.fail(f"{label}: no complete part file")
    rows, = L.duckdb(node_dir,
                     f"SELECT filename AS f, count(*) AS n, count(DISTINCT path) AS d, "
                     f"min(image_width) AS w FROM read_parquet('{out}/part-*.parquet', "
                     f"filename=true) GROUP BY filename ORDER BY filename")
    total = 0
    for i, r in enumerate(rows):
        # a clean stop finishes the last part with the rows it had (fewer than CHUNK)
        partial_ok = last_partial and i == len(rows) - 1 and 0 < r["n"] <= CHUNK
        if not partial_ok and (r["n"] != CHUNK or r["d"] != CHUNK) or r["d"] != r["n"] \
                or r["w"] is None:
            L.fail(f"{label}: {r['f']} has {r['n']} rows ({r['d']} distinct), want {CHUNK}")
        total += r["n"]
    dup, = L.duckdb(node_dir, f"SELECT count(*) - count(DISTINCT path) AS dup "
                              f"FROM read_parquet('{out}/part-*.parquet')")
    if dup[0]["dup"] != 0:
        L.fail(f"{label}: keys written twice")
    if len(rows) != len(parts):
        L.fail(f"{label}: DuckDB read {len(rows)} of {len(parts)} files")
    print(f"{label}: {len(parts)} complete part files, {total} rows, all readable")
    return parts


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    exe = os.path.abspath(exe)
    tmp = L.tempdir("kill")
    try:
        keys = os.path.join(tmp, "keys")
        make_keys(corpus, keys, N_KEYS)
        for threads in (1, 4):
            cfg = os.path.join(tmp, f"c{threads}.yaml")
            L.write_config(cfg, keys,
                           concurrency={"n_consumers": 8, "threads": threads,
                                        "list_chunk_size": 100, "max_buffer_size": 500,
                                        "write_chunk_size": CHUNK},
                           output={"row_group_size": 100})
            label = f"SIGINT, {threads} threads"
            out = os.path.join(tmp, f"out_int{threads}")
            code, err = run_and_kill(exe, cfg, out, signal.SIGINT)
            if code != 3:
                L.fail(f"{label}: exit status {code}, want 3; stderr: {err}")
            if "interrupt" not in err:
                L.fail(f"{label}: no message saying so: {err}")
            check_outputs(node_dir, out, label, last_partial=True)
            tmps = glob.glob(os.path.join(out, "**", ".*.tmp"), recursive=True)
            if tmps:
                L.fail(f"{label}: temporary files left: {tmps}")

        out = os.path.join(tmp, "out_kill")
        code, err = run_and_kill(exe, cfg, out, signal.SIGKILL)
        if code != -signal.SIGKILL:
            L.fail(f"SIGKILL: exit status {code}")
        check_outputs(node_dir, out, "SIGKILL")
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
