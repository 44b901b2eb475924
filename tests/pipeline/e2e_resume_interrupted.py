"""--resume retries the objects a Ctrl-C stopped (resume.h): a run over an HTTP store (the
fault server) whose `stall*` objects never answer is stopped with SIGINT once their reads
are in flight, so it ends with error rows of kind `interrupted`; the stall is lifted (the
rules file emptied) and `--resume` runs. Then:
  - no `interrupted` row is left and each key has exactly one row;
  - the keys that were interrupted now have header rows (they were read again);
  - _SUCCESS is written and its counts are an uninterrupted run's.
The same for a shard (--shard 0/2): only its own keys, the interrupted ones retried.
usage: e2e_resume_interrupted.py TIFF_DUMPER NODE_DIR"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tdtest import e2e_lib as L  # noqa: E402
from tdtest.faults import FaultServer, tiff_bytes  # noqa: E402

N_KEYS = 60


def rows(node_dir, out):
    return L.duckdb(
        node_dir,
        f"SELECT path, 'h' AS t, NULL AS kind FROM read_parquet('{out}/part-*.parquet') "
        f"UNION ALL SELECT path, 'e', kind FROM read_parquet('{out}/_errors/part-*.parquet') "
        f"ORDER BY path")[0]


def one(exe, node_dir, tmp, srv, rules, keys, shard):
    label = f"shard {shard}" if shard else "unsharded"
    extra = ["--shard", shard] if shard else ["--no-shard"]
    cfg = os.path.join(tmp, "c.yaml")
    with open(cfg, "w") as f:
        f.write(f'store:\n  name: "http://127.0.0.1:{srv.port}/data/"\n'
                f'  keys_from: "{os.path.join(tmp, "keys.txt")}"\n'
                "concurrency:\n  n_consumers: 16\n  threads: 1\n"
                "network:\n  request_timeout: 60\n")
    out = os.path.join(tmp, "out_" + label.replace(" ", "_").replace("/", "_"))
    # the reference: an uninterrupted run (nothing stalls)
    with open(rules, "w") as f:
        json.dump({"rules": []}, f)
    ref_out = out + "_ref"
    r = subprocess.run([exe, "headers", cfg, ref_out, "-q"] + extra, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        L.fail(f"{label}: reference run: exit {r.returncode}: {r.stderr}")
    ref = json.load(open(os.path.join(ref_out, "_SUCCESS.shard-0000-of-0002" if shard
                                      else "_SUCCESS")))
    # stall*: no answer for 30 s; the run is stopped while they are in flight
    time.sleep(0.02)  # a new mtime: the server re-reads the rules
    with open(rules, "w") as f:
        json.dump({"rules": [{"match": "stall*", "fault": "stall", "seconds": 30}]}, f)
    srv.reset_log()
    p = subprocess.Popen([exe, "headers", cfg, out, "-q"] + extra, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 15
    while time.time() < deadline and p.poll() is None and not any(
            e["key"].startswith("stall") for e in srv.entries()):
        time.sleep(0.05)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=20)
    if p.returncode != 3:
        L.fail(f"{label}: SIGINT: exit {p.returncode} (want 3): {err[-500:]}")
    before = rows(node_dir, out)
    stopped = {r["path"] for r in before if r["kind"] == "interrupted"}
    if not stopped:
        L.fail(f"{label}: the stopped run has no interrupted row: {before[:5]}")
    # the stall lifted, --resume
    time.sleep(0.02)
    with open(rules, "w") as f:
        json.dump({"rules": []}, f)
    r = subprocess.run([exe, "headers", cfg, out, "-q", "--resume"] + extra,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        L.fail(f"{label}: --resume: exit {r.returncode}: {r.stderr}")
    after = rows(node_dir, out)
    paths = [x["path"] for x in after]
    if len(paths) != len(set(paths)):
        L.fail(f"{label}: a key has several rows")
    want = {x["path"] for x in rows(node_dir, ref_out)}
    if set(paths) != want:
        L.fail(f"{label}: keys {len(set(paths))}, an uninterrupted run has {len(want)}")
    left = [x for x in after if x["kind"] == "interrupted"]
    if left:
        L.fail(f"{label}: interrupted rows left after --resume: {left[:3]}")
    retried = {x["path"] for x in after if x["t"] == "h"} & stopped
    if retried != stopped:
        L.fail(f"{label}: interrupted keys not read again: {sorted(stopped - retried)[:5]}")
    succ = json.load(open(os.path.join(out, "_SUCCESS.shard-0000-of-0002" if shard
                                       else "_SUCCESS")))
    for k in ("listed", "skipped", "dumped", "failed"):
        if succ[k] != ref[k]:
            L.fail(f"{label}: _SUCCESS {k} = {succ[k]}, an uninterrupted run says {ref[k]}")
    print(f"{label}: {len(stopped)} interrupted by SIGINT, all read again by --resume; "
          f"{len(paths)} keys once each, _SUCCESS as uninterrupted")


def main():
    exe, node_dir = os.path.abspath(sys.argv[1]), sys.argv[2]
    tmp = L.tempdir("resume_int")
    srv = None
    try:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        keys = [f"{'stall' if i % 3 == 0 else 'fine'}{i:03d}.tif" for i in range(N_KEYS)]
        for k in keys:
            with open(os.path.join(root, k), "wb") as f:
                f.write(tiff_bytes(7, 5))
        with open(os.path.join(tmp, "keys.txt"), "w") as f:
            f.write("".join(k + "\n" for k in keys))
        rules = os.path.join(tmp, "rules.json")
        with open(rules, "w") as f:
            json.dump({"rules": []}, f)
        srv = FaultServer(tmp, root, "http", "/data/", rules=rules)
        one(exe, node_dir, tmp, srv, rules, keys, None)
        one(exe, node_dir, tmp, srv, rules, keys, "0/2")
    finally:
        if srv:
            srv.stop()
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
