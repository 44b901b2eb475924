/* map_render.c - the footprint map over geometries given as hex WKB, for map_geo.py:
 *   map_render OUT.svg [MAX_SHAPES] < lines of hex WKB
 * writes the map's SVG to OUT.svg and "drawn gridded skipped" to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: map_render OUT.svg [MAX_SHAPES] < hex-wkb-lines\n");
        return 2;
    }
    td_map_options o = {0, 0, argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 0};
    char msg[256];
    td_map *m;
    if (td_map_new(&m, &o, msg, sizeof msg) != 0) {
        fprintf(stderr, "map_render: %s\n", msg);
        return 1;
    }
    static char line[1 << 20];
    static uint8_t wkb[1 << 19];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strcspn(line, "\r\n");
        if (n == 0 || n % 2 || ut_hex_decode(line, n / 2, wkb) != 0) {
            fprintf(stderr, "map_render: not a hex line\n");
            return 1;
        }
        td_map_add_wkb(m, wkb, n / 2);
    }
    ut_buf b = {.limit = 8u << 20};
    if (td_map_svg(m, &b, msg, sizeof msg) != 0) {
        fprintf(stderr, "map_render: %s\n", msg);
        return 1;
    }
    FILE *f = fopen(argv[1], "wb");
    if (!f || fwrite(b.p, 1, b.len, f) != b.len || fclose(f) != 0) {
        fprintf(stderr, "map_render: cannot write %s\n", argv[1]);
        return 1;
    }
    size_t d, g, s;
    td_map_counts(m, &d, &g, &s);
    printf("%zu %zu %zu\n", d, g, s);
    ut_buf_free(&b);
    td_map_free(m);
    return 0;
}
