/* tiff.h - TIFF / BigTIFF / GeoTIFF header parser: the module's whole contract.
 *
 * Pure: no I/O, no globals, no threads. The caller hands in byte ranges of one object
 * (typically a single prefetch from offset 0); the parser either completes the header or
 * says which further ranges it needs. It reads the strip/tile offset and byte-count arrays of
 * every image (tiff_images) like any other value; a COG keeps them with its IFDs before the
 * data, so a COG whose IFDs fit the prefetch still costs exactly one request.
 *
 *   tiff_parser *p = tiff_parser_new(NULL);
 *   tiff_parser_reset(p, object_size);            // per object; reuses memory
 *   tiff_parser_feed(p, 0, buf, n);                // bytes [0, n), not copied
 *   while ((rc = tiff_parser_run(p)) == TIFF_NEED) {
 *       const tiff_range *r; size_t k = tiff_parser_needs(p, &r);
 *       ... fetch r[0..k), tiff_parser_feed() each ...
 *   }
 *   if (rc == TIFF_OK) use(tiff_parser_header(p)); else report(tiff_parser_errmsg(p));
 *
 * Every count read from a file is checked against tiff_limits before anything is allocated
 * or requested: memory is bounded by the caller, never by the file.
 *
 * Layout (tiff_internal.h is what the files share):
 *   tiff.c        the reader: lifecycle, fed bytes and needs, passes and rounds, arena, names
 *   tiff_ifd.c    IFD 0: file header, entry decoding, named fields, other_tags
 *   tiff_geo.c    GeoKeyDirectory and its params arrays into the GeoKeys
 *   tiff_chain.c  the IFD chain walk (count, cycles), SubIFDs, one record per image
 *   tiff_cog.c    the GDAL ghost header, overview / mask counts, the COG verdict
 *   tiff_value.c  values as numbers / tifffile's text, JSON texts of unnamed tags
 *   tiff_json.c   tiff_header_to_json (the `info --json` line)
 */
#ifndef TIFF_TIFF_H
#define TIFF_TIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Return codes. Negative = error; the name (tiff_err_name) is the stable short code that
 * ends up in the "kind" column of the errors output. */
#define TIFF_ERRNO_MAP(X)                                                             \
    X(OK, 0, "ok", "header complete")                                                 \
    X(NEED, 1, "need", "more bytes needed: see tiff_parser_needs()")                  \
    X(E_NOT_TIFF, -1, "not_tiff", "not a TIFF (bad byte order mark or magic number)") \
    X(E_TRUNCATED, -2, "truncated", "object ends inside the header")                  \
    X(E_BAD_IFD, -3, "bad_ifd", "first IFD is unusable")                              \
    X(E_LIMIT, -4, "limit", "a caller-set limit was exceeded")                        \
    X(E_NOMEM, -5, "nomem", "out of memory")                                          \
    X(E_USAGE, -6, "usage", "API misuse (bytes fed outside the object, run after error)")

typedef enum {
#define TIFF_X_ENUM(name, code, short_name, text) TIFF_##name = code,
    TIFF_ERRNO_MAP(TIFF_X_ENUM)
#undef TIFF_X_ENUM
} tiff_code;

const char *tiff_err_name(int code); /* "not_tiff" ... ; "unknown" otherwise */
const char *tiff_strerror(int code);

/* How a named field's value is stored in tiff_value. */
typedef enum {
    TIFF_K_INT,         /* u.i                                              */
    TIFF_K_INT_LIST,    /* u.ints[0..count)                                 */
    TIFF_K_DOUBLE,      /* u.d (rationals as num/den; absent when den == 0) */
    TIFF_K_DOUBLE_LIST, /* u.dbls[0..count)                                 */
    TIFF_K_STRING,      /* u.str, count bytes, valid UTF-8, NUL-terminated  */
    TIFF_K_BINARY,      /* u.bytes[0..count)                                */
    TIFF_K_COUNT        /* u.i = the entry's count (the arrays: see tiff_images) */
} tiff_kind;

/* Named fields of the first IFD: X(name, tag, kind). Names are async-tiff 0.1.0's and are
 * the column names of the Parquet output and the keys of `info --json`. */
