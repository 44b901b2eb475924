"""Issue 13, item 1a: an Azure "Blob SAS URL" as store.name
(https://ACCOUNT.blob.core.windows.net/CONTAINER?sv=...&sig=..., a documented form), served
by azurite on loopback: the run reads the container with the SAS, and the signature reaches
neither stdout, stderr, _SUCCESS nor any Parquet file (metadata tiff_dumper.config and
tiff_dumper.store_url included), while the rest of the URL stays readable.
usage: e2e_azure_sas.py TIFF_DUMPER CORPUS_DIR NODE_DIR"""
import glob
import json
import os
import shutil
import sys
import tempfile

from tdtest import azurite as AZ
from tdtest import e2e_lib as L
from tdtest.store_testlib import stop


def main():
    exe, corpus, node_dir = sys.argv[1:4]
    main_js = AZ.azurite_main_js(node_dir)
    if not main_js:
        print("azurite is not installed (npm ci in tests/node)")
        return 77
    tmp = tempfile.mkdtemp(prefix="td-azsas-")
    proc, port = AZ.start_azurite(main_js, os.path.join(tmp, "azurite"))
    bad = []
    try:
        if port is None:
            return 1
        az = AZ.Azurite(port)
        az.create_container("data")
        with open(os.path.join(corpus, "rasterio", "RGB.byte.tif"), "rb") as f:
            az.put("data", "a/good.tif", f.read())
        az.put("data", "a/bad.tif", b"II*\x00\xff\xff\xff\x7f")
        sas, sig = AZ.container_sas("data")
        name = f"https://{AZ.ACCOUNT}.blob.core.windows.net/data?{sas}"
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write(f'store:\n  name: "{name}"\n  obstore_config:\n'
                    f'    endpoint: "http://127.0.0.1:{port}/{AZ.ACCOUNT}"\n'
                    "output:\n  compression: none\n")
        out = os.path.join(tmp, "out")
        p = L.run_tool(exe, "headers", cfg, out, "--loud")
        print("exit", p.returncode, p.stderr[-1500:])
        if p.returncode != 1:
            bad.append(f"exit status {p.returncode}, want 1 (one object fails)")
        # the signature in every form it may take: as written, and percent-decoded
        forms = {sig, sig.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")}
        blobs = {"stdout": p.stdout.encode(), "stderr": p.stderr.encode()}
        for path in glob.glob(os.path.join(out, "**", "*"), recursive=True):
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    blobs[path] = f.read()
        for where, blob in blobs.items():
            for s in forms:
                if s.encode() in blob:
                    bad.append(f"the SAS signature is in {where}")
        succ = json.load(open(os.path.join(out, "_SUCCESS")))
        if succ.get("dumped") != 1 or "sig=***" not in succ.get("config", ""):
            bad.append(f"_SUCCESS: {succ}")
        if f"{AZ.ACCOUNT}.blob.core.windows.net/data" not in succ.get("config", ""):
            bad.append("the URL is no longer readable in the config")
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    for b in bad:
        print("FAIL", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
