"""store_put / store_delete against s3rver (a real S3 emulator): single PUTs of 0 B and
1 KiB, multipart uploads (a small part size) from a buffer and from a file descriptor, all
read back through store_get and compared, signed and under a prefix; a cancel in the middle
of a multipart upload leaves no object; delete; the listing --resume will read.

usage: put_s3rver.py PUT_DRIVER NODE_DIR
"""
import os
import sys
import tempfile

from put_common import drive, put_cases
from tdtest.s3_testlib import S3rver
from tdtest.store_testlib import Checks

check = Checks(300)
PART = 5 << 20  # S3's smallest part (s3rver checks it like S3 does)


def main():
    driver, node_dir = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="td-put-s3rver-") as tmp:
        data = os.path.join(tmp, "data")
        os.makedirs(os.path.join(data, "out"))
        srv = S3rver(node_dir, data)
        try:
            run(driver, srv)
        finally:
            srv.stop()
    check.finish()


def run(driver, srv):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(TD_TEST_SECRET="S3RVER", AWS_EC2_METADATA_DISABLED="true", HOME="/nonexistent")
    signed = {"endpoint": srv.endpoint, "allow_http": "true",
              "access_key_id": "S3RVER", "secret_access_key": "@TD_TEST_SECRET"}
    put_cases(check, driver, "s3://out", signed, PART, env, tag="s3rver ")
    put_cases(check, driver, "s3://out/run1/", signed, PART, env, tag="s3rver prefix ")
    lst = drive(driver, "s3://out/run1", signed, ["list", ""], env)
    check(lst["list"][0] == "ok" and sorted(k for k, _ in lst["entries"]) == sorted(
        ["big.bin", "big-fd.bin", "dir/sub/exact.bin", "empty.bin", "fd-kib.bin",
         "one-kib.bin"]), f"listing under the prefix: {lst}")
    # cancel after the first part: the upload is aborted, no object appears
    c = drive(driver, "s3://out", signed, ["cancel", "canceled.bin", 4 * PART, PART, 1], env)
    check(c["cancel"][0] == "canceled" and c["after"][0] == "not_found", f"cancel: {c}")
    c = drive(driver, "s3://out", signed, ["cancel", "canceled0.bin", 4 * PART, PART, 0], env)
    check(c["cancel"][0] == "canceled" and c["after"][0] == "not_found", f"cancel at once: {c}")
    # delete, twice; then nothing to read
    d1 = drive(driver, "s3://out", signed, ["delete", "one-kib.bin"], env)["delete"]
    d2 = drive(driver, "s3://out", signed, ["delete", "one-kib.bin"], env)["delete"]
    g = drive(driver, "s3://out", signed, ["get", "one-kib.bin"], env)["get"]
    check(d1[0] == "ok" and d2[0] == "ok" and g[0] == "not_found", f"delete: {d1} {d2} {g}")


if __name__ == "__main__":
    main()
