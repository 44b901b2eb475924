"""Plumbing shared by the store tests (HTTP, S3, Azure, GCS): loopback ports, starting and
stopping the servers they run, the probe programs, the corpus uploads. What is particular
to one backend stays in http_testlib.py, s3_testlib.py, az_azurite_test.py,
gcs_emulator_test.py."""
import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time

from . import require


class Checks:
    """The probe tests' tally: check(cond, what) counts, and prints only the failures (cut to
    WIDTH characters); finish() prints the count and exits 1 if any failed."""

    def __init__(self, width):
        self.width = width
        self.n = 0
        self.failures = []

    def __call__(self, cond, what):
        self.n += 1
        if not cond:
            self.failures.append(what)
            print("FAIL", what[:self.width])

    def finish(self):
        print(f"{self.n} checks, {len(self.failures)} failures")
        sys.exit(1 if self.failures else 0)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, proc, tries=200, pause=0.05, connect_timeout=0.2):
    """Waits (bounded: TRIES x PAUSE) until something accepts on 127.0.0.1:PORT; False when
    PROC exits first or time runs out."""
    for _ in range(tries):
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=connect_timeout):
                return True
        except OSError:
            time.sleep(pause)
    return False


def wait_port(port, proc, tries=200):
    """port_open() that raises when the server does not come up."""
    if not port_open(port, proc, tries):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def stop(proc, group=False):
    """SIGTERM, then SIGKILL after 10 s. GROUP: signal the whole process group (for servers
    started with start_new_session=True whose children must go too)."""
    if proc.poll() is not None:
        return

    def send(sig):
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    send(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait()


def start_nginx(prefix, conf_text, port):
    """nginx with CONF_TEXT (written to PREFIX/nginx.conf, PREFIX its -p directory), once it
    listens on PORT. Stop it with stop(proc)."""
    require("nginx")
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    proc = subprocess.Popen(["nginx", "-p", prefix, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_port(port, proc)
    except Exception:
        stop(proc)
        raise
    return proc


def run_probe(probe, url, opts, cmd, env=None, timeout=120):
    """http_probe / s3_store_probe: URL k=v... -- CMD; its output lines."""
    args = [probe, url] + [f"{k}={v}" for k, v in opts.items()] + ["--"] + cmd
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"probe failed ({r.returncode}): {r.stderr[-2000:]}")
    return r.stdout.splitlines()


def upload_tree(root, put, threads=8):
    """put(rel, data) for every file below ROOT (links followed), THREADS at once; returns
    how many."""
    files = []
    for d, _, names in os.walk(root, followlinks=True):
        for n in names:
            full = os.path.join(d, n)
            if os.path.isfile(full):
                files.append(os.path.relpath(full, root))

    def up(rel):
        with open(os.path.join(root, rel), "rb") as f:
            put(rel, f.read())
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:  # bounded concurrency
        list(ex.map(up, files))
    return len(files)
