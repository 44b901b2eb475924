/* oracle_libtiff.c - compares our parser with libtiff on every file of the shared corpus.
 *
 *   oracle_libtiff CORPUS_DIR DEVIATIONS_FILE
 *
 * Each file is parsed by td_tiff (whole file fed at once) and opened by libtiff from memory.
 * libtiff fills in defaults (compression 1, planar 1, a guessed photometric, rows_per_strip
 * 2^32-1 ...) that our parser reports as absent, so which tags really are in IFD 0 is decided
 * by an independent raw directory walk (oracle_rawscan.c): a tag present in the file and
 * delivered by libtiff must have the same value in our header; a tag absent from the file
 * must be absent from our header. Files libtiff refuses are skipped and counted. Every
 * disagreement fails the test unless DEVIATIONS_FILE lists it ("path field reason").
 */
#include "tiff.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "corpus_util.h"
#include "oracle_rawscan.c"

/* ---- known deviations -------------------------------------------------------------- */

typedef struct deviation {
    char path[512], field[64];
    unsigned used;
} deviation;

static deviation devs[256];
static size_t n_devs;

static void load_deviations(const char *file) {
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "oracle: cannot open %s\n", file);
        exit(2);
    }
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (n_devs == sizeof devs / sizeof devs[0])
            break;
        deviation *d = &devs[n_devs];
        if (sscanf(line, "%511s %63s", d->path, d->field) == 2)
            n_devs++;
    }
    fclose(f);
}

/* ---- comparison bookkeeping -------------------------------------------------------- */

static const char *cur_path;
static unsigned long n_compared, n_absent_agreed, n_lt_absent, n_known, n_fail;

static bool is_known(const char *field) {
    for (size_t i = 0; i < n_devs; i++)
        if (strcmp(devs[i].path, cur_path) == 0 &&
            (strcmp(devs[i].field, field) == 0 || strcmp(devs[i].field, "*") == 0)) {
            devs[i].used++;
            return true;
        }
    return false;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
disagree(const char *field, const char *fmt, ...) {
    if (is_known(field)) {
        n_known++;
        return;
    }
    n_fail++;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("DISAGREE %s %s: %s\n", cur_path, field, msg);
}

/* ---- libtiff from memory ----------------------------------------------------------- */

typedef struct memfile {
    const uint8_t *b;
    uint64_t n, pos;
} memfile;

static tmsize_t mf_read(thandle_t h, void *buf, tmsize_t size) {
    memfile *m = h;
    if (size < 0 || m->pos >= m->n)
        return 0;
    uint64_t k = m->n - m->pos;
    if ((uint64_t)size < k)
        k = (uint64_t)size;
    memcpy(buf, m->b + m->pos, (size_t)k);
    m->pos += k;
    return (tmsize_t)k;
}
static tmsize_t mf_write(thandle_t h, void *buf, tmsize_t size) { return -1; }
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

static TIFF *lt_open(memfile *m) {
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    /* The crash/oom files of the corpus ask for absurd allocations. */
    TIFFOpenOptionsSetMaxSingleMemAlloc(o, 64 << 20);
    TIFFOpenOptionsSetErrorHandlerExtR(o, quiet, NULL);
    TIFFOpenOptionsSetWarningHandlerExtR(o, quiet, NULL);
    TIFF *t = TIFFClientOpenExt("mem", "rmc", m, mf_read, mf_write, mf_seek, mf_close, mf_size,
                                mf_map, mf_unmap, o);
    TIFFOpenOptionsFree(o);
    return t;
}

/* A tag's value as libtiff delivers it, converted to doubles (or bytes for ASCII/UNDEFINED). */
typedef struct ltval {
    bool ok;
    uint64_t count;
    double *d;          /* numeric values */
    const uint8_t *raw; /* ASCII / BYTE / UNDEFINED bytes */
} ltval;

static void lt_generic(TIFF *t, uint16_t tag, ltval *v) {
    memset(v, 0, sizeof *v);
    const TIFFField *f = TIFFFindField(t, tag, TIFF_ANY);
    if (!f)
        return;
    uint32_t c32 = 0;
    uint16_t c16 = 0;
    void *p = NULL;
    int got;
    if (TIFFFieldPassCount(f)) {
        if (TIFFFieldSetGetCountSize(f) == 2) {
            got = TIFFGetField(t, tag, &c16, &p);
            c32 = c16;
        } else {
            got = TIFFGetField(t, tag, &c32, &p);
        }
    } else {
        return; /* only used for tags libtiff keeps as counted arrays */
    }
    if (!got || !p)
        return;
    v->ok = true;
    v->count = c32;
    v->raw = p;
    int ss = TIFFFieldSetGetSize(f);
    v->d = calloc(c32 ? c32 : 1, sizeof *v->d);
    for (uint32_t i = 0; i < c32; i++) {
        double x = 0;
        switch (TIFFFieldDataType(f)) {
        case TIFF_BYTE:
        case TIFF_UNDEFINED:
        case TIFF_ASCII:
            x = ((uint8_t *)p)[i];
            break;
        case TIFF_SBYTE:
            x = ((int8_t *)p)[i];
            break;
        case TIFF_SHORT:
            x = ((uint16_t *)p)[i];
            break;
        case TIFF_SSHORT:
            x = ((int16_t *)p)[i];
            break;
        case TIFF_LONG:
        case TIFF_IFD:
            x = ((uint32_t *)p)[i];
            break;
        case TIFF_SLONG:
            x = ((int32_t *)p)[i];
            break;
        case TIFF_LONG8:
        case TIFF_IFD8:
            x = (double)((uint64_t *)p)[i];
            break;
        case TIFF_SLONG8:
            x = (double)((int64_t *)p)[i];
            break;
        case TIFF_FLOAT:
            x = ((float *)p)[i];
            break;
        case TIFF_DOUBLE:
            x = ((double *)p)[i];
            break;
        case TIFF_RATIONAL:
        case TIFF_SRATIONAL:
            x = ss == 8 ? ((double *)p)[i] : ((float *)p)[i];
            break;
        default:
            v->ok = false;
            break;
        }
        v->d[i] = x;
    }
}

/* ---- value normalisation ----------------------------------------------------------- */

static bool utf8_valid(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t k = c < 0x80             ? 0
                   : (c & 0xE0) == 0xC0 ? 1
                   : (c & 0xF0) == 0xE0 ? 2
                   : (c & 0xF8) == 0xF0 ? 3
                                        : 9;
        if (k == 9 || (k == 1 && c < 0xC2) || i + k >= n + (k ? 0 : 1))
            return false;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
        i += k + 1;
    }
    return true;
}

