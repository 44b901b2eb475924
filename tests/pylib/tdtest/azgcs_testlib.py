"""What the Azure and GCS emulator tests share: the check tally, and reading what
azgcs_driver prints (E/P/L lines of a listing, G of a read, O of a failed open)."""

import hashlib
import http.client
import time

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def parse_list(out):
    entries, pages, end = [], [], None
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "E":
            entries.append((bytes.fromhex(f[1]).decode(), int(f[2]), int(f[3]), f[4]))
        elif f[0] == "P":
            pages.append(int(f[1]))
        elif f[0] in ("L", "O"):
            end = (f[1], f[2] if len(f) > 2 else "")
    return entries, pages, end


def parse_get(out):
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "G":
            return {"status": f[1], "got": int(f[2]), "size": int(f[3]), "http": int(f[4]),
                    "hex": f[5], "msg": f[6] if len(f) > 6 else ""}
        if f[0] == "O":
            return {"status": f[1], "msg": f[2], "got": 0, "hex": ""}
    return {"status": "none", "msg": out, "got": 0, "hex": ""}


def blob_bytes(name, n):
    """N bytes that depend on NAME only: what was uploaded can be recomputed."""
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (n // 32 + 1))[:n]


def request(port, method, url, body=b"", headers=None):
    """One request to the emulator on 127.0.0.1:PORT, made again (at most 5 times) when the
    connection fails under load: (status, body)."""
    for attempt in range(5):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            c.request(method, url, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, data
        except (ConnectionError, http.client.HTTPException):
            if attempt == 4:
                raise
            time.sleep(0.2)
        finally:
            c.close()
