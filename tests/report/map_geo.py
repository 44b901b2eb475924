"""The footprint map on footprints the project itself computes (td_geo over GDAL-written
rasters: polar grids containing a pole, tiles across the antimeridian, UTM; and the TIFF
corpus), looked at as a person would: rendered by headless Chromium, then pixels checked.

    map_geo.py TD_GEO_DUMP MAP_RENDER CORPUS_DIR ARTEFACT_DIR

Checks:
  - every footprint is read (none skipped) and drawn as an outline;
  - no segment of the footprint path spans more than 1/8 of the map's width (a footprint
    split at the antimeridian, or a polar cap, drawn as a band across the map would);
  - on the screenshot: both pole lines are covered by the polar caps, both sides of the
    antimeridian tile are, and the open ocean between them (0E and 140W on its latitude) is
    not;
  - past max_shapes the map is a density grid with a legend.
The SVGs and PNGs stay in ARTEFACT_DIR (map_geo*.svg / .png) to be looked at.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from osgeo import gdal, osr

from tdtest.geo_cases import generated

gdal.UseExceptions()
PAD = 4.0  # px around the sphere (map.c)


def dump(tool, paths):
    out = subprocess.run([tool] + paths, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def render(tool, wkbs, svg, max_shapes=None):
    cmd = [tool, svg] + ([str(max_shapes)] if max_shapes else [])
    r = subprocess.run(cmd, input="".join(w + "\n" for w in wkbs), capture_output=True,
                       text=True, check=True)
    return [int(x) for x in r.stdout.split()]


def path_points(svg_text, cls):
    """Absolute points of each subpath of <path class=cls>, and the widest step."""
    m = re.search(r'class="%s"[^>]* d="([^"]*)"' % cls, svg_text)
    if not m:
        return None, 0
    subs, widest = [], 0.0
    cur = start = (0.0, 0.0)
    for cmd, args in re.findall(r"([Mlz])([^Mlz]*)", m.group(1)):
        nums = [float(x) for x in re.findall(r"-?[0-9]*\.?[0-9]+", args)]
        if cmd == "M":
            cur = start = (nums[0], nums[1])
            subs.append([cur])
        elif cmd == "l":
            for i in range(0, len(nums), 2):
                widest = max(widest, abs(nums[i]))
                cur = (cur[0] + nums[i], cur[1] + nums[i + 1])
                subs[-1].append(cur)
        else:
            cur = start
    return subs, widest


def screenshot(svg, png, w, h, tmp):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        sys.exit("map_geo: chromium is not installed (scripts/deps.sh installs it)")
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--force-device-scale-factor=1", "--user-data-dir=" + os.path.join(tmp, "prof"),
                    "--window-size=%d,%d" % (w, h), "--screenshot=" + png, "file://" + svg],
                   check=True, capture_output=True, timeout=120)
    return gdal.Open(png).ReadAsArray()  # bands, rows, columns


def main():
    geo_dump, map_render, corpus, art = sys.argv[1:5]
    os.makedirs(art, exist_ok=True)
    fails = []

    def check(ok, msg):
        if not ok:
            fails.append(msg)
            print("FAIL", msg)

    with tempfile.TemporaryDirectory() as tmp:
        gen = generated(tmp)
        gen.pop("gen/global_4326.tif")  # it would cover every pixel checked below
        ours = {d["path"]: d["wkb"] for d in dump(geo_dump, list(gen.values())) if d.get("wkb")}
        check(len(ours) == len(gen), "td_geo gave %d footprints for %d rasters" %
              (len(ours), len(gen)))
        svg = os.path.join(art, "map_geo.svg")
        drawn, gridded, skipped = render(map_render, list(ours.values()), svg)
        check((drawn, gridded, skipped) == (len(ours), 0, 0),
              "counts %r" % ((drawn, gridded, skipped),))
        text = open(svg).read()
        W, H = (int(x) for x in re.search(r'viewBox="0 0 (\d+) (\d+)"', text).groups())
        subs, widest = path_points(text, "td-map-fp")
        check(subs is not None and widest < W / 8, "widest step %.1f px of %d" % (widest, W))

        # lon/lat -> pixel, through PROJ (osr) as map.c does
        src, dst = osr.SpatialReference(), osr.SpatialReference()
        src.ImportFromEPSG(4326)
        src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        dst.ImportFromProj4("+proj=eqearth +datum=WGS84 +units=m +no_defs")
        ct = osr.CoordinateTransformation(src, dst)
        xw, xe = ct.TransformPoint(-180, 0)[0], ct.TransformPoint(180, 0)[0]
        yn = ct.TransformPoint(0, 90)[1]
        s = (W - 2 * PAD) / (xe - xw)

        def px(lon, lat):
            x, y = ct.TransformPoint(lon, lat)[:2]
            return int(PAD + (x - xw) * s), int(PAD + (yn - y) * s)

        img = screenshot(svg, os.path.join(art, "map_geo.png"), W, H, tmp)

        def covered(x, y):  # the footprints' orange over ocean or land: red well above blue
            r, b = int(img[0][y][x]), int(img[2][y][x])
            return r - b > 20, (r, int(img[1][y][x]), b)

        probes = [("north pole line", (W // 2, int(PAD) + 3), True),
                  ("south pole line", (W // 2, H - int(PAD) - 3), True),
                  ("antimeridian tile, east side", px(175, -15), True),
                  ("antimeridian tile, west side", px(-175.5, -15), True),
                  ("ocean at 0E on the tile's latitude", px(0, -15), False),
                  ("ocean at 140W on the tile's latitude", px(-140, -15), False),
                  ("Pacific at 140W 5N", px(-140, 5), False)]
        for name, (x, y), want in probes:
            got, rgb = covered(x, y)
            check(got == want, "%s at px %d,%d: covered %s, want %s (rgb %r)" %
                  (name, x, y, got, want, rgb))

        # the corpus too, and the same footprints as a density grid
        names = []
        for root, _, files in os.walk(corpus):
            names += [os.path.join(root, f) for f in files if f.lower().endswith((".tif", ".tiff"))]
        every = [d["wkb"] for d in dump(geo_dump, sorted(names)) if d.get("wkb")] + list(ours.values())
        svg2 = os.path.join(art, "map_geo_corpus.svg")
        drawn, gridded, skipped = render(map_render, every, svg2)
        check(skipped == 0 and drawn == len(every), "corpus counts %r" % ((drawn, gridded, skipped),))
        subs, widest = path_points(open(svg2).read(), "td-map-fp")
        check(widest < W / 8, "corpus: widest step %.1f px" % widest)
        screenshot(svg2, os.path.join(art, "map_geo_corpus.png"), W, H, tmp)
        svg3 = os.path.join(art, "map_geo_grid.svg")
        drawn, gridded, skipped = render(map_render, every, svg3, max_shapes=5)
        check((drawn, gridded, skipped) == (0, len(every), 0), "grid counts %r" %
              ((drawn, gridded, skipped),))
        t3 = open(svg3).read()
        check("td-map-cell" in t3 and "td-map-legend" in t3, "grid: no cells or no legend")
        screenshot(svg3, os.path.join(art, "map_geo_grid.png"), W, H, tmp)
        print("map_geo: %d generated and %d corpus footprints; %d failures" %
              (len(ours), len(every) - len(ours), len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
