/* report.h - `tiff-dumper report`: aggregation of a dump and its HTML page (the whole
 * contract of src/report, map.h aside).
 *
 * Pure and I/O-free: the caller reads OUT (part files, _errors/, _SUCCESS) and hands rows
 * in; the page is appended to a caller's ut_buf. Memory is bounded whatever the number of
 * rows: counters per histogram value (at most TD_REPORT_MAX_KEYS distinct values each, the
 * rest counted under "(other)"), the first TD_REPORT_SAMPLES paths per error kind, and the
 * map's own bound (map.h: a density grid above max_shapes).
 *
 * The page is one self-contained HTML file: inline CSS and SVG, no script, no external
 * resource. Every string from the data is HTML-escaped (paths are hostile input). Every
 * figure has a table beside it whose rows carry data-key / data-count attributes (for
 * tests and scrapers) and the DuckDB SQL that gives the same numbers from the files.
 *
 *   td_report *r; td_report_new(&r, &opts, msg, sizeof msg);
 *   for each headers row: td_report_add_header(r, &row); td_report_add_cog_error(r, s, n)...
 *   for each errors row:  td_report_add_error(r, &err);
 *   td_report_html(r, &run, &buf, msg, sizeof msg); td_report_free(r);
 */
#ifndef REPORT_REPORT_H
#define REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define TD_REPORT_MAX_KEYS 4096u /* distinct values kept per histogram */
#define TD_REPORT_SAMPLES 5u     /* paths kept per error kind (the first ones read) */

typedef struct td_report td_report;

typedef struct td_report_options {
    uint64_t prefetch_bytes;   /* fetch.prefetch_bytes of the run; 0 = 16384 (the default) */
    int map_width, map_height; /* 0 = the map's defaults */
    size_t map_max_shapes;     /* 0 = the map's default */
    /* Names an EPSG code ("EPSG:32633" -> "WGS 84 / UTM zone 33N") into out; 0 if named.
     * NULL: codes only. Called once per distinct code when the page is rendered. */
    int (*crs_name)(void *ud, const char *code, char *out, size_t cap);
    void *crs_ud;
} td_report_options;

/* One row of the headers table, as far as the report uses it. -1 = null for integers. A
 * string is s/len (NULL = null), valid during the call only. */
typedef struct td_report_row {
    int64_t compression, bits, sample_format; /* bits / sample_format: first sample's */
    int64_t tile_width, tile_height;          /* null: stripped */
    int64_t width, height;
    int64_t overview_count;
    int cog_valid; /* -1 null, 0, 1 */
    int64_t ifd_bytes, requests, fetched_bytes;
    const char *proj_code;
    size_t proj_code_len;
    const uint8_t *wkb; /* geometry (WKB, OGC:CRS84), NULL = none */
    size_t wkb_len;
    bool has_bbox;
    double bbox[4]; /* xmin, ymin, xmax, ymax */
} td_report_row;
#define TD_REPORT_ROW_INIT                                                         \
    {                                                                              \
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, NULL, 0, NULL, 0, false, { \
            0, 0, 0, 0                                                             \
        }                                                                          \
    }

/* One row of the errors table. */
typedef struct td_report_error {
    const char *stage, *kind, *path; /* NULL = null */
    size_t stage_len, kind_len, path_len;
} td_report_error;

/* What the page says about the run besides the rows. */
typedef struct td_report_run {
    const char *out_shown;    /* OUT as the user named it (shown, and in the SQL) */
    const char *success_json; /* _SUCCESS's text, NULL when there is none */
    size_t success_len;
    bool complete;          /* OUT has _SUCCESS: else an "incomplete run" banner */
    unsigned shard_markers; /* _SUCCESS.shard-* files found */
    /* No _SUCCESS, and success_json is the sum of summary_markers shard markers of
     * shard_count shards (0: it is not). The page says so; "incomplete" when fewer than
     * shard_count. markers_note: which shards are missing (summed from fewer), or why the
     * markers could not be summed (success_json NULL); NULL or "": nothing to say. */
    uint32_t summary_markers, shard_count;
    const char *markers_note;
    uint64_t header_files, error_files;
    const char *generated_at; /* RFC 3339 UTC time of the report */
    const char *tool_version;
} td_report_run;

/* 0, or -1 with a message (out of memory, the map refused its options). */
int td_report_new(td_report **out, const td_report_options *o, char *msg, size_t cap);
void td_report_add_header(td_report *r, const td_report_row *row);
/* One item of the row's cog_errors list (call after td_report_add_header of its row). */
void td_report_add_cog_error(td_report *r, const char *s, size_t n);
void td_report_add_error(td_report *r, const td_report_error *e);
/* Rows seen so far. */
uint64_t td_report_headers(const td_report *r);
uint64_t td_report_errors(const td_report *r);

/* Counts of one histogram, for tests: name is a histogram id ("crs", "compression",
 * "dtype", "tile", "overviews", "cog", "cog_reasons", "requests", "ifd_bytes",
 * "image_size", "footprint", "errors"); the value of key, 0 when absent; -1 for an
 * unknown histogram. */
int64_t td_report_count(const td_report *r, const char *hist, const char *key);

/* Appends the page to out (set out->limit high enough: the map may take megabytes). 0, or
 * -1 with a message. */
int td_report_html(td_report *r, const td_report_run *run, ut_buf *out, char *msg, size_t cap);
void td_report_free(td_report *r);

/* Helpers the page uses, exposed for tests: HTML-escape s[0..n) into out (& < > " ' and
 * every control byte; invalid UTF-8 as \xNN); the name of a TIFF Compression code (NULL
 * when unknown). */
void td_report_html_escape(ut_buf *out, const char *s, size_t n);
const char *td_report_compression_name(int64_t code);

#endif
