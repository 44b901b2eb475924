"""Azure Entra ID (Azure AD) credentials, each flow against a loopback fake of the identity
endpoint it talks to (tdtest/idfake.py checks the form fields and headers the real one
checks), and then the data requests against azurite carrying the fake's token: azurite
cannot check a foreign bearer token, so the fake is also a checking proxy in front of it
(it lets a request through to a public container only with a token it issued that has not
expired, and strips the header).

Flows: service principal with a client secret (options and AZURE_* variables), workload
identity (federated token file, re-read at every refresh: the test rotates it), managed
identity (IMDS with client_id / object_id / msi_resource_id, and the system identity), the
Azure CLI (a fake `az` on PATH that checks its arguments). Tokens with a short lifetime
are refreshed before they expire (no request ever reaches the proxy with an expired one).
Refusals name the option and what to use; secrets never show.

With TIFF_DUMPER, the whole tool too: `headers --check` accepts the service principal
settings (it used to refuse them as unsupported) and a `headers` run through the proxy
writes its outputs with the client secret masked everywhere.

usage: az_auth_flows.py DRIVER NODE_DIR [TIFF_DUMPER]"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

from tdtest.azgcs_testlib import blob_bytes, check, failures, parse_get, parse_list
from tdtest.azurite import ACCOUNT, Azurite, azurite_main_js, start_azurite
from tdtest.idfake import IdFake
from tdtest.store_testlib import stop

SECRET = "s3cr3t-" + os.urandom(6).hex()


def run(driver, url, opts, *cmd, env=None, path=None):
    args = [driver, url]
    for k, v in opts.items():
        args += ["-o", f"{k}={v}"]
    args += [str(c) for c in cmd]
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("AZURE_", "AZURITE_", "IDENTITY_"))}
    if path is not None:
        e["PATH"] = path
    e.update(env or {})
    p = subprocess.run(args, capture_output=True, timeout=120, env=e)
    if p.stderr.strip():
        print("driver stderr:", p.stderr.decode("utf-8", "replace")[-3000:])
    return p.stdout.decode("utf-8", "replace")


def main():
    driver, node_dir = sys.argv[1], sys.argv[2]
    main_js = azurite_main_js(node_dir)
    if not main_js:
        print(f"azurite is not installed in {node_dir} (npm ci in tests/node)")
        return 77
    tmp = tempfile.mkdtemp(prefix="td-azauth-")
    proc, port = start_azurite(main_js, tmp)
    fake = None
    try:
        if port is None:
            return 1
        fake = IdFake(port).start()
        rc = tests(driver, Azurite(port), fake, tmp)
        if len(sys.argv) > 3:
            tool(sys.argv[3], fake, tmp)
            rc = 1 if failures else rc
        return rc
    finally:
        if fake:
            fake.stop()
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def tool(exe, fake, tmp):
    cfg = os.path.join(tmp, "sp.yaml")
    with open(cfg, "w") as f:
        f.write(f"""store:
  name: "az://pub"
  obstore_config:
    account_name: "{ACCOUNT}"
    endpoint: "{fake.url}/{ACCOUNT}"
    tenant_id: "tenant-1"
    client_id: "app-1"
    client_secret: "{SECRET}"
    authority_host: "{fake.url}"
concurrency:
  n_consumers: 4
  threads: 4
