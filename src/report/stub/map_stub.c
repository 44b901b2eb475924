/* map_stub.c - placeholder for helper m1's map (see stub/map.h): counts the geometries and
 * draws an empty plate carree frame, so that the report builds and runs before the real
 * map is merged. */
#include <stdlib.h>

#include "map.h"

struct td_map {
    int w, h;
    size_t n, bad;
};

int td_map_new(td_map **out, const td_map_options *opt, char *msg, size_t cap) {
    (void)msg;
    (void)cap;
    td_map *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    m->w = opt && opt->width_px > 0 ? opt->width_px : 720;
    m->h = opt && opt->height_px > 0 ? opt->height_px : 360;
    *out = m;
    return 0;
}

int td_map_add_wkb(td_map *m, const uint8_t *wkb, size_t len) {
    if (!wkb || len < 9) {
        m->bad++;
        return -1;
    }
    m->n++;
    return 0;
}

int td_map_svg(td_map *m, ut_buf *out, char *msg, size_t cap) {
    (void)msg;
    (void)cap;
    ut_buf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                  "height=\"%d\" role=\"img\"><title>Footprints (map not available in this "
                  "build)</title><rect width=\"%d\" height=\"%d\" fill=\"#eef3f8\" "
                  "stroke=\"#99a\"/></svg>",
                  m->w, m->h, m->w, m->h, m->w, m->h);
    return out->bad ? -1 : 0;
}

void td_map_counts(const td_map *m, size_t *drawn, size_t *gridded, size_t *skipped) {
    *drawn = m->n;
    *gridded = 0;
    *skipped = m->bad;
}

void td_map_free(td_map *m) { free(m); }
