"""End to end: `tiff-dumper report` as a person would see it. Dumps the corpus (plain and as
two shards), writes the page, renders it with headless Chromium (Debian's `chromium`) and
checks every figure's numbers (the data-key / data-count rows of its table) against
DuckDB running the SQL printed under that figure, over the same Parquet files; also the
run's counts, hostile file names (escaped, never markup) and that the page loads nothing.
Shards done but not finished (no _SUCCESS): the run section is the shard markers' sum,
equal to what finish writes, under a "made from 2 of 2 shard markers" note; with one shard
missing, the "incomplete run" banner says "1 of 2" and the run section is the other shard's
marker (DuckDB over what is left agrees); parts alone: the incomplete banner. The screenshots stay in ARTEFACT_DIR.

usage: e2e_report.py TIFF_DUMPER CORPUS_DIR NODE_DIR ARTEFACT_DIR"""
import html
import html.parser
import json
import os
import shutil
import subprocess
import sys

from tdtest import e2e_lib as L
from tdtest import require


class Page(html.parser.HTMLParser):
    """Collects each table's rows (data-key -> data-count), each figure's SQL, elements."""

    def __init__(self):
        super().__init__()
        self.tables, self.sql, self.tags = {}, {}, set()
        self.section = self.table = None
        self.in_code = False
        self.code = []
        self.attrs_seen = []
        self.second = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.attrs_seen.extend(k for k, _ in attrs)
        if tag == "section" and a.get("id"):
            self.section = a["id"]
        if tag == "table" and a.get("id"):
            self.table = a["id"]
            self.tables[self.table] = {}
        if a.get("id") == "second-request":
            self.second = a.get("data-count")
        if tag == "tr" and self.table and "data-key" in a:
            self.tables[self.table][a["data-key"]] = a.get("data-count")
        if tag == "code":
            self.in_code, self.code = True, []

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None
        if tag == "code" and self.in_code:
            self.in_code = False
            self.sql[self.section] = "".join(self.code)

    def handle_data(self, data):
        if self.in_code:
            self.code.append(data)


def chromium(args, timeout=90):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        require("chromium")
    p = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--no-first-run", "--disable-extensions", *args],
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        L.fail(f"chromium {args[-1]}: {p.stderr[-2000:]}")
    return p.stdout


def render(path, shot=None):
    """The DOM as Chromium built it, and (shot) a screenshot."""
    url = "file://" + os.path.abspath(path)
    dom = chromium(["--dump-dom", url])
    if shot:
        chromium(["--window-size=1400,3000", f"--screenshot={shot}", url])
        if not os.path.getsize(shot):
            L.fail("empty screenshot")
    pg = Page()
    pg.feed(dom)
    return pg, dom


def parse(path):
    """The page as written (no browser: the tables and SQL are the same bytes)."""
    pg = Page()
    with open(path) as f:
        text = f.read()
    pg.feed(text)
    return pg, text


def report(exe, out, page, *extra):
    p = L.run_tool(exe, "report", out, "-o", page, *extra)
    if p.returncode != 0:
        L.fail(f"report {out}: exit {p.returncode}: {p.stderr}")
    return p


def check_page(node, pg, label):
    """Every histogram table against DuckDB running the page's own SQL."""
    figs = [s for s in pg.sql if s and s.startswith("h-")]
    if len(figs) < 12:
        L.fail(f"{label}: only {len(figs)} figures with SQL: {figs}")
    res = L.duckdb(node, *[pg.sql[s] for s in figs])
    for s, rows in zip(figs, res):
        table = pg.tables.get("t-" + s[2:])
        if table is None:
            L.fail(f"{label}: figure {s} has no table")
        want = {str(r["key"]): int(r["n"]) for r in rows}
        got = {k: int(v) for k, v in table.items() if k != "(more)"}
        more = int(table.get("(more)", 0))
        for k, v in got.items():
            if want.get(k) != v:
                L.fail(f"{label}: {s} '{k}': page {v}, DuckDB {want.get(k)}")
        if sum(want.values()) != sum(got.values()) + more:
            L.fail(f"{label}: {s}: page total {sum(got.values()) + more}, DuckDB {sum(want.values())}")
        if not more and set(want) != set(got):
            L.fail(f"{label}: {s}: keys differ: page {sorted(got)} DuckDB {sorted(want)}")
    if "second" in pg.sql:
        (row,), = L.duckdb(node, pg.sql["second"])
        if int(pg.second) != row["n"]:
            L.fail(f"{label}: second requests: page {pg.second}, DuckDB {row['n']}")
    else:
        L.fail(f"{label}: no 'second request' figure")
    return len(figs)


