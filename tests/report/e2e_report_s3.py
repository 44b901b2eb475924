"""`tiff-dumper report` of an OUT on an object store (s3rver): the corpus dumped into
s3://out/runs/a gives the same page numbers as the same dump in a local folder (the page's
tables compared, no browser needed), and the figures' SQL still names OUT.

usage: e2e_report_s3.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import os
import sys

import e2e_report as R
from tdtest import e2e_lib as L
from tdtest.s3_testlib import S3rver


def main():
    exe, corpus, node = sys.argv[1:4]
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("report_s3")
    srv = None
    try:
        data = os.path.join(tmp, "s3data")
        os.makedirs(os.path.join(data, "out"))
        srv = S3rver(node, data)
        opts = {"endpoint": srv.endpoint, "allow_http": "true", "access_key_id": "S3RVER",
                "secret_access_key": "S3RVER", "region": "us-east-1"}
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_EC2_METADATA_DISABLED="true", HOME="/nonexistent")
        cfg = os.path.join(tmp, "c.yaml")
        lines = ["store:", f"  name: {corpus}", "fetch:", "  suffixes: ['.tif', '.tiff']",
                 "output:", "  obstore_config:"] + [f"    {k}: {v}" for k, v in opts.items()]
        open(cfg, "w").write("\n".join(lines) + "\n")
        url = "s3://out/runs/a"
        p = L.run_tool(exe, "headers", "--quiet", cfg, url, env=env)
        if p.returncode not in (0, 1):
            L.fail(f"headers to s3: {p.returncode} {p.stderr}")
        local = os.path.join(tmp, "local")
        p = L.run_tool(exe, "headers", "--quiet", cfg, local, env=env)
        if p.returncode not in (0, 1):
            L.fail(f"headers local: {p.returncode} {p.stderr}")

        page_s3, page_local = os.path.join(tmp, "s3.html"), os.path.join(tmp, "local.html")
        args = [a for k, v in opts.items() for a in ("--option", f"{k}={v}")]
        p = L.run_tool(exe, "report", url, "-o", page_s3, *args, env=env)
        if p.returncode != 0:
            L.fail(f"report of s3: {p.returncode} {p.stderr}")
        print(p.stderr.strip())
        R.report(exe, local, page_local)
        a, b = R.Page(), R.Page()
        a.feed(open(page_s3).read())
        b.feed(open(page_local).read())
        for t in b.tables:
            if t in ("t-run",):
                continue
            if a.tables.get(t) != b.tables[t]:
                L.fail(f"{t}: s3 {a.tables.get(t)} vs local {b.tables[t]}")
        if a.tables["t-run"].get("dumped") != b.tables["t-run"].get("dumped"):
            L.fail("the run's counts differ")
        if "read_parquet(&#39;s3://out/runs/a/part-*.parquet&#39;)" not in open(page_s3).read():
            L.fail("the SQL does not name the s3 OUT")
        # a bucket that does not exist: a clear failure, exit 3, no secret in the message
        p = L.run_tool(exe, "report", "s3://nobucket/x", "-o", os.path.join(tmp, "x.html"), *args,
                       env=env)
        if p.returncode != 3 or "S3RVER" in p.stderr or "nobucket" not in p.stderr:
            L.fail(f"missing bucket: {p.returncode} {p.stderr}")
        print("ok:", len(b.tables), "tables equal")
    finally:
        if srv:
            srv.stop()
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
