"""Shared helpers of the S3 tests: free ports, starting/stopping s3rver, running the probe."""
import os
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, tries=200):
    for _ in range(tries):  # bounded: 200 x 50 ms
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


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
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def run_probe(probe, url, opts, cmd, env=None, timeout=120):
    args = [probe, url] + [f"{k}={v}" for k, v in opts.items()] + ["--"] + cmd
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"probe failed ({r.returncode}): {r.stderr[-2000:]}")
    return r.stdout.splitlines()


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
