/* tiff_bench.c - parse-only throughput of the TIFF header parser (src/tiff) against libtiff
 * opening the same bytes from memory, in the same run, on one thread. Measures, never
 * asserts anything but that both readers see the same image.
 *
 *   tiff_bench [SECONDS_PER_MEASUREMENT=0.5]      (pin it: taskset -c 1 tiff_bench)
 *
 * Headers, built here byte by byte (classic TIFF, little-endian, laid out as GDAL's COG
 * driver does: all IFDs first, then their out-of-line values, then image data):
 *   cog  - a Sentinel-2 L2A band as a COG: 10980 x 10980 uint16, DEFLATE + predictor 2,
 *          1024 x 1024 tiles (121), 5 overviews (5490 ... 344), UTM GeoKeys, pixel scale,
 *          tiepoint, GDAL_NODATA, GDAL_METADATA. The header is a few KiB.
 *   big  - one IFD whose TileOffsets + TileByteCounts arrays are 512 KiB together
 *          (65536 x 65536 pixels, 256 x 256 tiles: 65536 LONGs each).
 * Both objects claim their full size (data past the header reads as zeros for libtiff).
 *
 * Per header:
 *   ours    - tiff_parser_reset + feed(the header bytes) + run: every named field, the
 *             GeoKeys, other_tags, a record per IFD with its offset / byte-count arrays
 *             scanned (blocks, sparse, first data offset), the COG verdict.
 *   ours+json - the same plus tiff_header_to_json (the `info --json` line).
 *   libtiff - TIFFClientOpenExt over a memory buffer (reads IFD 0 with its offset arrays),
 *             TIFFGetField for the same named fields and GeoTIFF tags,
 *             TIFFNumberOfDirectories, TIFFClose.
 * Each measurement runs for SECONDS; the best of three is reported, as a markdown table.
 */
#include "tiff.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tiffio.h>

/* ---- a small classic-TIFF writer ---------------------------------------------------- */

typedef struct buf {
    uint8_t *b;
    size_t n, cap;
} buf;

static void b_reserve(buf *b, size_t n) {
    if (b->n + n <= b->cap)
        return;
    while (b->n + n > b->cap)
        b->cap = b->cap ? 2 * b->cap : 4096;
    b->b = realloc(b->b, b->cap);
    if (!b->b)
        abort();
}

