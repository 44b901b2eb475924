/* geo_crs.c - the CRS a GeoKeyDirectory describes, built by PROJ.
 *
 * An EPSG code (ProjectedCSTypeGeoKey, GeographicTypeGeoKey) is looked up in proj.db. A
 * user-defined (32767) CRS is assembled from its keys with PROJ's constructors, following
 * the GeoTIFF 1.1 key meanings and libgeotiff's fallbacks between keys (e.g. a Transverse
 * Mercator whose origin is in ProjFalseOriginLong): the geodetic datum or ellipsoid, prime
 * meridian and units by EPSG code or by value, and the projection by EPSG conversion code
 * (ProjectionGeoKey) or by coordinate transformation (ProjCoordTransGeoKey) and parameters.
 * No projection arithmetic here: every formula is PROJ's. What is not understood is
 * refused (NULL and a reason), so that no footprint is computed from a guess. */
#include "geo_internal.h"

#include <math.h>
#include <proj_experimental.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_DEFINED 32767

static bool gk_int(const tiff_header *h, tiff_geokey_id id, int64_t *v) {
    if (!h->has_geokeys || !h->geokey[id].present)
        return false;
    *v = h->geokey[id].u.i;
    return true;
}

static bool gk_dbl(const tiff_header *h, tiff_geokey_id id, double *v) {
    if (!h->has_geokeys || !h->geokey[id].present)
        return false;
    *v = h->geokey[id].u.d;
    return true;
}

/* An EPSG code in a key: 1..32766 (0 = undefined, 32767 = user-defined). */
static bool is_code(int64_t v) { return v > 0 && v < USER_DEFINED; }

/* The model type, inferred from the keys present when ModelTypeGeoKey is missing (GDAL
 * does the same). 1 projected, 2 geographic, 3 geocentric, 0 unknown. */
static int model_type(const tiff_header *h) {
    int64_t v;
    if (gk_int(h, TIFF_G_model_type, &v))
        /* 32767 (user-defined model) leaves the CRS to a citation text (ESRI WKT, PROJ
           strings): not read, so no CRS rather than one guessed from the other keys */
        return v >= 1 && v <= 3 ? (int)v : -1;
    if (gk_int(h, TIFF_G_projected_type, &v) || gk_int(h, TIFF_G_projection, &v) ||
        gk_int(h, TIFF_G_proj_coord_trans, &v))
        return 1;
    if (gk_int(h, TIFF_G_geographic_type, &v) || gk_int(h, TIFF_G_geog_geodetic_datum, &v) ||
        gk_int(h, TIFF_G_geog_ellipsoid, &v) || gk_int(h, TIFF_G_geog_semi_major_axis, &v))
        return 2;
    return 0;
}

/* Decimal v at d (room for 20 digits and a sign); its length. snprintf's formatting cost
 * more than the memo lookup it keys, on every header. */
