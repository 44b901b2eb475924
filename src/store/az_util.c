/* az_util.c - shared helpers of the Azure and GCS backends (see az_util.h). */
#include "az_util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AZ_BUF_DEFAULT_LIMIT (1u << 20)

static bool buf_reserve(az_buf *b, size_t extra) {
    size_t limit = b->limit ? b->limit : AZ_BUF_DEFAULT_LIMIT;
    if (b->bad || extra > limit || b->len + extra > limit) {
        b->bad = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = malloc(cap);
    if (!p) {
        b->bad = true;
        return false;
    }
    /* copy rather than realloc so the old bytes (maybe a secret) can be wiped */
    if (b->p) {
        memcpy(p, b->p, b->len + 1);
        OPENSSL_cleanse(b->p, b->cap);
        free(b->p);
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void az_buf_put(az_buf *b, const void *s, size_t n) {
    if (!buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void az_buf_puts(az_buf *b, const char *s) { az_buf_put(b, s, strlen(s)); }

void az_buf_putc(az_buf *b, char c) { az_buf_put(b, &c, 1); }

void az_buf_printf(az_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->bad = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        az_buf_put(b, small, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void az_buf_reset(az_buf *b) {
    b->len = 0;
    b->bad = false;
    if (b->p)
        b->p[0] = 0;
}

void az_buf_free(az_buf *b) {
    if (b->p) {
        OPENSSL_cleanse(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = b->cap = 0;
    b->bad = false;
}

static const char HEX[] = "0123456789ABCDEF";

void az_pct_encode(az_buf *b, const char *s, size_t n, bool keep_slash) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            az_buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', HEX[c >> 4], HEX[c & 15]};
            az_buf_put(b, e, 3);
        }
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int az_pct_decode(az_buf *b, const char *s, size_t n, bool plus_space) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            az_buf_putc(b, (char)(hi * 16 + lo));
            i += 2;
        } else if (plus_space && s[i] == '+') {
            az_buf_putc(b, ' ');
        } else {
            az_buf_putc(b, s[i]);
        }
    }
    return 0;
}

void az_base64_encode(az_buf *b, const void *data, size_t n, bool url_safe) {
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *al = url_safe ? url : std;
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        char o[4] = {al[v >> 18], al[(v >> 12) & 63], al[(v >> 6) & 63], al[v & 63]};
        az_buf_put(b, o, 4);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        char o[4] = {al[v >> 18], al[(v >> 12) & 63], '=', '='};
        az_buf_put(b, o, url_safe ? 2 : 4); /* JWT's base64url has no padding */
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        char o[4] = {al[v >> 18], al[(v >> 12) & 63], al[(v >> 6) & 63], '='};
        az_buf_put(b, o, url_safe ? 3 : 4);
    }
}

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long az_base64_decode(const char *s, size_t n, uint8_t *out, size_t cap) {
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

int az_hmac_sha256(const void *key, size_t klen, const void *data, size_t dlen,
                   uint8_t out[32]) {
    unsigned int len = 32;
    if (klen > INT32_MAX)
        return -1;
    if (!HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &len) || len != 32)
        return -1;
    return 0;
}

int64_t az_timegm_ms(int year, int mon, int day, int hour, int min, int sec, int ms) {
    /* days from civil (proleptic Gregorian), valid for any year */
    int64_t y = year - (mon <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return ((days * 24 + hour) * 60 + min) * 60000 + (int64_t)sec * 1000 + ms;
}

static const char *const MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const WDAYS[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* Reads exactly `digits` decimal digits at s[*i]. */
static int read_num(const char *s, size_t n, size_t *i, int digits) {
    int v = 0;
    for (int k = 0; k < digits; k++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    return v;
}

static bool expect(const char *s, size_t n, size_t *i, char c) {
    if (*i < n && s[*i] == c) {
        (*i)++;
        return true;
    }
    return false;
}

int64_t az_parse_rfc1123(const char *s, size_t n) {
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    size_t i = 0;
    while (i < n && s[i] != ',')
        i++;
    if (!expect(s, n, &i, ',') || !expect(s, n, &i, ' '))
        return INT64_MIN;
    int day = read_num(s, n, &i, 2);
    if (day < 1 || day > 31 || !expect(s, n, &i, ' ') || i + 3 > n)
        return INT64_MIN;
    int mon = -1;
    for (int m = 0; m < 12; m++)
        if (memcmp(s + i, MONTHS[m], 3) == 0)
            mon = m + 1;
    i += 3;
    if (mon < 0 || !expect(s, n, &i, ' '))
        return INT64_MIN;
    int year = read_num(s, n, &i, 4);
    if (year < 0 || !expect(s, n, &i, ' '))
        return INT64_MIN;
    int hh = read_num(s, n, &i, 2);
    if (hh < 0 || hh > 23 || !expect(s, n, &i, ':'))
        return INT64_MIN;
    int mm = read_num(s, n, &i, 2);
    if (mm < 0 || mm > 59 || !expect(s, n, &i, ':'))
        return INT64_MIN;
    int ss = read_num(s, n, &i, 2);
    if (ss < 0 || ss > 60)
        return INT64_MIN;
    if (!(i + 4 == n && memcmp(s + i, " GMT", 4) == 0))
        return INT64_MIN;
    return az_timegm_ms(year, mon, day, hh, mm, ss, 0);
}

int64_t az_parse_rfc3339(const char *s, size_t n) {
    size_t i = 0;
    int year = read_num(s, n, &i, 4);
    if (year < 0 || !expect(s, n, &i, '-'))
        return INT64_MIN;
    int mon = read_num(s, n, &i, 2);
    if (mon < 1 || mon > 12 || !expect(s, n, &i, '-'))
        return INT64_MIN;
    int day = read_num(s, n, &i, 2);
    if (day < 1 || day > 31 || !(expect(s, n, &i, 'T') || expect(s, n, &i, 't') ||
                                 expect(s, n, &i, ' ')))
        return INT64_MIN;
    int hh = read_num(s, n, &i, 2);
    if (hh < 0 || hh > 23 || !expect(s, n, &i, ':'))
        return INT64_MIN;
    int mm = read_num(s, n, &i, 2);
    if (mm < 0 || mm > 59 || !expect(s, n, &i, ':'))
        return INT64_MIN;
    int ss = read_num(s, n, &i, 2);
    if (ss < 0 || ss > 60)
        return INT64_MIN;
    int ms = 0;
    if (expect(s, n, &i, '.')) {
        int scale = 100, digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            ms += (s[i] - '0') * scale;
            scale /= 10;
            i++;
            digits++;
        }
        if (digits == 0)
            return INT64_MIN;
    }
    int64_t off_ms = 0;
    if (expect(s, n, &i, 'Z') || expect(s, n, &i, 'z')) {
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i] == '-' ? -1 : 1;
        i++;
        int oh = read_num(s, n, &i, 2);
        if (oh < 0 || !expect(s, n, &i, ':'))
            return INT64_MIN;
        int om = read_num(s, n, &i, 2);
        if (om < 0)
            return INT64_MIN;
        off_ms = sign * ((int64_t)oh * 60 + om) * 60000;
    } else {
        return INT64_MIN;
    }
    if (i != n)
        return INT64_MIN;
    return az_timegm_ms(year, mon, day, hh, mm, ss, ms) - off_ms;
}

void az_format_rfc1123(time_t t, char out[32]) {
    int64_t secs = (int64_t)t;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    /* civil from days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    y += m <= 2;
    snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", WDAYS[wday], d, MONTHS[m - 1],
             (int)y, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

static bool ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return *a == *b;
}

bool az_name_in(const char *key, const char *const *names) {
    for (size_t i = 0; names[i]; i++)
        if (ieq(key, names[i]))
            return true;
    return false;
}

const char *az_opt(const store_options *o, const char *const *names) {
    if (!o)
        return NULL;
    for (size_t i = 0; i < o->n_kv; i++)
        if (o->kv[i].key && az_name_in(o->kv[i].key, names))
            return o->kv[i].value ? o->kv[i].value : "";
    return NULL;
}

int az_parse_bool(const char *v) {
    static const char *const yes[] = {"true", "1", "yes", "on", NULL};
    static const char *const no[] = {"false", "0", "no", "off", "", NULL};
    if (!v)
        return 0;
    if (az_name_in(v, yes))
        return 1;
    if (az_name_in(v, no))
        return 0;
    return -1;
}

void az_url_for_message(const char *url, char *out, size_t outlen) {
    if (!outlen)
        return;
    const char *q = strpbrk(url, "?#");
    size_t n = q ? (size_t)(q - url) : strlen(url);
    /* drop "user:pass@" from the authority, if any */
    const char *auth = strstr(url, "://");
    size_t skip_from = 0, skip_to = 0;
    if (auth && auth < url + n) {
        const char *a = auth + 3;
        const char *end = a;
        while (end < url + n && *end != '/')
            end++;
        const char *at = NULL;
        for (const char *p = a; p < end; p++)
            if (*p == '@')
                at = p;
        if (at) {
            skip_from = (size_t)(a - url);
            skip_to = (size_t)(at + 1 - url);
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        if (i >= skip_from && i < skip_to)
            continue;
        out[o++] = url[i];
    }
    out[o] = 0;
}

void az_join(char *dst, size_t n, const char *a, const char *b) {
    if (!n)
        return;
    size_t o = 0;
    for (const char *parts[3] = {a, ": ", b}, **q = parts; q < parts + 3; q++)
        for (const char *c = *q; *c && o + 1 < n; c++)
            dst[o++] = *c;
    dst[o] = 0;
}
