/* map_test.c - src/report/map.h: WKB reading (hostile inputs included), footprints across
 * the antimeridian and over the poles drawn without a segment across the map, the switch to
 * the density grid, and the SVG's size bound.
 *   map_test [OUT_DIR]   with OUT_DIR: also writes map_*.svg there (to look at) */
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "td_test.h"

static const char *out_dir;

/* ---- WKB building ---- */

typedef struct wkb {
    uint8_t b[1 << 16];
    size_t n;
    int le;
} wkb;

static void put_u8(wkb *w, uint8_t v) {
    REQUIRE(w->n < sizeof w->b);
    w->b[w->n++] = v;
}
static void put_u32(wkb *w, uint32_t v) {
    for (int i = 0; i < 4; i++)
        put_u8(w, (uint8_t)(v >> (8 * (w->le ? i : 3 - i))));
}
static void put_f64(wkb *w, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    for (int i = 0; i < 8; i++)
        put_u8(w, (uint8_t)(u >> (8 * (w->le ? i : 7 - i))));
}
static void head(wkb *w, uint32_t type) {
    put_u8(w, (uint8_t)w->le);
    put_u32(w, type);
}
/* one ring from n lon/lat pairs (closed here) */
static void ring(wkb *w, const double *xy, int n) {
    put_u32(w, (uint32_t)n + 1);
    for (int i = 0; i <= n; i++) {
        put_f64(w, xy[2 * (i % n)]);
        put_f64(w, xy[2 * (i % n) + 1]);
    }
}
static void polygon(wkb *w, const double *xy, int n) {
    head(w, 3);
    put_u32(w, 1);
    ring(w, xy, n);
}
static void box(wkb *w, double x0, double y0, double x1, double y1) {
    const double b[] = {x0, y0, x1, y0, x1, y1, x0, y1};
    polygon(w, b, 4);
}

/* ---- SVG inspection ---- */

/* the d attribute of the first <path class="CLS" ...>, malloc'ed, or NULL */
static char *path_d(const char *svg, const char *cls) {
    char key[64];
    snprintf(key, sizeof key, "class=\"%s\"", cls);
    const char *p = strstr(svg, key);
    if (!p)
        return NULL;
    p = strstr(p, " d=\"");
    if (!p)
        return NULL;
    p += 4;
    const char *e = strchr(p, '"');
    char *d = malloc((size_t)(e - p) + 1);
    memcpy(d, p, (size_t)(e - p));
    d[e - p] = 0;
    return d;
}

typedef struct stats {
    size_t subpaths, points;
    double max_dx; /* longest horizontal step of a segment */
    double xmin, xmax, ymin, ymax;
    int bad;      /* syntax errors */
    int pos, neg; /* closed subpaths by the sign of their area (orientation) */
} stats;

/* Walks M/l/z path data (what map.c writes), in absolute px. */
static stats walk(const char *d) {
    stats s = {0, 0, 0, INFINITY, -INFINITY, INFINITY, -INFINITY, 0, 0, 0};
    double cx = 0, cy = 0, sx = 0, sy = 0, area = 0;
    char cmd = 0;
    const char *p = d;
    while (*p) {
        if (*p == 'M' || *p == 'l' || *p == 'z') {
            cmd = *p++;
            if (cmd == 'z') {
                area += cx * sy - sx * cy;
                if (area > 1)
                    s.pos++;
                else if (area < -1)
                    s.neg++;
                cx = sx, cy = sy;
            }
            if (cmd == 'M')
                s.subpaths++;
            if (cmd == 'l' && !(*p == '-' || *p == '.' || (*p >= '0' && *p <= '9')))
                s.bad++; /* a lineto without coordinates */
            continue;
        }
        if (*p == ' ') {
            p++;
            continue;
        }
        char *e;
        double x = strtod(p, &e);
        if (e == p) {
            s.bad++;
            break;
        }
        p = e;
        while (*p == ' ')
            p++;
        double y = strtod(p, &e);
        if (e == p) {
            s.bad++;
            break;
        }
        p = e;
        if (cmd == 'M') {
            cx = sx = x, cy = sy = y;
            area = 0;
            cmd = 'L'; /* (map.c never repeats pairs after M) */
        } else if (cmd == 'l') {
            s.max_dx = fmax(s.max_dx, fabs(x));
            area += cx * (cy + y) - (cx + x) * cy;
            cx += x, cy += y;
        } else {
            s.bad++;
        }
        s.points++;
        s.xmin = fmin(s.xmin, cx), s.xmax = fmax(s.xmax, cx);
        s.ymin = fmin(s.ymin, cy), s.ymax = fmax(s.ymax, cy);
    }
    return s;
}

