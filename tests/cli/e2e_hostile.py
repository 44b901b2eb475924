"""The command line under hostile input (issue 13), each as a user or an attacker would try it:
secrets in store URLs, options, comments and key lists never reach stdout, stderr, an error
row, the Parquet metadata or _SUCCESS; a closed stderr (| head) never stops a dump; control
characters in names are escaped; a full disk is named as such; a store that fails to open
prints no "stopped:" summary; info on a FIFO does not block; leading-zero numbers are refused.
usage: e2e_hostile.py TIFF_DUMPER"""
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg, file=sys.stderr)


def run(exe, *args, timeout=60, **kw):
    return subprocess.run([exe, *args], capture_output=True, timeout=timeout, **kw)


def tiff_bytes(width=7, height=5):
    """A minimal valid little-endian TIFF (one strip, 8-bit grey)."""
    tags = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
            (262, 3, 1, 1), (273, 4, 1, 0), (278, 3, 1, height), (279, 4, 1, width * height)]
    ifd_off = 8
    data_off = ifd_off + 2 + 12 * len(tags) + 4
    out = b"II*\x00" + struct.pack("<I", ifd_off) + struct.pack("<H", len(tags))
    for tag, typ, cnt, val in tags:
        if tag == 273:
            val = data_off
        out += struct.pack("<HHI", tag, typ, cnt)
        out += struct.pack("<HH", val, 0) if typ == 3 else struct.pack("<I", val)
    return out + struct.pack("<I", 0) + bytes(width * height)


def config(path, name, extra="", comment=""):
    with open(path, "w") as f:
        f.write(f"{comment}store:\n  name: {json.dumps(name)}\n{extra}"
                "concurrency:\n  n_consumers: 4\n  list_chunk_size: 10\n"
                "  max_buffer_size: 20\n  write_chunk_size: 10\n"
                "output:\n  compression: none\n")
    return path


def no_secret(label, secrets, *blobs):
    for s in secrets:
        for b in blobs:
            if isinstance(b, str):
                b = b.encode("utf-8", "surrogateescape")
            check(s.encode() not in b, f"{label}: secret {s!r} leaked in: {b[:600]!r}")


def out_bytes(out):
    """Every byte the run wrote (Parquet uncompressed: metadata and rows are plain)."""
    blob = b""
    for p in sorted(glob.glob(os.path.join(out, "**", "*"), recursive=True)):
        if os.path.isfile(p):
            with open(p, "rb") as f:
                blob += f.read()
    return blob


