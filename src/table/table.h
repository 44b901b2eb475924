/* table.h - the tool's two output tables (schema version TD_SCHEMA_VERSION): the ONE place
 * that defines them.
 *
 * headers: one row per parsed TIFF. Columns, in order:
 *   path STRING (required), path_bytes BINARY, size INT64, last_modified TIMESTAMP_MILLIS
 *   (UTC), etag STRING, byte_order STRING ("II"/"MM"), bigtiff BOOLEAN, first_ifd_offset INT64,
 * ifd_count INT64, ifd_chain_error STRING, then the images block (ifd_bytes INT64,
 *   first_data_offset INT64, overview_count / mask_count INT32, sparse_tiles INT64, empty /
 *   cog_valid BOOLEAN, cog_errors / cog_warnings LIST<STRING>, gdal_structural_metadata
 *   MAP<STRING,STRING>, ifds LIST<STRUCT<...>>: td_table_columns() lists them),
 *   fetched_bytes INT64, requests INT32,
 *   then every TIFF_FIELDS entry by name (INT/COUNT -> INT64, DOUBLE -> DOUBLE,
 *   STRING -> STRING, BINARY -> BINARY, INT_LIST -> LIST<INT64>, DOUBLE_LIST -> LIST<DOUBLE>),
 *   geokeys STRUCT<one field per TIFF_GEOKEYS name> (null when no GeoKeyDirectory),
 *   geokeys_header LIST<INT64>, geokeys_other MAP<STRING,STRING>, other_tags
 *   MAP<STRING,STRING> (key: decimal tag/key id, value: the tiff_extra JSON text),
 *   warnings LIST<STRING>, defaulted LIST<STRING> (columns filled with async-tiff's defaults),
 *   then the georeferencing (td_geo_facts): geometry BINARY (WKB, OGC:CRS84), bbox
 *   STRUCT<xmin, ymin, xmax, ymax DOUBLE> (GeoParquet covering), proj_code STRING, proj_shape
 *   LIST<INT64>, proj_transform LIST<DOUBLE>, proj_bbox LIST<DOUBLE>, proj_wkt2 STRING,
 *   proj_projjson STRING.
 * errors: one row per object that failed:
 *   path STRING (required), path_bytes BINARY, size INT64, stage STRING
 *   ("list"/"fetch"/"parse"), kind STRING (stable short code), message STRING, http_status INT32,
 * attempts INT32. All columns but path are optional; the schema is the same in every file whatever
 * the data.
 *
 * Keys are bytes, STRING values are UTF-8. A path that is not valid UTF-8 is written with
 * each byte that is not part of a valid sequence as \xNN (ut_utf8_escape: the text Python's
 * bytes.decode('utf-8', 'backslashreplace') gives), and its exact bytes go to path_bytes,
 * which is null for every other path. Any other STRING value is escaped the same way by
 * the Parquet writer (parquet.h).
 *
 *   pq_schema *s; td_headers_cols c;
 *   td_table_headers_schema(&s, &c);
 *   pq_writer_open(&w, s, &sink, &opts);          // opts.kv may carry td_table_kv()
 *   td_table_write_header(w, &c, &facts, hdr);     // one complete row (calls pq_end_row)
 *   pq_writer_close(w); pq_schema_free(s);
 */
#ifndef TABLE_TABLE_H
#define TABLE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet.h"
#include "tiff.h"

/* Bumped whenever a column is added, removed, or changes type or meaning (README, "Output
 * schema"). 2: path_bytes added; STRING values always UTF-8. 3: every image and the COG
 * verdict (ifds, overview_count, cog_valid, ...), header_bytes replaced by ifd_bytes and
 * first_data_offset; defaulted added, with compression, planar_configuration and
 * sample_format holding async-tiff's defaults; GeoParquet footprint and STAC projection
 * columns (geometry ... proj_projjson) and the `geo` file metadata. */
#define TD_SCHEMA_VERSION 3
/* File key-value metadata key whose value is the decimal TD_SCHEMA_VERSION. */
#define TD_SCHEMA_VERSION_KEY "tiff_dumper.schema_version"
#define TD_SIZE_NONE UINT64_MAX /* td_*_facts.size unknown -> null */
#define TD_MTIME_NONE INT64_MIN /* td_object_facts.mtime_ms unknown -> null */

/* Node ids of the headers schema (filled by td_table_headers_schema). */
typedef struct td_headers_cols {
    int path, path_bytes, size, last_modified, etag, byte_order, bigtiff, first_ifd_offset,
        ifd_count, ifd_chain_error, fetched_bytes, requests;
    /* every image and the COG verdict (issue 15) */
    struct {
        int ifd_bytes, first_data_offset, overview_count, mask_count, sparse_tiles, empty,
            cog_valid, cog_errors, cog_warnings, ghost, ifds;
        int index, parent, position, ifd_offset, kind, num[13], blocks, data_offset, sparse;
    } im;
    int field[TIFF_FIELD_COUNT];
    int geokeys; /* the struct */
    int geokey[TIFF_GEOKEY_COUNT];
    int geokeys_header, geokeys_other, other_tags, warnings;
    int defaulted; /* columns filled with async-tiff defaults */
    /* georeferencing (td_geo_facts) */
    int geometry, bbox, bbox_xmin, bbox_ymin, bbox_xmax, bbox_ymax, proj_code, proj_shape,
        proj_transform, proj_bbox, proj_wkt2, proj_projjson;
} td_headers_cols;

