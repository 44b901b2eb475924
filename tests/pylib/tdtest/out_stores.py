"""An OUT on an emulated object store, for the tests that dump into one
(tests/cli/out_store_*.py, tests/report/e2e_report_stores.py): s3rver, azurite or the GCS
emulator on a free loopback port with one bucket (container) BUCKET, the options that reach
it (for output.obstore_config, or `--option K=V`), an environment without the provider's
variables (so that nothing of the machine's own credentials is picked up), and the objects
under a prefix read back, written and deleted with the server's own API.

    srv = out_store("az", node_dir, tmp)   # S3Out, AzOut or GcsOut
    try:
        cfg_text += obstore_config(srv.opts)
        ... run tiff-dumper with env=srv.env into srv.url("runs/a") ...
        objs = srv.objects("runs/a")        # {key below the prefix: bytes}
    finally:
        srv.stop()
"""
import json
import os
import shutil
import urllib.parse
import xml.etree.ElementTree as ET

from .e2e_lib import fail
from .store_testlib import stop

BUCKET = "out"


def obstore_config(opts, indent="  "):
    """OPTS as the lines of an obstore_config mapping (under `output:` or `store:`)."""
    return f"{indent}obstore_config:\n" + "".join(
        f"{indent}  {k}: {json.dumps(v)}\n" for k, v in opts.items())


def option_args(opts, flag="--option", skip=()):
    """OPTS as `--option K=V` arguments (`-o` for info and finish)."""
    return [a for k, v in opts.items() if k not in skip for a in (flag, f"{k}={v}")]


def store_env(kind):
    """The environment of a run against KIND's test server (s3, az, gcs): without the
    provider's variables, and with no credential file or metadata server to find."""
    prefixes = {"s3": ("AWS_",), "az": ("AZURE_", "AZURITE_"),
                "gcs": ("GOOGLE_", "GCE_", "STORAGE_EMULATOR", "CLOUDSDK_")}[kind]
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    if kind == "s3":
        env["AWS_EC2_METADATA_DISABLED"] = "true"
    if kind != "az":
        env["HOME"] = "/nonexistent"
    return env


def _folder(prefix):
    """PREFIX as a folder: "runs/a" -> "runs/a/" (not runs/ab/...); "" stays."""
    return prefix.rstrip("/") + "/" if prefix else ""


class _Out:
    scheme = None

    def url(self, prefix):
        return f"{self.scheme}://{BUCKET}/{prefix}"

    def objects(self, prefix):
        """{key below PREFIX: bytes} of every object under it."""
        pre = _folder(prefix)
        return {name[len(pre):]: self.get(name) for name in self.names(prefix)}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class S3Out(_Out):
    """s3rver; its objects are read from its -d folder (the layout s3_testlib knows)."""
    scheme = "s3"

    def __init__(self, node_dir, tmp, secret="S3RVER"):
        from .s3_testlib import S3rver
        self.data = os.path.join(tmp, "s3data")
        os.makedirs(os.path.join(self.data, BUCKET))
        self.srv = S3rver(node_dir, self.data)
        self.endpoint = self.srv.endpoint
        self.secret = secret
        self.opts = {"endpoint": self.endpoint, "allow_http": "true",
                     "access_key_id": "S3RVER", "secret_access_key": secret,
                     "region": "us-east-1"}
        self.env = store_env("s3")

    def names(self, prefix=""):
        """The full names of the objects under folder PREFIX (as in every class)."""
        root = os.path.join(self.data, BUCKET)
        out = []
        for d, _, files in os.walk(os.path.join(root, prefix)):
            for f in files:
                if f.endswith("._S3rver_object"):
                    out.append(os.path.relpath(os.path.join(d, f[:-len("._S3rver_object")]),
                                               root))
        return out

    def get(self, name):
        from .s3_testlib import object_path
        with open(object_path(self.data, BUCKET, name), "rb") as f:
            return f.read()

    def put(self, name, data):
        from .s3_testlib import put_object
        put_object(self.data, BUCKET, name, data)

    def clear(self, prefix):
        shutil.rmtree(os.path.join(self.data, BUCKET, prefix), ignore_errors=True)

    def stop(self):
        self.srv.stop()


