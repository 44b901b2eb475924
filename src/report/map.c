/* map.c - footprints (or their density) on a world outline, as SVG. See map.h.
 *
 * Every point, footprint or outline, goes the same way: edges densified in lon/lat (planar
 * edges, GeoParquet's default), a batch of CHUNK points through PROJ (CRS84 -> Equal Earth),
 * scaled to pixels, quantised to 0.1 px and simplified (a point is dropped while every dropped
 * point since the last one written stays within 0.3 px of the chord), then written as relative
 * SVG path data. Rings that src/geo split at the antimeridian end on x = +-180, which the
 * projection puts on the map's left and right edges; a ring closed over a pole runs along
 * latitude +-90, the projection's pole line: no segment crosses the map.
 *
 * A WKB geometry is checked whole before anything of it is drawn or counted, so a bad one
 * leaves no trace but the skipped count. */
#include "map.h"

#include <math.h>
#include <proj.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* data/world/land.txt, compiled in (world_land.c, made by CMake); NUL-terminated */
extern const char td_world_land[];
extern const size_t td_world_land_len;

#define DENSIFY_DEG 2.0       /* longest edge in lon/lat before projection */
#define CHUNK 512             /* points per PROJ call */
#define MAX_POINTS (1u << 20) /* vertices of one geometry */
#define PEND_MAX 32           /* points a simplified stretch may drop */
#define SIMPLIFY_TENTHS 3.0   /* 0.3 px, in the quantised unit (0.1 px) */
#define GRID_W (360 / TD_MAP_GRID_DEG)
#define GRID_H (180 / TD_MAP_GRID_DEG)
#define PAD 4.0 /* px around the sphere (its outline's stroke) */
#define NCLASS 5
#define EPS_DEG 1e-9

typedef struct qpt {
    int32_t x, y; /* tenths of a pixel */
} qpt;

/* One SVG path being written: subpaths of quantised, simplified points. */
typedef struct pathw {
    ut_buf *out;
    bool open;     /* a subpath is started */
    bool need_sep; /* the next non-negative number needs a space before it */
    bool need_l;   /* the subpath's first relative point needs its 'l' */
    bool whole;    /* quantise to whole pixels (grid cells: shorter numbers) */
    qpt k;         /* last point written */
    qpt pend[PEND_MAX];
    int npend; /* points since k not written; the last is the candidate end */
} pathw;

typedef struct ring_ref { /* a validated WKB ring */
    const uint8_t *p;     /* first coordinate */
    uint32_t n;
    bool le;
    bool hole; /* not its polygon's first ring */
} ring_ref;

struct td_map {
    PJ_CONTEXT *ctx;
    PJ *op; /* OGC:CRS84 -> Equal Earth, lon/lat order in, easting/northing out */
    int w, h;
    double xmin, ymax, scale, ox, oy; /* projected -> px: ox + (X - xmin) * scale */
    size_t max_shapes;
    size_t n_ok, n_skipped;
    bool grid_mode;
    ut_buf fp;       /* path data of the footprints drawn (limit: TD_MAP_PATH_BUDGET) */
    uint32_t *grid;  /* GRID_H rows from the south, GRID_W columns from -180 */
    uint32_t *seen;  /* per cell: the geometry number that last counted it */
    uint32_t serial; /* geometries counted in the grid, for `seen` */
    ring_ref *rings; /* scratch: rings of the current geometry */
    size_t rings_cap;
    double *xs; /* scratch: crossings of one grid row */
    size_t xs_cap;
    double ll[2 * CHUNK]; /* lon/lat batch for PROJ */
    int nll;
    pathw *pw; /* where the projected batch goes */
};

/* ---- numbers and path data ---- */

static void put_num(pathw *w, int32_t v) {
    char s[24];
    int n = 0;
    if (v < 0)
        s[n++] = '-';
    else if (w->need_sep)
        s[n++] = ' ';
    uint32_t a = v < 0 ? (uint32_t)(-(int64_t)v) : (uint32_t)v;
    n += snprintf(s + n, sizeof s - (size_t)n, "%u", a / 10);
    if (a % 10) {
        s[n++] = '.';
        s[n++] = (char)('0' + a % 10);
    }
    ut_buf_put(w->out, s, (size_t)n);
    w->need_sep = true;
}

