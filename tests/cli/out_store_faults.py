"""OUT on s3:// served by the loopback fault server (tests/pylib/tdtest/faultsrv.py, which
checks every SigV4 signature and body hash): 503s on part uploads and on _SUCCESS are
retried (the engine's one retry policy) and the run completes with every part; a 403 on one
part makes the run fail with exit status 3, a message naming the object, and no _SUCCESS
(the earlier run's _SUCCESS was deleted first). `--resume` of that failed run reads its
parts back (503s on a GET retried) and ends with every key once; a part it cannot read
(403) fails it, naming the part. The secret never shows.

usage: out_store_faults.py TIFF_DUMPER CORPUS_DIR NODE_DIR
"""
import json
import os
import sys

from tdtest import e2e_lib as L
from tdtest.faults import FaultServer
from tdtest.out_stores import obstore_config, store_env

SECRET = "fault-secret-xyzzy"


def set_rules(path, rules):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"rules": rules}, f)
    os.replace(tmp, path)
    st = os.stat(path)  # a new mtime even within the same clock tick
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("out_store_faults")
    srv = None
    try:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        rules = os.path.join(tmp, "rules.json")
        set_rules(rules, [])
        srv = FaultServer(tmp, root, "s3", "/", rules=rules, extra=("--s3-secret", SECRET))
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write("\n".join([
                "store:", f"  name: {json.dumps(corpus)}",
                "concurrency:", "  n_consumers: 16", "  list_chunk_size: 50",
                "  max_buffer_size: 100", "  write_chunk_size: 50",
                "network:", "  max_attempts: 4", "  retry_max_time: 30",
                "output:", ""]) + obstore_config({
                    "endpoint": f"http://127.0.0.1:{srv.port}", "allow_http": "true",
                    "access_key_id": "AKIDFAULT", "secret_access_key": SECRET,
                    "region": "us-east-1"}))
        env = store_env("s3")
        out = os.path.join(root, "out")

        # 503 twice on the second header part and once on _SUCCESS: retried, complete
        set_rules(rules, [
            {"match": "out/part-00001.parquet", "method": "PUT", "fault": "status",
             "status": 503, "times": 2},
            {"match": "out/_SUCCESS", "method": "PUT", "fault": "status", "status": 503,
             "times": 1}])
        srv.reset_log()
        p = L.run_tool(exe, "headers", "--quiet", cfg, "s3://bkt/out", env=env, timeout=120)
        print("503 run: exit", p.returncode, p.stderr[-600:])
        if p.returncode not in (0, 1):
            L.fail(f"the run with 503s failed: {p.returncode}: {p.stderr[-1500:]}")
        if SECRET in p.stderr:
            L.fail("the secret was printed")
        log = srv.entries()
        puts = [e for e in log if e["method"] == "PUT"]
        n503 = sum(1 for e in puts if e["status"] == 503)
        if n503 != 3:
            L.fail(f"expected 3 answers 503 (then retried), got {n503}")
        with open(os.path.join(out, "_SUCCESS")) as f:
            succ = json.load(f)
        if SECRET in json.dumps(succ):
            L.fail("the secret reached _SUCCESS")
        parts = sorted(x for x in os.listdir(out) if x.startswith("part-"))
        if len(parts) != succ["header_files"] or len(parts) < 4:
            L.fail(f"parts {parts} vs _SUCCESS header_files {succ['header_files']}")
        if "part-00001.parquet" not in parts:
            L.fail("the part answered 503 is missing")
        rows = L.duckdb(node_dir, f"SELECT count(*) AS n FROM read_parquet('{out}/part-*.parquet')")
        if rows[0][0]["n"] != succ["dumped"]:
            L.fail(f"rows {rows} vs dumped {succ['dumped']}")
        print(f"503s retried: {len(parts)} parts, {succ['dumped']} rows, _SUCCESS written")

        # 403 on one part: exit 3, the object named, no _SUCCESS (the old one deleted first)
        set_rules(rules, [{"match": "out/part-00002.parquet", "method": "PUT",
                           "fault": "status", "status": 403}])
        p = L.run_tool(exe, "headers", "--quiet", cfg, "s3://bkt/out", env=env, timeout=120)
        print("403 run: exit", p.returncode, p.stderr[-600:])
        if p.returncode != 3:
            L.fail(f"a refused upload must fail the run with exit 3, got {p.returncode}")
        if "part-00002.parquet" not in p.stderr or "access" not in p.stderr.lower():
            L.fail(f"the message does not name the refused object: {p.stderr[-800:]}")
        if os.path.exists(os.path.join(out, "_SUCCESS")):
            L.fail("_SUCCESS exists after a failed run")
        if SECRET in p.stderr:
            L.fail("the secret was printed")
        print("403: run failed (exit 3), object named, no _SUCCESS")

        # --resume of that failed run: its parts are read back with GETs (two of them
        # answered 503: retried), the refused part's keys are dumped again, every key once
        # (the server's GET rules match by key alone: reads have no method filter)
        set_rules(rules, [{"match": "out/part-00001.parquet", "fault": "status",
                           "status": 503, "times": 2}])
        srv.reset_log()
        p = L.run_tool(exe, "headers", "--quiet", "--resume", cfg, "s3://bkt/out", env=env,
                       timeout=120)
        print("resume run: exit", p.returncode, p.stderr[-600:])
        if p.returncode not in (0, 1):
            L.fail(f"--resume after the 403 run failed: {p.returncode}: {p.stderr[-1500:]}")
        gets = [e for e in srv.entries() if e["method"] == "GET"
                and e["key"] == "out/part-00001.parquet"]
        if sum(1 for e in gets if e["status"] == 503) != 2 or gets[-1]["status"] not in (200, 206):
            L.fail(f"the part's GETs: {[(e['status']) for e in gets]} (want 503, 503, then 2xx)")
        with open(os.path.join(out, "_SUCCESS")) as f:
            res = json.load(f)
        for k in ("dumped", "failed", "listed"):
            if res[k] != succ[k]:
                L.fail(f"resumed _SUCCESS {k} = {res[k]}, the complete run said {succ[k]}")
        (cnt,) = L.duckdb(node_dir, f"SELECT count(*) AS n, count(DISTINCT path) AS d FROM ("
                                    f"SELECT path FROM read_parquet('{out}/part-*.parquet') "
                                    f"UNION ALL SELECT path FROM "
                                    f"read_parquet('{out}/_errors/part-*.parquet'))")
        if cnt[0]["n"] != cnt[0]["d"] or cnt[0]["n"] != succ["dumped"] + succ["failed"]:
            L.fail(f"after --resume: {cnt[0]} rows/distinct, want {succ['dumped'] + succ['failed']}")
        print(f"--resume after the 403: 503 GETs retried, {cnt[0]['n']} keys once, _SUCCESS")

        # a part that cannot be read back (403) fails the resume, naming it
        set_rules(rules, [{"match": "out/part-00001.parquet", "fault": "status",
                           "status": 403}])
        p = L.run_tool(exe, "headers", "--quiet", "--resume", cfg, "s3://bkt/out", env=env,
                       timeout=120)
        if p.returncode != 3 or "part-00001.parquet" not in p.stderr:
            L.fail(f"--resume with a part that cannot be read: {p.returncode} {p.stderr[-800:]}")
        if SECRET in p.stderr:
            L.fail("the secret was printed")
        print("--resume with a part answered 403: exit 3: " + p.stderr.strip()[-300:])
        set_rules(rules, [])

        # output.obstore_config is checked against OUT's backend by --check CONFIG OUT
        bad = os.path.join(tmp, "bad.yaml")
        with open(cfg) as f:
            text = f.read()
        with open(bad, "w") as f:
            f.write(text + "    no_such_option: 1\n")
        p = L.run_tool(exe, "headers", "--check", bad, "s3://bkt/out", env=env, timeout=60)
        if p.returncode != 2 or "no_such_option" not in p.stderr:
            L.fail(f"--check with an unknown output option: {p.returncode} {p.stderr}")
        p = L.run_tool(exe, "headers", "--check", cfg, "s3://bkt/out", env=env, timeout=60)
        if p.returncode != 0:
            L.fail(f"--check CONFIG OUT: {p.returncode} {p.stderr}")
        with open(bad, "w") as f:
            f.write(text + "    client_options: {timeout: 5s}\n")
        p = L.run_tool(exe, "headers", "--check", bad, env=env, timeout=60)
        if p.returncode != 2 or "network" not in p.stderr:
            L.fail(f"client_options under output.obstore_config: {p.returncode} {p.stderr}")
        plain = os.path.join(tmp, "plain.yaml")
        with open(plain, "w") as f:
            f.write(text.split("output:")[0])
        p = L.run_tool(exe, "headers", "--check", plain, "https://example.invalid/out",
                       env=env, timeout=60)
        if p.returncode != 2 or "cannot be written" not in p.stderr:
            L.fail(f"an http OUT: {p.returncode} {p.stderr}")
        with open(bad, "w") as f:
            f.write(text.replace("output:\n", "output:\n  part_size: 65536\n"))
        p = L.run_tool(exe, "headers", "--check", bad, "s3://bkt/out", env=env, timeout=60)
        if p.returncode != 2 or "part_size" not in p.stderr:
            L.fail(f"part_size below S3's 5 MiB: {p.returncode} {p.stderr}")
        print("--check validates output.obstore_config and part_size against OUT")
        print("ok")
    finally:
        if srv:
            srv.stop()
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
