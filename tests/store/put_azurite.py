"""store_put / store_delete against azurite (which checks every SharedKey signature and
every Content-MD5): Put Blob of 0 B and 1 KiB, Put Block + Put Block List (a small part
size) from a buffer and from a file descriptor, read back through store_get; create_only
(If-None-Match: *) refuses an existing blob; a cancel between blocks leaves no blob;
delete; the listing --resume will read; a wrong key is refused as auth without showing it.

usage: put_azurite.py PUT_DRIVER NODE_DIR
"""
import os
import shutil
import sys
import tempfile

from put_common import drive, put_cases
from tdtest.azurite import ACCOUNT, KEY, Azurite, azurite_main_js, start_azurite
from tdtest.store_testlib import Checks, stop

check = Checks(300)
PART = 256 << 10  # Azure takes any block size


def main():
    driver, node_dir = sys.argv[1], sys.argv[2]
    main_js = azurite_main_js(node_dir)
    if not main_js:
        print(f"azurite is not installed in {node_dir} (npm ci in tests/node)")
        return 77
    tmp = tempfile.mkdtemp(prefix="td-put-azurite-")
    proc, port = start_azurite(main_js, tmp)
    try:
        if port is None:
            return 1
        run(driver, Azurite(port), port)
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    check.finish()
    return 0


def run(driver, az, port):
    az.create_container("out")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AZURE_") and not k.startswith("AZURITE_")}
    env["TD_AZ_KEY"] = KEY
    opts = {"account_name": ACCOUNT, "account_key": "@TD_AZ_KEY",
            "endpoint": f"http://127.0.0.1:{port}/{ACCOUNT}"}
    put_cases(check, driver, "az://out", opts, PART, env, tag="azurite ")
    put_cases(check, driver, "az://out/run1/", opts, PART, env, tag="azurite prefix ")
    lst = drive(driver, "az://out/run1", opts, ["list", ""], env)
    check(lst["list"][0] == "ok" and sorted(lst["entries"]) == sorted(
        [("big.bin", 3 * PART + PART // 2), ("big-fd.bin", 3 * PART + PART // 2),
         ("dir/sub/exact.bin", PART), ("empty.bin", 0), ("fd-kib.bin", 1024),
         ("one-kib.bin", 1024)]), f"listing under the prefix: {lst}")
    # create_only, single and block list
    r1 = drive(driver, "az://out", opts, ["put", "marker", 10, 1, 0, "c"], env)["put"]
    r2 = drive(driver, "az://out", opts, ["put", "marker", 20, 2, 0, "c"], env)["put"]
    r3 = drive(driver, "az://out", opts, ["put", "big.bin", 3 * PART, 3, PART, "c"], env)["put"]
    check(r1[0] == "ok" and r2[0] == "exists" and r3[0] == "exists",
          f"create_only: {r1} {r2} {r3}")
    g = drive(driver, "az://out", opts, ["get", "marker"], env)["get"]
    check(g == ["ok", "10"], f"create_only kept the first object: {g}")
    # a cancel after the first block: no blob
    c = drive(driver, "az://out", opts, ["cancel", "canceled.bin", 8 * PART, PART, 1], env)
    check(c["cancel"][0] == "canceled" and c["after"][0] == "not_found", f"cancel: {c}")
    # eight block uploads at once
    m = drive(driver, "az://out", opts, ["many", 8, 3 * PART + 5, PART], env)["many"]
    check(m[0] == "8" and m[1] == "8", f"8 at once: {m}")
    # delete twice, then nothing
    d1 = drive(driver, "az://out", opts, ["delete", "marker"], env)["delete"]
    d2 = drive(driver, "az://out", opts, ["delete", "marker"], env)["delete"]
    g = drive(driver, "az://out", opts, ["get", "marker"], env)["get"]
    check(d1[0] == "ok" and d2[0] == "ok" and g[0] == "not_found", f"delete: {d1} {d2} {g}")
    # a wrong key: auth, and the message shows neither key
    wrong = "d3Jvbmcta2V5LXh5enp5" + KEY[20:]
    env2 = dict(env, TD_AZ_KEY=wrong)
    p = drive(driver, "az://out", opts, ["put", "nope.bin", 10, 1, 0, "-"], env2)["put"]
    check(p[0] == "auth" and KEY[:20] not in "\t".join(p) and wrong[:20] not in "\t".join(p),
          f"wrong key: {p}")


if __name__ == "__main__":
    sys.exit(main())
