/* tiff_value.c - entry values and their texts: items as integers / doubles, ASCII decoded
 * as tifffile does (UTF-8, else cp1252), JSON numbers and escapes (shared with tiff_json.c),
 * and the JSON text of unnamed tags and GeoKeys (tiff_extra).
 */
#include "tiff_internal.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- value access */

int64_t tiff__item_int(const tiff_parser *p, unsigned type, const uint8_t *b) {
    switch (type) {
    case 1:
    case 7:
    case 2:
        return b[0];
    case 6:
        return (int8_t)b[0];
    case 3:
        return r16(p, b);
    case 8:
        return (int16_t)r16(p, b);
    case 4:
    case 13:
        return r32(p, b);
    case 9:
        return (int32_t)r32(p, b);
    case 16:
    case 18:
        return (int64_t)r64(p, b);
    case 17:
        return (int64_t)r64(p, b);
    }
    return 0;
}

double tiff__item_double(const tiff_parser *p, unsigned type, const uint8_t *b) {
    switch (type) {
    case 11: {
        uint32_t u = r32(p, b);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case 12: {
        uint64_t u = r64(p, b);
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    case 5: {
        uint32_t n = r32(p, b), d = r32(p, b + 4);
        return (double)n / (double)d;
    }
    case 10: {
        int32_t n = (int32_t)r32(p, b), d = (int32_t)r32(p, b + 4);
        return (double)n / (double)d;
    }
    case 16:
    case 18:
        return (double)r64(p, b);
    }
    return (double)tiff__item_int(p, type, b);
}

/* ---------------------------------------------------------------- strings */

/* cp1252 0x80..0x9F; the five undefined bytes map to the C1 control of the same value
 * (as the WHATWG windows-1252 decoder does). */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

static int is_pyspace(uint8_t c) { return c == ' ' || (c >= 9 && c <= 13); }

/* tifffile's ASCII decoding: trailing NULs removed, then surrounding whitespace, then UTF-8,
 * else cp1252. `strip` 0 = take the bytes as they are (GeoAscii slices). `partial` = the bytes
 * are a prefix of a longer value (cut, not stripped at the end). Returns NUL-terminated valid
 * UTF-8 in the arena, NULL when over the memory limit. */
char *tiff__decode_str(tiff_parser *p, const uint8_t *b, size_t n, int strip, int partial,
                       size_t *outlen, int *was_cp1252) {
    if (strip) {
        if (!partial)
            while (n > 0 && b[n - 1] == 0)
                n--;
        while (n > 0 && is_pyspace(b[0]))
            b++, n--;
        if (!partial)
            while (n > 0 && is_pyspace(b[n - 1]))
                n--;
    }
    size_t ok = ut_utf8_valid_prefix(b, n);
    if (ok < n && partial && n - ok < 4 && b[ok] >= 0xC2 && b[ok] <= 0xF4) {
        /* maybe a sequence cut by the cap: accept if the rest is a valid beginning */
        size_t want = b[ok] >= 0xF0 ? 4 : b[ok] >= 0xE0 ? 3 : 2;
        int good = n - ok < want;
        for (size_t k = ok + 1; k < n && good; k++)
            good = b[k] >= 0x80 && b[k] <= 0xBF;
        if (good)
            n = ok;
    }
    *was_cp1252 = 0;
    if (ok >= n) {
        char *s = tiff__ar_alloc(&p->ar, n + 1);
        if (!s)
            return NULL;
        memcpy(s, b, n);
        s[n] = 0;
        *outlen = n;
        return s;
    }
    *was_cp1252 = 1;
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *s = tiff__ar_alloc(&p->ar, n * 3 + 1);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = b[i];
        if (c >= 0x80 && c < 0xA0)
            c = cp1252_hi[c - 0x80];
        if (c < 0x80)
            s[o++] = (char)c;
        else if (c < 0x800) {
            s[o++] = (char)(0xC0 | (c >> 6));
            s[o++] = (char)(0x80 | (c & 0x3F));
        } else {
            s[o++] = (char)(0xE0 | (c >> 12));
            s[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            s[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    s[o] = 0;
    *outlen = o;
    return s;
}

/* ---------------------------------------------------------------- number formatting */

size_t tiff__put_u64(char *dst, uint64_t v) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

size_t tiff__put_i64(char *dst, int64_t v) {
    if (v < 0) {
        dst[0] = '-';
        return 1 + tiff__put_u64(dst + 1, (uint64_t)0 - (uint64_t)v);
    }
    return tiff__put_u64(dst, (uint64_t)v);
}

size_t tiff__put_double(char *dst, double v) {
    if (isnan(v)) {
        memcpy(dst, "\"NaN\"", 5);
        return 5;
    }
    if (isinf(v)) {
        if (v > 0) {
            memcpy(dst, "\"Infinity\"", 10);
            return 10;
        }
        memcpy(dst, "\"-Infinity\"", 11);
        return 11;
    }
    if (fabs(v) < 1e15 && v == (double)(int64_t)v) {
        size_t n = tiff__put_i64(dst, (int64_t)v);
        if (v == 0 && signbit(v)) {
            memcpy(dst, "-0.0", 4);
            return 4;
        }
        memcpy(dst + n, ".0", 2);
        return n + 2;
    }
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.17g", v);
    if (n < 0 || n >= TIFF__DBL_MAX_CHARS)
        n = 0;
    /* shortest of %.15g / %.16g / %.17g that reads back as v: nicer and still exact */
    for (int prec = 15; prec <= 16; prec++) {
        char t2[40];
        int m = snprintf(t2, sizeof t2, "%.*g", prec, v);
        if (m > 0 && m < TIFF__DBL_MAX_CHARS && strtod(t2, NULL) == v) {
            memcpy(dst, t2, (size_t)m);
            return (size_t)m;
        }
    }
    memcpy(dst, tmp, (size_t)n);
    return (size_t)n;
}

/* ---------------------------------------------------------------- JSON of unnamed tags */

typedef struct {
    char *buf;
    size_t len, max; /* max = text limit incl. the closing part */
} jb;

static void jb_put(jb *j, const char *s, size_t n) {
    memcpy(j->buf + j->len, s, n);
    j->len += n;
}

/* Value of `count` items of `type` (only `have` of them present in data) as JSON into an arena
 * buffer, {"type":T,"count":N,"value":V[,"capped":true]}. geo: GeoKey conventions (a single
 * item is a scalar). */
tiff_extra *tiff__make_extra(tiff_parser *p, tiff_extra *x, unsigned id, unsigned type,
                             uint64_t count, const uint8_t *data, uint64_t have, int partial,
                             const char *str, size_t slen, int geo) {
    size_t max = p->lim.max_tag_text;
    /* allocate what this value can take, not the whole cap */
    uint64_t per = (type == 1 || type == 7)     ? 2
                   : type == 2                  ? 6
                   : (type == 5 || type == 10)  ? 26
                   : (type == 11 || type == 12) ? TIFF__DBL_MAX_CHARS + 1
                                                : 22;
    uint64_t bound = type == 2 ? 80 + (uint64_t)slen * per : 80 + have * per;
    size_t alloc = bound < max ? (size_t)bound : max;
    jb j = {tiff__ar_alloc(&p->ar, alloc + 8), 0, max};
    if (!j.buf)
        return NULL;
    char tmp[80];
    /* {"type":%u,"count":%llu,"value": without snprintf, whose formatting cost more than
     * the rest of a short value (GDAL_NODATA is in every GDAL file's other_tags) */
    size_t n = 0;
    memcpy(tmp, "{\"type\":", 8);
    n = 8 + tiff__put_u64(tmp + 8, type);
    memcpy(tmp + n, ",\"count\":", 9);
    n += 9;
    n += tiff__put_u64(tmp + n, count);
    memcpy(tmp + n, ",\"value\":", 9);
    n += 9;
    jb_put(&j, tmp, n);
    int capped = 0;
    static const char capt[] = ",\"capped\":true}";
    const size_t tail = sizeof capt - 1 + 1; /* closer of the value + capped marker */
    if (type == 1 || type == 7) {
        static const char hex[] = "0123456789abcdef";
        jb_put(&j, "\"", 1);
        for (uint64_t i = 0; i < have; i++) {
            size_t reserve = (i + 1 == count) ? 2 : tail;
            if (j.len + 2 + reserve > max) {
                capped = 1;
                break;
            }
            j.buf[j.len++] = hex[data[i] >> 4];
            j.buf[j.len++] = hex[data[i] & 15];
        }
        if (have < count)
            capped = 1;
        jb_put(&j, "\"", 1);
    } else if (type == 2) {
        jb_put(&j, "\"", 1);
        size_t i = 0;
        while (i < slen) {
            char e[8];
            size_t used;
            size_t el = ut_json_escape_unit(e, (const unsigned char *)str + i, slen - i, &used);
            size_t reserve = (i + used >= slen && !partial) ? 2 : tail;
            if (j.len + el + reserve > max) {
                capped = 1;
                break;
            }
            jb_put(&j, e, el);
            i += used;
        }
        if (partial)
            capped = 1;
        jb_put(&j, "\"", 1);
    } else {
        unsigned isz = item_size(type);
        int scalar = geo && count == 1 && have == 1;
        if (!scalar)
            jb_put(&j, "[", 1);
        for (uint64_t i = 0; i < have; i++) {
            const uint8_t *b = data + i * isz;
            size_t m = 0;
            if (i)
                tmp[m++] = ',';
            if (type == 5 || type == 10) {
                tmp[m++] = '[';
                if (type == 5) {
                    m += tiff__put_u64(tmp + m, r32(p, b));
                    tmp[m++] = ',';
                    m += tiff__put_u64(tmp + m, r32(p, b + 4));
                } else {
                    m += tiff__put_i64(tmp + m, (int32_t)r32(p, b));
                    tmp[m++] = ',';
                    m += tiff__put_i64(tmp + m, (int32_t)r32(p, b + 4));
                }
                tmp[m++] = ']';
            } else if (type == 11 || type == 12) {
                m += tiff__put_double(tmp + m, tiff__item_double(p, type, b));
            } else if (type == 16 || type == 18) {
                m += tiff__put_u64(tmp + m, r64(p, b));
            } else {
                m += tiff__put_i64(tmp + m, tiff__item_int(p, type, b));
            }
            size_t reserve = (i + 1 == count) ? 2 : tail;
            if (j.len + m + reserve > max) {
                capped = 1;
                break;
            }
            jb_put(&j, tmp, m);
        }
        if (have < count)
            capped = 1;
        if (!scalar)
            jb_put(&j, "]", 1);
    }
    if (capped)
        jb_put(&j, capt, sizeof capt - 1);
    else
        jb_put(&j, "}", 1);
    j.buf[j.len] = 0;
    x->id = (uint16_t)id;
    x->json = j.buf;
    x->json_len = j.len;
    x->capped = capped != 0;
    return x;
}

tiff_extra *tiff__push_extra(tiff_parser *p, tiff_extra **arr, size_t *n, size_t *cap) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        tiff_extra *na = tiff__ar_alloc(&p->ar, nc * sizeof *na);
        if (!na)
            return NULL;
        if (*n)
            memcpy(na, *arr, *n * sizeof *na);
        *arr = na;
        *cap = nc;
    }
    return &(*arr)[(*n)++];
}

static int cmp_extra(const void *a, const void *b) {
    const tiff_extra *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Ids are unique here (duplicates were dropped); usually already in order. */
void tiff__sort_extras(tiff_extra *a, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (a[i - 1].id > a[i].id) {
            qsort(a, n, sizeof *a, cmp_extra);
            return;
        }
}