#define TIFF_FIELDS(X)                                 \
    X(new_subfile_type, 254, TIFF_K_INT)               \
    X(image_width, 256, TIFF_K_INT)                    \
    X(image_height, 257, TIFF_K_INT)                   \
    X(bits_per_sample, 258, TIFF_K_INT_LIST)           \
    X(compression, 259, TIFF_K_INT)                    \
    X(photometric_interpretation, 262, TIFF_K_INT)     \
    X(document_name, 269, TIFF_K_STRING)               \
    X(image_description, 270, TIFF_K_STRING)           \
    X(orientation, 274, TIFF_K_INT)                    \
    X(samples_per_pixel, 277, TIFF_K_INT)              \
    X(rows_per_strip, 278, TIFF_K_INT)                 \
    X(min_sample_value, 280, TIFF_K_INT_LIST)          \
    X(max_sample_value, 281, TIFF_K_INT_LIST)          \
    X(x_resolution, 282, TIFF_K_DOUBLE)                \
    X(y_resolution, 283, TIFF_K_DOUBLE)                \
    X(planar_configuration, 284, TIFF_K_INT)           \
    X(resolution_unit, 296, TIFF_K_INT)                \
    X(software, 305, TIFF_K_STRING)                    \
    X(date_time, 306, TIFF_K_STRING)                   \
    X(artist, 315, TIFF_K_STRING)                      \
    X(host_computer, 316, TIFF_K_STRING)               \
    X(predictor, 317, TIFF_K_INT)                      \
    X(tile_width, 322, TIFF_K_INT)                     \
    X(tile_height, 323, TIFF_K_INT)                    \
    X(extra_samples, 338, TIFF_K_INT_LIST)             \
    X(sample_format, 339, TIFF_K_INT_LIST)             \
    X(jpeg_tables, 347, TIFF_K_BINARY)                 \
    X(copyright, 33432, TIFF_K_STRING)                 \
    X(model_pixel_scale, 33550, TIFF_K_DOUBLE_LIST)    \
    X(model_tiepoint, 33922, TIFF_K_DOUBLE_LIST)       \
    X(model_transformation, 34264, TIFF_K_DOUBLE_LIST) \
    X(strip_offsets_count, 273, TIFF_K_COUNT)          \
    X(strip_byte_counts_count, 279, TIFF_K_COUNT)      \
    X(tile_offsets_count, 324, TIFF_K_COUNT)           \
    X(tile_byte_counts_count, 325, TIFF_K_COUNT)       \
    X(gdal_metadata, 42112, TIFF_K_STRING)             \
    X(gdal_nodata, 42113, TIFF_K_STRING)

/* GeoKeyDirectory keys async-tiff 0.1.0 names: X(name, key id, kind), kind one of
 * TIFF_K_INT (SHORT in the directory), TIFF_K_DOUBLE (GeoDoubleParams), TIFF_K_STRING
 * (GeoAsciiParams, trailing '|' removed). */
