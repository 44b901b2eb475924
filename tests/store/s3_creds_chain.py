"""The S3 credential chain, in order: obstore_config -> AWS_* environment -> shared files
(profiles) -> web identity (STS AssumeRoleWithWebIdentity) -> container endpoint -> EC2
IMDSv2, and the refresh of expiring temporary credentials. A small loopback server speaks
the three AWS-only protocols (as documented: XML for STS, JSON for the container endpoint
and IMDS, IMDSv2's token PUT first); s3rver stands for S3 and refuses any access key but
S3RVER, so only the source expected to win is given the good key.

usage: s3_creds_chain.py PROBE NODE_DIR
"""
import datetime
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from tdtest.s3_testlib import S3rver, parse_list, put_object, run_probe
from tdtest.store_testlib import Checks

GOOD, BAD = "S3RVER", "AKIA-WRONG-SOURCE"
SECRET = "tmp-secret-never-printed-42"
IMDS_TOKEN = "imds-session-token-xyz"
CONTAINER_AUTH = "container-auth-token-abc"

check = Checks(600)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.hits = {"sts": 0, "container": 0, "imds-token": 0, "imds-role": 0, "imds-creds": 0}
        self.keys = {"sts": BAD, "container": BAD, "imds": BAD}
        self.lifetime = 3600
        self.imds_v1_only = False
        self.errors = []
        self.sts_forms = []


STATE = State()


