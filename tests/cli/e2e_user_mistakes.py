#!/usr/bin/env python3
"""A new user's usual mistakes get a message naming the object, the reason and what to do,
and the documented exit status.

usage: e2e_user_mistakes.py TIFF_DUMPER EXAMPLES_DATA_DIR

- CONFIG that is a folder (CONFIG and OUT_DIR swapped): exit 2, says the order;
- OUT_DIR that is a file: exit 3, says to give a folder;
- a relative store.name that does not exist from the current directory: exit 2, the message
  names the current directory (relative paths are not the config file's);
- `s3:/bucket` (a URL that lost a slash): exit 2, the message shows `s3://bucket`;
- a prefix that matches nothing: exit 0, a warning naming the store and the prefix;
- `report` on a folder that is not a run's output: exit 3, says so, writes no page;
- `report OUT -o` without FILE: exit 2 (it read past the "-o" argument);
- Ctrl-C (SIGINT) of a local run: exit 3, the message points at --resume.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

exe, data = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
failures = []


def check(ok, msg):
    if not ok:
        failures.append(msg)
        print("FAIL:", msg)


def run(*args, cwd=None):
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def config(path, name, prefixes='[""]'):
    with open(path, "w") as f:
        f.write(f'store:\n  name: "{name}"\n  prefixes: {prefixes}\n')


tmp = tempfile.mkdtemp(prefix="td-mistakes-")
try:
    # a relative store.name, run from elsewhere
    c = os.path.join(tmp, "rel.yaml")
    config(c, "examples/data")
    p = run("headers", c, os.path.join(tmp, "o1"), cwd=tmp)
    check(p.returncode == 2 and "current directory" in p.stderr and tmp in p.stderr,
          f"relative store: {p.returncode} {p.stderr!r}")

    # CONFIG and OUT_DIR swapped: CONFIG is a folder
    p = run("headers", tmp, c)
    check(p.returncode == 2 and "is a folder, not a YAML config" in p.stderr
          and "CONFIG OUT_DIR" in p.stderr, f"swapped: {p.returncode} {p.stderr!r}")

    # OUT_DIR is a file
    config(c, data)
    afile = os.path.join(tmp, "afile")
    open(afile, "w").close()
    p = run("headers", c, afile)
    check(p.returncode == 3 and "exists and is not a folder" in p.stderr and afile in p.stderr,
          f"OUT_DIR a file: {p.returncode} {p.stderr!r}")

    # a URL with one slash
    config(c, "s3:/bucket/x")
    p = run("headers", c, os.path.join(tmp, "o2"), cwd=tmp)
    check(p.returncode == 2 and "s3://bucket/x?" in p.stderr, f"s3:/: {p.returncode} {p.stderr!r}")

    # a prefix that matches nothing: a warning, exit 0
    config(c, data, '["nothing-here/"]')
    p = run("headers", c, os.path.join(tmp, "o3"))
    check(p.returncode == 0 and "warning: nothing listed" in p.stderr and "nothing-here/" in p.stderr
          and data in p.stderr, f"empty prefix: {p.returncode} {p.stderr!r}")
    p = run("headers", c, os.path.join(tmp, "o3"), "--quiet")
    check(p.returncode == 0 and p.stderr == "", f"empty prefix, --quiet: {p.stderr!r}")
    # ... and a prefix that matches prints no such warning
    config(c, data)
    p = run("headers", c, os.path.join(tmp, "o4"))
    check(p.returncode == 1 and "nothing listed" not in p.stderr, f"data: {p.returncode} {p.stderr!r}")

    # an empty store: a warning; a listing that failed: its error row and exit 1, no warning
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    config(c, empty)
    p = run("headers", c, os.path.join(tmp, "o6"))
    check(p.returncode == 0 and "is empty" in p.stderr, f"empty store: {p.returncode} {p.stderr!r}")
    # .invalid never resolves (RFC 6761): the listing fails, with retries, in about 2 s
    config(c, "https://nonexistent.invalid/x/")
    p = run("headers", c, os.path.join(tmp, "o7"))
    check(p.returncode == 1 and "warning" not in p.stderr, f"failed listing: {p.returncode} {p.stderr!r}")

    # report on a folder that is not a dump (its parent): exit 3, no page
    page = os.path.join(tmp, "r.html")
    p = run("report", tmp, "-o", page)
    check(p.returncode == 3 and "is not the output of `tiff-dumper headers`" in p.stderr
          and not os.path.exists(page), f"report on a non-dump: {p.returncode} {p.stderr!r}")
    p = run("report", os.path.join(tmp, "o4"), "-o", page)
    check(p.returncode == 0 and os.path.exists(page), f"report on a dump: {p.returncode} {p.stderr!r}")
    # --option is for a store OUT: on a folder it is said to be ignored, and the page is made
    p = run("report", os.path.join(tmp, "o4"), "-o", page, "--option", "region=eu-west-1")
    check(p.returncode == 0 and "ignored for the folder" in p.stderr,
          f"report --option on a folder: {p.returncode} {p.stderr!r}")
    # `report OUT -o` without FILE, and -o FILE whose 7th byte is '=': the value is the next
    # argument, never bytes past "-o" (which pointed into the environment and wrote the page
    # over whatever path was there). In tmp, with a one-variable environment, so a regression
    # writes into tmp only.
    safe_env = {"TD_T": "1"}
    p = subprocess.run([exe, "report", os.path.join(tmp, "o4"), "-o"], capture_output=True,
                       text=True, timeout=60, cwd=tmp, env=safe_env)
    check(p.returncode == 2 and "-o needs a value" in p.stderr, f"report -o: {p.returncode} {p.stderr!r}")
    p = subprocess.run([exe, "report", os.path.join(tmp, "o4"), "-o", "abcde=x.html", "-q"],
                       capture_output=True, text=True, timeout=60, cwd=tmp, env=safe_env)
    check(p.returncode == 0 and os.path.exists(os.path.join(tmp, "abcde=x.html"))
          and not os.path.exists(os.path.join(tmp, "x.html")), f"report -o a=b: {p.returncode} {p.stderr!r}")

    # an empty-but-finished dump (nothing listed) is a run's output all the same
    p = run("report", os.path.join(tmp, "o3"), "-o", page)
    check(p.returncode == 0, f"report on an empty dump: {p.returncode} {p.stderr!r}")

    # Ctrl-C: exit 3 and the --resume hint. Enough keys that the run is still going after
    # the signal; the loop is bounded by the key count and the timeout.
    big = os.path.join(tmp, "big")
    os.makedirs(big)
    src = os.path.join(data, "cog_utm33n.tif")
    for i in range(20000):
        os.link(src, os.path.join(big, f"f{i:05d}.tif"))
    config(c, big)
    out = os.path.join(tmp, "o5")
    proc = subprocess.Popen([exe, "headers", c, out], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    # the first part's temporary file: the run is under way, its signal handling in place
    while not os.path.exists(os.path.join(out, ".part-00000.parquet.tmp")) and \
            time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 3:
        check("interrupted" in err and "--resume" in err, f"Ctrl-C: {err!r}")
    else:  # finished before the signal landed: nothing to check, but say so
        check(proc.returncode == 0, f"Ctrl-C run: exit {proc.returncode} {err!r}")
        print("note: the run ended before SIGINT")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print(f"{len(failures)} problem(s)")
    sys.exit(1)
print("ok")