def check_run(node, pg, out, label, s=None):
    """The rows read and the run section against DuckDB over OUT's files; s: what the run
    section must say (default: OUT's _SUCCESS)."""
    h, e = L.duckdb(node,
                    f"SELECT count(*) AS n, sum(requests) AS r, sum(fetched_bytes) AS b "
                    f"FROM '{out}/part-*.parquet'",
                    "--",
                    f"SELECT count(*) AS n FROM '{out}/_errors/part-*.parquet'")[0::2]
    t = pg.tables["t-read"]
    if int(t["rows_headers"]) != h[0]["n"] or int(t["rows_errors"]) != e[0]["n"]:
        L.fail(f"{label}: rows {t} vs DuckDB {h} {e}")
    if int(t["sum_requests"]) != h[0]["r"] or int(t["sum_fetched_bytes"]) != h[0]["b"]:
        L.fail(f"{label}: sums {t} vs DuckDB {h}")
    if s is None:
        s = json.load(open(os.path.join(out, "_SUCCESS")))
    run = pg.tables["t-run"]
    for k in ("listed", "skipped", "dumped", "failed", "requests", "bytes_fetched"):
        if int(run[k]) != s[k]:
            L.fail(f"{label}: run {k}: page {run[k]}, _SUCCESS {s[k]}")
    if s["dumped"] != h[0]["n"] or s["failed"] != e[0]["n"]:
        L.fail(f"{label}: _SUCCESS {s} vs rows")