def test_secrets(exe, tmp, data):
    out = os.path.join(tmp, "out_secrets")
    sas = "https://acct.blob.core.windows.net/c?sv=2022-11-02&sp=rl&sig=SaSsIgX%2B1"
    # (a) a SAS URL, a presigned URL and a password URL in the config's comments, and a key list
    # naming another store with credentials
    keys = os.path.join(tmp, "keys.txt")
    with open(keys, "w") as f:
        f.write("good.tif\nhttp://kuser:KeyListPw@other.example/x.tif\n"
                "https://o.example/y.tif?X-Amz-Signature=PreSiGnEd&X-Amz-Credential=AKIAQQQ\n")
    cfg = config(os.path.join(tmp, "s.yaml"), data,
                 extra=f"  keys_from: {json.dumps(keys)}\n",
                 comment=f"# was: {sas}\n# mirror: http://muser:CommentPw@mirror.example/d/\n")
    p = run(exe, "headers", cfg, out, "--loud")
    check(p.returncode == 1, f"secrets run: exit {p.returncode}: {p.stderr!r}")
    secrets = ["SaSsIgX", "CommentPw", "KeyListPw", "PreSiGnEd", "AKIAQQQ"]
    no_secret("secrets run", secrets, p.stdout, p.stderr, out_bytes(out))
    succ = open(os.path.join(out, "_SUCCESS")).read()
    check("http://***@mirror.example" in succ, f"_SUCCESS config: {succ}")
    check(b"http://***@other.example/x.tif" in out_bytes(os.path.join(out, "_errors")),
          "the error row names the key-list line without its password")

    # a prefix holding a signed query: _SUCCESS lists the prefixes, the config is in it too
    cfg = config(os.path.join(tmp, "pre.yaml"), data,
                 extra='  prefixes: ["good", "x?sig=PrefixSig1&sv=1"]\n')
    p = run(exe, "headers", cfg, out)
    check(p.returncode == 0, f"prefix run: exit {p.returncode}: {p.stderr!r}")
    no_secret("prefix run", ["PrefixSig1"], p.stdout, p.stderr, out_bytes(out))
    succ = json.load(open(os.path.join(out, "_SUCCESS")))
    check(succ["prefixes"] == ["good/", "x?sig=***&sv=1/"], f"_SUCCESS prefixes: {succ}")

    # (b) a password in the store URL: --check, a store that fails to open, info
    url = "http://user:HttpPw1@127.0.0.1:9/dir/"
    cfg = config(os.path.join(tmp, "h.yaml"), url)
    p = run(exe, "headers", "--check", cfg)
    check(p.returncode == 0 and b"http://***@127.0.0.1:9/dir/" in p.stdout,
          f"--check: {p.returncode} {p.stdout!r} {p.stderr!r}")
    no_secret("--check", ["HttpPw1"], p.stdout, p.stderr)
    bad_ca = config(os.path.join(tmp, "ca.yaml"), url,
                    extra="") + ""
    with open(bad_ca, "a") as f:
        f.write(f"network:\n  ca_bundle: {json.dumps(os.path.join(tmp, 'nope.pem'))}\n")
    p = run(exe, "headers", bad_ca, os.path.join(tmp, "out_ca"))
    check(p.returncode == 2, f"bad ca_bundle: exit {p.returncode}")
    no_secret("bad ca_bundle", ["HttpPw1"], p.stdout, p.stderr)
    # a store that fails to open gets its message alone, no "stopped: 0 headers" summary
    check(b"stopped:" not in p.stderr, f"bad ca_bundle prints a summary: {p.stderr!r}")
    unk = config(os.path.join(tmp, "unk.yaml"), url,
                 extra="  obstore_config:\n    no_such_option: 1\n")
    p = run(exe, "headers", unk, os.path.join(tmp, "out_unk"))
    check(p.returncode == 2 and b"no_such_option" in p.stderr, f"unknown option: {p.stderr!r}")
    no_secret("unknown option", ["HttpPw1"], p.stdout, p.stderr)
    check(b"stopped:" not in p.stderr, f"unknown option prints a summary: {p.stderr!r}")
    for args in (["info", url + "x.tif"], ["info", "--json", url + "x.tif"],
                 ["info", "https://h.example/k.tif?X-Amz-Signature=InfoSig"]):
        p = run(exe, *args, timeout=60)
        check(p.returncode == 1, f"{args}: exit {p.returncode}")
        check(b"***" in p.stdout, f"{args}: {p.stdout!r}")
        no_secret(" ".join(args[:2]), ["HttpPw1", "InfoSig"], p.stdout, p.stderr)

    # an Azure Blob SAS URL as store.name (a documented form): --check, and a store that
    # refuses it (an invalid container name) quotes it redacted
    for cont, code in (("cont", 0), ("BAD_C", 2)):
        cfg = config(os.path.join(tmp, "az.yaml"),
                     f"https://acct.blob.core.windows.net/{cont}?sv=2022-11-02&sp=rl&sig=AzSaS1")
        p = run(exe, "headers", "--check", cfg)
        check(p.returncode == code and b"sig=***" in p.stdout + p.stderr,
              f"azure SAS --check: {p.returncode} {p.stdout!r} {p.stderr!r}")
        no_secret("azure SAS --check", ["AzSaS1"], p.stdout, p.stderr)

    # (c) an S3 endpoint with user:pw@ is refused without echoing the password
    s3 = config(os.path.join(tmp, "s3.yaml"), "s3://bucket",
                extra="  obstore_config:\n    endpoint: http://euser:EndpointPw@127.0.0.1:9\n"
                      "    allow_http: true\n    skip_signature: true\n")
    p = run(exe, "headers", "--check", s3)
    check(p.returncode == 2 and b"endpoint" in p.stderr, f"s3 endpoint: {p.stderr!r}")
    no_secret("s3 endpoint", ["EndpointPw"], p.stdout, p.stderr)
    # the same endpoint from the environment
    env = dict(os.environ, AWS_ENDPOINT_URL="http://envuser:EnvPw77@127.0.0.1:9",
               AWS_ALLOW_HTTP="true")
    s3env = config(os.path.join(tmp, "s3env.yaml"), "s3://bucket",
                   extra="  obstore_config:\n    skip_signature: true\n")
    p = run(exe, "headers", "--check", s3env, env=env)
    check(p.returncode == 2 and b"endpoint" in p.stderr, f"s3 env endpoint: {p.stderr!r}")
    no_secret("s3 env endpoint", ["EnvPw77"], p.stdout, p.stderr)
    p = run(exe, "info", "-o", "endpoint=http://euser:EndpointPw@127.0.0.1:9", "-o",
            "allow_http=true", "s3://bucket/k.tif")
    no_secret("info s3 endpoint", ["EndpointPw"], p.stdout, p.stderr)


