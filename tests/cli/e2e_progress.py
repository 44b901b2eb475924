"""The live progress display of `headers`, seen as a person sees it: in a pseudo-terminal.

A slow store (tdtest/faultsrv.py, http style, with a `delay` on every GET and a longer one
on the PROPFIND of the second prefix) makes a run last a few seconds, in two phases: while
the second prefix is still being listed the total is unknown ("listing..."), afterwards
the bar shows. Three runs at once against the one server:

  - tmux panes 120 and 40 columns wide, captured (capture-pane) every ~100 ms: before the
    listing ends the line says "listing..."; mid-run it is a bar with a percentage, an ETA
    (wide pane also the rates: hdr/s, req/s, MB/s); at every moment exactly one line is
    on screen and no wider than the pane; at the end the summary line is all that is left;
  - stderr to a file (not a terminal): plain lines only, no carriage return, no escape
    sequence, one progress line every 5 s ("listing" first, then "N% of T, ETA").

usage: e2e_progress.py TIFF_DUMPER"""
import json
import os
import re
import subprocess
import sys
import time

from tdtest import require
from tdtest.e2e_lib import fail, rmtree, tempdir, write_config
from tdtest.faults import FaultServer, tiff_bytes

N_A, N_B = 150, 300  # keys under the first and the second prefix
N_C = 4  # keys under c/, answered 404: the --loud run's error lines
# Each GET takes at least GET_DELAY (about 50 ms here anyway: Python's server), with 4
# slots at most 200 headers/s: the bar phase lasts >= 1.5 s. The second prefix's listing
# takes LIST_DELAY: the "listing..." phase, and a run longer than the plain lines' 5 s.
GET_DELAY = 0.02
LIST_DELAY = 4.0
DEADLINE = 25.0  # s, the whole test
LOUD = 100  # the pane of the --loud run
KEYS = 80  # the pane of the key-list run
ERR_LINE = (r"^tiff-dumper: http://127\.0\.0\.1:\d+/data/c/k\d+\.tif failed \(fetch, not_found\): "
            r"http://127\.0\.0\.1:\d+/data/c/k\d+\.tif: not found \(HTTP 404\)$")


