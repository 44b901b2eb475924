"""Shards (issue 16 item 1): N runs into one OUT_DIR make one dataset.

- 3 shards of the corpus (--shard I/3) into one local OUT_DIR give exactly the rows of one
  unsharded run (DuckDB over part-*.parquet and _errors/), each path once; their part names
  never collide and each shard's files carry its number; the markers' counts add up.
- `finish` refuses (exit 4, naming the missing shard) while a shard is missing; the shard
  that completes the set writes _SUCCESS itself; `finish` writes the same bytes again.
- a key list (store.keys_from, bad lines included) split by Slurm variables (MIN 10) gives
  the unsharded key-list run's rows and counts.
- 8 `finish` processes at once (two shards completing the set together) leave one
  _SUCCESS of the same bytes and no temporary.
- rerunning one shard replaces only that shard's files (the others' stay, inode and all).
- `finish` refuses markers of different N, a part of an unsharded run, a non-sharded dir.
- the job engines' variables select the shard (Kubernetes, AWS Batch, Slurm with
  SLURM_ARRAY_TASK_MIN != 0 and a step), --shard wins over them, --no-shard ignores them,
  shards.count gives the count; bad values are refused with a message saying what to do.
usage: e2e_shards.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tdtest import e2e_lib as L  # noqa: E402

ENGINE_VARS = ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE",
               "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
               "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP"]
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        L.fail(what)


def clean_env(**kv):
    env = {k: v for k, v in os.environ.items() if k not in ENGINE_VARS}
    env.update({k: str(v) for k, v in kv.items()})
    return env


def files(out):
    got = {}
    for sub in ("", "_errors"):
        d = os.path.join(out, sub)
        for n in os.listdir(d):
            p = os.path.join(d, n)
            if os.path.isfile(p):
                got[os.path.join(sub, n)] = os.stat(p).st_ino
    return got


def summary(path):
    with open(path) as f:
        return json.load(f)


def sharded_runs(exe, node_dir, cfg, full, out):
    before = {}
    for i in range(3):
        p = L.run_tool(exe, "headers", cfg, out, "--shard", f"{i}/3", env=clean_env(), timeout=120)
        check(p.returncode in (0, 1), f"shard {i}: exit {p.returncode}: {p.stderr[-800:]}")
        check(f"shard {i} of 3 (from --shard {i}/3)" in p.stderr, f"shard {i} says its source: "
              f"{p.stderr[:300]}")
        now = files(out)
        new = sorted(set(now) - set(before))
        # every new file is this shard's: its marker, its parts (headers and errors)
        for n in new:
            base = os.path.basename(n)
            check(base == f"_SUCCESS.shard-{i:04d}-of-0003" or base.startswith(f"part-S{i:04d}-")
                  or (i == 2 and base == "_SUCCESS"), f"shard {i} wrote {n}")
        check(set(before) <= set(now), f"shard {i} removed another shard's file")
        before = now
        if i < 2:
            check(not os.path.exists(os.path.join(out, "_SUCCESS")), "_SUCCESS before the last shard")
            f = L.run_tool(exe, "finish", out, timeout=60)
            check(f.returncode == 4, f"finish with shards missing: exit {f.returncode}")
            missing = ", ".join(str(j) for j in range(i + 1, 3))
            check(f"missing shard{'s' if i == 0 else ''} {missing}" in f.stderr,
                  f"finish names the missing shards: {f.stderr}")
            check(not os.path.exists(os.path.join(out, "_SUCCESS")), "finish wrote _SUCCESS anyway")
        else:
            check("every shard is done" in p.stderr, f"the last shard completes the set: {p.stderr}")
    auto = open(os.path.join(out, "_SUCCESS"), "rb").read()
    os.unlink(os.path.join(out, "_SUCCESS"))
    f = L.run_tool(exe, "finish", out, "--shards", "3", timeout=60)
    check(f.returncode == 0 and "all 3 shards done" in f.stdout, f"finish: {f.returncode} {f.stderr}")
    check(open(os.path.join(out, "_SUCCESS"), "rb").read() == auto,
          "finish and the last shard wrote different _SUCCESS")
    # the race of two shards completing the set at once: many writers of _SUCCESS at the
    # same moment all succeed, leave one whole copy of the same bytes and no temporary
    import subprocess
    procs = [subprocess.Popen([exe, "finish", out, "-q"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(8)]
    rcs = [p.wait(timeout=60) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    check(rcs == [0] * 8, f"concurrent finish: {rcs}")
    check(open(os.path.join(out, "_SUCCESS"), "rb").read() == auto, "concurrent finish: other bytes")
    check(not [n for n in os.listdir(out) if n.startswith(".")], f"temporaries left: {os.listdir(out)}")
    # the same rows as the unsharded run, each path once
    L.same_rows(node_dir, full, out, names=("unsharded", "3 shards"))
    dup, = L.duckdb(node_dir, f"SELECT count(*) AS n, count(DISTINCT path) AS d FROM "
                              f"read_parquet('{out}/part-*.parquet')")
    check(dup[0]["n"] == dup[0]["d"], f"a path twice: {dup}")
    a, b = summary(os.path.join(full, "_SUCCESS")), summary(os.path.join(out, "_SUCCESS"))
    for k in ("listed", "skipped", "dumped", "failed", "bytes_fetched", "store", "config"):
        check(a[k] == b[k], f"_SUCCESS {k}: unsharded {a[k]} vs shards {b[k]}")
    check(b["shards"] == 3 and b["header_files"] == 3, f"_SUCCESS: {b}")
    check(f.stderr == "", f"finish printed on stderr: {f.stderr}")
    f = L.run_tool(exe, "finish", out, "--shards", "4", timeout=60)
    check(f.returncode == 3 and "none of 4 shards"
          in f.stderr, f"finish --shards 4: {f.stderr}")
    print(f"3 shards: {b['dumped']} headers, {b['failed']} errors, the unsharded run's rows; "
          f"finish refuses while shards are missing")

    # rerunning shard 1 replaces its own files only
    keep = {n: ino for n, ino in files(out).items() if "S0001" not in n and "shard-0001" not in n
            and n != "_SUCCESS"}
    p = L.run_tool(exe, "headers", cfg, out, "--shard", "1/3", "-q", env=clean_env(), timeout=120)
    check(p.returncode in (0, 1) and p.stderr == "", f"rerun shard 1: {p.returncode} {p.stderr}")
    now = files(out)
    for n, ino in keep.items():
        check(now.get(n) == ino, f"rerunning shard 1 touched {n}")
    check("_SUCCESS" in now, "the rerun shard completed the set again")
    L.same_rows(node_dir, full, out, names=("unsharded", "3 shards, shard 1 rerun"))
    return out


def key_list(exe, node_dir, corpus, tmp):
    """store.keys_from: the same partition over key-list lines, bad lines included."""
    keys = []
    for d, _, fs in os.walk(corpus):
        for f in fs:
            keys.append(os.path.relpath(os.path.join(d, f), corpus))
    keys = sorted(keys)[::4]
    lst = os.path.join(tmp, "keys.txt")
    with open(lst, "w") as f:
        f.write("\n".join(keys + ["s3://elsewhere/a.tif", "gs://other/b.tif", "missing/c.tif"]) + "\n")
    cfg = os.path.join(tmp, "k.yaml")
    with open(cfg, "w") as f:
        f.write(f"store:\n  name: {json.dumps(corpus)}\n  keys_from: {json.dumps(lst)}\n")
    full, out = os.path.join(tmp, "kfull"), os.path.join(tmp, "kshards")
    p = L.run_tool(exe, "headers", cfg, full, "-q", env=clean_env(), timeout=120)
    check(p.returncode == 1, f"key list run: {p.returncode} {p.stderr}")
    for i in range(3):
        p = L.run_tool(exe, "headers", cfg, out, "-q", env=clean_env(SLURM_ARRAY_TASK_ID=i + 10,
                       SLURM_ARRAY_TASK_MIN=10, SLURM_ARRAY_TASK_COUNT=3), timeout=120)
        check(p.returncode in (0, 1), f"key list shard {i}: {p.returncode} {p.stderr}")
    a, b = summary(os.path.join(full, "_SUCCESS")), summary(os.path.join(out, "_SUCCESS"))
    for k in ("listed", "skipped", "dumped", "failed"):
        check(a[k] == b[k], f"key list _SUCCESS {k}: unsharded {a[k]} vs shards {b[k]}")
    L.same_rows(node_dir, full, out, names=("key list", "key list, 3 Slurm shards"), min_rows=50)
    print(f"key list: 3 shards (Slurm variables, MIN 10) = the unsharded run: {b['dumped']} "
          f"headers, {b['failed']} errors")


def finish_refusals(exe, tmp, out):
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    f = L.run_tool(exe, "finish", empty, timeout=30)
    check(f.returncode == 3 and "not a sharded output" in f.stderr, f"finish of an empty dir: {f.stderr}")
    f = L.run_tool(exe, "finish", os.path.join(tmp, "nope"), timeout=30)
    check(f.returncode == 3 and "cannot read" in f.stderr, f"finish of a missing dir: {f.stderr}")
    # markers of another N beside them
    open(os.path.join(out, "_SUCCESS.shard-0001-of-0005"), "w").write("{}")
    f = L.run_tool(exe, "finish", out, timeout=30)
    check(f.returncode == 3 and "different shard counts" in f.stderr, f"mixed N: {f.stderr}")
    os.unlink(os.path.join(out, "_SUCCESS.shard-0001-of-0005"))
    # a part of an unsharded run among the shards' (its rows would be counted twice)
    stray = os.path.join(out, "part-00000.parquet")
    open(stray, "wb").write(b"x")
    f = L.run_tool(exe, "finish", out, timeout=30)
    check(f.returncode == 3 and "part-00000.parquet" in f.stderr and "unsharded" in f.stderr,
          f"stray part: {f.stderr}")
    os.unlink(stray)
    # a marker of another config
    m = os.path.join(out, "_SUCCESS.shard-0002-of-0003")
    s = summary(m)
    s["config"] = "something else"
    open(m, "w").write(json.dumps(s))
    f = L.run_tool(exe, "finish", out, timeout=30)
    check(f.returncode == 3 and "different runs" in f.stderr, f"other config: {f.stderr}")
    f = L.run_tool(exe, "finish", timeout=30)
    check(f.returncode == 2, "finish without OUT_DIR")
    print("finish refuses: empty or missing dir, mixed N, stray unsharded part, other config")


def engine_selection(exe, cfg, cfg_count):
    def sel(env, *args, config=cfg):
        return L.run_tool(exe, "headers", "--check", config, *args, env=clean_env(**env), timeout=30)

    ok = [
        ({"JOB_COMPLETION_INDEX": 2}, ["--shards", "5"], "shard 2 of 5 (from JOB_COMPLETION_INDEX=2; count from --shards)", cfg),
        ({"JOB_COMPLETION_INDEX": 2}, [], "shard 2 of 7 (from JOB_COMPLETION_INDEX=2; count from shards.count)", cfg_count),
        ({"AWS_BATCH_JOB_ARRAY_INDEX": 3, "AWS_BATCH_JOB_ARRAY_SIZE": 4}, [], "shard 3 of 4 (from AWS_BATCH_JOB_ARRAY_INDEX=3, AWS_BATCH_JOB_ARRAY_SIZE=4)", cfg),
        ({"AWS_BATCH_JOB_ARRAY_INDEX": 0}, ["--shards", "2"], "shard 0 of 2 (from AWS_BATCH_JOB_ARRAY_INDEX=0; count from --shards)", cfg),
        ({"SLURM_ARRAY_TASK_ID": 7, "SLURM_ARRAY_TASK_MIN": 5, "SLURM_ARRAY_TASK_COUNT": 3}, [], "shard 2 of 3 (from SLURM_ARRAY_TASK_ID=7, SLURM_ARRAY_TASK_MIN=5", cfg),
        ({"SLURM_ARRAY_TASK_ID": 9, "SLURM_ARRAY_TASK_MIN": 1, "SLURM_ARRAY_TASK_STEP": 4, "SLURM_ARRAY_TASK_COUNT": 3}, [], "shard 2 of 3 (from SLURM_ARRAY_TASK_ID=9", cfg),
        ({"SLURM_ARRAY_TASK_ID": 0, "SLURM_ARRAY_TASK_COUNT": 1}, [], "shard 0 of 1", cfg),
        ({"JOB_COMPLETION_INDEX": 1}, ["--shard", "0/2"], "shard 0 of 2 (from --shard 0/2)", cfg),
        ({"SLURM_ARRAY_TASK_ID": 1, "SLURM_ARRAY_TASK_COUNT": 2}, ["--shard=1/4"], "shard 1 of 4 (from --shard 1/4)", cfg),
    ]
    for env, args, want, config in ok:
        p = sel(env, *args, config=config)
        check(p.returncode == 0 and want in p.stderr, f"{env} {args}: exit {p.returncode}, "
              f"wanted '{want}' in: {p.stderr}")
    p = sel({"JOB_COMPLETION_INDEX": 1}, "--no-shard")
    check(p.returncode == 0 and "shard" not in p.stderr, f"--no-shard: {p.stderr}")
    p = sel({})
    check(p.returncode == 0 and "shard" not in p.stderr, f"no engine: {p.stderr}")

    bad = [
        ({}, ["--shard", "3/3"], "shard index 3 is out of range: shards are numbered 0 to 2"),
        ({}, ["--shard", "a/3"], "expected I/N"),
        ({}, ["--shard", "-1/3"], "expected I/N"),
        ({}, ["--shard", "1"], "expected I/N"),
        ({}, ["--shard", "1/3/4"], "expected I/N"),
        ({}, ["--shard", "0/0"], "the shard count N must be 1 to"),
        ({}, ["--shard", "0/99999999"], "the shard count N must be 1 to"),
        ({}, ["--shard"], "--shard needs a value"),
        ({}, ["--shards", "x"], "--shards 'x': expected a whole number"),
        ({}, ["--shards", "3"], "--shards 3 without a shard index"),
        ({}, ["--shard", "1/3", "--shards", "4"], "disagree"),
        ({}, ["--shard", "1/3", "--no-shard"], "--no-shard excludes"),
        ({"JOB_COMPLETION_INDEX": 2}, [], "pass --shards N"),
        ({"JOB_COMPLETION_INDEX": 5}, ["--shards", "5"], "shard index 5 is out of range for 5 shards"),
        ({"JOB_COMPLETION_INDEX": "two"}, ["--shards", "5"], "JOB_COMPLETION_INDEX='two' is not a whole number"),
        ({"AWS_BATCH_JOB_ARRAY_INDEX": 4, "AWS_BATCH_JOB_ARRAY_SIZE": 4}, [], "out of range for 4 shards"),
        ({"AWS_BATCH_JOB_ARRAY_INDEX": 1, "AWS_BATCH_JOB_ARRAY_SIZE": 4}, ["--shards", "5"], "must agree"),
        ({"SLURM_ARRAY_TASK_ID": 4, "SLURM_ARRAY_TASK_MIN": 5, "SLURM_ARRAY_TASK_COUNT": 3}, [], "not SLURM_ARRAY_TASK_MIN=5 plus a multiple"),
        ({"SLURM_ARRAY_TASK_ID": 6, "SLURM_ARRAY_TASK_MIN": 5, "SLURM_ARRAY_TASK_STEP": 2, "SLURM_ARRAY_TASK_COUNT": 3}, [], "--array=0-9"),
        ({"SLURM_ARRAY_TASK_ID": 8, "SLURM_ARRAY_TASK_MIN": 5, "SLURM_ARRAY_TASK_COUNT": 3}, [], "out of range for 3 shards"),
        ({"SLURM_ARRAY_TASK_ID": 1, "SLURM_ARRAY_TASK_STEP": 0, "SLURM_ARRAY_TASK_COUNT": 3}, [], "a step must be at least 1"),
    ]
    for env, args, want in bad:
        p = sel(env, *args)
        check(p.returncode == 2 and want in p.stderr, f"{env} {args}: exit {p.returncode}, "
              f"wanted '{want}' in: {p.stderr}")
    print(f"engine variables: {len(ok)} selections, {len(bad)} refusals")


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    tmp = L.tempdir("shards")
    try:
        cfg = os.path.join(tmp, "c.yaml")
        L.write_config(cfg, corpus, concurrency={"threads": 2})
        cfg_count = os.path.join(tmp, "c7.yaml")
        L.write_config(cfg_count, corpus, shards={"count": 7})
        engine_selection(exe, cfg, cfg_count)
        full = os.path.join(tmp, "full")
        p = L.run_tool(exe, "headers", cfg, full, "-q", env=clean_env(), timeout=120)
        check(p.returncode in (0, 1), f"unsharded run: {p.returncode} {p.stderr}")
        check(not [n for n in os.listdir(full) if "S0" in n], "unsharded names changed")
        out = sharded_runs(exe, node_dir, cfg, full, os.path.join(tmp, "sh"))
        key_list(exe, node_dir, corpus, tmp)
        finish_refusals(exe, tmp, out)
        # an unsharded run into the sharded dir takes it over: every shard's files go
        p = L.run_tool(exe, "headers", cfg, out, "-q", env=clean_env(), timeout=120)
        left = [n for n in files(out) if "S000" in n or "shard-" in n]
        check(p.returncode in (0, 1) and not left, f"an unsharded run left {left}")
        print(f"e2e_shards: {checks} checks passed")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
