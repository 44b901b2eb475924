"""End to end through the tool with issue 17's S3 flows stacked: the shared corpus in an
S3 Express directory bucket of the loopback fake (tdtest.s3_authfake), every object
SSE-C-encrypted, read with a role profile whose source profile is a credential_process.
`tiff-dumper headers` gives the same rows as the local-folder run, `info` prints the same
as for the local files, every request's signature is botocore's, and no secret (SSE-C key,
secrets from the process, STS or CreateSession) is in the outputs, _SUCCESS included.

usage: s3_auth_e2e.py TIFF_DUMPER CORPUS_DIR NODE_DIR
"""
import base64
import os
import sys

from tdtest import e2e_lib as L
from tdtest.s3_authfake import Fake

BUCKET = "corpus--use1-az4--x-s3"
SSEC_KEY = base64.b64encode(bytes(range(100, 132))).decode()
PROC = r'''
import json
print(json.dumps({"Version": 1, "AccessKeyId": "AKIAPROC",
                  "SecretAccessKey": "proc-secret-never-printed"}))
'''


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("s3auth_e2e")
    fake = Fake()
    try:
        fake.add_key("AKIAPROC", "proc-secret-never-printed")
        n = 0
        for d, _, files in os.walk(corpus, followlinks=True):
            for f in files:
                path = os.path.join(d, f)
                with open(path, "rb") as fh:
                    fake.objects[(BUCKET, os.path.relpath(path, corpus))] = (fh.read(), SSEC_KEY)
                n += 1
        print(f"{n} objects in {BUCKET}")
        script = os.path.join(tmp, "proc.py")
        with open(script, "w") as f:
            f.write(PROC)
        conf = os.path.join(tmp, "config")
        with open(conf, "w") as f:
            f.write(f"[profile base]\ncredential_process = {sys.executable} {script}\n\n"
                    "[profile reader]\nrole_arn = arn:aws:iam::123456789012:role/reader\n"
                    "source_profile = base\nexternal_id = e2e\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=tmp, AWS_CONFIG_FILE=conf, AWS_EC2_METADATA_DISABLED="true",
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmp, "none"),
                   AWS_ENDPOINT_URL_STS=fake.url)
        obstore = {"endpoint": fake.url, "allow_http": True, "region": "us-east-1",
                   "profile": "reader", "sse_customer_key_base64": SSEC_KEY}
        conc = {"n_consumers": 32, "list_chunk_size": 50}
        L.write_config(os.path.join(tmp, "local.yaml"), corpus, concurrency=conc)
        with open(os.path.join(tmp, "s3.yaml"), "w") as f:
            f.write(f"store:\n  name: \"s3://{BUCKET}\"\n  obstore_config:\n")
            for k, v in obstore.items():
                f.write(f"    {k}: {v if not isinstance(v, bool) else str(v).lower()}\n")
            f.write("concurrency:\n  n_consumers: 32\n  list_chunk_size: 50\n  threads: 2\n")
        runs = {}
        for name in ("local", "s3"):
            out = os.path.join(tmp, "out-" + name)
            p = L.run_tool(exe, "headers", os.path.join(tmp, name + ".yaml"), out, env=env,
                           timeout=300)
            print(name, "exit", p.returncode, p.stderr[-1500:])
            if p.returncode not in (0, 1):
                L.fail(f"{name} run: exit status {p.returncode}")
            runs[name] = out
            for s in (SSEC_KEY, "proc-secret", "secret/", "token/"):
                if s in p.stdout + p.stderr:
                    L.fail(f"{name}: a secret in the tool's output")
        if fake.errors:
            L.fail(f"the fake saw: {fake.errors[:5]}")
        print("fake:", fake.hits)
        # one store per fetch thread plus the lister's, but one credential source: with
        # threads: 2, the lister's store makes the one AssumeRole and the one CreateSession
        # and the fetch threads' stores take them (src/store/store_share.h)
        if fake.hits.get("sts") != 1 or fake.hits.get("create-session") != 1:
            L.fail(f"one AssumeRole and one CreateSession for the run expected: {fake.hits}")
        for d, _, files in os.walk(runs["s3"]):
            for f in files:
                with open(os.path.join(d, f), "rb") as fh:
                    data = fh.read()
                for s in (SSEC_KEY, "proc-secret", "secret/", "token/"):
                    if s.encode() in data:
                        L.fail(f"a secret ({s[:8]}...) in {os.path.join(d, f)}")
        with open(os.path.join(runs["s3"], "_SUCCESS")) as fh:
            if "sse_customer_key_base64" not in fh.read():
                L.fail("_SUCCESS does not show the (masked) SSE-C option")
        L.same_rows(node_dir, runs["local"], runs["s3"], ("local", "s3"))
        opts = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in obstore.items()}
        L.info_matches_local(exe, corpus, f"s3://{BUCKET}/", opts, env=env)
        if fake.errors:
            L.fail(f"the fake saw: {fake.errors[:5]}")
        print("ok")
    finally:
        fake.stop()
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
