"""Every store that speaks HTTP against a fault-injecting server (tdtest/faultsrv.py).

One folder of small TIFFs (made here: IFD 0 far enough in that a follow-up read is needed)
is served by faultsrv in the style of each store: http (keys_from, then PROPFIND listing),
s3 (endpoint, path style, signed), azure (endpoint, SharedKey), gcs (google_base_url, a
bearer token). Each key meets one fault: stall, reset, short body, a Content-Range for other
bytes, a total that changes between requests, an endless body, 503 then fine, 429 for ever,
an HTTP/0.9 answer, a 1 MiB header line, a redirect to another host (127.0.0.2) while
credentials are configured. Checked per store:

  - the run ends (short timeouts: it never hangs) with exit 1 (some objects failed);
  - every key ends as exactly one header row or one error row, of the right kind;
  - attempts are bounded by max_attempts, and an error's `attempts` column agrees with
    its message's "after N attempts";
  - no credential followed the redirect to the other host;
  - `_SUCCESS.requests` counts every attempt the server saw.

usage: fault_stores.py TIFF_DUMPER NODE_DIR"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from tdtest import require
from tdtest.e2e_lib import duckdb
from tdtest.faults import FaultServer, tiff_bytes

MAX_ATTEMPTS = 3

# key -> (rule, what the row must be: "header", an error kind, or a set of either)
FAULTS = {
    "ok/a.tif": ({"fault": "ok"}, "header"),
    "stall/a.tif": ({"fault": "stall", "seconds": 30}, "timeout"),
    "reset/a.tif": ({"fault": "reset"}, "network"),
    "short/a.tif": ({"fault": "short"}, "network"),
    "wrong/a.tif": ({"fault": "wrong_range", "delta": 512}, "protocol"),
    "total/a.tif": ({"fault": "bad_total"}, "protocol"),
    # a 200 without length: the first read is cut once full; a later one at an offset is
    # refused (object stores) or skipped forward (http): one row either way
    "endless/a.tif": ({"fault": "endless", "seconds": 5}, {"header", "http", "protocol",
                                                            "truncated", "bad_ifd"}),
    "s503/a.tif": ({"fault": "status", "status": 503, "times": 2}, "header"),
    "s429/a.tif": ({"fault": "status", "status": 429}, "throttled"),
    "http09/a.tif": ({"fault": "http09"}, "protocol"),
    "huge/a.tif": ({"fault": "huge_header", "bytes": 1 << 20}, "protocol"),
    "redirect/a.tif": ({"fault": "redirect"}, "http"),
    # a folder whose PROPFIND is answered 503 for ever: in the listing run its row is the
    # folder's (throttled, after MAX_ATTEMPTS); read from a key list, the object is fine
    "listfail/a.tif": ({"fault": "ok"}, "header"),
    "list09/a.tif": ({"fault": "ok"}, "header"),  # its folder answers HTTP/0.9
    # bytes from elsewhere under a Content-Range that claims the asked range: only the
    # bytes can tell (here they do not start with a TIFF magic)
    "lying/a.tif": ({"fault": "lying_range", "delta": 512}, {"not_tiff", "header",
                                                             "truncated", "protocol"}),
}

RESET_RULES = [lambda: None]
CHECKS = [0]
FAILED = []


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILED.append(what)
        print("FAIL", what[:400], flush=True)


def config(path, store, obstore, keys_from=None):
    lines = ["store:", f"  name: {json.dumps(store)}"]
    if keys_from:
        lines.append(f"  keys_from: {json.dumps(keys_from)}")
    if obstore:
        lines.append("  obstore_config:")
        for k, v in obstore.items():
            lines.append(f"    {k}: {json.dumps(v)}")
    lines += ["concurrency:", "  n_consumers: 8", "network:", "  connect_timeout: 1",
              "  request_timeout: 1.5", f"  max_attempts: {MAX_ATTEMPTS}",
              "  retry_max_time: 20"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def run_store(exe, node_dir, tmp, name, store, obstore, srv, target, keys_from=True):
    out = os.path.join(tmp, f"out_{name}")
    cfg = os.path.join(tmp, f"{name}.yaml")
    keys = os.path.join(tmp, "keys.txt")
    config(cfg, store, obstore, keys if keys_from else None)
    srv.reset_log()
    target.reset_log()
    RESET_RULES[0]()  # a new rule file: faultsrv's `times` counters start again
    t0 = time.time()
    try:
        p = subprocess.run([exe, "headers", cfg, out, "--quiet"], capture_output=True,
                           text=True, timeout=90)
    except subprocess.TimeoutExpired:
        check(False, f"{name}: the run did not end within 90 s")
        return
    took = time.time() - t0
    print(f"{name}: exit {p.returncode} in {took:.1f} s", flush=True)
    check(p.returncode == 1, f"{name}: exit {p.returncode} (want 1): {p.stderr[-600:]}")
    if p.returncode not in (0, 1):
        return
    heads, errs = duckdb(
        node_dir,
        f"SELECT path, image_width, requests FROM read_parquet('{out}/part-*.parquet')",
        f"SELECT path, stage, kind, message, attempts FROM "
        f"read_parquet('{out}/_errors/part-*.parquet')")
    rows = {}
    for h in heads:
        rows.setdefault(h["path"], []).append(("header", h))
    for e in errs:
        rows.setdefault(e["path"], []).append((e["kind"], e))
    faults = dict(FAULTS)
    if not keys_from:
        del faults["listfail/a.tif"]
        faults["listfail/"] = (None, "throttled")
        del faults["list09/a.tif"]
        faults["list09/"] = (None, "protocol")
    for key, (_, want) in faults.items():
        got = rows.get(key, [])
        check(len(got) == 1, f"{name}: {key}: {len(got)} rows (want exactly 1): {got}")
        if len(got) != 1:
            continue
        kind, row = got[0]
        wants = want if isinstance(want, set) else {want}
        check(kind in wants, f"{name}: {key}: {kind} (want {sorted(wants)}): {row}")
        if kind == "header":
            if key == "ok/a.tif" or key == "s503/a.tif":
                check(row["image_width"] == 7, f"{name}: {key}: width {row['image_width']}")
            continue
        if row["stage"] == "list":
            # every failure here is retried (503, a malformed answer)
            check(row["attempts"] == MAX_ATTEMPTS,
                  f"{name}: {key}: list error attempts {row['attempts']} (want {MAX_ATTEMPTS})")
        elif row["stage"] != "fetch":
            continue  # parse errors: the bytes came, attempts do not apply
        att = row.get("attempts")
        check(att is not None and 1 <= att <= MAX_ATTEMPTS,
              f"{name}: {key}: attempts {att} outside 1..{MAX_ATTEMPTS}")
        m = re.search(r"after (\d+) attempts", row.get("message") or "")
        if m:
            check(int(m.group(1)) == att,
                  f"{name}: {key}: attempts column {att}, message says {m.group(0)}")
    extra = set(rows) - set(faults)
    check(not extra, f"{name}: rows for keys nobody asked for: {sorted(extra)[:5]}")
    # nothing followed the redirect (and so no credential went to the other host)
    check(not target.entries(), f"{name}: the redirect target got {target.entries()[:2]}")
    # every attempt the server saw counts as a request
    with open(os.path.join(out, "_SUCCESS")) if os.path.exists(os.path.join(out, "_SUCCESS")) \
            else open(os.devnull) as f:
        text = f.read()
    check(bool(text), f"{name}: no _SUCCESS")
    if text:
        succ = json.loads(text)
        seen = srv.entries()
        # libcurl silently sends a request again, once, when a reused connection turns out
        # to be closed without an answer (the `reset` fault): the server sees it twice
        resets = sum(1 for e in seen if e["fault"] == "reset")
        req = succ.get("requests")
        check(req is not None and len(seen) - resets <= req <= len(seen),
              f"{name}: _SUCCESS requests {req}, the server saw {len(seen)} ({resets} resets)")


def main():
    exe, node_dir = sys.argv[1:3]
    require("node")
    tmp = tempfile.mkdtemp(prefix="td_faults_")
    servers = []
    try:
        root = os.path.join(tmp, "root")
        for key in FAULTS:
            os.makedirs(os.path.join(root, os.path.dirname(key)), exist_ok=True)
            with open(os.path.join(root, key), "wb") as f:
                f.write(tiff_bytes(7, 5))
        with open(os.path.join(tmp, "keys.txt"), "w") as f:
            f.write("".join(k + "\n" for k in FAULTS))
        target = FaultServer(tmp, root, "http", "/", bind="127.0.0.2", tag="target")
        servers.append(target)
        rules_path = os.path.join(tmp, "rules.json")
        rules = []
        for key, (rule, _) in FAULTS.items():
            r = dict(rule, match=key)
            if r["fault"] == "redirect":
                r["location"] = f"http://127.0.0.2:{target.port}/"
            rules.append(r)
        rules.append({"match": "listfail/", "fault": "status", "status": 503})
        rules.append({"match": "list09/", "fault": "http09"})

        def write_rules():
            with open(rules_path + ".tmp", "w") as f:
                json.dump({"rules": rules}, f)
            os.replace(rules_path + ".tmp", rules_path)
            time.sleep(0.01)  # a distinct mtime
        write_rules()
        RESET_RULES[0] = write_rules

        def serve(style, base):
            s = FaultServer(tmp, root, style, base, rules=rules_path, tag=style)
            servers.append(s)
            return s

        srv = serve("http", "/data/")
        url = f"http://127.0.0.1:{srv.port}/data/"
        run_store(exe, node_dir, tmp, "http", url, {}, srv, target)
        # the same through a WebDAV listing (PROPFIND), credentials in the URL
        run_store(exe, node_dir, tmp, "http_propfind",
                  f"http://user:pw@127.0.0.1:{srv.port}/data/", {}, srv, target,
                  keys_from=False)

        srv = serve("s3", "/")
        run_store(exe, node_dir, tmp, "s3", "s3://bucket",
                  {"endpoint": f"http://127.0.0.1:{srv.port}", "allow_http": True,
                   "region": "us-east-1", "aws_access_key_id": "AKIDFAULTS",
                   "aws_secret_access_key": "secretfaults"}, srv, target)

        srv = serve("azure", "/acct/")
        run_store(exe, node_dir, tmp, "azure", "az://cont",
                  {"endpoint": f"http://127.0.0.1:{srv.port}/acct", "account_name": "acct",
                   "account_key": "a2V5a2V5a2V5a2V5"}, srv, target)

        srv = serve("gcs", "/")
        run_store(exe, node_dir, tmp, "gcs", "gs://bucket",
                  {"google_base_url": f"http://127.0.0.1:{srv.port}",
                   "bearer_token": "tokenfaults"}, srv, target)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{CHECKS[0]} checks, {len(FAILED)} failures")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
