"""Google credentials, each flow against a loopback fake of the endpoint it talks to
(tdtest/idfake.py checks what the real one checks), then the data requests against the
GCS emulator through the fake's checking proxy (only tokens it issued and that have not
expired get through): the GCE/GKE metadata server (GCE_METADATA_HOST), gcloud's
application default credentials (authorized_user: refresh-token grant at token_uri),
external_account files (workload identity federation: subject token from a file or a URL
with headers and a JSON field, STS exchange, service account impersonation), tokens
refreshed before they expire, and requester-pays buckets (user_project -> userProject).

usage: gcs_auth_flows.py DRIVER NODE_DIR [TIFF_DUMPER]"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tdtest.azgcs_testlib import blob_bytes, check, failures, parse_get, parse_list
from tdtest.gcs_emulator import start_emulator, upload
from tdtest.idfake import IdFake
from tdtest.store_testlib import stop

AUDIENCE = ("//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/"
            "pool-1/providers/prov-1")
SA = "reader@proj-1.iam.gserviceaccount.com"
REFRESH = "1//refresh-" + os.urandom(6).hex()
CSECRET = "client-secret-" + os.urandom(6).hex()


def run(driver, url, opts, *cmd, env=None, home="/nonexistent"):
    args = [driver, url]
    for k, v in opts.items():
        args += ["-o", f"{k}={v}"]
    args += [str(c) for c in cmd]
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("GOOGLE_", "GCE_", "STORAGE_EMULATOR", "CLOUDSDK_"))}
    e["HOME"] = home
    e.update(env or {})
    p = subprocess.run(args, capture_output=True, timeout=120, env=e)
    if p.stderr.strip():
        print("driver stderr:", p.stderr.decode("utf-8", "replace")[-3000:])
    return p.stdout.decode("utf-8", "replace")


def main():
    driver, node_dir = sys.argv[1], sys.argv[2]
    if not os.path.exists(os.path.join(node_dir, "node_modules", "firebase-tools")):
        print(f"firebase-tools is not installed in {node_dir} (npm ci in tests/node)")
        return 77
    tmp = tempfile.mkdtemp(prefix="td-gcsauth-")
    proc, port = start_emulator(node_dir, tmp)
    fake = None
    try:
        if port is None:
            print("the emulator did not start:", proc.stderr.read().decode()[-2000:])
            return 1
        fake = IdFake(port).start()
        rc = tests(driver, port, fake, tmp)
        if len(sys.argv) > 3:
            tool(sys.argv[3], fake, tmp)
            print(f"{len(failures)} failure(s) with the tool")
            rc = 1 if failures else rc
        return rc
    finally:
        if fake:
            fake.stop()
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def tool(exe, fake, tmp):
    """tiff-dumper with threads: 4 on the metadata server flow: five stores (the lister's
    and one per fetch thread), one token fetch (src/store/store_share.h)."""
    cfg = os.path.join(tmp, "gcs.yaml")
    with open(cfg, "w") as f:
        f.write(f"""store:
  name: "gs://data"
  obstore_config:
    google_base_url: "{fake.url}"
concurrency:
  n_consumers: 4
  threads: 4
