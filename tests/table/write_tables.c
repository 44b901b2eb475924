/* write_tables.c - writes headers/errors tables from hand-made tiff_header structs (no
 * parser), plus the documented column list as JSON, for check_table.mjs (DuckDB).
 *
 *   td_table_write OUT_DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

static int file_write(void *ctx, const void *p, size_t n) {
    return fwrite(p, 1, n, (FILE *)ctx) == n ? 0 : -1;
}

static void die(const char *what, int rc, pq_writer *w) {
    fprintf(stderr, "%s: %s %s\n", what, pq_err_name(rc), w ? pq_writer_errmsg(w) : "");
    exit(1);
}

static FILE *open_out(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        fprintf(stderr, "cannot create %s\n", p);
        exit(1);
    }
    return f;
}

/* kv: NULL = td_table_kv() */
static pq_writer *open_writer(const pq_schema *s, FILE *f, pq_codec codec, const pq_kv *kv,
                              size_t n_kv) {
    static pq_sink sink;
    sink.write = file_write;
    sink.ctx = f;
    pq_options o = PQ_OPTIONS_INIT;
    o.codec = codec;
    o.created_by = "tiff-dumper table test";
    o.kv = kv ? kv : td_table_kv(&o.n_kv);
    if (kv)
        o.n_kv = n_kv;
    pq_writer *w;
    int rc = pq_writer_open(&w, s, &sink, &o);
    if (rc)
        die("open", rc, NULL);
    return w;
}

