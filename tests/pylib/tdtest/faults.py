"""Client side of the fault-injecting server (faultsrv.py, run as its own process): start
and stop it, read its request log; and the small TIFFs the fault tests serve with it."""
import json
import os
import struct
import subprocess
import sys

FAULTSRV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "faultsrv.py")


def tiff_bytes(width, height, ifd_at=40000):
    """A little-endian baseline TIFF: 8-byte header, zero pixels, IFD 0 at ifd_at."""
    entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (278, 3, 1, height),
               (279, 4, 1, width * height)]
    data = bytearray(struct.pack("<2sHI", b"II", 42, ifd_at))
    data += bytes(ifd_at - len(data))
    data += struct.pack("<H", len(entries))
    for tag, typ, cnt, val in entries:
        if typ == 3:
            data += struct.pack("<HHIHH", tag, typ, cnt, val, 0)
        else:
            data += struct.pack("<HHII", tag, typ, cnt, val)
    data += struct.pack("<I", 0)
    return bytes(data)


class FaultServer:
    """faultsrv.py on BIND (loopback), a port from the OS; its log in TMP/TAG.log.
    EXTRA: more command-line arguments (e.g. ("--tree", "200,8"))."""

    def __init__(self, tmp, root, style, base, bind="127.0.0.1", rules=None, tag="srv",
                 extra=()):
        self.log = os.path.join(tmp, f"{tag}.log")
        port_file = os.path.join(tmp, f"{tag}.port")
        cmd = [sys.executable, FAULTSRV, "--root", root, "--style", style, "--base", base,
               "--log", self.log, "--bind", bind, "--port-file", port_file,
               "--max-seconds", "300"]
        if rules:
            cmd += ["--rules", rules]
        cmd += list(extra)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # "PORT n" once listening
        if not line.startswith("PORT "):
            raise RuntimeError(f"faultsrv did not start: {line!r}")
        self.port = int(line.split()[1])
        self.bind = bind
        self.style = style

    def entries(self):
        try:
            with open(self.log) as f:
                return [json.loads(x) for x in f if x.strip()]
        except OSError:
            return []

    def reset_log(self):
        try:
            os.unlink(self.log)
        except OSError:
            pass

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
