"""kill -9 loop: `tiff-dumper headers` over a few thousand keys (a key list over the corpus
with some missing keys, so both tables get rows) is killed with SIGKILL at random moments,
again and again into the same OUT_DIR, as a crashing machine or an OOM killer would. After
each kill:
  - every visible part-*.parquet, headers and errors alike, is read whole by DuckDB, and the
    rows read equal the row count its footer states (never a partial file under a final name);
  - there is no _SUCCESS, unless the kill came before the run touched OUT_DIR: then the
    previous completed run's files are all still there, unchanged;
  - no file but the tool's own names, and at most one temporary part file per table.
A final clean run into the same folder then writes _SUCCESS, replaces everything the killed
runs left (temporary files included) and accounts for every key exactly once.

Kill moments are uniform over one clean run's duration (measured first), so they land in
startup, listing, fetching, writing and renaming alike; the random seed is printed
(TD_KILL_SEED=N reproduces a run). Bounded: at most 4 * KILLS attempts.
usage: e2e_kill_loop.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import glob
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

from tdtest import e2e_lib as L
from tdtest.make_keys import pick_sources

HERE = os.path.dirname(os.path.abspath(__file__))

N_KEYS = 3000
MISSING_EVERY = 20  # one key in 20 does not exist: error rows
CHUNK = 100         # rows per part file: many renames per run
KILLS = 12
OWN = re.compile(r"^(_SUCCESS|\._SUCCESS\.tmp|part-\d+\.parquet|\.part-\d+\.parquet\.tmp|_errors)$")


def write_keys(corpus, path):
    srcs = [os.path.relpath(s, corpus) for s in pick_sources(corpus, 8)]
    n_tiff = 0
    with open(path, "w") as f:
        for i in range(N_KEYS):
            if i % MISSING_EVERY == 7:
                f.write(f"missing/k{i:05d}.tif\n")
            else:
                f.write(srcs[i % len(srcs)] + "\n")
            n_tiff += 1
    return n_tiff


def visible_parts(out):
    return sorted(glob.glob(os.path.join(out, "part-*.parquet")) +
                  glob.glob(os.path.join(out, "_errors", "part-*.parquet")))


def snapshot(out):
    """The completed run's files: path -> (inode, size, mtime)."""
    snap = {}
    for p in visible_parts(out) + [os.path.join(out, "_SUCCESS")]:
        st = os.stat(p)
        snap[p] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return snap


def check_names(out, label):
    """Only the tool's names, and at most one temporary part per table: the one being
    written when the kill came (a run removes the temporary files of earlier ones)."""
    for d in (out, os.path.join(out, "_errors")):
        if not os.path.isdir(d):
            continue
        names = os.listdir(d)
        for name in names:
            if not OWN.match(name) or (name == "_errors" and d != out):
                L.fail(f"{label}: unexpected file {os.path.join(d, name)}")
        tmps = [n for n in names if n.endswith(".parquet.tmp")]
        if len(tmps) > 1:
            L.fail(f"{label}: {len(tmps)} temporary part files in {d}: {sorted(tmps)}")


def check_parts(node_dir, parts, label):
    """Each file read whole (every value of path decoded) and its rows = its footer's."""
    if not parts:
        return 0
    def queries(files):
        lst = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in files) + "]"
        return (f"SELECT filename AS f, count(*) AS n, count(path) AS np, "
                f"sum(length(path)) AS chars "
                f"FROM read_parquet({lst}, filename=true, union_by_name=true) GROUP BY filename",
                f"SELECT file_name AS f, num_rows AS n FROM parquet_file_metadata({lst})")

    def run(files):
        """(None, [rows of each query]) or (DuckDB's error, None)."""
        p = subprocess.run(["node", os.path.join(HERE, "..", "cli", "e2e_duckdb.mjs"), node_dir,
                            *queries(files)], capture_output=True, text=True)
        if p.returncode != 0:
            why = [ln for ln in p.stderr.splitlines() if "Error" in ln]
            return (why[0].strip() if why else p.stderr.strip()[-300:]), None
        out, cur = [], []
        for line in p.stdout.splitlines():
            if line == "--":
                out.append(cur)
                cur = []
            else:
                cur.append(json.loads(line))
        return None, out + [cur]

    why, res = run(parts)
    if why:  # name the first broken file, with DuckDB's reason
        for f in parts:
            why1, _ = run([f])
            if why1:
                L.fail(f"{label}: the visible part file {f} is not readable: {why1}")
        L.fail(f"{label}: DuckDB cannot read the part files together: {why}")
    read, meta = res
    got = {r["f"]: r for r in read}
    total = 0
    for m in meta:
        r = got.get(m["f"])
        want = int(m["n"])
        n = int(r["n"]) if r else 0
        if n != want or (r and int(r["np"]) != want):
            L.fail(f"{label}: {m['f']} has {n} rows readable, its footer says {want}")
        if want > CHUNK:
            L.fail(f"{label}: {m['f']} has {want} rows, more than write_chunk_size {CHUNK}")
        total += want
    if len(meta) != len(parts):
        L.fail(f"{label}: DuckDB saw {len(meta)} of {len(parts)} files")
    return total


