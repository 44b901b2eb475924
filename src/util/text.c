/* text.c - hex, booleans, percent-coding, URL parts and base64 (see util.h). */
#include "util.h"

#include <stdlib.h>
#include <string.h>

int ut_hex_val(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ut_hex_decode(const char *s, size_t n_out, uint8_t *out) {
    for (size_t i = 0; i < n_out; i++) {
        int hi = ut_hex_val(s[2 * i]), lo = hi < 0 ? -1 : ut_hex_val(s[2 * i + 1]);
        if (lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

void ut_hex_encode(const void *data, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = 0;
}

char *ut_strdup(const char *s) {
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

bool ut_strieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (lower(*a) != lower(*b))
            return false;
    return *a == *b;
}

int ut_parse_bool(const char *v) {
    static const char *const yes[] = {"true", "yes", "y", "on", "1"};
    static const char *const no[] = {"false", "no", "n", "off", "0"};
    if (!v)
        return -1;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (ut_strieq(v, yes[i]))
            return 1;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (ut_strieq(v, no[i]))
            return 0;
    return -1;
}

void ut_join(char *dst, size_t n, const char *a, const char *b) {
    if (!n)
        return;
    size_t o = 0;
    bool cut = false;
    const char *parts[3] = {a, ": ", b};
    for (size_t k = 0; k < 3; k++)
        for (const char *c = parts[k]; *c && !cut; c++) {
            if (o + 1 >= n)
                cut = true;
            else
                dst[o++] = *c;
        }
    dst[o] = 0;
    if (cut) /* a message cut short must not end inside a character */
        ut_utf8_trim_cut(dst, o);
}

static bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

size_t ut_url_scheme_len(const char *s, size_t n) {
    if (n == 0 || !alpha(s[0]))
        return 0;
    size_t i = 1;
    while (i < n && (alpha(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
                     s[i] == '.'))
        i++;
    return n - i >= 3 && memcmp(s + i, "://", 3) == 0 ? i : 0;
}

void ut_pct_encode(ut_buf *b, const char *s, size_t n, bool keep_slash) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            ut_buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            ut_buf_put(b, e, 3);
        }
    }
}

int ut_pct_decode(ut_buf *b, const char *s, size_t n, unsigned flags) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? ut_hex_val(s[i + 1]) : -1;
            int lo = hi < 0 ? -1 : ut_hex_val(s[i + 2]);
            if (lo >= 0) {
                c = (char)(hi * 16 + lo);
                i += 2;
                if (c == 0 && (flags & UT_PCT_NO_NUL))
                    return -1;
            } else if (!(flags & UT_PCT_LENIENT)) {
                return -1;
            }
        } else if (c == '+' && (flags & UT_PCT_PLUS_SPACE)) {
            c = ' ';
        }
        ut_buf_putc(b, c);
    }
    return 0;
}

void ut_url_for_message(const char *url, char *out, size_t outlen) {
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

void ut_base64_encode(ut_buf *b, const void *data, size_t n, bool url_safe) {
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *al = url_safe ? url : std;
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        char o[4] = {al[v >> 18], al[(v >> 12) & 63], al[(v >> 6) & 63], al[v & 63]};
        ut_buf_put(b, o, 4);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        char o[4] = {al[v >> 18], al[(v >> 12) & 63], '=', '='};
        ut_buf_put(b, o, url_safe ? 2 : 4); /* JWT's base64url has no padding */
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        char o[4] = {al[v >> 18], al[(v >> 12) & 63], al[(v >> 6) & 63], '='};
        ut_buf_put(b, o, url_safe ? 3 : 4);
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

long ut_base64_decode(const char *s, size_t n, uint8_t *out, size_t cap) {
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