static void put_le(uint8_t *p, uint64_t v, unsigned w) {
    for (unsigned i = 0; i < w; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

typedef struct tent {
    uint16_t tag, type;
    uint32_t count;
    const void *vals; /* host-order array of count items of the type's size */
} tent;

static unsigned tsize(unsigned type) {
    switch (type) {
    case 1:
    case 2:
    case 7:
        return 1;
    case 3:
        return 2;
    case 4:
        return 4;
    case 5:
    case 12:
        return 8;
    default:
        abort();
    }
}

typedef struct ifd {
    tent e[32];
    unsigned n;
} ifd;

static void add(ifd *d, uint16_t tag, uint16_t type, uint32_t count, const void *vals) {
    tent *e = &d->e[d->n++];
    e->tag = tag;
    e->type = type;
    e->count = count;
    e->vals = vals;
}

/* value bytes of an entry, little-endian */
static void put_vals(uint8_t *p, const tent *e) {
    unsigned s = tsize(e->type);
    for (uint32_t i = 0; i < e->count; i++) {
        switch (e->type) {
        case 1:
        case 2:
        case 7:
            p[i] = ((const uint8_t *)e->vals)[i];
            break;
        case 3:
            put_le(p + 2 * i, ((const uint16_t *)e->vals)[i], 2);
            break;
        case 4:
            put_le(p + 4 * i, ((const uint32_t *)e->vals)[i], 4);
            break;
        case 5:
            put_le(p + 8 * i, ((const uint32_t *)e->vals)[2 * i], 4);
            put_le(p + 8 * i + 4, ((const uint32_t *)e->vals)[2 * i + 1], 4);
            break;
        case 12: {
            uint64_t u;
            memcpy(&u, (const double *)e->vals + i, 8);
            put_le(p + 8 * i, u, 8);
            break;
        }
        }
    }
    (void)s;
}

/* Writes the file header and the IFDs (entries sorted by the caller), then the out-of-line
 * values. Returns the header's length; data starts at the next 16 KiB boundary. */
static size_t write_tiff(buf *out, ifd *ifds, unsigned nifd) {
    out->n = 0;
    b_reserve(out, 8);
    memcpy(out->b, "II", 2);
    put_le(out->b + 2, 42, 2);
    put_le(out->b + 4, 8, 4);
    out->n = 8;
    size_t ifd_pos[16], vpos = 8;
    for (unsigned k = 0; k < nifd; k++) {
        ifd_pos[k] = vpos;
        vpos += 2 + 12 * (size_t)ifds[k].n + 4;
    }
    /* out-of-line values after all IFDs */
    size_t total = vpos;
    for (unsigned k = 0; k < nifd; k++)
        for (unsigned i = 0; i < ifds[k].n; i++) {
            size_t len = (size_t)ifds[k].e[i].count * tsize(ifds[k].e[i].type);
            if (len > 4)
                total += (len + 1) & ~(size_t)1;
        }
    b_reserve(out, total - out->n);
    memset(out->b + 8, 0, total - 8);
    size_t data = vpos;
    for (unsigned k = 0; k < nifd; k++) {
        uint8_t *p = out->b + ifd_pos[k];
        put_le(p, ifds[k].n, 2);
        for (unsigned i = 0; i < ifds[k].n; i++) {
            const tent *e = &ifds[k].e[i];
            uint8_t *q = p + 2 + 12 * i;
            put_le(q, e->tag, 2);
            put_le(q + 2, e->type, 2);
            put_le(q + 4, e->count, 4);
            size_t len = (size_t)e->count * tsize(e->type);
            if (len <= 4) {
                put_vals(q + 8, e);
            } else {
                put_le(q + 8, data, 4);
                put_vals(out->b + data, e);
                data += (len + 1) & ~(size_t)1;
            }
        }
        put_le(p + 2 + 12 * ifds[k].n, k + 1 < nifd ? ifd_pos[k + 1] : 0, 4);
    }
    out->n = total;
    return total;
}

static uint32_t data_start(size_t header_len) {
    return (uint32_t)((header_len + 16383) & ~(size_t)16383);
}

/* ---- the two headers ---------------------------------------------------------------- */

static const uint16_t u16_one = 1, u16_two = 2, u16_16 = 16, u16_8 = 8, u16_deflate = 8;
static const uint32_t u32_one = 1;

typedef struct image {
    buf bytes;
    size_t header_len;
    uint64_t object_size;
    uint32_t width, height;
    uint64_t tiles;
    unsigned nifd;
} image;

/* Offsets/bytecounts arrays live here: the writer copies them into the file. */
static uint32_t *arrays[2 * 16];
static unsigned narrays;

static uint32_t *new_array(size_t n) {
    uint32_t *a = calloc(n ? n : 1, 4);
    if (!a)
        abort();
    arrays[narrays++] = a;
    return a;
}

static void build_cog(image *im) {
    static ifd ifds[6];
    static uint32_t dims[6][2];
    static uint16_t geo[4 + 4 * 7];
    static const double scale[3] = {10, 10, 0};
    static const double tie[6] = {0, 0, 0, 399960, 5000040, 0};
    static const char citation[] = "WGS 84 / UTM zone 33N|";
    static const char nodata[] = "0";
    static const char meta[] =
        "<GDALMetadata>\n  <Item name=\"OFFSET\" sample=\"0\" role=\"offset\">-0.1</Item>\n"
        "  <Item name=\"SCALE\" sample=\"0\" role=\"scale\">0.0001</Item>\n</GDALMetadata>";
    static uint32_t tile = 1024;
    static const uint16_t keys[] = {1,    1,     0,  7,
                                    1024, 0,     1,  1,     /* model_type projected        */
                                    1025, 0,     1,  1,     /* raster_type PixelIsArea     */
                                    1026, 34737, 22, 0,     /* citation                    */
                                    2054, 0,     1,  9102,  /* geog_angular_units degree   */
                                    3072, 0,     1,  32633, /* projected_type UTM 33N      */
                                    3076, 0,     1,  9001,  /* proj_linear_units metre     */
                                    4096, 0,     1,  5773}; /* vertical EGM96              */
    memcpy(geo, keys, sizeof keys);
    uint32_t w = 10980, h = 10980;
    uint64_t tiles = 0;
    for (unsigned k = 0; k < 6; k++) {
        dims[k][0] = w;
        dims[k][1] = h;
        uint32_t tx = (w + tile - 1) / tile, ty = (h + tile - 1) / tile, nt = tx * ty;
        uint32_t *off = new_array(nt), *cnt = new_array(nt);
        for (uint32_t i = 0; i < nt; i++)
            cnt[i] = 900000 + 1000 * (i % 97);
        ifd *d = &ifds[k];
        d->n = 0;
        if (k > 0)
            add(d, 254, 4, 1, &u32_one);
        add(d, 256, 4, 1, &dims[k][0]);
        add(d, 257, 4, 1, &dims[k][1]);
        add(d, 258, 3, 1, &u16_16);
        add(d, 259, 3, 1, &u16_deflate);
        add(d, 262, 3, 1, &u16_one);
        add(d, 277, 3, 1, &u16_one);
        add(d, 284, 3, 1, &u16_one);
        add(d, 317, 3, 1, &u16_two);
        add(d, 322, 4, 1, &tile);
        add(d, 323, 4, 1, &tile);
        add(d, 324, 4, nt, off);
        add(d, 325, 4, nt, cnt);
        add(d, 339, 3, 1, &u16_one);
        if (k == 0) {
            add(d, 33550, 12, 3, scale);
            add(d, 33922, 12, 6, tie);
            add(d, 34735, 3, sizeof keys / 2, geo);
            add(d, 34737, 2, sizeof citation, citation);
            add(d, 42112, 2, sizeof meta, meta);
            add(d, 42113, 2, sizeof nodata, nodata);
        }
        if (k == 0)
            tiles = nt;
        w = (w + 1) / 2;
        h = (h + 1) / 2;
    }
    /* offsets are known once the header length is: write twice */
    im->header_len = write_tiff(&im->bytes, ifds, 6);
    uint64_t pos = data_start(im->header_len);
    /* COG order: smallest overview's tiles first, full resolution last */
    for (int k = 5; k >= 0; k--) {
        tent *off = NULL, *cnt = NULL;
        for (unsigned i = 0; i < ifds[k].n; i++) {
            if (ifds[k].e[i].tag == 324)
                off = &ifds[k].e[i];
            if (ifds[k].e[i].tag == 325)
                cnt = &ifds[k].e[i];
        }
        for (uint32_t i = 0; i < off->count; i++) {
            ((uint32_t *)off->vals)[i] = (uint32_t)pos;
            pos += ((const uint32_t *)cnt->vals)[i];
        }
    }
    im->header_len = write_tiff(&im->bytes, ifds, 6);
    im->object_size = pos;
    im->width = im->height = 10980;
    im->tiles = tiles;
    im->nifd = 6;
}

static void build_big(image *im) {
    static ifd d;
    static uint32_t wh = 65536, tile = 256;
    uint32_t nt = (65536 / 256) * (65536 / 256);
    uint32_t *off = new_array(nt), *cnt = new_array(nt);
    d.n = 0;
    add(&d, 256, 4, 1, &wh);
    add(&d, 257, 4, 1, &wh);
    add(&d, 258, 3, 1, &u16_8);
    add(&d, 259, 3, 1, &u16_deflate);
    add(&d, 262, 3, 1, &u16_one);
    add(&d, 277, 3, 1, &u16_one);
    add(&d, 284, 3, 1, &u16_one);
    add(&d, 322, 4, 1, &tile);
    add(&d, 323, 4, 1, &tile);
    add(&d, 324, 4, nt, off);
    add(&d, 325, 4, nt, cnt);
    add(&d, 339, 3, 1, &u16_one);
    im->header_len = write_tiff(&im->bytes, &d, 1);
    uint64_t pos = data_start(im->header_len);
    for (uint32_t i = 0; i < nt; i++) {
        cnt[i] = 3000 + (i % 1000);
        off[i] = (uint32_t)pos;
        pos += cnt[i];
    }
    im->header_len = write_tiff(&im->bytes, &d, 1);
    im->object_size = pos;
    im->width = im->height = 65536;
    im->tiles = nt;
    im->nifd = 1;
}

/* ---- libtiff from memory ------------------------------------------------------------ */

typedef struct memfile {
    const uint8_t *b;
    uint64_t have; /* bytes backed by the buffer; the rest of the object reads as zeros */
    uint64_t n, pos;
} memfile;

static tmsize_t mf_read(thandle_t h, void *out, tmsize_t size) {
    memfile *m = h;
    if (size <= 0 || m->pos >= m->n)
        return 0;
    uint64_t k = m->n - m->pos;
    if ((uint64_t)size < k)
        k = (uint64_t)size;
    uint64_t inbuf = m->pos < m->have ? m->have - m->pos : 0;
    if (inbuf > k)
        inbuf = k;
    memcpy(out, m->b + m->pos, (size_t)inbuf);
    memset((uint8_t *)out + inbuf, 0, (size_t)(k - inbuf));
    m->pos += k;
    return (tmsize_t)k;
}
static tmsize_t mf_write(thandle_t h, void *p, tmsize_t size) { return -1; }
static toff_t mf_seek(thandle_t h, toff_t off, int whence) {
    memfile *m = h;
    uint64_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->n : 0;
    m->pos = base + off;
    return m->pos;
}
static int mf_close(thandle_t h) { return 0; }
static toff_t mf_size(thandle_t h) { return ((memfile *)h)->n; }
static int mf_map(thandle_t h, void **base, toff_t *size) { return 0; }
static void mf_unmap(thandle_t h, void *base, toff_t size) {}
static int quiet(TIFF *t, void *ud, const char *mod, const char *fmt, va_list ap) { return 1; }

static TIFFOpenOptions *lt_opts;

/* One libtiff "header read": open, the same fields, the chain length, close. Returns a value
 * derived from the fields so the compiler cannot drop the work. */
static uint64_t lt_once(const image *im, uint32_t *w_out, uint64_t *tiles_out, unsigned *nd_out) {
    memfile m = {im->bytes.b, im->header_len, im->object_size, 0};
    TIFF *t = TIFFClientOpenExt("mem", "rm", &m, mf_read, mf_write, mf_seek, mf_close, mf_size,
                                mf_map, mf_unmap, lt_opts);
    if (!t)
        return 0;
    uint32_t w = 0, h = 0, tw = 0, th = 0, u32 = 0;
    uint16_t bps = 0, comp = 0, photo = 0, spp = 0, planar = 0, pred = 0, sf = 0, u16 = 0;
    uint64_t acc = 0;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetField(t, TIFFTAG_COMPRESSION, &comp);
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
    TIFFGetField(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetField(t, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetField(t, TIFFTAG_PREDICTOR, &pred);
    TIFFGetField(t, TIFFTAG_SAMPLEFORMAT, &sf);
    TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(t, TIFFTAG_TILELENGTH, &th);
    TIFFGetField(t, TIFFTAG_SUBFILETYPE, &u32);
    TIFFGetField(t, TIFFTAG_ORIENTATION, &u16);
    acc += w + h + bps + comp + photo + spp + planar + pred + sf + tw + th + u32 + u16;
    uint64_t *offs = NULL;
    if (TIFFGetField(t, TIFFTAG_TILEOFFSETS, &offs) && offs)
        acc += offs[0];
    uint64_t tiles = TIFFNumberOfTiles(t);
    /* GeoTIFF and GDAL tags: libtiff keeps them as counted arrays */
    static const uint32_t gtags[] = {33550, 33922, 34264, 34735, 34736, 34737, 42112, 42113};
    for (size_t i = 0; i < sizeof gtags / sizeof gtags[0]; i++) {
        const TIFFField *f = TIFFFindField(t, gtags[i], TIFF_ANY);
        if (!f)
            continue;
        void *p = NULL;
        if (TIFFFieldPassCount(f)) {
            if (TIFFFieldSetGetCountSize(f) == 2) {
                uint16_t c = 0;
                if (TIFFGetField(t, gtags[i], &c, &p))
                    acc += c;
            } else {
                uint32_t c = 0;
                if (TIFFGetField(t, gtags[i], &c, &p))
                    acc += c;
            }
        } else if (TIFFGetField(t, gtags[i], &p) && p) {
            acc += ((const uint8_t *)p)[0];
        }
    }
    unsigned nd = TIFFNumberOfDirectories(t);
    TIFFClose(t);
    if (w_out)
        *w_out = w;
    if (tiles_out)
        *tiles_out = tiles;
    if (nd_out)
        *nd_out = nd;
    return acc + nd;
}

/* ---- ours --------------------------------------------------------------------------- */

static char *jbuf;
static size_t jcap;

static uint64_t ours_once(tiff_parser *p, const image *im, bool json) {
    tiff_parser_reset(p, im->object_size);
    tiff_parser_feed(p, 0, im->bytes.b, im->header_len);
    if (tiff_parser_run(p) != TIFF_OK) {
        fprintf(stderr, "tiff_bench: our parser failed: %s\n", tiff_parser_errmsg(p));
        exit(1);
    }
    const tiff_header *h = tiff_parser_header(p);
    uint64_t acc = (uint64_t)h->field[TIFF_F_image_width].u.i + h->ifd_count + h->images.ifd_bytes +
                   h->images.n + (uint64_t)h->field[TIFF_F_tile_offsets_count].u.i +
                   h->n_other_tags;
    if (json) {
        size_t len = 0;
        if (tiff_header_to_json(h, &jbuf, &len, &jcap) != TIFF_OK)
            exit(1);
        acc += len;
    }
    return acc;
}

/* ---- timing ------------------------------------------------------------------------- */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile uint64_t sink;

typedef enum { R_OURS, R_OURS_JSON, R_LIBTIFF } reader;

/* headers per second, best of three runs of `secs` each */
static double measure(reader r, tiff_parser *p, const image *im, double secs) {
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        uint64_t n = 0, acc = 0;
        double t0 = now(), t;
        do {
            for (int i = 0; i < 64; i++) {
                acc += r == R_LIBTIFF ? lt_once(im, NULL, NULL, NULL)
                                      : ours_once(p, im, r == R_OURS_JSON);
            }
            n += 64;
            t = now() - t0;
        } while (t < secs);
        sink += acc;
        if (n / t > best)
            best = (double)n / t;
    }
    return best;
}

static void fmt_rate(char *out, size_t cap, double r) {
    if (r >= 1e6)
        snprintf(out, cap, "%.2f M", r / 1e6);
    else if (r >= 1e3)
        snprintf(out, cap, "%.1f k", r / 1e3);
    else
        snprintf(out, cap, "%.0f", r);
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 0.5;
    if (secs <= 0)
        secs = 0.5;
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    lt_opts = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(lt_opts, quiet, NULL);
    TIFFOpenOptionsSetWarningHandlerExtR(lt_opts, quiet, NULL);

    static image cog, big;
    build_cog(&cog);
    build_big(&big);
    image *ims[2] = {&cog, &big};
    const char *names[2] = {"Sentinel-2 COG (10980², 1024² tiles, 5 overviews)",
                            "512 KiB offset arrays (65536 tiles, 1 IFD)"};
    tiff_parser *p = tiff_parser_new(NULL);
    if (!p)
        return 1;

    /* both readers must see the same image before anything is timed */
    for (int i = 0; i < 2; i++) {
        uint32_t w = 0;
        uint64_t tiles = 0;
        unsigned nd = 0;
        lt_once(ims[i], &w, &tiles, &nd);
        ours_once(p, ims[i], false);
        const tiff_header *h = tiff_parser_header(p);
        if (w != ims[i]->width || tiles != ims[i]->tiles || nd != ims[i]->nifd ||
            (uint64_t)h->field[TIFF_F_image_width].u.i != w ||
            (uint64_t)h->field[TIFF_F_tile_offsets_count].u.i != tiles || h->ifd_count != nd ||
            h->n_warnings != 0 ||
            (i == 0 && (!h->has_geokeys || h->geokey[TIFF_G_projected_type].u.i != 32633 ||
                        !h->field[TIFF_F_gdal_nodata].present))) {
            fprintf(stderr,
                    "tiff_bench: %s: readers disagree (libtiff w %u tiles %llu ifds %u; "
                    "ours w %lld tiles %lld ifds %u, %zu warnings)\n",
                    names[i], w, (unsigned long long)tiles, nd,
                    (long long)h->field[TIFF_F_image_width].u.i,
                    (long long)h->field[TIFF_F_tile_offsets_count].u.i, h->ifd_count,
                    h->n_warnings);
            return 1;
        }
    }

    printf("| header | bytes | ours headers/s | ours + JSON line | libtiff headers/s | ours / "
           "libtiff |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < 2; i++) {
        double ro = measure(R_OURS, p, ims[i], secs);
        double rj = measure(R_OURS_JSON, p, ims[i], secs);
        double rl = measure(R_LIBTIFF, p, ims[i], secs);
        char a[32], b[32], c[32];
        fmt_rate(a, sizeof a, ro);
        fmt_rate(b, sizeof b, rj);
        fmt_rate(c, sizeof c, rl);
        printf("| %s | %zu | %s (%.2f µs) | %s | %s (%.2f µs) | %.1fx |\n", names[i],
               ims[i]->header_len, a, 1e6 / ro, b, c, 1e6 / rl, ro / rl);
        fflush(stdout);
    }
    tiff_parser_free(p);
    TIFFOpenOptionsFree(lt_opts);
    free(jbuf);
    for (unsigned i = 0; i < narrays; i++)
        free(arrays[i]);
    free(cog.bytes.b);
    free(big.bytes.b);
    return 0;
}