""")
    e = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "AZURITE_"))}
    p = subprocess.run([exe, "headers", "--check", cfg], capture_output=True, timeout=60, env=e)
    check(p.returncode == 0, f"tiff-dumper headers --check accepts a service principal "
          f"(exit {p.returncode}: {p.stderr.decode()[-300:]})")
    out = os.path.join(tmp, "out")
    before, used0 = fake.count("az_secret"), len(fake.used)
    p = subprocess.run([exe, "headers", cfg, out], capture_output=True, timeout=120, env=e)
    check(p.returncode in (0, 1) and os.path.exists(os.path.join(out, "_SUCCESS")),
          f"tiff-dumper headers through the proxy (exit {p.returncode}: "
          f"{p.stderr.decode()[-300:]})")
    # four fetch threads, each with its own store, plus the lister's: one token fetch, by
    # the lister's store, shared with the others (src/store/store_share.h)
    check(fake.count("az_secret") - before == 1,
          f"threads: 4 fetched one token ({fake.count('az_secret') - before})")
    check(len(fake.used) - used0 >= 4, f"the list and the 3 reads went with a token "
          f"({len(fake.used) - used0} requests)")
    leaked = [os.path.join(d, n) for d, _, fs in os.walk(out) for n in fs
              if SECRET.encode() in open(os.path.join(d, n), "rb").read()]
    check(not leaked and SECRET.encode() not in p.stdout + p.stderr,
          f"the client secret is in no output file and no message ({leaked})")


def tests(driver, az, fake, tmp):
    az.create_container("pub", public=True)
    names = ["a.tif", "dir/b.tif", "dir/c d.tif"]
    for i, n in enumerate(names):
        az.put("pub", n, blob_bytes(n, 3000 + i))
    url = "az://pub"
    base = {"account_name": ACCOUNT, "endpoint": f"{fake.url}/{ACCOUNT}"}

    def listing_ok(out, what):
        entries, pages, end = parse_list(out)
        got = sorted((e[0], e[1]) for e in entries)
        want = sorted((n, 3000 + i) for i, n in enumerate(names))
        fl = [ln.split("\t") for ln in out.splitlines() if ln.startswith("F\t")]
        if fl:  # fetchall: keys and reads (64 bytes each), no entry lines
            got = sorted((bytes.fromhex(f[1]).decode(), 3000 + names.index(
                bytes.fromhex(f[1]).decode())) for f in fl if f[2] == "ok" and f[3] == "64")
        check(end == ("ok", "") and got == want, f"{what}: listing through the proxy "
              f"({end}, {len(got)} entries)")

    def read_ok(out, what):
        g = parse_get(out)
        check(g["status"] == "ok" and bytes.fromhex(g["hex"]) == blob_bytes("dir/b.tif", 3001)[:64],
              f"{what}: ranged read through the proxy ({g['status']} {g['msg']})")

    # ---- service principal, client secret ----
    fake.az.update(client_secret=SECRET)
    sp = dict(base, client_id="app-1", client_secret=SECRET, tenant_id="tenant-1",
              authority_host=fake.url)
    before = fake.count("az_secret")
    out = run(driver, url, sp, "fetchall", 2, 64, 8)
    listing_ok(out, "client secret")
    fl = [ln.split("\t") for ln in out.splitlines() if ln.startswith("F\t")]
    check(len(fl) == 3 and all(f[2] == "ok" for f in fl), "client secret: reads ok")
    check(fake.count("az_secret") - before == 1,
          f"client secret: one token for 2 pages + 3 reads ({fake.count('az_secret') - before})")
    check(SECRET not in out, "client secret: the secret is never printed")
    # the same from the variables the Azure SDKs read
    env = {"AZURE_CLIENT_ID": "app-1", "AZURE_CLIENT_SECRET": SECRET,
           "AZURE_TENANT_ID": "tenant-1", "AZURE_AUTHORITY_HOST": fake.url}
    read_ok(run(driver, url, base, "get", "dir/b.tif", 0, 64, env=env), "AZURE_* variables")
    # refused secret: auth, names the options, never shows the secret
    bad = dict(sp, client_secret="wrong-" + SECRET)
    out = run(driver, url, bad, "list", 10)
    end = parse_list(out)[2]
    check(end[0] == "auth" and "AADSTS7000215" in end[1] and "client_secret" in end[1]
          and "Trace ID" not in end[1] and SECRET not in out,
          f"client secret refused: auth naming client_secret ({end})")
    # a refresh that fails while the token is still good fails nobody; once it is not,
    # requests fail with the endpoint's reason (4 s tokens, reads at 0, 1, .. 4 s)
    fake.expires_in = 4
    fake.max_tokens = sum(fake.issued.values()) + 1
    out = run(driver, url, sp, "getloop", "dir/b.tif", 64, 5, 1000)
    gl = [ln.split("\t") for ln in out.splitlines() if ln.startswith("G\t")]
    st = [g[1] for g in gl]
    check(st == ["ok", "ok", "ok", "ok", "auth"] and "AADSTS7000222" in gl[-1][-1],
          f"failed refreshes: reads go on with the valid token, then fail with why ({st})")
    fake.max_tokens = None
    fake.expires_in = 3600
    # missing settings: config error naming them
    out = run(driver, url, dict(base, client_id="app-1", client_secret=SECRET), "list", 10)
    end = parse_list(out)[2]
    check(end[0] == "config" and "tenant_id" in end[1] and "AZURE_TENANT_ID" in end[1],
          f"client secret without tenant_id: config error naming it ({end})")
    out = run(driver, url, dict(sp, tenant_id="bad/tenant"), "list", 10)
    check(parse_list(out)[2][0] == "config", "a tenant_id that is no tenant is refused")
    out = run(driver, url, dict(sp, authority_host="ftp://x"), "list", 10)
    end = parse_list(out)[2]
    check(end[0] == "config" and "authority_host" in end[1], f"bad authority_host ({end})")

    # ---- workload identity, with refresh: 4 s tokens, reads 1 s apart for 7 s ----
    fed = os.path.join(tmp, "azure-identity-token")
    with open(fed, "w") as f:
        f.write("eyJhbGciOiJSUzI1NiJ9.projected-1.sig\n")
    fake.az.update(federated_file=fed)
    wi_env = {"AZURE_CLIENT_ID": "app-1", "AZURE_TENANT_ID": "tenant-1",
              "AZURE_FEDERATED_TOKEN_FILE": fed, "AZURE_AUTHORITY_HOST": fake.url}
    listing_ok(run(driver, url, base, "list", 10, env=wi_env), "workload identity")
    fake.expires_in = 4
    before, used0, exp0 = fake.count("az_workload"), len(fake.used), fake.expired_uses
    # rotate the projected token while the run goes on: a stale assertion is refused
    rot = subprocess.Popen([sys.executable, "-c", f"""
