/* util.h - small pure helpers every module may use (the whole contract of src/util).
 *
 * Nothing here does I/O except ut_read_file (one bounded read of a small file) and
 * ut_fd_read_at (a positioned read of an open file); nothing allocates without a cap. Models:
 * curl's dynbuf (a growable buffer with a hard limit), escape.c (percent-coding) and parsedate.c
 * (HTTP dates). */
#ifndef UTIL_UTIL_H
#define UTIL_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- growable buffer with a hard cap ----
 * Every append is capped (limit; 0 = UT_BUF_DEFAULT_LIMIT) so no server value can make it
 * huge. A failed append sets `bad` and leaves the contents as they were, so callers check
 * once at the end. p is NUL-terminated whenever non-NULL. Memory is wiped before it is
 * released (buffers may hold keys or tokens). A zeroed struct is an empty buffer. */
#define UT_BUF_DEFAULT_LIMIT ((size_t)1 << 20)
typedef struct ut_buf {
    char *p;
    size_t len, cap;
    size_t limit;
    bool bad;
} ut_buf;

void ut_buf_put(ut_buf *b, const void *s, size_t n);
void ut_buf_puts(ut_buf *b, const char *s);
void ut_buf_putc(ut_buf *b, char c);
void ut_buf_printf(ut_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void ut_buf_reset(ut_buf *b);            /* len = 0, bad = false; keeps memory */
void ut_buf_free(ut_buf *b);             /* wipes, frees, leaves an empty buffer */
const char *ut_buf_str(const ut_buf *b); /* p, or "" when nothing was ever stored */
/* Hands p over to the caller (NULL if bad; "" if empty), leaving an empty buffer. */
char *ut_buf_take(ut_buf *b);
/* memset that the compiler may not drop (for secrets). */
void ut_wipe(void *p, size_t n);
/* Wipes the string *p (up to its NUL), frees it and sets *p = NULL; a NULL *p is nothing.
 * For keys, tokens and the headers that carry them. */
void ut_free_secret(char **p);

/* ---- text ---- */
int ut_hex_val(char c); /* 0..15, or -1 */
/* Decodes 2*n hex digits into out[n]; -1 on a non-hex digit. */
int ut_hex_decode(const char *s, size_t n_out, uint8_t *out);
/* Lower-case hex of data into out (2*n+1 bytes, NUL-terminated). */
void ut_hex_encode(const void *data, size_t n, char *out);
bool ut_strieq(const char *a, const char *b); /* ASCII case-insensitive equality */
char *ut_strdup(const char *s);               /* strdup that passes NULL through */
/* "true"/"yes"/"y"/"on"/"1" -> 1, "false"/"no"/"n"/"off"/"0" -> 0 (any case), else -1
 * (NULL and "" included: a caller that means "unset = false" says so). */
int ut_parse_bool(const char *v);
/* dst = "a: b", truncated to n on a character boundary. */
void ut_join(char *dst, size_t n, const char *a, const char *b);

/* ---- URLs ---- */
/* Length of the scheme when s starts with "scheme://" (RFC 3986 scheme characters), else 0. */
size_t ut_url_scheme_len(const char *s, size_t n);
/* Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash), with
 * upper-case hex (what SigV4, Azure and GCS all expect). */
void ut_pct_encode(ut_buf *b, const char *s, size_t n, bool keep_slash);
enum {
    UT_PCT_PLUS_SPACE = 1, /* '+' is a space (form encoding) */
    UT_PCT_LENIENT = 2,    /* a '%' not followed by two hex digits stays as it is */
    UT_PCT_NO_NUL = 4,     /* an encoded NUL is an error */
};
/* Decodes s[0..n) into b; -1 on a malformed escape (unless LENIENT) or an encoded NUL
 * (with NO_NUL). b->bad reports a cap overflow. */
int ut_pct_decode(ut_buf *b, const char *s, size_t n, unsigned flags);
/* Copies url into out without its query string, fragment and userinfo, for messages. */
void ut_url_for_message(const char *url, char *out, size_t outlen);

/* ---- secrets and terminals ----
 * ut_redact_url is the project's one redaction: whatever is shown to a person or written
 * beside the data (messages, error rows, Parquet metadata, _SUCCESS) passes through it when
 * it may hold a URL or a config. s is a URL or free text holding URLs (a message, a YAML
 * file). It replaces with "***" the userinfo of every "scheme://user:password@host"
 * (it keeps "scheme://" and "@host" around "***") and the value of every parameter after
 * '?', '&', ';' or '#' whose name names a credential: any name containing sig, token, secret,
 * passw, pwd, credential, key or auth (SAS sig, X-Amz-Signature, X-Amz-Credential,
 * X-Amz-Security-Token, X-Goog-Signature, access_token, api_key, ...), and code. Everything else is
 * copied as it is. One pass, linear in n. */
void ut_redact_url(ut_buf *out, const char *s, size_t n);
/* ut_redact_url of a C string as a new malloc'ed string (NULL if s is NULL or out of
 * memory). */
char *ut_redact_dup(const char *s);
/* ut_redact_url of src into dst (truncated to dstlen, NUL-terminated); dst may be src. */
void ut_redact_to(char *dst, size_t dstlen, const char *src);
/* Appends s[0..n) with every control character written as \xNN: C0 controls, DEL, the C1
 * controls U+0080..U+009F, and every byte that is not part of well-formed UTF-8, so that a
 * hostile name cannot move the cursor, recolour or retitle a terminal, or forge log lines.
 * Valid UTF-8 text passes unchanged. */
void ut_escape_ctl(ut_buf *out, const char *s, size_t n);

/* ---- base64 ---- */
/* Standard alphabet with padding, or (url_safe) base64url without padding (JWT). */
void ut_base64_encode(ut_buf *b, const void *data, size_t n, bool url_safe);
/* Standard alphabet, padding optional, no whitespace. Decoded length, or -1 (bad input or
 * more than cap bytes). */
long ut_base64_decode(const char *s, size_t n, uint8_t *out, size_t cap);

/* ---- dates (UTC, proleptic Gregorian, no TZ environment involved) ---- */
int64_t ut_timegm_ms(int year, int mon, int day, int hour, int min, int sec, int ms);
/* RFC 1123 / IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" -> ms since the epoch; the
 * weekday is optional and not checked. INT64_MIN if malformed. */
int64_t ut_http_date_parse(const char *s, size_t n);
/* The IMF-fixdate form of t into out (>= 30 bytes). */
void ut_http_date_format(time_t t, char out[32]);
/* RFC 3339 "2024-01-02T03:04:05.678Z" (fraction optional, Z or +hh:mm) -> ms, INT64_MIN
 * if malformed. */
int64_t ut_rfc3339_parse(const char *s, size_t n);

/* ---- JSON ----
 * A bounded reader: the whole document is tokenised at once (callers cap its size) into a
 * flat array where each container knows where its subtree ends, so lookups allocate
 * nothing. Nesting at most 64. */
typedef enum {
    UT_JSON_OBJECT,
    UT_JSON_ARRAY,
    UT_JSON_STRING,
    UT_JSON_NUMBER,
    UT_JSON_TRUE,
    UT_JSON_FALSE,
    UT_JSON_NULL
} ut_json_type;

typedef struct ut_json_tok {
    ut_json_type type;
    size_t start, end; /* byte span in the document; strings: inside the quotes */
    size_t size;       /* object: members; array: elements */
    size_t after;      /* index of the first token after this subtree */
    bool escaped;      /* string holds backslash escapes */
} ut_json_tok;

typedef struct ut_json {
    const char *text;
    size_t len;
    ut_json_tok *tok;
    size_t n, cap;
    size_t max_tokens;
} ut_json;

#define UT_JSON_NONE ((size_t)-1)

/* Parses text[0..len) (one value, surrounding whitespace allowed; at most max_tokens
 * tokens). 0, or -1 with a message in err (and nothing to free). */
int ut_json_parse(ut_json *d, const char *text, size_t len, size_t max_tokens, char *err,
                  size_t errlen);
void ut_json_free(ut_json *d);
/* Value of member `key` of object token obj, or UT_JSON_NONE. */
size_t ut_json_get(const ut_json *d, size_t obj, const char *key);
/* Appends the decoded string token i to out (\uXXXX to UTF-8, surrogate pairs joined, lone
 * surrogates U+FFFD); -1 if not a string or out overflowed. */
int ut_json_str(const ut_json *d, size_t i, ut_buf *out);
/* Decoded string as a new malloc'ed C string (NULL if absent, not a string, or holding a
 * NUL). */
char *ut_json_strdup(const ut_json *d, size_t i);
/* Unsigned integer from a number token or a string of digits; -1 if neither. */
int ut_json_u64(const ut_json *d, size_t i, uint64_t *out);
/* One unit of s[0..n) (n >= 1) as JSON string content into dst: an escape for ", \ and
 * control bytes (\n \r \t \b \f short, others \u00XX), an ASCII byte, a whole UTF-8
 * sequence (at most 4 bytes), or for a byte that starts none the text \xNN of
 * ut_utf8_escape (JSON is UTF-8). Returns the bytes written; *used gets the bytes taken. */
size_t ut_json_escape_unit(char dst[6], const unsigned char *s, size_t n, size_t *used);
/* Appends s[0..n) as a quoted JSON string literal, unit by unit as above. */
void ut_json_escape(ut_buf *b, const char *s, size_t n);

/* ---- UTF-8 ----
 * Every STRING value written must be valid UTF-8 (RFC 3629: no overlongs, no surrogates,
 * nothing past U+10FFFF), and a message cut into a fixed buffer must not end inside a
 * character. ASCII is checked 8 bytes at a time. */
/* Length of the longest valid prefix of s[0..n). */
size_t ut_utf8_valid_prefix(const void *s, size_t n);
bool ut_utf8_valid(const void *s, size_t n);
/* Where to cut s[0..n) to keep at most max bytes: max, or less so that no character of
 * valid UTF-8 is split (n when n <= max). For "%.*s" and memcpy cuts. */
size_t ut_utf8_cut(const void *s, size_t n, size_t max);
/* printf precision that keeps at most max bytes of the C string s, cut on a character
 * boundary: printf("%.*s", ut_utf8_prec(key, 150), key) instead of "%.150s". */
int ut_utf8_prec(const char *s, size_t max);
/* The documented escape of bytes that are not UTF-8: s[0..n) copied to out with each byte
 * that is not part of a valid sequence written as \xNN (two lower-case hex digits): the
 * text Python's bytes.decode('utf-8', errors='backslashreplace') gives. out needs room for
 * ut_utf8_escaped_len(s, n) bytes (at most 4 * n); returns the bytes written (no NUL). */
size_t ut_utf8_escape(char *out, const void *s, size_t n);
size_t ut_utf8_escaped_len(const void *s, size_t n);
/* s[0..len) was cut at its end (e.g. by snprintf): drops an incomplete last character
 * (NUL-terminating s there) and returns the new length. */
size_t ut_utf8_trim_cut(char *s, size_t len);
/* vsnprintf / snprintf whose truncation (intended: messages are cut, never overflow) ends
 * on a character boundary. Returns the length written (never more than n - 1). */
int ut_vmsgf(char *dst, size_t n, const char *fmt, va_list ap);
int ut_msgf(char *dst, size_t n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- files ---- */
/* Reads a whole file of at most cap bytes into a new NUL-terminated buffer (*len, if not
 * NULL, gets its length). NULL when it cannot be opened or read, or is larger than cap,
 * with the reason in err (if not NULL) and in errno: fopen's, EFBIG (larger than cap),
 * EIO (a read error) or ENOMEM. */
char *ut_read_file(const char *path, size_t cap, size_t *len, char *err, size_t errlen);
/* Reads exactly len bytes at off of the open file *(int *)fd, retrying short reads and
 * EINTR; 0, or -1 with errno (end of file: EIO). The read_at of a pqr_source over a local
 * file (parquet_read.h), which is why its arguments come in that order. */
int ut_fd_read_at(void *fd, uint64_t off, size_t len, void *buf);

/* ---- CPUs (cpus.c) ---- */
/* CPUs this process may use, at least 1: the online CPUs, at most the CPUs of its affinity
 * mask (taskset, a cpuset) and the CPUs its cgroup quota allows, rounded up (cpu.max of its
 * cgroup v2 and every ancestor; cgroup v1's cpu.cfs_quota_us). */
unsigned ut_cpus_available(void);
/* The quota part, from a cgroup mount root and a /proc/PID/cgroup file (tests give their
 * own); 0 = no quota found. */
unsigned ut__cgroup_cpu_quota(const char *root, const char *proc_cgroup);

#endif
