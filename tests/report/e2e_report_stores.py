"""`tiff-dumper report` of an OUT on the other object stores, and of a sharded dump into one
(issue 18: "a finished (or sharded) output folder, local or on an object store"):

  az      the corpus dumped into az://out/runs/a on azurite (shared-key auth)
  gcs     the corpus dumped into gs://out/runs/a on the GCS emulator (a bearer token)
  s3shard the corpus dumped as two shards (--shard 0/2, 1/2) into s3://out/runs/s on s3rver,
          then `tiff-dumper finish` on that URL; after shard 0 alone, the page is made from
          its marker ("1 of 2 shard markers", incomplete, the run section its rows)

Each page's tables (every figure's data-key -> data-count rows, the rows read, the run's
counts) must equal those of the same corpus dumped into a local folder; the credentials go
in the `output:` section of the config for the dump and as `--option K=V` for the report,
and the secret (account key, token) must appear neither in the page nor in any message,
also when it is refused. A missing container/bucket fails with exit 3 naming it.

For s3shard: `finish` on an object-store OUT came with s1-resume's merge; before it (this
branch's base, fe6b7ac) `finish` refuses a store. While `finish` refuses it, the test
reports the shard markers only and expects the "incomplete run" banner and the warning that
says to run `finish`; once `finish` writes _SUCCESS there, it expects the complete page
with the run's counts equal to the local run's and `shards: 2`.

The secret is also given from the environment (AZURE_STORAGE_ACCOUNT_KEY,
AWS_SECRET_ACCESS_KEY) instead of --option: the same page. A wrong prefix, a missing bucket
and an empty local folder fail with exit 3 and no page (the "nothing of a run" check in
cmd_report.c on main after fe6b7ac: the GCS emulator lists a missing bucket as empty).

usage: e2e_report_stores.py TIFF_DUMPER CORPUS_DIR NODE_DIR az|gcs|s3shard"""
import json
import os
import sys
import urllib.parse

import e2e_report as R
from tdtest import e2e_lib as L
from tdtest.out_stores import obstore_config, option_args, out_store

RUN_COUNTS = ("listed", "skipped", "dumped", "failed")


def store(kind, node, tmp):
    """The kind's emulator (tdtest.out_stores) and what this test needs of it: the OUT, a
    missing bucket, refused credentials, the secrets never to be shown, and the environment
    variable that can carry the secret instead of --option."""
    if kind == "az":
        b = out_store("az", node, tmp)
        b.missing = "az://nocontainer/x"
        # a key of the right form (base64 of 64 bytes) that azurite refuses
        b.wrong = dict(b.opts, account_key="V3JvbmdLZXk" + "A" * 77 + "==")
        b.secrets = [b.secret, b.wrong["account_key"]]
        b.env_secret = ("account_key", "AZURE_STORAGE_ACCOUNT_KEY")
        b.out = b.url("runs/a")
    elif kind == "gcs":
        # The emulator takes any bearer token; it stands for a real one here, whose text
        # must never be shown.
        b = out_store("gcs", node, tmp, token="ya29.q1-report-TOKEN-5f3c9a77e1")
        b.missing = "gs://nobucket-td/x"
        b.wrong = None  # the emulator refuses no token
        b.secrets = [b.secret]
        b.env_secret = None  # no environment variable for a bearer token
        b.out = b.url("runs/a")
    else:
        b = out_store("s3", node, tmp, secret="S3RVER-q1-secret")
        b.missing = "s3://nobucket/x"
        b.wrong = None  # s3rver checks no signature
        b.secrets = [b.secret]
        b.env_secret = ("secret_access_key", "AWS_SECRET_ACCESS_KEY")
        b.out = b.url("runs/s")
    return b