static void write_pt(pathw *w, qpt q) {
    if (w->need_l) { /* not at M: a lineto without coordinates is a path error */
        ut_buf_putc(w->out, 'l');
        w->need_sep = false;
        w->need_l = false;
    }
    put_num(w, q.x - w->k.x);
    put_num(w, q.y - w->k.y);
    w->k = q;
}

static double seg_dist2(qpt a, qpt b, qpt p) {
    double dx = b.x - a.x, dy = b.y - a.y, px = p.x - a.x, py = p.y - a.y;
    double l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? (px * dx + py * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double ex = px - t * dx, ey = py - t * dy;
    return ex * ex + ey * ey;
}

static void pw_add(pathw *w, qpt q) {
    if (!w->open) {
        ut_buf_putc(w->out, 'M');
        w->need_sep = false;
        w->k = (qpt){0, 0};
        w->need_l = false;
        write_pt(w, q); /* absolute: relative to 0,0 */
        w->need_l = true;
        w->open = true;
        w->npend = 0;
        return;
    }
    qpt last = w->npend ? w->pend[w->npend - 1] : w->k;
    if (q.x == last.x && q.y == last.y)
        return;
    if (w->npend == 0) {
        w->pend[w->npend++] = q;
        return;
    }
    bool near = w->npend < PEND_MAX;
    for (int i = 0; near && i < w->npend; i++)
        near = seg_dist2(w->k, q, w->pend[i]) <= SIMPLIFY_TENTHS * SIMPLIFY_TENTHS;
    if (near) {
        w->pend[w->npend++] = q;
        return;
    }
    write_pt(w, w->pend[w->npend - 1]);
    w->npend = 0;
    w->pend[w->npend++] = q;
}

static void pw_end(pathw *w, bool close) {
    if (!w->open)
        return;
    if (w->npend)
        write_pt(w, w->pend[w->npend - 1]);
    if (close)
        ut_buf_putc(w->out, 'z');
    w->open = false;
    w->npend = 0;
}

/* ---- projection ---- */

static void flush_ll(td_map *m) {
    int n = m->nll;
    m->nll = 0;
    if (n == 0)
        return;
    proj_trans_generic(m->op, PJ_FWD, &m->ll[0], 2 * sizeof(double), (size_t)n, &m->ll[1],
                       2 * sizeof(double), (size_t)n, NULL, 0, 0, NULL, 0, 0);
    for (int i = 0; i < n; i++) {
        double X = m->ll[2 * i], Y = m->ll[2 * i + 1];
        if (!isfinite(X) || !isfinite(Y) || fabs(X) > 1e8 || fabs(Y) > 1e8)
            continue; /* PROJ could not transform it (not for lon/lat in range) */
        double px = m->ox + (X - m->xmin) * m->scale, py = m->oy + (m->ymax - Y) * m->scale;
        if (m->pw->whole)
            pw_add(m->pw, (qpt){(int32_t)lround(px) * 10, (int32_t)lround(py) * 10});
        else
            pw_add(m->pw, (qpt){(int32_t)lround(px * 10), (int32_t)lround(py * 10)});
    }
}

static void feed(td_map *m, double lon, double lat) {
    m->ll[2 * m->nll] = lon;
    m->ll[2 * m->nll + 1] = lat;
    if (++m->nll == CHUNK)
        flush_ll(m);
}

/* Start of the edge a -> b and the points that split it into steps of at most DENSIFY_DEG
 * (b itself is the next edge's start). */
static void feed_edge(td_map *m, double ax, double ay, double bx, double by) {
    double span = fmax(fabs(bx - ax), fabs(by - ay));
    int k = span > DENSIFY_DEG ? (int)ceil(span / DENSIFY_DEG) : 1;
    feed(m, ax, ay);
    for (int i = 1; i < k; i++) {
        double t = (double)i / k;
        feed(m, ax + t * (bx - ax), ay + t * (by - ay));
    }
}

typedef void (*get_fn)(const void *src, size_t i, double *x, double *y);

/* A ring (closed or not) or a line as one subpath of w; rev: backwards. */
static void draw_ring(td_map *m, pathw *w, get_fn get, const void *src, size_t n, bool ring,
                      bool rev) {
    if (n == 0)
        return;
    double x0, y0, xl, yl;
    get(src, 0, &x0, &y0);
    get(src, n - 1, &xl, &yl);
    if (ring && n > 1 && x0 == xl && y0 == yl)
        n--; /* WKB rings repeat the first point */
    if (rev)
        get(src, n - 1, &x0, &y0);
    m->pw = w;
    double ax = x0, ay = y0;
    for (size_t i = 1; i < n && !w->out->bad; i++) { /* past the budget: no point going on */
        double bx, by;
        get(src, rev ? n - 1 - i : i, &bx, &by);
        feed_edge(m, ax, ay, bx, by);
        ax = bx, ay = by;
    }
    if (ring)
        feed_edge(m, ax, ay, x0, y0);
    else
        feed(m, ax, ay);
    flush_ll(m);
    pw_end(w, ring);
}

static void get_dbl(const void *src, size_t i, double *x, double *y) {
    const double *d = src;
    *x = d[2 * i], *y = d[2 * i + 1];
}

/* ---- WKB ---- */

static uint32_t rd_u32(const uint8_t *p, bool le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static bool host_le(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* a memcpy and, for the other byte order, a swap: the reader's inner loop (a footprint's
 * coordinates are read twice, for the checks and for the grid) */
static double rd_f64(const uint8_t *p, bool le) {
    uint64_t u;
    memcpy(&u, p, sizeof u);
    if (le != host_le()) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v |= ((u >> (8 * i)) & 0xff) << (8 * (7 - i));
        u = v;
    }
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* A coordinate of a validated ring, clamped to the globe: PROJ would wrap a longitude a hair
 * past 180 (within EPS_DEG, accepted) to the other side of the map. */
static void get_wkb(const void *src, size_t i, double *x, double *y) {
    const ring_ref *r = src;
    double lon = rd_f64(r->p + 16 * i, r->le), lat = rd_f64(r->p + 16 * i + 8, r->le);
    *x = lon < -180 ? -180 : lon > 180 ? 180 : lon;
    *y = lat < -90 ? -90 : lat > 90 ? 90 : lat;
}

/* Twice the signed area in lon/lat (shoelace): > 0 counterclockwise. */
static double ring_area2(const ring_ref *g) {
    double a = 0, ax, ay;
    get_wkb(g, g->n - 1, &ax, &ay);
    for (uint32_t i = 0; i < g->n; i++) {
        double bx, by;
        get_wkb(g, i, &bx, &by);
        a += ax * by - bx * ay;
        ax = bx, ay = by;
    }
    return a;
}

typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    size_t npts, nrings;
    double ymin, ymax;
} rd;

static int add_ring_ref(td_map *m, rd *r, const uint8_t *p, uint32_t n, bool le, bool hole) {
    if (r->nrings == m->rings_cap) {
        size_t cap = m->rings_cap ? 2 * m->rings_cap : 16;
        ring_ref *t = realloc(m->rings, cap * sizeof *t);
        if (!t)
            return -2;
        m->rings = t, m->rings_cap = cap;
    }
    m->rings[r->nrings++] = (ring_ref){p, n, le, hole};
    return 0;
}

/* One Polygon at r->off: header, rings, coordinates all checked. */
static int read_polygon(td_map *m, rd *r) {
    if (r->len - r->off < 9)
        return -1;
    const uint8_t *p = r->p + r->off;
    if (p[0] > 1)
        return -1;
    bool le = p[0] == 1;
    if (rd_u32(p + 1, le) != 3)
        return -1;
    uint32_t nr = rd_u32(p + 5, le);
    r->off += 9;
    if (nr == 0 || nr > (r->len - r->off) / 4)
        return -1;
    for (uint32_t i = 0; i < nr; i++) {
        if (r->len - r->off < 4)
            return -1;
        uint32_t n = rd_u32(r->p + r->off, le);
        r->off += 4;
        if (n < 3 || n > (r->len - r->off) / 16 || n > MAX_POINTS - r->npts)
            return -1;
        const uint8_t *c = r->p + r->off;
        for (uint32_t j = 0; j < n; j++) {
            double x = rd_f64(c + 16 * j, le), y = rd_f64(c + 16 * j + 8, le);
            if (!(x >= -180 - EPS_DEG && x <= 180 + EPS_DEG && y >= -90 - EPS_DEG &&
                  y <= 90 + EPS_DEG))
                return -1;                       /* NaN fails every comparison */
            r->ymin = y < r->ymin ? y : r->ymin; /* not fmin: a call each in the hot loop */
            r->ymax = y > r->ymax ? y : r->ymax;
        }
        int rc = add_ring_ref(m, r, c, n, le, i > 0);
        if (rc)
            return rc;
        r->npts += n;
        r->off += 16 * (size_t)n;
    }
    return 0;
}

static int read_geometry(td_map *m, rd *r) {
    if (r->len < 9 || r->p[0] > 1)
        return -1;
    bool le = r->p[0] == 1;
    uint32_t type = rd_u32(r->p + 1, le);
    int rc;
    if (type == 3) {
        rc = read_polygon(m, r);
    } else if (type == 6) {
        uint32_t np = rd_u32(r->p + 5, le);
        r->off = 9;
        if (np == 0 || np > (r->len - r->off) / 13)
            return -1;
        rc = 0;
        for (uint32_t i = 0; i < np && rc == 0; i++)
            rc = read_polygon(m, r);
    } else {
        return -1;
    }
    if (rc == 0 && r->off != r->len)
        rc = -1; /* trailing bytes: not the geometry we think */
    return rc;
}

/* ---- density grid ---- */

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void count_cell(td_map *m, int row, int col) {
    uint32_t *c = &m->grid[(size_t)row * GRID_W + (size_t)col];
    uint32_t *s = &m->seen[(size_t)row * GRID_W + (size_t)col];
    if (*s == m->serial)
        return;
    *s = m->serial;
    if (*c < UINT32_MAX)
        (*c)++;
}

/* Counts the geometry's rings (even-odd over all of them: split parts do not overlap) in
 * the cells whose centre they cover; a footprint that covers no centre counts where its
 * first vertex is. */
static int grid_add(td_map *m, const rd *r) {
    if (++m->serial == 0) { /* wrapped: forget the marks */
        memset(m->seen, 0, sizeof(uint32_t) * GRID_W * GRID_H);
        m->serial = 1;
    }
    if (r->npts > m->xs_cap) {
        double *t = realloc(m->xs, r->npts * sizeof *t);
        if (!t)
            return -2;
        m->xs = t, m->xs_cap = r->npts;
    }
    const double D = TD_MAP_GRID_DEG;
    int r0 = (int)ceil((r->ymin + 90) / D - 0.5), r1 = (int)floor((r->ymax + 90) / D - 0.5);
    r0 = r0 < 0 ? 0 : r0;
    r1 = r1 > GRID_H - 1 ? GRID_H - 1 : r1;
    bool any = false;
    for (int row = r0; row <= r1; row++) {
        double c = -90 + (row + 0.5) * D;
        size_t nx = 0;
        for (size_t k = 0; k < r->nrings; k++) {
            const ring_ref *g = &m->rings[k];
            double ax, ay;
            get_wkb(g, g->n - 1, &ax, &ay);
            for (uint32_t i = 0; i < g->n; i++) {
                double bx, by;
                get_wkb(g, i, &bx, &by);
                if ((ay > c) != (by > c))
                    m->xs[nx++] = ax + (c - ay) * (bx - ax) / (by - ay);
                ax = bx, ay = by;
            }
        }
        qsort(m->xs, nx, sizeof *m->xs, cmp_dbl);
        for (size_t i = 0; i + 1 < nx; i += 2) {
            int c0 = (int)ceil((m->xs[i] + 180) / D - 0.5);
            int c1 = (int)floor((m->xs[i + 1] + 180) / D - 0.5);
            c0 = c0 < 0 ? 0 : c0;
            c1 = c1 > GRID_W - 1 ? GRID_W - 1 : c1;
            for (int col = c0; col <= c1; col++) {
                count_cell(m, row, col);
                any = true;
            }
        }
    }
    if (!any) {
        double x, y;
        get_wkb(&m->rings[0], 0, &x, &y);
        int col = (int)floor((x + 180) / D), row = (int)floor((y + 90) / D);
        count_cell(m,
                   row < 0            ? 0
                   : row > GRID_H - 1 ? GRID_H - 1
                                      : row,
                   col < 0            ? 0
                   : col > GRID_W - 1 ? GRID_W - 1
                                      : col);
    }
    return 0;
}

/* ---- the map ---- */

static void set_msg(char *msg, size_t cap, const char *s) {
    if (msg && cap)
        snprintf(msg, cap, "%s", s);
}

static void quiet_log(void *data, int level, const char *text) {
    (void)data, (void)level, (void)text; /* library code never prints; errors come back */
}

static bool fwd(td_map *m, double lon, double lat, double *x, double *y) {
    PJ_COORD c = proj_coord(lon, lat, 0, 0);
    c = proj_trans(m->op, PJ_FWD, c);
    *x = c.xy.x, *y = c.xy.y;
    return isfinite(*x) && isfinite(*y);
}

int td_map_new(td_map **out, const td_map_options *opt, char *msg, size_t cap) {
    *out = NULL;
    td_map_options o = opt ? *opt : (td_map_options){0};
    if (o.width_px < 0 || o.height_px < 0 || o.width_px > 8192 || o.height_px > 8192 ||
        (o.width_px && o.width_px < 64) || (o.height_px && o.height_px < 32)) {
        set_msg(msg, cap, "map size must be 64..8192 x 32..8192 px");
        return -1;
    }
    td_map *m = calloc(1, sizeof *m);
    if (!m) {
        set_msg(msg, cap, "out of memory");
        return -1;
    }
    m->max_shapes = o.max_shapes ? o.max_shapes : TD_MAP_MAX_SHAPES;
    m->fp.limit = TD_MAP_PATH_BUDGET;
    m->grid = calloc((size_t)GRID_W * GRID_H, sizeof *m->grid);
    m->seen = calloc((size_t)GRID_W * GRID_H, sizeof *m->seen);
    m->ctx = proj_context_create();
    if (!m->grid || !m->seen || !m->ctx) {
        set_msg(msg, cap, "out of memory");
        td_map_free(m);
        return -1;
    }
    proj_log_func(m->ctx, NULL, quiet_log);
    proj_context_set_enable_network(m->ctx, 0);
    PJ *op = proj_create_crs_to_crs(m->ctx, "OGC:CRS84",
                                    "+proj=eqearth +datum=WGS84 +units=m +no_defs +type=crs", NULL);
    if (op) {
        m->op = proj_normalize_for_visualization(m->ctx, op);
        proj_destroy(op);
    }
    double xw, xe, yn, ys, t;
    if (!m->op || !fwd(m, -180, 0, &xw, &t) || !fwd(m, 180, 0, &xe, &t) ||
        !fwd(m, 0, 90, &t, &yn) || !fwd(m, 0, -90, &t, &ys) || !(xe > xw) || !(yn > ys)) {
        char b[200];
        snprintf(b, sizeof b, "PROJ cannot make the Equal Earth projection: %s",
                 proj_context_errno_string(m->ctx, proj_context_errno(m->ctx)));
        set_msg(msg, cap, b);
        td_map_free(m);
        return -1;
    }
    double W = xe - xw, H = yn - ys;
    int w = o.width_px, h = o.height_px;
    if (!w && !h)
        w = 960;
    if (w && h)
        m->scale = fmin((w - 2 * PAD) / W, (h - 2 * PAD) / H);
    else if (w)
        m->scale = (w - 2 * PAD) / W, h = (int)ceil(H * m->scale + 2 * PAD);
    else
        m->scale = (h - 2 * PAD) / H, w = (int)ceil(W * m->scale + 2 * PAD);
    m->w = w, m->h = h;
    m->xmin = xw, m->ymax = yn;
    m->ox = (w - W * m->scale) / 2, m->oy = (h - H * m->scale) / 2;
    *out = m;
    return 0;
}

static void to_grid_mode(td_map *m) {
    m->grid_mode = true;
    ut_buf_free(&m->fp);
}

int td_map_add_wkb(td_map *m, const uint8_t *wkb, size_t len) {
    rd r = {.p = wkb, .len = wkb ? len : 0, .ymin = INFINITY, .ymax = -INFINITY};
    int rc = read_geometry(m, &r);
    if (rc == 0)
        rc = grid_add(m, &r);
    if (rc) {
        m->n_skipped++;
        return rc;
    }
    m->n_ok++;
    if (!m->grid_mode && m->n_ok > m->max_shapes)
        to_grid_mode(m);
    if (!m->grid_mode) {
        pathw w = {.out = &m->fp};
        for (size_t k = 0; k < r.nrings && !m->fp.bad; k++) {
            /* exteriors counterclockwise, holes clockwise (in lon/lat), whatever the input:
             * the footprints are one path filled nonzero, so overlaps stay filled */
            const ring_ref *g = &m->rings[k];
            bool ccw = ring_area2(g) > 0;
            draw_ring(m, &w, get_wkb, g, g->n, true, ccw == g->hole);
        }
        if (m->fp.bad)
            to_grid_mode(m); /* past the byte budget: a grid is smaller */
    }
    return 0;
}

void td_map_counts(const td_map *m, size_t *drawn, size_t *gridded, size_t *skipped) {
    if (drawn)
        *drawn = m->grid_mode ? 0 : m->n_ok;
    if (gridded)
        *gridded = m->grid_mode ? m->n_ok : 0;
    if (skipped)
        *skipped = m->n_skipped;
}

/* The sphere's outline, as a lon/lat ring: the meridians +-180 and the pole lines. */
static void draw_sphere(td_map *m, pathw *w) {
    static const double s[] = {-180, -90, 180, -90, 180, 90, -180, 90};
    draw_ring(m, w, get_dbl, s, 4, true, false);
}

static void draw_graticule(td_map *m, pathw *w) {
    for (int lon = -150; lon <= 150; lon += 30) {
        const double l[] = {lon, -90, lon, 90};
        draw_ring(m, w, get_dbl, l, 2, false, false);
    }
    for (int lat = -60; lat <= 60; lat += 30) {
        const double l[] = {-180, lat, 180, lat};
        draw_ring(m, w, get_dbl, l, 2, false, false);
    }
}

/* data/world/land.txt: "P" lines start polygons, the other lines are rings of integer
 * lon lat pairs in tenths of a degree. The text is ours and compiled in; parsing is still
 * bounded by its length. */
static int draw_land(td_map *m, pathw *w) {
    const char *s = td_world_land, *end = td_world_land + td_world_land_len;
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        if (!eol)
            eol = end;
        if (*s != '#' && *s != 'P') {
            size_t cap = 1;
            for (const char *q = s; q < eol; q++)
                cap += *q == ' ';
            double *ring = malloc(cap * sizeof *ring);
            if (!ring)
                return -1;
            size_t n = 0;
            const char *q = s;
            while (q < eol && n < cap) {
                char *e;
                long v = strtol(q, &e, 10);
                if (e == q || e > eol)
                    break;
                ring[n++] = v / 10.0;
                q = e;
            }
            draw_ring(m, w, get_dbl, ring, n / 2, true, false);
            free(ring);
        }
        s = eol + 1;
    }
    return 0;
}

