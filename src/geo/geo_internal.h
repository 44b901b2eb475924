/* geo_internal.h - what geo.c and geo_crs.c share (not part of the contract). */
#ifndef GEO_GEO_INTERNAL_H
#define GEO_GEO_INTERNAL_H

#include <proj.h>
#include <stddef.h>

#include "geo.h"

/* The CRS the keys of h describe, or NULL with the reason in msg. *code gets "EPSG:n" when
 * the keys name an EPSG CRS ("" for a user-defined one). *key is what identifies the CRS
 * for the cache: two headers with the same key get the same CRS. Pure apart from proj.db. */
int td__geo_crs_key(const tiff_header *h, char *key, size_t keylen);
PJ *td__geo_crs_build(PJ_CONTEXT *ctx, const tiff_header *h, char *code, size_t codelen, char *msg,
                      size_t msglen);

#endif
