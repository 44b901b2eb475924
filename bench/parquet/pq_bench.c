/* pq_bench.c - write throughput of the headers table (td_table + td_parquet) with realistic
 * Sentinel-2 L2A COG header values, per codec, to a discarding sink and to a file.
 * Prints a markdown table. Measures, never asserts.
 *
 *   pq_bench [ROWS=500000] [FILE=/tmp/pq_bench.parquet]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "table.h"

typedef struct count_sink {
    uint64_t bytes;
    FILE *f;
} count_sink;

static int sink_write(void *ctx, const void *p, size_t n) {
    count_sink *s = ctx;
    s->bytes += n;
    return s->f && fwrite(p, 1, n, s->f) != n ? -1 : 0;
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const bands[] = {"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08",
                                    "B8A", "B09", "B11", "B12", "AOT", "SCL", "WVP"};
static const int band_res[] = {60, 10, 10, 10, 20, 20, 20, 10, 20, 60, 20, 20, 10, 20, 10};

typedef struct row_data {
    char path[256];
    char etag[48];
    char citation[64];
    char other_json[2][96];
    int64_t bps[1], fmt[1], gkh[4];
    double scale[3], tie[6];
    tiff_extra other[2];
    tiff_header h;
    td_object_facts f;
} row_data;

static void make_row(row_data *r, uint64_t i) {
    unsigned b = (unsigned)(i % 15), zone = 1 + (unsigned)(i / 15 % 60);
    unsigned day = 1 + (unsigned)(i / 900 % 28), month = 1 + (unsigned)(i / 25200 % 12);
    int res = band_res[b];
    int64_t w = 109800 / res;
    r->f.path = r->path;
    r->f.path_len =
        (size_t)snprintf(r->path, sizeof r->path,
                         "sentinel-s2-l2a-cogs/%u/U/UP/2023/%u/S2A_%uUUP_2023%02u%02u_0_L2A/%s.tif",
                         zone, month, zone, month, day, bands[b]);
    r->f.size = 20000000u + (i * 7919u) % 200000000u;
    r->f.mtime_ms = 1672531200000LL + (int64_t)i * 37;
    snprintf(r->etag, sizeof r->etag, "\"%016" PRIx64 "%016" PRIx64 "\"",
             (uint64_t)(i * 0x9E3779B97F4A7C15ull), (uint64_t)(i ^ 0xabcdef));
    r->f.etag = r->etag;
    r->f.fetched_bytes = 16384;
    r->f.requests = 1;

    tiff_header *h = &r->h;
    memset(h, 0, sizeof *h);
    h->little_endian = true;
    h->first_ifd_offset = 8;
    h->ifd_count = w > 2000 ? 5 : 3;
    /* the images of a COG: the main image and its overviews (shared, values vary little) */
    static tiff_image imgs[5];
    for (int k = 0; k < 5; k++) {
        tiff_image *m = &imgs[k];
        memset(m, 0, sizeof *m);
        m->index = m->position = (uint32_t)k;
        m->parent = -1;
        m->ifd_offset = 300 + 200 * (uint64_t)k;
        m->kind = k ? TIFF_IMG_OVERVIEW : TIFF_IMG_MAIN;
        m->width = m->height = w >> k;
        m->tile_width = m->tile_height = 512;
        m->rows_per_strip = m->predictor = TIFF_ABSENT;
        m->compression = 8;
        m->photometric = m->samples_per_pixel = m->sample_format = m->planar = 1;
        m->bits_per_sample = 16;
        m->new_subfile_type = k ? 1 : TIFF_ABSENT;
        m->blocks = ((w >> k) / 512 + 1) * ((w >> k) / 512 + 1);
        m->first_data_offset = 10000 + 1000 * (int64_t)(4 - k);
        m->sparse_blocks = 0;
    }
    h->images.v = imgs;
    h->images.n = h->ifd_count;
    h->images.ifd_bytes = 10000 + (uint64_t)(i % 4000);
    h->images.first_data_offset = (int64_t)h->images.ifd_bytes + 4;
    h->images.overview_count = (int32_t)h->ifd_count - 1;
    h->images.sparse_tiles = 0;
    h->images.cog_valid = 1;
    tiff_value *fv = h->field;
#define SETI(f, v) (fv[TIFF_F_##f] = (tiff_value){true, 1, {.i = (v)}})
    SETI(image_width, w);
    SETI(image_height, w);
    SETI(compression, 8);
    SETI(photometric_interpretation, 1);
    SETI(samples_per_pixel, 1);
    SETI(planar_configuration, 1);
    SETI(predictor, 2);
    SETI(tile_width, 1024);
    SETI(tile_height, 1024);
    int64_t tiles = ((w + 1023) / 1024) * ((w + 1023) / 1024);
    SETI(tile_offsets_count, tiles);
    SETI(tile_byte_counts_count, tiles);
