"""A fault-injecting object server for tests (Python standard library only, loopback only).

It serves the files of one folder the way the stores read them, so every store that speaks
HTTP can be pointed at it with `keys_from` (no listing needed) or, for the HTTP store, with
WebDAV PROPFIND listings:

  style http   GET /BASE/KEY                       (store.name http://127.0.0.1:PORT/BASE/)
  style s3     GET /BUCKET/KEY                     (endpoint http://127.0.0.1:PORT, path style)
  style azure  GET /ACCOUNT/CONTAINER/KEY or /CONTAINER/KEY (endpoint http://127.0.0.1:PORT/ACCOUNT)
  style gcs    GET .../b/BUCKET/o/ENCODED_KEY?alt=media (google base url http://127.0.0.1:PORT)

What goes wrong is set per object by rules (first match wins) in a JSON file given with
--rules, re-read when it changes, so one server can serve a whole test:

  {"rules": [{"match": "stall/*", "fault": "stall", "seconds": 30},
             {"match": "*.tif", "fault": "status", "status": 503, "times": 3}]}

Faults:
  ok            206 with the asked range (the default)
  stall         answer nothing for `seconds` (at most 120), then close
  reset         close the connection with a TCP reset, no answer
  short         promise the asked length, send half of it, close
  wrong_range   206 with bytes from `delta` bytes further on, Content-Range telling so
  lying_range   206 with bytes from `delta` bytes further on, Content-Range claiming the asked
                range (only the bytes show it: the test checks what the tool does with them)
  bad_total     206 with the asked bytes but a Content-Range whose total changes per request
  endless       200 without Content-Length, bytes for up to `seconds` (at most 60)
  status        answer `status` (e.g. 503, 429, 500) the first `times` requests, then ok
                (times 0 or absent: always)
  redirect      302 to `location` (another server, e.g. 127.0.0.2); the target logs whether
                credentials (Authorization, x-ms-*, X-Amz-*) arrived with it
  http09        raw bytes without a status line, then close
  huge_header   a 200 whose headers hold one line of `bytes` (default 1 MiB)
  drop_next     answer normally, keep the connection, and close it without an answer when
                the next request arrives on it (an idle keep-alive connection the server
                dropped just as the client reused it)
  close_after   answer normally (keep-alive, no Connection: close), then close at once
  chunked       206 with the body in `pieces` chunks (default 3), a chunk extension and a
                trailer
  bad_chunk     206 chunked whose first chunk-size line is not hex
  slow          206 sent `step` bytes (default 512) every `interval` seconds (default 0.02)
  interim       `count` 100 Continue heads (default 1, at most 100000), then the 206
  early_close   a status line and one header, then close (inside the response head)
  delay         wait `seconds` (at most 120), then answer as ok (a slow store; PROPFIND too)

Writes, style gcs: POST /upload/storage/v1/b/B/o?uploadType=media&name=K stores an object
(ifGenerationMatch=0 answers 412 when it exists); uploadType=resumable opens a session
(Location: this server's URL with upload_id), PUTs with Content-Range a-b/total append
(308 with Range: bytes=0-N until the last byte, then the object is written at once; a rule
with fault "partial" keeps only half of a chunk and says so in Range), DELETE of the
session answers 499; DELETE /storage/v1/b/B/o/K removes an object. Rules match the object
name, "method" and "query" ("uploadType=resumable", "upload_id") as for s3.

Writes (style s3): PUT stores an object (If-None-Match: * answers 412 when it exists),
POST ?uploads / PUT ?partNumber&uploadId / POST ?uploadId / DELETE ?uploadId are S3's
multipart upload (parts kept in memory until Complete writes the object at once), DELETE
removes an object. A body whose x-amz-content-sha256 is a hash it does not match is refused
(400 XAmzContentSHA256Mismatch). A rule may also name "method" (PUT, POST, DELETE, GET) and a
"query" substring ("partNumber=2", "uploads") to hit one step; faults on writes: status,
reset (after reading the body), stall. GET /BUCKET?list-type=2&prefix=P answers one
ListObjectsV2 page of the files under --root starting with P (a rule with method "LIST"
matching P may answer a status instead). The log line of a write carries "query". With
--s3-secret a signed write's SigV4 signature is checked (over the path and query as sent,
the signed headers and x-amz-content-sha256): a mismatch answers 403
SignatureDoesNotMatch.

Every request is logged as one JSON line (method, path, range, status sent, fault, whether an
Authorization header came) to --log, for the test to check what the tool did.

Listing (style http): PROPFIND Depth 1 on a folder lists it; a `status` or `http09` rule
whose match names the folder ("dir/") answers its PROPFIND that way instead. With --tree W,D the server
answers PROPFIND for a virtual tree W folders wide and D deep holding no TIFF (to prove the
lister's memory stays bounded), and GETs 404; --tree W,D,F puts F files (*.dat, not TIFF)
in each directory of the deepest level (wide directories).

usage: python3 faultsrv.py --root DIR --style http|s3|azure|gcs [--base /data/] [--rules F]
                            [--log F] [--bind 127.0.0.1] [--port-file F] [--tree W,D]
                            [--s3-secret S]
Prints "PORT <n>" on stdout when ready (and writes it to --port-file).
"""
import argparse
import fnmatch
import itertools
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

