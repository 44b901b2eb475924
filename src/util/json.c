/* json.c - the bounded JSON reader and the string escaper (see util.h). */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UT_JSON_MAX_DEPTH 64

typedef struct pstate {
    ut_json *d;
    size_t pos;
    char *err;
    size_t errlen;
    bool failed;
} pstate;

static int perr(pstate *p, const char *what) {
    if (!p->failed && p->err && p->errlen)
        snprintf(p->err, p->errlen, "malformed JSON at byte %zu: %s", p->pos, what);
    p->failed = true;
    return -1;
}

static void skip_ws(pstate *p) {
    const char *t = p->d->text;
    while (p->pos < p->d->len &&
           (t[p->pos] == ' ' || t[p->pos] == '\t' || t[p->pos] == '\n' || t[p->pos] == '\r'))
        p->pos++;
}

static size_t new_tok(pstate *p, ut_json_type type) {
    ut_json *d = p->d;
    if (d->n >= d->max_tokens) {
        perr(p, "document has too many values");
        return UT_JSON_NONE;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        if (cap > d->max_tokens)
            cap = d->max_tokens;
        ut_json_tok *t = realloc(d->tok, cap * sizeof *t);
        if (!t) {
            perr(p, "out of memory");
            return UT_JSON_NONE;
        }
        d->tok = t;
        d->cap = cap;
    }
    ut_json_tok *t = &d->tok[d->n];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->start = p->pos;
    return d->n++;
}

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int d = ut_hex_val(s[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 0;
}

static int parse_string(pstate *p) {
    const char *t = p->d->text;
    size_t len = p->d->len;
    p->pos++; /* opening quote */
    size_t i = new_tok(p, UT_JSON_STRING);
    if (i == UT_JSON_NONE)
        return -1;
    bool esc = false;
    while (p->pos < len) {
        unsigned char c = (unsigned char)t[p->pos];
        if (c == '"') {
            p->d->tok[i].end = p->pos;
            p->d->tok[i].escaped = esc;
            p->d->tok[i].after = i + 1;
            p->pos++;
            return 0;
        }
        if (c < 0x20)
            return perr(p, "control character in a string");
        if (c == '\\') {
            esc = true;
            if (p->pos + 1 >= len)
                return perr(p, "unterminated escape");
            char e = t[p->pos + 1];
            if (e == 'u') {
                unsigned v;
                if (p->pos + 6 > len || hex4(t + p->pos + 2, &v) != 0)
                    return perr(p, "bad \\u escape");
                p->pos += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e))
                return perr(p, "bad escape");
            p->pos += 2;
            continue;
        }
        p->pos++;
    }
    return perr(p, "unterminated string");
}

static int parse_value(pstate *p, int depth);

static int parse_container(pstate *p, int depth, bool object) {
    if (depth >= UT_JSON_MAX_DEPTH)
        return perr(p, "nested too deeply");
    size_t i = new_tok(p, object ? UT_JSON_OBJECT : UT_JSON_ARRAY);
    if (i == UT_JSON_NONE)
        return -1;
    p->pos++;
    char close = object ? '}' : ']';
    size_t count = 0;
    skip_ws(p);
    if (p->pos < p->d->len && p->d->text[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (object) {
                if (p->pos >= p->d->len || p->d->text[p->pos] != '"')
                    return perr(p, "expected a member name");
                if (parse_string(p) != 0)
                    return -1;
                skip_ws(p);
                if (p->pos >= p->d->len || p->d->text[p->pos] != ':')
                    return perr(p, "expected ':'");
                p->pos++;
            }
            if (parse_value(p, depth + 1) != 0)
                return -1;
            count++;
            skip_ws(p);
            if (p->pos >= p->d->len)
                return perr(p, "unterminated container");
            char c = p->d->text[p->pos++];
            if (c == close)
                break;
            if (c != ',')
                return perr(p, "expected ',' or the end of the container");
        }
    }
    p->d->tok[i].end = p->pos;
    p->d->tok[i].size = count;
    p->d->tok[i].after = p->d->n;
    return 0;
}

/* Skips decimal digits; how many. */
static size_t digit_run(pstate *p) {
    size_t start = p->pos;
    while (p->pos < p->d->len && p->d->text[p->pos] >= '0' && p->d->text[p->pos] <= '9')
        p->pos++;
    return p->pos - start;
}

