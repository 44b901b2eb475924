/* utf8.c - UTF-8 validation, character-boundary cuts and the \xNN escape of invalid bytes.
 *
 * Every STRING value the tool writes must be valid UTF-8: one invalid value makes strict
 * readers (DuckDB) refuse a whole Parquet file. Keys are bytes, though (a Latin-1 file name
 * on an old NFS share, a key list written by anything), and messages are cut into fixed
 * buffers. These helpers are what the writer and the message formatters stand on.
 *
 * Validity is RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF. Most values are ASCII, so ASCII runs are checked 8 bytes at a time.
 */
#include "util.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid sequence at p (avail >= 1 bytes there, p[0] >= 0x80), 0 if it is not
 * the start of one (a stray continuation byte, an invalid lead byte, an overlong or
 * surrogate form, or a sequence cut short). */
static size_t seq_len(const uint8_t *p, size_t avail) {
    uint8_t c = p[0];
    size_t len;
    /* the second byte's range is narrower after some lead bytes: that is what excludes
     * overlongs (E0, F0), surrogates (ED) and code points past U+10FFFF (F4) */
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c == 0xE0)
        len = 3, lo = 0xA0;
    else if (c == 0xED)
        len = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF)
        len = 3;
    else if (c == 0xF0)
        len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        len = 4;
    else if (c == 0xF4)
        len = 4, hi = 0x8F;
    else
        return 0;
    if (avail < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    return len;
}

size_t ut_utf8_valid_prefix(const void *s, size_t n) {
    const uint8_t *p = s;
    size_t i = 0;
    while (i < n) {
        while (n - i >= 8) {
            uint64_t k;
            memcpy(&k, p + i, 8);
            if (k & 0x8080808080808080ull)
                break;
            i += 8;
        }
        while (i < n && p[i] < 0x80)
            i++;
        if (i == n)
            break;
        size_t l = seq_len(p + i, n - i);
        if (!l)
            return i;
        i += l;
    }
    return n;
}

bool ut_utf8_valid(const void *s, size_t n) { return ut_utf8_valid_prefix(s, n) == n; }

size_t ut_utf8_cut(const void *s, size_t n, size_t max) {
    if (n <= max)
        return n;
    const uint8_t *p = s;
    /* p[max] is the first byte left out; if it continues a character, that character goes
     * too. At most 3 steps back: past that the bytes are not UTF-8 anyway and any cut will
     * do (the writer escapes them). */
    size_t k = max;
    for (int steps = 0; steps < 3 && k > 0 && (p[k] & 0xC0) == 0x80; steps++)
        k--;
    if ((p[k] & 0xC0) == 0x80)
        return max;
    /* k is on a lead byte (or ASCII): keep the cut there only if the character at k really
     * spans max (a valid sequence); otherwise the bytes before max were junk, cut at max */
    if (k < max && p[k] >= 0xC0 && seq_len(p + k, n - k) > max - k)
        return k;
    return max;
}

int ut_utf8_prec(const char *s, size_t max) {
    if (!s)
        return 0;
    if (max > INT_MAX)
        max = INT_MAX;
    /* a character spanning byte max ends by max + 3: no need to measure further */
    size_t n = strnlen(s, max + 4);
    return (int)ut_utf8_cut(s, n, max);
}

size_t ut_utf8_escape(char *out, const void *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = s;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t ok = ut_utf8_valid_prefix(p + i, n - i);
        memcpy(out + o, p + i, ok);
        o += ok;
        i += ok;
        if (i == n)
            break;
        /* one invalid byte; the next may start a valid character (Python's decoder with
         * errors='backslashreplace' gives the same text) */
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[p[i] >> 4];
        out[o++] = hex[p[i] & 15];
        i++;
    }
    return o;
}

size_t ut_utf8_escaped_len(const void *s, size_t n) {
    const uint8_t *p = s;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t ok = ut_utf8_valid_prefix(p + i, n - i);
        o += ok;
        i += ok;
        if (i < n) {
            o += 4;
            i++;
        }
    }
    return o;
}

size_t ut_utf8_trim_cut(char *s, size_t len) {
    /* the last character started at most 3 bytes from the end */
    size_t k = len;
    for (int steps = 0; steps < 3 && k > 0 && ((uint8_t)s[k - 1] & 0xC0) == 0x80; steps++)
        k--;
    if (k == 0)
        return len;
    uint8_t c = (uint8_t)s[k - 1];
    size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (c >= 0xC2 && c <= 0xF4 && len - (k - 1) < want) {
        s[k - 1] = '\0';
        return k - 1;
    }
    return len;
}

int ut_vmsgf(char *dst, size_t n, const char *fmt, va_list ap) {
    if (n == 0)
        return 0;
    int r = vsnprintf(dst, n, fmt, ap);
    if (r < 0) {
        dst[0] = '\0';
        return 0;
    }
    if ((size_t)r >= n)
        return (int)ut_utf8_trim_cut(dst, n - 1);
    return r;
}

int ut_msgf(char *dst, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = ut_vmsgf(dst, n, fmt, ap);
    va_end(ap);
    return r;
}
