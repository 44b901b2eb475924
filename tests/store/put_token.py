"""store_put / store_delete behind a fetched access token (the write op's credential wait).

The loopback fault server speaks GCS's upload protocol; the token comes from the GCE
metadata server of tdtest.idfake (GCE_METADATA_HOST). Checks: a resumable upload and a media
upload whose first request waits for the token fetch, one token for all of them, every
write carrying it; many uploads queued behind one fetch; a metadata server that does not
answer fails the put as a credential error naming it, with no object; a cancel of a put
still waiting for its token calls back once, canceled.

usage: put_token.py PUT_DRIVER
"""
import json
import os
import shutil
import socket
import sys
import tempfile

from put_common import drive
from tdtest.faults import FaultServer
from tdtest.idfake import IdFake
from tdtest.store_testlib import Checks

check = Checks(120)
PART = 256 << 10  # GCS's chunk unit


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connections are refused
    return port


def main():
    driver = sys.argv[1]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GOOGLE_", "GCE_", "STORAGE_EMULATOR", "CLOUDSDK_"))}
    env["HOME"] = "/nonexistent"
    tmp = tempfile.mkdtemp(prefix="td-put-token-")
    root = os.path.join(tmp, "fs-root")
    os.makedirs(root)
    rules = os.path.join(tmp, "rules.json")
    with open(rules, "w") as f:
        json.dump({"rules": []}, f)
    srv = FaultServer(tmp, root, "gcs", "/", rules=rules, tag="gcs")
    fake = IdFake(0).start()
    try:
        opts = {"google_base_url": f"http://127.0.0.1:{srv.port}"}
        url = "gs://bkt"
        menv = dict(env, GCE_METADATA_HOST=f"127.0.0.1:{fake.port}")

        before = fake.count("gce")
        srv.reset_log()
        r = drive(driver, url, opts, ["put", "big.bin", 3 * PART + 1000, 1, PART, "-"],
                  menv)["put"]
        writes = [e for e in srv.entries() if e["method"] != "GET"]
        check(r[0] == "ok" and r[4] == "same" and r[2] == "4", f"resumable upload: {r}")
        check(len(writes) == 5 and all(e["auth"] for e in writes),
              f"every write carries the token: {[(e['method'], e['auth']) for e in writes]}")
        check(fake.count("gce") - before == 1, f"one token: {fake.count('gce') - before}")

        r = drive(driver, url, opts, ["put", "small.bin", 1000, 2, PART, "f"], menv)["put"]
        check(r[0] == "ok" and r[4] == "same" and r[2] == "0", f"media upload: {r}")

        before = fake.count("gce")
        m = drive(driver, url, opts, ["many", 6, 2 * PART + 10, PART], menv)["many"]
        check(m[0] == "6" and m[1] == "6", f"6 uploads behind one fetch: {m}")
        check(fake.count("gce") - before == 1, f"one token for 6: {fake.count('gce') - before}")

        d = drive(driver, url, opts, ["delete", "small.bin"], menv)["delete"]
        check(d[0] == "ok" and not os.path.exists(os.path.join(root, "small.bin")),
              f"delete: {d}")

        # no metadata server: refused as a credential failure, nothing written
        denv = dict(env, GCE_METADATA_HOST=f"127.0.0.1:{free_port()}")
        srv.reset_log()
        r = drive(driver, url, opts, ["put", "nope.bin", 3 * PART, 3, PART, "-"], denv)["put"]
        writes = [e for e in srv.entries() if e["method"] != "GET"]
        check(r[0] != "ok" and "metadata" in r[5].lower() and not writes and
              not os.path.exists(os.path.join(root, "nope.bin")), f"no token: {r} {writes}")

        # canceled while waiting for the token: one callback, canceled, nothing written
        srv.reset_log()
        c = drive(driver, url, opts, ["cancel", "waiting.bin", 3 * PART, PART, 0], menv)
        writes = [e for e in srv.entries() if e["method"] != "GET"]
        check(c["cancel"][0] == "canceled" and c["after"][0] == "not_found" and not writes,
              f"cancel while waiting: {c} {writes}")
    finally:
        fake.stop()
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    check.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
