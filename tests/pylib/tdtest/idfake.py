"""A loopback fake of the identity endpoints the Azure and GCS stores talk to, checking what
the real ones check, in front of a data emulator (azurite, the GCS emulator) as a proxy
that lets a request through only with a bearer token the fake issued and that has not
expired. One threaded HTTP server on 127.0.0.1, routed by path:

  POST /{tenant}/oauth2/v2.0/token      Azure AD (Entra ID) v2 token endpoint: form fields
                                        grant_type=client_credentials, client_id, scope
                                        https://storage.azure.com/.default, and client_secret,
                                        or client_assertion_type jwt-bearer + client_assertion
                                        equal to the federated token file's content NOW
  GET  /metadata/identity/oauth2/token  Azure IMDS: header Metadata: true, api-version,
                                        resource, no X-Forwarded-For, the identity asked for
  GET  /computeMetadata/v1/instance/service-accounts/default/token
                                        GCE metadata: Metadata-Flavor: Google, no
                                        X-Forwarded-For
  POST /token                           Google OAuth2: refresh_token grant fields
  GET  /subject                         an external_account credential_source url (headers)
  POST /v1/token                        Google STS token exchange fields
  POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken
                                        IAM Credentials impersonation (bearer = STS token)
  /devstoreaccount1/...                 proxied to azurite without the Authorization header
                                        (the containers are public), after the bearer check
  /storage/v1/...                       proxied to the GCS emulator after the bearer check
                                        (and the userProject check of requester-pays buckets)

Every refusal is recorded in .errors (what the store got wrong), every token issued in
.issued[kind], every data request's token use in .used; tokens expire after .expires_in
seconds (short in the refresh tests)."""
import http.client
import http.server
import json
import os
import threading
import time
import urllib.parse