def test_sigpipe(exe, tmp, data):
    """`headers ... --loud 2>&1 | head -n 1`: exit 141 and .tmp parts before."""
    many = os.path.join(tmp, "many")
    os.makedirs(many)
    for i in range(3000):
        with open(os.path.join(many, f"bad{i:05d}.tif"), "wb") as f:
            f.write(b"II*\x00\xff\xff\xff\x7f")
    out = os.path.join(tmp, "out_pipe")
    cfg = config(os.path.join(tmp, "p.yaml"), many)
    proc = subprocess.Popen(f"'{exe}' headers '{cfg}' '{out}' --loud 2>&1 | head -n 1; "
                            "echo \"status=${PIPESTATUS[0]}\"",
                            shell=True, executable="/bin/bash", stdout=subprocess.PIPE)
    text = proc.communicate(timeout=120)[0].decode()
    check("status=1" in text, f"| head -n 1: {text!r} (want status=1: some objects failed)")
    check(os.path.exists(os.path.join(out, "_SUCCESS")), "| head: no _SUCCESS")
    tmps = glob.glob(os.path.join(out, "**", ".*.tmp"), recursive=True)
    check(not tmps, f"| head: temporary files left: {tmps}")
    # the reader of stderr goes away in the middle of plain progress lines
    r, w = os.pipe()
    proc = subprocess.Popen([exe, "headers", cfg, out + "2", "--loud"], stdout=subprocess.DEVNULL,
                            stderr=w)
    os.close(w)
    os.read(r, 10)
    os.close(r)
    rc = proc.wait(timeout=120)
    check(rc == 1, f"closed stderr: exit {rc}")
    check(os.path.exists(os.path.join(out + "2", "_SUCCESS")), "closed stderr: no _SUCCESS")


def test_closed_fds(exe, tmp, data):
    """A standard descriptor closed by the caller (`2>&-`): libuv aborted (its descriptor
    took number 2), and a part file could have become "stderr"."""
    with open(os.path.join(data, "bad.tif"), "wb") as f:
        f.write(b"II*\x00\xff\xff\xff\x7f")
    cfg = config(os.path.join(tmp, "fd.yaml"), data)
    try:
        for i, redir in enumerate(("1>&-", "2>&-", "0<&-", "0<&- 1>&- 2>&-")):
            out = os.path.join(tmp, f"out_fd{i}")
            p = subprocess.run(["/bin/bash", "-c", f"'{exe}' headers '{cfg}' '{out}' --loud {redir}"],
                               capture_output=True, timeout=60)
            check(p.returncode == 1, f"{redir}: exit {p.returncode}: {p.stderr[-300:]!r}")
            check(os.path.exists(os.path.join(out, "_SUCCESS")), f"{redir}: no _SUCCESS")
            for part in glob.glob(os.path.join(out, "**", "part-*.parquet"), recursive=True):
                b = open(part, "rb").read()
                check(b[:4] == b"PAR1" and b[-4:] == b"PAR1" and b"tiff-dumper:" not in b,
                      f"{redir}: {part} is not a clean Parquet file")
            p = subprocess.run(["/bin/bash", "-c",
                                f"'{exe}' info '{os.path.join(data, 'good.tif')}' {redir}"],
                               capture_output=True, timeout=60)
            check(p.returncode == 0, f"info {redir}: exit {p.returncode}")
    finally:
        os.unlink(os.path.join(data, "bad.tif"))


def test_escapes(exe, tmp):
    d = os.path.join(tmp, "esc")
    os.makedirs(d)
    evil = b"a\x1b]0;pwned\x07\x1b[2J\nforged line\xc2\x9b.tif"
    with open(os.path.join(d.encode(), evil), "wb") as f:
        f.write(b"II*\x00\xff\xff\xff\x7f")
    cfg = config(os.path.join(tmp, "e.yaml"), d)
    p = run(exe, "headers", cfg, os.path.join(tmp, "out_esc"), "--loud")
    check(p.returncode == 1, f"escapes: exit {p.returncode}")
    for raw in (b"\x1b", b"\x07", b"\xc2\x9b", b"\nforged"):
        check(raw not in p.stderr, f"raw {raw!r} printed: {p.stderr!r}")
    check(b"a\\x1b]0;pwned\\x07\\x1b[2J\\x0aforged line\\xc2\\x9b.tif" in p.stderr,
          f"escaped name: {p.stderr!r}")