static void save(const char *name, const ut_buf *b) {
    if (!out_dir)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    REQUIRE(f, "%s", path);
    fwrite(b->p, 1, b->len, f);
    fclose(f);
}

static td_map *new_map(size_t max_shapes) {
    char msg[256] = "";
    td_map *m = NULL;
    td_map_options o = {0, 0, max_shapes};
    REQUIRE(td_map_new(&m, &o, msg, sizeof msg) == 0, "%s", msg);
    return m;
}

static char *render(td_map *m, ut_buf *b) {
    char msg[256] = "";
    b->limit = 8u << 20;
    CHECK(td_map_svg(m, b, msg, sizeof msg) == 0, "%s", msg);
    return b->p;
}

/* ---- cases ---- */

static void test_hostile(void) {
    td_test_context = "hostile";
    td_map *m = new_map(0);
    size_t skipped = 0;
    wkb w = {.le = 1};
    box(&w, 10, 10, 20, 20);
    /* every truncation of a valid polygon */
    for (size_t n = 0; n < w.n; n++) {
        uint8_t *cut = malloc(n ? n : 1); /* exactly n bytes: ASan sees a read past them */
        memcpy(cut, w.b, n);
        CHECK(td_map_add_wkb(m, cut, n) < 0, "truncated at %zu", n);
        skipped++;
        free(cut);
    }
    CHECK(td_map_add_wkb(m, NULL, 0) < 0);
    skipped++;
    /* trailing byte */
    w.b[w.n] = 0;
    CHECK(td_map_add_wkb(m, w.b, w.n + 1) < 0);
    skipped++;
    /* huge counts: rings, points, polygons */
    const uint32_t huge[] = {0xffffffffu, 0x7fffffffu, 0x10000000u, 1u << 20};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        wkb h = {.le = 1};
        head(&h, 3);
        put_u32(&h, huge[i]);
        put_u32(&h, 4);
        CHECK(td_map_add_wkb(m, h.b, h.n) < 0);
        wkb q = {.le = 1};
        head(&q, 3);
        put_u32(&q, 1);
        put_u32(&q, huge[i]);
        put_f64(&q, 1), put_f64(&q, 2);
        CHECK(td_map_add_wkb(m, q.b, q.n) < 0);
        wkb mp = {.le = 0};
        head(&mp, 6);
        put_u32(&mp, huge[i]);
        box(&mp, 0, 0, 1, 1);
        CHECK(td_map_add_wkb(m, mp.b, mp.n) < 0);
        skipped += 3;
    }
    /* NaN, infinity, out of range */
    const double badv[][2] = {{NAN, 0}, {0, NAN}, {INFINITY, 0}, {200, 0}, {0, 91}, {-180.5, 0}};
    for (size_t i = 0; i < sizeof badv / sizeof *badv; i++) {
        wkb b = {.le = 1};
        const double t[] = {0, 0, badv[i][0], badv[i][1], 1, 1};
        polygon(&b, t, 3);
        CHECK(td_map_add_wkb(m, b.b, b.n) < 0, "case %zu", i);
        skipped++;
    }
    /* other types: point, linestring, collection, polygon Z (ISO and EWKB), byte order 2 */
    const uint32_t types[] = {1, 2, 7, 1003, 0x80000003u, 0};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        wkb b = {.le = 1};
        head(&b, types[i]);
        put_u32(&b, 1);
        const double t[] = {0, 0, 1, 0, 1, 1};
        ring(&b, t, 3);
        CHECK(td_map_add_wkb(m, b.b, b.n) < 0, "type %u", types[i]);
        skipped++;
    }
    {
        wkb b = {.le = 1};
        box(&b, 0, 0, 1, 1);
        b.b[0] = 2;
        CHECK(td_map_add_wkb(m, b.b, b.n) < 0);
        skipped++;
    }
    /* a MultiPolygon holding a MultiPolygon; an empty polygon; a 2-point ring */
    {
        wkb b = {.le = 1};
        head(&b, 6);
        put_u32(&b, 1);
        head(&b, 6);
        put_u32(&b, 1);
        box(&b, 0, 0, 1, 1);
        CHECK(td_map_add_wkb(m, b.b, b.n) < 0);
        wkb e = {.le = 1};
        head(&e, 3);
        put_u32(&e, 0);
        CHECK(td_map_add_wkb(m, e.b, e.n) < 0);
        wkb t = {.le = 1};
        head(&t, 3);
        put_u32(&t, 1);
        put_u32(&t, 2);
        put_f64(&t, 0), put_f64(&t, 0), put_f64(&t, 1), put_f64(&t, 1);
        CHECK(td_map_add_wkb(m, t.b, t.n) < 0);
        skipped += 3;
    }
    size_t dr, gr, sk;
    td_map_counts(m, &dr, &gr, &sk);
    CHECK(dr == 0 && gr == 0 && sk == skipped, "%zu %zu %zu (want skipped %zu)", dr, gr, sk,
          skipped);
    ut_buf b = {0};
    char *svg = render(m, &b);
    CHECK(svg && strstr(svg, "<title") && !strstr(svg, "td-map-fp"));
    ut_buf_free(&b);
    td_map_free(m);
}