static void write_headers(const char *dir, const char *name, bool all_null) {
    pq_schema *s;
    td_headers_cols c;
    int rc = td_table_headers_schema(&s, &c);
    if (rc)
        die("headers schema", rc, NULL);
    FILE *f = open_out(dir, name);
    pq_writer *w = open_writer(s, f, PQ_CODEC_ZSTD, NULL, 0);

    static const int64_t bps[] = {16};
    static const int64_t fmt[] = {1};
    static const double scale[] = {10.0, 10.0, 0.0};
    static const double tie[] = {0, 0, 0, 300000.0, 5000040.0, 0};
    static const uint8_t jpeg[] = {0xff, 0xd8, 0x00, 0x7f};
    tiff_extra gk_other[] = {{3076, "{\"type\":3,\"count\":1,\"value\":[9001]}", 0, false}};
    tiff_extra others[] = {{42033, "{\"type\":2,\"count\":3,\"value\":\"ab\"}", 0, false},
                           {50000, "{\"type\":1,\"count\":2,\"value\":\"00ff\"}", 0, false}};
    gk_other[0].json_len = strlen(gk_other[0].json);
    for (int i = 0; i < 2; i++)
        others[i].json_len = strlen(others[i].json);
    static const char *const warns[] = {"tag 999 at offset 122: unknown type 77, skipped"};

    tiff_header full;
    memset(&full, 0, sizeof full);
    full.little_endian = true;
    full.first_ifd_offset = 8;
    full.ifd_count = 5;
    /* images: the main image, an overview, a SubIFD mask of IFD 0 */
    tiff_image imgs[3];
    for (int i = 0; i < 3; i++) {
        tiff_image *m = &imgs[i];
        m->index = (uint32_t)i;
        m->parent = i == 2 ? 0 : -1;
        m->position = i == 2 ? 0 : (uint32_t)i;
        m->ifd_offset = 9 + 400 * (uint64_t)i;
        m->kind = i == 0 ? TIFF_IMG_MAIN : i == 1 ? TIFF_IMG_OVERVIEW : TIFF_IMG_MASK;
        m->width = i == 1 ? 5490 : 10980;
        m->height = m->width;
        m->tile_width = m->tile_height = i == 2 ? TIFF_ABSENT : 1024;
        m->rows_per_strip = i == 2 ? 8 : TIFF_ABSENT;
        m->compression = 8;
        m->photometric = i == 2 ? 4 : 1;
        m->samples_per_pixel = 1;
        m->bits_per_sample = i == 2 ? 1 : 16;
        m->sample_format = 1;
        m->new_subfile_type = i == 0 ? TIFF_ABSENT : i == 1 ? 1 : 4;
        m->planar = 1;
        m->predictor = TIFF_ABSENT;
        m->blocks = i == 0 ? 121 : i == 1 ? 36 : 1373;
        m->first_data_offset = i == 0 ? 16400 : TIFF_ABSENT;
        m->sparse_blocks = i == 0 ? 3 : TIFF_ABSENT;
    }
    static const char *const cerr[] = {"The offset of the main IFD should be 8. It is 9 instead"};
    static const tiff_kv ghost[] = {{"LAYOUT", "IFDS_BEFORE_DATA"}};
    full.images.v = imgs;
    full.images.n = 3;
    full.images.ifd_bytes = 16384;
    full.images.first_data_offset = 16400;
    full.images.overview_count = 1;
    full.images.sparse_tiles = 3;
    full.images.empty = 0;
    full.images.cog_valid = 0;
    full.images.cog_errors = cerr;
    full.images.n_cog_errors = 1;
    full.images.has_ghost = true;
    full.images.ghost = ghost;
    full.images.n_ghost = 1;
#define SETI(f, v)                                                            \
    (full.field[TIFF_F_##f].present = true, full.field[TIFF_F_##f].count = 1, \
     full.field[TIFF_F_##f].u.i = (v))
    SETI(image_width, 10980);
    SETI(image_height, 10980);
    SETI(compression, 8);
    SETI(photometric_interpretation, 1);
    SETI(tile_width, 1024);
    SETI(tile_offsets_count, 121);
#undef SETI
    full.field[TIFF_F_bits_per_sample] = (tiff_value){true, 1, {.ints = bps}};
    full.field[TIFF_F_sample_format] = (tiff_value){true, 1, {.ints = fmt}};
    full.field[TIFF_F_model_pixel_scale] = (tiff_value){true, 3, {.dbls = scale}};
    full.field[TIFF_F_model_tiepoint] = (tiff_value){true, 6, {.dbls = tie}};
    full.field[TIFF_F_x_resolution] = (tiff_value){true, 1, {.d = 72.5}};
    full.field[TIFF_F_software] = (tiff_value){true, 9, {.str = "GDAL 3.\xc3\xa9"}};
    full.field[TIFF_F_gdal_nodata] = (tiff_value){true, 1, {.str = "0"}};
    full.field[TIFF_F_jpeg_tables] = (tiff_value){true, 4, {.bytes = jpeg}};
    full.field[TIFF_F_extra_samples] = (tiff_value){true, 0, {.ints = NULL}}; /* empty list */
    full.has_geokeys = true;
    full.geokeys_header[0] = 1;
    full.geokeys_header[1] = 1;
    full.geokeys_header[2] = 0;
    full.geokeys_header[3] = 4;
    full.geokey[TIFF_G_model_type] = (tiff_value){true, 1, {.i = 1}};
    full.geokey[TIFF_G_raster_type] = (tiff_value){true, 1, {.i = 1}};
    full.geokey[TIFF_G_projected_type] = (tiff_value){true, 1, {.i = 32633}};
    full.geokey[TIFF_G_citation] = (tiff_value){true, 21, {.str = "WGS 84 / UTM zone 33N"}};
    full.geokey[TIFF_G_geog_semi_major_axis] = (tiff_value){true, 1, {.d = 6378137.0}};
    full.geokeys_other = gk_other;
    full.n_geokeys_other = 1;
    full.other_tags = others;
    full.n_other_tags = 2;
    full.warnings = warns;
    full.n_warnings = 1;

    tiff_header bare; /* nothing named, a GeoKeyDirectory without named keys */
    memset(&bare, 0, sizeof bare);
    bare.bigtiff = true;
    bare.first_ifd_offset = 16;
    bare.ifd_count = 1;
    bare.ifd_chain_error = "IFD 1 at offset 16: cycle";
    bare.images.ifd_bytes = 200;
    bare.images.first_data_offset = TIFF_ABSENT;
    bare.images.sparse_tiles = TIFF_ABSENT;
    bare.images.empty = -1;
    bare.images.cog_valid = -1;
    bare.has_geokeys = !all_null;

    td_object_facts f1 = {
        "s3://sentinel-cogs/sentinel-s2-l2a-cogs/33/U/UP/2023/1/S2A_33UUP_20230101_0_L2A/B04.tif",
        0,
        123456789,
        1700000000123LL,
        "\"5d41402abc4b2a76b9719d911017c592\"",
        16384,
        1,
        NULL};
    f1.path_len = strlen(f1.path);
    td_object_facts f2 = {"dir/bare.tif", 12, TD_SIZE_NONE, TD_MTIME_NONE, NULL, 300, 2, NULL};

    /* georeferencing of the full row: the square (10 50, 11 50, 11 51, 10 51) */
    static uint8_t wkb[9 + 4 + 5 * 16];
    static const double sq[5][2] = {{10, 50}, {11, 50}, {11, 51}, {10, 51}, {10, 50}};
    const uint8_t head[13] = {1, 3, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0};
    memcpy(wkb, head, sizeof head);
    memcpy(wkb + 13, sq, sizeof sq); /* the test hosts are little-endian */
    static const double bb[4] = {10, 50, 11, 51}, tr[6] = {10, 0, 399960, 0, -10, 5600040},
                        pbb[4] = {399960, 5490240, 509760, 5600040};
    static const int64_t shape[2] = {10980, 10980};
    td_geo_facts g1 = {wkb, sizeof wkb, false, bb, "EPSG:32633", shape, tr, pbb, NULL, NULL, NULL};
    /* the bare row: a transform, no CRS, a warning saying so */
    td_geo_facts g2 = {
        NULL, 0, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "affine transform but no CRS"};
    static const int64_t shape2[2] = {1, 2};
    g2.shape = shape2;
    g2.transform = tr;
    f1.geo = &g1;
    f2.geo = all_null ? NULL : &g2;
    td_geo_summary gs = TD_GEO_SUMMARY_INIT;

    if (!all_null) {
        if ((rc = td_table_write_header(w, &c, &f1, &full)))
            die("write full", rc, w);
        td_geo_summary_add(&gs, f1.geo);
    }
    if ((rc = td_table_write_header(w, &c, &f2, &bare)))
        die("write bare", rc, w);
    td_geo_summary_add(&gs, f2.geo);
    char geo[1024];
    if (td_table_geo_json(&gs, geo, sizeof geo) >= sizeof geo)
        die("geo json cut", 0, NULL);
    if ((rc = pq_writer_set_kv(w, TD_GEO_KEY, geo)))
        die("set geo", rc, w);
    if ((rc = pq_writer_close(w)))
        die("close", rc, NULL);
    fclose(f);
    pq_schema_free(s);
}

static void write_errors(const char *dir) {
    pq_schema *s;
    td_errors_cols c;
    int rc = td_table_errors_schema(&s, &c);
    if (rc)
        die("errors schema", rc, NULL);
    FILE *f = open_out(dir, "errors.parquet");
    pq_writer *w = open_writer(s, f, PQ_CODEC_SNAPPY, NULL, 0);
    td_error_facts e1 = {"a/b.tif", 7, 5000, "fetch", "http", "HTTP 404 Not Found", 404, 1};
    td_error_facts e2 = {
        "c.tif", 5, TD_SIZE_NONE, "parse", "not_tiff", "not a TIFF (bad byte order mark)", 0, -1};
    if ((rc = td_table_write_error(w, &c, &e1)) || (rc = td_table_write_error(w, &c, &e2)))
        die("write error", rc, w);
    if ((rc = pq_writer_close(w)))
        die("close", rc, NULL);
    fclose(f);
    pq_schema_free(s);
}

/* Bytes that are not UTF-8 in every kind of STRING value, written through td_table as a
 * careless caller would (tiff.h promises UTF-8, the pipeline passes keys as bytes): the
 * files must still be readable by DuckDB, with \xNN escapes, and path_bytes exact. */
#define L1 "caf\xe9" /* Latin-1 */
#define TD_STR2_(x) #x
#define TD_STR2(x) TD_STR2_(x)
#define TD_STR_VERSION TD_STR2(TD_SCHEMA_VERSION)
#define CUT "\xe6\x97\xa5\xe6\x97" /* U+65E5 and the first 2 bytes of another */
static void write_bad_utf8(const char *dir) {
    pq_schema *s;
    td_headers_cols c;
    int rc = td_table_headers_schema(&s, &c);
    if (rc)
        die("headers schema", rc, NULL);
    FILE *f = open_out(dir, "headers_bad_utf8.parquet");
    const pq_kv kv[] = {{TD_SCHEMA_VERSION_KEY, TD_STR_VERSION},
                        {"tiff_dumper.config", "# " L1 "\n"}};
    pq_writer *w = open_writer(s, f, PQ_CODEC_SNAPPY, kv, 2);
    tiff_extra gk_other[] = {{3076, "\"" L1 "\"", 6, false}};
    tiff_extra others[] = {{42033, "\"" CUT "\"", 7, false}};
    const char *const warns[] = {("warning " L1), "ok", CUT};
    tiff_header h;
    memset(&h, 0, sizeof h);
    h.first_ifd_offset = 8;
    h.ifd_count = 1;
    h.ifd_chain_error = "IFD 1: " L1;
    h.field[TIFF_F_software] = (tiff_value){true, 4, {.str = L1}};
    h.field[TIFF_F_image_description] = (tiff_value){true, 5, {.str = CUT}};
    h.field[TIFF_F_jpeg_tables] = (tiff_value){true, 4, {.bytes = (const uint8_t *)L1}};
    h.has_geokeys = true;
    h.geokey[TIFF_G_citation] = (tiff_value){true, 4, {.str = L1}};
    h.geokeys_other = gk_other;
    h.n_geokeys_other = 1;
    h.other_tags = others;
    h.n_other_tags = 1;
    h.warnings = warns;
    h.n_warnings = 3;
    td_object_facts f1 = {"dir/" L1 ".tif", 12, 10, TD_MTIME_NONE, "\"" L1 "\"", 100, 1, NULL};
    td_object_facts f2 = {"dir/caf\xc3\xa9.tif", 13, 10, TD_MTIME_NONE, NULL, 100, 1, NULL};
    if ((rc = td_table_write_header(w, &c, &f1, &h)) ||
        (rc = td_table_write_header(w, &c, &f2, &h)))
        die("write bad utf8", rc, w);
    if ((rc = pq_writer_close(w)))
        die("close", rc, NULL);
    fclose(f);
    pq_schema_free(s);

    td_errors_cols ec;
    if ((rc = td_table_errors_schema(&s, &ec)))
        die("errors schema", rc, NULL);
    f = open_out(dir, "errors_bad_utf8.parquet");
    w = open_writer(s, f, PQ_CODEC_NONE, NULL, 0);
    td_error_facts e1 = {"k/" L1 ".tif",
                         10,
                         TD_SIZE_NONE,
                         "fetch",
                         "not_found" L1,
                         "file:///k/" L1 ".tif: " CUT,
                         0,
                         1};
    if ((rc = td_table_write_error(w, &ec, &e1)))
        die("write error", rc, w);
    if ((rc = pq_writer_close(w)))
        die("close", rc, NULL);
    fclose(f);
    pq_schema_free(s);
}

static void write_docs(const char *dir) {
    FILE *f = open_out(dir, "columns.json");
    const char *names[] = {"headers", "errors"};
    fprintf(f, "{\"schema_version\":\"%d\",", TD_SCHEMA_VERSION);
    for (int t = 0; t < 2; t++) {
        const td_column_doc *d;
        size_t n = td_table_columns((td_table_id)t, &d);
        fprintf(f, "%s\"%s\":[", t ? "," : "", names[t]);
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%s[\"%s\",\"%s\"]", i ? "," : "", d[i].name, d[i].type);
        fputc(']', f);
    }
    fputs("}\n", f);
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: td_table_write OUT_DIR\n");
        return 2;
    }
    write_headers(argv[1], "headers.parquet", false);
    write_headers(argv[1], "headers_allnull.parquet", true);
    write_errors(argv[1]);
    write_bad_utf8(argv[1]);
    write_docs(argv[1]);
    return 0;
}
