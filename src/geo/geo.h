/* geo.h - georeferencing of a parsed TIFF header: the module's whole contract.
 *
 * From a tiff_header (tiff.h) it computes what a STAC item / GeoParquet row needs:
 *   - the affine transform [a, b, c, d, e, f] (x = a*col + b*row + c, y = d*col + e*row + f,
 *     the STAC / rasterio order) from ModelTransformation or ModelTiepoint + ModelPixelScale,
 *     shifted by half a pixel for RasterPixelIsPoint as GDAL does (GTIFF_POINT_GEO_IGNORE=NO);
 *   - the CRS: "EPSG:n" when the keys name an EPSG code or PROJ identifies the user-defined
 *     CRS as one with full confidence; otherwise, for a user-defined CRS PROJ can build, its
 *     WKT2 and PROJJSON;
 *   - the footprint in OGC:CRS84 as WKB: the raster outline transformed by PROJ, edges
 *     densified until they are within half a pixel, split at the antimeridian into a
 *     MultiPolygon, closed over the pole when the raster contains it; and its bbox.
 * When the CRS cannot be built or the outline cannot be transformed there is no footprint
 * and a warning says why: never a polygon that may be wrong.
 *
 * Uses PROJ, whose objects are not thread-safe: one td_geo_ctx per thread, owned by the
 * caller. PROJ objects are built once per CRS and cached in the context (a file costs a few
 * dozen point transforms, not a CRS lookup in proj.db); so are the last footprints, by CRS
 * and outline: the bands, overviews and dates of one tile grid share one (bench/geo).
 *
 *   td_geo_ctx *g; td_geo_ctx_new(&g, err, sizeof err);
 *   td_geo r; td_geo_compute(g, hdr, &r);     // r's pointers valid until the next compute
 *   td_geo_ctx_free(g);
 */
#ifndef GEO_GEO_H
#define GEO_GEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tiff.h"

typedef struct td_geo_ctx td_geo_ctx;

/* 0, or -1 with a message in err (PROJ context or proj.db unusable). */
int td_geo_ctx_new(td_geo_ctx **out, char *err, size_t errlen);
void td_geo_ctx_free(td_geo_ctx *g);

typedef struct td_geo {
    bool has_transform;    /* transform, shape and proj_bbox are set */
    int64_t shape[2];      /* height, width */
    double transform[6];   /* a, b, c, d, e, f */
    double proj_bbox[4];   /* xmin, ymin, xmax, ymax of the outline in the native CRS */
    const char *proj_code; /* "EPSG:32633", NULL when none */
    const char *wkt2;      /* user-defined CRS (proj_code NULL) PROJ could build, else NULL */
    const char *projjson;
    const uint8_t *wkb; /* footprint, OGC:CRS84, little-endian WKB; NULL = none */
    size_t wkb_len;
    bool multi;          /* the footprint is a MultiPolygon (split at the antimeridian) */
    double bbox[4];      /* lon/lat bbox of the footprint; xmin > xmax when it crosses the
                            antimeridian (GeoParquet / STAC convention) */
    const char *warning; /* "no footprint: <why>" for a georeferenced file, else NULL */
} td_geo;

/* Fills *out (all absent for a file without georeferencing). Returns 0; -1 only when out of
 * memory (then *out is as for a file without georeferencing). */
int td_geo_compute(td_geo_ctx *g, const tiff_header *h, td_geo *out);

/* WKB geometry type codes (ISO 2D). */
#define TD_GEO_WKB_POLYGON 3
#define TD_GEO_WKB_MULTIPOLYGON 6

#endif