#undef SETI
    r->bps[0] = b == 13 ? 8 : 16;
    r->fmt[0] = 1;
    fv[TIFF_F_bits_per_sample] = (tiff_value){true, 1, {.ints = r->bps}};
    fv[TIFF_F_sample_format] = (tiff_value){true, 1, {.ints = r->fmt}};
    r->scale[0] = res;
    r->scale[1] = res;
    r->scale[2] = 0;
    fv[TIFF_F_model_pixel_scale] = (tiff_value){true, 3, {.dbls = r->scale}};
    double x0 = 300000.0 + (double)(i % 7) * 100000.0, y0 = 5000040.0 + (double)(i % 11) * 100000.0;
    double tie[6] = {0, 0, 0, x0, y0, 0};
    memcpy(r->tie, tie, sizeof tie);
    fv[TIFF_F_model_tiepoint] = (tiff_value){true, 6, {.dbls = r->tie}};
    fv[TIFF_F_gdal_nodata] = (tiff_value){true, 1, {.str = "0"}};

    h->has_geokeys = true;
    r->gkh[0] = 1;
    r->gkh[1] = 1;
    r->gkh[2] = 0;
    r->gkh[3] = 5;
    for (int k = 0; k < 4; k++)
        h->geokeys_header[k] = (uint16_t)r->gkh[k];
    tiff_value *g = h->geokey;
    g[TIFF_G_model_type] = (tiff_value){true, 1, {.i = 1}};
    g[TIFF_G_raster_type] = (tiff_value){true, 1, {.i = 1}};
    g[TIFF_G_projected_type] = (tiff_value){true, 1, {.i = 32600 + zone}};
    g[TIFF_G_proj_linear_units] = (tiff_value){true, 1, {.i = 9001}};
    size_t cl = (size_t)snprintf(r->citation, sizeof r->citation, "WGS 84 / UTM zone %uN", zone);
    g[TIFF_G_citation] = (tiff_value){true, cl, {.str = r->citation}};

    /* a few files carry extra tags */
    h->n_other_tags = i % 10 == 0 ? 2 : 0;
    for (int k = 0; k < 2; k++) {
        size_t n = (size_t)snprintf(r->other_json[k], sizeof r->other_json[k],
                                    "{\"type\":3,\"count\":1,\"value\":[%" PRIu64 "]}",
                                    i % 97 + (uint64_t)k);
        r->other[k] = (tiff_extra){(uint16_t)(50000 + k), r->other_json[k], n, false};
    }
    h->other_tags = r->other;
}

typedef struct result {
    double cpu, wall; /* CPU time of this thread (the machine is shared), and wall time */
    uint64_t bytes;
} result;

static result run(uint64_t rows, pq_codec codec, const char *file) {
    pq_schema *s;
    td_headers_cols c;
    if (td_table_headers_schema(&s, &c)) {
        fprintf(stderr, "schema failed\n");
        exit(1);
    }
    count_sink cs = {0, NULL};
    if (file && !(cs.f = fopen(file, "wb"))) {
        perror(file);
        exit(1);
    }
    pq_sink sink = {sink_write, &cs};
    pq_options o = PQ_OPTIONS_INIT;
    o.codec = codec;
    o.kv = td_table_kv(&o.n_kv);
    pq_writer *w;
    if (pq_writer_open(&w, s, &sink, &o)) {
        fprintf(stderr, "open failed\n");
        exit(1);
    }
    /* Rows are prepared in blocks outside the timed part (the tool hands the writer
     * ready headers too); each block gets new paths and values. */
    enum { RING = 4096 };
    row_data *ring = calloc(RING, sizeof *ring);
    if (!ring)
        exit(1);
    double cpu = 0, wall = 0;
    for (uint64_t i = 0; i < rows; i += RING) {
        uint64_t n = rows - i < RING ? rows - i : RING;
        for (uint64_t k = 0; k < n; k++)
            make_row(&ring[k], i + k);
        double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
        for (uint64_t k = 0; k < n; k++) {
            int rc = td_table_write_header(w, &c, &ring[k].f, &ring[k].h);
            if (rc) {
                fprintf(stderr, "write: %s\n", pq_writer_errmsg(w));
                exit(1);
            }
        }
        cpu += clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        wall += clock_s(CLOCK_MONOTONIC) - w0;
    }
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
    if (pq_writer_close(w)) {
        fprintf(stderr, "close failed\n");
        exit(1);
    }
    if (cs.f)
        fclose(cs.f);
    cpu += clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    wall += clock_s(CLOCK_MONOTONIC) - w0;
    free(ring);
    pq_schema_free(s);
    return (result){cpu, wall, cs.bytes};
}

int main(int argc, char **argv) {
    uint64_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 500000;
    const char *file = argc > 2 ? argv[2] : "/tmp/pq_bench.parquet";
    const td_column_doc *d;
    size_t ncols = td_table_columns(TD_TABLE_HEADERS, &d);
    printf("headers table: %zu documented columns (incl. %d geokeys fields), %" PRIu64
           " rows, row groups of 100000, one core\n\n",
           ncols, TIFF_GEOKEY_COUNT, rows);
    printf("| codec | sink | rows/s (CPU time) | rows/s (wall) | bytes/row | CPU s |\n"
           "|---|---|---:|---:|---:|---:|\n");
    static const struct {
        pq_codec c;
        const char *name;
    } codecs[] = {{PQ_CODEC_SNAPPY, "snappy"}, {PQ_CODEC_ZSTD, "zstd(3)"}, {PQ_CODEC_NONE, "none"}};
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        for (int tofile = 0; tofile < 2; tofile++) {
            result r = run(rows, codecs[k].c, tofile ? file : NULL);
            printf("| %s | %s | %.0f | %.0f | %.1f | %.2f |\n", codecs[k].name,
                   tofile ? "file" : "discard", (double)rows / r.cpu, (double)rows / r.wall,
                   (double)r.bytes / (double)rows, r.cpu);
            fflush(stdout);
        }
    }
    remove(file);
    return 0;
}