def clean_run(exe, cfg, out, node_dir, n_keys, label):
    t0 = time.monotonic()
    p = subprocess.run([exe, "headers", cfg, out, "--quiet"], capture_output=True, text=True,
                       timeout=120)
    took = time.monotonic() - t0
    if p.returncode != 1:  # 1: completed, some objects failed (the missing keys)
        L.fail(f"{label}: exit status {p.returncode}, want 1; stderr: {p.stderr[-2000:]}")
    succ = os.path.join(out, "_SUCCESS")
    if not os.path.exists(succ):
        L.fail(f"{label}: no _SUCCESS")
    s = json.load(open(succ))
    check_names(out, label)
    tmps = glob.glob(os.path.join(out, ".*.tmp")) + glob.glob(os.path.join(out, "_errors", ".*.tmp"))
    if tmps:
        L.fail(f"{label}: temporary files left after a completed run: {tmps}")
    rows = check_parts(node_dir, visible_parts(out), label)
    missing = len(range(7, N_KEYS, MISSING_EVERY))
    if rows != n_keys or s["dumped"] != n_keys - missing or s["failed"] != missing:
        L.fail(f"{label}: {rows} rows, _SUCCESS dumped {s['dumped']} failed {s['failed']}; "
               f"want {n_keys} rows, {n_keys - missing} + {missing}")
    print(f"{label}: _SUCCESS, {rows} rows in {len(visible_parts(out))} files, {took:.2f} s")
    return took


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    exe = os.path.abspath(exe)
    seed = int(os.environ.get("TD_KILL_SEED", time.time_ns() % 1000000))
    rng = random.Random(seed)
    print(f"seed {seed} (TD_KILL_SEED={seed} repeats these kill moments)")
    tmp = L.tempdir("killloop")
    deadline = time.monotonic() + 240  # far above the expected ~30 s: a hang fails, not waits
    try:
        keys = os.path.join(tmp, "keys.txt")
        n_keys = write_keys(corpus, keys)
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write(f"store:\n  name: {json.dumps(os.path.abspath(corpus))}\n"
                    f"  keys_from: {json.dumps(keys)}\n"
                    f"concurrency:\n  n_consumers: 8\n  list_chunk_size: 50\n"
                    f"  max_buffer_size: 200\n  write_chunk_size: {CHUNK}\n"
                    f"output:\n  row_group_size: 25\n")
        out = os.path.join(tmp, "out")

        took = clean_run(exe, cfg, out, node_dir, n_keys, "first clean run")
        snap = snapshot(out)
        kills = attempts = untouched = 0
        while kills < KILLS:
            attempts += 1
            if attempts > 4 * KILLS or time.monotonic() > deadline:
                L.fail(f"only {kills} kills in {attempts - 1} attempts")
            delay = rng.uniform(0.0, took)
            p = subprocess.Popen([exe, "headers", cfg, out, "--quiet"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            if p.poll() is not None:  # finished first: a completed run, not a kill
                p.wait()
                snap = snapshot(out)
                took = min(took, delay * 0.9)  # warm runs are faster than the first
                continue
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
            kills += 1
            label = f"kill {kills} at {delay:.3f} s"
            check_names(out, label)
            if os.path.exists(os.path.join(out, "_SUCCESS")):
                if snapshot(out) == snap:
                    # killed before the run touched OUT_DIR: the completed run is intact
                    untouched += 1
                    print(f"{label}: before any change, the completed run is intact")
                    continue
                # killed after it wrote _SUCCESS (on its way out, before poll() saw it
                # end): then it is a completed run, whole, and no temporary file is left
                rows = check_parts(node_dir, visible_parts(out), label)
                tmps = (glob.glob(os.path.join(out, ".*.tmp")) +
                        glob.glob(os.path.join(out, "_errors", ".*.tmp")))
                if rows != n_keys or tmps:
                    L.fail(f"{label}: _SUCCESS beside files that are not its run's "
                           f"({rows} rows of {n_keys}, temporary files {tmps})")
                snap = snapshot(out)
                print(f"{label}: after _SUCCESS was written: a completed run, {rows} rows")
                continue
            parts = visible_parts(out)
            rows = check_parts(node_dir, parts, label)
            print(f"{label}: {len(parts)} visible part files, {rows} rows, all complete")
        print(f"{kills} kills ({untouched} before any change) in {attempts} attempts")
        clean_run(exe, cfg, out, node_dir, n_keys, "final clean run")
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
