"""What the put_* tests share: running put_driver and parsing its lines (see put_driver.c)."""
from tdtest.store_testlib import run_probe


def drive(driver, url, opts, cmd, env=None):
    """put_driver URL k=v... -- CMD; {command: [fields...]} of its last line per command,
    plus "entries": the listed keys."""
    out = {"entries": []}
    for line in run_probe(driver, url, opts, [str(c) for c in cmd], env=env):
        f = line.split("\t")
        if f[0] == "entry":
            out["entries"].append((f[1], int(f[2])))
        else:
            out[f[0]] = f[1:]
    return out


def put_cases(check, driver, url, opts, part, env=None, tag="", empty=True):
    """0 B, 1 KiB, and 3.5 parts' worth (multipart) from a buffer and from an fd: each read
    back through store_get and compared (an empty object through the listing: empty=False
    where the server cannot list). Returns the results by key."""
    res = {}
    cases = [("empty.bin", 0, "-"), ("one-kib.bin", 1024, "-"), ("fd-kib.bin", 1024, "f"),
             ("big.bin", part * 3 + part // 2, "-"), ("big-fd.bin", part * 3 + part // 2, "f"),
             ("dir/sub/exact.bin", part, "-")]
    if not empty:
        cases = cases[1:]
    for i, (key, size, flags) in enumerate(cases):
        r = drive(driver, url, opts, ["put", key, size, i + 1, part, flags], env)
        p = r.get("put")
        res[key] = p
        multipart = size > part
        check(p is not None and p[0] == "ok" and p[4] == "same",
              f"{tag}put {key} ({size} B, {flags}): {p}")
        if p and p[0] == "ok" and "parts" not in tag:
            check(int(p[2]) == ((size + part - 1) // part if multipart else 0),
                  f"{tag}{key}: parts {p[2]}")
    return res
