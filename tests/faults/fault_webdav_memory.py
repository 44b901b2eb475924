"""The WebDAV (PROPFIND) lister's memory does not grow with the number of directories
nor with their width (issue 13, item 5).

faultsrv serves a virtual tree 200 directories wide and 8 deep (200^8 directories, no
TIFF). A run with n_consumers 16 and max_buffer_size 64 walks it for a few seconds; its RSS
is sampled. Breadth-first, the queue of directories grew by 200 per directory listed (about
30 MB/s); depth-first with a capped stack it stays flat. Checked: the walk made progress
(the server answered many PROPFINDs), RSS grew by less than 16 MiB between the 2nd and
the last second, and stayed under 150 MiB. The run is then stopped with SIGTERM (exit 3).

Then 8 directories of 150,000 files each (not TIFF: only listed). A directory's entries are
held until its whole answer is in, so 8 listed at once held 8 answers (peak 102 MiB); past
32 MiB held the lister now lists them one at a time. Checked: every file is listed, exit 0,
peak RSS under 75 MiB (it was 90-102 MiB).

usage: fault_webdav_memory.py TIFF_DUMPER"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from tdtest.faults import FaultServer

RUN_S = 7.0


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def wide_run(exe, tmp, port, check, n):
    """One run over the wide tree: (exit code, keys listed, peak RSS in KiB)."""
    cfg = os.path.join(tmp, "w.yaml")
    out = os.path.join(tmp, f"out_wide{n}")
    with open(cfg, "w") as f:
        f.write(f'store:\n  name: "http://127.0.0.1:{port}/data/"\n'
                "concurrency:\n  n_consumers: 16\n")
    pid = subprocess.Popen([exe, "headers", cfg, out, "--quiet"]).pid
    # reaped here, not by Popen: wait4 gives the child's peak RSS (ru_maxrss, KiB)
    t0 = time.time()
    status, ru = None, None
    while status is None:
        done, st, r = os.wait4(pid, os.WNOHANG)
        if done:
            status, ru = st, r
        elif time.time() - t0 > 90:
            os.kill(pid, signal.SIGKILL)
            check(False, "wide: still running after 90 s")
            _, status, ru = os.wait4(pid, 0)
        else:
            time.sleep(0.1)
    code = os.waitstatus_to_exitcode(status)
    listed = None
    try:
        with open(os.path.join(out, "_SUCCESS")) as f:
            listed = json.load(f).get("listed")
    except (OSError, ValueError):
        pass
    print(f"wide: exit {code}, {listed} listed, peak RSS {ru.ru_maxrss} KiB", flush=True)
    return code, listed, ru.ru_maxrss


def wide(exe, tmp, root, check):
    srv = FaultServer(tmp, root, "http", "/data/", tag="wide", extra=("--tree", "8,1,150000"))
    try:
        code, listed, peak = wide_run(exe, tmp, srv.port, check, 1)
        check(code == 0, f"wide: exit {code} (want 0)")
        check(listed == 8 * 150000, f"wide: listed {listed} (want {8 * 150000})")
        if peak >= 75 * 1024:
            # The peak depends on timing: how many directory answers are in flight when the
            # cap is reached, and which threads got an arena of their own. Runs of one build
            # moved from 64 to 79 MiB (the higher ones beside other tests); the uncapped walk
            # this guards against peaked at 90-102 MiB in every run. So the lower of two.
            peak = min(peak, wide_run(exe, tmp, srv.port, check, 2)[2])
        check(peak < 75 * 1024, f"wide: peak RSS {peak} KiB (want < 75 MiB)")
    finally:
        srv.stop()


def main():
    exe = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="td_fdav_")
    srv = None
    failed = []

    def check(cond, what):
        if not cond:
            failed.append(what)
            print("FAIL", what, flush=True)
    try:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        srv = FaultServer(tmp, root, "http", "/data/", tag="tree", extra=("--tree", "200,8"))
        port = srv.port
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write(f"""store:
  name: "http://127.0.0.1:{port}/data/"
concurrency:
  n_consumers: 16
  max_buffer_size: 64
  list_chunk_size: 16
  write_chunk_size: 64
""")
        p = subprocess.Popen([exe, "headers", cfg, os.path.join(tmp, "out"), "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t0 = time.time()
        samples = []
        while time.time() - t0 < RUN_S and p.poll() is None:
            time.sleep(0.25)
            r = rss_kib(p.pid)
            if r:
                samples.append((time.time() - t0, r))
        check(p.poll() is None, f"the run ended early: exit {p.returncode}")
        p.send_signal(signal.SIGTERM)
        try:
            _, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            check(False, "still running 10 s after SIGTERM")
            err = ""
        n_dirs = len(srv.entries())
        early = [r for t, r in samples if 1.5 <= t <= 2.5]
        base = max(early) if early else None
        peak = max(r for _, r in samples) if samples else None
        print(f"{n_dirs} directories listed; RSS at 2 s {base} KiB, peak {peak} KiB",
              flush=True)
        check(n_dirs > 100, f"only {n_dirs} PROPFINDs answered: the walk did not run")
        check(base is not None and peak is not None and peak - base < 16 * 1024,
              f"RSS grew by {((peak or 0) - (base or 0)) / 1024:.1f} MiB after 2 s (want < 16)")
        check(peak is not None and peak < 150 * 1024, f"peak RSS {peak} KiB (want < 150 MiB)")
        check(p.returncode == 3, f"exit {p.returncode} after SIGTERM (want 3): {err[-300:]}")
        wide(exe, tmp, root, check)
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failed)} failures")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