MAX_STALL = 120.0
SESSIONS = {}  # GCS resumable sessions: id -> {"key", "data", "q"}
UPLOADS = {}  # multipart uploads in progress: id -> {part number: (etag, bytes)}
# ids of sessions and uploads: never reused (len() + 1 was, once one had ended, and two
# requests of the threaded server could take the same one)
NEXT_ID = itertools.count(1)
MAX_ENDLESS = 60.0


class Rules:
    """The rule file, re-read when its mtime changes; per-rule hit counters for `times`."""

    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.rules = []
        self.hits = {}
        self.lock = threading.Lock()

    def match(self, key, method=None, query=""):
        with self.lock:
            if self.path:
                try:
                    m = os.stat(self.path).st_mtime_ns
                except OSError:
                    m = None
                if m != self.mtime:
                    self.mtime = m
                    try:
                        with open(self.path) as f:
                            self.rules = json.load(f).get("rules", [])
                    except (OSError, ValueError):
                        self.rules = []
                    self.hits = {}
            for i, r in enumerate(self.rules):
                if "method" in r and r["method"] != method:
                    continue
                if "query" in r and r["query"] not in query:
                    continue
                if fnmatch.fnmatchcase(key, r.get("match", "*")):
                    n = self.hits.get(i, 0)
                    self.hits[i] = n + 1
                    times = int(r.get("times", 0) or 0)
                    if r.get("fault") == "status" and times and n >= times:
                        return {"fault": "ok"}
                    return r
            return {"fault": "ok"}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # a client that hangs up (a canceled or timed-out transfer) is what the tests do on
        # purpose: not worth a traceback; anything else still prints one
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def key_of(style, base, path):
    """The object key a request path names, or None."""
    parts = urlsplit(path)
    p = parts.path
    if style == "http":
        if not p.startswith(base):
            return None
        return unquote(p[len(base):])
    if style == "s3":
        segs = p.lstrip("/").split("/", 1)
        return unquote(segs[1]) if len(segs) == 2 else None
    if style == "azure":
        segs = p.lstrip("/").split("/")
        # /ACCOUNT/CONTAINER/KEY (emulator style) or /CONTAINER/KEY
        if len(segs) >= 3 and base.strip("/") == segs[0]:
            return unquote("/".join(segs[2:]))
        return unquote("/".join(segs[1:])) if len(segs) >= 2 else None
    if style == "gcs":
        i = p.find("/o/")
        return unquote(p[i + 3:]) if i >= 0 else None
    return None


def parse_range(h):
    if not h or not h.startswith("bytes="):
        return None
    a, _, b = h[6:].partition("-")
    try:
        start = int(a)
        end = int(b) if b else None
    except ValueError:
        return None
    return start, end