import time
time.sleep(2.5)
open({fed!r} + '.tmp', 'w').write('eyJhbGciOiJSUzI1NiJ9.projected-2.sig')
import os; os.replace({fed!r} + '.tmp', {fed!r})
"""])
    out = run(driver, url, base, "getloop", "dir/b.tif", 64, 8, 1000, env=wi_env)
    rot.wait(timeout=30)
    gl = [ln.split("\t") for ln in out.splitlines() if ln.startswith("G\t")]
    n_tok = fake.count("az_workload") - before
    check(len(gl) == 8 and all(g[1] == "ok" for g in gl),
          f"workload identity: 8 reads over 7 s with 4 s tokens all ok "
          f"({[g[1] for g in gl]})")
    check(n_tok >= 2 and fake.expired_uses == exp0,
          f"workload identity: refreshed before expiry ({n_tok} tokens, "
          f"{fake.expired_uses - exp0} uses of an expired one)")
    lefts = [u[1] for u in fake.used[used0:]]
    check(lefts and min(lefts) > 0.2, f"no request went with a token about to expire "
          f"(least left {min(lefts) if lefts else None:.2f} s)")
    fake.expires_in = 3600
    out = run(driver, url, dict(base, federated_token_file=fed, client_id="app-1"), "list", 10)
    end = parse_list(out)[2]
    check(end[0] == "config" and "tenant_id" in end[1], f"workload without tenant ({end})")
    out = run(driver, url, base, "list", 10,
              env=dict(wi_env, AZURE_FEDERATED_TOKEN_FILE=fed + ".missing"))
    end = parse_list(out)[2]
    check(end[0] == "auth" and "federated_token_file" in end[1], f"missing token file ({end})")

    # ---- managed identity (IMDS) ----
    msi = f"{fake.url}/metadata/identity/oauth2/token"
    for opt, q in ((None, None), ("client_id", "client_id"), ("object_id", "object_id"),
                   ("msi_resource_id", "msi_res_id")):
        fake.imds["identity"] = (q, "id-" + q) if q else None
        o = dict(base, msi_endpoint=msi)
        if opt:
            o[opt] = "id-" + q
        before = fake.count("imds")
        out = run(driver, url, o, "fetchall", 10, 64, 4)
        listing_ok(out, f"managed identity ({opt or 'system-assigned'})")
        check(fake.count("imds") - before == 1, f"IMDS ({opt}): one token")
    fake.imds["identity"] = ("client_id", "other")
    out = run(driver, url, dict(base, msi_endpoint=msi, client_id="id-client_id"), "list", 10)
    end = parse_list(out)[2]
    check(end[0] == "auth" and "Identity not found" in end[1] and "managed identity" in end[1],
          f"IMDS without that identity: auth, says what to check ({end})")
    fake.imds["identity"] = None
    # IDENTITY_ENDPOINT (App Service) is msi_endpoint too; expires_on refreshes
    fake.expires_in = 3
    before, exp0 = fake.count("imds"), fake.expired_uses
    out = run(driver, url, base, "getloop", "dir/b.tif", 64, 5, 1000,
              env={"IDENTITY_ENDPOINT": msi})
    gl = [ln.split("\t") for ln in out.splitlines() if ln.startswith("G\t")]
    check(len(gl) == 5 and all(g[1] == "ok" for g in gl) and
          fake.count("imds") - before >= 2 and fake.expired_uses == exp0,
          f"IMDS: 3 s tokens refreshed over 4 s ({fake.count('imds') - before} tokens)")
    fake.expires_in = 3600

    # ---- Azure CLI: a fake az that checks its arguments and asks the fake for a token ----
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    az_py = os.path.join(bindir, "az")
    with open(az_py, "w") as f:
        f.write(f"""#!{sys.executable}
