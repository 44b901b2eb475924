/* redact.c - the one secret redaction (ut_redact_url) and control-character escaping for
 * terminals and logs (ut_escape_ctl); see util.h.
 *
 * Both are single forward passes: every byte is looked at a bounded number of times, so a
 * megabyte of hostile text costs milliseconds (an earlier masking by repeated search and
 * memmove was quadratic). */
#include "util.h"

#include <string.h>

static int low(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* A query parameter whose name contains one of these carries a credential: SAS sig, SigV4
 * X-Amz-Signature / X-Amz-Credential / X-Amz-Security-Token, GCS X-Goog-Signature, OAuth
 * access_token / id_token / refresh_token, API keys, passwords. Over-masking a harmless
 * parameter (max-keys) costs nothing; missing one leaks. */
static bool secret_param(const char *s, size_t n) {
    static const char *const pats[] = {"sig", "token",      "secret", "passw",
                                       "pwd", "credential", "key",    "auth"};
    if (n == 4 && low(s[0]) == 'c' && low(s[1]) == 'o' && low(s[2]) == 'd' && low(s[3]) == 'e')
        return true; /* an OAuth authorization code */
    for (size_t p = 0; p < sizeof pats / sizeof *pats; p++) {
        size_t pl = strlen(pats[p]);
        for (size_t i = 0; i + pl <= n; i++) {
            size_t j = 0;
            while (j < pl && low((unsigned char)s[i + j]) == pats[p][j])
                j++;
            if (j == pl)
                return true;
        }
    }
    return false;
}

/* Where a URL or a parameter value ends inside free text (messages, YAML). */
static bool text_end(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '\'' || c == '`' ||
           c == '<' || c == '>' || c == '\0';
}

static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '%';
}

/* The length of the userinfo (up to and including '@') of the authority at s[0..n), or 0.
 * The authority ends at '/', '?', '#' or the end of the URL; its last '@' ends the userinfo.
 * A password holding an unescaped '/', '?' or '#' would end the authority early
 * ("user:pa/ss@host"): when what precedes it is not host[:port] (a ':' followed by a
 * non-digit) an '@' a little further on still ends the userinfo. That look is bounded (64
 * bytes), which keeps the whole pass linear with a small constant. */
static size_t userinfo_len(const char *s, size_t n) {
    size_t end = 0, at = 0;
    bool has_at = false, colon_nondigit = false, colon = false;
    while (end < n && s[end] != '/' && s[end] != '?' && s[end] != '#' && !text_end(s[end])) {
        if (s[end] == '@') {
            at = end;
            has_at = true;
        } else if (s[end] == ':') {
            colon = true;
        } else if (colon && !(s[end] >= '0' && s[end] <= '9') && s[end] != ']') {
            colon_nondigit = true;
        }
        end++;
    }
    if (has_at)
        return at + 1;
    if (!colon_nondigit || end >= n || (s[end] != '/' && s[end] != '?' && s[end] != '#'))
        return 0;
    size_t last = 0; /* the last '@' before the path of what then is the host */
    for (size_t i = end; i < n && i < end + 64 && !text_end(s[i]); i++) {
        if (s[i] == '@')
            last = i + 1;
        else if (last && (s[i] == '/' || s[i] == '?' || s[i] == '#'))
            break;
    }
    return last;
}

void ut_redact_url(ut_buf *out, const char *s, size_t n) {
    size_t i = 0, copied = 0; /* s[copied..i) is still to be copied */
    while (i < n) {
        char c = s[i];
        if (c == ':' && i + 2 < n && s[i + 1] == '/' && s[i + 2] == '/') {
            size_t a = i + 3;
            size_t ul = userinfo_len(s + a, n - a);
            if (ul) {
                ut_buf_put(out, s + copied, a - copied);
                ut_buf_puts(out, "***@");
                i = copied = a + ul;
                continue;
            }
            i = a;
            continue;
        }
        if (c == '?' || c == '&' || c == ';' || c == '#') {
            size_t k = i + 1;
            while (k < n && name_char(s[k]))
                k++;
            if (k < n && s[k] == '=' && k > i + 1 && secret_param(s + i + 1, k - i - 1)) {
                size_t v = k + 1, e = v;
                while (e < n && s[e] != '&' && s[e] != ';' && s[e] != '#' && s[e] != ',' &&
                       s[e] != ']' && s[e] != '}' && s[e] != ')' && !text_end(s[e]))
                    e++;
                ut_buf_put(out, s + copied, v - copied);
                if (e > v)
                    ut_buf_puts(out, "***");
                i = copied = e;
                continue;
            }
            i = k > i + 1 ? k : i + 1;
            continue;
        }
        i++;
    }
    ut_buf_put(out, s + copied, n - copied);
}

char *ut_redact_dup(const char *s) {
    if (!s)
        return NULL;
    size_t n = strlen(s);
    ut_buf b = {0};
    b.limit = 2 * n + 64; /* "***" can outgrow a value shorter than 3 bytes */
    ut_redact_url(&b, s, n);
    return ut_buf_take(&b);
}

void ut_redact_to(char *dst, size_t dstlen, const char *src) {
    if (!dstlen)
        return;
    size_t n = strlen(src);
    ut_buf b = {0};
    b.limit = 2 * n + 64;
    ut_redact_url(&b, src, n);
    const char *r = ut_buf_str(&b);
    size_t rl = b.bad ? 0 : b.len;
    if (rl >= dstlen)
        rl = dstlen - 1;
    memmove(dst, r, rl);
    dst[rl] = 0;
    ut_buf_free(&b);
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void ut_escape_ctl(ut_buf *out, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, copied = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len = 1;
        bool esc;
        if (c < 0x80) {
            esc = c < 0x20 || c == 0x7F;
        } else {
            len = utf8_seq(p + i, n - i);
            /* C1 controls (U+0080..U+009F: CSI is U+009B) act on terminals as ESC [ does;
             * a byte that is not UTF-8 may be one in a Latin-1 terminal */
            esc = len == 0 || (len == 2 && c == 0xC2 && p[i + 1] < 0xA0);
            if (len == 0)
                len = 1;
        }
        if (!esc) {
            i += len;
            continue;
        }
        ut_buf_put(out, s + copied, i - copied);
        for (size_t k = 0; k < len; k++) {
            char e[4] = {'\\', 'x', hex[p[i + k] >> 4], hex[p[i + k] & 15]};
            ut_buf_put(out, e, 4);
        }
        i += len;
        copied = i;
    }
    ut_buf_put(out, s + copied, n - copied);
}
