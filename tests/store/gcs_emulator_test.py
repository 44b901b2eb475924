"""GCS backend against the Cloud Storage emulator of npm firebase-tools (JSON API), plus a
small Python front on loopback for what no emulator does: the OAuth token endpoint (it
verifies our RS256 JWTs with `openssl dgst -verify`), the GCE metadata server, and bearer
checks (it answers 401 unless the request carries a token it issued, then forwards the
request to the emulator unchanged).

Checks: anonymous listing (awkward names, sizes, `updated`), paging over 1,050 objects
with page_size 100, ranged media reads, not_found, a root prefix in the URL,
STORAGE_EMULATOR_HOST; a service-account key: one token for many requests, refreshed when
it is about to expire, a JWT the token endpoint refuses -> auth error naming the token
endpoint; the GCE metadata token; a refused bearer token -> auth; a 403 with a GCS error
document -> access_denied with its reason; many reads at once equal the uploads; no token
or key material ever printed.

usage: gcs_emulator_test.py DRIVER NODE_DIR"""
import concurrent.futures
import base64
import hashlib
import http.client
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from tdtest.azgcs_testlib import blob_bytes, check, failures, parse_get, parse_list
from tdtest.gcs_emulator import start_emulator, upload
from tdtest.store_testlib import stop

def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Front(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, emu_port, pub_pem, tmp):
        super().__init__(("127.0.0.1", 0), Handler)
        self.emu_port = emu_port
        self.pub_pem = pub_pem
        self.tmp = tmp
        self.lock = threading.Lock()
        self.tokens = set()
        self.token_count = 0
        self.meta_count = 0
        self.expires_in = 3600
        self.jwt_errors = []

    def issue(self, prefix):
        with self.lock:
            self.token_count += prefix == "tok"
            self.meta_count += prefix == "meta"
            t = f"{prefix}-{len(self.tokens) + 1}-{os.urandom(8).hex()}"
            self.tokens.add(t)
            return t


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body, ctype="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def verify_jwt(self, jwt):
        srv = self.server
        try:
            h, c, s = jwt.split(".")
            claims = json.loads(b64url_decode(c))
            if claims.get("aud") != f"http://127.0.0.1:{srv.server_address[1]}/token":
                return f"bad aud {claims.get('aud')}"
            if claims.get("scope") != "https://www.googleapis.com/auth/devstorage.read_only":
                return "bad scope"
            if abs(claims["iat"] - time.time()) > 300 or claims["exp"] - claims["iat"] != 3600:
                return "bad times"
            d = tempfile.mkdtemp(dir=srv.tmp)
            with open(os.path.join(d, "in"), "w") as f:
                f.write(f"{h}.{c}")
            with open(os.path.join(d, "sig"), "wb") as f:
                f.write(b64url_decode(s))
            v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", srv.pub_pem,
                                "-signature", os.path.join(d, "sig"), os.path.join(d, "in")],
                               capture_output=True)
            shutil.rmtree(d)
            return None if v.returncode == 0 else "bad signature"
        except Exception as e:  # noqa: BLE001 - any malformed JWT is an error answer
            return f"malformed: {e}"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        if self.path != "/token":
            return self.reply(404, b"{}")
        q = urllib.parse.parse_qs(body)
        if q.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return self.reply(400, b'{"error":"unsupported_grant_type"}')
        err = self.verify_jwt(q.get("assertion", [""])[0])
        if err:
            self.server.jwt_errors.append(err)
            return self.reply(400, json.dumps({"error": "invalid_grant",
                                               "error_description": "Invalid JWT Signature."})
                              .encode())
        tok = self.server.issue("tok")
        self.reply(200, json.dumps({"access_token": tok, "expires_in": self.server.expires_in,
                                    "token_type": "Bearer"}).encode())

    def do_GET(self):
        if self.path.startswith("/computeMetadata/v1/instance/service-accounts/default/token"):
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.reply(403, b"missing Metadata-Flavor", "text/plain")
            tok = self.server.issue("meta")
            return self.reply(200, json.dumps({"access_token": tok, "expires_in": 3599,
                                               "token_type": "Bearer"}).encode())
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.server.tokens:
            return self.reply(401, json.dumps({"error": {"code": 401, "message":
                                               "Invalid Credentials", "errors": [
                                                   {"reason": "authError"}]}}).encode())
        if self.path.startswith("/storage/v1/b/forbidden/"):
            return self.reply(403, json.dumps({"error": {"code": 403, "message":
                                               "td@demo does not have storage.objects.list "
                                               "access", "errors": [
                                                   {"reason": "forbidden"}]}}).encode())
        c = http.client.HTTPConnection("127.0.0.1", self.server.emu_port, timeout=30)
        hdr = {}
        if self.headers.get("Range"):
            hdr["Range"] = self.headers["Range"]
        c.request("GET", self.path, headers=hdr)
        r = c.getresponse()
        data = r.read()
        extra = {}
        if r.getheader("Content-Range"):
            extra["Content-Range"] = r.getheader("Content-Range")
        self.reply(r.status, data, r.getheader("Content-Type", "application/octet-stream"),
                   extra)
        c.close()