import datetime, json, sys, time, urllib.request
want = ["account", "get-access-token", "--output", "json", "--scope",
        "https://storage.azure.com/.default"]
if sys.argv[1:] != want:
    sys.stderr.write("ERROR: unexpected arguments " + " ".join(sys.argv[1:]) + "\\n")
    sys.exit(2)
mode = open({os.path.join(tmp, 'az-mode')!r}).read().strip()
if mode == "logout":
    sys.stderr.write("WARNING: something\\nERROR: Please run 'az login' to setup account.\\n")
    sys.exit(1)
if mode == "hang":
    time.sleep(600)
r = urllib.request.Request({fake.url!r} + "/{'tenant-1'}/oauth2/v2.0/token", method="POST",
    data=b"grant_type=client_credentials&client_id=app-1&client_secret={SECRET}"
         b"&scope=https%3A%2F%2Fstorage.azure.com%2F.default",
    headers={{"Content-Type": "application/x-www-form-urlencoded"}})
tok = json.load(urllib.request.urlopen(r))["access_token"]
exp = time.time() + 3000
print(json.dumps({{"accessToken": tok,
    "expiresOn": datetime.datetime.fromtimestamp(exp).strftime("%Y-%m-%d %H:%M:%S.%f"),
    **({{"expires_on": int(exp)}} if mode == "new" else {{}}),
    "subscription": "sub", "tenant": "tenant-1", "tokenType": "Bearer"}}, indent=2))
""")
    os.chmod(az_py, os.stat(az_py).st_mode | stat.S_IEXEC)
    path = bindir + os.pathsep + os.environ.get("PATH", "")
    for mode in ("new", "old"):  # az >= 2.54 adds expires_on; older ones only expiresOn
        with open(os.path.join(tmp, "az-mode"), "w") as f:
            f.write(mode)
        before = fake.count("az_secret")
        out = run(driver, url, dict(base, use_azure_cli="true"), "fetchall", 10, 64, 4,
                  path=path)
        listing_ok(out, f"Azure CLI ({mode} output)")
        check(fake.count("az_secret") - before == 1, f"Azure CLI ({mode}): run once")
    with open(os.path.join(tmp, "az-mode"), "w") as f:
        f.write("logout")
    out = run(driver, url, dict(base, use_azure_cli="true"), "list", 10, path=path)
    end = parse_list(out)[2]
    check(end[0] == "auth" and "az login" in end[1] and "WARNING" not in end[1],
          f"Azure CLI logged out: auth with az's message ({end})")
    out = run(driver, url, dict(base, use_azure_cli="true"), "list", 10,
              path=os.path.join(tmp, "nothing"))
    end = parse_list(out)[2]
    check(end[0] == "auth" and "use_azure_cli" in end[1], f"no az on PATH ({end})")

    # ---- Fabric stays refused, naming what to use ----
    out = run(driver, url, dict(base, use_fabric_endpoint="true"), "list", 10)
    end = parse_list(out)[2]
    check(end[0] == "unsupported" and "use_fabric_endpoint" in end[1] and "client_id" in end[1],
          f"Fabric refused with what to use ({end})")

    # ---- nothing from the fake was refused but what the tests meant ----
    unexpected = [e for e in fake.errors if not any(
        s in e for s in ("AADSTS7000215", "AADSTS7000222", "Identity not found"))]
    check(not unexpected, f"the fake refused nothing else ({unexpected[:3]})")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
