"""azurite (npm azurite, tests/node) for the Azure tests: its well-known account, SharedKey
signing of our own requests to set up containers and blobs, starting it on a free port."""
import base64
import datetime
import email.utils
import hashlib
import hmac
import subprocess
import os
import urllib.parse

from .azgcs_testlib import request
from .store_testlib import free_port, port_open

ACCOUNT = "devstoreaccount1"
KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
       "KBHBeksoGMGw==")
VERSION = "2021-08-06"
STD = ["content-encoding", "content-language", "content-length", "content-md5",
       "content-type", "date", "if-modified-since", "if-match", "if-none-match",
       "if-unmodified-since", "range"]

def sign(method, path, query, headers, key=KEY):
    hl = {k.lower(): v for k, v in headers.items()}
    parts = [method] + [("" if (h == "content-length" and hl.get(h) == "0") else hl.get(h, ""))
                        for h in STD]
    sts = "\n".join(parts) + "\n"
    for k in sorted(k for k in hl if k.startswith("x-ms-")):
        sts += f"{k}:{' '.join(hl[k].split())}\n"
    sts += f"/{ACCOUNT}{path}"
    grouped = {}
    for k, v in query:
        grouped.setdefault(k.lower(), []).append(v)
    for k in sorted(grouped):
        sts += f"\n{k}:{','.join(sorted(grouped[k]))}"
    mac = hmac.new(base64.b64decode(key), sts.encode(), hashlib.sha256).digest()
    return f"SharedKey {ACCOUNT}:{base64.b64encode(mac).decode()}"


class Azurite:
    def __init__(self, port):
        self.port = port

    def request(self, method, container, blob=None, query=(), body=b"", headers=None):
        path = f"/{ACCOUNT}/{container}"
        if blob is not None:
            path += "/" + urllib.parse.quote(blob, safe="/~")
        h = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": VERSION,
             "Content-Length": str(len(body))}
        h.update(headers or {})
        h["Authorization"] = sign(method, path, query, h)
        url = path
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        return request(self.port, method, url, body, h)

    def create_container(self, name, public=False):
        hdr = {"x-ms-blob-public-access": "container"} if public else {}
        st, body = self.request("PUT", name, query=[("restype", "container")], headers=hdr)
        assert st == 201, (st, body)

    def put(self, container, blob, data):
        st, body = self.request("PUT", container, blob, body=data,
                                headers={"x-ms-blob-type": "BlockBlob"})
        assert st == 201, (blob, st, body)


def container_sas(container, perms="rl"):
    expiry = (datetime.datetime.utcnow() + datetime.timedelta(hours=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    fields = [perms, "", expiry, f"/blob/{ACCOUNT}/{container}", "", "", "", VERSION, "c",
              "", "", "", "", "", "", ""]
    sts = "\n".join(fields)
    sig = base64.b64encode(hmac.new(base64.b64decode(KEY), sts.encode(),
                                    hashlib.sha256).digest()).decode()
    q = [("sv", VERSION), ("se", expiry), ("sr", "c"), ("sp", perms), ("sig", sig)]
    return urllib.parse.urlencode(q, quote_via=urllib.parse.quote), sig


def azurite_main_js(node_dir):
    """azurite's blob service script, None when azurite is not installed."""
    p = os.path.join(node_dir, "node_modules", "azurite", "dist", "src", "blob", "main.js")
    return p if os.path.exists(p) else None


def start_azurite(main_js, location):
    """azurite's blob service on a free loopback port, its data in LOCATION: (proc, port);
    port is None, and why printed, when it did not come up. Stop it with stop(proc)."""
    port = free_port()
    proc = subprocess.Popen(
        ["node", main_js, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location",
         location, "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--loose"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if port_open(port, proc, tries=300, pause=0.1, connect_timeout=1):  # bounded: 30 s
        return proc, port
    if proc.poll() is not None:
        print("azurite exited:", proc.stderr.read().decode()[-2000:])
    else:
        print("azurite did not start")
    return proc, None
