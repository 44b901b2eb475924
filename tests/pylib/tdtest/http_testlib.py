"""Shared helpers of the HTTP store tests: a private nginx with WebDAV PROPFIND
(libnginx-mod-http-dav-ext) on 127.0.0.1, started and stopped by PID."""
import os
import subprocess

from . import require
# run_probe is re-exported: the HTTP tests import their helpers from here
from .store_testlib import free_port, port_open, run_probe, stop  # noqa: F401

DAV_MODULE = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so"


class Nginx:
    """nginx serving ROOT; `server` is extra text for the server block (locations), after
    replacing @ROOT@ and @TMP@. The default location lists with PROPFIND."""

    def __init__(self, tmp, root, server="", default_location=True):
        require("/usr/sbin/nginx", "nginx")
        require(DAV_MODULE, "libnginx-mod-http-dav-ext")
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
        if port_open(self.port, self.proc):
            return True
        self.stop()
        return False

    def errors(self):
        try:
            with open(os.path.join(self.tmp, "logs", "error.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        stop(self.proc, group=True)


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
