"""store_put against the loopback fault server speaking S3's write calls: 500/503 and
connection resets on PutObject, UploadPart and CompleteMultipartUpload are retried (the
engine's one policy) and the object arrives whole; 403 is refused at once (access_denied)
and a refused multipart upload is aborted, leaving no object; a Complete that keeps failing
is aborted too; create_only meets 412 as "exists"; every body's signed SHA-256 is checked by
the server.

usage: put_faults.py PUT_DRIVER
"""
import datetime
import json
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from put_common import drive
from tdtest.faults import FaultServer
from tdtest.store_testlib import Checks

check = Checks(300)
PART = 64 << 10  # the fault server takes any part size


def main():
    driver = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="td-put-faults-") as tmp:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        rules = os.path.join(tmp, "rules.json")
        srv = FaultServer(tmp, root, "s3", "/", rules=rules,
                          extra=("--s3-secret", "fault-secret-xyzzy"))
        try:
            run(driver, srv, root, rules)
        finally:
            srv.stop()
    check.finish()


def set_rules(path, rules):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"rules": rules}, f)
    os.replace(tmp, path)
    st = os.stat(path)  # a new mtime even within the same clock tick
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))


def run(driver, srv, root, rules):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(TD_TEST_SECRET="fault-secret-xyzzy", AWS_EC2_METADATA_DISABLED="true",
               HOME="/nonexistent")
    opts = {"endpoint": f"http://127.0.0.1:{srv.port}", "allow_http": "true",
            "access_key_id": "AKIDFAULT", "secret_access_key": "@TD_TEST_SECRET"}
    url = "s3://bkt"
    big = 3 * PART + 100

    def put(key, size, flags="-", seed=1):
        srv.reset_log()
        r = drive(driver, url, opts, ["put", key, size, seed, PART, flags], env)["put"]
        return r, [e for e in srv.entries() if e["method"] != "GET"]

    def no_secret(r):
        return "xyzzy" not in "\t".join(r)

    # single PUT: 500, 503, reset, then ok
    for fault in ({"fault": "status", "status": 500, "times": 2},
                  {"fault": "status", "status": 503, "times": 2}):
        set_rules(rules, [dict(fault, match="single.bin", method="PUT")])
        r, log = put("single.bin", 1024)
        check(r[0] == "ok" and r[4] == "same" and r[1] == "3", f"PUT after {fault}: {r}")
    set_rules(rules, [{"match": "reset.bin", "method": "PUT", "fault": "reset", "times": 1}])
    # "times" counts status faults only: a reset rule resets every time; retry budget spent
    r, log = put("reset.bin", 1024)
    check(r[0] == "network" and r[1] == "4" and no_secret(r), f"PUT reset every time: {r}")

    # multipart: 503 twice on part 2, 500 once on Complete: all retried, the object whole
    set_rules(rules, [
        {"match": "mp.bin", "method": "PUT", "query": "partNumber=2", "fault": "status",
         "status": 503, "times": 2},
        {"match": "mp.bin", "method": "POST", "query": "uploadId", "fault": "status",
         "status": 500, "times": 1}])
    r, log = put("mp.bin", big)
    steps = [(e["method"], e["query"].split("&")[0], e["status"]) for e in log]
    check(r[0] == "ok" and r[4] == "same" and r[2] == "4", f"multipart with faults: {r}")
    check(int(r[1]) == 1 + 4 + 2 + 2, f"multipart attempts {r[1]}: {steps}")
    # from an fd, with a reset on the create call (retried: the server drops the first)
    set_rules(rules, [{"match": "mpfd.bin", "method": "POST", "query": "uploads",
                       "fault": "status", "status": 500, "times": 1}])
    r, log = put("mpfd.bin", big, "f")
    check(r[0] == "ok" and r[4] == "same", f"multipart from an fd: {r}")

    # 403: refused at once, not retried
    set_rules(rules, [{"match": "denied.bin", "method": "PUT", "fault": "status",
                       "status": 403}])
    r, log = put("denied.bin", 1024)
    check(r[0] == "access_denied" and r[1] == "1" and no_secret(r), f"PUT 403: {r}")
    # 403 on part 3: refused, the upload aborted, no object
    set_rules(rules, [{"match": "denied-mp.bin", "method": "PUT", "query": "partNumber=3",
                       "fault": "status", "status": 403}])
    r, log = put("denied-mp.bin", big)
    aborts = [e for e in log if e["method"] == "DELETE" and "uploadId" in e["query"]]
    check(r[0] == "access_denied" and len(aborts) == 1 and r[2] == "2",
          f"part 403 -> abort: {r} {[(e['method'], e['query']) for e in log]}")
    check(not os.path.exists(os.path.join(root, "denied-mp.bin")), "object after a refused part")
    # Complete failing every time: retried to the budget, then aborted, no object
    set_rules(rules, [{"match": "nocomplete.bin", "method": "POST", "query": "uploadId",
                       "fault": "status", "status": 500}])
    r, log = put("nocomplete.bin", big)
    completes = [e for e in log if e["method"] == "POST" and "uploadId" in e["query"]]
    aborts = [e for e in log if e["method"] == "DELETE" and "uploadId" in e["query"]]
    check(r[0] == "http" and len(completes) == 4 and len(aborts) == 1, f"Complete 500: {r}")
    check(not os.path.exists(os.path.join(root, "nocomplete.bin")), "object after failed Complete")

    # every write so far was signed right (the server checks); a wrong secret is refused
    # as auth (SignatureDoesNotMatch), the secret not shown
    set_rules(rules, [])
    env_bad = dict(env, TD_TEST_SECRET="wrong-secret-plugh")
    srv.reset_log()
    r = drive(driver, url, opts, ["put", "badsig.bin", 10, 1, 0, "-"], env_bad)["put"]
    check(r[0] == "auth" and r[1] == "1" and "plugh" not in "\t".join(r), f"wrong secret: {r}")
    r = drive(driver, url, opts, ["put", "badsig.bin", big, 1, PART, "-"], env_bad)["put"]
    check(r[0] == "auth" and not os.path.exists(os.path.join(root, "badsig.bin")),
          f"wrong secret, multipart: {r}")
    check(not [e for e in srv.entries() if e["fault"] == "bad_signature"
               and e["key"] != "badsig.bin"], "a good signature was refused")

    # create_only: 412 from the server is "exists"; the object is not replaced
    set_rules(rules, [])
    r1, _ = put("marker", 10, "c", seed=1)
    r2, _ = put("marker", 20, "c", seed=2)
    check(r1[0] == "ok" and r2[0] == "exists", f"create_only: {r1} {r2}")
    check(os.path.getsize(os.path.join(root, "marker")) == 10, "create_only replaced the object")
    r3, _ = put("mp-marker", big, "c")
    r4, log = put("mp-marker", big, "c", seed=5)
    aborts = [e for e in log if e["method"] == "DELETE" and "uploadId" in e["query"]]
    check(r3[0] == "ok" and r4[0] == "exists" and len(aborts) == 1,
          f"create_only multipart: {r3} {r4}")

    # cancel in the middle of a multipart upload (parts stall): aborted, no object
    set_rules(rules, [{"match": "cancel.bin", "method": "PUT", "query": "partNumber=2",
                       "fault": "stall", "seconds": 5}])
    srv.reset_log()
    c = drive(driver, url, opts, ["cancel", "cancel.bin", big, PART, 1], env)
    log = [e for e in srv.entries() if e["method"] == "DELETE"]
    check(c["cancel"][0] == "canceled" and c["after"][0] == "not_found" and len(log) == 1,
          f"cancel: {c} {log}")

    # closing the store in the middle of a multipart upload: the callback runs once,
    # canceled (no abort can be sent any more: the upload is left to the store)
    set_rules(rules, [{"match": "closed.bin", "method": "PUT", "query": "partNumber=2",
                       "fault": "stall", "seconds": 5}])
    c = drive(driver, url, opts, ["close", "closed.bin", big, PART, 1], env)["close"]
    check(c[0] == "canceled" and c[2] == "1", f"close mid-upload: {c}")
    check(not os.path.exists(os.path.join(root, "closed.bin")), "object after a close")

    # 16 multipart uploads at once, with 503s sprinkled on their parts
    set_rules(rules, [{"match": "many/*", "method": "PUT", "query": "partNumber=2",
                       "fault": "status", "status": 503, "times": 10}])
    m = drive(driver, url, opts, ["many", 16, big, PART], env)["many"]
    check(m[0] == "16" and m[1] == "16", f"16 at once: {m}")

    # credentials from a container endpoint (fetched before the first request, the puts
    # wait for them): every write request carries the session token
    hits = []

    class Creds(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            hits.append(self.path)
            exp = (datetime.datetime.now(datetime.timezone.utc)
                   + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            body = json.dumps({"AccessKeyId": "AKIDCONTAINER", "SecretAccessKey": "fault-secret-xyzzy",
                               "Token": "container-session-token", "Expiration": exp}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    cs = ThreadingHTTPServer(("127.0.0.1", 0), Creds)
    threading.Thread(target=cs.serve_forever, daemon=True).start()
    try:
        cenv = dict(env, AWS_CONTAINER_CREDENTIALS_FULL_URI=
                    f"http://127.0.0.1:{cs.server_address[1]}/creds")
        copts = {"endpoint": opts["endpoint"], "allow_http": "true"}
        set_rules(rules, [])
        srv.reset_log()
        r = drive(driver, url, copts, ["put", "viacreds.bin", big, 3, PART, "-"], cenv)["put"]
        writes = [e for e in srv.entries() if e["method"] != "GET"]
        check(r[0] == "ok" and r[4] == "same" and len(hits) >= 1 and writes and
              all(e["auth"] for e in writes), f"container credentials: {r} {hits}")
    finally:
        cs.shutdown()

    # delete: ok, and ok again when absent; 503 retried
    set_rules(rules, [{"match": "marker", "method": "DELETE", "fault": "status", "status": 503,
                       "times": 1}])
    d1 = drive(driver, url, opts, ["delete", "marker"], env)["delete"]
    d2 = drive(driver, url, opts, ["delete", "marker"], env)["delete"]
    check(d1[0] == "ok" and d1[1] == "2" and d2[0] == "ok", f"delete: {d1} {d2}")
    check(not os.path.exists(os.path.join(root, "marker")), "marker after delete")


if __name__ == "__main__":
    main()