/* Georeferencing of a row, computed by the caller (src/geo): the table only writes values.
 * NULL pointers are nulls. */
typedef struct td_geo_facts {
    const uint8_t *wkb; /* footprint, OGC:CRS84 WKB (Polygon or MultiPolygon) */
    size_t wkb_len;
    bool multi;              /* the WKB is a MultiPolygon */
    const double *bbox;      /* [xmin, ymin, xmax, ymax] of the footprint (xmin > xmax: it
                                crosses the antimeridian) */
    const char *proj_code;   /* "EPSG:32633" */
    const int64_t *shape;    /* [height, width] */
    const double *transform; /* [a, b, c, d, e, f] */
    const double *proj_bbox; /* native CRS [xmin, ymin, xmax, ymax] */
    const char *proj_wkt2, *proj_projjson;
    const char *warning; /* appended to the row's warnings */
} td_geo_facts;

/* What the tool knows about the object besides its header. */
typedef struct td_object_facts {
    const char *path; /* the key's bytes, not NUL-terminated necessarily */
    size_t path_len;
    uint64_t size;    /* TD_SIZE_NONE = unknown */
    int64_t mtime_ms; /* ms since epoch UTC; TD_MTIME_NONE = unknown */
    const char *etag; /* NUL-terminated, NULL = unknown */
    uint64_t fetched_bytes;
    int32_t requests;
    const td_geo_facts *geo; /* NULL = no georeferencing (all geo columns null) */
} td_object_facts;

typedef struct td_errors_cols {
    int path, path_bytes, size, stage, kind, message, http_status, attempts;
} td_errors_cols;

typedef struct td_error_facts {
    const char *path;
    size_t path_len;
    uint64_t size;       /* TD_SIZE_NONE = unknown */
    const char *stage;   /* "list", "fetch" or "parse"; NUL-terminated */
    const char *kind;    /* stable short code, e.g. tiff_err_name() or "http" */
    const char *message; /* NULL = null */
    int32_t http_status; /* 0 = none (null) */
    int32_t attempts;    /* < 0 = unknown (null) */
} td_error_facts;

/* Build a new schema (caller frees with pq_schema_free). Returns PQ_OK or a pq_code. */
int td_table_headers_schema(pq_schema **out, td_headers_cols *cols);
int td_table_errors_schema(pq_schema **out, td_errors_cols *cols);

/* Write one complete row (ends it with pq_end_row). Returns PQ_OK or a pq_code; the
 * message is in pq_writer_errmsg(w). The header's strings are written as they are (tiff.h
 * guarantees STRING values are UTF-8; the writer escapes anything else). */
int td_table_write_header(pq_writer *w, const td_headers_cols *c, const td_object_facts *facts,
                          const tiff_header *h);
int td_table_write_error(pq_writer *w, const td_errors_cols *c, const td_error_facts *facts);

/* ---- issue 14 (d1): async-tiff 0.1.0's defaults (td_table_write_header applies them) ----
 * A value a row holds although the file has no such tag: compression = 1,
 * planar_configuration = 1 and sample_format = [1] * samples_per_pixel (1 when that is
 * absent too), exactly what async-tiff 0.1.0's ImageFileDirectory fills. The column
 * `defaulted` lists their names; `info` shows the same. */
#define TD_TABLE_MAX_DEFAULTS 3
typedef struct td_field_default {
    int field;        /* TIFF_F_* */
    const char *name; /* the column */
    int64_t value;    /* the value, or each item of the list */
    size_t list_len;  /* 0: a scalar; else the list's length */
} td_field_default;
/* Fills out with the defaults h needs, in column order; returns how many. */
size_t td_table_defaults(const tiff_header *h, td_field_default out[TD_TABLE_MAX_DEFAULTS]);

/* The file key-value metadata every output file carries ({TD_SCHEMA_VERSION_KEY, "3"}). */
const pq_kv *td_table_kv(size_t *n);

/* GeoParquet 1.1 file metadata of a headers file: its value depends on the rows (bbox,
 * geometry_types), so it is gathered while writing and set before close:
 *   td_geo_summary g = TD_GEO_SUMMARY_INIT;  ... td_geo_summary_add(&g, facts.geo) per row
 *   td_table_geo_json(&g, buf, sizeof buf); pq_writer_set_kv(w, TD_GEO_KEY, buf);      */
#define TD_GEO_KEY "geo"
typedef struct td_geo_summary {
    bool polygon, multi; /* geometry types seen */
    double bbox[4];      /* over all footprints; x over [-180, 180] once one crosses */
} td_geo_summary;
#define TD_GEO_SUMMARY_INIT          \
    {                                \
        false, false, { 0, 0, 0, 0 } \
    }
void td_geo_summary_add(td_geo_summary *g, const td_geo_facts *f);
/* The `geo` JSON value. Returns its length (>= len: cut, use a larger buffer). */
size_t td_table_geo_json(const td_geo_summary *g, char *buf, size_t len);

/* The schema as a documented list, for the README (tests/table/print_schema prints it). */
typedef struct td_column_doc {
    const char *name; /* geokeys fields as "geokeys.model_type" */
    const char *type; /* "STRING", "INT64", "LIST<INT64>", "MAP<STRING,STRING>", "STRUCT" ... */
    const char *doc;  /* one line */
} td_column_doc;
typedef enum { TD_TABLE_HEADERS, TD_TABLE_ERRORS } td_table_id;
size_t td_table_columns(td_table_id t, const td_column_doc **out);

#endif
