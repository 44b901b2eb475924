#!/usr/bin/python3
"""Makes data/world/land.txt, the world outline the report's footprint map draws on.

Source: Natural Earth 1:110m Admin 0 Countries (public domain), as Debian's python3-geopandas
0.12.2 ships it (geopandas/datasets/naturalearth_lowres). The countries are dissolved into land
polygons (the map draws coasts, not borders), simplified and quantised to 0.1 degree: the file
stays a few tens of KiB and is compiled into the binary (src/report/CMakeLists.txt).

  data/world/make.py [naturalearth_lowres.shp]
Without an argument the .deb is fetched with `apt-get download` (Debian's registry) into a
temporary folder and unpacked there; nothing is installed. Needs python3-gdal (scripts/deps.sh).

Output format (one ring a line, text so that diffs are readable):
  # comment lines
  P            starts a polygon; its first ring is the exterior, the next ones holes
  x y x y ...  a ring: longitude and latitude in tenths of a degree, not closed
"""
import glob
import os
import subprocess
import sys
import tempfile

from osgeo import ogr

ogr.UseExceptions()
TOLERANCE = 0.08  # degrees: about a quarter pixel on a 1000 px wide world map


def source_path(tmp):
    if len(sys.argv) > 1:
        return sys.argv[1]
    subprocess.run(["apt-get", "download", "python3-geopandas"], cwd=tmp, check=True)
    deb = glob.glob(os.path.join(tmp, "python3-geopandas_*.deb"))[0]
    subprocess.run(["dpkg-deb", "-x", deb, os.path.join(tmp, "x")], check=True)
    hits = glob.glob(os.path.join(tmp, "x", "**", "naturalearth_lowres.shp"), recursive=True)
    if not hits:
        sys.exit("make.py: this python3-geopandas has no naturalearth_lowres dataset")
    return hits[0]


def ring_text(ring):
    pts = []
    for i in range(ring.GetPointCount()):
        x, y = ring.GetX(i), ring.GetY(i)
        q = (round(x * 10), round(y * 10))
        if not pts or pts[-1] != q:
            pts.append(q)
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts.pop()
    if len(pts) < 3:
        return None
    return " ".join("%d %d" % p for p in pts)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        shp = source_path(tmp)
        ds = ogr.Open(shp)
        layer = ds.GetLayer(0)
        union = ogr.Geometry(ogr.wkbMultiPolygon)
        for f in layer:
            g = f.GetGeometryRef().Clone()
            if g.GetGeometryType() == ogr.wkbPolygon:
                union.AddGeometry(g)
            else:
                for i in range(g.GetGeometryCount()):
                    union.AddGeometry(g.GetGeometryRef(i))
        land = union.UnionCascaded().SimplifyPreserveTopology(TOLERANCE)
    polys = [land] if land.GetGeometryType() == ogr.wkbPolygon else [
        land.GetGeometryRef(i) for i in range(land.GetGeometryCount())]
    out = ["# Land of the world: Natural Earth 1:110m Admin 0 Countries (public domain),",
           "# dissolved, simplified to %g degree, in tenths of a degree. Made by make.py;" % TOLERANCE,
           "# see README.md beside this file."]
    n = 0
    for p in polys:
        rings = [ring_text(p.GetGeometryRef(i)) for i in range(p.GetGeometryCount())]
        if not rings or rings[0] is None:
            continue
        out.append("P")
        out.extend(r for r in rings if r is not None)
        n += 1
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "land.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("make.py: %d polygons, %d bytes -> %s" % (n, os.path.getsize(path), path))


if __name__ == "__main__":
    main()
