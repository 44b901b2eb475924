/* az_util.h - small pieces the Azure and GCS backends share (internal; pure, no I/O):
 * a capped growable string, URL percent-coding, base64, HMAC, date parsing, option
 * lookup. Kept apart so each piece is unit-tested on its own (tests/store/az_*). */
#ifndef STORE_AZ_UTIL_H
#define STORE_AZ_UTIL_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A growable string; every append is capped (limit, 0 = 1 MiB) so no server value can
 * make it huge. A failed append sets `bad` and leaves the string as it was, so callers
 * check once at the end. p is NUL-terminated whenever non-NULL. */
typedef struct az_buf {
    char *p;
    size_t len, cap;
    size_t limit;
    bool bad;
} az_buf;

void az_buf_put(az_buf *b, const void *s, size_t n);
void az_buf_puts(az_buf *b, const char *s);
void az_buf_putc(az_buf *b, char c);
void az_buf_printf(az_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void az_buf_reset(az_buf *b);
/* Wipes the bytes before freeing (buffers may have held keys or tokens). */
void az_buf_free(az_buf *b);

/* Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash). */
void az_pct_encode(az_buf *b, const char *s, size_t n, bool keep_slash);
/* Decodes %XX (and '+' as space when plus_space) into b; -1 on a malformed escape. */
int az_pct_decode(az_buf *b, const char *s, size_t n, bool plus_space);

void az_base64_encode(az_buf *b, const void *data, size_t n, bool url_safe);
/* Standard alphabet, padding optional, whitespace not allowed. Returns the decoded length
 * or -1 (bad input or longer than cap). */
long az_base64_decode(const char *s, size_t n, uint8_t *out, size_t cap);

/* HMAC-SHA256 (OpenSSL); returns 0 or -1. */
int az_hmac_sha256(const void *key, size_t klen, const void *data, size_t dlen, uint8_t out[32]);

/* Days-from-civil based timegm (no TZ games, portable). */
int64_t az_timegm_ms(int year, int mon, int day, int hour, int min, int sec, int ms);
/* "Sun, 06 Nov 1994 08:49:37 GMT" -> ms since epoch, INT64_MIN if malformed. */
int64_t az_parse_rfc1123(const char *s, size_t n);
/* "2024-01-02T03:04:05.678Z" (fraction and offset optional) -> ms, INT64_MIN if malformed. */
int64_t az_parse_rfc3339(const char *s, size_t n);
/* Writes the RFC 1123 form of t (UTC) into out (>= 30 bytes). */
void az_format_rfc1123(time_t t, char out[32]);

/* Case-insensitive option lookup over several aliases: the value of the first store_kv
 * whose key equals one of names (NULL-terminated list), else NULL. */
const char *az_opt(const store_options *o, const char *const *names);
/* True when key (case-insensitive) is one of names. */
bool az_name_in(const char *key, const char *const *names);
/* "true"/"1"/"yes"/"on" -> 1, "false"/"0"/"no"/"off"/"" -> 0, else -1. */
int az_parse_bool(const char *v);
/* dst = "a: b", truncated to n (no format-truncation games at every call site). */
void az_join(char *dst, size_t n, const char *a, const char *b);
/* Copies url into out without its query string and userinfo, for messages. */
void az_url_for_message(const char *url, char *out, size_t outlen);

#endif