def test_file_too_large(exe, tmp, data):
    """Without root: RLIMIT_FSIZE (ulimit -f) with SIGXFSZ ignored makes writes fail with
    EFBIG, the same path as a full disk; the message must name it."""
    import resource
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    cfg = config(os.path.join(tmp, "fsz.yaml"), data)
    p = run(exe, "headers", cfg, os.path.join(tmp, "out_fsz"), preexec_fn=limit)
    check(p.returncode == 3, f"file too large: exit {p.returncode}: {p.stderr!r}")
    check(b"File too large" in p.stderr, f"file too large message: {p.stderr!r}")
    check(b"byte sink" not in p.stderr, f"file too large message: {p.stderr!r}")


def test_disk_full(exe, tmp, data):
    test_file_too_large(exe, tmp, data)
    mnt = os.path.join(tmp, "full")
    os.makedirs(mnt)
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt],
                       capture_output=True)
    if m.returncode != 0:
        # no mount (not root, or no CAP_SYS_ADMIN): /dev/full as the output's temp file is
        # not possible, so say it rather than pretend
        print(f"note: disk-full check needs a tmpfs mount: {m.stderr.decode().strip()}")
        return
    try:
        with open(os.path.join(mnt, "filler"), "wb") as f:
            try:
                f.write(b"\0" * (300 << 10))
            except OSError:
                pass
        cfg = config(os.path.join(tmp, "f.yaml"), data)
        p = run(exe, "headers", cfg, os.path.join(mnt, "out"))
        check(p.returncode == 3, f"disk full: exit {p.returncode}: {p.stderr!r}")
        check(b"No space left on device" in p.stderr, f"disk full message: {p.stderr!r}")
        check(b"byte sink" not in p.stderr, f"disk full message: {p.stderr!r}")
    finally:
        subprocess.run(["umount", mnt])


def test_fifo(exe, tmp, data):
    fifo = os.path.join(tmp, "fifo.tif")
    os.mkfifo(fifo)
    good = os.path.join(data, "good.tif")
    for args in ([fifo, good], ["--json", fifo, good], ["file://" + fifo, good]):
        t0 = time.time()
        try:
            p = run(exe, "info", *args, timeout=20)
        except subprocess.TimeoutExpired:
            check(False, f"info {args} blocks on a FIFO")
            continue
        check(p.returncode == 1, f"info {args}: exit {p.returncode}")
        check(b"not a regular file" in p.stdout or b"special" in p.stdout,
              f"info {args}: {p.stdout!r}")
        check(b"image_width" in p.stdout or b"ImageWidth" in p.stdout,
              f"info {args}: the other file's header is missing: {p.stdout!r}")
        check(time.time() - t0 < 10, "info on a FIFO took too long")


def test_leading_zero(exe, tmp, data):
    cfg = os.path.join(tmp, "z.yaml")
    with open(cfg, "w") as f:
        f.write(f"store:\n  name: {json.dumps(data)}\nconcurrency:\n  n_consumers: 010\n")
    p = run(exe, "headers", "--check", cfg)
    check(p.returncode == 2 and b"octal" in p.stderr, f"n_consumers: 010: {p.stderr!r}")


def main():
    exe = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="td_hostile_", dir=os.environ.get("TMPDIR", "/tmp"))
    try:
        data = os.path.join(tmp, "data")
        os.makedirs(data)
        with open(os.path.join(data, "good.tif"), "wb") as f:
            f.write(tiff_bytes())
        for name, fn in (("secrets", lambda: test_secrets(exe, tmp, data)),
                         ("sigpipe", lambda: test_sigpipe(exe, tmp, data)),
                         ("closed_fds", lambda: test_closed_fds(exe, tmp, data)),
                         ("escapes", lambda: test_escapes(exe, tmp)),
                         ("disk_full", lambda: test_disk_full(exe, tmp, data)),
                         ("fifo", lambda: test_fifo(exe, tmp, data)),
                         ("leading_zero", lambda: test_leading_zero(exe, tmp, data))):
            if len(sys.argv) > 2 and name not in sys.argv[2:]:
                continue
            t0 = time.time()
            fn()
            print(f"{name}: {time.time() - t0:.1f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
