/* geo.c - the context (PROJ context, CRS cache), the affine transform, the footprint.
 *
 * The footprint is the outline of the raster (pixel corners (0,0) .. (W,H)) taken through
 * the affine transform and PROJ to OGC:CRS84. Each edge is bisected while the transformed
 * midpoint is more than half a pixel away from the straight lon/lat segment (at least 4,
 * at most 128 segments an edge): a UTM tile needs few points, a polar grid many. The
 * polygon is then laid out in planar lon/lat the way GeoJSON / GeoParquet readers expect:
 *   - longitudes are unwrapped along the ring; a ring that winds once around the globe
 *     must enclose a pole, and does only when the pole (transformed back into pixel space)
 *     lies inside the raster: then the polygon is closed along the pole's latitude;
 *   - a ring that goes past 180 degrees is cut there into a MultiPolygon (RFC 7946 3.1.9);
 *   - the exterior ring is counterclockwise.
 * A winding that does not match the pole test, or any point PROJ cannot transform, means
 * no footprint and a warning. */
#include "geo_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_MAX 64 /* CRSs kept per context; a bucket rarely has more */
#define MIN_DEPTH                                                                \
    1               /* bisections always made: >= 4 segments an edge, so that an \
                       unwrapped step stays under 180 degrees even for a global grid */
#define MAX_DEPTH 6 /* at most 128 segments an edge */
#define RING_MAX (4 * 128 + 16)

typedef struct crs_entry {
    char *key;
    uint64_t gen; /* fill count: a footprint memo entry of an evicted CRS never matches */
    PJ *to84;     /* native (GIS axis order) -> OGC:CRS84; NULL = unusable, see warning */
    char code[32];
    char *wkt2, *projjson;
    char *warning;
} crs_entry;

typedef struct pt {
    double x, y;
} pt;

/* A footprint computed before, by CRS and outline (the 4 corners in the native CRS): the
 * bands (10/20/60 m), overviews and acquisition dates of a tile grid have the same outline,
 * and a bucket holds many of each, so most headers cost a hash lookup, not ~40 PROJ
 * transforms. Direct-mapped; a colliding outline replaces the entry. The densification of
 * the first raster of an outline serves the others (a 60 m band computed first gives the
 * 10 m band an outline within 30 m). */
#define MEMO_SLOTS 256
typedef struct memo {
    const crs_entry *crs;
    uint64_t gen;
    double corners[8];
    uint8_t *wkb;
    size_t wkb_len, cap;
    bool multi;
    double bbox[4];
} memo;

struct td_geo_ctx {
    PJ_CONTEXT *pj;
    PJ *crs84;
    crs_entry cache[CACHE_MAX];
    int n_cache, next_evict;
    uint64_t gen;
    memo memo[MEMO_SLOTS];
    char warn[256], warning[300];
    /* per compute */
    pt ring[RING_MAX + 8];
    int n_ring;
    pt part[2][2 * RING_MAX + 16];
    int n_part[2];
    uint8_t *wkb;
    size_t wkb_cap;
    PJ *cur; /* transformation of the current compute */
    double tol;
    bool fail;
};

static void quiet_log(void *ud, int level, const char *msg) {
    (void)ud, (void)level, (void)msg; /* a library does not print; failures are returned */
}

int td_geo_ctx_new(td_geo_ctx **out, char *err, size_t errlen) {
    *out = NULL;
    td_geo_ctx *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->pj = proj_context_create();
    if (!g->pj) {
        free(g);
        snprintf(err, errlen, "cannot create a PROJ context");
        return -1;
    }
    proj_log_func(g->pj, NULL, quiet_log);
    /* no grid downloads from a header dump: footprints do not need sub-metre datum shifts */
    proj_context_set_enable_network(g->pj, 0);
    g->crs84 = proj_create(g->pj, "OGC:CRS84");
    if (!g->crs84) {
        snprintf(err, errlen,
                 "PROJ cannot build OGC:CRS84 (is proj.db installed? Debian: "
                 "proj-data)");
        td_geo_ctx_free(g);
        return -1;
    }
    *out = g;
    return 0;
}

