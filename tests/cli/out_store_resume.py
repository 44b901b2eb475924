"""Shards, finish and --resume on an object-store OUT (issue 16 items 1-3), on s3rver,
azurite or the GCS emulator.

A local folder of N_KEYS keys (one in BAD_EVERY not a TIFF: error rows), small parts
(write_chunk_size 1000: 10 header parts per shard) so that many are uploaded:
  - `finish s3://...` (options with -o, or from --config) says exit 4 naming the missing
    shard while one is missing, and exit 0 once all are there; the shard that completes
    the set writes _SUCCESS itself;
  - trials (at least TRIALS_MIN, and until KILLS SIGKILLs have hit a running process):
    2 shards into s3://; shard 0 is killed with SIGKILL at a random moment
    (uploads in flight), then `--resume`d (itself killed now and then) until it completes;
    shard 1 runs whole or is killed and resumed too. Each trial must end with _SUCCESS,
    both markers, every key exactly once over headers + errors (DuckDB over the downloaded
    parts; each trial's parts are downloaded and all are queried in one DuckDB run at the
    end), the errors being the non-TIFF keys, _SUCCESS's counts equal to an uninterrupted
    sharded run's, and no object in OUT but parts, markers and _SUCCESS;
  - an unsharded run into s3:// killed and resumed, the same checks;
  - a resumed shard numbers its new parts after its old ones (no part is overwritten:
    every kept part's bytes are unchanged).
Every other trial sets TD_RESUME_WHOLE_MAX=0, so that the parts are read through the ranged
read-ahead windows (resume.h) rather than with one GET each.
Seed printed; TD_RESUME_SEED=N repeats a run.
usage: out_store_resume.py TIFF_DUMPER CORPUS_DIR NODE_DIR [s3|az|gcs]
(ctest runs all three: out_store_resume_s3rver, _azurite, _gcs)"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tdtest import e2e_lib as L  # noqa: E402
from tdtest.make_keys import make_keys  # noqa: E402
from tdtest.out_stores import obstore_config, option_args, out_store  # noqa: E402

N_KEYS = 20000
BAD_EVERY = 20
KILLS = 10  # SIGKILLs that hit a running process, at least (issue 16: ">= 10 times")
TRIALS_MIN, TRIALS_MAX = 4, 16  # sharded trials: half of them through the ranged windows
WHOLE = {}  # odd trials: TD_RESUME_WHOLE_MAX=0, every part read through ranged windows
OK_NAME = re.compile(r"^(_errors/)?part-(S\d{4}-)?\d{5}\.parquet$|^_SUCCESS(\.shard-\d{4}-of-\d{4})?$")


def run(s3, exe, cfg, url, args, kill_after=None):
    """Exit status, or None when killed."""
    a = [exe, "headers", cfg, url, "--quiet"] + args
    p = subprocess.Popen(a, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=dict(s3.env, **WHOLE))
    if kill_after is not None:
        time.sleep(kill_after)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
            return None
    _, err = p.communicate(timeout=120)
    if p.returncode not in (0, 1):
        L.fail(f"{a}: exit status {p.returncode}: {err.decode()[-2000:]}")
    return p.returncode


def killed_then_resumed(s3, exe, cfg, url, args, took, rng, steps):
    """One kill at a random moment, then --resume until one completes (a resume is killed
    too with chance 1/3, at most 3 times)."""
    resume = False
    while True:
        if not resume or (rng.random() < 1 / 3 and len(steps) < 4):
            delay = rng.uniform(0.0, took * 0.8)
            rc = run(s3, exe, cfg, url, args + (["--resume"] if resume else []), delay)
            steps.append(f"{'resume ' if resume else ''}"
                         f"{'killed at %.2f s' % delay if rc is None else 'completed'}")
        else:
            rc = run(s3, exe, cfg, url, args + ["--resume"])
            steps.append("resume completed")
        if rc is not None and resume:
            return
        resume = True


PENDING = []  # (label, folder): parts downloaded by check(), queried by DuckDB at the end


def check(node_dir, s3, run_name, tmp, ref, label, shards):
    """OUT's names, markers and _SUCCESS now; the parts are downloaded into a folder of their
    own and every key's count there is checked by duckdb_checks() (one DuckDB start for
    all trials instead of one per trial: it costs about a second each)."""
    objs = s3.objects(f"runs/{run_name}")
    bad = [k for k in objs if not OK_NAME.match(k)]
    if bad:
        L.fail(f"{label}: objects in OUT that are no output (temporaries?): {bad[:5]}")
    if "_SUCCESS" not in objs:
        L.fail(f"{label}: no _SUCCESS; OUT holds {sorted(k for k in objs if 'part' not in k)}")
    for i in range(shards):
        if f"_SUCCESS.shard-{i:04d}-of-{shards:04d}" not in objs:
            L.fail(f"{label}: no marker of shard {i}")
    local = os.path.join(tmp, "dl", str(len(PENDING)))
    os.makedirs(os.path.join(local, "_errors"))
    for k, v in objs.items():
        if k.endswith(".parquet"):
            with open(os.path.join(local, k), "wb") as f:
                f.write(v)
    PENDING.append((label, local))
    s = json.loads(objs["_SUCCESS"])
    for k in ("listed", "skipped", "dumped", "failed"):
        if s[k] != ref[k]:
            L.fail(f"{label}: _SUCCESS {k} = {s[k]}, an uninterrupted run says {ref[k]}")
    return objs


def duckdb_checks(node_dir):
    """Every key of every checked OUT exactly once over headers + errors, and the error
    rows exactly the non-TIFF keys."""
    qs = []
    for _, local in PENDING:
        qs += list(queries(local))
    res = L.duckdb(node_dir, *qs)
    for i, (label, _) in enumerate(PENDING):
        dups, counts, wrong = res[3 * i:3 * i + 3]
        if dups:
            L.fail(f"{label}: keys written more than once: {dups}")
        n, d = int(counts[0]["n"]), int(counts[0]["d"])
        if n != N_KEYS or d != N_KEYS:
            L.fail(f"{label}: {n} rows, {d} distinct paths; want {N_KEYS} keys once each")
        if int(wrong[0]["n"]):
            L.fail(f"{label}: {wrong[0]['n']} error rows that are not the non-TIFF keys")
    return len(PENDING)


def queries(local):
    return (f"SELECT path, count(*) AS n FROM ("
            f"SELECT path FROM read_parquet('{local}/part-*.parquet') UNION ALL "
            f"SELECT path FROM read_parquet('{local}/_errors/part-*.parquet')) "
            f"GROUP BY ALL HAVING count(*) > 1 LIMIT 5",
            f"SELECT count(*) AS n, count(DISTINCT path) AS d FROM ("
            f"SELECT path FROM read_parquet('{local}/part-*.parquet') UNION ALL "
            f"SELECT path FROM read_parquet('{local}/_errors/part-*.parquet'))",
            f"SELECT count(*) AS n FROM read_parquet('{local}/_errors/part-*.parquet') "
            f"WHERE NOT regexp_matches(path, 'k[0-9]*(07|27|47|67|87)\\.tif$')")


def finish(s3, exe, url, *extra):
    a = [exe, "finish", url] + option_args(s3.opts, "-o")
    return subprocess.run(a + list(extra), capture_output=True, text=True, env=s3.env,
                          timeout=60)


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    kind = sys.argv[4] if len(sys.argv) > 4 else "s3"
    exe = os.path.abspath(exe)
    seed = int(os.environ.get("TD_RESUME_SEED", time.time_ns() % 1000000))
    rng = random.Random(seed)
    print(f"seed {seed} (TD_RESUME_SEED={seed} repeats these kill moments)")
    tmp = L.tempdir("out_resume")
    t_start = time.monotonic()
    deadline = t_start + 200
    s3 = None
    try:
        root = os.path.join(tmp, "store")
        make_keys(corpus, root, N_KEYS)
        for i in range(7, N_KEYS, BAD_EVERY):
            p = os.path.join(root, f"d{i // 1000:04d}", f"k{i:07d}.tif")
            os.unlink(p)
            with open(p, "wb") as f:
                f.write(b"not a tiff at all")
        s3 = out_store(kind, node_dir, tmp)
        cfg = os.path.join(tmp, "c.yaml")
        L.write_config(cfg, root, concurrency={"n_consumers": 16, "list_chunk_size": 200,
                                               "max_buffer_size": 1000, "write_chunk_size": 1000,
                                               "threads": 2},
                       output={"row_group_size": 200})
        with open(cfg, "a") as f:
            f.write(obstore_config(s3.opts))
        url = s3.url("runs/a")

        # -- an uninterrupted sharded run; finish before and after the last shard
        t0 = time.monotonic()
        run(s3, exe, cfg, url, ["--shard", "0/2"])
        took = time.monotonic() - t0
        r = finish(s3, exe, url)
        if r.returncode != 4 or "missing shard 1" not in r.stderr:
            L.fail(f"finish with shard 1 missing: exit {r.returncode}: {r.stderr}")
        if "_SUCCESS" in s3.objects("runs/a"):
            L.fail("_SUCCESS written while shard 1 is missing")
        run(s3, exe, cfg, url, ["--shard", "1/2"])
        objs = s3.objects("runs/a")
        if "_SUCCESS" not in objs:
            L.fail("the shard that completed the set did not write _SUCCESS")
        ref = json.loads(objs["_SUCCESS"])
        if ref.get("shards") != 2:
            L.fail(f"_SUCCESS: {ref}")
        first = objs["_SUCCESS"]
        r = finish(s3, exe, url, "--shards", "2")
        if r.returncode != 0 or s3.objects("runs/a")["_SUCCESS"] != first:
            L.fail(f"finish on a complete s3:// OUT: exit {r.returncode}: {r.stderr}")
        r = subprocess.run([exe, "finish", url, "--config", cfg], capture_output=True, text=True,
                           env=s3.env, timeout=60)
        if r.returncode != 0:
            L.fail(f"finish --config: exit {r.returncode}: {r.stderr}")
        check(node_dir, s3, "a", tmp, ref, "uninterrupted shards", 2)
        print(f"uninterrupted shard 0: {took:.2f} s; {ref['header_files']} + "
              f"{ref['error_files']} parts in all; finish ok (exit 4, then 0)")

        # -- a resumed shard keeps its parts byte for byte and numbers new ones after them
        s3.clear("runs/a")
        run(s3, exe, cfg, url, ["--shard", "1/2"])
        before = {k: v for k, v in s3.objects("runs/a").items() if k.endswith(".parquet")}
        run(s3, exe, cfg, url, ["--shard", "1/2", "--resume"])
        after = s3.objects("runs/a")
        changed = [k for k in before if after.get(k) != before[k]]
        if changed:
            L.fail(f"--resume of a complete shard changed kept parts: {changed[:3]}")
        if "_SUCCESS.shard-0001-of-0002" not in after or "_SUCCESS" in after:
            L.fail(f"resumed shard 1 alone: {sorted(k for k in after if 'SUCCESS' in k)}")
        new = [k for k in after if k.endswith(".parquet") and k not in before]
        if len(new) != 2:  # one empty part per table: nothing was left to do
            L.fail(f"resume of a complete shard wrote {new}, want one empty part per table")
        print(f"resume of a complete shard: kept {len(before)} parts unchanged, new {new}")

        # -- kill -9 and resume, sharded: trials until KILLS kills (a kill that came after
        # the run had ended is none), and at least TRIALS_MIN trials
        kills = trial = 0
        while trial < TRIALS_MIN or kills < KILLS:
            if time.monotonic() > deadline or trial == TRIALS_MAX:
                L.fail(f"only {kills} kills in {trial} trials in the time allowed")
            s3.clear("runs/a")
            steps = []
            WHOLE.clear()
            if trial % 2:
                WHOLE["TD_RESUME_WHOLE_MAX"] = "0"
            killed_then_resumed(s3, exe, cfg, url, ["--shard", "0/2"], took, rng, steps)
            if rng.random() < 0.5:
                killed_then_resumed(s3, exe, cfg, url, ["--shard", "1/2"], took, rng, steps)
            else:
                run(s3, exe, cfg, url, ["--shard", "1/2"])
                steps.append("shard 1 completed")
            kills += sum("killed" in s for s in steps)
            check(node_dir, s3, "a", tmp, ref, f"trial {trial + 1}", 2)
            print(f"trial {trial + 1}{' (ranged windows)' if WHOLE else ''}: {', '.join(steps)}: "
                  f"_SUCCESS")
            trial += 1
        WHOLE.clear()

        # -- kill -9 and resume, unsharded
        s3.clear("runs/a")
        run(s3, exe, cfg, url, ["--no-shard"])
        uref = json.loads(s3.objects("runs/a")["_SUCCESS"])
        s3.clear("runs/a")
        steps = []
        killed_then_resumed(s3, exe, cfg, url, ["--no-shard"], took * 1.5, rng, steps)
        kills += sum("killed" in s for s in steps)
        objs = s3.objects("runs/a")
        if any(k.startswith("_SUCCESS.") for k in objs):
            L.fail("an unsharded run left shard markers")
        check(node_dir, s3, "a", tmp, uref, "unsharded", 0)
        print(f"unsharded: {', '.join(steps)}: _SUCCESS")
        n = duckdb_checks(node_dir)
        print(f"{trial + 1} trials, {kills} kills; every key once in all {n} OUTs checked "
              f"(DuckDB): ok ({time.monotonic() - t_start:.0f} s)")
    finally:
        if s3:
            s3.stop()
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
