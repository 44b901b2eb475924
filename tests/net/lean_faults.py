"""The engine's lean HTTP/1.1 path (and the curl path) against the fault-injecting server:
makes the files and the rules, starts faultsrv (style http, base /d/), runs
`test_lean faults PORT`, then checks in the server's log that the keep-alive cases went as
the test says (the dropped request was sent again on a fresh connection).

usage: lean_faults.py TEST_LEAN"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tdtest.faults import FaultServer  # noqa: E402

RULES = {"rules": [
    {"match": "chunked/*", "fault": "chunked", "pieces": 5},
    {"match": "slow/*", "fault": "slow", "step": 1500, "interval": 0.01},
    {"match": "interim/*", "fault": "interim"},
    {"match": "interims/*", "fault": "interim", "count": 5000},
    {"match": "s503/*", "fault": "status", "status": 503, "times": 2},
    {"match": "s404/*", "fault": "status", "status": 404},
    {"match": "bad_chunk/*", "fault": "bad_chunk"},
    {"match": "early_close/*", "fault": "early_close"},
    {"match": "short/*", "fault": "short"},
    {"match": "reset/*", "fault": "reset"},
    {"match": "http09/*", "fault": "http09"},
    {"match": "huge/*", "fault": "huge_header", "bytes": 200000},
    {"match": "wrong/*", "fault": "wrong_range", "delta": 512},
    {"match": "total/*", "fault": "bad_total"},
    {"match": "stall/*", "fault": "stall", "seconds": 20},
    {"match": "drop/*", "fault": "drop_next"},
    {"match": "close/*", "fault": "close_after"},
]}


def main():
    exe = sys.argv[1]
    data = bytes((i * 31 + 7) & 0xff for i in range(40000))
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        for r in RULES["rules"] + [{"match": "ok/*"}]:
            d = os.path.join(root, r["match"].split("/")[0])
            os.makedirs(d, exist_ok=True)
            for name in ("a.bin", "b.bin", "c.bin"):
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
        rules = os.path.join(tmp, "rules.json")
        with open(rules, "w") as f:
            json.dump(RULES, f)
        srv = FaultServer(tmp, root, "http", "/d/", rules=rules)
        try:
            p = subprocess.run([exe, "faults", str(srv.port)], timeout=240)
            log = srv.entries()
        finally:
            srv.stop()
        if p.returncode != 0:
            print(f"test_lean faults: exit {p.returncode}")
            return 1
        # one dropped request per path (lean and curl), each followed by the same request
        # answered on a fresh connection
        drops = [e for e in log if e["fault"] == "drop_next" and e["status"] == 0]
        if len(drops) != 2 or any(e["key"] != "ok/b.bin" for e in drops):
            print(f"want 2 dropped requests for ok/b.bin, got {drops}")
            return 1
        oks = [e for e in log if e["key"] == "ok/b.bin" and e["status"] == 206]
        if len(oks) != 2:
            print(f"want ok/b.bin answered twice (once per path), got {oks}")
            return 1
        print("lean_faults: ok")
        return 0


if __name__ == "__main__":
    sys.exit(main())