class AzOut(_Out):
    """azurite with its well-known account (shared-key auth)."""
    scheme = "az"

    def __init__(self, node_dir, tmp):
        from .azurite import ACCOUNT, KEY, Azurite, azurite_main_js, start_azurite
        main_js = azurite_main_js(node_dir)
        if not main_js:
            fail(f"azurite is not installed in {node_dir}")
        self.proc, port = start_azurite(main_js, os.path.join(tmp, "azurite"))
        if port is None:
            fail("azurite did not start")
        self.az = Azurite(port)
        self.az.create_container(BUCKET)
        self.endpoint = f"http://127.0.0.1:{port}/{ACCOUNT}"
        self.secret = KEY
        self.opts = {"account_name": ACCOUNT, "account_key": KEY, "endpoint": self.endpoint}
        self.env = store_env("az")

    def names(self, prefix=""):
        st, body = self.az.request("GET", BUCKET, query=[("comp", "list"), ("prefix", _folder(prefix)),
                                                         ("restype", "container")])
        assert st == 200, (st, body[:300])
        return [n.text for n in ET.fromstring(body).iter("Name")]

    def get(self, name):
        st, data = self.az.request("GET", BUCKET, name)
        assert st == 200, (name, st)
        return data

    def put(self, name, data):
        self.az.put(BUCKET, name, data)

    def clear(self, prefix):
        for name in self.names(prefix):
            st, _ = self.az.request("DELETE", BUCKET, name)
            assert st in (202, 404), (name, st)

    def stop(self):
        stop(self.proc)


class GcsOut(_Out):
    """The GCS emulator; requests unsigned, or with TOKEN as a bearer token (the emulator
    takes any)."""
    scheme = "gs"

    def __init__(self, node_dir, tmp, token=None):
        from .gcs_emulator import start_emulator
        if not os.path.exists(os.path.join(node_dir, "node_modules", "firebase-tools")):
            fail(f"firebase-tools is not installed in {node_dir}")
        self.proc, self.port = start_emulator(node_dir, tmp)
        if self.port is None:
            fail("the GCS emulator did not start")
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.secret = token
        self.opts = {"google_base_url": self.endpoint}
        if token:
            self.opts["bearer_token"] = token
        else:
            self.opts["skip_signature"] = "true"
        self.env = store_env("gcs")

    def _req(self, method, path):
        from .azgcs_testlib import request
        return request(self.port, method, path)

    def _obj(self, name):
        return f"/storage/v1/b/{BUCKET}/o/" + urllib.parse.quote(name, safe="")

    def names(self, prefix=""):
        out, token = [], None
        for _ in range(100):  # bounded: pages of 1000
            q = "prefix=" + urllib.parse.quote(_folder(prefix), safe="")
            if token:
                q += "&pageToken=" + urllib.parse.quote(token, safe="")
            st, body = self._req("GET", f"/storage/v1/b/{BUCKET}/o?{q}")
            assert st == 200, (st, body[:300])
            j = json.loads(body)
            out += [it["name"] for it in j.get("items", [])]
            token = j.get("nextPageToken")
            if not token:
                break
        return out

    def get(self, name):
        st, data = self._req("GET", self._obj(name) + "?alt=media")
        assert st == 200, (name, st)
        return data

    def put(self, name, data):
        from .gcs_emulator import upload
        upload(self.port, BUCKET, name, data)

    def clear(self, prefix):
        for name in self.names(prefix):
            st, _ = self._req("DELETE", self._obj(name))
            assert st in (200, 204, 404), (name, st)

    def stop(self):
        stop(self.proc)


def out_store(kind, node_dir, tmp, **kw):
    """S3Out, AzOut or GcsOut for KIND s3, az or gcs; KW go to its constructor."""
    return {"s3": S3Out, "az": AzOut, "gcs": GcsOut}[kind](node_dir, tmp, **kw)
