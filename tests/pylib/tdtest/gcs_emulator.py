"""The Cloud Storage emulator of npm firebase-tools (tests/store/gcs_fbemu.js) for the GCS
tests, on a free loopback port."""
import os
import subprocess
import urllib.parse

from . import TESTS_DIR
from .azgcs_testlib import request
from .store_testlib import free_port, port_open

def start_emulator(node_dir, tmp):
    """The Cloud Storage emulator (gcs_fbemu.js) on a free loopback port, its blobs under
    TMP: (proc, port); port is None when it did not come up. Stop it with stop(proc)."""
    port = free_port()
    env = dict(os.environ, TMPDIR=tmp)  # the emulator keeps its blobs under TMPDIR
    proc = subprocess.Popen(["node", os.path.join(TESTS_DIR, "store", "gcs_fbemu.js"),
                             node_dir, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    if port_open(port, proc, tries=600, pause=0.1, connect_timeout=1):  # bounded: 60 s
        return proc, port
    return proc, None


def upload(port, bucket, name, data):
    url = (f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name="
           + urllib.parse.quote(name, safe=""))
    st, _ = request(port, "POST", url, data, {"Content-Type": "application/octet-stream"})
    assert st == 200, (name, st)