static const char *const class_fill[NCLASS] = {"#fed976", "#feb24c", "#fd8d3c", "#e8452c",
                                               "#b10026"};

/* Upper bounds of the colour classes: log-spaced from 1 to the largest count. */
static int classes(uint32_t max, uint32_t ub[NCLASS]) {
    int n = 0;
    uint32_t prev = 0;
    for (int k = 1; k <= NCLASS && prev < max; k++) {
        double b = k == NCLASS ? max : round(exp(log((double)max) * k / NCLASS));
        uint32_t u = b > max ? max : (uint32_t)b;
        if (u <= prev)
            continue;
        ub[n++] = u;
        prev = u;
    }
    return n;
}

static void draw_grid(td_map *m, ut_buf *out, uint32_t *ub, int *nclass) {
    uint32_t max = 0;
    for (size_t i = 0; i < (size_t)GRID_W * GRID_H; i++)
        max = m->grid[i] > max ? m->grid[i] : max;
    *nclass = max ? classes(max, ub) : 0;
    const double D = TD_MAP_GRID_DEG;
    for (int k = 0; k < *nclass; k++) {
        ut_buf_printf(out, "<path class=\"td-map-cell\" fill=\"%s\" fill-opacity=\"0.85\" d=\"",
                      class_fill[k]);
        /* whole pixels: the cells still tile (shared corners round alike) and the largest
         * grid (every cell, alternating colours) stays near 350 KiB */
        pathw w = {.out = out, .whole = true};
        for (int row = 0; row < GRID_H; row++) {
            for (int col = 0; col < GRID_W;) {
                uint32_t c = m->grid[(size_t)row * GRID_W + (size_t)col];
                int cls = 0;
                while (cls < *nclass - 1 && c > ub[cls])
                    cls++;
                if (c == 0 || cls != k) {
                    col++;
                    continue;
                }
                int c1 = col;
                for (;;) { /* a run of cells of this class: one quadrilateral */
                    if (c1 + 1 >= GRID_W)
                        break;
                    uint32_t c2 = m->grid[(size_t)row * GRID_W + (size_t)c1 + 1];
                    int cl2 = 0;
                    while (cl2 < *nclass - 1 && c2 > ub[cl2])
                        cl2++;
                    if (c2 == 0 || cl2 != k)
                        break;
                    c1++;
                }
                double x0 = -180 + col * D, x1 = -180 + (c1 + 1) * D;
                double y0 = -90 + row * D, y1 = y0 + D;
                const double q[] = {x0, y0, x1, y0, x1, y1, x0, y1};
                draw_ring(m, &w, get_dbl, q, 4, true, false);
                col = c1 + 1;
            }
        }
        ut_buf_puts(out, "\"/>\n");
    }
}

