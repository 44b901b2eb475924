/* map.h - the report's footprint map: footprints on a world outline as one inline SVG.
 *
 * Pure (no I/O). Geometries are fed one at a time, as the headers table's `geometry` column
 * holds them (WKB, OGC:CRS84 lon/lat, Polygon or MultiPolygon, split at the antimeridian and
 * closed over the pole by src/geo); edges are straight in lon/lat (GeoParquet "planar"),
 * densified to 2 degree steps so they curve as they should in the projection.
 *
 * Projection: Equal Earth (equal-area), every transform through PROJ (one PROJ context and
 * operation per map). Beneath the footprints: the sphere, a 30 degree graticule and the land
 * of Natural Earth 1:110m (data/world, compiled in).
 *
 * Bounded memory whatever the input: while at most max_shapes footprints (and at most
 * TD_MAP_PATH_BUDGET bytes of their SVG path) have been added they are drawn as outlines;
 * past that the map is a density grid of 2x2 degree cells, counting per cell the footprints
 * that cover the cell's centre (a footprint covering no cell centre counts in the cell of its
 * first vertex), and the outlines are dropped. Every footprint is counted in the grid from
 * the start, so the switch loses nothing. Coordinates are quantised to 0.1 px and simplified
 * within 0.3 px: the SVG stays under a few hundred KiB for any input.
 *
 *   td_map *m; td_map_new(&m, NULL, msg, sizeof msg);
 *   for each row: td_map_add_wkb(m, wkb, len);     // <0: unreadable, counted as skipped
 *   td_map_svg(m, &html, msg, sizeof msg);         // appends <svg>..</svg>
 *   td_map_free(m);
 */
#ifndef REPORT_MAP_H
#define REPORT_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct td_map td_map;

typedef struct td_map_options {
    int width_px, height_px; /* 0: 960 wide, height from the projection's aspect; both set:
                                the map is fitted inside, centred */
    size_t max_shapes;       /* 0: TD_MAP_MAX_SHAPES; above: density grid */
} td_map_options;

#define TD_MAP_MAX_SHAPES 5000
#define TD_MAP_PATH_BUDGET ((size_t)256 << 10) /* bytes of footprint outlines kept */
#define TD_MAP_GRID_DEG 2                      /* density grid cell, degrees */

/* 0, or -1 with a message (bad options, PROJ unusable, out of memory). */
int td_map_new(td_map **out, const td_map_options *opt, char *msg, size_t cap);

/* Adds one footprint. 0, or -1 for a geometry it could not read: truncated or trailing
 * bytes, another type (Z/M included), an empty geometry, a ring of fewer than 3 points,
 * coordinates not finite or outside [-180, 180] x [-90, 90], over 1M points. Counted as
 * skipped; nothing of it is drawn. -2 when out of memory (also skipped). */
int td_map_add_wkb(td_map *m, const uint8_t *wkb, size_t len);

/* Appends one <svg>...</svg> with <title> and <desc> to out. 0, or -1 with a message when
 * out is full (out->bad) or PROJ failed. May be called more than once. */
int td_map_svg(td_map *m, ut_buf *out, char *msg, size_t cap);

/* Footprints drawn as outlines, counted in the density grid (all of them once the map is a
 * grid: then drawn is 0), and skipped as unreadable. Any pointer may be NULL. */
void td_map_counts(const td_map *m, size_t *drawn, size_t *gridded, size_t *skipped);

void td_map_free(td_map *m);

#endif