def run(driver, url, opts, *cmd, env=None):
    args = [driver, url]
    for k, v in opts.items():
        args += ["-o", f"{k}={v}"]
    args += [str(c) for c in cmd]
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("GOOGLE_", "GCE_", "STORAGE_EMULATOR", "CLOUDSDK_"))}
    e["HOME"] = "/nonexistent"  # no gcloud application-default credentials
    e.update(env or {})
    p = subprocess.run(args, capture_output=True, timeout=300, env=e)
    if p.stderr.strip():
        print("driver stderr:", p.stderr.decode("utf-8", "replace")[-3000:])
    return p.stdout.decode("utf-8", "replace")


def main():
    driver, node_dir = sys.argv[1], sys.argv[2]
    if not os.path.exists(os.path.join(node_dir, "node_modules", "firebase-tools")):
        print(f"firebase-tools is not installed in {node_dir} (npm ci in tests/node)")
        return 77
    tmp = tempfile.mkdtemp(prefix="td-gcs-")
    proc, port = start_emulator(node_dir, tmp)
    front = None
    try:
        if port is None:
            print("the emulator did not start:", proc.stderr.read().decode()[-2000:])
            return 1
        pem = os.path.join(tmp, "key.pem")
        pub = os.path.join(tmp, "pub.pem")
        subprocess.run(["openssl", "genrsa", "-out", pem, "2048"], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", pem, "-pubout", "-out", pub], check=True,
                       capture_output=True)
        front = Front(port, pub, tmp)
        threading.Thread(target=front.serve_forever, daemon=True).start()
        return tests(driver, port, front, pem, tmp)
    finally:
        if front:
            front.shutdown()
            front.server_close()
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def keyfile(tmp, name, pem, token_uri):
    pk8 = subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", pem], check=True,
                         capture_output=True).stdout.decode()
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump({"type": "service_account", "project_id": "demo", "private_key_id": "k1",
                   "private_key": pk8, "client_email": "td@demo.iam.gserviceaccount.com",
                   "token_uri": token_uri}, f)
    return path, pk8