#define TIFF_GEOKEYS(X)                                  \
    X(model_type, 1024, TIFF_K_INT)                      \
    X(raster_type, 1025, TIFF_K_INT)                     \
    X(citation, 1026, TIFF_K_STRING)                     \
    X(geographic_type, 2048, TIFF_K_INT)                 \
    X(geog_citation, 2049, TIFF_K_STRING)                \
    X(geog_geodetic_datum, 2050, TIFF_K_INT)             \
    X(geog_prime_meridian, 2051, TIFF_K_INT)             \
    X(geog_linear_units, 2052, TIFF_K_INT)               \
    X(geog_linear_unit_size, 2053, TIFF_K_DOUBLE)        \
    X(geog_angular_units, 2054, TIFF_K_INT)              \
    X(geog_angular_unit_size, 2055, TIFF_K_DOUBLE)       \
    X(geog_ellipsoid, 2056, TIFF_K_INT)                  \
    X(geog_semi_major_axis, 2057, TIFF_K_DOUBLE)         \
    X(geog_semi_minor_axis, 2058, TIFF_K_DOUBLE)         \
    X(geog_inv_flattening, 2059, TIFF_K_DOUBLE)          \
    X(geog_azimuth_units, 2060, TIFF_K_INT)              \
    X(geog_prime_meridian_long, 2061, TIFF_K_DOUBLE)     \
    X(projected_type, 3072, TIFF_K_INT)                  \
    X(proj_citation, 3073, TIFF_K_STRING)                \
    X(projection, 3074, TIFF_K_INT)                      \
    X(proj_coord_trans, 3075, TIFF_K_INT)                \
    X(proj_linear_units, 3076, TIFF_K_INT)               \
    X(proj_linear_unit_size, 3077, TIFF_K_DOUBLE)        \
    X(proj_std_parallel1, 3078, TIFF_K_DOUBLE)           \
    X(proj_std_parallel2, 3079, TIFF_K_DOUBLE)           \
    X(proj_nat_origin_long, 3080, TIFF_K_DOUBLE)         \
    X(proj_nat_origin_lat, 3081, TIFF_K_DOUBLE)          \
    X(proj_false_easting, 3082, TIFF_K_DOUBLE)           \
    X(proj_false_northing, 3083, TIFF_K_DOUBLE)          \
    X(proj_false_origin_long, 3084, TIFF_K_DOUBLE)       \
    X(proj_false_origin_lat, 3085, TIFF_K_DOUBLE)        \
    X(proj_false_origin_easting, 3086, TIFF_K_DOUBLE)    \
    X(proj_false_origin_northing, 3087, TIFF_K_DOUBLE)   \
    X(proj_center_long, 3088, TIFF_K_DOUBLE)             \
    X(proj_center_lat, 3089, TIFF_K_DOUBLE)              \
    X(proj_center_easting, 3090, TIFF_K_DOUBLE)          \
    X(proj_center_northing, 3091, TIFF_K_DOUBLE)         \
    X(proj_scale_at_nat_origin, 3092, TIFF_K_DOUBLE)     \
    X(proj_scale_at_center, 3093, TIFF_K_DOUBLE)         \
    X(proj_azimuth_angle, 3094, TIFF_K_DOUBLE)           \
    X(proj_straight_vert_pole_long, 3095, TIFF_K_DOUBLE) \
    X(vertical, 4096, TIFF_K_INT)                        \
    X(vertical_citation, 4097, TIFF_K_STRING)            \
    X(vertical_datum, 4098, TIFF_K_INT)                  \
    X(vertical_units, 4099, TIFF_K_INT)

typedef enum {
#define TIFF_X_FIELD(name, tag, kind) TIFF_F_##name,
    TIFF_FIELDS(TIFF_X_FIELD)
#undef TIFF_X_FIELD
        TIFF_FIELD_COUNT
} tiff_field_id;

typedef enum {
#define TIFF_X_GEOKEY(name, id, kind) TIFF_G_##name,
    TIFF_GEOKEYS(TIFF_X_GEOKEY)
#undef TIFF_X_GEOKEY
        TIFF_GEOKEY_COUNT
} tiff_geokey_id;

/* Static descriptions, for table-driven code (schemas, JSON, tests). */
typedef struct tiff_field_info {
    const char *name;
    uint16_t tag; /* tag id, or GeoKey id */
    tiff_kind kind;
} tiff_field_info;
extern const tiff_field_info tiff_field_infos[TIFF_FIELD_COUNT];
extern const tiff_field_info tiff_geokey_infos[TIFF_GEOKEY_COUNT];

typedef struct tiff_value {
    bool present;
    uint64_t count; /* items for *_LIST, bytes for STRING/BINARY, 1 otherwise */
    union {
        int64_t i;
        double d;
        const int64_t *ints;
        const double *dbls;
        const char *str;
        const uint8_t *bytes;
    } u;
} tiff_value;

/* A tag or GeoKey without a name of its own, rendered as one JSON text:
 *   {"type":T,"count":N,"value":V}
 * in the conventions of tests/corpus/README.md (BYTE/UNDEFINED as a lowercase hex string,
 * ASCII as a string, rationals as [num,den] pairs, NaN/Infinity as strings, otherwise a
 * list). When the value exceeds tiff_limits.max_tag_text the list is cut and
 * ,"capped":true is added before the closing brace. */
typedef struct tiff_extra {
    uint16_t id; /* tag id, or GeoKey id */
    const char *json;
    size_t json_len;
    bool capped;
} tiff_extra;

