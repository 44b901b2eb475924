/* make_dump.c - a synthetic output folder as `tiff-dumper headers` writes it, for the report's
 * tests and bench: ROWS header rows (part files of PER_FILE rows) with varied CRS,
 * compression, data types, tiles, COG verdicts, requests and footprints spread over the
 * globe (some across the antimeridian, some over a pole), an errors table and _SUCCESS.
 * Written with the project's own table and Parquet writer (td_table), so the files are what
 * the tool writes.
 *
 *   make_dump OUT_DIR [ROWS=1000000] [PER_FILE=250000]
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "table.h"

typedef struct fsink {
    FILE *f;
} fsink;

static int sink_write(void *ctx, const void *p, size_t n) {
    return fwrite(p, 1, n, ((fsink *)ctx)->f) == n ? 0 : -1;
}

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_f64(uint8_t *p, double v) { memcpy(p, &v, 8); }

/* A little-endian WKB Polygon of the lon/lat box (5 points). */
static size_t box_wkb(uint8_t *w, double x0, double y0, double x1, double y1) {
    double pts[5][2] = {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}};
    w[0] = 1;
    put_u32(w + 1, 3);
    put_u32(w + 5, 1);
    put_u32(w + 9, 5);
    for (int k = 0; k < 5; k++) {
        put_f64(w + 13 + 16 * k, pts[k][0]);
        put_f64(w + 21 + 16 * k, pts[k][1]);
    }
    return 13 + 80;
}

/* A footprint across the antimeridian as src/geo writes it: a MultiPolygon of the two parts,
 * [x0, 180] and [-180, x1]. */
static size_t split_box_wkb(uint8_t *w, double x0, double y0, double x1, double y1) {
    w[0] = 1;
    put_u32(w + 1, 6);
    put_u32(w + 5, 2);
    size_t n = 9;
    n += box_wkb(w + n, x0, y0, 180, y1);
    n += box_wkb(w + n, -180, y0, x1, y1);
    return n;
}

