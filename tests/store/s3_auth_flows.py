"""The S3 credential flows of issue 17 against a loopback fake of each endpoint
(tdtest.s3_authfake: STS, SSO portal, container endpoint, S3 and S3 Express, which check the
requests with botocore as the real ones would): role profiles (source_profile, chained,
credential_source Environment / EcsContainer, ExternalId, DurationSeconds, MFA refused),
SSO profiles (token cache, expired token), credential_process (JSON Version 1, Expiration
honoured, failures without secrets), S3 Express CreateSession, SSE-C, proxies; and the
refresh of short-lived credentials before they expire.

usage: s3_auth_flows.py PROBE
"""
import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

from tdtest.s3_authfake import Fake
from tdtest.s3_testlib import parse_list
from tdtest.store_testlib import Checks, run_probe

check = Checks(600)
ROOT_AK, ROOT_SK = "AKIAROOT", "root-secret-never-printed"
ENV_AK, ENV_SK = "AKIAENV", "env-secret-never-printed"
SSO_TOKEN = "sso-bearer-token-never-printed"
SSEC_KEY = base64.b64encode(bytes(range(32))).decode()
SECRETS = [ROOT_SK, ENV_SK, SSO_TOKEN, SSEC_KEY, "secret/", "token/"]


def main():
    probe = sys.argv[1]
    fake = Fake()
    try:
        with tempfile.TemporaryDirectory(prefix="td-s3auth-") as tmp:
            cases(probe, fake, tmp)
    finally:
        fake.stop()
    check.finish()


