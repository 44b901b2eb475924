"""The engine's lean path over TLS (and the curl path beside it) against nginx with a
certificate for "localhost" signed by a CA this test makes with the openssl CLI: requests to
https://localhost (resolved, SNI, name checked, connections reused) succeed with the CA as
ca_bundle; 127.0.0.1 (not in the certificate) and a run without the CA fail as TLS errors
after one attempt. Runs `test_lean tls PORT CA`.

usage: lean_tls.py TEST_LEAN"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tdtest.http_testlib import Nginx, free_port  # noqa: E402


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {p.stderr[-800:]}")


def main():
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                "/CN=td-test-ca", "-keyout", "ca.key", "-out", "ca.pem", cwd=tmp)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                "-keyout", "server.key", "-out", "server.csr", cwd=tmp)
        with open(os.path.join(tmp, "ext.cnf"), "w") as f:
            f.write("subjectAltName=DNS:localhost\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem",
                cwd=tmp)
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        with open(os.path.join(root, "f.bin"), "wb") as f:
            f.write(bytes((i * 31 + 7) & 0xff for i in range(40000)))
        sport = free_port()
        ng = Nginx(tmp, root, server=f"""
    listen 127.0.0.1:{sport} ssl;
    ssl_certificate @TMP@/server.pem;
    ssl_certificate_key @TMP@/server.key;
""")
        try:
            env = {k: v for k, v in os.environ.items()
                   if not k.lower().endswith("_proxy") and not k.startswith(("SSL_CERT", "CURL_CA"))}
            p = subprocess.run([exe, "tls", str(sport), os.path.join(tmp, "ca.pem")],
                               timeout=120, env=env)
        finally:
            ng.stop()
        return p.returncode


if __name__ == "__main__":
    sys.exit(main())