def tmux(sock, *args, check=True):
    p = subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", *args], capture_output=True,
                       text=True)
    if check and p.returncode != 0:
        fail(f"tmux {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


def main():
    exe = sys.argv[1]
    require("tmux")
    tmp = tempdir("progress")
    socks = []
    srv = None
    try:
        root = os.path.join(tmp, "root")
        one = os.path.join(tmp, "one.tif")
        with open(one, "wb") as f:
            f.write(tiff_bytes(64, 64, ifd_at=64))
        for d, n in (("a", N_A), ("b", N_B), ("c", N_C)):
            os.makedirs(os.path.join(root, d))
            for i in range(n):
                os.link(one, os.path.join(root, d, f"k{i:05d}.tif"))
        rules = os.path.join(tmp, "rules.json")
        with open(rules, "w") as f:
            json.dump({"rules": [{"match": "b/", "fault": "delay", "seconds": LIST_DELAY},
                                 {"match": "c/*.tif", "fault": "status", "status": 404},
                                 {"match": "*.tif", "fault": "delay", "seconds": GET_DELAY}]}, f)
        srv = FaultServer(tmp, root, "http", "/data/", rules=rules)
        cfg = os.path.join(tmp, "config.yaml")
        cfg_loud = os.path.join(tmp, "config-loud.yaml")
        for c, prefixes in ((cfg, ["a/", "b/"]), (cfg_loud, ["a/", "b/", "c/"])):
            write_config(c, f"http://127.0.0.1:{srv.port}/data/", prefixes,
                         concurrency={"n_consumers": 4, "threads": 1, "list_chunk_size": 100,
                                      "max_buffer_size": 1000, "write_chunk_size": 100})
        # a key list (with keys that are not TIFF) is read 2 pages ahead of the fetches,
        # but counted ahead: the bar shows from the start
        keys = os.path.join(tmp, "keys.txt")
        with open(keys, "w") as f:
            for i in range(N_A):
                f.write(f"a/k{i:05d}.tif\nnot/a{i}.txt\n")
            for i in range(N_B):
                f.write(f"b/k{i:05d}.tif\n")
        cfg_keys = os.path.join(tmp, "config-keys.yaml")
        with open(cfg_keys, "w") as f:
            f.write(f"store:\n  name: \"http://127.0.0.1:{srv.port}/data/\"\n"
                    f"  keys_from: {json.dumps(keys)}\n"
                    "concurrency: {n_consumers: 4, threads: 1, list_chunk_size: 50,"
                    " max_buffer_size: 1000, write_chunk_size: 50}\n")

        t0 = time.monotonic()
        # the plain run: stderr to a file
        plain_err = os.path.join(tmp, "plain.err")
        with open(plain_err, "wb") as ef:
            plain = subprocess.Popen([exe, "headers", cfg, os.path.join(tmp, "out-plain")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=ef)
        panes = {}
        # 120 and 40: one line at every moment; 100 (--loud, 4 keys failing): error lines
        # above the live line, never mixed with it
        for width in (120, 40, LOUD, KEYS):
            sock = f"td_progress_{os.getpid()}_{width}"
            socks.append(sock)
            rc_file = os.path.join(tmp, f"rc{width}")
            out = os.path.join(tmp, f"out{width}")
            args = {LOUD: f"'{cfg_loud}' '{out}' --loud", KEYS: f"'{cfg_keys}' '{out}'"}.get(
                width, f"'{cfg}' '{out}'")
            cmd = (f"'{exe}' headers {args}; echo $? > '{rc_file}.tmp';"
                   f" mv '{rc_file}.tmp' '{rc_file}'; sleep 60")
            tmux(sock, "new-session", "-d", "-x", str(width), "-y", "12", "-s", "td",
                 "sh", "-c", cmd)
            got = tmux(sock, "display", "-p", "-t", "td", "#{pane_width}").strip()
            if got != str(width):
                fail(f"tmux pane is {got} columns wide, wanted {width}")
            panes[width] = (sock, rc_file, [])

        # capture every pane until its run ends
        pending = set(panes)
        while pending:
            if time.monotonic() - t0 > DEADLINE:
                fail(f"runs did not end within {DEADLINE} s")
            for width in list(pending):
                sock, rc_file, shots = panes[width]
                done = os.path.exists(rc_file)
                # -J: a wrapped line comes back whole (a live line that wrapped would show as
                # one line wider than the pane)
                text = tmux(sock, "capture-pane", "-p", "-J", "-t", "td")
                shots.append((done, text))
                if done:
                    pending.discard(width)
            time.sleep(0.1)

        for width, (sock, rc_file, shots) in panes.items():
            with open(rc_file) as f:
                rc = f.read().strip()
            loud = width == LOUD
            if rc != ("1" if loud else "0"):
                fail(f"pane {width}: exit status {rc}; screen:\n{shots[-1][1]}")
            saw_listing = saw_bar = False
            least_pct = 100
            bar_line = None
            for done, text in shots:
                lines = [ln for ln in text.split("\n") if ln.strip()]
                if done or "tiff-dumper: done:" in text:
                    continue  # the summary (may be printed before the rc file is)
                if loud:
                    # above the live line only whole error lines
                    errs = [x for x in lines if re.match(ERR_LINE, x)]
                    if errs and lines[0] != errs[0]:
                        fail(f"pane {width}: a line above the error lines:\n{text}")
                    rest = [x for x in lines if not re.match(ERR_LINE, x)]
                    if len(rest) > 1 or (rest and rest[0] != lines[-1]):
                        fail(f"pane {width}: error lines and the live line mixed:\n{text}")
                    lines = rest
                elif len(lines) > 1:
                    fail(f"pane {width}: {len(lines)} lines on screen mid-run:\n{text}")
                if not lines:
                    continue  # before the first redraw
                ln = lines[0].rstrip()
                if len(ln) > width - 1:
                    fail(f"pane {width}: line of {len(ln)} columns: {ln!r}")
                if "listing..." in ln:
                    saw_listing = True
                    if saw_bar:
                        fail(f"pane {width}: 'listing...' after the bar: {ln!r}")
                    if not re.search(r"dumped \d+ .*listing\.\.\.$", ln):
                        fail(f"pane {width}: listing line without its count: {ln!r}")
                    if width >= 80 and not re.match(r"^\[\d\d:\d\d\]  listed \d+  dumped", ln):
                        fail(f"pane {width}: listing line without time and counts: {ln!r}")
                elif re.search(r"\[[=> ]{8,}\] \d{1,3}%", ln):
                    saw_bar = True
                    least_pct = min(least_pct, int(re.search(r"(\d+)%", ln).group(1)))
                    if not re.search(r"ETA (\d+:)?\d\d:\d\d", ln):
                        fail(f"pane {width}: bar without ETA: {ln!r}")
                    if not re.search(r"[\d.]+k? hdr/s", ln):
                        fail(f"pane {width}: bar without headers/s: {ln!r}")
                    if width >= 100:
                        if not re.search(r"[\d.]+k? req/s", ln) or " MB/s" not in ln and \
                                " kB/s" not in ln:
                            fail(f"pane {width}: bar without req/s or MB/s: {ln!r}")
                        if not re.search(r"\d+/%d\b" % (N_A + N_B + (N_C if loud else 0)), ln):
                            fail(f"pane {width}: bar without done/total: {ln!r}")
                    bar_line = ln
            if not saw_listing and width != KEYS:
                fail(f"pane {width}: never showed 'listing...'")
            if width == KEYS and least_pct > 50:
                fail(f"pane {width}: the key list's bar came late ({least_pct}%): not counted")
            if not saw_bar:
                fail(f"pane {width}: never showed the bar; last screens:\n"
                     + "\n--\n".join(t for _, t in shots[-5:]))
            final = [ln for ln in shots[-1][1].split("\n") if ln.strip()]
            if loud:
                errs = [x for x in final if re.match(ERR_LINE, x)]
                if len(errs) != N_C:
                    fail(f"pane {width}: {len(errs)} error lines, wanted {N_C}:\n{shots[-1][1]}")
                final = final[final.index(next(x for x in final if "done:" in x)):]
            summary = " ".join(x.strip() for x in final)
            if not summary.startswith("tiff-dumper: done: %d headers dumped" % (N_A + N_B)):
                fail(f"pane {width}: final screen is not the summary:\n{shots[-1][1]}")
            if "listing" in summary or "%" in summary:
                fail(f"pane {width}: the live line was left behind:\n{shots[-1][1]}")
            print(f"pane {width}: {len(shots)} captures; e.g. {bar_line!r}")

        rc = plain.wait(timeout=max(1.0, DEADLINE - (time.monotonic() - t0)))
        with open(plain_err, "rb") as f:
            raw = f.read()
        if rc != 0:
            fail(f"plain run: exit status {rc}: {raw!r}")
        if b"\r" in raw or b"\x1b" in raw:
            fail(f"plain run: terminal control in a non-terminal stderr: {raw!r}")
        lines = raw.decode().splitlines()
        progress = [ln for ln in lines if not ln.startswith("tiff-dumper: done:")]
        if not progress:
            fail(f"plain run: no progress line: {lines}")
        for ln in progress:
            if not re.match(r"^tiff-dumper: \d\d:\d\d listed \d+, dumped \d+, failed \d+, "
                            r"skipped \d+, \d+ headers/s, \d+ requests/s, [\d.]+ [kMG]?B/s, "
                            r"(listing|\d+%% of %d, ETA (\d+:)?(\d\d|--):(\d\d|--))$"
                            % (N_A + N_B), ln):
                fail(f"plain run: unexpected progress line {ln!r}")
        if not lines[-1].startswith("tiff-dumper: done: %d headers dumped" % (N_A + N_B)):
            fail(f"plain run: last line is not the summary: {lines[-1]!r}")
        print("plain:", *progress, sep="\n  ")
        print(f"OK ({time.monotonic() - t0:.1f} s)")
    finally:
        for sock in socks:
            tmux(sock, "kill-server", check=False)
        if srv:
            srv.stop()
        rmtree(tmp)


if __name__ == "__main__":
    main()