/* cp1252 bytes 0x80..0x9F; 0 = undefined (kept as U+0080.. like Python's decode would fail,
 * then our parser falls back to hex, which the comparison skips). */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

/* libtiff's C string (up to its first NUL) -> UTF-8 in the tifffile convention, stripped. */
static bool lt_string_norm(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    if (utf8_valid((const uint8_t *)s, n)) {
        if (n >= cap)
            return false;
        memcpy(out, s, n);
        o = n;
    } else {
        for (size_t i = 0; i < n; i++) {
            unsigned c = (uint8_t)s[i];
            if (c >= 0x80 && c < 0xA0)
                c = cp1252_hi[c - 0x80];
            if (c == 0)
                return false;
            if (o + 4 >= cap)
                return false;
            if (c < 0x80)
                out[o++] = (char)c;
            else if (c < 0x800) {
                out[o++] = (char)(0xC0 | (c >> 6));
                out[o++] = (char)(0x80 | (c & 0x3F));
            } else {
                out[o++] = (char)(0xE0 | (c >> 12));
                out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
                out[o++] = (char)(0x80 | (c & 0x3F));
            }
        }
    }
    out[o] = 0;
    return true;
}

/* Up to the first NUL, ASCII whitespace stripped on both sides, trailing '|' optional. */
static size_t norm_span(const char *s, size_t n, bool strip_bar, const char **start) {
    size_t len = strnlen(s, n);
    size_t a = 0;
    while (a < len && isspace((unsigned char)s[a]))
        a++;
    while (len > a && (isspace((unsigned char)s[len - 1]) || (strip_bar && s[len - 1] == '|')))
        len--;
    *start = s + a;
    return len - a;
}

static bool str_agree(const char *ours, size_t ours_n, const char *lt, size_t lt_n,
                      bool strip_bar) {
    char buf[1 << 16];
    if (!lt_string_norm(lt, strnlen(lt, lt_n), buf, sizeof buf))
        return true; /* undecidable */
    const char *a, *b;
    size_t na = norm_span(ours, ours_n, strip_bar, &a);
    size_t nb = norm_span(buf, strlen(buf), strip_bar, &b);
    return na == nb && memcmp(a, b, na) == 0;
}