def config(path, corpus, opts):
    lines = ["store:", f"  name: {json.dumps(corpus)}", "fetch:", "  suffixes: ['.tif', '.tiff']",
             "output:"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n" + obstore_config(opts))


def no_secret(secrets, what, *texts):
    """None of the secrets, as written or percent-encoded, in any of the texts."""
    for s in secrets:
        for form in {s, urllib.parse.quote(s, safe="")}:
            for t in texts:
                if form in t:
                    L.fail(f"a secret ({form[:6]}...) is shown in {what}")


def headers(exe, cfg, out, env, *extra):
    p = L.run_tool(exe, "headers", "--quiet", cfg, out, *extra, env=env, timeout=60)
    if p.returncode not in (0, 1):
        L.fail(f"headers {out} {extra}: exit {p.returncode}: {p.stderr[-1500:]}")
    return p


def page(path):
    pg = R.Page()
    with open(path) as f:
        text = f.read()
    pg.feed(text)
    return pg, text


def same_tables(a, b, label, skip=("t-run",)):
    for t in b.tables:
        if t in skip:
            continue
        if a.tables.get(t) != b.tables[t]:
            L.fail(f"{label}: {t}: store {a.tables.get(t)} vs local {b.tables[t]}")
    if set(a.tables) != set(b.tables):
        L.fail(f"{label}: tables differ: {sorted(a.tables)} vs {sorted(b.tables)}")


def one_of_two(exe, b, args, tmp):
    """s3shard, shard 0 done and shard 1 not begun: the page is made from the one shard
    marker on the store (read with a GET), under the "incomplete" banner, and its run
    section is that shard's: the rows it wrote."""
    path = os.path.join(tmp, "one.html")
    p = L.run_tool(exe, "report", b.out, "-o", path, *args, env=b.env, timeout=60)
    if p.returncode != 0 or "1 of 2 shard markers" not in p.stderr:
        L.fail(f"report of shard 0 alone: exit {p.returncode}: {p.stderr}")
    pg, text = page(path)
    run, read = pg.tables["t-run"], pg.tables["t-read"]
    if 'id="incomplete"' not in text or "made from 1 of 2 shard markers" not in text:
        L.fail("shard 0 alone: no 'incomplete ... 1 of 2 shard markers' banner")
    if (run.get("markers_summed"), run.get("shards")) != ("1", "2"):
        L.fail(f"shard 0 alone: markers summed / shards: {run}")
    if run.get("dumped") != read["rows_headers"] or run.get("failed") != read["rows_errors"]:
        L.fail(f"shard 0 alone: the run section {run} is not the rows read {read}")
    print(f"shard 0 alone on the store: 1 of 2 markers, dumped {run['dumped']}")
    return p


def main():
    exe, corpus, node, kind = sys.argv[1:5]
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("report_" + kind)
    b = None
    try:
        b = store(kind, node, tmp)
        cfg = os.path.join(tmp, "c.yaml")
        config(cfg, corpus, b.opts)
        args = option_args(b.opts)
        msgs = []

        # the reference: the same corpus, the same config, into a local folder
        local = os.path.join(tmp, "local")
        headers(exe, cfg, local, b.env)
        page_local = os.path.join(tmp, "local.html")
        R.report(exe, local, page_local)
        ref, _ = page(page_local)
        succ = json.load(open(os.path.join(local, "_SUCCESS")))

        if kind == "s3shard":
            for i in range(2):
                msgs.append(headers(exe, cfg, b.out, b.env, "--shard", f"{i}/2"))
                if i == 0:
                    msgs.append(one_of_two(exe, b, args, tmp))
            # finish has no --option: the store's credentials from the environment
            fenv = dict(b.env, AWS_ENDPOINT_URL=b.opts["endpoint"], AWS_ALLOW_HTTP="true",
                        AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY=b.secrets[0],
                        AWS_REGION="us-east-1")
            f = L.run_tool(exe, "finish", b.out, env=fenv, timeout=60)
            msgs.append(f)
            print(f"finish {b.out}: exit {f.returncode}: {f.stderr.strip()}")
            finished = f.returncode == 0
            refused = f.returncode == 3 and ("not wired" in f.stderr or "local" in f.stderr)
            if not finished and not refused:
                L.fail(f"finish on a store: neither done nor refused as local-only: "
                       f"{f.returncode} {f.stderr}")
        else:
            msgs.append(headers(exe, cfg, b.out, b.env))
            finished = True

        page_store = os.path.join(tmp, "store.html")
        p = L.run_tool(exe, "report", b.out, "-o", page_store, *args, env=b.env, timeout=60)
        msgs.append(p)
        if p.returncode != 0:
            L.fail(f"report of {b.out}: exit {p.returncode}: {p.stderr}")
        print(p.stderr.strip())
        pg, text = page(page_store)
        if kind == "s3shard":
            # the rows read are the same; the files are per shard, and the markers counted
            t = dict(pg.tables["t-read"])
            if (t.pop("header_files"), t.pop("error_files"), t.pop("shard_markers", None)) != \
                    ("2", "2", "2"):
                L.fail(f"s3shard: files and markers: {pg.tables['t-read']}")
            pg.tables["t-read"] = t
            for k in ("header_files", "error_files"):
                ref.tables["t-read"].pop(k)
        same_tables(pg, ref, kind)
        run = pg.tables["t-run"]
        print("t-run:", run)
        if finished:
            if 'id="incomplete"' in text or "incomplete" in p.stderr:
                L.fail(f"{kind}: a finished run is shown as incomplete")
            if kind == "s3shard" and run.get("shards") != "2":
                L.fail(f"s3shard: the finished run's shards: {run.get('shards')}")
            for k in RUN_COUNTS:
                if run.get(k) is None or int(run[k]) != succ[k]:
                    L.fail(f"{kind}: run {k}: page {run.get(k)}, local _SUCCESS {succ[k]}")
        else:
            if 'id="incomplete"' not in text:
                L.fail("shard markers only: no 'incomplete run' banner")
            if "incomplete" not in p.stderr or "finish" not in p.stderr:
                L.fail(f"shard markers only: no warning naming finish: {p.stderr}")
            print("finish on a store is refused: the markers-only page has the banner")
        if f"read_parquet(&#39;{b.out}/part-*.parquet&#39;)" not in text:
            L.fail(f"the SQL does not name the OUT {b.out}")
        no_secret(b.secrets, "the page", text)
        if finished:
            # the run's config is on the page, its secret option masked (so the check above
            # looked at the place where a secret would be)
            secret_key = {"az": "account_key", "gcs": "bearer_token",
                          "s3shard": "secret_access_key"}[kind]
            if secret_key not in text or b.opts["endpoint" if kind != "gcs" else
                                                 "google_base_url"] not in text:
                L.fail(f"the run's config (with {secret_key}) is not on the page")
            if f"{secret_key}: &quot;***&quot;" not in text:
                L.fail(f"{secret_key} is not shown masked in the run's config")

        # the secret from the environment instead of --option: the same page
        if b.env_secret:
            opt, var = b.env_secret
            eargs = option_args(b.opts, skip=(opt,))
            page_env = os.path.join(tmp, "env.html")
            p = L.run_tool(exe, "report", b.out, "-o", page_env, *eargs,
                           env=dict(b.env, **{var: b.opts[opt]}), timeout=60)
            msgs.append(p)
            if p.returncode != 0:
                L.fail(f"report with {var}: exit {p.returncode}: {p.stderr}")
            pe, texte = page(page_env)
            # (t-read of pg was trimmed above for s3shard)
            if {k: v for k, v in pe.tables.items() if k != "t-read"} \
                    != {k: v for k, v in pg.tables.items() if k != "t-read"}:
                L.fail(f"report with {var}: the page differs")
            no_secret(b.secrets, "the page", texte)

        # a missing container / bucket: exit 3, named, no secret
        p = L.run_tool(exe, "report", b.missing, "-o", os.path.join(tmp, "x.html"), *args,
                       env=b.env, timeout=60)
        msgs.append(p)
        name = b.missing.split("/")[2]
        if p.returncode != 3 or name not in p.stderr:
            L.fail(f"missing {name}: exit {p.returncode}: {p.stderr}")
        if os.path.exists(os.path.join(tmp, "x.html")):
            L.fail("a page was written for a store that could not be read")
        # the right bucket, a wrong prefix (nothing of a run there): the same failure, not
        # an empty page
        p = L.run_tool(exe, "report", b.out + "-typo", "-o", os.path.join(tmp, "x.html"), *args,
                       env=b.env, timeout=60)
        msgs.append(p)
        if p.returncode != 3 or "part-*.parquet" not in p.stderr:
            L.fail(f"wrong prefix: exit {p.returncode}: {p.stderr}")
        if os.path.exists(os.path.join(tmp, "x.html")):
            L.fail("a page was written for a prefix with nothing in it")
        # the same for a local folder with nothing of a run in it
        empty = os.path.join(tmp, "empty")
        os.makedirs(os.path.join(empty, "_errors"))
        p = L.run_tool(exe, "report", empty, "-o", os.path.join(tmp, "x.html"), timeout=60)
        if p.returncode != 3 or "part-*.parquet" not in p.stderr \
                or os.path.exists(os.path.join(tmp, "x.html")):
            L.fail(f"empty folder: exit {p.returncode}: {p.stderr}")
        # refused credentials: exit 3, and the refused key not shown either
        if b.wrong:
            wargs = option_args(b.wrong)
            p = L.run_tool(exe, "report", b.out, "-o", os.path.join(tmp, "x.html"), *wargs,
                           env=b.env, timeout=60)
            msgs.append(p)
            print(f"wrong key: exit {p.returncode}: {p.stderr.strip()}")
            if p.returncode != 3 or os.path.exists(os.path.join(tmp, "x.html")):
                L.fail(f"refused key: exit {p.returncode}: {p.stderr}")
        for m in msgs:
            no_secret(b.secrets, "a message", m.stdout, m.stderr)
        print(f"ok: {kind}: {len(ref.tables)} tables equal to the local dump's")
    finally:
        if b:
            b.stop()
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