static void test_shapes(void) {
    td_test_context = "shapes";
    td_map *m = new_map(0);
    wkb le = {.le = 1}, be = {.le = 0};
    box(&le, 5, 45, 15, 55);
    box(&be, -75, -20, -60, -5);
    CHECK(td_map_add_wkb(m, le.b, le.n) == 0);
    CHECK(td_map_add_wkb(m, be.b, be.n) == 0);
    /* a MultiPolygon with a holed polygon */
    wkb mp = {.le = 1};
    head(&mp, 6);
    put_u32(&mp, 2);
    head(&mp, 3);
    put_u32(&mp, 2);
    const double outer[] = {100, -40, 140, -40, 140, -10, 100, -10};
    const double hole[] = {110, -30, 110, -20, 130, -20, 130, -30};
    ring(&mp, outer, 4);
    ring(&mp, hole, 4);
    box(&mp, 150, -45, 160, -35);
    CHECK(td_map_add_wkb(m, mp.b, mp.n) == 0);
    size_t dr, gr, sk;
    td_map_counts(m, &dr, &gr, &sk);
    CHECK(dr == 3 && gr == 0 && sk == 0, "%zu %zu %zu", dr, gr, sk);
    ut_buf b = {0};
    char *svg = render(m, &b);
    char *d = path_d(svg, "td-map-fp");
    REQUIRE(d);
    stats s = walk(d);
    CHECK(s.bad == 0 && s.subpaths == 5, "bad %d subpaths %zu", s.bad, s.subpaths);
    /* the hole winds against the exteriors (nonzero fill: a hole, overlaps filled) */
    CHECK((s.pos == 4 && s.neg == 1) || (s.pos == 1 && s.neg == 4), "%d %d", s.pos, s.neg);
    free(d);
    /* every layer is there and well formed */
    const char *layers[] = {"td-map-sphere", "td-map-graticule", "td-map-land"};
    for (int i = 0; i < 3; i++) {
        char *l = path_d(svg, layers[i]);
        REQUIRE(l, "%s", layers[i]);
        stats t = walk(l);
        CHECK(t.bad == 0 && t.subpaths > 0, "%s", layers[i]);
        free(l);
    }
    CHECK(strncmp(svg, "<svg ", 5) == 0 && strstr(svg, "</svg>\n") &&
          strstr(svg, "<title id=\"td-map-title\">Footprints of 3 files</title>") &&
          strstr(svg, "<desc"));
    save("map_shapes.svg", &b);
    ut_buf_free(&b);
    td_map_free(m);
}

/* src/geo's layout of a polar footprint: the ring cut at 180 and closed along the pole */
static void polar(wkb *w, double lat_edge, int pole) {
    double xy[2 * 200];
    int n = 0;
    xy[n++] = -180, xy[n++] = lat_edge;
    for (int lon = -170; lon <= 170; lon += 10)
        xy[n++] = lon, xy[n++] = lat_edge + 3 * sin(lon * 3.14159265 / 60);
    xy[n++] = 180, xy[n++] = lat_edge;
    xy[n++] = 180, xy[n++] = 90.0 * pole;
    xy[n++] = -180, xy[n++] = 90.0 * pole;
    polygon(w, xy, n / 2);
}

