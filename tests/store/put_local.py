"""store_put / store_delete on a local folder: objects of 0 B, 1 KiB and several MiB from a
buffer and from a file descriptor read back equal; create_only refuses an existing key;
nothing is left under a temporary name; delete is idempotent; a cancel leaves no object.

usage: put_local.py PUT_DRIVER
"""
import os
import shutil
import sys
import tempfile

from put_common import drive, put_cases
from tdtest.store_testlib import Checks

check = Checks(300)


def main():
    driver = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="td-put-local-") as tmp:
        url = tmp
        put_cases(check, driver, url, {}, 3 << 20, tag="local parts ")
        for key, size in (("empty.bin", 0), ("one-kib.bin", 1024), ("dir/sub/exact.bin", 3 << 20)):
            check(os.path.getsize(os.path.join(tmp, key)) == size, f"local size of {key}")
        # create_only: the first put creates, the second is refused and the object stays
        r1 = drive(driver, url, {}, ["put", "marker", 10, 1, 0, "c"])["put"]
        r2 = drive(driver, url, {}, ["put", "marker", 20, 2, 0, "c"])["put"]
        check(r1[0] == "ok" and r1[4] == "same", f"create_only first: {r1}")
        check(r2[0] == "exists", f"create_only second: {r2}")
        check(os.path.getsize(os.path.join(tmp, "marker")) == 10, "the refused put changed it")
        # overwrite without create_only
        r3 = drive(driver, url, {}, ["put", "marker", 20, 2, 0, "-"])["put"]
        check(r3[0] == "ok" and r3[4] == "same", f"overwrite: {r3}")
        # a cancel before the work ran or while it copies: no object, no temporary file
        c = drive(driver, url, {}, ["cancel", "canceled.bin", 64 << 20, 0, 0])
        check(c["cancel"][0] == "canceled" and c["after"][0] == "not_found", f"cancel: {c}")
        # several at once, and a close while one runs
        m = drive(driver, url, {}, ["many", 8, 1 << 20, 0])["many"]
        check(m[0] == "8" and m[1] == "8", f"8 at once: {m}")
        c = drive(driver, url, {}, ["close", "closed.bin", 1 << 20, 0, 0])["close"]
        check(c[0] in ("canceled", "ok") and c[2] == "1", f"close: {c}")
        for name in ("closed.bin",):
            p = os.path.join(tmp, name)
            check(not os.path.exists(p) or os.path.getsize(p) == 1 << 20, "partial object")
        shutil.rmtree(os.path.join(tmp, "many"))
        if os.path.exists(os.path.join(tmp, "closed.bin")):
            os.unlink(os.path.join(tmp, "closed.bin"))
        # keys that leave the root are refused
        bad = drive(driver, url, {}, ["put", "../escape", 1, 1, 0, "-"])["put"]
        check(bad[0] == "access_denied", f"../escape: {bad}")
        # delete, twice (the second finds nothing: still ok), then a read finds nothing
        d1 = drive(driver, url, {}, ["delete", "marker"])["delete"]
        d2 = drive(driver, url, {}, ["delete", "marker"])["delete"]
        g = drive(driver, url, {}, ["get", "marker"])["get"]
        check(d1[0] == "ok" and d2[0] == "ok" and g[0] == "not_found", f"delete: {d1} {d2} {g}")
        # listing (what --resume reads) shows the objects and no temporary names
        lst = drive(driver, url, {}, ["list", ""])
        names = sorted(k for k, _ in lst["entries"])
        check(lst["list"][0] == "ok" and names == sorted(
            ["big.bin", "big-fd.bin", "dir/sub/exact.bin", "empty.bin", "fd-kib.bin",
             "one-kib.bin"]), f"listing: {names}")
        left = [f for _, _, fs in os.walk(tmp) for f in fs if ".td-tmp." in f]
        check(not left, f"temporary files left: {left}")
    check.finish()


if __name__ == "__main__":
    main()
