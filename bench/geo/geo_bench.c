/* geo_bench.c - cost of the footprint step (src/geo) per header, on one thread: what the
 * writer thread adds to each row. Headers are tiff_header structs built here (no parsing);
 * the PROJ objects are cached per CRS in the context as in a run; the first header of a CRS
 * (proj.db lookup, operation search) is reported apart. Two steady states: "new outline"
 * moves the grid by a millimetre each time (every header computes its footprint: a bucket
 * of unique grids), "same outline" repeats it (the footprint memo answers: the bands,
 * overviews and dates of one tile grid). Measures, never asserts.
 *
 *   geo_bench [SECONDS_PER_MEASUREMENT=0.5]        (pin it: taskset -c 1 geo_bench)
 *
 * Cases (one header each, computed over and over):
 *   utm       Sentinel-2 tile, EPSG:32633, 10980 x 10980 px of 10 m
 *   utm-1n    a UTM 1N tile across the antimeridian (MultiPolygon)
 *   wgs84     a 1-degree EPSG:4326 tile, 3600 x 3600 px
 *   polar     Antarctica, EPSG:3031, 1000 x 1000 px of 5 km (contains the pole)
 *   user-tm   a user-defined Transverse Mercator on NAD83 (keys, not a code)
 *   none      no georeferencing (the cost every plain TIFF pays)
 * Rates use the thread's CPU time, best of three runs per case. */
#include "geo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct bcase {
    const char *name;
    tiff_header h;
    double scale[3], tie[6];
} bcase;

static void set_int(tiff_value *v, int64_t i) { *v = (tiff_value){true, 1, {.i = i}}; }
static void set_dbl(tiff_value *v, double d) { *v = (tiff_value){true, 1, {.d = d}}; }

static void grid(bcase *c, int64_t w, int64_t h, double x0, double y0, double px) {
    memset(&c->h, 0, sizeof c->h);
    set_int(&c->h.field[TIFF_F_image_width], w);
    set_int(&c->h.field[TIFF_F_image_height], h);
    double s[3] = {px, px, 0}, t[6] = {0, 0, 0, x0, y0, 0};
    memcpy(c->scale, s, sizeof s);
    memcpy(c->tie, t, sizeof t);
    c->h.field[TIFF_F_model_pixel_scale] = (tiff_value){true, 3, {.dbls = c->scale}};
    c->h.field[TIFF_F_model_tiepoint] = (tiff_value){true, 6, {.dbls = c->tie}};
    c->h.has_geokeys = true;
    set_int(&c->h.geokey[TIFF_G_raster_type], 1);
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 0.5;
    static bcase cs[6];
    int n = 0;
    bcase *c = &cs[n++];
    c->name = "utm";
    grid(c, 10980, 10980, 399960, 5300040, 10);
    set_int(&c->h.geokey[TIFF_G_model_type], 1);
    set_int(&c->h.geokey[TIFF_G_projected_type], 32633);
    c = &cs[n++];
    c->name = "utm-1n";
    grid(c, 1098, 1098, 199980, 5800020, 100);
    set_int(&c->h.geokey[TIFF_G_model_type], 1);
    set_int(&c->h.geokey[TIFF_G_projected_type], 32601);
    c = &cs[n++];
    c->name = "wgs84";
    grid(c, 3600, 3600, 10, 48, 1.0 / 3600);
    set_int(&c->h.geokey[TIFF_G_model_type], 2);
    set_int(&c->h.geokey[TIFF_G_geographic_type], 4326);
    c = &cs[n++];
    c->name = "polar";
    grid(c, 1000, 1000, -2500000, 2500000, 5000);
    set_int(&c->h.geokey[TIFF_G_model_type], 1);
    set_int(&c->h.geokey[TIFF_G_projected_type], 3031);
    c = &cs[n++];
    c->name = "user-tm";
    grid(c, 5000, 5000, 500000, 4500000, 30);
    set_int(&c->h.geokey[TIFF_G_model_type], 1);
    set_int(&c->h.geokey[TIFF_G_projected_type], 32767);
    set_int(&c->h.geokey[TIFF_G_geographic_type], 4269);
    set_int(&c->h.geokey[TIFF_G_proj_coord_trans], 1);
    set_dbl(&c->h.geokey[TIFF_G_proj_nat_origin_long], -93);
    set_dbl(&c->h.geokey[TIFF_G_proj_nat_origin_lat], 0);
    set_dbl(&c->h.geokey[TIFF_G_proj_scale_at_nat_origin], 0.9996);
    set_dbl(&c->h.geokey[TIFF_G_proj_false_easting], 500000);
    set_dbl(&c->h.geokey[TIFF_G_proj_false_northing], 0);
    c = &cs[n++];
    c->name = "none";
    memset(&c->h, 0, sizeof c->h);
    set_int(&c->h.field[TIFF_F_image_width], 512);
    set_int(&c->h.field[TIFF_F_image_height], 512);

    char err[256];
    td_geo_ctx *g;
    if (td_geo_ctx_new(&g, err, sizeof err) != 0) {
        fprintf(stderr, "geo_bench: %s\n", err);
        return 1;
    }
    printf("| case | WKB bytes | first header (CRS built) | new outline | headers/s | same "
           "outline |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++) {
        td_geo r;
        double t0 = cpu_s();
        td_geo_compute(g, &cs[i].h, &r);
        double first = cpu_s() - t0;
        if (strcmp(cs[i].name, "none") != 0 && !r.wkb) {
            fprintf(stderr, "geo_bench: %s: no footprint: %s\n", cs[i].name,
                    r.warning ? r.warning : "?");
            return 1;
        }
        double best[2] = {1e9, 1e9};
        for (int moving = 0; moving < 2; moving++)
            for (int run = 0; run < 3; run++) {
                long k = 0;
                double s0 = cpu_s(), el;
                do {
                    for (int j = 0; j < 64; j++) {
                        if (moving)
                            cs[i].tie[3] += 1e-3;
                        td_geo_compute(g, &cs[i].h, &r);
                    }
                    k += 64;
                } while ((el = cpu_s() - s0) < secs);
                if (el / (double)k < best[moving])
                    best[moving] = el / (double)k;
            }
        printf("| %s | %zu | %.0f µs | %.2f µs | %.0f | %.2f µs |\n", cs[i].name, r.wkb_len,
               first * 1e6, best[1] * 1e6, 1 / best[1], best[0] * 1e6);
    }
    td_geo_ctx_free(g);
    return 0;
}