static void test_polar_antimeridian(void) {
    td_test_context = "polar+antimeridian";
    td_map *m = new_map(0);
    /* a footprint across the antimeridian, split as src/geo does */
    wkb am = {.le = 1};
    head(&am, 6);
    put_u32(&am, 2);
    box(&am, 170, -20, 180, -10);
    box(&am, -180, -20, -170, -10);
    CHECK(td_map_add_wkb(m, am.b, am.n) == 0);
    /* a hair past 180 (rounding in the writer): accepted, and not wrapped to -180 by PROJ */
    wkb hair = {.le = 1};
    box(&hair, 175, 30, 180 + 5e-10, 35);
    CHECK(td_map_add_wkb(m, hair.b, hair.n) == 0);
    wkb n = {.le = 1}, s = {.le = 1};
    polar(&n, 70, 1);
    polar(&s, -65, -1);
    CHECK(td_map_add_wkb(m, n.b, n.n) == 0);
    CHECK(td_map_add_wkb(m, s.b, s.n) == 0);
    /* a whole-world footprint: edges along the poles 360 degrees long */
    wkb g = {.le = 1};
    box(&g, -180, -90, 180, 90);
    CHECK(td_map_add_wkb(m, g.b, g.n) == 0);
    ut_buf b = {0};
    char *svg = render(m, &b);
    int W = 0, H = 0;
    REQUIRE(sscanf(strstr(svg, "viewBox=\"0 0 "), "viewBox=\"0 0 %d %d", &W, &H) == 2);
    char *d = path_d(svg, "td-map-fp");
    REQUIRE(d);
    stats st = walk(d);
    CHECK(st.bad == 0 && st.subpaths == 6, "bad %d subpaths %zu", st.bad, st.subpaths);
    /* no segment across the map: only short steps (edges are densified at 2 degrees) */
    CHECK(st.max_dx < W / 8.0, "a segment %.1f px wide on a %d px map", st.max_dx, W);
    /* the south cap was given clockwise: drawn like the others, so that nonzero fills it
     * where it overlaps the whole-world footprint */
    CHECK((st.pos == 6) != (st.neg == 6), "orientations %d %d", st.pos, st.neg);
    /* the caps reach the pole lines and the whole-world footprint the map's sides */
    CHECK(st.ymin < 4.6 && st.ymax > H - 4.6, "y %.1f..%.1f of %d", st.ymin, st.ymax, H);
    CHECK(st.xmin < 4.6 && st.xmax > W - 4.6, "x %.1f..%.1f of %d", st.xmin, st.xmax, W);
    free(d);
    /* each polar cap alone spans the map's width and touches its pole line */
    td_map *mn = new_map(0);
    CHECK(td_map_add_wkb(mn, n.b, n.n) == 0);
    ut_buf bn = {0};
    char *dn = path_d(render(mn, &bn), "td-map-fp");
    REQUIRE(dn);
    stats sn = walk(dn);
    CHECK(sn.ymin < 4.6 && sn.ymax < H / 4.0, "north cap y %.1f..%.1f", sn.ymin, sn.ymax);
    CHECK(sn.xmax - sn.xmin > W * 0.5, "north cap x %.1f..%.1f", sn.xmin, sn.xmax);
    CHECK(sn.max_dx < W / 8.0);
    free(dn);
    ut_buf_free(&bn);
    td_map_free(mn);
    save("map_polar.svg", &b);
    ut_buf_free(&b);
    td_map_free(m);
}

