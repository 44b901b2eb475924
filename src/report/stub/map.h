/* stub/map.h - the interface of helper m1's src/report/map.h, used only until that module is
 * merged (src/report/CMakeLists.txt builds stub/map_stub.c while src/report/map.c is absent).
 * Delete this folder once map.{c,h} exist. */
#ifndef REPORT_MAP_H
#define REPORT_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct td_map td_map;
typedef struct td_map_options {
    int width_px, height_px;
    size_t max_shapes; /* above: density grid */
} td_map_options;
int td_map_new(td_map **out, const td_map_options *opt, char *msg, size_t cap);
int td_map_add_wkb(td_map *m, const uint8_t *wkb, size_t len);
int td_map_svg(td_map *m, ut_buf *out, char *msg, size_t cap);
void td_map_counts(const td_map *m, size_t *drawn, size_t *gridded, size_t *skipped);
void td_map_free(td_map *m);

#endif
