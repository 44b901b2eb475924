"""Shared helpers of the HTTP store tests: a private nginx with WebDAV PROPFIND
(libnginx-mod-http-dav-ext) on 127.0.0.1, started and stopped by PID."""
import os
import signal
import socket
import subprocess
import time

DAV_MODULE = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """nginx serving ROOT; `server` is extra text for the server block (locations), after
    replacing @ROOT@ and @TMP@. The default location lists with PROPFIND."""

    def __init__(self, tmp, root, server="", default_location=True):
        self.tmp = tmp
        os.makedirs(os.path.join(tmp, "logs"), exist_ok=True)
        server = server.replace("@ROOT@", root).replace("@TMP@", tmp)
        loc = "location / { dav_ext_methods PROPFIND OPTIONS; }" if default_location else ""
        for attempt in range(5):  # bounded: a port taken meanwhile
            self.port = free_port()
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w") as f:
                user = "user root;" if os.getuid() == 0 else ""
                f.write(f"""
{user}
load_module {DAV_MODULE};
worker_processes 1;
worker_rlimit_nofile 16384;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/logs/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  log_format bytes '$request_method $request_uri $status $body_bytes_sent';
  default_type application/octet-stream;
  sendfile on;
  keepalive_requests 1000000;
  open_file_cache max=4096 inactive=60s;  # below the descriptor limit, with room for connections
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{self.port};
    root {root};
    {server}
    {loc}
  }}
}}
""")
            self.proc = subprocess.Popen(["/usr/sbin/nginx", "-p", tmp, "-c", conf],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         start_new_session=True)
            if self._wait():
                self.url = f"http://127.0.0.1:{self.port}"
                return
        raise RuntimeError("nginx did not start: " + self.errors())

    def _wait(self):
        for _ in range(200):  # bounded: 200 x 50 ms
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.05)
        self.stop()
        return False

    def errors(self):
        try:
            with open(os.path.join(self.tmp, "logs", "error.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

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
    """entries [(key, size, mtime)], bad [(key, kind, msg)], pages [(n, n_bad)], status"""
    entries, bad, pages, status, oversized = [], [], [], None, 0
    for line in lines:
        f = line.split("\t")
        if f[0] == "entry":
            entries.append((bytes.fromhex(f[1]).decode("utf-8"), int(f[2]), int(f[3])))
        elif f[0] == "bad":
            bad.append((bytes.fromhex(f[1]).decode("utf-8"), f[2], f[3]))
        elif f[0] == "page":
            pages.append((int(f[1]), int(f[2])))
        elif f[0] == "oversized_page":
            oversized += 1
        elif f[0] == "status":
            status = (f[1], f[2] if len(f) > 2 else "")
        elif f[0] == "open" and f[1] != "ok":
            status = (f[1], f[2])
    return entries, bad, pages, status, oversized