def sigv4_ok(h, secret):
    """Whether request handler h carries a valid SigV4 signature made with secret."""
    import hmac
    from urllib.parse import quote
    auth = h.headers.get("Authorization", "")
    try:
        algo, rest = auth.split(" ", 1)
        f = dict(x.strip().split("=", 1) for x in rest.split(","))
        _, date, region, service, _ = f["Credential"].split("/")
        signed = f["SignedHeaders"].split(";")
    except ValueError:
        return False
    parts = urlsplit(h.path)
    pairs = []
    for x in parts.query.split("&") if parts.query else []:
        k, _, v = x.partition("=")
        pairs.append((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~")))
    cq = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    ch = "".join(f"{n}:{' '.join((h.headers.get(n) or '').split())}\n" for n in signed)
    creq = "\n".join([h.command, parts.path, cq, ch, ";".join(signed),
                      h.headers.get("x-amz-content-sha256", "")])
    sts = "\n".join([algo, h.headers.get("x-amz-date", ""),
                     f"{date}/{region}/{service}/aws4_request",
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for m in (date, region, service, "aws4_request"):
        k = hmac.new(k, m.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(k, sts.encode(), hashlib.sha256).hexdigest(),
                               f.get("Signature", ""))


def make_handler(opts, rules, log):
    log_lock = threading.Lock()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def record(self, status, fault, key):
            if not log:
                return
            creds = any(k.lower() in ("authorization", "x-amz-security-token",
                                      "x-ms-date", "x-amz-date")
                        for k in self.headers.keys())
            line = json.dumps({"t": time.time(), "method": self.command, "path": self.path,
                               "query": urlsplit(self.path).query,
                               "key": key, "range": self.headers.get("Range"),
                               "status": status, "fault": fault, "auth": creds})
            with log_lock:
                with open(log, "a") as f:
                    f.write(line + "\n")

        def raw(self, data):
            try:
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                pass

        def reset(self):
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            except OSError:
                pass
            self.close_connection = True
            try:
                self.connection.close()
            except OSError:
                pass

        def send(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.raw(body)

        # ---------------------------------------------------------------- GET / HEAD
        def do_HEAD(self):
            self.do_GET()

        def _s3_list(self):
            """ListObjectsV2 (style s3, one page, no delimiter): the files under --root whose
            key starts with `prefix`, for a run that lists its OUT before replacing it."""
            q = dict(x.split("=", 1) if "=" in x else (x, "")
                     for x in urlsplit(self.path).query.split("&") if x)
            prefix = unquote(q.get("prefix", ""))
            rule = rules.match(prefix, "LIST")
            if rule.get("fault") == "status":
                st = int(rule.get("status", 503))
                self.record(st, "status", prefix)
                return self.send(st, b"<Error><Code>Err</Code></Error>")
            items = []
            for d, _, files in os.walk(opts.root):
                for f in files:
                    k = os.path.relpath(os.path.join(d, f), opts.root)
                    if k.startswith(prefix) and not k.endswith(".faultsrv-tmp"):
                        items.append((k, os.path.getsize(os.path.join(d, f))))
            body = b"<ListBucketResult><IsTruncated>false</IsTruncated>"
            for k, n in sorted(items)[:1000]:
                body += (b"<Contents><Key>%s</Key><Size>%d</Size><LastModified>"
                         b"2026-01-01T00:00:00.000Z</LastModified></Contents>"
                         % (k.replace("&", "&amp;").replace("<", "&lt;").encode(), n))
            self.record(200, "ok", prefix)
            return self.send(200, body + b"</ListBucketResult>")

        def do_GET(self):
            key = key_of(opts.style, opts.base, self.path)
            if opts.style == "s3" and key is None and "list-type=2" in self.path:
                return self._s3_list()
            if getattr(self, "drop_pending", False):
                # the connection served a drop_next answer: this request is not answered
                self.record(0, "drop_next", key)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return None
            if opts.tree or key is None:
                self.record(404, "none", key)
                return self.send(404, b"not found")
            rule = rules.match(key)
            fault = rule.get("fault", "ok")
            fpath = os.path.join(opts.root, key)
            try:
                if not os.path.realpath(fpath).startswith(os.path.realpath(opts.root) + os.sep):
                    raise OSError
                with open(fpath, "rb") as f:
                    data = f.read()
            except OSError:
                self.record(404, fault, key)
                return self.send(404, b"not found")
            size = len(data)
            rng = parse_range(self.headers.get("Range"))
            start, end = (0, size - 1) if rng is None else (rng[0], rng[1] if rng[1] is not None else size - 1)
            end = min(end, size - 1)
            if start >= size:
                self.record(416, fault, key)
                return self.send(416, b"", [("Content-Range", "bytes */%d" % size)])

            if fault == "delay":
                time.sleep(min(float(rule.get("seconds", 1)), MAX_STALL))
                fault = "ok"
            if fault == "stall":
                self.record(0, fault, key)
                time.sleep(min(float(rule.get("seconds", 30)), MAX_STALL))
                return self.reset()
            if fault == "reset":
                self.record(0, fault, key)
                return self.reset()
            if fault == "status":
                st = int(rule.get("status", 503))
                self.record(st, fault, key)
                hdr = [("Retry-After", str(rule["retry_after"]))] if "retry_after" in rule else []
                return self.send(st, b"fault injected", hdr)
            if fault == "redirect":
                self.record(302, fault, key)
                return self.send(302, b"", [("Location", rule["location"] + quote(key))])
            if fault == "http09":
                self.record(0, fault, key)
                self.raw(data[start:end + 1])
                self.close_connection = True
                return None
            if fault == "huge_header":
                self.record(200, fault, key)
                n = int(rule.get("bytes", 1 << 20))
                self.raw(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * n + b"\r\nContent-Length: 0\r\n\r\n")
                self.close_connection = True
                return None
            if fault == "endless":
                self.record(200, fault, key)
                self.raw(b"HTTP/1.1 200 OK\r\nContent-Type: image/tiff\r\nConnection: close\r\n\r\n")
                deadline = time.time() + min(float(rule.get("seconds", 20)), MAX_ENDLESS)
                chunk = (data or b"\0") * (65536 // max(1, len(data)) + 1)
                while time.time() < deadline:
                    try:
                        self.wfile.write(chunk[:65536])
                    except OSError:
                        break
                self.close_connection = True
                return None

            body = data[start:end + 1]
            crange = "bytes %d-%d/%d" % (start, end, size)
            if fault == "early_close":
                self.record(206, fault, key)
                self.raw(b"HTTP/1.1 206 Partial Content\r\nContent-Type: image/tiff\r\n")
                self.close_connection = True
                return None
            if fault in ("chunked", "bad_chunk"):
                self.record(206, fault, key)
                head = ("HTTP/1.1 206 Partial Content\r\nContent-Range: %s\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n" % crange).encode()
                if fault == "bad_chunk":
                    self.raw(head + b"zz\r\n" + body + b"\r\n0\r\n\r\n")
                    self.close_connection = True
                    return None
                n = max(1, int(rule.get("pieces", 3)))
                step = max(1, -(-len(body) // n))
                out = bytearray(head)
                for i in range(0, len(body), step):
                    part = body[i:i + step]
                    out += b"%x;ext=1\r\n" % len(part) + part + b"\r\n"
                out += b"0\r\nX-Trailer: 1\r\n\r\n"
                self.raw(bytes(out))
                return None
            if fault in ("slow", "interim"):
                self.record(206, fault, key)
                resp = ("HTTP/1.1 206 Partial Content\r\nContent-Range: %s\r\n"
                        "Content-Length: %d\r\n\r\n" % (crange, len(body))).encode() + body
                if fault == "interim":
                    k = min(max(1, int(rule.get("count", 1))), 100000)
                    self.raw(b"HTTP/1.1 100 Continue\r\n\r\n" * k + resp)
                    return None
                st = max(1, int(rule.get("step", 512)))
                iv = min(float(rule.get("interval", 0.02)), 1.0)
                for i in range(0, len(resp), st):
                    self.raw(resp[i:i + st])
                    time.sleep(iv)
                return None
            if fault in ("wrong_range", "lying_range"):
                d = int(rule.get("delta", 512))
                s2 = min(start + d, size - 1)
                e2 = min(s2 + (end - start), size - 1)
                body = data[s2:e2 + 1]
                if fault == "wrong_range":
                    crange = "bytes %d-%d/%d" % (s2, e2, size)
            elif fault == "bad_total":
                crange = "bytes %d-%d/%d" % (start, end, size + 1000 + int(time.time() * 1000) % 1000)
            if fault == "short":
                self.record(206, fault, key)
                self.send_response(206)
                self.send_header("Content-Range", crange)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.raw(body[:len(body) // 2])
                self.close_connection = True
                return None
            status = 206 if rng is not None else 200
            self.record(status, fault, key)
            hdr = [("Content-Type", "image/tiff"), ("ETag", '"%x"' % (size * 2654435761 % (1 << 32)))]
            if status == 206:
                hdr.append(("Content-Range", crange))
            self.send(status, body, hdr)
            if fault == "drop_next":
                self.drop_pending = True
            elif fault == "close_after":
                self.close_connection = True
            return None

        # ---------------------------------------------------------------- writes (s3)
        def _write(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            key = key_of(opts.style, opts.base, self.path)
            query = urlsplit(self.path).query
            if opts.style != "s3" or key is None or opts.tree:
                self.record(404, "none", key)
                return None, None, None, None
            rule = rules.match(key, self.command, query)
            fault = rule.get("fault", "ok")
            if fault == "reset":
                self.record(0, fault, key)
                self.reset()
                return None, None, None, None
            if fault == "delay":
                time.sleep(min(float(rule.get("seconds", 1)), MAX_STALL))
                fault = "ok"
            if fault == "stall":
                self.record(0, fault, key)
                time.sleep(min(float(rule.get("seconds", 30)), MAX_STALL))
                self.reset()
                return None, None, None, None
            if fault == "status":
                st = int(rule.get("status", 503))
                self.record(st, fault, key)
                code = {403: "AccessDenied", 500: "InternalError", 503: "SlowDown"}.get(st, "Err")
                self.send(st, b"<Error><Code>%s</Code><Message>fault injected</Message></Error>"
                          % code.encode())
                return None, None, None, None
            if opts.s3_secret and self.headers.get("Authorization") and \
                    not sigv4_ok(self, opts.s3_secret):
                self.record(403, "bad_signature", key)
                self.send(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
                return None, None, None, None
            sha = self.headers.get("x-amz-content-sha256")
            if sha and sha != "UNSIGNED-PAYLOAD" and sha != hashlib.sha256(body).hexdigest():
                self.record(400, "sha_mismatch", key)
                self.send(400, b"<Error><Code>XAmzContentSHA256Mismatch</Code></Error>")
                return None, None, None, None
            fpath = os.path.join(opts.root, key)
            if not os.path.realpath(fpath).startswith(os.path.realpath(opts.root) + os.sep):
                self.record(403, "outside", key)
                self.send(403, b"<Error><Code>AccessDenied</Code></Error>")
                return None, None, None, None
            return key, query, body, fpath

        def _store(self, key, fpath, data):
            if self.headers.get("If-None-Match") == "*" and os.path.exists(fpath):
                self.record(412, "ok", key)
                self.send(412, b"<Error><Code>PreconditionFailed</Code></Error>")
                return False
            os.makedirs(os.path.dirname(fpath), exist_ok=True)
            tmp = fpath + ".faultsrv-tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, fpath)
            return True

        # ---------------------------------------------------------------- writes (gcs)
        def _gcs_write(self):
            """(rule, key, query dict, body, file path) or None when answered already."""
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            parts = urlsplit(self.path)
            q = dict(x.split("=", 1) if "=" in x else (x, "") for x in parts.query.split("&")
                     if x)
            if "upload_id" in q:
                key = SESSIONS.get(q["upload_id"], {}).get("key")
            elif "name" in q:
                key = unquote(q["name"])
            else:
                key = key_of("gcs", opts.base, self.path)
            if key is None:
                self.record(404, "none", None)
                self.send(404, b'{"error":{"code":404,"message":"no such upload"}}')
                return None
            rule = rules.match(key, self.command, parts.query)
            fault = rule.get("fault", "ok")
            if fault == "reset":
                self.record(0, fault, key)
                self.reset()
                return None
            if fault == "status":
                st = int(rule.get("status", 503))
                self.record(st, fault, key)
                self.send(st, b'{"error":{"code":%d,"message":"fault injected"}}' % st)
                return None
            fpath = os.path.join(opts.root, key)
            if not os.path.realpath(fpath).startswith(os.path.realpath(opts.root) + os.sep):
                self.record(403, "outside", key)
                self.send(403, b'{"error":{"code":403,"message":"outside"}}')
                return None
            return rule, key, q, body, fpath

        def _gcs_store(self, key, fpath, data, q):
            if q.get("ifGenerationMatch") == "0" and os.path.exists(fpath):
                self.record(412, "ok", key)
                self.send(412, b'{"error":{"code":412,"message":"Precondition Failed"}}')
                return False
            os.makedirs(os.path.dirname(fpath), exist_ok=True)
            with open(fpath + ".faultsrv-tmp", "wb") as f:
                f.write(data)
            os.replace(fpath + ".faultsrv-tmp", fpath)
            self.record(200, "ok", key)
            self.send(200, json.dumps({"name": key, "size": str(len(data))}).encode())
            return True

        def _gcs_post(self):
            got = self._gcs_write()
            if got is None:
                return None
            rule, key, q, body, fpath = got
            if q.get("uploadType") == "media":
                self._gcs_store(key, fpath, body, q)
                return None
            if q.get("uploadType") == "resumable":
                sid = "s%d" % next(NEXT_ID)
                SESSIONS[sid] = {"key": key, "data": b"", "q": q}
                host = self.headers.get("Host")
                self.record(200, "ok", key)
                return self.send(200, b"", [("Location", "http://%s/upload/storage/v1/b/x/o?"
                                             "uploadType=resumable&upload_id=%s" % (host, sid))])
            self.record(400, "ok", key)
            return self.send(400, b"")

        def _gcs_put(self):
            got = self._gcs_write()
            if got is None:
                return None
            rule, key, q, body, fpath = got
            sess = SESSIONS.get(q.get("upload_id"))
            cr = self.headers.get("Content-Range", "")
            try:
                span, total = cr[len("bytes "):].split("/")
                a, b = (int(x) for x in span.split("-"))
                total = int(total)
            except ValueError:
                self.record(400, "ok", key)
                return self.send(400, b"bad Content-Range")
            have = sess["data"]
            if a > len(have) or b - a + 1 != len(body):
                self.record(400, "ok", key)
                return self.send(400, b"gap or length mismatch")
            if rule.get("fault") == "partial":
                body = body[:max(1, len(body) // 2)]
                b = a + len(body) - 1
            sess["data"] = have[:a] + body if a < len(have) else have + body
            n = len(sess["data"])
            if n >= total:
                del SESSIONS[q["upload_id"]]
                self._gcs_store(key, fpath, sess["data"][:total], sess["q"])
                return None
            self.record(308, rule.get("fault", "ok"), key)
            return self.send(308, b"", [("Range", "bytes=0-%d" % (n - 1))])

        def _gcs_delete(self):
            got = self._gcs_write()
            if got is None:
                return None
            rule, key, q, body, fpath = got
            if "upload_id" in q:
                SESSIONS.pop(q["upload_id"], None)
                self.record(499, "ok", key)
                return self.send(499, b"")
            if not os.path.exists(fpath):
                self.record(404, "ok", key)
                return self.send(404, b'{"error":{"code":404,"message":"Not Found"}}')
            os.unlink(fpath)
            self.record(204, "ok", key)
            return self.send(204, b"")

        def do_PUT(self):
            if opts.style == "gcs":
                return self._gcs_put()
            key, query, body, fpath = self._write()
            if key is None:
                return None
            q = dict(x.split("=", 1) if "=" in x else (x, "") for x in query.split("&") if x)
            etag = '"%s"' % hashlib.md5(body).hexdigest()
            if "partNumber" in q:
                up = UPLOADS.get(q.get("uploadId"))
                if up is None:
                    self.record(404, "ok", key)
                    return self.send(404, b"<Error><Code>NoSuchUpload</Code></Error>")
                up[int(q["partNumber"])] = (etag, body)
                self.record(200, "ok", key)
                return self.send(200, b"", [("ETag", etag)])
            if self._store(key, fpath, body):
                self.record(200, "ok", key)
                self.send(200, b"", [("ETag", etag)])
            return None

        def do_POST(self):
            if opts.style == "gcs":
                return self._gcs_post()
            key, query, body, fpath = self._write()
            if key is None:
                return None
            q = dict(x.split("=", 1) if "=" in x else (x, "") for x in query.split("&") if x)
            if "uploads" in q:
                uid = "up%d" % next(NEXT_ID)
                UPLOADS[uid] = {}
                self.record(200, "ok", key)
                return self.send(200, b"<InitiateMultipartUploadResult><UploadId>%s</UploadId>"
                                 b"</InitiateMultipartUploadResult>" % uid.encode())
            up = UPLOADS.get(q.get("uploadId"))
            if up is None:
                self.record(404, "ok", key)
                return self.send(404, b"<Error><Code>NoSuchUpload</Code></Error>")
            import re
            listed = re.findall(rb"<PartNumber>(\d+)</PartNumber><ETag>([^<]*)</ETag>", body)
            nums = [int(n) for n, _ in listed]
            if (not listed or nums != sorted(nums)
                    or any(int(n) not in up or up[int(n)][0].encode() != e.replace(b"&quot;", b'"')
                           for n, e in listed)):
                self.record(400, "ok", key)
                return self.send(400, b"<Error><Code>InvalidPart</Code></Error>")
            if self._store(key, fpath, b"".join(up[n][1] for n in nums)):
                del UPLOADS[q["uploadId"]]
                self.record(200, "ok", key)
                self.send(200, b"<CompleteMultipartUploadResult><ETag>\"x-%d\"</ETag>"
                          b"</CompleteMultipartUploadResult>" % len(nums))
            return None

        def do_DELETE(self):
            if opts.style == "gcs":
                return self._gcs_delete()
            key, query, body, fpath = self._write()
            if key is None:
                return None
            q = dict(x.split("=", 1) if "=" in x else (x, "") for x in query.split("&") if x)
            if "uploadId" in q:
                UPLOADS.pop(q["uploadId"], None)
            else:
                try:
                    os.unlink(fpath)
                except OSError:
                    pass
            self.record(204, "ok", key)
            return self.send(204, b"")

        # ---------------------------------------------------------------- PROPFIND
        def do_PROPFIND(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(min(n, 1 << 20))
            p = urlsplit(self.path).path
            if not p.startswith(opts.base):
                self.record(404, "none", None)
                return self.send(404, b"")
            rel = unquote(p[len(opts.base):])
            # a folder may meet a `status` rule too (match "dir/"): the listing's retries
            rule = rules.match(rel) if rel else {"fault": "ok"}
            if rule.get("fault") == "delay":
                time.sleep(min(float(rule.get("seconds", 1)), MAX_STALL))
            if rule.get("fault") == "status":
                st = int(rule.get("status", 503))
                self.record(st, "status", rel)
                return self.send(st, b"fault injected")
            if rule.get("fault") == "http09":
                self.record(0, "http09", rel)
                self.raw(b"<multistatus/>\n")
                self.close_connection = True
                return None
            entries = []  # (href, is_dir, size)
            if opts.tree:
                width, depth, files = (tuple(opts.tree) + (0,))[:3]
                level = len([s for s in rel.split("/") if s])
                if level < depth:
                    entries = [(p + "d%03d/" % i, True, 0) for i in range(width)]
                else:
                    entries = [(p + "f%06d.dat" % i, False, 1) for i in range(files)]
            else:
                d = os.path.join(opts.root, rel)
                if not os.path.isdir(d):
                    self.record(404, "none", rel)
                    return self.send(404, b"")
                for name in sorted(os.listdir(d)):
                    full = os.path.join(d, name)
                    isdir = os.path.isdir(full)
                    entries.append((p + quote(name) + ("/" if isdir else ""), isdir,
                                    0 if isdir else os.path.getsize(full)))
            out = ['<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">']
            out.append(self._resp(p, True, 0))
            for href, isdir, size in entries:
                out.append(self._resp(href, isdir, size))
            out.append("</D:multistatus>")
            body = "\n".join(out).encode()
            self.record(207, "list", rel)
            return self.send(207, body, [("Content-Type", 'application/xml; charset="utf-8"')])

        @staticmethod
        def _resp(href, isdir, size):
            rt = "<D:resourcetype><D:collection/></D:resourcetype>" if isdir else "<D:resourcetype/>"
            ln = "" if isdir else "<D:getcontentlength>%d</D:getcontentlength>" % size
            return ("<D:response><D:href>%s</D:href><D:propstat><D:prop>%s%s"
                    "<D:getlastmodified>Mon, 01 Jan 2024 00:00:00 GMT</D:getlastmodified>"
                    "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
                    % (href, rt, ln))

    return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=".")
    ap.add_argument("--style", choices=["http", "s3", "azure", "gcs"], default="http")
    ap.add_argument("--base", default="/data/")
    ap.add_argument("--rules")
    ap.add_argument("--log")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--tree")
    ap.add_argument("--s3-secret", help="check the SigV4 signature of S3 writes with it")
    ap.add_argument("--max-seconds", type=float, default=900.0,
                    help="the server stops by itself after this long")
    opts = ap.parse_args()
    if not (opts.bind.startswith("127.") or opts.bind == "::1"):
        sys.exit("faultsrv: binds loopback only")
    opts.tree = tuple(int(x) for x in opts.tree.split(",")) if opts.tree else None
    srv = Server((opts.bind, opts.port), make_handler(opts, Rules(opts.rules), opts.log))
    port = srv.server_address[1]
    if opts.port_file:
        with open(opts.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(opts.port_file + ".tmp", opts.port_file)
    print("PORT %d" % port, flush=True)
    threading.Timer(opts.max_seconds, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