def tests(driver, port, front, pem, tmp):
    emu = f"http://127.0.0.1:{port}"
    fport = front.server_address[1]
    fr = f"http://127.0.0.1:{fport}"
    anon = {"google_base_url": emu, "skip_signature": "true"}

    awkward = ["a b/c.tif", "ünï/ø.tif", "plus+sign.tif", "q?x#y&z=1.tif", "pct%41.tif",
               "dir/sub/deep.tif", "tilde~;,$@!'()*.tif"]
    sizes = {n: 1000 + 37 * i for i, n in enumerate(awkward)}
    for n in awkward:
        upload(port, "data", n, blob_bytes(n, sizes[n]))
    many = [f"many/{i:05d}.tif" for i in range(1050)]
    with concurrent.futures.ThreadPoolExecutor(16) as ex:  # bounded concurrency
        list(ex.map(lambda n: upload(port, "data", n, blob_bytes(n, 80)), many))

    # --- anonymous, straight to the emulator
    out = run(driver, "gs://data", anon, "list", 1000, "")
    entries, pages, end = parse_list(out)
    names = {e[0]: e for e in entries}
    check(end == ("ok", "") and len(entries) == len(awkward) + len(many),
          f"anonymous: {len(entries)} objects listed ({end})")
    check(all(n in names and names[n][1] == sizes[n] for n in awkward),
          "anonymous: awkward names with their sizes")
    check(all(abs(names[n][2] - time.time() * 1000) < 3600e3 for n in awkward),
          "anonymous: `updated` parsed to ms near now")
    for n in awkward:
        g = parse_get(run(driver, "gs://data", anon, "get", n, 5, 30))
        check(g["status"] == "ok" and bytes.fromhex(g["hex"]) == blob_bytes(n, sizes[n])[5:35],
              f"anonymous: ranged read of {n!r} ({g['status']} {g['msg']})")
    g = parse_get(run(driver, "gs://data", anon, "get", "missing.tif", 0, 10))
    check(g["status"] == "not_found", f"anonymous: missing object -> not_found ({g})")

    out = run(driver, "gs://data", anon, "list", 100, "many/")
    entries, pages, end = parse_list(out)
    got = [e[0] for e in entries]
    check(end == ("ok", "") and len(pages) >= 11 and max(pages) <= 100,
          f"paging: {len(pages)} pages of <= 100 ({end})")
    check(sorted(got) == many and len(set(got)) == len(got), "paging: all 1,050, no duplicate")

    out = run(driver, "gs://data/dir/", anon, "list", 10, "")
    entries, _, end = parse_list(out)
    check([e[0] for e in entries] == ["sub/deep.tif"], f"root prefix: relative keys {entries}")
    g = parse_get(run(driver, "gs://data/dir", anon, "get", "sub/deep.tif", 0, 8))
    check(g["status"] == "ok" and bytes.fromhex(g["hex"]) == blob_bytes("dir/sub/deep.tif", 8),
          "root prefix: read relative to it")

    out = run(driver, "gs://data", {}, "list", 1000, "dir/",
              env={"STORAGE_EMULATOR_HOST": f"127.0.0.1:{port}"})
    check(parse_list(out)[2] == ("ok", "") and len(parse_list(out)[0]) == 1,
          "STORAGE_EMULATOR_HOST: anonymous listing")

    # --- service-account key through the front (token endpoint + bearer check)
    kf, pk8 = keyfile(tmp, "sa.json", pem, f"{fr}/token")
    sa = {"google_base_url": fr, "service_account": kf}
    out = run(driver, "gs://data", sa, "list", 100, "many/")
    entries, pages, end = parse_list(out)
    check(end == ("ok", "") and len(entries) == 1050,
          f"service account: listing through the bearer check ({end}, {front.jwt_errors})")
    check(front.token_count == 1, f"service account: one token for {len(pages)} pages "
                                  f"({front.token_count})")
    out = run(driver, "gs://data/many", sa, "fetchall", 1000, 80, 32)
    ok = sum(1 for line in out.splitlines() if line.startswith("F\t") and
             line.split("\t")[2] == "ok" and line.split("\t")[4] ==
             hashlib.sha256(blob_bytes("many/" + bytes.fromhex(line.split("\t")[1]).decode(),
                                      80)).hexdigest())
    check(ok == 1050, f"service account: {ok} of 1050 concurrent reads equal the uploads")
    check(front.token_count == 2, f"service account: one token per process, shared by the "
                                  f"reads waiting for it ({front.token_count})")
    with open(kf) as f:
        keyjson = f.read()
    out = run(driver, "gs://data", {"google_base_url": fr, "service_account_key": keyjson},
              "list", 1000, "dir/")
    check(parse_list(out)[2] == ("ok", ""), "service_account_key (inline JSON)")
    out = run(driver, "gs://data", {"google_base_url": fr}, "list", 1000, "dir/",
              env={"GOOGLE_APPLICATION_CREDENTIALS": kf})
    check(parse_list(out)[2] == ("ok", ""), "GOOGLE_APPLICATION_CREDENTIALS")

    # tokens about to expire are refreshed (store_token.h: less than min(5 min, L/2) left
    # starts a refresh, less than min(1 min, L/10) waits for it); a listing that outlives
    # 1 s tokens (210 pages) takes more than one. Timed refresh: gcs_auth_flows.py.
    front.expires_in = 1
    before = front.token_count
    out = run(driver, "gs://data", sa, "list", 5, "many/")
    entries, pages, end = parse_list(out)
    check(end == ("ok", "") and len(entries) == 1050 and front.token_count - before >= 2,
          f"refresh: {front.token_count - before} tokens for {len(pages)} pages")
    front.expires_in = 3600

    # a JWT the token endpoint refuses (signed with another key)
    other = os.path.join(tmp, "other.pem")
    subprocess.run(["openssl", "genrsa", "-out", other, "2048"], check=True,
                   capture_output=True)
    kf2, pk8_2 = keyfile(tmp, "other.json", other, f"{fr}/token")
    out = run(driver, "gs://data", {"google_base_url": fr, "service_account": kf2}, "list", 10,
              "")
    end = parse_list(out)[2]
    check(end[0] == "auth" and "token endpoint" in end[1] and "invalid_grant" in end[1],
          f"refused JWT -> auth ({end})")
    g = parse_get(run(driver, "gs://data", {"google_base_url": fr, "service_account": kf2},
                      "get", "a b/c.tif", 0, 10))
    check(g["status"] == "auth", f"refused JWT: read fails with auth ({g['msg']})")
    body_lines = [ln for ln in pk8_2.splitlines() if ln and not ln.startswith("-----")]
    check(not any(ln in out for ln in body_lines), "no private key material printed")

    # --- GCE metadata server
    before = front.meta_count
    out = run(driver, "gs://data", {"google_base_url": fr}, "list", 1000, "dir/",
              env={"GCE_METADATA_HOST": f"127.0.0.1:{fport}"})
    check(parse_list(out)[2] == ("ok", "") and front.meta_count == before + 1,
          f"GCE metadata token ({parse_list(out)[2]})")

    # --- refused bearer token, 403 document
    out = run(driver, "gs://data", {"google_base_url": fr, "bearer_token": "junk-token"},
              "list", 10, "")
    end = parse_list(out)[2]
    check(end[0] == "auth" and "junk-token" not in out, f"refused bearer token ({end})")
    out = run(driver, "gs://forbidden", sa, "list", 10, "")
    end = parse_list(out)[2]
    check(end[0] == "access_denied" and "forbidden" in end[1], f"403 document ({end})")
    check(not any(t in out for t in front.tokens), "no access token printed")

    # --- configuration errors
    end = parse_list(run(driver, "gs://data", dict(anon, nope="1"), "list", 1, ""))[2]
    check(end[0] == "config" and "nope" in end[1], f"unknown option named ({end})")
    end = parse_list(run(driver, "gs://data", {"service_account": "/nonexistent.json"}, "list",
                         1, ""))[2]
    check(end[0] == "auth" and "/nonexistent.json" in end[1], f"missing key file ({end})")
    end = parse_list(run(driver, "gs://Bad!Bucket", anon, "list", 1, ""))[2]
    check(end[0] == "config", f"invalid bucket name ({end})")

    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