static const char *const reasons[] = {
    "The file is greater than 512xH or 512xW, it is recommended to include internal overviews",
    "The file is greater than 512xH or 512xW, but is not tiled",
    "The offset of the main IFD should be < 200. It is 1042 instead",
    "The offset of the first block of the image should be after its IFD"};

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: make_dump OUT_DIR [ROWS] [PER_FILE]\n");
        return 2;
    }
    const char *out = argv[1];
    uint64_t rows = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
    uint64_t per = argc > 3 ? strtoull(argv[3], NULL, 10) : 250000;
    if (!per)
        per = 250000;
    char p[4096];
    mkdir(out, 0755);
    snprintf(p, sizeof p, "%s/_errors", out);
    mkdir(p, 0755);

    pq_schema *s;
    td_headers_cols c;
    if (td_table_headers_schema(&s, &c))
        return 1;
    pq_options o = PQ_OPTIONS_INIT;
    o.codec = PQ_CODEC_ZSTD;
    o.kv = td_table_kv(&o.n_kv);

    static tiff_image imgs[6];
    const char *errs_one[2];
    uint64_t files = 0, sum_req = 0, sum_bytes = 0;
    for (uint64_t i0 = 0; i0 < rows || files == 0; i0 += per, files++) {
        snprintf(p, sizeof p, "%s/part-%05" PRIu64 ".parquet", out, files);
        fsink fs = {fopen(p, "wb")};
        if (!fs.f) {
            perror(p);
            return 1;
        }
        pq_sink sink = {sink_write, &fs};
        pq_writer *w;
        if (pq_writer_open(&w, s, &sink, &o))
            return 1;
        for (uint64_t i = i0; i < rows && i < i0 + per; i++) {
            uint64_t r = mix(i + 1);
            char path[128], code[32];
            td_object_facts f = {0};
            f.path_len = (size_t)snprintf(path, sizeof path, "synthetic/%03u/%" PRIu64 ".tif",
                                          (unsigned)(r % 1000), i);
            f.path = path;
            f.size = 1000000 + r % 100000000;
            f.mtime_ms = TD_MTIME_NONE;
            int32_t req = (r >> 8) % 10 < 8 ? 1 : (r >> 8) % 10 == 8 ? 2 : 3;
            f.requests = req;
            f.fetched_bytes = 16384u * (uint64_t)req;
            sum_req += (uint64_t)req;
            sum_bytes += f.fetched_bytes;

            tiff_header h;
            memset(&h, 0, sizeof h);
            h.little_endian = true;
            h.first_ifd_offset = 8;
            unsigned kind = (unsigned)((r >> 12) % 4); /* 0,1 COG; 2 stripped; 3 tiled, no ovr */
            int64_t wd = 256 << ((r >> 16) % 8), ht = wd - (int64_t)((r >> 20) % 64);
            int novr = kind <= 1 ? 1 + (int)((r >> 24) % 5) : 0;
            h.ifd_count = 1 + (uint64_t)novr;
            for (int k = 0; k <= novr; k++) {
                tiff_image *m = &imgs[k];
                memset(m, 0, sizeof *m);
                m->index = m->position = (uint32_t)k;
                m->parent = -1;
                m->ifd_offset = 8 + 300 * (uint64_t)k;
                m->kind = k ? TIFF_IMG_OVERVIEW : TIFF_IMG_MAIN;
                m->width = wd >> k;
                m->height = ht >> k;
                m->tile_width = m->tile_height = kind == 2 ? TIFF_ABSENT : (kind ? 256 : 512);
                m->rows_per_strip = kind == 2 ? 16 : TIFF_ABSENT;
                m->predictor = TIFF_ABSENT;
                m->compression = 1;
                m->photometric = m->samples_per_pixel = m->sample_format = m->planar = 1;
                m->bits_per_sample = 8;
                m->new_subfile_type = k ? 1 : TIFF_ABSENT;
                m->blocks = 1;
                m->first_data_offset = 20000;
            }
            h.images.v = imgs;
            h.images.n = h.ifd_count;
            h.images.ifd_bytes = 2000 + (r >> 28) % (req > 1 ? 60000 : 14000);
            h.images.first_data_offset = (int64_t)h.images.ifd_bytes + 8;
            h.images.overview_count = novr;
            h.images.cog_valid = kind <= 1 ? 1 : 0;
            if (kind > 1) {
                errs_one[0] = reasons[kind == 2 ? 1 : 0];
                errs_one[1] = reasons[2 + (r >> 40) % 2];
                h.images.cog_errors = errs_one;
                h.images.n_cog_errors = 1 + (r >> 41) % 2;
            }
            static const int64_t comps[] = {1, 5, 7, 8, 8, 50000, 34887, 8};
            static const int64_t bits[] = {8, 8, 16, 16, 32, 8, 32, 64};
            static const int64_t fmts[] = {1, 1, 1, 2, 3, 1, 1, 3};
            unsigned ci = (unsigned)((r >> 32) % 8), bi = (unsigned)((r >> 35) % 8);
            int64_t bps[1] = {bits[bi]}, fmt[1] = {fmts[bi]};
            tiff_value *fv = h.field;
#define SETI(fl, v) (fv[TIFF_F_##fl] = (tiff_value){true, 1, {.i = (v)}})
            SETI(image_width, wd);
            SETI(image_height, ht);
            SETI(compression, comps[ci]);
            SETI(samples_per_pixel, 1);
            SETI(planar_configuration, 1);
            if (kind != 2) {
                SETI(tile_width, kind ? 256 : 512);
                SETI(tile_height, kind ? 256 : 512);
            }
#undef SETI
            fv[TIFF_F_bits_per_sample] = (tiff_value){true, 1, {.ints = bps}};
            fv[TIFF_F_sample_format] = (tiff_value){true, 1, {.ints = fmt}};

            /* a footprint for 85% of the rows: UTM-ish boxes, a few crossing 180 or at 89N */
            td_geo_facts g = {0};
            uint8_t wkb[256];
            double bb[4];
            bool geo = (r >> 44) % 100 < 85;
            if (geo) {
                double lon = -180 + (double)((r >> 48) % 36000) / 100.0;
                double lat = -80 + (double)((r >> 20) % 16000) / 100.0;
                double d = 0.1 + (double)((r >> 52) % 100) / 100.0;
                if ((r >> 56) % 50 == 0)
                    lon = 179.5; /* across the antimeridian: xmin > xmax in the bbox */
                if ((r >> 56) % 50 == 1)
                    lat = 89.0 - d;
                double x0 = lon, x1 = lon + d > 180 ? lon + d - 360 : lon + d;
                double y1 = lat + d > 90 ? 90 : lat + d;
                g.wkb = wkb;
                g.wkb_len =
                    x1 < x0 ? split_box_wkb(wkb, x0, lat, x1, y1) : box_wkb(wkb, x0, lat, x1, y1);
                bb[0] = x0, bb[1] = lat, bb[2] = x1, bb[3] = y1;
                g.bbox = bb;
                int zone = (int)((lon + 180) / 6) % 60 + 1;
                unsigned pick = (unsigned)((r >> 60) % 4);
                snprintf(code, sizeof code, "EPSG:%d",
                         pick == 0   ? 4326
                         : pick == 1 ? 3857
                                     : (lat >= 0 ? 32600 : 32700) + zone);
                g.proj_code = code;
                f.geo = &g;
            }
            if (td_table_write_header(w, &c, &f, &h)) {
                fprintf(stderr, "write: %s\n", pq_writer_errmsg(w));
                return 1;
            }
        }
        if (pq_writer_close(w) || fclose(fs.f)) {
            fprintf(stderr, "close failed\n");
            return 1;
        }
    }
    pq_schema_free(s);

    /* errors: 1 per 1000 rows, a few kinds */
    pq_schema *es;
    td_errors_cols ec;
    if (td_table_errors_schema(&es, &ec))
        return 1;
    snprintf(p, sizeof p, "%s/_errors/part-00000.parquet", out);
    fsink fs = {fopen(p, "wb")};
    if (!fs.f)
        return 1;
    pq_sink sink = {sink_write, &fs};
    pq_writer *w;
    if (pq_writer_open(&w, es, &sink, &o))
        return 1;
    uint64_t nerr = rows / 1000;
    static const char *const kinds[][2] = {
        {"fetch", "http"}, {"parse", "bad_magic"}, {"parse", "truncated"}, {"fetch", "network"}};
    for (uint64_t i = 0; i < nerr; i++) {
        char path[64];
        td_error_facts e = {0};
        e.path_len = (size_t)snprintf(path, sizeof path, "synthetic/bad/%" PRIu64 ".tif", i);
        e.path = path;
        e.size = TD_SIZE_NONE;
        e.stage = kinds[i % 4][0];
        e.kind = kinds[i % 4][1];
        e.message = "synthetic";
        e.attempts = -1;
        if (td_table_write_error(w, &ec, &e))
            return 1;
    }
    if (pq_writer_close(w) || fclose(fs.f))
        return 1;
    pq_schema_free(es);

    snprintf(p, sizeof p, "%s/_SUCCESS", out);
    FILE *sf = fopen(p, "w");
    if (!sf)
        return 1;
    fprintf(sf,
            "{\"tool\":\"tiff-dumper\",\"version\":\"synthetic\",\"schema_version\":%d,"
            "\"store\":\"s3://synthetic-bucket\",\"prefixes\":[\"\"],\"listed\":%" PRIu64
            ",\"skipped\":0,\"dumped\":%" PRIu64 ",\"failed\":%" PRIu64
            ",\"bytes_fetched\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"header_files\":%" PRIu64
            ",\"error_files\":1,\"elapsed_seconds\":100.0,"
            "\"headers_per_second\":%.1f,\"config\":\"store:\\n  name: s3://synthetic-bucket\\n"
            "fetch:\\n  prefetch_bytes: 16384\\n\"}\n",
            TD_SCHEMA_VERSION, rows + nerr, rows, nerr, sum_bytes, sum_req, files,
            (double)rows / 100.0);
    fclose(sf);
    printf("%" PRIu64 " rows in %" PRIu64 " files, %" PRIu64 " errors -> %s\n", rows, files, nerr,
           out);
    return 0;
}