def main():
    exe, corpus, node, art = sys.argv[1:5]
    corpus = os.path.abspath(corpus)
    os.makedirs(art, exist_ok=True)
    tmp = L.tempdir("report")
    try:
        # 1. the corpus, with a small prefetch so that some files need a second request
        cfg = os.path.join(tmp, "c.yaml")
        L.write_config(cfg, corpus, fetch={"suffixes": [".tif", ".tiff"], "prefetch_bytes": 4096},
                       output={"compression": "zstd"})
        out = os.path.join(tmp, "out")
        p = L.run_tool(exe, "headers", cfg, out, "--quiet")
        if p.returncode not in (0, 1):
            L.fail(f"headers: {p.returncode} {p.stderr}")
        page = os.path.join(art, "corpus.html")
        report(exe, out, page)
        pg, dom = render(page, os.path.join(art, "corpus.png"))
        n = check_page(node, pg, "corpus")
        check_run(node, pg, out, "corpus")
        if "incomplete" in pg.tables.get("t-run", {}) or 'id="incomplete"' in dom:
            L.fail("corpus: an incomplete banner on a complete run")
        if pg.tags & {"script", "link", "img", "iframe", "object"}:
            L.fail(f"the page has external or active elements: {pg.tags}")
        if any(a.startswith("on") for a in pg.attrs_seen):
            L.fail("an event handler attribute in the page")
        if "4096 bytes" not in dom:
            L.fail("the run's prefetch (4096) is not what the page compares with")
        ifd = pg.tables["t-ifd_bytes"]
        if not any(k.startswith(">") or k == "<= 8192" for k in ifd):
            print("note: no header above the prefetch in the corpus")
        print(f"corpus: {n} figures match DuckDB")

        # 2. the same as two shards, finished: the same numbers
        outs = os.path.join(tmp, "sharded")
        for i in range(2):
            p = L.run_tool(exe, "headers", cfg, outs, "--quiet", "--shard", f"{i}/2")
            if p.returncode not in (0, 1):
                L.fail(f"shard {i}: {p.returncode} {p.stderr}")
        if not os.path.exists(os.path.join(outs, "_SUCCESS")):
            p = L.run_tool(exe, "finish", outs)
            if p.returncode != 0:
                L.fail(f"finish: {p.stderr}")
        pages = os.path.join(art, "sharded.html")
        report(exe, outs, pages)
        pgs, _ = render(pages)
        check_page(node, pgs, "sharded")
        for t in ("t-crs", "t-compression", "t-dtype", "t-errors", "t-cog_reasons"):
            if pgs.tables[t] != pg.tables[t]:
                L.fail(f"sharded {t} differs from the plain run: {pgs.tables[t]} vs {pg.tables[t]}")

        # 3. shards done, not finished (no _SUCCESS): the run section is the markers' sum,
        # what finish writes, and the page says "made from 2 of 2 shard markers"
        succ = json.load(open(os.path.join(outs, "_SUCCESS")))
        os.remove(os.path.join(outs, "_SUCCESS"))
        pageu = os.path.join(art, "unfinished.html")
        p = report(exe, outs, pageu)
        pgu, domu = parse(pageu)
        if "finish" not in p.stderr or "all 2 shard markers" not in p.stderr:
            L.fail(f"no warning naming finish for unfinished shards: {p.stderr}")
        if 'id="unfinished"' not in domu or 'id="incomplete"' in domu \
                or "Made from 2 of 2 shard markers without _SUCCESS" not in domu:
            L.fail("unfinished shards: no 'made from 2 of 2 shard markers' banner (or a red one)")
        check_run(node, pgu, outs, "unfinished", succ)
        runu = dict(pgu.tables["t-run"])
        if (runu.pop("markers_summed", None), runu.get("shards")) != ("2", "2"):
            L.fail(f"unfinished: markers summed / shards: {runu}")
        # the same page as after finish: every figure (the header-size one needs the
        # run's prefetch, from the markers' config) and the run section
        for t in set(pgs.tables) | set(pgu.tables):
            if (runu if t == "t-run" else pgu.tables.get(t)) != pgs.tables.get(t):
                L.fail(f"unfinished: {t} differs from the finished page: "
                       f"{pgu.tables.get(t)} vs {pgs.tables.get(t)}")
        if "4096 bytes" not in domu:
            L.fail("unfinished: the run's prefetch (4096, from the markers) is not used")
        for k in ("elapsed_seconds", "headers_per_second"):
            if float(runu[k]) != float(succ[k]):
                L.fail(f"unfinished: {k}: page {runu[k]}, finish's _SUCCESS {succ[k]}")
        if succ["started"] not in domu or succ["finished"] not in domu:
            L.fail("unfinished: the earliest start / latest finish are not finish's")
        print("2 of 2 shard markers, no _SUCCESS: the run section is finish's sum")

        # 4. one shard missing (its marker and parts gone): the incomplete banner, "1 of 2",
        # the run section is shard 0's marker, and that matches DuckDB over what is left
        outm = os.path.join(tmp, "missing")
        shutil.copytree(outs, outm)
        for d in (outm, os.path.join(outm, "_errors")):
            for f in os.listdir(d):
                if f.startswith(("part-S0001-", "_SUCCESS.shard-0001-")):
                    os.remove(os.path.join(d, f))
        m0 = json.load(open(os.path.join(outm, "_SUCCESS.shard-0000-of-0002")))
        pagei = os.path.join(tmp, "inc.html")
        p = report(exe, outm, pagei)
        pgi, domi = parse(pagei)
        if "incomplete" not in p.stderr or "1 of 2 shard markers" not in p.stderr:
            L.fail(f"no warning for an incomplete run: {p.stderr}")
        if 'id="incomplete"' not in domi \
                or "made from 1 of 2 shard markers without _SUCCESS" not in domi \
                or "missing shard 1)" not in domi:
            L.fail("one shard missing: no 'incomplete ... 1 of 2 shard markers' banner")
        check_page(node, pgi, "one shard missing")
        check_run(node, pgi, outm, "one shard missing", m0)
        runi = pgi.tables["t-run"]
        if (runi.get("markers_summed"), runi.get("shards")) != ("1", "2"):
            L.fail(f"one shard missing: markers summed / shards: {runi}")
        if int(runi["dumped"]) >= succ["dumped"]:
            L.fail(f"one shard missing: dumped {runi['dumped']} is the whole run's")
        print("1 of 2 shard markers: incomplete banner, the run section is shard 0's")

        # 5. no marker and no _SUCCESS (a run still going): the banner, no run numbers
        for f in os.listdir(outm):
            if f.startswith("_SUCCESS"):
                os.remove(os.path.join(outm, f))
        p = report(exe, outm, pagei)
        texti = open(pagei).read()
        if "incomplete" not in p.stderr or 'id="incomplete"' not in texti \
                or "No readable _SUCCESS" not in texti:
            L.fail(f"parts only: no incomplete banner: {p.stderr}")

        # 6. hostile names: escaped in the page, never markup
        hs = os.path.join(tmp, "hostile")
        os.makedirs(hs)
        evil = "<img src=x onerror=alert(1)>&'\""
        shutil.copy(os.path.join(corpus, "rasterio", "RGB.byte.tif"), os.path.join(hs, evil + ".tif"))
        with open(os.path.join(hs, "<script>x.tif"), "wb") as f:
            f.write(b"II*\x00\xff\xff\xff\x7f")
        cfgh = os.path.join(tmp, "h.yaml")
        L.write_config(cfgh, hs)
        outh = os.path.join(tmp, "outh")
        L.run_tool(exe, "headers", cfgh, outh, "--quiet")
        pageh = os.path.join(tmp, "hostile.html")
        report(exe, outh, pageh)
        pgh, domh = render(pageh)
        if pgh.tags & {"script", "img"}:
            L.fail("a file name became markup")
        if "<script>x.tif" not in html.unescape(domh):
            L.fail("the hostile error path is not shown")
        check_page(node, pgh, "hostile")

        # 7. usage errors
        p = L.run_tool(exe, "report")
        if p.returncode != 2:
            L.fail(f"report without OUT: {p.returncode}")
        p = L.run_tool(exe, "report", os.path.join(tmp, "nothere"), "-o", os.path.join(tmp, "x.html"))
        if p.returncode != 3 or "nothere" not in p.stderr:
            L.fail(f"report of a missing folder: {p.returncode} {p.stderr}")
        bad = os.path.join(tmp, "bad")
        os.makedirs(bad)
        open(os.path.join(bad, "part-00000.parquet"), "wb").write(b"garbage")
        p = L.run_tool(exe, "report", bad, "-o", os.path.join(tmp, "x.html"))
        if p.returncode != 3 or "part-00000.parquet" not in p.stderr:
            L.fail(f"report of a broken part: {p.returncode} {p.stderr}")
        if os.path.exists(os.path.join(tmp, "x.html")):
            L.fail("a page was written for a folder that could not be read")
        print("ok")
    finally:
        L.rmtree(tmp)


if __name__ == "__main__":
    main()
