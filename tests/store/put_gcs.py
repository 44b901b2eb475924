"""store_put / store_delete on gs:// stores.

Against the Cloud Storage emulator of firebase-tools: media uploads of 0 B and 1 KiB (from a
buffer and from a file descriptor) read back through store_get, delete, the listing. The
emulator ends a resumable session at its first chunk, so the resumable path (objects above
part_size) runs against the loopback fault server speaking GCS's upload protocol instead:
several chunks, a chunk the server keeps only in part (the next starts where its Range
ends), 503 retried, 403 refused with the session canceled (no object), create_only meeting
412, a cancel between chunks (session canceled, no object).

usage: put_gcs.py PUT_DRIVER NODE_DIR
"""
import json
import os
import shutil
import sys
import tempfile

from put_common import drive, put_cases
from tdtest.faults import FaultServer
from tdtest.gcs_emulator import start_emulator
from tdtest.store_testlib import Checks, stop

check = Checks(300)
PART = 256 << 10  # GCS's chunk unit


def main():
    driver, node_dir = sys.argv[1], sys.argv[2]
    if not os.path.exists(os.path.join(node_dir, "node_modules", "firebase-tools")):
        print(f"firebase-tools is not installed in {node_dir} (npm ci in tests/node)")
        return 77
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GOOGLE_", "GCE_", "STORAGE_EMULATOR", "CLOUDSDK_"))}
    env["HOME"] = "/nonexistent"
    tmp = tempfile.mkdtemp(prefix="td-put-gcs-")
    try:
        proc, port = start_emulator(node_dir, tmp)
        try:
            if port is None:
                print("the GCS emulator did not start")
                return 1
            emulator(driver, port, env)
        finally:
            stop(proc)
        faults(driver, tmp, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    check.finish()
    return 0


def emulator(driver, port, env):
    opts = {"google_base_url": f"http://127.0.0.1:{port}", "skip_signature": "true"}
    url = "gs://out"
    for i, (key, size, flags) in enumerate([("empty.bin", 0, "-"), ("one-kib.bin", 1024, "-"),
                                            ("fd-kib.bin", 1024, "f"),
                                            ("dir/sub/mib.bin", 1 << 20, "f")]):
        p = drive(driver, url, opts, ["put", key, size, i + 1, 8 << 20, flags], env)["put"]
        check(p[0] == "ok" and p[4] == "same" and p[2] == "0", f"emulator put {key}: {p}")
    p = drive(driver, "gs://out/run1/", opts, ["put", "k.bin", 4096, 9, 0, "-"], env)["put"]
    check(p[0] == "ok" and p[4] == "same", f"emulator put under a prefix: {p}")
    lst = drive(driver, url, opts, ["list", ""], env)
    check(lst["list"][0] == "ok" and sorted(lst["entries"]) == sorted(
        [("dir/sub/mib.bin", 1 << 20), ("empty.bin", 0), ("fd-kib.bin", 1024),
         ("one-kib.bin", 1024), ("run1/k.bin", 4096)]), f"emulator listing: {lst}")
    d1 = drive(driver, url, opts, ["delete", "one-kib.bin"], env)["delete"]
    d2 = drive(driver, url, opts, ["delete", "one-kib.bin"], env)["delete"]
    g = drive(driver, url, opts, ["get", "one-kib.bin"], env)["get"]
    check(d1[0] == "ok" and d2[0] == "ok" and g[0] == "not_found", f"emulator delete: {d1} {d2} {g}")


def set_rules(path, rules):
    with open(path + ".tmp", "w") as f:
        json.dump({"rules": rules}, f)
    os.replace(path + ".tmp", path)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))


def faults(driver, tmp, env):
    root = os.path.join(tmp, "fs-root")
    os.makedirs(root)
    rules = os.path.join(tmp, "gcs-rules.json")
    set_rules(rules, [])
    srv = FaultServer(tmp, root, "gcs", "/", rules=rules, tag="gcs")
    try:
        opts = {"google_base_url": f"http://127.0.0.1:{srv.port}", "skip_signature": "true"}
        url = "gs://bkt"
        put_cases(check, driver, url, opts, PART, env, tag="gcs faultsrv ", empty=False)
        big = 3 * PART + 1000

        def put(key, flags="-", seed=1):
            srv.reset_log()
            r = drive(driver, url, opts, ["put", key, big, seed, PART, flags], env)["put"]
            return r, [e for e in srv.entries() if e["method"] != "GET"]

        set_rules(rules, [{"match": "partial.bin", "method": "PUT", "fault": "partial",
                           "times": 0}])
        r, log = put("partial.bin")
        chunks = [e for e in log if e["method"] == "PUT"]
        check(r[0] == "ok" and r[4] == "same" and len(chunks) > 4,
              f"chunks kept in part: {r} ({len(chunks)} PUTs)")
        set_rules(rules, [{"match": "retry.bin", "method": "PUT", "fault": "status",
                           "status": 503, "times": 2}])
        r, log = put("retry.bin")
        check(r[0] == "ok" and r[4] == "same" and int(r[1]) == 1 + 4 + 2, f"503 retried: {r}")
        set_rules(rules, [{"match": "denied.bin", "method": "PUT", "query": "upload_id",
                           "fault": "status", "status": 403}])
        r, log = put("denied.bin")
        dels = [e for e in log if e["method"] == "DELETE"]
        check(r[0] == "access_denied" and len(dels) == 1 and
              not os.path.exists(os.path.join(root, "denied.bin")), f"403 on a chunk: {r} {dels}")
        set_rules(rules, [])
        r1, _ = put("marker", "c")
        r2, _ = put("marker", "c", seed=2)
        check(r1[0] == "ok" and r2[0] == "exists", f"create_only: {r1} {r2}")
        srv.reset_log()
        c = drive(driver, url, opts, ["cancel", "cancel.bin", 8 * PART, PART, 2], env)
        dels = [e for e in srv.entries() if e["method"] == "DELETE"]
        check(c["cancel"][0] == "canceled" and c["after"][0] == "not_found" and len(dels) == 1,
              f"cancel: {c} {dels}")
        set_rules(rules, [{"match": "many/*", "method": "PUT", "fault": "partial"}])
        m = drive(driver, url, opts, ["many", 8, big, PART], env)["many"]
        check(m[0] == "8" and m[1] == "8", f"8 resumable uploads at once: {m}")
        set_rules(rules, [])
        c = drive(driver, url, opts, ["close", "closed.bin", 8 * PART, PART, 1], env)["close"]
        check(c[0] == "canceled" and c[2] == "1" and
              not os.path.exists(os.path.join(root, "closed.bin")), f"close mid-upload: {c}")
        d = drive(driver, url, opts, ["delete", "marker"], env)["delete"]
        check(d[0] == "ok" and not os.path.exists(os.path.join(root, "marker")), f"delete: {d}")
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