""")
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("GOOGLE_", "GCE_", "STORAGE_EMULATOR", "CLOUDSDK_"))}
    e.update(HOME="/nonexistent", GCE_METADATA_HOST=f"127.0.0.1:{fake.port}")
    fake.expires_in = 3600
    before, used0 = fake.count("gce"), len(fake.used)
    out = os.path.join(tmp, "tool-out")
    p = subprocess.run([exe, "headers", cfg, out], capture_output=True, timeout=120, env=e)
    check(p.returncode in (0, 1) and os.path.exists(os.path.join(out, "_SUCCESS")),
          f"tiff-dumper headers on gs:// with threads: 4 (exit {p.returncode}: "
          f"{p.stderr.decode()[-300:]})")
    check(fake.count("gce") - before == 1,
          f"threads: 4 fetched one token ({fake.count('gce') - before})")
    check(len(fake.used) - used0 >= 4, f"the list and the 3 reads went with a token "
          f"({len(fake.used) - used0} requests)")


def write(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f) if not isinstance(doc, str) else f.write(doc)
    return path


def tests(driver, port, fake, tmp):
    names = ["a.tif", "dir/b.tif", "dir/c d.tif"]
    for i, n in enumerate(names):
        upload(port, "data", n, blob_bytes(n, 2000 + i))
        upload(port, "rp-bucket", n, blob_bytes(n, 2000 + i))
    base = {"google_base_url": fake.url}

    def flow_ok(out, what, kind, before, tokens=1):
        entries, pages, end = parse_list(out)
        fl = [ln.split("\t") for ln in out.splitlines() if ln.startswith("F\t")]
        # fetchall prints no entry lines: the keys read (64 bytes each) stand for them
        got = sorted(bytes.fromhex(f[1]).decode() for f in fl if f[3] == "64")
        want = sorted(names)
        check(end == ("ok", "") and got == want and len(fl) == 3 and
              all(f[2] == "ok" for f in fl),
              f"{what}: listing and reads through the proxy ({end}, {len(got)} entries)")
        check(fake.count(kind) - before == tokens,
              f"{what}: {tokens} token(s) ({fake.count(kind) - before})")

    def loop_refreshed(out, what, kind, before, exp0, n):
        gl = [ln.split("\t") for ln in out.splitlines() if ln.startswith("G\t")]
        check(len(gl) == n and all(g[1] == "ok" for g in gl),
              f"{what}: {n} reads with short tokens all ok ({[g[1] for g in gl]})")
        check(fake.count(kind) - before >= 2 and fake.expired_uses == exp0,
              f"{what}: refreshed before expiry ({fake.count(kind) - before} tokens, "
              f"{fake.expired_uses - exp0} uses of an expired one)")

    # ---- GCE / GKE metadata server ----
    menv = {"GCE_METADATA_HOST": f"127.0.0.1:{fake.port}"}
    before = fake.count("gce")
    flow_ok(run(driver, "gs://data", base, "fetchall", 2, 64, 8, env=menv), "metadata server",
            "gce", before)
    fake.expires_in = 3
    before, exp0 = fake.count("gce"), fake.expired_uses
    out = run(driver, "gs://data", base, "getloop", "dir/b.tif", 64, 5, 1000, env=menv)
    loop_refreshed(out, "metadata server", "gce", before, exp0, 5)
    fake.expires_in = 3600

    # ---- gcloud application default credentials (authorized_user) ----
    fake.google.update(client_id="764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps."
                       "googleusercontent.com", client_secret=CSECRET, refresh_token=REFRESH)
    home = os.path.join(tmp, "home")
    adc = {"type": "authorized_user", "client_id": fake.google["client_id"],
           "client_secret": CSECRET, "refresh_token": REFRESH,
           "token_uri": f"{fake.url}/token", "quota_project_id": "proj-1"}
    write(os.path.join(home, ".config", "gcloud", "application_default_credentials.json"), adc)
    before = fake.count("adc")
    out = run(driver, "gs://data", base, "fetchall", 2, 64, 8, home=home)
    flow_ok(out, "gcloud application default credentials", "adc", before)
    check(REFRESH not in out and CSECRET not in out, "ADC: no secret printed")
    fake.expires_in = 3
    before, exp0 = fake.count("adc"), fake.expired_uses
    out = run(driver, "gs://data", base, "getloop", "dir/b.tif", 64, 5, 1000, home=home)
    loop_refreshed(out, "ADC", "adc", before, exp0, 5)
    fake.expires_in = 3600
    # gcloud's CLOUDSDK_CONFIG moves its folder, and the file with it
    cfgdir = os.path.join(tmp, "gcloud-config")
    write(os.path.join(cfgdir, "application_default_credentials.json"), adc)
    before = fake.count("adc")
    out = run(driver, "gs://data", base, "list", 10, env={"CLOUDSDK_CONFIG": cfgdir})
    check(parse_list(out)[2] == ("ok", "") and fake.count("adc") == before + 1,
          "ADC under CLOUDSDK_CONFIG")
    revoked = write(os.path.join(tmp, "revoked.json"), dict(adc, refresh_token="1//revoked"))
    out = run(driver, "gs://data", base, "list", 10,
              env={"GOOGLE_APPLICATION_CREDENTIALS": revoked})
    end = parse_list(out)[2]
    check(end[0] == "auth" and "invalid_grant" in end[1] and
          "gcloud auth application-default login" in end[1],
          f"revoked refresh token: auth, says what to run ({end})")

    # ---- external_account: file source, STS only ----
    subj = os.path.join(tmp, "oidc-token")
    write(subj, "eyJhbGciOiJSUzI1NiJ9.subject-1.sig\n")
    fake.sts.update(audience=AUDIENCE, subject="eyJhbGciOiJSUzI1NiJ9.subject-1.sig",
                    subject_token_type="urn:ietf:params:oauth:token-type:jwt",
                    scope="https://www.googleapis.com/auth/devstorage.read_only",
                    impersonate=SA)
    ext = {"type": "external_account", "audience": AUDIENCE,
           "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
           "token_url": f"{fake.url}/v1/token",
           "credential_source": {"file": subj}}
    ef = write(os.path.join(tmp, "ext-file.json"), ext)
    before = fake.count("sts")
    flow_ok(run(driver, "gs://data", dict(base, service_account=ef), "fetchall", 2, 64, 8),
            "external_account (file, STS)", "sts", before)
    # URL source with headers and a JSON field, then impersonation
    fake.sts.update(scope="https://www.googleapis.com/auth/cloud-platform",
                    subject_headers={"Metadata": "True"}, subject_json_field="value")
    ext_url = dict(ext, credential_source={
        "url": f"{fake.url}/subject?resource=api", "headers": {"Metadata": "True"},
        "format": {"type": "json", "subject_token_field_name": "value"}},
        service_account_impersonation_url=f"{fake.url}/v1/projects/-/serviceAccounts/"
        f"{SA}:generateAccessToken",
        service_account_impersonation={"token_lifetime_seconds": 3600})
    eu = write(os.path.join(tmp, "ext-url.json"), ext_url)
    before_s, before_i = fake.count("sts"), fake.count("impersonated")
    out = run(driver, "gs://data", base, "fetchall", 2, 64, 8,
              env={"GOOGLE_APPLICATION_CREDENTIALS": eu})
    flow_ok(out, "external_account (url + json field, impersonation)", "impersonated", before_i)
    check(fake.count("sts") - before_s == 1, "impersonation: one STS exchange")
    used_kinds = {u[0] for u in fake.used[-5:]}
    check(used_kinds == {"impersonated"}, f"data requests carry the impersonated token "
          f"({used_kinds})")
    fake.expires_in = 3
    before, exp0 = fake.count("impersonated"), fake.expired_uses
    out = run(driver, "gs://data", base, "getloop", "dir/b.tif", 64, 5, 1000,
              env={"GOOGLE_APPLICATION_CREDENTIALS": eu})
    loop_refreshed(out, "external_account", "impersonated", before, exp0, 5)
    fake.expires_in = 3600
    # a wrong audience: STS refuses, the message says what to check
    bad = write(os.path.join(tmp, "ext-bad.json"), dict(ext_url, audience="//iam/other"))
    out = run(driver, "gs://data", dict(base, service_account=bad), "list", 10)
    end = parse_list(out)[2]
    check(end[0] == "auth" and "STS" in end[1] and "audience" in end[1],
          f"STS refusal names what to check ({end})")
    # AWS-sourced: refused, naming what to use
    aws = write(os.path.join(tmp, "ext-aws.json"), dict(ext, credential_source={
        "environment_id": "aws1", "region_url": "http://169.254.169.254/x"}))
    out = run(driver, "gs://data", dict(base, service_account=aws), "list", 10)
    end = parse_list(out)[2]
    check(end[0] == "auth" and "AWS" in end[1] and "file or url" in end[1],
          f"AWS-sourced external account refused with what to use ({end})")

    # ---- requester pays ----
    fake.requester_pays["rp-bucket"] = "billing-1"
    out = run(driver, "gs://rp-bucket", base, "list", 10, env=menv)
    end = parse_list(out)[2]
    check(end[0] == "access_denied" and "user_project" in end[1],
          f"requester-pays bucket without user_project: names it ({end})")
    before = fake.count("gce")
    flow_ok(run(driver, "gs://rp-bucket", dict(base, user_project="billing-1"), "fetchall", 2, 64, 8,
                env=menv), "requester pays with user_project", "gce", before)

    unexpected = [e for e in fake.errors if not any(
        s in e for s in ("invalid_grant: Token has been", "bad audience"))]
    check(not unexpected, f"the fake refused nothing else ({unexpected[:3]})")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
