"""Shared helpers of the S3 tests: s3rver's object layout, starting/stopping s3rver, parsing
what the probe prints (the generic plumbing is store_testlib.py's)."""
import os
import subprocess

from . import require
# re-exported: the S3 tests import their helpers from here
from .store_testlib import free_port, run_probe, start_nginx, stop, wait_port  # noqa: F401


def object_path(root, bucket, key):
    """Where s3rver's filesystem store keeps an object (its '-d' layout)."""
    parts = key.split("/")
    last = parts.pop()
    return os.path.join(root, bucket, *parts, f"{last}._S3rver_object")


def put_object(root, bucket, key, data):
    p = object_path(root, bucket, key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    return p


class S3rver:
    def __init__(self, node_dir, data_dir):
        require("node")
        require(os.path.join(node_dir, "node_modules/s3rver/bin/s3rver.js"),
                f"s3rver (npm ci in {node_dir})")
        self.port = free_port()
        env = dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")
        self.proc = subprocess.Popen(
            ["node", os.path.join(node_dir, "node_modules/s3rver/bin/s3rver.js"),
             "-d", data_dir, "-a", "127.0.0.1", "-p", str(self.port), "--silent"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        try:
            wait_port(self.port, self.proc)
        except Exception:
            self.stop()
            raise
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def stop(self):
        stop(self.proc, group=True)


def parse_list(lines):
    entries, pages, status = [], [], None
    for line in lines:
        f = line.split("\t")
        if f[0] == "entry":
            entries.append((bytes.fromhex(f[1]).decode("utf-8"), int(f[2]), int(f[3]), f[4]))
        elif f[0] == "page":
            pages.append(int(f[1]))
        elif f[0] == "status":
            status = (f[1], f[2] if len(f) > 2 else "")
        elif f[0] == "open" and f[1] != "ok":
            status = (f[1], f[2])
    return entries, pages, status