static int parse_value(pstate *p, int depth) {
    skip_ws(p);
    const char *t = p->d->text;
    size_t len = p->d->len;
    if (p->pos >= len)
        return perr(p, "expected a value");
    char c = t[p->pos];
    if (c == '{')
        return parse_container(p, depth, true);
    if (c == '[')
        return parse_container(p, depth, false);
    if (c == '"')
        return parse_string(p);
    static const struct {
        const char *word;
        ut_json_type type;
    } words[] = {{"true", UT_JSON_TRUE}, {"false", UT_JSON_FALSE}, {"null", UT_JSON_NULL}};
    for (size_t k = 0; k < 3; k++) {
        size_t wl = strlen(words[k].word);
        if (len - p->pos >= wl && memcmp(t + p->pos, words[k].word, wl) == 0) {
            size_t i = new_tok(p, words[k].type);
            if (i == UT_JSON_NONE)
                return -1;
            p->pos += wl;
            p->d->tok[i].end = p->pos;
            p->d->tok[i].after = i + 1;
            return 0;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        size_t i = new_tok(p, UT_JSON_NUMBER);
        if (i == UT_JSON_NONE)
            return -1;
        size_t s = p->pos;
        if (t[p->pos] == '-')
            p->pos++;
        if (!digit_run(p))
            return perr(p, "bad number");
        if (p->pos < len && t[p->pos] == '.') {
            p->pos++;
            if (!digit_run(p))
                return perr(p, "bad number");
        }
        if (p->pos < len && (t[p->pos] == 'e' || t[p->pos] == 'E')) {
            p->pos++;
            if (p->pos < len && (t[p->pos] == '+' || t[p->pos] == '-'))
                p->pos++;
            if (!digit_run(p))
                return perr(p, "bad number");
        }
        p->d->tok[i].start = s;
        p->d->tok[i].end = p->pos;
        p->d->tok[i].after = i + 1;
        return 0;
    }
    return perr(p, "unexpected character");
}

int ut_json_parse(ut_json *d, const char *text, size_t len, size_t max_tokens, char *err,
                  size_t errlen) {
    memset(d, 0, sizeof *d);
    d->text = text;
    d->len = len;
    d->max_tokens = max_tokens ? max_tokens : 1;
    pstate p = {d, 0, err, errlen, false};
    if (parse_value(&p, 0) == 0) {
        skip_ws(&p);
        if (p.pos == len)
            return 0;
        perr(&p, "trailing characters");
    }
    ut_json_free(d);
    return -1;
}

void ut_json_free(ut_json *d) {
    free(d->tok);
    memset(d, 0, sizeof *d);
}

static void put_utf8(ut_buf *b, unsigned cp) {
    char o[4];
    if (cp < 0x80) {
        o[0] = (char)cp;
        ut_buf_put(b, o, 1);
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        ut_buf_put(b, o, 2);
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        ut_buf_put(b, o, 3);
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        ut_buf_put(b, o, 4);
    }
}

int ut_json_str(const ut_json *d, size_t i, ut_buf *out) {
    if (i == UT_JSON_NONE || i >= d->n || d->tok[i].type != UT_JSON_STRING)
        return -1;
    const ut_json_tok *t = &d->tok[i];
    const char *s = d->text;
    if (!t->escaped) {
        ut_buf_put(out, s + t->start, t->end - t->start);
        return out->bad ? -1 : 0;
    }
    for (size_t k = t->start; k < t->end; k++) {
        if (s[k] != '\\') {
            ut_buf_putc(out, s[k]);
            continue;
        }
        char e = s[++k];
        switch (e) {
        case 'b':
            ut_buf_putc(out, '\b');
            break;
        case 'f':
            ut_buf_putc(out, '\f');
            break;
        case 'n':
            ut_buf_putc(out, '\n');
            break;
        case 'r':
            ut_buf_putc(out, '\r');
            break;
        case 't':
            ut_buf_putc(out, '\t');
            break;
        case 'u': {
            unsigned cp = 0xFFFD; /* set: the parser validated the digits */
            hex4(s + k + 1, &cp);
            k += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && k + 6 < t->end && s[k + 1] == '\\' &&
                s[k + 2] == 'u') {
                unsigned lo = 0;
                if (hex4(s + k + 3, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    k += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD; /* lone surrogate */
            put_utf8(out, cp);
            break;
        }
        default:
            ut_buf_putc(out, e);
            break;
        }
    }
    return out->bad ? -1 : 0;
}

char *ut_json_strdup(const ut_json *d, size_t i) {
    ut_buf b = {0};
    b.limit = 1 << 20;
    if (ut_json_str(d, i, &b) != 0 || (b.p && strlen(b.p) != b.len)) {
        ut_buf_free(&b);
        return NULL;
    }
    if (!b.p) {
        char *e = malloc(1);
        if (e)
            e[0] = 0;
        return e;
    }
    return b.p; /* handed over: the caller frees */
}

/* Compares a member name token with key (names are matched undecoded unless escaped). */
static bool name_eq(const ut_json *d, size_t i, const char *key) {
    const ut_json_tok *t = &d->tok[i];
    size_t kl = strlen(key);
    if (!t->escaped)
        return t->end - t->start == kl && memcmp(d->text + t->start, key, kl) == 0;
    ut_buf b = {0};
    b.limit = 4096;
    bool eq = ut_json_str(d, i, &b) == 0 && b.len == kl && memcmp(b.p ? b.p : "", key, kl) == 0;
    ut_buf_free(&b);
    return eq;
}

size_t ut_json_get(const ut_json *d, size_t obj, const char *key) {
    if (obj == UT_JSON_NONE || obj >= d->n || d->tok[obj].type != UT_JSON_OBJECT)
        return UT_JSON_NONE;
    size_t i = obj + 1;
    for (size_t m = 0; m < d->tok[obj].size; m++) {
        size_t v = i + 1;
        if (name_eq(d, i, key))
            return v;
        i = d->tok[v].after;
    }
    return UT_JSON_NONE;
}

int ut_json_u64(const ut_json *d, size_t i, uint64_t *out) {
    if (i == UT_JSON_NONE || i >= d->n)
        return -1;
    const ut_json_tok *t = &d->tok[i];
    if ((t->type != UT_JSON_NUMBER && t->type != UT_JSON_STRING) || t->end == t->start)
        return -1;
    uint64_t v = 0;
    for (size_t k = t->start; k < t->end; k++) {
        char c = d->text[k];
        if (c < '0' || c > '9')
            return -1;
        uint64_t dg = (uint64_t)(c - '0');
        if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && dg > UINT64_MAX % 10))
            return -1;
        v = v * 10 + dg;
    }
    *out = v;
    return 0;
}

size_t ut_json_escape_unit(char dst[6], const unsigned char *s, size_t n, size_t *used) {
    unsigned char c = s[0];
    *used = 1;
    if (c == '"' || c == '\\') {
        dst[0] = '\\';
        dst[1] = (char)c;
        return 2;
    }
    if (c < 0x20) {
        static const char hex[] = "0123456789abcdef";
        char e = c == '\n'   ? 'n'
                 : c == '\r' ? 'r'
                 : c == '\t' ? 't'
                 : c == '\b' ? 'b'
                 : c == '\f' ? 'f'
                             : 0;
        if (e) {
            dst[0] = '\\';
            dst[1] = e;
            return 2;
        }
        memcpy(dst, "\\u00", 4);
        dst[4] = hex[c >> 4];
        dst[5] = hex[c & 15];
        return 6;
    }
    if (c < 0x80) {
        dst[0] = (char)c;
        return 1;
    }
    /* a UTF-8 sequence is kept whole, so a caller that stops between units never cuts one
     * (the lead byte tells the length). JSON is UTF-8: a byte that does not start a valid
     * sequence becomes the text \xNN, as in the Parquet tables (ut_utf8_escape), written
     * with its backslash escaped. */
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (len <= n && ut_utf8_valid_prefix(s, len) == len) {
        memcpy(dst, s, len);
        *used = len;
        return len;
    }
    static const char hex[] = "0123456789abcdef";
    memcpy(dst, "\\\\x", 3);
    dst[3] = hex[c >> 4];
    dst[4] = hex[c & 15];
    return 5;
}

void ut_json_escape(ut_buf *b, const char *s, size_t n) {
    ut_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        char e[6];
        size_t used;
        size_t el = ut_json_escape_unit(e, (const unsigned char *)s + i, n - i, &used);
        ut_buf_put(b, e, el);
        i += used;
    }
    ut_buf_putc(b, '"');
}