/* ---- Every image and the COG verdict (issue 15) ----
 * The walk records each IFD of the main chain and, breadth first, the IFDs its SubIFDs
 * tags (330) list (each listed offset only, not a chain hanging off it), at most
 * TIFF_MAX_IMAGES records; offsets already visited are not walked twice. For each record
 * it reads the strip/tile offset and byte-count arrays (asking for them like any other
 * value, within max_fetch_bytes). A number that could not be read is TIFF_ABSENT. */
#define TIFF_ABSENT INT64_MIN
#define TIFF_MAX_IMAGES 4096u
#define TIFF_MAX_COG_MSGS 64u
#define TIFF_MAX_GHOST_KV 32u

typedef enum { TIFF_IMG_MAIN, TIFF_IMG_OVERVIEW, TIFF_IMG_MASK, TIFF_IMG_PAGE } tiff_image_kind;
const char *tiff_image_kind_name(tiff_image_kind k); /* "main" "overview" "mask" "page" */

typedef struct tiff_image {
    uint32_t index;    /* position in tiff_images.v: the main chain first, then SubIFDs */
    int32_t parent;    /* -1: main chain; else index of the image whose SubIFDs list it */
    uint32_t position; /* in the main chain, or in the parent's SubIFDs list */
    uint64_t ifd_offset;
    tiff_image_kind kind; /* IFD 0: main; NewSubfileType bit 2: mask; bit 0: overview;
                             otherwise page */
    /* first value of the tag, TIFF_ABSENT when missing or unreadable */
    int64_t width, height, tile_width, tile_height, rows_per_strip, compression, photometric,
        samples_per_pixel, bits_per_sample, sample_format, new_subfile_type, planar, predictor;
    int64_t blocks;            /* tiles (when tiled) or strips: entries of the offsets array */
    int64_t first_data_offset; /* smallest offset of a block with data (offset and byte count
                                  both non-zero); TIFF_ABSENT: none, or arrays not read */
    int64_t sparse_blocks;     /* blocks with offset 0 or byte count 0; TIFF_ABSENT: not read */
} tiff_image;

typedef struct tiff_kv {
    const char *key, *value;
} tiff_kv;

typedef struct tiff_images {
    const tiff_image *v;
    size_t n;
    bool complete; /* every IFD of the chain and its SubIFDs recorded with its arrays */
    /* end of the furthest IFD structure (count, entries, next pointer) or out-of-line value
       of any recorded IFD: the prefetch a reader needs for every IFD */
    uint64_t ifd_bytes;
    int64_t first_data_offset; /* smallest over the images; TIFF_ABSENT: none known */
    int32_t overview_count;    /* as GDAL's GetOverviewCount() on band 1 (see tiff_cog.c) */
    int32_t mask_count;        /* masks GDAL attaches: of the main image and of overviews */
    int64_t sparse_tiles;      /* of the main image; TIFF_ABSENT when its arrays are unread */
    int empty;                 /* all of the main image's blocks sparse: 1 / 0; -1 unknown */
    int cog_valid;             /* GDAL validator verdict: 1 / 0; -1 unknown (a check could
                                  not run: a warning says which) */
    const char *const *cog_errors;
    size_t n_cog_errors;
    const char *const *cog_warnings;
    size_t n_cog_warnings;
    /* TIFF_OPT_FIRST_IFD was set: IFD 0 alone was read, with its strip/tile arrays (v holds
       its record, sparse_tiles and empty are set); the chain, the other images, ifd_bytes,
       first_data_offset, the counts, the verdict and the ghost header are not known */
    bool first_only;
    bool has_ghost; /* GDAL_STRUCTURAL_METADATA_SIZE block right after the file header */
    const tiff_kv *ghost;
    size_t n_ghost;
} tiff_images;

typedef struct tiff_header {
    bool little_endian; /* "II" */
    bool bigtiff;       /* magic 43 */
    uint64_t first_ifd_offset;
    uint32_t ifd_count;          /* IFDs in the main chain, cycle-safe */
    const char *ifd_chain_error; /* why the chain walk stopped early, or NULL */
    tiff_value field[TIFF_FIELD_COUNT];
    bool has_geokeys; /* tag 34735 present and usable */
    uint16_t geokeys_header[4];
    tiff_value geokey[TIFF_GEOKEY_COUNT];
    const tiff_extra *geokeys_other; /* key ids with no name above */
    size_t n_geokeys_other;
    const tiff_extra *other_tags; /* every other entry of IFD 0, ascending tag id */
    size_t n_other_tags;
    const char *const *warnings; /* sound partial results kept; each names tag/offset */
    size_t n_warnings;
    tiff_images images; /* every IFD, the COG verdict (issue 15) */
} tiff_header;