static bool dbl_agree(double a, double b) {
    if (isnan(a) && isnan(b))
        return true;
    if (a == b)
        return true;
    return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

/* ---- per-field comparison ---------------------------------------------------------- */

static const tiff_header *H;
static const raw_tiff *R;
static TIFF *T;
static size_t N;

static void cmp_int(tiff_field_id id, int64_t lt) {
    const tiff_value *v = &H->field[id];
    const char *name = tiff_field_infos[id].name;
    n_compared++;
    if (!v->present) {
        disagree(name, "ours absent, libtiff %lld", (long long)lt);
    } else if (tiff_field_infos[id].kind == TIFF_K_INT_LIST) {
        if (v->count == 0 || v->u.ints[0] != lt)
            disagree(name, "ours[0] %lld, libtiff %lld", v->count ? (long long)v->u.ints[0] : -1,
                     (long long)lt);
    } else if (v->u.i != lt) {
        disagree(name, "ours %lld, libtiff %lld", (long long)v->u.i, (long long)lt);
    }
}

static void cmp_field(tiff_field_id id) {
    const tiff_field_info *fi = &tiff_field_infos[id];
    const raw_entry *re = raw_find0(R, fi->tag);
    const tiff_value *v = &H->field[id];
    if (!re) {
        /* Not in the file at all: we must not invent it. */
        n_absent_agreed++;
        if (v->present)
            disagree(fi->name, "ours present, tag not in IFD 0");
        return;
    }
    uint16_t u16 = 0, *p16 = NULL;
    uint32_t u32 = 0;
    float fl = 0;
    char *s = NULL;
    switch (fi->tag) {
    case 254:
    case 256:
    case 257:
    case 278:
    case 322:
    case 323:
        if (!TIFFGetField(T, fi->tag, &u32))
            goto lt_absent;
        cmp_int(id, u32);
        return;
    case 258:
    case 259:
    case 262:
    case 274:
    case 277:
    case 280:
    case 281:
    case 284:
    case 296:
    case 317:
    case 339:
        if (!TIFFGetField(T, fi->tag, &u16))
            goto lt_absent;
        cmp_int(id, u16);
        return;
    case 282:
    case 283:
        if (!TIFFGetField(T, fi->tag, &fl))
            goto lt_absent;
        n_compared++;
        if (!v->present) {
            /* Our convention: a rational with denominator 0 is absent; libtiff says 0. */
            if (fl != 0)
                disagree(fi->name, "ours absent, libtiff %g", (double)fl);
        } else if ((float)v->u.d != fl && !dbl_agree(v->u.d, fl)) {
            disagree(fi->name, "ours %.9g, libtiff %.9g", v->u.d, (double)fl);
        }
        return;
    case 269:
    case 270:
    case 305:
    case 306:
    case 315:
    case 316:
    case 33432:
        if (!TIFFGetField(T, fi->tag, &s) || !s)
            goto lt_absent;
        n_compared++;
        if (!v->present)
            disagree(fi->name, "ours absent, libtiff \"%.60s\"", s);
        else if (!str_agree(v->u.str, v->count, s, strlen(s), false))
            disagree(fi->name, "ours \"%.60s\", libtiff \"%.60s\"", v->u.str, s);
        return;
    case 338:
        if (!TIFFGetField(T, fi->tag, &u16, &p16))
            goto lt_absent;
        n_compared++;
        if (!v->present || v->count != u16) {
            disagree(fi->name, "ours count %llu, libtiff %u",
                     v->present ? (unsigned long long)v->count : 0ull, u16);
        } else {
            for (unsigned i = 0; i < u16; i++)
                if (v->u.ints[i] != p16[i]) {
                    disagree(fi->name, "item %u: ours %lld, libtiff %u", i, (long long)v->u.ints[i],
                             p16[i]);
                    break;
                }
        }
        return;
    case 273:
    case 279:
    case 324:
    case 325: {
        /* libtiff derives the number of strips/tiles from the image geometry; our parser
         * reports the entry's count. They agree for well-formed files. */
        if (!TIFFGetField(T, fi->tag, &p16))
            goto lt_absent; /* uint64_t* really; unused */
        uint64_t lt = TIFFIsTiled(T) ? TIFFNumberOfTiles(T) : TIFFNumberOfStrips(T);
        n_compared++;
        if (!v->present)
            disagree(fi->name, "ours absent, libtiff %llu", (unsigned long long)lt);
        else if ((uint64_t)v->u.i != re->count)
            disagree(fi->name, "ours %lld, entry count %llu", (long long)v->u.i,
                     (unsigned long long)re->count);
        else if ((uint64_t)v->u.i != lt)
            disagree(fi->name, "ours %lld, libtiff %llu", (long long)v->u.i,
                     (unsigned long long)lt);
        return;
    }
    default:
        break;
    }
    /* Tags libtiff keeps as counted arrays (GeoTIFF, GDAL, JPEGTables). */
    ltval lv;
    lt_generic(T, fi->tag, &lv);
    if (!lv.ok) {
        free(lv.d);
        goto lt_absent;
    }
    n_compared++;
    if (!v->present) {
        disagree(fi->name, "ours absent, libtiff has %llu values", (unsigned long long)lv.count);
    } else if (fi->kind == TIFF_K_STRING) {
        if (!str_agree(v->u.str, v->count, (const char *)lv.raw, lv.count, false))
            disagree(fi->name, "ours \"%.60s\", libtiff \"%.60s\"", v->u.str, (const char *)lv.raw);
    } else if (fi->kind == TIFF_K_BINARY) {
        if (v->count != lv.count || memcmp(v->u.bytes, lv.raw, (size_t)lv.count) != 0)
            disagree(fi->name, "bytes differ (ours %llu, libtiff %llu)",
                     (unsigned long long)v->count, (unsigned long long)lv.count);
    } else if (fi->kind == TIFF_K_DOUBLE_LIST) {
        if (v->count != lv.count) {
            disagree(fi->name, "count ours %llu, libtiff %llu", (unsigned long long)v->count,
                     (unsigned long long)lv.count);
        } else {
            for (uint64_t i = 0; i < lv.count; i++)
                if (!dbl_agree(v->u.dbls[i], lv.d[i])) {
                    disagree(fi->name, "item %llu: ours %.17g, libtiff %.17g",
                             (unsigned long long)i, v->u.dbls[i], lv.d[i]);
                    break;
                }
        }
    }
    free(lv.d);
    return;
lt_absent:
    n_lt_absent++;
}

static int geokey_index(uint16_t id) {
    for (int k = 0; k < TIFF_GEOKEY_COUNT; k++)
        if (tiff_geokey_infos[k].tag == id)
            return k;
    return -1;
}

static void cmp_geokeys(void) {
    if (!raw_find0(R, 34735)) {
        n_absent_agreed++;
        if (H->has_geokeys)
            disagree("geokeys", "ours has geokeys, tag 34735 not in IFD 0");
        return;
    }
    ltval dir, dbl, asc;
    lt_generic(T, 34735, &dir);
    lt_generic(T, 34736, &dbl);
    lt_generic(T, 34737, &asc);
    if (!dir.ok || dir.count < 4) {
        n_lt_absent++;
        goto out;
    }
    n_compared++;
    if (!H->has_geokeys) {
        disagree("geokeys", "ours has no geokeys, libtiff has %llu shorts",
                 (unsigned long long)dir.count);
        goto out;
    }
    for (int i = 0; i < 4; i++)
        if (H->geokeys_header[i] != (uint16_t)dir.d[i]) {
            disagree("geokeys_header", "short %d: ours %u, libtiff %u", i, H->geokeys_header[i],
                     (unsigned)dir.d[i]);
            break;
        }
    uint64_t nkeys = (uint64_t)dir.d[3];
    if (nkeys > (dir.count - 4) / 4)
        nkeys = (dir.count - 4) / 4;
    for (uint64_t k = 0; k < nkeys; k++) {
        uint16_t id = (uint16_t)dir.d[4 + 4 * k], loc = (uint16_t)dir.d[5 + 4 * k];
        uint16_t cnt = (uint16_t)dir.d[6 + 4 * k], off = (uint16_t)dir.d[7 + 4 * k];
        bool dup = false;
        for (uint64_t j = 0; j < k; j++)
            if ((uint16_t)dir.d[4 + 4 * j] == id)
                dup = true;
        if (dup)
            continue; /* which of two equal ids wins is a convention, not a value */
        char fname[32];
        snprintf(fname, sizeof fname, "geokey:%u", id);
        int gi = geokey_index(id);
        if (gi < 0) {
            bool found = false;
            for (size_t j = 0; j < H->n_geokeys_other; j++)
                if (H->geokeys_other[j].id == id)
                    found = true;
            n_compared++;
            if (!found)
                disagree(fname, "unnamed key missing from geokeys_other");
            continue;
        }
        const tiff_value *v = &H->geokey[gi];
        tiff_kind kind = tiff_geokey_infos[gi].kind;
        if (loc == 0 && kind == TIFF_K_INT && cnt <= 1) {
            n_compared++;
            if (!v->present || v->u.i != off)
                disagree(fname, "ours %lld%s, directory %u", v->present ? (long long)v->u.i : 0,
                         v->present ? "" : " (absent)", off);
        } else if (loc == 34736 && kind == TIFF_K_DOUBLE && cnt == 1 && dbl.ok && off < dbl.count) {
            n_compared++;
            if (!v->present || !dbl_agree(v->u.d, dbl.d[off]))
                disagree(fname, "ours %.17g%s, libtiff %.17g", v->present ? v->u.d : 0.0,
                         v->present ? "" : " (absent)", dbl.d[off]);
        } else if (loc == 34737 && kind == TIFF_K_STRING && asc.ok &&
                   (uint64_t)off + cnt <= asc.count) {
            n_compared++;
            if (!v->present)
                disagree(fname, "ours absent, libtiff \"%.*s\"", (int)cnt,
                         (const char *)asc.raw + off);
            else if (!str_agree(v->u.str, v->count, (const char *)asc.raw + off, cnt, true))
                disagree(fname, "ours \"%.60s\", libtiff \"%.*s\"", v->u.str,
                         cnt > 60 ? 60 : (int)cnt, (const char *)asc.raw + off);
        } else {
            n_lt_absent++; /* unusual location/count: a convention, not compared */
        }
    }
out:
    free(dir.d);
    free(dbl.d);
    free(asc.d);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR DEVIATIONS_FILE\n", argv[0]);
        return 2;
    }
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    load_deviations(argv[2]);
    corpus_list files = {0};
    corpus_list_tiffs(argv[1], &files);
    if (files.n == 0) {
        fprintf(stderr, "oracle: no TIFF files below %s\n", argv[1]);
        return 2;
    }
    tiff_parser *p = tiff_parser_new(NULL);
    static raw_tiff raw;
    unsigned long n_files = 0, n_opened = 0, n_refused = 0, n_ours_rejected = 0;
    for (size_t fi = 0; fi < files.n; fi++) {
        size_t n;
        uint8_t *buf = corpus_read(argv[1], files.v[fi], &n);
        if (!buf)
            continue;
        n_files++;
        cur_path = files.v[fi];
        memfile m = {buf, n, 0};
        TIFF *t = lt_open(&m);
        tiff_parser_reset(p, n);
        int rc = tiff_parser_feed(p, 0, buf, n);
        if (rc == TIFF_OK)
            rc = tiff_parser_run(p);
        if (!t) {
            n_refused++;
        } else if (rc != TIFF_OK) {
            n_ours_rejected++;
            disagree("open", "libtiff reads it, ours: %s (%s)", tiff_err_name(rc),
                     tiff_parser_errmsg(p));
        } else {
            n_opened++;
            H = tiff_parser_header(p);
            raw_scan(buf, n, &raw);
            R = &raw;
            T = t;
            N = n;
            for (int id = 0; id < TIFF_FIELD_COUNT; id++)
                cmp_field((tiff_field_id)id);
            cmp_geokeys();
            /* Directory count last: it moves libtiff off IFD 0. */
            tdir_t nd = TIFFNumberOfDirectories(t);
            n_compared++;
            if (nd != H->ifd_count)
                disagree("ifd_count", "ours %u, libtiff %u", H->ifd_count, (unsigned)nd);
        }
        if (t)
            TIFFClose(t);
        free(buf);
    }
    tiff_parser_free(p);
    for (size_t i = 0; i < n_devs; i++)
        if (!devs[i].used)
            printf("note: deviation not seen: %s %s\n", devs[i].path, devs[i].field);
    printf("oracle: %lu files, %lu compared with libtiff, %lu refused by libtiff (skipped), "
           "%lu rejected by ours only\n",
           n_files, n_opened, n_refused, n_ours_rejected);
    printf("oracle: %lu fields compared, %lu absent in file and ours, %lu present in file but "
           "not delivered by libtiff (skipped), %lu known deviations, %lu disagreements\n",
           n_compared, n_absent_agreed, n_lt_absent, n_known, n_fail);
    corpus_list_free(&files);
    return n_fail ? 1 : 0;
}