static void entry_free(crs_entry *e) {
    free(e->key);
    proj_destroy(e->to84);
    free(e->wkt2);
    free(e->projjson);
    free(e->warning);
    memset(e, 0, sizeof *e);
}

void td_geo_ctx_free(td_geo_ctx *g) {
    if (!g)
        return;
    for (int i = 0; i < g->n_cache; i++)
        entry_free(&g->cache[i]);
    for (int i = 0; i < MEMO_SLOTS; i++)
        free(g->memo[i].wkb);
    proj_destroy(g->crs84);
    proj_context_destroy(g->pj);
    free(g->wkb);
    free(g);
}

static char *dupn(const char *s) {
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static bool same_datum(td_geo_ctx *g, PJ *a, PJ *b) {
    PJ *da = proj_crs_get_datum_forced(g->pj, a), *db = proj_crs_get_datum_forced(g->pj, b);
    const char *ca = da ? proj_get_id_code(da, 0) : NULL, *cb = db ? proj_get_id_code(db, 0) : NULL;
    bool same = ca && cb && strcmp(ca, cb) == 0;
    proj_destroy(da);
    proj_destroy(db);
    return same;
}

/* Builds the cache entry of a CRS: the PROJ objects, its code or its WKT2 / PROJJSON. */
static int entry_fill(td_geo_ctx *g, crs_entry *e, const tiff_header *h) {
    char msg[200];
    PJ *crs = td__geo_crs_build(g->pj, h, e->code, sizeof e->code, msg, sizeof msg);
    if (crs && !e->code[0]) {
        /* a user-defined CRS that is an EPSG one in all but name gets its code */
        int *conf = NULL;
        PJ_OBJ_LIST *l = proj_identify(g->pj, crs, "EPSG", NULL, &conf);
        /* 100 = equivalent and same name; 70 = equivalent but for the name (ours are
           "unnamed"), taken only when both stand on the same EPSG datum (PROJ's
           equivalence alone also matches CRSs on other datums of the same ellipsoid).
           Deprecated codes are skipped: their replacement is another CRS. */
        for (int i = 0; l && conf && i < proj_list_get_count(l) && !e->code[0]; i++) {
            if (conf[i] < 70)
                break;
            PJ *m = proj_list_get(g->pj, l, i);
            const char *a = m ? proj_get_id_auth_name(m, 0) : NULL;
            const char *c = m ? proj_get_id_code(m, 0) : NULL;
            if (a && c && !proj_is_deprecated(m) && (conf[i] == 100 || same_datum(g, m, crs)))
                snprintf(e->code, sizeof e->code, "%s:%s", a, c);
            proj_destroy(m);
        }
        proj_int_list_destroy(conf);
        proj_list_destroy(l);
        if (!e->code[0]) {
            const char *opts[] = {"MULTILINE=NO", NULL};
            e->wkt2 = dupn(proj_as_wkt(g->pj, crs, PJ_WKT2_2019, opts));
            e->projjson = dupn(proj_as_projjson(g->pj, crs, opts));
        }
    }
    if (crs) {
        PJ *t = proj_create_crs_to_crs_from_pj(g->pj, crs, g->crs84, NULL, NULL);
        if (t) {
            e->to84 = proj_normalize_for_visualization(g->pj, t);
            proj_destroy(t);
        }
        if (!e->to84)
            snprintf(msg, sizeof msg, "PROJ finds no transformation from %s to OGC:CRS84",
                     e->code[0] ? e->code : "the user-defined CRS");
        proj_destroy(crs);
    }
    if (!e->to84) {
        e->warning = dupn(msg[0] ? msg : "CRS not supported");
        if (!e->warning)
            return -1;
    }
    return 0;
}

static crs_entry *crs_lookup(td_geo_ctx *g, const tiff_header *h) {
    char key[2048];
    int kl = td__geo_crs_key(h, key, sizeof key);
    if (kl < 0)
        return NULL;
    for (int i = 0; i < g->n_cache; i++)
        if (strcmp(g->cache[i].key, key) == 0)
            return &g->cache[i];
    crs_entry *e;
    if (g->n_cache < CACHE_MAX) {
        e = &g->cache[g->n_cache++];
    } else {
        e = &g->cache[g->next_evict];
        g->next_evict = (g->next_evict + 1) % CACHE_MAX;
        entry_free(e);
    }
    e->key = dupn(key);
    e->gen = ++g->gen;
    if (!e->key || entry_fill(g, e, h) != 0) {
        entry_free(e);
        /* keep the slot consistent: an empty key never matches */
        e->key = dupn("");
        e->warning = dupn("out of memory");
        return e->key && e->warning ? e : NULL;
    }
    return e;
}

/* ------------------------------------------------------------------ affine transform */

/* The affine transform from ModelTransformation, or ModelTiepoint + ModelPixelScale;
 * false when there is none (no tags, ground control points only, or degenerate). */
static bool affine(const tiff_header *h, double t[6], const char **why) {
    const tiff_value *mt = &h->field[TIFF_F_model_transformation];
    const tiff_value *tp = &h->field[TIFF_F_model_tiepoint];
    const tiff_value *ps = &h->field[TIFF_F_model_pixel_scale];
    *why = NULL;
    if (mt->present && mt->count >= 16) {
        const double *m = mt->u.dbls;
        t[0] = m[0], t[1] = m[1], t[2] = m[3];
        t[3] = m[4], t[4] = m[5], t[5] = m[7];
    } else if (tp->present && tp->count >= 6 && ps->present && ps->count >= 2) {
        /* the first tie point anchors the grid (GDAL does the same when there are more) */
        const double *p = tp->u.dbls, *s = ps->u.dbls;
        t[0] = s[0], t[1] = 0, t[2] = p[3] - p[0] * s[0];
        t[3] = 0, t[4] = -s[1], t[5] = p[4] + p[1] * s[1];
    } else {
        if (tp->present && tp->count >= 6)
            *why = "ModelTiepoint without ModelPixelScale (ground control points): no affine "
                   "transform";
        return false;
    }
    int64_t rt;
    if (h->has_geokeys && h->geokey[TIFF_G_raster_type].present &&
        (rt = h->geokey[TIFF_G_raster_type].u.i) == 2) {
        /* RasterPixelIsPoint: the model point is the pixel's centre; GDAL shifts the origin
         * by half a pixel to keep the transform about pixel corners */
        t[2] -= 0.5 * t[0] + 0.5 * t[1];
        t[5] -= 0.5 * t[3] + 0.5 * t[4];
    }
    for (int i = 0; i < 6; i++)
        if (!isfinite(t[i])) {
            *why = "affine transform is not finite";
            return false;
        }
    if (t[0] * t[4] - t[1] * t[3] == 0) {
        *why = "affine transform is degenerate (determinant 0)";
        return false;
    }
    return true;
}

static void apply(const double t[6], double col, double row, double *x, double *y) {
    *x = t[0] * col + t[1] * row + t[2];
    *y = t[3] * col + t[4] * row + t[5];
}

/* ------------------------------------------------------------------ footprint */

static bool to_ll(td_geo_ctx *g, const double t[6], double col, double row, pt *out) {
    double x, y;
    apply(t, col, row, &x, &y);
    PJ_COORD c = proj_trans(g->cur, PJ_FWD, proj_coord(x, y, 0, 0));
    /* a latitude past a pole is a grid that is not on the globe: no footprint, no clamp */
    if (!isfinite(c.xy.x) || !isfinite(c.xy.y) || fabs(c.xy.x) > 1e6 || fabs(c.xy.y) > 90 + 1e-9) {
        g->fail = true;
        return false;
    }
    out->x = c.xy.x;
    out->y = c.xy.y > 90 ? 90 : c.xy.y < -90 ? -90 : c.xy.y;
    return true;
}

static double wrap180(double d) {
    while (d > 180)
        d -= 360;
    while (d <= -180)
        d += 360;
    return d;
}

static void push(td_geo_ctx *g, pt p) {
    if (g->n_ring < RING_MAX)
        g->ring[g->n_ring++] = p;
    else
        g->fail = true;
}

/* Appends the points after a up to b of the edge (pixel coordinates pa -> pb). */
static void edge(td_geo_ctx *g, const double t[6], double ca, double ra, pt a, double cb, double rb,
                 pt b, int depth) {
    double cm = 0.5 * (ca + cb), rm = 0.5 * (ra + rb);
    pt m;
    if (g->fail || !to_ll(g, t, cm, rm, &m))
        return;
    double lx = a.x + 0.5 * wrap180(b.x - a.x), ly = 0.5 * (a.y + b.y);
    double dev = hypot(wrap180(m.x - lx), m.y - ly);
    if (depth < MAX_DEPTH && (depth < MIN_DEPTH || dev > g->tol)) {
        edge(g, t, ca, ra, a, cm, rm, m, depth + 1);
        edge(g, t, cm, rm, m, cb, rb, b, depth + 1);
    } else {
        push(g, m);
        push(g, b);
    }
}

/* Which pole lies strictly inside the raster: +1 north, -1 south, 0 none. */
static int pole_inside(td_geo_ctx *g, const double t[6], double W, double H) {
    double det = t[0] * t[4] - t[1] * t[3];
    for (int s = 1; s >= -1; s -= 2) {
        PJ_COORD c = proj_trans(g->cur, PJ_INV, proj_coord(0, 90.0 * s, 0, 0));
        if (!isfinite(c.xy.x) || !isfinite(c.xy.y) || fabs(c.xy.x) > 1e30)
            continue;
        /* back to pixel space through the inverse affine */
        double dx = c.xy.x - t[2], dy = c.xy.y - t[5];
        double col = (t[4] * dx - t[1] * dy) / det, row = (-t[3] * dx + t[0] * dy) / det;
        double eps = 1e-6;
        if (col > eps && col < W - eps && row > eps && row < H - eps) {
            /* the round trip must land on the pole again (some inverses clamp) */
            PJ_COORD b = proj_trans(g->cur, PJ_FWD, c);
            if (isfinite(b.xy.y) && fabs(b.xy.y - 90.0 * s) < 1e-6)
                return s;
        }
    }
    return 0;
}

static double signed_area(const pt *p, int n) {
    double a = 0;
    for (int i = 0; i < n; i++) {
        const pt *u = &p[i], *v = &p[(i + 1) % n];
        a += u->x * v->y - v->x * u->y;
    }
    return 0.5 * a;
}

static void reverse(pt *p, int n) {
    for (int i = 0, j = n - 1; i < j; i++, j--) {
        pt t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

/* Sutherland-Hodgman against one vertical line: keep x <= cut (keep_left) or x >= cut. */
static int clip(const pt *in, int n, double cut, bool keep_left, pt *out) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        pt a = in[i], b = in[(i + 1) % n];
        bool ain = keep_left ? a.x <= cut : a.x >= cut;
        bool bin = keep_left ? b.x <= cut : b.x >= cut;
        if (ain)
            out[k++] = a;
        if (ain != bin) {
            double f = (cut - a.x) / (b.x - a.x);
            out[k++] = (pt){cut, a.y + f * (b.y - a.y)};
        }
    }
    return k;
}

static int wkb_grow(td_geo_ctx *g, size_t need) {
    if (need <= g->wkb_cap)
        return 0;
    size_t cap = g->wkb_cap ? g->wkb_cap : 1024;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(g->wkb, cap);
    if (!p)
        return -1;
    g->wkb = p;
    g->wkb_cap = cap;
    return 0;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *put_f64(uint8_t *p, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    for (int i = 0; i < 8; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

/* A polygon (one ring, closed on output), counterclockwise. */
static uint8_t *put_polygon(uint8_t *p, pt *r, int n) {
    /* repeated points (a vertex on the clip line and its intersection) are dropped */
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || r[i].x != r[k - 1].x || r[i].y != r[k - 1].y)
            r[k++] = r[i];
    while (k > 1 && r[k - 1].x == r[0].x && r[k - 1].y == r[0].y)
        k--;
    n = k;
    if (signed_area(r, n) < 0)
        reverse(r, n);
    *p++ = 1;
    p = put_u32(p, TD_GEO_WKB_POLYGON);
    p = put_u32(p, 1);
    p = put_u32(p, (uint32_t)n + 1);
    for (int i = 0; i <= n; i++) {
        p = put_f64(p, r[i % n].x);
        p = put_f64(p, r[i % n].y);
    }
    return p;
}

static void extent(const pt *p, int n, double *x0, double *y0, double *x1, double *y1) {
    for (int i = 0; i < n; i++) {
        *x0 = fmin(*x0, p[i].x), *x1 = fmax(*x1, p[i].x);
        *y0 = fmin(*y0, p[i].y), *y1 = fmax(*y1, p[i].y);
    }
}

/* The ring in g->ring (lon/lat, not closed) into WKB and bbox; false + warning if the ring
 * cannot be laid out. */
static bool layout(td_geo_ctx *g, int pole, td_geo *r) {
    pt *u = g->ring;
    int n = g->n_ring;
    for (int i = 1; i < n; i++)
        u[i].x = u[i - 1].x + wrap180(u[i].x - u[i - 1].x);
    double winding = u[n - 1].x + wrap180(u[0].x - u[n - 1].x) - u[0].x;
    bool wound = fabs(winding) > 180;
    if (wound != (pole != 0)) {
        snprintf(g->warn, sizeof g->warn,
                 wound ? "outline winds around a pole the raster does not contain"
                       : "raster contains a pole its outline does not wind around");
        return false;
    }
    int np = 0;
    if (pole) {
        if (winding < 0) {
            reverse(u, n);
            for (int i = 1; i < n; i++) /* unwrap again in the new direction */
                u[i].x = u[i - 1].x + wrap180(u[i].x - u[i - 1].x);
        }
        double k = floor((u[0].x + 180) / 360);
        for (int i = 0; i < n; i++)
            u[i].x -= k * 360;
        /* closed sequence u[0..n] with u[n] = u[0] + 360: cut where it passes 180 */
        pt last = {u[0].x + 360, u[0].y};
        int c = -1;
        double lat_c = u[0].y;
        for (int i = 0; i < n && c < 0; i++) {
            pt a = u[i], b = i + 1 < n ? u[i + 1] : last;
            if (a.x < 180 && b.x >= 180) {
                c = i;
                lat_c = a.y + (180 - a.x) / (b.x - a.x) * (b.y - a.y);
            }
        }
        if (c < 0) {
            snprintf(g->warn, sizeof g->warn, "polar outline does not cross 180 degrees");
            return false;
        }
        pt *o = g->part[0];
        int k2 = 0;
        double py = 90.0 * pole;
        o[k2++] = (pt){-180, lat_c};
        for (int i = c + 1; i <= n; i++) /* past 180: shifted one turn back */
            o[k2++] = i < n ? (pt){u[i].x - 360, u[i].y} : (pt){u[0].x, u[0].y};
        for (int i = 1; i <= c; i++)
            o[k2++] = u[i];
        o[k2++] = (pt){180, lat_c};
        o[k2++] = (pt){180, py};
        o[k2++] = (pt){-180, py};
        g->n_part[0] = k2;
        np = 1;
        r->bbox[0] = -180, r->bbox[2] = 180;
        double y0 = 90, y1 = -90, x0 = 180, x1 = -180;
        extent(o, k2, &x0, &y0, &x1, &y1);
        r->bbox[1] = y0, r->bbox[3] = y1;
    } else {
        double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
        extent(u, n, &x0, &y0, &x1, &y1);
        double k = floor((x0 + 180) / 360);
        for (int i = 0; i < n; i++)
            u[i].x -= k * 360;
        x0 -= k * 360, x1 -= k * 360;
        if (x1 - x0 > 360 + 1e-9) {
            snprintf(g->warn, sizeof g->warn, "outline spans more than 360 degrees of longitude");
            return false;
        }
        r->bbox[1] = y0, r->bbox[3] = y1;
        if (x1 <= 180 + 1e-9) {
            memcpy(g->part[0], u, (size_t)n * sizeof *u);
            for (int i = 0; i < n; i++)
                g->part[0][i].x = fmin(g->part[0][i].x, 180);
            g->n_part[0] = n;
            np = 1;
            r->bbox[0] = x0, r->bbox[2] = fmin(x1, 180);
        } else {
            /* across the antimeridian: the part east of it and the part west of it */
            g->n_part[0] = clip(u, n, 180, true, g->part[0]);
            g->n_part[1] = clip(u, n, 180, false, g->part[1]);
            for (int i = 0; i < g->n_part[1]; i++)
                g->part[1][i].x -= 360;
            np = 2;
            r->bbox[0] = x0, r->bbox[2] = x1 - 360; /* xmin > xmax: crosses */
            if (x0 >= 180 - 1e-9) {                 /* entirely at or past 180 after all */
                memcpy(g->part[0], g->part[1], (size_t)g->n_part[1] * sizeof(pt));
                g->n_part[0] = g->n_part[1];
                np = 1;
                r->bbox[0] = x0 - 360;
            }
        }
    }
    size_t need = 9 + (size_t)np * (9 + 4 + 16 * (2 * RING_MAX + 17));
    if (wkb_grow(g, need) != 0) {
        snprintf(g->warn, sizeof g->warn, "out of memory");
        return false;
    }
    uint8_t *p = g->wkb;
    if (np == 2) {
        *p++ = 1;
        p = put_u32(p, TD_GEO_WKB_MULTIPOLYGON);
        p = put_u32(p, 2);
    }
    for (int i = 0; i < np; i++)
        p = put_polygon(p, g->part[i], g->n_part[i]);
    r->wkb = g->wkb;
    r->wkb_len = (size_t)(p - g->wkb);
    r->multi = np == 2;
    return true;
}

static bool footprint(td_geo_ctx *g, const double t[6], double W, double H, td_geo *r) {
    pt c[4];
    const double cc[4][2] = {{0, 0}, {W, 0}, {W, H}, {0, H}};
    g->fail = false;
    g->n_ring = 0;
    for (int i = 0; i < 4; i++)
        if (!to_ll(g, t, cc[i][0], cc[i][1], &c[i])) {
            snprintf(g->warn, sizeof g->warn,
                     "a corner of the raster is outside the CRS's "
                     "domain (PROJ cannot transform it)");
            return false;
        }
    for (int i = 0; i < 4 && !g->fail; i++) {
        int j = (i + 1) % 4;
        double npx = i % 2 == 0 ? W : H;
        /* half a pixel in degrees, from the edge's corner-to-corner span */
        g->tol = fmax(1e-7, 0.5 * hypot(wrap180(c[j].x - c[i].x), c[j].y - c[i].y) / npx);
        push(g, c[i]);
        edge(g, t, cc[i][0], cc[i][1], c[i], cc[j][0], cc[j][1], c[j], 0);
        g->n_ring--; /* the end corner is the next edge's start */
    }
    if (g->fail) {
        snprintf(g->warn, sizeof g->warn,
                 "part of the raster outline is outside the CRS's "
                 "domain (PROJ cannot transform it)");
        return false;
    }
    return layout(g, pole_inside(g, t, W, H), r);
}

static int compute(td_geo_ctx *g, const tiff_header *h, td_geo *r);

static memo *memo_slot(td_geo_ctx *g, const crs_entry *e, const double corners[8]) {
    uint64_t x = (uint64_t)(uintptr_t)e * 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 8; i++) {
        uint64_t v;
        memcpy(&v, &corners[i], 8);
        x = (x ^ v) * 0x100000001b3u;
    }
    return &g->memo[(x ^ (x >> 29)) % MEMO_SLOTS];
}

static bool memo_get(td_geo_ctx *g, const crs_entry *e, const double corners[8], td_geo *r) {
    memo *m = memo_slot(g, e, corners);
    if (m->crs != e || m->gen != e->gen || memcmp(m->corners, corners, sizeof m->corners) != 0)
        return false;
    r->wkb = m->wkb;
    r->wkb_len = m->wkb_len;
    r->multi = m->multi;
    memcpy(r->bbox, m->bbox, sizeof r->bbox);
    return true;
}

static void memo_put(td_geo_ctx *g, const crs_entry *e, const double corners[8], const td_geo *r) {
    memo *m = memo_slot(g, e, corners);
    if (m->cap < r->wkb_len) {
        uint8_t *p = realloc(m->wkb, r->wkb_len);
        if (!p)
            return; /* not remembered: computed again next time */
        m->wkb = p;
        m->cap = r->wkb_len;
    }
    memcpy(m->wkb, r->wkb, r->wkb_len);
    m->wkb_len = r->wkb_len;
    m->crs = e;
    m->gen = e->gen;
    memcpy(m->corners, corners, sizeof m->corners);
    m->multi = r->multi;
    memcpy(m->bbox, r->bbox, sizeof m->bbox);
}

int td_geo_compute(td_geo_ctx *g, const tiff_header *h, td_geo *r) {
    int rc = compute(g, h, r);
    if (r->warning) { /* one recognisable prefix among the parser's warnings */
        snprintf(g->warning, sizeof g->warning, "no footprint: %s", r->warning);
        r->warning = g->warning;
    }
    return rc;
}

static int compute(td_geo_ctx *g, const tiff_header *h, td_geo *r) {
    memset(r, 0, sizeof *r);
    const tiff_value *w = &h->field[TIFF_F_image_width], *hh = &h->field[TIFF_F_image_height];
    if (!w->present || !hh->present || w->u.i <= 0 || hh->u.i <= 0)
        return 0;
    double t[6];
    const char *why;
    if (!affine(h, t, &why)) {
        r->warning = why;
        return 0;
    }
    double W = (double)w->u.i, H = (double)hh->u.i;
    r->has_transform = true;
    r->shape[0] = hh->u.i, r->shape[1] = w->u.i;
    memcpy(r->transform, t, sizeof r->transform);
    double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY, corners[8];
    const double cc[4][2] = {{0, 0}, {W, 0}, {W, H}, {0, H}};
    for (int i = 0; i < 4; i++) {
        double x, y;
        apply(t, cc[i][0], cc[i][1], &x, &y);
        corners[2 * i] = x, corners[2 * i + 1] = y;
        x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
    }
    r->proj_bbox[0] = x0, r->proj_bbox[1] = y0, r->proj_bbox[2] = x1, r->proj_bbox[3] = y1;
    crs_entry *e = crs_lookup(g, h);
    if (!e) {
        r->warning = h->has_geokeys ? "out of memory"
                                    : "affine transform but no GeoKeyDirectory: CRS unknown";
        return h->has_geokeys ? -1 : 0;
    }
    r->proj_code = e->code[0] ? e->code : NULL;
    r->wkt2 = e->wkt2;
    r->projjson = e->projjson;
    if (!e->to84) {
        r->warning = e->warning;
        return 0;
    }
    if (memo_get(g, e, corners, r))
        return 0;
    g->cur = e->to84;
    g->warn[0] = 0;
    if (footprint(g, t, W, H, r)) {
        memo_put(g, e, corners, r);
    } else {
        r->wkb = NULL;
        r->wkb_len = 0;
        r->multi = false;
        memset(r->bbox, 0, sizeof r->bbox);
        r->warning = g->warn;
    }
    return 0;
}