static uint64_t rng = 88172645463325252ull;
static double rnd(void) { /* xorshift64, [0, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void test_grid(void) {
    td_test_context = "grid";
    td_map *m = new_map(10);
    wkb w;
    for (int i = 0; i < 10; i++) {
        w = (wkb){.le = 1};
        box(&w, -10 + i, 40, -9 + i, 41);
        CHECK(td_map_add_wkb(m, w.b, w.n) == 0);
    }
    size_t dr, gr, sk;
    td_map_counts(m, &dr, &gr, &sk);
    CHECK(dr == 10 && gr == 0);
    w = (wkb){.le = 1};
    box(&w, 0, 0, 30, 30); /* the 11th: the map becomes a grid */
    CHECK(td_map_add_wkb(m, w.b, w.n) == 0);
    td_map_counts(m, &dr, &gr, &sk);
    CHECK(dr == 0 && gr == 11 && sk == 0, "%zu %zu %zu", dr, gr, sk);
    ut_buf b = {0};
    char *svg = render(m, &b);
    CHECK(!strstr(svg, "td-map-fp") && strstr(svg, "td-map-cell") && strstr(svg, "td-map-legend") &&
          strstr(svg, "Footprint density of 11 files"));
    char *d = path_d(svg, "td-map-cell");
    REQUIRE(d);
    stats s = walk(d);
    CHECK(s.bad == 0 && s.subpaths > 0);
    free(d);
    save("map_grid_small.svg", &b);
    ut_buf_free(&b);
    td_map_free(m);

    /* many footprints, default options: bounded output whatever the count */
    m = new_map(0);
    for (int i = 0; i < 30000; i++) {
        w = (wkb){.le = 1};
        double x = -180 + 359 * rnd(), y = -80 + 150 * rnd() * rnd();
        box(&w, x, y, fmin(180, x + 0.2 + 3 * rnd()), y + 0.2 + 2 * rnd());
        CHECK(td_map_add_wkb(m, w.b, w.n) == 0);
    }
    td_map_counts(m, &dr, &gr, &sk);
    CHECK(dr == 0 && gr == 30000);
    ut_buf_reset(&b);
    render(m, &b);
    CHECK(b.len < 400u << 10, "%zu bytes", b.len);
    fprintf(stderr, "grid of 30000 random footprints: %zu bytes of SVG\n", b.len);
    save("map_grid.svg", &b);
    ut_buf_free(&b);
    td_map_free(m);
}

/* The largest grid SVG: every cell counted, alternating classes (a checkerboard of 1 and 2
 * footprints per cell); and the outline budget with large footprints under max_shapes. */
static void test_bounds(void) {
    td_test_context = "bounds";
    td_map *m = new_map(1);
    const int D = TD_MAP_GRID_DEG;
    for (int pass = 0; pass < 2; pass++)
        for (int row = 0; row < 180 / D; row++)
            for (int col = 0; col < 360 / D; col++) {
                if (pass == 1 && (row + col) % 2)
                    continue;
                wkb w = {.le = 1};
                double x = -180 + col * D + 0.5, y = -90 + row * D + 0.5;
                box(&w, x, y, x + 0.5, y + 0.5);
                CHECK(td_map_add_wkb(m, w.b, w.n) == 0);
            }
    ut_buf b = {0};
    render(m, &b);
    fprintf(stderr, "checkerboard grid: %zu bytes of SVG\n", b.len);
    CHECK(b.len < 640u << 10, "%zu bytes", b.len);
    save("map_checker.svg", &b);
    td_map_free(m);

    /* big polar footprints (about 200 points each, a full map width) under max_shapes: the
     * outline byte budget turns the map into a grid */
    m = new_map(100000);
    size_t dr = 1, gr = 0, sk = 1;
    for (int i = 0; i < 3000 && dr; i++) {
        wkb w = {.le = 1};
        polar(&w, 50 + 0.01 * i, 1);
        CHECK(td_map_add_wkb(m, w.b, w.n) == 0);
        td_map_counts(m, &dr, &gr, &sk);
    }
    CHECK(dr == 0 && gr > 0 && sk == 0, "%zu %zu %zu", dr, gr, sk);
    ut_buf_reset(&b);
    render(m, &b);
    CHECK(b.len < 400u << 10, "%zu bytes", b.len);
    ut_buf_free(&b);
    td_map_free(m);
}

/* A valid polygon of 200000 vertices zigzagging across the whole map: 360 degree edges
 * densified to 180 points each would be 36M points; the outline budget stops drawing it and
 * the map becomes a grid (the ctest timeout bounds the time). */
