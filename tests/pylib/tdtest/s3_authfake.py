"""A loopback fake of the AWS endpoints the S3 credential flows talk to, checking what the
real ones check (tests/store/s3_auth_flows.py):

- STS AssumeRole (POST /, form): Action, Version, RoleArn, RoleSessionName, ExternalId,
  DurationSeconds, and a SigV4 Authorization (service sts) that botocore computes the same
  from the caller's credentials (with x-amz-security-token when they are temporary);
- the SSO portal's GetRoleCredentials (GET /federation/credentials?role_name=&account_id=,
  x-amz-sso_bearer_token);
- the container credentials endpoint (GET /container-creds with its Authorization token);
- S3 itself, path-style: ListObjectsV2 and ranged GETs, every request's SigV4 (service s3,
  or s3express for a directory bucket) recomputed with botocore from the secret of the
  access key it names, whose session token must come with it; S3 Express CreateSession
  (GET /BUCKET/?session) and the session token in x-amz-s3session-token; SSE-C objects
  that need the three x-amz-server-side-encryption-customer-* headers with the right MD5;
- a forward proxy: requests in absolute form ("GET http://host/... HTTP/1.1") are served
  as if they had reached host, and counted;
- with start_tls(): the same S3 over TLS, and a CONNECT proxy (connect_proxy_url) that
  tunnels every CONNECT to it, recording the targets asked for.

Every credential it hands out lives `lifetime` seconds; a request signed with expired
credentials is refused (400 ExpiredToken), as S3 does.
"""
import base64
import calendar
import datetime
import hashlib
import re
import select
import socket
import socketserver
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                     r" ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$")


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class Fake:
    def __init__(self):
        self.lock = threading.Lock()
        self.keys = {}  # access key -> (secret, token or None, expires or None)
        self.objects = {}  # (bucket, key) -> (bytes, sse-c key base64 or None)
        self.errors = []
        self.hits = {}
        self.sts_forms = []
        self.lifetime = 3600
        self.sso_token = None
        self.sso_role = None  # (account_id, role_name)
        self.container_auth = None
        self.web_identity_token = None
        self.delay = 0  # seconds STS waits before it answers
        self.proxied = []  # hosts reached through the proxy form
        self.n = 0
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.port = self.srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def start_tls(self, certfile, keyfile, proxy_cert=None, proxy_key=None):
        self.tls = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        self.tls.socket = ctx.wrap_socket(self.tls.socket, server_side=True)
        threading.Thread(target=self.tls.serve_forever, daemon=True).start()
        self.connects = []
        fake = self

        class Tunnel(socketserver.BaseRequestHandler):
            def handle(self):
                c = self.request
                if self.server.ctx:  # an https proxy: TLS to the proxy, then the tunnel
                    try:
                        c = self.server.ctx.wrap_socket(c, server_side=True)
                    except (ssl.SSLError, OSError):
                        return
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    try:
                        d = c.recv(4096)
                    except (ssl.SSLError, OSError):
                        return
                    if not d:
                        return
                    head += d
                line = head.split(b"\r\n", 1)[0].decode()
                if not line.startswith("CONNECT "):
                    c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                    return
                with fake.lock:
                    fake.connects.append(line.split()[1])
                up = socket.create_connection(("127.0.0.1", fake.tls.server_address[1]))
                c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                try:
                    for _ in range(100000):
                        r, _, _ = select.select([c, up], [], [], 10)
                        if not r:
                            break
                        for s in r:
                            d = s.recv(65536)
                            if not d:
                                return
                            (up if s is c else c).sendall(d)
                finally:
                    up.close()

        class TS(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.proxy = TS(("127.0.0.1", 0), Tunnel)
        self.proxy.ctx = None
        threading.Thread(target=self.proxy.serve_forever, daemon=True).start()
        self.connect_proxy_url = f"http://127.0.0.1:{self.proxy.server_address[1]}"
        self.tls_proxy = None
        if proxy_cert:
            self.tls_proxy = TS(("127.0.0.1", 0), Tunnel)
            self.tls_proxy.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_proxy.ctx.load_cert_chain(proxy_cert, proxy_key)
            threading.Thread(target=self.tls_proxy.serve_forever, daemon=True).start()
            self.https_proxy_url = f"https://127.0.0.1:{self.tls_proxy.server_address[1]}"

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
        if getattr(self, "tls", None):
            self.tls.shutdown()
            self.tls.server_close()
            self.proxy.shutdown()
            self.proxy.server_close()
            if self.tls_proxy:
                self.tls_proxy.shutdown()
                self.tls_proxy.server_close()

    def reset(self):
        with self.lock:
            self.errors, self.hits, self.sts_forms, self.proxied = [], {}, [], []
            self.connects = []

    def hit(self, what):
        with self.lock:
            self.hits[what] = self.hits.get(what, 0) + 1

    def error(self, what):
        with self.lock:
            self.errors.append(what)

    def add_key(self, ak, secret, token=None, lifetime=None):
        with self.lock:
            exp = time.time() + lifetime if lifetime else None
            self.keys[ak] = (secret, token, exp)

    def issue(self, prefix):
        """New temporary credentials: (access key, secret, token, expiration epoch)."""
        with self.lock:
            self.n += 1
            n = self.n
        ak, sk, tok = f"ASIA{prefix}{n}", f"secret/{prefix}+{n}", f"token/{prefix}={n}"
        self.add_key(ak, sk, tok, self.lifetime)
        return ak, sk, tok, time.time() + self.lifetime

    def verify(self, h, body, service, token_header="x-amz-security-token"):
        """The request's SigV4 recomputed with botocore; an error string or None."""
        auth = h.headers.get("Authorization", "")
        m = AUTH_RE.match(auth)
        if not m:
            return f"no SigV4 Authorization: {auth[:60]!r}"
        ak, date, region, svc, signed, sig = m.groups()
        if svc != service:
            return f"signed for service {svc}, not {service}"
        with self.lock:
            known = self.keys.get(ak)
        if not known:
            return f"unknown access key {ak}"
        secret, token, exp = known
        if exp is not None and time.time() > exp:
            return "expired"
        if token is not None and h.headers.get(token_header) != token:
            return f"temporary credentials without their token in {token_header}"
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names:
            return f"host / x-amz-date not signed: {signed}"
        for k in h.headers.keys():
            if k.lower().startswith("x-amz-") and k.lower() not in names:
                return f"header {k} sent but not signed"
        amz_date = h.headers.get("x-amz-date", "")
        if not amz_date.startswith(date):
            return "x-amz-date and the credential scope disagree"
        skew = abs(time.time() - calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")))
        if skew > 300:
            return "x-amz-date more than 5 minutes off"
        u = urlsplit(h.path)
        path = u.path if u.scheme else h.path.split("?")[0]
        query = u.query if u.scheme else (h.path.split("?", 1)[1] if "?" in h.path else "")
        url = f"http://{h.headers['Host']}{path}" + (f"?{query}" if query else "")
        headers = {n: h.headers.get(n, "") for n in names}
        req = AWSRequest(method=h.command, url=url, data=body, headers=headers)
        req.context["timestamp"] = amz_date
        cls = S3SigV4Auth if service in ("s3", "s3express") else SigV4Auth
        signer = cls(Credentials(ak, secret), service, region)
        creq = signer.canonical_request(req)
        want = signer.signature(signer.string_to_sign(req, creq), req)
        if signer.signed_headers(signer.headers_to_sign(req)) != signed:
            return f"SignedHeaders {signed} != botocore's"
        if want != sig:
            return "signature differs from botocore's"
        return None


def _handler(fake):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, code, body=b"", ctype="application/xml", extra=None):
            if isinstance(body, str):
                body = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def s3_error(self, code, name, msg=""):
            self.reply(code, f"<?xml version='1.0'?><Error><Code>{name}</Code>"
                             f"<Message>{msg}</Message></Error>")

        def body(self):
            n = int(self.headers.get("Content-Length", "0"))
            return self.rfile.read(n) if n else b""

        def split(self):
            u = urlsplit(self.path)
            if u.scheme:  # absolute form: we are the proxy
                with fake.lock:
                    fake.proxied.append(u.netloc)
            return unquote(u.path), parse_qs(u.query, keep_blank_values=True)

        # ---- STS
        def do_POST(self):
            body = self.body()
            path, _ = self.split()
            if path != "/":
                return self.reply(404)
            fake.hit("sts")
            if fake.delay:
                time.sleep(fake.delay)
            form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
            with fake.lock:
                fake.sts_forms.append(form)
            if form.get("Action") == "AssumeRoleWithWebIdentity":
                # unsigned: the token is the proof
                if form.get("WebIdentityToken") != fake.web_identity_token:
                    fake.error(f"STS web identity: token {form.get('WebIdentityToken')!r}")
                    return self.reply(403, "<ErrorResponse/>", "text/xml")
                ak, sk, tok, exp = fake.issue("WIF")
                return self.reply(200, f"""<AssumeRoleWithWebIdentityResponse>
  <AssumeRoleWithWebIdentityResult><Credentials>
    <AccessKeyId>{ak}</AccessKeyId><SecretAccessKey>{sk}</SecretAccessKey>
    <SessionToken>{tok}</SessionToken><Expiration>{iso(exp)}</Expiration>
  </Credentials></AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>""", "text/xml")
            if not self.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"):
                fake.error("STS: not a form")
            err = fake.verify(self, body, "sts")
            if err:
                fake.error(f"STS: {err}")
                return self.reply(403, "<ErrorResponse><Error><Code>SignatureDoesNotMatch"
                                       "</Code></Error></ErrorResponse>")
            for k in ("Action", "Version", "RoleArn", "RoleSessionName"):
                if not form.get(k):
                    fake.error(f"STS: no {k}")
            if form.get("Action") != "AssumeRole" or form.get("Version") != "2011-06-15":
                fake.error(f"STS: Action/Version {form.get('Action')} {form.get('Version')}")
            d = form.get("DurationSeconds")
            if d is not None and not (d.isdigit() and 900 <= int(d) <= 43200):
                fake.error(f"STS: DurationSeconds {d}")
            if form.get("RoleArn", "").endswith("/denied"):
                return self.reply(403, "<ErrorResponse><Error><Code>AccessDenied</Code>"
                                       "</Error></ErrorResponse>", "text/xml")
            ak, sk, tok, exp = fake.issue("STS")
            self.reply(200, f"""<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser><Arn>{form.get('RoleArn')}/x</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{ak}</AccessKeyId>
      <SecretAccessKey>{sk}</SecretAccessKey>
      <SessionToken>{tok}</SessionToken>
      <Expiration>{iso(exp)}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</AssumeRoleResponse>""", "text/xml")

        def do_PUT(self):
            path, _ = self.split()
            if path != "/latest/api/token":
                return self.reply(404)
            fake.hit("imds-token")
            if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "").isdigit():
                fake.error("IMDS token PUT without a TTL")
            self.reply(200, "imds-session", "text/plain")

        def do_GET(self):
            path, q = self.split()
            if path.startswith("/latest/meta-data/iam/security-credentials/"):
                fake.hit("imds")
                if self.headers.get("X-aws-ec2-metadata-token") != "imds-session":
                    fake.error("IMDS GET without its token")
                    return self.reply(401)
                role = path.rsplit("/", 1)[1]
                if not role:
                    return self.reply(200, "instance-role", "text/plain")
                ak, sk, tok, exp = fake.issue("IMDS")
                return self.reply(200, f'{{"Code": "Success", "AccessKeyId": "{ak}", '
                                       f'"SecretAccessKey": "{sk}", "Token": "{tok}", '
                                       f'"Expiration": "{iso(exp)}"}}', "application/json")
            if path == "/federation/credentials":
                return self.sso(q)
            if path == "/container-creds":
                fake.hit("container")
                if self.headers.get("Authorization") != fake.container_auth:
                    fake.error("container endpoint without its token")
                    return self.reply(401)
                ak, sk, tok, exp = fake.issue("CTR")
                return self.reply(200, f'{{"AccessKeyId": "{ak}", "SecretAccessKey": "{sk}", '
                                       f'"Token": "{tok}", "Expiration": "{iso(exp)}"}}',
                                  "application/json")
            parts = path.lstrip("/").split("/", 1)
            bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
            express = bucket.endswith("--x-s3")
            if "session" in q and not key:
                return self.create_session(bucket)
            fake.hit("s3")
            err = fake.verify(self, b"", "s3express" if express else "s3",
                              "x-amz-s3session-token" if express else "x-amz-security-token")
            if err == "expired":
                fake.error("S3: request signed with expired credentials")
                return self.s3_error(400, "ExpiredToken")
            if err:
                fake.error(f"S3 {path}: {err}")
                return self.s3_error(403, "SignatureDoesNotMatch", err)
            if express and self.headers.get("x-amz-security-token"):
                fake.error("S3 Express: x-amz-security-token on a data request")
            if not key:
                return self.list(bucket, q)
            return self.get(bucket, key)

        def sso(self, q):
            fake.hit("sso")
            if self.headers.get("x-amz-sso_bearer_token") != fake.sso_token:
                return self.reply(401, '{"message": "Session token not found or invalid"}',
                                  "application/json")
            acct, role = q.get("account_id", [""])[0], q.get("role_name", [""])[0]
            if (acct, role) != fake.sso_role:
                fake.error(f"SSO: asked for {acct}/{role}")
                return self.reply(403, '{"message": "No access"}', "application/json")
            ak, sk, tok, exp = fake.issue("SSO")
            self.reply(200, f'{{"roleCredentials": {{"accessKeyId": "{ak}", '
                            f'"secretAccessKey": "{sk}", "sessionToken": "{tok}", '
                            f'"expiration": {int(exp * 1000)}}}}}', "application/json")

        def create_session(self, bucket):
            fake.hit("create-session")
            err = fake.verify(self, b"", "s3express")
            if err:
                fake.error(f"CreateSession: {err}")
                return self.s3_error(403, "AccessDenied", err)
            if self.headers.get("x-amz-create-session-mode") not in (None, "ReadOnly",
                                                                      "ReadWrite"):
                fake.error("CreateSession: bad session mode")
            ak, sk, tok, exp = fake.issue("EXP")
            self.reply(200, f"""<?xml version="1.0" encoding="UTF-8"?>
<CreateSessionResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Credentials>
    <SessionToken>{tok}</SessionToken>
    <SecretAccessKey>{sk}</SecretAccessKey>
    <AccessKeyId>{ak}</AccessKeyId>
    <Expiration>{iso(exp)}</Expiration>
  </Credentials>
</CreateSessionResult>""")

        def list(self, bucket, q):
            if q.get("list-type") != ["2"]:
                fake.error("not ListObjectsV2")
            prefix = q.get("prefix", [""])[0]
            after = q.get("continuation-token", [""])[0]
            mk = int(q.get("max-keys", ["1000"])[0])
            url = q.get("encoding-type") == ["url"]
            with fake.lock:
                keys = sorted(k for (b, k) in fake.objects
                              if b == bucket and k.startswith(prefix) and k > after)
                page, more = keys[:mk], len(keys) > mk
                items = "".join(
                    f"<Contents><Key>{quote(k) if url else escape(k)}</Key><LastModified>"
                    f"2024-01-01T00:00:00.000Z</LastModified><ETag>\"e\"</ETag><Size>"
                    f"{len(fake.objects[(bucket, k)][0])}</Size></Contents>" for k in page)
            token = (f"<NextContinuationToken>{escape(page[-1])}</NextContinuationToken>"
                     if more else "")
            self.reply(200, f"<?xml version='1.0'?><ListBucketResult><Name>{bucket}</Name>"
                            f"<Prefix>{escape(prefix)}</Prefix><KeyCount>{len(page)}</KeyCount>"
                            f"{'<EncodingType>url</EncodingType>' if url else ''}"
                            f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>{token}"
                            f"{items}</ListBucketResult>")

        def get(self, bucket, key):
            with fake.lock:
                obj = fake.objects.get((bucket, key))
            if obj is None:
                return self.s3_error(404, "NoSuchKey")
            data, ssec = obj
            alg = self.headers.get("x-amz-server-side-encryption-customer-algorithm")
            k64 = self.headers.get("x-amz-server-side-encryption-customer-key")
            md5 = self.headers.get("x-amz-server-side-encryption-customer-key-MD5")
            if ssec:
                if not (alg and k64 and md5):
                    return self.s3_error(400, "InvalidRequest",
                                         "The object was stored using a form of SSE")
                want = base64.b64encode(hashlib.md5(base64.b64decode(k64)).digest()).decode()
                if alg != "AES256" or md5 != want:
                    fake.error("SSE-C: bad algorithm or key MD5")
                    return self.s3_error(400, "InvalidArgument", "bad SSE-C headers")
                if k64 != ssec:
                    return self.s3_error(403, "AccessDenied", "wrong key")
            elif alg or k64 or md5:
                return self.s3_error(400, "InvalidRequest", "not an SSE-C object")
            m = re.match(r"bytes=(\d+)-(\d+)$", self.headers.get("Range", ""))
            if not m:
                return self.reply(200, data, "application/octet-stream")
            a, b = int(m.group(1)), min(int(m.group(2)), len(data) - 1)
            if a >= len(data):
                return self.s3_error(416, "InvalidRange")
            self.reply(206, data[a:b + 1], "application/octet-stream",
                       {"Content-Range": f"bytes {a}-{b}/{len(data)}"})

    return H