typedef struct tiff_range {
    uint64_t offset;
    uint64_t length;
} tiff_range;

typedef struct tiff_limits {
    uint64_t max_fetch_bytes; /* total bytes the parser may ask for per object      */
    size_t max_memory;        /* decoded values, texts and warnings per object      */
    uint32_t max_ifds;        /* IFDs walked to count the chain                     */
    size_t max_tag_text;      /* per other_tags / geokeys_other JSON text           */
    size_t max_warnings;
    uint64_t min_request; /* follow-up ranges are grown to at least this size,
                             so small neighbouring needs merge into one request */
} tiff_limits;

#define TIFF_SIZE_UNKNOWN UINT64_MAX
#define TIFF_LIMITS_INIT \
    { 16u << 20, 4u << 20, 100000u, 4096u, 64u, 4096u }

typedef struct tiff_parser tiff_parser;

/* NULL limits = TIFF_LIMITS_INIT. NULL on allocation failure. */
tiff_parser *tiff_parser_new(const tiff_limits *limits);
void tiff_parser_free(tiff_parser *p);

/* Parse options, kept across resets (0 = the default: every IFD and the COG verdict).
 * TIFF_OPT_FIRST_IFD: IFD 0 only, what the Python tool reads: no walk of the IFD chain or
 * SubIFDs, no ghost header, no verdict (tiff_images.first_only), so fewer bytes and less
 * work per object. */
#define TIFF_OPT_FIRST_IFD 1u
void tiff_parser_set_options(tiff_parser *p, unsigned flags);

/* Begin a new object of `size` bytes (TIFF_SIZE_UNKNOWN if not known yet: then the parser
 * will not treat a short feed as the end of the object). Keeps allocated memory. */
void tiff_parser_reset(tiff_parser *p, uint64_t size);

/* Tell the parser the object's size once known (e.g. from a Content-Range). */
void tiff_parser_set_size(tiff_parser *p, uint64_t size);

/* Hand in bytes [offset, offset+len) of the object. Not copied: the bytes must stay valid
 * until the next reset. Returns TIFF_OK or TIFF_E_USAGE / TIFF_E_LIMIT. */
int tiff_parser_feed(tiff_parser *p, uint64_t offset, const void *data, size_t len);

/* Advance as far as the fed bytes allow. TIFF_OK: header complete. TIFF_NEED: fetch the
 * ranges of tiff_parser_needs(), feed them, run again. Negative: error, message in
 * tiff_parser_errmsg() naming what is wrong and where (offset, tag). */
int tiff_parser_run(tiff_parser *p);

/* The missing ranges after TIFF_NEED: sorted, disjoint, neighbouring gaps merged, clipped to
 * the object size when known. Valid until the next feed/run/reset. */
size_t tiff_parser_needs(const tiff_parser *p, const tiff_range **out);

/* The header after TIFF_OK; valid until the next reset. NULL otherwise. */
const tiff_header *tiff_parser_header(const tiff_parser *p);

/* Message of the last error ("" if none), e.g. "IFD 0 at offset 1234: entry count 65535
 * needs 786434 bytes but the object has 2000". Valid until the next reset/run. */
const char *tiff_parser_errmsg(const tiff_parser *p);

/* Bytes the parser has been fed for this object, summed over feeds. */
uint64_t tiff_parser_fed_bytes(const tiff_parser *p);

/* One-line JSON object for a header, keys as the Parquet columns (file-level facts, every
 * named field, "geokeys" object or null, "geokeys_other" and "other_tags" objects keyed by
 * decimal id holding the parsed tiff_extra JSON, "warnings"). Appends to a caller buffer:
 * *buf is realloc()ed as needed. Returns TIFF_OK or TIFF_E_NOMEM. */
int tiff_header_to_json(const tiff_header *h, char **buf, size_t *len, size_t *cap);

#endif
