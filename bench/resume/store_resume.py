"""What `--resume` costs on an object-store OUT (s3rver): a run of N keys (hard links of
small corpus TIFFs, a local folder) into s3://, then `--resume` with nothing left to do,
once reading each part whole (the default for parts up to 8 MiB) and once through the
ranged read-ahead windows (TD_RESUME_WHOLE_MAX=0). Prints the parts' count and bytes, the
resume's wall time and the output store's requests (_SUCCESS output_requests: the listing
pages, the _SUCCESS delete, the GETs, one empty part per table and _SUCCESS).
usage: python3 bench/resume/store_resume.py TIFF_DUMPER [N_KEYS [WRITE_CHUNK_SIZE]]
(run from the repository root; needs tests/node's s3rver)"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "pylib"))
sys.path.insert(0, os.path.join(REPO, "tests", "cli"))
from tdtest import e2e_lib as L  # noqa: E402
from tdtest.make_keys import make_keys  # noqa: E402
import out_store_resume as T  # noqa: E402


def main():
    exe = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    wcs = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
    tmp = L.tempdir("bench_resume")
    s3 = None
    try:
        root = os.path.join(tmp, "store")
        make_keys(os.path.join(REPO, "tests", "corpus"), root, n)
        s3 = T.S3(os.path.join(REPO, "tests", "node"), tmp)
        cfg = os.path.join(tmp, "c.yaml")
        L.write_config(cfg, root, concurrency={"n_consumers": 64, "list_chunk_size": 10000,
                                               "max_buffer_size": max(100000, wcs),
                                               "write_chunk_size": wcs, "threads": 2})
        with open(cfg, "a") as f:
            f.write("output:\n  obstore_config:\n" + "".join(
                f"    {k}: {json.dumps(v)}\n" for k, v in s3.opts.items()))
        t = time.monotonic()
        subprocess.run([exe, "headers", cfg, s3.url, "-q"], env=s3.env, check=True)
        print(f"run: {n} keys in {time.monotonic() - t:.2f} s")
        parts = {k: len(v) for k, v in s3.objects("a").items() if k.endswith(".parquet")}
        print(f"parts: {len(parts)}, {sum(parts.values())} bytes")
        for label, extra in (("whole parts", {}), ("ranged windows",
                                                   {"TD_RESUME_WHOLE_MAX": "0"})):
            t = time.monotonic()
            subprocess.run([exe, "headers", cfg, s3.url, "-q", "--resume"],
                           env=dict(s3.env, **extra), check=True)
            took = time.monotonic() - t
            s = json.loads(s3.objects("a")["_SUCCESS"])
            print(f"--resume ({label}): {took:.2f} s, {s['output_requests']} output requests, "
                  f"{s['dumped']} rows kept")
    finally:
        if s3:
            s3.stop()
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
