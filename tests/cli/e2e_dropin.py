"""Drop-in behaviour for users of the Python tool (issue 14): the same config gives the same
rows, on real stores.

- prefixes have obstore's segment semantics on every store (local folder, s3rver, nginx
  WebDAV): 'a/b' lists a/b/x.tif, never a/bc/y.tif nor the object a/b itself;
  store.prefix_mode: raw keeps byte prefixes.
- TIFF defaults as async-tiff fills them, with `defaulted`; GDAL tags also in other_tags.
- obstore's client_options / retry_config act on a real (TLS) server; warnings for the rest.
- the https S3 / R2 URL forms select S3 (s3rver behind `endpoint`), for headers and info.
- the suffix rule, and the setting that reproduces the original's.
- prefixes: [] and prefixes: null list the whole store (the original's `if not prefixes`).
- the errors table is OUT_DIR/_errors/ (dataset readers skip names starting with '_'), and
  an older version's OUT_DIR/errors/ is removed when it holds only our files.
usage: e2e_dropin.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import json
import os
import shutil
import sys

from tdtest import e2e_lib as L
from tdtest.http_testlib import Nginx
from tdtest.http_testlib import DAV_MODULE
from tdtest.s3_testlib import S3rver, put_object
from tdtest.store_testlib import free_port, start_nginx, stop

GOOD = "rasterio/RGB.byte.tif"
# the tree every store serves; the object "a/b" itself is a TIFF too
KEYS = ["a/b/x.tif", "a/b/deep/z.tif", "a/bc/y.tif", "a/b", "a/b.tif", "10/C/k.tif",
        "10/CX/l.tif", "top.tif"]
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        L.fail(what)


def write_cfg(path, store, prefixes="absent", obstore=None, store_extra=None, **sections):
    lines = ["store:", f"  name: {json.dumps(store)}"]
    if prefixes != "absent":
        lines.append(f"  prefixes: {'null' if prefixes is None else json.dumps(prefixes)}")
    for k, v in (store_extra or {}).items():
        lines.append(f"  {k}: {json.dumps(v)}")
    if obstore:
        lines.append("  obstore_config:")
        lines += [f"    {k}: {json.dumps(v)}" for k, v in obstore.items()]
    sections.setdefault("concurrency", {"n_consumers": 4, "list_chunk_size": 10,
                                        "max_buffer_size": 20, "write_chunk_size": 10})
    sections.setdefault("fetch", {"suffixes": []})  # every key, "a/b" included
    if store.startswith("s3://"):
        # s3rver leaves a folder that holds only folders ("10/") out of CommonPrefixes (S3
        # does not): a delimiter fan-out would miss keys there, so list serially
        sections["concurrency"] = dict(sections["concurrency"], list_parallel=1)
    for name, kv in sections.items():
        lines.append(f"{name}:")
        for k, v in kv.items():
            lines.append(f"  {k}: {json.dumps(v)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def dumped(exe, node_dir, cfg, out, env=None):
    p = L.run_tool(exe, "headers", cfg, out, "--quiet", env=env, timeout=120)
    if p.returncode not in (0, 1):
        L.fail(f"{cfg}: exit status {p.returncode}: {p.stderr}")
    h, e = L.duckdb(node_dir, f"SELECT path FROM read_parquet('{out}/part-*.parquet')",
                    f"SELECT path, stage FROM read_parquet('{out}/_errors/part-*.parquet')")
    return sorted(r["path"] for r in h), sorted(r["path"] for r in e if r["stage"] != "list")


def prefix_cases(exe, node_dir, tmp, label, store, obstore=None, env=None):
    cfg = os.path.join(tmp, f"{label}.yaml")
    out = os.path.join(tmp, f"out-{label}")
    every = sorted(KEYS)
    cases = [
        # "a/b/", "/a//b" and [""] are the same prefixes (test_config, test_keysrc)
        (["a/b"], ["a/b/deep/z.tif", "a/b/x.tif"]),
        (["10/C"], ["10/C/k.tif"]),
        ([], every),
        (None, every),
    ]
    for prefixes, want in cases:
        write_cfg(cfg, store, prefixes, obstore)
        got, errs = dumped(exe, node_dir, cfg, out, env)
        check(sorted(got + errs) == want, f"{label} prefixes {prefixes}: {got + errs}, want {want}")
    # the opt-in: byte prefixes as written
    write_cfg(cfg, store, ["a/b"], obstore, {"prefix_mode": "raw"})
    got, errs = dumped(exe, node_dir, cfg, out, env)
    want = [k for k in ["a/b", "a/b.tif", "a/b/deep/z.tif", "a/b/x.tif", "a/bc/y.tif"]
            if k in KEYS]
    check(sorted(got + errs) == want, f"{label} raw a/b: {got + errs}, want {want}")
    write_cfg(cfg, store, ["10/C"], obstore, {"prefix_mode": "raw"})
    got, errs = dumped(exe, node_dir, cfg, out, env)
    check(sorted(got + errs) == ["10/C/k.tif", "10/CX/l.tif"], f"{label} raw 10/C: {got + errs}")
    print(f"{label}: prefix semantics ok")


def test_errors_dir(exe, node_dir, tmp, data):
    cfg = os.path.join(tmp, "err.yaml")
    out = os.path.join(tmp, "out-err")
    os.makedirs(os.path.join(out, "errors"))
    legacy = os.path.join(out, "errors", "part-00000.parquet")
    with open(legacy, "wb") as f:
        f.write(b"PAR1 of an older version")
    write_cfg(cfg, data, None)
    with open(os.path.join(data, "broken.tif"), "wb") as f:
        f.write(b"II*\x00\xff\xff\xff\x7f")
    try:
        p = L.run_tool(exe, "headers", cfg, out, "--quiet")
        check(p.returncode == 1, f"one broken file: exit {p.returncode} {p.stderr}")
        check(not os.path.exists(os.path.join(out, "errors")),
              "the errors/ folder of an older version (only our files) is still there")
        check(sorted(os.listdir(os.path.join(out, "_errors"))) == ["part-00000.parquet"],
              f"_errors: {os.listdir(os.path.join(out, '_errors'))}")
        rows, = L.duckdb(node_dir, f"SELECT path, kind FROM read_parquet('{out}/_errors/*.parquet')")
        check([r["path"] for r in rows] == ["broken.tif"], f"error rows {rows}")
        # what a dataset reader sees (every file not under a _ or . name): headers only
        seen = []
        for d, dirs, files in os.walk(out):
            dirs[:] = [x for x in dirs if not x.startswith(("_", "."))]
            seen += [os.path.relpath(os.path.join(d, f), out) for f in files
                     if not f.startswith(("_", "."))]
        check(all(s.startswith("part-") and "/" not in s for s in seen), f"dataset files {seen}")
        # a user's file in an old errors/ keeps the folder (only our names are removed)
        os.makedirs(os.path.join(out, "errors"))
        with open(os.path.join(out, "errors", "notes.txt"), "w") as f:
            f.write("mine\n")
        with open(legacy, "wb") as f:
            f.write(b"old")
        p = L.run_tool(exe, "headers", cfg, out, "--quiet")
        check(p.returncode == 1, f"second run: exit {p.returncode} {p.stderr}")
        check(os.listdir(os.path.join(out, "errors")) == ["notes.txt"],
              f"errors/ after a run: {os.listdir(os.path.join(out, 'errors'))}")
    finally:
        os.unlink(os.path.join(data, "broken.tif"))
    print("errors table location ok")


def test_defaults_and_other_tags(exe, node_dir, tmp, corpus):
    """async-tiff's defaults in the rows and in info (listed in defaulted), and the three
    GDAL/GeoTIFF tags async-tiff 0.1.0 keeps in other_tags there as well."""
    data = os.path.join(tmp, "defaults")
    os.makedirs(data)
    bare = "async-tiff/image-tiff/bigtiff/BigTIFF.tif"  # no Compression/Planar/SampleFormat
    gdal = "cogeotiff/model_transformation.tif"  # GDAL_METADATA, GDAL_NODATA, 34264
    shutil.copy(os.path.join(corpus, bare), os.path.join(data, "bare.tif"))
    shutil.copy(os.path.join(corpus, gdal), os.path.join(data, "gdal.tif"))
    cfg = os.path.join(tmp, "defaults.yaml")
    out = os.path.join(tmp, "out-defaults")
    write_cfg(cfg, data, None)
    p = L.run_tool(exe, "headers", cfg, out, "--quiet")
    check(p.returncode == 0, f"defaults run: exit {p.returncode} {p.stderr}")
    rows, = L.duckdb(node_dir, "SELECT path, compression, planar_configuration, sample_format, "
                     "samples_per_pixel, defaulted, other_tags['42112'] IS NOT NULL AS md, "
                     "other_tags['42113'] AS nodata, other_tags['34264'] AS mt, gdal_nodata, "
                     f"model_transformation FROM read_parquet('{out}/part-*.parquet') ORDER BY path")
    b, g = rows
    check(str(b["compression"]) == "1" and str(b["planar_configuration"]) == "1"
          and [str(x) for x in b["sample_format"]] == ["1"] * int(b["samples_per_pixel"])
          and b["defaulted"] == ["compression", "planar_configuration", "sample_format"],
          f"bare row: {b}")
    check(g["md"] and json.loads(g["nodata"]) == {"type": 2, "count": 5, "value": "-128"}
          and g["gdal_nodata"] == "-128", f"gdal other_tags: {g}")
    mt = json.loads(g["mt"])
    check(mt["type"] == 12 and mt["count"] == 16 and mt["value"] == g["model_transformation"],
          f"34264 in other_tags: {mt} vs {g['model_transformation']}")
    p = L.run_tool(exe, "info", "--json", os.path.join(data, "bare.tif"))
    j = json.loads(p.stdout)
    check(p.returncode == 0 and j["defaulted"] == b["defaulted"] and j["compression"] == 1
          and j["planar_configuration"] == 1 and j["sample_format"] == [1] * j["samples_per_pixel"],
          f"info --json: {p.stdout[:500]}")
    p = L.run_tool(exe, "info", os.path.join(data, "bare.tif"))
    check("defaulted" in p.stdout and "planar_configuration" in p.stdout, f"info: {p.stdout}")
    print("defaults and other_tags ok")


TLS_CONF = """
load_module {dav};
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
  log_format td_ua '$status $request_method $request_uri "$http_user_agent"';
  access_log {tmp}/access.log td_ua;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {tmp}/self.pem;
    ssl_certificate_key {tmp}/self.key;
    root {root};
    location /busy/ {{ return 503; }}
    location / {{ dav_ext_methods PROPFIND OPTIONS; }}
  }}
}}
"""


def test_client_options(exe, node_dir, tmp, data):
    """obstore's client_options / retry_config act on a real server: a self-signed https
    nginx is read only with allow_invalid_certificates (and a warning), user_agent is what
    the server logs, retry_config.max_retries is the attempts an error row counts."""
    d = os.path.join(tmp, "tls")
    os.makedirs(d)
    p = L.run_tool("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                   "-subj", "/CN=127.0.0.1", "-keyout", os.path.join(d, "self.key"),
                   "-out", os.path.join(d, "self.pem"))
    check(p.returncode == 0, f"openssl: {p.stderr}")
    port = free_port()
    conf = ("user root;\n" if os.getuid() == 0 else "") + TLS_CONF.format(
        dav=DAV_MODULE, tmp=d, port=port, root=data)
    ng = start_nginx(d, conf, port)
    url = f"https://127.0.0.1:{port}/"
    cfg = os.path.join(tmp, "tls.yaml")
    out = os.path.join(tmp, "out-tls")
    try:
        write_cfg(cfg, url, ["a/b"])
        p = L.run_tool(exe, "headers", cfg, out, timeout=120)
        check(p.returncode == 1, f"self-signed without the option: exit {p.returncode} "
                                 f"{p.stderr[-500:]}")
        rows, = L.duckdb(node_dir, f"SELECT stage FROM read_parquet('{out}/_errors/*.parquet')")
        check([r["stage"] for r in rows] == ["list"], f"TLS failure rows: {rows}")

        write_cfg(cfg, url, ["a/b"], {"client_options": {"allow_invalid_certificates": True,
                                                           "user_agent": "dropin-agent/1"}})
        # write_cfg writes nested mappings as JSON flow mappings, which YAML reads
        p = L.run_tool(exe, "headers", cfg, out, timeout=120)
        check(p.returncode == 0, f"allow_invalid_certificates: exit {p.returncode} {p.stderr}")
        check("allow_invalid_certificates" in p.stderr and "NOT verified" in p.stderr,
              f"no warning: {p.stderr}")
        got, _ = dumped(exe, node_dir, cfg, out)
        check(got == ["a/b/deep/z.tif", "a/b/x.tif"], f"rows over TLS: {got}")
        log = open(os.path.join(d, "access.log")).read()
        check('"dropin-agent/1"' in log and "tiff-dumper/" not in log.split("dropin")[-1],
              f"user agent not used: {log[-600:]}")

        # retries: every attempt of busy/x.tif is answered 503
        keys = os.path.join(tmp, "busy.txt")
        with open(keys, "w") as f:
            f.write("busy/x.tif\n")
        for retries in (0, 2):
            write_cfg(cfg, url, "absent",
                      {"client_options": {"allow_invalid_certificates": True},
                       "retry_config": {"max_retries": retries,
                                        "backoff": {"init_backoff": "5ms",
                                                    "max_backoff": "20ms"}}},
                      {"keys_from": keys})
            p = L.run_tool(exe, "headers", cfg, out, timeout=120)
            check(p.returncode == 1, f"busy: exit {p.returncode} {p.stderr}")
            rows, = L.duckdb(node_dir, "SELECT kind, attempts FROM "
                             f"read_parquet('{out}/_errors/*.parquet')")
            check(rows == [{"kind": "throttled", "attempts": retries + 1}],
                  f"max_retries {retries}: {rows}")
    finally:
        stop(ng, group=True)
    print("client_options / retry_config ok")


def test_store_urls(exe, node_dir, tmp, s3, env):
    """The https URLs obstore's from_url sends to S3 select the S3 backend (bucket, region,
    addressing from the URL; an explicit option wins): pointed at s3rver with `endpoint`,
    they list and read its bucket, for `headers` and for `info`."""
    base = {"endpoint": s3.endpoint, "allow_http": True, "skip_signature": True}
    cfg = os.path.join(tmp, "url.yaml")
    out = os.path.join(tmp, "out-url")
    forms = [
        ("https://s3.us-east-1.amazonaws.com/bkt/a", {}),
        # virtual-hosted: the URL implies it; the endpoint is s3rver's, so path style here
        ("https://bkt.s3.us-east-1.amazonaws.com/a", {"virtual_hosted_style_request": False}),
        ("https://acc.r2.cloudflarestorage.com/bkt/a", {}),
    ]
    for url, extra in forms:
        write_cfg(cfg, url, ["b"], dict(base, **extra))
        got, errs = dumped(exe, node_dir, cfg, out, env)
        check(got == ["b/deep/z.tif", "b/x.tif"] and errs == [], f"{url}: {got} {errs}")
        succ = json.load(open(os.path.join(out, "_SUCCESS")))
        check(succ["store"] == "s3://bkt/a", f"{url}: store {succ['store']}")
    # info: the object's https URL
    opts = []
    for k, v in base.items():
        opts += ["-o", f"{k}={str(v).lower() if isinstance(v, bool) else v}"]
    for url in ("https://s3.us-east-1.amazonaws.com/bkt/a/b/x.tif",
                "https://acc.r2.cloudflarestorage.com/bkt/10/C/k.tif"):
        p = L.run_tool(exe, "info", "--json", *opts, "-o", "conditional_put=etag", url, env=env,
                       timeout=60)
        check(p.returncode == 0 and '"image_width"' in p.stdout, f"info {url}: {p.stdout} {p.stderr}")
        check("conditional_put is accepted but has no effect" in p.stderr, f"info warning: {p.stderr}")
    print("https S3 / R2 URLs ok")


def test_suffixes(exe, node_dir, tmp, tiff):
    """The default suffix rule finds .tif/.tiff in any case; suffixes [".tif"] with
    suffix_case: sensitive is exactly the Python tool's `path.endswith(".tif")`."""
    data = os.path.join(tmp, "suffixes")
    os.makedirs(data)
    for n in ("a.tif", "b.TIF", "c.tiff", "d.TIFF", "e.tif.bak"):
        with open(os.path.join(data, n), "wb") as f:
            f.write(tiff)
    cfg = os.path.join(tmp, "suf.yaml")
    out = os.path.join(tmp, "out-suf")
    write_cfg(cfg, data, None, fetch={})
    got, _ = dumped(exe, node_dir, cfg, out)
    check(got == ["a.tif", "b.TIF", "c.tiff", "d.TIFF"], f"default suffixes: {got}")
    write_cfg(cfg, data, None, fetch={"suffixes": [".tif"], "suffix_case": "sensitive"})
    got, _ = dumped(exe, node_dir, cfg, out)
    check(got == ["a.tif"], f"the original's rule: {got}")
    print("suffixes ok")


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    exe = os.path.abspath(exe)
    corpus = os.path.abspath(corpus)
    tmp = L.tempdir("dropin")
    try:
        with open(os.path.join(corpus, GOOD), "rb") as f:
            tiff = f.read()
        data = os.path.join(tmp, "data")
        # the object "a/b" cannot be both a file and a folder locally: the local tree has
        # a/b as a folder only, so its case list is the same minus that key
        for k in KEYS:
            if k == "a/b":
                continue
            os.makedirs(os.path.dirname(os.path.join(data, k)) or data, exist_ok=True)
            with open(os.path.join(data, k), "wb") as f:
                f.write(tiff)
        local_keys = [k for k in KEYS if k != "a/b"]
        saved = list(KEYS)
        KEYS[:] = local_keys
        test_errors_dir(exe, node_dir, tmp, data)
        test_defaults_and_other_tags(exe, node_dir, tmp, corpus)
        test_client_options(exe, node_dir, tmp, data)
        test_suffixes(exe, node_dir, tmp, tiff)
        prefix_cases_local(exe, node_dir, tmp, data)
        KEYS[:] = saved

        # nginx (WebDAV listing) serves the same folder
        ng = Nginx(os.path.join(tmp, "nginx"), data)
        try:
            KEYS[:] = local_keys
            prefix_cases(exe, node_dir, tmp, "http", ng.url + "/")
            KEYS[:] = saved
        finally:
            ng.stop()

        # s3rver: "a/b" is an object and a prefix at once
        s3data = os.path.join(tmp, "s3data")
        for k in KEYS:
            put_object(s3data, "bkt", k, tiff)
        s3 = S3rver(node_dir, s3data)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        try:
            prefix_cases(exe, node_dir, tmp, "s3", "s3://bkt",
                         {"endpoint": s3.endpoint, "allow_http": True, "skip_signature": True,
                          "region": "us-east-1"}, env)
            test_store_urls(exe, node_dir, tmp, s3, env)
        finally:
            s3.stop()
        print(f"ok ({checks} checks)")
    finally:
        L.rmtree(tmp) if not os.environ.get("TD_KEEP") else print("kept", tmp)


def prefix_cases_local(exe, node_dir, tmp, data):
    prefix_cases(exe, node_dir, tmp, "local", "file://" + data)


if __name__ == "__main__":
    main()