AZ_SCOPE = "https://storage.azure.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class IdFake(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_port):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.tokens = {}  # token -> (expiry time, kind)
        self.issued = {}  # kind -> count
        self.errors = []
        self.used = []  # (kind, seconds left) per data request
        self.expired_uses = 0
        self.expires_in = 3600
        # what the flows must send (set by the tests)
        self.az = {"tenant": "tenant-1", "client_id": "app-1", "client_secret": None,
                   "federated_file": None}
        self.imds = {"identity": None}  # ("client_id", "...") etc.
        self.google = {"client_id": None, "client_secret": None, "refresh_token": None}
        self.sts = {"audience": None, "subject": None, "subject_token_type": None,
                    "scope": None, "subject_headers": {}, "subject_json_field": None,
                    "impersonate": None}
        self.requester_pays = {}  # bucket -> billed project required
        self.max_tokens = None  # refuse every token request once this many were issued

    def start(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()

    def issue(self, kind, expires_in=None):
        with self.lock:
            self.issued[kind] = self.issued.get(kind, 0) + 1
            t = f"{kind}-{self.issued[kind]}-{os.urandom(12).hex()}"
            self.tokens[t] = (time.time() + (expires_in or self.expires_in), kind)
            return t

    def refuse(self, what):
        with self.lock:
            self.errors.append(what)

    def count(self, kind):
        with self.lock:
            return self.issued.get(kind, 0)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body, ctype="application/json", extra=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def oauth_error(self, status, code, desc):
        self.server.refuse(f"{self.path.split('?')[0]}: {code}: {desc}")
        return self.reply(status, {"error": code, "error_description": desc})

    def form(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        if not self.headers.get("Content-Type", "").startswith(
                "application/x-www-form-urlencoded"):
            return None
        return {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}

    # ---- Azure AD ----
    def azure_ad(self):
        srv = self.server
        f = self.form()
        if srv.max_tokens is not None and sum(srv.issued.values()) >= srv.max_tokens:
            return self.oauth_error(401, "invalid_client", "AADSTS7000222: The provided client "
                                    "secret keys are expired.")
        if f is None:
            return self.oauth_error(400, "invalid_request", "AADSTS900144: form body expected")
        tenant = self.path.split("/")[1]
        if tenant != srv.az["tenant"]:
            return self.oauth_error(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' "
                                    "not found.")
        if f.get("grant_type") != "client_credentials":
            return self.oauth_error(400, "unsupported_grant_type", "AADSTS70003")
        if f.get("scope") != AZ_SCOPE:
            return self.oauth_error(400, "invalid_scope", f"AADSTS70011: scope {f.get('scope')}")
        if f.get("client_id") != srv.az["client_id"]:
            return self.oauth_error(400, "unauthorized_client", "AADSTS700016: Application "
                                    "not found in the directory.")
        if "client_assertion" in f or "client_assertion_type" in f:
            if f.get("client_assertion_type") != JWT_BEARER:
                return self.oauth_error(400, "invalid_request", "AADSTS50027: bad assertion type")
            want = open(srv.az["federated_file"]).read().strip() if srv.az["federated_file"] \
                else None
            if not want or f.get("client_assertion") != want:
                return self.oauth_error(400, "invalid_client", "AADSTS700024: Client assertion "
                                        "is not within its valid time range.")
            kind = "az_workload"
        else:
            if srv.az["client_secret"] is None or f.get("client_secret") != srv.az["client_secret"]:
                return self.oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client "
                                        "secret provided.\r\nTrace ID: 1234")
            kind = "az_secret"
        tok = srv.issue(kind)
        self.reply(200, {"token_type": "Bearer", "expires_in": srv.expires_in,
                         "ext_expires_in": srv.expires_in, "access_token": tok})

    def imds(self):
        srv = self.server
        u = urllib.parse.urlparse(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
        if self.headers.get("X-Forwarded-For"):
            return self.oauth_error(400, "invalid_request", "Request contains X-Forwarded-For")
        if self.headers.get("Metadata") != "true":
            return self.oauth_error(400, "invalid_request", "Required metadata header not "
                                    "specified")
        if q.get("api-version") != "2018-02-01":
            return self.oauth_error(400, "invalid_request", "Missing or bad api-version")
        if q.get("resource") != "https://storage.azure.com":
            return self.oauth_error(400, "invalid_resource", f"bad resource {q.get('resource')}")
        ids = {k: q[k] for k in ("client_id", "object_id", "msi_res_id") if k in q}
        want = srv.imds["identity"]
        if (want is None and ids) or (want is not None and ids != {want[0]: want[1]}):
            return self.oauth_error(400, "invalid_request", "Identity not found")
        tok = srv.issue("imds")
        now = int(time.time())
        # IMDS gives the numbers as strings
        self.reply(200, {"access_token": tok, "refresh_token": "", "client_id": "x",
                         "expires_in": str(srv.expires_in), "expires_on": str(now + srv.expires_in),
                         "ext_expires_in": str(srv.expires_in), "not_before": str(now),
                         "resource": "https://storage.azure.com", "token_type": "Bearer"})

    # ---- Google ----
    def gce_metadata(self):
        srv = self.server
        if self.headers.get("X-Forwarded-For"):
            return self.reply(403, b"forbidden", "text/html")
        if self.headers.get("Metadata-Flavor") != "Google":
            srv.refuse("metadata: no Metadata-Flavor: Google")
            return self.reply(403, b"Missing Metadata-Flavor:Google header.", "text/html")
        tok = srv.issue("gce")
        self.reply(200, {"access_token": tok, "expires_in": srv.expires_in,
                         "token_type": "Bearer"}, extra={"Metadata-Flavor": "Google"})

    def google_token(self):
        srv = self.server
        f = self.form()
        g = srv.google
        if f is None or f.get("grant_type") != "refresh_token":
            return self.oauth_error(400, "unsupported_grant_type", "Invalid grant_type")
        if f.get("client_id") != g["client_id"] or f.get("client_secret") != g["client_secret"]:
            return self.oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if f.get("refresh_token") != g["refresh_token"]:
            return self.oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        tok = srv.issue("adc")
        self.reply(200, {"access_token": tok, "expires_in": srv.expires_in,
                         "scope": "https://www.googleapis.com/auth/cloud-platform",
                         "token_type": "Bearer"})

    def subject(self):
        s = self.server.sts
        for k, v in s["subject_headers"].items():
            if self.headers.get(k) != v:
                self.server.refuse(f"subject url: header {k} missing")
                return self.reply(400, b"missing header", "text/plain")
        if s["subject_json_field"]:
            return self.reply(200, {s["subject_json_field"]: s["subject"]})
        self.reply(200, s["subject"].encode(), "text/plain")

    def sts_exchange(self):
        srv = self.server
        s = srv.sts
        f = self.form()
        want = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "audience": s["audience"], "scope": s["scope"],
                "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "subject_token_type": s["subject_token_type"], "subject_token": s["subject"]}
        if f is None:
            return self.oauth_error(400, "invalid_request", "form body expected")
        for k, v in want.items():
            if f.get(k) != v:
                return self.oauth_error(400, "invalid_grant" if k == "subject_token"
                                        else "invalid_request", f"bad {k}")
        tok = srv.issue("sts")
        self.reply(200, {"access_token": tok, "issued_token_type":
                         "urn:ietf:params:oauth:token-type:access_token",
                         "token_type": "Bearer", "expires_in": srv.expires_in})

    def impersonate(self):
        srv = self.server
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        email = urllib.parse.unquote(self.path.split("/serviceAccounts/")[1].split(":")[0])
        if email != srv.sts["impersonate"]:
            srv.refuse(f"impersonation of {email}")
            return self.reply(404, {"error": {"code": 404, "message": "Not found",
                                              "status": "NOT_FOUND"}})
        if self.bearer_kind() != "sts":
            srv.refuse("impersonation without the STS token")
            return self.reply(401, {"error": {"code": 401, "message": "bad bearer",
                                              "status": "UNAUTHENTICATED"}})
        try:
            d = json.loads(body)
            ok = d["scope"] == ["https://www.googleapis.com/auth/devstorage.read_only"] and \
                d["lifetime"].endswith("s")
        except (ValueError, KeyError):
            ok = False
        if not ok or not self.headers.get("Content-Type", "").startswith("application/json"):
            srv.refuse("impersonation body")
            return self.reply(400, {"error": {"code": 400, "message": "bad body",
                                              "status": "INVALID_ARGUMENT"}})
        tok = srv.issue("impersonated")
        exp = time.gmtime(time.time() + srv.expires_in)
        self.reply(200, {"accessToken": tok, "expireTime": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                         exp)})

    # ---- the data proxy ----
    def bearer_kind(self):
        """The kind of a valid bearer token on this request, else None (and why noted)."""
        srv = self.server
        a = self.headers.get("Authorization", "")
        if not a.startswith("Bearer "):
            return None
        with srv.lock:
            t = srv.tokens.get(a[7:])
        if not t:
            return None
        left = t[0] - time.time()
        if left <= 0:
            with srv.lock:
                srv.expired_uses += 1
            return None
        return t[1]

    def proxy(self, azure):
        srv = self.server
        kind = self.bearer_kind()
        a = self.headers.get("Authorization", "")
        if kind is None:
            if azure:
                body = (b'<?xml version="1.0" encoding="utf-8"?><Error><Code>'
                        b'InvalidAuthenticationInfo</Code><Message>Server failed to '
                        b'authenticate the request.</Message></Error>')
                return self.reply(401, body, "application/xml")
            return self.reply(401, {"error": {"code": 401, "message": "Invalid Credentials",
                                              "errors": [{"reason": "authError"}]}})
        with srv.lock:
            srv.used.append((kind, srv.tokens[a[7:]][0] - time.time()))
        if azure and not self.headers.get("x-ms-version"):
            return self.reply(400, b"<Error><Code>MissingRequiredHeader</Code></Error>",
                              "application/xml")
        u = urllib.parse.urlparse(self.path)
        if not azure:
            bucket = u.path.split("/")[4] if u.path.count("/") >= 4 else ""
            need = srv.requester_pays.get(bucket)
            up = urllib.parse.parse_qs(u.query).get("userProject", [None])[0]
            if need and up != need:
                msg = "Bucket is a requester pays bucket but no user project provided."
                return self.reply(400, {"error": {"code": 400, "message": msg, "errors": [
                    {"message": msg, "domain": "global", "reason": "required"}]}})
        c = http.client.HTTPConnection("127.0.0.1", srv.upstream_port, timeout=30)
        hdr = {k: v for k, v in self.headers.items()
               if k.lower() in ("range", "x-ms-version", "x-ms-date")}
        if not azure and a:
            hdr["Authorization"] = a  # the emulator takes any token (as before this proxy)
        c.request("GET", self.path, headers=hdr)
        r = c.getresponse()
        data = r.read()
        extra = {k: v for k, v in r.getheaders()
                 if k.lower() in ("content-range", "x-ms-error-code", "etag", "last-modified")}
        self.reply(r.status, data, r.getheader("Content-Type", "application/octet-stream"),
                   extra)
        c.close()

    def do_GET(self):
        p = self.path
        if p.startswith("/metadata/identity/oauth2/token"):
            return self.imds()
        if p.startswith("/computeMetadata/v1/instance/service-accounts/default/token"):
            return self.gce_metadata()
        if p.startswith("/subject"):
            return self.subject()
        if p.startswith("/devstoreaccount1/"):
            return self.proxy(True)
        if p.startswith("/storage/v1/"):
            return self.proxy(False)
        self.reply(404, {"error": "not_found"})

    def do_POST(self):
        p = self.path.split("?")[0]
        if p.endswith("/oauth2/v2.0/token"):
            return self.azure_ad()
        if p == "/token":
            return self.google_token()
        if p == "/v1/token":
            return self.sts_exchange()
        if ":generateAccessToken" in p:
            return self.impersonate()
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        self.reply(404, {"error": "not_found"})