def cases(probe, fake, tmp):
    fake.add_key(ROOT_AK, ROOT_SK)
    fake.add_key(ENV_AK, ENV_SK)
    fake.objects[("bkt", "a.tif")] = (b"II*\x00" + b"a" * 60, None)
    fake.objects[("bkt", "enc.tif")] = (b"MM\x00*" + b"e" * 60, SSEC_KEY)
    fake.objects[("dir--usw2-az1--x-s3", "a.tif")] = (b"II*\x00" + b"x" * 60, None)
    conf, cred = os.path.join(tmp, "config"), os.path.join(tmp, "credentials")
    with open(cred, "w") as f:
        f.write(f"[root]\naws_access_key_id = {ROOT_AK}\naws_secret_access_key = {ROOT_SK}\n")
    proc_script = os.path.join(tmp, "creds proc.py")
    counter = os.path.join(tmp, "proc-count")
    with open(proc_script, "w") as f:
        f.write(PROC_SCRIPT)
    py = sys.executable
    with open(conf, "w") as f:
        f.write(f"""[profile role]
role_arn = arn:aws:iam::123456789012:role/reader
source_profile = root
external_id = ext-42
role_session_name = td-session
duration_seconds = 900
region = eu-west-1

[profile chained]
role_arn = arn:aws:iam::123456789012:role/second
source_profile = role

[profile fromenv]
role_arn = arn:aws:iam::123456789012:role/envrole
credential_source = Environment

[profile fromecs]
role_arn = arn:aws:iam::123456789012:role/ecsrole
credential_source = EcsContainer

[profile fromec2]
role_arn = arn:aws:iam::123456789012:role/ec2role
credential_source = Ec2InstanceMetadata

[profile wif]
role_arn = arn:aws:iam::123456789012:role/wifrole
web_identity_token_file = {tmp}/wif-token

[profile justregion]
region = eu-west-1

[profile mfa]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = root
mfa_serial = arn:aws:iam::123456789012:mfa/me

[profile denied]
role_arn = arn:aws:iam::123456789012:role/denied
source_profile = root

[profile badsource]
role_arn = arn:aws:iam::123456789012:role/x
credential_source = Nowhere

[profile sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Reader

[profile ssolegacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-west-2
sso_account_id = 111122223333
sso_role_name = Reader

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access

[profile proc]
credential_process = {py} "{proc_script}" --ak '{ROOT_AK}' --count {counter}

[profile procfail]
credential_process = {py} "{proc_script}" --fail

[profile procv2]
credential_process = {py} "{proc_script}" --version 2

[profile procbig]
credential_process = {py} "{proc_script}" --big

[profile procslow]
credential_process = {py} "{proc_script}" --sleep 20

[profile procmissing]
credential_process = /nonexistent/aws-creds-helper --x
""")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HTTP", "http",
                                                                     "NO_PROXY", "no_proxy"))}
    base.update(HOME=tmp, AWS_CONFIG_FILE=conf, AWS_SHARED_CREDENTIALS_FILE=cred,
                AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL_STS=fake.url + "/",
                AWS_ENDPOINT_URL_SSO=fake.url, TD_SSEC=SSEC_KEY)
    s3opts = {"endpoint": fake.url, "allow_http": "true", "region": "eu-west-1"}

    def run(name, profile, cmd=None, opts=None, env=None, url="s3://bkt"):
        fake.reset()
        e = dict(base, **(env or {}))
        if profile:
            e["AWS_PROFILE"] = profile
        out = run_probe(probe, url, dict(s3opts, **(opts or {})),
                        cmd or ["list", "", "10"], env=e, timeout=60)
        text = "\n".join(out)
        for s in SECRETS:
            check(s not in text, f"{name}: a secret ({s[:8]}...) in the output")
        return out

    def listed(name, out, keys):
        entries, _, status = parse_list(out)
        check(status == ("ok", "") and sorted(e[0] for e in entries) == keys,
              f"{name}: listing {status} {entries}")

    def clean(name):
        check(not fake.errors, f"{name}: the fake saw {fake.errors}")

    def refused(name, out, *words):
        check(out and out[0].startswith("open\t") and not out[0].startswith("open\tok")
              and all(w in out[0] for w in words), f"{name}: want a refusal naming {words}: "
                                                     f"{out[:2]}")

    def got(name, out, data):
        g = [l.split("\t") for l in out if l.startswith("get\t")]
        check(g and g[0][1] == "ok" and bytes.fromhex(g[0][5]) == data,
              f"{name}: read {g[:1]} {out[-2:]}")

    # ---- role profiles
    out = run("role", "role", ["get", b"a.tif".hex(), "0", "16"])
    got("role", out, b"II*\x00" + b"a" * 12)
    clean("role")
    f = fake.sts_forms[0] if fake.sts_forms else {}
    check(fake.hits.get("sts") == 1 and f.get("RoleArn") == "arn:aws:iam::123456789012:role/reader"
          and f.get("ExternalId") == "ext-42" and f.get("RoleSessionName") == "td-session"
          and f.get("DurationSeconds") == "900", f"role: STS {fake.hits} {f}")
    out = run("chained role", "chained")
    listed("chained role", out, ["a.tif", "enc.tif"])
    clean("chained role")
    check(fake.hits.get("sts") == 2 and [x.get("RoleArn", "")[-6:] for x in fake.sts_forms]
          == ["reader", "second"] and fake.sts_forms[1]["RoleSessionName"].startswith(
              "tiff-dumper-") and "ExternalId" not in fake.sts_forms[1],
          f"chained role: {fake.sts_forms}")
    out = run("credential_source Environment", "fromenv",
              env={"AWS_ACCESS_KEY_ID": ENV_AK, "AWS_SECRET_ACCESS_KEY": ENV_SK})
    # the environment's keys win over the profile, as in the SDKs: no STS call
    listed("env keys over profile", out, ["a.tif", "enc.tif"])
    check(not fake.hits.get("sts"), f"env keys over profile: {fake.hits}")
    # named in obstore_config (the CLI's --profile), the profile wins and reads them
    out = run("credential_source Environment", None, opts={"profile": "fromenv"},
              env={"AWS_ACCESS_KEY_ID": ENV_AK, "AWS_SECRET_ACCESS_KEY": ENV_SK})
    listed("credential_source Environment", out, ["a.tif", "enc.tif"])
    check(fake.hits.get("sts") == 1, f"credential_source Environment: {fake.hits}")
    clean("credential_source Environment")
    # ... but a named profile without credentials leaves them to the environment
    out = run("named region-only profile", None, opts={"profile": "justregion"},
              env={"AWS_ACCESS_KEY_ID": ENV_AK, "AWS_SECRET_ACCESS_KEY": ENV_SK})
    listed("named region-only profile", out, ["a.tif", "enc.tif"])
    check(not fake.hits.get("sts"), f"named region-only profile: {fake.hits}")
    clean("named region-only profile")
    fake.container_auth = "ctr-auth-token"
    out = run("credential_source EcsContainer", "fromecs",
              env={"AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url + "/container-creds",
                   "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ctr-auth-token"})
    listed("credential_source EcsContainer", out, ["a.tif", "enc.tif"])
    clean("credential_source EcsContainer")
    check(fake.hits.get("container") == 1 and fake.hits.get("sts") == 1,
          f"credential_source EcsContainer: {fake.hits}")
    out = run("credential_source Ec2InstanceMetadata", "fromec2",
              env={"AWS_EC2_METADATA_DISABLED": "false",
                   "AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.url})
    listed("credential_source Ec2InstanceMetadata", out, ["a.tif", "enc.tif"])
    clean("credential_source Ec2InstanceMetadata")
    check(fake.hits.get("imds-token") == 1 and fake.hits.get("imds") == 2
          and fake.hits.get("sts") == 1, f"credential_source Ec2InstanceMetadata: {fake.hits}")
    fake.web_identity_token = "eyJ.wif.token"
    with open(os.path.join(tmp, "wif-token"), "w") as fh:
        fh.write("eyJ.wif.token\n")
    out = run("profile web identity", "wif")
    listed("profile web identity", out, ["a.tif", "enc.tif"])
    clean("profile web identity")
    check(fake.sts_forms and fake.sts_forms[0].get("Action") == "AssumeRoleWithWebIdentity"
          and fake.sts_forms[0].get("RoleArn", "").endswith("/wifrole"),
          f"profile web identity: {fake.sts_forms}")
    refused("mfa", run("mfa", "mfa"), "mfa_serial", "export-credentials", "AWS_ACCESS_KEY_ID")
    out = run("role denied", "denied")
    _, _, status = parse_list(out)
    check(status and status[0] == "auth" and "role/denied refused (HTTP 403)" in status[1]
          and "external_id" in status[1], f"role denied: {status}")
    clean("role denied")
    refused("credential_source", run("bad source", "badsource"), "credential_source",
            "Nowhere", "Environment, Ec2InstanceMetadata or EcsContainer")
    # refresh before expiry: 6 s credentials, listed for 7 s; none may be used expired
    fake.lifetime = 6
    out = run("role refresh", "role", ["soak", "7"])
    soak = [l.split("\t") for l in out if l.startswith("soak\t")]
    check(soak and soak[0][2] == "0" and int(soak[0][1]) > 3, f"role refresh: {out[-3:]}")
    check(fake.hits.get("sts", 0) >= 2, f"role refresh: STS asked {fake.hits}")
    clean("role refresh")
    fake.lifetime = 3600

    # ---- SSO
    fake.sso_token, fake.sso_role = SSO_TOKEN, ("111122223333", "Reader")
    cache = os.path.join(tmp, ".aws", "sso", "cache")
    os.makedirs(cache, exist_ok=True)

    def sso_cache(name, minutes):
        t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
        with open(os.path.join(cache, hashlib.sha1(name.encode()).hexdigest() + ".json"),
                  "w") as fh:
            json.dump({"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1",
                       "accessToken": SSO_TOKEN, "expiresAt": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "clientId": "c", "clientSecret": "s", "refreshToken": "r"}, fh)

    out = run("sso without login", "sso")
    _, _, status = parse_list(out)
    check(status and status[0] == "auth" and "aws sso login --profile sso" in status[1]
          and not fake.hits.get("sso"), f"sso without login: {status}")
    sso_cache("corp", 60)
    out = run("sso", "sso", ["get", b"a.tif".hex(), "0", "4"])
    got("sso", out, b"II*\x00")
    clean("sso")
    check(fake.hits.get("sso") == 1, f"sso: {fake.hits}")
    sso_cache("https://legacy.awsapps.com/start", 60)
    listed("sso legacy", run("sso legacy", "ssolegacy"), ["a.tif", "enc.tif"])
    sso_cache("corp", -5)
    out = run("sso expired", "sso")
    entries, _, status = parse_list(out)
    check(status and status[0] == "auth" and "expired" in status[1]
          and "aws sso login --profile sso" in status[1], f"sso expired: {out[-2:]}")
    fake.sso_token = "another"
    sso_cache("corp", 60)
    out = run("sso token refused", "sso")
    entries, _, status = parse_list(out)
    check(status and status[0] == "auth" and "aws sso login" in status[1],
          f"sso token refused: {out[-2:]}")

    # ---- credential_process
    out = run("process", "proc", ["get", b"a.tif".hex(), "0", "4"],
              env={"TD_PROC_LIFETIME": "3600"})
    got("process", out, b"II*\x00")
    clean("process")
    with open(counter) as fh:
        check(fh.read().count("x") == 1, "process: run once")
    os.unlink(counter)
    out = run("process refresh", "proc", ["soak", "7"], env={"TD_PROC_LIFETIME": "6"})
    soak = [l.split("\t") for l in out if l.startswith("soak\t")]
    check(soak and soak[0][2] == "0", f"process refresh: {out[-3:]}")
    with open(counter) as fh:
        check(fh.read().count("x") >= 2, "process refresh: run again before expiry")
    out = run("process fails", "procfail")
    _, _, status = parse_list(out)
    check(status and status[0] == "auth" and "exit status 3" in status[1]
          and "helper says no" in status[1], f"process fails: {status}")
    out = run("process version 2", "procv2")
    _, _, status = parse_list(out)
    check(status and status[0] == "auth" and '"Version": 1' in status[1],
          f"process version 2: {status}")
    out = run("process too big", "procbig")
    _, _, status = parse_list(out)
    check(status and status[0] == "auth" and "more than" in status[1],
          f"process too big: {status}")
    out = run("process missing", "procmissing")
    _, _, status = parse_list(out)
    check(status and status[0] == "auth" and "could not be started" in status[1],
          f"process missing: {status}")

    # closing the store while the process runs: the waiting listing is canceled, the
    # process killed, nothing left behind (the sanitizer build checks leaks)
    t0 = time.monotonic()
    out = run("close while the process runs", "procslow", ["closewait", "500"])
    cw = [l.split("\t") for l in out if l.startswith("closewait\t")]
    check(cw and cw[0][1:] == ["canceled-by-close", "canceled"] and time.monotonic() - t0 < 10,
          f"close while the process runs: {out[-2:]} after {time.monotonic() - t0:.1f} s")
    # the same while STS is being asked (its answer comes after the close)
    fake.delay = 1.0
    out = run("close while STS answers", "role", ["closewait", "300"])
    fake.delay = 0
    cw = [l.split("\t") for l in out if l.startswith("closewait\t")]
    check(cw and cw[0][1:] == ["canceled-by-close", "canceled"],
          f"close while STS answers: {out[-2:]}")

    # ---- S3 Express One Zone (the bucket name says so; endpoint: the fake, path-style)
    out = run("express", "root", ["get", b"a.tif".hex(), "0", "4"], url="s3://dir--usw2-az1--x-s3")
    got("express", out, b"II*\x00")
    clean("express")
    check(fake.hits.get("create-session") == 1, f"express: {fake.hits}")
    fake.lifetime = 6
    out = run("express refresh", "root", ["soak", "7"], url="s3://dir--usw2-az1--x-s3")
    soak = [l.split("\t") for l in out if l.startswith("soak\t")]
    check(soak and soak[0][2] == "0" and fake.hits.get("create-session", 0) >= 2,
          f"express refresh: {out[-2:]} {fake.hits}")
    clean("express refresh")
    fake.lifetime = 3600
    # a role's credentials sign CreateSession
    out = run("express with role", "role", ["list", "", "10"], url="s3://dir--usw2-az1--x-s3")
    listed("express with role", out, ["a.tif"])
    check(fake.hits.get("sts") == 1 and fake.hits.get("create-session") == 1,
          f"express with role: {fake.hits}")
    clean("express with role")
    refused("express anonymous", run("express anonymous", None, opts={"skip_signature": "true"},
                                     url="s3://dir--usw2-az1--x-s3"), "s3_express",
            "skip_signature")
    out = run("express off", "root", ["list", "", "10"], opts={"s3_express": "false"},
              url="s3://dir--usw2-az1--x-s3")
    _, _, status = parse_list(out)
    check(status and status[0] == "access_denied", f"express off: {status}")

    # ---- SSE-C
    out = run("sse-c", "root", ["get", b"enc.tif".hex(), "0", "8"],
              opts={"aws_sse_customer_key_base64": "@TD_SSEC"})
    got("sse-c", out, b"MM\x00*eeee")
    clean("sse-c")
    out = run("sse-c listing", "root", opts={"sse_customer_key_base64": "@TD_SSEC"})
    listed("sse-c listing", out, ["a.tif", "enc.tif"])
    out = run("sse-c without key", "root", ["get", b"enc.tif".hex(), "0", "8"])
    g = [l.split("\t") for l in out if l.startswith("get\t")]
    check(g and g[0][1] == "http" and g[0][4] == "400", f"sse-c without key: {g}")
    refused("sse-c mode without key", run("sse-c mode without key", "root",
                                          opts={"aws_server_side_encryption": "sse-c"}),
            "server_side_encryption", "aws_sse_customer_key_base64")
    out = run("sse-c obstore style", "root", ["get", b"enc.tif".hex(), "0", "8"],
              opts={"aws_server_side_encryption": "sse-c",
                    "aws_sse_customer_key_base64": "@TD_SSEC"})
    got("sse-c obstore style", out, b"MM\x00*eeee")
    refused("sse-c short key", run("sse-c short key", "root",
                                   opts={"sse_customer_key_base64": "c2hvcnQ="}),
            "sse_customer_key_base64", "32-byte")

    # ---- proxies: the fake is also a forward proxy for plain http
    far = {"endpoint": "http://s3.example.invalid", "proxy_url": fake.url}
    out = run("proxy", "root", ["get", b"a.tif".hex(), "0", "4"], opts=far)
    got("proxy", out, b"II*\x00")
    check(fake.proxied and set(fake.proxied) == {"s3.example.invalid"},
          f"proxy: {fake.proxied}")
    clean("proxy")
    out = run("proxy_excludes", "root", opts=dict(far, proxy_excludes="example.invalid"))
    _, _, status = parse_list(out)
    # (an unresolvable host comes back as "config" from the engine today: see the report)
    check(status and status[0] != "ok" and "s3.example.invalid" in status[1]
          and not fake.proxied, f"proxy_excludes: {status} {fake.proxied}")
    out = run("NO_PROXY", "root", opts=far, env={"NO_PROXY": "s3.example.invalid"})
    _, _, status = parse_list(out)
    check(status and status[0] != "ok" and "s3.example.invalid" in status[1]
          and not fake.proxied, f"NO_PROXY: {status} {fake.proxied}")
    out = run("http_proxy", "root", opts={"endpoint": "http://s3.example.invalid"},
              env={"http_proxy": fake.url})
    listed("http_proxy", out, ["a.tif", "enc.tif"])
    check(fake.proxied, "http_proxy: not through the proxy")
    # the role's STS call goes through the proxy too
    out = run("proxy with role", "role", opts=far,
              env={"AWS_ENDPOINT_URL_STS": "http://sts.example.invalid/"})
    listed("proxy with role", out, ["a.tif", "enc.tif"])
    check("sts.example.invalid" in fake.proxied, f"proxy with role: {fake.proxied}")
    clean("proxy with role")

    # https through a CONNECT proxy: HTTPS_PROXY from the environment, or proxy_url; TLS
    # stays end to end (the certificate is checked against ca_bundle for the real host)
    key, crt = os.path.join(tmp, "tls.key"), os.path.join(tmp, "tls.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", key, "-out", crt, "-subj", "/CN=s3.example.invalid",
                    "-addext", "subjectAltName=DNS:s3.example.invalid"],
                   check=True, capture_output=True, timeout=60)
    pkey, pcrt = os.path.join(tmp, "proxy.key"), os.path.join(tmp, "proxy.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", pkey, "-out", pcrt, "-subj", "/CN=td test proxy",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    fake.start_tls(crt, key, pcrt, pkey)
    https = {"endpoint": "https://s3.example.invalid"}
    tls_env = {"TD_PROBE_CA_BUNDLE": crt, "HTTPS_PROXY": fake.connect_proxy_url}
    out = run("HTTPS_PROXY", "root", ["get", b"a.tif".hex(), "0", "4"], opts=https, env=tls_env)
    got("HTTPS_PROXY", out, b"II*\x00")
    check(fake.connects and set(fake.connects) == {"s3.example.invalid:443"},
          f"HTTPS_PROXY: CONNECTs {fake.connects}")
    clean("HTTPS_PROXY")
    out = run("HTTPS_PROXY + NO_PROXY", "root", opts=https,
              env=dict(tls_env, NO_PROXY=".example.invalid"))
    _, _, status = parse_list(out)
    check(status and status[0] != "ok" and not fake.connects,
          f"HTTPS_PROXY + NO_PROXY: {status} {fake.connects}")
    out = run("proxy_url https", "root", opts=dict(https, proxy_url=fake.connect_proxy_url),
              env={"TD_PROBE_CA_BUNDLE": crt})
    listed("proxy_url https", out, ["a.tif", "enc.tif"])
    check(fake.connects, "proxy_url https: no CONNECT")
    # an https proxy: its own certificate checked against proxy_ca_certificate
    hp = dict(https, proxy_url=fake.https_proxy_url, proxy_ca_certificate=pcrt)
    out = run("https proxy", "root", ["get", b"a.tif".hex(), "0", "4"], opts=hp,
              env={"TD_PROBE_CA_BUNDLE": crt})
    got("https proxy", out, b"II*\x00")
    check(fake.connects == ["s3.example.invalid:443"], f"https proxy: {fake.connects}")
    out = run("https proxy, no proxy CA", "root",
              opts=dict(https, proxy_url=fake.https_proxy_url), env={"TD_PROBE_CA_BUNDLE": crt})
    _, _, status = parse_list(out)
    check(status and status[0] == "network" and not fake.connects,
          f"https proxy, no proxy CA: {status} {fake.connects}")
    out = run("proxy, no CA", "root", opts=dict(https, proxy_url=fake.connect_proxy_url))
    _, _, status = parse_list(out)
    check(status and status[0] == "network" and "certificate" in status[1],
          f"proxy, no CA: TLS must still be verified end to end: {status}")


PROC_SCRIPT = r'''
import datetime, json, os, sys
a = sys.argv[1:]
if "--fail" in a:
    sys.stderr.write("some detail\nhelper says no\n")
    sys.exit(3)
if "--big" in a:
    sys.stdout.write("{" + " " * (1 << 20) + "}")
    sys.exit(0)
if "--sleep" in a:
    import time
    time.sleep(float(a[a.index("--sleep") + 1]))
if "--count" in a:
    with open(a[a.index("--count") + 1], "a") as f:
        f.write("x")
life = int(os.environ.get("TD_PROC_LIFETIME", "3600"))
exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=life)
ak = a[a.index("--ak") + 1] if "--ak" in a else "AKIAROOT"
print(json.dumps({"Version": int(a[a.index("--version") + 1]) if "--version" in a else 1,
                  "AccessKeyId": ak, "SecretAccessKey": "root-secret-never-printed",
                  "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}))
'''

if __name__ == "__main__":
    main()