static size_t put_dec(char *d, int64_t v) {
    char t[24];
    size_t n = 0, k = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        t[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        d[k++] = '-';
    while (n)
        d[k++] = t[--n];
    return k;
}

int td__geo_crs_key(const tiff_header *h, char *key, size_t keylen) {
    if (!h->has_geokeys)
        return -1;
    int mt = model_type(h);
    int64_t code;
    /* the common case first, without formatting every key */
    if (mt == 1 && gk_int(h, TIFF_G_projected_type, &code) && is_code(code)) {
        int64_t u = 0; /* the one key that may override a projected EPSG CRS */
        gk_int(h, TIFF_G_proj_linear_units, &u);
        if (keylen < 48)
            return -1;
        size_t n = 0; /* "P%lld;%lld" */
        key[n++] = 'P';
        n += put_dec(key + n, code);
        key[n++] = ';';
        n += put_dec(key + n, u);
        key[n] = 0;
        return (int)n;
    }
    if (mt == 2 && gk_int(h, TIFF_G_geographic_type, &code) && is_code(code)) {
        if (keylen < 24)
            return -1;
        size_t n = 0; /* "G%lld" */
        key[n++] = 'G';
        n += put_dec(key + n, code);
        key[n] = 0;
        return (int)n;
    }
    size_t n = (size_t)snprintf(key, keylen, "U%d", mt);
    for (int i = 0; i < TIFF_GEOKEY_COUNT && n < keylen; i++) {
        const tiff_value *v = &h->geokey[i];
        if (!v->present || tiff_geokey_infos[i].kind == TIFF_K_STRING)
            continue;
        if (tiff_geokey_infos[i].kind == TIFF_K_INT)
            n += (size_t)snprintf(key + n, keylen - n, ";%d=%lld", i, (long long)v->u.i);
        else
            n += (size_t)snprintf(key + n, keylen - n, ";%d=%.17g", i, v->u.d);
    }
    /* unnamed keys (TOWGS84 2062, rectified grid angle 3096...) by a hash of their text */
    uint64_t x = 0xcbf29ce484222325u;
    for (size_t i = 0; i < h->n_geokeys_other; i++) {
        const tiff_extra *e = &h->geokeys_other[i];
        x = (x ^ e->id) * 0x100000001b3u;
        for (size_t k = 0; e->json && k < e->json_len; k++)
            x = (x ^ (unsigned char)e->json[k]) * 0x100000001b3u;
    }
    if (n < keylen && h->n_geokeys_other)
        n += (size_t)snprintf(key + n, keylen - n, ";o=%016llx", (unsigned long long)x);
    return n < keylen ? (int)n : -1;
}

/* A unit by EPSG code: name (copied to buf: PROJ's string lives only until its next call
 * on the context) and factor to the SI unit. */
static bool unit_of(PJ_CONTEXT *ctx, int64_t code, char *buf, size_t buflen, const char **name,
                    double *conv) {
    char c[16];
    snprintf(c, sizeof c, "%lld", (long long)code);
    const char *cat = NULL, *n = NULL;
    if (!is_code(code) || proj_uom_get_info_from_database(ctx, "EPSG", c, &n, conv, &cat) != 1)
        return false;
    snprintf(buf, buflen, "%s", n ? n : "unknown");
    *name = buf;
    return true;
}

static PJ *from_db(PJ_CONTEXT *ctx, int64_t code, PJ_CATEGORY cat) {
    if (!is_code(code))
        return NULL;
    char c[16];
    snprintf(c, sizeof c, "%lld", (long long)code);
    return proj_create_from_database(ctx, "EPSG", c, cat, 0, NULL);
}

/* Angular unit of the geographic CRS (and of the projection's angles). */
static void ang_unit(PJ_CONTEXT *ctx, const tiff_header *h, char *buf, size_t buflen,
                     const char **name, double *conv) {
    *name = "degree";
    *conv = 0.0174532925199433;
    int64_t u;
    double sz;
    if (gk_int(h, TIFF_G_geog_angular_units, &u) && unit_of(ctx, u, buf, buflen, name, conv))
        return;
    if (gk_dbl(h, TIFF_G_geog_angular_unit_size, &sz) && sz > 0) {
        *name = "unknown";
        *conv = sz;
    }
}

static PJ *geographic(PJ_CONTEXT *ctx, const tiff_header *h, char *msg, size_t msglen) {
    int64_t code;
    if (gk_int(h, TIFF_G_geographic_type, &code) && is_code(code)) {
        PJ *g = from_db(ctx, code, PJ_CATEGORY_CRS);
        if (!g)
            snprintf(msg, msglen, "GeographicTypeGeoKey %lld is not an EPSG CRS PROJ knows",
                     (long long)code);
        return g;
    }
    const char *an;
    char abuf[64];
    double ac;
    ang_unit(ctx, h, abuf, sizeof abuf, &an, &ac);
    PJ *cs = proj_create_ellipsoidal_2D_cs(ctx, PJ_ELLPS2D_LONGITUDE_LATITUDE, an, ac);
    if (!cs) {
        snprintf(msg, msglen, "PROJ could not build an ellipsoidal coordinate system");
        return NULL;
    }
    PJ *g = NULL;
    if (gk_int(h, TIFF_G_geog_geodetic_datum, &code) && is_code(code)) {
        PJ *d = from_db(ctx, code, PJ_CATEGORY_DATUM);
        if (d) {
            /* the datum brings its ellipsoid and prime meridian */
            g = proj_create_geographic_crs_from_datum(ctx, "unnamed", d, cs);
            proj_destroy(d);
            proj_destroy(cs);
            if (!g)
                snprintf(msg, msglen, "PROJ could not build a CRS on datum %lld", (long long)code);
            return g;
        }
    }
    /* the ellipsoid: by code, else by axes / flattening */
    double a = 0, invf = 0, b = 0;
    const char *ename = "unknown";
    if (gk_int(h, TIFF_G_geog_ellipsoid, &code) && is_code(code)) {
        PJ *e = from_db(ctx, code, PJ_CATEGORY_ELLIPSOID);
        int computed = 0;
        if (e && proj_ellipsoid_get_parameters(ctx, e, &a, &b, &computed, &invf)) {
            ename = "from EPSG";
        } else {
            a = 0;
        }
        proj_destroy(e);
    }
    if (a <= 0 && gk_dbl(h, TIFF_G_geog_semi_major_axis, &a) && a > 0) {
        if (!gk_dbl(h, TIFF_G_geog_inv_flattening, &invf)) {
            invf = 0;
            if (gk_dbl(h, TIFF_G_geog_semi_minor_axis, &b) && b > 0 && b < a)
                invf = a / (a - b);
        }
    }
    if (!(a > 0)) {
        proj_destroy(cs);
        snprintf(msg, msglen, "user-defined geographic CRS without a known datum or ellipsoid");
        return NULL;
    }
    /* prime meridian: by code, else by longitude (in the angular unit), else Greenwich */
    double pm_off = 0, pm_conv = ac;
    const char *pm_unit = an;
    int64_t pm;
    if (gk_int(h, TIFF_G_geog_prime_meridian, &pm) && is_code(pm) && pm != 8901) {
        PJ *p = from_db(ctx, pm, PJ_CATEGORY_PRIME_MERIDIAN);
        const char *un = NULL;
        if (!p || !proj_prime_meridian_get_parameters(ctx, p, &pm_off, &pm_conv, &un)) {
            proj_destroy(p);
            proj_destroy(cs);
            snprintf(msg, msglen, "prime meridian %lld is unknown to PROJ", (long long)pm);
            return NULL;
        }
        pm_unit = "from EPSG";
        proj_destroy(p);
    } else {
        gk_dbl(h, TIFF_G_geog_prime_meridian_long, &pm_off);
    }
    g = proj_create_geographic_crs(ctx, "unnamed", "unknown", ename, a, invf,
                                   pm_off != 0 ? "unnamed" : "Greenwich", pm_off, pm_unit, pm_conv,
                                   cs);
    proj_destroy(cs);
    if (!g)
        snprintf(msg, msglen, "PROJ could not build the user-defined geographic CRS");
    return g;
}

/* The first present of up to three keys. */
static double par(const tiff_header *h, tiff_geokey_id a, tiff_geokey_id b, tiff_geokey_id c,
                  double def) {
    double v;
    if (gk_dbl(h, a, &v) || gk_dbl(h, b, &v) || gk_dbl(h, c, &v))
        return v;
    return def;
}

/* A one-number GeoKey without a name in tiff.h, from its JSON text ({"value":[x]...}). */
static bool other_key(const tiff_header *h, uint16_t id, double *v) {
    for (size_t i = 0; i < h->n_geokeys_other; i++) {
        const tiff_extra *e = &h->geokeys_other[i];
        if (e->id != id || !e->json)
            continue;
        const char *p = strstr(e->json, "\"value\":[");
        if (!p)
            return false;
        char *end;
        double d = strtod(p + 9, &end);
        if (end == p + 9)
            return false;
        *v = d;
        return true;
    }
    return false;
}

static PJ *laborde(PJ_CONTEXT *ctx, double lat, double lon, double az, double k, double fe,
                   double fn, const char *an, double ac, const char *ln, double lc) {
    PJ_PARAM_DESCRIPTION p[6] = {
        {"Latitude of projection centre", "EPSG", "8811", lat, an, ac, PJ_UT_ANGULAR},
        {"Longitude of projection centre", "EPSG", "8812", lon, an, ac, PJ_UT_ANGULAR},
        {"Azimuth of initial line", "EPSG", "8813", az, an, ac, PJ_UT_ANGULAR},
        {"Scale factor on initial line", "EPSG", "8815", k, "unity", 1, PJ_UT_SCALE},
        {"False easting", "EPSG", "8806", fe, ln, lc, PJ_UT_LINEAR},
        {"False northing", "EPSG", "8807", fn, ln, lc, PJ_UT_LINEAR},
    };
    return proj_create_conversion(ctx, "unnamed", NULL, NULL, "Laborde Oblique Mercator", "EPSG",
                                  "9813", 6, p);
}

/* The conversion of ProjCoordTransGeoKey ct with its parameters, NULL if not supported. */
static PJ *conversion(PJ_CONTEXT *ctx, const tiff_header *h, int64_t ct, const char *an, double ac,
                      const char *ln, double lc) {
    /* libgeotiff's fallbacks between the keys that name the same parameter */
    double nat_lat =
        par(h, TIFF_G_proj_nat_origin_lat, TIFF_G_proj_false_origin_lat, TIFF_G_proj_center_lat, 0);
    double nat_lon = par(h, TIFF_G_proj_nat_origin_long, TIFF_G_proj_false_origin_long,
                         TIFF_G_proj_center_long, 0);
    double ctr_lat =
        par(h, TIFF_G_proj_center_lat, TIFF_G_proj_nat_origin_lat, TIFF_G_proj_false_origin_lat, 0);
    double ctr_lon = par(h, TIFF_G_proj_center_long, TIFF_G_proj_nat_origin_long,
                         TIFF_G_proj_false_origin_long, 0);
    double fo_lat =
        par(h, TIFF_G_proj_false_origin_lat, TIFF_G_proj_nat_origin_lat, TIFF_G_proj_center_lat, 0);
    double fo_lon = par(h, TIFF_G_proj_false_origin_long, TIFF_G_proj_nat_origin_long,
                        TIFF_G_proj_center_long, 0);
    double fe = par(h, TIFF_G_proj_false_easting, TIFF_G_proj_false_origin_easting,
                    TIFF_G_proj_center_easting, 0);
    double fn = par(h, TIFF_G_proj_false_northing, TIFF_G_proj_false_origin_northing,
                    TIFF_G_proj_center_northing, 0);
    double foe = par(h, TIFF_G_proj_false_origin_easting, TIFF_G_proj_false_easting,
                     TIFF_G_proj_center_easting, 0);
    double fon = par(h, TIFF_G_proj_false_origin_northing, TIFF_G_proj_false_northing,
                     TIFF_G_proj_center_northing, 0);
    double k = par(h, TIFF_G_proj_scale_at_nat_origin, TIFF_G_proj_scale_at_center,
                   TIFF_G_proj_scale_at_nat_origin, 1);
    double sp1 =
        par(h, TIFF_G_proj_std_parallel1, TIFF_G_proj_std_parallel1, TIFF_G_proj_std_parallel1, 0);
    double sp2 =
        par(h, TIFF_G_proj_std_parallel2, TIFF_G_proj_std_parallel2, TIFF_G_proj_std_parallel2, 0);
    double az =
        par(h, TIFF_G_proj_azimuth_angle, TIFF_G_proj_azimuth_angle, TIFF_G_proj_azimuth_angle, 0);
    double pole_lon = par(h, TIFF_G_proj_straight_vert_pole_long, TIFF_G_proj_nat_origin_long,
                          TIFF_G_proj_center_long, 0);
    double rect = az, tmp;
    other_key(h, 3096, &rect); /* ProjRectifiedGridAngleGeoKey (GeoTIFF 1.1), unnamed */
#define U an, ac, ln, lc
    switch (ct) {
    case 1: /* TransverseMercator */
        return proj_create_conversion_transverse_mercator(ctx, nat_lat, nat_lon, k, fe, fn, U);
    case 27: /* TransvMercator_SouthOriented */
        return proj_create_conversion_transverse_mercator_south_oriented(ctx, nat_lat, nat_lon, k,
                                                                         fe, fn, U);
    case 3: /* ObliqueMercator: Hotine variant A (false easting at the natural origin) */
        return proj_create_conversion_hotine_oblique_mercator_variant_a(ctx, ctr_lat, ctr_lon, az,
                                                                        rect, k, fe, fn, U);
    case 9815: /* libgeotiff's code for Hotine variant B (easting at the projection centre) */
        return proj_create_conversion_hotine_oblique_mercator_variant_b(ctx, ctr_lat, ctr_lon, az,
                                                                        rect, k, fe, fn, U);
    case 4: /* ObliqueMercator_Laborde: no PROJ constructor of its own, EPSG method 9813 */
        return laborde(ctx, ctr_lat, ctr_lon, az, k, fe, fn, an, ac, ln, lc);
    case 7: /* Mercator: variant B when a standard parallel is given instead of a scale */
        if (!gk_dbl(h, TIFF_G_proj_scale_at_nat_origin, &tmp) &&
            gk_dbl(h, TIFF_G_proj_std_parallel1, &tmp))
            return proj_create_conversion_mercator_variant_b(ctx, sp1, nat_lon, fe, fn, U);
        return proj_create_conversion_mercator_variant_a(ctx, nat_lat, nat_lon, k, fe, fn, U);
    case 8: /* LambertConfConic_2SP */
        return proj_create_conversion_lambert_conic_conformal_2sp(ctx, fo_lat, fo_lon, sp1, sp2,
                                                                  foe, fon, U);
    case 9: /* LambertConfConic_1SP */
        return proj_create_conversion_lambert_conic_conformal_1sp(ctx, nat_lat, nat_lon, k, fe, fn,
                                                                  U);
    case 10: /* LambertAzimEqualArea */
        return proj_create_conversion_lambert_azimuthal_equal_area(ctx, ctr_lat, ctr_lon, fe, fn,
                                                                   U);
    case 11: /* AlbersEqualArea */
        return proj_create_conversion_albers_equal_area(ctx, nat_lat, nat_lon, sp1, sp2, fe, fn, U);
    case 12: /* AzimuthalEquidistant */
        return proj_create_conversion_azimuthal_equidistant(ctx, ctr_lat, ctr_lon, fe, fn, U);
    case 13: /* EquidistantConic */
        return proj_create_conversion_equidistant_conic(ctx, ctr_lat, ctr_lon, sp1, sp2, fe, fn, U);
    case 14: /* Stereographic */
        return proj_create_conversion_stereographic(ctx, ctr_lat, ctr_lon, k, fe, fn, U);
    case 15: /* PolarStereographic: latitude of origin at a pole = variant A, else it is the
                standard parallel (variant B), as GDAL reads it */
        if (nat_lat == 90 || nat_lat == -90)
            return proj_create_conversion_polar_stereographic_variant_a(ctx, nat_lat, pole_lon, k,
                                                                        fe, fn, U);
        return proj_create_conversion_polar_stereographic_variant_b(ctx, nat_lat, pole_lon, fe, fn,
                                                                    U);
    case 16: /* ObliqueStereographic */
        return proj_create_conversion_oblique_stereographic(ctx, nat_lat, nat_lon, k, fe, fn, U);
    case 17: /* Equirectangular */
        return proj_create_conversion_equidistant_cylindrical(ctx,
                                                              par(h, TIFF_G_proj_std_parallel1,
                                                                  TIFF_G_proj_center_lat,
                                                                  TIFF_G_proj_nat_origin_lat, 0),
                                                              ctr_lon, fe, fn, U);
    case 18: /* CassiniSoldner */
        return proj_create_conversion_cassini_soldner(ctx, nat_lat, nat_lon, fe, fn, U);
    case 19: /* Gnomonic */
        return proj_create_conversion_gnomonic(ctx, ctr_lat, ctr_lon, fe, fn, U);
    case 20: /* MillerCylindrical */
        return proj_create_conversion_miller_cylindrical(ctx, ctr_lon, fe, fn, U);
    case 21: /* Orthographic */
        return proj_create_conversion_orthographic(ctx, ctr_lat, ctr_lon, fe, fn, U);
    case 22: /* Polyconic */
        return proj_create_conversion_american_polyconic(ctx, nat_lat, nat_lon, fe, fn, U);
    case 23: /* Robinson */
        return proj_create_conversion_robinson(ctx, ctr_lon, fe, fn, U);
    case 24: /* Sinusoidal */
        return proj_create_conversion_sinusoidal(ctx, ctr_lon, fe, fn, U);
    case 25: /* VanDerGrinten */
        return proj_create_conversion_van_der_grinten(ctx, ctr_lon, fe, fn, U);
    case 26: /* NewZealandMapGrid */
        return proj_create_conversion_new_zealand_mapping_grid(ctx, nat_lat, nat_lon, fe, fn, U);
    case 28: /* CylindricalEqualArea */
        return proj_create_conversion_lambert_cylindrical_equal_area(ctx, sp1, nat_lon, fe, fn, U);
    }
#undef U
    return NULL;
}

static PJ *projected(PJ_CONTEXT *ctx, const tiff_header *h, char *msg, size_t msglen) {
    PJ *g = geographic(ctx, h, msg, msglen);
    if (!g)
        return NULL;
    const char *ln = "metre", *an;
    char lbuf[64], abuf[64];
    double lc = 1, ac, sz;
    int64_t u, code;
    if (gk_int(h, TIFF_G_proj_linear_units, &u)) {
        if (!unit_of(ctx, u, lbuf, sizeof lbuf, &ln, &lc)) {
            proj_destroy(g);
            snprintf(msg, msglen, "ProjLinearUnitsGeoKey %lld is not an EPSG unit", (long long)u);
            return NULL;
        }
    } else if (gk_dbl(h, TIFF_G_proj_linear_unit_size, &sz) && sz > 0) {
        ln = "unknown";
        lc = sz;
    }
    ang_unit(ctx, h, abuf, sizeof abuf, &an, &ac);
    PJ *conv = NULL;
    if (gk_int(h, TIFF_G_projection, &code) && is_code(code)) {
        conv = from_db(ctx, code, PJ_CATEGORY_COORDINATE_OPERATION);
        if (!conv)
            snprintf(msg, msglen, "ProjectionGeoKey %lld is not an EPSG conversion PROJ knows",
                     (long long)code);
    } else if (gk_int(h, TIFF_G_proj_coord_trans, &code)) {
        conv = conversion(ctx, h, code, an, ac, ln, lc);
        if (!conv)
            snprintf(msg, msglen, "ProjCoordTransGeoKey %lld is not supported", (long long)code);
    } else {
        snprintf(msg, msglen,
                 "user-defined projected CRS without ProjectionGeoKey or "
                 "ProjCoordTransGeoKey");
    }
    PJ *cs = conv ? proj_create_cartesian_2D_cs(ctx, PJ_CART2D_EASTING_NORTHING, ln, lc) : NULL;
    PJ *p = cs ? proj_create_projected_crs(ctx, "unnamed", g, conv, cs) : NULL;
    if (conv && !p)
        snprintf(msg, msglen, "PROJ could not build the user-defined projected CRS");
    proj_destroy(cs);
    proj_destroy(conv);
    proj_destroy(g);
    return p;
}

/* ProjLinearUnitsGeoKey beside an EPSG projected CRS of other units: libgeotiff and GDAL
 * let the key win (the EPSG conversion, coordinates in the key's unit). Returns the CRS to
 * use; msg set to "units" when it is no longer the EPSG one. */
static PJ *with_linear_units(PJ_CONTEXT *ctx, const tiff_header *h, PJ *p, char *msg,
                             size_t msglen) {
    int64_t u;
    const char *ln;
    char lbuf[64];
    double lc, have = 0;
    if (!gk_int(h, TIFF_G_proj_linear_units, &u) || !unit_of(ctx, u, lbuf, sizeof lbuf, &ln, &lc))
        return p;
    PJ *cs = proj_crs_get_coordinate_system(ctx, p);
    if (!cs || !proj_cs_get_axis_info(ctx, cs, 0, NULL, NULL, NULL, &have, NULL, NULL, NULL) ||
        fabs(have - lc) <= 1e-12 * lc) {
        proj_destroy(cs);
        return p;
    }
    proj_destroy(cs);
    PJ *base = proj_crs_get_geodetic_crs(ctx, p);
    PJ *conv = proj_crs_get_coordoperation(ctx, p);
    cs = proj_create_cartesian_2D_cs(ctx, PJ_CART2D_EASTING_NORTHING, ln, lc);
    PJ *q = base && conv && cs ? proj_create_projected_crs(ctx, "unnamed", base, conv, cs) : NULL;
    proj_destroy(base);
    proj_destroy(conv);
    proj_destroy(cs);
    proj_destroy(p);
    if (q)
        snprintf(msg, msglen, "units");
    return q;
}

/* A user-defined geographic CRS that only names an EPSG datum, in degrees on Greenwich, is
 * that datum's geographic CRS in the registry (libgeotiff maps datum to GCS the same way). */
static PJ *crs_of_datum(PJ_CONTEXT *ctx, const tiff_header *h, char *code, size_t codelen) {
    int64_t d, v;
    double pm;
    if (!gk_int(h, TIFF_G_geog_geodetic_datum, &d) || !is_code(d))
        return NULL;
    if ((gk_int(h, TIFF_G_geog_angular_units, &v) && v != 9102 && v != 9122) ||
        (gk_int(h, TIFF_G_geog_prime_meridian, &v) && v != 8901) ||
        (gk_dbl(h, TIFF_G_geog_prime_meridian_long, &pm) && pm != 0) ||
        gk_dbl(h, TIFF_G_geog_angular_unit_size, &pm))
        return NULL;
    char dc[16];
    snprintf(dc, sizeof dc, "%lld", (long long)d);
    PJ_OBJ_LIST *l = proj_query_geodetic_crs_from_datum(ctx, "EPSG", "EPSG", dc, "geographic 2D");
    PJ *g = NULL;
    for (int i = 0; l && i < proj_list_get_count(l) && !g; i++) {
        PJ *m = proj_list_get(ctx, l, i);
        const char *id = m ? proj_get_id_code(m, 0) : NULL;
        if (id && !proj_is_deprecated(m)) {
            snprintf(code, codelen, "EPSG:%s", id);
            g = m;
        } else {
            proj_destroy(m);
        }
    }
    proj_list_destroy(l);
    return g;
}

PJ *td__geo_crs_build(PJ_CONTEXT *ctx, const tiff_header *h, char *code, size_t codelen, char *msg,
                      size_t msglen) {
    *code = 0;
    *msg = 0;
    int64_t c;
    switch (model_type(h)) {
    case 1:
        if (gk_int(h, TIFF_G_projected_type, &c) && is_code(c)) {
            PJ *p = from_db(ctx, c, PJ_CATEGORY_CRS);
            if (!p) {
                snprintf(msg, msglen, "ProjectedCSTypeGeoKey %lld is not an EPSG CRS PROJ knows",
                         (long long)c);
                return NULL;
            }
            p = with_linear_units(ctx, h, p, msg, msglen);
            if (p && !*msg)
                snprintf(code, codelen, "EPSG:%lld", (long long)c);
            else if (p)
                *msg = 0; /* the units were overridden: a user-defined CRS, no code */
            return p;
        }
        return projected(ctx, h, msg, msglen);
    case 2: {
        bool coded = gk_int(h, TIFF_G_geographic_type, &c) && is_code(c);
        if (!coded) {
            PJ *g = crs_of_datum(ctx, h, code, codelen);
            if (g)
                return g;
        }
        PJ *g = geographic(ctx, h, msg, msglen);
        if (g && coded)
            snprintf(code, codelen, "EPSG:%lld", (long long)c);
        return g;
    }
    case 3:
        snprintf(msg, msglen, "geocentric model (ModelTypeGeoKey 3) has no map footprint");
        return NULL;
    case -1:
        snprintf(msg, msglen, "user-defined ModelTypeGeoKey: CRS not read from the citation");
        return NULL;
    }
    snprintf(msg, msglen, "GeoKeys name no CRS");
    return NULL;
}