def expiration():
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=STATE.lifetime)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def creds_json(self, key):
        return ('{"Code": "Success", "LastUpdated": "2024-01-01T00:00:00Z", "Type": "AWS-HMAC",'
                f' "AccessKeyId": "{key}", "SecretAccessKey": "{SECRET}",'
                f' "Token": "session\\/token+\\u00e9", "Expiration": "{expiration()}",'
                ' "Nested": {"AccessKeyId": "not-this-one"}}')

    def do_PUT(self):
        if self.path == "/latest/api/token" and STATE.imds_v1_only:
            with STATE.lock:
                STATE.hits["imds-token"] += 1
            return self.reply(403, "")
        if self.path == "/latest/api/token":
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            with STATE.lock:
                STATE.hits["imds-token"] += 1
                if not ttl or not ttl.isdigit():
                    STATE.errors.append("IMDS token PUT without a TTL header")
            return self.reply(200, IMDS_TOKEN, "text/plain")
        self.reply(404, "")

    def do_GET(self):
        if self.path.startswith("/latest/meta-data/iam/security-credentials/"):
            if self.headers.get("X-aws-ec2-metadata-token") != (
                    None if STATE.imds_v1_only else IMDS_TOKEN):
                with STATE.lock:
                    STATE.errors.append("IMDS GET without the session token")
                return self.reply(401, "")
            role = self.path[len("/latest/meta-data/iam/security-credentials/"):]
            with STATE.lock:
                if role == "":
                    STATE.hits["imds-role"] += 1
                    return self.reply(200, "td-test-role\n", "text/plain")
                STATE.hits["imds-creds"] += 1
                if role != "td-test-role":
                    STATE.errors.append(f"IMDS asked for role {role!r}")
                key = STATE.keys["imds"]
            return self.reply(200, self.creds_json(key))
        if self.path == "/container-creds":
            with STATE.lock:
                STATE.hits["container"] += 1
                if self.headers.get("Authorization") != CONTAINER_AUTH:
                    STATE.errors.append("container endpoint called without the token")
                key = STATE.keys["container"]
            return self.reply(200, self.creds_json(key))
        self.reply(404, "")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(min(n, 1 << 20)).decode())
        with STATE.lock:
            STATE.hits["sts"] += 1
            STATE.sts_forms.append(form)
            key = STATE.keys["sts"]
        body = f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>sts/session+token=</SessionToken>
      <SecretAccessKey>{SECRET}</SecretAccessKey>
      <Expiration>{expiration()}</Expiration>
      <AccessKeyId>{key}</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"""
        self.reply(200, body, "text/xml")


def main():
    probe, node_dir = sys.argv[1], sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    cport = srv.server_address[1]
    with tempfile.TemporaryDirectory(prefix="td-s3creds-") as tmp:
        data = os.path.join(tmp, "data")
        put_object(data, "bkt", "a.tif", b"x" * 10)
        s3 = S3rver(node_dir, data)
        try:
            run_cases(probe, s3, cport, tmp)
        finally:
            s3.stop()
            srv.shutdown()
    check.finish()


def run_cases(probe, s3, cport, tmp):
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base["HOME"] = tmp  # no ~/.aws of the machine
    base["TD_S"] = SECRET
    cred_file = os.path.join(tmp, "credentials")
    conf_file = os.path.join(tmp, "config")
    token_file = os.path.join(tmp, "web-identity-token")
    with open(token_file, "w") as f:
        f.write("eyJ.web-identity.jwt\n")
    with open(cred_file, "w") as f:
        f.write(f"[default]\naws_access_key_id = {BAD}\naws_secret_access_key = x\n\n"
                f"[td]\naws_access_key_id = {GOOD}\naws_secret_access_key = {SECRET}\n")
    with open(conf_file, "w") as f:
        f.write("[default]\nregion = us-east-1\n[profile td]\nregion = eu-west-3\n"
                "[profile roley]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
                "source_profile = td\n[profile regiononly]\nregion = us-east-1\n")
    ep = f"http://127.0.0.1:{cport}"
    everything = dict(base,
                      AWS_ACCESS_KEY_ID=BAD, AWS_SECRET_ACCESS_KEY="x",
                      AWS_SHARED_CREDENTIALS_FILE=cred_file, AWS_CONFIG_FILE=conf_file,
                      AWS_PROFILE="td",
                      AWS_WEB_IDENTITY_TOKEN_FILE=token_file,
                      AWS_ROLE_ARN="arn:aws:iam::123456789012:role/td-test",
                      AWS_ROLE_SESSION_NAME="td-session", AWS_STS_ENDPOINT=ep + "/",
                      AWS_CONTAINER_CREDENTIALS_FULL_URI=ep + "/container-creds",
                      AWS_CONTAINER_AUTHORIZATION_TOKEN=CONTAINER_AUTH,
                      AWS_EC2_METADATA_SERVICE_ENDPOINT=ep)
    store_opts = {"endpoint": s3.endpoint, "allow_http": "true"}

    def run(name, env, opts, want_hits, sources):
        STATE.reset()
        for s in sources:
            STATE.keys[s] = GOOD
        out = run_probe(probe, "s3://bkt", opts, ["list", "", "10"], env=env)
        entries, pages, status = parse_list(out)
        check(status == ("ok", "") and [e[0] for e in entries] == ["a.tif"],
              f"{name}: listing {status} {entries}")
        hits = {k: v for k, v in STATE.hits.items() if v}
        check(hits == want_hits, f"{name}: credential endpoints hit {hits}, want {want_hits}")
        check(not STATE.errors, f"{name}: server saw {STATE.errors}")
        check(not any(SECRET in line for line in out), f"{name}: secret in the output")
        return out

    # 1. explicit obstore_config wins over everything
    run("config", everything, dict(store_opts, access_key_id=GOOD, secret_access_key="@TD_S"),
        {}, [])
    # 2. then the environment
    run("env", dict(everything, AWS_ACCESS_KEY_ID=GOOD), store_opts, {}, [])
    # 3. then the shared files, profile td (not default)
    env = {k: v for k, v in everything.items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    run("profile", env, store_opts, {}, [])
    # 3b. a named profile that is in neither file is an auth error naming it, not a fall
    # through to the next sources (web identity etc. are all set here and must not be hit)
    for how, penv, popts in (("AWS_PROFILE", dict(env, AWS_PROFILE="nosuch"), store_opts),
                             ("obstore_config", env, dict(store_opts, profile="nosuch"))):
        STATE.reset()
        out = run_probe(probe, "s3://bkt", popts, ["list", "", "10"], env=penv)
        check(out and out[0].startswith("open\tauth") and "profile 'nosuch' not found" in out[0]
              and cred_file in out[0] and conf_file in out[0],
              f"missing profile via {how}: {out[:2]}")
        check(not any(STATE.hits.values()), f"missing profile via {how}: hits {STATE.hits}")
    # 3c. a role profile (role_arn + source_profile): STS AssumeRole signed with the source
    # profile's keys (the signature is checked in s3_auth_flows.py), then S3 with its answer
    run("assume-role profile", dict(env, AWS_PROFILE="roley"), store_opts, {"sts": 1}, ["sts"])
    check(STATE.sts_forms and STATE.sts_forms[0].get("Action") == ["AssumeRole"],
          f"assume-role profile: STS form {STATE.sts_forms[:1]}")
    # 3d. a profile holding only a region lets the chain go on (here: to web identity)
    run("region-only profile", dict(env, AWS_PROFILE="regiononly"), store_opts, {"sts": 1},
        ["sts"])
    # 4. then web identity
    env.pop("AWS_PROFILE")
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(tmp, "none")
    run("web identity", env, store_opts, {"sts": 1}, ["sts"])
    form = STATE.sts_forms[0] if STATE.sts_forms else {}
    check(form.get("Action") == ["AssumeRoleWithWebIdentity"] and
          form.get("RoleArn") == ["arn:aws:iam::123456789012:role/td-test"] and
          form.get("RoleSessionName") == ["td-session"] and
          form.get("WebIdentityToken") == ["eyJ.web-identity.jwt"], f"STS form {form}")
    # 5. then the container endpoint
    env.pop("AWS_WEB_IDENTITY_TOKEN_FILE")
    run("container", env, store_opts, {"container": 1}, ["container"])
    # 6. then IMDSv2
    env.pop("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    run("imds", env, store_opts, {"imds-token": 1, "imds-role": 1, "imds-creds": 1}, ["imds"])
    # 6b. IMDSv1 only when asked: a refused token PUT fails, or falls back
    STATE.reset()
    STATE.imds_v1_only = True
    STATE.keys["imds"] = GOOD
    out = run_probe(probe, "s3://bkt", store_opts, ["list", "", "10"], env=env)
    entries, pages, status = parse_list(out)
    check(status[0] == "auth" and STATE.hits["imds-creds"] == 0,
          f"IMDSv1 without imdsv1_fallback: {status} {STATE.hits}")
    STATE.reset()
    STATE.imds_v1_only = True
    STATE.keys["imds"] = GOOD
    out = run_probe(probe, "s3://bkt", dict(store_opts, imdsv1_fallback="true"),
                    ["list", "", "10"], env=env)
    entries, pages, status = parse_list(out)
    check(status == ("ok", "") and STATE.hits["imds-creds"] == 1 and not STATE.errors,
          f"IMDSv1 fallback: {status} {STATE.hits} {STATE.errors}")
    # 7. nothing at all: a clear error at open
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    out = run_probe(probe, "s3://bkt", store_opts, ["list", "", "10"], env=env)
    check(out[0].startswith("open\tauth") and "skip_signature" in out[0],
          f"no credentials: {out[:2]}")
    # 8. short-lived credentials are refreshed during a run; requests wait when they expire
    del env["AWS_EC2_METADATA_DISABLED"]
    for src_env, src in (({}, "imds"),
                         ({"AWS_CONTAINER_CREDENTIALS_FULL_URI": ep + "/container-creds"},
                          "container")):
        STATE.reset()
        STATE.keys[src] = GOOD
        STATE.lifetime = 2  # refreshed after 1 s, expired after 2 s
        out = run_probe(probe, "s3://bkt", store_opts, ["soak", "3.5"], env=dict(env, **src_env))
        soak = [line.split("\t") for line in out if line.startswith("soak\t")]
        fetches = STATE.hits["imds-creds" if src == "imds" else "container"]
        check(soak and int(soak[0][1]) > 0 and soak[0][2] == "0", f"refresh {src}: {out[-3:]}")
        check(2 <= fetches <= 40, f"refresh {src}: {fetches} credential fetches")
        check(not STATE.errors, f"refresh {src}: server saw {STATE.errors}")


if __name__ == "__main__":
    main()