static void test_zigzag(void) {
    td_test_context = "zigzag";
    const uint32_t n = 200000;
    size_t len = 9 + 4 + 16 * (size_t)(n + 1);
    uint8_t *b = malloc(len), *p = b;
    REQUIRE(b);
    *p++ = 1;
    const uint32_t hdr[3] = {3, 1, n + 1};
    for (int i = 0; i < 3; i++, p += 4)
        for (int k = 0; k < 4; k++)
            p[k] = (uint8_t)(hdr[i] >> (8 * k));
    for (uint32_t i = 0; i <= n; i++) {
        double xy[2] = {i == n ? -180 : (i % 2 ? 180.0 : -180.0), i == n ? 0 : i * 1e-4};
        for (int c = 0; c < 2; c++, p += 8) {
            uint64_t u;
            memcpy(&u, &xy[c], 8);
            for (int k = 0; k < 8; k++)
                p[k] = (uint8_t)(u >> (8 * k));
        }
    }
    REQUIRE((size_t)(p - b) == len);
    td_map *m = new_map(0);
    CHECK(td_map_add_wkb(m, b, len) == 0);
    size_t dr, gr, sk;
    td_map_counts(m, &dr, &gr, &sk);
    CHECK(dr == 0 && gr == 1 && sk == 0, "%zu %zu %zu", dr, gr, sk);
    ut_buf o = {0};
    render(m, &o);
    CHECK(o.len < 400u << 10, "%zu", o.len);
    ut_buf_free(&o);
    td_map_free(m);
    free(b);
}

/* Heap in use stays flat however many footprints come (glibc's count; under ASan it reads
 * 0 and the check holds trivially: the plain build is the one that measures). */
static size_t heap_used(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void add_random(td_map *m, int n) {
    for (int i = 0; i < n; i++) {
        wkb w = {.le = 1};
        double x = -180 + 357 * rnd(), y = -85 + 170 * rnd();
        box(&w, x, y, x + 0.1 + 2 * rnd(), y + 0.1 + 2 * rnd());
        CHECK(td_map_add_wkb(m, w.b, w.n) == 0);
    }
}

static void test_memory(void) {
    td_test_context = "memory";
    /* outlines: at most the path budget, whatever max_shapes says */
    size_t h0 = heap_used();
    td_map *m = new_map((size_t)1 << 30);
    add_random(m, 20000);
    size_t dr, gr, sk;
    td_map_counts(m, &dr, &gr, &sk);
    size_t h1 = heap_used();
    CHECK(h1 < h0 + (2u << 20), "outline mode: %zu bytes more heap", h1 - h0);
    td_map_free(m);
    /* grid: flat from the switch on */
    m = new_map(100);
    add_random(m, 1000);
    size_t g0 = heap_used();
    add_random(m, 100000);
    size_t g1 = heap_used();
    CHECK(g1 <= g0 + 4096, "grid mode: heap %zu -> %zu after 100000 more", g0, g1);
    fprintf(stderr, "heap: outlines %zu KiB over the start (drawn %zu), grid %zu -> %zu KiB\n",
            (h1 - h0) >> 10, dr, g0 >> 10, g1 >> 10);
    td_map_free(m);
}

static void test_options(void) {
    td_test_context = "options";
    char msg[256] = "";
    td_map *m = NULL;
    td_map_options bad = {-1, 0, 0};
    CHECK(td_map_new(&m, &bad, msg, sizeof msg) < 0 && m == NULL && msg[0]);
    td_map_options sq = {400, 400, 0};
    REQUIRE(td_map_new(&m, &sq, msg, sizeof msg) == 0, "%s", msg);
    ut_buf b = {0};
    char *svg = render(m, &b);
    CHECK(strstr(svg, "viewBox=\"0 0 400 400\""));
    /* a full output buffer is an error, not a truncated page */
    ut_buf small = {.limit = 100};
    CHECK(td_map_svg(m, &small, msg, sizeof msg) < 0 && msg[0]);
    ut_buf_free(&small);
    ut_buf_free(&b);
    td_map_free(m);
    td_map_free(NULL);
}

int main(int argc, char **argv) {
    out_dir = argc > 1 ? argv[1] : NULL;
    test_hostile();
    test_shapes();
    test_polar_antimeridian();
    test_grid();
    test_bounds();
    test_zigzag();
    test_memory();
    test_options();
    return td_test_report(argv[0]);
}