int td_map_svg(td_map *m, ut_buf *out, char *msg, size_t cap) {
    bool grid = m->grid_mode;
    ut_buf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"td-map\" "
                  "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                  "style=\"max-width:100%%;height:auto\" "
                  "aria-labelledby=\"td-map-title td-map-desc\" "
                  "font-family=\"sans-serif\" font-size=\"11\">\n",
                  m->w, m->h, m->w, m->h);
    if (grid)
        ut_buf_printf(out, "<title id=\"td-map-title\">Footprint density of %zu files</title>\n",
                      m->n_ok);
    else
        ut_buf_printf(out, "<title id=\"td-map-title\">Footprints of %zu files</title>\n", m->n_ok);
    ut_buf_puts(out, "<desc id=\"td-map-desc\">");
    if (grid)
        ut_buf_printf(out,
                      "Too many footprints to draw: each %d by %d degree cell is coloured by "
                      "how many footprints cover its centre (darker is more; a footprint "
                      "smaller than a cell counts where its first corner is).",
                      TD_MAP_GRID_DEG, TD_MAP_GRID_DEG);
    else if (m->n_ok)
        ut_buf_puts(out, "The footprint of each file, outlined in orange.");
    else
        ut_buf_puts(out, "No file has a footprint.");
    ut_buf_printf(out,
                  " %zu geometries could not be read. Equal Earth projection, "
                  "graticule every 30 degrees, land from Natural Earth.</desc>\n",
                  m->n_skipped);

    pathw w = {.out = out};
    ut_buf_puts(out, "<path class=\"td-map-sphere\" fill=\"#eef4f9\" stroke=\"#7d8fa0\" "
                     "stroke-width=\"0.8\" d=\"");
    draw_sphere(m, &w);
    ut_buf_puts(out, "\"/>\n<path class=\"td-map-graticule\" fill=\"none\" stroke=\"#c9d6e1\" "
                     "stroke-width=\"0.5\" d=\"");
    draw_graticule(m, &w);
    ut_buf_puts(out, "\"/>\n<path class=\"td-map-land\" fill=\"#dedad0\" stroke=\"#a8a294\" "
                     "stroke-width=\"0.4\" "
                     "fill-rule=\"evenodd\" d=\"");
    bool oom = draw_land(m, &w) != 0;
    ut_buf_puts(out, "\"/>\n");

    if (grid) {
        uint32_t ub[NCLASS];
        int nc;
        draw_grid(m, out, ub, &nc);
        /* the coasts again over the cells, so that the grid can be placed */
        ut_buf_puts(out, "<path class=\"td-map-coast\" fill=\"none\" stroke=\"#5f5a50\" "
                         "stroke-opacity=\"0.7\" stroke-width=\"0.4\" d=\"");
        oom |= draw_land(m, &w) != 0;
        ut_buf_puts(out, "\"/>\n");
        /* legend in the lower left corner, mostly outside the sphere; a backdrop keeps it
         * readable where cells lie beneath */
        double x = 8, y = m->h - 8 - 14.0 * nc;
        ut_buf_printf(out,
                      "<g class=\"td-map-legend\"><rect x=\"%.0f\" y=\"%.0f\" width=\"112\" "
                      "height=\"%.0f\" fill=\"#fff\" fill-opacity=\"0.8\" rx=\"3\"/>"
                      "<text x=\"%.0f\" y=\"%.0f\">footprints per cell</text>\n",
                      x - 4, y - 17, 14.0 * nc + 21, x, y - 4);
        uint32_t lo = 1;
        for (int k = 0; k < nc; k++) {
            ut_buf_printf(out,
                          "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"10\" fill=\"%s\"/>"
                          "<text x=\"%.0f\" y=\"%.0f\">",
                          x, y + 14.0 * k, class_fill[k], x + 16, y + 14.0 * k + 9);
            if (lo == ub[k])
                ut_buf_printf(out, "%u</text>\n", (unsigned)lo);
            else
                ut_buf_printf(out, "%u\xe2\x80\x93%u</text>\n", (unsigned)lo, (unsigned)ub[k]);
            lo = ub[k] + 1;
        }
        ut_buf_puts(out, "</g>\n");
    } else if (m->n_ok && m->fp.len) {
        ut_buf_puts(
            out,
            "<path class=\"td-map-fp\" fill=\"#e8590c\" fill-opacity=\"0.18\" stroke=\"#c2410c\" "
            "stroke-width=\"0.7\" stroke-linejoin=\"round\" "
            "stroke-linecap=\"round\" d=\"");
        ut_buf_put(out, m->fp.p, m->fp.len);
        ut_buf_puts(out, "\"/>\n");
    }
    ut_buf_printf(out,
                  "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#6b7785\" "
                  "font-size=\"9\">Land: Natural Earth</text>\n</svg>\n",
                  m->w - 6, m->h - 6);
    if (out->bad || oom) {
        set_msg(msg, cap, oom ? "out of memory" : "map SVG: output buffer full");
        return -1;
    }
    return 0;
}

void td_map_free(td_map *m) {
    if (!m)
        return;
    proj_destroy(m->op);
    if (m->ctx)
        proj_context_destroy(m->ctx);
    ut_buf_free(&m->fp);
    free(m->grid);
    free(m->seen);
    free(m->rings);
    free(m->xs);
    free(m);
}
