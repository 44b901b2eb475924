"""A synthetic dump (make_dump: the project's own table writer) of ROWS rows reported,
rendered by headless Chromium and checked against DuckDB like the corpus (e2e_report.py):
many values, footprints across the antimeridian and over the poles, several part files.
The screenshot stays in ARTEFACT_DIR.

usage: e2e_synthetic.py TIFF_DUMPER MAKE_DUMP NODE_DIR ARTEFACT_DIR ROWS"""
import os
import subprocess
import sys
import time

import e2e_report as R
from tdtest import e2e_lib as L


def main():
    exe, make, node, art, rows = sys.argv[1:6]
    os.makedirs(art, exist_ok=True)
    tmp = L.tempdir("report_syn")
    try:
        out = os.path.join(tmp, "out")
        p = subprocess.run([make, out, rows, str(max(1, int(rows) // 3))],
                           capture_output=True, text=True)
        if p.returncode:
            L.fail(f"make_dump: {p.stderr}")
        page = os.path.join(art, f"synthetic-{rows}.html")
        t0 = time.monotonic()
        R.report(exe, out, page)
        print(f"report of {rows} rows: {time.monotonic() - t0:.2f} s, "
              f"page {os.path.getsize(page)} bytes")
        pg, _ = R.render(page, os.path.join(art, f"synthetic-{rows}.png"))
        n = R.check_page(node, pg, "synthetic")
        R.check_run(node, pg, out, "synthetic")
        if int(pg.tables["t-read"]["rows_headers"]) != int(rows):
            L.fail(f"rows: {pg.tables['t-read']}")
        if len(pg.tables["t-crs"]) < 20:
            L.fail(f"synthetic CRS too few: {pg.tables['t-crs']}")
        print(f"synthetic: {n} figures match DuckDB")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
