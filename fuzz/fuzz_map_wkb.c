/* fuzz_map_wkb.c - libFuzzer target for the footprint map's WKB reader (src/report/map.h).
 *
 * The input is one geometry cell. One map lives across inputs (as in a report: many cells,
 * one map) with a small max_shapes, so inputs are drawn as outlines and, after a few, counted
 * in the density grid; every 256th input renders the SVG, whose output must be one
 * well-formed <svg> element. The input is copied into a buffer of exactly its size, so ASan
 * sees any read past it. */
#include <stdlib.h>
#include <string.h>

#include "map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static td_map *map;
static unsigned long calls;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!map) {
        char msg[256];
        td_map_options o = {480, 0, 64};
        if (td_map_new(&map, &o, msg, sizeof msg) != 0)
            abort();
    }
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    size_t before, after, d, g;
    td_map_counts(map, &d, &g, &before);
    int rc = td_map_add_wkb(map, p, size);
    td_map_counts(map, &d, &g, &after);
    if ((rc < 0) != (after == before + 1))
        abort(); /* an unreadable geometry is counted as skipped, a readable one is not */
    free(p);
    if (++calls % 256 == 0) {
        ut_buf b = {.limit = 4u << 20};
        char msg[256];
        if (td_map_svg(map, &b, msg, sizeof msg) != 0 || strncmp(b.p, "<svg ", 5) != 0 ||
            !strstr(b.p, "</svg>\n") || b.len > (1u << 20))
            abort();
        ut_buf_free(&b);
    }
    return 0;
}
