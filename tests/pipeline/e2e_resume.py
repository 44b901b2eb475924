"""--resume after SIGKILL: `tiff-dumper headers` over 20,000 keys of a local folder (one in
20 not a TIFF, so both tables get rows, 500 rows per part) is killed with SIGKILL at a
random moment, then continued with `--resume`, which is itself killed at random moments
now and then, until a `--resume` completes. Every trial (TRIALS of them) must end with:
  - _SUCCESS, exit status 1 (completed, some objects failed: the non-TIFFs);
  - every key exactly once over the headers and errors tables (DuckDB: the set of paths
    equals the folder's keys, no path twice), and no temporary file left;
  - _SUCCESS's listed / dumped / failed / file counts equal to those of an uninterrupted run.
Kill moments are uniform over 70 % of one clean run's duration (measured first); the seed is
printed (TD_RESUME_SEED=N repeats a run).
Then SHARD_TRIALS trials of 2 shards (--shard I/2) into one OUT_DIR, each shard killed and
resumed the same way (a resumed shard keeps only its own parts), ending with the dataset's
_SUCCESS and the same checks (no `interrupted` row either: e2e_resume_interrupted.py
shows they are retried). A shard's parts of another split (1/3) are not continued as
shard 1/2's.
usage: e2e_resume.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

from tdtest import e2e_lib as L
from tdtest.make_keys import make_keys

N_KEYS = 20000
BAD_EVERY = 20
TRIALS = 10
SHARD_TRIALS = 2


def run(exe, cfg, out, resume, kill_after=None, extra=(), sig=signal.SIGKILL):
    """Exit status, or None when killed."""
    args = [exe, "headers", cfg, out, "--quiet"] + (["--resume"] if resume else []) + list(extra)
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is not None:
        time.sleep(kill_after)
        if p.poll() is None:
            p.send_signal(sig)
            p.wait(timeout=30)
            # 3: stopped cleanly; -sig: the signal came before the handler was installed
            if sig == signal.SIGKILL or p.returncode in (3, -sig):
                return None
    _, err = p.communicate(timeout=180)
    if p.returncode not in (0, 1):
        L.fail(f"{args}: exit status {p.returncode}: {err.decode()[-2000:]}")
    return p.returncode


def check(node_dir, out, want_keys, ref, label):
    if not os.path.exists(os.path.join(out, "_SUCCESS")):
        L.fail(f"{label}: no _SUCCESS")
    tmps = glob.glob(os.path.join(out, ".*.tmp")) + glob.glob(os.path.join(out, "_errors", ".*.tmp"))
    if tmps:
        L.fail(f"{label}: temporary files left: {tmps}")
    q = (f"SELECT coalesce(decode(path_bytes), path) AS k, count(*) AS n FROM ("
         f"SELECT path, path_bytes FROM read_parquet('{out}/part-*.parquet') UNION ALL "
         f"SELECT path, path_bytes FROM read_parquet('{out}/_errors/part-*.parquet')) "
         f"GROUP BY ALL HAVING count(*) > 1 LIMIT 5",
         f"SELECT count(*) AS n, count(DISTINCT path) AS d FROM ("
         f"SELECT path FROM read_parquet('{out}/part-*.parquet') UNION ALL "
         f"SELECT path FROM read_parquet('{out}/_errors/part-*.parquet'))",
         f"SELECT path FROM read_parquet('{out}/_errors/part-*.parquet') ORDER BY path",
         f"SELECT count(*) AS n FROM read_parquet('{out}/_errors/part-*.parquet') "
         f"WHERE kind = 'interrupted'")
    dups, counts, errs, intr = L.duckdb(node_dir, *q)
    if int(intr[0]["n"]):
        L.fail(f"{label}: {intr[0]['n']} rows of kind interrupted left")
    if dups:
        L.fail(f"{label}: keys written more than once: {dups}")
    n, d = int(counts[0]["n"]), int(counts[0]["d"])
    if n != want_keys or d != want_keys:
        L.fail(f"{label}: {n} rows, {d} distinct paths; want {want_keys} keys once each")
    bad = [r["path"] for r in errs]
    if len(bad) != len(range(7, N_KEYS, BAD_EVERY)) or any(
            int(b.rsplit("k", 1)[1][:7]) % BAD_EVERY != 7 for b in bad):
        L.fail(f"{label}: the errors table is not the non-TIFF keys: {bad[:5]}...")
    s = json.load(open(os.path.join(out, "_SUCCESS")))
    for k in ("listed", "skipped", "dumped", "failed"):
        if s[k] != ref[k]:
            L.fail(f"{label}: _SUCCESS {k} = {s[k]}, an uninterrupted run says {ref[k]}")


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    exe = os.path.abspath(exe)
    seed = int(os.environ.get("TD_RESUME_SEED", time.time_ns() % 1000000))
    rng = random.Random(seed)
    print(f"seed {seed} (TD_RESUME_SEED={seed} repeats these kill moments)")
    tmp = L.tempdir("resume")
    deadline = time.monotonic() + 240
    try:
        root = os.path.join(tmp, "store")
        make_keys(corpus, root, N_KEYS)
        for i in range(7, N_KEYS, BAD_EVERY):  # not TIFFs: error rows
            p = os.path.join(root, f"d{i // 1000:04d}", f"k{i:07d}.tif")
            os.unlink(p)
            with open(p, "wb") as f:
                f.write(b"not a tiff at all")
        cfg = os.path.join(tmp, "c.yaml")
        L.write_config(cfg, root, concurrency={"n_consumers": 16, "list_chunk_size": 200,
                                          "max_buffer_size": 1000, "write_chunk_size": 500},
                       output={"row_group_size": 100})
        out = os.path.join(tmp, "out")
        t0 = time.monotonic()
        run(exe, cfg, out, False)
        took = time.monotonic() - t0
        ref = json.load(open(os.path.join(out, "_SUCCESS")))
        check(node_dir, out, N_KEYS, ref, "uninterrupted run")
        print(f"uninterrupted run: {took:.2f} s, {ref['header_files']} + {ref['error_files']} "
              f"files")
        kills = 0
        for trial in range(TRIALS):
            if time.monotonic() > deadline:
                L.fail(f"only {trial} trials in the time allowed")
            L.rmtree(out)
            label = f"trial {trial + 1}"
            steps = []
            resume = False
            while True:
                # a first kill always; then each --resume is killed too with chance 1/3
                if not resume or (rng.random() < 1 / 3 and len(steps) < 4):
                    delay = rng.uniform(0.0, took * 0.7)  # warm runs are faster
                    rc = run(exe, cfg, out, resume, kill_after=delay)
                    steps.append(f"{'resume ' if resume else ''}killed at {delay:.2f} s"
                                 if rc is None else f"{'resume ' if resume else ''}completed")
                    kills += rc is None
                else:
                    rc = run(exe, cfg, out, resume)
                    steps.append("resume completed" if resume else "completed")
                if rc is not None and resume:
                    break
                resume = True  # also after a first run that finished before its kill
            check(node_dir, out, N_KEYS, ref, label)
            print(f"{label}: {', '.join(steps)}: every key once, _SUCCESS as uninterrupted")
        print(f"{TRIALS} trials, {kills} kills: ok")

        def killed_then_resumed(extra, steps, sig=signal.SIGKILL):
            resume = False
            while True:
                if not resume or (rng.random() < 1 / 3 and len(steps) < 6):
                    delay = rng.uniform(0.0, took * 0.7)
                    rc = run(exe, cfg, out, resume, kill_after=delay, extra=extra, sig=sig)
                    steps.append(f"{' '.join(extra)}{' resume' if resume else ''} "
                                 f"{'stopped at %.2f s' % delay if rc is None else 'completed'}")
                else:
                    rc = run(exe, cfg, out, resume, extra=extra)
                    steps.append(f"{' '.join(extra)}{' resume' if resume else ''} completed")
                if rc is not None and resume:
                    return
                resume = True

        for trial in range(SHARD_TRIALS):
            if time.monotonic() > deadline:
                L.fail(f"only {trial} shard trials in the time allowed")
            L.rmtree(out)
            steps = []
            killed_then_resumed(["--shard", "0/2"], steps)
            killed_then_resumed(["--shard", "1/2"], steps)
            names = [os.path.basename(p) for p in glob.glob(os.path.join(out, "_SUCCESS*"))]
            if sorted(names) != ["_SUCCESS", "_SUCCESS.shard-0000-of-0002",
                                 "_SUCCESS.shard-0001-of-0002"]:
                L.fail(f"shard trial {trial + 1}: {names}")
            check(node_dir, out, N_KEYS, ref, f"shard trial {trial + 1}")
            print(f"shard trial {trial + 1}: {', '.join(steps)}: every key once, _SUCCESS")
        # a shard's parts of another split (1/3) are not continued as shard 1/2's
        L.rmtree(out)
        run(exe, cfg, out, False, extra=["--shard", "1/3"])
        p = subprocess.run([exe, "headers", cfg, out, "--quiet", "--resume", "--shard", "1/2"],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 3 or "another shard split" not in p.stderr:
            L.fail(f"--resume --shard 1/2 over parts of shard 1/3: exit {p.returncode}: "
                   f"{p.stderr}")
        print("--resume over another split's parts is refused: " + p.stderr.strip())
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
